/*
 * Clocks and RFC 3339 formatting. See cl_time.h.
 */
#include "cl_time.h"
#include "cl_error.h"

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

void cl_time_deadline(struct timespec *ts, int64_t us)
{
	clock_gettime(CLOCK_REALTIME, ts);
	ts->tv_sec += us / 1000000;
	ts->tv_nsec += (long)(us % 1000000) * 1000;
	if (ts->tv_nsec >= 1000000000) {
		ts->tv_sec++;
		ts->tv_nsec -= 1000000000;
	}
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

int cl_time_digits(const char *s, int n)
{
	int v = 0;

	for (int i = 0; i < n; i++) {
		if (s[i] < '0' || s[i] > '9')
			return -1;
		v = v * 10 + (s[i] - '0');
	}
	return v;
}

int64_t cl_time_days_from_civil(int64_t y, int m, int d)
{
	int64_t era, yoe, doy, doe;

	y -= m <= 2;
	era = (y >= 0 ? y : y - 399) / 400;
	yoe = y - era * 400;
	doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
	doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
	return era * 146097 + doe - 719468;
}

int cl_time_parse_rfc3339(const char *s, size_t len, int64_t *us)
{
	static const int mdays[] = { 31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31 };
	int y, mo, d, h, mi, sec, off = 0;
	int64_t frac_us = 0, t;
	size_t i = 19;

	if (len < 20)
		return cl_error_set(CL_EINVAL, "timestamp is not RFC 3339 (like 2026-11-22T06:00:00Z)");
	y = cl_time_digits(s, 4);
	mo = cl_time_digits(s + 5, 2);
	d = cl_time_digits(s + 8, 2);
	h = cl_time_digits(s + 11, 2);
	mi = cl_time_digits(s + 14, 2);
	sec = cl_time_digits(s + 17, 2);
	if (y < 0 || mo < 0 || d < 0 || h < 0 || mi < 0 || sec < 0 || s[4] != '-' ||
	    s[7] != '-' || (s[10] != 'T' && s[10] != 't') || s[13] != ':' || s[16] != ':')
		return cl_error_set(CL_EINVAL, "timestamp is not RFC 3339 (like 2026-11-22T06:00:00Z)");
	if (mo < 1 || mo > 12 || d < 1 || d > mdays[mo - 1] ||
	    (mo == 2 && d == 29 && !(y % 4 == 0 && (y % 100 != 0 || y % 400 == 0))))
		return cl_error_set(CL_EINVAL, "timestamp has no such date");
	if (h > 23 || mi > 59 || sec > 60)
		return cl_error_set(CL_EINVAL, "timestamp has no such time of day");
	if (sec == 60)
		sec = 59; /* a leap second: the last representable instant */
	if (s[i] == '.') {
		int n = 0;
		int64_t scale = 100000;

		for (i++; i < len && s[i] >= '0' && s[i] <= '9'; i++, n++) {
			if (n < 6) {
				frac_us += (s[i] - '0') * scale;
				scale /= 10;
			}
			if (n >= 9)
				return cl_error_set(CL_EINVAL, "timestamp fraction has more than 9 digits");
		}
		if (n == 0)
			return cl_error_set(CL_EINVAL, "timestamp has a '.' without digits");
	}
	if (i < len && (s[i] == 'Z' || s[i] == 'z')) {
		i++;
	} else if (i + 6 == len && (s[i] == '+' || s[i] == '-') && s[i + 3] == ':') {
		int oh = cl_time_digits(s + i + 1, 2), om = cl_time_digits(s + i + 4, 2);

		if (oh < 0 || om < 0 || oh > 23 || om > 59)
			return cl_error_set(CL_EINVAL, "timestamp has a bad UTC offset");
		off = (oh * 60 + om) * (s[i] == '+' ? 1 : -1);
		i += 6;
	} else {
		return cl_error_set(CL_EINVAL, "timestamp needs a time zone: 'Z' or +hh:mm");
	}
	if (i != len)
		return cl_error_set(CL_EINVAL, "timestamp has trailing characters");
	t = cl_time_days_from_civil(y, mo, d) * 86400 + h * 3600 + mi * 60 + sec - off * 60;
	*us = t * 1000000 + frac_us;
	return CL_OK;
}
