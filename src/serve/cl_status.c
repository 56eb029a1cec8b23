/*
 * The platform's state. See cl_status.h.
 */
#define _XOPEN_SOURCE 700
#include "cl_status.h"
#include "batch/cl_batch_status.h"
#include "batch/cl_pipeline.h"
#include "bronze/cl_bronze.h"
#include "core/cl_config.h"
#include "core/cl_error.h"
#include "lake/cl_lake.h"
#include "objstore/cl_objstore.h"
#include "store/cl_store.h"
#include "stream/cl_stream.h"

#include <ftw.h>
#include <stdint.h>
#include <stdio.h>
#include <sys/stat.h>

/* Each bronze log the stream follows: its records, and how many of them
 * the stream and the refiner have still to apply. */
static json_t *lag_of_logs(sqlite3 *db, const char *data_dir)
{
	json_t *lag = json_object();
	const char *log;

	for (size_t i = 0; lag && (log = cl_stream_log(i)); i++) {
		uint64_t end;
		int64_t behind_stream = cl_bronze_records_after(
			data_dir, log, cl_stream_position(db, log), &end);
		int64_t behind_refine = cl_bronze_records_after(
			data_dir, log, cl_store_refine_position(db, log), &end);

		json_object_set_new(lag, log,
				    json_pack("{s:I,s:I,s:I}", "records", (json_int_t)end,
					      "stream_lag", (json_int_t)behind_stream, "refine_lag",
					      (json_int_t)behind_refine));
	}
	return lag;
}

/* nftw's callback has no argument: the sum of one walk at a time. */
static __thread int64_t walked;

static int add_size(const char *path, const struct stat *st, int type, struct FTW *f)
{
	(void)path;
	(void)f;
	if (type == FTW_F)
		walked += (int64_t)st->st_size;
	return 0;
}

/* The bytes of the files under path (0 when there is none). */
static int64_t du(const char *path)
{
	walked = 0;
	if (nftw(path, add_size, 16, FTW_PHYS) != 0)
		return walked;
	return walked;
}

/* Bytes on disk: the bronze logs and files, the Delta tables of silver
 * and gold, and the serving store with its WAL. */
static json_t *disk(const char *data_dir)
{
	char p[4096];
	int64_t db = 0;

	snprintf(p, sizeof(p), "%s/carelake.db", data_dir);
	db += du(p);
	snprintf(p, sizeof(p), "%s/carelake.db-wal", data_dir);
	db += du(p);
	json_t *o = json_pack("{s:I}", "store", (json_int_t)db);

	snprintf(p, sizeof(p), "%s/bronze", data_dir);
	json_object_set_new(o, "bronze", json_integer(du(p)));
	snprintf(p, sizeof(p), "%s/silver", data_dir);
	json_object_set_new(o, "silver", json_integer(du(p)));
	snprintf(p, sizeof(p), "%s/gold", data_dir);
	json_object_set_new(o, "gold", json_integer(du(p)));
	return o;
}

/* Object storage: where the lake is, and this process's transfers to it
 * (the server's, through the API). */
static json_t *object_storage(const struct cl_config *cfg)
{
	struct cl_objstore_stats st;
	cl_objstore_stats(&st);
	const char *uri = cl_lake_settings(cfg)->uri;
	return json_pack("{s:s?,s:I,s:I,s:I,s:I,s:I,s:I,s:I}", "lake_uri", uri[0] ? uri : NULL,
			 "requests", (json_int_t)st.requests, "retries", (json_int_t)st.retries,
			 "failures", (json_int_t)st.failures, "uploads", (json_int_t)st.uploads,
			 "downloads", (json_int_t)st.downloads, "bytes_up", (json_int_t)st.bytes_up,
			 "bytes_down", (json_int_t)st.bytes_down);
}

/* What the alert outbox's consumers (cl_store_outbox.h) have still to
 * deliver: {"webhook": N, "kafka": N, "kafka_rollups": N}, each consumer
 * that has a cursor (and the rollups while any wait). A store from before
 * the cursors has none. */
static json_t *outbox(sqlite3 *db)
{
	json_t *o = json_object();
	sqlite3_stmt *q;

	if (sqlite3_prepare_v2(db, "SELECT c.name, (SELECT count(*) FROM alert_outbox"
			       " WHERE seq > c.seq) FROM outbox_cursor c ORDER BY c.name", -1, &q,
			       NULL) == SQLITE_OK) {
		while (sqlite3_step(q) == SQLITE_ROW)
			json_object_set_new(o, (const char *)sqlite3_column_text(q, 0),
					    json_integer(sqlite3_column_int64(q, 1)));
		sqlite3_finalize(q);
	}
	if (sqlite3_prepare_v2(db, "SELECT count(*) FROM rollup_outbox", -1, &q,
			       NULL) == SQLITE_OK) {
		if (sqlite3_step(q) == SQLITE_ROW && sqlite3_column_int64(q, 0) > 0)
			json_object_set_new(o, "kafka_rollups",
					    json_integer(sqlite3_column_int64(q, 0)));
		sqlite3_finalize(q);
	}
	return o;
}

/* The stream's windows that late values corrected: {"corrected_windows":
 * rows now corrected, "corrections": revisions made by corrections}. A
 * store without rollups yet has none. */
static json_t *rollups(sqlite3 *db)
{
	json_t *o = json_pack("{s:I,s:I}", "corrected_windows", (json_int_t)0, "corrections",
			      (json_int_t)0);
	sqlite3_stmt *q;

	if (sqlite3_prepare_v2(db, "SELECT count(*), coalesce(sum(revision - 1), 0) FROM"
			       " vital_rollup WHERE status = 'corrected'", -1, &q,
			       NULL) == SQLITE_OK) {
		if (sqlite3_step(q) == SQLITE_ROW) {
			json_object_set_new(o, "corrected_windows",
					    json_integer(sqlite3_column_int64(q, 0)));
			json_object_set_new(o, "corrections", json_integer(sqlite3_column_int64(q, 1)));
		}
		sqlite3_finalize(q);
	}
	return o;
}

json_t *cl_status_json(sqlite3 *db, const char *data_dir, const struct cl_config *cfg, int runs)
{
	struct cl_pipeline p[CL_PIPELINES_MAX];
	int np = 0;
	json_t *out;

	if (cl_config_list(cfg, &cl_pipelines_section, p, &np, 1) != CL_OK)
		return NULL;
	out = json_object();
	json_object_set_new(out, "pipelines", cl_batch_status_pipelines(db, data_dir, p, np));
	json_object_set_new(out, "runs", cl_batch_status_runs(db, runs));
	json_object_set_new(out, "lag", lag_of_logs(db, data_dir));
	json_object_set_new(out, "sources", cl_batch_status_sources(db));
	json_object_set_new(out, "quarantined", json_integer(cl_batch_status_quarantined(db)));
	json_object_set_new(out, "lake", cl_lake_pending_tables(db));
	json_object_set_new(out, "outbox", outbox(db));
	json_object_set_new(out, "rollups", rollups(db));
	json_object_set_new(out, "disk", disk(data_dir));
	json_object_set_new(out, "object_storage", object_storage(cfg));
	return out;
}
