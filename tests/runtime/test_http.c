/*
 * The HTTP layer on raw sockets: keep-alive and pipelined ingest requests
 * on the fast path, connections handed to MHD mid-stream (another
 * endpoint behind events, a body still arriving, chunked bodies,
 * malformed heads), answers and errors on both, Connection: close, a
 * client that leaves before its answer, and the idle timeout.
 */
#include "serve_helpers.h"
#include "raw_http.h"
#include "core/cl_fs.h"
#include "core/cl_mem.h"

static const char *ev(const char *id)
{
	return test_event_fixed(id, "m1", "raw", "heart_rate", 72, "/min");
}

static void expect(struct conn *c, int code, const char *in_body)
{
	struct resp r;

	assert_int_equal(read_resp(c, &r), 1);
	if (r.code != code || !strstr(r.body, in_body))
		fail_msg("wanted %d with %s, got %d: %s%s", code, in_body, r.code, r.head, r.body);
}

static void test_keepalive_and_pipelining(void **state)
{
	struct server s;
	char data[300], two[8192];
	struct conn c = { 0 };
	struct resp r;

	(void)state;
	snprintf(data, sizeof(data), "%s/keep", dir);
	server_start(&s, bin, data, NULL);
	c.fd = dial(&s);
	/* one after the other on one connection */
	for (int i = 0; i < 3; i++) {
		char id[16];

		snprintf(id, sizeof(id), "k%d", i);
		send_req(c.fd, request(&s, "/api/v1/events", NULL, NULL, ev(id)));
		assert_int_equal(read_resp(&c, &r), 1);
		assert_int_equal(r.code, 200);
		assert_string_equal(r.body, "{\"accepted\":1,\"duplicates\":0,\"rejected\":[]}");
		assert_non_null(strstr(r.head, "Content-Type: application/json\r\n"));
		assert_non_null(strstr(r.head, "Date: "));
	}
	/* two events and a /healthz in one write: the third goes to MHD,
	 * its bytes unread, and every answer comes back in order */
	snprintf(two, sizeof(two), "%s", request(&s, "/api/v1/events", NULL, NULL, ev("p1")));
	strcat(two, request(&s, "/api/v1/events", NULL, NULL, ev("k0")));
	strcat(two, "GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n");
	send_all(c.fd, two, strlen(two));
	expect(&c, 200, "\"accepted\":1,");
	expect(&c, 200, "\"duplicates\":1,");
	expect(&c, 200, "\"status\":\"ok\"");
	/* the connection is MHD's now and still serves events */
	send_req(c.fd, request(&s, "/api/v1/events", NULL, NULL, ev("p2")));
	expect(&c, 200, "\"accepted\":1,");
	close(c.fd);
	/* five distinct events reached the serving store, each once */
	assert_int_equal(server_stop(&s), 0);
	assert_int_equal(query_long(data, "SELECT count(*) FROM vital_event WHERE patient_id = 'raw'"),
			 5);
}

static void test_handoffs_and_errors(void **state)
{
	struct server s;
	char data[300], *req;
	struct conn c = { 0 };
	struct resp r;
	size_t n;

	(void)state;
	snprintf(data, sizeof(data), "%s/errors", dir);
	server_start(&s, bin, data, NULL);

	/* a wrong token on the fast path: 401, and the connection goes on */
	c.fd = dial(&s);
	req = request(&s, "/api/v1/events", "not-the-token", NULL, ev("a1"));
	send_req(c.fd, req);
	assert_int_equal(read_resp(&c, &r), 1);
	assert_int_equal(r.code, 401);
	assert_non_null(strstr(r.body, "\"error\":\"unauthorized\""));
	assert_non_null(strstr(r.head, "WWW-Authenticate: Bearer realm=\"carelake\""));
	req = request(&s, "/api/v1/events", NULL, NULL, "{\"id\":");
	send_req(c.fd, req);
	expect(&c, 400, "\"error\":\"bad_request\"");
	req = request(&s, "/api/v1/events", NULL, NULL, ev("a1"));
	send_req(c.fd, req);
	expect(&c, 200, "\"accepted\":1,");
	close(c.fd);

	/* the head now, the body later: gathered as it comes */
	c = (struct conn){ 0 };
	c.fd = dial(&s);
	req = request(&s, "/api/v1/events", NULL, NULL, ev("a2"));
	n = strlen(req);
	send_all(c.fd, req, n - 20);
	usleep(200000);
	send_all(c.fd, req + n - 20, 20);
	expect(&c, 200, "\"accepted\":1,");
	close(c.fd);

	/* a chunked body */
	c = (struct conn){ 0 };
	c.fd = dial(&s);
	{
		char buf[4096];
		const char *body = ev("a3");

		snprintf(buf, sizeof(buf),
			 "POST /api/v1/events HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer %s\r\n"
			 "Transfer-Encoding: chunked\r\n\r\n%zx\r\n%s\r\n0\r\n\r\n",
			 s.token, strlen(body), body);
		send_all(c.fd, buf, strlen(buf));
	}
	expect(&c, 200, "\"accepted\":1,");
	close(c.fd);

	/* a head line without a colon: 400 from carelake's loops (a malformed
	 * head never reaches libmicrohttpd) */
	one_shot(&s, request(&s, "/api/v1/events", NULL, "Broken header line\r\n", ev("a4")), 400,
		 NULL);

	/* Connection: close is answered, then the server closes */
	c = (struct conn){ 0 };
	c.fd = dial(&s);
	req = request(&s, "/api/v1/events", NULL, "Connection: close\r\n", ev("a5"));
	send_req(c.fd, req);
	assert_int_equal(read_resp(&c, &r), 1);
	assert_int_equal(r.code, 200);
	assert_non_null(strstr(r.head, "Connection: close\r\n"));
	assert_int_equal(fill(&c, 5000), 0);
	close(c.fd);

	/* a FHIR Observation on the fast path: 201 and where it is */
	c = (struct conn){ 0 };
	c.fd = dial(&s);
	req = request(&s, "/fhir/Observation", NULL, NULL,
		      "{\"resourceType\":\"Observation\",\"id\":\"hr-raw\",\"status\":\"final\","
		      "\"code\":{\"coding\":[{\"system\":\"http://loinc.org\",\"code\":\"8867-4\"}]},"
		      "\"subject\":{\"reference\":\"Patient/raw\"},"
		      "\"effectiveDateTime\":\"2026-11-20T10:00:00Z\","
		      "\"valueQuantity\":{\"value\":80,\"unit\":\"/min\"}}");
	send_req(c.fd, req);
	assert_int_equal(read_resp(&c, &r), 1);
	assert_int_equal(r.code, 201);
	assert_non_null(strstr(r.head, "Location: Observation/hr-raw\r\n"));
	assert_non_null(strstr(r.head, "Content-Type: application/fhir+json\r\n"));
	assert_non_null(strstr(r.body, "\"id\":\"hr-raw\""));
	close(c.fd);

	/* a client that leaves before its answer: its event is kept */
	c = (struct conn){ 0 };
	c.fd = dial(&s);
	req = request(&s, "/api/v1/events", NULL, NULL, ev("a6"));
	send_req(c.fd, req);
	close(c.fd);
	usleep(200000);
	c = (struct conn){ 0 };
	c.fd = dial(&s);
	req = request(&s, "/api/v1/events", NULL, NULL, ev("a6"));
	send_req(c.fd, req);
	expect(&c, 200, "\"duplicates\":1,");
	close(c.fd);

	/* everything accepted above is stored, once */
	{
		struct reply q = http(&s, "GET", "/metrics", NULL, NULL, 0);

		assert_non_null(strstr(q.body, "carelake_events_accepted_total 5\n"));
		assert_non_null(strstr(q.body, "carelake_http_responses_total{code=\"401\"} 1\n"));
		/* only this GET went to MHD: carelake's loops read the split
		 * body and the chunked one themselves, and refused the broken
		 * head before anything else saw it */
		{
			const char *h = strstr(q.body, "\ncarelake_http_handoffs_total ");

			assert_non_null(h);
			assert_int_equal(atol(h + 30), 1);
		}
		free(q.body);
	}
	assert_int_equal(server_stop(&s), 0);
}

static void test_idle_timeout(void **state)
{
	struct server s;
	char data[300], *req;
	const char *extra[] = { "--set", "http.connection_timeout=1s", NULL };
	struct conn c = { 0 };
	int64_t t0;

	(void)state;
	snprintf(data, sizeof(data), "%s/idle", dir);
	server_start(&s, bin, data, extra);
	c.fd = dial(&s);
	req = request(&s, "/api/v1/events", NULL, NULL, ev("i1"));
	send_req(c.fd, req);
	expect(&c, 200, "\"accepted\":1,");
	/* then silence: the server closes within a few seconds */
	t0 = cl_time_mono_us();
	while (fill(&c, 500) != 0)
		assert_true(cl_time_mono_us() - t0 < 6000000);
	assert_true(cl_time_mono_us() - t0 >= 900000);
	close(c.fd);
	assert_int_equal(server_stop(&s), 0);
}

/* Over http.max_connections a new connection is closed at once, counted,
 * and said once in the log; those open go on being served. */
static void test_connection_limit(void **state)
{
	struct server s;
	char data[300], *req, *log;
	size_t len;
	const char *extra[] = { "--set", "http.max_connections=2", NULL };
	struct conn a = { 0 }, b = { 0 }, c = { 0 };

	(void)state;
	snprintf(data, sizeof(data), "%s/limit", dir);
	server_start(&s, bin, data, extra);
	a.fd = dial(&s);
	b.fd = dial(&s);
	req = request(&s, "/api/v1/events", NULL, NULL, ev("l1"));
	send_req(a.fd, req);
	expect(&a, 200, "\"accepted\":1,");
	req = request(&s, "/api/v1/events", NULL, NULL, ev("l2"));
	send_req(b.fd, req);
	expect(&b, 200, "\"accepted\":1,");
	for (int i = 0; i < 3; i++) {
		c = (struct conn){ 0 };
		c.fd = dial(&s);
		assert_int_equal(fill(&c, 3000), 0); /* closed, nothing said */
		close(c.fd);
	}
	req = request(&s, "/api/v1/events", NULL, NULL, ev("l3"));
	send_req(a.fd, req);
	expect(&a, 200, "\"accepted\":1,");
	close(b.fd);
	usleep(200000);
	{
		struct reply q = http(&s, "GET", "/metrics", NULL, NULL, 0);

		assert_int_equal(q.code, 200);
		assert_non_null(strstr(q.body, "\ncarelake_http_connections_refused_total 3\n"));
		free(q.body);
	}
	close(a.fd);
	assert_int_equal(server_stop(&s), 0);
	assert_int_equal(cl_fs_read_file(s.out_path, 1 << 20, &log, &len), 0);
	assert_non_null(strstr(log, "event=connections_refused limit=2 refused=1 "));
	assert_null(strstr(log, "refused=2"));
	cl_free(log);
}

static const struct CMUnitTest tests[] = {
	cmocka_unit_test(test_keepalive_and_pipelining),
	cmocka_unit_test(test_handoffs_and_errors),
	cmocka_unit_test(test_idle_timeout),
	cmocka_unit_test(test_connection_limit),
};

SERVE_TEST_MAIN(tests)
