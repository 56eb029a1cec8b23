/*
 * `carelake ingest` and `carelake refine`: batch files into bronze and
 * silver. See docs/commands/ingest.md.
 */
#include "cl_cli.h"
#include "batch/cl_batch.h"
#include "batch/cl_csv_map.h"
#include "core/cl_error.h"

#include <jansson.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

const char cl_cmd_ingest_usage[] =
	"usage: carelake ingest [--data DIR] [--source NAME] [--sheet NAME] [--json] PATH...\n\n"
	"Loads files into bronze, unchanged, and refines them into the silver\n"
	"tables of carelake.db. A PATH may be a directory (every file in it).\n"
	"Recognised by content: FHIR R4 JSON (a resource or a Bundle) and NDJSON\n"
	"(one resource per line), the Synthea CSV export (patients, providers,\n"
	"organizations, encounters, conditions, observations, medications,\n"
	"procedures), carelake's own CSV files (patients, staff, shifts, bookings,\n"
	"communications, surveys, devices) and XLSX workbooks whose sheet has one\n"
	"of those headers. A file already loaded (same content) is skipped. Records\n"
	"that fail validation go to the quarantine table with the reason.\n\n"
	"Prints files, records, accepted, duplicates, quarantined and rows by\n"
	"table; a progress bar on a terminal.\n\n"
	"exit status: 0 all loaded, 1 a file could not be loaded (named), 2 could\n"
	"not run\n\n";

const char cl_cmd_refine_usage[] =
	"usage: carelake refine [--data DIR] [--rebuild] [--json]\n\n"
	"Refines bronze into silver. Files are refined as they are ingested, so\n"
	"there is nothing pending unless --rebuild: then every silver table and\n"
	"the quarantine are emptied and rebuilt from the files bronze lists, in the\n"
	"order they were ingested. A rebuild gives the same tables. A file that\n"
	"fails in a rebuild leaves nothing of itself and the rebuild goes on; the\n"
	"failures are counted, the first is named, and the exit status is 1.\n\n";

static void progress(void *arg, uint64_t done, uint64_t total, const char *name)
{
	int width = 30, fill = total ? (int)(done * (uint64_t)width / total) : width;
	const char *slash = strrchr(name, '/');

	(void)arg;
	fprintf(stderr, "\r[%.*s%*s] %llu/%llu %-40.40s", fill,
		"##############################", width - fill, "", (unsigned long long)done,
		(unsigned long long)total, slash ? slash + 1 : name);
	if (done == total)
		fputc('\n', stderr);
}

static void print_summary(const struct cl_batch_summary *s, int json)
{
	if (json) {
		json_t *t = json_object();

		for (int i = 0; cl_silver_tables[i].name; i++)
			if (s->c.by_table[i])
				json_object_set_new(t, cl_silver_tables[i].name,
						    json_integer((json_int_t)s->c.by_table[i]));
		json_t *o = json_pack("{s:I,s:I,s:I,s:I,s:I,s:I,s:I,s:I,s:I,s:I,s:I,s:o}",
				      "run_id", (json_int_t)s->run_id, "files",
				      (json_int_t)s->files, "loaded", (json_int_t)s->loaded,
				      "unchanged", (json_int_t)s->unchanged, "failed",
				      (json_int_t)s->failed, "records", (json_int_t)s->c.records,
				      "accepted", (json_int_t)s->c.accepted, "duplicates",
				      (json_int_t)s->c.duplicates, "quarantined",
				      (json_int_t)s->c.quarantined, "warnings",
				      (json_int_t)s->c.warnings, "other_resources",
				      (json_int_t)s->c.other, "tables", t);

		json_object_set_new(o, "corrections", json_integer((json_int_t)s->c.updated));
		json_object_set_new(o, "deleted", json_integer((json_int_t)s->c.deleted));
		json_object_set_new(o, "dropped", json_integer((json_int_t)s->c.dropped));
		json_object_set_new(o, "bulk_loads", json_integer((json_int_t)s->c.bulk));
		if (s->error[0])
			json_object_set_new(o, "error", json_string(s->error));
		json_t *lake = json_pack("{s:i,s:i,s:I,s:I}", "tables", s->lake.tables, "partitions",
					 s->lake.partitions, "rows", (json_int_t)s->lake.rows,
					 "bytes", (json_int_t)s->lake.bytes);
		if (lake && s->lake_error[0])
			json_object_set_new(lake, "error", json_string(s->lake_error));
		json_object_set_new(o, "lake", lake);
		json_dumpf(o, stdout, JSON_INDENT(2) | JSON_PRESERVE_ORDER);
		fputc('\n', stdout);
		json_decref(o);
		return;
	}
	printf("run %lld: files %llu (loaded %llu, unchanged %llu, failed %llu)\n",
	       (long long)s->run_id, (unsigned long long)s->files, (unsigned long long)s->loaded,
	       (unsigned long long)s->unchanged, (unsigned long long)s->failed);
	printf("records %llu: accepted %llu (of which corrections %llu), duplicates %llu, "
	       "quarantined %llu, deleted %llu; %llu references to missing rows; %llu other "
	       "resources kept in bronze only\n",
	       (unsigned long long)s->c.records, (unsigned long long)s->c.accepted,
	       (unsigned long long)s->c.updated, (unsigned long long)s->c.duplicates,
	       (unsigned long long)s->c.quarantined, (unsigned long long)s->c.deleted,
	       (unsigned long long)s->c.warnings, (unsigned long long)s->c.other);
	for (int i = 0; cl_silver_tables[i].name; i++)
		if (s->c.by_table[i])
			printf("  %-20s %llu\n", cl_silver_tables[i].name,
			       (unsigned long long)s->c.by_table[i]);
	if (s->c.bulk)
		printf("bulk: %llu load%s into a table of fewer rows, its indexes built once at "
		       "commit\n", (unsigned long long)s->c.bulk, s->c.bulk == 1 ? "" : "s");
	if (s->lake.tables)
		printf("lake: %d Delta table%s updated (%d partition%s rewritten, %lld rows, "
		       "%lld bytes of Parquet)\n", s->lake.tables, s->lake.tables == 1 ? "" : "s",
		       s->lake.partitions, s->lake.partitions == 1 ? "" : "s",
		       (long long)s->lake.rows, (long long)s->lake.bytes);
	if (s->lake_error[0])
		fprintf(stderr, "carelake: warning: the Delta tables are behind: %s (the rows are "
			"in carelake.db; the next ingest or refine catches up)\n", s->lake_error);
}

/* What ingest's and refine's options set. */
struct ingest_args {
	const char *source, *sheet;
	int json, rebuild;
};

const struct cl_opt cl_cmd_ingest_opts[] = {
	CL_OPT_STRING("source", struct ingest_args, source, "NAME",
		      "the bronze source (default: fhir-files, synthea-csv,\n"
		      "hospital-files or spreadsheets, by format)"),
	CL_OPT_STRING("sheet", struct ingest_args, sheet, "NAME",
		      "XLSX: the sheet to read (default the first)"),
	CL_OPT_FLAG("json", struct ingest_args, json, "print the summary as one JSON object"),
	CL_OPT_END,
};

const struct cl_opt cl_cmd_refine_opts[] = {
	CL_OPT_FLAG("rebuild", struct ingest_args, rebuild, "rebuild silver from bronze"),
	CL_OPT_FLAG("json", struct ingest_args, json, "print the summary as one JSON object"),
	CL_OPT_END,
};

static int run(int argc, char **argv, int refine)
{
	struct ingest_args a = { 0 };
	struct cl_batch_summary sum;
	struct cl_batch *b;
	const char *source, *sheet;
	struct cl_cli cli;
	int json, rebuild, nargs, rc;

	cl_cli_init(&cli, refine ? "refine" : "ingest");
	rc = cl_cli_parse(&cli, refine ? cl_cmd_refine_opts : cl_cmd_ingest_opts, &a,
			  refine ? cl_cmd_refine_usage : cl_cmd_ingest_usage, argc, argv, &nargs);
	if (rc >= 0)
		return rc;
	source = a.source, sheet = a.sheet, json = a.json, rebuild = a.rebuild;
	if (source && (!*source || strchr(source, '/') || source[0] == '.' || strlen(source) > 60))
		return cl_cli_error(&cli, "--source: a name of letters, digits, '-' and '_'");
	if (refine && nargs)
		return cl_cli_error(&cli, "unexpected argument '%s'", argv[0]);
	if (!refine && !nargs)
		return cl_cli_error(&cli, "name the files or directories to load (see --help)");
	for (int i = 0; !refine && i < nargs; i++)
		if (access(argv[i], R_OK) != 0)
			return cl_cli_error(&cli, "%s: cannot read it", argv[i]);
	rc = cl_batch_open(cli.data_dir, &b);
	if (rc)
		return cl_cli_error(&cli, "%s", cl_error_detail());
	cl_batch_set_sheet(b, sheet);
	rc = cl_batch_configure(b, cli.cfg, 0);
	if (rc == CL_OK)
		rc = cl_batch_register_mappings(cli.cfg);
	if (rc) {
		cl_batch_close(b);
		return cl_cli_error(&cli, "%s", cl_error_detail());
	}
	if (refine)
		rc = cl_batch_refine(b, rebuild, &sum);
	else
		rc = cl_batch_ingest(b, source, argv, nargs, NULL,
				     isatty(2) && !json ? progress : NULL, NULL, &sum);
	cl_batch_close(b);
	if (rc && !sum.run_id)
		return cl_cli_error(&cli, "%s", cl_error_detail());
	print_summary(&sum, json);
	if (rc) {
		cl_cli_error(&cli, "%s", sum.error[0] ? sum.error : cl_error_detail());
		return CL_EXIT_FAIL;
	}
	return CL_EXIT_OK;
}

int cl_cmd_ingest(int argc, char **argv)
{
	return run(argc, argv, 0);
}

int cl_cmd_refine(int argc, char **argv)
{
	return run(argc, argv, 1);
}
