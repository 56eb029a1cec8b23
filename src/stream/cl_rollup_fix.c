/*
 * Closed windows made right from the stored values. See cl_rollup_fix.h.
 */
#include "cl_rollup_fix.h"
#include "core/cl_error.h"
#include "core/cl_mem.h"
#include "core/cl_time.h"
#include "model/cl_vitals.h"
#include "store/cl_store.h"
#include "stream/cl_window_calc.h"

#include <string.h>

/* What a window is written for. */
struct target {
	struct cl_store *st;
	struct cl_rollup_fixes *fx;
	const struct cl_window_spec *spec;
	const char *patient, *vital;
};

static double resolution_of(const char *vital)
{
	int v = cl_vital_by_name(vital, strlen(vital));

	return v >= 0 ? cl_vital_resolution((enum cl_vital)v) : 0.1;
}

static void put_time(json_t *o, const char *key, int64_t us)
{
	char b[40];

	cl_time_format_rfc3339(us, b, sizeof(b), 3);
	json_object_set_new(o, key, json_string(b));
}

/* Notes a window that changed after it was final (replacing the sessions
 * starting at `replaced`, if any, besides its own). */
static int note(const struct target *t, const struct cl_rollup_row *r, const int64_t *replaced,
		size_t nreplaced)
{
	struct cl_rollup_fixes *fx = t->fx;
	json_t *o = fx->wanted ? json_object() : NULL, *rep = fx->wanted ? json_array() : NULL;

	fx->ncorrected++;
	if (!fx->wanted) {
		json_decref(o);
		json_decref(rep);
		return CL_OK;
	}
	if (!o || !rep)
		goto nomem;
	json_object_set_new(o, "patient_id", json_string(t->patient));
	json_object_set_new(o, "vital", json_string(t->vital));
	json_object_set_new(o, "window", json_string(t->spec->name));
	put_time(o, "start", r->start_us);
	put_time(o, "end", r->end_us);
	json_object_set_new(o, "count", json_integer((json_int_t)r->sum.count));
	json_object_set_new(o, "min", json_real(r->sum.min));
	json_object_set_new(o, "max", json_real(r->sum.max));
	json_object_set_new(o, "mean", json_real(r->sum.mean));
	json_object_set_new(o, "stddev", json_real(r->sum.stddev));
	json_object_set_new(o, "p50", json_real(r->sum.p50));
	json_object_set_new(o, "p90", json_real(r->sum.p90));
	json_object_set_new(o, "p99", json_real(r->sum.p99));
	json_object_set_new(o, "status", json_string(cl_rollup_status_name(r->status)));
	json_object_set_new(o, "revision", json_integer(r->revision));
	for (size_t i = 0; i < nreplaced; i++) {
		char b[40];

		cl_time_format_rfc3339(replaced[i], b, sizeof(b), 3);
		json_array_append_new(rep, json_string(b));
	}
	if (nreplaced)
		json_object_set_new(o, "replaces", rep);
	else
		json_decref(rep);
	rep = NULL;
	if (!fx->corrected && !(fx->corrected = json_array()))
		goto nomem;
	if (json_array_append_new(fx->corrected, o) != 0)
		return cl_error_set(CL_ENOMEM, "no memory for a corrected window");
	return CL_OK;
nomem:
	json_decref(o);
	json_decref(rep);
	return cl_error_set(CL_ENOMEM, "no memory for a corrected window");
}

/* Stores the window computed from the stored values: new, final; changed,
 * corrected; the same, left alone. */
static int settle(const struct target *t, int64_t start, int64_t end,
		  const struct cl_agg_summary *sum)
{
	struct cl_rollup_row old, r = { .vital = t->vital, .start_us = start, .end_us = end,
					 .sum = *sum, .status = CL_ROLLUP_FINAL, .revision = 1 };
	int inserted = 0;
	int rc = cl_store_put_rollup(t->st, t->patient, t->vital, t->spec->name, start, end, sum,
				     &inserted);

	t->fx->recomputed++;
	if (rc || inserted)
		return rc;
	rc = cl_store_rollup_get(t->st, t->patient, t->vital, t->spec->name, start, &old);
	if (rc)
		return rc;
	if (old.end_us == end && cl_window_same(&old.sum, sum))
		return CL_OK;
	r.status = CL_ROLLUP_CORRECTED;
	r.revision = old.revision + 1;
	rc = cl_store_rollup_set(t->st, t->patient, t->vital, t->spec->name, &r);
	return rc ? rc : note(t, &r, NULL, 0);
}

static int on_calc(void *arg, int64_t start, int64_t end, const struct cl_agg *agg)
{
	struct cl_agg_summary sum;

	cl_agg_summarise(agg, &sum);
	return settle(arg, start, end, &sum);
}

/* Tumbling, hopping and sliding windows in [lo, hi] (cl_window_calc.h). */
static int fix_grid(const struct target *t, int64_t lo, int64_t hi)
{
	struct cl_point *p;
	int64_t from, to;
	size_t n;
	int rc;

	cl_window_calc_needs(t->spec, lo, hi, &from, &to);
	rc = cl_store_vital_points(t->st, t->patient, t->vital, from, to, &p, &n);
	if (rc == CL_OK)
		rc = cl_window_calc(t->spec, p, n, resolution_of(t->vital), lo, hi, on_calc,
				    (void *)t);
	cl_free(p);
	return rc;
}

/* The sessions a computation replaces. */
struct absorbed {
	struct cl_rollup_row *r;
	size_t n, cap;
	int64_t max_revision;
};

static int absorb(struct absorbed *ab, const struct cl_rollup_row *r)
{
	for (size_t i = 0; i < ab->n; i++)
		if (ab->r[i].start_us == r->start_us)
			return CL_OK;
	if (cl_grow(&ab->r, &ab->cap, ab->n, sizeof(*ab->r), 4) != 0)
		return cl_error_set(CL_ENOMEM, "no memory for sessions");
	ab->r[ab->n++] = *r;
	if (r->revision > ab->max_revision)
		ab->max_revision = r->revision;
	return CL_OK;
}

/* The session holding events a..b once it takes in every stored session
 * and stored value within the gap (values after `cap` belong to open
 * sessions and are left to them). *p and *n: its values, by time. */
static int grow_session(const struct target *t, int64_t *a, int64_t *b, int64_t cap,
			struct absorbed *ab, struct cl_point **p, size_t *n)
{
	int64_t gap = t->spec->gap_us;
	int rc;

	*p = NULL;
	*n = 0;
	for (;;) {
		struct cl_rollup_row *rows;
		size_t nr;
		int64_t a0 = *a, b0 = *b;

		rc = cl_store_rollups_touching(t->st, t->patient, t->vital, t->spec->name, *a,
					       *b + gap, &rows, &nr);
		if (rc)
			return rc;
		for (size_t i = 0; i < nr && rc == CL_OK; i++) {
			if (rows[i].start_us < *a)
				*a = rows[i].start_us;
			if (rows[i].end_us - gap > *b)
				*b = rows[i].end_us - gap;
			rc = absorb(ab, &rows[i]);
		}
		cl_free(rows);
		cl_free(*p);
		*p = NULL;
		if (rc == CL_OK)
			rc = cl_store_vital_points(t->st, t->patient, t->vital, *a - gap,
						   (*b + gap < cap ? *b + gap : cap) + 1, p, n);
		if (rc)
			return rc;
		if (*n > 0 && (*p)[0].ts < *a)
			*a = (*p)[0].ts;
		if (*n > 0 && (*p)[*n - 1].ts > *b)
			*b = (*p)[*n - 1].ts;
		if (*a == a0 && *b == b0)
			break;
	}
	/* only the session's own values */
	size_t from = 0, to = *n;

	while (from < to && (*p)[from].ts < *a)
		from++;
	while (to > from && (*p)[to - 1].ts > *b)
		to--;
	if (from > 0) /* *p may be NULL when nothing is stored */
		memmove(*p, *p + from, (to - from) * sizeof(**p));
	*n = to - from;
	return CL_OK;
}

/* The session of events a..b made from the stored values, replacing the
 * stored sessions it takes in. */
static int fix_session(const struct target *t, int64_t a, int64_t b, int64_t cap)
{
	struct absorbed ab = { 0 };
	struct cl_point *p = NULL;
	struct cl_agg agg;
	struct cl_agg_summary sum;
	size_t n;
	int rc = grow_session(t, &a, &b, cap, &ab, &p, &n);

	cl_agg_init(&agg, resolution_of(t->vital));
	for (size_t i = 0; rc == CL_OK && i < n; i++)
		rc = cl_agg_add(&agg, p[i].v);
	cl_free(p);
	if (rc || agg.count == 0)
		goto out;
	cl_agg_summarise(&agg, &sum);
	t->fx->recomputed++;
	{
		int64_t end = b + t->spec->gap_us, replaced[64];
		size_t nrep = 0;
		struct cl_rollup_row r = { .vital = t->vital, .start_us = a, .end_us = end,
					   .sum = sum, .status = CL_ROLLUP_FINAL, .revision = 1 };

		/* the same as the one stored: nothing to do */
		if (ab.n == 1 && ab.r[0].start_us == a && ab.r[0].end_us == end &&
		    cl_window_same(&ab.r[0].sum, &sum))
			goto out;
		for (size_t i = 0; i < ab.n && rc == CL_OK; i++) {
			if (ab.r[i].start_us == a)
				continue;
			rc = cl_store_rollup_delete(t->st, t->patient, t->vital, t->spec->name,
						    ab.r[i].start_us);
			if (nrep < sizeof(replaced) / sizeof(replaced[0]))
				replaced[nrep++] = ab.r[i].start_us;
		}
		if (ab.n) {
			r.status = CL_ROLLUP_CORRECTED;
			r.revision = ab.max_revision + 1;
		}
		if (rc == CL_OK)
			rc = cl_store_rollup_set(t->st, t->patient, t->vital, t->spec->name, &r);
		if (rc == CL_OK && ab.n)
			rc = note(t, &r, replaced, nrep);
	}
out:
	cl_agg_free(&agg);
	cl_free(ab.r);
	return rc;
}

int cl_rollup_fix_emitted(struct cl_store *st, struct cl_rollup_fixes *fx,
			  const struct cl_window_spec *spec, const char *patient,
			  const char *vital, int64_t start_us, int64_t end_us,
			  const struct cl_agg_summary *sum, int64_t watermark)
{
	struct target t = { st, fx, spec, patient, vital };
	int inserted = 0, rc;

	if (spec->kind == CL_WIN_SESSION) {
		struct cl_rollup_row *rows;
		size_t n;

		/* alone: as the live windows kept it */
		rc = cl_store_rollups_touching(st, patient, vital, spec->name, start_us,
					       end_us, &rows, &n);
		cl_free(rows);
		if (rc)
			return rc;
		if (n == 0)
			return cl_store_put_rollup(st, patient, vital, spec->name, start_us, end_us,
						   sum, NULL);
		return fix_session(&t, start_us, end_us - spec->gap_us,
				   watermark > end_us ? watermark : end_us);
	}
	rc = cl_store_put_rollup(st, patient, vital, spec->name, start_us, end_us, sum, &inserted);
	if (rc || inserted)
		return rc;
	/* stored already: the stored values decide */
	return spec->kind == CL_WIN_SLIDING ? fix_grid(&t, end_us, end_us)
					    : fix_grid(&t, start_us, start_us);
}

int cl_rollup_fix_span(struct cl_store *st, struct cl_rollup_fixes *fx,
		       const struct cl_window_spec *spec, const char *patient, const char *vital,
		       int64_t lo, int64_t hi, int64_t watermark)
{
	struct target t = { st, fx, spec, patient, vital };

	if (spec->kind != CL_WIN_SESSION)
		return fix_grid(&t, lo, hi);
	/* each late value's session; one session may hold several of them */
	return fix_session(&t, lo, hi, watermark);
}

void cl_rollup_fixes_reset(struct cl_rollup_fixes *fx)
{
	json_decref(fx->corrected);
	fx->corrected = NULL;
	fx->ncorrected = 0;
	fx->recomputed = 0;
}
