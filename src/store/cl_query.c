/*
 * Bounded read-only SQL over carelake.db. See cl_query.h.
 *
 * The authorizer is the rule; everything else here is a second fence
 * behind it (a read-only connection, sqlite3_stmt_readonly, no attached
 * databases, no extension loading, SQLite's defensive mode).
 *
 * One quirk of SQLite shapes it: the first time a connection uses an
 * eponymous virtual table (json_each, pragma_table_info, dbstat, ...),
 * SQLite declares that table with internal SQL whose authorizer calls
 * look like an UPDATE of sqlite_master, so an authorizer that refuses
 * writes refuses json_each too. The tables allowed are therefore used
 * once, before the authorizer is installed (declare_allowed_tables); a
 * declared table is kept for the life of the connection, schema changes
 * included. Any other virtual table still meets the UPDATE and is
 * refused, which is the intent.
 */
#include "cl_query.h"
#include "core/cl_config.h"
#include "core/cl_error.h"
#include "core/cl_mem.h"
#include "core/cl_time.h"

#include <ctype.h>
#include <limits.h>
#include <stddef.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

/* How often the progress handler looks at the clock, in VM instructions. */
#define PROGRESS_OPS 1000

/* Waiting for a writer's lock is part of the time, but never longer. */
#define BUSY_MAX_MS 5000

const char *const cl_query_pragmas[] = {
	"table_info", "table_xinfo", "table_list", "index_list", "index_info", "index_xinfo",
	"foreign_key_list", "collation_list", "function_list", "module_list", "pragma_list",
	NULL,
};

/* Table-valued functions that are not pragmas. */
static const char *const allowed_tables[] = { "json_each", "json_tree", NULL };

/* Functions refused by name: those that reach files, run SQL or hand out
 * pointers in builds that carry them (the SQLite shell, extensions), and
 * the two SQLite marks SQLITE_DIRECTONLY today, in case a build does not. */
static const char *const refused_functions[] = {
	"load_extension", "fts3_tokenizer", "readfile", "writefile", "edit", "eval", "fts5",
	NULL,
};

#define F(field) offsetof(struct cl_query_limits, field)
#define MiB (1024ll * 1024)
#define GiB (1024ll * 1024 * 1024)
#define SEC 1000000ll

static const struct cl_config_entry query_entries[] = {
	{ "timeout", CL_CFG_DURATION, "30s", 1000, 86400 * SEC, F(timeout_us),
	  "a read-only query (carelake query) is stopped once it has run this long", NULL },
	{ "memory_max", CL_CFG_SIZE, "256MiB", 4 * MiB, 64 * GiB, F(memory_max),
	  "most memory a query may take: SQLite's heap while it runs, any one value, and its "
	  "rows added up; a query that needs more is stopped", NULL },
	{ "max_rows", CL_CFG_U32, "100000", 1, 100000000, F(max_rows),
	  "most rows a query may return; one that would return more is stopped", NULL },
};

const struct cl_config_section cl_query_section = {
	.name = "query",
	.entries = query_entries,
	.nentries = sizeof(query_entries) / sizeof(query_entries[0]),
	.size = sizeof(struct cl_query_limits),
};

const struct cl_query_limits *cl_query_settings(const struct cl_config *c)
{
	return cl_config_get(c, &cl_query_section);
}

enum limit { LIMIT_TIME, LIMIT_MEMORY, LIMIT_ROWS };

struct cl_query {
	sqlite3 *db;
	sqlite3_stmt *st;
	struct cl_query_limits lim;
	char **directonly;       /* names SQLite marks SQLITE_DIRECTONLY */
	size_t ndirectonly;
	int actions;             /* authorizer calls since the last prepare */
	int began_select;        /* the first of them was SQLITE_SELECT */
	char why[200];           /* what the authorizer refused, or "" */
	int64_t step_start_us;   /* when the running sqlite3_step began, 0 if none */
	int64_t spent_us;        /* time spent in sqlite3_step for this statement */
	int timed_out;           /* the progress handler stopped it */
	uint64_t rows;           /* rows returned */
	uint64_t bytes;          /* bytes of the rows returned */
};

static int listed(const char *const *list, const char *name)
{
	for (size_t i = 0; name && list[i]; i++)
		if (strcasecmp(list[i], name) == 0)
			return 1;
	return 0;
}

static int refuse(struct cl_query *q, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

/* Keeps the first reason of a refusal, for the error detail. */
static int refuse(struct cl_query *q, const char *fmt, ...)
{
	va_list ap;

	if (!q->why[0]) {
		va_start(ap, fmt);
		vsnprintf(q->why, sizeof(q->why), fmt, ap);
		va_end(ap);
	}
	return SQLITE_DENY;
}

static int function_allowed(const struct cl_query *q, const char *name)
{
	for (size_t i = 0; i < q->ndirectonly; i++)
		if (strcasecmp(q->directonly[i], name) == 0)
			return 0;
	return !listed(refused_functions, name);
}

static int is_schema_table(const char *name)
{
	return name && (strcasecmp(name, "sqlite_master") == 0 ||
			strcasecmp(name, "sqlite_schema") == 0 ||
			strcasecmp(name, "sqlite_temp_master") == 0 ||
			strcasecmp(name, "sqlite_temp_schema") == 0);
}

/* The rule: reading tables, views, the allowed table-valued functions and
 * pragmas, calling functions that stay inside the statement. */
static int authorize(void *arg, int action, const char *a, const char *b, const char *db,
		     const char *via)
{
	struct cl_query *q = arg;

	(void)db;
	(void)via;
	if (q->actions++ == 0)
		q->began_select = action == SQLITE_SELECT;
	switch (action) {
	case SQLITE_SELECT:
	case SQLITE_RECURSIVE:
	case SQLITE_READ:
		return SQLITE_OK;
	case SQLITE_FUNCTION:
		if (function_allowed(q, b))
			return SQLITE_OK;
		return refuse(q, "the function %.64s() is refused: it reaches outside the query", b);
	case SQLITE_PRAGMA:
		if (listed(cl_query_pragmas, a))
			return SQLITE_OK;
		return refuse(q, "PRAGMA %.64s is refused (the pragmas allowed read the schema: "
			      "table_info, table_list, index_list, index_info, foreign_key_list, ...)",
			      a);
	case SQLITE_INSERT:
		if (is_schema_table(a))
			return refuse(q, "the statement would create a table, view, index or trigger");
		return refuse(q, "the statement would insert into %.64s", a);
	case SQLITE_UPDATE:
		if (q->began_select && is_schema_table(a))
			return refuse(q, "the statement reads a virtual table that is not allowed (the "
				      "table-valued functions allowed are json_each, json_tree and the "
				      "schema pragmas: pragma_table_info, pragma_index_list, ...)");
		return refuse(q, "the statement would update %.64s", a);
	case SQLITE_DELETE:
		if (is_schema_table(a))
			return refuse(q, "the statement would drop a table, view, index or trigger");
		return refuse(q, "the statement would delete from %.64s", a);
	case SQLITE_CREATE_INDEX:
	case SQLITE_CREATE_TABLE:
	case SQLITE_CREATE_TEMP_INDEX:
	case SQLITE_CREATE_TEMP_TABLE:
	case SQLITE_CREATE_TEMP_TRIGGER:
	case SQLITE_CREATE_TEMP_VIEW:
	case SQLITE_CREATE_TRIGGER:
	case SQLITE_CREATE_VIEW:
	case SQLITE_CREATE_VTABLE:
		return refuse(q, "the statement would create %.64s", a);
	case SQLITE_DROP_INDEX:
	case SQLITE_DROP_TABLE:
	case SQLITE_DROP_TEMP_INDEX:
	case SQLITE_DROP_TEMP_TABLE:
	case SQLITE_DROP_TEMP_TRIGGER:
	case SQLITE_DROP_TEMP_VIEW:
	case SQLITE_DROP_TRIGGER:
	case SQLITE_DROP_VIEW:
	case SQLITE_DROP_VTABLE:
		return refuse(q, "the statement would drop %.64s", a);
	case SQLITE_ALTER_TABLE:
		return refuse(q, "the statement would alter %.64s", b);
	case SQLITE_ATTACH:
		return refuse(q, "the statement would attach a database");
	case SQLITE_DETACH:
		return refuse(q, "the statement would detach a database");
	case SQLITE_TRANSACTION:
	case SQLITE_SAVEPOINT:
		return refuse(q, "the statement would begin or end a transaction");
	case SQLITE_ANALYZE:
		return refuse(q, "the statement would write statistics (ANALYZE)");
	case SQLITE_REINDEX:
		return refuse(q, "the statement would rebuild an index (REINDEX)");
	default:
		return refuse(q, "the statement would do more than read (SQLite authorizer action "
			      "%d)", action);
	}
}

/* Stops the statement once it has run longer than query.timeout. */
static int progress(void *arg)
{
	struct cl_query *q = arg;

	if (!q->step_start_us ||
	    q->spent_us + (cl_time_mono_us() - q->step_start_us) <= q->lim.timeout_us)
		return 0;
	q->timed_out = 1;
	return 1;
}

/* Remembers the functions SQLite marks SQLITE_DIRECTONLY: its own mark
 * for those with side effects or that could leak (load_extension,
 * fts3_tokenizer today). */
static int find_directonly(struct cl_query *q)
{
	sqlite3_stmt *st;
	int rc;

	if (sqlite3_prepare_v2(q->db, "SELECT DISTINCT name FROM pragma_function_list WHERE "
			       "flags & ?1", -1, &st, NULL) != SQLITE_OK)
		return cl_error_set(CL_EIO, "carelake.db: cannot list SQL functions: %s",
				    sqlite3_errmsg(q->db));
	sqlite3_bind_int(st, 1, SQLITE_DIRECTONLY);
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		char **nv = cl_realloc(q->directonly, (q->ndirectonly + 1) * sizeof(*nv));
		char *name = cl_strdup((const char *)sqlite3_column_text(st, 0));

		if (nv)
			q->directonly = nv;
		if (!nv || !name) {
			cl_free(name);
			sqlite3_finalize(st);
			return cl_error_set(CL_ENOMEM, "no memory for the query");
		}
		q->directonly[q->ndirectonly++] = name;
	}
	sqlite3_finalize(st);
	if (rc != SQLITE_DONE)
		return cl_error_set(CL_EIO, "carelake.db: cannot list SQL functions: %s",
				    sqlite3_errmsg(q->db));
	return CL_OK;
}

static void declare_table(struct cl_query *q, const char *prefix, const char *name)
{
	sqlite3_stmt *st = NULL;
	char sql[96];

	snprintf(sql, sizeof(sql), "SELECT * FROM %s%s", prefix, name);
	sqlite3_prepare_v2(q->db, sql, -1, &st, NULL);
	sqlite3_finalize(st);
}

/* Uses each allowed table-valued function once, before the authorizer is
 * installed (see the top of this file). One this build of SQLite lacks is
 * left out: a statement naming it then fails as SQLite says. */
static void declare_allowed_tables(struct cl_query *q)
{
	for (size_t i = 0; allowed_tables[i]; i++)
		declare_table(q, "", allowed_tables[i]);
	for (size_t i = 0; cl_query_pragmas[i]; i++)
		declare_table(q, "pragma_", cl_query_pragmas[i]);
}

int cl_query_open(const char *data_dir, const struct cl_query_limits *lim,
		  struct cl_query **out)
{
	char path[PATH_MAX];
	struct cl_query *q;
	int64_t busy_ms;
	int rc;

	*out = NULL;
	if (lim->timeout_us <= 0 || lim->memory_max == 0 || lim->max_rows == 0)
		return cl_error_set(CL_EINVAL, "query limits must all be above zero");
	if ((size_t)snprintf(path, sizeof(path), "%s/carelake.db", data_dir) >= sizeof(path))
		return cl_error_set(CL_EINVAL, "data directory path too long");
	q = cl_calloc(1, sizeof(*q));
	if (!q)
		return cl_error_set(CL_ENOMEM, "no memory for the query");
	q->lim = *lim;
	if (lim->own_process)
		sqlite3_hard_heap_limit64(lim->memory_max > INT64_MAX ? INT64_MAX
								  : (sqlite3_int64)lim->memory_max);
	if (sqlite3_open_v2(path, &q->db, SQLITE_OPEN_READONLY, NULL) != SQLITE_OK) {
		rc = cl_error_set(sqlite3_errcode(q->db) == SQLITE_CANTOPEN ? CL_ENOENT : CL_EIO,
				  "cannot open %s: %s", path,
				  q->db ? sqlite3_errmsg(q->db) : "out of memory");
		cl_query_close(q);
		return rc;
	}
	busy_ms = lim->timeout_us / 1000;
	sqlite3_busy_timeout(q->db, busy_ms > BUSY_MAX_MS ? BUSY_MAX_MS : (int)busy_ms);
	sqlite3_limit(q->db, SQLITE_LIMIT_ATTACHED, 0);
	sqlite3_limit(q->db, SQLITE_LIMIT_LENGTH,
		      lim->memory_max > INT_MAX ? INT_MAX : (int)lim->memory_max);
	sqlite3_db_config(q->db, SQLITE_DBCONFIG_ENABLE_LOAD_EXTENSION, 0, NULL);
	sqlite3_db_config(q->db, SQLITE_DBCONFIG_DEFENSIVE, 1, NULL);
	rc = find_directonly(q);
	if (rc) {
		cl_query_close(q);
		return rc;
	}
	declare_allowed_tables(q);
	sqlite3_set_authorizer(q->db, authorize, q);
	sqlite3_progress_handler(q->db, PROGRESS_OPS, progress, q);
	*out = q;
	return CL_OK;
}

void cl_query_close(struct cl_query *q)
{
	if (!q)
		return;
	sqlite3_finalize(q->st);
	sqlite3_close(q->db);
	for (size_t i = 0; i < q->ndirectonly; i++)
		cl_free(q->directonly[i]);
	cl_free(q->directonly);
	cl_free(q);
}

static int refused(struct cl_query *q)
{
	return cl_error_set(CL_ENOTSUP, "only reading is allowed: %s", q->why);
}

/* "needed more memory than query.memory_max (256MiB)" and its kin. */
static int limit_error(const struct cl_query *q, enum limit which)
{
	char v[32];

	if (which == LIMIT_TIME) {
		cl_config_format(CL_CFG_DURATION, q->lim.timeout_us, v, sizeof(v));
		return cl_error_set(CL_ETOOBIG, "the query ran longer than query.timeout (%s) and "
				    "was stopped", v);
	}
	if (which == LIMIT_ROWS)
		return cl_error_set(CL_ETOOBIG, "the query returned more than query.max_rows (%u) "
				    "rows and was stopped (add a LIMIT, or raise query.max_rows)",
				    q->lim.max_rows);
	cl_config_format(CL_CFG_SIZE, (int64_t)q->lim.memory_max, v, sizeof(v));
	return cl_error_set(CL_ETOOBIG, "the query needed more memory than query.memory_max (%s) "
			    "and was stopped", v);
}

/* A failed prepare or step as a CL_E* code with its detail. */
static int sql_error(struct cl_query *q, int rc)
{
	if (q->timed_out)
		return limit_error(q, LIMIT_TIME);
	if (q->why[0])
		return refused(q);
	switch (rc & 0xff) {
	case SQLITE_NOMEM:
	case SQLITE_TOOBIG:
		return limit_error(q, LIMIT_MEMORY);
	case SQLITE_BUSY:
	case SQLITE_LOCKED:
	case SQLITE_IOERR:
	case SQLITE_CORRUPT:
	case SQLITE_NOTADB:
	case SQLITE_CANTOPEN:
	case SQLITE_FULL:
		return cl_error_set(CL_EIO, "carelake.db: %s", sqlite3_errmsg(q->db));
	default:
		return cl_error_set(CL_EINVAL, "%s", sqlite3_errmsg(q->db));
	}
}

int cl_query_prepare(struct cl_query *q, const char *sql, sqlite3_stmt **st)
{
	const char *tail = NULL;
	int rc;

	*st = NULL;
	sqlite3_finalize(q->st);
	q->st = NULL;
	q->actions = 0;
	q->began_select = 0;
	q->why[0] = '\0';
	q->timed_out = 0;
	q->spent_us = 0;
	q->rows = q->bytes = 0;
	rc = sqlite3_prepare_v2(q->db, sql, -1, &q->st, &tail);
	if (rc != SQLITE_OK) {
		rc = sql_error(q, rc);
		sqlite3_finalize(q->st);
		q->st = NULL;
		return rc;
	}
	if (!q->st)
		return cl_error_set(CL_EINVAL, "no statement given");
	while (tail && (isspace((unsigned char)*tail) || *tail == ';'))
		tail++;
	if (tail && *tail)
		rc = cl_error_set(CL_EINVAL, "one statement at a time (more follows: '%.40s')", tail);
	else if (!sqlite3_stmt_readonly(q->st))
		rc = cl_error_set(CL_ENOTSUP, "only reading is allowed: the statement would write");
	if (rc) {
		sqlite3_finalize(q->st);
		q->st = NULL;
		return rc;
	}
	*st = q->st;
	return CL_OK;
}

/* What a row takes once the caller keeps it: text and blobs by their
 * length, numbers as eight bytes. */
static uint64_t row_bytes(sqlite3_stmt *st)
{
	uint64_t n = 0;

	for (int i = 0; i < sqlite3_column_count(st); i++) {
		switch (sqlite3_column_type(st, i)) {
		case SQLITE_TEXT:
		case SQLITE_BLOB:
			n += (uint64_t)sqlite3_column_bytes(st, i);
			break;
		case SQLITE_NULL:
			break;
		default:
			n += 8;
		}
	}
	return n;
}

int cl_query_step(struct cl_query *q)
{
	int64_t start;
	int rc;

	if (!q->st)
		return cl_error_set(CL_EINVAL, "no statement prepared");
	start = cl_time_mono_us();
	q->step_start_us = start;
	rc = sqlite3_step(q->st);
	q->step_start_us = 0;
	q->spent_us += cl_time_mono_us() - start;
	if (rc == SQLITE_DONE)
		return 0;
	if (rc != SQLITE_ROW)
		return sql_error(q, rc);
	if (q->rows == q->lim.max_rows)
		return limit_error(q, LIMIT_ROWS);
	q->rows++;
	q->bytes += row_bytes(q->st);
	if (q->bytes > q->lim.memory_max)
		return limit_error(q, LIMIT_MEMORY);
	return 1;
}

uint64_t cl_query_rows(const struct cl_query *q)
{
	return q->rows;
}
