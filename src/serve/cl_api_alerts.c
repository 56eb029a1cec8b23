/*
 * Alerts: GET /api/v1/alerts?since=&patient=&open=true|false&limit= and
 * POST /api/v1/alerts/{id}/ack.
 */
#include "cl_api.h"
#include "cl_server_int.h"
#include "core/cl_error.h"
#include "core/cl_time.h"
#include "store/cl_store.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int cl_api_time_arg(const struct cl_req *r, const char *name, int64_t def, int64_t *out)
{
	const char *v = cl_req_query(r, name);

	if (!v || !*v) {
		*out = def;
		return CL_OK;
	}
	if (cl_time_parse_rfc3339(v, strlen(v), out) != CL_OK)
		return cl_error_set(CL_EINVAL, "'%s' must be an RFC 3339 time: %s", name,
				    cl_error_detail());
	return CL_OK;
}

int cl_api_alerts_get(struct cl_req *r)
{
	const char *patient = cl_req_query(r, "patient");
	const char *open = cl_req_query(r, "open");
	const char *lim = cl_req_query(r, "limit");
	struct cl_store *st;
	uint64_t limit = 1000;
	int64_t since;
	char *rows = NULL;
	int rc;

	if (cl_api_time_arg(r, "since", INT64_MIN / 2, &since) != CL_OK ||
	    (lim && cl_parse_u64(lim, 1, 100000, &limit) != CL_OK))
		return cl_reply_error(r, 400, "bad_request", cl_error_detail(), NULL, NULL);
	if (open && strcmp(open, "true") && strcmp(open, "false"))
		return cl_reply_error(r, 400, "bad_request", "'open' must be true or false", NULL,
				      NULL);
	/* a patient token: its own patient's alerts, whatever else it asks */
	if (r->who.patient[0]) {
		if (patient && *patient && strcmp(patient, r->who.patient) != 0)
			return cl_reply_json(r, 200, json_pack("{s:[]}", "alerts"));
		patient = r->who.patient;
	}
	rc = cl_store_open(r->s->data_dir, &st);
	if (rc == CL_OK) {
		rc = cl_store_alerts_json(st, since, patient && *patient ? patient : NULL,
					  open && strcmp(open, "true") == 0, 0, (int)limit, &rows);
		cl_store_close(st);
	}
	r->audit.patient = patient;
	if (rc != CL_OK)
		return cl_reply_error(r, 500, "store", cl_error_detail(), NULL, NULL);
	{
		json_t *list = json_loads(rows, 0, NULL), *j;

		r->audit.count = (int64_t)json_array_size(list);
		j = json_pack("{s:o}", "alerts", list);
		free(rows);
		return cl_reply_json(r, 200, j);
	}
}

int cl_api_alert_ack(struct cl_req *r)
{
	char *rows = NULL;
	struct cl_store *st;
	uint64_t id;
	int rc, changed = 0;
	json_t *arr;

	r->audit.resource_id = r->param[0];
	if (cl_parse_u64(r->param[0], 1, INT64_MAX, &id) != CL_OK)
		return cl_reply_error(r, 404, "not_found", "no such alert", NULL, NULL);
	rc = cl_store_open(r->s->data_dir, &st);
	if (rc == CL_OK) {
		rc = cl_store_alert_ack(st, (int64_t)id, r->who.name, &changed);
		if (rc == CL_OK)
			rc = cl_store_alerts_json(st, INT64_MIN / 2, NULL, 0, (int64_t)id, 1, &rows);
		cl_store_close(st);
	}
	if (rc != CL_OK) {
		free(rows);
		return cl_reply_error(r, 500, "store", cl_error_detail(), NULL, NULL);
	}
	arr = json_loads(rows, 0, NULL);
	free(rows);
	if (json_array_size(arr) == 0) {
		json_decref(arr);
		return cl_reply_error(r, 404, "not_found", "no such alert", NULL, NULL);
	}
	if (!changed) {
		json_decref(arr);
		return cl_reply_error(r, 409, "already_acknowledged",
				      "this alert was acknowledged before", NULL, NULL);
	}
	{
		json_t *a = json_incref(json_array_get(arr, 0));

		json_decref(arr);
		return cl_reply_json(r, 200, a);
	}
}
