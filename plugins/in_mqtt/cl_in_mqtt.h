/*
 * in_mqtt: device events from an MQTT broker.
 *
 * Subscribes to a topic filter (default devices/+/messages/events, the
 * IoT-hub convention) with a persistent session, and feeds each message's
 * payload — the same JSON event, array or NDJSON the HTTP endpoint takes —
 * through device-event ingest into bronze. A QoS 1 message is acknowledged
 * (PUBACK) only after every event it carried is durable, in the order the
 * messages came, so a crash at any moment makes the broker deliver again
 * whatever was not yet safe; event ids turn those repeats into duplicates.
 * Reconnects with backoff when the broker goes away.
 */
#ifndef CL_IN_MQTT_H
#define CL_IN_MQTT_H

#include "core/cl_config.h"
#include "ingest/cl_input.h"

#include <stdatomic.h>
#include <stdint.h>

struct cl_mqtt_options {
	char host[128];
	uint16_t port;
	char client_id[CL_CFG_STRING_MAX];
	char topic[256];
	uint16_t keepalive_s;
	int qos;               /* subscription QoS: 0 or 1 */
};

struct cl_mqtt_counters {
	atomic_uint_fast64_t messages;    /* PUBLISH packets received */
	atomic_uint_fast64_t acked;       /* PUBACKs sent */
	atomic_uint_fast64_t bad;         /* payloads that were not events at all */
	atomic_uint_fast64_t reconnects;
	atomic_int connected;
};

struct cl_mqtt_in;

/* The mqtt.* settings. */
struct cl_mqtt_settings {
	char broker[CL_CFG_STRING_MAX];    /* mqtt.broker, "" = off */
	char topic[CL_CFG_STRING_MAX];     /* mqtt.topic */
	char client_id[CL_CFG_STRING_MAX]; /* mqtt.client_id */
	int64_t keepalive_us;              /* mqtt.keepalive */
	uint32_t qos;                      /* mqtt.qos */
};

extern const struct cl_config_section cl_mqtt_section;

/* The input plugin (ingest.inputs names it "mqtt"). */
extern const struct cl_input_plugin cl_in_mqtt;
const struct cl_mqtt_settings *cl_mqtt_settings(const struct cl_config *c);

/* Parses "HOST:PORT" into o. */
int cl_mqtt_parse_broker(const char *spec, struct cl_mqtt_options *o);

/* Starts the subscriber thread (it connects, and keeps reconnecting). */
int cl_mqtt_in_start(const struct cl_mqtt_options *o, struct cl_ingest *ing,
		     struct cl_mqtt_in **out);

/* Tells the subscriber that bronze batch `batch` is committed (called from
 * the flusher thread; cheap). */
void cl_mqtt_in_on_commit(struct cl_mqtt_in *m, uint64_t batch);

/* Disconnects cleanly and stops the thread; NULL is a no-op. */
void cl_mqtt_in_stop(struct cl_mqtt_in *m);

const struct cl_mqtt_counters *cl_mqtt_in_counters(const struct cl_mqtt_in *m);

/* Renders the subscriber's messages, acknowledgements and connection for
 * /metrics. */
struct cl_prom;
void cl_mqtt_in_metrics(const struct cl_mqtt_in *m, struct cl_prom *p);

#endif
