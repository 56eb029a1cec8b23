/*
 * `carelake verify`: reads every bronze segment and checks its framing,
 * checksums and offset continuity; prints counts, overall and per source.
 * Exits 1 if anything is corrupt.
 */
#include "cl_cli.h"
#include "bronze/cl_archive.h"
#include "bronze/cl_bronze.h"
#include "core/cl_error.h"
#include "lake/cl_lake.h"

#include <jansson.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

const char cl_cmd_verify_usage[] =
	"usage: carelake verify [--data DIR] [--source NAME] [--archive] [--json]\n\n"
	"Reads every segment of the bronze log and checks each frame's length,\n"
	"CRC-32C and offset, and every original file a batch load kept against\n"
	"its content hash, and every Delta table under silver/ and gold/: its log\n"
	"loads, and each active file exists, has the size the log says, opens as\n"
	"Parquet and holds the rows its statistics say. Prints bronze_records, bronze_segments, bronze_bytes,\n"
	"corrupt_records, files and corrupt_files, in total and per source. Bytes at the\n"
	"end of a source's newest segment that are not a whole valid frame are\n"
	"reported as torn_tail_bytes: a commit in progress, or a crash's torn\n"
	"write that the next open truncates; they were never acknowledged.\n"
	"With --archive, also checks every file recorded as archived against\n"
	"bronze.archive_uri: present, of its size and MD5, and the local copy\n"
	"where it still exists unchanged (archive_files, archive_problems).\n"
	"Safe to run beside `carelake serve`.\n\n"
	"exit status: 0 all valid, 1 corruption found, 2 could not run\n\n";

static json_t *counts_json(const struct cl_bronze_counts *c)
{
	return json_pack("{s:I,s:I,s:I,s:I,s:I,s:I,s:I,s:I,s:I}",
			 "bronze_records", (json_int_t)c->records,
			 "bronze_segments", (json_int_t)c->segments,
			 "bronze_bytes", (json_int_t)c->bytes,
			 "corrupt_records", (json_int_t)c->corrupt_records,
			 "torn_tail_bytes", (json_int_t)c->torn_tail_bytes,
			 "files", (json_int_t)c->files,
			 "corrupt_files", (json_int_t)c->corrupt_files,
			 "first_offset", (json_int_t)c->first_offset,
			 "next_offset", (json_int_t)c->next_offset);
}

static void print_json(const struct cl_bronze_report *rep, const struct cl_lake_check *lake,
		       const struct cl_archive_summary *arch, const char *arch_lines)
{
	json_t *root = counts_json(&rep->total);
	json_t *sources = json_object();
	json_t *problems = json_array();

	json_object_del(root, "first_offset");
	json_object_del(root, "next_offset");
	for (size_t i = 0; i < rep->nsources; i++)
		json_object_set_new(sources, rep->names[i], counts_json(&rep->sources[i]));
	for (size_t i = 0; i < rep->nproblems; i++)
		json_array_append_new(problems, json_string(rep->problems[i]));
	for (int i = 0; i < lake->nproblems && i < 32; i++)
		json_array_append_new(problems, json_string(lake->problems[i]));
	json_object_set_new(root, "lake_tables", json_integer(lake->tables));
	json_object_set_new(root, "lake_files", json_integer(lake->files));
	json_object_set_new(root, "lake_rows", json_integer(lake->rows));
	json_object_set_new(root, "lake_problems", json_integer(lake->nproblems));
	if (arch) {
		json_object_set_new(root, "archive_files", json_integer(arch->files));
		json_object_set_new(root, "archive_problems", json_integer(arch->problems));
		for (const char *l = arch_lines; l && *l;) {
			const char *nl = strchr(l, '\n');
			size_t n = nl ? (size_t)(nl - l) : strlen(l);
			json_array_append_new(problems, json_stringn(l, n));
			l += n + (nl ? 1 : 0);
		}
	}
	json_object_set_new(root, "ok", json_boolean(rep->total.corrupt_records == 0 &&
						     rep->total.corrupt_files == 0 &&
						     lake->nproblems == 0 &&
						     (!arch || arch->problems == 0)));
	json_object_set_new(root, "sources", sources);
	json_object_set_new(root, "problems", problems);
	json_dumpf(root, stdout, JSON_INDENT(2) | JSON_PRESERVE_ORDER);
	fputc('\n', stdout);
	json_decref(root);
}

static void print_text(const struct cl_bronze_report *rep, const struct cl_lake_check *lake)
{
	printf("%-24s %12s %9s %14s %9s %10s %7s %13s\n", "source", "records", "segments",
	       "bytes", "corrupt", "torn_tail", "files", "corrupt_files");
	for (size_t i = 0; i < rep->nsources; i++) {
		const struct cl_bronze_counts *c = &rep->sources[i];

		printf("%-24s %12llu %9llu %14llu %9llu %10llu %7llu %13llu\n", rep->names[i],
		       (unsigned long long)c->records, (unsigned long long)c->segments,
		       (unsigned long long)c->bytes,
		       (unsigned long long)c->corrupt_records,
		       (unsigned long long)c->torn_tail_bytes, (unsigned long long)c->files,
		       (unsigned long long)c->corrupt_files);
	}
	printf("%-24s %12llu %9llu %14llu %9llu %10llu %7llu %13llu\n", "total",
	       (unsigned long long)rep->total.records,
	       (unsigned long long)rep->total.segments,
	       (unsigned long long)rep->total.bytes,
	       (unsigned long long)rep->total.corrupt_records,
	       (unsigned long long)rep->total.torn_tail_bytes,
	       (unsigned long long)rep->total.files,
	       (unsigned long long)rep->total.corrupt_files);
	printf("lake: %d Delta tables, %lld active files, %lld rows\n", lake->tables,
	       (long long)lake->files, (long long)lake->rows);
	for (size_t i = 0; i < rep->nproblems; i++)
		printf("problem: %s\n", rep->problems[i]);
	for (int i = 0; i < lake->nproblems && i < 32; i++)
		printf("problem: %s\n", lake->problems[i]);
	if (lake->nproblems > 32)
		printf("(and %d more problems in the Delta tables)\n", lake->nproblems - 32);
	printf("%s\n", rep->total.corrupt_records || rep->total.corrupt_files || lake->nproblems
			       ? "CORRUPT" : "OK");
}

/* What verify's options set. */
struct verify_args {
	const char *source;
	int json;
	int archive;
};

const struct cl_opt cl_cmd_verify_opts[] = {
	CL_OPT_STRING("source", struct verify_args, source, "NAME", "check one source only"),
	CL_OPT_FLAG("json", struct verify_args, json, "print the report as one JSON object"),
	CL_OPT_FLAG("archive", struct verify_args, archive,
		    "also check the bronze archive (bronze.archive_uri)"),
	CL_OPT_END,
};

int cl_cmd_verify(int argc, char **argv)
{
	struct verify_args a = { 0 };
	struct cl_bronze_report rep;
	const char *source;
	struct cl_cli cli;
	int json, nargs, rc;

	cl_cli_init(&cli, "verify");
	rc = cl_cli_parse(&cli, cl_cmd_verify_opts, &a, cl_cmd_verify_usage, argc, argv, &nargs);
	if (rc >= 0)
		return rc;
	source = a.source, json = a.json;
	if (nargs)
		return cl_cli_error(&cli, "unexpected argument '%s'", argv[0]);
	rc = cl_bronze_verify(cli.data_dir, source, cl_bronze_settings(cli.cfg)->record_max_bytes, &rep);
	if (rc) {
		cl_bronze_report_free(&rep);
		return cl_cli_error(&cli, "%s", cl_error_detail());
	}
	struct cl_lake_check lake;
	char root[PATH_MAX];

	cl_lake_root(cli.cfg, cli.data_dir, root, sizeof(root));
	cl_lake_verify(root, &lake);

	/* the archive's problems, one per line */
	struct cl_archive_summary arch = { 0 };
	char *lines = NULL;
	size_t nlines = 0;
	if (a.archive) {
		FILE *mem = open_memstream(&lines, &nlines);
		rc = mem ? cl_archive_verify(cli.data_dir, cl_bronze_settings(cli.cfg)->archive_uri,
					     cli.cfg, mem, &arch)
			 : CL_ENOMEM;
		if (mem)
			fclose(mem);
		if (rc) {
			free(lines);
			cl_bronze_report_free(&rep);
			return cl_cli_error(&cli, "the archive: %s", cl_error_detail());
		}
	}
	if (json) {
		print_json(&rep, &lake, a.archive ? &arch : NULL, lines);
	} else {
		print_text(&rep, &lake);
		if (a.archive)
			printf("archive: %lld files (%lld bytes) checked, %lld problem%s\n%s",
			       (long long)arch.files, (long long)arch.bytes, (long long)arch.problems,
			       arch.problems == 1 ? "" : "s", lines ? lines : "");
	}
	free(lines);
	rc = rep.total.corrupt_records || rep.total.corrupt_files || lake.nproblems ||
			     arch.problems ? CL_EXIT_FAIL : CL_EXIT_OK;
	cl_bronze_report_free(&rep);
	return rc;
}
