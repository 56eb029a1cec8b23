/*
 * out_kafka: alerts and their acknowledgements published to a topic of a
 * Kafka-protocol broker (Apache Kafka, Azure Event Hubs, Redpanda), for
 * downstream systems (an EMR interface engine, a paging system).
 *
 * It is a consumer of the alert outbox (cl_store_outbox.h) with its own
 * cursor, "kafka", beside the webhook's: it reads the alert changes in
 * order and produces each to kafka_out.alerts_topic through an idempotent
 * librdkafka producer (enable.idempotence=true, acks=all), keyed by the
 * patient id, with a `type` header (alert or acknowledgement) and a
 * stable `event_id` (alert-<id>-<state>) in the header and the payload.
 * The payload is the alert's JSON with `type` and `event_id` added
 * (kafka_out.format json) or a FHIR DetectedIssue (fhir,
 * cl_fhir_alert.h).
 *
 * Delivery is confirmed before it counts: the cursor moves past an entry
 * only when librdkafka's delivery report says the brokers have it (every
 * earlier entry too). A delivery that fails (the brokers unreachable for
 * kafka_out.message_timeout) is counted and sent again from the cursor;
 * a kill loses nothing, and what was unconfirmed is sent again at the
 * next start: at least once, under the same event_id. A message the
 * brokers refuse for good (too large, an invalid record) is logged,
 * counted as rejected and passed over, never retried forever. Access
 * alerts (break-glass, for compliance) are not published.
 *
 * With kafka_out.rollups_topic it also publishes the vitals rollups of
 * kafka_out.rollups_window (per minute by default) from the store's
 * rollup outbox, in the same way: keyed by patient, `type` rollup, an
 * event_id that is a hash of patient, vital, window and start, as JSON
 * or a FHIR Observation (cl_fhir_rollup.h); an entry leaves that outbox
 * once confirmed.
 *
 * The brokers and their security settings are kafka.*'s, as the Kafka
 * inputs use them (cl_kafka_conf.h).
 */
#ifndef CL_OUT_KAFKA_H
#define CL_OUT_KAFKA_H

#include "core/cl_config.h"

#include <stdint.h>

/* Its cursor in the alert outbox. */
#define CL_OUT_KAFKA_CURSOR "kafka"

/* The kafka_out.* settings. */
struct cl_out_kafka_settings {
	char alerts_topic[CL_CFG_STRING_MAX]; /* "" = off */
	char rollups_topic[CL_CFG_STRING_MAX]; /* "" = off */
	char rollups_window[CL_CFG_STRING_MAX]; /* a window of stream.windows */
	char format[CL_CFG_STRING_MAX];       /* json or fhir */
	int64_t message_timeout_us;           /* message.timeout.ms */
};

extern const struct cl_config_section cl_out_kafka_section;
const struct cl_out_kafka_settings *cl_out_kafka_settings(const struct cl_config *c);

/* 1 when c asks for it: kafka.brokers and kafka_out.alerts_topic or
 * kafka_out.rollups_topic set. */
int cl_out_kafka_wanted(const struct cl_config *c);

/* 1 when alerts are published (the alert outbox needs its cursor). */
int cl_out_kafka_alerts(const struct cl_config *c);

/* The window whose rollups are published, or NULL for none. */
const char *cl_out_kafka_rollups(const struct cl_config *c);

struct cl_out_kafka;

/* Starts publishing the outbox of data_dir as c says (its producer is
 * made on its thread; a broker that cannot be reached is retried). */
int cl_out_kafka_start(const struct cl_config *c, const char *data_dir,
		       struct cl_out_kafka **out);

/* New entries are in the outbox (cheap; NULL: no-op). */
void cl_out_kafka_poke(struct cl_out_kafka *k);

/* Waits a little for the confirmations of what is in flight, moves the
 * cursor past those, and stops; the rest goes at the next start. NULL:
 * no-op. */
void cl_out_kafka_stop(struct cl_out_kafka *k);

struct cl_out_kafka_stats {
	uint64_t sent;      /* confirmed by the brokers */
	uint64_t failed;    /* deliveries that failed, to be sent again */
	uint64_t rejected;  /* refused for good, passed over */
	uint64_t skipped;   /* not for Kafka (access alerts) */
	uint64_t pending;   /* in the outbox past the cursor: not yet confirmed */
	uint64_t in_flight; /* produced, waiting for the report */
	uint64_t rollups_sent;    /* rollups confirmed */
	uint64_t rollups_pending; /* rollups in the rollup outbox */
};

void cl_out_kafka_stats(struct cl_out_kafka *k, struct cl_out_kafka_stats *st);

/* Renders its counters for /metrics. */
struct cl_prom;
void cl_out_kafka_metrics(struct cl_out_kafka *k, struct cl_prom *p);

#endif
