/*
 * cl_lake_loc.h — where a Delta table's files live: a local directory, or
 * a prefix in object storage (abfss://, az://, s3://; objstore/). The Delta
 * log and the lake's maintenance read and write through these calls, so
 * one table code serves both.
 *
 * A location is a path: "/data/silver/observation" or
 * "s3://bucket/lake/silver/observation". Object-storage files are never
 * edited in place: a file is written whole into a local staging directory
 * and then published (uploaded, streaming); one is read from a local copy
 * downloaded into the staging directory and released after. A Delta
 * commit is published with a conditional create (If-None-Match: *), the
 * object-storage equivalent of the local log's link(): of two writers
 * racing for one version, exactly one wins. On a store that cannot do
 * conditional creates carelake refuses to commit, unless lake.single_writer
 * says that this process is the table's only writer (as Delta's
 * single-driver log store for S3), when commits are serialised in the
 * process and checked with a HEAD first.
 */
#ifndef CL_LAKE_LOC_H
#define CL_LAKE_LOC_H

#include <stddef.h>
#include <stdint.h>

#include "core/cl_config.h"

/* Sets the settings object stores are opened with (objstore.*, and
 * lake.single_writer) and the directory files are staged in (created on
 * use). Both outlive every later call; the process's configuration. */
void cl_lake_loc_configure(const struct cl_config *cfg, const char *staging_dir);

/* 1 when `path` is in object storage. */
int cl_lake_loc_remote(const char *path);

/* Calls fn for each file directly in directory `dir` (name, and for
 * object storage its size and mtime in ms; -1 locally), in no particular
 * order; names starting with '.' are skipped.
 * CL_ENOENT when the directory does not exist (locally) or holds nothing
 * (object storage has no empty directories). */
int cl_lake_loc_list(const char *dir,
		     int (*fn)(void *arg, const char *name, int64_t size, int64_t mtime_ms),
		     void *arg);

/* Calls fn for every file under `root`, at any depth, with its path
 * relative to root. */
int cl_lake_loc_walk(const char *root,
		     int (*fn)(void *arg, const char *rel, int64_t size, int64_t mtime_ms),
		     void *arg);

/* Reads a whole small file (at most max bytes; NUL-terminated). */
int cl_lake_loc_read(const char *path, size_t max, char **buf, size_t *len);

/* The size of a file and its modification time in ms since the epoch;
 * CL_ENOENT. */
int cl_lake_loc_stat(const char *path, int64_t *size, int64_t *mtime_ms);

/* Creates the object-storage file `path` holding buf, whole, only if it
 * does not exist: CL_EEXIST when it does (a Delta commit; a local one
 * links a synced temporary file instead, cl_delta_txn.c). */
int cl_lake_loc_create(const char *path, const void *buf, size_t len);

/* Replaces (or creates) `path` holding buf, whole. */
int cl_lake_loc_replace(const char *path, const void *buf, size_t len);

/* A local path to write the file that will be published at `path`:
 * `path` itself locally (its directories created), else a fresh file
 * name in the staging directory. */
int cl_lake_loc_stage(const char *path, char *local, size_t cap);

/* Makes the written local file `local` (from cl_lake_loc_stage) the file
 * at `path`: nothing to do locally; an upload, then the staged file
 * removed, for object storage. On failure the staged file is removed. */
int cl_lake_loc_publish(const char *local, const char *path);

/* A local file holding the contents of `path` to read: the file itself
 * locally, else a download into the staging directory. Give it back with
 * cl_lake_loc_release(). */
int cl_lake_loc_fetch(const char *path, char *local, size_t cap);
void cl_lake_loc_release(const char *path, const char *local);

struct cl_pq_file;
/* Opens the Parquet file at `path` (cl_pq_open): a download, mapped and
 * already released, for object storage. */
int cl_lake_loc_open_parquet(const char *path, struct cl_pq_file **f);

/* Removes a file; a missing one is not an error. */
int cl_lake_loc_unlink(const char *path);

#endif
