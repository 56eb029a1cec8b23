/*
 * POST /fhir with batch and transaction Bundles of any resource type
 * (FHIR R4 http.html#transaction), through `carelake serve`: a transaction
 * creating a Patient by urn:uuid and Observations that name it (the
 * references rewritten to the server's id, reads and a search by patient
 * giving them back), PUT, DELETE and ifNoneExist entries, an ifMatch on a
 * stale version and an invalid resource each refusing the whole
 * transaction with nothing written, a batch whose failing entry leaves the
 * others written, GET entries refused, the Observation Bundles of the live
 * stream still taking ingest's path, the CapabilityStatement, and a
 * restart keeping it all.
 */
#include "fhir_helpers.h"

#include <jansson.h>

static json_t *json_of(const struct reply *r)
{
	json_t *j = json_loads(r->body, 0, NULL);

	if (!j)
		fail_msg("not JSON: %s", r->body);
	return j;
}

static struct reply post_bundle(const struct server *s, const char *body)
{
	return http_h(s, "POST", "/fhir", s->token, body, strlen(body),
		      "Content-Type: application/fhir+json", NULL);
}

/* Entry k's response of a batch- or transaction-response. */
static json_t *response(json_t *bundle, size_t k)
{
	return json_object_get(json_array_get(json_object_get(bundle, "entry"), k), "response");
}

static const char *resp_str(json_t *bundle, size_t k, const char *key)
{
	const char *v = json_string_value(json_object_get(response(bundle, k), key));

	return v ? v : "";
}

/* The id in a response's location "Type/id/_history/v", into id. */
static void id_of(json_t *bundle, size_t k, const char *type, char *id, size_t cap)
{
	const char *loc = resp_str(bundle, k, "location");
	size_t tn = strlen(type);
	const char *h = strstr(loc, "/_history/");

	if (strncmp(loc, type, tn) != 0 || loc[tn] != '/' || !h)
		fail_msg("entry %zu: location '%s' is not %s/id/_history/v", k, loc, type);
	snprintf(id, cap, "%.*s", (int)(h - loc - (long)tn - 1), loc + tn + 1);
}

/* The total of a search (_summary=count). */
static long total_of(const struct server *s, const char *query)
{
	char path[600];
	struct reply r;
	json_t *j;
	long n;

	snprintf(path, sizeof(path), "%s%s_summary=count", query, strchr(query, '?') ? "&" : "?");
	r = get(s, path, s->token, NULL);
	if (r.code != 200)
		fail_msg("%s: %ld %s", path, r.code, r.body);
	j = json_of(&r);
	n = (long)json_integer_value(json_object_get(j, "total"));
	json_decref(j);
	free(r.body);
	return n;
}

/* A resource as read, or NULL when the read is not 200. */
static json_t *read_res(const struct server *s, const char *type, const char *id)
{
	char path[300];
	struct reply r;
	json_t *j = NULL;

	snprintf(path, sizeof(path), "/fhir/%s/%s", type, id);
	r = get(s, path, s->token, NULL);
	if (r.code == 200)
		j = json_of(&r);
	free(r.body);
	return j;
}

static const char *heart_rate(const char *id_member, const char *subject, int value)
{
	static char buf[4][700];
	static int at;
	char *b = buf[at++ % 4];

	snprintf(b, sizeof(buf[0]),
		 "{\"resourceType\":\"Observation\",%s\"status\":\"final\",\"category\":[{\"coding\":"
		 "[{\"system\":\"http://terminology.hl7.org/CodeSystem/observation-category\","
		 "\"code\":\"vital-signs\"}]}],\"code\":{\"coding\":[{\"system\":\"http://loinc.org\","
		 "\"code\":\"8867-4\"}]},\"subject\":{\"reference\":\"%s\"},"
		 "\"effectiveDateTime\":\"2026-11-21T10:00:%02dZ\",\"valueQuantity\":{\"value\":%d,"
		 "\"unit\":\"/min\",\"system\":\"http://unitsofmeasure.org\",\"code\":\"/min\"}}",
		 id_member, subject, value % 60, value);
	return b;
}

static void test_bundles(void **state)
{
	struct server s;
	struct reply r;
	char data[300], body[8192], pid[80], o1[80], o2[80], path[300];
	json_t *j, *res;

	(void)state;
	snprintf(data, sizeof(data), "%s/bundles", dir);
	server_start(&s, bin, data, NULL);

	/* the CapabilityStatement lists both system interactions */
	r = get(&s, "/fhir/metadata", NULL, NULL);
	assert_int_equal(r.code, 200);
	j = json_of(&r);
	{
		json_t *list = json_object_get(json_array_get(json_object_get(j, "rest"), 0),
					       "interaction"), *i;
		size_t k;
		int seen = 0;

		json_array_foreach(list, k, i) {
			seen |= strcmp(json_string_value(json_object_get(i, "code")), "transaction") == 0;
			seen |= (strcmp(json_string_value(json_object_get(i, "code")), "batch") == 0) << 1;
		}
		assert_int_equal(seen, 3);
	}
	json_decref(j);
	free(r.body);

	/* a transaction: a Patient by urn:uuid, two Observations naming it, a
	 * Practitioner by PUT */
	snprintf(body, sizeof(body),
		 "{\"resourceType\":\"Bundle\",\"type\":\"transaction\",\"entry\":["
		 "{\"fullUrl\":\"urn:uuid:2f0e6a38-7c44-4bd4-9c1e-1c2a7d3f0a01\",\"resource\":"
		 "{\"resourceType\":\"Patient\",\"identifier\":[{\"system\":\"http://example.org/mrn\","
		 "\"value\":\"tx-1\"}],\"name\":[{\"family\":\"Transact\",\"given\":[\"Tia\"]}],"
		 "\"birthDate\":\"1980-02-03\"},\"request\":{\"method\":\"POST\",\"url\":\"Patient\"}},"
		 "{\"fullUrl\":\"urn:uuid:9b1f0000-0000-4000-8000-000000000001\",\"resource\":%s,"
		 "\"request\":{\"method\":\"POST\",\"url\":\"Observation\"}},"
		 "{\"resource\":%s,\"request\":{\"method\":\"POST\",\"url\":\"Observation\"}},"
		 "{\"resource\":{\"resourceType\":\"Practitioner\",\"id\":\"dr-tx\",\"name\":"
		 "[{\"family\":\"Doe\"}]},\"request\":{\"method\":\"PUT\",\"url\":\"Practitioner/dr-tx\"}}]}",
		 heart_rate("", "urn:uuid:2f0e6a38-7c44-4bd4-9c1e-1c2a7d3f0a01", 71),
		 heart_rate("", "urn:uuid:2f0e6a38-7c44-4bd4-9c1e-1c2a7d3f0a01", 88));
	r = post_bundle(&s, body);
	if (r.code != 200)
		fail_msg("transaction: %ld %s", r.code, r.body);
	j = json_of(&r);
	assert_string_equal(json_string_value(json_object_get(j, "type")), "transaction-response");
	assert_int_equal(json_array_size(json_object_get(j, "entry")), 4);
	for (size_t k = 0; k < 4; k++) {
		assert_string_equal(resp_str(j, k, "status"), "201 Created");
		assert_string_equal(resp_str(j, k, "etag"), "W/\"1\"");
		assert_true(strlen(resp_str(j, k, "lastModified")) >= 20);
	}
	id_of(j, 0, "Patient", pid, sizeof(pid));
	id_of(j, 1, "Observation", o1, sizeof(o1));
	id_of(j, 2, "Observation", o2, sizeof(o2));
	assert_string_equal(resp_str(j, 3, "location"), "Practitioner/dr-tx/_history/1");
	assert_string_not_equal(pid, "2f0e6a38-7c44-4bd4-9c1e-1c2a7d3f0a01");
	json_decref(j);
	free(r.body);
	/* the references name the server's id; reads and a search give them */
	res = read_res(&s, "Observation", o1);
	assert_non_null(res);
	snprintf(path, sizeof(path), "Patient/%s", pid);
	assert_string_equal(json_string_value(json_object_get(json_object_get(res, "subject"),
							      "reference")), path);
	assert_string_equal(json_string_value(json_object_get(res, "id")), o1);
	json_decref(res);
	res = read_res(&s, "Patient", pid);
	assert_non_null(res);
	assert_string_equal(json_string_value(json_object_get(json_array_get(
		json_object_get(res, "name"), 0), "family")), "Transact");
	json_decref(res);
	snprintf(path, sizeof(path), "/fhir/Observation?patient=Patient/%s", pid);
	assert_int_equal(total_of(&s, path), 2);

	/* PUT, DELETE and a conditional create that finds the Patient */
	snprintf(body, sizeof(body),
		 "{\"resourceType\":\"Bundle\",\"type\":\"transaction\",\"entry\":["
		 "{\"resource\":{\"resourceType\":\"Practitioner\",\"id\":\"dr-tx\",\"name\":"
		 "[{\"family\":\"Doe-Smith\"}]},\"request\":{\"method\":\"PUT\",\"url\":"
		 "\"Practitioner/dr-tx\",\"ifMatch\":\"W/\\\"1\\\"\"}},"
		 "{\"request\":{\"method\":\"DELETE\",\"url\":\"Observation/%s\"}},"
		 "{\"fullUrl\":\"urn:uuid:aa000000-0000-4000-8000-000000000002\",\"resource\":"
		 "{\"resourceType\":\"Patient\",\"name\":[{\"family\":\"Again\"}]},\"request\":"
		 "{\"method\":\"POST\",\"url\":\"Patient\",\"ifNoneExist\":"
		 "\"identifier=http://example.org/mrn|tx-1\"}},"
		 "{\"resource\":%s,\"request\":{\"method\":\"POST\",\"url\":\"Observation\"}}]}",
		 o2, heart_rate("", "urn:uuid:aa000000-0000-4000-8000-000000000002", 92));
	r = post_bundle(&s, body);
	if (r.code != 200)
		fail_msg("second transaction: %ld %s", r.code, r.body);
	j = json_of(&r);
	assert_string_equal(resp_str(j, 0, "status"), "200 OK");
	assert_string_equal(resp_str(j, 0, "etag"), "W/\"2\"");
	assert_string_equal(resp_str(j, 0, "location"), "Practitioner/dr-tx/_history/2");
	assert_string_equal(resp_str(j, 1, "status"), "204 No Content");
	assert_string_equal(resp_str(j, 1, "etag"), "W/\"2\"");
	assert_string_equal(resp_str(j, 2, "status"), "200 OK");
	snprintf(path, sizeof(path), "Patient/%s/_history/1", pid);
	assert_string_equal(resp_str(j, 2, "location"), path);
	assert_string_equal(resp_str(j, 3, "status"), "201 Created");
	json_decref(j);
	free(r.body);
	snprintf(path, sizeof(path), "/fhir/Observation/%s", o2);
	assert_int_equal(code_of(&s, path, s.token, NULL), 410);
	/* the new Observation names the Patient the conditional create found */
	snprintf(path, sizeof(path), "/fhir/Observation?patient=Patient/%s", pid);
	assert_int_equal(total_of(&s, path), 2);
	assert_int_equal(total_of(&s, "/fhir/Patient?family=Again"), 0);

	/* an ifMatch on a stale version: 412, the whole transaction undone */
	snprintf(body, sizeof(body),
		 "{\"resourceType\":\"Bundle\",\"type\":\"transaction\",\"entry\":["
		 "{\"resource\":{\"resourceType\":\"Patient\",\"name\":[{\"family\":\"Rollback\"}]},"
		 "\"request\":{\"method\":\"POST\",\"url\":\"Patient\"}},"
		 "{\"resource\":{\"resourceType\":\"Practitioner\",\"id\":\"dr-tx\",\"name\":"
		 "[{\"family\":\"Stale\"}]},\"request\":{\"method\":\"PUT\",\"url\":"
		 "\"Practitioner/dr-tx\",\"ifMatch\":\"W/\\\"1\\\"\"}},"
		 "{\"request\":{\"method\":\"DELETE\",\"url\":\"Observation/%s\"}}]}", o1);
	r = post_bundle(&s, body);
	assert_int_equal(r.code, 412);
	j = json_of(&r);
	assert_string_equal(json_string_value(json_object_get(j, "resourceType")),
			    "OperationOutcome");
	assert_non_null(strstr(r.body, "entry 1: request.ifMatch"));
	assert_non_null(strstr(r.body, "Bundle.entry[1]"));
	json_decref(j);
	free(r.body);
	assert_int_equal(total_of(&s, "/fhir/Patient?family=Rollback"), 0);
	r = get(&s, "/fhir/Practitioner/dr-tx", s.token, NULL);
	assert_int_equal(r.code, 200);
	assert_string_equal(r.etag, "W/\"2\"");
	free(r.body);
	snprintf(path, sizeof(path), "/fhir/Observation/%s", o1);
	assert_int_equal(code_of(&s, path, s.token, NULL), 200);

	/* an invalid resource: 422 naming the entry, nothing written */
	r = post_bundle(&s, "{\"resourceType\":\"Bundle\",\"type\":\"transaction\",\"entry\":["
			    "{\"resource\":{\"resourceType\":\"Patient\",\"name\":[{\"family\":"
			    "\"Invalid\"}]},\"request\":{\"method\":\"POST\",\"url\":\"Patient\"}},"
			    "{\"resource\":{\"resourceType\":\"Patient\",\"birthDate\":\"1970-13-01\"},"
			    "\"request\":{\"method\":\"POST\",\"url\":\"Patient\"}}]}");
	assert_int_equal(r.code, 422);
	assert_non_null(strstr(r.body, "OperationOutcome"));
	assert_non_null(strstr(r.body, "entry 1: "));
	assert_non_null(strstr(r.body, "birthDate"));
	free(r.body);
	assert_int_equal(total_of(&s, "/fhir/Patient?family=Invalid"), 0);
	/* a malformed entry: 400 */
	r = post_bundle(&s, "{\"resourceType\":\"Bundle\",\"type\":\"transaction\",\"entry\":["
			    "{\"resource\":{\"resourceType\":\"Patient\"},\"request\":{\"method\":"
			    "\"PUT\",\"url\":\"Patient?identifier=x\"}}]}");
	assert_int_equal(r.code, 400);
	assert_non_null(strstr(r.body, "conditional update"));
	free(r.body);

	/* a batch: each entry on its own; the failing ones answered with an
	 * outcome, the others written */
	snprintf(body, sizeof(body),
		 "{\"resourceType\":\"Bundle\",\"type\":\"batch\",\"entry\":["
		 "{\"resource\":{\"resourceType\":\"Patient\",\"name\":[{\"family\":\"Batchy\"}]},"
		 "\"request\":{\"method\":\"POST\",\"url\":\"Patient\"}},"
		 "{\"resource\":{\"resourceType\":\"Patient\",\"id\":\"other\"},"
		 "\"request\":{\"method\":\"PUT\",\"url\":\"Patient/bp-2\"}},"
		 "{\"request\":{\"method\":\"DELETE\",\"url\":\"Patient/never-held\"}},"
		 "{\"resource\":%s,\"request\":{\"method\":\"PUT\",\"url\":\"Observation/bo-1\"}},"
		 "{\"request\":{\"method\":\"GET\",\"url\":\"Patient/%s\"}}]}",
		 heart_rate("\"id\":\"bo-1\",", "Patient/batch-p", 65), pid);
	r = post_bundle(&s, body);
	if (r.code != 200)
		fail_msg("batch: %ld %s", r.code, r.body);
	j = json_of(&r);
	assert_string_equal(json_string_value(json_object_get(j, "type")), "batch-response");
	assert_string_equal(resp_str(j, 0, "status"), "201 Created");
	assert_string_equal(resp_str(j, 1, "status"), "400 Bad Request");
	assert_non_null(json_object_get(response(j, 1), "outcome"));
	assert_string_equal(resp_str(j, 2, "status"), "404 Not Found");
	assert_string_equal(resp_str(j, 3, "status"), "201 Created");
	assert_string_equal(resp_str(j, 3, "location"), "Observation/bo-1/_history/1");
	assert_string_equal(resp_str(j, 4, "status"), "400 Bad Request");
	assert_non_null(strstr(r.body, "GET entries are not served in a Bundle"));
	json_decref(j);
	free(r.body);
	assert_int_equal(total_of(&s, "/fhir/Patient?family=Batchy"), 1);
	assert_int_equal(code_of(&s, "/fhir/Observation/bo-1", s.token, NULL), 200);
	assert_int_equal(code_of(&s, "/fhir/Patient/bp-2", s.token, NULL), 404);

	/* the live stream's Observation Bundles keep ingest's path: their own
	 * ids, and the stream applies them */
	snprintf(body, sizeof(body), "{\"resourceType\":\"Bundle\",\"type\":\"batch\",\"entry\":["
		 "{\"resource\":%s,\"request\":{\"method\":\"POST\",\"url\":\"Observation\"}}]}",
		 heart_rate("\"id\":\"stream-1\",", "Patient/stream-p", 77));
	r = post_bundle(&s, body);
	assert_int_equal(r.code, 200);
	j = json_of(&r);
	assert_string_equal(resp_str(j, 0, "status"), "201 Created");
	assert_string_equal(resp_str(j, 0, "location"), "Observation/stream-1");
	json_decref(j);
	free(r.body);
	{
		int seen = 0;

		/* the stream applies it soon; ask until it has (no time is asserted) */
		for (int tries = 0; tries < 600 && !seen; tries++) {
			r = get(&s, "/api/v1/patients/stream-p/vitals?from=2026-11-21T00:00:00Z"
				    "&to=2026-11-22T00:00:00Z&resolution=raw", s.token, NULL);
			seen = r.code == 200 && strstr(r.body, "\"heart_rate\"") != NULL;
			free(r.body);
			if (!seen)
				usleep(50000);
		}
		assert_true(seen);
	}

	/* a restart keeps every version */
	assert_int_equal(server_stop(&s), 0);
	server_start(&s, bin, data, NULL);
	snprintf(path, sizeof(path), "/fhir/Observation?patient=Patient/%s", pid);
	assert_int_equal(total_of(&s, path), 2);
	r = get(&s, "/fhir/Practitioner/dr-tx", s.token, NULL);
	assert_int_equal(r.code, 200);
	assert_string_equal(r.etag, "W/\"2\"");
	assert_non_null(strstr(r.body, "Doe-Smith"));
	free(r.body);
	snprintf(path, sizeof(path), "/fhir/Observation/%s", o2);
	assert_int_equal(code_of(&s, path, s.token, NULL), 410);
	assert_int_equal(total_of(&s, "/fhir/Patient?family=Batchy"), 1);
	assert_int_equal(total_of(&s, "/fhir/Patient?family=Rollback"), 0);

	/* every Bundle is in the audit trail, the refused ones too, with
	 * FHIR's interaction as its subtype */
	r = get(&s, "/fhir/AuditEvent?_count=1000", s.token, NULL);
	assert_int_equal(r.code, 200);
	j = json_of(&r);
	{
		json_t *e;
		size_t k;
		int tx = 0, batch = 0;

		json_array_foreach(json_object_get(j, "entry"), k, e) {
			const char *sub = json_string_value(json_object_get(json_array_get(
				json_object_get(json_object_get(e, "resource"), "subtype"), 0), "code"));

			tx += sub && strcmp(sub, "transaction") == 0;
			batch += sub && strcmp(sub, "batch") == 0;
		}
		assert_true(tx >= 3);
		assert_true(batch >= 1);
	}
	json_decref(j);
	free(r.body);
	assert_int_equal(server_stop(&s), 0);
}

static const struct CMUnitTest tests[] = {
	cmocka_unit_test(test_bundles),
};

SERVE_TEST_MAIN(tests)
