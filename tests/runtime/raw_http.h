/*
 * HTTP on raw sockets, for the runtime tests that must say exactly what
 * goes over the wire (keep-alive, pipelining, malformed heads, floods):
 * dialling from a chosen loopback address, sending, and reading replies
 * framed by Content-Length.
 */
#ifndef RAW_HTTP_H
#define RAW_HTTP_H

#include "serve_helpers.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>

/* A connection to the server from `from` (NULL: 127.0.0.1; another
 * loopback address stands for another client); -1 if refused. */
static inline int dial_from(const struct server *s, const char *from)
{
	struct sockaddr_in sa = { .sin_family = AF_INET, .sin_port = htons((uint16_t)s->port) };
	int fd = socket(AF_INET, SOCK_STREAM, 0);

	assert_true(fd >= 0);
	if (from) {
		struct sockaddr_in me = { .sin_family = AF_INET };

		inet_pton(AF_INET, from, &me.sin_addr);
		assert_int_equal(bind(fd, (struct sockaddr *)&me, sizeof(me)), 0);
	}
	inet_pton(AF_INET, "127.0.0.1", &sa.sin_addr);
	if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) != 0) {
		close(fd);
		return -1;
	}
	return fd;
}

static inline int dial(const struct server *s)
{
	int fd = dial_from(s, NULL);

	assert_true(fd >= 0);
	return fd;
}

static inline void send_all(int fd, const char *p, size_t n)
{
	while (n) {
		ssize_t w = send(fd, p, n, MSG_NOSIGNAL);

		assert_true(w > 0);
		p += w;
		n -= (size_t)w;
	}
}

static inline void send_req(int fd, const char *req)
{
	send_all(fd, req, strlen(req));
}

/* One response: status, the whole head, the body. */
struct resp {
	int code;
	char head[2048];
	char body[4096];
};

/* Bytes already read past the last response, per connection. */
struct conn {
	int fd;
	char buf[16384];
	size_t len;
};

static inline int fill(struct conn *c, int ms)
{
	struct pollfd p = { c->fd, POLLIN, 0 };
	ssize_t n;

	if (poll(&p, 1, ms) != 1)
		return -1;
	n = recv(c->fd, c->buf + c->len, sizeof(c->buf) - c->len, 0);
	if (n <= 0)
		return 0;
	c->len += (size_t)n;
	return 1;
}

/* Reads one response (Content-Length framed); 0 when the server closed
 * first, -1 on a timeout. */
static inline int read_resp(struct conn *c, struct resp *r)
{
	for (;;) {
		char *end = memmem(c->buf, c->len, "\r\n\r\n", 4);

		if (end) {
			size_t head = (size_t)(end - c->buf) + 4, blen = 0;
			char *cl;

			assert_true(head < sizeof(r->head));
			memcpy(r->head, c->buf, head);
			r->head[head] = '\0';
			cl = strcasestr(r->head, "\r\nContent-Length:");
			assert_non_null(cl);
			blen = (size_t)atol(cl + 17);
			assert_true(blen < sizeof(r->body));
			while (c->len < head + blen) {
				int f = fill(c, 5000);

				if (f <= 0)
					return f;
			}
			memcpy(r->body, c->buf + head, blen);
			r->body[blen] = '\0';
			r->code = atoi(r->head + 9);
			memmove(c->buf, c->buf + head + blen, c->len - head - blen);
			c->len -= head + blen;
			return 1;
		}
		int f = fill(c, 5000);

		if (f <= 0)
			return f;
	}
}

static inline char *request(const struct server *s, const char *path, const char *token,
		     const char *extra, const char *body)
{
	static char buf[8192];

	snprintf(buf, sizeof(buf),
		 "POST %s HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer %s\r\n"
		 "Content-Type: application/json\r\n%sContent-Length: %zu\r\n\r\n%s",
		 path, token ? token : s->token, extra ? extra : "", strlen(body), body);
	return buf;
}

/* Sends req on a new connection, reads one reply, checks its status and
 * that its body holds in_body (NULL: anything), and closes. */
static inline void one_shot(const struct server *s, const char *req, int code,
			    const char *in_body)
{
	struct conn c = { 0 };
	struct resp r;

	c.fd = dial(s);
	send_req(c.fd, req);
	assert_int_equal(read_resp(&c, &r), 1);
	if (r.code != code || (in_body && !strstr(r.body, in_body)))
		fail_msg("wanted %d with %s, got %d: %s%s", code, in_body ? in_body : "anything",
			 r.code, r.head, r.body);
	close(c.fd);
}

#endif
