/*
 * Starting and stopping the platform. See cl_server.h.
 */
#include "cl_server_int.h"
#include "batch/cl_batch.h"
#include "batch/cl_csv_map.h"
#include "batch/cl_pipeline.h"
#include "bronze/cl_reader.h"
#include "core/cl_error.h"
#include "core/cl_fs.h"
#include "core/cl_log.h"
#include "core/cl_mem.h"
#include "core/cl_time.h"

#include <stdio.h>
#include <string.h>
#include <sched.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <unistd.h>

const double cl_commit_bucket_le[CL_COMMIT_BUCKETS] = {
	0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01,
	0.025, 0.05, 0.1, 0.25, 0.5, 1.0,
};

static void count_commit(struct cl_server *s, const struct cl_blog_commit *c)
{
	double sec = (double)(c->write_us + c->sync_us) / 1e6;
	int b = 0;

	while (b < CL_COMMIT_BUCKETS && sec > cl_commit_bucket_le[b])
		b++;
	atomic_fetch_add(&s->commit_buckets[b], 1);
	atomic_fetch_add(&s->commit_count, 1);
	atomic_fetch_add(&s->commit_sum_us, (uint64_t)(c->write_us + c->sync_us));
}

static void on_commit_vitals(void *arg, const struct cl_blog_commit *c)
{
	struct cl_server *s = arg;

	count_commit(s, c);
	cl_http_on_commit(s, s->vitals, c->batch);
	cl_mqtt_in_on_commit(s->mqtt, c->batch);
	cl_stream_durable(s->stream);
}

static void on_written(void *arg)
{
	struct cl_server *s = arg;

	cl_stream_poke(s->stream);
}

static void on_commit_fhir(void *arg, const struct cl_blog_commit *c)
{
	struct cl_server *s = arg;

	count_commit(s, c);
	cl_http_on_commit(s, s->fhir, c->batch);
	cl_stream_durable(s->stream);
}

static void live_alert(void *arg, const char *json, size_t len, const char *patient)
{
	struct cl_server *s = arg;

	cl_sse_publish(s->sse, "alert", json, len, patient);
}

static void outbox_written(void *arg)
{
	struct cl_server *s = arg;

	cl_webhook_poke(__atomic_load_n(&s->webhook, __ATOMIC_ACQUIRE));
}

static void live_vital(void *arg, const char *json, size_t len, const char *patient)
{
	struct cl_server *s = arg;

	cl_sse_publish(s->sse, "vital", json, len, patient);
}

static int live_wants_vitals(void *arg)
{
	struct cl_server *s = arg;

	return cl_sse_wants_vitals(s->sse);
}

/* Once a second: SSE keep-alives every 15 s. */
static void *ticker_main(void *arg)
{
	struct cl_server *s = arg;
	int n = 0;

	while (!atomic_load(&s->ticker_stop)) {
		usleep(200000);
		if (++n % 75 == 0)
			cl_sse_keepalive(s->sse);
	}
	return NULL;
}

/* A pipeline gave up on a file: an alert like any other. */
static void pipeline_failed(void *arg, const char *pipeline, const char *file, const char *reason)
{
	struct cl_server *s = arg;
	const char *base = strrchr(file, '/');
	char msg[400];

	snprintf(msg, sizeof(msg), "pipeline %s: %s failed every attempt and went to the dead-letter "
		 "folder: %s", pipeline, base ? base + 1 : file, reason);
	cl_stream_raise(s->stream, "pipeline_failed", "urgent", pipeline, msg);
}

/* Every refine.interval: new device events and FHIR posts into silver, at
 * a lower priority than ingest and alerts. */
static void *refiner_main(void *arg)
{
	struct cl_server *s = arg;
	struct cl_batch *b = NULL;

	int64_t maint_mono = 0;

	pthread_setname_np(pthread_self(), "cl-refine");
	/* only when the CPUs have nothing else to do: ingest, alerts and the
	 * serving store come first; `carelake status` shows how far behind */
	{
		struct sched_param sp = { 0 };

		if (sched_setscheduler(0, SCHED_IDLE, &sp) != 0)
			setpriority(PRIO_PROCESS, (id_t)syscall(SYS_gettid), 19);
	}
	for (;;) {
		struct timespec ts;
		int stop;

		pthread_mutex_lock(&s->refine_mu);
		cl_time_deadline(&ts, s->cfg.refine.interval_us);
		if (!atomic_load(&s->ticker_stop))
			pthread_cond_timedwait(&s->refine_cv, &s->refine_mu, &ts);
		stop = atomic_load(&s->ticker_stop);
		pthread_mutex_unlock(&s->refine_mu);
		if (stop)
			break;
		if (!b) {
			struct cl_expectation e[CL_EXPECTATIONS_MAX];
			int ne;

			if (cl_batch_open(s->data_dir, &b) != CL_OK ||
			    cl_config_expectations(&s->cfg, e, &ne, 1) != CL_OK ||
			    cl_batch_expect(b, e, ne) != CL_OK ||
			    cl_batch_set_references(b, s->cfg.refine.references) != CL_OK) {
				cl_log_error("refine", "event=cannot_open detail=\"%s\"",
					     cl_error_detail());
				cl_batch_close(b);
				b = NULL;
				continue;
			}
			struct cl_lake_opts lake;

			cl_lake_opts_from_config(&lake, &s->cfg);
			cl_batch_set_lake(b, &lake, s->cfg.lake.interval_us);
		}
		/* the Delta tables' compaction and clean-up, now and then */
		if (s->cfg.lake.enabled && s->cfg.lake.maintenance_us > 0 &&
		    (!maint_mono || cl_time_mono_us() - maint_mono >= s->cfg.lake.maintenance_us)) {
			struct cl_lake_maint m;

			maint_mono = cl_time_mono_us();
			if (cl_lake_maintain(s->data_dir, s->cfg.lake.target_file_bytes,
					     s->cfg.lake.retention_us, &m) == CL_OK &&
			    (m.files_removed || m.files_added))
				cl_log_info("lake", "event=maintained compacted=%lld removed=%lld bytes=%lld",
					    (long long)m.files_added, (long long)m.files_removed,
					    (long long)m.bytes_removed);
		}
		{
			struct cl_batch_summary sum;

			if (cl_batch_refine(b, 0, &sum) != CL_OK)
				cl_log_error("refine", "event=failed run=%lld detail=\"%s\"",
					     (long long)sum.run_id, sum.error);
			else if (sum.c.records)
				cl_log_info("refine", "event=refined run=%lld records=%llu accepted=%llu "
					    "quarantined=%llu", (long long)sum.run_id,
					    (unsigned long long)sum.c.records,
					    (unsigned long long)sum.c.accepted,
					    (unsigned long long)sum.c.quarantined);
		}
	}
	cl_batch_close(b);
	return NULL;
}

/*
 * Remembers the idempotency keys of the newest stored records of a source
 * (event ids; for FHIR, Observation ids or hashes) and their contents, so
 * a client retrying after a restart is still answered "duplicate", and a
 * different record under a used id a conflict.
 */
static int rebuild_dedupe(struct cl_server *s, struct cl_blog *log, const char *source,
			  struct cl_dedupe *dd, size_t keep, int fhir)
{
	struct cl_blog_reader *r;
	struct cl_json_doc doc;
	struct cl_frame f;
	char dir[PATH_MAX];
	uint64_t end = cl_blog_durable_offset(log), from, n = 0;
	int rc;

	from = end > keep ? end - keep : 0;
	cl_bronze_source_dir(dir, sizeof(dir), s->data_dir, source);
	rc = cl_blog_reader_open(dir, from, end, s->cfg.bronze.record_max_bytes, &r);
	if (rc)
		return rc;
	cl_json_doc_init(&doc);
	while ((rc = cl_blog_reader_next(r, &f)) != 0) {
		if (rc < 0) {
			if (rc == CL_ECORRUPT)
				continue;
			break;
		}
		n += (uint64_t)cl_ingest_recall(dd, &doc, (const char *)f.data, f.len, fhir);
	}
	cl_json_doc_free(&doc);
	cl_blog_reader_close(r);
	cl_log_info("serve", "event=dedupe_rebuilt source=%s ids=%llu from_offset=%llu", source,
		    (unsigned long long)n, (unsigned long long)from);
	return rc < 0 ? rc : CL_OK;
}

int cl_server_start(const struct cl_config *cfg, const char *data_dir,
		    struct cl_server **out)
{
	struct cl_ingest_options io;
	struct cl_server *s;
	int rc;

	*out = NULL;
	s = cl_calloc(1, sizeof(*s));
	if (!s)
		return cl_error_set(CL_ENOMEM, "no memory for the server");
	s->cfg = *cfg;
	snprintf(s->data_dir, sizeof(s->data_dir), "%s", data_dir);
	s->started_us = cl_time_now_us();
	pthread_mutex_init(&s->wait_mu, NULL);

	rc = cl_fs_mkdirs(data_dir);
	if (rc == CL_OK)
		rc = cl_auth_open(data_dir, &s->auth, &s->created_token);
	if (rc == CL_OK)
		rc = cl_bronze_open(data_dir, &cfg->bronze, &s->bronze);
	if (rc == CL_OK)
		rc = cl_bronze_log(s->bronze, "vitals", &s->vitals);
	if (rc == CL_OK)
		rc = cl_dedupe_create(cfg->ingest.dedupe_ids, &s->dedupe);
	if (rc == CL_OK)
		rc = rebuild_dedupe(s, s->vitals, "vitals", s->dedupe, cfg->ingest.dedupe_ids, 0);
	if (rc == CL_OK) {
		cl_ingest_options_default(&io);
		io.limits.max_future_us = cfg->ingest.max_future_us;
		io.max_events = cfg->ingest.max_events;
		rc = cl_ingest_create(s->vitals, s->dedupe, &io, &s->ingest);
	}
	if (rc == CL_OK)
		rc = cl_bronze_log(s->bronze, "fhir", &s->fhir);
	if (rc == CL_OK)
		rc = cl_dedupe_create(cfg->ingest.dedupe_ids / 4 + 1000, &s->fhir_dedupe);
	if (rc == CL_OK)
		rc = rebuild_dedupe(s, s->fhir, "fhir", s->fhir_dedupe,
				    cfg->ingest.dedupe_ids / 4 + 1000, 1);
	if (rc == CL_OK)
		rc = cl_ingest_create(s->fhir, s->fhir_dedupe, &io, &s->fhir_ingest);
	if (rc == CL_OK) {
		struct cl_stream_options so;

		cl_stream_options_default(&so);
		so.lateness_us = cfg->stream.lateness_us;
		so.idle_flush_us = cfg->stream.idle_flush_us;
		so.batch_records = cfg->stream.batch_records;
		so.record_max_bytes = cfg->bronze.record_max_bytes;
		snprintf(so.reference_path, sizeof(so.reference_path), "%s", cfg->stream.reference);
		rc = cl_stream_parse_windows(cfg->stream.windows, &so);
		if (rc == CL_OK)
			rc = cl_config_rules(cfg, so.rules, &so.nrules, 1);
		if (rc == CL_OK && cl_sse_create(1u << 20, &s->sse) != 0)
			rc = cl_error_set(CL_ENOMEM, "no memory for the live stream");
		so.on_alert = live_alert;
		so.on_vital = live_vital;
		so.want_vitals = live_wants_vitals;
		so.outbox = cfg->webhook.url[0] != '\0';
		so.on_outbox = outbox_written;
		so.hook_arg = s;
		if (rc == CL_OK && pthread_create(&s->ticker, NULL, ticker_main, s) == 0)
			s->ticker_started = 1;
		if (rc == CL_OK) {
			s->stream_opts = so;
			rc = cl_stream_start(data_dir, s->vitals, s->fhir, &so, &s->stream);
		}
		pthread_mutex_init(&s->refine_mu, NULL);
		pthread_cond_init(&s->refine_cv, NULL);
		if (rc == CL_OK && cfg->refine.interval_us > 0 &&
		    pthread_create(&s->refiner, NULL, refiner_main, s) == 0)
			s->refiner_started = 1;
		if (rc == CL_OK) {
			struct cl_pipeline p[CL_PIPELINES_MAX];
			struct cl_expectation e[CL_EXPECTATIONS_MAX];
			int np = 0, ne = 0;

			struct cl_csv_map_decl m[CL_CSV_DECLS_MAX];
			int nm = 0;

			rc = cl_config_pipelines(cfg, p, &np, 1);
			if (rc == CL_OK)
				rc = cl_config_expectations(cfg, e, &ne, 1);
			if (rc == CL_OK)
				rc = cl_config_mappings(cfg, m, &nm, 1);
			if (rc == CL_OK)
				rc = cl_csv_map_register(m, nm);
			if (rc == CL_OK && np) {
				struct cl_lake_opts lake;

				cl_lake_opts_from_config(&lake, cfg);
				rc = cl_pipeline_runner_start(data_dir, p, np, e, ne,
							      cfg->refine.references, &lake,
							      cfg->lake.interval_us, pipeline_failed,
							      s, &s->pipelines);
			}
		}
		/* after the stream, which creates the outbox it reads */
		if (rc == CL_OK && cfg->webhook.url[0]) {
			struct cl_webhook *w = NULL;

			rc = cl_webhook_start(cfg->webhook.url, (int)cfg->webhook.attempts,
					      cfg->webhook.backoff_us, cfg->webhook.timeout_us,
					      data_dir, &w);
			__atomic_store_n(&s->webhook, w, __ATOMIC_RELEASE);
		}
	}
	if (rc == CL_OK) {
		cl_blog_set_notify(s->vitals, on_commit_vitals, s);
		cl_blog_set_notify(s->fhir, on_commit_fhir, s);
		cl_blog_set_written_notify(s->vitals, on_written, s);
		cl_blog_set_written_notify(s->fhir, on_written, s);
		rc = cl_http_start(s);
	}
	if (rc == CL_OK && cfg->mqtt.broker[0]) {
		struct cl_mqtt_options mo;

		memset(&mo, 0, sizeof(mo));
		rc = cl_mqtt_parse_broker(cfg->mqtt.broker, &mo);
		snprintf(mo.topic, sizeof(mo.topic), "%s", cfg->mqtt.topic);
		snprintf(mo.client_id, sizeof(mo.client_id), "%s", cfg->mqtt.client_id);
		mo.keepalive_s = (uint16_t)(cfg->mqtt.keepalive_us / 1000000);
		mo.qos = (int)cfg->mqtt.qos;
		if (rc == CL_OK)
			rc = cl_mqtt_in_start(&mo, s->ingest, &s->mqtt);
	}
	if (rc) {
		char msg[600];

		snprintf(msg, sizeof(msg), "%s", cl_error_detail());
		cl_server_stop(s);
		return cl_error_set(rc, "%s", msg);
	}
	cl_log_info("serve", "event=started port=%u", s->port);
	*out = s;
	return CL_OK;
}

void cl_server_stop(struct cl_server *s)
{
	if (!s)
		return;
	cl_http_stop(s);
	/* no more commit callbacks into what is about to stop */
	if (s->vitals) {
		cl_blog_set_notify(s->vitals, NULL, NULL);
		cl_blog_set_written_notify(s->vitals, NULL, NULL);
	}
	if (s->fhir) {
		cl_blog_set_notify(s->fhir, NULL, NULL);
		cl_blog_set_written_notify(s->fhir, NULL, NULL);
	}
	cl_mqtt_in_stop(s->mqtt);
	cl_pipeline_runner_stop(s->pipelines); /* before the stream its alerts go to */
	cl_stream_stop(s->stream);  /* applies what is durable, checkpoints */
	cl_bronze_close(s->bronze); /* commits what was accepted */
	cl_webhook_stop(s->webhook); /* what it cannot deliver stays in the outbox */
	atomic_store(&s->ticker_stop, 1);
	if (s->ticker_started)
		pthread_join(s->ticker, NULL);
	if (s->refiner_started) {
		pthread_mutex_lock(&s->refine_mu);
		pthread_cond_signal(&s->refine_cv);
		pthread_mutex_unlock(&s->refine_mu);
		pthread_join(s->refiner, NULL);
	}
	cl_sse_destroy(s->sse);
	cl_ingest_destroy(s->ingest);
	cl_dedupe_destroy(s->dedupe);
	cl_ingest_destroy(s->fhir_ingest);
	cl_dedupe_destroy(s->fhir_dedupe);
	cl_auth_close(s->auth);
	pthread_mutex_destroy(&s->wait_mu);
	cl_free(s);
}

uint16_t cl_server_port(const struct cl_server *s)
{
	return s->port;
}

int cl_server_created_token(const struct cl_server *s)
{
	return s->created_token;
}

const char *cl_server_token_path(const struct cl_server *s)
{
	return cl_auth_admin_token_path(s->auth);
}
