/*
 * carelake's own HTTP loops: they own the listening socket, read the head
 * of every request first, serve whole plain ingest requests themselves —
 * the way bedside devices post, with no per-request thread handoffs — and
 * hand everything else to libmicrohttpd (cl_http_mhd.c), bytes unread.
 *
 * `http.threads` epoll loops share the socket. On a connection with bytes
 * to read a loop peeks at them (cl_http_head.h):
 *  - a head still incomplete waits for more, at most http.header_timeout;
 *  - a head too large is answered 431, a malformed or ambiguous one 400
 *    (two Content-Lengths, chunking beside one), and the connection closed:
 *    no other part of carelake ever sees such a head;
 *  - a plain POST to a fast route (cl_route.h) with its body all in the
 *    socket is read and served here, through the route table like any
 *    request (a route with a `blocks` test only when its body is all in
 *    the peek and the test says its handler will not block on it);
 *  - anything else (other endpoints, bodies still arriving, chunking,
 *    streams) goes to libmicrohttpd with its bytes unread, while it holds
 *    fewer than http.max_connections (else 503 here).
 *
 * Bounds (after nginx's limit_conn and client_header_timeout): at most
 * http.max_connections_per_client connections from one address; at
 * http.max_connections, a new connection takes the place of the one idle
 * longest rather than being refused; idle connections close after
 * http.connection_timeout, and ones that have not sent a whole head after
 * http.header_timeout.
 *
 * A request waits for its commit parked on its loop, no thread blocked;
 * the bronze flusher's notification (cl_fast_notify) wakes the loops that
 * have parked requests through an eventfd, and each answers what is now
 * durable.
 */
#include "cl_http_head.h"
#include "cl_route.h"
#include "cl_server_int.h"
#include "core/cl_error.h"
#include "core/cl_log.h"
#include "core/cl_mem.h"
#include "core/cl_prom.h"
#include "core/cl_time.h"
#include "core/cl_worker.h"

#include <arpa/inet.h>
#include <errno.h>
#include <microhttpd.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define PEEK_MAX 65536     /* requests larger than this go to MHD */
#define KICK_MAX 4         /* logs one loop round may kick */
#define CLIENTS_SLOTS 4096 /* the per-address count table */

enum fstate {
	FC_IDLE,      /* between requests (or none yet) */
	FC_BUSY,      /* a request read, not yet answered */
	FC_WAITING,   /* parked until its commit */
	FC_SENDING,   /* the answer partly written */
	FC_READING,   /* its head read, its body arriving */
	FC_LINGER,    /* closing: reading and dropping what the client still sends */
};

#define LINGER_US 2000000  /* the longest a closing connection is read */

struct cl_fworker;

struct cl_fconn {
	int fd;
	struct cl_fworker *w;
	enum fstate state;
	int readable;        /* input arrived while not idle */
	int dead;            /* the peer is gone or the socket failed */
	int close_after;     /* Connection: close, or an error answered */
	int gone;            /* closed or handed off, freed after this round */
	int64_t last_us;     /* last activity, for the idle timeout */
	int64_t head_us;     /* when an incomplete head was first seen (0: none) */
	int served;          /* requests answered on it */
	int peer_closed;     /* the peer shut its side (EPOLLRDHUP) */
	int unread;          /* input may follow that will not be read */
	int in_serve;        /* serve_input is running for it (no recursion) */
	int64_t linger_until_us;
	size_t body_len;     /* of the body read into in[head.head_len..] */
	struct cl_http_chunked chunked;
	struct sockaddr_in peer;
	char *out;
	size_t out_len, out_off, out_cap;
	char *in;            /* the request being served: head and body */
	size_t in_cap;
	struct cl_http_head head;
	struct cl_req req;
	struct cl_fconn *prev, *next;  /* the loop's connections */
	struct cl_fconn *next_wait;    /* the loop's parked requests */
};

struct cl_fworker {
	struct cl_fast *f;
	pthread_t th;
	int started;
	int ep, evfd;
	atomic_int nwaiting;
	struct cl_blog *kick[KICK_MAX];   /* logs queued to lazily this round */
	int nkick;
	struct cl_fconn *conns, *waiting;
	struct cl_fconn *gone;         /* to free once this round's events are done */
	int64_t last_sweep_us;
	time_t date_sec;
	char date[40];
	char buf[PEEK_MAX];
};

/* Connections open per client address (open addressing, under mu). */
struct client_slot {
	uint32_t addr;
	uint32_t n;
};

struct cl_fast {
	struct cl_server *s;
	int lfd;
	uint16_t port;
	atomic_int stop;
	atomic_int quiescing;
	atomic_int nconns;
	atomic_uint_fast64_t handoffs;
	atomic_uint_fast64_t refused;     /* over http.max_connections_per_client */
	atomic_uint_fast64_t evicted;     /* idle ones closed for a new one */
	atomic_uint_fast64_t timeouts;    /* closed for an idle or unfinished head */
	atomic_uint_fast64_t refused_heads; /* 400 and 431 for malformed heads */
	atomic_int_fast64_t refused_logged_us;
	atomic_uint_fast64_t refused_logged; /* refused at the last log line */
	pthread_mutex_t clients_mu;
	struct client_slot clients[CLIENTS_SLOTS];
	uint32_t nworkers;
	struct cl_fworker *w;
};

/* epoll tags for the two fds that are not connections */
static char tag_listen, tag_wake;

/* ---- per-client counts ---- */

static struct client_slot *client_slot(struct cl_fast *f, uint32_t addr, int create)
{
	uint32_t h = (addr * 2654435761u) % CLIENTS_SLOTS;

	for (uint32_t i = 0; i < CLIENTS_SLOTS; i++) {
		struct client_slot *cs = &f->clients[(h + i) % CLIENTS_SLOTS];

		if (cs->n && cs->addr == addr)
			return cs;
		if (!cs->n && create) {
			cs->addr = addr;
			return cs;
		}
	}
	return NULL;
}

/* Counts a new connection from addr; 0 if that address has its most. */
static int client_enter(struct cl_fast *f, uint32_t addr)
{
	uint32_t limit = f->s->http->max_connections_per_client;
	struct client_slot *cs;
	int ok = 0;

	pthread_mutex_lock(&f->clients_mu);
	cs = client_slot(f, addr, 0);
	if (!cs)
		cs = client_slot(f, addr, 1);
	if (cs && cs->n < limit) {
		cs->n++;
		ok = 1;
	}
	pthread_mutex_unlock(&f->clients_mu);
	return ok;
}

static void client_leave(struct cl_fast *f, uint32_t addr)
{
	struct client_slot *cs;

	pthread_mutex_lock(&f->clients_mu);
	cs = client_slot(f, addr, 0);
	if (cs && cs->n > 0 && --cs->n == 0) {
		/* keep the probe chains whole: re-place the slots after it */
		uint32_t at = (uint32_t)(cs - f->clients);

		for (uint32_t i = 1; i < CLIENTS_SLOTS; i++) {
			struct client_slot *next = &f->clients[(at + i) % CLIENTS_SLOTS], tmp;

			if (!next->n)
				break;
			tmp = *next;
			next->n = 0;
			*client_slot(f, tmp.addr, 1) = tmp;
		}
	}
	pthread_mutex_unlock(&f->clients_mu);
}

/* ---- the transport's side of a request ---- */

/* The value of a header of the request being served (those the head
 * parser keeps), NUL-ended. */
static const char *fast_header(void *conn, const char *name)
{
	struct cl_fconn *c = conn;

	if (strcasecmp(name, "Authorization") == 0)
		return c->head.has_auth ? c->head.auth : NULL;
	if (strcasecmp(name, "Content-Type") == 0)
		return c->head.has_ctype ? c->head.ctype : NULL;
	return NULL;
}

static const char *fast_query(void *conn, const char *name)
{
	(void)conn;
	(void)name;
	return NULL; /* fast requests have no query */
}

static void refresh_date(struct cl_fworker *w)
{
	time_t now = time(NULL);
	struct tm tm;

	if (now == w->date_sec)
		return;
	w->date_sec = now;
	gmtime_r(&now, &tm);
	strftime(w->date, sizeof(w->date), "%a, %d %b %Y %H:%M:%S GMT", &tm);
}

static void flush_out(struct cl_fconn *c);

static int fast_reply(void *conn, int code, const char *ctype, char *body, size_t len,
		      const struct cl_reply_headers *h)
{
	struct cl_fconn *c = conn;
	const char *reason = MHD_get_reason_phrase_for((unsigned int)code);
	char more[CL_REPLY_HEADERS * (CL_REPLY_HEADER_MAX + 64)];
	size_t need, used = 0;
	int n;

	/* the handler's headers, "Name: value\r\n" each (names are short
	 * static strings: 64 bytes of room each is plenty) */
	for (int i = 0; i < h->n; i++) {
		size_t nl = strlen(h->name[i]), vl = strlen(h->value[i]);

		if (nl > 60)
			continue;
		memcpy(more + used, h->name[i], nl);
		memcpy(more + used + nl, ": ", 2);
		memcpy(more + used + nl + 2, h->value[i], vl);
		memcpy(more + used + nl + 2 + vl, "\r\n", 2);
		used += nl + vl + 4;
	}
	more[used] = '\0';
	need = len + 256 + strlen(ctype) + used;
	if (code >= 400 && !c->req.route)
		c->close_after = 1; /* refused before any route: do not read on */
	if (need > c->out_cap) {
		char *nb = cl_realloc(c->out, need);

		if (!nb) {
			free(body);
			c->dead = 1;
			c->state = FC_IDLE;
			return CL_ENOMEM;
		}
		c->out = nb;
		c->out_cap = need;
	}
	refresh_date(c->w);
	n = snprintf(c->out, c->out_cap,
		     "HTTP/1.1 %d %s\r\nContent-Type: %s\r\nCache-Control: no-store\r\n"
		     "%sContent-Length: %zu\r\nDate: %s\r\n%s\r\n",
		     code, reason, ctype, more, len, c->w->date,
		     c->close_after ? "Connection: close\r\n" : "");
	if (n < 0 || (size_t)n + len > c->out_cap) {
		free(body);
		c->dead = 1;
		c->state = FC_IDLE;
		return CL_EIO;
	}
	memcpy(c->out + n, body, len);
	free(body);
	c->out_len = (size_t)n + len;
	c->out_off = 0;
	c->served++;
	flush_out(c);
	return CL_OK;
}

static const struct cl_transport fast_transport = {
	.name = "fast",
	.query = fast_query,
	.header = fast_header,
	.reply = fast_reply,
	.stream = NULL,
};

/* ---- connections ---- */

/* Takes c off the loop. Its memory lives until the end of the round: an
 * event already fetched may still name it. */
static void unlink_conn(struct cl_fconn *c)
{
	struct cl_fworker *w = c->w;

	epoll_ctl(w->ep, EPOLL_CTL_DEL, c->fd, NULL);
	if (c->prev)
		c->prev->next = c->next;
	else
		w->conns = c->next;
	if (c->next)
		c->next->prev = c->prev;
	atomic_fetch_sub(&w->f->nconns, 1);
	client_leave(w->f, c->peer.sin_addr.s_addr);
	c->gone = 1;
	c->next = w->gone;
	w->gone = c;
}

static void free_gone(struct cl_fworker *w)
{
	while (w->gone) {
		struct cl_fconn *c = w->gone;

		w->gone = c->next;
		cl_req_free(&c->req);
		cl_free(c->in);
		cl_free(c->out);
		cl_free(c);
	}
}

static void conn_close(struct cl_fconn *c)
{
	unlink_conn(c);
	close(c->fd);
}

/* Reads and drops n bytes the loop peeked at. */
static void drain(struct cl_fconn *c, size_t n)
{
	char *sink = c->w->buf;

	while (n > 0) {
		ssize_t got = recv(c->fd, sink, n < PEEK_MAX ? n : PEEK_MAX, 0);

		if (got <= 0)
			return;
		n -= (size_t)got;
	}
}

/* Gives the connection, its unread bytes with it, to MHD (returns 0); or,
 * when MHD holds as many as it may, answers 503 to be closed after
 * (returns 1). */
static int hand_off(struct cl_fconn *c)
{
	struct cl_fast *f = c->w->f;
	struct cl_server *s = f->s;

	if (cl_mhd_connections(s->mhd) >= s->http->max_connections) {
		cl_req_reset(&c->req);
		c->close_after = 1;
		cl_reply_error(&c->req, 503, "busy", "the server holds as many connections as it may; "
			       "retry later", "Retry-After", "1");
		return 1;
	}
	unlink_conn(c);
	atomic_fetch_add(&f->handoffs, 1);
	if (cl_mhd_add(s->mhd, c->fd, &c->peer) != CL_OK)
		cl_log_warn("http", "event=handoff_failed errno=%d", errno);
	return 0;
}

/* Writes what is left of the answer; the connection goes idle when it is
 * all out, or waits for EPOLLOUT. */
static void flush_out(struct cl_fconn *c)
{
	while (c->out_off < c->out_len) {
		ssize_t n = send(c->fd, c->out + c->out_off, c->out_len - c->out_off, MSG_NOSIGNAL);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
			struct epoll_event ev = { EPOLLIN | EPOLLOUT | EPOLLRDHUP | EPOLLET,
						  { .ptr = c } };

			if (c->state != FC_SENDING)
				epoll_ctl(c->w->ep, EPOLL_CTL_MOD, c->fd, &ev);
			c->state = FC_SENDING;
			return;
		}
		if (n <= 0) {
			c->dead = 1;
			c->state = FC_IDLE;
			return;
		}
		c->out_off += (size_t)n;
	}
	if (c->state == FC_SENDING) {
		struct epoll_event ev = { EPOLLIN | EPOLLRDHUP | EPOLLET, { .ptr = c } };

		epoll_ctl(c->w->ep, EPOLL_CTL_MOD, c->fd, &ev);
	}
	c->state = FC_IDLE;
	c->last_us = cl_time_mono_us();
}

/*
 * Closes a connection whose client may still be sending (a refused head
 * or body): our side is shut, and what arrives is read and dropped until
 * the client closes or LINGER_US passes, so that the answer is not lost
 * to a reset (nginx's lingering close).
 */
static void linger(struct cl_fconn *c)
{
	char *sink = c->w->buf;

	if (c->state != FC_LINGER) {
		c->state = FC_LINGER;
		c->linger_until_us = cl_time_mono_us() + LINGER_US;
		shutdown(c->fd, SHUT_WR);
	}
	for (;;) {
		ssize_t n = recv(c->fd, sink, PEEK_MAX, 0);

		if (n > 0)
			continue;
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
			return;
		conn_close(c); /* the client is done */
		return;
	}
}

static void serve_input(struct cl_fconn *c);

/* After an answer: close (lingering if the client may still send), read
 * on, or leave the connection be. */
static void settle(struct cl_fconn *c)
{
	if (c->state == FC_BUSY || c->state == FC_READING) {
		if (c->req.answered)
			c->state = FC_IDLE;
		else
			c->dead = 1; /* no answer could be made */
	}
	if (c->state == FC_WAITING || c->state == FC_SENDING || c->state == FC_LINGER)
		return;
	if (c->dead) {
		conn_close(c);
		return;
	}
	if (c->close_after) {
		if (c->unread)
			linger(c);
		else
			conn_close(c);
		return;
	}
	if (c->readable && !c->in_serve)
		serve_input(c);
}

/* Wakes log's flusher at the end of this round (once however many
 * requests queued to it). */
static void kick_later(struct cl_fworker *w, struct cl_blog *log)
{
	int i;

	for (i = 0; i < w->nkick && w->kick[i] != log; i++)
		;
	if (i == w->nkick) {
		if (w->nkick < KICK_MAX)
			w->kick[w->nkick++] = log;
		else
			cl_blog_kick(log);
	}
}

/* Parks a request whose records are queued. It was counted in nwaiting
 * before they were, so the commit that makes them durable finds the
 * count and wakes this loop (cl_fast_notify). */
static void park(struct cl_fconn *c)
{
	struct cl_fworker *w = c->w;

	c->state = FC_WAITING;
	c->next_wait = w->waiting;
	w->waiting = c;
	kick_later(w, c->req.wait_log);
	if (c->req.wait_log2)
		kick_later(w, c->req.wait_log2);
}

/* Makes room for need bytes of c->in. */
static int in_reserve(struct cl_fconn *c, size_t need)
{
	if (need <= c->in_cap)
		return CL_OK;
	{
		size_t nc = c->in_cap ? c->in_cap : 4096;
		char *nb;

		while (nc < need)
			nc *= 2;
		nb = cl_realloc(c->in, nc);
		if (!nb)
			return CL_ENOMEM;
		c->in = nb;
		c->in_cap = nc;
	}
	return CL_OK;
}

/* Answers a head refused before any route (400, 431); the connection is
 * closed after, lingering. */
static void refuse_head(struct cl_fconn *c, int code, const char *kind, const char *detail)
{
	atomic_fetch_add(&c->w->f->refused_heads, 1);
	cl_req_reset(&c->req);
	c->close_after = 1;
	c->unread = 1;
	cl_reply_error(&c->req, code, kind, detail, NULL, NULL);
}

/* The request's body is all in c->in: its handler runs; it is answered,
 * or parked until its records are durable. */
static void run(struct cl_fconn *c)
{
	struct cl_fworker *w = c->w;
	int rc;

	c->state = FC_BUSY;
	c->req.body = c->in + c->head.head_len;
	c->req.body_len = c->body_len;
	atomic_fetch_add(&w->nwaiting, 1);
	rc = cl_route_run(&c->req);
	if (rc == CL_REQ_WAIT) {
		park(c);
		return;
	}
	atomic_fetch_sub(&w->nwaiting, 1);
	if (!c->req.answered)
		c->dead = 1;
}

/* The body is over http.max_body_bytes: 413, and the connection is
 * closed after, lingering. */
static void body_too_large(struct cl_fconn *c)
{
	char msg[200];

	snprintf(msg, sizeof(msg), "the body is larger than the limit of %llu bytes "
		 "(http.max_body_bytes)", (unsigned long long)c->w->f->s->http->max_body_bytes);
	c->close_after = 1;
	c->unread = 1;
	cl_reply_error(&c->req, 413, "payload_too_large", msg, NULL, NULL);
}

/*
 * Reads what has arrived of the body of the request in c (Content-Length
 * or chunked) into c->in. Returns 1 once the body is whole, 0 to wait
 * for more, -1 when the request was answered (413, 400) or the
 * connection is gone.
 */
static int read_body(struct cl_fconn *c)
{
	struct cl_fworker *w = c->w;
	uint64_t max = w->f->s->http->max_body_bytes;
	size_t base = c->head.head_len;

	for (;;) {
		ssize_t n;

		if (!c->head.chunked) {
			size_t want = (size_t)c->head.content_length - c->body_len;

			if (want == 0)
				return 1;
			n = recv(c->fd, c->in + base + c->body_len, want, 0);
			if (n > 0) {
				c->body_len += (size_t)n;
				continue;
			}
		} else {
			size_t used = 0;
			int rc;

			n = recv(c->fd, w->buf, sizeof(w->buf), MSG_PEEK);
			if (n > 0) {
				rc = in_reserve(c, base + c->body_len + (size_t)n);
				if (rc == CL_OK)
					rc = cl_http_chunked_decode(&c->chunked, w->buf, (size_t)n, c->in + base,
								    (size_t)max, &c->body_len, &used);
				else
					rc = CL_HEAD_TOO_LARGE;
				drain(c, used);
				if (rc == CL_HEAD_OK)
					return 1;
				if (rc == CL_HEAD_TOO_LARGE) {
					body_too_large(c);
					return -1;
				}
				if (rc == CL_HEAD_BAD) {
					c->close_after = 1;
					c->unread = 1;
					cl_reply_error(&c->req, 400, "bad_request",
						       "the chunked body is malformed", NULL, NULL);
					return -1;
				}
				continue;
			}
		}
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
			return 0;
		c->dead = 1; /* the client left mid-body */
		return -1;
	}
}

static void read_on(struct cl_fconn *c);

/* Starts a request whose head is parsed (c->head) and whose route is
 * ours: checks its route and rule, takes the head off the socket, and
 * reads its body, now or as it comes. */
static void begin(struct cl_fconn *c, size_t peeked)
{
	struct cl_http_head *q = &c->head;
	uint64_t max = c->w->f->s->http->max_body_bytes;
	size_t method_at = (size_t)(q->method - c->w->buf), path_at = (size_t)(q->path - c->w->buf);
	size_t whole = q->head_len + (q->chunked ? 0 : (size_t)q->content_length);
	/* a whole plain request (the common case) is taken in one read */
	size_t take = q->has_length && q->content_length <= max && whole <= peeked ? whole
										: q->head_len;
	int rc;

	/* the head (and the body, when it is all there) into c->in: the
	 * head's slices then point there */
	rc = in_reserve(c, q->has_length && q->content_length <= max ? whole : q->head_len);
	if (rc == CL_OK && recv(c->fd, c->in, take, 0) != (ssize_t)take)
		rc = CL_EIO;
	if (rc != CL_OK) {
		conn_close(c);
		return;
	}
	q->method = c->in + method_at;
	q->path = c->in + path_at;
	c->close_after = q->close;
	c->unread = 0;
	c->body_len = take - q->head_len;
	memset(&c->chunked, 0, sizeof(c->chunked));
	cl_req_reset(&c->req);
	c->req.lazy = 1;
	c->state = FC_READING;
	rc = cl_route_begin(&c->req, "POST", q->path, q->path_len);
	if (rc != 1) {
		/* refused before its body: 401, 404, 415; a body not yet all
		 * read will not be: the connection closes after */
		if (q->chunked || c->body_len < q->content_length) {
			c->close_after = 1;
			c->unread = 1;
		}
		settle(c);
		return;
	}
	if (q->has_length && q->content_length > max) {
		body_too_large(c);
		settle(c);
		return;
	}
	if (q->expect_continue) {
		static const char cont[] = "HTTP/1.1 100 Continue\r\n\r\n";

		if (send(c->fd, cont, sizeof(cont) - 1, MSG_NOSIGNAL) < 0)
			c->dead = 1;
	}
	read_on(c);
}

/* Reads more of the body of the request being read; runs it once whole. */
static void read_on(struct cl_fconn *c)
{
	int rc = c->dead ? -1 : read_body(c);

	if (rc == 0) {
		c->last_us = cl_time_mono_us();
		return;
	}
	if (rc == 1)
		run(c);
	settle(c);
}

static void serve_requests(struct cl_fconn *c);

/* The body of the request whose head q is, when it is all in the peek
 * (peeked bytes at buf) and plain; else NULL. */
static const char *whole_body(const struct cl_http_head *q, const char *buf, size_t peeked)
{
	if (!q->has_length || q->chunked || q->head_len > peeked ||
	    q->content_length > peeked - q->head_len)
		return NULL;
	return buf + q->head_len;
}

/* Reads and serves the requests waiting in the socket. */
static void serve_input(struct cl_fconn *c)
{
	c->in_serve = 1;
	serve_requests(c);
	if (!c->gone)
		c->in_serve = 0;
}

static void serve_requests(struct cl_fconn *c)
{
	struct cl_fworker *w = c->w;
	struct cl_server *s = w->f->s;
	size_t max_head = s->http->max_header_bytes;

	while (c->state == FC_IDLE && !c->gone) {
		struct cl_http_head *q = &c->head;
		ssize_t n = recv(c->fd, w->buf, sizeof(w->buf), MSG_PEEK);
		int rc;

		c->readable = 0;
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
			return;
		if (n <= 0) {
			conn_close(c);
			return;
		}
		c->last_us = cl_time_mono_us();
		rc = cl_http_head_parse(w->buf, (size_t)n, max_head, q);
		if (rc == CL_HEAD_PARTIAL) {
			/* the rest of the head has yet to come (edge-triggered: the
			 * loop says when); the sweep ends it at header_timeout. A
			 * peer that has closed will send no more. */
			if (!c->head_us)
				c->head_us = c->last_us;
			if (c->peer_closed)
				conn_close(c);
			return;
		}
		c->head_us = 0;
		if (rc == CL_HEAD_TOO_LARGE || rc == CL_HEAD_BAD) {
			char msg[160];

			if (rc == CL_HEAD_TOO_LARGE)
				snprintf(msg, sizeof(msg), "the request head is larger than "
					 "http.max_header_bytes (%zu bytes)", max_head);
			else
				snprintf(msg, sizeof(msg), "%s", q->error);
			refuse_head(c, rc == CL_HEAD_TOO_LARGE ? 431 : 400,
				    rc == CL_HEAD_TOO_LARGE ? "header_too_large" : "bad_request", msg);
			settle(c);
			return;
		}
		if (!cl_http_head_ours(q) || !cl_route_is_fast(q->path, q->path_len) ||
		    !cl_route_fast_body(q->path, q->path_len, whole_body(q, w->buf, (size_t)n),
					(size_t)q->content_length)) {
			if (hand_off(c))
				settle(c);
			return;
		}
		/* more bytes behind this request in the peek: read on once it is
		 * answered; otherwise the edge-triggered loop says when more
		 * arrive */
		if (q->has_length && (size_t)n > q->head_len + q->content_length)
			c->readable = 1;
		begin(c, (size_t)n);
		if (c->gone || c->state != FC_IDLE || !c->readable)
			return;
	}
}

/* Answers the parked requests whose commits are done. */
static void answer_waiting(struct cl_fworker *w)
{
	struct cl_fconn **pp = &w->waiting, *done = NULL;

	while (*pp) {
		struct cl_fconn *c = *pp;
		int rc;

		if (cl_req_ready(&c->req, &rc)) {
			*pp = c->next_wait;
			atomic_fetch_sub(&w->nwaiting, 1);
			c->state = FC_BUSY;
			cl_route_finish(&c->req, rc);
			c->next_wait = done;
			done = c;
		} else {
			pp = &c->next_wait;
		}
	}
	while (done) {
		struct cl_fconn *c = done;

		done = c->next_wait;
		settle(c);
	}
}

/* A connection closed at once: counted, and said in the log at most
 * every 10 seconds with how many since. Closed after the line is said, so
 * a client that dials again once refused is counted in the next line. */
static void refuse(struct cl_fast *f, int fd, const char *setting, uint32_t limit)
{
	uint64_t n = atomic_fetch_add(&f->refused, 1) + 1;
	int64_t now = cl_time_mono_us(), last = atomic_load(&f->refused_logged_us);

	if (!(last && now - last < 10000000) &&
	    atomic_compare_exchange_strong(&f->refused_logged_us, &last, now))
		cl_log_warn("http", "event=connections_refused limit=%u refused=%llu "
			    "detail=\"http.%s reached: new connections are closed at once\"", limit,
			    (unsigned long long)(n - atomic_exchange(&f->refused_logged, n)), setting);
	close(fd);
}

/* Closes the connection of this loop that has waited longest for its
 * first request (one that never sent a whole head); 0 if none has. Ones
 * that have been served keep their place. */
static int evict_idle(struct cl_fworker *w)
{
	struct cl_fconn *oldest = NULL;

	for (struct cl_fconn *c = w->conns; c; c = c->next)
		if (c->state == FC_IDLE && !c->served && (!oldest || c->last_us < oldest->last_us))
			oldest = c;
	if (!oldest)
		return 0;
	atomic_fetch_add(&w->f->evicted, 1);
	conn_close(oldest);
	return 1;
}

static void accept_all(struct cl_fworker *w)
{
	struct cl_fast *f = w->f;
	uint32_t max = f->s->http->max_connections;

	while (!atomic_load(&f->quiescing)) {
		struct sockaddr_in peer;
		socklen_t plen = sizeof(peer);
		int one = 1, fd = accept4(f->lfd, (struct sockaddr *)&peer, &plen,
					  SOCK_NONBLOCK | SOCK_CLOEXEC);
		struct cl_fconn *c;
		struct epoll_event ev;

		if (fd < 0) {
			if (errno == EINTR || errno == ECONNABORTED)
				continue;
			if (errno == EMFILE || errno == ENFILE)
				cl_log_warn("http", "event=accept_failed detail=\"out of file descriptors\"");
			return;
		}
		if (!client_enter(f, peer.sin_addr.s_addr)) {
			refuse(f, fd, "max_connections_per_client",
			       f->s->http->max_connections_per_client);
			continue;
		}
		/* full: the new connection takes the place of one that never
		 * sent a request */
		if ((uint32_t)atomic_load(&f->nconns) >= max && !evict_idle(w)) {
			client_leave(f, peer.sin_addr.s_addr);
			refuse(f, fd, "max_connections", max);
			continue;
		}
		c = cl_calloc(1, sizeof(*c));
		if (!c) {
			client_leave(f, peer.sin_addr.s_addr);
			close(fd);
			continue;
		}
		setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
		c->fd = fd;
		c->w = w;
		c->peer = peer;
		c->last_us = cl_time_mono_us();
		c->head_us = c->last_us;   /* its first head is due from now */
		cl_req_init(&c->req, f->s, &fast_transport, c);
		inet_ntop(AF_INET, &peer.sin_addr, c->req.client, sizeof(c->req.client));
		ev.events = EPOLLIN | EPOLLRDHUP | EPOLLET;
		ev.data.ptr = c;
		if (epoll_ctl(w->ep, EPOLL_CTL_ADD, fd, &ev) != 0) {
			client_leave(f, peer.sin_addr.s_addr);
			cl_free(c);
			close(fd);
			continue;
		}
		c->next = w->conns;
		if (w->conns)
			w->conns->prev = c;
		w->conns = c;
		atomic_fetch_add(&f->nconns, 1);
	}
}

/* Closes connections idle (or not reading their answer) too long, and
 * ones whose head has not come whole within the header timeout. */
static void sweep(struct cl_fworker *w, int64_t now)
{
	int64_t idle = w->f->s->http->connection_timeout_us;
	int64_t head = w->f->s->http->header_timeout_us;
	struct cl_fconn *c = w->conns, *next;

	w->last_sweep_us = now;
	for (; c; c = next) {
		next = c->next;
		if (c->state == FC_LINGER) {
			if (now > c->linger_until_us)
				conn_close(c);
			continue;
		}
		if (c->state != FC_IDLE && c->state != FC_SENDING && c->state != FC_READING)
			continue;
		if ((c->state == FC_IDLE && c->head_us && now - c->head_us > head) ||
		    now - c->last_us > idle) {
			atomic_fetch_add(&w->f->timeouts, 1);
			conn_close(c);
		}
	}
}

static void *loop(void *arg)
{
	struct cl_fworker *w = arg;
	struct epoll_event evs[64];

	while (!atomic_load(&w->f->stop)) {
		int n = epoll_wait(w->ep, evs, 64, 1000);
		int64_t now;

		for (int i = 0; i < n; i++) {
			void *tag = evs[i].data.ptr;
			struct cl_fconn *c = tag;

			if (tag == &tag_listen) {
				accept_all(w);
			} else if (tag == &tag_wake) {
				uint64_t v;

				if (read(w->evfd, &v, sizeof(v)) < 0 && errno != EAGAIN)
					cl_log_warn("http", "event=wake_failed errno=%d", errno);
				answer_waiting(w);
			} else {
				uint32_t e = evs[i].events;

				if (c->gone)
					continue;
				if ((e & (EPOLLHUP | EPOLLERR)) && c->state != FC_IDLE)
					c->dead = 1;
				if (c->dead && c->state == FC_SENDING) {
					conn_close(c); /* its answer can no longer go out */
					continue;
				}
				if ((e & EPOLLOUT) && c->state == FC_SENDING) {
					flush_out(c);
					if (c->state != FC_SENDING) {
						settle(c);
						continue;
					}
				}
				if (e & (EPOLLRDHUP | EPOLLHUP))
					c->peer_closed = 1;
				if (e & (EPOLLIN | EPOLLRDHUP | EPOLLHUP | EPOLLERR)) {
					if (c->state == FC_IDLE)
						serve_input(c);
					else if (c->state == FC_READING)
						read_on(c);
					else if (c->state == FC_LINGER)
						linger(c);
					else
						c->readable = 1;
				}
			}
		}
		/* one wake of each flusher for the round's requests */
		for (int i = 0; i < w->nkick; i++)
			cl_blog_kick(w->kick[i]);
		w->nkick = 0;
		now = cl_time_mono_us();
		if (now - w->last_sweep_us >= 250000)
			sweep(w, now);
		free_gone(w);
	}
	return NULL;
}

static int listen_on(const struct sockaddr_in *sa, int *out, uint16_t *port)
{
	int one = 1, fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	struct sockaddr_in got;
	socklen_t len = sizeof(got);

	if (fd < 0)
		return cl_error_set(CL_EIO, "socket: %s", strerror(errno));
	setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	if (bind(fd, (const struct sockaddr *)sa, sizeof(*sa)) != 0 || listen(fd, 1024) != 0 ||
	    getsockname(fd, (struct sockaddr *)&got, &len) != 0) {
		int e = errno;

		close(fd);
		return cl_error_set(CL_EIO, "%s", strerror(e));
	}
	*out = fd;
	*port = ntohs(got.sin_port);
	return CL_OK;
}

int cl_fast_start(struct cl_server *s, const struct sockaddr_in *sa, struct cl_fast **out)
{
	struct cl_fast *f = cl_calloc(1, sizeof(*f));
	int rc;

	if (!f)
		return cl_error_set(CL_ENOMEM, "out of memory");
	f->s = s;
	f->lfd = -1;
	pthread_mutex_init(&f->clients_mu, NULL);
	rc = listen_on(sa, &f->lfd, &f->port);
	f->nworkers = s->http->threads ? s->http->threads : 1;
	f->w = rc ? NULL : cl_calloc(f->nworkers, sizeof(*f->w));
	if (!rc && !f->w)
		rc = cl_error_set(CL_ENOMEM, "out of memory");
	for (uint32_t i = 0; !rc && i < f->nworkers; i++) {
		struct cl_fworker *w = &f->w[i];
		struct epoll_event ev = { EPOLLIN | EPOLLEXCLUSIVE, { .ptr = &tag_listen } };
		struct epoll_event wake = { EPOLLIN, { .ptr = &tag_wake } };

		w->f = f;
		w->ep = epoll_create1(EPOLL_CLOEXEC);
		w->evfd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
		if (w->ep < 0 || w->evfd < 0 || epoll_ctl(w->ep, EPOLL_CTL_ADD, f->lfd, &ev) != 0 ||
		    epoll_ctl(w->ep, EPOLL_CTL_ADD, w->evfd, &wake) != 0) {
			rc = cl_error_set(CL_EIO, "epoll: %s", strerror(errno));
			break;
		}
		w->last_sweep_us = cl_time_mono_us();
		rc = cl_thread_create(&w->th, "cl-http", loop, w);
		if (rc)
			break;
		w->started = 1;
	}
	if (rc) {
		cl_fast_stop(f);
		return rc;
	}
	*out = f;
	return CL_OK;
}

uint16_t cl_fast_port(const struct cl_fast *f)
{
	return f->port;
}

/*
 * Takes no new connections. The listening descriptor stays open (the
 * loops may be in accept4 on it) until cl_fast_stop has joined them:
 * closing it here would let another open reuse its number under them.
 */
void cl_fast_quiesce(struct cl_fast *f)
{
	if (atomic_exchange(&f->quiescing, 1) || f->lfd < 0)
		return;
	for (uint32_t i = 0; f->w && i < f->nworkers; i++)
		if (f->w[i].ep > 0)
			epoll_ctl(f->w[i].ep, EPOLL_CTL_DEL, f->lfd, NULL);
	shutdown(f->lfd, SHUT_RDWR);
}

void cl_fast_metrics(struct cl_fast *f, struct cl_prom *p)
{
	cl_prom_gauge(p, "carelake_http_fast_connections",
		      "Connections open on carelake's own HTTP loops.",
		      (double)atomic_load(&f->nconns));
	cl_prom_counter(p, "carelake_http_handoffs_total",
			"Connections handed to libmicrohttpd (another endpoint, a body still "
			"arriving, an unusual head).", atomic_load(&f->handoffs));
	cl_prom_counter(p, "carelake_http_connections_refused_total",
			"Connections closed at once: their client had http.max_connections_per_client "
			"open, or every connection was busy.", atomic_load(&f->refused));
	cl_prom_counter(p, "carelake_http_connections_evicted_total",
			"Idle connections closed to make room for a new one at http.max_connections.",
			atomic_load(&f->evicted));
	cl_prom_counter(p, "carelake_http_timeouts_total",
			"Connections closed idle past http.connection_timeout, or without a whole "
			"request head after http.header_timeout.", atomic_load(&f->timeouts));
	cl_prom_counter(p, "carelake_http_bad_heads_total",
			"Requests refused for their head alone (400 malformed or ambiguous, 431 too "
			"large).", atomic_load(&f->refused_heads));
}

int cl_fast_waiting(struct cl_fast *f)
{
	int n = 0;

	for (uint32_t i = 0; f->w && i < f->nworkers; i++)
		n += atomic_load(&f->w[i].nwaiting);
	return n;
}

void cl_fast_notify(struct cl_fast *f)
{
	for (uint32_t i = 0; i < f->nworkers; i++) {
		struct cl_fworker *w = &f->w[i];
		uint64_t one = 1;

		if (atomic_load(&w->nwaiting) > 0 && write(w->evfd, &one, sizeof(one)) < 0 &&
		    errno != EAGAIN)
			cl_log_warn("http", "event=wake_failed errno=%d", errno);
	}
}

void cl_fast_stop(struct cl_fast *f)
{
	if (!f)
		return;
	cl_fast_quiesce(f);
	atomic_store(&f->stop, 1);
	for (uint32_t i = 0; f->w && i < f->nworkers; i++) {
		struct cl_fworker *w = &f->w[i];
		uint64_t one = 1;

		if (w->started) {
			if (write(w->evfd, &one, sizeof(one)) < 0)
				cl_log_warn("http", "event=wake_failed errno=%d", errno);
			pthread_join(w->th, NULL);
		}
	}
	/* every loop has stopped: now the descriptors may go */
	for (uint32_t i = 0; f->w && i < f->nworkers; i++) {
		struct cl_fworker *w = &f->w[i];

		while (w->conns)
			conn_close(w->conns);
		free_gone(w);
		if (w->ep > 0)
			close(w->ep);
		if (w->evfd > 0)
			close(w->evfd);
	}
	if (f->lfd >= 0)
		close(f->lfd);
	pthread_mutex_destroy(&f->clients_mu);
	cl_free(f->w);
	cl_free(f);
}
