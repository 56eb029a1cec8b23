/*
 * An alert change as a FHIR R4 DetectedIssue.
 *
 * carelake's alerts (the JSON the stream, the webhook and Kafka out carry:
 * id, rule, severity, category, patient_id, device_id, state, time,
 * message, value, and for an acknowledgement acknowledged_by) map onto
 * DetectedIssue: identifier urn:carelake:alert|<id>, code the rule
 * (urn:carelake:alert-rule) with the message as its text, severity high
 * (emergency, critical, urgent), moderate (warning) or low, patient, implicated the
 * device, identifiedDateTime, detail. The state (open, closed,
 * acknowledged) is a meta tag (urn:carelake:alert-state); status is
 * "final" (the issue was detected) and an acknowledgement adds a
 * mitigation (who, when). The resource id, alert-<id>-<state>, names the
 * change, so a consumer that keeps resources by id keeps each once.
 */
#ifndef CL_FHIR_ALERT_H
#define CL_FHIR_ALERT_H

#include <jansson.h>

/* A new DetectedIssue for alert (NULL: out of memory, or alert has no
 * id). */
json_t *cl_fhir_alert_issue(const json_t *alert);

#endif
