/*
 * RFC 4180 CSV: fields separated by a delimiter (',' by default; ';', tab
 * or '|' too), records by CRLF, LF or CR alone, fields optionally quoted
 * with '"' (a quoted field may hold delimiters, line breaks and doubled
 * quotes). A UTF-8 byte-order mark before the first field is skipped.
 * Fields are text: a record with a NUL byte or bytes that are not UTF-8
 * in a field is refused, naming the field.
 *
 * The parser reads a whole buffer in place: unquoted fields point into
 * it; quoted ones are unescaped into the parser's scratch space. Errors
 * name the line (1-based, counting the line breaks inside quoted fields)
 * and what was wrong: a quote inside an unquoted field, text after a
 * closing quote, a quoted field never closed, too many fields, a NUL byte,
 * not UTF-8. Reading resumes on the next line; after a quote never closed,
 * on the line after the one it opened on (it was most likely stray).
 */
#ifndef CL_CSV_H
#define CL_CSV_H

#include <stddef.h>
#include <stdio.h>
#include <stdint.h>

struct cl_csv_field {
	const char *p;
	size_t len;
};

struct cl_csv {
	const char *src;
	size_t len, pos;
	char delim;
	uint64_t line;           /* line of the record last read (1-based) */
	uint64_t next_line;
	struct cl_csv_field *f;  /* the record's fields */
	uint32_t nf, capf;
	char *scratch;           /* unescaped quoted fields */
	size_t scratch_len, scratch_cap;
	uint32_t max_fields;     /* refuse records with more (CL_EPARSE; default 4096) */
	char err[160];
};

/* delim 0: guess from the first line (',', ';', tab or '|'). */
void cl_csv_init(struct cl_csv *c, const char *src, size_t len, char delim);
void cl_csv_free(struct cl_csv *c);

/* Reads the next record into c->f / c->nf. Returns 1, 0 at the end,
 * CL_EPARSE with c->err saying what and where (the next call resumes on
 * the following line, as above), or CL_ENOMEM. Blank lines are skipped. */
int cl_csv_next(struct cl_csv *c);

#endif
