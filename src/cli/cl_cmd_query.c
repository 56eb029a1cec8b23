/*
 * `carelake query`: read-only SQL over the tables of carelake.db.
 */
#include "cl_cli.h"
#include "core/cl_csv_write.h"
#include "core/cl_error.h"
#include "store/cl_sql_json.h"

#include <ctype.h>
#include <getopt.h>
#include <jansson.h>
#include <limits.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

const char cl_cmd_query_usage[] =
	"usage: carelake query [--data DIR] [--format table|csv|json] 'SQL'\n\n"
	"Runs one read-only SQL statement (SQLite's dialect) over the silver tables\n"
	"(patient, practitioner, organization, encounter, observation, condition,\n"
	"medication_request, procedure, quarantine, ...), the serving tables\n"
	"(vital_event, vital_rollup, news2, alert) and the records of loads\n"
	"(bronze_file, pipeline_run). Anything that would write, attach a database\n"
	"or change a setting is refused.\n\n"
	"options:\n"
	"  --format F        table (default), csv or json (an array of objects)\n"
	CL_CLI_COMMON_HELP;

/* Reading only: tables, functions, and nothing else. */
static int authorize(void *arg, int action, const char *a, const char *b, const char *c,
		     const char *d)
{
	int *denied = arg;

	(void)a;
	(void)b;
	(void)c;
	(void)d;
	switch (action) {
	case SQLITE_SELECT:
	case SQLITE_READ:
	case SQLITE_FUNCTION:
	case SQLITE_RECURSIVE:
		return SQLITE_OK;
	default:
		*denied = 1;
		return SQLITE_DENY;
	}
}

static int print_rows(sqlite3_stmt *st, const char *format)
{
	int ncol = sqlite3_column_count(st), rc;
	char ***rows = NULL;
	size_t nrows = 0, cap = 0;
	size_t *width = calloc((size_t)ncol + 1, sizeof(*width));
	json_t *arr = strcmp(format, "json") == 0 ? json_array() : NULL;

	if (!width)
		return SQLITE_NOMEM;
	if (strcmp(format, "csv") == 0) {
		for (int i = 0; i < ncol; i++) {
			if (i)
				putchar(',');
			cl_csv_write_field(stdout, sqlite3_column_name(st, i),
					   strlen(sqlite3_column_name(st, i)));
		}
		putchar('\n');
	}
	for (int i = 0; i < ncol; i++)
		width[i] = strlen(sqlite3_column_name(st, i));
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		if (arr) {
			json_t *o = cl_sql_row_json(st);

			json_array_append_new(arr, o);
			continue;
		}
		if (strcmp(format, "csv") == 0) {
			for (int i = 0; i < ncol; i++) {
				if (i)
					putchar(',');
				cl_csv_write_field(stdout, (const char *)sqlite3_column_text(st, i),
						   (size_t)sqlite3_column_bytes(st, i));
			}
			putchar('\n');
			continue;
		}
		if (nrows == cap) {
			char ***nr = realloc(rows, (cap ? cap * 2 : 64) * sizeof(*rows));

			if (!nr) {
				rc = SQLITE_NOMEM;
				break;
			}
			rows = nr;
			cap = cap ? cap * 2 : 64;
		}
		rows[nrows] = calloc((size_t)ncol, sizeof(char *));
		for (int i = 0; rows[nrows] && i < ncol; i++) {
			const char *t = (const char *)sqlite3_column_text(st, i);

			rows[nrows][i] = strdup(t ? t : "NULL");
			if (rows[nrows][i] && strlen(rows[nrows][i]) > width[i])
				width[i] = strlen(rows[nrows][i]);
		}
		nrows++;
	}
	if (arr) {
		json_dumpf(arr, stdout, JSON_INDENT(2) | JSON_PRESERVE_ORDER);
		putchar('\n');
		json_decref(arr);
	} else if (strcmp(format, "table") == 0) {
		for (int i = 0; i < ncol; i++)
			printf("%s%-*s", i ? "  " : "", (int)width[i], sqlite3_column_name(st, i));
		putchar('\n');
		for (int i = 0; i < ncol; i++) {
			printf("%s", i ? "  " : "");
			for (size_t k = 0; k < width[i]; k++)
				putchar('-');
		}
		putchar('\n');
		for (size_t r = 0; r < nrows; r++) {
			for (int i = 0; i < ncol; i++)
				printf("%s%-*s", i ? "  " : "", (int)width[i],
				       rows[r] && rows[r][i] ? rows[r][i] : "");
			putchar('\n');
		}
		printf("(%zu row%s)\n", nrows, nrows == 1 ? "" : "s");
	}
	for (size_t r = 0; r < nrows; r++) {
		for (int i = 0; rows[r] && i < ncol; i++)
			free(rows[r][i]);
		free(rows[r]);
	}
	free(rows);
	free(width);
	return rc;
}

int cl_cmd_query(int argc, char **argv)
{
	static const struct option opts[] = {
		CL_CLI_COMMON_OPTIONS,
		{ "format", required_argument, NULL, 'f' },
		{ NULL, 0, NULL, 0 },
	};
	const char *format = "table", *tail;
	struct cl_cli cli;
	sqlite3 *db = NULL;
	sqlite3_stmt *st = NULL;
	int opt, rc, denied = 0;

	cl_cli_init(&cli, "query");
	optind = 1;
	while ((opt = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		if (opt == CL_OPT_HELP)
			return cl_cli_help(cl_cmd_query_usage);
		rc = cl_cli_common_option(&cli, opt, optarg);
		if (rc < 0)
			return CL_EXIT_USAGE;
		if (rc > 0)
			continue;
		if (opt == 'f')
			format = optarg;
		else
			return cl_cli_error(&cli, "unknown option (see carelake query --help)");
	}
	if (strcmp(format, "table") && strcmp(format, "csv") && strcmp(format, "json"))
		return cl_cli_error(&cli, "--format must be table, csv or json");
	if (optind != argc - 1)
		return cl_cli_error(&cli, "give one SQL statement, quoted (see --help)");
	if ((rc = cl_cli_open_store(&cli, 5000, &db)))
		return rc;
	sqlite3_set_authorizer(db, authorize, &denied);
	rc = sqlite3_prepare_v2(db, argv[optind], -1, &st, &tail);
	if (rc != SQLITE_OK || !st) {
		const char *msg = rc == SQLITE_AUTH || denied ? "only reading is allowed: the statement would "
						      "write, attach or change a setting"
						    : sqlite3_errmsg(db);

		rc = cl_cli_error(&cli, "%s", st || rc != SQLITE_OK ? msg : "no statement given");
		sqlite3_finalize(st);
		sqlite3_close(db);
		return rc;
	}
	while (tail && (isspace((unsigned char)*tail) || *tail == ';'))
		tail++;
	if (tail && *tail) {
		sqlite3_finalize(st);
		sqlite3_close(db);
		return cl_cli_error(&cli, "one statement at a time (more follows: '%.40s')", tail);
	}
	if (!sqlite3_stmt_readonly(st)) {
		sqlite3_finalize(st);
		sqlite3_close(db);
		return cl_cli_error(&cli, "only reading is allowed: the statement would write");
	}
	rc = print_rows(st, format);
	sqlite3_finalize(st);
	if (rc != SQLITE_DONE) {
		rc = cl_cli_error(&cli, "%s", sqlite3_errmsg(db));
		sqlite3_close(db);
		return rc;
	}
	sqlite3_close(db);
	return CL_EXIT_OK;
}
