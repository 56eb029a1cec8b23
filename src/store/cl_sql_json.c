/*
 * SQLite rows as JSON. See cl_sql_json.h.
 */
#include "cl_sql_json.h"

json_t *cl_sql_row_json(sqlite3_stmt *st)
{
	json_t *o = json_object();

	for (int i = 0; o && i < sqlite3_column_count(st); i++) {
		json_t *v;

		switch (sqlite3_column_type(st, i)) {
		case SQLITE_INTEGER:
			v = json_integer(sqlite3_column_int64(st, i));
			break;
		case SQLITE_FLOAT:
			v = json_real(sqlite3_column_double(st, i));
			break;
		case SQLITE_NULL:
			v = json_null();
			break;
		default:
			v = json_stringn((const char *)sqlite3_column_text(st, i),
					 (size_t)sqlite3_column_bytes(st, i));
			if (!v)
				v = json_string("<binary>");
		}
		json_object_set_new(o, sqlite3_column_name(st, i), v);
	}
	return o;
}

json_t *cl_sql_rows_json(sqlite3 *db, const char *sql, const char *bind)
{
	json_t *arr = json_array();
	sqlite3_stmt *st;

	if (!arr || sqlite3_prepare_v2(db, sql, -1, &st, NULL) != SQLITE_OK)
		return arr;
	if (bind)
		sqlite3_bind_text(st, 1, bind, -1, SQLITE_STATIC);
	while (sqlite3_step(st) == SQLITE_ROW)
		json_array_append_new(arr, cl_sql_row_json(st));
	sqlite3_finalize(st);
	return arr;
}

int64_t cl_sql_one_int(sqlite3 *db, const char *sql, const char *bind, int64_t dflt)
{
	sqlite3_stmt *st;
	int64_t v = dflt;

	if (sqlite3_prepare_v2(db, sql, -1, &st, NULL) != SQLITE_OK)
		return dflt;
	if (bind)
		sqlite3_bind_text(st, 1, bind, -1, SQLITE_STATIC);
	if (sqlite3_step(st) == SQLITE_ROW && sqlite3_column_type(st, 0) != SQLITE_NULL)
		v = sqlite3_column_int64(st, 0);
	sqlite3_finalize(st);
	return v;
}
