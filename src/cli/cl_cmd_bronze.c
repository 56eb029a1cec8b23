/*
 * `carelake bronze dump` prints stored records as NDJSON, one per line, in
 * offset order (the Kafka console consumer of carelake); `carelake bronze
 * append` stores lines of a file or stdin as records of a source, durably;
 * `carelake bronze archive|restore` copy bronze's immutable files to and
 * from bronze.archive_uri (bronze/cl_archive.h).
 */
#include "cl_cli.h"
#include "bronze/cl_archive.h"
#include "bronze/cl_bronze.h"
#include "bronze/cl_reader.h"
#include "core/cl_error.h"
#include "core/cl_fs.h"
#include "core/cl_mem.h"
#include "core/cl_time.h"

#include <errno.h>
#include <jansson.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

const char cl_cmd_bronze_usage[] =
	"usage: carelake bronze dump [--data DIR] [--source NAME] [--from OFFSET] [--limit N]\n"
	"       carelake bronze append [--data DIR] --source NAME [FILE|-]\n"
	"       carelake bronze archive [--data DIR] [--set bronze.archive_uri=URI]\n"
	"       carelake bronze restore [--data DIR] [--source NAME] [--set bronze.archive_uri=URI]\n\n"
	"dump prints stored records as NDJSON, one object per line, in offset order:\n"
	"  {\"source\":..., \"offset\":N, \"ingest_ts\":\"RFC 3339\", \"record\":<the record>}\n"
	"A record that is not JSON is printed as \"record_base64\". Without --source,\n"
	"every source is dumped in name order. A corrupt region is reported on stderr\n"
	"and skipped; the exit status is then 1.\n\n"
	"append stores each non-empty line of FILE (or stdin) as one record of the\n"
	"source, and returns once all are durable, printing the offsets given.\n\n"
	"archive copies every sealed segment and every kept file not yet archived\n"
	"to bronze.archive_uri (abfss://, az:// or s3://; serve does it every\n"
	"bronze.archive_interval), checks each against the store's size and MD5,\n"
	"and records it in bronze/<source>/_archive.ndjson.\n\n"
	"restore downloads every archived file the data directory lacks (each\n"
	"checked before it is put in place), e.g. onto a new disk; then\n"
	"`carelake refine --rebuild` rebuilds silver from it.\n\n";

void cl_cli_print_record(const char *source, const struct cl_frame *f)
{
	char ts[40];
	json_error_t err;
	json_t *rec, *line;
	char *out;

	cl_time_format_rfc3339(f->ts_us, ts, sizeof(ts), 6);
	line = json_pack("{s:s,s:I,s:s}", "source", source, "offset",
			 (json_int_t)f->offset, "ingest_ts", ts);
	rec = json_loadb((const char *)f->data, f->len,
			 JSON_DECODE_ANY | JSON_ALLOW_NUL, &err);
	if (rec) {
		json_object_set_new(line, "record", rec);
	} else {
		static const char b64[] =
			"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
		size_t n = 4 * ((f->len + 2) / 3);
		char *enc = cl_malloc(n + 1), *e = enc;

		if (enc) {
			for (uint32_t i = 0; i < f->len; i += 3) {
				uint32_t v = (uint32_t)f->data[i] << 16;
				uint32_t left = f->len - i;

				if (left > 1)
					v |= (uint32_t)f->data[i + 1] << 8;
				if (left > 2)
					v |= f->data[i + 2];
				*e++ = b64[v >> 18 & 63];
				*e++ = b64[v >> 12 & 63];
				*e++ = left > 1 ? b64[v >> 6 & 63] : '=';
				*e++ = left > 2 ? b64[v & 63] : '=';
			}
			*e = '\0';
			json_object_set_new(line, "record_base64", json_string(enc));
			cl_free(enc);
		}
	}
	out = json_dumps(line, JSON_COMPACT | JSON_PRESERVE_ORDER);
	if (out) {
		fputs(out, stdout);
		fputc('\n', stdout);
		free(out);
	}
	json_decref(line);
}

static int dump_source(struct cl_cli *cli, const char *source, uint64_t from,
		       uint64_t limit, int *corrupt)
{
	struct cl_blog_reader *r;
	struct cl_frame f;
	char dir[PATH_MAX];
	uint64_t n = 0;
	int rc;

	rc = cl_bronze_source_dir(dir, sizeof(dir), cli->data_dir, source);
	if (rc)
		return rc;
	rc = cl_blog_reader_open(dir, from, UINT64_MAX, cl_bronze_settings(cli->cfg)->record_max_bytes, &r);
	if (rc)
		return rc;
	while (n < limit) {
		rc = cl_blog_reader_next(r, &f);
		if (rc == 0)
			break;
		if (rc == CL_ECORRUPT) {
			fprintf(stderr, "carelake bronze: %s: %s\n", source, cl_error_detail());
			*corrupt = 1;
			continue;
		}
		if (rc < 0)
			break;
		cl_cli_print_record(source, &f);
		n++;
	}
	cl_blog_reader_close(r);
	return rc < 0 ? rc : CL_OK;
}

static int do_dump(struct cl_cli *cli, const char *source, uint64_t from,
		   uint64_t limit)
{
	char (*names)[65] = NULL, what[200];
	size_t n = 0;
	int corrupt = 0, rc;

	if (!cl_fs_is_dir(cli->data_dir))
		return cl_cli_error(cli, "data directory '%s' does not exist", cli->data_dir);
	snprintf(what, sizeof(what), "dump --source %s --from %llu --limit %llu",
		 source ? source : "(every source)", (unsigned long long)from,
		 (unsigned long long)limit);
	if (source) {
		char dir[PATH_MAX];

		rc = cl_bronze_source_dir(dir, sizeof(dir), cli->data_dir, source);
		if (rc)
			return cl_cli_error(cli, "%s", cl_error_detail());
		if (!cl_fs_is_dir(dir))
			return cl_cli_error(cli, "source '%s' has no bronze log in '%s'",
					    source, cli->data_dir);
		if ((rc = cl_cli_audit(cli, "read", "bronze", what)))
			return rc;
		rc = dump_source(cli, source, from, limit, &corrupt);
	} else {
		rc = cl_bronze_sources(cli->data_dir, &names, &n);
		if (rc == CL_OK && (rc = cl_cli_audit(cli, "read", "bronze", what))) {
			cl_free(names);
			return rc;
		}
		for (size_t i = 0; rc == CL_OK && i < n; i++)
			rc = dump_source(cli, names[i], from, limit, &corrupt);
		cl_free(names);
	}
	fflush(stdout);
	if (rc)
		return cl_cli_error(cli, "%s", cl_error_detail());
	return corrupt ? CL_EXIT_FAIL : CL_EXIT_OK;
}

static int do_append(struct cl_cli *cli, const char *source, const char *file)
{
	struct cl_bronze *b;
	struct cl_blog *log;
	struct cl_blog_ticket first, last;
	FILE *in = stdin;
	char *line = NULL;
	size_t cap = 0, count = 0;
	ssize_t len;
	uint64_t first_off = 0, last_off = 0;
	int have = 0, rc;

	if (!source)
		return cl_cli_error(cli, "append needs --source NAME");
	if (file && strcmp(file, "-") != 0) {
		in = fopen(file, "r");
		if (!in)
			return cl_cli_error(cli, "cannot open '%s': %s", file, strerror(errno));
	}
	rc = cl_bronze_open(cli->data_dir, cl_bronze_settings(cli->cfg), &b);
	if (rc == CL_OK)
		rc = cl_bronze_log(b, source, &log);
	while (rc == CL_OK && (len = getline(&line, &cap, in)) >= 0) {
		struct cl_blog_ticket t;

		while (len > 0 && (line[len - 1] == '\n' || line[len - 1] == '\r'))
			line[--len] = '\0';
		if (len == 0)
			continue;
		rc = cl_blog_submit(log, line, (size_t)len, 0, &t);
		if (rc)
			break;
		if (!have)
			first = t;
		last = t;
		have = 1;
		count++;
	}
	free(line);
	if (in != stdin)
		fclose(in);
	if (rc == CL_OK && have) {
		rc = cl_blog_wait(log, &first, &first_off);
		if (rc == CL_OK)
			rc = cl_blog_wait(log, &last, &last_off);
	}
	if (rc) {
		char msg[600];

		snprintf(msg, sizeof(msg), "%s", cl_error_detail());
		cl_bronze_close(b);
		return cl_cli_error(cli, "%s", msg);
	}
	cl_bronze_close(b);
	if (have)
		printf("appended %zu records to %s, offsets %llu..%llu\n", count, source,
		       (unsigned long long)first_off, (unsigned long long)last_off);
	else
		printf("appended 0 records to %s\n", source);
	return CL_EXIT_OK;
}

/* What bronze's options set. */
struct bronze_args {
	const char *source;
	uint64_t from, limit;
};

const struct cl_opt cl_cmd_bronze_opts[] = {
	CL_OPT_STRING("source", struct bronze_args, source, "NAME",
		      "the source (a-z, 0-9, _ and -); restore: only this one"),
	CL_OPT_UINT("from", struct bronze_args, from, 0, UINT64_MAX - 1, "OFFSET",
		    "dump: start at this offset (default 0)"),
	CL_OPT_UINT("limit", struct bronze_args, limit, 0, UINT64_MAX - 1, "N",
		    "dump: print at most N records per source"),
	CL_OPT_END,
};

int cl_cmd_bronze(int argc, char **argv)
{
	struct bronze_args a = { .limit = UINT64_MAX };
	const char *sub;
	struct cl_cli cli;
	int nargs, rc;

	cl_cli_init(&cli, "bronze");
	if (argc < 2 || strcmp(argv[1], "--help") == 0)
		return argc < 2 ? (cl_cli_error(&cli, "needs a subcommand: dump, append, archive "
						 "or restore"),
				   CL_EXIT_USAGE)
				: cl_cli_help(cl_cmd_bronze_usage, cl_cmd_bronze_opts);
	sub = argv[1];
	if (strcmp(sub, "dump") != 0 && strcmp(sub, "append") != 0 &&
	    strcmp(sub, "archive") != 0 && strcmp(sub, "restore") != 0)
		return cl_cli_error(&cli, "unknown subcommand '%s' (dump, append, archive or "
				    "restore)", sub);
	rc = cl_cli_parse(&cli, cl_cmd_bronze_opts, &a, cl_cmd_bronze_usage, argc - 1, argv + 1,
			  &nargs);
	if (rc >= 0)
		return rc;
	argv++;
	if (strcmp(sub, "dump") == 0) {
		if (nargs)
			return cl_cli_error(&cli, "unexpected argument '%s'", argv[0]);
		return do_dump(&cli, a.source, a.from, a.limit);
	}
	if (strcmp(sub, "archive") == 0 || strcmp(sub, "restore") == 0) {
		struct cl_archive_summary sum;
		const char *uri = cl_bronze_settings(cli.cfg)->archive_uri;
		int archive = strcmp(sub, "archive") == 0;
		if (nargs)
			return cl_cli_error(&cli, "unexpected argument '%s'", argv[0]);
		if (archive && a.source)
			return cl_cli_error(&cli, "archive takes every source; --source is for restore");
		rc = archive ? cl_archive_run(cli.data_dir, uri, cli.cfg, &sum)
			     : cl_archive_restore(cli.data_dir, uri, cli.cfg, a.source, &sum);
		printf("%s %lld file%s (%lld bytes); %lld %s\n", archive ? "archived" : "restored",
		       (long long)sum.files, sum.files == 1 ? "" : "s", (long long)sum.bytes,
		       (long long)sum.already, archive ? "already archived" : "already here");
		if (rc)
			return cl_cli_error(&cli, "%s", cl_error_detail()), CL_EXIT_FAIL;
		return CL_EXIT_OK;
	}
	if (nargs > 1)
		return cl_cli_error(&cli, "append takes one FILE");
	return do_append(&cli, a.source, nargs ? argv[0] : NULL);
}
