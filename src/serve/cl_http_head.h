/*
 * The head of an HTTP/1.x request as carelake's own loops read it
 * (cl_http_fast.c), before anything else sees it: every connection's
 * first request passes here, so what no endpoint may ever get — a head
 * larger than http.max_header_bytes (431), two Content-Lengths that
 * disagree or a Content-Length beside chunking (400: request smuggling
 * behind a proxy), NUL bytes or bare CRs — is refused here. A head it
 * reads whole and finds plain (POST, HTTP/1.1, one Content-Length, no
 * chunking, Expect or Upgrade, no query) the fast path may serve itself;
 * any other well-formed head goes to libmicrohttpd, bytes unread.
 */
#ifndef CL_HTTP_HEAD_H
#define CL_HTTP_HEAD_H

#include <stddef.h>
#include <stdint.h>

#define CL_HTTP_AUTH_MAX 512
#define CL_HTTP_CTYPE_MAX 128

/* Results of cl_http_head_parse. */
#define CL_HEAD_OK 0          /* a whole head, well formed */
#define CL_HEAD_PARTIAL 1     /* no end of head yet: read on */
#define CL_HEAD_BAD (-1)      /* malformed or ambiguous: 400, then close */
#define CL_HEAD_TOO_LARGE (-2) /* longer than the limit: 431, then close */

struct cl_http_head {
	const char *method;          /* inside the input, not NUL-ended */
	size_t method_len;
	const char *path;            /* the target up to '?' */
	size_t path_len;
	int has_query;
	int http11;                  /* HTTP/1.1 (else 1.0) */
	char auth[CL_HTTP_AUTH_MAX]; /* the Authorization value, if has_auth */
	int has_auth;
	char ctype[CL_HTTP_CTYPE_MAX]; /* the Content-Type value, if has_ctype */
	int has_ctype;
	uint64_t content_length;     /* if has_length */
	int has_length;
	int chunked;                 /* Transfer-Encoding: chunked */
	int expect_continue;         /* Expect: 100-continue */
	int unusual;                 /* another Expect or Transfer-Encoding, Upgrade, an
				      * over-long Authorization or Content-Type, a bare
				      * LF line end */
	int close;                   /* Connection: close (or HTTP/1.0 without keep-alive) */
	size_t head_len;             /* bytes of the head, its blank line included */
	const char *error;           /* CL_HEAD_BAD: why, for the 400 reply */
};

/*
 * Parses the head at the start of b[0..n), which may hold more (a body,
 * the next request). Returns CL_HEAD_OK with q filled, CL_HEAD_PARTIAL
 * when no blank line ends the head within n bytes (n below max_head),
 * CL_HEAD_TOO_LARGE when the head is (or would be) longer than max_head,
 * or CL_HEAD_BAD with q->error.
 */
int cl_http_head_parse(const char *b, size_t n, size_t max_head, struct cl_http_head *q);

/* 1 if carelake's loops may read the request themselves: a POST of
 * HTTP/1.1 with no query, a body of a Content-Length or chunked, nothing
 * unusual. */
int cl_http_head_ours(const struct cl_http_head *q);

/*
 * A chunked body (RFC 9112, 7.1), decoded as it arrives. Chunk
 * extensions are skipped, trailers read and dropped.
 */
struct cl_http_chunked {
	int state;
	uint64_t left;        /* data bytes of the chunk still to come */
	int digits;           /* of its size read so far */
	size_t skipped;       /* extension or trailer bytes (bounded) */
};

/*
 * Decodes in[0..n), writing the data into out[0..cap) from *out_len on
 * (growing it), and *used the input bytes consumed. Returns CL_HEAD_OK
 * when the body has ended (the bytes after *used are the next request's),
 * CL_HEAD_PARTIAL when it needs more input, CL_HEAD_TOO_LARGE when the
 * data would pass cap, CL_HEAD_BAD when it is not chunked encoding.
 */
int cl_http_chunked_decode(struct cl_http_chunked *c, const char *in, size_t n, char *out,
			   size_t cap, size_t *out_len, size_t *used);

#endif
