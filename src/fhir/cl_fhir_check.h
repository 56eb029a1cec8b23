/*
 * FHIR R4 element types: is each element carelake reads of the JSON type,
 * and the form, that FHIR defines for it?
 *
 * FHIR's JSON gives every element one type: `valueQuantity.value` is a
 * decimal (a JSON number), `effectiveDateTime` a dateTime (a string of one
 * of four forms), `code` a CodeableConcept (an object whose `coding` is an
 * array of Codings), `subject` a Reference, an element of cardinality 0..*
 * an array even when it holds one. A resource that breaks this is refused
 * whole, with the element named ("Observation.valueQuantity.value must be a
 * number, not a string"), rather than read with the element missing.
 *
 * The types are declared once, as tables: the datatypes (Coding,
 * CodeableConcept, Quantity, Reference, Identifier, Period, HumanName,
 * Address) with all their elements, and for each resource carelake maps
 * (Patient, Practitioner, Organization, Encounter, Observation, Condition,
 * MedicationRequest, Procedure, and a Bundle's own elements and entries)
 * the elements it reads. Elements not declared are not checked. Primitive
 * forms checked beyond the JSON type: id, code, uri, integer, date,
 * dateTime, instant. A key that repeats in a resource is refused too.
 */
#ifndef CL_FHIR_CHECK_H
#define CL_FHIR_CHECK_H

#include "json/cl_json.h"

#include <stddef.h>
#include <stdint.h>

/* OperationOutcome issue codes of FHIR refusals. */
#define CL_FHIR_ISSUE_STRUCTURE "structure"  /* a wrong JSON type, a repeated key */
#define CL_FHIR_ISSUE_INVALID "invalid"      /* text not of its form: a dateTime that is no date */
#define CL_FHIR_ISSUE_REQUIRED "required"    /* an element carelake needs is missing */
#define CL_FHIR_ISSUE_VALUE "value"          /* a value out of its range */

/*
 * Checks the resource at token res, by its resourceType. A Bundle's own
 * elements are checked here (type, entry: an array of objects), its
 * entries by cl_fhir_check_entry and their resources by cl_fhir_check
 * again. A resource of another type is checked for repeated keys and its
 * id only. Returns 0, or CL_EINVAL with the detail naming the element;
 * *issue gets the OperationOutcome issue code: structure for a wrong JSON
 * type or a repeated key, invalid for text not of its form.
 */
int cl_fhir_check(const struct cl_json_doc *d, uint32_t res, const char **issue);

/*
 * Checks Bundle.entry[k] at token entry, apart from its resource: an
 * object whose fullUrl, request.method, request.url have their types, a
 * resource that is an object, no repeated key ("Bundle.entry[3].request.
 * method must be a string, not a number"). Returns like cl_fhir_check.
 */
int cl_fhir_check_entry(const struct cl_json_doc *d, uint32_t entry, uint32_t k,
			const char **issue);

/* Parses a FHIR dateTime or instant (YYYY, YYYY-MM, YYYY-MM-DD, or a full
 * RFC 3339 date-time) to microseconds; partial dates start at 00:00 UTC. */
int cl_fhir_datetime(const char *s, size_t len, int64_t *us);

#endif
