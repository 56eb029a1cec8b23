/*
 * A stored FHIR resource as the API gives it out: its text as it arrived,
 * with meta.versionId and meta.lastUpdated set to carelake's (any other
 * member of meta, such as profile, security or tag, is kept). The text is
 * rewritten in place of being parsed into values and printed again, so
 * every value comes back exactly as it was sent: a decimal's digits
 * ("1.50"), a string's escapes, the members' order.
 */
#ifndef CL_FHIR_META_H
#define CL_FHIR_META_H

#include <stddef.h>
#include <stdint.h>

/* The resource text src[0..len) (one JSON object) with its meta set (lastUpdated
 * in UTC with milliseconds): *out (malloc'd, NUL-terminated; free()) and *out_len. CL_EPARSE when
 * src is not a JSON object, CL_ENOMEM. */
int cl_fhir_with_meta(const char *src, size_t len, int64_t version, int64_t updated_us,
		      char **out, size_t *out_len);

/* The resource text src[0..len) with only the members _elements keeps
 * (those named in names, a name keeping its choice types too: value keeps
 * valueQuantity; and resourceType, id and meta), or with except, all but
 * those (_summary=data), meta tagged SUBSETTED (FHIR's mark of a resource
 * given in part), the rest as it was: *out (malloc'd, NUL-terminated;
 * free()) and *out_len. CL_EPARSE when src is not a JSON object,
 * CL_ENOMEM. */
int cl_fhir_subset(const char *src, size_t len, const char *const *names, int n, int except,
		   char **out, size_t *out_len);

/* The resource text src[0..len) with its id set to id (a FHIR id, given
 * by the server on a create): resourceType, then id, then the other
 * members as they were. *out (malloc'd, NUL-terminated; free()).
 * CL_EPARSE when src is not a JSON object, CL_ENOMEM. */
int cl_fhir_with_id(const char *src, size_t len, const char *id, char **out, size_t *out_len);

#endif
