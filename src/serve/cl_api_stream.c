/*
 * GET /api/v1/stream?patient=&vitals=true|false: the live stream of vital
 * and alert events as server-sent events (cl_sse.h), of what the caller's
 * role may see: a patient token, its own patient's and nothing else; an
 * engineer, alerts of no patient (a pipeline that failed) and no vitals;
 * compliance, access alerts (break-glass reads) and nothing else; admin,
 * everything. A clinician limited to wards streams one patient at a time
 * (?patient=), one its wards hold or one it breaks the glass for.
 */
#include "cl_api.h"
#include "cl_server_int.h"
#include "core/cl_error.h"
#include "store/cl_store.h"

#include <string.h>

int cl_api_stream_get(struct cl_req *r)
{
	const char *patient = cl_req_query(r, "patient");
	const char *vit = cl_req_query(r, "vitals");
	struct cl_sse_filter f = { .patient = patient };
	struct cl_req_stream *src;

	if (vit && strcmp(vit, "true") && strcmp(vit, "false"))
		return cl_reply_error(r, 400, "bad_request", "'vitals' must be true or false", NULL,
				      NULL);
	f.vitals = !vit || strcmp(vit, "true") == 0;
	if (r->who.role == CL_ROLE_CLINICIAN && r->who.wards[0]) {
		struct cl_store *st;
		int go;

		if (!patient || !*patient)
			return cl_reply_error(r, 403, "forbidden", "a clinician limited to wards "
					      "streams one patient at a time: add ?patient=ID", NULL,
					      NULL);
		if (cl_store_open(r->s->data_dir, &st) != CL_OK)
			return cl_reply_error(r, 500, "store", cl_error_detail(), NULL, NULL);
		go = cl_api_patient_access(r, st, patient);
		cl_store_close(st);
		if (go != 1)
			return go;
		f.bound = 1;
	}
	if (r->who.patient[0]) {
		if (patient && *patient && strcmp(patient, r->who.patient) != 0)
			return cl_reply_error(r, 404, "not_found", "no such patient", NULL, NULL);
		f.patient = r->who.patient;
		f.bound = 1;
	}
	f.no_patients = r->who.role == CL_ROLE_ENGINEER;
	f.access = r->who.role == CL_ROLE_COMPLIANCE ? CL_SSE_ACCESS_ONLY
		   : r->who.role == CL_ROLE_ADMIN ? CL_SSE_ACCESS_TOO : 0;
	r->audit.patient = f.patient;
	if (cl_sse_subscribe(r->s->sse, &f, &src) != CL_OK)
		return cl_reply_error(r, 503, "busy", "out of memory; retry later", "Retry-After", "1");
	return cl_reply_stream(r, 200, "text/event-stream", src);
}
