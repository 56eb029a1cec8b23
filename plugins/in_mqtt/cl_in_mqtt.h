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
 *
 * The level of the topic filter that holds its '+' names the device: an
 * event whose device_id is another device's is rejected (counted, logged
 * without its content, never stored) while the message's other events are
 * taken, so a device the broker lets publish only on its own topic cannot
 * speak for another. The connection itself (TLS, user name and password)
 * is src/mqtt/cl_mqtt_conn.h.
 */
#ifndef CL_IN_MQTT_H
#define CL_IN_MQTT_H

#include "core/cl_config.h"
#include "ingest/cl_input.h"
#include "mqtt/cl_mqtt_config.h"
#include "mqtt/cl_mqtt_conn.h"

#include <stdatomic.h>
#include <stdint.h>

struct cl_mqtt_options {
	struct cl_mqtt_conn_options conn; /* broker, TLS, credentials, client id */
	char topic[CL_CFG_STRING_MAX];    /* the filter subscribed to */
	int qos;                          /* subscription QoS: 0 or 1 */
};

struct cl_mqtt_counters {
	atomic_uint_fast64_t messages;    /* PUBLISH packets received */
	atomic_uint_fast64_t acked;       /* PUBACKs sent */
	atomic_uint_fast64_t bad;         /* payloads that were not events at all */
	atomic_uint_fast64_t wrong_device; /* events naming another device than the topic */
	atomic_uint_fast64_t reconnects;
	atomic_int connected;
};

struct cl_mqtt_in;

/*
 * The subscriber's options from the mqtt.* settings: the connection (see
 * cl_mqtt_conn_options_from_config), a persistent session, and the client
 * id: mqtt.client_id, or else the one kept in <data_dir>/mqtt_client_id,
 * made on first use as carelake-<14 random hex digits> (mode 0600), so a
 * restart resumes the session and no other installation shares it. The
 * topic filter must have one '+' level (the device). The caller wipes o
 * with cl_mqtt_conn_options_clear(&o->conn) once started.
 */
int cl_mqtt_in_options(const struct cl_config *cfg, const char *data_dir,
		       struct cl_mqtt_options *o);

/* The input plugin (ingest.inputs names it "mqtt"; off without
 * mqtt.broker). */
extern const struct cl_input_plugin cl_in_mqtt;

/* Starts the subscriber thread (it connects, and keeps reconnecting);
 * a TLS file that cannot be used is an error here. */
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
