/*
 * Idempotency: remembers the ids of recently accepted events so a retried
 * event is answered as a duplicate instead of stored twice.
 *
 * Ids are kept as 128-bit keyed hashes (two SipHash-2-4 keys drawn at
 * random per process, from libsodium), in an open-addressing table with
 * linear probing, and forgotten oldest-first once `capacity` are held.
 * Thread-safe.
 */
#ifndef CL_DEDUPE_H
#define CL_DEDUPE_H

#include <stddef.h>

struct cl_dedupe;

int cl_dedupe_create(size_t capacity, struct cl_dedupe **out);
void cl_dedupe_destroy(struct cl_dedupe *d);

/* Adds id; returns 1 if it was new, 0 if already remembered. */
int cl_dedupe_insert(struct cl_dedupe *d, const char *id, size_t len);

/* Forgets id (its event was not stored after all). */
void cl_dedupe_remove(struct cl_dedupe *d, const char *id, size_t len);

/* Ids remembered now. */
size_t cl_dedupe_count(struct cl_dedupe *d);

#endif
