/*
 * Logistic regression by Newton-Raphson, and feature standardisation. See
 * cl_ml_logistic.h for the objective and what the fit promises.
 *
 * The coefficients live in one vector beta of d = k + 1 values: beta[0]
 * is the intercept, beta[1 + j] feature j's weight. With lambda = 1 / C
 * the fit minimises f(beta) = 0.5 * lambda * ||w||^2 + sum_i loss_i, the
 * objective of the header divided by C (the same minimiser, and no C *
 * infinity when C is infinite). Per step, with p_i the predicted
 * probabilities and x~_i = (1, x_i):
 *
 *     gradient  g = sum_i (p_i - y_i) x~_i + lambda * (0, w)
 *     Hessian   H = sum_i p_i (1 - p_i) x~_i x~_i' + lambda * diag(0, 1, .., 1)
 *     step      beta <- beta - t * H^-1 g, t = 1, halved while f would rise
 */
#include "cl_ml_logistic.h"
#include "core/cl_error.h"
#include "core/cl_mem.h"

#include <math.h>
#include <string.h>

/* A step whose largest coefficient change is below this ends the fit. */
#define STEP_TOL 1e-10

/* A Cholesky pivot below this fraction of its diagonal means singular. */
#define PIVOT_TOL 1e-12

/* The logistic function, without overflow for large |z|. */
static double sigmoid(double z)
{
	double e;

	if (z >= 0)
		return 1.0 / (1.0 + exp(-z));
	e = exp(z);
	return e / (1.0 + e);
}

/* log(1 + exp(z)), without overflow for large z. */
static double softplus(double z)
{
	return z > 0 ? z + log1p(exp(-z)) : log1p(exp(z));
}

/* beta[0] + beta[1..k] . row */
static double linear(const double *beta, const double *row, size_t k)
{
	double z = beta[0];

	for (size_t j = 0; j < k; j++)
		z += beta[1 + j] * row[j];
	return z;
}

/* f(beta): the penalised negative log-likelihood, scaled by 1 / C. */
static double objective(const double *x, const uint8_t *y, size_t n, size_t k,
			double lambda, const double *beta)
{
	double loss = 0, ww = 0;

	for (size_t i = 0; i < n; i++) {
		double z = linear(beta, x + i * k, k);

		loss += y[i] ? softplus(-z) : softplus(z);
	}
	for (size_t j = 0; j < k; j++)
		ww += beta[1 + j] * beta[1 + j];
	return 0.5 * lambda * ww + loss;
}

/*
 * The gradient into g[d] and the Hessian's upper triangle into h[d * d]
 * (row-major; the lower triangle is filled from it).
 */
static void derivatives(const double *x, const uint8_t *y, size_t n, size_t k,
			double lambda, const double *beta, double *g, double *h)
{
	size_t d = k + 1;

	memset(g, 0, d * sizeof(*g));
	memset(h, 0, d * d * sizeof(*h));
	for (size_t i = 0; i < n; i++) {
		const double *row = x + i * k;
		double p = sigmoid(linear(beta, row, k));
		double r = p - (double)y[i], w = p * (1.0 - p);

		g[0] += r;
		h[0] += w;
		for (size_t a = 0; a < k; a++) {
			double wa = w * row[a];
			double *ha = h + (1 + a) * d;

			g[1 + a] += r * row[a];
			h[1 + a] += wa;
			for (size_t b = a; b < k; b++)
				ha[1 + b] += wa * row[b];
		}
	}
	for (size_t j = 1; j < d; j++) {
		g[j] += lambda * beta[j];
		h[j * d + j] += lambda;
	}
	for (size_t a = 0; a < d; a++)
		for (size_t b = a + 1; b < d; b++)
			h[b * d + a] = h[a * d + b];
}

/*
 * Solves H s = g for s by Cholesky (H = L L', L written over H's lower
 * triangle). Returns the index of the first pivot that is not clearly
 * positive (H singular there), or -1 when solved.
 */
static long cholesky_solve(double *h, size_t d, const double *g, double *s)
{
	for (size_t j = 0; j < d; j++) {
		double diag = h[j * d + j], piv = diag;

		for (size_t m = 0; m < j; m++)
			piv -= h[j * d + m] * h[j * d + m];
		if (!(piv > PIVOT_TOL * diag) || !isfinite(piv))
			return (long)j;
		piv = sqrt(piv);
		h[j * d + j] = piv;
		for (size_t i = j + 1; i < d; i++) {
			double v = h[i * d + j];

			for (size_t m = 0; m < j; m++)
				v -= h[i * d + m] * h[j * d + m];
			h[i * d + j] = v / piv;
		}
	}
	/* L u = g, then L' s = u */
	for (size_t i = 0; i < d; i++) {
		double v = g[i];

		for (size_t m = 0; m < i; m++)
			v -= h[i * d + m] * s[m];
		s[i] = v / h[i * d + i];
	}
	for (size_t i = d; i-- > 0;) {
		double v = s[i];

		for (size_t m = i + 1; m < d; m++)
			v -= h[m * d + i] * s[m];
		s[i] = v / h[i * d + i];
	}
	return -1;
}

static int check_input(const double *x, const uint8_t *y, size_t n, size_t k, double c)
{
	size_t pos = 0;

	if (n == 0)
		return cl_error_set(CL_EINVAL, "no rows to fit (n is 0)");
	if (k > CL_ML_MAX_FEATURES)
		return cl_error_set(CL_EINVAL, "%zu features; a model may have at most %d",
				    k, CL_ML_MAX_FEATURES);
	if (!(c > 0)) /* NaN too; +infinity is allowed */
		return cl_error_set(CL_EINVAL, "C must be a number > 0 (or infinity for no "
				    "penalty), not %g", c);
	for (size_t i = 0; i < n; i++) {
		if (y[i] > 1)
			return cl_error_set(CL_EINVAL, "row %zu: label %u is not 0 or 1", i,
					    (unsigned)y[i]);
		pos += y[i];
		for (size_t j = 0; j < k; j++)
			if (!isfinite(x[i * k + j]))
				return cl_error_set(CL_EINVAL, "row %zu, feature %zu: %g is not a "
						    "finite number", i, j, x[i * k + j]);
	}
	if (pos == 0 || pos == n)
		return cl_error_set(CL_EINVAL, "every label is %d: a model needs rows of both "
				    "classes", pos ? 1 : 0);
	return CL_OK;
}

int cl_ml_logistic_fit(const double *x, const uint8_t *y, size_t n, size_t k, double c,
		       struct cl_ml_logistic *model)
{
	double lambda, f, *h, *g, *s, *beta, *trial;
	size_t d = k + 1;
	int rc;

	if ((rc = check_input(x, y, n, k, c)) != CL_OK)
		return rc;
	lambda = isinf(c) ? 0.0 : 1.0 / c;
	h = cl_malloc(d * d * sizeof(*h));
	g = cl_malloc(4 * d * sizeof(*g));
	if (!h || !g) {
		cl_free(h);
		cl_free(g);
		return cl_error_set(CL_ENOMEM, "no memory for a %zu-feature logistic fit", k);
	}
	s = g + d;
	beta = s + d;
	trial = beta + d;
	memset(beta, 0, d * sizeof(*beta));
	memset(model, 0, sizeof(*model));
	model->k = k;
	model->c = c;
	f = objective(x, y, n, k, lambda, beta);
	rc = CL_EINVAL;
	for (int it = 1; it <= CL_ML_MAX_ITERATIONS; it++) {
		double biggest = 0, t = 1, ft = f;
		long bad;

		derivatives(x, y, n, k, lambda, beta, g, h);
		if ((bad = cholesky_solve(h, d, g, s)) >= 0) {
			if (bad == 0)
				cl_error_set(CL_EINVAL, "logistic fit: the Newton system is singular "
					     "at the intercept (predictions saturated at 0 or 1)");
			else
				cl_error_set(CL_EINVAL, "logistic fit: the Newton system is singular "
					     "at feature %ld (constant, a combination of other "
					     "features, or separating the classes); drop it or "
					     "use a finite C", bad - 1);
			break;
		}
		for (size_t j = 0; j < d; j++)
			if (fabs(s[j]) > biggest)
				biggest = fabs(s[j]);
		/* halve while the objective would rise (beyond rounding) */
		for (int half = 0; half < 60; half++, t *= 0.5) {
			for (size_t j = 0; j < d; j++)
				trial[j] = beta[j] - t * s[j];
			ft = objective(x, y, n, k, lambda, trial);
			if (ft <= f + 1e-13 * (1.0 + fabs(f)))
				break;
		}
		memcpy(beta, trial, d * sizeof(*beta));
		f = ft;
		model->iterations = it;
		if (biggest < STEP_TOL) {
			rc = CL_OK;
			break;
		}
		if (it == CL_ML_MAX_ITERATIONS)
			cl_error_set(CL_EINVAL, "logistic fit: no convergence in %d Newton steps "
				     "(last step %g); the classes may be separable, use a "
				     "finite or smaller C", CL_ML_MAX_ITERATIONS, biggest);
	}
	model->intercept = beta[0];
	memcpy(model->coef, beta + 1, k * sizeof(*beta));
	model->objective = lambda > 0 ? f * c : f;
	cl_free(h);
	cl_free(g);
	return rc;
}

double cl_ml_logistic_predict_one(const struct cl_ml_logistic *model, const double *row)
{
	double z = model->intercept;

	for (size_t j = 0; j < model->k; j++)
		z += model->coef[j] * row[j];
	return sigmoid(z);
}

void cl_ml_logistic_predict(const struct cl_ml_logistic *model, const double *x, size_t n,
			    double *p)
{
	for (size_t i = 0; i < n; i++)
		p[i] = cl_ml_logistic_predict_one(model, x + i * model->k);
}

int cl_ml_standardise_fit(const double *x, size_t n, size_t k, double *mean, double *sd)
{
	if (n == 0)
		return cl_error_set(CL_EINVAL, "no rows to standardise (n is 0)");
	for (size_t j = 0; j < k; j++) {
		double sum = 0, ss = 0;

		for (size_t i = 0; i < n; i++) {
			double v = x[i * k + j];

			if (!isfinite(v))
				return cl_error_set(CL_EINVAL, "row %zu, feature %zu: %g is not a "
						    "finite number", i, j, v);
			sum += v;
		}
		mean[j] = sum / (double)n;
		for (size_t i = 0; i < n; i++) {
			double v = x[i * k + j] - mean[j];

			ss += v * v;
		}
		sd[j] = sqrt(ss / (double)n);
		if (sd[j] == 0)
			sd[j] = 1;
	}
	return CL_OK;
}

void cl_ml_standardise_apply(double *x, size_t n, size_t k, const double *mean,
			     const double *sd)
{
	for (size_t i = 0; i < n; i++)
		for (size_t j = 0; j < k; j++)
			x[i * k + j] = (x[i * k + j] - mean[j]) / sd[j];
}
