/*
 * De-identification by HIPAA Safe Harbor (45 CFR 164.514(b)(2)): what a
 * researcher, and `carelake export --deidentify`, may see of carelake's
 * silver and gold tables.
 *
 * Every column of every table has one rule, in one table
 * (cl_deid_columns, cl_deid_rules.c; shown in docs/deidentification.md):
 * direct identifiers and free text are dropped; ids become keyed
 * pseudonyms (HMAC-SHA256 under the keys directory's "pseudonym" key, so
 * the same id gives the same pseudonym in every export and tables still
 * join); the dates of a person move by that person's own number of days
 * (from the "date-shift" key), so every interval of one patient survives,
 * or keep their year only (deid.year_only_dates); a birth date that would
 * make a patient 90 or older moves so the age is 90; a ZIP code keeps its
 * 3-digit area only when that area is listed (deid.zip3_keep,
 * deid.zip3_file), else it is "000". A column without a rule is refused,
 * never exported as it is.
 *
 * The value functions below are the rules themselves; cl_deid_export
 * applies them to a whole table through SQL functions it registers on the
 * connection that reads it.
 */
#ifndef CL_DEID_H
#define CL_DEID_H

#include <stddef.h>
#include <stdint.h>
#include <sqlite3.h>

#include "core/cl_config.h"

/* What de-identification does to a column. */
enum cl_deid_rule {
	CL_DEID_KEEP,        /* not an identifier: kept as it is */
	CL_DEID_DROP,        /* a direct identifier: not in the output */
	CL_DEID_FREE_TEXT,   /* free text, which may name anyone: not in the output */
	CL_DEID_PSEUDONYM,   /* an id: its keyed pseudonym in the id space `whose` */
	CL_DEID_DATE,        /* a date of the person the column `whose` names: shifted */
	CL_DEID_BIRTH_DATE,  /* a birth date: shifted, and capped at age 90 */
	CL_DEID_YEAR,        /* a date of no one person (a day of counts): its year */
	CL_DEID_ZIP,         /* a ZIP code: its listed 3-digit area, else "000" */
	CL_DEID_AGE,         /* an age in years: capped at CL_DEID_AGE_CAP */
	CL_DEID_WITHHELD,    /* a whole table that is never exported de-identified */
};

/* One row of the classification. */
struct cl_deid_column {
	const char *table;   /* "patient"; "*" for the lineage columns of every silver table */
	const char *column;  /* NULL with CL_DEID_WITHHELD: the whole table */
	enum cl_deid_rule rule;
	/* PSEUDONYM: the id space ("patient": a patient_id anywhere is the
	 * same pseudonym as patient.id). DATE and BIRTH_DATE: the column of
	 * the same row naming the person whose offset moves it ("patient_id";
	 * "id" in the person's own table). */
	const char *whose;
	const char *why;     /* for the documentation: the Safe Harbor item, or why it is safe */
};

/* The classification, NULL-table terminated. */
extern const struct cl_deid_column cl_deid_columns[];

/* The rule of table.column (the table's own row, else the lineage row
 * "*"), or NULL when it has none. A withheld table's row is returned for
 * every column. */
const struct cl_deid_column *cl_deid_rule_of(const char *table, const char *column);

/* The name of a rule as the documentation writes it ("pseudonym"). */
const char *cl_deid_rule_name(enum cl_deid_rule r);

/* The deid.* settings. */
struct cl_deid_settings {
	uint32_t year_only_dates;          /* deid.year_only_dates: 1: every date its year */
	uint32_t date_shift_days;          /* deid.date_shift_days: most days a date moves */
	char zip3_keep[CL_CFG_STRING_MAX];  /* deid.zip3_keep: "010,011,..." */
	char zip3_file[CL_CFG_STRING_MAX];  /* deid.zip3_file: a file of more of them */
};

extern const struct cl_config_section cl_deid_section;
const struct cl_deid_settings *cl_deid_settings(const struct cl_config *c);

/* Bytes of a pseudonym's hex text (16 bytes of the HMAC). */
#define CL_DEID_PSEUDONYM_LEN 32

/* Ages of this many years or more are shown as this age. */
#define CL_DEID_AGE_CAP 90

struct cl_deid;

/*
 * Opens a de-identifier: the "pseudonym" and "date-shift" keys of
 * keys_dir (made on first use, cl_keys_secret), the settings `s`, and
 * `now_us`, the instant at which a living patient's age is taken.
 * CL_EINVAL when a listed ZIP area is not 3 digits or a key is refused,
 * CL_EIO when a key or the ZIP file cannot be read.
 */
int cl_deid_open(const char *keys_dir, const struct cl_deid_settings *s, int64_t now_us,
		 struct cl_deid **out);

/* Closes it and wipes its keys. NULL is a no-op. */
void cl_deid_close(struct cl_deid *d);

/* 1 when every date keeps only its year (deid.year_only_dates). */
int cl_deid_year_only(const struct cl_deid *d);

/* The pseudonym of id (n bytes) in the id space `whose`: 32 lowercase
 * hex digits and a NUL into out. */
void cl_deid_pseudonym(const struct cl_deid *d, const char *whose, const char *id, size_t n,
		       char out[CL_DEID_PSEUDONYM_LEN + 1]);

/* The days every date of the person `id` of id space `whose` moves:
 * never 0, at most deid.date_shift_days either way. */
int64_t cl_deid_shift_days(const struct cl_deid *d, const char *whose, const char *id, size_t n);

/*
 * A date or date-time (YYYY, YYYY-MM, YYYY-MM-DD or RFC 3339) moved by
 * `days`, written as it came (a date-time in UTC): "YYYY" under
 * deid.year_only_dates. CL_EINVAL for anything else, and then nothing
 * of it may be shown.
 */
int cl_deid_date(const struct cl_deid *d, const char *in, size_t n, int64_t days, char *out,
		 size_t cap);

/*
 * A birth date moved by `days` like cl_deid_date, but first, when the
 * person is 90 or older at `death` (their death date, or NULL: the
 * de-identifier's now), set to 90 years before that instant, so no date
 * of the record shows an age over 90. CL_EINVAL as cl_deid_date.
 */
int cl_deid_birth_date(const struct cl_deid *d, const char *birth, size_t n, const char *death,
		       size_t dn, int64_t days, char *out, size_t cap);

/* A ZIP code's 3-digit area when it is listed, else "000" (out: 4 bytes). */
void cl_deid_zip(const struct cl_deid *d, const char *zip, size_t n, char out[4]);

/* Registers deid_pseudonym(whose, id), deid_date(whose, person, date),
 * deid_birth_date(whose, person, birth, death), deid_year(date) and
 * deid_zip(zip) on db, using d (which must outlive db's use of them). */
int cl_deid_functions(sqlite3 *db, struct cl_deid *d);

struct cl_lake_cols;
/*
 * The de-identified SELECT of the SQLite table `table` into sql[cap], and
 * its result columns (lake/cl_lake_cols.h) into out: the columns the rules
 * keep, in the table's order, each through its rule's SQL function (which
 * cl_deid_functions must have registered on db before it runs). For a
 * reader of de-identified rows other than an export (the researcher's
 * view). CL_EINVAL as cl_deid_export.
 */
int cl_deid_select(sqlite3 *db, const struct cl_deid *d, const char *table,
		   struct cl_lake_cols *out, char *sql, size_t cap);

/*
 * Writes table `table` (a name cl_lake_resolve accepts) de-identified as
 * one file, like cl_lake_export: "parquet", "csv" or "ndjson", mode 0600,
 * renamed into place whole. Its columns are those the rules keep, in the
 * table's order. CL_EINVAL naming the column when a column has no rule,
 * or naming the table when it is withheld.
 */
int cl_deid_export(sqlite3 *db, struct cl_deid *d, const char *table, const char *format,
		   const char *out_path, int64_t *rows);

#endif
