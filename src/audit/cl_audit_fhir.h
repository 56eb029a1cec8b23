/*
 * Audit records as FHIR R4 AuditEvent resources, shaped as the IHE Basic
 * Audit Log Patterns (BALP) events: a read of a resource about a patient
 * is a PatientRead event, a search a PatientQuery (a Read or Query event
 * when no patient is named), a create, update or acknowledgement a
 * PatientCreate or PatientUpdate. GET /fhir/AuditEvent returns them in a
 * searchset Bundle; the search parameters are FHIR's (patient, agent,
 * date with ge/le/gt/lt/eq, action, _count).
 */
#ifndef CL_AUDIT_FHIR_H
#define CL_AUDIT_FHIR_H

#include <jansson.h>
#include <stddef.h>

#include "cl_audit_read.h"

/* The AuditEvent.action code of an audit action: C (create), R (read,
 * break-glass, export), U (update, ack), D (delete), E (search, query,
 * anything else). */
char cl_audit_fhir_action(const char *action);

/* The AuditEvent.outcome code of a status (an HTTP status, or a CLI exit
 * code): "0" success, "4" refused or failed (4xx, a CLI failure), "8" a
 * serious failure (5xx). */
const char *cl_audit_fhir_outcome(int status);

/* The AuditEvent of event record e (a new reference), or NULL without
 * memory. Its id is "<seq>", the record's place in the chain. */
json_t *cl_audit_fhir_event(const struct cl_audit_entry *e);

/*
 * Applies one FHIR search parameter of GET /fhir/AuditEvent to f:
 * patient (an id or Patient/<id>), agent (the principal), date (ge, le,
 * gt, lt or eq followed by a date or date-time; a date alone is its whole
 * UTC day; repeatable, as date=ge..&date=le..), action (C R U D E),
 * subtype (read, search-type, create, update, delete; or break-glass:
 * the reads outside a clinician's wards), outcome (0, 4, 8), _count into
 * *count. Strings are borrowed from value for the life of f.
 * CL_EINVAL with the detail saying what is wrong; CL_ENOTSUP for a
 * parameter AuditEvent search here does not know (FHIR servers refuse
 * those rather than ignore them).
 */
int cl_audit_fhir_param(struct cl_audit_filter *f, size_t *count, const char *name,
			const char *value);

/*
 * The searchset Bundle of the events in dir that pass f, at most `count`
 * (the newest last, as the trail holds them), with "total" the number
 * that passed. *out gets a new reference.
 */
int cl_audit_fhir_search(const char *dir, const struct cl_audit_filter *f, size_t count,
			 json_t **out);

#endif
