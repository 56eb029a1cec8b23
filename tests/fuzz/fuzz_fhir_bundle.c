/*
 * Fuzz target: a batch or transaction Bundle as POST /fhir reads it
 * (fhir/cl_fhir_bundle.c), fed any bytes. Whether the text is such a
 * Bundle must not crash; each entry of one is read (its request, its
 * resource) or refused with an HTTP status and a reason that names it;
 * and a POST's or PUT's resource with its references to "urn:" fullUrls
 * rewritten (and a POST's id set) must come back as one JSON object of
 * the same type, the references rewritten gone and no other string lost.
 */
#include "fuzz_entry.h"
#include "core/cl_error.h"
#include "core/cl_mem.h"
#include "fhir/cl_fhir_bundle.h"
#include "json/cl_json.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char *to_patient(void *arg, const char *ref)
{
	(void)arg;
	return strncmp(ref, "urn:", 4) == 0 ? "Patient/fuzz-1" : NULL;
}

/* The resource rewritten: one JSON object, with no "urn:" reference left
 * and the id asked for. */
static void check_rewrite(const struct cl_json_doc *d, uint32_t res, const char *id)
{
	struct cl_json_doc out;
	char *text = NULL;
	size_t len = 0;
	int i;

	if (cl_fhir_rewrite_refs(d, res, id, to_patient, NULL, &text, &len) != CL_OK)
		return; /* out of memory only: the resource is an object */
	cl_json_doc_init(&out);
	if (cl_json_parse(&out, text, len) != CL_OK || out.toks[0].type != CL_JSON_OBJECT)
		abort();
	if (id && ((i = cl_json_get(&out, 0, "id")) < 0 || !cl_json_str_eq(&out, (uint32_t)i, id)))
		abort();
	for (uint32_t t = 1; t + 1 < out.count; t++)
		if (out.toks[t].type == CL_JSON_STRING && out.toks[t + 1].type == CL_JSON_STRING &&
		    cl_json_str_eq(&out, t, "reference") &&
		    out.toks[t + 1].len >= 4 && memcmp(out.src + out.toks[t + 1].start, "urn:", 4) == 0)
			abort();
	cl_json_doc_free(&out);
	cl_free(text);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct cl_json_doc d;
	int e;

	(void)cl_fhir_bundle_is_rest((const char *)data, size);
	cl_json_doc_init(&d);
	if (cl_json_parse(&d, (const char *)data, size) == CL_OK && d.toks[0].type == CL_JSON_OBJECT &&
	    (e = cl_json_get(&d, 0, "entry")) >= 0 && d.toks[e].type == CL_JSON_ARRAY) {
		uint32_t tok = (uint32_t)e + 1;

		for (uint32_t k = 0; k < d.toks[e].size; k++, tok = d.toks[tok].next) {
			struct cl_fhir_entry_req q;
			const char *issue = NULL;
			char why[400], at[24], at2[24];
			int status = cl_fhir_entry_read(&d, tok, k, &q, &issue, why, sizeof(why));

			if (status) {
				/* "entry 2: ...", or cl_fhir_check_entry's "Bundle.entry[2]..." */
				snprintf(at, sizeof(at), "entry %u", k);
				snprintf(at2, sizeof(at2), "entry[%u]", k);
				if (status < 400 || status > 422 || !issue ||
				    (!strstr(why, at) && !strstr(why, at2)))
					abort();
				continue;
			}
			if (q.method != CL_FHIR_DELETE)
				check_rewrite(&d, (uint32_t)q.resource,
					      q.method == CL_FHIR_POST ? "fuzz-id" : NULL);
		}
	}
	cl_json_doc_free(&d);
	return 0;
}
