/*
 * Operations: GET /healthz (liveness: 200 while carelake can take and keep
 * data, 503 with what is wrong when it cannot), GET /metrics (Prometheus
 * text, cl_metrics.c), and for engineers GET /api/v1/status (what
 * `carelake status --json` prints, cl_status.h) and GET
 * /api/v1/quarantine (the records refinement refused, with why).
 */
#include "cl_api.h"
#include "cl_server_int.h"
#include "cl_status.h"
#include "core/cl_config.h"
#include "core/cl_error.h"
#include "core/cl_mem.h"
#include "core/cl_time.h"
#include "store/cl_sql_json.h"

#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int cl_api_healthz(struct cl_req *r)
{
	struct cl_server *s = r->s;
	struct cl_blog *logs[CL_SERVER_LOGS];
	const char *names[CL_SERVER_LOGS];
	char why[300];

	cl_server_logs(s, logs, names);
	if (s->stream && atomic_load(&cl_stream_counters(s->stream)->stopped))
		return cl_reply_json(r, 503, json_pack("{s:s,s:s}", "status", "degraded", "stream",
						       "stopped"));
	for (size_t i = 0; i < CL_SERVER_LOGS; i++) {
		int rc = logs[i] ? cl_blog_health(logs[i], why, sizeof(why)) : CL_OK;

		if (rc != CL_OK)
			return cl_reply_json(r, 503, json_pack("{s:s,s:{s:s},s:s}", "status", "degraded",
							       "bronze", names[i],
							       rc == CL_ENOSPC ? "disk_full" : "failing",
							       "detail", why));
	}
	return cl_reply_json(r, 200, json_pack("{s:s}", "status", "ok"));
}

int cl_api_metrics(struct cl_req *r)
{
	size_t n;
	char *text = cl_metrics_render(r->s, &n);
	char *body = text ? malloc(n ? n : 1) : NULL;

	if (!body) {
		cl_free(text);
		return cl_reply_error(r, 503, "busy", "out of memory; retry later", "Retry-After", "1");
	}
	memcpy(body, text, n);
	cl_free(text);
	return cl_reply(r, 200, "text/plain; version=0.0.4", body, n, NULL, NULL);
}

int cl_api_status(struct cl_req *r)
{
	const char *runs = cl_req_query(r, "runs");
	uint64_t n = 20;
	json_t *out;
	sqlite3 *db;
	int rc;

	if (runs && cl_parse_u64(runs, 1, 1000, &n) != CL_OK)
		return cl_reply_error(r, 400, "bad_request", cl_error_detail(), NULL, NULL);
	db = cl_api_db(r, &rc);
	if (!db)
		return rc;
	out = cl_status_json(db, r->s->data_dir, &r->s->cfg, (int)n);
	sqlite3_close(db);
	if (!out)
		return cl_reply_error(r, 500, "config", cl_error_detail(), NULL, NULL);
	{
		char now[40];

		cl_time_format_rfc3339(cl_time_now_us(), now, sizeof(now), 3);
		json_object_set_new(out, "at", json_string(now));
	}
	return cl_reply_json(r, 200, out);
}

int cl_api_quarantine(struct cl_req *r)
{
	const char *source = cl_req_query(r, "source"), *table = cl_req_query(r, "table");
	const char *lim = cl_req_query(r, "limit"), *before = cl_req_query(r, "before");
	uint64_t limit = 50, below = INT64_MAX;
	sqlite3_stmt *st = NULL;
	json_t *groups, *rows;
	sqlite3 *db;
	int rc;

	if ((lim && cl_parse_u64(lim, 1, 1000, &limit) != CL_OK) ||
	    (before && cl_parse_u64(before, 1, INT64_MAX, &below) != CL_OK))
		return cl_reply_error(r, 400, "bad_request", cl_error_detail(), NULL, NULL);
	if ((source && (!*source || strlen(source) > 128)) || (table && (!*table || strlen(table) > 64)))
		return cl_reply_error(r, 400, "bad_request", "'source' and 'table' name one (1 to 128 "
				      "characters)", NULL, NULL);
	db = cl_api_db(r, &rc);
	if (!db)
		return rc;
	/* how many by source, table and reason; then the records, newest
	 * first, with the rejected text as it came */
	groups = json_array();
	rows = json_array();
	if (sqlite3_prepare_v2(db, "SELECT source, table_name, reason, count(*) AS records,"
			       " max(at_us) AS last_us FROM quarantine"
			       " WHERE (?1 IS NULL OR source = ?1) AND (?2 IS NULL OR table_name = ?2)"
			       " GROUP BY source, table_name, reason ORDER BY records DESC, last_us DESC"
			       " LIMIT 200", -1, &st, NULL) == SQLITE_OK) {
		sqlite3_bind_text(st, 1, source, -1, SQLITE_STATIC);
		sqlite3_bind_text(st, 2, table, -1, SQLITE_STATIC);
		while (sqlite3_step(st) == SQLITE_ROW)
			json_array_append_new(groups, cl_sql_row_json(st));
	}
	sqlite3_finalize(st);
	st = NULL;
	if (sqlite3_prepare_v2(db, "SELECT id, at_us, source, table_name, run_id, record, reason, raw"
			       " FROM quarantine WHERE (?1 IS NULL OR source = ?1)"
			       " AND (?2 IS NULL OR table_name = ?2) AND id < ?3"
			       " ORDER BY id DESC LIMIT ?4", -1, &st, NULL) == SQLITE_OK) {
		sqlite3_bind_text(st, 1, source, -1, SQLITE_STATIC);
		sqlite3_bind_text(st, 2, table, -1, SQLITE_STATIC);
		sqlite3_bind_int64(st, 3, (sqlite3_int64)below);
		sqlite3_bind_int64(st, 4, (sqlite3_int64)limit);
		while (sqlite3_step(st) == SQLITE_ROW)
			json_array_append_new(rows, cl_sql_row_json(st));
	}
	sqlite3_finalize(st);
	sqlite3_close(db);
	r->audit.count = (int64_t)json_array_size(rows);
	{
		json_t *out = json_pack("{s:o,s:o}", "by_reason", groups, "records", rows);
		size_t n = json_array_size(rows);

		if (n == limit)
			json_object_set(out, "next_before",
					json_object_get(json_array_get(rows, n - 1), "id"));
		return cl_reply_json(r, 200, out);
	}
}
