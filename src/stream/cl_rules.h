/*
 * Alert rules, as data (after netdata's health.d): what is watched, when an
 * alert is raised, when it clears (hysteresis), how severe it is, and how
 * long after clearing the same alert stays quiet (suppression). One open
 * alert per patient and rule: a condition that persists raises nothing new
 * until it has cleared.
 *
 * Persistence: a rule raises only once its condition has held for
 * .persist (event time) over at least .readings values, and the alert
 * starts when the condition began; runs that end sooner, artifacts and
 * suppressed repeats are recorded as held back, never silently dropped.
 *
 * Every field of a built-in rule can be tuned in config, and new rules
 * declared the same way (alerts.<rule>.what, .raise, .clear, .severity,
 * .suppress, .persist, .readings, .category, .window, .enabled,
 * .description, .min_delta; see `carelake config --reference` and
 * docs/alerts.md).
 */
#ifndef CL_RULES_H
#define CL_RULES_H

#include "model/cl_vitals.h"

#include <stddef.h>
#include <stdint.h>

enum cl_rule_what {
	CL_WHAT_UNSET = -1,  /* a rule declared in config without .what yet */
	CL_WHAT_VITAL,       /* the value of one vital */
	CL_WHAT_NEWS2,       /* the patient's NEWS2 total */
	CL_WHAT_NEWS2_MAX,   /* the highest single NEWS2 parameter score */
	CL_WHAT_DEVIATION,   /* |value - baseline| in baseline standard deviations */
	CL_WHAT_SILENCE,     /* seconds since the device last sent anything */
	CL_WHAT_TREND,       /* how many of its parameters moved by their change
			      * over the window */
	CL_WHAT_QUALITY,     /* seconds a technical condition has held */
};

#define CL_RULE_TREND_MAX 4

enum cl_rule_op { CL_OP_GT, CL_OP_GE, CL_OP_LT, CL_OP_LE };

struct cl_rule {
	char name[48];
	char description[160];
	enum cl_rule_what what;
	enum cl_vital vital;        /* CL_WHAT_VITAL, CL_WHAT_DEVIATION */
	enum cl_rule_op raise_op;
	double raise;
	enum cl_rule_op clear_op;
	double clear;
	char severity[16];          /* warning, urgent, critical, emergency */
	int64_t suppress_us;
	int enabled;
	double min_delta;           /* deviation: also at least this far from the
				     * baseline, in the vital's unit */
	uint8_t declared;           /* declared in config, not built in */
	uint8_t has_raise_op, has_clear;
	uint8_t technical;          /* about the device, not the patient: low
				     * priority, to the device's owner */
	int64_t persist_us;         /* the condition must hold this long, in
				     * event time, before the alert is raised */
	uint32_t persist_readings;  /* and over at least this many readings */
	int condition;              /* CL_WHAT_QUALITY: enum cl_quality_condition */
	/* CL_WHAT_TREND: each parameter's vital and its change over window_us
	 * (negative: a fall) */
	struct { enum cl_vital vital; double delta; } trend[CL_RULE_TREND_MAX];
	int ntrend;
	int64_t window_us;
};

/* Where a rule stands for one patient (or device): the current run of
 * values meeting its raise condition, and its open alert. */
struct cl_rule_state {
	int64_t since;              /* event time the run began; 0: no run */
	int64_t last;               /* its latest reading */
	uint32_t readings;
	double worst;               /* the run's most extreme value */
	int64_t alert;              /* the open alert's id, or 0 */
	int64_t closed_at;          /* when it last cleared */
	uint8_t held;               /* this run was already recorded as held */
	/* alert CL_RULE_ADOPTED: an episode raised by the node that held the
	 * patient's partition before, seen while rebuilding its state (no row
	 * here): when it began, when it was raised, its worst value */
	int64_t adopted_since, adopted_raised;
	double adopted_worst;
	/* the open alert: when its episode began and it was raised; learned:
	 * when, if it was learned from late data (0: live); pending: learned
	 * late, its end not yet known (paged if the data catch up with it
	 * still going, retrospective if it ends first) */
	int64_t alert_since, alert_raised, learned;
	uint8_t pending;
};

/* cl_rule_state.alert of an episode raised on another node. */
#define CL_RULE_ADOPTED (-1)

/* What a value does to a rule (cl_rule_step). */
enum cl_rule_action {
	CL_RULE_NONE,               /* nothing changes, or the run goes on */
	CL_RULE_RAISE,              /* the run held long enough: raise, from since */
	CL_RULE_CLEAR,              /* the open alert clears */
	CL_RULE_NOT_PERSISTENT,     /* the run ended before it held long enough */
	CL_RULE_SUPPRESSED,         /* it held, but the rule cleared too recently */
};

#define CL_RULES_MAX 32

/* The built-in rules (copied so config can change them). */
int cl_rules_default(struct cl_rule *out, int cap);

/* Applies one "alerts.<rule>.<field>" setting to the n rules, declaring a
 * new rule (n grows, up to cap) for a name not seen before. CL_ENOENT if
 * the key is not an alert setting; CL_EINVAL with the reason for a bad
 * value. */
int cl_rules_set(struct cl_rule *rules, int *n, int cap, const char *key, const char *value);

/* After all settings: every declared rule must say what it watches and
 * when it is raised; a missing clear condition becomes the raise
 * condition's opposite (no hysteresis). */
int cl_rules_check(struct cl_rule *rules, int n);

/* "vital:heart_rate", "news2", ... for a rule. */
void cl_rule_what_text(const struct cl_rule *r, char *buf, size_t cap);

/*
 * One value of what rule r watches, at event time ts: moves st on and says
 * what the caller must do (it sets st->alert when it raises, and clears it
 * and sets closed_at when it clears). A run ends at the first value that
 * no longer meets the raise condition; a value older than the run's start
 * (delivered late) cannot end it. For CL_RULE_NOT_PERSISTENT the ended
 * run's since, last, readings and worst are still in st until the next
 * call.
 */
enum cl_rule_action cl_rule_step(const struct cl_rule *r, struct cl_rule_state *st, double value,
				 int64_t ts);

/* 1 if value meets the condition. */
int cl_rule_test(enum cl_rule_op op, double value, double threshold);

const char *cl_rule_op_name(enum cl_rule_op op);

/* The alerts.* settings: a list of struct cl_rule (CL_RULES_MAX), the
 * built-in rules with every alerts.<rule>.<field> key applied. */
struct cl_config_section;
extern const struct cl_config_section cl_rules_section;

#endif
