/*
 * cl_lake_track.c — which partitions of which lake tables changed (see
 * cl_lake.h).
 *
 * SQLite's pre-update hook calls us for every row the batch connection
 * inserts, updates or deletes, with the row's old and new values. For a
 * table of the lake we note (table, partition) in a small in-memory set —
 * for `observation` the partition is the UTC day of effective_ts, for the
 * others the whole table — and cl_lake_flush() writes the set into
 * `lake_dirty` inside the same transaction, just before it commits. So the
 * notes are exactly as durable as the changes, and cost a hash lookup per
 * row instead of a trigger.
 *
 * `lake_day(ts)` is the same day function in SQL, so that a sync selects
 * the rows of a partition by the very rule that noted it.
 */
/* Debian's SQLite is built with the pre-update hook; its header declares
 * the hook only when asked. */
#define SQLITE_ENABLE_PREUPDATE_HOOK 1
#include "lake/cl_lake.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/cl_error.h"
#include "core/cl_mem.h"
#include "core/cl_time.h"

#define MAX_TABLES 40

/* One noted change. */
struct mark {
	uint8_t table;        /* index into the tracker's tables */
	char part[11];        /* YYYY-MM-DD, or "" */
};

struct cl_lake_tracker {
	sqlite3 *db;
	int ntables;
	char names[MAX_TABLES][64];  /* the lake's SQLite tables */
	int part_col[MAX_TABLES];    /* column whose day partitions it, or -1 */
	struct mark *set;            /* open addressing; table 0xff: empty */
	size_t cap, n;
	int err;
};

static const char notes_schema[] =
	"CREATE TABLE IF NOT EXISTS lake_dirty(table_name TEXT NOT NULL, part TEXT NOT NULL,"
	" claimed INTEGER NOT NULL DEFAULT 0, PRIMARY KEY(table_name, part, claimed))"
	" WITHOUT ROWID;";

int cl_lake_day(const char *s, size_t n, char out[11])
{
	int64_t us;
	out[0] = '\0';
	if (!s || cl_lake_parse_instant(s, n, &us) != 0)
		return -1;
	cl_time_format_day(us, out);
	return 0;
}

/* lake_day(ts): the partition of a timestamp, '' when it is none. */
static void sql_lake_day(sqlite3_context *ctx, int argc, sqlite3_value **argv)
{
	char day[11];
	(void)argc;
	const char *s = (const char *)sqlite3_value_text(argv[0]);
	cl_lake_day(s, (size_t)sqlite3_value_bytes(argv[0]), day);
	sqlite3_result_text(ctx, day, -1, SQLITE_TRANSIENT);
}

int cl_lake_functions(sqlite3 *db)
{
	if (sqlite3_create_function(db, "lake_day", 1, SQLITE_UTF8 | SQLITE_DETERMINISTIC, NULL,
				    sql_lake_day, NULL, NULL) != SQLITE_OK)
		return cl_error_set(CL_EIO, "lake_day(): %s", sqlite3_errmsg(db));
	return 0;
}

static uint64_t mark_hash(int table, const char *part)
{
	uint64_t h = 1469598103934665603ull ^ (uint64_t)table;
	for (; *part; part++)
		h = (h ^ (uint8_t)*part) * 1099511628211ull;
	return h;
}

static int set_grow(struct cl_lake_tracker *t)
{
	size_t cap = t->cap ? t->cap * 2 : 64;
	struct mark *s = cl_malloc(cap * sizeof(*s));
	if (!s)
		return CL_ENOMEM;
	for (size_t i = 0; i < cap; i++)
		s[i].table = 0xff;
	for (size_t i = 0; i < t->cap; i++) {
		if (t->set[i].table == 0xff)
			continue;
		size_t k = mark_hash(t->set[i].table, t->set[i].part) & (cap - 1);
		while (s[k].table != 0xff)
			k = (k + 1) & (cap - 1);
		s[k] = t->set[i];
	}
	cl_free(t->set);
	t->set = s;
	t->cap = cap;
	return 0;
}

static void note(struct cl_lake_tracker *t, int table, const char *part)
{
	if (t->err)
		return;
	if ((t->n + 1) * 2 > t->cap && (t->err = set_grow(t)))
		return;
	size_t k = mark_hash(table, part) & (t->cap - 1);
	while (t->set[k].table != 0xff) {
		if (t->set[k].table == table && strcmp(t->set[k].part, part) == 0)
			return;
		k = (k + 1) & (t->cap - 1);
	}
	t->set[k].table = (uint8_t)table;
	snprintf(t->set[k].part, sizeof(t->set[k].part), "%s", part);
	t->n++;
}

/* The partition of the old or new row of the change being made. */
static void note_row(struct cl_lake_tracker *t, sqlite3 *db, int table, int old)
{
	char day[11] = "";
	int col = t->part_col[table];
	if (col >= 0) {
		sqlite3_value *v = NULL;
		int rc = old ? sqlite3_preupdate_old(db, col, &v) : sqlite3_preupdate_new(db, col, &v);
		if (rc == SQLITE_OK && v)
			cl_lake_day((const char *)sqlite3_value_text(v),
				    (size_t)sqlite3_value_bytes(v), day);
	}
	note(t, table, day);
}

static void preupdate(void *arg, sqlite3 *db, int op, const char *zdb, const char *zname,
		      sqlite3_int64 k1, sqlite3_int64 k2)
{
	struct cl_lake_tracker *t = arg;
	(void)k1;
	(void)k2;
	if (strcmp(zdb, "main") != 0)
		return;
	for (int i = 0; i < t->ntables; i++) {
		if (t->names[i][0] != zname[0] || strcmp(t->names[i], zname) != 0)
			continue;
		if (op != SQLITE_INSERT)
			note_row(t, db, i, 1);
		if (op != SQLITE_DELETE)
			note_row(t, db, i, 0);
		return;
	}
}

int cl_lake_track(sqlite3 *db, struct cl_lake_tracker **out)
{
	struct cl_lake_tracker *t = cl_calloc(1, sizeof(*t));
	char sql[160];
	int rc;

	*out = NULL;
	if (!t)
		return CL_ENOMEM;
	t->db = db;
	if (sqlite3_exec(db, notes_schema, NULL, NULL, NULL) != SQLITE_OK) {
		cl_free(t);
		return cl_error_set(CL_EIO, "lake change notes: %s", sqlite3_errmsg(db));
	}
	if ((rc = cl_lake_functions(db))) {
		cl_free(t);
		return rc;
	}
	for (int i = 0; t->ntables < MAX_TABLES; i++) {
		const char *part_src;
		if (!cl_lake_table(i, t->names[t->ntables], sizeof(t->names[0]), NULL, 0, &part_src))
			break;
		t->part_col[t->ntables] = -1;
		if (part_src) {
			sqlite3_stmt *st;
			snprintf(sql, sizeof(sql), "SELECT cid FROM pragma_table_info('%s') WHERE name = '%s'",
				 t->names[t->ntables], part_src);
			if (sqlite3_prepare_v2(db, sql, -1, &st, NULL) == SQLITE_OK &&
			    sqlite3_step(st) == SQLITE_ROW)
				t->part_col[t->ntables] = sqlite3_column_int(st, 0);
			sqlite3_finalize(st);
		}
		t->ntables++;
	}
	sqlite3_preupdate_hook(db, preupdate, t);
	*out = t;
	return 0;
}

int cl_lake_flush(struct cl_lake_tracker *t)
{
	sqlite3_stmt *st;
	int rc = 0;

	if (!t || t->n == 0)
		return t ? t->err : 0;
	if (t->err)
		return cl_error_set(t->err, "noting lake changes: out of memory");
	if (sqlite3_prepare_v2(t->db, "INSERT OR IGNORE INTO lake_dirty(table_name, part, claimed)"
			       " VALUES (?1, ?2, 0)", -1, &st, NULL) != SQLITE_OK)
		return cl_error_set(CL_EIO, "noting lake changes: %s", sqlite3_errmsg(t->db));
	for (size_t i = 0; rc == 0 && i < t->cap; i++) {
		if (t->set[i].table == 0xff)
			continue;
		sqlite3_bind_text(st, 1, t->names[t->set[i].table], -1, SQLITE_STATIC);
		sqlite3_bind_text(st, 2, t->set[i].part, -1, SQLITE_STATIC);
		if (sqlite3_step(st) != SQLITE_DONE)
			rc = cl_error_set(CL_EIO, "noting lake changes: %s", sqlite3_errmsg(t->db));
		sqlite3_reset(st);
		t->set[i].table = 0xff;
	}
	sqlite3_finalize(st);
	t->n = 0;
	return rc;
}

void cl_lake_untrack(struct cl_lake_tracker *t)
{
	if (!t)
		return;
	sqlite3_preupdate_hook(t->db, NULL, NULL);
	cl_free(t->set);
	cl_free(t);
}
