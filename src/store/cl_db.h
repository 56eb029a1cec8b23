/*
 * The one way to open carelake.db, the serving store: read-only for those
 * who only look (status, export, the CLI's readers), read-write for those
 * who change it (the stream's store writer, batch loads). A read-write open
 * makes the file first with mode 0600 (an existing file keeps its mode),
 * and both wait up to CL_DB_BUSY_MS for a writer instead of failing at
 * once. The database runs in WAL mode with synchronous = NORMAL: readers
 * beside one writer, and a commit durable at the next checkpoint of the
 * WAL (the bronze log, not carelake.db, holds what was acknowledged).
 * carelake query opens its own read-only handle with its limits
 * (cl_query.c).
 */
#ifndef CL_DB_H
#define CL_DB_H

struct sqlite3;

/* How long a statement waits for another connection's lock. */
#define CL_DB_BUSY_MS 10000

/* Open modes. */
enum cl_db_mode {
	CL_DB_READONLY = 1,  /* the file must exist (CL_ENOENT otherwise) */
	CL_DB_READWRITE = 2, /* created if absent, mode 0600, WAL */
};

/*
 * Opens <data_dir>/carelake.db. Returns CL_OK with *db open (the caller
 * closes it with sqlite3_close), or CL_ENOENT (read-only and no file), CL_EIO
 * or CL_ENOMEM with a detail naming the path and SQLite's reason; *db is
 * then NULL.
 */
int cl_db_open(const char *data_dir, enum cl_db_mode mode, struct sqlite3 **db);

#endif
