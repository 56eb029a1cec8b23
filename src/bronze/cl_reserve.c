/*
 * Room kept for bronze. See cl_reserve.h.
 */
#include "cl_reserve.h"
#include "core/cl_error.h"
#include "core/cl_log.h"
#include "core/cl_time.h"

#include <endian.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <unistd.h>

#define HEADER 8 /* the size the reserve should have, little-endian */

static void paths(const char *data_dir, char *path, char *tmp)
{
	snprintf(path, PATH_MAX, "%s/bronze.reserve", data_dir);
	snprintf(tmp, PATH_MAX, "%s/bronze.reserve.tmp", data_dir);
}

/* Makes the reserve of `size` bytes in tmp and puts it in place of path,
 * if the disk has room for it twice over: 1 done, 0 not. */
static int hold(const char *path, const char *tmp, uint64_t size)
{
	uint64_t le = htole64(size);
	struct statvfs v;
	int fd, ok;

	if (statvfs(path, &v) != 0 || (uint64_t)v.f_bavail * v.f_frsize < 2 * size)
		return 0;
	fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
	if (fd < 0)
		return 0; /* another thread is making it */
	ok = posix_fallocate(fd, 0, (off_t)size) == 0 &&
	     pwrite(fd, &le, HEADER, 0) == HEADER;
	close(fd);
	if (!ok || rename(tmp, path) != 0) {
		unlink(tmp);
		return 0;
	}
	return 1;
}

/* A taken reserve: its header only. */
static int mark_taken(const char *path, uint64_t size)
{
	uint64_t le = htole64(size);
	int fd = open(path, O_WRONLY | O_CREAT | O_CLOEXEC, 0600), ok, e;

	if (fd < 0)
		return cl_error_set(cl_error_from_errno(errno), "%s: %s", path, strerror(errno));
	ok = ftruncate(fd, HEADER) == 0 && pwrite(fd, &le, HEADER, 0) == HEADER;
	e = errno;
	close(fd);
	return ok ? CL_OK : cl_error_set(cl_error_from_errno(e), "%s: %s", path, strerror(e));
}

int cl_reserve_keep(const char *data_dir, uint64_t max_bytes)
{
	char path[PATH_MAX], tmp[PATH_MAX];
	struct statvfs v;
	uint64_t size;
	int rc;

	paths(data_dir, path, tmp);
	unlink(tmp); /* a start that stopped halfway */
	if (statvfs(data_dir, &v) != 0)
		return cl_error_set(cl_error_from_errno(errno), "%s: %s", data_dir, strerror(errno));
	/* a twentieth of the disk, and a quarter of what is free now: a
	 * start on a nearly full disk holds what it can, not nothing */
	size = (uint64_t)v.f_blocks * v.f_frsize / 20;
	if (size > (uint64_t)v.f_bavail * v.f_frsize / 4)
		size = (uint64_t)v.f_bavail * v.f_frsize / 4;
	if (size > max_bytes)
		size = max_bytes;
	size &= ~(uint64_t)4095;
	if (size == 0) {
		if (unlink(path) != 0 && errno != ENOENT)
			return cl_error_set(cl_error_from_errno(errno), "%s: %s", path, strerror(errno));
		return CL_OK;
	}
	{
		struct stat st;

		if (stat(path, &st) == 0 && (uint64_t)st.st_size == size)
			return CL_OK; /* held, as it should be */
	}
	rc = mark_taken(path, size);
	if (rc == CL_OK)
		hold(path, tmp, size);
	return rc;
}

int cl_reserve_take(const char *data_dir)
{
	char path[PATH_MAX], tmp[PATH_MAX];
	struct stat st;
	int fd, took;

	paths(data_dir, path, tmp);
	fd = open(path, O_WRONLY | O_CLOEXEC);
	if (fd < 0)
		return 0;
	took = fstat(fd, &st) == 0 && st.st_size > HEADER && ftruncate(fd, HEADER) == 0;
	close(fd);
	return took;
}

int cl_reserve_ready(const char *data_dir)
{
	char path[PATH_MAX], tmp[PATH_MAX];
	uint64_t le = 0;
	struct stat st;
	int fd, held;

	paths(data_dir, path, tmp);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return 1; /* none (or none to read): nobody waits */
	held = fstat(fd, &st) == 0 && st.st_size > HEADER;
	if (!held && pread(fd, &le, HEADER, 0) != HEADER)
		le = 0;
	close(fd);
	if (held)
		return 1;
	le = le64toh(le);
	if (le <= HEADER)
		return 1; /* not a reserve this code made: nothing to wait for */
	return hold(path, tmp, le);
}

int cl_reserve_room(const char *data_dir, uint64_t need, const char *comp, int64_t *said_mono)
{
	int ready = cl_reserve_ready(data_dir);
	uint64_t avail = UINT64_MAX;
	struct statvfs v;

	if (need && statvfs(data_dir, &v) == 0)
		avail = (uint64_t)v.f_bavail * v.f_frsize;
	if (ready && avail >= need) {
		if (*said_mono)
			cl_log_info(comp, "event=disk_room_again");
		*said_mono = 0;
		return 1;
	}
	if (!*said_mono || cl_time_mono_us() - *said_mono >= 60000000) {
		*said_mono = cl_time_mono_us();
		cl_log_warn(comp, "event=waiting_for_disk bronze_reserve=%s needed_bytes=%llu "
			    "detail=\"the disk is full or nearly: bronze keeps taking events in "
			    "the room kept for it; this catches up from bronze once space is "
			    "freed\"", ready ? "held" : "taken", (unsigned long long)need);
	}
	return 0;
}
