/*
 * Signal quality checks (cl_quality.h) and rule persistence (cl_rule_step):
 * every check, and the edges — an episode exactly as long as the
 * persistence time, a value exactly at a sensor limit, a spike that
 * returns, a real change that stays, related signals that corroborate or
 * contradict, a flat line, device flags, a run shorter than persistence,
 * a suppressed repeat, a late reading.
 */
#include "cl_test.h"
#include "core/cl_error.h"
#include "stream/cl_quality.h"
#include "stream/cl_rules.h"

#include <string.h>

#define SEC 1000000ll

/* What the checks decided, in the order they decided it. */
struct verdicts {
	struct {
		enum cl_vital v;
		int64_t ts;
		double value;
		enum cl_quality_reason why;
	} r[256];
	int n;
};

static int record(void *arg, enum cl_vital v, int64_t ts, double value, enum cl_quality_reason why)
{
	struct verdicts *x = arg;

	assert_true(x->n < 256);
	x->r[x->n].v = v;
	x->r[x->n].ts = ts;
	x->r[x->n].value = value;
	x->r[x->n++].why = why;
	return 0;
}

static struct cl_quality_spec spec[CL_VITAL_COUNT];

static void add(struct cl_quality_patient *p, struct verdicts *x, enum cl_vital v, int64_t t_s,
		double value, int flag)
{
	assert_int_equal(cl_quality_add(spec, p, v, 1000 * SEC + t_s * SEC, value, flag, record, x),
			 0);
}

/* How many verdicts of vital v had reason why. */
static int count(const struct verdicts *x, enum cl_vital v, enum cl_quality_reason why)
{
	int n = 0;

	for (int i = 0; i < x->n; i++)
		n += x->r[i].v == v && x->r[i].why == why;
	return n;
}

static int setup(void **state)
{
	(void)state;
	cl_quality_defaults(spec);
	return 0;
}

/* Steady heart rate and pulse for 20 s. */
static void steady(struct cl_quality_patient *p, struct verdicts *x, int ecg_and_pulse)
{
	for (int t = 0; t < 20; t++) {
		add(p, x, CL_VITAL_HEART_RATE, t, 75 + t % 2, 0);
		if (ecg_and_pulse)
			add(p, x, CL_VITAL_PULSE_RATE, t, 75 + t % 3, 0);
	}
}

static void test_clean_readings_pass_at_once(void **state)
{
	struct cl_quality_patient p = { 0 };
	struct verdicts x = { .n = 0 };

	(void)state;
	steady(&p, &x, 1);
	assert_int_equal(x.n, 40);
	assert_int_equal(count(&x, CL_VITAL_HEART_RATE, CL_QR_NONE), 20);
	cl_quality_patient_free(&p);
}

/* A motion spike on the ECG that returns at once: an artifact, without
 * the pulse oximeter to compare with. */
static void test_spike_that_returns(void **state)
{
	struct cl_quality_patient p = { 0 };
	struct verdicts x = { .n = 0 };

	(void)state;
	steady(&p, &x, 0);
	for (int t = 20; t < 25; t++)
		add(&p, &x, CL_VITAL_HEART_RATE, t, 220, 0);
	assert_int_equal(x.n, 20); /* held, not yet decided */
	add(&p, &x, CL_VITAL_HEART_RATE, 25, 76, 0);
	assert_int_equal(count(&x, CL_VITAL_HEART_RATE, CL_QR_JUMP), 5);
	assert_int_equal(count(&x, CL_VITAL_HEART_RATE, CL_QR_NONE), 21);
	cl_quality_patient_free(&p);
}

/* A true bradycardia stays low: accepted after the settle time, its
 * readings released in order with their own times. */
static void test_real_change_settles(void **state)
{
	struct cl_quality_patient p = { 0 };
	struct verdicts x = { .n = 0 };

	(void)state;
	steady(&p, &x, 0);
	for (int t = 20; t < 29; t++)
		add(&p, &x, CL_VITAL_HEART_RATE, t, 34, 0);
	assert_int_equal(x.n, 20); /* 9 s < settle 10 s */
	add(&p, &x, CL_VITAL_HEART_RATE, 30, 35, 0); /* 10 s after the jump: exactly settled */
	assert_int_equal(x.n, 30);
	assert_int_equal(count(&x, CL_VITAL_HEART_RATE, CL_QR_NONE), 30);
	assert_true(x.r[20].ts == 1020 * SEC && x.r[20].value == 34);
	/* and the new level is the reference: no further holds */
	add(&p, &x, CL_VITAL_HEART_RATE, 31, 35, 0);
	assert_int_equal(x.n, 31);
	cl_quality_patient_free(&p);
}

/* Time passing settles a held run even when the device stops sending. */
static void test_tick_settles(void **state)
{
	struct cl_quality_patient p = { 0 };
	struct verdicts x = { .n = 0 };

	(void)state;
	steady(&p, &x, 0);
	add(&p, &x, CL_VITAL_HEART_RATE, 20, 150, 0);
	assert_int_equal(cl_quality_tick(spec, &p, 1029 * SEC, record, &x), 0);
	assert_int_equal(x.n, 20);
	assert_int_equal(cl_quality_tick(spec, &p, 1030 * SEC, record, &x), 0);
	assert_int_equal(x.n, 21);
	assert_int_equal(x.r[20].why, CL_QR_NONE);
	cl_quality_patient_free(&p);
}

/* ECG and oximeter pulse move together: corroborated at once, both. */
static void test_pulse_corroborates(void **state)
{
	struct cl_quality_patient p = { 0 };
	struct verdicts x = { .n = 0 };

	(void)state;
	steady(&p, &x, 1);
	add(&p, &x, CL_VITAL_HEART_RATE, 20, 145, 0);
	assert_int_equal(x.n, 40);
	add(&p, &x, CL_VITAL_PULSE_RATE, 20, 143, 0);
	assert_int_equal(x.n, 42);
	assert_int_equal(count(&x, CL_VITAL_HEART_RATE, CL_QR_NONE), 21);
	assert_int_equal(count(&x, CL_VITAL_PULSE_RATE, CL_QR_NONE), 21);
	cl_quality_patient_free(&p);
}

/* The ECG jumps and the pulse stays: the ECG is the artifact. */
static void test_pulse_contradicts(void **state)
{
	struct cl_quality_patient p = { 0 };
	struct verdicts x = { .n = 0 };

	(void)state;
	steady(&p, &x, 1);
	add(&p, &x, CL_VITAL_HEART_RATE, 20, 220, 0);
	add(&p, &x, CL_VITAL_PULSE_RATE, 20, 76, 0);
	assert_int_equal(count(&x, CL_VITAL_HEART_RATE, CL_QR_PULSE_DISAGREES), 1);
	assert_int_equal(count(&x, CL_VITAL_PULSE_RATE, CL_QR_NONE), 21);
	cl_quality_patient_free(&p);
}

/* A probe coming off: the oximeter's pulse is wrong against the ECG, so
 * its SpO2 is an artifact too, and the probe-off condition begins. */
static void test_probe_off(void **state)
{
	struct cl_quality_patient p = { 0 };
	struct verdicts x = { .n = 0 };

	(void)state;
	for (int t = 0; t < 20; t++) {
		add(&p, &x, CL_VITAL_HEART_RATE, t, 80, 0);
		add(&p, &x, CL_VITAL_PULSE_RATE, t, 80, 0);
		add(&p, &x, CL_VITAL_SPO2, t, 97, 0);
	}
	add(&p, &x, CL_VITAL_HEART_RATE, 20, 81, 0);
	add(&p, &x, CL_VITAL_SPO2, 20, 55, 0);
	add(&p, &x, CL_VITAL_PULSE_RATE, 20, 22, 0);
	assert_int_equal(count(&x, CL_VITAL_PULSE_RATE, CL_QR_ECG_DISAGREES), 1);
	assert_int_equal(count(&x, CL_VITAL_SPO2, CL_QR_OXIMETER), 1);
	assert_true(p.since[CL_QC_PROBE_OFF] == 1020 * SEC);
	/* back on: the condition ends */
	add(&p, &x, CL_VITAL_PULSE_RATE, 21, 80, 0);
	add(&p, &x, CL_VITAL_SPO2, 21, 97, 0);
	assert_true(p.since[CL_QC_PROBE_OFF] == 0);
	cl_quality_patient_free(&p);
}

/* A real desaturation, the oximeter's pulse fine: held for the settle
 * time, then accepted. */
static void test_desaturation_settles(void **state)
{
	struct cl_quality_patient p = { 0 };
	struct verdicts x = { .n = 0 };

	(void)state;
	for (int t = 0; t < 20; t++) {
		add(&p, &x, CL_VITAL_HEART_RATE, t, 80, 0);
		add(&p, &x, CL_VITAL_PULSE_RATE, t, 80, 0);
		add(&p, &x, CL_VITAL_SPO2, t, 97, 0);
	}
	for (int t = 20; t <= 35; t++) {
		add(&p, &x, CL_VITAL_HEART_RATE, t, 80, 0);
		add(&p, &x, CL_VITAL_PULSE_RATE, t, 81, 0);
		add(&p, &x, CL_VITAL_SPO2, t, 86, 0);
	}
	assert_int_equal(count(&x, CL_VITAL_SPO2, CL_QR_NONE), 36);
	assert_int_equal(count(&x, CL_VITAL_SPO2, CL_QR_OXIMETER), 0);
	cl_quality_patient_free(&p);
}

/* A cuff outlier: systolic jumps, diastolic does not. A crisis: both. */
static void test_cuff(void **state)
{
	struct cl_quality_patient p = { 0 };
	struct verdicts x = { .n = 0 };

	(void)state;
	for (int t = 0; t < 10; t++) {
		add(&p, &x, CL_VITAL_SYSTOLIC_BP, t, 120, 0);
		add(&p, &x, CL_VITAL_DIASTOLIC_BP, t, 80, 0);
	}
	add(&p, &x, CL_VITAL_SYSTOLIC_BP, 10, 190, 0);
	add(&p, &x, CL_VITAL_DIASTOLIC_BP, 10, 81, 0);
	assert_int_equal(count(&x, CL_VITAL_SYSTOLIC_BP, CL_QR_PRESSURE), 1);
	add(&p, &x, CL_VITAL_SYSTOLIC_BP, 11, 196, 0);
	add(&p, &x, CL_VITAL_DIASTOLIC_BP, 11, 126, 0);
	assert_int_equal(count(&x, CL_VITAL_SYSTOLIC_BP, CL_QR_NONE), 11);
	assert_int_equal(count(&x, CL_VITAL_DIASTOLIC_BP, CL_QR_NONE), 12);
	cl_quality_patient_free(&p);
}

/* Exactly at a sensor's limit is suspect; just inside is not. */
static void test_limit_edges(void **state)
{
	struct cl_quality_patient p = { 0 }, q = { 0 };
	struct verdicts x = { .n = 0 }, y = { .n = 0 };

	(void)state;
	add(&p, &x, CL_VITAL_SPO2, 0, 50, 0);   /* lo is 50: at the limit */
	assert_int_equal(x.n, 0);
	add(&p, &x, CL_VITAL_SPO2, 1, 97, 0);   /* and it does not hold */
	assert_int_equal(count(&x, CL_VITAL_SPO2, CL_QR_LIMIT), 1);
	add(&q, &y, CL_VITAL_SPO2, 0, 51, 0);
	assert_int_equal(count(&y, CL_VITAL_SPO2, CL_QR_NONE), 1);
	cl_quality_patient_free(&p);
	cl_quality_patient_free(&q);
}

/* The allowed change grows with the time since the reference: after a
 * dropout a new level is no jump. */
static void test_jump_grows_with_gap(void **state)
{
	struct cl_quality_patient p = { 0 };
	struct verdicts x = { .n = 0 };

	(void)state;
	add(&p, &x, CL_VITAL_HEART_RATE, 0, 80, 0);
	add(&p, &x, CL_VITAL_HEART_RATE, 1, 110, 0);   /* exactly 30 in 1 s: allowed */
	assert_int_equal(count(&x, CL_VITAL_HEART_RATE, CL_QR_NONE), 2);
	add(&p, &x, CL_VITAL_HEART_RATE, 2, 141, 0);   /* 31 in 1 s: held */
	assert_int_equal(x.n, 2);
	add(&p, &x, CL_VITAL_HEART_RATE, 3, 112, 0);
	add(&p, &x, CL_VITAL_HEART_RATE, 60, 150, 0);  /* 38 over 57 s */
	assert_int_equal(count(&x, CL_VITAL_HEART_RATE, CL_QR_NONE), 4);
	cl_quality_patient_free(&p);
}

/* The same value for the flat-line time: a lead off. */
static void test_flat_line(void **state)
{
	struct cl_quality_patient p = { 0 };
	struct verdicts x = { .n = 0 };

	(void)state;
	for (int t = 0; t < 20; t++)
		add(&p, &x, CL_VITAL_HEART_RATE, t, 78, 0);
	assert_int_equal(count(&x, CL_VITAL_HEART_RATE, CL_QR_FLAT), 0);   /* 19 s */
	add(&p, &x, CL_VITAL_HEART_RATE, 20, 78, 0);                       /* 20 s */
	assert_int_equal(count(&x, CL_VITAL_HEART_RATE, CL_QR_FLAT), 1);
	assert_true(p.since[CL_QC_LEAD_OFF] == 1020 * SEC);
	add(&p, &x, CL_VITAL_HEART_RATE, 21, 77, 0);
	assert_true(p.since[CL_QC_LEAD_OFF] == 0);
	cl_quality_patient_free(&p);
}

/* What the device says: flagged readings are artifacts, whatever their
 * value, and say which condition. */
static void test_device_flags(void **state)
{
	struct cl_quality_patient p = { 0 };
	struct verdicts x = { .n = 0 };

	(void)state;
	add(&p, &x, CL_VITAL_SPO2, 0, 97, CL_EQ_GOOD);
	add(&p, &x, CL_VITAL_SPO2, 1, 96, CL_EQ_ARTIFACT);
	add(&p, &x, CL_VITAL_SPO2, 2, 40, CL_EQ_PROBE_OFF);
	add(&p, &x, CL_VITAL_HEART_RATE, 2, 0, CL_EQ_LEAD_OFF);
	assert_int_equal(count(&x, CL_VITAL_SPO2, CL_QR_NONE), 1);
	assert_int_equal(count(&x, CL_VITAL_SPO2, CL_QR_DEVICE_FLAG), 2);
	assert_true(p.since[CL_QC_PROBE_OFF] == 1002 * SEC);
	assert_true(p.since[CL_QC_LEAD_OFF] == 1002 * SEC);
	cl_quality_patient_free(&p);
}

/* A disabled vital passes everything. */
static void test_disabled(void **state)
{
	struct cl_quality_spec off[CL_VITAL_COUNT];
	struct cl_quality_patient p = { 0 };
	struct verdicts x = { .n = 0 };

	(void)state;
	cl_quality_defaults(off);
	off[CL_VITAL_HEART_RATE].enabled = 0;
	assert_int_equal(cl_quality_add(off, &p, CL_VITAL_HEART_RATE, SEC, 80, 0, record, &x), 0);
	assert_int_equal(cl_quality_add(off, &p, CL_VITAL_HEART_RATE, 2 * SEC, 250, CL_EQ_ARTIFACT,
					record, &x), 0);
	assert_int_equal(count(&x, CL_VITAL_HEART_RATE, CL_QR_NONE), 2);
}

/* A rule on SpO2 < 90 for 15 s over at least 2 readings. */
static struct cl_rule spo2_rule(void)
{
	struct cl_rule r[CL_RULES_MAX];
	int n = cl_rules_default(r, CL_RULES_MAX);

	for (int i = 0; i < n; i++)
		if (strcmp(r[i].name, "spo2_low") == 0)
			return r[i];
	fail_msg("no spo2_low rule");
	return r[0];
}

static void test_persistence_exact(void **state)
{
	struct cl_rule r = spo2_rule();
	struct cl_rule_state st = { 0 };

	(void)state;
	assert_true(r.persist_us == 15 * SEC && r.persist_readings == 2);
	/* 14 s below 90: nothing yet; at exactly 15 s: raised, from the start */
	for (int t = 0; t < 15; t++)
		assert_int_equal(cl_rule_step(&r, &st, 88, 100 * SEC + t * SEC), CL_RULE_NONE);
	assert_int_equal(cl_rule_step(&r, &st, 87, 115 * SEC), CL_RULE_RAISE);
	assert_true(st.since == 100 * SEC && st.worst == 87 && st.readings == 16);
	st.alert = 1;
	/* between the thresholds: still open; 92: clears */
	assert_int_equal(cl_rule_step(&r, &st, 91, 116 * SEC), CL_RULE_NONE);
	assert_int_equal(cl_rule_step(&r, &st, 92, 117 * SEC), CL_RULE_CLEAR);
}

static void test_persistence_short_and_readings(void **state)
{
	struct cl_rule r = spo2_rule();
	struct cl_rule_state st = { 0 };

	(void)state;
	/* 10 s below, then back: not persistent, with the run's figures */
	for (int t = 0; t <= 10; t++)
		assert_int_equal(cl_rule_step(&r, &st, 89 - t % 2, 100 * SEC + t * SEC), CL_RULE_NONE);
	{
		struct cl_rule_state before = st;

		assert_int_equal(cl_rule_step(&r, &st, 95, 111 * SEC), CL_RULE_NOT_PERSISTENT);
		assert_true(before.since == 100 * SEC && before.last == 110 * SEC);
		assert_int_equal(before.readings, 11);
		assert_true(before.worst == 88);
	}
	/* two readings 20 s apart hold the time but need readings = 3 */
	memset(&st, 0, sizeof(st));
	r.persist_readings = 3;
	assert_int_equal(cl_rule_step(&r, &st, 85, 200 * SEC), CL_RULE_NONE);
	assert_int_equal(cl_rule_step(&r, &st, 85, 220 * SEC), CL_RULE_NONE);
	assert_int_equal(cl_rule_step(&r, &st, 85, 221 * SEC), CL_RULE_RAISE);
	/* a late reading from before the run cannot end it */
	memset(&st, 0, sizeof(st));
	assert_int_equal(cl_rule_step(&r, &st, 85, 300 * SEC), CL_RULE_NONE);
	assert_int_equal(cl_rule_step(&r, &st, 97, 299 * SEC), CL_RULE_NONE);
	assert_true(st.since == 300 * SEC);
}

static void test_suppressed_then_raised(void **state)
{
	struct cl_rule r = spo2_rule();   /* suppress 60 s */
	struct cl_rule_state st = { .closed_at = 100 * SEC };

	(void)state;
	for (int t = 0; t < 15; t++)
		cl_rule_step(&r, &st, 85, 110 * SEC + t * SEC);
	assert_int_equal(cl_rule_step(&r, &st, 85, 125 * SEC), CL_RULE_SUPPRESSED);
	assert_int_equal(cl_rule_step(&r, &st, 85, 126 * SEC), CL_RULE_NONE);   /* once a run */
	/* still low once the suppression time has passed: raised, from the
	 * start of the run */
	assert_int_equal(cl_rule_step(&r, &st, 85, 220 * SEC), CL_RULE_RAISE);
	assert_true(st.since == 110 * SEC);
}

/* Rules declared as data: persistence, trends, technical conditions. */
static void test_rule_settings(void **state)
{
	struct cl_rule r[CL_RULES_MAX];
	int n = cl_rules_default(r, CL_RULES_MAX);
	char what[80];

	(void)state;
	assert_int_equal(cl_rules_set(r, &n, CL_RULES_MAX, "alerts.spo2_low.persist", "30s"), 0);
	assert_int_equal(cl_rules_set(r, &n, CL_RULES_MAX, "alerts.spo2_low.readings", "5"), 0);
	assert_int_equal(cl_rules_set(r, &n, CL_RULES_MAX, "alerts.rr.what",
				      "trend:respiratory_rate+6,heart_rate+20"), 0);
	assert_int_equal(cl_rules_set(r, &n, CL_RULES_MAX, "alerts.rr.raise", ">= 2"), 0);
	assert_int_equal(cl_rules_set(r, &n, CL_RULES_MAX, "alerts.rr.window", "15m"), 0);
	assert_int_equal(cl_rules_set(r, &n, CL_RULES_MAX, "alerts.probe.what", "quality:probe_off"),
			 0);
	assert_int_equal(cl_rules_set(r, &n, CL_RULES_MAX, "alerts.probe.raise", "> 5"), 0);
	assert_int_equal(cl_rules_check(r, n), 0);
	cl_rule_what_text(&r[n - 2], what, sizeof(what));
	assert_string_equal(what, "trend:respiratory_rate+6,heart_rate+20");
	assert_true(r[n - 2].window_us == 900 * SEC && r[n - 2].ntrend == 2);
	assert_true(r[n - 1].technical && r[n - 1].condition == CL_QC_PROBE_OFF);
	for (int i = 0; i < n; i++)
		if (strcmp(r[i].name, "spo2_low") == 0)
			assert_true(r[i].persist_us == 30 * SEC && r[i].persist_readings == 5);
	/* refused, each with its reason */
	assert_int_equal(cl_rules_set(r, &n, CL_RULES_MAX, "alerts.x.what", "trend:spo2"),
			 CL_EINVAL);
	assert_non_null(strstr(cl_error_detail(), "trend:<vital>+|-<change>"));
	assert_int_equal(cl_rules_set(r, &n, CL_RULES_MAX, "alerts.x.what", "quality:loose"),
			 CL_EINVAL);
	assert_int_equal(cl_rules_set(r, &n, CL_RULES_MAX, "alerts.spo2_low.readings", "0"),
			 CL_EINVAL);
	assert_int_equal(cl_rules_set(r, &n, CL_RULES_MAX, "alerts.spo2_low.category", "urgent"),
			 CL_EINVAL);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup(test_clean_readings_pass_at_once, setup),
		cmocka_unit_test_setup(test_spike_that_returns, setup),
		cmocka_unit_test_setup(test_real_change_settles, setup),
		cmocka_unit_test_setup(test_tick_settles, setup),
		cmocka_unit_test_setup(test_pulse_corroborates, setup),
		cmocka_unit_test_setup(test_pulse_contradicts, setup),
		cmocka_unit_test_setup(test_probe_off, setup),
		cmocka_unit_test_setup(test_desaturation_settles, setup),
		cmocka_unit_test_setup(test_cuff, setup),
		cmocka_unit_test_setup(test_limit_edges, setup),
		cmocka_unit_test_setup(test_jump_grows_with_gap, setup),
		cmocka_unit_test_setup(test_flat_line, setup),
		cmocka_unit_test_setup(test_device_flags, setup),
		cmocka_unit_test_setup(test_disabled, setup),
		cmocka_unit_test(test_persistence_exact),
		cmocka_unit_test(test_persistence_short_and_readings),
		cmocka_unit_test(test_suppressed_then_raised),
		cmocka_unit_test(test_rule_settings),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
