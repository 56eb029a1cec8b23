/*
 * The vital signs carelake understands: the domain catalog every layer
 * above shares (device events, FHIR Observations, CSV mappings, the stream,
 * alert rules).
 *
 * One table describes each vital: its event type name, LOINC codes, the
 * canonical unit values are stored in, the units accepted with their
 * conversions, and the physically possible range (a heart rate of 5000 is
 * a broken device or a typo, not a patient).
 */
#ifndef CL_VITALS_H
#define CL_VITALS_H

#include <stddef.h>
#include <stdint.h>

enum cl_vital {
	CL_VITAL_HEART_RATE,
	CL_VITAL_RESPIRATORY_RATE,
	CL_VITAL_SPO2,
	CL_VITAL_SYSTOLIC_BP,
	CL_VITAL_DIASTOLIC_BP,
	CL_VITAL_TEMPERATURE,
	CL_VITAL_GLUCOSE,
	CL_VITAL_CONSCIOUSNESS,    /* 0 alert, 1 new confusion/voice/pain/unresponsive */
	CL_VITAL_SUPPLEMENTAL_O2,  /* 0 air, 1 oxygen */
	CL_VITAL_PULSE_RATE,       /* from the pulse oximeter's plethysmogram, beside
				    * heart_rate from the ECG leads */
	CL_VITAL_COUNT,
};

#define CL_EVENT_ID_MAX 128

/* What the device says of a reading's quality (optional fields of an
 * event: "artifact": true, or "quality": a signal quality index 0..1 or
 * one of the words below). */
enum cl_event_quality {
	CL_EQ_NONE,        /* nothing said */
	CL_EQ_GOOD,        /* "good", or an index >= 0.5 */
	CL_EQ_POOR,        /* "poor", or an index < 0.5: poor signal */
	CL_EQ_ARTIFACT,    /* "artifact", or "artifact": true */
	CL_EQ_PROBE_OFF,   /* "probe_off": the oximeter's probe is off the patient */
	CL_EQ_LEAD_OFF,    /* "lead_off": an ECG lead is off */
};

/* The bronze source of device events that arrived long after they were
 * measured (ingest.backlog_after): the backlog lane beside "vitals". */
#define CL_VITALS_BACKLOG_SOURCE "vitals-backlog"

/* A device reading, validated, its value in the vital's canonical unit. */
struct cl_event {
	char id[CL_EVENT_ID_MAX + 1];        /* "" when the sender gave none */
	char device_id[CL_EVENT_ID_MAX + 1];
	char patient_id[CL_EVENT_ID_MAX + 1];
	int64_t ts_us;                       /* event time, UTC */
	enum cl_vital vital;
	double value;
	enum cl_event_quality quality;
};

/* The event type name ("heart_rate"), canonical unit and primary LOINC. */
const char *cl_vital_name(enum cl_vital v);
const char *cl_vital_unit(enum cl_vital v);
const char *cl_vital_loinc(enum cl_vital v);

/* The step values are reported in (for percentiles): 1 for rates and
 * pressures, 0.1 for temperature. */
double cl_vital_resolution(enum cl_vital v);

/* Looks a vital up by type name or LOINC code; -1 if unknown. */
int cl_vital_by_name(const char *name, size_t len);
int cl_vital_by_loinc(const char *code, size_t len);

/*
 * Converts value in `unit` to the vital's canonical unit and checks the
 * physical range. Returns 0 or CL_EINVAL/CL_ERANGE with the detail set.
 */
int cl_vital_normalise(enum cl_vital v, double value, const char *unit,
		       double *out);

#endif
