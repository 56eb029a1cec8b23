/*
 * Fuzz target: meta.versionId and meta.lastUpdated set in a stored FHIR
 * resource's text (fhir/cl_fhir_meta.c), fed any bytes. Text that is one
 * JSON object must come back as one JSON object holding the same members
 * (a meta added when there was none), with meta an object whose versionId
 * and lastUpdated are carelake's, each once, and the members of the
 * original meta but those two kept; anything else must be refused.
 * The same text given in part (_elements: cl_fhir_subset) must be one JSON
 * object with no more members than it had (and a meta), a meta that is an
 * object holding a tag array, or be refused likewise.
 */
#include "fuzz_entry.h"
#include "core/cl_error.h"
#include "fhir/cl_fhir_meta.h"
#include "json/cl_json.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

/* Members of the object at token obj whose key is not versionId or
 * lastUpdated. */
static uint32_t other_members(const struct cl_json_doc *d, int obj)
{
	uint32_t n = 0, k;

	if (obj < 0 || d->toks[obj].type != CL_JSON_OBJECT)
		return 0;
	k = (uint32_t)obj + 1;
	for (uint32_t i = 0; i < d->toks[obj].size; i++) {
		n += !cl_json_str_eq(d, k, "versionId") && !cl_json_str_eq(d, k, "lastUpdated");
		k = d->toks[k + 1].next;
	}
	return n;
}

static uint32_t count_key(const struct cl_json_doc *d, int obj, const char *key)
{
	uint32_t n = 0, k = (uint32_t)obj + 1;

	for (uint32_t i = 0; i < d->toks[obj].size; i++) {
		n += cl_json_str_eq(d, k, key);
		k = d->toks[k + 1].next;
	}
	return n;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct cl_json_doc in, out;
	char *text = NULL;
	size_t len = 0;
	int is_object, rc, meta_in, meta_out;
	uint32_t members_in, others_in = 0;

	cl_json_doc_init(&in);
	cl_json_doc_init(&out);
	is_object = cl_json_parse(&in, (const char *)data, size) == CL_OK &&
		    in.toks[0].type == CL_JSON_OBJECT;
	rc = cl_fhir_with_meta((const char *)data, size, 7, 1796464800250000, &text, &len);
	if (rc == CL_ENOMEM)
		goto done;
	if (!is_object) {
		if (rc != CL_EPARSE || text)
			abort();
		goto done;
	}
	if (rc != CL_OK || !text || strlen(text) != len)
		abort();
	members_in = in.toks[0].size;
	meta_in = cl_json_get(&in, 0, "meta");
	others_in = other_members(&in, meta_in);
	if (cl_json_parse(&out, text, len) != CL_OK || out.toks[0].type != CL_JSON_OBJECT)
		abort();
	meta_out = cl_json_get(&out, 0, "meta");
	if (meta_out < 0 || out.toks[meta_out].type != CL_JSON_OBJECT ||
	    out.toks[0].size != members_in + (meta_in < 0) ||
	    other_members(&out, meta_out) != others_in ||
	    count_key(&out, meta_out, "versionId") != 1 ||
	    count_key(&out, meta_out, "lastUpdated") != 1 ||
	    !cl_json_str_eq(&out, (uint32_t)cl_json_get(&out, (uint32_t)meta_out, "versionId"), "7") ||
	    !cl_json_str_eq(&out, (uint32_t)cl_json_get(&out, (uint32_t)meta_out, "lastUpdated"),
			    "2026-12-05T10:00:00.250Z"))
		abort();
	{
		static const char *const keep[] = { "status", "value", "code" };
		struct cl_json_doc part;
		char *sub = NULL;
		size_t sub_len = 0;
		int m, tag;

		if (cl_fhir_subset((const char *)data, size, keep, 3, size & 1, &sub, &sub_len) != CL_OK ||
		    !sub || strlen(sub) != sub_len)
			abort();
		cl_json_doc_init(&part);
		if (cl_json_parse(&part, sub, sub_len) != CL_OK || part.toks[0].type != CL_JSON_OBJECT ||
		    part.toks[0].size > members_in + 1 || (m = cl_json_get(&part, 0, "meta")) < 0 ||
		    part.toks[m].type != CL_JSON_OBJECT ||
		    (tag = cl_json_get(&part, (uint32_t)m, "tag")) < 0 ||
		    part.toks[tag].type != CL_JSON_ARRAY)
			abort();
		cl_json_doc_free(&part);
		free(sub);
	}
done:
	free(text);
	cl_json_doc_free(&in);
	cl_json_doc_free(&out);
	return 0;
}
