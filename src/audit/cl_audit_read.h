/*
 * Reading the audit trail back: every line of every file in order, the
 * check of the whole trail (`carelake audit verify`), and searches over
 * its records (`carelake audit query`, `audit report`, GET
 * /fhir/AuditEvent).
 *
 * The files are outside input: they may have been edited, truncated,
 * shipped and brought back. Reading never trusts them; verification says
 * exactly where the first thing wrong is.
 */
#ifndef CL_AUDIT_READ_H
#define CL_AUDIT_READ_H

#include <stddef.h>
#include <stdint.h>

#include "cl_audit_line.h"

struct cl_audit_reader;

/* Opens the trail in dir for reading, files in order (CL_ENOENT when dir
 * holds no audit file). */
int cl_audit_reader_open(const char *dir, struct cl_audit_reader **out);

/*
 * The next line: 1 with e decoded (e->file and e->line say where; *drc is
 * 0, or the CL_EPARSE / CL_ECORRUPT of cl_audit_line_decode with the
 * detail set, e then holding what could be read), 0 at the end, or a
 * negative code when a file cannot be read. A last line without its
 * newline (a write cut short) is not returned; cl_audit_reader_torn says
 * how many bytes it had.
 */
int cl_audit_reader_next(struct cl_audit_reader *r, struct cl_audit_entry *e, int *drc);

/* Bytes of a torn last line met so far (0: none). */
uint64_t cl_audit_reader_torn(const struct cl_audit_reader *r);

/* cl_audit_reader_close(NULL) is a no-op. */
void cl_audit_reader_close(struct cl_audit_reader *r);

/* What cl_audit_verify found. */
struct cl_audit_verify {
	int ok;                      /* 1: every record and checkpoint is intact */
	uint64_t records;            /* event records read */
	uint64_t checkpoints;        /* checkpoints whose signatures hold */
	uint64_t last_seq;           /* the last seq of the chain */
	uint64_t uncovered;          /* records after the last checkpoint */
	uint64_t torn_bytes;         /* a torn last line (a crash; not an error) */
	char file[64];               /* the first problem: its file name ... */
	uint64_t line;               /* ... line, from 1 ... */
	uint64_t seq;                /* ... and the record's seq (0: not known) */
	char problem[512];           /* what is wrong, naming the record */
};

/*
 * Checks the trail in dir: every line a record whose hash matches its
 * content, seqs from 1 without gaps, each record's prev the hash of the
 * one before, each checkpoint covering the record before it and signed by
 * a trusted key, and head.json (the latest checkpoint) present in the
 * trail. Trusted keys are `keys` (hex public keys, one a line) when not
 * NULL, else those in dir/signing.pub. Stops at the first problem. Returns
 * 0 when the check ran (v->ok says the verdict), a negative code when it
 * could not (no trail, unreadable files).
 */
int cl_audit_verify(const char *dir, const char *keys, struct cl_audit_verify *v);

/* Which records a search returns; NULL and 0 members do not restrict. */
struct cl_audit_filter {
	const char *patient;        /* records involving this patient id */
	const char *principal;      /* by this principal */
	const char *action;         /* with this action (read, search, ...) */
	const char *resource_type;  /* on this resource type */
	char fhir_action;           /* with this FHIR AuditEvent.action code (C R U D E) */
	char fhir_outcome;          /* with this AuditEvent.outcome ('0', '4', '8'; 0: any) */
	int64_t since_us;           /* at or after (0: no bound) */
	int64_t until_us;           /* at or before (0: no bound) */
};

/* 1 when event e passes filter f. */
int cl_audit_filter_match(const struct cl_audit_filter *f, const struct cl_audit_entry *e);

/*
 * Calls fn(arg, e) for every event record in dir that passes f, in trail
 * order; a nonzero return from fn stops the search (and is returned).
 * Lines that are not whole records are skipped (verify names them).
 * A directory without a trail is an empty one.
 */
int cl_audit_search(const char *dir, const struct cl_audit_filter *f,
		    int (*fn)(void *arg, const struct cl_audit_entry *e), void *arg);

#endif
