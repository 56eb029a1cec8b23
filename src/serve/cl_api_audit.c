/*
 * GET /fhir/AuditEvent?patient=&agent=&date=ge..&date=le..&action=&subtype=&_count=:
 * the audit trail as a FHIR searchset Bundle of AuditEvents
 * (audit/cl_audit_fhir.h), for the compliance role and admin; a patient
 * token sees only the events about its own patient, whatever it asks.
 * This search is itself recorded (the route's audit row).
 *
 * For compliance officers (audit-reports): GET /api/v1/audit/verify, the
 * chain checked as `carelake audit verify` checks it, and GET
 * /api/v1/audit/accesses?since=&until=, the accesses per user.
 */
#include "cl_api.h"
#include "cl_server_int.h"
#include "audit/cl_audit_fhir.h"
#include "audit/cl_audit_read.h"
#include "core/cl_error.h"
#include "core/cl_map.h"
#include "core/cl_time.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define DEFAULT_COUNT 100

struct params {
	struct cl_audit_filter f;
	size_t count;
	int rc;          /* the first parameter's error */
	char why[300];
};

static int one_param(void *arg, const char *name, const char *value)
{
	struct params *p = arg;
	int rc = cl_audit_fhir_param(&p->f, &p->count, name, value);

	if (rc) {
		p->rc = rc;
		snprintf(p->why, sizeof(p->why), "%s", cl_error_detail());
	}
	return rc;
}

int cl_api_audit_events(struct cl_req *r)
{
	struct params p = { .count = DEFAULT_COUNT };
	json_t *bundle = NULL;
	int rc;

	if (!r->s->audit)
		return cl_reply_error(r, 404, "not_found", "the audit trail is off (audit.enabled 0)",
				      NULL, NULL);
	rc = cl_req_each_query(r, one_param, &p);
	if (rc)
		return cl_reply_error(r, 400, "bad_request", p.rc ? p.why : cl_error_detail(), NULL,
				      NULL);
	/* a patient token: access to its own record, and nothing else */
	if (r->who.patient[0]) {
		r->audit.patient = r->who.patient;
		if (p.f.patient && strcmp(p.f.patient, r->who.patient) != 0) {
			r->audit.count = 0;
			return cl_reply_json(r, 200, json_pack("{s:s,s:s,s:i,s:[]}", "resourceType",
							       "Bundle", "type", "searchset",
							       "total", 0, "entry"));
		}
		p.f.patient = r->who.patient;
	}
	r->audit.patient = p.f.patient;
	rc = cl_audit_fhir_search(r->s->audit_dir, &p.f, p.count, &bundle);
	if (rc)
		return cl_reply_error(r, 500, "audit", cl_error_detail(), NULL, NULL);
	r->audit.count = (int64_t)json_array_size(json_object_get(bundle, "entry"));
	return cl_reply_json(r, 200, bundle);
}

int cl_api_audit_verify(struct cl_req *r)
{
	struct cl_audit_verify v;
	char now[40];
	json_t *j;

	if (!r->s->audit)
		return cl_reply_error(r, 404, "not_found", "the audit trail is off (audit.enabled 0)",
				      NULL, NULL);
	memset(&v, 0, sizeof(v));
	if (cl_audit_verify(r->s->audit_dir, NULL, &v) < 0)
		return cl_reply_error(r, 500, "audit", cl_error_detail(), NULL, NULL);
	cl_time_format_rfc3339(cl_time_now_us(), now, sizeof(now), 3);
	j = json_pack("{s:s,s:b,s:I,s:I,s:I,s:I,s:I}", "at", now, "ok", v.ok, "records",
		      (json_int_t)v.records, "checkpoints", (json_int_t)v.checkpoints, "last_seq",
		      (json_int_t)v.last_seq, "uncovered", (json_int_t)v.uncovered, "torn_bytes",
		      (json_int_t)v.torn_bytes);
	if (j && !v.ok)
		json_object_set_new(j, "problem", json_pack("{s:s,s:I,s:I,s:s}", "file", v.file, "line",
							    (json_int_t)v.line, "seq",
							    (json_int_t)v.seq, "what", v.problem));
	return cl_reply_json(r, 200, j);
}

/* One principal's accesses. */
struct who_sum {
	char role[33];
	int64_t requests, patients, break_glass, refused, last_us;
	json_t *actions;             /* action -> count */
};

struct sums {
	struct cl_map *who;          /* principal -> struct who_sum */
	struct cl_map *seen;         /* principal \0 patient -> (void *)1 */
	int err;
};

static int sum_one(void *arg, const struct cl_audit_entry *e)
{
	struct sums *x = arg;
	const struct cl_audit_record *rec = &e->rec;
	const char *who = rec->principal ? rec->principal : "";
	void **slot = cl_map_slot(x->who, who, strlen(who), 1);
	struct who_sum *w;

	if (!slot)
		return x->err = CL_ENOMEM;
	if (!*slot) {
		*slot = calloc(1, sizeof(struct who_sum));
		if (!*slot)
			return x->err = CL_ENOMEM;
		((struct who_sum *)*slot)->actions = json_object();
	}
	w = *slot;
	snprintf(w->role, sizeof(w->role), "%s", rec->role ? rec->role : "");
	w->requests++;
	w->break_glass += rec->break_glass && *rec->break_glass;
	w->refused += rec->status == 401 || rec->status == 403;
	if (rec->time_us > w->last_us)
		w->last_us = rec->time_us;
	if (rec->action) {
		json_t *n = json_object_get(w->actions, rec->action);

		json_object_set_new(w->actions, rec->action,
				    json_integer((n ? json_integer_value(n) : 0) + 1));
	}
	for (size_t i = 0; i < rec->npatients; i++) {
		char key[600];
		int n = snprintf(key, sizeof(key), "%s%c%s", who, 0, rec->patients[i]);
		void **p = n > 0 && (size_t)n < sizeof(key) ? cl_map_slot(x->seen, key, (size_t)n, 1)
							  : NULL;

		if (p && !*p) {
			*p = (void *)1;
			w->patients++;
		}
	}
	return 0;
}

static void to_json(void *arg, const void *key, size_t len, void **value)
{
	struct who_sum *w = *value;
	char last[40];

	cl_time_format_rfc3339(w->last_us, last, sizeof(last), 3);
	json_array_append_new(arg, json_pack("{s:s#,s:s,s:I,s:I,s:I,s:I,s:s,s:O}", "principal", key,
					     len, "role", w->role, "requests",
					     (json_int_t)w->requests, "patients",
					     (json_int_t)w->patients, "break_glass",
					     (json_int_t)w->break_glass, "refused",
					     (json_int_t)w->refused, "last", last, "actions",
					     w->actions));
}

static void free_sum(void *v)
{
	struct who_sum *w = v;

	json_decref(w->actions);
	free(w);
}

static int by_requests(const void *a, const void *b)
{
	json_int_t x = json_integer_value(json_object_get(*(json_t *const *)a, "requests"));
	json_int_t y = json_integer_value(json_object_get(*(json_t *const *)b, "requests"));

	return x < y ? 1 : x > y ? -1 : 0;
}

int cl_api_audit_accesses(struct cl_req *r)
{
	struct cl_audit_filter f = { 0 };
	struct sums x = { 0 };
	json_t *list, *sorted;
	int rc;

	if (!r->s->audit)
		return cl_reply_error(r, 404, "not_found", "the audit trail is off (audit.enabled 0)",
				      NULL, NULL);
	if (cl_api_time_arg(r, "since", cl_time_now_us() - 7 * 86400ll * 1000000, &f.since_us) !=
		    CL_OK ||
	    cl_api_time_arg(r, "until", 0, &f.until_us) != CL_OK)
		return cl_reply_error(r, 400, "bad_request", cl_error_detail(), NULL, NULL);
	if (cl_map_create(&x.who) != CL_OK || cl_map_create(&x.seen) != CL_OK) {
		cl_map_destroy(x.who, free_sum);
		cl_map_destroy(x.seen, NULL);
		return cl_reply_error(r, 503, "busy", "out of memory; retry later", "Retry-After", "1");
	}
	rc = cl_audit_search(r->s->audit_dir, &f, sum_one, &x);
	list = json_array();
	cl_map_foreach(x.who, to_json, list);
	cl_map_destroy(x.who, free_sum);
	cl_map_destroy(x.seen, NULL);
	if (rc) {
		json_decref(list);
		return cl_reply_error(r, 500, "audit", x.err ? "out of memory reading the trail"
							: cl_error_detail(), NULL, NULL);
	}
	/* most requests first */
	{
		size_t n = json_array_size(list);
		json_t **v = calloc(n ? n : 1, sizeof(*v));

		sorted = json_array();
		for (size_t i = 0; v && i < n; i++)
			v[i] = json_array_get(list, i);
		if (v)
			qsort(v, n, sizeof(*v), by_requests);
		for (size_t i = 0; v && i < n; i++)
			json_array_append(sorted, v[i]);
		free(v);
		json_decref(list);
	}
	r->audit.count = (int64_t)json_array_size(sorted);
	return cl_reply_json(r, 200, json_pack("{s:o}", "principals", sorted));
}
