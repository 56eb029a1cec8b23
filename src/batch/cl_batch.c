/*
 * Batch loads. See cl_batch.h.
 */
#include "cl_batch.h"
#include "batch/cl_csv_map.h"
#include "batch/cl_fhir_res.h"
#include "batch/cl_fhir_rows.h"
#include "batch/cl_gold.h"
#include "batch/cl_xlsx.h"
#include "lake/cl_parquet.h"
#include "ml/cl_readm_score.h"
#include "store/cl_db.h"
#include "store/cl_store.h"
#include "bronze/cl_archive.h"
#include "bronze/cl_bronze.h"
#include "bronze/cl_manifest.h"
#include "bronze/cl_reader.h"
#include "json/cl_json.h"
#include "ingest/cl_event.h"
#include "core/cl_error.h"
#include "core/cl_fs.h"
#include "core/cl_log.h"
#include "core/cl_map.h"
#include "core/cl_mem.h"
#include "core/cl_time.h"
#include "core/cl_worker.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <limits.h>
#include <sodium.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define FILE_MAX ((size_t)1 << 30)   /* 1 GiB per file */

static const char schema[] =
	/* a load touches index pages all over: keep them in memory rather
	 * than rereading them from the OS for every row */
	"PRAGMA cache_size = -262144;"
	"PRAGMA temp_store = MEMORY;"
	/* the indexes a bulk load builds again at commit are sorted with a
	 * helper thread: the second core, idle once the rows are in */
	"PRAGMA threads = 1;"
	"CREATE TABLE IF NOT EXISTS bronze_file(hash TEXT PRIMARY KEY, source TEXT NOT NULL,"
	" path TEXT NOT NULL, name TEXT NOT NULL, bytes INTEGER NOT NULL, format TEXT NOT NULL,"
	" run_id INTEGER NOT NULL, ingested_us INTEGER NOT NULL);"
	"CREATE TABLE IF NOT EXISTS pipeline_run(id INTEGER PRIMARY KEY AUTOINCREMENT,"
	" pipeline TEXT NOT NULL, trigger TEXT NOT NULL, attempts INTEGER NOT NULL DEFAULT 1,"
	" start_us INTEGER NOT NULL, end_us INTEGER, state TEXT NOT NULL,"
	" files INTEGER, records INTEGER, accepted INTEGER, duplicates INTEGER,"
	" quarantined INTEGER, warnings INTEGER, error TEXT);"
	"CREATE TABLE IF NOT EXISTS refine_checkpoint(source TEXT PRIMARY KEY,"
	" next_offset INTEGER NOT NULL);";

struct cl_batch {
	char data_dir[PATH_MAX];
	sqlite3 *db;
	struct cl_silver *silver;
	int64_t gold_mono;       /* when gold was last refreshed */
	char sheet[128];         /* XLSX: the sheet to read ("": the first) */
	char mapping[48];        /* CSV: the mapping to read through ("": by header) */
	struct cl_lake_opts lake; /* the Delta copy of silver and gold */
	const struct cl_config *cfg; /* the settings it was configured with, or NULL */
	char archive_uri[CL_CFG_STRING_MAX]; /* bronze.archive_uri: where a rebuild finds
	                                        kept files gone from the disk */
	struct cl_lake_tracker *lake_notes; /* what changed, for it */
	struct cl_fhir_rows *rows; /* silver rows served as FHIR resources */
	int64_t lake_interval_us; /* sync it at most this often (0: after every run) */
	int64_t lake_mono;       /* when it was last synced */
	struct cl_readm_model *readm; /* the promoted readmission model, loaded */
	struct cl_worker *wal;   /* checkpoints the WAL, poked after each commit; NULL:
	                            the commits do (SQLite's automatic checkpoints) */
};

/* The cl-batch-wal worker: checkpoints carelake.db's WAL on a connection
 * of its own after each commit of the batch's (and once a second), so
 * that the thread committing a load does not copy the pages it just
 * wrote into the database file as well: the next load goes on meanwhile.
 * A passive checkpoint: it waits for no one and no one waits for it. */
static void wal_main(struct cl_worker *w, void *arg)
{
	struct cl_store *st = arg;

	while (!cl_worker_wait(w, 1000000))
		cl_store_wal_checkpoint(st);
	cl_store_close(st);
}

/* Starts the checkpointer; without it (no thread, no connection), the
 * batch's connection checkpoints in its commits, as SQLite does. */
static void wal_start(struct cl_batch *b)
{
	struct cl_store *st;

	if (cl_store_open(b->data_dir, &st) != CL_OK)
		return;
	if (sqlite3_exec(b->db, "PRAGMA wal_autocheckpoint = 0", NULL, NULL, NULL) != SQLITE_OK ||
	    cl_worker_start("cl-batch-wal", wal_main, st, &b->wal) != CL_OK) {
		sqlite3_exec(b->db, "PRAGMA wal_autocheckpoint = 1000", NULL, NULL, NULL);
		cl_store_close(st);
		b->wal = NULL;
	}
}

sqlite3 *cl_batch_db(struct cl_batch *b)
{
	return b->db;
}

void cl_batch_set_archive(struct cl_batch *b, const struct cl_config *cfg, const char *uri)
{
	b->cfg = cfg;
	snprintf(b->archive_uri, sizeof(b->archive_uri), "%s", uri ? uri : "");
}

void cl_batch_set_lake(struct cl_batch *b, const struct cl_lake_opts *o, int64_t interval_us)
{
	b->lake = *o;
	b->lake_interval_us = interval_us;
}

void cl_batch_set_mapping(struct cl_batch *b, const char *mapping)
{
	snprintf(b->mapping, sizeof(b->mapping), "%s", mapping ? mapping : "");
}

int cl_batch_set_references(struct cl_batch *b, const char *action)
{
	return cl_silver_set_references(b->silver, action);
}

int cl_batch_expect(struct cl_batch *b, const struct cl_expectation *e, int n)
{
	return cl_silver_expect(b->silver, e, n);
}

void cl_batch_set_sheet(struct cl_batch *b, const char *sheet)
{
	snprintf(b->sheet, sizeof(b->sheet), "%s", sheet ? sheet : "");
}

static int db_fail(sqlite3 *db, const char *what)
{
	return cl_error_set(CL_EIO, "carelake.db: %s: %s", what, sqlite3_errmsg(db));
}

int cl_batch_open(const char *data_dir, struct cl_batch **out)
{
	struct cl_batch *b = cl_calloc(1, sizeof(*b));
	int rc;

	if (!b)
		return cl_error_set(CL_ENOMEM, "no memory");
	snprintf(b->data_dir, sizeof(b->data_dir), "%s", data_dir);
	rc = cl_fs_mkdirs(data_dir);
	if (rc == CL_OK) {
		/* the serving tables (alerts feed gold), as the stream makes them */
		struct cl_store *st;

		rc = cl_store_create(data_dir, &st);
		cl_store_close(st);
	}
	if (rc == CL_OK)
		rc = cl_db_open(data_dir, CL_DB_READWRITE, &b->db);
	if (rc == CL_OK) {
		if (sqlite3_exec(b->db, schema, NULL, NULL, NULL) != SQLITE_OK)
			rc = db_fail(b->db, "schema");
	}
	if (rc == CL_OK)
		rc = cl_silver_open(b->db, &b->silver);
	if (rc == CL_OK)
		rc = cl_gold_create(b->db);
	if (rc == CL_OK)
		rc = cl_lake_track(b->db, &b->lake_notes);
	if (rc == CL_OK)
		rc = cl_fhir_rows_open(b->db, cl_silver_fhir(b->silver), &b->rows);
	if (rc == CL_OK)
		wal_start(b);
	b->lake = (struct cl_lake_opts){ .enabled = 1, .codec = CL_PQ_CODEC_ZSTD, .zstd_level = 3,
					 .row_group_rows = 1u << 20, .checkpoint_interval = 10 };
	if (rc) {
		cl_batch_close(b);
		return rc;
	}
	*out = b;
	return CL_OK;
}

void cl_batch_close(struct cl_batch *b)
{
	if (!b)
		return;
	/* stopped first: closing, the last connection checkpoints all */
	cl_worker_stop(b->wal);
	cl_fhir_rows_close(b->rows);
	cl_silver_close(b->silver);
	cl_lake_untrack(b->lake_notes);
	cl_readm_model_free(b->readm);
	sqlite3_close(b->db);
	cl_free(b);
}

/* ---- runs ---- */

int64_t cl_batch_queue(struct cl_batch *b, const char *pipeline, const char *trigger)
{
	sqlite3_stmt *q;
	int64_t id = 0;

	if (sqlite3_prepare_v2(b->db, "INSERT INTO pipeline_run(pipeline, trigger, start_us, state,"
			       " attempts) VALUES (?1, ?2, ?3, 'Queued', 0)", -1, &q, NULL) !=
	    SQLITE_OK)
		return 0;
	sqlite3_bind_text(q, 1, pipeline, -1, SQLITE_STATIC);
	sqlite3_bind_text(q, 2, trigger, -1, SQLITE_STATIC);
	sqlite3_bind_int64(q, 3, cl_time_now_us());
	if (sqlite3_step(q) == SQLITE_DONE)
		id = sqlite3_last_insert_rowid(b->db);
	sqlite3_finalize(q);
	return id;
}

/* A run starts: a new row, or a queued one taken up (its next attempt). */
static int64_t run_start(struct cl_batch *b, const char *pipeline, const char *trigger,
			 int attempt, int64_t queued)
{
	sqlite3_stmt *q;
	int64_t id = 0;

	if (queued) {
		if (sqlite3_prepare_v2(b->db, "UPDATE pipeline_run SET state = 'InProgress',"
				       " attempts = ?2 WHERE id = ?1", -1, &q, NULL) != SQLITE_OK)
			return 0;
		sqlite3_bind_int64(q, 1, queued);
		sqlite3_bind_int(q, 2, attempt > 0 ? attempt : 1);
		if (sqlite3_step(q) == SQLITE_DONE && sqlite3_changes(b->db) == 1)
			id = queued;
		sqlite3_finalize(q);
		return id;
	}
	if (sqlite3_prepare_v2(b->db, "INSERT INTO pipeline_run(pipeline, trigger, start_us, state,"
			       " attempts) VALUES (?1, ?2, ?3, 'InProgress', ?4)", -1, &q, NULL) !=
	    SQLITE_OK)
		return 0;
	sqlite3_bind_text(q, 1, pipeline, -1, SQLITE_STATIC);
	sqlite3_bind_text(q, 2, trigger, -1, SQLITE_STATIC);
	sqlite3_bind_int64(q, 3, cl_time_now_us());
	sqlite3_bind_int(q, 4, attempt > 0 ? attempt : 1);
	if (sqlite3_step(q) == SQLITE_DONE)
		id = sqlite3_last_insert_rowid(b->db);
	sqlite3_finalize(q);
	return id;
}

/* A run ends: Succeeded, Failed, or Queued again when a retry follows. */
static void run_end(struct cl_batch *b, const struct cl_batch_summary *s, int retry_follows)
{
	sqlite3_stmt *q;

	if (sqlite3_prepare_v2(b->db, "UPDATE pipeline_run SET end_us = ?2, state = ?3, files = ?4,"
			       " records = ?5, accepted = ?6, duplicates = ?7, quarantined = ?8,"
			       " warnings = ?9, error = ?10 WHERE id = ?1", -1, &q, NULL) != SQLITE_OK)
		return;
	sqlite3_bind_int64(q, 1, s->run_id);
	sqlite3_bind_int64(q, 2, cl_time_now_us());
	sqlite3_bind_text(q, 3, !s->failed ? "Succeeded" : retry_follows ? "Queued" : "Failed", -1,
			  SQLITE_STATIC);
	sqlite3_bind_int64(q, 4, (sqlite3_int64)s->files);
	sqlite3_bind_int64(q, 5, (sqlite3_int64)s->c.records);
	sqlite3_bind_int64(q, 6, (sqlite3_int64)s->c.accepted);
	sqlite3_bind_int64(q, 7, (sqlite3_int64)s->c.duplicates);
	sqlite3_bind_int64(q, 8, (sqlite3_int64)s->c.quarantined);
	sqlite3_bind_int64(q, 9, (sqlite3_int64)s->c.warnings);
	if (s->error[0])
		sqlite3_bind_text(q, 10, s->error, -1, SQLITE_STATIC);
	sqlite3_step(q);
	sqlite3_finalize(q);
}

/* ---- one file ---- */

static void hash_hex(const char *data, size_t len, char hex[65])
{
	unsigned char h[32];

	crypto_generichash(h, sizeof(h), (const unsigned char *)data, len, NULL, 0);
	sodium_bin2hex(hex, 65, h, sizeof(h));
}

/* What the content is: "fhir", or a CSV mapping's name. */
static int detect(const char *data, size_t len, const char *name, char *format, size_t cap,
		  const struct cl_csv_mapping **map)
{
	*map = NULL;
	if (cl_xlsx_sniff(data, len)) {
		snprintf(format, cap, "xlsx");
		return CL_OK;
	}
	if (cl_fhir_sniff(data, len)) {
		snprintf(format, cap, "fhir");
		return CL_OK;
	}
	*map = cl_csv_map_find(data, len);
	if (*map) {
		snprintf(format, cap, "%s", cl_csv_map_name(*map));
		return CL_OK;
	}
	return cl_error_set(CL_EINVAL, "%s: not recognised: expected FHIR R4 JSON or NDJSON (a "
			    "resource, a Bundle, one resource per line), an XLSX workbook or a CSV "
			    "file; found %s", name, cl_error_detail());
}

/* Parses data into silver (the caller holds a transaction). format is
 * "fhir", a CSV mapping's name, or "xlsx[:SHEET]". */
static int refine_data(struct cl_batch *b, const char *data, size_t len, const char *format,
		       struct cl_silver_counts *c)
{
	const struct cl_csv_mapping *map;
	int rc;

	if (strcmp(format, "fhir") == 0)
		return cl_fhir_load(b->silver, data, len, c);
	if (strncmp(format, "xlsx", 4) == 0) {
		char *csv = NULL;
		size_t clen = 0;

		rc = cl_xlsx_to_csv(data, len, format[4] == ':' ? format + 5 : NULL, &csv, &clen);
		if (rc == CL_OK && !(map = cl_csv_map_find(csv, clen)))
			rc = cl_error_set(CL_EINVAL, "the sheet's first row is %s", cl_error_detail());
		if (rc == CL_OK)
			rc = cl_csv_load(b->silver, map, csv, clen, c);
		cl_free(csv);
		return rc;
	}
	map = cl_csv_map_by_name(format);
	rc = map ? CL_OK : cl_error_set(CL_EINVAL, "no mapping '%s' is configured (declare "
					"mappings.%s)", format, format);
	return rc ? rc : cl_csv_load(b->silver, map, data, len, c);
}

static void base_name(const char *path, char *out, size_t cap)
{
	const char *slash = strrchr(path, '/');
	size_t o = 0;

	for (const char *p = slash ? slash + 1 : path; *p && o + 1 < cap; p++)
		out[o++] = (*p == '/' || *p == '\\' || (unsigned char)*p < 32) ? '_' : *p;
	out[o] = '\0';
	if (!o)
		snprintf(out, cap, "file");
}

static int already_loaded(struct cl_batch *b, const char *hash)
{
	sqlite3_stmt *q;
	int found = 0;

	if (sqlite3_prepare_v2(b->db, "SELECT 1 FROM bronze_file WHERE hash = ?1", -1, &q, NULL) !=
	    SQLITE_OK)
		return 0;
	sqlite3_bind_text(q, 1, hash, -1, SQLITE_STATIC);
	found = sqlite3_step(q) == SQLITE_ROW;
	sqlite3_finalize(q);
	return found;
}

static int register_file(struct cl_batch *b, const char *hash, const char *source,
			 const char *rel, const char *name, size_t bytes, const char *format,
			 int64_t run_id, int64_t at)
{
	sqlite3_stmt *q;
	int rc;

	if (sqlite3_prepare_v2(b->db, "INSERT OR IGNORE INTO bronze_file(hash, source, path, name,"
			       " bytes, format, run_id, ingested_us) VALUES (?1,?2,?3,?4,?5,?6,?7,?8)",
			       -1, &q, NULL) != SQLITE_OK)
		return db_fail(b->db, "register a file");
	sqlite3_bind_text(q, 1, hash, -1, SQLITE_STATIC);
	sqlite3_bind_text(q, 2, source, -1, SQLITE_STATIC);
	sqlite3_bind_text(q, 3, rel, -1, SQLITE_STATIC);
	sqlite3_bind_text(q, 4, name, -1, SQLITE_STATIC);
	sqlite3_bind_int64(q, 5, (sqlite3_int64)bytes);
	sqlite3_bind_text(q, 6, format, -1, SQLITE_STATIC);
	sqlite3_bind_int64(q, 7, run_id);
	sqlite3_bind_int64(q, 8, at);
	rc = sqlite3_step(q) == SQLITE_DONE ? CL_OK : db_fail(b->db, "register a file");
	sqlite3_finalize(q);
	return rc;
}

/* Runs SQL; a COMMIT first builds again the indexes a bulk load dropped
 * and writes down which lake partitions the transaction changed, so the
 * notes commit with the changes. */
static int exec(struct cl_batch *b, const char *sql)
{
	int commit = strcmp(sql, "COMMIT") == 0, rollback = strcmp(sql, "ROLLBACK") == 0;
	int rc = CL_OK;

	if (commit) {
		rc = cl_silver_before_commit(b->silver);
		if (rc == CL_OK)
			rc = cl_lake_flush(b->lake_notes);
		if (rc)
			return rc; /* the caller rolls back */
	}
	/* a BEGIN that failed (the store's writer holding the lock past the
	 * timeout) left nothing to roll back: its error stays the one
	 * reported, not "cannot rollback" */
	if (!(rollback && sqlite3_get_autocommit(b->db)) &&
	    sqlite3_exec(b->db, sql, NULL, NULL, NULL) != SQLITE_OK)
		rc = db_fail(b->db, sql);
	if (rollback || (commit && rc == CL_OK))
		cl_silver_txn_end(b->silver);
	if (commit && rc == CL_OK) {
		cl_worker_poke(b->wal);
		cl_store_yield_to_writer();
	}
	return rc;
}

/* The reference checks in one transaction, like every other change. */
static int check_references(struct cl_batch *b, int64_t run_id)
{
	int rc = exec(b, "BEGIN IMMEDIATE");
	if (rc == CL_OK)
		rc = cl_silver_check_references(b->silver, run_id);
	if (rc == CL_OK)
		rc = exec(b, "COMMIT");
	else
		exec(b, "ROLLBACK");
	return rc;
}

static int ingest_file(struct cl_batch *b, const char *source_opt, const char *path,
		       struct cl_batch_summary *sum)
{
	char *data = NULL, hash[65], format[64], name[200], source[64], rel[PATH_MAX + 400],
	     dir[PATH_MAX * 2], day[11], stored[PATH_MAX * 3];
	const struct cl_csv_mapping *map;
	size_t len = 0;
	int64_t now = cl_time_now_us();
	int rc;

	rc = cl_fs_read_file(path, FILE_MAX, &data, &len);
	if (rc)
		return cl_error_set(rc, "%s: %s", path, cl_error_detail());
	hash_hex(data, len, hash);
	if (already_loaded(b, hash)) {
		sum->unchanged++;
		cl_free(data);
		return CL_OK;
	}
	base_name(path, name, sizeof(name));
	if (b->mapping[0] && !cl_xlsx_sniff(data, len) && !cl_fhir_sniff(data, len)) {
		/* a CSV file read through the mapping the pipeline names */
		map = cl_csv_map_by_name(b->mapping);
		rc = map ? CL_OK : cl_error_set(CL_EINVAL, "%s: there is no mapping '%s'", path,
						 b->mapping);
		snprintf(format, sizeof(format), "%s", b->mapping);
	} else {
		rc = detect(data, len, path, format, sizeof(format), &map);
	}
	if (rc) {
		cl_free(data);
		return rc;
	}
	if (strcmp(format, "xlsx") == 0 && b->sheet[0])
		snprintf(format, sizeof(format), "xlsx:%.58s", b->sheet);
	snprintf(source, sizeof(source), "%s",
		 source_opt                              ? source_opt
		 : strcmp(format, "fhir") == 0           ? "fhir-files"
		 : strncmp(format, "synthea-", 8) == 0   ? "synthea-csv"
		 : strncmp(format, "xlsx", 4) == 0       ? "spreadsheets"
							 : "hospital-files");
	/* the original, unchanged, named by its content */
	cl_time_format_day(now, day);
	snprintf(rel, sizeof(rel), "bronze/%s/dt=%s/%.16s-%s", source, day, hash, name);
	snprintf(dir, sizeof(dir), "%s/bronze/%s/dt=%s", b->data_dir, source, day);
	snprintf(stored, sizeof(stored), "%s/%s", b->data_dir, rel);
	rc = cl_fs_mkdirs(dir);
	if (rc == CL_OK)
		rc = cl_fs_write_atomic(stored, data, len, 0400);
	if (rc == CL_OK) {
		struct cl_manifest_entry e = { .hash = hash, .name = name, .path = rel,
					       .format = format, .bytes = (int64_t)len,
					       .run_id = sum->run_id, .ingested_us = now };

		rc = cl_manifest_append(b->data_dir, source, &e);
	}
	/* registration and silver rows: one transaction */
	if (rc == CL_OK)
		rc = exec(b, "BEGIN IMMEDIATE");
	if (rc == CL_OK) {
		cl_silver_lineage(b->silver, source, hash, sum->run_id, &sum->c);
		cl_silver_set_time(b->silver, now);
		rc = register_file(b, hash, source, rel, name, len, format, sum->run_id, now);
		if (rc == CL_OK)
			rc = refine_data(b, data, len, format, &sum->c);
		if (rc == CL_OK)
			rc = exec(b, "COMMIT");
		if (rc != CL_OK) {
			char msg[400];

			snprintf(msg, sizeof(msg), "%s", cl_error_detail());
			exec(b, "ROLLBACK");
			rc = cl_error_set(rc, "%s: %s", path, msg);
		}
	}
	if (rc == CL_OK)
		sum->loaded++;
	cl_free(data);
	return rc;
}

static int cmp_str(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* A growing list of paths. */
struct paths {
	char **v;
	size_t n, cap;
};

/* Appends dir/name (or dir alone when name is NULL), copied. */
static int push_path(struct paths *ps, const char *dir, const char *name)
{
	char *p;

	if (ps->n == ps->cap) {
		size_t cap = ps->cap ? ps->cap * 2 : 16;
		char **nv = cl_realloc(ps->v, cap * sizeof(*nv));

		if (!nv)
			return cl_error_set(CL_ENOMEM, "no memory");
		ps->v = nv;
		ps->cap = cap;
	}
	p = cl_malloc(strlen(dir) + (name ? strlen(name) + 1 : 0) + 1);
	if (!p)
		return cl_error_set(CL_ENOMEM, "no memory");
	if (name)
		sprintf(p, "%s/%s", dir, name);
	else
		strcpy(p, dir);
	ps->v[ps->n++] = p;
	return CL_OK;
}

static void free_paths(struct paths *ps)
{
	for (size_t i = 0; i < ps->n; i++)
		cl_free(ps->v[i]);
	cl_free(ps->v);
}

/* Files of a directory, recursively, in name order (hidden ones skipped). */
static int list_dir(const char *dir, struct paths *out)
{
	DIR *d = opendir(dir);
	struct dirent *de;
	struct paths mine = { 0 };
	int rc = CL_OK;

	if (!d)
		return cl_error_set(cl_error_from_errno(errno), "%s: %s", dir, strerror(errno));
	while (rc == CL_OK && (de = readdir(d)))
		if (de->d_name[0] != '.')
			rc = push_path(&mine, dir, de->d_name);
	closedir(d);
	if (mine.n)
		qsort(mine.v, mine.n, sizeof(*mine.v), cmp_str);
	for (size_t i = 0; rc == CL_OK && i < mine.n; i++)
		rc = cl_fs_is_dir(mine.v[i]) ? list_dir(mine.v[i], out)
					     : push_path(out, mine.v[i], NULL);
	free_paths(&mine);
	return rc;
}

/* Gold from silver: the gold tables whose inputs this run changed, and
 * all of them at least once a minute (alerts come and go without a load)
 * or when forced (a rebuild). */
static int refresh_gold(struct cl_batch *b, const struct cl_batch_summary *sum, int force)
{
	const char *changed[40];
	int64_t now = cl_time_now_us();
	int n = 0, rc, all = force || sum->c.deleted > 0 || !b->gold_mono ||
			     cl_time_mono_us() - b->gold_mono >= 60000000;

	for (int i = 0; cl_silver_tables[i].name && n < 38; i++)
		if (sum->c.by_table[i])
			changed[n++] = cl_silver_tables[i].name;
	if (sum->c.quarantined || sum->c.warnings)
		changed[n++] = "quarantine";
	changed[n] = NULL;
	if (!all && n == 0)
		return CL_OK;
	rc = exec(b, "BEGIN IMMEDIATE");
	if (rc == CL_OK)
		rc = cl_gold_refresh(b->db, all ? NULL : changed, now);
	/* the promoted model scores the stays in progress and the recent
	 * discharges from the features just computed; a model that cannot
	 * serve fails no load (its table keeps the last scores) */
	if (rc == CL_OK && cl_gold_affected("gold_readmission_risk", all ? NULL : changed) &&
	    cl_readm_risk_refresh(b->db, b->data_dir, now, &b->readm, NULL) != CL_OK)
		cl_log_error("batch", "event=readmission_scoring_failed detail=%s",
			     CL_LOG_Q(cl_error_detail()));
	if (rc == CL_OK)
		rc = exec(b, "COMMIT");
	else
		exec(b, "ROLLBACK");
	if (rc == CL_OK && all)
		b->gold_mono = cl_time_mono_us();
	return rc;
}

/* The Delta copy of every table this run changed. A failure is reported
 * in the summary but fails nothing: the store holds the rows and the
 * change notes stay, so the next sync catches up. */
static void sync_lake(struct cl_batch *b, struct cl_batch_summary *sum)
{
	int64_t now = cl_time_mono_us();

	if (!b->lake.enabled || (b->lake_mono && now - b->lake_mono < b->lake_interval_us))
		return;
	b->lake_mono = now;
	if (cl_lake_sync(b->db, b->data_dir, &b->lake, &sum->lake) != CL_OK)
		snprintf(sum->lake_error, sizeof(sum->lake_error), "%s", cl_error_detail());
}

static void note_error(struct cl_batch_summary *sum, int *first_rc, int rc)
{
	sum->failed++;
	if (!*first_rc) {
		*first_rc = rc;
		snprintf(sum->error, sizeof(sum->error), "%s", cl_error_detail());
	}
	cl_log_error("batch", "event=file_failed detail=%s", CL_LOG_Q(cl_error_detail()));
}

int cl_batch_ingest(struct cl_batch *b, const char *source, char *const *paths, int n,
		    const struct cl_batch_run *run,
		    void (*progress)(void *arg, uint64_t done, uint64_t total, const char *name),
		    void *arg, struct cl_batch_summary *sum)
{
	struct paths files = { 0 };
	int first_rc = CL_OK, rc = CL_OK;

	memset(sum, 0, sizeof(*sum));
	for (int i = 0; rc == CL_OK && i < n; i++)
		rc = cl_fs_is_dir(paths[i]) ? list_dir(paths[i], &files)
					    : push_path(&files, paths[i], NULL);
	if (rc == CL_OK) {
		sum->run_id = run_start(b, run && run->pipeline ? run->pipeline : "ingest",
					run && run->trigger ? run->trigger : "manual",
					run ? run->attempt : 1, run ? run->run_id : 0);
		if (!sum->run_id)
			rc = db_fail(b->db, "record the run");
	}
	for (size_t i = 0; rc == CL_OK && i < files.n; i++) {
		int frc = ingest_file(b, source, files.v[i], sum);

		sum->files++;
		if (frc)
			note_error(sum, &first_rc, frc);
		if (progress)
			progress(arg, i + 1, files.n, files.v[i]);
	}
	if (rc == CL_OK && check_references(b, sum->run_id) != CL_OK)
		note_error(sum, &first_rc, CL_EIO);
	if (rc == CL_OK && refresh_gold(b, sum, 0) != CL_OK)
		note_error(sum, &first_rc, CL_EIO);
	if (rc == CL_OK)
		sync_lake(b, sum);
	if (rc == CL_OK)
		run_end(b, sum, run && run->retry_follows);
	free_paths(&files);
	if (rc)
		return rc;
	if (first_rc)
		return cl_error_set(first_rc, "%s", sum->error);
	return CL_OK;
}

/* ---- refine: the bronze logs ---- */

static uint64_t log_checkpoint(struct cl_batch *b, const char *source)
{
	sqlite3_stmt *q;
	uint64_t off = 0;

	if (sqlite3_prepare_v2(b->db, "SELECT next_offset FROM refine_checkpoint WHERE source = ?1",
			       -1, &q, NULL) != SQLITE_OK)
		return 0;
	sqlite3_bind_text(q, 1, source, -1, SQLITE_STATIC);
	if (sqlite3_step(q) == SQLITE_ROW)
		off = (uint64_t)sqlite3_column_int64(q, 0);
	sqlite3_finalize(q);
	return off;
}

static int set_log_checkpoint(struct cl_batch *b, const char *source, uint64_t off)
{
	sqlite3_stmt *q;
	int rc;

	if (sqlite3_prepare_v2(b->db, "INSERT INTO refine_checkpoint(source, next_offset)"
			       " VALUES (?1, ?2) ON CONFLICT(source) DO UPDATE SET next_offset = ?2",
			       -1, &q, NULL) != SQLITE_OK)
		return db_fail(b->db, "refine checkpoint");
	sqlite3_bind_text(q, 1, source, -1, SQLITE_STATIC);
	sqlite3_bind_int64(q, 2, (sqlite3_int64)off);
	rc = sqlite3_step(q) == SQLITE_DONE ? CL_OK : db_fail(b->db, "refine checkpoint");
	sqlite3_finalize(q);
	return rc;
}

/* A device event as an observation row (the stream validated it at
 * ingest; one that no longer parses is quarantined). */
static int vital_row(struct cl_batch *b, const char *source, struct cl_json_doc *doc,
		     const struct cl_frame *f, const char *record, struct cl_silver_counts *c)
{
	struct cl_event_limits lim = { .max_future_us = INT64_MAX / 4, .min_ts_us = INT64_MIN / 4 };
	struct cl_event ev;
	struct cl_row r;
	char id[80], when[40];
	const char *code;

	if (cl_json_parse(doc, (const char *)f->data, f->len) != CL_OK ||
	    cl_event_parse(doc, 0, f->ts_us, &lim, &ev) != CL_OK) {
		char why[240];

		c->records++;
		snprintf(why, sizeof(why), "not a valid device event: %s", cl_error_detail());
		return cl_silver_quarantine(b->silver, "observation", record, why,
					    (const char *)f->data, f->len);
	}
	cl_row_init(&r, cl_silver_table("observation"), record);
	/* its place in bronze: "vitals:17", "vitals-backlog:17" */
	snprintf(id, sizeof(id), "%s:%llu", source, (unsigned long long)f->offset);
	cl_row_text(&r, "id", id, strlen(id));
	if (ev.id[0])
		cl_row_text(&r, "resource_id", ev.id, strlen(ev.id));
	else
		cl_row_text(&r, "resource_id", id, strlen(id));
	cl_row_text(&r, "patient_id", ev.patient_id, strlen(ev.patient_id));
	cl_row_text(&r, "device_id", ev.device_id, strlen(ev.device_id));
	/* a vital LOINC has no code for here (consciousness, supplemental
	 * oxygen) is coded by its name */
	code = cl_vital_loinc(ev.vital)[0] ? cl_vital_loinc(ev.vital) : cl_vital_name(ev.vital);
	cl_row_text(&r, "code", code, strlen(code));
	cl_row_text(&r, "display", cl_vital_name(ev.vital), strlen(cl_vital_name(ev.vital)));
	cl_row_text(&r, "category", "vital-signs", 11);
	cl_row_real(&r, "value", ev.value);
	cl_row_text(&r, "unit", cl_vital_unit(ev.vital), strlen(cl_vital_unit(ev.vital)));
	cl_time_format_rfc3339(ev.ts_us, when, sizeof(when), 3);
	cl_row_text(&r, "effective_ts", when, strlen(when));
	cl_row_text(&r, "source", "device", 6);
	return cl_silver_put(b->silver, &r);
}

/* Refines the records of one bronze log past its checkpoint: device
 * events (vitals, vitals-backlog) or FHIR resources (fhir), in transactions of 10,000
 * records with the checkpoint. Lineage: the log and the offset. */
static int refine_log(struct cl_batch *b, const char *source, struct cl_batch_summary *sum)
{
	struct cl_blog_reader *r = NULL;
	struct cl_json_doc doc;
	struct cl_frame f;
	char dir[PATH_MAX], lineage[80];
	uint64_t from = log_checkpoint(b, source);
	int rc, got = 1;

	if (cl_bronze_source_dir(dir, sizeof(dir), b->data_dir, source) != CL_OK ||
	    !cl_fs_is_dir(dir))
		return CL_OK;
	rc = cl_blog_reader_open(dir, from, UINT64_MAX, 16u << 20, &r);
	if (rc)
		return rc;
	cl_json_doc_init(&doc);
	snprintf(lineage, sizeof(lineage), "log:%s", source);
	while (rc == CL_OK && got == 1) {
		uint32_t n = 0;

		rc = exec(b, "BEGIN IMMEDIATE");
		cl_silver_lineage(b->silver, source, lineage, sum->run_id, &sum->c);
		while (rc == CL_OK && n < 10000 && (got = cl_blog_reader_next(r, &f)) == 1) {
			char record[48];

			snprintf(record, sizeof(record), "offset %llu", (unsigned long long)f.offset);
			cl_silver_set_time(b->silver, f.ts_us);
			if (strcmp(source, "fhir") != 0)   /* device events, either lane */
				rc = vital_row(b, source, &doc, &f, record, &sum->c);
			else
				rc = cl_fhir_load_record(b->silver, (const char *)f.data, f.len, record,
							 &sum->c);
			n++;
		}
		if (got < 0 && got != CL_ECORRUPT)
			rc = got;
		if (rc == CL_OK)
			rc = set_log_checkpoint(b, source, cl_blog_reader_position(r));
		if (rc == CL_OK)
			rc = exec(b, "COMMIT");
		else
			exec(b, "ROLLBACK");
		if (got == CL_ECORRUPT) {
			cl_log_error("batch", "event=corrupt_bronze source=%s detail=%s", CL_LOG_Q(source),
				     CL_LOG_Q(cl_error_detail()));
			got = 1; /* the reader skips it; carelake verify reports it */
		}
	}
	cl_blog_reader_close(r);
	cl_json_doc_free(&doc);
	return rc;
}

/* ---- silver rows as FHIR resources ---- */

int cl_batch_started(const char *data_dir)
{
	sqlite3 *db = NULL;
	sqlite3_stmt *q = NULL;
	int yes = 0;

	if (cl_db_open(data_dir, CL_DB_READONLY, &db) == CL_OK &&
	    sqlite3_prepare_v2(db, "SELECT 1 FROM sqlite_master WHERE name = 'pipeline_run'", -1, &q,
			       NULL) == SQLITE_OK)
		yes = sqlite3_step(q) == SQLITE_ROW;
	sqlite3_finalize(q);
	sqlite3_close(db);
	return yes;
}

int cl_batch_serve_fhir(struct cl_batch *b, int max_rows, uint64_t *kept, int *more)
{
	int done = 0, rc = CL_OK;

	while (rc == CL_OK && !done && max_rows > 0) {
		rc = exec(b, "BEGIN IMMEDIATE");
		if (rc == CL_OK)
			rc = cl_fhir_rows_step(b->rows, max_rows < 5000 ? max_rows : 5000, kept, &done);
		if (rc == CL_OK)
			rc = exec(b, "COMMIT");
		if (rc) {
			exec(b, "ROLLBACK");
			cl_fhir_rows_forget(b->rows);
		}
		max_rows -= 5000;
	}
	*more = rc == CL_OK && !done;
	return rc;
}

/* ---- refine ---- */

struct listed {
	json_t *line;
	char source[64];
};

static int cmp_listed(const void *a, const void *b)
{
	const struct listed *x = a, *y = b;
	json_int_t tx = json_integer_value(json_object_get(x->line, "ingested_us"));
	json_int_t ty = json_integer_value(json_object_get(y->line, "ingested_us"));

	return tx < ty ? -1 : tx > ty;
}

/* Loads one file bronze lists into the rebuild's transaction, inside a
 * savepoint: a file that fails (its bronze copy unreadable or changed,
 * its content not what its format says, an expectation that fails it)
 * leaves nothing behind (rows, quarantine, counts), and the rebuild goes
 * on to the next; the error names the file. *stop: the store itself
 * failed (a savepoint or the change notes could not be written). */
static int rebuild_file(struct cl_batch *b, const struct listed *l, struct cl_batch_summary *sum,
			int *stop)
{
	const char *hash = json_string_value(json_object_get(l->line, "hash"));
	const char *rel = json_string_value(json_object_get(l->line, "path"));
	const char *format = json_string_value(json_object_get(l->line, "format"));
	const char *name = json_string_value(json_object_get(l->line, "name"));
	struct cl_silver_counts before = sum->c;
	char path[PATH_MAX * 2], check[65], msg[400], *data = NULL;
	size_t len = 0;
	int frc, rc;

	if (!hash || !rel || !format || !name)
		return cl_error_set(CL_ECORRUPT, "bronze/%s/_files.ndjson: an entry without hash, "
				    "path, name or format", l->source);
	snprintf(path, sizeof(path), "%s/%s", b->data_dir, rel);
	frc = cl_fs_read_file(path, FILE_MAX, &data, &len);
	if (frc == CL_ENOENT && b->archive_uri[0]) {
		/* gone from the disk: the archive has it (bronze/cl_archive.h) */
		frc = cl_archive_fetch(b->data_dir, b->archive_uri, b->cfg, rel);
		if (frc == CL_OK)
			frc = cl_fs_read_file(path, FILE_MAX, &data, &len);
	}
	if (frc == CL_OK) {
		hash_hex(data, len, check);
		if (strcmp(check, hash) != 0)
			frc = cl_error_set(CL_ECORRUPT, "%s: its content no longer matches its hash",
					   rel);
	}
	if (frc) {
		cl_free(data);
		return frc;
	}
	/* the changes before this file are noted first, so that undoing
	 * the file undoes its notes alone */
	rc = cl_lake_flush(b->lake_notes);
	if (rc == CL_OK)
		rc = exec(b, "SAVEPOINT rebuild_file");
	if (rc) {
		cl_free(data);
		*stop = 1;
		return rc;
	}
	cl_silver_lineage(b->silver, l->source, hash, sum->run_id, &sum->c);
	cl_silver_set_time(b->silver, json_integer_value(json_object_get(l->line, "ingested_us")));
	frc = register_file(b, hash, l->source, rel, name, len, format, sum->run_id,
			    json_integer_value(json_object_get(l->line, "ingested_us")));
	if (frc == CL_OK)
		frc = refine_data(b, data, len, format, &sum->c);
	cl_free(data);
	if (frc)
		snprintf(msg, sizeof(msg), "%s", cl_error_detail());
	/* the file's notes into the savepoint, undone with it if it failed */
	rc = cl_lake_flush(b->lake_notes);
	if (rc == CL_OK && frc)
		rc = exec(b, "ROLLBACK TO rebuild_file");
	if (rc == CL_OK)
		rc = exec(b, "RELEASE rebuild_file");
	if (rc) {
		*stop = 1;
		return rc;
	}
	if (frc) {
		sum->c = before;
		return cl_error_set(frc, "%s: %s", rel, msg);
	}
	return CL_OK;
}

/* The rebuild's list of what the manifests hold (cl_manifest_list's fn). */
struct gather {
	struct listed **list;
	size_t *n, *cap;
};

static int gather_entry(void *arg, const char *source, const struct cl_manifest_entry *e)
{
	struct gather *g = arg;

	if (*g->n == *g->cap) {
		size_t cap = *g->cap ? *g->cap * 2 : 64;
		struct listed *nl = cl_realloc(*g->list, cap * sizeof(**g->list));

		if (!nl)
			return cl_error_set(CL_ENOMEM, "no memory");
		*g->list = nl;
		*g->cap = cap;
	}
	(*g->list)[*g->n].line = json_incref(e->line);
	snprintf((*g->list)[*g->n].source, sizeof((*g->list)[0].source), "%.63s", source);
	(*g->n)++;
	return CL_OK;
}

/* Every file bronze lists, of every source, in ingest order. */
static int list_bronze_files(struct cl_batch *b, struct listed **list, size_t *n)
{
	char bronze[PATH_MAX + 16];
	size_t cap = 0;
	int rc = CL_OK;
	DIR *d;
	struct dirent *de;

	*list = NULL;
	*n = 0;
	snprintf(bronze, sizeof(bronze), "%s/bronze", b->data_dir);
	d = opendir(bronze);
	while (rc == CL_OK && d && (de = readdir(d))) {
		struct gather g = { list, n, &cap };

		if (de->d_name[0] == '.')
			continue;
		rc = cl_manifest_list(b->data_dir, de->d_name, gather_entry, NULL, &g);
	}
	if (d)
		closedir(d);
	if (*n)
		qsort(*list, *n, sizeof(**list), cmp_listed);
	return rc;
}

static void free_listed(struct listed *list, size_t n)
{
	for (size_t i = 0; i < n; i++)
		json_decref(list[i].line);
	cl_free(list);
}

/*
 * Silver anew from the listed files, in one transaction: cleared, then
 * each file loaded once (the same content listed again is loaded or tried
 * once). A file that fails is counted and its error kept in *first_rc and
 * sum; only a failure of the store itself fails the reload.
 */
static int reload_files(struct cl_batch *b, const struct listed *list, size_t n,
			struct cl_batch_summary *sum, int *first_rc)
{
	struct cl_map *tried = NULL;   /* hashes of the files that failed */
	int rc = exec(b, "BEGIN IMMEDIATE");

	if (rc == CL_OK)
		rc = cl_silver_clear(b->silver);
	if (rc == CL_OK)
		rc = exec(b, "DELETE FROM bronze_file; DELETE FROM refine_checkpoint");
	if (rc == CL_OK)
		rc = cl_map_create(&tried);
	for (size_t i = 0; rc == CL_OK && i < n; i++) {
		const char *hash = json_string_value(json_object_get(list[i].line, "hash"));
		int frc, stop = 0;

		sum->files++;
		if (hash && (already_loaded(b, hash) || cl_map_slot(tried, hash, strlen(hash), 0))) {
			sum->unchanged++;
			continue;
		}
		frc = rebuild_file(b, &list[i], sum, &stop);
		if (frc == CL_OK) {
			sum->loaded++;
			continue;
		}
		note_error(sum, first_rc, frc);
		if (hash && !cl_map_slot(tried, hash, strlen(hash), 1))
			rc = cl_error_set(CL_ENOMEM, "no memory");
		if (stop)
			rc = frc; /* the store itself failed */
	}
	cl_map_destroy(tried, NULL);
	if (rc == CL_OK)
		rc = exec(b, "COMMIT");
	else
		exec(b, "ROLLBACK");
	return rc;
}

/* The steps both modes end with: the logs (device events, FHIR posts)
 * from their checkpoints, references, gold, and the lake (at once after a
 * rebuild, else on its interval). */
static int refine_logs_and_gold(struct cl_batch *b, struct cl_batch_summary *sum, int rebuild)
{
	int rc = refine_log(b, "vitals", sum);

	if (rc == CL_OK)
		rc = refine_log(b, CL_VITALS_BACKLOG_SOURCE, sum);
	if (rc == CL_OK)
		rc = refine_log(b, "fhir", sum);
	if (rc == CL_OK)
		rc = check_references(b, sum->run_id);
	if (rc == CL_OK)
		rc = refresh_gold(b, sum, rebuild);
	if (rc == CL_OK) {
		if (rebuild)
			b->lake_mono = 0;
		sync_lake(b, sum);
	}
	return rc;
}

/* What is new: files are refined in the transaction that registers them,
 * so only the logs and what follows from them. */
static int refine_new(struct cl_batch *b, struct cl_batch_summary *sum)
{
	int rc = refine_logs_and_gold(b, sum, 0);

	if (rc) {
		sum->failed++;
		snprintf(sum->error, sizeof(sum->error), "%s", cl_error_detail());
	}
	run_end(b, sum, 0);
	return rc;
}

/* Silver and gold anew from everything bronze holds: every listed file in
 * ingest order, then the logs from their start. */
static int refine_rebuild(struct cl_batch *b, struct cl_batch_summary *sum)
{
	struct listed *list;
	size_t n;
	int first_rc = CL_OK;
	int rc = list_bronze_files(b, &list, &n);

	if (rc == CL_OK)
		rc = reload_files(b, list, n, sum, &first_rc);
	if (rc == CL_OK)
		rc = refine_logs_and_gold(b, sum, 1);
	free_listed(list, n);
	run_end(b, sum, 0);
	if (rc)
		return rc;
	return first_rc ? cl_error_set(first_rc, "%s", sum->error) : CL_OK;
}

int cl_batch_refine(struct cl_batch *b, int rebuild, struct cl_batch_summary *sum)
{
	memset(sum, 0, sizeof(*sum));
	sum->run_id = run_start(b, rebuild ? "refine-rebuild" : "refine", "manual", 1, 0);
	if (!sum->run_id)
		return db_fail(b->db, "record the run");
	return rebuild ? refine_rebuild(b, sum) : refine_new(b, sum);
}
