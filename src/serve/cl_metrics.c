/*
 * GET /metrics: Prometheus text exposition format 0.0.4.
 */
#include "cl_server_int.h"
#include "stream/cl_sink.h"
#include "core/cl_mem.h"
#include "core/cl_time.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

struct out {
	char *buf;
	size_t len, cap;
};

static void put(struct out *o, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static void put(struct out *o, const char *fmt, ...)
{
	va_list ap;
	int n;

	for (;;) {
		size_t room = o->cap - o->len;

		va_start(ap, fmt);
		n = vsnprintf(o->buf ? o->buf + o->len : NULL, o->buf ? room : 0, fmt, ap);
		va_end(ap);
		if (n < 0)
			return;
		if (o->buf && (size_t)n < room) {
			o->len += (size_t)n;
			return;
		}
		{
			size_t nc = o->cap ? o->cap * 2 : 8192;
			char *nb;

			while (nc < o->len + (size_t)n + 1)
				nc *= 2;
			nb = cl_realloc(o->buf, nc);
			if (!nb)
				return;
			o->buf = nb;
			o->cap = nc;
		}
	}
}

static void counter(struct out *o, const char *name, const char *help, uint64_t v)
{
	put(o, "# HELP %s %s\n# TYPE %s counter\n%s %llu\n", name, help, name, name,
	    (unsigned long long)v);
}

char *cl_metrics_render(struct cl_server *s, size_t *len)
{
	const struct cl_ingest_counters *ic = cl_ingest_counters(s->ingest);
	struct cl_blog_stats bs;
	struct out o = { 0 };
	uint64_t cum = 0;

	cl_blog_get_stats(s->vitals, &bs);
	counter(&o, "carelake_events_received_total",
		"Device events received over HTTP (accepted, duplicate or rejected).",
		atomic_load(&ic->events));
	counter(&o, "carelake_events_accepted_total", "Device events stored in bronze.",
		atomic_load(&ic->accepted));
	counter(&o, "carelake_events_rejected_total", "Device events rejected as invalid.",
		atomic_load(&ic->rejected));
	counter(&o, "carelake_events_duplicate_total",
		"Device events answered as duplicates of an earlier id.",
		atomic_load(&ic->duplicates));
	counter(&o, "carelake_ingest_busy_total",
		"Request bodies refused with 503 because bronze could not keep up.",
		atomic_load(&ic->busy));
	put(&o, "# HELP carelake_http_responses_total HTTP responses by status code.\n"
		"# TYPE carelake_http_responses_total counter\n");
	for (int i = 0; i <= CL_HTTP_CODES; i++) {
		uint64_t v = atomic_load(&s->http_codes[i]);

		if (i < CL_HTTP_CODES)
			put(&o, "carelake_http_responses_total{code=\"%d\"} %llu\n",
			    cl_http_codes[i], (unsigned long long)v);
		else if (v)
			put(&o, "carelake_http_responses_total{code=\"other\"} %llu\n",
			    (unsigned long long)v);
	}
	{
		uint64_t conns = 0, handoffs = 0, refused = 0;

		pthread_mutex_lock(&s->wait_mu);
		if (s->fast)
			cl_fast_stats(s->fast, &conns, &handoffs, &refused);
		pthread_mutex_unlock(&s->wait_mu);
		put(&o, "# HELP carelake_http_fast_connections Connections open on carelake's own "
			"HTTP loops.\n# TYPE carelake_http_fast_connections gauge\n"
			"carelake_http_fast_connections %llu\n", (unsigned long long)conns);
		counter(&o, "carelake_http_handoffs_total",
			"Connections handed to libmicrohttpd (another endpoint, a body still "
			"arriving, an unusual head).", handoffs);
		counter(&o, "carelake_http_connections_refused_total",
			"Connections closed at once because http.max_connections were open.",
			refused);
	}
	put(&o, "# HELP carelake_bronze_records_total Records made durable in bronze since start.\n"
		"# TYPE carelake_bronze_records_total counter\n"
		"carelake_bronze_records_total{source=\"vitals\"} %llu\n",
	    (unsigned long long)bs.records);
	put(&o, "# HELP carelake_bronze_next_offset Offset the next bronze record will get.\n"
		"# TYPE carelake_bronze_next_offset gauge\n"
		"carelake_bronze_next_offset{source=\"vitals\"} %llu\n",
	    (unsigned long long)bs.next_offset);
	put(&o, "# HELP carelake_bronze_commit_seconds Time to write and fdatasync one commit batch.\n"
		"# TYPE carelake_bronze_commit_seconds histogram\n");
	for (int b = 0; b < CL_COMMIT_BUCKETS; b++) {
		cum += atomic_load(&s->commit_buckets[b]);
		put(&o, "carelake_bronze_commit_seconds_bucket{le=\"%g\"} %llu\n",
		    cl_commit_bucket_le[b], (unsigned long long)cum);
	}
	cum += atomic_load(&s->commit_buckets[CL_COMMIT_BUCKETS]);
	put(&o, "carelake_bronze_commit_seconds_bucket{le=\"+Inf\"} %llu\n"
		"carelake_bronze_commit_seconds_sum %.6f\n"
		"carelake_bronze_commit_seconds_count %llu\n",
	    (unsigned long long)cum, (double)atomic_load(&s->commit_sum_us) / 1e6,
	    (unsigned long long)atomic_load(&s->commit_count));
	if (s->stream) {
		const struct cl_stream_counters *sc = cl_stream_counters(s->stream);
		uint64_t processed = atomic_load(&sc->processed);

		counter(&o, "carelake_stream_events_total", "Vital values applied by the stream processor.",
			atomic_load(&sc->events));
		counter(&o, "carelake_stream_late_events_total",
			"Events that arrived after their windows closed (kept in bronze, not in windows).",
			atomic_load(&sc->late));
		counter(&o, "carelake_stream_rollups_total", "Closed windows written.",
			atomic_load(&sc->rollups));
		put(&o, "# HELP carelake_stream_lag_records Durable records not yet processed.\n"
			"# TYPE carelake_stream_lag_records gauge\ncarelake_stream_lag_records %llu\n"
			"# HELP carelake_stream_windows_open Windows open now.\n"
			"# TYPE carelake_stream_windows_open gauge\ncarelake_stream_windows_open %llu\n",
		    (unsigned long long)(bs.next_offset > processed ? bs.next_offset - processed : 0),
		    (unsigned long long)atomic_load(&sc->windows_open));
		put(&o, "# HELP carelake_alerts_raised_total Alerts raised, by rule.\n"
			"# TYPE carelake_alerts_raised_total counter\n");
		for (int i = 0; i < s->stream_opts.nrules; i++)
			put(&o, "carelake_alerts_raised_total{rule=\"%s\"} %llu\n",
			    s->stream_opts.rules[i].name,
			    (unsigned long long)atomic_load(&sc->raised[i]));
		put(&o, "# HELP carelake_alerts_open Alerts open now, by rule.\n"
			"# TYPE carelake_alerts_open gauge\n");
		for (int i = 0; i < s->stream_opts.nrules; i++)
			put(&o, "carelake_alerts_open{rule=\"%s\"} %lld\n", s->stream_opts.rules[i].name,
			    (long long)atomic_load(&sc->open[i]));
		put(&o, "# HELP carelake_stream_up 1 while the stream processor runs; 0 after it "
			"stopped on an error.\n# TYPE carelake_stream_up gauge\ncarelake_stream_up %d\n",
		    !atomic_load(&sc->stopped));
		{
			struct cl_sink_stats ks;

			cl_stream_store_stats(s->stream, &ks);
			cum = 0;
			put(&o, "# HELP carelake_store_commit_seconds Time to commit one batch of the "
				"stream's output to the serving store.\n"
				"# TYPE carelake_store_commit_seconds histogram\n");
			for (int b = 0; b < 12; b++) {
				cum += ks.commit_us[b];
				if (b < 11)
					put(&o, "carelake_store_commit_seconds_bucket{le=\"%g\"} %llu\n",
					    0.00025 * (double)(1u << b), (unsigned long long)cum);
			}
			put(&o, "carelake_store_commit_seconds_bucket{le=\"+Inf\"} %llu\n"
				"carelake_store_commit_seconds_sum %.6f\n"
				"carelake_store_commit_seconds_count %llu\n",
			    (unsigned long long)cum, (double)ks.commit_us_sum / 1e6,
			    (unsigned long long)ks.commits);
			counter(&o, "carelake_store_commit_failures_total",
				"Serving-store commits that failed and were retried.", ks.failures);
			put(&o, "# HELP carelake_store_pending_bytes Stream output waiting to be "
				"committed.\n# TYPE carelake_store_pending_bytes gauge\n"
				"carelake_store_pending_bytes %llu\n",
			    (unsigned long long)ks.pending_bytes);
		}
	}
	if (s->sse)
		put(&o, "# HELP carelake_stream_clients Live stream (SSE) clients connected.\n"
			"# TYPE carelake_stream_clients gauge\ncarelake_stream_clients %llu\n"
			"# HELP carelake_stream_dropped_total Vital events a slow live-stream client missed.\n"
			"# TYPE carelake_stream_dropped_total counter\ncarelake_stream_dropped_total %llu\n",
		    (unsigned long long)cl_sse_clients(s->sse), (unsigned long long)cl_sse_dropped(s->sse));
	if (s->webhook) {
		struct cl_webhook_stats ws;

		cl_webhook_stats(s->webhook, &ws);
		counter(&o, "carelake_webhook_delivered_total", "Alerts delivered to the webhook.",
			ws.delivered);
		counter(&o, "carelake_webhook_retries_total", "Webhook retries.", ws.retries);
		counter(&o, "carelake_webhook_dead_lettered_total",
			"Alerts written to the dead-letter file after the last attempt.",
			ws.dead_lettered);
	}
	if (s->mqtt) {
		const struct cl_mqtt_counters *mc = cl_mqtt_in_counters(s->mqtt);

		counter(&o, "carelake_mqtt_messages_total", "MQTT messages received.",
			atomic_load(&mc->messages));
		counter(&o, "carelake_mqtt_acks_total",
			"MQTT QoS 1 messages acknowledged after their events were durable.",
			atomic_load(&mc->acked));
		counter(&o, "carelake_mqtt_bad_payloads_total",
			"MQTT messages whose payload held no JSON events.", atomic_load(&mc->bad));
		counter(&o, "carelake_mqtt_wrong_device_total",
			"MQTT events rejected because their device_id is not the device their topic "
			"names.", atomic_load(&mc->wrong_device));
		counter(&o, "carelake_mqtt_reconnects_total", "MQTT reconnections.",
			atomic_load(&mc->reconnects));
		put(&o, "# HELP carelake_mqtt_connected 1 while connected to the broker.\n"
			"# TYPE carelake_mqtt_connected gauge\ncarelake_mqtt_connected %d\n",
		    atomic_load(&mc->connected));
	}
	put(&o, "# HELP carelake_uptime_seconds Seconds since this server started.\n"
		"# TYPE carelake_uptime_seconds gauge\ncarelake_uptime_seconds %.0f\n",
	    (double)(cl_time_now_us() - s->started_us) / 1e6);
	*len = o.len;
	return o.buf;
}
