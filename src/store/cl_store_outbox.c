/*
 * The alert outbox's named cursors. See cl_store_outbox.h.
 */
#include "cl_store_outbox.h"
#include "cl_store.h"
#include "cl_store_int.h"
#include "core/cl_error.h"
#include "core/cl_mem.h"
#include "model/cl_vitals.h"

#include <jansson.h>
#include <sqlite3.h>
#include <stdlib.h>
#include <string.h>

/* Runs sql with up to two bound values (text a, integer b) to its end;
 * *out, when given, the first column of its one row. */
static int exec1(struct cl_store *s, const char *sql, const char *a, int64_t b, int64_t *out,
		 const char *what)
{
	sqlite3_stmt *q;
	int rc;

	if (sqlite3_prepare_v2(cl_store_sqlite(s), sql, -1, &q, NULL) != SQLITE_OK)
		return cl_store_db_error(s, what);
	if (sqlite3_bind_parameter_count(q) >= 1)
		sqlite3_bind_text(q, 1, a, -1, SQLITE_STATIC);
	if (sqlite3_bind_parameter_count(q) >= 2)
		sqlite3_bind_int64(q, 2, b);
	while ((rc = sqlite3_step(q)) == SQLITE_ROW)
		if (out)
			*out = sqlite3_column_int64(q, 0);
	sqlite3_finalize(q);
	return rc == SQLITE_DONE ? CL_OK : cl_store_db_error(s, what);
}

static const char prune[] =
	"DELETE FROM alert_outbox WHERE seq <= coalesce((SELECT min(seq) FROM outbox_cursor),"
	" (SELECT max(seq) FROM alert_outbox))";

int cl_store_outbox_consumers(struct cl_store *s, const char *const *names, int n)
{
	json_t *arr = json_array();
	char *list;
	int rc;

	for (int i = 0; i < n; i++)
		json_array_append_new(arr, json_string(names[i]));
	list = json_dumps(arr, JSON_COMPACT);
	json_decref(arr);
	if (!list)
		return cl_error_set(CL_ENOMEM, "no memory for the outbox's consumers");
	rc = cl_store_begin(s);
	if (rc == CL_OK)
		rc = exec1(s, "INSERT OR IGNORE INTO outbox_cursor(name, seq)"
			   " SELECT value, 0 FROM json_each(?1)", list, 0, NULL,
			   "add the outbox's consumers");
	if (rc == CL_OK)
		rc = exec1(s, "DELETE FROM outbox_cursor WHERE name NOT IN"
			   " (SELECT value FROM json_each(?1))", list, 0, NULL,
			   "drop the outbox's old consumers");
	if (rc == CL_OK)
		rc = exec1(s, prune, NULL, 0, NULL, "clear the outbox");
	if (rc == CL_OK)
		rc = cl_store_commit(s);
	if (rc != CL_OK)
		cl_store_rollback(s);
	free(list);
	return rc;
}

int cl_store_outbox_consumers_count(struct cl_store *s, int64_t *n)
{
	*n = 0;
	return exec1(s, "SELECT count(*) FROM outbox_cursor", NULL, 0, n,
		     "count the outbox's consumers");
}

int cl_store_outbox_cursor(struct cl_store *s, const char *name, int64_t *seq)
{
	int rc = exec1(s, "INSERT OR IGNORE INTO outbox_cursor(name, seq) VALUES (?1, 0)", name,
		       0, NULL, "add an outbox cursor");

	*seq = 0;
	if (rc == CL_OK)
		rc = exec1(s, "SELECT seq FROM outbox_cursor WHERE name = ?1", name, 0, seq,
			   "read an outbox cursor");
	return rc;
}

int cl_store_outbox_advance(struct cl_store *s, const char *name, int64_t seq)
{
	int rc = exec1(s, "UPDATE outbox_cursor SET seq = max(seq, ?2) WHERE name = ?1", name,
		       seq, NULL, "move an outbox cursor");

	return rc == CL_OK ? exec1(s, prune, NULL, 0, NULL, "clear the outbox") : rc;
}

int cl_store_outbox_pending(struct cl_store *s, int64_t after, int64_t *n)
{
	sqlite3_stmt *q;
	int rc;

	*n = 0;
	if (sqlite3_prepare_v2(cl_store_sqlite(s), "SELECT count(*) FROM alert_outbox"
			       " WHERE seq > ?1", -1, &q, NULL) != SQLITE_OK)
		return cl_store_db_error(s, "count the outbox");
	sqlite3_bind_int64(q, 1, after);
	rc = sqlite3_step(q);
	if (rc == SQLITE_ROW)
		*n = sqlite3_column_int64(q, 0);
	sqlite3_finalize(q);
	return rc == SQLITE_ROW ? CL_OK : cl_store_db_error(s, "count the outbox");
}

int cl_store_rollup_outbox_put(struct cl_store *s, const char *patient, const char *vital,
			       const char *window, int64_t start_us)
{
	sqlite3_stmt *q;
	int rc;

	if (sqlite3_prepare_v2(cl_store_sqlite(s), "INSERT INTO rollup_outbox(patient_id, vital,"
			       " window, start_us) VALUES (?1, ?2, ?3, ?4)", -1, &q,
			       NULL) != SQLITE_OK)
		return cl_store_db_error(s, "queue a rollup");
	sqlite3_bind_text(q, 1, patient, -1, SQLITE_STATIC);
	sqlite3_bind_text(q, 2, vital, -1, SQLITE_STATIC);
	sqlite3_bind_text(q, 3, window, -1, SQLITE_STATIC);
	sqlite3_bind_int64(q, 4, start_us);
	rc = sqlite3_step(q);
	sqlite3_finalize(q);
	return rc == SQLITE_DONE ? CL_OK : cl_store_db_error(s, "queue a rollup");
}

static void put_num(json_t *o, const char *key, sqlite3_stmt *q, int col)
{
	if (sqlite3_column_type(q, col) == SQLITE_NULL)
		json_object_set_new(o, key, json_null());
	else
		json_object_set_new(o, key, json_real(sqlite3_column_double(q, col)));
}

int cl_store_rollup_outbox_next(struct cl_store *s, int64_t after, int64_t *seq, char **json)
{
	static const char *const stats[] = { "min", "max", "mean", "stddev", "p50", "p90", "p99" };
	sqlite3_stmt *q;
	json_t *o;
	char *doc;
	int rc;

	*json = NULL;
	/* an entry whose rollup is gone (a rebuilt store) is passed over */
	if (sqlite3_prepare_v2(cl_store_sqlite(s),
			       "SELECT o.seq, r.patient_id, r.vital, r.window, r.start_us, r.end_us,"
			       " r.count, r.min, r.max, r.mean, r.stddev, r.p50, r.p90, r.p99,"
			       " r.status, r.revision"
			       " FROM rollup_outbox o JOIN vital_rollup r ON r.patient_id ="
			       " o.patient_id AND r.window = o.window AND r.start_us = o.start_us"
			       " AND r.vital = o.vital WHERE o.seq > ?1 ORDER BY o.seq LIMIT 1", -1,
			       &q, NULL) != SQLITE_OK)
		return cl_store_db_error(s, "read the rollup outbox");
	sqlite3_bind_int64(q, 1, after);
	rc = sqlite3_step(q);
	if (rc != SQLITE_ROW) {
		sqlite3_finalize(q);
		return rc == SQLITE_DONE ? CL_ENOENT : cl_store_db_error(s, "read the rollup outbox");
	}
	*seq = sqlite3_column_int64(q, 0);
	o = json_object();
	json_object_set_new(o, "patient_id", json_string((const char *)sqlite3_column_text(q, 1)));
	json_object_set_new(o, "vital", json_string((const char *)sqlite3_column_text(q, 2)));
	{
		const char *vital = (const char *)sqlite3_column_text(q, 2);
		int v = cl_vital_by_name(vital, strlen(vital));

		if (v >= 0) {
			json_object_set_new(o, "loinc", json_string(cl_vital_loinc(v)));
			json_object_set_new(o, "unit", json_string(cl_vital_unit(v)));
		}
	}
	json_object_set_new(o, "window", json_string((const char *)sqlite3_column_text(q, 3)));
	cl_store_json_time(o, "start", sqlite3_column_int64(q, 4));
	cl_store_json_time(o, "end", sqlite3_column_int64(q, 5));
	json_object_set_new(o, "count", json_integer(sqlite3_column_int64(q, 6)));
	for (int i = 0; i < 7; i++)
		put_num(o, stats[i], q, 7 + i);
	json_object_set_new(o, "status", json_string((const char *)sqlite3_column_text(q, 14)));
	json_object_set_new(o, "revision", json_integer(sqlite3_column_int64(q, 15)));
	sqlite3_finalize(q);
	doc = json_dumps(o, JSON_COMPACT);
	json_decref(o);
	if (doc) {
		*json = cl_malloc(strlen(doc) + 1);
		if (*json)
			memcpy(*json, doc, strlen(doc) + 1);
		free(doc);
	}
	return *json ? CL_OK : cl_error_set(CL_ENOMEM, "no memory for a rollup");
}

int cl_store_rollup_outbox_done(struct cl_store *s, int64_t seq)
{
	sqlite3_stmt *q;
	int rc;

	if (sqlite3_prepare_v2(cl_store_sqlite(s), "DELETE FROM rollup_outbox WHERE seq <= ?1", -1,
			       &q, NULL) != SQLITE_OK)
		return cl_store_db_error(s, "clear the rollup outbox");
	sqlite3_bind_int64(q, 1, seq);
	rc = sqlite3_step(q);
	sqlite3_finalize(q);
	return rc == SQLITE_DONE ? CL_OK : cl_store_db_error(s, "clear the rollup outbox");
}

int cl_store_rollup_outbox_pending(struct cl_store *s, int64_t *n)
{
	*n = 0;
	return exec1(s, "SELECT count(*) FROM rollup_outbox", NULL, 0, n, "count the rollup outbox");
}

int cl_store_rollup_outbox_clear(struct cl_store *s)
{
	return exec1(s, "DELETE FROM rollup_outbox", NULL, 0, NULL, "clear the rollup outbox");
}
