/*
 * Route matching and the steps every request takes before and after its
 * handler. See cl_route.h.
 */
#include "cl_route.h"
#include "auth/cl_scope.h"
#include "cl_authlimit.h"
#include "cl_server_int.h"
#include "cl_session.h"
#include "core/cl_error.h"
#include "core/cl_time.h"
#include "core/cl_url.h"

#include <sodium.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

static const char *const method_names[] = { "GET", "POST", "PUT", "DELETE" };

static enum cl_method method_of(const char *m)
{
	if (strcmp(m, "GET") == 0 || strcmp(m, "HEAD") == 0)
		return CL_GET;
	if (strcmp(m, "POST") == 0)
		return CL_POST;
	if (strcmp(m, "PUT") == 0)
		return CL_PUT;
	if (strcmp(m, "DELETE") == 0)
		return CL_DELETE;
	return CL_METHOD_OTHER;
}

/* Percent-decodes one path segment into out[cap]; -1 if malformed, too
 * long, empty, or it decodes to a slash, NUL or control byte. */
static int decode_segment(const char *p, size_t n, char *out, size_t cap)
{
	size_t len;

	if (cl_pct_decode(p, n, out, cap, CL_PCT_NO_SLASH | CL_PCT_NO_CTL, &len) != CL_OK ||
	    len == 0)
		return -1;
	return 0;
}

/* Matches path against pattern; fills params (NULL: only says whether).
 * 1 on a match. */
static int match(const char *pattern, const char *path, size_t len,
		 char (*param)[CL_REQ_PARAM_MAX])
{
	const char *p = pattern, *q = path, *end = path + len;
	int np = 0;

	while (*p && q <= end) {
		if (*p == '{') {
			const char *close = strchr(p, '}'), *seg = q;

			while (q < end && *q != '/')
				q++;
			if (!close || q == seg || np >= CL_REQ_PARAMS)
				return 0;
			if (param && decode_segment(seg, (size_t)(q - seg), param[np],
						    CL_REQ_PARAM_MAX) != 0)
				return 0;
			np++;
			p = close + 1;
			continue;
		}
		if (q == end || *p != *q)
			return 0;
		p++;
		q++;
	}
	return *p == '\0' && q == end;
}

/* 1 if the action reads or changes patient data (or the trail about it):
 * its route must say what the audit trail records. */
static int touches_patients(int action)
{
	switch (action) {
	case CL_ACT_READ_CLINICAL:
	case CL_ACT_SEARCH_ALERTS:
	case CL_ACT_ACKNOWLEDGE:
	case CL_ACT_STREAM:
	case CL_ACT_READ_AUDIT:
	case CL_ACT_REVIEW_ACCESS:
	case CL_ACT_EXPORT_DEIDENTIFIED:
	case CL_ACT_EXPORT_IDENTIFIED:
		return 1;
	default:
		return 0;
	}
}

int cl_routes_check(const struct cl_route *table)
{
	for (const struct cl_route *rt = table; rt->pattern; rt++) {
		if (rt->rule.access == CL_ACCESS_UNSET ||
		    (rt->rule.access == CL_ACCESS_TOKEN &&
		     (rt->rule.action < 0 || rt->rule.action >= CL_ACTIONS)))
			return cl_error_set(CL_EINVAL, "route %s %s has no authorization rule",
					    method_names[rt->method], rt->pattern);
		if (!rt->handler || (rt->pattern[0] != '/'))
			return cl_error_set(CL_EINVAL, "route %s %s has no handler or a bad pattern",
					    method_names[rt->method], rt->pattern);
		if (rt->rule.access == CL_ACCESS_TOKEN && touches_patients(rt->rule.action) &&
		    (!rt->audit.action || !rt->audit.resource))
			return cl_error_set(CL_EINVAL, "route %s %s reads patient data but says nothing "
					    "for the audit trail", method_names[rt->method], rt->pattern);
		if ((rt->flags & CL_ROUTE_BODY) && !rt->accept)
			return cl_error_set(CL_EINVAL, "route %s %s takes a body of no type",
					    method_names[rt->method], rt->pattern);
	}
	return CL_OK;
}

int cl_route_find(enum cl_method method, const char *path, size_t len, struct cl_req *r,
		  const struct cl_route **out, char *allow, size_t cap)
{
	size_t used = 0;
	int seen = 0;

	int bad_param = 0;

	for (const struct cl_route *rt = cl_routes; rt->pattern; rt++) {
		if (!match(rt->pattern, path, len, NULL))
			continue;
		if (rt->method == method) {
			if (match(rt->pattern, path, len, r->param)) {
				*out = rt;
				return CL_OK;
			}
			bad_param = 1; /* a segment that decodes to nothing it may name */
			continue;
		}
		if (allow && used < cap) {
			int n = snprintf(allow + used, cap - used, "%s%s", seen ? ", " : "",
					 method_names[rt->method]);

			used += n > 0 ? (size_t)n : 0;
		}
		seen = 1;
	}
	return seen && !bad_param ? CL_EINVAL : CL_ENOENT;
}

int cl_route_is_fast(const char *path, size_t len)
{
	for (const struct cl_route *rt = cl_routes; rt->pattern; rt++)
		if ((rt->flags & CL_ROUTE_FAST) && rt->method == CL_POST &&
		    match(rt->pattern, path, len, NULL))
			return 1;
	return 0;
}

int cl_route_fast_body(const char *path, size_t len, const char *body, size_t body_len)
{
	for (const struct cl_route *rt = cl_routes; rt->pattern; rt++)
		if ((rt->flags & CL_ROUTE_FAST) && rt->method == CL_POST &&
		    match(rt->pattern, path, len, NULL))
			return !rt->blocks || (body && !rt->blocks(body, body_len));
	return 0;
}

/* 1 if the Content-Type value names one of the '|'-separated types
 * (parameters such as charset ignored, case-insensitive). */
static int accepted_type(const char *accept, const char *ctype)
{
	size_t n = strcspn(ctype, ";");

	while (n > 0 && (ctype[n - 1] == ' ' || ctype[n - 1] == '\t'))
		n--;
	for (const char *a = accept; a && *a;) {
		size_t len = strcspn(a, "|");

		if (len == n && strncasecmp(a, ctype, n) == 0)
			return 1;
		a += len + (a[len] == '|');
	}
	return 0;
}

/* Writes v in the base (10 or 16) at dst; returns the end. */
static char *put_number(char *dst, uint64_t v, unsigned base)
{
	char digits[20];
	size_t n = 0;

	do {
		digits[n++] = "0123456789abcdef"[v % base];
		v /= base;
	} while (v);
	while (n)
		*dst++ = digits[--n];
	return dst;
}

/* The request's id: X-Request-Id when it is 1..64 of [A-Za-z0-9._:-],
 * else one made of the server's start and a counter. */
static void name_request(struct cl_req *r)
{
	const char *given = cl_req_header(r, "X-Request-Id");
	size_t n = given ? strspn(given, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
				  "0123456789._:-") : 0;
	char *at = r->request_id;

	if (given && n > 0 && n <= 64 && given[n] == '\0') {
		memcpy(r->request_id, given, n + 1);
		return;
	}
	/* "cl-<start in hex>-<count>", formatted by hand: this runs for
	 * every request and snprintf cost more than the route lookup */
	memcpy(at, "cl-", 3);
	at = put_number(at + 3, (uint64_t)r->s->started_us, 16);
	*at++ = '-';
	at = put_number(at, (uint64_t)atomic_fetch_add(&r->s->request_seq, 1) + 1, 10);
	*at = '\0';
}

int cl_route_same_origin(const struct cl_req *r)
{
	const char *site = cl_req_header(r, "Sec-Fetch-Site");
	const char *origin = cl_req_header(r, "Origin");
	const char *host = cl_req_header(r, "Host");
	const char *rest;

	if (site && strcmp(site, "same-origin") != 0)
		return 0;
	if (!origin)
		return 1;  /* a client that is no browser, or an old one: SameSite holds */
	if (!host || !*host)
		return 0;
	if (strncmp(origin, "http://", 7) == 0)
		rest = origin + 7;
	else if (strncmp(origin, "https://", 8) == 0)
		rest = origin + 8;
	else
		return 0;  /* "null" and the like: an opaque origin */
	return strcasecmp(rest, host) == 0;
}

/* Who the request says it is: its Authorization header, or without one
 * the token of its dashboard session (the Cookie) written as such a
 * header into buf[cap] (r->by_cookie then set). NULL when it has
 * neither, or *ended when its session is over. */
static const char *credentials(struct cl_req *r, char *buf, size_t cap, int *ended)
{
	const char *h = cl_req_header(r, "Authorization");
	char id[CL_SESSION_ID_HEX + 1];

	*ended = 0;
	if (h || !cl_session_cookie(cl_req_header(r, "Cookie"), id))
		return h;
	memcpy(buf, "Bearer ", 7);
	if (cl_sessions_token(r->s->sessions, id, cl_time_now_us(), buf + 7, cap - 7) != CL_OK) {
		*ended = 1;
		return NULL;
	}
	r->by_cookie = 1;
	return buf;
}

/* The token check of a route that needs one: 429 for an address blocked
 * after repeated failures, 401 (counted against the address), 403.
 * 1 when the request may go on, else what the reply returned. */
static int check_token(struct cl_req *r, const struct cl_route *rt)
{
	int64_t now = cl_time_now_us(), wait = cl_authlimit_blocked(r->s->authlimit, r->client, now);
	char msg[400];

	if (wait > 0) {
		char after[24];

		atomic_fetch_add(&r->s->auth_limited, 1);
		snprintf(after, sizeof(after), "%lld", (long long)wait);
		snprintf(msg, sizeof(msg), "too many failed authentications from this address; "
			 "retry in %lld s", (long long)wait);
		return cl_reply_error(r, 429, "too_many_requests", msg, "Retry-After", after);
	}
	{
		char buf[CL_SESSION_TOKEN_MAX + 8];
		int ended, rc;
		const char *cred = credentials(r, buf, sizeof(buf), &ended);

		rc = ended ? cl_error_set(CL_EINVAL, "the dashboard session has ended or is not "
					  "known: sign in again")
			   : cl_auth_check(r->s->auth, cred, &r->who);
		sodium_memzero(buf, sizeof(buf));
		if (rc != CL_OK) {
			cl_authlimit_failed(r->s->authlimit, r->client, now);
			return cl_reply_error(r, 401, "unauthorized", cl_error_detail(),
					      "WWW-Authenticate",
					      "Bearer realm=\"carelake\", error=\"invalid_token\"");
		}
	}
	/* a session's cookie goes with every request the browser makes to
	 * carelake, a cross-site one too (where SameSite=Strict is not
	 * honoured): a change made by cookie must come from carelake's own
	 * pages, which say so with a header no cross-site form can send */
	if (r->by_cookie && r->method != CL_GET) {
		const char *xrw = cl_req_header(r, "X-Requested-With");

		if (!xrw || strcmp(xrw, "carelake") != 0 || !cl_route_same_origin(r))
			return cl_reply_error(r, 403, "forbidden", "a change made with a dashboard "
					      "session must come from carelake's own pages (same "
					      "origin, X-Requested-With: carelake)", NULL, NULL);
	}
	/* the role's table, narrowed by a JWT's SMART scopes: on a FHIR
	 * route that names its type (/fhir/{type}...), for that type, and a
	 * PUT or DELETE needs u or d where the action says c */
	if (!cl_scope_allows_perms(&r->who, (enum cl_action)rt->rule.action,
				   strncmp(rt->pattern, "/fhir/{type}", 12) == 0 ? r->param[0] : NULL,
				   rt->method == CL_PUT ? CL_SCOPE_U : rt->method == CL_DELETE
				   ? CL_SCOPE_D : cl_scope_action_perms((enum cl_action)rt->rule.action)) &&
	    !((rt->flags & CL_ROUTE_DEID) &&
	      (r->deidentified = cl_scope_allows(&r->who, CL_ACT_EXPORT_DEIDENTIFIED, NULL)))) {
		snprintf(msg, sizeof(msg), "a %s token may not %s (%s)", cl_role_name(r->who.role),
			 cl_action_name((enum cl_action)rt->rule.action),
			 cl_action_doc((enum cl_action)rt->rule.action));
		return cl_reply_error(r, 403, "forbidden", msg, NULL, NULL);
	}
	return 1;
}

int cl_route_begin(struct cl_req *r, const char *method, const char *path, size_t len)
{
	char allow[64], msg[400];
	const struct cl_route *rt = NULL;
	int rc;

	r->method = method_of(method);
	r->path = path;
	rc = cl_route_find(r->method, path, len, r, &rt, allow, sizeof(allow));
	if (rc == CL_ENOENT) {
		snprintf(msg, sizeof(msg), "no endpoint %.16s %.*s", method,
			 (int)(len > 200 ? 200 : len), path);
		return cl_reply_error(r, 404, "not_found", msg, NULL, NULL);
	}
	if (rc == CL_EINVAL) {
		snprintf(msg, sizeof(msg), "%.*s takes %s, not %.16s", (int)(len > 200 ? 200 : len),
			 path, allow, method);
		return cl_reply_error(r, 405, "method_not_allowed", msg, "Allow", allow);
	}
	r->route = rt;
	name_request(r);
	if (rt->rule.access == CL_ACCESS_TOKEN) {
		rc = check_token(r, rt);
		if (rc != 1)
			return rc;
	}
	if (rt->flags & CL_ROUTE_BODY) {
		const char *ct = cl_req_header(r, "Content-Type");

		/* no Content-Type: taken as the route's first type (curl -d sends
		 * a form type; devices often send none) */
		if (ct && *ct && !accepted_type(rt->accept, ct)) {
			char types[128];

			snprintf(types, sizeof(types), "%s", rt->accept);
			for (char *p = types; *p; p++)
				if (*p == '|')
					*p = ',';
			snprintf(msg, sizeof(msg), "%.*s takes a body of type %s, not '%.60s'",
				 (int)(len > 100 ? 100 : len), path, types, ct);
			return cl_reply_error(r, 415, "unsupported_media_type", msg, NULL, NULL);
		}
	}
	return 1;
}

int cl_route_allows(const struct cl_route *rt, enum cl_role role)
{
	if (rt->rule.access != CL_ACCESS_TOKEN)
		return 1;
	return cl_access_allows(role, (enum cl_action)rt->rule.action) ||
	       ((rt->flags & CL_ROUTE_DEID) && cl_access_allows(role, CL_ACT_EXPORT_DEIDENTIFIED));
}

int cl_route_run(struct cl_req *r)
{
	return r->route->handler(r);
}

int cl_route_finish(struct cl_req *r, int commit_rc)
{
	return r->route->finish(r, commit_rc);
}
