/*
 * Worker threads and the one place threads are made. See cl_worker.h.
 */
#include "cl_worker.h"
#include "cl_error.h"
#include "cl_failpoint.h"
#include "cl_mem.h"
#include "cl_time.h"

#include <stdatomic.h>
#include <stdio.h>
#include <string.h>

struct cl_worker {
	pthread_t th;
	pthread_mutex_t mu;
	pthread_cond_t cv;
	int poked;             /* under mu */
	int stop;              /* under mu */
	void (*fn)(struct cl_worker *w, void *arg);
	void *arg;
};

static atomic_long fail_countdown = -1;
static atomic_long created;

int cl_thread_create(pthread_t *th, const char *name, void *(*fn)(void *), void *arg)
{
	pthread_t t;
	int e;

	if (cl_failpoint_hit(&fail_countdown))
		return cl_error_set(CL_EIO, "cannot start the %s thread: thread creation refused "
				    "by the test hook", name);
	e = pthread_create(&t, NULL, fn, arg);
	if (e != 0)
		return cl_error_set(CL_EIO, "cannot start the %s thread: %s (raise the process's "
				    "thread limit or free memory)", name, strerror(e));
	{
		char n[16];

		snprintf(n, sizeof(n), "%s", name);
		pthread_setname_np(t, n);
	}
	atomic_fetch_add(&created, 1);
	*th = t;
	return CL_OK;
}

void cl_thread_fail_after(long countdown)
{
	atomic_store(&fail_countdown, countdown);
}

void cl_thread_fail_reset(void)
{
	atomic_store(&fail_countdown, -1);
}

long cl_thread_created(void)
{
	return atomic_load(&created);
}

static void *worker_main(void *p)
{
	struct cl_worker *w = p;

	w->fn(w, w->arg);
	return NULL;
}

int cl_worker_start(const char *name, void (*fn)(struct cl_worker *w, void *arg), void *arg,
		    struct cl_worker **out)
{
	struct cl_worker *w = cl_calloc(1, sizeof(*w));
	int rc;

	*out = NULL;
	if (!w)
		return cl_error_set(CL_ENOMEM, "no memory for the %s thread", name);
	w->fn = fn;
	w->arg = arg;
	pthread_mutex_init(&w->mu, NULL);
	pthread_cond_init(&w->cv, NULL);
	*out = w; /* before the thread runs: fn may read the caller's copy */
	rc = cl_thread_create(&w->th, name, worker_main, w);
	if (rc != CL_OK) {
		*out = NULL;
		pthread_mutex_destroy(&w->mu);
		pthread_cond_destroy(&w->cv);
		cl_free(w);
	}
	return rc;
}

void cl_worker_poke(struct cl_worker *w)
{
	if (!w)
		return;
	pthread_mutex_lock(&w->mu);
	w->poked = 1;
	pthread_cond_signal(&w->cv);
	pthread_mutex_unlock(&w->mu);
}

/* Waits on w->cv (held: w->mu) for at most timeout_us (< 0: no limit). */
static void wait_locked(struct cl_worker *w, int64_t timeout_us)
{
	struct timespec ts;

	if (timeout_us < 0) {
		pthread_cond_wait(&w->cv, &w->mu);
		return;
	}
	if (timeout_us == 0)
		return;
	cl_time_deadline(&ts, timeout_us);
	pthread_cond_timedwait(&w->cv, &w->mu, &ts);
}

int cl_worker_wait(struct cl_worker *w, int64_t timeout_us)
{
	int stop;

	pthread_mutex_lock(&w->mu);
	if (!w->poked && !w->stop)
		wait_locked(w, timeout_us);
	w->poked = 0;
	stop = w->stop;
	pthread_mutex_unlock(&w->mu);
	return stop;
}

void cl_worker_sleep(struct cl_worker *w, int64_t timeout_us)
{
	pthread_mutex_lock(&w->mu);
	if (!w->poked)
		wait_locked(w, timeout_us < 0 ? 0 : timeout_us);
	w->poked = 0;
	pthread_mutex_unlock(&w->mu);
}

int cl_worker_stopping(struct cl_worker *w)
{
	int stop;

	pthread_mutex_lock(&w->mu);
	stop = w->stop;
	pthread_mutex_unlock(&w->mu);
	return stop;
}

void cl_worker_stop(struct cl_worker *w)
{
	if (!w)
		return;
	pthread_mutex_lock(&w->mu);
	w->stop = 1;
	pthread_cond_signal(&w->cv);
	pthread_mutex_unlock(&w->mu);
	pthread_join(w->th, NULL);
	pthread_mutex_destroy(&w->mu);
	pthread_cond_destroy(&w->cv);
	cl_free(w);
}
