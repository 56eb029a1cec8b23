/*
 * The serving-store writer. See cl_sink.h.
 *
 * Operations are fixed-size headers with the copied strings after them,
 * packed into buffers of at least 1 MiB; a flush appends the current
 * buffer to the writer's queue.
 */
#include "cl_sink.h"
#include "core/cl_error.h"
#include "core/cl_log.h"
#include "core/cl_map.h"
#include "core/cl_mem.h"
#include "core/cl_time.h"
#include "core/cl_worker.h"
#include "bronze/cl_blog.h"
#include "bronze/cl_reserve.h"
#include "store/cl_store.h"
#include "stream/cl_rollup_fix.h"

#include <jansson.h>
#include <pthread.h>
#include <stdlib.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <unistd.h>
#include <string.h>

enum { OP_VITAL, OP_ROLLUP, OP_ROLLUP_FIX, OP_NEWS2, OP_ALERT_OPEN, OP_ALERT_CLOSE,
       OP_ALERT_LIVE, OP_ALERT_HELD, OP_OUTBOX, OP_CHECKPOINT, OP_WATERMARK };

struct op {
	uint32_t size;           /* the whole operation, a multiple of 8 */
	uint32_t type;
	const char *name[3];     /* static names, by type */
	const struct cl_window_spec *spec;  /* rollups */
	int64_t a, b, c;         /* times; the alert id; a watermark */
	uint64_t off, off2;
	double v;
	int32_t n, present;
	uint32_t slen[3];        /* the copied strings that follow, NUL-ended */
	union {
		struct cl_agg_summary sum;
		int scores[7];
	} u;
	char s[];
};

struct buf {
	char *p;
	size_t len, cap;
	uint64_t need[CL_SINK_LOGS]; /* durable offsets its rows depend on */
	int64_t handed_us;
	struct buf *next;
};

struct cl_sink {
	struct cl_store *store;
	struct cl_blog *logs[CL_SINK_LOGS];
	size_t max_pending;
	void (*on_commit)(void *arg);
	void *arg;
	cl_sink_corrected_fn on_corrected;
	int (*want_corrected)(void *arg);
	void *corrected_arg;
	struct cl_rollup_fixes fx;  /* the writer's, for the transaction */
	struct buf *cur;         /* the processor's */
	struct cl_worker *worker;  /* cl-store: poked when work is handed over */
	pthread_mutex_t mu;
	pthread_cond_t space;
	struct buf *head, *tail; /* handed over, not yet committed */
	size_t pending;
	int stop;                /* under mu: submitters stop waiting for space */
	struct cl_sink_stats st;
	char data_dir[4096];     /* the store's, for bronze's reserve */
};

#define BUF_MIN (1u << 20)
#define COMMIT_INTERVAL_US 20000     /* when the store keeps up easily */
#define COMMIT_INTERVAL_MAX_US 250000 /* under load, at most this stale */

/* Room for one operation with strings of the given lengths. */
static struct op *op_new(struct cl_sink *k, uint32_t type, const char *s0, const char *s1,
			 const char *s2, size_t l2)
{
	size_t l0 = s0 ? strlen(s0) : 0, l1 = s1 ? strlen(s1) : 0;
	size_t need = (sizeof(struct op) + l0 + l1 + l2 + 3 + 7) & ~(size_t)7;
	struct buf *b = k->cur;
	struct op *o;
	char *p;

	if (!b) {
		b = cl_calloc(1, sizeof(*b));
		if (!b)
			return NULL;
		k->cur = b;
	}
	if (b->len + need > b->cap) {
		size_t cap = b->cap ? b->cap * 2 : BUF_MIN;
		char *np;

		while (cap < b->len + need)
			cap *= 2;
		np = cl_realloc(b->p, cap);
		if (!np)
			return NULL;
		b->p = np;
		b->cap = cap;
	}
	o = (struct op *)(b->p + b->len);
	memset(o, 0, sizeof(*o));
	o->size = (uint32_t)need;
	o->type = type;
	o->slen[0] = (uint32_t)l0;
	o->slen[1] = (uint32_t)l1;
	o->slen[2] = (uint32_t)l2;
	p = o->s;
	memcpy(p, s0 ? s0 : "", l0 + (s0 ? 1 : 0));
	p[l0] = '\0';
	p += l0 + 1;
	memcpy(p, s1 ? s1 : "", l1);
	p[l1] = '\0';
	p += l1 + 1;
	if (s2)
		memcpy(p, s2, l2);
	p[l2] = '\0';
	b->len += need;
	return o;
}

static const char *str(const struct op *o, int i)
{
	const char *p = o->s;

	for (int j = 0; j < i; j++)
		p += o->slen[j] + 1;
	return p;
}

#define NOMEM() cl_error_set(CL_ENOMEM, "no memory for the serving store's queue")

int cl_sink_vital(struct cl_sink *k, const char *source, uint64_t offset, const char *patient,
		  const char *device, const char *vital, int64_t ts_us, double value)
{
	struct op *o = op_new(k, OP_VITAL, patient, device, NULL, 0);

	if (!o)
		return NOMEM();
	o->name[0] = source;
	o->name[1] = vital;
	o->off = offset;
	o->a = ts_us;
	o->v = value;
	return CL_OK;
}

int cl_sink_rollup(struct cl_sink *k, const char *patient, const char *vital,
		   const struct cl_window_spec *spec, int64_t start_us, int64_t end_us,
		   const struct cl_agg_summary *a, int64_t watermark)
{
	struct op *o = op_new(k, OP_ROLLUP, patient, NULL, NULL, 0);

	if (!o)
		return NOMEM();
	o->name[0] = vital;
	o->spec = spec;
	o->a = start_us;
	o->b = end_us;
	o->c = watermark;
	o->u.sum = *a;
	return CL_OK;
}

int cl_sink_rollup_fix(struct cl_sink *k, const char *patient, const char *vital,
		       const struct cl_window_spec *spec, int64_t lo, int64_t hi,
		       int64_t watermark)
{
	struct op *o = op_new(k, OP_ROLLUP_FIX, patient, NULL, NULL, 0);

	if (!o)
		return NOMEM();
	o->name[0] = vital;
	o->spec = spec;
	o->a = lo;
	o->b = hi;
	o->c = watermark;
	return CL_OK;
}

int cl_sink_news2(struct cl_sink *k, const char *patient, int64_t ts_us, int score,
		  const char *risk, const int scores[7], int present)
{
	struct op *o = op_new(k, OP_NEWS2, patient, NULL, NULL, 0);

	if (!o)
		return NOMEM();
	o->name[0] = risk;
	o->a = ts_us;
	o->n = score;
	o->present = present;
	memcpy(o->u.scores, scores, sizeof(o->u.scores));
	return CL_OK;
}

int cl_sink_alert_open(struct cl_sink *k, int64_t id, const char *rule, const char *category,
		       const char *patient, const char *device, const char *severity,
		       int64_t start_us, int64_t raised_us, double value, const char *message,
		       int64_t learned_us)
{
	struct op *o = op_new(k, OP_ALERT_OPEN, patient, device, message, strlen(message));

	if (!o)
		return NOMEM();
	o->name[0] = rule;
	o->name[1] = severity;
	o->name[2] = category;
	o->b = id;
	o->a = start_us;
	o->off = (uint64_t)raised_us;
	o->v = value;
	o->c = learned_us;
	return CL_OK;
}

int cl_sink_alert_held(struct cl_sink *k, const char *rule, const char *category,
		       const char *patient, const char *device, const char *reason,
		       const char *detail, int64_t start_us, int64_t end_us, int readings,
		       double value)
{
	struct op *o = op_new(k, OP_ALERT_HELD, patient, device, detail, strlen(detail));

	if (!o)
		return NOMEM();
	o->name[0] = rule;
	o->name[1] = reason;
	o->name[2] = category;
	o->a = start_us;
	o->b = end_us;
	o->n = readings;
	o->v = value;
	return CL_OK;
}

int cl_sink_alert_close(struct cl_sink *k, int64_t id, int64_t ts_us)
{
	struct op *o = op_new(k, OP_ALERT_CLOSE, NULL, NULL, NULL, 0);

	if (!o)
		return NOMEM();
	o->b = id;
	o->a = ts_us;
	return CL_OK;
}

int cl_sink_alert_live(struct cl_sink *k, int64_t id)
{
	struct op *o = op_new(k, OP_ALERT_LIVE, NULL, NULL, NULL, 0);

	if (!o)
		return NOMEM();
	o->b = id;
	return CL_OK;
}

int cl_sink_outbox(struct cl_sink *k, const char *json, size_t len)
{
	struct op *o = op_new(k, OP_OUTBOX, NULL, NULL, json, len);

	return o ? CL_OK : NOMEM();
}

int cl_sink_watermark(struct cl_sink *k, int64_t wm)
{
	struct op *o = op_new(k, OP_WATERMARK, NULL, NULL, NULL, 0);

	if (!o)
		return NOMEM();
	o->a = wm;
	return CL_OK;
}

int cl_sink_checkpoint(struct cl_sink *k, const char *consumer, uint64_t processed,
		       uint64_t replay_from)
{
	struct op *o = op_new(k, OP_CHECKPOINT, NULL, NULL, NULL, 0);

	if (!o)
		return NOMEM();
	o->name[0] = consumer;
	o->off = processed;
	o->off2 = replay_from;
	return CL_OK;
}

static int apply_op(struct cl_sink *k, const struct op *o)
{
	struct cl_store *st = k->store;

	switch (o->type) {
	case OP_VITAL:
		return cl_store_put_vital(st, o->name[0], o->off, str(o, 0), str(o, 1), o->name[1],
					  o->a, o->v);
	case OP_ROLLUP:
		return cl_rollup_fix_emitted(st, &k->fx, o->spec, str(o, 0), o->name[0], o->a, o->b,
					     &o->u.sum, o->c);
	case OP_ROLLUP_FIX:
		return cl_rollup_fix_span(st, &k->fx, o->spec, str(o, 0), o->name[0], o->a, o->b,
					  o->c);
	case OP_NEWS2:
		return cl_store_put_news2(st, str(o, 0), o->a, o->n, o->name[0], o->u.scores,
					  o->present);
	case OP_ALERT_OPEN:
		return cl_store_alert_open(st, &(struct cl_store_alert){
			.id = o->b, .rule = o->name[0], .category = o->name[2], .patient = str(o, 0),
			.device = str(o, 1), .severity = o->name[1], .start_us = o->a,
			.raised_us = (int64_t)o->off, .value = o->v, .message = str(o, 2),
			.learned_us = o->c });
	case OP_ALERT_HELD:
		return cl_store_alert_held(st, &(struct cl_store_alert){
			.rule = o->name[0], .category = o->name[2], .patient = str(o, 0),
			.device = str(o, 1), .reason = o->name[1], .start_us = o->a,
			.raised_us = o->b, .readings = o->n, .value = o->v, .message = str(o, 2) });
	case OP_ALERT_CLOSE:
		return cl_store_alert_close(st, o->b, o->a);
	case OP_ALERT_LIVE:
		return cl_store_alert_live(st, o->b);
	case OP_OUTBOX:
		return cl_store_outbox_put(st, str(o, 2), o->slen[2]);
	case OP_CHECKPOINT:
		return cl_store_checkpoint_set(st, o->name[0], o->off, o->off2);
	case OP_WATERMARK:
		return cl_store_watermark_set(st, o->a);
	}
	return cl_error_set(CL_EINVAL, "unknown store operation %u", o->type);
}

/* Writes the buffers from `first` to `last` in one transaction. A
 * patient's NEWS2 is an upsert of its latest state: of several in one
 * transaction only the last is written (the others would be overwritten
 * before anyone could read them). */
static int write_all(struct cl_sink *k, struct buf *first, struct buf *last, int *outbox)
{
	struct cl_map *latest = NULL;
	int rc = cl_store_begin(k->store), begun = rc == CL_OK;

	*outbox = 0;
	cl_rollup_fixes_reset(&k->fx);
	k->fx.wanted = k->on_corrected && (!k->want_corrected || k->want_corrected(k->corrected_arg));
	if (rc == CL_OK && cl_map_create(&latest) != CL_OK)
		latest = NULL; /* no memory: write them all, as correct, only slower */
	for (struct buf *b = first; rc == CL_OK && latest; b = b->next) {
		for (size_t at = 0; at < b->len;) {
			const struct op *o = (const struct op *)(b->p + at);

			if (o->type == OP_NEWS2) {
				void **slot = cl_map_slot(latest, o->s, o->slen[0], 1);

				if (slot)
					*slot = (void *)o;
			}
			at += o->size;
		}
		if (b == last)
			break;
	}
	for (struct buf *b = first; rc == CL_OK; b = b->next) {
		for (size_t at = 0; rc == CL_OK && at < b->len;) {
			const struct op *o = (const struct op *)(b->p + at);

			*outbox |= o->type == OP_OUTBOX;
			if (o->type == OP_NEWS2 && latest) {
				void **slot = cl_map_slot(latest, o->s, o->slen[0], 0);

				if (slot && *slot != o) {
					at += o->size; /* a later one follows */
					continue;
				}
			}
			rc = apply_op(k, o);
			at += o->size;
		}
		if (b == last)
			break;
	}
	cl_map_destroy(latest, NULL);
	if (rc == CL_OK)
		rc = cl_store_commit(k->store);
	/* a BEGIN that failed (the database busy past its timeout) left
	 * nothing to roll back: its error is the one to report */
	if (rc != CL_OK && begun)
		cl_store_rollback(k->store);
	return rc;
}

static void free_buf(struct buf *b)
{
	if (b)
		cl_free(b->p);
	cl_free(b);
}

/* The last buffer from first to last whose records are all durable, or
 * NULL if the first's are not yet. */
static struct buf *durable_prefix(struct cl_sink *k, struct buf *first, struct buf *last)
{
	uint64_t durable[CL_SINK_LOGS];
	struct buf *ok = NULL;

	for (int i = 0; i < CL_SINK_LOGS; i++)
		durable[i] = k->logs[i] ? cl_blog_durable_offset(k->logs[i]) : UINT64_MAX;
	for (struct buf *b = first;; b = b->next) {
		for (int i = 0; i < CL_SINK_LOGS; i++)
			if (b->need[i] > durable[i])
				return ok;
		ok = b;
		if (b == last)
			return ok;
	}
}

/* What the writer takes next: from head to the last buffer whose records
 * are durable (NULL: none yet). */
struct take {
	struct buf *first, *last;
	size_t pending;
};

static void take_peek(struct cl_sink *k, struct take *t)
{
	pthread_mutex_lock(&k->mu);
	t->first = k->head;
	t->pending = k->pending;
	t->last = t->first ? durable_prefix(k, t->first, k->tail) : NULL;
	pthread_mutex_unlock(&k->mu);
}

/*
 * Waits, if the writer should, before writing what t holds: for work, for
 * the commit interval to gather more, or for the records to become
 * durable. `stopping` was read before t, so t holds all that was handed
 * over before the stop. 1: wait done, look again; 0: write t now; -1: stop.
 */
static int writer_wait(struct cl_sink *k, struct cl_worker *w, const struct take *t,
		       int stopping, int64_t interval)
{
	int64_t age;

	if (!t->first) {
		if (stopping)
			return -1;
		cl_worker_wait(w, -1);
		return 1;
	}
	/* gather: one transaction per commit interval rather than one per
	 * batch, so hot pages (indexes, NEWS2 rows, checkpoints) go to the
	 * WAL once, not once per batch. The interval grows with the time
	 * commits take: a busy store writes each page once for more rows,
	 * instead of falling behind */
	age = cl_time_mono_us() - t->first->handed_us;
	if (!stopping && t->pending < k->max_pending / 4 && age < interval) {
		cl_worker_wait(w, interval - age);
		return 1;
	}
	if (t->last)
		return 0;
	/* rows whose records are written but not yet durable: wait for the
	 * fdatasync (poked on each commit; 1 ms at most) */
	if (stopping && age > 2000000) {
		cl_log_error("store", "event=gave_up_at_stop detail=\"records never became "
			     "durable; replayed from bronze at the next start\"");
		return -1;
	}
	cl_worker_sleep(w, 1000);
	return 1;
}

/* After a commit of t that took us: drops its buffers from the queue,
 * counts it; the next commit interval. */
static int64_t committed(struct cl_sink *k, const struct take *t, int64_t us)
{
	size_t bytes = 0;
	int64_t interval = 2 * us;
	int i = 0;

	for (struct buf *b = t->first;; b = b->next) {
		bytes += b->len;
		if (b == t->last)
			break;
	}
	pthread_mutex_lock(&k->mu);
	k->head = t->last->next;
	if (!k->head)
		k->tail = NULL;
	t->last->next = NULL;
	k->pending -= bytes;
	k->st.commits++;
	k->st.commit_us_sum += (uint64_t)us;
	while (i < 11 && us > (250 << i))
		i++;
	k->st.commit_us[i]++;
	pthread_cond_broadcast(&k->space);
	pthread_mutex_unlock(&k->mu);
	for (struct buf *b = t->first; b;) {
		struct buf *next = b->next;

		free_buf(b);
		b = next;
	}
	if (interval < COMMIT_INTERVAL_US)
		interval = COMMIT_INTERVAL_US;
	if (interval > COMMIT_INTERVAL_MAX_US)
		interval = COMMIT_INTERVAL_MAX_US;
	return interval;
}

/* Failed commits in a row, and when the last was logged; after one
 * failed on a full disk, the free space the next attempt waits for. */
struct retry {
	int64_t backoff, logged_mono, disk_logged_mono;
	uint64_t failed_in_row;
	uint64_t disk_need;
};

/*
 * Before a commit: 1 if it may write, else 0 after a pause. It waits
 * while bronze's reserve is taken (cl_reserve.h) and, after a commit
 * failed on a full disk, for twice the space that attempt took, so a
 * store catching up does not fill the disk again and again.
 */
static int disk_room(struct cl_sink *k, struct cl_worker *w, struct retry *r)
{
	int waiting = !cl_reserve_room(k->data_dir, r->disk_need, "store", &r->disk_logged_mono);

	pthread_mutex_lock(&k->mu);
	k->st.disk_waiting = waiting;
	k->st.disk_waits += (uint64_t)waiting;
	pthread_mutex_unlock(&k->mu);
	if (waiting)
		cl_worker_wait(w, 1000000);
	return !waiting;
}

/* A commit failed for want of space: the WAL gives back what the
 * rolled-back transaction took, and the next attempt waits for twice
 * that. */
static void disk_full(struct cl_sink *k, struct retry *r)
{
	uint64_t freed = 0;

	if (cl_store_wal_release(k->store, &freed) != CL_OK)
		cl_log_warn("store", "event=wal_kept detail=%s", CL_LOG_Q(cl_error_detail()));
	if (2 * freed > r->disk_need)
		r->disk_need = 2 * freed;
}

/*
 * After a failed commit: the same operations again after a pause. Bronze
 * keeps the records and the checkpoint has not moved, so nothing is lost
 * even if this never succeeds. 0: retry; -1: give up (stopping).
 */
static int commit_failed(struct cl_sink *k, struct cl_worker *w, struct retry *r)
{
	int64_t until;
	uint64_t failures;

	pthread_mutex_lock(&k->mu);
	failures = ++k->st.failures;
	pthread_mutex_unlock(&k->mu);
	r->backoff = r->backoff ? (r->backoff * 2 > 5000000 ? 5000000 : r->backoff * 2) : 100000;
	/* the first failure, then at most one line a minute while it lasts */
	if (r->failed_in_row++ == 0 || cl_time_mono_us() - r->logged_mono >= 60000000) {
		r->logged_mono = cl_time_mono_us();
		cl_log_error("store", "event=commit_failed attempts=%llu retry_in_ms=%lld "
			     "detail=%s", (unsigned long long)r->failed_in_row,
			     (long long)(r->backoff / 1000), CL_LOG_Q(cl_error_detail()));
	}
	if (cl_worker_stopping(w) && failures > 3) {
		cl_log_error("store", "event=gave_up_at_stop detail=\"replayed from bronze at "
			     "the next start\"");
		return -1;
	}
	/* the whole backoff: new work arriving does not cut it short */
	until = cl_time_mono_us() + r->backoff;
	while (cl_time_mono_us() < until && !cl_worker_wait(w, until - cl_time_mono_us()))
		;
	return 0;
}

/* After a commit: the windows it corrected, counted and handed on. */
static void publish_corrected(struct cl_sink *k)
{
	size_t i;
	json_t *o;

	pthread_mutex_lock(&k->mu);
	k->st.rollups_corrected += k->fx.ncorrected;
	k->st.rollups_recomputed += k->fx.recomputed;
	pthread_mutex_unlock(&k->mu);
	json_array_foreach(k->fx.corrected, i, o) {
		char *text;

		if (!k->on_corrected)
			break;
		text = json_dumps(o, JSON_COMPACT);
		if (text)
			k->on_corrected(k->corrected_arg, text, strlen(text),
					json_string_value(json_object_get(o, "patient_id")));
		free(text);
	}
	cl_rollup_fixes_reset(&k->fx);
}

void cl_sink_on_corrected(struct cl_sink *k, cl_sink_corrected_fn fn, int (*want)(void *arg),
			  void *arg)
{
	k->on_corrected = fn;
	k->want_corrected = want;
	k->corrected_arg = arg;
}

/* The cl-store worker: commits handed-over rows once their records are
 * durable, in transactions of a commit interval each. */
static void sink_main(struct cl_worker *w, void *arg)
{
	struct cl_sink *k = arg;
	int64_t interval = COMMIT_INTERVAL_US;
	struct retry r = { 0 };

	/* behind the alert path: storing can wait a moment, alerts cannot */
	setpriority(PRIO_PROCESS, (id_t)syscall(SYS_gettid), 10);
	for (;;) {
		struct take t;
		int64_t t0;
		int rc, outbox, wait, stopping = cl_worker_stopping(w);

		take_peek(k, &t);
		wait = writer_wait(k, w, &t, stopping, interval);
		if (wait < 0)
			break;
		if (wait)
			continue;
		if (!disk_room(k, w, &r)) {
			if (stopping) {
				cl_log_error("store", "event=gave_up_at_stop detail=\"no room on the "
					     "disk; replayed from bronze at the next start\"");
				break;
			}
			continue;
		}
		t0 = cl_time_mono_us();
		rc = write_all(k, t.first, t.last, &outbox);
		t0 = cl_time_mono_us() - t0;
		if (rc != CL_OK) {
			if (rc == CL_ENOSPC)
				disk_full(k, &r);
			if (commit_failed(k, w, &r) < 0)
				break;
			continue;
		}
		interval = committed(k, &t, t0);
		publish_corrected(k);
		if (r.backoff)
			cl_log_info("store", "event=writes_resumed failed_attempts=%llu",
				    (unsigned long long)r.failed_in_row);
		r.backoff = 0;
		r.failed_in_row = 0;
		r.disk_need = 0;
		if (outbox && k->on_commit)
			k->on_commit(k->arg);
	}
}

int cl_sink_start(struct cl_store *store, struct cl_blog *const logs[CL_SINK_LOGS],
		  size_t max_pending, void (*on_commit)(void *arg), void *arg, struct cl_sink **out)
{
	struct cl_sink *k = cl_calloc(1, sizeof(*k));
	int rc;

	if (!k) {
		cl_store_close(store);
		return NOMEM();
	}
	k->store = store;
	cl_store_data_dir(store, k->data_dir, sizeof(k->data_dir));
	for (int i = 0; i < CL_SINK_LOGS; i++)
		k->logs[i] = logs[i];
	k->max_pending = max_pending ? max_pending : 64u << 20;
	k->on_commit = on_commit;
	k->arg = arg;
	pthread_mutex_init(&k->mu, NULL);
	pthread_cond_init(&k->space, NULL);
	rc = cl_worker_start("cl-store", sink_main, k, &k->worker);
	if (rc) {
		cl_store_close(store);
		pthread_mutex_destroy(&k->mu);
		pthread_cond_destroy(&k->space);
		cl_free(k);
		return rc;
	}
	*out = k;
	return CL_OK;
}

int cl_sink_flush(struct cl_sink *k, const uint64_t need[CL_SINK_LOGS])
{
	struct buf *b = k->cur;

	if (!b || b->len == 0)
		return CL_OK;
	k->cur = NULL;
	for (int i = 0; i < CL_SINK_LOGS; i++)
		b->need[i] = need[i];
	b->handed_us = cl_time_mono_us();
	pthread_mutex_lock(&k->mu);
	if (k->pending > k->max_pending && !k->stop) {
		int64_t t0 = cl_time_mono_us();

		while (k->pending > k->max_pending && !k->stop)
			pthread_cond_wait(&k->space, &k->mu);
		k->st.full_waits++;
		k->st.full_wait_us += (uint64_t)(cl_time_mono_us() - t0);
	}
	if (k->tail)
		k->tail->next = b;
	else
		k->head = b;
	k->tail = b;
	k->pending += b->len;
	pthread_mutex_unlock(&k->mu);
	cl_worker_poke(k->worker);
	return CL_OK;
}

void cl_sink_poke(struct cl_sink *k)
{
	if (k)
		cl_worker_poke(k->worker);
}

void cl_sink_stop(struct cl_sink *k)
{
	if (!k)
		return;
	pthread_mutex_lock(&k->mu);
	k->stop = 1;
	pthread_cond_broadcast(&k->space);
	pthread_mutex_unlock(&k->mu);
	cl_worker_stop(k->worker);
	while (k->head) {
		struct buf *next = k->head->next;

		free_buf(k->head);
		k->head = next;
	}
	free_buf(k->cur);
	cl_rollup_fixes_reset(&k->fx);
	cl_store_close(k->store);
	pthread_mutex_destroy(&k->mu);
	pthread_cond_destroy(&k->space);
	cl_free(k);
}

int cl_sink_behind(struct cl_sink *k)
{
	size_t pending;

	pthread_mutex_lock(&k->mu);
	pending = k->pending;
	pthread_mutex_unlock(&k->mu);
	return pending > k->max_pending / 4 * 3;
}

void cl_sink_stats(struct cl_sink *k, struct cl_sink_stats *st)
{
	pthread_mutex_lock(&k->mu);
	*st = k->st;
	st->pending_bytes = k->pending;
	pthread_mutex_unlock(&k->mu);
}
