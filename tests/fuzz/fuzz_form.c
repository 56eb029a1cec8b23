/*
 * Fuzz target: a POST search's form body (application/x-www-form-urlencoded,
 * serve/cl_req.c's cl_req_each_form), each name=value then read as a FHIR
 * search parameter (fhir/cl_fhir_search.c) as POST /fhir/{type}/_search
 * does. Invariants: every name and value handed on is a NUL-ended string
 * shorter than 4 KiB, non-empty names only, at most as many pairs as the
 * body has '&'-separated parts; a refused body says why; a refused
 * parameter says why. The same bytes as a _typeFilter's query
 * (cl_fhir_search_query, %-decoded in the fhir layer): taken or refused
 * with a reason.
 */
#include "fuzz_entry.h"
#include "core/cl_error.h"
#include "fhir/cl_fhir_search.h"
#include "serve/cl_req.h"

#include <stdlib.h>
#include <string.h>

struct seen {
	struct cl_fhir_search *s;
	size_t pairs, parts;
};

static int one(void *arg, const char *name, const char *value)
{
	struct seen *x = arg;
	int rc;

	if (!name || !value || !name[0] || strnlen(name, 4096) == 4096 ||
	    strnlen(value, 4096) == 4096 || ++x->pairs > x->parts)
		abort();
	x->s->why[0] = '\0';
	rc = cl_fhir_search_param(x->s, name, value);
	if (rc != CL_OK && !x->s->why[0])
		abort();
	return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct cl_req r;
	struct seen x = { .parts = 1 };
	int rc;

	if (size > 65536)
		return 0;
	x.s = malloc(sizeof(*x.s));
	if (!x.s)
		abort();
	memset(&r, 0, sizeof(r));
	r.body = (const char *)data;
	r.body_len = size;
	for (size_t i = 0; i < size; i++)
		x.parts += data[i] == '&';
	cl_fhir_search_init(x.s, "Patient", 0, 1);
	rc = cl_req_each_form(&r, one, &x);
	if (rc != CL_OK && (rc != CL_EINVAL || !cl_error_detail()[0]))
		abort();
	{
		char *text = malloc(size + 1);

		if (!text)
			abort();
		memcpy(text, data, size);
		text[size] = '\0';
		cl_fhir_search_init(x.s, "Observation", 0, 0);
		x.s->why[0] = '\0';
		rc = cl_fhir_search_query(x.s, text);
		if (rc != CL_OK && !x.s->why[0])
			abort();
		free(text);
	}
	free(x.s);
	return 0;
}
