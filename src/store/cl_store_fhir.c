/*
 * FHIR resource versions. See cl_store_fhir.h.
 */
#include "cl_store_fhir.h"
#include "cl_store.h"
#include "cl_store_int.h"
#include "core/cl_compiler.h"
#include "core/cl_error.h"
#include "core/cl_mem.h"
#include "core/cl_time.h"

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
	" WHERE current = 1 AND deleted = 0;"
	/* the search keys of the current versions, by the version's rowid
	 * (fhir/cl_fhir_index.h says what each holds) */
	"CREATE TABLE IF NOT EXISTS fhir_key(rid INTEGER NOT NULL, param TEXT NOT NULL,"
	" n INTEGER NOT NULL, sys TEXT, code TEXT, str TEXT, lo INTEGER, hi INTEGER, num REAL,"
	" PRIMARY KEY(rid, param, n)) WITHOUT ROWID;"
	/* the reference keys again, by what they name: _revinclude */
	"CREATE TABLE IF NOT EXISTS fhir_ref(code TEXT NOT NULL, param TEXT NOT NULL,"
	" rid INTEGER NOT NULL, sys TEXT, PRIMARY KEY(code, param, rid)) WITHOUT ROWID;"
	/* which version of the catalogue read them */
	"CREATE TABLE IF NOT EXISTS fhir_key_state(version INTEGER NOT NULL);";

enum { W_LAST, W_PUT, W_OLD, W_KEY, W_UNKEY, W_REF, W_UNREF, W_COUNT };

static const char *const wsql[W_COUNT] = {
	[W_LAST] = "SELECT version, deleted, resource, patient_id, rowid FROM fhir_resource"
		   " WHERE type = ?1 AND id = ?2 ORDER BY version DESC LIMIT 1",
	[W_PUT] = "INSERT INTO fhir_resource(type, id, version, updated_us, deleted, patient_id,"
		  " resource, source, bronze_file, run_id, record)"
		  " VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11)",
	[W_OLD] = "UPDATE fhir_resource SET current = 0 WHERE type = ?1 AND id = ?2 AND version = ?3",
	[W_KEY] = "INSERT INTO fhir_key(rid, param, n, sys, code, str, lo, hi, num)"
		  " VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)",
	[W_UNKEY] = "DELETE FROM fhir_key WHERE rid = ?1",
	[W_REF] = "INSERT OR IGNORE INTO fhir_ref(code, param, rid, sys) VALUES (?1, ?2, ?3, ?4)",
	/* before its keys go: they say which codes to look under */
	[W_UNREF] = "DELETE FROM fhir_ref WHERE rid = ?1 AND code IN"
		    " (SELECT code FROM fhir_key WHERE rid = ?1 AND code IS NOT NULL)",
};

struct cl_fhir_writer {
	sqlite3 *db;
	sqlite3_stmt *q[W_COUNT];
	const char *source, *file;
	int64_t run_id;
	int64_t rid, key_n;   /* the version keys go to, and how many it has */
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
		size_t len, int64_t *version, int *deleted, int *same, char *patient, int64_t *rowid)
{
	sqlite3_stmt *q = w->q[W_LAST];
	int rc;

	*version = 0;
	*rowid = 0;
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
		*rowid = sqlite3_column_int64(q, 4);
	}
	sqlite3_reset(q);
	return rc == SQLITE_ROW || rc == SQLITE_DONE ? CL_OK : fail(w->db, "read fhir_resource");
}

static int insert(struct cl_fhir_writer *w, const char *type, const char *id, int64_t version,
		  int64_t ts_us, int deleted, const char *patient, const char *json, size_t len,
		  const char *record, int64_t old_rowid)
{
	sqlite3_stmt *q = w->q[W_OLD];
	int rc;

	/* the version it follows is no longer the current one, nor searched */
	if (version > 1) {
		static const int unkey[] = { W_UNREF, W_UNKEY }; /* in this order */

		for (size_t u = 0; u < 2; u++) {
			sqlite3_bind_int64(w->q[unkey[u]], 1, old_rowid);
			rc = sqlite3_step(w->q[unkey[u]]);
			sqlite3_reset(w->q[unkey[u]]);
			if (rc != SQLITE_DONE)
				return fail(w->db, "write fhir_key");
		}
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
	if (rc != SQLITE_DONE)
		return fail(w->db, "write fhir_resource");
	w->rid = deleted ? 0 : sqlite3_last_insert_rowid(w->db);
	w->key_n = 0;
	return CL_OK;
}

int cl_fhir_put_key(struct cl_fhir_writer *w, const struct cl_fhir_key *k)
{
	sqlite3_stmt *q = w->q[W_KEY];
	int rc;

	if (w->rid == 0)
		return CL_OK;
	sqlite3_bind_int64(q, 1, w->rid);
	sqlite3_bind_text(q, 2, k->param, -1, SQLITE_STATIC);
	sqlite3_bind_int64(q, 3, w->key_n++);
	if (k->sys)
		sqlite3_bind_text(q, 4, k->sys, -1, SQLITE_STATIC);
	if (k->code)
		sqlite3_bind_text(q, 5, k->code, -1, SQLITE_STATIC);
	if (k->str)
		sqlite3_bind_text(q, 6, k->str, -1, SQLITE_STATIC);
	if (k->has_range) {
		sqlite3_bind_int64(q, 7, k->lo);
		sqlite3_bind_int64(q, 8, k->hi);
	}
	if (k->has_num)
		sqlite3_bind_double(q, 9, k->num);
	rc = sqlite3_step(q);
	sqlite3_reset(q);
	sqlite3_clear_bindings(q);
	if (rc != SQLITE_DONE)
		return fail(w->db, "write fhir_key");
	if (!k->ref || !k->code)
		return CL_OK;
	q = w->q[W_REF];
	sqlite3_bind_text(q, 1, k->code, -1, SQLITE_STATIC);
	sqlite3_bind_text(q, 2, k->param, -1, SQLITE_STATIC);
	sqlite3_bind_int64(q, 3, w->rid);
	if (k->sys)
		sqlite3_bind_text(q, 4, k->sys, -1, SQLITE_STATIC);
	rc = sqlite3_step(q);
	sqlite3_reset(q);
	sqlite3_clear_bindings(q);
	return rc == SQLITE_DONE ? CL_OK : fail(w->db, "write fhir_ref");
}

int cl_fhir_put(struct cl_fhir_writer *w, const char *type, const char *id,
		const char *patient, const char *json, size_t len, int64_t ts_us,
		const char *record, int64_t *version)
{
	int64_t at, rowid;
	int deleted, same, rc;

	*version = 0;
	w->rid = 0;
	if (len > INT32_MAX)
		return cl_error_set(CL_ETOOBIG, "%s/%s: a resource of %zu bytes", type, id, len);
	rc = last(w, type, id, json, len, &at, &deleted, &same, NULL, &rowid);
	if (rc != CL_OK || same)
		return rc;
	rc = insert(w, type, id, at + 1, ts_us, 0, patient, json, len, record, rowid);
	if (rc == CL_OK)
		*version = at + 1;
	return rc;
}

int cl_fhir_delete(struct cl_fhir_writer *w, const char *type, const char *id, int64_t ts_us,
		   const char *record, int64_t *version)
{
	char patient[CL_FHIR_ID_MAX];
	int64_t at, rowid;
	int deleted, same, rc;

	*version = 0;
	w->rid = 0;
	rc = last(w, type, id, NULL, 0, &at, &deleted, &same, patient, &rowid);
	if (rc != CL_OK || at == 0 || deleted)
		return rc;
	/* the deletion stays in the compartment of what it deletes */
	rc = insert(w, type, id, at + 1, ts_us, 1, patient, NULL, 0, record, rowid);
	if (rc == CL_OK)
		*version = at + 1;
	return rc;
}

int cl_fhir_clear(struct cl_fhir_writer *w)
{
	if (sqlite3_exec(w->db, "DELETE FROM fhir_resource; DELETE FROM fhir_key;"
			 " DELETE FROM fhir_ref", NULL, NULL, NULL) != SQLITE_OK)
		return fail(w->db, "clear fhir_resource");
	return CL_OK;
}

/* The version of the catalogue the keys were read by (0: none yet). */
static int64_t key_state(sqlite3 *db)
{
	sqlite3_stmt *q;
	int64_t v = 0;

	if (sqlite3_prepare_v2(db, "SELECT max(version) FROM fhir_key_state", -1, &q, NULL) !=
	    SQLITE_OK)
		return 0;
	if (sqlite3_step(q) == SQLITE_ROW)
		v = sqlite3_column_int64(q, 0);
	sqlite3_finalize(q);
	return v;
}

int cl_fhir_reindex(struct cl_fhir_writer *w, int index_version,
		    int (*fn)(void *arg, const char *type, const char *json, size_t len),
		    void *arg, int64_t *done)
{
	int own = sqlite3_get_autocommit(w->db), rc = CL_OK, step = SQLITE_DONE;
	sqlite3_stmt *q = NULL;
	char sql[120];

	*done = 0;
	if (key_state(w->db) == index_version)
		return CL_OK;
	if (own && sqlite3_exec(w->db, "BEGIN IMMEDIATE", NULL, NULL, NULL) != SQLITE_OK)
		return fail(w->db, "begin a reindex");
	if (sqlite3_exec(w->db, "DELETE FROM fhir_key; DELETE FROM fhir_ref", NULL, NULL, NULL) !=
		    SQLITE_OK ||
	    sqlite3_prepare_v2(w->db, "SELECT rowid, type, resource FROM fhir_resource"
			       " WHERE current = 1 AND deleted = 0", -1, &q, NULL) != SQLITE_OK)
		rc = fail(w->db, "reindex fhir_resource");
	while (rc == CL_OK && (step = sqlite3_step(q)) == SQLITE_ROW) {
		w->rid = sqlite3_column_int64(q, 0);
		w->key_n = 0;
		rc = fn(arg, (const char *)sqlite3_column_text(q, 1),
			(const char *)sqlite3_column_text(q, 2), (size_t)sqlite3_column_bytes(q, 2));
		++*done;
	}
	if (rc == CL_OK && step != SQLITE_DONE)
		rc = fail(w->db, "reindex fhir_resource");
	sqlite3_finalize(q);
	w->rid = 0;
	snprintf(sql, sizeof(sql), "DELETE FROM fhir_key_state; INSERT INTO fhir_key_state VALUES (%d)",
		 index_version);
	if (rc == CL_OK && sqlite3_exec(w->db, sql, NULL, NULL, NULL) != SQLITE_OK)
		rc = fail(w->db, "reindex fhir_resource");
	if (own && rc == CL_OK && sqlite3_exec(w->db, "COMMIT", NULL, NULL, NULL) != SQLITE_OK)
		rc = fail(w->db, "commit a reindex");
	if (own && rc != CL_OK)
		sqlite3_exec(w->db, "ROLLBACK", NULL, NULL, NULL);
	return rc;
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

int cl_store_fhir_current(struct cl_store *s, const char *type, const char *id, char *patient,
			  size_t cap)
{
	sqlite3_stmt *q;
	int rc = prepare(s, "SELECT deleted, patient_id FROM fhir_resource"
			 " WHERE type = ?1 AND id = ?2 ORDER BY version DESC LIMIT 1", &q);

	if (patient && cap)
		patient[0] = '\0';
	if (rc != CL_OK)
		return rc;
	sqlite3_bind_text(q, 1, type, -1, SQLITE_STATIC);
	sqlite3_bind_text(q, 2, id, -1, SQLITE_STATIC);
	rc = sqlite3_step(q);
	if (rc == SQLITE_ROW && !sqlite3_column_int(q, 0)) {
		const unsigned char *p = sqlite3_column_text(q, 1);

		if (patient && cap)
			snprintf(patient, cap, "%s", p ? (const char *)p : "");
		rc = CL_OK;
	} else if (rc == SQLITE_ROW || rc == SQLITE_DONE) {
		rc = CL_ENOENT; /* no error set: asking is how a type is found */
	} else {
		rc = cl_store_db_error(s, "read fhir_resource");
	}
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

/* A statement being written, and what it binds, in order. */
#define SQL_BINDS 400
struct sql {
	char text[8192];
	size_t n;
	int nb, over;
	struct bind {
		int kind;           /* 't' text, 'i' integer, 'd' double */
		const char *s;
		int64_t i;
		double d;
	} b[SQL_BINDS];
};

static void add(struct sql *q, const char *text)
{
	size_t len = strlen(text);

	if (q->n + len >= sizeof(q->text)) {
		q->over = 1;
		return;
	}
	memcpy(q->text + q->n, text, len + 1);
	q->n += len;
}

/* Appends a parameter (?N) binding one value. */
static void add_bind(struct sql *q, struct bind b)
{
	char p[16];

	if (q->nb == SQL_BINDS) {
		q->over = 1;
		return;
	}
	q->b[q->nb] = b;
	snprintf(p, sizeof(p), "?%d", ++q->nb);
	add(q, p);
}

static void add_text(struct sql *q, const char *v)
{
	add_bind(q, (struct bind){ .kind = 't', .s = v });
}

static void add_int(struct sql *q, int64_t v)
{
	add_bind(q, (struct bind){ .kind = 'i', .i = v });
}

static void add_double(struct sql *q, double v)
{
	add_bind(q, (struct bind){ .kind = 'd', .d = v });
}

static void bind_all(sqlite3_stmt *st, const struct sql *q)
{
	for (int i = 0; i < q->nb; i++) {
		const struct bind *b = &q->b[i];

		if (b->kind == 't')
			sqlite3_bind_text(st, i + 1, b->s, -1, SQLITE_STATIC);
		else if (b->kind == 'i')
			sqlite3_bind_int64(st, i + 1, b->i);
		else
			sqlite3_bind_double(st, i + 1, b->d);
	}
}

/* column op value */
static void cmp(struct sql *q, const char *col, const char *op, int64_t v)
{
	add(q, col);
	add(q, op);
	add_int(q, v);
}

/* The range [lo, hi) lies within the value's. */
static void within(struct sql *q, const char *lo, const char *hi, const struct cl_fhir_value *v)
{
	add(q, "(");
	cmp(q, lo, " >= ", v->lo);
	add(q, " AND ");
	cmp(q, hi, " <= ", v->hi);
	add(q, ")");
}

/* A range [lo, hi) (columns, or the version's time) against a date value
 * v by its prefix (FHIR R4: the value's range against the resource's). */
static void date_match(struct sql *q, const char *lo, const char *hi, const struct cl_fhir_value *v)
{
	int64_t gap;

	switch (v->prefix) {
	case CL_FP_NE:
		add(q, "NOT ");
		CL_FALLTHROUGH;
	case CL_FP_EQ:
		within(q, lo, hi, v);
		return;
	case CL_FP_GT:
		cmp(q, hi, " > ", v->hi);
		return;
	case CL_FP_LT:
		cmp(q, lo, " < ", v->lo);
		return;
	case CL_FP_GE:
	case CL_FP_LE:
		/* above (below) the value, or within it */
		add(q, "(");
		if (v->prefix == CL_FP_GE)
			cmp(q, hi, " > ", v->hi);
		else
			cmp(q, lo, " < ", v->lo);
		add(q, " OR ");
		within(q, lo, hi, v);
		add(q, ")");
		return;
	case CL_FP_SA:
		cmp(q, lo, " >= ", v->hi);
		return;
	case CL_FP_EB:
		cmp(q, hi, " <= ", v->lo);
		return;
	default:
		/* ap: overlapping the value widened by a tenth of its distance
		 * from now */
		gap = cl_time_now_us() - v->lo;
		gap = (gap < 0 ? -gap : gap) / 10;
		add(q, "(");
		cmp(q, lo, " < ", v->hi + gap);
		add(q, " AND ");
		cmp(q, hi, " > ", v->lo - gap);
		add(q, ")");
		return;
	}
}

static void number_match(struct sql *q, const struct cl_fhir_value *v)
{
	static const char *const op[] = { [CL_FP_GT] = " > ", [CL_FP_LT] = " < ",
					  [CL_FP_GE] = " >= ", [CL_FP_LE] = " <= ",
					  [CL_FP_SA] = " > ", [CL_FP_EB] = " < " };
	double a = v->num < 0 ? -v->num : v->num;

	switch (v->prefix) {
	case CL_FP_EQ:
	case CL_FP_NE:
		add(q, v->prefix == CL_FP_NE ? "NOT (k.num >= " : "(k.num >= ");
		add_double(q, v->num_lo);
		add(q, " AND k.num < ");
		add_double(q, v->num_hi);
		add(q, ")");
		return;
	case CL_FP_AP:
		/* within a tenth of the value */
		add(q, "(k.num >= ");
		add_double(q, v->num - a / 10);
		add(q, " AND k.num <= ");
		add_double(q, v->num + a / 10);
		add(q, ")");
		return;
	default:
		add(q, "k.num");
		add(q, op[v->prefix]);
		add_double(q, v->num);
	}
}

/* What one value asks of a key k. */
static void value_match(struct sql *q, const struct cl_fhir_cond *c, const struct cl_fhir_value *v)
{
	add(q, "(");
	switch (c->kind) {
	case CL_FK_TOKEN:
		add(q, "1");
		if (v->code) {
			add(q, " AND k.code = ");
			add_text(q, v->code);
		}
		if (v->sys && !v->sys[0]) {
			add(q, " AND k.sys IS NULL");
		} else if (v->sys) {
			add(q, " AND k.sys = ");
			add_text(q, v->sys);
		}
		break;
	case CL_FK_REF:
		add(q, "k.code = ");
		add_text(q, v->code);
		if (v->sys) {
			/* an unresolved urn:uuid reference names no type */
			add(q, " AND (k.sys = ");
			add_text(q, v->sys);
			add(q, " OR k.sys IS NULL)");
		}
		break;
	case CL_FK_STRING:
		if (c->modifier == CL_FM_EXACT) {
			add(q, "k.code = ");
			add_text(q, v->str);
		} else if (c->modifier == CL_FM_CONTAINS) {
			add(q, "instr(k.str, ");
			add_text(q, v->str);
			add(q, ") > 0");
		} else {
			add(q, "substr(k.str, 1, ");
			add_int(q, (int64_t)strlen(v->str));
			add(q, ") = ");
			add_text(q, v->str);
		}
		break;
	case CL_FK_DATE:
		date_match(q, "k.lo", "k.hi", v);
		break;
	default:
		number_match(q, v);
		if (v->sys) {
			add(q, " AND k.sys = ");
			add_text(q, v->sys);
		}
		if (v->code) {
			add(q, " AND k.code = ");
			add_text(q, v->code);
		}
	}
	add(q, ")");
}

/* The condition c on the resource `row` (the alias of its fhir_resource
 * row in the query). */
static void key_match(struct sql *q, const struct cl_fhir_cond *c, const char *row)
{
	if (!c->param) {
		/* _lastUpdated: the version's time, an instant */
		add(q, " AND (");
		for (int i = 0; i < c->nvalues; i++) {
			if (i)
				add(q, " OR ");
			date_match(q, "updated_us", "(updated_us + 1)", &c->values[i]);
		}
		add(q, ")");
		return;
	}
	add(q, c->modifier == CL_FM_NOT || (c->modifier == CL_FM_MISSING && c->missing)
		       ? " AND NOT EXISTS (" : " AND EXISTS (");
	add(q, "SELECT 1 FROM fhir_key k WHERE k.rid = ");
	add(q, row);
	add(q, ".rowid AND k.param = ");
	add_text(q, c->param);
	if (c->modifier != CL_FM_MISSING) {
		add(q, " AND (");
		for (int i = 0; i < c->nvalues; i++) {
			if (i)
				add(q, " OR ");
			value_match(q, c, &c->values[i]);
		}
		add(q, ")");
	}
	add(q, ")");
}

/* The condition c on the resource r: its own keys, or a chained
 * resource's (r2) through a reference key (c), or for _has through the
 * references that name r (fhir_ref). */
static void cond_match(struct sql *q, const struct cl_fhir_cond *c)
{
	struct cl_fhir_cond on = *c;

	if (!c->chain) {
		key_match(q, c, "r");
		return;
	}
	on.chain = NULL;
	if (c->chain_compartment) {
		/* the resource's patient (or, reversed, the resources whose
		 * patient it is), by the compartment's column */
		add(q, c->reverse ? " AND EXISTS (SELECT 1 FROM fhir_resource r2 WHERE"
				    " r2.patient_id = r.id AND r.type = 'Patient' AND r2.type = "
				  : " AND r.patient_id IN (SELECT r2.id FROM fhir_resource r2 WHERE"
				    " r2.type = ");
		add_text(q, c->chain_type);
		add(q, " AND r2.current = 1 AND r2.deleted = 0");
		key_match(q, &on, "r2");
		add(q, ")");
		return;
	}
	if (!c->reverse) {
		add(q, " AND EXISTS (SELECT 1 FROM fhir_key c WHERE c.rid = r.rowid AND c.param = ");
		add_text(q, c->chain);
		/* an unresolved urn:uuid reference names no type */
		add(q, " AND (c.sys = ");
		add_text(q, c->chain_type);
		add(q, " OR c.sys IS NULL) AND c.code IN (SELECT r2.id FROM fhir_resource r2"
		       " WHERE r2.type = ");
		add_text(q, c->chain_type);
		add(q, " AND r2.current = 1 AND r2.deleted = 0");
		key_match(q, &on, "r2");
		add(q, "))");
		return;
	}
	add(q, " AND EXISTS (SELECT 1 FROM fhir_ref f JOIN fhir_resource r2 ON r2.rowid = f.rid"
	       " WHERE f.code = r.id AND f.param = ");
	add_text(q, c->chain);
	add(q, " AND (f.sys = r.type OR f.sys IS NULL) AND r2.type = ");
	add_text(q, c->chain_type);
	add(q, " AND r2.current = 1 AND r2.deleted = 0");
	key_match(q, &on, "r2");
	add(q, ")");
}

/* The WHERE clause of q (with the page's start when `page`). */
static void where(struct sql *sql, const struct cl_fhir_query *q, int page)
{
	add(sql, " WHERE current = 1 AND deleted = 0");
	if (q->type) {
		add(sql, " AND type = ");
		add_text(sql, q->type);
	}
	if (q->patient) {
		add(sql, " AND patient_id = ");
		add_text(sql, q->patient);
	}
	if (q->in_compartment)
		add(sql, " AND patient_id IS NOT NULL");
	if (q->ntypes) {
		add(sql, " AND type IN (");
		for (int i = 0; i < q->ntypes; i++) {
			add(sql, i ? "," : "");
			add_text(sql, q->types[i]);
		}
		add(sql, ")");
	}
	if (q->nids) {
		add(sql, " AND id IN (");
		for (int i = 0; i < q->nids; i++) {
			add(sql, i ? "," : "");
			add_text(sql, q->ids[i]);
		}
		add(sql, ")");
	}
	if (q->since_us) {
		add(sql, " AND updated_us >= ");
		add_int(sql, q->since_us);
	}
	for (int i = 0; i < q->nconds; i++)
		cond_match(sql, &q->conds[i]);
	if (page && q->after_type && !q->nsorts) {
		add(sql, " AND (type, id) > (");
		add_text(sql, q->after_type);
		add(sql, ", ");
		add_text(sql, q->after_id ? q->after_id : "");
		add(sql, ")");
	}
}

/* The value of sort key i of the resource r, as an expression. */
static void sort_value(struct sql *sql, const struct cl_fhir_sort *o)
{
	static const char *const column[] = { [CL_FK_TOKEN] = "code", [CL_FK_STRING] = "str",
					      [CL_FK_DATE] = "lo", [CL_FK_REF] = "code",
					      [CL_FK_QUANTITY] = "num" };

	if (o->by == CL_FS_ID) {
		add(sql, "r.id");
		return;
	}
	if (o->by == CL_FS_UPDATED) {
		add(sql, "r.updated_us");
		return;
	}
	add(sql, o->desc ? "(SELECT max(k." : "(SELECT min(k.");
	add(sql, o->kind == CL_FK_DATE && o->desc ? "hi" : column[o->kind]);
	add(sql, ") FROM fhir_key k WHERE k.rid = r.rowid AND k.param = ");
	add_text(sql, o->param);
	add(sql, ")");
}

static void add_val(struct sql *sql, const struct cl_fhir_sortval *v)
{
	if (v->type == 'i')
		add_int(sql, v->i);
	else if (v->type == 'd')
		add_double(sql, v->d);
	else
		add_text(sql, v->t ? v->t : "");
}

/* The page's start in a sorted search: rows after the last one shown in
 * the order (each key, no value last; then type and id). */
static void after_sorted(struct sql *sql, const struct cl_fhir_query *q)
{
	char col[16];

	add(sql, " WHERE (");
	for (int i = 0; i <= q->nsorts; i++) {
		/* keys 0..i-1 equal, and key i after (or, past the keys, the
		 * type and id after) */
		add(sql, i ? " OR (" : "(");
		for (int j = 0; j < i; j++) {
			snprintf(col, sizeof(col), "s%d", j);
			add(sql, col);
			if (q->after_vals[j].type == 'n') {
				add(sql, " IS NULL AND ");
			} else {
				add(sql, " = ");
				add_val(sql, &q->after_vals[j]);
				add(sql, " AND ");
			}
		}
		if (i == q->nsorts) {
			add(sql, "(type, id) > (");
			add_text(sql, q->after_type);
			add(sql, ", ");
			add_text(sql, q->after_id ? q->after_id : "");
			add(sql, "))");
			break;
		}
		snprintf(col, sizeof(col), "s%d", i);
		if (q->after_vals[i].type == 'n') {
			add(sql, "0)"); /* nothing comes after no value */
			continue;
		}
		add(sql, "(");
		add(sql, col);
		add(sql, " IS NULL OR ");
		add(sql, col);
		add(sql, q->sorts[i].desc ? " < " : " > ");
		add_val(sql, &q->after_vals[i]);
		add(sql, "))");
	}
	add(sql, ")");
}

/* Prepares sql, bound: CL_ENOENT when no FHIR resource is held yet. */
static int prepare_sql(struct cl_store *s, struct sql *sql, sqlite3_stmt **st)
{
	int rc;

	if (sql->over)
		return cl_error_set(CL_EINVAL, "the search has too many conditions or values");
	rc = prepare(s, sql->text, st);
	if (rc == CL_OK)
		bind_all(*st, sql);
	return rc;
}

/* The row st is on, as a match of q. */
static void match_of(sqlite3_stmt *st, const struct cl_fhir_query *q, struct cl_fhir_match *m)
{
	*m = (struct cl_fhir_match){
		.type = (const char *)sqlite3_column_text(st, 0),
		.id = (const char *)sqlite3_column_text(st, 1),
		.version = sqlite3_column_int64(st, 2),
		.updated_us = sqlite3_column_int64(st, 3),
		.resource = (const char *)sqlite3_column_text(st, 4),
		.len = (size_t)sqlite3_column_bytes(st, 4),
	};

	for (int i = 0; i < q->nsorts; i++) {
		struct cl_fhir_sortval *v = &m->vals[i];

		switch (sqlite3_column_type(st, 5 + i)) {
		case SQLITE_NULL:
			v->type = 'n';
			break;
		case SQLITE_INTEGER:
			v->type = 'i';
			v->i = sqlite3_column_int64(st, 5 + i);
			break;
		case SQLITE_FLOAT:
			v->type = 'd';
			v->d = sqlite3_column_double(st, 5 + i);
			break;
		default:
			v->type = 't';
			v->t = (const char *)sqlite3_column_text(st, 5 + i);
		}
	}
}

int cl_store_fhir_search(struct cl_store *s, const struct cl_fhir_query *q, int64_t *total,
			 int (*fn)(void *arg, const struct cl_fhir_match *m), void *arg)
{
	struct sql *sql;
	sqlite3_stmt *st;
	int rc, step, stopped = 0;
	/* the first page and its total in one pass: the rows past the page
	 * are counted, their text never read (a later page's total counts
	 * the rows before it too: a statement of its own) */
	int one_pass = total && !q->after_type && q->count > 0;
	int64_t seen = 0;

	if (q->ntypes > CL_FHIR_QUERY_LIST_MAX || q->nids > CL_FHIR_QUERY_LIST_MAX ||
	    q->nconds > CL_FHIR_QUERY_COND_MAX || q->nsorts > CL_FHIR_SORT_MAX)
		return cl_error_set(CL_EINVAL, "a search lists at most %d types or ids and %d "
				    "parameters", CL_FHIR_QUERY_LIST_MAX, CL_FHIR_QUERY_COND_MAX);
	sql = malloc(sizeof(*sql));
	if (!sql)
		return cl_error_set(CL_ENOMEM, "no memory for a search");
	if (total)
		*total = 0;
	if (total && !one_pass) {
		*total = 0;
		sql->n = 0;
		sql->nb = sql->over = 0;
		add(sql, "SELECT count(*) FROM fhir_resource r");
		where(sql, q, 0);
		rc = prepare_sql(s, sql, &st);
		if (rc != CL_OK) {
			free(sql);
			return rc == CL_ENOENT ? CL_OK : rc;
		}
		step = sqlite3_step(st);
		*total = step == SQLITE_ROW ? sqlite3_column_int64(st, 0) : 0;
		sqlite3_finalize(st);
		if (step != SQLITE_ROW) {
			free(sql);
			return cl_store_db_error(s, "search fhir_resource");
		}
	}
	if (q->count <= 0) {
		free(sql);
		return CL_OK;
	}
	sql->n = 0;
	sql->nb = sql->over = 0;
	if (q->nsorts) {
		char col[48];

		/* each resource's sort values, then the order and the page */
		add(sql, "SELECT type, id, version, updated_us, resource");
		for (int i = 0; i < q->nsorts; i++) {
			snprintf(col, sizeof(col), ", s%d", i);
			add(sql, col);
		}
		add(sql, " FROM (SELECT r.type, r.id, r.version, r.updated_us, r.resource");
		for (int i = 0; i < q->nsorts; i++) {
			add(sql, ", ");
			sort_value(sql, &q->sorts[i]);
			snprintf(col, sizeof(col), " AS s%d", i);
			add(sql, col);
		}
		add(sql, " FROM fhir_resource r");
		where(sql, q, 1);
		add(sql, ")");
		if (q->after_type && q->after_vals)
			after_sorted(sql, q);
		add(sql, " ORDER BY ");
		for (int i = 0; i < q->nsorts; i++) {
			snprintf(col, sizeof(col), "s%d IS NULL, s%d%s, ", i, i,
				 q->sorts[i].desc ? " DESC" : "");
			add(sql, col);
		}
		add(sql, "type, id");
	} else {
		add(sql, "SELECT type, id, version, updated_us, resource FROM fhir_resource r");
		where(sql, q, 1);
		add(sql, " ORDER BY type, id");
	}
	if (!one_pass) {
		add(sql, " LIMIT ");
		add_int(sql, q->count);
	}
	rc = prepare_sql(s, sql, &st);
	free(sql);
	if (rc != CL_OK)
		return rc == CL_ENOENT ? CL_OK : rc;
	while ((step = sqlite3_step(st)) == SQLITE_ROW) {
		struct cl_fhir_match m;

		if (++seen > q->count || stopped)
			continue; /* counted only */
		match_of(st, q, &m);
		if (!m.resource || fn(arg, &m)) {
			stopped = 1;
			if (!one_pass) {
				step = SQLITE_DONE;
				break;
			}
		}
	}
	if (one_pass && step == SQLITE_DONE)
		*total = seen;
	sqlite3_finalize(st);
	return step == SQLITE_DONE ? CL_OK : cl_store_db_error(s, "search fhir_resource");
}

int cl_store_fhir_refs(struct cl_store *s, const char *type, const char *id, const char *param,
		       int (*fn)(void *arg, const char *ref_type, const char *ref_id), void *arg)
{
	sqlite3_stmt *q;
	int rc = prepare(s, param ? "SELECT k.sys, k.code FROM fhir_resource r JOIN fhir_key k"
				    " ON k.rid = r.rowid WHERE r.type = ?1 AND r.id = ?2"
				    " AND r.current = 1 AND r.deleted = 0 AND k.param = ?3"
				    " AND k.code IS NOT NULL"
				  : "SELECT 'Patient', patient_id FROM fhir_resource WHERE type = ?1"
				    " AND id = ?2 AND current = 1 AND deleted = 0"
				    " AND patient_id IS NOT NULL", &q);
	int step;

	if (rc != CL_OK)
		return rc == CL_ENOENT ? CL_OK : rc;
	sqlite3_bind_text(q, 1, type, -1, SQLITE_STATIC);
	sqlite3_bind_text(q, 2, id, -1, SQLITE_STATIC);
	if (param)
		sqlite3_bind_text(q, 3, param, -1, SQLITE_STATIC);
	while ((step = sqlite3_step(q)) == SQLITE_ROW)
		if (fn(arg, (const char *)sqlite3_column_text(q, 0),
		       (const char *)sqlite3_column_text(q, 1))) {
			step = SQLITE_DONE;
			break;
		}
	sqlite3_finalize(q);
	return step == SQLITE_DONE ? CL_OK : cl_store_db_error(s, "read fhir_key");
}

int cl_store_fhir_referring(struct cl_store *s, const char *source_type, const char *param,
			    const char *type, const char *id, int64_t limit,
			    int (*fn)(void *arg, const struct cl_fhir_match *m), void *arg)
{
	static const struct cl_fhir_query none = { 0 };
	sqlite3_stmt *q;
	int rc, step;

	if (!param && strcmp(type, "Patient") != 0)
		return CL_OK; /* only a Patient has a compartment */
	rc = prepare(s, param ? "SELECT r.type, r.id, r.version, r.updated_us, r.resource"
				" FROM fhir_ref f JOIN fhir_resource r ON r.rowid = f.rid"
				" WHERE f.code = ?3 AND f.param = ?4 AND (f.sys = ?2 OR f.sys IS NULL)"
				" AND r.type = ?1 AND r.current = 1 AND r.deleted = 0"
				" ORDER BY r.id LIMIT ?5"
			      : "SELECT type, id, version, updated_us, resource FROM fhir_resource"
				" WHERE patient_id = ?3 AND type = ?1 AND current = 1 AND deleted = 0"
				" AND ?2 = 'Patient' AND ?4 IS NULL ORDER BY id LIMIT ?5", &q);
	if (rc != CL_OK)
		return rc == CL_ENOENT ? CL_OK : rc;
	sqlite3_bind_text(q, 1, source_type, -1, SQLITE_STATIC);
	sqlite3_bind_text(q, 2, type, -1, SQLITE_STATIC);
	sqlite3_bind_text(q, 3, id, -1, SQLITE_STATIC);
	if (param)
		sqlite3_bind_text(q, 4, param, -1, SQLITE_STATIC);
	sqlite3_bind_int64(q, 5, limit);
	while ((step = sqlite3_step(q)) == SQLITE_ROW) {
		struct cl_fhir_match m;

		match_of(q, &none, &m);
		if (m.resource && fn(arg, &m)) {
			step = SQLITE_DONE;
			break;
		}
	}
	sqlite3_finalize(q);
	return step == SQLITE_DONE ? CL_OK : cl_store_db_error(s, "read fhir_ref");
}

int64_t cl_store_fhir_keys_version(struct cl_store *s)
{
	sqlite3_stmt *q;
	int held;

	if (sqlite3_prepare_v2(cl_store_sqlite(s), "SELECT 1 FROM fhir_resource LIMIT 1", -1, &q,
			       NULL) != SQLITE_OK)
		return -1;
	held = sqlite3_step(q) == SQLITE_ROW;
	sqlite3_finalize(q);
	return held ? key_state(cl_store_sqlite(s)) : -1;
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

uint64_t cl_store_fhir_refined(struct cl_store *s, const char *source)
{
	return cl_store_refine_position(cl_store_sqlite(s), source);
}

int cl_store_fhir_snapshot(struct cl_store *s)
{
	/* a deferred transaction takes its snapshot at its first read */
	if (sqlite3_exec(cl_store_sqlite(s), "BEGIN; SELECT count(*) FROM sqlite_schema", NULL,
			 NULL, NULL) != SQLITE_OK)
		return cl_store_db_error(s, "begin a read");
	return CL_OK;
}

void cl_store_fhir_snapshot_end(struct cl_store *s)
{
	sqlite3_exec(cl_store_sqlite(s), "COMMIT", NULL, NULL, NULL);
}

void cl_fhir_version_free(struct cl_fhir_version *v)
{
	free(v->resource);
	v->resource = NULL;
}
