/*
 * File-system calls used by the storage layers, behind one table of
 * function pointers (as SQLite's unix VFS does), so tests can inject
 * failures such as a full disk or a failing fdatasync without a special
 * mount. Also small helpers: write-all, mkdir -p, directory fsync.
 */
#ifndef CL_FS_H
#define CL_FS_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

/* The overridable system calls. */
struct cl_fs_ops {
	ssize_t (*write)(int fd, const void *buf, size_t n);     /* write(2) */
	ssize_t (*pwrite)(int fd, const void *buf, size_t n, off_t off);
	int (*fdatasync)(int fd);                                /* fdatasync(2) */
	int (*ftruncate)(int fd, off_t len);                     /* ftruncate(2) */
	int (*fsync)(int fd);                                    /* fsync(2), dirs */
};

/* The active table; tests assign members and restore with cl_fs_reset(). */
extern struct cl_fs_ops cl_fs;

/* Restores the real system calls. */
void cl_fs_reset(void);

/*
 * Writes all n bytes at the file position, retrying short writes and EINTR.
 * Returns 0 or a CL_E* code (errno-mapped) with the detail set.
 */
int cl_fs_write_all(int fd, const void *buf, size_t n, const char *what);

/* fdatasync with EINTR retry; 0 or a CL_E* code with detail. */
int cl_fs_datasync(int fd, const char *what);

/* Creates a directory and its parents (mode 0700 for new ones: what
 * carelake keeps is for its own user alone). */
int cl_fs_mkdirs(const char *path);

/* Opens a directory and fsyncs it, making new entries in it durable. */
int cl_fs_sync_dir(const char *path);

/* Reads a whole small file into a NUL-terminated buffer from cl_malloc. */
int cl_fs_read_file(const char *path, size_t max, char **out, size_t *len);

/*
 * Writes a small file atomically: temp file, fsync, rename, fsync of the
 * directory. Readers see the old or the new content, never a mix.
 */
int cl_fs_write_atomic(const char *path, const void *buf, size_t n, int mode);

/* 1 if path is an existing directory, 0 otherwise. */
int cl_fs_is_dir(const char *path);


/* Like cl_fs_write_all, at an explicit file offset (pwrite). */
int cl_fs_pwrite_all(int fd, const void *buf, size_t n, uint64_t off,
		     const char *what);
#endif
