/*
 * The hospital's KPIs, for managers and the Hospital page:
 *
 *   GET /api/v1/kpis                    the KPI tables: name, what each
 *                                       holds, its columns, whether it is
 *                                       dated and by ward
 *   GET /api/v1/kpis/{name}?from=&to=&ward=&limit=
 *                                       one gold table's rows (name without
 *                                       "gold_": admissions_daily, ...):
 *                                       from and to are dates (YYYY-MM or
 *                                       YYYY-MM-DD), both included, compared
 *                                       with the table's own period column
 *                                       at their precision; ward for the
 *                                       tables that have one
 *   GET /api/v1/wards/{ward}/census     the inpatient stays in progress on
 *                                       a ward ("all": every ward), with
 *                                       each patient's name, since when and
 *                                       for how many days
 *
 * The rows are the gold tables' own (docs/gold.md), read from carelake.db
 * as they stand; the census counts the stays the gold tables count
 * (CL_INPATIENT_CLASSES) that have not ended.
 */
#include "cl_api.h"
#include "cl_server_int.h"
#include "core/cl_config.h"
#include "core/cl_error.h"
#include "core/cl_time.h"
#include "model/cl_tables.h"
#include "store/cl_sql_json.h"

#include <sqlite3.h>
#include <stdio.h>
#include <string.h>

#define KPI_LIMIT_DEFAULT 10000
#define KPI_LIMIT_MAX 100000

/* The KPI tables: the gold tables of counts over many people (a table
 * of one row per patient's stay is patients' data, read through the
 * patients' endpoints or exported de-identified). */
static const struct cl_gold_table *kpi_table(const char *name)
{
	for (const struct cl_gold_table *g = cl_gold_tables; g->name; g++)
		if (!g->per_patient && strcmp(g->name + 5, name) == 0)
			return g;
	return NULL;
}

/* "YYYY", "YYYY-MM" or "YYYY-MM-DD", digits where digits go. */
static int date_ok(const char *s)
{
	size_t n = strlen(s);

	if (n != 4 && n != 7 && n != 10)
		return 0;
	for (size_t i = 0; i < n; i++)
		if ((i == 4 || i == 7) ? s[i] != '-' : (s[i] < '0' || s[i] > '9'))
			return 0;
	return 1;
}

static int store_error(struct cl_req *r)
{
	return cl_reply_error(r, 500, "store", cl_error_detail(), NULL, NULL);
}

/* A read that failed: the error named, the reply's status (500). */
static int read_failed(sqlite3 *db, const char *what)
{
	cl_error_set(CL_EIO, "reading %s: %s", what, sqlite3_errmsg(db));
	return 500;
}

/* The columns of table, from the store (empty before the first refresh). */
static json_t *columns(sqlite3 *db, const char *table)
{
	json_t *cols = json_array();
	sqlite3_stmt *st;

	if (sqlite3_prepare_v2(db, "SELECT name FROM pragma_table_info(?1)", -1, &st, NULL) !=
	    SQLITE_OK)
		return cols;
	sqlite3_bind_text(st, 1, table, -1, SQLITE_STATIC);
	while (sqlite3_step(st) == SQLITE_ROW)
		json_array_append_new(cols, json_string((const char *)sqlite3_column_text(st, 0)));
	sqlite3_finalize(st);
	return cols;
}

int cl_api_kpis_list(struct cl_req *r)
{
	json_t *list = json_array();
	int reply;
	sqlite3 *db = cl_api_db(r, &reply);

	if (!db)
		return reply;
	for (const struct cl_gold_table *g = cl_gold_tables; g->name; g++)
		if (!g->per_patient)
			json_array_append_new(list, json_pack("{s:s,s:s,s:o,s:o,s:o}", "name", g->name + 5,
						      "about", g->doc, "columns", columns(db, g->name),
						      "period", g->period ? json_string(g->period)
									  : json_null(),
						      "ward", g->ward ? json_string(g->ward)
								      : json_null()));
	sqlite3_close(db);
	r->audit.count = (int64_t)json_array_size(list);
	return cl_reply_json(r, 200, json_pack("{s:o}", "kpis", list));
}

int cl_api_kpis_table(struct cl_req *r)
{
	const char *from = cl_req_query(r, "from"), *to = cl_req_query(r, "to");
	const char *ward = cl_req_query(r, "ward"), *lim = cl_req_query(r, "limit");
	const struct cl_gold_table *g = kpi_table(r->param[0]);
	uint64_t limit = KPI_LIMIT_DEFAULT;
	char sql[1024];
	sqlite3_stmt *st = NULL;
	json_t *rows;
	sqlite3 *db;
	int status = 0, rc;

	if (!g)
		return cl_reply_error(r, 404, "not_found", "no such KPI table (GET /api/v1/kpis "
				      "lists them)", NULL, NULL);
	if ((from && !date_ok(from)) || (to && !date_ok(to)))
		return cl_reply_error(r, 400, "bad_request", "'from' and 'to' are dates: YYYY, "
				      "YYYY-MM or YYYY-MM-DD", NULL, NULL);
	if ((from || to) && !g->period)
		return cl_reply_error(r, 400, "bad_request", "this table is not dated: it takes "
				      "no 'from' or 'to'", NULL, NULL);
	if (ward && (!g->ward || !*ward || strlen(ward) > 128))
		return cl_reply_error(r, 400, "bad_request", g->ward ? "'ward' must name a ward "
				      "(1 to 128 characters)" : "this table is not by ward: it takes "
				      "no 'ward'", NULL, NULL);
	if (lim && cl_parse_u64(lim, 1, KPI_LIMIT_MAX, &limit) != CL_OK)
		return cl_reply_error(r, 400, "bad_request", cl_error_detail(), NULL, NULL);
	db = cl_api_db(r, &status);
	if (!db)
		return status;
	/* the period at the precision of the bound: to=2026-11 takes the
	 * whole of November, whether the column holds days or times */
	snprintf(sql, sizeof(sql),
		 "SELECT * FROM %s WHERE (?1 IS NULL OR %s >= ?1)"
		 " AND (?2 IS NULL OR substr(%s, 1, length(?2)) <= ?2)"
		 " AND (?3 IS NULL OR %s = ?3) ORDER BY %s%s%s LIMIT ?4",
		 g->name, g->period ? g->period : "NULL", g->period ? g->period : "NULL",
		 g->ward ? g->ward : "NULL", g->period ? g->period : "rowid",
		 g->ward ? ", " : "", g->ward ? g->ward : "");
	rows = json_array();
	if (sqlite3_prepare_v2(db, sql, -1, &st, NULL) != SQLITE_OK) {
		/* a store that has never refreshed its gold tables has none */
		if (!strstr(sqlite3_errmsg(db), "no such table"))
			status = read_failed(db, g->name);
	} else {
		sqlite3_bind_text(st, 1, from, -1, SQLITE_STATIC);
		sqlite3_bind_text(st, 2, to, -1, SQLITE_STATIC);
		sqlite3_bind_text(st, 3, ward, -1, SQLITE_STATIC);
		sqlite3_bind_int64(st, 4, (sqlite3_int64)limit);
		while ((rc = sqlite3_step(st)) == SQLITE_ROW)
			json_array_append_new(rows, cl_sql_row_json(st));
		if (rc != SQLITE_DONE)
			status = read_failed(db, g->name);
	}
	sqlite3_finalize(st);
	sqlite3_close(db);
	if (status) {
		json_decref(rows);
		return store_error(r);
	}
	r->audit.count = (int64_t)json_array_size(rows);
	return cl_reply_json(r, 200, json_pack("{s:s,s:o,s:b}", "kpi", g->name + 5, "rows", rows,
					       "truncated", json_array_size(rows) == limit));
}

int cl_api_ward_census(struct cl_req *r)
{
	const char *ward = r->param[0];
	char now[40];
	sqlite3_stmt *st = NULL;
	json_t *rows;
	sqlite3 *db;
	int status = 0, rc;

	if (!*ward || strlen(ward) > 128)
		return cl_reply_error(r, 400, "bad_request", "the ward must be 1 to 128 characters",
				      NULL, NULL);
	db = cl_api_db(r, &status);
	if (!db)
		return status;
	cl_time_format_rfc3339(cl_time_now_us(), now, sizeof(now), 0);
	rows = json_array();
	if (sqlite3_prepare_v2(db,
			       "SELECT e.patient_id, coalesce(p.name, trim(coalesce(p.given, '') || ' ' ||"
			       " coalesce(p.family, ''))) AS name, e.id AS encounter_id,"
			       " coalesce(e.ward, 'unassigned') AS ward, e.start_ts AS since,"
			       " round(julianday(?2) - julianday(e.start_ts), 1) AS days"
			       " FROM encounter e LEFT JOIN patient p ON p.id = e.patient_id"
			       " WHERE lower(e.class) IN " CL_INPATIENT_CLASSES
			       " AND e.start_ts IS NOT NULL AND e.start_ts <= ?2"
			       " AND (e.end_ts IS NULL OR e.end_ts > ?2)"
			       " AND (?1 = 'all' OR coalesce(e.ward, 'unassigned') = ?1)"
			       " ORDER BY e.start_ts, e.patient_id LIMIT 10000",
			       -1, &st, NULL) != SQLITE_OK) {
		if (!strstr(sqlite3_errmsg(db), "no such table"))
			status = read_failed(db, "the census");
	} else {
		sqlite3_bind_text(st, 1, ward, -1, SQLITE_STATIC);
		sqlite3_bind_text(st, 2, now, -1, SQLITE_STATIC);
		while ((rc = sqlite3_step(st)) == SQLITE_ROW)
			json_array_append_new(rows, cl_sql_row_json(st));
		if (rc != SQLITE_DONE)
			status = read_failed(db, "the census");
	}
	sqlite3_finalize(st);
	sqlite3_close(db);
	if (status) {
		json_decref(rows);
		return store_error(r);
	}
	r->audit.count = (int64_t)json_array_size(rows);
	return cl_reply_json(r, 200, json_pack("{s:s,s:s,s:o}", "ward", ward, "at", now,
					       "patients", rows));
}
