/*
 * A vitals rollup (one window of one vital of one patient) as a FHIR R4
 * Observation.
 *
 * The rollup is the JSON of the rollup outbox (cl_store_outbox.h):
 * patient_id, vital, loinc, unit, window, start, end, count, min, max,
 * mean, stddev, p50, p90, p99, status, revision. The Observation: status
 * final, or corrected with meta.versionId the revision when late values
 * changed the window after it was final (the same id: a new version of
 * the same Observation); category vital-signs,
 * code the vital's LOINC code, subject the patient, effectivePeriod the
 * window, valueQuantity the mean (UCUM), and one component per other
 * statistic (system urn:carelake:rollup-statistic: count, min, max,
 * stddev, p50, p90, p99). Its id is cl_fhir_rollup_id's.
 */
#ifndef CL_FHIR_ROLLUP_H
#define CL_FHIR_ROLLUP_H

#include <jansson.h>
#include <stddef.h>

/* rollup-<24 hex digits>: a hash of patient, vital, window and start, the
 * same for the same rollup every time (a FHIR id: at most 64 of
 * [A-Za-z0-9-.]). cap >= 32. */
void cl_fhir_rollup_id(const json_t *rollup, char *id, size_t cap);

/* A new Observation for rollup (NULL: out of memory, or not a rollup). */
json_t *cl_fhir_rollup_observation(const json_t *rollup);

#endif
