/*
 * Where simulated events go: a carelake server over HTTP (NDJSON batches,
 * retrying 503s and lost connections as the server asks), an MQTT broker
 * (QoS 1, with the mqtt.* settings' TLS, user name and password: the
 * simulator is the test client of carelake's own MQTT input), or a file.
 * Used by `carelake simulate` and `carelake demo`.
 */
#ifndef CL_SIM_TARGET_H
#define CL_SIM_TARGET_H

#include "core/cl_config.h"

#include <curl/curl.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>

struct cl_sim_target {
	int kind;           /* 0 file, 1 http, 2 mqtt */
	FILE *file;
	CURL *curl;
	struct curl_slist *headers;
	char url[512];
	struct cl_mqtt_conn *mqtt;
	uint16_t next_id;
	int inflight;
	uint64_t requests, retries, failures;
	const atomic_int *stop;        /* set to give up retrying (from a signal
					 * handler or another thread) */
};

/* spec: http(s)://HOST:PORT[/path], mqtt[s]://HOST[:PORT], a file or "-".
 * cfg gives the mqtt.* settings for an MQTT broker (NULL: the defaults). */
int cl_sim_target_open(struct cl_sim_target *t, const char *spec, const char *token,
		       const struct cl_config *cfg);

/* Sends NDJSON: HTTP in requests of at most batch lines, MQTT one message
 * per line, a file as it is. */
int cl_sim_target_send(struct cl_sim_target *t, char *buf, size_t len, uint32_t batch);

void cl_sim_target_close(struct cl_sim_target *t);

/* GETs url with the bearer token (none when NULL or ""); the body, NUL
 * terminated, in *body (cl_free it) and its length in *len. 0, or CL_EIO
 * with cl_error_detail() saying what the server answered. */
int cl_sim_fetch(const char *url, const char *token, char **body, size_t *len);

#endif
