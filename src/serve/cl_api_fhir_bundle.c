/*
 * POST /fhir with a batch or transaction Bundle (FHIR R4
 * http.html#transaction) of any resource type: entries that POST (create;
 * ifNoneExist a conditional create), PUT (update, or create with that id;
 * ifMatch) and DELETE (a logical delete). GET entries are refused: reads
 * and searches have their own endpoints. Observations a device or gateway
 * posts for the live stream keep ingest's path (cl_fhir_bundle_is_rest
 * says which Bundles are which).
 *
 * Every entry is read and checked first, as refine will read it (400 a
 * malformed entry, 404 a type not written here, 422 a resource refine
 * would refuse, 403 outside the token's SMART scopes); then, with the
 * writes lock held as the single writes take it, each against the store
 * (412 an ifMatch on another version or an ifNoneExist matching more than
 * one; 404 a DELETE of what was never held; 400 two entries on one
 * resource). A transaction with any entry refused writes nothing and
 * answers that entry's status with an OperationOutcome naming every entry
 * refused; a batch writes the others. The POST entries get server ids, and
 * in a transaction every reference to an entry's urn:uuid (or urn:oid)
 * fullUrl is rewritten to Type/id. What is written goes to the fhir
 * bronze log as ONE transaction Bundle record, durably, which refine
 * applies in one store transaction; the answer waits for refine, as a
 * single write does, and carries each entry's version (status, location
 * Type/id/_history/v, etag, lastModified) in the order of the request.
 */
#include "cl_api.h"
#include "cl_api_fhir_write.h"
#include "auth/cl_scope.h"
#include "core/cl_error.h"
#include "core/cl_mem.h"
#include "core/cl_time.h"
#include "fhir/cl_fhir_bundle.h"
#include "fhir/cl_fhir_check.h"
#include "json/cl_json.h"
#include "store/cl_store.h"
#include "store/cl_store_fhir.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define ENTRIES_MAX 1000   /* the most entries of one batch or transaction */

/* One entry, as read and as answered. */
struct entry {
	struct cl_fhir_entry_req q;
	char full_url[256];    /* its fullUrl when a urn: another entry may name */
	char ref[CL_FHIR_TYPE_MAX + CL_FHIR_ID_MAX];  /* Type/id, what names it */
	int status;            /* 0 while pending; 200, 201, 202, 204, or the refusal's */
	const char *issue;     /* a refusal's OperationOutcome issue code */
	char why[480];         /* ... and the reason, naming the entry */
	int write;             /* it goes into the bronze record */
	int named;             /* it names a version (written, or a create's match) */
	int64_t before;        /* the current version it follows (0: none) */
	int64_t version;       /* the version it made or named (0: none) */
	int64_t updated_us;
	char *text;            /* a POST's or PUT's resource as written (malloc'd) */
	size_t len;
};

struct bundle {
	struct cl_req *r;
	struct cl_json_doc d;
	int transaction;
	uint32_t n;
	struct entry *e;
};

static void refuse(struct entry *e, int status, const char *issue, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));

static void refuse(struct entry *e, int status, const char *issue, const char *fmt, ...)
{
	va_list ap;

	e->status = status;
	e->issue = issue;
	e->write = e->named = 0;
	va_start(ap, fmt);
	vsnprintf(e->why, sizeof(e->why), fmt, ap);
	va_end(ap);
}

static int refused(const struct entry *e)
{
	return e->status >= 400;
}

int cl_api_fhir_bundle_blocks(const char *body, size_t len)
{
	return cl_fhir_bundle_is_rest(body, len);
}

/* Entry k read from the text alone: its request, its resource, the
 * token's scopes for it. */
static void read_entry(struct bundle *b, uint32_t tok, uint32_t k)
{
	static const unsigned perms[] = { [CL_FHIR_POST] = CL_SCOPE_C, [CL_FHIR_PUT] = CL_SCOPE_U,
					  [CL_FHIR_DELETE] = CL_SCOPE_D };
	static const char *const verbs[] = { [CL_FHIR_POST] = "creating",
					     [CL_FHIR_PUT] = "updating",
					     [CL_FHIR_DELETE] = "deleting" };
	struct entry *e = &b->e[k];
	const char *issue = "invalid";
	int url, status = cl_fhir_entry_read(&b->d, tok, k, &e->q, &issue, e->why, sizeof(e->why));

	if (status) {
		e->status = status;
		e->issue = issue;
		return;
	}
	if (!cl_scope_allows_perms(&b->r->who, CL_ACT_INGEST_FHIR, e->q.type, perms[e->q.method])) {
		refuse(e, 403, "forbidden", "entry %u: the token's scopes do not allow %s %s", k,
		       verbs[e->q.method], e->q.type);
		return;
	}
	url = cl_json_get(&b->d, tok, "fullUrl");
	if (e->q.method != CL_FHIR_DELETE && url >= 0 &&
	    cl_json_str(&b->d, (uint32_t)url, e->full_url, sizeof(e->full_url)) >= 0 &&
	    strncmp(e->full_url, "urn:uuid:", 9) != 0 && strncmp(e->full_url, "urn:oid:", 8) != 0)
		e->full_url[0] = '\0';
}

/* The status line of a response entry. */
static const char *status_text(int status)
{
	switch (status) {
	case 200: return "200 OK";
	case 201: return "201 Created";
	case 202: return "202 Accepted";
	case 204: return "204 No Content";
	case 400: return "400 Bad Request";
	case 403: return "403 Forbidden";
	case 404: return "404 Not Found";
	case 409: return "409 Conflict";
	case 412: return "412 Precondition Failed";
	case 422: return "422 Unprocessable Entity";
	default: return "500 Internal Server Error";
	}
}

/* An OperationOutcome issue for refused entry k. */
static json_t *issue_of(const struct entry *e, uint32_t k)
{
	char at[40];

	snprintf(at, sizeof(at), "Bundle.entry[%u]", k);
	return json_pack("{s:s,s:s,s:s,s:[s]}", "severity", "error", "code", e->issue,
			 "diagnostics", e->why, "expression", at);
}

/* A transaction with refused entries: nothing written; the first one's
 * status, an OperationOutcome with an issue for each. */
static int refuse_transaction(struct bundle *b)
{
	json_t *o = json_pack("{s:s,s:[]}", "resourceType", "OperationOutcome", "issue");
	json_t *issues = json_object_get(o, "issue");
	int status = 0;

	for (uint32_t k = 0; k < b->n; k++) {
		const struct entry *e = &b->e[k];

		if (!refused(e))
			continue;
		if (!status)
			status = e->status;
		json_array_append_new(issues, issue_of(e, k));
	}
	return cl_reply_json(b->r, status, o);
}

/* 1 if entry k names the resource an earlier entry that writes names. */
static int overlaps(const struct bundle *b, uint32_t k, uint32_t *other)
{
	for (uint32_t j = 0; j < k; j++)
		if ((b->e[j].write || b->e[j].named) && strcmp(b->e[j].ref, b->e[k].ref) == 0) {
			*other = j;
			return 1;
		}
	return 0;
}

/* Entry k against the store, the writes lock held: what it will do, or
 * its refusal. CL_OK, or the store's error. */
static int plan_entry(struct bundle *b, uint32_t k)
{
	struct entry *e = &b->e[k];
	char why[400];
	uint32_t other;
	int64_t now = 0;
	int deleted = 0, n, rc;

	if (e->q.method == CL_FHIR_POST && e->q.if_none_exist[0]) {
		/* a conditional create: none matches, or nothing is made */
		n = cl_api_fhir_existing(b->r, e->q.type, e->q.if_none_exist, e->q.id, why,
					 sizeof(why));
		if (n == CL_EINVAL) {
			refuse(e, 400, "invalid", "entry %u: request.ifNoneExist: %s", k, why);
			return CL_OK;
		}
		if (n < 0)
			return n;
		if (n > 1) {
			refuse(e, 412, "multiple-matches", "entry %u: request.ifNoneExist: more than "
			       "one %s matches", k, e->q.type);
			return CL_OK;
		}
		if (n == 1) {
			e->status = 200;
			e->named = 1;
		}
	}
	if (e->q.method == CL_FHIR_POST && !e->named) {
		rc = cl_api_fhir_new_id(e->q.id);
		if (rc != CL_OK)
			return rc;
		e->status = 201;
		e->write = 1;
	}
	snprintf(e->ref, sizeof(e->ref), "%s/%s", e->q.type, e->q.id);
	if (e->q.method != CL_FHIR_POST) {
		rc = cl_api_fhir_current(b->r, e->q.type, e->q.id, &now, &deleted);
		if (rc != CL_OK)
			return rc;
		e->before = deleted ? 0 : now;
		if (e->q.has_if_match && !cl_api_fhir_matches(e->q.if_match, e->before)) {
			refuse(e, 412, "conflict", "entry %u: request.ifMatch: %s's current version is "
			       "%s (read it again)", k, e->ref, e->before ? "another" : "none");
			return CL_OK;
		}
		if (e->q.method == CL_FHIR_PUT) {
			e->status = e->before ? 200 : 201;
			e->write = 1;
		} else if (now == 0) {
			refuse(e, 404, "not-found", "entry %u: no such resource: %s", k, e->ref);
			return CL_OK;
		} else {
			e->status = 204;
			e->write = !deleted; /* deleted already: nothing to do */
		}
	}
	if (overlaps(b, k, &other))
		refuse(e, 400, "invalid", "entry %u: %s is entry %u's too: a batch or transaction "
		       "changes a resource once", k, e->ref, other);
	return CL_OK;
}

/* In a transaction, a reference to an entry's urn fullUrl: that entry's
 * Type/id. */
static const char *resolve(void *arg, const char *ref)
{
	const struct bundle *b = arg;

	if (strncmp(ref, "urn:", 4) != 0)
		return NULL;
	for (uint32_t k = 0; k < b->n; k++)
		if (b->e[k].full_url[0] && (b->e[k].write || b->e[k].named) &&
		    strcmp(b->e[k].full_url, ref) == 0)
			return b->e[k].ref;
	return NULL;
}

/* The resources as written: the POSTs' ids set, and in a transaction the
 * references to other entries rewritten. */
static int rewrite(struct bundle *b)
{
	for (uint32_t k = 0; k < b->n; k++) {
		struct entry *e = &b->e[k];
		int rc;

		if (!e->write || e->q.method == CL_FHIR_DELETE)
			continue;
		rc = cl_fhir_rewrite_refs(&b->d, (uint32_t)e->q.resource,
					  e->q.method == CL_FHIR_POST ? e->q.id : NULL,
					  b->transaction ? resolve : NULL, b, &e->text, &e->len);
		if (rc != CL_OK)
			return rc;
	}
	return CL_OK;
}

/* The bronze record: a transaction Bundle of the entries written, each a
 * PUT of Type/id with its resource or a DELETE of Type/id (*len 0: none). */
static int record(const struct bundle *b, char **out, size_t *len)
{
	static const char head[] = "{\"resourceType\":\"Bundle\",\"type\":\"transaction\",\"entry\":[";
	size_t cap = sizeof(head) + 4, n = 0;
	int first = 1;
	char *rec;

	*out = NULL;
	*len = 0;
	for (uint32_t k = 0; k < b->n; k++)
		if (b->e[k].write)
			cap += b->e[k].len + sizeof(b->e[k].ref) + 96;
	rec = cl_malloc(cap);
	if (!rec)
		return cl_error_set(CL_ENOMEM, "no memory for a Bundle's record");
	n = (size_t)snprintf(rec, cap, "%s", head);
	for (uint32_t k = 0; k < b->n; k++) {
		const struct entry *e = &b->e[k];

		if (!e->write)
			continue;
		n += (size_t)snprintf(rec + n, cap - n, "%s{", first ? "" : ",");
		first = 0;
		if (e->text) {
			memcpy(rec + n, "\"resource\":", 11);
			memcpy(rec + n + 11, e->text, e->len);
			n += 11 + e->len;
			rec[n++] = ',';
		}
		n += (size_t)snprintf(rec + n, cap - n, "\"request\":{\"method\":\"%s\",\"url\":\"%s\"}}",
				      e->q.method == CL_FHIR_DELETE ? "DELETE" : "PUT", e->ref);
	}
	n += (size_t)snprintf(rec + n, cap - n, "]}");
	if (first) {
		cl_free(rec);
		return CL_OK;
	}
	*out = rec;
	*len = n;
	return CL_OK;
}

/* After refine read the record: the version each entry made or names
 * (an entry refine did not keep: 422). */
static int read_back(struct bundle *b)
{
	struct cl_store *st;
	int rc = cl_api_store(b->r, &st);

	for (uint32_t k = 0; rc == CL_OK && k < b->n; k++) {
		struct entry *e = &b->e[k];
		struct cl_fhir_version v;
		int got, kept;

		if (!e->write && !e->named)
			continue;
		got = cl_store_fhir_read(st, e->q.type, e->q.id, 0, &v);
		if (got != CL_OK && got != CL_ENOENT) {
			rc = got;
		} else {
			kept = got == CL_OK && (e->q.method == CL_FHIR_DELETE
						? v.deleted
						: !v.deleted && v.version >= e->before);
			if (kept) {
				e->version = v.version;
				e->updated_us = v.updated_us;
			} else {
				refuse(e, 422, "processing", "entry %u: stored in bronze, but refine did not "
				       "keep it (its quarantine says why: carelake status)", k);
			}
		}
		cl_fhir_version_free(&v);
	}
	if (st)
		cl_api_store_done(st);
	return rc;
}

/* The batch-response or transaction-response. */
static int answer(struct bundle *b)
{
	json_t *entries = json_array();
	char base[300];
	int64_t written = 0;

	cl_api_fhir_base(b->r, base, sizeof(base));
	for (uint32_t k = 0; k < b->n; k++) {
		const struct entry *e = &b->e[k];
		json_t *resp = json_pack("{s:s}", "status", status_text(e->status));
		json_t *out = json_object();
		char text[600];

		if (refused(e)) {
			json_object_set_new(resp, "outcome",
					    json_pack("{s:s,s:[o]}", "resourceType", "OperationOutcome",
						      "issue", issue_of(e, k)));
		} else if (e->version > 0) {
			if (e->q.method != CL_FHIR_DELETE) {
				snprintf(text, sizeof(text), "%s/%s", base, e->ref);
				json_object_set_new(out, "fullUrl", json_string(text));
				snprintf(text, sizeof(text), "%s/_history/%lld", e->ref,
					 (long long)e->version);
				json_object_set_new(resp, "location", json_string(text));
			}
			snprintf(text, sizeof(text), "W/\"%lld\"", (long long)e->version);
			json_object_set_new(resp, "etag", json_string(text));
			cl_time_format_rfc3339(e->updated_us, text, sizeof(text), 3);
			json_object_set_new(resp, "lastModified", json_string(text));
		} else if (e->status == 202) {
			json_object_set_new(resp, "location", json_string(e->ref));
		}
		written += e->write && !refused(e);
		json_object_set_new(out, "response", resp);
		json_array_append_new(entries, out);
	}
	b->r->audit.count = written;
	return cl_reply_json(b->r, 200, json_pack("{s:s,s:s,s:o}", "resourceType", "Bundle", "type",
						  b->transaction ? "transaction-response"
								 : "batch-response", "entry", entries));
}

/* Plans every entry, writes what is to be written and waits for refine,
 * the writes lock held: CL_REQ_DONE with the reply made, or a negative
 * code with nothing replied. */
static int apply(struct bundle *b)
{
	char *rec = NULL;
	size_t len = 0;
	int rc = CL_OK, go = 0, refusals = 0;

	for (uint32_t k = 0; rc == CL_OK && k < b->n; k++)
		if (!refused(&b->e[k]))
			rc = plan_entry(b, k);
	if (rc != CL_OK)
		return cl_reply_error(b->r, 500, "store", cl_error_detail(), NULL, NULL);
	for (uint32_t k = 0; k < b->n; k++)
		refusals += refused(&b->e[k]);
	if (b->transaction && refusals)
		return refuse_transaction(b); /* all or nothing: nothing */
	rc = rewrite(b);
	if (rc == CL_OK)
		rc = record(b, &rec, &len);
	if (rc != CL_OK)
		return cl_reply_error(b->r, 500, "memory", cl_error_detail(), NULL, NULL);
	if (rec) {
		go = cl_api_fhir_append(b->r, rec, len);
		cl_free(rec);
		if (go == CL_ENOENT)
			return cl_reply_error(b->r, 404, "not_found", cl_error_detail(), NULL, NULL);
		if (go < 0)
			return cl_reply_error(b->r, go == CL_ENOSPC ? 507 : 503,
					      go == CL_ENOSPC ? "full" : "busy", cl_error_detail(),
					      "Retry-After", "1");
	}
	if (go == CL_API_FHIR_STORED) {
		/* stored, not yet a version: refine makes it when it runs */
		for (uint32_t k = 0; k < b->n; k++)
			if (b->e[k].write)
				b->e[k].status = 202;
	} else if (read_back(b) != CL_OK) {
		return cl_reply_error(b->r, 500, "store", cl_error_detail(), NULL, NULL);
	}
	return answer(b);
}

int cl_api_fhir_transaction(struct cl_req *r)
{
	struct bundle b = { .r = r };
	const char *issue;
	char type[16] = "";
	int ty, ent, go;

	/* recorded like the single writes, though the route's row (ingest's)
	 * records only refusals; the action is named once the type is read */
	r->audit.resource_type = "Bundle";
	r->audit.action = "transaction";
	cl_json_doc_init(&b.d);
	/* the route's test parsed it: a Bundle with an entry array */
	if (cl_json_parse(&b.d, r->body, r->body_len) != CL_OK) {
		cl_json_doc_free(&b.d);
		return cl_reply_error(r, 400, "bad_request", "the body is not JSON", NULL, NULL);
	}
	if (cl_fhir_check(&b.d, 0, &issue) != CL_OK) {
		go = cl_reply_error(r, 400, "bad_request", cl_error_detail(), NULL, NULL);
		cl_json_doc_free(&b.d);
		return go;
	}
	ty = cl_json_get(&b.d, 0, "type");
	if (ty >= 0)
		cl_json_str(&b.d, (uint32_t)ty, type, sizeof(type));
	b.transaction = strcmp(type, "transaction") == 0;
	r->audit.action = b.transaction ? "transaction" : "batch";
	ent = cl_json_get(&b.d, 0, "entry");
	b.n = ent >= 0 ? b.d.toks[ent].size : 0;
	if (b.n > ENTRIES_MAX) {
		char msg[160];

		snprintf(msg, sizeof(msg), "more than %d entries in one %s: send it in parts",
			 ENTRIES_MAX, type);
		cl_json_doc_free(&b.d);
		return cl_reply_error(r, 413, "payload_too_large", msg, NULL, NULL);
	}
	b.e = cl_calloc(b.n ? b.n : 1, sizeof(*b.e));
	if (!b.e) {
		cl_json_doc_free(&b.d);
		return cl_reply_error(r, 500, "memory", "no memory for a Bundle", NULL, NULL);
	}
	for (uint32_t k = 0, tok = (uint32_t)ent + 1; k < b.n; k++, tok = b.d.toks[tok].next)
		read_entry(&b, tok, k);
	go = 0;
	for (uint32_t k = 0; k < b.n; k++)
		go |= refused(&b.e[k]);
	if (b.transaction && go) {
		go = refuse_transaction(&b);
	} else {
		cl_api_fhir_writes_lock();
		go = apply(&b);
		cl_api_fhir_writes_unlock();
	}
	for (uint32_t k = 0; k < b.n; k++)
		cl_free(b.e[k].text);
	cl_free(b.e);
	cl_json_doc_free(&b.d);
	return go;
}
