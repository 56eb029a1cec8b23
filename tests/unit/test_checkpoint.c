/* Consumer checkpoints: durable store/load, damage detection, names. */
#include "cl_test.h"
#include "bronze/cl_checkpoint.h"
#include "core/cl_error.h"

#include <fcntl.h>

static void test_store_load(void **state)
{
	char dir[256];
	uint64_t off = 7;

	(void)state;
	cl_test_tmpdir(dir, sizeof(dir));
	assert_int_equal(cl_checkpoint_load(dir, "stream", &off), CL_ENOENT);
	assert_int_equal(off, 7);
	assert_int_equal(cl_checkpoint_store(dir, "stream", 12345), CL_OK);
	assert_int_equal(cl_checkpoint_load(dir, "stream", &off), CL_OK);
	assert_int_equal(off, 12345);
	assert_int_equal(cl_checkpoint_store(dir, "stream", UINT64_MAX - 1), CL_OK);
	assert_int_equal(cl_checkpoint_load(dir, "stream", &off), CL_OK);
	assert_int_equal(off, UINT64_MAX - 1);
	/* consumers are independent */
	assert_int_equal(cl_checkpoint_store(dir, "refine", 3), CL_OK);
	assert_int_equal(cl_checkpoint_load(dir, "refine", &off), CL_OK);
	assert_int_equal(off, 3);
	assert_int_equal(cl_checkpoint_load(dir, "stream", &off), CL_OK);
	assert_int_equal(off, UINT64_MAX - 1);
	cl_test_rmtree(dir);
}

static void test_damage_detected(void **state)
{
	char dir[256], path[512];
	uint64_t off;
	char buf[256];
	int fd;
	ssize_t n;

	(void)state;
	cl_test_tmpdir(dir, sizeof(dir));
	assert_int_equal(cl_checkpoint_store(dir, "stream", 4242), CL_OK);
	snprintf(path, sizeof(path), "%s/_checkpoints/stream.ckpt", dir);
	fd = open(path, O_RDWR);
	n = read(fd, buf, sizeof(buf));
	assert_true(n > 0);
	/* change one digit of the offset: the CRC must catch it */
	char *p = strstr(buf, "4242");
	assert_non_null(p);
	p[0] = '5';
	assert_int_equal(pwrite(fd, buf, (size_t)n, 0), n);
	close(fd);
	assert_int_equal(cl_checkpoint_load(dir, "stream", &off), CL_ECORRUPT);
	assert_non_null(strstr(cl_error_detail(), "checksum"));
	cl_test_rmtree(dir);
}

static void test_parse(void **state)
{
	uint64_t off;
	const char *ok_prefix = "carelake-checkpoint v1 consumer=c offset=10";
	char good[128];

	(void)state;
	assert_int_equal(cl_checkpoint_parse("", 0, "c", &off), CL_ECORRUPT);
	assert_int_equal(cl_checkpoint_parse("garbage", 7, "c", &off), CL_ECORRUPT);
	snprintf(good, sizeof(good), "%s crc32c=00000000\n", ok_prefix);
	assert_int_equal(cl_checkpoint_parse(good, strlen(good), "c", &off), CL_ECORRUPT);
	assert_int_equal(cl_checkpoint_parse(good, strlen(good), "other", &off), CL_ECORRUPT);
	assert_non_null(strstr(cl_error_detail(), "other"));
}

static void test_names(void **state)
{
	(void)state;
	assert_true(cl_name_valid("vitals"));
	assert_true(cl_name_valid("fhir-bundles_2"));
	assert_false(cl_name_valid(""));
	assert_false(cl_name_valid("_checkpoints"));
	assert_false(cl_name_valid("-x"));
	assert_false(cl_name_valid("Vitals"));
	assert_false(cl_name_valid("../etc"));
	assert_false(cl_name_valid("a/b"));
	assert_false(cl_name_valid("aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"));
	assert_int_equal(cl_checkpoint_store("/tmp", "../x", 1), CL_EINVAL);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_store_load),
		cmocka_unit_test(test_damage_detected),
		cmocka_unit_test(test_parse),
		cmocka_unit_test(test_names),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
