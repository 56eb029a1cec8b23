/*
 * Opening carelake.db (store/cl_db.c): read-only on a data directory with
 * no database is CL_ENOENT and creates nothing; read-write creates it with
 * mode 0600 in WAL mode; a read-only handle sees what was written and
 * cannot write; a path too long is refused.
 */
#include "cl_test.h"
#include "core/cl_error.h"
#include "store/cl_db.h"

#include <sqlite3.h>
#include <sys/stat.h>

static void test_modes(void **state)
{
	char dir[256], path[512], *mode = NULL, big[5000];
	sqlite3 *db = NULL, *ro = NULL;
	sqlite3_stmt *q;
	struct stat st;

	(void)state;
	cl_test_tmpdir(dir, sizeof(dir));
	snprintf(path, sizeof(path), "%s/carelake.db", dir);
	assert_int_equal(cl_db_open(dir, CL_DB_READONLY, &ro), CL_ENOENT);
	assert_null(ro);
	assert_non_null(strstr(cl_error_detail(), "carelake.db"));
	assert_int_equal(stat(path, &st), -1);

	assert_int_equal(cl_db_open(dir, CL_DB_READWRITE, &db), CL_OK);
	assert_int_equal(stat(path, &st), 0);
	assert_int_equal(st.st_mode & 0777, 0600);
	assert_int_equal(sqlite3_prepare_v2(db, "PRAGMA journal_mode", -1, &q, NULL), SQLITE_OK);
	assert_int_equal(sqlite3_step(q), SQLITE_ROW);
	mode = strdup((const char *)sqlite3_column_text(q, 0));
	sqlite3_finalize(q);
	assert_string_equal(mode, "wal");
	free(mode);
	assert_int_equal(sqlite3_exec(db, "CREATE TABLE t(x); INSERT INTO t VALUES (42)", NULL,
				      NULL, NULL), SQLITE_OK);

	assert_int_equal(cl_db_open(dir, CL_DB_READONLY, &ro), CL_OK);
	assert_int_equal(sqlite3_prepare_v2(ro, "SELECT x FROM t", -1, &q, NULL), SQLITE_OK);
	assert_int_equal(sqlite3_step(q), SQLITE_ROW);
	assert_int_equal(sqlite3_column_int(q, 0), 42);
	sqlite3_finalize(q);
	assert_int_equal(sqlite3_exec(ro, "INSERT INTO t VALUES (1)", NULL, NULL, NULL),
			 SQLITE_READONLY);
	sqlite3_close(ro);
	sqlite3_close(db);

	memset(big, 'a', sizeof(big) - 1);
	big[sizeof(big) - 1] = '\0';
	assert_int_equal(cl_db_open(big, CL_DB_READWRITE, &db), CL_EINVAL);
	assert_null(db);
	cl_test_rmtree(dir);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_modes),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
