/*
 * A FHIR R4 resource de-identified by HIPAA Safe Harbor, with the keys
 * and rules that de-identify the tables (cl_deid.h), so that a
 * researcher's FHIR Bulk Data export joins with the de-identified table
 * exports: the same pseudonym for the same patient, encounter,
 * practitioner, ... and the same date shift for the same patient.
 *
 * The rules go by FHIR element names and data types, never by resource
 * type (docs/deidentification.md, "FHIR resources", lists them):
 *   - the resource's id and every reference become pseudonyms in the id
 *     space of the type named (cl_deid_fhir_space: "patient" for Patient,
 *     so Patient/<p> is patient.id's pseudonym in the tables); a
 *     reference's display and identifier go;
 *   - HumanName, ContactPoint, Identifier values (name at a resource's
 *     root, telecom, identifier, value[x] of those types), photo,
 *     contact, narrative (text.div), Annotations (note), free-text
 *     strings (comment, description, valueString, valueMarkdown, ...),
 *     device serial numbers and UDIs, and geolocation go;
 *   - an Address keeps its use, type, state and country, and its postal
 *     code's 3-digit area when deid.zip3_* lists it ("000" otherwise);
 *   - every date, dateTime and instant (any string of that form, month
 *     precision or finer) moves by the days of the resource's patient
 *     (its compartment), or of the resource itself when it is in none;
 *     birthDate keeps the year of the table's de-identified birth date
 *     (moved, and 90 years before death or now when older); an Age of 90
 *     years or more is ">= 90 a";
 *   - an element emptied by these rules (a Reference that had only a
 *     display) is marked with the data-absent-reason "masked";
 *   - meta.security gains v3-ObservationValue REDACTED and PSEUDED.
 */
#ifndef CL_DEID_FHIR_H
#define CL_DEID_FHIR_H

#include <jansson.h>

#include "cl_deid.h"

#define CL_DEID_FHIR_TYPE_MAX 64
#define CL_DEID_FHIR_ID_MAX 65

/* The security label system and code added to meta.security. */
#define CL_DEID_FHIR_SECURITY_SYSTEM "http://terminology.hl7.org/CodeSystem/v3-ObservationValue"
#define CL_DEID_FHIR_SECURITY_CODE "REDACTED"

/*
 * What a reference that is no "Type/id" (a Bundle's "urn:uuid:x") names:
 * the caller's lookup fills type and id and returns 0, or returns
 * nonzero when it does not know.
 */
typedef int (*cl_deid_fhir_resolve)(void *arg, const char *ref, char type[CL_DEID_FHIR_TYPE_MAX],
				    char id[CL_DEID_FHIR_ID_MAX]);

/* The pseudonym id space of a resource type: the table's where one holds
 * the same ids ("patient", "encounter", "observation-resource", ...),
 * else "fhir:<Type>". */
void cl_deid_fhir_space(const char *type, char *out, size_t cap);

/*
 * De-identifies the resource `res` (a JSON object: resourceType, id, ...)
 * in place. patient: the patient whose compartment it is in (NULL or "":
 * none; a Patient is its own). resolve/arg: the lookup of references
 * that are not "Type/id" (resolve may be NULL). CL_EINVAL when res is no
 * resource (no resourceType or id); nothing of it may then be shown.
 */
int cl_deid_fhir(const struct cl_deid *d, json_t *res, const char *patient,
		 cl_deid_fhir_resolve resolve, void *arg);

#endif
