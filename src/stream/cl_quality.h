/*
 * Signal quality of vital-sign readings: which readings are the patient
 * and which are artifacts of the sensor (a patient moving, a loose probe,
 * a cuff re-measure, an ECG lead off), decided before any alert rule,
 * NEWS2 or baseline sees a value.
 *
 * Each vital of each patient is a stream with a reference level (its last
 * accepted value). A reading is:
 *   clean      near the reference (within what a body can change in the
 *              time since), and not flagged by the device;
 *   suspect    an implausible jump from the reference, or a value at the
 *              sensor's limits: held back, not yet used, until the stream
 *              shows which it was;
 *   artifact   flagged by the device ("quality", "artifact"), part of a
 *              flat line (the same value for `flat` seconds: a lead off),
 *              or a suspect run that ended as artifacts do: it returned to
 *              the reference at once, or a related signal contradicts it
 *              (the oximeter's pulse against the ECG's heart rate; a
 *              systolic spike with no change in diastolic; an SpO2 drop
 *              while the oximeter's own pulse is wrong).
 * A suspect run is accepted, its readings released as clean in order,
 * when a related signal corroborates it (heart rate and pulse moving
 * together, systolic and diastolic rising together) or when the new level
 * has held for `settle` seconds: a true bradycardia stays low, a motion
 * spike does not. Nothing is dropped: every reading comes out of
 * cl_quality_add, at once or later, as clean or as an artifact with its
 * reason.
 *
 * Technical conditions follow from the verdicts: a probe off (device flag,
 * or SpO2 with the oximeter's pulse wrong), a lead off (device flag or a
 * flat line), a poor signal (device flag, or artifacts without a more
 * specific cause), each with the event time it began; they end at the
 * stream's next clean reading.
 *
 * Pure functions over caller-owned state (no clock, no I/O): the same
 * readings in the same order give the same verdicts, so a replay gives
 * the same alerts.
 */
#ifndef CL_QUALITY_H
#define CL_QUALITY_H

#include "model/cl_vitals.h"

#include <stdint.h>

/* How one vital's readings are checked (quality.<vital>.* settings). */
struct cl_quality_spec {
	double lo, hi;        /* at or beyond: the sensor's limits (suspect) */
	double jump;          /* the largest change a body makes in a second */
	double jump_per_s;    /* and how much more for each further second */
	int64_t settle_us;    /* a new level held this long is real */
	int64_t flat_us;      /* the same value this long is a flat line (0: off) */
	int enabled;          /* 0: every reading is clean */
};

/* Why a reading is not clean. */
enum cl_quality_reason {
	CL_QR_NONE,
	CL_QR_DEVICE_FLAG,     /* the device said so */
	CL_QR_JUMP,            /* an implausible jump that returned at once */
	CL_QR_LIMIT,           /* at the sensor's limits and did not hold */
	CL_QR_FLAT,            /* a flat line */
	CL_QR_PULSE_DISAGREES, /* ECG heart rate against the oximeter's pulse */
	CL_QR_ECG_DISAGREES,   /* the oximeter's pulse against the ECG */
	CL_QR_OXIMETER,        /* SpO2 while the oximeter's pulse was wrong */
	CL_QR_PRESSURE,        /* one pressure jumped, the other did not */
	CL_QR_COUNT,
};

/* Technical conditions of a patient's devices. */
enum cl_quality_condition {
	CL_QC_PROBE_OFF,
	CL_QC_LEAD_OFF,
	CL_QC_POOR_SIGNAL,
	CL_QC_COUNT,
};

/* A reading held in a suspect run. */
struct cl_quality_reading {
	int64_t ts_us;
	double value;
};

/* One vital's stream of one patient (zeroed to start). */
struct cl_quality_stream {
	double ref;                 /* the last accepted value */
	int64_t ref_ts;
	double last;                /* the latest reading, whatever its verdict */
	int64_t last_ts;
	double flat_value;          /* the current run of identical values */
	int64_t flat_since;
	uint32_t flat_n;
	struct cl_quality_reading *held;   /* the suspect run (allocated) */
	uint16_t nheld, capheld;
	uint8_t held_reason;        /* CL_QR_JUMP or CL_QR_LIMIT */
	uint8_t have_ref, have_last;
	uint8_t last_clean;         /* the latest reading was accepted */
};

/* A patient's streams and technical conditions. */
struct cl_quality_patient {
	struct cl_quality_stream v[CL_VITAL_COUNT];
	int64_t since[CL_QC_COUNT];        /* when each condition began; 0: none */
	uint8_t poor_vital;                /* the vital whose signal is poor */
};

/* A reading's verdict, as it is decided (possibly after later readings). */
typedef int (*cl_quality_emit_fn)(void *arg, enum cl_vital v, int64_t ts_us, double value,
				  enum cl_quality_reason reason);

/* The built-in specs for every vital (see docs/alerts.md). */
void cl_quality_defaults(struct cl_quality_spec spec[CL_VITAL_COUNT]);

/*
 * One reading of vital v (flag: the device's own quality, enum
 * cl_event_quality). Calls emit for each reading whose verdict is now
 * known, in event-time order per vital: this one or earlier held ones,
 * of this vital or a related one; reason CL_QR_NONE means clean. Returns
 * the first non-zero emit result, or CL_ENOMEM (the reading is then
 * released as clean rather than lost).
 */
int cl_quality_add(const struct cl_quality_spec spec[CL_VITAL_COUNT], struct cl_quality_patient *p,
		   enum cl_vital v, int64_t ts_us, double value, int flag, cl_quality_emit_fn emit,
		   void *arg);

/* Event time has reached now_us: suspect runs older than their settle
 * time are accepted. */
int cl_quality_tick(const struct cl_quality_spec spec[CL_VITAL_COUNT], struct cl_quality_patient *p,
		    int64_t now_us, cl_quality_emit_fn emit, void *arg);

/* Frees what the streams hold. */
void cl_quality_patient_free(struct cl_quality_patient *p);

/* "device_flag", "implausible_jump", ...; "probe_off", "lead_off", ... */
const char *cl_quality_reason_name(enum cl_quality_reason r);
const char *cl_quality_condition_name(enum cl_quality_condition c);
int cl_quality_condition_by_name(const char *name);

/* The quality.<vital>.lo|hi|jump|jump_per_s|settle|flat|enabled settings:
 * a list of CL_VITAL_COUNT struct cl_quality_spec, indexed by vital. */
struct cl_config_section;
extern const struct cl_config_section cl_quality_section;

#endif
