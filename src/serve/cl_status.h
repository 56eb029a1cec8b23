/*
 * The platform's state, for `carelake status` and GET /api/v1/status:
 * the pipelines declared in config with their last run and dead letters,
 * the latest runs, how far the stream and the refiner are behind each
 * bronze log, files and quarantined records by source, the Delta tables
 * behind carelake.db, and the bytes on disk. Each module answers for its
 * own part (batch: cl_batch_status.h; the stream: cl_stream_position;
 * bronze: cl_bronze_records_after; the lake: cl_lake_pending_tables);
 * this gathers what they say, from a read-only connection.
 */
#ifndef CL_STATUS_H
#define CL_STATUS_H

#include <jansson.h>
#include <sqlite3.h>

struct cl_config;

/* {"pipelines", "runs" (the latest `runs`), "lag", "sources",
 * "quarantined", "lake", "outbox" (alert changes each consumer has still
 * to deliver), "disk"}; NULL with the error set when the
 * pipelines in cfg cannot be read. */
json_t *cl_status_json(sqlite3 *db, const char *data_dir, const struct cl_config *cfg, int runs);

#endif
