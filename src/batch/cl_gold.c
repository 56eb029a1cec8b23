/*
 * Gold KPI tables. See cl_gold.h and docs/gold.md.
 */
#include "cl_gold.h"
#include "core/cl_error.h"

#include <stdio.h>
#include <string.h>

int cl_gold_create(sqlite3 *db)
{
	for (const struct cl_gold_table *t = cl_gold_tables; t->name; t++)
		if (sqlite3_exec(db, t->create, NULL, NULL, NULL) != SQLITE_OK)
			return cl_error_set(CL_EIO, "carelake.db: %s: %s", t->name, sqlite3_errmsg(db));
	return CL_OK;
}

/* 1 if the gold table is computed from a table in changed[]. */
static int affected(const struct cl_gold_table *t, const char *const *changed)
{
	if (!changed || strcmp(t->inputs, "*") == 0)
		return 1;
	for (; *changed; changed++) {
		size_t n = strlen(*changed);

		for (const char *p = t->inputs; (p = strstr(p, *changed)); p += n)
			if ((p == t->inputs || p[-1] == ',') && (p[n] == ',' || p[n] == '\0'))
				return 1;
	}
	return 0;
}

int cl_gold_refresh(sqlite3 *db, const char *const *changed)
{
	for (const struct cl_gold_table *t = cl_gold_tables; t->name; t++)
		if (affected(t, changed) && sqlite3_exec(db, t->refresh, NULL, NULL, NULL) != SQLITE_OK)
			return cl_error_set(CL_EIO, "carelake.db: refreshing %s: %s", t->name,
					    sqlite3_errmsg(db));
	return CL_OK;
}
