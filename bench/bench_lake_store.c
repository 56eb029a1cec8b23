/*
 * Delta commits per second to a table at a local directory or an
 * object-storage URI (bench/bench_lake_objstore.sh runs it on each, in
 * one run): N commits, each adding one file to the log, as a refine of a
 * small change does; and the time of a snapshot load of the result.
 *   bench_lake_store ROOT N STAGING_DIR [KEY=VALUE...]
 * ROOT: a directory or abfss://, az://, s3:// (credentials from the
 * environment, as carelake reads them); settings as with --set
 * (lake.single_writer=1 for a store without conditional creates).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "core/cl_config.h"
#include "core/cl_error.h"
#include "lake/cl_delta.h"
#include "lake/cl_lake_loc.h"

static double now(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

int main(int argc, char **argv)
{
	struct cl_config cfg;
	char table[1024];

	if (argc < 4) {
		fprintf(stderr, "usage: %s ROOT N STAGING_DIR [KEY=VALUE...]\n", argv[0]);
		return 2;
	}
	long n = atol(argv[2]);
	cl_config_init(&cfg);
	for (int i = 4; i < argc; i++)
		if (cl_config_set_pair(&cfg, argv[i]) != CL_OK) {
			fprintf(stderr, "%s: %s\n", argv[i], cl_error_detail());
			return 2;
		}
	cl_lake_loc_configure(&cfg, argv[3]);
	snprintf(table, sizeof(table), "%s/bench-%d-%ld/silver/events", argv[1], (int)getpid(),
		 (long)time(NULL));

	struct cl_delta_txn *t;
	struct cl_delta_field fields[] = { { "id", "long", true } };
	int64_t v;
	if (cl_delta_txn_begin(&t, table) || cl_delta_txn_set_schema(t, fields, 1, NULL, 0, "events") ||
	    cl_delta_txn_commit(t, "CREATE TABLE", NULL, &v)) {
		fprintf(stderr, "%s: %s\n", table, cl_error_detail());
		return 1;
	}
	double t0 = now();
	for (long i = 0; i < n; i++) {
		char rel[64];
		snprintf(rel, sizeof(rel), "part-%06ld.parquet", i);
		if (cl_delta_txn_begin(&t, table) ||
		    cl_delta_txn_add(t, rel, NULL, 1000, "{\"numRecords\":10}", true) ||
		    cl_delta_txn_commit(t, "WRITE", NULL, &v)) {
			fprintf(stderr, "%s: commit %ld: %s\n", table, i, cl_error_detail());
			return 1;
		}
	}
	double t1 = now();
	struct cl_delta_snapshot *s;
	if (cl_delta_snapshot_load(table, CL_DELTA_LATEST, CL_DELTA_NO_TIME, &s)) {
		fprintf(stderr, "%s: %s\n", table, cl_error_detail());
		return 1;
	}
	double t2 = now();
	printf("%.1f commits/s (%ld commits, a checkpoint every 10, in %.2f s); snapshot of "
	       "version %lld (%zu files) loaded in %.1f ms\n", (double)n / (t1 - t0), n, t1 - t0,
	       (long long)s->version, s->nfiles, (t2 - t1) * 1000);
	cl_delta_snapshot_free(s);
	cl_config_free(&cfg);
	return 0;
}
