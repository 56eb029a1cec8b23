/*
 * The subset of MQTT 3.1.1 (OASIS standard) a subscribing client needs:
 * encoding CONNECT, SUBSCRIBE, PUBACK, PINGREQ and DISCONNECT, and a
 * strict, incremental decoder for what a broker sends (CONNACK, SUBACK,
 * PUBLISH, PINGRESP, and PUBACK/UNSUBACK which are tolerated).
 *
 * Hand-written because the one C client library in Debian, libmosquitto,
 * sends PUBACK for a QoS 1 message before handing it to the application,
 * so it cannot acknowledge only after the message is durable.
 */
#ifndef CL_MQTT_PROTO_H
#define CL_MQTT_PROTO_H

#include <stddef.h>
#include <stdint.h>

enum cl_mqtt_type {
	CL_MQTT_CONNECT = 1,
	CL_MQTT_CONNACK = 2,
	CL_MQTT_PUBLISH = 3,
	CL_MQTT_PUBACK = 4,
	CL_MQTT_SUBSCRIBE = 8,
	CL_MQTT_SUBACK = 9,
	CL_MQTT_UNSUBACK = 11,
	CL_MQTT_PINGREQ = 12,
	CL_MQTT_PINGRESP = 13,
	CL_MQTT_DISCONNECT = 14,
};

#define CL_MQTT_MAX_PACKET (16u << 20) /* refuse larger packets */

/* A decoded packet; slices point into the decoder's input. */
struct cl_mqtt_packet {
	int type;               /* enum cl_mqtt_type */
	int qos;                /* PUBLISH */
	int dup, retain;        /* PUBLISH */
	uint16_t packet_id;     /* PUBLISH (QoS > 0), PUBACK, SUBACK */
	const uint8_t *topic;   /* PUBLISH */
	size_t topic_len;
	const uint8_t *payload; /* PUBLISH */
	size_t payload_len;
	int connack_code;       /* CONNACK return code (0 accepted) */
	int session_present;    /* CONNACK */
	int suback_qos;         /* SUBACK: granted QoS, 0x80 failure */
};

/*
 * Decodes one packet from buf[0..len). Returns the bytes it used (> 0)
 * with *p filled, 0 if more bytes are needed, or CL_EPARSE with the detail
 * naming the violation (the connection must then be closed).
 */
long cl_mqtt_decode(const uint8_t *buf, size_t len, struct cl_mqtt_packet *p);

/* Encoders: write into out (cap bytes); return the length, or -1 if it
 * does not fit. */
long cl_mqtt_connect(uint8_t *out, size_t cap, const char *client_id,
		     uint16_t keepalive_s, int clean_session);
long cl_mqtt_subscribe(uint8_t *out, size_t cap, uint16_t packet_id,
		       const char *filter, int qos);
long cl_mqtt_puback(uint8_t *out, size_t cap, uint16_t packet_id);
long cl_mqtt_pingreq(uint8_t *out, size_t cap);
long cl_mqtt_disconnect(uint8_t *out, size_t cap);
/* A PUBLISH (for the simulator and tests). */
long cl_mqtt_publish(uint8_t *out, size_t cap, const char *topic, const void *payload,
		     size_t len, int qos, uint16_t packet_id);

/* 1 if topic matches the subscription filter (+ and # wildcards). */
int cl_mqtt_topic_matches(const char *filter, const uint8_t *topic, size_t len);

#endif
