/* NEWS2: every band edge of the RCP 2017 chart, aggregation and risk. */
#include "cl_test.h"
#include "stream/cl_news2.h"

struct edge {
	enum cl_news2_param p;
	double value;
	int score;
};

/* Each band's both ends, from the published chart. */
static const struct edge edges[] = {
	{ CL_NEWS2_RESP, 0, 3 }, { CL_NEWS2_RESP, 8, 3 }, { CL_NEWS2_RESP, 9, 1 },
	{ CL_NEWS2_RESP, 11, 1 }, { CL_NEWS2_RESP, 12, 0 }, { CL_NEWS2_RESP, 20, 0 },
	{ CL_NEWS2_RESP, 21, 2 }, { CL_NEWS2_RESP, 24, 2 }, { CL_NEWS2_RESP, 25, 3 },
	{ CL_NEWS2_RESP, 60, 3 },
	{ CL_NEWS2_SPO2, 50, 3 }, { CL_NEWS2_SPO2, 91, 3 }, { CL_NEWS2_SPO2, 92, 2 },
	{ CL_NEWS2_SPO2, 93, 2 }, { CL_NEWS2_SPO2, 94, 1 }, { CL_NEWS2_SPO2, 95, 1 },
	{ CL_NEWS2_SPO2, 96, 0 }, { CL_NEWS2_SPO2, 100, 0 },
	{ CL_NEWS2_O2, 0, 0 }, { CL_NEWS2_O2, 1, 2 },
	{ CL_NEWS2_SBP, 60, 3 }, { CL_NEWS2_SBP, 90, 3 }, { CL_NEWS2_SBP, 91, 2 },
	{ CL_NEWS2_SBP, 100, 2 }, { CL_NEWS2_SBP, 101, 1 }, { CL_NEWS2_SBP, 110, 1 },
	{ CL_NEWS2_SBP, 111, 0 }, { CL_NEWS2_SBP, 219, 0 }, { CL_NEWS2_SBP, 220, 3 },
	{ CL_NEWS2_PULSE, 30, 3 }, { CL_NEWS2_PULSE, 40, 3 }, { CL_NEWS2_PULSE, 41, 1 },
	{ CL_NEWS2_PULSE, 50, 1 }, { CL_NEWS2_PULSE, 51, 0 }, { CL_NEWS2_PULSE, 90, 0 },
	{ CL_NEWS2_PULSE, 91, 1 }, { CL_NEWS2_PULSE, 110, 1 }, { CL_NEWS2_PULSE, 111, 2 },
	{ CL_NEWS2_PULSE, 130, 2 }, { CL_NEWS2_PULSE, 131, 3 }, { CL_NEWS2_PULSE, 200, 3 },
	{ CL_NEWS2_CONSC, 0, 0 }, { CL_NEWS2_CONSC, 1, 3 },
	{ CL_NEWS2_TEMP, 34.0, 3 }, { CL_NEWS2_TEMP, 35.0, 3 }, { CL_NEWS2_TEMP, 35.1, 1 },
	{ CL_NEWS2_TEMP, 36.0, 1 }, { CL_NEWS2_TEMP, 36.1, 0 }, { CL_NEWS2_TEMP, 38.0, 0 },
	{ CL_NEWS2_TEMP, 38.1, 1 }, { CL_NEWS2_TEMP, 39.0, 1 }, { CL_NEWS2_TEMP, 39.1, 2 },
	{ CL_NEWS2_TEMP, 41.0, 2 },
	/* values between chart rows round to the chart's precision */
	{ CL_NEWS2_RESP, 8.4, 3 }, { CL_NEWS2_RESP, 8.5, 1 }, { CL_NEWS2_PULSE, 90.49, 0 },
	{ CL_NEWS2_PULSE, 90.5, 1 }, { CL_NEWS2_TEMP, 35.04, 3 }, { CL_NEWS2_TEMP, 35.05, 1 },
	{ CL_NEWS2_TEMP, 38.049, 0 }, { CL_NEWS2_SPO2, 95.5, 0 },
};

static void test_band_edges(void **state)
{
	(void)state;
	for (size_t i = 0; i < sizeof(edges) / sizeof(edges[0]); i++) {
		int s = cl_news2_score(edges[i].p, edges[i].value);

		if (s != edges[i].score)
			fail_msg("parameter %d value %g: score %d, chart says %d", edges[i].p,
				 edges[i].value, s, edges[i].score);
	}
}

static void test_aggregate_and_risk(void **state)
{
	double v[CL_NEWS2_PARAMS];
	uint8_t have[CL_NEWS2_PARAMS];
	struct cl_news2 n;

	(void)state;
	/* a healthy adult: 0, low */
	v[CL_NEWS2_RESP] = 16; v[CL_NEWS2_SPO2] = 98; v[CL_NEWS2_O2] = 0;
	v[CL_NEWS2_SBP] = 120; v[CL_NEWS2_PULSE] = 70; v[CL_NEWS2_CONSC] = 0;
	v[CL_NEWS2_TEMP] = 37.0;
	memset(have, 1, sizeof(have));
	cl_news2_compute(v, have, &n);
	assert_int_equal(n.total, 0);
	assert_int_equal(n.present, 7);
	assert_int_equal(n.risk, CL_NEWS2_LOW);
	/* one parameter at 3 alone: low-medium */
	v[CL_NEWS2_CONSC] = 1;
	cl_news2_compute(v, have, &n);
	assert_int_equal(n.total, 3);
	assert_int_equal(n.max_single, 3);
	assert_int_equal(n.risk, CL_NEWS2_LOW_MEDIUM);
	assert_string_equal(cl_news2_risk_name(n.risk), "low-medium");
	/* 5: medium */
	v[CL_NEWS2_CONSC] = 0;
	v[CL_NEWS2_RESP] = 22;  /* 2 */
	v[CL_NEWS2_PULSE] = 115; /* 2 */
	v[CL_NEWS2_TEMP] = 38.5; /* 1 */
	cl_news2_compute(v, have, &n);
	assert_int_equal(n.total, 5);
	assert_int_equal(n.risk, CL_NEWS2_MEDIUM);
	/* 7: high */
	v[CL_NEWS2_O2] = 1;      /* 2 */
	cl_news2_compute(v, have, &n);
	assert_int_equal(n.total, 7);
	assert_int_equal(n.risk, CL_NEWS2_HIGH);
	/* missing parameters score nothing and are counted as missing */
	memset(have, 0, sizeof(have));
	have[CL_NEWS2_PULSE] = 1;
	cl_news2_compute(v, have, &n);
	assert_int_equal(n.total, 2);
	assert_int_equal(n.present, 1);
	assert_int_equal(n.scores[CL_NEWS2_RESP], -1);
}

static void test_param_mapping(void **state)
{
	(void)state;
	assert_int_equal(cl_news2_param_of(CL_VITAL_HEART_RATE), CL_NEWS2_PULSE);
	assert_int_equal(cl_news2_param_of(CL_VITAL_SPO2), CL_NEWS2_SPO2);
	assert_int_equal(cl_news2_param_of(CL_VITAL_DIASTOLIC_BP), -1);
	assert_int_equal(cl_news2_param_of(CL_VITAL_GLUCOSE), -1);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_band_edges),
		cmocka_unit_test(test_aggregate_and_risk),
		cmocka_unit_test(test_param_mapping),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
