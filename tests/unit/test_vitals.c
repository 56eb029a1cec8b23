/* Device events: RFC 3339 times, units, ranges, and every rejection. */
#include "cl_test.h"
#include "core/cl_error.h"
#include "core/cl_time.h"
#include "ingest/cl_event.h"

#define NOW (1795305600ll * 1000000) /* 2026-11-22T00:00:00Z */

static struct cl_json_doc d;

static int parse_event(const char *json, struct cl_event *ev)
{
	struct cl_event_limits lim;

	cl_event_limits_default(&lim);
	assert_int_equal(cl_json_parse(&d, json, strlen(json)), CL_OK);
	return cl_event_parse(&d, 0, NOW, &lim, ev);
}

static void test_rfc3339(void **state)
{
	int64_t us;

	(void)state;
	assert_int_equal(cl_time_parse_rfc3339("2026-11-22T00:00:00Z", 20, &us), CL_OK);
	assert_int_equal(us, NOW);
	assert_int_equal(cl_time_parse_rfc3339("2026-11-22T01:30:00.25+01:30", 28, &us), CL_OK);
	assert_int_equal(us, NOW + 250000);
	assert_int_equal(cl_time_parse_rfc3339("2026-11-21t19:00:00.123456789-05:00", 35, &us), CL_OK);
	assert_int_equal(us, NOW + 123456);
	assert_int_equal(cl_time_parse_rfc3339("1970-01-01T00:00:00z", 20, &us), CL_OK);
	assert_int_equal(us, 0);
	assert_int_equal(cl_time_parse_rfc3339("2024-02-29T12:00:00Z", 20, &us), CL_OK);
	{
		char buf[40];

		cl_time_format_rfc3339(us, buf, sizeof(buf), 3);
		assert_string_equal(buf, "2024-02-29T12:00:00.000Z");
	}
	assert_int_equal(cl_time_parse_rfc3339("2025-02-29T12:00:00Z", 20, &us), CL_EINVAL);
	assert_int_equal(cl_time_parse_rfc3339("2026-13-01T00:00:00Z", 20, &us), CL_EINVAL);
	assert_int_equal(cl_time_parse_rfc3339("2026-11-22T24:00:00Z", 20, &us), CL_EINVAL);
	assert_int_equal(cl_time_parse_rfc3339("2026-11-22T00:00:00", 19, &us), CL_EINVAL);
	assert_int_equal(cl_time_parse_rfc3339("2026-11-22 00:00:00Z", 20, &us), CL_EINVAL);
	assert_int_equal(cl_time_parse_rfc3339("2026-11-22T00:00:00.Z", 21, &us), CL_EINVAL);
	assert_int_equal(cl_time_parse_rfc3339("2026-11-22T00:00:00Zjunk", 24, &us), CL_EINVAL);
	assert_int_equal(cl_time_parse_rfc3339("2026-11-22T00:00:00+25:00", 25, &us), CL_EINVAL);
	assert_int_equal(cl_time_parse_rfc3339("yesterday", 9, &us), CL_EINVAL);
}

static void test_good_events_and_units(void **state)
{
	struct cl_event ev;

	(void)state;
	assert_int_equal(parse_event("{\"id\":\"e1\",\"device_id\":\"m1\",\"patient_id\":\"p1\","
				     "\"ts\":\"2026-11-21T23:59:00Z\",\"type\":\"heart_rate\","
				     "\"value\":72,\"unit\":\"/min\"}", &ev), CL_OK);
	assert_string_equal(ev.id, "e1");
	assert_string_equal(ev.device_id, "m1");
	assert_string_equal(ev.patient_id, "p1");
	assert_int_equal(ev.vital, CL_VITAL_HEART_RATE);
	assert_true(ev.value == 72);
	assert_int_equal(ev.ts_us, NOW - 60000000);
	/* by LOINC code, no id */
	assert_int_equal(parse_event("{\"device_id\":\"m1\",\"patient_id\":\"p1\",\"ts\":\"2026-11-21T23:59:00Z\","
				     "\"code\":\"2708-6\",\"value\":0.95,\"unit\":\"1\"}", &ev), CL_OK);
	assert_int_equal(ev.vital, CL_VITAL_SPO2);
	assert_true(fabs(ev.value - 95.0) < 1e-9); /* fraction to % */
	assert_string_equal(ev.id, "");
	/* Fahrenheit to Celsius, kPa to mmHg, mmol/L to mg/dL */
	assert_int_equal(parse_event("{\"device_id\":\"m\",\"patient_id\":\"p\",\"ts\":\"2026-11-21T23:59:00Z\","
				     "\"type\":\"temperature\",\"value\":98.6,\"unit\":\"[degF]\"}", &ev), CL_OK);
	assert_true(fabs(ev.value - 37.0) < 1e-9);
	assert_int_equal(parse_event("{\"device_id\":\"m\",\"patient_id\":\"p\",\"ts\":\"2026-11-21T23:59:00Z\","
				     "\"code\":\"8480-6\",\"value\":16,\"unit\":\"kPa\"}", &ev), CL_OK);
	assert_true(fabs(ev.value - 120.01) < 0.01);
	assert_int_equal(parse_event("{\"device_id\":\"m\",\"patient_id\":\"p\",\"ts\":\"2026-11-21T23:59:00Z\","
				     "\"type\":\"glucose\",\"value\":5.5,\"unit\":\"mmol/L\"}", &ev), CL_OK);
	assert_true(fabs(ev.value - 99.09) < 0.01);
	/* flags need no unit */
	assert_int_equal(parse_event("{\"device_id\":\"m\",\"patient_id\":\"p\",\"ts\":\"2026-11-21T23:59:00Z\","
				     "\"type\":\"supplemental_o2\",\"value\":1}", &ev), CL_OK);
	assert_int_equal(ev.vital, CL_VITAL_SUPPLEMENTAL_O2);
}

static void test_rejections(void **state)
{
	static const struct { const char *json; const char *msg; } cases[] = {
		{ "[1]", "must be a JSON object" },
		{ "{\"patient_id\":\"p\",\"ts\":\"2026-11-21T23:59:00Z\",\"type\":\"heart_rate\",\"value\":1,\"unit\":\"/min\"}",
		  "missing field 'device_id'" },
		{ "{\"device_id\":\"m\",\"ts\":\"2026-11-21T23:59:00Z\",\"type\":\"heart_rate\",\"value\":1,\"unit\":\"/min\"}",
		  "missing field 'patient_id'" },
		{ "{\"device_id\":\"m\",\"patient_id\":\"\",\"ts\":\"2026-11-21T23:59:00Z\",\"type\":\"heart_rate\",\"value\":1,\"unit\":\"/min\"}",
		  "field 'patient_id' is empty" },
		{ "{\"device_id\":7,\"patient_id\":\"p\",\"ts\":\"2026-11-21T23:59:00Z\",\"type\":\"heart_rate\",\"value\":1,\"unit\":\"/min\"}",
		  "field 'device_id' must be a string, not a number" },
		{ "{\"device_id\":\"m\",\"patient_id\":\"p\",\"ts\":\"2026-11-21T23:59:00Z\",\"value\":1,\"unit\":\"/min\"}",
		  "missing field 'type'" },
		{ "{\"device_id\":\"m\",\"patient_id\":\"p\",\"ts\":\"2026-11-21T23:59:00Z\",\"type\":\"mood\",\"value\":1}",
		  "unknown vital type 'mood'" },
		{ "{\"device_id\":\"m\",\"patient_id\":\"p\",\"ts\":\"2026-11-21T23:59:00Z\",\"code\":\"1234-5\",\"value\":1}",
		  "unknown vital LOINC code '1234-5'" },
		{ "{\"device_id\":\"m\",\"patient_id\":\"p\",\"ts\":\"2026-11-21T23:59:00Z\",\"type\":\"spo2\",\"code\":\"8867-4\",\"value\":1}",
		  "disagree" },
		{ "{\"device_id\":\"m\",\"patient_id\":\"p\",\"ts\":\"2026-11-21T23:59:00Z\",\"type\":\"heart_rate\",\"unit\":\"/min\"}",
		  "missing field 'value'" },
		{ "{\"device_id\":\"m\",\"patient_id\":\"p\",\"ts\":\"2026-11-21T23:59:00Z\",\"type\":\"heart_rate\",\"value\":\"72\",\"unit\":\"/min\"}",
		  "field 'value' must be a number, not a string" },
		{ "{\"device_id\":\"m\",\"patient_id\":\"p\",\"ts\":\"2026-11-21T23:59:00Z\",\"type\":\"heart_rate\",\"value\":5000,\"unit\":\"/min\"}",
		  "heart rate 5000 /min is outside the possible range 0..350" },
		{ "{\"device_id\":\"m\",\"patient_id\":\"p\",\"ts\":\"2026-11-21T23:59:00Z\",\"type\":\"heart_rate\",\"value\":72}",
		  "missing field 'unit'" },
		{ "{\"device_id\":\"m\",\"patient_id\":\"p\",\"ts\":\"2026-11-21T23:59:00Z\",\"type\":\"temperature\",\"value\":37,\"unit\":\"furlongs\"}",
		  "unit 'furlongs' is not one for body temperature" },
		{ "{\"device_id\":\"m\",\"patient_id\":\"p\",\"ts\":\"2026-11-21T23:59:00Z\",\"type\":\"consciousness\",\"value\":2}",
		  "must be 0 or 1" },
		{ "{\"device_id\":\"m\",\"patient_id\":\"p\",\"type\":\"heart_rate\",\"value\":72,\"unit\":\"/min\"}",
		  "missing field 'ts'" },
		{ "{\"device_id\":\"m\",\"patient_id\":\"p\",\"ts\":\"22/11/2026\",\"type\":\"heart_rate\",\"value\":72,\"unit\":\"/min\"}",
		  "field 'ts': timestamp is not RFC 3339" },
		{ "{\"device_id\":\"m\",\"patient_id\":\"p\",\"ts\":\"2026-11-22T01:00:00Z\",\"type\":\"heart_rate\",\"value\":72,\"unit\":\"/min\"}",
		  "field 'ts' is 3600 s in the future" },
		{ "{\"device_id\":\"m\",\"patient_id\":\"p\",\"ts\":\"1990-01-01T00:00:00Z\",\"type\":\"heart_rate\",\"value\":72,\"unit\":\"/min\"}",
		  "implausibly old" },
	};
	struct cl_event ev;

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		int rc = parse_event(cases[i].json, &ev);

		if (rc == CL_OK || !strstr(cl_error_detail(), cases[i].msg))
			fail_msg("case %zu: rc %d, detail '%s', wanted '%s'", i, rc,
				 cl_error_detail(), cases[i].msg);
	}
}

static void test_names(void **state)
{
	(void)state;
	for (int v = 0; v < CL_VITAL_COUNT; v++) {
		const char *n = cl_vital_name((enum cl_vital)v);

		assert_int_equal(cl_vital_by_name(n, strlen(n)), v);
	}
	assert_int_equal(cl_vital_by_loinc("59408-5", 7), CL_VITAL_SPO2);
	assert_int_equal(cl_vital_by_loinc("8462-4", 6), CL_VITAL_DIASTOLIC_BP);
	assert_string_equal(cl_vital_loinc(CL_VITAL_RESPIRATORY_RATE), "9279-1");
	assert_string_equal(cl_vital_unit(CL_VITAL_TEMPERATURE), "Cel");
}

static int setup(void **state)
{
	(void)state;
	cl_json_doc_init(&d);
	return 0;
}

static int teardown(void **state)
{
	(void)state;
	cl_json_doc_free(&d);
	return 0;
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_rfc3339),
		cmocka_unit_test(test_good_events_and_units),
		cmocka_unit_test(test_rejections),
		cmocka_unit_test(test_names),
	};
	return cmocka_run_group_tests(tests, setup, teardown);
}
