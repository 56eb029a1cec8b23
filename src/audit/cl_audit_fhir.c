/*
 * FHIR R4 AuditEvent from audit records (IHE BALP), and the AuditEvent
 * search. See cl_audit_fhir.h.
 */
#include "cl_audit_fhir.h"
#include "core/cl_config.h"
#include "core/cl_error.h"
#include "core/cl_mem.h"
#include "core/cl_time.h"

#include <inttypes.h>
#include <sodium.h>
#include <stdio.h>
#include <string.h>

#define BALP "https://profiles.ihe.net/ITI/BALP/StructureDefinition/IHE.BasicAudit."
#define SYS_EVENT_TYPE "http://terminology.hl7.org/CodeSystem/audit-event-type"
#define SYS_INTERACTION "http://hl7.org/fhir/restful-interaction"
#define SYS_PARTICIPATION "http://terminology.hl7.org/CodeSystem/v3-ParticipationType"
#define SYS_DCM "http://dicom.nema.org/resources/ontology/DCM"
#define SYS_SOURCE "http://terminology.hl7.org/CodeSystem/security-source-type"
#define SYS_ENTITY_TYPE "http://terminology.hl7.org/CodeSystem/audit-entity-type"
#define SYS_OBJECT_ROLE "http://terminology.hl7.org/CodeSystem/object-role"
#define SYS_BALP_ENTITY "https://profiles.ihe.net/ITI/BALP/CodeSystem/BasicAuditEntityType"
#define SYS_ACT_REASON "http://terminology.hl7.org/CodeSystem/v3-ActReason"

char cl_audit_fhir_action(const char *action)
{
	if (!action)
		return 'E';
	if (!strcmp(action, "create"))
		return 'C';
	if (!strcmp(action, "read") || !strcmp(action, "vread") || !strcmp(action, "history") ||
	    !strcmp(action, "break-glass") || !strcmp(action, "export"))
		return 'R';
	if (!strcmp(action, "update") || !strcmp(action, "ack"))
		return 'U';
	if (!strcmp(action, "delete"))
		return 'D';
	return 'E'; /* search, query and everything else: execute */
}

/* The restful-interaction subtype of an action. */
static const char *subtype_of(char code, const char *action)
{
	if (action && (!strcmp(action, "transaction") || !strcmp(action, "batch")))
		return action;
	switch (code) {
	case 'C': return "create";
	case 'R': return "read";
	case 'U': return "update";
	case 'D': return "delete";
	default: return "search-type";
	}
}

static const char *profile_of(char code, int patient)
{
	switch (code) {
	case 'C': return patient ? BALP "PatientCreate" : BALP "Create";
	case 'R': return patient ? BALP "PatientRead" : BALP "Read";
	case 'U': return patient ? BALP "PatientUpdate" : BALP "Update";
	case 'D': return patient ? BALP "PatientDelete" : BALP "Delete";
	default: return patient ? BALP "PatientQuery" : BALP "Query";
	}
}

static json_t *coding(const char *system, const char *code, const char *display)
{
	return json_pack("{s:s, s:s, s:s}", "system", system, "code", code, "display", display);
}

/* AuditEvent.outcome from an HTTP status or a CLI exit code. */
const char *cl_audit_fhir_outcome(int status)
{
	if (status == 0 || (status >= 200 && status < 400))
		return "0";   /* success */
	if (status >= 400 && status < 500)
		return "4";   /* minor failure: refused */
	if (status >= 500)
		return "8";   /* serious failure */
	return "4";      /* a CLI command that failed */
}

static int add(json_t *arr, json_t *v)
{
	return v ? json_array_append_new(arr, v) : -1;
}

static json_t *agents(const struct cl_audit_record *r)
{
	json_t *list = json_array(), *user;

	if (!list)
		return NULL;
	/* the user (or OS user of a command): the requestor */
	user = json_pack("{s:{s:[o]}, s:{s:{s:s}, s:s}, s:b}",
			 "type", "coding",
			 coding(SYS_PARTICIPATION, "IRCP", "information recipient"),
			 "who", "identifier", "value", r->principal ? r->principal : "unknown",
			 "display", r->principal ? r->principal : "unknown",
			 "requestor", 1);
	if (user && r->role)
		json_object_set_new(user, "role", json_pack("[{s:s}]", "text", r->role));
	if (user && r->os_user)
		json_object_set_new(user, "altId", json_string(r->os_user));
	if (user && r->client)
		json_object_set_new(user, "network", json_pack("{s:s, s:s}", "address", r->client,
								"type", "2"));
	if (user && r->break_glass)
		json_object_set_new(user, "purposeOfUse",
				    json_pack("[{s:[o], s:s}]", "coding",
					      coding(SYS_ACT_REASON, "BTG", "break the glass"),
					      "text", r->break_glass));
	if (add(list, user))
		goto fail;
	/* the client application, and carelake the server */
	if (r->client &&
	    add(list, json_pack("{s:{s:[o]}, s:{s:s}, s:b, s:{s:s, s:s}}", "type", "coding",
				coding(SYS_DCM, "110153", "Source Role ID"), "who", "display",
				r->client, "requestor", 0, "network", "address", r->client,
				"type", "2")))
		goto fail;
	if (add(list, json_pack("{s:{s:[o]}, s:{s:s}, s:b}", "type", "coding",
				coding(SYS_DCM, "110152", "Destination Role ID"), "who", "display",
				"carelake", "requestor", 0)))
		goto fail;
	return list;
fail:
	json_decref(list);
	return NULL;
}

static json_t *entities(const struct cl_audit_record *r, char code)
{
	json_t *list = json_array();

	if (!list)
		return NULL;
	for (size_t i = 0; i < r->npatients; i++) {
		char ref[320];

		snprintf(ref, sizeof(ref), "Patient/%s", r->patients[i]);
		if (add(list, json_pack("{s:{s:s}, s:o, s:o}", "what", "reference", ref, "type",
					coding(SYS_ENTITY_TYPE, "1", "Person"), "role",
					coding(SYS_OBJECT_ROLE, "1", "Patient"))))
			goto fail;
	}
	for (size_t i = 0; i < r->nresource_ids; i++) {
		char ref[320];

		snprintf(ref, sizeof(ref), "%s/%s", r->resource_type ? r->resource_type : "Resource",
			 r->resource_ids[i]);
		if (add(list, json_pack("{s:{s:s}, s:o, s:o}", "what", "reference", ref, "type",
					coding(SYS_ENTITY_TYPE, "2", "System Object"), "role",
					coding(SYS_OBJECT_ROLE, "4", "Domain Resource"))))
			goto fail;
	}
	if (code == 'E' || r->query) {
		const char *q = r->query ? r->query : "";
		size_t n = strlen(q), cap = sodium_base64_encoded_len(n, sodium_base64_VARIANT_ORIGINAL);
		char *b64 = cl_malloc(cap), count[32];
		json_t *ent;

		if (!b64)
			goto fail;
		sodium_bin2base64(b64, cap, (const unsigned char *)q, n, sodium_base64_VARIANT_ORIGINAL);
		snprintf(count, sizeof(count), "%" PRId64, r->count);
		ent = json_pack("{s:o, s:o, s:s, s:s, s:[{s:s, s:s}]}", "type",
				coding(SYS_ENTITY_TYPE, "2", "System Object"), "role",
				coding(SYS_OBJECT_ROLE, "24", "Query"), "query", b64, "description",
				r->resource_type ? r->resource_type : "", "detail", "type", "count",
				"valueString", count);
		cl_free(b64);
		if (add(list, ent))
			goto fail;
	}
	if (r->request_id &&
	    add(list, json_pack("{s:{s:{s:s}}, s:o}", "what", "identifier", "value", r->request_id,
				"type", coding(SYS_BALP_ENTITY, "XrequestId", "X-Request-Id"))))
		goto fail;
	return list;
fail:
	json_decref(list);
	return NULL;
}

json_t *cl_audit_fhir_event(const struct cl_audit_entry *e)
{
	const struct cl_audit_record *r = &e->rec;
	char code = cl_audit_fhir_action(r->action), action[2] = { code, 0 };
	char id[32], when[40], desc[64];
	json_t *ev, *ag, *en;

	snprintf(id, sizeof(id), "%" PRIu64, e->seq);
	cl_time_format_rfc3339(r->time_us, when, sizeof(when), 6);
	snprintf(desc, sizeof(desc), "status %d", r->status);
	ag = agents(r);
	en = entities(r, code);
	if (!ag || !en) {
		json_decref(ag);
		json_decref(en);
		return NULL;
	}
	ev = json_pack("{s:s, s:s, s:{s:[s]}, s:o, s:[o], s:s, s:s, s:s, s:s, s:o, "
		       "s:{s:{s:s}, s:[o]}, s:o}",
		       "resourceType", "AuditEvent", "id", id,
		       "meta", "profile", profile_of(code, r->npatients > 0),
		       "type", coding(SYS_EVENT_TYPE, "rest", "RESTful Operation"),
		       "subtype", coding(SYS_INTERACTION, subtype_of(code, r->action),
			      subtype_of(code, r->action)),
		       "action", action, "recorded", when,
		       "outcome", cl_audit_fhir_outcome(r->status), "outcomeDesc", desc,
		       "agent", ag,
		       "source", "observer", "display", "carelake", "type",
		       coding(SYS_SOURCE, "4", "Application Server"),
		       "entity", en);
	return ev;
}

/* A FHIR date or date-time into the first and last microsecond it names. */
static int fhir_date(const char *s, int64_t *lo, int64_t *hi)
{
	size_t n = strlen(s);
	int rc;

	if (n == 10) {
		char t[32];

		snprintf(t, sizeof(t), "%sT00:00:00Z", s);
		rc = cl_time_parse_rfc3339(t, strlen(t), lo);
		*hi = *lo + 86400ll * 1000000 - 1;
	} else {
		rc = cl_time_parse_rfc3339(s, n, lo);
		*hi = *lo;
	}
	if (rc)
		return cl_error_set(CL_EINVAL, "date: '%.40s' is not a date (2026-11-22) or a "
				    "date-time (2026-11-22T06:00:00Z)", s);
	return CL_OK;
}

int cl_audit_fhir_param(struct cl_audit_filter *f, size_t *count, const char *name,
			const char *value)
{
	if (!strcmp(name, "patient")) {
		f->patient = strncmp(value, "Patient/", 8) ? value : value + 8;
		if (!*f->patient)
			return cl_error_set(CL_EINVAL, "patient: an id is needed");
	} else if (!strcmp(name, "agent")) {
		f->principal = value;
	} else if (!strcmp(name, "action")) {
		if (strlen(value) != 1 || !strchr("CRUDE", value[0]))
			return cl_error_set(CL_EINVAL, "action: '%.20s' is not one of C, R, U, D, E",
					    value);
		f->fhir_action = value[0];
	} else if (!strcmp(name, "subtype")) {
		static const char *const known[] = { "read", "search-type", "create", "update",
						     "delete", NULL };
		int i;

		if (!strcmp(value, "break-glass")) {
			f->action = "break-glass";
			return CL_OK;
		}
		for (i = 0; known[i] && strcmp(known[i], value); i++)
			;
		if (!known[i])
			return cl_error_set(CL_EINVAL, "subtype: '%.40s' is not read, search-type, "
					    "create, update, delete or break-glass", value);
		f->fhir_action = value[0] == 's' ? 'E' : (char)(value[0] - 'a' + 'A');
	} else if (!strcmp(name, "outcome")) {
		if (strlen(value) != 1 || !strchr("048", value[0]))
			return cl_error_set(CL_EINVAL, "outcome: '%.20s' is not 0, 4 or 8", value);
		f->fhir_outcome = value[0];
	} else if (!strcmp(name, "date")) {
		char prefix[3] = { 0 };
		int64_t lo, hi;
		int rc;

		if (strlen(value) > 2 && value[0] >= 'a' && value[0] <= 'z') {
			memcpy(prefix, value, 2);
			value += 2;
		}
		rc = fhir_date(value, &lo, &hi);
		if (rc)
			return rc;
		if (!prefix[0] || !strcmp(prefix, "eq")) {
			f->since_us = lo;
			f->until_us = hi;
		} else if (!strcmp(prefix, "ge")) {
			f->since_us = lo;
		} else if (!strcmp(prefix, "gt")) {
			f->since_us = hi + 1;
		} else if (!strcmp(prefix, "le")) {
			f->until_us = hi;
		} else if (!strcmp(prefix, "lt")) {
			f->until_us = lo - 1;
		} else {
			return cl_error_set(CL_EINVAL, "date: the prefix '%s' is not eq, ge, gt, le or lt",
					    prefix);
		}
	} else if (!strcmp(name, "_count")) {
		uint64_t v;

		if (cl_parse_u64(value, 0, 10000, &v) != CL_OK)
			return cl_error_set(CL_EINVAL, "_count: '%.20s' is not a number from 0 to 10000",
					    value);
		*count = (size_t)v;
	} else {
		return cl_error_set(CL_ENOTSUP, "AuditEvent has no search parameter '%.40s' here "
				    "(patient, agent, date, action, subtype, outcome, _count)", name);
	}
	return CL_OK;
}

struct collect {
	json_t **ring;   /* the newest `count` events */
	size_t count, n; /* n: events that passed */
	int nomem;
};

static int collect_one(void *arg, const struct cl_audit_entry *e)
{
	struct collect *c = arg;
	json_t *ev;

	if (c->count > 0) {
		ev = cl_audit_fhir_event(e);
		if (!ev) {
			c->nomem = 1;
			return 1;
		}
		json_decref(c->ring[c->n % c->count]);
		c->ring[c->n % c->count] = ev;
	}
	c->n++;
	return 0;
}

int cl_audit_fhir_search(const char *dir, const struct cl_audit_filter *f, size_t count,
			 json_t **out)
{
	struct collect c = { .count = count };
	json_t *bundle = NULL, *entries;
	int rc;

	*out = NULL;
	if (count > 0) {
		c.ring = cl_calloc(count, sizeof(*c.ring));
		if (!c.ring)
			return cl_error_set(CL_ENOMEM, "no memory for an AuditEvent search");
	}
	rc = cl_audit_search(dir, f, collect_one, &c);
	if (c.nomem)
		rc = cl_error_set(CL_ENOMEM, "no memory for an AuditEvent search");
	if (rc == CL_OK) {
		entries = json_array();
		bundle = json_pack("{s:s, s:s, s:I, s:o}", "resourceType", "Bundle", "type",
				   "searchset", "total", (json_int_t)c.n, "entry",
				   entries ? entries : json_array());
		/* the newest first */
		for (size_t i = 0; bundle && entries && i < count && i < c.n; i++) {
			json_t *ev = c.ring[(c.n - 1 - i) % count];

			json_array_append_new(entries, json_pack("{s:O, s:{s:s}}", "resource", ev,
								 "search", "mode", "match"));
		}
		if (!bundle)
			rc = cl_error_set(CL_ENOMEM, "no memory for an AuditEvent search");
	}
	for (size_t i = 0; i < count; i++)
		json_decref(c.ring[i]);
	cl_free(c.ring);
	*out = bundle;
	return rc;
}
