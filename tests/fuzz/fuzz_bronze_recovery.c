/*
 * Fuzz target: the bronze log on recovery. The input becomes the only
 * segment file of a source (with a valid header prepended when the first
 * byte is odd; and, when its second bit is set, a newer segment after it,
 * far beyond its end, holding one valid record: what a crash leaves when
 * the kernel wrote a new segment out before the old one's tail). Then, as
 * after a crash: verify reads it, a reader walks it, the log is opened
 * (recovering: torn tails cut, corruption kept, a newer segment past a
 * torn tail removed), one record is appended, and everything is read
 * again. Invariants checked: no crash or sanitizer report; after recovery
 * the newest segment has no torn tail and the newer one is gone; the
 * appended record is read back last, at the offset the log gave it;
 * offsets only increase.
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

/* a base no fuzzed segment reaches (inputs are far smaller) */
#define NEWER_BASE (1ull << 32)

static char data_dir[256], src_dir[320], seg_path[512], newer_path[512];

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
	snprintf(newer_path, sizeof(newer_path), "%s/dt=2026-01-01/%020llu.seg", src_dir,
		 (unsigned long long)NEWER_BASE);
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
	int fd, newer = size > 0 && (data[0] & 2);

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
	if (newer) {
		uint8_t seg[CL_SEG_HEADER_SIZE + CL_FRAME_HEADER_SIZE + 8];

		cl_segment_header_encode(seg, NEWER_BASE, 0);
		memcpy(seg + CL_SEG_HEADER_SIZE + CL_FRAME_HEADER_SIZE, "{\"n\":1}", 7);
		cl_frame_header_encode(seg + CL_SEG_HEADER_SIZE, seg + CL_SEG_HEADER_SIZE +
				       CL_FRAME_HEADER_SIZE, 7, NEWER_BASE, 0);
		fd = open(newer_path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
		if (fd < 0 || write(fd, seg, CL_SEG_HEADER_SIZE + CL_FRAME_HEADER_SIZE + 7) !=
				      (ssize_t)(CL_SEG_HEADER_SIZE + CL_FRAME_HEADER_SIZE + 7))
			abort();
		close(fd);
	}

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
	if (newer && access(newer_path, F_OK) == 0)
		abort(); /* nothing reaches its base: it must have gone */
	cl_bronze_report_free(&rep);
	if (read_all(&last) == 0 || last != off)
		abort(); /* the new record must come back, last */
	return 0;
}
