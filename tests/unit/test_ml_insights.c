/*
 * The treatment insights' arithmetic (ml/cl_readm_insights.h): the
 * Mantel-Haenszel risk ratio with the Greenland-Robins interval and the
 * Mantel-Haenszel risk difference with Sato's interval, on the textbook
 * example worked by hand below, on strata whose common effect is known
 * exactly, and on one table (the crude estimates, whose intervals are
 * Katz's and Wald's); and what the estimate does with empty arms, no
 * readmissions and inconsistent counts.
 */
#include "cl_test.h"
#include "core/cl_error.h"
#include "ml/cl_ml_metrics.h"
#include "ml/cl_readm_insights.h"

#include <math.h>

/* |a - b| <= tol, saying both values when not */
#define assert_near(a, b, tol) near_((a), (b), (tol), #a, __FILE__, __LINE__)

static void near_(double a, double b, double tol, const char *what, const char *file, int line)
{
	if (!(fabs(a - b) <= tol))
		fail_msg("%s:%d: %s is %.17g, expected %.17g within %g (off by %g)", file, line,
			 what, a, b, tol, fabs(a - b));
}

#define Z90 1.6448536269514722

/*
 * The University Group Diabetes Program: deaths among patients given
 * tolbutamide or placebo, by age (Rothman, Greenland & Lash, Modern
 * Epidemiology, 3rd ed., 2008, ch. 15, the tolbutamide example):
 *
 *   age < 55:  tolbutamide 8 deaths of 106, placebo 5 of 120  (T = 226)
 *   age 55+:   tolbutamide 22 of 98,       placebo 16 of 85   (T = 183)
 *
 * By hand (a exposed deaths, b unexposed, N1, N0 the arms):
 *   sum a N0 / T = 960/226 + 1870/183 = 4.2477876 + 10.2185792 = 14.4663668
 *   sum b N1 / T = 530/226 + 1568/183 = 2.3451327 +  8.5683060 = 10.9134388
 *   RR_MH = 14.4663668 / 10.9134388 = 1.3255553           (the book: 1.33)
 *   sum (N1 N0 (a + b) - a b T) / T^2
 *         = (165360 - 9040) / 51076 + (316540 - 64416) / 33489
 *         = 3.0605372 + 7.5285616 = 10.5890989
 *   var ln RR_MH = 10.5890989 / (14.4663668 x 10.9134388) = 0.0670715
 *   95%: exp(ln 1.3255553 -+ 1.959964 x 0.2589817) = 0.7979070, 2.2021324
 *   90%: exp(ln 1.3255553 -+ 1.644854 x 0.2589817) = 0.8657532, 2.0295586
 *
 *   sum N1 N0 / T = 12720/226 + 8330/183 = 56.2831858 + 45.5191257 = 101.8023115
 *   RD_MH = (430/226 + 302/183) / 101.8023115
 *         = (1.9026549 + 1.6502732) / 101.8023115 = 0.0349003  (the book: 0.035)
 *   Sato: sum P = (106^2 5 - 120^2 8 + 106 x 120 x 14 / 2) / 226^2
 *               + (98^2 16 - 85^2 22 + 98 x 85 x (-13) / 2) / 183^2
 *               = 0.5877516 - 1.7746424 = -1.1868908
 *         sum Q = (8 x 115 + 5 x 98) / 452 + (22 x 69 + 16 x 76) / 366
 *               = 3.1194690 + 7.4699454 = 10.5894144
 *   var RD_MH = (0.0349003 x -1.1868908 + 10.5894144) / 101.8023115^2 = 0.00101778
 *   90%: 0.0349003 -+ 1.644854 x 0.0319027 = -0.0175750, 0.0873755
 */
static const struct cl_insight_table ugdp[] = {
	{ .exposed = 106, .exposed_events = 8, .unexposed = 120, .unexposed_events = 5 },
	{ .exposed = 98, .exposed_events = 22, .unexposed = 85, .unexposed_events = 16 },
};

static void test_textbook(void **state)
{
	struct cl_insight_estimate e;

	(void)state;
	assert_int_equal(cl_insight_mantel_haenszel(ugdp, 2, CL_ML_Z95, &e), CL_OK);
	assert_near(e.rr, 1.3255553241551052, 1e-12);
	assert_near(e.rr_lo, 0.7979070401464857, 1e-12);
	assert_near(e.rr_hi, 2.2021323650351112, 1e-12);
	assert_near(e.rd, 0.03490026933691816, 1e-14);
	assert_near(e.rd_lo, -0.027627846012228924, 1e-12);
	assert_near(e.rd_hi, 0.09742838468606524, 1e-12);
	/* the book's rounding */
	assert_near(e.rr, 1.33, 0.005);
	assert_near(e.rd, 0.035, 0.0005);
	assert_int_equal(cl_insight_mantel_haenszel(ugdp, 2, Z90, &e), CL_OK);
	assert_near(e.rr_lo, 0.8657532117219444, 1e-12);
	assert_near(e.rr_hi, 2.029558647436212, 1e-12);
	assert_near(e.rd_lo, -0.017574979254254483, 1e-12);
	assert_near(e.rd_hi, 0.0873755179280908, 1e-12);
}

/* One table: the crude estimates. The Greenland-Robins variance of one
 * table is Katz's, 1/a - 1/N1 + 1/b - 1/N0, and Sato's is Wald's,
 * p1 (1 - p1) / N1 + p0 (1 - p0) / N0. */
static void test_crude(void **state)
{
	const struct cl_insight_table all = { 204, 30, 205, 21 };
	struct cl_insight_estimate e;
	double se_log = sqrt(1.0 / 30 - 1.0 / 204 + 1.0 / 21 - 1.0 / 205);
	double p1 = 30.0 / 204, p0 = 21.0 / 205;
	double se_rd = sqrt(p1 * (1 - p1) / 204 + p0 * (1 - p0) / 205);

	(void)state;
	assert_int_equal(cl_insight_mantel_haenszel(&all, 1, CL_ML_Z95, &e), CL_OK);
	assert_near(e.rr, p1 / p0, 1e-14);
	assert_near(e.rr, 1.435574229691877, 1e-12);
	assert_near(e.rr_lo, p1 / p0 * exp(-CL_ML_Z95 * se_log), 1e-12);
	assert_near(e.rr_hi, p1 / p0 * exp(CL_ML_Z95 * se_log), 1e-12);
	assert_near(e.rr_lo, 0.8510220736799158, 1e-12);
	assert_near(e.rr_hi, 2.421645022724236, 1e-12);
	assert_near(e.rd, p1 - p0, 1e-15);
	assert_near(e.rd_lo, p1 - p0 - CL_ML_Z95 * se_rd, 1e-12);
	assert_near(e.rd_hi, p1 - p0 + CL_ML_Z95 * se_rd, 1e-12);
}

/* Strata that share a risk ratio of exactly 2 (and risk differences of
 * 0.05 and 0.20 with equal weights, 50 each): the common ratio, and the
 * weighted mean difference 0.125; the crude ratio is confounded. */
static void test_known_effect(void **state)
{
	const struct cl_insight_table t[] = {
		{ .exposed = 100, .exposed_events = 10, .unexposed = 100, .unexposed_events = 5 },
		{ .exposed = 100, .exposed_events = 40, .unexposed = 100, .unexposed_events = 20 },
	};
	const struct cl_insight_table skew[] = {
		/* the exposed mostly in the high-risk stratum: crude RR above 2 */
		{ .exposed = 20, .exposed_events = 2, .unexposed = 180, .unexposed_events = 9 },
		{ .exposed = 180, .exposed_events = 72, .unexposed = 20, .unexposed_events = 4 },
	};
	const struct cl_insight_table all = { 200, 74, 200, 13 };
	struct cl_insight_estimate e, crude;

	(void)state;
	assert_int_equal(cl_insight_mantel_haenszel(t, 2, CL_ML_Z95, &e), CL_OK);
	assert_near(e.rr, 2.0, 1e-14);
	assert_near(e.rd, 0.125, 1e-14);
	assert_true(e.rr_lo < 2.0 && e.rr_hi > 2.0);
	assert_true(e.rd_lo < 0.125 && e.rd_hi > 0.125);
	assert_int_equal(cl_insight_mantel_haenszel(skew, 2, CL_ML_Z95, &e), CL_OK);
	assert_near(e.rr, 2.0, 1e-14);
	assert_int_equal(cl_insight_mantel_haenszel(&all, 1, CL_ML_Z95, &crude), CL_OK);
	assert_near(crude.rr, 74.0 / 13.0, 1e-12);
	/* adjustment matters: the crude ratio lies outside the adjusted interval */
	assert_true(crude.rr > e.rr_hi);
}

/* A stratum with no exposed (or no unexposed) stay adds nothing; with no
 * readmission among the exposed the ratio is 0 without an interval, with
 * none among the unexposed there is no ratio; nothing to compare, or
 * more readmitted stays than stays, is an error. */
static void test_edges(void **state)
{
	struct cl_insight_table t[4] = { ugdp[0], ugdp[1],
					 { .exposed = 0, .unexposed = 50, .unexposed_events = 7 },
					 { .exposed = 30, .exposed_events = 3 } };
	const struct cl_insight_table none_exposed[] = {
		{ .exposed = 40, .exposed_events = 0, .unexposed = 60, .unexposed_events = 6 },
	};
	const struct cl_insight_table none_unexposed[] = {
		{ .exposed = 40, .exposed_events = 4, .unexposed = 60, .unexposed_events = 0 },
	};
	const struct cl_insight_table bad[] = {
		{ .exposed = 10, .exposed_events = 11, .unexposed = 10, .unexposed_events = 1 },
	};
	struct cl_insight_estimate e, ref;

	(void)state;
	assert_int_equal(cl_insight_mantel_haenszel(ugdp, 2, CL_ML_Z95, &ref), CL_OK);
	assert_int_equal(cl_insight_mantel_haenszel(t, 4, CL_ML_Z95, &e), CL_OK);
	assert_near(e.rr, ref.rr, 1e-15);
	assert_near(e.rr_lo, ref.rr_lo, 1e-15);
	assert_near(e.rd_hi, ref.rd_hi, 1e-15);

	assert_int_equal(cl_insight_mantel_haenszel(none_exposed, 1, CL_ML_Z95, &e), CL_OK);
	assert_near(e.rr, 0.0, 0);
	assert_true(isnan(e.rr_lo) && isnan(e.rr_hi));
	assert_near(e.rd, -0.1, 1e-15);
	assert_int_equal(cl_insight_mantel_haenszel(none_unexposed, 1, CL_ML_Z95, &e), CL_OK);
	assert_true(isnan(e.rr) && isnan(e.rr_lo));
	assert_near(e.rd, 0.1, 1e-15);

	assert_int_equal(cl_insight_mantel_haenszel(&t[2], 2, CL_ML_Z95, &e), CL_EINVAL);
	assert_non_null(strstr(cl_error_detail(), "both with and without"));
	assert_true(isnan(e.rr) && isnan(e.rd));
	assert_int_equal(cl_insight_mantel_haenszel(bad, 1, CL_ML_Z95, &e), CL_EINVAL);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_textbook),
		cmocka_unit_test(test_crude),
		cmocka_unit_test(test_known_effect),
		cmocka_unit_test(test_edges),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
