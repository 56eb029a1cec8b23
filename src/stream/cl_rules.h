/*
 * Alert rules, as data (after netdata's health.d): what is watched, when an
 * alert is raised, when it clears (hysteresis), how severe it is, and how
 * long after clearing the same alert stays quiet (suppression). One open
 * alert per patient and rule: a condition that persists raises nothing new
 * until it has cleared.
 *
 * Every threshold can be tuned in config: alerts.<rule>.raise, .clear,
 * .suppress, .enabled (see `carelake config --reference`).
 */
#ifndef CL_RULES_H
#define CL_RULES_H

#include "stream/cl_vitals.h"

#include <stdint.h>

enum cl_rule_what {
	CL_WHAT_VITAL,       /* the value of one vital */
	CL_WHAT_NEWS2,       /* the patient's NEWS2 total */
	CL_WHAT_NEWS2_MAX,   /* the highest single NEWS2 parameter score */
	CL_WHAT_DEVIATION,   /* |value - baseline| in baseline standard deviations */
	CL_WHAT_SILENCE,     /* seconds since the device last sent anything */
};

enum cl_rule_op { CL_OP_GT, CL_OP_GE, CL_OP_LT, CL_OP_LE };

struct cl_rule {
	const char *name;
	const char *description;
	enum cl_rule_what what;
	enum cl_vital vital;        /* CL_WHAT_VITAL, CL_WHAT_DEVIATION */
	enum cl_rule_op raise_op;
	double raise;
	enum cl_rule_op clear_op;
	double clear;
	const char *severity;       /* warning, urgent, critical, emergency */
	int64_t suppress_us;
	int enabled;
	double min_delta;           /* deviation: also at least this far from the
				     * baseline, in the vital's unit */
};

#define CL_RULES_MAX 16

/* The built-in rules (copied so config can change them). */
int cl_rules_default(struct cl_rule *out, int cap);

/* Applies "alerts.<rule>.<field>" settings; CL_ENOENT if not a rule key. */
int cl_rules_set(struct cl_rule *rules, int n, const char *key, const char *value);

/* 1 if value meets the condition. */
int cl_rule_test(enum cl_rule_op op, double value, double threshold);

const char *cl_rule_op_name(enum cl_rule_op op);

#endif
