/*
 * A really full disk: a 1 MiB tmpfs is mounted, mostly filled with a
 * filler file, and the log appends until the kernel says ENOSPC (in a
 * record write or while creating a segment). Appends must fail with
 * CL_ENOSPC and the kernel's reason; every acknowledged record must be
 * readable after a reopen; once space is freed the log goes on with the
 * next offset. Needs permission to mount; skipped (and says so) without.
 */
#include "cl_test.h"
#include "bronze/cl_blog.h"
#include "bronze/cl_bronze.h"
#include "bronze/cl_reader.h"
#include "core/cl_error.h"
#include "core/cl_log.h"

#include <errno.h>
#include <fcntl.h>
#include <sys/mount.h>

static char mnt[256];
static int mounted;

static int setup(void **state)
{
	(void)state;
	cl_test_tmpdir(mnt, sizeof(mnt));
	mounted = cl_test_mount_tmpfs(mnt, "1m");
	return 0;
}

static int teardown(void **state)
{
	(void)state;
	if (mounted)
		umount2(mnt, MNT_DETACH);
	rmdir(mnt);
	return 0;
}

static void test_tmpfs_full(void **state)
{
	struct cl_blog_options o;
	struct cl_bronze_report rep;
	struct cl_blog_reader *r;
	struct cl_frame f;
	struct cl_blog *log;
	char filler[300], src[300], buf[512];
	uint64_t acked = 0, off, n = 0;
	int rc = CL_OK, fd;

	(void)state;
	if (!mounted) {
		print_message("skipped: no permission to mount a tmpfs here\n");
		skip();
	}
	/* leave about 200 KiB free */
	snprintf(filler, sizeof(filler), "%s/filler", mnt);
	fd = open(filler, O_WRONLY | O_CREAT, 0600);
	assert_true(fd >= 0);
	memset(buf, 'f', sizeof(buf));
	for (int i = 0; i < (800 * 1024) / 512; i++)
		assert_int_equal(write(fd, buf, 512), 512);
	close(fd);

	snprintf(src, sizeof(src), "%s/bronze/vitals", mnt);
	cl_blog_options_default(&o);
	o.segment_max_bytes = 48 * 1024; /* rotations happen while filling up */
	cl_log_threshold = -1;
	assert_int_equal(cl_blog_open(src, "vitals", &o, &log), CL_OK);
	for (uint64_t i = 0; i < 100000; i++) {
		cl_test_record(i, buf, cl_test_record_len(i));
		rc = cl_blog_append(log, buf, cl_test_record_len(i), &off);
		if (rc != CL_OK)
			break;
		assert_int_equal(off, i);
		acked++;
	}
	assert_int_equal(rc, CL_ENOSPC);
	assert_non_null(strstr(cl_error_detail(), "No space left on device"));
	print_message("%llu records acknowledged before: %s\n",
		      (unsigned long long)acked, cl_error_detail());
	assert_true(acked > 500);
	/* still full: still a clear failure, not a hang or a crash */
	assert_int_equal(cl_blog_append(log, buf, 400, &off), CL_ENOSPC);
	cl_blog_close(log);

	/* everything acknowledged is there, intact, and nothing else */
	assert_int_equal(cl_blog_reader_open(src, 0, UINT64_MAX, 1 << 20, &r), CL_OK);
	while ((rc = cl_blog_reader_next(r, &f)) == 1) {
		assert_int_equal(f.offset, n);
		cl_test_record(n, buf, cl_test_record_len(n));
		assert_int_equal(f.len, cl_test_record_len(n));
		assert_memory_equal(f.data, buf, f.len);
		n++;
	}
	assert_int_equal(rc, 0);
	assert_int_equal(cl_blog_reader_tail_bytes(r), 0);
	cl_blog_reader_close(r);
	assert_int_equal(n, acked);

	/* space comes back: the log goes on at the next offset */
	assert_int_equal(unlink(filler), 0);
	assert_int_equal(cl_blog_open(src, "vitals", &o, &log), CL_OK);
	assert_int_equal(cl_blog_durable_offset(log), acked);
	cl_test_record(acked, buf, cl_test_record_len(acked));
	assert_int_equal(cl_blog_append(log, buf, cl_test_record_len(acked), &off), CL_OK);
	assert_int_equal(off, acked);
	cl_blog_close(log);
	assert_int_equal(cl_bronze_verify(mnt, NULL, 1 << 20, &rep), CL_OK);
	assert_int_equal(rep.total.records, acked + 1);
	assert_int_equal(rep.total.corrupt_records, 0);
	assert_int_equal(rep.total.torn_tail_bytes, 0);
	cl_bronze_report_free(&rep);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_tmpfs_full, setup, teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
