/*
 * `carelake model`, end to end on a generated cohort: the feature table
 * is built by refine with nothing recorded after a discharge entering it
 * (records added after the discharges change no feature of those stays);
 * training reports every model and baseline with the metrics by name, is
 * the same for the same seed, registers versions that list, show and
 * promote; a bad split or version is refused with the reason.
 *
 * Usage: test_model /path/to/carelake
 */
#include "cl_test.h"

#include <jansson.h>
#include <sqlite3.h>
#include <string.h>

static const char *bin, *shared;
static char dir[256], data[400];

#include "cli_helpers.h"

/* The feature columns (everything but the label and the cohort). */
#define FEATURES                                                                       \
	"age_years, sex_female, los_days, emergency, icu, oncology, encounters, charlson,"  \
	" ed_visits_6m, ed_visits_12m, admissions_6m, admissions_12m, medications,"        \
	" procedures, followup_booked, heart_rate, respiratory_rate, spo2, systolic_bp, temperature,"       \
	" heart_rate_trend, respiratory_rate_trend, spo2_trend, systolic_bp_trend,"        \
	" temperature_trend, news2, abnormal_vitals, hemoglobin, sodium, lace, hospital_score"

static int setup(void **state)
{
	char out[400];
	struct result r;

	(void)state;
	snprintf(out, sizeof(out), "%s/cohort", dir);
	snprintf(data, sizeof(data), "%s/data", dir);
	r = run(NULL, "generate", "--cohort", "--out", out, "--patients", "1500", "--years", "2",
		"--seed", "5", NULL);
	if (r.status != 0)
		fail_msg("generate: %s", r.err);
	done(&r);
	snprintf(out, sizeof(out), "%s/cohort/fhir", dir);
	r = run(NULL, "ingest", "--data", data, out, NULL);
	if (r.status != 0)
		fail_msg("ingest: %s", r.err);
	done(&r);
	return 0;
}

/* Every feature of the given stays, as one text. */
static char *features_of(const char *where)
{
	char sql[2048], *all = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&all, &len);
	sqlite3 *h;
	sqlite3_stmt *q;
	char path[500];

	snprintf(path, sizeof(path), "%s/carelake.db", data);
	assert_int_equal(sqlite3_open_v2(path, &h, SQLITE_OPEN_READONLY, NULL), SQLITE_OK);
	snprintf(sql, sizeof(sql), "SELECT stay_id, " FEATURES " FROM gold_readmission_features"
		 " WHERE %s ORDER BY stay_id", where);
	assert_int_equal(sqlite3_prepare_v2(h, sql, -1, &q, NULL), SQLITE_OK);
	while (sqlite3_step(q) == SQLITE_ROW) {
		for (int i = 0; i < sqlite3_column_count(q); i++)
			fprintf(f, "%s|", (const char *)sqlite3_column_text(q, i) ?: "NULL");
		fputc('\n', f);
	}
	sqlite3_finalize(q);
	sqlite3_close(h);
	fclose(f);
	return all;
}

/* Nothing recorded after a discharge enters that stay's features: a
 * condition (metastatic cancer), a heart rate, a haemoglobin, a
 * medication and a procedure dated an hour after each of 40 stays'
 * discharges (each its patient's last) change none of their features. */
static void test_no_leakage(void **state)
{
	char path[500], *before, *after, where[400], sql[700];
	struct result r;
	sqlite3 *h;
	sqlite3_stmt *q;
	FILE *f;
	int n = 0;

	(void)state;
	/* each the last stay of its patient (a record after one stay's
	 * discharge may rightly count for the patient's next stay) */
	snprintf(where, sizeof(where), "stay_id IN (SELECT stay_id FROM gold_readmission_features g"
		 " WHERE NOT EXISTS (SELECT 1 FROM gold_readmission_features h WHERE"
		 " h.patient_id = g.patient_id AND h.admit_ts > g.admit_ts)"
		 " ORDER BY stay_id LIMIT 40)");
	before = features_of(where);
	assert_true(strlen(before) > 100);
	snprintf(path, sizeof(path), "%s/carelake.db", data);
	assert_int_equal(sqlite3_open_v2(path, &h, SQLITE_OPEN_READONLY, NULL), SQLITE_OK);
	snprintf(sql, sizeof(sql), "SELECT patient_id, strftime('%%Y-%%m-%%dT%%H:%%M:%%SZ',"
		 " julianday(discharge_ts) + 1.0 / 24) FROM gold_readmission_features WHERE %s",
		 where);
	assert_int_equal(sqlite3_prepare_v2(h, sql, -1, &q, NULL), SQLITE_OK);
	snprintf(path, sizeof(path), "%s/later.ndjson", dir);
	f = fopen(path, "w");
	while (sqlite3_step(q) == SQLITE_ROW) {
		const char *p = (const char *)sqlite3_column_text(q, 0);
		const char *t = (const char *)sqlite3_column_text(q, 1);

		fprintf(f, "{\"resourceType\":\"Condition\",\"id\":\"later-c%d\",\"subject\":"
			"{\"reference\":\"Patient/%s\"},\"code\":{\"coding\":[{\"system\":"
			"\"http://snomed.info/sct\",\"code\":\"128462008\"}]},\"onsetDateTime\":\"%s\"}\n",
			n, p, t);
		fprintf(f, "{\"resourceType\":\"Observation\",\"id\":\"later-o%d\",\"status\":\"final\","
			"\"code\":{\"coding\":[{\"system\":\"http://loinc.org\",\"code\":\"8867-4\"}]},"
			"\"subject\":{\"reference\":\"Patient/%s\"},\"effectiveDateTime\":\"%s\","
			"\"valueQuantity\":{\"value\":150,\"unit\":\"/min\"}}\n", n, p, t);
		fprintf(f, "{\"resourceType\":\"Observation\",\"id\":\"later-h%d\",\"status\":\"final\","
			"\"code\":{\"coding\":[{\"system\":\"http://loinc.org\",\"code\":\"718-7\"}]},"
			"\"subject\":{\"reference\":\"Patient/%s\"},\"effectiveDateTime\":\"%s\","
			"\"valueQuantity\":{\"value\":7.5,\"unit\":\"g/dL\"}}\n", n, p, t);
		fprintf(f, "{\"resourceType\":\"MedicationRequest\",\"id\":\"later-m%d\",\"status\":"
			"\"active\",\"intent\":\"order\",\"subject\":{\"reference\":\"Patient/%s\"},"
			"\"medicationCodeableConcept\":{\"coding\":[{\"system\":"
			"\"http://www.nlm.nih.gov/research/umls/rxnorm\",\"code\":\"314076\"}]},"
			"\"authoredOn\":\"%s\"}\n", n, p, t);
		fprintf(f, "{\"resourceType\":\"Procedure\",\"id\":\"later-p%d\",\"status\":"
			"\"completed\",\"subject\":{\"reference\":\"Patient/%s\"},\"code\":{\"coding\":"
			"[{\"system\":\"http://snomed.info/sct\",\"code\":\"387713003\"}]},"
			"\"performedDateTime\":\"%s\"}\n", n, p, t);
		/* a follow-up booked an hour after the discharge, for then */
		fprintf(f, "{\"resourceType\":\"Appointment\",\"id\":\"later-a%d\",\"status\":"
			"\"booked\",\"created\":\"%s\",\"start\":\"%s\",\"end\":\"%s\","
			"\"participant\":[{\"actor\":{\"reference\":\"Patient/%s\"},\"status\":"
			"\"accepted\"}]}\n", n, t, t, t, p);
		n++;
	}
	sqlite3_finalize(q);
	sqlite3_close(h);
	fclose(f);
	assert_int_equal(n, 40);
	r = run(NULL, "ingest", "--data", data, path, NULL);
	if (r.status != 0)
		fail_msg("ingest of the later records: %s %s", r.out, r.err);
	done(&r);
	{
		char db[500];
		long rows;

		snprintf(db, sizeof(db), "%s/carelake.db", data);
		assert_int_equal(sqlite3_open_v2(db, &h, SQLITE_OPEN_READONLY, NULL), SQLITE_OK);
		assert_int_equal(sqlite3_prepare_v2(h, "SELECT (SELECT count(*) FROM condition WHERE"
						    " id LIKE 'later-%') + (SELECT count(*) FROM"
						    " booking WHERE id LIKE 'later-%')", -1, &q, NULL),
				 SQLITE_OK);
		assert_int_equal(sqlite3_step(q), SQLITE_ROW);
		rows = sqlite3_column_int64(q, 0);
		sqlite3_finalize(q);
		sqlite3_close(h);
		assert_int_equal(rows, 80); /* they are in silver */
	}
	after = features_of(where);
	if (strcmp(before, after) != 0) {
		/* the first stay whose features changed, before and after */
		char *x = before, *y = after;

		while (*x && *x == *y)
			x++, y++;
		while (x > before && x[-1] != '\n')
			x--, y--;
		fail_msg("features changed:\n%.*s\n%.*s", (int)strcspn(x, "\n"), x,
			 (int)strcspn(y, "\n"), y);
	}
	free(before);
	free(after);
}

static json_t *train(const char *split, const char *seed)
{
	struct result r = run(NULL, "model", "train", "readmission", "--data", data, "--split",
			      split, "--seed", seed, "--format", "json", NULL);
	json_t *j;

	if (r.status != 0)
		fail_msg("model train: %s", r.err);
	j = json_loads(r.out, 0, NULL);
	assert_non_null(j);
	done(&r);
	return j;
}

static double metric(json_t *j, const char *model, const char *name)
{
	json_t *v = json_object_get(json_object_get(json_object_get(j, "metrics"), model), name);

	if (!json_is_number(v))
		fail_msg("no %s.%s", model, name);
	return json_number_value(v);
}

static void test_train_and_registry(void **state)
{
	static const char *const models[] = { "logistic", "xgboost", "lace", "hospital" };
	static const char *const names[] = { "auroc", "auprc", "brier", "calibration_slope",
					     "calibration_intercept" };
	json_t *a, *b, *c, *ci;
	struct result r;
	char path[600];

	(void)state;
	a = train("time", "7");
	c = json_object_get(a, "cohort");
	print_message("cohort: %lld index stays, %lld test (%lld readmitted); AUROC logistic %.3f,"
		      " xgboost %.3f, LACE %.3f, HOSPITAL %.3f\n",
		      json_integer_value(json_object_get(c, "index")),
		      json_integer_value(json_object_get(c, "test")),
		      json_integer_value(json_object_get(c, "test_readmitted")),
		      metric(a, "logistic", "auroc"), metric(a, "xgboost", "auroc"),
		      metric(a, "lace", "auroc"), metric(a, "hospital", "auroc"));
	assert_true(json_integer_value(json_object_get(c, "index")) > 1000);
	assert_true(json_integer_value(json_object_get(c, "died_in_stay")) >= 0);
	assert_int_equal(json_integer_value(json_object_get(c, "train")) +
				 json_integer_value(json_object_get(c, "test")),
			 json_integer_value(json_object_get(c, "index")));
	for (size_t i = 0; i < 4; i++) {
		for (size_t k = 0; k < 5; k++)
			(void)metric(a, models[i], names[k]);
		ci = json_object_get(json_object_get(json_object_get(a, "metrics"), models[i]),
				     "auroc_ci");
		assert_int_equal(json_array_size(ci), 2);
		assert_true(json_number_value(json_array_get(ci, 0)) <= metric(a, models[i], "auroc"));
		assert_true(json_number_value(json_array_get(ci, 1)) >= metric(a, models[i], "auroc"));
	}
	/* the generated readmissions follow real risk factors: learnable */
	assert_true(metric(a, "logistic", "auroc") > 0.65);
	assert_true(metric(a, "xgboost", "auroc") > 0.65);
	/* the same data and seed: the same model */
	b = train("time", "7");
	assert_int_equal(json_integer_value(json_object_get(b, "version")),
			 json_integer_value(json_object_get(a, "version")) + 1);
	assert_true(metric(a, "xgboost", "auroc") == metric(b, "xgboost", "auroc"));
	assert_true(metric(a, "logistic", "brier") == metric(b, "logistic", "brier"));
	json_decref(b);
	b = train("patient", "7");
	assert_string_equal(json_string_value(json_object_get(b, "split")), "patient");
	json_decref(b);
	snprintf(path, sizeof(path), "%s/models/readmission/v1/card.md", data);
	{
		char *card = slurp(path);

		assert_non_null(strstr(card, "# Model card"));
		assert_non_null(strstr(card, "| hospital |"));
		free(card);
	}
	snprintf(path, sizeof(path), "%s/models/readmission/v1/xgboost.json", data);
	free(slurp(path));
	/* the registry */
	r = run(NULL, "model", "promote", "v2", "--data", data, NULL);
	assert_int_equal(r.status, 0);
	done(&r);
	r = run(NULL, "model", "list", "--data", data, "--format", "json", NULL);
	assert_int_equal(r.status, 0);
	{
		json_t *l = json_loads(r.out, 0, NULL);

		assert_int_equal(json_array_size(l), 3);
		assert_true(json_is_true(json_object_get(json_array_get(l, 1), "promoted")));
		assert_true(json_is_false(json_object_get(json_array_get(l, 0), "promoted")));
		json_decref(l);
	}
	done(&r);
	r = run(NULL, "model", "show", "v1", "--data", data, NULL);
	assert_int_equal(r.status, 0);
	assert_non_null(strstr(r.out, "xgboost"));
	done(&r);
	/* refused, with the reason */
	r = run(NULL, "model", "show", "v9", "--data", data, NULL);
	assert_int_not_equal(r.status, 0);
	assert_non_null(strstr(r.err, "no readmission model v9"));
	done(&r);
	r = run(NULL, "model", "train", "readmission", "--data", data, "--split", "row", NULL);
	assert_int_not_equal(r.status, 0);
	assert_non_null(strstr(r.err, "never by row"));
	done(&r);
	json_decref(a);
}

/* The feature table for research, de-identified: no id or date as it
 * was, ages capped at 90, the features as they are. */
static void test_research_export(void **state)
{
	char out[500], *csv;
	struct result r;

	(void)state;
	snprintf(out, sizeof(out), "%s/features.csv", dir);
	r = run(NULL, "export", "--data", data, "--table", "gold_readmission_features",
		"--deidentify", "--format", "csv", "--out", out, NULL);
	if (r.status != 0)
		fail_msg("export: %s", r.err);
	done(&r);
	csv = slurp(out);
	assert_non_null(strstr(csv, "charlson"));
	assert_null(strstr(csv, "cohort-0"));   /* neither stay nor patient ids */
	for (char *line = strchr(csv, '\n'); line && line[1]; line = strchr(line + 1, '\n')) {
		char *f = line + 1;
		double age;

		for (int i = 0; i < 10; i++)   /* age_years is the 11th column */
			f = strchr(f, ',') + 1;
		age = atof(f);
		assert_true(age <= 90);
	}
	free(csv);
}

/* A store whose feature table is of an older shape (a column since
 * added) gets it made anew and filled by the next refine. */
static void test_older_gold_table(void **state)
{
	char path[500];
	struct result r;
	sqlite3 *h;
	sqlite3_stmt *q;
	long n = -1;

	(void)state;
	snprintf(path, sizeof(path), "%s/carelake.db", data);
	assert_int_equal(sqlite3_open(path, &h), SQLITE_OK);
	assert_int_equal(sqlite3_exec(h, "ALTER TABLE gold_readmission_features DROP COLUMN"
				      " followup_booked", NULL, NULL, NULL), SQLITE_OK);
	sqlite3_close(h);
	r = run(NULL, "refine", "--data", data, NULL);
	if (r.status != 0)
		fail_msg("refine: %s", r.err);
	done(&r);
	assert_int_equal(sqlite3_open_v2(path, &h, SQLITE_OPEN_READONLY, NULL), SQLITE_OK);
	assert_int_equal(sqlite3_prepare_v2(h, "SELECT count(followup_booked) FROM"
					    " gold_readmission_features", -1, &q, NULL), SQLITE_OK);
	if (sqlite3_step(q) == SQLITE_ROW)
		n = sqlite3_column_int64(q, 0);
	sqlite3_finalize(q);
	sqlite3_close(h);
	assert_true(n > 1000);
}

/* The Synthea sample runs end to end: too small to judge, so the model is
 * trained and registered with a warning, and each metric that the test
 * stays cannot give is left out with the reason. */
static void test_synthea_sample(void **state)
{
	char syn[400], sdata[400];
	struct result r;
	json_t *j, *metrics, *v;
	const char *name;

	(void)state;
	if (!shared)
		skip();
	snprintf(syn, sizeof(syn), "%s/synthea-csv", shared);
	snprintf(sdata, sizeof(sdata), "%s/synthea", dir);
	r = run(NULL, "ingest", "--data", sdata, syn, NULL);
	if (r.status != 0)
		fail_msg("ingest: %s", r.err);
	done(&r);
	r = run(NULL, "model", "train", "readmission", "--data", sdata, "--format", "json", NULL);
	if (r.status != 0)
		fail_msg("train on the Synthea sample: %s", r.err);
	j = json_loads(r.out, 0, NULL);
	done(&r);
	assert_non_null(j);
	assert_non_null(strstr(json_string_value(json_object_get(j, "warning")), "small cohort"));
	assert_true(json_integer_value(json_object_get(json_object_get(j, "cohort"), "index")) > 0);
	metrics = json_object_get(j, "metrics");
	json_object_foreach(metrics, name, v)
		assert_true(json_is_number(json_object_get(v, "auroc")) ||
			    json_is_string(json_object_get(v, "error")));
	json_decref(j);
	r = run(NULL, "model", "show", "v1", "--data", sdata, NULL);
	assert_int_equal(r.status, 0);
	assert_non_null(strstr(r.out, "warning: a small cohort"));
	done(&r);
}

int main(int argc, char **argv)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_no_leakage),
		cmocka_unit_test(test_train_and_registry),
		cmocka_unit_test(test_research_export),
		cmocka_unit_test(test_older_gold_table),
		cmocka_unit_test(test_synthea_sample),
	};
	int rc;

	if (argc < 2) {
		fprintf(stderr, "usage: test_model CARELAKE [SHARED-DATA]\n");
		return 2;
	}
	bin = argv[1];
	shared = argc > 2 ? argv[2] : NULL;
	cl_test_tmpdir(dir, sizeof(dir));
	rc = cmocka_run_group_tests(tests, setup, NULL);
	if (rc == 0)
		cl_test_rmtree(dir);
	return rc;
}
