/*
 * How good a risk score is: discrimination, calibration and accuracy of n
 * scores against 0/1 outcomes, computed as the reference tools compute
 * them so that carelake's numbers can be checked against theirs.
 *
 *   AUROC   the Mann-Whitney statistic: the chance that a random positive
 *           scores above a random negative, ties counting 1/2. Its
 *           variance by DeLong, DeLong & Clarke-Pearson (1988), computed
 *           in O(n log n) from midranks as Sun & Xu (2014), and a 95%
 *           normal interval auroc +- 1.96 * sqrt(variance) (on the AUROC
 *           scale, no logit transform), clamped to [0, 1].
 *   AUPRC   average precision exactly as scikit-learn's
 *           average_precision_score: over the distinct scores from the
 *           highest, sum of (R_n - R_(n-1)) * P_n, the recall gained at
 *           each threshold times the precision there (no interpolation).
 *   Brier   mean of (p - y)^2.
 *   calibration slope and intercept: the logistic regression
 *           y ~ intercept + slope * logit(p), p clamped to [1e-6, 1 - 1e-6],
 *           by maximum likelihood (Newton-Raphson). Slope 1 and intercept
 *           0 for a calibrated score; a slope below 1 means predictions
 *           too extreme (overfitting).
 *   reliability table: CL_ML_BINS equal-width bins of the predicted
 *           probability, [0, 0.1], (0.1, 0.2], ... (0.9, 1] (bin edges
 *           i * 0.1 as doubles), as scikit-learn's
 *           calibration_curve(strategy='uniform'): per bin the count, the
 *           mean prediction and the observed rate of label 1.
 *
 * Scores are doubles, labels uint8_t 0 or 1. Nothing here reads or writes
 * files, and only the sort's work space is allocated.
 */
#ifndef CL_ML_METRICS_H
#define CL_ML_METRICS_H

#include <stddef.h>
#include <stdint.h>

/* Bins of the reliability table. */
#define CL_ML_BINS 10

/* The normal quantile of a two-sided 95% interval. */
#define CL_ML_Z95 1.959963984540054

/* One bin of the reliability table. */
struct cl_ml_bin {
	double lo, hi;           /* predicted probabilities in (lo, hi]; the first [0, hi] */
	size_t count;            /* predictions in the bin */
	double mean_predicted;   /* their mean; NAN when count is 0 */
	double observed;         /* the fraction of them labelled 1; NAN when count is 0 */
};

/* Every metric of a set of predicted probabilities, by cl_ml_metrics_compute. */
struct cl_ml_metrics {
	size_t n;                  /* predictions */
	size_t positives;          /* labels 1 among them */
	double auroc;              /* area under the ROC curve */
	double auroc_var;          /* its DeLong variance; NAN with fewer than 2 of a class */
	double auroc_lo, auroc_hi; /* its 95% interval, within [0, 1]; NAN as the variance */
	double auprc;              /* average precision (area under precision-recall) */
	double prevalence;         /* positives / n: the AUPRC of a useless score */
	double brier;              /* mean squared error of the probabilities */
	int calibrated;            /* 1 when the calibration fit converged; 0 when it
				    * could not (predictions that separate the classes
				    * perfectly): slope and intercept are then NAN */
	double calibration_slope;      /* the logistic recalibration's slope */
	double calibration_intercept;  /* and its intercept */
	struct cl_ml_bin bins[CL_ML_BINS]; /* the reliability table */
};

/*
 * The AUROC of n finite scores (any scale) against labels 0/1 into *auroc,
 * and its DeLong variance into *var (var may be NULL; NAN when either
 * class has fewer than 2 members). CL_EINVAL with a detail when n is 0, a
 * score is not finite, a label is not 0/1 or a class is missing;
 * CL_ENOMEM.
 */
int cl_ml_auroc(const double *score, const uint8_t *label, size_t n, double *auroc,
		double *var);

/*
 * The normal interval auroc +- z * sqrt(var), clamped to [0, 1], into *lo
 * and *hi (NAN when var is NAN). z is CL_ML_Z95 for 95%.
 */
void cl_ml_auroc_ci(double auroc, double var, double z, double *lo, double *hi);

/*
 * Average precision of n finite scores against labels 0/1 into *ap.
 * CL_EINVAL when n is 0, a score is not finite, a label is not 0/1 or no
 * label is 1; CL_ENOMEM.
 */
int cl_ml_auprc(const double *score, const uint8_t *label, size_t n, double *ap);

/*
 * The Brier score of n probabilities in [0, 1] into *brier. CL_EINVAL when
 * n is 0, a probability is outside [0, 1] or a label is not 0/1.
 */
int cl_ml_brier(const double *p, const uint8_t *label, size_t n, double *brier);

/*
 * Calibration slope and intercept of n probabilities in [0, 1] into
 * *slope and *intercept. CL_EINVAL (with the fit's detail) when the input
 * is invalid, a class is missing or the fit cannot converge; CL_ENOMEM.
 */
int cl_ml_calibration(const double *p, const uint8_t *label, size_t n, double *slope,
		      double *intercept);

/*
 * The reliability table of n probabilities in [0, 1] into bins. CL_EINVAL
 * when n is 0, a probability is outside [0, 1] or a label is not 0/1.
 */
int cl_ml_reliability(const double *p, const uint8_t *label, size_t n,
		      struct cl_ml_bin bins[CL_ML_BINS]);

/*
 * Every metric above of n predicted probabilities in [0, 1] into *m (one
 * sort for AUROC and AUPRC). Both classes must be present. A calibration
 * fit that cannot converge is not an error: m->calibrated says so.
 * CL_EINVAL with a detail for invalid input; CL_ENOMEM.
 */
int cl_ml_metrics_compute(const double *p, const uint8_t *label, size_t n,
			  struct cl_ml_metrics *m);

#endif
