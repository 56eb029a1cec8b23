/*
 * Batch loads: files (FHIR JSON and NDJSON, CSV) into bronze, unchanged,
 * and from there into silver.
 *
 * A file is stored as it came under bronze/<source>/dt=<day>/, named by its
 * content hash, and listed in bronze/<source>/_files.ndjson (hash, name,
 * size, format, run) — the bronze record of it, from which every silver
 * table can be rebuilt. The same content loaded again is a no-op. Each
 * file's silver rows are written in one transaction with its registration
 * in carelake.db, so a crash leaves a file either loaded or not at all.
 * Every run is recorded in pipeline_run.
 */
#ifndef CL_BATCH_H
#define CL_BATCH_H

#include "batch/cl_silver.h"
#include "core/cl_config.h"
#include "lake/cl_lake.h"

#include <stddef.h>
#include <stdint.h>

struct cl_batch;

struct cl_batch_summary {
	int64_t run_id;
	uint64_t files;          /* files looked at */
	uint64_t loaded;         /* files stored and refined */
	uint64_t unchanged;      /* already loaded (same content): no-op */
	uint64_t failed;         /* files that could not be loaded */
	struct cl_silver_counts c;
	char error[512];         /* the first failure, naming the file */
	struct cl_lake_summary lake; /* what the Delta copy took in */
	char lake_error[512];    /* why it could not ("": it did) */
};

int cl_batch_open(const char *data_dir, struct cl_batch **out);
void cl_batch_close(struct cl_batch *b);

/* Loads files (directories: every file in them, in name order). source:
 * the bronze source name, or NULL to name it by format ("fhir-files",
 * "synthea-csv"). progress (optional) is called after each file. Returns
 * CL_OK if every file loaded or was unchanged; otherwise the first error
 * (the others still load). */
/* What a run is recorded as in pipeline_run. */
struct cl_batch_run {
	const char *pipeline;   /* NULL: "ingest" */
	const char *trigger;    /* "manual", "interval", "watch", ... */
	int attempt;            /* 1 for the first */
	int64_t run_id;         /* a run queued with cl_batch_queue, or 0: a new one */
	int retry_follows;      /* a failure goes back to Queued, not Failed */
};

/* Records a run about to happen (state Queued); its id, or 0. */
int64_t cl_batch_queue(struct cl_batch *b, const char *pipeline, const char *trigger);

int cl_batch_ingest(struct cl_batch *b, const char *source, char *const *paths, int n,
		    const struct cl_batch_run *run,
		    void (*progress)(void *arg, uint64_t done, uint64_t total, const char *name),
		    void *arg, struct cl_batch_summary *sum);

/* How (and how often: at most every interval_us) the Delta copy of the
 * tables is brought up to date after a run. */
void cl_batch_set_lake(struct cl_batch *b, const struct cl_lake_opts *o, int64_t interval_us);

/* Where a rebuild fetches kept files gone from the disk: the bronze
 * archive at `uri` ("" for none), opened with the settings `cfg` (which
 * must outlive the batch). */
struct cl_config;
void cl_batch_set_archive(struct cl_batch *b, const struct cl_config *cfg, const char *uri);

/* The batch's connection to carelake.db (for the lake sync's own use). */
sqlite3 *cl_batch_db(struct cl_batch *b);

/* Rows loaded from now on are checked against these expectations. */
int cl_batch_expect(struct cl_batch *b, const struct cl_expectation *e, int n);

/* Rows whose references name no row: warn, drop or quarantine. */
int cl_batch_set_references(struct cl_batch *b, const char *action);

/* XLSX files loaded from now on: read this sheet (NULL or "": the first). */
void cl_batch_set_sheet(struct cl_batch *b, const char *sheet);

/* CSV files loaded from now on: read through this mapping, whatever their
 * header (NULL or "": recognise them by it). */
void cl_batch_set_mapping(struct cl_batch *b, const char *mapping);

/* Refines bronze into silver: with rebuild, empties silver and reloads
 * every file listed in bronze, in the order it was ingested. */
int cl_batch_refine(struct cl_batch *b, int rebuild, struct cl_batch_summary *sum);

/* 1 when carelake.db holds the batch's tables: something was loaded or
 * refined into it (no file, or none yet: 0). */
int cl_batch_started(const char *data_dir);

/* Serves as FHIR resources the silver rows of the runs not served yet
 * (batch/cl_fhir_rows.h), up to about max_rows, in transactions of 5,000
 * rows. *kept counts the versions made; *more is 1 when rows are left. */
int cl_batch_serve_fhir(struct cl_batch *b, int max_rows, uint64_t *kept, int *more);

/* The refine.* settings (cl_batch_config.c). */
struct cl_refine_settings {
	int64_t interval_us;                  /* refine.interval, 0 = off */
	char references[CL_CFG_STRING_MAX];   /* refine.references */
};

extern const struct cl_config_section cl_refine_section;
const struct cl_refine_settings *cl_refine_settings(const struct cl_config *c);

/* Configures b from c: its expectations (expect.*), refine.references,
 * and the lake's options (lake.*), syncing the lake at most every
 * lake_interval_us (0: after every run). */
int cl_batch_configure(struct cl_batch *b, const struct cl_config *c, int64_t lake_interval_us);

/* Makes c's declared CSV mappings (mappings.*) the ones in use
 * (process-wide; call before loading, from one thread). */
int cl_batch_register_mappings(const struct cl_config *c);

#endif
