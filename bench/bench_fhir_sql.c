/*
 * The bare query beside which bench_fhir.sh reads carelake's FHIR search:
 * the statements carelake's store runs for
 *   Observation?patient=Patient/pN&code=http://loinc.org|8867-4
 *   &date=ge2026-06-01&_count=100
 * (the page of 101 rows, every resource's text touched; and with the
 * total, as carelake answers a first page: one pass over every match, the
 * text of the first 101 read, the rest counted),
 * run directly on carelake.db through SQLite, no HTTP, no JSON, one
 * read-only connection per core, random patients, for a few seconds.
 * Reported: searches/s and p50/p99 latency, page alone and page + total.
 *
 * usage: bench_fhir_sql path/to/carelake.db patients seconds
 */
#include <pthread.h>
#include <sqlite3.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define THREADS 2
#define MAX_SAMPLES 4000000

static const char *db_path;
static int patients, seconds, with_total;

/* the WHERE clause carelake's store writes for the search */
#define WHERE                                                                            \
	" WHERE current = 1 AND deleted = 0 AND type = ?1 AND patient_id = ?2"             \
	" AND EXISTS (SELECT 1 FROM fhir_key k WHERE k.rid = r.rowid AND k.param = ?3"     \
	" AND ((1 AND k.code = ?4 AND k.sys = ?5)))"                                     \
	" AND EXISTS (SELECT 1 FROM fhir_key k WHERE k.rid = r.rowid AND k.param = ?6"     \
	" AND (((k.hi > ?7 OR (k.lo >= ?8 AND k.hi <= ?7)))))"

static const char page_sql[] = "SELECT type, id, version, updated_us, resource FROM fhir_resource r"
			       WHERE " ORDER BY type, id LIMIT 101";
static const char all_sql[] = "SELECT type, id, version, updated_us, resource FROM fhir_resource r"
			      WHERE " ORDER BY type, id";

struct worker {
	pthread_t t;
	unsigned seed;
	long n;
	double *lat;   /* microseconds */
};

static double now_us(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1e6 + ts.tv_nsec / 1e3;
}

static void bind(sqlite3_stmt *q, const char *patient)
{
	/* 2026-06-01T00:00:00Z .. 2026-06-02 (the day ge compares with) */
	const int64_t lo = 1780272000LL * 1000000, hi = lo + 86400LL * 1000000;

	sqlite3_bind_text(q, 1, "Observation", -1, SQLITE_STATIC);
	sqlite3_bind_text(q, 2, patient, -1, SQLITE_TRANSIENT);
	sqlite3_bind_text(q, 3, "code", -1, SQLITE_STATIC);
	sqlite3_bind_text(q, 4, "8867-4", -1, SQLITE_STATIC);
	sqlite3_bind_text(q, 5, "http://loinc.org", -1, SQLITE_STATIC);
	sqlite3_bind_text(q, 6, "date", -1, SQLITE_STATIC);
	sqlite3_bind_int64(q, 7, hi);
	sqlite3_bind_int64(q, 8, lo);
}

static void *run(void *arg)
{
	struct worker *w = arg;
	sqlite3 *db;
	sqlite3_stmt *page;
	double end;

	if (sqlite3_open_v2(db_path, &db, SQLITE_OPEN_READONLY, NULL) != SQLITE_OK ||
	    sqlite3_prepare_v2(db, with_total ? all_sql : page_sql, -1, &page, NULL) != SQLITE_OK) {
		fprintf(stderr, "bench_fhir_sql: %s\n", sqlite3_errmsg(db));
		exit(1);
	}
	end = now_us() + seconds * 1e6;
	while (w->n < MAX_SAMPLES / THREADS) {
		char patient[32];
		double t0 = now_us();
		long rows = 0;
		size_t bytes = 0;

		snprintf(patient, sizeof(patient), "p%d", (int)(rand_r(&w->seed) % patients));
		bind(page, patient);
		while (sqlite3_step(page) == SQLITE_ROW)
			if (++rows <= 101)
				bytes += (size_t)sqlite3_column_bytes(page, 4);
		sqlite3_reset(page);
		if (rows == 0 || bytes == 0) {
			fprintf(stderr, "bench_fhir_sql: %s: %ld rows\n", patient, rows);
			exit(1);
		}
		w->lat[w->n++] = now_us() - t0;
		if (t0 > end)
			break;
	}
	sqlite3_finalize(page);
	sqlite3_close(db);
	return NULL;
}

static int cmp(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y;
}

int main(int argc, char **argv)
{
	struct worker w[THREADS];

	if (argc < 4) {
		fprintf(stderr, "usage: %s path/to/carelake.db patients seconds\n", argv[0]);
		return 2;
	}
	db_path = argv[1];
	patients = atoi(argv[2]);
	seconds = atoi(argv[3]);
	for (with_total = 0; with_total < 2; with_total++) {
		double *all = malloc(sizeof(double) * MAX_SAMPLES), t0 = now_us(), secs;
		long n = 0;

		for (int i = 0; i < THREADS; i++) {
			w[i] = (struct worker){ .seed = 7 + (unsigned)i, .lat = all + i * (MAX_SAMPLES / THREADS) };
			pthread_create(&w[i].t, NULL, run, &w[i]);
		}
		for (int i = 0; i < THREADS; i++) {
			pthread_join(w[i].t, NULL);
			memmove(all + n, w[i].lat, sizeof(double) * (size_t)w[i].n);
			n += w[i].n;
		}
		secs = (now_us() - t0) / 1e6;
		qsort(all, (size_t)n, sizeof(double), cmp);
		printf("sqlite   bare query, %s, %d connections: %.0f searches/s, p50 %.2fms, p99 %.2fms\n",
		       with_total ? "page + total in one pass" : "page alone", THREADS, n / secs,
		       all[n / 2] / 1e3, all[n * 99 / 100] / 1e3);
		free(all);
	}
	return 0;
}
