/*
 * Windows computed from stored values: the batch computation the live
 * windows of cl_window.h must agree with. Given one key's values in
 * event-time order, the windows of a spec over a range. The stream writes
 * with it the closed windows that late values change; the vitals API
 * shows with it the windows still open.
 *
 * Which windows a range [lo, hi] means, by kind:
 *   tumbling, hopping  those whose start is in [lo, hi]
 *   sliding            those ending at an event time in [lo, hi]
 *   session            those whose first event is in [lo, hi]
 * A window is computed only from the values given: the caller gives all
 * those the range needs (cl_window_calc_needs; for sessions, whole
 * sessions).
 */
#ifndef CL_WINDOW_CALC_H
#define CL_WINDOW_CALC_H

#include "cl_agg.h"
#include "cl_window.h"

#include <stddef.h>
#include <stdint.h>

/* One computed window; agg is valid during the call. Nonzero stops the
 * computation and is returned. */
typedef int (*cl_window_calc_fn)(void *arg, int64_t start_us, int64_t end_us,
				 const struct cl_agg *agg);

/* The windows of spec in [lo, hi] from p (n values sorted by ts), each
 * aggregated at resolution; 0, CL_ENOMEM or what fn returned. */
int cl_window_calc(const struct cl_window_spec *spec, const struct cl_point *p, size_t n,
		   double resolution, int64_t lo, int64_t hi, cl_window_calc_fn fn, void *arg);

/* The event times [*from, *to) whose values the windows in [lo, hi] of a
 * tumbling, hopping or sliding spec hold. */
void cl_window_calc_needs(const struct cl_window_spec *spec, int64_t lo, int64_t hi,
			  int64_t *from, int64_t *to);

/* Whether two summaries of the same values agree: counts, extremes and
 * percentiles exactly, mean and deviation to rounding (values summed in
 * another order). */
int cl_window_same(const struct cl_agg_summary *a, const struct cl_agg_summary *b);

#endif
