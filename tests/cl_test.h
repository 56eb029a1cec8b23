/*
 * Helpers shared by carelake's tests: temporary directories, deterministic
 * record contents, and cmocka's includes in the order it needs.
 */
#ifndef CL_TEST_H
#define CL_TEST_H

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <ftw.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <math.h>
#include <errno.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/types.h>

static int cl_test_rm_entry(const char *path, const struct stat *st, int flag,
			    struct FTW *ftw)
{
	(void)st;
	(void)flag;
	(void)ftw;
	return remove(path);
}

/* Mounts a tmpfs of `size` ("1m") on dir, which must exist; 1 when
 * mounted, 0 when this process may not mount (the caller skips, saying
 * so). */
static inline int cl_test_mount_tmpfs(const char *dir, const char *size)
{
	char opts[32];

	snprintf(opts, sizeof(opts), "size=%s", size);
	if (mount("tmpfs", dir, "tmpfs", 0, opts) == 0)
		return 1;
	fprintf(stderr, "cannot mount a tmpfs on %s (%s)\n", dir, strerror(errno));
	return 0;
}

/* Removes a directory tree. */
static inline void cl_test_rmtree(const char *dir)
{
	nftw(dir, cl_test_rm_entry, 16, FTW_DEPTH | FTW_PHYS);
}

/* In a child just forked to exec a server or broker: it is killed when
 * the test process ends, so a failed assertion (which skips the test's own
 * stop) never leaves it running. */
static inline void cl_test_die_with_parent(pid_t parent)
{
	prctl(PR_SET_PDEATHSIG, SIGKILL);
	if (getppid() != parent) /* the parent is already gone */
		_exit(126);
}

/*
 * How many times slower than a normal build the program under test runs:
 * CARELAKE_TEST_SLOWDOWN (1 to 50, default 1; make test-tsan sets it, as
 * ThreadSanitizer costs 5-15x). Waits for something to happen are scaled
 * by it; what the test asserts once it happened is not.
 */
static inline int cl_test_slowdown(void)
{
	const char *v = getenv("CARELAKE_TEST_SLOWDOWN");
	int f = v ? atoi(v) : 1;

	return f < 1 ? 1 : f > 50 ? 50 : f;
}

/* Creates a fresh temporary directory into buf (at least 64 bytes). */
static inline void cl_test_tmpdir(char *buf, size_t cap)
{
	const char *base = getenv("TMPDIR");

	snprintf(buf, cap, "%s/carelake-test-XXXXXX", base && *base ? base : "/tmp");
	if (!mkdtemp(buf)) {
		perror("mkdtemp");
		abort();
	}
}

/*
 * Deterministic record content for id: "rec <id> " followed by bytes that
 * depend on id, `len` bytes in all (len >= 24). Tests rebuild it to check
 * what they read back.
 */
static inline void cl_test_record(uint64_t id, char *buf, size_t len)
{
	uint64_t x = id * 0x9E3779B97F4A7C15ull + 7;
	int n = snprintf(buf, len, "rec %llu ", (unsigned long long)id);

	for (size_t i = (size_t)n; i < len; i++) {
		x ^= x << 13;
		x ^= x >> 7;
		x ^= x << 17;
		buf[i] = (char)('a' + x % 26);
	}
}

/* Length of record id's content: varies from 24 to 24 + 199 bytes. */
static inline size_t cl_test_record_len(uint64_t id)
{
	return 24 + (size_t)((id * 2654435761u) % 200);
}

#endif
