/*
 * The FHIR search parameters carelake serves, and the values a resource
 * has for them (its search keys).
 *
 * The catalogue names, for each resource type, its parameters as FHIR R4
 * defines them (name, type, the elements they read): Patient's identifier,
 * name, family, given, birthdate, gender, address-postalcode and
 * general-practitioner; Observation's code, category, date,
 * value-quantity, component-code, encounter, device and status; the date,
 * code and status parameters of Encounter, Condition, MedicationRequest,
 * Procedure and Appointment; and so on (docs/fhir.md lists them). Refine
 * reads a resource's keys once, as it keeps the version
 * (store/cl_store_fhir.h); a search compares its values with them.
 *
 * What a key holds, by parameter type:
 *   token      sys (the system, NULL for none) and code (the code, an
 *              identifier's value, a code element, true/false)
 *   string     str folded (lower case, accents taken off) for matching,
 *              code as written for :exact
 *   date       [lo, hi): the instants the value covers, in microseconds
 *              (2020 covers the whole year; a Period from start to end)
 *   reference  sys the type named (NULL when only an id is known) and
 *              code the id
 *   quantity   num the value, sys the unit's system, code its code (or
 *              the unit as written when there is no code)
 */
#ifndef CL_FHIR_INDEX_H
#define CL_FHIR_INDEX_H

#include "json/cl_json.h"
#include "store/cl_store_fhir.h"

#include <stddef.h>
#include <stdint.h>

/* Bumped whenever the catalogue or what a key holds changes: refine then
 * reads the keys of every current resource again. */
#define CL_FHIR_INDEX_VERSION 2   /* 2: references also by what they name */

struct cl_fhir_param {
	const char *type;    /* the resource type */
	const char *name;    /* the parameter's name */
	int kind;            /* enum cl_fhir_kind (store/cl_store_fhir.h) */
	const char *paths;   /* the elements it reads, space-separated;
			      * name[x] is any of name's choice types */
	const char *target;  /* a reference's type ("" when any) */
};

/* The parameter `name` of `type`, or NULL when carelake has none such. */
const struct cl_fhir_param *cl_fhir_param_find(const char *type, const char *name);

/* Calls fn with each parameter of type, in the catalogue's order. */
void cl_fhir_params_each(const char *type, void (*fn)(void *arg, const struct cl_fhir_param *p),
			 void *arg);

/* Resolves a reference as written ("urn:uuid:x" in a Bundle) into
 * "Type/id" in buf, or returns ref itself. */
typedef const char *(*cl_fhir_resolve_fn)(void *arg, const char *ref, char *buf, size_t cap);

/* Calls key for each search key of the resource at token res of d, whose
 * type is `type` (key returns nonzero to stop; that is returned).
 * resolve may be NULL. */
int cl_fhir_index(const struct cl_json_doc *d, uint32_t res, const char *type,
		  cl_fhir_resolve_fn resolve, void *rarg,
		  int (*key)(void *arg, const struct cl_fhir_key *k), void *arg);

/* Reads the keys of a resource's text into writer, a struct
 * cl_fhir_writer (cl_fhir_reindex's fn): CL_OK, or what the writer
 * said; text that is not a JSON object has none. */
int cl_fhir_index_text(void *writer, const char *type, const char *json, size_t len);

/* The instants a FHIR date, dateTime or instant covers, [lo, hi) in
 * microseconds: YYYY, YYYY-MM, YYYY-MM-DD, and a time of day to the
 * minute, second or fraction, with Z or an offset (none: UTC).
 * CL_EINVAL when it is not one. */
int cl_fhir_date_range(const char *s, size_t n, int64_t *lo, int64_t *hi);

/* s folded for string matching into out (NUL-terminated, cut to cap):
 * ASCII letters in lower case, the Latin letters of U+00C0..U+017F
 * without their accents. */
void cl_fhir_fold(const char *s, size_t n, char *out, size_t cap);

#endif
