/*
 * FHIR Observations as vital signs, against the official R4 examples and
 * Synthea's generated records (read from the shared data folder), plus
 * every rejection.
 *
 * Usage: test_fhir_obs /path/to/shared/data
 */
#include "cl_test.h"
#include "core/cl_error.h"
#include "core/cl_fs.h"
#include "core/cl_time.h"
#include "fhir/cl_fhir_obs.h"

static const char *data;
static struct cl_json_doc d;

#define NOW (1795305600ll * 1000000)

static int parse_file(const char *rel, struct cl_fhir_obs *o, const char **issue)
{
	char path[512], *text;
	size_t len;
	int rc;

	snprintf(path, sizeof(path), "%s/%s", data, rel);
	assert_int_equal(cl_fs_read_file(path, 1 << 24, &text, &len), CL_OK);
	/* keep the text alive with the doc: tokens point into it */
	static char *keep;
	free(keep);
	keep = text;
	assert_int_equal(cl_json_parse(&d, text, len), CL_OK);
	rc = cl_fhir_obs_parse(&d, 0, NOW, 300ll * 1000000, o, issue);
	return rc;
}

static int parse_text(const char *json, struct cl_fhir_obs *o, const char **issue)
{
	assert_int_equal(cl_json_parse(&d, json, strlen(json)), CL_OK);
	return cl_fhir_obs_parse(&d, 0, NOW, 300ll * 1000000, o, issue);
}

static void test_official_examples(void **state)
{
	struct cl_fhir_obs o;
	const char *issue;
	int64_t t;

	(void)state;
	assert_int_equal(parse_file("fhir-r4-examples/Observation-blood-pressure.json", &o, &issue), 0);
	assert_string_equal(o.id, "blood-pressure");
	assert_string_equal(o.patient_id, "example");
	assert_int_equal(o.nvalues, 2);
	assert_int_equal(o.values[0].vital, CL_VITAL_SYSTOLIC_BP);
	assert_true(o.values[0].value == 107);
	assert_int_equal(o.values[1].vital, CL_VITAL_DIASTOLIC_BP);
	assert_true(o.values[1].value == 60);
	assert_int_equal(cl_time_parse_rfc3339("2012-09-17T00:00:00Z", 20, &t), 0);
	assert_int_equal(o.ts_us, t);

	assert_int_equal(parse_file("fhir-r4-examples/Observation-heart-rate.json", &o, &issue), 0);
	assert_int_equal(o.nvalues, 1);
	assert_int_equal(o.values[0].vital, CL_VITAL_HEART_RATE);
	assert_true(o.values[0].value == 44);
	assert_int_equal(parse_file("fhir-r4-examples/Observation-body-temperature.json", &o, &issue), 0);
	assert_int_equal(o.values[0].vital, CL_VITAL_TEMPERATURE);
	assert_true(o.values[0].value == 36.5);
	assert_int_equal(parse_file("fhir-r4-examples/Observation-respiratory-rate.json", &o, &issue), 0);
	assert_int_equal(o.values[0].vital, CL_VITAL_RESPIRATORY_RATE);
	assert_true(o.values[0].value == 26);
	/* valid Observations with no vital value: BMI, and a panel of members */
	assert_int_equal(parse_file("fhir-r4-examples/Observation-bmi.json", &o, &issue), 0);
	assert_int_equal(o.nvalues, 0);
	assert_int_equal(parse_file("fhir-r4-examples/Observation-vitals-panel.json", &o, &issue), 0);
	assert_int_equal(o.nvalues, 0);
	/* not an Observation */
	assert_int_equal(parse_file("fhir-r4-examples/Patient-example.json", &o, &issue), CL_EINVAL);
	assert_non_null(strstr(cl_error_detail(), "got resourceType 'Patient'"));
}

static void test_synthea_bundle(void **state)
{
	char path[512], *text;
	size_t len;
	int entries, bp = 0, vitals = 0, observations = 0;
	uint32_t e;

	(void)state;
	snprintf(path, sizeof(path), "%s/synthea-fhir/Liz_Conn_27c911c6-f045-4ffa-af5d-6eba57ac94b2.json",
		 data);
	assert_int_equal(cl_fs_read_file(path, 1 << 24, &text, &len), CL_OK);
	assert_int_equal(cl_json_parse(&d, text, len), CL_OK);
	entries = cl_json_get(&d, 0, "entry");
	assert_true(entries > 0);
	e = (uint32_t)entries + 1;
	for (uint32_t k = 0; k < d.toks[entries].size; k++, e = d.toks[e].next) {
		int res = cl_json_get(&d, e, "resource");
		int rt = cl_json_get(&d, (uint32_t)res, "resourceType");
		struct cl_fhir_obs o;
		const char *issue;

		if (!cl_json_str_eq(&d, (uint32_t)rt, "Observation"))
			continue;
		observations++;
		if (cl_fhir_obs_parse(&d, (uint32_t)res, NOW, 0, &o, &issue) != CL_OK)
			fail_msg("Synthea Observation %u rejected: %s", k, cl_error_detail());
		/* urn:uuid subject references resolve to the uuid */
		assert_int_equal(strlen(o.patient_id), 36);
		vitals += o.nvalues;
		if (o.nvalues == 2 &&
		    ((o.values[0].vital == CL_VITAL_SYSTOLIC_BP &&
		      o.values[1].vital == CL_VITAL_DIASTOLIC_BP) ||
		     (o.values[0].vital == CL_VITAL_DIASTOLIC_BP &&
		      o.values[1].vital == CL_VITAL_SYSTOLIC_BP)))
			bp++;
	}
	assert_int_equal(observations, 36);
	assert_true(bp >= 1);     /* Synthea's 55284-4 panels carry both pressures */
	assert_true(vitals >= 2);
	free(text);
}

static void test_rejections(void **state)
{
	static const struct { const char *json; const char *msg; const char *code; } cases[] = {
		{ "{\"status\":\"final\"}", "resourceType is required", "required" },
		{ "{\"resourceType\":\"Observation\",\"code\":{}}", "status is required", "required" },
		{ "{\"resourceType\":\"Observation\",\"status\":\"done\"}", "not a FHIR status", "invalid" },
		{ "{\"resourceType\":\"Observation\",\"status\":\"final\"}", "Observation.code is required", "required" },
		{ "{\"resourceType\":\"Observation\",\"status\":\"final\",\"code\":{}}",
		  "Observation.subject is required", "required" },
		{ "{\"resourceType\":\"Observation\",\"status\":\"final\",\"code\":{},\"subject\":{\"reference\":\"Group/1\"}}",
		  "must reference a Patient", "invalid" },
		{ "{\"resourceType\":\"Observation\",\"status\":\"final\",\"code\":{},\"subject\":{\"reference\":\"Patient/p\"}}",
		  "effective[x] is required", "required" },
		{ "{\"resourceType\":\"Observation\",\"status\":\"final\",\"code\":{},\"subject\":{\"reference\":\"Patient/p\"},"
		  "\"effectiveDateTime\":\"yesterday\"}", "effective[x]", "invalid" },
		{ "{\"resourceType\":\"Observation\",\"status\":\"final\",\"code\":{\"coding\":[{\"system\":\"http://loinc.org\",\"code\":\"8867-4\"}]},"
		  "\"subject\":{\"reference\":\"Patient/p\"},\"effectiveDateTime\":\"2026-11-21\"}",
		  "valueQuantity is required for heart_rate", "required" },
		{ "{\"resourceType\":\"Observation\",\"status\":\"final\",\"code\":{\"coding\":[{\"system\":\"http://loinc.org\",\"code\":\"8867-4\"}]},"
		  "\"subject\":{\"reference\":\"Patient/p\"},\"effectiveDateTime\":\"2026-11-21\","
		  "\"valueQuantity\":{\"value\":5000,\"code\":\"/min\"}}", "outside the possible range", "value" },
		{ "{\"resourceType\":\"Observation\",\"id\":\"bad id!\",\"status\":\"final\"}", "Observation.id", "invalid" },
	};
	struct cl_fhir_obs o;
	const char *issue;

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		int rc = parse_text(cases[i].json, &o, &issue);

		if (rc == 0 || !strstr(cl_error_detail(), cases[i].msg) ||
		    strcmp(issue, cases[i].code) != 0)
			fail_msg("case %zu: rc %d, '%s' (%s), wanted '%s' (%s)", i, rc,
				 cl_error_detail(), issue, cases[i].msg, cases[i].code);
	}
	/* dataAbsentReason instead of a value is fine */
	assert_int_equal(parse_text("{\"resourceType\":\"Observation\",\"status\":\"final\","
				    "\"code\":{\"coding\":[{\"system\":\"http://loinc.org\",\"code\":\"8867-4\"}]},"
				    "\"subject\":{\"reference\":\"urn:uuid:abc\"},\"effectiveDateTime\":\"2026-11-21T10:00:00Z\","
				    "\"dataAbsentReason\":{\"text\":\"device off\"}}", &o, &issue), 0);
	assert_int_equal(o.nvalues, 0);
	assert_string_equal(o.patient_id, "abc");
}

int main(int argc, char **argv)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_official_examples),
		cmocka_unit_test(test_synthea_bundle),
		cmocka_unit_test(test_rejections),
	};
	int rc;

	if (argc < 2) {
		fprintf(stderr, "usage: test_fhir_obs /path/to/shared/data\n");
		return 2;
	}
	data = argv[1];
	cl_json_doc_init(&d);
	rc = cmocka_run_group_tests(tests, NULL, NULL);
	cl_json_doc_free(&d);
	return rc;
}
