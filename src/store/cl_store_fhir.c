/*
 * FHIR resource versions. See cl_store_fhir.h.
 */
#include "cl_store_fhir.h"
#include "cl_store_int.h"
#include "core/cl_error.h"
#include "core/cl_mem.h"

#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char schema[] =
	/* a rowid table: its rows are large (the resource's text), which a
	 * WITHOUT ROWID table keeps in its key's tree, far slower to write */
	"CREATE TABLE IF NOT EXISTS fhir_resource(type TEXT NOT NULL, id TEXT NOT NULL,"
	" version INTEGER NOT NULL, updated_us INTEGER NOT NULL, deleted INTEGER NOT NULL,"
	" current INTEGER NOT NULL DEFAULT 1,"
	" patient_id TEXT, resource TEXT, source TEXT, bronze_file TEXT, run_id INTEGER,"
	" record TEXT, UNIQUE(type, id, version));"
	/* a patient's compartment as it is now: searches and $everything */
	"CREATE INDEX IF NOT EXISTS fhir_resource_compartment ON fhir_resource(patient_id, type, id)"
	" WHERE current = 1 AND deleted = 0;";

enum { W_LAST, W_PUT, W_OLD, W_COUNT };

static const char *const wsql[W_COUNT] = {
	[W_LAST] = "SELECT version, deleted, resource, patient_id FROM fhir_resource"
		   " WHERE type = ?1 AND id = ?2 ORDER BY version DESC LIMIT 1",
	[W_PUT] = "INSERT INTO fhir_resource(type, id, version, updated_us, deleted, patient_id,"
		  " resource, source, bronze_file, run_id, record)"
		  " VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11)",
	[W_OLD] = "UPDATE fhir_resource SET current = 0 WHERE type = ?1 AND id = ?2 AND version = ?3",
};

struct cl_fhir_writer {
	sqlite3 *db;
	sqlite3_stmt *q[W_COUNT];
	const char *source, *file;
	int64_t run_id;
};

static int fail(sqlite3 *db, const char *what)
{
	int code = sqlite3_errcode(db);

	return cl_error_set(code == SQLITE_FULL ? CL_ENOSPC : CL_EIO, "carelake.db: %s: %s", what,
			    sqlite3_errmsg(db));
}

int cl_fhir_writer_open(sqlite3 *db, struct cl_fhir_writer **out)
{
	struct cl_fhir_writer *w;

	if (sqlite3_exec(db, schema, NULL, NULL, NULL) != SQLITE_OK)
		return fail(db, "create fhir_resource");
	w = cl_calloc(1, sizeof(*w));
	if (!w)
		return cl_error_set(CL_ENOMEM, "no memory for the FHIR versions");
	w->db = db;
	for (int i = 0; i < W_COUNT; i++)
		if (sqlite3_prepare_v3(db, wsql[i], -1, SQLITE_PREPARE_PERSISTENT, &w->q[i], NULL) !=
		    SQLITE_OK) {
			int rc = fail(db, "prepare fhir_resource");

			cl_fhir_writer_close(w);
			return rc;
		}
	*out = w;
	return CL_OK;
}

void cl_fhir_writer_close(struct cl_fhir_writer *w)
{
	if (!w)
		return;
	for (int i = 0; i < W_COUNT; i++)
		sqlite3_finalize(w->q[i]);
	cl_free(w);
}

void cl_fhir_writer_lineage(struct cl_fhir_writer *w, const char *source, const char *file,
			    int64_t run_id)
{
	w->source = source;
	w->file = file;
	w->run_id = run_id;
}

/* The current version of type/id: its number (0: none), whether it is a
 * deletion, whether its content is json, and its patient (when asked). */
static int last(struct cl_fhir_writer *w, const char *type, const char *id, const char *json,
		size_t len, int64_t *version, int *deleted, int *same, char *patient)
{
	sqlite3_stmt *q = w->q[W_LAST];
	int rc;

	*version = 0;
	*deleted = 0;
	*same = 0;
	if (patient)
		patient[0] = '\0';
	sqlite3_bind_text(q, 1, type, -1, SQLITE_STATIC);
	sqlite3_bind_text(q, 2, id, -1, SQLITE_STATIC);
	rc = sqlite3_step(q);
	if (rc == SQLITE_ROW) {
		*version = sqlite3_column_int64(q, 0);
		*deleted = sqlite3_column_int(q, 1);
		if (json && !*deleted && (size_t)sqlite3_column_bytes(q, 2) == len)
			*same = memcmp(sqlite3_column_text(q, 2), json, len) == 0;
		if (patient && sqlite3_column_type(q, 3) == SQLITE_TEXT)
			snprintf(patient, CL_FHIR_ID_MAX, "%s", (const char *)sqlite3_column_text(q, 3));
	}
	sqlite3_reset(q);
	return rc == SQLITE_ROW || rc == SQLITE_DONE ? CL_OK : fail(w->db, "read fhir_resource");
}

static int insert(struct cl_fhir_writer *w, const char *type, const char *id, int64_t version,
		  int64_t ts_us, int deleted, const char *patient, const char *json, size_t len,
		  const char *record)
{
	sqlite3_stmt *q = w->q[W_OLD];
	int rc;

	/* the version it follows is no longer the current one */
	if (version > 1) {
		sqlite3_bind_text(q, 1, type, -1, SQLITE_STATIC);
		sqlite3_bind_text(q, 2, id, -1, SQLITE_STATIC);
		sqlite3_bind_int64(q, 3, version - 1);
		rc = sqlite3_step(q);
		sqlite3_reset(q);
		if (rc != SQLITE_DONE)
			return fail(w->db, "write fhir_resource");
	}
	q = w->q[W_PUT];

	sqlite3_bind_text(q, 1, type, -1, SQLITE_STATIC);
	sqlite3_bind_text(q, 2, id, -1, SQLITE_STATIC);
	sqlite3_bind_int64(q, 3, version);
	sqlite3_bind_int64(q, 4, ts_us);
	sqlite3_bind_int(q, 5, deleted);
	if (patient && *patient)
		sqlite3_bind_text(q, 6, patient, -1, SQLITE_STATIC);
	else
		sqlite3_bind_null(q, 6);
	if (json)
		sqlite3_bind_text(q, 7, json, (int)len, SQLITE_STATIC);
	else
		sqlite3_bind_null(q, 7);
	sqlite3_bind_text(q, 8, w->source, -1, SQLITE_STATIC);
	sqlite3_bind_text(q, 9, w->file, -1, SQLITE_STATIC);
	sqlite3_bind_int64(q, 10, w->run_id);
	sqlite3_bind_text(q, 11, record, -1, SQLITE_STATIC);
	rc = sqlite3_step(q);
	sqlite3_reset(q);
	sqlite3_clear_bindings(q);
	return rc == SQLITE_DONE ? CL_OK : fail(w->db, "write fhir_resource");
}

int cl_fhir_put(struct cl_fhir_writer *w, const char *type, const char *id,
		const char *patient, const char *json, size_t len, int64_t ts_us,
		const char *record, int64_t *version)
{
	int64_t at;
	int deleted, same, rc;

	*version = 0;
	if (len > INT32_MAX)
		return cl_error_set(CL_ETOOBIG, "%s/%s: a resource of %zu bytes", type, id, len);
	rc = last(w, type, id, json, len, &at, &deleted, &same, NULL);
	if (rc != CL_OK || same)
		return rc;
	rc = insert(w, type, id, at + 1, ts_us, 0, patient, json, len, record);
	if (rc == CL_OK)
		*version = at + 1;
	return rc;
}

int cl_fhir_delete(struct cl_fhir_writer *w, const char *type, const char *id, int64_t ts_us,
		   const char *record, int64_t *version)
{
	char patient[CL_FHIR_ID_MAX];
	int64_t at;
	int deleted, same, rc;

	*version = 0;
	rc = last(w, type, id, NULL, 0, &at, &deleted, &same, patient);
	if (rc != CL_OK || at == 0 || deleted)
		return rc;
	/* the deletion stays in the compartment of what it deletes */
	rc = insert(w, type, id, at + 1, ts_us, 1, patient, NULL, 0, record);
	if (rc == CL_OK)
		*version = at + 1;
	return rc;
}

int cl_fhir_clear(struct cl_fhir_writer *w)
{
	if (sqlite3_exec(w->db, "DELETE FROM fhir_resource", NULL, NULL, NULL) != SQLITE_OK)
		return fail(w->db, "clear fhir_resource");
	return CL_OK;
}

/* ---- reading ---- */

/* Prepares text on the store's connection; a store that has no FHIR
 * resources yet (no table) holds none: CL_ENOENT. */
static int prepare(struct cl_store *s, const char *text, sqlite3_stmt **q)
{
	sqlite3 *db = cl_store_sqlite(s);

	if (sqlite3_prepare_v2(db, text, -1, q, NULL) == SQLITE_OK)
		return CL_OK;
	if (strstr(sqlite3_errmsg(db), "no such table"))
		return cl_error_set(CL_ENOENT, "no FHIR resources are held yet");
	return cl_store_db_error(s, "read fhir_resource");
}

/* The row's columns (version, updated_us, deleted, patient_id, resource)
 * into v. */
static int take_row(sqlite3_stmt *q, struct cl_fhir_version *v)
{
	const unsigned char *p = sqlite3_column_text(q, 3);
	int n = sqlite3_column_bytes(q, 4);

	memset(v, 0, sizeof(*v));
	v->version = sqlite3_column_int64(q, 0);
	v->updated_us = sqlite3_column_int64(q, 1);
	v->deleted = sqlite3_column_int(q, 2);
	snprintf(v->patient, sizeof(v->patient), "%s", p ? (const char *)p : "");
	if (sqlite3_column_type(q, 4) == SQLITE_NULL)
		return CL_OK;
	v->resource = malloc((size_t)n + 1);
	if (!v->resource)
		return cl_error_set(CL_ENOMEM, "no memory for a FHIR resource of %d bytes", n);
	memcpy(v->resource, sqlite3_column_text(q, 4), (size_t)n);
	v->resource[n] = '\0';
	v->len = (size_t)n;
	return CL_OK;
}

int cl_store_fhir_read(struct cl_store *s, const char *type, const char *id, int64_t version,
		       struct cl_fhir_version *v)
{
	sqlite3_stmt *q;
	int rc = prepare(s, version > 0
			 ? "SELECT version, updated_us, deleted, patient_id, resource FROM fhir_resource"
			   " WHERE type = ?1 AND id = ?2 AND version = ?3"
			 : "SELECT version, updated_us, deleted, patient_id, resource FROM fhir_resource"
			   " WHERE type = ?1 AND id = ?2 ORDER BY version DESC LIMIT 1", &q);

	memset(v, 0, sizeof(*v));
	if (rc != CL_OK)
		return rc;
	sqlite3_bind_text(q, 1, type, -1, SQLITE_STATIC);
	sqlite3_bind_text(q, 2, id, -1, SQLITE_STATIC);
	if (version > 0)
		sqlite3_bind_int64(q, 3, version);
	rc = sqlite3_step(q);
	if (rc == SQLITE_ROW)
		rc = take_row(q, v);
	else if (rc == SQLITE_DONE)
		rc = cl_error_set(CL_ENOENT, "no %s/%s%s", type, id, version > 0 ? " of that version" : "");
	else
		rc = cl_store_db_error(s, "read fhir_resource");
	sqlite3_finalize(q);
	return rc;
}

int cl_store_fhir_history(struct cl_store *s, const char *type, const char *id, int64_t since_us,
			  int64_t below, int64_t count, int64_t *total,
			  int (*fn)(void *arg, const struct cl_fhir_version *v), void *arg)
{
	sqlite3_stmt *q;
	int rc = prepare(s, "SELECT count(*) FROM fhir_resource WHERE type = ?1 AND id = ?2"
			 " AND updated_us >= ?3", &q);

	*total = 0;
	if (rc != CL_OK)
		return rc;
	sqlite3_bind_text(q, 1, type, -1, SQLITE_STATIC);
	sqlite3_bind_text(q, 2, id, -1, SQLITE_STATIC);
	sqlite3_bind_int64(q, 3, since_us);
	if (sqlite3_step(q) == SQLITE_ROW)
		*total = sqlite3_column_int64(q, 0);
	sqlite3_finalize(q);
	rc = prepare(s, "SELECT version, updated_us, deleted, patient_id, resource FROM fhir_resource"
		     " WHERE type = ?1 AND id = ?2 AND updated_us >= ?3 AND version < ?4"
		     " ORDER BY version DESC LIMIT ?5", &q);
	if (rc != CL_OK)
		return rc;
	sqlite3_bind_text(q, 1, type, -1, SQLITE_STATIC);
	sqlite3_bind_text(q, 2, id, -1, SQLITE_STATIC);
	sqlite3_bind_int64(q, 3, since_us);
	sqlite3_bind_int64(q, 4, below > 0 ? below : INT64_MAX);
	sqlite3_bind_int64(q, 5, count);
	for (;;) {
		struct cl_fhir_version v;
		int step = sqlite3_step(q), stop;

		if (step != SQLITE_ROW) {
			if (step != SQLITE_DONE)
				rc = cl_store_db_error(s, "read fhir_resource");
			break;
		}
		rc = take_row(q, &v);
		if (rc != CL_OK)
			break;
		stop = fn(arg, &v);
		cl_fhir_version_free(&v);
		if (stop)
			break;
	}
	sqlite3_finalize(q);
	return rc;
}

/* The WHERE clause of q into sql (binding order: type, patient, types,
 * ids, since, then the page's start when `page`); the next free
 * parameter number is returned in *next. */
static size_t where(const struct cl_fhir_query *q, int page, char *sql, size_t cap, int *next)
{
	size_t n = (size_t)snprintf(sql, cap, " WHERE current = 1 AND deleted = 0");
	int p = 1;

	if (q->type)
		n += (size_t)snprintf(sql + n, cap - n, " AND type = ?%d", p++);
	if (q->patient)
		n += (size_t)snprintf(sql + n, cap - n, " AND patient_id = ?%d", p++);
	if (q->ntypes) {
		n += (size_t)snprintf(sql + n, cap - n, " AND type IN (");
		for (int i = 0; i < q->ntypes; i++)
			n += (size_t)snprintf(sql + n, cap - n, "%s?%d", i ? "," : "", p++);
		n += (size_t)snprintf(sql + n, cap - n, ")");
	}
	if (q->nids) {
		n += (size_t)snprintf(sql + n, cap - n, " AND id IN (");
		for (int i = 0; i < q->nids; i++)
			n += (size_t)snprintf(sql + n, cap - n, "%s?%d", i ? "," : "", p++);
		n += (size_t)snprintf(sql + n, cap - n, ")");
	}
	if (q->since_us)
		n += (size_t)snprintf(sql + n, cap - n, " AND updated_us >= ?%d", p++);
	if (page && q->after_type) {
		n += (size_t)snprintf(sql + n, cap - n, " AND (type, id) > (?%d, ?%d)", p, p + 1);
		p += 2;
	}
	*next = p;
	return n;
}

static void bind_where(sqlite3_stmt *st, const struct cl_fhir_query *q, int page)
{
	int p = 1;

	if (q->type)
		sqlite3_bind_text(st, p++, q->type, -1, SQLITE_STATIC);
	if (q->patient)
		sqlite3_bind_text(st, p++, q->patient, -1, SQLITE_STATIC);
	for (int i = 0; i < q->ntypes; i++)
		sqlite3_bind_text(st, p++, q->types[i], -1, SQLITE_STATIC);
	for (int i = 0; i < q->nids; i++)
		sqlite3_bind_text(st, p++, q->ids[i], -1, SQLITE_STATIC);
	if (q->since_us)
		sqlite3_bind_int64(st, p++, q->since_us);
	if (page && q->after_type) {
		sqlite3_bind_text(st, p++, q->after_type, -1, SQLITE_STATIC);
		sqlite3_bind_text(st, p++, q->after_id ? q->after_id : "", -1, SQLITE_STATIC);
	}
}

int cl_store_fhir_search(struct cl_store *s, const struct cl_fhir_query *q, int64_t *total,
			 int (*fn)(void *arg, const struct cl_fhir_match *m), void *arg)
{
	char sql[4096];
	sqlite3_stmt *st;
	size_t n;
	int next, rc, step;

	if (q->ntypes > CL_FHIR_QUERY_LIST_MAX || q->nids > CL_FHIR_QUERY_LIST_MAX)
		return cl_error_set(CL_EINVAL, "a search lists at most %d types or ids",
				    CL_FHIR_QUERY_LIST_MAX);
	if (total) {
		n = (size_t)snprintf(sql, sizeof(sql), "SELECT count(*) FROM fhir_resource");
		where(q, 0, sql + n, sizeof(sql) - n, &next);
		rc = prepare(s, sql, &st);
		if (rc == CL_ENOENT) {
			*total = 0;
			return CL_OK;
		}
		if (rc != CL_OK)
			return rc;
		bind_where(st, q, 0);
		step = sqlite3_step(st);
		*total = step == SQLITE_ROW ? sqlite3_column_int64(st, 0) : 0;
		sqlite3_finalize(st);
		if (step != SQLITE_ROW)
			return cl_store_db_error(s, "search fhir_resource");
	}
	if (q->count <= 0)
		return CL_OK;
	n = (size_t)snprintf(sql, sizeof(sql),
			     "SELECT type, id, version, updated_us, resource FROM fhir_resource");
	n += where(q, 1, sql + n, sizeof(sql) - n, &next);
	snprintf(sql + n, sizeof(sql) - n, " ORDER BY type, id LIMIT ?%d", next);
	rc = prepare(s, sql, &st);
	if (rc == CL_ENOENT)
		return CL_OK;
	if (rc != CL_OK)
		return rc;
	bind_where(st, q, 1);
	sqlite3_bind_int64(st, next, q->count);
	while ((step = sqlite3_step(st)) == SQLITE_ROW) {
		struct cl_fhir_match m = {
			.type = (const char *)sqlite3_column_text(st, 0),
			.id = (const char *)sqlite3_column_text(st, 1),
			.version = sqlite3_column_int64(st, 2),
			.updated_us = sqlite3_column_int64(st, 3),
			.resource = (const char *)sqlite3_column_text(st, 4),
			.len = (size_t)sqlite3_column_bytes(st, 4),
		};

		if (!m.resource || fn(arg, &m)) {
			step = SQLITE_DONE;
			break;
		}
	}
	sqlite3_finalize(st);
	return step == SQLITE_DONE ? CL_OK : cl_store_db_error(s, "search fhir_resource");
}

int cl_store_fhir_types(struct cl_store *s, void (*fn)(void *arg, const char *type), void *arg)
{
	sqlite3_stmt *q;
	int rc, step;

	/* each type once, found by the key's order (a skip through the
	 * index, not a scan of every version) */
	rc = prepare(s, "WITH RECURSIVE t(type) AS (SELECT min(type) FROM fhir_resource"
		     " UNION ALL SELECT (SELECT min(type) FROM fhir_resource WHERE type > t.type)"
		     " FROM t WHERE t.type IS NOT NULL) SELECT type FROM t WHERE type IS NOT NULL",
		     &q);
	if (rc == CL_ENOENT)
		return CL_OK;
	if (rc != CL_OK)
		return rc;
	while ((step = sqlite3_step(q)) == SQLITE_ROW)
		fn(arg, (const char *)sqlite3_column_text(q, 0));
	sqlite3_finalize(q);
	return step == SQLITE_DONE ? CL_OK : cl_store_db_error(s, "read fhir_resource");
}

void cl_fhir_version_free(struct cl_fhir_version *v)
{
	free(v->resource);
	v->resource = NULL;
}
