/*
 * FHIR R4 writes of any resource type:
 *   POST   /fhir/{type}        create (the server gives the id;
 *                              If-None-Exist: a conditional create)
 *   PUT    /fhir/{type}/{id}   update, or create with that id (If-Match:
 *                              only if the current version is that one)
 *   DELETE /fhir/{type}/{id}   a logical delete (If-Match too)
 * (POST /fhir/Observation keeps its own path, cl_api_fhir.c; batch and
 * transaction Bundles of POST /fhir, cl_api_fhir_bundle.c, share what
 * cl_api_fhir_write.h declares.)
 *
 * Every write goes through bronze like any other input: the resource,
 * checked as refine checks it (422 naming the element when it is not
 * valid), is stored in the "fhir" log as a transaction Bundle of one
 * entry, durably, then refine reads it and keeps the version; the answer
 * waits for that, so it carries the version refine made (ETag, Location,
 * Last-Modified, the resource as it will be read). Writes are taken one at
 * a time, so If-Match compares with the version the write follows. With
 * refine off (refine.interval 0) the answer is 202: stored, not yet a
 * version.
 */
#include "cl_api.h"
#include "cl_api_fhir_write.h"
#include "cl_server_int.h"
#include "auth/cl_scope.h"
#include "bronze/cl_blog.h"
#include "core/cl_error.h"
#include "core/cl_time.h"
#include "core/cl_worker.h"
#include "fhir/cl_fhir_check.h"
#include "fhir/cl_fhir_meta.h"
#include "fhir/cl_fhir_search.h"
#include "json/cl_json.h"
#include "store/cl_store.h"
#include "store/cl_store_fhir.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <unistd.h>

static pthread_mutex_t writes = PTHREAD_MUTEX_INITIALIZER;

#define REFINE_WAIT_US (30 * (int64_t)1000000)

void cl_api_fhir_writes_lock(void)
{
	pthread_mutex_lock(&writes);
}

void cl_api_fhir_writes_unlock(void)
{
	pthread_mutex_unlock(&writes);
}

/* Checks a request's resource: JSON, an object of this type, the id (PUT:
 * the URL's; POST: any, replaced), valid as refine reads it. 1, else the
 * reply. */
static int checked(struct cl_req *r, const char *type, const char *id)
{
	struct cl_json_doc d;
	const char *issue = NULL;
	char msg[400], got[80];
	int rt, i, go = 1;

	cl_json_doc_init(&d);
	if (!r->body_len || cl_json_parse(&d, r->body, r->body_len) != CL_OK ||
	    d.toks[0].type != CL_JSON_OBJECT) {
		snprintf(msg, sizeof(msg), "the body is not a FHIR resource (a JSON object)%s%s",
			 d.err[0] ? ": " : "", d.err);
		go = cl_reply_error(r, 400, "bad_request", msg, NULL, NULL);
	}
	if (go == 1) {
		rt = cl_json_get(&d, 0, "resourceType");
		if (rt < 0 || cl_json_str(&d, (uint32_t)rt, got, sizeof(got)) < 0 ||
		    strcmp(got, type) != 0) {
			snprintf(msg, sizeof(msg), "the resource must be a %.64s (resourceType)", type);
			go = cl_reply_error(r, 400, "bad_request", msg, NULL, NULL);
		}
	}
	if (go == 1 && id) {
		i = cl_json_get(&d, 0, "id");
		if (i < 0 || cl_json_str(&d, (uint32_t)i, got, sizeof(got)) < 0 ||
		    strcmp(got, id) != 0) {
			snprintf(msg, sizeof(msg), "the resource's id must be the URL's (%.64s)", id);
			go = cl_reply_error(r, 400, "bad_request", msg, NULL, NULL);
		}
	}
	if (go == 1 && cl_fhir_check(&d, 0, &issue) != CL_OK)
		go = cl_reply_error(r, 422, "unprocessable", cl_error_detail(), NULL, NULL);
	cl_json_doc_free(&d);
	return go;
}

int cl_api_fhir_matches(int64_t wanted, int64_t current)
{
	return current > 0 && (wanted == -1 || wanted == current);
}

/* If-Match: W/"n" (or "n", or *): 1 when the current version (0: none)
 * is the one named, or none is named. */
static int matches(const struct cl_req *r, int64_t current)
{
	const char *m = cl_req_header(r, "If-Match");

	if (!m)
		return 1;
	if (strcmp(m, "*") == 0)
		return cl_api_fhir_matches(-1, current);
	if (strncmp(m, "W/", 2) == 0)
		m += 2;
	return m[0] == '"' && cl_api_fhir_matches(atoll(m + 1), current);
}

int cl_api_fhir_current(struct cl_req *r, const char *type, const char *id, int64_t *version,
			int *deleted)
{
	struct cl_fhir_version v;
	struct cl_store *st;
	int rc = cl_api_store(r, &st);

	*version = 0;
	*deleted = 0;
	if (rc != CL_OK)
		return rc;
	rc = cl_store_fhir_read(st, type, id, 0, &v);
	cl_api_store_done(st);
	if (rc == CL_OK) {
		*version = v.version;
		*deleted = v.deleted;
	}
	cl_fhir_version_free(&v);
	return rc == CL_ENOENT ? CL_OK : rc;
}

int cl_api_fhir_append(struct cl_req *r, const char *rec, size_t len)
{
	uint64_t offset;
	int64_t until;
	int rc;

	if (!r->s->fhir)
		return cl_error_set(CL_ENOENT, "FHIR input is off");
	rc = cl_blog_append(r->s->fhir, rec, len, &offset);
	if (rc != CL_OK)
		return rc;
	if (!r->s->refiner)
		return CL_API_FHIR_STORED;
	/* refine reads it at its next round: now */
	until = cl_time_mono_us() + REFINE_WAIT_US;
	while (cl_time_mono_us() < until) {
		struct cl_store *st;
		uint64_t at = 0;

		cl_worker_poke(r->s->refiner);
		if (cl_api_store(r, &st) == CL_OK) {
			at = cl_store_fhir_refined(st, "fhir");
			cl_api_store_done(st);
		}
		if (at > offset)
			return 1;
		usleep(2000);
	}
	return CL_API_FHIR_STORED;
}

#define STORED_ONLY CL_API_FHIR_STORED /* (1: go on; anything else: the reply made) */

/* Stores one transaction entry durably and waits for refine to read it:
 * 1 read (a version may have come of it), STORED_ONLY (refine off or
 * slow), else the reply. */
static int store(struct cl_req *r, const char *method, const char *type, const char *id,
		 const char *resource, size_t len)
{
	char head[300], tail[300];
	size_t hn, tn;
	char *rec;
	int rc;

	if (!r->s->fhir)
		return cl_reply_error(r, 404, "not_found", "FHIR input is off", NULL, NULL);
	hn = (size_t)snprintf(head, sizeof(head), "{\"resourceType\":\"Bundle\",\"type\":"
			      "\"transaction\",\"entry\":[{%s", resource ? "\"resource\":" : "");
	tn = (size_t)snprintf(tail, sizeof(tail), "%s\"request\":{\"method\":\"%s\",\"url\":"
			      "\"%s/%s\"}}]}", resource ? "," : "", method, type, id);
	rec = malloc(hn + len + tn + 1);
	if (!rec)
		return cl_reply_error(r, 500, "memory", "no memory for a write", NULL, NULL);
	memcpy(rec, head, hn);
	if (resource)
		memcpy(rec + hn, resource, len);
	memcpy(rec + hn + len, tail, tn);
	rc = cl_api_fhir_append(r, rec, hn + len + tn);
	free(rec);
	if (rc < 0)
		return cl_reply_error(r, rc == CL_ENOSPC ? 507 : 503, rc == CL_ENOSPC ? "full" : "busy",
				      cl_error_detail(), "Retry-After", "1");
	return rc;
}

/* The answer to a write that refine read: the version it made (or, for
 * the same content again, the current one, which it did not replace). */
static int answer(struct cl_req *r, const char *type, const char *id, int64_t before,
		  int deleting)
{
	struct cl_fhir_version v;
	struct cl_store *st;
	char base[300], loc[600], *body = NULL;
	size_t len = 0;
	int rc = cl_api_store(r, &st);

	if (rc != CL_OK)
		return cl_reply_error(r, 500, "store", cl_error_detail(), NULL, NULL);
	rc = cl_store_fhir_read(st, type, id, 0, &v);
	cl_api_store_done(st);
	if (rc != CL_OK && rc != CL_ENOENT)
		return cl_reply_error(r, 500, "store", cl_error_detail(), NULL, NULL);
	if (rc != CL_OK || (!deleting && (v.deleted || v.version < before))) {
		cl_fhir_version_free(&v);
		return cl_reply_error(r, 422, "unprocessable", "stored in bronze, but refine did "
				      "not keep it (its quarantine says why: carelake status)", NULL,
				      NULL);
	}
	cl_api_fhir_version_headers(r, v.version, v.updated_us);
	r->audit.resource_id = id;
	r->audit.count = 1;
	if (deleting) {
		cl_fhir_version_free(&v);
		return cl_reply(r, 204, "application/fhir+json", NULL, 0, NULL, NULL);
	}
	cl_api_fhir_base(r, base, sizeof(base));
	snprintf(loc, sizeof(loc), "%s/%s/%s/_history/%lld", base, type, id, (long long)v.version);
	rc = cl_fhir_with_meta(v.resource, v.len, v.version, v.updated_us, &body, &len);
	cl_fhir_version_free(&v);
	if (rc != CL_OK)
		return cl_reply_error(r, 500, "store", cl_error_detail(), NULL, NULL);
	return cl_reply(r, before == 0 ? 201 : 200, "application/fhir+json", body, len, "Location",
			loc);
}

/* Stored but not yet read by refine: 202, the resource's URL. */
static int accepted(struct cl_req *r, const char *type, const char *id)
{
	char base[300], loc[900];

	cl_api_fhir_base(r, base, sizeof(base));
	snprintf(loc, sizeof(loc), "%s/%s/%s", base, type, id);
	return cl_reply(r, 202, "application/fhir+json", NULL, 0, "Content-Location", loc);
}

static int bad_type(struct cl_req *r, const char *type)
{
	char msg[160];

	if (cl_fhir_type_ok(type) && strcmp(type, "Bundle") != 0)
		return 1;
	snprintf(msg, sizeof(msg), "'%.64s' is not a resource type carelake writes here", type);
	return cl_reply_error(r, 404, "not_found", msg, NULL, NULL);
}

/* A write of resource (NULL: a delete) as type/id, one at a time. */
static int write_one(struct cl_req *r, const char *method, const char *type, const char *id,
		     const char *resource, size_t len)
{
	int64_t before;
	int deleted, go, rc;

	r->audit.resource_type = type;
	r->audit.resource_id = id;
	/* SMART scopes name the types a token writes, and how: c to create, u
	 * to update, d to delete */
	if (!cl_scope_allows_perms(&r->who, CL_ACT_INGEST_FHIR, type,
				   !resource ? CL_SCOPE_D
				   : r->method == CL_POST ? CL_SCOPE_C : CL_SCOPE_U)) {
		char msg[160];

		snprintf(msg, sizeof(msg), "the token's scopes do not allow %s %.64s",
			 !resource ? "deleting" : r->method == CL_POST ? "creating" : "updating", type);
		return cl_reply_error(r, 403, "forbidden", msg, NULL, NULL);
	}
	pthread_mutex_lock(&writes);
	rc = cl_api_fhir_current(r, type, id, &before, &deleted);
	if (rc != CL_OK)
		go = cl_reply_error(r, 500, "store", cl_error_detail(), NULL, NULL);
	else if (!matches(r, deleted ? 0 : before))
		go = cl_reply_error(r, 412, "precondition_failed", "If-Match: the resource's current "
				    "version is another (GET it again)", NULL, NULL);
	else if (!resource && (before == 0 || deleted))
		go = before == 0 ? cl_reply_error(r, 404, "not_found", "no such resource", NULL, NULL)
				 : cl_reply(r, 204, "application/fhir+json", NULL, 0, NULL, NULL);
	else
		go = store(r, method, type, id, resource, len);
	if (go == 1)
		go = answer(r, type, id, deleted ? 0 : before, resource == NULL);
	else if (go == STORED_ONLY)
		go = accepted(r, type, id);
	pthread_mutex_unlock(&writes);
	return go;
}

int cl_api_fhir_update(struct cl_req *r)
{
	const char *type = r->param[0], *id = r->param[1];
	int go = bad_type(r, type);

	if (go == 1 && !cl_fhir_id_ok(id))
		go = cl_reply_error(r, 400, "bad_request", "the id is not a FHIR id (1 to 64 of "
				    "A-Z a-z 0-9 - .)", NULL, NULL);
	if (go == 1)
		go = checked(r, type, id);
	if (go != 1)
		return go;
	return write_one(r, "PUT", type, id, r->body, r->body_len);
}

int cl_api_fhir_delete(struct cl_req *r)
{
	const char *type = r->param[0], *id = r->param[1];
	int go = bad_type(r, type);

	if (go == 1 && !cl_fhir_id_ok(id))
		go = cl_reply_error(r, 404, "not_found", "no such resource", NULL, NULL);
	if (go != 1)
		return go;
	return write_one(r, "DELETE", type, id, NULL, 0);
}

static int take_first(void *arg, const struct cl_fhir_match *m)
{
	snprintf(arg, CL_FHIR_ID_MAX, "%s", m->id);
	return 1;
}

int cl_api_fhir_existing(struct cl_req *r, const char *type, const char *query, char *id,
			 char *why, size_t cap)
{
	struct cl_fhir_search *s = malloc(sizeof(*s));
	struct cl_store *st;
	int64_t total = 0;
	int rc;

	id[0] = '\0';
	if (!s) {
		snprintf(why, cap, "no memory for a search");
		return cl_error_set(CL_ENOMEM, "no memory for a search");
	}
	cl_fhir_search_init(s, type, 0, 0);
	if (cl_fhir_search_query(s, query) != CL_OK || cl_fhir_search_finish(s) != CL_OK) {
		snprintf(why, cap, "%s", s->why);
		free(s);
		return CL_EINVAL;
	}
	s->q.type = type;
	s->q.count = 1;
	rc = cl_api_store(r, &st);
	if (rc == CL_OK) {
		rc = cl_store_fhir_search(st, &s->q, &total, take_first, id);
		cl_api_store_done(st);
	}
	free(s);
	if (rc != CL_OK) {
		snprintf(why, cap, "%s", cl_error_detail());
		return rc;
	}
	return total > 1 ? 2 : (int)total;
}

int cl_api_fhir_new_id(char *id)
{
	unsigned char rnd[16];

	if (getrandom(rnd, sizeof(rnd), 0) != (ssize_t)sizeof(rnd))
		return cl_error_set(CL_EIO, "no random bytes for an id");
	for (size_t i = 0; i < sizeof(rnd); i++)
		snprintf(id + 2 * i, 3, "%02x", rnd[i]);
	return CL_OK;
}

int cl_api_fhir_create(struct cl_req *r)
{
	const char *type = r->param[0], *cond = cl_req_header(r, "If-None-Exist");
	char id[CL_FHIR_ID_MAX], *text = NULL, why[400];
	size_t len = 0;
	int go = bad_type(r, type), n, rc;

	if (go == 1)
		go = checked(r, type, NULL);
	if (go != 1)
		return go;
	r->audit.resource_type = type;
	if (cond) {
		/* a conditional create: none matches, or nothing is made */
		pthread_mutex_lock(&writes);
		n = cl_api_fhir_existing(r, type, cond, id, why, sizeof(why));
		pthread_mutex_unlock(&writes);
		if (n == CL_EINVAL) {
			char msg[450];

			snprintf(msg, sizeof(msg), "If-None-Exist: %s", why);
			return cl_reply_error(r, 400, "bad_request", msg, NULL, NULL);
		}
		if (n < 0)
			return cl_reply_error(r, 500, "store", why, NULL, NULL);
		if (n > 1)
			return cl_reply_error(r, 412, "precondition_failed", "If-None-Exist: more than "
					      "one resource matches", NULL, NULL);
		if (n == 1) {
			char base[300], loc[900];

			cl_api_fhir_base(r, base, sizeof(base));
			snprintf(loc, sizeof(loc), "%s/%s/%s", base, type, id);
			r->audit.resource_id = "";
			return cl_reply(r, 200, "application/fhir+json", NULL, 0, "Location", loc);
		}
	}
	/* the server gives the id */
	if (cl_api_fhir_new_id(id) != CL_OK)
		return cl_reply_error(r, 500, "internal", cl_error_detail(), NULL, NULL);
	rc = cl_fhir_with_id(r->body, r->body_len, id, &text, &len);
	if (rc != CL_OK)
		return cl_reply_error(r, 400, "bad_request", cl_error_detail(), NULL, NULL);
	go = write_one(r, "PUT", type, id, text, len);
	free(text);
	return go;
}
