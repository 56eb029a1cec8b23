/*
 * File-system helpers with injectable system calls. See cl_fs.h.
 */
#include "cl_fs.h"
#include "cl_error.h"
#include "cl_mem.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

struct cl_fs_ops cl_fs = {
	.write = write,
	.pwrite = pwrite,
	.fdatasync = fdatasync,
	.ftruncate = ftruncate,
	.fsync = fsync,
};

void cl_fs_reset(void)
{
	cl_fs.write = write;
	cl_fs.pwrite = pwrite;
	cl_fs.fdatasync = fdatasync;
	cl_fs.ftruncate = ftruncate;
	cl_fs.fsync = fsync;
}

int cl_fs_write_all(int fd, const void *buf, size_t n, const char *what)
{
	const char *p = buf;

	while (n > 0) {
		ssize_t w = cl_fs.write(fd, p, n);

		if (w < 0) {
			int e = errno;

			if (e == EINTR)
				continue;
			return cl_error_set(cl_error_from_errno(e),
					    "write to %s failed: %s", what,
					    strerror(e));
		}
		if (w == 0)
			return cl_error_set(CL_EIO, "write to %s made no progress",
					    what);
		p += w;
		n -= (size_t)w;
	}
	return CL_OK;
}

int cl_fs_datasync(int fd, const char *what)
{
	for (;;) {
		if (cl_fs.fdatasync(fd) == 0)
			return CL_OK;
		if (errno != EINTR)
			break;
	}
	return cl_error_set(CL_EIO, "fdatasync of %s failed: %s", what,
			    strerror(errno));
}

int cl_fs_mkdirs(const char *path)
{
	char buf[PATH_MAX];
	size_t n = strlen(path);

	if (n == 0 || n >= sizeof(buf))
		return cl_error_set(CL_EINVAL, "bad directory path '%s'", path);
	memcpy(buf, path, n + 1);
	for (size_t i = 1; i <= n; i++) {
		if (buf[i] != '/' && buf[i] != '\0')
			continue;
		buf[i] = '\0';
		if (mkdir(buf, 0700) != 0 && errno != EEXIST)
			return cl_error_set(cl_error_from_errno(errno),
					    "cannot create directory '%s': %s",
					    buf, strerror(errno));
		if (i < n)
			buf[i] = '/';
	}
	if (!cl_fs_is_dir(path))
		return cl_error_set(CL_EINVAL, "'%s' is not a directory", path);
	return CL_OK;
}

int cl_fs_sync_dir(const char *path)
{
	int fd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	int rc;

	if (fd < 0)
		return cl_error_set(cl_error_from_errno(errno),
				    "cannot open directory '%s': %s", path,
				    strerror(errno));
	rc = cl_fs.fsync(fd) == 0 ? CL_OK
			    : cl_error_set(CL_EIO, "fsync of directory '%s' failed: %s",
					   path, strerror(errno));
	close(fd);
	return rc;
}

int cl_fs_read_file(const char *path, size_t max, char **out, size_t *len)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	struct stat st;
	char *buf;
	size_t got = 0;

	if (fd < 0)
		return cl_error_set(cl_error_from_errno(errno), "cannot open '%s': %s",
				    path, strerror(errno));
	if (fstat(fd, &st) != 0 || (size_t)st.st_size > max) {
		close(fd);
		return cl_error_set(CL_ETOOBIG, "'%s' is larger than %zu bytes",
				    path, max);
	}
	buf = cl_malloc((size_t)st.st_size + 1);
	if (!buf) {
		close(fd);
		return cl_error_set(CL_ENOMEM, "no memory to read '%s'", path);
	}
	while (got < (size_t)st.st_size) {
		ssize_t r = read(fd, buf + got, (size_t)st.st_size - got);

		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0)
			break;
		got += (size_t)r;
	}
	close(fd);
	buf[got] = '\0';
	*out = buf;
	if (len)
		*len = got;
	return CL_OK;
}

int cl_fs_write_atomic(const char *path, const void *buf, size_t n, int mode)
{
	char tmp[PATH_MAX];
	char dir[PATH_MAX];
	char *slash;
	int fd, rc;

	if ((size_t)snprintf(tmp, sizeof(tmp), "%s.tmp", path) >= sizeof(tmp))
		return cl_error_set(CL_EINVAL, "path too long: '%s'", path);
	fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, mode);
	if (fd < 0)
		return cl_error_set(cl_error_from_errno(errno),
				    "cannot create '%s': %s", tmp, strerror(errno));
	rc = cl_fs_write_all(fd, buf, n, tmp);
	if (rc == CL_OK)
		rc = cl_fs_datasync(fd, tmp);
	close(fd);
	if (rc == CL_OK && rename(tmp, path) != 0)
		rc = cl_error_set(cl_error_from_errno(errno),
				  "cannot rename '%s' to '%s': %s", tmp, path,
				  strerror(errno));
	if (rc != CL_OK) {
		unlink(tmp);
		return rc;
	}
	snprintf(dir, sizeof(dir), "%s", path);
	slash = strrchr(dir, '/');
	if (slash)
		*slash = '\0';
	else
		snprintf(dir, sizeof(dir), ".");
	return cl_fs_sync_dir(dir[0] ? dir : "/");
}

int cl_fs_is_dir(const char *path)
{
	struct stat st;

	return stat(path, &st) == 0 && S_ISDIR(st.st_mode);
}

int cl_fs_pwrite_all(int fd, const void *buf, size_t n, uint64_t off,
		     const char *what)
{
	const char *p = buf;

	while (n > 0) {
		ssize_t w = cl_fs.pwrite(fd, p, n, (off_t)off);

		if (w < 0) {
			int e = errno;

			if (e == EINTR)
				continue;
			return cl_error_set(cl_error_from_errno(e),
					    "write to %s failed: %s", what,
					    strerror(e));
		}
		if (w == 0)
			return cl_error_set(CL_EIO, "write to %s made no progress",
					    what);
		p += w;
		n -= (size_t)w;
		off += (uint64_t)w;
	}
	return CL_OK;
}
