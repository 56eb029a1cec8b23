/*
 * Recovery on open: a torn tail cut at every byte of the last record, a
 * damaged byte anywhere in the last record, zero-filled and garbage tails,
 * a torn segment creation, a torn tail in the segment before a newer one
 * (rotation does not wait for the old segment's fdatasync), and corruption
 * in the middle of the log, which must be reported but never truncated
 * away.
 */
#include "cl_test.h"
#include "bronze/cl_blog.h"
#include "bronze/cl_bronze.h"
#include "bronze/cl_reader.h"
#include "bronze/cl_segment.h"
#include "core/cl_error.h"
#include "core/cl_log.h"

#include <fcntl.h>
#include <sys/stat.h>

#define N 20

static char dir[256];
static char seg_path[512];
static uint8_t *pristine;   /* the segment after N clean appends */
static size_t pristine_len;
static size_t rec_start[N + 1]; /* byte where record i starts; [N] = end */

static struct cl_blog_options opts(void)
{
	struct cl_blog_options o;

	cl_blog_options_default(&o);
	return o;
}

static void write_file(const uint8_t *data, size_t len)
{
	int fd = open(seg_path, O_WRONLY | O_TRUNC);

	assert_true(fd >= 0);
	assert_int_equal(write(fd, data, len), (ssize_t)len);
	close(fd);
}

static off_t file_size(void)
{
	struct stat st;

	assert_int_equal(stat(seg_path, &st), 0);
	return st.st_size;
}

/* Reads everything back; checks records 0..n-1 are intact. */
static void expect_records(uint64_t n)
{
	struct cl_blog_reader *r;
	struct cl_frame f;
	uint64_t i = 0;
	char buf[512];
	int rc;

	assert_int_equal(cl_blog_reader_open(dir, 0, UINT64_MAX, 1 << 20, &r), CL_OK);
	while ((rc = cl_blog_reader_next(r, &f)) == 1) {
		assert_int_equal(f.offset, i);
		cl_test_record(i, buf, cl_test_record_len(i));
		assert_int_equal(f.len, cl_test_record_len(i));
		assert_memory_equal(f.data, buf, f.len);
		i++;
	}
	assert_int_equal(rc, 0);
	assert_int_equal(i, n);
	cl_blog_reader_close(r);
}

static void append_one(struct cl_blog *log, uint64_t id)
{
	char buf[512];
	uint64_t off;

	cl_test_record(id, buf, cl_test_record_len(id));
	assert_int_equal(cl_blog_append(log, buf, cl_test_record_len(id), &off), CL_OK);
	assert_int_equal(off, id);
}

static int setup(void **state)
{
	struct cl_blog_options o = opts();
	struct cl_segment_info *segs;
	struct cl_blog *log;
	size_t n;
	int fd;

	(void)state;
	cl_log_threshold = CL_LOG_ERROR; /* recoveries are expected here */
	cl_test_tmpdir(dir, sizeof(dir));
	assert_int_equal(cl_blog_open(dir, "t", &o, &log), CL_OK);
	rec_start[0] = CL_SEG_HEADER_SIZE;
	for (uint64_t i = 0; i < N; i++) {
		append_one(log, i);
		rec_start[i + 1] = rec_start[i] + CL_FRAME_HEADER_SIZE + cl_test_record_len(i);
	}
	cl_blog_close(log);
	assert_int_equal(cl_segment_list(dir, &segs, &n), CL_OK);
	assert_int_equal(n, 1);
	snprintf(seg_path, sizeof(seg_path), "%s", segs[0].path);
	cl_segment_list_free(segs, n);
	pristine_len = (size_t)file_size();
	assert_int_equal(pristine_len, rec_start[N]);
	pristine = malloc(pristine_len);
	fd = open(seg_path, O_RDONLY);
	assert_int_equal(read(fd, pristine, pristine_len), (ssize_t)pristine_len);
	close(fd);
	return 0;
}

static int teardown(void **state)
{
	(void)state;
	free(pristine);
	cl_test_rmtree(dir);
	return 0;
}

/* Opens (recovering), checks what survived, appends one more, re-checks. */
static void recover_and_check(uint64_t survivors, uint64_t dropped)
{
	struct cl_blog_options o = opts();
	struct cl_blog_stats st;
	struct cl_blog *log;

	assert_int_equal(cl_blog_open(dir, "t", &o, &log), CL_OK);
	cl_blog_get_stats(log, &st);
	assert_int_equal(st.recovered_dropped_bytes, dropped);
	assert_int_equal(cl_blog_durable_offset(log), survivors);
	assert_int_equal(file_size(), (off_t)rec_start[survivors]);
	append_one(log, survivors); /* the log goes on right after them */
	cl_blog_close(log);
	expect_records(survivors + 1);
}

static void test_torn_tail_every_byte(void **state)
{
	(void)state;
	/* cut inside the last record, at every byte */
	for (size_t cut = rec_start[N - 1] + 1; cut < rec_start[N]; cut++) {
		write_file(pristine, cut);
		recover_and_check(N - 1, cut - rec_start[N - 1]);
	}
	/* a cut exactly on a record boundary loses nothing */
	write_file(pristine, rec_start[N - 1]);
	recover_and_check(N - 1, 0);
	write_file(pristine, pristine_len);
	recover_and_check(N, 0);
}

static void test_damaged_last_record_every_byte(void **state)
{
	uint8_t *copy = malloc(pristine_len);

	(void)state;
	for (size_t at = rec_start[N - 1]; at < rec_start[N]; at++) {
		memcpy(copy, pristine, pristine_len);
		copy[at] ^= 0x5a;
		write_file(copy, pristine_len);
		recover_and_check(N - 1, rec_start[N] - rec_start[N - 1]);
	}
	free(copy);
}

static void test_zero_and_garbage_tails(void **state)
{
	uint8_t *copy = malloc(pristine_len + 4096);

	(void)state;
	memcpy(copy, pristine, pristine_len);
	memset(copy + pristine_len, 0, 4096);
	write_file(copy, pristine_len + 4096);
	recover_and_check(N, 4096);
	for (size_t i = 0; i < 4096; i++)
		copy[pristine_len + i] = (uint8_t)(i * 37 + 11);
	write_file(copy, pristine_len + 4096);
	recover_and_check(N, 4096);
	free(copy);
}

static void test_torn_segment_creation(void **state)
{
	struct cl_blog_options o = opts();
	struct cl_blog *log;

	(void)state;
	/* a crash after creating the file, before its header was whole */
	for (size_t len = 0; len < CL_SEG_HEADER_SIZE; len++) {
		write_file(pristine, len);
		assert_int_equal(cl_blog_open(dir, "t", &o, &log), CL_OK);
		assert_int_equal(cl_blog_durable_offset(log), 0);
		append_one(log, 0);
		cl_blog_close(log);
		expect_records(1);
	}
}

static void write_path(const char *path, const uint8_t *data, size_t len)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0600);

	assert_true(fd >= 0);
	assert_int_equal(write(fd, data, len), (ssize_t)len);
	close(fd);
}

/* The log rotated and wrote records N..N+2 to a new segment, and the
 * machine crashed before the old segment's last record was durable (the
 * kernel wrote the new file out first). None of the new segment's records
 * was acknowledged, so it goes, and the old tail is cut as usual. */
static void test_torn_tail_before_newer_segment(void **state)
{
	struct cl_blog_options o = opts();
	struct cl_segment_info *segs;
	struct cl_blog *log;
	char next_path[512];
	uint8_t next[4096];
	size_t n, next_len;
	int fd;

	(void)state;
	o.segment_max_bytes = pristine_len; /* the next record starts a segment */
	assert_int_equal(cl_blog_open(dir, "t", &o, &log), CL_OK);
	for (uint64_t i = N; i < N + 3; i++)
		append_one(log, i);
	cl_blog_close(log);
	assert_int_equal(cl_segment_list(dir, &segs, &n), CL_OK);
	assert_int_equal(n, 2);
	assert_int_equal(segs[1].base, N);
	snprintf(next_path, sizeof(next_path), "%s", segs[1].path);
	cl_segment_list_free(segs, n);
	fd = open(next_path, O_RDONLY);
	next_len = (size_t)read(fd, next, sizeof(next));
	close(fd);
	assert_true(next_len > CL_SEG_HEADER_SIZE);

	for (size_t cut = rec_start[N - 1] + 1; cut < rec_start[N]; cut++) {
		write_file(pristine, cut);
		write_path(next_path, next, next_len);
		recover_and_check(N - 1, cut - rec_start[N - 1]);
		assert_int_equal(access(next_path, F_OK), -1);
	}
	/* the old segment whole: the new one and its records stay */
	write_file(pristine, pristine_len);
	write_path(next_path, next, next_len);
	assert_int_equal(cl_blog_open(dir, "t", &o, &log), CL_OK);
	assert_int_equal(cl_blog_durable_offset(log), N + 3);
	cl_blog_close(log);
	expect_records(N + 3);
}

static void test_mid_log_corruption_kept_and_reported(void **state)
{
	struct cl_blog_options o = opts();
	struct cl_blog_stats st;
	struct cl_blog *log;
	struct cl_blog_reader *r;
	struct cl_frame f;
	uint8_t *copy = malloc(pristine_len);
	uint64_t got = 0;
	int corrupt = 0, rc;

	(void)state;
	memcpy(copy, pristine, pristine_len);
	copy[rec_start[5] + CL_FRAME_HEADER_SIZE + 3] ^= 0x01; /* record 5's payload */
	write_file(copy, pristine_len);
	assert_int_equal(cl_blog_open(dir, "t", &o, &log), CL_OK);
	cl_blog_get_stats(log, &st);
	assert_int_equal(st.recovered_dropped_bytes, 0);     /* nothing truncated */
	assert_int_equal(st.corrupt_regions, 1);
	assert_int_equal(cl_blog_durable_offset(log), N);    /* offsets go on */
	assert_int_equal(file_size(), (off_t)pristine_len);
	append_one(log, N);
	cl_blog_close(log);

	/* the reader reports the bad record once and goes on after it */
	assert_int_equal(cl_blog_reader_open(dir, 0, UINT64_MAX, 1 << 20, &r), CL_OK);
	while ((rc = cl_blog_reader_next(r, &f)) != 0) {
		if (rc == CL_ECORRUPT) {
			corrupt++;
			assert_non_null(strstr(cl_error_detail(), "1 records lost"));
			continue;
		}
		assert_int_equal(rc, 1);
		assert_int_not_equal(f.offset, 5);
		got++;
	}
	cl_blog_reader_close(r);
	assert_int_equal(corrupt, 1);
	assert_int_equal(got, N); /* N + 1 written, record 5 lost */
	free(copy);
}

static void test_verify_counts_corruption(void **state)
{
	struct cl_bronze_report rep;
	uint8_t *copy = malloc(pristine_len);
	char top[300], src[400], cmd[2048];

	(void)state;
	/* verify works on a data dir: put the segment under bronze/<source> */
	snprintf(top, sizeof(top), "%s-data", dir);
	snprintf(src, sizeof(src), "%s/bronze/vitals", top);
	snprintf(cmd, sizeof(cmd), "mkdir -p %s && cp -r %s/dt=* %s/", src, dir, src);
	assert_int_equal(system(cmd), 0);
	assert_int_equal(cl_bronze_verify(top, NULL, 1 << 20, &rep), CL_OK);
	assert_int_equal(rep.total.records, N);
	assert_int_equal(rep.total.corrupt_records, 0);
	cl_bronze_report_free(&rep);

	/* damage records 3 and 4 in place: two records lost, one region */
	{
		struct cl_segment_info *segs;
		size_t n;
		int fd;

		assert_int_equal(cl_segment_list(src, &segs, &n), CL_OK);
		memcpy(copy, pristine, pristine_len);
		copy[rec_start[3] + 30] ^= 0xff;
		copy[rec_start[4] + 30] ^= 0xff;
		fd = open(segs[0].path, O_WRONLY | O_TRUNC);
		assert_int_equal(write(fd, copy, pristine_len), (ssize_t)pristine_len);
		/* and a torn tail: half a frame header */
		assert_int_equal(write(fd, pristine + rec_start[2], 10), 10);
		close(fd);
		cl_segment_list_free(segs, n);
	}
	assert_int_equal(cl_bronze_verify(top, "vitals", 1 << 20, &rep), CL_OK);
	assert_int_equal(rep.total.records, N - 2);
	assert_int_equal(rep.total.corrupt_records, 2);
	assert_int_equal(rep.total.torn_tail_bytes, 10);
	assert_int_equal(rep.sources[0].corrupt_records, 2);
	assert_true(rep.nproblems >= 1);
	assert_non_null(strstr(rep.problems[0], "2 records lost"));
	cl_bronze_report_free(&rep);
	cl_test_rmtree(top);
	free(copy);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_torn_tail_every_byte, setup, teardown),
		cmocka_unit_test_setup_teardown(test_damaged_last_record_every_byte, setup, teardown),
		cmocka_unit_test_setup_teardown(test_zero_and_garbage_tails, setup, teardown),
		cmocka_unit_test_setup_teardown(test_torn_segment_creation, setup, teardown),
		cmocka_unit_test_setup_teardown(test_torn_tail_before_newer_segment, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_mid_log_corruption_kept_and_reported, setup, teardown),
		cmocka_unit_test_setup_teardown(test_verify_counts_corruption, setup, teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
