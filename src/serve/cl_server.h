/*
 * The running platform (`carelake serve`): the bronze store, API tokens,
 * device-event ingest and the HTTP API, wired together and started and
 * stopped as one. Later parts (stream processing, alerts, MQTT) hang off
 * the same struct.
 */
#ifndef CL_SERVER_H
#define CL_SERVER_H

#include "core/cl_config.h"

#include <stdint.h>

struct cl_server;

/*
 * Opens everything under data_dir and starts serving on cfg->http.listen;
 * keys_dir holds the audit signing key and the de-identification keys
 * (NULL or "": $CARELAKE_KEYS, else <data_dir>.keys; auth/cl_keys.h).
 * On return the server answers requests; *out is the handle to stop it.
 */
int cl_server_start(const struct cl_config *cfg, const char *data_dir, const char *keys_dir,
		    struct cl_server **out);

/* Stops accepting, answers what is in flight, closes everything. */
void cl_server_stop(struct cl_server *s);

/* The port actually bound (useful with port 0). */
uint16_t cl_server_port(const struct cl_server *s);

/* Whether this start created the admin token, and where it is. */
int cl_server_created_token(const struct cl_server *s);
const char *cl_server_token_path(const struct cl_server *s);

#endif
