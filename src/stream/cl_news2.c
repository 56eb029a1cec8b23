/*
 * NEWS2 scoring. See cl_news2.h for the chart.
 */
#include "cl_news2.h"

#include <math.h>

int cl_news2_param_of(enum cl_vital v)
{
	switch (v) {
	case CL_VITAL_RESPIRATORY_RATE: return CL_NEWS2_RESP;
	case CL_VITAL_SPO2: return CL_NEWS2_SPO2;
	case CL_VITAL_SUPPLEMENTAL_O2: return CL_NEWS2_O2;
	case CL_VITAL_SYSTOLIC_BP: return CL_NEWS2_SBP;
	case CL_VITAL_HEART_RATE: return CL_NEWS2_PULSE;
	case CL_VITAL_CONSCIOUSNESS: return CL_NEWS2_CONSC;
	case CL_VITAL_TEMPERATURE: return CL_NEWS2_TEMP;
	default: return -1;
	}
}

int cl_news2_score(enum cl_news2_param p, double v)
{
	switch (p) {
	case CL_NEWS2_RESP:
		v = round(v);
		return v <= 8 ? 3 : v <= 11 ? 1 : v <= 20 ? 0 : v <= 24 ? 2 : 3;
	case CL_NEWS2_SPO2:
		v = round(v);
		return v <= 91 ? 3 : v <= 93 ? 2 : v <= 95 ? 1 : 0;
	case CL_NEWS2_O2:
		return v >= 0.5 ? 2 : 0;
	case CL_NEWS2_SBP:
		v = round(v);
		return v <= 90 ? 3 : v <= 100 ? 2 : v <= 110 ? 1 : v <= 219 ? 0 : 3;
	case CL_NEWS2_PULSE:
		v = round(v);
		return v <= 40 ? 3 : v <= 50 ? 1 : v <= 90 ? 0 : v <= 110 ? 1 : v <= 130 ? 2 : 3;
	case CL_NEWS2_CONSC:
		return v >= 0.5 ? 3 : 0;
	case CL_NEWS2_TEMP:
		/* in tenths, half away from zero; the tiny bias makes a
		 * decimal like 35.05 (35.04999... in binary) round as written */
		v = floor(v * 10 + 0.5 + 1e-9);
		return v <= 350 ? 3 : v <= 360 ? 1 : v <= 380 ? 0 : v <= 390 ? 1 : 2;
	default:
		return 0;
	}
}

void cl_news2_compute(const double value[CL_NEWS2_PARAMS],
		      const uint8_t have[CL_NEWS2_PARAMS], struct cl_news2 *out)
{
	out->total = 0;
	out->max_single = 0;
	out->present = 0;
	for (int p = 0; p < CL_NEWS2_PARAMS; p++) {
		int s;

		if (!have[p]) {
			out->scores[p] = -1;
			continue;
		}
		s = cl_news2_score((enum cl_news2_param)p, value[p]);
		out->scores[p] = s;
		out->total += s;
		out->present++;
		if (s > out->max_single)
			out->max_single = s;
	}
	if (out->total >= 7)
		out->risk = CL_NEWS2_HIGH;
	else if (out->total >= 5)
		out->risk = CL_NEWS2_MEDIUM;
	else if (out->max_single == 3)
		out->risk = CL_NEWS2_LOW_MEDIUM;
	else
		out->risk = CL_NEWS2_LOW;
}

const char *cl_news2_risk_name(enum cl_news2_risk r)
{
	static const char *const names[] = { "low", "low-medium", "medium", "high" };

	return names[r];
}
