/*
 * Starting and stopping the platform. See cl_server.h.
 *
 * The order matters and is the same both ways: the bronze store and the
 * inputs' logs first, then the stream processor that follows them, the
 * batch side (pipelines, the refiner), the webhook that reads the
 * stream's outbox, the HTTP transports, and last the inputs' own threads
 * (MQTT); the audit trail opens before the HTTP transports and closes
 * after them, so that every reply it holds is recorded. A stop takes
 * them down in reverse, so that nothing is handed
 * to a part already gone and every accepted record is committed.
 */
#include "cl_authlimit.h"
#include "cl_serve_audit.h"
#include "cl_server_int.h"
#include "auth/cl_keys.h"
#include "bronze/cl_archive.h"
#include "bronze/cl_bronze.h"
#include "bronze/cl_reserve.h"
#include "batch/cl_batch.h"
#include "batch/cl_pipeline.h"
#include "fhir/cl_fhir_export.h"
#include "privacy/cl_deid.h"
#include "store/cl_store.h"
#include "store/cl_store_outbox.h"
#include "core/cl_error.h"
#include "core/cl_fs.h"
#include "core/cl_log.h"
#include "core/cl_mem.h"
#include "core/cl_time.h"
#include "core/cl_worker.h"

#include <sched.h>
#include <stdio.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <unistd.h>

/* A bronze log committed: the requests waiting for it, the inputs on it
 * (MQTT acknowledges), the stream (its rows may be stored now). */
static void on_commit(void *arg, const struct cl_blog_commit *c)
{
	struct cl_server *s = arg;

	cl_http_on_commit(s, c->log, c->batch);
	cl_inputs_on_commit(s->inputs, c->log, c->batch);
	cl_stream_durable(s->stream);
}

static void on_written(void *arg)
{
	struct cl_server *s = arg;

	cl_stream_poke(s->stream);
}

void cl_server_logs(struct cl_server *s, struct cl_blog *logs[CL_SERVER_LOGS],
		    const char *names[CL_SERVER_LOGS])
{
	logs[0] = s->vitals;
	logs[1] = s->fhir;
	logs[2] = s->backlog;
	for (int i = 0; i < CL_SERVER_LOGS; i++)
		names[i] = cl_stream_log((size_t)i);
}

/* Commits and new records of every log reach on_commit and on_written
 * (on 1), or no longer do (0). */
static void notify_logs(struct cl_server *s, int on)
{
	struct cl_blog *logs[CL_SERVER_LOGS];
	const char *names[CL_SERVER_LOGS];

	cl_server_logs(s, logs, names);
	for (int i = 0; i < CL_SERVER_LOGS; i++) {
		if (!logs[i])
			continue;
		cl_blog_set_notify(logs[i], on ? on_commit : NULL, on ? s : NULL);
		cl_blog_set_written_notify(logs[i], on ? on_written : NULL, on ? s : NULL);
	}
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
	cl_out_kafka_poke(__atomic_load_n(&s->kafka_out, __ATOMIC_ACQUIRE));
}

static void live_vital(void *arg, const char *json, size_t len, const char *patient)
{
	struct cl_server *s = arg;

	cl_sse_publish(s->sse, "vital", json, len, patient);
}

static void live_news2(void *arg, const char *json, size_t len, const char *patient)
{
	struct cl_server *s = arg;

	cl_sse_publish(s->sse, "news2", json, len, patient);
}

/* A window changed by late values after it was final. */
static void live_rollup_corrected(void *arg, const char *json, size_t len, const char *patient)
{
	struct cl_server *s = arg;

	cl_sse_publish(s->sse, "rollup_corrected", json, len, patient);
}

static int live_wants_vitals(void *arg)
{
	struct cl_server *s = arg;

	return cl_sse_wants_vitals(s->sse);
}

/* SSE keep-alives every 15 s. */
static void ticker_main(struct cl_worker *w, void *arg)
{
	struct cl_server *s = arg;

	while (!cl_worker_wait(w, 15000000))
		cl_sse_keepalive(s->sse);
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

/* Sealed bronze segments and kept files to the archive, every
 * bronze.archive_interval (bronze/cl_archive.h). A failure is logged and
 * the next round goes on where this one stopped. */
static void archive_bronze(struct cl_server *s, int64_t *last_mono)
{
	const struct cl_blog_options *bo = cl_bronze_settings(&s->cfg);
	struct cl_archive_summary sum;

	if (!bo->archive_uri[0] ||
	    (*last_mono && cl_time_mono_us() - *last_mono < bo->archive_interval_us))
		return;
	*last_mono = cl_time_mono_us();
	if (cl_archive_run(s->data_dir, bo->archive_uri, &s->cfg, &sum) != CL_OK)
		cl_log_error("bronze", "event=archive_failed archived=%lld detail=%s",
			     (long long)sum.files, CL_LOG_Q(cl_error_detail()));
	else if (sum.files)
		cl_log_info("bronze", "event=archived files=%lld bytes=%lld", (long long)sum.files,
			    (long long)sum.bytes);
}

/* The Delta tables' compaction and clean-up, every lake.maintenance_interval. */
static void maintain_lake(struct cl_server *s, int64_t *last_mono)
{
	const struct cl_lake_settings *lake = cl_lake_settings(&s->cfg);
	struct cl_lake_maint m;

	if (!lake->enabled || lake->maintenance_us <= 0 ||
	    (*last_mono && cl_time_mono_us() - *last_mono < lake->maintenance_us))
		return;
	*last_mono = cl_time_mono_us();
	char root[PATH_MAX];
	cl_lake_root(&s->cfg, s->data_dir, root, sizeof(root));
	if (cl_lake_maintain(root, lake->target_file_bytes, lake->retention_us, &m) == CL_OK &&
	    (m.files_removed || m.files_added))
		cl_log_info("lake", "event=maintained compacted=%lld removed=%lld bytes=%lld",
			    (long long)m.files_added, (long long)m.files_removed,
			    (long long)m.bytes_removed);
}

/* The calling thread runs only when the CPUs have nothing else to do:
 * ingest, alerts and the serving store come first. */
static void idle_priority(void)
{
	struct sched_param sp = { 0 };

	if (sched_setscheduler(0, SCHED_IDLE, &sp) != 0)
		setpriority(PRIO_PROCESS, (id_t)syscall(SYS_gettid), 19);
}

/* Every refine.interval: new device events and FHIR posts into silver, at
 * a lower priority than ingest and alerts (`carelake status` shows how far
 * behind). */
static void refiner_main(struct cl_worker *w, void *arg)
{
	struct cl_server *s = arg;
	int64_t interval_us = cl_refine_settings(&s->cfg)->interval_us, maint_mono = 0,
		archive_mono = 0, disk_mono = 0;
	struct cl_batch *b = NULL;

	idle_priority();
	while (!cl_worker_wait(w, interval_us)) {
		struct cl_batch_summary sum;

		if (!cl_reserve_room(s->data_dir, 0, "refine", &disk_mono))
			continue;

		if (!b && (cl_batch_open(s->data_dir, &b) != CL_OK ||
			   cl_batch_configure(b, &s->cfg, cl_lake_settings(&s->cfg)->interval_us) !=
				   CL_OK)) {
			cl_log_error("refine", "event=cannot_open detail=%s", CL_LOG_Q(cl_error_detail()));
			cl_batch_close(b);
			b = NULL;
			continue;
		}
		maintain_lake(s, &maint_mono);
		archive_bronze(s, &archive_mono);
		if (cl_batch_refine(b, 0, &sum) != CL_OK)
			cl_log_error("refine", "event=failed run=%lld detail=%s", (long long)sum.run_id,
				     CL_LOG_Q(sum.error));
		else if (sum.c.records)
			cl_log_info("refine", "event=refined run=%lld records=%llu accepted=%llu "
				    "quarantined=%llu", (long long)sum.run_id,
				    (unsigned long long)sum.c.records, (unsigned long long)sum.c.accepted,
				    (unsigned long long)sum.c.quarantined);
	}
	cl_batch_close(b);
}

/* The silver rows of every run that ended (CSV, XLSX, device events) as
 * the FHIR resources they represent (batch/cl_fhir_rows.h): within a
 * second of the run, at once again while rows are left, at the refiner's
 * priority, on a connection of its own. */
static void fhir_rows_main(struct cl_worker *w, void *arg)
{
	struct cl_server *s = arg;
	struct cl_batch *b = NULL;
	int64_t wait_us = 0, disk_mono = 0;

	idle_priority();
	while (!cl_worker_wait(w, wait_us)) {
		uint64_t kept = 0;
		int more = 0;

		wait_us = 1000000;
		if (!b && !cl_batch_started(s->data_dir))
			continue; /* nothing loaded: the tables come with the first run */
		if (!cl_reserve_room(s->data_dir, 0, "fhir", &disk_mono))
			continue;
		if (!b && cl_batch_open(s->data_dir, &b) != CL_OK) {
			cl_log_error("fhir", "event=cannot_open detail=%s", CL_LOG_Q(cl_error_detail()));
			b = NULL;
			continue;
		}
		if (cl_batch_serve_fhir(b, 20000, &kept, &more) != CL_OK)
			cl_log_error("fhir", "event=rows_failed detail=%s", CL_LOG_Q(cl_error_detail()));
		else if (kept)
			cl_log_info("fhir", "event=rows_served versions=%llu", (unsigned long long)kept);
		if (more)
			wait_us = 0;
	}
	cl_batch_close(b);
}

/* Names the alert outbox's consumers this start runs (cl_store_outbox.h)
 * before anything can write to it; *any: there is one. Empties the rollup
 * outbox when Kafka out does not publish rollups. */
static int outbox_consumers(struct cl_server *s, int *any)
{
	const char *names[2];
	struct cl_store *st = NULL;
	int n = 0, rc;

	if (cl_webhook_settings(&s->cfg)->url[0])
		names[n++] = "webhook";
	if (cl_out_kafka_alerts(&s->cfg))
		names[n++] = CL_OUT_KAFKA_CURSOR;
	*any = n > 0;
	rc = cl_store_create(s->data_dir, &st);
	if (rc == CL_OK)
		rc = cl_store_outbox_consumers(st, names, n);
	/* rollups nobody publishes any more */
	if (rc == CL_OK && !cl_out_kafka_rollups(&s->cfg))
		rc = cl_store_rollup_outbox_clear(st);
	cl_store_close(st);
	return rc;
}

/* The stream processor, following the inputs' logs, publishing live. */
static int start_stream(struct cl_server *s)
{
	struct cl_stream_options so;
	int rc = cl_stream_options_from_config(&so, &s->cfg), outbox = 0;

	if (rc == CL_OK)
		rc = outbox_consumers(s, &outbox);

	if (rc == CL_OK && cl_sse_create(1u << 20, &s->sse) != 0)
		rc = cl_error_set(CL_ENOMEM, "no memory for the live stream");
	if (rc)
		return rc;
	so.on_alert = live_alert;
	so.on_vital = live_vital;
	so.on_news2 = live_news2;
	so.on_rollup_corrected = live_rollup_corrected;
	so.want_vitals = live_wants_vitals;
	so.outbox = outbox;
	if (cl_out_kafka_rollups(&s->cfg)) {
		const char *w = cl_out_kafka_rollups(&s->cfg);
		int found = 0;

		for (int i = 0; i < so.nwindows; i++)
			found |= strcmp(so.windows[i].name, w) == 0;
		if (!found)
			return cl_error_set(CL_EINVAL, "kafka_out.rollups_window '%s' is not a window "
					    "of stream.windows", w);
		snprintf(so.rollup_window, sizeof(so.rollup_window), "%s", w);
	}
	so.on_outbox = outbox_written;
	so.hook_arg = s;
	s->stream_opts = so;
	rc = cl_worker_start("cl-ticker", ticker_main, s, &s->ticker);
	if (rc == CL_OK)
		rc = cl_stream_start(s->data_dir, s->vitals, s->fhir, s->backlog, &so, &s->stream);
	return rc;
}

/* The stream's state rebuild, for the inputs that take over partitions. */
static int stream_rebuild(void *arg, const void *rec, size_t len)
{
	return cl_stream_rebuild(arg, rec, len);
}

static int stream_rebuild_wait(void *arg, int64_t timeout_us)
{
	return cl_stream_rebuild_wait(arg, timeout_us);
}

/* Pipelines, the refiner, the webhook and Kafka out (after the stream,
 * which creates the outbox they read). */
static int start_batch(struct cl_server *s)
{
	const struct cl_webhook_settings *ws = cl_webhook_settings(&s->cfg);
	int rc = cl_batch_register_mappings(&s->cfg);

	if (rc == CL_OK && cl_refine_settings(&s->cfg)->interval_us > 0)
		rc = cl_worker_start("cl-refine", refiner_main, s, &s->refiner);
	if (rc == CL_OK && cl_refine_settings(&s->cfg)->interval_us > 0)
		rc = cl_worker_start("cl-fhir-rows", fhir_rows_main, s, &s->fhir_rows);
	if (rc == CL_OK)
		rc = cl_fhir_exports_start(s->data_dir, s->keys_dir, cl_deid_settings(&s->cfg),
					   &s->exports);
	if (rc == CL_OK)
		rc = cl_pipeline_runner_start(s->data_dir, &s->cfg, pipeline_failed, s, &s->pipelines);
	if (rc == CL_OK && ws->url[0]) {
		struct cl_webhook *w = NULL;

		rc = cl_webhook_start(ws, s->data_dir, &w);
		__atomic_store_n(&s->webhook, w, __ATOMIC_RELEASE);
	}
	if (rc == CL_OK && cl_out_kafka_wanted(&s->cfg)) {
		struct cl_out_kafka *k = NULL;

		rc = cl_out_kafka_start(&s->cfg, s->data_dir, &k);
		__atomic_store_n(&s->kafka_out, k, __ATOMIC_RELEASE);
	}
	return rc;
}

int cl_server_start(const struct cl_config *given, const char *data_dir, const char *keys_dir,
		    struct cl_server **out)
{
	struct cl_server *s;
	int rc;

	*out = NULL;
	s = cl_calloc(1, sizeof(*s));
	if (!s)
		return cl_error_set(CL_ENOMEM, "no memory for the server");
	rc = cl_config_copy(&s->cfg, given);
	if (rc) {
		cl_free(s);
		return rc;
	}
	s->http = cl_http_settings(&s->cfg);
	snprintf(s->data_dir, sizeof(s->data_dir), "%s", data_dir);
	s->started_us = cl_time_now_us();
	pthread_mutex_init(&s->http_mu, NULL);

	rc = cl_keys_dir(keys_dir, data_dir, s->keys_dir, sizeof(s->keys_dir));
	if (rc == CL_OK)
		rc = cl_fs_mkdirs(data_dir);
	if (rc == CL_OK)
		rc = cl_auth_open(data_dir, &s->auth, &s->created_token);
	if (rc == CL_OK)
		rc = cl_auth_use_oidc(s->auth, &s->cfg);
	if (rc == CL_OK)
		rc = cl_authlimit_create(s->http->auth_failures, s->http->auth_failure_window_us,
					 &s->authlimit);
	if (rc == CL_OK)
		rc = cl_sessions_create(cl_web_settings(&s->cfg), &s->sessions);
	if (rc == CL_OK)
		rc = cl_serve_audit_open(s);  /* no patient data is served without it */
	if (rc == CL_OK &&
	    cl_reserve_keep(data_dir, cl_bronze_settings(&s->cfg)->reserve_max_bytes) != CL_OK)
		/* bronze still works, only without its room on a full disk */
		cl_log_warn("bronze", "event=no_reserve detail=%s", CL_LOG_Q(cl_error_detail()));
	if (rc == CL_OK)
		rc = cl_bronze_open(data_dir, cl_bronze_settings(&s->cfg), &s->bronze);
	if (rc == CL_OK)
		rc = cl_inputs_open(&s->cfg, data_dir, s->bronze, &s->inputs);
	if (rc == CL_OK) {
		s->vitals = cl_inputs_log(s->inputs, CL_INPUT_EVENTS);
		s->fhir = cl_inputs_log(s->inputs, CL_INPUT_FHIR);
		s->backlog = cl_inputs_backlog_log(s->inputs);
		s->events_in = cl_inputs_find(s->inputs, "events");
		s->fhir_in = cl_inputs_find(s->inputs, "fhir");
		rc = start_stream(s);
		if (rc == CL_OK)
			cl_inputs_set_rebuild(s->inputs, stream_rebuild, stream_rebuild_wait, s->stream);
	}
	if (rc == CL_OK)
		rc = start_batch(s);
	if (rc == CL_OK) {
		notify_logs(s, 1);
		rc = cl_http_start(s);
	}
	if (rc == CL_OK)
		rc = cl_inputs_run(s->inputs);
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
	cl_http_stop(s);            /* requests in flight answered */
	cl_serve_audit_close(s);    /* their records committed, a last checkpoint signed */
	/* no more commit callbacks into what is about to stop */
	notify_logs(s, 0);
	cl_inputs_stop(s->inputs);  /* nothing more comes in (MQTT disconnects) */
	cl_pipeline_runner_stop(s->pipelines); /* before the stream its alerts go to */
	cl_worker_stop(s->fhir_rows);
	cl_worker_stop(s->refiner);
	cl_fhir_exports_stop(s->exports); /* a job half-way runs again at the next start */
	cl_stream_stop(s->stream);  /* applies what is durable, checkpoints */
	cl_bronze_close(s->bronze); /* commits what was accepted */
	cl_webhook_stop(s->webhook); /* what it cannot deliver stays in the outbox */
	cl_out_kafka_stop(s->kafka_out); /* and what the brokers did not confirm */
	cl_worker_stop(s->ticker);
	cl_sse_destroy(s->sse);
	cl_inputs_destroy(s->inputs);
	cl_auth_close(s->auth);
	cl_authlimit_destroy(s->authlimit);
	cl_sessions_destroy(s->sessions);
	cl_config_free(&s->cfg);
	pthread_mutex_destroy(&s->http_mu);
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
