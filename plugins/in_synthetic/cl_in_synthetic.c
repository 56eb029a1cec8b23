/*
 * in_synthetic: generates bedside-monitor vitals for N patients as JSON
 * device events (the envelope of DESIGN.md: id, device_id, patient_id,
 * ts, type, value, unit), at a fixed total rate, deterministically from a
 * seed. Each patient has a personal baseline per vital that drifts as a
 * bounded random walk with measurement noise, and a slow circadian swing.
 * All data is synthetic: no real patient is behind any value.
 */
#include "cl_in_synthetic.h"
#include "core/cl_error.h"
#include "core/cl_mem.h"
#include "core/cl_time.h"

#include <math.h>
#include <stddef.h>
#include <stdio.h>

struct settings {
	uint32_t patients;  /* patients simulated */
	uint32_t rate;      /* events per second, all patients together */
	uint32_t seed;      /* random seed */
};

static const struct cl_config_entry config_map[] = {
	{ "patients", CL_CFG_U32, "16", 1, 100000, offsetof(struct settings, patients),
	  "number of simulated patients, ids patient-0001..." },
	{ "rate", CL_CFG_U32, "2000", 1, 10000000, offsetof(struct settings, rate),
	  "events per second across all patients" },
	{ "seed", CL_CFG_U32, "1", 0, UINT32_MAX, offsetof(struct settings, seed),
	  "random seed; the same seed gives the same stream" },
};

/* A vital: its event type, unit, typical range and noise. */
struct vital_kind {
	const char *type;
	const char *unit;
	double lo, hi;      /* personal baselines are drawn from [lo, hi] */
	double noise;       /* measurement noise, standard deviation */
	double floor, ceil; /* physiological clamp */
	int decimals;
};

static const struct vital_kind kinds[] = {
	{ "heart_rate", "/min", 62, 92, 2.0, 25, 220, 0 },
	{ "respiratory_rate", "/min", 12, 19, 0.8, 4, 60, 0 },
	{ "spo2", "%", 95, 99, 0.6, 60, 100, 0 },
	{ "systolic_bp", "mm[Hg]", 108, 138, 4.0, 50, 260, 0 },
	{ "diastolic_bp", "mm[Hg]", 64, 86, 3.0, 25, 160, 0 },
	{ "temperature", "Cel", 36.4, 37.2, 0.08, 33, 43, 1 },
};

#define NKINDS (sizeof(kinds) / sizeof(kinds[0]))

struct patient {
	double base[NKINDS];
	double drift[NKINDS];
};

struct state {
	struct settings s;
	struct patient *patients;
	uint64_t rng;
	uint64_t emitted;
	int64_t start_us;
	uint32_t next_patient;
	uint32_t next_kind;
};

/* splitmix64: small, fast and good enough for synthetic vitals. */
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
	double u = uniform(x), v = uniform(x);

	return sqrt(-2.0 * log(u + 1e-12)) * cos(6.283185307179586 * v);
}

static int syn_init(void **out, const void *settings)
{
	struct state *st = cl_calloc(1, sizeof(*st));

	if (!st)
		return cl_error_set(CL_ENOMEM, "no memory for in_synthetic");
	st->s = *(const struct settings *)settings;
	st->rng = st->s.seed * 0x2545F4914F6CDD1Dull + 1;
	st->patients = cl_calloc(st->s.patients, sizeof(*st->patients));
	if (!st->patients) {
		cl_free(st);
		return cl_error_set(CL_ENOMEM, "no memory for %u patients",
				    st->s.patients);
	}
	for (uint32_t p = 0; p < st->s.patients; p++)
		for (size_t k = 0; k < NKINDS; k++)
			st->patients[p].base[k] =
				kinds[k].lo + (kinds[k].hi - kinds[k].lo) * uniform(&st->rng);
	*out = st;
	return CL_OK;
}

static int emit_one(struct state *st, int64_t ts_us, cl_emit_fn emit, void *arg)
{
	const struct vital_kind *k = &kinds[st->next_kind];
	struct patient *p = &st->patients[st->next_patient];
	double *drift = &p->drift[st->next_kind];
	double span = kinds[st->next_kind].hi - kinds[st->next_kind].lo;
	double circadian, value;
	char ts[40], rec[320];
	int n, rc;

	/* bounded random walk around the personal baseline */
	*drift += gauss(&st->rng) * span * 0.01;
	if (fabs(*drift) > span * 0.5)
		*drift *= 0.9;
	circadian = sin(6.283185307179586 * (double)(ts_us % 86400000000ll) /
			86400e6) * span * 0.08;
	value = p->base[st->next_kind] + *drift + circadian +
		gauss(&st->rng) * k->noise;
	if (value < k->floor)
		value = k->floor;
	if (value > k->ceil)
		value = k->ceil;
	cl_time_format_rfc3339(ts_us, ts, sizeof(ts), 3);
	n = snprintf(rec, sizeof(rec),
		     "{\"id\":\"syn-%u-%llu\",\"device_id\":\"monitor-%04u\","
		     "\"patient_id\":\"patient-%04u\",\"ts\":\"%s\",\"type\":\"%s\","
		     "\"value\":%.*f,\"unit\":\"%s\"}",
		     st->s.seed, (unsigned long long)st->emitted,
		     st->next_patient + 1, st->next_patient + 1, ts, k->type,
		     k->decimals, value, k->unit);
	rc = emit(arg, rec, (size_t)n);
	if (rc)
		return rc;
	st->emitted++;
	if (++st->next_kind == NKINDS) {
		st->next_kind = 0;
		if (++st->next_patient == st->s.patients)
			st->next_patient = 0;
	}
	return CL_OK;
}

static int syn_collect(void *state, int64_t now_us, cl_emit_fn emit, void *arg)
{
	struct state *st = state;
	uint64_t due;
	int count = 0;

	if (st->start_us == 0)
		st->start_us = now_us;
	due = (uint64_t)((double)(now_us - st->start_us) * st->s.rate / 1e6) + 1;
	while (st->emitted < due && count < 1000000) {
		int64_t ts = st->start_us +
			     (int64_t)((double)st->emitted * 1e6 / st->s.rate);
		int rc = emit_one(st, ts, emit, arg);

		if (rc == CL_EBUSY)
			break; /* backpressure: try again on the next collect */
		if (rc)
			return rc;
		count++;
	}
	return count;
}

static void syn_exit(void *state)
{
	struct state *st = state;

	if (!st)
		return;
	cl_free(st->patients);
	cl_free(st);
}

const struct cl_input_plugin cl_in_synthetic = {
	.name = "synthetic",
	.description = "synthetic bedside-monitor vitals for N patients",
	.source = "vitals",
	.config_map = config_map,
	.config_count = sizeof(config_map) / sizeof(config_map[0]),
	.config_size = sizeof(struct settings),
	.cb_init = syn_init,
	.cb_collect = syn_collect,
	.cb_exit = syn_exit,
};
