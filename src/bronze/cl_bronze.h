/*
 * The bronze store of a data directory: one log per source under
 * <data>/bronze/<source>/, opened on demand, plus whole-store checks.
 */
#ifndef CL_BRONZE_H
#define CL_BRONZE_H

#include "cl_blog.h"

#include <stddef.h>
#include <stdint.h>

struct cl_bronze;

/* Counts for one source, or for the whole store. */
struct cl_bronze_counts {
	uint64_t records;         /* valid frames */
	uint64_t segments;        /* segment files */
	uint64_t bytes;           /* bytes of segment files */
	uint64_t corrupt_records; /* records lost to corruption (at least 1
				   * per corrupt region or bad header) */
	uint64_t torn_tail_bytes; /* invalid bytes at the end of the newest
				   * segment: cut at the next open */
	uint64_t files;           /* original files kept (batch loads) */
	uint64_t corrupt_files;   /* of those, missing or not matching their hash */
	uint64_t first_offset;    /* lowest offset present */
	uint64_t next_offset;     /* one past the highest offset present */
};

/* The report of cl_bronze_verify. */
struct cl_bronze_report {
	struct cl_bronze_counts total;
	size_t nsources;
	char (*names)[65];               /* source names, sorted */
	struct cl_bronze_counts *sources;
	char **problems;                 /* one line per problem found */
	size_t nproblems;
};

int cl_bronze_open(const char *data_dir, const struct cl_blog_options *o,
		   struct cl_bronze **out);
void cl_bronze_close(struct cl_bronze *b);

/* The log of a source, opened (and recovered) on first use. */
int cl_bronze_log(struct cl_bronze *b, const char *source, struct cl_blog **out);

/* The bronze.* settings: a struct cl_blog_options (cl_bronze_settings). */
struct cl_config;
struct cl_config_section;
extern const struct cl_config_section cl_bronze_section;
const struct cl_blog_options *cl_bronze_settings(const struct cl_config *c);

/* Lists the source names in a data directory (sorted). */
int cl_bronze_sources(const char *data_dir, char (**names)[65], size_t *n);

/* Writes <data>/bronze/<source> into buf. */
int cl_bronze_source_dir(char *buf, size_t cap, const char *data_dir,
			 const char *source);

/* The records of source's log from offset `from` to its end, counted by
 * reading them (0 when the source has no log); *end is the offset after
 * the last whole record. For carelake status: how far behind a reader is. */
int64_t cl_bronze_records_after(const char *data_dir, const char *source, uint64_t from,
				uint64_t *end);

/*
 * Reads every segment of every source (or only `source` if not NULL) and
 * checks headers, frames, checksums and offset continuity. Read-only: safe
 * beside a running writer.
 */
int cl_bronze_verify(const char *data_dir, const char *source,
		     uint32_t max_len, struct cl_bronze_report *rep);
void cl_bronze_report_free(struct cl_bronze_report *rep);

#endif
