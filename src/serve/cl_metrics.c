/*
 * GET /metrics: the Prometheus text of every part of the running server,
 * each rendered by the part that owns the figures (core/cl_prom.h); this
 * file only says which parts there are and in what order.
 */
#include "cl_serve_audit.h"
#include "cl_server_int.h"
#include "core/cl_prom.h"
#include "core/cl_time.h"
#include "objstore/cl_objstore.h"

/* The HTTP replies by status code, and the connections each transport
 * holds. */
static void http_metrics(struct cl_server *s, struct cl_prom *p)
{
	cl_prom_head(p, "carelake_http_responses_total", "counter", "HTTP responses by status code.");
	for (int i = 0; i <= CL_HTTP_CODES; i++) {
		uint64_t v = atomic_load(&s->http_codes[i]);

		if (i < CL_HTTP_CODES)
			cl_prom_put(p, "carelake_http_responses_total{code=\"%d\"} %llu\n",
				    cl_http_codes[i], (unsigned long long)v);
		else if (v)
			cl_prom_put(p, "carelake_http_responses_total{code=\"other\"} %llu\n",
				    (unsigned long long)v);
	}
	cl_prom_counter(p, "carelake_ingest_bulk_paused_total",
			"Bulk bodies (64 KiB or more) answered 503 Retry-After while the serving store "
			"was behind a backlog (nothing of them stored).",
			(uint64_t)atomic_load(&s->bulk_paused));
	pthread_mutex_lock(&s->http_mu);
	if (s->fast)
		cl_fast_metrics(s->fast, p);
	if (s->mhd)
		cl_prom_gauge(p, "carelake_http_mhd_connections",
			      "Connections libmicrohttpd holds (handed over by carelake's loops).",
			      (double)cl_mhd_connections(s->mhd));
	pthread_mutex_unlock(&s->http_mu);
}

char *cl_metrics_render(struct cl_server *s, size_t *len)
{
	struct cl_prom p = { 0 };
	struct cl_blog *logs[CL_SERVER_LOGS];
	const char *sources[CL_SERVER_LOGS];

	cl_server_logs(s, logs, sources);
	if (s->inputs)
		cl_inputs_metrics(s->inputs, &p);
	http_metrics(s, &p);
	cl_serve_audit_metrics(s, &p);
	cl_blog_metrics(logs, sources, CL_SERVER_LOGS, &p);
	if (s->stream)
		cl_stream_metrics(s->stream, &p);
	if (s->sse)
		cl_sse_metrics(s->sse, &p);
	if (s->webhook)
		cl_webhook_metrics(s->webhook, &p);
	cl_objstore_metrics(&p);
	if (s->kafka_out)
		cl_out_kafka_metrics(s->kafka_out, &p);
	cl_prom_gauge(&p, "carelake_uptime_seconds", "Seconds since this server started.",
		      (double)((cl_time_now_us() - s->started_us) / 1000000));
	*len = p.len;
	return p.buf;
}
