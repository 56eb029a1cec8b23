/*
 * The HTTP API on libmicrohttpd. See DESIGN.md for the endpoints.
 *
 * The fast path (cl_http_fast.c) accepts every connection and serves whole
 * ingest requests itself through the same handlers (cl_http_fast_*, and
 * respond() writing to its connection); everything else it hands to MHD.
 *
 * Threads: MHD runs `http.threads` event loops (epoll). Bodies arrive in
 * pieces and are gathered per request; a slow client only ever occupies
 * its own connection. An ingest request is answered only once its events
 * are durable: its connection is suspended after the events are queued,
 * and the bronze flusher resumes it after the commit (cl_http_on_commit),
 * so no HTTP thread ever blocks on the disk.
 */
#include "cl_server_int.h"
#include "core/cl_error.h"
#include "core/cl_log.h"
#include "core/cl_mem.h"
#include "core/cl_time.h"
#include "store/cl_store.h"

#include <arpa/inet.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

const int cl_http_codes[CL_HTTP_CODES] = { 200, 400, 401, 404, 405, 409, 413, 500, 503, 507 };

enum route {
	R_NONE,
	R_HEALTHZ,
	R_METRICS,
	R_EVENTS,
	R_VITALS,       /* GET /api/v1/patients/{id}/vitals */
	R_ALERTS,       /* GET /api/v1/alerts */
	R_ALERT_ACK,    /* POST /api/v1/alerts/{id}/ack */
	R_STREAM,       /* GET /api/v1/stream (SSE) */
	R_FHIR_META,    /* GET /fhir/metadata */
	R_FHIR_OBS,     /* POST /fhir/Observation */
	R_FHIR_BUNDLE,  /* POST /fhir */
};

static int is_fhir(enum route r)
{
	return r >= R_FHIR_META;
}

enum state {
	S_FIRST,     /* headers seen */
	S_READING,   /* gathering the body */
	S_WAITING,   /* suspended until the commit */
	S_RESUMED,   /* the commit is done */
	S_ANSWERED,  /* a response is queued */
};

struct cl_http_req {
	enum route route;
	enum state state;
	char *body;
	size_t len, cap;
	struct MHD_Connection *conn;
	struct cl_ingest_result res;
	struct cl_blog *log;            /* where its records were queued */
	struct cl_principal who;        /* the token's bearer */
	struct cl_http_req *next_waiter;
	struct cl_fconn *fast;          /* on the fast path: its connection */
};

static void count_code(struct cl_server *s, int code)
{
	int i = 0;

	while (i < CL_HTTP_CODES && cl_http_codes[i] != code)
		i++;
	atomic_fetch_add(&s->http_codes[i], 1);
}

static enum MHD_Result respond(struct cl_server *s, struct cl_http_req *r,
			       struct MHD_Connection *c, int code, const char *ctype,
			       char *body, size_t len, const char *extra_h, const char *extra_v)
{
	struct MHD_Response *resp;
	enum MHD_Result ret;

	if (r && r->fast) {
		cl_fast_reply(r->fast, code, ctype, body, len, extra_h, extra_v);
		free(body);
		count_code(s, code);
		r->state = S_ANSWERED;
		return MHD_YES;
	}
	resp = MHD_create_response_from_buffer(len, body, MHD_RESPMEM_MUST_FREE);
	if (!resp) {
		free(body);
		return MHD_NO;
	}
	MHD_add_response_header(resp, MHD_HTTP_HEADER_CONTENT_TYPE, ctype);
	MHD_add_response_header(resp, "Cache-Control", "no-store");
	if (extra_h)
		MHD_add_response_header(resp, extra_h, extra_v);
	ret = MHD_queue_response(c, (unsigned int)code, resp);
	MHD_destroy_response(resp);
	count_code(s, code);
	if (r)
		r->state = S_ANSWERED;
	return ret;
}

/* The OperationOutcome issue code for an error kind. */
static const char *fhir_issue(const char *kind)
{
	static const struct { const char *kind, *code; } map[] = {
		{ "unauthorized", "login" }, { "not_found", "not-found" },
		{ "method_not_allowed", "not-supported" }, { "bad_request", "invalid" },
		{ "payload_too_large", "too-costly" }, { "too_many_events", "too-costly" },
		{ "busy", "transient" }, { "not_stored", "exception" },
	};

	for (size_t i = 0; i < sizeof(map) / sizeof(map[0]); i++)
		if (strcmp(map[i].kind, kind) == 0)
			return map[i].code;
	return "processing";
}

static json_t *outcome(const char *severity, const char *code, const char *diag)
{
	return json_pack("{s:s,s:[{s:s,s:s,s:s}]}", "resourceType", "OperationOutcome",
			 "issue", "severity", severity, "code", code, "diagnostics", diag);
}

/* {"error": kind, "detail": detail} with the given status; an
 * OperationOutcome on the FHIR endpoints. */
static enum MHD_Result respond_error(struct cl_server *s, struct cl_http_req *r,
				     struct MHD_Connection *c, int code, const char *kind,
				     const char *detail, const char *extra_h,
				     const char *extra_v)
{
	int fhir = r && is_fhir(r->route);
	json_t *j = fhir ? outcome("error", fhir_issue(kind), detail)
			 : json_pack("{s:s,s:s}", "error", kind, "detail", detail);
	char *text = json_dumps(j, JSON_COMPACT);
	char *body;
	size_t n;

	json_decref(j);
	if (!text)
		return MHD_NO;
	n = strlen(text);
	body = malloc(n + 2);
	if (!body) {
		free(text);
		return MHD_NO;
	}
	memcpy(body, text, n);
	body[n] = '\n';
	free(text);
	return respond(s, r, c, code, fhir ? "application/fhir+json" : "application/json",
		       body, n + 1, extra_h, extra_v);
}

static enum MHD_Result respond_json(struct cl_server *s, struct cl_http_req *r,
				    struct MHD_Connection *c, int code, json_t *j,
				    const char *ctype, const char *extra_h, const char *extra_v)
{
	char *text = json_dumps(j, JSON_COMPACT);

	json_decref(j);
	if (!text)
		return MHD_NO;
	return respond(s, r, c, code, ctype, text, strlen(text), extra_h, extra_v);
}

/* Checks the bearer token; a missing or wrong one is answered 401.
 * Returns 1 when the request may go on, else 0 with *ret. */
static int authorised(struct cl_server *s, struct cl_http_req *r, struct MHD_Connection *c,
		      const char *auth, enum MHD_Result *ret)
{
	if (cl_auth_check(s->auth, auth, &r->who) == CL_OK)
		return 1;
	*ret = respond_error(s, r, c, 401, "unauthorized", cl_error_detail(),
			     MHD_HTTP_HEADER_WWW_AUTHENTICATE, "Bearer realm=\"carelake\"");
	return 0;
}

/* Appends n bytes to the request's body; no memory for them is answered
 * 503. Returns 1 when they are in, else 0 with *ret. */
static int body_append(struct cl_server *s, struct cl_http_req *r, struct MHD_Connection *c,
		       const char *p, size_t n, enum MHD_Result *ret)
{
	if (r->len + n > r->cap) {
		size_t nc = r->cap ? r->cap : 16384;
		char *nb;

		while (nc < r->len + n)
			nc *= 2;
		nb = cl_realloc(r->body, nc);
		if (!nb) {
			*ret = respond_error(s, r, c, 503, "busy", "out of memory; retry later",
					     "Retry-After", "1");
			return 0;
		}
		r->body = nb;
		r->cap = nc;
	}
	if (n)
		memcpy(r->body + r->len, p, n);
	r->len += n;
	return 1;
}

static enum route route_of(const char *url, const char **allow)
{
	if (strcmp(url, "/healthz") == 0) {
		*allow = "GET";
		return R_HEALTHZ;
	}
	if (strcmp(url, "/metrics") == 0) {
		*allow = "GET";
		return R_METRICS;
	}
	if (strcmp(url, "/api/v1/events") == 0) {
		*allow = "POST";
		return R_EVENTS;
	}
	if (strncmp(url, "/api/v1/patients/", 17) == 0) {
		const char *id = url + 17, *slash = strchr(id, '/');

		if (slash && slash > id && strcmp(slash, "/vitals") == 0) {
			*allow = "GET";
			return R_VITALS;
		}
	}
	if (strcmp(url, "/api/v1/stream") == 0) {
		*allow = "GET";
		return R_STREAM;
	}
	if (strcmp(url, "/api/v1/alerts") == 0) {
		*allow = "GET";
		return R_ALERTS;
	}
	if (strncmp(url, "/api/v1/alerts/", 15) == 0) {
		const char *slash = strchr(url + 15, '/');

		if (slash && slash > url + 15 && strcmp(slash, "/ack") == 0) {
			*allow = "POST";
			return R_ALERT_ACK;
		}
	}
	if (strcmp(url, "/fhir/metadata") == 0) {
		*allow = "GET";
		return R_FHIR_META;
	}
	if (strcmp(url, "/fhir/Observation") == 0) {
		*allow = "POST";
		return R_FHIR_OBS;
	}
	if (strcmp(url, "/fhir") == 0 || strcmp(url, "/fhir/") == 0) {
		*allow = "POST";
		return R_FHIR_BUNDLE;
	}
	*allow = NULL;
	return R_NONE;
}

static enum MHD_Result answer_events(struct cl_server *s, struct cl_http_req *r,
				     struct MHD_Connection *c, int commit_rc)
{
	json_t *j, *rej;
	char *text;

	if (commit_rc != CL_OK) {
		/* nothing of this request can be called durable: forget the ids
		 * so the client's retry is stored, not called a duplicate */
		cl_ingest_forget(r->log == s->fhir ? s->fhir_ingest : s->ingest, &r->res);
		return respond_error(s, r, c, commit_rc == CL_ENOSPC ? 507 : 503,
				     "not_stored", cl_error_detail(), "Retry-After", "5");
	}
	if (r->res.nlisted == 0 && r->res.nrejected == 0) {
		/* the common answer, without building it as a tree */
		char *body = malloc(80);
		int n;

		if (!body)
			return MHD_NO;
		n = snprintf(body, 80, "{\"accepted\":%u,\"duplicates\":%u,\"rejected\":[]}",
			     (unsigned)r->res.accepted, (unsigned)r->res.duplicates);
		return respond(s, r, c, 200, "application/json", body, (size_t)n, NULL, NULL);
	}
	rej = json_array();
	for (uint32_t i = 0; i < r->res.nlisted; i++)
		json_array_append_new(rej, json_pack("{s:i,s:s}", "index",
						     (int)r->res.rejected[i].index, "error",
						     r->res.rejected[i].error));
	j = json_pack("{s:i,s:i,s:o}", "accepted", (int)r->res.accepted, "duplicates",
		      (int)r->res.duplicates, "rejected", rej);
	if (r->res.nrejected > r->res.nlisted)
		json_object_set_new(j, "rejected_count", json_integer(r->res.nrejected));
	if (r->res.conflicts)
		json_object_set_new(j, "conflicts", json_integer(r->res.conflicts));
	text = json_dumps(j, JSON_COMPACT);
	json_decref(j);
	if (!text)
		return MHD_NO;
	return respond(s, r, c, 200, "application/json", text, strlen(text), NULL, NULL);
}

static const char *item_status(const struct cl_item *it)
{
	switch (it->status) {
	case CL_ITEM_ACCEPTED: return "201 Created";
	case CL_ITEM_DUPLICATE: return "200 OK";
	case CL_ITEM_CONFLICT: return "409 Conflict";
	default: return "400 Bad Request";
	}
}

/* FHIR answers: the Observation (201, or 200 for a repeat) or a
 * batch/transaction-response Bundle. */
static enum MHD_Result answer_fhir(struct cl_server *s, struct cl_http_req *r,
				   struct MHD_Connection *c, int commit_rc)
{
	char loc[128];
	json_t *b, *entries;

	if (commit_rc != CL_OK)
		return answer_events(s, r, c, commit_rc);
	if (r->route == R_FHIR_OBS) {
		const struct cl_item *it = &r->res.items[0];

		if (it->status == CL_ITEM_REJECTED || it->status == CL_ITEM_CONFLICT)
			return respond_json(s, r, c, it->status == CL_ITEM_CONFLICT ? 409 : 400,
					    outcome("error", it->issue, it->error),
					    "application/fhir+json", NULL, NULL);
		snprintf(loc, sizeof(loc), "Observation/%s", it->id[0] ? it->id : "");
		/* the resource as stored: byte for byte what was sent */
		{
			char *body = malloc(r->len ? r->len : 1);

			if (!body)
				return MHD_NO;
			memcpy(body, r->body, r->len);
			return respond(s, r, c, it->status == CL_ITEM_ACCEPTED ? 201 : 200,
				       "application/fhir+json", body, r->len,
				       it->id[0] ? "Location" : NULL, loc);
		}
	}
	if (r->res.transaction_failed) {
		json_t *o = json_pack("{s:s,s:[]}", "resourceType", "OperationOutcome", "issue");
		json_t *issues = json_object_get(o, "issue");

		for (uint32_t i = 0; i < r->res.nitems; i++)
			if (r->res.items[i].status == CL_ITEM_REJECTED ||
			    r->res.items[i].status == CL_ITEM_CONFLICT)
				json_array_append_new(issues, json_pack("{s:s,s:s,s:s}", "severity", "error",
									"code", r->res.items[i].issue,
									"diagnostics", r->res.items[i].error));
		return respond_json(s, r, c, 400, o, "application/fhir+json", NULL, NULL);
	}
	entries = json_array();
	for (uint32_t i = 0; i < r->res.nitems; i++) {
		const struct cl_item *it = &r->res.items[i];
		json_t *resp = json_pack("{s:s}", "status", item_status(it));

		if (it->status == CL_ITEM_REJECTED || it->status == CL_ITEM_CONFLICT) {
			json_object_set_new(resp, "outcome", outcome("error", it->issue, it->error));
		} else if (it->id[0]) {
			snprintf(loc, sizeof(loc), "Observation/%s", it->id);
			json_object_set_new(resp, "location", json_string(loc));
		}
		json_array_append_new(entries, json_pack("{s:o}", "response", resp));
	}
	b = json_pack("{s:s,s:s,s:o}", "resourceType", "Bundle", "type",
		      r->res.transaction_failed ? "transaction-response" : "batch-response",
		      "entry", entries);
	{
		int t = cl_json_get(&r->res.doc, 0, "type");

		if (t >= 0 && cl_json_str_eq(&r->res.doc, (uint32_t)t, "transaction"))
			json_object_set_new(b, "type", json_string("transaction-response"));
	}
	return respond_json(s, r, c, 200, b, "application/fhir+json", NULL, NULL);
}

static enum MHD_Result answer(struct cl_server *s, struct cl_http_req *r,
			      struct MHD_Connection *c, int commit_rc)
{
	return is_fhir(r->route) ? answer_fhir(s, r, c, commit_rc)
				 : answer_events(s, r, c, commit_rc);
}

/* The whole body of an ingest request is here: validates and queues it.
 * Returns 1 when its events wait for their commit; otherwise the request
 * is answered, with *ret. */
static int queue_ingest(struct cl_server *s, struct cl_http_req *r, struct MHD_Connection *c,
			enum MHD_Result *ret)
{
	/* the fast path wakes the flusher once per round of its loop */
	int rc, flags = CL_BLOG_NOWAIT | (r->fast ? CL_BLOG_LAZY : 0);

	if (r->route == R_EVENTS) {
		r->log = s->vitals;
		rc = cl_ingest_body(s->ingest, r->body ? r->body : "", r->len, cl_time_now_us(),
				    flags, &r->res);
	} else {
		r->log = s->fhir;
		rc = cl_ingest_fhir(s->fhir_ingest, r->body ? r->body : "", r->len,
				    cl_time_now_us(), flags, r->route == R_FHIR_BUNDLE, &r->res);
	}
	if (rc == CL_EPARSE)
		*ret = respond_error(s, r, c, 400, "bad_request", cl_error_detail(), NULL, NULL);
	else if (rc == CL_ETOOBIG)
		*ret = respond_error(s, r, c, 413, "too_many_events", cl_error_detail(), NULL, NULL);
	else if (rc == CL_EBUSY)
		*ret = respond_error(s, r, c, 503, "busy",
				     "the bronze log cannot keep up right now; retry after the delay",
				     "Retry-After", "1");
	else if (rc != CL_OK)
		*ret = respond_error(s, r, c, rc == CL_ENOSPC ? 507 : 500, "not_stored",
				     cl_error_detail(), "Retry-After", "5");
	else if (!r->res.queued)
		*ret = answer(s, r, c, CL_OK);
	else
		return 1;
	return 0;
}

static enum MHD_Result start_ingest(struct cl_server *s, struct cl_http_req *r,
				    struct MHD_Connection *c)
{
	enum MHD_Result ret;
	int done, commit_rc = CL_OK;

	if (!queue_ingest(s, r, c, &ret))
		return ret;
	/* answer now if the commit already happened, else wait for it */
	pthread_mutex_lock(&s->wait_mu);
	done = cl_blog_poll_range(r->log, r->res.first.batch, r->res.last.batch, &commit_rc);
	if (!done) {
		r->conn = c;
		r->state = S_WAITING;
		r->next_waiter = s->waiters;
		s->waiters = r;
		MHD_suspend_connection(c);
	}
	pthread_mutex_unlock(&s->wait_mu);
	if (done)
		return answer(s, r, c, commit_rc);
	return MHD_YES;
}

void cl_http_on_commit(struct cl_server *s, struct cl_blog *log, uint64_t batch)
{
	struct cl_http_req **pp;

	pthread_mutex_lock(&s->wait_mu);
	for (pp = &s->waiters; *pp;) {
		struct cl_http_req *r = *pp;

		if (r->log == log && r->res.last.batch <= batch) {
			*pp = r->next_waiter;
			r->state = S_RESUMED;
			MHD_resume_connection(r->conn);
		} else {
			pp = &r->next_waiter;
		}
	}
	if (s->fast)
		cl_fast_notify(s->fast);
	pthread_mutex_unlock(&s->wait_mu);
}

/*
 * The fast path's side (cl_http_fast.c): ingest requests it has read
 * whole from a connection of its own, answered through cl_fast_reply.
 */

static enum route route_n(const char *path, size_t n, const char **allow)
{
	char url[32];

	if (n >= sizeof(url))
		return R_NONE;
	memcpy(url, path, n);
	url[n] = '\0';
	return route_of(url, allow);
}

int cl_http_fast_route(const char *path, size_t n)
{
	const char *allow;
	enum route r = route_n(path, n, &allow);

	return r == R_EVENTS || r == R_FHIR_OBS || r == R_FHIR_BUNDLE;
}

struct cl_http_req *cl_http_fast_new(struct cl_fconn *c)
{
	struct cl_http_req *r = cl_calloc(1, sizeof(*r));

	if (r) {
		cl_ingest_result_init(&r->res);
		r->fast = c;
	}
	return r;
}

void cl_http_fast_free(struct cl_http_req *r)
{
	if (!r)
		return;
	cl_ingest_result_free(&r->res);
	cl_free(r->body);
	cl_free(r);
}

int cl_http_fast_serve(struct cl_server *s, struct cl_http_req *r, const char *path, size_t n,
		       const char *auth, const char *body, size_t len)
{
	const char *allow;
	enum MHD_Result ret;

	cl_ingest_result_free(&r->res);
	cl_ingest_result_init(&r->res);
	r->route = route_n(path, n, &allow);
	r->state = S_READING;
	r->log = NULL;
	r->len = 0;
	if (!authorised(s, r, NULL, auth, &ret) || !body_append(s, r, NULL, body, len, &ret) ||
	    !queue_ingest(s, r, NULL, &ret))
		return 0;
	r->state = S_WAITING;
	return 1;
}

int cl_http_fast_poll(struct cl_server *s, struct cl_http_req *r)
{
	int rc = CL_OK;

	if (!cl_blog_poll_range(r->log, r->res.first.batch, r->res.last.batch, &rc))
		return 0;
	answer(s, r, NULL, rc);
	return 1;
}

/* Reads a time query argument: RFC 3339, or absent (default). */
static int time_arg(struct MHD_Connection *c, const char *name, int64_t def, int64_t *out)
{
	const char *v = MHD_lookup_connection_value(c, MHD_GET_ARGUMENT_KIND, name);

	if (!v || !*v) {
		*out = def;
		return CL_OK;
	}
	if (cl_time_parse_rfc3339(v, strlen(v), out) != CL_OK)
		return cl_error_set(CL_EINVAL, "'%s' must be an RFC 3339 time: %s", name,
				    cl_error_detail());
	return CL_OK;
}

/* GET /api/v1/patients/{id}/vitals?from=&to=&resolution=raw|1m|1h&limit= */
static enum MHD_Result answer_vitals(struct cl_server *s, struct cl_http_req *r,
				     struct MHD_Connection *c, const char *url)
{
	const char *id = url + 17, *res, *lim;
	char patient[CL_EVENT_ID_MAX + 1], *rows = NULL, *news2 = NULL;
	int64_t now = cl_time_now_us(), from, to;
	struct cl_store *st;
	uint64_t limit = 10000;
	size_t idlen = (size_t)(strchr(id, '/') - id);
	json_t *j;
	int rc;

	if (idlen == 0 || idlen > CL_EVENT_ID_MAX)
		return respond_error(s, r, c, 400, "bad_request", "the patient id is empty or too long",
				     NULL, NULL);
	memcpy(patient, id, idlen);
	patient[idlen] = '\0';
	res = MHD_lookup_connection_value(c, MHD_GET_ARGUMENT_KIND, "resolution");
	if (!res || !*res)
		res = "raw";
	lim = MHD_lookup_connection_value(c, MHD_GET_ARGUMENT_KIND, "limit");
	if (time_arg(c, "from", now - 3600ll * 1000000, &from) != CL_OK ||
	    time_arg(c, "to", now + 300ll * 1000000, &to) != CL_OK ||
	    (lim && cl_parse_u64(lim, 1, 100000, &limit) != CL_OK))
		return respond_error(s, r, c, 400, "bad_request", cl_error_detail(), NULL, NULL);
	if (strcmp(res, "raw") != 0) {
		int known = 0;

		for (int i = 0; i < s->stream_opts.nwindows; i++)
			known |= strcmp(s->stream_opts.windows[i].name, res) == 0;
		if (!known) {
			char msg[400];

			snprintf(msg, sizeof(msg), "resolution must be raw or a window of stream.windows (%s)",
				 s->cfg.stream.windows);
			return respond_error(s, r, c, 400, "bad_request", msg, NULL, NULL);
		}
	}
	rc = cl_store_open(s->data_dir, &st);
	if (rc == CL_OK) {
		rc = cl_store_vitals_json(st, patient, from, to, res, (int)limit, &rows);
		if (rc == CL_OK)
			rc = cl_store_news2_json(st, patient, &news2);
		cl_store_close(st);
	}
	if (rc != CL_OK) {
		free(rows);
		return respond_error(s, r, c, 500, "store", cl_error_detail(), NULL, NULL);
	}
	j = json_pack("{s:s,s:s,s:o,s:o}", "patient_id", patient, "resolution", res, "vitals",
		      json_loads(rows, 0, NULL),
		      "news2", news2 ? json_loads(news2, 0, NULL) : json_null());
	free(rows);
	free(news2);
	return respond_json(s, r, c, 200, j, "application/json", NULL, NULL);
}

/* GET /api/v1/alerts?since=&patient=&open=true|false&limit= */
static enum MHD_Result answer_alerts(struct cl_server *s, struct cl_http_req *r,
				     struct MHD_Connection *c)
{
	const char *patient = MHD_lookup_connection_value(c, MHD_GET_ARGUMENT_KIND, "patient");
	const char *open = MHD_lookup_connection_value(c, MHD_GET_ARGUMENT_KIND, "open");
	const char *lim = MHD_lookup_connection_value(c, MHD_GET_ARGUMENT_KIND, "limit");
	struct cl_store *st;
	uint64_t limit = 1000;
	int64_t since;
	char *rows = NULL;
	int rc;

	if (time_arg(c, "since", INT64_MIN / 2, &since) != CL_OK ||
	    (lim && cl_parse_u64(lim, 1, 100000, &limit) != CL_OK))
		return respond_error(s, r, c, 400, "bad_request", cl_error_detail(), NULL, NULL);
	if (open && strcmp(open, "true") && strcmp(open, "false"))
		return respond_error(s, r, c, 400, "bad_request", "'open' must be true or false",
				     NULL, NULL);
	rc = cl_store_open(s->data_dir, &st);
	if (rc == CL_OK) {
		rc = cl_store_alerts_json(st, since, patient && *patient ? patient : NULL,
					  open && strcmp(open, "true") == 0, 0, (int)limit, &rows);
		cl_store_close(st);
	}
	if (rc != CL_OK)
		return respond_error(s, r, c, 500, "store", cl_error_detail(), NULL, NULL);
	{
		json_t *j = json_pack("{s:o}", "alerts", json_loads(rows, 0, NULL));

		free(rows);
		return respond_json(s, r, c, 200, j, "application/json", NULL, NULL);
	}
}

/* POST /api/v1/alerts/{id}/ack */
static enum MHD_Result answer_ack(struct cl_server *s, struct cl_http_req *r,
				  struct MHD_Connection *c, const char *url,
				  const struct cl_principal *who)
{
	char idtext[24], *rows = NULL;
	const char *id0 = url + 15;
	size_t n = (size_t)(strchr(id0, '/') - id0);
	struct cl_store *st;
	uint64_t id;
	int rc, changed = 0;

	if (n >= sizeof(idtext))
		return respond_error(s, r, c, 404, "not_found", "no such alert", NULL, NULL);
	memcpy(idtext, id0, n);
	idtext[n] = '\0';
	if (cl_parse_u64(idtext, 1, INT64_MAX, &id) != CL_OK)
		return respond_error(s, r, c, 404, "not_found", "no such alert", NULL, NULL);
	rc = cl_store_open(s->data_dir, &st);
	if (rc == CL_OK) {
		rc = cl_store_alert_ack(st, (int64_t)id, who->name, &changed);
		if (rc == CL_OK)
			rc = cl_store_alerts_json(st, INT64_MIN / 2, NULL, 0, (int64_t)id, 1, &rows);
		cl_store_close(st);
	}
	if (rc != CL_OK) {
		free(rows);
		return respond_error(s, r, c, 500, "store", cl_error_detail(), NULL, NULL);
	}
	{
		json_t *arr = json_loads(rows, 0, NULL);

		free(rows);
		if (json_array_size(arr) == 0) {
			json_decref(arr);
			return respond_error(s, r, c, 404, "not_found", "no such alert", NULL, NULL);
		}
		if (!changed) {
			json_decref(arr);
			return respond_error(s, r, c, 409, "already_acknowledged",
					     "this alert was acknowledged before", NULL, NULL);
		}
		{
			json_t *a = json_incref(json_array_get(arr, 0));

			json_decref(arr);
			return respond_json(s, r, c, 200, a, "application/json", NULL, NULL);
		}
	}
}

static enum MHD_Result handler(void *cls, struct MHD_Connection *c, const char *url,
			       const char *method, const char *version,
			       const char *upload, size_t *upload_size, void **con_cls)
{
	struct cl_server *s = cls;
	struct cl_http_req *r = *con_cls;
	const char *allow;

	(void)version;
	if (!r) {
		const char *auth, *clen;
		char msg[300];

		r = cl_calloc(1, sizeof(*r));
		if (!r)
			return MHD_NO;
		cl_ingest_result_init(&r->res);
			*con_cls = r;
		r->route = route_of(url, &allow);
		if (r->route == R_NONE) {
			snprintf(msg, sizeof(msg), "no endpoint %s %.200s", method, url);
			return respond_error(s, r, c, 404, "not_found", msg, NULL, NULL);
		}
		if (strcmp(method, allow) != 0) {
			snprintf(msg, sizeof(msg), "%.200s takes %s, not %s", url, allow, method);
			return respond_error(s, r, c, 405, "method_not_allowed", msg, "Allow", allow);
		}
		if (r->route != R_HEALTHZ && r->route != R_METRICS && r->route != R_FHIR_META) {
			enum MHD_Result ret;

			auth = MHD_lookup_connection_value(c, MHD_HEADER_KIND,
							   MHD_HTTP_HEADER_AUTHORIZATION);
			if (!authorised(s, r, c, auth, &ret))
				return ret;
		}
		clen = MHD_lookup_connection_value(c, MHD_HEADER_KIND,
						   MHD_HTTP_HEADER_CONTENT_LENGTH);
		if (clen) {
			uint64_t n;

			if (cl_parse_u64(clen, 0, UINT64_MAX, &n) != CL_OK)
				return respond_error(s, r, c, 400, "bad_request",
						     "Content-Length is not a number", NULL, NULL);
			if (n > s->cfg.http.max_body_bytes) {
				snprintf(msg, sizeof(msg), "the body is %llu bytes; the limit is %llu",
					 (unsigned long long)n,
					 (unsigned long long)s->cfg.http.max_body_bytes);
				return respond_error(s, r, c, 413, "payload_too_large", msg, NULL, NULL);
			}
		}
		r->state = S_READING;
		return MHD_YES;
	}
	if (r->state == S_ANSWERED) {
		*upload_size = 0; /* discard the rest of a rejected body */
		return MHD_YES;
	}
	if (*upload_size) {
		if (r->len + *upload_size > s->cfg.http.max_body_bytes) {
			char msg[200];

			*upload_size = 0;
			snprintf(msg, sizeof(msg), "the body is larger than the limit of %llu bytes",
				 (unsigned long long)s->cfg.http.max_body_bytes);
			return respond_error(s, r, c, 413, "payload_too_large", msg, NULL, NULL);
		}
		enum MHD_Result ret = MHD_YES;

		body_append(s, r, c, upload, *upload_size, &ret);
		*upload_size = 0;
		return ret;
	}
	/* the request is complete */
	switch (r->route) {
	case R_HEALTHZ: {
		char *body = malloc(64);
		int n;

		if (!body)
			return MHD_NO;
		if (s->stream && atomic_load(&cl_stream_counters(s->stream)->stopped)) {
			n = snprintf(body, 64, "{\"status\":\"degraded\",\"stream\":\"stopped\"}\n");
			return respond(s, r, c, 503, "application/json", body, (size_t)n, NULL, NULL);
		}
		n = snprintf(body, 64, "{\"status\":\"ok\"}\n");
		return respond(s, r, c, 200, "application/json", body, (size_t)n, NULL, NULL);
	}
	case R_METRICS: {
		size_t n;
		char *text = cl_metrics_render(s, &n);
		char *body = text ? malloc(n) : NULL;

		if (!body) {
			cl_free(text);
			return MHD_NO;
		}
		memcpy(body, text, n);
		cl_free(text);
		return respond(s, r, c, 200, "text/plain; version=0.0.4", body, n, NULL, NULL);
	}
	case R_VITALS:
		return answer_vitals(s, r, c, url);
	case R_ALERTS:
		return answer_alerts(s, r, c);
	case R_STREAM: {
		const char *patient = MHD_lookup_connection_value(c, MHD_GET_ARGUMENT_KIND, "patient");
		const char *vit = MHD_lookup_connection_value(c, MHD_GET_ARGUMENT_KIND, "vitals");
		struct MHD_Response *resp;
		enum MHD_Result ret;

		if (vit && strcmp(vit, "true") && strcmp(vit, "false"))
			return respond_error(s, r, c, 400, "bad_request", "'vitals' must be true or false",
					     NULL, NULL);
		resp = cl_sse_subscribe(s->sse, c, patient, !vit || strcmp(vit, "true") == 0);
		if (!resp)
			return MHD_NO;
		ret = MHD_queue_response(c, 200, resp);
		MHD_destroy_response(resp);
		count_code(s, 200);
		r->state = S_ANSWERED;
		return ret;
	}
	case R_ALERT_ACK:
		return answer_ack(s, r, c, url, &r->who);
	case R_FHIR_META:
		return respond_json(s, r, c, 200, json_pack(
			"{s:s,s:s,s:s,s:s,s:[s],s:{s:s,s:s},s:[{s:s,s:[{s:s,s:[{s:s}]}]}]}",
			"resourceType", "CapabilityStatement", "status", "active",
			"kind", "instance", "fhirVersion", "4.0.1", "format", "json",
			"software", "name", "carelake", "version", CARELAKE_VERSION,
			"rest", "mode", "server", "resource", "type", "Observation",
			"interaction", "code", "create"), "application/fhir+json", NULL, NULL);
	case R_EVENTS:
	case R_FHIR_OBS:
	case R_FHIR_BUNDLE:
		if (r->state == S_RESUMED) {
			int rc = CL_OK;

			cl_blog_poll_range(r->log, r->res.first.batch, r->res.last.batch, &rc);
			return answer(s, r, c, rc);
		}
		if (r->state == S_WAITING)
			return MHD_YES;
		return start_ingest(s, r, c);
	default:
		return MHD_NO;
	}
}

static void completed(void *cls, struct MHD_Connection *c, void **con_cls,
		      enum MHD_RequestTerminationCode why)
{
	struct cl_http_req *r = *con_cls;

	(void)cls;
	(void)c;
	(void)why;
	if (!r)
		return;
	cl_ingest_result_free(&r->res);
	cl_free(r->body);
	cl_free(r);
	*con_cls = NULL;
}

static void mhd_log(void *cls, const char *fmt, va_list ap)
{
	char msg[300];
	size_t n;

	(void)cls;
	vsnprintf(msg, sizeof(msg), fmt, ap);
	n = strlen(msg);
	while (n > 0 && (msg[n - 1] == '\n' || msg[n - 1] == '\r'))
		msg[--n] = '\0';
	for (size_t i = 0; i < n; i++)
		if (msg[i] == '"')
			msg[i] = '\'';
	cl_log_warn("http", "event=mhd msg=\"%s\"", msg);
}

/* Splits "host:port" and resolves an IPv4 address. */
static int parse_listen(const char *spec, struct sockaddr_in *sa)
{
	const char *colon = strrchr(spec, ':');
	char host[64];
	uint64_t port;

	if (!colon || colon == spec || (size_t)(colon - spec) >= sizeof(host))
		return cl_error_set(CL_EINVAL, "http.listen '%s' is not HOST:PORT", spec);
	memcpy(host, spec, (size_t)(colon - spec));
	host[colon - spec] = '\0';
	if (cl_parse_u64(colon + 1, 0, 65535, &port) != CL_OK)
		return cl_error_set(CL_EINVAL, "http.listen '%s': port must be 0..65535", spec);
	memset(sa, 0, sizeof(*sa));
	sa->sin_family = AF_INET;
	sa->sin_port = htons((uint16_t)port);
	if (strcmp(host, "localhost") == 0)
		snprintf(host, sizeof(host), "127.0.0.1");
	if (inet_pton(AF_INET, host, &sa->sin_addr) != 1)
		return cl_error_set(CL_EINVAL, "http.listen '%s': '%s' is not an IPv4 address",
				    spec, host);
	return CL_OK;
}

int cl_http_start(struct cl_server *s)
{
	struct sockaddr_in sa;
	int rc = parse_listen(s->cfg.http.listen, &sa);

	if (rc)
		return rc;
	/* MHD listens on nothing of its own: the fast path accepts every
	 * connection and hands it over for anything but a whole ingest
	 * request (cl_http_fast.c) */
	s->mhd = MHD_start_daemon(
		MHD_USE_EPOLL_INTERNAL_THREAD | MHD_ALLOW_SUSPEND_RESUME | MHD_USE_ERROR_LOG |
		MHD_USE_NO_LISTEN_SOCKET,
		0, NULL, NULL, handler, s,
		MHD_OPTION_EXTERNAL_LOGGER, mhd_log, s,
		MHD_OPTION_THREAD_POOL_SIZE, (unsigned int)s->cfg.http.threads,
		MHD_OPTION_CONNECTION_TIMEOUT,
		(unsigned int)(s->cfg.http.connection_timeout_us / 1000000),
		MHD_OPTION_CONNECTION_LIMIT, (unsigned int)s->cfg.http.max_connections,
		MHD_OPTION_NOTIFY_COMPLETED, completed, s,
		/* MHD clears a connection's pool for every request: what it
		 * does not need (headers, a read buffer; bodies come to us in
		 * pieces) is time spent zeroing */
		MHD_OPTION_CONNECTION_MEMORY_LIMIT, (size_t)s->cfg.http.connection_memory,
		MHD_OPTION_END);
	if (!s->mhd)
		return cl_error_set(CL_EIO, "cannot start the HTTP daemon");
	{
		struct cl_fast *f;

		rc = cl_fast_start(s, &sa, &f);
		if (rc) {
			MHD_stop_daemon(s->mhd);
			s->mhd = NULL;
			return cl_error_set(CL_EIO, "cannot listen on %s: %s (is the port in use?)",
					    s->cfg.http.listen, cl_error_detail());
		}
		pthread_mutex_lock(&s->wait_mu);
		s->fast = f;
		pthread_mutex_unlock(&s->wait_mu);
		s->port = cl_fast_port(f);
	}
	return CL_OK;
}

void cl_http_stop(struct cl_server *s)
{
	struct cl_fast *f;

	if (!s->mhd)
		return;
	/* stop taking new connections, end live streams, let waiting
	 * requests get answered */
	if (s->fast)
		cl_fast_quiesce(s->fast);
	if (s->sse)
		cl_sse_close_all(s->sse);
	for (int i = 0; i < 500; i++) {
		int empty;

		pthread_mutex_lock(&s->wait_mu);
		empty = s->waiters == NULL && (!s->fast || cl_fast_waiting(s->fast) == 0);
		pthread_mutex_unlock(&s->wait_mu);
		if (empty)
			break;
		usleep(10000);
	}
	pthread_mutex_lock(&s->wait_mu);
	f = s->fast;
	s->fast = NULL;
	pthread_mutex_unlock(&s->wait_mu);
	cl_fast_stop(f);
	MHD_stop_daemon(s->mhd);
	s->mhd = NULL;
}
