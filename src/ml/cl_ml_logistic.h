/*
 * L2-regularised logistic regression, the model behind the readmission
 * scores: a dense, row-major matrix of n rows and k features in, an
 * intercept and k weights out.
 *
 * The fit minimises exactly what scikit-learn's
 * LogisticRegression(penalty='l2', C=C, fit_intercept=True) minimises,
 *
 *     0.5 * ||w||^2 + C * sum_i log(1 + exp(-s_i * (b + w . x_i)))
 *
 * (s_i = +1 for label 1, -1 for label 0; the intercept b is not
 * penalised), so the same data and C give the same coefficients. It is
 * solved by Newton-Raphson (iteratively reweighted least squares) from
 * zero, a Cholesky solve of the (k+1) x (k+1) system per step, halving a
 * step that would raise the objective, until no coefficient moves by
 * 1e-10 or more (at most 100 steps). No randomness and one fixed order of
 * summation: the same input gives the same bits.
 *
 * The penalty depends on the features' scales; a caller that wants every
 * feature penalised alike standardises first (cl_ml_standardise_fit on the
 * training rows, cl_ml_standardise_apply on those and on any row scored
 * later, with the same means and deviations).
 */
#ifndef CL_ML_LOGISTIC_H
#define CL_ML_LOGISTIC_H

#include <stddef.h>
#include <stdint.h>

/* The most features a model may have: the Newton system is (k+1)^2. */
#define CL_ML_MAX_FEATURES 512

/* Newton steps before a fit gives up. */
#define CL_ML_MAX_ITERATIONS 100

/* A fitted model. Plain data: copy it, keep it, no destroy. */
struct cl_ml_logistic {
	size_t k;                          /* features */
	double intercept;                  /* b, unpenalised */
	double coef[CL_ML_MAX_FEATURES];   /* w[0..k-1], one per feature */
	double c;                          /* the C it was fitted with */
	double objective;                  /* 0.5 ||w||^2 + C * sum(log-loss) at the
					    * result (the log-loss alone when C is
					    * infinite) */
	int iterations;                    /* Newton steps taken */
};

/*
 * Fits the model to n rows of k features (x[i * k + j] is row i's feature
 * j) and labels y[i] (0 or 1). c is scikit-learn's C, the inverse of the
 * penalty's strength: finite and > 0, or INFINITY for no penalty (plain
 * maximum likelihood, which needs classes that no line separates).
 *
 * Returns CL_OK with *model filled, or CL_EINVAL with a detail: n is 0, k
 * is above CL_ML_MAX_FEATURES, c is not allowed, a value is not finite, a
 * label is not 0 or 1, only one class is present, the Newton system is
 * singular (without a penalty: a feature constant or a combination of
 * others, or separable classes), or no convergence in
 * CL_ML_MAX_ITERATIONS steps (*model then holds the last iterate).
 * CL_ENOMEM when the work space cannot be allocated.
 */
int cl_ml_logistic_fit(const double *x, const uint8_t *y, size_t n, size_t k, double c,
		       struct cl_ml_logistic *model);

/* The predicted probability of label 1 for one row of model->k features. */
double cl_ml_logistic_predict_one(const struct cl_ml_logistic *model, const double *row);

/*
 * Predicted probabilities for n rows of model->k features (row-major, as
 * for the fit) into p[0..n-1].
 */
void cl_ml_logistic_predict(const struct cl_ml_logistic *model, const double *x, size_t n,
			    double *p);

/*
 * Each feature's mean and standard deviation over n training rows of k
 * features, into mean[0..k-1] and sd[0..k-1]. As scikit-learn's
 * StandardScaler: the population deviation (divided by n), and 1 for a
 * feature that is constant (it is then only centred). CL_EINVAL when n is
 * 0 or a value is not finite.
 */
int cl_ml_standardise_fit(const double *x, size_t n, size_t k, double *mean, double *sd);

/*
 * Replaces every value of n rows of k features by (x - mean) / sd, with the
 * mean and sd from cl_ml_standardise_fit (of the training rows, whichever
 * rows are standardised now).
 */
void cl_ml_standardise_apply(double *x, size_t n, size_t k, const double *mean,
			     const double *sd);

#endif
