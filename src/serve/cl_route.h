/*
 * The route table: every HTTP endpoint is one row — method, path pattern,
 * handler, the rule that says who may call it — declared once, in
 * cl_routes.c. The server refuses to start with a row that has no rule.
 * Both transports find a request's route here, check its rule and
 * Content-Type here, and call its handler (cl_route_begin, cl_route_run,
 * cl_route_finish), so no endpoint knows which transport carried it.
 */
#ifndef CL_ROUTE_H
#define CL_ROUTE_H

#include "cl_req.h"
#include "auth/cl_access.h"

/* Who may call a route. */
enum cl_access {
	CL_ACCESS_UNSET = 0,  /* no rule: refused at start */
	CL_ACCESS_PUBLIC,     /* anyone (liveness, metrics, the FHIR capability statement) */
	CL_ACCESS_TOKEN,      /* a valid token whose role may perform `action` */
};

struct cl_route_rule {
	enum cl_access access;
	int action;           /* enum cl_action (auth/cl_access.h); -1 for a public route */
};

/* Route flags. */
#define CL_ROUTE_FHIR 1   /* errors are OperationOutcomes */
#define CL_ROUTE_FAST 2   /* carelake's own loops may serve it (whole plain POSTs) */
#define CL_ROUTE_BODY 4   /* takes a request body */
#define CL_ROUTE_DEID 8   /* a token that may not perform the action but may
			   * export-deidentified is served too, de-identified
			   * (cl_req.deidentified): the Bulk Data export */

/* What the audit trail records of a route's replies (cl_serve_audit.h):
 * NULL action: only its refusals. */
struct cl_route_audit {
	const char *action;    /* read, search, update, ... */
	const char *resource;  /* the resource type: vitals, alerts, AuditEvent, ... */
};

struct cl_route {
	enum cl_method method;
	const char *pattern;          /* "/api/v1/patients/{id}/vitals"; {x} is one segment */
	int (*handler)(struct cl_req *r);   /* CL_REQ_DONE or CL_REQ_WAIT */
	int (*finish)(struct cl_req *r, int commit_rc);  /* after CL_REQ_WAIT */
	struct cl_route_rule rule;
	unsigned flags;
	const char *accept;           /* body Content-Types, by '|' (type only, no params) */
	struct cl_route_audit audit;  /* what its audit records say */
	/* a fast route's test of a whole body: nonzero when its handler may
	 * block on it (a FHIR transaction waits for refine), so carelake's own
	 * loops give it to libmicrohttpd, whose threads may block, with a body
	 * not all in hand; NULL: never */
	int (*blocks)(const char *body, size_t len);
};

/* The routes, NULL-pattern terminated (cl_routes.c). */
extern const struct cl_route cl_routes[];

/* Every route of `table` (NULL-pattern terminated; serve checks
 * cl_routes) has a rule, a handler and a well-formed pattern, a route
 * that takes a body names its types, and a route whose action touches
 * patient data says what the audit trail records of it. 0, or CL_EINVAL naming the route:
 * serve refuses to start. */
int cl_routes_check(const struct cl_route *table);

/*
 * Finds the route of method and path (without query), filling r->param.
 * 0 and *out; CL_ENOENT when no route has the path; CL_EINVAL when routes
 * have it but not for this method (*allow: "GET, POST", in a static
 * buffer of the caller, cap bytes).
 */
int cl_route_find(enum cl_method method, const char *path, size_t len, struct cl_req *r,
		  const struct cl_route **out, char *allow, size_t cap);

/*
 * The start of a request, once its head is in (r->client set): finds its
 * route, names the request (X-Request-Id, honoured or made), checks its
 * rule — an address not blocked for repeated authentication failures
 * (else 429 with Retry-After), a valid token — an Authorization header,
 * or else a dashboard session's cookie (cl_session.h), whose requests
 * other than GET must also come from carelake's own pages (else 403) —
 * (else 401, WWW-Authenticate:
 * Bearer error="invalid_token", counted against the address) whose role
 * may perform the route's action (else 403) — and the Content-Type of its
 * body. Returns 1 when the request may
 * go on (read its body, then cl_route_run), else CL_REQ_DONE with the
 * error answered (404, 405, 401, 403, 415) or a negative code.
 */
int cl_route_begin(struct cl_req *r, const char *method, const char *path, size_t len);

/* 1 if the request may come from another site's page: its
 * Sec-Fetch-Site (when sent) is same-origin and its Origin (when sent)
 * is this server as the Host header names it. The check against
 * cross-site request forgery of what a dashboard session changes. */
int cl_route_same_origin(const struct cl_req *r);

/* 1 if a token of role `role` (before scopes) may call the route: its
 * action, or export-deidentified on a CL_ROUTE_DEID route. */
int cl_route_allows(const struct cl_route *rt, enum cl_role role);

/* Calls the route's handler on the whole request. */
int cl_route_run(struct cl_req *r);

/* Calls the route's finish once what it waited for is done. */
int cl_route_finish(struct cl_req *r, int commit_rc);

/* 1 if the route may be served by carelake's own loops. */
int cl_route_is_fast(const char *path, size_t len);

/* 1 if the fast route of path may be served by carelake's own loops with
 * this body (NULL: not all in hand yet): always, unless it has a `blocks`
 * test, which then must say the body does not block. */
int cl_route_fast_body(const char *path, size_t len, const char *body, size_t body_len);

#endif
