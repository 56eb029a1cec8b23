/*
 * Structured, level-checked logging.
 *
 * One line per event on stderr:
 *   ts=2026-11-22T06:00:00.123Z level=info comp=bronze event=recovered ...
 * The message part is key=value pairs written by the caller. Never pass
 * patient data or secrets to these macros: log ids of sources, offsets,
 * counts and error codes, not record contents.
 *
 * A value that comes from outside the program (a file name, a path, a
 * table name, an error detail, a library's message) goes through
 * CL_LOG_Q, never straight into the format: written raw, a newline in a
 * file name would start a line of its own, one that looks like any other
 * event ("a\nts=... level=error ..."). As a second fence, cl_log_write
 * turns any control byte left in a line into '?'.
 */
#ifndef CL_LOG_H
#define CL_LOG_H

#include <stddef.h>

enum cl_log_level {
	CL_LOG_ERROR = 0,
	CL_LOG_WARN = 1,
	CL_LOG_INFO = 2,
	CL_LOG_DEBUG = 3,
};

/* The current threshold; messages above it are not formatted at all. */
extern int cl_log_threshold;

/* Writes one line; use the macros below instead of calling it directly. */
void cl_log_write(int level, const char *comp, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

/* Longest value CL_LOG_Q writes, quotes and terminating NUL included. */
#define CL_LOG_VALUE_MAX 400

/*
 * Writes s into buf as one logfmt value: in double quotes, with '"', '\\',
 * newline, carriage return and tab escaped as \", \\, \n, \r, \t, and
 * every other control byte (below 0x20, and 0x7f) as \xNN; bytes above
 * 0x7f (UTF-8) as they are. A value that does not fit in cap bytes is cut
 * at a whole character and ends in ..." instead. NULL is written as "".
 * Returns buf; cap must be at least 6.
 */
const char *cl_log_quote(char *buf, size_t cap, const char *s);

/* cl_log_quote into a buffer of its own that lasts to the end of the
 * statement, for the arguments of a log call:
 *   cl_log_error("batch", "event=file_failed file=%s", CL_LOG_Q(path)); */
#define CL_LOG_Q(s) cl_log_quote((char[CL_LOG_VALUE_MAX]){ 0 }, CL_LOG_VALUE_MAX, (s))

/* Parses "error", "warn", "info" or "debug"; returns -1 if unknown. */
int cl_log_level_parse(const char *name);

/* The log.* settings: log.level. */
struct cl_log_settings {
	int level;
};

struct cl_config;
struct cl_config_section;
extern const struct cl_config_section cl_log_section;

/* Sets the threshold from c's log.level. */
void cl_log_configure(const struct cl_config *c);

#define cl_log_at(level, comp, ...)                                   \
	do {                                                          \
		if ((level) <= cl_log_threshold)                      \
			cl_log_write((level), (comp), __VA_ARGS__);   \
	} while (0)

#define cl_log_error(comp, ...) cl_log_at(CL_LOG_ERROR, comp, __VA_ARGS__)
#define cl_log_warn(comp, ...) cl_log_at(CL_LOG_WARN, comp, __VA_ARGS__)
#define cl_log_info(comp, ...) cl_log_at(CL_LOG_INFO, comp, __VA_ARGS__)
#define cl_log_debug(comp, ...) cl_log_at(CL_LOG_DEBUG, comp, __VA_ARGS__)

#endif
