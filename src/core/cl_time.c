/*
 * Clocks and RFC 3339 formatting. See cl_time.h.
 */
#include "cl_time.h"

#include <stdio.h>
#include <string.h>
#include <time.h>

static int64_t (*fake_clock)(void);

int64_t cl_time_now_us(void)
{
	struct timespec ts;

	if (fake_clock)
		return fake_clock();
	clock_gettime(CLOCK_REALTIME, &ts);
	return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

int64_t cl_time_mono_us(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

void cl_time_set_fake(int64_t (*fn)(void))
{
	fake_clock = fn;
}

static void split(int64_t us, struct tm *tm, int64_t *sub_us)
{
	int64_t sec = us / 1000000;
	int64_t rem = us % 1000000;
	time_t t;

	if (rem < 0) {
		rem += 1000000;
		sec -= 1;
	}
	t = (time_t)sec;
	gmtime_r(&t, tm);
	*sub_us = rem;
}

size_t cl_time_format_rfc3339(int64_t us, char *buf, size_t cap, int frac)
{
	struct tm tm;
	int64_t sub;
	int n;

	split(us, &tm, &sub);
	if (frac == 6)
		n = snprintf(buf, cap, "%04d-%02d-%02dT%02d:%02d:%02d.%06lldZ",
			     tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday,
			     tm.tm_hour, tm.tm_min, tm.tm_sec, (long long)sub);
	else if (frac == 3)
		n = snprintf(buf, cap, "%04d-%02d-%02dT%02d:%02d:%02d.%03lldZ",
			     tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday,
			     tm.tm_hour, tm.tm_min, tm.tm_sec,
			     (long long)(sub / 1000));
	else
		n = snprintf(buf, cap, "%04d-%02d-%02dT%02d:%02d:%02dZ",
			     tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday,
			     tm.tm_hour, tm.tm_min, tm.tm_sec);
	return n < 0 ? 0 : (size_t)n;
}

void cl_time_format_day(int64_t us, char *buf)
{
	struct tm tm;
	int64_t sub;

	char tmp[48];

	split(us, &tm, &sub);
	snprintf(tmp, sizeof(tmp), "%04d-%02d-%02d", (tm.tm_year + 1900) % 10000,
		 tm.tm_mon + 1, tm.tm_mday);
	memcpy(buf, tmp, 10);
	buf[10] = '\0';
}

int64_t cl_time_day(int64_t us)
{
	int64_t sec = us / 1000000;

	if (us % 1000000 < 0)
		sec -= 1;
	return sec >= 0 ? sec / 86400 : -((-sec + 86399) / 86400);
}
