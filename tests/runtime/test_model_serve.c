/*
 * The readmission model serving, end to end on a generated cohort that
 * ends today: a promoted model scores at once and on every refresh the
 * stays in progress (features as of the refresh) and the discharges of
 * the last 30 days into gold_readmission_risk; a stay's discharge moves
 * it from inpatient to discharged; what serves is what was trained (the
 * scores of the test stays equal the training's predictions, for the
 * logistic regression and for the trees); GET /api/v1/patients/{id}/risk
 * answers the care team and no one else, a ward's counts answer managers,
 * and the per-patient gold tables are not served as KPIs; without a
 * promoted model the table empties and scoring says why.
 *
 * Usage: test_model_serve /path/to/carelake
 */
#include "serve_helpers.h"

#include <jansson.h>
#include <time.h>

static char data[300], cohort[300];

/* Runs a shell command in the scratch directory: its exit status, and its
 * stdout (the caller frees) when out is not NULL. */
static int sh(char **out, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static int sh(char **out, const char *fmt, ...)
{
	char cmd[4096], *buf = NULL;
	size_t cap = 0, len = 0, got;
	char chunk[4096];
	va_list ap;
	FILE *p;
	int n;

	n = snprintf(cmd, sizeof(cmd), "cd '%s' && ", dir);
	va_start(ap, fmt);
	vsnprintf(cmd + n, sizeof(cmd) - (size_t)n, fmt, ap);
	va_end(ap);
	p = popen(cmd, "r");
	assert_non_null(p);
	while ((got = fread(chunk, 1, sizeof(chunk), p)) > 0) {
		if (len + got + 1 > cap) {
			cap = (len + got + 1) * 2;
			buf = realloc(buf, cap);
			assert_non_null(buf);
		}
		memcpy(buf + len, chunk, got);
		len += got;
	}
	if (buf)
		buf[len] = '\0';
	if (out)
		*out = buf ? buf : strdup("");
	else
		free(buf);
	return pclose(p);
}

/* A time relative to now, as silver and FHIR write it. */
static void at(int64_t offset_s, char *buf, size_t cap)
{
	cl_time_format_rfc3339(cl_time_now_us() + offset_s * 1000000, buf, cap, 0);
}

/* Ingests one Encounter of cohort-000002 on Ward-C (end NULL: in progress). */
static void encounter(const char *id, const char *start, const char *end)
{
	char path[600];
	FILE *f;

	snprintf(path, sizeof(path), "%s/enc-%s-%s.ndjson", dir, id, end ? "done" : "open");
	f = fopen(path, "w");
	assert_non_null(f);
	fprintf(f, "{\"resourceType\":\"Encounter\",\"id\":\"%s\",\"status\":\"%s\",\"class\":"
		"{\"system\":\"http://terminology.hl7.org/CodeSystem/v3-ActCode\",\"code\":\"IMP\"},"
		"\"type\":[{\"coding\":[{\"system\":\"http://snomed.info/sct\",\"code\":\"183452005\"}]}],"
		"\"subject\":{\"reference\":\"Patient/cohort-000002\"},\"period\":{\"start\":\"%s\"%s%s%s},"
		"\"location\":[{\"location\":{\"display\":\"Ward-C\"}}]}\n", id,
		end ? "finished" : "in-progress", start, end ? ",\"end\":\"" : "", end ? end : "",
		end ? "\"" : "");
	fclose(f);
	assert_int_equal(sh(NULL, "'%s' ingest --data '%s' '%s' >/dev/null 2>&1", bin, data, path), 0);
}

static int setup(void **state)
{
	char today[40], *out;

	(void)state;
	snprintf(data, sizeof(data), "%s/data", dir);
	snprintf(cohort, sizeof(cohort), "%s/cohort", dir);
	/* the cohort ends today, so its last month's discharges are recent */
	at(0, today, sizeof(today));
	today[10] = '\0';
	if (sh(NULL, "'%s' generate --cohort --out '%s' --patients 1500 --years 2 --seed 7 --end %s"
	       " >/dev/null 2>&1", bin, cohort, today) != 0 ||
	    sh(NULL, "'%s' ingest --data '%s' '%s/fhir' >/dev/null 2>&1", bin, data, cohort) != 0 ||
	    sh(NULL, "'%s' model train readmission --data '%s' --predictions pred.csv >/dev/null",
	       bin, data) != 0)
		fail_msg("generate, ingest or train failed");
	/* before any promotion scoring says what is missing */
	assert_int_not_equal(sh(&out, "'%s' model score readmission --data '%s' 2>&1", bin, data), 0);
	assert_non_null(strstr(out, "no readmission model is promoted"));
	free(out);
	assert_int_equal(sh(&out, "'%s' model promote v1 --data '%s'", bin, data), 0);
	assert_non_null(strstr(out, "readmission model v1 promoted"));
	assert_non_null(strstr(out, "scored "));
	free(out);
	return 0;
}

/* stay_id -> the value of column col, from a CSV with a header line. */
static json_t *csv_column(const char *name, const char *col)
{
	char line[4096], path[600], *p;
	json_t *o = json_object();
	int want = -1;
	FILE *f;

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	f = fopen(path, "r");

	assert_non_null(f);
	assert_non_null(fgets(line, sizeof(line), f));
	line[strcspn(line, "\r\n")] = '\0';
	p = line;
	for (int i = 0; p; i++) {
		char *c = strsep(&p, ",");

		if (strcmp(c, col) == 0)
			want = i;
	}
	assert_true(want > 0);
	while (fgets(line, sizeof(line), f)) {
		char *stay = NULL, *v = NULL;

		p = line;
		for (int i = 0; p && i <= want; i++) {
			char *c = strsep(&p, ",\n");

			if (i == 0)
				stay = c;
			if (i == want)
				v = c;
		}
		assert_non_null(v);
		json_object_set_new(o, stay, json_real(atof(v)));
	}
	fclose(f);
	return o;
}

/* Every test stay's predicted risk as trained (pred.csv's column) equals
 * its served risk (scored.csv), and they are many. */
static void assert_same_scores(const char *trained_col)
{
	json_t *trained = csv_column("pred.csv", trained_col);
	json_t *served = csv_column("scored.csv", "risk");
	const char *stay;
	json_t *v;
	size_t n = 0;

	json_object_foreach(trained, stay, v) {
		json_t *s = json_object_get(served, stay);

		assert_non_null(s);
		if (fabs(json_real_value(s) - json_real_value(v)) > 1e-6)
			fail_msg("stay %s: trained %s %.9g, served %.9g", stay, trained_col,
				 json_real_value(v), json_real_value(s));
		n++;
	}
	assert_true(n > 200);
	json_decref(trained);
	json_decref(served);
}

static void test_serving_is_training(void **state)
{
	char path[600], *out;
	json_t *m;
	const char *serving, *other;

	(void)state;
	snprintf(path, sizeof(path), "%s/models/readmission/v1/model.json", data);
	m = json_load_file(path, 0, NULL);
	assert_non_null(m);
	serving = json_string_value(json_object_get(json_object_get(m, "serving"), "model"));
	assert_non_null(serving);
	/* the one with the better held-out AUROC serves */
	other = strcmp(serving, "xgboost") == 0 ? "logistic" : "xgboost";
	assert_true(json_number_value(json_object_get(json_object_get(json_object_get(m, "metrics"),
								      serving), "auroc")) >=
		    json_number_value(json_object_get(json_object_get(json_object_get(m, "metrics"),
								      other), "auroc")));
	/* the registry records the data it read, table by table */
	assert_true(json_integer_value(json_object_get(json_object_get(m, "snapshot"),
						       "encounter")) >= 0);
	assert_true(json_integer_value(json_object_get(json_object_get(m, "snapshot"),
						       "gold_readmission_features")) >= 0);
	assert_int_equal(sh(NULL, "'%s' model score readmission --data '%s' --stays index --out "
			    "scored.csv 2>/dev/null", bin, data), 0);
	assert_same_scores(serving);
	/* the same record serving with the other model: a version of its own */
	json_object_set_new(json_object_get(m, "serving"), "model", json_string(other));
	json_object_set_new(m, "version", json_integer(2));
	assert_int_equal(sh(NULL, "cp -r '%s/models/readmission/v1' '%s/models/readmission/v2'", data,
			    data), 0);
	snprintf(path, sizeof(path), "%s/models/readmission/v2/model.json", data);
	assert_int_equal(json_dump_file(m, path, 0), 0);
	json_decref(m);
	assert_int_equal(sh(NULL, "'%s' model score readmission --data '%s' --stays index --model v2"
			    " --out scored.csv 2>/dev/null", bin, data), 0);
	assert_same_scores(other);
	/* an unknown set of stays is refused */
	assert_int_not_equal(sh(&out, "'%s' model score readmission --data '%s' --stays some 2>&1",
				bin, data), 0);
	assert_non_null(strstr(out, "index, current or all"));
	free(out);
}

static void test_stays_in_hospital_and_discharged(void **state)
{
	char start[40], end[40], since[40], sql[512];
	long n, scored, before;
	char *out;

	(void)state;
	before = query_long(data, "SELECT count(*) FROM gold_readmission_risk WHERE status ="
			    " 'discharged'");
	assert_true(before > 0);
	/* every discharged row is a stay discharged alive in the last 30 days
	 * (the cohort may also end with a stay in progress, on some days) */
	at(-30 * 86400 - 3600, since, sizeof(since));
	snprintf(sql, sizeof(sql), "SELECT count(*) FROM gold_readmission_risk WHERE status ="
		 " 'discharged' AND discharge_ts >= '%s' AND risk > 0 AND risk < 1"
		 " AND band IN ('low', 'medium', 'high') AND model_version = 1", since);
	assert_int_equal(query_long(data, sql), before);
	assert_int_equal(query_long(data, "SELECT count(*) FROM gold_readmission_risk WHERE"
				    " status NOT IN ('discharged', 'inpatient') OR (status ="
				    " 'inpatient' AND discharge_ts IS NOT NULL)"), 0);
	/* a stay in progress: features as of the refresh, scored by the ingest */
	at(-2 * 86400, start, sizeof(start));
	encounter("now-1", start, NULL);
	assert_int_equal(query_long(data, "SELECT count(*) FROM gold_readmission_features WHERE"
				    " stay_id = 'now-1' AND cohort = 'inpatient'"
				    " AND readmitted_30d IS NULL AND los_days > 1.9"), 1);
	assert_int_equal(query_long(data, "SELECT count(*) FROM gold_readmission_risk WHERE"
				    " stay_id = 'now-1' AND status = 'inpatient' AND"
				    " discharge_ts IS NULL AND ward = 'Ward-C' AND"
				    " json_array_length(factors) > 0"), 1);
	/* training never sees it */
	assert_int_equal(sh(&out, "'%s' model train readmission --data '%s' --format json", bin,
			    data), 0);
	{
		json_t *r = json_loads(out, 0, NULL), *c = json_object_get(r, "cohort");

		assert_non_null(r);
		assert_int_equal(json_integer_value(json_object_get(c, "stays")),
				 query_long(data, "SELECT count(*) FROM gold_readmission_features"
					    " WHERE cohort <> 'inpatient'"));
		json_decref(r);
	}
	free(out);
	/* `model score` of the current stays gives the table's rows */
	assert_int_equal(sh(NULL, "'%s' model score readmission --data '%s' --out current.csv"
			    " 2>/dev/null", bin, data), 0);
	assert_int_equal(sh(&out, "tail -n +2 current.csv | wc -l"), 0);
	scored = atol(out);
	free(out);
	n = query_long(data, "SELECT count(*) FROM gold_readmission_risk");
	assert_int_equal(scored, n);
	/* the discharge: the same stay, now discharged, scored at discharge */
	at(-3600, end, sizeof(end));
	encounter("now-1", start, end);
	snprintf(sql, sizeof(sql), "SELECT count(*) FROM gold_readmission_risk WHERE stay_id ="
		 " 'now-1' AND status = 'discharged' AND discharge_ts = '%s'", end);
	assert_int_equal(query_long(data, sql), 1);
}

/* GET path with a token: the status, and the body (freed by the caller). */
static long get(const struct server *s, const char *path, const char *token, const char *h,
		json_t **body)
{
	struct reply r = http_h(s, "GET", path, token, NULL, 0, h, NULL);
	long code = r.code;

	if (body)
		*body = json_loads(r.body, 0, NULL);
	free(r.body);
	return code;
}

static void test_api(void **state)
{
	char clin[128], ward_clin[128], pat[128], mgr[128];
	struct server s;
	json_t *b, *stay, *g;
	size_t i;
	long total = 0;

	(void)state;
	server_start(&s, bin, data, NULL);
	token_cli(data, clin, NULL, "issue --role clinician --name risk-clin");
	token_cli(data, ward_clin, NULL, "issue --role clinician --name risk-ward --ward Ward-D");
	token_cli(data, pat, NULL, "issue --role patient --name risk-pat --patient cohort-000002");
	token_cli(data, mgr, NULL, "issue --role manager --name risk-mgr");

	assert_int_equal(get(&s, "/api/v1/patients/cohort-000002/risk", clin, NULL, &b), 200);
	assert_string_equal(json_string_value(json_object_get(b, "patient_id")), "cohort-000002");
	stay = json_array_get(json_object_get(b, "stays"), 0);
	assert_string_equal(json_string_value(json_object_get(stay, "stay_id")), "now-1");
	assert_string_equal(json_string_value(json_object_get(stay, "status")), "discharged");
	assert_true(json_real_value(json_object_get(stay, "risk")) > 0);
	assert_non_null(strstr("low medium high", json_string_value(json_object_get(stay, "band"))));
	assert_true(json_array_size(json_object_get(stay, "factors")) > 0);
	assert_non_null(json_string_value(json_object_get(json_array_get(
		json_object_get(stay, "factors"), 0), "feature")));
	json_decref(b);
	/* outside a ward-bound clinician's wards: only by breaking the glass */
	assert_int_equal(get(&s, "/api/v1/patients/cohort-000002/risk", ward_clin, NULL, NULL), 403);
	assert_int_equal(get(&s, "/api/v1/patients/cohort-000002/risk", ward_clin,
			     "X-Break-Glass: discharge planning", NULL), 200);
	/* decision support for the care team: not the patient, not managers */
	assert_int_equal(get(&s, "/api/v1/patients/cohort-000002/risk", pat, NULL, NULL), 403);
	assert_int_equal(get(&s, "/api/v1/patients/cohort-000002/risk", mgr, NULL, NULL), 403);
	/* a patient with nothing scored: no stays */
	assert_int_equal(get(&s, "/api/v1/patients/nobody/risk", clin, NULL, &b), 200);
	assert_int_equal(json_array_size(json_object_get(b, "stays")), 0);
	json_decref(b);
	/* managers see counts, no patient */
	assert_int_equal(get(&s, "/api/v1/wards/all/readmission-risk", mgr, NULL, &b), 200);
	json_array_foreach(json_object_get(b, "groups"), i, g) {
		total += (long)json_integer_value(json_object_get(g, "stays"));
		assert_null(json_object_get(g, "patient_id"));
		assert_true(json_real_value(json_object_get(g, "expected_readmissions")) <=
			    (double)json_integer_value(json_object_get(g, "stays")));
	}
	assert_int_equal(total, query_long(data, "SELECT count(*) FROM gold_readmission_risk"));
	json_decref(b);
	assert_int_equal(get(&s, "/api/v1/wards/all/readmission-risk", clin, NULL, NULL), 403);
	/* rows about one patient are not KPIs */
	assert_int_equal(get(&s, "/api/v1/kpis/readmission_features", mgr, NULL, NULL), 404);
	assert_int_equal(get(&s, "/api/v1/kpis/readmission_risk", mgr, NULL, NULL), 404);
	assert_int_equal(get(&s, "/api/v1/kpis", mgr, NULL, &b), 200);
	{
		char *text = json_dumps(b, 0);

		assert_null(strstr(text, "readmission_features"));
		assert_null(strstr(text, "readmission_risk"));
		assert_non_null(strstr(text, "admissions_daily"));
		free(text);
	}
	json_decref(b);
	assert_int_equal(server_stop(&s), 0);
	/* every read of a patient's risk is in the audit trail, refusals too */
	{
		char *out;

		assert_int_equal(sh(&out, "'%s' audit query --data '%s' --patient cohort-000002"
				    " --format csv", bin, data), 0);
		assert_non_null(strstr(out, "readmission-risk"));
		assert_non_null(strstr(out, "discharge planning"));
		free(out);
	}
}

static void test_no_promoted_model(void **state)
{
	char path[600], *out;
	json_t *m;

	(void)state;
	snprintf(path, sizeof(path), "%s/models/readmission/PROMOTED", data);
	assert_int_equal(unlink(path), 0);
	/* the next refresh empties the table */
	assert_int_equal(sh(NULL, "'%s' refine --data '%s' --rebuild >/dev/null 2>&1", bin, data), 0);
	assert_int_equal(query_long(data, "SELECT count(*) FROM gold_readmission_risk"), 0);
	/* promoting a version that cannot serve is refused with the reason */
	assert_int_equal(sh(NULL, "cp -r '%s/models/readmission/v1' '%s/models/readmission/v90'",
			    data, data), 0);
	snprintf(path, sizeof(path), "%s/models/readmission/v90/model.json", data);
	m = json_load_file(path, 0, NULL);
	assert_non_null(m);
	json_object_del(m, "serving");
	assert_int_equal(json_dump_file(m, path, 0), 0);
	json_decref(m);
	assert_int_not_equal(sh(&out, "'%s' model promote v90 --data '%s' 2>&1", bin, data), 0);
	assert_non_null(strstr(out, "v90 cannot serve"));
	free(out);
	snprintf(path, sizeof(path), "%s/models/readmission/PROMOTED", data);
	assert_int_equal(access(path, F_OK), -1);
}

int main(int argc, char **argv)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_serving_is_training),
		cmocka_unit_test(test_stays_in_hospital_and_discharged),
		cmocka_unit_test(test_api),
		cmocka_unit_test(test_no_promoted_model),
	};

	if (argc < 2) {
		fprintf(stderr, "usage: %s /path/to/carelake\n", argv[0]);
		return 2;
	}
	bin = argv[1];
	SERVE_TEST_RUN_GROUP(tests, setup, NULL);
}
