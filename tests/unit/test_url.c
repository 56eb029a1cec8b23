/*
 * Percent-decoding (core/cl_url.c): %XX in either case, '+' as a space
 * only when asked, the bytes a path segment refuses, a NUL always refused,
 * a '%' without two hex digits, the output's bound; hex digit values.
 */
#include "cl_test.h"
#include "core/cl_error.h"
#include "core/cl_url.h"

static int dec(const char *in, unsigned flags, char *out, size_t cap)
{
	size_t len = 0;
	int rc = cl_pct_decode(in, strlen(in), out, cap, flags, &len);

	if (rc == CL_OK)
		assert_int_equal(len, strlen(out));
	return rc;
}

static void test_decode(void **state)
{
	char out[16];

	(void)state;
	assert_int_equal(dec("a%41%6a+b", 0, out, sizeof(out)), CL_OK);
	assert_string_equal(out, "aAj+b");
	assert_int_equal(dec("a%41%6a+b", CL_PCT_PLUS, out, sizeof(out)), CL_OK);
	assert_string_equal(out, "aAj b");
	assert_int_equal(dec("", 0, out, sizeof(out)), CL_OK);
	assert_string_equal(out, "");
	assert_int_equal(dec("a%2Fb", 0, out, sizeof(out)), CL_OK);
	assert_string_equal(out, "a/b");
	assert_int_equal(dec("a%2Fb", CL_PCT_NO_SLASH, out, sizeof(out)), CL_EINVAL);
	assert_non_null(strstr(cl_error_detail(), "'/'"));
	assert_int_equal(dec("a%0Ab", CL_PCT_NO_CTL, out, sizeof(out)), CL_EINVAL);
	assert_int_equal(dec("a%0Ab", 0, out, sizeof(out)), CL_OK);
	assert_int_equal(dec("a%00b", 0, out, sizeof(out)), CL_EINVAL);
	assert_non_null(strstr(cl_error_detail(), "NUL"));
	assert_int_equal(dec("a%4", 0, out, sizeof(out)), CL_EINVAL);
	assert_int_equal(dec("a%", 0, out, sizeof(out)), CL_EINVAL);
	assert_int_equal(dec("%zz", 0, out, sizeof(out)), CL_EINVAL);
	assert_non_null(strstr(cl_error_detail(), "at byte 0"));
	assert_int_equal(dec("0123456789abcdef", 0, out, sizeof(out)), CL_EINVAL);
	assert_int_equal(dec("0123456789abcde", 0, out, sizeof(out)), CL_OK);
	assert_int_equal(cl_hexval('0'), 0);
	assert_int_equal(cl_hexval('F'), 15);
	assert_int_equal(cl_hexval('f'), 15);
	assert_int_equal(cl_hexval('g'), -1);
	assert_int_equal(cl_hexval('/'), -1);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_decode),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
