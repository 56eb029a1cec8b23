/*
 * The vitals table. See cl_vitals.h.
 */
#include "cl_vitals.h"
#include "core/cl_error.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

/* How a unit converts to the canonical one: canonical = v * mul + add. */
struct unit_conv {
	const char *unit;
	double mul, add;
};

struct vital_def {
	const char *name;
	const char *label;        /* for messages: "heart rate" */
	const char *loinc[3];     /* codes that mean this vital */
	const char *unit;         /* canonical (UCUM) */
	struct unit_conv units[8];
	double lo, hi;            /* physically possible, canonical unit */
	int unit_optional;        /* flags without a unit */
};

static const struct vital_def vitals[CL_VITAL_COUNT] = {
	[CL_VITAL_HEART_RATE] = { "heart_rate", "heart rate", { "8867-4" }, "/min",
		{ { "/min", 1, 0 }, { "bpm", 1, 0 }, { "{beats}/min", 1, 0 },
		  { "beats/min", 1, 0 } }, 0, 350, 0 },
	[CL_VITAL_RESPIRATORY_RATE] = { "respiratory_rate", "respiratory rate", { "9279-1" }, "/min",
		{ { "/min", 1, 0 }, { "{breaths}/min", 1, 0 }, { "breaths/min", 1, 0 },
		  { "rpm", 1, 0 } }, 0, 120, 0 },
	[CL_VITAL_SPO2] = { "spo2", "SpO2", { "59408-5", "2708-6" }, "%",
		{ { "%", 1, 0 }, { "1", 100, 0 }, { "{fraction}", 100, 0 },
		  { "fraction", 100, 0 } }, 0, 100, 0 },
	[CL_VITAL_SYSTOLIC_BP] = { "systolic_bp", "systolic blood pressure", { "8480-6" }, "mm[Hg]",
		{ { "mm[Hg]", 1, 0 }, { "mmHg", 1, 0 }, { "kPa", 7.50061683, 0 } }, 0, 400, 0 },
	[CL_VITAL_DIASTOLIC_BP] = { "diastolic_bp", "diastolic blood pressure", { "8462-4" }, "mm[Hg]",
		{ { "mm[Hg]", 1, 0 }, { "mmHg", 1, 0 }, { "kPa", 7.50061683, 0 } }, 0, 300, 0 },
	[CL_VITAL_TEMPERATURE] = { "temperature", "body temperature", { "8310-5" }, "Cel",
		{ { "Cel", 1, 0 }, { "\xc2\xb0" "C", 1, 0 }, { "C", 1, 0 }, { "degC", 1, 0 },
		  { "[degF]", 5.0 / 9.0, -32.0 * 5.0 / 9.0 }, { "\xc2\xb0" "F", 5.0 / 9.0, -32.0 * 5.0 / 9.0 },
		  { "degF", 5.0 / 9.0, -32.0 * 5.0 / 9.0 }, { "K", 1, -273.15 } }, 20, 46, 0 },
	[CL_VITAL_GLUCOSE] = { "glucose", "blood glucose", { "2339-0" }, "mg/dL",
		{ { "mg/dL", 1, 0 }, { "mmol/L", 18.0156, 0 } }, 0, 2000, 0 },
	[CL_VITAL_CONSCIOUSNESS] = { "consciousness", "consciousness", { NULL }, "{score}",
		{ { "{score}", 1, 0 } }, 0, 1, 1 },
	[CL_VITAL_SUPPLEMENTAL_O2] = { "supplemental_o2", "supplemental oxygen", { NULL }, "{flag}",
		{ { "{flag}", 1, 0 } }, 0, 1, 1 },
	[CL_VITAL_PULSE_RATE] = { "pulse_rate", "pulse rate", { "8889-8" }, "/min",
		{ { "/min", 1, 0 }, { "bpm", 1, 0 }, { "{beats}/min", 1, 0 },
		  { "beats/min", 1, 0 } }, 0, 350, 0 },
};

const char *cl_vital_name(enum cl_vital v) { return vitals[v].name; }
const char *cl_vital_unit(enum cl_vital v) { return vitals[v].unit; }
const char *cl_vital_loinc(enum cl_vital v) { return vitals[v].loinc[0] ? vitals[v].loinc[0] : ""; }

double cl_vital_resolution(enum cl_vital v)
{
	return v == CL_VITAL_TEMPERATURE ? 0.1 : 1.0;
}

int cl_vital_by_name(const char *name, size_t len)
{
	for (int v = 0; v < CL_VITAL_COUNT; v++)
		if (strlen(vitals[v].name) == len && memcmp(vitals[v].name, name, len) == 0)
			return v;
	return -1;
}

int cl_vital_by_loinc(const char *code, size_t len)
{
	for (int v = 0; v < CL_VITAL_COUNT; v++)
		for (int k = 0; k < 3 && vitals[v].loinc[k]; k++)
			if (strlen(vitals[v].loinc[k]) == len &&
			    memcmp(vitals[v].loinc[k], code, len) == 0)
				return v;
	return -1;
}

int cl_vital_normalise(enum cl_vital v, double value, const char *unit, double *out)
{
	const struct vital_def *def = &vitals[v];
	const struct unit_conv *u = NULL;
	double c;

	if (!isfinite(value))
		return cl_error_set(CL_EINVAL, "value must be a finite number");
	if (!unit || !*unit) {
		if (!def->unit_optional)
			return cl_error_set(CL_EINVAL, "missing field 'unit' (%s is in %s)",
					    def->label, def->unit);
		u = &def->units[0];
	} else {
		for (int k = 0; k < 8 && def->units[k].unit; k++)
			if (strcmp(def->units[k].unit, unit) == 0)
				u = &def->units[k];
	}
	if (!u) {
		char list[160] = "";
		size_t n = 0;

		for (int k = 0; k < 8 && def->units[k].unit && n < sizeof(list); k++)
			n += (size_t)snprintf(list + n, sizeof(list) - n, "%s%s", k ? ", " : "",
					      def->units[k].unit);
		return cl_error_set(CL_EINVAL, "unit '%.32s' is not one for %s (use %s)",
				    unit, def->label, list);
	}
	c = value * u->mul + u->add;
	if (def->unit_optional && c != 0 && c != 1)
		return cl_error_set(CL_ERANGE, "%s must be 0 or 1, not %g", def->label, value);
	if (c < def->lo || c > def->hi)
		return cl_error_set(CL_ERANGE, "%s %g %s is outside the possible range %g..%g %s",
				    def->label, value, unit && *unit ? unit : def->unit,
				    def->lo, def->hi, def->unit);
	*out = c;
	return CL_OK;
}
