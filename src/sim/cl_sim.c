/*
 * The vital-signs simulator. See cl_sim.h.
 *
 * Time is cut into rounds: each round every patient's monitor reports its
 * six vitals once (a bedside monitor's rhythm), so the round length is
 * patients * 6 / rate. Episodes override the vitals they affect for their
 * duration; a dropout silences the device.
 */
#include "cl_sim.h"
#include "core/cl_error.h"
#include "core/cl_mem.h"
#include "core/cl_time.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

enum { HR, RR, SPO2, SBP, DBP, TEMP, NV };

static const struct {
	const char *type, *unit;
	double lo, hi, noise, span;
	int decimals;
} vk[NV] = {
	[HR] = { "heart_rate", "/min", 64, 88, 1.5, 10, 0 },
	[RR] = { "respiratory_rate", "/min", 13, 18, 0.7, 2, 0 },
	[SPO2] = { "spo2", "%", 96, 99, 0.5, 1, 0 },
	[SBP] = { "systolic_bp", "mm[Hg]", 112, 136, 3.0, 8, 0 },
	[DBP] = { "diastolic_bp", "mm[Hg]", 66, 84, 2.5, 6, 0 },
	[TEMP] = { "temperature", "Cel", 36.5, 37.1, 0.06, 0.2, 1 },
};

enum episode_kind { E_DESAT, E_TACHY, E_BRADY, E_HYPER, E_SEPSIS, E_DROPOUT, E_KINDS };

static const struct {
	const char *name, *rules;
	int64_t min_s, max_s;
} ek[E_KINDS] = {
	[E_DESAT] = { "desaturation", "spo2_low,news2_single_3", 60, 150 },
	[E_TACHY] = { "tachycardia", "tachycardia,news2_single_3", 60, 150 },
	[E_BRADY] = { "bradycardia", "bradycardia,news2_single_3", 60, 120 },
	[E_HYPER] = { "hypertensive_crisis", "hypertensive_crisis_systolic,hypertensive_crisis_diastolic", 60, 150 },
	[E_SEPSIS] = { "deterioration", "news2_emergency,news2_urgent,news2_single_3", 120, 240 },
	[E_DROPOUT] = { "device_dropout", "device_silent", 45, 75 },
};

struct patient {
	double base[NV], drift[NV];
	int64_t ep_start, ep_end;   /* the current or next episode */
	int ep_kind;
	int ep_reported;
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
	int64_t start, round_us, next_round;
	uint64_t seq;
	struct late *late;
	size_t nlate, caplate;
	uint32_t ep_scan;           /* next patient to check for episodes */
};

static uint64_t next_u64(uint64_t *x)
{
	uint64_t z = (*x += 0x9E3779B97F4A7C15ull);

	z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
	z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
	return z ^ (z >> 31);
}

static double uniform(uint64_t *x)
{
	return (double)(next_u64(x) >> 11) / 9007199254740992.0;
}

static double gauss(uint64_t *x)
{
	return sqrt(-2.0 * log(uniform(x) + 1e-12)) * cos(6.283185307179586 * uniform(x));
}

void cl_sim_options_default(struct cl_sim_options *o)
{
	o->patients = 16;
	o->rate = 200;
	o->seed = 1;
	o->episode_rate = 2.0;
	o->late_share = 0.02;
	o->max_late_us = 5000000;
	o->duplicate_share = 0.01;
}

/* Schedules the next episode of patient i after time t. */
static void schedule(struct cl_sim *s, struct patient *p, int64_t t)
{
	double mean_gap_s = 3600.0 / (s->o.episode_rate > 0 ? s->o.episode_rate : 1e-9);
	int64_t gap = (int64_t)(-log(uniform(&s->rng) + 1e-12) * mean_gap_s * 1e6);

	int k = (int)(uniform(&s->rng) * E_KINDS);
	int64_t len = (ek[k].min_s + (int64_t)(uniform(&s->rng) * (double)(ek[k].max_s - ek[k].min_s))) *
		      1000000;

	/* a stretch of normal between episodes, so alerts clear: 3 minutes,
	 * or less when episodes are asked for more often than that */
	double quiet_s = mean_gap_s < 180 ? mean_gap_s : 180;

	p->ep_start = t + (int64_t)(quiet_s * 1e6) + gap;
	p->ep_end = p->ep_start + len;
	p->ep_kind = k;
	p->ep_reported = 0;
}

int cl_sim_create(const struct cl_sim_options *o, int64_t start_us, struct cl_sim **out)
{
	struct cl_sim *s;

	if (o->patients == 0 || o->patients > 1000000 || !(o->rate > 0))
		return cl_error_set(CL_EINVAL, "simulate: patients and rate must be positive");
	s = cl_calloc(1, sizeof(*s));
	if (!s || !(s->p = cl_calloc(o->patients, sizeof(*s->p)))) {
		cl_free(s);
		return cl_error_set(CL_ENOMEM, "no memory for %u simulated patients", o->patients);
	}
	s->o = *o;
	s->rng = o->seed * 0x2545F4914F6CDD1Dull + 12345;
	s->start = s->next_round = start_us;
	s->round_us = (int64_t)((double)o->patients * NV / o->rate * 1e6);
	if (s->round_us < 1)
		s->round_us = 1;
	for (uint32_t i = 0; i < o->patients; i++) {
		for (int v = 0; v < NV; v++)
			s->p[i].base[v] = vk[v].lo + (vk[v].hi - vk[v].lo) * uniform(&s->rng);
		/* the first episode comes after one random gap, without the
		 * quiet stretch that follows an episode */
		double gap_s = 3600.0 / (o->episode_rate > 0 ? o->episode_rate : 1e-9);

		schedule(s, &s->p[i], start_us - (int64_t)((gap_s < 180 ? gap_s : 180) * 1e6));
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
	cl_free(s->p);
	cl_free(s);
}

/* The value of vital v for patient p at time t. */
static double value_at(struct cl_sim *s, struct patient *p, int v, int64_t t)
{
	double span = vk[v].span, x;
	int in_ep = t >= p->ep_start && t < p->ep_end;

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
			if (v == RR)
				x = 25 + 3 * uniform(&s->rng);
			if (v == HR)
				x = 112 + 10 * uniform(&s->rng);
			if (v == TEMP)
				x = 39.2 + 0.4 * uniform(&s->rng);
			if (v == SBP)
				x = 92 + 6 * uniform(&s->rng);
			break;
		}
	}
	if (v == SPO2 && x > 100)
		x = 100;
	return x;
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

long cl_sim_events(struct cl_sim *s, int64_t now, char **out, size_t *len, size_t *cap)
{
	long n = 0;

	/* late deliveries that are due now */
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
	while (s->next_round <= now) {
		int64_t t0 = s->next_round, step = s->round_us / ((int64_t)s->o.patients * NV);

		for (uint32_t i = 0; i < s->o.patients; i++) {
			struct patient *p = &s->p[i];

			if (t0 >= p->ep_end)
				schedule(s, p, p->ep_end);
			for (int v = 0; v < NV; v++) {
				/* a cuff reads systolic and diastolic at once */
				int slot = v == DBP ? SBP : v;
				int64_t ts = t0 + ((int64_t)i * NV + slot) * step;
				char line[320], stamp[40];
				int len1;

				if (p->ep_kind == E_DROPOUT && ts >= p->ep_start && ts < p->ep_end)
					continue; /* the device is silent */
				cl_time_format_rfc3339(ts, stamp, sizeof(stamp), 3);
				len1 = snprintf(line, sizeof(line),
						"{\"id\":\"sim-%llu-%llu\",\"device_id\":\"monitor-%04u\","
						"\"patient_id\":\"patient-%04u\",\"ts\":\"%s\",\"type\":\"%s\","
						"\"value\":%.*f,\"unit\":\"%s\"}\n",
						(unsigned long long)s->o.seed, (unsigned long long)s->seq++,
						i + 1, i + 1, stamp, vk[v].type, vk[v].decimals,
						value_at(s, p, v, ts), vk[v].unit);
				if (uniform(&s->rng) < s->o.late_share) {
					/* held back: delivered out of order, later */
					if (s->nlate == s->caplate) {
						size_t nc = s->caplate ? s->caplate * 2 : 256;
						void *nl = cl_realloc(s->late, nc * sizeof(*s->late));

						if (!nl)
							return -1;
						s->late = nl;
						s->caplate = nc;
					}
					s->late[s->nlate].due = ts + (int64_t)(uniform(&s->rng) *
									       (double)s->o.max_late_us);
					s->late[s->nlate].line = cl_malloc((size_t)len1);
					if (!s->late[s->nlate].line)
						return -1;
					memcpy(s->late[s->nlate].line, line, (size_t)len1);
					s->late[s->nlate++].len = (size_t)len1;
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
		}
		s->next_round += s->round_us;
	}
	return n;
}

int cl_sim_next_episode(struct cl_sim *s, int64_t now, struct cl_sim_episode *e)
{
	for (uint32_t k = 0; k < s->o.patients; k++) {
		uint32_t i = (s->ep_scan + k) % s->o.patients;
		struct patient *p = &s->p[i];

		if (!p->ep_reported && p->ep_start <= now && p->ep_start >= s->start) {
			p->ep_reported = 1;
			e->patient = i;
			e->kind = ek[p->ep_kind].name;
			e->rules = ek[p->ep_kind].rules;
			e->start_us = p->ep_start;
			e->end_us = p->ep_end;
			s->ep_scan = i + 1;
			return 1;
		}
	}
	return 0;
}

int cl_sim_episode_json(const struct cl_sim_episode *e, char *buf, size_t cap)
{
	char a[40], b[40];

	cl_time_format_rfc3339(e->start_us, a, sizeof(a), 3);
	cl_time_format_rfc3339(e->end_us, b, sizeof(b), 3);
	return snprintf(buf, cap,
			"{\"patient_id\":\"patient-%04u\",\"device_id\":\"monitor-%04u\","
			"\"episode\":\"%s\",\"start\":\"%s\",\"end\":\"%s\",\"expected_rules\":\"%s\"}\n",
			e->patient + 1, e->patient + 1, e->kind, a, b, e->rules);
}
