/*
 * Fuzz target: files as `carelake ingest` reads them. The first byte picks
 * the path: 0 the CSV parser alone, 1 CSV through the mapping its header
 * selects into silver, 2 FHIR JSON or NDJSON into silver, 3 an XLSX
 * workbook's first sheet through its mapping into silver. Silver is an
 * in-memory SQLite database, rolled back after each input. Invariants:
 * every CSV field lies inside the input or the parser's scratch space;
 * rows accepted or duplicated never exceed the rows offered.
 */
#include "fuzz_entry.h"
#include "batch/cl_csv.h"
#include "batch/cl_csv_map.h"
#include "batch/cl_fhir_res.h"
#include "batch/cl_silver.h"
#include "batch/cl_xlsx.h"
#include "core/cl_mem.h"
#include "core/cl_error.h"
#include "core/cl_log.h"

#include <sqlite3.h>
#include <stdlib.h>
#include <string.h>

static sqlite3 *db;
static struct cl_silver *silver;

static void cleanup(void)
{
	cl_silver_close(silver);
	sqlite3_close(db);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *src = (const char *)data + 1;
	size_t len;
	struct cl_silver_counts c;

	if (!db) {
		cl_log_threshold = -1;
		if (sqlite3_open(":memory:", &db) != SQLITE_OK || cl_silver_open(db, &silver) != 0)
			abort();
		atexit(cleanup);
	}
	if (size < 1)
		return 0;
	len = size - 1;
	memset(&c, 0, sizeof(c));
	if (data[0] % 4 == 0) {
		struct cl_csv csv;
		int rc, records = 0;

		cl_csv_init(&csv, src, len, 0);
		while ((rc = cl_csv_next(&csv)) != 0 && records++ < 100000) {
			if (rc < 0) {
				if (rc != CL_EPARSE && rc != CL_ETOOBIG && rc != CL_ENOMEM)
					abort();
				if (!csv.err[0] && rc == CL_EPARSE)
					abort();
				continue;
			}
			for (uint32_t i = 0; i < csv.nf; i++) {
				const char *p = csv.f[i].p;
				int in_src = p >= src && p + csv.f[i].len <= src + len;
				int in_scratch = csv.scratch && p >= csv.scratch &&
						 p + csv.f[i].len <= csv.scratch + csv.scratch_len;

				if (!in_src && !in_scratch)
					abort();
			}
		}
		cl_csv_free(&csv);
		return 0;
	}
	sqlite3_exec(db, "BEGIN", NULL, NULL, NULL);
	cl_silver_lineage(silver, "fuzz", "0000", 1, &c);
	if (data[0] % 4 == 1) {
		const struct cl_csv_mapping *m = cl_csv_map_find(src, len);

		if (m)
			cl_csv_load(silver, m, src, len, &c);
	} else if (data[0] % 4 == 3) {
		char *csv = NULL;
		size_t clen = 0;

		if (cl_xlsx_to_csv(src, len, NULL, &csv, &clen) == 0) {
			const struct cl_csv_mapping *m = cl_csv_map_find(csv, clen);

			if (strlen(csv) != clen)
				abort();
			if (m)
				cl_csv_load(silver, m, csv, clen, &c);
		}
		cl_free(csv);
	} else {
		cl_fhir_load(silver, src, len, &c);
	}
	if (c.accepted + c.duplicates > c.records)
		abort();
	sqlite3_exec(db, "ROLLBACK", NULL, NULL, NULL);
	return 0;
}
