/*
 * Discrimination and calibration metrics. See cl_ml_metrics.h for what
 * each one is.
 *
 * AUROC and AUPRC both work on the scores sorted once, walked as groups of
 * equal scores (a tie group holds p positives and q negatives). Walking up
 * from the lowest score, with N0 negatives and N1 positives in all and
 * neg_below negatives and pos_below positives in the groups already
 * passed, every positive of the group has the DeLong placement
 *
 *     V10 = (neg_below + q / 2) / N0    (the negatives it beats)
 *
 * and every negative
 *
 *     V01 = (N1 - pos_below - p + p / 2) / N1    (the positives beating it);
 *
 * the AUROC is the mean of either, and DeLong's variance is
 * var(V10) / N1 + var(V01) / N0 with sample variances (divided by N1 - 1
 * and N0 - 1). These are Sun & Xu's midrank formulas without the ranks.
 * The AUROC's numerator counts halves, exactly while 2 * N1 * N0 < 2^53
 * (some 10^8 rows).
 */
#include "cl_ml_metrics.h"
#include "cl_ml_logistic.h"
#include "core/cl_error.h"
#include "core/cl_mem.h"

#include <math.h>
#include <stdlib.h>

/* Probabilities are clamped to [CLAMP, 1 - CLAMP] before the logit. */
#define CLAMP 1e-6

/* A score and its label, the unit of the sort. */
struct scored {
	double s;
	uint8_t y;
};

static int by_score(const void *a, const void *b)
{
	double x = ((const struct scored *)a)->s, y = ((const struct scored *)b)->s;

	return (x > y) - (x < y);
}

/* Checks the labels are 0/1 and counts the 1s into *pos. */
static int check_labels(const uint8_t *label, size_t n, size_t *pos)
{
	size_t c = 0;

	if (n == 0)
		return cl_error_set(CL_EINVAL, "no predictions (n is 0)");
	for (size_t i = 0; i < n; i++) {
		if (label[i] > 1)
			return cl_error_set(CL_EINVAL, "prediction %zu: label %u is not 0 or 1", i,
					    (unsigned)label[i]);
		c += label[i];
	}
	*pos = c;
	return CL_OK;
}

static int check_scores(const double *score, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (!isfinite(score[i]))
			return cl_error_set(CL_EINVAL, "prediction %zu: score %g is not a finite "
					    "number", i, score[i]);
	return CL_OK;
}

static int check_probabilities(const double *p, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (!(p[i] >= 0 && p[i] <= 1))
			return cl_error_set(CL_EINVAL, "prediction %zu: probability %g is not "
					    "within [0, 1]", i, p[i]);
	return CL_OK;
}

/* The scores and labels as pairs sorted by score, ascending, into *out. */
static int sort_scores(const double *score, const uint8_t *label, size_t n,
		       struct scored **out)
{
	struct scored *v = cl_malloc(n * sizeof(*v));

	if (!v)
		return cl_error_set(CL_ENOMEM, "no memory to sort %zu scores", n);
	for (size_t i = 0; i < n; i++) {
		v[i].s = score[i];
		v[i].y = label[i];
	}
	qsort(v, n, sizeof(*v), by_score);
	*out = v;
	return CL_OK;
}

/* The end of the tie group starting at i (one past its last member), and
 * its positives and negatives. */
static size_t tie_group(const struct scored *v, size_t n, size_t i, double *p, double *q)
{
	size_t e = i;

	*p = *q = 0;
	while (e < n && v[e].s == v[i].s) {
		if (v[e].y)
			*p += 1;
		else
			*q += 1;
		e++;
	}
	return e;
}

/* AUROC and its DeLong variance (NAN below 2 of a class) of sorted pairs
 * with n1 positives and n0 negatives, both > 0. */
static void auroc_sorted(const struct scored *v, size_t n, double n1, double n0,
			 double *auroc, double *var)
{
	double num = 0, neg_below = 0, pos_below = 0, s10 = 0, s01 = 0, a;
	double p, q;
	size_t i, e;

	for (i = 0; i < n; i = e) {
		e = tie_group(v, n, i, &p, &q);
		num += p * (neg_below + 0.5 * q);
		neg_below += q;
	}
	a = num / (n1 * n0);
	*auroc = a;
	if (n1 < 2 || n0 < 2) {
		*var = NAN;
		return;
	}
	neg_below = 0;
	for (i = 0; i < n; i = e) {
		double v10, v01;

		e = tie_group(v, n, i, &p, &q);
		v10 = (neg_below + 0.5 * q) / n0 - a;
		v01 = (n1 - pos_below - 0.5 * p) / n1 - a;
		s10 += p * v10 * v10;
		s01 += q * v01 * v01;
		neg_below += q;
		pos_below += p;
	}
	*var = s10 / (n1 - 1) / n1 + s01 / (n0 - 1) / n0;
}

/* Average precision of sorted pairs with n1 > 0 positives: from the
 * highest score down, each group's recall gain times its precision. */
static double auprc_sorted(const struct scored *v, size_t n, double n1)
{
	double ap = 0, tp = 0, fp = 0;
	size_t end = n;

	while (end > 0) {
		size_t start = end - 1;
		double p = 0, q = 0;

		while (start > 0 && v[start - 1].s == v[end - 1].s)
			start--;
		for (size_t i = start; i < end; i++) {
			if (v[i].y)
				p += 1;
			else
				q += 1;
		}
		tp += p;
		fp += q;
		if (p > 0)
			ap += p / n1 * (tp / (tp + fp));
		end = start;
	}
	return ap;
}

int cl_ml_auroc(const double *score, const uint8_t *label, size_t n, double *auroc,
		double *var)
{
	struct scored *v = NULL;
	size_t pos = 0;
	double tmp;
	int rc;

	if ((rc = check_labels(label, n, &pos)) != CL_OK ||
	    (rc = check_scores(score, n)) != CL_OK)
		return rc;
	if (pos == 0 || pos == n)
		return cl_error_set(CL_EINVAL, "every label is %d: the AUROC needs both classes",
				    pos ? 1 : 0);
	if ((rc = sort_scores(score, label, n, &v)) != CL_OK)
		return rc;
	auroc_sorted(v, n, (double)pos, (double)(n - pos), auroc, var ? var : &tmp);
	cl_free(v);
	return CL_OK;
}

void cl_ml_auroc_ci(double auroc, double var, double z, double *lo, double *hi)
{
	double h = z * sqrt(var);

	if (isnan(var)) {
		*lo = *hi = NAN;
		return;
	}
	*lo = fmax(0.0, auroc - h);
	*hi = fmin(1.0, auroc + h);
}

int cl_ml_auprc(const double *score, const uint8_t *label, size_t n, double *ap)
{
	struct scored *v = NULL;
	size_t pos = 0;
	int rc;

	if ((rc = check_labels(label, n, &pos)) != CL_OK ||
	    (rc = check_scores(score, n)) != CL_OK)
		return rc;
	if (pos == 0)
		return cl_error_set(CL_EINVAL, "no label is 1: average precision needs positives");
	if ((rc = sort_scores(score, label, n, &v)) != CL_OK)
		return rc;
	*ap = auprc_sorted(v, n, (double)pos);
	cl_free(v);
	return CL_OK;
}

int cl_ml_brier(const double *p, const uint8_t *label, size_t n, double *brier)
{
	double sum = 0;
	size_t pos = 0;
	int rc;

	if ((rc = check_labels(label, n, &pos)) != CL_OK ||
	    (rc = check_probabilities(p, n)) != CL_OK)
		return rc;
	for (size_t i = 0; i < n; i++) {
		double e = p[i] - (double)label[i];

		sum += e * e;
	}
	*brier = sum / (double)n;
	return CL_OK;
}

int cl_ml_calibration(const double *p, const uint8_t *label, size_t n, double *slope,
		      double *intercept)
{
	struct cl_ml_logistic fit;
	double *lp;
	size_t pos = 0;
	int rc;

	if ((rc = check_labels(label, n, &pos)) != CL_OK ||
	    (rc = check_probabilities(p, n)) != CL_OK)
		return rc;
	lp = cl_malloc(n * sizeof(*lp));
	if (!lp)
		return cl_error_set(CL_ENOMEM, "no memory for the logits of %zu predictions", n);
	for (size_t i = 0; i < n; i++) {
		double c = fmin(fmax(p[i], CLAMP), 1.0 - CLAMP);

		lp[i] = log(c / (1.0 - c));
	}
	rc = cl_ml_logistic_fit(lp, label, n, 1, INFINITY, &fit);
	cl_free(lp);
	if (rc == CL_EINVAL && pos > 0 && pos < n)
		return cl_error_set(CL_EINVAL, "calibration: the logistic fit of the label on "
				    "logit(p) has no finite slope (predictions that "
				    "separate the classes?)");
	if (rc != CL_OK)
		return rc;
	*slope = fit.coef[0];
	*intercept = fit.intercept;
	return CL_OK;
}

int cl_ml_reliability(const double *p, const uint8_t *label, size_t n,
		      struct cl_ml_bin bins[CL_ML_BINS])
{
	double sum[CL_ML_BINS] = { 0 }, ones[CL_ML_BINS] = { 0 };
	size_t pos = 0;
	int rc;

	if ((rc = check_labels(label, n, &pos)) != CL_OK ||
	    (rc = check_probabilities(p, n)) != CL_OK)
		return rc;
	for (int b = 0; b < CL_ML_BINS; b++) {
		bins[b].lo = b * (1.0 / CL_ML_BINS);
		bins[b].hi = b + 1 == CL_ML_BINS ? 1.0 : (b + 1) * (1.0 / CL_ML_BINS);
		bins[b].count = 0;
	}
	for (size_t i = 0; i < n; i++) {
		int b = 0;

		/* the edges below p: a p on an edge goes to the bin below it */
		while (b + 1 < CL_ML_BINS && bins[b].hi < p[i])
			b++;
		bins[b].count++;
		sum[b] += p[i];
		ones[b] += label[i];
	}
	for (int b = 0; b < CL_ML_BINS; b++) {
		double c = (double)bins[b].count;

		bins[b].mean_predicted = c > 0 ? sum[b] / c : NAN;
		bins[b].observed = c > 0 ? ones[b] / c : NAN;
	}
	return CL_OK;
}

int cl_ml_metrics_compute(const double *p, const uint8_t *label, size_t n,
			  struct cl_ml_metrics *m)
{
	struct scored *v = NULL;
	size_t pos = 0;
	int rc;

	if ((rc = check_labels(label, n, &pos)) != CL_OK ||
	    (rc = check_probabilities(p, n)) != CL_OK)
		return rc;
	if (pos == 0 || pos == n)
		return cl_error_set(CL_EINVAL, "every label is %d: the metrics need both classes",
				    pos ? 1 : 0);
	m->n = n;
	m->positives = pos;
	m->prevalence = (double)pos / (double)n;
	if ((rc = sort_scores(p, label, n, &v)) != CL_OK)
		return rc;
	auroc_sorted(v, n, (double)pos, (double)(n - pos), &m->auroc, &m->auroc_var);
	cl_ml_auroc_ci(m->auroc, m->auroc_var, CL_ML_Z95, &m->auroc_lo, &m->auroc_hi);
	m->auprc = auprc_sorted(v, n, (double)pos);
	cl_free(v);
	if ((rc = cl_ml_brier(p, label, n, &m->brier)) != CL_OK ||
	    (rc = cl_ml_reliability(p, label, n, m->bins)) != CL_OK)
		return rc;
	rc = cl_ml_calibration(p, label, n, &m->calibration_slope, &m->calibration_intercept);
	if (rc == CL_ENOMEM)
		return rc;
	m->calibrated = rc == CL_OK;
	if (!m->calibrated) {
		m->calibration_slope = m->calibration_intercept = NAN;
		cl_error_clear();
	}
	return CL_OK;
}
