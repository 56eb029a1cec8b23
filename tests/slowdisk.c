/*
 * A slow disk for tests and benchmarks, preloaded into a process
 * (LD_PRELOAD): every fdatasync and fsync first does the real work, then
 * waits as a disk with a long sync tail would.
 *
 *   SLOWDISK_MS     the added wait (default 45)
 *   SLOWDISK_EVERY  only every Nth sync of the process waits (default 1)
 *   SLOWDISK_MATCH  only syncs of files whose path contains this text
 *
 *   LD_PRELOAD=build/libslowdisk.so SLOWDISK_MS=45 prog ...
 */
#include <dlfcn.h>
#include <limits.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static atomic_long syncs;

static void tail(int fd)
{
	const char *ms = getenv("SLOWDISK_MS"), *every = getenv("SLOWDISK_EVERY");
	const char *match = getenv("SLOWDISK_MATCH");
	long d = ms ? atol(ms) : 45, n = every ? atol(every) : 1, k;

	if (match && *match) {
		char link[64], path[PATH_MAX];
		ssize_t len;

		snprintf(link, sizeof(link), "/proc/self/fd/%d", fd);
		len = readlink(link, path, sizeof(path) - 1);
		if (len <= 0)
			return;
		path[len] = '\0';
		if (!strstr(path, match))
			return;
	}
	k = atomic_fetch_add(&syncs, 1) + 1;
	if (d > 0 && (n <= 1 || k % n == 0)) {
		struct timespec t = { d / 1000, (d % 1000) * 1000000L };

		while (nanosleep(&t, &t) != 0)
			;
	}
}

int fdatasync(int fd)
{
	static int (*real)(int);
	int rc;

	if (!real)
		real = (int (*)(int))dlsym(RTLD_NEXT, "fdatasync");
	rc = real(fd);
	tail(fd);
	return rc;
}

int fsync(int fd)
{
	static int (*real)(int);
	int rc;

	if (!real)
		real = (int (*)(int))dlsym(RTLD_NEXT, "fsync");
	rc = real(fd);
	tail(fd);
	return rc;
}
