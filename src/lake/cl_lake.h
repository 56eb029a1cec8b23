/*
 * cl_lake.h — the open copy of carelake's tables: every silver and gold
 * table of the serving store (carelake.db), and the stream's rollups
 * (vital_rollup), kept as a Delta Lake table under `<data>/silver/<table>/`
 * and `<data>/gold/<table>/`, and single-file exports of a table for the
 * ML team.
 *
 * Changes are tracked inside SQLite: the connection that writes silver
 * and gold notes, in the same transaction as the change, which table and
 * partition (observation: the UTC day of effective_ts) changed
 * (cl_lake_track, cl_lake_flush); the serving store's writer notes the
 * days of vital_rollup it changed (its start_us) itself
 * (cl_lake_note_part). A sync claims the notes, rewrites exactly those
 * partitions as new Parquet files from one consistent read, and
 * commits the swap (remove the old files, add the new) to the Delta log;
 * only then are the claimed notes cleared. A crash in between leaves them,
 * so the next sync does the same work again; a change made during a sync
 * leaves a new note. The Delta tables converge on the store and never
 * lose a change.
 */
#ifndef CL_LAKE_H
#define CL_LAKE_H

#include <stdint.h>
#include <stdio.h>
#include <sqlite3.h>

#include "core/cl_config.h"

/* How the lake is written (from lake.* in the configuration). */
struct cl_lake_opts {
	int enabled;                 /* 0: no Delta copy */
	int codec;                   /* CL_PQ_CODEC_* */
	int zstd_level;
	uint32_t row_group_rows;
	int checkpoint_interval;     /* a Delta checkpoint every this many commits */
	char uri[CL_CFG_STRING_MAX]; /* lake.uri: the tables' root in object
	                                storage, or "" for the data directory */
	int background;              /* not a setting: a file's row groups written
	                                on a thread of their own while the next is
	                                read (exports; see cl_pq_write_opts) */
};

/* What one sync did. */
struct cl_lake_summary {
	int tables;                  /* Delta tables committed to */
	int partitions;              /* partitions rewritten */
	int64_t rows;                /* rows written */
	int64_t bytes;               /* Parquet bytes written */
	int64_t unconverted;         /* values that did not fit their column type (now null) */
};

/* The lake.* settings. */
struct cl_lake_settings {
	uint32_t enabled;               /* lake.enabled: 1 or 0 */
	char codec[CL_CFG_STRING_MAX];  /* lake.codec: zstd, snappy or none */
	uint32_t zstd_level;            /* lake.zstd_level */
	uint32_t row_group_rows;        /* lake.row_group_rows */
	uint64_t target_file_bytes;     /* lake.target_file_size */
	uint32_t checkpoint_interval;   /* lake.checkpoint_interval */
	int64_t retention_us;           /* lake.retention */
	int64_t interval_us;            /* lake.interval */
	int64_t maintenance_us;         /* lake.maintenance_interval */
	char uri[CL_CFG_STRING_MAX];    /* lake.uri: "" or an object-storage URI */
	uint32_t single_writer;         /* lake.single_writer: 1 or 0 */
};

/* Where the lake's tables are: lake.uri when set (without a trailing
 * '/'), else data_dir. */
void cl_lake_root(const struct cl_config *c, const char *data_dir, char *out, size_t cap);

extern const struct cl_config_section cl_lake_section;
const struct cl_lake_settings *cl_lake_settings(const struct cl_config *c);

/* The options from a loaded configuration. */
void cl_lake_opts_from_config(struct cl_lake_opts *o, const struct cl_config *cfg);

/* The i-th table of the lake (silver tables, quarantine, quality_warning,
 * gold, then vital_rollup): its SQLite name, its directory under the data
 * directory ("silver/observation"), and the column whose UTC day partitions it
 * (NULL: not partitioned; the partition column is its name with `_date`
 * for `_ts` or `_us`). Returns 0 past the last. */
int cl_lake_table(int i, char *name, size_t ncap, char *dir, size_t dcap, const char **part_src);

struct cl_lake_tracker;

/* Starts noting the changes made through `db` to the lake's tables
 * (creates lake_dirty, registers lake_day()). */
int cl_lake_track(sqlite3 *db, struct cl_lake_tracker **out);
/* Writes the changes noted since the last flush into lake_dirty. Call it
 * inside the transaction that made them, just before COMMIT. */
int cl_lake_flush(struct cl_lake_tracker *t);
/* Stops noting. NULL is a no-op. */
void cl_lake_untrack(struct cl_lake_tracker *t);
/* Notes a whole unpartitioned table as changed, for a connection no
 * tracker watches (a table rewritten outside a batch run); inside the
 * transaction that changed it. */
int cl_lake_note_table(sqlite3 *db, const char *table);

/* Makes lake_dirty, where changes are noted, if it is not there. */
int cl_lake_notes_create(sqlite3 *db);
/* Notes one partition of a table as changed ("YYYY-MM-DD", or "" for an
 * unpartitioned table), inside the transaction that changed it. For a
 * writer no tracker watches: the serving store notes the days of the
 * vital_rollup rows it writes (cl_time_format_day of their start_us). */
int cl_lake_note_part(sqlite3 *db, const char *table, const char *part);

/* Registers lake_day(ts) on `db`: the partition day of a timestamp (text
 * as silver keeps it, or an integer of microseconds). */
int cl_lake_functions(sqlite3 *db);
/* The UTC day (YYYY-MM-DD) of an instant as silver keeps it, or "" with
 * -1 when it is none. */
int cl_lake_day(const char *s, size_t n, char out[11]);
/* An instant from text: RFC 3339, or a date of a year, month or day (a
 * FHIR dateTime may be just YYYY, YYYY-MM or YYYY-MM-DD: its start, UTC). */
int cl_lake_parse_instant(const char *s, size_t n, int64_t *us);

/* Brings every Delta table whose SQLite table changed (or which does not
 * exist yet) up to date. Runs its own short transactions. */
int cl_lake_sync(sqlite3 *db, const char *data_dir, const struct cl_lake_opts *o,
		 struct cl_lake_summary *sum);

/* Partitions noted as changed but not yet in the Delta tables. */
int64_t cl_lake_pending(sqlite3 *db);

/* The tables whose Delta copies are behind carelake.db, as a JSON array of
 * {"table_name", "partitions"} in name order (a json_t *; empty when none). */
struct json_t;
struct json_t *cl_lake_pending_tables(sqlite3 *db);

/* The SQLite table behind a name as users write it: "observation",
 * "silver.observation", "gold.admissions_daily", "admissions_daily" or
 * "gold_admissions_daily". Writes the SQLite name and the Delta table's
 * directory under the data directory ("silver/observation"). */
int cl_lake_resolve(const char *name, char *table, size_t tcap, char *dir, size_t dcap);

/* Writes table `table` (a name cl_lake_resolve() accepts) as one file:
 * "parquet" (zstd), "csv" (RFC 4180 with a header) or "ndjson". The file
 * is written beside out_path with mode 0600, synced, and renamed over it:
 * it appears whole or not at all. out_path must be new or a regular file
 * (cl_fs_check_replaceable); a link, FIFO, device or directory is
 * CL_EINVAL and left alone. */
int cl_lake_export(sqlite3 *db, const char *table, const char *format, const char *out_path,
		   int64_t *rows);

struct cl_lake_cols;
/* Writes the rows of `sql` as one file like cl_lake_export: its result
 * columns are `cols` (lake/cl_lake_cols.h), in order, of those kinds.
 * For exports whose rows are not the table's as stored (de-identified). */
int cl_lake_export_query(sqlite3 *db, const char *sql, const struct cl_lake_cols *cols,
			 const char *format, const char *out_path, int64_t *rows);

/* What optimize or vacuum did. */
struct cl_lake_maint {
	int tables;                  /* tables committed to (optimize) or swept (vacuum) */
	int64_t files_added;         /* compacted files written */
	int64_t files_removed;       /* files taken out of the table, or deleted */
	int64_t bytes_removed;
	int64_t rows;                /* rows rewritten */
};

/* Compacts, in the Delta table at `tdir`, every partition's files smaller
 * than target_bytes into one file (when there are two or more), in one
 * commit (OPTIMIZE, dataChange false). Partitions whose files differ in
 * columns, or hold lists or maps, are left as they are. */
int cl_lake_optimize_table(const char *tdir, uint64_t target_bytes, struct cl_lake_maint *sum);
/* Deletes the files under `tdir` that its latest version does not hold
 * and that left the table (or, never in it, were written) more than
 * retention_us ago; with dry_run only counts them. Each is listed on
 * `list` when given. */
int cl_lake_vacuum_table(const char *tdir, int64_t retention_us, int dry_run,
			 struct cl_lake_maint *sum, FILE *list);

/* Optimize, then vacuum, every Delta table under `root` (the data
 * directory, or lake.uri), as serve does in the background. Errors of one
 * table are logged and the others still done; returns the first. */
int cl_lake_maintain(const char *root, uint64_t target_bytes, int64_t retention_us,
		     struct cl_lake_maint *sum);

/* What checking the Delta tables found. */
struct cl_lake_check {
	int tables;                  /* Delta tables under silver/ and gold/ */
	int64_t files;               /* active data files */
	int64_t rows;                /* rows in them (from their footers) */
	int nproblems;               /* problems found (the first 32 kept) */
	char problems[32][320];
};

/* Loads every Delta table under silver/ and gold/ of `root` (the data
 * directory, or lake.uri) at its latest version and checks each active file: it exists, has the
 * size its log entry says, opens as Parquet, and holds the rows its
 * statistics say. Returns 0 when it could look (problems or not). */
int cl_lake_verify(const char *root, struct cl_lake_check *out);

#endif
