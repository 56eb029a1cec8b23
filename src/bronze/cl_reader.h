/*
 * Reading a source's bronze log in offset order, from any offset.
 *
 * A reader lists the source's segments, starts at the one holding `from`
 * and walks forward across segments. It never reads at or past `end`
 * (pass cl_blog_durable_offset() of a live log, or UINT64_MAX to read all
 * valid data on disk). At the tail it returns 0; calling again later picks
 * up records appended since, so a consumer can follow the log.
 *
 * A corrupt region is reported once as CL_ECORRUPT (detail says where and
 * how much was skipped); the next call continues after it.
 */
#ifndef CL_READER_H
#define CL_READER_H

#include "cl_segment.h"

#include <stdint.h>

struct cl_blog_reader;

int cl_blog_reader_open(const char *source_dir, uint64_t from, uint64_t end,
			uint32_t max_len, struct cl_blog_reader **out);

/* 1 with f filled; 0 at the end for now; CL_ECORRUPT or another error. */
int cl_blog_reader_next(struct cl_blog_reader *r, struct cl_frame *f);

/* Raises the bound set at open (for a consumer following a live log). */
void cl_blog_reader_set_end(struct cl_blog_reader *r, uint64_t end);

/* The offset of the next record the reader will return. */
uint64_t cl_blog_reader_position(const struct cl_blog_reader *r);

/* Bytes of invalid data at the end of the newest segment: a tail being
 * written, or torn by a crash and not yet recovered. */
uint64_t cl_blog_reader_tail_bytes(const struct cl_blog_reader *r);

void cl_blog_reader_close(struct cl_blog_reader *r);

#endif
