/*
 * Who may call what, end to end: `carelake serve` runs, `carelake token
 * issue` makes a token of every role (the CLI, as an operator would), and
 * every route of the route table (src/serve/cl_routes.c) is called with
 * each: a route its rule allows the role answers anything but 401 and 403,
 * one it does not answers 403; a public route answers every caller. With
 * no token, a malformed one, a revoked one (`carelake token revoke` on the
 * running server) and an expired one, every token route answers 401 with
 * WWW-Authenticate. A patient token sees its own patient's vitals and gets
 * 404 for another's. The expectations come from the same tables the server
 * enforces (cl_routes, cl_route_allows: a Bulk Data export route also
 * takes export-deidentified), so neither can drift.
 */
#include "cl_test.h"
#include "serve_helpers.h"
#include "auth/cl_access.h"
#include "serve/cl_route.h"

#include <curl/curl.h>

struct answer {
	long code;
	int www_authenticate;
};

static size_t drop(char *p, size_t sz, size_t n, void *arg)
{
	(void)p;
	(void)arg;
	return sz * n;
}

static size_t headers(char *p, size_t sz, size_t n, void *arg)
{
	struct answer *a = arg;

	if (strncasecmp(p, "WWW-Authenticate:", 17) == 0 && strstr(p, "Bearer"))
		a->www_authenticate = 1;
	return sz * n;
}

/* One request; the live stream never ends, so a short timeout and the
 * status its head carried. */
static struct answer call(const struct server *s, const char *method, const char *path,
			  const char *token)
{
	struct curl_slist *h = NULL;
	struct answer a = { 0 };
	char url[512], auth[200];
	CURL *c = curl_easy_init();
	CURLcode rc;

	snprintf(url, sizeof(url), "%s%s", s->url, path);
	curl_easy_setopt(c, CURLOPT_URL, url);
	curl_easy_setopt(c, CURLOPT_CUSTOMREQUEST, method);
	curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, drop);
	curl_easy_setopt(c, CURLOPT_HEADERFUNCTION, headers);
	curl_easy_setopt(c, CURLOPT_HEADERDATA, &a);
	curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, 2000L);
	if (token) {
		snprintf(auth, sizeof(auth), "Authorization: Bearer %s", token);
		h = curl_slist_append(h, auth);
	}
	h = curl_slist_append(h, "Content-Type: application/json");
	h = curl_slist_append(h, "Expect:");
	curl_easy_setopt(c, CURLOPT_HTTPHEADER, h);
	if (strcmp(method, "POST") == 0)
		curl_easy_setopt(c, CURLOPT_POSTFIELDS, "{}");
	rc = curl_easy_perform(c);
	if (rc == CURLE_OK || rc == CURLE_OPERATION_TIMEDOUT)
		curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &a.code);
	if (!a.code)
		fprintf(stderr, "%s %s: %s\n", method, path, curl_easy_strerror(rc));
	curl_slist_free_all(h);
	curl_easy_cleanup(c);
	return a;
}

/* The route's pattern with its parameter filled in. */
static void path_of(const struct cl_route *rt, const char *patient, char *buf, size_t cap)
{
	const char *open = strchr(rt->pattern, '{');
	const char *close = open ? strchr(open, '}') : NULL;

	if (!open || !close) {
		snprintf(buf, cap, "%s", rt->pattern);
		return;
	}
	snprintf(buf, cap, "%.*s%s%s", (int)(open - rt->pattern), rt->pattern,
		 strstr(rt->pattern, "patients") ? patient : "1", close + 1);
}

static void test_role_by_route(void **state)
{
	char data[300], toks[CL_ROLES][128], revoked[128], revoked_id[32], expired[128];
	char path[256], args[256];
	const char *unlimited[] = { "--set", "http.auth_failures=1000000", NULL };
	struct server s;
	int checked = 0;

	(void)state;
	snprintf(data, sizeof(data), "%s/access", dir);
	/* every bad token is a failure from 127.0.0.1: let them all be
	 * answered 401 (runtime_audit_serve tests the limit) */
	server_start(&s, bin, data, unlimited);
	for (int r = 0; r < CL_ROLES; r++) {
		const char *name = cl_role_name((enum cl_role)r);

		snprintf(args, sizeof(args), "issue --role %s --name test-%s%s%s", name, name,
			 r == CL_ROLE_PATIENT ? " --patient patient-0001" : "",
			 r == CL_ROLE_DEVICE ? " --device monitor-0001" : "");
		token_cli(data, toks[r], NULL, args);
		assert_int_equal(strncmp(toks[r], "clk_", 4), 0);
	}
	token_cli(data, revoked, revoked_id, "issue --role admin --name gone");
	snprintf(args, sizeof(args), "revoke %s", revoked_id);
	token_cli(data, NULL, NULL, args);
	token_cli(data, expired, NULL, "issue --role admin --expires 1s");
	usleep(1300000);

	for (const struct cl_route *rt = cl_routes; rt->pattern; rt++) {
		const char *method = rt->method == CL_POST ? "POST" : rt->method == CL_PUT ? "PUT"
				     : rt->method == CL_DELETE ? "DELETE" : "GET";
		const char *bad[] = { NULL, "clk_not-a-token", revoked, expired };

		path_of(rt, "patient-0001", path, sizeof(path));
		for (int r = 0; r < CL_ROLES; r++) {
			struct answer a = call(&s, method, path, toks[r]);
			int allowed = rt->rule.action < 0 || cl_route_allows(rt, (enum cl_role)r);

			if (a.code <= 0 || (allowed && (a.code == 401 || a.code == 403)) ||
			    (!allowed && a.code != 403))
				fail_msg("%s %s as %s: %ld, want %s", method, path,
					 cl_role_name((enum cl_role)r), a.code,
					 allowed ? "not 401/403" : "403");
			checked++;
		}
		for (size_t b = 0; b < sizeof(bad) / sizeof(bad[0]); b++) {
			struct answer a = call(&s, method, path, bad[b]);

			if (rt->rule.action < 0) {
				if (a.code == 401 || a.code == 403 || a.code <= 0)
					fail_msg("public %s %s: %ld", method, path, a.code);
			} else if (a.code != 401 || !a.www_authenticate) {
				fail_msg("%s %s with %s token: %ld%s, want 401 with WWW-Authenticate",
					 method, path, b == 0 ? "no" : b == 1 ? "a malformed"
					 : b == 2 ? "a revoked" : "an expired", a.code,
					 a.www_authenticate ? "" : " (no WWW-Authenticate)");
			}
			checked++;
		}
	}
	/* a patient token: its own patient, and no other */
	assert_int_not_equal(call(&s, "GET", "/api/v1/patients/patient-0001/vitals",
				  toks[CL_ROLE_PATIENT]).code, 403);
	assert_int_equal(call(&s, "GET", "/api/v1/patients/patient-0002/vitals",
			      toks[CL_ROLE_PATIENT]).code, 404);
	fprintf(stderr, "checked %d route x caller pairs\n", checked);
	assert_int_equal(server_stop(&s), 0);
}

static const struct CMUnitTest tests[] = {
	cmocka_unit_test(test_role_by_route),
};

SERVE_TEST_MAIN(tests)
