/* CRC-32C: known vectors, hardware equals software, incremental use. */
#include "cl_test.h"
#include "core/cl_crc32c.h"

static void test_vectors(void **state)
{
	uint8_t zeros[32] = { 0 }, ones[32];

	(void)state;
	memset(ones, 0xff, sizeof(ones));
	/* RFC 3720 (iSCSI) appendix B.4 and the standard check value */
	assert_int_equal(cl_crc32c(0, "123456789", 9), 0xE3069283u);
	assert_int_equal(cl_crc32c(0, zeros, 32), 0x8A9136AAu);
	assert_int_equal(cl_crc32c(0, ones, 32), 0x62A8AB43u);
	assert_int_equal(cl_crc32c_sw(0, "123456789", 9), 0xE3069283u);
	assert_int_equal(cl_crc32c(0, "", 0), 0u);
}

static void test_hw_equals_sw(void **state)
{
	uint8_t buf[4096];

	(void)state;
	for (size_t i = 0; i < sizeof(buf); i++)
		buf[i] = (uint8_t)(i * 131 + 7);
	for (size_t off = 0; off < 9; off++)
		for (size_t len = 0; len + off <= sizeof(buf); len += 97)
			assert_int_equal(cl_crc32c(0, buf + off, len),
					 cl_crc32c_sw(0, buf + off, len));
}

static void test_incremental(void **state)
{
	const char *s = "The quick brown fox jumps over the lazy dog";
	size_t n = strlen(s);

	(void)state;
	for (size_t cut = 0; cut <= n; cut++)
		assert_int_equal(cl_crc32c(cl_crc32c(0, s, cut), s + cut, n - cut),
				 cl_crc32c(0, s, n));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_vectors),
		cmocka_unit_test(test_hw_equals_sw),
		cmocka_unit_test(test_incremental),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
