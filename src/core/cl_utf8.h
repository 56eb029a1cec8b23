/*
 * UTF-8 validation (RFC 3629: no overlongs, no surrogates, at most
 * U+10FFFF). Text from outside is checked before parsers see it.
 */
#ifndef CL_UTF8_H
#define CL_UTF8_H

#include <stddef.h>

/* Returns the byte index of the first invalid sequence, or len if the
 * whole buffer is valid UTF-8. */
size_t cl_utf8_check(const char *s, size_t len);

/* The length (2-4) of the valid multi-byte sequence starting at s (with
 * avail bytes available), or 0 if it is not one. */
size_t cl_utf8_seq(const unsigned char *s, size_t avail);

#endif
