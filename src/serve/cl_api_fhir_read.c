/*
 * FHIR R4 reads of the resources carelake holds (store/cl_store_fhir.h):
 *   GET /fhir/{type}/{id}                    read
 *   GET /fhir/{type}/{id}/_history/{vid}     vread
 *   GET /fhir/{type}/{id}/_history           instance history (_count, _since)
 * Each resource comes back as it arrived, with meta.versionId and
 * meta.lastUpdated set (fhir/cl_fhir_meta.h), and ETag: W/"{versionId}"
 * and Last-Modified; If-None-Match and If-Modified-Since get 304 when the
 * client's copy is current. A deleted resource reads as 410 Gone; its
 * history keeps every version. Access goes by the patient whose
 * compartment the resource is in: a patient token sees its own, a
 * clinician limited to wards those of its wards (cl_api_patient_access);
 * a patient token sees no resource outside its compartment; a token with
 * SMART scopes reads the types its scopes grant `r` on.
 */
#include "cl_api.h"
#include "cl_server_int.h"
#include "auth/cl_scope.h"
#include "core/cl_error.h"
#include "core/cl_time.h"
#include "fhir/cl_fhir_meta.h"
#include "fhir/cl_fhir_search.h"
#include "store/cl_store.h"
#include "store/cl_store_fhir.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#define HISTORY_COUNT 50      /* a history page, unless _count says */
#define HISTORY_COUNT_MAX 1000

/* The query arguments a read takes: _format (JSON only) and nothing else
 * it does not know, unless the client asked for leniency. */
struct args {
	const char *allowed;   /* '|'-separated names beyond _format */
	int lenient;
	char why[300];
};

static int one_arg(void *arg, const char *name, const char *value)
{
	struct args *a = arg;
	size_t n = strlen(name);

	if (strcmp(name, "_format") == 0) {
		if (value && cl_fhir_json_format(value))
			return 0;
		snprintf(a->why, sizeof(a->why), "_format=%.60s: carelake serves FHIR as JSON "
			 "only (json, application/fhir+json)", value ? value : "");
		return CL_ENOTSUP;
	}
	for (const char *p = a->allowed; *p;) {
		size_t len = strcspn(p, "|");

		if (len == n && strncmp(p, name, n) == 0)
			return 0;
		p += len + (p[len] == '|');
	}
	if (a->lenient)
		return 0;
	snprintf(a->why, sizeof(a->why), "unknown parameter %.60s (this interaction takes %s%s"
		 "_format; Prefer: handling=lenient ignores unknown ones)", name, a->allowed,
		 a->allowed[0] ? ", " : "");
	return CL_EINVAL;
}

/* Checks the query and the Accept header: 1 to go on, else the reply. */
static int check_args(struct cl_req *r, const char *allowed)
{
	const char *prefer = cl_req_header(r, "Prefer");
	struct args a = { .allowed = allowed };
	int rc;

	a.lenient = prefer && strstr(prefer, "handling=lenient") != NULL;
	rc = cl_req_each_query(r, one_arg, &a);
	if (rc == CL_ENOTSUP)
		return cl_reply_error(r, 406, "not_acceptable", a.why, NULL, NULL);
	if (rc)
		return cl_reply_error(r, 400, "bad_request", a.why, NULL, NULL);
	return cl_api_fhir_accept(r);
}

/* The type and id of the request: 1 to go on, else the reply. */
static int check_target(struct cl_req *r, const char *type, const char *id)
{
	char msg[200];

	r->audit.resource_type = type;
	if (!cl_fhir_type_ok(type)) {
		snprintf(msg, sizeof(msg), "'%.64s' is not a FHIR resource type", type);
		return cl_reply_error(r, 404, "not_found", msg, NULL, NULL);
	}
	if (!cl_fhir_id_ok(id)) {
		snprintf(msg, sizeof(msg), "'%.80s' is not a FHIR id (1 to 64 of A-Z a-z 0-9 - .)",
			 id);
		return cl_reply_error(r, 400, "bad_request", msg, NULL, NULL);
	}
	r->audit.resource_id = id;
	/* a SMART token's scopes name the types it may read */
	if (!cl_scope_allows(&r->who, CL_ACT_READ_CLINICAL, type)) {
		snprintf(msg, sizeof(msg), "the token's scopes do not allow reading %.64s", type);
		return cl_reply_error(r, 403, "forbidden", msg, NULL, NULL);
	}
	return 1;
}

/* Whether r may see a resource in patient's compartment ("" for none):
 * 1, or the reply made. */
static int may_see(struct cl_req *r, struct cl_store *st, const char *patient)
{
	if (patient[0])
		return cl_api_patient_access(r, st, patient);
	/* outside any compartment: a patient token sees its own only */
	if (r->who.patient[0])
		return cl_reply_error(r, 404, "not_found", "no such resource", NULL, NULL);
	return 1;
}

void cl_api_fhir_version_headers(struct cl_req *r, int64_t version, int64_t updated_us)
{
	time_t t = (time_t)(updated_us / 1000000);
	char etag[40], when[40];
	struct tm tm;

	snprintf(etag, sizeof(etag), "W/\"%lld\"", (long long)version);
	/* an instant as HTTP writes it (IMF-fixdate) */
	gmtime_r(&t, &tm);
	strftime(when, sizeof(when), "%a, %d %b %Y %H:%M:%S GMT", &tm);
	cl_reply_header(r, "ETag", etag);
	cl_reply_header(r, "Last-Modified", when);
}

/* 1 if the client's copy (If-None-Match, else If-Modified-Since) is the
 * version v. */
static int not_modified(const struct cl_req *r, const struct cl_fhir_version *v)
{
	const char *inm = cl_req_header(r, "If-None-Match"), *ims;
	char etag[40];

	if (inm) {
		snprintf(etag, sizeof(etag), "\"%lld\"", (long long)v->version);
		/* a list of tags, weak or strong alike (RFC 9110 weak comparison) */
		for (const char *p = inm; *p;) {
			p += strspn(p, " \t,");
			if (*p == '*')
				return 1;
			if (strncmp(p, "W/", 2) == 0)
				p += 2;
			if (strncmp(p, etag, strlen(etag)) == 0)
				return 1;
			p += strcspn(p, ",");
		}
		return 0;
	}
	ims = cl_req_header(r, "If-Modified-Since");
	if (ims) {
		struct tm tm = { 0 };
		const char *end = strptime(ims, "%a, %d %b %Y %H:%M:%S GMT", &tm);

		return end && *end == '\0' && (int64_t)timegm(&tm) >= v->updated_us / 1000000;
	}
	return 0;
}

/* The reply of one version: the resource (200), 304, or 410 when it is a
 * deletion. */
static int reply_version(struct cl_req *r, const struct cl_fhir_version *v)
{
	char *body;
	size_t len;
	int rc;

	cl_api_fhir_version_headers(r, v->version, v->updated_us);
	if (v->deleted) {
		char msg[200];

		snprintf(msg, sizeof(msg), "%.64s/%.64s was deleted", r->param[0], r->param[1]);
		return cl_reply_error(r, 410, "gone", msg, NULL, NULL);
	}
	r->audit.count = 1;
	if (not_modified(r, v))
		return cl_reply(r, 304, "application/fhir+json", NULL, 0, NULL, NULL);
	rc = cl_fhir_with_meta(v->resource, v->len, v->version, v->updated_us, &body, &len);
	if (rc != CL_OK)
		return cl_reply_error(r, 500, "store", cl_error_detail(), NULL, NULL);
	return cl_reply(r, 200, "application/fhir+json", body, len, NULL, NULL);
}

/* read and vread: version 0 is the current one. */
static int read_version(struct cl_req *r, int64_t version)
{
	const char *type = r->param[0], *id = r->param[1];
	struct cl_fhir_version v;
	struct cl_store *st;
	int go, rc;

	go = check_args(r, "");
	if (go == 1)
		go = check_target(r, type, id);
	if (go != 1)
		return go;
	rc = cl_api_store(r, &st);
	if (rc != CL_OK)
		return cl_reply_error(r, 500, "store", cl_error_detail(), NULL, NULL);
	rc = cl_store_fhir_read(st, type, id, version, &v);
	if (rc == CL_ENOENT) {
		cl_api_store_done(st);
		return cl_reply_error(r, 404, "not_found", cl_error_detail(), NULL, NULL);
	}
	if (rc != CL_OK) {
		cl_api_store_done(st);
		return cl_reply_error(r, 500, "store", cl_error_detail(), NULL, NULL);
	}
	go = may_see(r, st, v.patient);
	cl_api_store_done(st);
	rc = go == 1 ? reply_version(r, &v) : go;
	cl_fhir_version_free(&v);
	return rc;
}

int cl_api_fhir_read(struct cl_req *r)
{
	return read_version(r, 0);
}

int cl_api_fhir_vread(struct cl_req *r)
{
	const char *vid = r->param[2];
	uint64_t version;
	char msg[200];

	if (cl_parse_u64(vid, 1, INT64_MAX, &version) != CL_OK) {
		snprintf(msg, sizeof(msg), "'%.40s' is not a version id (1, 2, ...)", vid);
		r->audit.resource_type = r->param[0];
		return cl_reply_error(r, 404, "not_found", msg, NULL, NULL);
	}
	return read_version(r, (int64_t)version);
}

/* ---- history ---- */

/* Writes s as a JSON string. */
static void put_string(FILE *f, const char *s)
{
	json_t *j = json_string(s);

	if (j)
		json_dumpf(j, f, JSON_ENCODE_ANY);
	else
		fputs("\"\"", f);
	json_decref(j);
}

struct history {
	FILE *f;
	const char *base, *type, *id;
	int64_t count;   /* the page's size */
	int64_t n;       /* entries written */
	int more;        /* older versions follow the page */
	int64_t last;    /* the oldest version written */
	int rc;
};

/* One entry of a history Bundle: the version's resource (none for a
 * deletion), how it was made and what it answered. */
static int history_entry(void *arg, const struct cl_fhir_version *v)
{
	struct history *h = arg;
	char when[40], *body = NULL;
	size_t len = 0;

	if (h->n == h->count) {
		h->more = 1;
		return 1;
	}
	if (!v->deleted &&
	    (h->rc = cl_fhir_with_meta(v->resource, v->len, v->version, v->updated_us, &body,
				       &len)) != CL_OK)
		return 1;
	cl_time_format_rfc3339(v->updated_us, when, sizeof(when), 3);
	fputs(h->n++ ? ",{\"fullUrl\":" : "{\"fullUrl\":", h->f);
	fprintf(h->f, "\"%s/%s/%s\"", h->base, h->type, h->id);
	if (body) {
		fputs(",\"resource\":", h->f);
		fwrite(body, 1, len, h->f);
		free(body);
	}
	if (v->version == 1 && !v->deleted)
		fprintf(h->f, ",\"request\":{\"method\":\"POST\",\"url\":\"%s\"}", h->type);
	else
		fprintf(h->f, ",\"request\":{\"method\":\"%s\",\"url\":\"%s/%s\"}",
			v->deleted ? "DELETE" : "PUT", h->type, h->id);
	fprintf(h->f, ",\"response\":{\"status\":\"%s\",\"etag\":\"W/\\\"%lld\\\"\","
		"\"lastModified\":\"%s\"}}",
		v->deleted ? "204 No Content" : v->version == 1 ? "201 Created" : "200 OK",
		(long long)v->version, when);
	h->last = v->version;
	return 0;
}

/* A link of the history Bundle: relation and the page's URL. */
static void page_link(struct history *h, const char *relation, uint64_t below,
		      const char *since)
{
	char url[700];
	int n = snprintf(url, sizeof(url), "%s/%s/%s/_history?_count=%lld", h->base, h->type, h->id,
			 (long long)h->count);

	if (n > 0 && (size_t)n < sizeof(url) && below)
		n += snprintf(url + n, sizeof(url) - (size_t)n, "&_below=%llu",
			      (unsigned long long)below);
	if (n > 0 && (size_t)n < sizeof(url) && since)
		snprintf(url + n, sizeof(url) - (size_t)n, "&_since=%s", since);
	fprintf(h->f, "%s{\"relation\":\"%s\",\"url\":", strcmp(relation, "self") ? "," : "",
		relation);
	put_string(h->f, url);
	fputs("}", h->f);
}

/* 1 if t is an instant as _since takes it, safe to put in a link as it is. */
static int plain_instant(const char *t)
{
	return strspn(t, "0123456789-T:.Z") == strlen(t);
}

int cl_api_fhir_history(struct cl_req *r)
{
	const char *type = r->param[0], *id = r->param[1], *arg, *since_arg;
	struct history h = { .type = type, .id = id, .count = HISTORY_COUNT };
	struct cl_fhir_version cur;
	uint64_t count = HISTORY_COUNT, below = 0;
	int64_t since = 0, total = 0;
	char base[300], *text = NULL;
	size_t len = 0;
	struct cl_store *st;
	int go, rc;

	go = check_args(r, "_count|_since|_below");
	if (go == 1)
		go = check_target(r, type, id);
	if (go != 1)
		return go;
	arg = cl_req_query(r, "_count");
	if (arg && cl_parse_u64(arg, 1, HISTORY_COUNT_MAX, &count) != CL_OK)
		return cl_reply_error(r, 400, "bad_request", "_count must be 1 to 1000", NULL, NULL);
	arg = cl_req_query(r, "_below");
	if (arg && cl_parse_u64(arg, 1, INT64_MAX, &below) != CL_OK)
		return cl_reply_error(r, 400, "bad_request", "_below must be a version id", NULL,
				      NULL);
	since_arg = cl_req_query(r, "_since");
	if (cl_api_time_arg(r, "_since", 0, &since) != CL_OK ||
	    (since_arg && !plain_instant(since_arg)))
		return cl_reply_error(r, 400, "bad_request",
				      "_since must be an instant (2026-12-05T10:00:00Z)", NULL, NULL);
	h.count = (int64_t)count;
	rc = cl_api_store(r, &st);
	if (rc != CL_OK)
		return cl_reply_error(r, 500, "store", cl_error_detail(), NULL, NULL);
	/* the resource's compartment: the current version's */
	rc = cl_store_fhir_read(st, type, id, 0, &cur);
	if (rc != CL_OK) {
		cl_api_store_done(st);
		return cl_reply_error(r, rc == CL_ENOENT ? 404 : 500,
				      rc == CL_ENOENT ? "not_found" : "store", cl_error_detail(),
				      NULL, NULL);
	}
	cl_fhir_version_free(&cur);
	go = may_see(r, st, cur.patient);
	if (go != 1) {
		cl_api_store_done(st);
		return go;
	}
	cl_api_fhir_base(r, base, sizeof(base));
	h.base = base;
	h.f = open_memstream(&text, &len);
	if (!h.f) {
		cl_api_store_done(st);
		return cl_reply_error(r, 500, "memory", "no memory for a history", NULL, NULL);
	}
	fputs("{\"resourceType\":\"Bundle\",\"type\":\"history\",\"entry\":[", h.f);
	/* one more than the page: whether a next page exists */
	rc = cl_store_fhir_history(st, type, id, since, (int64_t)below, h.count + 1, &total,
				   history_entry, &h);
	cl_api_store_done(st);
	if (rc == CL_OK)
		rc = h.rc;
	fprintf(h.f, "],\"total\":%lld,\"link\":[", (long long)total);
	page_link(&h, "self", below, since_arg);
	if (h.more)
		page_link(&h, "next", (uint64_t)h.last, since_arg);
	fputs("]}\n", h.f);
	if (fclose(h.f) != 0 && rc == CL_OK)
		rc = cl_error_set(CL_ENOMEM, "no memory for a history");
	if (rc != CL_OK) {
		free(text);
		return cl_reply_error(r, 500, "store", cl_error_detail(), NULL, NULL);
	}
	r->audit.count = h.n;
	return cl_reply(r, 200, "application/fhir+json", text, len, NULL, NULL);
}
