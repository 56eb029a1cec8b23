/*
 * Scoring alerts against the simulator's ground truth: `carelake simulate
 * --score ALERTS --truth FILE`. How many injected clinical episodes raised
 * an alert (recall), how many clinical alerts were about an episode
 * (precision), how long detection took, how often stable patients were
 * alarmed (alarm burden), whether dropouts were reported and which
 * artifacts fooled the rules.
 *
 * The truth is the NDJSON the simulator writes (cl_sim.h): a scenario
 * line, stable patients, clinical episodes and artifacts. Alerts are what
 * GET /api/v1/alerts returns ({"alerts":[...]}), a JSON array, or NDJSON,
 * one alert per line; each has "rule", "patient_id", "opened" (the start
 * of what it is about) and optionally "raised" (when it was confirmed,
 * else "opened" is used) and "category" ("clinical" or "technical";
 * absent: device_silent and rules starting technical_ or quality_ are
 * technical, the others clinical; alerts of any other category, such as
 * access alerts, are left out).
 *
 * Everything here is pure: text in, numbers out; the command reads the
 * files and fetches the alerts.
 */
#ifndef CL_SIM_SCORE_H
#define CL_SIM_SCORE_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#define CL_SIM_SCORE_NAME 64  /* patient ids, kinds and rules are cut to this */
#define CL_SIM_SCORE_KINDS 16 /* distinct episode or artifact kinds counted */
#define CL_SIM_SCORE_RULES 64 /* distinct rules counted (the rest as "other") */

/* What a truth line is. */
enum cl_sim_truth_what {
	CL_SIM_TRUTH_EPISODE,   /* a clinical episode */
	CL_SIM_TRUTH_ARTIFACT,  /* an artifact (a dropout among them) */
	CL_SIM_TRUTH_STABLE,    /* a patient without clinical episodes */
};

/* One line of a truth file. */
struct cl_sim_truth_item {
	enum cl_sim_truth_what what;
	char patient[CL_SIM_SCORE_NAME];
	char kind[CL_SIM_SCORE_NAME];     /* the episode's or artifact's kind */
	int64_t start_us, end_us;         /* both inclusive */
	int64_t news2_7_us;               /* deterioration: NEWS2 >= 7 from; 0 if not given */
};

/* A parsed truth file. */
struct cl_sim_truth {
	struct cl_sim_truth_item *items;
	size_t n, cap;
	int64_t start_us, end_us;         /* the scenario line's span; 0 when absent */
	uint32_t patients;                /* the scenario line's; 0 when absent */
};

/* One alert. */
struct cl_sim_alert {
	char rule[CL_SIM_SCORE_NAME];
	char patient[CL_SIM_SCORE_NAME];  /* "" when the alert names none */
	int technical;
	int64_t opened_us, raised_us;
};

/* Parsed alerts. */
struct cl_sim_alerts {
	struct cl_sim_alert *a;
	size_t n, cap;
	size_t skipped;                   /* of another category */
};

/* A name and a count (per kind, per rule). */
struct cl_sim_score_count {
	char name[CL_SIM_SCORE_NAME];
	long n, hit;                      /* hit: detected episodes, alerted artifacts */
};

/*
 * The scores. Ratios, medians and rates are NAN when they have nothing to
 * be computed from (printed as null and n/a). Medians are the middle value
 * (the mean of the middle two of an even count); p95 is the nearest rank.
 */
struct cl_sim_score {
	long episodes, detected;          /* clinical episodes, those with a true alert */
	double recall;
	struct cl_sim_score_count kinds[CL_SIM_SCORE_KINDS]; /* episodes per kind */
	int nkinds;
	double recall_crisis;             /* hypertensive_crisis */
	double recall_news2_high;         /* deterioration (NEWS2 >= 7) */
	long clinical_alerts, true_alerts, false_alerts;
	double precision;
	double delay_median_s, delay_p95_s;  /* threshold episodes: first raised - start */
	double deterioration_delay_median_s;
	double deterioration_lead_over_news2_7_median_s; /* NEWS2 >= 7 point - first raised */
	long beds, stable_beds;
	double span_s;                    /* event time the scenario covers */
	double bed_days;                  /* beds * span */
	long stable_alerts;               /* clinical alerts on stable patients */
	double burden_stable_per_bed_day;
	double false_per_bed_day;
	long technical_alerts;
	long dropouts, dropouts_reported;
	double dropout_recall;
	struct cl_sim_score_count artifacts[CL_SIM_SCORE_KINDS]; /* hit: with a clinical alert */
	int nartifacts;
	long artifacts_alerted;
	struct cl_sim_score_count false_by_rule[CL_SIM_SCORE_RULES + 1];
	int nrules;
};

/*
 * Parses a truth file's text (NDJSON; blank lines are skipped) into t,
 * which starts zeroed and is freed with cl_sim_truth_free. Returns 0, or
 * CL_EPARSE / CL_ENOMEM with cl_error_detail() naming the line ("truth
 * line 3: 'start' is not an RFC 3339 time").
 */
int cl_sim_truth_parse(struct cl_sim_truth *t, const char *text, size_t len);
void cl_sim_truth_free(struct cl_sim_truth *t);

/*
 * Parses alerts: {"alerts":[...]}, a JSON array, or NDJSON (one alert per
 * line) into a, which starts zeroed and is freed with cl_sim_alerts_free.
 * Returns 0, or CL_EPARSE / CL_ENOMEM with cl_error_detail() naming the
 * line (NDJSON) or the alert's place in the array.
 */
int cl_sim_alerts_parse(struct cl_sim_alerts *a, const char *text, size_t len);
void cl_sim_alerts_free(struct cl_sim_alerts *a);

/*
 * Scores alerts against the truth. A clinical alert is true when its
 * patient has a clinical episode whose [start - CL_SIM_MATCH_BEFORE_US,
 * end + CL_SIM_MATCH_AFTER_US] holds its opened time; such an alert
 * detects that episode, and the first of them to be raised gives the
 * delay. A dropout is reported by a device_silent alert of its patient
 * opened within [start - 10 s, end + 60 s]; an artifact is alerted when a
 * clinical alert of its patient opened within [start, end]. The span is
 * the scenario line's, else the truth's first to last time, else the
 * alerts'; the beds are the scenario's patients, else those named. Returns
 * 0 or CL_ENOMEM.
 */
int cl_sim_score_compute(const struct cl_sim_truth *t, const struct cl_sim_alerts *a,
			 struct cl_sim_score *out);

/* Prints the scores: readable lines, or (json) one JSON object. */
void cl_sim_score_print(const struct cl_sim_score *r, int json, FILE *out);

#endif
