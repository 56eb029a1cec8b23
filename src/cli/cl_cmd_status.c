/*
 * `carelake status`: pipelines and their last runs, how far behind the
 * stream and the refiner are, and what sits in quarantine.
 */
#include "cl_cli.h"
#include "batch/cl_pipeline.h"
#include "bronze/cl_bronze.h"
#include "bronze/cl_reader.h"
#include "core/cl_error.h"
#include "store/cl_sql_json.h"
#include "core/cl_fs.h"
#include "core/cl_time.h"

#include <dirent.h>
#include <jansson.h>
#include <limits.h>
#include <sqlite3.h>
#include <stdio.h>
#include <string.h>

const char cl_cmd_status_usage[] =
	"usage: carelake status [--data DIR] [--config FILE] [--json]\n\n"
	"Shows the pipelines declared in config with their last run, the latest\n"
	"runs of every load, how many records of each bronze log the stream\n"
	"processor and the refiner have still to apply (lag), the files in bronze\n"
	"and the records in quarantine, by source; and which tables' Delta copies\n"
	"under silver/ and gold/ are behind carelake.db. Safe beside `carelake serve`.\n\n";

/* Rows of a query as a JSON array of objects. */
static json_t *rows(sqlite3 *db, const char *sql, const char *bind)
{
	json_t *arr = json_array();
	sqlite3_stmt *st;

	if (sqlite3_prepare_v2(db, sql, -1, &st, NULL) != SQLITE_OK)
		return arr;
	if (bind)
		sqlite3_bind_text(st, 1, bind, -1, SQLITE_STATIC);
	while (sqlite3_step(st) == SQLITE_ROW) {
		json_t *o = cl_sql_row_json(st);

		json_array_append_new(arr, o);
	}
	sqlite3_finalize(st);
	return arr;
}

static int64_t one(sqlite3 *db, const char *sql, const char *bind, int64_t dflt)
{
	sqlite3_stmt *st;
	int64_t v = dflt;

	if (sqlite3_prepare_v2(db, sql, -1, &st, NULL) != SQLITE_OK)
		return dflt;
	if (bind)
		sqlite3_bind_text(st, 1, bind, -1, SQLITE_STATIC);
	if (sqlite3_step(st) == SQLITE_ROW && sqlite3_column_type(st, 0) != SQLITE_NULL)
		v = sqlite3_column_int64(st, 0);
	sqlite3_finalize(st);
	return v;
}

/* Records of a bronze log from `from` to its end. */
static int64_t records_after(const char *data_dir, const char *source, uint64_t from,
			     uint64_t *end)
{
	char dir[PATH_MAX];
	struct cl_blog_reader *r;
	struct cl_frame f;
	int64_t n = 0;

	*end = from;
	if (cl_bronze_source_dir(dir, sizeof(dir), data_dir, source) != CL_OK || !cl_fs_is_dir(dir) ||
	    cl_blog_reader_open(dir, from, UINT64_MAX, 16u << 20, &r) != CL_OK)
		return 0;
	while (cl_blog_reader_next(r, &f) == 1)
		n++;
	*end = cl_blog_reader_position(r);
	cl_blog_reader_close(r);
	return n;
}

/* Files in a dead-letter folder, less their .reason notes. */
static json_int_t dead_letters(const char *dir)
{
	DIR *d = opendir(dir);
	struct dirent *de;
	json_int_t n = 0;

	while (d && (de = readdir(d))) {
		size_t l = strlen(de->d_name);

		if (de->d_name[0] != '.' && !(l > 7 && strcmp(de->d_name + l - 7, ".reason") == 0))
			n++;
	}
	if (d)
		closedir(d);
	return n;
}

/* What status's options set. */
struct status_args {
	int json;
};

const struct cl_opt cl_cmd_status_opts[] = {
	CL_OPT_FLAG("json", struct status_args, json, "print it as one JSON object"),
	CL_OPT_END,
};

int cl_cmd_status(int argc, char **argv)
{
	static const char *const logs[][3] = {
		{ "vitals", "stream", "vitals" }, { "fhir", "stream.fhir", "fhir" },
	};
	struct status_args a = { 0 };
	struct cl_pipeline p[CL_PIPELINES_MAX];
	char path[PATH_MAX + 16];
	struct cl_cli cli;
	sqlite3 *db = NULL;
	json_t *out, *pipes, *lag;
	int json, np = 0, nargs, rc;

	cl_cli_init(&cli, "status");
	rc = cl_cli_parse(&cli, cl_cmd_status_opts, &a, cl_cmd_status_usage, argc, argv, &nargs);
	if (rc >= 0)
		return rc;
	json = a.json;
	if (nargs)
		return cl_cli_error(&cli, "unexpected argument '%s'", argv[0]);
	if (cl_config_list(cli.cfg, &cl_pipelines_section, p, &np, 1) != CL_OK)
		return cl_cli_error(&cli, "%s", cl_error_detail());
	snprintf(path, sizeof(path), "%s/carelake.db", cli.data_dir);
	if (sqlite3_open_v2(path, &db, SQLITE_OPEN_READONLY, NULL) != SQLITE_OK) {
		sqlite3_close(db);
		return cl_cli_error(&cli, "nothing in %s yet (no carelake.db)", cli.data_dir);
	}
	sqlite3_busy_timeout(db, 5000);
	out = json_object();
	pipes = json_array();
	for (int i = 0; i < np; i++) {
		char trig[32];
		json_t *last = rows(db, "SELECT id, trigger, attempts, state, start_us, end_us, files,"
				   " accepted, quarantined, error FROM pipeline_run WHERE pipeline = ?1"
				   " ORDER BY id DESC LIMIT 1", p[i].name);

		cl_pipeline_trigger_text(&p[i], trig, sizeof(trig));
		json_array_append_new(pipes, json_pack("{s:s,s:s,s:s,s:s,s:i,s:o,s:I}", "name",
						       p[i].name, "path", p[i].path, "trigger",
						       trig, "source", p[i].source, "attempts",
						       (int)p[i].attempts, "last_run",
						       json_incref(json_array_get(last, 0)) ?: json_null(),
						       "dead_letters", (json_int_t)0));
		json_decref(last);
		{
			char dl[PATH_MAX * 2];
			json_t *pj = json_array_get(pipes, json_array_size(pipes) - 1);
			json_int_t n = 0;

			snprintf(dl, sizeof(dl), "%s/dead-letter/%.48s", cli.data_dir, p[i].name);
			n = dead_letters(dl);
			json_object_set_new(pj, "dead_letters", json_integer(n));
		}
	}
	json_object_set_new(out, "pipelines", pipes);
	json_object_set_new(out, "runs", rows(db, "SELECT id, pipeline, trigger, attempts, state,"
					      " start_us, end_us, files, records, accepted, duplicates,"
					      " quarantined, warnings, error FROM pipeline_run"
					      " ORDER BY id DESC LIMIT 10", NULL));
	lag = json_object();
	for (size_t i = 0; i < sizeof(logs) / sizeof(logs[0]); i++) {
		uint64_t end, stream_at = (uint64_t)one(db, "SELECT processed FROM stream_checkpoint"
							" WHERE consumer = ?1", logs[i][1], 0);
		uint64_t refine_at = (uint64_t)one(db, "SELECT next_offset FROM refine_checkpoint"
						   " WHERE source = ?1", logs[i][2], 0);
		int64_t behind_stream = records_after(cli.data_dir, logs[i][0], stream_at, &end);
		int64_t behind_refine = records_after(cli.data_dir, logs[i][0], refine_at, &end);

		json_object_set_new(lag, logs[i][0],
				    json_pack("{s:I,s:I,s:I}", "records", (json_int_t)end,
					      "stream_lag", (json_int_t)behind_stream, "refine_lag",
					      (json_int_t)behind_refine));
	}
	json_object_set_new(out, "lag", lag);
	json_object_set_new(out, "sources",
			    rows(db, "WITH s AS (SELECT source FROM bronze_file UNION SELECT source FROM"
				 " quarantine) SELECT s.source, (SELECT count(*) FROM bronze_file b"
				 " WHERE b.source = s.source) AS files, (SELECT count(*) FROM"
				 " quarantine q WHERE q.source = s.source) AS quarantined FROM s"
				 " ORDER BY s.source", NULL));
	json_object_set_new(out, "quarantined",
			    json_integer(one(db, "SELECT count(*) FROM quarantine", NULL, 0)));
	json_object_set_new(out, "lake",
			    rows(db, "SELECT table_name, count(*) AS partitions FROM lake_dirty"
				 " GROUP BY table_name ORDER BY table_name", NULL));
	sqlite3_close(db);
	if (json) {
		json_dumpf(out, stdout, JSON_INDENT(2) | JSON_PRESERVE_ORDER);
		putchar('\n');
	} else {
		size_t i;
		json_t *v;
		const char *k;

		printf("pipelines:\n");
		if (!np)
			printf("  (none declared: pipelines.<name>.path in config)\n");
		json_array_foreach(json_object_get(out, "pipelines"), i, v) {
			json_t *last = json_object_get(v, "last_run");

			printf("  %-16s %-10s %s -> %s; last run: %s%s%s; dead letters %lld\n",
			       json_string_value(json_object_get(v, "name")),
			       json_string_value(json_object_get(v, "trigger")),
			       json_string_value(json_object_get(v, "path")),
			       json_string_value(json_object_get(v, "source")),
			       json_is_object(last) ? json_string_value(json_object_get(last, "state"))
						    : "never",
			       json_is_object(last) && json_string_value(json_object_get(last, "error"))
				       ? ": " : "",
			       json_is_object(last) && json_string_value(json_object_get(last, "error"))
				       ? json_string_value(json_object_get(last, "error")) : "",
			       json_integer_value(json_object_get(v, "dead_letters")));
		}
		printf("latest runs:\n");
		json_array_foreach(json_object_get(out, "runs"), i, v) {
			char when[40];

			cl_time_format_rfc3339(json_integer_value(json_object_get(v, "start_us")), when,
					       sizeof(when), 0);
			printf("  #%-5lld %-16s %-10s %s  attempt %lld  files %lld  accepted %lld  "
			       "quarantined %lld\n",
			       json_integer_value(json_object_get(v, "id")),
			       json_string_value(json_object_get(v, "pipeline")),
			       json_string_value(json_object_get(v, "state")), when,
			       json_integer_value(json_object_get(v, "attempts")),
			       json_integer_value(json_object_get(v, "files")),
			       json_integer_value(json_object_get(v, "accepted")),
			       json_integer_value(json_object_get(v, "quarantined")));
		}
		printf("lag (records not yet applied):\n");
		json_object_foreach(json_object_get(out, "lag"), k, v)
			printf("  %-8s %lld records; stream %lld behind, refine %lld behind\n", k,
			       json_integer_value(json_object_get(v, "records")),
			       json_integer_value(json_object_get(v, "stream_lag")),
			       json_integer_value(json_object_get(v, "refine_lag")));
		printf("lake (partitions changed in carelake.db, not yet in the Delta tables):\n");
		if (!json_array_size(json_object_get(out, "lake")))
			printf("  none: every Delta table under silver/ and gold/ is up to date\n");
		json_array_foreach(json_object_get(out, "lake"), i, v)
			printf("  %-20s %lld partition%s\n",
			       json_string_value(json_object_get(v, "table_name")),
			       json_integer_value(json_object_get(v, "partitions")),
			       json_integer_value(json_object_get(v, "partitions")) == 1 ? "" : "s");
		printf("sources:\n");
		json_array_foreach(json_object_get(out, "sources"), i, v)
			printf("  %-16s %lld files, %lld quarantined\n",
			       json_string_value(json_object_get(v, "source")),
			       json_integer_value(json_object_get(v, "files")),
			       json_integer_value(json_object_get(v, "quarantined")));
	}
	json_decref(out);
	return CL_EXIT_OK;
}
