/*
 * Scoring alerts against the simulator's ground truth. See cl_sim_score.h.
 *
 * Episodes, artifacts and stable patients are sorted by patient once, so
 * each alert looks only at its own patient's (a binary search), not at
 * the whole truth.
 */
#include "cl_sim_score.h"
#include "cl_sim.h"
#include "core/cl_error.h"
#include "core/cl_mem.h"
#include "core/cl_time.h"

#include <jansson.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

/* a dropout is reported by a device_silent alert opened from this long
 * before its start (a server dates the silence from the last reading
 * before it, up to a round earlier) to this long after its end */
#define DROPOUT_BEFORE_US (10 * 1000000ll)
#define DROPOUT_AFTER_US (60 * 1000000ll)

/* Reads an RFC 3339 time from o[key] into *us; an absent key is an error
 * only when required (then *us stays 0). */
static int get_time(json_t *o, const char *key, int required, int64_t *us, const char *where)
{
	json_t *v = json_object_get(o, key);
	const char *s = json_string_value(v);

	*us = 0;
	if (!v || json_is_null(v)) {
		if (required)
			return cl_error_set(CL_EPARSE, "%s: no '%s'", where, key);
		return CL_OK;
	}
	if (!s || cl_time_parse_rfc3339(s, strlen(s), us) != CL_OK)
		return cl_error_set(CL_EPARSE, "%s: '%s' is not an RFC 3339 time", where, key);
	return CL_OK;
}

/* Copies the string o[key] into buf; absent or not a string: "" (or an
 * error when required). */
static int get_str(json_t *o, const char *key, int required, char *buf, size_t cap,
		   const char *where)
{
	const char *s = json_string_value(json_object_get(o, key));

	buf[0] = '\0';
	if (!s) {
		if (required)
			return cl_error_set(CL_EPARSE, "%s: no '%s' (a string)", where, key);
		return CL_OK;
	}
	snprintf(buf, cap, "%s", s);
	return CL_OK;
}

/* Parses one truth line (an object) into t. */
static int truth_line(struct cl_sim_truth *t, json_t *o, const char *where)
{
	struct cl_sim_truth_item it = { 0 };
	int rc;

	if (!json_is_object(o))
		return cl_error_set(CL_EPARSE, "%s: not a JSON object", where);
	if (json_object_get(o, "scenario")) {
		json_int_t n = json_integer_value(json_object_get(o, "patients"));

		if ((rc = get_time(o, "start", 0, &t->start_us, where)) ||
		    (rc = get_time(o, "end", 0, &t->end_us, where)))
			return rc;
		if (n < 0 || n > 100000000)
			return cl_error_set(CL_EPARSE, "%s: 'patients' out of range", where);
		t->patients = (uint32_t)n;
		return CL_OK;
	}
	if (json_is_true(json_object_get(o, "stable"))) {
		it.what = CL_SIM_TRUTH_STABLE;
	} else if (json_is_string(json_object_get(o, "episode"))) {
		it.what = CL_SIM_TRUTH_EPISODE;
		get_str(o, "episode", 1, it.kind, sizeof(it.kind), where);
	} else if (json_is_string(json_object_get(o, "artifact"))) {
		it.what = CL_SIM_TRUTH_ARTIFACT;
		get_str(o, "artifact", 1, it.kind, sizeof(it.kind), where);
	} else {
		return cl_error_set(CL_EPARSE, "%s: neither an episode, an artifact, a stable patient "
				    "nor the scenario", where);
	}
	if ((rc = get_str(o, "patient_id", 1, it.patient, sizeof(it.patient), where)))
		return rc;
	if (it.what != CL_SIM_TRUTH_STABLE) {
		if ((rc = get_time(o, "start", 1, &it.start_us, where)) ||
		    (rc = get_time(o, "end", 1, &it.end_us, where)) ||
		    (rc = get_time(o, "news2_ge_7_from", 0, &it.news2_7_us, where)))
			return rc;
		if (it.end_us < it.start_us)
			return cl_error_set(CL_EPARSE, "%s: 'end' is before 'start'", where);
	}
	if (t->n == t->cap) {
		size_t nc = t->cap ? t->cap * 2 : 256;
		void *ni = cl_realloc(t->items, nc * sizeof(*t->items));

		if (!ni)
			return cl_error_set(CL_ENOMEM, "no memory for the truth");
		t->items = ni;
		t->cap = nc;
	}
	t->items[t->n++] = it;
	return CL_OK;
}

/* Calls fn for each non-blank line of NDJSON text, parsed, with where
 * naming it ("<what> line N"); stops at the first error. */
static int each_line(const char *text, size_t len, const char *what,
		     int (*fn)(void *arg, json_t *o, const char *where), void *arg)
{
	size_t pos = 0;
	long line = 0;

	while (pos < len) {
		const char *nl = memchr(text + pos, '\n', len - pos);
		size_t end = nl ? (size_t)(nl - text) : len, k;
		char where[40];
		json_error_t err;
		json_t *o;
		int rc;

		line++;
		for (k = pos; k < end && strchr(" \t\r", text[k]); k++)
			;
		snprintf(where, sizeof(where), "%s line %ld", what, line);
		if (k < end) {
			o = json_loadb(text + pos, end - pos, 0, &err);
			if (!o)
				return cl_error_set(CL_EPARSE, "%s: %s", where, err.text);
			rc = fn(arg, o, where);
			json_decref(o);
			if (rc)
				return rc;
		}
		pos = end + 1;
	}
	return CL_OK;
}

static int truth_each(void *arg, json_t *o, const char *where)
{
	return truth_line(arg, o, where);
}

int cl_sim_truth_parse(struct cl_sim_truth *t, const char *text, size_t len)
{
	return each_line(text, len, "truth", truth_each, t);
}

void cl_sim_truth_free(struct cl_sim_truth *t)
{
	cl_free(t->items);
	memset(t, 0, sizeof(*t));
}

/* Whether a rule is technical when the alert does not say. */
static int technical_rule(const char *rule)
{
	return strcmp(rule, "device_silent") == 0 || strncmp(rule, "technical_", 10) == 0 ||
	       strncmp(rule, "quality_", 8) == 0;
}

/* Parses one alert (an object) into a. */
static int alert_one(struct cl_sim_alerts *a, json_t *o, const char *where)
{
	struct cl_sim_alert x = { 0 };
	const char *cat;
	int rc;

	if (!json_is_object(o))
		return cl_error_set(CL_EPARSE, "%s: not a JSON object", where);
	if ((rc = get_str(o, "rule", 1, x.rule, sizeof(x.rule), where)) ||
	    (rc = get_time(o, "opened", 1, &x.opened_us, where)) ||
	    (rc = get_time(o, "raised", 0, &x.raised_us, where)))
		return rc;
	if (!json_object_get(o, "raised") || json_is_null(json_object_get(o, "raised")))
		x.raised_us = x.opened_us;
	get_str(o, "patient_id", 0, x.patient, sizeof(x.patient), where);
	cat = json_string_value(json_object_get(o, "category"));
	if (!cat) {
		x.technical = technical_rule(x.rule);
	} else if (strcmp(cat, "clinical") == 0 || strcmp(cat, "technical") == 0) {
		x.technical = cat[0] == 't';
	} else {
		a->skipped++;
		return CL_OK;
	}
	if (a->n == a->cap) {
		size_t nc = a->cap ? a->cap * 2 : 256;
		void *na = cl_realloc(a->a, nc * sizeof(*a->a));

		if (!na)
			return cl_error_set(CL_ENOMEM, "no memory for the alerts");
		a->a = na;
		a->cap = nc;
	}
	a->a[a->n++] = x;
	return CL_OK;
}

/* Parses a JSON array of alerts. */
static int alert_array(struct cl_sim_alerts *a, json_t *arr)
{
	size_t i;
	json_t *o;

	json_array_foreach(arr, i, o) {
		char where[60];
		int rc;

		snprintf(where, sizeof(where), "alert %zu of the array", i + 1);
		if ((rc = alert_one(a, o, where)))
			return rc;
	}
	return CL_OK;
}

static int alert_each(void *arg, json_t *o, const char *where)
{
	return alert_one(arg, o, where);
}

int cl_sim_alerts_parse(struct cl_sim_alerts *a, const char *text, size_t len)
{
	size_t pos = 0;
	json_t *doc;
	int rc;

	while (pos < len && strchr(" \t\r\n", text[pos]))
		pos++;
	if (pos == len)
		return CL_OK;
	/* one document: an array, or an object with "alerts" */
	doc = json_loadb(text, len, 0, NULL);
	if (doc && (json_is_array(doc) || json_is_array(json_object_get(doc, "alerts")))) {
		rc = alert_array(a, json_is_array(doc) ? doc : json_object_get(doc, "alerts"));
		json_decref(doc);
		return rc;
	}
	json_decref(doc);
	if (text[pos] == '[') {
		json_error_t err;

		json_decref(json_loadb(text, len, 0, &err));
		return cl_error_set(CL_EPARSE, "alerts line %d: %s", err.line, err.text);
	}
	/* NDJSON */
	return each_line(text, len, "alerts", alert_each, a);
}

void cl_sim_alerts_free(struct cl_sim_alerts *a)
{
	cl_free(a->a);
	memset(a, 0, sizeof(*a));
}

/* Orders truth items by patient, then start. */
static int by_patient(const void *x, const void *y)
{
	const struct cl_sim_truth_item *a = *(const struct cl_sim_truth_item *const *)x;
	const struct cl_sim_truth_item *b = *(const struct cl_sim_truth_item *const *)y;
	int c = strcmp(a->patient, b->patient);

	if (c)
		return c;
	return a->start_us < b->start_us ? -1 : a->start_us > b->start_us;
}

/* The first of v[0..n) (sorted by patient) that is patient's, or n. */
static size_t first_of(struct cl_sim_truth_item *const *v, size_t n, const char *patient)
{
	size_t lo = 0, hi = n;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;

		if (strcmp(v[mid]->patient, patient) < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo;
}

static int cmp_double(const void *x, const void *y)
{
	double a = *(const double *)x, b = *(const double *)y;

	return a < b ? -1 : a > b;
}

static int cmp_str(const void *x, const void *y)
{
	return strcmp(*(const char *const *)x, *(const char *const *)y);
}

/* The median of v[0..n) (sorted here), or NAN. */
static double median(double *v, size_t n)
{
	if (!n)
		return NAN;
	qsort(v, n, sizeof(*v), cmp_double);
	return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

/* The nearest-rank 95th percentile of v[0..n) (sorted), or NAN. */
static double p95(const double *v, size_t n)
{
	size_t r;

	if (!n)
		return NAN;
	r = (size_t)ceil(0.95 * (double)n);
	return v[r ? r - 1 : 0];
}

/* Counts one more of name in c[0..*n) (at most max names; the rest go to
 * the last row, "other"); hit adds to its hits. */
static void count(struct cl_sim_score_count *c, int *n, int max, const char *name, int hit)
{
	int i;

	for (i = 0; i < *n; i++)
		if (strcmp(c[i].name, name) == 0)
			break;
	if (i == *n && *n < max - 1) {
		snprintf(c[i].name, sizeof(c[i].name), "%s", name);
		(*n)++;
	} else if (i == *n) {
		/* the last row gathers the names that found no row */
		i = max - 1;
		snprintf(c[i].name, sizeof(c[i].name), "other");
		*n = max;
	}
	c[i].n++;
	c[i].hit += hit;
}

/* hits / n, or NAN for none. */
static double ratio(long hits, long n)
{
	return n ? (double)hits / (double)n : NAN;
}

/* The share of kind's episodes detected, or NAN. */
static double kind_recall(const struct cl_sim_score *r, const char *kind)
{
	for (int i = 0; i < r->nkinds; i++)
		if (strcmp(r->kinds[i].name, kind) == 0)
			return ratio(r->kinds[i].hit, r->kinds[i].n);
	return NAN;
}

/* Whether kind is one of the single-threshold episodes. */
static int threshold_kind(const char *kind)
{
	return strcmp(kind, "desaturation") == 0 || strcmp(kind, "tachycardia") == 0 ||
	       strcmp(kind, "bradycardia") == 0 || strcmp(kind, "hypertensive_crisis") == 0;
}

/* The beds: the scenario's patients, else the distinct patients of the
 * truth and the alerts. */
static long count_beds(const struct cl_sim_truth *t, const struct cl_sim_alerts *a,
		       const char **names)
{
	size_t n = 0;
	long beds = 0;

	if (t->patients)
		return t->patients;
	for (size_t i = 0; i < t->n; i++)
		names[n++] = t->items[i].patient;
	for (size_t i = 0; i < a->n; i++)
		if (a->a[i].patient[0])
			names[n++] = a->a[i].patient;
	qsort(names, n, sizeof(*names), cmp_str);
	for (size_t i = 0; i < n; i++)
		beds += i == 0 || strcmp(names[i], names[i - 1]) != 0;
	return beds;
}

/* The event time the scenario covers, in seconds. */
static double scenario_span(const struct cl_sim_truth *t, const struct cl_sim_alerts *a)
{
	int64_t lo = INT64_MAX, hi = INT64_MIN;

	if (t->start_us && t->end_us > t->start_us)
		return (double)(t->end_us - t->start_us) / 1e6;
	for (size_t i = 0; i < t->n; i++) {
		if (t->items[i].what == CL_SIM_TRUTH_STABLE)
			continue;
		lo = t->items[i].start_us < lo ? t->items[i].start_us : lo;
		hi = t->items[i].end_us > hi ? t->items[i].end_us : hi;
	}
	if (lo >= hi) {
		for (size_t i = 0; i < a->n; i++) {
			lo = a->a[i].opened_us < lo ? a->a[i].opened_us : lo;
			hi = a->a[i].raised_us > hi ? a->a[i].raised_us : hi;
		}
	}
	return lo < hi ? (double)(hi - lo) / 1e6 : 0;
}

/* Matches one clinical alert against its patient's episodes and
 * artifacts; true when it is about an episode. */
static int match_clinical(const struct cl_sim_alert *al, struct cl_sim_truth_item *const *eps,
			  size_t neps, int64_t *first_raised, uint8_t *art_hit,
			  struct cl_sim_truth_item *const *arts, size_t narts)
{
	int hit = 0;

	for (size_t k = first_of(eps, neps, al->patient);
	     k < neps && strcmp(eps[k]->patient, al->patient) == 0; k++) {
		if (al->opened_us < eps[k]->start_us - CL_SIM_MATCH_BEFORE_US ||
		    al->opened_us > eps[k]->end_us + CL_SIM_MATCH_AFTER_US)
			continue;
		hit = 1;
		if (al->raised_us < first_raised[k])
			first_raised[k] = al->raised_us;
	}
	for (size_t k = first_of(arts, narts, al->patient);
	     k < narts && strcmp(arts[k]->patient, al->patient) == 0; k++)
		if (al->opened_us >= arts[k]->start_us && al->opened_us <= arts[k]->end_us)
			art_hit[k] = 1;
	return hit;
}

int cl_sim_score_compute(const struct cl_sim_truth *t, const struct cl_sim_alerts *a,
			 struct cl_sim_score *r)
{
	struct cl_sim_truth_item **eps, **arts, **stab;
	size_t neps = 0, narts = 0, nstab = 0, nd = 0, ndet = 0, nlead = 0;
	int64_t *first_raised;
	uint8_t *art_hit, *reported;
	double *d_thr, *d_det, *d_lead, days;
	const char **names;
	int rc = CL_OK;

	memset(r, 0, sizeof(*r));
	eps = cl_calloc(t->n + 1, sizeof(*eps));
	arts = cl_calloc(t->n + 1, sizeof(*arts));
	stab = cl_calloc(t->n + 1, sizeof(*stab));
	first_raised = cl_malloc((t->n + 1) * sizeof(*first_raised));
	art_hit = cl_calloc(t->n + 1, 1);
	reported = cl_calloc(t->n + 1, 1);
	d_thr = cl_calloc(t->n + 1, sizeof(*d_thr));
	d_det = cl_calloc(t->n + 1, sizeof(*d_det));
	d_lead = cl_calloc(t->n + 1, sizeof(*d_lead));
	names = cl_calloc(t->n + a->n + 1, sizeof(*names));
	if (!eps || !arts || !stab || !first_raised || !art_hit || !reported || !d_thr || !d_det ||
	    !d_lead || !names) {
		rc = cl_error_set(CL_ENOMEM, "no memory to score %zu alerts", a->n);
		goto out;
	}
	for (size_t i = 0; i < t->n; i++) {
		struct cl_sim_truth_item *it = &t->items[i];

		first_raised[i] = INT64_MAX; /* not detected */
		if (it->what == CL_SIM_TRUTH_EPISODE)
			eps[neps++] = it;
		else if (it->what == CL_SIM_TRUTH_ARTIFACT)
			arts[narts++] = it;
		else
			stab[nstab++] = it;
	}
	qsort(eps, neps, sizeof(*eps), by_patient);
	qsort(arts, narts, sizeof(*arts), by_patient);
	qsort(stab, nstab, sizeof(*stab), by_patient);
	for (size_t i = 0; i < nstab; i++)
		r->stable_beds += i == 0 || strcmp(stab[i]->patient, stab[i - 1]->patient) != 0;

	/* the alerts */
	for (size_t i = 0; i < a->n; i++) {
		const struct cl_sim_alert *al = &a->a[i];

		if (al->technical) {
			r->technical_alerts++;
		} else {
			size_t k = first_of(stab, nstab, al->patient);
			int ok = match_clinical(al, eps, neps, first_raised, art_hit, arts, narts);

			r->clinical_alerts++;
			r->true_alerts += ok;
			if (!ok) {
				r->false_alerts++;
				count(r->false_by_rule, &r->nrules, CL_SIM_SCORE_RULES + 1,
				      al->rule, 0);
			}
			if (k < nstab && strcmp(stab[k]->patient, al->patient) == 0)
				r->stable_alerts++;
		}
		if (strcmp(al->rule, "device_silent") == 0) {
			for (size_t k = first_of(arts, narts, al->patient);
			     k < narts && strcmp(arts[k]->patient, al->patient) == 0; k++)
				if (strcmp(arts[k]->kind, "dropout") == 0 &&
				    al->opened_us >= arts[k]->start_us - DROPOUT_BEFORE_US &&
				    al->opened_us <= arts[k]->end_us + DROPOUT_AFTER_US)
					reported[k] = 1;
		}
	}

	/* the episodes */
	for (size_t k = 0; k < neps; k++) {
		int hit = first_raised[k] != INT64_MAX;
		double delay;

		r->episodes++;
		r->detected += hit;
		count(r->kinds, &r->nkinds, CL_SIM_SCORE_KINDS, eps[k]->kind, hit);
		if (!hit)
			continue;
		/* (only now: INT64_MAX, none raised, minus a start overflows) */
		delay = (double)first_raised[k] / 1e6 - (double)eps[k]->start_us / 1e6;
		if (threshold_kind(eps[k]->kind))
			d_thr[nd++] = delay;
		if (strcmp(eps[k]->kind, "deterioration") == 0) {
			d_det[ndet++] = delay;
			if (eps[k]->news2_7_us)
				d_lead[nlead++] =
					(double)(eps[k]->news2_7_us - first_raised[k]) / 1e6;
		}
	}
	r->recall = ratio(r->detected, r->episodes);
	r->recall_crisis = kind_recall(r, "hypertensive_crisis");
	r->recall_news2_high = kind_recall(r, "deterioration");
	r->precision = ratio(r->true_alerts, r->clinical_alerts);
	r->delay_median_s = median(d_thr, nd);
	r->delay_p95_s = p95(d_thr, nd);
	r->deterioration_delay_median_s = median(d_det, ndet);
	r->deterioration_lead_over_news2_7_median_s = median(d_lead, nlead);

	/* the artifacts and dropouts */
	for (size_t k = 0; k < narts; k++) {
		count(r->artifacts, &r->nartifacts, CL_SIM_SCORE_KINDS, arts[k]->kind, art_hit[k]);
		r->artifacts_alerted += art_hit[k];
		if (strcmp(arts[k]->kind, "dropout") == 0) {
			r->dropouts++;
			r->dropouts_reported += reported[k];
		}
	}
	r->dropout_recall = ratio(r->dropouts_reported, r->dropouts);

	/* the burden */
	r->beds = count_beds(t, a, names);
	r->span_s = scenario_span(t, a);
	days = r->span_s / 86400.0;
	r->bed_days = (double)r->beds * days;
	r->burden_stable_per_bed_day = NAN;
	if (r->stable_beds && days > 0)
		r->burden_stable_per_bed_day = (double)r->stable_alerts / ((double)r->stable_beds * days);
	r->false_per_bed_day = r->bed_days > 0 ? (double)r->false_alerts / r->bed_days : NAN;
out:
	cl_free(eps);
	cl_free(arts);
	cl_free(stab);
	cl_free(first_raised);
	cl_free(art_hit);
	cl_free(reported);
	cl_free(d_thr);
	cl_free(d_det);
	cl_free(d_lead);
	cl_free(names);
	return rc;
}

/* A number for JSON: null when there is none. */
static json_t *num(double v)
{
	return isnan(v) ? json_null() : json_real(v);
}

/* An object of name: count rows. */
static json_t *counts(const struct cl_sim_score_count *c, int n)
{
	json_t *o = json_object();

	for (int i = 0; i < n; i++)
		json_object_set_new(o, c[i].name, json_integer(c[i].n));
	return o;
}

/* Prints v with that many decimals and the unit, or "n/a". */
static void show(FILE *out, double v, int decimals, const char *unit)
{
	if (isnan(v))
		fputs("n/a", out);
	else
		fprintf(out, "%.*f%s", decimals, v, unit);
}

/* The readable form of the scores. */
static void print_text(const struct cl_sim_score *r, FILE *out)
{
	fprintf(out, "clinical episodes  %ld, detected %ld: recall ", r->episodes, r->detected);
	show(out, r->recall, 3, "");
	fputc('\n', out);
	for (int i = 0; i < r->nkinds; i++) {
		fprintf(out, "  %-22s %ld of %ld: ", r->kinds[i].name, r->kinds[i].hit, r->kinds[i].n);
		show(out, ratio(r->kinds[i].hit, r->kinds[i].n), 3, "");
		fputc('\n', out);
	}
	fputs("  recall crisis ", out);
	show(out, r->recall_crisis, 3, "");
	fputs(", recall NEWS2 >= 7 ", out);
	show(out, r->recall_news2_high, 3, "");
	fprintf(out, "\nclinical alerts    %ld, true %ld, false %ld: precision ", r->clinical_alerts,
		r->true_alerts, r->false_alerts);
	show(out, r->precision, 3, "");
	fputs("\ndelay              threshold episodes: median ", out);
	show(out, r->delay_median_s, 1, " s");
	fputs(", p95 ", out);
	show(out, r->delay_p95_s, 1, " s");
	fputs("\n                   deterioration: median ", out);
	show(out, r->deterioration_delay_median_s, 1, " s");
	fputs(", ahead of NEWS2 >= 7 by a median ", out);
	show(out, r->deterioration_lead_over_news2_7_median_s, 1, " s");
	fprintf(out, "\nbeds               %ld (%ld stable) over %.0f s: %.3f bed-days\n", r->beds,
		r->stable_beds, r->span_s, r->bed_days);
	fprintf(out, "alarm burden       %ld clinical alerts on stable beds: ", r->stable_alerts);
	show(out, r->burden_stable_per_bed_day, 2, "");
	fputs(" per stable bed per day; false alerts ", out);
	show(out, r->false_per_bed_day, 2, "");
	fprintf(out, " per bed per day\ntechnical alerts   %ld; dropouts %ld, reported %ld: recall ",
		r->technical_alerts, r->dropouts, r->dropouts_reported);
	show(out, r->dropout_recall, 3, "");
	fputs("\nartifacts         ", out);
	for (int i = 0; i < r->nartifacts; i++)
		fprintf(out, " %s %ld (%ld alerted)%s", r->artifacts[i].name, r->artifacts[i].n,
			r->artifacts[i].hit, i + 1 < r->nartifacts ? "," : "");
	fprintf(out, "%s; %ld with a clinical alert\n", r->nartifacts ? "" : " none",
		r->artifacts_alerted);
	fputs("false alerts by rule", out);
	for (int i = 0; i < r->nrules; i++)
		fprintf(out, " %s %ld%s", r->false_by_rule[i].name, r->false_by_rule[i].n,
			i + 1 < r->nrules ? "," : "");
	fprintf(out, "%s\n", r->nrules ? "" : " none");
}

void cl_sim_score_print(const struct cl_sim_score *r, int json, FILE *out)
{
	json_t *o, *kinds;

	if (!json) {
		print_text(r, out);
		return;
	}
	o = json_object();
	kinds = json_object();
	for (int i = 0; i < r->nkinds; i++)
		json_object_set_new(kinds, r->kinds[i].name,
				    num(ratio(r->kinds[i].hit, r->kinds[i].n)));
	json_object_set_new(o, "episodes", json_integer(r->episodes));
	json_object_set_new(o, "detected", json_integer(r->detected));
	json_object_set_new(o, "recall", num(r->recall));
	json_object_set_new(o, "recall_by_kind", kinds);
	json_object_set_new(o, "episodes_by_kind", counts(r->kinds, r->nkinds));
	json_object_set_new(o, "recall_crisis", num(r->recall_crisis));
	json_object_set_new(o, "recall_news2_high", num(r->recall_news2_high));
	json_object_set_new(o, "clinical_alerts", json_integer(r->clinical_alerts));
	json_object_set_new(o, "true_alerts", json_integer(r->true_alerts));
	json_object_set_new(o, "false_alerts", json_integer(r->false_alerts));
	json_object_set_new(o, "precision", num(r->precision));
	json_object_set_new(o, "delay_median_s", num(r->delay_median_s));
	json_object_set_new(o, "delay_p95_s", num(r->delay_p95_s));
	json_object_set_new(o, "deterioration_delay_median_s", num(r->deterioration_delay_median_s));
	json_object_set_new(o, "deterioration_lead_over_news2_7_median_s",
			    num(r->deterioration_lead_over_news2_7_median_s));
	json_object_set_new(o, "beds", json_integer(r->beds));
	json_object_set_new(o, "stable_beds", json_integer(r->stable_beds));
	json_object_set_new(o, "span_s", json_real(r->span_s));
	json_object_set_new(o, "bed_days", json_real(r->bed_days));
	json_object_set_new(o, "stable_alerts", json_integer(r->stable_alerts));
	json_object_set_new(o, "burden_stable_per_bed_day", num(r->burden_stable_per_bed_day));
	json_object_set_new(o, "false_per_bed_day", num(r->false_per_bed_day));
	json_object_set_new(o, "technical_alerts", json_integer(r->technical_alerts));
	json_object_set_new(o, "dropouts", json_integer(r->dropouts));
	json_object_set_new(o, "dropout_recall", num(r->dropout_recall));
	json_object_set_new(o, "artifacts", counts(r->artifacts, r->nartifacts));
	{
		json_t *hit = json_object();

		for (int i = 0; i < r->nartifacts; i++)
			json_object_set_new(hit, r->artifacts[i].name,
					    json_integer(r->artifacts[i].hit));
		json_object_set_new(o, "artifacts_alerted_by_kind", hit);
	}
	json_object_set_new(o, "artifacts_alerted", json_integer(r->artifacts_alerted));
	json_object_set_new(o, "false_by_rule", counts(r->false_by_rule, r->nrules));
	json_dumpf(o, out, JSON_PRESERVE_ORDER | JSON_REAL_PRECISION(10));
	fputc('\n', out);
	json_decref(o);
}
