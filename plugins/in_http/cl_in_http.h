/*
 * in_http: the inputs fed by carelake's HTTP API. `events` takes device
 * events (POST /api/v1/events); `fhir` takes FHIR Observations and
 * Bundles (POST /fhir/Observation, POST /fhir). They run nothing of their
 * own: the endpoints find them by name and queue through their ingest,
 * and the client's retry after a 503 is their back-pressure.
 */
#ifndef CL_IN_HTTP_H
#define CL_IN_HTTP_H

#include "ingest/cl_input.h"

extern const struct cl_input_plugin cl_in_events;
extern const struct cl_input_plugin cl_in_fhir;

#endif
