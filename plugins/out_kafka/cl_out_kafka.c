/*
 * out_kafka: the producer. See cl_out_kafka.h.
 *
 * One thread owns the producer and the store connection. It reads outbox
 * entries after the last one read, produces each (up to MAX_IN_FLIGHT
 * unconfirmed), and keeps them in a window in outbox order. librdkafka's
 * delivery reports, served by rd_kafka_poll on this same thread, mark
 * them done; the cursor then moves past the done entries at the front of
 * the window, so it never passes one that is not confirmed. A delivery
 * that failed marks the window to be sent again: once every report of
 * it is in, reading starts over from the cursor.
 */
#include "cl_out_kafka.h"
#include "core/cl_error.h"
#include "core/cl_log.h"
#include "core/cl_mem.h"
#include "core/cl_prom.h"
#include "core/cl_time.h"
#include "core/cl_worker.h"
#include "fhir/cl_fhir_alert.h"
#include "fhir/cl_fhir_rollup.h"
#include "plugins/in_kafka/cl_in_kafka.h"
#include "plugins/in_kafka/cl_kafka_conf.h"
#include "store/cl_store.h"
#include "store/cl_store_outbox.h"

#include <jansson.h>
#include <librdkafka/rdkafka.h>

#include <limits.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define SEC 1000000ll
#define MAX_IN_FLIGHT 256
#define STOP_FLUSH_MS 2000

enum { SLOT_SENT, SLOT_DONE, SLOT_FAILED };

/* An outbox entry produced, in outbox order. */
struct slot {
	int64_t seq;
	int state;
};

enum { LANE_ALERTS, LANE_ROLLUPS, LANES };

struct cl_out_kafka;

/* One outbox published to one topic: the alert outbox (from the cursor
 * "kafka") or the rollup outbox. Owned by the thread. */
struct lane {
	const char *topic;               /* "": off */
	struct slot win[MAX_IN_FLIGHT];  /* produced, in outbox order */
	int head, n;
	int64_t cursor;                  /* confirmed up to here, as stored */
	int64_t read;                    /* the last entry read */
	int rewind;                      /* a delivery failed: send again from the cursor */
	int (*next)(struct cl_store *s, int64_t after, int64_t *seq, char **json);
	int (*commit)(struct cl_store *s, int64_t seq);
	_Atomic uint64_t pending;
};

struct cl_out_kafka {
	struct cl_config cfg;            /* a copy: kafka.* and kafka_out.* */
	char data_dir[PATH_MAX];
	struct cl_worker *worker;
	rd_kafka_t *rk;
	struct cl_store *st;
	int fhir;                        /* kafka_out.format fhir */
	struct lane lane[LANES];
	int64_t pending_at;              /* when the pending gauges were counted */
	_Atomic uint64_t sent, failed, rejected, skipped, in_flight, rollups_sent;
};

/* ---- settings ---- */

#define F(field) offsetof(struct cl_out_kafka_settings, field)

static const struct cl_config_entry out_entries[] = {
	{ "alerts_topic", CL_CFG_STRING, "", 0, 0, F(alerts_topic),
	  "publish every alert opened or closed and every acknowledgement to this topic (with "
	  "kafka.brokers and kafka.*'s security settings), keyed by patient; empty: no Kafka "
	  "out", NULL },
	{ "rollups_topic", CL_CFG_STRING, "", 0, 0, F(rollups_topic),
	  "publish every vitals rollup of kafka_out.rollups_window (per patient and vital) to "
	  "this topic, keyed by patient; empty: none", NULL },
	{ "rollups_window", CL_CFG_STRING, "1m", 0, 0, F(rollups_window),
	  "the window of stream.windows whose rollups kafka_out.rollups_topic gets", NULL },
	{ "format", CL_CFG_CHOICE, "json", 0, 0, F(format),
	  "what a message holds: json (the alert as the webhook gets it, or the rollup, with "
	  "type and event_id) or fhir (a FHIR R4 DetectedIssue for an alert, an Observation "
	  "for a rollup)", "json|fhir" },
	{ "message_timeout", CL_CFG_DURATION, "30s", SEC, 3600 * SEC, F(message_timeout_us),
	  "how long the producer tries to deliver a message before counting it failed and "
	  "sending it again from the outbox", NULL },
};

const struct cl_config_section cl_out_kafka_section = {
	.name = "kafka_out",
	.entries = out_entries,
	.nentries = sizeof(out_entries) / sizeof(out_entries[0]),
	.size = sizeof(struct cl_out_kafka_settings),
};

const struct cl_out_kafka_settings *cl_out_kafka_settings(const struct cl_config *c)
{
	return cl_config_get(c, &cl_out_kafka_section);
}

int cl_out_kafka_wanted(const struct cl_config *c)
{
	return cl_out_kafka_alerts(c) || cl_out_kafka_rollups(c) != NULL;
}

int cl_out_kafka_alerts(const struct cl_config *c)
{
	return cl_kafka_settings(c)->brokers[0] && cl_out_kafka_settings(c)->alerts_topic[0];
}

const char *cl_out_kafka_rollups(const struct cl_config *c)
{
	const struct cl_out_kafka_settings *os = cl_out_kafka_settings(c);

	return cl_kafka_settings(c)->brokers[0] && os->rollups_topic[0] ? os->rollups_window
									 : NULL;
}

/* ---- the windows ---- */

static struct slot *slot_at(struct lane *l, int i)
{
	return &l->win[(l->head + i) % MAX_IN_FLIGHT];
}

static void push(struct lane *l, int64_t seq, int state)
{
	struct slot *s = slot_at(l, l->n++);

	s->seq = seq;
	s->state = state;
}

/* The slot of seq, or NULL (a report of a window given up). */
static struct slot *find(struct lane *l, int64_t seq)
{
	for (int i = 0; i < l->n; i++)
		if (slot_at(l, i)->seq == seq)
			return slot_at(l, i);
	return NULL;
}

/* Moves the cursor past the done entries at the front. */
static void advance(struct cl_out_kafka *k, struct lane *l)
{
	int64_t last = -1;

	while (l->n > 0 && l->win[l->head].state == SLOT_DONE) {
		last = l->win[l->head].seq;
		l->head = (l->head + 1) % MAX_IN_FLIGHT;
		l->n--;
	}
	if (last < 0)
		return;
	if (l->commit(k->st, last) != CL_OK) {
		cl_log_error("kafka_out", "event=cursor_not_moved topic=%s detail=%s",
			     CL_LOG_Q(l->topic), CL_LOG_Q(cl_error_detail()));
		return; /* sent again after a restart: at least once */
	}
	l->cursor = last;
}

/* Every report of the window is in: done ones leave it; after a failure
 * the rest is read again from the cursor. */
static void maybe_rewind(struct cl_out_kafka *k, struct lane *l)
{
	if (!l->rewind)
		return;
	for (int i = 0; i < l->n; i++)
		if (slot_at(l, i)->state == SLOT_SENT)
			return;
	advance(k, l);
	l->head = 0;
	l->n = 0;
	l->read = l->cursor;
	l->rewind = 0;
}

/* ---- delivery reports ---- */

/* Errors a broker will answer the same way every time. */
static int permanent(rd_kafka_resp_err_t e)
{
	switch (e) {
	case RD_KAFKA_RESP_ERR_MSG_SIZE_TOO_LARGE:
	case RD_KAFKA_RESP_ERR_INVALID_MSG:
	case RD_KAFKA_RESP_ERR_INVALID_MSG_SIZE:
	case RD_KAFKA_RESP_ERR_RECORD_LIST_TOO_LARGE:
	case RD_KAFKA_RESP_ERR_INVALID_RECORD:
		return 1;
	default:
		return 0;
	}
}

static void on_delivery(rd_kafka_t *rk, const rd_kafka_message_t *m, void *opaque)
{
	struct cl_out_kafka *k = opaque;
	intptr_t tag = (intptr_t)m->_private;
	struct lane *l = &k->lane[tag & 1];
	int64_t seq = (int64_t)(tag >> 1);
	struct slot *s = find(l, seq);

	(void)rk;
	atomic_fetch_sub(&k->in_flight, 1);
	if (!s || s->state != SLOT_SENT)
		return;
	if (m->err == RD_KAFKA_RESP_ERR_NO_ERROR) {
		s->state = SLOT_DONE;
		atomic_fetch_add(l == &k->lane[LANE_ALERTS] ? &k->sent : &k->rollups_sent, 1);
	} else if (permanent(m->err)) {
		s->state = SLOT_DONE;
		atomic_fetch_add(&k->rejected, 1);
		cl_log_error("kafka_out", "event=rejected topic=%s seq=%lld error=%s",
			     CL_LOG_Q(l->topic), (long long)seq, CL_LOG_Q(rd_kafka_err2str(m->err)));
	} else {
		s->state = SLOT_FAILED;
		l->rewind = 1;
		atomic_fetch_add(&k->failed, 1);
		cl_log_warn("kafka_out", "event=delivery_failed topic=%s seq=%lld error=%s",
			    CL_LOG_Q(l->topic), (long long)seq, CL_LOG_Q(rd_kafka_err2str(m->err)));
	}
}

static void on_log(const rd_kafka_t *rk, int level, const char *fac, const char *buf)
{
	(void)rk;
	cl_kafka_log("kafka_out", level, fac, buf);
}

/* ---- producing ---- */

static int producer_open(struct cl_out_kafka *k)
{
	const struct cl_out_kafka_settings *os = cl_out_kafka_settings(&k->cfg);
	rd_kafka_conf_t *conf = rd_kafka_conf_new();
	char num[32], err[512];
	int rc;

	snprintf(num, sizeof(num), "%lld", (long long)(os->message_timeout_us / 1000));
	rc = cl_kafka_conf_common(conf, cl_kafka_settings(&k->cfg));
	if (rc == CL_OK)
		rc = cl_kafka_conf_set(conf, "enable.idempotence", "true");
	if (rc == CL_OK)
		rc = cl_kafka_conf_set(conf, "acks", "all");
	if (rc == CL_OK)
		rc = cl_kafka_conf_set(conf, "message.timeout.ms", num);
	if (rc == CL_OK)
		rc = cl_kafka_conf_set(conf, "linger.ms", "5");
	if (rc) {
		rd_kafka_conf_destroy(conf);
		return rc;
	}
	rd_kafka_conf_set_opaque(conf, k);
	rd_kafka_conf_set_dr_msg_cb(conf, on_delivery);
	rd_kafka_conf_set_log_cb(conf, on_log);
	k->rk = rd_kafka_new(RD_KAFKA_PRODUCER, conf, err, sizeof(err));
	if (!k->rk) {
		rd_kafka_conf_destroy(conf);
		return cl_error_set(CL_EINVAL, "the Kafka producer could not be made: %s", err);
	}
	return CL_OK;
}

/* The message of one rollup: as render_alert. */
static int render_rollup(struct cl_out_kafka *k, const char *json, char *key, size_t kcap,
			 char *type, size_t tcap, char *event_id, size_t ecap, char **payload)
{
	json_t *o = json_loads(json, 0, NULL), *out;
	int rc = CL_OK;

	*payload = NULL;
	if (!json_is_object(o)) {
		json_decref(o);
		return CL_EINVAL;
	}
	snprintf(key, kcap, "%s", json_string_value(json_object_get(o, "patient_id")) ?: "");
	snprintf(type, tcap, "rollup");
	cl_fhir_rollup_id(o, event_id, ecap);
	if (k->fhir) {
		out = cl_fhir_rollup_observation(o);
	} else {
		out = json_incref(o);
		json_object_set_new(out, "type", json_string(type));
		json_object_set_new(out, "event_id", json_string(event_id));
	}
	if (out)
		*payload = json_dumps(out, JSON_COMPACT);
	if (!*payload)
		rc = out ? cl_error_set(CL_ENOMEM, "no memory for a Kafka message") : CL_EINVAL;
	json_decref(out);
	json_decref(o);
	return rc;
}

/* The message of one alert outbox entry: *key the patient ("" none),
 * *type, *event_id; *payload (free()) the JSON to send. CL_ENOENT: not
 * for Kafka (an access alert); CL_EINVAL: not an alert. */
static int render_alert(struct cl_out_kafka *k, const char *json, char *key, size_t kcap,
			char *type, size_t tcap, char *event_id, size_t ecap, char **payload)
{
	json_t *o = json_loads(json, 0, NULL), *out;
	const char *state, *cat, *patient;
	int rc = CL_OK;

	*payload = NULL;
	if (!json_is_object(o) || !json_is_integer(json_object_get(o, "id"))) {
		json_decref(o);
		return CL_EINVAL;
	}
	cat = json_string_value(json_object_get(o, "category"));
	if (cat && strcmp(cat, "access") == 0) {
		json_decref(o);
		return CL_ENOENT;
	}
	state = json_string_value(json_object_get(o, "state")) ?: "open";
	patient = json_string_value(json_object_get(o, "patient_id")) ?: "";
	snprintf(key, kcap, "%s", patient);
	snprintf(type, tcap, "%s", strcmp(state, "acknowledged") == 0 ? "acknowledgement" : "alert");
	snprintf(event_id, ecap, "alert-%lld-%s",
		 (long long)json_integer_value(json_object_get(o, "id")), state);
	if (k->fhir) {
		out = cl_fhir_alert_issue(o);
	} else {
		out = json_incref(o);
		json_object_set_new(out, "type", json_string(type));
		json_object_set_new(out, "event_id", json_string(event_id));
	}
	if (out)
		*payload = json_dumps(out, JSON_COMPACT);
	if (!*payload)
		rc = cl_error_set(CL_ENOMEM, "no memory for a Kafka message");
	json_decref(out);
	json_decref(o);
	return rc;
}

/* Produces one entry of lane l. CL_OK: in the window; CL_EBUSY:
 * librdkafka's queue is full, try again later (not read). */
static int produce(struct cl_out_kafka *k, struct lane *l, int64_t seq, const char *json)
{
	const char *topic = l->topic;
	char key[256], type[32], event_id[96], *payload = NULL;
	int rc = (l == &k->lane[LANE_ALERTS] ? render_alert : render_rollup)(
		k, json, key, sizeof(key), type, sizeof(type), event_id, sizeof(event_id), &payload);
	intptr_t tag = (intptr_t)((seq << 1) | (l == &k->lane[LANE_ROLLUPS]));
	const char *kp, *format = k->fhir ? "fhir" : "json";
	rd_kafka_resp_err_t e;

	if (rc == CL_ENOENT || rc == CL_EINVAL) {
		if (rc == CL_EINVAL)
			cl_log_error("kafka_out", "event=unreadable topic=%s seq=%lld",
				     CL_LOG_Q(topic), (long long)seq);
		atomic_fetch_add(&k->skipped, 1);
		push(l, seq, SLOT_DONE);
		return CL_OK;
	}
	if (rc != CL_OK)
		return CL_EBUSY;
	kp = key[0] ? key : NULL; /* no patient: no key (librdkafka's macros want plain names) */
	e = rd_kafka_producev(k->rk, RD_KAFKA_V_TOPIC(topic), RD_KAFKA_V_KEY(kp, strlen(key)),
			      RD_KAFKA_V_VALUE(payload, strlen(payload)),
			      RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_FREE),
			      RD_KAFKA_V_HEADER("type", type, -1),
			      RD_KAFKA_V_HEADER("event_id", event_id, -1),
			      RD_KAFKA_V_HEADER("format", format, -1),
			      RD_KAFKA_V_OPAQUE((void *)tag), RD_KAFKA_V_END);
	if (e == RD_KAFKA_RESP_ERR_NO_ERROR) {
		atomic_fetch_add(&k->in_flight, 1);
		push(l, seq, SLOT_SENT);
		return CL_OK;
	}
	free(payload);
	if (e != RD_KAFKA_RESP_ERR_MSG_SIZE_TOO_LARGE) {
		/* a full queue, or a producer in a fatal state (remade by
		 * out_main): not read, tried again */
		if (e != RD_KAFKA_RESP_ERR__QUEUE_FULL)
			cl_log_warn("kafka_out", "event=not_produced topic=%s seq=%lld error=%s",
				    CL_LOG_Q(topic), (long long)seq, CL_LOG_Q(rd_kafka_err2str(e)));
		return CL_EBUSY;
	}
	/* refused before it left: larger than message.max.bytes */
	atomic_fetch_add(&k->rejected, 1);
	cl_log_error("kafka_out", "event=rejected topic=%s seq=%lld error=%s", CL_LOG_Q(topic),
		     (long long)seq, CL_LOG_Q(rd_kafka_err2str(e)));
	push(l, seq, SLOT_DONE);
	return CL_OK;
}

/* Reads and produces what lane l's window has room for. */
static void fill(struct cl_out_kafka *k, struct lane *l)
{
	while (l->topic[0] && !l->rewind && l->n < MAX_IN_FLIGHT) {
		int64_t seq;
		char *json;
		int rc = l->next(k->st, l->read, &seq, &json);

		if (rc == CL_ENOENT)
			break;
		if (rc != CL_OK) {
			cl_log_error("kafka_out", "event=outbox_unreadable topic=%s detail=%s",
				     CL_LOG_Q(l->topic), CL_LOG_Q(cl_error_detail()));
			break;
		}
		rc = produce(k, l, seq, json);
		cl_free(json);
		if (rc != CL_OK)
			break;
		l->read = seq;
	}
}

/* The pending gauges from the store: when force (before the thread
 * waits), else at most every 200 ms (counting a long backlog costs). */
static void update_pending(struct cl_out_kafka *k, int force)
{
	int64_t n, now = cl_time_mono_us();

	if (!force && now - k->pending_at < 200000)
		return;
	k->pending_at = now;
	if (k->lane[LANE_ALERTS].topic[0] &&
	    cl_store_outbox_pending(k->st, k->lane[LANE_ALERTS].cursor, &n) == CL_OK)
		atomic_store(&k->lane[LANE_ALERTS].pending, (uint64_t)n);
	if (k->lane[LANE_ROLLUPS].topic[0] && cl_store_rollup_outbox_pending(k->st, &n) == CL_OK)
		atomic_store(&k->lane[LANE_ROLLUPS].pending, (uint64_t)n);
}

/* The lanes' store operations. */
static int alerts_commit(struct cl_store *s, int64_t seq)
{
	return cl_store_outbox_advance(s, CL_OUT_KAFKA_CURSOR, seq);
}

/* An idempotent producer can fail fatally (the brokers lost track of its
 * sequence, say): what it held is given up, the producer made anew, and
 * every lane starts over from its cursor. */
static void remake_if_fatal(struct cl_out_kafka *k, struct cl_worker *wk)
{
	char why[512];

	if (rd_kafka_fatal_error(k->rk, why, sizeof(why)) == RD_KAFKA_RESP_ERR_NO_ERROR)
		return;
	cl_log_error("kafka_out", "event=producer_failed detail=%s", CL_LOG_Q(why));
	rd_kafka_purge(k->rk, RD_KAFKA_PURGE_F_QUEUE | RD_KAFKA_PURGE_F_INFLIGHT);
	rd_kafka_poll(k->rk, 0);
	rd_kafka_destroy(k->rk);
	k->rk = NULL;
	atomic_store(&k->in_flight, 0);
	for (int i = 0; i < LANES; i++) {
		struct lane *l = &k->lane[i];

		l->head = l->n = l->rewind = 0;
		l->read = l->cursor;
	}
	while (producer_open(k) != CL_OK) {
		cl_log_error("kafka_out", "event=producer_not_made detail=%s",
			     CL_LOG_Q(cl_error_detail()));
		if (cl_worker_wait(wk, 1000000))
			return;
	}
}

static void out_main(struct cl_worker *wk, void *arg)
{
	struct cl_out_kafka *k = arg;

	while (!k->st) {
		if (cl_store_open(k->data_dir, &k->st) != CL_OK ||
		    (k->lane[LANE_ALERTS].topic[0] &&
		     cl_store_outbox_cursor(k->st, CL_OUT_KAFKA_CURSOR,
					    &k->lane[LANE_ALERTS].cursor) != CL_OK)) {
			cl_log_error("kafka_out", "event=outbox_unreadable detail=%s",
				     CL_LOG_Q(cl_error_detail()));
			cl_store_close(k->st);
			k->st = NULL;
			if (cl_worker_wait(wk, 1000000))
				goto out;
		}
	}
	for (int i = 0; i < LANES; i++)
		k->lane[i].read = k->lane[i].cursor;
	cl_log_info("kafka_out", "event=started alerts_topic=%s rollups_topic=%s format=%s "
		    "cursor=%lld", CL_LOG_Q(k->lane[LANE_ALERTS].topic),
		    CL_LOG_Q(k->lane[LANE_ROLLUPS].topic), k->fhir ? "fhir" : "json",
		    (long long)k->lane[LANE_ALERTS].cursor);
	update_pending(k, 1);
	while (!cl_worker_stopping(wk)) {
		int busy = 0;

		for (int i = 0; i < LANES; i++)
			fill(k, &k->lane[i]);
		for (int i = 0; i < LANES; i++)
			busy |= k->lane[i].n > 0;
		rd_kafka_poll(k->rk, busy ? 50 : 0);
		busy = 0;
		for (int i = 0; i < LANES; i++) {
			advance(k, &k->lane[i]);
			maybe_rewind(k, &k->lane[i]);
			busy |= k->lane[i].n > 0;
		}
		update_pending(k, !busy);
		remake_if_fatal(k, wk);
		if (!k->rk)
			goto out;
		if (!busy && cl_worker_wait(wk, 1000000))
			break;
	}
	/* what is in flight gets a little time to be confirmed */
	rd_kafka_flush(k->rk, STOP_FLUSH_MS);
	for (int i = 0; i < LANES; i++)
		advance(k, &k->lane[i]);
	rd_kafka_purge(k->rk, RD_KAFKA_PURGE_F_QUEUE | RD_KAFKA_PURGE_F_INFLIGHT);
	rd_kafka_poll(k->rk, 0);
out:
	if (k->rk)
		rd_kafka_destroy(k->rk);
	cl_store_close(k->st);
	k->rk = NULL;
	k->st = NULL;
}

int cl_out_kafka_start(const struct cl_config *c, const char *data_dir,
		       struct cl_out_kafka **out)
{
	struct cl_out_kafka *k = cl_calloc(1, sizeof(*k));
	int rc;

	if (!k)
		return cl_error_set(CL_ENOMEM, "no memory for Kafka out");
	rc = cl_config_copy(&k->cfg, c);
	if (rc) {
		cl_free(k);
		return rc;
	}
	snprintf(k->data_dir, sizeof(k->data_dir), "%s", data_dir);
	k->fhir = strcmp(cl_out_kafka_settings(c)->format, "fhir") == 0;
	k->lane[LANE_ALERTS].topic = cl_out_kafka_alerts(c)
		? cl_out_kafka_settings(&k->cfg)->alerts_topic : "";
	k->lane[LANE_ALERTS].next = cl_store_outbox_next;
	k->lane[LANE_ALERTS].commit = alerts_commit;
	k->lane[LANE_ROLLUPS].topic = cl_out_kafka_rollups(c)
		? cl_out_kafka_settings(&k->cfg)->rollups_topic : "";
	k->lane[LANE_ROLLUPS].next = cl_store_rollup_outbox_next;
	k->lane[LANE_ROLLUPS].commit = cl_store_rollup_outbox_done;
	/* made here, so that a setting it cannot use stops the start; used
	 * by the thread alone from then on */
	rc = producer_open(k);
	if (rc == CL_OK)
		rc = cl_worker_start("cl-kafka-out", out_main, k, &k->worker);
	if (rc) {
		if (k->rk)
			rd_kafka_destroy(k->rk);
		cl_config_free(&k->cfg);
		cl_free(k);
		return rc;
	}
	*out = k;
	return CL_OK;
}

void cl_out_kafka_poke(struct cl_out_kafka *k)
{
	if (k)
		cl_worker_poke(k->worker);
}

void cl_out_kafka_stop(struct cl_out_kafka *k)
{
	if (!k)
		return;
	cl_worker_stop(k->worker);
	cl_config_free(&k->cfg);
	cl_free(k);
}

void cl_out_kafka_stats(struct cl_out_kafka *k, struct cl_out_kafka_stats *st)
{
	st->sent = atomic_load(&k->sent);
	st->failed = atomic_load(&k->failed);
	st->rejected = atomic_load(&k->rejected);
	st->skipped = atomic_load(&k->skipped);
	st->pending = atomic_load(&k->lane[LANE_ALERTS].pending);
	st->rollups_sent = atomic_load(&k->rollups_sent);
	st->rollups_pending = atomic_load(&k->lane[LANE_ROLLUPS].pending);
	st->in_flight = atomic_load(&k->in_flight);
}

void cl_out_kafka_metrics(struct cl_out_kafka *k, struct cl_prom *p)
{
	struct cl_out_kafka_stats s;

	cl_out_kafka_stats(k, &s);
	cl_prom_counter(p, "carelake_kafka_out_sent_total",
			"Alert and acknowledgement messages the Kafka brokers confirmed.", s.sent);
	cl_prom_counter(p, "carelake_kafka_out_failed_total",
			"Kafka deliveries that failed and are sent again from the outbox.", s.failed);
	cl_prom_counter(p, "carelake_kafka_out_rejected_total",
			"Alert messages the Kafka brokers refused for good, passed over.", s.rejected);
	cl_prom_counter(p, "carelake_kafka_out_skipped_total",
			"Outbox entries not for Kafka (access alerts).", s.skipped);
	cl_prom_gauge(p, "carelake_kafka_out_pending",
		      "Alert changes in the outbox not yet confirmed by the Kafka brokers.",
		      (double)s.pending);
	cl_prom_counter(p, "carelake_kafka_out_rollups_sent_total",
			"Vitals rollups the Kafka brokers confirmed.", s.rollups_sent);
	cl_prom_gauge(p, "carelake_kafka_out_rollups_pending",
		      "Vitals rollups waiting in the rollup outbox for the Kafka brokers.",
		      (double)s.rollups_pending);
	cl_prom_gauge(p, "carelake_kafka_out_in_flight",
		      "Alert messages produced, waiting for the brokers' confirmation.",
		      (double)s.in_flight);
}
