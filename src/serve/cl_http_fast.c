/*
 * The fast path of the HTTP API: single ingest requests on keep-alive
 * connections, the way bedside devices post, with no per-request thread
 * handoffs.
 *
 * It owns the listening socket and runs `http.threads` epoll loops. On a
 * connection with bytes to read it peeks at them: a complete request
 * (head and body within one peek) to POST /api/v1/events, /fhir/Observation
 * or /fhir, HTTP/1.1, with a Content-Length and nothing unusual in its head
 * (no chunking, no Expect, no folded or malformed lines), it reads and
 * serves itself. Anything else (other endpoints, bodies still arriving,
 * streams, errors of form) it hands to MHD, bytes unread, and the
 * connection is MHD's from then on: every rule of the API is MHD's
 * except for requests this file can read whole.
 *
 * A request waits for its commit parked on its loop, no thread blocked;
 * the bronze flusher's notification (cl_fast_notify) wakes the loops that
 * have parked requests through an eventfd, and each answers what is now
 * durable. Connections idle longer than http.connection_timeout close.
 */
#include "cl_http_head.h"
#include "cl_server_int.h"
#include "core/cl_error.h"
#include "core/cl_log.h"
#include "core/cl_mem.h"
#include "core/cl_time.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define PEEK_MAX 65536     /* requests larger than this go to MHD */

enum fstate {
	FC_IDLE,      /* between requests */
	FC_BUSY,      /* a request read, not yet answered */
	FC_WAITING,   /* parked until its commit */
	FC_SENDING,   /* the answer partly written */
};

struct cl_fworker;

struct cl_fconn {
	int fd;
	struct cl_fworker *w;
	enum fstate state;
	int readable;        /* input arrived while not idle */
	int dead;            /* the peer is gone or the socket failed */
	int close_after;     /* Connection: close */
	int gone;            /* closed or handed off, freed after this round */
	int64_t last_us;     /* last activity, for the idle timeout */
	struct sockaddr_in peer;
	char *out;
	size_t out_len, out_off, out_cap;
	struct cl_http_req *req;
	struct cl_fconn *prev, *next;  /* the loop's connections */
	struct cl_fconn *next_wait;    /* the loop's parked requests */
};

struct cl_fworker {
	struct cl_fast *f;
	pthread_t th;
	int started;
	int ep, evfd;
	atomic_int nwaiting;
	int queued;                    /* records queued lazily this round */
	struct cl_fconn *conns, *waiting;
	struct cl_fconn *gone;         /* to free once this round's events are done */
	int64_t last_sweep_us;
	time_t date_sec;
	char date[40];
	char buf[PEEK_MAX];
};

struct cl_fast {
	struct cl_server *s;
	int lfd;
	uint16_t port;
	atomic_int stop;
	atomic_int nconns;
	atomic_uint_fast64_t handoffs;
	atomic_uint_fast64_t refused;     /* connections over http.max_connections */
	atomic_int_fast64_t refused_logged_us;
	atomic_uint_fast64_t refused_logged; /* refused at the last log line */
	uint32_t nworkers;
	struct cl_fworker *w;
};

/* epoll tags for the two fds that are not connections */
static char tag_listen, tag_wake;

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
	c->gone = 1;
	c->next = w->gone;
	w->gone = c;
}

static void free_gone(struct cl_fworker *w)
{
	while (w->gone) {
		struct cl_fconn *c = w->gone;

		w->gone = c->next;
		cl_http_fast_free(c->req);
		cl_free(c->out);
		cl_free(c);
	}
}

static void conn_close(struct cl_fconn *c)
{
	unlink_conn(c);
	close(c->fd);
}

/* Gives the connection, its unread bytes with it, to MHD. */
static void hand_off(struct cl_fconn *c)
{
	unlink_conn(c);
	atomic_fetch_add(&c->w->f->handoffs, 1);
	/* MHD closes the socket itself if it cannot take it */
	if (MHD_add_connection(c->w->f->s->mhd, c->fd, (struct sockaddr *)&c->peer,
			       sizeof(c->peer)) != MHD_YES)
		cl_log_warn("http", "event=handoff_failed errno=%d", errno);
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

void cl_fast_reply(struct cl_fconn *c, int code, const char *ctype, const char *body,
		   size_t len, const char *extra_h, const char *extra_v)
{
	const char *reason = MHD_get_reason_phrase_for((unsigned int)code);
	size_t need = len + 256 + strlen(ctype) + (extra_h ? strlen(extra_h) + strlen(extra_v) : 0);
	int n;

	if (need > c->out_cap) {
		char *nb = cl_realloc(c->out, need);

		if (!nb) {
			c->dead = 1;
			c->state = FC_IDLE;
			return;
		}
		c->out = nb;
		c->out_cap = need;
	}
	refresh_date(c->w);
	n = snprintf(c->out, c->out_cap,
		     "HTTP/1.1 %d %s\r\nContent-Type: %s\r\nCache-Control: no-store\r\n"
		     "%s%s%s%sContent-Length: %zu\r\nDate: %s\r\n%s\r\n",
		     code, reason, ctype, extra_h ? extra_h : "", extra_h ? ": " : "",
		     extra_h ? extra_v : "", extra_h ? "\r\n" : "", len, c->w->date,
		     c->close_after ? "Connection: close\r\n" : "");
	if (n < 0 || (size_t)n + len > c->out_cap) {
		c->dead = 1;
		c->state = FC_IDLE;
		return;
	}
	memcpy(c->out + n, body, len);
	c->out_len = (size_t)n + len;
	c->out_off = 0;
	flush_out(c);
}

static void serve_input(struct cl_fconn *c);

/* After an answer: close, read on, or leave the connection be. */
static void settle(struct cl_fconn *c)
{
	if (c->state == FC_BUSY)
		c->dead = 1; /* no answer could be made */
	if (c->state == FC_WAITING || c->state == FC_SENDING)
		return;
	if (c->dead || c->close_after) {
		conn_close(c);
		return;
	}
	if (c->readable)
		serve_input(c);
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
}

/* Reads and serves the requests waiting in the socket. */
static void serve_input(struct cl_fconn *c)
{
	struct cl_fworker *w = c->w;
	struct cl_server *s = w->f->s;

	while (c->state == FC_IDLE) {
		struct cl_http_head q;
		ssize_t n = recv(c->fd, w->buf, sizeof(w->buf), MSG_PEEK);

		c->readable = 0;
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
			return;
		if (n <= 0) {
			conn_close(c);
			return;
		}
		if (cl_http_head_parse(w->buf, (size_t)n, s->http->max_body_bytes, &q) != 0 ||
		    !cl_http_fast_route(q.path, q.path_len)) {
			hand_off(c);
			return;
		}
		/* take exactly this request off the socket */
		size_t total = q.head_len + q.body_len;

		if (recv(c->fd, w->buf, total, 0) != (ssize_t)total) {
			conn_close(c);
			return;
		}
		c->close_after = q.close;
		c->last_us = cl_time_mono_us();
		c->state = FC_BUSY;
		/* more bytes behind this request were in the peek: read on
		 * once it is answered; otherwise the edge-triggered loop says
		 * when more arrive */
		if ((size_t)n > total)
			c->readable = 1;
		atomic_fetch_add(&w->nwaiting, 1);
		if (cl_http_fast_serve(s, c->req, q.path, q.path_len, q.has_auth ? q.auth : NULL,
				       w->buf + q.head_len, q.body_len)) {
			w->queued = 1;
			park(c);
		} else {
			atomic_fetch_sub(&w->nwaiting, 1);
		}
		if (c->state != FC_IDLE) {
			settle(c);
			return;
		}
		if (c->dead || c->close_after) {
			conn_close(c);
			return;
		}
		if (!c->readable)
			return;
	}
}

/* Answers the parked requests whose commits are done. */
static void answer_waiting(struct cl_fworker *w)
{
	struct cl_fconn **pp = &w->waiting, *done = NULL;

	while (*pp) {
		struct cl_fconn *c = *pp;

		if (cl_http_fast_poll(w->f->s, c->req)) {
			*pp = c->next_wait;
			atomic_fetch_sub(&w->nwaiting, 1);
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

/* A connection closed at once, over http.max_connections: counted, and
 * said in the log at most every 10 seconds with how many since. */
static void refuse(struct cl_fast *f)
{
	uint64_t n = atomic_fetch_add(&f->refused, 1) + 1;
	int64_t now = cl_time_mono_us(), last = atomic_load(&f->refused_logged_us);

	if ((last && now - last < 10000000) ||
	    !atomic_compare_exchange_strong(&f->refused_logged_us, &last, now))
		return;
	cl_log_warn("http", "event=connections_refused limit=%u refused=%llu detail=\"http.max_connections"
		    " reached: new connections are closed at once\"", f->s->http->max_connections,
		    (unsigned long long)(n - atomic_exchange(&f->refused_logged, n)));
}

static void accept_all(struct cl_fworker *w)
{
	struct cl_fast *f = w->f;

	for (;;) {
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
		if ((uint32_t)atomic_load(&f->nconns) >= f->s->http->max_connections) {
			close(fd);
			refuse(f);
			continue;
		}
		c = cl_calloc(1, sizeof(*c));
		if (c)
			c->req = cl_http_fast_new(c);
		if (!c || !c->req) {
			if (c)
				cl_free(c);
			close(fd);
			continue;
		}
		setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
		c->fd = fd;
		c->w = w;
		c->peer = peer;
		c->last_us = cl_time_mono_us();
		ev.events = EPOLLIN | EPOLLRDHUP | EPOLLET;
		ev.data.ptr = c;
		if (epoll_ctl(w->ep, EPOLL_CTL_ADD, fd, &ev) != 0) {
			cl_http_fast_free(c->req);
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

/* Closes connections idle (or not reading their answer) too long. */
static void sweep(struct cl_fworker *w, int64_t now)
{
	int64_t limit = w->f->s->http->connection_timeout_us;
	struct cl_fconn *c = w->conns, *next;

	w->last_sweep_us = now;
	if (limit <= 0)
		return;
	for (; c; c = next) {
		next = c->next;
		if ((c->state == FC_IDLE || c->state == FC_SENDING) && now - c->last_us > limit)
			conn_close(c);
	}
}

static void *loop(void *arg)
{
	struct cl_fworker *w = arg;
	struct epoll_event evs[64];

	pthread_setname_np(pthread_self(), "cl-http");
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
				if (e & (EPOLLIN | EPOLLRDHUP | EPOLLHUP | EPOLLERR)) {
					if (c->state == FC_IDLE)
						serve_input(c);
					else
						c->readable = 1;
				}
			}
		}
		if (w->queued) {
			/* one wake of each flusher for the round's requests */
			w->queued = 0;
			cl_blog_kick(w->f->s->vitals);
			if (w->f->s->fhir)
				cl_blog_kick(w->f->s->fhir);
		}
		now = cl_time_mono_us();
		if (now - w->last_sweep_us >= 1000000)
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
		if (pthread_create(&w->th, NULL, loop, w) != 0) {
			rc = cl_error_set(CL_EIO, "cannot start an HTTP thread");
			break;
		}
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

void cl_fast_quiesce(struct cl_fast *f)
{
	if (f->lfd < 0)
		return;
	for (uint32_t i = 0; f->w && i < f->nworkers; i++)
		if (f->w[i].ep > 0)
			epoll_ctl(f->w[i].ep, EPOLL_CTL_DEL, f->lfd, NULL);
	close(f->lfd);
	f->lfd = -1;
}

void cl_fast_stats(struct cl_fast *f, uint64_t *conns, uint64_t *handoffs, uint64_t *refused)
{
	*conns = (uint64_t)atomic_load(&f->nconns);
	*handoffs = atomic_load(&f->handoffs);
	*refused = atomic_load(&f->refused);
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
		while (w->conns)
			conn_close(w->conns);
		free_gone(w);
		if (w->ep > 0)
			close(w->ep);
		if (w->evfd > 0)
			close(w->evfd);
	}
	cl_free(f->w);
	cl_free(f);
}
