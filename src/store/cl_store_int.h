/*
 * The serving store's inside, for the store's own files (cl_store.c and
 * the tables kept beside it, such as cl_store_access.c): its SQLite
 * connection and the error that names what failed. Nothing outside
 * src/store includes this.
 */
#ifndef CL_STORE_INT_H
#define CL_STORE_INT_H

#include <jansson.h>
#include <sqlite3.h>
#include <stdint.h>

struct cl_store;
struct cl_store_alert_filter;

sqlite3 *cl_store_sqlite(struct cl_store *s);

/* Sets o[key] to the instant us as RFC 3339 with milliseconds, as every
 * time the store gives out reads. */
void cl_store_json_time(json_t *o, const char *key, int64_t us);

/* The rows of text with f bound (?1 since, ?2 patient or NULL, ?3 open
 * only, ?4 id, ?5 limit, and ?6 wards when text has it), each made an object by row, as a JSON
 * array in *out; `what` names them in an error. */
int cl_store_alert_rows(struct cl_store *s, const char *text, const struct cl_store_alert_filter *f,
			json_t *(*row)(sqlite3_stmt *q), const char *what, json_t **out);

/* The same as a compact JSON text (*out, free()). */
int cl_store_alert_list(struct cl_store *s, const char *text, const struct cl_store_alert_filter *f,
			json_t *(*row)(sqlite3_stmt *q), const char *what, char **out);

/* The SQL expression of the ward of the patient `patient` (itself an
 * SQL expression: "?1", "alert.patient_id") into buf[cap], NULL when
 * nothing says: the ward of its latest encounter naming one (an open one
 * before a finished one), else that of a device bound to it — of the
 * tables there are (cl_store_patient_ward). */
void cl_store_ward_sql(struct cl_store *s, const char *patient, char *buf, size_t cap);

/* The connection's last error as a CL_ code (CL_ENOSPC for a full disk,
 * CL_EBUSY when locked, else CL_EIO), with "carelake.db: what: why". */
int cl_store_db_error(struct cl_store *s, const char *what);

#endif
