/*
 * The libmicrohttpd transport: every request the fast path (cl_http_fast.c)
 * hands over with its bytes unread — other endpoints, bodies still
 * arriving, chunked bodies, live streams — read by libmicrohttpd and
 * carried to the route table (cl_route.h) like any other.
 *
 * Threads: MHD runs `http.threads` event loops (epoll). Bodies arrive in
 * pieces and are gathered per request; a slow client only ever occupies
 * its own connection. A request whose handler waits for a bronze commit is
 * suspended (no thread blocks on the disk) and resumed by the flusher's
 * notification (cl_mhd_on_commit); the route's finish then answers it.
 * A reply held until its audit record is durable (cl_req.h) parks the
 * same way, resumed by the trail's flusher (cl_mhd_on_audit).
 */
#include "cl_route.h"
#include "cl_serve_audit.h"
#include "cl_server_int.h"
#include "core/cl_error.h"
#include "core/cl_log.h"
#include "core/cl_mem.h"

#include <arpa/inet.h>
#include <microhttpd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

enum state {
	S_READING,   /* gathering the body */
	S_WAITING,   /* suspended until the commit */
	S_RESUMED,   /* the commit is done */
	S_ANSWERED,  /* a reply is queued */
	S_AUDIT,     /* suspended: its reply is held until its audit record is durable */
	S_AUDIT_DONE, /* the record's commit is done: the held reply may go */
	S_STOPPED_AUDIT, /* parked when the server stopped: answered 503 */
	S_STOPPED_WAIT,
};

/* One request on an MHD connection. */
struct mreq {
	struct cl_req r;
	struct cl_mhd *m;
	enum state state;
	struct MHD_Connection *conn;
	char *body;
	size_t len, cap;
	struct mreq *next_waiter;
	struct mreq *next_stream;        /* in m->streams while suspended */
	int in_streams;
};

struct cl_mhd {
	struct cl_server *s;
	struct MHD_Daemon *d;
	pthread_mutex_t mu;              /* guards waiters */
	struct mreq *waiters;            /* suspended until their commit */
	int nwaiting;
	struct mreq *streams;            /* streamed replies suspended for data */
	atomic_int stopping;             /* libmicrohttpd is about to stop: no
					  * connection may stay suspended */
	atomic_uint nconns;              /* connections held now */
};

static const char *mhd_query(void *conn, const char *name)
{
	struct mreq *q = conn;

	return MHD_lookup_connection_value(q->conn, MHD_GET_ARGUMENT_KIND, name);
}

static const char *mhd_header(void *conn, const char *name)
{
	struct mreq *q = conn;

	return MHD_lookup_connection_value(q->conn, MHD_HEADER_KIND, name);
}

struct each_arg {
	int (*fn)(void *arg, const char *name, const char *value);
	void *arg;
	int rc;
};

static enum MHD_Result each_value(void *cls, enum MHD_ValueKind kind, const char *key,
				  const char *value)
{
	struct each_arg *e = cls;

	(void)kind;
	e->rc = e->fn(e->arg, key, value ? value : "");
	return e->rc ? MHD_NO : MHD_YES;
}

static int mhd_each_query(void *conn, int (*fn)(void *arg, const char *name, const char *value),
			  void *arg)
{
	struct mreq *q = conn;
	struct each_arg e = { fn, arg, 0 };

	MHD_get_connection_values(q->conn, MHD_GET_ARGUMENT_KIND, each_value, &e);
	return e.rc;
}

static int mhd_reply(void *conn, int code, const char *ctype, char *body, size_t len,
		     const struct cl_reply_headers *h)
{
	struct mreq *q = conn;
	struct MHD_Response *resp;
	enum MHD_Result ret;
	int cache = 0;

	resp = MHD_create_response_from_buffer(len, body, MHD_RESPMEM_MUST_FREE);
	if (!resp) {
		free(body);
		return CL_ENOMEM;
	}
	MHD_add_response_header(resp, MHD_HTTP_HEADER_CONTENT_TYPE, ctype);
	for (int i = 0; i < h->n; i++) {
		MHD_add_response_header(resp, h->name[i], h->value[i]);
		cache |= strcasecmp(h->name[i], "Cache-Control") == 0;
	}
	if (!cache)
		MHD_add_response_header(resp, "Cache-Control", "no-store");
	ret = MHD_queue_response(q->conn, (unsigned int)code, resp);
	MHD_destroy_response(resp);
	q->state = S_ANSWERED;
	return ret == MHD_YES ? CL_OK : CL_EIO;
}

/* A streamed reply's body: the source's bytes, the connection suspended
 * while it has none. */
static ssize_t stream_read(void *cls, uint64_t pos, char *buf, size_t max)
{
	struct cl_req_stream *src = cls;
	struct mreq *q = src->handle;
	ssize_t n;

	(void)pos;
	if (atomic_load(&q->m->stopping))
		return MHD_CONTENT_READER_END_OF_STREAM;
	n = src->read(src->arg, buf, max);
	return n < 0 ? MHD_CONTENT_READER_END_OF_STREAM : n;
}

static void stream_release(void *cls)
{
	struct cl_req_stream *src = cls;

	src->release(src->arg);
}

/* A stream with nothing to send suspends its connection, listed so that
 * a stop can resume it (libmicrohttpd refuses to stop while one is
 * suspended); once stopping, it is not suspended: the next read ends it. */
static void stream_wait(void *handle)
{
	struct mreq *q = handle;
	struct cl_mhd *m = q->m;

	pthread_mutex_lock(&m->mu);
	if (!atomic_load(&m->stopping)) {
		if (!q->in_streams) {
			q->next_stream = m->streams;
			m->streams = q;
			q->in_streams = 1;
		}
		MHD_suspend_connection(q->conn);
	}
	pthread_mutex_unlock(&m->mu);
}

static void unlist_stream(struct cl_mhd *m, struct mreq *q)
{
	for (struct mreq **pp = &m->streams; *pp; pp = &(*pp)->next_stream)
		if (*pp == q) {
			*pp = q->next_stream;
			q->in_streams = 0;
			return;
		}
}

static void stream_wake(void *handle)
{
	struct mreq *q = handle;
	struct cl_mhd *m = q->m;

	pthread_mutex_lock(&m->mu);
	if (q->in_streams) {
		unlist_stream(m, q);
		MHD_resume_connection(q->conn);
	} else if (!atomic_load(&m->stopping)) {
		MHD_resume_connection(q->conn);
	}
	pthread_mutex_unlock(&m->mu);
}

static int mhd_stream(void *conn, int code, const char *ctype, struct cl_req_stream *src)
{
	struct mreq *q = conn;
	struct MHD_Response *resp;
	enum MHD_Result ret;

	src->wait = stream_wait;
	src->wake = stream_wake;
	src->handle = q;
	resp = MHD_create_response_from_callback(MHD_SIZE_UNKNOWN, 16384, stream_read, src,
						 stream_release);
	if (!resp) {
		src->release(src->arg);
		return CL_ENOMEM;
	}
	MHD_add_response_header(resp, MHD_HTTP_HEADER_CONTENT_TYPE, ctype);
	MHD_add_response_header(resp, "Cache-Control", "no-store");
	MHD_add_response_header(resp, "X-Accel-Buffering", "no");
	ret = MHD_queue_response(q->conn, (unsigned int)code, resp);
	MHD_destroy_response(resp);
	q->state = S_ANSWERED;
	return ret == MHD_YES ? CL_OK : CL_EIO;
}

static const struct cl_transport mhd_transport = {
	.name = "mhd",
	.query = mhd_query,
	.header = mhd_header,
	.each_query = mhd_each_query,
	.reply = mhd_reply,
	.stream = mhd_stream,
	.holds = 1,
};

/* Appends n bytes to the body; 0 when there is no memory for them. */
static int body_append(struct mreq *q, const char *p, size_t n)
{
	if (q->len + n > q->cap) {
		size_t nc = q->cap ? q->cap : 16384;
		char *nb;

		while (nc < q->len + n)
			nc *= 2;
		nb = cl_realloc(q->body, nc);
		if (!nb)
			return 0;
		q->body = nb;
		q->cap = nc;
	}
	memcpy(q->body + q->len, p, n);
	q->len += n;
	return 1;
}

/* Counts the Content-Length and Transfer-Encoding headers of a request. */
struct framing {
	int lengths, encodings;
	const char *first_length;
	int differ;
};

static enum MHD_Result count_framing(void *cls, enum MHD_ValueKind kind, const char *key,
				     const char *value)
{
	struct framing *fr = cls;

	(void)kind;
	if (strcasecmp(key, MHD_HTTP_HEADER_CONTENT_LENGTH) == 0) {
		if (fr->lengths++ && strcmp(fr->first_length, value ? value : "") != 0)
			fr->differ = 1;
		else if (!fr->first_length)
			fr->first_length = value ? value : "";
	} else if (strcasecmp(key, MHD_HTTP_HEADER_TRANSFER_ENCODING) == 0) {
		fr->encodings++;
	}
	return MHD_YES;
}

/* The request's framing is ambiguous: Content-Lengths that disagree, or
 * one beside Transfer-Encoding (request smuggling behind a proxy). A
 * connection's first request was checked by carelake's loops already;
 * this checks the ones after it on a connection libmicrohttpd holds. */
static const char *ambiguous(struct MHD_Connection *c)
{
	struct framing fr = { 0 };

	MHD_get_connection_values(c, MHD_HEADER_KIND, count_framing, &fr);
	if (fr.differ)
		return "two Content-Length headers that disagree";
	if (fr.lengths && fr.encodings)
		return "Content-Length beside Transfer-Encoding";
	return NULL;
}

/* Parks q in `state` unless what it waits for is done (ready(q, &rc)
 * says): 1 and *rc then, 0 when it is parked, its connection suspended.
 * Once the server is stopping nothing is parked (no one would resume
 * it): what is not done yet fails with CL_EIO, answered 503 as a stop
 * answers the requests it finds parked. */
static int park_unless(struct mreq *q, enum state state,
		       int (*ready)(const struct cl_req *r, int *rc), int *rc)
{
	struct cl_mhd *m = q->m;
	int done;

	*rc = CL_OK;
	pthread_mutex_lock(&m->mu);
	done = ready(&q->r, rc);
	if (!done && atomic_load(&m->stopping)) {
		*rc = CL_EIO;
		done = 1;
	} else if (!done) {
		q->state = state;
		q->next_waiter = m->waiters;
		m->waiters = q;
		m->nwaiting++;
		MHD_suspend_connection(q->conn);
	}
	pthread_mutex_unlock(&m->mu);
	return done;
}

/* What the handler returns after a step that may have answered: a reply
 * held for its audit record parks q, or goes at once when the record is
 * durable already. */
static enum MHD_Result result(struct mreq *q, int rc)
{
	if (rc < 0)
		return MHD_NO;
	if (!q->r.has_held || !park_unless(q, S_AUDIT, cl_serve_audit_ready, &rc))
		return MHD_YES;
	return cl_req_release(&q->r, rc) < 0 ? MHD_NO : MHD_YES;
}

/* The whole request is here: its handler runs; a request that waits is
 * suspended unless its commit is already done. */
static enum MHD_Result run(struct mreq *q)
{
	int rc, commit_rc;

	q->r.body = q->body ? q->body : "";
	q->r.body_len = q->len;
	rc = cl_route_run(&q->r);
	if (rc != CL_REQ_WAIT)
		return result(q, rc);
	if (!park_unless(q, S_WAITING, cl_req_ready, &commit_rc))
		return MHD_YES;
	return result(q, cl_route_finish(&q->r, commit_rc));
}

/* The client's address, as text. */
static void client_address(struct MHD_Connection *c, char *out, size_t cap)
{
	const union MHD_ConnectionInfo *ci =
		MHD_get_connection_info(c, MHD_CONNECTION_INFO_CLIENT_ADDRESS);
	const struct sockaddr *sa = ci ? ci->client_addr : NULL;

	out[0] = '\0';
	if (sa && sa->sa_family == AF_INET)
		inet_ntop(AF_INET, &((const struct sockaddr_in *)sa)->sin_addr, out, (socklen_t)cap);
	else if (sa && sa->sa_family == AF_INET6)
		inet_ntop(AF_INET6, &((const struct sockaddr_in6 *)sa)->sin6_addr, out,
			  (socklen_t)cap);
}

/* The head of a request arrived: its reading state, its route and rule,
 * and a declared length within the limit (else the answer at once). */
static enum MHD_Result begin(struct cl_mhd *m, struct MHD_Connection *c, const char *url,
			     const char *method, void **con_cls)
{
	uint64_t max_body = m->s->http->max_body_bytes, n;
	struct mreq *q = cl_calloc(1, sizeof(*q));
	const char *why, *clen;
	char msg[200];
	int rc;

	if (!q)
		return MHD_NO;
	q->m = m;
	q->conn = c;
	*con_cls = q;
	cl_req_init(&q->r, m->s, &mhd_transport, q);
	client_address(c, q->r.client, sizeof(q->r.client));
	why = ambiguous(c);
	if (why)
		return result(q, cl_reply_error(&q->r, 400, "bad_request", why, NULL, NULL));
	rc = cl_route_begin(&q->r, method, url, strlen(url));
	if (rc != 1)
		return result(q, rc);
	clen = MHD_lookup_connection_value(c, MHD_HEADER_KIND, MHD_HTTP_HEADER_CONTENT_LENGTH);
	if (clen && cl_parse_u64(clen, 0, UINT64_MAX, &n) != CL_OK)
		return result(q, cl_reply_error(&q->r, 400, "bad_request",
					     "Content-Length is not a number", NULL, NULL));
	if (clen && n > max_body) {
		snprintf(msg, sizeof(msg), "the body is %llu bytes; the limit is %llu",
			 (unsigned long long)n, (unsigned long long)max_body);
		return result(q, cl_reply_error(&q->r, 413, "payload_too_large", msg, NULL, NULL));
	}
	q->state = S_READING;
	return MHD_YES;
}

/* A piece of the body: kept, unless the body grows past the limit. */
static enum MHD_Result upload(struct mreq *q, const char *p, size_t n)
{
	uint64_t max_body = q->m->s->http->max_body_bytes;
	char msg[200];

	if (q->len + n > max_body) {
		snprintf(msg, sizeof(msg), "the body is larger than the limit of %llu bytes",
			 (unsigned long long)max_body);
		return result(q, cl_reply_error(&q->r, 413, "payload_too_large", msg, NULL, NULL));
	}
	if (!body_append(q, p, n))
		return result(q, cl_reply_error(&q->r, 503, "busy", "out of memory; retry later",
					     "Retry-After", "1"));
	return MHD_YES;
}

/* libmicrohttpd's access handler, called for the head, each piece of the
 * body, and the end of a request (and again once a parked one resumes). */
static enum MHD_Result handler(void *cls, struct MHD_Connection *c, const char *url,
			       const char *method, const char *version,
			       const char *body, size_t *body_size, void **con_cls)
{
	struct mreq *q = *con_cls;

	(void)version;
	if (!q)
		return begin(cls, c, url, method, con_cls);
	if (q->state == S_AUDIT_DONE) {
		int rc = CL_OK;

		*body_size = 0;
		q->state = S_ANSWERED;
		cl_serve_audit_ready(&q->r, &rc);
		return cl_req_release(&q->r, rc) < 0 ? MHD_NO : MHD_YES;
	}
	if (q->state == S_AUDIT) {
		*body_size = 0;
		return MHD_YES;
	}
	if (q->state == S_STOPPED_AUDIT) {
		/* its record not known durable when the server stopped: the
		 * held reply may not leave (503, as for a failed commit) */
		*body_size = 0;
		q->state = S_ANSWERED;
		return cl_req_release(&q->r, CL_EIO) < 0 ? MHD_NO : MHD_YES;
	}
	if (q->state == S_STOPPED_WAIT) {
		/* its commit not known done when the server stopped */
		*body_size = 0;
		q->state = S_ANSWERED;
		return result(q, cl_route_finish(&q->r, CL_EIO));
	}
	if (q->state == S_ANSWERED || q->r.answered) {
		*body_size = 0; /* discard the rest of a refused body */
		return MHD_YES;
	}
	if (*body_size) {
		size_t n = *body_size;

		*body_size = 0;
		return upload(q, body, n);
	}
	/* the request is complete */
	if (q->state == S_RESUMED) {
		int rc = CL_OK;

		cl_req_ready(&q->r, &rc);
		return result(q, cl_route_finish(&q->r, rc));
	}
	if (q->state == S_WAITING)
		return MHD_YES;
	return run(q);
}

static void completed(void *cls, struct MHD_Connection *c, void **con_cls,
		      enum MHD_RequestTerminationCode why)
{
	struct mreq *q = *con_cls;

	(void)cls;
	(void)c;
	(void)why;
	if (!q)
		return;
	pthread_mutex_lock(&q->m->mu);
	if (q->in_streams)
		unlist_stream(q->m, q);
	pthread_mutex_unlock(&q->m->mu);
	cl_req_free(&q->r);
	cl_free(q->body);
	cl_free(q);
	*con_cls = NULL;
}

static void connection_event(void *cls, struct MHD_Connection *c, void **socket_context,
			     enum MHD_ConnectionNotificationCode toe)
{
	struct cl_mhd *m = cls;

	(void)c;
	(void)socket_context;
	if (toe == MHD_CONNECTION_NOTIFY_STARTED)
		atomic_fetch_add(&m->nconns, 1);
	else
		atomic_fetch_sub(&m->nconns, 1);
}

/* libmicrohttpd's own messages: fmt is its printf format */
__attribute__((format(printf, 2, 0)))
static void mhd_log(void *cls, const char *fmt, va_list ap)
{
	char msg[300];
	size_t n;

	(void)cls;
	vsnprintf(msg, sizeof(msg), fmt, ap);
	n = strlen(msg);
	while (n > 0 && (msg[n - 1] == '\n' || msg[n - 1] == '\r'))
		msg[--n] = '\0';
	for (size_t i = 0; i < n; i++)
		if (msg[i] == '"' || (unsigned char)msg[i] < 0x20)
			msg[i] = '\'';
	cl_log_warn("http", "event=mhd msg=%s", CL_LOG_Q(msg));
}

int cl_mhd_start(struct cl_server *s, struct cl_mhd **out)
{
	struct cl_mhd *m = cl_calloc(1, sizeof(*m));

	if (!m)
		return cl_error_set(CL_ENOMEM, "no memory for the HTTP daemon");
	m->s = s;
	pthread_mutex_init(&m->mu, NULL);
	/* MHD listens on nothing of its own: the fast path accepts every
	 * connection and hands it over for anything but a whole ingest
	 * request (cl_http_fast.c) */
	m->d = MHD_start_daemon(
		MHD_USE_EPOLL_INTERNAL_THREAD | MHD_ALLOW_SUSPEND_RESUME | MHD_USE_ERROR_LOG |
		MHD_USE_NO_LISTEN_SOCKET,
		0, NULL, NULL, handler, m,
		MHD_OPTION_EXTERNAL_LOGGER, mhd_log, m,
		MHD_OPTION_THREAD_POOL_SIZE, (unsigned int)s->http->threads,
		MHD_OPTION_CONNECTION_TIMEOUT,
		(unsigned int)(s->http->connection_timeout_us / 1000000),
		MHD_OPTION_CONNECTION_LIMIT, (unsigned int)s->http->max_connections,
		MHD_OPTION_NOTIFY_COMPLETED, completed, m,
		MHD_OPTION_NOTIFY_CONNECTION, connection_event, m,
		/* MHD clears a connection's pool for every request: what it
		 * does not need (headers, a read buffer; bodies come to us in
		 * pieces) is time spent zeroing */
		MHD_OPTION_CONNECTION_MEMORY_LIMIT, (size_t)s->http->connection_memory,
		MHD_OPTION_END);
	if (!m->d) {
		pthread_mutex_destroy(&m->mu);
		cl_free(m);
		return cl_error_set(CL_EIO, "cannot start the HTTP daemon");
	}
	*out = m;
	return CL_OK;
}

int cl_mhd_add(struct cl_mhd *m, int fd, const struct sockaddr_in *peer)
{
	/* MHD closes the socket itself if it cannot take it */
	return MHD_add_connection(m->d, fd, (const struct sockaddr *)peer, sizeof(*peer)) ==
			       MHD_YES
		       ? CL_OK
		       : CL_EIO;
}

/* Resumes the waiters in state `from` that done(q, arg) says may go,
 * into state `to`. */
static void resume_done(struct cl_mhd *m, enum state from, enum state to,
			int (*done)(const struct mreq *q, const void *arg), const void *arg)
{
	struct mreq **pp;

	pthread_mutex_lock(&m->mu);
	for (pp = &m->waiters; *pp;) {
		struct mreq *q = *pp;

		if (q->state == from && done(q, arg)) {
			*pp = q->next_waiter;
			m->nwaiting--;
			q->state = to;
			MHD_resume_connection(q->conn);
		} else {
			pp = &q->next_waiter;
		}
	}
	pthread_mutex_unlock(&m->mu);
}

struct committed {
	const struct cl_blog *log;
	uint64_t batch;
};

static int commit_done(const struct mreq *q, const void *arg)
{
	const struct committed *c = arg;
	int rc;

	/* a commit of a log it waits for, and all it waits for committed
	 * (records of one request may be in two logs) */
	return (q->r.wait_log == c->log || q->r.wait_log2 == c->log) && cl_req_ready(&q->r, &rc);
}

void cl_mhd_on_commit(struct cl_mhd *m, struct cl_blog *log, uint64_t batch)
{
	struct committed c = { log, batch };

	resume_done(m, S_WAITING, S_RESUMED, commit_done, &c);
}

/* Each waiter asks for its own ticket: a failed commit ends some too. */
static int audit_done(const struct mreq *q, const void *arg)
{
	int rc;

	(void)arg;
	return cl_serve_audit_ready(&q->r, &rc);
}

void cl_mhd_on_audit(struct cl_mhd *m, uint64_t durable)
{
	(void)durable;
	resume_done(m, S_AUDIT, S_AUDIT_DONE, audit_done, NULL);
}

int cl_mhd_waiting(struct cl_mhd *m)
{
	int n;

	pthread_mutex_lock(&m->mu);
	n = m->nwaiting;
	pthread_mutex_unlock(&m->mu);
	return n;
}

unsigned cl_mhd_connections(struct cl_mhd *m)
{
	return atomic_load(&m->nconns);
}

void cl_mhd_stop(struct cl_mhd *m)
{
	if (!m)
		return;
	/* libmicrohttpd aborts the process when stopped with a connection
	 * suspended: every one is resumed first, streams to end and requests
	 * still parked to be answered 503 */
	pthread_mutex_lock(&m->mu);
	atomic_store(&m->stopping, 1);
	while (m->streams) {
		struct mreq *q = m->streams;

		unlist_stream(m, q);
		MHD_resume_connection(q->conn);
	}
	while (m->waiters) {
		struct mreq *q = m->waiters;

		m->waiters = q->next_waiter;
		m->nwaiting--;
		q->state = q->state == S_AUDIT ? S_STOPPED_AUDIT : S_STOPPED_WAIT;
		MHD_resume_connection(q->conn);
	}
	pthread_mutex_unlock(&m->mu);
	MHD_stop_daemon(m->d);
	pthread_mutex_destroy(&m->mu);
	cl_free(m);
}
