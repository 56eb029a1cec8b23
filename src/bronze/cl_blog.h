/*
 * The bronze log of one source: durable, append-only, group-committed.
 *
 * Any number of threads submit records. Records are gathered into commit
 * batches; one flusher thread writes each batch to the current segment with
 * one write and makes it durable with one fdatasync. A record is
 * acknowledged (cl_blog_wait / cl_blog_append return, the notify callback
 * fires) only after its batch is durable. Offsets are assigned at commit
 * time, so a failed batch leaves no gap.
 *
 * Opening a log recovers it: a torn tail in the last segment (a frame cut
 * short or failing its checksum with nothing valid after it) is truncated
 * and the number of dropped bytes logged; a bad frame followed by valid
 * ones is corruption, which is reported and never truncated away.
 *
 * Segments rotate by size, by age and at UTC midnight (each day its own
 * dt=YYYY-MM-DD partition). A lock file keeps a second process from
 * writing the same source.
 */
#ifndef CL_BLOG_H
#define CL_BLOG_H

#include <stddef.h>
#include <stdint.h>
#include <sys/uio.h>

#include "core/cl_config.h"

struct cl_blog;

/* Tuning; see cl_config.c for the user-facing keys and defaults. */
struct cl_blog_options {
	uint64_t segment_max_bytes;  /* rotate before a segment exceeds this */
	int64_t segment_max_age_us;  /* rotate a segment older than this */
	uint32_t commit_max_records; /* at most this many records per commit */
	uint64_t commit_max_bytes;   /* at most this many bytes per commit */
	int64_t commit_max_wait_us;  /* a commit may wait this long to fill */
	uint64_t pending_max_bytes;  /* queued bytes before backpressure */
	uint32_t record_max_bytes;   /* the largest record accepted */
	/* not the log's own: the archive's (cl_archive.h), set with bronze.* */
	char archive_uri[CL_CFG_STRING_MAX]; /* bronze.archive_uri, or "" */
	int64_t archive_interval_us; /* serve archives this often */
	/* the room serve keeps for bronze (cl_reserve.h), bronze.reserve */
	uint64_t reserve_max_bytes;
	/* not a setting: the data directory whose reserve a write that finds
	 * the disk full takes (cl_bronze_open sets it), or NULL */
	const char *reserve_dir;
};

/* Where a submitted record sits: its commit batch and index within it. */
struct cl_blog_ticket {
	uint64_t batch;
	uint32_t index;
};

/* What the flusher reports after each commit (see cl_blog_set_notify). */
struct cl_blog_commit {
	struct cl_blog *log;   /* the log it is a commit of */
	uint64_t batch;        /* batch sequence number */
	int rc;                /* CL_OK or the error every record in it got */
	uint64_t first_offset; /* offset of its first record (when rc is 0) */
	uint32_t count;        /* records in it */
	uint64_t bytes;        /* framed bytes written */
	int64_t queued_us;     /* monotonic time its first record arrived */
	int64_t write_us;      /* duration of the write */
	int64_t sync_us;       /* duration of the fdatasync */
};

/* Counters since open. */
/* Upper bounds, in seconds, of the commit-time histogram's buckets. */
#define CL_BLOG_COMMIT_BUCKETS 13
extern const double cl_blog_commit_le[CL_BLOG_COMMIT_BUCKETS];

struct cl_blog_stats {
	uint64_t records;         /* records made durable */
	uint64_t bytes;           /* framed bytes made durable */
	uint64_t commits;         /* successful commits */
	uint64_t failed_commits;  /* commits that failed */
	uint64_t segments_created;
	uint64_t next_offset;     /* offset the next durable record will get */
	uint64_t recovered_dropped_bytes; /* torn-tail bytes cut at open */
	uint64_t corrupt_regions; /* bad regions kept in the last segment */
	/* time to write and fdatasync each successful commit: counts by
	 * bucket of cl_blog_commit_le (the last: above them all), and the sum */
	uint64_t commit_buckets[CL_BLOG_COMMIT_BUCKETS + 1];
	uint64_t commit_us_sum;
};

/* Submission flags. */
#define CL_BLOG_NOWAIT 1 /* fail with CL_EBUSY instead of blocking */
#define CL_BLOG_LAZY 2   /* do not wake the flusher: the caller will call
			  * cl_blog_kick once it has queued what it has */

/* Fills o with the defaults. */
void cl_blog_options_default(struct cl_blog_options *o);

/*
 * Opens (creating if needed) the log in source_dir, recovers it, and starts
 * its flusher. source names the log in messages.
 */
int cl_blog_open(const char *source_dir, const char *source,
		 const struct cl_blog_options *o, struct cl_blog **out);

/* Commits everything submitted, stops the flusher, releases the lock.
 * cl_blog_close(NULL) is a no-op. */
void cl_blog_close(struct cl_blog *log);

/*
 * Queues one record without waiting for durability. With CL_BLOG_NOWAIT,
 * returns CL_EBUSY when pending_max_bytes is reached; otherwise blocks
 * until there is room. Returns CL_ETOOBIG for a record over the limit and
 * CL_EFAILED once the log has stopped after an fdatasync failure.
 */
int cl_blog_submit(struct cl_blog *log, const void *data, size_t len,
		   int flags, struct cl_blog_ticket *ticket);

/* Queues n records contiguously; *last gets the last record's ticket.
 * With CL_BLOG_NOWAIT it is all or nothing: CL_EBUSY queues none. */
int cl_blog_submitv(struct cl_blog *log, const struct iovec *recs, size_t n,
		    int flags, struct cl_blog_ticket *first,
		    struct cl_blog_ticket *last);

/* Wakes the flusher for records queued with CL_BLOG_LAZY. */
void cl_blog_kick(struct cl_blog *log);

/*
 * Waits until the ticket's batch is committed. Returns its result; on
 * success *offset (if not NULL) gets the record's offset.
 */
int cl_blog_wait(struct cl_blog *log, const struct cl_blog_ticket *ticket,
		 uint64_t *offset);

/* Submits one record and waits for it to be durable. */
int cl_blog_append(struct cl_blog *log, const void *data, size_t len,
		   uint64_t *offset);

/*
 * Submits n records and waits until all are durable; *first_offset gets
 * the offset of the first. Fails if any of their batches failed.
 */
int cl_blog_appendv(struct cl_blog *log, const struct iovec *recs, size_t n,
		    uint64_t *first_offset);

/*
 * Without waiting: 1 if every batch from first to last (inclusive) is
 * committed, with *rc the first failure among them or 0; 0 if not yet.
 */
int cl_blog_poll_range(struct cl_blog *log, uint64_t first, uint64_t last,
		       int *rc);

/* Calls fn from the flusher thread after every commit. Setting another
 * (or NULL) waits for a call in progress to return, so the old target may
 * be freed afterwards. Never call it from inside fn. */
void cl_blog_set_notify(struct cl_blog *log,
			void (*fn)(void *arg, const struct cl_blog_commit *c),
			void *arg);

/* The offset just past the last durable record: readers may read below it. */
uint64_t cl_blog_durable_offset(struct cl_blog *log);

/* The offset just past the last record written to the file, its fdatasync
 * possibly still under way: readers that act before durability (the
 * stream processor, to raise alerts sooner) may read below it. If that
 * fdatasync fails the log stops, and what was written may be gone after
 * the restart, so whatever such a reader stores must wait for
 * cl_blog_durable_offset. */
uint64_t cl_blog_written_offset(struct cl_blog *log);

/* Calls fn from the flusher thread once a batch is written, before its
 * fdatasync; replaced and cleared like cl_blog_set_notify. */
void cl_blog_set_written_notify(struct cl_blog *log, void (*fn)(void *arg), void *arg);

void cl_blog_get_stats(struct cl_blog *log, struct cl_blog_stats *st);

/* 0 while commits succeed; after a commit failed and none has succeeded
 * since (a full disk, an I/O error), CL_EIO or CL_ENOSPC with why[cap]
 * saying what failed. */
int cl_blog_health(struct cl_blog *log, char *why, size_t cap);

/* The source directory of the log. */
const char *cl_blog_dir(const struct cl_blog *log);

/* Renders the logs' part of /metrics (records, next offset, commit
 * times), each labelled source="<sources[i]>". */
struct cl_prom;
void cl_blog_metrics(struct cl_blog *const *logs, const char *const *sources, int n,
		     struct cl_prom *p);

#endif
