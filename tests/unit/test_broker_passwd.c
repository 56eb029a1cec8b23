/*
 * Device tokens as mosquitto passwords (auth/cl_broker_passwd): lines in
 * mosquitto 2's $7$ form that a line made by mosquitto_passwd itself
 * agrees with (known answer), salted anew each time, user names that
 * would break the file refused, and the file edited one user at a time
 * with every other line kept: made 0600, or keeping the mode it had.
 */
#include "cl_test.h"
#include "auth/cl_broker_passwd.h"
#include "core/cl_error.h"
#include "core/cl_fs.h"
#include "core/cl_mem.h"

#include <string.h>
#include <sys/stat.h>

static char dir[256];

/* Made by Debian's mosquitto_passwd 2.0.11: `mosquitto_passwd -b pw dev1 secret`. */
static const char *mosquitto_line =
	"dev1:$7$101$2+nDpchRrd14dppw$el8nrkfHIYDvZgftVUtRAu9HpjWSwnwFokOMupysSxJASASLnY+CTCo4"
	"HbueXJEWTry6GICel0C2KV44zSlYzw==";

static void test_known_answer(void **state)
{
	(void)state;
	assert_true(cl_broker_passwd_check(mosquitto_line, "secret"));
	assert_false(cl_broker_passwd_check(mosquitto_line, "Secret"));
	assert_false(cl_broker_passwd_check(mosquitto_line, ""));
	assert_false(cl_broker_passwd_check("dev1:$6$abc$def", "secret"));
	assert_false(cl_broker_passwd_check("dev1:$7$101$!!!!$abcd", "secret"));
	assert_false(cl_broker_passwd_check("dev1:$7$0$2+nDpchRrd14dppw$abcd", "secret"));
}

static void test_lines(void **state)
{
	char a[CL_BROKER_PASSWD_LINE_MAX], b[CL_BROKER_PASSWD_LINE_MAX];

	(void)state;
	assert_int_equal(cl_broker_passwd_line("monitor-1", "clk_token", a, sizeof(a)), CL_OK);
	assert_int_equal(cl_broker_passwd_line("monitor-1", "clk_token", b, sizeof(b)), CL_OK);
	assert_int_equal(strncmp(a, "monitor-1:$7$101$", 17), 0);
	assert_int_equal(strlen(a), strlen("monitor-1:$7$101$") + 16 + 1 + 88);
	assert_string_not_equal(a, b); /* a new salt each time */
	assert_true(cl_broker_passwd_check(a, "clk_token"));
	assert_true(cl_broker_passwd_check(b, "clk_token"));
	assert_false(cl_broker_passwd_check(a, "clk_tokeN"));
	assert_int_equal(cl_broker_passwd_line("", "x", a, sizeof(a)), CL_EINVAL);
	assert_int_equal(cl_broker_passwd_line("a:b", "x", a, sizeof(a)), CL_EINVAL);
	assert_int_equal(cl_broker_passwd_line("a\nb", "x", a, sizeof(a)), CL_EINVAL);
	assert_int_equal(cl_broker_passwd_line("monitor-1", "x", a, 40), CL_EINVAL);
}

static void test_file(void **state)
{
	char path[400], *text;
	size_t n;
	struct stat st;

	(void)state;
	snprintf(path, sizeof(path), "%s/passwd", dir);
	assert_int_equal(cl_broker_passwd_remove(path, "monitor-1"), CL_ENOENT);
	/* a file that is not there is made, 0600 */
	assert_int_equal(cl_broker_passwd_set(path, "monitor-1", "one"), CL_OK);
	assert_int_equal(stat(path, &st), 0);
	assert_int_equal(st.st_mode & 0777, 0600);
	/* one that is keeps its mode (the broker's user may read it by group) */
	assert_int_equal(cl_fs_write_atomic(path, "carelake:$7$101$x$y\n", 20, 0640), CL_OK);
	assert_int_equal(chmod(path, 0640), 0);
	assert_int_equal(cl_broker_passwd_set(path, "monitor-1", "one"), CL_OK);
	assert_int_equal(cl_broker_passwd_set(path, "monitor-10", "ten"), CL_OK);
	assert_int_equal(cl_broker_passwd_set(path, "monitor-1", "two"), CL_OK);
	assert_int_equal(stat(path, &st), 0);
	assert_int_equal(st.st_mode & 0777, 0640);
	assert_int_equal(cl_fs_read_file(path, 1 << 20, &text, &n), CL_OK);
	assert_int_equal(strncmp(text, "carelake:$7$101$x$y\nmonitor-10:", 31), 0);
	char *one = strstr(text, "\nmonitor-1:");
	assert_non_null(one);
	assert_null(strstr(one + 1, "\nmonitor-1:")); /* replaced, not added */
	*strchr(one + 1, '\n') = '\0';
	assert_true(cl_broker_passwd_check(one + 1, "two"));
	assert_false(cl_broker_passwd_check(one + 1, "one"));
	cl_free(text);
	assert_int_equal(cl_broker_passwd_remove(path, "monitor-1"), CL_OK);
	assert_int_equal(cl_broker_passwd_remove(path, "monitor-1"), CL_ENOENT);
	assert_int_equal(cl_fs_read_file(path, 1 << 20, &text, &n), CL_OK);
	assert_int_equal(strncmp(text, "carelake:$7$101$x$y\nmonitor-10:", 31), 0);
	assert_null(strstr(text, "\nmonitor-1:"));
	cl_free(text);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_known_answer),
		cmocka_unit_test(test_lines),
		cmocka_unit_test(test_file),
	};
	int rc;

	cl_test_tmpdir(dir, sizeof(dir));
	rc = cmocka_run_group_tests(tests, NULL, NULL);
	cl_test_rmtree(dir);
	return rc;
}
