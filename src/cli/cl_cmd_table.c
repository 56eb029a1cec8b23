/*
 * `carelake table show|history`: the rows of any Delta table — carelake's
 * own or one another engine wrote — at any version or time, and its
 * commits. A single Parquet file can be shown the same way.
 */
#include "cl_cli.h"
#include "core/cl_csv_write.h"
#include "core/cl_error.h"
#include "core/cl_time.h"
#include "lake/cl_delta.h"
#include "lake/cl_lake_loc.h"
#include "lake/cl_parquet.h"

#include <jansson.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

const char cl_cmd_table_usage[] =
	"usage: carelake table show PATH [--version N | --timestamp TS]\n"
	"                           [--format table|csv|json] [--limit N]\n"
	"       carelake table history PATH [--json]\n\n"
	"show prints the rows of the Delta table at PATH (a directory with a\n"
	"_delta_log) as of its latest version, of version N, or of the last version\n"
	"committed at or before TS (RFC 3339). Columns come in the table's schema\n"
	"order, partition columns included; times are UTC (RFC 3339), dates\n"
	"YYYY-MM-DD. PATH may also be one Parquet file. Works on carelake's tables\n"
	"(<data>/silver/<table>, <data>/gold/<table>) and those of other engines.\n"
	"history lists the table's commits: version, time, operation, files added\n"
	"and removed, rows added.\n\n";

/* The rows being printed. */
struct out {
	const char *format;
	int64_t limit, n;
	size_t ncols;
	char **names;
	enum cl_pq_type *types;
	json_t *rows;            /* json and table formats collect rows */
};

/* A double in the fewest digits that read back the same. */
static void fmt_double(double d, char *buf, size_t cap)
{
	for (int p = 15; p <= 17; p++) {
		snprintf(buf, cap, "%.*g", p, d);
		if (strtod(buf, NULL) == d)
			return;
	}
}

/* A date (days) or timestamp (microseconds) as its text. */
static json_t *time_json(enum cl_pq_type t, int64_t x)
{
	char buf[64];
	if (t == CL_PQ_DATE)
		cl_time_format_day(x * 86400000000LL, buf);
	else
		cl_time_format_rfc3339(x, buf, sizeof(buf), x % 1000000 ? 6 : 0);
	return json_string(buf);
}

/* Cell i of a vector as JSON. */
static json_t *cell(const struct cl_pq_vec *v, size_t i)
{
	if (!v || !v->valid[i])
		return json_null();
	switch (v->type) {
	case CL_PQ_BOOL: return json_boolean(v->v.b[i]);
	case CL_PQ_INT32: return json_integer(v->v.i32[i]);
	case CL_PQ_INT64: return json_integer(v->v.i64[i]);
	case CL_PQ_FLOAT: return json_real(v->v.f32[i]);
	case CL_PQ_DOUBLE: return json_real(v->v.f64[i]);
	case CL_PQ_DATE: return time_json(v->type, v->v.i32[i]);
	case CL_PQ_TIMESTAMP: return time_json(v->type, v->v.i64[i]);
	default: {
		size_t len;
		const char *s = cl_pq_vec_str(v, i, &len);
		/* binary that is text shows as text, as other engines show it */
		if (v->type == CL_PQ_STRING)
			return json_stringn(s, len);
		json_t *j = cl_pq_bytes_json(s, len);
		return j ? j : json_null();
	}
	}
}

static char *cell_text(json_t *x)
{
	char buf[64];
	if (json_is_null(x))
		return strdup("");
	if (json_is_string(x))
		return strdup(json_string_value(x));
	if (json_is_object(x) || json_is_array(x))
		return json_dumps(x, JSON_COMPACT | JSON_PRESERVE_ORDER);
	if (json_is_real(x)) {
		fmt_double(json_real_value(x), buf, sizeof(buf));
		return strdup(buf);
	}
	return json_dumps(x, JSON_ENCODE_ANY | JSON_COMPACT);
}

/* Emits one row (an array of JSON cells). Returns 1 when the limit is reached. */
static int emit(struct out *o, json_t *row)
{
	if (o->limit >= 0 && o->n >= o->limit) {
		json_decref(row);
		return 1;
	}
	o->n++;
	if (strcmp(o->format, "csv") == 0) {
		for (size_t i = 0; i < o->ncols; i++) {
			char *s = cell_text(json_array_get(row, i));
			if (i)
				putchar(',');
			cl_csv_write_field(stdout, s, s ? strlen(s) : 0);
			free(s);
		}
		fputs("\r\n", stdout);
		json_decref(row);
	} else {
		json_array_append_new(o->rows, row);
	}
	return o->limit >= 0 && o->n >= o->limit;
}

static void finish(struct out *o)
{
	size_t i, c;
	json_t *row;
	if (strcmp(o->format, "json") == 0) {
		json_t *arr = json_array();
		json_array_foreach(o->rows, i, row) {
			json_t *obj = json_object();
			for (c = 0; c < o->ncols; c++)
				json_object_set(obj, o->names[c], json_array_get(row, c));
			json_array_append_new(arr, obj);
		}
		json_dumpf(arr, stdout, JSON_INDENT(2) | JSON_PRESERVE_ORDER | JSON_REAL_PRECISION(17));
		putchar('\n');
		json_decref(arr);
	} else if (strcmp(o->format, "table") == 0) {
		size_t *w = calloc(o->ncols + 1, sizeof(*w));
		for (c = 0; c < o->ncols; c++)
			w[c] = strlen(o->names[c]);
		json_array_foreach(o->rows, i, row)
			for (c = 0; c < o->ncols; c++) {
				char *s = cell_text(json_array_get(row, c));
				if (s && strlen(s) > w[c])
					w[c] = strlen(s) > 60 ? 60 : strlen(s);
				free(s);
			}
		for (c = 0; c < o->ncols; c++)
			printf("%s%-*s", c ? "  " : "", (int)w[c], o->names[c]);
		putchar('\n');
		for (c = 0; c < o->ncols; c++) {
			printf("%s", c ? "  " : "");
			for (size_t k = 0; k < w[c]; k++)
				putchar('-');
		}
		putchar('\n');
		json_array_foreach(o->rows, i, row) {
			for (c = 0; c < o->ncols; c++) {
				char *s = cell_text(json_array_get(row, c));
				printf("%s%-*.*s", c ? "  " : "", (int)w[c], (int)w[c], s ? s : "");
				free(s);
			}
			putchar('\n');
		}
		printf("(%lld row%s)\n", (long long)o->n, o->n == 1 ? "" : "s");
		free(w);
	}
}

/* A top-level value of an assembled record, times and dates formatted. */
static json_t *record_cell(json_t *rec, const char *name, enum cl_pq_type t)
{
	json_t *x = json_object_get(rec, name);
	if (!x)
		return json_null();
	if ((t == CL_PQ_TIMESTAMP || t == CL_PQ_DATE) && json_is_integer(x))
		return time_json(t, json_integer_value(x));
	return json_incref(x);
}

/* The rows of a file with lists or maps: whole records, nested values as
 * JSON. Column c is the top-level field o->names[c]. */
static int show_records(struct out *o, struct cl_pq_file *f, char *const *fixed)
{
	enum cl_pq_type types[512];
	for (size_t c = 0; c < o->ncols && c < 512; c++) {
		types[c] = CL_PQ_NONE;
		for (size_t i = 0; i < cl_pq_num_nodes(f); i++)
			if (strcmp(cl_pq_node(f, i)->name, o->names[c]) == 0)
				types[c] = cl_pq_node(f, i)->type;
	}
	int rc = 0, done = 0;
	for (size_t rg = 0; rc == 0 && !done && rg < cl_pq_num_row_groups(f); rg++) {
		json_t *recs = json_array();
		size_t i;
		json_t *rec;
		rc = cl_pq_read_records(f, rg, recs);
		json_array_foreach(recs, i, rec) {
			if (rc || done)
				break;
			json_t *row = json_array();
			for (size_t c = 0; c < o->ncols; c++)
				json_array_append_new(row, fixed && fixed[c] ? json_string(fixed[c])
								   : record_cell(rec, o->names[c], types[c]));
			done = emit(o, row);
		}
		json_decref(recs);
	}
	return rc;
}

/* Emits the rows of one Parquet file: column c of the output is file leaf
 * `map[c]`, or partition value `fixed[c]`, or null. */
static int show_file(struct out *o, const char *path, char *const *fixed)
{
	struct cl_pq_file *f;
	int rc = cl_lake_loc_open_parquet(path, &f);
	if (rc)
		return rc;
	if (cl_pq_check_flat(f) != CL_OK) {
		rc = show_records(o, f, fixed);
		cl_pq_close(f);
		return rc ? cl_error_set(rc, "%s: %s", path, cl_error_detail()) : 0;
	}
	long map[512];
	size_t leaves[512], nread = 0;
	for (size_t c = 0; c < o->ncols && c < 512; c++) {
		map[c] = -1;
		for (size_t l = 0; l < cl_pq_num_leaves(f); l++)
			if (strcmp(cl_pq_leaf(f, l)->name, o->names[c]) == 0)
				map[c] = (long)l;
		if (map[c] >= 0) {
			leaves[nread] = (size_t)map[c];
			map[c] = (long)nread++; /* now: where column c is read into */
		}
	}
	/* a row group's columns read at once on every CPU, into the same
	 * vectors for each row group */
	struct cl_pq_vec *v = calloc(nread + 1, sizeof(*v));
	if (!v) {
		cl_pq_close(f);
		return cl_error_set(CL_ENOMEM, "%s: no memory for its columns", path);
	}
	for (size_t k = 0; k < nread; k++)
		cl_pq_vec_init(&v[k], CL_PQ_NONE);
	int done = 0;
	for (size_t rg = 0; rc == 0 && !done && rg < cl_pq_num_row_groups(f); rg++) {
		rc = cl_pq_read_columns(f, rg, leaves, nread, v, 0);
		int64_t rows = cl_pq_row_group_rows(f, rg);
		for (int64_t r = 0; rc == 0 && !done && r < rows; r++) {
			json_t *row = json_array();
			for (size_t c = 0; c < o->ncols; c++) {
				if (map[c] >= 0)
					json_array_append_new(row, cell(&v[map[c]], (size_t)r));
				else if (fixed && fixed[c])
					json_array_append_new(row, json_string(fixed[c]));
				else
					json_array_append_new(row, json_null());
			}
			done = emit(o, row);
		}
	}
	for (size_t k = 0; k < nread; k++)
		cl_pq_vec_free(&v[k]);
	free(v);
	cl_pq_close(f);
	if (rc)
		return cl_error_set(rc, "%s: %s", path, cl_error_detail());
	return 0;
}

static int cmp_file(const void *a, const void *b)
{
	return strcmp(((const struct cl_delta_file *)a)->path, ((const struct cl_delta_file *)b)->path);
}

static int show(struct cl_cli *cli, const char *path, int64_t version, int64_t ts, struct out *o)
{
	struct stat st;
	int rc;

	o->rows = json_array();
	if (stat(path, &st) == 0 && S_ISREG(st.st_mode)) {
		struct cl_pq_file *f;
		if ((rc = cl_pq_open(&f, path)))
			return cl_cli_error(cli, "%s", cl_error_detail());
		int flat = cl_pq_check_flat(f) == CL_OK;
		o->names = calloc(cl_pq_num_nodes(f) + 1, sizeof(char *));
		if (flat) {
			o->ncols = cl_pq_num_leaves(f);
			for (size_t i = 0; i < o->ncols; i++)
				o->names[i] = strdup(cl_pq_leaf(f, i)->name);
		} else {
			/* the top-level fields: each node whose subtree starts it */
			for (size_t i = 0, skip = 0; i < cl_pq_num_nodes(f); i++) {
				if (skip == 0)
					o->names[o->ncols++] = strdup(cl_pq_node(f, i)->name);
				else
					skip--;
				skip += (size_t)cl_pq_node(f, i)->nchildren;
			}
		}
		cl_pq_close(f);
		if (strcmp(o->format, "csv") == 0) {
			for (size_t i = 0; i < o->ncols; i++) {
				if (i)
					putchar(',');
				cl_csv_write_field(stdout, o->names[i], strlen(o->names[i]));
			}
			fputs("\r\n", stdout);
		}
		rc = show_file(o, path, NULL);
	} else {
		struct cl_delta_snapshot *s;
		if ((rc = cl_delta_snapshot_load(path, version, ts, &s)))
			return cl_cli_error(cli, "%s", cl_error_detail());
		o->ncols = s->nfields;
		o->names = calloc(o->ncols + 1, sizeof(char *));
		for (size_t i = 0; i < o->ncols; i++)
			o->names[i] = strdup(s->fields[i].name);
		qsort(s->files, s->nfiles, sizeof(*s->files), cmp_file);
		rc = 0;
		for (size_t i = 0; rc == 0 && i < s->nfiles; i++) {
			char file[PATH_MAX * 2], *fixed[512] = { 0 };
			if (s->files[i].has_dv) {
				rc = cl_error_set(CL_ENOTSUP, "%s uses deletion vectors, which carelake "
						  "does not read", s->files[i].path);
				break;
			}
			for (size_t c = 0; c < o->ncols && c < 512; c++)
				for (size_t p = 0; p < s->npartition_cols; p++)
					if (strcmp(s->partition_cols[p], o->names[c]) == 0)
						fixed[c] = s->files[i].part_values[p];
			snprintf(file, sizeof(file), "%s/%s", path, s->files[i].path);
			rc = show_file(o, file, fixed);
			if (o->limit >= 0 && o->n >= o->limit)
				break;
		}
		cl_delta_snapshot_free(s);
	}
	if (rc) {
		cl_cli_error(cli, "%s", cl_error_detail());
		return CL_EXIT_FAIL;
	}
	finish(o);
	return CL_EXIT_OK;
}

static int history(struct cl_cli *cli, const char *path, int json)
{
	struct cl_delta_commit *c;
	size_t n;
	if (cl_delta_history(path, &c, &n) != CL_OK)
		return cl_cli_error(cli, "%s", cl_error_detail());
	json_t *arr = json_array();
	if (!json)
		printf("%-8s %-24s %-14s %6s %7s %10s\n", "version", "time", "operation", "added",
		       "removed", "rows");
	for (size_t i = 0; i < n; i++) {
		char when[40];
		cl_time_format_rfc3339(c[i].timestamp_ms * 1000, when, sizeof(when), 3);
		if (json) {
			json_t *o = json_pack("{s:I, s:s, s:s?, s:I, s:I}", "version",
					      (json_int_t)c[i].version, "timestamp", when, "operation",
					      c[i].operation, "files_added", (json_int_t)c[i].nadd,
					      "files_removed", (json_int_t)c[i].nremove);
			json_object_set_new(o, "rows_added", c[i].rows_added >= 0
						 ? json_integer(c[i].rows_added) : json_null());
			if (c[i].info)
				json_object_set(o, "commit_info", c[i].info);
			json_array_append_new(arr, o);
		} else {
			char rows[32] = "-";
			if (c[i].rows_added >= 0)
				snprintf(rows, sizeof(rows), "%lld", (long long)c[i].rows_added);
			printf("%-8lld %-24s %-14s %6zu %7zu %10s\n", (long long)c[i].version, when,
			       c[i].operation ? c[i].operation : "-", c[i].nadd, c[i].nremove, rows);
		}
	}
	if (json) {
		json_dumpf(arr, stdout, JSON_INDENT(2) | JSON_PRESERVE_ORDER);
		putchar('\n');
	}
	json_decref(arr);
	cl_delta_history_free(c, n);
	return CL_EXIT_OK;
}

/* What table's options set. */
struct table_args {
	const char *format, *timestamp;
	uint64_t version, limit;
	int json;
};

const struct cl_opt cl_cmd_table_opts[] = {
	CL_OPT_UINT("version", struct table_args, version, 0, INT64_MAX, "N",
		    "the version to read (time travel)"),
	CL_OPT_STRING("timestamp", struct table_args, timestamp, "TS",
		      "the last version committed at or before TS"),
	CL_OPT_STRING("format", struct table_args, format, "F",
		      "table (default), csv or json (an array of objects)"),
	CL_OPT_UINT("limit", struct table_args, limit, 0, INT64_MAX, "N", "at most N rows"),
	CL_OPT_FLAG("json", struct table_args, json, "history as a JSON array"),
	CL_OPT_END,
};

int cl_cmd_table(int argc, char **argv)
{
	struct table_args a = { .format = "table", .version = UINT64_MAX, .limit = UINT64_MAX };
	struct cl_cli cli;
	struct out o = { .format = "table", .limit = -1 };
	int64_t version = CL_DELTA_LATEST, ts = CL_DELTA_NO_TIME;
	int nargs, rc;

	cl_cli_init(&cli, "table");
	rc = cl_cli_parse(&cli, cl_cmd_table_opts, &a, cl_cmd_table_usage, argc, argv, &nargs);
	if (rc >= 0)
		return rc;
	if (a.version != UINT64_MAX)
		version = (int64_t)a.version;
	if (a.limit != UINT64_MAX)
		o.limit = (int64_t)a.limit;
	o.format = a.format;
	if (a.timestamp) {
		if (cl_time_parse_rfc3339(a.timestamp, strlen(a.timestamp), &ts) != CL_OK)
			return cl_cli_error(&cli, "--timestamp takes an RFC 3339 time, e.g. "
					    "2026-11-22T10:00:00Z");
		ts /= 1000;
	}
	if (nargs != 2 || (strcmp(argv[0], "show") && strcmp(argv[0], "history")))
		return cl_cli_error(&cli, "give show PATH or history PATH (see --help)");
	if (strcmp(o.format, "table") && strcmp(o.format, "csv") && strcmp(o.format, "json"))
		return cl_cli_error(&cli, "--format must be table, csv or json");
	if (a.version != UINT64_MAX && ts != CL_DELTA_NO_TIME)
		return cl_cli_error(&cli, "give --version or --timestamp, not both");
	const char *path = argv[1];
	if (strcmp(argv[0], "history") == 0)
		return history(&cli, path, a.json);
	if (strcmp(o.format, "csv") == 0) {
		/* the header first: csv streams */
		struct stat st;
		struct cl_delta_snapshot *s = NULL;
		if (!(stat(path, &st) == 0 && S_ISREG(st.st_mode)) &&
		    cl_delta_snapshot_load(path, version, ts, &s) == CL_OK) {
			for (size_t i = 0; i < s->nfields; i++) {
				if (i)
					putchar(',');
				cl_csv_write_field(stdout, s->fields[i].name, strlen(s->fields[i].name));
			}
			fputs("\r\n", stdout);
			cl_delta_snapshot_free(s);
		}
	}
	rc = show(&cli, path, version, ts, &o);
	for (size_t i = 0; o.names && i < o.ncols; i++)
		free(o.names[i]);
	free(o.names);
	json_decref(o.rows);
	return rc;
}
