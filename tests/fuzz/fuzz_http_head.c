/*
 * Fuzz target: the fast path's HTTP request-head parser, fed what a
 * client could put in a socket. A request it takes must lie inside the
 * input: its head ending in CRLF CRLF, the path inside the request line,
 * the body inside the input and within the limit, the Authorization value
 * NUL-ended within its buffer. Anything else must be refused, never read
 * past the end.
 */
#include "serve/cl_http_head.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	/* a copy exactly the input's size, so ASan sees any overread */
	char *b = malloc(size ? size : 1);
	struct cl_http_head q;

	if (!b)
		return 0;
	memcpy(b, data, size);
	for (uint64_t max = 0; max <= 64; max += 64) {
		if (cl_http_head_parse(b, size, max ? max : 4096, &q) != 0)
			continue;
		if (q.head_len < 19 || q.head_len > size || q.body_len > size - q.head_len ||
		    q.body_len > (max ? max : 4096) || memcmp(b + q.head_len - 4, "\r\n\r\n", 4) != 0 ||
		    memcmp(b, "POST ", 5) != 0 || q.path != b + 5 || q.path_len == 0 ||
		    q.path + q.path_len + 9 > b + q.head_len ||
		    memchr(q.path, ' ', q.path_len) != NULL ||
		    (q.has_auth && strnlen(q.auth, sizeof(q.auth)) == sizeof(q.auth)))
			abort();
	}
	free(b);
	return 0;
}
