/*
 * RFC 4180 CSV. See cl_csv.h.
 */
#include "cl_csv.h"
#include "core/cl_error.h"
#include "core/cl_mem.h"
#include "core/cl_utf8.h"

#include <stdio.h>
#include <string.h>

void cl_csv_init(struct cl_csv *c, const char *src, size_t len, char delim)
{
	memset(c, 0, sizeof(*c));
	c->src = src;
	c->len = len;
	c->next_line = 1;
	c->max_fields = 4096;
	if (len >= 3 && memcmp(src, "\xEF\xBB\xBF", 3) == 0)
		c->pos = 3;
	if (!delim) {
		/* the candidate seen most often outside quotes on line 1 */
		static const char cand[] = { ',', ';', '\t', '|' };
		size_t best = 0, n[4] = { 0 };
		int inq = 0;

		delim = ',';
		for (size_t i = c->pos; i < len && (inq || (src[i] != '\n' && src[i] != '\r')); i++) {
			if (src[i] == '"')
				inq = !inq;
			for (int k = 0; k < 4 && !inq; k++)
				n[k] += src[i] == cand[k];
		}
		for (int k = 0; k < 4; k++)
			if (n[k] > best) {
				best = n[k];
				delim = cand[k];
			}
	}
	c->delim = delim;
}

void cl_csv_free(struct cl_csv *c)
{
	cl_free(c->f);
	cl_free(c->scratch);
	c->f = NULL;
	c->scratch = NULL;
}

/* 1 if a line ends at src[i]: LF, or CR not followed by LF (a CRLF
 * ends at its LF). */
static int line_end(const char *src, size_t i, size_t n)
{
	return src[i] == '\n' || (src[i] == '\r' && (i + 1 == n || src[i + 1] != '\n'));
}

/* Reports what is wrong, on the line c->next_line, and resumes after the
 * first line end at or after `at` (the end, if there is none). */
static int fail(struct cl_csv *c, const char *what, size_t at)
{
	size_t i = at;

	snprintf(c->err, sizeof(c->err), "line %llu: %s", (unsigned long long)c->next_line, what);
	while (i < c->len && !line_end(c->src, i, c->len))
		i++;
	if (i < c->len) {
		c->next_line++;
		i++;
	}
	c->pos = i;
	return cl_error_set(CL_EPARSE, "%s", c->err);
}

/* Appends a field; more than max_fields fails the record (at: where). */
static int push(struct cl_csv *c, const char *p, size_t len, size_t at)
{
	if (c->nf == c->max_fields) {
		char what[64];

		snprintf(what, sizeof(what), "more than %u fields", c->max_fields);
		return fail(c, what, at);
	}
	if (c->nf == c->capf) {
		uint32_t cap = c->capf ? c->capf * 2 : 32;
		struct cl_csv_field *nf = cl_realloc(c->f, cap * sizeof(*nf));

		if (!nf)
			return cl_error_set(CL_ENOMEM, "no memory for CSV fields");
		c->f = nf;
		c->capf = cap;
	}
	c->f[c->nf].p = p;
	c->f[c->nf].len = len;
	c->nf++;
	return CL_OK;
}

/* Room for n more scratch bytes; quoted fields are re-pointed after a
 * move. */
static int scratch_reserve(struct cl_csv *c, size_t n)
{
	char *old = c->scratch, *ns;
	size_t cap;

	if (c->scratch_len + n <= c->scratch_cap)
		return CL_OK;
	cap = c->scratch_cap ? c->scratch_cap : 4096;
	while (cap < c->scratch_len + n)
		cap *= 2;
	ns = cl_realloc(c->scratch, cap);
	if (!ns)
		return cl_error_set(CL_ENOMEM, "no memory for a CSV field");
	for (uint32_t i = 0; i < c->nf; i++)
		if (old && c->f[i].p >= old && c->f[i].p < old + c->scratch_cap)
			c->f[i].p = ns + (c->f[i].p - old);
	c->scratch = ns;
	c->scratch_cap = cap;
	return CL_OK;
}

/* The record just read is text: no NUL byte, valid UTF-8. Otherwise
 * CL_EPARSE naming the field (reading has already moved past it). */
static int check_text(struct cl_csv *c)
{
	for (uint32_t k = 0; k < c->nf; k++) {
		const char *p = c->f[k].p;
		size_t n = c->f[k].len, bad;

		if (memchr(p, '\0', n))
			snprintf(c->err, sizeof(c->err), "line %llu: field %u holds a NUL byte (is the "
				 "file UTF-16? save it as UTF-8)", (unsigned long long)c->line, k + 1);
		else if ((bad = cl_utf8_check(p, n)) < n)
			snprintf(c->err, sizeof(c->err), "line %llu: field %u is not UTF-8 (byte 0x%02X "
				 "at its byte %zu; save the file as UTF-8)", (unsigned long long)c->line,
				 k + 1, (unsigned char)p[bad], bad + 1);
		else
			continue;
		return cl_error_set(CL_EPARSE, "%s", c->err);
	}
	return CL_OK;
}

int cl_csv_next(struct cl_csv *c)
{
	const char *s = c->src;
	size_t i = c->pos, n = c->len;
	int rc;

	c->nf = 0;
	c->scratch_len = 0;
	/* blank lines are not records */
	while (i < n && (s[i] == '\n' || s[i] == '\r')) {
		if (line_end(s, i, n))
			c->next_line++;
		i++;
	}
	if (i >= n) {
		c->pos = i;
		return 0;
	}
	c->line = c->next_line;
	for (;;) {
		if (i < n && s[i] == '"') {
			size_t start, quote = i;
			uint64_t quote_line = c->next_line;

			i++;
			rc = scratch_reserve(c, 0);
			if (rc)
				return rc;
			start = c->scratch_len;
			for (;;) {
				size_t j = i;

				while (j < n && s[j] != '"') {
					if (line_end(s, j, n))
						c->next_line++;
					j++;
				}
				if (j >= n) {
					/* most likely a stray quote: the lines after
					 * the one it opened on are read again */
					c->next_line = quote_line;
					return fail(c, "a quoted field is not closed", quote);
				}
				rc = scratch_reserve(c, j - i + 1);
				if (rc)
					return rc;
				memcpy(c->scratch + c->scratch_len, s + i, j - i);
				c->scratch_len += j - i;
				i = j + 1;
				if (i < n && s[i] == '"') { /* a doubled quote */
					c->scratch[c->scratch_len++] = '"';
					i++;
					continue;
				}
				break;
			}
			rc = push(c, c->scratch + start, c->scratch_len - start, i);
			if (rc)
				return rc;
			if (i < n && s[i] != c->delim && s[i] != '\n' && s[i] != '\r')
				return fail(c, "text after a closing quote (a quote inside a field must be "
					       "doubled)", i);
		} else {
			size_t j = i;

			while (j < n && s[j] != c->delim && s[j] != '\n' && s[j] != '\r') {
				if (s[j] == '"')
					return fail(c, "a quote inside an unquoted field", j);
				j++;
			}
			rc = push(c, s + i, j - i, j);
			if (rc)
				return rc;
			i = j;
		}
		if (i < n && s[i] == c->delim) {
			i++;
			if (i >= n || s[i] == '\n' || s[i] == '\r') {
				/* a trailing delimiter: one more, empty field */
				rc = push(c, s + i, 0, i);
				if (rc)
					return rc;
			} else {
				continue;
			}
		}
		/* end of record: CRLF, LF or CR */
		if (i < n) {
			if (s[i] == '\r' && i + 1 < n && s[i + 1] == '\n')
				i++;
			i++;
			c->next_line++;
		}
		c->pos = i;
		rc = check_text(c);
		return rc ? rc : 1;
	}
}
