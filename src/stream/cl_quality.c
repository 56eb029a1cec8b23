/*
 * Signal quality of vital-sign readings. See cl_quality.h.
 */
#include "cl_quality.h"
#include "core/cl_config.h"
#include "core/cl_error.h"
#include "core/cl_mem.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define SEC 1000000ll

/* Related readings count as simultaneous within this much event time. */
#define NEAR_US (2 * SEC)

/* The most readings a suspect run holds: past it the run is accepted
 * (a device sending many readings a second settles sooner). */
#define HELD_MAX 256

void cl_quality_defaults(struct cl_quality_spec s[CL_VITAL_COUNT])
{
	memset(s, 0, sizeof(*s) * CL_VITAL_COUNT);
	s[CL_VITAL_HEART_RATE] = (struct cl_quality_spec){ 20, 250, 30, 3, 10 * SEC, 20 * SEC, 1 };
	s[CL_VITAL_PULSE_RATE] = (struct cl_quality_spec){ 20, 250, 30, 3, 10 * SEC, 0, 1 };
	s[CL_VITAL_RESPIRATORY_RATE] = (struct cl_quality_spec){ 0, 60, 10, 1, 15 * SEC, 0, 1 };
	s[CL_VITAL_SPO2] = (struct cl_quality_spec){ 50, 101, 4, 1, 15 * SEC, 0, 1 };
	s[CL_VITAL_SYSTOLIC_BP] = (struct cl_quality_spec){ 40, 260, 30, 2, 10 * SEC, 0, 1 };
	s[CL_VITAL_DIASTOLIC_BP] = (struct cl_quality_spec){ 20, 180, 20, 2, 10 * SEC, 0, 1 };
	s[CL_VITAL_TEMPERATURE] = (struct cl_quality_spec){ 30, 43, 1.0, 0.05, 60 * SEC, 0, 1 };
}

static const char *const reason_names[CL_QR_COUNT] = {
	[CL_QR_NONE] = "clean",
	[CL_QR_DEVICE_FLAG] = "device_flag",
	[CL_QR_JUMP] = "implausible_jump",
	[CL_QR_LIMIT] = "sensor_limit",
	[CL_QR_FLAT] = "flat_line",
	[CL_QR_PULSE_DISAGREES] = "disagrees_with_pulse",
	[CL_QR_ECG_DISAGREES] = "disagrees_with_ecg",
	[CL_QR_OXIMETER] = "oximeter_pulse_wrong",
	[CL_QR_PRESSURE] = "pressure_mismatch",
};

static const char *const condition_names[CL_QC_COUNT] = { "probe_off", "lead_off",
							  "poor_signal" };

const char *cl_quality_reason_name(enum cl_quality_reason r)
{
	return r < CL_QR_COUNT ? reason_names[r] : "?";
}

const char *cl_quality_condition_name(enum cl_quality_condition c)
{
	return c < CL_QC_COUNT ? condition_names[c] : "?";
}

int cl_quality_condition_by_name(const char *name)
{
	for (int i = 0; i < CL_QC_COUNT; i++)
		if (strcmp(condition_names[i], name) == 0)
			return i;
	return -1;
}

/* The change allowed between a reference dt_us old and a new reading. */
static double allowed(const struct cl_quality_spec *s, int64_t dt_us)
{
	double extra = (double)(dt_us - SEC) / 1e6;

	return s->jump + (extra > 0 ? extra * s->jump_per_s : 0);
}

/* How close two rates must be to be the same heart seen twice. */
static double rate_tolerance(double a)
{
	double t = fabs(a) * 0.15;

	return t > 10 ? t : 10;
}

/* The technical condition a reason points to, for vital v. */
static int condition_of(enum cl_vital v, enum cl_quality_reason r, int flag)
{
	if (flag == CL_EQ_PROBE_OFF || r == CL_QR_OXIMETER)
		return CL_QC_PROBE_OFF;
	if (flag == CL_EQ_LEAD_OFF || (r == CL_QR_FLAT && v == CL_VITAL_HEART_RATE))
		return CL_QC_LEAD_OFF;
	if (v == CL_VITAL_SPO2 || v == CL_VITAL_PULSE_RATE)
		return r == CL_QR_ECG_DISAGREES && v == CL_VITAL_PULSE_RATE ? CL_QC_PROBE_OFF
									  : CL_QC_POOR_SIGNAL;
	return CL_QC_POOR_SIGNAL;
}

/* Marks a condition of vital v as holding since ts (kept if it already
 * holds). */
static void condition_on(struct cl_quality_patient *p, enum cl_vital v, int c, int64_t ts)
{
	if (!p->since[c] || ts < p->since[c])
		p->since[c] = ts > 0 ? ts : 1;
	if (c == CL_QC_POOR_SIGNAL)
		p->poor_vital = (uint8_t)v;
}

/* A clean reading of v ends the conditions it disproves. */
static void condition_off(struct cl_quality_patient *p, enum cl_vital v)
{
	if (v == CL_VITAL_SPO2 || v == CL_VITAL_PULSE_RATE)
		p->since[CL_QC_PROBE_OFF] = 0;
	if (v == CL_VITAL_HEART_RATE)
		p->since[CL_QC_LEAD_OFF] = 0;
	if (p->poor_vital == v)
		p->since[CL_QC_POOR_SIGNAL] = 0;
}

/* Releases the suspect run of v: as clean (reason NONE; the last held
 * value becomes the reference) or as artifacts. */
static int release(struct cl_quality_patient *p, enum cl_vital v, enum cl_quality_reason reason,
		   cl_quality_emit_fn emit, void *arg)
{
	struct cl_quality_stream *st = &p->v[v];
	int rc = 0;

	if (!st->nheld)
		return 0;
	if (reason == CL_QR_NONE) {
		st->ref = st->held[st->nheld - 1].value;
		st->ref_ts = st->held[st->nheld - 1].ts_us;
		st->have_ref = 1;
		st->last_clean = 1;
		condition_off(p, v);
	} else {
		condition_on(p, v, condition_of(v, reason, 0), st->held[0].ts_us);
	}
	for (uint16_t i = 0; i < st->nheld && rc == 0; i++)
		rc = emit(arg, v, st->held[i].ts_us, st->held[i].value, reason);
	st->nheld = 0;
	return rc;
}

/* The partner that tells a suspect run of v apart, if any. */
static int partner_of(enum cl_vital v)
{
	switch (v) {
	case CL_VITAL_HEART_RATE: return CL_VITAL_PULSE_RATE;
	case CL_VITAL_PULSE_RATE: return CL_VITAL_HEART_RATE;
	case CL_VITAL_SYSTOLIC_BP: return CL_VITAL_DIASTOLIC_BP;
	case CL_VITAL_DIASTOLIC_BP: return CL_VITAL_SYSTOLIC_BP;
	case CL_VITAL_SPO2: return CL_VITAL_PULSE_RATE;
	default: return -1;
	}
}

/*
 * What the related signal says of v's suspect run: 1 corroborates it,
 * -1 contradicts it (with *why), 0 cannot tell yet.
 */
static int judge(const struct cl_quality_spec *spec, const struct cl_quality_patient *p,
		 enum cl_vital v, enum cl_quality_reason *why)
{
	const struct cl_quality_stream *st = &p->v[v];
	int w = partner_of(v);
	const struct cl_quality_stream *o;
	const struct cl_quality_reading *first, *last;

	if (w < 0 || !st->nheld || !spec[w].enabled)
		return 0;
	o = &p->v[w];
	first = &st->held[0];
	last = &st->held[st->nheld - 1];
	if (!o->have_last || o->last_ts < first->ts_us - NEAR_US)
		return 0; /* nothing of the partner during the run */
	if (v == CL_VITAL_SPO2) {
		/* the oximeter's own pulse against the ECG: a probe that has
		 * lost the pulse cannot be trusted for SpO2 either */
		const struct cl_quality_stream *ecg = &p->v[CL_VITAL_HEART_RATE];

		if (o->nheld || !o->last_clean) {
			if (ecg->have_ref && fabs(o->last - ecg->ref) > rate_tolerance(ecg->ref)) {
				*why = CL_QR_OXIMETER;
				return -1;
			}
		}
		return 0;
	}
	if (v == CL_VITAL_HEART_RATE || v == CL_VITAL_PULSE_RATE) {
		if (o->last_ts < last->ts_us - NEAR_US)
			return 0;
		if (fabs(o->last - last->value) <= rate_tolerance(last->value))
			return 1;
		/* two of the partner's readings since the run began, at the
		 * old level: the partner is right */
		if (o->last_clean && o->ref_ts >= first->ts_us &&
		    fabs(o->ref - st->ref) <= rate_tolerance(st->ref)) {
			*why = v == CL_VITAL_HEART_RATE ? CL_QR_PULSE_DISAGREES : CL_QR_ECG_DISAGREES;
			return -1;
		}
		return 0;
	}
	/* systolic and diastolic: one cuff, one reading; a real change
	 * moves both the same way */
	{
		double dir = last->value - st->ref;

		if (o->last_ts < last->ts_us - NEAR_US / 2 || o->last_ts > last->ts_us + NEAR_US / 2)
			return 0;
		if (o->nheld && (o->last - o->ref) * dir > 0)
			return 1;
		if (o->last_clean && o->ref_ts >= first->ts_us) {
			*why = CL_QR_PRESSURE;
			return -1;
		}
		return 0;
	}
}

/* Decides v's suspect run if it can be: corroborated, contradicted or
 * settled by now_us. */
static int decide(const struct cl_quality_spec *spec, struct cl_quality_patient *p,
		  enum cl_vital v, int64_t now_us, cl_quality_emit_fn emit, void *arg)
{
	struct cl_quality_stream *st = &p->v[v];
	enum cl_quality_reason why = CL_QR_NONE;
	int j;

	if (!st->nheld)
		return 0;
	j = judge(spec, p, v, &why);
	if (j < 0)
		return release(p, v, why, emit, arg);
	if (j > 0) {
		int w = partner_of(v), rc = release(p, v, CL_QR_NONE, emit, arg);

		/* the partner's own suspect run is corroborated by the same
		 * agreement */
		if (rc == 0 && w >= 0 && p->v[w].nheld && v != CL_VITAL_SPO2)
			rc = release(p, (enum cl_vital)w, CL_QR_NONE, emit, arg);
		return rc;
	}
	if (now_us - st->held[0].ts_us >= spec[v].settle_us || st->nheld >= HELD_MAX)
		return release(p, v, CL_QR_NONE, emit, arg);
	return 0;
}

static int hold(struct cl_quality_stream *st, int64_t ts, double value)
{
	if (st->nheld == st->capheld) {
		uint16_t nc = st->capheld ? (uint16_t)(st->capheld * 2) : 16;
		void *nb = cl_realloc(st->held, nc * sizeof(*st->held));

		if (!nb)
			return CL_ENOMEM;
		st->held = nb;
		st->capheld = nc;
	}
	st->held[st->nheld++] = (struct cl_quality_reading){ ts, value };
	return 0;
}

int cl_quality_add(const struct cl_quality_spec spec[CL_VITAL_COUNT], struct cl_quality_patient *p,
		   enum cl_vital v, int64_t ts, double value, int flag, cl_quality_emit_fn emit,
		   void *arg)
{
	const struct cl_quality_spec *s = &spec[v];
	struct cl_quality_stream *st = &p->v[v];
	int w = partner_of(v), rc = 0, flat = 0;

	if (!s->enabled)
		return emit(arg, v, ts, value, CL_QR_NONE);
	/* the run of identical values */
	if (st->flat_n && value == st->flat_value) {
		st->flat_n++;
	} else {
		st->flat_value = value;
		st->flat_since = ts;
		st->flat_n = 1;
	}
	flat = s->flat_us && st->flat_n >= 3 && ts - st->flat_since >= s->flat_us;
	st->last = value;
	st->last_ts = ts;
	st->have_last = 1;
	st->last_clean = 0;
	if (flag == CL_EQ_POOR || flag == CL_EQ_ARTIFACT || flag == CL_EQ_PROBE_OFF ||
	    flag == CL_EQ_LEAD_OFF || flat) {
		enum cl_quality_reason r = flat ? CL_QR_FLAT : CL_QR_DEVICE_FLAG;

		/* the run that led here was the start of the same trouble */
		rc = release(p, v, r, emit, arg);
		condition_on(p, v, condition_of(v, r, flag), ts);
		if (rc == 0)
			rc = emit(arg, v, ts, value, r);
		goto partner;
	}
	if (st->nheld) {
		/* near the reference again (within one second's change: the
		 * allowance does not grow while the run lasts) */
		int back = st->have_ref ? fabs(value - st->ref) <= s->jump
					: fabs(value - st->held[st->nheld - 1].value) > s->jump;

		/* (no reference yet: a plausible value far from the held ones
		 * ends the run the same way) */
		if (back && value > s->lo && value < s->hi) {
			/* back at once: the run was an artifact */
			rc = release(p, v, st->held_reason, emit, arg);
			goto accept;
		}
		if ((rc = hold(st, ts, value)) != 0)
			goto lost;
		rc = decide(spec, p, v, ts, emit, arg);
		goto partner;
	}
	if (value <= s->lo || value >= s->hi ||
	    (st->have_ref && fabs(value - st->ref) > allowed(s, ts - st->ref_ts))) {
		st->held_reason = value <= s->lo || value >= s->hi ? CL_QR_LIMIT : CL_QR_JUMP;
		if ((rc = hold(st, ts, value)) != 0)
			goto lost;
		rc = decide(spec, p, v, ts, emit, arg);
		goto partner;
	}
accept:
	st->ref = value;
	st->ref_ts = ts;
	st->have_ref = 1;
	st->last_clean = 1;
	condition_off(p, v);
	if (rc == 0)
		rc = emit(arg, v, ts, value, CL_QR_NONE);
partner:
	/* this reading may be what the partner's suspect run waited for */
	if (rc == 0 && w >= 0 && p->v[w].nheld)
		rc = decide(spec, p, (enum cl_vital)w, ts, emit, arg);
	if (rc == 0 && v == CL_VITAL_PULSE_RATE && p->v[CL_VITAL_SPO2].nheld)
		rc = decide(spec, p, CL_VITAL_SPO2, ts, emit, arg);
	return rc;
lost:
	/* no memory to hold it: better used than lost */
	emit(arg, v, ts, value, CL_QR_NONE);
	return rc;
}

int cl_quality_tick(const struct cl_quality_spec spec[CL_VITAL_COUNT], struct cl_quality_patient *p,
		    int64_t now_us, cl_quality_emit_fn emit, void *arg)
{
	int rc = 0;

	for (int v = 0; v < CL_VITAL_COUNT && rc == 0; v++)
		if (p->v[v].nheld && now_us - p->v[v].held[0].ts_us >= spec[v].settle_us)
			rc = release(p, (enum cl_vital)v, CL_QR_NONE, emit, arg);
	return rc;
}

void cl_quality_patient_free(struct cl_quality_patient *p)
{
	for (int v = 0; v < CL_VITAL_COUNT; v++) {
		cl_free(p->v[v].held);
		p->v[v].held = NULL;
		p->v[v].nheld = p->v[v].capheld = 0;
	}
}

/* The quality.* list section: one item per vital, named by the vital. */
static int quality_init(void *items, int max)
{
	(void)max;
	cl_quality_defaults(items);
	return CL_VITAL_COUNT;
}

static int quality_set(void *items, int *n, int max, const char *key, const char *value)
{
	static const char *const fields[] = { "lo", "hi", "jump", "jump_per_s", "settle", "flat",
					      "enabled", NULL };
	struct cl_quality_spec *s;
	const char *field;
	char name[48], *end;
	double d;
	int v, rc = cl_config_named_key(key, "quality.", fields, "vital", name, sizeof(name), &field);

	(void)n;
	(void)max;
	if (rc)
		return rc;
	v = cl_vital_by_name(name, strlen(name));
	if (v < 0)
		return cl_error_set(CL_EINVAL, "quality.%s: unknown vital (one of heart_rate, "
				    "pulse_rate, respiratory_rate, spo2, systolic_bp, diastolic_bp, "
				    "temperature, ...)", name);
	s = (struct cl_quality_spec *)items + v;
	if (strcmp(field, "enabled") == 0) {
		if (strcmp(value, "true") && strcmp(value, "false"))
			return cl_error_set(CL_EINVAL, "quality.%s.enabled must be true or false", name);
		s->enabled = value[0] == 't';
		return CL_OK;
	}
	if (strcmp(field, "settle") == 0 || strcmp(field, "flat") == 0) {
		int64_t *t = field[0] == 's' ? &s->settle_us : &s->flat_us;

		if (cl_parse_duration_us(value, 0, 3600 * SEC, t) != CL_OK)
			return cl_error_set(CL_EINVAL, "quality.%s.%s: %s", name, field,
					    cl_error_detail());
		return CL_OK;
	}
	d = strtod(value, &end);
	if (end == value || *end || !isfinite(d) ||
	    ((strcmp(field, "jump") == 0 || strcmp(field, "jump_per_s") == 0) && d < 0))
		return cl_error_set(CL_EINVAL, "quality.%s.%s must be a number%s (got '%.40s')", name,
				    field, field[0] == 'j' ? " >= 0" : "", value);
	if (strcmp(field, "lo") == 0)
		s->lo = d;
	else if (strcmp(field, "hi") == 0)
		s->hi = d;
	else if (strcmp(field, "jump") == 0)
		s->jump = d;
	else
		s->jump_per_s = d;
	return CL_OK;
}

static int quality_check(void *items, int n)
{
	const struct cl_quality_spec *s = items;

	for (int v = 0; v < n; v++)
		if (s[v].enabled && !(s[v].lo < s[v].hi))
			return cl_error_set(CL_EINVAL, "quality.%s: lo (%g) must be below hi (%g)",
					    cl_vital_name((enum cl_vital)v), s[v].lo, s[v].hi);
	return CL_OK;
}

static void quality_print(FILE *out, const void *items, int n, int help)
{
	const struct cl_quality_spec *s = items;

	for (int v = 0; v < n; v++) {
		if (!s[v].enabled) {
			fprintf(out, "quality.%s = off\n", cl_vital_name((enum cl_vital)v));
			continue;
		}
		fprintf(out, "quality.%s = on: limits %g..%g, jump %g + %g/s, settle %llds, flat %llds\n",
			cl_vital_name((enum cl_vital)v), s[v].lo, s[v].hi, s[v].jump, s[v].jump_per_s,
			(long long)(s[v].settle_us / SEC), (long long)(s[v].flat_us / SEC));
	}
	if (help)
		fprintf(out, "    signal quality checks before any rule sees a reading (docs/alerts.md):\n"
			"    readings at or beyond lo/hi, or changing more than jump (+ jump_per_s for\n"
			"    each further second) are held until they return (artifact), a related\n"
			"    signal decides, or they hold for settle; the same value for flat is a\n"
			"    flat line (0: off); set quality.<vital>.lo|hi|jump|jump_per_s|settle|\n"
			"    flat|enabled\n");
}

static const struct cl_config_list quality_list = {
	.forms = "quality.<vital>.lo|hi|jump|jump_per_s|settle|flat|enabled",
	.item_size = sizeof(struct cl_quality_spec),
	.max = CL_VITAL_COUNT,
	.init = quality_init,
	.set = quality_set,
	.check = quality_check,
	.print = quality_print,
};

const struct cl_config_section cl_quality_section = {
	.name = "quality",
	.list = &quality_list,
};
