/*
 * A result row of SQLite as a JSON object: integers and reals stay
 * numbers, NULL is null, text is a string (text that is not UTF-8, a
 * blob say, becomes "<binary>").
 */
#ifndef CL_SQL_JSON_H
#define CL_SQL_JSON_H

#include <jansson.h>
#include <sqlite3.h>

json_t *cl_sql_row_json(sqlite3_stmt *st);

#endif
