/*
 * `carelake status`: pipelines and their last runs, how far behind the
 * stream and the refiner are, and what sits in quarantine. Each module
 * answers for its own state (batch: cl_batch_status.h; the stream:
 * cl_stream_position; bronze: cl_bronze_records_after; the lake:
 * cl_lake_pending_tables); this file opens carelake.db read-only and
 * prints what they say.
 */
#include "cl_cli.h"
#include "batch/cl_batch_status.h"
#include "batch/cl_pipeline.h"
#include "bronze/cl_bronze.h"
#include "core/cl_error.h"
#include "core/cl_time.h"
#include "lake/cl_lake.h"
#include "store/cl_db.h"
#include "store/cl_store.h"
#include "stream/cl_stream.h"

#include <jansson.h>
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

/* Each bronze log the stream follows: its records, and how many of them
 * the stream and the refiner have still to apply. */
static json_t *lag_of_logs(sqlite3 *db, const char *data_dir)
{
	json_t *lag = json_object();
	const char *log;

	for (size_t i = 0; lag && (log = cl_stream_log(i)); i++) {
		uint64_t end;
		int64_t behind_stream = cl_bronze_records_after(
			data_dir, log, cl_stream_position(db, log), &end);
		int64_t behind_refine = cl_bronze_records_after(
			data_dir, log, cl_store_refine_position(db, log), &end);

		json_object_set_new(lag, log,
				    json_pack("{s:I,s:I,s:I}", "records", (json_int_t)end,
					      "stream_lag", (json_int_t)behind_stream, "refine_lag",
					      (json_int_t)behind_refine));
	}
	return lag;
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
	struct status_args a = { 0 };
	struct cl_pipeline p[CL_PIPELINES_MAX];
	struct cl_cli cli;
	sqlite3 *db = NULL;
	json_t *out;
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
	if (cl_db_open(cli.data_dir, CL_DB_READONLY, &db) != CL_OK)
		return cl_cli_error(&cli, "nothing in %s yet (no carelake.db)", cli.data_dir);
	out = json_object();
	json_object_set_new(out, "pipelines", cl_batch_status_pipelines(db, cli.data_dir, p, np));
	json_object_set_new(out, "runs", cl_batch_status_runs(db, 10));
	json_object_set_new(out, "lag", lag_of_logs(db, cli.data_dir));
	json_object_set_new(out, "sources", cl_batch_status_sources(db));
	json_object_set_new(out, "quarantined", json_integer(cl_batch_status_quarantined(db)));
	json_object_set_new(out, "lake", cl_lake_pending_tables(db));
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
