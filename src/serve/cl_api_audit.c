/*
 * GET /fhir/AuditEvent?patient=&agent=&date=ge..&date=le..&action=&subtype=&_count=:
 * the audit trail as a FHIR searchset Bundle of AuditEvents
 * (audit/cl_audit_fhir.h), for the compliance role and admin; a patient
 * token sees only the events about its own patient, whatever it asks.
 * This search is itself recorded (the route's audit row).
 */
#include "cl_api.h"
#include "cl_server_int.h"
#include "audit/cl_audit_fhir.h"
#include "core/cl_error.h"

#include <stdio.h>
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
