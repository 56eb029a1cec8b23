/*
 * cl_lake.c — silver and gold tables as Delta Lake tables (see cl_lake.h
 * and docs/lake.md): which tables, and bringing their Delta copies up to
 * date from the notes cl_lake_track.c keeps.
 *
 * observation is partitioned by `effective_date`, the UTC day of
 * effective_ts (lake_day(), the same rule the notes use); rows without a
 * readable effective_ts go to the null partition, as Spark would put them.
 * The stream's vital_rollup (written by the serving store, which notes its
 * days itself: cl_lake_note_part) is partitioned by `start_date`, the UTC
 * day of its start_us. The other tables are small and rewritten whole
 * when they change.
 */
#include "lake/cl_lake.h"

#include <limits.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>

#include <jansson.h>

#include "core/cl_error.h"
#include "core/cl_fs.h"
#include "core/cl_log.h"
#include "core/cl_mem.h"
#include "core/cl_time.h"
#include "lake/cl_delta.h"
#include "lake/cl_lake_cols.h"
#include "lake/cl_lake_loc.h"
#include "lake/cl_parquet.h"
#include "model/cl_tables.h"

#define NULL_PART "__HIVE_DEFAULT_PARTITION__"

#define MiB (1024ll * 1024)
#define GiB (1024ll * 1024 * 1024)
#define SEC 1000000ll
#define DAY_US (86400 * SEC)
#define F(field) offsetof(struct cl_lake_settings, field)

static const struct cl_config_entry lake_entries[] = {
	{ "enabled", CL_CFG_U32, "1", 0, 1, F(enabled),
	  "1: keep every silver and gold table also as a Delta Lake table under silver/ and "
	  "gold/; 0: only in carelake.db", NULL },
	{ "codec", CL_CFG_CHOICE, "zstd", 0, 0, F(codec),
	  "compression of the Parquet files carelake writes: zstd, snappy or none",
	  "zstd|snappy|none" },
	{ "zstd_level", CL_CFG_U32, "3", 1, 19, F(zstd_level),
	  "zstd level for Parquet pages (higher: smaller and slower)", NULL },
	{ "row_group_rows", CL_CFG_U32, "1048576", 1024, 67108864, F(row_group_rows),
	  "rows per Parquet row group", NULL },
	{ "target_file_size", CL_CFG_SIZE, "128MiB", 1 * MiB, 16 * GiB, F(target_file_bytes),
	  "optimize compacts files smaller than this into files of about this size", NULL },
	{ "checkpoint_interval", CL_CFG_U32, "10", 1, 100000, F(checkpoint_interval),
	  "write a Parquet checkpoint of a Delta table's log every this many commits", NULL },
	{ "interval", CL_CFG_DURATION, "30s", 0, 86400 * SEC, F(interval_us),
	  "serve brings the Delta tables up to date at most this often (ingest and refine "
	  "do it at once)", NULL },
	{ "maintenance_interval", CL_CFG_DURATION, "1h", 0, 30 * 86400 * SEC, F(maintenance_us),
	  "serve compacts (optimize) and cleans up (vacuum, after lake.retention) every Delta "
	  "table this often; 0: never", NULL },
	{ "retention", CL_CFG_DURATION, "7d", 0, 3650 * 86400 * SEC, F(retention_us),
	  "vacuum deletes files removed from a Delta table longer ago than this", NULL },
	{ "uri", CL_CFG_STRING, "", 0, 0, F(uri),
	  "where the Delta tables live: empty for silver/ and gold/ in the data directory, or "
	  "abfss://container@account.dfs.core.windows.net/path, az://container/path or "
	  "s3://bucket/prefix (docs/objectstorage.md)", NULL },
	{ "single_writer", CL_CFG_U32, "0", 0, 1, F(single_writer),
	  "1: this process is the only writer of the tables at lake.uri, so a store that cannot "
	  "do conditional creates may still be written (commits serialised in the process); 0: "
	  "such a store is refused", NULL },
};

const struct cl_config_section cl_lake_section = {
	.name = "lake",
	.entries = lake_entries,
	.nentries = sizeof(lake_entries) / sizeof(lake_entries[0]),
	.size = sizeof(struct cl_lake_settings),
};

const struct cl_lake_settings *cl_lake_settings(const struct cl_config *c)
{
	return cl_config_get(c, &cl_lake_section);
}

void cl_lake_root(const struct cl_config *c, const char *data_dir, char *out, size_t cap)
{
	const char *uri = cl_lake_settings(c)->uri;
	snprintf(out, cap, "%s", uri[0] ? uri : data_dir);
	/* "s3://bucket/lake/" and "s3://bucket/lake" are one place */
	for (size_t n = strlen(out); n > 1 && out[n - 1] == '/' && out[n - 2] != '/'; n--)
		out[n - 1] = 0;
}

void cl_lake_opts_from_config(struct cl_lake_opts *o, const struct cl_config *cfg)
{
	const struct cl_lake_settings *ls = cl_lake_settings(cfg);

	o->enabled = ls->enabled != 0;
	o->codec = strcmp(ls->codec, "snappy") == 0 ? CL_PQ_CODEC_SNAPPY
		 : strcmp(ls->codec, "none") == 0 ? CL_PQ_CODEC_NONE
		 : CL_PQ_CODEC_ZSTD;
	o->zstd_level = (int)ls->zstd_level;
	o->row_group_rows = ls->row_group_rows;
	o->checkpoint_interval = (int)ls->checkpoint_interval;
	if (ls->uri[0])
		cl_lake_root(cfg, "", o->uri, sizeof(o->uri));
	else
		o->uri[0] = 0;
}

int cl_lake_table(int i, char *name, size_t ncap, char *dir, size_t dcap, const char **part_src)
{
	int naux = 0;
	const char *n = NULL, *kind = "silver", *leaf;

	while (cl_silver_aux_tables[naux].name)
		naux++;
	if (i < CL_SILVER_TABLES) {
		n = cl_silver_tables[i].name;
	} else if (i - CL_SILVER_TABLES < naux) {
		n = cl_silver_aux_tables[i - CL_SILVER_TABLES].name;
	} else {
		int g = 0;
		for (; cl_gold_tables[g].name; g++)
			if (g == i - CL_SILVER_TABLES - naux)
				n = cl_gold_tables[g].name;
		/* last, the stream's rollups, kept by the serving store */
		if (!n && i - CL_SILVER_TABLES - naux == g)
			n = "vital_rollup";
		kind = "gold";
	}
	if (!n)
		return 0;
	leaf = strncmp(n, "gold_", 5) == 0 ? n + 5 : n;
	snprintf(name, ncap, "%s", n);
	if (dir)
		snprintf(dir, dcap, "%s/%s", kind, leaf);
	if (part_src)
		*part_src = strcmp(n, "observation") == 0 ? "effective_ts"
			  : strcmp(n, "vital_rollup") == 0 ? "start_us" : NULL;
	return 1;
}

/* The partition column of a table partitioned by the day of `part_src`:
 * effective_ts gives effective_date, start_us start_date. */
static void part_name(const char *part_src, char *out, size_t cap)
{
	size_t n = strlen(part_src);

	if (n > 3 && (strcmp(part_src + n - 3, "_ts") == 0 || strcmp(part_src + n - 3, "_us") == 0))
		n -= 3;
	snprintf(out, cap, "%.*s_date", (int)n, part_src);
}

int cl_lake_resolve(const char *name, char *table, size_t tcap, char *dir, size_t dcap)
{
	char n[64], d[96];
	const char *bare = name;
	int want_gold = strncmp(name, "gold.", 5) == 0, want_silver = strncmp(name, "silver.", 7) == 0;

	if (want_gold || want_silver)
		bare = strchr(name, '.') + 1;
	for (int i = 0; cl_lake_table(i, n, sizeof(n), d, sizeof(d), NULL); i++) {
		int gold = strncmp(d, "gold/", 5) == 0;
		if ((want_gold && !gold) || (want_silver && gold))
			continue;
		if (strcmp(bare, n) == 0 || strcmp(bare, strchr(d, '/') + 1) == 0) {
			snprintf(table, tcap, "%s", n);
			if (dir)
				snprintf(dir, dcap, "%s", d);
			return 0;
		}
	}
	return cl_error_set(CL_ENOENT, "no table '%.80s' (silver: patient, encounter, "
			    "observation, ...; gold: admissions_daily, ...; see docs/lake.md)", name);
}

int64_t cl_lake_pending(sqlite3 *db)
{
	sqlite3_stmt *st;
	int64_t n = 0;

	if (sqlite3_prepare_v2(db, "SELECT count(*) FROM lake_dirty", -1, &st, NULL) != SQLITE_OK)
		return 0;
	if (sqlite3_step(st) == SQLITE_ROW)
		n = sqlite3_column_int64(st, 0);
	sqlite3_finalize(st);
	return n;
}

json_t *cl_lake_pending_tables(sqlite3 *db)
{
	json_t *arr = json_array();
	sqlite3_stmt *st;

	if (!arr || sqlite3_prepare_v2(db, "SELECT table_name, count(*) FROM lake_dirty"
				       " GROUP BY table_name ORDER BY table_name", -1, &st,
				       NULL) != SQLITE_OK)
		return arr;
	while (sqlite3_step(st) == SQLITE_ROW)
		json_array_append_new(arr, json_pack("{s:s,s:I}", "table_name",
						     (const char *)sqlite3_column_text(st, 0),
						     "partitions",
						     (json_int_t)sqlite3_column_int64(st, 1)));
	sqlite3_finalize(st);
	return arr;
}

static int exec(sqlite3 *db, const char *sql)
{
	if (sqlite3_exec(db, sql, NULL, NULL, NULL) != SQLITE_OK)
		return cl_error_set(CL_EIO, "lake: %s", sqlite3_errmsg(db));
	return 0;
}

/* ---- sync ------------------------------------------------------------- */

/* One table being synced. */
struct sync {
	sqlite3 *db;
	char name[64];             /* SQLite table */
	char dir[96];              /* under the data directory */
	char tdir[PATH_MAX];       /* the Delta table */
	const char *part_src;      /* partitioned by the day of this column, or NULL */
	char part[32];             /* ...in this partition column (part_name) */
	struct cl_lake_cols c;
	const struct cl_lake_opts *o;
	struct cl_delta_txn *txn;
	const struct cl_delta_snapshot *snap;
	int all;                   /* rewrite everything (new table, new schema) */
	struct cl_lake_summary *sum;
	json_t *written;           /* paths of the data files this sync created */
	char staged[PATH_MAX];     /* the file being written: the table's own
	                              path, or a staging file for object storage */
};

/* Whether the Delta table's schema is the one the columns give. */
static int schema_matches(const struct sync *s)
{
	size_t want = (size_t)s->c.n + (s->part_src ? 1 : 0);
	if (s->snap->nfields != want)
		return 0;
	for (int i = 0; i < s->c.n; i++)
		if (strcmp(s->snap->fields[i].name, s->c.name[i]) ||
		    strcmp(s->snap->fields[i].type, cl_delta_type_of(cl_lake_pq_type(s->c.kind[i]))))
			return 0;
	return 1;
}

/* Claims the table's notes: the ones this sync will clear once committed.
 * Notes made from now on stay unclaimed, for the next sync. */
static int claim(struct sync *s)
{
	sqlite3_stmt *st;
	int rc = exec(s->db, "BEGIN IMMEDIATE");
	if (rc)
		return rc;
	if (sqlite3_prepare_v2(s->db, "UPDATE OR IGNORE lake_dirty SET claimed = 1 WHERE "
			       "table_name = ?1 AND claimed = 0", -1, &st, NULL) != SQLITE_OK) {
		exec(s->db, "ROLLBACK");
		return cl_error_set(CL_EIO, "lake: %s", sqlite3_errmsg(s->db));
	}
	sqlite3_bind_text(st, 1, s->name, -1, SQLITE_STATIC);
	rc = sqlite3_step(st) == SQLITE_DONE ? 0 : cl_error_set(CL_EIO, "lake: %s",
								sqlite3_errmsg(s->db));
	sqlite3_finalize(st);
	if (rc) {
		exec(s->db, "ROLLBACK");
		return rc;
	}
	return exec(s->db, "COMMIT");
}

/* The claimed partitions, in a JSON array (empty: nothing to do). */
static int claimed(struct sync *s, json_t *parts)
{
	sqlite3_stmt *st;
	if (sqlite3_prepare_v2(s->db, "SELECT part FROM lake_dirty WHERE table_name = ?1 AND "
			       "claimed = 1 ORDER BY part", -1, &st, NULL) != SQLITE_OK)
		return cl_error_set(CL_EIO, "lake: %s", sqlite3_errmsg(s->db));
	sqlite3_bind_text(st, 1, s->name, -1, SQLITE_STATIC);
	while (sqlite3_step(st) == SQLITE_ROW)
		json_array_append_new(parts, json_string((const char *)sqlite3_column_text(st, 0)));
	sqlite3_finalize(st);
	return 0;
}

/* Ends the file being written and adds it to the transaction. */
static int finish_file(struct sync *s, struct cl_lake_file *f, const char *rel, const char *part)
{
	struct cl_pq_file_stats stats;
	const char *names[CL_LAKE_MAX_COLS];
	enum cl_pq_type types[CL_LAKE_MAX_COLS];
	int64_t rows = f->rows;

	s->sum->unconverted += f->unconverted;
	char dest[PATH_MAX + 300];
	snprintf(dest, sizeof(dest), "%s/%s", s->tdir, rel);
	int rc = cl_lake_file_close(f, &stats);
	if (rc)
		return rc;
	if ((rc = cl_lake_loc_publish(s->staged, dest))) {
		cl_pq_file_stats_free(&stats);
		return rc;
	}
	for (int i = 0; i < s->c.n; i++) {
		names[i] = s->c.name[i];
		types[i] = cl_lake_pq_type(s->c.kind[i]);
	}
	char *js = cl_delta_stats_json(&stats, names, types);
	const char *pv[1] = { part && part[0] ? part : NULL };
	rc = js ? cl_delta_txn_add(s->txn, rel, s->part_src ? pv : NULL, stats.bytes, js, true)
		: CL_ENOMEM;
	s->sum->rows += rows;
	s->sum->bytes += stats.bytes;
	cl_free(js);
	cl_pq_file_stats_free(&stats);
	return rc;
}

/*
 * For a sync of some days: a range on the day column around each dirty
 * day. An instant in microseconds (vital_rollup's start_us) gives the day
 * exactly. Text gives from the day before to the day after (a UTC offset
 * moves the written date by less than a day; "2026" and "2026-03" sort
 * inside their day's range too). With an index on that column
 * (observation_time, vital_rollup_start) the rows are found without
 * reading the whole table. Writes nothing when a dirty partition has no
 * day, or so many are dirty that a scan is as good.
 */
static int day_ranges(struct sync *s, char *out, size_t cap)
{
	sqlite3_stmt *st;
	size_t n = 0;
	int count = 0, ok = 1, step, micros = 0;

	for (int i = 0; i < s->c.n; i++)
		if (strcmp(s->c.name[i], s->part_src) == 0)
			micros = s->c.kind[i] == CL_LAKE_LONG;
	out[0] = '\0';
	if (sqlite3_prepare_v2(s->db, "SELECT part FROM lake_dirty WHERE table_name = ?1 AND"
			       " claimed = 1", -1, &st, NULL) != SQLITE_OK)
		return cl_error_set(CL_EIO, "lake: %s", sqlite3_errmsg(s->db));
	sqlite3_bind_text(st, 1, s->name, -1, SQLITE_STATIC);
	while (ok && (step = sqlite3_step(st)) == SQLITE_ROW) {
		const char *day = (const char *)sqlite3_column_text(st, 0);
		char lo[24], hi[24], d[11];
		int64_t us;

		if (!day || strlen(day) != 10 || ++count > 64 ||
		    cl_lake_parse_instant(day, 10, &us) != 0) {
			ok = 0;
			break;
		}
		if (micros) {
			snprintf(lo, sizeof(lo), "%lld", (long long)us);
			snprintf(hi, sizeof(hi), "%lld", (long long)(us + DAY_US));
		} else {
			cl_time_format_day(us - DAY_US, d);
			snprintf(lo, sizeof(lo), "'%s'", d);
			cl_time_format_day(us + 2 * DAY_US, d);
			snprintf(hi, sizeof(hi), "'%s'", d);
		}
		n += (size_t)snprintf(out + n, n < cap ? cap - n : 0,
				      "%s(\"%s\" >= %s AND \"%s\" < %s)", count > 1 ? " OR " : "",
				      s->part_src, lo, s->part_src, hi);
		if (n >= cap)
			ok = 0;
	}
	sqlite3_finalize(st);
	if (!ok || count == 0)
		out[0] = '\0';
	return CL_OK;
}

/* Writes the rows of the partitions to rewrite — every row when `all`,
 * else those in claimed partitions — one file per partition, from one
 * scan in partition order. */
static int write_rows(struct sync *s)
{
	char sql[12288], ranges[8192], path[PATH_MAX + 300], rel[256], file[128], part[16] = "";
	sqlite3_stmt *st;
	struct cl_lake_file f = { 0 };
	int rc = 0, step, open = 0;

	/* the partition rides along as an extra column after the table's */
	char part_col[128];
	snprintf(part_col, sizeof(part_col), "lake_day(\"%s\") AS _part",
		 s->part_src ? s->part_src : "");
	cl_lake_select(&s->c, s->part_src ? part_col : NULL, s->name, sql, sizeof(sql));
	if (s->part_src) {
		if (!s->all && (rc = day_ranges(s, ranges, sizeof(ranges))) != 0)
			return rc;
		if (!s->all)
			snprintf(sql + strlen(sql), sizeof(sql) - strlen(sql),
				 " WHERE %s%s%s_part IN (SELECT part FROM lake_dirty WHERE table_name ="
				 " '%s' AND claimed = 1)", ranges[0] ? "(" : "", ranges,
				 ranges[0] ? ") AND " : "", s->name);
		snprintf(sql + strlen(sql), sizeof(sql) - strlen(sql), " ORDER BY _part, \"%s\"",
			 s->part_src);
	}
	if (sqlite3_prepare_v2(s->db, sql, -1, &st, NULL) != SQLITE_OK)
		return cl_error_set(CL_EIO, "lake: reading %s: %s", s->name, sqlite3_errmsg(s->db));
	while (rc == 0 && (step = sqlite3_step(st)) == SQLITE_ROW) {
		const char *p = s->part_src ? (const char *)sqlite3_column_text(st, s->c.n) : "";
		p = p ? p : "";
		if (open && strcmp(p, part) != 0) {
			rc = finish_file(s, &f, rel, part);
			open = 0;
			s->sum->partitions++;
		}
		if (rc == 0 && !open) {
			char sub[128] = "";
			snprintf(part, sizeof(part), "%s", p);
			if (s->part_src)
				snprintf(sub, sizeof(sub), "%s=%s/", s->part, p[0] ? p : NULL_PART);
			cl_lake_file_name(file, sizeof(file), s->o->codec);
			snprintf(rel, sizeof(rel), "%s%s", sub, file);
			snprintf(path, sizeof(path), "%s/%s", s->tdir, rel);
			rc = cl_lake_loc_stage(path, s->staged, sizeof(s->staged));
			if (rc == 0)
				rc = cl_lake_file_open(&f, s->staged, 0600, &s->c, s->o);
			open = rc == 0;
			if (rc == 0 && json_array_append_new(s->written, json_string(path)) != 0)
				rc = CL_ENOMEM;
		}
		if (rc == 0)
			rc = cl_lake_file_row(&f, st);
	}
	if (rc == 0 && step != SQLITE_DONE)
		rc = cl_error_set(CL_EIO, "lake: reading %s: %s", s->name, sqlite3_errmsg(s->db));
	sqlite3_finalize(st);
	if (rc == 0 && open) {
		rc = finish_file(s, &f, rel, part);
		s->sum->partitions++;
		open = 0;
	}
	if (open)
		cl_lake_file_abort(&f);
	return rc;
}

/* Drops, from the transaction, the files of every partition rewritten. */
static int remove_files(struct sync *s, json_t *parts)
{
	for (size_t i = 0; s->snap && i < s->snap->nfiles; i++) {
		const struct cl_delta_file *f = &s->snap->files[i];
		int hit = s->all || !s->part_src;
		size_t k;
		json_t *p;
		json_array_foreach(parts, k, p) {
			const char *pv = f->part_values ? f->part_values[0] : NULL;
			if (!hit && strcmp(pv ? pv : "", json_string_value(p)) == 0)
				hit = 1;
		}
		if (hit) {
			int rc = cl_delta_txn_remove(s->txn, f->path, true);
			if (rc)
				return rc;
		}
	}
	return 0;
}

static int set_schema(struct sync *s)
{
	struct cl_delta_field f[CL_LAKE_MAX_COLS + 1];
	const char *pc[1] = { s->part };

	for (int i = 0; i < s->c.n; i++)
		f[i] = (struct cl_delta_field){ s->c.name[i],
						(char *)cl_delta_type_of(cl_lake_pq_type(s->c.kind[i])),
						true };
	if (s->part_src)
		f[s->c.n] = (struct cl_delta_field){ s->part, "date", true };
	return cl_delta_txn_set_schema(s->txn, f, (size_t)s->c.n + (s->part_src ? 1 : 0),
				       s->part_src ? pc : NULL, s->part_src ? 1 : 0,
				       strchr(s->dir, '/') + 1);
}

/* Deletes the data files a sync wrote for a commit that took no version:
 * no version names them, so no reader ever sees them. */
static void drop_written(struct sync *s)
{
	size_t i;
	json_t *p;

	json_array_foreach(s->written, i, p)
		cl_lake_loc_unlink(json_string_value(p));
}

/* Brings one table's Delta copy up to date. */
static int sync_table(struct sync *s)
{
	json_t *parts = json_array();
	int64_t version = -1;
	int rc, reading = 0;

	s->written = json_array();
	if (!parts || !s->written) {
		json_decref(parts);
		json_decref(s->written);
		return CL_ENOMEM;
	}
	rc = claim(s);
	if (rc == 0)
		rc = cl_delta_txn_begin(&s->txn, s->tdir);
	if (rc == 0)
		cl_delta_txn_checkpoint_every(s->txn, s->o->checkpoint_interval);
	/* one read transaction: every partition from the same state */
	if (rc == 0 && (rc = exec(s->db, "BEGIN")) == 0)
		reading = 1;
	if (rc == 0)
		rc = cl_lake_read_columns(s->db, s->name, &s->c);
	if (rc == 0) {
		s->snap = cl_delta_txn_snapshot(s->txn);
		s->all = !s->snap || !schema_matches(s);
		rc = claimed(s, parts);
	}
	if (rc == 0 && !s->all && json_array_size(parts) == 0)
		goto out; /* nothing changed */
	if (rc == 0 && s->all)
		rc = set_schema(s);
	if (rc == 0)
		rc = remove_files(s, parts);
	if (rc == 0)
		rc = write_rows(s);
	if (reading)
		exec(s->db, "COMMIT"); /* ends the read; a failure before it keeps its detail */
	reading = 0;
	if (rc == 0) {
		char by[80] = "[]";
		if (s->part_src)
			snprintf(by, sizeof(by), "[\"%s\"]", s->part);
		json_t *params = json_pack("{s:s, s:s}", "mode", "Overwrite", "partitionBy", by);
		rc = CL_ENOMEM;
		if (params) {
			rc = cl_delta_txn_commit(s->txn, "WRITE", params, &version);
			s->txn = NULL; /* freed by the commit */
		}
		json_decref(params);
		if (rc == 0)
			s->sum->tables++;
	}
	/* committed: the claimed notes are done with */
	if (rc == 0) {
		sqlite3_stmt *st;
		if (sqlite3_prepare_v2(s->db, "DELETE FROM lake_dirty WHERE table_name = ?1 AND "
				       "claimed = 1", -1, &st, NULL) != SQLITE_OK)
			rc = cl_error_set(CL_EIO, "lake: %s", sqlite3_errmsg(s->db));
		else {
			sqlite3_bind_text(st, 1, s->name, -1, SQLITE_STATIC);
			if (sqlite3_step(st) != SQLITE_DONE)
				rc = cl_error_set(CL_EIO, "lake: %s", sqlite3_errmsg(s->db));
			sqlite3_finalize(st);
		}
	}
out:
	if (reading)
		exec(s->db, "COMMIT");
	if (rc && version < 0)
		drop_written(s);
	cl_delta_txn_free(s->txn);
	s->txn = NULL;
	json_decref(parts);
	json_decref(s->written);
	s->written = NULL;
	return rc;
}

int cl_lake_sync(sqlite3 *db, const char *data_dir, const struct cl_lake_opts *o,
		 struct cl_lake_summary *sum)
{
	int first = 0, rc;

	memset(sum, 0, sizeof(*sum));
	if (!o->enabled)
		return 0;
	if ((rc = cl_lake_functions(db)))
		return rc;
	for (int i = 0;; i++) {
		struct sync s = { .db = db, .o = o, .sum = sum };
		if (!cl_lake_table(i, s.name, sizeof(s.name), s.dir, sizeof(s.dir), &s.part_src))
			break;
		/* vital_rollup is made by the serving store, which may never
		 * have run on this data directory */
		if (sqlite3_table_column_metadata(db, NULL, s.name, NULL, NULL, NULL, NULL, NULL,
						  NULL) != SQLITE_OK)
			continue;
		snprintf(s.tdir, sizeof(s.tdir), "%s/%s", o->uri[0] ? o->uri : data_dir, s.dir);
		if (s.part_src)
			part_name(s.part_src, s.part, sizeof(s.part));
		rc = sync_table(&s);
		if (rc) {
			cl_log_error("lake", "event=sync_failed table=%s detail=%s", CL_LOG_Q(s.name),
				     CL_LOG_Q(cl_error_detail()));
			if (!first)
				first = cl_error_set(rc, "%s: %s", s.dir, cl_error_detail());
		}
	}
	if (sum->unconverted)
		cl_log_warn("lake", "event=unconverted values=%lld (null in the Delta copy; "
			    "text that is not a timestamp, or a number that is not one)",
			    (long long)sum->unconverted);
	return first;
}
