/*
 * FHIR R4 searches over the resources carelake holds (the current version
 * of each, deletions left out; store/cl_store_fhir.h):
 *   GET /fhir/{type}?...                  search
 *   GET /fhir/Patient/{id}/{type}?...     compartment search
 *   GET /fhir/Patient/{id}/$everything    the patient's whole record
 *   POST /fhir/{type}/_search             the same, the parameters in a form
 *                                         body (and the query)
 * The parameters are read by fhir/cl_fhir_search.c; one it refuses is
 * 400 (406 for a _format other than JSON), unless the client sends
 * Prefer: handling=lenient. Results come in the order of type then id, a page at a time:
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
#include "fhir/cl_fhir_index.h"
#include "fhir/cl_fhir_meta.h"
#include "fhir/cl_fhir_search.h"
#include "store/cl_store.h"
#include "store/cl_store_fhir.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

/* ---- the Bundle ---- */

struct page {
	FILE *f;
	const char *base;
	const struct cl_principal *who;
	const struct cl_fhir_search *s;
	int64_t count, n;
	int more, skipped, rc;
	char last[1200];            /* the page start after the last one seen */
	json_t *shown;              /* "Type/id" of every entry, for includes */
	json_t *frontier;           /* ["Type","id"] whose includes come next */
	int64_t included;
	int cut;                    /* includes stopped at CL_FHIR_PAGE_MAX */
};

/* Writes one entry (mode "match" or "include"). */
static int put_entry(struct page *p, const char *type, const char *id, int64_t version,
		     int64_t updated_us, const char *resource, size_t rlen, const char *mode)
{
	char *body = NULL, *part = NULL;
	size_t len = 0;
	int rc = CL_OK;

	/* _elements: the matches in part */
	if (p->s->nelements && strcmp(mode, "match") == 0) {
		rc = cl_fhir_subset(resource, rlen, p->s->elements, p->s->nelements,
				    p->s->elements_except, &part, &rlen);
		resource = part;
	}
	if (rc == CL_OK)
		rc = cl_fhir_with_meta(resource, rlen, version, updated_us, &body, &len);
	free(part);
	if (rc != CL_OK)
		return rc;
	fprintf(p->f, "%s{\"fullUrl\":\"%s/%s/%s\",\"resource\":", p->n + p->included ? "," : "",
		p->base, type, id);
	fwrite(body, 1, len, p->f);
	fprintf(p->f, ",\"search\":{\"mode\":\"%s\"}}", mode);
	free(body);
	return CL_OK;
}

/* Remembers type/id as shown, and as a resource whose includes come. */
static void shown(struct page *p, const char *type, const char *id)
{
	char key[CL_FHIR_TYPE_MAX + CL_FHIR_ID_MAX + 2];

	snprintf(key, sizeof(key), "%s/%s", type, id);
	json_object_set_new(p->shown, key, json_true());
	json_array_append_new(p->frontier, json_pack("[ss]", type, id));
}

static int entry(void *arg, const struct cl_fhir_match *m)
{
	struct page *p = arg;

	if (p->n == p->count) {
		p->more = 1;
		return 1;
	}
	cl_fhir_search_after(p->s, m, p->last, sizeof(p->last));
	/* a type the token's SMART scopes do not grant is left out */
	if (!cl_scope_allows(p->who, CL_ACT_READ_CLINICAL, m->type)) {
		p->skipped = 1;
		return 0;
	}
	p->rc = put_entry(p, m->type, m->id, m->version, m->updated_us, m->resource, m->len, "match");
	if (p->rc != CL_OK)
		return 1;
	if (p->s->nincludes)
		shown(p, m->type, m->id);
	p->n++;
	return 0;
}

/* ---- _include and _revinclude ---- */

struct incl {
	struct page *p;
	struct cl_req *r;
	struct cl_store *st;
	const struct cl_fhir_include *in;
	json_t *next;               /* the next round's frontier */
};

/* Whether the token may see a resource in patient's compartment ("" for
 * none) among what a search includes: what a read would show, without
 * a reply for what it would not (it is left out). */
static int may_include(struct incl *x, const char *type, const char *patient)
{
	const struct cl_principal *who = &x->r->who;

	if (!cl_scope_allows(who, CL_ACT_READ_CLINICAL, type))
		return 0;
	if (who->patient[0])
		return patient[0] && strcmp(patient, who->patient) == 0;
	/* a clinician limited to wards searched one patient, its ward checked */
	if (who->role == CL_ROLE_CLINICIAN && who->wards[0] && patient[0])
		return x->p->s->q.patient && strcmp(patient, x->p->s->q.patient) == 0;
	return 1;
}

/* Adds one resource to the included (once). 1: the budget is spent. */
static int include_one(struct incl *x, const char *type, const char *id, int64_t version,
		       int64_t updated_us, const char *resource, size_t len, const char *patient)
{
	struct page *p = x->p;
	char key[CL_FHIR_TYPE_MAX + CL_FHIR_ID_MAX + 2];

	snprintf(key, sizeof(key), "%s/%s", type, id);
	if (json_object_get(p->shown, key) || !may_include(x, type, patient))
		return 0;
	if (p->included == CL_FHIR_PAGE_MAX) {
		p->cut = 1;
		return 1;
	}
	p->rc = put_entry(p, type, id, version, updated_us, resource, len, "include");
	if (p->rc != CL_OK)
		return 1;
	p->included++;
	json_object_set_new(p->shown, key, json_true());
	json_array_append_new(x->next, json_pack("[ss]", type, id));
	return 0;
}

/* An _include's reference: the resource it names, when held. */
static int referenced(void *arg, const char *ref_type, const char *ref_id)
{
	struct incl *x = arg;
	const char *type = ref_type ? ref_type : x->in->target;
	struct cl_fhir_version v;
	int rc, stop = 0;

	if (!type[0] || (x->in->target[0] && strcmp(type, x->in->target) != 0) ||
	    !cl_fhir_id_ok(ref_id))
		return 0;
	rc = cl_store_fhir_read(x->st, type, ref_id, 0, &v);
	if (rc == CL_OK && !v.deleted)
		stop = include_one(x, type, ref_id, v.version, v.updated_us, v.resource, v.len,
				   v.patient);
	else if (rc != CL_OK && rc != CL_ENOENT)
		x->p->rc = rc, stop = 1;
	cl_fhir_version_free(&v);
	return stop;
}

/* A _revinclude's source resource: one that names a shown resource. */
static int referring(void *arg, const struct cl_fhir_match *m)
{
	struct incl *x = arg;
	struct cl_fhir_version v;
	int rc, stop;

	/* its compartment, for the access rules */
	rc = cl_store_fhir_read(x->st, m->type, m->id, 0, &v);
	if (rc != CL_OK) {
		x->p->rc = rc;
		return 1;
	}
	stop = include_one(x, m->type, m->id, m->version, m->updated_us, m->resource, m->len,
			   v.patient);
	cl_fhir_version_free(&v);
	return stop;
}

/* The includes of the matches (then, for :iterate, of what they
 * included, a few rounds), after the matches; at most CL_FHIR_PAGE_MAX,
 * then an OperationOutcome entry says they were cut. */
static int includes(struct cl_req *r, struct cl_store *st, struct page *p)
{
	const struct cl_fhir_search *s = p->s;
	struct incl x = { .p = p, .r = r, .st = st };
	int rc = CL_OK;

	for (int round = 0; round < 4 && json_array_size(p->frontier) && !p->cut; round++) {
		x.next = json_array();
		for (int i = 0; i < s->nincludes && rc == CL_OK && !p->cut && p->rc == CL_OK; i++) {
			size_t k;
			json_t *one;

			x.in = &s->includes[i];
			if (round > 0 && !x.in->iterate)
				continue;
			json_array_foreach(p->frontier, k, one) {
				const char *type = json_string_value(json_array_get(one, 0));
				const char *id = json_string_value(json_array_get(one, 1));

				if (!x.in->rev && strcmp(type, x.in->source) == 0)
					rc = cl_store_fhir_refs(st, type, id, x.in->param, referenced, &x);
				else if (x.in->rev && (!x.in->target[0] || !strcmp(type, x.in->target)))
					rc = cl_store_fhir_referring(st, x.in->source, x.in->param, type, id,
								     CL_FHIR_PAGE_MAX + 1, referring, &x);
				if (rc != CL_OK || p->cut || p->rc != CL_OK)
					break;
			}
		}
		json_decref(p->frontier);
		p->frontier = x.next;
	}
	if (rc == CL_OK)
		rc = p->rc;
	if (rc == CL_OK && p->cut)
		fprintf(p->f, "%s{\"resource\":{\"resourceType\":\"OperationOutcome\",\"issue\":"
			"[{\"severity\":\"warning\",\"code\":\"too-costly\",\"diagnostics\":"
			"\"included resources were cut at %d\"}]},\"search\":{\"mode\":\"outcome\"}}",
			p->n + p->included ? "," : "", CL_FHIR_PAGE_MAX);
	return rc;
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
static int run(struct cl_req *r, struct cl_store *st, struct cl_fhir_search *s, const char *path)
{
	struct page p = { .who = &r->who, .s = s, .shown = json_object(), .frontier = json_array() };
	char base[300], link[CL_FHIR_LINK_MAX + 1600], *text = NULL;
	int64_t total = 0;
	size_t len = 0;
	int rc;

	cl_api_fhir_base(r, base, sizeof(base));
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
	if (rc == CL_OK && s->nincludes && !s->summary_count)
		rc = includes(r, st, &p);
	json_decref(p.shown);
	json_decref(p.frontier);
	fputs("]", p.f);
	/* a total counts what the token may see: unknown when scopes left
	 * types out */
	if ((!s->no_total || s->summary_count) && !r->who.scope[0])
		fprintf(p.f, ",\"total\":%lld", (long long)total);
	snprintf(link, sizeof(link), "%s%s?%s", base, path, s->applied);
	if (s->q.after_type)
		snprintf(link + strlen(link), sizeof(link) - strlen(link), "&_after=%s",
			 s->after_raw);
	put_link(p.f, "self", link);
	if (p.more) {
		snprintf(link, sizeof(link), "%s%s?%s&_after=%s", base, path, s->applied, p.last);
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
	r->audit.count = p.n + p.included;
	return cl_reply(r, 200, "application/fhir+json", text, len, NULL, NULL);
}

/* Reads the parameters (a POST search's body too): 1 to go on, else the
 * reply. */
static int parse(struct cl_req *r, struct cl_fhir_search *s)
{
	int rc = cl_req_each_query(r, cl_fhir_search_param, s);

	if (rc == CL_OK && r->method == CL_POST) {
		s->why[0] = '\0';
		rc = cl_req_each_form(r, cl_fhir_search_param, s);
		if (rc == CL_EINVAL && !s->why[0])
			snprintf(s->why, sizeof(s->why), "%s", cl_error_detail());
	}
	if (rc == CL_ENOTSUP)
		return cl_reply_error(r, 406, "not_acceptable", s->why, NULL, NULL);
	if (rc)
		return cl_reply_error(r, 400, "bad_request", s->why[0] ? s->why : cl_error_detail(),
				      NULL, NULL);
	if (cl_fhir_search_finish(s) != CL_OK)
		return cl_reply_error(r, 400, "bad_request", s->why, NULL, NULL);
	return cl_api_fhir_accept(r);
}

/* Narrows s to what the token may see: 1 to go on, else the reply. */
static int narrow(struct cl_req *r, struct cl_store *st, struct cl_fhir_search *s, const char *type)
{
	char msg[200];

	if (type && !cl_scope_allows(&r->who, CL_ACT_READ_CLINICAL, type)) {
		snprintf(msg, sizeof(msg), "the token's scopes do not allow searching %.64s", type);
		return cl_reply_error(r, 403, "forbidden", msg, NULL, NULL);
	}
	/* a chain reads the resources it goes through */
	for (int i = 0; i < s->q.nconds; i++)
		if (s->q.conds[i].chain_type &&
		    !cl_scope_allows(&r->who, CL_ACT_READ_CLINICAL, s->q.conds[i].chain_type)) {
			snprintf(msg, sizeof(msg), "the token's scopes do not allow searching "
				 "%.64s (chained)", s->q.conds[i].chain_type);
			return cl_reply_error(r, 403, "forbidden", msg, NULL, NULL);
		}
	if (r->who.patient[0]) {
		/* its own compartment; another patient's has nothing for it */
		if ((s->q.patient && strcmp(s->q.patient, r->who.patient) != 0) ||
		    !cl_fhir_id_ok(r->who.patient))
			s->none = 1; /* (an id no resource can have: nothing) */
		snprintf(s->patient, sizeof(s->patient), "%.64s", r->who.patient);
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
	struct cl_fhir_search *s = malloc(sizeof(*s));
	const char *prefer = cl_req_header(r, "Prefer");
	struct cl_store *st;
	int64_t keys;
	int go, rc;

	if (!s)
		return cl_reply_error(r, 500, "memory", "no memory for a search", NULL, NULL);
	cl_fhir_search_init(s, type, everything, prefer && strstr(prefer, "handling=lenient") != NULL);
	r->audit.resource_type = type ? type : "Patient";
	go = parse(r, s);
	if (go == 1 && patient) {
		if (s->q.patient && strcmp(s->q.patient, patient) != 0)
			s->none = 1; /* two different patients: nothing matches */
		snprintf(s->patient, sizeof(s->patient), "%.64s", patient);
		s->q.patient = s->patient;
	}
	if (go != 1) {
		free(s);
		return go;
	}
	s->q.type = type;
	rc = cl_api_store(r, &st);
	if (rc != CL_OK) {
		free(s);
		return cl_reply_error(r, 500, "store", cl_error_detail(), NULL, NULL);
	}
	go = narrow(r, st, s, type);
	/* after an upgrade, refine reads the search keys again: until it has,
	 * a search by them would miss what is held (once they are read, they
	 * stay so: asked no more) */
	if (go == 1 && s->q.nconds && !__atomic_load_n(&r->s->fhir_keys_ready, __ATOMIC_ACQUIRE)) {
		keys = cl_store_fhir_keys_version(st);
		if (keys == CL_FHIR_INDEX_VERSION)
			__atomic_store_n(&r->s->fhir_keys_ready, 1, __ATOMIC_RELEASE);
		else if (keys >= 0)
			go = cl_reply_error(r, 503, "unavailable", "the search keys of the resources "
					    "held are being read again (refine, after an upgrade); "
					    "retry shortly", "Retry-After", "5");
	}
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
	cl_api_store_done(st);
	free(s);
	return go;
}

static int valid_type(struct cl_req *r, const char *type)
{
	char msg[160];

	if (cl_fhir_type_ok(type))
		return 1;
	snprintf(msg, sizeof(msg), "'%.64s' is not a FHIR resource type", type);
	return cl_reply_error(r, 404, "not_found", msg, NULL, NULL);
}

static int valid_patient(struct cl_req *r, const char *id)
{
	if (cl_fhir_id_ok(id))
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

int cl_api_fhir_search_post(struct cl_req *r)
{
	/* answered as the GET with the same parameters, which its links are */
	return cl_api_fhir_search_type(r);
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
