/*
 * Silver tables. See cl_silver.h.
 */
#include "cl_silver.h"
#include "core/cl_config.h"
#include "core/cl_error.h"
#include "core/cl_log.h"
#include "core/cl_mem.h"
#include "core/cl_time.h"
#include "fhir/cl_fhir_index.h"
#include "store/cl_store_fhir.h"

#include <sodium.h>
#include <stdio.h>
#include <string.h>

#define NTABLES CL_SILVER_TABLES

/* the lineage of a row (cl_tables.h: _file_id is an id of lineage_file) */
static const char lineage_cols[] =
	"_source TEXT NOT NULL, _file_id INTEGER NOT NULL, _run_id INTEGER NOT NULL,"
	" _record TEXT, _hash TEXT NOT NULL, _loaded_us INTEGER NOT NULL,"
	" _version INTEGER NOT NULL DEFAULT 1";

struct stmts {
	sqlite3_stmt *put, *del;
};

struct expect {
	struct cl_expectation e;
	const struct cl_table *t;
	sqlite3_stmt *st;
};

/* A table's bulk-load state in the open transaction (cl_silver.h). */
struct bulk {
	int64_t inserted;  /* new rows this transaction */
	int64_t before;    /* rows it held before (-1: not asked yet) */
	char *indexes;     /* the CREATE INDEX statements of the indexes dropped */
	int declined;      /* it has no index to drop */
};

struct cl_silver {
	sqlite3 *db;
	struct bulk bulk[NTABLES];
	struct expect exp[CL_EXPECTATIONS_MAX];
	int nexp;
	enum cl_expect_action ref_action;   /* rows whose references name no row */
	sqlite3_stmt *warn;
	struct stmts st[NTABLES];
	sqlite3_stmt *quarantine;
	sqlite3_stmt *file_add, *file_get;  /* lineage_file */
	const char *source, *file;
	int64_t file_id;         /* file's id in lineage_file (0: not looked up yet) */
	int64_t run_id;
	int64_t ts_us;           /* when bronze accepted the records that follow */
	struct cl_silver_counts *c;
	struct cl_fhir_writer *fhir;   /* FHIR resource versions */
};

static int table_index(const struct cl_table *t)
{
	return (int)(t - cl_silver_tables);
}

static int db_fail(sqlite3 *db, const char *what)
{
	return cl_error_set(CL_EIO, "carelake.db: %s: %s", what, sqlite3_errmsg(db));
}

/* ---- rows ---- */

/* A text kept outside a row's buffer (cl_row_text). */
struct cl_row_spill {
	struct cl_row_spill *next;  /* the row's text kept before this one, or NULL */
	char text[];                /* the text, NUL-terminated */
};

void cl_row_init(struct cl_row *r, const struct cl_table *t, const char *record)
{
	r->t = t;
	memset(r->v, 0, sizeof(r->v));
	r->used = 0;
	r->spill = NULL;
	r->too_long = -1;
	r->too_long_n = 0;
	r->error = 0;
	r->record = record;
	r->sealed = 0;
}

void cl_row_release(struct cl_row *r)
{
	if (!r)
		return;
	while (r->spill) {
		struct cl_row_spill *next = r->spill->next;

		cl_free(r->spill);
		r->spill = next;
	}
	r->too_long = -1;
	r->error = 0;
}

static int col_index(const struct cl_table *t, const char *col)
{
	for (int i = 0; i < t->ncols; i++)
		if (strcmp(t->cols[i].name, col) == 0)
			return i;
	return -1;
}

int cl_row_text(struct cl_row *r, const char *col, const char *s, size_t n)
{
	int i = col_index(r->t, col);
	char *to;

	if (i < 0)
		return cl_error_set(CL_ENOENT, "%s has no column %s", r->t->name, col);
	if (!s)
		return CL_OK;
	if (n > CL_ROW_TEXT_MAX) {
		/* not kept: the row goes to quarantine (cl_silver_put) */
		r->v[i].set = 0;
		if (r->too_long < 0) {
			r->too_long = i;
			r->too_long_n = n;
		}
		return cl_error_set(CL_ETOOBIG, "%s.%s: %zu bytes, more than %zu", r->t->name, col,
				    n, CL_ROW_TEXT_MAX);
	}
	if (n < sizeof(r->buf) - r->used) {
		to = r->buf + r->used;
		r->used += n + 1;
	} else {
		/* the buffer is full: this text gets memory of its own */
		struct cl_row_spill *sp = cl_malloc(sizeof(*sp) + n + 1);

		if (!sp) {
			r->error = CL_ENOMEM;
			return cl_error_set(CL_ENOMEM, "no memory for a value of %zu bytes", n);
		}
		sp->next = r->spill;
		r->spill = sp;
		to = sp->text;
	}
	memcpy(to, s, n);
	to[n] = '\0';
	r->v[i].set = 1;
	r->v[i].s = to;
	r->v[i].n = n;
	return CL_OK;
}

int cl_row_real(struct cl_row *r, const char *col, double d)
{
	int i = col_index(r->t, col);

	if (i < 0)
		return cl_error_set(CL_ENOENT, "%s has no column %s", r->t->name, col);
	r->v[i].set = 1;
	r->v[i].d = d;
	return CL_OK;
}

int cl_row_int(struct cl_row *r, const char *col, int64_t v)
{
	int i = col_index(r->t, col);

	if (i < 0)
		return cl_error_set(CL_ENOENT, "%s has no column %s", r->t->name, col);
	r->v[i].set = 1;
	r->v[i].i = v;
	return CL_OK;
}

const struct cl_val *cl_row_get(const struct cl_row *r, const char *col)
{
	int i = col_index(r->t, col);

	return i >= 0 && r->v[i].set ? &r->v[i] : NULL;
}

/* ---- the store ---- */

static int prepare(sqlite3 *db, const char *sql, sqlite3_stmt **st)
{
	if (sqlite3_prepare_v3(db, sql, -1, SQLITE_PREPARE_PERSISTENT, st, NULL) != SQLITE_OK)
		return db_fail(db, "prepare");
	return CL_OK;
}

/* The CREATE TABLE of silver table t, named `name`; its length. */
static size_t table_sql(const struct cl_table *t, const char *name, char *sql, size_t cap)
{
	size_t c = (size_t)snprintf(sql, cap, "CREATE TABLE IF NOT EXISTS %s(", name);

	for (int i = 0; i < t->ncols; i++)
		c += (size_t)snprintf(sql + c, cap - c, "%s %s%s, ", t->cols[i].name,
				      t->cols[i].type == CL_COL_REAL ? "REAL"
				      : t->cols[i].type == CL_COL_INT ? "INTEGER" : "TEXT",
				      i == 0 ? " PRIMARY KEY" : "");
	c += (size_t)snprintf(sql + c, cap - c, "%s);", lineage_cols);
	return c;
}

static int create_table(struct cl_silver *s, const struct cl_table *t, struct stmts *st)
{
	char sql[4096], cols[2048] = "", vals[1024] = "", upd[2048] = "";
	size_t c = 0, v = 0, u = 0;
	static const char *const lin[] = { "_source", "_file_id", "_run_id", "_record",
					   "_hash", "_loaded_us" };
	int n = 0, rc;

	c = table_sql(t, t->name, sql, sizeof(sql));
	c += (size_t)snprintf(sql + c, sizeof(sql) - c, "%s", t->indexes);
	/* the reference checks look at one run's rows: found by this index
	 * rather than by reading the whole table after every load. Run ids
	 * only grow, so its entries go in at the right edge, cheaply */
	for (int i = 0; i < t->ncols; i++)
		if (t->cols[i].references) {
			snprintf(sql + c, sizeof(sql) - c, "CREATE INDEX IF NOT EXISTS %s_run ON"
				 " %s(_run_id);", t->name, t->name);
			break;
		}
	if (sqlite3_exec(s->db, sql, NULL, NULL, NULL) != SQLITE_OK)
		return db_fail(s->db, t->name);
	c = 0;
	for (int i = 0; i < t->ncols + 6; i++, n++) {
		const char *name = i < t->ncols ? t->cols[i].name : lin[i - t->ncols];

		c += (size_t)snprintf(cols + c, sizeof(cols) - c, "%s%s", i ? "," : "", name);
		v += (size_t)snprintf(vals + v, sizeof(vals) - v, "%s?%d", i ? "," : "", i + 1);
		if (i > 0)
			u += (size_t)snprintf(upd + u, sizeof(upd) - u, "%s%s=excluded.%s",
					      i > 1 ? "," : "", name, name);
	}
	/* one statement: a new row (version 1), a correction (the version
	 * grows), or a duplicate (no change). Told apart by the changes and
	 * the last rowid inserted (cl_silver_put), not by RETURNING, which
	 * costs SQLite a temporary table per row */
	snprintf(sql, sizeof(sql), "INSERT INTO %s(%s) VALUES (%s) ON CONFLICT(id) DO UPDATE SET %s,"
		 " _version = _version + 1 WHERE _hash IS NOT excluded._hash",
		 t->name, cols, vals, upd);
	rc = prepare(s->db, sql, &st->put);
	snprintf(sql, sizeof(sql), "DELETE FROM %s WHERE id = ?1", t->name);
	if (rc == CL_OK)
		rc = prepare(s->db, sql, &st->del);
	return rc;
}

/* 1 if table has the column. */
static int has_column(sqlite3 *db, const char *table, const char *col)
{
	sqlite3_stmt *q;
	int yes = 0;

	if (sqlite3_prepare_v2(db, "SELECT 1 FROM pragma_table_info(?1) WHERE name = ?2", -1, &q,
			       NULL) != SQLITE_OK)
		return 0;
	sqlite3_bind_text(q, 1, table, -1, SQLITE_STATIC);
	sqlite3_bind_text(q, 2, col, -1, SQLITE_STATIC);
	yes = sqlite3_step(q) == SQLITE_ROW;
	sqlite3_finalize(q);
	return yes;
}

/*
 * A silver table of a store made before lineage was narrow (the file's
 * hash in every row, `_bronze_file`): each file named once in
 * lineage_file, and the table made again with `_file_id` in its place,
 * every row kept as it was (its rowid too). Its indexes are made again by
 * create_table. The caller holds a savepoint.
 */
static int migrate_lineage(sqlite3 *db, const struct cl_table *t)
{
	char sql[8192], cols[2048] = "";
	size_t c = 0, n;

	for (int i = 0; i < t->ncols; i++)
		c += (size_t)snprintf(cols + c, sizeof(cols) - c, "%s, ", t->cols[i].name);
	n = (size_t)snprintf(sql, sizeof(sql), "INSERT OR IGNORE INTO lineage_file(file) SELECT"
			     " _bronze_file FROM %s GROUP BY _bronze_file ORDER BY min(rowid);",
			     t->name);
	n += table_sql(t, "silver_lineage_new", sql + n, sizeof(sql) - n);
	n += (size_t)snprintf(sql + n, sizeof(sql) - n,
			      "INSERT INTO silver_lineage_new(rowid, %s_source, _file_id, _run_id,"
			      " _record, _hash, _loaded_us, _version) SELECT t.rowid, %s_source,"
			      " (SELECT id FROM lineage_file WHERE file = t._bronze_file), _run_id,"
			      " _record, _hash, _loaded_us, %s FROM %s t ORDER BY t.rowid;"
			      "DROP TABLE %s;"
			      "ALTER TABLE silver_lineage_new RENAME TO %s;",
			      cols, cols, has_column(db, t->name, "_version") ? "_version" : "1",
			      t->name, t->name, t->name);
	if (n >= sizeof(sql))
		return cl_error_set(CL_EINVAL, "%s: its columns do not fit the migration", t->name);
	if (sqlite3_exec(db, sql, NULL, NULL, NULL) != SQLITE_OK)
		return db_fail(db, "narrow lineage");
	cl_log_info("refine", "event=lineage_migrated table=%s", t->name);
	return CL_OK;
}

/* Every silver table of a store made before lineage was narrow migrated,
 * all or none. */
static int migrate_stores_lineage(sqlite3 *db)
{
	int rc = CL_OK, any = 0;

	for (const struct cl_table *t = cl_silver_tables; t->name; t++)
		any |= has_column(db, t->name, "_bronze_file");
	if (!any)
		return CL_OK;
	/* a table dropped and another renamed to its name: the old rules,
	 * which rewrite nothing else in the schema */
	if (sqlite3_exec(db, "PRAGMA legacy_alter_table = ON; SAVEPOINT silver_lineage", NULL,
			 NULL, NULL) != SQLITE_OK)
		return db_fail(db, "narrow lineage");
	for (const struct cl_table *t = cl_silver_tables; rc == CL_OK && t->name; t++)
		if (has_column(db, t->name, "_bronze_file"))
			rc = migrate_lineage(db, t);
	if (rc == CL_OK && sqlite3_exec(db, "RELEASE silver_lineage", NULL, NULL, NULL) != SQLITE_OK)
		rc = db_fail(db, "narrow lineage");
	if (rc != CL_OK)
		sqlite3_exec(db, "ROLLBACK TO silver_lineage; RELEASE silver_lineage", NULL, NULL,
			     NULL);
	sqlite3_exec(db, "PRAGMA legacy_alter_table = OFF", NULL, NULL, NULL);
	return rc;
}

/* quality_warning rows of a store made before they named their source get
 * it from their row, once. */
static int add_warning_source(sqlite3 *db)
{
	char sql[4096];
	size_t n;
	sqlite3_stmt *q;

	if (sqlite3_prepare_v2(db, "SELECT source FROM quality_warning", -1, &q, NULL) == SQLITE_OK) {
		sqlite3_finalize(q);
		return CL_OK;
	}
	n = (size_t)snprintf(sql, sizeof(sql), "ALTER TABLE quality_warning ADD COLUMN source TEXT;"
			     "UPDATE quality_warning SET source = CASE table_name");
	for (const struct cl_table *t = cl_silver_tables; t->name; t++)
		n += (size_t)snprintf(sql + n, sizeof(sql) - n, " WHEN '%s' THEN (SELECT _source FROM"
				      " %s WHERE id = row_id)", t->name, t->name);
	snprintf(sql + n, sizeof(sql) - n, " END");
	if (sqlite3_exec(db, sql, NULL, NULL, NULL) != SQLITE_OK)
		return db_fail(db, "quality_warning");
	return CL_OK;
}

int cl_silver_open(sqlite3 *db, struct cl_silver **out)
{
	struct cl_silver *s = cl_calloc(1, sizeof(*s));
	int rc = CL_OK;

	if (!s)
		return cl_error_set(CL_ENOMEM, "no memory for silver");
	s->db = db;
	cl_silver_txn_end(s);
	for (const struct cl_aux_table *t = cl_silver_aux_tables; rc == CL_OK && t->name; t++)
		if (sqlite3_exec(db, t->create, NULL, NULL, NULL) != SQLITE_OK)
			rc = db_fail(db, t->name);
	if (rc == CL_OK && sqlite3_exec(db, CL_LINEAGE_FILE_CREATE, NULL, NULL, NULL) != SQLITE_OK)
		rc = db_fail(db, "lineage_file");
	if (rc == CL_OK)
		rc = migrate_stores_lineage(db);
	for (int i = 0; rc == CL_OK && cl_silver_tables[i].name; i++)
		rc = create_table(s, &cl_silver_tables[i], &s->st[i]);
	if (rc == CL_OK)
		rc = add_warning_source(db);
	if (rc == CL_OK)
		rc = cl_fhir_writer_open(db, &s->fhir);
	if (rc == CL_OK) {
		/* the search keys of what is held, read again when the catalogue
		 * of search parameters changed since (or first came) */
		int64_t redone;

		rc = cl_fhir_reindex(s->fhir, CL_FHIR_INDEX_VERSION, cl_fhir_index_text, s->fhir,
				     &redone);
		if (rc == CL_OK && redone)
			cl_log_info("refine", "read the FHIR search keys of %lld resources again",
				    (long long)redone);
	}
	if (rc == CL_OK)
		rc = prepare(db, "INSERT INTO quality_warning(run_id, table_name, row_id, reason, source)"
			     " VALUES (?1, ?2, ?3, ?4, ?5)", &s->warn);
	if (rc == CL_OK)
		rc = prepare(db, "INSERT INTO quarantine(table_name, source, bronze_file, run_id,"
			     " record, reason, raw, at_us) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
			     &s->quarantine);
	if (rc == CL_OK)
		rc = prepare(db, "INSERT OR IGNORE INTO lineage_file(file) VALUES (?1)", &s->file_add);
	if (rc == CL_OK)
		rc = prepare(db, "SELECT id FROM lineage_file WHERE file = ?1", &s->file_get);
	if (rc) {
		cl_silver_close(s);
		return rc;
	}
	*out = s;
	return CL_OK;
}

void cl_silver_close(struct cl_silver *s)
{
	if (!s)
		return;
	for (int i = 0; i < NTABLES; i++) {
		sqlite3_finalize(s->st[i].put);
		sqlite3_finalize(s->st[i].del);
	}
	sqlite3_finalize(s->quarantine);
	sqlite3_finalize(s->warn);
	sqlite3_finalize(s->file_add);
	sqlite3_finalize(s->file_get);
	cl_fhir_writer_close(s->fhir);
	for (int i = 0; i < s->nexp; i++)
		sqlite3_finalize(s->exp[i].st);
	cl_silver_txn_end(s);
	cl_free(s);
}

void cl_silver_lineage(struct cl_silver *s, const char *source, const char *file_hash,
		       int64_t run_id, struct cl_silver_counts *counts)
{
	s->source = source;
	s->file = file_hash;
	s->file_id = 0;
	s->run_id = run_id;
	s->c = counts;
	s->ts_us = cl_time_now_us();
	cl_fhir_writer_lineage(s->fhir, source, file_hash, run_id);
}

void cl_silver_set_time(struct cl_silver *s, int64_t ts_us)
{
	s->ts_us = ts_us;
}

int64_t cl_silver_time(const struct cl_silver *s)
{
	return s->ts_us;
}

struct cl_fhir_writer *cl_silver_fhir(struct cl_silver *s)
{
	return s->fhir;
}

/* The id of the rows' file in lineage_file (made in the transaction
 * that writes them, so it goes if they do), looked up once per lineage. */
static int file_id(struct cl_silver *s, int64_t *id)
{
	int rc;

	if (s->file_id) {
		*id = s->file_id;
		return CL_OK;
	}
	sqlite3_bind_text(s->file_add, 1, s->file ? s->file : "", -1, SQLITE_STATIC);
	rc = sqlite3_step(s->file_add);
	sqlite3_reset(s->file_add);
	if (rc != SQLITE_DONE)
		return db_fail(s->db, "lineage_file");
	sqlite3_bind_text(s->file_get, 1, s->file ? s->file : "", -1, SQLITE_STATIC);
	rc = sqlite3_step(s->file_get);
	if (rc == SQLITE_ROW)
		s->file_id = sqlite3_column_int64(s->file_get, 0);
	sqlite3_reset(s->file_get);
	if (rc != SQLITE_ROW)
		return db_fail(s->db, "lineage_file");
	*id = s->file_id;
	return CL_OK;
}

static int step_done(sqlite3 *db, sqlite3_stmt *st, const char *what)
{
	int rc = sqlite3_step(st);

	sqlite3_reset(st);
	sqlite3_clear_bindings(st);
	return rc == SQLITE_DONE || rc == SQLITE_ROW ? CL_OK : db_fail(db, what);
}

int cl_silver_quarantine(struct cl_silver *s, const char *table, const char *record,
			 const char *reason, const char *raw, size_t raw_len)
{
	sqlite3_stmt *q = s->quarantine;

	if (table)
		sqlite3_bind_text(q, 1, table, -1, SQLITE_STATIC);
	sqlite3_bind_text(q, 2, s->source, -1, SQLITE_STATIC);
	sqlite3_bind_text(q, 3, s->file, -1, SQLITE_STATIC);
	sqlite3_bind_int64(q, 4, s->run_id);
	if (record)
		sqlite3_bind_text(q, 5, record, -1, SQLITE_STATIC);
	sqlite3_bind_text(q, 6, reason, -1, SQLITE_TRANSIENT);
	if (raw)
		sqlite3_bind_text(q, 7, raw, (int)(raw_len > 65536 ? 65536 : raw_len),
				  SQLITE_STATIC);
	sqlite3_bind_int64(q, 8, cl_time_now_us());
	if (s->c)
		s->c->quarantined++;
	return step_done(s->db, q, "quarantine");
}

/* A short fingerprint of the row's values, to tell a duplicate from a
 * correction. */
static void row_hash(const struct cl_row *r, char hex[33])
{
	crypto_generichash_state h;
	unsigned char out[16];

	crypto_generichash_init(&h, NULL, 0, sizeof(out));
	for (int i = 0; i < r->t->ncols; i++) {
		const struct cl_val *v = &r->v[i];
		unsigned char tag = v->set ? (unsigned char)(1 + r->t->cols[i].type) : 0;

		crypto_generichash_update(&h, &tag, 1);
		if (!v->set)
			continue;
		if (r->t->cols[i].type == CL_COL_TEXT) {
			uint64_t n = v->n;

			crypto_generichash_update(&h, (const unsigned char *)&n, sizeof(n));
			crypto_generichash_update(&h, (const unsigned char *)v->s, v->n);
		} else if (r->t->cols[i].type == CL_COL_REAL) {
			crypto_generichash_update(&h, (const unsigned char *)&v->d, sizeof(v->d));
		} else {
			crypto_generichash_update(&h, (const unsigned char *)&v->i, sizeof(v->i));
		}
	}
	crypto_generichash_final(&h, out, sizeof(out));
	sodium_bin2hex(hex, 33, out, sizeof(out));
}

void cl_row_seal(struct cl_row *r)
{
	row_hash(r, r->hash);
	r->sealed = 1;
}

/* Binds the row's values to parameters 1..ncols. */
static void bind_row(sqlite3_stmt *st, const struct cl_row *r)
{
	const struct cl_table *t = r->t;

	for (int i = 0; i < t->ncols; i++) {
		const struct cl_val *v = &r->v[i];

		if (!v->set)
			sqlite3_bind_null(st, i + 1);
		else if (t->cols[i].type == CL_COL_TEXT)
			sqlite3_bind_text(st, i + 1, v->s, (int)v->n, SQLITE_STATIC);
		else if (t->cols[i].type == CL_COL_REAL)
			sqlite3_bind_double(st, i + 1, v->d);
		else
			sqlite3_bind_int64(st, i + 1, v->i);
	}
}

/* ---- expectations ---- */

const char *cl_expect_action_name(enum cl_expect_action a)
{
	static const char *const names[] = { "warn", "drop", "quarantine", "fail" };

	return names[a];
}

int cl_expectation_set(struct cl_expectation *es, int *n, int cap, const char *key,
		       const char *value)
{
	char table[32], name[48];
	const char *p = key + 7, *dot, *field;
	struct cl_expectation *e = NULL;

	if (strncmp(key, "expect.", 7) != 0 || !(dot = strchr(p, '.')) ||
	    !(field = strchr(dot + 1, '.')))
		return CL_ENOENT;
	field++;
	if (strcmp(field, "check") && strcmp(field, "action"))
		return CL_ENOENT;
	if ((size_t)(dot - p) >= sizeof(table) || (size_t)(field - 1 - (dot + 1)) >= sizeof(name) ||
	    field - 1 == dot + 1)
		return cl_error_set(CL_EINVAL, "expect.<table>.<name>: a table and a name of at most "
				    "47 characters");
	memcpy(table, p, (size_t)(dot - p));
	table[dot - p] = '\0';
	memcpy(name, dot + 1, (size_t)(field - 1 - (dot + 1)));
	name[field - 1 - (dot + 1)] = '\0';
	if (!cl_silver_table(table))
		return cl_error_set(CL_EINVAL, "expect.%s: there is no silver table '%s'", table,
				    table);
	for (int i = 0; i < *n; i++)
		if (strcmp(es[i].table, table) == 0 && strcmp(es[i].name, name) == 0)
			e = &es[i];
	if (!e) {
		if (*n >= cap)
			return cl_error_set(CL_ERANGE, "at most %d expectations", cap);
		e = &es[(*n)++];
		memset(e, 0, sizeof(*e));
		snprintf(e->table, sizeof(e->table), "%s", table);
		snprintf(e->name, sizeof(e->name), "%s", name);
		e->action = CL_EXPECT_QUARANTINE;
	}
	if (strcmp(field, "check") == 0) {
		if (!*value || strlen(value) >= sizeof(e->check) || strchr(value, ';'))
			return cl_error_set(CL_EINVAL, "expect.%s.%s.check: one SQL condition over "
					    "the row's columns, at most %zu characters", table, name,
					    sizeof(e->check) - 1);
		snprintf(e->check, sizeof(e->check), "%s", value);
		return CL_OK;
	}
	for (int a = CL_EXPECT_WARN; a <= CL_EXPECT_FAIL; a++)
		if (strcmp(value, cl_expect_action_name((enum cl_expect_action)a)) == 0) {
			e->action = (enum cl_expect_action)a;
			return CL_OK;
		}
	return cl_error_set(CL_EINVAL, "expect.%s.%s.action must be warn, drop, quarantine or fail",
			    table, name);
}

int cl_expectations_check(const struct cl_expectation *e, int n)
{
	for (int i = 0; i < n; i++)
		if (!e[i].check[0])
			return cl_error_set(CL_EINVAL, "expect.%s.%s: an expectation needs .check",
					    e[i].table, e[i].name);
	return CL_OK;
}

int cl_silver_expect(struct cl_silver *s, const struct cl_expectation *e, int n)
{
	if (n > CL_EXPECTATIONS_MAX)
		return cl_error_set(CL_ERANGE, "at most %d expectations", CL_EXPECTATIONS_MAX);
	for (int i = 0; i < s->nexp; i++)
		sqlite3_finalize(s->exp[i].st);
	s->nexp = 0;
	for (int i = 0; i < n; i++) {
		struct expect *x = &s->exp[s->nexp];
		char sql[4096];
		size_t o;

		x->e = e[i];
		x->t = cl_silver_table(e[i].table);
		if (!x->t)
			return cl_error_set(CL_EINVAL, "expect.%s: no such table", e[i].table);
		/* the condition over one row, its columns bound by name */
		o = (size_t)snprintf(sql, sizeof(sql), "SELECT coalesce((%s), 0) FROM (SELECT",
				     e[i].check);
		for (int c = 0; c < x->t->ncols && o < sizeof(sql); c++)
			o += (size_t)snprintf(sql + o, sizeof(sql) - o, "%s ?%d AS %s", c ? "," : "",
					      c + 1, x->t->cols[c].name);
		if (o < sizeof(sql))
			snprintf(sql + o, sizeof(sql) - o, ")");
		if (sqlite3_prepare_v2(s->db, sql, -1, &x->st, NULL) != SQLITE_OK)
			return cl_error_set(CL_EINVAL, "expect.%s.%s.check: %s", e[i].table, e[i].name,
					    sqlite3_errmsg(s->db));
		s->nexp++;
	}
	return CL_OK;
}

/* The first expectation of the row's table it fails, or NULL. */
static const struct expect *failed_expectation(struct cl_silver *s, const struct cl_row *r,
					       const struct expect *from)
{
	for (const struct expect *x = from ? from + 1 : s->exp; x < s->exp + s->nexp; x++) {
		int ok;

		if (x->t != r->t)
			continue;
		bind_row(x->st, r);
		ok = sqlite3_step(x->st) == SQLITE_ROW && sqlite3_column_int(x->st, 0) != 0;
		sqlite3_reset(x->st);
		sqlite3_clear_bindings(x->st);
		if (!ok)
			return x;
	}
	return NULL;
}

/* ---- bulk loads (cl_silver.h) ---- */

/* Drops t's secondary indexes, keeping what makes them again. */
static int drop_indexes(struct cl_silver *s, const struct cl_table *t, struct bulk *k)
{
	sqlite3_stmt *q;
	char *names = NULL, *sqls = NULL;
	size_t nn = 0, ns = 0;
	int rc = CL_OK;

	/* the key's own index has no SQL: it stays */
	if (sqlite3_prepare_v2(s->db, "SELECT name, sql FROM sqlite_master WHERE type = 'index'"
			       " AND tbl_name = ?1 AND sql IS NOT NULL", -1, &q, NULL) != SQLITE_OK)
		return db_fail(s->db, "bulk load");
	sqlite3_bind_text(q, 1, t->name, -1, SQLITE_STATIC);
	while (rc == CL_OK && sqlite3_step(q) == SQLITE_ROW) {
		const char *name = (const char *)sqlite3_column_text(q, 0);
		const char *sql = (const char *)sqlite3_column_text(q, 1);
		size_t ln = strlen(name), ls = strlen(sql);
		char *n2 = cl_realloc(names, nn + ln + 40), *s2 = n2 ? cl_realloc(sqls, ns + ls + 20)
								 : NULL;

		if (n2)
			names = n2;
		if (!n2 || !s2) {
			rc = cl_error_set(CL_ENOMEM, "no memory for a bulk load");
			break;
		}
		sqls = s2;
		nn += (size_t)sprintf(names + nn, "DROP INDEX \"%s\";", name);
		/* built again IF NOT EXISTS: a ROLLBACK TO a savepoint before
		 * the drop (refine --rebuild undoing a file) brings it back */
		if (strncmp(sql, "CREATE INDEX ", 13) == 0)
			ns += (size_t)sprintf(sqls + ns, "CREATE INDEX IF NOT EXISTS %s;", sql + 13);
		else
			ns += (size_t)sprintf(sqls + ns, "%s;", sql);
	}
	sqlite3_finalize(q);
	if (rc == CL_OK && !names) {
		k->declined = 1;
	} else if (rc == CL_OK) {
		if (sqlite3_exec(s->db, names, NULL, NULL, NULL) != SQLITE_OK) {
			rc = db_fail(s->db, "bulk load");
		} else {
			k->indexes = sqls;
			sqls = NULL;
			if (s->c)
				s->c->bulk++;
		}
	}
	cl_free(names);
	cl_free(sqls);
	return rc;
}

/* A new row in t: past the bulk threshold, its indexes go until commit. */
static int bulk_row(struct cl_silver *s, const struct cl_table *t)
{
	struct bulk *k = &s->bulk[table_index(t)];
	sqlite3_stmt *q;

	if (++k->inserted < CL_SILVER_BULK_ROWS || k->indexes || k->declined)
		return CL_OK;
	if (k->before < 0) {
		/* what it held at the last commit: source_rows has it */
		if (sqlite3_prepare_v2(s->db, "SELECT coalesce(sum(rows), 0) FROM source_rows WHERE"
				       " table_name = ?1", -1, &q, NULL) != SQLITE_OK)
			return db_fail(s->db, "bulk load");
		sqlite3_bind_text(q, 1, t->name, -1, SQLITE_STATIC);
		k->before = sqlite3_step(q) == SQLITE_ROW ? sqlite3_column_int64(q, 0) : 0;
		sqlite3_finalize(q);
	}
	if (k->inserted < k->before)
		return CL_OK;
	return drop_indexes(s, t, k);
}

int cl_silver_before_commit(struct cl_silver *s)
{
	for (int i = 0; i < NTABLES; i++) {
		struct bulk *k = &s->bulk[i];

		if (!k->indexes)
			continue;
		if (sqlite3_exec(s->db, k->indexes, NULL, NULL, NULL) != SQLITE_OK)
			return db_fail(s->db, "bulk load: building the indexes again");
		cl_free(k->indexes);
		k->indexes = NULL;
	}
	return CL_OK;
}

void cl_silver_txn_end(struct cl_silver *s)
{
	for (int i = 0; i < NTABLES; i++) {
		cl_free(s->bulk[i].indexes);
		s->bulk[i] = (struct bulk){ .before = -1 };
	}
	s->file_id = 0; /* a rollback may have taken it */
}

/* What cl_silver_put does before it releases the row. */
static int put_row(struct cl_silver *s, struct cl_row *r)
{
	const struct cl_table *t = r->t;
	struct stmts *st = &s->st[table_index(t)];
	int64_t fid = 0;
	int rc, fresh;

	if (r->error)
		return cl_error_set(r->error, "%s %s: a value could not be kept: %s", t->name,
				    r->record ? r->record : "?", cl_strerror(r->error));
	if (s->c)
		s->c->records++;
	if (r->too_long >= 0) {
		char why[200];

		snprintf(why, sizeof(why), "%s.%s is %zu bytes long; a value may be at most %zu "
			 "bytes (1 MiB)", t->name, t->cols[r->too_long].name, r->too_long_n,
			 CL_ROW_TEXT_MAX);
		return cl_silver_quarantine(s, t->name, r->record, why,
					    r->v[0].set ? r->v[0].s : NULL,
					    r->v[0].set ? r->v[0].n : 0);
	}
	for (int i = 0; i < t->ncols; i++) {
		if (t->cols[i].required && (!r->v[i].set || (t->cols[i].type == CL_COL_TEXT &&
							     r->v[i].n == 0))) {
			char why[160];

			snprintf(why, sizeof(why), "%s.%s is required", t->name, t->cols[i].name);
			return cl_silver_quarantine(s, t->name, r->record, why,
						    r->v[0].set ? r->v[0].s : NULL,
						    r->v[0].set ? r->v[0].n : 0);
		}
	}
	/* expectations declared in config: each failure as its action says */
	for (const struct expect *x = failed_expectation(s, r, NULL); x;
	     x = failed_expectation(s, r, x)) {
		char why[700];

		snprintf(why, sizeof(why), "expectation %s failed: %s", x->e.name, x->e.check);
		switch (x->e.action) {
		case CL_EXPECT_FAIL:
			return cl_error_set(CL_EINVAL, "%s %.*s (%s): %s", t->name, (int)r->v[0].n,
					    r->v[0].s, r->record ? r->record : "?", why);
		case CL_EXPECT_QUARANTINE:
			return cl_silver_quarantine(s, t->name, r->record, why, r->v[0].s, r->v[0].n);
		case CL_EXPECT_DROP:
			if (s->c)
				s->c->dropped++;
			return CL_OK;
		case CL_EXPECT_WARN:
			sqlite3_bind_int64(s->warn, 1, s->run_id);
			sqlite3_bind_text(s->warn, 2, t->name, -1, SQLITE_STATIC);
			sqlite3_bind_text(s->warn, 3, r->v[0].s, (int)r->v[0].n, SQLITE_STATIC);
			sqlite3_bind_text(s->warn, 4, why, -1, SQLITE_TRANSIENT);
			sqlite3_bind_text(s->warn, 5, s->source, -1, SQLITE_STATIC);
			rc = step_done(s->db, s->warn, "warn");
			if (rc)
				return rc;
			if (s->c)
				s->c->warnings++;
			break;
		}
	}
	if (!r->sealed)
		cl_row_seal(r);
	rc = file_id(s, &fid);
	if (rc)
		return rc;
	bind_row(st->put, r);
	sqlite3_bind_text(st->put, t->ncols + 1, s->source, -1, SQLITE_STATIC);
	sqlite3_bind_int64(st->put, t->ncols + 2, fid);
	sqlite3_bind_int64(st->put, t->ncols + 3, s->run_id);
	if (r->record)
		sqlite3_bind_text(st->put, t->ncols + 4, r->record, -1, SQLITE_STATIC);
	sqlite3_bind_text(st->put, t->ncols + 5, r->hash, 32, SQLITE_STATIC);
	sqlite3_bind_int64(st->put, t->ncols + 6, cl_time_now_us());
	/* a new row sets the last rowid (never 0); an update leaves it */
	sqlite3_set_last_insert_rowid(s->db, 0);
	rc = sqlite3_step(st->put);
	fresh = sqlite3_last_insert_rowid(s->db) != 0;
	if (rc == SQLITE_DONE && s->c) {
		if (sqlite3_changes(s->db) == 0) {
			s->c->duplicates++;
		} else {
			s->c->accepted++;
			s->c->updated += !fresh;
			s->c->by_table[table_index(t)]++;
		}
	}
	sqlite3_reset(st->put);
	sqlite3_clear_bindings(st->put);
	if (rc != SQLITE_DONE)
		return db_fail(s->db, "write silver");
	return fresh ? bulk_row(s, t) : CL_OK;
}

int cl_silver_put(struct cl_silver *s, struct cl_row *r)
{
	int rc = put_row(s, r);

	cl_row_release(r);
	return rc;
}

int cl_silver_delete(struct cl_silver *s, const char *table, const char *id)
{
	const struct cl_table *t = cl_silver_table(table);
	struct stmts *st;
	int rc;

	if (!t)
		return CL_ENOENT;
	st = &s->st[table_index(t)];
	sqlite3_bind_text(st->del, 1, id, -1, SQLITE_STATIC);
	rc = step_done(s->db, st->del, "delete from silver");
	if (rc == CL_OK && s->c && sqlite3_changes(s->db) > 0)
		s->c->deleted++;
	return rc;
}

int cl_silver_clear(struct cl_silver *s)
{
	char sql[128];

	for (const struct cl_table *t = cl_silver_tables; t->name; t++) {
		snprintf(sql, sizeof(sql), "DELETE FROM %s", t->name);
		if (sqlite3_exec(s->db, sql, NULL, NULL, NULL) != SQLITE_OK)
			return db_fail(s->db, "clear silver");
	}
	if (sqlite3_exec(s->db, "DELETE FROM quarantine; DELETE FROM quality_warning", NULL, NULL,
			 NULL) != SQLITE_OK)
		return db_fail(s->db, "clear quarantine");
	return cl_fhir_clear(s->fhir);
}

int cl_silver_set_references(struct cl_silver *s, const char *action)
{
	if (!action || !*action || strcmp(action, "warn") == 0)
		s->ref_action = CL_EXPECT_WARN;
	else if (strcmp(action, "drop") == 0)
		s->ref_action = CL_EXPECT_DROP;
	else if (strcmp(action, "quarantine") == 0)
		s->ref_action = CL_EXPECT_QUARANTINE;
	else
		return cl_error_set(CL_EINVAL, "refine.references must be warn, drop or quarantine "
				    "(got '%.40s')", action);
	return CL_OK;
}

/* Rows of this run whose reference names no row: warned about, or
 * quarantined or dropped — parents first, so that the children of a row
 * taken out are taken out too. */
int cl_silver_check_references(struct cl_silver *s, int64_t run_id)
{
	for (const struct cl_table *t = cl_silver_tables; t->name; t++) {
		for (int i = 0; i < t->ncols; i++) {
			const char *ref = t->cols[i].references, *col = t->cols[i].name;
			char where[400], sql[1200];
			uint64_t n;

			if (!ref)
				continue;
			snprintf(where, sizeof(where), "_run_id = %lld AND %s IS NOT NULL AND %s NOT IN "
				 "(SELECT id FROM %s)", (long long)run_id, col, col, ref);
			if (s->ref_action == CL_EXPECT_WARN)
				snprintf(sql, sizeof(sql), "INSERT INTO quality_warning(run_id, table_name,"
					 " row_id, reason, source) SELECT %lld, '%s', id, '%s ' || %s || ' does"
					 " not exist', _source FROM %s WHERE %s", (long long)run_id, t->name,
					 ref, col, t->name, where);
			else if (s->ref_action == CL_EXPECT_QUARANTINE)
				snprintf(sql, sizeof(sql), "INSERT INTO quarantine(table_name, source,"
					 " bronze_file, run_id, record, reason, raw, at_us) SELECT '%s',"
					 " _source, " CL_LINEAGE_FILE_OF("_file_id") ", %lld, _record, '%s ' || %s || ' does not"
					 " exist', id, %lld FROM %s WHERE %s", t->name, (long long)run_id, ref,
					 col, (long long)cl_time_now_us(), t->name, where);
			else
				sql[0] = '\0';
			if (sql[0] && sqlite3_exec(s->db, sql, NULL, NULL, NULL) != SQLITE_OK)
				return db_fail(s->db, "check references");
			n = sql[0] ? (uint64_t)sqlite3_changes(s->db) : 0;
			if (s->ref_action != CL_EXPECT_WARN) {
				snprintf(sql, sizeof(sql), "DELETE FROM %s WHERE %s", t->name, where);
				if (sqlite3_exec(s->db, sql, NULL, NULL, NULL) != SQLITE_OK)
					return db_fail(s->db, "check references");
				n = (uint64_t)sqlite3_changes(s->db);
			}
			if (!s->c || !n)
				continue;
			switch (s->ref_action) {
			case CL_EXPECT_WARN:
				s->c->warnings += n;
				break;
			case CL_EXPECT_QUARANTINE:
				s->c->quarantined += n;
				break;
			default:
				s->c->dropped += n;
			}
			if (s->ref_action != CL_EXPECT_WARN) {
				/* they were counted as accepted when they went in */
				s->c->accepted -= n < s->c->accepted ? n : s->c->accepted;
				s->c->by_table[table_index(t)] -= n < s->c->by_table[table_index(t)]
									 ? n : s->c->by_table[table_index(t)];
			}
		}
	}
	return CL_OK;
}

/* The expect.* list section's functions. */
static int expect_set(void *items, int *n, int max, const char *key, const char *value)
{
	return cl_expectation_set(items, n, max, key, value);
}

static int expect_check(void *items, int n)
{
	return cl_expectations_check(items, n);
}

static void expect_print(FILE *out, const void *items, int n, int help)
{
	const struct cl_expectation *e = items;

	for (int i = 0; i < n; i++)
		fprintf(out, "expect.%s.%s = %s (%s)\n", e[i].table, e[i].name, e[i].check,
			cl_expect_action_name(e[i].action));
	if (help)
		fprintf(out, "    declare an expectation with expect.<table>.<name>.check (a "
			"SQL condition over\n    the row's columns) and .action (warn, "
			"drop, quarantine, fail)\n");
}

static const struct cl_config_list expect_list = {
	.forms = "expect.<table>.<name>.check|action",
	.item_size = sizeof(struct cl_expectation),
	.max = CL_EXPECTATIONS_MAX,
	.set = expect_set,
	.check = expect_check,
	.print = expect_print,
};

const struct cl_config_section cl_expect_section = {
	.name = "expect",
	.list = &expect_list,
};
