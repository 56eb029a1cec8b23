/*
 * The Prometheus text exposition format (0.0.4), written into a growing
 * buffer: each component renders its own part of /metrics with these, and
 * the server only puts the parts together.
 */
#ifndef CL_PROM_H
#define CL_PROM_H

#include <stddef.h>
#include <stdint.h>

struct cl_prom {
	char *buf;      /* cl_malloc'd; the caller frees it */
	size_t len, cap;
	int failed;     /* out of memory: the text is incomplete */
};

/* Appends printf-formatted text. */
void cl_prom_put(struct cl_prom *p, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* "# HELP" and "# TYPE" lines of a metric whose samples follow. */
void cl_prom_head(struct cl_prom *p, const char *name, const char *type, const char *help);

/* A whole counter or gauge without labels. */
void cl_prom_counter(struct cl_prom *p, const char *name, const char *help, uint64_t v);
void cl_prom_gauge(struct cl_prom *p, const char *name, const char *help, double v);

/*
 * A histogram: counts[i] observations in bucket i (at most le[i]; counts[n]
 * above the last bound), their sum and count. labels (may be NULL) go in
 * every sample: `source="vitals"`. _samples writes one labelled series of
 * a histogram whose head is written (several series of one family).
 */
void cl_prom_histogram(struct cl_prom *p, const char *name, const char *help,
		       const char *labels, const double *le, const uint64_t *counts, int n,
		       double sum, uint64_t count);
void cl_prom_histogram_samples(struct cl_prom *p, const char *name, const char *labels,
			       const double *le, const uint64_t *counts, int n, double sum,
			       uint64_t count);

#endif
