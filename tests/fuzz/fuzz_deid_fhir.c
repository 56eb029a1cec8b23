/*
 * Fuzz target: a stored FHIR resource de-identified for a researcher's
 * Bulk Data export (privacy/cl_deid_fhir.c), fed any bytes parsed as
 * JSON. A JSON object with a resourceType and an id must come back an
 * object with a pseudonymous id (32 hex digits), the REDACTED security
 * label, and none of the members Safe Harbor removes at its root
 * (identifier, telecom, name, text as narrative, photo, contact); anything
 * else must be refused (CL_EINVAL). The de-identifier's keys are made in
 * a scratch keys directory once.
 */
#include "fuzz_entry.h"
#include "core/cl_error.h"
#include "privacy/cl_deid.h"
#include "privacy/cl_deid_fhir.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static struct cl_deid *deid;

/* What a urn:uuid names: Patient/<the uuid's first 8 characters>. */
static int resolve(void *arg, const char *ref, char type[CL_DEID_FHIR_TYPE_MAX],
		   char id[CL_DEID_FHIR_ID_MAX])
{
	(void)arg;
	if (strncmp(ref, "urn:uuid:", 9) != 0 || strlen(ref) < 17)
		return -1;
	snprintf(type, CL_DEID_FHIR_TYPE_MAX, "Patient");
	snprintf(id, CL_DEID_FHIR_ID_MAX, "%.8s", ref + 9);
	return 0;
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	struct cl_deid_settings s = { .date_shift_days = 365 };
	char keys[] = "/tmp/fuzz_deid_fhir.XXXXXX";

	(void)argc;
	(void)argv;
	snprintf(s.zip3_keep, sizeof(s.zip3_keep), "021,100");
	if (!mkdtemp(keys) || cl_deid_open(keys, &s, 1796464800000000, &deid) != CL_OK)
		abort();
	return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	json_t *res = json_loadb((const char *)data, size, JSON_DECODE_ANY, NULL);
	const char *type, *id;
	int resource, rc;
	json_t *sec, *s;
	size_t k;
	int labelled = 0;

	if (!res)
		return 0;
	type = json_string_value(json_object_get(res, "resourceType"));
	id = json_string_value(json_object_get(res, "id"));
	resource = json_is_object(res) && type && id;
	rc = cl_deid_fhir(deid, res, json_string_value(json_object_get(res, "patient")), resolve,
			  NULL);
	if (rc != CL_OK) {
		if (rc != CL_EINVAL)
			abort();
		json_decref(res);
		return 0;
	}
	if (!resource)
		abort(); /* only a resource is de-identified */
	id = json_string_value(json_object_get(res, "id"));
	if (!id || strlen(id) != CL_DEID_PSEUDONYM_LEN ||
	    strspn(id, "0123456789abcdef") != CL_DEID_PSEUDONYM_LEN)
		abort();
	if (json_object_get(res, "identifier") || json_object_get(res, "telecom") ||
	    json_object_get(res, "name") || json_object_get(res, "photo") ||
	    json_object_get(res, "contact") || json_is_object(json_object_get(res, "text")))
		abort();
	sec = json_object_get(json_object_get(res, "meta"), "security");
	json_array_foreach(sec, k, s) {
		const char *code = json_string_value(json_object_get(s, "code"));

		labelled |= code && !strcmp(code, CL_DEID_FHIR_SECURITY_CODE);
	}
	if (!labelled)
		abort();
	free(json_dumps(res, JSON_COMPACT));
	json_decref(res);
	return 0;
}
