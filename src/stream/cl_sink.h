/*
 * The stream processor's way into the serving store: it records what is
 * to be written (vitals, closed windows, NEWS2, alert changes, the webhook
 * outbox, its checkpoint) as operations in a buffer, hands the buffer over
 * at the end of each batch, and goes on. A writer thread applies the
 * buffers in order, as many as are waiting in one transaction, so the
 * checkpoint is always committed together with the rows it accounts for.
 *
 * The processor never waits for SQLite, except when more than
 * `max_pending` bytes wait to be written (backpressure). A failed commit
 * is rolled back and retried with the same operations; nothing is dropped.
 *
 * Only the processor thread records operations and calls cl_sink_flush.
 * Patient and device ids, messages and outbox JSON are copied; the other
 * strings (source, vital, window, rule, severity, risk, consumer) are
 * names from static tables or the caller's options and must outlive the
 * sink.
 */
#ifndef CL_SINK_H
#define CL_SINK_H

#include "stream/cl_agg.h"
#include "stream/cl_window.h"

#include <stddef.h>
#include <stdint.h>

struct cl_blog;
struct cl_store;
struct cl_sink;

#define CL_SINK_LOGS 3

struct cl_sink_stats {
	uint64_t commits, failures;
	uint64_t pending_bytes;
	uint64_t commit_us[12];     /* commits by duration: <= 0.25 ms << i */
	uint64_t commit_us_sum;
	uint64_t rollups_corrected;  /* windows changed after they were final */
	uint64_t rollups_recomputed; /* windows made from the stored values */
	uint64_t full_waits;         /* hand-overs that waited for room in the queue */
	uint64_t full_wait_us;       /* ...and how long, in all */
	uint64_t disk_waits;         /* commits put off for want of disk space */
	int disk_waiting;            /* 1 while they are */
};

/* A window changed after it was final, as JSON (cl_rollup_fix.h), once
 * its transaction committed; on the writer's thread. */
typedef void (*cl_sink_corrected_fn)(void *arg, const char *json, size_t len,
				     const char *patient);

/* Takes the store (the writer's connection) and closes it on stop.
 * logs: the bronze logs the rows come from (NULL for none); a buffer is
 * committed only once each log is durable up to what it was flushed with
 * (the processor reads ahead of durability). on_commit (optional) runs on
 * the writer thread after each commit that wrote to the webhook outbox. */
int cl_sink_start(struct cl_store *store, struct cl_blog *const logs[CL_SINK_LOGS],
		  size_t max_pending, void (*on_commit)(void *arg), void *arg,
		  struct cl_sink **out);

/* A log became more durable (cheap). */
void cl_sink_poke(struct cl_sink *k);

/* Writes what was handed over, then stops. NULL: no-op. */
void cl_sink_stop(struct cl_sink *k);

int cl_sink_vital(struct cl_sink *k, const char *source, uint64_t offset, const char *patient,
		  const char *device, const char *vital, int64_t ts_us, double value);
/* Set before the first operation. want (optional): whether anyone
 * listens now; when not, corrections are only counted. */
void cl_sink_on_corrected(struct cl_sink *k, cl_sink_corrected_fn fn, int (*want)(void *arg),
			  void *arg);

/* A window the live windows closed, with the window's watermark then
 * (stored as cl_rollup_fix_emitted says; spec must outlive the sink). */
int cl_sink_rollup(struct cl_sink *k, const char *patient, const char *vital,
		   const struct cl_window_spec *spec, int64_t start_us, int64_t end_us,
		   const struct cl_agg_summary *a, int64_t watermark);
/* Closed windows late values belong to (cl_window_late_span), to be made
 * from the stored values. */
int cl_sink_rollup_fix(struct cl_sink *k, const char *patient, const char *vital,
		       const struct cl_window_spec *spec, int64_t lo, int64_t hi,
		       int64_t watermark);
int cl_sink_news2(struct cl_sink *k, const char *patient, int64_t ts_us, int score,
		  const char *risk, const int scores[7], int present);
/* An alert opened: start_us is the start of the episode (event time),
 * raised_us when it was confirmed. category: "clinical" or "technical".
 * learned_us: when an alert learned from late data was learned (it is
 * retrospective until cl_sink_alert_live); 0 for a live one. */
int cl_sink_alert_open(struct cl_sink *k, int64_t id, const char *rule, const char *category,
		       const char *patient, const char *device, const char *severity,
		       int64_t start_us, int64_t raised_us, double value, const char *message,
		       int64_t learned_us);
/* An alert opened as learned late turned out to be going on still. */
int cl_sink_alert_live(struct cl_sink *k, int64_t id);
/* An alert held back (reason "artifact", "not_persistent", "suppressed"):
 * what would have raised it, from start_us to end_us, in so many readings,
 * its most extreme value, and a detail for the reviewer. */
int cl_sink_alert_held(struct cl_sink *k, const char *rule, const char *category,
		       const char *patient, const char *device, const char *reason,
		       const char *detail, int64_t start_us, int64_t end_us, int readings,
		       double value);
int cl_sink_alert_close(struct cl_sink *k, int64_t id, int64_t ts_us);
int cl_sink_outbox(struct cl_sink *k, const char *json, size_t len);
/* The windows' watermark, with the checkpoint (cl_store_watermark_set). */
int cl_sink_watermark(struct cl_sink *k, int64_t wm);
int cl_sink_checkpoint(struct cl_sink *k, const char *consumer, uint64_t processed,
		       uint64_t replay_from);

/* Hands the operations recorded so far to the writer (waits while too
 * much is pending); they come from records below need[i] of log i. */
int cl_sink_flush(struct cl_sink *k, const uint64_t need[CL_SINK_LOGS]);

void cl_sink_stats(struct cl_sink *k, struct cl_sink_stats *st);

/* 1 when more than three quarters of max_pending wait for the writer:
 * a little more and the processor waits for it (and its alerts with it). */
int cl_sink_behind(struct cl_sink *k);

#endif
