/*
 * A helper for runtime tests that read carelake.db with SQLite directly:
 * one number from a query, failing the test when the query fails.
 */
#ifndef SQL_HELPERS_H
#define SQL_HELPERS_H

#include "cl_test.h"

#include <sqlite3.h>

/* The first column of the first row of sql, as a number. */
static inline long scalar(sqlite3 *h, const char *sql)
{
	sqlite3_stmt *st;
	long n;

	if (sqlite3_prepare_v2(h, sql, -1, &st, NULL) != SQLITE_OK)
		fail_msg("%s: %s", sql, sqlite3_errmsg(h));
	assert_int_equal(sqlite3_step(st), SQLITE_ROW);
	n = (long)sqlite3_column_int64(st, 0);
	sqlite3_finalize(st);
	return n;
}

#endif
