/*
 * A batch or transaction Bundle's entries as the REST API reads them. See
 * cl_fhir_bundle.h.
 */
#include "cl_fhir_bundle.h"
#include "cl_fhir_check.h"
#include "cl_fhir_meta.h"
#include "cl_fhir_search.h"
#include "core/cl_error.h"
#include "core/cl_mem.h"

#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* The value of key in the object at obj when it is a string equal to s. */
static int member_is(const struct cl_json_doc *d, int obj, const char *key, const char *s)
{
	int v = obj >= 0 && d->toks[obj].type == CL_JSON_OBJECT ? cl_json_get(d, (uint32_t)obj, key)
								 : -1;

	return v >= 0 && d->toks[v].type == CL_JSON_STRING && cl_json_str_eq(d, (uint32_t)v, s);
}

/* 1 if entry e is an Observation with its own id, posted for the stream. */
static int stream_entry(const struct cl_json_doc *d, uint32_t e)
{
	int res, req;

	if (d->toks[e].type != CL_JSON_OBJECT)
		return 1; /* ingest refuses it in its place */
	res = cl_json_get(d, e, "resource");
	req = cl_json_get(d, e, "request");
	if (res < 0 || !member_is(d, res, "resourceType", "Observation") ||
	    cl_json_get(d, (uint32_t)res, "id") < 0)
		return 0;
	if (req < 0)
		return 1;
	return member_is(d, req, "method", "POST") &&
	       cl_json_get(d, (uint32_t)req, "ifNoneExist") < 0;
}

int cl_fhir_bundle_is_rest(const char *body, size_t len)
{
	struct cl_json_doc d;
	int rest = 0, e;

	cl_json_doc_init(&d);
	if (cl_json_parse(&d, body, len) == CL_OK && d.toks[0].type == CL_JSON_OBJECT &&
	    member_is(&d, 0, "resourceType", "Bundle") &&
	    (member_is(&d, 0, "type", "transaction") || member_is(&d, 0, "type", "batch"))) {
		e = cl_json_get(&d, 0, "entry");
		if (e >= 0 && d.toks[e].type == CL_JSON_ARRAY) {
			uint32_t i = (uint32_t)e + 1;

			for (uint32_t k = 0; k < d.toks[e].size && !rest; k++, i = d.toks[i].next)
				rest = !stream_entry(&d, i);
		}
	}
	cl_json_doc_free(&d);
	return rest;
}

/* Sets the refusal of an entry: its status, issue and reason. */
static int refuse(int status, const char *code, const char **issue, char *why, size_t cap,
		  const char *fmt, ...) __attribute__((format(printf, 6, 7)));

static int refuse(int status, const char *code, const char **issue, char *why, size_t cap,
		  const char *fmt, ...)
{
	va_list ap;

	*issue = code;
	va_start(ap, fmt);
	vsnprintf(why, cap, fmt, ap);
	va_end(ap);
	return status;
}

/* A string member of obj into buf: 1, 0 when absent, -1 when it is not a
 * string or longer than cap - 1 bytes. */
static int member_str(const struct cl_json_doc *d, int obj, const char *key, char *buf,
		      size_t cap)
{
	int v = cl_json_get(d, (uint32_t)obj, key);

	buf[0] = '\0';
	if (v < 0)
		return 0;
	if (d->toks[v].type != CL_JSON_STRING || cl_json_str(d, (uint32_t)v, buf, cap) < 0)
		return -1;
	return 1;
}

/* ifMatch: W/"n", "n" or *. 0, or -1 when it is none of those. */
static int read_etag(const char *m, int64_t *out)
{
	char *end;
	long long v;

	if (strcmp(m, "*") == 0) {
		*out = -1;
		return 0;
	}
	if (strncmp(m, "W/", 2) == 0)
		m += 2;
	if (m[0] != '"' || m[1] < '0' || m[1] > '9')
		return -1;
	v = strtoll(m + 1, &end, 10);
	if (end[0] != '"' || end[1] != '\0' || v <= 0 || v == LLONG_MAX)
		return -1;
	*out = v;
	return 0;
}

/* request.url into type (and id for PUT and DELETE). 0 or the refusal. */
static int read_url(const char *url, uint32_t k, struct cl_fhir_entry_req *e, const char **issue,
		    char *why, size_t cap)
{
	const char *slash = strchr(url, '/');
	size_t tn = slash ? (size_t)(slash - url) : strlen(url);

	if (strstr(url, "://"))
		return refuse(400, "invalid", issue, why, cap, "entry %u: request.url must be "
			      "relative to the FHIR base (Patient, Patient/p1), not '%.100s'", k, url);
	if (strchr(url, '?'))
		return e->method == CL_FHIR_POST
			? refuse(400, "invalid", issue, why, cap, "entry %u: a POST's request.url is "
				 "the type (Patient); a conditional create's search goes in "
				 "request.ifNoneExist", k)
			: refuse(400, "not-supported", issue, why, cap, "entry %u: conditional update "
				 "and delete (Type?search) are not supported: name the resource "
				 "(Type/id)", k);
	if (tn == 0 || tn >= sizeof(e->type))
		return refuse(400, "invalid", issue, why, cap, "entry %u: request.url '%.100s' "
			      "names no resource type", k, url);
	memcpy(e->type, url, tn);
	e->type[tn] = '\0';
	if (!cl_fhir_type_ok(e->type) || strcmp(e->type, "Bundle") == 0)
		return refuse(404, "not-found", issue, why, cap, "entry %u: '%.64s' is not a "
			      "resource type carelake writes here", k, e->type);
	if (e->method == CL_FHIR_POST) {
		if (slash && slash[1])
			return refuse(400, "invalid", issue, why, cap, "entry %u: a POST's request.url "
				      "is the type alone (%s): the server gives the id", k, e->type);
		return 0;
	}
	if (!slash || strchr(slash + 1, '/') || strlen(slash + 1) >= sizeof(e->id) ||
	    !cl_fhir_id_ok(slash + 1))
		return refuse(400, "invalid", issue, why, cap, "entry %u: a %s's request.url is "
			      "Type/id, with an id of 1 to 64 of A-Z a-z 0-9 - . (not '%.100s')", k,
			      e->method == CL_FHIR_PUT ? "PUT" : "DELETE", url);
	snprintf(e->id, sizeof(e->id), "%s", slash + 1);
	return 0;
}

/* The entry's resource, for a POST or PUT: 0 or the refusal. */
static int read_resource(const struct cl_json_doc *d, uint32_t entry, uint32_t k,
			 struct cl_fhir_entry_req *e, const char **issue, char *why, size_t cap)
{
	int res = cl_json_get(d, entry, "resource");
	char got[CL_FHIR_TYPE_MAX], id[CL_FHIR_ID_MAX + 1];

	if (res < 0)
		return refuse(400, "required", issue, why, cap, "entry %u: a %s needs a resource",
			      k, e->method == CL_FHIR_POST ? "POST" : "PUT");
	if (member_str(d, res, "resourceType", got, sizeof(got)) != 1 || strcmp(got, e->type))
		return refuse(400, "invalid", issue, why, cap, "entry %u: the resource must be a "
			      "%s, as request.url says (resourceType)", k, e->type);
	if (e->method == CL_FHIR_PUT &&
	    (member_str(d, res, "id", id, sizeof(id)) != 1 || strcmp(id, e->id) != 0))
		return refuse(400, "invalid", issue, why, cap, "entry %u: the resource's id must be "
			      "request.url's (%s)", k, e->id);
	if (cl_fhir_check(d, (uint32_t)res, issue) != CL_OK) {
		snprintf(why, cap, "entry %u: %s", k, cl_error_detail());
		return 422;
	}
	e->resource = res;
	return 0;
}

int cl_fhir_entry_read(const struct cl_json_doc *d, uint32_t entry, uint32_t k,
		       struct cl_fhir_entry_req *e, const char **issue, char *why, size_t cap)
{
	char method[16], url[600], etag[64];
	int req, rc, has;

	memset(e, 0, sizeof(*e));
	e->resource = -1;
	if (cl_fhir_check_entry(d, entry, k, issue) != CL_OK) {
		snprintf(why, cap, "%s", cl_error_detail());
		return 400;
	}
	req = cl_json_get(d, entry, "request");
	if (req < 0)
		return refuse(400, "required", issue, why, cap, "entry %u: request (method and url) "
			      "is required in a batch or transaction", k);
	if (member_str(d, req, "method", method, sizeof(method)) != 1)
		return refuse(400, "required", issue, why, cap, "entry %u: request.method is "
			      "required (POST, PUT or DELETE)", k);
	if (strcmp(method, "POST") == 0)
		e->method = CL_FHIR_POST;
	else if (strcmp(method, "PUT") == 0)
		e->method = CL_FHIR_PUT;
	else if (strcmp(method, "DELETE") == 0)
		e->method = CL_FHIR_DELETE;
	else if (strcmp(method, "GET") == 0 || strcmp(method, "HEAD") == 0)
		return refuse(400, "not-supported", issue, why, cap, "entry %u: %s entries are not "
			      "served in a Bundle: read or search /fhir/{type} directly", k, method);
	else
		return refuse(400, "not-supported", issue, why, cap, "entry %u: request.method %.16s "
			      "is not supported here (POST, PUT or DELETE)", k, method);
	has = member_str(d, req, "url", url, sizeof(url));
	if (has != 1)
		return refuse(400, "required", issue, why, cap, "entry %u: request.url is required"
			      "%s", k, has < 0 ? " (a string of at most 599 bytes)" : "");
	rc = read_url(url[0] == '/' ? url + 1 : url, k, e, issue, why, cap);
	if (rc)
		return rc;
	has = member_str(d, req, "ifMatch", etag, sizeof(etag));
	if (has != 0 && (e->method == CL_FHIR_POST || has < 0 || read_etag(etag, &e->if_match)))
		return refuse(400, "invalid", issue, why, cap, "entry %u: request.ifMatch %s", k,
			      e->method == CL_FHIR_POST ? "applies to PUT and DELETE, not POST"
						      : "must be an ETag: W/\"n\" (or *)");
	e->has_if_match = has == 1;
	has = member_str(d, req, "ifNoneExist", url, sizeof(url));
	if (has != 0 && (e->method != CL_FHIR_POST || has < 0))
		return refuse(400, "invalid", issue, why, cap, "entry %u: request.ifNoneExist %s", k,
			      has < 0 ? "must be a search (a string of at most 599 bytes)"
				      : "applies to POST only");
	if (has == 1) {
		const char *q = strchr(url, '?');

		snprintf(e->if_none_exist, sizeof(e->if_none_exist), "%s", q ? q + 1 : url);
	}
	if (e->method == CL_FHIR_DELETE)
		return 0;
	return read_resource(d, entry, k, e, issue, why, cap);
}

/* ---- references rewritten ---- */

struct edit {
	uint32_t tok;      /* the string token replaced */
	const char *with;  /* by this (resolve's, valid until the rewrite ends) */
};

struct edits {
	struct edit *v;
	size_t n, cap;
	const char *(*resolve)(void *arg, const char *ref);
	void *arg;
};

static int add_edit(struct edits *x, uint32_t tok, const char *with)
{
	if (x->n == x->cap) {
		size_t nc = x->cap ? x->cap * 2 : 16;
		struct edit *nv = cl_realloc(x->v, nc * sizeof(*nv));

		if (!nv)
			return CL_ENOMEM;
		x->v = nv;
		x->cap = nc;
	}
	x->v[x->n].tok = tok;
	x->v[x->n++].with = with;
	return CL_OK;
}

/* The "reference" strings under token i that resolve maps, in order. */
static int collect(const struct cl_json_doc *d, uint32_t i, struct edits *x)
{
	const struct cl_json_tok *t = &d->toks[i];
	uint32_t c = i + 1;
	int rc = CL_OK;

	if (t->type == CL_JSON_ARRAY) {
		for (uint32_t n = 0; rc == CL_OK && n < t->size; n++, c = d->toks[c].next)
			rc = collect(d, c, x);
		return rc;
	}
	if (t->type != CL_JSON_OBJECT)
		return CL_OK;
	for (uint32_t n = 0; rc == CL_OK && n < t->size; n++) {
		uint32_t v = c + 1;

		if (d->toks[v].type == CL_JSON_STRING && cl_json_str_eq(d, c, "reference")) {
			char ref[1024];
			const char *with = cl_json_str(d, v, ref, sizeof(ref)) >= 0
						   ? x->resolve(x->arg, ref) : NULL;

			if (with)
				rc = add_edit(x, v, with);
		} else {
			rc = collect(d, v, x);
		}
		c = d->toks[v].next;
	}
	return rc;
}

/* Appends s as the body of a JSON string (escaped) to out at *n. */
static size_t put_escaped(char *out, const char *s)
{
	size_t n = 0;

	for (; *s; s++) {
		unsigned char ch = (unsigned char)*s;

		if (ch == '"' || ch == '\\') {
			out[n++] = '\\';
			out[n++] = (char)ch;
		} else if (ch < 0x20) {
			n += (size_t)sprintf(out + n, "\\u%04x", ch);
		} else {
			out[n++] = (char)ch;
		}
	}
	return n;
}

int cl_fhir_rewrite_refs(const struct cl_json_doc *d, uint32_t res, const char *id,
			 const char *(*resolve)(void *arg, const char *ref), void *arg,
			 char **out, size_t *out_len)
{
	struct edits x = { .resolve = resolve, .arg = arg };
	const struct cl_json_tok *t = &d->toks[res];
	size_t cap = t->len + 1, n = 0, from = t->start;
	char *text;
	int rc;

	*out = NULL;
	*out_len = 0;
	if (t->type != CL_JSON_OBJECT)
		return cl_error_set(CL_EPARSE, "the resource is not a JSON object");
	rc = resolve ? collect(d, res, &x) : CL_OK;
	if (rc != CL_OK) {
		cl_free(x.v);
		return cl_error_set(CL_ENOMEM, "no memory for a resource's references");
	}
	for (size_t k = 0; k < x.n; k++)
		cap += 6 * strlen(x.v[k].with) + 2;
	text = cl_malloc(cap);
	if (!text) {
		cl_free(x.v);
		return cl_error_set(CL_ENOMEM, "no memory for a resource's references");
	}
	/* the text between the strings replaced as it was; each string's
	 * quotes and bytes (token start is past the opening quote) replaced */
	for (size_t k = 0; k < x.n; k++) {
		const struct cl_json_tok *s = &d->toks[x.v[k].tok];

		memcpy(text + n, d->src + from, s->start - 1 - from);
		n += s->start - 1 - from;
		text[n++] = '"';
		n += put_escaped(text + n, x.v[k].with);
		text[n++] = '"';
		from = s->start + s->len + 1;
	}
	memcpy(text + n, d->src + from, t->start + t->len - from);
	n += t->start + t->len - from;
	text[n] = '\0';
	cl_free(x.v);
	if (!id) {
		*out = text;
		*out_len = n;
		return CL_OK;
	}
	rc = cl_fhir_with_id(text, n, id, out, out_len);
	cl_free(text);
	return rc;
}
