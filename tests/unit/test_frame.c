/* Frame and segment-header encoding and validation. */
#include "cl_test.h"
#include "bronze/cl_segment.h"
#include "core/cl_error.h"

static void test_roundtrip(void **state)
{
	uint8_t buf[256];
	struct cl_frame f;
	const char *payload = "{\"type\":\"heart_rate\",\"value\":72}";
	uint32_t len = (uint32_t)strlen(payload);

	(void)state;
	memcpy(buf + CL_FRAME_HEADER_SIZE, payload, len);
	cl_frame_header_encode(buf, buf + CL_FRAME_HEADER_SIZE, len, 42, 1234567);
	assert_int_equal(cl_frame_check(buf, CL_FRAME_HEADER_SIZE + len, 1024, 42, 0, &f),
			 CL_FRAME_HEADER_SIZE + len);
	assert_int_equal(f.offset, 42);
	assert_int_equal(f.ts_us, 1234567);
	assert_int_equal(f.len, len);
	assert_memory_equal(f.data, payload, len);
}

static void test_every_bit_flip_detected(void **state)
{
	uint8_t buf[64], copy[64];
	uint32_t len = 20;

	(void)state;
	for (uint32_t i = 0; i < len; i++)
		buf[CL_FRAME_HEADER_SIZE + i] = (uint8_t)(i * 7);
	cl_frame_header_encode(buf, buf + CL_FRAME_HEADER_SIZE, len, 9, 99);
	for (size_t byte = 0; byte < CL_FRAME_HEADER_SIZE + len; byte++) {
		for (int bit = 0; bit < 8; bit++) {
			memcpy(copy, buf, sizeof(buf));
			copy[byte] ^= (uint8_t)(1 << bit);
			assert_int_equal(cl_frame_check(copy, CL_FRAME_HEADER_SIZE + len,
							1024, 9, 0, NULL), 0);
		}
	}
}

static void test_rejects_wrong_offset_length_and_short(void **state)
{
	uint8_t buf[64];
	uint32_t len = 16;

	(void)state;
	memset(buf + CL_FRAME_HEADER_SIZE, 'x', len);
	cl_frame_header_encode(buf, buf + CL_FRAME_HEADER_SIZE, len, 5, 1);
	/* the expected offset must match exactly, unless resyncing */
	assert_int_equal(cl_frame_check(buf, 40, 1024, 4, 0, NULL), 0);
	assert_int_equal(cl_frame_check(buf, 40, 1024, 6, 0, NULL), 0);
	assert_int_equal(cl_frame_check(buf, 40, 1024, 4, 1, NULL), 40);
	assert_int_equal(cl_frame_check(buf, 40, 1024, 6, 1, NULL), 0);
	/* a payload over the limit, or cut short, is invalid */
	assert_int_equal(cl_frame_check(buf, 40, 15, 5, 0, NULL), 0);
	for (size_t avail = 0; avail < 40; avail++)
		assert_int_equal(cl_frame_check(buf, avail, 1024, 5, 0, NULL), 0);
}

static void test_segment_header(void **state)
{
	uint8_t h[CL_SEG_HEADER_SIZE];

	(void)state;
	cl_segment_header_encode(h, 1000, 5);
	assert_int_equal(cl_segment_header_check(h, 1000), CL_OK);
	assert_int_equal(cl_segment_header_check(h, 999), CL_ECORRUPT);
	assert_non_null(strstr(cl_error_detail(), "does not match"));
	h[20] ^= 1;
	assert_int_equal(cl_segment_header_check(h, 1000), CL_ECORRUPT);
	cl_segment_header_encode(h, 1000, 5);
	h[0] = 'X';
	assert_int_equal(cl_segment_header_check(h, 1000), CL_ECORRUPT);
	assert_non_null(strstr(cl_error_detail(), "magic"));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_roundtrip),
		cmocka_unit_test(test_every_bit_flip_detected),
		cmocka_unit_test(test_rejects_wrong_offset_length_and_short),
		cmocka_unit_test(test_segment_header),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
