/*
 * Worker threads (core/cl_worker): pokes wake a waiting worker and are not
 * lost while it is busy, timeouts pass, a stop ends the wait and joins;
 * and the thread-creation hook, with which every start of `serve` whose
 * thread cannot be made is shown to fail with an error and leave nothing
 * running (the sanitizer build checks that nothing leaks).
 */
#include "cl_test.h"
#include "core/cl_config.h"
#include "core/cl_error.h"
#include "core/cl_time.h"
#include "core/cl_worker.h"
#include "serve/cl_server.h"

#include <limits.h>
#include <stdatomic.h>
#include <string.h>

struct counter {
	atomic_int rounds;   /* waits that returned without a stop */
	atomic_int busy;     /* 1 while fn sleeps outside a wait */
	int64_t timeout_us;
	int slow_first;      /* the first round sleeps 100 ms before waiting */
};

static void count_main(struct cl_worker *w, void *arg)
{
	struct counter *c = arg;

	for (;;) {
		if (c->slow_first && atomic_load(&c->rounds) == 0) {
			atomic_store(&c->busy, 1);
			usleep(100000);
			atomic_store(&c->busy, 0);
		}
		if (cl_worker_wait(w, c->timeout_us))
			return;
		atomic_fetch_add(&c->rounds, 1);
	}
}

/* Waits up to 5 s for c->rounds to reach n. */
static int reaches(struct counter *c, int n)
{
	int64_t until = cl_time_mono_us() + 5000000;

	while (atomic_load(&c->rounds) < n && cl_time_mono_us() < until)
		usleep(1000);
	return atomic_load(&c->rounds) >= n;
}

static void test_poke_wakes(void **state)
{
	struct counter c = { .timeout_us = -1 };
	struct cl_worker *w;

	(void)state;
	assert_int_equal(cl_worker_start("t-poke", count_main, &c, &w), CL_OK);
	assert_non_null(w);
	usleep(50000);
	assert_int_equal(atomic_load(&c.rounds), 0); /* no timeout: waits */
	cl_worker_poke(w);
	assert_true(reaches(&c, 1));
	cl_worker_poke(w);
	assert_true(reaches(&c, 2));
	cl_worker_stop(w);
	assert_int_equal(atomic_load(&c.rounds), 2);
	cl_worker_poke(NULL);
	cl_worker_stop(NULL);
}

static void test_poke_while_busy_not_lost(void **state)
{
	struct counter c = { .timeout_us = -1, .slow_first = 1 };
	struct cl_worker *w;
	int64_t until = cl_time_mono_us() + 5000000;

	(void)state;
	assert_int_equal(cl_worker_start("t-busy", count_main, &c, &w), CL_OK);
	while (!atomic_load(&c.busy) && cl_time_mono_us() < until)
		usleep(100);
	assert_int_equal(atomic_load(&c.busy), 1);
	cl_worker_poke(w); /* while fn is not waiting */
	assert_true(reaches(&c, 1));
	cl_worker_stop(w);
}

static void test_timeout_passes(void **state)
{
	struct counter c = { .timeout_us = 10000 };
	struct cl_worker *w;
	int64_t t0 = cl_time_mono_us();

	(void)state;
	assert_int_equal(cl_worker_start("t-timeout", count_main, &c, &w), CL_OK);
	assert_true(reaches(&c, 3));
	assert_true(cl_time_mono_us() - t0 >= 30000);
	cl_worker_stop(w);
}

struct drain {
	atomic_int stopping_seen;
	int64_t slept_us;
};

/* Waits for the stop, then sleeps 50 ms as a draining worker does. */
static void drain_main(struct cl_worker *w, void *arg)
{
	struct drain *d = arg;
	int64_t t0;

	while (!cl_worker_wait(w, -1))
		;
	atomic_store(&d->stopping_seen, cl_worker_stopping(w));
	t0 = cl_time_mono_us();
	cl_worker_sleep(w, 50000);
	d->slept_us = cl_time_mono_us() - t0;
}

static void test_stop_and_sleep(void **state)
{
	struct drain d = { 0 };
	struct cl_worker *w;

	(void)state;
	assert_int_equal(cl_worker_start("t-drain", drain_main, &d, &w), CL_OK);
	cl_worker_stop(w);
	assert_int_equal(atomic_load(&d.stopping_seen), 1);
	assert_true(d.slept_us >= 40000); /* a stop does not cut a sleep short */
}

static void never_main(struct cl_worker *w, void *arg)
{
	(void)w;
	(void)arg;
	fail_msg("a thread ran though its creation failed");
}

static void test_creation_fails(void **state)
{
	struct cl_worker *w = (struct cl_worker *)&w;
	long made = cl_thread_created();

	(void)state;
	cl_thread_fail_after(0);
	assert_int_equal(cl_worker_start("t-never", never_main, NULL, &w), CL_EIO);
	assert_null(w);
	assert_non_null(strstr(cl_error_detail(), "t-never"));
	cl_thread_fail_reset();
	assert_int_equal(cl_thread_created(), made);
}

/* A server whose every thread can be made: its port and bound settings. */
static void server_config(struct cl_config *cfg, const char *dir)
{
	char pipe_path[PATH_MAX + 16];

	snprintf(pipe_path, sizeof(pipe_path), "%s/in/*.csv", dir);
	assert_int_equal(cl_config_init(cfg), 0);
	assert_int_equal(cl_config_set(cfg, "http.listen", "127.0.0.1:0"), 0);
	assert_int_equal(cl_config_set(cfg, "ingest.inputs", "events,fhir,synthetic"), 0);
	assert_int_equal(cl_config_set(cfg, "synthetic.patients", "1"), 0);
	assert_int_equal(cl_config_set(cfg, "webhook.url", "http://127.0.0.1:9/hook"), 0);
	assert_int_equal(cl_config_set(cfg, "pipelines.p.path", pipe_path), 0);
	assert_int_equal(cl_config_set(cfg, "pipelines.p.trigger", "every 1h"), 0);
}

/*
 * Every start of serve whose n-th thread cannot be made, for n = 0, 1, ...
 * until one start makes all it needs: each fails with an error naming a
 * thread, returns no handle, and leaves the data directory usable by the
 * next start (its bronze lock released).
 */
static void test_server_start_fails_without_thread(void **state)
{
	char dir[PATH_MAX];
	struct cl_config cfg;
	struct cl_server *s;
	long n;
	int rc;

	(void)state;
	cl_test_tmpdir(dir, sizeof(dir));
	server_config(&cfg, dir);
	for (n = 0; n < 64; n++) {
		s = (struct cl_server *)&s;
		cl_thread_fail_after(n);
		rc = cl_server_start(&cfg, dir, NULL, &s);
		cl_thread_fail_reset();
		if (rc == CL_OK)
			break;
		assert_null(s);
		assert_non_null(strstr(cl_error_detail(), "thread"));
	}
	/* bronze (2 logs x flusher and syncer), stream, WAL, store writer,
	 * ticker, refiner, pipelines, webhook, the synthetic collector, the
	 * HTTP loops: every one of them was refused once */
	print_message("serve started once %ld thread creations were refused\n", n);
	assert_true(n >= 14);
	assert_int_equal(rc, CL_OK);
	assert_non_null(s);
	assert_true(cl_server_port(s) > 0);
	cl_server_stop(s);
	cl_config_free(&cfg);
	cl_test_rmtree(dir);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_poke_wakes),
		cmocka_unit_test(test_poke_while_busy_not_lost),
		cmocka_unit_test(test_timeout_passes),
		cmocka_unit_test(test_stop_and_sleep),
		cmocka_unit_test(test_creation_fails),
		cmocka_unit_test(test_server_start_fails_without_thread),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
