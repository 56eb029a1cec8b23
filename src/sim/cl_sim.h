/*
 * The vital-signs simulator behind `carelake simulate` and `carelake
 * demo`: N synthetic ICU patients, each with a bedside monitor, producing
 * device events in event time, deterministically from a seed.
 *
 * Each patient has personal baselines that drift as a bounded random walk
 * with measurement noise and a circadian swing. Into this, two kinds of
 * thing are injected at random times and written to a ground-truth list:
 *
 *   clinical episodes, sustained (at least a minute): desaturation,
 *   tachycardia, bradycardia, hypertensive crisis, and a sepsis-like
 *   deterioration that ramps several parameters together over ten minutes
 *   and holds; each with the alert rules it should raise;
 *
 *   artifacts, the technical noise of a real ward: an ECG motion artifact,
 *   an oximeter probe off the finger, a single outlying cuff reading, an
 *   ECG lead off (a flat line), and a device dropout (the device silent).
 *   They should raise no clinical alert (a dropout: device_silent).
 *
 * Artifacts are placed in the normal stretches of a patient, never within
 * CL_SIM_MATCH_BEFORE_US before a clinical episode or CL_SIM_MATCH_AFTER_US
 * after it, so an alert in an episode's window is the episode's. A share
 * of patients can be stable: artifacts only. Delivery is imperfect on
 * purpose: a share of events arrive late (out of order) and some are sent
 * twice with the same id.
 *
 * All data is synthetic; patient ids are patient-0001..., devices
 * monitor-0001..., the same ids `carelake generate` uses.
 */
#ifndef CL_SIM_H
#define CL_SIM_H

#include <stddef.h>
#include <stdint.h>

/* An alert belongs to a clinical episode when it opens within this long
 * before the episode's start or after its end (the scorer's window, see
 * cl_sim_score.h; artifacts are kept out of it). */
#define CL_SIM_MATCH_BEFORE_US (30 * 1000000ll)
#define CL_SIM_MATCH_AFTER_US (120 * 1000000ll)

struct cl_sim_options {
	uint32_t patients;
	double rate;              /* events per second, all patients */
	uint64_t seed;
	double episode_rate;      /* clinical episodes per patient per hour (0: none) */
	double artifact_rate;     /* artifacts per patient per hour (0: none) */
	double stable_share;      /* share of patients without clinical episodes (0..1) */
	double late_share;        /* share of events delivered late (0..1) */
	int64_t max_late_us;      /* how late at most */
	double duplicate_share;   /* share of events sent twice */
	int64_t end_us;           /* nothing is injected that would not end by
				   * then (event time; 0: no end) */
	int keep_truth;           /* keep what is injected for
				   * cl_sim_next_episode (else it is dropped) */
};

/* An injected clinical episode or artifact, as written to the truth file. */
struct cl_sim_episode {
	uint32_t patient;         /* 0-based */
	int artifact;             /* 1 an artifact, 0 a clinical episode */
	const char *kind;         /* desaturation, ..., motion, probe_off, ... */
	const char *rules;        /* expected rules, comma-separated ("": none) */
	const char *vital;        /* artifacts: the vitals it corrupts */
	const char *quality;      /* artifacts: the events' "quality" word, or NULL */
	int64_t start_us, end_us; /* both inclusive */
	int64_t news2_7_us;       /* deterioration: when the injected values reach
				   * NEWS2 >= 7; otherwise 0 */
};

struct cl_sim;

void cl_sim_options_default(struct cl_sim_options *o);
int cl_sim_create(const struct cl_sim_options *o, int64_t start_us, struct cl_sim **out);
void cl_sim_destroy(struct cl_sim *s);

/*
 * Appends to out (NDJSON, one event per line) every event due up to
 * now_us (a round of readings once the last of it is due, so none is
 * later than now_us), including late and duplicate deliveries that fall
 * due; returns how many. out grows as needed (cl_realloc).
 */
long cl_sim_events(struct cl_sim *s, int64_t now_us, char **out, size_t *len, size_t *cap);

/* Appends every event still held back for late delivery (at the end of a
 * run); returns how many. */
long cl_sim_flush(struct cl_sim *s, char **out, size_t *len, size_t *cap);

/* Whether patient i (0-based) is one of the stable ones. */
int cl_sim_is_stable(const struct cl_sim *s, uint32_t patient);

/* The next episode or artifact that has started by now_us and was not
 * yet returned, earliest first (only with keep_truth). 1 if there is one. */
int cl_sim_next_episode(struct cl_sim *s, int64_t now_us, struct cl_sim_episode *e);

/* Writes an episode or artifact as one JSON line into buf. */
int cl_sim_episode_json(const struct cl_sim_episode *e, char *buf, size_t cap);

#endif
