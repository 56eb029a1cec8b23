/*
 * GET /api/v1/stream: server-sent events (text/event-stream) of live
 * `vital` and `alert` events, optionally for one patient (?patient=) or
 * alerts only (?vitals=false); and `access-alert` events (a clinician
 * broke the glass) for those who review access.
 *
 * Each client has its own bounded buffer. A connection with nothing to
 * send is suspended (no thread, no busy loop) and resumed by the next
 * publish; a client too slow to drain its buffer loses vital events
 * (counted, and told with a `dropped` event) but never alerts, and never
 * slows the publisher or anyone else.
 */
#ifndef CL_SSE_H
#define CL_SSE_H

#include "cl_req.h"

#include <stddef.h>
#include <stdint.h>

struct cl_sse;

int cl_sse_create(size_t max_buffer, struct cl_sse **out);
void cl_sse_destroy(struct cl_sse *s);

/* What a client is sent. */
struct cl_sse_filter {
	const char *patient;   /* only events of this patient (NULL: every patient's) */
	int bound;             /* and nothing that is not of that patient (a patient token) */
	int vitals;            /* vital events too, not only alerts */
	int no_patients;       /* only events of no patient (an engineer: pipelines' alerts) */
	int access;            /* access alerts: 0 none, CL_SSE_ACCESS_TOO, CL_SSE_ACCESS_ONLY */
	/* only events of these patients (a clinician bound to wards: the
	 * patients of its wards when it subscribed), npatients of them,
	 * copied; NULL: not restricted so */
	const char *const *patients;
	size_t npatients;
};

#define CL_SSE_ACCESS_TOO 1   /* besides the rest (admin) */
#define CL_SSE_ACCESS_ONLY 2  /* and nothing else (compliance) */

/* A new client: *src is its stream, for cl_reply_stream (the transport
 * releases it when the client is gone). CL_ENOMEM, or 0. */
int cl_sse_subscribe(struct cl_sse *s, const struct cl_sse_filter *f,
		     struct cl_req_stream **src);

/* Publishes one event to matching clients; `alert` and `access-alert`
 * events are never dropped. patient may be NULL (goes to every client). */
void cl_sse_publish(struct cl_sse *s, const char *event, const char *json, size_t len,
		    const char *patient);

/* 1 if anyone listens for vitals (so publishers can skip the work). */
int cl_sse_wants_vitals(struct cl_sse *s);

/* Sends a comment to every client (keeps proxies from closing them). */
void cl_sse_keepalive(struct cl_sse *s);

/* Ends every stream (at shutdown). */
void cl_sse_close_all(struct cl_sse *s);

uint64_t cl_sse_clients(struct cl_sse *s);
uint64_t cl_sse_dropped(struct cl_sse *s);

/* Renders the live stream's clients and drops for /metrics. */
struct cl_prom;
void cl_sse_metrics(struct cl_sse *s, struct cl_prom *p);

#endif
