/*
 * A researcher's FHIR Bulk Data export is de-identified (HIPAA Safe
 * Harbor), over the four Synthea bundles of the shared data, on a running
 * `carelake serve`:
 * - a researcher token kicks off /fhir/$export (and the Patient and Group
 *   levels), polls and reads its files; the manifest says de-identified;
 * - no name, telecom, address line, city, ZIP, identifier value, real
 *   resource id or narrative of the input appears anywhere in the files;
 *   every resource carries the REDACTED security label; every reference
 *   resolves among the exported (pseudonymous) ids;
 * - dates moved: each Encounter's start is the de-identified table's
 *   (GET /api/v1/research/encounter) for the same pseudonym, no start is
 *   its original instant, and the times of day are the originals' (whole
 *   days moved); the Patients are the table's patient pseudonyms, their
 *   birth dates a year;
 * - the files are valid R4 (medplum's validator, tests/fhirsearch);
 * - an admin's export of the same data is identified, and a researcher
 *   cannot read it; a researcher's filter on a name is refused; every FHIR
 *   read and search route refuses a researcher (403); the requests are in
 *   the audit trail;
 * - a de-identified job left unfinished by a stop runs at the next start,
 *   de-identified still.
 *
 * usage: runtime_fhir_deid_export /path/to/carelake /path/to/shared/data
 *        /path/to/tests/fhirsearch/ndjson_valid.mjs
 */
#include "fhir_helpers.h"

#include "core/cl_time.h"

static const char *valid_script;
static char data[300], researcher[128], researcher_id[32];
static struct server srv;
static json_t *secrets;    /* identifying strings of the input -> true */
static json_t *originals;  /* every original Encounter start, as an instant -> true */
static json_t *times_of_day; /* "HH:MM:SS" of the original starts -> count */

static const char *const bundles[] = {
	"Buster_Hoeger_ad2e3fc5-2b5d-4cb9-8d03-9ea0f4ac8423.json",
	"Clemente_Kreiger_1484a42d-0eaf-4654-9cbf-6b050a5cd73b.json",
	"Liz_Conn_27c911c6-f045-4ffa-af5d-6eba57ac94b2.json",
	"Ned_Hintz_e4b9259d-0f54-48d1-a35d-b526729a4dfe.json",
};

/* A string of the input that must not come out (5 characters or more, so
 * a state's code or a gender is not one). */
static void secret(const char *s)
{
	if (s && strlen(s) >= 5)
		json_object_set_new(secrets, s, json_true());
}

static void secret_strings(json_t *v)
{
	size_t k;
	json_t *e;

	if (json_is_string(v))
		secret(json_string_value(v));
	else if (json_is_array(v))
		json_array_foreach(v, k, e)
			secret_strings(e);
	else if (json_is_object(v)) {
		const char *key;

		json_object_foreach(v, key, e)
			secret_strings(e);
	}
}

static int64_t instant(const char *s)
{
	int64_t us = 0;

	assert_int_equal(cl_time_parse_rfc3339(s, strlen(s), &us), 0);
	return us;
}

/* What the input says that identifies: names, telecom, address lines,
 * cities and ZIP codes, identifier values, maiden names, the resources'
 * ids; and the Encounters' original starts. */
static void read_input(void)
{
	char path[1024], key[32], hms[16];

	secrets = json_object();
	originals = json_object();
	times_of_day = json_object();
	for (size_t b = 0; b < sizeof(bundles) / sizeof(bundles[0]); b++) {
		json_t *bundle, *e, *ext;
		size_t k, x;

		snprintf(path, sizeof(path), "%s/synthea-fhir/%s", shared, bundles[b]);
		bundle = json_load_file(path, 0, NULL);
		assert_non_null(bundle);
		json_array_foreach(json_object_get(bundle, "entry"), k, e) {
			json_t *res = json_object_get(e, "resource"), *a, *i;
			const char *type = json_string_value(json_object_get(res, "resourceType"));
			size_t n;

			secret(json_string_value(json_object_get(res, "id")));
			secret_strings(json_object_get(res, "name"));
			secret_strings(json_object_get(res, "telecom"));
			json_array_foreach(json_object_get(res, "address"), n, a) {
				secret_strings(json_object_get(a, "line"));
				secret(json_string_value(json_object_get(a, "city")));
				secret(json_string_value(json_object_get(a, "postalCode")));
			}
			json_array_foreach(json_object_get(res, "identifier"), n, i)
				secret(json_string_value(json_object_get(i, "value")));
			json_array_foreach(json_object_get(res, "extension"), x, ext)
				if (strstr(json_string_value(json_object_get(ext, "url")), "MaidenName"))
					secret(json_string_value(json_object_get(ext, "valueString")));
			if (strcmp(type, "Encounter") == 0) {
				const char *start = json_string_value(
					json_object_get(json_object_get(res, "period"), "start"));
				int64_t us = instant(start);
				char iso[40];

				snprintf(key, sizeof(key), "%lld", (long long)us);
				json_object_set_new(originals, key, json_true());
				cl_time_format_rfc3339(us, iso, sizeof(iso), 0);
				snprintf(hms, sizeof(hms), "%.8s", iso + 11);
				json_object_set_new(times_of_day, hms,
						    json_integer(json_integer_value(
							json_object_get(times_of_day, hms)) + 1));
			}
		}
		json_decref(bundle);
	}
	assert_true(json_object_size(secrets) > 100);
	assert_true(json_object_size(originals) > 10);
}

static int setup(void **state)
{
	char path[1024], cmd[2048];

	(void)state;
	snprintf(data, sizeof(data), "%s/data", dir);
	for (size_t i = 0; i < sizeof(bundles) / sizeof(bundles[0]); i++) {
		snprintf(path, sizeof(path), "%s/synthea-fhir/%s", shared, bundles[i]);
		snprintf(cmd, sizeof(cmd), "'%s' ingest --data '%s' '%s' >/dev/null 2>&1", bin, data,
			 path);
		assert_int_equal(system(cmd), 0);
	}
	server_start(&srv, bin, data, NULL);
	token_cli(data, researcher, researcher_id, "issue --role researcher --name deid-r");
	read_input();
	return 0;
}

static int teardown(void **state)
{
	(void)state;
	json_decref(secrets);
	json_decref(originals);
	json_decref(times_of_day);
	return server_stop(&srv);
}

/* ---- a job, as a client follows the IG ---- */

static void kick(const char *path, const char *token, char *status_url, size_t cap)
{
	struct reply r = http_h(&srv, "GET", path, token, NULL, 0, "Prefer: respond-async", NULL);
	const char *loc;

	if (r.code != 202)
		fail_msg("%s: %ld %s", path, r.code, r.body);
	loc = strstr(r.headers, "Content-Location: ");
	assert_non_null(loc);
	loc += strlen("Content-Location: ") + strlen(srv.url);
	snprintf(status_url, cap, "%.*s", (int)strcspn(loc, "\r\n"), loc);
	free(r.body);
}

static json_t *manifest_of(const char *status_url, const char *token)
{
	for (int i = 0; i < 1200; i++) {
		struct reply r = get(&srv, status_url, token, NULL);
		json_t *m;

		if (r.code == 202) {
			free(r.body);
			usleep(50 * 1000);
			continue;
		}
		if (r.code != 200)
			fail_msg("%s: %ld %s", status_url, r.code, r.body);
		m = json_loads(r.body, 0, NULL);
		free(r.body);
		assert_non_null(m);
		assert_true(json_is_true(json_object_get(m, "requiresAccessToken")));
		assert_int_equal(json_array_size(json_object_get(m, "error")), 0);
		return m;
	}
	fail_msg("%s: still running", status_url);
	return NULL;
}

/* Every file of the manifest, read with token, one after another (and
 * into dir/name for the validator): the lines, parsed. */
static json_t *files_of(json_t *m, const char *token, const char *name)
{
	json_t *all = json_array(), *item;
	char path[512];
	size_t k;
	FILE *f;

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	f = fopen(path, "w");
	assert_non_null(f);
	json_array_foreach(json_object_get(m, "output"), k, item) {
		const char *url = json_string_value(json_object_get(item, "url"));
		struct reply r = get(&srv, url + strlen(srv.url), token, NULL);
		long lines = 0;

		assert_int_equal(r.code, 200);
		fwrite(r.body, 1, r.len, f);
		for (char *line = r.body, *nl; *line; line = nl + 1, lines++) {
			json_t *res;

			nl = strchr(line, '\n');
			assert_non_null(nl);
			res = json_loadb(line, (size_t)(nl - line), 0, NULL);
			assert_non_null(res);
			json_array_append_new(all, res);
		}
		assert_int_equal(lines, json_integer_value(json_object_get(item, "count")));
		free(r.body);
	}
	fclose(f);
	return all;
}

static int has_label(json_t *res)
{
	json_t *s;
	size_t k;

	json_array_foreach(json_object_get(json_object_get(res, "meta"), "security"), k, s)
		if (!strcmp(json_string_value(json_object_get(s, "code")), "REDACTED") &&
		    !strcmp(json_string_value(json_object_get(s, "system")),
			    "http://terminology.hl7.org/CodeSystem/v3-ObservationValue"))
			return 1;
	return 0;
}

/* Fails on a string of the input anywhere in v, and counts the
 * references in v that name none of `ids`. */
static void no_secrets(json_t *v, json_t *ids, const char *key, long *dangling)
{
	size_t k;
	json_t *e;

	if (json_is_string(v)) {
		const char *s = json_string_value(v);
		const char *sk;
		json_t *t;

		if (json_object_get(secrets, s))
			fail_msg("an identifying string of the input came out (in %s)", key);
		json_object_foreach(secrets, sk, t)
			if (strlen(sk) >= 8 && strstr(s, sk))
				fail_msg("an identifying string of the input came out (in %s)", key);
		if (strstr(s, "<div"))
			fail_msg("narrative came out (in %s)", key);
		if (key && strcmp(key, "reference") == 0 && s[0] != '#' && !json_object_get(ids, s))
			(*dangling)++;
	} else if (json_is_array(v)) {
		json_array_foreach(v, k, e)
			no_secrets(e, ids, key, dangling);
	} else if (json_is_object(v)) {
		const char *kk;

		json_object_foreach(v, kk, e)
			no_secrets(e, ids, kk, dangling);
	}
}

/* "Type/id" of every resource. */
static json_t *ids_of(json_t *all)
{
	json_t *ids = json_object(), *res;
	size_t k;
	char key[200];

	json_array_foreach(all, k, res) {
		snprintf(key, sizeof(key), "%s/%s",
			 json_string_value(json_object_get(res, "resourceType")),
			 json_string_value(json_object_get(res, "id")));
		json_object_set_new(ids, key, json_true());
	}
	return ids;
}

static void validate(const char *name, long min)
{
	char cmd[2048];

	snprintf(cmd, sizeof(cmd), "node '%s' %ld '%s/%s'", valid_script, min, dir, name);
	print_message("%s", run_node(cmd, "valid.out", "the de-identified export is not valid R4 "
				     "(is @medplum/core installed in tests/fhirsearch?)"));
}

/* The de-identified table's rows of `table`, by their "id". */
static json_t *research_rows(const char *table)
{
	char path[200];
	struct reply r;
	json_t *j, *rows = json_object(), *row;
	size_t k;

	snprintf(path, sizeof(path), "/api/v1/research/%s?limit=10000", table);
	r = get(&srv, path, researcher, NULL);
	assert_int_equal(r.code, 200);
	j = json_loads(r.body, 0, NULL);
	free(r.body);
	assert_non_null(j);
	json_array_foreach(json_object_get(j, "rows"), k, row)
		json_object_set(rows, json_string_value(json_object_get(row, "id")), row);
	json_decref(j);
	return rows;
}

/* The checks of a de-identified export's resources: secrets, labels,
 * references, the table's pseudonyms and dates. */
static void check_deidentified(json_t *all)
{
	json_t *ids = ids_of(all), *enc = research_rows("encounter"), *pat = research_rows("patient");
	json_t *res, *tod = json_object();
	long dangling = 0, encounters = 0, patients = 0;
	const char *key;
	size_t k;

	assert_true(json_array_size(all) > 200);
	json_array_foreach(all, k, res) {
		const char *type = json_string_value(json_object_get(res, "resourceType"));
		const char *id = json_string_value(json_object_get(res, "id"));

		if (!has_label(res))
			fail_msg("%s without the REDACTED security label", type);
		assert_null(json_object_get(res, "identifier"));
		assert_null(json_object_get(res, "text"));
		assert_null(json_object_get(res, "telecom"));
		no_secrets(res, ids, NULL, &dangling);
		if (strcmp(type, "Patient") == 0) {
			json_t *row = json_object_get(pat, id);
			const char *birth = json_string_value(json_object_get(res, "birthDate"));

			assert_non_null(row); /* the table's pseudonym */
			assert_null(json_object_get(res, "name"));
			assert_int_equal(strlen(birth), 4);
			assert_memory_equal(birth, json_string_value(json_object_get(row, "birth_date")),
					    4);
			patients++;
		}
		if (strcmp(type, "Encounter") == 0) {
			const char *start = json_string_value(
				json_object_get(json_object_get(res, "period"), "start"));
			json_t *row = json_object_get(enc, id);
			char us[32], iso[40], hms[16];

			assert_non_null(row);
			/* the table's date for the same encounter, to the instant */
			assert_int_equal(instant(start),
					 instant(json_string_value(json_object_get(row, "start_ts"))));
			/* and never where it was */
			snprintf(us, sizeof(us), "%lld", (long long)instant(start));
			assert_null(json_object_get(originals, us));
			cl_time_format_rfc3339(instant(start), iso, sizeof(iso), 0);
			snprintf(hms, sizeof(hms), "%.8s", iso + 11);
			json_object_set_new(tod, hms, json_integer(json_integer_value(
							      json_object_get(tod, hms)) + 1));
			encounters++;
		}
	}
	assert_int_equal(patients, 4);
	assert_int_equal(encounters, (long)json_object_size(enc));
	/* moved by whole days: the times of day are the originals' */
	assert_int_equal(json_object_size(tod), json_object_size(times_of_day));
	json_object_foreach(tod, key, res)
		assert_int_equal(json_integer_value(res),
				 json_integer_value(json_object_get(times_of_day, key)));
	if (dangling)
		fail_msg("%ld references name no exported resource", dangling);
	json_decref(tod);
	json_decref(ids);
	json_decref(enc);
	json_decref(pat);
}

static void test_researcher_export(void **state)
{
	char status[300];
	json_t *m, *all, *ext;

	(void)state;
	kick("/fhir/$export", researcher, status, sizeof(status));
	m = manifest_of(status, researcher);
	ext = json_object_get(json_object_get(m, "extension"), "deidentified");
	assert_non_null(json_string_value(json_object_get(ext, "method")));
	assert_non_null(strstr(json_string_value(json_object_get(ext, "method")), "Safe Harbor"));
	all = files_of(m, researcher, "deid.ndjson");
	check_deidentified(all);
	validate("deid.ndjson", (long)json_array_size(all));
	json_decref(all);
	json_decref(m);

	/* the Patient level, typed and filtered by a code */
	kick("/fhir/Patient/$export?_type=Patient,Encounter,Observation"
	     "&_typeFilter=Observation%3Fcategory%3Dvital-signs", researcher, status, sizeof(status));
	m = manifest_of(status, researcher);
	all = files_of(m, researcher, "deid-patients.ndjson");
	assert_true(json_array_size(all) > 20);
	json_decref(all);
	json_decref(m);
	/* a filter that could pick out one person: refused */
	assert_int_equal(code_of(&srv, "/fhir/$export?_typeFilter=Patient%3Ffamily%3DHoeger",
				 researcher, "Prefer: respond-async"), 400);
	assert_int_equal(code_of(&srv, "/fhir/$export?_typeFilter=Encounter%3Fdate%3D2019",
				 researcher, "Prefer: respond-async"), 400);
}

static void test_admin_identified(void **state)
{
	char status[300], path[600];
	json_t *m, *all, *res, *item;
	size_t k;
	int hoeger = 0;

	(void)state;
	kick("/fhir/$export?_type=Patient,Encounter", srv.token, status, sizeof(status));
	m = manifest_of(status, srv.token);
	assert_null(json_object_get(m, "extension"));
	all = files_of(m, srv.token, "admin.ndjson");
	json_array_foreach(all, k, res) {
		json_t *n = json_array_get(json_object_get(res, "name"), 0);

		assert_false(has_label(res));
		if (n && !strcmp(json_string_value(json_object_get(n, "family")), "Hoeger"))
			hoeger++;
	}
	assert_int_equal(hoeger, 1);
	json_decref(all);
	/* the researcher does not read it, nor its files */
	assert_int_equal(code_of(&srv, status, researcher, NULL), 404);
	item = json_array_get(json_object_get(m, "output"), 0);
	snprintf(path, sizeof(path), "%s",
		 json_string_value(json_object_get(item, "url")) + strlen(srv.url));
	assert_int_equal(code_of(&srv, path, researcher, NULL), 404);
	assert_int_equal(code_of(&srv, path, srv.token, NULL), 200);
	json_decref(m);
}

/* No FHIR route but the export gives a researcher anything. */
static void test_researcher_refused(void **state)
{
	static const char *const paths[] = {
		"/fhir/Patient", "/fhir/Observation?code=8302-2", "/fhir/Encounter?_count=5",
		"/fhir/Patient/any", "/fhir/Patient/any/_history", "/fhir/Patient/any/_history/1",
		"/fhir/Patient/any/$everything", "/fhir/Patient/any/Observation", "/fhir/AuditEvent",
		"/api/v1/patients/any/vitals",
	};
	struct reply r;

	(void)state;
	for (size_t i = 0; i < sizeof(paths) / sizeof(paths[0]); i++) {
		long code = code_of(&srv, paths[i], researcher, NULL);

		if (code != 403)
			fail_msg("GET %s as a researcher: %ld, want 403", paths[i], code);
	}
	r = http_h(&srv, "POST", "/fhir/Patient/_search", researcher, "name=Hoeger", 11,
		   "Content-Type: application/x-www-form-urlencoded", NULL);
	assert_int_equal(r.code, 403);
	free(r.body);
}

/* The researcher's requests are in the trail, as every export is. */
static void test_audited(void **state)
{
	char path[200];
	struct reply r;
	json_t *b;
	long exports = 0;
	size_t k;
	json_t *e;

	(void)state;
	usleep(200 * 1000);
	snprintf(path, sizeof(path), "/fhir/AuditEvent?agent=%s&_count=1000", researcher_id);
	r = get(&srv, path, srv.token, NULL);
	assert_int_equal(r.code, 200);
	b = json_loads(r.body, 0, NULL);
	free(r.body);
	assert_non_null(b);
	json_array_foreach(json_object_get(b, "entry"), k, e) {
		const char *action = json_string_value(
			json_object_get(json_object_get(e, "resource"), "action"));

		exports += action && !strcmp(action, "E");
	}
	/* two kick-offs and two refused ones at least (and the reads) */
	assert_true(json_integer_value(json_object_get(b, "total")) > 10);
	assert_true(exports >= 2);
	json_decref(b);
}

/* A de-identified job left unfinished by a stop runs at the next start,
 * de-identified still. */
static void test_restart(void **state)
{
	char status[300], cmd[2000], req[700];
	json_t *m, *all, *rq;

	(void)state;
	kick("/fhir/$export?_type=Patient,Encounter", researcher, status, sizeof(status));
	m = manifest_of(status, researcher);
	json_decref(m);
	snprintf(req, sizeof(req), "%s/exports/%s/request.json", data,
		 strrchr(status, '/') + 1);
	rq = json_load_file(req, 0, NULL);
	assert_non_null(rq);
	assert_true(json_is_true(json_object_get(rq, "deidentified")));
	json_decref(rq);
	assert_int_equal(server_stop(&srv), 0);
	/* its request alone, as a stop mid-way leaves it */
	snprintf(cmd, sizeof(cmd), "mkdir -p %s/exports/00000000000000000000000000000def && cp %s "
		 "%s/exports/00000000000000000000000000000def/", data, req, data);
	assert_int_equal(system(cmd), 0);
	server_start(&srv, bin, data, NULL);
	m = manifest_of("/fhir/$export-status/00000000000000000000000000000def", researcher);
	assert_non_null(json_object_get(json_object_get(m, "extension"), "deidentified"));
	all = files_of(m, researcher, "restart.ndjson");
	assert_true(json_array_size(all) > 10);
	{
		json_t *ids = ids_of(all), *res;
		long dangling = 0;
		size_t k;

		json_array_foreach(all, k, res) {
			assert_true(has_label(res));
			no_secrets(res, ids, NULL, &dangling);
		}
		json_decref(ids);
	}
	json_decref(all);
	json_decref(m);
}

static const struct CMUnitTest tests[] = {
	cmocka_unit_test(test_researcher_export),
	cmocka_unit_test(test_admin_identified),
	cmocka_unit_test(test_researcher_refused),
	cmocka_unit_test(test_audited),
	cmocka_unit_test(test_restart),
};

int main(int argc, char **argv)
{
	if (argc < 4) {
		fprintf(stderr, "usage: %s /path/to/carelake /path/to/shared/data "
			"/path/to/tests/fhirsearch/ndjson_valid.mjs\n", argv[0]);
		return 2;
	}
	bin = argv[1];
	shared = argv[2];
	valid_script = argv[3];
	SERVE_TEST_RUN_GROUP(tests, setup, teardown);
}
