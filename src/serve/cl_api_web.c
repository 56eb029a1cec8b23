/*
 * The dashboards: their pages and files, built into the binary
 * (cl_web_assets.h), and signing in and out of them.
 *
 *   GET  /                     the sign-in page, and once signed in the
 *                              list of the pages the role may open
 *   GET  /board                the ICU board (view-board: admin, clinician)
 *   GET  /patient?id=          one patient's history (view-board, as the board)
 *   GET  /my-health            a patient's own record, in plain language
 *                              (view-my-health: a token bound to a patient)
 *   GET  /hospital             the hospital's KPIs by ward and date range
 *                              (view-hospital: admin, manager)
 *   GET  /staffing             staffing and clinic operations (view-hospital)
 *   GET  /pipelines            data and pipelines (view-pipelines: admin,
 *                              engineer)
 *   GET  /compliance           the audit trail, accesses, break-glass reads
 *                              (view-compliance: admin, compliance)
 *   GET  /app/{file}           scripts, styles, the icon, uPlot
 *   GET  /app/session          who the browser's session is ({"signed_in"})
 *   POST /app/session          signs in: the token in the Authorization
 *                              header (never in a URL) becomes a session
 *                              cookie (cl_session.h)
 *   POST /app/session/logout   signs out: the session ends, the cookie goes
 *
 * Every page and file goes with a strict Content-Security-Policy (scripts
 * and styles from carelake only, no inline script or style, no framing),
 * X-Content-Type-Options: nosniff and Referrer-Policy: no-referrer; an
 * ETag answers If-None-Match with 304. A page holds no patient data: its
 * script reads what the role may see from the same APIs third parties use.
 */
#include "cl_api.h"
#include "cl_route.h"
#include "cl_server_int.h"
#include "cl_session.h"
#include "cl_web.h"
#include "cl_web_assets.h"
#include "auth/cl_jwt.h"
#include "auth/cl_scope.h"
#include "core/cl_error.h"
#include "core/cl_log.h"
#include "core/cl_time.h"

#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define CSP "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self'; " \
	    "connect-src 'self'; object-src 'none'; base-uri 'none'; form-action 'self'; " \
	    "frame-ancestors 'none'"

/* The pages a role may open, in the order the home page lists them; a
 * page of one's own record only for a principal bound to a patient. */
static const struct {
	const char *path, *title;
	enum cl_action action;
	int own_patient;
} pages[] = {
	{ "/board", "ICU board", CL_ACT_VIEW_BOARD, 0 },
	{ "/my-health", "My health", CL_ACT_VIEW_MY_HEALTH, 1 },
	{ "/hospital", "Hospital", CL_ACT_VIEW_HOSPITAL, 0 },
	{ "/staffing", "Staffing and clinic operations", CL_ACT_VIEW_HOSPITAL, 0 },
	{ "/pipelines", "Data and pipelines", CL_ACT_VIEW_PIPELINES, 0 },
	{ "/compliance", "Compliance", CL_ACT_VIEW_COMPLIANCE, 0 },
};

void cl_web_security_headers(struct cl_req *r)
{
	cl_reply_header(r, "Content-Security-Policy", CSP);
	cl_reply_header(r, "X-Content-Type-Options", "nosniff");
	cl_reply_header(r, "Referrer-Policy", "no-referrer");
}

/* 1 if the If-None-Match header names etag (or is *). */
static int not_modified(const struct cl_req *r, const char *etag)
{
	const char *inm = cl_req_header(r, "If-None-Match");
	size_t n = strlen(etag);

	if (!inm)
		return 0;
	for (const char *p = inm; *p;) {
		size_t len;

		while (*p == ' ' || *p == ',')
			p++;
		if (strncmp(p, "W/", 2) == 0)
			p += 2;
		len = strcspn(p, ", ");
		if ((len == 1 && *p == '*') || (len == n && strncmp(p, etag, n) == 0))
			return 1;
		p += len;
	}
	return 0;
}

/* Answers the built-in file `name` (404 when there is none). */
static int send_asset(struct cl_req *r, const char *name)
{
	for (const struct cl_web_asset *a = cl_web_assets; a->name; a++) {
		char *body;

		if (strcmp(a->name, name) != 0)
			continue;
		cl_web_security_headers(r);
		cl_reply_header(r, "ETag", a->etag);
		/* kept, but asked again each time: a new binary's files are
		 * seen at once, an unchanged file costs a 304 */
		cl_reply_header(r, "Cache-Control", "no-cache");
		if (not_modified(r, a->etag)) {
			body = malloc(1);
			return body ? cl_reply(r, 304, a->type, body, 0, NULL, NULL) : CL_ENOMEM;
		}
		body = malloc(a->len ? a->len : 1);
		if (!body)
			return cl_reply_error(r, 503, "busy", "out of memory; retry later",
					      "Retry-After", "1");
		memcpy(body, a->data, a->len);
		return cl_reply(r, 200, a->type, body, a->len, NULL, NULL);
	}
	return cl_reply_error(r, 404, "not_found", "no such file of the dashboards", NULL, NULL);
}

int cl_api_web_index(struct cl_req *r)
{
	return send_asset(r, "index.html");
}

int cl_api_web_board(struct cl_req *r)
{
	return send_asset(r, "board.html");
}

int cl_api_web_patient(struct cl_req *r)
{
	return send_asset(r, "patient.html");
}

int cl_api_web_my_health(struct cl_req *r)
{
	return send_asset(r, "my-health.html");
}

int cl_api_web_hospital(struct cl_req *r)
{
	return send_asset(r, "hospital.html");
}

int cl_api_web_staffing(struct cl_req *r)
{
	return send_asset(r, "staffing.html");
}

int cl_api_web_pipelines(struct cl_req *r)
{
	return send_asset(r, "pipelines.html");
}

int cl_api_web_compliance(struct cl_req *r)
{
	return send_asset(r, "compliance.html");
}

int cl_api_web_asset(struct cl_req *r)
{
	/* the pages themselves only at their own paths, where their rule is */
	if (strstr(r->param[0], ".html"))
		return cl_reply_error(r, 404, "not_found", "no such file of the dashboards", NULL,
				      NULL);
	return send_asset(r, r->param[0]);
}

/* 1 if p may open pages[i]. */
static int may_open(const struct cl_principal *p, size_t i)
{
	return cl_scope_allows(p, pages[i].action, NULL) &&
	       (!pages[i].own_patient || p->patient[0]);
}

const char *cl_web_first_page(const struct cl_principal *p)
{
	for (size_t i = 0; i < sizeof(pages) / sizeof(pages[0]); i++)
		if (may_open(p, i))
			return pages[i].path;
	return "/";
}

json_t *cl_web_whoami(const struct cl_principal *p)
{
	json_t *list = json_array(), *o;

	for (size_t i = 0; i < sizeof(pages) / sizeof(pages[0]); i++)
		if (may_open(p, i))
			json_array_append_new(list, json_pack("{s:s,s:s}", "path", pages[i].path,
							      "title", pages[i].title));
	o = json_pack("{s:b,s:s,s:s,s:o}", "signed_in", 1, "role", cl_role_name(p->role),
		      "name", p->name, "pages", list);
	if (o && p->patient[0])
		json_object_set_new(o, "patient", json_string(p->patient));
	return o;
}

int cl_api_web_session(struct cl_req *r)
{
	char id[CL_SESSION_ID_HEX + 1], buf[CL_SESSION_TOKEN_MAX + 8];
	struct cl_principal who;
	int ok = 0;

	cl_web_security_headers(r);
	if (cl_session_cookie(cl_req_header(r, "Cookie"), id)) {
		memcpy(buf, "Bearer ", 7);
		ok = cl_sessions_token(r->s->sessions, id, cl_time_now_us(), buf + 7,
				       sizeof(buf) - 7) == CL_OK &&
		     cl_auth_check(r->s->auth, buf, &who) == CL_OK;
		sodium_memzero(buf, sizeof(buf));
	}
	if (!ok) {
		/* the provider's sign-in is offered when it is set up */
		const struct cl_oidc_settings *o = cl_oidc_settings(&r->s->cfg);

		return cl_reply_json(r, 200, json_pack("{s:b,s:b}", "signed_in", 0, "oidc",
						       o->issuer[0] && o->client_id[0]));
	}
	return cl_reply_json(r, 200, cl_web_whoami(&who));
}

int cl_web_secure(const struct cl_req *r)
{
	const char *proto = cl_req_header(r, "X-Forwarded-Proto");

	return cl_web_settings(&r->s->cfg)->secure_cookie ||
	       (proto && strcasecmp(proto, "https") == 0);
}

void cl_web_set_cookie(struct cl_req *r, const char *value, int64_t max_age_s)
{
	char v[CL_REPLY_HEADER_MAX];

	snprintf(v, sizeof(v), "%s=%s; Path=/; Max-Age=%lld; HttpOnly; SameSite=Strict%s",
		 CL_SESSION_COOKIE, value, (long long)max_age_s, cl_web_secure(r) ? "; Secure" : "");
	cl_reply_header(r, "Set-Cookie", v);
	sodium_memzero(v, sizeof(v));
}

int cl_api_web_sign_in(struct cl_req *r)
{
	const char *h = cl_req_header(r, "Authorization");
	char id[CL_SESSION_ID_HEX + 1];
	size_t len;
	int rc;

	if (r->by_cookie || !h)
		return cl_reply_error(r, 400, "bad_request", "sign in with the token in the "
				      "Authorization header: 'Bearer <token>'", NULL, NULL);
	if (!cl_route_same_origin(r))
		return cl_reply_error(r, 403, "forbidden", "signing in must come from carelake's "
				      "own sign-in page (same origin)", NULL, NULL);
	/* the header was checked by the route's rule: "Bearer <token>" */
	h += 7;
	while (*h == ' ')
		h++;
	len = strlen(h);
	while (len > 0 && h[len - 1] == ' ')
		len--;
	rc = cl_sessions_open(r->s->sessions, h, len, cl_time_now_us(), id);
	if (rc == CL_EBUSY)
		return cl_reply_error(r, 503, "busy", cl_error_detail(), "Retry-After", "60");
	if (rc != CL_OK)
		return cl_reply_error(r, 400, "bad_request", cl_error_detail(), NULL, NULL);
	cl_web_set_cookie(r, id, cl_web_settings(&r->s->cfg)->session_lifetime_us / 1000000);
	sodium_memzero(id, sizeof(id));
	cl_web_security_headers(r);
	cl_log_info("web", "event=signed_in principal=%s role=%s request=%s", CL_LOG_Q(r->who.name),
		    cl_role_name(r->who.role), r->request_id);
	return cl_reply_json(r, 200, cl_web_whoami(&r->who));
}

int cl_api_web_sign_out(struct cl_req *r)
{
	char id[CL_SESSION_ID_HEX + 1];

	if (cl_session_cookie(cl_req_header(r, "Cookie"), id))
		cl_sessions_close(r->s->sessions, id);
	sodium_memzero(id, sizeof(id));
	cl_web_set_cookie(r, "", 0);
	cl_web_security_headers(r);
	cl_log_info("web", "event=signed_out principal=%s request=%s", CL_LOG_Q(r->who.name),
		    r->request_id);
	return cl_reply_json(r, 200, json_pack("{s:b}", "signed_in", 0));
}
