/*
 * Gold KPI tables. See cl_gold.h and docs/gold.md.
 */
#include "cl_gold.h"
#include "core/cl_error.h"
#include "core/cl_log.h"
#include "core/cl_time.h"
#include "model/cl_charlson.h"

#include <stdio.h>
#include <string.h>

/* 1 if the store holds t defined otherwise than the catalog does now (a
 * column added since): SQLite keeps the CREATE TABLE as written, less
 * "IF NOT EXISTS". */
static int stale(sqlite3 *db, const struct cl_gold_table *t)
{
	const char *want = t->create, *end = strchr(want, ';');
	sqlite3_stmt *q;
	size_t n;
	int differs = 0;

	if (strncmp(want, "CREATE TABLE IF NOT EXISTS ", 27) != 0)
		return 0;
	want += 27;
	n = end ? (size_t)(end - want) : strlen(want);
	if (sqlite3_prepare_v2(db, "SELECT sql FROM sqlite_master WHERE type = 'table' AND name = ?1",
			       -1, &q, NULL) != SQLITE_OK)
		return 0;
	sqlite3_bind_text(q, 1, t->name, -1, SQLITE_STATIC);
	if (sqlite3_step(q) == SQLITE_ROW) {
		const char *have = (const char *)sqlite3_column_text(q, 0);

		differs = !have || strncmp(have, "CREATE TABLE ", 13) != 0 ||
			  strlen(have + 13) != n || memcmp(have + 13, want, n) != 0;
	}
	sqlite3_finalize(q);
	return differs;
}

int cl_gold_create(sqlite3 *db)
{
	for (const struct cl_gold_table *t = cl_gold_tables; t->name; t++) {
		char drop[96];

		/* gold is computed whole from silver: a table of an older shape
		 * is made anew and filled by the next refresh (its Delta copy
		 * follows with the new schema) */
		if (stale(db, t)) {
			snprintf(drop, sizeof(drop), "DROP TABLE %s", t->name);
			if (sqlite3_exec(db, drop, NULL, NULL, NULL) != SQLITE_OK)
				return cl_error_set(CL_EIO, "carelake.db: %s: %s", t->name,
						    sqlite3_errmsg(db));
			cl_log_info("gold", "event=table_remade table=%s reason=new_columns", t->name);
		}
		if (sqlite3_exec(db, t->create, NULL, NULL, NULL) != SQLITE_OK)
			return cl_error_set(CL_EIO, "carelake.db: %s: %s", t->name, sqlite3_errmsg(db));
	}
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

/* charlson_category(code): a condition code's Charlson category (an
 * index into cl_charlson_categories), or NULL. */
static void sql_category(sqlite3_context *ctx, int argc, sqlite3_value **argv)
{
	const unsigned char *code = sqlite3_value_text(argv[0]);
	int c = code ? cl_charlson_category_of((const char *)code) : -1;

	(void)argc;
	if (c < 0)
		sqlite3_result_null(ctx);
	else
		sqlite3_result_int(ctx, c);
}

/* charlson_index(mask): the index of a set of categories (bit i: i). */
static void sql_index(sqlite3_context *ctx, int argc, sqlite3_value **argv)
{
	(void)argc;
	sqlite3_result_int(ctx, cl_charlson_index((uint32_t)sqlite3_value_int64(argv[0])));
}

/* charlson_cancer(mask): 1 when a malignancy or a metastatic tumour is in. */
static void sql_cancer(sqlite3_context *ctx, int argc, sqlite3_value **argv)
{
	uint32_t m = (uint32_t)sqlite3_value_int64(argv[0]);

	(void)argc;
	sqlite3_result_int(ctx, (m >> CL_CHARLSON_MALIGNANCY & 1) || (m >> CL_CHARLSON_METASTATIC & 1));
}

int cl_gold_affected(const char *name, const char *const *changed)
{
	for (const struct cl_gold_table *t = cl_gold_tables; t->name; t++)
		if (strcmp(t->name, name) == 0)
			return affected(t, changed);
	return 0;
}

/* refresh_time(): the time of the refresh, as silver writes times. */
static void sql_refresh_time(sqlite3_context *ctx, int argc, sqlite3_value **argv)
{
	(void)argc;
	(void)argv;
	sqlite3_result_text(ctx, sqlite3_user_data(ctx), -1, SQLITE_TRANSIENT);
}

int cl_gold_refresh(sqlite3 *db, const char *const *changed, int64_t now_us)
{
	const int det = SQLITE_UTF8 | SQLITE_DETERMINISTIC;
	char now[40], *held;

	cl_time_format_rfc3339(now_us, now, sizeof(now), 0);
	held = sqlite3_mprintf("%s", now);  /* the connection's, freed when replaced */
	if (!held || sqlite3_create_function_v2(db, "refresh_time", 0, det, held,
						sql_refresh_time, NULL, NULL,
						sqlite3_free) != SQLITE_OK ||
	    sqlite3_create_function(db, "charlson_category", 1, det, NULL, sql_category, NULL,
				    NULL) != SQLITE_OK ||
	    sqlite3_create_function(db, "charlson_index", 1, det, NULL, sql_index, NULL, NULL) !=
		    SQLITE_OK ||
	    sqlite3_create_function(db, "charlson_cancer", 1, det, NULL, sql_cancer, NULL, NULL) !=
		    SQLITE_OK)
		return cl_error_set(CL_EIO, "carelake.db: the Charlson functions: %s",
				    sqlite3_errmsg(db));
	for (const struct cl_gold_table *t = cl_gold_tables; t->name; t++) {
		int64_t t0 = cl_time_mono_us();

		if (!t->refresh || !affected(t, changed))
			continue;
		if (sqlite3_exec(db, t->refresh, NULL, NULL, NULL) != SQLITE_OK)
			return cl_error_set(CL_EIO, "carelake.db: refreshing %s: %s", t->name,
					    sqlite3_errmsg(db));
		cl_log_debug("gold", "event=refreshed table=%s rows=%d ms=%.1f", t->name,
			    sqlite3_changes(db), (double)(cl_time_mono_us() - t0) / 1000);
	}
	return CL_OK;
}
