/*
 * Window aggregates. See cl_agg.h.
 */
#include "cl_agg.h"
#include "core/cl_error.h"
#include "core/cl_mem.h"

#include <math.h>
#include <string.h>

void cl_agg_init(struct cl_agg *a, double resolution)
{
	memset(a, 0, sizeof(*a));
	a->resolution = resolution > 0 ? resolution : 0.1;
}

void cl_agg_free(struct cl_agg *a)
{
	cl_free(a->b);
	a->b = NULL;
	a->nb = a->cap = 0;
}

void cl_agg_reset(struct cl_agg *a)
{
	double r = a->resolution;
	struct cl_agg_bucket *b = a->b;
	uint32_t cap = a->cap;

	memset(a, 0, sizeof(*a));
	a->resolution = r;
	a->b = b;
	a->cap = cap;
}

static int add_bucket(struct cl_agg *a, int32_t q, uint32_t n)
{
	uint32_t lo = 0, hi = a->nb;

	while (lo < hi) {
		uint32_t mid = (lo + hi) / 2;

		if (a->b[mid].q < q)
			lo = mid + 1;
		else
			hi = mid;
	}
	if (lo < a->nb && a->b[lo].q == q) {
		a->b[lo].n += n;
		return CL_OK;
	}
	if (a->nb == a->cap) {
		uint32_t nc = a->cap ? a->cap * 2 : 8;
		void *nbp = cl_realloc(a->b, nc * sizeof(*a->b));

		if (!nbp)
			return CL_ENOMEM;
		a->b = nbp;
		a->cap = nc;
	}
	memmove(a->b + lo + 1, a->b + lo, (a->nb - lo) * sizeof(*a->b));
	a->b[lo].q = q;
	a->b[lo].n = n;
	a->nb++;
	return CL_OK;
}

int cl_agg_add(struct cl_agg *a, double v)
{
	double d;
	int rc = add_bucket(a, (int32_t)lround(v / a->resolution), 1);

	if (rc)
		return rc;
	if (a->count == 0 || v < a->min)
		a->min = v;
	if (a->count == 0 || v > a->max)
		a->max = v;
	a->count++;
	d = v - a->mean;
	a->mean += d / (double)a->count;
	a->m2 += d * (v - a->mean);
	return CL_OK;
}

int cl_agg_merge(struct cl_agg *dst, const struct cl_agg *src)
{
	double n, delta;

	if (src->count == 0)
		return CL_OK;
	for (uint32_t i = 0; i < src->nb; i++)
		if (add_bucket(dst, src->b[i].q, src->b[i].n) != CL_OK)
			return CL_ENOMEM;
	if (dst->count == 0) {
		dst->min = src->min;
		dst->max = src->max;
	} else {
		if (src->min < dst->min)
			dst->min = src->min;
		if (src->max > dst->max)
			dst->max = src->max;
	}
	/* Chan et al.'s parallel combination of mean and M2 */
	n = (double)(dst->count + src->count);
	delta = src->mean - dst->mean;
	dst->m2 += src->m2 + delta * delta * (double)dst->count * (double)src->count / n;
	dst->mean += delta * (double)src->count / n;
	dst->count += src->count;
	return CL_OK;
}

double cl_agg_percentile(const struct cl_agg *a, double p)
{
	uint64_t rank, seen = 0;

	if (a->count == 0)
		return NAN;
	rank = (uint64_t)ceil(p * (double)a->count);
	if (rank == 0)
		rank = 1;
	for (uint32_t i = 0; i < a->nb; i++) {
		seen += a->b[i].n;
		if (seen >= rank)
			return (double)a->b[i].q * a->resolution;
	}
	return (double)a->b[a->nb - 1].q * a->resolution;
}

void cl_agg_summarise(const struct cl_agg *a, struct cl_agg_summary *s)
{
	s->count = a->count;
	s->min = a->min;
	s->max = a->max;
	s->mean = a->mean;
	s->stddev = a->count > 1 ? sqrt(a->m2 / (double)(a->count - 1)) : 0;
	s->p50 = cl_agg_percentile(a, 0.50);
	s->p90 = cl_agg_percentile(a, 0.90);
	s->p99 = cl_agg_percentile(a, 0.99);
}
