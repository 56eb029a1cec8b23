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
