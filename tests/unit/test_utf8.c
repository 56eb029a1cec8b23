/* UTF-8 validation against RFC 3629's edge cases. */
#include "cl_test.h"
#include "core/cl_utf8.h"

static size_t check(const char *s)
{
	return cl_utf8_check(s, strlen(s));
}

static void test_valid(void **state)
{
	(void)state;
	assert_int_equal(check(""), 0);
	assert_int_equal(check("plain ascii"), 11);
	assert_int_equal(check("37.5 \xc2\xb0" "C"), 8);                /* degree sign */
	assert_int_equal(check("\xe2\x82\xac"), 3);                     /* euro */
	assert_int_equal(check("\xed\x9f\xbf"), 3);                     /* U+D7FF */
	assert_int_equal(check("\xf0\x9f\x98\x80"), 4);                 /* emoji */
	assert_int_equal(check("\xf4\x8f\xbf\xbf"), 4);                 /* U+10FFFF */
}

static void test_invalid(void **state)
{
	(void)state;
	assert_int_equal(check("ab\x80"), 2);                /* lone continuation */
	assert_int_equal(check("\xc0\xaf"), 0);              /* overlong '/' */
	assert_int_equal(check("\xe0\x80\xaf"), 0);          /* overlong */
	assert_int_equal(check("\xed\xa0\x80"), 0);          /* surrogate */
	assert_int_equal(check("\xf4\x90\x80\x80"), 0);      /* > U+10FFFF */
	assert_int_equal(check("\xf5\x80\x80\x80"), 0);
	assert_int_equal(check("x\xe2\x82"), 1);             /* truncated */
	assert_int_equal(check("\xe2\x28\xa1"), 0);          /* bad second byte */
	assert_int_equal(check("%\xbc" "i"), 1);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_valid),
		cmocka_unit_test(test_invalid),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
