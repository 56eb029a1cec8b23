/*
 * The audit trail's writer: recovery, group commit, the hash chain,
 * signed checkpoints and file rotation. See cl_audit.h for the contract
 * and cl_audit_line.h for the form of a line.
 *
 * Concurrency: `mu` guards the queue (bodies of records not yet taken by
 * the flusher), the tickets, the failures remembered and the counters.
 * Everything about the files and the chain (segment, size, next seq, head
 * hash) belongs to the flusher thread alone, and to the opener before it
 * starts. Appenders encode their record's body (escaping, time) in their
 * own thread; the flusher only numbers, chains and hashes.
 *
 * Several processes may write one trail (serve, and CLI commands beside
 * it): each commit holds the flock of <dir>/.lock and first looks whether
 * the current file grew or a newer one was started by someone else, and
 * if so reads the chain's head from it.
 */
#include "cl_audit.h"
#include "cl_audit_line.h"
#include "auth/cl_keys.h"
#include "core/cl_config.h"
#include "core/cl_error.h"
#include "core/cl_fs.h"
#include "core/cl_log.h"
#include "core/cl_mem.h"
#include "core/cl_time.h"
#include "core/cl_worker.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <pthread.h>
#include <sodium.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#define FAILS 64 /* failed ticket ranges remembered for late pollers */

/* ---- settings ---- */

#define F(field) offsetof(struct cl_audit_settings, field)
#define MiB (1024ll * 1024)
#define GiB (1024ll * 1024 * 1024)
#define SEC 1000000ll
#define DAY (86400ll * SEC)

static const struct cl_config_entry audit_entries[] = {
	{ "enabled", CL_CFG_U32, "1", 0, 1, F(enabled),
	  "1: record accesses to patient data and refusals in the audit trail; 0 only to "
	  "measure what the trail costs (HIPAA requires the record)", NULL },
	{ "retention", CL_CFG_DURATION, "2192d", DAY, 100 * 366 * DAY, F(retention_us),
	  "how long audit records are kept (HIPAA: 6 years); carelake never deletes "
	  "audit files, this only bounds what vacuum of other data may remove", NULL },
	{ "checkpoint_records", CL_CFG_U32, "1000", 1, 10000000, F(checkpoint_records),
	  "a signed checkpoint of the audit chain after this many records", NULL },
	{ "checkpoint_interval", CL_CFG_DURATION, "60s", 10000, DAY, F(checkpoint_interval_us),
	  "a signed checkpoint after this long when records came since the last", NULL },
	{ "segment_max", CL_CFG_SIZE, "64MiB", 1 * MiB, 16 * GiB, F(segment_max_bytes),
	  "an audit file past this size is closed and the next one started", NULL },
	{ "pending_max", CL_CFG_SIZE, "64MiB", 1 * MiB, 16 * GiB, F(pending_max_bytes),
	  "audit records queued for disk before requests must wait (or get 503)", NULL },
};

const struct cl_config_section cl_audit_section = {
	.name = "audit",
	.entries = audit_entries,
	.nentries = sizeof(audit_entries) / sizeof(audit_entries[0]),
	.size = sizeof(struct cl_audit_settings),
};

const struct cl_audit_settings *cl_audit_settings(const struct cl_config *c)
{
	return cl_config_get(c, &cl_audit_section);
}

void cl_audit_options_from(struct cl_audit_options *o, const struct cl_audit_settings *s,
			   const char *keys_dir)
{
	struct cl_audit_settings d;

	if (!s) {
		cl_config_table_defaults(audit_entries, cl_audit_section.nentries, &d);
		s = &d;
	}
	o->keys_dir = keys_dir;
	o->checkpoint_records = s->checkpoint_records;
	o->checkpoint_interval_us = s->checkpoint_interval_us;
	o->segment_max_bytes = s->segment_max_bytes;
	o->pending_max_bytes = s->pending_max_bytes;
}

/* ---- the handle ---- */

struct fail {
	uint64_t lo, hi; /* tickets lo..hi failed with rc */
	int rc;
};

struct cl_audit {
	char *dir;
	char *source;
	struct cl_audit_options o;
	unsigned char pk[crypto_sign_PUBLICKEYBYTES];
	unsigned char sk[crypto_sign_SECRETKEYBYTES];
	int lock_fd;
	int wake_fd;
	struct cl_worker *worker;

	pthread_mutex_t mu;
	pthread_cond_t cv_done;   /* a commit finished */
	pthread_cond_t cv_space;  /* the queue shrank */
	struct cl_audit_buf queue; /* bodies, each after its 4-byte length */
	uint32_t queued;           /* records in queue */
	uint64_t submitted;        /* the last ticket given */
	_Atomic uint64_t done;     /* every ticket up to this has finished */
	struct fail fails[FAILS];
	unsigned nfails;
	int failed_rc;             /* sticky after a failed fdatasync */
	char failed_msg[256];
	int closing;
	struct cl_audit_stats stats;
	void (*notify)(void *, uint64_t, int);
	void *notify_arg;
	int in_notify;

	/* flusher-owned: the chain and the current file */
	struct cl_audit_buf taken, out, cp;
	int seg_fd;
	unsigned seg_no;
	uint64_t seg_size;
	char seg_path[PATH_MAX];
	uint64_t next_seq;
	unsigned char head[CL_AUDIT_HASH_BYTES];
	uint64_t since_cp;         /* own records since the last checkpoint */
	int64_t last_cp_mono;
};

int cl_audit_dir(const char *data_dir, char *out, size_t cap)
{
	if ((size_t)snprintf(out, cap, "%s/audit", data_dir) >= cap)
		return cl_error_set(CL_EINVAL, "the data directory's path is too long");
	return CL_OK;
}

static int seg_path(const struct cl_audit *a, unsigned no, char *out, size_t cap)
{
	if ((size_t)snprintf(out, cap, "%s/audit-%06u.jsonl", a->dir, no) >= cap)
		return cl_error_set(CL_EINVAL, "the audit directory's path is too long");
	return CL_OK;
}

/* The highest segment number in dir, 0 when there is none. */
static int last_segment(const char *dir, unsigned *no)
{
	struct dirent *de;
	DIR *d = opendir(dir);

	*no = 0;
	if (!d)
		return cl_error_set(cl_error_from_errno(errno), "cannot read '%s': %s", dir,
				    strerror(errno));
	while ((de = readdir(d))) {
		unsigned n;
		char tail[8];

		if (sscanf(de->d_name, "audit-%u.%7s", &n, tail) == 2 &&
		    strcmp(tail, "jsonl") == 0 && n > *no)
			*no = n;
	}
	closedir(d);
	return CL_OK;
}

/* ---- the chain's head, read from a file's end ---- */

/*
 * Reads the head of the chain from the end of the file at path (open as
 * fd): drops a torn tail (bytes after the last newline, and trailing lines
 * of zero bytes) when `repair`, then takes the last line that decodes.
 * *found is 0 when the file holds no whole line.
 */
static int read_tail(struct cl_audit *a, int fd, const char *path, int repair,
		     uint64_t *size_io, int *found)
{
	size_t chunk_max = 2 * (size_t)CL_AUDIT_LINE_MAX;
	struct cl_audit_entry e = { 0 };
	uint64_t size = *size_io, off;
	size_t len, end;
	char *buf;
	int rc = CL_OK;

	*found = 0;
	if (size == 0)
		return CL_OK;
	off = size > chunk_max ? size - chunk_max : 0;
	len = (size_t)(size - off);
	buf = cl_malloc(len);
	if (!buf)
		return cl_error_set(CL_ENOMEM, "no memory to read the audit trail's end");
	if (pread(fd, buf, len, (off_t)off) != (ssize_t)len) {
		cl_free(buf);
		return cl_error_set(CL_EIO, "cannot read '%s': %s", path, strerror(errno));
	}
	/* whole lines end in a newline; trailing lines of zeros are the file
	 * system's, never a writer's */
	end = len;
	while (end > 0 && buf[end - 1] != '\n')
		end--;
	for (;;) {
		size_t ls = end ? end - 1 : 0;

		while (ls > 0 && buf[ls - 1] != '\n')
			ls--;
		if (end == 0 || !memchr(buf + ls, '\0', end - 1 - ls))
			break;
		end = ls;
	}
	if (end == 0 && off > 0) {
		cl_free(buf);
		return cl_error_set(CL_ECORRUPT, "the end of '%s' holds no whole line in %zu bytes",
				    path, len);
	}
	if (off + end < size) {
		uint64_t dropped = size - (off + end);

		if (!repair) {
			cl_free(buf);
			return cl_error_set(CL_ECORRUPT, "'%s' ends in a torn line", path);
		}
		if (cl_fs.ftruncate(fd, (off_t)(off + end)) != 0 ||
		    cl_fs_datasync(fd, path) != CL_OK) {
			cl_free(buf);
			return cl_error_set(CL_EIO, "cannot truncate the torn end of '%s': %s", path,
					    strerror(errno));
		}
		a->stats.recovered_dropped_bytes += dropped;
		cl_log_warn("audit", "event=torn_tail_truncated file=%s at_byte=%" PRIu64
			    " dropped_bytes=%" PRIu64, CL_LOG_Q(path), off + end, dropped);
		*size_io = off + end;
	}
	/* the last line that is a whole record gives the head */
	while (end > 0) {
		size_t ls = end - 1;

		while (ls > 0 && buf[ls - 1] != '\n')
			ls--;
		if (ls == 0 && off > 0)
			break;
		rc = cl_audit_line_decode(buf + ls, end - 1 - ls, &e);
		if (rc == CL_OK) {
			rc = cl_audit_unhex(e.hash, a->head, CL_AUDIT_HASH_BYTES);
			a->next_seq = e.seq + 1;
			*found = 1;
			break;
		}
		cl_log_error("audit", "event=bad_record_kept file=%s byte=%" PRIu64 " reason=%s",
			     CL_LOG_Q(path), off + ls, CL_LOG_Q(cl_error_detail()));
		rc = CL_OK;
		end = ls;
	}
	cl_audit_entry_clear(&e);
	cl_free(buf);
	if (rc == CL_OK && !*found && end > 0)
		rc = cl_error_set(CL_ECORRUPT,
				  "no whole audit record at the end of '%s'; run carelake audit verify",
				  path);
	return rc;
}

static void seg_close(struct cl_audit *a)
{
	if (a->seg_fd >= 0)
		close(a->seg_fd);
	a->seg_fd = -1;
}

/*
 * Makes the flusher's view current (with the lock held): the newest file,
 * its size, and the chain head from its end (or from the file before when
 * it is empty, or the start of the chain when there is none).
 */
static int load_head(struct cl_audit *a)
{
	unsigned no;
	struct stat st;
	int rc, found = 0;

	rc = last_segment(a->dir, &no);
	if (rc)
		return rc;
	if (no == 0)
		no = 1;
	if (no != a->seg_no || a->seg_fd < 0) {
		seg_close(a);
		a->seg_no = no;
		rc = seg_path(a, no, a->seg_path, sizeof(a->seg_path));
		if (rc)
			return rc;
		a->seg_fd = open(a->seg_path, O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600);
		if (a->seg_fd < 0)
			return cl_error_set(cl_error_from_errno(errno), "cannot open '%s': %s",
					    a->seg_path, strerror(errno));
	}
	if (fstat(a->seg_fd, &st) != 0)
		return cl_error_set(CL_EIO, "cannot stat '%s': %s", a->seg_path, strerror(errno));
	a->seg_size = (uint64_t)st.st_size;
	rc = read_tail(a, a->seg_fd, a->seg_path, 1, &a->seg_size, &found);
	/* an empty newest file: the head is the end of the one before */
	for (unsigned prev = no - 1; rc == CL_OK && !found && prev >= 1; prev--) {
		char path[PATH_MAX];
		uint64_t size;
		int fd;

		rc = seg_path(a, prev, path, sizeof(path));
		if (rc)
			break;
		fd = open(path, O_RDONLY | O_CLOEXEC);
		if (fd < 0)
			continue;
		size = fstat(fd, &st) == 0 ? (uint64_t)st.st_size : 0;
		rc = read_tail(a, fd, path, 0, &size, &found);
		close(fd);
	}
	if (rc == CL_OK && !found) {
		a->next_seq = 1;
		memset(a->head, 0, sizeof(a->head));
	}
	return rc;
}

/* The seq of the checkpoint in head.json, 0 when there is none. */
static uint64_t head_file_seq(const struct cl_audit *a)
{
	struct cl_audit_entry e = { 0 };
	char path[PATH_MAX], *text = NULL;
	uint64_t seq = 0;
	size_t len = 0;

	snprintf(path, sizeof(path), "%s/head.json", a->dir);
	if (cl_fs_read_file(path, CL_AUDIT_LINE_MAX, &text, &len) != CL_OK)
		return 0;
	if (len > 0 && text[len - 1] == '\n')
		len--;
	if (cl_audit_line_decode(text, len, &e) == CL_OK && e.kind == CL_AUDIT_CHECKPOINT)
		seq = e.seq;
	cl_audit_entry_clear(&e);
	cl_free(text);
	return seq;
}

/*
 * A crash between a checkpoint's fdatasync and the writing of head.json
 * leaves head.json behind the trail: at open (with the lock held), the
 * newest checkpoint at the end of the newest file that is not empty
 * becomes head.json again.
 */
static int repair_head(struct cl_audit *a)
{
	uint64_t have = head_file_seq(a);

	if (a->next_seq <= have + 1)
		return CL_OK;
	for (unsigned no = a->seg_no; no >= 1; no--) {
		size_t chunk_max = 2 * (size_t)CL_AUDIT_LINE_MAX, len, end;
		struct cl_audit_entry e = { 0 };
		char path[PATH_MAX], *buf;
		struct stat st;
		uint64_t off;
		int fd, rc = CL_OK;

		if (seg_path(a, no, path, sizeof(path)) != CL_OK)
			return CL_OK;
		fd = open(path, O_RDONLY | O_CLOEXEC);
		if (fd < 0)
			continue;
		if (fstat(fd, &st) != 0 || st.st_size == 0) {
			close(fd);
			continue;
		}
		off = (uint64_t)st.st_size > chunk_max ? (uint64_t)st.st_size - chunk_max : 0;
		len = (size_t)((uint64_t)st.st_size - off);
		buf = cl_malloc(len);
		if (!buf || pread(fd, buf, len, (off_t)off) != (ssize_t)len) {
			cl_free(buf);
			close(fd);
			return CL_OK; /* verify will say head.json is behind */
		}
		close(fd);
		for (end = len; end > 0;) {
			size_t ls = end - 1;

			while (ls > 0 && buf[ls - 1] != '\n')
				ls--;
			if (ls == 0 && off > 0)
				break;
			if (memmem(buf + ls, end - ls, "\"kind\":\"checkpoint\"", 19) &&
			    cl_audit_line_decode(buf + ls, end - 1 - ls, &e) == CL_OK &&
			    e.kind == CL_AUDIT_CHECKPOINT) {
				if (e.seq > have) {
					char hpath[PATH_MAX];

					snprintf(hpath, sizeof(hpath), "%s/head.json", a->dir);
					rc = cl_fs_write_atomic(hpath, buf + ls, end - ls, 0600);
					if (rc == CL_OK)
						cl_log_warn("audit", "event=head_repaired seq=%" PRIu64, e.seq);
				}
				break;
			}
			end = ls;
		}
		cl_audit_entry_clear(&e);
		cl_free(buf);
		return rc;
	}
	return CL_OK;
}

/* Records a crash left after the last checkpoint: counted as the next
 * checkpoint's (at the interval, or at close, even with nothing new), so
 * they do not stay unsigned until someone records something. */
static void adopt_unsigned_tail(struct cl_audit *a)
{
	uint64_t cp = head_file_seq(a);

	if (a->next_seq > cp + 1)
		a->since_cp = a->next_seq - 1 - cp;
}

/* With the lock held: follows other writers, and starts a new file when the
 * current one is full. */
static int follow(struct cl_audit *a)
{
	char next[PATH_MAX];
	struct stat st;
	int rc;

	if (fstat(a->seg_fd, &st) != 0)
		return cl_error_set(CL_EIO, "cannot stat '%s': %s", a->seg_path, strerror(errno));
	rc = seg_path(a, a->seg_no + 1, next, sizeof(next));
	if (rc)
		return rc;
	if ((uint64_t)st.st_size != a->seg_size || access(next, F_OK) == 0) {
		rc = load_head(a); /* someone else wrote */
		if (rc)
			return rc;
	}
	if (a->seg_size < a->o.segment_max_bytes)
		return CL_OK;
	seg_close(a);
	a->seg_no++;
	rc = seg_path(a, a->seg_no, a->seg_path, sizeof(a->seg_path));
	if (rc == CL_OK)
		rc = cl_fs_open(a->seg_path, O_RDWR | O_CREAT | O_NOFOLLOW, 0600, &a->seg_fd);
	if (rc == CL_OK)
		rc = cl_fs_sync_dir(a->dir);
	if (rc)
		return rc;
	a->seg_size = 0;
	cl_log_info("audit", "event=file_started source=%s file=%u", a->source, a->seg_no);
	return CL_OK;
}

/* Writes the signing key's public half into signing.pub if it is not there. */
static int publish_key(struct cl_audit *a)
{
	char path[PATH_MAX], hex[65], *text = NULL;
	size_t len = 0;
	int rc, fd;

	cl_audit_hex(a->pk, sizeof(a->pk), hex);
	snprintf(path, sizeof(path), "%s/signing.pub", a->dir);
	rc = cl_fs_read_file(path, 1 << 20, &text, &len);
	if (rc == CL_OK) {
		for (char *p = text; p && *p;) {
			if (strncmp(p, hex, 64) == 0 && (p[64] == '\n' || p[64] == '\0')) {
				cl_free(text);
				return CL_OK;
			}
			p = strchr(p, '\n');
			p = p ? p + 1 : NULL;
		}
		cl_free(text);
	} else if (rc != CL_ENOENT) {
		return rc;
	}
	hex[64] = '\n';
	rc = cl_fs_open(path, O_WRONLY | O_CREAT | O_APPEND | O_NOFOLLOW, 0600, &fd);
	if (rc)
		return rc;
	rc = cl_fs_write_all(fd, hex, 65, path);
	if (rc == CL_OK)
		rc = cl_fs_datasync(fd, path);
	close(fd);
	if (rc == CL_OK)
		rc = cl_fs_sync_dir(a->dir);
	if (rc == CL_OK)
		cl_log_info("audit", "event=signing_key_published source=%s", a->source);
	return rc;
}

/* ---- the flusher ---- */

/* Appends a checkpoint covering the chain head to a->out; *at gets where
 * its line starts. */
static int add_checkpoint(struct cl_audit *a, size_t *at)
{
	int rc;

	a->cp.len = 0;
	rc = cl_audit_checkpoint_body(&a->cp, cl_time_now_us(), a->next_seq - 1, a->head, a->sk,
				      a->pk);
	*at = a->out.len;
	if (rc == CL_OK)
		rc = cl_audit_line_encode(&a->out, a->next_seq, a->head, a->cp.p, a->cp.len, a->head);
	a->next_seq++;
	a->since_cp = 0;
	return rc;
}

/*
 * Writes the batch (n bodies in a->taken; a checkpoint after every
 * checkpoint_records records, and at its end when `cp`) as one write and
 * one fdatasync, holding the lock. *cps gets the checkpoints written.
 */
static int commit(struct cl_audit *a, uint32_t n, int cp, uint64_t *bytes, uint32_t *cps)
{
	unsigned char head0[CL_AUDIT_HASH_BYTES];
	uint64_t seq0, since0;
	size_t pos = 0, cp_at = SIZE_MAX;
	int rc;

	*bytes = 0;
	*cps = 0;
	if (flock(a->lock_fd, LOCK_EX) != 0)
		return cl_error_set(CL_EIO, "cannot lock the audit trail: %s", strerror(errno));
	rc = follow(a);
	if (rc)
		goto out;
	seq0 = a->next_seq;
	since0 = a->since_cp;
	memcpy(head0, a->head, sizeof(head0));
	a->out.len = 0;
	for (uint32_t i = 0; i < n && rc == CL_OK; i++) {
		uint32_t len;

		memcpy(&len, a->taken.p + pos, 4);
		rc = cl_audit_line_encode(&a->out, a->next_seq, a->head, a->taken.p + pos + 4, len,
					  a->head);
		pos += 4 + len;
		a->next_seq++;
		if (rc == CL_OK && ++a->since_cp >= a->o.checkpoint_records) {
			rc = add_checkpoint(a, &cp_at);
			(*cps)++;
		}
	}
	if (rc == CL_OK && cp && a->since_cp > 0) {
		rc = add_checkpoint(a, &cp_at);
		(*cps)++;
	}
	if (rc == CL_OK)
		rc = cl_fs_pwrite_all(a->seg_fd, a->out.p, a->out.len, a->seg_size, a->seg_path);
	if (rc != CL_OK) {
		/* nothing of it counts: the file and the chain as before */
		if (cl_fs.ftruncate(a->seg_fd, (off_t)a->seg_size) != 0)
			cl_log_error("audit", "event=truncate_failed file=%s", CL_LOG_Q(a->seg_path));
		a->next_seq = seq0;
		a->since_cp = since0;
		memcpy(a->head, head0, sizeof(head0));
		*cps = 0;
		goto out;
	}
	rc = cl_fs_datasync(a->seg_fd, a->seg_path);
	if (rc != CL_OK) {
		/* what the page cache holds is unknown now: stop, as bronze does */
		pthread_mutex_lock(&a->mu);
		a->failed_rc = rc;
		snprintf(a->failed_msg, sizeof(a->failed_msg), "%s", cl_error_detail());
		pthread_mutex_unlock(&a->mu);
		cl_log_error("audit", "event=stopped source=%s reason=fdatasync_failed detail=%s",
			     a->source, CL_LOG_Q(cl_error_detail()));
		*cps = 0;
		goto out;
	}
	a->seg_size += a->out.len;
	*bytes = a->out.len;
	if (cp_at != SIZE_MAX) {
		char path[PATH_MAX];
		const char *line = a->out.p + cp_at, *end = memchr(line, '\n', a->out.len - cp_at);

		/* the latest signed checkpoint, for verify to find the trail's end */
		snprintf(path, sizeof(path), "%s/head.json", a->dir);
		if (cl_fs_write_atomic(path, line, (size_t)(end - line) + 1, 0600))
			cl_log_error("audit", "event=head_not_written detail=%s",
				     CL_LOG_Q(cl_error_detail()));
		a->last_cp_mono = cl_time_mono_us();
	}
out:
	flock(a->lock_fd, LOCK_UN);
	return rc;
}

static void finish(struct cl_audit *a, uint64_t lo, uint64_t hi, int rc, uint32_t n, uint32_t cps,
		   uint64_t bytes)
{
	void (*fn)(void *, uint64_t, int);
	void *arg;
	uint64_t one = 1;

	pthread_mutex_lock(&a->mu);
	if (rc != CL_OK) {
		struct fail *f = &a->fails[a->nfails++ % FAILS];

		f->lo = lo;
		f->hi = hi;
		f->rc = rc;
		a->stats.failed_commits++;
		snprintf(a->failed_msg, sizeof(a->failed_msg), "%s", cl_error_detail());
	} else {
		a->stats.records += n;
		a->stats.checkpoints += cps;
		a->stats.commits++;
		a->stats.bytes += bytes;
	}
	a->stats.next_seq = a->next_seq;
	if (hi > atomic_load(&a->done))
		atomic_store(&a->done, hi);
	fn = a->notify;
	arg = a->notify_arg;
	if (fn)
		a->in_notify++;
	pthread_cond_broadcast(&a->cv_done);
	pthread_mutex_unlock(&a->mu);
	if (fn) {
		fn(arg, hi, rc);
		pthread_mutex_lock(&a->mu);
		a->in_notify--;
		pthread_cond_broadcast(&a->cv_done);
		pthread_mutex_unlock(&a->mu);
	}
	if (write(a->wake_fd, &one, sizeof(one)) < 0 && errno != EAGAIN)
		cl_log_error("audit", "event=wake_failed errno=%d", errno);
}

static void flusher(struct cl_worker *w, void *arg)
{
	struct cl_audit *a = arg;
	int stopping = 0;

	for (;;) {
		struct cl_audit_buf swap;
		uint64_t lo, hi, bytes = 0;
		int64_t wait_us = -1, since;
		uint32_t n, cps = 0;
		int cp, rc = CL_OK;

		if (a->since_cp > 0) {
			since = cl_time_mono_us() - a->last_cp_mono;
			wait_us = a->o.checkpoint_interval_us > since
					  ? a->o.checkpoint_interval_us - since : 0;
		}
		pthread_mutex_lock(&a->mu);
		n = a->queued;
		pthread_mutex_unlock(&a->mu);
		if (n == 0 && !stopping && wait_us != 0)
			stopping = cl_worker_wait(w, wait_us);
		pthread_mutex_lock(&a->mu);
		swap = a->taken;
		a->taken = a->queue;
		a->queue = swap;
		a->queue.len = 0;
		n = a->queued;
		a->queued = 0;
		hi = a->submitted;
		lo = hi - n + 1;
		if (a->failed_rc)
			rc = a->failed_rc;
		pthread_cond_broadcast(&a->cv_space);
		pthread_mutex_unlock(&a->mu);
		since = cl_time_mono_us() - a->last_cp_mono;
		cp = (a->since_cp + n > 0 && since >= a->o.checkpoint_interval_us) ||
		     (stopping && a->since_cp + n > 0);
		if (n == 0 && !cp) {
			if (stopping)
				break;
			continue;
		}
		if (rc == CL_OK)
			rc = commit(a, n, cp, &bytes, &cps);
		else
			cl_error_set(rc, "the audit trail stopped after a failed fdatasync: %s",
				     a->failed_msg);
		if (n > 0 || rc == CL_OK)
			finish(a, lo, hi, rc, n, cps, bytes);
		if (rc != CL_OK && n == 0) {
			if (stopping)
				break; /* nothing more can come: the last checkpoint failed */
			a->last_cp_mono = cl_time_mono_us(); /* retry a failed checkpoint later */
		}
	}
}

/* ---- appending ---- */

int cl_audit_append(struct cl_audit *a, const struct cl_audit_record *r, int flags,
		    uint64_t *ticket)
{
	struct cl_audit_buf body = { 0 };
	uint32_t len;
	int rc;

	rc = cl_audit_buf_reserve(&body, 512);
	if (rc == CL_OK) {
		body.len = 4;
		rc = cl_audit_body_encode(&body, r, cl_time_now_us());
	}
	if (rc) {
		cl_audit_buf_free(&body);
		return rc;
	}
	len = (uint32_t)(body.len - 4);
	memcpy(body.p, &len, 4);
	pthread_mutex_lock(&a->mu);
	for (;;) {
		if (a->closing) {
			rc = cl_error_set(CL_ECLOSED, "the audit trail is closing");
			break;
		}
		if (a->failed_rc) {
			rc = cl_error_set(CL_EFAILED, "the audit trail stopped after a failed fdatasync: %s",
					  a->failed_msg);
			break;
		}
		if (a->queue.len == 0 || a->queue.len + body.len <= a->o.pending_max_bytes)
			break;
		if (flags & CL_AUDIT_NOWAIT) {
			rc = cl_error_set(CL_EBUSY, "the audit trail has %zu bytes waiting for disk; retry later",
					  a->queue.len);
			break;
		}
		pthread_cond_wait(&a->cv_space, &a->mu);
	}
	if (rc == CL_OK)
		rc = cl_audit_buf_reserve(&a->queue, body.len);
	if (rc == CL_OK) {
		memcpy(a->queue.p + a->queue.len, body.p, body.len);
		a->queue.len += body.len;
		a->queued++;
		*ticket = ++a->submitted;
	}
	pthread_mutex_unlock(&a->mu);
	cl_audit_buf_free(&body);
	if (rc == CL_OK)
		cl_worker_poke(a->worker);
	return rc;
}

/* The result of a finished ticket; the caller holds mu. */
static int ticket_result(struct cl_audit *a, uint64_t ticket)
{
	unsigned n = a->nfails < FAILS ? a->nfails : FAILS;

	for (unsigned i = 0; i < n; i++) {
		const struct fail *f = &a->fails[i];

		if (ticket >= f->lo && ticket <= f->hi)
			return cl_error_set(f->rc, "the audit record could not be made durable: %s",
					    a->failed_msg);
	}
	return CL_OK;
}

int cl_audit_wait(struct cl_audit *a, uint64_t ticket)
{
	int rc;

	pthread_mutex_lock(&a->mu);
	while (atomic_load(&a->done) < ticket)
		pthread_cond_wait(&a->cv_done, &a->mu);
	rc = ticket_result(a, ticket);
	pthread_mutex_unlock(&a->mu);
	return rc;
}

int cl_audit_append_sync(struct cl_audit *a, const struct cl_audit_record *r)
{
	uint64_t ticket;
	int rc = cl_audit_append(a, r, 0, &ticket);

	return rc ? rc : cl_audit_wait(a, ticket);
}

int cl_audit_poll(struct cl_audit *a, uint64_t ticket, int *rc)
{
	if (atomic_load(&a->done) < ticket)
		return 0;
	pthread_mutex_lock(&a->mu);
	*rc = a->nfails ? ticket_result(a, ticket) : CL_OK;
	pthread_mutex_unlock(&a->mu);
	return 1;
}

uint64_t cl_audit_durable(struct cl_audit *a)
{
	return atomic_load(&a->done);
}

int cl_audit_wake_fd(struct cl_audit *a)
{
	return a->wake_fd;
}

void cl_audit_set_notify(struct cl_audit *a, void (*fn)(void *arg, uint64_t durable, int rc),
			 void *arg)
{
	pthread_mutex_lock(&a->mu);
	while (a->in_notify)
		pthread_cond_wait(&a->cv_done, &a->mu);
	a->notify = fn;
	a->notify_arg = arg;
	pthread_mutex_unlock(&a->mu);
}

void cl_audit_get_stats(struct cl_audit *a, struct cl_audit_stats *st)
{
	pthread_mutex_lock(&a->mu);
	*st = a->stats;
	pthread_mutex_unlock(&a->mu);
}

int cl_audit_health(struct cl_audit *a, char *why, size_t cap)
{
	int rc;

	pthread_mutex_lock(&a->mu);
	rc = a->failed_rc;
	if (rc)
		snprintf(why, cap, "%s", a->failed_msg);
	pthread_mutex_unlock(&a->mu);
	return rc;
}

/* ---- open and close ---- */

static int open_keys(struct cl_audit *a)
{
	unsigned char seed[crypto_sign_SEEDBYTES];
	int rc;

	if (sodium_init() < 0)
		return cl_error_set(CL_EIO, "libsodium could not start");
	if (!a->o.keys_dir || !*a->o.keys_dir)
		return cl_error_set(CL_EINVAL, "the audit trail needs a keys directory for its signing key");
	rc = cl_keys_secret(a->o.keys_dir, "audit-signing", seed, sizeof(seed));
	if (rc)
		return rc;
	crypto_sign_seed_keypair(a->pk, a->sk, seed);
	sodium_memzero(seed, sizeof(seed));
	return CL_OK;
}

int cl_audit_open(const char *dir, const char *source, const struct cl_audit_options *o,
		  struct cl_audit **out)
{
	char lock_path[PATH_MAX];
	struct cl_audit *a;
	int rc;

	*out = NULL;
	if (o->checkpoint_records == 0 || o->segment_max_bytes == 0)
		return cl_error_set(CL_EINVAL, "invalid audit trail options");
	a = cl_calloc(1, sizeof(*a));
	if (!a)
		return cl_error_set(CL_ENOMEM, "no memory to open the audit trail");
	a->o = *o;
	a->lock_fd = a->wake_fd = a->seg_fd = -1;
	a->dir = cl_strdup(dir);
	a->source = cl_strdup(source);
	pthread_mutex_init(&a->mu, NULL);
	pthread_cond_init(&a->cv_done, NULL);
	pthread_cond_init(&a->cv_space, NULL);
	a->last_cp_mono = cl_time_mono_us();
	if (!a->dir || !a->source) {
		cl_audit_close(a);
		return cl_error_set(CL_ENOMEM, "no memory to open the audit trail");
	}
	rc = open_keys(a);
	if (rc == CL_OK)
		rc = cl_fs_mkdirs(dir);
	if (rc == CL_OK && (size_t)snprintf(lock_path, sizeof(lock_path), "%s/.lock", dir) >=
				   sizeof(lock_path))
		rc = cl_error_set(CL_EINVAL, "the audit directory's path is too long");
	if (rc == CL_OK)
		rc = cl_fs_open(lock_path, O_RDWR | O_CREAT | O_NOFOLLOW, 0600, &a->lock_fd);
	if (rc == CL_OK) {
		a->wake_fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
		if (a->wake_fd < 0)
			rc = cl_error_set(CL_EIO, "cannot make an eventfd: %s", strerror(errno));
	}
	if (rc == CL_OK) {
		if (flock(a->lock_fd, LOCK_EX) != 0)
			rc = cl_error_set(CL_EIO, "cannot lock '%s': %s", lock_path, strerror(errno));
		if (rc == CL_OK)
			rc = publish_key(a);
		if (rc == CL_OK)
			rc = load_head(a);
		if (rc == CL_OK)
			rc = repair_head(a);
		if (rc == CL_OK)
			adopt_unsigned_tail(a);
		flock(a->lock_fd, LOCK_UN);
	}
	if (rc == CL_OK) {
		a->stats.next_seq = a->next_seq;
		rc = cl_worker_start("audit", flusher, a, &a->worker);
	}
	if (rc) {
		cl_audit_close(a);
		return rc;
	}
	cl_log_debug("audit", "event=opened source=%s next_seq=%" PRIu64, a->source, a->next_seq);
	*out = a;
	return CL_OK;
}

void cl_audit_close(struct cl_audit *a)
{
	if (!a)
		return;
	if (a->worker) {
		pthread_mutex_lock(&a->mu);
		a->closing = 1;
		pthread_cond_broadcast(&a->cv_space);
		pthread_mutex_unlock(&a->mu);
		cl_worker_stop(a->worker); /* drains the queue, writes the last checkpoint */
	}
	seg_close(a);
	if (a->lock_fd >= 0)
		close(a->lock_fd);
	if (a->wake_fd >= 0)
		close(a->wake_fd);
	sodium_memzero(a->sk, sizeof(a->sk));
	cl_audit_buf_free(&a->queue);
	cl_audit_buf_free(&a->taken);
	cl_audit_buf_free(&a->out);
	cl_audit_buf_free(&a->cp);
	pthread_mutex_destroy(&a->mu);
	pthread_cond_destroy(&a->cv_done);
	pthread_cond_destroy(&a->cv_space);
	cl_free(a->dir);
	cl_free(a->source);
	cl_free(a);
}
