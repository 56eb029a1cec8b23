/*
 * NEWS2, the National Early Warning Score 2 (Royal College of Physicians,
 * 2017), from the latest value of each parameter.
 *
 * Parameters and bands, exactly per the chart (SpO2 on scale 1):
 *   respiration rate /min   <=8:3  9-11:1  12-20:0  21-24:2  >=25:3
 *   SpO2 scale 1 %          <=91:3  92-93:2  94-95:1  >=96:0
 *   air or oxygen           oxygen:2  air:0
 *   systolic BP mmHg        <=90:3  91-100:2  101-110:1  111-219:0  >=220:3
 *   pulse /min              <=40:3  41-50:1  51-90:0  91-110:1  111-130:2  >=131:3
 *   consciousness           alert:0  new confusion, voice, pain, unresponsive:3
 *   temperature C           <=35.0:3  35.1-36.0:1  36.1-38.0:0  38.1-39.0:1  >=39.1:2
 * The chart records whole numbers (temperature to one decimal), so values
 * are rounded half away from zero to that precision before banding.
 *
 * Clinical risk: aggregate 0-4 low (a single parameter scoring 3 makes it
 * low-medium, needing an urgent ward-based response), 5-6 medium, >= 7 high.
 */
#ifndef CL_NEWS2_H
#define CL_NEWS2_H

#include "model/cl_vitals.h"

enum cl_news2_param {
	CL_NEWS2_RESP,
	CL_NEWS2_SPO2,
	CL_NEWS2_O2,
	CL_NEWS2_SBP,
	CL_NEWS2_PULSE,
	CL_NEWS2_CONSC,
	CL_NEWS2_TEMP,
	CL_NEWS2_PARAMS,
};

enum cl_news2_risk {
	CL_NEWS2_LOW,
	CL_NEWS2_LOW_MEDIUM, /* 0-4 with a single 3 */
	CL_NEWS2_MEDIUM,
	CL_NEWS2_HIGH,
};

struct cl_news2 {
	int total;                      /* aggregate score */
	int max_single;                 /* highest single-parameter score */
	int present;                    /* parameters with a value (0..7) */
	int scores[CL_NEWS2_PARAMS];    /* -1 where no value */
	enum cl_news2_risk risk;
};

/* The NEWS2 parameter a vital feeds, or -1 (diastolic BP, glucose). */
int cl_news2_param_of(enum cl_vital v);

/* One parameter's score for a value in canonical units (0..3). */
int cl_news2_score(enum cl_news2_param p, double value);

/* Scores the latest values; have[p] says whether value[p] is known. */
void cl_news2_compute(const double value[CL_NEWS2_PARAMS],
		      const uint8_t have[CL_NEWS2_PARAMS], struct cl_news2 *out);

const char *cl_news2_risk_name(enum cl_news2_risk r);

#endif
