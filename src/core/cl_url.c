/*
 * Percent-decoding. See cl_url.h.
 */
#include "cl_url.h"
#include "cl_error.h"

int cl_hexval(int c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	c |= 0x20;
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	return -1;
}

int cl_pct_decode(const char *src, size_t n, char *out, size_t cap, unsigned flags,
		  size_t *out_len)
{
	size_t o = 0;

	*out_len = 0;
	if (cap == 0)
		return cl_error_set(CL_EINVAL, "no room to decode into");
	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)src[i];

		if (c == '%') {
			int hi = i + 2 < n ? cl_hexval((unsigned char)src[i + 1]) : -1;
			int lo = hi >= 0 ? cl_hexval((unsigned char)src[i + 2]) : -1;

			if (hi < 0 || lo < 0)
				return cl_error_set(CL_EINVAL, "a '%%' that is not %%XX at byte %zu", i);
			c = (unsigned char)(hi * 16 + lo);
			i += 2;
		} else if (c == '+' && (flags & CL_PCT_PLUS)) {
			c = ' ';
		}
		if (c == 0)
			return cl_error_set(CL_EINVAL, "a NUL byte (%%00) at byte %zu", i);
		if ((flags & CL_PCT_NO_SLASH) && c == '/')
			return cl_error_set(CL_EINVAL, "a '/' (%%2F) at byte %zu", i);
		if ((flags & CL_PCT_NO_CTL) && (c < 0x20 || c == 0x7f))
			return cl_error_set(CL_EINVAL, "a control byte at byte %zu", i);
		if (o + 1 >= cap)
			return cl_error_set(CL_EINVAL, "longer than %zu bytes once decoded", cap - 1);
		out[o++] = (char)c;
	}
	out[o] = '\0';
	*out_len = o;
	return CL_OK;
}
