/*
 * Clocks and time formatting.
 *
 * Wall time is microseconds since the Unix epoch (UTC); monotonic time is
 * microseconds from an arbitrary start. Tests may install a fake wall clock
 * so that time-driven behaviour (segment age, day partitions) is testable.
 */
#ifndef CL_TIME_H
#define CL_TIME_H

#include <stddef.h>
#include <stdint.h>

/* Wall-clock microseconds since 1970-01-01T00:00:00Z (or the fake clock). */
int64_t cl_time_now_us(void);

/* Monotonic microseconds, for measuring intervals. */
int64_t cl_time_mono_us(void);

/* The CLOCK_REALTIME deadline `us` from now, for pthread_cond_timedwait. */
struct timespec;
void cl_time_deadline(struct timespec *ts, int64_t us);

/* Installs a fake wall clock for tests; NULL restores the real one. */
void cl_time_set_fake(int64_t (*fn)(void));

/*
 * Formats us as RFC 3339 in UTC with `frac` fractional digits (0, 3 or 6),
 * e.g. 2026-11-22T06:00:00.123Z. Returns the length written.
 */
size_t cl_time_format_rfc3339(int64_t us, char *buf, size_t cap, int frac);

/* Formats the UTC calendar day of us as YYYY-MM-DD (buf needs 11 bytes). */
void cl_time_format_day(int64_t us, char *buf);

/*
 * Parses an RFC 3339 date-time (2026-11-22T06:00:00Z, with optional
 * fraction up to nanoseconds, 'Z' or a +hh:mm / -hh:mm offset; 't' and 'z'
 * accepted) into microseconds since the epoch, UTC. Returns CL_EINVAL with
 * a detail saying what is wrong.
 */
int cl_time_parse_rfc3339(const char *s, size_t len, int64_t *us);

/* The UTC day number (days since the epoch) of us. */
int64_t cl_time_day(int64_t us);

/* The value of the n decimal digits at s (a date's or a time's field), or
 * -1 when one of them is not a digit. */
int cl_time_digits(const char *s, int n);

/* Days from 1970-01-01 to y-m-d in the proleptic Gregorian calendar. */
int64_t cl_time_days_from_civil(int64_t y, int m, int d);

#endif
