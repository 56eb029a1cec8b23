/*
 * File-system helpers with injectable system calls. See cl_fs.h.
 */
#include "cl_fs.h"
#include "cl_error.h"
#include "cl_mem.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* open(2) takes its mode as a variadic argument; the table's does not. */
static int sys_open(const char *path, int flags, mode_t mode)
{
	return open(path, flags, mode);
}

struct cl_fs_ops cl_fs = {
	.write = write,
	.pwrite = pwrite,
	.fdatasync = fdatasync,
	.ftruncate = ftruncate,
	.fsync = fsync,
	.open = sys_open,
	.rename = rename,
	.link = link,
	.unlink = unlink,
};

void cl_fs_reset(void)
{
	cl_fs.write = write;
	cl_fs.pwrite = pwrite;
	cl_fs.fdatasync = fdatasync;
	cl_fs.ftruncate = ftruncate;
	cl_fs.fsync = fsync;
	cl_fs.open = sys_open;
	cl_fs.rename = rename;
	cl_fs.link = link;
	cl_fs.unlink = unlink;
}

/* Writes all n bytes, at off when off >= 0 (pwrite), else at the file's
 * position; retried after EINTR and short writes. */
static int write_loop(int fd, const char *p, size_t n, int64_t off, const char *what)
{
	while (n > 0) {
		ssize_t w = off >= 0 ? cl_fs.pwrite(fd, p, n, (off_t)off) : cl_fs.write(fd, p, n);

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
		if (off >= 0)
			off += w;
	}
	return CL_OK;
}

int cl_fs_write_all(int fd, const void *buf, size_t n, const char *what)
{
	return write_loop(fd, buf, n, -1, what);
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
	int fd = cl_fs.open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC, 0);
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
	struct stat st;
	char *buf;
	size_t got = 0;
	int fd, rc;

	if ((rc = cl_fs_open(path, O_RDONLY, 0, &fd)) != CL_OK)
		return rc;
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
	int fd, rc;

	if ((size_t)snprintf(tmp, sizeof(tmp), "%s.tmp", path) >= sizeof(tmp))
		return cl_error_set(CL_EINVAL, "path too long: '%s'", path);
	fd = cl_fs.open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_NOFOLLOW | O_CLOEXEC,
			(mode_t)mode);
	if (fd < 0)
		return cl_error_set(cl_error_from_errno(errno),
				    "cannot create '%s': %s", tmp, strerror(errno));
	rc = cl_fs_write_all(fd, buf, n, tmp);
	if (rc == CL_OK)
		rc = cl_fs_datasync(fd, tmp);
	close(fd);
	if (rc == CL_OK)
		rc = cl_fs_rename(tmp, path);
	if (rc != CL_OK) {
		cl_fs.unlink(tmp);
		return rc;
	}
	return cl_fs_sync_parent(path);
}

int cl_fs_is_dir(const char *path)
{
	struct stat st;

	return stat(path, &st) == 0 && S_ISDIR(st.st_mode);
}

int cl_fs_pwrite_all(int fd, const void *buf, size_t n, uint64_t off,
		     const char *what)
{
	if (off > (uint64_t)INT64_MAX)
		return cl_error_set(CL_EINVAL, "write to %s: offset out of range", what);
	return write_loop(fd, buf, n, (int64_t)off, what);
}

int cl_fs_open(const char *path, int flags, int mode, int *fd)
{
	*fd = cl_fs.open(path, flags | O_CLOEXEC, (mode_t)mode);
	if (*fd >= 0)
		return CL_OK;
	return cl_error_set(cl_error_from_errno(errno), "cannot %s '%s': %s",
			    flags & O_CREAT ? "create" : "open", path, strerror(errno));
}

int cl_fs_create(const char *path, int mode, int *fd)
{
	return cl_fs_open(path, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW, mode, fd);
}

int cl_fs_rename(const char *from, const char *to)
{
	if (cl_fs.rename(from, to) == 0)
		return CL_OK;
	return cl_error_set(cl_error_from_errno(errno), "cannot rename '%s' to '%s': %s",
			    from, to, strerror(errno));
}

int cl_fs_link(const char *from, const char *to)
{
	if (cl_fs.link(from, to) == 0)
		return CL_OK;
	return cl_error_set(cl_error_from_errno(errno), "cannot link '%s' to '%s': %s",
			    to, from, strerror(errno));
}

int cl_fs_unlink(const char *path)
{
	if (cl_fs.unlink(path) == 0 || errno == ENOENT)
		return CL_OK;
	return cl_error_set(cl_error_from_errno(errno), "cannot delete '%s': %s", path,
			    strerror(errno));
}

int cl_fs_sync_parent(const char *path)
{
	char dir[PATH_MAX];
	char *slash;

	if ((size_t)snprintf(dir, sizeof(dir), "%s", path) >= sizeof(dir))
		return cl_error_set(CL_EINVAL, "path too long: '%s'", path);
	slash = strrchr(dir, '/');
	if (!slash)
		return cl_fs_sync_dir(".");
	if (slash == dir)
		return cl_fs_sync_dir("/");
	*slash = '\0';
	return cl_fs_sync_dir(dir);
}

int cl_fs_check_replaceable(const char *path)
{
	struct stat st;
	const char *what;

	if (lstat(path, &st) != 0) {
		if (errno == ENOENT)
			return CL_OK;
		return cl_error_set(cl_error_from_errno(errno), "cannot look at '%s': %s", path,
				    strerror(errno));
	}
	if (S_ISREG(st.st_mode))
		return CL_OK;
	what = S_ISLNK(st.st_mode) ? "a symbolic link"
	     : S_ISDIR(st.st_mode) ? "a directory"
	     : S_ISFIFO(st.st_mode) ? "a FIFO"
	     : S_ISCHR(st.st_mode) ? "a character device"
	     : S_ISBLK(st.st_mode) ? "a block device"
	     : S_ISSOCK(st.st_mode) ? "a socket" : "not a regular file";
	return cl_error_set(CL_EINVAL, "'%s' is %s; give the path of a new or regular file",
			    path, what);
}

/* The stream's writes: all of it through cl_fs, or the error kept. */
static ssize_t stream_write(void *cookie, const char *buf, size_t n)
{
	struct cl_fs_stream *s = cookie;

	if (s->rc == CL_OK)
		s->rc = cl_fs_write_all(s->fd, buf, n, s->what);
	if (s->rc != CL_OK) {
		errno = EIO;
		return -1;
	}
	return (ssize_t)n;
}

int cl_fs_stream_open(struct cl_fs_stream *s, int fd, const char *what)
{
	cookie_io_functions_t io = { .write = stream_write };

	s->fd = fd;
	s->rc = CL_OK;
	s->what = what;
	s->f = fopencookie(s, "w", io);
	if (!s->f)
		return cl_error_set(CL_ENOMEM, "no memory for a stream to %s", what);
	return CL_OK;
}

int cl_fs_stream_close(struct cl_fs_stream *s)
{
	int flushed = s->f ? fclose(s->f) : 0;

	s->f = NULL;
	if (s->rc != CL_OK)
		return s->rc;
	if (flushed != 0)
		return cl_error_set(CL_EIO, "writing %s failed", s->what);
	return CL_OK;
}
