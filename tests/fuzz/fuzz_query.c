/*
 * Fuzz target: read-only SQL from outside (store/cl_query), as `carelake
 * query` and POST /api/v1/query take it. Whatever the statement, it runs
 * within its limits or is refused with a detail, and carelake.db is left
 * as it was: the same bytes, and no file beside it but its -wal and -shm.
 */
#include "fuzz_entry.h"
#include "core/cl_crc32c.h"
#include "core/cl_error.h"
#include "core/cl_fs.h"
#include "core/cl_mem.h"
#include "store/cl_query.h"
#include "store/cl_store.h"

#include <dirent.h>
#include <sqlite3.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static char dir[64], db_path[128];
static uint32_t db_crc;

static uint32_t file_crc(const char *path)
{
	char *text;
	size_t len;
	uint32_t crc;

	if (cl_fs_read_file(path, 64u << 20, &text, &len) != CL_OK)
		abort();
	crc = cl_crc32c(0, text, len);
	cl_free(text);
	return crc;
}

static void remove_store(void)
{
	static const char *const names[] = { "carelake.db", "carelake.db-wal", "carelake.db-shm" };
	char path[160];

	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
		snprintf(path, sizeof(path), "%s/%s", dir, names[i]);
		unlink(path);
	}
	rmdir(dir);
}

/* A store with its schema and a few alerts, made once. */
static void make_store(void)
{
	struct cl_store *s;
	sqlite3 *db;

	snprintf(dir, sizeof(dir), "/tmp/carelake-fuzz-query-XXXXXX");
	if (!mkdtemp(dir) || cl_store_create(dir, &s) != CL_OK)
		abort();
	cl_store_close(s);
	atexit(remove_store);
	snprintf(db_path, sizeof(db_path), "%s/carelake.db", dir);
	if (sqlite3_open(db_path, &db) != SQLITE_OK ||
	    sqlite3_exec(db, "INSERT INTO alert(rule, patient_id, device_id, severity, opened_us,"
			 " message) VALUES ('spo2_low', 'p1', 'd1', 'urgent', 1, 'SpO2 88'),"
			 " ('hr_high', 'p2', 'd2', 'warning', 2, 'HR 131');"
			 "PRAGMA wal_checkpoint(TRUNCATE)", NULL, NULL, NULL) != SQLITE_OK)
		abort();
	sqlite3_close(db);
	db_crc = file_crc(db_path);
}

static void check_unchanged(void)
{
	DIR *d = opendir(dir);
	struct dirent *e;

	if (!d)
		abort();
	while ((e = readdir(d)))
		if (e->d_name[0] != '.' && strcmp(e->d_name, "carelake.db") &&
		    strcmp(e->d_name, "carelake.db-wal") && strcmp(e->d_name, "carelake.db-shm"))
			abort(); /* a statement made a file */
	closedir(d);
	if (file_crc(db_path) != db_crc)
		abort(); /* a statement wrote */
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const struct cl_query_limits lim = {
		.timeout_us = 100000, .memory_max = 16u << 20, .max_rows = 1000,
	};
	struct cl_query *q;
	sqlite3_stmt *st;
	char *sql;
	int rc;

	if (!dir[0])
		make_store();
	sql = malloc(size + 1);
	if (!sql)
		return 0;
	memcpy(sql, data, size);
	sql[size] = '\0';
	if (cl_query_open(dir, &lim, &q) != CL_OK)
		abort();
	rc = cl_query_prepare(q, sql, &st);
	while (rc == CL_OK && (rc = cl_query_step(q)) > 0)
		rc = CL_OK;
	if (rc < 0 && cl_error_detail()[0] == '\0')
		abort(); /* every refusal and every stop says why */
	if (cl_query_rows(q) > lim.max_rows)
		abort();
	cl_query_close(q);
	free(sql);
	check_unchanged();
	return 0;
}
