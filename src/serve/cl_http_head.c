/*
 * The fast path's request-head parser. See cl_http_head.h.
 */
#include "cl_http_head.h"

#include <string.h>
#include <strings.h>

static int token_in(const char *v, size_t n, const char *tok)
{
	size_t t = strlen(tok);

	for (size_t i = 0; i + t <= n; i++)
		if ((i == 0 || v[i - 1] == ',' || v[i - 1] == ' ') && strncasecmp(v + i, tok, t) == 0 &&
		    (i + t == n || v[i + t] == ',' || v[i + t] == ' '))
			return 1;
	return 0;
}

/* Whether the header name p[0..n) is name, in any case. */
static int named(const char *p, size_t n, const char *name)
{
	return n == strlen(name) && strncasecmp(p, name, n) == 0;
}

int cl_http_head_parse(const char *b, size_t n, uint64_t max_body, struct cl_http_head *q)
{
	const char *end = memmem(b, n, "\r\n\r\n", 4), *p, *eol, *sp;
	int have_len = 0;
	uint64_t clen = 0;

	if (!end)
		return -1;
	memset(q, 0, sizeof(*q));
	q->head_len = (size_t)(end - b) + 4;
	for (size_t i = 0; i < q->head_len; i++)
		if (b[i] == '\0' || (b[i] == '\n' && (i == 0 || b[i - 1] != '\r')) ||
		    (b[i] == '\r' && b[i + 1] != '\n'))
			return -1;
	/* the request line: POST <path> HTTP/1.1 */
	eol = memchr(b, '\r', q->head_len);
	if (eol - b < 15 || memcmp(b, "POST ", 5) != 0)
		return -1;
	q->path = b + 5;
	sp = memchr(q->path, ' ', (size_t)(eol - q->path));
	if (!sp || eol - sp != 9 || memcmp(sp, " HTTP/1.1", 9) != 0)
		return -1;
	q->path_len = (size_t)(sp - q->path);
	/* header fields */
	for (p = eol + 2; p < end + 2; p = eol + 2) {
		const char *colon, *v, *ve;
		size_t nl;

		eol = memchr(p, '\r', (size_t)(end + 2 - p));
		if (!eol || eol == p)
			break;
		if (*p == ' ' || *p == '\t')
			return -1; /* folded */
		colon = memchr(p, ':', (size_t)(eol - p));
		if (!colon || colon == p)
			return -1;
		nl = (size_t)(colon - p);
		for (size_t i = 0; i < nl; i++)
			if (p[i] == ' ' || p[i] == '\t')
				return -1;
		for (v = colon + 1; v < eol && (*v == ' ' || *v == '\t'); v++)
			;
		for (ve = eol; ve > v && (ve[-1] == ' ' || ve[-1] == '\t'); ve--)
			;
		if (named(p, nl, "Content-Length")) {
			if (have_len || ve == v || ve - v > 18)
				return -1;
			for (const char *d = v; d < ve; d++) {
				if (*d < '0' || *d > '9')
					return -1;
				clen = clen * 10 + (uint64_t)(*d - '0');
			}
			have_len = 1;
		} else if (named(p, nl, "Transfer-Encoding") || named(p, nl, "Expect") ||
			   named(p, nl, "Upgrade")) {
			return -1;
		} else if (named(p, nl, "Connection")) {
			if (token_in(v, (size_t)(ve - v), "close"))
				q->close = 1;
		} else if (named(p, nl, "Authorization")) {
			if (q->has_auth || (size_t)(ve - v) >= CL_HTTP_AUTH_MAX)
				return -1;
			memcpy(q->auth, v, (size_t)(ve - v));
			q->auth[ve - v] = '\0';
			q->has_auth = 1;
		}
	}
	if (!have_len || clen > max_body || clen > n - q->head_len)
		return -1;
	q->body_len = (size_t)clen;
	return 0;
}

