/*
 * The vital-signs simulator. See cl_sim.h.
 *
 * Time is cut into rounds: each round every patient's monitor reports its
 * vitals once (a bedside monitor's rhythm) in six slots: heart rate (ECG),
 * pulse rate (oximeter), respiratory rate, SpO2, the cuff's systolic and
 * diastolic at one time, and temperature, which only every TEMP_EVERY-th
 * round. The round length is patients * 6 / rate.
 *
 * Each patient has one clinical episode and one artifact pending at a
 * time (the current or the next one); when one is over the next is drawn.
 * Whoever is drawn second keeps clear of the other, so the two never meet
 * within the scorer's window. Episodes override the physiological values
 * they affect; artifacts then corrupt what the device reports.
 */
#include "cl_sim.h"
#include "core/cl_error.h"
#include "core/cl_rand.h"
#include "core/cl_mem.h"
#include "core/cl_time.h"
#include "stream/cl_news2.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

enum { HR, PR, RR, SPO2, SBP, DBP, TEMP, NV };

enum {
	SLOTS = 6,        /* reading times per patient per round */
	SLOT_BP = 4,      /* the cuff's */
	TEMP_EVERY = 30,  /* rounds between two temperatures of a patient */
};

static const struct {
	const char *type, *unit;
	double lo, hi, noise, span;
	int decimals, slot;
} vk[NV] = {
	[HR] = { "heart_rate", "/min", 64, 88, 1.5, 10, 0, 0 },
	[PR] = { "pulse_rate", "/min", 64, 88, 1.5, 10, 0, 1 },
	[RR] = { "respiratory_rate", "/min", 13, 18, 0.7, 2, 0, 2 },
	[SPO2] = { "spo2", "%", 96, 99, 0.5, 1, 0, 3 },
	[SBP] = { "systolic_bp", "mm[Hg]", 112, 136, 3.0, 8, 0, SLOT_BP },
	[DBP] = { "diastolic_bp", "mm[Hg]", 66, 84, 2.5, 6, 0, SLOT_BP },
	[TEMP] = { "temperature", "Cel", 36.5, 37.1, 0.06, 0.2, 1, 5 },
};

enum episode_kind { E_DESAT, E_TACHY, E_BRADY, E_HYPER, E_SEPSIS, E_KINDS };

static const struct {
	const char *name, *rules;
	int64_t min_s, max_s;
} ek[E_KINDS] = {
	[E_DESAT] = { "desaturation", "spo2_low,news2_single_3", 60, 150 },
	[E_TACHY] = { "tachycardia", "tachycardia,news2_single_3", 60, 150 },
	[E_BRADY] = { "bradycardia", "bradycardia,news2_single_3", 60, 120 },
	[E_HYPER] = { "hypertensive_crisis", "hypertensive_crisis_systolic,hypertensive_crisis_diastolic", 60, 150 },
	[E_SEPSIS] = { "deterioration", "news2_emergency,news2_urgent,news2_single_3,deterioration_trend",
		       900, 1500 },
};

/* a deterioration ramps from the baseline to its targets over this long */
#define RAMP_US (600 * 1000000ll)

enum artifact_kind { A_MOTION, A_PROBE, A_CUFF, A_LEAD, A_DROPOUT, A_KINDS };

static const struct {
	const char *name, *vital, *quality, *rules;
	double min_s, max_s;
} ak[A_KINDS] = {
	[A_MOTION] = { "motion", "heart_rate", NULL, "", 2, 8 },
	[A_PROBE] = { "probe_off", "spo2,pulse_rate", "probe_off", "", 3, 12 },
	[A_CUFF] = { "cuff_outlier", "systolic_bp", NULL, "", 0, 0 },
	[A_LEAD] = { "lead_off", "heart_rate", "lead_off", "", 20, 60 },
	[A_DROPOUT] = { "dropout", "all", NULL, "device_silent", 45, 75 },
};

/* "no such interval": far enough that sums with durations do not overflow */
#define NEVER (INT64_MAX / 4)

struct patient {
	double base[NV], drift[NV];
	int stable;                 /* no clinical episodes */
	int64_t ep_start, ep_end;   /* the current or next episode (inclusive) */
	int ep_kind;
	double target[NV];          /* deterioration: where the ramp goes */
	int64_t prev_ep_end;        /* the end of the episode before */
	int64_t ar_start, ar_end;   /* the current or next artifact (inclusive) */
	int ar_kind;
	int ar_flag;                /* its events say so ("quality") */
	int ar_low;                 /* motion: too low, not too high; lead_off: at 0 */
	int ar_value_set;
	double ar_value;            /* cuff_outlier: mmHg added; lead_off: the line */
	double hr;                  /* this round's heart rate, which the pulse follows */
	double last_hr;             /* the last heart rate reported undisturbed */
};

/* An event held back for late delivery. */
struct late {
	int64_t due;
	char *line;
	size_t len;
};

struct cl_sim {
	struct cl_sim_options o;
	struct patient *p;
	uint64_t rng;
	int64_t start, round_us, step_us, next_round;
	uint64_t round;             /* rounds done */
	uint64_t seq;
	struct late *late;
	size_t nlate, caplate;
	struct cl_sim_episode *truth; /* a min-heap by start of what is injected */
	size_t ntruth, captruth;
	int oom;                    /* the truth could not grow */
};

static double uniform(uint64_t *x)
{
	return cl_rand_uniform(x);
}

static double gauss(uint64_t *x)
{
	return sqrt(-2.0 * log(uniform(x) + 1e-12)) * cos(6.283185307179586 * uniform(x));
}

/* An exponentially distributed wait of mean_s seconds, in µs (NEVER when
 * it would not come in any run). */
static int64_t exp_wait(uint64_t *x, double mean_s)
{
	double us = -log(uniform(x) + 1e-12) * mean_s * 1e6;

	return us < 1e15 ? (int64_t)us : NEVER;
}

/* us down to a whole millisecond: readings and what is injected fall on
 * whole milliseconds, so the RFC 3339 times written say them exactly. */
static int64_t whole_ms(int64_t us)
{
	return us - ((us % 1000) + 1000) % 1000;
}

/* A duration between min_s and max_s seconds, in µs. */
static int64_t duration(uint64_t *x, double min_s, double max_s)
{
	return (int64_t)((min_s + uniform(x) * (max_s - min_s)) * 1e6);
}

void cl_sim_options_default(struct cl_sim_options *o)
{
	memset(o, 0, sizeof(*o));
	o->patients = 16;
	o->rate = 200;
	o->seed = 1;
	o->episode_rate = 2.0;
	o->artifact_rate = 6.0;
	o->stable_share = 0;
	o->late_share = 0.02;
	o->max_late_us = 5000000;
	o->duplicate_share = 0.01;
}

/* Keeps what was injected for cl_sim_next_episode (a min-heap by start). */
static void remember(struct cl_sim *s, const struct cl_sim_episode *e)
{
	size_t i;

	if (!s->o.keep_truth)
		return;
	if (s->ntruth == s->captruth) {
		size_t nc = s->captruth ? s->captruth * 2 : 64;
		void *nt = cl_realloc(s->truth, nc * sizeof(*s->truth));

		if (!nt) {
			s->oom = 1;
			return;
		}
		s->truth = nt;
		s->captruth = nc;
	}
	for (i = s->ntruth++; i > 0 && s->truth[(i - 1) / 2].start_us > e->start_us; i = (i - 1) / 2)
		s->truth[i] = s->truth[(i - 1) / 2];
	s->truth[i] = *e;
}

/* When a deterioration's injected values (the baseline ramping to the
 * targets, noise and drift aside) first score NEWS2 >= 7; 0 if never. */
static int64_t news2_high_from(const struct patient *p, int64_t start)
{
	static const struct { int v; enum cl_news2_param param; } feeds[] = {
		{ RR, CL_NEWS2_RESP }, { SPO2, CL_NEWS2_SPO2 }, { SBP, CL_NEWS2_SBP },
		{ HR, CL_NEWS2_PULSE }, { TEMP, CL_NEWS2_TEMP },
	};

	for (int64_t dt = 0; dt <= RAMP_US; dt += 1000000) {
		double f = (double)dt / (double)RAMP_US;
		int total = 0;

		for (size_t k = 0; k < sizeof(feeds) / sizeof(feeds[0]); k++) {
			int v = feeds[k].v;

			total += cl_news2_score(feeds[k].param,
						p->base[v] + (p->target[v] - p->base[v]) * f);
		}
		if (total >= 7)
			return start + dt;
	}
	return 0;
}

/*
 * Draws patient i's next clinical episode after time t (after a quiet
 * stretch first, so alerts clear, unless quiet is 0). It keeps clear of
 * the pending artifact; one that would not end by the run's end is not
 * injected, nor any after it.
 */
static void schedule_episode(struct cl_sim *s, uint32_t i, int64_t t, int quiet)
{
	struct patient *p = &s->p[i];
	struct cl_sim_episode e = { .patient = i };
	double mean_gap_s, quiet_s;
	int64_t gap, len, start;
	int k;

	if (p->ep_end != NEVER && p->ep_start != NEVER)
		p->prev_ep_end = p->ep_end;
	p->ep_start = p->ep_end = NEVER;
	if (p->stable || !(s->o.episode_rate > 0))
		return;
	mean_gap_s = 3600.0 / s->o.episode_rate;
	gap = exp_wait(&s->rng, mean_gap_s);
	k = (int)(uniform(&s->rng) * E_KINDS);
	len = duration(&s->rng, (double)ek[k].min_s, (double)ek[k].max_s);
	/* a stretch of normal between episodes: 3 minutes, or less when
	 * episodes are asked for more often than that */
	quiet_s = quiet ? (mean_gap_s < 180 ? mean_gap_s : 180) : 0;
	if (gap == NEVER)
		return;
	start = t + (int64_t)(quiet_s * 1e6) + gap;
	if (p->ar_end >= start - CL_SIM_MATCH_BEFORE_US &&
	    p->ar_start <= start + len + CL_SIM_MATCH_AFTER_US)
		start = p->ar_end + CL_SIM_MATCH_BEFORE_US + 1000000;
	if (s->o.end_us && start + len > s->o.end_us)
		return;
	p->ep_start = whole_ms(start);
	p->ep_end = whole_ms(start + len);
	p->ep_kind = k;
	if (k == E_SEPSIS) {
		p->target[RR] = 25 + 3 * uniform(&s->rng);
		p->target[HR] = 112 + 10 * uniform(&s->rng);
		p->target[TEMP] = 39.2 + 0.4 * uniform(&s->rng);
		p->target[SBP] = 92 + 6 * uniform(&s->rng);
		p->target[SPO2] = 91 + 2.4 * uniform(&s->rng);
		e.news2_7_us = news2_high_from(p, start);
	}
	e.kind = ek[k].name;
	e.rules = ek[k].rules;
	e.start_us = p->ep_start;
	e.end_us = p->ep_end;
	remember(s, &e);
}

/* The time of patient i's first cuff reading at or after t. */
static int64_t cuff_slot(const struct cl_sim *s, uint32_t i, int64_t t)
{
	int64_t first = s->start + ((int64_t)i * SLOTS + SLOT_BP) * s->step_us, k;

	if (t <= first)
		return whole_ms(first);
	k = (t - first + s->round_us - 1) / s->round_us;
	return whole_ms(first + k * s->round_us);
}

/*
 * Draws patient i's next artifact after time t, in a normal stretch: not
 * within the scorer's window of the pending episode or the one before. It
 * lasts at least a round (or three, for a flat line), so a reading shows
 * it. One that would not end by the run's end is not injected.
 */
static void schedule_artifact(struct cl_sim *s, uint32_t i, int64_t t)
{
	struct patient *p = &s->p[i];
	struct cl_sim_episode e = { .patient = i, .artifact = 1 };
	int64_t gap, len, start, min_len;
	int k;

	p->ar_start = p->ar_end = NEVER;
	if (!(s->o.artifact_rate > 0))
		return;
	gap = exp_wait(&s->rng, 3600.0 / s->o.artifact_rate);
	k = (int)(uniform(&s->rng) * A_KINDS);
	len = duration(&s->rng, ak[k].min_s, ak[k].max_s);
	p->ar_flag = ak[k].quality && uniform(&s->rng) < 0.5;
	p->ar_low = uniform(&s->rng) < 0.5;
	p->ar_value = 50 + 30 * uniform(&s->rng);
	p->ar_value_set = 0;
	if (gap == NEVER)
		return;
	min_len = k == A_CUFF ? 0 : k == A_LEAD || k == A_DROPOUT ? 3 * s->round_us : s->round_us;
	if (len < min_len)
		len = min_len;
	start = t + gap;
	if (start <= p->prev_ep_end + CL_SIM_MATCH_AFTER_US)
		start = p->prev_ep_end + CL_SIM_MATCH_AFTER_US + 1000000;
	if (k == A_CUFF)
		start = cuff_slot(s, i, start);
	if (start + len >= p->ep_start - CL_SIM_MATCH_BEFORE_US &&
	    start <= p->ep_end + CL_SIM_MATCH_AFTER_US) {
		start = p->ep_end + CL_SIM_MATCH_AFTER_US + 1000000;
		if (k == A_CUFF)
			start = cuff_slot(s, i, start);
	}
	if (s->o.end_us && start + len > s->o.end_us)
		return;
	p->ar_start = whole_ms(start);
	p->ar_end = whole_ms(start + len);
	p->ar_kind = k;
	e.kind = ak[k].name;
	e.rules = ak[k].rules;
	e.vital = ak[k].vital;
	e.quality = p->ar_flag ? ak[k].quality : NULL;
	e.start_us = p->ar_start;
	e.end_us = p->ar_end;
	remember(s, &e);
}

/* Picks the stable patients: exactly ceil(share * patients) of them, by a
 * draw of their own from the seed (a partial shuffle). */
static int pick_stable(struct cl_sim *s)
{
	uint32_t n = s->o.patients, k = (uint32_t)ceil(s->o.stable_share * n - 1e-9);
	uint64_t rng = s->o.seed * 0x9E3779B97F4A7C15ull + 777;
	uint32_t *ids;

	if (k == 0)
		return CL_OK;
	if (k > n)
		k = n;
	ids = cl_malloc(n * sizeof(*ids));
	if (!ids)
		return CL_ENOMEM;
	for (uint32_t i = 0; i < n; i++)
		ids[i] = i;
	for (uint32_t i = 0; i < k; i++) {
		uint32_t j = i + (uint32_t)(uniform(&rng) * (n - i));
		uint32_t x = ids[i];

		ids[i] = ids[j];
		ids[j] = x;
		s->p[ids[i]].stable = 1;
	}
	cl_free(ids);
	return CL_OK;
}

int cl_sim_create(const struct cl_sim_options *o, int64_t start_us, struct cl_sim **out)
{
	struct cl_sim *s;

	if (o->patients == 0 || o->patients > 1000000 || !(o->rate > 0))
		return cl_error_set(CL_EINVAL, "simulate: patients and rate must be positive");
	if (!(o->episode_rate >= 0) || !(o->artifact_rate >= 0) ||
	    !(o->stable_share >= 0 && o->stable_share <= 1))
		return cl_error_set(CL_EINVAL, "simulate: episode and artifact rates must not be "
				    "negative, the stable share from 0 to 1");
	s = cl_calloc(1, sizeof(*s));
	if (!s || !(s->p = cl_calloc(o->patients, sizeof(*s->p)))) {
		cl_free(s);
		return cl_error_set(CL_ENOMEM, "no memory for %u simulated patients", o->patients);
	}
	s->o = *o;
	s->rng = o->seed * 0x2545F4914F6CDD1Dull + 12345;
	s->start = s->next_round = start_us;
	s->round_us = (int64_t)((double)o->patients * SLOTS / o->rate * 1e6);
	if (s->round_us < 1)
		s->round_us = 1;
	s->step_us = s->round_us / ((int64_t)o->patients * SLOTS);
	if (pick_stable(s) != CL_OK) {
		cl_sim_destroy(s);
		return cl_error_set(CL_ENOMEM, "no memory for %u simulated patients", o->patients);
	}
	for (uint32_t i = 0; i < o->patients; i++) {
		struct patient *p = &s->p[i];

		for (int v = 0; v < NV; v++)
			p->base[v] = vk[v].lo + (vk[v].hi - vk[v].lo) * uniform(&s->rng);
		p->hr = p->last_hr = round(p->base[HR]);
		p->ar_start = p->ar_end = p->prev_ep_end = -NEVER;
		p->ep_start = p->ep_end = NEVER;
		/* the first episode comes after one random gap, without the
		 * quiet stretch that follows an episode */
		schedule_episode(s, i, start_us, 0);
		schedule_artifact(s, i, start_us);
	}
	if (s->oom) {
		cl_sim_destroy(s);
		return cl_error_set(CL_ENOMEM, "no memory for the simulator's ground truth");
	}
	*out = s;
	return CL_OK;
}

void cl_sim_destroy(struct cl_sim *s)
{
	if (!s)
		return;
	for (size_t i = 0; i < s->nlate; i++)
		cl_free(s->late[i].line);
	cl_free(s->late);
	cl_free(s->truth);
	cl_free(s->p);
	cl_free(s);
}

int cl_sim_is_stable(const struct cl_sim *s, uint32_t patient)
{
	return patient < s->o.patients && s->p[patient].stable;
}

/* The physiological value of vital v for patient p at time t: baseline,
 * drift, circadian swing and noise, or what an episode makes of it. */
static double value_at(struct cl_sim *s, struct patient *p, int v, int64_t t)
{
	double span = vk[v].span, x;
	int in_ep = t >= p->ep_start && t <= p->ep_end;

	/* the oximeter counts the same beats as the ECG, give or take two */
	if (v == PR)
		return round(p->hr) + floor(5 * uniform(&s->rng)) - 2;
	p->drift[v] += gauss(&s->rng) * span * 0.02;
	if (fabs(p->drift[v]) > span)
		p->drift[v] *= 0.8;
	x = p->base[v] + p->drift[v] +
	    sin(6.283185307179586 * (double)(t % 86400000000ll) / 86400e6) * span * 0.3 +
	    gauss(&s->rng) * vk[v].noise;
	if (in_ep) {
		switch (p->ep_kind) {
		case E_DESAT:
			if (v == SPO2)
				x = 84 + 4 * uniform(&s->rng);
			break;
		case E_TACHY:
			if (v == HR)
				x = 140 + 15 * uniform(&s->rng);
			break;
		case E_BRADY:
			if (v == HR)
				x = 32 + 5 * uniform(&s->rng);
			break;
		case E_HYPER:
			if (v == SBP)
				x = 192 + 12 * uniform(&s->rng);
			if (v == DBP)
				x = 124 + 6 * uniform(&s->rng);
			break;
		case E_SEPSIS:
			/* a linear ramp to the targets over RAMP_US, then held */
			if (v == RR || v == HR || v == TEMP || v == SBP || v == SPO2) {
				double f = (double)(t - p->ep_start) / (double)RAMP_US;

				if (f > 1)
					f = 1;
				x = (1 - f) * x + f * (p->target[v] + gauss(&s->rng) * vk[v].noise);
			}
			break;
		}
	}
	if (v == SPO2 && x > 100)
		x = 100;
	return x;
}

/* What patient p's artifact makes of the reading x of vital v at ts
 * (changed in place); returns the "quality" word the event carries, or
 * NULL. A dropout is not here: its readings are never sent. */
static const char *artifact_at(struct cl_sim *s, struct patient *p, int v, int64_t ts, double *x)
{
	if (ts < p->ar_start || ts > p->ar_end)
		return NULL;
	switch (p->ar_kind) {
	case A_MOTION:
		/* the ECG counts movement; the oximeter is not fooled */
		if (v == HR)
			*x = p->ar_low ? 22 + 8 * uniform(&s->rng) : 200 + 30 * uniform(&s->rng);
		break;
	case A_PROBE:
		if (v != SPO2 && v != PR)
			break;
		*x = v == SPO2 ? 30 + 35 * uniform(&s->rng) : 40 * uniform(&s->rng);
		return p->ar_flag ? ak[A_PROBE].quality : NULL;
	case A_CUFF:
		if (v == SBP)
			*x += p->ar_value;
		break;
	case A_LEAD:
		if (v != HR)
			break;
		if (!p->ar_value_set) {
			p->ar_value = p->ar_low ? 0 : p->last_hr;
			p->ar_value_set = 1;
		}
		*x = p->ar_value;
		return p->ar_flag ? ak[A_LEAD].quality : NULL;
	}
	return NULL;
}

static int put(char **out, size_t *len, size_t *cap, const char *line, size_t n)
{
	if (*len + n + 1 > *cap) {
		size_t nc = *cap ? *cap * 2 : 65536;
		char *nb;

		while (nc < *len + n + 1)
			nc *= 2;
		nb = cl_realloc(*out, nc);
		if (!nb)
			return CL_ENOMEM;
		*out = nb;
		*cap = nc;
	}
	memcpy(*out + *len, line, n);
	*len += n;
	(*out)[*len] = '\0';
	return CL_OK;
}

/* Holds a line back for delivery at due. */
static int hold(struct cl_sim *s, const char *line, size_t n, int64_t due)
{
	if (s->nlate == s->caplate) {
		size_t nc = s->caplate ? s->caplate * 2 : 256;
		void *nl = cl_realloc(s->late, nc * sizeof(*s->late));

		if (!nl)
			return CL_ENOMEM;
		s->late = nl;
		s->caplate = nc;
	}
	s->late[s->nlate].due = due;
	s->late[s->nlate].line = cl_malloc(n);
	if (!s->late[s->nlate].line)
		return CL_ENOMEM;
	memcpy(s->late[s->nlate].line, line, n);
	s->late[s->nlate++].len = n;
	return CL_OK;
}

/* Delivers the held-back lines due by now (all of them: now = NEVER). */
static long deliver_late(struct cl_sim *s, int64_t now, char **out, size_t *len, size_t *cap)
{
	long n = 0;

	for (size_t i = 0; i < s->nlate;) {
		if (s->late[i].due <= now) {
			if (put(out, len, cap, s->late[i].line, s->late[i].len) != CL_OK)
				return -1;
			cl_free(s->late[i].line);
			s->late[i] = s->late[--s->nlate];
			n++;
		} else {
			i++;
		}
	}
	return n;
}

/* One round's readings of patient i, starting at t0; returns how many
 * lines were appended, or -1. */
static long patient_round(struct cl_sim *s, uint32_t i, int64_t t0, char **out, size_t *len,
			  size_t *cap)
{
	struct patient *p = &s->p[i];
	long n = 0;

	if (t0 > p->ep_end)
		schedule_episode(s, i, p->ep_end, 1);
	if (t0 > p->ar_end)
		schedule_artifact(s, i, p->ar_end + 1000000);
	for (int v = 0; v < NV; v++) {
		int64_t ts = whole_ms(t0 + ((int64_t)i * SLOTS + vk[v].slot) * s->step_us);
		char line[360], stamp[40], q[40] = "";
		const char *quality;
		double x;
		int len1;

		if (v == TEMP && (s->round + i) % TEMP_EVERY != 0)
			continue;
		if (p->ar_kind == A_DROPOUT && ts >= p->ar_start && ts <= p->ar_end)
			continue; /* the device is silent */
		x = value_at(s, p, v, ts);
		if (v == HR)
			p->hr = x;
		quality = artifact_at(s, p, v, ts, &x);
		if (v == HR && (ts < p->ar_start || ts > p->ar_end))
			p->last_hr = round(x);
		if (quality)
			snprintf(q, sizeof(q), ",\"quality\":\"%s\"", quality);
		cl_time_format_rfc3339(ts, stamp, sizeof(stamp), 3);
		len1 = snprintf(line, sizeof(line),
				"{\"id\":\"sim-%llu-%llu\",\"device_id\":\"monitor-%04u\","
				"\"patient_id\":\"patient-%04u\",\"ts\":\"%s\",\"type\":\"%s\","
				"\"value\":%.*f,\"unit\":\"%s\"%s}\n",
				(unsigned long long)s->o.seed, (unsigned long long)s->seq++,
				i + 1, i + 1, stamp, vk[v].type, vk[v].decimals, x, vk[v].unit, q);
		if (uniform(&s->rng) < s->o.late_share) {
			/* held back: delivered out of order, later */
			if (hold(s, line, (size_t)len1,
				 ts + (int64_t)(uniform(&s->rng) * (double)s->o.max_late_us)) != CL_OK)
				return -1;
			continue;
		}
		if (put(out, len, cap, line, (size_t)len1) != CL_OK)
			return -1;
		n++;
		if (uniform(&s->rng) < s->o.duplicate_share) {
			if (put(out, len, cap, line, (size_t)len1) != CL_OK)
				return -1;
			n++;
		}
	}
	return n;
}

long cl_sim_events(struct cl_sim *s, int64_t now, char **out, size_t *len, size_t *cap)
{
	long n = deliver_late(s, now, out, len, cap);

	if (n < 0)
		return -1;
	/* a round once its last reading is due: none is ever ahead of now */
	while (s->next_round + ((int64_t)s->o.patients * SLOTS - 1) * s->step_us <= now) {
		for (uint32_t i = 0; i < s->o.patients; i++) {
			long k = patient_round(s, i, s->next_round, out, len, cap);

			if (k < 0)
				return -1;
			n += k;
		}
		s->next_round += s->round_us;
		s->round++;
	}
	return s->oom ? -1 : n;
}

long cl_sim_flush(struct cl_sim *s, char **out, size_t *len, size_t *cap)
{
	return deliver_late(s, NEVER, out, len, cap);
}

int cl_sim_next_episode(struct cl_sim *s, int64_t now, struct cl_sim_episode *e)
{
	struct cl_sim_episode last;
	size_t i = 0;

	if (!s->ntruth || s->truth[0].start_us > now)
		return 0;
	*e = s->truth[0];
	/* sift the last one down from the top */
	last = s->truth[--s->ntruth];
	for (;;) {
		size_t c = 2 * i + 1;

		if (c >= s->ntruth)
			break;
		if (c + 1 < s->ntruth && s->truth[c + 1].start_us < s->truth[c].start_us)
			c++;
		if (s->truth[c].start_us >= last.start_us)
			break;
		s->truth[i] = s->truth[c];
		i = c;
	}
	if (s->ntruth)
		s->truth[i] = last;
	return 1;
}

int cl_sim_episode_json(const struct cl_sim_episode *e, char *buf, size_t cap)
{
	char a[40], b[40], c[40], more[200] = "";

	cl_time_format_rfc3339(e->start_us, a, sizeof(a), 3);
	cl_time_format_rfc3339(e->end_us, b, sizeof(b), 3);
	if (e->artifact) {
		size_t n = 0;

		if (e->quality)
			n += (size_t)snprintf(more, sizeof(more), ",\"quality\":\"%s\"", e->quality);
		if (e->rules && *e->rules)
			snprintf(more + n, sizeof(more) - n, ",\"expected_rules\":\"%s\"", e->rules);
		return snprintf(buf, cap,
				"{\"artifact\":\"%s\",\"patient_id\":\"patient-%04u\","
				"\"device_id\":\"monitor-%04u\",\"vital\":\"%s\",\"start\":\"%s\","
				"\"end\":\"%s\",\"category\":\"technical\"%s}\n",
				e->kind, e->patient + 1, e->patient + 1, e->vital, a, b, more);
	}
	if (e->news2_7_us) {
		cl_time_format_rfc3339(e->news2_7_us, c, sizeof(c), 3);
		snprintf(more, sizeof(more), ",\"news2_ge_7_from\":\"%s\"", c);
	}
	return snprintf(buf, cap,
			"{\"patient_id\":\"patient-%04u\",\"device_id\":\"monitor-%04u\","
			"\"episode\":\"%s\",\"start\":\"%s\",\"end\":\"%s\",\"expected_rules\":\"%s\","
			"\"category\":\"clinical\"%s}\n",
			e->patient + 1, e->patient + 1, e->kind, a, b, e->rules, more);
}
