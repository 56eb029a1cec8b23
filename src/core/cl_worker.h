/*
 * A worker thread: started with a name, woken by pokes, stopped and joined
 * in one call (after Redis's bio.c). Every long-running thread of carelake
 * is one: the bronze flushers' consumers, the stream processor and its
 * store writer, the pipelines, the webhook, the inputs' collectors, serve's
 * ticker and refiner. The thread runs `fn`, which loops on
 * cl_worker_wait() until it says stop.
 */
#ifndef CL_WORKER_H
#define CL_WORKER_H

#include <stdint.h>

struct cl_worker;

/*
 * Starts a thread named `name` (at most 15 characters show) running
 * fn(w, arg). 0, or CL_EIO when no thread could be made (the caller then
 * fails its own start: nothing runs half-started).
 */
int cl_worker_start(const char *name, void (*fn)(struct cl_worker *w, void *arg), void *arg,
		    struct cl_worker **out);

/* Wakes the worker if it waits (cheap; any thread). NULL: no-op. */
void cl_worker_poke(struct cl_worker *w);

/*
 * For fn: waits until poked, asked to stop, or timeout_us passes (< 0:
 * no timeout). Returns 1 once the worker is asked to stop, else 0. A poke
 * that came while fn was busy makes the next wait return at once.
 */
int cl_worker_wait(struct cl_worker *w, int64_t timeout_us);

/* For fn: 1 once the worker is asked to stop. */
int cl_worker_stopping(struct cl_worker *w);

/* Asks the worker to stop, wakes it, joins it and frees it. NULL: no-op. */
void cl_worker_stop(struct cl_worker *w);

#endif
