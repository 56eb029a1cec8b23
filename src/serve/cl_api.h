/*
 * The endpoints' handlers, one file per API (cl_api_<name>.c); the route
 * table (cl_routes.c) is where they are bound to methods, paths and rules.
 */
#ifndef CL_API_H
#define CL_API_H

#include "cl_req.h"

/* POST /api/v1/events (cl_api_events.c) */
int cl_api_events_post(struct cl_req *r);
int cl_api_events_finish(struct cl_req *r, int commit_rc);

/* POST /fhir/Observation, POST /fhir, GET /fhir/metadata (cl_api_fhir.c) */
int cl_api_fhir_observation(struct cl_req *r);
int cl_api_fhir_bundle(struct cl_req *r);
int cl_api_fhir_finish(struct cl_req *r, int commit_rc);
int cl_api_fhir_metadata(struct cl_req *r);

/* POST /fhir with a batch or transaction Bundle to process as FHIR's REST
 * interactions, of any type (cl_api_fhir_bundle.c): cl_api_fhir_bundle
 * gives it to cl_api_fhir_transaction, which blocks until refine has read
 * the writes; cl_api_fhir_bundle_blocks (the route's `blocks` test) says
 * which bodies those are, so the fast loops leave them to threads that may
 * block. */
int cl_api_fhir_transaction(struct cl_req *r);
int cl_api_fhir_bundle_blocks(const char *body, size_t len);

/* The FHIR base URL as the client reached it ("http://HOST/fhir"; a Host
 * that is no host name is not echoed); and whether the Accept header
 * takes JSON: 1 to go on, else the 406 made (cl_api_fhir.c). */
void cl_api_fhir_base(const struct cl_req *r, char *buf, size_t cap);
int cl_api_fhir_accept(struct cl_req *r);

/* The store a request reads through, until cl_api_store_done: its
 * thread's own connection, kept between requests (cl_api_store.c). */
struct cl_store;
int cl_api_store(struct cl_req *r, struct cl_store **out);
void cl_api_store_done(struct cl_store *st);

/* carelake.db read-only, for a request's own SQL over silver, gold and
 * the loads' records (KPIs, status, quarantine): the connection (close
 * it), or NULL with the reply made (503). */
struct sqlite3;
struct sqlite3 *cl_api_db(struct cl_req *r, int *reply);

/* GET /fhir/{type}/{id}, .../_history/{vid}, .../_history (cl_api_fhir_read.c) */
int cl_api_fhir_read(struct cl_req *r);
/* A version's ETag (W/"n") and Last-Modified, on r's reply. */
void cl_api_fhir_version_headers(struct cl_req *r, int64_t version, int64_t updated_us);
int cl_api_fhir_vread(struct cl_req *r);
int cl_api_fhir_history(struct cl_req *r);

/* GET /fhir/{type}, POST /fhir/{type}/_search, /fhir/Patient/{id}/{type},
 * /fhir/Patient/{id}/$everything (cl_api_fhir_search.c) */
int cl_api_fhir_search_type(struct cl_req *r);
int cl_api_fhir_search_post(struct cl_req *r);
int cl_api_fhir_compartment(struct cl_req *r);
int cl_api_fhir_everything(struct cl_req *r);

/* FHIR writes: POST /fhir/{type}, PUT and DELETE /fhir/{type}/{id}
 * (cl_api_fhir_write.c) */
int cl_api_fhir_create(struct cl_req *r);
int cl_api_fhir_update(struct cl_req *r);
int cl_api_fhir_delete(struct cl_req *r);

/* FHIR Bulk Data export: GET /fhir/$export, /fhir/Patient/$export,
 * /fhir/Group/{id}/$export, GET and DELETE /fhir/$export-status/{job},
 * GET /fhir/$export-file/{job}/{file} (cl_api_export.c) */
int cl_api_fhir_export(struct cl_req *r);
int cl_api_fhir_export_patients(struct cl_req *r);
int cl_api_fhir_export_group(struct cl_req *r);
int cl_api_fhir_export_status(struct cl_req *r);
int cl_api_fhir_export_cancel(struct cl_req *r);
int cl_api_fhir_export_file(struct cl_req *r);

/* GET /api/v1/alerts, POST /api/v1/alerts/{id}/ack (cl_api_alerts.c) */
int cl_api_alerts_get(struct cl_req *r);
int cl_api_alert_ack(struct cl_req *r);
/* GET /api/v1/alerts/held: what the stream held back, and why */
int cl_api_alerts_held_get(struct cl_req *r);

/* GET /api/v1/access-alerts, POST /api/v1/access-alerts/{id}/ack
 * (cl_api_alerts.c); they are raised by cl_serve_audit_break_glass */
int cl_api_access_alerts_get(struct cl_req *r);
int cl_api_access_alert_ack(struct cl_req *r);

/* GET /api/v1/patients: the board's patients (cl_api_patients.c) */
int cl_api_patients_get(struct cl_req *r);

/* The dashboards (cl_api_web.c): GET /, GET /board, GET /app/{file},
 * GET and POST /app/session, POST /app/session/logout */
int cl_api_web_index(struct cl_req *r);
int cl_api_web_board(struct cl_req *r);
int cl_api_web_patient(struct cl_req *r);
int cl_api_web_my_health(struct cl_req *r);
int cl_api_web_hospital(struct cl_req *r);
int cl_api_web_staffing(struct cl_req *r);
int cl_api_web_pipelines(struct cl_req *r);
int cl_api_web_compliance(struct cl_req *r);

/* GET /app/oidc/login, /app/oidc/callback: signing in at the identity
 * provider (cl_api_oidc.c) */
int cl_api_oidc_login(struct cl_req *r);
int cl_api_oidc_callback(struct cl_req *r);
int cl_api_web_asset(struct cl_req *r);
int cl_api_web_session(struct cl_req *r);
int cl_api_web_sign_in(struct cl_req *r);
int cl_api_web_sign_out(struct cl_req *r);

/* GET /api/v1/patients/{id}/vitals (cl_api_vitals.c) */
int cl_api_vitals_get(struct cl_req *r);
/* GET /api/v1/patients/{id}/news2: NEWS2 over time (cl_api_vitals.c) */
int cl_api_news2_get(struct cl_req *r);

/*
 * Whether r may read patient's data (cl_api_access.c): 1 to go on, else
 * the result of the reply made (404 for a patient-bound token's other
 * patients, 403 outside a clinician's wards without X-Break-Glass). Names
 * the patient in r's audit record.
 */
struct cl_store;
int cl_api_patient_access(struct cl_req *r, struct cl_store *st, const char *patient);

/* GET /fhir/AuditEvent (cl_api_audit.c) */
int cl_api_audit_events(struct cl_req *r);
int cl_api_audit_verify(struct cl_req *r);
int cl_api_audit_accesses(struct cl_req *r);

/* GET /api/v1/stream (cl_api_stream.c) */
int cl_api_stream_get(struct cl_req *r);

/* GET /api/v1/kpis, /api/v1/kpis/{name}, /api/v1/wards/{ward}/census
 * (cl_api_kpis.c) */
int cl_api_kpis_list(struct cl_req *r);
int cl_api_kpis_table(struct cl_req *r);
int cl_api_ward_census(struct cl_req *r);

/* GET /api/v1/patients/{id}/risk, /api/v1/wards/{ward}/readmission-risk:
 * the readmission model's scores (cl_api_risk.c) */
int cl_api_risk_get(struct cl_req *r);
int cl_api_ward_risk(struct cl_req *r);

/* GET /api/v1/research, GET /api/v1/research/{table} (cl_api_research.c) */
int cl_api_research_tables(struct cl_req *r);
int cl_api_research_table(struct cl_req *r);
/* Reads a time query argument: RFC 3339, or absent (def). 0, or
 * CL_EINVAL with the detail naming it. */
int cl_api_time_arg(const struct cl_req *r, const char *name, int64_t def, int64_t *out);

/* GET /healthz, GET /metrics, GET /api/v1/status, GET /api/v1/quarantine
 * (cl_api_ops.c) */
int cl_api_healthz(struct cl_req *r);
int cl_api_status(struct cl_req *r);
int cl_api_quarantine(struct cl_req *r);
int cl_api_metrics(struct cl_req *r);

/*
 * Ingest, shared by the events and FHIR endpoints (cl_api_events.c): the
 * request's scratch (its cl_ingest_result), and the answers every ingest
 * request may get before its own (400, 413, 503, 507).
 */
struct cl_ingest_result;
struct cl_ingest;
struct cl_input;
struct cl_ingest_result *cl_api_ingest_scratch(struct cl_req *r);

/* What an ingest request's body is. */
enum cl_api_body { CL_API_EVENTS, CL_API_FHIR_OBSERVATION, CL_API_FHIR_BUNDLE };

/* Validates and queues the request's body through the input `in` (404
 * when it is off); *res is the request's result. Returns like
 * cl_api_ingest_queued. */
int cl_api_ingest(struct cl_req *r, const struct cl_input *in, enum cl_api_body body,
		  struct cl_ingest_result **res);
/* After cl_ingest_body/cl_ingest_fhir returned rc into res: answers the
 * errors (CL_REQ_DONE), says to wait (CL_REQ_WAIT), or returns
 * CL_API_ANSWER when nothing was queued and the caller answers now. */
#define CL_API_ANSWER 2
int cl_api_ingest_queued(struct cl_req *r, struct cl_ingest *ing, struct cl_ingest_result *res,
			 int rc);
/* A commit that failed: nothing of the request is durable. */
int cl_api_ingest_not_stored(struct cl_req *r, struct cl_ingest *ing,
			     struct cl_ingest_result *res, int commit_rc);

#endif
