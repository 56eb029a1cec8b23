/*
 * Fuzz target: the request-head parser of carelake's own loops and their
 * chunked-body decoder, fed what a client could put in a socket. A head
 * it takes must lie inside the input and within the limit: ending in a
 * blank line, the method and path inside the request line, the
 * Authorization and Content-Type values NUL-ended within their buffers.
 * The chunked decoder, fed the rest in pieces of any size, must give the
 * same data and the same end as fed whole, never more data than input,
 * and never write past its capacity. The Cookie header's reader (the
 * dashboards' session id) must give an id of at most CL_SESSION_ID_HEX
 * characters that stands in the header after the cookie's name.
 */
#include "fuzz_entry.h"
#include "serve/cl_http_head.h"
#include "serve/cl_session.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

static void check_head(const char *b, size_t size, size_t max)
{
	struct cl_http_head q;
	int rc = cl_http_head_parse(b, size, max, &q);

	if (rc == CL_HEAD_BAD && !q.error)
		abort();
	if (rc != CL_HEAD_OK)
		return;
	if (q.head_len > size || q.head_len > max || b[q.head_len - 1] != '\n' ||
	    q.method != b || q.method_len == 0 || q.path <= b || q.path_len == 0 ||
	    q.path + q.path_len > b + q.head_len || memchr(q.path, ' ', q.path_len) ||
	    (q.has_auth && strnlen(q.auth, sizeof(q.auth)) == sizeof(q.auth)) ||
	    (q.has_ctype && strnlen(q.ctype, sizeof(q.ctype)) == sizeof(q.ctype)) ||
	    (q.chunked && q.has_length))
		abort();
}

static void check_chunked(const char *b, size_t size)
{
	enum { CAP = 4096 };
	struct cl_http_chunked whole = { 0 }, parts = { 0 };
	char *o1 = malloc(CAP), *o2 = malloc(CAP);
	size_t n1 = 0, n2 = 0, used1 = 0, used2 = 0, step = size ? (size_t)(b[0] & 7) + 1 : 1;
	int rc1, rc2 = CL_HEAD_PARTIAL;

	if (!o1 || !o2)
		goto out;
	rc1 = cl_http_chunked_decode(&whole, b, size, o1, CAP, &n1, &used1);
	if (used1 > size || n1 > used1 || n1 > CAP)
		abort();
	/* the same input in pieces of `step` bytes */
	while (used2 < size && rc2 == CL_HEAD_PARTIAL) {
		size_t piece = size - used2 < step ? size - used2 : step, u = 0;

		rc2 = cl_http_chunked_decode(&parts, b + used2, piece, o2, CAP, &n2, &u);
		used2 += u;
		if (rc2 == CL_HEAD_PARTIAL && u != piece)
			abort(); /* a partial result consumes all it is given */
	}
	if (rc1 != rc2 || (rc1 == CL_HEAD_OK && (used1 != used2 || n1 != n2 ||
						 memcmp(o1, o2, n1) != 0)))
		abort();
out:
	free(o1);
	free(o2);
}

static void check_cookie(const char *b, size_t size)
{
	char *h = malloc(size + 1), id[CL_SESSION_ID_HEX + 2];
	const char *at;

	if (!h)
		return;
	memcpy(h, b, size);
	h[size] = '\0';
	id[CL_SESSION_ID_HEX + 1] = 'x'; /* past the id's room: never written */
	if (cl_session_cookie(h, id)) {
		at = strstr(h, CL_SESSION_COOKIE "=");
		if (!at || strlen(id) > CL_SESSION_ID_HEX || (id[0] && !strstr(h, id)))
			abort();
	}
	if (id[CL_SESSION_ID_HEX + 1] != 'x')
		abort();
	free(h);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	/* a copy exactly the input's size, so ASan sees any overread */
	char *b = malloc(size ? size : 1);

	if (!b)
		return 0;
	memcpy(b, data, size);
	check_head(b, size, 16384);
	check_head(b, size, 64);
	check_chunked(b, size);
	check_cookie(b, size);
	free(b);
	return 0;
}
