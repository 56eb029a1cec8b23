/*
 * FHIR R4 searches over the resources carelake holds (the current version
 * of each, deletions left out; store/cl_store_fhir.h):
 *   GET /fhir/{type}?...                  search
 *   GET /fhir/Patient/{id}/{type}?...     compartment search
 *   GET /fhir/Patient/{id}/$everything    the patient's whole record
 * Parameters: _id (several, comma-separated), patient / subject (a
 * reference: Patient/x, x, or a URL ending in Patient/x), _count (1 to
 * 1000), _summary=count, _total=none|accurate; $everything takes _since,
 * _type and _count. Any other parameter is refused (400) unless the client
 * sends Prefer: handling=lenient, when it is ignored and left out of the
 * self link. Results come in the order of type then id, a page at a time:
 * a next link continues after the last resource shown, so resources that
 * arrive or change meanwhile are neither skipped nor repeated. Access as
 * for reads (cl_api_fhir_read.c): a patient token searches its own
 * compartment only; a clinician limited to wards searches one patient at
 * a time; SMART scopes name the types a token may search.
 */
#include "cl_api.h"
#include "cl_server_int.h"
#include "auth/cl_scope.h"
#include "core/cl_error.h"
#include "core/cl_time.h"
#include "fhir/cl_fhir_meta.h"
#include "store/cl_store.h"
#include "store/cl_store_fhir.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define PAGE_DEFAULT 50
#define PAGE_MAX 1000
#define LINK_MAX 2048

/* A search as asked, and what its link repeats. */
struct search {
	struct cl_fhir_query q;
	const char *ids[CL_FHIR_QUERY_LIST_MAX];
	const char *types[CL_FHIR_QUERY_LIST_MAX];
	char id_list[1024], type_list[1024];   /* the lists' text, split in place */
	char patient[CL_REQ_PARAM_MAX];
	char after[CL_FHIR_TYPE_MAX + CL_FHIR_ID_MAX + 1];
	int summary_count, no_total, lenient, everything;
	int none;                               /* matches nothing (two patients) */
	char applied[LINK_MAX];                 /* the parameters used, for links */
	char why[300];
};

/* Appends name=value to the applied parameters (values carelake checked:
 * ids, types, instants, numbers, references; nothing to escape but what
 * is escaped here). */
static void applied(struct search *s, const char *name, const char *value)
{
	size_t n = strlen(s->applied);

	snprintf(s->applied + n, sizeof(s->applied) - n, "%s%s=", n ? "&" : "", name);
	for (const char *p = value; *p; p++) {
		n = strlen(s->applied);
		if (n + 4 >= sizeof(s->applied))
			break;
		if (strchr("&=#%+ ?", *p))
			snprintf(s->applied + n, sizeof(s->applied) - n, "%%%02X", (unsigned char)*p);
		else
			s->applied[n] = *p, s->applied[n + 1] = '\0';
	}
}

/* Splits a comma-separated list in place into list[] (at most
 * CL_FHIR_QUERY_LIST_MAX), each checked by ok. */
static int split(struct search *s, const char *name, const char *value, char *buf, size_t cap,
		 const char **list, int *n, int (*ok)(const char *))
{
	char *save = NULL;

	if (strlen(value) >= cap) {
		snprintf(s->why, sizeof(s->why), "%s: the list is too long", name);
		return CL_EINVAL;
	}
	snprintf(buf, cap, "%s", value);
	for (char *t = strtok_r(buf, ",", &save); t; t = strtok_r(NULL, ",", &save)) {
		if (*n >= CL_FHIR_QUERY_LIST_MAX || !ok(t)) {
			snprintf(s->why, sizeof(s->why), "%s: '%.64s' is not %s", name, t,
				 *n >= CL_FHIR_QUERY_LIST_MAX ? "within the 100 a list may hold"
							      : "valid here");
			return CL_EINVAL;
		}
		list[(*n)++] = t;
	}
	if (*n == 0) {
		snprintf(s->why, sizeof(s->why), "%s: an empty list", name);
		return CL_EINVAL;
	}
	return CL_OK;
}

static int is_id(const char *id)
{
	size_t n = strspn(id, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-.");

	return n > 0 && n < CL_FHIR_ID_MAX && id[n] == '\0';
}

static int is_type(const char *t)
{
	size_t n = strspn(t, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz");

	return t[0] >= 'A' && t[0] <= 'Z' && n == strlen(t) && n < CL_FHIR_TYPE_MAX;
}

/* A reference to a Patient: "Patient/x", "x", or a URL ending in
 * "/Patient/x"; its id into out. */
static int patient_ref(const char *ref, char *out, size_t cap)
{
	const char *slash = strrchr(ref, '/');
	const char *id = slash ? slash + 1 : ref;

	if (slash && (slash - ref < 7 || memcmp(slash - 7, "Patient", 7) != 0 ||
		      (slash - ref > 7 && slash[-8] != '/')))
		return 0;
	if (!is_id(id))
		return 0;
	snprintf(out, cap, "%s", id);
	return 1;
}

static int one_param(void *arg, const char *name, const char *value)
{
	struct search *s = arg;
	uint64_t n;

	if (!value)
		value = "";
	if (strcmp(name, "_format") == 0) {
		if (strcasecmp(value, "json") == 0 || strcasecmp(value, "application/json") == 0 ||
		    strcasecmp(value, "application/fhir+json") == 0)
			return 0;
		snprintf(s->why, sizeof(s->why), "_format=%.60s: carelake serves FHIR as JSON only",
			 value);
		return CL_ENOTSUP;
	}
	if (strcmp(name, "_count") == 0) {
		if (cl_parse_u64(value, 1, PAGE_MAX, &n) != CL_OK) {
			snprintf(s->why, sizeof(s->why), "_count must be 1 to %d", PAGE_MAX);
			return CL_EINVAL;
		}
		s->q.count = (int64_t)n;
		applied(s, name, value);
		return 0;
	}
	if (strcmp(name, "_after") == 0) {
		const char *slash = strchr(value, '/');

		if (!slash || (size_t)(slash - value) >= CL_FHIR_TYPE_MAX || !is_id(slash + 1)) {
			snprintf(s->why, sizeof(s->why), "_after: not a page of this search");
			return CL_EINVAL;
		}
		snprintf(s->after, sizeof(s->after), "%s", value);
		s->after[slash - value] = '\0';
		s->q.after_type = s->after;
		s->q.after_id = s->after + (slash - value) + 1;
		return 0;
	}
	if (!s->everything && strcmp(name, "_id") == 0) {
		if (split(s, name, value, s->id_list, sizeof(s->id_list), s->ids, &s->q.nids, is_id))
			return CL_EINVAL;
		s->q.ids = s->ids;
		applied(s, name, value);
		return 0;
	}
	if (!s->everything && (strcmp(name, "patient") == 0 || strcmp(name, "subject") == 0)) {
		if (s->q.patient || !patient_ref(value, s->patient, sizeof(s->patient))) {
			snprintf(s->why, sizeof(s->why), "%s: '%.80s' is not one Patient reference "
				 "(Patient/ID)", name, value);
			return CL_EINVAL;
		}
		s->q.patient = s->patient;
		applied(s, name, value);
		return 0;
	}
	if (!s->everything && strcmp(name, "_summary") == 0 && strcmp(value, "count") == 0) {
		s->summary_count = 1;
		applied(s, name, value);
		return 0;
	}
	if (!s->everything && strcmp(name, "_total") == 0 &&
	    (strcmp(value, "none") == 0 || strcmp(value, "accurate") == 0 ||
	     strcmp(value, "estimate") == 0)) {
		s->no_total = strcmp(value, "none") == 0;
		applied(s, name, value);
		return 0;
	}
	if (s->everything && strcmp(name, "_type") == 0) {
		if (split(s, name, value, s->type_list, sizeof(s->type_list), s->types, &s->q.ntypes,
			  is_type))
			return CL_EINVAL;
		s->q.types = s->types;
		applied(s, name, value);
		return 0;
	}
	if (s->everything && strcmp(name, "_since") == 0) {
		int64_t us;

		if (strspn(value, "0123456789-T:.Z+") != strlen(value) ||
		    cl_time_parse_rfc3339(value, strlen(value), &us) != CL_OK) {
			snprintf(s->why, sizeof(s->why), "_since: '%.60s' is not an instant "
				 "(2026-12-05T10:00:00Z)", value);
			return CL_EINVAL;
		}
		s->q.since_us = us;
		applied(s, name, value);
		return 0;
	}
	if (s->lenient)
		return 0;
	snprintf(s->why, sizeof(s->why), "%.60s is not a search parameter carelake supports here "
		 "(%s; Prefer: handling=lenient ignores it)", name,
		 s->everything ? "_since, _type, _count"
			       : "_id, patient, subject, _count, _summary=count, _total");
	return CL_EINVAL;
}

/* ---- the Bundle ---- */

struct page {
	FILE *f;
	const char *base;
	const struct cl_principal *who;
	int64_t count, n;
	int more, skipped, rc;
	char last_type[CL_FHIR_TYPE_MAX], last_id[CL_FHIR_ID_MAX];
};

static int entry(void *arg, const struct cl_fhir_match *m)
{
	struct page *p = arg;
	char *body = NULL;
	size_t len = 0;

	if (p->n == p->count) {
		p->more = 1;
		return 1;
	}
	snprintf(p->last_type, sizeof(p->last_type), "%s", m->type);
	snprintf(p->last_id, sizeof(p->last_id), "%s", m->id);
	/* a type the token's SMART scopes do not grant is left out */
	if (!cl_scope_allows(p->who, CL_ACT_READ_CLINICAL, m->type)) {
		p->skipped = 1;
		return 0;
	}
	p->rc = cl_fhir_with_meta(m->resource, m->len, m->version, m->updated_us, &body, &len);
	if (p->rc != CL_OK)
		return 1;
	fprintf(p->f, "%s{\"fullUrl\":\"%s/%s/%s\",\"resource\":", p->n ? "," : "", p->base,
		m->type, m->id);
	fwrite(body, 1, len, p->f);
	fputs(",\"search\":{\"mode\":\"match\"}}", p->f);
	free(body);
	p->n++;
	return 0;
}

static void base_url(const struct cl_req *r, char *buf, size_t cap)
{
	const char *host = cl_req_header(r, "Host");
	size_t n = host ? strspn(host, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
				 "0123456789.-:[]") : 0;

	if (!host || n == 0 || host[n] != '\0' || n > 200)
		host = "localhost";
	snprintf(buf, cap, "http://%s/fhir", host);
}

/* A link of the Bundle ("self" first). */
static void put_link(FILE *f, const char *relation, const char *url)
{
	json_t *u = json_string(url);

	fprintf(f, "%s{\"relation\":\"%s\",\"url\":", strcmp(relation, "self") ? "," : ",\"link\":[",
		relation);
	if (u)
		json_dumpf(u, f, JSON_ENCODE_ANY | JSON_COMPACT);
	else
		fputs("\"\"", f);
	json_decref(u);
	fputs("}", f);
}

/* Runs s and replies with the searchset Bundle; path: the search's own
 * path (links repeat it). */
static int run(struct cl_req *r, struct cl_store *st, struct search *s, const char *path)
{
	struct page p = { .who = &r->who };
	char base[300], link[LINK_MAX + 600], *text = NULL;
	int64_t total = 0;
	size_t len = 0;
	int rc;

	base_url(r, base, sizeof(base));
	p.base = base;
	p.count = s->summary_count ? 0 : s->q.count;
	p.f = open_memstream(&text, &len);
	if (!p.f)
		return cl_reply_error(r, 500, "memory", "no memory for a search", NULL, NULL);
	fputs("{\"resourceType\":\"Bundle\",\"type\":\"searchset\",\"entry\":[", p.f);
	/* one more than the page: whether a next page exists */
	s->q.count = p.count ? p.count + 1 : 0;
	rc = s->none ? CL_OK
		     : cl_store_fhir_search(st, &s->q,
					    s->no_total && !s->summary_count ? NULL : &total, entry,
					    &p);
	if (rc == CL_OK)
		rc = p.rc;
	fputs("]", p.f);
	/* a total counts what the token may see: unknown when scopes left
	 * types out */
	if ((!s->no_total || s->summary_count) && !r->who.scope[0])
		fprintf(p.f, ",\"total\":%lld", (long long)total);
	snprintf(link, sizeof(link), "%s%s?%s", base, path, s->applied);
	if (s->q.after_type)
		snprintf(link + strlen(link), sizeof(link) - strlen(link), "&_after=%s/%s",
			 s->q.after_type, s->q.after_id);
	put_link(p.f, "self", link);
	if (p.more) {
		snprintf(link, sizeof(link), "%s%s?%s&_after=%s/%s", base, path, s->applied,
			 p.last_type, p.last_id);
		put_link(p.f, "next", link);
	}
	fputs("]}\n", p.f);
	if (fclose(p.f) != 0 && rc == CL_OK)
		rc = cl_error_set(CL_ENOMEM, "no memory for a search");
	if (rc != CL_OK) {
		free(text);
		return cl_reply_error(r, rc == CL_EINVAL ? 400 : 500,
				      rc == CL_EINVAL ? "bad_request" : "store", cl_error_detail(),
				      NULL, NULL);
	}
	r->audit.count = p.n;
	return cl_reply(r, 200, "application/fhir+json", text, len, NULL, NULL);
}

/* Reads the parameters: 1 to go on, else the reply. */
static int parse(struct cl_req *r, struct search *s)
{
	const char *prefer = cl_req_header(r, "Prefer"), *accept = cl_req_header(r, "Accept");
	int rc;

	s->q.count = PAGE_DEFAULT;
	s->lenient = prefer && strstr(prefer, "handling=lenient") != NULL;
	rc = cl_req_each_query(r, one_param, s);
	if (rc == CL_ENOTSUP)
		return cl_reply_error(r, 406, "not_acceptable", s->why, NULL, NULL);
	if (rc)
		return cl_reply_error(r, 400, "bad_request", s->why[0] ? s->why : cl_error_detail(),
				      NULL, NULL);
	if (accept && *accept && !strstr(accept, "json") && !strstr(accept, "*/*"))
		return cl_reply_error(r, 406, "not_acceptable", "carelake serves FHIR as JSON only "
				      "(application/fhir+json)", NULL, NULL);
	/* the page size is part of every link */
	if (!strstr(s->applied, "_count=")) {
		char n[24];

		snprintf(n, sizeof(n), "%lld", (long long)s->q.count);
		applied(s, "_count", n);
	}
	return 1;
}

/* Narrows s to what the token may see: 1 to go on, else the reply. */
static int narrow(struct cl_req *r, struct cl_store *st, struct search *s, const char *type)
{
	char msg[200];

	if (type && !cl_scope_allows(&r->who, CL_ACT_READ_CLINICAL, type)) {
		snprintf(msg, sizeof(msg), "the token's scopes do not allow searching %.64s", type);
		return cl_reply_error(r, 403, "forbidden", msg, NULL, NULL);
	}
	if (r->who.patient[0]) {
		/* its own compartment; another patient's has nothing for it */
		if (s->q.patient && strcmp(s->q.patient, r->who.patient) != 0)
			s->none = 1;
		snprintf(s->patient, sizeof(s->patient), "%s", r->who.patient);
		s->q.patient = s->patient;
	}
	if (s->q.patient) {
		r->audit.patient = s->q.patient;
		return r->who.patient[0] ? 1 : cl_api_patient_access(r, st, s->q.patient);
	}
	if (r->who.role == CL_ROLE_CLINICIAN && r->who.wards[0])
		return cl_reply_error(r, 403, "forbidden", "a clinician limited to wards searches "
				      "one patient at a time (patient=Patient/ID)", NULL, NULL);
	return 1;
}

/* A search of type (NULL: $everything) in patient's compartment (NULL:
 * any); path: the search's path. */
static int search(struct cl_req *r, const char *type, const char *patient, int everything,
		  const char *path)
{
	struct search *s = calloc(1, sizeof(*s));
	struct cl_store *st;
	int go, rc;

	if (!s)
		return cl_reply_error(r, 500, "memory", "no memory for a search", NULL, NULL);
	s->everything = everything;
	r->audit.resource_type = type ? type : "Patient";
	go = parse(r, s);
	if (go == 1 && patient) {
		if (s->q.patient && strcmp(s->q.patient, patient) != 0)
			s->none = 1; /* two different patients: nothing matches */
		snprintf(s->patient, sizeof(s->patient), "%s", patient);
		s->q.patient = s->patient;
	}
	if (go != 1) {
		free(s);
		return go;
	}
	s->q.type = type;
	rc = cl_store_open(r->s->data_dir, &st);
	if (rc != CL_OK) {
		free(s);
		return cl_reply_error(r, 500, "store", cl_error_detail(), NULL, NULL);
	}
	go = narrow(r, st, s, type);
	if (go == 1 && everything) {
		struct cl_fhir_version v;

		/* the patient must be there to have a record */
		rc = cl_store_fhir_read(st, "Patient", patient, 0, &v);
		cl_fhir_version_free(&v);
		if (rc != CL_OK || v.deleted)
			go = cl_reply_error(r, rc == CL_OK ? 410 : rc == CL_ENOENT ? 404 : 500,
					    rc == CL_OK ? "gone" : rc == CL_ENOENT ? "not_found" : "store",
					    rc == CL_OK ? "the patient was deleted" : cl_error_detail(),
					    NULL, NULL);
	}
	if (go == 1)
		go = run(r, st, s, path);
	cl_store_close(st);
	free(s);
	return go;
}

static int valid_type(struct cl_req *r, const char *type)
{
	char msg[160];

	if (is_type(type))
		return 1;
	snprintf(msg, sizeof(msg), "'%.64s' is not a FHIR resource type", type);
	return cl_reply_error(r, 404, "not_found", msg, NULL, NULL);
}

static int valid_patient(struct cl_req *r, const char *id)
{
	if (is_id(id))
		return 1;
	return cl_reply_error(r, 400, "bad_request", "the patient id is not a FHIR id", NULL, NULL);
}

int cl_api_fhir_search_type(struct cl_req *r)
{
	const char *type = r->param[0];
	char path[CL_FHIR_TYPE_MAX + 2];
	int go = valid_type(r, type);

	if (go != 1)
		return go;
	snprintf(path, sizeof(path), "/%.64s", type);
	return search(r, type, NULL, 0, path);
}

int cl_api_fhir_compartment(struct cl_req *r)
{
	const char *id = r->param[0], *type = r->param[1];
	char path[200];
	int go = valid_type(r, type);

	if (go == 1)
		go = valid_patient(r, id);
	if (go != 1)
		return go;
	snprintf(path, sizeof(path), "/Patient/%.64s/%.64s", id, type);
	return search(r, type, id, 0, path);
}

int cl_api_fhir_everything(struct cl_req *r)
{
	const char *id = r->param[0];
	char path[200];
	int go = valid_patient(r, id);

	if (go != 1)
		return go;
	snprintf(path, sizeof(path), "/Patient/%.64s/$everything", id);
	return search(r, NULL, id, 1, path);
}
