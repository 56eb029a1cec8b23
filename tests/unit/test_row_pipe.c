/*
 * Rows built on one thread and written on another (cl_row_pipe.c), into
 * an in-memory silver: many blocks of rows and quarantine entries written
 * in the producer's order, with the counts a load on one thread makes; a
 * producer's error returned with its message after the rows before it; a
 * failed write (an expectation whose action is fail) returned with its
 * message, the producer stopped and every row it built released (rows
 * with text outside their buffer among them: the ASan build finds a leak);
 * a quarantined record's text copied when it lies outside the kept
 * buffer; and the same outcomes when no thread can be made.
 */
#include "cl_test.h"
#include "batch/cl_row_pipe.h"
#include "batch/cl_silver.h"
#include "core/cl_error.h"
#include "core/cl_worker.h"

#include <sqlite3.h>
#include <stdio.h>

static sqlite3 *db;
static struct cl_silver *silver;
static struct cl_silver_counts counts;

static int setup(void **state)
{
	(void)state;
	if (sqlite3_open(":memory:", &db) != SQLITE_OK || cl_silver_open(db, &silver) != CL_OK)
		return -1;
	return 0;
}

static int teardown(void **state)
{
	(void)state;
	cl_thread_fail_reset();
	cl_silver_close(silver);
	sqlite3_close(db);
	return 0;
}

static long query_long(const char *sql)
{
	sqlite3_stmt *q;
	long v = -1;

	assert_int_equal(sqlite3_prepare_v2(db, sql, -1, &q, NULL), SQLITE_OK);
	if (sqlite3_step(q) == SQLITE_ROW)
		v = (long)sqlite3_column_int64(q, 0);
	sqlite3_finalize(q);
	return v;
}

/* What the test producer makes: n rows, every `quarantine_every`th a
 * quarantine entry instead; at row `fail_at` (if > 0) it fails. Every
 * 7th row carries a display longer than a row's buffer. */
struct plan {
	int n, quarantine_every, fail_at;
	int stopped;               /* it was told to stop */
};

static char long_text[10000];

static int produce(struct cl_row_pipe *p, void *arg)
{
	struct plan *pl = arg;
	const struct cl_table *t = cl_silver_table("observation");

	for (int i = 0; i < pl->n; i++) {
		char id[32], record[32];
		struct cl_row *r;
		int rc;

		if (pl->fail_at && i == pl->fail_at)
			return cl_error_set(CL_EPARSE, "the test's producer failed at row %d", i);
		snprintf(record, sizeof(record), "line %d", i + 2);
		if (pl->quarantine_every && i % pl->quarantine_every == 0) {
			char raw[32];

			/* text in a buffer of the producer's own, reused at once */
			snprintf(raw, sizeof(raw), "raw %d", i);
			rc = cl_row_pipe_quarantine(p, "observation", record, "the test's reason",
						    raw, strlen(raw), NULL, 0);
			memset(raw, 'x', sizeof(raw));
		} else {
			r = cl_row_pipe_next(p, t, record);
			if (!r) {
				pl->stopped = 1;
				return CL_ECLOSED;
			}
			snprintf(id, sizeof(id), "o%05d", i);
			cl_row_text(r, "id", id, strlen(id));
			cl_row_text(r, "resource_id", id, strlen(id));
			cl_row_text(r, "patient_id", "p1", 2);
			cl_row_text(r, "code", "8867-4", 6);
			if (i % 7 == 0)
				cl_row_text(r, "display", long_text, sizeof(long_text) - 1);
			cl_row_real(r, "value", (double)i);
			rc = cl_row_pipe_put(p);
		}
		if (rc) {
			pl->stopped = 1;
			return rc;
		}
	}
	return CL_OK;
}

/* Runs the plan in a transaction (kept when it succeeds). */
static int run(struct plan *pl)
{
	int rc;

	memset(&counts, 0, sizeof(counts));
	assert_int_equal(cl_silver_clear(silver), CL_OK);
	assert_int_equal(sqlite3_exec(db, "BEGIN", NULL, NULL, NULL), SQLITE_OK);
	cl_silver_lineage(silver, "test", "0000", 1, &counts);
	rc = cl_row_pipe_run(silver, &counts, produce, pl);
	if (rc == CL_OK)
		assert_int_equal(cl_silver_before_commit(silver), CL_OK);
	assert_int_equal(sqlite3_exec(db, rc ? "ROLLBACK" : "COMMIT", NULL, NULL, NULL), SQLITE_OK);
	cl_silver_txn_end(silver);
	return rc;
}

static void rows_and_quarantine_in_order(void **state)
{
	struct plan pl = { .n = 5000, .quarantine_every = 10 };

	(void)state;
	assert_int_equal(run(&pl), CL_OK);
	assert_int_equal(counts.records, 5000);
	assert_int_equal(counts.accepted, 4500);
	assert_int_equal(counts.quarantined, 500);
	assert_int_equal(query_long("SELECT count(*) FROM observation"), 4500);
	/* written in the producer's order: the rowids follow the ids */
	assert_int_equal(query_long("SELECT count(*) FROM (SELECT id, lag(id) OVER (ORDER BY"
				    " rowid) AS prev FROM observation) WHERE prev > id"), 0);
	assert_int_equal(query_long("SELECT count(*) FROM observation WHERE length(display) ="
				    " 9999"), 643);
	/* the quarantine's raw text as it was when handed over */
	assert_int_equal(query_long("SELECT count(*) FROM quarantine WHERE raw = 'raw ' ||"
				    " (CAST(substr(record, 6) AS INTEGER) - 2)"), 500);
	assert_int_equal(query_long("SELECT max(rowid) - min(rowid) FROM quarantine"), 499);
}

static void producer_error_after_rows(void **state)
{
	struct plan pl = { .n = 5000, .fail_at = 1700 };
	int rc;

	(void)state;
	assert_int_equal(cl_silver_clear(silver), CL_OK);
	assert_int_equal(sqlite3_exec(db, "BEGIN", NULL, NULL, NULL), SQLITE_OK);
	memset(&counts, 0, sizeof(counts));
	cl_silver_lineage(silver, "test", "0000", 1, &counts);
	rc = cl_row_pipe_run(silver, &counts, produce, &pl);
	assert_int_equal(rc, CL_EPARSE);
	assert_string_equal(cl_error_detail(), "the test's producer failed at row 1700");
	/* every row before it written (the caller rolls back the file) */
	assert_int_equal(counts.accepted, 1700);
	assert_int_equal(query_long("SELECT count(*) FROM observation"), 1700);
	assert_int_equal(sqlite3_exec(db, "ROLLBACK", NULL, NULL, NULL), SQLITE_OK);
	cl_silver_txn_end(silver);
}

static void write_error_stops_the_producer(void **state)
{
	struct cl_expectation e = { .table = "observation", .name = "small",
				    .check = "value < 3000", .action = CL_EXPECT_FAIL };
	struct plan pl = { .n = 20000 };
	int rc;

	(void)state;
	assert_int_equal(cl_silver_expect(silver, &e, 1), CL_OK);
	rc = run(&pl);
	assert_int_equal(rc, CL_EINVAL);
	assert_non_null(strstr(cl_error_detail(), "o03000 (line 3002): expectation small failed"));
	assert_int_equal(counts.accepted, 3000);
	/* told to stop long before the end: a few blocks ahead at most */
	assert_int_equal(pl.stopped, 1);
	assert_int_equal(cl_silver_expect(silver, NULL, 0), CL_OK);
}

static void without_a_thread(void **state)
{
	struct plan pl = { .n = 3000, .quarantine_every = 3 };
	struct plan bad = { .n = 3000, .fail_at = 999 };

	(void)state;
	cl_thread_fail_after(0);
	assert_int_equal(run(&pl), CL_OK);
	assert_int_equal(counts.accepted, 2000);
	assert_int_equal(counts.quarantined, 1000);
	assert_int_equal(query_long("SELECT count(*) FROM quarantine WHERE raw = 'raw ' ||"
				    " (CAST(substr(record, 6) AS INTEGER) - 2)"), 1000);
	assert_int_equal(run(&bad), CL_EPARSE);
	assert_string_equal(cl_error_detail(), "the test's producer failed at row 999");
	cl_thread_fail_reset();
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(rows_and_quarantine_in_order),
		cmocka_unit_test(producer_error_after_rows),
		cmocka_unit_test(write_error_stops_the_producer),
		cmocka_unit_test(without_a_thread),
	};

	memset(long_text, 'a', sizeof(long_text) - 1);
	return cmocka_run_group_tests(tests, setup, teardown);
}
