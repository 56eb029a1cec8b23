/*
 * `carelake query` end to end: what the rules of store/cl_query allow (the
 * table-valued functions json_each and json_tree, the schema pragmas as
 * functions and as statements, recursive CTEs, ordinary functions) with the
 * rows they give; what they refuse (functions that reach outside the query,
 * pragmas that read or change settings, other virtual tables, ATTACH,
 * transactions, every kind of write), each with the database unchanged and
 * nothing written beside it; and the limits: an endless recursive CTE
 * stopped by query.timeout, or by query.max_rows when it returns rows; the
 * exact row limit; memory stopped by query.memory_max three ways (SQLite's
 * heap, one value, the rows added up).
 *
 * Usage: test_query /path/to/carelake SHARED_DATA_DIR
 */
#include "cl_test.h"

#include <sys/stat.h>

static const char *bin, *shared;
static char dir[256], data[300];

#include "cli_helpers.h"

/* The data directory every test reads: one patient, from the shared
 * FHIR examples. */
static int setup(void **state)
{
	char src[600];
	struct result r;

	(void)state;
	snprintf(data, sizeof(data), "%s/data", dir);
	snprintf(src, sizeof(src), "%s/fhir-r4-examples/Patient-example.json", shared);
	r = run(NULL, "ingest", "--data", data, src, NULL);
	if (r.status != 0)
		fail_msg("ingest: %s", r.err);
	done(&r);
	return 0;
}

/* The query as CSV; fails the test unless it ran. */
static char *csv(const char *sql)
{
	struct result r = run(NULL, "query", "--data", data, "--format", "csv", sql, NULL);

	if (r.status != 0)
		fail_msg("'%s' failed: %s", sql, r.err);
	free(r.err);
	return r.out;
}

static void test_allowed(void **state)
{
	static const struct {
		const char *sql, *want;
	} cases[] = {
		{ "SELECT key, value FROM json_each('[10,20]')", "key,value\n0,10\n1,20\n" },
		{ "SELECT fullkey, atom FROM json_tree('{\"a\":[7]}') WHERE atom IS NOT NULL",
		  "fullkey,atom\n$.a[0],7\n" },
		{ "SELECT j.value AS v FROM patient, json_each('[\"x\"]') AS j", "v\nx\n" },
		{ "SELECT name, type FROM pragma_table_info('patient') WHERE name = 'gender'",
		  "name,type\ngender,TEXT\n" },
		{ "SELECT name FROM pragma_table_xinfo('patient') WHERE name = 'id'", "name\nid\n" },
		{ "SELECT type FROM pragma_table_list WHERE name = 'patient'", "type\ntable\n" },
		{ "SELECT \"unique\", origin FROM pragma_index_list('patient') WHERE origin = 'pk'",
		  "unique,origin\n1,pk\n" },
		{ "SELECT i.name FROM pragma_index_list('patient') AS l, pragma_index_info(l.name)"
		  " AS i WHERE l.origin = 'pk'", "name\nid\n" },
		{ "SELECT count(*) AS n FROM pragma_foreign_key_list('patient')", "n\n0\n" },
		{ "SELECT count(*) > 0 AS n FROM pragma_function_list WHERE name = 'json_extract'",
		  "n\n1\n" },
		{ "SELECT count(*) > 0 AS n FROM pragma_collation_list", "n\n1\n" },
		{ "WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c WHERE x < 5)"
		  " SELECT sum(x) AS s FROM c", "s\n15\n" },
		{ "SELECT upper('a') AS u, json_extract('{\"a\":2}', '$.a') AS j, abs(-3) AS a",
		  "u,j,a\nA,2,3\n" },
		{ "SELECT id, gender FROM patient", "id,gender\nexample,male\n" },
		{ "SELECT name FROM sqlite_master WHERE name = 'patient'", "name\npatient\n" },
	};

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		char *out = csv(cases[i].sql);

		if (strcmp(out, cases[i].want) != 0)
			fail_msg("'%s' gave '%s', not '%s'", cases[i].sql, out, cases[i].want);
		free(out);
	}
}

/* A pragma allowed as a function is allowed as a statement too. */
static void test_pragma_statement(void **state)
{
	struct result r;

	(void)state;
	r = run(NULL, "query", "--data", data, "--format", "csv", "PRAGMA table_info(patient)",
		NULL);
	assert_int_equal(r.status, 0);
	assert_non_null(strstr(r.out, "cid,name,type,notnull,dflt_value,pk\n0,id,TEXT,"));
	assert_non_null(strstr(r.out, ",gender,TEXT,"));
	done(&r);
	r = run(NULL, "query", "--data", data, "--format", "csv", "PRAGMA index_list(patient)",
		NULL);
	assert_int_equal(r.status, 0);
	assert_non_null(strstr(r.out, ",pk,"));
	done(&r);
}

/* Every table's rows, and the schema, as one text. */
static char *snapshot(void)
{
	return csv("SELECT type || ' ' || name || ' ' || coalesce(sql, '') AS s FROM sqlite_master"
		   " UNION ALL SELECT json_group_array(json_array(id, gender)) FROM patient"
		   " ORDER BY 1");
}

static void test_refused(void **state)
{
	static const char *const refused[] = {
		"SELECT fts3_tokenizer('simple')",
		"SELECT fts3_tokenizer('mine', x'0000000000000000')",
		"SELECT FTS3_TOKENIZER('simple')",
		"SELECT load_extension('/nonexistent/ext')",
		"SELECT fts5(NULL)",
		"PRAGMA journal_mode",
		"PRAGMA journal_mode = DELETE",
		"PRAGMA writable_schema = 1",
		"PRAGMA query_only = 0",
		"PRAGMA database_list",
		"PRAGMA wal_checkpoint(TRUNCATE)",
		"SELECT * FROM pragma_journal_mode",
		"SELECT * FROM pragma_database_list",
		"SELECT * FROM dbstat",
		"SELECT * FROM patient, pragma_compile_options",
		"BEGIN",
		"SAVEPOINT s",
		"ANALYZE",
		"REINDEX",
		"VACUUM",
		"DETACH x",
		"CREATE TABLE t(x)",
		"CREATE TEMP TABLE t(x)",
		"CREATE TEMP VIEW v AS SELECT 1",
		"CREATE INDEX i ON patient(gender)",
		"CREATE VIRTUAL TABLE f USING fts5(x)",
		"DROP TABLE patient",
		"ALTER TABLE patient ADD COLUMN z",
		"INSERT INTO patient(id) VALUES ('y')",
		"UPDATE patient SET gender = 'x'",
		"DELETE FROM patient",
		"WITH d AS (SELECT 1) DELETE FROM patient",
		"REPLACE INTO patient(id) VALUES ('example')",
	};
	char *before = snapshot(), *after, attach[600], target[400];
	struct result r;
	struct stat st;

	(void)state;
	for (size_t i = 0; i < sizeof(refused) / sizeof(refused[0]); i++) {
		r = run(NULL, "query", "--data", data, refused[i], NULL);
		if (r.status != 2 || !strstr(r.err, "carelake query: only reading is allowed: "))
			fail_msg("'%s' was not refused: %d %s", refused[i], r.status, r.err);
		assert_string_equal(r.out, "");
		done(&r);
	}
	/* ATTACH, which would create the file it names */
	snprintf(target, sizeof(target), "%s/attached.db", dir);
	snprintf(attach, sizeof(attach), "ATTACH '%s' AS x", target);
	r = run(NULL, "query", "--data", data, attach, NULL);
	assert_int_equal(r.status, 2);
	assert_non_null(strstr(r.err, "only reading is allowed: the statement would attach"));
	done(&r);
	assert_int_equal(stat(target, &st), -1);
	/* the shell's file functions are not in the library; if a build had
	 * them, they would be refused: either way nothing is read or written */
	snprintf(target, sizeof(target), "%s/written", dir);
	snprintf(attach, sizeof(attach), "SELECT writefile('%s', 'x')", target);
	r = run(NULL, "query", "--data", data, attach, NULL);
	assert_int_equal(r.status, 2);
	done(&r);
	assert_int_equal(stat(target, &st), -1);
	r = run(NULL, "query", "--data", data, "SELECT readfile('/etc/passwd')", NULL);
	assert_int_equal(r.status, 2);
	assert_string_equal(r.out, "");
	done(&r);
	r = run(NULL, "query", "--data", data, "SELECT 1; DELETE FROM patient", NULL);
	assert_int_equal(r.status, 2);
	assert_non_null(strstr(r.err, "one statement at a time"));
	done(&r);

	after = snapshot();
	assert_string_equal(before, after);
	assert_non_null(strstr(after, "example"));
	free(before);
	free(after);
}

/* The statement of the issue: an endless recursive CTE. */
#define ENDLESS "WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c) "

static void test_timeout(void **state)
{
	struct result r;

	(void)state;
	/* returns no row until it ends: only the clock stops it */
	r = run(NULL, "query", "--data", data, "--set", "query.timeout=1s",
		ENDLESS "SELECT count(*) FROM c", NULL);
	assert_int_equal(r.status, 2);
	assert_string_equal(r.err, "carelake query: the query ran longer than query.timeout (1s) "
				   "and was stopped\n");
	assert_string_equal(r.out, "");
	done(&r);
	r = run(NULL, "query", "--data", data, "--set", "query.timeout=250ms",
		ENDLESS "SELECT max(x) FROM c", NULL);
	assert_int_equal(r.status, 2);
	assert_non_null(strstr(r.err, "longer than query.timeout (250ms)"));
	done(&r);
	/* the same statement that ends in time is answered */
	r = run(NULL, "query", "--data", data, "--set", "query.timeout=1m", "--format", "csv",
		"WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c WHERE x < 100000)"
		" SELECT count(*) AS n FROM c", NULL);
	assert_int_equal(r.status, 0);
	assert_string_equal(r.out, "n\n100000\n");
	done(&r);
	r = run(NULL, "query", "--data", data, "--set", "query.timeout=0", "SELECT 1", NULL);
	assert_int_equal(r.status, 2);
	assert_non_null(strstr(r.err, "query.timeout"));
	done(&r);
}

static void test_max_rows(void **state)
{
	struct result r;

	(void)state;
	/* the statement as it was written: its rows stop it */
	r = run(NULL, "query", "--data", data, ENDLESS "SELECT * FROM c", NULL);
	assert_int_equal(r.status, 2);
	assert_string_equal(r.err, "carelake query: the query returned more than query.max_rows "
				   "(100000) rows and was stopped (add a LIMIT, or raise "
				   "query.max_rows)\n");
	assert_string_equal(r.out, "");
	done(&r);
	r = run(NULL, "query", "--data", data, "--set", "query.max_rows=5", "--format", "csv",
		ENDLESS "SELECT x FROM c LIMIT 5", NULL);
	assert_int_equal(r.status, 0);
	assert_string_equal(r.out, "x\n1\n2\n3\n4\n5\n");
	done(&r);
	r = run(NULL, "query", "--data", data, "--set", "query.max_rows=5", "--format", "json",
		ENDLESS "SELECT x FROM c LIMIT 6", NULL);
	assert_int_equal(r.status, 2);
	assert_non_null(strstr(r.err, "more than query.max_rows (5) rows"));
	assert_string_equal(r.out, "");
	done(&r);
}

/* Four values of 2.6 MB each: no one of them is over 8 MiB, the one
 * number returned is small, but together they are more than 8 MiB of
 * SQLite's heap. */
#define FOUR_VALUES                                                                 \
	"SELECT length(a) + length(b) + length(c) + length(d) AS n FROM (SELECT"   \
	" hex(zeroblob(1300000)) AS a, hex(zeroblob(1300000)) AS b, hex(zeroblob(1300000))" \
	" AS c, hex(zeroblob(1300000)) AS d)"

static void test_memory(void **state)
{
	static const char *const stopped[] = {
		/* SQLite's heap */
		FOUR_VALUES,
		/* one value */
		"SELECT length(hex(zeroblob(5000000)))",
		"WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c WHERE x < 300)"
		" SELECT length(group_concat(hex(zeroblob(20000)))) FROM c",
		/* the rows added up, each small */
		"WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c WHERE x < 100)"
		" SELECT hex(zeroblob(50000)) FROM c",
	};
	struct result r;

	(void)state;
	for (size_t i = 0; i < sizeof(stopped) / sizeof(stopped[0]); i++) {
		r = run(NULL, "query", "--data", data, "--set", "query.memory_max=8MiB", "--format",
			"json", stopped[i], NULL);
		if (r.status != 2 || strcmp(r.err, "carelake query: the query needed more memory "
					    "than query.memory_max (8MiB) and was stopped\n") != 0)
			fail_msg("'%s' was not stopped: %d %s", stopped[i], r.status, r.err);
		assert_string_equal(r.out, "");
		done(&r);
	}
	/* each of them runs within the default */
	r = run(NULL, "query", "--data", data, "--format", "csv", FOUR_VALUES, NULL);
	assert_int_equal(r.status, 0);
	assert_string_equal(r.out, "n\n10400000\n");
	done(&r);
	for (size_t i = 1; i < sizeof(stopped) / sizeof(stopped[0]); i++) {
		r = run(NULL, "query", "--data", data, "--format", "csv", stopped[i], NULL);
		if (r.status != 0)
			fail_msg("'%s' failed within the default: %s", stopped[i], r.err);
		done(&r);
	}
}

static void test_no_database(void **state)
{
	char none[400];
	struct result r;

	(void)state;
	snprintf(none, sizeof(none), "%s/none", dir);
	r = run(NULL, "query", "--data", none, "SELECT 1", NULL);
	assert_int_equal(r.status, 2);
	assert_non_null(strstr(r.err, "carelake.db"));
	assert_non_null(strstr(r.err, "load something first: carelake ingest"));
	done(&r);
}

int main(int argc, char **argv)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_allowed),
		cmocka_unit_test(test_pragma_statement),
		cmocka_unit_test(test_refused),
		cmocka_unit_test(test_timeout),
		cmocka_unit_test(test_max_rows),
		cmocka_unit_test(test_memory),
		cmocka_unit_test(test_no_database),
	};
	int rc;

	if (argc < 3) {
		fprintf(stderr, "usage: test_query CARELAKE SHARED_DATA\n");
		return 2;
	}
	bin = argv[1];
	shared = argv[2];
	cl_test_tmpdir(dir, sizeof(dir));
	rc = cmocka_run_group_tests(tests, setup, NULL);
	if (rc == 0)
		cl_test_rmtree(dir);
	return rc;
}
