/*
 * Writing CSV fields. See cl_csv_write.h.
 */
#include "cl_csv_write.h"

#include <string.h>

void cl_csv_write_field(FILE *f, const char *s, size_t n)
{
	if (!s)
		return;
	if (!memchr(s, ',', n) && !memchr(s, '"', n) && !memchr(s, '\n', n) &&
	    !memchr(s, '\r', n)) {
		fwrite(s, 1, n, f);
		return;
	}
	fputc('"', f);
	for (size_t i = 0; i < n; i++) {
		if (s[i] == '"')
			fputc('"', f);
		fputc(s[i], f);
	}
	fputc('"', f);
}
