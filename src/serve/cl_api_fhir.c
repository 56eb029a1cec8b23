/*
 * The FHIR R4 endpoints: POST /fhir/Observation (one Observation, stored
 * as sent), POST /fhir (a batch, transaction or collection Bundle of
 * Observations for the stream), answered once durable — a batch or
 * transaction of anything else is FHIR's REST interactions,
 * cl_api_fhir_bundle.c; GET /fhir/metadata, the
 * CapabilityStatement: exactly the interactions served (reads and
 * searches of every type held, cl_api_fhir_read.c and
 * cl_api_fhir_search.c, Patient $everything; Observation create;
 * AuditEvent search; batch and transaction Bundles). Errors are OperationOutcomes (the routes are
 * marked FHIR in cl_routes.c).
 */
#include "cl_api.h"
#include "cl_route.h"
#include "cl_server_int.h"
#include "core/cl_error.h"
#include "core/cl_time.h"
#include "fhir/cl_fhir_index.h"
#include "store/cl_store.h"
#include "store/cl_store_fhir.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char *item_status(const struct cl_item *it)
{
	switch (it->status) {
	case CL_ITEM_ACCEPTED: return "201 Created";
	case CL_ITEM_DUPLICATE: return "200 OK";
	case CL_ITEM_CONFLICT: return "409 Conflict";
	default: return "400 Bad Request";
	}
}

/* One Observation: itself as stored (201, or 200 for a repeat). */
static int answer_observation(struct cl_req *r, const struct cl_ingest_result *res)
{
	const struct cl_item *it = &res->items[0];
	char loc[128];
	char *body;

	if (it->status == CL_ITEM_REJECTED || it->status == CL_ITEM_CONFLICT)
		return cl_reply_json(r, it->status == CL_ITEM_CONFLICT ? 409 : 400,
				     cl_fhir_outcome("error", it->issue, it->error));
	snprintf(loc, sizeof(loc), "Observation/%s", it->id);
	/* the resource as stored: byte for byte what was sent */
	body = malloc(r->body_len ? r->body_len : 1);
	if (!body)
		return CL_ENOMEM;
	memcpy(body, r->body, r->body_len);
	return cl_reply(r, it->status == CL_ITEM_ACCEPTED ? 201 : 200, "application/fhir+json",
			body, r->body_len, it->id[0] ? "Location" : NULL, loc);
}

/* A Bundle: a batch/transaction-response with an entry per entry, or for
 * a transaction that failed the OperationOutcome of every refused entry. */
static int answer_bundle(struct cl_req *r, const struct cl_ingest_result *res)
{
	char loc[128];
	json_t *b, *entries;
	int t;

	if (res->transaction_failed) {
		json_t *o = json_pack("{s:s,s:[]}", "resourceType", "OperationOutcome", "issue");
		json_t *issues = json_object_get(o, "issue");

		for (uint32_t i = 0; i < res->nitems; i++)
			if (res->items[i].status == CL_ITEM_REJECTED ||
			    res->items[i].status == CL_ITEM_CONFLICT)
				json_array_append_new(issues, json_pack("{s:s,s:s,s:s}", "severity",
									"error", "code", res->items[i].issue,
									"diagnostics", res->items[i].error));
		return cl_reply_json(r, 400, o);
	}
	entries = json_array();
	for (uint32_t i = 0; i < res->nitems; i++) {
		const struct cl_item *it = &res->items[i];
		json_t *resp = json_pack("{s:s}", "status", item_status(it));

		if (it->status == CL_ITEM_REJECTED || it->status == CL_ITEM_CONFLICT) {
			json_object_set_new(resp, "outcome", cl_fhir_outcome("error", it->issue, it->error));
		} else if (it->id[0]) {
			snprintf(loc, sizeof(loc), "Observation/%s", it->id);
			json_object_set_new(resp, "location", json_string(loc));
		}
		json_array_append_new(entries, json_pack("{s:o}", "response", resp));
	}
	t = cl_json_get(&res->doc, 0, "type");
	b = json_pack("{s:s,s:s,s:o}", "resourceType", "Bundle", "type",
		      t >= 0 && cl_json_str_eq(&res->doc, (uint32_t)t, "transaction")
			      ? "transaction-response"
			      : "batch-response",
		      "entry", entries);
	return cl_reply_json(r, 200, b);
}

static int answer(struct cl_req *r, const struct cl_ingest_result *res)
{
	return r->route->handler == cl_api_fhir_observation ? answer_observation(r, res)
							     : answer_bundle(r, res);
}

static int post(struct cl_req *r, enum cl_api_body body)
{
	struct cl_ingest_result *res = NULL;
	int rc = cl_api_ingest(r, r->s->fhir_in, body, &res);

	return rc == CL_API_ANSWER ? answer(r, res) : rc;
}

int cl_api_fhir_observation(struct cl_req *r)
{
	return post(r, CL_API_FHIR_OBSERVATION);
}

int cl_api_fhir_bundle(struct cl_req *r)
{
	/* a batch or transaction of any type: FHIR's REST interactions, on a
	 * thread that may block (the route's `blocks` test kept it off the
	 * fast loops); Observations for the stream, and other Bundles: ingest */
	if (cl_api_fhir_bundle_blocks(r->body, r->body_len))
		return cl_api_fhir_transaction(r);
	return post(r, CL_API_FHIR_BUNDLE);
}

int cl_api_fhir_finish(struct cl_req *r, int commit_rc)
{
	struct cl_ingest_result *res = r->state;

	if (commit_rc != CL_OK)
		return cl_api_ingest_not_stored(r, r->s->fhir_in->ingest, res, commit_rc);
	return answer(r, res);
}

void cl_api_fhir_base(const struct cl_req *r, char *buf, size_t cap)
{
	const char *host = cl_req_header(r, "Host");
	size_t n = host ? strspn(host, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
				 "0123456789.-:[]") : 0;

	if (!host || n == 0 || host[n] != '\0' || n > 200)
		host = "localhost";
	snprintf(buf, cap, "http://%s/fhir", host);
}

int cl_api_fhir_accept(struct cl_req *r)
{
	const char *accept = cl_req_header(r, "Accept");
	char msg[200];

	if (!accept || !*accept || strstr(accept, "json") || strstr(accept, "*/*"))
		return 1;
	snprintf(msg, sizeof(msg), "Accept: %.80s: carelake serves FHIR as JSON only "
		 "(application/fhir+json)", accept);
	return cl_reply_error(r, 406, "not_acceptable", msg, NULL, NULL);
}

/* The CapabilityStatement's entry for a resource type, made on first use. */
static json_t *resource_entry(json_t *list, const char *type)
{
	size_t k;
	json_t *e;

	json_array_foreach(list, k, e)
		if (strcmp(json_string_value(json_object_get(e, "type")), type) == 0)
			return e;
	e = json_pack("{s:s,s:[]}", "type", type, "interaction");
	json_array_append_new(list, e);
	return e;
}

static void add_interaction(json_t *list, const char *type, const char *code)
{
	json_t *all = json_object_get(resource_entry(list, type), "interaction"), *i;
	size_t k;

	json_array_foreach(all, k, i)
		if (strcmp(json_string_value(json_object_get(i, "code")), code) == 0)
			return; /* each once */
	json_array_append_new(all, json_pack("{s:s}", "code", code));
}

static void add_param(void *arg, const struct cl_fhir_param *p)
{
	static const char *const kinds[] = { [CL_FK_TOKEN] = "token", [CL_FK_STRING] = "string",
					     [CL_FK_DATE] = "date", [CL_FK_REF] = "reference",
					     [CL_FK_QUANTITY] = "quantity" };

	json_array_append_new(arg, json_pack("{s:s,s:s}", "name", p->name, "type", kinds[p->kind]));
}

struct incl {
	const char *type;
	json_t *list;
};

static void add_include(void *arg, const struct cl_fhir_param *p)
{
	struct incl *x = arg;

	if (p->kind == CL_FK_REF)
		json_array_append_new(x->list, json_sprintf("%s:%s", p->type, p->name));
}

/* Another type's reference parameter that may name x->type (and, for a
 * Patient, every type's compartment: Source:patient). */
static void add_revinclude(void *arg, const struct cl_fhir_param *p)
{
	struct incl *x = arg;
	size_t n = json_array_size(x->list);

	if (p->kind == CL_FK_REF && (!p->target[0] || strcmp(p->target, x->type) == 0))
		json_array_append_new(x->list, json_sprintf("%s:%s", p->type, p->name));
	if (strcmp(x->type, "Patient") == 0 && strcmp(p->type, "Patient") != 0 &&
	    (n == 0 || strncmp(json_string_value(json_array_get(x->list, n - 1)), p->type,
			       strlen(p->type)) != 0))
		json_array_append_new(x->list, json_sprintf("%s:patient", p->type));
}

/* A type held: read, vread and its instance history. */
static void held_type(void *arg, const char *type)
{
	struct incl incl;
	json_t *e, *params, *list = arg;

	if (strcmp(type, "AuditEvent") == 0)
		return; /* the trail's, served by its own search */
	add_interaction(list, type, "read");
	add_interaction(list, type, "vread");
	add_interaction(list, type, "history-instance");
	add_interaction(list, type, "search-type");
	/* cl_api_fhir_write.c */
	add_interaction(list, type, "create");
	add_interaction(list, type, "update");
	add_interaction(list, type, "delete");
	e = resource_entry(list, type);
	json_object_set_new(e, "updateCreate", json_true());
	json_object_set_new(e, "conditionalCreate", json_true());
	json_object_set_new(e, "conditionalUpdate", json_false());
	json_object_set_new(e, "conditionalDelete", json_string("not-supported"));
	json_object_set_new(e, "versioning", json_string("versioned-update"));
	json_object_set_new(e, "readHistory", json_true());
	json_object_set_new(e, "conditionalRead", json_string("full-support"));
	/* cl_api_fhir_search.c: the common ones, the compartment's, and the
	 * type's own (fhir/cl_fhir_index.h) */
	params = json_pack("[{s:s,s:s},{s:s,s:s}]", "name", "_id", "type", "token", "name",
			   "_lastUpdated", "type", "date");
	if (strcmp(type, "Patient") != 0) {
		json_array_append_new(params, json_pack("{s:s,s:s}", "name", "patient", "type",
							"reference"));
		json_array_append_new(params, json_pack("{s:s,s:s}", "name", "subject", "type",
							"reference"));
	}
	cl_fhir_params_each(type, add_param, params);
	json_object_set_new(e, "searchParam", params);
	/* _include: its references; _revinclude: those that name it */
	incl.type = type;
	incl.list = json_array();
	if (strcmp(type, "Patient") != 0) {
		json_array_append_new(incl.list, json_sprintf("%s:patient", type));
		json_array_append_new(incl.list, json_sprintf("%s:subject", type));
	}
	cl_fhir_params_each(type, add_include, &incl);
	json_object_set_new(e, "searchInclude", incl.list);
	incl.list = json_array();
	cl_fhir_params_each(NULL, add_revinclude, &incl);
	json_object_set_new(e, "searchRevInclude", incl.list);
	if (strcmp(type, "Patient") == 0)
		json_object_set_new(e, "operation",
				    json_pack("[{s:s,s:s},{s:s,s:s}]", "name", "everything",
					      "definition", "http://hl7.org/fhir/OperationDefinition/"
					      "Patient-everything", "name", "export", "definition",
					      "http://hl7.org/fhir/uv/bulkdata/OperationDefinition/"
					      "patient-export"));
}

int cl_api_fhir_metadata(struct cl_req *r)
{
	json_t *list = json_array(), *audit, *params = json_array();
	static const char *const audit_params[][2] = {
		{ "patient", "reference" }, { "agent", "reference" }, { "date", "date" },
		{ "action", "token" }, { "subtype", "token" }, { "outcome", "token" },
		{ "_count", "number" },
	};
	struct cl_store *st;
	char now[40], base[300];
	int rc;

	/* the statement describes the server as it is now */
	cl_time_format_rfc3339(cl_time_now_us(), now, sizeof(now), 0);
	/* what is served: every type held, as it is held now */
	rc = cl_api_store(r, &st);
	if (rc == CL_OK) {
		rc = cl_store_fhir_types(st, held_type, list);
		cl_api_store_done(st);
	}
	if (rc != CL_OK) {
		json_decref(list);
		json_decref(params);
		return cl_reply_error(r, 500, "store", cl_error_detail(), NULL, NULL);
	}
	/* Bulk Data: a Group per ward (cl_api_export.c) */
	json_object_set_new(resource_entry(list, "Group"), "operation",
			    json_pack("[{s:s,s:s}]", "name", "export", "definition",
				      "http://hl7.org/fhir/uv/bulkdata/OperationDefinition/group-export"));
	add_interaction(list, "Observation", "create");
	for (size_t i = 0; i < sizeof(audit_params) / sizeof(audit_params[0]); i++)
		json_array_append_new(params, json_pack("{s:s,s:s}", "name", audit_params[i][0],
							"type", audit_params[i][1]));
	audit = resource_entry(list, "AuditEvent");
	add_interaction(list, "AuditEvent", "search-type");
	json_object_set_new(audit, "searchParam", params);
	/* an instance's statement says which (R4's cpb-14) */
	cl_api_fhir_base(r, base, sizeof(base));
	return cl_reply_json(r, 200, json_pack(
		"{s:s,s:s,s:s,s:s,s:s,s:[s],s:{s:s,s:s},s:{s:s,s:s},s:[{s:s,s:o,s:[{s:s},{s:s}],s:[{s:s,s:s}]}]}",
		"resourceType", "CapabilityStatement", "status", "active", "date", now,
		"kind", "instance", "fhirVersion", "4.0.1", "format", "json",
		"software", "name", "carelake", "version", CARELAKE_VERSION,
		"implementation", "description", "carelake FHIR R4 API", "url", base,
		"rest", "mode", "server", "resource", list,
		"interaction", "code", "batch", "code", "transaction",
		"operation", "name", "export", "definition",
		"http://hl7.org/fhir/uv/bulkdata/OperationDefinition/export"));
}
