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

#endif
