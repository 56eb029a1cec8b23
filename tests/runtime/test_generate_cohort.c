/*
 * `carelake generate --cohort` end to end, through the carelake binary:
 * - a small cohort is the same bytes for the same seed and end day, and
 *   another for another seed;
 * - its FHIR files load into silver with `carelake ingest` with nothing
 *   quarantined and no warning, every resource a row;
 * - what silver then holds is what the truth file says: every stay it
 *   names is an inpatient encounter, and a stay is readmitted exactly
 *   when an emergency admission begins within 30 days of its discharge;
 *   the readmitted share is a plausible one; stays span two wards;
 * - a larger cohort has every Charlson category, in SNOMED CT and in
 *   ICD-10-CM, and the code table maps each code written back to it;
 * - the options: --years and --end only with --cohort, a bad day refused.
 *
 * Usage: test_generate_cohort /path/to/carelake
 */
#include "cl_test.h"

#include <jansson.h>
#include <sqlite3.h>
#include <string.h>

static const char *bin;
static char dir[256];

#include "cli_helpers.h"
#include "sql_helpers.h"
#include "batch/cl_generate_cohort.h"

static json_t *parse(const char *text)
{
	json_error_t err;
	json_t *j = json_loads(text, 0, &err);

	if (!j)
		fail_msg("not JSON (%s): %.400s", err.text, text);
	return j;
}

/* The number before `label` in generate's summary line ("123 stays"). */
static long said(const char *out, const char *label)
{
	char key[64];
	const char *p;
	long n;

	snprintf(key, sizeof(key), " %s", label);
	p = strstr(out, key);
	if (!p)
		fail_msg("no '%s' in: %s", label, out);
	while (p > out && p[-1] >= '0' && p[-1] <= '9')
		p--;
	assert_int_equal(sscanf(p, "%ld", &n), 1);
	return n;
}

static void exec(sqlite3 *h, const char *sql)
{
	char *err = NULL;

	if (sqlite3_exec(h, sql, NULL, NULL, &err) != SQLITE_OK)
		fail_msg("%s: %s", sql, err);
}

/* The truth file into a temporary table of the silver store. */
static long load_truth(sqlite3 *h, const char *path)
{
	char line[512], id[128], patient[64], discharge[40];
	sqlite3_stmt *st;
	FILE *f = fopen(path, "r");
	long rows = 0;

	assert_non_null(f);
	exec(h, "CREATE TEMP TABLE truth(stay_id TEXT, patient_id TEXT, discharge TEXT,"
		" true_risk REAL, readmitted INTEGER, censored INTEGER)");
	assert_int_equal(sqlite3_prepare_v2(h, "INSERT INTO truth VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
					    -1, &st, NULL), SQLITE_OK);
	assert_non_null(fgets(line, sizeof(line), f));
	assert_string_equal(line, "stay_id,patient_id,discharge,true_risk,readmitted,censored,"
			    "observable_risk\n");
	while (fgets(line, sizeof(line), f)) {
		double risk, observable;
		int readmitted, censored;

		if (sscanf(line, "%127[^,],%63[^,],%39[^,],%lf,%d,%d,%lf", id, patient, discharge,
			   &risk, &readmitted, &censored, &observable) != 7)
			fail_msg("a bad truth line: %s", line);
		assert_true(risk > 0 && risk < 1);
		assert_true(observable > 0 && observable < 1);
		assert_true(readmitted == 0 || readmitted == 1);
		assert_true(censored == 0 || censored == 1);
		sqlite3_bind_text(st, 1, id, -1, SQLITE_TRANSIENT);
		sqlite3_bind_text(st, 2, patient, -1, SQLITE_TRANSIENT);
		sqlite3_bind_text(st, 3, discharge, -1, SQLITE_TRANSIENT);
		sqlite3_bind_double(st, 4, risk);
		sqlite3_bind_int(st, 5, readmitted);
		sqlite3_bind_int(st, 6, censored);
		assert_int_equal(sqlite3_step(st), SQLITE_DONE);
		sqlite3_reset(st);
		rows++;
	}
	sqlite3_finalize(st);
	fclose(f);
	return rows;
}

/* A small cohort: deterministic, loads cleanly, agrees with its truth. */
static void test_cohort_loads(void **state)
{
	char out1[400], out2[400], out3[400], data[400], path[600], cmd[1400];
	long patients, encounters, conditions, observations, meds, procs, transfers, index_stays,
		readmitted, censored, uncensored, n;
	struct result r;
	sqlite3 *h;
	json_t *sum;

	(void)state;
	snprintf(out1, sizeof(out1), "%s/cohort1", dir);
	snprintf(out2, sizeof(out2), "%s/cohort2", dir);
	snprintf(out3, sizeof(out3), "%s/cohort3", dir);
	snprintf(data, sizeof(data), "%s/cohort-data", dir);
	r = run(NULL, "generate", "--cohort", "--out", out1, "--patients", "300", "--years", "2",
		"--seed", "11", NULL);
	if (r.status != 0)
		fail_msg("generate --cohort: %s", r.err);
	patients = said(r.out, "patients");
	conditions = said(r.out, "conditions");
	encounters = said(r.out, "encounters");
	transfers = said(r.out, "transfers");
	observations = said(r.out, "observations");
	meds = said(r.out, "medication requests");
	procs = said(r.out, "procedures");
	index_stays = said(r.out, "index stays");
	readmitted = said(r.out, "readmitted within");
	censored = said(r.out, "censored");
	assert_int_equal(patients, 300);
	assert_true(transfers > 0);
	assert_true(said(r.out, "stays,") > 150);
	done(&r);
	r = run(NULL, "generate", "--cohort", "--out", out2, "--patients", "300", "--years", "2",
		"--seed", "11", NULL);
	assert_int_equal(r.status, 0);
	done(&r);
	snprintf(cmd, sizeof(cmd), "diff -r '%s' '%s' > /dev/null", out1, out2);
	assert_int_equal(system(cmd), 0); /* the same seed, the same cohort */
	r = run(NULL, "generate", "--cohort", "--out", out3, "--patients", "300", "--years", "2",
		"--seed", "12", NULL);
	assert_int_equal(r.status, 0);
	done(&r);
	snprintf(cmd, sizeof(cmd), "diff -q '%s/readmission-truth.csv' '%s/readmission-truth.csv' "
		 "> /dev/null", out1, out3);
	assert_int_not_equal(system(cmd), 0); /* another seed, another cohort */

	/* the usual route into silver: nothing refused, nothing warned of */
	snprintf(path, sizeof(path), "%s/fhir", out1);
	r = run(NULL, "ingest", "--data", data, "--json", path, NULL);
	if (r.status != 0)
		fail_msg("ingest of the cohort: %s", r.err);
	sum = parse(r.out);
	assert_int_equal(json_integer_value(json_object_get(sum, "files")), 1);
	assert_int_equal(json_integer_value(json_object_get(sum, "quarantined")), 0);
	assert_int_equal(json_integer_value(json_object_get(sum, "warnings")), 0);
	json_decref(sum);
	done(&r);

	snprintf(path, sizeof(path), "%s/carelake.db", data);
	assert_int_equal(sqlite3_open_v2(path, &h, SQLITE_OPEN_READWRITE, NULL), SQLITE_OK);
	assert_int_equal(scalar(h, "SELECT count(*) FROM quarantine"), 0);
	assert_int_equal(scalar(h, "SELECT count(*) FROM patient"), 300);
	assert_int_equal(scalar(h, "SELECT count(*) FROM encounter"), encounters);
	assert_int_equal(scalar(h, "SELECT count(*) FROM condition"), conditions);
	assert_int_equal(scalar(h, "SELECT count(*) FROM observation"), observations);
	assert_int_equal(scalar(h, "SELECT count(*) FROM medication_request"), meds);
	assert_int_equal(scalar(h, "SELECT count(*) FROM procedure"), procs);
	assert_true(scalar(h, "SELECT count(*) FROM patient WHERE death_date IS NOT NULL") > 0);
	assert_true(scalar(h, "SELECT count(*) FROM patient WHERE birth_date > '2006-02-01' OR"
			      " birth_date < '1927-06-01'") == 0);
	/* the kinds of encounter, each with a start and an end */
	assert_true(scalar(h, "SELECT count(*) FROM encounter WHERE class = 'EMER'") > 0);
	assert_true(scalar(h, "SELECT count(*) FROM encounter WHERE class = 'AMB'") > 0);
	assert_true(scalar(h, "SELECT count(*) FROM encounter WHERE class = 'IMP' AND"
			      " code = '183452005'") > 0);
	assert_true(scalar(h, "SELECT count(*) FROM encounter WHERE class = 'IMP' AND"
			      " code = '8715000'") > 0);
	assert_true(scalar(h, "SELECT count(*) FROM encounter WHERE ward LIKE 'ICU%'") > 0);
	assert_true(scalar(h, "SELECT count(*) FROM encounter WHERE ward = 'Oncology'") > 0);
	assert_int_equal(scalar(h, "SELECT count(*) FROM encounter WHERE status != 'finished' OR"
				   " start_ts IS NULL OR end_ts IS NULL OR end_ts <= start_ts"), 0);
	/* transfers: the second encounter starts as the first ends, on another ward */
	assert_int_equal(scalar(h, "SELECT count(*) FROM encounter a JOIN encounter b ON"
				   " b.patient_id = a.patient_id AND b.start_ts = a.end_ts AND"
				   " b.class = 'IMP' WHERE a.class = 'IMP' AND b.ward != a.ward"),
			 transfers);
	/* what happened during the stays happened within them */
	assert_int_equal(scalar(h, "SELECT count(*) FROM medication_request m JOIN encounter e ON"
				   " e.id = m.encounter_id WHERE m.authored_ts < e.start_ts OR"
				   " m.authored_ts > e.end_ts"), 0);
	assert_int_equal(scalar(h, "SELECT count(*) FROM procedure p JOIN encounter e ON"
				   " e.id = p.encounter_id WHERE p.performed_start < e.start_ts OR"
				   " p.performed_end > e.end_ts"), 0);
	assert_int_equal(scalar(h, "SELECT count(*) FROM observation o JOIN encounter e ON"
				   " e.id = o.encounter_id WHERE o.effective_ts < e.start_ts OR"
				   " o.effective_ts > e.end_ts"), 0);
	for (size_t i = 0; i < 7; i++) {
		static const char *const loinc[] = { "8867-4", "9279-1", "59408-5", "8480-6",
						     "8310-5", "718-7", "2951-2" };
		char sql[200];

		snprintf(sql, sizeof(sql), "SELECT count(*) FROM observation WHERE code = '%s' AND"
			 " value IS NOT NULL", loinc[i]);
		assert_true(scalar(h, sql) > 0);
	}
	assert_true(scalar(h, "SELECT count(*) FROM condition WHERE code GLOB '[A-Z]*'") > 0);
	assert_true(scalar(h, "SELECT count(*) FROM condition WHERE code GLOB '[0-9]*'") > 0);

	/* the truth: one row per stay ended alive, each an inpatient encounter */
	snprintf(path, sizeof(path), "%s/readmission-truth.csv", out1);
	n = load_truth(h, path);
	assert_int_equal(n, index_stays);
	assert_int_equal(scalar(h, "SELECT count(*) FROM truth WHERE readmitted = 1"), readmitted);
	assert_int_equal(scalar(h, "SELECT count(*) FROM truth WHERE censored = 1"), censored);
	assert_int_equal(scalar(h, "SELECT count(*) FROM truth t JOIN encounter e ON"
				   " e.id = t.stay_id AND e.patient_id = t.patient_id AND"
				   " e.class = 'IMP'"), n);
	/* the discharge is the stay's last encounter's end */
	assert_int_equal(scalar(h, "SELECT count(*) FROM truth t WHERE NOT EXISTS (SELECT 1"
				   " FROM encounter e WHERE e.patient_id = t.patient_id AND"
				   " e.class = 'IMP' AND e.end_ts = t.discharge)"), 0);
	/* readmitted exactly when an emergency admission (not the second
	 * half of a transfer) begins within 30 days of the discharge */
	assert_int_equal(scalar(h, "SELECT count(*) FROM truth t WHERE t.readmitted != EXISTS"
				   " (SELECT 1 FROM encounter r WHERE"
				   " r.patient_id = t.patient_id AND r.class = 'IMP' AND"
				   " r.code = '183452005' AND r.start_ts > t.discharge AND"
				   " julianday(r.start_ts) - julianday(t.discharge) <= 30 AND"
				   " NOT EXISTS (SELECT 1 FROM encounter x WHERE"
				   " x.patient_id = r.patient_id AND x.class = 'IMP' AND"
				   " x.end_ts = r.start_ts))"), 0);
	/* a plausible share readmitted, and the risks agree with it */
	uncensored = scalar(h, "SELECT count(*) FROM truth WHERE censored = 0");
	assert_true(uncensored > 150);
	{
		long yes = scalar(h, "SELECT count(*) FROM truth WHERE censored = 0 AND"
				     " readmitted = 1");
		long risk_permille = scalar(h, "SELECT CAST(1000 * avg(true_risk) AS INTEGER) FROM"
					       " truth WHERE censored = 0");

		print_message("readmitted %ld of %ld uncensored stays; mean risk %ld/1000\n", yes,
			      uncensored, risk_permille);
		assert_true(yes * 100 >= uncensored * 6 && yes * 100 <= uncensored * 25);
		assert_true(risk_permille >= 80 && risk_permille <= 220);
	}
	/* a censored stay: a death within 30 days of the discharge, or the end near */
	assert_int_equal(scalar(h, "SELECT count(*) FROM truth t JOIN patient p ON p.id ="
				   " t.patient_id WHERE t.censored = 1 AND NOT ((p.death_date IS"
				   " NOT NULL AND"
				   " julianday(p.death_date) - julianday(t.discharge) <= 30)"
				   " OR t.discharge > '2025-12-02')"), 0);
	sqlite3_close(h);
}

/* Every Charlson category appears in a larger cohort, coded both ways,
 * and the table maps what was written back to its category. */
static void test_cohort_charlson(void **state)
{
	char out[400], path[600], line[8192];
	int seen[CL_CHARLSON_CATEGORIES] = { 0 }, snomed = 0, icd = 0;
	struct result r;
	long files;

	(void)state;
	/* the table's own sense: hierarchy and lookups */
#define B(k) (1u << CL_CHARLSON_##k)
	assert_int_equal(cl_charlson_index(0), 0);
	assert_int_equal(cl_charlson_index(B(DM) | B(DM_COMPL)), 2);
	assert_int_equal(cl_charlson_index(B(MALIGNANCY) | B(METASTATIC)), 6);
	assert_int_equal(cl_charlson_index(B(MILD_LIVER) | B(SEVERE_LIVER)), 3);
	assert_int_equal(cl_charlson_index((1u << CL_CHARLSON_CATEGORIES) - 1),
			 1 + 1 + 1 + 1 + 1 + 1 + 1 + 1 + 2 + 2 + 2 + 3 + 6 + 6);
	assert_int_equal(cl_charlson_category_of("I21.4"), CL_CHARLSON_MI);
	assert_int_equal(cl_charlson_category_of("I214"), CL_CHARLSON_MI);
	assert_int_equal(cl_charlson_category_of("I25.5"), CL_CHARLSON_CHF);
	assert_int_equal(cl_charlson_category_of("E11.9"), CL_CHARLSON_DM);
	assert_int_equal(cl_charlson_category_of("E11.22"), CL_CHARLSON_DM_COMPL);
	assert_int_equal(cl_charlson_category_of("C50.919"), CL_CHARLSON_MALIGNANCY);
	assert_int_equal(cl_charlson_category_of("C79.51"), CL_CHARLSON_METASTATIC);
	assert_int_equal(cl_charlson_category_of("C98"), -1);
	assert_int_equal(cl_charlson_category_of("38341003"), -1);
	assert_int_equal(cl_charlson_category_of("42343007"), CL_CHARLSON_CHF);
	assert_int_equal(cl_charlson_category_of(""), -1);
#undef B

	snprintf(out, sizeof(out), "%s/cohort-large", dir);
	r = run(NULL, "generate", "--cohort", "--out", out, "--patients", "3000", "--years", "2",
		"--seed", "5", NULL);
	if (r.status != 0)
		fail_msg("generate --cohort: %s", r.err);
	files = said(r.out, "files");
	assert_int_equal(files, 2);
	done(&r);
	for (long k = 1; k <= files; k++) {
		FILE *f;

		snprintf(path, sizeof(path), "%s/fhir/cohort-%02ld.ndjson", out, k);
		f = fopen(path, "r");
		assert_non_null(f);
		while (fgets(line, sizeof(line), f)) {
			json_t *j, *coding;
			const char *system, *code;
			int cat;

			if (!strstr(line, "\"resourceType\":\"Condition\""))
				continue;
			j = parse(line);
			coding = json_object_get(json_object_get(j, "code"), "coding");
			coding = json_array_get(coding, 0);
			system = json_string_value(json_object_get(coding, "system"));
			code = json_string_value(json_object_get(coding, "code"));
			assert_non_null(system);
			assert_non_null(code);
			cat = cl_charlson_category_of(code);
			if (strcmp(system, "http://snomed.info/sct") == 0) {
				assert_int_equal(strspn(code, "0123456789"), strlen(code));
				snomed += cat >= 0;
			} else {
				assert_string_equal(system, "http://hl7.org/fhir/sid/icd-10-cm");
				/* every ICD-10-CM code written is Charlson's */
				assert_true(cat >= 0);
				icd++;
			}
			if (cat >= 0)
				seen[cat]++;
			json_decref(j);
		}
		fclose(f);
	}
	for (int k = 0; k < CL_CHARLSON_CATEGORIES; k++)
		if (!seen[k])
			fail_msg("no condition of the category %s in 3,000 patients",
				 cl_charlson_categories[k].name);
	assert_true(snomed > 3 * icd); /* most in SNOMED CT, some in ICD-10-CM */
	assert_true(icd > 0);
	/* prevalence rises with age: dementia is rare, diabetes common */
	assert_true(seen[CL_CHARLSON_DM] > seen[CL_CHARLSON_DEMENTIA]);
}

/* The options that go with --cohort, and a bad day. */
static void test_cohort_options(void **state)
{
	char out[400], a[600], b[600];
	struct result r;
	char *x, *y;

	(void)state;
	snprintf(out, sizeof(out), "%s/cohort-opts", dir);
	r = run(NULL, "generate", "--out", out, "--years", "2", NULL);
	assert_int_equal(r.status, 2);
	assert_non_null(strstr(r.err, "--years and --end go with --cohort"));
	done(&r);
	r = run(NULL, "generate", "--cohort", "--out", out, "--end", "2026-13-01", NULL);
	assert_int_equal(r.status, 2);
	assert_non_null(strstr(r.err, "--end needs a day as YYYY-MM-DD"));
	done(&r);
	r = run(NULL, "generate", "--cohort", "--out", out, "--years", "21", NULL);
	assert_int_equal(r.status, 2);
	done(&r);
	/* the end day moves the period, and nothing is after it */
	r = run(NULL, "generate", "--cohort", "--out", out, "--patients", "20", "--years", "1",
		"--end", "2020-06-01", NULL);
	assert_int_equal(r.status, 0);
	done(&r);
	snprintf(a, sizeof(a), "%s/readmission-truth.csv", out);
	x = slurp(a);
	assert_null(strstr(x, ",2020-06-0"));
	assert_non_null(strstr(x, ",2019-"));
	assert_null(strstr(x, ",2021-"));
	snprintf(b, sizeof(b), "%s/fhir/cohort-01.ndjson", out);
	y = slurp(b);
	assert_null(strstr(y, "\"2020-07"));
	assert_null(strstr(y, "\"2021-"));
	assert_non_null(strstr(y, "\"id\":\"cohort-000020\""));
	free(x);
	free(y);
}

int main(int argc, char **argv)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_cohort_loads),
		cmocka_unit_test(test_cohort_charlson),
		cmocka_unit_test(test_cohort_options),
	};
	int rc;

	if (argc != 2) {
		fprintf(stderr, "usage: test_generate_cohort CARELAKE\n");
		return 2;
	}
	bin = argv[1];
	cl_test_tmpdir(dir, sizeof(dir));
	rc = cmocka_run_group_tests(tests, NULL, NULL);
	if (rc == 0)
		cl_test_rmtree(dir);
	return rc;
}
