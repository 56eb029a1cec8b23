/*
 * Fuzz target: the bronze log on recovery. The input becomes the only
 * segment file of a source (with a valid header prepended when the first
 * byte is odd). Then, as after a crash: verify reads it, a reader walks
 * it, the log is opened (recovering: torn tails cut, corruption kept), one
 * record is appended, and everything is read again. Invariants checked:
 * no crash or sanitizer report; after recovery the newest segment has no
 * torn tail; the appended record is read back last, at the offset the log
 * gave it; offsets only increase.
 */
#include "fuzz_entry.h"
#include "bronze/cl_blog.h"
#include "bronze/cl_bronze.h"
#include "bronze/cl_reader.h"
#include "bronze/cl_segment.h"
#include "core/cl_error.h"
#include "core/cl_fs.h"
#include "core/cl_log.h"

#include <fcntl.h>
#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static char data_dir[256], src_dir[320], seg_path[512];

static int no_sync(int fd)
{
	(void)fd;
	return 0;
}

static int rm_entry(const char *p, const struct stat *st, int f, struct FTW *w)
{
	(void)st;
	(void)f;
	(void)w;
	return remove(p);
}

static void cleanup(void)
{
	nftw(data_dir, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc;
	(void)argv;
	cl_log_threshold = -1;
	cl_fs.fdatasync = no_sync; /* durability is not what is fuzzed here */
	cl_fs.fsync = no_sync;
	snprintf(data_dir, sizeof(data_dir), "%s/carelake-fuzz-%d",
		 access("/dev/shm", W_OK) == 0 ? "/dev/shm" : "/tmp", (int)getpid());
	snprintf(src_dir, sizeof(src_dir), "%s/bronze/f", data_dir);
	snprintf(seg_path, sizeof(seg_path), "%s/dt=2026-01-01/00000000000000000000.seg",
		 src_dir);
	atexit(cleanup);
	return 0;
}

static uint64_t read_all(uint64_t *last_offset)
{
	struct cl_blog_reader *r;
	struct cl_frame f;
	uint64_t n = 0, prev = 0;
	int rc, first = 1;

	if (cl_blog_reader_open(src_dir, 0, UINT64_MAX, 1 << 16, &r) != CL_OK)
		abort();
	for (int i = 0; i < 100000; i++) {
		rc = cl_blog_reader_next(r, &f);
		if (rc == 0)
			break;
		if (rc == CL_ECORRUPT)
			continue;
		if (rc < 0)
			abort();
		if (!first && f.offset <= prev)
			abort(); /* offsets must increase */
		prev = f.offset;
		first = 0;
		n++;
	}
	if (last_offset)
		*last_offset = prev;
	cl_blog_reader_close(r);
	return n;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct cl_blog_options o;
	struct cl_bronze_report rep;
	struct cl_blog *log;
	char dt_dir[400];
	uint64_t off, last;
	int fd;

	cleanup();
	snprintf(dt_dir, sizeof(dt_dir), "%s/dt=2026-01-01", src_dir);
	if (cl_fs_mkdirs(dt_dir) != CL_OK)
		abort();
	fd = open(seg_path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
	if (fd < 0)
		abort();
	if (size > 0 && (data[0] & 1)) {
		uint8_t hdr[CL_SEG_HEADER_SIZE];

		cl_segment_header_encode(hdr, 0, 0);
		if (write(fd, hdr, sizeof(hdr)) != (ssize_t)sizeof(hdr))
			abort();
		data++;
		size--;
	}
	if (size && write(fd, data, size) != (ssize_t)size)
		abort();
	close(fd);

	/* read-only passes over the damaged log */
	if (cl_bronze_verify(data_dir, NULL, 1 << 16, &rep) != CL_OK)
		abort();
	cl_bronze_report_free(&rep);
	read_all(NULL);

	/* recovery, then the log must take a new record */
	cl_blog_options_default(&o);
	o.record_max_bytes = 1 << 16;
	if (cl_blog_open(src_dir, "f", &o, &log) != CL_OK)
		abort();
	if (cl_blog_append(log, "{\"after\":1}", 11, &off) != CL_OK)
		abort();
	cl_blog_close(log);

	if (cl_bronze_verify(data_dir, NULL, 1 << 16, &rep) != CL_OK)
		abort();
	if (rep.total.torn_tail_bytes != 0)
		abort(); /* recovery left a torn tail */
	cl_bronze_report_free(&rep);
	if (read_all(&last) == 0 || last != off)
		abort(); /* the new record must come back, last */
	return 0;
}
