/*
 * Sequential reader over a source's segments. See cl_reader.h.
 *
 * State: the segment list as last seen, the index of the segment being
 * scanned and its scanner, and `next`, the offset wanted next. At the end
 * of the newest segment the reader re-checks the file size and the list,
 * so it follows a log that is still being written.
 */
#include "cl_reader.h"
#include "../core/cl_error.h"
#include "../core/cl_mem.h"

#include <stdio.h>
#include <string.h>

struct cl_blog_reader {
	char *dir;
	uint64_t end;           /* never return offsets >= end */
	uint32_t max_len;
	struct cl_segment_info *segs;
	size_t nsegs;
	size_t cur;             /* index of the segment being scanned */
	struct cl_seg_scan *scan;
	uint64_t next;          /* offset of the next record wanted */
	uint64_t tail_bytes;
};

static int relist(struct cl_blog_reader *r)
{
	struct cl_segment_info *segs;
	uint64_t cur_base = r->scan ? r->segs[r->cur].base : 0;
	size_t n;
	int rc = cl_segment_list(r->dir, &segs, &n);

	if (rc)
		return rc;
	cl_segment_list_free(r->segs, r->nsegs);
	r->segs = segs;
	r->nsegs = n;
	if (r->scan) {
		r->cur = 0;
		for (size_t i = 0; i < n; i++)
			if (segs[i].base <= cur_base)
				r->cur = i;
	}
	return CL_OK;
}

/* The segment that holds offset `off`: the last with base <= off. */
static size_t find_segment(const struct cl_blog_reader *r, uint64_t off)
{
	size_t lo = 0, hi = r->nsegs;

	while (hi - lo > 1) {
		size_t mid = (lo + hi) / 2;

		if (r->segs[mid].base <= off)
			lo = mid;
		else
			hi = mid;
	}
	return lo;
}

static int open_segment(struct cl_blog_reader *r, size_t i)
{
	int rc;

	cl_seg_scan_close(r->scan);
	r->scan = NULL;
	rc = cl_seg_scan_open(r->segs[i].path, r->segs[i].base, r->max_len,
			      UINT64_MAX, &r->scan);
	if (rc)
		return rc;
	r->cur = i;
	if (r->next > r->segs[i].base) {
		rc = cl_seg_scan_seek(r->scan, r->next);
		if (rc < 0 && rc != CL_ECORRUPT)
			return rc;
	}
	return CL_OK;
}

int cl_blog_reader_open(const char *source_dir, uint64_t from, uint64_t end,
			uint32_t max_len, struct cl_blog_reader **out)
{
	struct cl_blog_reader *r = cl_calloc(1, sizeof(*r));
	int rc;

	*out = NULL;
	if (!r)
		return cl_error_set(CL_ENOMEM, "no memory for a reader");
	r->dir = cl_strdup(source_dir);
	r->end = end;
	r->max_len = max_len;
	r->next = from;
	if (!r->dir) {
		cl_free(r);
		return cl_error_set(CL_ENOMEM, "no memory for a reader");
	}
	rc = relist(r);
	if (rc == CL_OK && r->nsegs > 0)
		rc = open_segment(r, find_segment(r, from));
	if (rc) {
		cl_blog_reader_close(r);
		return rc;
	}
	*out = r;
	return CL_OK;
}

/*
 * Moves past the end of the current segment: to the next one, to growth
 * of this one, or to a segment created since. Returns 1 if there may be
 * more to read, 0 if not, or an error.
 */
static int move_on(struct cl_blog_reader *r)
{
	int rc;

	if (r->cur + 1 < r->nsegs) {
		rc = open_segment(r, r->cur + 1);
		return rc ? rc : 1;
	}
	if (cl_seg_scan_refresh(r->scan))
		return 1;
	rc = relist(r);
	if (rc)
		return rc;
	if (r->cur + 1 < r->nsegs) {
		/* a newer segment: this one is sealed, but the writer may
		 * have finished it between the look above and the listing
		 * (it completes a segment before it starts the next) */
		if (cl_seg_scan_refresh(r->scan))
			return 1;
		rc = open_segment(r, r->cur + 1);
		return rc ? rc : 1;
	}
	return 0;
}

int cl_blog_reader_next(struct cl_blog_reader *r, struct cl_frame *f)
{
	for (;;) {
		uint64_t skipped, bad, bad_off;
		char path[4096];
		int rc;

		if (r->next >= r->end)
			return 0;
		if (!r->scan) {
			rc = relist(r);
			if (rc)
				return rc;
			if (r->nsegs == 0)
				return 0;
			rc = open_segment(r, find_segment(r, r->next));
			if (rc)
				return rc;
		}
		rc = cl_seg_scan_next(r->scan, f);
		if (rc == 1) {
			if (f->offset < r->next)
				continue; /* before the starting offset */
			if (f->offset >= r->end)
				return 0;
			r->next = f->offset + 1;
			r->tail_bytes = 0;
			return 1;
		}
		if (rc == 0) {
			r->tail_bytes = 0;
			rc = move_on(r);
			if (rc <= 0)
				return rc;
			continue;
		}
		if (rc != CL_ECORRUPT)
			return rc;

		bad = cl_seg_scan_bad_pos(r->scan);
		bad_off = cl_seg_scan_next_offset(r->scan);
		/* a copy: relist() below frees the list the path lives in */
		snprintf(path, sizeof(path), "%s", r->segs[r->cur].path);
		if (cl_seg_scan_resync(r->scan, &skipped)) {
			uint64_t lost = cl_seg_scan_next_offset(r->scan) - bad_off;

			if (cl_seg_scan_next_offset(r->scan) > r->next)
				r->next = cl_seg_scan_next_offset(r->scan);
			return cl_error_set(CL_ECORRUPT,
					    "corrupt data in %s at byte %llu: %llu bytes skipped, %llu records lost",
					    path, (unsigned long long)bad,
					    (unsigned long long)skipped,
					    (unsigned long long)lost);
		}
		/* Nothing valid after the bad frame in this segment. */
		cl_seg_scan_rewind(r->scan, bad, bad_off);
		rc = relist(r);
		if (rc)
			return rc;
		if (r->cur + 1 >= r->nsegs) {
			/* The newest segment's tail: still being written, or
			 * torn by a crash and not yet recovered. */
			r->tail_bytes = skipped;
			if (cl_seg_scan_refresh(r->scan))
				continue;
			return 0;
		}
		/* A newer segment exists, so this one is sealed; but its
		 * tail may have been finished after this scan read it (the
		 * writer completes a segment before it starts the next):
		 * read what it holds now before calling anything lost. */
		if (cl_seg_scan_refresh(r->scan))
			continue;
		/* A sealed segment ends badly: data was lost. */
		rc = open_segment(r, r->cur + 1);
		if (rc)
			return rc;
		if (r->segs[r->cur].base > r->next)
			r->next = r->segs[r->cur].base;
		return cl_error_set(CL_ECORRUPT,
				    "sealed segment %s ends with %llu invalid bytes at byte %llu",
				    path, (unsigned long long)skipped,
				    (unsigned long long)bad);
	}
}

void cl_blog_reader_set_end(struct cl_blog_reader *r, uint64_t end)
{
	r->end = end;
}

uint64_t cl_blog_reader_position(const struct cl_blog_reader *r)
{
	return r->next;
}

uint64_t cl_blog_reader_tail_bytes(const struct cl_blog_reader *r)
{
	return r->tail_bytes;
}

void cl_blog_reader_close(struct cl_blog_reader *r)
{
	if (!r)
		return;
	cl_seg_scan_close(r->scan);
	cl_segment_list_free(r->segs, r->nsegs);
	cl_free(r->dir);
	cl_free(r);
}
