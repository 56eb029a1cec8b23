/*
 * Structured logging to stderr. See cl_log.h.
 */
#include "cl_log.h"
#include "cl_config.h"
#include "cl_time.h"

#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>

int cl_log_threshold = CL_LOG_INFO;

static const char *const level_names[] = { "error", "warn", "info", "debug" };

void cl_log_write(int level, const char *comp, const char *fmt, ...)
{
	char line[1024];
	char ts[40];
	size_t n;
	va_list ap;

	if (level < 0 || level > CL_LOG_DEBUG)
		level = CL_LOG_ERROR;
	cl_time_format_rfc3339(cl_time_now_us(), ts, sizeof(ts), 3);
	n = (size_t)snprintf(line, sizeof(line), "ts=%s level=%s comp=%s ",
			     ts, level_names[level], comp);
	if (n < sizeof(line)) {
		va_start(ap, fmt);
		vsnprintf(line + n, sizeof(line) - n, fmt, ap);
		va_end(ap);
	}
	/* A control byte a caller let through cannot start a line of its own. */
	n = strlen(line);
	for (size_t i = 0; i < n; i++)
		if ((unsigned char)line[i] < 0x20 || line[i] == 0x7f)
			line[i] = '?';
	/* One write per line, so lines from several threads never interleave. */
	if (n + 1 < sizeof(line)) {
		line[n++] = '\n';
		line[n] = '\0';
	}
	fputs(line, stderr);
}

const char *cl_log_quote(char *buf, size_t cap, const char *s)
{
	static const char hex[] = "0123456789abcdef";
	size_t n = 0;

	buf[n++] = '"';
	for (; s && *s; s++) {
		unsigned char c = (unsigned char)*s;
		char esc[4];
		size_t len = 0;

		if (c == '"' || c == '\\')
			esc[len++] = '\\', esc[len++] = (char)c;
		else if (c == '\n')
			esc[len++] = '\\', esc[len++] = 'n';
		else if (c == '\r')
			esc[len++] = '\\', esc[len++] = 'r';
		else if (c == '\t')
			esc[len++] = '\\', esc[len++] = 't';
		else if (c < 0x20 || c == 0x7f)
			esc[len++] = '\\', esc[len++] = 'x', esc[len++] = hex[c >> 4],
			esc[len++] = hex[c & 15];
		else
			esc[len++] = (char)c;
		/* room for this, and for ..." and the NUL should the next not fit */
		if (n + len + 5 > cap) {
			/* not inside a UTF-8 sequence: back to its first byte */
			while (n > 1 && ((unsigned char)buf[n - 1] & 0xc0) == 0x80)
				n--;
			if (n > 1 && (unsigned char)buf[n - 1] >= 0xc0)
				n--;
			memcpy(buf + n, "...", 3);
			n += 3;
			break;
		}
		memcpy(buf + n, esc, len);
		n += len;
	}
	buf[n++] = '"';
	buf[n] = '\0';
	return buf;
}

int cl_log_level_parse(const char *name)
{
	for (int i = 0; i <= CL_LOG_DEBUG; i++)
		if (strcmp(name, level_names[i]) == 0)
			return i;
	return -1;
}

static const struct cl_config_entry log_entries[] = {
	{ "level", CL_CFG_LEVEL, "info", 0, 3, offsetof(struct cl_log_settings, level),
	  "least severe log level written: error, warn, info or debug", NULL },
};

const struct cl_config_section cl_log_section = {
	.name = "log",
	.entries = log_entries,
	.nentries = sizeof(log_entries) / sizeof(log_entries[0]),
	.size = sizeof(struct cl_log_settings),
};

void cl_log_configure(const struct cl_config *c)
{
	const struct cl_log_settings *ls = cl_config_get(c, &cl_log_section);

	cl_log_threshold = ls->level;
}
