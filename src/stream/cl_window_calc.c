/*
 * Windows computed from stored values. See cl_window_calc.h.
 *
 * One pass over the sorted values with two cursors (the first value in
 * the window, the first after it); a window is aggregated from its own
 * values, so hopping and sliding windows cost what they hold. Empty grid
 * windows are skipped to the next value.
 */
#include "cl_window_calc.h"
#include "core/cl_error.h"

#include <math.h>

static int64_t floor_div(int64_t a, int64_t b)
{
	int64_t q = a / b;

	return (a % b != 0 && (a < 0) != (b < 0)) ? q - 1 : q;
}

/* Aggregates p[a..b) and hands the window over. */
static int window(const struct cl_point *p, size_t a, size_t b, struct cl_agg *agg,
		  int64_t start, int64_t end, cl_window_calc_fn fn, void *arg)
{
	cl_agg_reset(agg);
	for (size_t i = a; i < b; i++)
		if (cl_agg_add(agg, p[i].v) != CL_OK)
			return cl_error_set(CL_ENOMEM, "no memory for a window");
	return fn(arg, start, end, agg);
}

static int grid(const struct cl_window_spec *spec, const struct cl_point *p, size_t n,
		struct cl_agg *agg, int64_t lo, int64_t hi, cl_window_calc_fn fn, void *arg)
{
	int64_t size = spec->size_us;
	int64_t hop = spec->kind == CL_WIN_TUMBLING ? size : spec->hop_us;
	size_t a = 0, b = 0;
	int rc = 0;

	for (int64_t s = floor_div(lo + hop - 1, hop) * hop; s <= hi && rc == 0;) {
		while (a < n && p[a].ts < s)
			a++;
		if (b < a)
			b = a;
		while (b < n && p[b].ts < s + size)
			b++;
		if (a == n)
			break;
		if (a == b) {
			/* empty: on to the first start whose window holds p[a] */
			int64_t next = (floor_div(p[a].ts - size, hop) + 1) * hop;

			s = next > s ? next : s + hop;
			continue;
		}
		rc = window(p, a, b, agg, s, s + size, fn, arg);
		s += hop;
	}
	return rc;
}

static int sliding(const struct cl_window_spec *spec, const struct cl_point *p, size_t n,
		   struct cl_agg *agg, int64_t lo, int64_t hi, cl_window_calc_fn fn, void *arg)
{
	size_t first = 0;
	int rc = 0;

	for (size_t i = 0; i < n && rc == 0 && p[i].ts <= hi; i++) {
		int64_t t = p[i].ts;

		if (t < lo || (i + 1 < n && p[i + 1].ts == t))
			continue; /* once per distinct time, with all its values */
		while (p[first].ts <= t - spec->size_us)
			first++;
		rc = window(p, first, i + 1, agg, t - spec->size_us, t, fn, arg);
	}
	return rc;
}

static int sessions(const struct cl_window_spec *spec, const struct cl_point *p, size_t n,
		    struct cl_agg *agg, int64_t lo, int64_t hi, cl_window_calc_fn fn, void *arg)
{
	int rc = 0;

	for (size_t a = 0; a < n && rc == 0;) {
		size_t b = a + 1;

		/* an event within the gap of the last one joins its session */
		while (b < n && p[b].ts - p[b - 1].ts <= spec->gap_us)
			b++;
		if (p[a].ts > hi)
			break;
		if (p[a].ts >= lo)
			rc = window(p, a, b, agg, p[a].ts, p[b - 1].ts + spec->gap_us, fn, arg);
		a = b;
	}
	return rc;
}

int cl_window_calc(const struct cl_window_spec *spec, const struct cl_point *p, size_t n,
		   double resolution, int64_t lo, int64_t hi, cl_window_calc_fn fn, void *arg)
{
	struct cl_agg agg;
	int rc;

	cl_agg_init(&agg, resolution);
	switch (spec->kind) {
	case CL_WIN_TUMBLING:
	case CL_WIN_HOPPING:
		rc = grid(spec, p, n, &agg, lo, hi, fn, arg);
		break;
	case CL_WIN_SLIDING:
		rc = sliding(spec, p, n, &agg, lo, hi, fn, arg);
		break;
	default:
		rc = sessions(spec, p, n, &agg, lo, hi, fn, arg);
		break;
	}
	cl_agg_free(&agg);
	return rc;
}

void cl_window_calc_needs(const struct cl_window_spec *spec, int64_t lo, int64_t hi,
			  int64_t *from, int64_t *to)
{
	if (spec->kind == CL_WIN_SLIDING) {
		*from = lo - spec->size_us + 1;
		*to = hi + 1;
	} else {
		*from = lo;
		*to = hi + spec->size_us;
	}
}

static int close_to(double a, double b)
{
	double m = fabs(a) > fabs(b) ? fabs(a) : fabs(b);

	return fabs(a - b) <= 1e-9 * (m > 1 ? m : 1);
}

int cl_window_same(const struct cl_agg_summary *a, const struct cl_agg_summary *b)
{
	return a->count == b->count && a->min == b->min && a->max == b->max &&
	       a->p50 == b->p50 && a->p90 == b->p90 && a->p99 == b->p99 &&
	       close_to(a->mean, b->mean) && close_to(a->stddev, b->stddev);
}
