/*
 * OpenID Connect tokens against `carelake serve`, minted by an independent
 * implementation: tests/jose/jwt.mjs (the npm jose package) makes an RS256
 * and an ES256 key on every run, writes their JWKS and signs one token of
 * each case. Valid tokens are accepted and act with the role their claim
 * names (a clinician reads vitals, an engineer or researcher may not: 403);
 * a patient's token sees its own patient only; SMART scopes narrow FHIR
 * reads to the types they name; every bad token (expired,
 * not yet valid, wrong issuer, wrong audience, wrong signature, unknown
 * kid, alg none, HS256, malformed, no role) gets 401 with
 * WWW-Authenticate: Bearer error="invalid_token" and a reason that does
 * not hold the token. carelake's own tokens keep working beside them.
 *
 * usage: runtime_jwt /path/to/carelake /path/to/tests/jose/jwt.mjs
 */
#include "serve_helpers.h"

#include <jansson.h>

#define ISS "https://idp.example.org/realms/hospital"
#define AUD "carelake-api"

static const char *mint_script;
static json_t *tokens;

static const char *tok(const char *name)
{
	const char *t = json_string_value(json_object_get(tokens, name));

	if (!t)
		fail_msg("jwt.mjs made no token '%s'", name);
	return t;
}

struct answer {
	long code;
	char *body;
	size_t len;
	char www[256];
};

static size_t take_body(char *p, size_t sz, size_t n, void *arg)
{
	struct answer *a = arg;

	a->body = realloc(a->body, a->len + sz * n + 1);
	memcpy(a->body + a->len, p, sz * n);
	a->len += sz * n;
	a->body[a->len] = '\0';
	return sz * n;
}

static size_t take_header(char *p, size_t sz, size_t n, void *arg)
{
	struct answer *a = arg;

	if (strncasecmp(p, "WWW-Authenticate:", 17) == 0)
		snprintf(a->www, sizeof(a->www), "%.*s", (int)strcspn(p + 17, "\r\n"), p + 17);
	return sz * n;
}

/* GET path with the bearer token. */
static struct answer get(const struct server *s, const char *path, const char *token)
{
	struct answer a = { 0 };
	struct curl_slist *h = NULL;
	char url[512], auth[20000];
	CURL *c = curl_easy_init();

	snprintf(url, sizeof(url), "%s%s", s->url, path);
	snprintf(auth, sizeof(auth), "Authorization: Bearer %s", token);
	h = curl_slist_append(h, auth);
	curl_easy_setopt(c, CURLOPT_URL, url);
	curl_easy_setopt(c, CURLOPT_HTTPHEADER, h);
	curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, take_body);
	curl_easy_setopt(c, CURLOPT_WRITEDATA, &a);
	curl_easy_setopt(c, CURLOPT_HEADERFUNCTION, take_header);
	curl_easy_setopt(c, CURLOPT_HEADERDATA, &a);
	curl_easy_setopt(c, CURLOPT_TIMEOUT, 30L);
	if (curl_easy_perform(c) == CURLE_OK)
		curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &a.code);
	else
		a.code = -1;
	curl_slist_free_all(h);
	curl_easy_cleanup(c);
	if (!a.body)
		a.body = calloc(1, 1);
	return a;
}

static void expect(const struct server *s, const char *path, const char *name, long code)
{
	struct answer a = get(s, path, tok(name));

	if (a.code != code)
		fail_msg("GET %s with token %s: %ld, not %ld (%s)", path, name, a.code, code, a.body);
	free(a.body);
}

/* The bad token is refused with 401, the Bearer challenge, and a reason
 * (holding `why`) that does not repeat the token. */
static void refused(const struct server *s, const char *name, const char *why)
{
	const char *t = tok(name);
	struct answer a = get(s, "/api/v1/alerts", t);
	const char *dot = strrchr(t, '.');

	if (a.code != 401)
		fail_msg("token %s: %ld, not 401 (%s)", name, a.code, a.body);
	if (!strstr(a.www, "Bearer") || !strstr(a.www, "error=\"invalid_token\""))
		fail_msg("token %s: WWW-Authenticate is '%s'", name, a.www);
	if (!strstr(a.body, why))
		fail_msg("token %s: the reason '%s' does not say '%s'", name, a.body, why);
	assert_null(strstr(a.body, t));
	if (dot && strlen(dot + 1) > 10)
		assert_null(strstr(a.body, dot + 1));  /* nor its signature */
	free(a.body);
}

static void post_event(const struct server *s, const char *id, const char *patient, double hr)
{
	struct reply r = post(s, test_event(id, "m1", patient, "heart_rate", hr, "/min"));

	if (r.code != 200)
		fail_msg("posting %s: %ld %s", id, r.code, r.body);
	free(r.body);
}

/* Waits (up to 10 s) until the admin token sees an alert of patient. */
static void wait_alert(const struct server *s, const char *patient)
{
	char path[200];

	snprintf(path, sizeof(path), "/api/v1/alerts?patient=%s", patient);
	for (int i = 0; i < 200 * cl_test_slowdown(); i++) {
		struct reply r = http(s, "GET", path, s->token, NULL, 0);
		int seen = r.code == 200 && strstr(r.body, "\"rule\"") != NULL;

		free(r.body);
		if (seen)
			return;
		usleep(50000);
	}
	fail_msg("no alert of %s appeared", patient);
}

static void test_jwt_serve(void **state)
{
	char data[300], jwks[600], cmd[2000], path[600], set_iss[300], set_aud[300], set_jwks[700];
	struct server s;
	struct answer a;
	json_error_t err;

	(void)state;
	snprintf(cmd, sizeof(cmd), "node '%s' '%s' '%s' '%s' 2>&1", mint_script, dir, ISS, AUD);
	if (system(cmd) != 0)
		fail_msg("jwt.mjs failed (is jose installed? scripts/deps.sh runs npm install in "
			 "tests/jose): %s", cmd);
	snprintf(path, sizeof(path), "%s/tokens.json", dir);
	tokens = json_load_file(path, 0, &err);
	assert_non_null(tokens);
	snprintf(jwks, sizeof(jwks), "%s/jwks.json", dir);
	snprintf(data, sizeof(data), "%s/data", dir);
	snprintf(set_iss, sizeof(set_iss), "auth.oidc.issuer=%s", ISS);
	snprintf(set_aud, sizeof(set_aud), "auth.oidc.audience=%s", AUD);
	snprintf(set_jwks, sizeof(set_jwks), "auth.oidc.jwks=%s", jwks);
	/* a Patient and an Observation to read over FHIR */
	{
		char file[400];
		FILE *f;

		snprintf(file, sizeof(file), "%s/records.ndjson", dir);
		f = fopen(file, "w");
		assert_non_null(f);
		fputs("{\"resourceType\":\"Patient\",\"id\":\"p-1\"}\n"
		      "{\"resourceType\":\"Observation\",\"id\":\"o-1\",\"status\":\"final\","
		      "\"code\":{\"coding\":[{\"system\":\"http://loinc.org\",\"code\":\"8867-4\"}]},"
		      "\"subject\":{\"reference\":\"Patient/p-1\"},"
		      "\"effectiveDateTime\":\"2026-11-01T08:00:00Z\","
		      "\"valueQuantity\":{\"value\":72,\"unit\":\"/min\"}}\n", f);
		fclose(f);
		snprintf(cmd, sizeof(cmd), "'%s' ingest --data '%s' '%s' >/dev/null 2>&1", bin, data,
			 file);
		assert_int_equal(system(cmd), 0);
	}
	{
		const char *extra[] = { "--set", set_iss, "--set", set_aud, "--set", set_jwks,
					CL_TEST_ONE_READING_ALERTS, NULL };

		server_start(&s, bin, data, extra);
	}

	/* events of two patients, posted with carelake's own admin token */
	post_event(&s, "e1", "p-1", 150);
	post_event(&s, "e2", "p-2", 150);
	wait_alert(&s, "p-1");
	wait_alert(&s, "p-2");

	/* valid tokens, RS256 and ES256, act with their role */
	expect(&s, "/api/v1/alerts", "admin_rs256", 200);
	expect(&s, "/api/v1/patients/p-1/vitals", "admin_rs256", 200);
	expect(&s, "/api/v1/patients/p-2/vitals", "clinician_es256", 200);
	expect(&s, "/api/v1/alerts", "clinician_es256", 200);
	expect(&s, "/api/v1/patients/p-1/vitals", "engineer", 403);
	expect(&s, "/api/v1/alerts", "researcher", 403);
	a = get(&s, "/api/v1/patients/p-2/vitals", tok("clinician_es256"));
	assert_non_null(strstr(a.body, "\"vitals\""));
	free(a.body);

	/* SMART scopes narrow FHIR reads to the types they name */
	expect(&s, "/fhir/Observation/o-1", "clinician_observations", 200);
	expect(&s, "/fhir/Patient/p-1", "clinician_observations", 403);
	expect(&s, "/fhir/Patient/p-1", "clinician_es256", 200);
	/* and FHIR writes to the types and the ways (c, u, d) they grant */
	{
		static const char pat[] = "{\"resourceType\":\"Patient\",\"id\":\"p-jwt\"}";
		static const char obs[] = "{\"resourceType\":\"Observation\",\"id\":\"o-jwt\","
					  "\"status\":\"final\",\"code\":{\"text\":\"x\"}}";
		const char *ct = "Content-Type: application/fhir+json";
		struct reply w;

		w = http_h(&s, "PUT", "/fhir/Patient/p-jwt", tok("clinician_patient_cu"), pat,
			   strlen(pat), ct, NULL);
		if (w.code != 201)
			fail_msg("PUT: %ld %s", w.code, w.body);
		free(w.body);
		w = http_h(&s, "DELETE", "/fhir/Patient/p-jwt", tok("clinician_patient_cu"), NULL, 0,
			   NULL, NULL);
		assert_int_equal(w.code, 403); /* c and u granted, not d */
		free(w.body);
		w = http_h(&s, "PUT", "/fhir/Observation/o-jwt", tok("clinician_patient_cu"), obs,
			   strlen(obs), ct, NULL);
		assert_int_equal(w.code, 403);
		free(w.body);
	}

	/* a patient's token sees its own patient, and no other */
	expect(&s, "/api/v1/patients/p-1/vitals", "patient_p1", 200);
	expect(&s, "/api/v1/patients/p-2/vitals", "patient_p1", 404);
	expect(&s, "/api/v1/patients/p-2/vitals", "patient_fhiruser_p2", 200);
	expect(&s, "/api/v1/patients/p-1/vitals", "patient_fhiruser_p2", 404);
	a = get(&s, "/api/v1/alerts", tok("patient_p1"));
	assert_int_equal(a.code, 200);
	assert_non_null(strstr(a.body, "\"p-1\""));
	assert_null(strstr(a.body, "\"p-2\""));
	free(a.body);
	a = get(&s, "/api/v1/alerts?patient=p-2", tok("patient_p1"));
	assert_int_equal(a.code, 200);
	assert_null(strstr(a.body, "\"p-2\""));
	free(a.body);
	a = get(&s, "/api/v1/alerts", tok("admin_rs256"));
	assert_non_null(strstr(a.body, "\"p-2\""));  /* there was one to hide */
	free(a.body);

	/* every kind of bad token: 401 */
	refused(&s, "expired", "expired");
	refused(&s, "not_yet_valid", "not valid yet");
	refused(&s, "wrong_issuer", "issuer");
	refused(&s, "wrong_audience", "audience");
	refused(&s, "wrong_signature", "signature does not verify");
	refused(&s, "unknown_kid", "kid names no key");
	refused(&s, "alg_none", "alg none");
	refused(&s, "hs256", "shared secret");
	refused(&s, "malformed_base64", "not base64url");
	refused(&s, "no_role", "names no carelake role");
	/* two parts is not a JWT's shape: carelake's own tokens say no */
	a = get(&s, "/api/v1/alerts", tok("malformed_parts"));
	assert_int_equal(a.code, 401);
	assert_non_null(strstr(a.www, "error=\"invalid_token\""));
	free(a.body);
	assert_int_equal(server_stop(&s), 0);

	/* no token or secret in serve's log */
	{
		FILE *f = fopen(s.out_path, "r");
		char *log = NULL;
		size_t cap = 0;

		assert_non_null(f);
		if (getdelim(&log, &cap, '\0', f) < 0) {
			free(log);
			log = strdup("");
		}
		fclose(f);
		assert_null(strstr(log, strrchr(tok("admin_rs256"), '.') + 1));
		assert_null(strstr(log, strrchr(tok("expired"), '.') + 1));
		free(log);
	}

	/* a bad OpenID Connect setting stops serve from starting */
	{
		char out[600];
		int st;

		snprintf(cmd, sizeof(cmd), "'%s' serve --data '%s' --listen 127.0.0.1:0 --set '%s' "
			 "--set '%s' > '%s/bad.out' 2>&1", bin, data, set_iss, set_jwks, dir);
		st = system(cmd);
		assert_true(WIFEXITED(st) && WEXITSTATUS(st) != 0);
		snprintf(out, sizeof(out), "%s/bad.out", dir);
		{
			FILE *f = fopen(out, "r");
			char line[1024];
			int said = 0;

			assert_non_null(f);
			while (fgets(line, sizeof(line), f))
				said |= strstr(line, "auth.oidc.audience") != NULL;
			fclose(f);
			assert_true(said);
		}
	}
	json_decref(tokens);
}

int main(int argc, char **argv)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_jwt_serve),
	};
	int rc;

	if (argc < 3) {
		fprintf(stderr, "usage: %s /path/to/carelake /path/to/jwt.mjs\n", argv[0]);
		return 2;
	}
	bin = argv[1];
	mint_script = argv[2];
	curl_global_init(CURL_GLOBAL_DEFAULT);
	cl_test_tmpdir(dir, sizeof(dir));
	rc = cmocka_run_group_tests(tests, NULL, NULL);
	cl_test_rmtree(dir);
	curl_global_cleanup();
	return rc;
}
