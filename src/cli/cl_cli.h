/*
 * Shared command-line plumbing: the command table, the options every
 * command takes (--data, --config, --set, --log-level, --help), and the
 * one way a command reports an error: "carelake <command>: <reason>" on
 * stderr and a non-zero exit.
 */
#ifndef CL_CLI_H
#define CL_CLI_H

#include "core/cl_config.h"

/* Exit codes. */
#define CL_EXIT_OK 0
#define CL_EXIT_FAIL 1   /* the command ran and found a problem */
#define CL_EXIT_USAGE 2  /* bad arguments or the command could not run */

/* What every command gets after the common options are parsed. */
struct cl_cli {
	const char *cmd;        /* command name, for messages */
	char data_dir[4096];    /* --data, $CARELAKE_DATA or ./carelake-data */
	struct cl_config *cfg;  /* defaults < --config file < --set (the process's one,
				 * freed by cl_cli_finish) */
};

/* A subcommand. */
struct cl_command {
	const char *name;
	const char *summary;  /* one line for `carelake --help` */
	const char *usage;    /* full --help text */
	int (*run)(int argc, char **argv);
};

/* The commands, NULL-name terminated. */
extern const struct cl_command cl_commands[];

/*
 * Handles a common option. Returns 1 if `opt` was one (consuming optarg),
 * 0 if not, or -1 after printing an error (exit with CL_EXIT_USAGE).
 */
int cl_cli_common_option(struct cl_cli *cli, int opt, const char *optarg_);

/* Initialises cli with defaults (data dir from the environment). */
void cl_cli_init(struct cl_cli *cli, const char *cmd);

/* Applies the log level from the config. */
void cl_cli_apply(struct cl_cli *cli);

/* Frees the process's configuration (main, after the command returns). */
void cl_cli_finish(void);

/* Prints "carelake <cmd>: <message>" to stderr; returns CL_EXIT_USAGE. */
int cl_cli_error(const struct cl_cli *cli, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

/* Prints usage text of a command to stdout and returns CL_EXIT_OK. */
int cl_cli_help(const char *usage);

struct sqlite3;
/* Opens <data>/carelake.db read-only, waiting up to busy_ms for a writer.
 * Returns 0, or prints why it cannot and returns CL_EXIT_USAGE. */
int cl_cli_open_store(const struct cl_cli *cli, int busy_ms, struct sqlite3 **db);

/* Long option ids shared by all commands (above any short option). */
enum {
	CL_OPT_DATA = 1000,
	CL_OPT_CONFIG,
	CL_OPT_SET,
	CL_OPT_LOG_LEVEL,
	CL_OPT_HELP,
	CL_OPT_FIRST_OWN = 1100, /* commands number their own from here */
};

/* Common entries for a getopt_long table. */
#define CL_CLI_COMMON_OPTIONS                                          \
	{ "data", required_argument, NULL, CL_OPT_DATA },             \
	{ "config", required_argument, NULL, CL_OPT_CONFIG },         \
	{ "set", required_argument, NULL, CL_OPT_SET },               \
	{ "log-level", required_argument, NULL, CL_OPT_LOG_LEVEL },   \
	{ "help", no_argument, NULL, CL_OPT_HELP }

#define CL_CLI_COMMON_HELP                                                   \
	"  --data DIR        data directory (default $CARELAKE_DATA, else ./carelake-data)\n" \
	"  --config FILE     YAML settings file (see `carelake config --help`)\n"   \
	"  --set KEY=VALUE   override one setting; may be repeated\n"              \
	"  --log-level L     error, warn, info or debug (logs go to stderr)\n"     \
	"  --help            this text\n"

struct cl_frame;

/* Prints one bronze record as an NDJSON line (the `bronze dump` format). */
void cl_cli_print_record(const char *source, const struct cl_frame *f);

int cl_cmd_verify(int argc, char **argv);
int cl_cmd_bronze(int argc, char **argv);
int cl_cmd_config(int argc, char **argv);
int cl_cmd_demo(int argc, char **argv);
int cl_cmd_serve(int argc, char **argv);
int cl_cmd_simulate(int argc, char **argv);
int cl_cmd_ingest(int argc, char **argv);
int cl_cmd_refine(int argc, char **argv);
int cl_cmd_query(int argc, char **argv);
int cl_cmd_export(int argc, char **argv);
int cl_cmd_table(int argc, char **argv);
int cl_cmd_optimize(int argc, char **argv);
int cl_cmd_vacuum(int argc, char **argv);
int cl_cmd_status(int argc, char **argv);
int cl_cmd_generate(int argc, char **argv);

extern const char cl_cmd_verify_usage[];
extern const char cl_cmd_bronze_usage[];
extern const char cl_cmd_config_usage[];
extern const char cl_cmd_demo_usage[];
extern const char cl_cmd_serve_usage[];
extern const char cl_cmd_simulate_usage[];
extern const char cl_cmd_ingest_usage[];
extern const char cl_cmd_refine_usage[];
extern const char cl_cmd_query_usage[];
extern const char cl_cmd_export_usage[];
extern const char cl_cmd_table_usage[];
extern const char cl_cmd_optimize_usage[];
extern const char cl_cmd_vacuum_usage[];
extern const char cl_cmd_status_usage[];
extern const char cl_cmd_generate_usage[];

#endif
