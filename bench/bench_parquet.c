/*
 * Parquet, carelake's writer and reader against DuckDB's, on the same
 * observation rows (issue 5):
 * - write: N rows (default 10,000,000) of the silver observation table
 *   with zstd; carelake's writer from rows in memory, against DuckDB's
 *   `COPY t TO ... (FORMAT parquet, COMPRESSION zstd)` from the same rows
 *   loaded into a DuckDB table (loading is not timed); rows/s and bytes;
 * - read: every column of every row of carelake's file, carelake's reader
 *   against DuckDB's (an aggregate over every column, so none is skipped).
 * DuckDB comes from npm (tests/duckdb, installed by scripts/deps.sh).
 *
 * usage: bench_parquet [--rows N] [--dir DIR] [--duck tests/duckdb/duck.mjs]
 */
#include "bench_data.h"
#include "bench_duck.h"
#include "core/cl_error.h"
#include "core/cl_time.h"
#include "lake/cl_parquet.h"
#include "lake/cl_pq_format.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define NCOLS 14

static const struct cl_pq_node cols[NCOLS] = {
	{ "id", CL_PQ_STRING, CL_PQF_OPTIONAL, 0, -1 },
	{ "resource_id", CL_PQ_STRING, CL_PQF_OPTIONAL, 0, -1 },
	{ "patient_id", CL_PQ_STRING, CL_PQF_OPTIONAL, 0, -1 },
	{ "encounter_id", CL_PQ_STRING, CL_PQF_OPTIONAL, 0, -1 },
	{ "code", CL_PQ_STRING, CL_PQF_OPTIONAL, 0, -1 },
	{ "display", CL_PQ_STRING, CL_PQF_OPTIONAL, 0, -1 },
	{ "category", CL_PQ_STRING, CL_PQF_OPTIONAL, 0, -1 },
	{ "value", CL_PQ_DOUBLE, CL_PQF_OPTIONAL, 0, -1 },
	{ "value_text", CL_PQ_STRING, CL_PQF_OPTIONAL, 0, -1 },
	{ "unit", CL_PQ_STRING, CL_PQF_OPTIONAL, 0, -1 },
	{ "effective_ts", CL_PQ_TIMESTAMP, CL_PQF_OPTIONAL, 0, -1 },
	{ "device_id", CL_PQ_STRING, CL_PQF_OPTIONAL, 0, -1 },
	{ "status", CL_PQ_STRING, CL_PQF_OPTIONAL, 0, -1 },
	{ "source", CL_PQ_STRING, CL_PQF_OPTIONAL, 0, -1 },
};


/* The rows, generated once, as the writer's callers hold them. */
struct rows {
	long n;
	char *ids;          /* fixed 24-byte slots */
	char *resources;
	int *patient, *vital, *device;  /* device -1: none */
	double *value;
	int64_t *ts;
	int *encounter;
};

static uint64_t rng = 0x853c49e6748fea9bull;

static uint64_t next(void)
{
	rng ^= rng << 13;
	rng ^= rng >> 7;
	rng ^= rng << 17;
	return rng;
}

static void generate(struct rows *r, long n)
{
	int64_t t = 1795000000000000LL; /* 2026-11-18 */
	r->n = n;
	r->ids = malloc((size_t)n * 32);
	r->resources = malloc((size_t)n * 32);
	r->patient = malloc((size_t)n * sizeof(int));
	r->vital = malloc((size_t)n * sizeof(int));
	r->device = malloc((size_t)n * sizeof(int));
	r->encounter = malloc((size_t)n * sizeof(int));
	r->value = malloc((size_t)n * sizeof(double));
	r->ts = malloc((size_t)n * sizeof(int64_t));
	if (!r->ids || !r->resources || !r->patient || !r->vital || !r->device || !r->value ||
	    !r->ts || !r->encounter) {
		fprintf(stderr, "bench_parquet: no memory for %ld rows\n", n);
		exit(1);
	}
	for (long i = 0; i < n; i++) {
		int p = (int)(next() % 10000), v = (int)(next() % BENCH_NVITALS);
		double noise = ((double)(next() % 2001) - 1000) / 1000.0;
		t += (int64_t)(next() % 2000); /* ~1,000 events a second, ascending */
		snprintf(r->ids + i * 32, 32, "obs-%09ld-%d", i, v);
		snprintf(r->resources + i * 32, 32, "obs-%09ld", v == 4 && i ? i - 1 : i);
		r->patient[i] = p;
		r->vital[i] = v;
		r->device[i] = next() % 5 == 0 ? -1 : p;
		r->encounter[i] = p * 3 + (int)(t / 86400000000LL % 3);
		r->value[i] = (double)(long)((bench_vitals[v].mean + noise * bench_vitals[v].spread) * 10) / 10;
		r->ts[i] = t;
	}
}

static void push(struct cl_pq_vec *v, const char *s)
{
	cl_pq_vec_push_str(v, s, strlen(s));
}

/* Writes the rows with carelake's writer; returns the seconds taken. */
static double write_ours(const struct rows *r, const char *path, int64_t *bytes)
{
	struct cl_pq_writer *w;
	struct cl_pq_write_opts o = { .codec = CL_PQ_CODEC_ZSTD };
	struct cl_pq_file_stats st;
	char buf[32];
	unlink(path);
	int64_t t0 = cl_time_mono_us();
	if (cl_pq_writer_open(&w, path, cols, NCOLS, &o) != CL_OK) {
		fprintf(stderr, "bench_parquet: %s\n", cl_error_detail());
		exit(1);
	}
	for (long i = 0; i < r->n; i++) {
		int v = r->vital[i];
		push(cl_pq_writer_col(w, 0), r->ids + i * 32);
		push(cl_pq_writer_col(w, 1), r->resources + i * 32);
		snprintf(buf, sizeof(buf), "p%05d", r->patient[i]);
		push(cl_pq_writer_col(w, 2), buf);
		snprintf(buf, sizeof(buf), "enc-%06d", r->encounter[i]);
		push(cl_pq_writer_col(w, 3), buf);
		push(cl_pq_writer_col(w, 4), bench_vitals[v].code);
		push(cl_pq_writer_col(w, 5), bench_vitals[v].display);
		push(cl_pq_writer_col(w, 6), "vital-signs");
		cl_pq_vec_push_f64(cl_pq_writer_col(w, 7), r->value[i]);
		cl_pq_vec_push_null(cl_pq_writer_col(w, 8));
		push(cl_pq_writer_col(w, 9), bench_vitals[v].unit);
		cl_pq_vec_push_i64(cl_pq_writer_col(w, 10), r->ts[i]);
		if (r->device[i] < 0) {
			cl_pq_vec_push_null(cl_pq_writer_col(w, 11));
		} else {
			snprintf(buf, sizeof(buf), "mon-%05d", r->device[i]);
			push(cl_pq_writer_col(w, 11), buf);
		}
		push(cl_pq_writer_col(w, 12), "final");
		push(cl_pq_writer_col(w, 13), r->device[i] < 0 ? "fhir" : "device");
		if (cl_pq_writer_rows(w, 1) != CL_OK) {
			fprintf(stderr, "bench_parquet: %s\n", cl_error_detail());
			exit(1);
		}
	}
	if (cl_pq_writer_close(w, &st) != CL_OK) {
		fprintf(stderr, "bench_parquet: %s\n", cl_error_detail());
		exit(1);
	}
	*bytes = st.bytes;
	cl_pq_file_stats_free(&st);
	return (double)(cl_time_mono_us() - t0) / 1e6;
}

/* Reads every column of every row group with carelake's reader, the
 * columns of a row group on every CPU. */
static double read_ours(const char *path, int64_t *rows)
{
	struct cl_pq_file *f;
	struct cl_pq_vec v[NCOLS];
	int64_t t0 = cl_time_mono_us();
	if (cl_pq_open(&f, path) != CL_OK) {
		fprintf(stderr, "bench_parquet: %s\n", cl_error_detail());
		exit(1);
	}
	*rows = cl_pq_num_rows(f);
	double sum = 0;
	size_t nl = cl_pq_num_leaves(f);
	for (size_t c = 0; c < nl; c++)
		cl_pq_vec_init(&v[c], CL_PQ_NONE);
	for (size_t rg = 0; rg < cl_pq_num_row_groups(f); rg++) {
		/* the columns of a row group on every CPU, as DuckDB reads, into
		 * the same vectors each time */
		if (cl_pq_read_columns(f, rg, NULL, nl, v, 0) != CL_OK) {
			fprintf(stderr, "bench_parquet: %s\n", cl_error_detail());
			exit(1);
		}
		for (size_t c = 0; c < nl; c++)
			sum += (double)v[c].n;
	}
	for (size_t c = 0; c < nl; c++)
		cl_pq_vec_free(&v[c]);
	cl_pq_close(f);
	if (sum != (double)*rows * (double)NCOLS)
		fprintf(stderr, "bench_parquet: read %.0f values, expected %lld\n", sum,
			(long long)*rows * NCOLS);
	return (double)(cl_time_mono_us() - t0) / 1e6;
}

/* Runs DuckDB (node duck.mjs --timed SETUP TIMED); returns the seconds the
 * timed statement took. */
static double duck(const char *script, const char *setup, const char *timed)
{
	char cmd[4096];

	snprintf(cmd, sizeof(cmd), "node '%s' --timed \"%s\" \"%s\"", script, setup, timed);
	return bench_duck_run("bench_parquet", cmd);
}

int main(int argc, char **argv)
{
	long n = 10000000;
	const char *dir = "build/bench-data/parquet", *script = "tests/duckdb/duck.mjs";
	char ours[512], theirs[512], cmd[600], setup[1024], q[1024];

	for (int i = 1; i + 1 < argc; i += 2) {
		if (strcmp(argv[i], "--rows") == 0)
			n = atol(argv[i + 1]);
		else if (strcmp(argv[i], "--dir") == 0)
			dir = argv[i + 1];
		else if (strcmp(argv[i], "--duck") == 0)
			script = argv[i + 1];
	}
	snprintf(cmd, sizeof(cmd), "rm -rf '%s' && mkdir -p '%s'", dir, dir);
	if (system(cmd) != 0)
		return 1;
	snprintf(ours, sizeof(ours), "%s/carelake.parquet", dir);
	snprintf(theirs, sizeof(theirs), "%s/duckdb.parquet", dir);

	struct rows r;
	generate(&r, n);
	int64_t bytes;
	double tw = write_ours(&r, ours, &bytes);
	snprintf(setup, sizeof(setup), "CREATE TABLE t AS SELECT * FROM read_parquet('%s')", ours);
	snprintf(q, sizeof(q), "COPY t TO '%s' (FORMAT parquet, COMPRESSION zstd)", theirs);
	double dw = duck(script, setup, q);
	long long dbytes = bench_file_size(theirs);
	double tw2 = write_ours(&r, ours, &bytes); /* again: the machine is noisy */
	if (tw2 < tw)
		tw = tw2;
	double dw2 = duck(script, setup, q);
	if (dw2 < dw)
		dw = dw2;

	printf("parquet write, %ld observation rows, zstd (best of 2 each):\n", n);
	printf("  carelake  %10.0f rows/s  %11lld bytes\n", n / tw, (long long)bytes);
	printf("  duckdb    %10.0f rows/s  %11lld bytes (COPY from a table in memory)\n", n / dw,
	       dbytes);
	printf("  ratio     %10.2fx speed  %10.2fx size (targets: >= 1.0x, <= 1.1x)\n", dw / tw,
	       (double)bytes / (double)dbytes);

	int64_t rows;
	double tr = read_ours(ours, &rows), tr2 = read_ours(ours, &rows);
	if (tr2 < tr)
		tr = tr2;
	snprintf(q, sizeof(q),
		 "SELECT count(id), count(resource_id), count(patient_id), count(encounter_id), "
		 "count(code), count(display), count(category), sum(value), count(value_text), "
		 "count(unit), max(effective_ts), count(device_id), count(status), count(source) "
		 "FROM read_parquet('%s')", ours);
	double dr = duck(script, "SELECT 1", q), dr2 = duck(script, "SELECT 1", q);
	if (dr2 < dr)
		dr = dr2;
	printf("parquet read, every column of carelake's file (best of 2 each):\n");
	printf("  carelake  %10.0f rows/s\n", rows / tr);
	printf("  duckdb    %10.0f rows/s\n", rows / dr);
	printf("  ratio     %10.2fx\n", dr / tr);
	return 0;
}
