/*
 * GET /api/v1/stream?patient=&vitals=true|false: the live stream of vital
 * and alert events as server-sent events (cl_sse.h), of what the caller's
 * role may see: a patient token, its own patient's and nothing else; an
 * engineer, alerts of no patient (a pipeline that failed) and no vitals;
 * compliance, access alerts (break-glass reads) and nothing else; admin,
 * everything. A clinician limited to wards streams the patients its wards
 * hold when it subscribes (those its board shows: cl_store_board_json),
 * or one patient (?patient=) its wards hold or it breaks the glass for.
 */
#include "cl_api.h"
#include "cl_server_int.h"
#include "core/cl_error.h"
#include "store/cl_store.h"
#include "store/cl_store_board.h"

#include <stdlib.h>
#include <string.h>

/* The patients of the wards `wards` (',' separated) the stream has seen,
 * into *list (a JSON array of their ids' strings, to free). */
static int ward_patients(struct cl_req *r, json_t **list)
{
	struct cl_store_board_filter bf = { .wards = r->who.wards, .since_us = 0, .limit = 10000 };
	struct cl_store *st;
	char *rows = NULL;
	json_t *all;
	size_t i;
	json_t *v;
	int rc = cl_api_store(r, &st);

	*list = NULL;
	if (rc != CL_OK)
		return rc;
	rc = cl_store_board_json(st, &bf, &rows);
	cl_api_store_done(st);
	if (rc != CL_OK)
		return rc;
	all = json_loads(rows, 0, NULL);
	free(rows);
	*list = json_array();
	if (!all || !*list) {
		json_decref(all);
		return cl_error_set(CL_ENOMEM, "out of memory for the wards' patients");
	}
	json_array_foreach(all, i, v)
		if (json_is_string(json_object_get(v, "patient_id")))
			json_array_append(*list, json_object_get(v, "patient_id"));
	json_decref(all);
	return CL_OK;
}

int cl_api_stream_get(struct cl_req *r)
{
	const char *patient = cl_req_query(r, "patient");
	const char *vit = cl_req_query(r, "vitals");
	struct cl_sse_filter f = { .patient = patient };
	struct cl_req_stream *src;
	const char **names = NULL;
	json_t *ids = NULL;
	int rc;

	if (vit && strcmp(vit, "true") && strcmp(vit, "false"))
		return cl_reply_error(r, 400, "bad_request", "'vitals' must be true or false", NULL,
				      NULL);
	f.vitals = !vit || strcmp(vit, "true") == 0;
	if (r->who.role == CL_ROLE_CLINICIAN && r->who.wards[0] && (!patient || !*patient)) {
		/* its wards' patients */
		if (ward_patients(r, &ids) != CL_OK) {
			json_decref(ids);
			return cl_reply_error(r, 500, "store", cl_error_detail(), NULL, NULL);
		}
		f.npatients = json_array_size(ids);
		names = calloc(f.npatients ? f.npatients : 1, sizeof(*names));
		if (!names) {
			json_decref(ids);
			return cl_reply_error(r, 503, "busy", "out of memory; retry later",
					      "Retry-After", "1");
		}
		for (size_t i = 0; i < f.npatients; i++)
			names[i] = json_string_value(json_array_get(ids, i));
		f.patients = names;
		f.bound = 1;
		r->audit.count = (int64_t)f.npatients;
	} else if (r->who.role == CL_ROLE_CLINICIAN && r->who.wards[0]) {
		/* one patient: its wards', or with break-glass */
		struct cl_store *st;
		int go;

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
	rc = cl_sse_subscribe(r->s->sse, &f, &src);   /* copies the names */
	free(names);
	json_decref(ids);
	if (rc != CL_OK)
		return cl_reply_error(r, 503, "busy", "out of memory; retry later", "Retry-After", "1");
	return cl_reply_stream(r, 200, "text/event-stream", src);
}
