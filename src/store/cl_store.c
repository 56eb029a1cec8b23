/*
 * The serving store on SQLite. See cl_store.h.
 */
#include "cl_store.h"
#include "cl_db.h"
#include "cl_store_int.h"
#include "cl_store_outbox.h"
#include "cl_sql_json.h"
#include "core/cl_error.h"
#include "core/cl_mem.h"
#include "core/cl_time.h"
#include "lake/cl_lake.h"

#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <limits.h>
#include <math.h>
#include <sqlite3.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define DAY_US (86400 * INT64_C(1000000))

enum {
	Q_BEGIN, Q_COMMIT, Q_ROLLBACK, Q_CKPT_GET, Q_CKPT_SET, Q_VITAL, Q_ROLLUP, Q_NEWS2,
	Q_RAW, Q_ROLLUPS, Q_NEWS2_GET, Q_ALERT_OPEN, Q_ALERT_HELD, Q_ALERT_CLOSE, Q_ALERTS_OPEN, Q_ALERT_ACK,
	Q_ALERT_MAX, Q_NEWS2_MINUTE, Q_NEWS2_HISTORY, Q_OUTBOX_PUT, Q_OUTBOX_GET, Q_OUTBOX_COUNT,
	Q_ALERT_LIVE, Q_WM_GET, Q_WM_SET, Q_ROLLUP_GET, Q_ROLLUP_SET, Q_ROLLUP_DELETE, Q_ROLLUP_TOUCHING, Q_ROLLUP_LAST, Q_POINTS,
	Q_COUNT,
};

static const char *const sql[Q_COUNT] = {
	[Q_BEGIN] = "BEGIN IMMEDIATE",
	[Q_COMMIT] = "COMMIT",
	[Q_ROLLBACK] = "ROLLBACK",
	[Q_CKPT_GET] = "SELECT processed, replay_from FROM stream_checkpoint WHERE consumer = ?1",
	[Q_CKPT_SET] = "INSERT INTO stream_checkpoint(consumer, processed, replay_from, updated_us)"
		       " VALUES (?1, ?2, ?3, ?4) ON CONFLICT(consumer) DO UPDATE SET"
		       " processed = ?2, replay_from = ?3, updated_us = ?4",
	[Q_VITAL] = "INSERT OR IGNORE INTO vital_event(source, bronze_offset, patient_id, device_id,"
		    " vital, ts_us, value) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
	[Q_ROLLUP] = "INSERT OR IGNORE INTO vital_rollup(patient_id, vital, window, start_us, end_us,"
		     " count, min, max, mean, stddev, p50, p90, p99, updated_us)"
		     " VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14)",
#define ROLLUP_COLS "start_us, end_us, count, min, max, mean, stddev, p50, p90, p99, status," \
		    " revision"
	[Q_ROLLUP_GET] = "SELECT " ROLLUP_COLS " FROM vital_rollup WHERE patient_id = ?1 AND"
			 " window = ?3 AND start_us = ?4 AND vital = ?2",
	[Q_ROLLUP_SET] = "INSERT OR REPLACE INTO vital_rollup(patient_id, vital, window, start_us,"
			 " end_us, count, min, max, mean, stddev, p50, p90, p99, updated_us, status,"
			 " revision) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13,"
			 " ?14, ?15, ?16)",
	[Q_ROLLUP_DELETE] = "DELETE FROM vital_rollup WHERE patient_id = ?1 AND window = ?3 AND"
			    " start_us = ?4 AND vital = ?2",
	[Q_ROLLUP_TOUCHING] = "SELECT " ROLLUP_COLS " FROM vital_rollup WHERE patient_id = ?1 AND"
			      " window = ?3 AND start_us <= ?5 AND vital = ?2 AND end_us >= ?4"
			      " ORDER BY start_us",
	[Q_ROLLUP_LAST] = "SELECT " ROLLUP_COLS " FROM vital_rollup WHERE patient_id = ?1 AND"
			  " window = ?3 AND vital = ?2 ORDER BY start_us DESC LIMIT 1",
	[Q_POINTS] = "SELECT ts_us, value FROM vital_event WHERE patient_id = ?1 AND ts_us >= ?3"
		     " AND ts_us < ?4 AND vital = ?2 ORDER BY ts_us",
	[Q_NEWS2] = "INSERT INTO news2(patient_id, ts_us, score, risk, resp, spo2, o2, sbp, pulse,"
		    " consc, temp, present) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12)"
		    " ON CONFLICT(patient_id) DO UPDATE SET ts_us = ?2, score = ?3, risk = ?4,"
		    " resp = ?5, spo2 = ?6, o2 = ?7, sbp = ?8, pulse = ?9, consc = ?10, temp = ?11,"
		    " present = ?12",
	/* the worst score of each minute, for NEWS2 over time */
	[Q_NEWS2_MINUTE] = "INSERT INTO news2_minute(patient_id, minute_us, ts_us, score, risk, present)"
			   " VALUES (?1, ?2, ?3, ?4, ?5, ?6) ON CONFLICT(patient_id, minute_us) DO UPDATE"
			   " SET ts_us = ?3, score = ?4, risk = ?5, present = ?6 WHERE ?4 > score",
	/* bare columns beside max(): SQLite takes them from the row of the max */
	[Q_NEWS2_HISTORY] = "SELECT minute_us - (minute_us % ?4) AS b, max(score), risk, ts_us,"
			    " present FROM news2_minute WHERE patient_id = ?1 AND minute_us >= ?2"
			    " AND minute_us < ?3 GROUP BY b ORDER BY b LIMIT ?5",
	[Q_RAW] = "SELECT ts_us, vital, value, device_id FROM vital_event WHERE patient_id = ?1"
		  " AND ts_us >= ?2 AND ts_us < ?3 ORDER BY ts_us, vital LIMIT ?4",
	[Q_ROLLUPS] = "SELECT start_us, end_us, vital, count, min, max, mean, stddev, p50, p90, p99,"
		      " status, revision FROM vital_rollup WHERE patient_id = ?1 AND window = ?5 AND start_us >= ?2"
		      " AND start_us < ?3 ORDER BY start_us, vital LIMIT ?4",
	[Q_NEWS2_GET] = "SELECT ts_us, score, risk, resp, spo2, o2, sbp, pulse, consc, temp, present"
			" FROM news2 WHERE patient_id = ?1",
	[Q_ALERT_OPEN] = "INSERT OR IGNORE INTO alert(id, rule, patient_id, device_id, severity,"
			 " opened_us, value, message, category, raised_us, learned_us)"
			 " VALUES (?8, ?1, ?2, ?3, ?4, ?5, ?6, ?7, ?9, ?10, ?11)",
	[Q_ALERT_LIVE] = "UPDATE alert SET learned_us = NULL WHERE id = ?1",
	[Q_WM_GET] = "SELECT watermark_us FROM stream_watermark WHERE id = 1",
	[Q_WM_SET] = "INSERT INTO stream_watermark(id, watermark_us) VALUES (1, ?1)"
		     " ON CONFLICT(id) DO UPDATE SET watermark_us = max(watermark_us, ?1)",
	[Q_ALERT_HELD] = "INSERT INTO alert_held(rule, category, patient_id, device_id, reason,"
			 " detail, start_us, end_us, readings, value)"
			 " VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)",
	[Q_ALERT_CLOSE] = "UPDATE alert SET closed_us = ?2 WHERE id = ?1 AND closed_us IS NULL",
	[Q_ALERTS_OPEN] = "SELECT id, rule, patient_id, device_id FROM alert WHERE closed_us IS NULL"
			  " AND learned_us IS NULL",
	[Q_ALERT_ACK] = "UPDATE alert SET acked_us = ?2, acked_by = ?3 WHERE id = ?1 AND acked_us IS NULL",
	[Q_ALERT_MAX] = "SELECT coalesce(max(id), 0) FROM alert",
	[Q_OUTBOX_PUT] = "INSERT INTO alert_outbox(json) VALUES (?1)",
	[Q_OUTBOX_GET] = "SELECT seq, json FROM alert_outbox WHERE seq > ?1 ORDER BY seq LIMIT ?2",
	[Q_OUTBOX_COUNT] = "SELECT count(*) FROM alert_outbox",
};

static const char schema[] =
	"CREATE TABLE IF NOT EXISTS stream_checkpoint(consumer TEXT PRIMARY KEY,"
	" processed INTEGER NOT NULL, replay_from INTEGER NOT NULL, updated_us INTEGER NOT NULL);"
	/* how far the stream's windows have closed (event time): windows
	 * before it may be stored, whatever a restart's replay rebuilds */
	"CREATE TABLE IF NOT EXISTS stream_watermark(id INTEGER PRIMARY KEY CHECK (id = 1),"
	" watermark_us INTEGER NOT NULL);"
	"CREATE TABLE IF NOT EXISTS vital_event(source TEXT NOT NULL, bronze_offset INTEGER NOT NULL,"
	" patient_id TEXT NOT NULL, device_id TEXT NOT NULL, vital TEXT NOT NULL,"
	" ts_us INTEGER NOT NULL, value REAL NOT NULL,"
	" PRIMARY KEY(source, bronze_offset, vital)) WITHOUT ROWID;"
	/* a patient's values by time, covering what windows are computed
	 * from (vital, value): late data recomputes windows from it without
	 * a lookup per value (replaces vital_event_patient, migrate) */
	"CREATE INDEX IF NOT EXISTS vital_event_by_time ON vital_event(patient_id, ts_us, vital,"
	" value);"
	"CREATE TABLE IF NOT EXISTS vital_rollup(patient_id TEXT NOT NULL, vital TEXT NOT NULL,"
	" window TEXT NOT NULL, start_us INTEGER NOT NULL, end_us INTEGER NOT NULL,"
	" count INTEGER NOT NULL, min REAL, max REAL, mean REAL, stddev REAL,"
	" p50 REAL, p90 REAL, p99 REAL, updated_us INTEGER,"
	" status TEXT NOT NULL DEFAULT 'final', revision INTEGER NOT NULL DEFAULT 1,"
	" PRIMARY KEY(patient_id, window, start_us, vital)) WITHOUT ROWID;"
	/* the Delta copy rewrites a day of them at a time (lake/cl_lake.h) */
	"CREATE INDEX IF NOT EXISTS vital_rollup_start ON vital_rollup(start_us);"
	"CREATE TABLE IF NOT EXISTS news2(patient_id TEXT PRIMARY KEY, ts_us INTEGER NOT NULL,"
	" score INTEGER NOT NULL, risk TEXT NOT NULL, resp INTEGER, spo2 INTEGER, o2 INTEGER,"
	" sbp INTEGER, pulse INTEGER, consc INTEGER, temp INTEGER, present INTEGER NOT NULL);"
	"CREATE TABLE IF NOT EXISTS news2_minute(patient_id TEXT NOT NULL, minute_us INTEGER NOT NULL,"
	" ts_us INTEGER NOT NULL, score INTEGER NOT NULL, risk TEXT NOT NULL,"
	" present INTEGER NOT NULL, PRIMARY KEY(patient_id, minute_us)) WITHOUT ROWID;"
	"CREATE TABLE IF NOT EXISTS alert(id INTEGER PRIMARY KEY AUTOINCREMENT, rule TEXT NOT NULL,"
	" patient_id TEXT NOT NULL, device_id TEXT NOT NULL, severity TEXT NOT NULL,"
	" opened_us INTEGER NOT NULL, closed_us INTEGER, acked_us INTEGER, acked_by TEXT,"
	" value REAL, message TEXT NOT NULL, category TEXT NOT NULL DEFAULT 'clinical',"
	" raised_us INTEGER, learned_us INTEGER);"
	"CREATE INDEX IF NOT EXISTS alert_opened ON alert(opened_us);"
	/* what was held back, and why: artifacts, runs shorter than the
	 * rule's persistence, repeats within its suppression time */
	"CREATE TABLE IF NOT EXISTS alert_held(id INTEGER PRIMARY KEY AUTOINCREMENT,"
	" rule TEXT NOT NULL, category TEXT NOT NULL, patient_id TEXT NOT NULL,"
	" device_id TEXT NOT NULL, reason TEXT NOT NULL, detail TEXT NOT NULL,"
	" start_us INTEGER NOT NULL, end_us INTEGER NOT NULL, readings INTEGER NOT NULL,"
	" value REAL);"
	"CREATE INDEX IF NOT EXISTS alert_held_start ON alert_held(start_us);"
	"CREATE INDEX IF NOT EXISTS alert_held_patient ON alert_held(patient_id, start_us);"
	"CREATE INDEX IF NOT EXISTS alert_patient ON alert(patient_id, opened_us);"
	"CREATE TABLE IF NOT EXISTS alert_outbox(seq INTEGER PRIMARY KEY AUTOINCREMENT,"
	" json TEXT NOT NULL);"
	/* outbox_cursor (one row per consumer of the outbox) is made by
	 * migrate_outbox, which knows whether the store is older than it */
	/* rollups of one window for Kafka out, by key, in the order made */
	"CREATE TABLE IF NOT EXISTS rollup_outbox(seq INTEGER PRIMARY KEY AUTOINCREMENT,"
	" patient_id TEXT NOT NULL, vital TEXT NOT NULL, window TEXT NOT NULL,"
	" start_us INTEGER NOT NULL);"
	"CREATE TABLE IF NOT EXISTS access_alert(id INTEGER PRIMARY KEY AUTOINCREMENT,"
	" kind TEXT NOT NULL, ts_us INTEGER NOT NULL, principal TEXT NOT NULL, role TEXT NOT NULL,"
	" patient_id TEXT NOT NULL, reason TEXT NOT NULL, request_id TEXT NOT NULL,"
	" client TEXT NOT NULL, acked_us INTEGER, acked_by TEXT);";

struct cl_store {
	sqlite3 *db;
	sqlite3_stmt *q[Q_COUNT];
	char rollup_window[32];     /* its new rollups go to rollup_outbox; "" none */
	int writer;                 /* the stream's writer (cl_store_set_writer) */
	int64_t lake_days[8];       /* days of the rollups this transaction changed */
	int nlake_days;
};

/* 1 while the stream's writer waits for the write lock. */
static atomic_int writer_waiting;

void cl_store_rollup_outbox_window(struct cl_store *s, const char *window)
{
	snprintf(s->rollup_window, sizeof(s->rollup_window), "%s", window ? window : "");
}

sqlite3 *cl_store_sqlite(struct cl_store *s)
{
	return s->db;
}

int cl_store_db_error(struct cl_store *s, const char *what)
{
	int code = sqlite3_errcode(s->db);

	return cl_error_set(code == SQLITE_FULL ? CL_ENOSPC : code == SQLITE_BUSY ? CL_EBUSY : CL_EIO,
			    "carelake.db: %s: %s", what, sqlite3_errmsg(s->db));
}

/* Whether the one-number `query` answers more than 0: SQLITE_OK with
 * *yes set, or the error. */
static int exists(sqlite3 *db, const char *query, int *yes)
{
	sqlite3_stmt *q;

	*yes = 0;
	if (sqlite3_prepare_v2(db, query, -1, &q, NULL) != SQLITE_OK)
		return SQLITE_ERROR;
	if (sqlite3_step(q) == SQLITE_ROW)
		*yes = sqlite3_column_int(q, 0) > 0;
	sqlite3_finalize(q);
	return SQLITE_OK;
}

/* Stores made before alerts had a category and a confirmation time gain
 * the columns (every alert then was clinical and raised when it opened);
 * before rollups had a status, theirs; vital_event's index by time is
 * made again covering what windows read. */
static int migrate(sqlite3 *db, char **err)
{
	int have, rc;

	if (exists(db, "SELECT count(*) FROM pragma_table_info('alert') WHERE name = 'category'",
		   &have) != SQLITE_OK)
		return SQLITE_ERROR;
	if (!have &&
	    (rc = sqlite3_exec(db, "ALTER TABLE alert ADD COLUMN category TEXT NOT NULL DEFAULT"
			       " 'clinical';"
			       "ALTER TABLE alert ADD COLUMN raised_us INTEGER;"
			       "UPDATE alert SET raised_us = opened_us;", NULL, NULL, err)) != SQLITE_OK)
		return rc;
	/* alerts from before retrospective ones: each was learned live */
	if (exists(db, "SELECT count(*) FROM pragma_table_info('alert') WHERE name = 'learned_us'",
		   &have) != SQLITE_OK)
		return SQLITE_ERROR;
	if (!have && (rc = sqlite3_exec(db, "ALTER TABLE alert ADD COLUMN learned_us INTEGER;", NULL,
					NULL, err)) != SQLITE_OK)
		return rc;
	/* the index by time before it covered vital and value */
	if (exists(db, "SELECT count(*) FROM sqlite_schema WHERE type = 'index' AND name ="
		   " 'vital_event_patient'", &have) != SQLITE_OK)
		return SQLITE_ERROR;
	if (have && (rc = sqlite3_exec(db, "DROP INDEX vital_event_patient;", NULL, NULL, err)) !=
		    SQLITE_OK)
		return rc;
	/* rollups from before corrections: each was final when written */
	if (exists(db, "SELECT count(*) FROM pragma_table_info('vital_rollup') WHERE name ="
		   " 'revision'", &have) != SQLITE_OK)
		return SQLITE_ERROR;
	if (!have &&
	    (rc = sqlite3_exec(db, "ALTER TABLE vital_rollup ADD COLUMN updated_us INTEGER;"
			       "ALTER TABLE vital_rollup ADD COLUMN status TEXT NOT NULL DEFAULT"
			       " 'final';"
			       "ALTER TABLE vital_rollup ADD COLUMN revision INTEGER NOT NULL DEFAULT 1;",
			       NULL, NULL, err)) != SQLITE_OK)
		return rc;
	/* what status counts */
	return sqlite3_exec(db, "CREATE INDEX IF NOT EXISTS vital_rollup_corrected ON"
			    " vital_rollup(revision) WHERE status = 'corrected';", NULL, NULL, err);
}

/* Stores made when the webhook was the outbox's only consumer (it removed
 * each entry once delivered, so whatever is left is undelivered) gain the
 * table of named cursors, the webhook's just before the oldest entry left:
 * it resumes where it was, and a new consumer reads from its own cursor. */
static int migrate_outbox(sqlite3 *db, char **err)
{
	int have, rc;

	if (exists(db, "SELECT count(*) FROM sqlite_master WHERE type = 'table'"
		   " AND name = 'outbox_cursor'", &have) != SQLITE_OK)
		return SQLITE_ERROR;
	if (have)
		return SQLITE_OK;
	rc = sqlite3_exec(db, "BEGIN IMMEDIATE;"
			    "CREATE TABLE IF NOT EXISTS outbox_cursor(name TEXT PRIMARY KEY,"
			    " seq INTEGER NOT NULL);"
			    "INSERT OR IGNORE INTO outbox_cursor(name, seq) VALUES ('webhook',"
			    " coalesce((SELECT min(seq) - 1 FROM alert_outbox),"
			    " (SELECT seq FROM sqlite_sequence WHERE name = 'alert_outbox'), 0));"
			    "COMMIT;", NULL, NULL, err);
	if (rc != SQLITE_OK && !sqlite3_get_autocommit(db))
		sqlite3_exec(db, "ROLLBACK", NULL, NULL, NULL);
	return rc;
}

static int open_store(const char *data_dir, int create, struct cl_store **out)
{
	struct cl_store *s = cl_calloc(1, sizeof(*s));
	char *err = NULL;
	int rc;

	if (!s)
		return cl_error_set(CL_ENOMEM, "no memory for the store");
	rc = cl_db_open(data_dir, CL_DB_READWRITE, &s->db);
	if (rc) {
		cl_free(s);
		return rc;
	}
	if (create && (rc = cl_lake_notes_create(s->db))) {
		cl_store_close(s);
		return rc;
	}
	if (create && (sqlite3_exec(s->db, schema, NULL, NULL, &err) != SQLITE_OK ||
		       migrate(s->db, &err) != SQLITE_OK ||
		       migrate_outbox(s->db, &err) != SQLITE_OK)) {
		rc = cl_error_set(CL_EIO, "carelake.db schema: %s", err ? err : "?");

		sqlite3_free(err);
		cl_store_close(s);
		return rc;
	}
	for (int i = 0; i < Q_COUNT; i++)
		if (sqlite3_prepare_v3(s->db, sql[i], -1, SQLITE_PREPARE_PERSISTENT, &s->q[i],
				       NULL) != SQLITE_OK) {
			rc = cl_store_db_error(s, "prepare");

			cl_store_close(s);
			return rc;
		}
	*out = s;
	return CL_OK;
}

int cl_store_create(const char *data_dir, struct cl_store **out)
{
	return open_store(data_dir, 1, out);
}

int cl_store_open(const char *data_dir, struct cl_store **out)
{
	return open_store(data_dir, 0, out);
}

void cl_store_close(struct cl_store *s)
{
	if (!s)
		return;
	for (int i = 0; i < Q_COUNT; i++)
		sqlite3_finalize(s->q[i]);
	sqlite3_close(s->db);
	cl_free(s);
}

static int run(struct cl_store *s, int q, const char *what)
{
	int rc = sqlite3_step(s->q[q]);

	sqlite3_reset(s->q[q]);
	sqlite3_clear_bindings(s->q[q]);
	return rc == SQLITE_DONE || rc == SQLITE_ROW ? CL_OK : cl_store_db_error(s, what);
}

/* The days of vital_rollup this transaction changed, noted for its Delta
 * copy (cl_lake_note_part) in the same transaction. */
static int lake_flush(struct cl_store *s)
{
	char day[11];
	int rc = CL_OK;

	for (int i = 0; rc == CL_OK && i < s->nlake_days; i++) {
		cl_time_format_day(s->lake_days[i] * DAY_US, day);
		rc = cl_lake_note_part(s->db, "vital_rollup", day);
	}
	s->nlake_days = 0;
	return rc;
}

static int lake_note(struct cl_store *s, int64_t start_us)
{
	int64_t day = start_us / DAY_US - (start_us % DAY_US < 0);
	int rc;

	for (int i = 0; i < s->nlake_days; i++)
		if (s->lake_days[i] == day)
			return CL_OK;
	if (s->nlake_days == (int)(sizeof(s->lake_days) / sizeof(s->lake_days[0])) &&
	    (rc = lake_flush(s)))
		return rc;
	s->lake_days[s->nlake_days++] = day;
	return CL_OK;
}

int cl_store_begin(struct cl_store *s)
{
	int rc = run(s, Q_BEGIN, "begin");

	s->nlake_days = 0;
	if (s->writer)
		atomic_store(&writer_waiting, 0);
	return rc;
}
int cl_store_commit(struct cl_store *s)
{
	int rc = lake_flush(s);

	return rc ? rc : run(s, Q_COMMIT, "commit");
}
void cl_store_rollback(struct cl_store *s)
{
	s->nlake_days = 0;
	/* SQLite rolls back by itself on some errors (a full disk, out of
	 * memory): then there is nothing to roll back, and the error that
	 * caused it is the one to keep */
	if (sqlite3_get_autocommit(s->db))
		return;
	sqlite3_step(s->q[Q_ROLLBACK]);
	sqlite3_reset(s->q[Q_ROLLBACK]);
}

int cl_store_checkpoint_get(struct cl_store *s, const char *consumer,
			    uint64_t *processed, uint64_t *replay_from)
{
	sqlite3_stmt *q = s->q[Q_CKPT_GET];
	int rc;

	sqlite3_bind_text(q, 1, consumer, -1, SQLITE_STATIC);
	rc = sqlite3_step(q);
	if (rc == SQLITE_ROW) {
		*processed = (uint64_t)sqlite3_column_int64(q, 0);
		*replay_from = (uint64_t)sqlite3_column_int64(q, 1);
	}
	sqlite3_reset(q);
	if (rc == SQLITE_ROW)
		return CL_OK;
	if (rc == SQLITE_DONE)
		return CL_ENOENT;
	return cl_store_db_error(s, "read checkpoint");
}

int cl_store_checkpoint_set(struct cl_store *s, const char *consumer,
			    uint64_t processed, uint64_t replay_from)
{
	sqlite3_stmt *q = s->q[Q_CKPT_SET];

	sqlite3_bind_text(q, 1, consumer, -1, SQLITE_STATIC);
	sqlite3_bind_int64(q, 2, (sqlite3_int64)processed);
	sqlite3_bind_int64(q, 3, (sqlite3_int64)replay_from);
	sqlite3_bind_int64(q, 4, cl_time_now_us());
	return run(s, Q_CKPT_SET, "write checkpoint");
}

int cl_store_watermark_get(struct cl_store *s, int64_t *wm)
{
	sqlite3_stmt *q = s->q[Q_WM_GET];
	int rc = sqlite3_step(q);

	*wm = rc == SQLITE_ROW ? sqlite3_column_int64(q, 0) : INT64_MIN;
	sqlite3_reset(q);
	return rc == SQLITE_ROW || rc == SQLITE_DONE ? CL_OK
						     : cl_store_db_error(s, "read the watermark");
}

int cl_store_watermark_set(struct cl_store *s, int64_t wm)
{
	sqlite3_bind_int64(s->q[Q_WM_SET], 1, wm);
	return run(s, Q_WM_SET, "write the watermark");
}

int cl_store_put_vital(struct cl_store *s, const char *source, uint64_t offset,
		       const char *patient, const char *device, const char *vital,
		       int64_t ts_us, double value)
{
	sqlite3_stmt *q = s->q[Q_VITAL];

	sqlite3_bind_text(q, 1, source, -1, SQLITE_STATIC);
	sqlite3_bind_int64(q, 2, (sqlite3_int64)offset);
	sqlite3_bind_text(q, 3, patient, -1, SQLITE_STATIC);
	sqlite3_bind_text(q, 4, device, -1, SQLITE_STATIC);
	sqlite3_bind_text(q, 5, vital, -1, SQLITE_STATIC);
	sqlite3_bind_int64(q, 6, ts_us);
	sqlite3_bind_double(q, 7, value);
	return run(s, Q_VITAL, "store a vital");
}

/* The key of a rollup row: ?1 patient, ?2 vital, ?3 window, ?4 start. */
static void bind_rollup_key(sqlite3_stmt *q, const char *patient, const char *vital,
			    const char *window, int64_t start_us)
{
	sqlite3_bind_text(q, 1, patient, -1, SQLITE_STATIC);
	sqlite3_bind_text(q, 2, vital, -1, SQLITE_STATIC);
	sqlite3_bind_text(q, 3, window, -1, SQLITE_STATIC);
	sqlite3_bind_int64(q, 4, start_us);
}

/* ?5 end, ?6..?13 the summary, ?14 now. */
static void bind_rollup_values(sqlite3_stmt *q, int64_t end_us, const struct cl_agg_summary *a)
{
	sqlite3_bind_int64(q, 5, end_us);
	sqlite3_bind_int64(q, 6, (sqlite3_int64)a->count);
	sqlite3_bind_double(q, 7, a->min);
	sqlite3_bind_double(q, 8, a->max);
	sqlite3_bind_double(q, 9, a->mean);
	sqlite3_bind_double(q, 10, a->stddev);
	sqlite3_bind_double(q, 11, a->p50);
	sqlite3_bind_double(q, 12, a->p90);
	sqlite3_bind_double(q, 13, a->p99);
	sqlite3_bind_int64(q, 14, cl_time_now_us());
}

/* A new or changed rollup of the published window goes to the outbox. */
static int rollup_published(struct cl_store *s, const char *patient, const char *vital,
			    const char *window, int64_t start_us)
{
	if (!s->rollup_window[0] || strcmp(window, s->rollup_window) != 0)
		return CL_OK;
	return cl_store_rollup_outbox_put(s, patient, vital, window, start_us);
}

int cl_store_put_rollup(struct cl_store *s, const char *patient, const char *vital,
			const char *window, int64_t start_us, int64_t end_us,
			const struct cl_agg_summary *a, int *inserted)
{
	sqlite3_stmt *q = s->q[Q_ROLLUP];
	int rc, added;

	bind_rollup_key(q, patient, vital, window, start_us);
	bind_rollup_values(q, end_us, a);
	rc = run(s, Q_ROLLUP, "store a rollup");
	added = rc == CL_OK && sqlite3_changes(s->db) > 0;
	if (inserted)
		*inserted = added;
	if (added)
		rc = lake_note(s, start_us);
	/* a new one (not one a replay made again) of the window published */
	if (added && rc == CL_OK)
		rc = rollup_published(s, patient, vital, window, start_us);
	return rc;
}

/* A row of ROLLUP_COLS. */
static void read_rollup(sqlite3_stmt *q, struct cl_rollup_row *r)
{
	const char *st = (const char *)sqlite3_column_text(q, 10);

	r->start_us = sqlite3_column_int64(q, 0);
	r->end_us = sqlite3_column_int64(q, 1);
	r->sum.count = (uint64_t)sqlite3_column_int64(q, 2);
	r->sum.min = sqlite3_column_double(q, 3);
	r->sum.max = sqlite3_column_double(q, 4);
	r->sum.mean = sqlite3_column_double(q, 5);
	r->sum.stddev = sqlite3_column_double(q, 6);
	r->sum.p50 = sqlite3_column_double(q, 7);
	r->sum.p90 = sqlite3_column_double(q, 8);
	r->sum.p99 = sqlite3_column_double(q, 9);
	r->status = st && strcmp(st, "corrected") == 0 ? CL_ROLLUP_CORRECTED : CL_ROLLUP_FINAL;
	r->revision = sqlite3_column_int64(q, 11);
}

/* The one row q finds: CL_OK, CL_ENOENT or the error. */
static int one_rollup(struct cl_store *s, int qi, struct cl_rollup_row *r)
{
	sqlite3_stmt *q = s->q[qi];
	int rc = sqlite3_step(q);

	if (rc == SQLITE_ROW)
		read_rollup(q, r);
	sqlite3_reset(q);
	sqlite3_clear_bindings(q);
	if (rc == SQLITE_ROW)
		return CL_OK;
	return rc == SQLITE_DONE ? CL_ENOENT : cl_store_db_error(s, "read a rollup");
}

int cl_store_rollup_get(struct cl_store *s, const char *patient, const char *vital,
			const char *window, int64_t start_us, struct cl_rollup_row *r)
{
	bind_rollup_key(s->q[Q_ROLLUP_GET], patient, vital, window, start_us);
	return one_rollup(s, Q_ROLLUP_GET, r);
}

int cl_store_rollup_last(struct cl_store *s, const char *patient, const char *vital,
			 const char *window, struct cl_rollup_row *r)
{
	sqlite3_stmt *q = s->q[Q_ROLLUP_LAST];

	sqlite3_bind_text(q, 1, patient, -1, SQLITE_STATIC);
	sqlite3_bind_text(q, 2, vital, -1, SQLITE_STATIC);
	sqlite3_bind_text(q, 3, window, -1, SQLITE_STATIC);
	return one_rollup(s, Q_ROLLUP_LAST, r);
}

int cl_store_rollup_set(struct cl_store *s, const char *patient, const char *vital,
			const char *window, const struct cl_rollup_row *r)
{
	sqlite3_stmt *q = s->q[Q_ROLLUP_SET];
	int rc;

	bind_rollup_key(q, patient, vital, window, r->start_us);
	bind_rollup_values(q, r->end_us, &r->sum);
	sqlite3_bind_text(q, 15, cl_rollup_status_name(r->status), -1, SQLITE_STATIC);
	sqlite3_bind_int64(q, 16, r->revision);
	rc = run(s, Q_ROLLUP_SET, "store a rollup");
	if (rc == CL_OK)
		rc = lake_note(s, r->start_us);
	return rc == CL_OK ? rollup_published(s, patient, vital, window, r->start_us) : rc;
}

int cl_store_rollup_delete(struct cl_store *s, const char *patient, const char *vital,
			   const char *window, int64_t start_us)
{
	int rc;

	bind_rollup_key(s->q[Q_ROLLUP_DELETE], patient, vital, window, start_us);
	rc = run(s, Q_ROLLUP_DELETE, "remove a rollup");
	return rc ? rc : lake_note(s, start_us);
}

int cl_store_rollups_touching(struct cl_store *s, const char *patient, const char *vital,
			      const char *window, int64_t lo_us, int64_t hi_us,
			      struct cl_rollup_row **rows, size_t *n)
{
	sqlite3_stmt *q = s->q[Q_ROLLUP_TOUCHING];
	size_t cap = 0;
	int rc;

	*rows = NULL;
	*n = 0;
	bind_rollup_key(q, patient, vital, window, lo_us);
	sqlite3_bind_int64(q, 5, hi_us);
	while ((rc = sqlite3_step(q)) == SQLITE_ROW) {
		if (cl_grow(rows, &cap, *n, sizeof(**rows), 4) != 0) {
			rc = SQLITE_NOMEM;
			break;
		}
		read_rollup(q, &(*rows)[*n]);
		(*rows)[(*n)++].vital = vital;
	}
	sqlite3_reset(q);
	sqlite3_clear_bindings(q);
	if (rc == SQLITE_DONE)
		return CL_OK;
	cl_free(*rows);
	*rows = NULL;
	*n = 0;
	return rc == SQLITE_NOMEM ? cl_error_set(CL_ENOMEM, "no memory for rollups")
				  : cl_store_db_error(s, "read rollups");
}

int cl_store_vital_points(struct cl_store *s, const char *patient, const char *vital,
			  int64_t from_us, int64_t to_us, struct cl_point **points, size_t *n)
{
	sqlite3_stmt *q = s->q[Q_POINTS];
	size_t cap = 0;
	int rc;

	*points = NULL;
	*n = 0;
	sqlite3_bind_text(q, 1, patient, -1, SQLITE_STATIC);
	sqlite3_bind_text(q, 2, vital, -1, SQLITE_STATIC);
	sqlite3_bind_int64(q, 3, from_us);
	sqlite3_bind_int64(q, 4, to_us);
	while ((rc = sqlite3_step(q)) == SQLITE_ROW) {
		if (cl_grow(points, &cap, *n, sizeof(**points), 256) != 0) {
			rc = SQLITE_NOMEM;
			break;
		}
		(*points)[*n].ts = sqlite3_column_int64(q, 0);
		(*points)[(*n)++].v = sqlite3_column_double(q, 1);
	}
	sqlite3_reset(q);
	sqlite3_clear_bindings(q);
	if (rc == SQLITE_DONE)
		return CL_OK;
	cl_free(*points);
	*points = NULL;
	*n = 0;
	return rc == SQLITE_NOMEM ? cl_error_set(CL_ENOMEM, "no memory for vital values")
				  : cl_store_db_error(s, "read vital values");
}

int cl_store_put_news2(struct cl_store *s, const char *patient, int64_t ts_us,
		       int score, const char *risk, const int scores[7], int present)
{
	sqlite3_stmt *q = s->q[Q_NEWS2];
	int rc;

	sqlite3_bind_text(q, 1, patient, -1, SQLITE_STATIC);
	sqlite3_bind_int64(q, 2, ts_us);
	sqlite3_bind_int(q, 3, score);
	sqlite3_bind_text(q, 4, risk, -1, SQLITE_STATIC);
	for (int i = 0; i < 7; i++) {
		if (scores[i] < 0)
			sqlite3_bind_null(q, 5 + i);
		else
			sqlite3_bind_int(q, 5 + i, scores[i]);
	}
	sqlite3_bind_int(q, 12, present);
	rc = run(s, Q_NEWS2, "store NEWS2");
	if (rc != CL_OK)
		return rc;
	q = s->q[Q_NEWS2_MINUTE];
	sqlite3_bind_text(q, 1, patient, -1, SQLITE_STATIC);
	sqlite3_bind_int64(q, 2, ts_us - (ts_us % 60000000 + 60000000) % 60000000);
	sqlite3_bind_int64(q, 3, ts_us);
	sqlite3_bind_int(q, 4, score);
	sqlite3_bind_text(q, 5, risk, -1, SQLITE_STATIC);
	sqlite3_bind_int(q, 6, present);
	return run(s, Q_NEWS2_MINUTE, "store NEWS2 of the minute");
}

int cl_store_news2_history_json(struct cl_store *s, const char *patient, int64_t from_us,
				int64_t to_us, int64_t bucket_us, int limit, char **out)
{
	sqlite3_stmt *q = s->q[Q_NEWS2_HISTORY];
	json_t *arr = json_array();
	int rc;

	sqlite3_bind_text(q, 1, patient, -1, SQLITE_STATIC);
	sqlite3_bind_int64(q, 2, from_us);
	sqlite3_bind_int64(q, 3, to_us);
	sqlite3_bind_int64(q, 4, bucket_us);
	sqlite3_bind_int(q, 5, limit);
	while ((rc = sqlite3_step(q)) == SQLITE_ROW) {
		json_t *o = json_object();

		cl_store_json_time(o, "start", sqlite3_column_int64(q, 0));
		json_object_set_new(o, "score", json_integer(sqlite3_column_int(q, 1)));
		json_object_set_new(o, "risk", json_string((const char *)sqlite3_column_text(q, 2)));
		cl_store_json_time(o, "ts", sqlite3_column_int64(q, 3));
		json_object_set_new(o, "parameters", json_integer(sqlite3_column_int(q, 4)));
		json_array_append_new(arr, o);
	}
	sqlite3_reset(q);
	sqlite3_clear_bindings(q);
	if (rc != SQLITE_DONE) {
		json_decref(arr);
		return cl_store_db_error(s, "read NEWS2 over time");
	}
	*out = json_dumps(arr, JSON_COMPACT);
	json_decref(arr);
	return *out ? CL_OK : CL_ENOMEM;
}

void cl_store_json_time(json_t *o, const char *key, int64_t us)
{
	char buf[40];

	cl_time_format_rfc3339(us, buf, sizeof(buf), 3);
	json_object_set_new(o, key, json_string(buf));
}

static json_t *num(double v)
{
	return isfinite(v) ? json_real(v) : json_null();
}

const char *const cl_store_vitals_fields[] = {
	"end", "count", "min", "max", "mean", "stddev", "p50", "p90", "p99", NULL,
};

/* ,"key":number as jansson writes a real (17 significant digits, a ".0"
 * on a whole number), null when it is not finite. */
static void put_real(FILE *f, const char *key, double v)
{
	char b[40];

	if (!isfinite(v)) {
		fprintf(f, ",\"%s\":null", key);
		return;
	}
	snprintf(b, sizeof(b), "%.17g", v);
	fprintf(f, ",\"%s\":%s%s", key, b, strpbrk(b, ".e") ? "" : ".0");
}

/* sep"key":"time" (RFC 3339, milliseconds) */
static void put_time(FILE *f, const char *sep, const char *key, int64_t us)
{
	char b[40];

	cl_time_format_rfc3339(us, b, sizeof(b), 3);
	fprintf(f, "%s\"%s\":\"%s\"", sep, key, b);
}

/* ,"key":"text", escaped as JSON */
static void put_text(FILE *f, const char *key, const char *text)
{
	json_t *j = json_string(text ? text : "");
	char *q = j ? json_dumps(j, JSON_ENCODE_ANY) : NULL;

	fprintf(f, ",\"%s\":%s", key, q ? q : "null");
	free(q);
	json_decref(j);
}

/* One rollup row of the vitals JSON. */
static void put_rollup_row(FILE *f, const char *open, unsigned fields,
			   const struct cl_rollup_row *r)
{
	const double stat[] = { r->sum.min, r->sum.max, r->sum.mean, r->sum.stddev,
				r->sum.p50, r->sum.p90, r->sum.p99 };

	put_time(f, open, "start", r->start_us);
	if (fields & CL_VITALS_END)
		put_time(f, ",", "end", r->end_us);
	put_text(f, "type", r->vital);
	if (fields & CL_VITALS_COUNT)
		fprintf(f, ",\"count\":%llu", (unsigned long long)r->sum.count);
	for (int i = 2; cl_store_vitals_fields[i]; i++)
		if (fields & (1u << i))
			put_real(f, cl_store_vitals_fields[i], stat[i - 2]);
	put_text(f, "status", cl_rollup_status_name(r->status));
	fprintf(f, ",\"revision\":%lld}", (long long)r->revision);
}

/* Whether shown row a comes before stored row (start, vital). */
static int before(const struct cl_rollup_row *a, int64_t start, const char *vital)
{
	return a->start_us < start || (a->start_us == start && strcmp(a->vital, vital) < 0);
}

int cl_store_vitals_json(struct cl_store *s, const struct cl_vitals_query *v, char **out,
			 size_t *len, int64_t *rows)
{
	int raw = !v->window || !*v->window || strcmp(v->window, "raw") == 0;
	sqlite3_stmt *q = s->q[raw ? Q_RAW : Q_ROLLUPS];
	size_t x = 0;
	FILE *f;
	int rc = SQLITE_DONE;

	*out = NULL;
	*len = 0;
	*rows = 0;
	f = open_memstream(out, len);
	if (!f)
		return cl_error_set(CL_ENOMEM, "out of memory for the vitals");
	sqlite3_bind_text(q, 1, v->patient, -1, SQLITE_STATIC);
	sqlite3_bind_int64(q, 2, v->from_us);
	sqlite3_bind_int64(q, 3, v->to_us);
	sqlite3_bind_int(q, 4, v->limit);
	if (!raw)
		sqlite3_bind_text(q, 5, v->window, -1, SQLITE_STATIC);
	fputc('[', f);
	while (*rows < v->limit && (rc = sqlite3_step(q)) == SQLITE_ROW) {
		if (raw) {
			put_time(f, (*rows)++ ? ",{" : "{", "ts", sqlite3_column_int64(q, 0));
			put_text(f, "type", (const char *)sqlite3_column_text(q, 1));
			put_real(f, "value", sqlite3_column_double(q, 2));
			put_text(f, "device_id", (const char *)sqlite3_column_text(q, 3));
			fputc('}', f);
			continue;
		}
		const char *vital = (const char *)sqlite3_column_text(q, 2);
		const char *st = (const char *)sqlite3_column_text(q, 11);
		struct cl_rollup_row r = {
			.vital = vital ? vital : "",
			.start_us = sqlite3_column_int64(q, 0),
			.end_us = sqlite3_column_int64(q, 1),
			.sum = { .count = (uint64_t)sqlite3_column_int64(q, 3),
				 .min = sqlite3_column_double(q, 4),
				 .max = sqlite3_column_double(q, 5),
				 .mean = sqlite3_column_double(q, 6),
				 .stddev = sqlite3_column_double(q, 7),
				 .p50 = sqlite3_column_double(q, 8),
				 .p90 = sqlite3_column_double(q, 9),
				 .p99 = sqlite3_column_double(q, 10) },
			.status = st && strcmp(st, "corrected") == 0 ? CL_ROLLUP_CORRECTED
								     : CL_ROLLUP_FINAL,
			.revision = sqlite3_column_int64(q, 12),
		};

		/* the open windows shown beside the stored ones, in order */
		while (x < v->nextra && *rows < v->limit &&
		       before(&v->extra[x], r.start_us, r.vital))
			put_rollup_row(f, (*rows)++ ? ",{" : "{", v->fields, &v->extra[x++]);
		if (*rows < v->limit)
			put_rollup_row(f, (*rows)++ ? ",{" : "{", v->fields, &r);
	}
	if (*rows >= v->limit)
		rc = SQLITE_DONE;
	while (rc == SQLITE_DONE && x < v->nextra && *rows < v->limit)
		put_rollup_row(f, (*rows)++ ? ",{" : "{", v->fields, &v->extra[x++]);
	fputc(']', f);
	sqlite3_reset(q);
	sqlite3_clear_bindings(q);
	if (fclose(f) != 0 || !*out) {
		free(*out);
		*out = NULL;
		return cl_error_set(CL_ENOMEM, "out of memory for the vitals");
	}
	if (rc != SQLITE_DONE) {
		free(*out);
		*out = NULL;
		return cl_store_db_error(s, "read vitals");
	}
	return CL_OK;
}

int cl_store_news2_json(struct cl_store *s, const char *patient, char **out)
{
	static const char *const names[] = { "respiration", "spo2", "supplemental_o2",
					     "systolic_bp", "pulse", "consciousness",
					     "temperature" };
	sqlite3_stmt *q = s->q[Q_NEWS2_GET];
	int rc;

	*out = NULL;
	sqlite3_bind_text(q, 1, patient, -1, SQLITE_STATIC);
	rc = sqlite3_step(q);
	if (rc == SQLITE_ROW) {
		json_t *o = json_object(), *p = json_object();

		cl_store_json_time(o, "ts", sqlite3_column_int64(q, 0));
		json_object_set_new(o, "score", json_integer(sqlite3_column_int(q, 1)));
		json_object_set_new(o, "risk", json_string((const char *)sqlite3_column_text(q, 2)));
		for (int i = 0; i < 7; i++)
			json_object_set_new(p, names[i], sqlite3_column_type(q, 3 + i) == SQLITE_NULL
							   ? json_null()
							   : json_integer(sqlite3_column_int(q, 3 + i)));
		json_object_set_new(o, "parameters", p);
		json_object_set_new(o, "parameters_present", json_integer(sqlite3_column_int(q, 10)));
		*out = json_dumps(o, JSON_COMPACT);
		json_decref(o);
	}
	sqlite3_reset(q);
	sqlite3_clear_bindings(q);
	if (rc != SQLITE_ROW && rc != SQLITE_DONE)
		return cl_store_db_error(s, "read NEWS2");
	return CL_OK;
}

/* 1 if the store has the table (silver's come with the first refinement). */
static int has_table(struct cl_store *s, const char *name)
{
	sqlite3_stmt *q = NULL;
	int found = 0;

	if (sqlite3_prepare_v2(s->db, "SELECT 1 FROM sqlite_master WHERE type = 'table' AND"
			       " name = ?1", -1, &q, NULL) == SQLITE_OK &&
	    sqlite3_bind_text(q, 1, name, -1, SQLITE_STATIC) == SQLITE_OK)
		found = sqlite3_step(q) == SQLITE_ROW;
	sqlite3_finalize(q);
	return found;
}

/* See cl_store_int.h. */
void cl_store_ward_sql(struct cl_store *s, const char *patient, char *buf, size_t cap)
{
	char enc[400] = "", dev[300] = "";

	if (has_table(s, "encounter"))
		snprintf(enc, sizeof(enc), "(SELECT ward FROM encounter WHERE patient_id = %s AND"
			 " ward <> '' ORDER BY end_ts IS NULL DESC, start_ts DESC LIMIT 1), ",
			 patient);
	if (has_table(s, "device"))
		snprintf(dev, sizeof(dev), "(SELECT ward FROM device WHERE patient_id = %s AND"
			 " ward <> '' ORDER BY id LIMIT 1), ", patient);
	snprintf(buf, cap, "coalesce(%s%sNULL, NULL)", enc, dev);
}

int cl_store_patient_ward(struct cl_store *s, const char *patient, char *ward, size_t cap)
{
	char expr[1200], text[1300];
	sqlite3_stmt *q = NULL;
	int rc;

	ward[0] = '\0';
	cl_store_ward_sql(s, "?1", expr, sizeof(expr));
	snprintf(text, sizeof(text), "SELECT %s", expr);
	if (sqlite3_prepare_v2(s->db, text, -1, &q, NULL) != SQLITE_OK)
		return cl_store_db_error(s, "look up a ward");
	sqlite3_bind_text(q, 1, patient, -1, SQLITE_STATIC);
	rc = sqlite3_step(q);
	if (rc == SQLITE_ROW && sqlite3_column_text(q, 0))
		snprintf(ward, cap, "%s", (const char *)sqlite3_column_text(q, 0));
	sqlite3_finalize(q);
	return rc == SQLITE_ROW ? CL_OK : cl_store_db_error(s, "look up a ward");
}

int cl_store_ward_patients(struct cl_store *s, const char *ward,
			   void (*fn)(void *arg, const char *patient), void *arg)
{
	char expr[1200], text[1500];
	sqlite3_stmt *q = NULL;
	int rc;

	if (!has_table(s, "fhir_resource"))
		return CL_OK;
	cl_store_ward_sql(s, "r.id", expr, sizeof(expr));
	snprintf(text, sizeof(text), "SELECT r.id FROM fhir_resource r WHERE r.type = 'Patient'"
		 " AND r.current = 1 AND r.deleted = 0 AND %s = ?1 ORDER BY r.id", expr);
	if (sqlite3_prepare_v2(s->db, text, -1, &q, NULL) != SQLITE_OK)
		return cl_store_db_error(s, "list a ward's patients");
	sqlite3_bind_text(q, 1, ward, -1, SQLITE_STATIC);
	while ((rc = sqlite3_step(q)) == SQLITE_ROW)
		fn(arg, (const char *)sqlite3_column_text(q, 0));
	sqlite3_finalize(q);
	return rc == SQLITE_DONE ? CL_OK : cl_store_db_error(s, "list a ward's patients");
}

int cl_store_alert_open(struct cl_store *s, const struct cl_store_alert *a)
{
	sqlite3_stmt *q = s->q[Q_ALERT_OPEN];

	sqlite3_bind_text(q, 1, a->rule, -1, SQLITE_STATIC);
	sqlite3_bind_text(q, 2, a->patient, -1, SQLITE_STATIC);
	sqlite3_bind_text(q, 3, a->device, -1, SQLITE_STATIC);
	sqlite3_bind_text(q, 4, a->severity, -1, SQLITE_STATIC);
	sqlite3_bind_int64(q, 5, a->start_us);
	sqlite3_bind_double(q, 6, a->value);
	sqlite3_bind_text(q, 7, a->message, -1, SQLITE_STATIC);
	sqlite3_bind_int64(q, 8, a->id);
	sqlite3_bind_text(q, 9, a->category ? a->category : "clinical", -1, SQLITE_STATIC);
	sqlite3_bind_int64(q, 10, a->raised_us ? a->raised_us : a->start_us);
	if (a->learned_us)
		sqlite3_bind_int64(q, 11, a->learned_us);
	else
		sqlite3_bind_null(q, 11);
	return run(s, Q_ALERT_OPEN, "open an alert");
}

int cl_store_alert_live(struct cl_store *s, int64_t id)
{
	sqlite3_bind_int64(s->q[Q_ALERT_LIVE], 1, id);
	return run(s, Q_ALERT_LIVE, "mark an alert live");
}

int cl_store_alerts_end_retrospective(struct cl_store *s)
{
	if (sqlite3_exec(s->db, "UPDATE alert SET closed_us = max(opened_us, coalesce(raised_us, 0))"
			 " WHERE closed_us IS NULL AND learned_us IS NOT NULL", NULL, NULL,
			 NULL) != SQLITE_OK)
		return cl_store_db_error(s, "end retrospective alerts");
	return CL_OK;
}

int cl_store_alert_held(struct cl_store *s, const struct cl_store_alert *a)
{
	sqlite3_stmt *q = s->q[Q_ALERT_HELD];

	sqlite3_bind_text(q, 1, a->rule, -1, SQLITE_STATIC);
	sqlite3_bind_text(q, 2, a->category ? a->category : "clinical", -1, SQLITE_STATIC);
	sqlite3_bind_text(q, 3, a->patient, -1, SQLITE_STATIC);
	sqlite3_bind_text(q, 4, a->device, -1, SQLITE_STATIC);
	sqlite3_bind_text(q, 5, a->reason, -1, SQLITE_STATIC);
	sqlite3_bind_text(q, 6, a->message, -1, SQLITE_STATIC);
	sqlite3_bind_int64(q, 7, a->start_us);
	sqlite3_bind_int64(q, 8, a->raised_us);
	sqlite3_bind_int(q, 9, a->readings);
	sqlite3_bind_double(q, 10, a->value);
	return run(s, Q_ALERT_HELD, "record an alert held back");
}

/* One integer from a one-row query. */
static int scalar(struct cl_store *s, int qi, const char *what, int64_t *out)
{
	sqlite3_stmt *q = s->q[qi];
	int rc = sqlite3_step(q);

	if (rc == SQLITE_ROW)
		*out = sqlite3_column_int64(q, 0);
	sqlite3_reset(q);
	return rc == SQLITE_ROW ? CL_OK : cl_store_db_error(s, what);
}

int cl_store_alert_max_id(struct cl_store *s, int64_t *id)
{
	return scalar(s, Q_ALERT_MAX, "read alert ids", id);
}

int cl_store_outbox_put(struct cl_store *s, const char *json, size_t len)
{
	int64_t consumers = 0;
	int rc = cl_store_outbox_consumers_count(s, &consumers);

	/* nobody would ever read (and so remove) it */
	if (rc != CL_OK || consumers == 0)
		return rc;
	sqlite3_bind_text(s->q[Q_OUTBOX_PUT], 1, json, (int)len, SQLITE_STATIC);
	return run(s, Q_OUTBOX_PUT, "queue an alert for the outbox's consumers");
}

int cl_store_outbox_next(struct cl_store *s, int64_t after, int64_t *seq, char **json)
{
	sqlite3_stmt *q = s->q[Q_OUTBOX_GET];
	int rc;

	*json = NULL;
	sqlite3_bind_int64(q, 1, after);
	sqlite3_bind_int(q, 2, 1);
	rc = sqlite3_step(q);
	if (rc == SQLITE_ROW) {
		const char *t = (const char *)sqlite3_column_text(q, 1);
		size_t n = (size_t)sqlite3_column_bytes(q, 1);

		*seq = sqlite3_column_int64(q, 0);
		*json = cl_malloc(n + 1);
		if (*json) {
			memcpy(*json, t, n);
			(*json)[n] = '\0';
		}
	}
	sqlite3_reset(q);
	sqlite3_clear_bindings(q);
	if (rc == SQLITE_DONE)
		return CL_ENOENT;
	if (rc != SQLITE_ROW)
		return cl_store_db_error(s, "read the alert outbox");
	return *json ? CL_OK : cl_error_set(CL_ENOMEM, "no memory for an outbox entry");
}

int cl_store_outbox_count(struct cl_store *s, int64_t *n)
{
	return scalar(s, Q_OUTBOX_COUNT, "count the alert outbox", n);
}

int cl_store_alert_close(struct cl_store *s, int64_t id, int64_t ts_us)
{
	sqlite3_bind_int64(s->q[Q_ALERT_CLOSE], 1, id);
	sqlite3_bind_int64(s->q[Q_ALERT_CLOSE], 2, ts_us);
	return run(s, Q_ALERT_CLOSE, "close an alert");
}

int cl_store_alerts_open_each(struct cl_store *s,
			      void (*fn)(void *arg, int64_t id, const char *rule,
					 const char *patient, const char *device),
			      void *arg)
{
	sqlite3_stmt *q = s->q[Q_ALERTS_OPEN];
	int rc;

	while ((rc = sqlite3_step(q)) == SQLITE_ROW)
		fn(arg, sqlite3_column_int64(q, 0), (const char *)sqlite3_column_text(q, 1),
		   (const char *)sqlite3_column_text(q, 2), (const char *)sqlite3_column_text(q, 3));
	sqlite3_reset(q);
	return rc == SQLITE_DONE ? CL_OK : cl_store_db_error(s, "read open alerts");
}

/* The acknowledgement of alert id, for the outbox: the alert's rule,
 * patient and device as its opening said them, "state":"acknowledged",
 * when and by whom. */
static int ack_note(struct cl_store *s, int64_t id, int64_t now, const char *by)
{
	sqlite3_stmt *q;
	json_t *o = NULL;
	char *doc = NULL;
	int rc;

	if (sqlite3_prepare_v2(s->db, "SELECT rule, severity, category, patient_id, device_id,"
			       " message FROM alert WHERE id = ?1", -1, &q, NULL) != SQLITE_OK)
		return cl_store_db_error(s, "read an acknowledged alert");
	sqlite3_bind_int64(q, 1, id);
	rc = sqlite3_step(q);
	if (rc == SQLITE_ROW) {
		o = json_object();
		json_object_set_new(o, "id", json_integer(id));
		for (int c = 0; c < 6; c++)
			json_object_set_new(o, sqlite3_column_name(q, c),
					    json_string((const char *)sqlite3_column_text(q, c)));
		json_object_set_new(o, "state", json_string("acknowledged"));
		cl_store_json_time(o, "time", now);
		json_object_set_new(o, "acknowledged_by", json_string(by));
		doc = json_dumps(o, JSON_COMPACT);
		json_decref(o);
	}
	sqlite3_finalize(q);
	if (rc != SQLITE_ROW)
		return rc == SQLITE_DONE ? CL_OK : cl_store_db_error(s, "read an acknowledged alert");
	if (!doc)
		return cl_error_set(CL_ENOMEM, "no memory for an acknowledgement");
	rc = cl_store_outbox_put(s, doc, strlen(doc));
	free(doc);
	return rc;
}

int cl_store_alert_ack(struct cl_store *s, int64_t id, const char *by, int *changed)
{
	int64_t now = cl_time_now_us();
	int rc;

	*changed = 0;
	rc = cl_store_begin(s);
	if (rc != CL_OK)
		return rc;
	sqlite3_bind_int64(s->q[Q_ALERT_ACK], 1, id);
	sqlite3_bind_int64(s->q[Q_ALERT_ACK], 2, now);
	sqlite3_bind_text(s->q[Q_ALERT_ACK], 3, by, -1, SQLITE_STATIC);
	rc = run(s, Q_ALERT_ACK, "acknowledge an alert");
	if (rc == CL_OK)
		*changed = sqlite3_changes(s->db);
	/* the outbox's consumers are told in the same transaction */
	if (rc == CL_OK && *changed)
		rc = ack_note(s, id, now, by);
	if (rc == CL_OK)
		rc = cl_store_commit(s);
	if (rc != CL_OK) {
		cl_store_rollback(s);
		*changed = 0;
	}
	return rc;
}

static json_t *alert_row(sqlite3_stmt *q)
{
	json_t *o = json_object();

	json_object_set_new(o, "id", json_integer(sqlite3_column_int64(q, 0)));
	json_object_set_new(o, "rule", json_string((const char *)sqlite3_column_text(q, 1)));
	json_object_set_new(o, "patient_id", json_string((const char *)sqlite3_column_text(q, 2)));
	json_object_set_new(o, "device_id", json_string((const char *)sqlite3_column_text(q, 3)));
	json_object_set_new(o, "severity", json_string((const char *)sqlite3_column_text(q, 4)));
	cl_store_json_time(o, "opened", sqlite3_column_int64(q, 5));
	if (sqlite3_column_type(q, 6) == SQLITE_NULL)
		json_object_set_new(o, "closed", json_null());
	else
		cl_store_json_time(o, "closed", sqlite3_column_int64(q, 6));
	if (sqlite3_column_type(q, 7) == SQLITE_NULL)
		json_object_set_new(o, "acknowledged", json_null());
	else
		cl_store_json_time(o, "acknowledged", sqlite3_column_int64(q, 7));
	json_object_set_new(o, "value", num(sqlite3_column_double(q, 8)));
	json_object_set_new(o, "message", json_string((const char *)sqlite3_column_text(q, 9)));
	json_object_set_new(o, "open", json_boolean(sqlite3_column_type(q, 6) == SQLITE_NULL));
	json_object_set_new(o, "acknowledged_by", sqlite3_column_type(q, 10) == SQLITE_NULL
				   ? json_null()
				   : json_string((const char *)sqlite3_column_text(q, 10)));
	json_object_set_new(o, "category", json_string((const char *)sqlite3_column_text(q, 11)));
	cl_store_json_time(o, "raised", sqlite3_column_type(q, 12) == SQLITE_NULL
					    ? sqlite3_column_int64(q, 5) : sqlite3_column_int64(q, 12));
	/* learned after its episode (or while its end is not yet known) */
	if (sqlite3_column_count(q) > 13 && sqlite3_column_type(q, 13) != SQLITE_NULL) {
		json_object_set_new(o, "retrospective", json_true());
		cl_store_json_time(o, "learned", sqlite3_column_int64(q, 13));
		json_object_set_new(o, "open", json_false());
	}
	return o;
}

static json_t *held_row(sqlite3_stmt *q)
{
	json_t *o = json_object();

	json_object_set_new(o, "id", json_integer(sqlite3_column_int64(q, 0)));
	json_object_set_new(o, "rule", json_string((const char *)sqlite3_column_text(q, 1)));
	json_object_set_new(o, "category", json_string((const char *)sqlite3_column_text(q, 2)));
	json_object_set_new(o, "patient_id", json_string((const char *)sqlite3_column_text(q, 3)));
	json_object_set_new(o, "device_id", json_string((const char *)sqlite3_column_text(q, 4)));
	json_object_set_new(o, "reason", json_string((const char *)sqlite3_column_text(q, 5)));
	json_object_set_new(o, "detail", json_string((const char *)sqlite3_column_text(q, 6)));
	cl_store_json_time(o, "start", sqlite3_column_int64(q, 7));
	cl_store_json_time(o, "end", sqlite3_column_int64(q, 8));
	json_object_set_new(o, "readings", json_integer(sqlite3_column_int64(q, 9)));
	json_object_set_new(o, "value", num(sqlite3_column_double(q, 10)));
	return o;
}

int cl_store_alerts_held_json(struct cl_store *s, const struct cl_store_alert_filter *f,
			      char **out)
{
	char text[2048], ward[1200];

	cl_store_ward_sql(s, "alert_held.patient_id", ward, sizeof(ward));
	snprintf(text, sizeof(text),
		 "SELECT id, rule, category, patient_id, device_id, reason, detail, start_us, end_us,"
		 " readings, value FROM alert_held WHERE start_us >= ?1"
		 " AND (?2 IS NULL OR patient_id = ?2) AND (?3 = 0 OR ?3 = 1)"
		 " AND (?7 IS NULL OR category = ?7)"
		 " AND (?4 = 0 OR id = ?4)"
		 " AND (?6 IS NULL OR patient_id = '' OR"
		 " instr(',' || ?6 || ',', ',' || coalesce(%s, char(1)) || ',') > 0)"
		 " ORDER BY id DESC LIMIT ?5", ward);
	return cl_store_alert_list(s, text, f, held_row, "read alerts held back", out);
}

int cl_store_alert_rows(struct cl_store *s, const char *text, const struct cl_store_alert_filter *f,
			json_t *(*row)(sqlite3_stmt *q), const char *what, json_t **out)
{
	sqlite3_stmt *q;
	json_t *arr;
	int rc;

	if (sqlite3_prepare_v2(s->db, text, -1, &q, NULL) != SQLITE_OK)
		return cl_store_db_error(s, what);
	sqlite3_bind_int64(q, 1, f->since_us);
	if (f->patient)
		sqlite3_bind_text(q, 2, f->patient, -1, SQLITE_STATIC);
	else
		sqlite3_bind_null(q, 2);
	sqlite3_bind_int(q, 3, f->open_only);
	sqlite3_bind_int64(q, 4, f->id);
	sqlite3_bind_int(q, 5, f->limit);
	if (sqlite3_bind_parameter_count(q) >= 6) {
		if (f->wards)
			sqlite3_bind_text(q, 6, f->wards, -1, SQLITE_STATIC);
		else
			sqlite3_bind_null(q, 6);
	}
	if (sqlite3_bind_parameter_count(q) >= 7) {
		if (f->category)
			sqlite3_bind_text(q, 7, f->category, -1, SQLITE_STATIC);
		else
			sqlite3_bind_null(q, 7);
	}
	arr = json_array();
	while ((rc = sqlite3_step(q)) == SQLITE_ROW)
		json_array_append_new(arr, row(q));
	sqlite3_finalize(q);
	if (rc != SQLITE_DONE) {
		json_decref(arr);
		return cl_store_db_error(s, what);
	}
	*out = arr;
	return CL_OK;
}

int cl_store_alert_list(struct cl_store *s, const char *text, const struct cl_store_alert_filter *f,
			json_t *(*row)(sqlite3_stmt *q), const char *what, char **out)
{
	json_t *arr = NULL;
	int rc = cl_store_alert_rows(s, text, f, row, what, &arr);

	if (rc != CL_OK)
		return rc;
	*out = json_dumps(arr, JSON_COMPACT);
	json_decref(arr);
	return *out ? CL_OK : cl_error_set(CL_ENOMEM, "no memory to %s", what);
}

int cl_store_alerts_json(struct cl_store *s, const struct cl_store_alert_filter *f, char **out)
{
	char text[2048], ward[1200];

	cl_store_ward_sql(s, "alert.patient_id", ward, sizeof(ward));
	snprintf(text, sizeof(text),
		 "SELECT id, rule, patient_id, device_id, severity, opened_us, closed_us, acked_us,"
		 " value, message, acked_by, category, raised_us, learned_us FROM alert"
		 " WHERE opened_us >= ?1 AND (?2 IS NULL OR patient_id = ?2)"
		 " AND (?3 = 0 OR (closed_us IS NULL AND learned_us IS NULL))"
		 " AND (?7 IS NULL OR category = ?7)"
		 " AND (?4 = 0 OR id = ?4)"
		 " AND (?6 IS NULL OR patient_id = '' OR"
		 " instr(',' || ?6 || ',', ',' || coalesce(%s, char(1)) || ',') > 0)"
		 " ORDER BY id DESC LIMIT ?5", ward);
	return cl_store_alert_list(s, text, f, alert_row, "read alerts", out);
}

int cl_store_open_alerts(struct cl_store *s, long *count)
{
	sqlite3_stmt *q;
	int rc;

	if (sqlite3_prepare_v2(s->db, "SELECT count(*) FROM alert WHERE closed_us IS NULL"
			       " AND learned_us IS NULL", -1, &q, NULL) != SQLITE_OK)
		return cl_store_db_error(s, "count alerts");
	rc = sqlite3_step(q);
	*count = rc == SQLITE_ROW ? (long)sqlite3_column_int64(q, 0) : 0;
	sqlite3_finalize(q);
	return rc == SQLITE_ROW ? CL_OK : cl_store_db_error(s, "count alerts");
}

int cl_store_top_news2(struct cl_store *s, int n,
		       void (*fn)(void *arg, const char *patient, int score, const char *risk),
		       void *arg)
{
	sqlite3_stmt *q;
	int rc;

	if (sqlite3_prepare_v2(s->db, "SELECT patient_id, score, risk FROM news2"
			       " ORDER BY score DESC, patient_id LIMIT ?1", -1, &q, NULL) != SQLITE_OK)
		return cl_store_db_error(s, "top NEWS2");
	sqlite3_bind_int(q, 1, n);
	while ((rc = sqlite3_step(q)) == SQLITE_ROW)
		fn(arg, (const char *)sqlite3_column_text(q, 0), sqlite3_column_int(q, 1),
		   (const char *)sqlite3_column_text(q, 2));
	sqlite3_finalize(q);
	return rc == SQLITE_DONE ? CL_OK : cl_store_db_error(s, "top NEWS2");
}

/*
 * The writer's busy handler: waits as SQLite's busy timeout would (short
 * sleeps growing to 100 ms, CL_DB_BUSY_MS in all) and says meanwhile that
 * it waits, so this process's other writers (silver's) give way after
 * their commit instead of taking the lock straight back: SQLite's lock is
 * not fair, and a loop of back-to-back transactions kept the writer
 * waiting the whole 10 s.
 */
static int writer_busy(void *arg, int count)
{
	static const int step_ms[] = { 1, 2, 5, 10, 15, 20, 25, 25, 25, 50, 50, 100 };
	const int nsteps = (int)(sizeof(step_ms) / sizeof(step_ms[0]));
	int waited = 0;

	(void)arg;
	for (int i = 0; i < count && i < nsteps; i++)
		waited += step_ms[i];
	if (count > nsteps)
		waited += (count - nsteps) * 100;
	if (waited >= CL_DB_BUSY_MS) {
		atomic_store(&writer_waiting, 0);
		return 0;
	}
	atomic_store(&writer_waiting, 1);
	usleep((useconds_t)(count < nsteps ? step_ms[count] : 100) * 1000);
	return 1;
}

void cl_store_yield_to_writer(void)
{
	for (int i = 0; i < 250 && atomic_load(&writer_waiting); i++)
		usleep(1000);
}

int cl_store_set_writer(struct cl_store *s)
{
	s->writer = 1;
	sqlite3_busy_handler(s->db, writer_busy, NULL);
	/* a page cache big enough for the indexes' hot pages: without it
	 * every insert rereads B-tree pages from the OS */
	return sqlite3_exec(s->db, "PRAGMA wal_autocheckpoint = 0; PRAGMA cache_size = -32768",
			    NULL, NULL, NULL) == SQLITE_OK
		       ? CL_OK : cl_store_db_error(s, "writer settings");
}

int cl_store_wal_checkpoint(struct cl_store *s)
{
	int rc = sqlite3_wal_checkpoint_v2(s->db, NULL, SQLITE_CHECKPOINT_PASSIVE, NULL, NULL);

	return rc == SQLITE_OK || rc == SQLITE_BUSY ? CL_OK : cl_store_db_error(s, "WAL checkpoint");
}

void cl_store_data_dir(struct cl_store *s, char *buf, size_t cap)
{
	const char *path = sqlite3_db_filename(s->db, "main");
	const char *slash = path ? strrchr(path, '/') : NULL;

	if (!slash)
		snprintf(buf, cap, ".");
	else if (slash == path)
		snprintf(buf, cap, "/");
	else
		snprintf(buf, cap, "%.*s", (int)(slash - path), path);
}

int cl_store_wal_release(struct cl_store *s, uint64_t *freed)
{
	const char *wal = sqlite3_filename_wal(sqlite3_db_filename(s->db, "main"));
	struct stat before, after;
	int rc;

	*freed = 0;
	if (!wal || stat(wal, &before) != 0)
		before.st_blocks = 0;
	rc = sqlite3_wal_checkpoint_v2(s->db, NULL, SQLITE_CHECKPOINT_TRUNCATE, NULL, NULL);
	if (rc != SQLITE_OK)
		return cl_store_db_error(s, "WAL checkpoint (truncate)");
	if (!wal || stat(wal, &after) != 0)
		after.st_blocks = 0;
	if (before.st_blocks > after.st_blocks)
		*freed = (uint64_t)(before.st_blocks - after.st_blocks) * 512;
	return CL_OK;
}

uint64_t cl_store_refine_position(sqlite3 *db, const char *source)
{
	int64_t v = cl_sql_one_int(db, "SELECT next_offset FROM refine_checkpoint WHERE source = ?1",
				   source, 0);

	return v > 0 ? (uint64_t)v : 0;
}

uint64_t cl_store_checkpoint_of(sqlite3 *db, const char *consumer)
{
	int64_t v = cl_sql_one_int(db, "SELECT processed FROM stream_checkpoint WHERE consumer = ?1",
				   consumer, 0);

	return v > 0 ? (uint64_t)v : 0;
}
