/*
 * The keys directory. See cl_keys.h.
 *
 * A key is made by writing random bytes to a temporary file and linking
 * it into place (cl_fs_link), so two processes making the same key at
 * once agree on one: the loser of the link reads the winner's.
 */
#include "cl_keys.h"
#include "core/cl_error.h"
#include "core/cl_fs.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

int cl_keys_dir(const char *given, const char *data_dir, char *out, size_t cap)
{
	const char *env = getenv("CARELAKE_KEYS");
	int n;

	if (given && *given)
		n = snprintf(out, cap, "%s", given);
	else if (env && *env)
		n = snprintf(out, cap, "%s", env);
	else
		n = snprintf(out, cap, "%s.keys", data_dir);
	if (n < 0 || (size_t)n >= cap)
		return cl_error_set(CL_EINVAL, "the keys directory's path is too long");
	return CL_OK;
}

static int name_ok(const char *name)
{
	if (!*name || *name == '.')
		return 0;
	for (const char *p = name; *p; p++)
		if (!((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') || (*p >= '0' && *p <= '9') ||
		      *p == '-' || *p == '_' || *p == '.'))
			return 0;
	return 1;
}

/* Reads an existing key file: 1 if there is none, 0 when read. */
static int read_key(const char *path, const char *name, unsigned char *out, size_t len)
{
	struct stat st;
	ssize_t got;
	int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);

	if (fd < 0) {
		if (errno == ENOENT)
			return 1;
		return cl_error_set(CL_EIO, "cannot open key %s: %s", name, strerror(errno));
	}
	if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
		close(fd);
		return cl_error_set(CL_EINVAL, "key %s is not a regular file", name);
	}
	if (st.st_mode & 077) {
		close(fd);
		return cl_error_set(CL_EINVAL, "key %s is readable by group or others (mode %o); "
				    "chmod 600 it", name, (unsigned)(st.st_mode & 0777));
	}
	if ((size_t)st.st_size != len) {
		close(fd);
		return cl_error_set(CL_EINVAL, "key %s holds %lld bytes, not %zu", name,
				    (long long)st.st_size, len);
	}
	got = read(fd, out, len);
	close(fd);
	if (got != (ssize_t)len)
		return cl_error_set(CL_EIO, "cannot read key %s", name);
	return 0;
}

int cl_keys_secret(const char *keys_dir, const char *name, unsigned char *out, size_t len)
{
	char path[PATH_MAX], tmp[PATH_MAX];
	unsigned char fresh[64];
	int rc, fd;

	if (len < 16 || len > sizeof(fresh) || !name_ok(name))
		return cl_error_set(CL_EINVAL, "bad key request '%s' of %zu bytes", name, len);
	if (snprintf(path, sizeof(path), "%s/%s", keys_dir, name) >= (int)sizeof(path) ||
	    snprintf(tmp, sizeof(tmp), "%s/.%s.%ld.tmp", keys_dir, name, (long)getpid()) >= (int)sizeof(tmp))
		return cl_error_set(CL_EINVAL, "the keys directory's path is too long");
	rc = read_key(path, name, out, len);
	if (rc <= 0)
		return rc;
	/* first use: make it */
	if (mkdir(keys_dir, 0700) != 0 && errno != EEXIST)
		return cl_error_set(CL_EIO, "cannot make the keys directory %s: %s", keys_dir,
				    strerror(errno));
	if (sodium_init() < 0)
		return cl_error_set(CL_EIO, "libsodium did not start");
	randombytes_buf(fresh, len);
	cl_fs_unlink(tmp); /* a crashed run's, of a reused pid */
	rc = cl_fs_create(tmp, 0600, &fd);
	if (rc != CL_OK)
		return rc;
	rc = cl_fs_write_all(fd, fresh, len, tmp);
	if (rc == CL_OK)
		rc = cl_fs_datasync(fd, tmp);
	close(fd);
	if (rc == CL_OK) {
		rc = cl_fs_link(tmp, path);
		if (rc == CL_EEXIST)
			rc = CL_OK; /* another process made it first: use theirs */
	}
	cl_fs_unlink(tmp);
	sodium_memzero(fresh, sizeof(fresh));
	if (rc == CL_OK)
		rc = cl_fs_sync_dir(keys_dir);
	if (rc != CL_OK)
		return rc;
	rc = read_key(path, name, out, len);
	return rc == 1 ? cl_error_set(CL_EIO, "key %s vanished while being made", name) : rc;
}
