/*
 * Server-sent events. See cl_sse.h.
 */
#include "cl_sse.h"
#include "core/cl_error.h"
#include "core/cl_mem.h"
#include "core/cl_prom.h"
#include "model/cl_vitals.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct client {
	struct cl_sse *owner;
	struct cl_req_stream src;    /* what the transport reads; its wait and wake */
	char patient[CL_EVENT_ID_MAX + 1]; /* "" = every patient */
	int bound;                   /* nothing but its patient's events */
	int no_patients;             /* nothing of any patient */
	int access;                  /* access alerts: 0, CL_SSE_ACCESS_TOO or _ONLY */
	int vitals;
	char **allowed;              /* sorted: only these patients' events (NULL: any) */
	size_t nallowed;
	char *buf;
	size_t len, off, cap;
	int suspended;
	int closing;
	int told_dropped;
	struct client *next;
};

struct cl_sse {
	pthread_mutex_t mu;
	struct client *clients;
	size_t max_buffer;
	atomic_int vitals_listeners;
	atomic_uint_fast64_t nclients, dropped;
};

int cl_sse_create(size_t max_buffer, struct cl_sse **out)
{
	struct cl_sse *s = cl_calloc(1, sizeof(*s));

	if (!s)
		return -1;
	pthread_mutex_init(&s->mu, NULL);
	s->max_buffer = max_buffer;
	*out = s;
	return 0;
}

void cl_sse_destroy(struct cl_sse *s)
{
	if (!s)
		return;
	pthread_mutex_destroy(&s->mu);
	cl_free(s);
}

/* Appends to a client's buffer; 0 if it would overflow. Caller holds mu. */
static int append(struct client *c, const char *data, size_t n, size_t max)
{
	if (c->off > 0 && c->off == c->len)
		c->off = c->len = 0;
	if (c->len - c->off + n > max)
		return 0;
	if (c->len + n > c->cap) {
		size_t nc = c->cap ? c->cap : 4096;
		char *nb;

		if (c->off > 0) {
			memmove(c->buf, c->buf + c->off, c->len - c->off);
			c->len -= c->off;
			c->off = 0;
		}
		while (nc < c->len + n)
			nc *= 2;
		if (nc > c->cap) {
			nb = cl_realloc(c->buf, nc);
			if (!nb)
				return 0;
			c->buf = nb;
			c->cap = nc;
		}
	}
	memcpy(c->buf + c->len, data, n);
	c->len += n;
	return 1;
}

static void wake(struct client *c)
{
	if (c->suspended) {
		c->suspended = 0;
		c->src.wake(c->src.handle);
	}
}

static ssize_t reader(void *cls, char *buf, size_t max)
{
	struct client *c = cls;
	struct cl_sse *s = c->owner;
	size_t n;

	pthread_mutex_lock(&s->mu);
	if (c->len > c->off) {
		n = c->len - c->off;
		if (n > max)
			n = max;
		memcpy(buf, c->buf + c->off, n);
		c->off += n;
		pthread_mutex_unlock(&s->mu);
		return (ssize_t)n;
	}
	if (c->closing) {
		pthread_mutex_unlock(&s->mu);
		return -1;
	}
	/* nothing to send: park the connection until the next publish */
	c->suspended = 1;
	c->src.wait(c->src.handle);
	pthread_mutex_unlock(&s->mu);
	return 0;
}

static void release(void *cls)
{
	struct client *c = cls;
	struct cl_sse *s = c->owner;
	struct client **pp;

	pthread_mutex_lock(&s->mu);
	for (pp = &s->clients; *pp; pp = &(*pp)->next)
		if (*pp == c) {
			*pp = c->next;
			break;
		}
	if (c->vitals)
		atomic_fetch_sub(&s->vitals_listeners, 1);
	atomic_fetch_sub(&s->nclients, 1);
	pthread_mutex_unlock(&s->mu);
	for (size_t i = 0; i < c->nallowed; i++)
		cl_free(c->allowed[i]);
	cl_free(c->allowed);
	cl_free(c->buf);
	cl_free(c);
}

static int by_name(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* c's allowed patients, copied from f and sorted; CL_ENOMEM. */
static int allow(struct client *c, const struct cl_sse_filter *f)
{
	c->allowed = cl_calloc(f->npatients ? f->npatients : 1, sizeof(*c->allowed));
	if (!c->allowed)
		return CL_ENOMEM;
	for (size_t i = 0; i < f->npatients; i++) {
		c->allowed[i] = cl_strdup(f->patients[i]);
		if (!c->allowed[i])
			return CL_ENOMEM;
		c->nallowed++;
	}
	qsort(c->allowed, c->nallowed, sizeof(*c->allowed), by_name);
	return CL_OK;
}

int cl_sse_subscribe(struct cl_sse *s, const struct cl_sse_filter *f,
		     struct cl_req_stream **src)
{
	struct client *c = cl_calloc(1, sizeof(*c));
	static const char hello[] = ": carelake live stream\nretry: 2000\n\n";

	if (!c)
		return CL_ENOMEM;
	if (f->patients && allow(c, f) != CL_OK) {
		for (size_t i = 0; i < c->nallowed; i++)
			cl_free(c->allowed[i]);
		cl_free(c->allowed);
		cl_free(c);
		return CL_ENOMEM;
	}
	c->owner = s;
	c->vitals = f->vitals && !f->no_patients && f->access != CL_SSE_ACCESS_ONLY;
	c->bound = f->bound;
	c->no_patients = f->no_patients;
	c->access = f->access;
	snprintf(c->patient, sizeof(c->patient), "%s", f->patient ? f->patient : "");
	append(c, hello, sizeof(hello) - 1, s->max_buffer);
	c->src.read = reader;
	c->src.release = release;
	c->src.arg = c;
	*src = &c->src;
	pthread_mutex_lock(&s->mu);
	c->next = s->clients;
	s->clients = c;
	if (c->vitals)
		atomic_fetch_add(&s->vitals_listeners, 1);
	atomic_fetch_add(&s->nclients, 1);
	pthread_mutex_unlock(&s->mu);
	return CL_OK;
}

/* 1 if client c is sent an event of this kind and patient. */
static int wants(const struct client *c, int alert, int access, const char *patient)
{
	if (c->closing || (access ? !c->access : c->access == CL_SSE_ACCESS_ONLY))
		return 0;
	if (!alert && !access && !c->vitals)
		return 0;
	if (c->allowed && (!patient || !bsearch(&patient, c->allowed, c->nallowed,
						       sizeof(*c->allowed), by_name)))
		return 0;
	return !((c->patient[0] && patient && strcmp(c->patient, patient) != 0) ||
		 (c->bound && !patient) || (c->no_patients && patient));
}

void cl_sse_publish(struct cl_sse *s, const char *event, const char *json, size_t len,
		    const char *patient)
{
	char head[64];
	int access = strcmp(event, "access-alert") == 0;
	int alert = access || strcmp(event, "alert") == 0;
	int hl = snprintf(head, sizeof(head), "event: %s\ndata: ", event);

	pthread_mutex_lock(&s->mu);
	for (struct client *c = s->clients; c; c = c->next) {
		size_t room;

		if (!wants(c, alert, access, patient))
			continue;
		room = alert ? s->max_buffer * 4 : s->max_buffer; /* alerts get headroom */
		if (!append(c, head, (size_t)hl, room) || !append(c, json, len, room) ||
		    !append(c, "\n\n", 2, room)) {
			atomic_fetch_add(&s->dropped, 1);
			if (!c->told_dropped) {
				static const char d[] = "event: dropped\ndata: {\"reason\":\"client too slow\"}\n\n";

				c->told_dropped = append(c, d, sizeof(d) - 1, s->max_buffer * 4);
			}
			if (alert)
				c->closing = 1; /* cannot lose an alert: end, the client reconnects */
		} else {
			c->told_dropped = 0;
		}
		wake(c);
	}
	pthread_mutex_unlock(&s->mu);
}

int cl_sse_wants_vitals(struct cl_sse *s)
{
	return atomic_load(&s->vitals_listeners) > 0;
}

void cl_sse_keepalive(struct cl_sse *s)
{
	pthread_mutex_lock(&s->mu);
	for (struct client *c = s->clients; c; c = c->next) {
		append(c, ": keepalive\n\n", 13, s->max_buffer * 4);
		wake(c);
	}
	pthread_mutex_unlock(&s->mu);
}

void cl_sse_close_all(struct cl_sse *s)
{
	pthread_mutex_lock(&s->mu);
	for (struct client *c = s->clients; c; c = c->next) {
		c->closing = 1;
		wake(c);
	}
	pthread_mutex_unlock(&s->mu);
}

uint64_t cl_sse_clients(struct cl_sse *s)
{
	return atomic_load(&s->nclients);
}

uint64_t cl_sse_dropped(struct cl_sse *s)
{
	return atomic_load(&s->dropped);
}

void cl_sse_metrics(struct cl_sse *s, struct cl_prom *p)
{
	cl_prom_gauge(p, "carelake_stream_clients", "Live stream (SSE) clients connected.",
		      (double)cl_sse_clients(s));
	cl_prom_counter(p, "carelake_stream_dropped_total",
			"Vital events a slow live-stream client missed.", cl_sse_dropped(s));
}
