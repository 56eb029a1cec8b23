/*
 * Log lines that outside text cannot forge: cl_log_quote against known
 * inputs and outputs (escapes, control bytes, UTF-8, NULL, cutting short
 * at a whole character), a round trip through an independent unescaper
 * for every byte value and for pseudo-random strings, and cl_log_write
 * keeping one line per event even for a value nobody quoted.
 */
#include "cl_test.h"
#include "core/cl_log.h"
#include "core/cl_utf8.h"

#include <fcntl.h>

static char buf[CL_LOG_VALUE_MAX];

static const char *q(const char *s)
{
	return cl_log_quote(buf, sizeof(buf), s);
}

static void test_known(void **state)
{
	(void)state;
	assert_string_equal(q("abc"), "\"abc\"");
	assert_string_equal(q(""), "\"\"");
	assert_string_equal(q(NULL), "\"\"");
	assert_string_equal(q("a\nts=2020 level=error"), "\"a\\nts=2020 level=error\"");
	assert_string_equal(q("cr\rlf\ntab\t"), "\"cr\\rlf\\ntab\\t\"");
	assert_string_equal(q("say \"hi\""), "\"say \\\"hi\\\"\"");
	assert_string_equal(q("C:\\dir\\"), "\"C:\\\\dir\\\\\"");
	assert_string_equal(q("\x01\x1b[31m\x7f"), "\"\\x01\\x1b[31m\\x7f\"");
	assert_string_equal(q("37.5 \xc2\xb0" "C \xf0\x9f\x98\x80"), "\"37.5 \xc2\xb0" "C \xf0\x9f\x98\x80\"");
	assert_string_equal(q("key=value other=x"), "\"key=value other=x\"");
	/* the result is what it returns: the buffer given */
	assert_ptr_equal(cl_log_quote(buf, sizeof(buf), "x"), buf);
}

static void test_cut_short(void **state)
{
	char small[10], one[6];
	char big[2 * CL_LOG_VALUE_MAX];

	(void)state;
	/* fits exactly: "abcd" and its NUL in 10 */
	assert_string_equal(cl_log_quote(small, sizeof(small), "abcd"), "\"abcd\"");
	assert_string_equal(cl_log_quote(small, sizeof(small), "abcdefghijkl"), "\"abcd...\"");
	/* an escape is never split */
	assert_string_equal(cl_log_quote(small, sizeof(small), "ab\n\n\n\n"), "\"ab\\n...\"");
	assert_string_equal(cl_log_quote(small, sizeof(small), "a\x01\x02"), "\"a...\"");
	/* nor a UTF-8 character: two bytes each here */
	assert_string_equal(cl_log_quote(small, sizeof(small), "\xc3\xa9\xc3\xa9\xc3\xa9"),
			    "\"\xc3\xa9...\"");
	assert_string_equal(cl_log_quote(one, sizeof(one), "abc"), "\"...\"");
	assert_string_equal(cl_log_quote(one, sizeof(one), ""), "\"\"");
	/* the longest value: no more than CL_LOG_VALUE_MAX with its NUL */
	memset(big, 'x', sizeof(big) - 1);
	big[sizeof(big) - 1] = '\0';
	assert_int_equal(strlen(q(big)), CL_LOG_VALUE_MAX - 1);
	assert_string_equal(buf + CL_LOG_VALUE_MAX - 5, "...\"");
	/* "é\n" over and over: cut short, still whole characters */
	for (size_t i = 0; i < sizeof(big) - 1; i++)
		big[i] = "\xc3\xa9\n"[i % 3];
	big[sizeof(big) - 2] = '\n';
	q(big);
	assert_true(strlen(buf) < CL_LOG_VALUE_MAX);
	assert_int_equal(cl_utf8_check(buf, strlen(buf)), strlen(buf));
}

/* An unescaper written from the documented format, not from the code:
 * returns the original, or NULL if the text is not one quoted value. */
static char *unquote(const char *s)
{
	size_t n = strlen(s), o = 0;
	char *out = malloc(n + 1);

	if (n < 2 || s[0] != '"' || s[n - 1] != '"') {
		free(out);
		return NULL;
	}
	for (size_t i = 1; i < n - 1; i++) {
		unsigned char c = (unsigned char)s[i];

		if (c < 0x20 || c == 0x7f || c == '"') {
			free(out);
			return NULL;
		}
		if (c != '\\') {
			out[o++] = (char)c;
			continue;
		}
		c = (unsigned char)s[++i];
		if (c == 'n')
			out[o++] = '\n';
		else if (c == 'r')
			out[o++] = '\r';
		else if (c == 't')
			out[o++] = '\t';
		else if (c == '"' || c == '\\')
			out[o++] = (char)c;
		else if (c == 'x' && i + 2 < n - 1) {
			char hex[3] = { s[i + 1], s[i + 2], 0 };

			out[o++] = (char)strtol(hex, NULL, 16);
			i += 2;
		} else {
			free(out);
			return NULL;
		}
	}
	out[o] = '\0';
	return out;
}

static void test_round_trip(void **state)
{
	char in[99]; /* 98 bytes escaped as \xNN still fit, uncut */
	uint64_t x = 88172645463325252ull;

	(void)state;
	for (int c = 1; c < 256; c++) {
		char *back;

		in[0] = (char)c;
		in[1] = '\0';
		back = unquote(q(in));
		if (!back || strcmp(back, in) != 0)
			fail_msg("byte 0x%02x: %s", c, buf);
		free(back);
	}
	for (int round = 0; round < 20000; round++) {
		size_t len = 1 + round % (sizeof(in) - 1);
		char *back;

		for (size_t i = 0; i < len; i++) {
			x ^= x << 13;
			x ^= x >> 7;
			x ^= x << 17;
			in[i] = (char)(1 + x % 255);
		}
		in[len] = '\0';
		back = unquote(q(in));
		if (!back || strcmp(back, in) != 0)
			fail_msg("round %d did not come back: %s", round, buf);
		free(back);
	}
}

/* Runs fn with stderr going to a file; returns what it wrote. */
static char *captured(void (*fn)(void))
{
	char path[] = "/tmp/carelake-test-log-XXXXXX";
	int fd = mkstemp(path), saved = dup(2);
	char *text;
	FILE *f;
	long n;

	assert_true(fd >= 0 && saved >= 0);
	fflush(stderr);
	dup2(fd, 2);
	fn();
	fflush(stderr);
	dup2(saved, 2);
	close(saved);
	f = fdopen(fd, "r");
	fseek(f, 0, SEEK_END);
	n = ftell(f);
	fseek(f, 0, SEEK_SET);
	text = calloc(1, (size_t)n + 1);
	assert_int_equal(fread(text, 1, (size_t)n, f), (size_t)n);
	fclose(f);
	unlink(path);
	return text;
}

static void log_quoted(void)
{
	cl_log_error("test", "event=file_failed file=%s",
		     CL_LOG_Q("a\nts=2020-01-01T00:00:00Z level=error comp=x event=forged"));
}

static void log_raw(void)
{
	cl_log_error("test", "event=raw file=\"%s\"", "a\nts=2020 level=error\r\x1b[2J");
}

static int lines(const char *s)
{
	int n = 0;

	for (; *s; s++)
		n += *s == '\n';
	return n;
}

static void test_write_one_line(void **state)
{
	char *out;

	(void)state;
	out = captured(log_quoted);
	assert_int_equal(lines(out), 1);
	assert_non_null(strstr(out, " level=error comp=test event=file_failed file=\"a\\nts=2020-01-01"
				    "T00:00:00Z level=error comp=x event=forged\"\n"));
	assert_int_equal(strncmp(out, "ts=", 3), 0);
	free(out);
	/* a value a caller forgot to quote still makes one line */
	out = captured(log_raw);
	assert_int_equal(lines(out), 1);
	assert_non_null(strstr(out, "event=raw file=\"a?ts=2020 level=error??[2J\"\n"));
	free(out);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_known),
		cmocka_unit_test(test_cut_short),
		cmocka_unit_test(test_round_trip),
		cmocka_unit_test(test_write_one_line),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
