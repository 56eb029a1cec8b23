/*
 * `carelake serve` over HTTP: tokens, every documented answer to good and
 * bad input (and the server keeps serving), durable acknowledgement,
 * duplicates across a restart, 413 and 503 with Retry-After.
 *
 * Usage: test_serve /path/to/carelake
 */
#include "serve_helpers.h"
#include "bronze/cl_reader.h"
#include "core/cl_time.h"

#include <jansson.h>
#include <pthread.h>
#include <sys/stat.h>


static char *read_shared(const char *rel)
{
	char path[512];
	FILE *f;
	char *buf = NULL;
	size_t cap = 0;

	snprintf(path, sizeof(path), "%s/%s", shared, rel);
	f = fopen(path, "r");
	if (!f)
		fail_msg("cannot open %s", path);
	if (getdelim(&buf, &cap, '\0', f) < 0)
		fail_msg("cannot read %s", path);
	fclose(f);
	return buf;
}

static const char *event(const char *id, const char *type, double value, const char *unit)
{
	return test_event_fixed(id, "monitor-1", "patient-0001", type, value, unit);
}

static json_t *json_of(const struct reply *r)
{
	json_error_t err;
	json_t *j = json_loads(r->body, 0, &err);

	if (!j)
		fail_msg("response is not JSON: %s", r->body);
	return j;
}

static void test_auth_and_basics(void **state)
{
	struct server s;
	struct reply r;
	struct stat st;
	char data[300], path[400];

	(void)state;
	snprintf(data, sizeof(data), "%s/basics", dir);
	server_start(&s, bin, data, NULL);
	snprintf(path, sizeof(path), "%s/admin.token", data);
	assert_int_equal(stat(path, &st), 0);
	assert_int_equal(st.st_mode & 0777, 0600);
	assert_int_equal(strncmp(s.token, "clk_", 4), 0);

	r = http(&s, "GET", "/healthz", NULL, NULL, 0);
	assert_int_equal(r.code, 200);
	assert_non_null(strstr(r.body, "\"ok\""));
	free(r.body);
	r = http(&s, "GET", "/metrics", NULL, NULL, 0);
	assert_int_equal(r.code, 200);
	assert_non_null(strstr(r.body, "# TYPE carelake_bronze_commit_seconds histogram"));
	free(r.body);

	r = http(&s, "POST", "/api/v1/events", NULL, "{}", 2);
	assert_int_equal(r.code, 401);
	assert_non_null(strstr(r.body, "\"error\":\"unauthorized\""));
	free(r.body);
	r = http(&s, "POST", "/api/v1/events", "clk_0000", "{}", 2);
	assert_int_equal(r.code, 401);
	assert_non_null(strstr(r.body, "not valid"));
	assert_null(strstr(r.body, "clk_0000")); /* never echo a token */
	free(r.body);
	r = http(&s, "GET", "/nowhere", s.token, NULL, 0);
	assert_int_equal(r.code, 404);
	free(r.body);
	r = http(&s, "GET", "/api/v1/events", s.token, NULL, 0);
	assert_int_equal(r.code, 405);
	free(r.body);
	assert_int_equal(server_stop(&s), 0);
	/* the token never reaches the logs */
	{
		FILE *f = fopen(s.out_path, "r");
		char *all = NULL;
		size_t cap = 0;

		assert_non_null(f);
		if (getdelim(&all, &cap, '\0', f) < 0) {
			free(all);
			all = strdup("");
		}
		fclose(f);
		assert_null(strstr(all, s.token));
		assert_non_null(strstr(all, "admin.token"));
		free(all);
	}
	/* a restart keeps the same token */
	{
		struct server s2;

		server_start(&s2, bin, data, NULL);
		assert_string_equal(s2.token, s.token);
		r = post(&s2, event("after-restart", "heart_rate", 70, "/min"));
		assert_int_equal(r.code, 200);
		free(r.body);
		server_stop(&s2);
	}
}

static void test_events_and_errors(void **state)
{
	static const struct { const char *body; const char *error; } bad[] = {
		{ "{\"device_id\":\"m\",\"ts\":\"2026-11-22T06:00:00Z\",\"type\":\"heart_rate\",\"value\":70,\"unit\":\"/min\"}",
		  "missing field 'patient_id'" },
		{ "{\"device_id\":\"m\",\"patient_id\":\"p\",\"ts\":\"2026-11-22T06:00:00Z\",\"type\":\"blood_type\",\"value\":1}",
		  "unknown vital type 'blood_type'" },
		{ "{\"device_id\":\"m\",\"patient_id\":\"p\",\"ts\":\"2026-11-22T06:00:00Z\",\"type\":\"heart_rate\",\"value\":5000,\"unit\":\"/min\"}",
		  "outside the possible range" },
		{ "{\"device_id\":\"m\",\"patient_id\":\"p\",\"ts\":\"2099-01-01T00:00:00Z\",\"type\":\"heart_rate\",\"value\":70,\"unit\":\"/min\"}",
		  "in the future" },
	};
	const char *const extra[] = { "--set", "http.max_body_bytes=64KiB", NULL };
	struct server s;
	struct reply r;
	json_t *j;
	char data[300], body[4096];
	size_t n = 0;

	(void)state;
	snprintf(data, sizeof(data), "%s/events", dir);
	server_start(&s, bin, data, extra);

	/* one event */
	r = post(&s, event("e1", "heart_rate", 72, "/min"));
	assert_int_equal(r.code, 200);
	j = json_of(&r);
	assert_int_equal(json_integer_value(json_object_get(j, "accepted")), 1);
	assert_int_equal(json_integer_value(json_object_get(j, "duplicates")), 0);
	assert_int_equal(json_array_size(json_object_get(j, "rejected")), 0);
	json_decref(j);
	free(r.body);
	/* the same id again: a duplicate, not stored twice */
	r = post(&s, event("e1", "heart_rate", 72, "/min"));
	j = json_of(&r);
	assert_int_equal(json_integer_value(json_object_get(j, "accepted")), 0);
	assert_int_equal(json_integer_value(json_object_get(j, "duplicates")), 1);
	json_decref(j);
	free(r.body);

	/* an array: good ones accepted, each bad one rejected with its reason */
	n += (size_t)snprintf(body + n, sizeof(body) - n, "[%s", event("e2", "spo2", 97, "%"));
	for (size_t i = 0; i < 4; i++)
		n += (size_t)snprintf(body + n, sizeof(body) - n, ",%s", bad[i].body);
	n += (size_t)snprintf(body + n, sizeof(body) - n, ",%s]", event("e3", "temperature", 98.6, "[degF]"));
	r = post(&s, body);
	assert_int_equal(r.code, 200);
	j = json_of(&r);
	assert_int_equal(json_integer_value(json_object_get(j, "accepted")), 2);
	{
		json_t *rej = json_object_get(j, "rejected");

		assert_int_equal(json_array_size(rej), 4);
		for (size_t i = 0; i < 4; i++) {
			json_t *x = json_array_get(rej, i);

			assert_int_equal(json_integer_value(json_object_get(x, "index")), (int)i + 1);
			if (!strstr(json_string_value(json_object_get(x, "error")), bad[i].error))
				fail_msg("rejection %zu: '%s', wanted '%s'", i,
					 json_string_value(json_object_get(x, "error")), bad[i].error);
		}
	}
	json_decref(j);
	free(r.body);

	/* NDJSON */
	n = (size_t)snprintf(body, sizeof(body), "%s\n", event("e4", "respiratory_rate", 16, "/min"));
	n += (size_t)snprintf(body + n, sizeof(body) - n, "%s\n", event("e5", "systolic_bp", 16, "kPa"));
	r = post(&s, body);
	assert_int_equal(r.code, 200);
	assert_non_null(strstr(r.body, "\"accepted\":2"));
	free(r.body);

	/* bodies that are not events at all */
	r = post(&s, "this is not json");
	assert_int_equal(r.code, 400);
	assert_non_null(strstr(r.body, "\"error\":\"bad_request\""));
	assert_non_null(strstr(r.body, "not JSON"));
	free(r.body);
	r = post(&s, "");
	assert_int_equal(r.code, 400);
	free(r.body);
	{
		char *big = malloc(70000);

		memset(big, ' ', 70000);
		big[0] = '[';
		big[69999] = ']';
		r = http(&s, "POST", "/api/v1/events", s.token, big, 70000);
		assert_int_equal(r.code, 413);
		assert_non_null(strstr(r.body, "payload_too_large"));
		free(r.body);
		free(big);
	}
	/* still serving after all that */
	r = http(&s, "GET", "/healthz", NULL, NULL, 0);
	assert_int_equal(r.code, 200);
	free(r.body);
	r = post(&s, event("e6", "glucose", 5.5, "mmol/L"));
	assert_int_equal(r.code, 200);
	assert_non_null(strstr(r.body, "\"accepted\":1"));
	free(r.body);
	r = http(&s, "GET", "/metrics", NULL, NULL, 0);
	assert_non_null(strstr(r.body, "carelake_events_accepted_total 6"));
	assert_non_null(strstr(r.body, "carelake_events_rejected_total 4"));
	assert_non_null(strstr(r.body, "carelake_events_duplicate_total 1"));
	assert_non_null(strstr(r.body, "carelake_http_responses_total{code=\"413\"} 1"));
	assert_non_null(strstr(r.body, "carelake_stream_up 1\n"));
	assert_non_null(strstr(r.body, "carelake_store_commit_seconds_count "));
	assert_non_null(strstr(r.body, "carelake_store_commit_failures_total 0\n"));
	assert_non_null(strstr(r.body, "carelake_objstore_requests_total 0\n"));
	assert_non_null(strstr(r.body, "# TYPE carelake_objstore_retries_total counter\n"));
	free(r.body);
	assert_int_equal(server_stop(&s), 0);

	/* exactly the accepted events are in bronze, as sent */
	{
		struct cl_blog_reader *rd;
		struct cl_frame f;
		char src[400];
		const char *ids[] = { "e1", "e2", "e3", "e4", "e5", "e6" };
		int k = 0;

		snprintf(src, sizeof(src), "%s/bronze/vitals", data);
		assert_int_equal(cl_blog_reader_open(src, 0, UINT64_MAX, 1 << 20, &rd), 0);
		while (cl_blog_reader_next(rd, &f) == 1) {
			char want[32];

			assert_true(k < 6);
			snprintf(want, sizeof(want), "\"id\":\"%s\"", ids[k++]);
			assert_non_null(memmem(f.data, f.len, want, strlen(want)));
		}
		cl_blog_reader_close(rd);
		assert_int_equal(k, 6);
	}
	/* after a restart the ids are still remembered */
	server_start(&s, bin, data, extra);
	r = post(&s, event("e4", "respiratory_rate", 16, "/min"));
	assert_non_null(strstr(r.body, "\"duplicates\":1"));
	free(r.body);
	server_stop(&s);
}

struct slow_post {
	const struct server *s;
	const char *body;
	struct reply r;
};

static void *slow_post_main(void *arg)
{
	struct slow_post *p = arg;

	p->r = post(p->s, p->body);
	return NULL;
}

static void test_backpressure_503(void **state)
{
	/* commits wait up to 1 s to fill and at most 64 KiB may wait: the
	 * first body (over 64 KiB alone) fills the queue, and the next
	 * request arrives while it is still pending (1 s is the longest
	 * commit_max_wait: this window cannot scale with a slower build) */
	const char *const extra[] = { "--set", "bronze.pending_max_bytes=64KiB",
				      "--set", "bronze.commit_max_wait=1s",
				      "--set", "bronze.commit_max_records=1000000",
				      "--set", "bronze.commit_max_bytes=256MiB", NULL };
	struct slow_post first;
	struct server s;
	struct reply r;
	pthread_t th;
	char data[300], *body;
	size_t n = 0;

	(void)state;
	snprintf(data, sizeof(data), "%s/busy", dir);
	server_start(&s, bin, data, extra);
	body = malloc(500 * 260);
	body[n++] = '[';
	for (int i = 0; i < 500; i++) {
		char id[32];

		snprintf(id, sizeof(id), "b%d", i);
		n += (size_t)sprintf(body + n, "%s%s", i ? "," : "", event(id, "heart_rate", 70, "/min"));
	}
	body[n++] = ']';
	body[n] = '\0';
	first = (struct slow_post){ &s, body, { 0 } };
	pthread_create(&th, NULL, slow_post_main, &first);
	usleep(300000);
	r = post(&s, event("late", "heart_rate", 70, "/min"));
	assert_int_equal(r.code, 503);
	assert_non_null(strstr(r.body, "\"error\":\"busy\""));
	assert_string_equal(r.retry_after, " 1");
	free(r.body);
	pthread_join(th, NULL);
	assert_int_equal(first.r.code, 200);
	assert_non_null(strstr(first.r.body, "\"accepted\":500"));
	free(first.r.body);
	/* once the commit is done, the same event goes in */
	r = post(&s, event("late", "heart_rate", 70, "/min"));
	assert_int_equal(r.code, 200);
	assert_non_null(strstr(r.body, "\"accepted\":1"));
	free(r.body);
	free(body);
	server_stop(&s);
}

static void test_fhir(void **state)
{
	static const char *const examples[] = { "Observation-blood-pressure", "Observation-heart-rate",
						"Observation-body-temperature",
						"Observation-respiratory-rate", "Observation-bmi" };
	struct server s;
	struct reply r;
	char data[300], rel[200];
	json_t *j;

	(void)state;
	snprintf(data, sizeof(data), "%s/fhir", dir);
	server_start(&s, bin, data, NULL);
	r = http(&s, "GET", "/fhir/metadata", NULL, NULL, 0);
	assert_int_equal(r.code, 200);
	assert_non_null(strstr(r.body, "\"fhirVersion\":\"4.0.1\""));
	free(r.body);
	for (size_t i = 0; i < 5; i++) {
		char *body;

		snprintf(rel, sizeof(rel), "fhir-r4-examples/%s.json", examples[i]);
		body = read_shared(rel);
		r = http(&s, "POST", "/fhir/Observation", s.token, body, strlen(body));
		assert_int_equal(r.code, 201);
		assert_non_null(strstr(r.body, "\"resourceType\": \"Observation\""));
		free(r.body);
		/* again: already stored, 200 */
		r = http(&s, "POST", "/fhir/Observation", s.token, body, strlen(body));
		assert_int_equal(r.code, 200);
		free(r.body);
		free(body);
	}
	/* not an Observation: OperationOutcome */
	{
		char *body = read_shared("fhir-r4-examples/Patient-example.json");

		r = http(&s, "POST", "/fhir/Observation", s.token, body, strlen(body));
		assert_int_equal(r.code, 400);
		j = json_of(&r);
		assert_string_equal(json_string_value(json_object_get(j, "resourceType")),
				    "OperationOutcome");
		assert_non_null(strstr(r.body, "got resourceType 'Patient'"));
		json_decref(j);
		free(r.body);
		free(body);
	}
	/* a batch that is more than Observations for the stream: FHIR's REST
	 * interactions, each entry answered on its own (POST gives a new id,
	 * so the DELETE names nothing held; test_fhir_bundle.c has the rest) */
	{
		const char *batch =
			"{\"resourceType\":\"Bundle\",\"type\":\"batch\",\"entry\":["
			"{\"resource\":{\"resourceType\":\"Observation\",\"id\":\"b1\",\"status\":\"final\","
			"\"code\":{\"coding\":[{\"system\":\"http://loinc.org\",\"code\":\"59408-5\"}]},"
			"\"subject\":{\"reference\":\"Patient/p1\"},\"effectiveDateTime\":\"2026-11-21T10:00:00Z\","
			"\"valueQuantity\":{\"value\":97,\"code\":\"%\"}},\"request\":{\"method\":\"POST\",\"url\":\"Observation\"}},"
			"{\"resource\":{\"resourceType\":\"Patient\",\"id\":\"p1\"},\"request\":{\"method\":\"POST\",\"url\":\"Patient\"}},"
			"{\"request\":{\"method\":\"DELETE\",\"url\":\"Observation/b1\"}}]}";

		r = http(&s, "POST", "/fhir", s.token, batch, strlen(batch));
		assert_int_equal(r.code, 200);
		j = json_of(&r);
		assert_string_equal(json_string_value(json_object_get(j, "type")), "batch-response");
		{
			json_t *e = json_object_get(j, "entry");

			assert_int_equal(json_array_size(e), 3);
			assert_string_equal(json_string_value(json_object_get(json_object_get(
						    json_array_get(e, 0), "response"), "status")), "201 Created");
			assert_string_equal(json_string_value(json_object_get(json_object_get(
						    json_array_get(e, 1), "response"), "status")),
					    "201 Created");
			assert_string_equal(json_string_value(json_object_get(json_object_get(
						    json_array_get(e, 2), "response"), "status")),
					    "404 Not Found");
		}
		json_decref(j);
		free(r.body);
	}
	/* a transaction with a bad entry (a conditional update, not served)
	 * stores nothing */
	{
		char *body = read_shared("fhir-r4-examples/Bundle-bundle-transaction.json");

		r = http(&s, "POST", "/fhir", s.token, body, strlen(body));
		assert_int_equal(r.code, 400);
		assert_non_null(strstr(r.body, "OperationOutcome"));
		assert_non_null(strstr(r.body, "entry 3: conditional update"));
		free(r.body);
		r = http(&s, "GET", "/fhir/Patient/123", s.token, NULL, 0);
		assert_int_equal(r.code, 404);
		free(r.body);
		free(body);
	}
	r = http(&s, "POST", "/fhir/Observation", NULL, "{}", 2);
	assert_int_equal(r.code, 401);
	assert_non_null(strstr(r.body, "\"code\":\"login\""));
	free(r.body);
	r = http(&s, "POST", "/fhir/Observation", s.token, "{nope", 5);
	assert_int_equal(r.code, 400);
	assert_non_null(strstr(r.body, "OperationOutcome"));
	free(r.body);

	/* the stream processor applies the Observations' values like device
	 * events: the examples' patient has vitals and a NEWS2 */
	r = wait_body(&s, "/api/v1/patients/example/vitals?from=1990-01-01T00:00:00Z"
			  "&to=2030-01-01T00:00:00Z&resolution=raw", "\"news2\":{");
	assert_non_null(strstr(r.body, "\"systolic_bp\""));   /* the panel's components */
	assert_non_null(strstr(r.body, "\"diastolic_bp\""));
	assert_non_null(strstr(r.body, "\"heart_rate\""));
	assert_non_null(strstr(r.body, "\"respiratory_rate\""));
	assert_non_null(strstr(r.body, "\"temperature\""));
	assert_non_null(strstr(r.body, "\"news2\":{"));
	{
		char *fhir_rows = strdup(r.body);

		free(r.body);
		/* an Observation now raises an alert like an event would */
		{
			char obs[700], ts[40];

			cl_time_format_rfc3339(cl_time_now_us(), ts, sizeof(ts), 0);
			snprintf(obs, sizeof(obs),
				 "{\"resourceType\":\"Observation\",\"id\":\"o-spo2\",\"status\":\"final\","
				 "\"code\":{\"coding\":[{\"system\":\"http://loinc.org\",\"code\":\"59408-5\"}]},"
				 "\"subject\":{\"reference\":\"Patient/fhir-p\"},\"effectiveDateTime\":\"%s\","
				 "\"valueQuantity\":{\"value\":0.85,\"unit\":\"1\"}}", ts);
			r = http(&s, "POST", "/fhir/Observation", s.token, obs, strlen(obs));
			assert_int_equal(r.code, 201);
			free(r.body);
		}
		r = wait_body(&s, "/api/v1/alerts?patient=fhir-p", "\"rule\":\"spo2_low\"");
		free(r.body);
		/* a restart applies nothing twice */
		assert_int_equal(server_stop(&s), 0);
		server_start(&s, bin, data, NULL);
		usleep(300000 * (useconds_t)cl_test_slowdown());
		r = http(&s, "GET", "/api/v1/patients/example/vitals?from=1990-01-01T00:00:00Z"
				    "&to=2030-01-01T00:00:00Z&resolution=raw", s.token, NULL, 0);
		{
			/* the same rows (NEWS2 is computed at the same instant) */
			char *a = strstr(fhir_rows, "\"vitals\""), *b = strstr(r.body, "\"vitals\"");
			char *ae = strstr(fhir_rows, "\"news2\""), *be = strstr(r.body, "\"news2\"");

			assert_non_null(a);
			assert_non_null(b);
			assert_int_equal(ae - a, be - b);
			assert_memory_equal(a, b, (size_t)(ae - a));
		}
		free(r.body);
		free(fhir_rows);
		r = http(&s, "GET", "/api/v1/alerts?patient=fhir-p", s.token, NULL, 0);
		assert_non_null(strstr(r.body, "\"rule\":\"spo2_low\""));
		{
			char *second = strstr(r.body, "\"rule\":\"spo2_low\"");

			assert_null(strstr(second + 1, "\"rule\":\"spo2_low\""));
		}
		free(r.body);
	}
	assert_int_equal(server_stop(&s), 0);
	/* bronze holds the 5 examples, the batch (one record) and o-spo2, raw */
	{
		struct cl_blog_reader *rd;
		struct cl_frame f;
		char src[400];
		int n = 0;

		snprintf(src, sizeof(src), "%s/bronze/fhir", data);
		assert_int_equal(cl_blog_reader_open(src, 0, UINT64_MAX, 1 << 20, &rd), 0);
		while (cl_blog_reader_next(rd, &f) == 1)
			n++;
		cl_blog_reader_close(rd);
		assert_int_equal(n, 7);
	}
}

/* A batch Bundle of n heart-rate Observations with ids <prefix><k>. */
static char *fhir_batch(const char *prefix, int n)
{
	size_t cap = 64 + (size_t)n * 512, len;
	char *b = malloc(cap);

	assert_non_null(b);
	len = (size_t)snprintf(b, cap, "{\"resourceType\":\"Bundle\",\"type\":\"batch\",\"entry\":[");
	for (int k = 0; k < n; k++)
		len += (size_t)snprintf(b + len, cap - len,
					"%s{\"resource\":{\"resourceType\":\"Observation\",\"id\":\"%s%d\","
					"\"status\":\"final\",\"code\":{\"coding\":[{\"system\":"
					"\"http://loinc.org\",\"code\":\"8867-4\"}]},"
					"\"subject\":{\"reference\":\"Patient/big-p\"},"
					"\"effectiveDateTime\":\"2026-11-21T10:%02d:%02dZ\","
					"\"valueQuantity\":{\"value\":%d,\"code\":\"/min\"}},"
					"\"request\":{\"method\":\"POST\",\"url\":\"Observation\"}}",
					k ? "," : "", prefix, k, k / 60 % 60, k % 60, 60 + k % 40);
	snprintf(b + len, cap - len, "]}");
	return b;
}

/* Bundles of more than 64 entries, each posted twice: every entry is
 * answered in its place (201, then 200 as already stored), and the
 * server lives on (it used to free the answers' items from under itself
 * every 64 entries). */
static void test_fhir_large_bundles(void **state)
{
	static const int sizes[] = { 65, 300 };
	struct server s;
	struct reply r;
	char data[300];
	long stored = 0;

	(void)state;
	snprintf(data, sizeof(data), "%s/fhir-large", dir);
	server_start(&s, bin, data, NULL);
	for (size_t i = 0; i < 2; i++) {
		char prefix[16];
		char *b;

		snprintf(prefix, sizeof(prefix), "big%d-", sizes[i]);
		b = fhir_batch(prefix, sizes[i]);
		for (int round = 0; round < 2; round++) {
			json_t *j, *e;

			r = http(&s, "POST", "/fhir", s.token, b, strlen(b));
			if (r.code != 200)
				fail_msg("%d entries, round %d: %ld %s", sizes[i], round, r.code, r.body);
			j = json_of(&r);
			assert_string_equal(json_string_value(json_object_get(j, "type")),
					    "batch-response");
			e = json_object_get(j, "entry");
			assert_int_equal(json_array_size(e), (size_t)sizes[i]);
			for (int k = 0; k < sizes[i]; k++) {
				json_t *resp = json_object_get(json_array_get(e, (size_t)k), "response");
				char loc[64];

				snprintf(loc, sizeof(loc), "Observation/%s%d", prefix, k);
				assert_string_equal(json_string_value(json_object_get(resp, "status")),
						    round == 0 ? "201 Created" : "200 OK");
				assert_string_equal(json_string_value(json_object_get(resp, "location")),
						    loc);
			}
			json_decref(j);
			free(r.body);
			r = http(&s, "GET", "/healthz", NULL, NULL, 0);
			assert_int_equal(r.code, 200);
			free(r.body);
		}
		stored += sizes[i];
		free(b);
	}
	assert_int_equal(server_stop(&s), 0);
	/* each Observation stored once */
	{
		struct cl_blog_reader *rd;
		struct cl_frame f;
		char src[400];
		long n = 0;

		snprintf(src, sizeof(src), "%s/bronze/fhir", data);
		assert_int_equal(cl_blog_reader_open(src, 0, UINT64_MAX, 1 << 20, &rd), 0);
		while (cl_blog_reader_next(rd, &f) == 1)
			n++;
		cl_blog_reader_close(rd);
		assert_int_equal(n, stored);
	}
}

/* The status and OperationOutcome diagnostics of a batch-response entry. */
static void check_entry(json_t *bundle, size_t k, const char *status, const char *code,
			const char *diag)
{
	json_t *resp = json_object_get(json_array_get(json_object_get(bundle, "entry"), k), "response");
	json_t *issue = json_array_get(json_object_get(json_object_get(resp, "outcome"), "issue"), 0);

	assert_string_equal(json_string_value(json_object_get(resp, "status")), status);
	if (code) {
		assert_string_equal(json_string_value(json_object_get(issue, "code")), code);
		if (!strstr(json_string_value(json_object_get(issue, "diagnostics")), diag))
			fail_msg("entry %zu: '%s', wanted '%s'", k,
				 json_string_value(json_object_get(issue, "diagnostics")), diag);
	}
}

/* An Observation posted with `value` as its valueQuantity.value (JSON
 * text) and effectiveDateTime `when` (JSON text). */
static const char *observation(const char *id, const char *value, const char *when)
{
	static char buf[700];

	snprintf(buf, sizeof(buf),
		 "{\"resourceType\":\"Observation\",\"id\":\"%s\",\"status\":\"final\","
		 "\"code\":{\"coding\":[{\"system\":\"http://loinc.org\",\"code\":\"8867-4\"}]},"
		 "\"subject\":{\"reference\":\"Patient/conflict-p\"},\"effectiveDateTime\":%s,"
		 "\"valueQuantity\":{\"value\":%s,\"code\":\"/min\"}}", id, when, value);
	return buf;
}

/* An id reused for another content is answered as a conflict, before and
 * after a restart, and not stored; values of the wrong type and repeated
 * keys are rejected per record, naming the field. */
static void test_conflicts_and_malformed(void **state)
{
	const char *when = "\"2026-11-21T10:00:00Z\"";
	struct server s;
	struct reply r;
	char data[300], body[4096];
	json_t *j, *x;

	(void)state;
	snprintf(data, sizeof(data), "%s/conflicts", dir);
	server_start(&s, bin, data, NULL);
	for (int round = 0; round < 2; round++) {
		/* events: stored once; the same again a duplicate; another
		 * value under the id a conflict */
		r = post(&s, event("c1", "heart_rate", 72, "/min"));
		j = json_of(&r);
		assert_int_equal(json_integer_value(json_object_get(j, "accepted")), round == 0);
		assert_int_equal(json_integer_value(json_object_get(j, "duplicates")), round == 1);
		assert_null(json_object_get(j, "conflicts"));
		json_decref(j);
		free(r.body);
		r = post(&s, event("c1", "heart_rate", 80, "/min"));
		assert_int_equal(r.code, 200);
		j = json_of(&r);
		assert_int_equal(json_integer_value(json_object_get(j, "accepted")), 0);
		assert_int_equal(json_integer_value(json_object_get(j, "duplicates")), 0);
		assert_int_equal(json_integer_value(json_object_get(j, "conflicts")), 1);
		x = json_array_get(json_object_get(j, "rejected"), 0);
		assert_int_equal(json_integer_value(json_object_get(x, "index")), 0);
		assert_non_null(strstr(json_string_value(json_object_get(x, "error")),
				       "id 'c1' was already used for a different event: not stored"));
		json_decref(j);
		free(r.body);
		/* FHIR: 201, 200, then 409 */
		r = http(&s, "POST", "/fhir/Observation", s.token, observation("oc1", "72", when),
			 strlen(observation("oc1", "72", when)));
		assert_int_equal(r.code, round == 0 ? 201 : 200);
		free(r.body);
		r = http(&s, "POST", "/fhir/Observation", s.token, observation("oc1", "73", when),
			 strlen(observation("oc1", "73", when)));
		assert_int_equal(r.code, 409);
		j = json_of(&r);
		x = json_array_get(json_object_get(j, "issue"), 0);
		assert_string_equal(json_string_value(json_object_get(j, "resourceType")), "OperationOutcome");
		assert_string_equal(json_string_value(json_object_get(x, "code")), "conflict");
		assert_non_null(strstr(json_string_value(json_object_get(x, "diagnostics")),
				       "Observation/oc1 was already stored with a different content"));
		json_decref(j);
		free(r.body);
		if (round == 0) {
			assert_int_equal(server_stop(&s), 0);
			server_start(&s, bin, data, NULL); /* remembered across it */
		}
	}
	/* per record: a repeated key, a conflict, a good one */
	snprintf(body, sizeof(body), "[%s,", event("c2", "spo2", 97, "%"));
	snprintf(body + strlen(body), sizeof(body) - strlen(body), "%s,",
		 event("c1", "heart_rate", 81, "/min"));
	snprintf(body + strlen(body), sizeof(body) - strlen(body),
		 "{\"id\":\"c3\",\"device_id\":\"a\",\"patient_id\":\"p\",\"ts\":\"2026-11-21T10:00:00Z\","
		 "\"type\":\"heart_rate\",\"value\":1,\"value\":500,\"unit\":\"/min\"}]");
	r = post(&s, body);
	j = json_of(&r);
	assert_int_equal(json_integer_value(json_object_get(j, "accepted")), 1);
	assert_int_equal(json_integer_value(json_object_get(j, "conflicts")), 1);
	assert_int_equal(json_array_size(json_object_get(j, "rejected")), 2);
	x = json_array_get(json_object_get(j, "rejected"), 1);
	assert_int_equal(json_integer_value(json_object_get(x, "index")), 2);
	assert_string_equal(json_string_value(json_object_get(x, "error")),
			    "the key 'value' appears twice: send each field once");
	json_decref(j);
	free(r.body);
	/* FHIR, one Observation: a value that is a string */
	r = http(&s, "POST", "/fhir/Observation", s.token, observation("oc2", "\"fast\"", when),
		 strlen(observation("oc2", "\"fast\"", when)));
	assert_int_equal(r.code, 400);
	j = json_of(&r);
	x = json_array_get(json_object_get(j, "issue"), 0);
	assert_string_equal(json_string_value(json_object_get(x, "code")), "structure");
	assert_string_equal(json_string_value(json_object_get(x, "diagnostics")),
			    "Observation.valueQuantity.value must be a number, not a string");
	json_decref(j);
	free(r.body);
	/* a batch: a conflict, a time that is a number, an array for a value,
	 * a good one; each answered in its place */
	snprintf(body, sizeof(body), "{\"resourceType\":\"Bundle\",\"type\":\"batch\",\"entry\":["
		 "{\"resource\":%s},", observation("oc1", "74", when));
	snprintf(body + strlen(body), sizeof(body) - strlen(body), "{\"resource\":%s},",
		 observation("oc3", "72", "20261121"));
	snprintf(body + strlen(body), sizeof(body) - strlen(body), "{\"resource\":%s},",
		 observation("oc4", "[72]", when));
	snprintf(body + strlen(body), sizeof(body) - strlen(body), "{\"resource\":%s}]}",
		 observation("oc5", "72", when));
	r = http(&s, "POST", "/fhir", s.token, body, strlen(body));
	assert_int_equal(r.code, 200);
	j = json_of(&r);
	check_entry(j, 0, "409 Conflict", "conflict", "entry 0: Observation/oc1 was already stored");
	check_entry(j, 1, "400 Bad Request", "structure",
		    "entry 1: Observation.effectiveDateTime must be a string (a FHIR dateTime), not a number");
	check_entry(j, 2, "400 Bad Request", "structure",
		    "entry 2: Observation.valueQuantity.value must be a number, not an array");
	check_entry(j, 3, "201 Created", NULL, NULL);
	json_decref(j);
	free(r.body);
	/* a transaction holding a conflict stores nothing */
	snprintf(body, sizeof(body), "{\"resourceType\":\"Bundle\",\"type\":\"transaction\",\"entry\":["
		 "{\"resource\":%s},", observation("oc6", "72", when));
	snprintf(body + strlen(body), sizeof(body) - strlen(body), "{\"resource\":%s}]}",
		 observation("oc1", "75", when));
	r = http(&s, "POST", "/fhir", s.token, body, strlen(body));
	assert_int_equal(r.code, 400);
	assert_non_null(strstr(r.body, "\"code\":\"conflict\""));
	free(r.body);
	assert_int_equal(server_stop(&s), 0);
	/* bronze: c1 and c2; oc1 and oc5, each once, as first sent */
	{
		static const char *const want[][2] = {
			{ "vitals", "\"id\":\"c1\"" }, { "vitals", "\"id\":\"c2\"" },
			{ "fhir", "\"id\":\"oc1\"" }, { "fhir", "\"id\":\"oc5\"" },
		};
		int k = 0;

		for (int src = 0; src < 2; src++) {
			struct cl_blog_reader *rd;
			struct cl_frame f;
			char path[400];

			snprintf(path, sizeof(path), "%s/bronze/%s", data, src ? "fhir" : "vitals");
			assert_int_equal(cl_blog_reader_open(path, 0, UINT64_MAX, 1 << 20, &rd), 0);
			while (cl_blog_reader_next(rd, &f) == 1) {
				assert_true(k < 4);
				assert_non_null(memmem(f.data, f.len, want[k][1], strlen(want[k][1])));
				if (k == 0)
					assert_non_null(memmem(f.data, f.len, "\"value\":72", 10));
				if (k == 2)
					assert_non_null(memmem(f.data, f.len, "\"value\":72", 10));
				k++;
			}
			cl_blog_reader_close(rd);
		}
		assert_int_equal(k, 4);
	}
}

static long silver_rows(const char *data, const char *where)
{
	char sql[600];

	snprintf(sql, sizeof(sql), "SELECT count(*) FROM observation WHERE %s", where);
	return query_long(data, sql);
}

/* serve refines what arrives into silver on its own, every refine.interval */
static void test_refined_into_silver(void **state)
{
	const char *extra[] = { "--set", "refine.interval=100ms", NULL };
	struct server s;
	struct reply r;
	char data[300];
	long n = -1;

	(void)state;
	snprintf(data, sizeof(data), "%s/refined", dir);
	server_start(&s, bin, data, extra);
	r = post(&s, test_event("s1", "m1", "px", "heart_rate", 88, "/min"));
	assert_int_equal(r.code, 200);
	free(r.body);
	r = post(&s, test_event("s2", "m1", "px", "spo2", 0.97, "1"));
	assert_int_equal(r.code, 200);
	free(r.body);
	for (int i = 0; i < 100 * cl_test_slowdown() && n != 2; i++) {
		usleep(50000);
		n = silver_rows(data, "patient_id = 'px' AND source = 'device'");
	}
	assert_int_equal(n, 2);
	assert_int_equal(silver_rows(data, "patient_id = 'px' AND code = '59408-5' AND value = 97"), 1);
	assert_int_equal(server_stop(&s), 0);
}

static const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_auth_and_basics),
		cmocka_unit_test(test_events_and_errors),
		cmocka_unit_test(test_backpressure_503),
		cmocka_unit_test(test_fhir),
		cmocka_unit_test(test_fhir_large_bundles),
		cmocka_unit_test(test_conflicts_and_malformed),
		cmocka_unit_test(test_refined_into_silver),
};

SERVE_TEST_MAIN(tests)
