/*
 * A really full disk: a 1 MiB tmpfs is mounted, mostly filled with a
 * filler file, and the log appends until the kernel says ENOSPC (in a
 * record write or while creating a segment). Appends must fail with
 * CL_ENOSPC and the kernel's reason; every acknowledged record must be
 * readable after a reopen; once space is freed the log goes on with the
 * next offset. And a CSV load (rows built on one thread, written on
 * another: batch/cl_row_pipe.h) whose rows fill the disk: it fails with
 * SQLite's reason, naming the file, nothing of it is kept and nothing
 * loaded before is lost; once space is freed it loads. Needs permission to
 * mount; skipped (and says so) without.
 */
#include "cl_test.h"
#include "batch/cl_batch.h"
#include "bronze/cl_blog.h"
#include "bronze/cl_bronze.h"
#include "bronze/cl_reader.h"
#include "core/cl_error.h"
#include "core/cl_log.h"

#include <errno.h>
#include <fcntl.h>
#include <sqlite3.h>
#include <sys/mount.h>
#include <sys/statvfs.h>

static char mnt[256];
static int mounted;

static int setup(void **state)
{
	(void)state;
	cl_test_tmpdir(mnt, sizeof(mnt));
	mounted = cl_test_mount_tmpfs(mnt, "1m");
	return 0;
}

/* A larger tmpfs, for a load into silver. */
static int setup_large(void **state)
{
	(void)state;
	cl_test_tmpdir(mnt, sizeof(mnt));
	mounted = cl_test_mount_tmpfs(mnt, "64m");
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

/* A CSV file of n observations from row `from`. */
static void write_csv(const char *path, long from, long n)
{
	FILE *f = fopen(path, "w");

	assert_non_null(f);
	fputs("DATE,PATIENT,ENCOUNTER,CATEGORY,CODE,DESCRIPTION,VALUE,UNITS,TYPE\n", f);
	for (long i = from; i < from + n; i++)
		fprintf(f, "2026-11-%02ldT%02ld:%02ld:%02ldZ,p%ld,,vital-signs,8867-4,Heart rate,%ld,"
			"/min,numeric\n", i % 28 + 1, i / 3600 % 24, i / 60 % 60, i % 60, i % 50,
			50 + i % 80);
	fclose(f);
}

static long rows_in(struct cl_batch *b)
{
	sqlite3_stmt *q;
	long n = -1;

	assert_int_equal(sqlite3_prepare_v2(cl_batch_db(b), "SELECT count(*) FROM observation",
					    -1, &q, NULL), SQLITE_OK);
	if (sqlite3_step(q) == SQLITE_ROW)
		n = (long)sqlite3_column_int64(q, 0);
	sqlite3_finalize(q);
	return n;
}

static void test_csv_load_fills_the_disk(void **state)
{
	char data[300], small[300], big[300], filler[300], buf[4096];
	struct cl_lake_opts off = { 0 };
	struct cl_batch_summary sum;
	struct cl_batch *b;
	char *paths[1];
	int fd;

	(void)state;
	if (!mounted) {
		print_message("skipped: no permission to mount a tmpfs here\n");
		skip();
	}
	snprintf(data, sizeof(data), "%s/data", mnt);
	snprintf(small, sizeof(small), "%s/small.csv", mnt);
	snprintf(big, sizeof(big), "%s/big.csv", mnt);
	write_csv(small, 0, 500);
	write_csv(big, 500, 20000); /* about 2 MiB of CSV, far more as rows */
	assert_int_equal(cl_batch_open(data, &b), CL_OK);
	cl_batch_set_lake(b, &off, 0);
	paths[0] = small;
	assert_int_equal(cl_batch_ingest(b, NULL, paths, 1, NULL, NULL, NULL, &sum), CL_OK);
	assert_int_equal(rows_in(b), 500);
	/* fill what is left but room for the big file's bronze copy and a
	 * little more: its rows cannot fit */
	snprintf(filler, sizeof(filler), "%s/filler", mnt);
	fd = open(filler, O_WRONLY | O_CREAT, 0600);
	assert_true(fd >= 0);
	memset(buf, 'f', sizeof(buf));
	{
		struct statvfs v;
		long room;

		assert_int_equal(statvfs(mnt, &v), 0);
		room = (long)(v.f_bavail * v.f_frsize) - 4l * 1024 * 1024;
		for (long w = 0; w + (long)sizeof(buf) <= room; w += (long)sizeof(buf))
			assert_int_equal(write(fd, buf, sizeof(buf)), (ssize_t)sizeof(buf));
	}
	close(fd);
	paths[0] = big;
	assert_int_not_equal(cl_batch_ingest(b, NULL, paths, 1, NULL, NULL, NULL, &sum), CL_OK);
	assert_non_null(strstr(sum.error, "big.csv"));
	assert_non_null(strstr(sum.error, "full"));
	/* nothing of it; everything before it */
	assert_int_equal(rows_in(b), 500);
	cl_batch_close(b);
	assert_int_equal(unlink(filler), 0);
	assert_int_equal(cl_batch_open(data, &b), CL_OK);
	cl_batch_set_lake(b, &off, 0);
	assert_int_equal(rows_in(b), 500);
	if (cl_batch_ingest(b, NULL, paths, 1, NULL, NULL, NULL, &sum) != CL_OK)
		fail_msg("the load after space was freed: %s", sum.error);
	assert_int_equal(rows_in(b), 20500);
	cl_batch_close(b);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_tmpfs_full, setup, teardown),
		cmocka_unit_test_setup_teardown(test_csv_load_fills_the_disk, setup_large,
						teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
