/*
 * An alert change as a FHIR DetectedIssue. See cl_fhir_alert.h.
 */
#include "cl_fhir_alert.h"

#include <stdio.h>
#include <string.h>

static const char *str(const json_t *o, const char *key)
{
	const char *s = json_string_value(json_object_get(o, key));

	return s && *s ? s : NULL;
}

/* DetectedIssue.severity: high | moderate | low. */
static const char *severity(const char *s)
{
	if (s && (strcmp(s, "emergency") == 0 || strcmp(s, "critical") == 0 ||
		  strcmp(s, "urgent") == 0))
		return "high";
	if (s && strcmp(s, "warning") == 0)
		return "moderate";
	return "low";
}

static json_t *reference(const char *type, const char *id)
{
	char ref[300];

	snprintf(ref, sizeof(ref), "%s/%s", type, id);
	return json_pack("{s:s}", "reference", ref);
}

json_t *cl_fhir_alert_issue(const json_t *alert)
{
	json_t *id = json_object_get(alert, "id"), *r;
	const char *state = str(alert, "state") ?: "open", *rule = str(alert, "rule") ?: "alert";
	const char *msg = str(alert, "message"), *when = str(alert, "time");
	char rid[96], ident[32];

	if (!json_is_integer(id))
		return NULL;
	snprintf(ident, sizeof(ident), "%lld", (long long)json_integer_value(id));
	snprintf(rid, sizeof(rid), "alert-%s-%s", ident, state);
	r = json_pack("{s:s,s:s,s:{s:[{s:s,s:s}]},s:[{s:s,s:s}],s:s,s:{s:[{s:s,s:s}]},s:s}",
		      "resourceType", "DetectedIssue", "id", rid, "meta", "tag", "system",
		      "urn:carelake:alert-state", "code", state, "identifier", "system",
		      "urn:carelake:alert", "value", ident, "status", "final", "code", "coding",
		      "system", "urn:carelake:alert-rule", "code", rule, "severity",
		      severity(str(alert, "severity")));
	if (!r)
		return NULL;
	if (msg)
		json_object_set_new(json_object_get(r, "code"), "text", json_string(msg));
	if (str(alert, "patient_id"))
		json_object_set_new(r, "patient", reference("Patient", str(alert, "patient_id")));
	if (str(alert, "device_id"))
		json_object_set_new(r, "implicated",
				    json_pack("[o]", reference("Device", str(alert, "device_id"))));
	if (strcmp(state, "acknowledged") != 0 && when)
		json_object_set_new(r, "identifiedDateTime", json_string(when));
	if (msg)
		json_object_set_new(r, "detail", json_string(msg));
	if (strcmp(state, "acknowledged") == 0) {
		json_t *m = json_pack("{s:{s:s}}", "action", "text", "acknowledged");

		if (when)
			json_object_set_new(m, "date", json_string(when));
		if (str(alert, "acknowledged_by"))
			json_object_set_new(m, "author", json_pack("{s:s}", "display",
								 str(alert, "acknowledged_by")));
		json_object_set_new(r, "mitigation", json_pack("[o]", m));
	}
	return r;
}
