/*
 * A table de-identified as one file: the rules of cl_deid_rules.c turned
 * into one SELECT over SQL functions that apply them row by row, written
 * by the lake's exporter (cl_lake_export_query). See cl_deid.h.
 *
 * The SELECT is built from the table's columns as SQLite has them, not
 * from the catalog, so a column added to a table and not to the rules is
 * refused rather than exported as it is.
 */
#include "cl_deid.h"
#include "core/cl_error.h"
#include "lake/cl_lake.h"
#include "lake/cl_lake_cols.h"

#include <stdio.h>
#include <string.h>

/* The value of argument i as text and its length, or NULL. */
static const char *text_arg(sqlite3_value **argv, int i, size_t *n)
{
	const char *s;

	if (sqlite3_value_type(argv[i]) == SQLITE_NULL)
		return NULL;
	s = (const char *)sqlite3_value_text(argv[i]);
	*n = (size_t)sqlite3_value_bytes(argv[i]);
	return s;
}

/* deid_pseudonym(whose, id) */
static void fn_pseudonym(sqlite3_context *ctx, int argc, sqlite3_value **argv)
{
	const struct cl_deid *d = sqlite3_user_data(ctx);
	char out[CL_DEID_PSEUDONYM_LEN + 1];
	size_t wn = 0, n = 0;
	const char *whose = text_arg(argv, 0, &wn), *id = text_arg(argv, 1, &n);

	(void)argc;
	if (!whose || !id) {
		sqlite3_result_null(ctx);
		return;
	}
	cl_deid_pseudonym(d, whose, id, n, out);
	sqlite3_result_text(ctx, out, -1, SQLITE_TRANSIENT);
}

/* The year of a date as text ("2019-02-17..." -> "2019"), or NULL. */
static void year_of(sqlite3_context *ctx, const char *s, size_t n)
{
	if (!s || n < 4 || (n > 4 && s[4] != '-') || strspn(s, "0123456789") < 4) {
		sqlite3_result_null(ctx);
		return;
	}
	sqlite3_result_text(ctx, s, 4, SQLITE_TRANSIENT);
}

/* deid_date(whose, person, date): moved by the person's offset; with no
 * person, its year; a value that is no date, NULL (never shown as it is). */
static void fn_date(sqlite3_context *ctx, int argc, sqlite3_value **argv)
{
	const struct cl_deid *d = sqlite3_user_data(ctx);
	size_t wn = 0, pn = 0, n = 0;
	const char *whose = text_arg(argv, 0, &wn), *person = text_arg(argv, 1, &pn);
	const char *date = text_arg(argv, 2, &n);
	char out[48];

	(void)argc;
	if (!date || !whose) {
		sqlite3_result_null(ctx);
		return;
	}
	if (!person) {
		year_of(ctx, date, n);
		return;
	}
	if (cl_deid_date(d, date, n, cl_deid_shift_days(d, whose, person, pn), out,
			 sizeof(out)) != 0) {
		sqlite3_result_null(ctx);
		return;
	}
	sqlite3_result_text(ctx, out, -1, SQLITE_TRANSIENT);
}

/* deid_birth_date(whose, person, birth, death) */
static void fn_birth_date(sqlite3_context *ctx, int argc, sqlite3_value **argv)
{
	const struct cl_deid *d = sqlite3_user_data(ctx);
	size_t wn = 0, pn = 0, n = 0, dn = 0;
	const char *whose = text_arg(argv, 0, &wn), *person = text_arg(argv, 1, &pn);
	const char *birth = text_arg(argv, 2, &n), *death = text_arg(argv, 3, &dn);
	char out[48];

	(void)argc;
	if (!birth || !whose || !person ||
	    cl_deid_birth_date(d, birth, n, death, death ? dn : 0,
			       cl_deid_shift_days(d, whose, person, pn), out, sizeof(out)) != 0) {
		sqlite3_result_null(ctx);
		return;
	}
	sqlite3_result_text(ctx, out, -1, SQLITE_TRANSIENT);
}

/* deid_year(date) */
static void fn_year(sqlite3_context *ctx, int argc, sqlite3_value **argv)
{
	size_t n = 0;
	const char *s = text_arg(argv, 0, &n);

	(void)argc;
	year_of(ctx, s, n);
}

/* deid_zip(zip) */
static void fn_zip(sqlite3_context *ctx, int argc, sqlite3_value **argv)
{
	const struct cl_deid *d = sqlite3_user_data(ctx);
	size_t n = 0;
	const char *s = text_arg(argv, 0, &n);
	char out[4];

	(void)argc;
	if (!s) {
		sqlite3_result_null(ctx);
		return;
	}
	cl_deid_zip(d, s, n, out);
	sqlite3_result_text(ctx, out, -1, SQLITE_TRANSIENT);
}

int cl_deid_functions(sqlite3 *db, struct cl_deid *d)
{
	static const struct {
		const char *name;
		int nargs;
		void (*fn)(sqlite3_context *, int, sqlite3_value **);
	} fns[] = {
		{ "deid_pseudonym", 2, fn_pseudonym }, { "deid_date", 3, fn_date },
		{ "deid_birth_date", 4, fn_birth_date }, { "deid_year", 1, fn_year },
		{ "deid_zip", 1, fn_zip },
	};

	for (size_t i = 0; i < sizeof(fns) / sizeof(fns[0]); i++)
		if (sqlite3_create_function(db, fns[i].name, fns[i].nargs,
					    SQLITE_UTF8 | SQLITE_DETERMINISTIC | SQLITE_DIRECTONLY,
					    d, fns[i].fn, NULL, NULL) != SQLITE_OK)
			return cl_error_set(CL_EIO, "registering %s: %s", fns[i].name,
					    sqlite3_errmsg(db));
	return 0;
}

/* 1 if the table has a column of that name. */
static int has_column(const struct cl_lake_cols *c, const char *name)
{
	for (int i = 0; i < c->n; i++)
		if (strcmp(c->name[i], name) == 0)
			return 1;
	return 0;
}

/* The id space of the column naming the person of a date rule. */
static int person_space(const char *table, const struct cl_deid_column *r,
			const struct cl_lake_cols *in, const char **space)
{
	const struct cl_deid_column *p = cl_deid_rule_of(table, r->whose);

	if (!has_column(in, r->whose) || !p || p->rule != CL_DEID_PSEUDONYM)
		return cl_error_set(CL_EINVAL, "%s.%s: its person column %s is not a pseudonymised "
				    "id of the table", table, r->column, r->whose);
	*space = p->whose;
	return 0;
}

int cl_deid_select(sqlite3 *db, const struct cl_deid *d, const char *table,
		   struct cl_lake_cols *out, char *sql, size_t cap)
{
	struct cl_lake_cols in;
	size_t len;
	int rc;

	if ((rc = cl_lake_read_columns(db, table, &in)))
		return rc;
	out->n = 0;
	len = (size_t)snprintf(sql, cap, "SELECT ");
	for (int i = 0; i < in.n; i++) {
		const char *col = in.name[i], *space = NULL;
		const struct cl_deid_column *r = cl_deid_rule_of(table, col);
		enum cl_lake_kind kind = in.kind[i];
		char expr[300];

		if (!r)
			return cl_error_set(CL_EINVAL, "%s.%s has no de-identification rule "
					    "(src/privacy/cl_deid_rules.c): not exported", table, col);
		switch (r->rule) {
		case CL_DEID_WITHHELD:
			return cl_error_set(CL_EINVAL, "%s is not exported de-identified: it holds %s",
					    table, r->why);
		case CL_DEID_DROP:
		case CL_DEID_FREE_TEXT:
			continue;
		case CL_DEID_KEEP:
			snprintf(expr, sizeof(expr), "\"%s\"", col);
			break;
		case CL_DEID_PSEUDONYM:
			snprintf(expr, sizeof(expr), "deid_pseudonym('%s', \"%s\")", r->whose, col);
			kind = CL_LAKE_STRING;
			break;
		case CL_DEID_DATE:
			if ((rc = person_space(table, r, &in, &space)))
				return rc;
			snprintf(expr, sizeof(expr), "deid_date('%s', \"%s\", \"%s\")", space, r->whose,
				 col);
			if (cl_deid_year_only(d))
				kind = CL_LAKE_STRING;
			break;
		case CL_DEID_BIRTH_DATE:
			if ((rc = person_space(table, r, &in, &space)))
				return rc;
			snprintf(expr, sizeof(expr), "deid_birth_date('%s', \"%s\", \"%s\", %s)", space,
				 r->whose, col, has_column(&in, "death_date") ? "\"death_date\"" : "NULL");
			kind = CL_LAKE_STRING;
			break;
		case CL_DEID_YEAR:
			snprintf(expr, sizeof(expr), "deid_year(\"%s\")", col);
			kind = CL_LAKE_STRING;
			break;
		case CL_DEID_ZIP:
			snprintf(expr, sizeof(expr), "deid_zip(\"%s\")", col);
			kind = CL_LAKE_STRING;
			break;
		case CL_DEID_AGE:
			snprintf(expr, sizeof(expr), "min(\"%s\", %d)", col, CL_DEID_AGE_CAP);
			break;
		}
		if (len < cap)
			len += (size_t)snprintf(sql + len, cap - len, "%s%s AS \"%s\"",
						out->n ? ", " : "", expr, col);
		snprintf(out->name[out->n], sizeof(out->name[0]), "%s", col);
		out->kind[out->n++] = kind;
	}
	if (out->n == 0)
		return cl_error_set(CL_EINVAL, "%s keeps no column de-identified", table);
	if (len < cap)
		len += (size_t)snprintf(sql + len, cap - len, " FROM \"%s\"", table);
	if (len >= cap)
		return cl_error_set(CL_EINVAL, "%s: too many columns to de-identify", table);
	return 0;
}

int cl_deid_export(sqlite3 *db, struct cl_deid *d, const char *table, const char *format,
		   const char *out_path, int64_t *rows)
{
	struct cl_lake_cols c;
	char name[64], sql[8192];
	int rc;

	*rows = 0;
	if ((rc = cl_lake_resolve(table, name, sizeof(name), NULL, 0)))
		return rc;
	if ((rc = cl_deid_functions(db, d)))
		return rc;
	if ((rc = cl_deid_select(db, d, name, &c, sql, sizeof(sql))))
		return rc;
	return cl_lake_export_query(db, sql, &c, format, out_path, rows);
}
