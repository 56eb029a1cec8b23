/*
 * The bronze log: append and read back, offsets, group commit from many
 * threads, commit batch limits, rotation by size, age and day, readers
 * from any offset and following a live log, backpressure, limits, locking.
 */
#include "cl_test.h"
#include "bronze/cl_blog.h"
#include "bronze/cl_bronze.h"
#include "bronze/cl_checkpoint.h"
#include "bronze/cl_reader.h"
#include "core/cl_error.h"
#include "core/cl_fs.h"
#include "core/cl_time.h"
#include "bronze/cl_segment.h"

#include <sys/stat.h>

#include <pthread.h>
#include <stdatomic.h>
#include <unistd.h>

static struct cl_blog_options opts(void)
{
	struct cl_blog_options o;

	cl_blog_options_default(&o);
	return o;
}

/* Reads the whole log and checks record i carries cl_test_record(i). */
static uint64_t read_all_checked(const char *dir, uint64_t from)
{
	struct cl_blog_reader *r;
	struct cl_frame f;
	uint64_t expect = from;
	char buf[512];
	int rc;

	assert_int_equal(cl_blog_reader_open(dir, from, UINT64_MAX, 1 << 20, &r), CL_OK);
	while ((rc = cl_blog_reader_next(r, &f)) == 1) {
		assert_int_equal(f.offset, expect);
		cl_test_record(expect, buf, cl_test_record_len(expect));
		assert_int_equal(f.len, cl_test_record_len(expect));
		assert_memory_equal(f.data, buf, f.len);
		expect++;
	}
	assert_int_equal(rc, 0);
	cl_blog_reader_close(r);
	return expect;
}

static void append_n(struct cl_blog *log, uint64_t first, uint64_t n)
{
	char buf[512];

	for (uint64_t i = first; i < first + n; i++) {
		uint64_t off;

		cl_test_record(i, buf, cl_test_record_len(i));
		assert_int_equal(cl_blog_append(log, buf, cl_test_record_len(i), &off), CL_OK);
		assert_int_equal(off, i);
	}
}

static void test_append_read_reopen(void **state)
{
	struct cl_blog_options o = opts();
	struct cl_blog *log;
	struct cl_blog_stats st;
	char dir[256];

	(void)state;
	cl_test_tmpdir(dir, sizeof(dir));
	assert_int_equal(cl_blog_open(dir, "t", &o, &log), CL_OK);
	assert_int_equal(cl_blog_durable_offset(log), 0);
	append_n(log, 0, 100);
	assert_int_equal(cl_blog_durable_offset(log), 100);
	cl_blog_get_stats(log, &st);
	assert_int_equal(st.records, 100);
	cl_blog_close(log);
	assert_int_equal(read_all_checked(dir, 0), 100);
	/* reopening continues the offsets */
	assert_int_equal(cl_blog_open(dir, "t", &o, &log), CL_OK);
	assert_int_equal(cl_blog_durable_offset(log), 100);
	append_n(log, 100, 50);
	cl_blog_close(log);
	assert_int_equal(read_all_checked(dir, 0), 150);
	assert_int_equal(read_all_checked(dir, 120), 150);
	cl_test_rmtree(dir);
}

static void test_appendv_contiguous(void **state)
{
	struct cl_blog_options o = opts();
	struct cl_blog *log;
	char dir[256], bufs[300][512];
	struct iovec v[300];
	uint64_t first;

	(void)state;
	o.commit_max_records = 64; /* the batch spans several commits */
	cl_test_tmpdir(dir, sizeof(dir));
	assert_int_equal(cl_blog_open(dir, "t", &o, &log), CL_OK);
	for (int i = 0; i < 300; i++) {
		cl_test_record((uint64_t)i, bufs[i], cl_test_record_len((uint64_t)i));
		v[i].iov_base = bufs[i];
		v[i].iov_len = cl_test_record_len((uint64_t)i);
	}
	assert_int_equal(cl_blog_appendv(log, v, 300, &first), CL_OK);
	assert_int_equal(first, 0);
	assert_int_equal(cl_blog_durable_offset(log), 300);
	cl_blog_close(log);
	assert_int_equal(read_all_checked(dir, 0), 300);
	cl_test_rmtree(dir);
}

/* ---- many threads ---- */

struct worker {
	struct cl_blog *log;
	int id;
	int n;
	uint64_t *offsets;
};

static void *worker_main(void *arg)
{
	struct worker *w = arg;
	char buf[64];

	for (int i = 0; i < w->n; i++) {
		int len = snprintf(buf, sizeof(buf), "w%d-%d", w->id, i);

		if (cl_blog_append(w->log, buf, (size_t)len, &w->offsets[i]) != CL_OK)
			w->offsets[i] = UINT64_MAX;
	}
	return NULL;
}

struct commit_log {
	pthread_mutex_t mu;
	uint32_t max_count;
	uint64_t commits;
	uint64_t records;
};

static void on_commit(void *arg, const struct cl_blog_commit *c)
{
	struct commit_log *cl = arg;

	pthread_mutex_lock(&cl->mu);
	if (c->count > cl->max_count)
		cl->max_count = c->count;
	cl->commits++;
	cl->records += c->count;
	pthread_mutex_unlock(&cl->mu);
}

static void test_threads_group_commit(void **state)
{
	enum { THREADS = 8, PER = 2000 };
	struct cl_blog_options o = opts();
	struct commit_log cl = { .mu = PTHREAD_MUTEX_INITIALIZER };
	struct worker w[THREADS];
	pthread_t th[THREADS];
	struct cl_blog *log;
	struct cl_blog_reader *r;
	struct cl_frame f;
	char dir[256];
	uint8_t *seen;
	uint64_t total = 0;

	(void)state;
	o.commit_max_records = 16;
	cl_test_tmpdir(dir, sizeof(dir));
	assert_int_equal(cl_blog_open(dir, "t", &o, &log), CL_OK);
	cl_blog_set_notify(log, on_commit, &cl);
	for (int t = 0; t < THREADS; t++) {
		w[t] = (struct worker){ log, t, PER, calloc(PER, sizeof(uint64_t)) };
		pthread_create(&th[t], NULL, worker_main, &w[t]);
	}
	for (int t = 0; t < THREADS; t++)
		pthread_join(th[t], NULL);
	cl_blog_close(log);
	/* every commit respected the batch limit, and batching happened */
	assert_true(cl.max_count <= 16);
	assert_int_equal(cl.records, THREADS * PER);
	assert_true(cl.commits < THREADS * PER);

	/* each acknowledged record is at the offset it was told, once */
	seen = calloc(THREADS * PER, 1);
	assert_int_equal(cl_blog_reader_open(dir, 0, UINT64_MAX, 1 << 20, &r), CL_OK);
	while (cl_blog_reader_next(r, &f) == 1) {
		int t, i;
		char buf[64];

		memcpy(buf, f.data, f.len);
		buf[f.len] = '\0';
		assert_int_equal(sscanf(buf, "w%d-%d", &t, &i), 2);
		assert_int_equal(w[t].offsets[i], f.offset);
		assert_int_equal(seen[t * PER + i], 0);
		seen[t * PER + i] = 1;
		total++;
	}
	cl_blog_reader_close(r);
	assert_int_equal(total, THREADS * PER);
	for (int t = 0; t < THREADS; t++)
		free(w[t].offsets);
	free(seen);
	cl_test_rmtree(dir);
}

/* ---- rotation ---- */

static void test_rotation_by_size(void **state)
{
	struct cl_blog_options o = opts();
	struct cl_bronze_report rep;
	struct cl_blog *log;
	char dir[256], src[300];

	(void)state;
	o.segment_max_bytes = 4096;
	o.commit_max_records = 7;
	cl_test_tmpdir(dir, sizeof(dir));
	snprintf(src, sizeof(src), "%s/bronze/t", dir);
	assert_int_equal(cl_blog_open(src, "t", &o, &log), CL_OK);
	append_n(log, 0, 1000);
	cl_blog_close(log);
	assert_int_equal(cl_bronze_verify(dir, NULL, 1 << 20, &rep), CL_OK);
	assert_int_equal(rep.total.records, 1000);
	assert_true(rep.total.segments > 20);
	assert_int_equal(rep.total.corrupt_records, 0);
	assert_int_equal(rep.nsources, 1);
	assert_string_equal(rep.names[0], "t");
	cl_bronze_report_free(&rep);
	/* segments stay under the limit, except a single oversized batch */
	{
		struct cl_segment_info *segs;
		size_t n;

		assert_int_equal(cl_segment_list(src, &segs, &n), CL_OK);
		for (size_t i = 0; i < n; i++) {
			struct stat st;

			assert_int_equal(stat(segs[i].path, &st), 0);
			assert_true(st.st_size <= 4096);
			if (i > 0)
				assert_true(segs[i].base > segs[i - 1].base);
		}
		cl_segment_list_free(segs, n);
	}
	/* a reader may start at every offset, across segment boundaries */
	for (uint64_t from = 0; from <= 1000; from += 37)
		assert_int_equal(read_all_checked(src, from), 1000);
	cl_test_rmtree(dir);
}

static int64_t fake_now;

static int64_t fake_clock(void)
{
	return fake_now;
}

static atomic_int gate_closed;

static int gated_fdatasync(int fd)
{
	while (atomic_load(&gate_closed))
		usleep(1000);
	return fdatasync(fd);
}

/* Rotation goes on while an fdatasync is under way: records reach new
 * segments (and the readers ahead of durability) while nothing is
 * acknowledged; once the disk answers, all are, in order, and intact. */
static void test_rotation_waits_for_no_fdatasync(void **state)
{
	struct cl_blog_options o = opts();
	struct cl_blog_ticket t[120];
	struct cl_segment_info *segs;
	struct cl_blog *log;
	char dir[256], src[300], buf[512];
	size_t nseg;

	(void)state;
	o.segment_max_bytes = 2048;
	o.commit_max_records = 4;
	cl_test_tmpdir(dir, sizeof(dir));
	snprintf(src, sizeof(src), "%s/bronze/t", dir);
	assert_int_equal(cl_blog_open(src, "t", &o, &log), CL_OK);
	atomic_store(&gate_closed, 1);
	cl_fs.fdatasync = gated_fdatasync;
	for (uint64_t i = 0; i < 120; i++) {
		cl_test_record(i, buf, cl_test_record_len(i));
		assert_int_equal(cl_blog_submit(log, buf, cl_test_record_len(i), 0, &t[i]), CL_OK);
	}
	for (int i = 0; i < 5000 && cl_blog_written_offset(log) < 120; i++)
		usleep(1000);
	assert_int_equal(cl_blog_written_offset(log), 120);
	assert_int_equal(cl_blog_durable_offset(log), 0);
	assert_int_equal(cl_segment_list(src, &segs, &nseg), CL_OK);
	cl_segment_list_free(segs, nseg);
	assert_true(nseg >= 8);
	atomic_store(&gate_closed, 0);
	for (uint64_t i = 0; i < 120; i++) {
		uint64_t off;

		assert_int_equal(cl_blog_wait(log, &t[i], &off), CL_OK);
		assert_int_equal(off, i);
	}
	assert_int_equal(cl_blog_durable_offset(log), 120);
	cl_blog_close(log);
	cl_fs.fdatasync = fdatasync;
	assert_int_equal(read_all_checked(src, 0), 120);
	cl_test_rmtree(dir);
}

static void test_rotation_by_age_and_day(void **state)
{
	struct cl_blog_options o = opts();
	struct cl_segment_info *segs;
	struct cl_blog *log;
	char dir[256];
	size_t n;

	(void)state;
	o.segment_max_age_us = 60ll * 1000000;
	cl_test_tmpdir(dir, sizeof(dir));
	/* 2026-11-21T23:58:00Z */
	fake_now = 1795305480ll * 1000000;
	cl_time_set_fake(fake_clock);
	assert_int_equal(cl_blog_open(dir, "t", &o, &log), CL_OK);
	append_n(log, 0, 10);
	fake_now += 30ll * 1000000;  /* 23:58:30: same segment */
	append_n(log, 10, 10);
	fake_now += 31ll * 1000000;  /* 23:59:01: older than 60 s: rotate */
	append_n(log, 20, 10);
	fake_now += 120ll * 1000000; /* 00:01:01 next day: new partition */
	append_n(log, 30, 10);
	cl_blog_close(log);
	cl_time_set_fake(NULL);

	assert_int_equal(cl_segment_list(dir, &segs, &n), CL_OK);
	assert_int_equal(n, 3);
	assert_int_equal(segs[0].base, 0);
	assert_int_equal(segs[1].base, 20);
	assert_int_equal(segs[2].base, 30);
	assert_string_equal(segs[0].day, "2026-11-21");
	assert_string_equal(segs[1].day, "2026-11-21");
	assert_string_equal(segs[2].day, "2026-11-22");
	assert_non_null(strstr(segs[2].path, "/dt=2026-11-22/00000000000000000030.seg"));
	cl_segment_list_free(segs, n);
	assert_int_equal(read_all_checked(dir, 0), 40);
	cl_test_rmtree(dir);
}

/* Writes a header-only segment, as a crash right after rotation leaves. */
static void write_empty_segment(const char *dir, const char *day, uint64_t base)
{
	char path[512], ddir[400];
	uint8_t hdr[CL_SEG_HEADER_SIZE];
	FILE *f;

	snprintf(ddir, sizeof(ddir), "%s/dt=%s", dir, day);
	mkdir(ddir, 0750);
	snprintf(path, sizeof(path), "%s/%020llu.seg", ddir, (unsigned long long)base);
	cl_segment_header_encode(hdr, base, fake_now);
	f = fopen(path, "wb");
	assert_non_null(f);
	assert_int_equal(fwrite(hdr, 1, sizeof(hdr), f), sizeof(hdr));
	fclose(f);
}

static void test_empty_segment_replaced_at_day_change(void **state)
{
	struct cl_blog_options o = opts();
	struct cl_segment_info *segs;
	struct cl_blog *log;
	char dir[256];
	size_t n;

	(void)state;
	cl_test_tmpdir(dir, sizeof(dir));
	fake_now = 1795305480ll * 1000000; /* 2026-11-21 */
	cl_time_set_fake(fake_clock);
	assert_int_equal(cl_blog_open(dir, "t", &o, &log), CL_OK);
	append_n(log, 0, 5);
	cl_blog_close(log);
	write_empty_segment(dir, "2026-11-21", 5);
	/* reopened, the empty segment is the current one; the next day's
	 * first commit replaces it instead of leaving two files with base 5 */
	assert_int_equal(cl_blog_open(dir, "t", &o, &log), CL_OK);
	assert_int_equal(cl_blog_durable_offset(log), 5);
	fake_now += 86400ll * 1000000;
	append_n(log, 5, 3);
	cl_blog_close(log);
	assert_int_equal(cl_segment_list(dir, &segs, &n), CL_OK);
	assert_int_equal(n, 2);
	assert_int_equal(segs[1].base, 5);
	assert_string_equal(segs[1].day, "2026-11-22");
	cl_segment_list_free(segs, n);

	/* two empty files with one base (crash between the two steps) */
	write_empty_segment(dir, "2026-11-22", 8);
	write_empty_segment(dir, "2026-11-23", 8);
	assert_int_equal(cl_blog_open(dir, "t", &o, &log), CL_OK);
	append_n(log, 8, 2);
	cl_blog_close(log);
	assert_int_equal(cl_segment_list(dir, &segs, &n), CL_OK);
	assert_int_equal(n, 3);
	assert_int_equal(segs[2].base, 8);
	cl_segment_list_free(segs, n);
	assert_int_equal(read_all_checked(dir, 0), 10);
	cl_time_set_fake(NULL);
	cl_test_rmtree(dir);
}

/* ---- readers ---- */

static void test_reader_follows_live_log(void **state)
{
	struct cl_blog_options o = opts();
	struct cl_blog_reader *r;
	struct cl_blog *log;
	struct cl_frame f;
	char dir[256];
	uint64_t got = 0;

	(void)state;
	o.segment_max_bytes = 2048;
	cl_test_tmpdir(dir, sizeof(dir));
	assert_int_equal(cl_blog_open(dir, "t", &o, &log), CL_OK);
	assert_int_equal(cl_blog_reader_open(dir, 0, cl_blog_durable_offset(log),
					     1 << 20, &r), CL_OK);
	assert_int_equal(cl_blog_reader_next(r, &f), 0);
	for (int round = 0; round < 20; round++) {
		append_n(log, got, 13);
		cl_blog_reader_set_end(r, cl_blog_durable_offset(log));
		while (cl_blog_reader_next(r, &f) == 1) {
			assert_int_equal(f.offset, got);
			got++;
		}
		assert_int_equal(got, (uint64_t)(round + 1) * 13);
		assert_int_equal(cl_blog_reader_position(r), got);
	}
	cl_blog_reader_close(r);
	cl_blog_close(log);
	cl_test_rmtree(dir);
}

/* A reader that looked at a segment while its last frame was still being
 * written, and sees the newer segment only afterwards, reads the frame as
 * the writer finished it: nothing is skipped, nothing reported lost (seen
 * under load as "sealed segment ... ends with N invalid bytes", with the
 * stream processor skipping the rest of the segment). */
static void test_reader_sees_segment_finished_late(void **state)
{
	struct cl_blog_options o = opts();
	struct cl_segment_info *segs;
	struct cl_blog_reader *r;
	struct cl_blog *log;
	struct cl_frame f;
	char dir[256], *whole;
	size_t n;
	struct stat st;
	uint64_t got = 0;
	FILE *fp;
	int rc;

	(void)state;
	o.segment_max_bytes = 4096;
	cl_test_tmpdir(dir, sizeof(dir));
	assert_int_equal(cl_blog_open(dir, "t", &o, &log), CL_OK);
	append_n(log, 0, 200);
	cl_blog_close(log);
	assert_int_equal(cl_segment_list(dir, &segs, &n), CL_OK);
	assert_true(n >= 3);
	/* the first segment as the reader first sees it: its last frame
	 * half written */
	assert_int_equal(stat(segs[0].path, &st), 0);
	whole = malloc((size_t)st.st_size);
	fp = fopen(segs[0].path, "rb");
	assert_int_equal(fread(whole, 1, (size_t)st.st_size, fp), (size_t)st.st_size);
	fclose(fp);
	assert_int_equal(truncate(segs[0].path, st.st_size - 20), 0);
	assert_int_equal(cl_blog_reader_open(dir, 0, UINT64_MAX, 1 << 20, &r), CL_OK);
	/* then the writer finishes it (and had started the next) */
	fp = fopen(segs[0].path, "wb");
	assert_int_equal(fwrite(whole, 1, (size_t)st.st_size, fp), (size_t)st.st_size);
	fclose(fp);
	while ((rc = cl_blog_reader_next(r, &f)) == 1) {
		assert_int_equal(f.offset, got);
		got++;
	}
	if (rc != 0)
		fail_msg("reader: %s", cl_error_detail());
	assert_int_equal(got, 200);
	cl_blog_reader_close(r);
	cl_segment_list_free(segs, n);
	free(whole);
	cl_test_rmtree(dir);
}

static void test_reader_empty_and_missing(void **state)
{
	struct cl_blog_reader *r;
	struct cl_frame f;

	(void)state;
	assert_int_equal(cl_blog_reader_open("/nonexistent/carelake/x", 0, UINT64_MAX,
					     1 << 20, &r), CL_OK);
	assert_int_equal(cl_blog_reader_next(r, &f), 0);
	cl_blog_reader_close(r);
}

/*
 * A consumer that processes records, checkpoints, and "crashes" (stops
 * without finishing) several times resumes exactly where its checkpoint
 * says: every record processed, none twice, across segment boundaries.
 */
static void test_consumer_resumes_from_checkpoint(void **state)
{
	struct cl_blog_options o = opts();
	struct cl_blog *log;
	char dir[256];
	uint8_t seen[700] = { 0 };
	uint64_t processed = 0;

	(void)state;
	o.segment_max_bytes = 4096;
	cl_test_tmpdir(dir, sizeof(dir));
	assert_int_equal(cl_blog_open(dir, "t", &o, &log), CL_OK);
	append_n(log, 0, 700);
	for (int run = 0; processed < 700; run++) {
		struct cl_blog_reader *r;
		struct cl_frame f;
		uint64_t from = 0;
		int rc = cl_checkpoint_load(dir, "stream", &from);

		assert_true(rc == CL_OK || (rc == CL_ENOENT && run == 0));
		assert_int_equal(cl_blog_reader_open(dir, from, cl_blog_durable_offset(log),
						     1 << 20, &r), CL_OK);
		/* process up to 97 records, checkpoint every 10, then stop;
		 * records after the last checkpoint are processed again next
		 * run, so only checkpointed ones count as done */
		for (int k = 0; k < 97 && cl_blog_reader_next(r, &f) == 1; k++) {
			if ((k + 1) % 10 == 0 || f.offset == 699) {
				for (uint64_t i = from; i <= f.offset; i++) {
					assert_int_equal(seen[i], 0);
					seen[i] = 1;
					processed++;
				}
				assert_int_equal(cl_checkpoint_store(dir, "stream", f.offset + 1),
						 CL_OK);
				from = f.offset + 1;
			}
		}
		cl_blog_reader_close(r);
		assert_true(run < 100);
	}
	for (int i = 0; i < 700; i++)
		assert_int_equal(seen[i], 1);
	cl_blog_close(log);
	cl_test_rmtree(dir);
}

/* ---- limits, backpressure, locking ---- */

static void test_limits_and_backpressure(void **state)
{
	struct cl_blog_options o = opts();
	struct cl_blog_ticket t;
	struct cl_blog *log;
	char dir[256], *big;
	int busy = 0;

	(void)state;
	o.record_max_bytes = 1000;
	o.pending_max_bytes = 64 * 1024;
	o.commit_max_wait_us = 200000; /* hold batches so the queue fills */
	o.commit_max_records = 1000000;
	o.commit_max_bytes = 256ull << 20;
	cl_test_tmpdir(dir, sizeof(dir));
	assert_int_equal(cl_blog_open(dir, "t", &o, &log), CL_OK);
	big = calloc(1, 2000);
	assert_int_equal(cl_blog_submit(log, big, 1001, 0, &t), CL_ETOOBIG);
	assert_non_null(strstr(cl_error_detail(), "limit is 1000"));
	for (int i = 0; i < 1000 && !busy; i++) {
		int rc = cl_blog_submit(log, big, 900, CL_BLOG_NOWAIT, &t);

		if (rc == CL_EBUSY)
			busy = 1;
		else
			assert_int_equal(rc, CL_OK);
	}
	assert_true(busy);
	assert_non_null(strstr(cl_error_detail(), "retry later"));
	/* waiting for the queued records makes room again */
	assert_int_equal(cl_blog_wait(log, &t, NULL), CL_OK);
	assert_int_equal(cl_blog_submit(log, big, 900, CL_BLOG_NOWAIT, &t), CL_OK);
	cl_blog_close(log);
	free(big);
	cl_test_rmtree(dir);
}

static void test_second_writer_locked_out(void **state)
{
	struct cl_blog_options o = opts();
	struct cl_blog *a, *b;
	char dir[256];

	(void)state;
	cl_test_tmpdir(dir, sizeof(dir));
	assert_int_equal(cl_blog_open(dir, "t", &o, &a), CL_OK);
	assert_int_equal(cl_blog_open(dir, "t", &o, &b), CL_ELOCKED);
	assert_non_null(strstr(cl_error_detail(), "another process"));
	cl_blog_close(a);
	assert_int_equal(cl_blog_open(dir, "t", &o, &b), CL_OK);
	cl_blog_close(b);
	cl_blog_close(NULL);
	cl_test_rmtree(dir);
}

static void test_close_commits_pending(void **state)
{
	struct cl_blog_options o = opts();
	struct cl_blog_ticket t;
	struct cl_blog *log;
	char dir[256], buf[512];

	(void)state;
	o.commit_max_wait_us = 500000;
	cl_test_tmpdir(dir, sizeof(dir));
	assert_int_equal(cl_blog_open(dir, "t", &o, &log), CL_OK);
	for (uint64_t i = 0; i < 500; i++) {
		cl_test_record(i, buf, cl_test_record_len(i));
		assert_int_equal(cl_blog_submit(log, buf, cl_test_record_len(i), 0, &t), CL_OK);
	}
	cl_blog_close(log);
	assert_int_equal(read_all_checked(dir, 0), 500);
	cl_test_rmtree(dir);
}

static void test_bronze_store_sources(void **state)
{
	struct cl_blog_options o = opts();
	struct cl_bronze *b;
	struct cl_blog *l1, *l2, *again;
	struct cl_bronze_report rep;
	char dir[256];

	(void)state;
	cl_test_tmpdir(dir, sizeof(dir));
	assert_int_equal(cl_bronze_open(dir, &o, &b), CL_OK);
	assert_int_equal(cl_bronze_log(b, "vitals", &l1), CL_OK);
	assert_int_equal(cl_bronze_log(b, "fhir", &l2), CL_OK);
	assert_int_equal(cl_bronze_log(b, "vitals", &again), CL_OK);
	assert_ptr_equal(l1, again);
	assert_int_equal(cl_bronze_log(b, "Bad/Name", &again), CL_EINVAL);
	append_n(l1, 0, 30);
	append_n(l2, 0, 12);
	cl_bronze_close(b);
	assert_int_equal(cl_bronze_verify(dir, NULL, 1 << 20, &rep), CL_OK);
	assert_int_equal(rep.nsources, 2);
	assert_string_equal(rep.names[0], "fhir");
	assert_int_equal(rep.sources[0].records, 12);
	assert_string_equal(rep.names[1], "vitals");
	assert_int_equal(rep.sources[1].records, 30);
	assert_int_equal(rep.total.records, 42);
	cl_bronze_report_free(&rep);
	assert_int_equal(cl_bronze_verify(dir, "nope", 1 << 20, &rep), CL_ENOENT);
	cl_bronze_report_free(&rep);
	cl_test_rmtree(dir);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_append_read_reopen),
		cmocka_unit_test(test_appendv_contiguous),
		cmocka_unit_test(test_threads_group_commit),
		cmocka_unit_test(test_rotation_by_size),
		cmocka_unit_test(test_rotation_waits_for_no_fdatasync),
		cmocka_unit_test(test_rotation_by_age_and_day),
		cmocka_unit_test(test_empty_segment_replaced_at_day_change),
		cmocka_unit_test(test_reader_follows_live_log),
		cmocka_unit_test(test_reader_sees_segment_finished_late),
		cmocka_unit_test(test_reader_empty_and_missing),
		cmocka_unit_test(test_consumer_resumes_from_checkpoint),
		cmocka_unit_test(test_limits_and_backpressure),
		cmocka_unit_test(test_second_writer_locked_out),
		cmocka_unit_test(test_close_commits_pending),
		cmocka_unit_test(test_bronze_store_sources),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
