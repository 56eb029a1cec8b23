/*
 * Crash test: a child process appends records from several threads and
 * reports each acknowledged record id to the parent through a pipe. The
 * parent SIGKILLs it at a random moment, then recovers the log and checks
 * that every acknowledged record is there, intact, exactly once, and that
 * no partial record is visible. Many rounds on one growing log.
 *
 * Usage: test_crash [rounds] [seed]
 */
#include "cl_test.h"
#include "bronze/cl_blog.h"
#include "bronze/cl_reader.h"
#include "core/cl_error.h"
#include "core/cl_log.h"

#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <sys/wait.h>
#include <time.h>

#define THREADS 3
#define MAX_IDS (1u << 22)

static char dir[256];
static int rounds = 40;
static unsigned seed;

struct child_thread {
	struct cl_blog *log;
	int fd;
	uint64_t next_id;
	uint64_t stride;
};

/* Record content: id plus bytes derived from it (cl_test_record). */
static void *child_thread_main(void *arg)
{
	struct child_thread *ct = arg;
	char buf[512];

	for (;;) {
		uint64_t id = ct->next_id, off;
		size_t len = cl_test_record_len(id);

		cl_test_record(id, buf, len);
		if (cl_blog_append(ct->log, buf, len, &off) != CL_OK)
			_exit(3);
		/* acknowledged: tell the parent (8-byte writes are atomic) */
		if (write(ct->fd, &id, sizeof(id)) != sizeof(id))
			_exit(4);
		ct->next_id += ct->stride;
	}
	return NULL;
}

static void run_child(int fd, uint64_t id_base)
{
	struct cl_blog_options o;
	struct child_thread ct[THREADS];
	pthread_t th[THREADS];
	struct cl_blog *log;

	cl_log_threshold = CL_LOG_ERROR;
	cl_blog_options_default(&o);
	o.segment_max_bytes = 256 * 1024; /* rotate often: crash mid-rotation too */
	o.commit_max_records = 64;
	if (cl_blog_open(dir, "t", &o, &log) != CL_OK)
		_exit(2);
	for (int t = 0; t < THREADS; t++) {
		ct[t] = (struct child_thread){ log, fd, id_base + (uint64_t)t, THREADS };
		pthread_create(&th[t], NULL, child_thread_main, &ct[t]);
	}
	for (int t = 0; t < THREADS; t++)
		pthread_join(th[t], NULL);
	_exit(0);
}

static void test_sigkill_rounds(void **state)
{
	uint8_t *acked = calloc(MAX_IDS, 1);  /* id acknowledged */
	uint8_t *stored = calloc(MAX_IDS, 1); /* id found in the log */
	uint64_t total_acked = 0;

	(void)state;
	srand(seed);
	for (int round = 0; round < rounds; round++) {
		uint64_t id_base = (uint64_t)round * 100000;
		struct cl_blog_options o;
		struct cl_blog_reader *r;
		struct cl_frame f;
		struct cl_blog *log;
		uint64_t id, n = 0, expect = 0;
		int fds[2], status, rc;
		pid_t pid;
		char buf[512];

		assert_int_equal(pipe(fds), 0);
		pid = fork();
		assert_true(pid >= 0);
		if (pid == 0) {
			close(fds[0]);
			run_child(fds[1], id_base);
		}
		close(fds[1]);
		usleep(5000 + (useconds_t)(rand() % 60000));
		kill(pid, SIGKILL);
		while ((rc = (int)read(fds[0], &id, sizeof(id))) == sizeof(id)) {
			assert_true(id < MAX_IDS);
			acked[id] = 1;
			n++;
		}
		close(fds[0]);
		assert_int_equal(waitpid(pid, &status, 0), pid);
		assert_true(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL);
		total_acked += n;

		/* recover, as the next start of the platform would */
		cl_blog_options_default(&o);
		assert_int_equal(cl_blog_open(dir, "t", &o, &log), CL_OK);
		cl_blog_close(log);

		memset(stored, 0, MAX_IDS);
		assert_int_equal(cl_blog_reader_open(dir, 0, UINT64_MAX, 1 << 20, &r), CL_OK);
		while ((rc = cl_blog_reader_next(r, &f)) == 1) {
			unsigned long long rid;

			/* offsets without gaps, records whole and correct */
			assert_int_equal(f.offset, expect);
			expect++;
			assert_true(f.len < sizeof(buf));
			memcpy(buf, f.data, f.len);
			buf[f.len] = '\0';
			assert_int_equal(sscanf(buf, "rec %llu ", &rid), 1);
			assert_true(rid < MAX_IDS);
			assert_int_equal(f.len, cl_test_record_len(rid));
			{
				char want[512];

				cl_test_record(rid, want, f.len);
				assert_memory_equal(f.data, want, f.len);
			}
			assert_int_equal(stored[rid], 0); /* never twice */
			stored[rid] = 1;
		}
		assert_int_equal(rc, 0);
		assert_int_equal(cl_blog_reader_tail_bytes(r), 0);
		cl_blog_reader_close(r);
		for (uint64_t i = 0; i < MAX_IDS; i++)
			if (acked[i] && !stored[i])
				fail_msg("round %d: acknowledged record %llu lost", round,
					 (unsigned long long)i);
	}
	print_message("%d rounds, %llu acknowledged records, all intact\n", rounds,
		      (unsigned long long)total_acked);
	assert_true(total_acked > 0);
	free(acked);
	free(stored);
}

int main(int argc, char **argv)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_sigkill_rounds),
	};
	int rc;

	if (argc > 1)
		rounds = atoi(argv[1]);
	seed = argc > 2 ? (unsigned)atoi(argv[2]) : (unsigned)time(NULL);
	printf("test_crash: seed %u\n", seed);
	cl_test_tmpdir(dir, sizeof(dir));
	rc = cmocka_run_group_tests(tests, NULL, NULL);
	cl_test_rmtree(dir);
	return rc;
}
