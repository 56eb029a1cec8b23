/*
 * The request-head parser and the chunked-body decoder of carelake's own
 * HTTP loops, against known inputs and what they must give: plain heads,
 * heads that go to libmicrohttpd, and the hostile ones (smuggling, NUL
 * bytes, bare CRs, folding, heads too large, malformed chunking).
 */
#include "cl_test.h"
#include "serve/cl_http_head.h"

static int parse(const char *text, size_t max, struct cl_http_head *q)
{
	return cl_http_head_parse(text, strlen(text), max, q);
}

static void test_plain_post(void **state)
{
	const char *req = "POST /api/v1/events HTTP/1.1\r\nHost: x\r\n"
			  "Authorization: Bearer clk_abc\r\nContent-Type: application/json; charset=utf-8\r\n"
			  "Content-Length: 2\r\n\r\n{}GET / HTTP/1.1\r\n";
	struct cl_http_head q;

	(void)state;
	assert_int_equal(parse(req, 16384, &q), CL_HEAD_OK);
	assert_int_equal(q.method_len, 4);
	assert_memory_equal(q.method, "POST", 4);
	assert_int_equal(q.path_len, 14);
	assert_memory_equal(q.path, "/api/v1/events", 14);
	assert_true(q.http11 && q.has_length && !q.chunked && !q.close && !q.has_query);
	assert_int_equal(q.content_length, 2);
	assert_string_equal(q.auth, "Bearer clk_abc");
	assert_string_equal(q.ctype, "application/json; charset=utf-8");
	assert_int_equal(q.head_len, strstr(req, "{}") - req);
	assert_true(cl_http_head_ours(&q));
}

static void test_not_ours_but_fine(void **state)
{
	struct cl_http_head q;

	(void)state;
	/* a GET with a query: libmicrohttpd's */
	assert_int_equal(parse("GET /api/v1/alerts?open=true HTTP/1.1\r\nHost: x\r\n\r\n", 16384, &q),
			 CL_HEAD_OK);
	assert_true(q.has_query);
	assert_int_equal(q.path_len, 14);
	assert_false(cl_http_head_ours(&q));
	/* HTTP/1.0 closes unless it asks to be kept */
	assert_int_equal(parse("POST /fhir HTTP/1.0\r\nContent-Length: 0\r\n\r\n", 16384, &q), CL_HEAD_OK);
	assert_true(q.close && !q.http11);
	assert_false(cl_http_head_ours(&q));
	assert_int_equal(parse("POST /fhir HTTP/1.0\r\nConnection: keep-alive\r\nContent-Length: 0\r\n\r\n",
			       16384, &q), CL_HEAD_OK);
	assert_false(q.close);
	/* chunked and 100-continue are ours; an Upgrade, another coding or
	 * another Expect are not */
	assert_int_equal(parse("POST /fhir HTTP/1.1\r\nTransfer-Encoding: chunked\r\nExpect: 100-continue\r\n\r\n",
			       16384, &q), CL_HEAD_OK);
	assert_true(q.chunked && q.expect_continue && cl_http_head_ours(&q));
	assert_int_equal(parse("POST /fhir HTTP/1.1\r\nTransfer-Encoding: gzip, chunked\r\n\r\n", 16384, &q),
			 CL_HEAD_OK);
	assert_true(q.unusual && !cl_http_head_ours(&q));
	assert_int_equal(parse("POST /fhir HTTP/1.1\r\nUpgrade: h2c\r\nContent-Length: 0\r\n\r\n", 16384, &q),
			 CL_HEAD_OK);
	assert_false(cl_http_head_ours(&q));
	/* a bare LF ends lines (tolerated, not ours) */
	assert_int_equal(parse("POST /fhir HTTP/1.1\nContent-Length: 0\n\n", 16384, &q), CL_HEAD_OK);
	assert_true(q.unusual);
	/* Connection: close among other tokens */
	assert_int_equal(parse("POST /x HTTP/1.1\r\nconnection: Upgrade, Close\r\nContent-Length: 0\r\n\r\n",
			       16384, &q), CL_HEAD_OK);
	assert_true(q.close);
	/* two equal Content-Lengths are one */
	assert_int_equal(parse("POST /x HTTP/1.1\r\nContent-Length: 4\r\nContent-Length: 4\r\n\r\n", 16384, &q),
			 CL_HEAD_OK);
	assert_int_equal(q.content_length, 4);
}

static void test_partial_and_too_large(void **state)
{
	char big[300];
	struct cl_http_head q;

	(void)state;
	assert_int_equal(parse("POST /api/v1/events HTTP/1.1\r\nHost: x\r\n", 16384, &q),
			 CL_HEAD_PARTIAL);
	assert_int_equal(parse("", 16384, &q), CL_HEAD_PARTIAL);
	/* no end within the limit */
	memset(big, 'a', sizeof(big) - 1);
	big[sizeof(big) - 1] = '\0';
	assert_int_equal(parse(big, 200, &q), CL_HEAD_TOO_LARGE);
	/* an end past the limit */
	snprintf(big, sizeof(big), "GET / HTTP/1.1\r\nX: %0200d\r\n\r\n", 0);
	assert_int_equal(parse(big, 100, &q), CL_HEAD_TOO_LARGE);
	assert_int_equal(parse(big, 16384, &q), CL_HEAD_OK);
}

static void test_hostile(void **state)
{
	static const struct {
		const char *head;
		const char *why;
	} cases[] = {
		{ "POST /x HTTP/1.1\r\nContent-Length: 3\r\nContent-Length: 4\r\n\r\n", "disagree" },
		{ "POST /x HTTP/1.1\r\nContent-Length: 3\r\nTransfer-Encoding: chunked\r\n\r\n",
		  "beside Transfer-Encoding" },
		{ "POST /x HTTP/1.1\r\nTransfer-Encoding: chunked\r\nContent-Length: 3\r\n\r\n",
		  "beside Transfer-Encoding" },
		{ "POST /x HTTP/1.1\r\nTransfer-Encoding: identity\r\nContent-Length: 3\r\n\r\n",
		  "beside Transfer-Encoding" },
		{ "POST /x HTTP/1.1\r\nContent-Length: -1\r\n\r\n", "not a number" },
		{ "POST /x HTTP/1.1\r\nContent-Length: 1e3\r\n\r\n", "not a number" },
		{ "POST /x HTTP/1.1\r\nContent-Length: 9999999999999999999\r\n\r\n", "not a number" },
		{ "POST /x HTTP/1.1\r\nContent-Length:\r\n\r\n", "not a number" },
		{ "POST /x HTTP/1.1\r\n Folded: yes\r\n\r\n", "folded" },
		{ "POST /x HTTP/1.1\r\nNo colon here\r\n\r\n", "no name" },
		{ "POST /x HTTP/1.1\r\n: empty name\r\n\r\n", "no name" },
		{ "POST /x HTTP/1.1\r\nBad Name: x\r\n\r\n", "space or a separator" },
		{ "POST /x HTTP/1.1\r\nX: a\rb\r\n\r\n", "bare CR" },
		{ "POST /x HTTP/1.1\r\nAuthorization: a\r\nAuthorization: b\r\n\r\n", "two Authorization" },
		{ "POST /x HTTP/2.0\r\n\r\n", "HTTP/1.0 and HTTP/1.1" },
		{ "POST  /x HTTP/1.1\r\n\r\n", "METHOD TARGET" },
		{ "POST\r\n\r\n", "METHOD TARGET" },
		{ "PO(ST /x HTTP/1.1\r\n\r\n", "not a token" },
		{ "POST ?fhir HTTP/1.1\r\n\r\n", "no path" },
	};
	struct cl_http_head q;

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		if (parse(cases[i].head, 16384, &q) != CL_HEAD_BAD)
			fail_msg("case %zu was not refused: %s", i, cases[i].head);
		if (!strstr(q.error, cases[i].why))
			fail_msg("case %zu: '%s' does not say '%s'", i, q.error, cases[i].why);
	}
	/* a NUL byte inside the head */
	{
		static const char nul[] = "POST /x HTTP/1.1\r\nX: a\0b\r\n\r\n";

		assert_int_equal(cl_http_head_parse(nul, sizeof(nul) - 1, 16384, &q), CL_HEAD_BAD);
		assert_non_null(strstr(q.error, "NUL"));
	}
}

/* Decodes text whole; fed in pieces of every size, the decoder must give
 * the same result, data and end. */
static int decode(const char *text, char *out, size_t cap, size_t *out_len, size_t *used)
{
	struct cl_http_chunked c = { 0 };
	size_t n = strlen(text);
	int rc;

	*out_len = 0;
	rc = cl_http_chunked_decode(&c, text, n, out, cap, out_len, used);
	for (size_t step = 1; step < n; step++) {
		struct cl_http_chunked p = { 0 };
		char buf[256];
		size_t got = 0, at = 0;
		int prc = CL_HEAD_PARTIAL;

		while (at < n && prc == CL_HEAD_PARTIAL) {
			size_t u = 0;

			prc = cl_http_chunked_decode(&p, text + at, n - at < step ? n - at : step, buf,
						     cap < sizeof(buf) ? cap : sizeof(buf), &got, &u);
			at += u;
		}
		assert_int_equal(prc, rc);
		if (rc == CL_HEAD_OK) {
			assert_int_equal(at, *used);
			assert_int_equal(got, *out_len);
			assert_memory_equal(buf, out, got);
		}
	}
	return rc;
}

static void test_chunked(void **state)
{
	char out[256];
	size_t n, used;

	(void)state;
	assert_int_equal(decode("5\r\nhello\r\n6;name=val\r\n world\r\n0\r\n\r\nNEXT", out, sizeof(out), &n,
				&used), CL_HEAD_OK);
	assert_int_equal(n, 11);
	assert_memory_equal(out, "hello world", 11);
	assert_int_equal(used, strlen("5\r\nhello\r\n6;name=val\r\n world\r\n0\r\n\r\n"));
	/* upper-case hex, trailers */
	assert_int_equal(decode("A\r\n0123456789\r\n0\r\nX-Sum: 1\r\nY: 2\r\n\r\n", out, sizeof(out), &n,
				&used), CL_HEAD_OK);
	assert_int_equal(n, 10);
	/* not yet ended */
	assert_int_equal(decode("5\r\nhel", out, sizeof(out), &n, &used), CL_HEAD_PARTIAL);
	assert_int_equal(n, 3);
	assert_int_equal(decode("0\r\n", out, sizeof(out), &n, &used), CL_HEAD_PARTIAL);
	/* over the capacity */
	assert_int_equal(decode("10\r\n0123456789abcdef\r\n0\r\n\r\n", out, 8, &n, &used),
			 CL_HEAD_TOO_LARGE);
	/* malformed */
	assert_int_equal(decode("g\r\n", out, sizeof(out), &n, &used), CL_HEAD_BAD);
	assert_int_equal(decode("\r\n", out, sizeof(out), &n, &used), CL_HEAD_BAD);
	assert_int_equal(decode("5\nhello\r\n0\r\n\r\n", out, sizeof(out), &n, &used), CL_HEAD_BAD);
	assert_int_equal(decode("5\r\nhelloX\r\n", out, sizeof(out), &n, &used), CL_HEAD_BAD);
	assert_int_equal(decode("1234567890123456\r\n", out, sizeof(out), &n, &used), CL_HEAD_BAD);
	assert_int_equal(decode("-5\r\n", out, sizeof(out), &n, &used), CL_HEAD_BAD);
	assert_int_equal(decode("0\r\nX\n\r\n", out, sizeof(out), &n, &used), CL_HEAD_BAD);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_plain_post),
		cmocka_unit_test(test_not_ours_but_fine),
		cmocka_unit_test(test_partial_and_too_large),
		cmocka_unit_test(test_hostile),
		cmocka_unit_test(test_chunked),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
