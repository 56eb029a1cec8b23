/*
 * `carelake serve` on a disk that fills up (a tmpfs of 4 MiB, part of it
 * taken by a filler file): device posts get 507 once bronze cannot write,
 * /healthz says the disk is full, the events not stored are not counted as
 * accepted, the store's failure is logged once with its real reason (not
 * a rollback error, not twenty lines a second), and once space is freed
 * posts are stored again and /healthz is ok. Needs permission to mount;
 * skipped (and says so) without.
 */
#include "serve_helpers.h"
#include "core/cl_fs.h"
#include "core/cl_mem.h"

#include <errno.h>
#include <sys/mount.h>

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
	snprintf(data, sizeof(data), "%s/d", mnt);
	server_start(&s, bin, data, NULL);
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
	assert_non_null(strstr(r.body, "\"vitals\":\"disk_full\""));
	free(r.body);
	/* accepted counts what was stored, not what got 507 */
	assert_int_equal(metric(&s, "carelake_events_accepted_total"), 200L * stored);
	assert_true(metric(&s, "carelake_events_not_stored_total") >= 200);
	sleep(3);

	/* space again: posts are stored, health comes back */
	assert_int_equal(unlink(filler), 0);
	for (int tries = 0; tries < 50; tries++) {
		char *b = batch(1000 + tries, &len);

		r = http(&s, "POST", "/api/v1/events", s.token, b, len);
		free(b);
		if (r.code == 200)
			break;
		free(r.body);
		usleep(100000);
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
