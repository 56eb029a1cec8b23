/*
 * The vital-signs simulator behind `carelake simulate` and `carelake
 * demo`: N synthetic ICU patients, each with a bedside monitor, producing
 * device events in real time, deterministically from a seed.
 *
 * Each patient has personal baselines that drift as a bounded random walk
 * with measurement noise and a circadian swing. Into this, episodes are
 * injected at random times — desaturation, tachycardia, bradycardia,
 * hypertensive crisis, a septic-looking deterioration that moves several
 * parameters together, and device dropouts — and each is written to a
 * ground-truth list with the alert rules it should raise. Delivery is
 * imperfect on purpose: a share of events arrive late (out of order) and
 * some are sent twice with the same id.
 *
 * All data is synthetic; patient ids are patient-0001..., devices
 * monitor-0001..., the same ids `carelake generate` uses.
 */
#ifndef CL_SIM_H
#define CL_SIM_H

#include <stddef.h>
#include <stdint.h>

struct cl_sim_options {
	uint32_t patients;
	double rate;              /* events per second, all patients */
	uint64_t seed;
	double episode_rate;      /* episodes per patient per hour */
	double late_share;        /* share of events delivered late (0..1) */
	int64_t max_late_us;      /* how late at most */
	double duplicate_share;   /* share of events sent twice */
};

/* An injected episode, as written to the truth file. */
struct cl_sim_episode {
	uint32_t patient;         /* 0-based */
	const char *kind;         /* desaturation, tachycardia, ... */
	const char *rules;        /* expected rules, comma-separated */
	int64_t start_us, end_us;
};

struct cl_sim;

void cl_sim_options_default(struct cl_sim_options *o);
int cl_sim_create(const struct cl_sim_options *o, int64_t start_us, struct cl_sim **out);
void cl_sim_destroy(struct cl_sim *s);

/*
 * Appends to out (NDJSON, one event per line) every event due up to
 * now_us, including late and duplicate deliveries that fall due; returns
 * how many. out grows as needed (cl_realloc).
 */
long cl_sim_events(struct cl_sim *s, int64_t now_us, char **out, size_t *len, size_t *cap);

/* Episodes that have started by now_us and were not yet returned. */
int cl_sim_next_episode(struct cl_sim *s, int64_t now_us, struct cl_sim_episode *e);

/* Writes an episode as one JSON line into buf. */
int cl_sim_episode_json(const struct cl_sim_episode *e, char *buf, size_t cap);

#endif
