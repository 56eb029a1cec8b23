/*
 * Device events: one JSON event object ({"device_id", "patient_id", "ts",
 * "type" or "code", "value", "unit", "id"}) turned into a validated,
 * unit-normalised struct cl_event, or an error that says exactly what is
 * wrong with it. Used by ingest (before anything is stored), the stream
 * and refine (reading what bronze kept).
 */
#ifndef CL_EVENT_H
#define CL_EVENT_H

#include "json/cl_json.h"
#include "model/cl_vitals.h"

#include <stdint.h>

/* Limits applied while validating. */
struct cl_event_limits {
	int64_t max_future_us;  /* refuse timestamps further ahead than this */
	int64_t min_ts_us;      /* refuse timestamps before this */
};

/*
 * Parses the event object at token obj of d. `now_us` is the arrival time
 * (for the future-timestamp check). Returns 0, or CL_EINVAL with the detail
 * naming the field and the problem ("missing field 'patient_id'", "heart
 * rate 5000 /min is outside 0..350").
 */
int cl_event_parse(const struct cl_json_doc *d, uint32_t obj, int64_t now_us,
		   const struct cl_event_limits *lim, struct cl_event *ev);

/* Default limits: 5 minutes into the future, nothing before 2000. */
void cl_event_limits_default(struct cl_event_limits *lim);

#endif
