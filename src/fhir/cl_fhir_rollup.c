/*
 * A vitals rollup as a FHIR Observation. See cl_fhir_rollup.h.
 */
#include "cl_fhir_rollup.h"

#include <sodium.h>
#include <stdio.h>
#include <string.h>

#define UCUM "http://unitsofmeasure.org"
#define STAT "urn:carelake:rollup-statistic"

static const char *str(const json_t *o, const char *key)
{
	return json_string_value(json_object_get(o, key)) ?: "";
}

void cl_fhir_rollup_id(const json_t *rollup, char *id, size_t cap)
{
	unsigned char h[12];
	char key[1024], hex[sizeof(h) * 2 + 1];

	snprintf(key, sizeof(key), "%s\x1f%s\x1f%s\x1f%s", str(rollup, "patient_id"),
		 str(rollup, "vital"), str(rollup, "window"), str(rollup, "start"));
	crypto_generichash(h, sizeof(h), (const unsigned char *)key, strlen(key), NULL, 0);
	sodium_bin2hex(hex, sizeof(hex), h, sizeof(h));
	snprintf(id, cap, "rollup-%s", hex);
}

static json_t *quantity(const json_t *v, const char *unit)
{
	json_t *q = json_pack("{s:O}", "value", v);

	if (q && unit[0]) {
		json_object_set_new(q, "unit", json_string(unit));
		json_object_set_new(q, "system", json_string(UCUM));
		json_object_set_new(q, "code", json_string(unit));
	}
	return q;
}

static json_t *statistic(const char *code)
{
	return json_pack("{s:{s:[{s:s,s:s}]}}", "code", "coding", "system", STAT, "code", code);
}

json_t *cl_fhir_rollup_observation(const json_t *rollup)
{
	static const char *const stats[] = { "min", "max", "stddev", "p50", "p90", "p99" };
	const char *unit = str(rollup, "unit"), *loinc = str(rollup, "loinc");
	json_t *r, *comps, *c, *mean = json_object_get(rollup, "mean");
	char id[40];

	if (!str(rollup, "patient_id")[0] || !str(rollup, "start")[0])
		return NULL;
	cl_fhir_rollup_id(rollup, id, sizeof(id));
	r = json_pack("{s:s,s:s,s:s,s:[{s:[{s:s,s:s}]}],s:{s:[],s:s},s:{s:s},s:{s:s,s:s}}",
		      "resourceType", "Observation", "id", id, "status", "final", "category",
		      "coding", "system", "http://terminology.hl7.org/CodeSystem/observation-category",
		      "code", "vital-signs", "code", "coding", "text", str(rollup, "vital"),
		      "subject", "reference", "", "effectivePeriod", "start", str(rollup, "start"),
		      "end", str(rollup, "end"));
	if (!r)
		return NULL;
	/* a window late values changed after it was final: its new version */
	if (strcmp(str(rollup, "status"), "corrected") == 0) {
		char ver[24];

		json_object_set_new(r, "status", json_string("corrected"));
		snprintf(ver, sizeof(ver), "%lld",
			 (long long)json_integer_value(json_object_get(rollup, "revision")));
		json_object_set_new(r, "meta", json_pack("{s:s}", "versionId", ver));
	}
	{
		char ref[300];

		snprintf(ref, sizeof(ref), "Patient/%s", str(rollup, "patient_id"));
		json_object_set_new(json_object_get(r, "subject"), "reference", json_string(ref));
	}
	if (loinc[0])
		json_array_append_new(json_object_get(json_object_get(r, "code"), "coding"),
				      json_pack("{s:s,s:s}", "system", "http://loinc.org", "code",
						loinc));
	else /* FHIR has no empty arrays */
		json_object_del(json_object_get(r, "code"), "coding");
	if (json_is_number(mean))
		json_object_set_new(r, "valueQuantity", quantity(mean, unit));
	comps = json_array();
	c = statistic("count");
	json_object_set_new(c, "valueInteger",
			    json_integer(json_integer_value(json_object_get(rollup, "count"))));
	json_array_append_new(comps, c);
	for (size_t i = 0; i < sizeof(stats) / sizeof(stats[0]); i++) {
		json_t *v = json_object_get(rollup, stats[i]);

		if (!json_is_number(v))
			continue;
		c = statistic(stats[i]);
		json_object_set_new(c, "valueQuantity", quantity(v, unit));
		json_array_append_new(comps, c);
	}
	json_object_set_new(r, "component", comps);
	return r;
}
