/*
 * meta.versionId and meta.lastUpdated, set in a resource's text. See
 * cl_fhir_meta.h.
 */
#include "cl_fhir_meta.h"
#include "core/cl_error.h"
#include "core/cl_time.h"
#include "json/cl_json.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* The text of the value at token i: a string with its quotes. */
static void span(const struct cl_json_doc *d, uint32_t i, size_t *start, size_t *len)
{
	const struct cl_json_tok *t = &d->toks[i];

	*start = t->start - (t->type == CL_JSON_STRING);
	*len = t->len + 2 * (t->type == CL_JSON_STRING);
}

struct out {
	char *p;
	size_t len, cap;
};

static void put(struct out *o, const char *s, size_t n)
{
	memcpy(o->p + o->len, s, n);
	o->len += n;
}

/* The member whose key is token k, as it was: "key":value. */
static void put_member(struct out *o, const struct cl_json_doc *d, const char *src, uint32_t k)
{
	size_t kat, klen, at, vlen;

	span(d, k, &kat, &klen);
	span(d, k + 1, &at, &vlen);
	put(o, src + kat, klen);
	put(o, ":", 1);
	put(o, src + at, vlen);
}

/* Parses src, which must be one JSON object, into d and gives o room for
 * it and `extra` bytes more. */
static int begin(struct cl_json_doc *d, const char *src, size_t len, size_t extra, struct out *o)
{
	int rc;

	cl_json_doc_init(d);
	rc = cl_json_parse(d, src, len);
	if (rc == CL_OK && d->toks[0].type != CL_JSON_OBJECT)
		rc = cl_error_set(CL_EPARSE, "a FHIR resource is a JSON object");
	o->cap = len + extra;
	if (rc == CL_OK && !(o->p = malloc(o->cap)))
		rc = cl_error_set(CL_ENOMEM, "no memory for a resource of %zu bytes", len);
	if (rc != CL_OK)
		cl_json_doc_free(d);
	return rc;
}

/* Ends o's text and hands it out. */
static int finish(struct cl_json_doc *d, struct out *o, char **out, size_t *out_len)
{
	cl_json_doc_free(d);
	o->p[o->len] = '\0';
	*out = o->p;
	*out_len = o->len;
	return CL_OK;
}

int cl_fhir_with_meta(const char *src, size_t len, int64_t version, int64_t updated_us,
		      char **out, size_t *out_len)
{
	struct cl_json_doc d;
	struct out o = { 0 };
	char ours[128], when[40];
	size_t ours_len, obj_at, obj_len;
	int meta, rc;

	*out = NULL;
	*out_len = 0;
	cl_json_doc_init(&d);
	rc = cl_json_parse(&d, src, len);
	if (rc == CL_OK && d.toks[0].type != CL_JSON_OBJECT)
		rc = cl_error_set(CL_EPARSE, "a FHIR resource is a JSON object, not %s",
				  cl_json_type_name(d.toks[0].type));
	if (rc != CL_OK) {
		cl_json_doc_free(&d);
		return rc == CL_EPARSE ? cl_error_set(CL_EPARSE, "a stored resource is not JSON: %s",
						      d.err)
				       : rc;
	}
	cl_time_format_rfc3339(updated_us, when, sizeof(when), 3);
	ours_len = (size_t)snprintf(ours, sizeof(ours), "\"versionId\":\"%lld\",\"lastUpdated\":\"%s\"",
				    (long long)version, when);
	span(&d, 0, &obj_at, &obj_len);
	o.cap = obj_len + ours_len + 16;
	o.p = malloc(o.cap);
	if (!o.p) {
		cl_json_doc_free(&d);
		return cl_error_set(CL_ENOMEM, "no memory for a resource of %zu bytes", len);
	}
	meta = cl_json_get(&d, 0, "meta");
	if (meta < 0) {
		/* {"meta":{ours},<the members as they were>} */
		put(&o, "{\"meta\":{", 9);
		put(&o, ours, ours_len);
		put(&o, "}", 1);
		if (d.toks[0].size > 0)
			put(&o, ",", 1);
		put(&o, src + obj_at + 1, obj_len - 1);
	} else {
		size_t m_at, m_len;

		span(&d, (uint32_t)meta, &m_at, &m_len);
		put(&o, src + obj_at, m_at - obj_at);
		put(&o, "{", 1);
		put(&o, ours, ours_len);
		/* meta's other members, as they were */
		if (d.toks[meta].type == CL_JSON_OBJECT) {
			uint32_t k = (uint32_t)meta + 1;

			for (uint32_t n = 0; n < d.toks[meta].size; n++) {
				if (!cl_json_str_eq(&d, k, "versionId") &&
				    !cl_json_str_eq(&d, k, "lastUpdated")) {
					put(&o, ",", 1);
					put_member(&o, &d, src, k);
				}
				k = d.toks[k + 1].next;
			}
		}
		put(&o, "}", 1);
		put(&o, src + m_at + m_len, obj_at + obj_len - (m_at + m_len));
	}
	cl_json_doc_free(&d);
	o.p[o.len] = '\0';
	*out = o.p;
	*out_len = o.len;
	return CL_OK;
}

#define SUBSETTED "{\"system\":\"http://terminology.hl7.org/CodeSystem/v3-ObservationValue\"," \
		  "\"code\":\"SUBSETTED\"}"

/* 1 if member name is one _elements keeps: listed, or a choice type of
 * one listed (value keeps valueQuantity), or always kept. */
static int kept(const char *name, const char *const *names, int nnames, int except)
{
	if (!strcmp(name, "resourceType") || !strcmp(name, "id") || !strcmp(name, "meta"))
		return 1;
	for (int i = 0; i < nnames; i++) {
		size_t n = strlen(names[i]);

		if (strncmp(name, names[i], n) == 0 &&
		    (name[n] == '\0' || (name[n] >= 'A' && name[n] <= 'Z')))
			return !except;
	}
	return except;
}

int cl_fhir_subset(const char *src, size_t len, const char *const *names, int nnames, int except,
		   char **out, size_t *out_len)
{
	struct cl_json_doc d;
	struct out o = { 0 };
	int rc, first = 1, meta;
	uint32_t k = 1;

	*out = NULL;
	*out_len = 0;
	rc = begin(&d, src, len, sizeof(SUBSETTED) + 32, &o);
	if (rc != CL_OK)
		return rc;
	put(&o, "{", 1);
	for (uint32_t n = 0; n < d.toks[0].size; n++) {
		char name[80];

		/* meta comes once, last */
		if (cl_json_str(&d, k, name, sizeof(name)) >= 0 && strcmp(name, "meta") != 0 &&
		    kept(name, names, nnames, except)) {
			if (!first)
				put(&o, ",", 1);
			first = 0;
			put_member(&o, &d, src, k);
		}
		k = d.toks[k + 1].next;
	}
	/* meta (the last given, as reads take it): its members but tag, then
	 * its tags and SUBSETTED */
	put(&o, first ? "\"meta\":{" : ",\"meta\":{", first ? 8 : 9);
	meta = cl_json_get(&d, 0, "meta");
	if (meta >= 0 && d.toks[meta].type == CL_JSON_OBJECT) {
		uint32_t m = (uint32_t)meta + 1;
		int tags = cl_json_get(&d, (uint32_t)meta, "tag");

		for (uint32_t i = 0; i < d.toks[meta].size; i++) {
			if (!cl_json_str_eq(&d, m, "tag")) {
				put_member(&o, &d, src, m);
				put(&o, ",", 1);
			}
			m = d.toks[m + 1].next;
		}
		put(&o, "\"tag\":[", 7);
		if (tags >= 0 && d.toks[tags].type == CL_JSON_ARRAY && d.toks[tags].size) {
			size_t a, al;

			span(&d, (uint32_t)tags, &a, &al);
			put(&o, src + a + 1, al - 2);
			put(&o, ",", 1);
		}
	} else {
		put(&o, "\"tag\":[", 7);
	}
	put(&o, SUBSETTED "]}}", sizeof(SUBSETTED) + 2);
	return finish(&d, &o, out, out_len);
}

int cl_fhir_with_id(const char *src, size_t len, const char *id, char **out, size_t *out_len)
{
	struct cl_json_doc d;
	struct out o = { 0 };
	int rc, first = 1;

	*out = NULL;
	*out_len = 0;
	rc = begin(&d, src, len, strlen(id) + 16, &o);
	if (rc != CL_OK)
		return rc;
	/* resourceType first as FHIR writes it, then the id, then the rest */
	put(&o, "{", 1);
	for (int pass = 0; pass < 2; pass++) {
		uint32_t k = 1;

		for (uint32_t n = 0; n < d.toks[0].size; n++) {
			int rt = cl_json_str_eq(&d, k, "resourceType");

			if (!cl_json_str_eq(&d, k, "id") && rt == (pass == 0)) {
				if (!first)
					put(&o, ",", 1);
				first = 0;
				put_member(&o, &d, src, k);
			}
			k = d.toks[k + 1].next;
		}
		if (pass == 0) {
			if (!first)
				put(&o, ",", 1);
			put(&o, "\"id\":\"", 6);
			put(&o, id, strlen(id));
			put(&o, "\"", 1);
			first = 0;
		}
	}
	put(&o, "}", 1);
	return finish(&d, &o, out, out_len);
}
