/*
 * `carelake export`: one silver or gold table as one file — Parquet (zstd),
 * CSV or NDJSON — for the ML team and anyone without a Delta reader.
 */
#include "cl_cli.h"
#include "core/cl_error.h"
#include "auth/cl_keys.h"
#include "core/cl_fs.h"
#include "core/cl_time.h"
#include "lake/cl_lake.h"
#include "privacy/cl_deid.h"

#include <getopt.h>
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
	"appears whole or not at all, readable by its owner only (mode 0600).\n\n"
	"options:\n"
	"  --table NAME      the table\n"
	"  --format F        parquet (default; zstd-compressed), csv (RFC 4180, with a\n"
	"                    header) or ndjson (one JSON object per row)\n"
	"  --out FILE        where to write it: a new file, or a regular file, which is\n"
	"                    replaced (never a link, FIFO, device or directory)\n"
	"  --deidentify      HIPAA Safe Harbor: identifiers and free text dropped, ids as\n"
	"                    keyed pseudonyms, dates moved per person (or their year),\n"
	"                    ages over 89 as 90, ZIP codes to 3 digits or 000\n"
	"                    (docs/deidentification.md; settings deid.*)\n"
	"  --keys DIR        the keys directory of the pseudonym and date-shift keys\n"
	"                    (default $CARELAKE_KEYS, else <data>.keys)\n"
	CL_CLI_COMMON_HELP;

int cl_cmd_export(int argc, char **argv)
{
	enum { OPT_TABLE = CL_OPT_FIRST_OWN, OPT_FORMAT, OPT_OUT, OPT_DEID, OPT_KEYS };
	static const struct option opts[] = {
		CL_CLI_COMMON_OPTIONS,
		{ "table", required_argument, NULL, OPT_TABLE },
		{ "format", required_argument, NULL, OPT_FORMAT },
		{ "out", required_argument, NULL, OPT_OUT },
		{ "deidentify", no_argument, NULL, OPT_DEID },
		{ "keys", required_argument, NULL, OPT_KEYS },
		{ NULL, 0, NULL, 0 },
	};
	const char *table = NULL, *format = "parquet", *out = NULL, *keys = NULL;
	char name[64], keys_dir[4096];
	struct cl_deid *deid = NULL;
	const struct cl_deid_column *r;
	int deidentify = 0;
	struct cl_cli cli;
	sqlite3 *db = NULL;
	int64_t rows = 0;
	int opt, rc;

	cl_cli_init(&cli, "export");
	optind = 1;
	while ((opt = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		if (opt == CL_OPT_HELP)
			return cl_cli_help(cl_cmd_export_usage);
		rc = cl_cli_common_option(&cli, opt, optarg);
		if (rc < 0)
			return CL_EXIT_USAGE;
		if (rc > 0)
			continue;
		if (opt == OPT_TABLE)
			table = optarg;
		else if (opt == OPT_FORMAT)
			format = optarg;
		else if (opt == OPT_OUT)
			out = optarg;
		else if (opt == OPT_DEID)
			deidentify = 1;
		else if (opt == OPT_KEYS)
			keys = optarg;
		else
			return cl_cli_error(&cli, "unknown option (see carelake export --help)");
	}
	cl_cli_apply(&cli);
	if (optind != argc)
		return cl_cli_error(&cli, "unexpected argument '%s' (see --help)", argv[optind]);
	if (!table || !out)
		return cl_cli_error(&cli, "give --table NAME and --out FILE (see --help)");
	if (strcmp(format, "parquet") && strcmp(format, "csv") && strcmp(format, "ndjson"))
		return cl_cli_error(&cli, "--format must be parquet, csv or ndjson");
	if (cl_lake_resolve(table, name, sizeof(name), NULL, 0) != CL_OK)
		return cl_cli_error(&cli, "%s", cl_error_detail());
	if (cl_fs_check_replaceable(out) != CL_OK)
		return cl_cli_error(&cli, "--out: %s", cl_error_detail());
	if (keys && !deidentify)
		return cl_cli_error(&cli, "--keys is for --deidentify (see --help)");
	if (deidentify && (r = cl_deid_rule_of(name, "")) && r->rule == CL_DEID_WITHHELD)
		return cl_cli_error(&cli, "%s is not exported de-identified: it holds %s", name,
				    r->why);
	if (deidentify &&
	    (cl_keys_dir(keys, cli.data_dir, keys_dir, sizeof(keys_dir)) != CL_OK ||
	     cl_deid_open(keys_dir, cl_deid_settings(cli.cfg), cl_time_now_us(), &deid) != CL_OK))
		return cl_cli_error(&cli, "%s", cl_error_detail());
	if ((rc = cl_cli_open_store(&cli, 10000, &db))) {
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
