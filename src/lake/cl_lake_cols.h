/*
 * cl_lake_cols.h — the columns of a lake table as SQLite declares them,
 * what each becomes in Parquet and Delta, and writing the rows of a query
 * into a Parquet file. Shared by the sync (cl_lake.c) and exports
 * (cl_lake_export.c); the rules are in docs/lake.md.
 */
#ifndef CL_LAKE_COLS_H
#define CL_LAKE_COLS_H

#include <stdint.h>
#include <sqlite3.h>

#include "lake/cl_lake.h"
#include "lake/cl_parquet.h"

#define CL_LAKE_MAX_COLS 64

/* What a SQLite column becomes. */
enum cl_lake_kind { CL_LAKE_STRING, CL_LAKE_LONG, CL_LAKE_DOUBLE, CL_LAKE_TIMESTAMP, CL_LAKE_DATE };

/* A table's columns, in declaration order. */
struct cl_lake_cols {
	int n;
	char name[CL_LAKE_MAX_COLS][64];
	enum cl_lake_kind kind[CL_LAKE_MAX_COLS];
	unsigned char file_of[CL_LAKE_MAX_COLS]; /* 1: `_bronze_file`, read from silver's
	                                            `_file_id` (model/cl_tables.h) */
};

/* Reads table `table`'s columns and decides their kinds. A silver
 * table's lineage file id (`_file_id`) is the file's name, as
 * `_bronze_file`, the column the lake has always had. */
int cl_lake_read_columns(sqlite3 *db, const char *table, struct cl_lake_cols *c);
/* The Parquet type of a kind. */
enum cl_pq_type cl_lake_pq_type(enum cl_lake_kind k);
/* "SELECT "a", "b", ...[, extra] FROM table" into sql; `extra` (or NULL)
 * is one more result column after the table's. */
void cl_lake_select(const struct cl_lake_cols *c, const char *extra, const char *table,
		    char *sql, size_t cap);
/* A new data file name, part-00000-<uuid>-c000.<codec>.parquet. */
void cl_lake_file_name(char *buf, size_t cap, int codec);

/* A Parquet file being filled with rows of a query. */
struct cl_lake_file {
	struct cl_pq_writer *w;
	const struct cl_lake_cols *c;
	int64_t rows;
	int64_t unconverted;       /* values that did not fit their column: null */
};

/* Creates `path`, new, with permissions `mode`, for rows of columns `c`. */
int cl_lake_file_open(struct cl_lake_file *f, const char *path, int mode,
		      const struct cl_lake_cols *c, const struct cl_lake_opts *o);
/* Appends the current row of `st` (its first c->n result columns). */
int cl_lake_file_row(struct cl_lake_file *f, sqlite3_stmt *st);
/* Finishes the file; fills `stats` (free with cl_pq_file_stats_free). */
int cl_lake_file_close(struct cl_lake_file *f, struct cl_pq_file_stats *stats);
/* Removes an unfinished file. */
void cl_lake_file_abort(struct cl_lake_file *f);

#endif
