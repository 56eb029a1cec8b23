/*
 * The http.* settings section. See cl_http_config.h.
 */
#include "cl_http_config.h"

#include <stddef.h>

#define KiB 1024ll
#define MiB (1024ll * 1024)
#define GiB (1024ll * 1024 * 1024)
#define SEC 1000000ll
#define F(field) offsetof(struct cl_http_settings, field)

static const struct cl_config_entry http_entries[] = {
	{ "listen", CL_CFG_STRING, "127.0.0.1:8080", 0, 0, F(listen),
	  "address and port `carelake serve` listens on (port 0: any free port)", NULL },
	{ "threads", CL_CFG_U32, "2", 1, 64, F(threads),
	  "HTTP event loops: this many of carelake's own (plain ingest requests) and as many "
	  "of libmicrohttpd's (everything else)", NULL },
	{ "max_body_bytes", CL_CFG_SIZE, "16MiB", 1 * KiB, 1 * GiB, F(max_body_bytes),
	  "largest request body; larger ones get 413", NULL },
	{ "connection_timeout", CL_CFG_DURATION, "30s", SEC, 3600 * SEC, F(connection_timeout_us),
	  "an idle or stalled connection is closed after this", NULL },
	{ "connection_memory", CL_CFG_SIZE, "16KiB", 4 * KiB, 1 * MiB, F(connection_memory),
	  "memory per libmicrohttpd connection for its request line, headers and read buffer",
	  NULL },
	{ "max_connections", CL_CFG_U32, "1024", 1, 100000, F(max_connections),
	  "most concurrent HTTP connections (carelake's loops and libmicrohttpd each hold at "
	  "most this many); at the limit a new connection takes the place of the one idle "
	  "longest", NULL },
	{ "max_connections_per_client", CL_CFG_U32, "128", 1, 100000,
	  F(max_connections_per_client),
	  "most concurrent connections from one client address; more are closed at once", NULL },
	{ "header_timeout", CL_CFG_DURATION, "10s", 100000, 3600 * SEC, F(header_timeout_us),
	  "a connection that has not sent a whole request head this long after it opened (or "
	  "after its head began) is closed", NULL },
	{ "max_header_bytes", CL_CFG_SIZE, "16KiB", 1 * KiB, 64 * KiB, F(max_header_bytes),
	  "largest request head (request line and headers); larger ones get 431", NULL },
	{ "auth_failures", CL_CFG_U32, "50", 1, 1000000, F(auth_failures),
	  "authentication failures (401) from one client address within "
	  "http.auth_failure_window after which its requests needing a token get 429", NULL },
	{ "auth_failure_window", CL_CFG_DURATION, "60s", SEC, 86400 * SEC, F(auth_failure_window_us),
	  "the window http.auth_failures counts in; a blocked address may try again this long "
	  "after its last failure (Retry-After says when)", NULL },
};

const struct cl_config_section cl_http_section = {
	.name = "http",
	.entries = http_entries,
	.nentries = sizeof(http_entries) / sizeof(http_entries[0]),
	.size = sizeof(struct cl_http_settings),
};

const struct cl_http_settings *cl_http_settings(const struct cl_config *c)
{
	return cl_config_get(c, &cl_http_section);
}
