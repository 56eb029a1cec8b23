/*
 * What batch loads answer for in `carelake status`, read from carelake.db
 * through any connection (a read-only one beside a running serve): the
 * declared pipelines with their last run and dead letters, the latest
 * runs, files and quarantined records by source, and how far refinement
 * has applied each bronze log. The tables (pipeline_run, bronze_file,
 * quarantine, refine_checkpoint) are batch's own; a table not made yet
 * reads as empty.
 */
#ifndef CL_BATCH_STATUS_H
#define CL_BATCH_STATUS_H

#include <jansson.h>
#include <sqlite3.h>
#include <stdint.h>

struct cl_pipeline;

/* The pipelines p[0..n) as a JSON array of {name, path, trigger, source,
 * attempts, last_run (the run's row, or null), dead_letters}. */
json_t *cl_batch_status_pipelines(sqlite3 *db, const char *data_dir,
				  const struct cl_pipeline *p, int n);

/* The latest `limit` runs, newest first, as a JSON array of their rows. */
json_t *cl_batch_status_runs(sqlite3 *db, int limit);

/* Every source with files or quarantined records: a JSON array of
 * {source, files, quarantined} in source order. */
json_t *cl_batch_status_sources(sqlite3 *db);

/* Records in quarantine, in all. */
int64_t cl_batch_status_quarantined(sqlite3 *db);

#endif
