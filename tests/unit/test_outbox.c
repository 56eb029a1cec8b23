/*
 * The alert outbox's named cursors (store/cl_store_outbox.c).
 *
 * Two consumers read the same entries independently: an entry leaves the
 * outbox only when both are past it; a cursor never moves back; pending
 * counts what one has still to deliver. A consumer no longer named loses
 * its cursor (and with none, the outbox is emptied and written no more).
 * Acknowledging an alert puts its acknowledgement in the outbox, once.
 * A store from before the cursors (the webhook removing what it
 * delivered) gains the webhook's cursor just before the oldest entry
 * left, so it resumes where it was.
 *
 * The rollup outbox: a new rollup of the window named is queued once (a
 * replay storing it again is not), other windows not at all; next gives
 * it as JSON with its statistics; done removes it.
 *
 * The store's rollups for the lake: the days a transaction changed are
 * noted as it commits. vital_event's index by time covers the window
 * query, and older stores have theirs replaced.
 */
#include "cl_test.h"
#include "core/cl_error.h"
#include "store/cl_db.h"
#include "store/cl_store.h"
#include "store/cl_store_outbox.h"
#include "model/cl_rollup.h"

#include <sqlite3.h>

static int64_t count(struct cl_store *st)
{
	int64_t n = -1;

	assert_int_equal(cl_store_outbox_count(st, &n), CL_OK);
	return n;
}

static void put(struct cl_store *st, const char *json)
{
	assert_int_equal(cl_store_outbox_put(st, json, strlen(json)), CL_OK);
}

static void test_two_cursors(void **state)
{
	const char *both[] = { "webhook", "kafka" };
	struct cl_store *st;
	char dir[256], *json;
	int64_t seq, n;

	(void)state;
	cl_test_tmpdir(dir, sizeof(dir));
	assert_int_equal(cl_store_create(dir, &st), CL_OK);
	assert_int_equal(cl_store_outbox_consumers(st, both, 2), CL_OK);
	put(st, "{\"n\":1}");
	put(st, "{\"n\":2}");
	put(st, "{\"n\":3}");
	assert_int_equal(count(st), 3);
	assert_int_equal(cl_store_outbox_cursor(st, "kafka", &seq), CL_OK);
	assert_int_equal(seq, 0);
	assert_int_equal(cl_store_outbox_next(st, seq, &seq, &json), CL_OK);
	assert_string_equal(json, "{\"n\":1}");
	free(json);

	/* the webhook is done with two: both stay, kafka has not read them */
	assert_int_equal(cl_store_outbox_advance(st, "webhook", 2), CL_OK);
	assert_int_equal(count(st), 3);
	assert_int_equal(cl_store_outbox_pending(st, 2, &n), CL_OK);
	assert_int_equal(n, 1);
	/* kafka done with all three: the first two leave, the third waits */
	assert_int_equal(cl_store_outbox_advance(st, "kafka", 3), CL_OK);
	assert_int_equal(count(st), 1);
	/* never back */
	assert_int_equal(cl_store_outbox_advance(st, "kafka", 1), CL_OK);
	assert_int_equal(cl_store_outbox_cursor(st, "kafka", &seq), CL_OK);
	assert_int_equal(seq, 3);
	assert_int_equal(cl_store_outbox_next(st, seq, &seq, &json), CL_ENOENT);

	/* the webhook is no longer run: its cursor goes, and what only it
	 * held back with it */
	assert_int_equal(cl_store_outbox_consumers(st, both + 1, 1), CL_OK);
	assert_int_equal(count(st), 0);
	assert_int_equal(cl_store_outbox_consumers_count(st, &n), CL_OK);
	assert_int_equal(n, 1);
	/* nobody: nothing is written */
	assert_int_equal(cl_store_outbox_consumers(st, NULL, 0), CL_OK);
	put(st, "{\"n\":4}");
	assert_int_equal(count(st), 0);
	cl_store_close(st);
	cl_test_rmtree(dir);
}

static void test_ack_note(void **state)
{
	const char *one[] = { "kafka" };
	struct cl_store_alert a = { .id = 7, .rule = "spo2_low", .category = "clinical",
				    .patient = "p1", .device = "d1", .severity = "urgent",
				    .start_us = 1000000, .raised_us = 1000000, .value = 85,
				    .message = "SpO2 low" };
	struct cl_store *st;
	char dir[256], *json;
	int64_t seq;
	int changed;

	(void)state;
	cl_test_tmpdir(dir, sizeof(dir));
	assert_int_equal(cl_store_create(dir, &st), CL_OK);
	assert_int_equal(cl_store_outbox_consumers(st, one, 1), CL_OK);
	assert_int_equal(cl_store_alert_open(st, &a), CL_OK);
	assert_int_equal(cl_store_alert_ack(st, 7, "nurse", &changed), CL_OK);
	assert_int_equal(changed, 1);
	assert_int_equal(cl_store_alert_ack(st, 7, "nurse", &changed), CL_OK);
	assert_int_equal(changed, 0);
	assert_int_equal(count(st), 1);
	assert_int_equal(cl_store_outbox_next(st, 0, &seq, &json), CL_OK);
	assert_non_null(strstr(json, "\"state\":\"acknowledged\""));
	assert_non_null(strstr(json, "\"patient_id\":\"p1\""));
	assert_non_null(strstr(json, "\"id\":7"));
	assert_non_null(strstr(json, "\"acknowledged_by\":\"nurse\""));
	free(json);
	cl_store_close(st);
	cl_test_rmtree(dir);
}

static void test_migration(void **state)
{
	struct cl_store *st;
	sqlite3 *db;
	char dir[256], path[300];
	int64_t seq;

	(void)state;
	cl_test_tmpdir(dir, sizeof(dir));
	assert_int_equal(cl_store_create(dir, &st), CL_OK);
	cl_store_close(st);
	/* as an older carelake left it: no cursors; the webhook had delivered
	 * and removed entries 1 to 4, 5 and 6 were still to go */
	snprintf(path, sizeof(path), "%s/carelake.db", dir);
	assert_int_equal(sqlite3_open(path, &db), SQLITE_OK);
	assert_int_equal(sqlite3_exec(db, "DROP TABLE outbox_cursor;"
				      "INSERT INTO alert_outbox(seq, json) VALUES (4, '{}'), (5, '{}'),"
				      " (6, '{}'); DELETE FROM alert_outbox WHERE seq = 4;",
				      NULL, NULL, NULL), SQLITE_OK);
	sqlite3_close(db);
	assert_int_equal(cl_store_create(dir, &st), CL_OK);
	assert_int_equal(cl_store_outbox_cursor(st, "webhook", &seq), CL_OK);
	assert_int_equal(seq, 4);
	assert_int_equal(count(st), 2);
	cl_store_close(st);
	/* and one whose webhook had delivered everything: at the last seq */
	assert_int_equal(sqlite3_open(path, &db), SQLITE_OK);
	assert_int_equal(sqlite3_exec(db, "DROP TABLE outbox_cursor; DELETE FROM alert_outbox;",
				      NULL, NULL, NULL), SQLITE_OK);
	sqlite3_close(db);
	assert_int_equal(cl_store_create(dir, &st), CL_OK);
	assert_int_equal(cl_store_outbox_cursor(st, "webhook", &seq), CL_OK);
	assert_int_equal(seq, 6);
	cl_store_close(st);
	cl_test_rmtree(dir);
}

static void test_rollups(void **state)
{
	struct cl_agg_summary a = { .count = 2, .min = 60, .max = 80, .mean = 70, .p50 = 70,
				    .p90 = 80, .p99 = 80 };
	struct cl_store *st;
	char dir[256], *json;
	int64_t seq, n;

	(void)state;
	cl_test_tmpdir(dir, sizeof(dir));
	assert_int_equal(cl_store_create(dir, &st), CL_OK);
	/* no window named: nothing queued */
	assert_int_equal(cl_store_put_rollup(st, "p0", "heart_rate", "1m", 0, 60000000, &a, NULL), CL_OK);
	cl_store_rollup_outbox_window(st, "1m");
	assert_int_equal(cl_store_put_rollup(st, "p1", "heart_rate", "1m", 60000000, 120000000, &a, NULL),
			 CL_OK);
	assert_int_equal(cl_store_put_rollup(st, "p1", "heart_rate", "1m", 60000000, 120000000, &a, NULL),
			 CL_OK);
	assert_int_equal(cl_store_put_rollup(st, "p1", "heart_rate", "1h", 0, 3600000000ll, &a, NULL),
			 CL_OK);
	assert_int_equal(cl_store_rollup_outbox_pending(st, &n), CL_OK);
	assert_int_equal(n, 1);
	assert_int_equal(cl_store_rollup_outbox_next(st, 0, &seq, &json), CL_OK);
	assert_non_null(strstr(json, "\"patient_id\":\"p1\""));
	assert_non_null(strstr(json, "\"loinc\":\"8867-4\""));
	assert_non_null(strstr(json, "\"start\":\"1970-01-01T00:01:00.000Z\""));
	assert_non_null(strstr(json, "\"count\":2"));
	assert_non_null(strstr(json, "\"mean\":70"));
	free(json);
	assert_int_equal(cl_store_rollup_outbox_next(st, seq, &seq, &json), CL_ENOENT);
	assert_int_equal(cl_store_rollup_outbox_done(st, 1), CL_OK);
	assert_int_equal(cl_store_rollup_outbox_pending(st, &n), CL_OK);
	assert_int_equal(n, 0);
	cl_store_close(st);
	cl_test_rmtree(dir);
}

static int64_t scalar(const char *path, const char *sql)
{
	sqlite3 *db;
	sqlite3_stmt *q;
	int64_t v = -1;

	assert_int_equal(sqlite3_open(path, &db), SQLITE_OK);
	assert_int_equal(sqlite3_prepare_v2(db, sql, -1, &q, NULL), SQLITE_OK);
	if (sqlite3_step(q) == SQLITE_ROW)
		v = sqlite3_column_int64(q, 0);
	sqlite3_finalize(q);
	sqlite3_close(db);
	return v;
}

/* The days of vital_rollup a transaction changed are noted for the Delta
 * copy when it commits (lake_dirty), by the UTC day of start_us; a
 * rollback notes nothing. */
static void test_rollup_days_noted(void **state)
{
	struct cl_agg_summary a = { .count = 1, .min = 70, .max = 70, .mean = 70, .p50 = 70,
				    .p90 = 70, .p99 = 70 };
	const int64_t day = 86400000000ll;
	struct cl_store *st;
	char dir[256], path[300];

	(void)state;
	cl_test_tmpdir(dir, sizeof(dir));
	snprintf(path, sizeof(path), "%s/carelake.db", dir);
	assert_int_equal(cl_store_create(dir, &st), CL_OK);
	assert_int_equal(cl_store_begin(st), CL_OK);
	assert_int_equal(cl_store_put_rollup(st, "p1", "heart_rate", "1m", 0, 60000000, &a, NULL), CL_OK);
	assert_int_equal(cl_store_put_rollup(st, "p1", "heart_rate", "1m", day - 60000000, day, &a,
					     NULL), CL_OK);
	assert_int_equal(cl_store_put_rollup(st, "p1", "heart_rate", "1m", day, day + 60000000, &a,
					     NULL), CL_OK);
	assert_int_equal(cl_store_commit(st), CL_OK);
	assert_int_equal(scalar(path, "SELECT count(*) FROM lake_dirty WHERE table_name ="
				" 'vital_rollup'"), 2);
	assert_int_equal(scalar(path, "SELECT count(*) FROM lake_dirty WHERE table_name ="
				" 'vital_rollup' AND part IN ('1970-01-01', '1970-01-02')"), 2);
	/* rolled back: no note */
	assert_int_equal(cl_store_begin(st), CL_OK);
	assert_int_equal(cl_store_rollup_delete(st, "p1", "heart_rate", "1m", 20 * day), CL_OK);
	assert_int_equal(cl_store_put_rollup(st, "p1", "heart_rate", "1m", 30 * day,
					     30 * day + 60000000, &a, NULL), CL_OK);
	cl_store_rollback(st);
	assert_int_equal(cl_store_begin(st), CL_OK);
	assert_int_equal(cl_store_commit(st), CL_OK);
	assert_int_equal(scalar(path, "SELECT count(*) FROM lake_dirty"), 2);
	/* a correction and a removal note their days too */
	assert_int_equal(cl_store_begin(st), CL_OK);
	assert_int_equal(cl_store_rollup_delete(st, "p1", "heart_rate", "1m", 5 * day), CL_OK);
	assert_int_equal(cl_store_commit(st), CL_OK);
	assert_int_equal(scalar(path, "SELECT count(*) FROM lake_dirty WHERE part = '1970-01-06'"), 1);
	cl_store_close(st);
	cl_test_rmtree(dir);
}

/* vital_event's index by time covers what windows are computed from: a
 * store with the older index (patient_id, ts_us) has it replaced, and the
 * window query reads the index alone. */
static void test_vital_index(void **state)
{
	struct cl_store *st;
	sqlite3 *db;
	sqlite3_stmt *q;
	char dir[256], path[300], plan[400] = "";

	(void)state;
	cl_test_tmpdir(dir, sizeof(dir));
	snprintf(path, sizeof(path), "%s/carelake.db", dir);
	assert_int_equal(cl_store_create(dir, &st), CL_OK);
	cl_store_close(st);
	assert_int_equal(sqlite3_open(path, &db), SQLITE_OK);
	assert_int_equal(sqlite3_exec(db, "DROP INDEX vital_event_by_time; CREATE INDEX"
				      " vital_event_patient ON vital_event(patient_id, ts_us);",
				      NULL, NULL, NULL), SQLITE_OK);
	sqlite3_close(db);
	assert_int_equal(cl_store_create(dir, &st), CL_OK);
	cl_store_close(st);
	assert_int_equal(scalar(path, "SELECT count(*) FROM sqlite_schema WHERE name ="
				" 'vital_event_patient'"), 0);
	assert_int_equal(sqlite3_open(path, &db), SQLITE_OK);
	assert_int_equal(sqlite3_prepare_v2(db, "EXPLAIN QUERY PLAN SELECT ts_us, value FROM"
					    " vital_event WHERE patient_id = 'p' AND ts_us >= 0 AND"
					    " ts_us < 9 AND vital = 'heart_rate' ORDER BY ts_us",
					    -1, &q, NULL), SQLITE_OK);
	while (sqlite3_step(q) == SQLITE_ROW)
		snprintf(plan + strlen(plan), sizeof(plan) - strlen(plan), "%s;",
			 (const char *)sqlite3_column_text(q, 3));
	sqlite3_finalize(q);
	sqlite3_close(db);
	if (!strstr(plan, "COVERING INDEX vital_event_by_time"))
		fail_msg("the window query's plan: %s", plan);
	cl_test_rmtree(dir);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_rollup_days_noted),
		cmocka_unit_test(test_vital_index),
		cmocka_unit_test(test_two_cursors),
		cmocka_unit_test(test_ack_note),
		cmocka_unit_test(test_migration),
		cmocka_unit_test(test_rollups),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
