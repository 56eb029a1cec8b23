/*
 * The dashboards over HTTP, end to end against `carelake serve`: the
 * pages and files with their security headers (a strict CSP, nosniff,
 * no referrer), types and ETags (304); signing in with a token (the
 * cookie HttpOnly, SameSite=Strict, Path=/, Secure only behind TLS),
 * reading with the cookie, a change by cookie refused without carelake's
 * header or from another origin, signing out (the cookie then reads
 * nothing), a revoked token ending its sessions, a patient refused the
 * board (403) and listing its own patient only; no token or session id in
 * the log; the readmission risk's panel and table in their pages and the
 * APIs they read, with no model promoted.
 */
#include "cl_test.h"
#include "serve_helpers.h"
#include "raw_http.h"
#include "fhir_helpers.h"

#define CSP "Content-Security-Policy: default-src 'self'; script-src 'self'; style-src 'self'; " \
	    "img-src 'self'; connect-src 'self'; object-src 'none'; base-uri 'none'; "     \
	    "form-action 'self'; frame-ancestors 'none'\r\n"

static struct server srv;
static char data[300], clin[128], pat[128], clin_id[32];

static int setup(void **state)
{
	const char *extra[] = { "--log-level", "info", NULL };
	char ev[2200];

	(void)state;
	snprintf(data, sizeof(data), "%s/web", dir);
	server_start(&srv, bin, data, extra);
	token_cli(data, clin, clin_id, "issue --role clinician --name nurse-web");
	token_cli(data, pat, NULL, "issue --role patient --patient web-p1 --name pat-web");
	snprintf(ev, sizeof(ev), "[%s,", test_event("w1", "m-w1", "web-p1", "heart_rate", 80, "/min"));
	snprintf(ev + strlen(ev), sizeof(ev) - strlen(ev), "%s]",
		 test_event("w2", "m-w2", "web-p2", "heart_rate", 90, "/min"));
	{
		struct reply r = post(&srv, ev);

		assert_int_equal(r.code, 200);
		free(r.body);
	}
	/* the stream scores them a moment later: from a pulse alone, a
	 * partial score (one of NEWS2's seven parameters) */
	for (int tries = 0; tries < 1000 * cl_test_slowdown(); tries++) {
		struct reply r = http(&srv, "GET", "/api/v1/patients", srv.token, NULL, 0);
		int both = strstr(r.body, "web-p1") && strstr(r.body, "web-p2");

		if (both)
			assert_non_null(strstr(r.body, "\"parameters\":1"));
		free(r.body);
		if (both)
			break;
		usleep(10000);
	}
	return 0;
}

static int stream_fd = -1;   /* a live stream left open for the stop */

static int teardown(void **state)
{
	(void)state;
	/* stopped with a live stream open and waiting for data (its
	 * connection suspended): a clean stop, not libmicrohttpd's abort */
	assert_int_equal(server_stop(&srv), 0);
	if (stream_fd >= 0)
		close(stream_fd);
	return 0;
}

/* The value of the cookie a reply sets ("" if none) into out[cap]. */
static void cookie_of(const struct reply *r, char *out, size_t cap)
{
	const char *p = strstr(r->headers, "Set-Cookie: carelake_session=");

	out[0] = '\0';
	if (p)
		snprintf(out, cap, "%.*s", (int)strcspn(p + 12, ";\r\n"), p + 12);
}

static struct reply sign_in(const char *token, const char *h1, const char *h2)
{
	return http_h(&srv, "POST", "/app/session", token, NULL, 0, h1, h2);
}

static void test_pages_and_headers(void **state)
{
	struct reply r;
	char inm[128];

	(void)state;
	r = http(&srv, "GET", "/", NULL, NULL, 0);
	assert_int_equal(r.code, 200);
	assert_non_null(strstr(r.headers, "Content-Type: text/html; charset=utf-8\r\n"));
	assert_non_null(strstr(r.headers, CSP));
	assert_non_null(strstr(r.headers, "X-Content-Type-Options: nosniff\r\n"));
	assert_non_null(strstr(r.headers, "Referrer-Policy: no-referrer\r\n"));
	assert_non_null(strstr(r.headers, "Cache-Control: no-cache\r\n"));
	assert_true(r.etag[0] == '"');
	/* no inline script or style in the page */
	assert_null(strstr(r.body, "<script>"));
	assert_null(strstr(r.body, "style="));
	assert_null(strstr(r.body, "onclick"));
	snprintf(inm, sizeof(inm), "If-None-Match: %s", r.etag);
	free(r.body);
	r = http_h(&srv, "GET", "/", NULL, NULL, 0, inm, NULL);
	assert_int_equal(r.code, 304);
	assert_int_equal(r.len, 0);
	free(r.body);
	r = http(&srv, "GET", "/app/board.js", NULL, NULL, 0);
	assert_int_equal(r.code, 200);
	assert_non_null(strstr(r.headers, "Content-Type: text/javascript; charset=utf-8\r\n"));
	assert_non_null(strstr(r.headers, CSP));
	assert_null(strstr(r.body, "innerHTML"));
	free(r.body);
	r = http(&srv, "GET", "/app/uPlot.iife.min.js", NULL, NULL, 0);
	assert_int_equal(r.code, 200);
	assert_non_null(strstr(r.body, "uPlot"));
	free(r.body);
	r = http(&srv, "GET", "/app/app.css", NULL, NULL, 0);
	assert_non_null(strstr(r.headers, "Content-Type: text/css; charset=utf-8\r\n"));
	free(r.body);
	/* the pages only at their own paths, where their rule is; no other file */
	r = http(&srv, "GET", "/app/board.html", NULL, NULL, 0);
	assert_int_equal(r.code, 404);
	free(r.body);
	r = http(&srv, "GET", "/app/..%2Fcarelake.db", NULL, NULL, 0);
	assert_int_equal(r.code, 404);
	free(r.body);
	r = http(&srv, "GET", "/app/nothing.js", NULL, NULL, 0);
	assert_int_equal(r.code, 404);
	free(r.body);
	/* the board needs a token allowed view-board */
	r = http(&srv, "GET", "/board", NULL, NULL, 0);
	assert_int_equal(r.code, 401);
	free(r.body);
	r = http(&srv, "GET", "/board", clin, NULL, 0);
	assert_int_equal(r.code, 200);
	assert_non_null(strstr(r.headers, CSP));
	assert_non_null(strstr(r.body, "id=\"beds\""));
	free(r.body);
	r = http(&srv, "GET", "/board", pat, NULL, 0);
	assert_int_equal(r.code, 403);
	assert_null(strstr(r.body, "beds"));
	free(r.body);
}

static void test_sign_in_and_out(void **state)
{
	char cookie[120], ch[160], wrong[128];
	struct reply r;

	(void)state;
	/* a bad token, a cookie session of no one, another site's page */
	r = sign_in("clk_not-a-token", NULL, NULL);
	assert_int_equal(r.code, 401);
	assert_null(strstr(r.headers, "Set-Cookie"));
	free(r.body);
	r = sign_in(clin, "Origin: http://evil.example", NULL);
	assert_int_equal(r.code, 403);
	assert_null(strstr(r.headers, "Set-Cookie"));
	free(r.body);
	r = sign_in(clin, "Sec-Fetch-Site: cross-site", NULL);
	assert_int_equal(r.code, 403);
	free(r.body);

	r = sign_in(clin, NULL, NULL);
	assert_int_equal(r.code, 200);
	assert_non_null(strstr(r.body, "\"role\":\"clinician\""));
	assert_non_null(strstr(r.body, "\"/board\""));
	assert_non_null(strstr(r.headers, "; Path=/; Max-Age=43200; HttpOnly; SameSite=Strict\r\n"));
	assert_null(strstr(r.headers, "Secure"));
	cookie_of(&r, cookie, sizeof(cookie));
	assert_int_equal(strlen(cookie), strlen("carelake_session=") + 64);
	assert_null(strstr(r.body, clin));
	free(r.body);
	snprintf(ch, sizeof(ch), "Cookie: theme=dark; %s", cookie);

	/* the cookie reads as the token does */
	r = http_h(&srv, "GET", "/api/v1/patients", NULL, NULL, 0, ch, NULL);
	assert_int_equal(r.code, 200);
	assert_non_null(strstr(r.body, "\"patient_id\":\"web-p1\""));
	assert_non_null(strstr(r.body, "\"heart_rate\":{\"value\":80"));
	free(r.body);
	r = http_h(&srv, "GET", "/app/session", NULL, NULL, 0, ch, NULL);
	assert_non_null(strstr(r.body, "\"signed_in\":true"));
	free(r.body);
	r = http_h(&srv, "GET", "/board", NULL, NULL, 0, ch, NULL);
	assert_int_equal(r.code, 200);
	free(r.body);

	/* a change by cookie: only with carelake's header, from its origin */
	r = http_h(&srv, "POST", "/api/v1/alerts/999999/ack", NULL, NULL, 0, ch, NULL);
	assert_int_equal(r.code, 403);
	assert_non_null(strstr(r.body, "X-Requested-With"));
	free(r.body);
	r = http_h(&srv, "POST", "/api/v1/alerts/999999/ack", NULL, NULL, 0, ch,
		   "X-Requested-With: XMLHttpRequest");
	assert_int_equal(r.code, 403);
	free(r.body);
	r = http_h(&srv, "POST", "/api/v1/alerts/999999/ack", NULL, NULL, 0, ch,
		   "X-Requested-With: carelake");
	assert_int_equal(r.code, 404); /* allowed through: there is no such alert */
	free(r.body);

	/* behind TLS the cookie is Secure */
	r = sign_in(clin, "X-Forwarded-Proto: https", NULL);
	assert_int_equal(r.code, 200);
	assert_non_null(strstr(r.headers, "HttpOnly; SameSite=Strict; Secure\r\n"));
	free(r.body);

	/* signing out: the session ends, the cookie is cleared */
	r = http_h(&srv, "POST", "/app/session/logout", NULL, NULL, 0, ch, NULL);
	assert_int_equal(r.code, 403); /* by cookie, without the header */
	free(r.body);
	r = http_h(&srv, "POST", "/app/session/logout", NULL, NULL, 0, ch,
		   "X-Requested-With: carelake");
	assert_int_equal(r.code, 200);
	assert_non_null(strstr(r.headers, "Set-Cookie: carelake_session=; Path=/; Max-Age=0;"));
	free(r.body);
	r = http_h(&srv, "GET", "/api/v1/patients", NULL, NULL, 0, ch, NULL);
	assert_int_equal(r.code, 401);
	assert_non_null(strstr(r.body, "sign in again"));
	free(r.body);
	r = http_h(&srv, "GET", "/app/session", NULL, NULL, 0, ch, NULL);
	assert_non_null(strstr(r.body, "\"signed_in\":false"));
	free(r.body);
	/* a made-up session id */
	snprintf(wrong, sizeof(wrong), "Cookie: carelake_session=%064d", 7);
	r = http_h(&srv, "GET", "/api/v1/patients", NULL, NULL, 0, wrong, NULL);
	assert_int_equal(r.code, 401);
	free(r.body);
}

static void test_patient_and_revocation(void **state)
{
	char cookie[120], ch[160], args[64], tok[128], id[32];
	struct reply r;

	(void)state;
	r = sign_in(pat, NULL, NULL);
	assert_int_equal(r.code, 200);
	/* a patient's one page, and its patient for the page to read */
	assert_non_null(strstr(r.body, "\"pages\":[{\"path\":\"/my-health\",\"title\":\"My health\"}]"));
	assert_non_null(strstr(r.body, "\"patient\":\"web-p1\""));
	cookie_of(&r, cookie, sizeof(cookie));
	free(r.body);
	snprintf(ch, sizeof(ch), "Cookie: %s", cookie);
	r = http_h(&srv, "GET", "/board", NULL, NULL, 0, ch, NULL);
	assert_int_equal(r.code, 403);
	free(r.body);
	r = http_h(&srv, "GET", "/my-health", NULL, NULL, 0, ch, NULL);
	assert_int_equal(r.code, 200);
	assert_non_null(strstr(r.body, "/app/my-health.js"));
	free(r.body);
	/* an admin names no patient: no My health for it, and no patient */
	r = sign_in(srv.token, NULL, NULL);
	assert_int_equal(r.code, 200);
	assert_null(strstr(r.body, "my-health"));
	assert_null(strstr(r.body, "\"patient\""));
	free(r.body);
	r = http_h(&srv, "GET", "/api/v1/patients", NULL, NULL, 0, ch, NULL);
	assert_int_equal(r.code, 200);
	assert_non_null(strstr(r.body, "web-p1"));
	assert_null(strstr(r.body, "web-p2"));
	free(r.body);

	/* a token revoked while its session lives: the session reads nothing */
	token_cli(data, tok, id, "issue --role clinician --name short-lived");
	r = sign_in(tok, NULL, NULL);
	assert_int_equal(r.code, 200);
	cookie_of(&r, cookie, sizeof(cookie));
	free(r.body);
	snprintf(ch, sizeof(ch), "Cookie: %s", cookie);
	snprintf(args, sizeof(args), "revoke %s", id);
	token_cli(data, NULL, NULL, args);
	r = http_h(&srv, "GET", "/api/v1/patients", NULL, NULL, 0, ch, NULL);
	assert_int_equal(r.code, 401);
	free(r.body);

	/* a device may not sign in */
	token_cli(data, tok, NULL, "issue --role device --device m-w1");
	r = sign_in(tok, NULL, NULL);
	assert_int_equal(r.code, 403);
	free(r.body);
}

/* Last: nothing secret went into the log. */
static void test_no_secrets_logged(void **state)
{
	FILE *f = fopen(srv.out_path, "r");
	char *log = NULL;
	size_t cap = 0;

	(void)state;
	assert_non_null(f);
	assert_true(getdelim(&log, &cap, '\0', f) > 0);
	fclose(f);
	assert_non_null(strstr(log, "event=signed_in"));
	assert_null(strstr(log, clin));
	assert_null(strstr(log, pat));
	assert_null(strstr(log, "carelake_session="));
	free(log);
}

/* A live stream opened and left waiting: the teardown stops the server
 * with it open. */
static void test_stream_left_open(void **state)
{
	struct conn c = { .fd = -1 };
	char req[512];

	(void)state;
	c.fd = dial(&srv);
	snprintf(req, sizeof(req), "GET /api/v1/stream HTTP/1.1\r\nHost: x\r\n"
		 "Authorization: Bearer %s\r\nAccept: text/event-stream\r\n\r\n", srv.token);
	send_req(c.fd, req);
	while (!memmem(c.buf, c.len, "\r\n\r\n", 4))
		assert_int_equal(fill(&c, 10000 * cl_test_slowdown()), 1);
	assert_non_null(strstr(c.buf, " 200 "));
	stream_fd = c.fd;
}

/* The KPI API's rules and its refusals (the numbers themselves are
 * checked against gold in runtime_web_browser's Hospital page). */
static void test_kpis(void **state)
{
	char mgr[128];
	struct reply r;

	(void)state;
	token_cli(data, mgr, NULL, "issue --role manager --name manager-web");
	r = http(&srv, "GET", "/api/v1/kpis", mgr, NULL, 0);
	assert_int_equal(r.code, 200);
	for (const char *t = "admissions_daily\0alerts_daily\0staffing\0bookings_daily\0"
			     "communications_daily\0survey_monthly\0data_quality\0";
	     *t; t += strlen(t) + 1) {
		char name[64];

		snprintf(name, sizeof(name), "\"name\": \"%s\"", t);
		if (!strstr(r.body, name) && !(snprintf(name, sizeof(name), "\"name\":\"%s\"", t),
					      strstr(r.body, name)))
			fail_msg("GET /api/v1/kpis does not list %s: %s", t, r.body);
	}
	free(r.body);
	r = http(&srv, "GET", "/api/v1/kpis/admissions_daily?from=2026-01&to=2026-12-31&ward=ICU-A",
		 mgr, NULL, 0);
	assert_int_equal(r.code, 200);
	assert_non_null(strstr(r.body, "\"rows\""));
	free(r.body);
	/* what a request gets wrong is said */
	r = http(&srv, "GET", "/api/v1/kpis/admissions_daily?from=yesterday", mgr, NULL, 0);
	assert_int_equal(r.code, 400);
	assert_non_null(strstr(r.body, "YYYY-MM-DD"));
	free(r.body);
	r = http(&srv, "GET", "/api/v1/kpis/bookings_daily?ward=ICU-A", mgr, NULL, 0);
	assert_int_equal(r.code, 400);
	assert_non_null(strstr(r.body, "not by ward"));
	free(r.body);
	r = http(&srv, "GET", "/api/v1/kpis/data_quality?from=2026-01-01", mgr, NULL, 0);
	assert_int_equal(r.code, 400);
	assert_non_null(strstr(r.body, "not dated"));
	free(r.body);
	r = http(&srv, "GET", "/api/v1/kpis/patients", mgr, NULL, 0);
	assert_int_equal(r.code, 404);
	free(r.body);
	r = http(&srv, "GET", "/api/v1/kpis/admissions_daily?limit=0", mgr, NULL, 0);
	assert_int_equal(r.code, 400);
	free(r.body);
	r = http(&srv, "GET", "/api/v1/wards/ICU-A/census", mgr, NULL, 0);
	assert_int_equal(r.code, 200);
	assert_non_null(strstr(r.body, "\"patients\""));
	free(r.body);
	/* a manager's page and no clinical data; KPIs are not a clinician's
	 * or a patient's */
	r = sign_in(mgr, NULL, NULL);
	assert_int_equal(r.code, 200);
	assert_non_null(strstr(r.body, "\"pages\":[{\"path\":\"/hospital\",\"title\":\"Hospital\"},"
				       "{\"path\":\"/staffing\",\"title\":\"Staffing and clinic operations\"}]"));
	free(r.body);
	assert_int_equal(code_of(&srv, "/api/v1/patients", mgr, NULL), 403);
	assert_int_equal(code_of(&srv, "/api/v1/kpis/admissions_daily", clin, NULL), 403);
	assert_int_equal(code_of(&srv, "/api/v1/wards/ICU-A/census", pat, NULL), 403);
	assert_int_equal(code_of(&srv, "/hospital", clin, NULL), 403);
	/* the engineers' status and quarantine: theirs, not a manager's */
	{
		char eng[128];
		struct reply q;

		token_cli(data, eng, NULL, "issue --role engineer --name engineer-web");
		q = http(&srv, "GET", "/api/v1/status?runs=5", eng, NULL, 0);
		assert_int_equal(q.code, 200);
		assert_non_null(strstr(q.body, "\"disk\""));
		assert_non_null(strstr(q.body, "\"lag\""));
		free(q.body);
		q = http(&srv, "GET", "/api/v1/quarantine?limit=5", eng, NULL, 0);
		assert_int_equal(q.code, 200);
		assert_non_null(strstr(q.body, "\"by_reason\""));
		free(q.body);
		assert_int_equal(code_of(&srv, "/api/v1/status?runs=0", eng, NULL), 400);
		assert_int_equal(code_of(&srv, "/api/v1/quarantine?limit=5000", eng, NULL), 400);
		assert_int_equal(code_of(&srv, "/api/v1/status", mgr, NULL), 403);
		assert_int_equal(code_of(&srv, "/api/v1/quarantine", clin, NULL), 403);
		assert_int_equal(code_of(&srv, "/pipelines", mgr, NULL), 403);
	}
	/* the compliance officers' reports: the chain and accesses per user */
	{
		char comp[128];
		struct reply q;

		token_cli(data, comp, NULL, "issue --role compliance --name compliance-web");
		q = http(&srv, "GET", "/api/v1/audit/verify", comp, NULL, 0);
		assert_int_equal(q.code, 200);
		assert_non_null(strstr(q.body, "\"ok\":true"));
		free(q.body);
		q = http(&srv, "GET", "/api/v1/audit/accesses?since=2020-01-01T00:00:00Z", comp, NULL, 0);
		assert_int_equal(q.code, 200);
		assert_non_null(strstr(q.body, "\"principals\""));
		assert_non_null(strstr(q.body, "\"role\":\"manager\""));
		free(q.body);
		assert_int_equal(code_of(&srv, "/api/v1/audit/accesses?since=last-week", comp, NULL),
				 400);
		assert_int_equal(code_of(&srv, "/api/v1/audit/verify", pat, NULL), 403);
		assert_int_equal(code_of(&srv, "/api/v1/audit/accesses", clin, NULL), 403);
		assert_int_equal(code_of(&srv, "/compliance", mgr, NULL), 403);
	}
}

/* The readmission risk on the dashboards: the Patient page's panel and
 * the Hospital page's table are in their pages, their scripts read the
 * risk APIs and put nothing in as markup; with no model promoted the APIs
 * answer the pages' "no score" (200 and nothing, not an error); a
 * patient's risk is the care team's (not a manager's, not the patient's),
 * a ward's counts the managers' (the scores themselves: runtime_model_serve;
 * the pages with a model: runtime_web_browser). */
static void test_readmission_risk(void **state)
{
	char mgr[128];
	struct reply r;

	(void)state;
	token_cli(data, mgr, NULL, "issue --role manager --name manager-risk");
	r = http(&srv, "GET", "/patient?id=web-p1", clin, NULL, 0);
	assert_int_equal(r.code, 200);
	assert_non_null(strstr(r.body, "id=\"risk\""));
	assert_non_null(strstr(r.body, "id=\"risk-body\""));
	free(r.body);
	r = http(&srv, "GET", "/hospital", mgr, NULL, 0);
	assert_int_equal(r.code, 200);
	assert_non_null(strstr(r.body, "<table id=\"risk\""));
	assert_non_null(strstr(r.body, "Expected readmissions"));
	free(r.body);
	r = http(&srv, "GET", "/app/patient.js", NULL, NULL, 0);
	assert_int_equal(r.code, 200);
	assert_non_null(strstr(r.body, "'/risk'"));
	assert_non_null(strstr(r.body, "not to replace it"));
	assert_null(strstr(r.body, "innerHTML"));
	free(r.body);
	r = http(&srv, "GET", "/app/hospital.js", NULL, NULL, 0);
	assert_int_equal(r.code, 200);
	assert_non_null(strstr(r.body, "/readmission-risk"));
	assert_null(strstr(r.body, "innerHTML"));
	free(r.body);
	/* no model promoted: nothing to show, and no error */
	r = http(&srv, "GET", "/api/v1/patients/web-p1/risk", clin, NULL, 0);
	assert_int_equal(r.code, 200);
	assert_non_null(strstr(r.body, "\"stays\":[]"));
	free(r.body);
	r = http(&srv, "GET", "/api/v1/wards/all/readmission-risk", mgr, NULL, 0);
	assert_int_equal(r.code, 200);
	assert_non_null(strstr(r.body, "\"groups\":[]"));
	free(r.body);
	assert_int_equal(code_of(&srv, "/api/v1/patients/web-p1/risk", mgr, NULL), 403);
	assert_int_equal(code_of(&srv, "/api/v1/patients/web-p1/risk", pat, NULL), 403);
	assert_int_equal(code_of(&srv, "/api/v1/wards/all/readmission-risk", clin, NULL), 403);
}

static const struct CMUnitTest tests[] = {
	cmocka_unit_test(test_pages_and_headers),
	cmocka_unit_test(test_sign_in_and_out),
	cmocka_unit_test(test_patient_and_revocation),
	cmocka_unit_test(test_no_secrets_logged),
	cmocka_unit_test(test_stream_left_open),
	cmocka_unit_test(test_kpis),
	cmocka_unit_test(test_readmission_risk),
};

int main(int argc, char **argv)
{
	if (argc < 2) {
		fprintf(stderr, "usage: %s /path/to/carelake\n", argv[0]);
		return 2;
	}
	bin = argv[1];
	SERVE_TEST_RUN_GROUP(tests, setup, teardown);
}
