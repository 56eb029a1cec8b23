/*
 * Shared command-line plumbing. See cl_cli.h.
 */
#include "cl_cli.h"
#include "audit/cl_audit.h"
#include "auth/cl_keys.h"
#include "core/cl_error.h"
#include "core/cl_log.h"
#include "lake/cl_lake_loc.h"
#include "store/cl_db.h"

#include <limits.h>
#include <pwd.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

const struct cl_command cl_commands[] = {
	{ "demo", "run the platform on a fresh data directory with simulated ICU patients",
	  cl_cmd_demo_usage, cl_cmd_demo_opts, cl_cmd_demo },
	{ "serve", "run the platform: ingest, stream processing, alerts, API",
	  cl_cmd_serve_usage, cl_cmd_serve_opts, cl_cmd_serve },
	{ "generate", "write a synthetic hospital in every batch format",
	  cl_cmd_generate_usage, cl_cmd_generate_opts, cl_cmd_generate },
	{ "ingest", "load FHIR and CSV files into bronze and the silver tables",
	  cl_cmd_ingest_usage, cl_cmd_ingest_opts, cl_cmd_ingest },
	{ "refine", "refine bronze into silver; --rebuild rebuilds it from bronze",
	  cl_cmd_refine_usage, cl_cmd_refine_opts, cl_cmd_refine },
	{ "query", "read-only SQL over the silver and serving tables",
	  cl_cmd_query_usage, cl_cmd_query_opts, cl_cmd_query },
	{ "export", "one silver or gold table as one Parquet, CSV or NDJSON file",
	  cl_cmd_export_usage, cl_cmd_export_opts, cl_cmd_export },
	{ "table", "the rows of any Delta table at a version or time; its commits",
	  cl_cmd_table_usage, cl_cmd_table_opts, cl_cmd_table },
	{ "optimize", "compact small Parquet files of the Delta tables",
	  cl_cmd_optimize_usage, cl_cmd_optimize_opts, cl_cmd_optimize },
	{ "vacuum", "delete files the Delta tables removed longer ago than the retention",
	  cl_cmd_vacuum_usage, cl_cmd_vacuum_opts, cl_cmd_vacuum },
	{ "status", "pipelines and their runs, lag, quarantine",
	  cl_cmd_status_usage, cl_cmd_status_opts, cl_cmd_status },
	{ "model", "30-day readmission models: train, list, show, promote",
	  cl_cmd_model_usage, cl_cmd_model_opts, cl_cmd_model },
	{ "simulate", "synthetic ICU device streams with injected episodes and a ground-truth file",
	  cl_cmd_simulate_usage, cl_cmd_simulate_opts, cl_cmd_simulate },
	{ "verify", "check bronze framing and checksums; report counts per source",
	  cl_cmd_verify_usage, cl_cmd_verify_opts, cl_cmd_verify },
	{ "bronze", "bronze log tools: dump stored records as NDJSON, append records",
	  cl_cmd_bronze_usage, cl_cmd_bronze_opts, cl_cmd_bronze },
	{ "token", "API tokens: issue, list, revoke; the roles and what each may do",
	  cl_cmd_token_usage, cl_cmd_token_opts, cl_cmd_token },
	{ "audit", "the audit trail: verify its chain and signatures, query it, report on a patient",
	  cl_cmd_audit_usage, cl_cmd_audit_opts, cl_cmd_audit },
	{ "config", "print the effective settings, or every setting with its meaning",
	  cl_cmd_config_usage, cl_cmd_config_opts, cl_cmd_config },
	{ NULL, NULL, NULL, NULL, NULL },
};

/* The configuration of the command this process runs. */
static struct cl_config process_cfg;

void cl_cli_init(struct cl_cli *cli, const char *cmd)
{
	const char *env = getenv("CARELAKE_DATA");

	memset(cli, 0, sizeof(*cli));
	cli->cmd = cmd;
	snprintf(cli->data_dir, sizeof(cli->data_dir), "%s",
		 env && *env ? env : "./carelake-data");
	cl_config_free(&process_cfg);
	if (cl_config_init(&process_cfg) != CL_OK) {
		fprintf(stderr, "carelake %s: out of memory\n", cmd);
		exit(CL_EXIT_USAGE);
	}
	cli->cfg = &process_cfg;
	env = getenv("CARELAKE_LOG");
	if (env && cl_log_level_parse(env) >= 0)
		cl_config_set(cli->cfg, "log.level", env);
	cl_cli_apply(cli);
}

void cl_cli_apply(struct cl_cli *cli)
{
	char staging[sizeof(cli->data_dir) + 32];

	cl_log_configure(cli->cfg);
	/* files bound for object storage are written whole here first */
	snprintf(staging, sizeof(staging), "%s/lake-staging", cli->data_dir);
	cl_lake_loc_configure(cli->cfg, staging);
}

void cl_cli_finish(void)
{
	cl_config_free(&process_cfg);
}

int cl_cli_error(const struct cl_cli *cli, const char *fmt, ...)
{
	char msg[2048];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	/* one line, whatever a file name in it holds (as cl_log_write) */
	for (char *p = msg; *p; p++)
		if ((unsigned char)*p < 0x20 || *p == 0x7f)
			*p = '?';
	fprintf(stderr, "carelake %s: %s\n", cli->cmd, msg);
	return CL_EXIT_USAGE;
}

int cl_cli_help(const char *usage, const struct cl_opt *opts)
{
	fputs(usage, stdout);
	fputs("options:\n", stdout);
	cl_opt_print_help(stdout, opts);
	cl_opt_print_help(stdout, cl_cli_common_opts);
	return CL_EXIT_OK;
}

/* --data DIR */
static int opt_data(void *base, const char *arg)
{
	struct cl_cli *cli = base;

	if (!*arg || strlen(arg) >= sizeof(cli->data_dir))
		return cl_error_set(CL_EINVAL, "--data needs a directory path");
	snprintf(cli->data_dir, sizeof(cli->data_dir), "%s", arg);
	cli->data_given = 1;
	return CL_OK;
}

/* --keys DIR */
static int opt_keys(void *base, const char *arg)
{
	struct cl_cli *cli = base;

	if (!*arg || strlen(arg) >= sizeof(cli->keys))
		return cl_error_set(CL_EINVAL, "--keys needs a directory path");
	snprintf(cli->keys, sizeof(cli->keys), "%s", arg);
	return CL_OK;
}

int cl_cli_keys_dir(const struct cl_cli *cli, char *out, size_t cap)
{
	if (cl_keys_dir(cli->keys, cli->data_dir, out, cap) != CL_OK)
		return cl_cli_error(cli, "%s", cl_error_detail());
	return 0;
}

/* Sets the detail to prefix + the detail a failed call left, returns rc. */
static int prefixed(int rc, const char *prefix)
{
	char detail[1024];

	snprintf(detail, sizeof(detail), "%s", cl_error_detail());
	return cl_error_set(rc, "%s%s", prefix, detail);
}

/* --config FILE */
static int opt_config(void *base, const char *arg)
{
	struct cl_cli *cli = base;
	int rc = cl_config_load_file(cli->cfg, arg);

	if (rc == CL_OK)
		cl_cli_apply(cli);
	return rc;
}

/* --set KEY=VALUE */
static int opt_set(void *base, const char *arg)
{
	struct cl_cli *cli = base;
	int rc = cl_config_set_pair(cli->cfg, arg);

	if (rc != CL_OK)
		return prefixed(rc, "--set ");
	cl_cli_apply(cli);
	return CL_OK;
}

/* --log-level L */
static int opt_log_level(void *base, const char *arg)
{
	struct cl_cli *cli = base;
	int rc = cl_config_set(cli->cfg, "log.level", arg);

	if (rc != CL_OK)
		return prefixed(rc, "--log-level: ");
	cl_cli_apply(cli);
	return CL_OK;
}

const struct cl_opt cl_cli_common_opts[] = {
	CL_OPT_CALL("data", opt_data, "DIR",
		    "data directory (default $CARELAKE_DATA, else ./carelake-data)"),
	CL_OPT_CALL("keys", opt_keys, "DIR",
		    "keys directory: pseudonym, date-shift and audit signing keys\n"
		    "(default $CARELAKE_KEYS, else <data>.keys)"),
	CL_OPT_CALL("config", opt_config, "FILE", "YAML settings file (see `carelake config --help`)"),
	CL_OPT_CALL("set", opt_set, "KEY=VALUE", "override one setting; may be repeated"),
	CL_OPT_CALL("log-level", opt_log_level, "L", "error, warn, info or debug (logs go to stderr)"),
	{ "help", 0, CL_OPTK_HELP, 0, 0, 0, NULL, NULL, "this text" },
	CL_OPT_END,
};

int cl_cli_parse(struct cl_cli *cli, const struct cl_opt *opts, void *args,
		 const char *usage, int argc, char **argv, int *nargs)
{
	const struct cl_opt_set sets[] = { { opts, args }, { cl_cli_common_opts, cli } };
	int rc = cl_opt_parse(sets, 2, argc, argv, nargs);

	if (rc == CL_OPT_HELP_ASKED)
		return cl_cli_help(usage, opts);
	if (rc != CL_OPT_PARSED) {
		if (strncmp(cl_error_detail(), "unknown option", 14) == 0)
			return cl_cli_error(cli, "%s (see carelake %s --help)", cl_error_detail(),
					    cli->cmd);
		return cl_cli_error(cli, "%s", cl_error_detail());
	}
	cl_cli_apply(cli);
	return -1;
}

int cl_cli_open_store(const struct cl_cli *cli, struct sqlite3 **db)
{
	if (cl_db_open(cli->data_dir, CL_DB_READONLY, db) != CL_OK)
		return cl_cli_error(cli, "%s (load something first: carelake ingest)",
				    cl_error_detail());
	return 0;
}

int cl_cli_audit(const struct cl_cli *cli, const char *action, const char *resource_type,
		 const char *what)
{
	struct cl_audit_record r = { 0 };
	struct cl_audit_options o;
	struct cl_audit *a = NULL;
	char dir[PATH_MAX], keys[PATH_MAX], principal[300];
	const struct passwd *pw = getpwuid(geteuid());
	const char *user = pw ? pw->pw_name : "unknown";
	int rc;

	if (cl_audit_dir(cli->data_dir, dir, sizeof(dir)) != CL_OK)
		return cl_cli_error(cli, "%s", cl_error_detail());
	if (cl_cli_keys_dir(cli, keys, sizeof(keys)) != 0)
		return CL_EXIT_USAGE;
	cl_audit_options_from(&o, cl_audit_settings(cli->cfg), keys);
	snprintf(principal, sizeof(principal), "os:%s", user);
	r.principal = principal;
	r.role = "cli";
	r.os_user = user;
	r.action = action;
	r.resource_type = resource_type;
	r.query = what;
	rc = cl_audit_open(dir, "cli", &o, &a);
	if (rc == CL_OK)
		rc = cl_audit_append_sync(a, &r);
	cl_audit_close(a);
	if (rc != CL_OK)
		return cl_cli_error(cli, "the audit trail cannot record this %s, so nothing is "
				    "given out: %s", action, cl_error_detail());
	return 0;
}
