/*
 * `carelake export --format parquet` against DuckDB doing the same job
 * (issue 20, target 4): one table of N rows (default 1,000,000 vital-sign
 * observations, loaded untimed from a Synthea-layout CSV with `carelake
 * ingest`'s code, its Delta copy written by the lake sync) as one zstd
 * Parquet file:
 * - carelake: cl_lake_export(), what `carelake export --table observation
 *   --out FILE` runs once it has opened the store and audited the request;
 * - DuckDB: the table's Delta snapshot — the data files its log lists
 *   (DuckDB's delta extension is not installed offline, so they are read
 *   with read_parquet) — written by `COPY ... (FORMAT parquet, COMPRESSION
 *   zstd)`.
 * Rows/s, bytes, and the ratios; best of 2 each. DuckDB comes from npm
 * (tests/duckdb, installed by scripts/deps.sh) and uses every CPU.
 *
 * usage: bench_export [--rows N] [--dir DIR] [--duck tests/duckdb/duck.mjs]
 */
#include "bench_data.h"
#include "bench_duck.h"
#include "batch/cl_batch.h"
#include "core/cl_error.h"
#include "core/cl_log.h"
#include "core/cl_time.h"
#include "lake/cl_delta.h"
#include "lake/cl_lake.h"
#include "lake/cl_parquet.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define NPATIENTS 2000

static void die(const char *what)
{
	fprintf(stderr, "bench_export: %s: %s\n", what, cl_error_detail());
	exit(1);
}

/* dir/name, opened to be written; exits if it cannot be. */
static FILE *create_in(const char *dir, const char *name)
{
	char path[1024];
	FILE *f;

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	if (!(f = fopen(path, "w")))
		exit(1);
	return f;
}

/* N observations over 28 days, with the patients and encounters they
 * name, in Synthea's CSV layout. */
static void generate(const char *dir, long n)
{
	FILE *f = create_in(dir, "patients.csv");

	bench_write_patients(f, NPATIENTS);
	fclose(f);
	f = create_in(dir, "encounters.csv");
	fprintf(f, BENCH_ENCOUNTERS_HEADER);
	for (long e = 0; e < NPATIENTS * 4; e++)
		fprintf(f, "%08lx-eeee-ffff-0000-%012lx,2026-11-01T08:00:00Z,2026-11-29T09:00:00Z,"
			BENCH_PATIENT_ID ",,,,inpatient,185345009,Encounter for symptom,"
			"77.49,77.49,0.00,,\n", e, e, e % NPATIENTS, e % NPATIENTS);
	fclose(f);
	f = create_in(dir, "observations.csv");
	fprintf(f, BENCH_OBSERVATIONS_HEADER);
	uint64_t x = 0x9e3779b97f4a7c15ull;
	for (long i = 0; i < n; i++) {
		x ^= x << 13;
		x ^= x >> 7;
		x ^= x << 17;
		long p = (long)(x % NPATIENTS), v = (long)((x >> 16) % BENCH_NVITALS);
		long s = i * (28L * 86400) / n; /* ascending through the 28 days */
		double value = bench_vitals[v].mean + (double)((long)((x >> 24) % 1001) - 500) *
						       bench_vitals[v].spread / 500.0;
		fprintf(f, "2026-11-%02ldT%02ld:%02ld:%02ldZ,%08lx-aaaa-bbbb-cccc-%012lx,"
			"%08lx-eeee-ffff-0000-%012lx,vital-signs,%s,%s,%.1f,%s,numeric\n",
			s / 86400 + 1, s / 3600 % 24, s / 60 % 60, s % 60, p, p,
			p + NPATIENTS * (long)((x >> 40) % 4), p + NPATIENTS * (long)((x >> 40) % 4),
			bench_vitals[v].code, bench_vitals[v].display, value, bench_vitals[v].unit);
	}
	fclose(f);
}

/* Runs DuckDB (node duck.mjs --timed @SETUP @TIMED); returns the seconds
 * the timed statement took. */
static double duck(const char *script, const char *dir, const char *setup, const char *timed)
{
	char cmd[4096], sp[1024], tp[1024];
	FILE *f;

	snprintf(sp, sizeof(sp), "%s/setup.sql", dir);
	snprintf(tp, sizeof(tp), "%s/timed.sql", dir);
	if (!(f = fopen(sp, "w")) || fputs(setup, f) < 0 || fclose(f) != 0 ||
	    !(f = fopen(tp, "w")) || fputs(timed, f) < 0 || fclose(f) != 0)
		exit(1);
	snprintf(cmd, sizeof(cmd), "node '%s' --timed @'%s' @'%s'", script, sp, tp);
	return bench_duck_run("bench_export", cmd);
}

int main(int argc, char **argv)
{
	long n = 1000000;
	const char *dir = "build/bench-data/export", *script = "tests/duckdb/duck.mjs";
	char data[700], ours[700], theirs[700], cmd[800], tdir[800];
	char *paths[3];
	char p0[800], p1[800], p2[800];

	for (int i = 1; i + 1 < argc; i += 2) {
		if (strcmp(argv[i], "--rows") == 0)
			n = atol(argv[i + 1]);
		else if (strcmp(argv[i], "--dir") == 0)
			dir = argv[i + 1];
		else if (strcmp(argv[i], "--duck") == 0)
			script = argv[i + 1];
	}
	cl_log_threshold = 0;
	snprintf(cmd, sizeof(cmd), "rm -rf '%s' && mkdir -p '%s'", dir, dir);
	if (system(cmd) != 0)
		return 1;
	generate(dir, n);
	snprintf(data, sizeof(data), "%s/data", dir);
	snprintf(ours, sizeof(ours), "%s/carelake.parquet", dir);
	snprintf(theirs, sizeof(theirs), "%s/duckdb.parquet", dir);
	snprintf(p0, sizeof(p0), "%s/patients.csv", dir);
	snprintf(p1, sizeof(p1), "%s/encounters.csv", dir);
	snprintf(p2, sizeof(p2), "%s/observations.csv", dir);
	paths[0] = p0, paths[1] = p1, paths[2] = p2;

	/* the table and its Delta copy (untimed) */
	struct cl_batch *b;
	struct cl_batch_summary sum;
	struct cl_lake_opts off = { 0 }, on = { .enabled = 1, .codec = CL_PQ_CODEC_ZSTD,
						 .zstd_level = 3, .row_group_rows = 1u << 20,
						 .checkpoint_interval = 10 };
	struct cl_lake_summary ls;
	if (cl_batch_open(data, &b) != 0)
		die("open");
	cl_batch_set_lake(b, &off, 0);
	if (cl_batch_ingest(b, NULL, paths, 2, NULL, NULL, NULL, &sum) != 0 ||
	    cl_batch_ingest(b, NULL, paths + 2, 1, NULL, NULL, NULL, &sum) != 0) {
		fprintf(stderr, "bench_export: %s\n", sum.error);
		return 1;
	}
	if (cl_lake_sync(cl_batch_db(b), data, &on, &ls) != 0)
		die("lake sync");

	/* the snapshot's data files, as a Delta reader finds them */
	struct cl_delta_snapshot *s;
	snprintf(tdir, sizeof(tdir), "%s/silver/observation", data);
	if (cl_delta_snapshot_load(tdir, CL_DELTA_LATEST, CL_DELTA_NO_TIME, &s) != CL_OK)
		die("snapshot");
	size_t cap = 256 + s->nfiles * (sizeof(tdir) + 8);
	char *files = malloc(cap), *setup = malloc(cap + 256);
	int64_t delta_rows = 0;
	if (!files || !setup)
		return 1;
	size_t len = (size_t)snprintf(files, cap, "[");
	for (size_t i = 0; i < s->nfiles; i++) {
		len += (size_t)snprintf(files + len, cap - len, "%s'%s/%s'", i ? ", " : "", tdir,
					s->files[i].path);
		delta_rows += s->files[i].num_records;
	}
	snprintf(files + len, cap - len, "]");
	size_t nfiles = s->nfiles;
	cl_delta_snapshot_free(s);
	snprintf(setup, cap + 256, "SELECT 1");
	char *timed = malloc(cap + 512);
	if (!timed)
		return 1;
	snprintf(timed, cap + 512, "COPY (SELECT * FROM read_parquet(%s)) TO '%s' "
		 "(FORMAT parquet, COMPRESSION zstd)", files, theirs);

	double best = 0, dbest = 0;
	int64_t rows = 0;
	for (int k = 0; k < 2; k++) {
		int64_t t0 = cl_time_mono_us();
		if (cl_lake_export(cl_batch_db(b), "observation", "parquet", ours, &rows) != CL_OK)
			die("export");
		double t = (double)(cl_time_mono_us() - t0) / 1e6;
		double d = duck(script, dir, setup, timed);
		if (k == 0 || t < best)
			best = t;
		if (k == 0 || d < dbest)
			dbest = d;
	}
	cl_batch_close(b);
	long long bytes = bench_file_size(ours), dbytes = bench_file_size(theirs);

	printf("export --format parquet, %lld observation rows, zstd (best of 2 each):\n",
	       (long long)rows);
	printf("  carelake  %10.0f rows/s  %11lld bytes (cl_lake_export from carelake.db)\n",
	       (double)rows / best, bytes);
	printf("  duckdb    %10.0f rows/s  %11lld bytes (COPY from the Delta snapshot: %zu files, "
	       "%lld rows)\n", (double)delta_rows / dbest, dbytes, nfiles, (long long)delta_rows);
	printf("  ratio     %10.2fx speed  %10.2fx size (target: >= 1.0x)\n",
	       ((double)rows / best) / ((double)delta_rows / dbest), (double)bytes / (double)dbytes);
	free(files);
	free(setup);
	free(timed);
	return 0;
}
