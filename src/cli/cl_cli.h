/*
 * Shared command-line plumbing: the command table, the options every
 * command takes (--data, --keys, --config, --set, --log-level, --help), and the
 * one way a command reports an error: "carelake <command>: <reason>" on
 * stderr and a non-zero exit.
 */
#ifndef CL_CLI_H
#define CL_CLI_H

#include "cl_opt.h"
#include "core/cl_config.h"

/* Exit codes. */
#define CL_EXIT_OK 0
#define CL_EXIT_FAIL 1   /* the command ran and found a problem */
#define CL_EXIT_USAGE 2  /* bad arguments or the command could not run */

/* What every command gets after the common options are parsed. */
struct cl_cli {
	const char *cmd;        /* command name, for messages */
	char data_dir[4096];    /* --data, $CARELAKE_DATA or ./carelake-data */
	int data_given;         /* --data was on the command line */
	char keys[4096];        /* --keys ("": $CARELAKE_KEYS, else <data>.keys) */
	struct cl_config *cfg;  /* defaults < --config file < --set (the process's one,
				 * freed by cl_cli_finish) */
};

/* A subcommand. */
struct cl_command {
	const char *name;
	const char *summary;        /* one line for `carelake --help` */
	const char *usage;          /* --help text above its options */
	const struct cl_opt *opts;  /* its own options (cl_opt.h) */
	int (*run)(int argc, char **argv);
};

/* The commands, NULL-name terminated. */
extern const struct cl_command cl_commands[];

/* The options every command takes: --data, --keys, --config, --set,
 * --log-level, --help (their base is the struct cl_cli). */
extern const struct cl_opt cl_cli_common_opts[];

/* Initialises cli with defaults (data dir from the environment). */
void cl_cli_init(struct cl_cli *cli, const char *cmd);

/*
 * Parses argv (argv[0] the command's name) against the command's options
 * (stored into args) and the common ones (into cli). Returns -1 when the
 * command goes on, its positional arguments then in argv[0..*nargs);
 * otherwise the exit status the command returns at once: CL_EXIT_OK after
 * printing --help, CL_EXIT_USAGE after printing what was wrong.
 */
int cl_cli_parse(struct cl_cli *cli, const struct cl_opt *opts, void *args,
		 const char *usage, int argc, char **argv, int *nargs);

/* The keys directory (auth/cl_keys.h): --keys, else $CARELAKE_KEYS, else
 * <data>.keys. 0, or the error printed and CL_EXIT_USAGE. */
int cl_cli_keys_dir(const struct cl_cli *cli, char *out, size_t cap);

/* Applies the log level from the config. */
void cl_cli_apply(struct cl_cli *cli);

/* Frees the process's configuration (main, after the command returns). */
void cl_cli_finish(void);

/* Prints "carelake <cmd>: <message>" to stderr; returns CL_EXIT_USAGE. */
int cl_cli_error(const struct cl_cli *cli, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

/* Prints a command's --help (usage text, then its options and the common
 * ones, from their tables) to stdout and returns CL_EXIT_OK. */
int cl_cli_help(const char *usage, const struct cl_opt *opts);

/*
 * Records in the audit trail (<data>/audit) that this command, run by the
 * OS user, is about to give out patient data: action ("query", "export",
 * "read"), resource_type (a table, "sql", "bronze"), and what was asked
 * (the SQL, the table and format, the source). Durable before it returns;
 * when it cannot be recorded the command gives nothing out: the error is
 * printed and CL_EXIT_USAGE returned.
 */
int cl_cli_audit(const struct cl_cli *cli, const char *action, const char *resource_type,
		 const char *what);

struct sqlite3;
/* Opens <data>/carelake.db read-only (cl_db_open). Returns 0, or prints
 * why it cannot and returns CL_EXIT_USAGE. */
int cl_cli_open_store(const struct cl_cli *cli, struct sqlite3 **db);

struct cl_frame;

/* Prints one bronze record as an NDJSON line (the `bronze dump` format). */
void cl_cli_print_record(const char *source, const struct cl_frame *f);

int cl_cmd_verify(int argc, char **argv);
int cl_cmd_audit(int argc, char **argv);
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
int cl_cmd_model(int argc, char **argv);
int cl_cmd_generate(int argc, char **argv);
int cl_cmd_token(int argc, char **argv);

extern const char cl_cmd_verify_usage[];
extern const char cl_cmd_audit_usage[];
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
extern const char cl_cmd_model_usage[];
extern const char cl_cmd_generate_usage[];
extern const char cl_cmd_token_usage[];

extern const struct cl_opt cl_cmd_verify_opts[];
extern const struct cl_opt cl_cmd_audit_opts[];
extern const struct cl_opt cl_cmd_bronze_opts[];
extern const struct cl_opt cl_cmd_config_opts[];
extern const struct cl_opt cl_cmd_demo_opts[];
extern const struct cl_opt cl_cmd_serve_opts[];
extern const struct cl_opt cl_cmd_simulate_opts[];
extern const struct cl_opt cl_cmd_ingest_opts[];
extern const struct cl_opt cl_cmd_refine_opts[];
extern const struct cl_opt cl_cmd_query_opts[];
extern const struct cl_opt cl_cmd_export_opts[];
extern const struct cl_opt cl_cmd_table_opts[];
extern const struct cl_opt cl_cmd_optimize_opts[];
extern const struct cl_opt cl_cmd_vacuum_opts[];
extern const struct cl_opt cl_cmd_status_opts[];
extern const struct cl_opt cl_cmd_model_opts[];
extern const struct cl_opt cl_cmd_generate_opts[];
extern const struct cl_opt cl_cmd_token_opts[];

#endif
