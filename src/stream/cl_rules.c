/*
 * The built-in alert rules. See cl_rules.h.
 */
#include "cl_rules.h"
#include "stream/cl_quality.h"
#include "core/cl_config.h"
#include "core/cl_error.h"

#include <ctype.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define SEC 1000000ll

/* A clinical threshold rule on one vital. */
#define VITAL(n, d, v, rop, r, cop, c, sev, sup, per)                                      \
	{ .name = n, .description = d, .what = CL_WHAT_VITAL, .vital = v, .raise_op = rop,   \
	  .raise = r, .clear_op = cop, .clear = c, .severity = sev, .suppress_us = sup,     \
	  .enabled = 1, .persist_us = per, .persist_readings = 2 }
#define SCORE(n, d, w, r, c, sev, per)                                                     \
	{ .name = n, .description = d, .what = w, .raise_op = CL_OP_GE, .raise = r,          \
	  .clear_op = CL_OP_LE, .clear = c, .severity = sev, .suppress_us = 300 * SEC,       \
	  .enabled = 1, .persist_us = per, .persist_readings = 2 }
#define DEVIATION(n, d, v, md)                                                             \
	{ .name = n, .description = d, .what = CL_WHAT_DEVIATION, .vital = v,               \
	  .raise_op = CL_OP_GT, .raise = 4, .clear_op = CL_OP_LT, .clear = 2,                \
	  .severity = "warning", .suppress_us = 300 * SEC, .enabled = 1, .min_delta = md,    \
	  .persist_us = 60 * SEC, .persist_readings = 2 }
#define TECHNICAL(n, d, w, cond, r)                                                        \
	{ .name = n, .description = d, .what = w, .condition = cond, .raise_op = CL_OP_GT,   \
	  .raise = r, .clear_op = CL_OP_LE, .clear = 0, .severity = "warning",              \
	  .suppress_us = 0, .enabled = 1, .technical = 1 }

/* The defaults and the evidence behind each are in docs/alerts.md. */
static const struct cl_rule defaults[] = {
	SCORE("news2_emergency", "NEWS2 of 7 or more: emergency response", CL_WHAT_NEWS2, 7, 5,
	      "emergency", 30 * SEC),
	SCORE("news2_urgent", "NEWS2 of 5 or more: urgent response", CL_WHAT_NEWS2, 5, 3, "urgent",
	      30 * SEC),
	SCORE("news2_single_3", "a single NEWS2 parameter scoring 3: urgent ward-based response",
	      CL_WHAT_NEWS2_MAX, 3, 2, "urgent", 20 * SEC),
	VITAL("hypertensive_crisis_systolic", "systolic blood pressure above 180 mmHg",
	      CL_VITAL_SYSTOLIC_BP, CL_OP_GT, 180, CL_OP_LT, 170, "critical", 60 * SEC, 20 * SEC),
	VITAL("hypertensive_crisis_diastolic", "diastolic blood pressure above 120 mmHg",
	      CL_VITAL_DIASTOLIC_BP, CL_OP_GT, 120, CL_OP_LT, 110, "critical", 60 * SEC, 20 * SEC),
	VITAL("spo2_low", "SpO2 below 90%", CL_VITAL_SPO2, CL_OP_LT, 90, CL_OP_GE, 92, "critical",
	      60 * SEC, 15 * SEC),
	VITAL("tachycardia", "heart rate above 130 /min", CL_VITAL_HEART_RATE, CL_OP_GT, 130,
	      CL_OP_LE, 125, "urgent", 120 * SEC, 15 * SEC),
	VITAL("bradycardia", "heart rate below 40 /min", CL_VITAL_HEART_RATE, CL_OP_LT, 40,
	      CL_OP_GE, 45, "urgent", 120 * SEC, 15 * SEC),
	DEVIATION("heart_rate_deviation",
		  "heart rate 4 standard deviations and 20 /min from the patient's own baseline",
		  CL_VITAL_HEART_RATE, 20),
	DEVIATION("spo2_deviation", "SpO2 4 standard deviations and 4 % from the patient's own baseline",
		  CL_VITAL_SPO2, 4),
	DEVIATION("respiratory_rate_deviation",
		  "respiratory rate 4 standard deviations and 8 /min from the patient's own baseline",
		  CL_VITAL_RESPIRATORY_RATE, 8),
	{ .name = "deterioration_trend",
	  .description = "deterioration over 10 minutes: at least two of respiratory rate up 4 /min, "
			 "SpO2 down 2 %, heart rate up 15 /min",
	  .what = CL_WHAT_TREND, .raise_op = CL_OP_GE, .raise = 2, .clear_op = CL_OP_LE, .clear = 0,
	  .severity = "urgent", .suppress_us = 1800 * SEC, .enabled = 1, .persist_us = 60 * SEC,
	  .persist_readings = 2, .window_us = 600 * SEC, .ntrend = 3,
	  .trend = { { CL_VITAL_RESPIRATORY_RATE, 4 }, { CL_VITAL_SPO2, -2 },
		     { CL_VITAL_HEART_RATE, 15 } } },
	TECHNICAL("device_silent", "a device has sent nothing for 30 s", CL_WHAT_SILENCE, 0, 30),
	TECHNICAL("probe_off", "the pulse oximeter's probe is off or has lost the pulse for 10 s",
		  CL_WHAT_QUALITY, CL_QC_PROBE_OFF, 10),
	TECHNICAL("lead_off", "an ECG lead is off (or the heart rate is a flat line) for 10 s",
		  CL_WHAT_QUALITY, CL_QC_LEAD_OFF, 10),
	TECHNICAL("poor_signal", "a poor signal (artifacts) for 30 s", CL_WHAT_QUALITY,
		  CL_QC_POOR_SIGNAL, 30),
};

int cl_rules_default(struct cl_rule *out, int cap)
{
	int n = (int)(sizeof(defaults) / sizeof(defaults[0]));

	if (n > cap)
		n = cap;
	memcpy(out, defaults, (size_t)n * sizeof(*out));
	return n;
}

/* 1 if a is more extreme than b in the sense the raise condition points. */
static int worse(enum cl_rule_op op, double a, double b)
{
	return op == CL_OP_LT || op == CL_OP_LE ? a < b : a > b;
}

enum cl_rule_action cl_rule_step(const struct cl_rule *r, struct cl_rule_state *st, double value,
				 int64_t ts)
{
	if (st->alert)
		return cl_rule_test(r->clear_op, value, r->clear) ? CL_RULE_CLEAR : CL_RULE_NONE;
	if (!cl_rule_test(r->raise_op, value, r->raise)) {
		int held = st->held;

		if (!st->since || ts < st->since)
			return CL_RULE_NONE;
		st->since = 0;
		st->held = 0;
		/* a run that was already recorded (suppressed) is not recorded
		 * again as not persistent */
		return held ? CL_RULE_NONE : CL_RULE_NOT_PERSISTENT;
	}
	if (!st->since) {
		st->since = ts;
		st->last = ts;
		st->readings = 0;
		st->worst = value;
		st->held = 0;
	}
	st->readings++;
	if (ts > st->last)
		st->last = ts;
	if (worse(r->raise_op, value, st->worst))
		st->worst = value;
	if (st->last - st->since < r->persist_us || st->readings < r->persist_readings)
		return CL_RULE_NONE;
	/* it only just cleared: held back (recorded once a run) until the
	 * suppression time has passed, then raised if it still holds */
	if (st->closed_at && st->last - st->closed_at < r->suppress_us) {
		if (st->held)
			return CL_RULE_NONE;
		st->held = 1;
		return CL_RULE_SUPPRESSED;
	}
	return CL_RULE_RAISE;
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

/* "[op] number": the operator is optional when `op` already has one. */
static int parse_condition(const char *name, const char *field, const char *value,
			   enum cl_rule_op *op, double *v, int need_op)
{
	static const struct { const char *text; enum cl_rule_op op; } ops[] = {
		{ ">=", CL_OP_GE }, { "<=", CL_OP_LE }, { ">", CL_OP_GT }, { "<", CL_OP_LT },
	};
	const char *p = value;
	int have_op = 0;
	char *end;

	while (*p == ' ')
		p++;
	for (size_t i = 0; i < sizeof(ops) / sizeof(ops[0]); i++) {
		size_t l = strlen(ops[i].text);

		if (strncmp(p, ops[i].text, l) == 0) {
			*op = ops[i].op;
			have_op = 1;
			p += l;
			break;
		}
	}
	if (!have_op && need_op)
		return cl_error_set(CL_EINVAL, "alerts.%s.%s: a new rule needs an operator and a "
				    "number, such as '> 120' (got '%.40s')", name, field, value);
	while (*p == ' ')
		p++;
	*v = strtod(p, &end);
	while (end != p && *end == ' ')
		end++;
	if (end == p || *end || !isfinite(*v))
		return cl_error_set(CL_EINVAL, "alerts.%s.%s must be [>|>=|<|<=] NUMBER (got "
				    "'%.40s')", name, field, value);
	return CL_OK;
}

/* "trend:respiratory_rate+4,spo2-2,heart_rate+15" */
static int parse_trend(struct cl_rule *r, const char *list)
{
	const char *p = list;

	r->ntrend = 0;
	while (*p) {
		const char *sign = strpbrk(p, "+-");
		char *end;
		double d;
		int v;

		if (!sign || r->ntrend == CL_RULE_TREND_MAX)
			goto bad;
		v = cl_vital_by_name(p, (size_t)(sign - p));
		d = strtod(sign, &end);
		if (v < 0 || end == sign + 1 || !isfinite(d) || d == 0 || (*end && *end != ','))
			goto bad;
		r->trend[r->ntrend].vital = (enum cl_vital)v;
		r->trend[r->ntrend++].delta = d;
		p = *end ? end + 1 : end;
	}
	if (r->ntrend == 0)
		goto bad;
	r->what = CL_WHAT_TREND;
	if (!r->window_us)
		r->window_us = 600 * SEC;
	return CL_OK;
bad:
	return cl_error_set(CL_EINVAL, "alerts.%s.what: a trend is trend:<vital>+|-<change>,... "
			    "with at most %d vitals, such as trend:respiratory_rate+4,spo2-2 "
			    "(got '%.60s')", r->name, CL_RULE_TREND_MAX, list);
}

static int parse_what(struct cl_rule *r, const char *value)
{
	if (strncmp(value, "trend:", 6) == 0)
		return parse_trend(r, value + 6);
	if (strncmp(value, "quality:", 8) == 0) {
		int c = cl_quality_condition_by_name(value + 8);

		if (c < 0)
			return cl_error_set(CL_EINVAL, "alerts.%s.what: quality:<condition> is one of "
					    "probe_off, lead_off, poor_signal (got '%.40s')", r->name,
					    value + 8);
		r->what = CL_WHAT_QUALITY;
		r->condition = c;
		r->technical = 1;
		return CL_OK;
	}
	static const struct { const char *text; enum cl_rule_what what; int vital; } kinds[] = {
		{ "vital:", CL_WHAT_VITAL, 1 }, { "deviation:", CL_WHAT_DEVIATION, 1 },
		{ "news2", CL_WHAT_NEWS2, 0 }, { "news2_max", CL_WHAT_NEWS2_MAX, 0 },
		{ "silence", CL_WHAT_SILENCE, 0 },
	};

	for (size_t i = 0; i < sizeof(kinds) / sizeof(kinds[0]); i++) {
		size_t l = strlen(kinds[i].text);
		int v;

		if (!kinds[i].vital) {
			if (strcmp(value, kinds[i].text) != 0)
				continue;
			r->what = kinds[i].what;
			return CL_OK;
		}
		if (strncmp(value, kinds[i].text, l) != 0)
			continue;
		v = cl_vital_by_name(value + l, strlen(value + l));
		if (v < 0)
			return cl_error_set(CL_EINVAL, "alerts.%s.what: unknown vital '%.40s'", r->name,
					    value + l);
		r->what = kinds[i].what;
		r->vital = (enum cl_vital)v;
		return CL_OK;
	}
	return cl_error_set(CL_EINVAL, "alerts.%s.what must be vital:<type>, deviation:<type>, "
			    "news2, news2_max, silence, trend:<vital>+|-<change>,... or "
			    "quality:<condition> (got '%.40s')", r->name, value);
}

void cl_rule_what_text(const struct cl_rule *r, char *buf, size_t cap)
{
	switch (r->what) {
	case CL_WHAT_VITAL:
		snprintf(buf, cap, "vital:%s", cl_vital_name(r->vital));
		break;
	case CL_WHAT_DEVIATION:
		snprintf(buf, cap, "deviation:%s", cl_vital_name(r->vital));
		break;
	case CL_WHAT_NEWS2:
		snprintf(buf, cap, "news2");
		break;
	case CL_WHAT_NEWS2_MAX:
		snprintf(buf, cap, "news2_max");
		break;
	case CL_WHAT_SILENCE:
		snprintf(buf, cap, "silence");
		break;
	case CL_WHAT_TREND: {
		size_t at = (size_t)snprintf(buf, cap, "trend:");

		for (int i = 0; i < r->ntrend && at < cap; i++)
			at += (size_t)snprintf(buf + at, cap - at, "%s%s%+g", i ? "," : "",
					       cl_vital_name(r->trend[i].vital), r->trend[i].delta);
		break;
	}
	case CL_WHAT_QUALITY:
		snprintf(buf, cap, "quality:%s",
			 cl_quality_condition_name((enum cl_quality_condition)r->condition));
		break;
	default:
		snprintf(buf, cap, "unset");
	}
}

int cl_rules_set(struct cl_rule *rules, int *n, int cap, const char *key, const char *value)
{
	static const char *const fields[] = { "what", "raise", "clear", "severity", "suppress",
					      "enabled", "description", "min_delta", "persist",
					      "readings", "category", "window", NULL };
	static const char *const severities[] = { "warning", "urgent", "critical", "emergency" };
	const char *field;
	struct cl_rule *r = NULL;
	char name[48];
	int rc = cl_config_named_key(key, "alerts.", fields, "alert rule", name, sizeof(name),
				     &field);

	if (rc)
		return rc;
	for (int i = 0; i < *n; i++)
		if (strcmp(rules[i].name, name) == 0)
			r = &rules[i];
	if (!r) {
		if (*n >= cap)
			return cl_error_set(CL_ERANGE, "at most %d alert rules", cap);
		r = &rules[(*n)++];
		memset(r, 0, sizeof(*r));
		snprintf(r->name, sizeof(r->name), "%s", name);
		snprintf(r->severity, sizeof(r->severity), "warning");
		r->what = CL_WHAT_UNSET;
		r->declared = 1;
		r->suppress_us = 300 * SEC;
		r->enabled = 1;
		r->persist_readings = 1;
	}
	if (strcmp(field, "what") == 0)
		return parse_what(r, value);
	if (strcmp(field, "raise") == 0) {
		rc = parse_condition(name, field, value, &r->raise_op, &r->raise,
				     r->declared && !r->has_raise_op);

		if (rc == CL_OK && strpbrk(value, "<>"))
			r->has_raise_op = 1;
		return rc;
	}
	if (strcmp(field, "clear") == 0) {
		rc = parse_condition(name, field, value, &r->clear_op, &r->clear,
				     r->declared && !r->has_clear);

		if (rc == CL_OK)
			r->has_clear = 1;
		return rc;
	}
	if (strcmp(field, "severity") == 0) {
		for (size_t i = 0; i < sizeof(severities) / sizeof(severities[0]); i++)
			if (strcmp(value, severities[i]) == 0) {
				snprintf(r->severity, sizeof(r->severity), "%s", value);
				return CL_OK;
			}
		return cl_error_set(CL_EINVAL, "alerts.%s.severity must be warning, urgent, critical "
				    "or emergency", name);
	}
	if (strcmp(field, "enabled") == 0) {
		if (strcmp(value, "true") && strcmp(value, "false"))
			return cl_error_set(CL_EINVAL, "alerts.%s.enabled must be true or false", name);
		r->enabled = value[0] == 't';
		return CL_OK;
	}
	if (strcmp(field, "persist") == 0 || strcmp(field, "window") == 0) {
		int64_t *t = field[0] == 'p' ? &r->persist_us : &r->window_us;

		return cl_parse_duration_us(value, field[0] == 'p' ? 0 : 60 * SEC, 86400 * SEC, t) ==
				       CL_OK
			       ? CL_OK
			       : cl_error_set(CL_EINVAL, "alerts.%s.%s: %s", name, field,
					      cl_error_detail());
	}
	if (strcmp(field, "readings") == 0) {
		uint64_t k;

		if (cl_parse_u64(value, 1, 100000, &k) != CL_OK)
			return cl_error_set(CL_EINVAL, "alerts.%s.readings must be 1 to 100000", name);
		r->persist_readings = (uint32_t)k;
		return CL_OK;
	}
	if (strcmp(field, "category") == 0) {
		if (strcmp(value, "clinical") && strcmp(value, "technical"))
			return cl_error_set(CL_EINVAL, "alerts.%s.category must be clinical or technical",
					    name);
		r->technical = value[0] == 't';
		return CL_OK;
	}
	if (strcmp(field, "suppress") == 0)
		return cl_parse_duration_us(value, 0, 86400 * SEC, &r->suppress_us) == CL_OK
			       ? CL_OK
			       : cl_error_set(CL_EINVAL, "alerts.%s.suppress: %s", name,
					      cl_error_detail());
	if (strcmp(field, "description") == 0) {
		if (strlen(value) >= sizeof(r->description))
			return cl_error_set(CL_EINVAL, "alerts.%s.description: at most %zu characters",
					    name, sizeof(r->description) - 1);
		snprintf(r->description, sizeof(r->description), "%s", value);
		return CL_OK;
	}
	{
		char *end;
		double v = strtod(value, &end);

		if (end == value || *end || !(v >= 0))
			return cl_error_set(CL_EINVAL, "alerts.%s.min_delta must be a number >= 0",
					    name);
		r->min_delta = v;
		return CL_OK;
	}
}

static enum cl_rule_op opposite(enum cl_rule_op op)
{
	switch (op) {
	case CL_OP_GT: return CL_OP_LE;
	case CL_OP_GE: return CL_OP_LT;
	case CL_OP_LT: return CL_OP_GE;
	case CL_OP_LE: return CL_OP_GT;
	}
	return CL_OP_LE;
}

int cl_rules_check(struct cl_rule *rules, int n)
{
	for (int i = 0; i < n; i++) {
		struct cl_rule *r = &rules[i];

		if (r->what == CL_WHAT_UNSET)
			return cl_error_set(CL_EINVAL, "alerts.%s: a new rule needs .what (vital:<type>, "
					    "deviation:<type>, news2, news2_max, silence, trend:... or "
					    "quality:<condition>)", r->name);
		if (!r->description[0]) {
			char what[64];

			cl_rule_what_text(r, what, sizeof(what));
			snprintf(r->description, sizeof(r->description), "%s %s %g", what,
				 cl_rule_op_name(r->raise_op), r->raise);
		}
		if (r->declared && !r->has_raise_op)
			return cl_error_set(CL_EINVAL, "alerts.%s: a new rule needs .raise, such as "
					    "'> 120'", r->name);
		if (r->declared && !r->has_clear) {
			r->clear_op = opposite(r->raise_op);
			r->clear = r->raise;
		}
		/* a value just past the raise threshold must not also meet the
		 * clear condition, or an alert would open and close at once */
		if (r->persist_readings == 0)
			r->persist_readings = 1;
		if (r->what != CL_WHAT_SILENCE) {
			double eps = 1e-9 * (fabs(r->raise) > 1 ? fabs(r->raise) : 1);
			double v = r->raise_op == CL_OP_GT ? r->raise + eps
				   : r->raise_op == CL_OP_LT ? r->raise - eps : r->raise;

			if (cl_rule_test(r->clear_op, v, r->clear))
				return cl_error_set(CL_EINVAL, "alerts.%s: the clear condition (%s %g) "
						    "holds where the raise one (%s %g) does",
						    r->name, cl_rule_op_name(r->clear_op), r->clear,
						    cl_rule_op_name(r->raise_op), r->raise);
		}
	}
	return CL_OK;
}

/* The alerts.* list section's functions. */
static int rules_init(void *items, int max)
{
	return cl_rules_default(items, max);
}

static int rules_set(void *items, int *n, int max, const char *key, const char *value)
{
	return cl_rules_set(items, n, max, key, value);
}

static int rules_check(void *items, int n)
{
	return cl_rules_check(items, n);
}

static void rules_print(FILE *out, const void *items, int n, int help)
{
	const struct cl_rule *rules = items;

	for (int i = 0; i < n; i++) {
		const struct cl_rule *r = &rules[i];
		char what[64];

		cl_rule_what_text(r, what, sizeof(what));
		if (r->what == CL_WHAT_SILENCE)
			fprintf(out, "alerts.%s = %s: silent %s %gs, clears when it sends, severity %s, "
				"%s\n", r->name, r->enabled ? "on" : "off", cl_rule_op_name(r->raise_op),
				r->raise, r->severity, r->technical ? "technical" : "clinical");
		else
			fprintf(out, "alerts.%s = %s: %s, raise %s %g, clear %s %g, severity %s, "
				"suppress %llds, persist %llds over %u readings, %s\n", r->name,
				r->enabled ? "on" : "off", what, cl_rule_op_name(r->raise_op), r->raise,
				cl_rule_op_name(r->clear_op), r->clear, r->severity,
				(long long)(r->suppress_us / 1000000), (long long)(r->persist_us / 1000000),
				r->persist_readings, r->technical ? "technical" : "clinical");
		if (r->what == CL_WHAT_TREND)
			fprintf(out, "    trend window %llds\n", (long long)(r->window_us / 1000000));
		if (help)
			fprintf(out, "    %s%s\n", r->description,
				r->declared ? " (declared in config)" : "");
	}
	if (help)
		fprintf(out, "    tune any rule with alerts.<rule>.raise, .clear, .severity, .suppress,\n"
			"    .enabled, .description, .persist (event time the condition must hold),\n"
			"    .readings (and at least so many values), .category (clinical|technical),\n"
			"    .window (trends) and .min_delta (deviations); declare a new one with\n"
			"    alerts.<name>.what (vital:<type>, deviation:<type>, news2, news2_max,\n"
			"    silence, trend:<vital>+|-<change>,..., quality:probe_off|lead_off|\n"
			"    poor_signal) and .raise ('> 120'; .clear defaults to its opposite)\n");
}

static const struct cl_config_list rules_list = {
	.forms = "alerts.<rule>.what|raise|clear|severity|suppress|enabled|description|min_delta|"
		 "persist|readings|category|window",
	.item_size = sizeof(struct cl_rule),
	.max = CL_RULES_MAX,
	.init = rules_init,
	.set = rules_set,
	.check = rules_check,
	.print = rules_print,
};

const struct cl_config_section cl_rules_section = {
	.name = "alerts",
	.list = &rules_list,
};
