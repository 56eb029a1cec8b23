/*
 * `carelake status`: pipelines and their last runs, how far behind the
 * stream and the refiner are, what sits in quarantine, and the bytes on
 * disk, as serve/cl_status.h gathers them (GET /api/v1/status answers the
 * same); this file opens carelake.db read-only and prints it.
 */
#include "cl_cli.h"
#include "core/cl_error.h"
#include "core/cl_time.h"
#include "serve/cl_status.h"
#include "store/cl_db.h"

#include <jansson.h>
#include <sqlite3.h>
#include <stdio.h>
#include <string.h>

const char cl_cmd_status_usage[] =
	"usage: carelake status [--data DIR] [--config FILE] [--json]\n\n"
	"Shows the pipelines declared in config with their last run, the latest\n"
	"runs of every load, how many records of each bronze log the stream\n"
	"processor and the refiner have still to apply (lag), the files in bronze\n"
	"and the records in quarantine, by source; which tables' Delta copies\n"
	"under silver/ and gold/ are behind carelake.db; and the bytes on disk.\n"
	"Safe beside `carelake serve`, whose GET /api/v1/status answers the same.\n\n";

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
	struct cl_cli cli;
	sqlite3 *db = NULL;
	json_t *out;
	int json, nargs, rc;

	cl_cli_init(&cli, "status");
	rc = cl_cli_parse(&cli, cl_cmd_status_opts, &a, cl_cmd_status_usage, argc, argv, &nargs);
	if (rc >= 0)
		return rc;
	json = a.json;
	if (nargs)
		return cl_cli_error(&cli, "unexpected argument '%s'", argv[0]);
	if (cl_db_open(cli.data_dir, CL_DB_READONLY, &db) != CL_OK)
		return cl_cli_error(&cli, "nothing in %s yet (no carelake.db)", cli.data_dir);
	out = cl_status_json(db, cli.data_dir, cli.cfg, 10);
	sqlite3_close(db);
	if (!out)
		return cl_cli_error(&cli, "%s", cl_error_detail());
	if (json) {
		json_dumpf(out, stdout, JSON_INDENT(2) | JSON_PRESERVE_ORDER);
		putchar('\n');
	} else {
		size_t i;
		json_t *v;
		const char *k;

		json_t *disk = json_object_get(out, "disk");

		printf("pipelines:\n");
		if (!json_array_size(json_object_get(out, "pipelines")))
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
			printf("  %-14s %lld records; stream %lld behind, refine %lld behind\n", k,
			       json_integer_value(json_object_get(v, "records")),
			       json_integer_value(json_object_get(v, "stream_lag")),
			       json_integer_value(json_object_get(v, "refine_lag")));
		json_t *os = json_object_get(out, "object_storage");
		const char *uri = json_string_value(json_object_get(os, "lake_uri"));
		printf("lake (partitions changed in carelake.db, not yet in the Delta tables%s%s):\n",
		       uri ? " at " : "", uri ? uri : "");
		if (!json_array_size(json_object_get(out, "lake")))
			printf("  none: every Delta table under silver/ and gold/ is up to date\n");
		json_array_foreach(json_object_get(out, "lake"), i, v)
			printf("  %-20s %lld partition%s\n",
			       json_string_value(json_object_get(v, "table_name")),
			       json_integer_value(json_object_get(v, "partitions")),
			       json_integer_value(json_object_get(v, "partitions")) == 1 ? "" : "s");
		printf("outbox (alert changes not yet delivered, per consumer):\n");
		if (!json_object_size(json_object_get(out, "outbox")))
			printf("  none: no webhook or Kafka out\n");
		json_object_foreach(json_object_get(out, "outbox"), k, v)
			printf("  %-16s %lld\n", k, json_integer_value(v));
		printf("windows corrected by late data: %lld now corrected, %lld corrections\n",
		       json_integer_value(json_object_get(json_object_get(out, "rollups"),
							  "corrected_windows")),
		       json_integer_value(json_object_get(json_object_get(out, "rollups"),
							  "corrections")));
		printf("sources:\n");
		json_array_foreach(json_object_get(out, "sources"), i, v)
			printf("  %-16s %lld files, %lld quarantined\n",
			       json_string_value(json_object_get(v, "source")),
			       json_integer_value(json_object_get(v, "files")),
			       json_integer_value(json_object_get(v, "quarantined")));
		printf("disk: bronze %lld bytes, silver %lld, gold %lld, carelake.db %lld\n",
		       json_integer_value(json_object_get(disk, "bronze")),
		       json_integer_value(json_object_get(disk, "silver")),
		       json_integer_value(json_object_get(disk, "gold")),
		       json_integer_value(json_object_get(disk, "store")));
	}
	json_decref(out);
	return CL_EXIT_OK;
}
