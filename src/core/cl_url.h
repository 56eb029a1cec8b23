/*
 * Percent-decoding (RFC 3986), one function for every place carelake
 * reads it: a request path's segments, a form body, a search's
 * _typeFilter, and the hex digits of JSON's \u escapes and HTTP's chunk
 * sizes.
 */
#ifndef CL_URL_H
#define CL_URL_H

#include <stddef.h>

/* The value of a hex digit (either case), or -1. */
int cl_hexval(int c);

#define CL_PCT_PLUS 1       /* '+' is a space (a form, a query) */
#define CL_PCT_NO_SLASH 2   /* refuse a decoded '/' (a path segment) */
#define CL_PCT_NO_CTL 4     /* refuse decoded control bytes */

/*
 * Decodes src[0..n) into out (NUL-terminated, cap bytes with the NUL):
 * %XX a byte, the rest as it is. A decoded NUL is always refused. CL_OK
 * and *out_len, or CL_EINVAL with the detail saying what was wrong and at
 * which byte (a '%' that is not %XX, a byte refused by flags, too long).
 */
int cl_pct_decode(const char *src, size_t n, char *out, size_t cap, unsigned flags,
		  size_t *out_len);

#endif
