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
		  "\"effectiveDateTime\":\"yesterday\"}", "Observation.effectiveDateTime is not a FHIR dateTime", "invalid" },
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

/* The members of a valid heart-rate Observation, in order. */
static const char *const base[][2] = {
	{ "resourceType", "\"Observation\"" },
	{ "id", "\"t1\"" },
	{ "status", "\"final\"" },
	{ "category", "[{\"coding\":[{\"system\":\"http://terminology.hl7.org/CodeSystem/observation-category\","
		      "\"code\":\"vital-signs\"}]}]" },
	{ "code", "{\"coding\":[{\"system\":\"http://loinc.org\",\"code\":\"8867-4\",\"display\":\"Heart rate\","
		  "\"userSelected\":false}],\"text\":\"HR\"}" },
	{ "subject", "{\"reference\":\"Patient/p1\",\"display\":\"P\",\"identifier\":{\"system\":\"urn:x\","
		     "\"value\":\"1\",\"period\":{\"start\":\"2020\"}}}" },
	{ "encounter", "{\"reference\":\"Encounter/e1\"}" },
	{ "effectiveDateTime", "\"2026-11-21T10:00:00Z\"" },
	{ "issued", "\"2026-11-21T10:00:05.250+01:00\"" },
	{ "device", "{\"reference\":\"Device/d1\"}" },
	{ "valueQuantity", "{\"value\":72,\"unit\":\"/min\",\"system\":\"http://unitsofmeasure.org\","
			   "\"code\":\"/min\"}" },
};

/* The base Observation with member `field` given `value` (added if it is
 * not there; left out if value is NULL), and `drop` left out. */
static const char *obs_with(const char *drop, const char *field, const char *value)
{
	static char buf[4096];
	size_t n = 0;
	int found = 0;

	n += (size_t)snprintf(buf + n, sizeof(buf) - n, "{");
	for (size_t i = 0; i < sizeof(base) / sizeof(base[0]); i++) {
		const char *v = base[i][1];

		if (drop && strcmp(base[i][0], drop) == 0)
			continue;
		if (field && strcmp(base[i][0], field) == 0) {
			found = 1;
			if (!value)
				continue;
			v = value;
		}
		n += (size_t)snprintf(buf + n, sizeof(buf) - n, "%s\"%s\":%s", n > 1 ? "," : "",
				      base[i][0], v);
	}
	if (field && value && !found)
		n += (size_t)snprintf(buf + n, sizeof(buf) - n, ",\"%s\":%s", field, value);
	snprintf(buf + n, sizeof(buf) - n, "}");
	return buf;
}

/* Every typed element the live path reads, given a value of the wrong
 * JSON type or form: refused, naming the element. */
static void test_typed_fields(void **state)
{
	static const struct {
		const char *drop, *field, *value, *msg, *code;
	} cases[] = {
		/* Quantity */
		{ NULL, "valueQuantity", "{\"value\":\"fast\",\"unit\":\"/min\"}",
		  "Observation.valueQuantity.value must be a number, not a string", "structure" },
		{ NULL, "valueQuantity", "{\"value\":[72],\"unit\":\"/min\"}",
		  "Observation.valueQuantity.value must be a number, not an array", "structure" },
		{ NULL, "valueQuantity", "{\"value\":null,\"unit\":\"/min\"}",
		  "Observation.valueQuantity.value must be a number, not null", "structure" },
		{ NULL, "valueQuantity", "72",
		  "Observation.valueQuantity must be an object (a Quantity), not a number", "structure" },
		{ NULL, "valueQuantity", "{\"value\":72,\"unit\":5}",
		  "Observation.valueQuantity.unit must be a string, not a number", "structure" },
		{ NULL, "valueQuantity", "{\"value\":72,\"code\":{}}",
		  "Observation.valueQuantity.code must be a string, not an object", "structure" },
		{ NULL, "valueQuantity", "{\"value\":72,\"comparator\":true}",
		  "Observation.valueQuantity.comparator must be a string, not a boolean", "structure" },
		{ NULL, "valueQuantity", "{\"value\":72,\"system\":\"http://unitsof measure.org\"}",
		  "Observation.valueQuantity.system is not a FHIR uri", "invalid" },
		/* dateTime, instant, Period */
		{ NULL, "effectiveDateTime", "20261121",
		  "Observation.effectiveDateTime must be a string (a FHIR dateTime), not a number",
		  "structure" },
		{ NULL, "effectiveDateTime", "\"fast\"",
		  "Observation.effectiveDateTime is not a FHIR dateTime", "invalid" },
		{ NULL, "effectiveDateTime", "\"2026-11-21T10:00:00\"",
		  "Observation.effectiveDateTime is not a FHIR dateTime", "invalid" },
		{ NULL, "effectiveDateTime", "\"2026-02-30\"",
		  "Observation.effectiveDateTime is not a FHIR dateTime", "invalid" },
		{ NULL, "effectiveDateTime", "\"2026-11-21T10:00Z\"",
		  "Observation.effectiveDateTime is not a FHIR dateTime", "invalid" },
		{ "effectiveDateTime", "effectiveInstant", "\"2026-11-21\"",
		  "Observation.effectiveInstant is not a FHIR instant", "invalid" },
		{ "effectiveDateTime", "effectiveInstant", "true",
		  "Observation.effectiveInstant must be a string (a FHIR instant), not a boolean",
		  "structure" },
		{ "effectiveDateTime", "effectivePeriod", "{\"start\":5}",
		  "Observation.effectivePeriod.start must be a string (a FHIR dateTime), not a number",
		  "structure" },
		{ "effectiveDateTime", "effectivePeriod", "\"2026\"",
		  "Observation.effectivePeriod must be an object (a Period), not a string", "structure" },
		{ NULL, "issued", "\"yesterday\"", "Observation.issued is not a FHIR instant", "invalid" },
		/* CodeableConcept, Coding */
		{ NULL, "code", "\"8867-4\"",
		  "Observation.code must be an object (a CodeableConcept), not a string", "structure" },
		{ NULL, "code", "{\"coding\":{\"system\":\"http://loinc.org\",\"code\":\"8867-4\"}}",
		  "Observation.code.coding must be an array, not an object", "structure" },
		{ NULL, "code", "{\"coding\":[\"8867-4\"]}",
		  "Observation.code.coding[0] must be an object (a Coding), not a string", "structure" },
		{ NULL, "code", "{\"coding\":[{\"system\":\"http://loinc.org\",\"code\":8867}]}",
		  "Observation.code.coding[0].code must be a string, not a number", "structure" },
		{ NULL, "code", "{\"coding\":[{\"system\":[\"http://loinc.org\"],\"code\":\"8867-4\"}]}",
		  "Observation.code.coding[0].system must be a string, not an array", "structure" },
		{ NULL, "code", "{\"coding\":[{},{\"code\":\"8867-4\",\"userSelected\":\"yes\"}]}",
		  "Observation.code.coding[1].userSelected must be a boolean, not a string", "structure" },
		{ NULL, "code", "{\"coding\":[{\"code\":\"8867-4\",\"display\":null}]}",
		  "Observation.code.coding[0].display must be a string, not null", "structure" },
		{ NULL, "code", "{\"coding\":[{\"code\":\" 8867-4\"}]}",
		  "Observation.code.coding[0].code is not a FHIR code", "invalid" },
		{ NULL, "code", "{\"text\":1}", "Observation.code.text must be a string, not a number",
		  "structure" },
		{ NULL, "category", "{\"coding\":[]}",
		  "Observation.category must be an array, not an object", "structure" },
		{ NULL, "category", "[{\"coding\":[{\"code\":1}]}]",
		  "Observation.category[0].coding[0].code must be a string, not a number", "structure" },
		{ NULL, "valueCodeableConcept", "[]",
		  "Observation.valueCodeableConcept must be an object (a CodeableConcept), not an array",
		  "structure" },
		{ NULL, "dataAbsentReason", "\"off\"",
		  "Observation.dataAbsentReason must be an object (a CodeableConcept), not a string",
		  "structure" },
		/* Reference, Identifier */
		{ NULL, "subject", "\"Patient/p1\"",
		  "Observation.subject must be an object (a Reference), not a string", "structure" },
		{ NULL, "subject", "{\"reference\":1}",
		  "Observation.subject.reference must be a string, not a number", "structure" },
		{ NULL, "subject", "{\"reference\":\"Patient/p1\",\"display\":false}",
		  "Observation.subject.display must be a string, not a boolean", "structure" },
		{ NULL, "subject", "{\"reference\":\"Patient/p1\",\"identifier\":\"x\"}",
		  "Observation.subject.identifier must be an object (an Identifier), not a string",
		  "structure" },
		{ NULL, "subject", "{\"reference\":\"Patient/p1\",\"identifier\":{\"period\":{\"start\":\"x\"}}}",
		  "Observation.subject.identifier.period.start is not a FHIR dateTime", "invalid" },
		{ NULL, "device", "[]", "Observation.device must be an object (a Reference), not an array",
		  "structure" },
		{ NULL, "encounter", "{\"reference\":{}}",
		  "Observation.encounter.reference must be a string, not an object", "structure" },
		/* primitives of the resource */
		{ NULL, "resourceType", "5", "resourceType must be a string, not a number", "structure" },
		{ NULL, "id", "7", "Observation.id must be a string, not a number", "structure" },
		{ NULL, "status", "1", "Observation.status must be a string, not a number", "structure" },
		{ "valueQuantity", "valueString", "5", "Observation.valueString must be a string, not a number",
		  "structure" },
		{ "valueQuantity", "valueBoolean", "\"true\"",
		  "Observation.valueBoolean must be a boolean, not a string", "structure" },
		{ "valueQuantity", "valueInteger", "1.5", "Observation.valueInteger is not a FHIR integer",
		  "invalid" },
		{ "valueQuantity", "valueInteger", "\"1\"",
		  "Observation.valueInteger must be a number, not a string", "structure" },
		/* components */
		{ NULL, "component", "{}", "Observation.component must be an array, not an object",
		  "structure" },
		{ NULL, "component", "[5]", "Observation.component[0] must be an object, not a number",
		  "structure" },
		{ NULL, "component", "[{\"code\":{}},{\"code\":{},\"valueQuantity\":{\"value\":\"80\"}}]",
		  "Observation.component[1].valueQuantity.value must be a number, not a string", "structure" },
		{ NULL, "component", "[{\"code\":[]}]",
		  "Observation.component[0].code must be an object (a CodeableConcept), not an array",
		  "structure" },
		/* repeated keys */
		{ NULL, "valueQuantity", "{\"value\":72,\"value\":500,\"unit\":\"/min\"}",
		  "Observation.valueQuantity.value appears twice", "structure" },
		{ NULL, "status", "\"final\",\"status\":\"final\"", "Observation.status appears twice",
		  "structure" },
	};
	struct cl_fhir_obs o;
	const char *issue;

	(void)state;
	/* the base is good, its unusual members too */
	if (parse_text(obs_with(NULL, NULL, NULL), &o, &issue) != CL_OK)
		fail_msg("the base Observation is refused: %s", cl_error_detail());
	assert_int_equal(o.nvalues, 1);
	assert_true(o.values[0].value == 72);
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		const char *json = obs_with(cases[i].drop, cases[i].field, cases[i].value);
		int rc = parse_text(json, &o, &issue);

		if (rc != CL_EINVAL || !strstr(cl_error_detail(), cases[i].msg) ||
		    strcmp(issue, cases[i].code) != 0)
			fail_msg("case %zu (%s): rc %d, '%s' (%s), wanted '%s' (%s)", i, json, rc,
				 cl_error_detail(), issue, cases[i].msg, cases[i].code);
	}
	/* what FHIR allows: the four forms of a dateTime, a null in an array
	 * of primitives beside its extension, escapes */
	{
		static const char *const good[][3] = {
			{ NULL, "effectiveDateTime", "\"2026\"" },
			{ NULL, "effectiveDateTime", "\"2026-11\"" },
			{ NULL, "effectiveDateTime", "\"2026-11-21\"" },
			{ NULL, "effectiveDateTime", "\"2026-11-21T10:00:00.123+01:00\"" },
			{ NULL, "effectiveDateTime", "\"2026\\u002d11\\u002d21\"" },
			{ "effectiveDateTime", "effectivePeriod", "{\"start\":\"2026-11-21T10:00:00Z\",\"end\":\"2026-11-22\"}" },
			{ NULL, "subject", "{\"reference\":\"Patient/p1\",\"identifier\":{\"assigner\":{\"display\":\"H\"}}}" },
			{ NULL, "note", "5" }, /* not read: not checked */
		};

		for (size_t i = 0; i < sizeof(good) / sizeof(good[0]); i++)
			if (parse_text(obs_with(good[i][0], good[i][1], good[i][2]), &o, &issue) != CL_OK)
				fail_msg("good %zu refused: %s", i, cl_error_detail());
	}
}

int main(int argc, char **argv)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_official_examples),
		cmocka_unit_test(test_synthea_bundle),
		cmocka_unit_test(test_rejections),
		cmocka_unit_test(test_typed_fields),
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
