/*
 * carelake's logistic regression and metrics against scikit-learn, an
 * independent implementation: a seeded synthetic readmission data set
 * (2,000 stays, 6 features, some correlated) is standardised and fitted
 * here with C = 1, its scores' metrics computed, and the data and results
 * written to a scratch directory for tests/ml/sklearn_check.py, which fits
 * and scores the same data with scikit-learn and exits non-zero on any
 * difference beyond its tolerances.
 *
 * usage: test_ml_sklearn SOURCE_DIR
 *
 * The Python used is $CARELAKE_PYTHON, else the first of python3 (on the
 * PATH) and /usr/bin/python3 that imports sklearn. Without one the test
 * fails, asking for scripts/deps.sh (which installs Debian's
 * python3-sklearn): a reference left out must not pass for a reference
 * that agreed.
 */
#include "cl_test.h"
#include "core/cl_error.h"
#include "ml/cl_ml_logistic.h"
#include "ml/cl_ml_metrics.h"

#include <sys/wait.h>

enum { N = 2000, K = 6 };

static const char *source_dir;

/* ---- a seeded generator (splitmix64), the same on every machine ------- */

static uint64_t rng_state = 20261206;

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

/*
 * N stays: age; a comorbidity score that rises with age (r about 0.6);
 * length of stay, skewed; prior admissions in a year, correlated with the
 * length of stay; discharged to a care home (0/1); and a feature of pure
 * noise. Readmission drawn from a logistic model of them.
 */
static void make_data(double *x, uint8_t *y)
{
	for (size_t i = 0; i < N; i++) {
		double *r = x + i * K, z2 = normal(), z;

		r[0] = 65.0 + 12.0 * normal();
		r[1] = 2.0 + 0.08 * (r[0] - 65.0) + 1.2 * normal();
		r[2] = exp(1.5 + 0.6 * z2);
		r[3] = 0.8 * z2 + 0.6 * normal();
		r[4] = uniform() < 0.3;
		r[5] = normal();
		z = -2.0 + 0.03 * (r[0] - 65.0) + 0.35 * r[1] + 0.08 * r[2] + 0.4 * r[3] +
		    0.7 * r[4];
		y[i] = uniform() < 1.0 / (1.0 + exp(-z));
	}
}

static void write_csv(const char *path, const double *x, const uint8_t *y)
{
	FILE *f = fopen(path, "w");

	assert_non_null(f);
	fprintf(f, "label");
	for (int j = 0; j < K; j++)
		fprintf(f, ",x%d", j);
	fprintf(f, "\n");
	for (size_t i = 0; i < N; i++) {
		fprintf(f, "%u", (unsigned)y[i]);
		for (int j = 0; j < K; j++)
			fprintf(f, ",%.17g", x[i * K + j]);
		fprintf(f, "\n");
	}
	assert_int_equal(fclose(f), 0);
}

/* A number for JSON: NaN has no JSON spelling, so null. */
static void json_num(FILE *f, double v)
{
	if (isnan(v))
		fprintf(f, "null");
	else
		fprintf(f, "%.17g", v);
}

static void write_json(const char *path, const struct cl_ml_logistic *m,
		       const struct cl_ml_metrics *mt, const double *p)
{
	FILE *f = fopen(path, "w");

	assert_non_null(f);
	fprintf(f, "{\"C\": %.17g, \"intercept\": %.17g, \"coef\": [", m->c, m->intercept);
	for (size_t j = 0; j < m->k; j++)
		fprintf(f, "%s%.17g", j ? ", " : "", m->coef[j]);
	fprintf(f, "],\n \"auroc\": %.17g, \"auroc_var\": %.17g, \"auprc\": %.17g, "
		"\"brier\": %.17g,\n \"calibration_slope\": %.17g, "
		"\"calibration_intercept\": %.17g,\n \"bins\": [", mt->auroc, mt->auroc_var,
		mt->auprc, mt->brier, mt->calibration_slope, mt->calibration_intercept);
	for (int b = 0; b < CL_ML_BINS; b++) {
		fprintf(f, "%s{\"count\": %zu, \"mean_predicted\": ", b ? ", " : "",
			mt->bins[b].count);
		json_num(f, mt->bins[b].mean_predicted);
		fprintf(f, ", \"observed\": ");
		json_num(f, mt->bins[b].observed);
		fprintf(f, "}");
	}
	fprintf(f, "],\n \"scores\": [");
	for (size_t i = 0; i < N; i++)
		fprintf(f, "%s%.17g", i ? ", " : "", p[i]);
	fprintf(f, "]}\n");
	assert_int_equal(fclose(f), 0);
}

/* A Python that imports sklearn, into py; 0 when there is none. */
static int find_python(char *py, size_t cap)
{
	const char *env = getenv("CARELAKE_PYTHON");
	const char *cands[] = { env && *env ? env : NULL, "python3", "/usr/bin/python3" };
	char cmd[600];

	for (size_t i = 0; i < sizeof(cands) / sizeof(cands[0]); i++) {
		if (!cands[i])
			continue;
		snprintf(cmd, sizeof(cmd), "'%s' -c 'import sklearn' >/dev/null 2>&1", cands[i]);
		if (system(cmd) == 0) {
			snprintf(py, cap, "%s", cands[i]);
			return 1;
		}
	}
	return 0;
}

static void test_against_sklearn(void **state)
{
	double *x = malloc(N * K * sizeof(*x)), *p = malloc(N * sizeof(*p));
	double mean[K], sd[K];
	uint8_t *y = malloc(N);
	struct cl_ml_logistic m;
	struct cl_ml_metrics mt;
	char dir[256], csv[320], json[320], py[256], cmd[1400], out[8192];
	size_t len = 0;
	FILE *pipe;
	int status;

	(void)state;
	assert_non_null(x);
	assert_non_null(p);
	assert_non_null(y);
	if (!find_python(py, sizeof(py)))
		fail_msg("no python3 with scikit-learn (tried $CARELAKE_PYTHON, python3, "
			 "/usr/bin/python3): run scripts/deps.sh, which installs Debian's "
			 "python3-sklearn");

	make_data(x, y);
	assert_int_equal(cl_ml_standardise_fit(x, N, K, mean, sd), CL_OK);
	cl_ml_standardise_apply(x, N, K, mean, sd);
	if (cl_ml_logistic_fit(x, y, N, K, 1.0, &m) != CL_OK)
		fail_msg("fit: %s", cl_error_detail());
	cl_ml_logistic_predict(&m, x, N, p);
	if (cl_ml_metrics_compute(p, y, N, &mt) != CL_OK)
		fail_msg("metrics: %s", cl_error_detail());
	assert_int_equal(mt.calibrated, 1);
	assert_true(mt.auroc > 0.6 && mt.auroc < 0.95);
	printf("carelake: %d Newton steps, %zu positives, AUROC %.4f (95%% CI %.4f-%.4f), "
	       "AUPRC %.4f, Brier %.4f, calibration slope %.4f intercept %.4f\n",
	       m.iterations, mt.positives, mt.auroc, mt.auroc_lo, mt.auroc_hi, mt.auprc,
	       mt.brier, mt.calibration_slope, mt.calibration_intercept);

	cl_test_tmpdir(dir, sizeof(dir));
	snprintf(csv, sizeof(csv), "%s/data.csv", dir);
	snprintf(json, sizeof(json), "%s/carelake.json", dir);
	write_csv(csv, x, y);
	write_json(json, &m, &mt, p);

	snprintf(cmd, sizeof(cmd), "'%s' '%s/tests/ml/sklearn_check.py' '%s' '%s' 2>&1", py,
		 source_dir, csv, json);
	pipe = popen(cmd, "r");
	assert_non_null(pipe);
	while (len + 1 < sizeof(out)) {
		size_t got = fread(out + len, 1, sizeof(out) - 1 - len, pipe);

		if (got == 0)
			break;
		len += got;
	}
	out[len] = '\0';
	status = pclose(pipe);
	fputs(out, stdout);
	cl_test_rmtree(dir);
	if (!(WIFEXITED(status) && WEXITSTATUS(status) == 0))
		fail_msg("sklearn_check.py (%s) failed with status %d:\n%s", py, status, out);
	free(x);
	free(p);
	free(y);
}

int main(int argc, char **argv)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_against_sklearn),
	};

	if (argc < 2) {
		fprintf(stderr, "usage: test_ml_sklearn SOURCE_DIR\n");
		return 2;
	}
	source_dir = argv[1];
	return cmocka_run_group_tests(tests, NULL, NULL);
}
