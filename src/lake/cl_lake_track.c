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
 * The same hook keeps `source_rows`, the rows each source has in each
 * silver table, the quarantine and the warnings (gold_data_quality reads
 * it rather than counting those tables after every load): an insert
 * counts one for the new row's source, a delete one less for the old
 * row's, an update that changes the source moves one. The counts are
 * summed in memory and added to the table by the same flush; a rollback
 * forgets them.
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
#include "model/cl_tables.h"

#define MAX_TABLES 40

/* One noted change. */
struct mark {
	uint8_t table;        /* index into the tracker's tables */
	char part[11];        /* YYYY-MM-DD, or "" */
};

/* Rows a source gained (or lost) in a table since the last flush. */
struct count {
	uint8_t table;
	char source[64];
	int64_t delta;
};

struct cl_lake_tracker {
	sqlite3 *db;
	int ntables;
	char names[MAX_TABLES][64];  /* the lake's SQLite tables */
	int part_col[MAX_TABLES];    /* column whose day partitions it, or -1 */
	int source_col[MAX_TABLES];  /* its source column (source_name), or -1 */
	struct mark *set;            /* open addressing; table 0xff: empty */
	size_t cap, n;
	struct count *counts;        /* since the last flush */
	int ncounts, counts_cap;
	int err;
};

static const char notes_schema[] =
	"CREATE TABLE IF NOT EXISTS lake_dirty(table_name TEXT NOT NULL, part TEXT NOT NULL,"
	" claimed INTEGER NOT NULL DEFAULT 0, PRIMARY KEY(table_name, part, claimed))"
	" WITHOUT ROWID;";

static const char counts_schema[] =
	"CREATE TABLE source_rows(table_name TEXT NOT NULL, source TEXT NOT NULL,"
	" rows INTEGER NOT NULL, PRIMARY KEY(table_name, source)) WITHOUT ROWID;";

int cl_lake_day(const char *s, size_t n, char out[11])
{
	int64_t us;
	out[0] = '\0';
	if (!s || cl_lake_parse_instant(s, n, &us) != 0)
		return -1;
	cl_time_format_day(us, out);
	return 0;
}

/* The partition of a value: an integer is an instant in microseconds
 * (vital_rollup's start_us), text one as silver writes it. */
static void value_day(sqlite3_value *v, char day[11])
{
	if (sqlite3_value_type(v) == SQLITE_INTEGER)
		cl_time_format_day(sqlite3_value_int64(v), day);
	else
		cl_lake_day((const char *)sqlite3_value_text(v), (size_t)sqlite3_value_bytes(v), day);
}

/* lake_day(ts): the partition of a timestamp, '' when it is none. */
static void sql_lake_day(sqlite3_context *ctx, int argc, sqlite3_value **argv)
{
	char day[11];
	(void)argc;
	value_day(argv[0], day);
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
			value_day(v, day);
	}
	note(t, table, day);
}

/* The source of the old or new row of the change being made (NULL if
 * none), as a pointer into SQLite's value and its length. */
static const char *row_source(sqlite3 *db, int col, int old, int *len)
{
	sqlite3_value *v = NULL;
	int rc = old ? sqlite3_preupdate_old(db, col, &v) : sqlite3_preupdate_new(db, col, &v);
	const char *s = rc == SQLITE_OK && v ? (const char *)sqlite3_value_text(v) : NULL;

	*len = s ? sqlite3_value_bytes(v) : 0;
	return s;
}

static void count(struct cl_lake_tracker *t, int table, const char *src, int len, int64_t d)
{
	struct count *c = NULL;

	if (len >= (int)sizeof(c->source))
		len = (int)sizeof(c->source) - 1;
	for (int i = t->ncounts - 1; i >= 0 && !c; i--)
		if (t->counts[i].table == table && strncmp(t->counts[i].source, src, (size_t)len) == 0 &&
		    t->counts[i].source[len] == '\0')
			c = &t->counts[i];
	if (!c) {
		if (t->ncounts == t->counts_cap) {
			int cap = t->counts_cap ? t->counts_cap * 2 : 16;
			struct count *m = cl_realloc(t->counts, (size_t)cap * sizeof(*m));

			if (!m) {
				t->err = CL_ENOMEM;
				return;
			}
			t->counts = m;
			t->counts_cap = cap;
		}
		c = &t->counts[t->ncounts++];
		c->table = (uint8_t)table;
		memcpy(c->source, src, (size_t)len);
		c->source[len] = '\0';
		c->delta = 0;
	}
	c->delta += d;
}

static void count_row(struct cl_lake_tracker *t, sqlite3 *db, int table, int op)
{
	int col = t->source_col[table], on = 0, nn = 0;
	const char *o = NULL, *n = NULL;

	/* o, n: NULL for a row with no source (or no old or new row) */
	if (op != SQLITE_INSERT)
		o = row_source(db, col, 1, &on);
	if (op != SQLITE_DELETE)
		n = row_source(db, col, 0, &nn);
	if (o && n && on == nn && memcmp(o, n, (size_t)on) == 0)
		return; /* an update within the source */
	if (o)
		count(t, table, o, on, -1);
	if (n)
		count(t, table, n, nn, 1);
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
		if (t->source_col[i] >= 0)
			count_row(t, db, i, op);
		return;
	}
}

/* A rollback undoes the rows: their counts go too. The partitions noted
 * stay, as a sync of an unchanged partition rewrites it unchanged. */
static void rollback(void *arg)
{
	struct cl_lake_tracker *t = arg;

	t->ncounts = 0;
}

/* The column of `table` named `name`, or -1. */
static int column(sqlite3 *db, const char *table, const char *name)
{
	char sql[200];
	sqlite3_stmt *st;
	int col = -1;

	snprintf(sql, sizeof(sql), "SELECT cid FROM pragma_table_info('%s') WHERE name = '%s'",
		 table, name);
	if (sqlite3_prepare_v2(db, sql, -1, &st, NULL) == SQLITE_OK && sqlite3_step(st) == SQLITE_ROW)
		col = sqlite3_column_int(st, 0);
	sqlite3_finalize(st);
	return col;
}

/* The column naming a table's source: `_source` in silver, `source` in
 * the quarantine and the warnings (gold tables have neither). */
static const char *source_name(const char *table)
{
	if (cl_silver_is_aux(table))
		return "source";
	return "_source";
}

/* source_rows, made and counted from the rows the first time (a new
 * store, or one from before it), under the write lock so that two
 * processes opening the store at once make it once. */
static int counts_create(struct cl_lake_tracker *t)
{
	char sql[4096];
	size_t n;
	int first = 1;

	if (column(t->db, "source_rows", "rows") >= 0)
		return 0;
	if (sqlite3_exec(t->db, "BEGIN IMMEDIATE", NULL, NULL, NULL) != SQLITE_OK)
		return cl_error_set(CL_EIO, "source_rows: %s", sqlite3_errmsg(t->db));
	if (column(t->db, "source_rows", "rows") >= 0)
		return sqlite3_exec(t->db, "COMMIT", NULL, NULL, NULL) == SQLITE_OK ? 0
			: cl_error_set(CL_EIO, "source_rows: %s", sqlite3_errmsg(t->db));
	n = (size_t)snprintf(sql, sizeof(sql), "%s", counts_schema);
	for (int i = 0; i < t->ntables; i++) {
		if (t->source_col[i] < 0)
			continue;
		n += (size_t)snprintf(sql + n, sizeof(sql) - n, "%s SELECT '%s', %s, count(*) FROM %s"
				      " WHERE %s IS NOT NULL GROUP BY 2", first ? " INSERT INTO"
				      " source_rows" : " UNION ALL", t->names[i], source_name(t->names[i]),
				      t->names[i], source_name(t->names[i]));
		first = 0;
	}
	snprintf(sql + n, sizeof(sql) - n, "; COMMIT;");
	if (sqlite3_exec(t->db, sql, NULL, NULL, NULL) != SQLITE_OK) {
		int rc = cl_error_set(CL_EIO, "source_rows: %s", sqlite3_errmsg(t->db));

		sqlite3_exec(t->db, "ROLLBACK", NULL, NULL, NULL);
		return rc;
	}
	return 0;
}

int cl_lake_track(sqlite3 *db, struct cl_lake_tracker **out)
{
	struct cl_lake_tracker *t = cl_calloc(1, sizeof(*t));
	int rc;

	*out = NULL;
	if (!t)
		return CL_ENOMEM;
	t->db = db;
	if ((rc = cl_lake_notes_create(db))) {
		cl_free(t);
		return rc;
	}
	if ((rc = cl_lake_functions(db))) {
		cl_free(t);
		return rc;
	}
	for (int i = 0; t->ntables < MAX_TABLES; i++) {
		const char *part_src;
		char *name = t->names[t->ntables];
		if (!cl_lake_table(i, name, sizeof(t->names[0]), NULL, 0, &part_src))
			break;
		t->part_col[t->ntables] = part_src ? column(db, name, part_src) : -1;
		t->source_col[t->ntables] = column(db, name, source_name(name));
		t->ntables++;
	}
	if ((rc = counts_create(t))) {
		cl_free(t);
		return rc;
	}
	sqlite3_preupdate_hook(db, preupdate, t);
	sqlite3_rollback_hook(db, rollback, t);
	*out = t;
	return 0;
}

/* Adds the counts to source_rows; a source left with no rows in a table
 * leaves it. */
static int counts_flush(struct cl_lake_tracker *t)
{
	sqlite3_stmt *st = NULL, *gone = NULL;
	int rc = 0;

	if (t->ncounts == 0)
		return 0;
	if (sqlite3_prepare_v2(t->db, "INSERT INTO source_rows(table_name, source, rows) VALUES"
			       " (?1, ?2, ?3) ON CONFLICT DO UPDATE SET rows = rows + excluded.rows",
			       -1, &st, NULL) != SQLITE_OK ||
	    sqlite3_prepare_v2(t->db, "DELETE FROM source_rows WHERE table_name = ?1 AND source = ?2"
			       " AND rows <= 0", -1, &gone, NULL) != SQLITE_OK)
		rc = cl_error_set(CL_EIO, "source_rows: %s", sqlite3_errmsg(t->db));
	for (int i = 0; rc == 0 && i < t->ncounts; i++) {
		const struct count *c = &t->counts[i];

		if (c->delta == 0)
			continue;
		sqlite3_bind_text(st, 1, t->names[c->table], -1, SQLITE_STATIC);
		sqlite3_bind_text(st, 2, c->source, -1, SQLITE_STATIC);
		sqlite3_bind_int64(st, 3, c->delta);
		sqlite3_bind_text(gone, 1, t->names[c->table], -1, SQLITE_STATIC);
		sqlite3_bind_text(gone, 2, c->source, -1, SQLITE_STATIC);
		if (sqlite3_step(st) != SQLITE_DONE || sqlite3_step(gone) != SQLITE_DONE)
			rc = cl_error_set(CL_EIO, "source_rows: %s", sqlite3_errmsg(t->db));
		sqlite3_reset(st);
		sqlite3_reset(gone);
	}
	sqlite3_finalize(st);
	sqlite3_finalize(gone);
	if (rc == 0)
		t->ncounts = 0;
	return rc;
}

int cl_lake_flush(struct cl_lake_tracker *t)
{
	sqlite3_stmt *st;
	int rc = 0;

	if (!t)
		return 0;
	if (t->err)
		return cl_error_set(t->err, "noting lake changes: out of memory");
	if ((rc = counts_flush(t)) || t->n == 0)
		return rc;
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

int cl_lake_notes_create(sqlite3 *db)
{
	if (sqlite3_exec(db, notes_schema, NULL, NULL, NULL) != SQLITE_OK)
		return cl_error_set(CL_EIO, "lake change notes: %s", sqlite3_errmsg(db));
	return 0;
}

int cl_lake_note_part(sqlite3 *db, const char *table, const char *part)
{
	sqlite3_stmt *st = NULL;
	int rc = CL_OK;

	if (sqlite3_prepare_v2(db, "INSERT OR IGNORE INTO lake_dirty(table_name, part, claimed)"
			       " VALUES (?1, ?2, 0)", -1, &st, NULL) != SQLITE_OK) {
		rc = cl_error_set(CL_EIO, "noting lake changes: %s", sqlite3_errmsg(db));
	} else {
		sqlite3_bind_text(st, 1, table, -1, SQLITE_STATIC);
		sqlite3_bind_text(st, 2, part, -1, SQLITE_STATIC);
		if (sqlite3_step(st) != SQLITE_DONE)
			rc = cl_error_set(CL_EIO, "noting lake changes: %s", sqlite3_errmsg(db));
	}
	sqlite3_finalize(st);
	return rc;
}

int cl_lake_note_table(sqlite3 *db, const char *table)
{
	int rc = cl_lake_notes_create(db);

	return rc ? rc : cl_lake_note_part(db, table, "");
}

void cl_lake_untrack(struct cl_lake_tracker *t)
{
	if (!t)
		return;
	sqlite3_preupdate_hook(t->db, NULL, NULL);
	sqlite3_rollback_hook(t->db, NULL, NULL);
	cl_free(t->set);
	cl_free(t->counts);
	cl_free(t);
}
