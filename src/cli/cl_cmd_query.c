/*
 * `carelake query`: read-only SQL over the tables of carelake.db, through
 * store/cl_query (the rules of what may run, and its limits: query.*),
 * printed as an aligned table, CSV or JSON.
 */
#include "cl_cli.h"
#include "core/cl_csv_write.h"
#include "core/cl_error.h"
#include "core/cl_mem.h"
#include "store/cl_query.h"
#include "store/cl_sql_json.h"

#include <jansson.h>
#include <sqlite3.h>
#include <stdio.h>
#include <string.h>

const char cl_cmd_query_usage[] =
	"usage: carelake query [--data DIR] [--format table|csv|json] 'SQL'\n\n"
	"Runs one read-only SQL statement (SQLite's dialect) over the silver tables\n"
	"(patient, practitioner, organization, encounter, observation, condition,\n"
	"medication_request, procedure, quarantine, ...), the serving tables\n"
	"(vital_event, vital_rollup, news2, alert) and the records of loads\n"
	"(bronze_file, pipeline_run); json_each, json_tree and the schema pragmas\n"
	"(pragma_table_info('patient'), ...) too. Anything that would write, attach\n"
	"a database or change a setting is refused. A query is stopped once it has\n"
	"run for query.timeout (30s), needs more than query.memory_max (256MiB) or\n"
	"returns more than query.max_rows (100000) rows: --set query.timeout=5m.\n\n";

/* Each value of a row kept as text, for the aligned table. */
struct table {
	char **cells;    /* nrows * ncol */
	size_t *width;   /* ncol */
	size_t nrows, cap;
	int ncol;
};

static int table_add(struct table *t, sqlite3_stmt *st)
{
	if (t->ncol == 0) {
		t->nrows++;
		return CL_OK;
	}
	if (t->nrows == t->cap) {
		size_t cap = t->cap ? t->cap * 2 : 64;
		char **nc = cl_realloc(t->cells, cap * (size_t)t->ncol * sizeof(*nc));

		if (!nc)
			return cl_error_set(CL_ENOMEM, "no memory for the rows");
		t->cells = nc;
		t->cap = cap;
	}
	for (int i = 0; i < t->ncol; i++) {
		const char *v = (const char *)sqlite3_column_text(st, i);
		char *c = cl_strdup(v ? v : "NULL");

		t->cells[t->nrows * (size_t)t->ncol + (size_t)i] = c;
		if (!c) {
			for (int k = 0; k < i; k++)
				cl_free(t->cells[t->nrows * (size_t)t->ncol + (size_t)k]);
			return cl_error_set(CL_ENOMEM, "no memory for the rows");
		}
		if (strlen(c) > t->width[i])
			t->width[i] = strlen(c);
	}
	t->nrows++;
	return CL_OK;
}

static void table_print(const struct table *t, sqlite3_stmt *st)
{
	for (int i = 0; i < t->ncol; i++)
		printf("%s%-*s", i ? "  " : "", (int)t->width[i], sqlite3_column_name(st, i));
	putchar('\n');
	for (int i = 0; i < t->ncol; i++) {
		printf("%s", i ? "  " : "");
		for (size_t k = 0; k < t->width[i]; k++)
			putchar('-');
	}
	putchar('\n');
	for (size_t r = 0; r < t->nrows; r++) {
		for (int i = 0; i < t->ncol; i++)
			printf("%s%-*s", i ? "  " : "", (int)t->width[i],
			       t->cells[r * (size_t)t->ncol + (size_t)i]);
		putchar('\n');
	}
	printf("(%zu row%s)\n", t->nrows, t->nrows == 1 ? "" : "s");
}

static void table_free(struct table *t)
{
	for (size_t i = 0; i < t->nrows * (size_t)t->ncol; i++)
		cl_free(t->cells[i]);
	cl_free(t->cells);
	cl_free(t->width);
}

static void csv_row(sqlite3_stmt *st, int header)
{
	for (int i = 0; i < sqlite3_column_count(st); i++) {
		if (i)
			putchar(',');
		if (header)
			cl_csv_write_field(stdout, sqlite3_column_name(st, i),
					   strlen(sqlite3_column_name(st, i)));
		else
			cl_csv_write_field(stdout, (const char *)sqlite3_column_text(st, i),
					   (size_t)sqlite3_column_bytes(st, i));
	}
	putchar('\n');
}

/* Runs the statement and prints its rows. CSV is written as rows come;
 * a table and JSON are printed once every row is in, so a statement
 * stopped by a limit prints nothing but the error. */
static int print_rows(struct cl_query *q, sqlite3_stmt *st, const char *format)
{
	struct table t = { .ncol = sqlite3_column_count(st) };
	json_t *arr = NULL;
	int csv = strcmp(format, "csv") == 0, rc;

	if (strcmp(format, "json") == 0) {
		if (!(arr = json_array()))
			return cl_error_set(CL_ENOMEM, "no memory for the rows");
	} else if (!csv) {
		t.width = cl_calloc((size_t)t.ncol + 1, sizeof(*t.width));
		if (!t.width)
			return cl_error_set(CL_ENOMEM, "no memory for the rows");
		for (int i = 0; i < t.ncol; i++)
			t.width[i] = strlen(sqlite3_column_name(st, i));
	}
	if (csv)
		csv_row(st, 1);
	while ((rc = cl_query_step(q)) > 0) {
		if (csv)
			csv_row(st, 0);
		else if (arr && json_array_append_new(arr, cl_sql_row_json(st)) != 0)
			rc = cl_error_set(CL_ENOMEM, "no memory for the rows");
		else if (!arr)
			rc = table_add(&t, st);
		if (rc < 0)
			break;
	}
	if (rc == 0 && arr) {
		json_dumpf(arr, stdout, JSON_INDENT(2) | JSON_PRESERVE_ORDER);
		putchar('\n');
	} else if (rc == 0 && !csv) {
		table_print(&t, st);
	}
	json_decref(arr);
	table_free(&t);
	return rc;
}

/* What query's options set. */
struct query_args {
	const char *format;
};

const struct cl_opt cl_cmd_query_opts[] = {
	CL_OPT_STRING("format", struct query_args, format, "F",
		      "table (default), csv or json (an array of objects)"),
	CL_OPT_END,
};

int cl_cmd_query(int argc, char **argv)
{
	struct query_args a = { .format = "table" };
	const char *format;
	struct cl_query_limits lim;
	struct cl_query *q;
	struct cl_cli cli;
	sqlite3_stmt *st;
	int nargs, rc;

	cl_cli_init(&cli, "query");
	rc = cl_cli_parse(&cli, cl_cmd_query_opts, &a, cl_cmd_query_usage, argc, argv, &nargs);
	if (rc >= 0)
		return rc;
	format = a.format;
	if (strcmp(format, "table") && strcmp(format, "csv") && strcmp(format, "json"))
		return cl_cli_error(&cli, "--format must be table, csv or json");
	if (nargs != 1)
		return cl_cli_error(&cli, "give one SQL statement, quoted (see --help)");
	lim = *cl_query_settings(cli.cfg);
	lim.own_process = 1; /* this process runs nothing else */
	rc = cl_query_open(cli.data_dir, &lim, &q);
	if (rc == CL_ENOENT)
		return cl_cli_error(&cli, "%s (load something first: carelake ingest)",
				    cl_error_detail());
	if (rc)
		return cl_cli_error(&cli, "%s", cl_error_detail());
	rc = cl_query_prepare(q, argv[0], &st);
	if (rc == CL_OK && cl_cli_audit(&cli, "query", "sql", argv[0]) != 0) {
		cl_query_close(q); /* and the statement it owns */
		return CL_EXIT_USAGE;
	}
	if (rc == CL_OK)
		rc = print_rows(q, st, format);
	if (rc < 0)
		cl_cli_error(&cli, "%s", cl_error_detail());
	cl_query_close(q);
	return rc < 0 ? CL_EXIT_USAGE : CL_EXIT_OK;
}
