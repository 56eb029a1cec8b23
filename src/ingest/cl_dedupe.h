/*
 * Idempotency: remembers the ids of recently accepted events, and a digest
 * of what each one held, so that a retried event is answered as a
 * duplicate instead of stored twice, and a different event sent under an
 * id already used is told apart as a conflict.
 *
 * An id is kept as a 96-bit keyed hash (SipHash-2-4 under two keys drawn
 * at random per process, from libsodium; with a million ids held, a new
 * id is taken for one of them with a chance of about 10^-23), beside 32
 * bits of its content's hash: 16 bytes a slot, in an open-addressing table
 * with linear probing, forgotten oldest-first once `capacity` are held.
 * Two different contents share their 32 bits with a chance of 2^-32: such
 * a conflict is answered as a duplicate, which stores nothing either.
 * Thread-safe.
 */
#ifndef CL_DEDUPE_H
#define CL_DEDUPE_H

#include <stddef.h>
#include <stdint.h>

struct cl_dedupe;

int cl_dedupe_create(size_t capacity, struct cl_dedupe **out);
void cl_dedupe_destroy(struct cl_dedupe *d);

/* What cl_dedupe_insert found. */
enum cl_dedupe_seen {
	CL_DEDUPE_NEW,        /* not remembered: it is now */
	CL_DEDUPE_REPEAT,     /* remembered, with the same content */
	CL_DEDUPE_CONFLICT,   /* remembered, with a different content (kept) */
};

/* Adds id with the hash of its content (cl_json_hash), unless the id is
 * remembered already; says which. */
enum cl_dedupe_seen cl_dedupe_insert(struct cl_dedupe *d, const char *id, size_t len,
				     uint64_t content);

/* 1 if id is remembered, else 0. */
int cl_dedupe_has(struct cl_dedupe *d, const char *id, size_t len);

/* Forgets id (its event was not stored after all). */
void cl_dedupe_remove(struct cl_dedupe *d, const char *id, size_t len);

/* Ids remembered now. */
size_t cl_dedupe_count(struct cl_dedupe *d);

#endif
