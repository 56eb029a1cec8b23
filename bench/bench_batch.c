/*
 * Batch loads into silver:
 * - FHIR NDJSON: Patients, Encounters and vital-sign Observations (a
 *   blood-pressure panel among them), target 50,000 resources/s;
 * - CSV: the Synthea observations layout, once with the patients and
 *   encounters its rows name loaded first (untimed), as a Synthea export
 *   has them, and once without (two warnings a row); a CSV load uses two
 *   cores (rows built on one, written on the other: cl_row_pipe.h);
 * each file generated here, loaded with `carelake ingest`'s code into a
 * fresh data directory, fsyncs and SQLite commits included. Baselines in
 * the same run: SQLite alone inserting rows of that shape (with the
 * patient index; and the CSV target's own baseline: SQLite alone inserting
 * the same number of prebuilt rows with the same unique key into a table
 * with no other index, one transaction, WAL, which the CSV load into
 * silver is to reach 0.7x of), and SQLite alone running silver's own
 * upsert into the real observation table.
 *
 * usage: bench_batch [--dir DIR] [--resources N] [--rows N]
 */
#define SQLITE_ENABLE_PREUPDATE_HOOK 1 /* for sqlite3_preupdate_hook */
#include "bench_data.h"
#include "batch/cl_batch.h"
#include "core/cl_fs.h"
#include "core/cl_log.h"
#include "core/cl_error.h"
#include "core/cl_time.h"
#include "lake/cl_parquet.h"

#include <sqlite3.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static char base[512] = "build/bench-data/batch";

static void fresh(const char *path)
{
	char cmd[700];

	snprintf(cmd, sizeof(cmd), "rm -rf '%s' && mkdir -p '%s'", path, path);
	if (system(cmd) != 0)
		exit(1);
}

static void gen_fhir(const char *path, long n)
{
	FILE *f = fopen(path, "w");
	long patients = n / 50 + 1;

	for (long i = 0; i < n; i++) {
		long p = i % patients;

		if (i < patients)
			fprintf(f, "{\"resourceType\":\"Patient\",\"id\":\"p%ld\",\"gender\":\"%s\","
				"\"birthDate\":\"19%02ld-0%ld-1%ld\",\"name\":[{\"family\":\"Doe%ld\","
				"\"given\":[\"Sam\"]}]}\n", p, p % 2 ? "male" : "female", p % 100,
				p % 9 + 1, p % 9, p);
		else if (i % 25 == 0)
			fprintf(f, "{\"resourceType\":\"Encounter\",\"id\":\"e%ld\",\"status\":\"finished\","
				"\"class\":{\"code\":\"IMP\"},\"subject\":{\"reference\":\"Patient/p%ld\"},"
				"\"period\":{\"start\":\"2026-11-%02ldT08:00:00Z\",\"end\":\"2026-11-%02ldT"
				"18:00:00Z\"}}\n", i, p, i % 28 + 1, i % 28 + 1);
		else if (i % 5 == 0)
			fprintf(f, "{\"resourceType\":\"Observation\",\"id\":\"o%ld\",\"status\":\"final\","
				"\"category\":[{\"coding\":[{\"code\":\"vital-signs\"}]}],\"code\":{\"coding\":"
				"[{\"system\":\"http://loinc.org\",\"code\":\"85354-9\"}]},\"subject\":"
				"{\"reference\":\"Patient/p%ld\"},\"effectiveDateTime\":\"2026-11-20T10:%02ld:"
				"%02ldZ\",\"component\":[{\"code\":{\"coding\":[{\"system\":\"http://loinc.org\","
				"\"code\":\"8480-6\"}]},\"valueQuantity\":{\"value\":%ld,\"code\":\"mm[Hg]\"}},"
				"{\"code\":{\"coding\":[{\"system\":\"http://loinc.org\",\"code\":\"8462-4\"}]},"
				"\"valueQuantity\":{\"value\":%ld,\"code\":\"mm[Hg]\"}}]}\n", i, p, i % 60,
				i % 60, 100 + i % 60, 60 + i % 30);
		else
			fprintf(f, "{\"resourceType\":\"Observation\",\"id\":\"o%ld\",\"status\":\"final\","
				"\"category\":[{\"coding\":[{\"code\":\"vital-signs\"}]}],\"code\":{\"coding\":"
				"[{\"system\":\"http://loinc.org\",\"code\":\"8867-4\",\"display\":\"Heart rate\"}"
				"]},\"subject\":{\"reference\":\"Patient/p%ld\"},\"effectiveDateTime\":"
				"\"2026-11-20T10:%02ld:%02ldZ\",\"valueQuantity\":{\"value\":%ld,\"unit\":"
				"\"beats/minute\",\"code\":\"/min\"}}\n", i, p, i % 60, i % 60, 50 + i % 80);
	}
	fclose(f);
}

static void gen_csv(const char *path, long n)
{
	FILE *f = fopen(path, "w");

	fprintf(f, BENCH_OBSERVATIONS_HEADER);
	for (long i = 0; i < n; i++)
		fprintf(f, "2026-11-%02ldT%02ld:%02ld:%02ldZ,%08lx-aaaa-bbbb-cccc-%012lx,"
			"%08lx-eeee-ffff-0000-%012lx,vital-signs,8867-4,Heart rate,%ld,/min,numeric\n",
			i % 28 + 1, i % 24, i % 60, (i / 60) % 60, i % 2000, i % 2000, i / 10, i / 10,
			50 + i % 80);
	fclose(f);
}

/* The patients and encounters the observations name, as a Synthea export
 * has them beside its observations.csv. */
static void gen_csv_parents(const char *patients, const char *encounters, long n)
{
	FILE *f = fopen(patients, "w");

	bench_write_patients(f, n < 2000 ? n : 2000);
	fclose(f);
	f = fopen(encounters, "w");
	fprintf(f, BENCH_ENCOUNTERS_HEADER);
	for (long e = 0; e <= (n - 1) / 10; e++)
		fprintf(f, "%08lx-eeee-ffff-0000-%012lx,2026-11-01T08:00:00Z,2026-11-01T09:00:00Z,"
			BENCH_PATIENT_ID ",,,,ambulatory,185345009,Encounter for symptom,"
			"77.49,77.49,0.00,,\n", e, e, (e * 10) % 2000, (e * 10) % 2000);
	fclose(f);
}

/* Loads file into a fresh data directory (after the untimed parents, if
 * any), prints the rate into silver, then its Delta copy's, and returns the
 * first (target 0: judged by the ratio printed after). */
static double load(const char *what, const char *file, char **parents, int nparents, long n,
		 double target)
{
	char data[700];
	struct cl_batch *b;
	struct cl_batch_summary sum;
	char *paths[1] = { (char *)file };
	int64_t t0, t1;

	snprintf(data, sizeof(data), "%s/data-%s", base, what);
	fresh(data);
	if (cl_batch_open(data, &b) != 0)
		exit(1);
	/* the load into the silver store first, then its Delta copy, timed
	 * apart: the target is the first, the second is what the lake adds */
	struct cl_lake_opts off = { 0 }, on = { .enabled = 1, .codec = CL_PQ_CODEC_ZSTD, .zstd_level = 3,
						 .row_group_rows = 1u << 20, .checkpoint_interval = 10 };
	struct cl_lake_summary ls;
	cl_batch_set_lake(b, &off, 0);
	if (nparents && cl_batch_ingest(b, NULL, parents, nparents, NULL, NULL, NULL, &sum) != 0) {
		fprintf(stderr, "bench_batch: %s\n", sum.error);
		exit(1);
	}
	t0 = cl_time_mono_us();
	if (cl_batch_ingest(b, NULL, paths, 1, NULL, NULL, NULL, &sum) != 0) {
		fprintf(stderr, "bench_batch: %s\n", sum.error);
		exit(1);
	}
	t1 = cl_time_mono_us();
	char dd[800];
	snprintf(dd, sizeof(dd), "%s", data);
	if (cl_lake_sync(cl_batch_db(b), dd, &on, &ls) != 0) {
		fprintf(stderr, "bench_batch: lake: %s\n", cl_error_detail());
		exit(1);
	}
	int64_t t2 = cl_time_mono_us();
	cl_batch_close(b);
	printf("%-13s %8ld %s in %.2f s: %7.0f /s into silver (%llu rows accepted, %llu warnings)",
	       what, n, strcmp(what, "fhir") ? "rows     " : "resources", (double)(t1 - t0) / 1e6,
	       (double)n / ((double)(t1 - t0) / 1e6), (unsigned long long)sum.c.accepted,
	       (unsigned long long)sum.c.warnings);
	if (target > 0)
		printf("   target >= %.0f\n", target);
	else
		printf("   target: the ratio below\n");
	printf("              then its Delta copy: %lld rows in %.2f s; load and copy together %.0f /s\n",
	       (long long)ls.rows, (double)(t2 - t1) / 1e6, (double)n / ((double)(t2 - t0) / 1e6));
	return (double)n / ((double)(t1 - t0) / 1e6);
}

/* Row i of the baselines' shape: a random id, one of 2,000 patients, an
 * encounter per 10 rows, a time in November, the record. */
static void shape_row(long i, char id[40], char p[48], char e[48], char ts[32], char rec[32])
{
	snprintf(id, 40, "%016lx%016lx", (unsigned long)(i * 2654435761u) ^ 0x9e3779b97f4a7c15ul,
		 (unsigned long)i * 11400714819323198485ul);
	snprintf(p, 48, "%08lx-aaaa-bbbb-cccc-%012lx", i % 2000, i % 2000);
	snprintf(e, 48, "%08lx-eeee-ffff-0000-%012lx", i / 10, i / 10);
	snprintf(ts, 32, "2026-11-%02ldT%02ld:%02ld:00Z", i % 28 + 1, i % 24, i % 60);
	snprintf(rec, 32, "line %ld", i);
}

/* SQLite alone inserting rows of the same shape, one prepared INSERT,
 * one transaction, no parsing, no checks, no upsert:
 * - the ceiling: random keys and the patient index, each row made as it
 *   goes in;
 * - key_only: the floor under any silver table in SQLite deduplicated by
 *   its key: the rows made in memory before the clock starts (so the
 *   rate is SQLite's alone), into a table whose only index is the
 *   unique, random id. */
static double sqlite_shape(long n, int key_only)
{
	char path[700], *ids = malloc((size_t)(key_only ? n : 1) * 40), p[48], e[48], ts[32],
			rec[32];
	sqlite3 *db;
	sqlite3_stmt *st;
	int64_t t0;

	if (!ids)
		exit(1);
	for (long i = 0; key_only && i < n; i++)
		shape_row(i, ids + i * 40, p, e, ts, rec);
	snprintf(path, sizeof(path), "%s/%s.db", base, key_only ? "key-only" : "ceiling");
	sqlite3_open(path, &db);
	sqlite3_exec(db, "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;"
		     "PRAGMA cache_size=-262144;"
		     "CREATE TABLE o(id TEXT PRIMARY KEY, patient_id TEXT, encounter_id TEXT,"
		     " code TEXT, display TEXT, value REAL, unit TEXT, effective_ts TEXT, src TEXT,"
		     " file TEXT, run INTEGER, rec TEXT, h TEXT, ts INTEGER)", NULL, NULL, NULL);
	if (!key_only)
		sqlite3_exec(db, "CREATE INDEX op ON o(patient_id, effective_ts)", NULL, NULL, NULL);
	sqlite3_prepare_v2(db, "INSERT INTO o VALUES(?1,?2,?3,?4,?5,?6,?7,?8,?9,?10,?11,?12,?13,?14)",
			   -1, &st, NULL);
	t0 = cl_time_mono_us();
	sqlite3_exec(db, "BEGIN", NULL, NULL, NULL);
	for (long i = 0; i < n; i++) {
		if (!key_only)
			shape_row(i, ids, p, e, ts, rec);
		sqlite3_bind_text(st, 1, key_only ? ids + i * 40 : ids, -1, SQLITE_STATIC);
		sqlite3_bind_text(st, 2, p, -1, SQLITE_STATIC);
		sqlite3_bind_text(st, 3, e, -1, SQLITE_STATIC);
		sqlite3_bind_text(st, 4, "8867-4", -1, SQLITE_STATIC);
		sqlite3_bind_text(st, 5, "Heart rate", -1, SQLITE_STATIC);
		sqlite3_bind_double(st, 6, 72);
		sqlite3_bind_text(st, 7, "/min", -1, SQLITE_STATIC);
		sqlite3_bind_text(st, 8, ts, -1, SQLITE_STATIC);
		sqlite3_bind_text(st, 9, "synthea-csv", -1, SQLITE_STATIC);
		sqlite3_bind_text(st, 10, "0123456789abcdef0123456789abcdef0123456789abcdef0123456789"
				  "abcdef", -1, SQLITE_STATIC);
		sqlite3_bind_int(st, 11, 1);
		sqlite3_bind_text(st, 12, rec, -1, SQLITE_STATIC);
		sqlite3_bind_text(st, 13, "0123456789abcdef0123456789abcdef", -1, SQLITE_STATIC);
		sqlite3_bind_int64(st, 14, i);
		sqlite3_step(st);
		sqlite3_reset(st);
	}
	sqlite3_exec(db, "COMMIT", NULL, NULL, NULL);
	t0 = cl_time_mono_us() - t0;
	sqlite3_finalize(st);
	sqlite3_close(db);
	free(ids);
	return (double)n / ((double)t0 / 1e6);
}

/* The ceiling for carelake's own statement: SQLite alone running the
 * upsert silver uses (same table, indexes and lineage columns, from a
 * fresh carelake store) for rows of the bench's shape, all new, one
 * transaction, no parsing and no checks. */
static double sqlite_upsert(long n)
{
	static const char *const cols[] = {
		"id", "resource_id", "patient_id", "encounter_id", "code", "display", "category",
		"value", "value_text", "unit", "effective_ts", "device_id", "status", "source",
		"_source", "_file_id", "_run_id", "_record", "_hash", "_loaded_us" };
	char path[700], sql[4096], id[40], p[48], e[48], ts[32], rec[32], h[40];
	struct cl_batch *b;
	sqlite3 *db;
	sqlite3_stmt *st;
	size_t c = 0;
	int64_t t0;

	snprintf(path, sizeof(path), "%s/data-upsert", base);
	fresh(path);
	if (cl_batch_open(path, &b) != 0)
		exit(1);
	db = cl_batch_db(b);
	sqlite3_preupdate_hook(db, NULL, NULL); /* SQLite alone: not the lake's notes */
	c += (size_t)snprintf(sql, sizeof(sql), "INSERT INTO observation(");
	for (int i = 0; i < 20; i++)
		c += (size_t)snprintf(sql + c, sizeof(sql) - c, "%s%s", i ? "," : "", cols[i]);
	c += (size_t)snprintf(sql + c, sizeof(sql) - c, ") VALUES (");
	for (int i = 0; i < 20; i++)
		c += (size_t)snprintf(sql + c, sizeof(sql) - c, "%s?%d", i ? "," : "", i + 1);
	c += (size_t)snprintf(sql + c, sizeof(sql) - c, ") ON CONFLICT(id) DO UPDATE SET ");
	for (int i = 1; i < 20; i++)
		c += (size_t)snprintf(sql + c, sizeof(sql) - c, "%s=excluded.%s,", cols[i], cols[i]);
	snprintf(sql + c, sizeof(sql) - c, "_version = _version + 1 WHERE _hash IS NOT excluded._hash");
	if (sqlite3_prepare_v2(db, sql, -1, &st, NULL) != SQLITE_OK) {
		fprintf(stderr, "bench_batch: the upsert baseline: %s\n", sqlite3_errmsg(db));
		exit(1);
	}
	t0 = cl_time_mono_us();
	sqlite3_exec(db, "BEGIN", NULL, NULL, NULL);
	for (long i = 0; i < n; i++) {
		shape_row(i, id, p, e, ts, rec);
		snprintf(h, sizeof(h), "%016lx%016lx", (unsigned long)i * 7, (unsigned long)i * 13);
		sqlite3_bind_text(st, 1, id, -1, SQLITE_STATIC);
		sqlite3_bind_text(st, 2, id, -1, SQLITE_STATIC);
		sqlite3_bind_text(st, 3, p, -1, SQLITE_STATIC);
		sqlite3_bind_text(st, 4, e, -1, SQLITE_STATIC);
		sqlite3_bind_text(st, 5, "8867-4", -1, SQLITE_STATIC);
		sqlite3_bind_text(st, 6, "Heart rate", -1, SQLITE_STATIC);
		sqlite3_bind_text(st, 7, "vital-signs", -1, SQLITE_STATIC);
		sqlite3_bind_double(st, 8, 72);
		sqlite3_bind_null(st, 9);
		sqlite3_bind_text(st, 10, "/min", -1, SQLITE_STATIC);
		sqlite3_bind_text(st, 11, ts, -1, SQLITE_STATIC);
		sqlite3_bind_null(st, 12);
		sqlite3_bind_null(st, 13);
		sqlite3_bind_text(st, 14, "csv", -1, SQLITE_STATIC);
		sqlite3_bind_text(st, 15, "synthea-csv", -1, SQLITE_STATIC);
		sqlite3_bind_int(st, 16, 1);
		sqlite3_bind_int(st, 17, 1);
		sqlite3_bind_text(st, 18, rec, -1, SQLITE_STATIC);
		sqlite3_bind_text(st, 19, h, -1, SQLITE_STATIC);
		sqlite3_bind_int64(st, 20, i);
		if (sqlite3_step(st) != SQLITE_DONE) {
			fprintf(stderr, "bench_batch: the upsert baseline: %s\n", sqlite3_errmsg(db));
			exit(1);
		}
		sqlite3_reset(st);
	}
	sqlite3_exec(db, "COMMIT", NULL, NULL, NULL);
	t0 = cl_time_mono_us() - t0;
	sqlite3_finalize(st);
	cl_batch_close(b);
	return (double)n / ((double)t0 / 1e6);
}

int main(int argc, char **argv)
{
	long resources = 200000, rows = 1000000;
	char fhir[700], csv[700], patients[700], encounters[700];
	char *parents[2] = { patients, encounters };

	for (int i = 1; i + 1 < argc; i += 2) {
		if (strcmp(argv[i], "--dir") == 0)
			snprintf(base, sizeof(base), "%s", argv[i + 1]);
		else if (strcmp(argv[i], "--resources") == 0)
			resources = atol(argv[i + 1]);
		else if (strcmp(argv[i], "--rows") == 0)
			rows = atol(argv[i + 1]);
	}
	cl_log_threshold = 0;
	fresh(base);
	snprintf(fhir, sizeof(fhir), "%s/bulk.ndjson", base);
	snprintf(csv, sizeof(csv), "%s/observations.csv", base);
	snprintf(patients, sizeof(patients), "%s/patients.csv", base);
	snprintf(encounters, sizeof(encounters), "%s/encounters.csv", base);
	gen_fhir(fhir, resources);
	gen_csv(csv, rows);
	gen_csv_parents(patients, encounters, rows);
	printf("batch loads into silver (files generated here)\n");
	load("fhir", fhir, NULL, 0, resources, 50000);
	/* as a Synthea export: the patients and encounters first (untimed) */
	double csv_rate = load("csv", csv, parents, 2, rows, 0);
	/* every row naming a patient and an encounter not loaded: two
	 * warnings per row */
	double dangling_rate = load("csv-dangling", csv, NULL, 0, rows, 0);
	printf("baseline, same run: SQLite alone inserting %ld rows of that shape: %.0f rows/s\n", rows,
	       sqlite_shape(rows, 0));
	double floor_rate = sqlite_shape(rows, 1);
	printf("baseline, same run: SQLite alone inserting the same number of prebuilt rows (%ld)"
	       " with the same unique key into a table with no other index, one transaction, WAL:"
	       " %.0f rows/s\n", rows, floor_rate);
	printf("ratio: CSV into silver %.0f rows/s / that baseline = %.2fx   target >= 0.70x"
	       " (csv-dangling: %.2fx)\n", csv_rate, csv_rate / floor_rate,
	       dangling_rate / floor_rate);
	printf("baseline, same run: SQLite alone running silver's upsert into the observation table"
	       " (its indexes and lineage columns) for %ld new rows: %.0f rows/s\n", rows,
	       sqlite_upsert(rows));
	return 0;
}
