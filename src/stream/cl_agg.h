/*
 * A window's aggregate of one vital: count, min, max, mean, standard
 * deviation (Welford's method) and percentiles.
 *
 * Percentiles come from a sparse histogram of values quantised to the
 * vital's resolution (for example 1 /min for heart rate, 0.1 °C for
 * temperature): exact for values a device reports at that resolution,
 * within half a step otherwise, and small however many values a window
 * holds — a few dozen distinct buckets for an hour of a heart rate.
 */
#ifndef CL_AGG_H
#define CL_AGG_H

#include "model/cl_rollup.h"

#include <stddef.h>
#include <stdint.h>

struct cl_agg_bucket {
	int32_t q;       /* value / resolution, rounded */
	uint32_t n;
};

struct cl_agg {
	uint64_t count;
	double min, max;
	double mean, m2;            /* Welford */
	double resolution;
	struct cl_agg_bucket *b;    /* sorted by q */
	uint32_t nb, cap;
};


void cl_agg_init(struct cl_agg *a, double resolution);
void cl_agg_free(struct cl_agg *a);
void cl_agg_reset(struct cl_agg *a);

/* Adds a value; CL_ENOMEM if the histogram cannot grow. */
int cl_agg_add(struct cl_agg *a, double v);

/* Adds all of src into dst (same resolution). */
int cl_agg_merge(struct cl_agg *dst, const struct cl_agg *src);

/* The p-quantile (0..1) by nearest rank: the smallest bucketed value with
 * at least ceil(p * count) values at or below it. NAN when empty. */
double cl_agg_percentile(const struct cl_agg *a, double p);

void cl_agg_summarise(const struct cl_agg *a, struct cl_agg_summary *s);

#endif
