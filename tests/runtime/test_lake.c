/*
 * The Delta Lake copy of silver and gold, checked by an independent reader:
 * after every load and refine, DuckDB (from npm) reads the active files of
 * every Delta table — listed by replaying the table's JSON log here, not by
 * carelake — and must find exactly the rows SQLite holds, with the right
 * column types, and every file in the partition its log entry names.
 *
 * - all of synthea-fhir, synthea-csv, fhir-r4-examples and a generated
 *   hospital;
 * - a correction and a DELETE: only the partitions they touch are
 *   rewritten, and the tables still agree;
 * - refine --rebuild;
 * - `carelake export` in its three formats;
 * - SIGKILL of a load at random moments: every log still replays to files
 *   that exist and read, and the next refine brings the tables back in
 *   line.
 *
 * Usage: test_lake /path/to/carelake SHARED_DATA_DIR DUCK_MJS
 */
#include "cl_test.h"

#include <dirent.h>
#include <jansson.h>
#include <signal.h>
#include <sqlite3.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "core/cl_time.h"

static const char *bin, *shared, *duck;
static char dir[256];

#include "cli_helpers.h"

#include "duck_helpers.h"

/* ---- comparing a table ------------------------------------------------ */

enum kind { K_TEXT, K_INT, K_REAL, K_TS, K_DAY };

struct tcols {
	int n;
	char name[64][64];
	enum kind kind[64];
};

static void read_cols(sqlite3 *db, const char *table, struct tcols *c)
{
	char sql[200];
	sqlite3_stmt *st;
	snprintf(sql, sizeof(sql), "PRAGMA table_info(%s)", table);
	assert_int_equal(sqlite3_prepare_v2(db, sql, -1, &st, NULL), SQLITE_OK);
	c->n = 0;
	while (sqlite3_step(st) == SQLITE_ROW) {
		const char *name = (const char *)sqlite3_column_text(st, 1);
		const char *decl = (const char *)sqlite3_column_text(st, 2);
		size_t l = strlen(name);
		enum kind k = K_TEXT;
		decl = decl ? decl : "";
		if (strstr(decl, "INT"))
			k = K_INT;
		else if (strstr(decl, "REAL"))
			k = K_REAL;
		else if (strcmp(name, "ts") == 0 || (l > 3 && strcmp(name + l - 3, "_ts") == 0))
			k = K_TS;
		else if (strcmp(name, "day") == 0)
			k = K_DAY;
		/* a silver row's file by number: its name in the lake */
		if (strcmp(name, "_file_id") == 0) {
			name = "_bronze_file";
			k = K_TEXT;
		}
		snprintf(c->name[c->n], 64, "%s", name);
		c->kind[c->n++] = k;
	}
	sqlite3_finalize(st);
	assert_true(c->n > 0);
}

/* Microseconds of an instant as silver writes it (RFC 3339 or a date). */
static int instant(const char *s, int64_t *us)
{
	size_t n = strlen(s);
	if (cl_time_parse_rfc3339(s, n, us) == 0)
		return 0;
	char buf[40];
	if (n == 4 || n == 7 || n == 10) {
		snprintf(buf, sizeof(buf), "%.4s-%.2s-%.2sT00:00:00Z", s, n > 4 ? s + 5 : "01",
			 n > 7 ? s + 8 : "01");
		return cl_time_parse_rfc3339(buf, strlen(buf), us);
	}
	return -1;
}

static int cmp_str(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* One row as text, value by value, the same for both readers. */
static void canon_append(char *buf, size_t cap, size_t *len, const char *v)
{
	*len += (size_t)snprintf(buf + *len, cap > *len ? cap - *len : 0, "%s\x1f", v);
}

/* The rows of SQLite table `table`, canonical and sorted. */
static char **sqlite_rows(sqlite3 *db, const char *table, const struct tcols *c, size_t *n)
{
	char sql[4096], v[64];
	sqlite3_stmt *st;
	size_t cap = 1024, o;
	char **rows = malloc(cap * sizeof(char *));
	/* the file's name where the table has its number (lineage_file) */
	o = (size_t)snprintf(sql, sizeof(sql), "SELECT ");
	for (int i = 0; i < c->n; i++)
		o += (size_t)snprintf(sql + o, sizeof(sql) - o, strcmp(c->name[i], "_bronze_file")
				      ? "%s\"%s\"" : "%s(SELECT file FROM lineage_file WHERE id ="
				      " _file_id)", i ? ", " : "", c->name[i]);
	snprintf(sql + o, sizeof(sql) - o, " FROM %s", table);
	assert_int_equal(sqlite3_prepare_v2(db, sql, -1, &st, NULL), SQLITE_OK);
	*n = 0;
	while (sqlite3_step(st) == SQLITE_ROW) {
		char buf[16384];
		size_t len = 0;
		for (int i = 0; i < c->n; i++) {
			int t = sqlite3_column_type(st, i);
			const char *s = (const char *)sqlite3_column_text(st, i);
			int64_t us;
			if (t == SQLITE_NULL) {
				canon_append(buf, sizeof(buf), &len, "\\N");
			} else if (c->kind[i] == K_TS || c->kind[i] == K_DAY) {
				if (instant(s, &us) == 0) {
					snprintf(v, sizeof(v), "%lld", (long long)(c->kind[i] == K_DAY
						 ? cl_time_day(us) : us));
					canon_append(buf, sizeof(buf), &len, v);
				} else {
					canon_append(buf, sizeof(buf), &len, "\\N");
				}
			} else if (c->kind[i] == K_REAL) {
				snprintf(v, sizeof(v), "%.17g", sqlite3_column_double(st, i));
				canon_append(buf, sizeof(buf), &len, v);
			} else {
				canon_append(buf, sizeof(buf), &len, s);
			}
		}
		if (*n == cap)
			rows = realloc(rows, (cap *= 2) * sizeof(char *));
		rows[(*n)++] = strdup(buf);
	}
	sqlite3_finalize(st);
	qsort(rows, *n, sizeof(char *), cmp_str);
	return rows;
}

/* The rows DuckDB reads from the active files, canonical and sorted. */
static char **duck_rows(const char *tdir, json_t *files, const struct tcols *c, size_t *n,
			const char *table)
{
	static const char *const want_type[] = { "VARCHAR", "BIGINT", "DOUBLE",
						 "TIMESTAMP WITH TIME ZONE", "DATE" };
	size_t cap = 1 << 20, len;
	char *sql = malloc(cap);
	const char *path;
	json_t *pv;
	int first = 1;

	len = (size_t)snprintf(sql, cap, "SELECT ");
	for (int i = 0; i < c->n; i++)
		len += (size_t)snprintf(sql + len, cap - len, "%s\"%s\"", i ? ", " : "", c->name[i]);
	len += (size_t)snprintf(sql + len, cap - len, " FROM read_parquet([");
	json_object_foreach(files, path, pv) {
		len += (size_t)snprintf(sql + len, cap - len, "%s'%s/%s'", first ? "" : ", ", tdir,
					path);
		first = 0;
	}
	snprintf(sql + len, cap - len, "], hive_partitioning = false)");
	json_t *res = duckdb(sql);
	free(sql);
	json_t *cols = json_object_get(res, "columns"), *rows = json_object_get(res, "rows");
	for (int i = 0; i < c->n; i++) {
		const char *t = json_string_value(json_object_get(json_array_get(cols, (size_t)i),
								  "type"));
		if (strcmp(t, want_type[c->kind[i]]) != 0)
			fail_msg("%s.%s: DuckDB reads it as %s, expected %s", table, c->name[i], t,
				 want_type[c->kind[i]]);
	}
	*n = json_array_size(rows);
	char **out = malloc((*n + 1) * sizeof(char *));
	for (size_t r = 0; r < *n; r++) {
		char buf[16384], v[64];
		size_t blen = 0;
		json_t *row = json_array_get(rows, r);
		for (int i = 0; i < c->n; i++) {
			json_t *x = json_array_get(row, (size_t)i);
			if (json_is_null(x)) {
				canon_append(buf, sizeof(buf), &blen, "\\N");
			} else if (c->kind[i] == K_TS) {
				/* "YYYY-MM-DD HH:MM:SS[.ffffff]+00" */
				char iso[48];
				snprintf(iso, sizeof(iso), "%s", json_string_value(x));
				iso[10] = 'T';
				char *plus = strrchr(iso, '+');
				if (plus)
					strcpy(plus, "Z");
				int64_t us;
				assert_int_equal(cl_time_parse_rfc3339(iso, strlen(iso), &us), 0);
				snprintf(v, sizeof(v), "%lld", (long long)us);
				canon_append(buf, sizeof(buf), &blen, v);
			} else if (c->kind[i] == K_DAY) {
				char iso[40];
				int64_t us;
				snprintf(iso, sizeof(iso), "%sT00:00:00Z", json_string_value(x));
				assert_int_equal(cl_time_parse_rfc3339(iso, strlen(iso), &us), 0);
				snprintf(v, sizeof(v), "%lld", (long long)cl_time_day(us));
				canon_append(buf, sizeof(buf), &blen, v);
			} else if (c->kind[i] == K_REAL) {
				snprintf(v, sizeof(v), "%.17g", json_number_value(x));
				canon_append(buf, sizeof(buf), &blen, v);
			} else if (json_is_integer(x)) {
				snprintf(v, sizeof(v), "%lld", (long long)json_integer_value(x));
				canon_append(buf, sizeof(buf), &blen, v);
			} else {
				canon_append(buf, sizeof(buf), &blen, json_string_value(x));
			}
		}
		out[r] = strdup(buf);
	}
	json_decref(res);
	qsort(out, *n, sizeof(char *), cmp_str);
	return out;
}

/* Every file of a partitioned table holds only rows of its partition. */
static void check_partitions(const char *tdir, json_t *files)
{
	const char *path;
	json_t *pv;
	json_object_foreach(files, path, pv) {
		json_t *d = json_object_get(pv, "effective_date");
		char sql[1200];
		if (!d)
			continue;
		snprintf(sql, sizeof(sql),
			 "SELECT count(*) FROM read_parquet('%s/%s') WHERE coalesce(strftime("
			 "effective_ts, '%%Y-%%m-%%d'), '') <> '%s'", tdir, path,
			 json_is_null(d) ? "" : json_string_value(d));
		json_t *r = duckdb(sql);
		const char *bad = json_string_value(json_array_get(json_array_get(
			json_object_get(r, "rows"), 0), 0));
		if (!bad || strcmp(bad, "0") != 0)
			fail_msg("%s: %s rows outside partition %s", path, bad ? bad : "?",
				 json_is_null(d) ? "null" : json_string_value(d));
		json_decref(r);
	}
}

/* One SQLite table against its Delta table. Returns its row count. */
static size_t check_table(sqlite3 *db, const char *data, const char *table, const char *rel)
{
	char tdir[600];
	struct tcols c;
	size_t ns, nd = 0;

	snprintf(tdir, sizeof(tdir), "%s/%s", data, rel);
	json_t *files = active_files(tdir);
	if (!files)
		fail_msg("%s: no Delta log at %s", table, tdir);
	read_cols(db, table, &c);
	char **srows = sqlite_rows(db, table, &c, &ns);
	char **drows = json_object_size(files) ? duck_rows(tdir, files, &c, &nd, table) : NULL;
	if (ns != nd)
		fail_msg("%s: SQLite has %zu rows, the Delta table %zu", table, ns, nd);
	for (size_t i = 0; i < ns; i++) {
		if (strcmp(srows[i], drows[i]) != 0)
			fail_msg("%s: rows differ:\n  SQLite %.400s\n  Delta  %.400s", table, srows[i],
				 drows[i]);
		free(srows[i]);
		free(drows[i]);
	}
	free(srows);
	free(drows);
	check_partitions(tdir, files);
	json_decref(files);
	/* and carelake's own reader of the Delta table finds as many */
	struct result r = run(NULL, "table", "show", tdir, "--format", "json", NULL);
	if (r.status != 0)
		fail_msg("table show %s: %s", tdir, r.err);
	json_t *shown = json_loads(r.out, 0, NULL);
	if (json_array_size(shown) != ns)
		fail_msg("%s: carelake's reader finds %zu rows, SQLite has %zu", table,
			 json_array_size(shown), ns);
	json_decref(shown);
	done(&r);
	return ns;
}

/* Every lake table of the data dir against SQLite; the total row count. */
static size_t check_all(const char *data)
{
	char path[600];
	sqlite3 *db;
	sqlite3_stmt *st;
	size_t total = 0;
	int tables = 0;

	snprintf(path, sizeof(path), "%s/carelake.db", data);
	assert_int_equal(sqlite3_open_v2(path, &db, SQLITE_OPEN_READONLY, NULL), SQLITE_OK);
	/* the lake's tables: silver's, quarantine, quality_warning and gold_* */
	assert_int_equal(sqlite3_prepare_v2(db,
		"SELECT name FROM sqlite_master WHERE type = 'table' AND (name IN ('patient', "
		"'practitioner', 'organization', 'encounter', 'observation', 'condition', "
		"'medication_request', 'procedure', 'staff', 'shift', 'booking', 'communication', "
		"'survey_response', 'device', 'quarantine', 'quality_warning') OR name LIKE 'gold_%')",
		-1, &st, NULL), SQLITE_OK);
	while (sqlite3_step(st) == SQLITE_ROW) {
		const char *t = (const char *)sqlite3_column_text(st, 0);
		char rel[200];
		if (strncmp(t, "gold_", 5) == 0)
			snprintf(rel, sizeof(rel), "gold/%s", t + 5);
		else
			snprintf(rel, sizeof(rel), "silver/%s", t);
		total += check_table(db, data, t, rel);
		tables++;
	}
	sqlite3_finalize(st);
	sqlite3_close(db);
	assert_true(tables >= 20);
	return total;
}

/* ---- scenarios --------------------------------------------------------- */

static void fresh(const char *data)
{
	char cmd[700];
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", data);
	assert_int_equal(system(cmd), 0);
}

static void ingest(const char *data, const char *path)
{
	struct result r = run(NULL, "ingest", "--data", data, path, NULL);
	if (r.status != 0)
		fail_msg("ingest %s: %s", path, r.err);
	if (strstr(r.err, "Delta tables are behind"))
		fail_msg("ingest %s: %s", path, r.err);
	done(&r);
}

static void test_shared_material(void **state)
{
	char data[300], p[600], hosp[300];
	(void)state;
	snprintf(data, sizeof(data), "%s/shared", dir);
	fresh(data);
	snprintf(p, sizeof(p), "%s/synthea-fhir", shared);
	ingest(data, p);
	size_t after_fhir = check_all(data);
	assert_true(after_fhir > 150);
	snprintf(p, sizeof(p), "%s/synthea-csv", shared);
	ingest(data, p);
	snprintf(p, sizeof(p), "%s/fhir-r4-examples", shared);
	ingest(data, p);
	snprintf(hosp, sizeof(hosp), "%s/hospital", dir);
	struct result r = run(NULL, "generate", "--out", hosp, "--patients", "40", "--seed", "7",
			      NULL);
	assert_int_equal(r.status, 0);
	done(&r);
	ingest(data, hosp);
	assert_true(check_all(data) > after_fhir);
}

/* The number of add actions in the newest commit of a table. */
static int last_commit_adds(const char *tdir)
{
	char logdir[600], path[900], last[64] = "";
	DIR *d;
	struct dirent *de;
	int adds = 0;
	snprintf(logdir, sizeof(logdir), "%s/_delta_log", tdir);
	d = opendir(logdir);
	assert_non_null(d);
	while ((de = readdir(d)))
		if (strlen(de->d_name) == 25 && strstr(de->d_name, ".json") &&
		    strcmp(de->d_name, last) > 0)
			snprintf(last, sizeof(last), "%s", de->d_name);
	closedir(d);
	snprintf(path, sizeof(path), "%s/%s", logdir, last);
	char *text = slurp(path);
	for (char *s = text; (s = strstr(s, "{\"add\":")); s++)
		adds++;
	free(text);
	return adds;
}

static void test_changes_and_rebuild(void **state)
{
	char data[300], p[600], obs[600];
	(void)state;
	snprintf(data, sizeof(data), "%s/changes", dir);
	fresh(data);
	snprintf(p, sizeof(p), "%s/synthea-fhir", shared);
	ingest(data, p);
	snprintf(obs, sizeof(obs), "%s/silver/observation", data);
	json_t *before = active_files(obs);
	assert_true(json_object_size(before) > 10); /* many days */

	/* a new observation on one day and a corrected patient */
	snprintf(p, sizeof(p), "%s/change.json", dir);
	FILE *f = fopen(p, "w");
	assert_non_null(f);
	fputs("{\"resourceType\":\"Bundle\",\"type\":\"transaction\",\"entry\":["
	      "{\"resource\":{\"resourceType\":\"Observation\",\"id\":\"lake-hr-1\",\"status\":"
	      "\"final\",\"code\":{\"coding\":[{\"system\":\"http://loinc.org\",\"code\":\"8867-4\"}]},"
	      "\"subject\":{\"reference\":\"Patient/lake-p\"},\"effectiveDateTime\":"
	      "\"2031-05-06T07:08:09.123456Z\",\"valueQuantity\":{\"value\":77,\"unit\":\"/min\"}},"
	      "\"request\":{\"method\":\"PUT\",\"url\":\"Observation/lake-hr-1\"}},"
	      "{\"resource\":{\"resourceType\":\"Patient\",\"id\":\"lake-p\",\"gender\":\"female\"},"
	      "\"request\":{\"method\":\"PUT\",\"url\":\"Patient/lake-p\"}}]}\n", f);
	fclose(f);
	ingest(data, p);
	/* only the new day's partition was written */
	assert_int_equal(last_commit_adds(obs), 1);
	json_t *after = active_files(obs);
	assert_int_equal(json_object_size(after), json_object_size(before) + 1);
	check_all(data);

	/* partitions rewritten around what is already there, for times
	 * written with an offset or only in part: the rows already in each
	 * UTC day stay in its new file */
	const char *const edges[2] = {
		"{\"resourceType\":\"Bundle\",\"type\":\"collection\",\"entry\":["
		"{\"resource\":{\"resourceType\":\"Observation\",\"id\":\"lake-tz\",\"status\":"
		"\"final\",\"code\":{\"coding\":[{\"system\":\"http://loinc.org\",\"code\":"
		"\"8867-4\"}]},\"subject\":{\"reference\":\"Patient/lake-p\"},\"effectiveDateTime\":"
		"\"2031-07-01T23:30:00-05:00\",\"valueQuantity\":{\"value\":70,\"unit\":\"/min\"}}},"
		"{\"resource\":{\"resourceType\":\"Observation\",\"id\":\"lake-y\",\"status\":"
		"\"final\",\"code\":{\"coding\":[{\"system\":\"http://loinc.org\",\"code\":"
		"\"8867-4\"}]},\"subject\":{\"reference\":\"Patient/lake-p\"},\"effectiveDateTime\":"
		"\"2032\",\"valueQuantity\":{\"value\":71,\"unit\":\"/min\"}}}]}\n",
		"{\"resourceType\":\"Bundle\",\"type\":\"collection\",\"entry\":["
		"{\"resource\":{\"resourceType\":\"Observation\",\"id\":\"lake-tz2\",\"status\":"
		"\"final\",\"code\":{\"coding\":[{\"system\":\"http://loinc.org\",\"code\":"
		"\"8867-4\"}]},\"subject\":{\"reference\":\"Patient/lake-p\"},\"effectiveDateTime\":"
		"\"2031-07-02T10:00:00Z\",\"valueQuantity\":{\"value\":72,\"unit\":\"/min\"}}},"
		"{\"resource\":{\"resourceType\":\"Observation\",\"id\":\"lake-y2\",\"status\":"
		"\"final\",\"code\":{\"coding\":[{\"system\":\"http://loinc.org\",\"code\":"
		"\"8867-4\"}]},\"subject\":{\"reference\":\"Patient/lake-p\"},\"effectiveDateTime\":"
		"\"2032-01-01T05:00:00Z\",\"valueQuantity\":{\"value\":73,\"unit\":\"/min\"}}}]}\n" };
	for (int k = 0; k < 2; k++) {
		snprintf(p, sizeof(p), "%s/edges-%d.json", dir, k);
		f = fopen(p, "w");
		assert_non_null(f);
		fputs(edges[k], f);
		fclose(f);
		ingest(data, p);
		assert_int_equal(last_commit_adds(obs), 2);
	}
	check_all(data);

	/* a DELETE empties that partition: its file goes, none comes */
	snprintf(p, sizeof(p), "%s/delete.json", dir);
	f = fopen(p, "w");
	fputs("{\"resourceType\":\"Bundle\",\"type\":\"transaction\",\"entry\":["
	      "{\"request\":{\"method\":\"DELETE\",\"url\":\"Observation/lake-hr-1\"}}]}\n", f);
	fclose(f);
	ingest(data, p);
	assert_int_equal(last_commit_adds(obs), 0);
	json_t *gone = active_files(obs);
	assert_int_equal(json_object_size(gone), json_object_size(before) + 2);
	check_all(data);

	struct result r = run(NULL, "refine", "--data", data, "--rebuild", NULL);
	assert_int_equal(r.status, 0);
	done(&r);
	check_all(data);
	json_decref(before);
	json_decref(after);
	json_decref(gone);
}

static void test_export(void **state)
{
	char data[300], p[600], out[600], sql[1200];
	(void)state;
	snprintf(data, sizeof(data), "%s/export", dir);
	fresh(data);
	snprintf(p, sizeof(p), "%s/synthea-csv", shared);
	ingest(data, p);
	json_t *q;
	struct result r = run(NULL, "query", "--data", data, "--format", "csv",
			      "SELECT count(*) FROM observation", NULL);
	assert_int_equal(r.status, 0);
	long want = atol(strchr(r.out, '\n') + 1);
	done(&r);
	assert_true(want > 100);

	snprintf(out, sizeof(out), "%s/obs.parquet", dir);
	r = run(NULL, "export", "--data", data, "--table", "observation", "--out", out, NULL);
	assert_int_equal(r.status, 0);
	done(&r);
	snprintf(sql, sizeof(sql), "SELECT count(*), count(DISTINCT id), typeof(any_value("
		 "effective_ts)), typeof(any_value(value)) FROM read_parquet('%s')", out);
	q = duckdb(sql);
	json_t *row = json_array_get(json_object_get(q, "rows"), 0);
	assert_int_equal(atol(json_string_value(json_array_get(row, 0))), want);
	assert_int_equal(atol(json_string_value(json_array_get(row, 1))), want);
	assert_string_equal(json_string_value(json_array_get(row, 2)), "TIMESTAMP WITH TIME ZONE");
	assert_string_equal(json_string_value(json_array_get(row, 3)), "DOUBLE");
	json_decref(q);

	snprintf(out, sizeof(out), "%s/obs.csv", dir);
	r = run(NULL, "export", "--data", data, "--table", "silver.observation", "--format", "csv",
		"--out", out, NULL);
	assert_int_equal(r.status, 0);
	done(&r);
	snprintf(sql, sizeof(sql), "SELECT count(*) FROM read_csv('%s', header = true)", out);
	q = duckdb(sql);
	assert_int_equal(atol(json_string_value(json_array_get(json_array_get(
		json_object_get(q, "rows"), 0), 0))), want);
	json_decref(q);

	snprintf(out, sizeof(out), "%s/adm.ndjson", dir);
	r = run(NULL, "export", "--data", data, "--table", "gold.admissions_daily", "--format",
		"ndjson", "--out", out, NULL);
	assert_int_equal(r.status, 0);
	done(&r);
	char *text = slurp(out);
	long lines = 0;
	for (char *s = text; *s; s++)
		lines += *s == '\n';
	r = run(NULL, "query", "--data", data, "--format", "csv",
		"SELECT count(*) FROM gold_admissions_daily", NULL);
	assert_int_equal(lines, atol(strchr(r.out, '\n') + 1));
	done(&r);
	free(text);

	r = run(NULL, "export", "--data", data, "--table", "nosuch", "--out", out, NULL);
	assert_int_equal(r.status, 2);
	assert_non_null(strstr(r.err, "no table 'nosuch'"));
	done(&r);
	r = run(NULL, "export", "--data", data, "--table", "patient", "--format", "xml", "--out",
		out, NULL);
	assert_int_equal(r.status, 2);
	assert_non_null(strstr(r.err, "--format must be parquet, csv or ndjson"));
	done(&r);
}

/* verify checks the Delta tables too: all well, then a file gone. */
static void test_verify(void **state)
{
	char data[300], p[600];
	(void)state;
	snprintf(data, sizeof(data), "%s/verify", dir);
	fresh(data);
	snprintf(p, sizeof(p), "%s/fhir-r4-examples", shared);
	ingest(data, p);
	struct result r = run(NULL, "verify", "--data", data, "--json", NULL);
	assert_int_equal(r.status, 0);
	json_t *j = json_loads(r.out, 0, NULL);
	assert_true(json_integer_value(json_object_get(j, "lake_tables")) >= 23);
	assert_int_equal(json_integer_value(json_object_get(j, "lake_problems")), 0);
	assert_true(json_is_true(json_object_get(j, "ok")));
	json_decref(j);
	done(&r);
	/* take away one file the patient table's log lists */
	char tdir[600], file[1300];
	snprintf(tdir, sizeof(tdir), "%s/silver/patient", data);
	json_t *files = active_files(tdir);
	const char *path;
	json_t *pv;
	json_object_foreach(files, path, pv) {
		snprintf(file, sizeof(file), "%s/%s", tdir, path);
		break;
	}
	json_decref(files);
	assert_int_equal(unlink(file), 0);
	r = run(NULL, "verify", "--data", data, NULL);
	assert_int_equal(r.status, 1);
	assert_non_null(strstr(r.out, "silver/patient: version"));
	assert_non_null(strstr(r.out, "which is missing"));
	assert_non_null(strstr(r.out, "CORRUPT"));
	done(&r);
}

/* After ten commits a table gets a Parquet checkpoint; DuckDB reads it as
 * the log's state: the same files as replaying the JSON. */
static void test_checkpoint_read_by_duckdb(void **state)
{
	char data[300], p[800], text[300], sql[1600], tdir[400];
	(void)state;
	snprintf(data, sizeof(data), "%s/checkpoint", dir);
	fresh(data);
	for (int i = 0; i < 12; i++) {
		snprintf(p, sizeof(p), "%s/patient-%d.json", dir, i);
		FILE *f = fopen(p, "w");
		assert_non_null(f);
		snprintf(text, sizeof(text), "{\"resourceType\":\"Patient\",\"id\":\"cp-%d\","
			 "\"gender\":\"female\"}\n", i);
		fputs(text, f);
		fclose(f);
		ingest(data, p);
	}
	snprintf(tdir, sizeof(tdir), "%s/silver/patient", data);
	snprintf(p, sizeof(p), "%s/_delta_log/00000000000000000010.checkpoint.parquet", tdir);
	assert_int_equal(access(p, F_OK), 0);
	snprintf(sql, sizeof(sql), "SELECT add.path AS path, add.size AS size FROM read_parquet("
		 "'%s') WHERE add IS NOT NULL", p);
	json_t *res = duckdb(sql), *rows = json_object_get(res, "rows");
	/* version 10's active files, replayed here from the JSON commits */
	char cut[400], cmd[2400];
	snprintf(cut, sizeof(cut), "%s/cut-checkpoint", dir);
	snprintf(cmd, sizeof(cmd), "mkdir -p '%s/_delta_log' && cp '%s'/_delta_log/000000000000000000[0-1][0-9].json "
		 "'%s/_delta_log/' && rm -f '%s/_delta_log/00000000000000000011.json'", cut, tdir, cut, cut);
	assert_int_equal(system(cmd), 0);
	json_t *files = active_files(cut);
	assert_non_null(files);
	assert_int_equal(json_array_size(rows), json_object_size(files));
	size_t i;
	json_t *row;
	json_array_foreach(rows, i, row)
		if (!json_object_get(files, json_string_value(json_array_get(row, 0))))
			fail_msg("the checkpoint lists %s, the JSON log does not",
				 json_string_value(json_array_get(row, 0)));
	json_decref(files);
	json_decref(res);
	struct result r = run(NULL, "table", "show", tdir, "--format", "csv", NULL);
	assert_int_equal(r.status, 0);
	assert_non_null(strstr(r.out, "cp-11"));
	done(&r);
}

/* Every file a log lists exists and DuckDB reads it. */
static void logs_consistent(const char *data)
{
	static const char *const kinds[] = { "silver", "gold" };
	for (int k = 0; k < 2; k++) {
		char base[600];
		snprintf(base, sizeof(base), "%s/%s", data, kinds[k]);
		DIR *d = opendir(base);
		struct dirent *de;
		if (!d)
			continue;
		while ((de = readdir(d))) {
			char tdir[900], sql[200000];
			size_t len = 0;
			if (de->d_name[0] == '.')
				continue;
			snprintf(tdir, sizeof(tdir), "%s/%s", base, de->d_name);
			json_t *files = active_files(tdir);
			if (!files || !json_object_size(files)) {
				json_decref(files);
				continue;
			}
			const char *path;
			json_t *pv;
			len = (size_t)snprintf(sql, sizeof(sql), "SELECT count(*) FROM read_parquet([");
			json_object_foreach(files, path, pv)
				len += (size_t)snprintf(sql + len, sizeof(sql) - len, "%s'%s/%s'",
							len > 40 ? ", " : "", tdir, path);
			snprintf(sql + len, sizeof(sql) - len, "], hive_partitioning = false)");
			json_decref(duckdb(sql));
			json_decref(files);
		}
		closedir(d);
	}
}

static void test_kill_during_loads(void **state)
{
	char data[300], hosp[300];
	(void)state;
	snprintf(data, sizeof(data), "%s/kill", dir);
	fresh(data);
	snprintf(hosp, sizeof(hosp), "%s/hospital-kill", dir);
	struct result r = run(NULL, "generate", "--out", hosp, "--patients", "300", "--seed", "3",
			      NULL);
	assert_int_equal(r.status, 0);
	done(&r);
	srand((unsigned)time(NULL));
	for (int round = 0; round < 6; round++) {
		pid_t pid = fork();
		assert_true(pid >= 0);
		if (pid == 0) {
			int null = open("/dev/null", O_WRONLY);
			dup2(null, 1);
			dup2(null, 2);
			execl(bin, bin, round % 2 ? "refine" : "ingest", "--data", data,
			      round % 2 ? "--rebuild" : hosp, (char *)NULL);
			_exit(127);
		}
		usleep((useconds_t)(50000 + rand() % 900000));
		kill(pid, SIGKILL);
		waitpid(pid, NULL, 0);
		if (access(data, F_OK) == 0)
			logs_consistent(data);
	}
	r = run(NULL, "ingest", "--data", data, hosp, NULL);
	assert_int_equal(r.status, 0);
	done(&r);
	r = run(NULL, "refine", "--data", data, NULL);
	assert_int_equal(r.status, 0);
	done(&r);
	check_all(data);
}

int main(int argc, char **argv)
{
	if (argc < 4) {
		fprintf(stderr, "usage: %s CARELAKE SHARED_DATA DUCK_MJS\n", argv[0]);
		return 2;
	}
	bin = argv[1];
	shared = argv[2];
	duck = argv[3];
	snprintf(dir, sizeof(dir), "/tmp/carelake-test-lake-%d", (int)getpid());
	mkdir(dir, 0700);
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_shared_material),
		cmocka_unit_test(test_changes_and_rebuild),
		cmocka_unit_test(test_export),
		cmocka_unit_test(test_verify),
		cmocka_unit_test(test_checkpoint_read_by_duckdb),
		cmocka_unit_test(test_kill_during_loads),
	};
	int failed = cmocka_run_group_tests(tests, NULL, NULL);
	if (!failed) {
		char cmd[300];
		snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
		if (system(cmd) != 0)
			return 1;
	}
	return failed;
}
