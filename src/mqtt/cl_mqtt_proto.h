/*
 * The subset of MQTT 3.1.1 (OASIS standard) carelake's clients need:
 * encoding CONNECT (with a user name and password), SUBSCRIBE, PUBLISH,
 * PUBACK, PINGREQ and DISCONNECT; a strict, incremental decoder for what a
 * broker sends (CONNACK, SUBACK, PUBLISH, PINGRESP, and PUBACK/UNSUBACK
 * which are tolerated); and topic filters: matching, and finding the level
 * of a topic that names the device. Pure functions over buffers: the
 * connection (TCP, TLS, CONNACK) is cl_mqtt_conn.h.
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

/* What a CONNECT says. */
struct cl_mqtt_connect_fields {
	const char *client_id;
	const char *username;   /* NULL: none */
	const void *password;   /* NULL: none; MQTT 3.1.1 needs a username with it */
	size_t password_len;
	uint16_t keepalive_s;
	int clean_session;
};

/* Encoders: write into out (cap bytes); return the length, or -1 if it
 * does not fit (or, for CONNECT, a password comes without a username). */
long cl_mqtt_connect(uint8_t *out, size_t cap, const struct cl_mqtt_connect_fields *f);
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

/*
 * The level (0 for the first) of the one '+' wildcard of a topic filter:
 * the level that names the device in every topic the filter matches
 * ("devices/+/messages/events" gives 1). CL_EINVAL, with the detail
 * saying why, for a filter with no '+', with more than one, or that is no
 * valid filter ('+' or '#' sharing a level, '#' not last).
 */
int cl_mqtt_filter_device_level(const char *filter);

/* Level `level` of a topic name: 1 with *seg and *seg_len set (the slice
 * lies inside topic and holds no '/'), 0 if the topic has fewer levels. */
int cl_mqtt_topic_level(const uint8_t *topic, size_t len, unsigned level,
			const uint8_t **seg, size_t *seg_len);

#endif
