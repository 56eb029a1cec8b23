/*
 * Fuzz target: request bodies as the HTTP endpoints receive them. The
 * first byte picks the endpoint (device events, one FHIR Observation, a
 * FHIR Bundle); the rest is the body. It runs the real ingest path into a
 * real bronze log (fdatasync off) and checks the accounting invariants:
 * every event is accepted, a duplicate or rejected (conflicts among the
 * rejected), exactly once; a failed transaction stores and counts
 * nothing but its rejections; what is accepted is queued and committed,
 * device events older than five minutes to the backlog lane's log and
 * the others to the live one; every rejection says why.
 */
#include "fuzz_entry.h"
#include "bronze/cl_blog.h"
#include "core/cl_error.h"
#include "core/cl_fs.h"
#include "core/cl_log.h"
#include "core/cl_time.h"
#include "ingest/cl_dedupe.h"
#include "ingest/cl_ingest.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static struct cl_blog *blog, *backlog;
static struct cl_dedupe *dd;
static struct cl_ingest *ing;
static char dir[256];

static int no_sync(int fd)
{
	(void)fd;
	return 0;
}

static void cleanup(void)
{
	char cmd[300];

	cl_blog_close(blog);
	cl_blog_close(backlog);
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
	if (system(cmd) != 0)
		fprintf(stderr, "could not remove %s\n", dir);
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	struct cl_blog_options bo;
	struct cl_ingest_options io;

	(void)argc;
	(void)argv;
	cl_log_threshold = -1;
	cl_fs.fdatasync = no_sync;
	cl_fs.fsync = no_sync;
	snprintf(dir, sizeof(dir), "%s/carelake-fuzz-ingest-%d",
		 access("/dev/shm", W_OK) == 0 ? "/dev/shm" : "/tmp", (int)getpid());
	cl_blog_options_default(&bo);
	bo.segment_max_bytes = 1 << 20;
	if (cl_blog_open(dir, "vitals", &bo, &blog) || cl_dedupe_create(10000, &dd))
		abort();
	{
		char bdir[300];

		snprintf(bdir, sizeof(bdir), "%s/backlog", dir);
		if (cl_blog_open(bdir, "vitals-backlog", &bo, &backlog))
			abort();
	}
	cl_ingest_options_default(&io);
	io.max_events = 1000;
	io.backlog_after_us = 300ll * 1000000;
	if (cl_ingest_create(blog, dd, &io, &ing))
		abort();
	cl_ingest_set_backlog(ing, backlog);
	atexit(cleanup);
	return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct cl_ingest_result r;
	int mode, held, rc;

	if (size < 1)
		return 0;
	mode = data[0] % 3;
	/* events, and a first byte of 128 or more: the live log held (a bulk
	 * body while the stream is behind) */
	held = mode == 0 && data[0] >= 128;
	cl_ingest_result_init(&r);
	if (mode == 0)
		rc = cl_ingest_body(ing, (const char *)data + 1, size - 1, cl_time_now_us(),
				    CL_INGEST_BACKLOG | (held ? CL_INGEST_LIVE_HELD : 0), &r);
	else
		rc = cl_ingest_fhir(ing, (const char *)data + 1, size - 1,
				    cl_time_now_us(), 0, mode == 2, &r);
	if (rc == CL_OK) {
		if (r.transaction_failed) {
			if (r.accepted || r.duplicates || r.queued || r.nrejected == 0)
				abort();
		} else if (r.accepted + r.duplicates + r.nrejected != r.events) {
			abort();
		}
		if (r.conflicts > r.nrejected)
			abort();
		if (r.baccepted > r.accepted || (r.baccepted > 0) != (r.bqueued != 0) ||
		    (r.accepted > r.baccepted) != (r.queued != 0))
			abort();
		if (r.held || (held && r.queued))
			abort();
		if (r.queued && cl_blog_wait(blog, &r.last, NULL) != CL_OK)
			abort();
		if (r.bqueued && cl_blog_wait(backlog, &r.blast, NULL) != CL_OK)
			abort();
		for (uint32_t i = 0; i < r.nlisted; i++)
			if (r.rejected[i].error[0] == '\0')
				abort();
		for (uint32_t i = 0; i < r.nitems; i++)
			if ((r.items[i].status == CL_ITEM_REJECTED ||
			     r.items[i].status == CL_ITEM_CONFLICT) &&
			    (r.items[i].error[0] == '\0' || !r.items[i].issue))
				abort();
	} else if (cl_error_detail()[0] == '\0' || r.queued || r.bqueued ||
		   (r.held && (!held || rc != CL_EBUSY))) {
		abort();
	}
	cl_ingest_result_free(&r);
	return 0;
}
