/*
 * File-system calls used by the storage layers (bronze, the lake), behind
 * one table of function pointers (as SQLite's unix VFS does), so tests can
 * inject failures such as a full disk, a failing fdatasync or a failing
 * rename without a special mount. Also small helpers: write-all, mkdir -p,
 * directory fsync, files created new, and a stdio stream whose writes go
 * through the table.
 */
#ifndef CL_FS_H
#define CL_FS_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <sys/types.h>

/* The overridable system calls. */
struct cl_fs_ops {
	ssize_t (*write)(int fd, const void *buf, size_t n);     /* write(2) */
	ssize_t (*pwrite)(int fd, const void *buf, size_t n, off_t off);
	int (*fdatasync)(int fd);                                /* fdatasync(2) */
	int (*ftruncate)(int fd, off_t len);                     /* ftruncate(2) */
	int (*fsync)(int fd);                                    /* fsync(2), dirs */
	int (*open)(const char *path, int flags, mode_t mode);   /* open(2) */
	int (*rename)(const char *from, const char *to);         /* rename(2) */
	int (*link)(const char *from, const char *to);           /* link(2) */
	int (*unlink)(const char *path);                         /* unlink(2) */
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

/* Opens path with open(2) `flags` (O_CLOEXEC is added) into *fd.
 * Returns 0 or a CL_E* code (errno-mapped) with the detail naming path. */
int cl_fs_open(const char *path, int flags, int mode, int *fd);

/* Creates a new file for writing with `mode`: fails with CL_EEXIST when
 * anything is at path already, a symbolic link included (never followed). */
int cl_fs_create(const char *path, int mode, int *fd);

/* rename(2); 0 or a CL_E* code with the detail naming both paths. */
int cl_fs_rename(const char *from, const char *to);

/* link(2): `to` names the file `from` names. CL_EEXIST (with the detail
 * set) when `to` exists, which makes it a create-if-absent. */
int cl_fs_link(const char *from, const char *to);

/* unlink(2); a path that is already gone is no error. Cleanup after a
 * failure calls cl_fs.unlink itself, so that the failure's detail stays. */
int cl_fs_unlink(const char *path);

/* Fsyncs the directory that holds path, making a new or renamed entry
 * there durable. */
int cl_fs_sync_parent(const char *path);

/*
 * Whether a new file may be renamed over path: 0 when nothing is there or
 * a regular file is. A symbolic link, FIFO, device, socket or directory
 * is CL_EINVAL, with the detail saying which; rename(2) would replace the
 * link or the node itself, never write through it.
 */
int cl_fs_check_replaceable(const char *path);

/* A stdio stream writing to an open descriptor through cl_fs.write, so
 * that code formatting with stdio sees injected faults too. */
struct cl_fs_stream {
	FILE *f;                 /* write with stdio; NULL once closed */
	int fd;                  /* the descriptor (the caller closes it) */
	int rc;                  /* the first write error, CL_E* */
	const char *what;        /* names the file in messages (borrowed) */
};

/* Starts a stream on fd; 0 or CL_ENOMEM. */
int cl_fs_stream_open(struct cl_fs_stream *s, int fd, const char *what);

/* Flushes and ends the stream (fd stays open): 0, or the first write
 * error with its detail. */
int cl_fs_stream_close(struct cl_fs_stream *s);
#endif
