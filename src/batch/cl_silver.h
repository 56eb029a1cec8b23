/*
 * Silver: the clean, deduplicated tables in carelake.db, each row keyed by
 * its business key (`id`) and carrying its lineage: the source, the bronze
 * file (content hash) and the run that produced it, and where in the file
 * it came from. Rows are upserted: a record seen again unchanged is a
 * duplicate and changes nothing; a changed one (a correction) replaces the
 * old row. Records that fail an expectation go to `quarantine` with the
 * reason, and the bronze file keeps them as they came.
 */
#ifndef CL_SILVER_H
#define CL_SILVER_H

#include "model/cl_tables.h"

#include <sqlite3.h>
#include <stddef.h>
#include <stdint.h>

/* One value of a row: NULL unless set. */
struct cl_val {
	uint8_t set;
	const char *s;   /* text (not necessarily NUL-terminated) */
	size_t n;
	double d;
	int64_t i;
};

/* The longest text value a row takes: 1 MiB. A row given a longer one is
 * quarantined by cl_silver_put, the reason naming the column and this
 * limit (docs/commands/ingest.md). */
#define CL_ROW_TEXT_MAX ((size_t)1 << 20)

/* A text that did not fit a row's own buffer (cl_row_text). */
struct cl_row_spill;

struct cl_row {
	const struct cl_table *t;
	struct cl_val v[CL_SILVER_MAX_COLS];
	char buf[8192];   /* text copied in by cl_row_text, while it fits */
	size_t used;
	struct cl_row_spill *spill;  /* texts that did not fit buf (cl_row_release) */
	int too_long;     /* the first column given text over CL_ROW_TEXT_MAX, or -1 */
	size_t too_long_n;           /* that text's length */
	int error;        /* a text that could not be kept (CL_ENOMEM), or 0 */
	const char *record;   /* where in the file: "entry 3", "line 17" */
	int sealed;       /* hash holds the fingerprint of the values (cl_row_seal) */
	char hash[33];
};

void cl_row_init(struct cl_row *r, const struct cl_table *t, const char *record);
/* Sets column `col` (by name); text is copied, into the row's buffer or,
 * when that is full, into memory of its own that cl_row_release frees.
 * Text longer than CL_ROW_TEXT_MAX is not kept (CL_ETOOBIG): the row
 * remembers the column, and cl_silver_put quarantines it. CL_ENOENT: no
 * such column; CL_ENOMEM (remembered too: cl_silver_put returns it). */
int cl_row_text(struct cl_row *r, const char *col, const char *s, size_t n);
/* Frees the text cl_row_text kept outside the row's buffer: the row's
 * values are not to be read after, and cl_row_init makes it ready again.
 * cl_silver_put does it; a row given up without being put must be
 * released. NULL or a row with nothing outside its buffer: a no-op. */
void cl_row_release(struct cl_row *r);
int cl_row_real(struct cl_row *r, const char *col, double d);
/* Computes the fingerprint of the row's values that tells a duplicate
 * from a correction, once they are all set (no value is to be set after):
 * a row built on one thread and put on another costs the putting thread
 * nothing for it. cl_silver_put does it for a row not sealed. */
void cl_row_seal(struct cl_row *r);
int cl_row_int(struct cl_row *r, const char *col, int64_t i);
const struct cl_val *cl_row_get(const struct cl_row *r, const char *col);

/* An expectation declared in config: a SQL condition over a row's columns
 * (`value BETWEEN 20 AND 300`), and what to do with a row that fails it. */
enum cl_expect_action { CL_EXPECT_WARN, CL_EXPECT_DROP, CL_EXPECT_QUARANTINE, CL_EXPECT_FAIL };

struct cl_expectation {
	char table[32];
	char name[48];
	char check[512];
	enum cl_expect_action action;
};

#define CL_EXPECTATIONS_MAX 32

/* Applies one "expect.<table>.<name>.check|action" setting. CL_ENOENT: not
 * an expectation key. */
int cl_expectation_set(struct cl_expectation *e, int *n, int cap, const char *key,
		       const char *value);
int cl_expectations_check(const struct cl_expectation *e, int n);
const char *cl_expect_action_name(enum cl_expect_action a);

/* The expect.* settings: a list of struct cl_expectation (CL_EXPECTATIONS_MAX). */
struct cl_config_section;
extern const struct cl_config_section cl_expect_section;

/* Counts of one load or refine. */
struct cl_silver_counts {
	uint64_t records;        /* rows offered */
	uint64_t accepted;       /* inserted or changed */
	uint64_t updated;        /* of which replaced an older version */
	uint64_t duplicates;     /* unchanged */
	uint64_t quarantined;
	uint64_t deleted;        /* removed by a FHIR DELETE */
	uint64_t warnings;       /* kept, with a warning (dangling references) */
	uint64_t other;          /* records kept in bronze only (other FHIR types) */
	uint64_t dropped;        /* rows an expectation dropped */
	uint64_t bulk;           /* tables loaded in bulk (indexes built at commit) */
	uint64_t by_table[32];   /* accepted, by cl_silver_tables index */
};

struct cl_silver;
struct cl_fhir_writer;

/* On an open carelake.db connection: creates the tables if needed. */
int cl_silver_open(sqlite3 *db, struct cl_silver **out);
void cl_silver_close(struct cl_silver *s);

/* The lineage of the rows that follow. */
void cl_silver_lineage(struct cl_silver *s, const char *source, const char *file_hash,
		       int64_t run_id, struct cl_silver_counts *counts);

/* When bronze accepted the records that follow (cl_silver_lineage sets
 * it to now): the time of the FHIR resource versions they make. */
void cl_silver_set_time(struct cl_silver *s, int64_t ts_us);
int64_t cl_silver_time(const struct cl_silver *s);

/* The FHIR resource versions, written beside the rows (cl_store_fhir.h). */
struct cl_fhir_writer *cl_silver_fhir(struct cl_silver *s);

/* Declares the expectations rows are checked against (prepared once;
 * a check that SQLite cannot compile fails here, naming it). */
int cl_silver_expect(struct cl_silver *s, const struct cl_expectation *e, int n);

/* Validates and upserts a row, or quarantines it with the reason (a
 * required column missing, a text over CL_ROW_TEXT_MAX, an expectation
 * failed). An expectation whose action is fail returns CL_EINVAL with the
 * reason. The row is released (cl_row_release) whatever the outcome. */
int cl_silver_put(struct cl_silver *s, struct cl_row *r);

/* Quarantines a record that never became a row (it could not be parsed). */
int cl_silver_quarantine(struct cl_silver *s, const char *table, const char *record,
			 const char *reason, const char *raw, size_t raw_len);

/* Deletes a row (a FHIR DELETE). */
int cl_silver_delete(struct cl_silver *s, const char *table, const char *id);

/* Empties every silver table, the quarantine and the FHIR resource
 * versions (refine --rebuild). */
int cl_silver_clear(struct cl_silver *s);

/* What becomes of rows whose references name no row: "warn" (kept,
 * listed in quality_warning; the default), "drop" or "quarantine". */
int cl_silver_set_references(struct cl_silver *s, const char *action);

/* Applies that to the rows of this run (at its end, so the order of the
 * files in a run does not matter). */
int cl_silver_check_references(struct cl_silver *s, int64_t run_id);

/* Bulk loads. Once a transaction has put CL_SILVER_BULK_ROWS new rows
 * into a table, and at least as many as the table held before it, the
 * table's secondary indexes are dropped for the rest of the transaction
 * (its key stays, so upserts still find their rows), and built again,
 * each by one sort, when it commits: far cheaper than keeping them row by
 * row when a load is most of the table. Readers see the indexes
 * throughout (WAL: they read the last commit); a rollback brings them
 * back with the rows.
 *
 * cl_silver_before_commit builds the indexes again (those not already
 * there: a ROLLBACK TO a savepoint older than the drop brings them back);
 * call it inside the transaction, just before COMMIT. cl_silver_txn_end forgets the
 * transaction's counts; call it after COMMIT or ROLLBACK. */
#define CL_SILVER_BULK_ROWS 50000
int cl_silver_before_commit(struct cl_silver *s);
void cl_silver_txn_end(struct cl_silver *s);

#endif
