/*
 * FHIR search keys (fhir/cl_fhir_index.c) and the parameter values a
 * search reads (fhir/cl_fhir_search.c), against known inputs: the range
 * each form of date covers (year, month, day, minute, second, fraction,
 * offsets, leap days) and the dates refused; folding of case and accents;
 * the keys of a resource of each parameter type (a CodeableConcept's
 * codings, an Identifier, a code, a boolean, a HumanName's and an
 * Address's parts, a Period, a choice type, a Quantity, references of
 * every form, a reference to a type the parameter does not take); and how
 * a search reads values: prefixes, a number's precision, token forms,
 * escaped commas, modifiers.
 */
#include "cl_test.h"
#include "core/cl_error.h"
#include "core/cl_time.h"
#include "fhir/cl_fhir_index.h"
#include "fhir/cl_fhir_meta.h"
#include "fhir/cl_fhir_search.h"

#include <math.h>

static int64_t at(const char *rfc3339)
{
	int64_t us;

	assert_int_equal(cl_time_parse_rfc3339(rfc3339, strlen(rfc3339), &us), CL_OK);
	return us;
}

static void range(const char *v, const char *lo, const char *hi)
{
	int64_t l, h;

	if (cl_fhir_date_range(v, strlen(v), &l, &h) != CL_OK)
		fail_msg("%s: %s", v, cl_error_detail());
	assert_int_equal(l, at(lo));
	assert_int_equal(h, at(hi));
}

static void test_dates(void **state)
{
	static const char *const bad[] = { "", "20", "0000", "2024-", "2024-13", "2024-00",
					   "2024-02-30", "2023-02-29", "2024-01-01T", "2024-01-01T25:00",
					   "2024-01-01T10:00:61", "2024-01-01T10:00:00.", "2024-01-01T10:00+2",
					   "2024-01-01T10:00:00+15:00", "2024-01-01 10:00", "2024x" };
	int64_t l, h;

	(void)state;
	range("2024", "2024-01-01T00:00:00Z", "2025-01-01T00:00:00Z");
	range("2024-02", "2024-02-01T00:00:00Z", "2024-03-01T00:00:00Z");
	range("2024-12", "2024-12-01T00:00:00Z", "2025-01-01T00:00:00Z");
	range("2024-02-29", "2024-02-29T00:00:00Z", "2024-03-01T00:00:00Z");
	range("2024-03-01T10:15", "2024-03-01T10:15:00Z", "2024-03-01T10:16:00Z");
	range("2024-03-01T10:15:30Z", "2024-03-01T10:15:30Z", "2024-03-01T10:15:31Z");
	range("2024-03-01T10:15:30.25Z", "2024-03-01T10:15:30.25Z", "2024-03-01T10:15:30.26Z");
	range("2024-03-01T00:30:00+02:00", "2024-02-29T22:30:00Z", "2024-02-29T22:30:01Z");
	range("2024-03-01T23:30:00-05:00", "2024-03-02T04:30:00Z", "2024-03-02T04:30:01Z");
	range("1969-12-31", "1969-12-31T00:00:00Z", "1970-01-01T00:00:00Z");
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		if (cl_fhir_date_range(bad[i], strlen(bad[i]), &l, &h) == CL_OK)
			fail_msg("'%s' taken as a date", bad[i]);
}

static void test_fold(void **state)
{
	char out[64];

	(void)state;
	cl_fhir_fold("Müller-ÅSTRÖM", strlen("Müller-ÅSTRÖM"), out, sizeof(out));
	assert_string_equal(out, "muller-astrom");
	cl_fhir_fold("Łódź Œuvre ß", strlen("Łódź Œuvre ß"), out, sizeof(out));
	assert_string_equal(out, "lodz ouvre s");
	/* other scripts are kept as they are */
	cl_fhir_fold("Ωmega 東京", strlen("Ωmega 東京"), out, sizeof(out));
	assert_string_equal(out, "Ωmega 東京");
	/* cut to the buffer, ended */
	cl_fhir_fold("ABCDEFGH", 8, out, 4);
	assert_string_equal(out, "abc");
}

/* Every key of a resource, as "param sys code str lo hi num" lines. */
static char keys[8192];

static int take(void *arg, const struct cl_fhir_key *k)
{
	size_t n = strlen(keys);

	(void)arg;
	snprintf(keys + n, sizeof(keys) - n, "%s|%s|%s|%s", k->param, k->sys ? k->sys : "-",
		 k->code ? k->code : "-", k->str ? k->str : "-");
	n = strlen(keys);
	if (k->has_range)
		snprintf(keys + n, sizeof(keys) - n, "|%lld..%lld", (long long)k->lo, (long long)k->hi);
	n = strlen(keys);
	if (k->has_num)
		snprintf(keys + n, sizeof(keys) - n, "|%g", k->num);
	n = strlen(keys);
	snprintf(keys + n, sizeof(keys) - n, "\n");
	return 0;
}

static const char *resolve(void *arg, const char *ref, char *buf, size_t cap)
{
	(void)arg;
	if (strcmp(ref, "urn:uuid:1111") != 0)
		return ref;
	snprintf(buf, cap, "Practitioner/gp-9");
	return buf;
}

static void index_of(const char *type, const char *json)
{
	struct cl_json_doc d;

	keys[0] = '\0';
	cl_json_doc_init(&d);
	assert_int_equal(cl_json_parse(&d, json, strlen(json)), CL_OK);
	assert_int_equal(cl_fhir_index(&d, 0, type, resolve, NULL, take, NULL), 0);
	cl_json_doc_free(&d);
}

static void has(const char *line)
{
	if (!strstr(keys, line))
		fail_msg("no key '%s' in:\n%s", line, keys);
}

static void test_keys(void **state)
{
	char line[200];

	(void)state;
	index_of("Patient",
		 "{\"resourceType\":\"Patient\",\"id\":\"p\",\"active\":true,"
		 "\"identifier\":[{\"system\":\"urn:mrn\",\"value\":\"42\"},{\"value\":\"x7\"}],"
		 "\"name\":[{\"family\":\"D\\u00fcrer\",\"given\":[\"Al\",\"Bo\"],\"prefix\":[\"Dr\"]}],"
		 "\"gender\":\"male\",\"birthDate\":\"1971\","
		 "\"address\":[{\"line\":[\"1 Main\"],\"postalCode\":\"9A\"}],"
		 "\"generalPractitioner\":[{\"reference\":\"urn:uuid:1111\"},"
		 "{\"reference\":\"https://h.example/fhir/Practitioner/gp-2/_history/3\"},"
		 "{\"reference\":\"#contained\"},{\"display\":\"no reference\"}],"
		 "\"managingOrganization\":{\"reference\":\"Location/l1\"}}");
	has("identifier|urn:mrn|42|-\n");
	has("identifier|-|x7|-\n");
	has("family|-|Dürer|durer\n");
	has("given|-|Al|al\n");
	has("given|-|Bo|bo\n");
	has("name|-|Dr|dr\n");
	has("gender|-|male|-\n");
	has("active|-|true|-\n");
	has("address|-|1 Main|1 main\n");
	has("address-postalcode|-|9A|9a\n");
	snprintf(line, sizeof(line), "birthdate|-|-|-|%lld..%lld\n",
		 (long long)at("1971-01-01T00:00:00Z"), (long long)at("1972-01-01T00:00:00Z"));
	has(line);
	has("general-practitioner|Practitioner|gp-9|-\n");
	has("general-practitioner|Practitioner|gp-2|-\n");
	/* organization takes Organizations only; #contained is no resource */
	assert_null(strstr(keys, "organization|"));
	assert_null(strstr(keys, "contained"));

	index_of("Observation",
		 "{\"resourceType\":\"Observation\",\"status\":\"final\","
		 "\"code\":{\"coding\":[{\"system\":\"http://loinc.org\",\"code\":\"85354-9\"},"
		 "{\"code\":\"bp\"}],\"text\":\"BP\"},"
		 "\"effectivePeriod\":{\"start\":\"2024-01-01T10:00:00Z\"},"
		 "\"encounter\":{\"reference\":\"urn:uuid:abcd\"},"
		 "\"component\":[{\"code\":{\"coding\":[{\"system\":\"http://loinc.org\","
		 "\"code\":\"8480-6\"}]},\"valueQuantity\":{\"value\":120}}],"
		 "\"valueQuantity\":{\"value\":1.5e2,\"unit\":\"mm[Hg]\"}}");
	has("code|http://loinc.org|85354-9|-\n");
	has("code|-|bp|-\n");
	has("component-code|http://loinc.org|8480-6|-\n");
	has("combo-code|http://loinc.org|8480-6|-\n");
	has("combo-code|http://loinc.org|85354-9|-\n");
	has("status|-|final|-\n");
	/* an open Period runs on to the end of time */
	snprintf(line, sizeof(line), "date|-|-|-|%lld..%lld\n",
		 (long long)at("2024-01-01T10:00:00Z"), (long long)INT64_MAX);
	has(line);
	/* a Bundle's urn:uuid not resolved: the id, no type */
	has("encounter|-|abcd|-\n");
	/* the unit as written when there is no code */
	has("value-quantity|-|mm[Hg]|-|150\n");

	index_of("Condition", "{\"resourceType\":\"Condition\",\"onsetString\":\"childhood\","
			      "\"abatementAge\":{\"value\":5},\"recordedDate\":\"not a date\"}");
	assert_string_equal(keys, "");
	index_of("Spaceship", "{\"resourceType\":\"Spaceship\",\"code\":\"x\"}");
	assert_string_equal(keys, "");
}

static struct cl_fhir_search s;

static int param(const char *name, const char *value)
{
	s.why[0] = '\0';
	return cl_fhir_search_param(&s, name, value);
}

static void test_values(void **state)
{
	const struct cl_fhir_cond *c;

	(void)state;
	cl_fhir_search_init(&s, "Observation", 0, 0);
	assert_int_equal(param("value-quantity", "ge5.40|http://unitsofmeasure.org|mmol/L"), CL_OK);
	c = &s.q.conds[0];
	assert_int_equal(c->kind, CL_FK_QUANTITY);
	assert_int_equal(c->values[0].prefix, CL_FP_GE);
	assert_true(fabs(c->values[0].num_lo - 5.395) < 1e-9);
	assert_true(fabs(c->values[0].num_hi - 5.405) < 1e-9);
	assert_string_equal(c->values[0].sys, "http://unitsofmeasure.org");
	assert_string_equal(c->values[0].code, "mmol/L");
	assert_int_equal(param("value-quantity", "1e2"), CL_OK);
	assert_true(fabs(s.q.conds[1].values[0].num_hi - 150) < 1e-9);
	assert_int_equal(param("code", "http://loinc.org|8867-4,|x,y\\,z,http://loinc.org|"), CL_OK);
	c = &s.q.conds[2];
	assert_int_equal(c->nvalues, 4);
	assert_string_equal(c->values[0].sys, "http://loinc.org");
	assert_string_equal(c->values[0].code, "8867-4");
	assert_string_equal(c->values[1].sys, "");
	assert_string_equal(c->values[1].code, "x");
	assert_null(c->values[2].sys);
	assert_string_equal(c->values[2].code, "y,z");
	assert_null(c->values[3].code);
	assert_int_equal(param("date", "sa2024-03"), CL_OK);
	assert_int_equal(s.q.conds[3].values[0].prefix, CL_FP_SA);
	assert_int_equal(s.q.conds[3].values[0].lo, at("2024-03-01T00:00:00Z"));
	assert_int_equal(param("encounter", "https://x.example/fhir/Encounter/e1"), CL_OK);
	assert_string_equal(s.q.conds[4].values[0].sys, "Encounter");
	assert_string_equal(s.q.conds[4].values[0].code, "e1");
	assert_int_equal(param("code:not", "x"), CL_OK);
	assert_int_equal(s.q.conds[5].modifier, CL_FM_NOT);
	assert_int_equal(param("device:missing", "true"), CL_OK);
	assert_int_equal(s.q.conds[6].missing, 1);
	assert_int_equal(param("_lastUpdated", "gt2026"), CL_OK);
	assert_null(s.q.conds[7].param);
	assert_int_equal(s.q.nconds, 8);
	assert_non_null(strstr(s.applied, "code:not=x"));

	/* refused, and nothing taken from them */
	assert_int_equal(param("date", "2024,2025-13"), CL_EINVAL);
	assert_non_null(strstr(s.why, "2025-13"));
	assert_int_equal(param("code", "|"), CL_EINVAL);
	assert_int_equal(param("code", ""), CL_EINVAL);
	assert_int_equal(param("value-quantity", "5|x"), CL_EINVAL);
	assert_int_equal(param("value-quantity", "nan"), CL_EINVAL);
	assert_int_equal(param("encounter", "Encounter/"), CL_EINVAL);
	assert_int_equal(param("code:contains", "x"), CL_EINVAL);
	assert_int_equal(param("status:missing", "yes"), CL_EINVAL);
	assert_int_equal(s.q.nconds, 8);

	/* Patient's strings: folded, or as written for :exact */
	cl_fhir_search_init(&s, "Patient", 0, 0);
	assert_int_equal(param("family", "MÜLLER"), CL_OK);
	assert_string_equal(s.q.conds[0].values[0].str, "muller");
	assert_int_equal(param("family:exact", "MÜLLER"), CL_OK);
	assert_string_equal(s.q.conds[1].values[0].str, "MÜLLER");
	assert_int_equal(param("code", "x"), CL_EINVAL); /* not Patient's */
}

/* _elements: the members kept, meta tagged SUBSETTED, the rest as sent. */
static void test_subset(void **state)
{
	const char *keep[] = { "status", "value" };
	const char *src = "{\"resourceType\":\"Observation\",\"id\":\"o1\",\"status\":\"final\","
			  "\"code\":{\"text\":\"x\"},\"valueQuantity\":{\"value\":1.50},"
			  "\"meta\":{\"source\":\"#a\",\"tag\":[{\"code\":\"t\"}]},\"note\":[]}";
	char *out;
	size_t len;

	(void)state;
	assert_int_equal(cl_fhir_subset(src, strlen(src), keep, 2, 0, &out, &len), CL_OK);
	assert_string_equal(out, "{\"resourceType\":\"Observation\",\"id\":\"o1\",\"status\":\"final\","
			    "\"valueQuantity\":{\"value\":1.50},\"meta\":{\"source\":\"#a\",\"tag\":"
			    "[{\"code\":\"t\"},{\"system\":\"http://terminology.hl7.org/CodeSystem/"
			    "v3-ObservationValue\",\"code\":\"SUBSETTED\"}]}}");
	assert_int_equal(len, strlen(out));
	free(out);
	src = "{\"resourceType\":\"Patient\",\"gender\":\"male\"}";
	assert_int_equal(cl_fhir_subset(src, strlen(src), keep, 1, 0, &out, &len), CL_OK);
	assert_string_equal(out, "{\"resourceType\":\"Patient\",\"meta\":{\"tag\":[{\"system\":"
			    "\"http://terminology.hl7.org/CodeSystem/v3-ObservationValue\","
			    "\"code\":\"SUBSETTED\"}]}}");
	free(out);
	/* except: all but the names (_summary=data leaves out the narrative) */
	src = "{\"resourceType\":\"Patient\",\"text\":{\"div\":\"<div/>\"},\"gender\":\"male\","
	      "\"textual\":1}";
	keep[0] = "text";
	assert_int_equal(cl_fhir_subset(src, strlen(src), keep, 1, 1, &out, &len), CL_OK);
	assert_string_equal(out, "{\"resourceType\":\"Patient\",\"gender\":\"male\",\"textual\":1,"
			    "\"meta\":{\"tag\":[{\"system\":"
			    "\"http://terminology.hl7.org/CodeSystem/v3-ObservationValue\","
			    "\"code\":\"SUBSETTED\"}]}}");
	free(out);
	assert_int_equal(cl_fhir_subset("[1]", 3, keep, 1, 0, &out, &len), CL_EPARSE);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_dates),
		cmocka_unit_test(test_fold),
		cmocka_unit_test(test_keys),
		cmocka_unit_test(test_values),
		cmocka_unit_test(test_subset),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
