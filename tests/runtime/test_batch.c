/*
 * Batch loads end to end, through the carelake binary:
 * - data-driven cases (tests/data/batch/<case>/): each case's input files
 *   beside case.json, which says what the load must report, the rows a
 *   query must then return, what must be quarantined and why. Inputs too
 *   large to keep in the tree are made from case.json's "generate": file
 *   name -> {"text": PIECES} or {"xlsx": {"rows": PIECES, "shared":
 *   PIECES}} (a workbook around the sheet's <row> elements and the shared
 *   strings' <si> elements), PIECES being strings and {"repeat": "abc",
 *   "times": N} joined in order;
 * - the shared third-party material: all of synthea-fhir, synthea-csv and
 *   fhir-r4-examples with the right counts per table and no quarantine;
 * - loading the same files again changes nothing; refine --rebuild gives
 *   the same tables; query refuses anything that writes.
 *
 * Usage: test_batch /path/to/carelake CASES_DIR SHARED_DATA_DIR [rebuild]
 * (rebuild: the rebuild test alone, a ctest of its own)
 */
#include "cl_test.h"

#include <dirent.h>
#include <sqlite3.h>
#include <sys/stat.h>
#include <jansson.h>
#include <string.h>
#include <unistd.h>

static const char *bin, *cases, *shared;
static char dir[256];

#include "cli_helpers.h"
#include "cl_test_xlsx.h"
#include "batch/cl_silver.h"

static json_t *parse(const char *text)
{
	json_error_t err;
	json_t *j = json_loads(text, 0, &err);

	if (!j)
		fail_msg("not JSON (%s): %.400s", err.text, text);
	return j;
}

static json_t *query(const char *data, const char *sql)
{
	struct result r = run(NULL, "query", "--data", data, "--format", "json", sql, NULL);
	json_t *j;

	if (r.status != 0)
		fail_msg("query failed: %s: %s", sql, r.err);
	j = parse(r.out);
	done(&r);
	return j;
}

/* PIECES (see the top) joined, malloc'd and NUL-terminated; NULL for
 * NULL. */
static char *pieces(const json_t *p, size_t *len)
{
	size_t n = 0, i;
	const json_t *e;
	char *out;

	if (!p)
		return NULL;
	json_array_foreach(p, i, e)
		n += json_is_string(e) ? json_string_length(e)
				       : strlen(json_string_value(json_object_get(e, "repeat"))) *
						 (size_t)json_integer_value(json_object_get(e, "times"));
	out = malloc(n + 1);
	assert_non_null(out);
	n = 0;
	json_array_foreach(p, i, e) {
		if (json_is_string(e)) {
			memcpy(out + n, json_string_value(e), json_string_length(e));
			n += json_string_length(e);
			continue;
		}
		for (json_int_t k = 0; k < json_integer_value(json_object_get(e, "times")); k++) {
			const char *r = json_string_value(json_object_get(e, "repeat"));

			memcpy(out + n, r, strlen(r));
			n += strlen(r);
		}
	}
	out[n] = '\0';
	if (len)
		*len = n;
	return out;
}

/* Makes the file `spec` describes (see the top) at path. */
static void generate(const char *path, const json_t *spec)
{
	const json_t *x = json_object_get(spec, "xlsx");
	char *data;
	size_t len;
	FILE *f;

	if (x) {
		char *rows = pieces(json_object_get(x, "rows"), NULL);
		char *sst = pieces(json_object_get(x, "shared"), NULL);

		data = cl_test_xlsx(rows, sst, NULL, 0, &len);
		assert_non_null(data);
		free(rows);
		free(sst);
	} else {
		data = pieces(json_object_get(spec, "text"), &len);
	}
	f = fopen(path, "wb");
	assert_non_null(f);
	assert_int_equal(fwrite(data, 1, len, f), len);
	assert_int_equal(fclose(f), 0);
	free(data);
}

static int cmp_name(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* source_rows, kept change by change, must equal the rows counted now:
 * every silver table's rows by _source, the quarantine's and the
 * warnings' by source. */
static void check_source_rows(const char *data)
{
	static const char *const tables[] = { "patient", "practitioner", "organization",
					      "encounter", "observation", "condition",
					      "medication_request", "procedure", "staff", "shift",
					      "booking", "communication", "survey_response",
					      "device" };
	char sql[4096];
	size_t n = 0;
	json_t *want, *got;

	n += (size_t)snprintf(sql + n, sizeof(sql) - n, "SELECT t AS table_name, s AS source, c AS rows"
			      " FROM (SELECT 'quarantine' AS t, source AS s, count(*) AS c FROM"
			      " quarantine GROUP BY 2 UNION ALL SELECT 'quality_warning', source,"
			      " count(*) FROM quality_warning WHERE source IS NOT NULL GROUP BY 2");
	for (size_t i = 0; i < sizeof(tables) / sizeof(tables[0]); i++)
		n += (size_t)snprintf(sql + n, sizeof(sql) - n, " UNION ALL SELECT '%s', _source,"
				      " count(*) FROM %s GROUP BY 2", tables[i], tables[i]);
	snprintf(sql + n, sizeof(sql) - n, ") ORDER BY 1, 2");
	want = query(data, sql);
	got = query(data, "SELECT table_name, source, rows FROM source_rows ORDER BY 1, 2");
	if (!json_equal(want, got)) {
		char *a = json_dumps(want, JSON_COMPACT), *b = json_dumps(got, JSON_COMPACT);

		fail_msg("%s: source_rows\n  counted %s\n  kept    %s", data, a, b);
	}
	json_decref(want);
	json_decref(got);
}

static void run_case(const char *name)
{
	char cdir[600], data[600], path[900], *files[16];
	const char *args[40];
	int nfiles = 0, na = 0;
	json_t *c, *sum, *want, *got;
	struct result r;
	DIR *d;
	struct dirent *de;

	snprintf(cdir, sizeof(cdir), "%s/%s", cases, name);
	snprintf(path, sizeof(path), "%s/case.json", cdir);
	{
		char *text = slurp(path);

		c = parse(text);
		free(text);
	}
	d = opendir(cdir);
	assert_non_null(d);
	while ((de = readdir(d)) && nfiles < 16) {
		if (de->d_name[0] == '.' || strcmp(de->d_name, "case.json") == 0)
			continue;
		files[nfiles] = malloc(strlen(cdir) + strlen(de->d_name) + 2);
		sprintf(files[nfiles++], "%s/%s", cdir, de->d_name);
	}
	closedir(d);
	{
		const char *fname;
		json_t *spec;
		char gdir[700];

		snprintf(gdir, sizeof(gdir), "%s/made-%s", dir, name);
		json_object_foreach(json_object_get(c, "generate"), fname, spec) {
			if (nfiles == 16)
				break;
			mkdir(gdir, 0700);
			files[nfiles] = malloc(strlen(gdir) + strlen(fname) + 2);
			sprintf(files[nfiles], "%s/%s", gdir, fname);
			generate(files[nfiles++], spec);
		}
	}
	qsort(files, (size_t)nfiles, sizeof(files[0]), cmp_name);
	snprintf(data, sizeof(data), "%s/case-%s", dir, name);
	args[na++] = "ingest";
	args[na++] = "--data";
	args[na++] = data;
	args[na++] = "--json";
	{
		size_t i;
		json_t *a;

		json_array_foreach(json_object_get(c, "args"), i, a)
			args[na++] = json_string_value(a);
	}
	for (int i = 0; i < nfiles; i++)
		args[na++] = files[i];
	args[na] = NULL;
	assert_true(na < 40);
	r = run_argv(NULL, args);
	if (r.status != (int)json_integer_value(json_object_get(c, "exit")))
		fail_msg("case %s: exit %d, want %lld: %s", name, r.status,
			 json_integer_value(json_object_get(c, "exit")), r.err);
	{
		size_t i;
		json_t *s;

		json_array_foreach(json_object_get(c, "stderr_has"), i, s)
			if (!strstr(r.err, json_string_value(s)))
				fail_msg("case %s: stderr lacks '%s': %s", name, json_string_value(s),
					 r.err);
	}
	sum = parse(r.out);
	{
		const char *key;
		json_t *v;

		json_object_foreach(json_object_get(c, "summary"), key, v)
			if (json_integer_value(json_object_get(sum, key)) != json_integer_value(v))
				fail_msg("case %s: %s is %lld, want %lld (%s)", name, key,
					 json_integer_value(json_object_get(sum, key)),
					 json_integer_value(v), r.out);
	}
	done(&r);
	want = json_object_get(c, "rows");
	got = query(data, json_string_value(json_object_get(c, "query")));
	if (!json_equal(want, got)) {
		char *a = json_dumps(want, JSON_COMPACT), *b = json_dumps(got, JSON_COMPACT);

		fail_msg("case %s: rows\n  want %s\n  got  %s", name, a, b);
	}
	json_decref(got);
	got = query(data, "SELECT record, reason FROM quarantine ORDER BY id");
	{
		json_t *q = json_object_get(c, "quarantine"), *e;
		size_t i;

		if (json_array_size(got) != json_array_size(q))
			fail_msg("case %s: %zu quarantined, want %zu", name, json_array_size(got),
				 json_array_size(q));
		json_array_foreach(q, i, e) {
			json_t *row = json_array_get(got, i);
			const char *rec = json_string_value(json_object_get(row, "record"));

			if (!rec || strcmp(rec, json_string_value(json_object_get(e, "record"))) ||
			    !strstr(json_string_value(json_object_get(row, "reason")),
				    json_string_value(json_object_get(e, "reason_has"))))
				fail_msg("case %s: quarantine %zu is %s / %s", name, i, rec,
					 json_string_value(json_object_get(row, "reason")));
		}
	}
	json_decref(got);
	check_source_rows(data);
	json_decref(sum);
	json_decref(c);
	for (int i = 0; i < nfiles; i++)
		free(files[i]);
}

static void test_cases(void **state)
{
	DIR *d = opendir(cases);
	struct dirent *de;
	int n = 0;

	(void)state;
	assert_non_null(d);
	while ((de = readdir(d))) {
		if (de->d_name[0] == '.')
			continue;
		run_case(de->d_name);
		n++;
	}
	closedir(d);
	assert_true(n >= 10);
}

/* Every silver row, less what differs by run: a fingerprint of the tables. */
static char *tables_digest(const char *data)
{
	static const char *const tables[] = { "patient", "practitioner", "organization",
					      "encounter", "observation", "condition",
					      "medication_request", "procedure" };
	json_t *all = json_object();
	char *out;

	for (size_t i = 0; i < sizeof(tables) / sizeof(tables[0]); i++) {
		char sql[300];

		snprintf(sql, sizeof(sql), "SELECT id, _hash, _source, (SELECT file FROM lineage_file"
			 " WHERE id = _file_id) AS _bronze_file, _record FROM %s ORDER BY id",
			 tables[i]);
		json_object_set_new(all, tables[i], query(data, sql));
	}
	json_object_set_new(all, "quarantine",
			    query(data, "SELECT table_name, bronze_file, record, reason FROM "
					"quarantine ORDER BY bronze_file, record"));
	out = json_dumps(all, JSON_COMPACT | JSON_SORT_KEYS);
	json_decref(all);
	return out;
}

static long count(const char *data, const char *sql)
{
	json_t *j = query(data, sql);
	long n = (long)json_integer_value(json_object_get(json_array_get(j, 0), "n"));

	json_decref(j);
	return n;
}

static void test_shared_material(void **state)
{
	static const struct {
		const char *table;
		long rows;
	} want[] = {
		/* synthea-csv + synthea-fhir (4 patients) + fhir-r4-examples */
		{ "patient", 27 + 4 + 1 + 5 },       /* the transaction example holds 5 */
		{ "practitioner", 166 + 4 + 1 },
		{ "organization", 63 + 3 - 1 },     /* 4 in the FHIR, one of them twice;
						      * the CSV and FHIR share one id */
		{ "encounter", 604 + 22 + 1 },
		{ "observation", 990 + 165 + 7 },   /* FHIR: one row per value or component */
		{ "condition", 438 + 8 + 1 },
		{ "medication_request", 4 + 1 },
		{ "procedure", 5 },
	};
	char data[400], fhir[600], csv[600], ex[600], *before, *after;
	struct result r;
	json_t *sum;

	(void)state;
	snprintf(data, sizeof(data), "%s/shared", dir);
	snprintf(fhir, sizeof(fhir), "%s/synthea-fhir", shared);
	snprintf(csv, sizeof(csv), "%s/synthea-csv", shared);
	snprintf(ex, sizeof(ex), "%s/fhir-r4-examples", shared);
	r = run(NULL, "ingest", "--data", data, "--json", fhir, csv, ex, NULL);
	if (r.status != 0)
		fail_msg("ingest: %s", r.err);
	sum = parse(r.out);
	assert_int_equal(json_integer_value(json_object_get(sum, "files")), 4 + 6 + 12);
	assert_int_equal(json_integer_value(json_object_get(sum, "quarantined")), 0);
	/* Claims, EOBs, immunizations, reports, a care plan; a Medication and
	 * a Parameters among the examples: counted, kept in bronze */
	assert_int_equal(json_integer_value(json_object_get(sum, "other_resources")), 77 + 2);
	/* the searchset example's MedicationRequest names Patient/347 */
	assert_int_equal(json_integer_value(json_object_get(sum, "warnings")), 1);
	json_decref(sum);
	done(&r);
	for (size_t i = 0; i < sizeof(want) / sizeof(want[0]); i++) {
		char sql[200];

		snprintf(sql, sizeof(sql), "SELECT count(*) AS n FROM %s", want[i].table);
		if (count(data, sql) != want[i].rows)
			fail_msg("%s has %ld rows, want %ld", want[i].table, count(data, sql),
				 want[i].rows);
	}
	/* urn:uuid references came out as the ids they name */
	assert_int_equal(count(data, "SELECT count(*) AS n FROM encounter WHERE patient_id NOT IN "
				     "(SELECT id FROM patient)"), 0);
	assert_int_equal(count(data, "SELECT count(*) AS n FROM observation WHERE _source = "
				     "'fhir-files' AND encounter_id IS NOT NULL AND encounter_id NOT IN "
				     "(SELECT id FROM encounter)"), 0);
	/* lineage: every row knows its bronze file, and the file is there */
	assert_int_equal(count(data, "SELECT count(*) AS n FROM observation WHERE _file_id NOT IN"
				     " (SELECT l.id FROM lineage_file l JOIN bronze_file b ON"
				     " b.hash = l.file)"), 0);
	check_source_rows(data);

	/* the same files again: nothing changes */
	before = tables_digest(data);
	r = run(NULL, "ingest", "--data", data, "--json", fhir, csv, ex, NULL);
	assert_int_equal(r.status, 0);
	sum = parse(r.out);
	assert_int_equal(json_integer_value(json_object_get(sum, "unchanged")), 22);
	assert_int_equal(json_integer_value(json_object_get(sum, "accepted")), 0);
	json_decref(sum);
	done(&r);
	after = tables_digest(data);
	assert_string_equal(before, after);
	free(after);

	/* rebuilt from bronze: the same tables */
	r = run(NULL, "refine", "--data", data, "--rebuild", "--json", NULL);
	if (r.status != 0)
		fail_msg("refine --rebuild: %s", r.err);
	sum = parse(r.out);
	assert_int_equal(json_integer_value(json_object_get(sum, "loaded")), 22);
	json_decref(sum);
	done(&r);
	after = tables_digest(data);
	assert_string_equal(before, after);
	check_source_rows(data);
	free(after);
	free(before);
}

static void test_query_is_read_only(void **state)
{
	static const char *const refused[] = {
		"DELETE FROM patient", "UPDATE patient SET gender = 'x'",
		"INSERT INTO patient(id) VALUES ('y')", "DROP TABLE patient",
		"CREATE TABLE t(x)", "ATTACH '/tmp/x.db' AS x", "PRAGMA journal_mode = DELETE",
		"SELECT 1; DELETE FROM patient",
	};
	char data[400], src[600];
	struct result r;

	(void)state;
	snprintf(data, sizeof(data), "%s/ro", dir);
	snprintf(src, sizeof(src), "%s/fhir-r4-examples/Patient-example.json", shared);
	r = run(NULL, "ingest", "--data", data, src, NULL);
	assert_int_equal(r.status, 0);
	done(&r);
	for (size_t i = 0; i < sizeof(refused) / sizeof(refused[0]); i++) {
		r = run(NULL, "query", "--data", data, refused[i], NULL);
		if (r.status != 2 || (!strstr(r.err, "only reading is allowed") &&
				      !strstr(r.err, "one statement at a time")))
			fail_msg("'%s' was not refused: %d %s", refused[i], r.status, r.err);
		done(&r);
	}
	assert_int_equal(count(data, "SELECT count(*) AS n FROM patient"), 1);
	r = run(NULL, "query", "--data", data, "--format", "csv",
		"SELECT id, name FROM patient", NULL);
	assert_int_equal(r.status, 0);
	assert_string_equal(r.out, "id,name\nexample,Peter James Chalmers\n");
	done(&r);
	r = run(NULL, "query", "--data", data, "SELECT nope FROM patient", NULL);
	assert_int_equal(r.status, 2);
	assert_non_null(strstr(r.err, "no such column: nope"));
	done(&r);
}

/* Device events and FHIR posts, from their bronze logs, land in
 * observation too, each row knowing its log and offset; a second refine
 * adds nothing; a rebuild gives the same rows. */
static void test_logs_into_silver(void **state)
{
	char data[400], events[400], fhir[400], *before, *after;
	struct result r;
	json_t *rows, *sum;
	FILE *f;

	(void)state;
	snprintf(data, sizeof(data), "%s/logs", dir);
	snprintf(events, sizeof(events), "%s/events.ndjson", dir);
	snprintf(fhir, sizeof(fhir), "%s/fhir.ndjson", dir);
	f = fopen(events, "w");
	fprintf(f, "{\"id\":\"e1\",\"device_id\":\"m1\",\"patient_id\":\"p1\","
		   "\"ts\":\"2026-11-20T10:00:00Z\",\"type\":\"heart_rate\",\"value\":72,"
		   "\"unit\":\"/min\"}\n"
		   "{\"device_id\":\"m1\",\"patient_id\":\"p1\",\"ts\":\"2026-11-20T10:00:05Z\","
		   "\"code\":\"8310-5\",\"value\":99.5,\"unit\":\"[degF]\"}\n"
		   "{\"device_id\":\"m1\",\"patient_id\":\"p1\",\"type\":\"heart_rate\"}\n");
	fclose(f);
	f = fopen(fhir, "w");
	fprintf(f, "{\"resourceType\":\"Observation\",\"id\":\"f1\",\"status\":\"final\","
		   "\"code\":{\"coding\":[{\"system\":\"http://loinc.org\",\"code\":\"59408-5\"}]},"
		   "\"subject\":{\"reference\":\"Patient/p1\"},\"effectiveDateTime\":"
		   "\"2026-11-20T10:01:00Z\",\"valueQuantity\":{\"value\":0.95,\"unit\":\"1\"}}\n");
	fclose(f);
	r = run(events, "bronze", "append", "--data", data, "--source", "vitals", NULL);
	assert_int_equal(r.status, 0);
	done(&r);
	r = run(fhir, "bronze", "append", "--data", data, "--source", "fhir", NULL);
	assert_int_equal(r.status, 0);
	done(&r);

	r = run(NULL, "refine", "--data", data, "--json", NULL);
	if (r.status != 0)
		fail_msg("refine: %s", r.err);
	sum = parse(r.out);
	assert_int_equal(json_integer_value(json_object_get(sum, "accepted")), 3);
	/* the third event lacks its value and time: quarantined, with why */
	assert_int_equal(json_integer_value(json_object_get(sum, "quarantined")), 1);
	json_decref(sum);
	done(&r);
	rows = query(data, "SELECT id, resource_id, patient_id, device_id, code, round(value, 2) AS"
			   " value, unit, effective_ts, source, _source, (SELECT file FROM lineage_file"
			   " WHERE id = _file_id) AS _bronze_file, _record FROM observation ORDER BY id");
	{
		json_t *want = parse(
			"[{\"id\":\"f1\",\"resource_id\":\"f1\",\"patient_id\":\"p1\","
			"\"device_id\":null,\"code\":\"59408-5\",\"value\":95.0,\"unit\":\"%\","
			"\"effective_ts\":\"2026-11-20T10:01:00Z\",\"source\":\"fhir\",\"_source\":"
			"\"fhir\",\"_bronze_file\":\"log:fhir\",\"_record\":\"offset 0\"},"
			"{\"id\":\"vitals:0\",\"resource_id\":\"e1\",\"patient_id\":\"p1\","
			"\"device_id\":\"m1\",\"code\":\"8867-4\",\"value\":72.0,\"unit\":\"/min\","
			"\"effective_ts\":\"2026-11-20T10:00:00.000Z\",\"source\":\"device\","
			"\"_source\":\"vitals\",\"_bronze_file\":\"log:vitals\",\"_record\":\"offset 0\"},"
			"{\"id\":\"vitals:1\",\"resource_id\":\"vitals:1\",\"patient_id\":\"p1\","
			"\"device_id\":\"m1\",\"code\":\"8310-5\",\"value\":37.5,\"unit\":\"Cel\","
			"\"effective_ts\":\"2026-11-20T10:00:05.000Z\",\"source\":\"device\","
			"\"_source\":\"vitals\",\"_bronze_file\":\"log:vitals\",\"_record\":\"offset 1\"}]");

		if (!json_equal(want, rows)) {
			char *a = json_dumps(rows, JSON_COMPACT);

			fail_msg("device and FHIR-post observations: %s", a);
		}
		json_decref(want);
	}
	json_decref(rows);
	before = tables_digest(data);
	/* nothing new: nothing refined */
	r = run(NULL, "refine", "--data", data, "--json", NULL);
	assert_int_equal(r.status, 0);
	sum = parse(r.out);
	assert_int_equal(json_integer_value(json_object_get(sum, "records")), 0);
	json_decref(sum);
	done(&r);
	r = run(NULL, "refine", "--data", data, "--rebuild", NULL);
	assert_int_equal(r.status, 0);
	done(&r);
	after = tables_digest(data);
	assert_string_equal(before, after);
	free(before);
	free(after);
}

/* carelake generate: a hospital in every format that loads with no
 * quarantine, whose counts match what it says it wrote, the same for the
 * same seed, with the simulator's patient and device ids. */
static void test_generate(void **state)
{
	char out1[400], out2[400], data[400], cmd[1400];
	struct result r;
	long patients, encounters, shifts;
	json_t *sum;

	(void)state;
	snprintf(out1, sizeof(out1), "%s/gen1", dir);
	snprintf(out2, sizeof(out2), "%s/gen2", dir);
	snprintf(data, sizeof(data), "%s/gen-data", dir);
	r = run(NULL, "generate", "--out", out1, "--patients", "30", "--seed", "3", NULL);
	assert_int_equal(r.status, 0);
	assert_int_equal(sscanf(strstr(r.out, ": ") + 2, "%ld patients", &patients), 1);
	assert_int_equal(patients, 30);
	assert_int_equal(sscanf(strstr(r.out, "practitioners, ") + 15, "%ld encounters", &encounters),
			 1);
	assert_int_equal(sscanf(strstr(r.out, "staff, ") + 7, "%ld shifts", &shifts), 1);
	done(&r);
	usleep(2100000); /* past a zip timestamp's 2-second step: the clock must not show */
	r = run(NULL, "generate", "--out", out2, "--patients", "30", "--seed", "3", NULL);
	assert_int_equal(r.status, 0);
	done(&r);
	snprintf(cmd, sizeof(cmd), "diff -r '%s' '%s' > /dev/null", out1, out2);
	assert_int_equal(system(cmd), 0); /* the same seed, the same hospital */

	r = run(NULL, "ingest", "--data", data, "--json", out1, NULL);
	if (r.status != 0)
		fail_msg("ingest of the generated hospital: %s", r.err);
	sum = parse(r.out);
	assert_int_equal(json_integer_value(json_object_get(sum, "files")), 8);
	assert_int_equal(json_integer_value(json_object_get(sum, "quarantined")), 0);
	assert_int_equal(json_integer_value(json_object_get(sum, "warnings")), 0);
	/* the spreadsheet holds the same patients as the FHIR file, field for field */
	assert_int_equal(json_integer_value(json_object_get(sum, "duplicates")), 30);
	json_decref(sum);
	done(&r);
	assert_int_equal(count(data, "SELECT count(*) AS n FROM patient"), 30);
	assert_int_equal(count(data, "SELECT count(*) AS n FROM encounter"), encounters);
	assert_int_equal(count(data, "SELECT count(*) AS n FROM shift"), shifts);
	assert_int_equal(count(data, "SELECT count(*) AS n FROM device WHERE id = 'monitor-0001' AND "
				     "patient_id = 'patient-0001'"), 1);
	assert_true(count(data, "SELECT count(*) AS n FROM gold_admissions_daily") > 0);
	assert_true(count(data, "SELECT count(*) AS n FROM gold_staffing WHERE coverage > 0") > 0);
	assert_true(count(data, "SELECT count(*) AS n FROM gold_bookings_daily") > 0);
	assert_true(count(data, "SELECT count(*) AS n FROM gold_survey_monthly") > 0);
	assert_int_equal(count(data, "SELECT count(*) AS n FROM booking WHERE channel NOT IN "
				     "('call', 'email', 'sms', 'online')"), 0);
	r = run(NULL, "generate", "--patients", "3", NULL);
	assert_int_equal(r.status, 2);
	assert_non_null(strstr(r.err, "--out DIR is required"));
	done(&r);
}

/* Expectations that cannot work are refused before anything loads. */
static void test_bad_expectations(void **state)
{
	char data[400], src[600];
	struct result r;

	(void)state;
	snprintf(data, sizeof(data), "%s/bad-expect", dir);
	snprintf(src, sizeof(src), "%s/fhir-r4-examples/Patient-example.json", shared);
	r = run(NULL, "ingest", "--data", data, "--set", "expect.patient.broken.check=gender IN (",
		src, NULL);
	assert_int_equal(r.status, 2);
	assert_non_null(strstr(r.err, "expect.patient.broken.check:"));
	done(&r);
	r = run(NULL, "ingest", "--data", data, "--set", "expect.patients.x.check=1", src, NULL);
	assert_int_equal(r.status, 2);
	assert_non_null(strstr(r.err, "there is no silver table 'patients'"));
	done(&r);
	r = run(NULL, "ingest", "--data", data, "--set", "expect.patient.x.action=shrug", src, NULL);
	assert_int_equal(r.status, 2);
	assert_non_null(strstr(r.err, "must be warn, drop, quarantine or fail"));
	done(&r);
	r = run(NULL, "ingest", "--data", data, "--set", "expect.patient.x.action=warn", src, NULL);
	assert_int_equal(r.status, 2);
	assert_non_null(strstr(r.err, "expect.patient.x: an expectation needs .check"));
	done(&r);
	r = run(NULL, "ingest", "--data", data, "--set", "expect.patient.x.check=nosuchcolumn > 1",
		src, NULL);
	assert_int_equal(r.status, 2);
	assert_non_null(strstr(r.err, "no such column: nosuchcolumn"));
	done(&r);
	/* mappings: a required column left out, a kind that does not exist */
	r = run(NULL, "ingest", "--data", data, "--set", "mappings.m.table=encounter", "--set",
		"mappings.m.columns.id=X", src, NULL);
	assert_int_equal(r.status, 2);
	assert_non_null(strstr(r.err, "encounter.patient_id is required"));
	done(&r);
	r = run(NULL, "ingest", "--data", data, "--set", "mappings.m.columns.id=X as colour", src,
		NULL);
	assert_int_equal(r.status, 2);
	assert_non_null(strstr(r.err, "'colour' is not a kind"));
	done(&r);
	r = run(NULL, "ingest", "--data", data, "--set", "mappings.synthea-patients.table=patient",
		src, NULL);
	assert_int_equal(r.status, 2);
	assert_non_null(strstr(r.err, "a built-in mapping has that name"));
	done(&r);
}

/* verify checks the original files bronze keeps against their hashes;
 * a rebuild refuses a file that changed. */
static void test_verify_files(void **state)
{
	char data[400], src[600], stored[900];
	struct result r;
	json_t *j;
	FILE *f;

	(void)state;
	snprintf(data, sizeof(data), "%s/verify-files", dir);
	snprintf(src, sizeof(src), "%s/fhir-r4-examples/Patient-example.json", shared);
	r = run(NULL, "ingest", "--data", data, src, NULL);
	assert_int_equal(r.status, 0);
	done(&r);
	r = run(NULL, "verify", "--data", data, "--json", NULL);
	assert_int_equal(r.status, 0);
	j = parse(r.out);
	assert_int_equal(json_integer_value(json_object_get(j, "files")), 1);
	assert_int_equal(json_integer_value(json_object_get(j, "corrupt_files")), 0);
	json_decref(j);
	done(&r);
	j = query(data, "SELECT path FROM bronze_file");
	snprintf(stored, sizeof(stored), "%s/%s", data,
		 json_string_value(json_object_get(json_array_get(j, 0), "path")));
	json_decref(j);
	chmod(stored, 0640);
	f = fopen(stored, "a");
	assert_non_null(f);
	fputs(" ", f);
	fclose(f);
	r = run(NULL, "verify", "--data", data, NULL);
	assert_int_equal(r.status, 1);
	assert_non_null(strstr(r.out, "no longer matches its hash"));
	assert_non_null(strstr(r.out, "CORRUPT"));
	done(&r);
	r = run(NULL, "refine", "--data", data, "--rebuild", NULL);
	assert_int_equal(r.status, 1);
	assert_non_null(strstr(r.err, "no longer matches its hash"));
	done(&r);
}

/* A store from before quality_warning named its source: the next load
 * fills it in from the rows, and gold_data_quality counts them again. */
static void test_warning_source_added(void **state)
{
	char data[400], src[600], db[500];
	struct result r;
	sqlite3 *h;
	json_t *j;

	(void)state;
	snprintf(data, sizeof(data), "%s/old-warnings", dir);
	snprintf(src, sizeof(src), "%s/ref-drop/input.json", cases);
	r = run(NULL, "ingest", "--data", data, src, NULL);
	assert_int_equal(r.status, 0);
	done(&r);
	snprintf(db, sizeof(db), "%s/carelake.db", data);
	assert_int_equal(sqlite3_open(db, &h), SQLITE_OK);
	assert_int_equal(sqlite3_exec(h, "ALTER TABLE quality_warning DROP COLUMN source;"
				      "UPDATE gold_data_quality SET warnings = 0", NULL, NULL, NULL),
			 SQLITE_OK);
	sqlite3_close(h);
	snprintf(src, sizeof(src), "%s/expect-warn/patients.csv", cases);
	r = run(NULL, "ingest", "--data", data, src, NULL);
	assert_int_equal(r.status, 0);
	done(&r);
	j = query(data, "SELECT table_name, source FROM quality_warning ORDER BY 1");
	assert_int_equal(json_array_size(j), 1);
	assert_string_equal(json_string_value(json_object_get(json_array_get(j, 0), "source")),
			    "fhir-files");
	json_decref(j);
	assert_int_equal(count(data, "SELECT warnings AS n FROM gold_data_quality WHERE source = "
				     "'fhir-files'"), 1);
}

/* The rows per source gold_data_quality reads are kept change by change:
 * a file that fails after some of its rows went in (rolled back) counts
 * nothing, a correction from another source moves its row, a rebuild
 * ends where it began, and a store from before the counts gets them
 * from its rows. */
static void test_source_rows(void **state)
{
	char data[400], bad[600], good[600], other[700], db[500];
	struct result r;
	sqlite3 *h;
	FILE *f;

	(void)state;
	snprintf(data, sizeof(data), "%s/source-rows", dir);
	snprintf(bad, sizeof(bad), "%s/expect-fail/patients.csv", cases);
	snprintf(good, sizeof(good), "%s/csv-duplicate/patients.csv", cases);
	/* the fail expectation stops the first file at its second row, after
	 * its first went in; the second file (all have birth dates) loads */
	r = run(NULL, "ingest", "--data", data, "--source", "ward-a", "--set",
		"expect.patient.has_birth_date.check=birth_date IS NOT NULL", "--set",
		"expect.patient.has_birth_date.action=fail", bad, good, NULL);
	assert_int_equal(r.status, 1);
	done(&r);
	assert_int_equal(count(data, "SELECT rows AS n FROM source_rows WHERE table_name ="
				     " 'patient' AND source = 'ward-a'"), 2);
	check_source_rows(data);
	/* d2 corrected by another source: ward-a keeps d1, ward-b has d2 */
	snprintf(other, sizeof(other), "%s/d2.csv", dir);
	f = fopen(other, "w");
	assert_non_null(f);
	fputs("Id,BIRTHDATE,FIRST,LAST,GENDER\nd2,1981-05-05,Di,Rowe,F\n", f);
	fclose(f);
	r = run(NULL, "ingest", "--data", data, "--source", "ward-b", other, NULL);
	assert_int_equal(r.status, 0);
	done(&r);
	assert_int_equal(count(data, "SELECT rows AS n FROM source_rows WHERE table_name ="
				     " 'patient' AND source = 'ward-a'"), 1);
	assert_int_equal(count(data, "SELECT rows AS n FROM gold_data_quality WHERE source ="
				     " 'ward-b'"), 1);
	check_source_rows(data);
	/* without the expectation, the rebuild loads the first file too */
	r = run(NULL, "refine", "--data", data, "--rebuild", NULL);
	assert_int_equal(r.status, 0);
	done(&r);
	check_source_rows(data);
	/* a store from before source_rows */
	snprintf(db, sizeof(db), "%s/carelake.db", data);
	assert_int_equal(sqlite3_open(db, &h), SQLITE_OK);
	assert_int_equal(sqlite3_exec(h, "DROP TABLE source_rows", NULL, NULL, NULL), SQLITE_OK);
	sqlite3_close(h);
	r = run(NULL, "refine", "--data", data, NULL);
	assert_int_equal(r.status, 0);
	done(&r);
	assert_int_equal(count(data, "SELECT sum(rows) AS n FROM source_rows WHERE table_name ="
				     " 'patient'"), 4);
	check_source_rows(data);
}

/* n Synthea observation rows, from the i-th on; the last with `last_value`
 * when it is not 0. */
static void write_observations(const char *path, long from, long n, int last_value)
{
	FILE *f = fopen(path, "w");

	assert_non_null(f);
	fputs("DATE,PATIENT,ENCOUNTER,CATEGORY,CODE,DESCRIPTION,VALUE,UNITS,TYPE\n", f);
	for (long i = from; i < from + n; i++)
		fprintf(f, "2026-11-%02ldT%02ld:%02ld:%02ldZ,p%ld,,vital-signs,8867-4,Heart rate,%d,"
			"/min,numeric\n", i % 28 + 1, i / 3600 % 24, i / 60 % 60, i % 60, i % 50,
			i == from + n - 1 && last_value ? last_value : (int)(50 + i % 80));
	fclose(f);
}

static long json_long(const char *out, const char *key)
{
	json_t *j = parse(out);
	long v = (long)json_integer_value(json_object_get(j, key));

	json_decref(j);
	return v;
}

/* observation's own indexes, by name, and SQLite's word on the store. */
static void check_indexes(const char *data)
{
	json_t *j = query(data, "SELECT group_concat(name) AS names FROM (SELECT name FROM"
				" sqlite_master WHERE type = 'index' AND tbl_name = 'observation'"
				" AND sql IS NOT NULL ORDER BY name)");

	assert_string_equal(json_string_value(json_object_get(json_array_get(j, 0), "names")),
			    "observation_patient,observation_run,observation_time");
	json_decref(j);
	{
		char db[500];
		sqlite3 *h;
		sqlite3_stmt *q;

		snprintf(db, sizeof(db), "%s/carelake.db", data);
		assert_int_equal(sqlite3_open_v2(db, &h, SQLITE_OPEN_READONLY, NULL), SQLITE_OK);
		assert_int_equal(sqlite3_prepare_v2(h, "PRAGMA integrity_check", -1, &q, NULL),
				 SQLITE_OK);
		assert_int_equal(sqlite3_step(q), SQLITE_ROW);
		assert_string_equal((const char *)sqlite3_column_text(q, 0), "ok");
		sqlite3_finalize(q);
		sqlite3_close(h);
	}
}

/* A load of more new rows than a table held, past CL_SILVER_BULK_ROWS,
 * builds the table's indexes once at commit: the same rows, the same
 * indexes, an intact store; a load that fails part way leaves the
 * indexes as they were; a smaller load, or one into a larger table, goes
 * row by row. */
static void test_bulk_load(void **state)
{
	char data[400], a[500], b[500], c[500], d[500];
	struct result r;

	(void)state;
	snprintf(data, sizeof(data), "%s/bulk", dir);
	snprintf(a, sizeof(a), "%s/bulk-a.csv", dir);
	snprintf(b, sizeof(b), "%s/bulk-b.csv", dir);
	snprintf(c, sizeof(c), "%s/bulk-c.csv", dir);
	snprintf(d, sizeof(d), "%s/bulk-d.csv", dir);
	write_observations(a, 0, 60000, 0);
	write_observations(b, 100000, 70000, 200);
	write_observations(c, 200000, 10, 0);
	write_observations(d, 300000, 60000, 0);

	r = run(NULL, "ingest", "--data", data, "--json", a, NULL);
	if (r.status != 0)
		fail_msg("ingest: %s", r.err);
	assert_int_equal(json_long(r.out, "accepted"), 60000);
	assert_int_equal(json_long(r.out, "bulk_loads"), 1);
	done(&r);
	assert_int_equal(count(data, "SELECT count(*) AS n FROM observation"), 60000);
	/* the index answers as the table does */
	assert_int_equal(count(data, "SELECT count(*) AS n FROM observation INDEXED BY"
				     " observation_patient WHERE patient_id = 'p7'"), 1200);
	check_indexes(data);
	check_source_rows(data);

	/* b fails at its last row, after its indexes went: all of it rolled
	 * back; c, in the same run, loads after it, row by row */
	r = run(NULL, "ingest", "--data", data, "--json", "--set",
		"expect.observation.plausible.check=value < 150", "--set",
		"expect.observation.plausible.action=fail", b, c, NULL);
	assert_int_equal(r.status, 1);
	assert_int_equal(json_long(r.out, "bulk_loads"), 1);
	assert_int_equal(json_long(r.out, "loaded"), 1);
	done(&r);
	assert_int_equal(count(data, "SELECT count(*) AS n FROM observation"), 60010);
	check_indexes(data);
	check_source_rows(data);

	/* 60,000 rows into a table of 60,010: row by row too */
	r = run(NULL, "ingest", "--data", data, "--json", d, NULL);
	assert_int_equal(r.status, 0);
	assert_int_equal(json_long(r.out, "accepted"), 60000);
	assert_int_equal(json_long(r.out, "bulk_loads"), 0);
	done(&r);
	assert_int_equal(count(data, "SELECT count(*) AS n FROM observation"), 120010);
	check_indexes(data);
	check_source_rows(data);
}

/* j as compact text (malloc'd); j is released. */
/* A store made before lineage was narrow (the bronze file's hash in every
 * row's `_bronze_file`, no lineage_file), made here from a loaded one: the
 * next load migrates it, every row intact (its values, lineage and rowid),
 * each file named once in lineage_file, the indexes as they were and the
 * store sound; loads, the reference checks, the Delta copy and exports go
 * on reading the lineage as before. */
static void test_lineage_migrated(void **state)
{
	char data[400], src[600], obs[500], more[500], again[500], db[500], sql[1500], out[500];
	char *before, *after;
	json_t *rows_before, *rows_after;
	struct result r;
	sqlite3 *h;

	(void)state;
	snprintf(data, sizeof(data), "%s/old-lineage", dir);
	snprintf(obs, sizeof(obs), "%s/old-lineage-obs.csv", dir);
	snprintf(more, sizeof(more), "%s/old-lineage-more.csv", dir);
	snprintf(again, sizeof(again), "%s/old-lineage-again.csv", dir);
	write_observations(obs, 0, 300, 0);
	write_observations(more, 300, 20, 0);
	write_observations(again, 0, 301, 0);
	snprintf(src, sizeof(src), "%s/ref-drop/input.json", cases);
	r = run(NULL, "ingest", "--data", data, src, obs, NULL);
	assert_int_equal(r.status, 0);
	done(&r);
	before = tables_digest(data);
	rows_before = query(data, "SELECT rowid, id, _file_id FROM observation ORDER BY rowid");
	assert_true(json_array_size(rows_before) > 300);
	/* back to the old schema: the text in every row, no lineage_file */
	snprintf(db, sizeof(db), "%s/carelake.db", data);
	assert_int_equal(sqlite3_open(db, &h), SQLITE_OK);
	for (const struct cl_table *t = cl_silver_tables; t->name; t++) {
		snprintf(sql, sizeof(sql), "ALTER TABLE %s ADD COLUMN _bronze_file TEXT NOT NULL"
			 " DEFAULT '';UPDATE %s SET _bronze_file = (SELECT file FROM lineage_file WHERE"
			 " id = _file_id);ALTER TABLE %s DROP COLUMN _file_id", t->name, t->name,
			 t->name);
		assert_int_equal(sqlite3_exec(h, sql, NULL, NULL, NULL), SQLITE_OK);
	}
	assert_int_equal(sqlite3_exec(h, "DROP TABLE lineage_file", NULL, NULL, NULL), SQLITE_OK);
	sqlite3_close(h);
	assert_int_equal(count(data, "SELECT count(*) AS n FROM observation WHERE _bronze_file IN"
				     " (SELECT hash FROM bronze_file)"), 301);

	/* the next load migrates it */
	r = run(NULL, "ingest", "--data", data, more, NULL);
	assert_int_equal(r.status, 0);
	done(&r);
	assert_int_equal(count(data, "SELECT count(*) AS n FROM pragma_table_info('observation')"
				     " WHERE name = '_bronze_file'"), 0);
	after = tables_digest(data);
	/* every row as it was (the new file's rows aside) */
	rows_after = query(data, "SELECT rowid, id, _file_id FROM observation WHERE _file_id IN"
				 " (SELECT id FROM lineage_file WHERE file IN (SELECT hash FROM"
				 " bronze_file WHERE run_id = 1)) ORDER BY rowid");
	assert_true(json_equal(rows_before, rows_after));
	json_decref(rows_before);
	json_decref(rows_after);
	/* the digest of the old rows is a prefix of each table's now: the
	 * same ids, hashes, sources, files and records */
	{
		json_t *b = parse(before), *a = parse(after), *ob, *oa;
		const char *k;
		json_t *v;

		json_object_foreach(b, k, v) {
			ob = v;
			oa = json_object_get(a, k);
			if (strcmp(k, "observation") == 0) {
				/* the new file's 20 rows among them */
				assert_int_equal(json_array_size(oa), json_array_size(ob) + 20);
				continue;
			}
			if (!json_equal(ob, oa))
				fail_msg("%s changed in the migration:\n%s\n%s", k, before, after);
		}
		json_decref(b);
		json_decref(a);
	}
	free(before);
	free(after);
	/* each file once, and every row's file is there */
	assert_int_equal(count(data, "SELECT count(*) - count(DISTINCT file) AS n FROM"
				     " lineage_file"), 0);
	assert_int_equal(count(data, "SELECT count(*) AS n FROM lineage_file"), 3);
	assert_int_equal(count(data, "SELECT count(*) AS n FROM observation WHERE _file_id NOT IN"
				     " (SELECT l.id FROM lineage_file l JOIN bronze_file b ON"
				     " b.hash = l.file)"), 0);
	check_indexes(data);
	/* the same rows again, in another file: duplicates, by the hashes kept */
	r = run(NULL, "ingest", "--data", data, again, NULL);
	assert_int_equal(r.status, 0);
	done(&r);
	assert_int_equal(count(data, "SELECT duplicates AS n FROM pipeline_run WHERE pipeline ="
				     " 'ingest' ORDER BY id DESC LIMIT 1"), 301);
	/* exports show the file's hash, as the Delta copy does */
	snprintf(out, sizeof(out), "%s/old-lineage-export.csv", dir);
	r = run(NULL, "export", "--data", data, "--table", "observation", "--format", "csv",
		"--out", out, NULL);
	assert_int_equal(r.status, 0);
	done(&r);
	{
		FILE *f = fopen(out, "r");
		char line[4096];
		json_t *j = query(data, "SELECT hash FROM bronze_file WHERE name ="
					" 'old-lineage-obs.csv'");
		const char *hash = json_string_value(json_object_get(json_array_get(j, 0), "hash"));
		int header = 0, hashes = 0;

		assert_non_null(f);
		assert_non_null(hash);
		while (fgets(line, sizeof(line), f)) {
			header |= strstr(line, ",_bronze_file,") != NULL;
			hashes += strstr(line, hash) != NULL;
		}
		fclose(f);
		json_decref(j);
		assert_true(header);
		assert_int_equal(hashes, 300);
	}
}

static char *json_text(json_t *j)
{
	char *t = json_dumps(j, JSON_COMPACT);

	json_decref(j);
	return t;
}

/* refine --rebuild goes on past a file in bronze that fails and reports
 * it: the file leaves nothing (rows, quarantine, counts; the indexes a
 * bulk load of it dropped are back), the files after it load, a file
 * listed twice (each failed attempt at it lists it) is tried once. The
 * long values of csv-long-values, in bronze, rebuild as they loaded. */
static void test_rebuild_past_failures(void **state)
{
	static const char long_sql[] = "SELECT id, _hash, length(comment) AS n FROM survey_response"
				       " ORDER BY id";
	char data[400], big[500], small[500], longer[600], *long_values;
	const char *fail_big[] = { "--set", "expect.observation.plausible.check=value < 150", "--set",
				   "expect.observation.plausible.action=fail" };
	struct result r;
	json_t *sum;

	(void)state;
	snprintf(data, sizeof(data), "%s/rebuild-failures", dir);
	snprintf(big, sizeof(big), "%s/rebuild-big.csv", dir);
	snprintf(small, sizeof(small), "%s/rebuild-small.csv", dir);
	snprintf(longer, sizeof(longer), "%s/comments.csv", dir);
	{
		char spec[700], *text;
		json_t *c;

		snprintf(spec, sizeof(spec), "%s/csv-long-values/case.json", cases);
		text = slurp(spec);
		c = parse(text);
		free(text);
		generate(longer, json_object_get(json_object_get(c, "generate"), "comments.csv"));
		json_decref(c);
	}
	/* the big file: before its last row (whose value, 200, fails the
	 * rebuild's expectation) as many rows as make a bulk load */
	write_observations(big, 500000, CL_SILVER_BULK_ROWS + 1, 200);
	write_observations(small, 600000, 10, 0);
	/* the long values (csv-long-values' file) and the big file load; the
	 * small one fails twice on an expectation, so bronze lists it twice
	 * but it never registered: as a crash would leave a file */
	r = run(NULL, "ingest", "--data", data, "--json", longer, big, NULL);
	if (r.status != 0)
		fail_msg("ingest: %s", r.err);
	assert_int_equal(json_long(r.out, "bulk_loads"), 1);
	done(&r);
	for (int i = 0; i < 2; i++) {
		r = run(NULL, "ingest", "--data", data, "--set",
			"expect.observation.none.check=value IS NULL", "--set",
			"expect.observation.none.action=fail", small, NULL);
		assert_int_equal(r.status, 1);
		done(&r);
	}
	assert_int_equal(count(data, "SELECT count(*) AS n FROM observation"),
			 CL_SILVER_BULK_ROWS + 1);
	long_values = json_text(query(data, long_sql));

	/* the big file fails at its last row, after its indexes went */
	r = run_argv(NULL, (const char *[]){ "refine", "--data", data, "--rebuild", "--json",
					     fail_big[0], fail_big[1], fail_big[2], fail_big[3],
					     NULL });
	assert_int_equal(r.status, 1);
	sum = parse(r.out);
	assert_int_equal(json_integer_value(json_object_get(sum, "files")), 4);
	assert_int_equal(json_integer_value(json_object_get(sum, "failed")), 1);
	assert_int_equal(json_integer_value(json_object_get(sum, "loaded")), 2);
	assert_int_equal(json_integer_value(json_object_get(sum, "unchanged")), 1);
	/* the counts are of what stayed: the long values and the small file
	 * (the big file's bulk load, undone, is not counted either) */
	assert_int_equal(json_integer_value(json_object_get(sum, "bulk_loads")), 0);
	assert_int_equal(json_integer_value(json_object_get(sum, "accepted")), 4 + 10);
	assert_non_null(strstr(json_string_value(json_object_get(sum, "error")),
			       "rebuild-big.csv: "));
	assert_non_null(strstr(json_string_value(json_object_get(sum, "error")),
			       "expectation plausible failed"));
	json_decref(sum);
	assert_non_null(strstr(r.err, "rebuild-big.csv"));
	done(&r);
	assert_int_equal(count(data, "SELECT count(*) AS n FROM observation"), 10);
	assert_int_equal(count(data, "SELECT count(*) AS n FROM survey_response"), 4);
	assert_int_equal(count(data, "SELECT count(*) AS n FROM bronze_file"), 2);
	check_indexes(data);
	check_source_rows(data);

	/* and rebuilt with nothing failing: every file, the long values as
	 * they loaded */
	r = run(NULL, "refine", "--data", data, "--rebuild", "--json", NULL);
	if (r.status != 0)
		fail_msg("refine --rebuild: %s", r.err);
	assert_int_equal(json_long(r.out, "loaded"), 3);
	done(&r);
	assert_int_equal(count(data, "SELECT count(*) AS n FROM observation"),
			 CL_SILVER_BULK_ROWS + 1 + 10);
	{
		char *now = json_text(query(data, long_sql));

		assert_string_equal(long_values, now);
		free(now);
	}
	assert_int_equal(count(data, "SELECT count(*) AS n FROM quarantine WHERE reason LIKE"
				     " '%a value may be at most 1048576 bytes (1 MiB)'"), 2);
	check_indexes(data);
	check_source_rows(data);
	free(long_values);
}

int main(int argc, char **argv)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_cases),
		cmocka_unit_test(test_shared_material),
		cmocka_unit_test(test_query_is_read_only),
		cmocka_unit_test(test_logs_into_silver),
		cmocka_unit_test(test_generate),
		cmocka_unit_test(test_bad_expectations),
		cmocka_unit_test(test_verify_files),
		cmocka_unit_test(test_warning_source_added),
		cmocka_unit_test(test_lineage_migrated),
		cmocka_unit_test(test_source_rows),
		cmocka_unit_test(test_bulk_load),
	};
	/* a second process (a ctest of its own): two more bulk loads */
	const struct CMUnitTest rebuild[] = {
		cmocka_unit_test(test_rebuild_past_failures),
	};
	int rc;

	if (argc < 4 || (argc > 4 && strcmp(argv[4], "rebuild") != 0)) {
		fprintf(stderr, "usage: test_batch CARELAKE CASES_DIR SHARED_DATA [rebuild]\n");
		return 2;
	}
	bin = argv[1];
	cases = argv[2];
	shared = argv[3];
	cl_test_tmpdir(dir, sizeof(dir));
	rc = argc > 4 ? cmocka_run_group_tests(rebuild, NULL, NULL)
		      : cmocka_run_group_tests(tests, NULL, NULL);
	if (rc == 0)
		cl_test_rmtree(dir);
	return rc;
}
