/*
 * cl_lake_cols.c — lake columns and values (see cl_lake_cols.h).
 *
 * INTEGER columns are `long`, REAL `double`, TEXT `string`; text columns
 * named `ts` or `*_ts` hold instants and become `timestamp`, and a column
 * named `day` becomes `date`. A value that does not fit its column (text
 * that is no time at all in a `_ts` column) becomes null and is counted;
 * the store keeps it.
 */
#include "lake/cl_lake_cols.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

#include "core/cl_error.h"
#include "core/cl_time.h"
#include "lake/cl_delta.h"
#include "lake/cl_pq_format.h"
#include "model/cl_tables.h"

static int ends_with(const char *s, const char *suffix)
{
	size_t a = strlen(s), b = strlen(suffix);
	return a >= b && strcmp(s + a - b, suffix) == 0;
}

int cl_lake_read_columns(sqlite3 *db, const char *table, struct cl_lake_cols *c)
{
	char sql[128];
	sqlite3_stmt *st;

	c->n = 0;
	snprintf(sql, sizeof(sql), "PRAGMA table_info(%s)", table);
	if (sqlite3_prepare_v2(db, sql, -1, &st, NULL) != SQLITE_OK)
		return cl_error_set(CL_EIO, "columns of %s: %s", table, sqlite3_errmsg(db));
	while (sqlite3_step(st) == SQLITE_ROW && c->n < CL_LAKE_MAX_COLS) {
		const char *name = (const char *)sqlite3_column_text(st, 1);
		const char *decl = (const char *)sqlite3_column_text(st, 2);
		enum cl_lake_kind k = CL_LAKE_STRING;

		if (!name)
			continue;
		decl = decl ? decl : "";
		if (strcasestr(decl, "INT"))
			k = CL_LAKE_LONG;
		else if (strcasestr(decl, "REAL") || strcasestr(decl, "FLOA") ||
			 strcasestr(decl, "DOUB"))
			k = CL_LAKE_DOUBLE;
		else if (strcmp(name, "ts") == 0 || ends_with(name, "_ts"))
			k = CL_LAKE_TIMESTAMP;
		else if (strcmp(name, "day") == 0)
			k = CL_LAKE_DATE;
		c->file_of[c->n] = strcmp(name, "_file_id") == 0;
		if (c->file_of[c->n]) {
			name = "_bronze_file";
			k = CL_LAKE_STRING;
		}
		snprintf(c->name[c->n], sizeof(c->name[0]), "%s", name);
		c->kind[c->n++] = k;
	}
	sqlite3_finalize(st);
	if (c->n == 0)
		return cl_error_set(CL_ENOENT, "table %s has no columns", table);
	return 0;
}

enum cl_pq_type cl_lake_pq_type(enum cl_lake_kind k)
{
	switch (k) {
	case CL_LAKE_LONG: return CL_PQ_INT64;
	case CL_LAKE_DOUBLE: return CL_PQ_DOUBLE;
	case CL_LAKE_TIMESTAMP: return CL_PQ_TIMESTAMP;
	case CL_LAKE_DATE: return CL_PQ_DATE;
	default: return CL_PQ_STRING;
	}
}

void cl_lake_select(const struct cl_lake_cols *c, const char *extra, const char *table,
		    char *sql, size_t cap)
{
	size_t len = (size_t)snprintf(sql, cap, "SELECT ");
	for (int i = 0; i < c->n && len < cap; i++)
		len += (size_t)snprintf(sql + len, cap - len, c->file_of[i]
					? "%s" CL_LINEAGE_FILE_OF("\"_file_id\"") " AS \"%s\""
					: "%s\"%s\"", i ? ", " : "", c->name[i]);
	if (extra && len < cap)
		len += (size_t)snprintf(sql + len, cap - len, ", %s", extra);
	if (len < cap)
		snprintf(sql + len, cap - len, " FROM %s", table);
}

int cl_lake_parse_instant(const char *s, size_t n, int64_t *us)
{
	if (cl_time_parse_rfc3339(s, n, us) == CL_OK)
		return 0;
	int y = 0, m = 1, d = 1;
	char tail;
	if ((n == 4 && sscanf(s, "%4d%c", &y, &tail) == 1) ||
	    (n == 7 && sscanf(s, "%4d-%2d%c", &y, &m, &tail) == 2) ||
	    (n == 10 && sscanf(s, "%4d-%2d-%2d%c", &y, &m, &d, &tail) == 3)) {
		char buf[32];
		snprintf(buf, sizeof(buf), "%04d-%02d-%02dT00:00:00Z", y, m, d);
		return cl_time_parse_rfc3339(buf, strlen(buf), us);
	}
	return CL_EINVAL;
}

/* Appends the value of result column `col` to `v` as kind `k`. */
static void push_value(struct cl_pq_vec *v, enum cl_lake_kind k, sqlite3_stmt *st, int col,
		       int64_t *unconverted)
{
	int t = sqlite3_column_type(st, col);
	const char *s;
	size_t n;
	int64_t us;

	if (t == SQLITE_NULL) {
		cl_pq_vec_push_null(v);
		return;
	}
	switch (k) {
	case CL_LAKE_LONG:
		if (t == SQLITE_INTEGER) {
			cl_pq_vec_push_i64(v, sqlite3_column_int64(st, col));
			return;
		}
		if (t == SQLITE_FLOAT) {
			double d = sqlite3_column_double(st, col);
			if (d == floor(d) && fabs(d) < 9.2e18) {
				cl_pq_vec_push_i64(v, (int64_t)d);
				return;
			}
		}
		break;
	case CL_LAKE_DOUBLE:
		if (t == SQLITE_INTEGER || t == SQLITE_FLOAT) {
			cl_pq_vec_push_f64(v, sqlite3_column_double(st, col));
			return;
		}
		break;
	case CL_LAKE_TIMESTAMP:
	case CL_LAKE_DATE:
		s = (const char *)sqlite3_column_text(st, col);
		n = (size_t)sqlite3_column_bytes(st, col);
		if (s && cl_lake_parse_instant(s, n, &us) == 0) {
			if (k == CL_LAKE_DATE)
				cl_pq_vec_push_i32(v, (int32_t)cl_time_day(us));
			else
				cl_pq_vec_push_i64(v, us);
			return;
		}
		break;
	default:
		s = (const char *)sqlite3_column_text(st, col);
		n = (size_t)sqlite3_column_bytes(st, col);
		cl_pq_vec_push_str(v, s ? s : "", n);
		return;
	}
	(*unconverted)++;
	cl_pq_vec_push_null(v);
}

void cl_lake_file_name(char *buf, size_t cap, int codec)
{
	char id[37];
	cl_delta_uuid(id);
	snprintf(buf, cap, "part-00000-%s-c000.%sparquet", id,
		 codec == CL_PQ_CODEC_ZSTD ? "zstd." : codec == CL_PQ_CODEC_SNAPPY ? "snappy." : "");
}

int cl_lake_file_open(struct cl_lake_file *f, const char *path, int mode,
		      const struct cl_lake_cols *c, const struct cl_lake_opts *o)
{
	struct cl_pq_node nodes[CL_LAKE_MAX_COLS];
	struct cl_pq_write_opts wo = { .codec = (enum cl_pq_codec)o->codec, .level = o->zstd_level,
				       .row_group_rows = o->row_group_rows, .mode = mode,
				       .background = o->background != 0 };
	const char *kv[] = { "writer", "carelake " CARELAKE_VERSION };

	memset(f, 0, sizeof(*f));
	f->c = c;
	wo.kv = kv;
	wo.nkv = 1;
	for (int i = 0; i < c->n; i++)
		nodes[i] = (struct cl_pq_node){ c->name[i], cl_lake_pq_type(c->kind[i]),
						CL_PQF_OPTIONAL, 0, -1 };
	return cl_pq_writer_open(&f->w, path, nodes, (size_t)c->n, &wo);
}

int cl_lake_file_row(struct cl_lake_file *f, sqlite3_stmt *st)
{
	for (int i = 0; i < f->c->n; i++)
		push_value(cl_pq_writer_col(f->w, (size_t)i), f->c->kind[i], st, i, &f->unconverted);
	f->rows++;
	return cl_pq_writer_rows(f->w, 1);
}

int cl_lake_file_close(struct cl_lake_file *f, struct cl_pq_file_stats *stats)
{
	int rc = cl_pq_writer_close(f->w, stats);
	f->w = NULL;
	return rc;
}

void cl_lake_file_abort(struct cl_lake_file *f)
{
	cl_pq_writer_abort(f->w);
	f->w = NULL;
}
