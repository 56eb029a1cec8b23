/*
 * `carelake optimize` and `carelake vacuum`: compaction and clean-up of the
 * Delta tables under the data directory (or of any Delta table by path).
 */
#include "cl_cli.h"
#include "core/cl_error.h"
#include "lake/cl_delta.h"
#include "lake/cl_lake.h"

#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

const char cl_cmd_optimize_usage[] =
	"usage: carelake optimize [--data DIR] [--table NAME | PATH]\n\n"
	"Compacts the Delta tables under <data>/silver and <data>/gold (one with\n"
	"--table, or the Delta table at PATH): in every partition, the files smaller\n"
	"than lake.target_file_size (128 MiB) are rewritten as one, in one commit\n"
	"that changes no data (operation OPTIMIZE). Readers at older versions still\n"
	"find the old files until `carelake vacuum` deletes them.\n\n";

const char cl_cmd_vacuum_usage[] =
	"usage: carelake vacuum [--data DIR] [--table NAME | PATH] [--retention DURATION]\n"
	"                       [--dry-run]\n\n"
	"Deletes the data files of the Delta tables under <data>/silver and\n"
	"<data>/gold (one with --table, or the Delta table at PATH) that their\n"
	"latest version no longer holds and that left it longer ago than the\n"
	"retention (lake.retention, 7 days), and files no commit ever held (a\n"
	"crashed write) written longer ago than that. Time travel to versions\n"
	"within the retention keeps working; older versions lose their files.\n"
	"The _delta_log is never touched.\n\n";

/* What optimize's and vacuum's options set. */
struct lake_args {
	const char *table;
	int64_t retention;
	int dry;
};

const struct cl_opt cl_cmd_optimize_opts[] = {
	CL_OPT_STRING("table", struct lake_args, table, "NAME",
		      "one table (observation, gold.admissions_daily, ...)"),
	CL_OPT_END,
};

const struct cl_opt cl_cmd_vacuum_opts[] = {
	CL_OPT_STRING("table", struct lake_args, table, "NAME", "one table"),
	CL_OPT_DURATION("retention", struct lake_args, retention, 0, 3650ULL * 86400 * 1000000,
			"D", "keep removed files this long (e.g. 168h, 30m, 0s)"),
	CL_OPT_FLAG("dry-run", struct lake_args, dry, "list what would be deleted, delete nothing"),
	CL_OPT_END,
};

/* Runs optimize (vacuum = 0) or vacuum on the chosen tables. */
static int run(int argc, char **argv, int vacuum)
{
	struct lake_args a = { .retention = -1 };
	struct cl_cli cli;
	struct cl_lake_maint sum = { 0 };
	const char *table;
	int64_t retention;
	int nargs, rc, dry, failed = 0;

	cl_cli_init(&cli, vacuum ? "vacuum" : "optimize");
	rc = cl_cli_parse(&cli, vacuum ? cl_cmd_vacuum_opts : cl_cmd_optimize_opts, &a,
			  vacuum ? cl_cmd_vacuum_usage : cl_cmd_optimize_usage, argc, argv, &nargs);
	if (rc >= 0)
		return rc;
	table = a.table, retention = a.retention, dry = a.dry;
	if (nargs > 1 || (nargs && table))
		return cl_cli_error(&cli, "give --table NAME or one PATH (see --help)");
	if (retention < 0)
		retention = cl_lake_settings(cli.cfg)->retention_us;

	/* the tables: PATH, --table, or every lake table with a log */
	static char dirs[64][PATH_MAX + 200];
	int n = 0;
	if (nargs) {
		snprintf(dirs[n++], sizeof(dirs[0]), "%s", argv[0]);
	} else {
		char name[64], rel[128], one[64] = "", onedir[128] = "";
		if (table && cl_lake_resolve(table, one, sizeof(one), onedir, sizeof(onedir)) != CL_OK)
			return cl_cli_error(&cli, "%s", cl_error_detail());
		char root[PATH_MAX];
		cl_lake_root(cli.cfg, cli.data_dir, root, sizeof(root));
		for (int i = 0; n < 64 && cl_lake_table(i, name, sizeof(name), rel, sizeof(rel), NULL);
		     i++) {
			if (table && strcmp(rel, onedir) != 0)
				continue;
			snprintf(dirs[n], sizeof(dirs[0]), "%s/%s", root, rel);
			if (cl_delta_is_table(dirs[n]))
				n++;
		}
		if (n == 0)
			return cl_cli_error(&cli, "no Delta tables under %s (load something first: "
					    "carelake ingest)", root);
	}
	for (int i = 0; i < n; i++) {
		rc = vacuum ? cl_lake_vacuum_table(dirs[i], retention, dry, &sum, dry ? stdout : NULL)
			    : cl_lake_optimize_table(dirs[i], cl_lake_settings(cli.cfg)->target_file_bytes, &sum);
		if (rc) {
			fprintf(stderr, "carelake %s: %s: %s\n", cli.cmd, dirs[i], cl_error_detail());
			failed = 1;
		}
	}
	if (vacuum)
		printf("%s %lld file%s (%lld bytes) in %d table%s\n", dry ? "would delete" : "deleted",
		       (long long)sum.files_removed, sum.files_removed == 1 ? "" : "s",
		       (long long)sum.bytes_removed, sum.tables, sum.tables == 1 ? "" : "s");
	else
		printf("compacted %lld file%s into %lld (%lld rows) in %d table%s\n",
		       (long long)sum.files_removed, sum.files_removed == 1 ? "" : "s",
		       (long long)sum.files_added, (long long)sum.rows, sum.tables,
		       sum.tables == 1 ? "" : "s");
	return failed ? CL_EXIT_FAIL : CL_EXIT_OK;
}

int cl_cmd_optimize(int argc, char **argv)
{
	return run(argc, argv, 0);
}

int cl_cmd_vacuum(int argc, char **argv)
{
	return run(argc, argv, 1);
}
