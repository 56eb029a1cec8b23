/*
 * Opening carelake.db read-only or read-write. See cl_db.h.
 */
#include "cl_db.h"
#include "core/cl_error.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <sqlite3.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

/* SQLite would create carelake.db with mode 0644, and it gives -wal and
 * -shm the mode of the database: made here first, 0600, the three are
 * the owner's alone. An existing file keeps the mode it has, and is not
 * opened here at all: closing any descriptor of a file drops every POSIX
 * lock this process holds on it, the locks of SQLite's connections
 * included, and another process (`carelake ingest` beside `carelake
 * serve`) would then checkpoint and reset the WAL under them. */
static int create_private(const char *path)
{
	int fd;

	if (access(path, F_OK) == 0)
		return CL_OK;
	fd = open(path, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
	if (fd < 0 && errno == EEXIST)
		return CL_OK; /* made meanwhile: by another, who holds it */
	if (fd < 0)
		return cl_error_set(cl_error_from_errno(errno), "cannot create %s: %s", path,
				    strerror(errno));
	close(fd);
	return CL_OK;
}

/* The pragmas every writer runs with. */
static const char writer_pragmas[] = "PRAGMA journal_mode = WAL;"
				     "PRAGMA synchronous = NORMAL;";

int cl_db_open(const char *data_dir, enum cl_db_mode mode, sqlite3 **db)
{
	char path[PATH_MAX];
	int flags = mode == CL_DB_READWRITE
			    ? SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX
			    : SQLITE_OPEN_READONLY | SQLITE_OPEN_NOMUTEX;
	int rc;

	*db = NULL;
	if ((size_t)snprintf(path, sizeof(path), "%s/carelake.db", data_dir) >= sizeof(path))
		return cl_error_set(CL_EINVAL, "data directory path too long");
	if (mode == CL_DB_READWRITE && (rc = create_private(path)) != CL_OK)
		return rc;
	if (sqlite3_open_v2(path, db, flags, NULL) != SQLITE_OK) {
		rc = cl_error_set(!*db ? CL_ENOMEM
				  : sqlite3_errcode(*db) == SQLITE_CANTOPEN ? CL_ENOENT : CL_EIO,
				  "cannot open %s: %s", path,
				  *db ? sqlite3_errmsg(*db) : "out of memory");
		sqlite3_close(*db);
		*db = NULL;
		return rc;
	}
	sqlite3_busy_timeout(*db, CL_DB_BUSY_MS);
	if (mode == CL_DB_READWRITE &&
	    sqlite3_exec(*db, writer_pragmas, NULL, NULL, NULL) != SQLITE_OK) {
		rc = cl_error_set(sqlite3_errcode(*db) == SQLITE_FULL ? CL_ENOSPC : CL_EIO,
				  "%s: %s", path, sqlite3_errmsg(*db));
		sqlite3_close(*db);
		*db = NULL;
		return rc;
	}
	return CL_OK;
}
