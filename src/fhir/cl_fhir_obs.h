/*
 * FHIR R4 Observations as vital signs.
 *
 * Reads an Observation resource (parsed by cl_json) and finds the vital
 * signs it carries: its own code and valueQuantity, and each component's
 * (a blood-pressure panel, LOINC 85354-9 or 55284-4, carries systolic
 * 8480-6 and diastolic 8462-4 as components). Codes are matched in the
 * http://loinc.org system; quantities are normalised with the UCUM `code`
 * (or `unit` when there is no code) exactly as device events are.
 * Observations without a known vital are valid and carry no values.
 */
#ifndef CL_FHIR_OBS_H
#define CL_FHIR_OBS_H

#include "fhir/cl_fhir_check.h"
#include "json/cl_json.h"
#include "model/cl_vitals.h"

#define CL_FHIR_OBS_MAX_VALUES 8

struct cl_fhir_obs {
	char id[65];                  /* Observation.id, "" if none */
	char patient_id[CL_EVENT_ID_MAX + 1]; /* from subject: Patient/x, urn:uuid:x */
	char device_id[CL_EVENT_ID_MAX + 1];  /* from device, else "" */
	int64_t ts_us;                /* effective[x] (a date alone: 00:00 UTC) */
	int nvalues;
	struct {
		enum cl_vital vital;
		double value;             /* canonical unit */
	} values[CL_FHIR_OBS_MAX_VALUES];
};


/*
 * Parses the Observation at token obj. Returns 0, or CL_EINVAL with the
 * detail saying which element is wrong ("Observation.subject is
 * required"); *issue_code gets the OperationOutcome issue code.
 */
int cl_fhir_obs_parse(const struct cl_json_doc *d, uint32_t obj, int64_t now_us,
		      int64_t max_future_us, struct cl_fhir_obs *out,
		      const char **issue_code);

#endif
