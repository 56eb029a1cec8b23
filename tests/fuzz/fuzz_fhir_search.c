/*
 * Fuzz target: the FHIR search-parameter reader (fhir/cl_fhir_search.c),
 * fed what a client could put in a query: the input is a flag byte (bit 0:
 * $everything, bit 1: lenient) and then name=value pairs separated by '&'.
 * Whatever it takes or refuses, the query it builds must stay within its
 * bounds: a page of 1 to CL_FHIR_PAGE_MAX, lists of at most
 * CL_FHIR_QUERY_LIST_MAX valid ids or types, a patient that is a FHIR id,
 * a page start that is a type and an id, link text ended within its
 * buffer and free of the bytes that would break a URL; a refusal says why.
 */
#include "fuzz_entry.h"
#include "core/cl_error.h"
#include "fhir/cl_fhir_search.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

static void check(const struct cl_fhir_search *s)
{
	const struct cl_fhir_query *q = &s->q;

	if (q->count < 1 || q->count > CL_FHIR_PAGE_MAX || q->nids < 0 ||
	    q->nids > CL_FHIR_QUERY_LIST_MAX || q->ntypes < 0 || q->ntypes > CL_FHIR_QUERY_LIST_MAX ||
	    strnlen(s->applied, sizeof(s->applied)) == sizeof(s->applied) ||
	    strpbrk(s->applied, " #?\n"))
		abort();
	for (int i = 0; i < q->nids; i++)
		if (!cl_fhir_id_ok(q->ids[i]))
			abort();
	for (int i = 0; i < q->ntypes; i++)
		if (!cl_fhir_type_ok(q->types[i]))
			abort();
	if (q->patient && !cl_fhir_id_ok(q->patient))
		abort();
	if ((q->after_type == NULL) != (q->after_id == NULL) ||
	    (q->after_id && (!cl_fhir_id_ok(q->after_id) || !cl_fhir_type_ok(q->after_type))))
		abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct cl_fhir_search *s;
	char *text, *save = NULL;

	if (size < 1 || size > 8192)
		return 0;
	s = malloc(sizeof(*s));
	text = malloc(size);
	if (!s || !text)
		abort();
	cl_fhir_search_init(s, data[0] & 1, (data[0] >> 1) & 1);
	memcpy(text, data + 1, size - 1);
	text[size - 1] = '\0';
	for (char *pair = strtok_r(text, "&", &save); pair; pair = strtok_r(NULL, "&", &save)) {
		char *eq = strchr(pair, '=');
		int rc;

		if (eq)
			*eq = '\0';
		rc = cl_fhir_search_param(s, pair, eq ? eq + 1 : NULL);
		if (rc != CL_OK && rc != CL_EINVAL && rc != CL_ENOTSUP)
			abort();
		if (rc != CL_OK && !s->why[0])
			abort();
		check(s);
		s->why[0] = '\0';
	}
	cl_fhir_search_finish(s);
	check(s);
	free(text);
	free(s);
	return 0;
}
