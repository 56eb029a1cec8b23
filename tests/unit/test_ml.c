/*
 * The readmission models' numerical core: AUROC with DeLong's variance,
 * average precision, Brier, calibration and the reliability table on cases
 * worked by hand, and logistic regression recovering known coefficients.
 * (test_ml_sklearn.c checks the same code against scikit-learn.)
 */
#include "cl_test.h"
#include "core/cl_error.h"
#include "core/cl_mem.h"
#include "ml/cl_ml_logistic.h"
#include "ml/cl_ml_metrics.h"

/* |a - b| <= tol, saying both values when not (cmocka's float compare is
 * single precision) */
#define assert_near(a, b, tol) near_((a), (b), (tol), #a, __FILE__, __LINE__)

static void near_(double a, double b, double tol, const char *what, const char *file, int line)
{
	if (!(fabs(a - b) <= tol))
		fail_msg("%s:%d: %s is %.17g, expected %.17g within %g (off by %g)", file, line,
			 what, a, b, tol, fabs(a - b));
}

/* ---- a seeded generator (splitmix64), the same on every machine ------- */

static uint64_t rng_state;

static double uniform(void)
{
	uint64_t z = (rng_state += 0x9E3779B97F4A7C15ull);

	z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
	z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
	z ^= z >> 31;
	return ((double)(z >> 11) + 0.5) / 9007199254740992.0; /* (0, 1) */
}

static double normal(void)
{
	double u = uniform(), v = uniform();

	return sqrt(-2.0 * log(u)) * cos(6.283185307179586 * v);
}

static double expit(double z)
{
	return 1.0 / (1.0 + exp(-z));
}

/* ---- AUROC and DeLong ------------------------------------------------- */

static void test_auroc_hand(void **state)
{
	double auc, var, lo, hi;

	(void)state;
	/* perfect: every positive above every negative; both placements are
	 * constant (1), so the variance is 0 */
	{
		const double s[] = { 0.1, 0.2, 0.3, 0.7, 0.8, 0.9 };
		const uint8_t y[] = { 0, 0, 0, 1, 1, 1 };

		assert_int_equal(cl_ml_auroc(s, y, 6, &auc, &var), CL_OK);
		assert_true(auc == 1.0);
		assert_true(var == 0.0);
		cl_ml_auroc_ci(auc, var, CL_ML_Z95, &lo, &hi);
		assert_true(lo == 1.0 && hi == 1.0);
	}
	/* reversed */
	{
		const double s[] = { 0.9, 0.8, 0.7, 0.3, 0.2, 0.1 };
		const uint8_t y[] = { 0, 0, 0, 1, 1, 1 };

		assert_int_equal(cl_ml_auroc(s, y, 6, &auc, &var), CL_OK);
		assert_true(auc == 0.0);
	}
	/* all tied: every pair counts 1/2; every placement is 1/2, variance 0 */
	{
		const double s[] = { 0.4, 0.4, 0.4, 0.4, 0.4 };
		const uint8_t y[] = { 1, 0, 1, 0, 0 };

		assert_int_equal(cl_ml_auroc(s, y, 5, &auc, &var), CL_OK);
		assert_true(auc == 0.5);
		assert_true(var == 0.0);
	}
	/*
	 * By hand, with a tie. Positives X = {0.9, 0.6, 0.4}, negatives
	 * Y = {0.6, 0.3}; psi(x, y) = 1 if x > y, 1/2 if equal, 0 if below.
	 *   V10(0.9) = (1 + 1) / 2 = 1    V10(0.6) = (1/2 + 1) / 2 = 3/4
	 *   V10(0.4) = (0 + 1) / 2 = 1/2
	 *   V01(0.6) = (1 + 1/2 + 0) / 3 = 1/2    V01(0.3) = 3 / 3 = 1
	 * AUROC = mean V10 = (1 + 3/4 + 1/2) / 3 = 3/4 (= mean V01).
	 * S10 = ((1/4)^2 + 0 + (1/4)^2) / (3 - 1) = 1/16
	 * S01 = ((1/4)^2 + (1/4)^2) / (2 - 1) = 1/8
	 * var = S10 / 3 + S01 / 2 = 1/48 + 1/16 = 1/12 = 0.0833...
	 * 95% CI: 3/4 -+ 1.959964 * sqrt(1/12) = 3/4 -+ 0.565792:
	 * [0.184208, 1.315792], the upper end clamped to 1.
	 */
	{
		const double s[] = { 0.6, 0.9, 0.3, 0.4, 0.6 };
		const uint8_t y[] = { 0, 1, 0, 1, 1 };

		assert_int_equal(cl_ml_auroc(s, y, 5, &auc, &var), CL_OK);
		assert_near(auc, 0.75, 1e-15);
		assert_near(var, 1.0 / 12.0, 1e-15);
		cl_ml_auroc_ci(auc, var, CL_ML_Z95, &lo, &hi);
		assert_near(lo, 0.75 - CL_ML_Z95 * sqrt(1.0 / 12.0), 1e-15);
		assert_near(lo, 0.184208, 1e-6);
		assert_true(hi == 1.0);
	}
	/* one positive: an AUROC, but no variance (it needs 2 of each) */
	{
		const double s[] = { 0.2, 0.5, 0.3 };
		const uint8_t y[] = { 0, 1, 0 };

		assert_int_equal(cl_ml_auroc(s, y, 3, &auc, &var), CL_OK);
		assert_true(auc == 1.0);
		assert_true(isnan(var));
		cl_ml_auroc_ci(auc, var, CL_ML_Z95, &lo, &hi);
		assert_true(isnan(lo) && isnan(hi));
	}
}

/* DeLong's structural components by their definition, O(N1 * N0), on
 * random scores with many ties, against the O(n log n) walk. */
static void test_delong_brute_force(void **state)
{
	enum { N = 400 };
	static double s[N];
	static uint8_t y[N];
	double auc, var, v10[N], v01[N], a = 0, s10 = 0, s01 = 0;
	size_t n1 = 0, n0 = 0;

	(void)state;
	rng_state = 7;
	for (int i = 0; i < N; i++) {
		y[i] = uniform() < 0.3;
		/* coarse scores: many ties, positives higher on average */
		s[i] = round((normal() + (y[i] ? 0.8 : 0.0)) * 4.0) / 4.0;
	}
	for (int i = 0; i < N; i++) {
		if (!y[i])
			continue;
		double sum = 0;

		for (int j = 0; j < N; j++)
			if (!y[j])
				sum += s[i] > s[j] ? 1.0 : s[i] == s[j] ? 0.5 : 0.0;
		v10[n1++] = sum;
	}
	for (int j = 0; j < N; j++) {
		if (y[j])
			continue;
		double sum = 0;

		for (int i = 0; i < N; i++)
			if (y[i])
				sum += s[i] > s[j] ? 1.0 : s[i] == s[j] ? 0.5 : 0.0;
		v01[n0++] = sum;
	}
	for (size_t i = 0; i < n1; i++) {
		v10[i] /= (double)n0;
		a += v10[i];
	}
	a /= (double)n1;
	for (size_t i = 0; i < n0; i++)
		v01[i] /= (double)n1;
	for (size_t i = 0; i < n1; i++)
		s10 += (v10[i] - a) * (v10[i] - a);
	for (size_t i = 0; i < n0; i++)
		s01 += (v01[i] - a) * (v01[i] - a);
	s10 /= (double)(n1 - 1);
	s01 /= (double)(n0 - 1);

	assert_int_equal(cl_ml_auroc(s, y, N, &auc, &var), CL_OK);
	assert_near(auc, a, 1e-12);
	assert_near(var, s10 / (double)n1 + s01 / (double)n0, 1e-14);
	assert_true(auc > 0.6 && auc < 0.85);
}

/* ---- AUPRC and Brier -------------------------------------------------- */

static void test_auprc(void **state)
{
	double ap;

	(void)state;
	/* scikit-learn's documented example of average_precision_score:
	 * thresholds 0.8 (R 1/2, P 1), 0.4 (R 1/2), 0.35 (R 1, P 2/3), 0.1:
	 * 1/2 * 1 + 1/2 * 2/3 = 5/6 */
	{
		const double s[] = { 0.1, 0.4, 0.35, 0.8 };
		const uint8_t y[] = { 0, 0, 1, 1 };

		assert_int_equal(cl_ml_auprc(s, y, 4, &ap), CL_OK);
		assert_near(ap, 0.83333333333333333, 1e-15);
	}
	/* one threshold holding everything: the precision is the prevalence */
	{
		const double s[] = { 0.5, 0.5, 0.5, 0.5 };
		const uint8_t y[] = { 1, 0, 0, 0 };

		assert_int_equal(cl_ml_auprc(s, y, 4, &ap), CL_OK);
		assert_near(ap, 0.25, 1e-15);
	}
	/* a tie across classes at the top: 0.9 holds 1 positive and 1
	 * negative (R 1/2, P 1/2), then 0.2 the other positive (R 1, P 2/3):
	 * 1/2 * 1/2 + 1/2 * 2/3 = 7/12 */
	{
		const double s[] = { 0.9, 0.9, 0.2, 0.1 };
		const uint8_t y[] = { 1, 0, 1, 0 };

		assert_int_equal(cl_ml_auprc(s, y, 4, &ap), CL_OK);
		assert_near(ap, 7.0 / 12.0, 1e-15);
	}
	/* no positives: undefined */
	{
		const double s[] = { 0.1, 0.2 };
		const uint8_t y[] = { 0, 0 };

		assert_int_equal(cl_ml_auprc(s, y, 2, &ap), CL_EINVAL);
		assert_non_null(strstr(cl_error_detail(), "positives"));
	}
}

static void test_brier(void **state)
{
	/* (0.1^2 + 0.1^2 + 0.8^2 + 0.7^2) / 4 = 1.15 / 4 */
	const double p[] = { 0.1, 0.9, 0.8, 0.3 };
	const uint8_t y[] = { 0, 1, 0, 1 };
	const double bad[] = { 0.1, 1.5, 0.8, 0.3 };
	double b;

	(void)state;
	assert_int_equal(cl_ml_brier(p, y, 4, &b), CL_OK);
	assert_near(b, 0.2875, 1e-15);
	assert_int_equal(cl_ml_brier(bad, y, 4, &b), CL_EINVAL);
	assert_non_null(strstr(cl_error_detail(), "prediction 1"));
}

/* ---- calibration and the reliability table ---------------------------- */

/* n predictions with logits N(-1, 1.2^2) and outcomes drawn from
 * expit(truth_slope * logit): calibrated when truth_slope is 1. */
static void calibration_data(double *p, uint8_t *y, size_t n, double truth_slope)
{
	rng_state = 20260101;
	for (size_t i = 0; i < n; i++) {
		double z = -1.0 + 1.2 * normal();

		p[i] = expit(z);
		y[i] = uniform() < expit(truth_slope * z);
	}
}

static void test_calibration(void **state)
{
	enum { N = 200000 };
	double *p = malloc(N * sizeof(*p)), slope, icpt;
	uint8_t *y = malloc(N);
	struct cl_ml_bin bins[CL_ML_BINS];
	size_t total = 0;

	(void)state;
	assert_non_null(p);
	assert_non_null(y);
	/* calibrated: slope 1, intercept 0 (standard errors about 0.006 and
	 * 0.007 at this n) */
	calibration_data(p, y, N, 1.0);
	assert_int_equal(cl_ml_calibration(p, y, N, &slope, &icpt), CL_OK);
	assert_near(slope, 1.0, 0.03);
	assert_near(icpt, 0.0, 0.03);
	/* and the reliability table's observed rates follow the predictions */
	assert_int_equal(cl_ml_reliability(p, y, N, bins), CL_OK);
	for (int b = 0; b < CL_ML_BINS; b++) {
		total += bins[b].count;
		if (bins[b].count >= 2000)
			assert_near(bins[b].observed, bins[b].mean_predicted, 0.03);
		if (bins[b].count > 0) {
			assert_true(bins[b].mean_predicted >= bins[b].lo);
			assert_true(bins[b].mean_predicted <= bins[b].hi);
		}
	}
	assert_int_equal(total, N);
	/* overconfident predictions (the truth is half as extreme): slope 1/2 */
	calibration_data(p, y, N, 0.5);
	assert_int_equal(cl_ml_calibration(p, y, N, &slope, &icpt), CL_OK);
	assert_near(slope, 0.5, 0.03);
	free(p);
	free(y);
}

static void test_reliability_edges(void **state)
{
	/* an edge belongs to the bin below it (scikit-learn's uniform bins:
	 * [0, 0.1], (0.1, 0.2], ..., (0.9, 1]) */
	const double p[] = { 0.0, 0.1, 0.10000001, 0.3, 0.95, 1.0 };
	const uint8_t y[] = { 0, 1, 0, 1, 1, 0 };
	struct cl_ml_bin bins[CL_ML_BINS];

	(void)state;
	assert_int_equal(cl_ml_reliability(p, y, 6, bins), CL_OK);
	assert_int_equal(bins[0].count, 2);
	assert_near(bins[0].mean_predicted, 0.05, 1e-15);
	assert_near(bins[0].observed, 0.5, 1e-15);
	assert_int_equal(bins[1].count, 1);
	/* 0.3 is the double nearest 0.3, below the edge 3 * 0.1 */
	assert_int_equal(bins[2].count, 1);
	assert_int_equal(bins[9].count, 2);
	assert_near(bins[9].observed, 0.5, 1e-15);
	assert_int_equal(bins[5].count, 0);
	assert_true(isnan(bins[5].mean_predicted) && isnan(bins[5].observed));
	assert_true(bins[0].lo == 0.0 && bins[9].hi == 1.0);
}

static void test_metrics_compute(void **state)
{
	struct cl_ml_metrics m;

	(void)state;
	/* the hand case of test_auroc_hand, as probabilities */
	{
		const double p[] = { 0.6, 0.9, 0.3, 0.4, 0.6 };
		const uint8_t y[] = { 0, 1, 0, 1, 1 };
		double b;

		assert_int_equal(cl_ml_metrics_compute(p, y, 5, &m), CL_OK);
		assert_int_equal(m.n, 5);
		assert_int_equal(m.positives, 3);
		assert_near(m.prevalence, 0.6, 1e-15);
		assert_near(m.auroc, 0.75, 1e-15);
		assert_near(m.auroc_var, 1.0 / 12.0, 1e-15);
		assert_true(m.auroc_hi == 1.0);
		assert_int_equal(cl_ml_brier(p, y, 5, &b), CL_OK);
		assert_true(m.brier == b);
		assert_int_equal(m.calibrated, 1);
		assert_true(isfinite(m.calibration_slope));
	}
	/* predictions that separate the classes: no finite calibration slope,
	 * which is not an error of the whole */
	{
		const double p[] = { 0.1, 0.2, 0.3, 0.7, 0.8, 0.9 };
		const uint8_t y[] = { 0, 0, 0, 1, 1, 1 };

		assert_int_equal(cl_ml_metrics_compute(p, y, 6, &m), CL_OK);
		assert_true(m.auroc == 1.0);
		assert_true(m.auprc == 1.0);
		assert_int_equal(m.calibrated, 0);
		assert_true(isnan(m.calibration_slope) && isnan(m.calibration_intercept));
	}
	/* what is refused, and said */
	{
		const double p[] = { 0.1, 0.2, NAN };
		const uint8_t y[] = { 0, 1, 1 }, y2[] = { 0, 2, 1 }, y1[] = { 1, 1, 1 };
		const double ok[] = { 0.1, 0.2, 0.3 };

		assert_int_equal(cl_ml_metrics_compute(p, y, 3, &m), CL_EINVAL);
		assert_non_null(strstr(cl_error_detail(), "prediction 2"));
		assert_int_equal(cl_ml_metrics_compute(ok, y2, 3, &m), CL_EINVAL);
		assert_non_null(strstr(cl_error_detail(), "label 2 is not 0 or 1"));
		assert_int_equal(cl_ml_metrics_compute(ok, y1, 3, &m), CL_EINVAL);
		assert_non_null(strstr(cl_error_detail(), "both classes"));
		assert_int_equal(cl_ml_metrics_compute(ok, y, 0, &m), CL_EINVAL);
		assert_int_equal(cl_ml_auroc(p, y, 3, &m.auroc, NULL), CL_EINVAL);
		assert_non_null(strstr(cl_error_detail(), "not a finite"));
		cl_mem_fail_after(0);
		assert_int_equal(cl_ml_metrics_compute(ok, y, 3, &m), CL_ENOMEM);
		cl_mem_fail_reset();
	}
}

/* ---- logistic regression ---------------------------------------------- */

enum { K = 4 };
static const double truth[K + 1] = { -0.5, 1.0, -0.7, 0.3, 0.0 }; /* intercept first */

/* n rows of K features, x1 and x2 correlated (r = 0.6), x3 skewed and not
 * centred, x4 noise, and labels drawn from the true model. */
static void logistic_data(double *x, uint8_t *y, size_t n)
{
	rng_state = 42;
	for (size_t i = 0; i < n; i++) {
		double *r = x + i * K, z;

		r[0] = normal();
		r[1] = 0.6 * r[0] + 0.8 * normal();
		r[2] = 2.0 + exp(0.5 * normal());
		r[3] = normal();
		z = truth[0];
		for (int j = 0; j < K; j++)
			z += truth[1 + j] * r[j];
		y[i] = uniform() < expit(z);
	}
}

static void test_logistic_recovers(void **state)
{
	enum { N = 40000 };
	double *x = malloc(N * K * sizeof(*x)), *p = malloc(N * sizeof(*p));
	uint8_t *y = malloc(N);
	struct cl_ml_logistic m, m2, small;
	double g[K + 1] = { 0 }, norm = 0, norm_small = 0;

	(void)state;
	assert_non_null(x);
	assert_non_null(p);
	assert_non_null(y);
	logistic_data(x, y, N);
	/* no penalty: the maximum likelihood estimate, within ~4 standard
	 * errors (about 0.02 for the weights at this n, 0.07 for the
	 * intercept, which x3's offset makes uncertain) */
	assert_int_equal(cl_ml_logistic_fit(x, y, N, K, INFINITY, &m), CL_OK);
	assert_near(m.intercept, truth[0], 0.25);
	for (int j = 0; j < K; j++)
		assert_near(m.coef[j], truth[1 + j], 0.08);
	assert_true(m.iterations >= 3 && m.iterations < 20);

	/* C = 1: at the optimum the gradient of 0.5||w||^2 + C sum(loss) is 0:
	 * C * sum (p - y) = 0 for the intercept, C * sum (p - y) x_j + w_j = 0 */
	assert_int_equal(cl_ml_logistic_fit(x, y, N, K, 1.0, &m), CL_OK);
	cl_ml_logistic_predict(&m, x, N, p);
	for (size_t i = 0; i < N; i++) {
		g[0] += p[i] - y[i];
		for (int j = 0; j < K; j++)
			g[1 + j] += (p[i] - y[i]) * x[i * K + j];
	}
	assert_near(g[0], 0.0, 1e-8);
	for (int j = 0; j < K; j++)
		assert_near(g[1 + j] + m.coef[j], 0.0, 1e-8);
	assert_true(p[7] == cl_ml_logistic_predict_one(&m, x + 7 * K));

	/* the same input, the same bits */
	assert_int_equal(cl_ml_logistic_fit(x, y, N, K, 1.0, &m2), CL_OK);
	assert_memory_equal(&m, &m2, sizeof(m));

	/* a strong penalty shrinks the weights */
	assert_int_equal(cl_ml_logistic_fit(x, y, N, K, 1e-4, &small), CL_OK);
	for (int j = 0; j < K; j++) {
		norm += m.coef[j] * m.coef[j];
		norm_small += small.coef[j] * small.coef[j];
	}
	assert_true(norm_small < 0.5 * norm);
	free(x);
	free(p);
	free(y);
}

static void test_logistic_refusals(void **state)
{
	/* 6 rows of 2 features; the second feature constant */
	const double x[] = { 0.1, 1, 0.5, 1, 0.2, 1, 0.9, 1, 0.4, 1, 0.7, 1 };
	const uint8_t y[] = { 0, 1, 0, 1, 1, 0 }, one[] = { 1, 1, 1, 1, 1, 1 };
	const uint8_t two[] = { 0, 1, 2, 1, 1, 0 }, sep[] = { 0, 1, 0, 1, 0, 1 };
	double nan_x[12];
	struct cl_ml_logistic m;

	(void)state;
	assert_int_equal(cl_ml_logistic_fit(x, y, 0, 2, 1.0, &m), CL_EINVAL);
	assert_non_null(strstr(cl_error_detail(), "n is 0"));
	assert_int_equal(cl_ml_logistic_fit(x, y, 6, CL_ML_MAX_FEATURES + 1, 1.0, &m), CL_EINVAL);
	assert_non_null(strstr(cl_error_detail(), "at most 512"));
	assert_int_equal(cl_ml_logistic_fit(x, y, 6, 2, 0.0, &m), CL_EINVAL);
	assert_int_equal(cl_ml_logistic_fit(x, y, 6, 2, NAN, &m), CL_EINVAL);
	assert_non_null(strstr(cl_error_detail(), "C must be"));
	assert_int_equal(cl_ml_logistic_fit(x, one, 6, 2, 1.0, &m), CL_EINVAL);
	assert_non_null(strstr(cl_error_detail(), "both classes"));
	assert_int_equal(cl_ml_logistic_fit(x, two, 6, 2, 1.0, &m), CL_EINVAL);
	assert_non_null(strstr(cl_error_detail(), "row 2: label 2"));
	memcpy(nan_x, x, sizeof(x));
	nan_x[7] = INFINITY;
	assert_int_equal(cl_ml_logistic_fit(nan_x, y, 6, 2, 1.0, &m), CL_EINVAL);
	assert_non_null(strstr(cl_error_detail(), "row 3, feature 1"));
	/* the constant feature is the intercept again: singular unpenalised,
	 * fine with a penalty */
	assert_int_equal(cl_ml_logistic_fit(x, y, 6, 2, INFINITY, &m), CL_EINVAL);
	assert_non_null(strstr(cl_error_detail(), "singular at feature 1"));
	assert_int_equal(cl_ml_logistic_fit(x, y, 6, 2, 1.0, &m), CL_OK);
	/* x1 alone separates sep at 0.45: the likelihood has no maximum */
	{
		const double x1[] = { 0.1, 0.5, 0.2, 0.9, 0.4, 0.7 };

		assert_int_equal(cl_ml_logistic_fit(x1, sep, 6, 1, INFINITY, &m), CL_EINVAL);
		assert_non_null(strstr(cl_error_detail(), "logistic fit"));
		assert_int_equal(cl_ml_logistic_fit(x1, sep, 6, 1, 1.0, &m), CL_OK);
	}
	/* out of memory */
	cl_mem_fail_after(0);
	assert_int_equal(cl_ml_logistic_fit(x, y, 6, 2, 1.0, &m), CL_ENOMEM);
	cl_mem_fail_reset();
}

static void test_standardise(void **state)
{
	/* 4 rows: feature 0 is 1 2 3 4 (mean 2.5, population sd sqrt(1.25)),
	 * feature 1 constant 7 */
	double x[] = { 1, 7, 2, 7, 3, 7, 4, 7 }, later[] = { 5, 8 };
	double mean[2], sd[2];

	(void)state;
	assert_int_equal(cl_ml_standardise_fit(x, 4, 2, mean, sd), CL_OK);
	assert_near(mean[0], 2.5, 1e-15);
	assert_near(sd[0], sqrt(1.25), 1e-15);
	assert_near(mean[1], 7.0, 1e-15);
	assert_true(sd[1] == 1.0);
	cl_ml_standardise_apply(x, 4, 2, mean, sd);
	assert_near(x[0], -1.5 / sqrt(1.25), 1e-15);
	assert_near(x[6], 1.5 / sqrt(1.25), 1e-15);
	assert_true(x[1] == 0.0 && x[7] == 0.0);
	/* a later row with the training rows' mean and sd */
	cl_ml_standardise_apply(later, 1, 2, mean, sd);
	assert_near(later[0], 2.5 / sqrt(1.25), 1e-15);
	assert_near(later[1], 1.0, 1e-15);
	assert_int_equal(cl_ml_standardise_fit(x, 0, 2, mean, sd), CL_EINVAL);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_auroc_hand),
		cmocka_unit_test(test_delong_brute_force),
		cmocka_unit_test(test_auprc),
		cmocka_unit_test(test_brier),
		cmocka_unit_test(test_calibration),
		cmocka_unit_test(test_reliability_edges),
		cmocka_unit_test(test_metrics_compute),
		cmocka_unit_test(test_logistic_recovers),
		cmocka_unit_test(test_logistic_refusals),
		cmocka_unit_test(test_standardise),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
