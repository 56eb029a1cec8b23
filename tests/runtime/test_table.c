/*
 * `carelake table show|history` against an independent reader:
 * - every file of ../shared/data/parquet-testing (plain, dictionary,
 *   snappy, zstd byte-stream-split, data page v2, RLE booleans, INT96,
 *   LZ4 raw, nulls, nested lists and maps) reads with the same rows as
 *   DuckDB reads;
 * - every Delta table of ../shared/data/delta-tables (a delete, partitions,
 *   a checkpoint) at every version: the same rows as DuckDB reads from the
 *   files that version's log lists (replayed here, not by carelake);
 * - time travel by timestamp, history, and clear errors.
 *
 * Usage: test_table /path/to/carelake SHARED_DATA_DIR DUCK_MJS
 */
#include "cl_test.h"

#include <jansson.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/cl_time.h"

static const char *bin, *shared, *duck;
static char dir[256];

#include "cli_helpers.h"
#include "duck_helpers.h"

/* One value as text both readers agree on: numbers in 15 digits, times
 * as microseconds, strings as they are. */
static void canon(json_t *x, char *buf, size_t cap)
{
	int64_t us;
	if (!x || json_is_null(x)) {
		snprintf(buf, cap, "null");
	} else if (json_is_boolean(x)) {
		snprintf(buf, cap, "%s", json_is_true(x) ? "true" : "false");
	} else if (json_is_number(x)) {
		snprintf(buf, cap, "%.15g", json_number_value(x));
	} else if (json_is_string(x)) {
		const char *s = json_string_value(x);
		char iso[64];
		size_t n = strlen(s);
		/* "2009-03-01 00:00:00[.ffffff][+00]" or "...T...Z": an instant */
		if (n >= 19 && n < 40 && s[4] == '-' && s[7] == '-' && (s[10] == ' ' || s[10] == 'T') &&
		    s[13] == ':') {
			snprintf(iso, sizeof(iso), "%s", s);
			iso[10] = 'T';
			char *z = strchr(iso + 19, '+');
			if (z)
				*z = 0;
			if (iso[strlen(iso) - 1] != 'Z')
				strcat(iso, "Z");
			if (cl_time_parse_rfc3339(iso, strlen(iso), &us) == 0) {
				snprintf(buf, cap, "%lld", (long long)us);
				return;
			}
		}
		char *end;
		double d = strtod(s, &end);
		if (n && !*end && end != s && strspn(s, "-0123456789") == n)
			snprintf(buf, cap, "%.15g", d); /* DuckDB's BIGINT as a string */
		else
			snprintf(buf, cap, "%s", s);
	} else {
		char *s = json_dumps(x, JSON_COMPACT | JSON_ENCODE_ANY | JSON_SORT_KEYS);
		snprintf(buf, cap, "%s", s ? s : "?");
		free(s);
	}
}

static int cmp_str(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Rows of `objs` (objects) as sorted canonical strings over `cols`. */
static char **canon_rows(json_t *objs, json_t *cols, size_t *n)
{
	size_t i, c;
	json_t *row, *name;
	*n = json_array_size(objs);
	char **out = malloc((*n + 1) * sizeof(char *));
	json_array_foreach(objs, i, row) {
		char buf[8192] = "", v[2048];
		json_array_foreach(cols, c, name) {
			canon(json_object_get(row, json_string_value(name)), v, sizeof(v));
			strncat(buf, v, sizeof(buf) - strlen(buf) - 2);
			strcat(buf, "|");
		}
		out[i] = strdup(buf);
	}
	qsort(out, *n, sizeof(char *), cmp_str);
	return out;
}

/* DuckDB's result as an array of objects. */
static json_t *duck_objects(json_t *res)
{
	json_t *cols = json_object_get(res, "columns"), *rows = json_object_get(res, "rows");
	json_t *out = json_array();
	size_t i, c;
	json_t *row;
	json_array_foreach(rows, i, row) {
		json_t *o = json_object();
		for (c = 0; c < json_array_size(cols); c++)
			json_object_set(o, json_string_value(json_object_get(json_array_get(cols, c),
									     "name")),
					json_array_get(row, c));
		json_array_append_new(out, o);
	}
	json_decref(res);
	return out;
}

/* carelake's rows (table show --format json) against DuckDB's. */
static void compare(const char *what, json_t *ours, json_t *theirs)
{
	json_t *cols = json_array();
	const char *k;
	json_t *v;
	if (json_array_size(ours))
		json_object_foreach(json_array_get(ours, 0), k, v)
			json_array_append_new(cols, json_string(k));
	size_t n1, n2;
	char **a = canon_rows(ours, cols, &n1), **b = canon_rows(theirs, cols, &n2);
	if (n1 != n2)
		fail_msg("%s: carelake reads %zu rows, DuckDB %zu", what, n1, n2);
	for (size_t i = 0; i < n1; i++) {
		if (strcmp(a[i], b[i]) != 0)
			fail_msg("%s: rows differ:\n  carelake %.500s\n  DuckDB   %.500s", what, a[i], b[i]);
		free(a[i]);
		free(b[i]);
	}
	free(a);
	free(b);
	json_decref(cols);
}

static json_t *show(const char *path, const char *version)
{
	struct result r = version ? run(NULL, "table", "show", path, "--format", "json", "--version",
					version, NULL)
				  : run(NULL, "table", "show", path, "--format", "json", NULL);
	if (r.status != 0)
		fail_msg("table show %s: %s", path, r.err);
	json_t *j = json_loads(r.out, 0, NULL);
	if (!json_is_array(j))
		fail_msg("table show %s printed no JSON array", path);
	done(&r);
	return j;
}

static void test_parquet_files(void **state)
{
	static const char *const flat[] = {
		"alltypes_dictionary", "alltypes_plain", "alltypes_plain.snappy",
		"byte_stream_split.zstd", "int96_from_spark", "lz4_raw_compressed",
		"nulls.snappy", "rle_boolean_encoding", "datapage_v2.snappy",
	};
	char path[600], sql[900];
	(void)state;
	for (size_t i = 0; i < sizeof(flat) / sizeof(flat[0]); i++) {
		snprintf(path, sizeof(path), "%s/parquet-testing/%s.parquet", shared, flat[i]);
		json_t *ours = show(path, NULL);
		/* DuckDB: structs flattened to the dotted names carelake uses */
		if (strcmp(flat[i], "nulls.snappy") == 0)
			snprintf(sql, sizeof(sql), "SELECT b_struct.b_c_int AS \"b_struct.b_c_int\" FROM "
				 "read_parquet('%s', binary_as_string = true)", path);
		else if (strcmp(flat[i], "int96_from_spark") == 0)
			/* its last time is beyond any calendar; carelake reads it as null */
			snprintf(sql, sizeof(sql), "SELECT CASE WHEN year(a) BETWEEN 1 AND 9999 THEN a "
				 "END AS a FROM read_parquet('%s')", path);
		else if (strcmp(flat[i], "datapage_v2.snappy") == 0)
			snprintf(sql, sizeof(sql), "SELECT a, b, c, d FROM read_parquet('%s')", path);
		else
			snprintf(sql, sizeof(sql), "SELECT * FROM read_parquet('%s', binary_as_string = "
				 "true)", path);
		json_t *theirs = duck_objects(duckdb(sql));
		if (strcmp(flat[i], "datapage_v2.snappy") == 0) {
			/* the list column e, checked by value below */
			size_t k;
			json_t *o;
			json_array_foreach(ours, k, o)
				json_object_del(o, "e");
		}
		compare(flat[i], ours, theirs);
		json_decref(ours);
		json_decref(theirs);
	}
	/* lists and maps, as JSON */
	snprintf(path, sizeof(path), "%s/parquet-testing/nullable.impala.parquet", shared);
	json_t *rows = show(path, NULL);
	assert_int_equal(json_array_size(rows), 7);
	json_t *want = json_loads("{\"id\": 2, \"int_array\": [null, 1, 2, null, 3, null], "
		"\"int_array_Array\": [[null, 1, 2, null], [3, null, 4], [], null], \"int_map\": "
		"{\"k1\": 2, \"k2\": null}, \"int_Map_Array\": [{\"k3\": null, \"k1\": 1}, null, {}]}",
		0, NULL);
	json_t *got = json_array_get(rows, 1);
	const char *k;
	json_t *v;
	json_object_foreach(want, k, v)
		if (!json_equal(json_object_get(got, k), v))
			fail_msg("nullable.impala row 2: %s differs", k);
	json_decref(want);
	json_decref(rows);
	snprintf(path, sizeof(path), "%s/parquet-testing/datapage_v2.snappy.parquet", shared);
	rows = show(path, NULL);
	want = json_loads("[1, 2, 3]", 0, NULL);
	assert_true(json_equal(json_object_get(json_array_get(rows, 0), "e"), want));
	json_decref(want);
	json_decref(rows);
}

/* Every version of every shared Delta table. */
static void test_delta_tables(void **state)
{
	static const char *const tables[] = {
		"simple_table", "simple_table_with_checkpoint", "delta-0.8.0",
		"delta-0.8.0-partitioned", "basic_partitioned", "table-without-dv-small",
	};
	(void)state;
	int versions = 0;
	for (size_t t = 0; t < sizeof(tables) / sizeof(tables[0]); t++) {
		char tdir[600], logdir[700];
		_Static_assert(sizeof(dir) < 300, "short scratch paths");
		snprintf(tdir, sizeof(tdir), "%s/delta-tables/%s", shared, tables[t]);
		snprintf(logdir, sizeof(logdir), "%s/_delta_log", tdir);
		struct dirent **names;
		int n = scandir(logdir, &names, NULL, alphasort);
		assert_true(n > 0);
		for (int i = 0; i < n; i++) {
			const char *nm = names[i]->d_name;
			if (strlen(nm) == 25 && strcmp(nm + 20, ".json") == 0) {
				char ver[32], cut[600], sql[8192];
				snprintf(ver, sizeof(ver), "%lld", atoll(nm));
				/* the log up to this version, replayed here */
				snprintf(cut, sizeof(cut), "%s/cut-%s-%s", dir, tables[t], ver);
				char cmd[4000];
				snprintf(cmd, sizeof(cmd), "mkdir -p '%s/_delta_log' && for f in '%s'/0*.json; do "
					 "b=$(basename \"$f\"); [ \"$b\" \\> '%s' ] || cp \"$f\" '%s/_delta_log/'; "
					 "done", cut, logdir, nm, cut);
				assert_int_equal(system(cmd), 0);
				json_t *files = active_files(cut);
				json_t *ours = show(tdir, ver);
				size_t len = (size_t)snprintf(sql, sizeof(sql), "SELECT * FROM read_parquet([");
				const char *p;
				json_t *pv;
				int first = 1;
				json_object_foreach(files, p, pv) {
					len += (size_t)snprintf(sql + len, sizeof(sql) - len, "%s'%s/%s'",
								first ? "" : ", ", tdir, p);
					first = 0;
				}
				snprintf(sql + len, sizeof(sql) - len, "], hive_partitioning = true)");
				json_t *theirs = first ? json_array() : duck_objects(duckdb(sql));
				char what[200];
				snprintf(what, sizeof(what), "%s version %s", tables[t], ver);
				compare(what, ours, theirs);
				json_decref(ours);
				json_decref(theirs);
				json_decref(files);
				versions++;
			}
			free(names[i]);
		}
		free(names);
	}
	assert_true(versions >= 21);
}

static void test_time_travel_and_history(void **state)
{
	char tdir[600];
	(void)state;
	snprintf(tdir, sizeof(tdir), "%s/delta-tables/delta-0.8.0", shared);
	/* version 0 was committed at 2021-03-06T15:16:07.813Z, version 1 at ...16.199Z */
	struct result r = run(NULL, "table", "show", tdir, "--timestamp", "2021-03-06T15:16:10Z",
			      "--format", "csv", NULL);
	assert_int_equal(r.status, 0);
	int lines = 0;
	for (char *s = r.out; *s; s++)
		lines += *s == '\n';
	done(&r);
	json_t *v0 = show(tdir, "0");
	assert_int_equal(lines, (int)json_array_size(v0) + 1); /* and a header */
	json_decref(v0);

	r = run(NULL, "table", "history", tdir, "--json", NULL);
	assert_int_equal(r.status, 0);
	json_t *h = json_loads(r.out, 0, NULL);
	assert_int_equal(json_array_size(h), 2);
	assert_string_equal(json_string_value(json_object_get(json_array_get(h, 1), "operation")),
			    "DELETE");
	json_decref(h);
	done(&r);

	r = run(NULL, "table", "show", tdir, "--version", "9", NULL);
	assert_int_not_equal(r.status, 0);
	assert_non_null(strstr(r.err, "version 9 does not exist"));
	assert_non_null(strstr(r.err, "versions 0 to 1"));
	done(&r);
	r = run(NULL, "table", "show", tdir, "--timestamp", "2001-01-01T00:00:00Z", NULL);
	assert_int_not_equal(r.status, 0);
	assert_non_null(strstr(r.err, "no version committed at or before"));
	done(&r);
	r = run(NULL, "table", "show", dir, NULL);
	assert_int_not_equal(r.status, 0);
	assert_non_null(strstr(r.err, "no Delta table at"));
	done(&r);
	r = run(NULL, "table", "show", tdir, "--version", "0", "--timestamp", "2021-03-06T15:16:10Z",
		NULL);
	assert_int_equal(r.status, 2);
	done(&r);
	r = run(NULL, "table", "show", tdir, "--format", "xml", NULL);
	assert_int_equal(r.status, 2);
	done(&r);
}

/* optimize then vacuum a copy of a table other engines wrote: the rows
 * stay the same (to carelake and to DuckDB reading the new active files),
 * the old files go only when vacuumed, and only past the retention. */
static void test_optimize_vacuum(void **state)
{
	char src[600], copy[300], cmd[1400];
	(void)state;
	snprintf(src, sizeof(src), "%s/delta-tables/simple_table", shared);
	snprintf(copy, sizeof(copy), "%s/simple_copy", dir);
	snprintf(cmd, sizeof(cmd), "rm -rf '%s' && cp -r '%s' '%s'", copy, src, copy);
	assert_int_equal(system(cmd), 0);
	json_t *before = show(copy, NULL);
	json_t *files_before = active_files(copy);
	assert_true(json_object_size(files_before) > 1);

	struct result r = run(NULL, "optimize", copy, NULL);
	assert_int_equal(r.status, 0);
	assert_non_null(strstr(r.out, "into 1"));
	done(&r);
	json_t *files = active_files(copy);
	assert_int_equal(json_object_size(files), 1);
	json_t *after = show(copy, NULL);
	compare("optimized simple_table", after, before);
	const char *p;
	json_t *pv;
	json_object_foreach(files, p, pv) {
		char sql[900];
		snprintf(sql, sizeof(sql), "SELECT * FROM read_parquet('%s/%s')", copy, p);
		json_t *theirs = duck_objects(duckdb(sql));
		compare("the compacted file, read by DuckDB", after, theirs);
		json_decref(theirs);
	}
	/* the default retention (7 days) takes the files removed in 2020, not
	 * those optimize removed just now: the version before it still reads */
	r = run(NULL, "vacuum", copy, NULL);
	assert_int_equal(r.status, 0);
	assert_null(strstr(r.out, "deleted 0 files"));
	done(&r);
	json_t *v4 = show(copy, "4");
	compare("simple_table version 4 after a vacuum", v4, before);
	json_decref(v4);
	r = run(NULL, "vacuum", copy, "--retention", "0s", "--dry-run", NULL);
	assert_int_equal(r.status, 0);
	assert_non_null(strstr(r.out, "would delete"));
	done(&r);
	json_t *again = show(copy, "4"); /* the dry run deleted nothing */
	json_decref(again);
	r = run(NULL, "vacuum", copy, "--retention", "0s", NULL);
	assert_int_equal(r.status, 0);
	done(&r);
	json_t *last = show(copy, NULL);
	compare("vacuumed simple_table", last, before);
	r = run(NULL, "table", "show", copy, "--version", "4", NULL);
	assert_int_not_equal(r.status, 0); /* its files are gone, and it says so */
	assert_non_null(strstr(r.err, "No such file"));
	done(&r);
	json_decref(before);
	json_decref(after);
	json_decref(last);
	json_decref(files);
	json_decref(files_before);
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
	snprintf(dir, sizeof(dir), "/tmp/carelake-test-table-%d", (int)getpid());
	mkdir(dir, 0700);
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_parquet_files),
		cmocka_unit_test(test_delta_tables),
		cmocka_unit_test(test_time_travel_and_history),
		cmocka_unit_test(test_optimize_vacuum),
	};
	int failed = cmocka_run_group_tests(tests, NULL, NULL);
	if (!failed)
		cl_test_rmtree(dir);
	return failed;
}
