/*
 * Read-only SQL over carelake.db, bounded: the one way carelake runs a
 * statement that someone else wrote (`carelake query`; POST /api/v1/query
 * is meant to use it too).
 *
 * What a statement may do, decided by SQLite's authorizer before and
 * while it runs:
 * - read tables and views (SELECT, WITH, WITH RECURSIVE) and call SQL
 *   functions, except those that reach outside the statement: the ones
 *   SQLite itself marks SQLITE_DIRECTONLY (load_extension, fts3_tokenizer,
 *   whose one-argument form hands out a pointer into the process and whose
 *   two-argument form installs a tokenizer from one) and the file functions
 *   some builds carry (readfile, writefile, edit, ...);
 * - read the table-valued functions json_each and json_tree and the
 *   schema-reading pragmas, as table-valued functions (pragma_table_info)
 *   or as statements (PRAGMA table_info(patient)); the list is
 *   cl_query_pragmas.
 * Anything else is refused before it runs: writes of any kind, CREATE,
 * DROP, ALTER, ATTACH, DETACH, BEGIN, SAVEPOINT, ANALYZE, REINDEX, other
 * virtual tables, other pragmas (those that read a setting as much as
 * those that change one), more than one statement. The database is also
 * opened read-only, and a statement SQLite does not find read-only
 * (sqlite3_stmt_readonly) is refused, so a gap in one layer is not enough
 * to write.
 *
 * How much it may take (struct cl_query_limits, the query.* settings):
 * - time: the time spent running it (inside sqlite3_step, so a slow reader
 *   of the rows is not counted); checked by SQLite's progress handler
 *   every 1000 virtual-machine instructions, so an endless recursive CTE
 *   stops within a few milliseconds of the limit;
 * - memory: no single value (a string, a blob, a group_concat) may grow
 *   past memory_max (SQLITE_LIMIT_LENGTH); the rows handed to the caller
 *   may not add up to more than memory_max (the caller may keep them all,
 *   as a table or a JSON reply does); and when the process runs nothing
 *   but this query (own_process: the CLI), SQLite's whole heap is capped
 *   at memory_max (sqlite3_hard_heap_limit64, which is process-wide, so a
 *   server must not set own_process);
 * - rows: at most max_rows; the next one stops the query.
 * Hitting a limit stops the statement with CL_ETOOBIG and a detail that
 * names the setting and its value, e.g. "the query ran longer than
 * query.timeout (30s) and was stopped".
 *
 * One struct cl_query is one connection, used by one thread at a time.
 */
#ifndef CL_QUERY_H
#define CL_QUERY_H

#include "core/cl_config.h"

#include <sqlite3.h>
#include <stdint.h>

/* The bounds of one statement (see above); the first three are the
 * query.* settings. */
struct cl_query_limits {
	int64_t timeout_us;  /* query.timeout: most time spent running, > 0 */
	uint64_t memory_max; /* query.memory_max: bytes, > 0 */
	uint32_t max_rows;   /* query.max_rows: most rows returned, > 0 */
	int own_process;     /* 1: cap SQLite's heap in this whole process */
};

/* The query.* settings section; its settings struct is struct
 * cl_query_limits, with own_process 0. */
extern const struct cl_config_section cl_query_section;

/* c's query.* settings. */
const struct cl_query_limits *cl_query_settings(const struct cl_config *c);

/* The pragmas a statement may use (NULL-terminated): they only read the
 * schema. */
extern const char *const cl_query_pragmas[];

struct cl_query;

/*
 * Opens <data_dir>/carelake.db read-only with the limits applied.
 * CL_ENOENT if there is no database yet; CL_EIO if it cannot be opened.
 */
int cl_query_open(const char *data_dir, const struct cl_query_limits *lim,
		  struct cl_query **out);

/* Closes the connection and any prepared statement; NULL is a no-op. */
void cl_query_close(struct cl_query *q);

/*
 * Prepares one read-only statement, replacing the previous one. *st stays
 * owned by q (valid until the next prepare or close); use it for column
 * names and values. CL_EINVAL: SQLite cannot compile it (its message is
 * the detail), it is empty or more than one statement follows. CL_ENOTSUP:
 * the rules above refuse it; the detail says what it would have done,
 * starting "only reading is allowed: ".
 */
int cl_query_prepare(struct cl_query *q, const char *sql, sqlite3_stmt **st);

/*
 * Runs the statement to its next row: 1 with a row, 0 when done, or a
 * negative code with a detail: CL_ETOOBIG for a limit, CL_ENOTSUP for
 * something refused while it ran (a pragma behind a table-valued
 * function), CL_EINVAL for a runtime SQL error, CL_EIO otherwise.
 */
int cl_query_step(struct cl_query *q);

/* Rows returned so far by the current statement. */
uint64_t cl_query_rows(const struct cl_query *q);

#endif
