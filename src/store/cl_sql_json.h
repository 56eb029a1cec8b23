/*
 * A result row of SQLite as a JSON object: integers and reals stay
 * numbers, NULL is null, text is a string (text that is not UTF-8, a
 * blob say, becomes "<binary>"). And the small queries a module answers
 * status with: rows as an array, one number.
 */
#ifndef CL_SQL_JSON_H
#define CL_SQL_JSON_H

#include <jansson.h>
#include <sqlite3.h>
#include <stdint.h>

json_t *cl_sql_row_json(sqlite3_stmt *st);

/* The rows of sql (one optional text parameter, bind) as a JSON array of
 * objects; an empty array when the statement cannot run (a table not made
 * yet). */
json_t *cl_sql_rows_json(sqlite3 *db, const char *sql, const char *bind);

/* The first column of sql's first row as an integer, or dflt when there is
 * no row, it is NULL, or the statement cannot run. */
int64_t cl_sql_one_int(sqlite3 *db, const char *sql, const char *bind, int64_t dflt);

#endif
