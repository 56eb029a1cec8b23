/*
 * Who may read one patient's data, beyond what the role allows (the route
 * table has checked that): a patient-bound token its own patient only (any
 * other is answered 404, as if it did not exist); a clinician limited to
 * wards the patients in those wards (cl_store_patient_ward), and any other
 * only by breaking the glass — `X-Break-Glass: <reason>` — which is
 * allowed, recorded in the audit trail with its reason under the action
 * "break-glass", counted, logged, and raised as an access alert for
 * compliance.
 */
#include "cl_api.h"
#include "cl_serve_audit.h"
#include "cl_server_int.h"
#include "core/cl_error.h"
#include "store/cl_store.h"

#include <stdio.h>
#include <string.h>

#define BREAK_GLASS_MAX 256  /* longest reason */

/* 1 if ward is one of the ','-separated list. */
static int ward_listed(const char *list, const char *ward)
{
	size_t n = strlen(ward);

	for (const char *p = list; *p;) {
		size_t len = strcspn(p, ",");

		if (len == n && strncmp(p, ward, n) == 0)
			return 1;
		p += len + (p[len] == ',');
	}
	return 0;
}

/* The reason of an X-Break-Glass header, or NULL; *bad when it is there
 * but empty or too long. */
static const char *break_glass_reason(const struct cl_req *r, int *bad)
{
	const char *v = cl_req_header(r, "X-Break-Glass");
	size_t n;

	*bad = 0;
	if (!v)
		return NULL;
	while (*v == ' ' || *v == '\t')
		v++;
	n = strlen(v);
	if (n == 0 || n > BREAK_GLASS_MAX) {
		*bad = 1;
		return NULL;
	}
	return v;
}

/* A clinician limited to wards: the patient's ward must be one of them,
 * or the glass broken. 1 to go on, else the reply's result. */
static int ward_check(struct cl_req *r, struct cl_store *st, const char *patient)
{
	char ward[128], msg[CL_WARDS_MAX + 400];
	const char *reason;
	int bad, rc = cl_store_patient_ward(st, patient, ward, sizeof(ward));

	if (rc != CL_OK)
		return cl_reply_error(r, 500, "store", cl_error_detail(), NULL, NULL);
	if (ward[0] && ward_listed(r->who.wards, ward))
		return 1;
	reason = break_glass_reason(r, &bad);
	if (bad) {
		snprintf(msg, sizeof(msg), "X-Break-Glass needs a reason of 1 to %d characters",
			 BREAK_GLASS_MAX);
		return cl_reply_error(r, 400, "bad_request", msg, NULL, NULL);
	}
	if (!reason) {
		snprintf(msg, sizeof(msg), "this patient is %s your wards (%s); to read their data in "
			 "an emergency send X-Break-Glass: <reason> (recorded and reviewed)",
			 ward[0] ? "outside" : "in no ward known to be one of", r->who.wards);
		return cl_reply_error(r, 403, "forbidden", msg, NULL, NULL);
	}
	r->audit.break_glass = reason;
	cl_serve_audit_break_glass(r, st, patient);
	return 1;
}

int cl_api_patient_access(struct cl_req *r, struct cl_store *st, const char *patient)
{
	r->audit.patient = patient;
	/* a patient token sees its own patient; any other is as if it did not exist */
	if (r->who.patient[0] && strcmp(patient, r->who.patient) != 0)
		return cl_reply_error(r, 404, "not_found", "no such patient", NULL, NULL);
	if (r->who.role == CL_ROLE_CLINICIAN && r->who.wards[0])
		return ward_check(r, st, patient);
	return 1;
}
