/*
 * The alert outbox's named cursors. See cl_store_outbox.h.
 */
#include "cl_store_outbox.h"
#include "cl_store.h"
#include "cl_store_int.h"
#include "core/cl_error.h"

#include <jansson.h>
#include <sqlite3.h>
#include <stdlib.h>

/* Runs sql with up to two bound values (text a, integer b) to its end;
 * *out, when given, the first column of its one row. */
static int exec1(struct cl_store *s, const char *sql, const char *a, int64_t b, int64_t *out,
		 const char *what)
{
	sqlite3_stmt *q;
	int rc;

	if (sqlite3_prepare_v2(cl_store_sqlite(s), sql, -1, &q, NULL) != SQLITE_OK)
		return cl_store_db_error(s, what);
	if (sqlite3_bind_parameter_count(q) >= 1)
		sqlite3_bind_text(q, 1, a, -1, SQLITE_STATIC);
	if (sqlite3_bind_parameter_count(q) >= 2)
		sqlite3_bind_int64(q, 2, b);
	while ((rc = sqlite3_step(q)) == SQLITE_ROW)
		if (out)
			*out = sqlite3_column_int64(q, 0);
	sqlite3_finalize(q);
	return rc == SQLITE_DONE ? CL_OK : cl_store_db_error(s, what);
}

static const char prune[] =
	"DELETE FROM alert_outbox WHERE seq <= coalesce((SELECT min(seq) FROM outbox_cursor),"
	" (SELECT max(seq) FROM alert_outbox))";

int cl_store_outbox_consumers(struct cl_store *s, const char *const *names, int n)
{
	json_t *arr = json_array();
	char *list;
	int rc;

	for (int i = 0; i < n; i++)
		json_array_append_new(arr, json_string(names[i]));
	list = json_dumps(arr, JSON_COMPACT);
	json_decref(arr);
	if (!list)
		return cl_error_set(CL_ENOMEM, "no memory for the outbox's consumers");
	rc = cl_store_begin(s);
	if (rc == CL_OK)
		rc = exec1(s, "INSERT OR IGNORE INTO outbox_cursor(name, seq)"
			   " SELECT value, 0 FROM json_each(?1)", list, 0, NULL,
			   "add the outbox's consumers");
	if (rc == CL_OK)
		rc = exec1(s, "DELETE FROM outbox_cursor WHERE name NOT IN"
			   " (SELECT value FROM json_each(?1))", list, 0, NULL,
			   "drop the outbox's old consumers");
	if (rc == CL_OK)
		rc = exec1(s, prune, NULL, 0, NULL, "clear the outbox");
	if (rc == CL_OK)
		rc = cl_store_commit(s);
	if (rc != CL_OK)
		cl_store_rollback(s);
	free(list);
	return rc;
}

int cl_store_outbox_consumers_count(struct cl_store *s, int64_t *n)
{
	*n = 0;
	return exec1(s, "SELECT count(*) FROM outbox_cursor", NULL, 0, n,
		     "count the outbox's consumers");
}

int cl_store_outbox_cursor(struct cl_store *s, const char *name, int64_t *seq)
{
	int rc = exec1(s, "INSERT OR IGNORE INTO outbox_cursor(name, seq) VALUES (?1, 0)", name,
		       0, NULL, "add an outbox cursor");

	*seq = 0;
	if (rc == CL_OK)
		rc = exec1(s, "SELECT seq FROM outbox_cursor WHERE name = ?1", name, 0, seq,
			   "read an outbox cursor");
	return rc;
}

int cl_store_outbox_advance(struct cl_store *s, const char *name, int64_t seq)
{
	int rc = exec1(s, "UPDATE outbox_cursor SET seq = max(seq, ?2) WHERE name = ?1", name,
		       seq, NULL, "move an outbox cursor");

	return rc == CL_OK ? exec1(s, prune, NULL, 0, NULL, "clear the outbox") : rc;
}

int cl_store_outbox_pending(struct cl_store *s, int64_t after, int64_t *n)
{
	sqlite3_stmt *q;
	int rc;

	*n = 0;
	if (sqlite3_prepare_v2(cl_store_sqlite(s), "SELECT count(*) FROM alert_outbox"
			       " WHERE seq > ?1", -1, &q, NULL) != SQLITE_OK)
		return cl_store_db_error(s, "count the outbox");
	sqlite3_bind_int64(q, 1, after);
	rc = sqlite3_step(q);
	if (rc == SQLITE_ROW)
		*n = sqlite3_column_int64(q, 0);
	sqlite3_finalize(q);
	return rc == SQLITE_ROW ? CL_OK : cl_store_db_error(s, "count the outbox");
}
