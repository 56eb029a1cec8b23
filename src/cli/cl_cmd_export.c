/*
 * `carelake export`: one silver or gold table as one file — Parquet (zstd),
 * CSV or NDJSON — for the ML team and anyone without a Delta reader.
 */
#include "cl_cli.h"
#include "core/cl_error.h"
#include "core/cl_fs.h"
#include "core/cl_time.h"
#include "lake/cl_lake.h"
#include "privacy/cl_deid.h"

#include <limits.h>
#include <sqlite3.h>
#include <stdio.h>
#include <string.h>

const char cl_cmd_export_usage[] =
	"usage: carelake export [--data DIR] --table NAME [--format parquet|csv|ndjson]\n"
	"                       [--deidentify [--keys DIR]] --out FILE\n\n"
	"Writes one table of the serving store as one file: a silver table (patient,\n"
	"encounter, observation, ..., quarantine) or a gold table (gold.admissions_daily\n"
	"or admissions_daily). The rows are those of the Delta table at\n"
	"<data>/silver/<table> or <data>/gold/<table> after the last refine, with the\n"
	"same column types: timestamps as UTC instants, numbers as numbers. The file\n"
	"appears whole or not at all, readable by its owner only (mode 0600).\n\n";

/* What export's options set. */
struct export_args {
	const char *table, *format, *out;
	int deidentify;
};

const struct cl_opt cl_cmd_export_opts[] = {
	CL_OPT_STRING("table", struct export_args, table, "NAME", "the table"),
	CL_OPT_STRING("format", struct export_args, format, "F",
		      "parquet (default; zstd-compressed), csv (RFC 4180, with a\n"
		      "header) or ndjson (one JSON object per row)"),
	CL_OPT_STRING("out", struct export_args, out, "FILE",
		      "where to write it: a new file, or a regular file, which is\n"
		      "replaced (never a link, FIFO, device or directory)"),
	CL_OPT_FLAG("deidentify", struct export_args, deidentify,
		    "HIPAA Safe Harbor: identifiers and free text dropped, ids as\n"
		    "keyed pseudonyms, dates moved per person (or their year),\n"
		    "ages over 89 as 90, ZIP codes to 3 digits or 000\n"
		    "(docs/deidentification.md; settings deid.*)"),
	CL_OPT_END,
};

int cl_cmd_export(int argc, char **argv)
{
	struct export_args a = { .format = "parquet" };
	const char *table, *format, *out;
	char name[64], keys_dir[4096], what[4400];
	struct cl_deid *deid = NULL;
	const struct cl_deid_column *r;
	int deidentify, nargs;
	struct cl_cli cli;
	sqlite3 *db = NULL;
	int64_t rows = 0;
	int rc;

	cl_cli_init(&cli, "export");
	rc = cl_cli_parse(&cli, cl_cmd_export_opts, &a, cl_cmd_export_usage, argc, argv, &nargs);
	if (rc >= 0)
		return rc;
	if (nargs)
		return cl_cli_error(&cli, "unexpected argument '%s' (see --help)", argv[0]);
	table = a.table, format = a.format, out = a.out;
	deidentify = a.deidentify;
	if (!table || !out)
		return cl_cli_error(&cli, "give --table NAME and --out FILE (see --help)");
	if (strcmp(format, "parquet") && strcmp(format, "csv") && strcmp(format, "ndjson"))
		return cl_cli_error(&cli, "--format must be parquet, csv or ndjson");
	if (cl_lake_resolve(table, name, sizeof(name), NULL, 0) != CL_OK)
		return cl_cli_error(&cli, "%s", cl_error_detail());
	if (cl_fs_check_replaceable(out) != CL_OK)
		return cl_cli_error(&cli, "--out: %s", cl_error_detail());
	if (deidentify && (r = cl_deid_rule_of(name, "")) && r->rule == CL_DEID_WITHHELD)
		return cl_cli_error(&cli, "%s is not exported de-identified: it holds %s", name,
				    r->why);
	if (deidentify && cl_cli_keys_dir(&cli, keys_dir, sizeof(keys_dir)) != 0)
		return CL_EXIT_USAGE;
	if (deidentify &&
	    cl_deid_open(keys_dir, cl_deid_settings(cli.cfg), cl_time_now_us(), &deid) != CL_OK)
		return cl_cli_error(&cli, "%s", cl_error_detail());
	if ((rc = cl_cli_open_store(&cli, &db))) {
		cl_deid_close(deid);
		return rc;
	}
	snprintf(what, sizeof(what), "--table %s --format %s%s --out %s", name, format,
		 deid ? " --deidentify" : "", out);
	if ((rc = cl_cli_audit(&cli, "export", name, what))) {
		sqlite3_close(db);
		cl_deid_close(deid);
		return rc;
	}
	if (deid)
		rc = cl_deid_export(db, deid, table, format, out, &rows);
	else
		rc = cl_lake_export(db, table, format, out, &rows);
	sqlite3_close(db);
	cl_deid_close(deid);
	if (rc != CL_OK) {
		cl_cli_error(&cli, "%s", cl_error_detail());
		return CL_EXIT_FAIL;
	}
	fprintf(stderr, "carelake export: %lld row%s of %s to %s (%s%s)\n", (long long)rows,
		rows == 1 ? "" : "s", name, out, format, deidentify ? ", de-identified" : "");
	return CL_EXIT_OK;
}
