/*
 * The parameters of a FHIR search, as a client sends them, read into a
 * store query (store/cl_store_fhir.h) and the text its links repeat. The
 * HTTP layer (serve/cl_api_fhir_search.c) feeds them one by one, as they
 * came, and decides who may see what.
 *
 * A search takes _id (several, comma-separated), patient / subject (a
 * reference: Patient/x, x, or a URL ending in Patient/x), _lastUpdated,
 * _count (1 to CL_FHIR_PAGE_MAX), _summary=count, _total=none|accurate|
 * estimate, _sort (up to CL_FHIR_SORT_MAX keys: _id, _lastUpdated or a
 * parameter of the type, "-" before one for descending) and _after (the
 * page, from a next link: the last resource's sort values, then its
 * Type/id), and the parameters of
 * its type (fhir/cl_fhir_index.h): tokens (system|code, code, system|,
 * |code; :not, :missing), strings (starts with, folded; :exact,
 * :contains, :missing), dates and quantities (the prefixes eq ne gt lt ge
 * le sa eb ap; a partial date is the range it covers; a number the range
 * its precision covers), references (Type/id, id, a URL). Values given
 * comma-separated are alternatives ("\," is a comma in a value); a
 * parameter given twice must hold both times. $everything takes _since,
 * _type, _count and _after. _format takes JSON only. Any other parameter
 * is refused, unless the search is lenient: then it is ignored (and left
 * out of the links).
 */
#ifndef CL_FHIR_SEARCH_H
#define CL_FHIR_SEARCH_H

#include "store/cl_store_fhir.h"

#define CL_FHIR_PAGE_DEFAULT 50
#define CL_FHIR_PAGE_MAX 1000
#define CL_FHIR_LINK_MAX 4096
#define CL_FHIR_VALUES_MAX 200   /* the values of all conditions together */

/* An _include or _revinclude: resources of source (a type) that param
 * references (NULL: the patient of its compartment), of type target (""
 * when any), are included with the matches (rev: the source resources
 * that reference a match); iterate: with what was included too. */
#define CL_FHIR_INCLUDE_MAX 8
struct cl_fhir_include {
	char source[CL_FHIR_TYPE_MAX];
	const char *param;
	char target[CL_FHIR_TYPE_MAX];
	int rev, iterate;
};

/* A search as asked, and what its links repeat. */
struct cl_fhir_search {
	struct cl_fhir_query q;
	const char *type;                       /* whose parameters (NULL: none) */
	struct cl_fhir_cond conds[CL_FHIR_QUERY_COND_MAX];
	struct cl_fhir_value values[CL_FHIR_VALUES_MAX];
	int nvalues;
	char text[8192];                        /* the values' strings */
	size_t text_used;
	const char *ids[CL_FHIR_QUERY_LIST_MAX];
	const char *types[CL_FHIR_QUERY_LIST_MAX];
	char id_list[1024], type_list[1024];   /* the lists' text, split in place */
	char patient[CL_FHIR_ID_MAX];
	char after[CL_FHIR_TYPE_MAX + CL_FHIR_ID_MAX + 1];
	struct cl_fhir_sort sorts[CL_FHIR_SORT_MAX];
	struct cl_fhir_include includes[CL_FHIR_INCLUDE_MAX];
	int nincludes;
	const char *elements[32];               /* _elements: the members kept */
	int nelements;
	int elements_except;                    /* ... or left out (_summary=data) */
	char after_raw[1200];                   /* _after as given, read at the end */
	struct cl_fhir_sortval after_vals[CL_FHIR_SORT_MAX];
	char after_text[600];                   /* the text values among them */
	int summary_count, no_total, lenient, everything;
	char summary;                           /* _summary: 't'rue, te'x't, 'd'ata, or 0 */
	int none;                               /* matches nothing (two patients) */
	char applied[CL_FHIR_LINK_MAX];         /* the parameters used, for links */
	char why[300];                          /* what was wrong with the last refused */
};

/* Ready for a search of type (NULL: of any; everything: the $everything
 * parameters; lenient: unknown parameters ignored). */
void cl_fhir_search_init(struct cl_fhir_search *s, const char *type, int everything, int lenient);

/* Reads one parameter (value NULL as ""). CL_OK; CL_EINVAL, s->why
 * saying what was wrong; CL_ENOTSUP for a _format other than JSON. Its
 * signature is cl_req_each_query's, with s as arg. */
int cl_fhir_search_param(void *s, const char *name, const char *value);

/* Reads every parameter of a query string ("code=x&date=ge2026", each
 * name and value %-decoded, '+' a space): a _typeFilter's search. As
 * cl_fhir_search_param: CL_OK or the first refusal (s->why). */
int cl_fhir_search_query(struct cl_fhir_search *s, const char *query);

/* After the last parameter: the page size goes into the links too, and
 * the page start is read against the sort. CL_OK, or CL_EINVAL (s->why)
 * for a page start that is not one of this search. */
int cl_fhir_search_finish(struct cl_fhir_search *s);

/* The page start a next link gives after match m of search s (its sort
 * values, then its Type/id) into buf, URL-safe. */
void cl_fhir_search_after(const struct cl_fhir_search *s, const struct cl_fhir_match *m,
			  char *buf, size_t cap);

/* 1 if id is a FHIR id (1..64 of [A-Za-z0-9.-]); if t can name a
 * resource type (a capital, then letters). */
int cl_fhir_id_ok(const char *id);
int cl_fhir_type_ok(const char *t);

/* 1 if a _format value names JSON (json, application/json,
 * application/fhir+json, application/json+fhir): the one format served. */
int cl_fhir_json_format(const char *f);

#endif
