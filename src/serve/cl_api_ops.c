/*
 * Operations: GET /healthz (liveness: 200 while carelake can take and keep
 * data, 503 with what is wrong when it cannot) and GET /metrics
 * (Prometheus text, cl_metrics.c).
 */
#include "cl_api.h"
#include "cl_server_int.h"
#include "core/cl_error.h"
#include "core/cl_mem.h"

#include <stdlib.h>
#include <string.h>

int cl_api_healthz(struct cl_req *r)
{
	struct cl_server *s = r->s;
	struct cl_blog *logs[] = { s->vitals, s->fhir };
	const char *names[] = { "vitals", "fhir" };
	char why[300];

	if (s->stream && atomic_load(&cl_stream_counters(s->stream)->stopped))
		return cl_reply_json(r, 503, json_pack("{s:s,s:s}", "status", "degraded", "stream",
						       "stopped"));
	for (size_t i = 0; i < sizeof(logs) / sizeof(logs[0]); i++) {
		int rc = logs[i] ? cl_blog_health(logs[i], why, sizeof(why)) : CL_OK;

		if (rc != CL_OK)
			return cl_reply_json(r, 503, json_pack("{s:s,s:{s:s},s:s}", "status", "degraded",
							       "bronze", names[i],
							       rc == CL_ENOSPC ? "disk_full" : "failing",
							       "detail", why));
	}
	return cl_reply_json(r, 200, json_pack("{s:s}", "status", "ok"));
}

int cl_api_metrics(struct cl_req *r)
{
	size_t n;
	char *text = cl_metrics_render(r->s, &n);
	char *body = text ? malloc(n ? n : 1) : NULL;

	if (!body) {
		cl_free(text);
		return cl_reply_error(r, 503, "busy", "out of memory; retry later", "Retry-After", "1");
	}
	memcpy(body, text, n);
	cl_free(text);
	return cl_reply(r, 200, "text/plain; version=0.0.4", body, n, NULL, NULL);
}
