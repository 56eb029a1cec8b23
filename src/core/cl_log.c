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
	/* One write per line, so lines from several threads never interleave. */
	n = strlen(line);
	if (n + 1 < sizeof(line)) {
		line[n++] = '\n';
		line[n] = '\0';
	}
	fputs(line, stderr);
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
