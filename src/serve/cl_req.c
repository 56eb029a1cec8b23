/*
 * Requests and replies, transport-neutral. See cl_req.h.
 */
#include "cl_req.h"
#include "cl_route.h"
#include "cl_serve_audit.h"
#include "cl_server_int.h"
#include "bronze/cl_blog.h"
#include "core/cl_error.h"
#include "core/cl_url.h"
#include "core/cl_mem.h"

#include <stdlib.h>
#include <string.h>

const int cl_http_codes[CL_HTTP_CODES] = { 200, 201, 202, 304, 400, 401, 403, 404, 405, 406,
					   409, 410, 412, 413, 415, 429, 431, 500, 503, 507 };

void cl_req_count(struct cl_server *s, int code)
{
	int i = 0;

	while (i < CL_HTTP_CODES && cl_http_codes[i] != code)
		i++;
	atomic_fetch_add(&s->http_codes[i], 1);
}

void cl_req_init(struct cl_req *r, struct cl_server *s, const struct cl_transport *t,
		 void *conn)
{
	memset(r, 0, sizeof(*r));
	r->s = s;
	r->t = t;
	r->conn = conn;
}

void cl_req_reset(struct cl_req *r)
{
	struct cl_server *s = r->s;
	const struct cl_transport *t = r->t;
	void *conn = r->conn, *state = r->state;
	const void *owner = r->state_owner;
	void (*free_state)(void *) = r->free_state;
	char client[sizeof(r->client)];

	memcpy(client, r->client, sizeof(client));
	free(r->held.body);
	cl_req_init(r, s, t, conn);
	memcpy(r->client, client, sizeof(client));
	r->state = state;
	r->state_owner = owner;
	r->free_state = free_state;
}

void cl_req_free(struct cl_req *r)
{
	free(r->held.body);
	r->held.body = NULL;
	r->has_held = 0;
	if (r->free_state)
		r->free_state(r->state);
	r->state = NULL;
	r->state_owner = NULL;
	r->free_state = NULL;
}

void *cl_req_scratch(struct cl_req *r, const void *owner, size_t size,
		     void (*free_state)(void *state))
{
	if (r->state && r->state_owner == owner)
		return r->state;
	cl_req_free(r);
	r->state = cl_calloc(1, size);
	if (!r->state)
		return NULL;
	r->state_owner = owner;
	r->free_state = free_state;
	return r->state;
}

const char *cl_req_query(const struct cl_req *r, const char *name)
{
	return r->t->query ? r->t->query(r->conn, name) : NULL;
}

const char *cl_req_header(const struct cl_req *r, const char *name)
{
	return r->t->header ? r->t->header(r->conn, name) : NULL;
}

int cl_req_each_query(const struct cl_req *r,
		      int (*fn)(void *arg, const char *name, const char *value), void *arg)
{
	if (!r->t->each_query)
		return cl_error_set(CL_ENOTSUP, "this transport cannot list query arguments");
	return r->t->each_query(r->conn, fn, arg);
}

int cl_req_each_form(const struct cl_req *r,
		     int (*fn)(void *arg, const char *name, const char *value), void *arg)
{
	const char *p = r->body, *end = r->body ? r->body + r->body_len : NULL;
	static _Thread_local char name[4096], value[4096];

	while (p && p < end) {
		const char *amp = memchr(p, '&', (size_t)(end - p)), *eq;
		int rc;

		if (!amp)
			amp = end;
		eq = memchr(p, '=', (size_t)(amp - p));
		if (amp > p) {
			size_t len;

			rc = cl_pct_decode(p, (size_t)((eq ? eq : amp) - p), name, sizeof(name),
					   CL_PCT_PLUS, &len);
			if (rc == CL_OK)
				rc = cl_pct_decode(eq ? eq + 1 : amp, eq ? (size_t)(amp - eq - 1) : 0,
						   value, sizeof(value), CL_PCT_PLUS, &len);
			if (rc != CL_OK)
				return rc;
			if (name[0] && (rc = fn(arg, name, value)) != 0)
				return rc;
		}
		p = amp + 1;
	}
	return CL_OK;
}

int cl_req_wait(struct cl_req *r, struct cl_blog *log, uint64_t first, uint64_t last)
{
	r->wait_log = log;
	r->wait_first = first;
	r->wait_last = last;
	return CL_REQ_WAIT;
}

void cl_req_wait_also(struct cl_req *r, struct cl_blog *log, uint64_t first, uint64_t last)
{
	r->wait_log2 = log;
	r->wait_first2 = first;
	r->wait_last2 = last;
}

int cl_req_ready(const struct cl_req *r, int *rc)
{
	int rc2 = CL_OK;

	*rc = CL_OK;
	if (!cl_blog_poll_range(r->wait_log, r->wait_first, r->wait_last, rc))
		return 0;
	if (r->wait_log2 &&
	    !cl_blog_poll_range(r->wait_log2, r->wait_first2, r->wait_last2, &rc2))
		return 0;
	if (*rc == CL_OK)
		*rc = rc2;
	return 1;
}

int cl_reply_header(struct cl_req *r, const char *name, const char *value)
{
	struct cl_reply_headers *h = &r->reply_h;
	size_t n = strlen(value);

	if (h->n >= CL_REPLY_HEADERS || n >= CL_REPLY_HEADER_MAX)
		return cl_error_set(CL_ENOSPC, "no room for the reply header %s", name);
	h->name[h->n] = name;
	memcpy(h->value[h->n], value, n + 1);
	h->n++;
	return CL_OK;
}

/* Hands a reply to the transport and counts it. */
static int send_reply(struct cl_req *r, int code, const char *ctype, char *body, size_t len)
{
	int rc = r->t->reply(r->conn, code, ctype, body, len, &r->reply_h);

	r->answered = 1;
	r->code = code;
	cl_req_count(r->s, code);
	return rc < 0 ? rc : CL_REQ_DONE;
}

/* The reply that replaces one whose audit record could not be made
 * durable: nothing of it leaves. */
static int not_recorded(struct cl_req *r, char *body)
{
	free(body);
	r->audit.count = 0;
	r->reply_h.n = 0; /* nothing of the reply it replaces */
	return cl_reply_error(r, 503, "busy", "the audit trail cannot record this access; "
			      "retry later", "Retry-After", "1");
}

int cl_reply(struct cl_req *r, int code, const char *ctype, char *body, size_t len,
	     const char *extra_h, const char *extra_v)
{
	int rc;

	if (extra_h)
		cl_reply_header(r, extra_h, extra_v);
	if (r->audited || !cl_serve_audit_wants(r, code))
		return send_reply(r, code, ctype, body, len);
	rc = cl_serve_audit_record(r, code);
	if (rc != CL_OK)
		return code == 503 ? send_reply(r, code, ctype, body, len) : not_recorded(r, body);
	if (!cl_serve_audit_must_wait(r, code))
		return send_reply(r, code, ctype, body, len);
	if (!r->t->holds) {
		if (cl_serve_audit_wait(r) != CL_OK)
			return not_recorded(r, body);
		return send_reply(r, code, ctype, body, len);
	}
	/* held: the transport parks the request and sends it on release */
	r->has_held = 1;
	r->held.code = code;
	r->held.ctype = ctype;
	r->held.body = body;
	r->held.len = len;
	r->answered = 1;
	r->code = code;
	return CL_REQ_DONE;
}

int cl_req_release(struct cl_req *r, int rc)
{
	struct cl_req_held h = r->held;

	r->has_held = 0;
	r->held.body = NULL;
	if (rc != CL_OK) {
		r->answered = 0;
		return not_recorded(r, h.body);
	}
	return send_reply(r, h.code, h.ctype, h.body, h.len);
}

int cl_reply_text(struct cl_req *r, int code, const char *ctype, const char *text)
{
	size_t n = strlen(text);
	char *body = malloc(n ? n : 1);

	if (!body)
		return CL_ENOMEM;
	memcpy(body, text, n);
	return cl_reply(r, code, ctype, body, n, NULL, NULL);
}

static int reply_json_h(struct cl_req *r, int code, json_t *j, const char *extra_h,
			const char *extra_v)
{
	int fhir = r->route && (r->route->flags & CL_ROUTE_FHIR);
	char *text = j ? json_dumps(j, JSON_COMPACT) : NULL;
	size_t n;

	json_decref(j);
	if (!text)
		return CL_ENOMEM;
	n = strlen(text);
	{
		/* one line: room for the newline json_dumps did not write */
		char *body = realloc(text, n + 2);

		if (!body) {
			free(text);
			return CL_ENOMEM;
		}
		body[n] = '\n';
		return cl_reply(r, code, fhir ? "application/fhir+json" : "application/json", body,
				n + 1, extra_h, extra_v);
	}
}

int cl_reply_json(struct cl_req *r, int code, json_t *j)
{
	return reply_json_h(r, code, j, NULL, NULL);
}

int cl_reply_stream(struct cl_req *r, int code, const char *ctype, struct cl_req_stream *src)
{
	int rc;

	if (!r->t->stream) {
		src->release(src->arg);
		return cl_reply_error(r, 500, "internal", "this transport cannot stream", NULL, NULL);
	}
	if (!r->audited && cl_serve_audit_wants(r, code) &&
	    (cl_serve_audit_record(r, code) != CL_OK || cl_serve_audit_wait(r) != CL_OK)) {
		src->release(src->arg);
		return not_recorded(r, NULL);
	}
	rc = r->t->stream(r->conn, code, ctype, src);
	r->answered = 1;
	r->code = code;
	cl_req_count(r->s, code);
	return rc < 0 ? rc : CL_REQ_DONE;
}

json_t *cl_fhir_outcome(const char *severity, const char *code, const char *diagnostics)
{
	return json_pack("{s:s,s:[{s:s,s:s,s:s}]}", "resourceType", "OperationOutcome", "issue",
			 "severity", severity, "code", code, "diagnostics", diagnostics);
}

/* The OperationOutcome issue code for an error kind. */
static const char *fhir_issue(const char *kind)
{
	static const struct { const char *kind, *code; } map[] = {
		{ "unauthorized", "login" }, { "forbidden", "forbidden" },
		{ "not_found", "not-found" }, { "method_not_allowed", "not-supported" },
		{ "bad_request", "invalid" }, { "unsupported_media_type", "not-supported" },
		{ "payload_too_large", "too-costly" }, { "too_many_events", "too-costly" },
		{ "busy", "transient" }, { "not_stored", "exception" },
		{ "too_many_requests", "throttled" }, { "gone", "deleted" },
		{ "not_acceptable", "not-supported" },
	};

	for (size_t i = 0; i < sizeof(map) / sizeof(map[0]); i++)
		if (strcmp(map[i].kind, kind) == 0)
			return map[i].code;
	return "processing";
}

int cl_reply_error(struct cl_req *r, int code, const char *kind, const char *detail,
		   const char *extra_h, const char *extra_v)
{
	int fhir = r->route && (r->route->flags & CL_ROUTE_FHIR);
	json_t *j = fhir ? cl_fhir_outcome("error", fhir_issue(kind), detail)
			 : json_pack("{s:s,s:s}", "error", kind, "detail", detail);

	return reply_json_h(r, code, j, extra_h, extra_v);
}
