/*
 * The request-head parser of carelake's own loops. See cl_http_head.h.
 */
#include "cl_http_head.h"
#include "core/cl_url.h"

#include <string.h>
#include <strings.h>

/* Whether the comma-separated value v[0..n) holds the token tok. */
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

/* A header name's characters (RFC 9110 token). */
static int tchar(unsigned char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
	       (c && strchr("!#$%&'*+-.^_`|~", c));
}

static int bad(struct cl_http_head *q, const char *why)
{
	q->error = why;
	return CL_HEAD_BAD;
}

/* Copies v[0..n) into a fixed field; 0 if it does not fit. */
static int keep(char *dst, size_t cap, const char *v, size_t n)
{
	if (n >= cap)
		return 0;
	memcpy(dst, v, n);
	dst[n] = '\0';
	return 1;
}

/* Where the head ends: the first blank line (CRLF CRLF, or bare LFs). */
static const char *head_end(const char *b, size_t n, size_t *len)
{
	for (size_t i = 0; i + 1 < n; i++) {
		if (b[i] != '\n')
			continue;
		if (b[i + 1] == '\n') {
			*len = i + 2;
			return b + i;
		}
		if (b[i + 1] == '\r' && i + 2 < n && b[i + 2] == '\n') {
			*len = i + 3;
			return b + i;
		}
	}
	return NULL;
}

int cl_http_head_parse(const char *b, size_t n, size_t max_head, struct cl_http_head *q)
{
	const char *p, *end, *eol, *sp, *sp2;
	size_t len = 0;
	int lengths = 0, keepalive = 0, te = 0;

	memset(q, 0, sizeof(*q));
	end = head_end(b, n, &len);
	if (!end)
		return n >= max_head ? CL_HEAD_TOO_LARGE : CL_HEAD_PARTIAL;
	if (len > max_head)
		return CL_HEAD_TOO_LARGE;
	q->head_len = len;
	for (size_t i = 0; i < len; i++) {
		if (b[i] == '\0')
			return bad(q, "the request head holds a NUL byte");
		if (b[i] == '\r' && b[i + 1] != '\n')
			return bad(q, "the request head holds a bare CR");
		if (b[i] == '\n' && (i == 0 || b[i - 1] != '\r'))
			q->unusual = 1; /* bare LF: tolerated, by libmicrohttpd */
	}
	/* the request line: METHOD SP target SP HTTP/1.x */
	eol = memchr(b, '\n', len);
	sp = memchr(b, ' ', (size_t)(eol - b));
	if (!sp || sp == b)
		return bad(q, "the request line is not 'METHOD TARGET HTTP/1.1'");
	q->method = b;
	q->method_len = (size_t)(sp - b);
	for (size_t i = 0; i < q->method_len; i++)
		if (!tchar((unsigned char)b[i]))
			return bad(q, "the method is not a token");
	sp2 = memchr(sp + 1, ' ', (size_t)(eol - sp - 1));
	if (!sp2 || sp2 == sp + 1)
		return bad(q, "the request line is not 'METHOD TARGET HTTP/1.1'");
	q->path = sp + 1;
	q->path_len = (size_t)(sp2 - q->path);
	{
		const char *qm = memchr(q->path, '?', q->path_len);

		if (qm) {
			q->path_len = (size_t)(qm - q->path);
			q->has_query = 1;
		}
		if (q->path_len == 0)
			return bad(q, "the request target has no path (it must start with '/')");
	}
	{
		const char *v = sp2 + 1;
		size_t vl = (size_t)(eol - v) - (eol[-1] == '\r');

		if (vl == 8 && memcmp(v, "HTTP/1.1", 8) == 0)
			q->http11 = 1;
		else if (!(vl == 8 && memcmp(v, "HTTP/1.0", 8) == 0))
			return bad(q, "only HTTP/1.0 and HTTP/1.1 are served");
	}
	/* header fields */
	for (p = eol + 1; p < end + 1; p = eol + 1) {
		const char *colon, *v, *ve;
		size_t nl;

		eol = memchr(p, '\n', (size_t)(b + len - p));
		if (!eol || eol == p || (eol == p + 1 && *p == '\r'))
			break;
		if (*p == ' ' || *p == '\t')
			return bad(q, "folded header lines are not accepted");
		colon = memchr(p, ':', (size_t)(eol - p));
		if (!colon || colon == p)
			return bad(q, "a header line has no name");
		nl = (size_t)(colon - p);
		for (size_t i = 0; i < nl; i++)
			if (!tchar((unsigned char)p[i]))
				return bad(q, "a header name holds a space or a separator");
		for (v = colon + 1; v < eol && (*v == ' ' || *v == '\t'); v++)
			;
		for (ve = eol; ve > v && (ve[-1] == ' ' || ve[-1] == '\t' || ve[-1] == '\r'); ve--)
			;
		if (named(p, nl, "Content-Length")) {
			uint64_t clen = 0;

			if (ve == v || ve - v > 18)
				return bad(q, "Content-Length is not a number");
			for (const char *d = v; d < ve; d++) {
				if (*d < '0' || *d > '9')
					return bad(q, "Content-Length is not a number");
				clen = clen * 10 + (uint64_t)(*d - '0');
			}
			if (lengths++ && clen != q->content_length)
				return bad(q, "two Content-Length headers that disagree");
			q->content_length = clen;
			q->has_length = 1;
		} else if (named(p, nl, "Transfer-Encoding")) {
			te = 1;
			if (q->chunked || q->unusual)
				q->unusual = 1;
			else if ((size_t)(ve - v) == 7 && strncasecmp(v, "chunked", 7) == 0)
				q->chunked = 1;
			else
				q->unusual = 1;
		} else if (named(p, nl, "Expect")) {
			if ((size_t)(ve - v) == 12 && strncasecmp(v, "100-continue", 12) == 0)
				q->expect_continue = 1;
			else
				q->unusual = 1;
		} else if (named(p, nl, "Upgrade")) {
			q->unusual = 1;
		} else if (named(p, nl, "Connection")) {
			if (token_in(v, (size_t)(ve - v), "close"))
				q->close = 1;
			if (token_in(v, (size_t)(ve - v), "keep-alive"))
				keepalive = 1;
		} else if (named(p, nl, "Authorization")) {
			if (q->has_auth)
				return bad(q, "two Authorization headers");
			if (!keep(q->auth, sizeof(q->auth), v, (size_t)(ve - v)))
				q->unusual = 1;
			else
				q->has_auth = 1;
		} else if (named(p, nl, "Content-Type")) {
			if (q->has_ctype)
				return bad(q, "two Content-Type headers");
			if (!keep(q->ctype, sizeof(q->ctype), v, (size_t)(ve - v)))
				q->unusual = 1;
			else
				q->has_ctype = 1;
		}
	}
	if (te && q->has_length)
		return bad(q, "Content-Length beside Transfer-Encoding");
	if (!q->http11 && !keepalive)
		q->close = 1;
	return CL_HEAD_OK;
}

int cl_http_head_ours(const struct cl_http_head *q)
{
	return q->http11 && (q->has_length || q->chunked) && !q->unusual && !q->has_query &&
	       q->method_len == 4 && memcmp(q->method, "POST", 4) == 0;
}

enum {
	CH_SIZE,         /* hex digits of a chunk's size */
	CH_EXT,          /* a chunk extension, to its line's end */
	CH_SIZE_LF,      /* the LF after the size line's CR */
	CH_DATA,         /* the chunk's data */
	CH_DATA_CR,      /* the CR after it */
	CH_DATA_LF,      /* and the LF */
	CH_TRAILER,      /* at the start of a trailer line (or the end) */
	CH_TRAILER_LINE, /* within a trailer line */
	CH_TRAILER_LF,   /* the LF ending a trailer line */
	CH_END_LF,       /* the LF of the blank line that ends the body */
	CH_DONE,
};

#define CHUNK_EXTRA_MAX 8192   /* extension and trailer bytes accepted */

int cl_http_chunked_decode(struct cl_http_chunked *c, const char *in, size_t n, char *out,
			   size_t cap, size_t *out_len, size_t *used)
{
	size_t i = 0;

	while (i < n && c->state != CH_DONE) {
		char ch = in[i];
		int h;

		switch (c->state) {
		case CH_SIZE:
			h = cl_hexval((unsigned char)ch);
			if (h >= 0) {
				if (++c->digits > 15)
					goto bad;
				c->left = c->left * 16 + (uint64_t)h;
			} else if (c->digits && (ch == ';' || ch == ' ' || ch == '\t')) {
				c->state = CH_EXT;
			} else if (c->digits && ch == '\r') {
				c->state = CH_SIZE_LF;
			} else {
				goto bad;
			}
			i++;
			break;
		case CH_EXT:
			if (ch == '\r')
				c->state = CH_SIZE_LF;
			else if (ch == '\n' || ch == '\0' || ++c->skipped > CHUNK_EXTRA_MAX)
				goto bad;
			i++;
			break;
		case CH_SIZE_LF:
			if (ch != '\n')
				goto bad;
			c->state = c->left ? CH_DATA : CH_TRAILER;
			i++;
			break;
		case CH_DATA: {
			size_t k = n - i < c->left ? n - i : (size_t)c->left;

			if (*out_len + k > cap) {
				*used = i;
				return CL_HEAD_TOO_LARGE;
			}
			memcpy(out + *out_len, in + i, k);
			*out_len += k;
			c->left -= k;
			i += k;
			if (!c->left)
				c->state = CH_DATA_CR;
			break;
		}
		case CH_DATA_CR:
			if (ch != '\r')
				goto bad;
			c->state = CH_DATA_LF;
			i++;
			break;
		case CH_DATA_LF:
			if (ch != '\n')
				goto bad;
			c->state = CH_SIZE;
			c->digits = 0;
			i++;
			break;
		case CH_TRAILER:
			if (ch == '\n' || ch == '\0')
				goto bad;
			c->state = ch == '\r' ? CH_END_LF : CH_TRAILER_LINE;
			i++;
			break;
		case CH_TRAILER_LINE:
			if (ch == '\r')
				c->state = CH_TRAILER_LF;
			else if (ch == '\n' || ch == '\0' || ++c->skipped > CHUNK_EXTRA_MAX)
				goto bad;
			i++;
			break;
		case CH_TRAILER_LF:
		case CH_END_LF:
			if (ch != '\n')
				goto bad;
			c->state = c->state == CH_END_LF ? CH_DONE : CH_TRAILER;
			i++;
			break;
		}
	}
	*used = i;
	return c->state == CH_DONE ? CL_HEAD_OK : CL_HEAD_PARTIAL;
bad:
	*used = i;
	return CL_HEAD_BAD;
}
