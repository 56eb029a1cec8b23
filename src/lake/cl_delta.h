/*
 * cl_delta.h — Delta Lake tables (PROTOCOL.md): reading a table's log at any
 * version or time, atomic commits with conflict checks and retries, and
 * Parquet checkpoints with `_last_checkpoint`.
 *
 * A table is a directory, or a prefix in object storage (abfss://, az://,
 * s3://; lake/cl_lake_loc.h): Parquet data files (possibly under partition
 * directories `col=value/`) and `_delta_log/` holding one JSON file of
 * actions per version (`%020d.json`) and checkpoints
 * (`%020d.checkpoint.parquet`). A snapshot is the replay of those actions
 * up to a version: the protocol, the metadata (schema, partition columns),
 * the active files and the tombstones of removed ones.
 *
 * A commit writes its actions to a temporary file and links it to the next
 * version's name, which fails if that name exists: readers of any engine
 * see either the whole commit or none of it. On a lost race the writer
 * reads the commits it missed, fails with CL_EBUSY only if one of them
 * touched what it touched (a file it removes, the metadata), and otherwise
 * retries at the next version.
 */
#ifndef CL_DELTA_H
#define CL_DELTA_H

#include <stddef.h>
#include <stdint.h>
#include <stdbool.h>

#include <jansson.h>

#include "lake/cl_parquet.h"

/* A top-level column of a table's schema. */
struct cl_delta_field {
	char *name;
	char *type;          /* Delta type name: "string", "long", "integer",
	                        "short", "byte", "double", "float", "boolean",
	                        "date", "timestamp", "timestamp_ntz", "binary",
	                        "decimal(p,s)"; a struct/array/map as its JSON */
	bool nullable;
};

/* An active data file: an `add` action not removed since. */
struct cl_delta_file {
	char *path;              /* relative to the table root, URL-decoded */
	int64_t size;            /* bytes */
	int64_t modification_time; /* ms since the epoch */
	char **part_values;      /* one per partition column; NULL = null */
	char *stats;             /* the `stats` JSON text, or NULL */
	int64_t num_records;     /* from stats, or -1 */
	bool has_dv;             /* carries a deletion vector (not readable) */
};

/* A removed file still on disk until vacuum. */
struct cl_delta_tombstone {
	char *path;
	int64_t deletion_ts;     /* ms since the epoch */
};

/* A table as of one version. */
struct cl_delta_snapshot {
	int64_t version;
	int64_t timestamp_ms;    /* the commit time of `version` */
	char *table_id;          /* metaData.id */
	char *name;              /* metaData.name, or NULL */
	char *schema_string;     /* metaData.schemaString */
	struct cl_delta_field *fields;
	size_t nfields;
	char **partition_cols;
	size_t npartition_cols;
	json_t *configuration;   /* metaData.configuration (object) */
	int min_reader_version, min_writer_version;
	struct cl_delta_file *files;
	size_t nfiles;
	struct cl_delta_tombstone *tombstones;
	size_t ntombstones;
};

/* Latest version only: pass as `version` to cl_delta_snapshot_load(). */
#define CL_DELTA_LATEST (-1)
/* No timestamp: pass as `timestamp_ms`. */
#define CL_DELTA_NO_TIME INT64_MIN

/* Loads the table at `path` as of `version` (or CL_DELTA_LATEST), or as of
 * the last commit at or before `timestamp_ms` when that is given. Uses the
 * newest checkpoint at or below the version. CL_ENOENT when the directory
 * has no Delta log or the version does not exist (the detail says which
 * versions do); CL_ENOTSUP for reader features carelake does not know. */
int cl_delta_snapshot_load(const char *path, int64_t version, int64_t timestamp_ms,
                           struct cl_delta_snapshot **out);
void cl_delta_snapshot_free(struct cl_delta_snapshot *s);

/* 1 when `path` (a directory or an object-storage URI) holds a Delta
 * table: a _delta_log with a commit or checkpoint. */
int cl_delta_is_table(const char *path);

/* One commit, as `table history` lists it. */
struct cl_delta_commit {
	int64_t version;
	int64_t timestamp_ms;    /* commitInfo.timestamp, else the file's mtime */
	char *operation;         /* commitInfo.operation, or NULL */
	json_t *info;            /* the whole commitInfo object, or NULL */
	size_t nadd, nremove;    /* add / remove actions */
	int64_t rows_added;      /* numRecords summed over the adds' stats, or -1 */
};

/* Lists the commits still in the log, oldest first. Versions only in a
 * checkpoint (their JSON cleaned up) are not listed. */
int cl_delta_history(const char *path, struct cl_delta_commit **out, size_t *n);
void cl_delta_history_free(struct cl_delta_commit *c, size_t n);

/* Maps between carelake column types and Delta type names. */
const char *cl_delta_type_of(enum cl_pq_type t);
enum cl_pq_type cl_delta_pq_type(const char *delta_type); /* CL_PQ_NONE if unknown */

/* The Delta `stats` JSON of a written file: numRecords, and minValues,
 * maxValues and nullCount per column (`names[i]` for leaf i). */
char *cl_delta_stats_json(const struct cl_pq_file_stats *st, const char *const *names,
                          const enum cl_pq_type *types);

/* A random (version 4) UUID in its 36-character text form, as Delta's
 * table ids, commit ids and data file names use. */
void cl_delta_uuid(char out[37]);

/* ---- writing ----------------------------------------------------------- */

struct cl_delta_txn;

/* Starts a transaction on the table at `path` (created on commit if it
 * has no log yet) against its latest version. */
int cl_delta_txn_begin(struct cl_delta_txn **out, const char *path);
/* The snapshot the transaction reads, or NULL for a new table. */
const struct cl_delta_snapshot *cl_delta_txn_snapshot(const struct cl_delta_txn *t);
/* Sets the schema (and, for a new table, the partition columns and name).
 * Needed for a new table; for an existing one only when it changes. */
int cl_delta_txn_set_schema(struct cl_delta_txn *t, const struct cl_delta_field *fields,
                            size_t n, const char *const *partition_cols, size_t np,
                            const char *name);
/* Adds a data file (path relative to the table root, already written). */
int cl_delta_txn_add(struct cl_delta_txn *t, const char *rel_path,
                     const char *const *part_values, int64_t size,
                     const char *stats_json, bool data_change);
/* Removes an active file (by its path as in the snapshot). */
int cl_delta_txn_remove(struct cl_delta_txn *t, const char *rel_path, bool data_change);
/* Commits: `operation` ("WRITE", "OPTIMIZE", ...) and its parameters
 * (an object, borrowed) go to commitInfo. Retries on lost races as
 * described above; writes a checkpoint after every 10th version (a failed
 * checkpoint is logged; the commit stands). Sets *version to the version
 * the commit took, or -1 when it took none: the files it adds are then in
 * no version. A commit can take its version and still fail, when the
 * log directory's fsync after the link fails; the version is then whole,
 * but may not survive a crash. The transaction is freed whatever the
 * result. */
int cl_delta_txn_commit(struct cl_delta_txn *t, const char *operation, json_t *params,
                        int64_t *version);
/* Writes a checkpoint after every n-th version this commit creates
 * (default 10, lake.checkpoint_interval). */
void cl_delta_txn_checkpoint_every(struct cl_delta_txn *t, int n);
/* Frees an uncommitted transaction. NULL is a no-op. */
void cl_delta_txn_free(struct cl_delta_txn *t);

/* Writes the checkpoint of `version` and points `_last_checkpoint` at it. */
int cl_delta_checkpoint(const char *path, int64_t version);

#endif
