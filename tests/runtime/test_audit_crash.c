/*
 * Crash test of the audit trail: a child process appends audit records
 * from several threads and reports each acknowledged (durable) record to
 * the parent through a pipe; the parent SIGKILLs it at a random moment,
 * opens the trail again as the next start would (cutting a torn last
 * line, which it reports), and checks that every acknowledged record is
 * there exactly once and that the whole chain verifies. Many rounds on
 * one growing trail, its files rotating.
 *
 * Usage: test_audit_crash [rounds] [seed]
 */
#include "cl_test.h"
#include "audit/cl_audit.h"
#include "audit/cl_audit_read.h"
#include "core/cl_error.h"
#include "core/cl_log.h"

#include <inttypes.h>
#include <pthread.h>
#include <signal.h>
#include <sys/wait.h>
#include <time.h>

#define THREADS 3
#define MAX_IDS (1u << 22)

static char dir[256], keys[300];
static int rounds = 20;
static unsigned seed;

struct child_thread {
	struct cl_audit *a;
	int fd;
	uint64_t next_id;
};

static void options(struct cl_audit_options *o)
{
	cl_audit_options_from(o, NULL, keys);
	o->checkpoint_records = 50;
	o->segment_max_bytes = 128 * 1024; /* rotate often: crash mid-rotation too */
}

static void *child_thread_main(void *arg)
{
	struct child_thread *ct = arg;
	char req[32];
	const char *patients[1] = { "pat-0001" };

	for (;;) {
		uint64_t id = ct->next_id;
		struct cl_audit_record r = {
			.principal = "tk00000000000001", .role = "clinician", .client = "10.1.2.3",
			.request_id = req, .action = "read", .resource_type = "Observation",
			.patients = patients, .npatients = 1, .count = 3, .status = 200,
		};

		snprintf(req, sizeof(req), "%" PRIu64, id);
		if (cl_audit_append_sync(ct->a, &r) != CL_OK)
			_exit(3);
		/* acknowledged: tell the parent (8-byte writes are atomic) */
		if (write(ct->fd, &id, sizeof(id)) != sizeof(id))
			_exit(4);
		ct->next_id += THREADS;
	}
	return NULL;
}

static void run_child(int fd, uint64_t id_base)
{
	struct cl_audit_options o;
	struct child_thread ct[THREADS];
	pthread_t th[THREADS];
	struct cl_audit *a;

	cl_log_threshold = CL_LOG_ERROR;
	options(&o);
	if (cl_audit_open(dir, "crash", &o, &a) != CL_OK)
		_exit(2);
	for (int t = 0; t < THREADS; t++) {
		ct[t] = (struct child_thread){ a, fd, id_base + (uint64_t)t };
		pthread_create(&th[t], NULL, child_thread_main, &ct[t]);
	}
	for (int t = 0; t < THREADS; t++)
		pthread_join(th[t], NULL);
	_exit(0);
}

static uint8_t *stored;
static int dup_found;

static int mark(void *arg, const struct cl_audit_entry *e)
{
	unsigned long long id;

	(void)arg;
	if (sscanf(e->rec.request_id, "%llu", &id) != 1 || id >= MAX_IDS)
		return 1;
	if (stored[id])
		dup_found = 1;
	stored[id] = 1;
	return 0;
}

static void test_sigkill_rounds(void **state)
{
	uint8_t *acked = calloc(MAX_IDS, 1);
	uint64_t total_acked = 0, torn_rounds = 0;
	struct cl_audit_filter all = { 0 };

	(void)state;
	stored = calloc(MAX_IDS, 1);
	srand(seed);
	for (int round = 0; round < rounds; round++) {
		uint64_t id_base = (uint64_t)round * 100000, id, n = 0;
		struct cl_audit_options o;
		struct cl_audit_stats st;
		struct cl_audit_verify v;
		struct cl_audit *a;
		int fds[2], status;
		pid_t pid;

		assert_int_equal(pipe(fds), 0);
		pid = fork();
		assert_true(pid >= 0);
		if (pid == 0) {
			close(fds[0]);
			run_child(fds[1], id_base);
		}
		close(fds[1]);
		usleep(20000 + (useconds_t)(rand() % 80000));
		kill(pid, SIGKILL);
		while (read(fds[0], &id, sizeof(id)) == sizeof(id)) {
			assert_true(id < MAX_IDS);
			acked[id] = 1;
			n++;
		}
		close(fds[0]);
		assert_int_equal(waitpid(pid, &status, 0), pid);
		assert_true(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL);
		total_acked += n;

		/* the next start recovers, reporting a torn line it cut */
		options(&o);
		assert_int_equal(cl_audit_open(dir, "check", &o, &a), CL_OK);
		cl_audit_get_stats(a, &st);
		if (st.recovered_dropped_bytes)
			torn_rounds++;
		cl_audit_close(a);

		assert_int_equal(cl_audit_verify(dir, NULL, &v), CL_OK);
		if (!v.ok)
			fail_msg("round %d: the trail does not verify: %s", round, v.problem);
		assert_int_equal(v.torn_bytes, 0);
		memset(stored, 0, MAX_IDS);
		dup_found = 0;
		assert_int_equal(cl_audit_search(dir, &all, mark, NULL), CL_OK);
		assert_int_equal(dup_found, 0);
		for (uint64_t i = 0; i < MAX_IDS; i++)
			if (acked[i] && !stored[i])
				fail_msg("round %d: acknowledged audit record %" PRIu64 " lost", round, i);
	}
	print_message("%d rounds, %" PRIu64 " acknowledged records, all present; %" PRIu64
		      " rounds cut a torn line\n", rounds, total_acked, torn_rounds);
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
	printf("test_audit_crash: seed %u\n", seed);
	cl_log_threshold = CL_LOG_WARN;
	cl_test_tmpdir(dir, sizeof(dir));
	snprintf(keys, sizeof(keys), "%s.keys", dir);
	rc = cmocka_run_group_tests(tests, NULL, NULL);
	cl_test_rmtree(dir);
	cl_test_rmtree(keys);
	return rc;
}
