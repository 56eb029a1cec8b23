/*
 * Fuzz target: the FHIR search-parameter reader (fhir/cl_fhir_search.c),
 * fed what a client could put in a query: the input is a flag byte (bit 0:
 * $everything, bit 1: lenient, bit 2: a Patient search, else an
 * Observation search) and then name=value pairs separated by '&'.
 * Whatever it takes or refuses, the query it builds must stay within its
 * bounds: a page of 1 to CL_FHIR_PAGE_MAX, lists of at most
 * CL_FHIR_QUERY_LIST_MAX valid ids or types, a patient that is a FHIR id,
 * a page start that is a type and an id, link text ended within its
 * buffer and free of the bytes that would break a URL; conditions within
 * their bounds, each value inside the search's own storage, a date range
 * not empty, a number's range around it; a refusal says why.
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
	if (q->nconds < 0 || q->nconds > CL_FHIR_QUERY_COND_MAX || (q->nconds && q->conds != s->conds))
		abort();
	for (int i = 0; i < q->nconds; i++) {
		const struct cl_fhir_cond *c = &q->conds[i];

		if (c->modifier == CL_FM_MISSING) {
			if (c->missing != 0 && c->missing != 1)
				abort();
			continue;
		}
		if (c->nvalues < 1 || c->values < s->values ||
		    c->values + c->nvalues > s->values + s->nvalues)
			abort();
		for (int k = 0; k < c->nvalues; k++) {
			const struct cl_fhir_value *v = &c->values[k];
			const char *strs[] = { v->sys, v->code, v->str };

			for (int j = 0; j < 3; j++)
				if (strs[j] && (strs[j] < s->text || strs[j] >= s->text + s->text_used))
					abort();
			if (c->kind == CL_FK_DATE && v->lo >= v->hi)
				abort();
			if (c->kind == CL_FK_QUANTITY && !(v->num_lo <= v->num && v->num <= v->num_hi))
				abort();
			if ((c->kind == CL_FK_STRING && !v->str) || (c->kind == CL_FK_REF && !v->code))
				abort();
		}
	}
	if (q->nsorts < 0 || q->nsorts > CL_FHIR_SORT_MAX || (q->nsorts && q->sorts != s->sorts) ||
	    (q->after_vals && (q->after_vals != s->after_vals || !q->nsorts)))
		abort();
	for (int i = 0; q->after_vals && i < q->nsorts; i++)
		if (!strchr("nidt", q->after_vals[i].type) ||
		    (q->after_vals[i].type == 't' && (q->after_vals[i].t < s->after_text ||
		     q->after_vals[i].t >= s->after_text + sizeof(s->after_text))))
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
	cl_fhir_search_init(s, (data[0] & 4) ? "Patient" : "Observation", data[0] & 1, (data[0] >> 1) & 1);
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
	s->why[0] = '\0';
	if (cl_fhir_search_finish(s) != CL_OK && !s->why[0])
		abort();
	check(s);
	free(text);
	free(s);
	return 0;
}
