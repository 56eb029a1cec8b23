/*
 * The alert outbox's consumers: one named cursor each.
 *
 * The outbox (cl_store.h) holds alert changes in order of seq. Each
 * consumer (the webhook, "webhook"; Kafka out, "kafka") keeps in
 * outbox_cursor the seq of the last entry it is done with, and moves it
 * only once an entry is delivered (or deliberately given up on). An entry
 * leaves the outbox when every cursor is past it, so the consumers read
 * the same stream independently: a slow or unreachable receiver holds
 * back only its own cursor, and the entries it still needs.
 *
 * The server names the consumers it runs at every start
 * (cl_store_outbox_consumers): a new one starts at 0 (everything the
 * outbox still holds), one no longer run loses its cursor, and while
 * there is none nothing is written to the outbox.
 */
#ifndef CL_STORE_OUTBOX_H
#define CL_STORE_OUTBOX_H

#include <stdint.h>

struct cl_store;

/* Keeps the cursors of the n consumers named (adding those missing, at
 * 0), drops every other, and removes the entries every cursor is past
 * (all of them when n is 0). */
int cl_store_outbox_consumers(struct cl_store *s, const char *const *names, int n);

/* How many consumers have a cursor. */
int cl_store_outbox_consumers_count(struct cl_store *s, int64_t *n);

/* The seq name is done with, in *seq; a consumer without a cursor gets
 * one at 0. */
int cl_store_outbox_cursor(struct cl_store *s, const char *name, int64_t *seq);

/* Moves name's cursor forward to seq (never back), then removes the
 * entries every cursor is past. */
int cl_store_outbox_advance(struct cl_store *s, const char *name, int64_t seq);

/* Entries after seq `after`: what a consumer at that cursor has still to
 * deliver. */
int cl_store_outbox_pending(struct cl_store *s, int64_t after, int64_t *n);

/*
 * The rollup outbox: per-window vitals rollups for Kafka out, its only
 * consumer. While a window is named (cl_store_rollup_outbox_window, on
 * the connection that writes rollups), each new rollup of that window,
 * and each correction of one, is queued, by key, in the transaction that
 * stores it; an entry is removed once delivered (done). An entry is read
 * as the row is when it is read: a window corrected before its first
 * entry was delivered goes out corrected, twice.
 */
void cl_store_rollup_outbox_window(struct cl_store *s, const char *window);
int cl_store_rollup_outbox_put(struct cl_store *s, const char *patient, const char *vital,
			       const char *window, int64_t start_us);
/* The first entry after seq `after` as a JSON object (cl_malloc'd):
 * patient_id, vital, unit, window, start, end, count, min, max, mean,
 * stddev, p50, p90, p99, status ("final", "corrected"), revision;
 * CL_ENOENT if none. */
int cl_store_rollup_outbox_next(struct cl_store *s, int64_t after, int64_t *seq, char **json);
/* Removes the entries up to seq. */
int cl_store_rollup_outbox_done(struct cl_store *s, int64_t seq);
int cl_store_rollup_outbox_pending(struct cl_store *s, int64_t *n);
/* Removes every entry (nobody publishes rollups any more). */
int cl_store_rollup_outbox_clear(struct cl_store *s);

#endif
