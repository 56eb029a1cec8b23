/*
 * Worker threads: started with a name, woken by pokes, stopped and joined
 * in one call (after Redis's bio.c). Every long-running thread of carelake
 * that waits for work is one: the stream processor, its WAL folder and its
 * store writer, the pipelines, the webhook, the inputs' collectors, the
 * audit flusher, serve's ticker and refiner. The thread runs `fn`, which
 * loops on cl_worker_wait() until it says stop.
 *
 * Every thread carelake makes, worker or not (the bronze log's flusher and
 * syncer, the HTTP event loops, the Parquet encoders, the MQTT input), is
 * made by cl_thread_create(), so that tests can make thread creation fail
 * (as cl_mem does for allocations) and prove that every start then fails
 * cleanly with an error.
 */
#ifndef CL_WORKER_H
#define CL_WORKER_H

#include <pthread.h>
#include <stdint.h>

struct cl_worker;

/*
 * Starts a thread named `name` (at most 15 characters show) running
 * fn(w, arg). *out is set before the thread runs, so fn may read the
 * caller's copy of it. 0, or CL_ENOMEM / CL_EIO when no thread could be
 * made (*out is then NULL, and the caller fails its own start: nothing runs
 * half-started).
 */
int cl_worker_start(const char *name, void (*fn)(struct cl_worker *w, void *arg), void *arg,
		    struct cl_worker **out);

/* Wakes the worker if it waits (cheap; any thread). NULL: no-op. */
void cl_worker_poke(struct cl_worker *w);

/*
 * For fn: waits until poked, asked to stop, or timeout_us passes (< 0:
 * no timeout; 0: only takes a pending poke). Returns 1 once the worker is
 * asked to stop, else 0. A poke that came while fn was busy makes the next
 * wait return at once.
 */
int cl_worker_wait(struct cl_worker *w, int64_t timeout_us);

/*
 * For fn, once stopping, to drain what it still holds: waits until poked
 * or timeout_us (>= 0) passes, whether or not a stop was asked.
 */
void cl_worker_sleep(struct cl_worker *w, int64_t timeout_us);

/* For fn: 1 once the worker is asked to stop. */
int cl_worker_stopping(struct cl_worker *w);

/* Asks the worker to stop, wakes it, joins it and frees it. NULL: no-op. */
void cl_worker_stop(struct cl_worker *w);

/*
 * Makes a plain thread named `name` running fn(arg) (for threads that wait
 * on something of their own: a socket, a queue's mutex). 0, or CL_EIO with
 * a message naming the thread; *th is then untouched and nothing runs.
 */
int cl_thread_create(pthread_t *th, const char *name, void *(*fn)(void *), void *arg);

/*
 * Test hook: after `countdown` more successful thread creations, every
 * cl_thread_create (and so every cl_worker_start) fails until
 * cl_thread_fail_reset(). A negative countdown disables failures.
 */
void cl_thread_fail_after(long countdown);
void cl_thread_fail_reset(void);

/* How many threads cl_thread_create has made since the process started. */
long cl_thread_created(void);

#endif
