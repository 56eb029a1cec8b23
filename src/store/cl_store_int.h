/*
 * The serving store's inside, for the store's own files (cl_store.c and
 * the tables kept beside it, such as cl_store_access.c): its SQLite
 * connection and the error that names what failed. Nothing outside
 * src/store includes this.
 */
#ifndef CL_STORE_INT_H
#define CL_STORE_INT_H

#include <sqlite3.h>

struct cl_store;

sqlite3 *cl_store_sqlite(struct cl_store *s);

/* The connection's last error as a CL_ code (CL_ENOSPC for a full disk,
 * CL_EBUSY when locked, else CL_EIO), with "carelake.db: what: why". */
int cl_store_db_error(struct cl_store *s, const char *what);

#endif
