/*
 * Alert webhooks. See cl_webhook.h.
 */
#include "cl_webhook.h"
#include "core/cl_error.h"
#include "core/cl_fs.h"
#include "core/cl_log.h"
#include "core/cl_mem.h"
#include "core/cl_prom.h"
#include "core/cl_time.h"
#include "core/cl_worker.h"
#include "store/cl_store.h"
#include "store/cl_store_outbox.h"

#include <curl/curl.h>
#include <fcntl.h>
#include <jansson.h>
#include <limits.h>
#include <stddef.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#define CURSOR "webhook"  /* its cursor in the outbox (cl_store_outbox.h) */

struct item {
	char *json;
	size_t len;
};

struct cl_webhook {
	char url[1024];
	char data_dir[PATH_MAX];
	int attempts;
	int64_t backoff_us, timeout_us;
	int no_patients;                 /* an engineer receiver: alerts of no patient only */
	int access;                      /* access alerts: 0 none, 1 too (admin), 2 only (compliance) */
	char dead_path[PATH_MAX];
	struct cl_worker *worker;
	pthread_mutex_t mu;              /* guards st */
	struct cl_webhook_stats st;
};

static size_t discard(char *p, size_t sz, size_t n, void *arg)
{
	(void)p;
	(void)arg;
	return sz * n;
}

/* One POST; 0 on a 2xx answer, else CL_EIO with the reason. */
static int post_once(struct cl_webhook *w, CURL *c, const struct item *it)
{
	struct curl_slist *h = curl_slist_append(NULL, "Content-Type: application/json");
	long code = 0;
	CURLcode rc;

	curl_easy_reset(c);
	curl_easy_setopt(c, CURLOPT_URL, w->url);
	curl_easy_setopt(c, CURLOPT_HTTPHEADER, h);
	curl_easy_setopt(c, CURLOPT_POSTFIELDS, it->json);
	curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE, (long)it->len);
	curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, (long)(w->timeout_us / 1000));
	curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, discard);
	rc = curl_easy_perform(c);
	if (rc == CURLE_OK)
		curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &code);
	curl_slist_free_all(h);
	if (rc != CURLE_OK)
		return cl_error_set(CL_EIO, "%s", curl_easy_strerror(rc));
	if (code < 200 || code > 299)
		return cl_error_set(CL_EIO, "the receiver answered HTTP %ld", code);
	return CL_OK;
}

static void dead_letter(struct cl_webhook *w, const struct item *it, int attempts)
{
	json_t *line = json_pack("{s:s,s:s,s:i,s:o}", "error", cl_error_detail(), "url", w->url,
				 "attempts", attempts, "alert",
				 json_loadb(it->json, it->len, 0, NULL));
	char *text = json_dumps(line, JSON_COMPACT);
	char dir[PATH_MAX], *slash;
	int fd;

	json_decref(line);
	snprintf(dir, sizeof(dir), "%s", w->dead_path);
	slash = strrchr(dir, '/');
	if (slash)
		*slash = '\0';
	cl_fs_mkdirs(dir);
	fd = open(w->dead_path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600);
	if (fd < 0 || !text ||
	    cl_fs_write_all(fd, text, strlen(text), w->dead_path) != CL_OK ||
	    cl_fs_write_all(fd, "\n", 1, w->dead_path) != CL_OK ||
	    cl_fs_datasync(fd, w->dead_path) != CL_OK)
		cl_log_error("webhook", "event=dead_letter_failed path=%s", CL_LOG_Q(w->dead_path));
	else
		cl_log_warn("webhook", "event=dead_lettered attempts=%d", attempts);
	if (fd >= 0)
		close(fd);
	free(text);
}

/* Delivers one alert with retries and backoff. CL_OK: delivered;
 * CL_EIO: every attempt failed; CL_ECLOSED: stopping, left queued. */
static int deliver(struct cl_webhook *w, struct cl_worker *wk, CURL *c, const struct item *it,
		   int *tries)
{
	int64_t wait = w->backoff_us;
	int rc;

	for (*tries = 1;; (*tries)++, wait *= 2) {
		rc = c ? post_once(w, c, it) : cl_error_set(CL_ENOMEM, "no curl handle");
		if (rc == CL_OK || *tries >= w->attempts)
			return rc;
		pthread_mutex_lock(&w->mu);
		w->st.retries++;
		pthread_mutex_unlock(&w->mu);
		if (cl_worker_wait(wk, wait > 10000000 ? 10000000 : wait))
			return CL_ECLOSED; /* stays in the outbox for the next start */
	}
}

/* 1 when the receiver's role may see the alert of this JSON: an access
 * alert ("category":"access") only a receiver that reviews access; a
 * clinical one any other, but an engineer only those of no patient. One
 * that cannot be read is withheld rather than shown to the wrong one. A
 * retrospective alert (learned from late data after its episode ended) is
 * nobody's page: withheld too. */
static int may_see(const struct cl_webhook *w, const char *json)
{
	json_t *j = json_loads(json, 0, NULL), *p;
	const char *cat;
	int named, access, ok, retro;

	if (!j)
		return 0;
	cat = json_string_value(json_object_get(j, "category"));
	access = cat && strcmp(cat, "access") == 0;
	p = json_object_get(j, "patient_id");
	named = p && !json_is_null(p) && !(json_is_string(p) && !*json_string_value(p));
	retro = json_is_true(json_object_get(j, "retrospective"));
	json_decref(j);
	if (access)
		ok = w->access != 0;
	else
		ok = w->access != 2 && !(w->no_patients && named);
	return ok && !retro;
}

/* Done with seq: the webhook's cursor moves past it. */
static void done(int64_t seq, struct cl_store *st)
{
	if (cl_store_outbox_advance(st, CURSOR, seq) != CL_OK)
		cl_log_error("webhook", "event=outbox_not_updated detail=%s",
			     CL_LOG_Q(cl_error_detail()));
}

/* An alert the receiver's role may not see: passed over, counted. */
static void withhold(struct cl_webhook *w, struct cl_store *st, int64_t seq, struct item *it)
{
	pthread_mutex_lock(&w->mu);
	w->st.withheld++;
	pthread_mutex_unlock(&w->mu);
	cl_free(it->json);
	done(seq, st);
}

/* Reads the outbox in order from its cursor; the cursor passes an entry
 * once it is delivered or dead-lettered, so a kill at any moment loses
 * nothing (an alert may at worst be delivered twice). */
static void webhook_main(struct cl_worker *wk, void *arg)
{
	struct cl_webhook *w = arg;
	CURL *c = curl_easy_init();
	struct cl_store *st = NULL;
	int64_t last = 0;

	while (!st) {
		if (cl_store_open(w->data_dir, &st) != CL_OK ||
		    cl_store_outbox_cursor(st, CURSOR, &last) != CL_OK) {
			cl_store_close(st);
			st = NULL;
			if (cl_worker_wait(wk, 200000))
				goto out;
		}
	}
	for (;;) {
		struct item it;
		int64_t seq, queued = 0;
		int rc = cl_store_outbox_next(st, last, &seq, &it.json), tries = 0;

		if (cl_store_outbox_pending(st, last, &queued) == CL_OK) {
			pthread_mutex_lock(&w->mu);
			w->st.queued = (uint64_t)queued;
			pthread_mutex_unlock(&w->mu);
		}
		if (rc == CL_ENOENT) {
			if (cl_worker_wait(wk, 1000000))
				break;
			continue;
		}
		if (rc != CL_OK) {
			cl_log_error("webhook", "event=outbox_unreadable detail=%s",
				     CL_LOG_Q(cl_error_detail()));
			if (cl_worker_wait(wk, 1000000))
				break;
			continue;
		}
		it.len = strlen(it.json);
		if (!may_see(w, it.json)) {
			withhold(w, st, seq, &it);
			last = seq;
			continue;
		}
		rc = deliver(w, wk, c, &it, &tries);
		if (rc == CL_ECLOSED) {
			cl_free(it.json);
			break;
		}
		pthread_mutex_lock(&w->mu);
		if (rc == CL_OK)
			w->st.delivered++;
		else
			w->st.dead_lettered++;
		pthread_mutex_unlock(&w->mu);
		if (rc != CL_OK)
			dead_letter(w, &it, tries);
		cl_free(it.json);
		done(seq, st);
		last = seq;
		/* at stop: what is already there still goes out, while it can */
		if (rc != CL_OK && cl_worker_stopping(wk))
			break;
	}
out:
	cl_store_close(st);
	curl_easy_cleanup(c);
}

int cl_webhook_start(const struct cl_webhook_settings *ws, const char *data_dir,
		     struct cl_webhook **out)
{
	const char *url = ws->url;
	struct cl_webhook *w;
	int rc;

	if (strncmp(url, "http://", 7) != 0 && strncmp(url, "https://", 8) != 0)
		return cl_error_set(CL_EINVAL, "webhook.url must start with http:// or https://");
	if (strcmp(ws->role, "clinician") && strcmp(ws->role, "admin") &&
	    strcmp(ws->role, "engineer") && strcmp(ws->role, "compliance"))
		return cl_error_set(CL_EINVAL, "webhook.role must be clinician, admin, engineer or "
				    "compliance, not '%s'", ws->role);
	if (!(w = cl_calloc(1, sizeof(*w))))
		return cl_error_set(CL_ENOMEM, "no memory for webhooks");
	w->no_patients = strcmp(ws->role, "engineer") == 0;
	w->access = strcmp(ws->role, "compliance") == 0 ? 2 : strcmp(ws->role, "admin") == 0;
	snprintf(w->url, sizeof(w->url), "%s", url);
	snprintf(w->data_dir, sizeof(w->data_dir), "%s", data_dir);
	snprintf(w->dead_path, sizeof(w->dead_path), "%s/alerts/webhook-dead-letter.ndjson", data_dir);
	w->attempts = ws->attempts > 0 ? (int)ws->attempts : 1;
	w->backoff_us = ws->backoff_us > 0 ? ws->backoff_us : 1000;
	w->timeout_us = ws->timeout_us > 0 ? ws->timeout_us : 5000000;
	pthread_mutex_init(&w->mu, NULL);
	curl_global_init(CURL_GLOBAL_DEFAULT);
	rc = cl_worker_start("cl-webhook", webhook_main, w, &w->worker);
	if (rc) {
		pthread_mutex_destroy(&w->mu);
		cl_free(w);
		return rc;
	}
	*out = w;
	return CL_OK;
}

void cl_webhook_poke(struct cl_webhook *w)
{
	if (w)
		cl_worker_poke(w->worker);
}

void cl_webhook_stop(struct cl_webhook *w)
{
	if (!w)
		return;
	cl_worker_stop(w->worker);
	pthread_mutex_destroy(&w->mu);
	cl_free(w);
}

void cl_webhook_stats(struct cl_webhook *w, struct cl_webhook_stats *st)
{
	pthread_mutex_lock(&w->mu);
	*st = w->st;
	pthread_mutex_unlock(&w->mu);
}

void cl_webhook_metrics(struct cl_webhook *w, struct cl_prom *p)
{
	struct cl_webhook_stats ws;

	cl_webhook_stats(w, &ws);
	cl_prom_counter(p, "carelake_webhook_delivered_total", "Alerts delivered to the webhook.",
			ws.delivered);
	cl_prom_counter(p, "carelake_webhook_retries_total", "Webhook retries.", ws.retries);
	cl_prom_counter(p, "carelake_webhook_dead_lettered_total",
			"Alerts written to the dead-letter file after the last attempt.",
			ws.dead_lettered);
	cl_prom_counter(p, "carelake_webhook_withheld_total",
			"Alerts not sent: the receiver's webhook.role may not see them, or they are "
			"retrospective (learned after their episode ended).",
			ws.withheld);
}

#define SEC 1000000ll
#define F(field) offsetof(struct cl_webhook_settings, field)

static const struct cl_config_entry webhook_entries[] = {
	{ "url", CL_CFG_STRING, "", 0, 0, F(url),
	  "POST every alert opened or closed, and every acknowledgement, to this URL as JSON; "
	  "empty: no webhook", NULL },
	{ "attempts", CL_CFG_U32, "3", 1, 100, F(attempts),
	  "tries per alert before it goes to the dead-letter file", NULL },
	{ "backoff", CL_CFG_DURATION, "1s", 1000, 600 * SEC, F(backoff_us),
	  "wait before the first retry; doubles each time", NULL },
	{ "timeout", CL_CFG_DURATION, "5s", 1000, 600 * SEC, F(timeout_us),
	  "longest a webhook request may take", NULL },
	{ "role", CL_CFG_CHOICE, "clinician", 0, 0, F(role),
	  "what the receiver may see: clinician (every clinical alert), engineer (alerts of "
	  "no patient only), compliance (access alerts only: break-glass reads), admin "
	  "(all of them)", "clinician|admin|engineer|compliance" },
};

const struct cl_config_section cl_webhook_section = {
	.name = "webhook",
	.entries = webhook_entries,
	.nentries = sizeof(webhook_entries) / sizeof(webhook_entries[0]),
	.size = sizeof(struct cl_webhook_settings),
};

const struct cl_webhook_settings *cl_webhook_settings(const struct cl_config *c)
{
	return cl_config_get(c, &cl_webhook_section);
}
