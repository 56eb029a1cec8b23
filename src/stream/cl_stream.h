/*
 * The stream processor: follows the bronze log of device events from its
 * checkpoint and keeps the serving store current — every vital value by
 * patient and time, rolled-up windows (1-minute and 1-hour tumbling by
 * default, plus any declared), and each patient's NEWS2 from the latest
 * value of each parameter.
 *
 * Exactly once: rows and the checkpoint are written in one SQLite
 * transaction; the checkpoint also records where to replay from to
 * rebuild the windows still open, and every row is keyed so a replay
 * writes nothing twice. A restart, or a SIGKILL, neither loses nor double
 * counts an event.
 *
 * Alerts: every reading first passes the signal quality checks of
 * cl_quality.h; the rules of cl_rules.h are evaluated, with their
 * persistence in event time, on every clean value, every NEWS2 change,
 * every trend and technical condition and, for device silence, on the
 * stream's event-time clock; an alert is a row of the serving store,
 * opened and closed in the same transactions, and what is held back
 * (artifacts, runs too short, suppressed repeats) is recorded with why.
 * Replayed records rebuild baselines but raise nothing.
 *
 * Watermark: the latest event time seen minus `stream.lateness`; once the
 * stream has been quiet for `stream.idle_flush`, wall-clock time minus the
 * lateness, so windows close when devices go silent.
 */
#ifndef CL_STREAM_H
#define CL_STREAM_H

#include "bronze/cl_blog.h"
#include "core/cl_config.h"
#include "stream/cl_quality.h"
#include "stream/cl_rules.h"
#include "stream/cl_window.h"

#include <stdatomic.h>
#include <stdint.h>

#define CL_STREAM_MAX_WINDOWS 8

struct cl_stream_options {
	int64_t lateness_us;
	int64_t idle_flush_us;
	/* an alert confirmed by readings older than this when they arrive is
	 * learned late: paged only if still going once the data catch up,
	 * else retrospective; 0: never */
	int64_t retrospective_after_us;
	uint32_t batch_records;        /* records per transaction */
	uint32_t bulk_lag;             /* bulk bodies wait while more records than
	                                  this are not yet applied; 0: never */
	struct cl_window_spec windows[CL_STREAM_MAX_WINDOWS];
	int nwindows;
	uint32_t record_max_bytes;
	struct cl_rule rules[CL_RULES_MAX];
	int nrules;
	/* signal quality checks, by vital (cl_quality.h) */
	struct cl_quality_spec quality[CL_VITAL_COUNT];
	/* who technical alerts go to when the reference names no one */
	char device_owner[CL_CFG_STRING_MAX];
	/* Live outputs (optional): every alert opened or closed, the moment
	 * it is decided (its row is committed once its record is durable), and
	 * every vital value applied (only while want_vitals says someone
	 * listens). JSON objects, one per call. */
	void (*on_alert)(void *arg, const char *json, size_t len, const char *patient);
	/* on_alert only once the records the alert was decided on are
	 * durable, rather than as soon as they are written */
	int live_after_durable;
	void (*on_vital)(void *arg, const char *json, size_t len, const char *patient);
	/* and each patient's NEWS2 when its score, band or number of
	 * parameters changes (under want_vitals too) */
	void (*on_news2)(void *arg, const char *json, size_t len, const char *patient);
	int (*want_vitals)(void *arg);
	/* a window changed by late values after it was final (JSON: the
	 * window with its status and revision), once stored, while
	 * want_vitals says someone listens; called on the serving-store
	 * writer's thread */
	void (*on_rollup_corrected)(void *arg, const char *json, size_t len, const char *patient);
	/* outbox: also write each alert change to the store's webhook outbox
	 * (with the alert, in one transaction); on_outbox runs after each
	 * commit that did. */
	int outbox;
	void (*on_outbox)(void *arg);
	/* rollup_window: the window (by name, "1m") whose new rollups also go
	 * to the store's rollup outbox, for Kafka out; "" none */
	char rollup_window[32];
	void *hook_arg;
	/* Reference data: a JSON object of patient id -> {"ward", "bed",
	 * "attending"}; alerts and live vitals carry them. "" for none. */
	char reference_path[4096];
};

struct cl_stream_counters {
	atomic_uint_fast64_t events;      /* vital values processed */
	atomic_uint_fast64_t invalid;     /* records that are not valid events */
	/* bronze offset processed up to, per log (vitals, fhir, vitals-backlog) */
	atomic_uint_fast64_t processed[CL_WINDOW_SOURCES];
	atomic_uint_fast64_t windows_open;
	atomic_uint_fast64_t late;
	atomic_uint_fast64_t rollups;     /* windows written */
	atomic_uint_fast64_t raised[CL_RULES_MAX];   /* alerts raised, by rule */
	atomic_int_fast64_t open[CL_RULES_MAX];      /* alerts open now, by rule */
	atomic_uint_fast64_t retrospective[CL_RULES_MAX]; /* learned after they ended */
	atomic_uint_fast64_t quality[CL_QR_COUNT];   /* readings by verdict */
	atomic_uint_fast64_t held[3];     /* alerts held back: artifact, not
					   * persistent, suppressed */
	atomic_int stopped;               /* 1: stopped on an error (see the log) */
};

struct cl_stream;

/*
 * Parses a window list: NAME=KIND:SIZE[/HOP] separated by commas, KIND
 * one of tumbling, hopping (SIZE/HOP), sliding, session (SIZE is the gap):
 * "1m=tumbling:1m, 1h=tumbling:1h, 10m-hop=hopping:10m/1m".
 */
int cl_stream_parse_windows(const char *text, struct cl_stream_options *o);

/* Defaults: lateness 30 s, idle flush 5 s, windows 1m and 1h tumbling. */
void cl_stream_options_default(struct cl_stream_options *o);

/* The stream.* settings (cl_stream_config.c). */
struct cl_stream_settings {
	char windows[CL_CFG_STRING_MAX];   /* stream.windows */
	int64_t lateness_us;               /* stream.lateness */
	int64_t idle_flush_us;             /* stream.idle_flush */
	int64_t retrospective_after_us;    /* stream.retrospective_after */
	uint32_t batch_records;            /* stream.batch_records */
	uint32_t bulk_lag;                 /* stream.bulk_lag */
	char reference[CL_CFG_STRING_MAX]; /* stream.reference */
	char device_owner[CL_CFG_STRING_MAX]; /* stream.device_owner */
	char live_alerts[CL_CFG_STRING_MAX];  /* stream.live_alerts */
};

extern const struct cl_config_section cl_stream_section;
const struct cl_stream_settings *cl_stream_settings(const struct cl_config *c);

/* The options a configuration gives: its stream.* settings, its alert
 * rules (checked), bronze.record_max_bytes; the live hooks are left
 * unset. 0, or the error naming the setting. */
int cl_stream_options_from_config(struct cl_stream_options *o, const struct cl_config *c);

/* Follows the vitals log (device events) and, if not NULL, the fhir log
 * (Observations: each vital value they carry is applied like an event)
 * and the backlog log (device events that arrived long after their time,
 * source vitals-backlog): applied in turns with the others, a turn ending
 * as soon as the others have something new, so that a backlog never holds
 * up a live reading. */
int cl_stream_start(const char *data_dir, struct cl_blog *vitals, struct cl_blog *fhir,
		    struct cl_blog *backlog,
		    const struct cl_stream_options *o, struct cl_stream **out);

/* New records are written (called from the bronze flusher; cheap): the
 * processor reads them at once, ahead of their fdatasync. */
void cl_stream_poke(struct cl_stream *s);

/*
 * Rebuilding another node's share (several nodes in one Kafka group, a
 * partition taken over): one device-event record (a JSON object or an
 * array of them, as the partition holds it), applied before any record
 * read after this call as a replayed one is, but further: windows, NEWS2
 * inputs, baselines, trends and every rule's run move on; what a rule
 * would raise was raised by the node that held the partition, and is held
 * open here as adopted (CL_RULE_ADOPTED: no row, not published, not
 * counted as open) until it clears, when its row is written here as that
 * node opened it, closed. No vitals row, no alert, no held-back record is
 * written, nothing goes to bronze. Thread-safe; the record is copied.
 */
int cl_stream_rebuild(struct cl_stream *s, const void *rec, size_t len);

/* Waits until every record given to cl_stream_rebuild is applied: 0,
 * CL_EBUSY after timeout_us, CL_ECLOSED if the processor stopped. */
int cl_stream_rebuild_wait(struct cl_stream *s, int64_t timeout_us);

/* Raises an alert that did not come from the vitals (a pipeline that
 * failed): stored, published and sent to the webhook like the others.
 * subject goes where a device id would. rule: "pipeline_failed";
 * severity: warning, urgent, critical or emergency. Thread-safe. */
void cl_stream_raise(struct cl_stream *s, const char *rule, const char *severity,
		     const char *subject, const char *message);

/* New records are durable: rows that depend on them may be committed. */
void cl_stream_durable(struct cl_stream *s);

/* Processes what is durable, writes a last checkpoint, stops. */
void cl_stream_stop(struct cl_stream *s);

struct sqlite3;
/* The bronze logs the processor follows: the name of the i-th, or NULL
 * past the last. */
const char *cl_stream_log(size_t i);

/* How far the processor has applied `log` (its checkpoint in carelake.db,
 * read through db, any connection): records below it are applied. */
uint64_t cl_stream_position(struct sqlite3 *db, const char *log);

const struct cl_stream_counters *cl_stream_counters(const struct cl_stream *s);

/* The serving store's writer: commits, failures, their durations. */
struct cl_sink_stats;
void cl_stream_store_stats(struct cl_stream *s, struct cl_sink_stats *st);

/* 1 when records arrive faster than they are taken in: the processor is
 * more than stream.bulk_lag records behind what bronze has written to the
 * live logs (vitals, fhir; not the backlog lane), or the serving store's
 * writer is so far behind that the processor will soon wait for it. Bulk
 * senders are asked to wait instead, so that live readings are not queued
 * behind their bodies. */
int cl_stream_behind(struct cl_stream *s);

/* Renders the stream's part of /metrics: values applied, late events,
 * windows, lag, alerts by rule, and the serving-store writer's commits. */
struct cl_prom;
void cl_stream_metrics(struct cl_stream *s, struct cl_prom *p);

#endif
