/*
 * The audit trail of `carelake serve`. See cl_serve_audit.h.
 */
#include "cl_serve_audit.h"
#include "cl_route.h"
#include "cl_server_int.h"
#include "audit/cl_audit.h"
#include "core/cl_error.h"
#include "core/cl_log.h"
#include "core/cl_prom.h"
#include "core/cl_time.h"
#include "store/cl_store_access.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

/* The trail's flusher made tickets up to `durable` durable: the held
 * replies may go. */
static void on_durable(void *arg, uint64_t durable, int rc)
{
	struct cl_server *s = arg;

	(void)rc;
	pthread_mutex_lock(&s->http_mu);
	if (s->mhd)
		cl_mhd_on_audit(s->mhd, durable);
	pthread_mutex_unlock(&s->http_mu);
}

int cl_serve_audit_open(struct cl_server *s)
{
	const struct cl_audit_settings *as = cl_audit_settings(&s->cfg);
	struct cl_audit_options o;
	int rc;

	if (!as->enabled) {
		cl_log_warn("audit", "event=audit_off detail=%s",
			    CL_LOG_Q("audit.enabled is 0: no access is recorded (for measurements only)"));
		return CL_OK;
	}
	rc = cl_audit_dir(s->data_dir, s->audit_dir, sizeof(s->audit_dir));
	if (rc)
		return rc;
	cl_audit_options_from(&o, as, s->keys_dir);
	rc = cl_audit_open(s->audit_dir, "serve", &o, &s->audit);
	if (rc)
		return cl_error_set(rc, "cannot open the audit trail in %s: %s", s->audit_dir,
				    cl_error_detail());
	cl_audit_set_notify(s->audit, on_durable, s);
	return CL_OK;
}

void cl_serve_audit_close(struct cl_server *s)
{
	if (!s->audit)
		return;
	cl_audit_set_notify(s->audit, NULL, NULL);
	cl_audit_close(s->audit);
	s->audit = NULL;
}

/* A refusal of who may call a route. */
static int refusal(int code)
{
	return code == 401 || code == 403 || code == 429;
}

int cl_serve_audit_wants(const struct cl_req *r, int code)
{
	if (!r->s->audit || !r->route || r->route->rule.access != CL_ACCESS_TOKEN)
		return 0;
	return r->route->audit.action != NULL || r->audit.action != NULL || refusal(code);
}

int cl_serve_audit_must_wait(const struct cl_req *r, int code)
{
	(void)code;
	return r->route && (r->route->audit.action != NULL || r->audit.action != NULL);
}

/* The record's action: the handler's, the route's, "break-glass" for a
 * read that broke the glass, "access" for a refusal on a route that is
 * not recorded otherwise. */
static const char *action_of(const struct cl_req *r, int code)
{
	if (r->audit.break_glass && code < 400)
		return "break-glass";
	if (r->audit.action)
		return r->audit.action;
	if (r->route->audit.action)
		return r->route->audit.action;
	return "access";
}

/* The record's resource type: the handler's, the route's, else the action the route
 * performs ("ingest-events"). */
static const char *resource_of(const struct cl_req *r)
{
	if (r->audit.resource_type && *r->audit.resource_type)
		return r->audit.resource_type;
	if (r->route->audit.resource)
		return r->route->audit.resource;
	return cl_action_name((enum cl_action)r->route->rule.action);
}

#define QUERY_MAX 1024  /* the longest query text a record keeps */

struct query_text {
	char buf[QUERY_MAX + 4];
	size_t len;
	int cut;
};

/* Appends "name=value" (with '&' between) while it fits; then "...". A
 * token a client put in the URL is never written down. */
static int add_arg(void *arg, const char *name, const char *value)
{
	struct query_text *q = arg;
	int n;

	if (q->cut)
		return 0;
	if (strcasecmp(name, "access_token") == 0 || strcasecmp(name, "token") == 0)
		value = "[withheld]";
	n = snprintf(q->buf + q->len, QUERY_MAX + 1 - q->len, "%s%s=%s", q->len ? "&" : "", name,
		     value ? value : "");
	if (n < 0 || (size_t)n > QUERY_MAX - q->len) {
		q->buf[q->len] = '\0';
		snprintf(q->buf + q->len, sizeof(q->buf) - q->len, "...");
		q->cut = 1;
		return 0;
	}
	q->len += (size_t)n;
	return 0;
}

int cl_serve_audit_record(struct cl_req *r, int code)
{
	struct query_text q = { .len = 0 };
	struct cl_audit_record rec = { 0 };
	const char *ids[1], *patients[1];
	int rc;

	rec.principal = r->who.id[0] ? r->who.id : NULL;
	rec.role = r->who.role != CL_ROLE_NONE && r->who.id[0] ? cl_role_name(r->who.role) : NULL;
	rec.client = r->client;
	rec.request_id = r->request_id;
	rec.action = action_of(r, code);
	rec.resource_type = resource_of(r);
	if (r->audit.resource_id && *r->audit.resource_id) {
		ids[0] = r->audit.resource_id;
		rec.resource_ids = ids;
		rec.nresource_ids = 1;
	}
	if (r->audit.patient && *r->audit.patient) {
		patients[0] = r->audit.patient;
		rec.patients = patients;
		rec.npatients = 1;
	}
	if (cl_req_each_query(r, add_arg, &q) == CL_OK && q.buf[0])
		rec.query = q.buf;
	rec.count = r->audit.count;
	rec.status = code;
	rec.break_glass = r->audit.break_glass;
	rc = cl_audit_append(r->s->audit, &rec, 0, &r->audit_ticket);
	if (rc) {
		atomic_fetch_add(&r->s->audit_failed, 1);
		cl_log_error("audit", "event=not_recorded request_id=%s detail=%s", r->request_id,
			     CL_LOG_Q(cl_error_detail()));
		return rc;
	}
	r->audited = 1;
	return CL_OK;
}

int cl_serve_audit_wait(struct cl_req *r)
{
	return cl_audit_wait(r->s->audit, r->audit_ticket);
}

int cl_serve_audit_ready(const struct cl_req *r, int *rc)
{
	return cl_audit_poll(r->s->audit, r->audit_ticket, rc);
}

void cl_serve_audit_break_glass(struct cl_req *r, struct cl_store *st, const char *patient)
{
	struct cl_access_alert a = {
		.kind = "break-glass", .ts_us = cl_time_now_us(), .principal = r->who.id,
		.role = cl_role_name(r->who.role), .patient = patient,
		.reason = r->audit.break_glass, .request_id = r->request_id, .client = r->client,
	};
	char *json = NULL;

	atomic_fetch_add(&r->s->break_glass, 1);
	cl_log_warn("audit", "event=break_glass principal=%s role=%s request_id=%s",
		    CL_LOG_Q(r->who.id), cl_role_name(r->who.role), r->request_id);
	if (cl_store_access_alert_raise(st, &a, &json) != CL_OK) {
		atomic_fetch_add(&r->s->access_alerts_failed, 1);
		cl_log_error("audit", "event=access_alert_not_stored request_id=%s detail=%s",
			     r->request_id, CL_LOG_Q(cl_error_detail()));
		return;
	}
	cl_sse_publish(r->s->sse, "access-alert", json, strlen(json), patient);
	cl_webhook_poke(__atomic_load_n(&r->s->webhook, __ATOMIC_ACQUIRE));
	free(json);
}

void cl_serve_audit_metrics(struct cl_server *s, struct cl_prom *p)
{
	struct cl_audit_stats st = { 0 };

	cl_prom_counter(p, "carelake_audit_break_glass_total",
			"Reads outside a clinician's wards allowed by X-Break-Glass (each one recorded).",
			(uint64_t)atomic_load(&s->break_glass));
	cl_prom_counter(p, "carelake_access_alerts_not_stored_total",
			"Break-glass reads whose access alert could not be stored (their audit record was).",
			(uint64_t)atomic_load(&s->access_alerts_failed));
	cl_prom_counter(p, "carelake_audit_not_recorded_total",
			"Replies refused because their audit record could not be queued.",
			(uint64_t)atomic_load(&s->audit_failed));
	cl_prom_counter(p, "carelake_http_auth_limited_total",
			"Requests answered 429 after repeated authentication failures from their address.",
			(uint64_t)atomic_load(&s->auth_limited));
	if (!s->audit)
		return;
	cl_audit_get_stats(s->audit, &st);
	cl_prom_counter(p, "carelake_audit_records_total", "Audit records made durable.",
			st.records);
	cl_prom_counter(p, "carelake_audit_checkpoints_total", "Signed audit checkpoints made durable.",
			st.checkpoints);
	cl_prom_counter(p, "carelake_audit_commits_total", "Audit commits (one fdatasync each).",
			st.commits);
	cl_prom_counter(p, "carelake_audit_failed_commits_total", "Audit commits that failed.",
			st.failed_commits);
}
