/*
 * Prometheus text. See cl_prom.h.
 */
#include "cl_prom.h"
#include "cl_mem.h"

#include <stdarg.h>
#include <stdio.h>

void cl_prom_put(struct cl_prom *p, const char *fmt, ...)
{
	va_list ap;
	int n;

	if (p->failed)
		return;
	for (;;) {
		size_t room = p->cap - p->len;

		va_start(ap, fmt);
		n = vsnprintf(p->buf ? p->buf + p->len : NULL, p->buf ? room : 0, fmt, ap);
		va_end(ap);
		if (n < 0) {
			p->failed = 1;
			return;
		}
		if (p->buf && (size_t)n < room) {
			p->len += (size_t)n;
			return;
		}
		{
			size_t nc = p->cap ? p->cap * 2 : 8192;
			char *nb;

			while (nc < p->len + (size_t)n + 1)
				nc *= 2;
			nb = cl_realloc(p->buf, nc);
			if (!nb) {
				p->failed = 1;
				return;
			}
			p->buf = nb;
			p->cap = nc;
		}
	}
}

void cl_prom_head(struct cl_prom *p, const char *name, const char *type, const char *help)
{
	cl_prom_put(p, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, type);
}

void cl_prom_counter(struct cl_prom *p, const char *name, const char *help, uint64_t v)
{
	cl_prom_head(p, name, "counter", help);
	cl_prom_put(p, "%s %llu\n", name, (unsigned long long)v);
}

void cl_prom_gauge(struct cl_prom *p, const char *name, const char *help, double v)
{
	cl_prom_head(p, name, "gauge", help);
	cl_prom_put(p, "%s %.15g\n", name, v);
}

void cl_prom_histogram(struct cl_prom *p, const char *name, const char *help,
		       const char *labels, const double *le, const uint64_t *counts, int n,
		       double sum, uint64_t count)
{
	cl_prom_head(p, name, "histogram", help);
	cl_prom_histogram_samples(p, name, labels, le, counts, n, sum, count);
}

void cl_prom_histogram_samples(struct cl_prom *p, const char *name, const char *labels,
			       const double *le, const uint64_t *counts, int n, double sum,
			       uint64_t count)
{
	const char *l = labels ? labels : "", *sep = labels ? "," : "";
	uint64_t cum = 0;

	for (int i = 0; i < n; i++) {
		cum += counts[i];
		cl_prom_put(p, "%s_bucket{%s%sle=\"%g\"} %llu\n", name, l, sep, le[i],
			    (unsigned long long)cum);
	}
	cum += counts[n];
	cl_prom_put(p, "%s_bucket{%s%sle=\"+Inf\"} %llu\n", name, l, sep, (unsigned long long)cum);
	if (labels) {
		cl_prom_put(p, "%s_sum{%s} %.6f\n%s_count{%s} %llu\n", name, l, sum, name, l,
			    (unsigned long long)count);
	} else {
		cl_prom_put(p, "%s_sum %.6f\n%s_count %llu\n", name, sum, name,
			    (unsigned long long)count);
	}
}
