/*
 * The http.* settings: where `carelake serve` listens and how it bounds
 * connections, requests and bodies.
 */
#ifndef CL_HTTP_CONFIG_H
#define CL_HTTP_CONFIG_H

#include "core/cl_config.h"

#include <stdint.h>

struct cl_http_settings {
	char listen[CL_CFG_STRING_MAX];  /* http.listen */
	uint32_t threads;                /* http.threads */
	uint64_t max_body_bytes;         /* http.max_body_bytes */
	int64_t connection_timeout_us;   /* http.connection_timeout */
	uint32_t max_connections;        /* http.max_connections */
	uint64_t connection_memory;      /* http.connection_memory */
	uint32_t max_connections_per_client; /* http.max_connections_per_client */
	int64_t header_timeout_us;       /* http.header_timeout */
	uint64_t max_header_bytes;       /* http.max_header_bytes */
	uint32_t auth_failures;          /* http.auth_failures */
	int64_t auth_failure_window_us;  /* http.auth_failure_window */
};

extern const struct cl_config_section cl_http_section;

/* c's http.* settings. */
const struct cl_http_settings *cl_http_settings(const struct cl_config *c);

#endif
