/*
 * The head of an HTTP/1.1 POST, as the fast path reads it (cl_http_fast.c):
 * strict, and only for the plain case. Whatever it refuses goes to MHD,
 * which judges it by the whole of HTTP.
 */
#ifndef CL_HTTP_HEAD_H
#define CL_HTTP_HEAD_H

#include <stddef.h>
#include <stdint.h>

#define CL_HTTP_AUTH_MAX 512

struct cl_http_head {
	const char *path;           /* inside the input, not NUL-ended */
	size_t path_len;
	char auth[CL_HTTP_AUTH_MAX]; /* the Authorization value, if has_auth */
	int has_auth;
	size_t head_len, body_len;  /* the request is head_len + body_len bytes */
	int close;                  /* Connection: close */
};

/*
 * Parses b[0..n). Returns 0 when b starts with a whole request: "POST
 * <path> HTTP/1.1", well-formed header lines (no folding, bare LF or NUL),
 * one Content-Length of at most max_body with the body all in b, and no
 * Transfer-Encoding, Expect or Upgrade. Returns -1 for anything else.
 */
int cl_http_head_parse(const char *b, size_t n, uint64_t max_body, struct cl_http_head *q);

#endif
