/*
 * `carelake serve` on a disk that fills up (a tmpfs of 4 MiB, part of it
 * taken by a filler file): bronze takes the room kept for it
 * (bronze.reserve) while the serving store and refine wait, device posts
 * get 507 once even that is full, /healthz says the disk is full, the
 * events not stored are not counted as accepted, the store's failures are
 * logged with their real reason (not a rollback error, not twenty lines a
 * second), and once some space is freed posts are stored again, though
 * the store and refine, catching up, need more than was freed (it was
 * they who kept posts refused in the race for the freed space, before
 * the reserve), and /healthz is ok. Needs permission to mount; skipped
 * (and says so) without.
 */
#include "serve_helpers.h"
#include "core/cl_fs.h"
#include "core/cl_mem.h"

#include <errno.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/statvfs.h>

static char mnt[280];
static int mounted;

static int setup(void **state)
{
	(void)state;
	snprintf(mnt, sizeof(mnt), "%s/full", dir);
	mkdir(mnt, 0700);
	mounted = cl_test_mount_tmpfs(mnt, "4m");
	return 0;
}

static int teardown(void **state)
{
	(void)state;
	if (mounted)
		umount2(mnt, MNT_DETACH);
	return 0;
}

/* A body of 200 events, ids unique to round i. */
static char *batch(int i, size_t *len)
{
	size_t cap = 200 * 200, n = 0;
	char *b = malloc(cap);

	assert_non_null(b);
	for (int j = 0; j < 200; j++)
		n += (size_t)snprintf(b + n, cap - n,
				      "{\"id\":\"f%d-%d\",\"device_id\":\"d1\",\"patient_id\":\"p%d\","
				      "\"ts\":\"2026-12-01T10:%02d:%02dZ\",\"type\":\"heart_rate\","
				      "\"value\":%d,\"unit\":\"/min\"}\n",
				      i, j, j % 50, (j / 60) % 60, j % 60, 60 + j % 30);
	*len = n;
	return b;
}

static void test_disk_fills_up(void **state)
{
	struct server s;
	char data[300], filler[300], *log;
	char reserve[320];
	struct stat st = { 0 };
	struct statvfs fs = { 0 };
	int stored = 0, i, fd;
	size_t len;
	struct reply r;

	(void)state;
	if (!mounted) {
		print_message("skipped: no permission to mount a tmpfs here\n");
		skip();
	}
	snprintf(filler, sizeof(filler), "%s/filler", mnt);
	fd = open(filler, O_WRONLY | O_CREAT, 0600);
	assert_true(fd >= 0);
	{
		static char block[65536];

		memset(block, 'f', sizeof(block));
		for (int k = 0; k < 16; k++)
			assert_int_equal(write(fd, block, sizeof(block)), (ssize_t)sizeof(block));
	}
	close(fd);
	/* the data directory on the small disk, reached through a link so
	 * that serve's output (beside the data directory's name) is not on
	 * it: a full disk must not eat the lines this test reads */
	snprintf(data, sizeof(data), "%s/d", mnt);
	assert_int_equal(mkdir(data, 0700), 0);
	snprintf(data, sizeof(data), "%s/d", dir);
	assert_int_equal(symlink("full/d", data), 0);
	server_start(&s, bin, data, (const char *[]){ "--set", "refine.interval=1s", NULL });
	for (i = 0; i < 400; i++) {
		char *b = batch(i, &len);

		r = http(&s, "POST", "/api/v1/events", s.token, b, len);
		free(b);
		if (r.code != 200)
			break;
		free(r.body);
		stored++;
	}
	assert_int_equal(r.code, 507);
	assert_non_null(strstr(r.body, "\"error\":\"not_stored\""));
	assert_non_null(strstr(r.body, "No space left on device"));
	free(r.body);
	r = http(&s, "GET", "/healthz", NULL, NULL, 0);
	assert_int_equal(r.code, 503);
	/* the readings are days old: the backlog lane is the log that filled */
	assert_non_null(strstr(r.body, "\"vitals-backlog\":\"disk_full\""));
	free(r.body);
	/* accepted counts what was stored, not what got 507 */
	assert_int_equal(metric(&s, "carelake_events_accepted_total"), 200L * stored);
	assert_true(metric(&s, "carelake_events_not_stored_total") >= 200);
	/* the store waits, short of the last bytes, which bronze takes */
	wait_metric(&s, "carelake_store_waiting_for_disk", 1);
	sleep(3);

	/* space again, less than the store and refine need to catch up
	 * (bronze holds ten times what 1 MiB of store rows can): the first of
	 * them to find room holds bronze's reserve again, then they take the
	 * rest of the freed space (the race that left posts refused before
	 * there was a reserve); posts are stored all the same */
	assert_int_equal(unlink(filler), 0);
	snprintf(reserve, sizeof(reserve), "%s/bronze.reserve", data);
	for (int k = 0; k < 2000 * cl_test_slowdown(); k++) {
		if (stat(reserve, &st) == 0 && st.st_size > 8)
			break;
		usleep(10000);
	}
	assert_true(st.st_size > 8);
	for (int k = 0; k < 500 * cl_test_slowdown(); k++) {
		if (statvfs(mnt, &fs) == 0 && (uint64_t)fs.f_bavail * fs.f_frsize < (64u << 10))
			break;
		usleep(10000);
	}
	print_message("free after the catch-up: %llu bytes\n",
		      (unsigned long long)fs.f_bavail * fs.f_frsize);
	for (int tries = 0; tries < 50 * cl_test_slowdown(); tries++) {
		char *b = batch(1000 + tries, &len);

		r = http(&s, "POST", "/api/v1/events", s.token, b, len);
		free(b);
		if (r.code == 200)
			break;
		if (tries + 1 < 50 * cl_test_slowdown())
			free(r.body);
		usleep(100000);
	}
	if (r.code != 200) {
		print_message("still refused: %s\n", r.body);
		server_said(&s);
	}
	assert_int_equal(r.code, 200);
	free(r.body);
	r = http(&s, "GET", "/healthz", NULL, NULL, 0);
	assert_int_equal(r.code, 200);
	free(r.body);
	assert_int_equal(server_stop(&s), 0);

	/* the store's failures: said with their reason, a line per minute at
	 * most; never the rollback that did not happen */
	assert_int_equal(cl_fs_read_file(s.out_path, 8 << 20, &log, &len), 0);
	assert_null(strstr(log, "cannot rollback"));
	assert_non_null(strstr(log, "comp=store event=waiting_for_disk"));
	/* bronze took the room kept for it */
	assert_non_null(strstr(log, "comp=bronze event=reserve_taken"));
	{
		int lines = 0;

		for (const char *p = log; (p = strstr(p, "comp=store event=commit_failed")); p++)
			lines++;
		assert_true(lines <= 2);
	}
	cl_free(log);
}

static const struct CMUnitTest tests[] = {
	cmocka_unit_test_setup_teardown(test_disk_fills_up, setup, teardown),
};

SERVE_TEST_MAIN(tests)
