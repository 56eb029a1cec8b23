/*
 * Injected storage failures: a full disk (ENOSPC) on write, a short write
 * followed by ENOSPC, a failing fdatasync, a failing truncate, and
 * allocation failures. Appends must fail with a clear error, nothing
 * acknowledged may be lost, and the log must read cleanly afterwards.
 * Also the serving store's writer beside them: its queue's limits, rows
 * that wait for durability, a full disk with bronze's reserve, and
 * another writer's loop of transactions that must not starve it.
 */
#include "cl_test.h"
#include "bronze/cl_blog.h"
#include "bronze/cl_reader.h"
#include "bronze/cl_reserve.h"
#include "core/cl_error.h"
#include "core/cl_fs.h"
#include "core/cl_log.h"
#include "core/cl_mem.h"
#include "store/cl_store.h"
#include "stream/cl_sink.h"

#include <sys/stat.h>
#include <unistd.h>

#include <errno.h>
#include <pthread.h>
#include <sqlite3.h>
#include <stdatomic.h>

static atomic_int fail_writes;     /* pwrite: 0 ok, 1 ENOSPC, 2 half then ENOSPC,
				    * 3 ENOSPC once */
static atomic_int fail_sync;
static atomic_int fail_truncate;

static ssize_t faulty_pwrite(int fd, const void *buf, size_t n, off_t off)
{
	int mode = atomic_load(&fail_writes);

	if (mode == 1) {
		errno = ENOSPC;
		return -1;
	}
	if (mode == 3) {
		atomic_store(&fail_writes, 0); /* full once: the next write finds room */
		errno = ENOSPC;
		return -1;
	}
	if (mode == 2 && n > 1) {
		atomic_store(&fail_writes, 1); /* the rest of the batch fails */
		return pwrite(fd, buf, n / 2, off);
	}
	return pwrite(fd, buf, n, off);
}

static int faulty_fdatasync(int fd)
{
	if (atomic_load(&fail_sync)) {
		errno = EIO;
		return -1;
	}
	return fdatasync(fd);
}

static int faulty_ftruncate(int fd, off_t len)
{
	if (atomic_load(&fail_truncate)) {
		errno = EIO;
		return -1;
	}
	return ftruncate(fd, len);
}

static int setup(void **state)
{
	(void)state;
	cl_log_threshold = -1; /* failures are the point here */
	cl_fs.pwrite = faulty_pwrite;
	cl_fs.fdatasync = faulty_fdatasync;
	cl_fs.ftruncate = faulty_ftruncate;
	atomic_store(&fail_writes, 0);
	atomic_store(&fail_sync, 0);
	atomic_store(&fail_truncate, 0);
	return 0;
}

static int teardown(void **state)
{
	(void)state;
	cl_fs_reset();
	cl_mem_fail_reset();
	return 0;
}

static struct cl_blog_options opts(void)
{
	struct cl_blog_options o;

	cl_blog_options_default(&o);
	return o;
}

static int append(struct cl_blog *log, uint64_t id, uint64_t *off)
{
	char buf[512];

	cl_test_record(id, buf, cl_test_record_len(id));
	return cl_blog_append(log, buf, cl_test_record_len(id), off);
}

static uint64_t count_valid(const char *dir)
{
	struct cl_blog_reader *r;
	struct cl_frame f;
	uint64_t n = 0;
	char buf[512];
	int rc;

	assert_int_equal(cl_blog_reader_open(dir, 0, UINT64_MAX, 1 << 20, &r), CL_OK);
	while ((rc = cl_blog_reader_next(r, &f)) == 1) {
		assert_int_equal(f.offset, n);
		cl_test_record(n, buf, cl_test_record_len(n));
		assert_memory_equal(f.data, buf, f.len);
		n++;
	}
	assert_int_equal(rc, 0);
	assert_int_equal(cl_blog_reader_tail_bytes(r), 0);
	cl_blog_reader_close(r);
	return n;
}

static void run_disk_full(int mode)
{
	struct cl_blog_options o = opts();
	struct cl_blog *log;
	char dir[256];
	uint64_t off;

	cl_test_tmpdir(dir, sizeof(dir));
	assert_int_equal(cl_blog_open(dir, "t", &o, &log), CL_OK);
	for (uint64_t i = 0; i < 50; i++)
		assert_int_equal(append(log, i, &off), CL_OK);
	atomic_store(&fail_writes, mode);
	for (int k = 0; k < 5; k++) {
		assert_int_equal(append(log, 50, &off), CL_ENOSPC);
		assert_non_null(strstr(cl_error_detail(), "failed"));
	}
	/* space comes back: the log goes on with no gap and no debris */
	atomic_store(&fail_writes, 0);
	for (uint64_t i = 50; i < 60; i++) {
		assert_int_equal(append(log, i, &off), CL_OK);
		assert_int_equal(off, i);
	}
	cl_blog_close(log);
	assert_int_equal(count_valid(dir), 60);
	cl_test_rmtree(dir);
}

static void test_disk_full(void **state)
{
	(void)state;
	run_disk_full(1);
}

static void test_short_write_then_full(void **state)
{
	(void)state;
	run_disk_full(2);
}

static void test_fdatasync_failure_stops_log(void **state)
{
	struct cl_blog_options o = opts();
	struct cl_blog *log;
	char dir[256];
	uint64_t off;

	(void)state;
	cl_test_tmpdir(dir, sizeof(dir));
	assert_int_equal(cl_blog_open(dir, "t", &o, &log), CL_OK);
	for (uint64_t i = 0; i < 20; i++)
		assert_int_equal(append(log, i, &off), CL_OK);
	atomic_store(&fail_sync, 1);
	assert_int_equal(append(log, 20, &off), CL_EIO);
	/* after a failed fdatasync nothing more is accepted until reopen */
	atomic_store(&fail_sync, 0);
	assert_int_equal(append(log, 20, &off), CL_EFAILED);
	assert_non_null(strstr(cl_error_detail(), "restart"));
	cl_blog_close(log);
	/* reopen: the 20 acknowledged records are there; record 20 reached
	 * the file (its fdatasync failed, the write did not), so it may be
	 * present too, intact, but never torn */
	assert_int_equal(cl_blog_open(dir, "t", &o, &log), CL_OK);
	off = cl_blog_durable_offset(log);
	assert_true(off == 20 || off == 21);
	cl_blog_close(log);
	assert_int_equal(count_valid(dir), off);
	cl_test_rmtree(dir);
}

static void test_truncate_failure_stops_log(void **state)
{
	struct cl_blog_options o = opts();
	struct cl_blog *log;
	char dir[256];
	uint64_t off;

	(void)state;
	cl_test_tmpdir(dir, sizeof(dir));
	assert_int_equal(cl_blog_open(dir, "t", &o, &log), CL_OK);
	for (uint64_t i = 0; i < 10; i++)
		assert_int_equal(append(log, i, &off), CL_OK);
	atomic_store(&fail_writes, 2);
	atomic_store(&fail_truncate, 1);
	assert_int_equal(append(log, 10, &off), CL_ENOSPC);
	atomic_store(&fail_writes, 0);
	atomic_store(&fail_truncate, 0);
	assert_int_equal(append(log, 10, &off), CL_EFAILED);
	cl_blog_close(log);
	/* recovery cuts the half-written batch */
	assert_int_equal(cl_blog_open(dir, "t", &o, &log), CL_OK);
	assert_int_equal(cl_blog_durable_offset(log), 10);
	assert_int_equal(append(log, 10, &off), CL_OK);
	cl_blog_close(log);
	assert_int_equal(count_valid(dir), 11);
	cl_test_rmtree(dir);
}

static void test_allocation_failures(void **state)
{
	struct cl_blog_options o = opts();
	char dir[256];
	int opened = 0;

	(void)state;
	cl_test_tmpdir(dir, sizeof(dir));
	/* fail the n-th allocation of open + append, for every n */
	for (long n = 0; n < 40 && !opened; n++) {
		struct cl_blog *log = NULL;
		uint64_t off;
		int rc;

		cl_mem_fail_after(n);
		rc = cl_blog_open(dir, "t", &o, &log);
		if (rc == CL_OK) {
			rc = append(log, cl_blog_durable_offset(log), &off);
			assert_true(rc == CL_OK || rc == CL_ENOMEM);
			cl_mem_fail_reset();
			cl_blog_close(log);
			opened = rc == CL_OK;
		} else {
			assert_int_equal(rc, CL_ENOMEM);
		}
		cl_mem_fail_reset();
	}
	assert_true(opened);
	assert_true(count_valid(dir) >= 1);
	cl_test_rmtree(dir);
}

static int count_rows(struct cl_store *st)
{
	char *json = NULL, *p;
	size_t len;
	int64_t rows;
	int n = 0;

	struct cl_vitals_query q = { .patient = "p1", .from_us = 0, .to_us = INT64_MAX / 2,
				     .limit = 100, .fields = CL_VITALS_ALL };

	assert_int_equal(cl_store_vitals_json(st, &q, &json, &len, &rows), 0);
	assert_int_equal(strlen(json), len);
	for (p = json; (p = strstr(p, "\"heart_rate\"")); p++)
		n++;
	assert_int_equal(n, rows);
	free(json);
	return n;
}

/* The stream processor reads records as soon as they are written, ahead
 * of their fdatasync; the rows it derives wait for durability. Records
 * whose fdatasync failed were never acknowledged and may be gone after
 * the restart: their rows must never reach the store. */
static void test_rows_wait_for_durability(void **state)
{
	struct cl_blog_options o = opts();
	struct cl_blog *log, *logs[CL_SINK_LOGS] = { NULL };
	struct cl_store *st, *rd;
	struct cl_sink *k;
	char dir[256], bronze[300];
	uint64_t off, processed = 0, replay = 0;

	(void)state;
	cl_test_tmpdir(dir, sizeof(dir));
	snprintf(bronze, sizeof(bronze), "%s/bronze", dir);
	assert_int_equal(cl_blog_open(bronze, "t", &o, &log), CL_OK);
	for (uint64_t i = 0; i < 5; i++)
		assert_int_equal(append(log, i, &off), CL_OK);
	atomic_store(&fail_sync, 1);
	assert_int_equal(append(log, 5, &off), CL_EIO);
	assert_int_equal(cl_blog_durable_offset(log), 5);
	assert_int_equal(cl_blog_written_offset(log), 6); /* written, never durable */

	assert_int_equal(cl_store_create(dir, &st), CL_OK);
	logs[0] = log;
	assert_int_equal(cl_sink_start(st, logs, 0, NULL, NULL, &k), CL_OK);
	/* a batch of records 0..4, then one of record 5 */
	assert_int_equal(cl_sink_vital(k, "vitals", 4, "p1", "m1", "heart_rate", 1000, 70), 0);
	assert_int_equal(cl_sink_checkpoint(k, "stream", 5, 5), 0);
	assert_int_equal(cl_sink_flush(k, (const uint64_t[CL_SINK_LOGS]){ 5 }), 0);
	assert_int_equal(cl_sink_vital(k, "vitals", 5, "p1", "m1", "heart_rate", 2000, 71), 0);
	assert_int_equal(cl_sink_checkpoint(k, "stream", 6, 6), 0);
	assert_int_equal(cl_sink_flush(k, (const uint64_t[CL_SINK_LOGS]){ 6 }), 0);
	usleep(300000);
	assert_int_equal(cl_store_open(dir, &rd), CL_OK);
	assert_int_equal(count_rows(rd), 1);
	assert_int_equal(cl_store_checkpoint_get(rd, "stream", &processed, &replay), 0);
	assert_int_equal(processed, 5);
	cl_sink_stop(k); /* gives up on record 5: it is replayed, or gone */
	assert_int_equal(count_rows(rd), 1);
	assert_int_equal(cl_store_checkpoint_get(rd, "stream", &processed, &replay), 0);
	assert_int_equal(processed, 5);
	cl_store_close(rd);
	cl_blog_close(log);
	cl_test_rmtree(dir);
}

/* The writer's queue three quarters full is "behind" (bulk ingest waits
 * then): rows of records that never become durable stay queued. */
static void test_sink_behind(void **state)
{
	struct cl_blog_options o = opts();
	struct cl_blog *log, *logs[CL_SINK_LOGS] = { NULL };
	struct cl_store *st;
	struct cl_sink *k;
	char dir[256], bronze[300];
	uint64_t off;
	int i;

	(void)state;
	cl_test_tmpdir(dir, sizeof(dir));
	snprintf(bronze, sizeof(bronze), "%s/bronze", dir);
	assert_int_equal(cl_blog_open(bronze, "t", &o, &log), CL_OK);
	assert_int_equal(append(log, 0, &off), CL_OK);
	atomic_store(&fail_sync, 1);
	assert_int_equal(append(log, 1, &off), CL_EIO); /* record 1: never durable */
	assert_int_equal(cl_store_create(dir, &st), CL_OK);
	logs[0] = log;
	assert_int_equal(cl_sink_start(st, logs, 4096, NULL, NULL, &k), CL_OK);
	assert_false(cl_sink_behind(k));
	for (i = 0; i < 100 && !cl_sink_behind(k); i++) {
		assert_int_equal(cl_sink_vital(k, "vitals", 1, "p1", "m1", "heart_rate", 1000 + i, 70),
				 0);
		assert_int_equal(cl_sink_flush(k, (const uint64_t[CL_SINK_LOGS]){ 2 }), 0);
	}
	assert_true(cl_sink_behind(k));
	assert_true(i > 1);
	cl_sink_stop(k);
	cl_blog_close(log);
	cl_test_rmtree(dir);
}

static off_t reserve_size(const char *dir)
{
	char path[300];
	struct stat st;

	snprintf(path, sizeof(path), "%s/bronze.reserve", dir);
	return stat(path, &st) == 0 ? st.st_size : -1;
}

/* A full disk with bronze's reserve held: the write takes the reserve
 * and goes through; the other writers wait until it is held again, which
 * the first of them does once the disk has room for it. */
static void test_full_disk_takes_reserve(void **state)
{
	struct cl_blog_options o = opts();
	struct cl_blog *log;
	char dir[256], logdir[300];
	uint64_t off;

	(void)state;
	cl_test_tmpdir(dir, sizeof(dir));
	snprintf(logdir, sizeof(logdir), "%s/t", dir);
	assert_int_equal(cl_reserve_keep(dir, 64 << 10), CL_OK);
	assert_int_equal(reserve_size(dir), 64 << 10);
	assert_int_equal(cl_reserve_ready(dir), 1);
	o.reserve_dir = dir;
	assert_int_equal(cl_blog_open(logdir, "t", &o, &log), CL_OK);
	for (uint64_t i = 0; i < 10; i++)
		assert_int_equal(append(log, i, &off), CL_OK);
	atomic_store(&fail_writes, 3);
	assert_int_equal(append(log, 10, &off), CL_OK);
	assert_int_equal(off, 10);
	assert_int_equal(reserve_size(dir), 8); /* taken: its header says its size */
	assert_int_equal(cl_reserve_take(dir), 0); /* nothing left to take */
	/* full again, nothing kept: the write fails as before the reserve */
	atomic_store(&fail_writes, 3);
	assert_int_equal(append(log, 11, &off), CL_ENOSPC);
	assert_int_equal(append(log, 11, &off), CL_OK);
	/* this disk has room: the next writer to ask holds it again */
	assert_int_equal(cl_reserve_ready(dir), 1);
	assert_int_equal(reserve_size(dir), 64 << 10);
	cl_blog_close(log);
	assert_int_equal(count_valid(logdir), 12);
	/* a start where it is switched off: no file, nobody waits */
	assert_int_equal(cl_reserve_keep(dir, 0), CL_OK);
	assert_int_equal(reserve_size(dir), -1);
	assert_int_equal(cl_reserve_ready(dir), 1);
	assert_int_equal(cl_reserve_take(dir), 0);
	cl_test_rmtree(dir);
}

/* Another writer of carelake.db in a loop of back-to-back transactions
 * (silver's refine, the FHIR rows), giving way as they do. */
struct hog {
	char path[300];
	atomic_int stop;
	atomic_int txns;
};

static void *hog_main(void *arg)
{
	struct hog *h = arg;
	sqlite3 *db;

	if (sqlite3_open(h->path, &db) != SQLITE_OK)
		return NULL;
	sqlite3_busy_timeout(db, 10000);
	while (!atomic_load(&h->stop)) {
		if (sqlite3_exec(db, "BEGIN IMMEDIATE; INSERT INTO hog VALUES (1)", NULL, NULL,
				 NULL) != SQLITE_OK)
			break;
		usleep(5000); /* a transaction's work, the lock held */
		if (sqlite3_exec(db, "COMMIT", NULL, NULL, NULL) != SQLITE_OK)
			break;
		atomic_fetch_add(&h->txns, 1);
		cl_store_yield_to_writer();
	}
	sqlite3_close(db);
	return NULL;
}

/* The stream's writer is not starved by such a loop: SQLite's lock is not
 * fair, and without the loop giving way the writer's BEGIN failed after
 * waiting its whole busy timeout (10 s). */
static void test_writer_not_starved(void **state)
{
	struct hog h = { 0 };
	struct cl_store *st;
	char dir[256];
	pthread_t t;
	sqlite3 *db;

	(void)state;
	cl_test_tmpdir(dir, sizeof(dir));
	assert_int_equal(cl_store_create(dir, &st), CL_OK);
	assert_int_equal(cl_store_set_writer(st), CL_OK);
	snprintf(h.path, sizeof(h.path), "%s/carelake.db", dir);
	assert_int_equal(sqlite3_open(h.path, &db), SQLITE_OK);
	assert_int_equal(sqlite3_exec(db, "CREATE TABLE hog(x)", NULL, NULL, NULL), SQLITE_OK);
	sqlite3_close(db);
	assert_int_equal(pthread_create(&t, NULL, hog_main, &h), 0);
	while (atomic_load(&h.txns) < 3)
		usleep(1000);
	for (int i = 0; i < 5; i++) {
		assert_int_equal(cl_store_begin(st), CL_OK);
		assert_int_equal(cl_store_commit(st), CL_OK);
	}
	atomic_store(&h.stop, 1);
	pthread_join(t, NULL);
	assert_true(atomic_load(&h.txns) >= 3);
	cl_store_close(st);
	cl_test_rmtree(dir);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_disk_full, setup, teardown),
		cmocka_unit_test_setup_teardown(test_short_write_then_full, setup, teardown),
		cmocka_unit_test_setup_teardown(test_fdatasync_failure_stops_log, setup, teardown),
		cmocka_unit_test_setup_teardown(test_truncate_failure_stops_log, setup, teardown),
		cmocka_unit_test_setup_teardown(test_allocation_failures, setup, teardown),
		cmocka_unit_test_setup_teardown(test_sink_behind, setup, teardown),
		cmocka_unit_test_setup_teardown(test_full_disk_takes_reserve, setup, teardown),
		cmocka_unit_test_setup_teardown(test_writer_not_starved, setup, teardown),
		cmocka_unit_test_setup_teardown(test_rows_wait_for_durability, setup, teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
