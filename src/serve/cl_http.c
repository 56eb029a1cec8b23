/*
 * The HTTP API's two transports, started and stopped together: carelake's
 * own loops (cl_http_fast.c), which own the listening socket and serve
 * plain ingest requests, and libmicrohttpd (cl_http_mhd.c), which takes
 * every other connection from them. Endpoints are in the route table
 * (cl_routes.c); neither transport knows them.
 */
#include "cl_route.h"
#include "cl_server_int.h"
#include "core/cl_error.h"
#include "core/cl_log.h"

#include <arpa/inet.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

/* Splits "host:port" and resolves an IPv4 address. */
static int parse_listen(const char *spec, struct sockaddr_in *sa)
{
	const char *colon = strrchr(spec, ':');
	char host[64];
	uint64_t port;

	if (!colon || colon == spec || (size_t)(colon - spec) >= sizeof(host))
		return cl_error_set(CL_EINVAL, "http.listen '%s' is not HOST:PORT", spec);
	memcpy(host, spec, (size_t)(colon - spec));
	host[colon - spec] = '\0';
	if (cl_parse_u64(colon + 1, 0, 65535, &port) != CL_OK)
		return cl_error_set(CL_EINVAL, "http.listen '%s': port must be 0..65535", spec);
	memset(sa, 0, sizeof(*sa));
	sa->sin_family = AF_INET;
	sa->sin_port = htons((uint16_t)port);
	if (strcmp(host, "localhost") == 0)
		snprintf(host, sizeof(host), "127.0.0.1");
	if (inet_pton(AF_INET, host, &sa->sin_addr) != 1)
		return cl_error_set(CL_EINVAL, "http.listen '%s': '%s' is not an IPv4 address",
				    spec, host);
	return CL_OK;
}

int cl_http_start(struct cl_server *s)
{
	struct sockaddr_in sa;
	struct cl_mhd *m = NULL;
	struct cl_fast *f = NULL;
	int rc = cl_routes_check(cl_routes);

	if (rc == CL_OK)
		rc = parse_listen(s->http->listen, &sa);
	if (rc == CL_OK)
		rc = cl_mhd_start(s, &m);
	if (rc)
		return rc;
	pthread_mutex_lock(&s->http_mu);
	s->mhd = m;
	pthread_mutex_unlock(&s->http_mu);
	rc = cl_fast_start(s, &sa, &f);
	if (rc)
		return cl_error_set(CL_EIO, "cannot listen on %s: %s (is the port in use?)",
				    s->http->listen, cl_error_detail());
	pthread_mutex_lock(&s->http_mu);
	s->fast = f;
	pthread_mutex_unlock(&s->http_mu);
	s->port = cl_fast_port(f);
	return CL_OK;
}

void cl_http_on_commit(struct cl_server *s, struct cl_blog *log, uint64_t batch)
{
	pthread_mutex_lock(&s->http_mu);
	if (s->mhd)
		cl_mhd_on_commit(s->mhd, log, batch);
	if (s->fast)
		cl_fast_notify(s->fast);
	pthread_mutex_unlock(&s->http_mu);
}

void cl_http_stop(struct cl_server *s)
{
	struct cl_fast *f;
	struct cl_mhd *m;

	/* stop taking new connections, end live streams, let waiting
	 * requests get answered */
	pthread_mutex_lock(&s->http_mu);
	if (s->fast)
		cl_fast_quiesce(s->fast);
	pthread_mutex_unlock(&s->http_mu);
	if (s->sse)
		cl_sse_close_all(s->sse);
	for (int i = 0; i < 500; i++) {
		int busy;

		pthread_mutex_lock(&s->http_mu);
		busy = (s->mhd && cl_mhd_waiting(s->mhd)) || (s->fast && cl_fast_waiting(s->fast));
		pthread_mutex_unlock(&s->http_mu);
		if (!busy)
			break;
		usleep(10000);
	}
	/* carelake's loops hand connections to libmicrohttpd (they read
	 * s->mhd): join them before libmicrohttpd goes */
	pthread_mutex_lock(&s->http_mu);
	f = s->fast;
	s->fast = NULL;
	pthread_mutex_unlock(&s->http_mu);
	cl_fast_stop(f);
	pthread_mutex_lock(&s->http_mu);
	m = s->mhd;
	s->mhd = NULL;
	pthread_mutex_unlock(&s->http_mu);
	cl_mhd_stop(m);
}
