/*
 * Authentication failures per client address (serve/cl_authlimit.h): an
 * address is blocked after `max` failures within the window, for the
 * window since its last failure, with the seconds left; other addresses
 * are not; a window that passes without a block starts counting anew; a
 * flood of addresses cannot grow the table or unblock the one that is.
 */
#include "cl_test.h"

#include "serve/cl_authlimit.h"

#define SEC 1000000ll

static void test_blocks_after_max(void **state)
{
	struct cl_authlimit *l;
	int64_t t = 1000 * SEC;

	(void)state;
	assert_int_equal(cl_authlimit_create(3, 60 * SEC, &l), 0);
	for (int i = 0; i < 2; i++)
		cl_authlimit_failed(l, "10.0.0.1", t + i * SEC);
	assert_int_equal(cl_authlimit_blocked(l, "10.0.0.1", t + 2 * SEC), 0);
	cl_authlimit_failed(l, "10.0.0.1", t + 2 * SEC);
	/* blocked for the window after its last failure, rounded up */
	assert_int_equal(cl_authlimit_blocked(l, "10.0.0.1", t + 2 * SEC), 60);
	assert_int_equal(cl_authlimit_blocked(l, "10.0.0.1", t + 61 * SEC + 1), 1);
	assert_int_equal(cl_authlimit_blocked(l, "10.0.0.2", t + 3 * SEC), 0);
	assert_int_equal(cl_authlimit_blocked(l, "10.0.0.1", t + 63 * SEC), 0);
	/* after the block, one failure is not a block again */
	cl_authlimit_failed(l, "10.0.0.1", t + 64 * SEC);
	assert_int_equal(cl_authlimit_blocked(l, "10.0.0.1", t + 64 * SEC), 0);
	cl_authlimit_destroy(l);
	cl_authlimit_destroy(NULL);
}

static void test_window_restarts(void **state)
{
	struct cl_authlimit *l;
	int64_t t = 1000 * SEC;

	(void)state;
	assert_int_equal(cl_authlimit_create(3, 10 * SEC, &l), 0);
	cl_authlimit_failed(l, "a", t);
	cl_authlimit_failed(l, "a", t + 9 * SEC);
	/* the third is outside the first's window: counting starts anew */
	cl_authlimit_failed(l, "a", t + 15 * SEC);
	assert_int_equal(cl_authlimit_blocked(l, "a", t + 15 * SEC), 0);
	cl_authlimit_failed(l, "a", t + 16 * SEC);
	cl_authlimit_failed(l, "a", t + 17 * SEC);
	assert_true(cl_authlimit_blocked(l, "a", t + 17 * SEC) > 0);
	/* no address, no limit */
	cl_authlimit_failed(l, "", t);
	assert_int_equal(cl_authlimit_blocked(l, "", t), 0);
	cl_authlimit_destroy(l);
}

static void test_flood_keeps_the_blocked(void **state)
{
	struct cl_authlimit *l;
	int64_t t = 1000 * SEC;
	char addr[32];

	(void)state;
	assert_int_equal(cl_authlimit_create(2, 60 * SEC, &l), 0);
	cl_authlimit_failed(l, "attacker", t + 50 * SEC);
	cl_authlimit_failed(l, "attacker", t + 50 * SEC);
	/* older single failures from many addresses */
	for (int i = 0; i < 20000; i++) {
		snprintf(addr, sizeof(addr), "10.%d.%d.%d", i >> 16, (i >> 8) & 255, i & 255);
		cl_authlimit_failed(l, addr, t + 40 * SEC);
	}
	assert_true(cl_authlimit_blocked(l, "attacker", t + 51 * SEC) > 0);
	cl_authlimit_destroy(l);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_blocks_after_max),
		cmocka_unit_test(test_window_restarts),
		cmocka_unit_test(test_flood_keeps_the_blocked),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
