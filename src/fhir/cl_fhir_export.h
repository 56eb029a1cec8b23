/*
 * FHIR Bulk Data exports (HL7 Bulk Data Access IG 2.0): jobs that write
 * the resources carelake holds as NDJSON files, one per type, in the
 * background, one job at a time.
 *
 * A job lives in <data>/exports/<id>/: request.json (what was asked,
 * written durably before the job is acknowledged), the output files
 * (<Type>.ndjson, and errors.ndjson: an OperationOutcome per resource that
 * could not be written), then manifest.json when it is done, failed.json
 * when it could not run at all, or cancelled when it was cancelled. A job
 * with none of those three runs (again, from the start) when the runner
 * starts: jobs survive a restart. Each job reads the current versions in
 * one read transaction: its transactionTime is when that began.
 *
 * A job asked de-identified (a researcher's) writes each resource as
 * privacy/cl_deid_fhir.h makes it, under the keys and deid.* settings the
 * runner was started with, so its files join with the de-identified
 * tables; its request says so, so a restart resumes it de-identified, and
 * its manifest says so (extension.deidentified).
 *
 * The HTTP side (serve/cl_api_export.c) makes the requests, checks who
 * may ask, and gives the status, the manifest and the files.
 */
#ifndef CL_FHIR_EXPORT_H
#define CL_FHIR_EXPORT_H

#include <stddef.h>
#include <stdint.h>

struct cl_fhir_exports;
struct cl_deid_settings;

#define CL_EXPORT_ID_MAX 33

/* What a kick-off asked. */
struct cl_fhir_export_request {
	char level[16];          /* "system", "patient" or "group" */
	char group[65];          /* group: the Group's id (a ward) */
	char patient[130];       /* a patient token's: its compartment only */
	char types[1024];        /* _type: comma-separated ("" every type) */
	int64_t since_us;        /* _since (0: none) */
	char type_filters[4096]; /* _typeFilter: "Type?query" lines, OR-ed per type */
	char owner[130];         /* the token that asked: it alone reads the files */
	char request[2048];      /* the kick-off's URL */
	int deidentified;        /* 1: written de-identified (HIPAA Safe Harbor) */
};

/* What the manifest of a de-identified job says, in its extension. */
#define CL_EXPORT_DEID_METHOD "HIPAA Safe Harbor, 45 CFR 164.514(b)(2)"

/* Starts the runner of data_dir, which resumes unfinished jobs; keys_dir
 * and deid (copied) de-identify the jobs asked so. */
int cl_fhir_exports_start(const char *data_dir, const char *keys_dir,
			  const struct cl_deid_settings *deid, struct cl_fhir_exports **out);
void cl_fhir_exports_stop(struct cl_fhir_exports *x);

/* Checks rq (its types and type filters; CL_EINVAL, why says what is
 * wrong), stores it durably as a new job and wakes the runner: id. */
int cl_fhir_export_submit(struct cl_fhir_exports *x, const struct cl_fhir_export_request *rq,
			  char id[CL_EXPORT_ID_MAX], char *why, size_t why_cap);

enum cl_export_state { CL_EXPORT_RUNNING, CL_EXPORT_DONE, CL_EXPORT_FAILED };

/* A job's state. CL_ENOENT for no such job (or one cancelled). *written:
 * resources written so far (running); *manifest (done; malloc'd JSON:
 * transactionTime, output[{type, file, count}], error[{type, file,
 * count}]; free()) or *error (failed; malloc'd message; free()); owner:
 * the token that asked (CL_EXPORT_OWNER_MAX). */
#define CL_EXPORT_OWNER_MAX 130
int cl_fhir_export_status(struct cl_fhir_exports *x, const char *id, int *state, int64_t *written,
			  char **manifest, char **error, char *owner, char *request, size_t request_cap);

/* 1 when job id was asked de-identified, 0 when not, or no such job. */
int cl_fhir_export_deidentified(struct cl_fhir_exports *x, const char *id);

/* Cancels a job (running or done) and removes its files. CL_ENOENT for no
 * such job. */
int cl_fhir_export_cancel(struct cl_fhir_exports *x, const char *id);

/* The path of a finished job's output file `name` (<Type>.ndjson or
 * errors.ndjson) into path. CL_ENOENT when there is none. */
int cl_fhir_export_file(struct cl_fhir_exports *x, const char *id, const char *name, char *path,
			size_t cap);

#endif
