/*
 * The built-in alert rules. See cl_rules.h.
 */
#include "cl_rules.h"
#include "core/cl_config.h"
#include "core/cl_error.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define SEC 1000000ll

static const struct cl_rule defaults[] = {
	{ "news2_emergency", "NEWS2 of 7 or more: emergency response",
	  CL_WHAT_NEWS2, 0, CL_OP_GE, 7, CL_OP_LE, 5, "emergency", 300 * SEC, 1, 0 },
	{ "news2_urgent", "NEWS2 of 5 or more: urgent response",
	  CL_WHAT_NEWS2, 0, CL_OP_GE, 5, CL_OP_LE, 3, "urgent", 300 * SEC, 1, 0 },
	{ "news2_single_3", "a single NEWS2 parameter scoring 3: urgent ward-based response",
	  CL_WHAT_NEWS2_MAX, 0, CL_OP_GE, 3, CL_OP_LE, 2, "urgent", 300 * SEC, 1, 0 },
	{ "hypertensive_crisis_systolic", "systolic blood pressure above 180 mmHg",
	  CL_WHAT_VITAL, CL_VITAL_SYSTOLIC_BP, CL_OP_GT, 180, CL_OP_LT, 170, "critical", 300 * SEC, 1, 0 },
	{ "hypertensive_crisis_diastolic", "diastolic blood pressure above 120 mmHg",
	  CL_WHAT_VITAL, CL_VITAL_DIASTOLIC_BP, CL_OP_GT, 120, CL_OP_LT, 110, "critical", 300 * SEC, 1, 0 },
	{ "spo2_low", "SpO2 below 90%",
	  CL_WHAT_VITAL, CL_VITAL_SPO2, CL_OP_LT, 90, CL_OP_GE, 92, "critical", 120 * SEC, 1, 0 },
	{ "tachycardia", "heart rate above 130 /min",
	  CL_WHAT_VITAL, CL_VITAL_HEART_RATE, CL_OP_GT, 130, CL_OP_LE, 125, "urgent", 120 * SEC, 1, 0 },
	{ "bradycardia", "heart rate below 40 /min",
	  CL_WHAT_VITAL, CL_VITAL_HEART_RATE, CL_OP_LT, 40, CL_OP_GE, 45, "urgent", 120 * SEC, 1, 0 },
	{ "heart_rate_deviation",
	  "heart rate 4 standard deviations and 20 /min from the patient's own baseline",
	  CL_WHAT_DEVIATION, CL_VITAL_HEART_RATE, CL_OP_GT, 4, CL_OP_LT, 2, "warning", 300 * SEC, 1, 20 },
	{ "spo2_deviation", "SpO2 4 standard deviations and 4 % from the patient's own baseline",
	  CL_WHAT_DEVIATION, CL_VITAL_SPO2, CL_OP_GT, 4, CL_OP_LT, 2, "warning", 300 * SEC, 1, 4 },
	{ "respiratory_rate_deviation",
	  "respiratory rate 4 standard deviations and 8 /min from the patient's own baseline",
	  CL_WHAT_DEVIATION, CL_VITAL_RESPIRATORY_RATE, CL_OP_GT, 4, CL_OP_LT, 2, "warning", 300 * SEC, 1, 8 },
	{ "device_silent", "a device has sent nothing for 30 s",
	  CL_WHAT_SILENCE, 0, CL_OP_GT, 30, CL_OP_LE, 0, "warning", 0, 1, 0 },
};

int cl_rules_default(struct cl_rule *out, int cap)
{
	int n = (int)(sizeof(defaults) / sizeof(defaults[0]));

	if (n > cap)
		n = cap;
	memcpy(out, defaults, (size_t)n * sizeof(*out));
	return n;
}

int cl_rule_test(enum cl_rule_op op, double v, double t)
{
	switch (op) {
	case CL_OP_GT: return v > t;
	case CL_OP_GE: return v >= t;
	case CL_OP_LT: return v < t;
	case CL_OP_LE: return v <= t;
	}
	return 0;
}

const char *cl_rule_op_name(enum cl_rule_op op)
{
	static const char *const names[] = { ">", ">=", "<", "<=" };

	return names[op];
}

int cl_rules_set(struct cl_rule *rules, int n, const char *key, const char *value)
{
	const char *field;
	char name[64];
	size_t nl;

	if (strncmp(key, "alerts.", 7) != 0)
		return CL_ENOENT;
	key += 7;
	field = strchr(key, '.');
	if (!field || (nl = (size_t)(field - key)) >= sizeof(name))
		return CL_ENOENT;
	memcpy(name, key, nl);
	name[nl] = '\0';
	field++;
	for (int i = 0; i < n; i++) {
		struct cl_rule *r = &rules[i];
		char *end;
		double v;

		if (strcmp(r->name, name) != 0)
			continue;
		if (strcmp(field, "enabled") == 0) {
			if (strcmp(value, "true") && strcmp(value, "false"))
				return cl_error_set(CL_EINVAL, "alerts.%s.enabled must be true or false", name);
			r->enabled = value[0] == 't';
			return CL_OK;
		}
		if (strcmp(field, "suppress") == 0)
			return cl_parse_duration_us(value, 0, 86400 * SEC, &r->suppress_us) == CL_OK
				       ? CL_OK
				       : cl_error_set(CL_EINVAL, "alerts.%s.suppress: %s", name,
						      cl_error_detail());
		if (strcmp(field, "raise") && strcmp(field, "clear"))
			return CL_ENOENT;
		v = strtod(value, &end);
		if (end == value || *end)
			return cl_error_set(CL_EINVAL, "alerts.%s.%s must be a number", name, field);
		if (field[0] == 'r')
			r->raise = v;
		else
			r->clear = v;
		return CL_OK;
	}
	return CL_ENOENT;
}
