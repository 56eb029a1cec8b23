/*
 * `carelake model insights readmission`, end to end on a generated
 * cohort whose follow-up appointments are protective but given more
 * often to the patients at higher risk (docs/commands/generate.md):
 * - without a promoted model it refuses, saying what to do;
 * - with one, the crude comparison of follow-up is confounded (the
 *   protected look worse off) while the estimate adjusted for the
 *   model's risk is below 1 with its interval excluding 1;
 * - every treatment's counts add up to the index stays, overall and in
 *   each stratum; a treatment with too few stays has no estimate and
 *   says why; the statement that these are associations is there, in
 *   JSON and in text; the same data give the same report;
 * - a booking loaded as CSV counts as a follow-up, a cancelled one or
 *   one more than 7 days after the discharge does not.
 *
 * Usage: test_insights /path/to/carelake
 */
#include "cl_test.h"

#include <jansson.h>
#include <sqlite3.h>
#include <string.h>

static const char *bin;
static char dir[256], data[400];

#include "cli_helpers.h"
#include "sql_helpers.h"

static long appointments_written;

static int setup(void **state)
{
	char out[400], path[500], line[4096];
	struct result r;

	(void)state;
	snprintf(out, sizeof(out), "%s/cohort", dir);
	snprintf(data, sizeof(data), "%s/data", dir);
	r = run(NULL, "generate", "--cohort", "--out", out, "--patients", "4000", "--years", "2",
		"--seed", "9", NULL);
	if (r.status != 0)
		fail_msg("generate: %s", r.err);
	done(&r);
	for (int k = 1; k <= 2; k++) {
		FILE *f;

		snprintf(path, sizeof(path), "%s/fhir/cohort-%02d.ndjson", out, k);
		f = fopen(path, "r");
		assert_non_null(f);
		while (fgets(line, sizeof(line), f))
			appointments_written += strstr(line, "\"resourceType\":\"Appointment\"") != NULL;
		fclose(f);
	}
	snprintf(out, sizeof(out), "%s/cohort/fhir", dir);
	r = run(NULL, "ingest", "--data", data, out, NULL);
	if (r.status != 0)
		fail_msg("ingest: %s", r.err);
	done(&r);
	return 0;
}

static sqlite3 *open_db(void)
{
	char path[500];
	sqlite3 *h;

	snprintf(path, sizeof(path), "%s/carelake.db", data);
	assert_int_equal(sqlite3_open_v2(path, &h, SQLITE_OPEN_READONLY, NULL), SQLITE_OK);
	return h;
}

static long num(const json_t *o, const char *key)
{
	const json_t *v = json_object_get(o, key);

	if (!json_is_integer(v))
		fail_msg("no integer %s", key);
	return (long)json_integer_value(v);
}

static double real(const json_t *o, const char *key)
{
	const json_t *v = json_object_get(o, key);

	if (!json_is_number(v))
		fail_msg("no number %s", key);
	return json_number_value(v);
}

static json_t *insights(void)
{
	struct result r = run(NULL, "model", "insights", "readmission", "--data", data, "--format",
			      "json", NULL);
	json_error_t err;
	json_t *j;

	if (r.status != 0)
		fail_msg("model insights: %s", r.err);
	j = json_loads(r.out, 0, &err);
	if (!j)
		fail_msg("not JSON (%s): %.300s", err.text, r.out);
	done(&r);
	return j;
}

static json_t *treatment(json_t *j, const char *name)
{
	json_t *t;
	size_t i;

	json_array_foreach(json_object_get(j, "treatments"), i, t)
		if (strcmp(json_string_value(json_object_get(t, "treatment")), name) == 0)
			return t;
	fail_msg("no treatment '%s'", name);
	return NULL;
}

/* Before a model is promoted: refused, saying what to do. */
static void test_no_model(void **state)
{
	struct result r;

	(void)state;
	r = run(NULL, "model", "insights", "readmission", "--data", data, NULL);
	assert_int_not_equal(r.status, 0);
	assert_non_null(strstr(r.err, "promote a model first"));
	assert_non_null(strstr(r.err, "carelake model train readmission"));
	assert_string_equal(r.out, "");
	done(&r);
	r = run(NULL, "model", "insights", "--data", data, NULL);
	assert_int_not_equal(r.status, 0);
	assert_non_null(strstr(r.err, "readmission"));
	done(&r);
}

/* Each treatment's counts add up to the index stays, overall and by
 * stratum; an estimate exactly when both arms have enough stays. */
static void check_counts(json_t *j, long stays, long readmitted)
{
	const json_t *strata = json_object_get(j, "strata"), *t;
	long min = num(j, "min_stays");
	size_t i;

	json_array_foreach(json_object_get(j, "treatments"), i, t) {
		const json_t *e = json_object_get(t, "exposed"), *u = json_object_get(t, "unexposed");
		const json_t *by = json_object_get(t, "by_stratum"), *s;
		long es = 0, er = 0, us = 0, ur = 0;
		size_t k;

		assert_int_equal(num(e, "stays") + num(u, "stays"), stays);
		assert_int_equal(num(e, "readmitted") + num(u, "readmitted"), readmitted);
		assert_int_equal(json_array_size(by), json_array_size(strata));
		json_array_foreach(by, k, s) {
			const json_t *se = json_object_get(s, "exposed");
			const json_t *su = json_object_get(s, "unexposed");

			assert_int_equal(num(se, "stays") + num(su, "stays"),
					 num(json_array_get(strata, k), "stays"));
			assert_int_equal(num(se, "readmitted") + num(su, "readmitted"),
					 num(json_array_get(strata, k), "readmitted"));
			es += num(se, "stays");
			er += num(se, "readmitted");
			us += num(su, "stays");
			ur += num(su, "readmitted");
		}
		assert_int_equal(es, num(e, "stays"));
		assert_int_equal(er, num(e, "readmitted"));
		assert_int_equal(us, num(u, "stays"));
		assert_int_equal(ur, num(u, "readmitted"));
		if (num(e, "stays") < min || num(u, "stays") < min) {
			assert_true(json_is_null(json_object_get(t, "adjusted_risk_ratio")));
			assert_true(json_is_null(json_object_get(t, "crude_risk_ratio")));
			assert_non_null(strstr(json_string_value(json_object_get(t, "note")),
					       "too few stays"));
		} else {
			const json_t *ci = json_object_get(t, "crude_ci");

			assert_true(json_is_number(json_object_get(t, "adjusted_risk_difference")));
			assert_int_equal(json_array_size(json_object_get(t, "adjusted_rd_ci")), 2);
			if (json_array_size(ci) == 2) {
				assert_true(json_number_value(json_array_get(ci, 0)) <=
					    real(t, "crude_risk_ratio"));
				assert_true(json_number_value(json_array_get(ci, 1)) >=
					    real(t, "crude_risk_ratio"));
			}
		}
	}
}

static void test_insights(void **state)
{
	json_t *j, *again, *fu, *strata, *s, *ci;
	long stays, readmitted, sum = 0, sum_readm = 0;
	struct result r;
	sqlite3 *h;
	char *a, *b;
	size_t i;

	(void)state;
	r = run(NULL, "model", "train", "readmission", "--data", data, "--format", "json", NULL);
	if (r.status != 0)
		fail_msg("model train: %s", r.err);
	done(&r);
	r = run(NULL, "model", "promote", "v1", "--data", data, NULL);
	assert_int_equal(r.status, 0);
	done(&r);
	j = insights();
	assert_int_equal(num(j, "model_version"), 1);
	assert_non_null(strstr(json_string_value(json_object_get(j, "statement")),
			       "associations in this hospital's data, not causal effects"));
	assert_non_null(strstr(json_string_value(json_object_get(j, "statement")),
			       "confounding by indication"));

	/* the index stays, in five strata of rising risk */
	h = open_db();
	stays = scalar(h, "SELECT count(*) FROM gold_readmission_features WHERE cohort = 'index'"
			  " AND readmitted_30d IS NOT NULL");
	readmitted = scalar(h, "SELECT count(*) FROM gold_readmission_features WHERE cohort ="
			       " 'index' AND readmitted_30d = 1");
	/* the cohort's Appointments are all in the store */
	assert_int_equal(scalar(h, "SELECT count(*) FROM fhir_resource WHERE type = 'Appointment'"
				   " AND current = 1"), appointments_written);
	/* and, each with a start and a patient, in the bookings */
	assert_int_equal(scalar(h, "SELECT count(*) FROM booking"), appointments_written);
	sqlite3_close(h);
	assert_true(appointments_written > 500);
	assert_int_equal(num(j, "stays"), stays);
	assert_int_equal(num(j, "readmitted"), readmitted);
	strata = json_object_get(j, "strata");
	assert_int_equal(json_array_size(strata), 5);
	json_array_foreach(strata, i, s) {
		sum += num(s, "stays");
		sum_readm += num(s, "readmitted");
		assert_true(real(s, "risk_from") <= real(s, "risk_to"));
		if (i > 0)
			assert_true(real(s, "risk_from") >= real(json_array_get(strata, i - 1),
								  "risk_to"));
	}
	assert_int_equal(sum, stays);
	assert_int_equal(sum_readm, readmitted);
	assert_true(real(json_array_get(strata, 4), "rate") > real(json_array_get(strata, 0),
								    "rate"));
	check_counts(j, stays, readmitted);

	/* follow-up: protective in truth, given to the higher-risk patients */
	fu = treatment(j, "follow-up appointment within 7 days");
	assert_string_equal(json_string_value(json_object_get(fu, "kind")), "follow_up");
	print_message("follow-up: %ld of %ld stays; crude RR %.2f, adjusted RR %.2f (%.2f-%.2f), "
		      "RD %.3f\n", num(json_object_get(fu, "exposed"), "stays"), stays,
		      real(fu, "crude_risk_ratio"), real(fu, "adjusted_risk_ratio"),
		      json_number_value(json_array_get(json_object_get(fu, "adjusted_ci"), 0)),
		      json_number_value(json_array_get(json_object_get(fu, "adjusted_ci"), 1)),
		      real(fu, "adjusted_risk_difference"));
	assert_true(num(json_object_get(fu, "exposed"), "stays") > 500);
	assert_true(num(json_object_get(fu, "exposed"), "stays") <= appointments_written);
	/* crude: confounded by indication, the protected look worse off */
	assert_true(real(fu, "crude_risk_ratio") > 1.0);
	/* adjusted for the measured risk: below 1, the interval too */
	ci = json_object_get(fu, "adjusted_ci");
	assert_true(real(fu, "adjusted_risk_ratio") < 1.0);
	assert_true(json_number_value(json_array_get(ci, 1)) < 1.0);
	assert_true(json_number_value(json_array_get(ci, 0)) < real(fu, "adjusted_risk_ratio"));
	assert_true(real(fu, "crude_risk_ratio") > json_number_value(json_array_get(ci, 1)));
	assert_true(real(fu, "adjusted_risk_difference") < 0);
	assert_true(json_number_value(json_array_get(json_object_get(fu, "adjusted_rd_ci"), 1)) <
		    0);

	/* the other kinds: procedures and the medication classes */
	assert_true(json_is_number(json_object_get(treatment(j, "any procedure"),
						   "adjusted_risk_ratio")));
	assert_true(json_is_number(json_object_get(treatment(j, "beta blocker"),
						   "adjusted_risk_ratio")));
	assert_true(json_is_number(json_object_get(treatment(j, "antibiotic"),
						   "adjusted_risk_ratio")));
	assert_string_equal(json_string_value(json_object_get(treatment(j, "antibiotic"), "kind")),
			    "medication_class");
	/* no insulin in the cohort: listed, no estimate, and why */
	assert_int_equal(num(json_object_get(treatment(j, "insulin"), "exposed"), "stays"), 0);
	assert_non_null(strstr(json_string_value(json_object_get(treatment(j, "insulin"), "note")),
			       "too few stays with it"));

	/* the same data, the same report */
	again = insights();
	a = json_dumps(j, JSON_SORT_KEYS);
	b = json_dumps(again, JSON_SORT_KEYS);
	assert_string_equal(a, b);
	free(a);
	free(b);
	json_decref(again);

	/* as text: the tables and the statement */
	r = run(NULL, "model", "insights", "readmission", "--data", data, NULL);
	assert_int_equal(r.status, 0);
	assert_non_null(strstr(r.out, "Follow-up after the discharge"));
	assert_non_null(strstr(r.out, "Medication classes ordered during the stay"));
	assert_non_null(strstr(r.out, "follow-up appointment within 7 days"));
	assert_non_null(strstr(r.out, "not causal effects"));
	done(&r);
	json_decref(j);
}

/* Bookings loaded as CSV: one 3 days after a discharge counts, one
 * cancelled later counts too (it was arranged at the discharge), one 10
 * days after and one booked days after the discharge do not. */
static void test_bookings(void **state)
{
	char path[500];
	struct result r;
	sqlite3 *h;
	sqlite3_stmt *q;
	json_t *before, *after;
	FILE *f;
	int n = 0;

	(void)state;
	before = insights();
	h = open_db();
	/* stays of patients with one index stay and no appointment */
	assert_int_equal(sqlite3_prepare_v2(h,
		"SELECT s.patient_id, strftime('%Y-%m-%dT%H:%M:%SZ', julianday(s.discharge_ts) +"
		" (CASE WHEN row_number() OVER (ORDER BY s.stay_id) = 3 THEN 10 ELSE 3 END)),"
		" strftime('%Y-%m-%dT%H:%M:%SZ', julianday(s.discharge_ts) +"
		" (CASE WHEN row_number() OVER (ORDER BY s.stay_id) = 4 THEN 2 ELSE 0 END))"
		" FROM gold_readmission_features s WHERE s.cohort = 'index' AND NOT EXISTS"
		" (SELECT 1 FROM fhir_resource a WHERE a.type = 'Appointment' AND"
		" a.patient_id = s.patient_id) AND NOT EXISTS (SELECT 1 FROM"
		" gold_readmission_features t WHERE t.patient_id = s.patient_id AND"
		" t.stay_id <> s.stay_id) ORDER BY s.stay_id LIMIT 4", -1, &q, NULL), SQLITE_OK);
	snprintf(path, sizeof(path), "%s/bookings.csv", dir);
	f = fopen(path, "w");
	assert_non_null(f);
	fprintf(f, "booking_id,patient_id,practitioner_id,clinic,channel,booked,appointment,status\n");
	while (sqlite3_step(q) == SQLITE_ROW) {
		static const char *const status[] = { "attended", "cancelled", "attended",
						      "attended" };

		fprintf(f, "fu-%d,%s,,Follow-up,call,%s,%s,%s\n", n,
			(const char *)sqlite3_column_text(q, 0),
			(const char *)sqlite3_column_text(q, 2),
			(const char *)sqlite3_column_text(q, 1), status[n]);
		n++;
	}
	sqlite3_finalize(q);
	sqlite3_close(h);
	fclose(f);
	assert_int_equal(n, 4);
	r = run(NULL, "ingest", "--data", data, path, NULL);
	if (r.status != 0)
		fail_msg("ingest of the bookings: %s %s", r.out, r.err);
	done(&r);
	h = open_db();
	assert_int_equal(scalar(h, "SELECT count(*) FROM booking WHERE id LIKE 'fu-%'"), 4);
	sqlite3_close(h);
	after = insights();
	assert_int_equal(num(json_object_get(treatment(after, "follow-up appointment within 7 days"),
					     "exposed"), "stays"),
			 num(json_object_get(treatment(before, "follow-up appointment within 7 days"),
					     "exposed"), "stays") + 2);
	json_decref(before);
	json_decref(after);
}

int main(int argc, char **argv)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_no_model),
		cmocka_unit_test(test_insights),
		cmocka_unit_test(test_bookings),
	};
	int rc;

	if (argc < 2) {
		fprintf(stderr, "usage: test_insights CARELAKE\n");
		return 2;
	}
	bin = argv[1];
	cl_test_tmpdir(dir, sizeof(dir));
	rc = cmocka_run_group_tests(tests, setup, NULL);
	if (rc == 0)
		cl_test_rmtree(dir);
	return rc;
}
