/*
 * Silver rows served as FHIR R4 resources.
 *
 * Rows that arrived as CSV, XLSX or device events are kept as versions of
 * the FHIR resources they represent (in fhir_resource, with their search
 * keys), so the FHIR API reads, searches, pages and exports them like the
 * resources that arrived as FHIR:
 *
 *   patient            Patient            organization    Organization
 *   practitioner       Practitioner       encounter       Encounter
 *   condition          Condition          procedure       Procedure
 *   medication_request MedicationRequest  device          Device
 *   observation        Observation (a systolic and a diastolic value of
 *                      one patient, time and device: one 85354-9 panel)
 *   booking            Appointment        communication   Communication
 *   survey_response    QuestionnaireResponse
 *
 * Rows that arrived as FHIR are not rendered: the resource is served as it
 * was stored. The rows are served by run, after the run has ended, off
 * the load's path (serve does it in the background, cl_batch_serve_fhir):
 * a load's speed does not pay for them. The runs served are kept in
 * carelake.db (fhir_rows_served), so every run is served once, those of a
 * store made before this existed included; a run that began over an hour
 * ago and has not ended (its process may have stopped) is served as it
 * is, and again once it ends.
 */
#ifndef CL_FHIR_ROWS_H
#define CL_FHIR_ROWS_H

#include <stdint.h>

struct sqlite3;
struct cl_fhir_writer;
struct cl_fhir_rows;

/* Creates its table if needed, on the batch's connection; the versions go
 * through w (silver's writer). */
int cl_fhir_rows_open(struct sqlite3 *db, struct cl_fhir_writer *w, struct cl_fhir_rows **out);
void cl_fhir_rows_close(struct cl_fhir_rows *p);

/* Serves up to `limit` rows (inside the caller's transaction), from where
 * the last step stopped; *done is 1 when no run is left to serve. *kept
 * counts the new versions. */
int cl_fhir_rows_step(struct cl_fhir_rows *p, int limit, uint64_t *kept, int *done);

/* The caller's transaction was rolled back: the run being served is
 * taken up again from its start by the next step. */
void cl_fhir_rows_forget(struct cl_fhir_rows *p);

/* The FHIR id a silver id is served under: itself when it is a FHIR id
 * (1..64 of [A-Za-z0-9.-]), else "h" and 32 hexadecimal digits of its
 * hash. out holds 65 bytes. */
void cl_fhir_rows_id(const char *silver_id, char out[65]);

#endif
