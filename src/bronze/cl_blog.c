/*
 * The bronze log writer: recovery, group commit and segment rotation.
 * See cl_blog.h for the contract and cl_segment.h for the format.
 *
 * Concurrency: `mu` guards the batch queues, the sequence counters, the
 * results ring, the stats and the failure state. Segment state (fd, size,
 * offsets) is owned by the flusher thread alone, by the opener before it
 * starts and by the closer after it has been joined (`seg_owner`, checked
 * by assert). Each written batch carries the fd it went to; the syncer
 * makes those fds durable. Rotation never waits for the syncer: the old
 * segment's fd is handed to the syncer (`retired`), which syncs what is
 * still unsynced in it and closes it, and the new segment's header and
 * directory entries are made durable by the syncer too (`dirsync`), before
 * any record in it is acknowledged. Batches complete strictly in sequence
 * order, so "batch s is done" is simply s < done_seq, and a record in a new
 * segment is never acknowledged before every record of the old one is
 * durable. (Recovery relies on that: see recover().)
 */
#include "cl_blog.h"
#include "cl_reserve.h"
#include "cl_segment.h"
#include "../core/cl_error.h"
#include "../core/cl_fs.h"
#include "../core/cl_log.h"
#include "../core/cl_mem.h"
#include "../core/cl_prom.h"
#include "../core/cl_time.h"
#include "../core/cl_worker.h"

#include <assert.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#define RESULTS 1024 /* results kept for late waiters */

/* A commit batch: framed records back to back, headers filled at commit. */
struct batch {
	uint8_t *buf;
	size_t len, cap;
	uint32_t count;
	uint64_t seq;
	int64_t first_us;   /* monotonic arrival of the first record */
	int fd;             /* the segment it was written to */
	struct cl_blog_commit c;  /* once written: what the commit reports */
	char err[256];      /* why it failed (the detail is per thread) */
	struct batch *next;
};

struct result {
	uint64_t seq;
	int rc;
	uint64_t first_offset;
};

struct cl_blog {
	char *dir;
	char *source;
	struct cl_blog_options o;
	int lock_fd;

	pthread_mutex_t mu;
	pthread_cond_t cv_work;   /* flusher: work arrived or closing */
	pthread_cond_t cv_done;   /* waiters: a batch completed */
	pthread_cond_t cv_space;  /* submitters: pending bytes dropped */
	pthread_t flusher;
	int flusher_started;
	/* The flusher writes batches; the syncer makes them durable, one
	 * fdatasync for all written meanwhile, so a slow fdatasync never
	 * holds up the next write (nor readers of written records). */
	pthread_t syncer;
	int syncer_started;
	pthread_cond_t cv_sync;             /* syncer: written batches or closing */
	struct batch *syncq, *syncq_tail;   /* written, awaiting fdatasync */
	int syncing;                        /* an fdatasync is under way */
	int sync_closing;
	/* Handed from the flusher to the syncer at rotation: old segments'
	 * fds, to sync (if a batch in them is unsynced) and close; and
	 * directories to sync before the next batches complete (a new
	 * segment's entry, a new day's directory). */
	struct retired {
		int fd;
		char path[PATH_MAX];
	} retired[16];
	int nretired;
	char dirsync[4][PATH_MAX];
	int ndirsync;

	struct batch *filling;              /* the batch records go into, or
					     * NULL until the next record */
	uint64_t next_seq;                  /* sequence of the next batch */
	struct batch *sealed, *sealed_tail; /* full batches, oldest first */
	struct batch *spare;                /* recycled batches */
	_Atomic uint64_t done_seq;          /* batches below this are done */
	_Atomic uint64_t failed_below;      /* 1 + the latest failed batch, or 0:
					     * with done_seq, lets a poll see a
					     * success without the mutex */
	uint64_t pending_bytes;
	struct result results[RESULTS];
	char last_err[256];                 /* detail of the latest failed commit */
	int last_failed_rc;                 /* its code while no commit has succeeded
					     * since; CL_OK otherwise (under mu) */
	int failed_rc;                      /* sticky after fdatasync failure */
	char failed_msg[256];
	int closing;
	uint64_t durable_offset;
	struct cl_blog_stats stats;

	void (*notify)(void *, const struct cl_blog_commit *);
	void *notify_arg;
	void (*on_written)(void *);
	void *on_written_arg;
	_Atomic uint64_t written_offset;    /* past the last record written, not yet
					     * necessarily durable */
	int in_notify;                      /* notify or on_written calls under way */

	/* flusher-owned segment state */
	pthread_t seg_owner;   /* the thread that may touch it (see above) */
	int seg_fd;
	uint64_t seg_base;
	uint64_t seg_size;     /* bytes written to the segment */
	uint64_t seg_records;  /* records in the segment */
	int64_t seg_created_us;
	int64_t seg_day;
	char seg_path[PATH_MAX];
	uint64_t next_offset;
};

void cl_blog_options_default(struct cl_blog_options *o)
{
	o->segment_max_bytes = 64ull << 20;
	o->segment_max_age_us = 3600ll * 1000000;
	o->commit_max_records = 4096;
	o->commit_max_bytes = 4ull << 20;
	o->commit_max_wait_us = 0;
	o->pending_max_bytes = 64ull << 20;
	o->record_max_bytes = 4u << 20;
	o->reserve_max_bytes = 256ull << 20;
	o->reserve_dir = NULL;
}

const char *cl_blog_dir(const struct cl_blog *log)
{
	return log->dir;
}

/* ---- segment management (flusher or opener only) ---- */

/* The calling thread owns the segment state (for assert; unused in a
 * release build, where assert compiles to nothing). */
static __attribute__((unused)) int seg_owned(const struct cl_blog *log)
{
	return pthread_equal(log->seg_owner, pthread_self());
}

static int day_of_path(const char *seg_path, int64_t *day)
{
	/* .../dt=YYYY-MM-DD/<base>.seg */
	const char *slash = strrchr(seg_path, '/');
	struct tm tm;

	memset(&tm, 0, sizeof(tm));
	if (!slash || slash - seg_path < 13 ||
	    sscanf(slash - 10, "%4d-%2d-%2d", &tm.tm_year, &tm.tm_mon,
		   &tm.tm_mday) != 3)
		return CL_EINVAL;
	tm.tm_year -= 1900;
	tm.tm_mon -= 1;
	*day = (int64_t)timegm(&tm) / 86400;
	return CL_OK;
}

static void seg_close(struct cl_blog *log)
{
	assert(seg_owned(log));
	if (log->seg_fd >= 0)
		close(log->seg_fd);
	log->seg_fd = -1;
}

/* The directory a segment file is in. */
static void parent_dir(char *dir, size_t cap, const char *path)
{
	char *slash;

	snprintf(dir, cap, "%s", path);
	slash = strrchr(dir, '/');
	if (slash)
		*slash = '\0';
}

/* A directory to be synced before the next batches complete (the syncer
 * does it with their fdatasync); at once if the list is full. */
static int defer_dirsync(struct cl_blog *log, const char *dir)
{
	int i;

	pthread_mutex_lock(&log->mu);
	for (i = 0; i < log->ndirsync && strcmp(log->dirsync[i], dir) != 0; i++)
		;
	if (i == log->ndirsync && i < (int)(sizeof(log->dirsync) / sizeof(log->dirsync[0])))
		snprintf(log->dirsync[log->ndirsync++], PATH_MAX, "%s", dir);
	else if (i == log->ndirsync)
		i = -1;
	pthread_mutex_unlock(&log->mu);
	return i < 0 ? cl_fs_sync_dir(dir) : CL_OK;
}

/* The current segment, with records, goes to the syncer to be synced and
 * closed once its batches are durable; waits only if sixteen are already
 * waiting (sixteen rotations within one fdatasync). */
static void seg_retire(struct cl_blog *log)
{
	assert(seg_owned(log));
	pthread_mutex_lock(&log->mu);
	while (log->nretired == (int)(sizeof(log->retired) / sizeof(log->retired[0])))
		pthread_cond_wait(&log->cv_done, &log->mu);
	log->retired[log->nretired].fd = log->seg_fd;
	snprintf(log->retired[log->nretired].path, PATH_MAX, "%s", log->seg_path);
	log->nretired++;
	pthread_cond_signal(&log->cv_sync);
	pthread_mutex_unlock(&log->mu);
	log->seg_fd = -1;
}

/* Creates a new, empty segment starting at next_offset (on the flusher,
 * with the syncer running). Its header and directory entry are made
 * durable by the syncer before any record in it is acknowledged. */
static int seg_create(struct cl_blog *log, int64_t now_us)
{
	char day[11], ddir[PATH_MAX], path[PATH_MAX];
	uint8_t hdr[CL_SEG_HEADER_SIZE];
	int rc, existed, fd;

	assert(seg_owned(log));
	/* An empty current segment is replaced, never left beside its
	 * successor with the same base offset. */
	if (log->seg_fd >= 0 && log->seg_records == 0) {
		char old_dir[PATH_MAX];

		seg_close(log);
		if (unlink(log->seg_path) != 0 && errno != ENOENT)
			return cl_error_set(CL_EIO, "cannot remove empty segment '%s': %s",
					    log->seg_path, strerror(errno));
		parent_dir(old_dir, sizeof(old_dir), log->seg_path);
		defer_dirsync(log, old_dir);
	}
	if (log->seg_fd >= 0)
		seg_retire(log);
	seg_close(log);
	cl_time_format_day(now_us, day);
	if ((size_t)snprintf(ddir, sizeof(ddir), "%s/dt=%s", log->dir, day) >=
	    sizeof(ddir))
		return cl_error_set(CL_EINVAL, "path too long");
	existed = cl_fs_is_dir(ddir);
	if (!existed) {
		rc = cl_fs_mkdirs(ddir);
		if (rc)
			return rc;
		rc = defer_dirsync(log, log->dir);
		if (rc)
			return rc;
	}
	rc = cl_segment_path(path, sizeof(path), log->dir, day, log->next_offset);
	if (rc)
		return rc;
	fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	if (fd < 0)
		return cl_error_set(cl_error_from_errno(errno),
				    "cannot create segment '%s': %s", path, strerror(errno));
	cl_segment_header_encode(hdr, log->next_offset, now_us);
	rc = cl_fs_pwrite_all(fd, hdr, sizeof(hdr), 0, path);
	if (rc == CL_OK)
		rc = defer_dirsync(log, ddir);
	if (rc != CL_OK) {
		close(fd);
		unlink(path);
		return rc;
	}
	pthread_mutex_lock(&log->mu); /* the syncer reads it */
	snprintf(log->seg_path, sizeof(log->seg_path), "%s", path);
	pthread_mutex_unlock(&log->mu);
	log->seg_fd = fd;
	log->seg_base = log->next_offset;
	log->seg_size = CL_SEG_HEADER_SIZE;
	log->seg_records = 0;
	log->seg_created_us = now_us;
	log->seg_day = cl_time_day(now_us);
	pthread_mutex_lock(&log->mu); /* stats are read under mu */
	log->stats.segments_created++;
	pthread_mutex_unlock(&log->mu);
	cl_log_debug("bronze", "event=segment_created source=%s base=%llu day=%s",
		     log->source, (unsigned long long)log->seg_base, day);
	return CL_OK;
}

static int need_rotation(const struct cl_blog *log, uint64_t add, int64_t now_us)
{
	assert(seg_owned(log));
	if (log->seg_fd < 0)
		return 1;
	if (cl_time_day(now_us) != log->seg_day)
		return 1;
	if (log->seg_records == 0)
		return 0;
	if (log->seg_size + add > log->o.segment_max_bytes)
		return 1;
	return now_us - log->seg_created_us >= log->o.segment_max_age_us;
}

/* The batch is written (in the page cache), its fdatasync to come: tell
 * whoever reads ahead of durability. */
static void announce_written(struct cl_blog *log, uint64_t upto)
{
	void (*fn)(void *);
	void *arg;

	atomic_store(&log->written_offset, upto);
	pthread_mutex_lock(&log->mu);
	fn = log->on_written;
	arg = log->on_written_arg;
	if (fn)
		log->in_notify++;
	pthread_mutex_unlock(&log->mu);
	if (!fn)
		return;
	fn(arg);
	pthread_mutex_lock(&log->mu);
	log->in_notify--;
	pthread_cond_broadcast(&log->cv_done);
	pthread_mutex_unlock(&log->mu);
}

static int write_batch(struct cl_blog *log, struct batch *b,
		       struct cl_blog_commit *c)
{
	int64_t now_us = cl_time_now_us();
	int64_t t0, t1;
	size_t pos = 0;
	int rc;

	assert(seg_owned(log));
	if (need_rotation(log, b->len, now_us)) {
		/* the old segment goes to the syncer: rotation waits for no
		 * fdatasync */
		rc = seg_create(log, now_us);
		if (rc)
			return rc;
	}
	b->fd = log->seg_fd;
	for (uint32_t i = 0; i < b->count; i++) {
		uint32_t len;

		memcpy(&len, b->buf + pos, 4); /* stashed by submit */
		cl_frame_header_encode(b->buf + pos, b->buf + pos + CL_FRAME_HEADER_SIZE,
				       len, log->next_offset + i, now_us);
		pos += CL_FRAME_HEADER_SIZE + len;
	}
	t0 = cl_time_mono_us();
	rc = cl_fs_pwrite_all(log->seg_fd, b->buf, b->len, log->seg_size,
			      log->seg_path);
	t1 = cl_time_mono_us();
	c->write_us = t1 - t0;
	if (rc != CL_OK) {
		/* Cut whatever part of the batch reached the file, so the next
		 * batch follows the last written frame. */
		if (cl_fs.ftruncate(log->seg_fd, (off_t)log->seg_size) != 0) {
			pthread_mutex_lock(&log->mu);
			log->failed_rc = CL_EFAILED;
			snprintf(log->failed_msg, sizeof(log->failed_msg),
				 "bronze log '%s' stopped: write failed and the partial "
				 "batch could not be cut back (%s)", log->source,
				 strerror(errno));
			pthread_mutex_unlock(&log->mu);
		}
		return rc;
	}
	assert(log->next_offset + b->count > log->next_offset); /* offsets only grow */
	c->first_offset = log->next_offset;
	log->seg_size += b->len;
	log->seg_records += b->count;
	log->next_offset += b->count;
	announce_written(log, log->next_offset);
	return CL_OK;
}

/* ---- batch queue ---- */

static struct batch *batch_get(struct cl_blog *log)
{
	struct batch *b = log->spare;

	if (b) {
		log->spare = b->next;
	} else {
		b = cl_calloc(1, sizeof(*b));
		if (!b)
			return NULL;
	}
	b->len = 0;
	b->count = 0;
	b->next = NULL;
	return b;
}

static void batch_free(struct batch *b)
{
	if (b) {
		cl_free(b->buf);
		cl_free(b);
	}
}

/*
 * Moves the filling batch to the sealed queue; the caller holds mu. The
 * next record starts a new batch (allocated by its submitter, so the
 * flusher never allocates and never waits for memory).
 */
static void seal_filling(struct cl_blog *log)
{
	struct batch *b = log->filling;

	if (log->sealed_tail)
		log->sealed_tail->next = b;
	else
		log->sealed = b;
	log->sealed_tail = b;
	log->filling = NULL;
	pthread_cond_signal(&log->cv_work);
}

static int filling_ready(const struct cl_blog *log)
{
	const struct batch *b = log->filling;

	if (!b || b->count == 0)
		return 0;
	if (log->o.commit_max_wait_us <= 0 || log->closing)
		return 1;
	return cl_time_mono_us() - b->first_us >= log->o.commit_max_wait_us;
}

/* Reports batch b as done, in order; the caller holds mu (dropped
 * around the notify call). */
static void complete(struct cl_blog *log, struct batch *b)
{
	struct cl_blog_commit c = b->c;

	c.log = log;

	assert(b->seq == atomic_load(&log->done_seq)); /* strictly in sequence order */
	assert(log->pending_bytes >= b->len);
	log->results[b->seq % RESULTS] = (struct result){
		.seq = b->seq, .rc = c.rc, .first_offset = c.first_offset };
	if (c.rc != CL_OK)
		atomic_store(&log->failed_below, b->seq + 1);
	atomic_store(&log->done_seq, b->seq + 1);
	log->pending_bytes -= b->len;
	if (c.rc != CL_OK)
		snprintf(log->last_err, sizeof(log->last_err), "%s", b->err);
	log->last_failed_rc = c.rc;
	if (c.rc == CL_OK) {
		assert(c.first_offset >= log->durable_offset); /* durability only advances */
		log->durable_offset = c.first_offset + b->count;
		log->stats.records += b->count;
		log->stats.bytes += b->len;
		log->stats.commits++;
		log->stats.next_offset = log->durable_offset;
		{
			double sec = (double)(c.write_us + c.sync_us) / 1e6;
			int k = 0;

			while (k < CL_BLOG_COMMIT_BUCKETS && sec > cl_blog_commit_le[k])
				k++;
			log->stats.commit_buckets[k]++;
			log->stats.commit_us_sum += (uint64_t)(c.write_us + c.sync_us);
		}
	} else {
		log->stats.failed_commits++;
	}
	b->next = log->spare;
	log->spare = b;
	pthread_cond_broadcast(&log->cv_done);
	pthread_cond_broadcast(&log->cv_space);
	if (log->notify) {
		void (*fn)(void *, const struct cl_blog_commit *) = log->notify;
		void *fn_arg = log->notify_arg;

		log->in_notify++;
		pthread_mutex_unlock(&log->mu);
		fn(fn_arg, &c);
		pthread_mutex_lock(&log->mu);
		log->in_notify--;
		pthread_cond_broadcast(&log->cv_done);
	}
}

/* One fdatasync for every batch written so far, then their completion,
 * in order. The caller holds mu. */
static void sync_round(struct cl_blog *log)
{
	struct batch *list = log->syncq, *b;
	struct retired retired[sizeof(log->retired) / sizeof(log->retired[0])];
	char dirs[sizeof(log->dirsync) / sizeof(log->dirsync[0])][PATH_MAX];
	char cur_path[PATH_MAX];
	int nretired = log->nretired, ndirs = log->ndirsync, rc = CL_OK, last_fd;
	int64_t t0 = cl_time_mono_us(), dt;

	log->syncq = log->syncq_tail = NULL;
	log->syncing = 1;
	memcpy(retired, log->retired, sizeof(retired[0]) * (size_t)nretired);
	memcpy(dirs, log->dirsync, sizeof(dirs[0]) * (size_t)ndirs);
	log->nretired = log->ndirsync = 0;
	/* the current segment's path, for messages (written under mu) */
	snprintf(cur_path, sizeof(cur_path), "%s", log->seg_path);
	pthread_mutex_unlock(&log->mu);
	/* each segment written to, in order, the old ones first: batches go
	 * to a segment until it is retired, so each fd is one run of them */
	for (b = list, last_fd = -1; b && rc == CL_OK; b = b->next) {
		const char *path = cur_path;

		if (b->c.rc != CL_OK || b->fd == last_fd)
			continue;
		last_fd = b->fd;
		for (int i = 0; i < nretired; i++)
			if (retired[i].fd == b->fd)
				path = retired[i].path;
		rc = cl_fs_datasync(b->fd, path);
	}
	for (int i = 0; i < ndirs && rc == CL_OK; i++)
		rc = cl_fs_sync_dir(dirs[i]);
	for (int i = 0; i < nretired; i++)
		close(retired[i].fd);
	dt = cl_time_mono_us() - t0;
	pthread_mutex_lock(&log->mu);
	if (rc != CL_OK) {
		char why[200];

		snprintf(why, sizeof(why), "%s", cl_error_detail());
		/* After a failed fdatasync the kernel may have dropped the
		 * dirty pages: nothing more can be trusted until reopened. */
		log->failed_rc = CL_EFAILED;
		snprintf(log->failed_msg, sizeof(log->failed_msg),
			 "bronze log '%s' stopped after an fdatasync failure; "
			 "restart to recover", log->source);
		cl_log_error("bronze", "event=commit_failed source=%s rc=%s detail=%s",
			     log->source, cl_strerror(rc), CL_LOG_Q(why));
		for (b = list; b; b = b->next)
			if (b->c.rc == CL_OK) {
				b->c.rc = rc;
				snprintf(b->err, sizeof(b->err), "%s", why);
			}
	}
	while ((b = list)) {
		list = b->next;
		b->c.sync_us = dt;
		complete(log, b);
	}
	log->syncing = 0;
	pthread_cond_broadcast(&log->cv_done);
}

static void *syncer_main(void *arg)
{
	struct cl_blog *log = arg;

	pthread_mutex_lock(&log->mu);
	for (;;) {
		while (!log->syncq && !log->sync_closing)
			pthread_cond_wait(&log->cv_sync, &log->mu);
		if (!log->syncq)
			break;
		sync_round(log);
	}
	pthread_mutex_unlock(&log->mu);
	return NULL;
}

static void *flusher_main(void *arg)
{
	struct cl_blog *log = arg;

	pthread_mutex_lock(&log->mu);
	log->seg_owner = pthread_self(); /* the opener hands the segment over */
	pthread_mutex_unlock(&log->mu);
	pthread_mutex_lock(&log->mu);
	for (;;) {
		char failed_msg[sizeof(log->failed_msg)];
		struct batch *b;
		int failed;

		while (!log->sealed && !filling_ready(log) && !log->closing) {
			if (log->filling && log->o.commit_max_wait_us > 0) {
				struct timespec ts;
				int64_t wake = log->filling->first_us +
					       log->o.commit_max_wait_us -
					       cl_time_mono_us();

				clock_gettime(CLOCK_REALTIME, &ts);
				ts.tv_nsec += (long)(wake > 0 ? wake : 0) * 1000;
				ts.tv_sec += ts.tv_nsec / 1000000000;
				ts.tv_nsec %= 1000000000;
				pthread_cond_timedwait(&log->cv_work, &log->mu, &ts);
			} else {
				pthread_cond_wait(&log->cv_work, &log->mu);
			}
		}
		if (!log->sealed && log->filling && filling_ready(log))
			seal_filling(log);
		if (!log->sealed) {
			if (log->closing)
				break;
			continue;
		}
		b = log->sealed;
		log->sealed = b->next;
		if (!log->sealed)
			log->sealed_tail = NULL;
		failed = log->failed_rc;
		if (failed)
			snprintf(failed_msg, sizeof(failed_msg), "%s", log->failed_msg);
		pthread_mutex_unlock(&log->mu);

		memset(&b->c, 0, sizeof(b->c));
		b->err[0] = '\0';
		b->c.batch = b->seq;
		b->c.count = b->count;
		b->c.bytes = b->len;
		b->c.queued_us = b->first_us;
		if (failed) {
			b->c.rc = cl_error_set(failed, "%s", failed_msg);
		} else {
			b->c.rc = write_batch(log, b, &b->c);
			if (b->c.rc == CL_ENOSPC && log->o.reserve_dir &&
			    cl_reserve_take(log->o.reserve_dir)) {
				/* the room kept for this moment: bronze is the
				 * last writer standing */
				cl_log_warn("bronze", "event=reserve_taken source=%s detail=\"the disk "
					    "is full; bronze writes into the room kept for it while "
					    "the serving store and refine wait\"", log->source);
				b->c.rc = write_batch(log, b, &b->c);
			}
			if (b->c.rc != CL_OK)
				cl_log_error("bronze",
					     "event=commit_failed source=%s records=%u rc=%s detail=%s",
					     log->source, b->count, cl_strerror(b->c.rc),
					     CL_LOG_Q(cl_error_detail()));
		}
		if (b->c.rc != CL_OK)
			snprintf(b->err, sizeof(b->err), "%s", cl_error_detail());

		/* to the syncer, in order, failed or not */
		pthread_mutex_lock(&log->mu);
		b->next = NULL;
		if (log->syncq_tail)
			log->syncq_tail->next = b;
		else
			log->syncq = b;
		log->syncq_tail = b;
		pthread_cond_signal(&log->cv_sync);
	}
	pthread_mutex_unlock(&log->mu);
	return NULL;
}

/* Starts the syncer, then the flusher that feeds it: both, or neither
 * (the log then fails to open). */
static int start_threads(struct cl_blog *log)
{
	int rc = cl_thread_create(&log->syncer, "cl-sync", syncer_main, log);

	if (rc)
		return rc;
	log->syncer_started = 1;
	rc = cl_thread_create(&log->flusher, "cl-flush", flusher_main, log);
	if (rc == CL_OK)
		log->flusher_started = 1;
	return rc;
}

/* Stops the flusher (it writes what is sealed), then the syncer once the
 * flusher has handed it every batch. */
static void stop_threads(struct cl_blog *log)
{
	if (log->flusher_started) {
		pthread_mutex_lock(&log->mu);
		log->closing = 1;
		pthread_cond_broadcast(&log->cv_work);
		pthread_cond_broadcast(&log->cv_space);
		pthread_mutex_unlock(&log->mu);
		pthread_join(log->flusher, NULL);
	}
	if (log->syncer_started) {
		pthread_mutex_lock(&log->mu);
		log->sync_closing = 1;
		pthread_cond_signal(&log->cv_sync);
		pthread_mutex_unlock(&log->mu);
		pthread_join(log->syncer, NULL);
	}
}

/* ---- submission ---- */

/* Internal flag: room was already granted for the whole submission. */
#define ADMITTED 0x100

/* Appends one record to the filling batch; the caller holds mu. */
static int enqueue(struct cl_blog *log, const void *data, size_t len,
		   int flags, struct cl_blog_ticket *t)
{
	size_t need = CL_FRAME_HEADER_SIZE + len;
	struct batch *b;
	uint32_t len32 = (uint32_t)len;

	for (;;) {
		if ((flags & ADMITTED) && !log->failed_rc && !log->closing)
			break;
		if (log->failed_rc)
			return cl_error_set(log->failed_rc, "%s", log->failed_msg);
		if (log->closing)
			return cl_error_set(CL_ECLOSED, "bronze log '%s' is closing",
					    log->source);
		if (log->pending_bytes == 0 ||
		    log->pending_bytes + need <= log->o.pending_max_bytes)
			break;
		if (flags & CL_BLOG_NOWAIT)
			return cl_error_set(CL_EBUSY,
					    "bronze log '%s' has %llu bytes waiting for disk; retry later",
					    log->source,
					    (unsigned long long)log->pending_bytes);
		pthread_cond_wait(&log->cv_space, &log->mu);
	}
	b = log->filling;
	if (b && (b->count >= log->o.commit_max_records ||
		  b->len + need > log->o.commit_max_bytes)) {
		seal_filling(log);
		b = NULL;
	}
	if (!b) {
		b = batch_get(log);
		if (!b)
			return cl_error_set(CL_ENOMEM, "no memory for a commit batch");
		b->seq = log->next_seq++;
		assert(b->seq >= atomic_load(&log->done_seq)); /* sequence numbers only grow */
		log->filling = b;
	}
	if (b->len + need > b->cap) {
		size_t nc = b->cap ? b->cap : 64 * 1024;
		uint8_t *nb;

		while (nc < b->len + need)
			nc *= 2;
		nb = cl_realloc(b->buf, nc);
		if (!nb) {
			if (b->count == 0) {
				log->filling = NULL;
				b->next = log->spare;
				log->spare = b;
				log->next_seq--;
			}
			return cl_error_set(CL_ENOMEM, "no memory for a commit batch");
		}
		b->buf = nb;
		b->cap = nc;
	}
	if (b->count == 0) {
		b->first_us = cl_time_mono_us();
		if (!(flags & CL_BLOG_LAZY))
			pthread_cond_signal(&log->cv_work);
	}
	/* The header is written at commit; stash the length for it now. */
	memcpy(b->buf + b->len, &len32, 4);
	memcpy(b->buf + b->len + CL_FRAME_HEADER_SIZE, data, len);
	b->len += need;
	t->batch = b->seq;
	t->index = b->count++;
	log->pending_bytes += need;
	if (b->count >= log->o.commit_max_records)
		pthread_cond_signal(&log->cv_work);
	return CL_OK;
}

int cl_blog_submitv(struct cl_blog *log, const struct iovec *recs, size_t n,
		    int flags, struct cl_blog_ticket *first,
		    struct cl_blog_ticket *last)
{
	uint64_t total = 0;
	int rc = CL_OK;

	for (size_t i = 0; i < n; i++) {
		if (recs[i].iov_len > log->o.record_max_bytes)
			return cl_error_set(CL_ETOOBIG,
					    "record %zu is %zu bytes; the limit is %u",
					    i, recs[i].iov_len, log->o.record_max_bytes);
		total += CL_FRAME_HEADER_SIZE + recs[i].iov_len;
	}
	pthread_mutex_lock(&log->mu);
	if (flags & CL_BLOG_NOWAIT) {
		/* all or nothing: never leave half a submission queued */
		uint64_t pending = log->pending_bytes;

		if (pending > 0 && pending + total > log->o.pending_max_bytes) {
			pthread_mutex_unlock(&log->mu);
			return cl_error_set(CL_EBUSY,
					    "bronze log '%s' has %llu bytes waiting for disk; retry later",
					    log->source, (unsigned long long)pending);
		}
		flags |= ADMITTED;
	}
	for (size_t i = 0; i < n && rc == CL_OK; i++) {
		struct cl_blog_ticket t;

		rc = enqueue(log, recs[i].iov_base, recs[i].iov_len, flags, &t);
		if (rc == CL_OK && i == 0 && first)
			*first = t;
		if (rc == CL_OK && last)
			*last = t;
	}
	pthread_mutex_unlock(&log->mu);
	return rc;
}

int cl_blog_submit(struct cl_blog *log, const void *data, size_t len,
		   int flags, struct cl_blog_ticket *ticket)
{
	struct iovec v = { .iov_base = (void *)data, .iov_len = len };

	return cl_blog_submitv(log, &v, 1, flags, NULL, ticket);
}

/* Result of a completed batch; the caller holds mu. */
static int batch_result(struct cl_blog *log, uint64_t seq, uint64_t *first)
{
	const struct result *r = &log->results[seq % RESULTS];

	if (r->seq != seq) {
		*first = UINT64_MAX; /* too old to remember: it succeeded
				      * unless the log has failed */
		return log->failed_rc ? log->failed_rc : CL_OK;
	}
	*first = r->first_offset;
	return r->rc;
}

void cl_blog_kick(struct cl_blog *log)
{
	pthread_mutex_lock(&log->mu);
	if (log->filling && log->filling->count)
		pthread_cond_signal(&log->cv_work);
	pthread_mutex_unlock(&log->mu);
}

int cl_blog_wait(struct cl_blog *log, const struct cl_blog_ticket *t,
		 uint64_t *offset)
{
	uint64_t first;
	int rc;

	pthread_mutex_lock(&log->mu);
	if (log->filling && log->filling->seq == t->batch)
		pthread_cond_signal(&log->cv_work);
	while (log->done_seq <= t->batch)
		pthread_cond_wait(&log->cv_done, &log->mu);
	rc = batch_result(log, t->batch, &first);
	if (rc != CL_OK)
		cl_error_set(rc, "commit to bronze log '%s' failed: %s", log->source,
			     log->last_err[0] ? log->last_err : cl_strerror(rc));
	pthread_mutex_unlock(&log->mu);
	if (rc == CL_OK && offset)
		*offset = first == UINT64_MAX ? UINT64_MAX : first + t->index;
	return rc;
}

int cl_blog_append(struct cl_blog *log, const void *data, size_t len,
		   uint64_t *offset)
{
	struct iovec v = { .iov_base = (void *)data, .iov_len = len };

	return cl_blog_appendv(log, &v, 1, offset);
}

int cl_blog_appendv(struct cl_blog *log, const struct iovec *recs, size_t n,
		    uint64_t *first_offset)
{
	struct cl_blog_ticket first = { 0, 0 }, last = { 0, 0 };
	uint64_t off = 0, ignored;
	int rc;

	if (n == 0)
		return CL_OK;
	rc = cl_blog_submitv(log, recs, n, 0, &first, &last);
	if (rc)
		return rc;
	rc = cl_blog_wait(log, &last, NULL);
	if (rc)
		return rc;
	pthread_mutex_lock(&log->mu);
	for (uint64_t s = first.batch; s <= last.batch && rc == CL_OK; s++)
		rc = batch_result(log, s, s == first.batch ? &off : &ignored);
	pthread_mutex_unlock(&log->mu);
	if (rc == CL_OK && first_offset)
		*first_offset = off == UINT64_MAX ? UINT64_MAX : off + first.index;
	return rc;
}

int cl_blog_poll_range(struct cl_blog *log, uint64_t first, uint64_t last,
		       int *rc)
{
	uint64_t ignored;
	int done;

	/* the common answers without the mutex: not yet, or done with no
	 * failure since first */
	if (atomic_load(&log->done_seq) <= last)
		return 0;
	if (atomic_load(&log->failed_below) <= first) {
		*rc = CL_OK;
		return 1;
	}
	pthread_mutex_lock(&log->mu);
	done = log->done_seq > last;
	*rc = CL_OK;
	for (uint64_t s = first; done && s <= last && *rc == CL_OK; s++)
		*rc = batch_result(log, s, &ignored);
	if (done && *rc != CL_OK)
		cl_error_set(*rc, "commit to bronze log '%s' failed: %s", log->source,
			     log->last_err[0] ? log->last_err : cl_strerror(*rc));
	pthread_mutex_unlock(&log->mu);
	return done;
}

void cl_blog_set_notify(struct cl_blog *log,
			void (*fn)(void *arg, const struct cl_blog_commit *c),
			void *arg)
{
	pthread_mutex_lock(&log->mu);
	/* never swap it under a call in progress: the old target may be
	 * about to go away */
	while (log->in_notify)
		pthread_cond_wait(&log->cv_done, &log->mu);
	log->notify = fn;
	log->notify_arg = arg;
	pthread_mutex_unlock(&log->mu);
}

void cl_blog_set_written_notify(struct cl_blog *log, void (*fn)(void *arg), void *arg)
{
	pthread_mutex_lock(&log->mu);
	while (log->in_notify)
		pthread_cond_wait(&log->cv_done, &log->mu);
	log->on_written = fn;
	log->on_written_arg = arg;
	pthread_mutex_unlock(&log->mu);
}

uint64_t cl_blog_written_offset(struct cl_blog *log)
{
	return atomic_load(&log->written_offset);
}

uint64_t cl_blog_durable_offset(struct cl_blog *log)
{
	uint64_t v;

	pthread_mutex_lock(&log->mu);
	v = log->durable_offset;
	pthread_mutex_unlock(&log->mu);
	return v;
}

const double cl_blog_commit_le[CL_BLOG_COMMIT_BUCKETS] = {
	0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01,
	0.025, 0.05, 0.1, 0.25, 0.5, 1.0,
};

int cl_blog_health(struct cl_blog *log, char *why, size_t cap)
{
	int rc = CL_OK;

	pthread_mutex_lock(&log->mu);
	if (log->last_failed_rc != CL_OK) {
		rc = log->last_failed_rc;
		snprintf(why, cap, "%s", log->last_err[0] ? log->last_err : cl_strerror(rc));
	}
	pthread_mutex_unlock(&log->mu);
	return rc;
}

void cl_blog_get_stats(struct cl_blog *log, struct cl_blog_stats *st)
{
	pthread_mutex_lock(&log->mu);
	*st = log->stats;
	pthread_mutex_unlock(&log->mu);
}

/* ---- open, recovery, close ---- */

/*
 * Scans the last segment, keeps corrupt regions that have valid frames
 * after them, truncates a torn tail, and opens the segment for appending.
 */
static int recover_last(struct cl_blog *log, const struct cl_segment_info *seg)
{
	struct cl_seg_scan *s;
	struct cl_frame f;
	uint64_t end, records = 0;
	struct stat st;
	int rc, fd;

	fd = open(seg->path, O_RDWR | O_CLOEXEC);
	if (fd < 0 || fstat(fd, &st) != 0)
		return cl_error_set(cl_error_from_errno(errno),
				    "cannot open segment '%s': %s", seg->path,
				    strerror(errno));
	if ((uint64_t)st.st_size < CL_SEG_HEADER_SIZE) {
		/* Creation was cut short before any record: rewrite it. */
		uint8_t hdr[CL_SEG_HEADER_SIZE];

		cl_segment_header_encode(hdr, seg->base, cl_time_now_us());
		rc = cl_fs_pwrite_all(fd, hdr, sizeof(hdr), 0, seg->path);
		if (rc == CL_OK && cl_fs.ftruncate(fd, CL_SEG_HEADER_SIZE) != 0)
			rc = cl_error_set(CL_EIO, "cannot truncate '%s'", seg->path);
		if (rc == CL_OK)
			rc = cl_fs_datasync(fd, seg->path);
		if (rc) {
			close(fd);
			return rc;
		}
		cl_log_warn("bronze", "event=recovered_segment_header source=%s base=%llu",
			    log->source, (unsigned long long)seg->base);
	}
	rc = cl_seg_scan_open(seg->path, seg->base, log->o.record_max_bytes,
			      UINT64_MAX, &s);
	if (rc) {
		close(fd);
		return rc;
	}
	if (!cl_seg_scan_header_ok(s))
		cl_log_error("bronze", "event=corrupt_segment_header source=%s base=%llu",
			     log->source, (unsigned long long)seg->base);
	for (;;) {
		uint64_t skipped;

		rc = cl_seg_scan_next(s, &f);
		if (rc == 1) {
			records++;
			continue;
		}
		if (rc == 0)
			break;
		if (rc != CL_ECORRUPT)
			break;
		if (cl_seg_scan_resync(s, &skipped)) {
			log->stats.corrupt_regions++;
			cl_log_error("bronze",
				     "event=corrupt_region source=%s base=%llu byte=%llu skipped_bytes=%llu",
				     log->source, (unsigned long long)seg->base,
				     (unsigned long long)cl_seg_scan_bad_pos(s),
				     (unsigned long long)skipped);
			continue;
		}
		/* Torn tail: nothing valid follows, cut it off. */
		end = cl_seg_scan_bad_pos(s);
		log->stats.recovered_dropped_bytes = (uint64_t)st.st_size - end;
		if (cl_fs.ftruncate(fd, (off_t)end) != 0 ||
		    cl_fs_datasync(fd, seg->path) != CL_OK) {
			rc = cl_error_set(CL_EIO, "cannot truncate torn tail of '%s': %s",
					  seg->path, strerror(errno));
			break;
		}
		cl_log_warn("bronze",
			    "event=torn_tail_truncated source=%s base=%llu at_byte=%llu dropped_bytes=%llu",
			    log->source, (unsigned long long)seg->base,
			    (unsigned long long)end,
			    (unsigned long long)log->stats.recovered_dropped_bytes);
		rc = 0;
		break;
	}
	if (rc < 0) {
		cl_seg_scan_close(s);
		close(fd);
		return rc;
	}
	end = cl_seg_scan_pos(s);
	if (log->stats.recovered_dropped_bytes)
		end = cl_seg_scan_bad_pos(s);
	log->next_offset = cl_seg_scan_next_offset(s);
	cl_seg_scan_close(s);

	log->seg_fd = fd;
	log->seg_base = seg->base;
	log->seg_size = end;
	log->seg_records = records;
	snprintf(log->seg_path, sizeof(log->seg_path), "%s", seg->path);
	if (day_of_path(seg->path, &log->seg_day) != CL_OK)
		log->seg_day = cl_time_day(cl_time_now_us());
	log->seg_created_us = (int64_t)st.st_mtim.tv_sec * 1000000;
	{
		uint8_t hdr[CL_SEG_HEADER_SIZE];

		if (pread(fd, hdr, sizeof(hdr), 0) == (ssize_t)sizeof(hdr) &&
		    cl_segment_header_check(hdr, seg->base) == CL_OK)
			memcpy(&log->seg_created_us, hdr + 24, 8);
	}
	return CL_OK;
}

/* The offset after the last valid record of a sealed segment, skipping
 * corrupt regions as recovery does. */
static int seg_valid_end(struct cl_blog *log, const struct cl_segment_info *seg, uint64_t *end)
{
	struct cl_seg_scan *s;
	struct cl_frame f;
	int rc = cl_seg_scan_open(seg->path, seg->base, log->o.record_max_bytes, UINT64_MAX, &s);

	if (rc)
		return rc;
	for (;;) {
		uint64_t skipped;

		rc = cl_seg_scan_next(s, &f);
		if (rc == 1)
			continue;
		if (rc == CL_ECORRUPT && cl_seg_scan_resync(s, &skipped))
			continue;
		break;
	}
	*end = cl_seg_scan_next_offset(s);
	cl_seg_scan_close(s);
	return rc < 0 && rc != CL_ECORRUPT ? rc : CL_OK;
}

static int recover(struct cl_blog *log)
{
	struct cl_segment_info *segs;
	size_t n;
	int rc;

	rc = cl_segment_list(log->dir, &segs, &n);
	if (rc)
		return rc;
	/* Two files with one base: a crash between replacing an empty
	 * segment and creating its successor. Keep the newer day's. */
	while (n >= 2 && segs[n - 1].base == segs[n - 2].base) {
		struct stat st;
		size_t drop = strcmp(segs[n - 1].day, segs[n - 2].day) < 0 ? n - 1 : n - 2;

		if (stat(segs[drop].path, &st) == 0 &&
		    (uint64_t)st.st_size > CL_SEG_HEADER_SIZE)
			drop = drop == n - 1 ? n - 2 : n - 1;
		cl_log_warn("bronze", "event=duplicate_segment_removed source=%s base=%llu",
			    log->source, (unsigned long long)segs[drop].base);
		unlink(segs[drop].path);
		cl_free(segs[drop].path);
		if (drop == n - 2)
			segs[n - 2] = segs[n - 1];
		n--;
	}
	/* A record in a new segment is acknowledged only after every record
	 * of the one before it is durable (the syncer completes batches in
	 * order), but the kernel may have written the new segment out
	 * first. So if the segment before the last stops short of the last
	 * one's base (a torn tail), nothing from there on was acknowledged:
	 * the later segment goes, and the torn tail is cut below. */
	while (rc == CL_OK && n >= 2) {
		uint64_t end;

		rc = seg_valid_end(log, &segs[n - 2], &end);
		if (rc != CL_OK || end >= segs[n - 1].base)
			break;
		cl_log_warn("bronze",
			    "event=unacknowledged_segment_removed source=%s base=%llu "
			    "previous_ends_at=%llu",
			    log->source, (unsigned long long)segs[n - 1].base,
			    (unsigned long long)end);
		if (unlink(segs[n - 1].path) != 0 && errno != ENOENT) {
			rc = cl_error_set(CL_EIO, "cannot remove segment '%s': %s",
					  segs[n - 1].path, strerror(errno));
		} else {
			char dir[PATH_MAX];

			parent_dir(dir, sizeof(dir), segs[n - 1].path);
			rc = cl_fs_sync_dir(dir);
		}
		cl_free(segs[n - 1].path);
		n--;
	}
	if (rc == CL_OK && n == 0)
		log->next_offset = 0;
	else if (rc == CL_OK)
		rc = recover_last(log, &segs[n - 1]);
	cl_segment_list_free(segs, n);
	log->durable_offset = log->next_offset;
	atomic_store(&log->written_offset, log->next_offset);
	log->stats.next_offset = log->next_offset;
	return rc;
}

int cl_blog_open(const char *source_dir, const char *source,
		 const struct cl_blog_options *o, struct cl_blog **out)
{
	struct cl_blog *log;
	char lock_path[PATH_MAX];
	int rc;

	*out = NULL;
	if (o->commit_max_records == 0 || o->record_max_bytes == 0 ||
	    o->segment_max_bytes < CL_SEG_HEADER_SIZE + CL_FRAME_HEADER_SIZE)
		return cl_error_set(CL_EINVAL, "invalid bronze log options");
	log = cl_calloc(1, sizeof(*log));
	if (!log)
		return cl_error_set(CL_ENOMEM, "no memory to open a bronze log");
	log->seg_fd = -1;
	log->seg_owner = pthread_self();
	log->lock_fd = -1;
	log->o = *o;
	log->dir = cl_strdup(source_dir);
	log->source = cl_strdup(source);
	pthread_mutex_init(&log->mu, NULL);
	pthread_cond_init(&log->cv_work, NULL);
	pthread_cond_init(&log->cv_done, NULL);
	pthread_cond_init(&log->cv_space, NULL);
	pthread_cond_init(&log->cv_sync, NULL);
	if (!log->dir || !log->source) {
		cl_blog_close(log);
		return cl_error_set(CL_ENOMEM, "no memory to open a bronze log");
	}
	rc = cl_fs_mkdirs(source_dir);
	if (rc) {
		cl_blog_close(log);
		return rc;
	}
	snprintf(lock_path, sizeof(lock_path), "%s/.lock", source_dir);
	log->lock_fd = open(lock_path, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
	if (log->lock_fd < 0) {
		rc = cl_error_set(cl_error_from_errno(errno), "cannot open '%s': %s",
				  lock_path, strerror(errno));
		cl_blog_close(log);
		return rc;
	}
	if (flock(log->lock_fd, LOCK_EX | LOCK_NB) != 0) {
		rc = cl_error_set(CL_ELOCKED,
				  "bronze log '%s' is open in another process (lock %s)",
				  source, lock_path);
		cl_blog_close(log);
		return rc;
	}
	rc = recover(log);
	if (rc) {
		cl_blog_close(log);
		return rc;
	}
	/* said before the flusher owns next_offset */
	cl_log_info("bronze", "event=opened source=%s next_offset=%llu",
		    source, (unsigned long long)log->next_offset);
	rc = start_threads(log);
	if (rc) {
		char msg[256];

		snprintf(msg, sizeof(msg), "bronze source %s: %s", source, cl_error_detail());
		cl_blog_close(log);
		return cl_error_set(rc, "%s", msg);
	}
	*out = log;
	return CL_OK;
}

void cl_blog_close(struct cl_blog *log)
{
	struct batch *b;

	if (!log)
		return;
	stop_threads(log);
	log->seg_owner = pthread_self(); /* the flusher, if any, is gone */
	/* handed to the syncer after its last round: nothing in them is
	 * unsynced, but a new segment's directory entry may be */
	for (int i = 0; i < log->nretired; i++)
		close(log->retired[i].fd);
	for (int i = 0; i < log->ndirsync; i++)
		cl_fs_sync_dir(log->dirsync[i]);
	seg_close(log);
	if (log->lock_fd >= 0)
		close(log->lock_fd); /* releases the flock */
	batch_free(log->filling);
	while ((b = log->sealed)) {
		log->sealed = b->next;
		batch_free(b);
	}
	while ((b = log->spare)) {
		log->spare = b->next;
		batch_free(b);
	}
	pthread_mutex_destroy(&log->mu);
	pthread_cond_destroy(&log->cv_work);
	pthread_cond_destroy(&log->cv_done);
	pthread_cond_destroy(&log->cv_space);
	pthread_cond_destroy(&log->cv_sync);
	cl_free(log->dir);
	cl_free(log->source);
	cl_free(log);
}

void cl_blog_metrics(struct cl_blog *const *logs, const char *const *sources, int n,
		     struct cl_prom *p)
{
	struct cl_blog_stats st;

	cl_prom_head(p, "carelake_bronze_records_total", "counter",
		     "Records made durable in bronze since start.");
	for (int i = 0; i < n; i++) {
		cl_blog_get_stats(logs[i], &st);
		cl_prom_put(p, "carelake_bronze_records_total{source=\"%s\"} %llu\n", sources[i],
			    (unsigned long long)st.records);
	}
	cl_prom_head(p, "carelake_bronze_next_offset", "gauge",
		     "Offset the next bronze record will get.");
	for (int i = 0; i < n; i++) {
		cl_blog_get_stats(logs[i], &st);
		cl_prom_put(p, "carelake_bronze_next_offset{source=\"%s\"} %llu\n", sources[i],
			    (unsigned long long)st.next_offset);
	}
	cl_prom_head(p, "carelake_bronze_commit_seconds", "histogram",
		     "Time to write and fdatasync one commit batch.");
	for (int i = 0; i < n; i++) {
		char labels[96];

		cl_blog_get_stats(logs[i], &st);
		snprintf(labels, sizeof(labels), "source=\"%s\"", sources[i]);
		cl_prom_histogram_samples(p, "carelake_bronze_commit_seconds", labels,
					  cl_blog_commit_le, st.commit_buckets, CL_BLOG_COMMIT_BUCKETS,
					  (double)st.commit_us_sum / 1e6, st.commits);
	}
}
