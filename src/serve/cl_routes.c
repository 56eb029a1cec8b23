/*
 * The route table: every HTTP endpoint carelake serves, one row each, with
 * the rule that says who may call it and what the audit trail records of
 * its replies (cl_route.h). A new endpoint is a
 * handler in its API's file (cl_api_<name>.c) and one row here.
 */
#include "cl_api.h"
#include "cl_route.h"

#include <stddef.h>

#define JSON_BODY "application/json|application/x-ndjson|application/ndjson"
#define FHIR_BODY "application/fhir+json|application/json|application/json+fhir"

const struct cl_route cl_routes[] = {
	{ CL_GET, "/healthz", cl_api_healthz, NULL,
	  { CL_ACCESS_PUBLIC, -1 }, 0, NULL, { NULL, NULL } },
	{ CL_GET, "/metrics", cl_api_metrics, NULL,
	  { CL_ACCESS_PUBLIC, -1 }, 0, NULL, { NULL, NULL } },
	{ CL_POST, "/api/v1/events", cl_api_events_post, cl_api_events_finish,
	  { CL_ACCESS_TOKEN, CL_ACT_INGEST_EVENTS }, CL_ROUTE_FAST | CL_ROUTE_BODY, JSON_BODY,
	  { NULL, NULL } },
	{ CL_GET, "/api/v1/patients/{id}/vitals", cl_api_vitals_get, NULL,
	  { CL_ACCESS_TOKEN, CL_ACT_READ_CLINICAL }, 0, NULL, { "read", "vitals" } },
	{ CL_GET, "/api/v1/alerts", cl_api_alerts_get, NULL,
	  { CL_ACCESS_TOKEN, CL_ACT_SEARCH_ALERTS }, 0, NULL, { "search", "alerts" } },
	{ CL_POST, "/api/v1/alerts/{id}/ack", cl_api_alert_ack, NULL,
	  { CL_ACCESS_TOKEN, CL_ACT_ACKNOWLEDGE }, 0, NULL, { "ack", "alerts" } },
	{ CL_GET, "/api/v1/access-alerts", cl_api_access_alerts_get, NULL,
	  { CL_ACCESS_TOKEN, CL_ACT_REVIEW_ACCESS }, 0, NULL, { "search", "access-alerts" } },
	{ CL_POST, "/api/v1/access-alerts/{id}/ack", cl_api_access_alert_ack, NULL,
	  { CL_ACCESS_TOKEN, CL_ACT_REVIEW_ACCESS }, 0, NULL, { "ack", "access-alerts" } },
	{ CL_GET, "/api/v1/stream", cl_api_stream_get, NULL,
	  { CL_ACCESS_TOKEN, CL_ACT_STREAM }, 0, NULL, { "search", "stream" } },
	{ CL_GET, "/api/v1/research", cl_api_research_tables, NULL,
	  { CL_ACCESS_TOKEN, CL_ACT_EXPORT_DEIDENTIFIED }, 0, NULL, { "search", "research" } },
	{ CL_GET, "/api/v1/research/{table}", cl_api_research_table, NULL,
	  { CL_ACCESS_TOKEN, CL_ACT_EXPORT_DEIDENTIFIED }, 0, NULL, { "export", "research" } },
	{ CL_GET, "/fhir/metadata", cl_api_fhir_metadata, NULL,
	  { CL_ACCESS_PUBLIC, -1 }, CL_ROUTE_FHIR, NULL, { NULL, NULL } },
	{ CL_GET, "/fhir/AuditEvent", cl_api_audit_events, NULL,
	  { CL_ACCESS_TOKEN, CL_ACT_READ_AUDIT }, CL_ROUTE_FHIR, NULL,
	  { "search", "AuditEvent" } },
	{ CL_GET, "/fhir/{type}/{id}", cl_api_fhir_read, NULL,
	  { CL_ACCESS_TOKEN, CL_ACT_READ_CLINICAL }, CL_ROUTE_FHIR, NULL, { "read", "fhir" } },
	{ CL_GET, "/fhir/{type}/{id}/_history/{vid}", cl_api_fhir_vread, NULL,
	  { CL_ACCESS_TOKEN, CL_ACT_READ_CLINICAL }, CL_ROUTE_FHIR, NULL, { "vread", "fhir" } },
	{ CL_GET, "/fhir/{type}/{id}/_history", cl_api_fhir_history, NULL,
	  { CL_ACCESS_TOKEN, CL_ACT_READ_CLINICAL }, CL_ROUTE_FHIR, NULL,
	  { "history", "fhir" } },
	{ CL_GET, "/fhir/Patient/{id}/$everything", cl_api_fhir_everything, NULL,
	  { CL_ACCESS_TOKEN, CL_ACT_READ_CLINICAL }, CL_ROUTE_FHIR, NULL,
	  { "search", "fhir" } },
	{ CL_GET, "/fhir/Patient/{id}/{type}", cl_api_fhir_compartment, NULL,
	  { CL_ACCESS_TOKEN, CL_ACT_READ_CLINICAL }, CL_ROUTE_FHIR, NULL,
	  { "search", "fhir" } },
	{ CL_GET, "/fhir/{type}", cl_api_fhir_search_type, NULL,
	  { CL_ACCESS_TOKEN, CL_ACT_READ_CLINICAL }, CL_ROUTE_FHIR, NULL,
	  { "search", "fhir" } },
	{ CL_POST, "/fhir/{type}/_search", cl_api_fhir_search_post, NULL,
	  { CL_ACCESS_TOKEN, CL_ACT_READ_CLINICAL }, CL_ROUTE_FHIR | CL_ROUTE_BODY,
	  "application/x-www-form-urlencoded", { "search", "fhir" } },
	{ CL_POST, "/fhir/Observation", cl_api_fhir_observation, cl_api_fhir_finish,
	  { CL_ACCESS_TOKEN, CL_ACT_INGEST_FHIR }, CL_ROUTE_FHIR | CL_ROUTE_FAST | CL_ROUTE_BODY, FHIR_BODY,
	  { NULL, NULL } },
	{ CL_POST, "/fhir", cl_api_fhir_bundle, cl_api_fhir_finish,
	  { CL_ACCESS_TOKEN, CL_ACT_INGEST_FHIR }, CL_ROUTE_FHIR | CL_ROUTE_FAST | CL_ROUTE_BODY, FHIR_BODY,
	  { NULL, NULL } },
	{ CL_POST, "/fhir/", cl_api_fhir_bundle, cl_api_fhir_finish,
	  { CL_ACCESS_TOKEN, CL_ACT_INGEST_FHIR }, CL_ROUTE_FHIR | CL_ROUTE_FAST | CL_ROUTE_BODY, FHIR_BODY,
	  { NULL, NULL } },
	{ 0, NULL, NULL, NULL, { 0, 0 }, 0, NULL, { NULL, NULL } },
};
