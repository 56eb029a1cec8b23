/*
 * The researcher's view: GET /api/v1/research lists the tables a
 * researcher may read; GET /api/v1/research/{table}?limit=&offset= gives
 * one table's rows de-identified by HIPAA Safe Harbor (privacy/cl_deid),
 * the same rows `carelake export --deidentify` writes with the same keys
 * directory ($CARELAKE_KEYS, else <data>.keys), so that what is read
 * here joins with what was exported.
 *
 * The de-identifier is opened for each request: its keys are two small
 * files, and a living patient's age is then taken at the request's time.
 */
#include "cl_api.h"
#include "cl_server_int.h"
#include "core/cl_error.h"
#include "core/cl_time.h"
#include "lake/cl_lake.h"
#include "lake/cl_lake_cols.h"
#include "privacy/cl_deid.h"
#include "store/cl_db.h"

#include <sqlite3.h>
#include <stdio.h>
#include <string.h>

#define RESEARCH_LIMIT_DEFAULT 1000
#define RESEARCH_LIMIT_MAX 10000

/* 1 when a table is read de-identified at all (not withheld). */
static int readable(const char *table)
{
	const struct cl_deid_column *w = cl_deid_rule_of(table, "");

	return !(w && w->rule == CL_DEID_WITHHELD);
}

int cl_api_research_tables(struct cl_req *r)
{
	json_t *tables = json_array();
	char name[64];

	for (int i = 0; cl_lake_table(i, name, sizeof(name), NULL, 0, NULL); i++)
		if (readable(name))
			json_array_append_new(tables, json_string(name));
	return cl_reply_json(r, 200, json_pack("{s:o,s:s}", "tables", tables, "deidentification",
					       "HIPAA Safe Harbor (docs/deidentification.md)"));
}

/* A result column as JSON, of the type SQLite holds it in. */
static json_t *column_json(sqlite3_stmt *st, int i)
{
	switch (sqlite3_column_type(st, i)) {
	case SQLITE_INTEGER:
		return json_integer(sqlite3_column_int64(st, i));
	case SQLITE_FLOAT:
		return json_real(sqlite3_column_double(st, i));
	case SQLITE_NULL:
		return json_null();
	default:
		return json_stringn((const char *)sqlite3_column_text(st, i),
				    (size_t)sqlite3_column_bytes(st, i));
	}
}

/* The rows of the de-identified SELECT `sql` from offset on, at most
 * limit of them, into rows; CL_EIO naming SQLite's error. */
static int read_rows(sqlite3 *db, const char *sql, const struct cl_lake_cols *c, uint64_t limit,
		     uint64_t offset, json_t *rows)
{
	char paged[8400];
	sqlite3_stmt *st = NULL;
	int rc;

	snprintf(paged, sizeof(paged), "%s ORDER BY rowid LIMIT %llu OFFSET %llu", sql,
		 (unsigned long long)limit, (unsigned long long)offset);
	if (sqlite3_prepare_v2(db, paged, -1, &st, NULL) != SQLITE_OK)
		return cl_error_set(CL_EIO, "reading the table: %s", sqlite3_errmsg(db));
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		json_t *row = json_object();

		for (int i = 0; i < c->n; i++)
			json_object_set_new(row, c->name[i], column_json(st, i));
		json_array_append_new(rows, row);
	}
	if (rc != SQLITE_DONE)
		rc = cl_error_set(CL_EIO, "reading the table: %s", sqlite3_errmsg(db));
	else
		rc = 0;
	sqlite3_finalize(st);
	return rc;
}

/* 1 when the store has the table (a fresh one has none of them). */
static int has_table(sqlite3 *db, const char *table)
{
	sqlite3_stmt *st = NULL;
	int found = 0;

	if (sqlite3_prepare_v2(db, "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = ?1",
			       -1, &st, NULL) == SQLITE_OK &&
	    sqlite3_bind_text(st, 1, table, -1, SQLITE_STATIC) == SQLITE_OK)
		found = sqlite3_step(st) == SQLITE_ROW;
	sqlite3_finalize(st);
	return found;
}

/* Opens the store read-only with the keys' SQL functions on it, and the
 * de-identified SELECT of `table`. A reply's status on failure. */
static int open_table(struct cl_req *r, const char *table, sqlite3 **db, struct cl_deid **d,
		      struct cl_lake_cols *c, char *sql, size_t cap)
{
	if (cl_deid_open(r->s->keys_dir, cl_deid_settings(&r->s->cfg), cl_time_now_us(), d) !=
	    CL_OK)
		return 500;
	if (cl_db_open(r->s->data_dir, CL_DB_READONLY, db) != CL_OK)
		return 503;
	if (!has_table(*db, table)) {
		cl_error_set(CL_ENOENT, "nothing has been loaded into %s yet", table);
		return 404;
	}
	if (cl_deid_functions(*db, *d) != CL_OK)
		return 500;
	if (cl_deid_select(*db, *d, table, c, sql, cap) != CL_OK)
		return 500;
	return 0;
}

int cl_api_research_table(struct cl_req *r)
{
	const char *lim = cl_req_query(r, "limit"), *off = cl_req_query(r, "offset");
	uint64_t limit = RESEARCH_LIMIT_DEFAULT, offset = 0;
	struct cl_deid *d = NULL;
	struct cl_lake_cols c;
	char name[64], sql[8192];
	sqlite3 *db = NULL;
	json_t *rows;
	int status;

	if (cl_lake_resolve(r->param[0], name, sizeof(name), NULL, 0) != CL_OK)
		return cl_reply_error(r, 404, "not_found", "no such table (GET /api/v1/research "
				      "lists them)", NULL, NULL);
	if (!readable(name))
		return cl_reply_error(r, 403, "forbidden", "this table is never given out "
				      "de-identified (docs/deidentification.md)", NULL, NULL);
	if ((lim && cl_parse_u64(lim, 1, RESEARCH_LIMIT_MAX, &limit) != CL_OK) ||
	    (off && cl_parse_u64(off, 0, INT64_MAX, &offset) != CL_OK))
		return cl_reply_error(r, 400, "bad_request", cl_error_detail(), NULL, NULL);
	status = open_table(r, name, &db, &d, &c, sql, sizeof(sql));
	rows = json_array();
	if (status == 0 && read_rows(db, sql, &c, limit, offset, rows) != CL_OK)
		status = 500;
	sqlite3_close(db);
	cl_deid_close(d);
	if (status) {
		json_decref(rows);
		return cl_reply_error(r, status, status == 404 ? "not_found" :
				      status == 503 ? "unavailable" : "store", cl_error_detail(), NULL, NULL);
	}
	json_t *cols = json_array(), *j;

	for (int i = 0; i < c.n; i++)
		json_array_append_new(cols, json_string(c.name[i]));
	j = json_pack("{s:s,s:o,s:I,s:o}", "table", name, "columns", cols, "offset",
		      (json_int_t)offset, "rows", rows);
	if (json_array_size(rows) == limit)
		json_object_set_new(j, "next_offset", json_integer((json_int_t)(offset + limit)));
	return cl_reply_json(r, 200, j);
}
