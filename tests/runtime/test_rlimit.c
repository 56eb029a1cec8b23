/*
 * A real write failure from the kernel, no injection: a child process
 * whose file-size limit (RLIMIT_FSIZE) is small appends until its writes
 * fail with EFBIG. Appends must then fail with CL_ENOSPC and a clear
 * message, and afterwards the parent (without the limit) must find every
 * acknowledged record intact and the log writable.
 */
#include "cl_test.h"
#include "bronze/cl_blog.h"
#include "bronze/cl_reader.h"
#include "core/cl_error.h"
#include "core/cl_log.h"

#include <signal.h>
#include <sys/resource.h>
#include <sys/wait.h>

static void test_file_size_limit(void **state)
{
	struct cl_blog_options o;
	struct cl_blog_reader *r;
	struct cl_frame f;
	struct cl_blog *log;
	char dir[256], msg[512] = { 0 };
	uint64_t acked = 0, n = 0, off;
	int fds[2], mfd[2], status;
	pid_t pid;

	(void)state;
	cl_test_tmpdir(dir, sizeof(dir));
	cl_blog_options_default(&o);
	o.segment_max_bytes = 1 << 20; /* larger than the limit: one segment */
	assert_int_equal(pipe(fds), 0);
	assert_int_equal(pipe(mfd), 0);
	pid = fork();
	if (pid == 0) {
		struct rlimit rl = { 64 * 1024, 64 * 1024 };
		char buf[512];
		int rc = CL_OK;
		uint64_t failed_id = 0;

		close(fds[0]);
		close(mfd[0]);
		signal(SIGXFSZ, SIG_IGN);
		setrlimit(RLIMIT_FSIZE, &rl);
		cl_log_threshold = -1;
		if (cl_blog_open(dir, "t", &o, &log) != CL_OK)
			_exit(2);
		for (uint64_t i = 0; i < 100000; i++) {
			cl_test_record(i, buf, cl_test_record_len(i));
			rc = cl_blog_append(log, buf, cl_test_record_len(i), &off);
			if (rc != CL_OK) {
				failed_id = i;
				break;
			}
			if (write(fds[1], &i, sizeof(i)) != sizeof(i))
				_exit(4);
		}
		/* report the error code and message, then retry the same record:
		 * it still does not fit, and fails the same way */
		dprintf(mfd[1], "%d|%s", rc, cl_error_detail());
		rc = cl_blog_append(log, buf, cl_test_record_len(failed_id), &off);
		cl_blog_close(log);
		if (rc != CL_ENOSPC)
			fprintf(stderr, "retry after the failure gave %d: %s\n", rc,
				cl_error_detail());
		_exit(rc == CL_ENOSPC ? 0 : 5);
	}
	close(fds[1]);
	close(mfd[1]);
	{
		uint64_t id;
		ssize_t got;

		while (read(fds[0], &id, sizeof(id)) == sizeof(id)) {
			assert_int_equal(id, acked); /* in order, one thread */
			acked++;
		}
		got = read(mfd[0], msg, sizeof(msg) - 1);
		msg[got > 0 ? got : 0] = '\0';
		close(mfd[0]);
	}
	close(fds[0]);
	assert_int_equal(waitpid(pid, &status, 0), pid);
	assert_true(WIFEXITED(status));
	assert_int_equal(WEXITSTATUS(status), 0);
	print_message("acknowledged %llu records before: %s\n",
		      (unsigned long long)acked, msg);
	assert_true(acked > 100);
	assert_non_null(strstr(msg, "-4|"));           /* CL_ENOSPC */
	assert_non_null(strstr(msg, "File too large")); /* the kernel's reason */

	/* without the limit: every acknowledged record, intact, then more */
	cl_log_threshold = CL_LOG_ERROR;
	assert_int_equal(cl_blog_open(dir, "t", &o, &log), CL_OK);
	assert_int_equal(cl_blog_durable_offset(log), acked);
	assert_int_equal(cl_blog_append(log, "after", 5, &off), CL_OK);
	assert_int_equal(off, acked);
	cl_blog_close(log);
	assert_int_equal(cl_blog_reader_open(dir, 0, UINT64_MAX, 1 << 20, &r), CL_OK);
	while (cl_blog_reader_next(r, &f) == 1) {
		char want[512];

		if (n < acked) {
			cl_test_record(n, want, cl_test_record_len(n));
			assert_int_equal(f.len, cl_test_record_len(n));
			assert_memory_equal(f.data, want, f.len);
		}
		n++;
	}
	cl_blog_reader_close(r);
	assert_int_equal(n, acked + 1);
	cl_test_rmtree(dir);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_file_size_limit),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
