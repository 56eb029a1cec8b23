/*
 * in_http: the events and fhir inputs. See cl_in_http.h.
 */
#include "cl_in_http.h"

const struct cl_input_plugin cl_in_events = {
	.name = "events",
	.description = "device events over HTTP: POST /api/v1/events (JSON, arrays, NDJSON)",
	.kind = CL_INPUT_EVENTS,
};

const struct cl_input_plugin cl_in_fhir = {
	.name = "fhir",
	.description = "FHIR R4 Observations and Bundles over HTTP: POST /fhir/Observation, POST /fhir",
	.kind = CL_INPUT_FHIR,
};
