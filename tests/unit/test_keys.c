/*
 * The keys directory (auth/cl_keys): where it is, a key made once with
 * mode 0600 and read back the same, and the keys it refuses to use.
 */
#include "cl_test.h"
#include "auth/cl_keys.h"
#include "core/cl_error.h"

#include <stdlib.h>
#include <sys/stat.h>

static char dir[256];

static void test_where(void **state)
{
	char out[512];

	(void)state;
	unsetenv("CARELAKE_KEYS");
	assert_int_equal(cl_keys_dir(NULL, "/srv/carelake", out, sizeof(out)), CL_OK);
	assert_string_equal(out, "/srv/carelake.keys");
	setenv("CARELAKE_KEYS", "/run/secrets/carelake", 1);
	assert_int_equal(cl_keys_dir("", "/srv/carelake", out, sizeof(out)), CL_OK);
	assert_string_equal(out, "/run/secrets/carelake");
	assert_int_equal(cl_keys_dir("/mnt/vault", "/srv/carelake", out, sizeof(out)), CL_OK);
	assert_string_equal(out, "/mnt/vault");
	unsetenv("CARELAKE_KEYS");
	assert_int_equal(cl_keys_dir(NULL, "/srv/carelake", out, 10), CL_EINVAL);
}

static void test_made_once(void **state)
{
	char keys[400], path[500];
	unsigned char a[32], b[32], other[32];
	struct stat st;

	(void)state;
	snprintf(keys, sizeof(keys), "%s/made.keys", dir);
	assert_int_equal(cl_keys_secret(keys, "pseudonym", a, sizeof(a)), CL_OK);
	assert_int_equal(cl_keys_secret(keys, "pseudonym", b, sizeof(b)), CL_OK);
	assert_memory_equal(a, b, sizeof(a));
	assert_int_equal(cl_keys_secret(keys, "date-shift", other, sizeof(other)), CL_OK);
	assert_memory_not_equal(a, other, sizeof(a));
	assert_int_equal(stat(keys, &st), 0);
	assert_int_equal(st.st_mode & 0777, 0700);
	snprintf(path, sizeof(path), "%s/pseudonym", keys);
	assert_int_equal(stat(path, &st), 0);
	assert_int_equal(st.st_mode & 0777, 0600);
	assert_int_equal(st.st_size, 32);
}

static void test_refused(void **state)
{
	char keys[400], path[500];
	unsigned char k[32];

	(void)state;
	snprintf(keys, sizeof(keys), "%s/bad.keys", dir);
	assert_int_equal(cl_keys_secret(keys, "signing", k, sizeof(k)), CL_OK);
	/* asked for with another size */
	assert_int_equal(cl_keys_secret(keys, "signing", k, 16), CL_EINVAL);
	assert_non_null(strstr(cl_error_detail(), "holds 32 bytes"));
	/* readable by others */
	snprintf(path, sizeof(path), "%s/signing", keys);
	assert_int_equal(chmod(path, 0644), 0);
	assert_int_equal(cl_keys_secret(keys, "signing", k, sizeof(k)), CL_EINVAL);
	assert_non_null(strstr(cl_error_detail(), "chmod 600"));
	/* names that would leave the directory, and sizes out of range */
	assert_int_equal(cl_keys_secret(keys, "../x", k, sizeof(k)), CL_EINVAL);
	assert_int_equal(cl_keys_secret(keys, ".hidden", k, sizeof(k)), CL_EINVAL);
	assert_int_equal(cl_keys_secret(keys, "short", k, 8), CL_EINVAL);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_where),
		cmocka_unit_test(test_made_once),
		cmocka_unit_test(test_refused),
	};
	int rc;

	cl_test_tmpdir(dir, sizeof(dir));
	rc = cmocka_run_group_tests(tests, NULL, NULL);
	cl_test_rmtree(dir);
	return rc;
}
