/*
 * Access alerts in the serving store. See cl_store_access.h.
 */
#include "cl_store_access.h"
#include "cl_store.h"
#include "cl_store_int.h"
#include "core/cl_error.h"
#include "core/cl_time.h"

#include <jansson.h>
#include <stdlib.h>
#include <string.h>

static json_t *text(sqlite3_stmt *q, int col)
{
	const unsigned char *t = sqlite3_column_text(q, col);

	return t ? json_string((const char *)t) : json_null();
}

/* One row of `filtered` (below) as the API, the stream and the webhook show it. */
static json_t *row(sqlite3_stmt *q)
{
	json_t *o = json_object();
	int acked = sqlite3_column_type(q, 9) != SQLITE_NULL;

	json_object_set_new(o, "id", json_integer(sqlite3_column_int64(q, 0)));
	json_object_set_new(o, "category", json_string("access"));
	json_object_set_new(o, "kind", text(q, 1));
	cl_store_json_time(o, "time", sqlite3_column_int64(q, 2));
	json_object_set_new(o, "principal", text(q, 3));
	json_object_set_new(o, "role", text(q, 4));
	json_object_set_new(o, "patient_id", text(q, 5));
	json_object_set_new(o, "reason", text(q, 6));
	json_object_set_new(o, "request_id", text(q, 7));
	json_object_set_new(o, "client", text(q, 8));
	if (acked) {
		cl_store_json_time(o, "acknowledged", sqlite3_column_int64(q, 9));
		json_object_set_new(o, "acknowledged_by", text(q, 10));
	} else {
		json_object_set_new(o, "acknowledged", json_null());
		json_object_set_new(o, "acknowledged_by", json_null());
	}
	json_object_set_new(o, "open", json_boolean(!acked));
	return o;
}

static const char filtered[] =
	"SELECT id, kind, ts_us, principal, role, patient_id, reason, request_id, client,"
	" acked_us, acked_by FROM access_alert WHERE ts_us >= ?1"
	" AND (?2 IS NULL OR patient_id = ?2) AND (?3 = 0 OR acked_us IS NULL)"
	" AND (?4 = 0 OR id = ?4) ORDER BY id DESC LIMIT ?5";

int cl_store_access_alerts_json(struct cl_store *s, const struct cl_store_alert_filter *f,
				char **json)
{
	return cl_store_alert_list(s, filtered, f, row, "read access alerts", json);
}

/* Inserts a; its id into *id. */
static int insert(struct cl_store *s, const struct cl_access_alert *a, int64_t *id)
{
	sqlite3 *db = cl_store_sqlite(s);
	sqlite3_stmt *q;
	int rc;

	if (sqlite3_prepare_v2(db, "INSERT INTO access_alert(kind, ts_us, principal, role,"
			       " patient_id, reason, request_id, client)"
			       " VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)", -1, &q, NULL) != SQLITE_OK)
		return cl_store_db_error(s, "prepare an access alert");
	sqlite3_bind_text(q, 1, a->kind, -1, SQLITE_STATIC);
	sqlite3_bind_int64(q, 2, a->ts_us);
	sqlite3_bind_text(q, 3, a->principal, -1, SQLITE_STATIC);
	sqlite3_bind_text(q, 4, a->role, -1, SQLITE_STATIC);
	sqlite3_bind_text(q, 5, a->patient, -1, SQLITE_STATIC);
	sqlite3_bind_text(q, 6, a->reason, -1, SQLITE_STATIC);
	sqlite3_bind_text(q, 7, a->request_id, -1, SQLITE_STATIC);
	sqlite3_bind_text(q, 8, a->client, -1, SQLITE_STATIC);
	rc = sqlite3_step(q);
	sqlite3_finalize(q);
	if (rc != SQLITE_DONE)
		return cl_store_db_error(s, "store an access alert");
	*id = sqlite3_last_insert_rowid(db);
	return CL_OK;
}

int cl_store_access_alert_raise(struct cl_store *s, const struct cl_access_alert *a,
				char **json)
{
	json_t *arr = NULL;
	char *doc = NULL;
	int64_t id = 0;
	int rc;

	*json = NULL;
	rc = cl_store_begin(s);
	if (rc != CL_OK)
		return rc;
	rc = insert(s, a, &id);
	if (rc == CL_OK) {
		struct cl_store_alert_filter f = { .since_us = INT64_MIN, .id = id, .limit = 1 };

		rc = cl_store_alert_rows(s, filtered, &f, row, "read the access alert", &arr);
	}
	if (rc == CL_OK) {
		json_object_set_new(json_array_get(arr, 0), "state", json_string("opened"));
		doc = json_dumps(json_array_get(arr, 0), JSON_COMPACT);
		json_decref(arr);
		rc = doc ? CL_OK : cl_error_set(CL_ENOMEM, "no memory for an access alert");
	}
	if (rc == CL_OK)
		rc = cl_store_outbox_put(s, doc, strlen(doc));
	if (rc == CL_OK)
		rc = cl_store_commit(s);
	if (rc != CL_OK) {
		cl_store_rollback(s);
		free(doc);
		return rc;
	}
	*json = doc;
	return CL_OK;
}

int cl_store_access_alert_ack(struct cl_store *s, int64_t id, const char *by, int *changed)
{
	sqlite3 *db = cl_store_sqlite(s);
	sqlite3_stmt *q;
	int rc;

	*changed = 0;
	if (sqlite3_prepare_v2(db, "UPDATE access_alert SET acked_us = ?2, acked_by = ?3"
			       " WHERE id = ?1 AND acked_us IS NULL", -1, &q, NULL) != SQLITE_OK)
		return cl_store_db_error(s, "prepare an acknowledgement");
	sqlite3_bind_int64(q, 1, id);
	sqlite3_bind_int64(q, 2, cl_time_now_us());
	sqlite3_bind_text(q, 3, by, -1, SQLITE_STATIC);
	rc = sqlite3_step(q);
	sqlite3_finalize(q);
	if (rc != SQLITE_DONE)
		return cl_store_db_error(s, "acknowledge an access alert");
	*changed = sqlite3_changes(db);
	return CL_OK;
}
