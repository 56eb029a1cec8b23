/*
 * Benchmark: durable audit appends per second, with checkpoints signed as
 * configured (Ed25519 every audit.checkpoint_records records), against the
 * bronze log's own durable append rate measured in the same run, on the
 * same disk, with records of the same size.
 *
 * For each number of appending threads T (1, 8, 64), for --seconds each:
 *   bronze     T threads each cl_blog_append a record of the size of an
 *              audit line and wait for it to be durable, again and again
 *   audit      T threads each cl_audit_append_sync one audit record (a
 *              read of one patient's vitals, as serve writes it) and wait
 * and once:
 *   audit-async one thread queues with cl_audit_append and never waits
 *              (what an event loop does); the rate the flusher sustains
 * Printed: appends/s, commits (fdatasyncs) and records a commit, and the
 * ratio of audit to bronze for the same T.
 *
 * usage: bench_audit [--dir DIR] [--seconds S] [--threads 1,8,64]
 */
#include "audit/cl_audit.h"
#include "bronze/cl_blog.h"
#include "core/cl_error.h"
#include "core/cl_log.h"
#include "core/cl_time.h"

#include <ftw.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static const char *const patients[] = { "patient-0042" };

static struct cl_audit_record sample(char *req, uint64_t i)
{
	snprintf(req, 32, "req-%012llu", (unsigned long long)i);
	return (struct cl_audit_record){
		.principal = "tk3f9a0c51e2d7b4", .role = "clinician", .client = "10.20.30.40",
		.request_id = req, .action = "read", .resource_type = "vitals",
		.patients = patients, .npatients = 1,
		.query = "from=2026-11-22T00:00:00Z&to=2026-11-22T06:00:00Z", .count = 360,
		.status = 200,
	};
}

static int rm_entry(const char *p, const struct stat *st, int f, struct FTW *w)
{
	(void)st;
	(void)f;
	(void)w;
	return remove(p);
}

struct run {
	struct cl_audit *audit;
	struct cl_blog *blog;
	size_t rec_len;
	int64_t end_us;
	_Atomic uint64_t done;
	_Atomic int failed;
};

static void *bronze_thread(void *arg)
{
	struct run *r = arg;
	char rec[1024];

	memset(rec, 'x', sizeof(rec));
	while (cl_time_mono_us() < r->end_us) {
		if (cl_blog_append(r->blog, rec, r->rec_len, NULL) != CL_OK) {
			r->failed = 1;
			break;
		}
		atomic_fetch_add(&r->done, 1);
	}
	return NULL;
}

static void *audit_thread(void *arg)
{
	struct run *r = arg;
	char req[32];
	uint64_t i = 0;

	while (cl_time_mono_us() < r->end_us) {
		struct cl_audit_record rec = sample(req, i++);

		if (cl_audit_append_sync(r->audit, &rec) != CL_OK) {
			r->failed = 1;
			break;
		}
		atomic_fetch_add(&r->done, 1);
	}
	return NULL;
}

static double run_threads(struct run *r, int threads, double seconds, void *(*fn)(void *))
{
	pthread_t *th = calloc((size_t)threads, sizeof(*th));
	int64_t t0 = cl_time_mono_us();

	r->end_us = t0 + (int64_t)(seconds * 1e6);
	for (int i = 0; i < threads; i++)
		pthread_create(&th[i], NULL, fn, r);
	for (int i = 0; i < threads; i++)
		pthread_join(th[i], NULL);
	free(th);
	if (r->failed) {
		fprintf(stderr, "bench_audit: an append failed: %s\n", cl_error_detail());
		exit(1);
	}
	return (double)r->done / ((double)(cl_time_mono_us() - t0) / 1e6);
}

int main(int argc, char **argv)
{
	const char *base = "/tmp", *list = "1,8,64";
	char dir[512], adir[600], bdir[600], keys[600];
	double seconds = 3;
	struct cl_audit_options ao;
	struct cl_blog_options bo;
	size_t line_len;

	for (int i = 1; i + 1 < argc; i += 2) {
		if (strcmp(argv[i], "--dir") == 0)
			base = argv[i + 1];
		else if (strcmp(argv[i], "--seconds") == 0)
			seconds = atof(argv[i + 1]);
		else if (strcmp(argv[i], "--threads") == 0)
			list = argv[i + 1];
	}
	cl_log_threshold = CL_LOG_ERROR;
	snprintf(dir, sizeof(dir), "%s/bench-audit-XXXXXX", base);
	if (!mkdtemp(dir)) {
		perror("mkdtemp");
		return 1;
	}
	snprintf(keys, sizeof(keys), "%s/keys", dir);
	cl_audit_options_from(&ao, NULL, keys);
	cl_blog_options_default(&bo);
	/* the bronze records are as long as an audit line */
	{
		struct cl_audit *a;
		char req[32], path[700];
		struct cl_audit_record rec = sample(req, 0);
		struct stat st;

		snprintf(adir, sizeof(adir), "%s/probe", dir);
		if (cl_audit_open(adir, "bench", &ao, &a) != CL_OK ||
		    cl_audit_append_sync(a, &rec) != CL_OK) {
			fprintf(stderr, "bench_audit: %s\n", cl_error_detail());
			return 1;
		}
		snprintf(path, sizeof(path), "%s/audit-000001.jsonl", adir);
		stat(path, &st);
		line_len = (size_t)st.st_size;
		cl_audit_close(a);
	}
	printf("audit line %zu bytes; a signed checkpoint every %u records; %.0f s a run\n",
	       line_len, ao.checkpoint_records, seconds);
	printf("threads  %-12s %12s %10s %12s %8s\n", "mode", "appends/s", "commits",
	       "recs/commit", "vs bronze");
	for (char *p = (char *)list; *p;) {
		int threads = (int)strtol(p, &p, 10);
		struct run rb = { .rec_len = line_len }, ra = { 0 };
		struct cl_blog_stats bs;
		struct cl_audit_stats as;
		double brps, arps;

		snprintf(bdir, sizeof(bdir), "%s/bronze-%d", dir, threads);
		snprintf(adir, sizeof(adir), "%s/audit-%d", dir, threads);
		if (cl_blog_open(bdir, "bench", &bo, &rb.blog) != CL_OK ||
		    cl_audit_open(adir, "bench", &ao, &ra.audit) != CL_OK) {
			fprintf(stderr, "bench_audit: %s\n", cl_error_detail());
			return 1;
		}
		brps = run_threads(&rb, threads, seconds, bronze_thread);
		cl_blog_get_stats(rb.blog, &bs);
		arps = run_threads(&ra, threads, seconds, audit_thread);
		cl_audit_get_stats(ra.audit, &as);
		printf("%7d  %-12s %12.0f %10llu %12.1f %8s\n", threads, "bronze", brps,
		       (unsigned long long)bs.commits, bs.commits ? (double)bs.records / (double)bs.commits : 0, "");
		printf("%7d  %-12s %12.0f %10llu %12.1f %7.2fx\n", threads, "audit", arps,
		       (unsigned long long)as.commits, as.commits ? (double)as.records / (double)as.commits : 0,
		       arps / brps);
		fflush(stdout);
		cl_blog_close(rb.blog);
		cl_audit_close(ra.audit);
		if (*p == ',')
			p++;
		else if (*p)
			break;
	}
	/* queued without waiting: what the flusher sustains */
	{
		struct cl_audit *a;
		struct cl_audit_stats as;
		char req[32];
		uint64_t i = 0, ticket = 0;
		int64_t t0, end;

		snprintf(adir, sizeof(adir), "%s/audit-async", dir);
		if (cl_audit_open(adir, "bench", &ao, &a) != CL_OK)
			return 1;
		t0 = cl_time_mono_us();
		end = t0 + (int64_t)(seconds * 1e6);
		while (cl_time_mono_us() < end) {
			struct cl_audit_record rec = sample(req, i++);

			if (cl_audit_append(a, &rec, 0, &ticket) != CL_OK)
				return 1;
		}
		if (cl_audit_wait(a, ticket) != CL_OK)
			return 1;
		cl_audit_get_stats(a, &as);
		printf("%7d  %-12s %12.0f %10llu %12.1f %8s\n", 1, "audit-async",
		       (double)as.records / ((double)(cl_time_mono_us() - t0) / 1e6),
		       (unsigned long long)as.commits,
		       as.commits ? (double)as.records / (double)as.commits : 0, "");
		cl_audit_close(a);
	}
	nftw(dir, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
	return 0;
}
