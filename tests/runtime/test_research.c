/*
 * The researcher's view over HTTP (GET /api/v1/research[/{table}])
 * against `carelake serve` on the shared Synthea CSVs:
 * - only the roles with export-deidentified (admin, researcher) read it:
 *   a clinician, engineer or compliance token gets 403, no token 401;
 * - a table's rows are exactly those `carelake export --deidentify`
 *   writes with the same keys directory (same pseudonyms, same moved
 *   dates, same columns), so the two join;
 * - none of the source file's patient ids, names, SSNs or cities is in
 *   what is served;
 * - limit and offset page through the same order; a full page says where
 *   the next begins;
 * - withheld tables are 403, unknown ones 404, a bad limit 400.
 *
 * Usage: test_research /path/to/carelake SHARED_DATA_DIR
 */
#include "serve_helpers.h"
#include "cli_helpers.h"

#include "auth/cl_tokens.h"

#include <jansson.h>

static char data[270];
static char tok_researcher[128], tok_clinician[128], tok_engineer[128], tok_compliance[128];

static void issue(enum cl_role role, const char *name, char *out, size_t cap)
{
	struct cl_token_info spec = { 0 };

	spec.role = role;
	snprintf(spec.name, sizeof(spec.name), "%s", name);
	assert_int_equal(cl_tokens_issue(data, &spec, out, cap), 0);
}

/* GET path as token: the status, and the JSON body when code is 200. */
static json_t *get_json(const struct server *s, const char *path, const char *token, long code)
{
	struct reply r = http(s, "GET", path, token, NULL, 0);
	json_t *j = NULL;

	if (r.code != code)
		fail_msg("GET %s: %ld, expected %ld: %s", path, r.code, code, r.body);
	if (code == 200) {
		json_error_t err;

		j = json_loads(r.body, 0, &err);
		if (!j)
			fail_msg("GET %s: not JSON: %s", path, err.text);
	}
	free(r.body);
	return j;
}

/* The rows of an NDJSON file as one array. */
static json_t *ndjson_rows(const char *path)
{
	char *text = slurp(path), *line = text, *nl;
	json_t *rows = json_array();

	while ((nl = strchr(line, '\n'))) {
		*nl = '\0';
		json_array_append_new(rows, json_loads(line, 0, NULL));
		line = nl + 1;
	}
	free(text);
	return rows;
}

/* An array of objects keyed by their "id". */
static json_t *by_id(json_t *rows)
{
	json_t *m = json_object(), *row;
	size_t i;

	json_array_foreach(rows, i, row)
		json_object_set(m, json_string_value(json_object_get(row, "id")), row);
	return m;
}

/* No value of a column of the source CSV (its header names it; the file
 * has no quoted fields) is in body. (Dates are not searched: one moved
 * may land on another patient's own; runtime_deid checks them row by row.) */
static void csv_column_absent(const char *body, const char *file, const char *column)
{
	char path[600], line[8192];
	int col = -1, checked = 0;
	FILE *f;

	snprintf(path, sizeof(path), "%s/synthea-csv/%s", shared, file);
	assert_non_null(f = fopen(path, "r"));
	while (fgets(line, sizeof(line), f)) {
		char *rest = line, *field;
		line[strcspn(line, "\r\n")] = '\0';
		for (int i = 0; (field = strsep(&rest, ",")); i++) {
			if (col < 0 && strcmp(field, column) == 0)
				col = i;
			else if (i == col && strlen(field) >= 4) {
				if (strstr(body, field))
					fail_msg("%s's %s value %s is served", file, column, field);
				checked++;
			}
		}
	}
	fclose(f);
	assert_true(col >= 0);
	assert_true(checked > 10);
}

static void test_research(void **state)
{
	char csv[600], out[600];
	struct server s;
	struct result r;

	(void)state;
	unsetenv("CARELAKE_KEYS");
	snprintf(data, sizeof(data), "%s/data", dir);
	snprintf(csv, sizeof(csv), "%s/synthea-csv", shared);
	r = run(NULL, "ingest", "--data", data, csv, NULL);
	if (r.status != 0)
		fail_msg("ingest: %s", r.err);
	done(&r);
	/* tokens issued while serve runs act on its next request */
	server_start(&s, bin, data, NULL);
	issue(CL_ROLE_RESEARCHER, "study", tok_researcher, sizeof(tok_researcher));
	issue(CL_ROLE_CLINICIAN, "ward", tok_clinician, sizeof(tok_clinician));
	issue(CL_ROLE_ENGINEER, "ops", tok_engineer, sizeof(tok_engineer));
	issue(CL_ROLE_COMPLIANCE, "audit", tok_compliance, sizeof(tok_compliance));

	/* who may */
	json_t *list = get_json(&s, "/api/v1/research", tok_researcher, 200), *t;
	size_t i;
	int patient = 0;
	json_array_foreach(json_object_get(list, "tables"), i, t) {
		patient |= strcmp(json_string_value(t), "patient") == 0;
		assert_string_not_equal(json_string_value(t), "quarantine");
	}
	assert_true(patient);
	json_decref(list);
	json_decref(get_json(&s, "/api/v1/research", s.token, 200));
	get_json(&s, "/api/v1/research/patient", tok_clinician, 403);
	get_json(&s, "/api/v1/research/patient", tok_engineer, 403);
	get_json(&s, "/api/v1/research/patient", tok_compliance, 403);
	get_json(&s, "/api/v1/research", tok_clinician, 403);
	get_json(&s, "/api/v1/research/patient", NULL, 401);

	/* the rows export --deidentify writes, with the same keys */
	json_t *page = get_json(&s, "/api/v1/research/patient?limit=10000", tok_researcher, 200);
	json_t *rows = json_object_get(page, "rows");
	snprintf(out, sizeof(out), "%s/patient.ndjson", dir);
	r = run(NULL, "export", "--data", data, "--table", "patient", "--deidentify", "--format",
		"ndjson", "--out", out, NULL);
	if (r.status != 0)
		fail_msg("export: %s", r.err);
	done(&r);
	json_t *exported = ndjson_rows(out);
	assert_true(json_array_size(rows) >= 20);
	assert_int_equal(json_array_size(rows), json_array_size(exported));
	assert_null(json_object_get(page, "next_offset"));
	json_t *served_by_id = by_id(rows), *exported_by_id = by_id(exported);
	assert_int_equal(json_object_size(served_by_id), json_array_size(rows));
	if (!json_equal(served_by_id, exported_by_id))
		fail_msg("the served rows differ from export --deidentify's");
	assert_int_equal(json_array_size(json_object_get(page, "columns")),
			 json_object_size(json_array_get(exported, 0)));
	char *body = json_dumps(page, 0);
	csv_column_absent(body, "patients.csv", "Id");
	csv_column_absent(body, "patients.csv", "SSN");
	csv_column_absent(body, "patients.csv", "LAST");
	csv_column_absent(body, "patients.csv", "ADDRESS");
	free(body);

	/* paging: the same order, a page at a time */
	json_t *p2 = get_json(&s, "/api/v1/research/patient?limit=5&offset=5", tok_researcher, 200);
	assert_int_equal(json_array_size(json_object_get(p2, "rows")), 5);
	for (size_t k = 0; k < 5; k++)
		assert_true(json_equal(json_array_get(json_object_get(p2, "rows"), k),
				       json_array_get(rows, 5 + k)));
	assert_int_equal(json_integer_value(json_object_get(p2, "next_offset")), 10);
	json_decref(p2);

	/* other tables, and what is refused */
	json_t *obs = get_json(&s, "/api/v1/research/observation?limit=3", tok_researcher, 200);
	assert_int_equal(json_array_size(json_object_get(obs, "rows")), 3);
	json_decref(obs);
	get_json(&s, "/api/v1/research/quarantine", tok_researcher, 403);
	get_json(&s, "/api/v1/research/nosuch", tok_researcher, 404);
	json_t *dev = get_json(&s, "/api/v1/research/device", tok_researcher, 200);
	assert_int_equal(json_array_size(json_object_get(dev, "rows")), 0); /* loaded nothing */
	json_decref(dev);
	get_json(&s, "/api/v1/research/patient?limit=0", tok_researcher, 400);
	get_json(&s, "/api/v1/research/patient?limit=x", tok_researcher, 400);
	get_json(&s, "/api/v1/research/patient?offset=-1", tok_researcher, 400);

	json_decref(served_by_id);
	json_decref(exported_by_id);
	json_decref(exported);
	json_decref(page);
	assert_int_equal(server_stop(&s), 0);

	/* a store nothing was loaded into: not there yet */
	char fresh[300];
	snprintf(fresh, sizeof(fresh), "%s/fresh", dir);
	server_start(&s, bin, fresh, NULL);
	get_json(&s, "/api/v1/research/patient", s.token, 404);
	assert_int_equal(server_stop(&s), 0);
}

static const struct CMUnitTest tests[] = {
	cmocka_unit_test(test_research),
};

SERVE_TEST_MAIN(tests)
