/*
 * Alerts: GET /api/v1/alerts?since=&patient=&open=true|false&category=&limit=
 * and POST /api/v1/alerts/{id}/ack for the patient alerts (clinical and
 * technical); GET /api/v1/alerts/held for what the stream held back
 * (artifacts, runs shorter than a rule's persistence, suppressed repeats),
 * with the reason, for a reviewer; the same for access
 * alerts (break-glass reads, for compliance) under /api/v1/access-alerts.
 * Both kinds are listed and acknowledged alike, each from its own table.
 */
#include "cl_api.h"
#include "cl_server_int.h"
#include "core/cl_error.h"
#include "core/cl_time.h"
#include "store/cl_store.h"
#include "store/cl_store_access.h"

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

/* A kind of alert: its table's list and acknowledgement, and the name
 * of its list in replies. */
struct alert_kind {
	const char *list_name;
	int (*list)(struct cl_store *st, const struct cl_store_alert_filter *f, char **json);
	int (*ack)(struct cl_store *st, int64_t id, const char *by, int *changed);
};

static const struct alert_kind clinical = { "alerts", cl_store_alerts_json, cl_store_alert_ack };
static const struct alert_kind held = { "held", cl_store_alerts_held_json, NULL };
static const struct alert_kind access = { "access_alerts", cl_store_access_alerts_json,
					  cl_store_access_alert_ack };

static int alerts_get(struct cl_req *r, const struct alert_kind *k)
{
	const char *patient = cl_req_query(r, "patient");
	const char *open = cl_req_query(r, "open");
	const char *lim = cl_req_query(r, "limit");
	const char *category = cl_req_query(r, "category");
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
	if (category && strcmp(category, "clinical") && strcmp(category, "technical"))
		return cl_reply_error(r, 400, "bad_request", "'category' must be clinical or technical",
				      NULL, NULL);
	/* a patient token: its own patient's alerts, whatever else it asks */
	if (r->who.patient[0]) {
		if (patient && *patient && strcmp(patient, r->who.patient) != 0)
			return cl_reply_json(r, 200, json_pack("{s:[]}", k->list_name));
		patient = r->who.patient;
	}
	rc = cl_api_store(r, &st);
	if (rc == CL_OK) {
		struct cl_store_alert_filter f = {
			.since_us = since, .patient = patient && *patient ? patient : NULL,
			.open_only = open && strcmp(open, "true") == 0, .limit = (int)limit,
			.wards = r->who.wards[0] ? r->who.wards : NULL,
			.category = category && *category ? category : NULL,
		};

		rc = k->list(st, &f, &rows);
		cl_api_store_done(st);
	}
	r->audit.patient = patient;
	if (rc != CL_OK)
		return cl_reply_error(r, 500, "store", cl_error_detail(), NULL, NULL);
	{
		json_t *list = json_loads(rows, 0, NULL), *j;

		r->audit.count = (int64_t)json_array_size(list);
		j = json_pack("{s:o}", k->list_name, list);
		free(rows);
		return cl_reply_json(r, 200, j);
	}
}

/* Acknowledges alert id if the caller may see it (a clinician limited to
 * wards: an alert of its wards' patients), then reads it back. */
static int ack_visible(struct cl_req *r, const struct alert_kind *k, struct cl_store *st,
		       int64_t id, int *changed, char **rows)
{
	struct cl_store_alert_filter f = { .since_us = INT64_MIN / 2, .id = id, .limit = 1,
					   .wards = r->who.wards[0] ? r->who.wards : NULL };
	int rc = k->list(st, &f, rows);

	if (rc != CL_OK || strcmp(*rows, "[]") == 0)
		return rc;
	free(*rows);
	*rows = NULL;
	rc = k->ack(st, id, r->who.name, changed);
	return rc == CL_OK ? k->list(st, &f, rows) : rc;
}

static int alert_ack(struct cl_req *r, const struct alert_kind *k)
{
	char *rows = NULL, patient[CL_EVENT_ID_MAX + 1];
	struct cl_store *st;
	uint64_t id;
	int rc, changed = 0;
	json_t *arr;

	r->audit.resource_id = r->param[0];
	if (cl_parse_u64(r->param[0], 1, INT64_MAX, &id) != CL_OK)
		return cl_reply_error(r, 404, "not_found", "no such alert", NULL, NULL);
	rc = cl_api_store(r, &st);
	if (rc == CL_OK) {
		rc = ack_visible(r, k, st, (int64_t)id, &changed, &rows);
		cl_api_store_done(st);
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
	{
		json_t *a = json_incref(json_array_get(arr, 0));

		json_decref(arr);
		/* the record names the alert's patient; the reply frees a */
		snprintf(patient, sizeof(patient), "%s",
			 json_string_value(json_object_get(a, "patient_id")) ?: "");
		r->audit.patient = patient;
		if (!changed) {
			json_decref(a);
			return cl_reply_error(r, 409, "already_acknowledged",
					      "this alert was acknowledged before", NULL, NULL);
		}
		/* the acknowledgement is in the outbox for its consumers */
		cl_webhook_poke(__atomic_load_n(&r->s->webhook, __ATOMIC_ACQUIRE));
		cl_out_kafka_poke(__atomic_load_n(&r->s->kafka_out, __ATOMIC_ACQUIRE));
		return cl_reply_json(r, 200, a);
	}
}

int cl_api_alerts_get(struct cl_req *r) { return alerts_get(r, &clinical); }
int cl_api_alert_ack(struct cl_req *r) { return alert_ack(r, &clinical); }
int cl_api_alerts_held_get(struct cl_req *r) { return alerts_get(r, &held); }
int cl_api_access_alerts_get(struct cl_req *r) { return alerts_get(r, &access); }
int cl_api_access_alert_ack(struct cl_req *r) { return alert_ack(r, &access); }
