/*
 * Gold: KPI tables computed from silver (and the stream's alerts), each a
 * pure function of them, refreshed at the end of every load and refine.
 * The tables and how each is computed: docs/gold.md.
 */
#ifndef CL_GOLD_H
#define CL_GOLD_H

#include "model/cl_tables.h"

#include <sqlite3.h>
#include <stdint.h>

/* Creates the gold tables if needed (the serving tables, alert among
 * them, must exist: cl_store_create). */
int cl_gold_create(sqlite3 *db);

/* Recomputes the gold tables computed from any table changed[] names
 * (a NULL-terminated list; NULL: every gold table) as of now_us (what is
 * still in progress then: the SQL function refresh_time()). A table whose
 * rows its own module computes (refresh NULL: gold_readmission_risk) is
 * left to it. The caller holds a transaction. */
int cl_gold_refresh(sqlite3 *db, const char *const *changed, int64_t now_us);

/* 1 if a refresh with changed[] recomputes the gold table named. */
int cl_gold_affected(const char *name, const char *const *changed);

#endif
