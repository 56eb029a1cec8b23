/*
 * FHIR R4 Observations as vital signs. See cl_fhir_obs.h.
 */
#include "cl_fhir_obs.h"
#include "cl_fhir_check.h"
#include "core/cl_error.h"

#include <stdio.h>
#include <string.h>

static int str_of(const struct cl_json_doc *d, int i, char *buf, size_t cap)
{
	if (i < 0 || d->toks[i].type != CL_JSON_STRING)
		return -1;
	return (int)cl_json_str(d, (uint32_t)i, buf, cap);
}

/* The vital named by a CodeableConcept's LOINC codings, or -1. */
static int vital_of_concept(const struct cl_json_doc *d, int concept)
{
	int coding = concept >= 0 ? cl_json_get(d, (uint32_t)concept, "coding") : -1;
	uint32_t e;

	if (coding < 0 || d->toks[coding].type != CL_JSON_ARRAY)
		return -1;
	e = (uint32_t)coding + 1;
	for (uint32_t k = 0; k < d->toks[coding].size; k++, e = d->toks[e].next) {
		char sys[64], code[32];
		int v;

		if (d->toks[e].type != CL_JSON_OBJECT)
			continue;
		if (str_of(d, cl_json_get(d, e, "system"), sys, sizeof(sys)) < 0 ||
		    strcmp(sys, "http://loinc.org") != 0)
			continue;
		if (str_of(d, cl_json_get(d, e, "code"), code, sizeof(code)) < 0)
			continue;
		v = cl_vital_by_loinc(code, strlen(code));
		if (v >= 0)
			return v;
	}
	return -1;
}

/* Adds the valueQuantity at q for vital v. */
static int add_quantity(const struct cl_json_doc *d, int q, int v, const char *where,
			struct cl_fhir_obs *out, const char **issue)
{
	char unit[40];
	double value;
	int vi;

	if (q < 0 || d->toks[q].type != CL_JSON_OBJECT) {
		*issue = CL_FHIR_ISSUE_REQUIRED;
		return cl_error_set(CL_EINVAL, "%s.valueQuantity is required for %s", where,
				    cl_vital_name((enum cl_vital)v));
	}
	vi = cl_json_get(d, (uint32_t)q, "value");
	if (vi < 0 || d->toks[vi].type != CL_JSON_NUMBER ||
	    cl_json_double(d, (uint32_t)vi, &value) != CL_OK) {
		*issue = CL_FHIR_ISSUE_REQUIRED;
		return cl_error_set(CL_EINVAL, "%s.valueQuantity.value must be a number", where);
	}
	if (str_of(d, cl_json_get(d, (uint32_t)q, "code"), unit, sizeof(unit)) < 0 &&
	    str_of(d, cl_json_get(d, (uint32_t)q, "unit"), unit, sizeof(unit)) < 0)
		unit[0] = '\0';
	if (cl_vital_normalise((enum cl_vital)v, value, unit,
			       &out->values[out->nvalues].value) != CL_OK) {
		*issue = CL_FHIR_ISSUE_VALUE;
		return cl_error_set(CL_EINVAL, "%s.valueQuantity: %s", where, cl_error_detail());
	}
	if (out->nvalues == CL_FHIR_OBS_MAX_VALUES) {
		*issue = CL_FHIR_ISSUE_INVALID;
		return cl_error_set(CL_EINVAL, "Observation has more than %d vital values",
				    CL_FHIR_OBS_MAX_VALUES);
	}
	out->values[out->nvalues++].vital = (enum cl_vital)v;
	return CL_OK;
}

/* "Patient/123" -> "123", "urn:uuid:abc" -> "abc". */
static int reference_id(const struct cl_json_doc *d, int ref_obj, const char *type,
			char *buf, size_t cap)
{
	char ref[CL_EVENT_ID_MAX + 32];
	size_t tl = strlen(type);
	const char *id;

	if (ref_obj < 0 || d->toks[ref_obj].type != CL_JSON_OBJECT ||
	    str_of(d, cl_json_get(d, (uint32_t)ref_obj, "reference"), ref, sizeof(ref)) <= 0)
		return -1;
	if (strncmp(ref, type, tl) == 0 && ref[tl] == '/')
		id = ref + tl + 1;
	else if (strncmp(ref, "urn:uuid:", 9) == 0)
		id = ref + 9;
	else
		return -2;
	if (!*id || strlen(id) >= cap || strchr(id, '/'))
		return -2;
	snprintf(buf, cap, "%s", id);
	return 0;
}

int cl_fhir_obs_parse(const struct cl_json_doc *d, uint32_t obj, int64_t now_us,
		      int64_t max_future_us, struct cl_fhir_obs *out,
		      const char **issue)
{
	char buf[64];
	int i, v, rc;

	memset(out, 0, sizeof(*out));
	*issue = CL_FHIR_ISSUE_INVALID;
	if (d->toks[obj].type != CL_JSON_OBJECT)
		return cl_error_set(CL_EINVAL, "a resource must be a JSON object");
	i = cl_json_get(d, obj, "resourceType");
	if (i < 0) {
		*issue = CL_FHIR_ISSUE_REQUIRED;
		return cl_error_set(CL_EINVAL, "resourceType is required");
	}
	if (d->toks[i].type != CL_JSON_STRING) {
		*issue = CL_FHIR_ISSUE_STRUCTURE;
		return cl_error_set(CL_EINVAL, "resourceType must be a string, not %s",
				    cl_json_type_name(d->toks[i].type));
	}
	if (str_of(d, i, buf, sizeof(buf)) < 0)
		snprintf(buf, sizeof(buf), "(too long)");
	if (strcmp(buf, "Observation") != 0)
		return cl_error_set(CL_EINVAL, "expected an Observation, got resourceType '%.40s'", buf);
	/* every element read below has its FHIR type; no key repeats */
	rc = cl_fhir_check(d, obj, issue);
	if (rc != CL_OK)
		return rc;
	*issue = CL_FHIR_ISSUE_INVALID;
	i = cl_json_get(d, obj, "id");
	if (i >= 0 && (str_of(d, i, out->id, sizeof(out->id)) <= 0 ||
		       strspn(out->id, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
				       "0123456789-.") != strlen(out->id)))
		return cl_error_set(CL_EINVAL, "Observation.id must be 1-64 of A-Z a-z 0-9 - .");
	if (str_of(d, cl_json_get(d, obj, "status"), buf, sizeof(buf)) < 0) {
		*issue = CL_FHIR_ISSUE_REQUIRED;
		return cl_error_set(CL_EINVAL, "Observation.status is required");
	}
	if (strcmp(buf, "registered") && strcmp(buf, "preliminary") && strcmp(buf, "final") &&
	    strcmp(buf, "amended") && strcmp(buf, "corrected") && strcmp(buf, "cancelled") &&
	    strcmp(buf, "entered-in-error") && strcmp(buf, "unknown"))
		return cl_error_set(CL_EINVAL, "Observation.status '%.30s' is not a FHIR status", buf);
	i = cl_json_get(d, obj, "code");
	if (i < 0 || d->toks[i].type != CL_JSON_OBJECT) {
		*issue = CL_FHIR_ISSUE_REQUIRED;
		return cl_error_set(CL_EINVAL, "Observation.code is required");
	}
	v = vital_of_concept(d, i);
	rc = reference_id(d, cl_json_get(d, obj, "subject"), "Patient", out->patient_id,
			  sizeof(out->patient_id));
	if (rc == -1) {
		*issue = CL_FHIR_ISSUE_REQUIRED;
		return cl_error_set(CL_EINVAL, "Observation.subject is required (a Patient reference)");
	}
	if (rc < 0)
		return cl_error_set(CL_EINVAL,
				    "Observation.subject must reference a Patient (Patient/id or urn:uuid:id)");
	reference_id(d, cl_json_get(d, obj, "device"), "Device", out->device_id,
		     sizeof(out->device_id));

	/* effective[x]: dateTime, instant or the start of a period */
	i = cl_json_get(d, obj, "effectiveDateTime");
	if (i < 0)
		i = cl_json_get(d, obj, "effectiveInstant");
	if (i < 0) {
		int p = cl_json_get(d, obj, "effectivePeriod");

		if (p >= 0 && d->toks[p].type == CL_JSON_OBJECT)
			i = cl_json_get(d, (uint32_t)p, "start");
	}
	if (i < 0) {
		*issue = CL_FHIR_ISSUE_REQUIRED;
		return cl_error_set(CL_EINVAL,
				    "Observation.effective[x] is required (effectiveDateTime, effectiveInstant or effectivePeriod.start)");
	}
	/* a string of its form: cl_fhir_check saw to that */
	if (str_of(d, i, buf, sizeof(buf)) < 0 ||
	    cl_fhir_datetime(buf, strlen(buf), &out->ts_us) != CL_OK)
		return cl_error_set(CL_EINVAL, "Observation.effective[x]: %s", cl_error_detail());
	if (out->ts_us > now_us + max_future_us)
		return cl_error_set(CL_EINVAL, "Observation.effective[x] is %lld s in the future",
				    (long long)((out->ts_us - now_us) / 1000000));

	/* the Observation's own value, then its components' */
	if (v >= 0 && cl_json_get(d, obj, "component") < 0 &&
	    !(cl_json_get(d, obj, "valueQuantity") < 0 &&
	      cl_json_get(d, obj, "dataAbsentReason") >= 0)) {
		rc = add_quantity(d, cl_json_get(d, obj, "valueQuantity"), v, "Observation", out, issue);
		if (rc)
			return rc;
	}
	i = cl_json_get(d, obj, "component");
	if (i >= 0) {
		uint32_t e = (uint32_t)i + 1;

		if (d->toks[i].type != CL_JSON_ARRAY)
			return cl_error_set(CL_EINVAL, "Observation.component must be an array");
		for (uint32_t k = 0; k < d->toks[i].size; k++, e = d->toks[e].next) {
			char where[48];
			int cv;

			if (d->toks[e].type != CL_JSON_OBJECT)
				return cl_error_set(CL_EINVAL, "Observation.component[%u] must be an object", k);
			cv = vital_of_concept(d, cl_json_get(d, e, "code"));
			if (cv < 0 || (cl_json_get(d, e, "valueQuantity") < 0 &&
				       cl_json_get(d, e, "dataAbsentReason") >= 0))
				continue;
			snprintf(where, sizeof(where), "Observation.component[%u]", k);
			rc = add_quantity(d, cl_json_get(d, e, "valueQuantity"), cv, where, out, issue);
			if (rc)
				return rc;
		}
	}
	return CL_OK;
}
