/*
 * Worker threads. See cl_worker.h.
 */
#include "cl_worker.h"
#include "cl_error.h"
#include "cl_mem.h"
#include "cl_time.h"

#include <pthread.h>
#include <stdio.h>
#include <string.h>

struct cl_worker {
	pthread_t th;
	pthread_mutex_t mu;
	pthread_cond_t cv;
	int poked;             /* under mu */
	int stop;              /* under mu */
	char name[16];
	void (*fn)(struct cl_worker *w, void *arg);
	void *arg;
};

static void *worker_main(void *p)
{
	struct cl_worker *w = p;

	pthread_setname_np(pthread_self(), w->name);
	w->fn(w, w->arg);
	return NULL;
}

int cl_worker_start(const char *name, void (*fn)(struct cl_worker *w, void *arg), void *arg,
		    struct cl_worker **out)
{
	struct cl_worker *w = cl_calloc(1, sizeof(*w));

	*out = NULL;
	if (!w)
		return cl_error_set(CL_ENOMEM, "no memory for the %s thread", name);
	snprintf(w->name, sizeof(w->name), "%s", name);
	w->fn = fn;
	w->arg = arg;
	pthread_mutex_init(&w->mu, NULL);
	pthread_cond_init(&w->cv, NULL);
	if (pthread_create(&w->th, NULL, worker_main, w) != 0) {
		pthread_mutex_destroy(&w->mu);
		pthread_cond_destroy(&w->cv);
		cl_free(w);
		return cl_error_set(CL_EIO, "cannot start the %s thread", name);
	}
	*out = w;
	return CL_OK;
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

int cl_worker_wait(struct cl_worker *w, int64_t timeout_us)
{
	int stop;

	pthread_mutex_lock(&w->mu);
	if (!w->poked && !w->stop) {
		if (timeout_us < 0) {
			pthread_cond_wait(&w->cv, &w->mu);
		} else {
			struct timespec ts;

			cl_time_deadline(&ts, timeout_us);
			pthread_cond_timedwait(&w->cv, &w->mu, &ts);
		}
	}
	w->poked = 0;
	stop = w->stop;
	pthread_mutex_unlock(&w->mu);
	return stop;
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
