/*
 * The HTTP API tried as an attacker and a careless client would, with no
 * token: floods of idle connections and of connections that send a byte
 * and leave, heads too large or ambiguous, bodies too large (chunked
 * too), bodies of the wrong type. Throughout, a well-behaved client (from
 * 127.0.0.1; the attackers dial from other loopback addresses) must get
 * /healthz, the alerts and its device posts answered, and the server must
 * stop on SIGTERM afterwards.
 */
#include "raw_http.h"
#include "core/cl_time.h"

#include <sys/resource.h>

static const char *ev(const char *id)
{
	return test_event(id, "m1", "abuse", "heart_rate", 72, "/min");
}

/* The well-behaved client: health, alerts (libmicrohttpd's side) and a
 * device post (carelake's loops) are all answered. */
static void still_served(struct server *s, const char *id)
{
	struct reply r = http(s, "GET", "/healthz", NULL, NULL, 0);

	assert_int_equal(r.code, 200);
	free(r.body);
	r = http(s, "GET", "/api/v1/alerts", s->token, NULL, 0);
	assert_int_equal(r.code, 200);
	free(r.body);
	r = post(s, ev(id));
	assert_int_equal(r.code, 200);
	assert_non_null(strstr(r.body, "\"accepted\":1"));
	free(r.body);
}

static void raise_fd_limit(void)
{
	struct rlimit rl;

	getrlimit(RLIMIT_NOFILE, &rl);
	rl.rlim_cur = rl.rlim_max;
	setrlimit(RLIMIT_NOFILE, &rl);
}

/* 2,000 connections that send nothing, from one address and then from
 * many: the one address gets its share (http.max_connections_per_client),
 * and at http.max_connections new clients take the place of the silent. */
static void test_idle_flood(void **state)
{
	struct server s;
	char data[300], from[32];
	static int fds[2000];
	int n = 0, refused = 0;

	(void)state;
	raise_fd_limit();
	snprintf(data, sizeof(data), "%s/idle", dir);
	server_start(&s, bin, data, NULL);
	for (int i = 0; i < 2000; i++) {
		int fd = dial_from(&s, "127.0.0.2");

		if (fd >= 0)
			fds[n++] = fd;
	}
	still_served(&s, "i1");
	assert_true(metric(&s, "carelake_http_connections_refused_total") >= 2000 - 128);
	for (int i = 0; i < n; i++)
		close(fds[i]);
	/* from twenty addresses, a hundred each: more than max_connections */
	n = 0;
	for (int a = 0; a < 20; a++)
		for (int i = 0; i < 100; i++) {
			int fd;

			snprintf(from, sizeof(from), "127.0.1.%d", a + 1);
			fd = dial_from(&s, from);
			if (fd >= 0)
				fds[n++] = fd;
			else
				refused++;
		}
	still_served(&s, "i2");
	assert_true(metric(&s, "carelake_http_connections_evicted_total") > 0);
	for (int i = 0; i < n; i++)
		close(fds[i]);
	(void)refused;
	assert_int_equal(server_stop(&s), 0);
}

/* Rounds of 1,100 connections that each send one byte and close: none
 * reaches libmicrohttpd, everything stays answered, SIGTERM stops it. */
static void test_one_byte_flood(void **state)
{
	struct server s;
	char data[300], from[32];
	static int fds[1100];

	(void)state;
	raise_fd_limit();
	snprintf(data, sizeof(data), "%s/onebyte", dir);
	server_start(&s, bin, data, NULL);
	for (int round = 0; round < 4; round++) {
		int n = 0;

		for (int i = 0; i < 1100; i++) {
			int fd;

			snprintf(from, sizeof(from), "127.0.2.%d", i / 100 + 1);
			fd = dial_from(&s, from);
			if (fd < 0)
				continue;
			(void)!send(fd, "P", 1, MSG_NOSIGNAL);
			fds[n++] = fd;
		}
		for (int i = 0; i < n; i++)
			close(fds[i]);
		usleep(100000);
		still_served(&s, round == 0 ? "o0" : round == 1 ? "o1" : round == 2 ? "o2" : "o3");
	}
	assert_int_equal(metric(&s, "carelake_http_handoffs_total"), 4 * 2 + 1);
	assert_int_equal(server_stop(&s), 0);
}

/* A head still incomplete after http.header_timeout is closed. */
static void test_slow_head(void **state)
{
	struct server s;
	char data[300];
	const char *extra[] = { "--set", "http.header_timeout=1s", NULL };
	struct conn c = { 0 };
	int64_t t0;

	(void)state;
	snprintf(data, sizeof(data), "%s/slow", dir);
	server_start(&s, bin, data, extra);
	c.fd = dial_from(&s, "127.0.0.3");
	send_req(c.fd, "POST /api/v1/events HTTP/1.1\r\nHost: x\r\n");
	t0 = cl_time_mono_us();
	while (fill(&c, 500) != 0)
		assert_true(cl_time_mono_us() - t0 < 6000000);
	assert_true(cl_time_mono_us() - t0 >= 900000);
	close(c.fd);
	still_served(&s, "s1");
	assert_true(metric(&s, "carelake_http_timeouts_total") >= 1);
	assert_int_equal(server_stop(&s), 0);
}

/* Heads and bodies refused with the status that says why. */
static void test_refused_heads_and_bodies(void **state)
{
	struct server s;
	char data[300], head[20100];
	const char *extra[] = { "--set", "http.max_body_bytes=1MiB", NULL };
	struct conn c = { 0 };
	struct resp r;

	(void)state;
	snprintf(data, sizeof(data), "%s/refused", dir);
	server_start(&s, bin, data, extra);

	/* a head near 20 KB: 431, and the answer arrives before the close */
	memset(head, 'a', sizeof(head));
	memcpy(head, "GET /healthz HTTP/1.1\r\nX-Big: ", 30);
	memcpy(head + sizeof(head) - 5, "\r\n\r\n", 5);
	one_shot(&s, head, 431, "http.max_header_bytes");

	/* two Content-Lengths that disagree: 400 (request smuggling) */
	one_shot(&s, request(&s, "/api/v1/events", NULL, "Content-Length: 3\r\n", ev("r1")), 400,
		 "Content-Length");

	/* the same behind a first request that libmicrohttpd took: 400 too */
	c = (struct conn){ 0 };
	c.fd = dial(&s);
	{
		char two[8400];

		snprintf(two, sizeof(two), "GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n%s",
			 request(&s, "/api/v1/events", NULL, "Content-Length: 3\r\n", ev("r1")));
		send_req(c.fd, two);
	}
	assert_int_equal(read_resp(&c, &r), 1);
	assert_int_equal(r.code, 200);
	assert_int_equal(read_resp(&c, &r), 1);
	assert_int_equal(r.code, 400);
	assert_non_null(strstr(r.body, "Content-Length"));
	close(c.fd);

	/* a Content-Length beside chunking: 400 */
	one_shot(&s, request(&s, "/api/v1/events", NULL, "Transfer-Encoding: chunked\r\n", ev("r2")),
		 400, "Transfer-Encoding");

	/* a body of another type: 415, naming the types taken */
	c = (struct conn){ 0 };
	c.fd = dial(&s);
	{
		char buf[1024];

		snprintf(buf, sizeof(buf), "POST /api/v1/events HTTP/1.1\r\nHost: x\r\n"
			 "Authorization: Bearer %s\r\nContent-Type: text/csv\r\nContent-Length: 3\r\n"
			 "\r\na,b", s.token);
		send_req(c.fd, buf);
	}
	assert_int_equal(read_resp(&c, &r), 1);
	assert_int_equal(r.code, 415);
	assert_non_null(strstr(r.body, "application/json"));
	/* the connection goes on */
	send_req(c.fd, request(&s, "/api/v1/events", NULL, NULL, ev("r3")));
	assert_int_equal(read_resp(&c, &r), 1);
	assert_int_equal(r.code, 200);
	close(c.fd);

	/* a chunked body of 20 MiB against a limit of 1 MiB: 413 while it is
	 * still being sent, and nothing of it stored */
	c = (struct conn){ 0 };
	c.fd = dial(&s);
	{
		char buf[1024];
		static char chunk[65536 + 16];
		int n = snprintf(chunk, sizeof(chunk), "%x\r\n", 65536);
		int got = 0;

		memset(chunk + n, 'x', 65536);
		memcpy(chunk + n + 65536, "\r\n", 2);
		snprintf(buf, sizeof(buf), "POST /api/v1/events HTTP/1.1\r\nHost: x\r\n"
			 "Authorization: Bearer %s\r\nContent-Type: application/json\r\n"
			 "Transfer-Encoding: chunked\r\n\r\n", s.token);
		send_req(c.fd, buf);
		for (int i = 0; i < 320 && !got; i++) {
			if (send(c.fd, chunk, (size_t)n + 65538, MSG_NOSIGNAL) <= 0)
				break;
			got = fill(&c, 0) > 0;
		}
		assert_int_equal(read_resp(&c, &r), 1);
		assert_int_equal(r.code, 413);
		assert_non_null(strstr(r.body, "http.max_body_bytes"));
	}
	close(c.fd);

	/* a chunked body within the limit is taken */
	c = (struct conn){ 0 };
	c.fd = dial(&s);
	{
		char buf[4096];
		const char *body = ev("r4");

		snprintf(buf, sizeof(buf), "POST /api/v1/events HTTP/1.1\r\nHost: x\r\n"
			 "Authorization: Bearer %s\r\nContent-Type: application/json\r\n"
			 "Transfer-Encoding: chunked\r\n\r\n5;ext=1\r\n%.5s\r\n%zx\r\n%s\r\n0\r\n"
			 "X-Trailer: t\r\n\r\n", s.token, body, strlen(body) - 5, body + 5);
		send_req(c.fd, buf);
	}
	assert_int_equal(read_resp(&c, &r), 1);
	assert_int_equal(r.code, 200);
	assert_non_null(strstr(r.body, "\"accepted\":1"));
	close(c.fd);
	still_served(&s, "r5");
	assert_int_equal(server_stop(&s), 0);
}

static const struct CMUnitTest tests[] = {
	cmocka_unit_test(test_idle_flood),
	cmocka_unit_test(test_one_byte_flood),
	cmocka_unit_test(test_slow_head),
	cmocka_unit_test(test_refused_heads_and_bodies),
};

SERVE_TEST_MAIN(tests)
