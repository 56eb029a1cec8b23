/*
 * A client's connection to an MQTT broker, shared by the subscriber
 * (plugins/in_mqtt) and the simulator's MQTT target (src/sim): the
 * broker's address, TCP to a name or an address, TLS with OpenSSL (the
 * broker's certificate chain and host name checked, SNI, an optional
 * client certificate), the CONNECT with the client id, user name and
 * password, and the CONNACK, whose refusals become one clear error. Then
 * packets out (cl_mqtt_conn_send) and in (cl_mqtt_conn_read,
 * cl_mqtt_conn_next) over a non-blocking socket its owner polls.
 *
 * One handle lives across reconnections. Its TLS context (CA file, client
 * certificate and key) is loaded when the handle is made, so a missing or
 * bad file stops the start instead of failing every retry. The password
 * is held only in the handle (wiped when it is destroyed) and never
 * appears in a log line or an error detail.
 */
#ifndef CL_MQTT_CONN_H
#define CL_MQTT_CONN_H

#include "core/cl_config.h"
#include "mqtt/cl_mqtt_proto.h"

#include <stdint.h>

#define CL_MQTT_PASSWORD_MAX 1024

/* Where and how to connect. */
struct cl_mqtt_conn_options {
	char host[256];                     /* a name or an address (IPv6 without []) */
	uint16_t port;
	int tls;                            /* 1: TLS */
	int tls_verify;                     /* 1: check the chain and the host name */
	char ca_file[CL_CFG_STRING_MAX];    /* "" = the system's CAs */
	char cert_file[CL_CFG_STRING_MAX];  /* "" = no client certificate */
	char key_file[CL_CFG_STRING_MAX];
	char client_id[CL_CFG_STRING_MAX];
	char username[CL_CFG_STRING_MAX];   /* "" = none */
	char password[CL_MQTT_PASSWORD_MAX]; /* a secret: never logged */
	size_t password_len;
	int has_password;
	uint16_t keepalive_s;
	int clean_session;
};

/*
 * Fills o from the mqtt.* settings for the broker `broker` (for serve,
 * mqtt.broker; for the simulator, its --target), which is
 * [mqtt://|mqtts://]HOST[:PORT] (an IPv6 address in brackets; the port is
 * 1883 by default, 8883 with TLS): the address, TLS (mqtt.tls, or on for
 * mqtts://), the CA, certificate and key files, mqtt.tls_verify,
 * mqtt.username and its password, read from mqtt.password_file (its first
 * line) or else from $CARELAKE_MQTT_PASSWORD, and the keep-alive. The
 * client id and the session kind are the caller's. Returns 0, or CL_EINVAL
 * or CL_EIO with a detail naming the setting (never the password).
 */
int cl_mqtt_conn_options_from_config(const struct cl_config *cfg, const char *broker,
				     struct cl_mqtt_conn_options *o);

struct cl_mqtt_conn;

/* Wipes o, password and all (for the copies its users made). */
void cl_mqtt_conn_options_clear(struct cl_mqtt_conn_options *o);

/* Makes a handle for these options (not yet connected), loading the TLS
 * files; CL_EINVAL or CL_EIO names the file and what is wrong with it. */
int cl_mqtt_conn_create(const struct cl_mqtt_conn_options *o, struct cl_mqtt_conn **out);

/*
 * Connects: TCP, the TLS handshake, CONNECT, and waits for the CONNACK,
 * all within timeout_ms. *session_present is the CONNACK's flag. A refusal
 * is CL_EINVAL with the detail "the MQTT broker refused the username or
 * password (CONNACK 4)" or "... says carelake is not authorized (CONNACK
 * 5)" and so on; an untrusted certificate names why; other failures are
 * CL_EIO. Packets the broker sent right after the CONNACK wait for
 * cl_mqtt_conn_next.
 */
int cl_mqtt_conn_connect(struct cl_mqtt_conn *c, int timeout_ms, int *session_present);

/* The socket to poll for POLLIN; -1 while not connected. */
int cl_mqtt_conn_fd(const struct cl_mqtt_conn *c);

/* Sends n bytes, waiting up to 5 s for the socket to take them; CL_EIO
 * when it does not or the link is gone. */
int cl_mqtt_conn_send(struct cl_mqtt_conn *c, const uint8_t *buf, size_t n);

/* Reads what has arrived (one read; nothing is fine). CL_EIO when the
 * broker closed the connection or it failed. Packets returned by
 * cl_mqtt_conn_next before this call are no longer valid after it. */
int cl_mqtt_conn_read(struct cl_mqtt_conn *c);

/* The next complete packet read: its length (> 0) with *p filled (its
 * slices valid until the next cl_mqtt_conn_read), 0 if none is complete,
 * or CL_EPARSE for a stream that breaks the protocol. */
long cl_mqtt_conn_next(struct cl_mqtt_conn *c, struct cl_mqtt_packet *p);

/* 1 if a read would now give bytes the socket's poll does not show
 * (TLS data already decrypted): poll with no timeout, then read. */
int cl_mqtt_conn_buffered(const struct cl_mqtt_conn *c);

/* Waits up to timeout_ms for a complete packet to be readable: 1 when
 * there is one to take with cl_mqtt_conn_next, 0 on timeout, CL_EIO when
 * the link is gone. For blocking-style clients (the simulator). */
int cl_mqtt_conn_wait(struct cl_mqtt_conn *c, int timeout_ms);

/* Microseconds (monotonic) since the last packet sent, for keep-alive. */
int64_t cl_mqtt_conn_idle_us(const struct cl_mqtt_conn *c);

/* "HOST:PORT", for log lines. */
const char *cl_mqtt_conn_peer(const struct cl_mqtt_conn *c);

/* Closes the link, after a DISCONNECT if goodbye (an orderly end rather
 * than a lost client). The handle can connect again. */
void cl_mqtt_conn_close(struct cl_mqtt_conn *c, int goodbye);

/* Closes and frees the handle, wiping the password; NULL is a no-op. */
void cl_mqtt_conn_destroy(struct cl_mqtt_conn *c);

#endif
