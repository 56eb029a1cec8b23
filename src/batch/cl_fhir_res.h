/*
 * FHIR R4 resources into silver rows: Patient, Practitioner, Organization,
 * Encounter, Observation (one row per measured value: a panel's components
 * are rows of their own, sharing resource_id), Condition,
 * MedicationRequest and Procedure. Other resource types are counted and
 * stay in bronze. Input is one resource, a Bundle (transaction, batch,
 * collection, searchset; `urn:uuid:` references resolved through the
 * entries' fullUrl; DELETE requests remove rows) or NDJSON (bulk export:
 * one resource per line). Vital-sign values are normalised to carelake's
 * units exactly as device events are.
 */
#ifndef CL_FHIR_RES_H
#define CL_FHIR_RES_H

#include "batch/cl_silver.h"

#include <stddef.h>

/* 1 if the text looks like FHIR JSON or NDJSON (a "resourceType" member). */
int cl_fhir_sniff(const char *src, size_t len);

/* Loads a file's resources into silver. A file that is not JSON at all
 * fails (CL_EPARSE, the detail says where); a bad line of NDJSON or a bad
 * resource is quarantined and the rest loads. */
int cl_fhir_load(struct cl_silver *s, const char *src, size_t len,
		 struct cl_silver_counts *c);

/* One stored record of a bronze log (record names it, e.g. "offset 17"):
 * a FHIR resource or Bundle, as `POST /fhir` stored it. */
int cl_fhir_load_record(struct cl_silver *s, const char *src, size_t len, const char *record,
			struct cl_silver_counts *c);

#endif
