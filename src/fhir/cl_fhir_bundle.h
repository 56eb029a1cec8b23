/*
 * A FHIR R4 batch or transaction Bundle as the REST API reads it
 * (http.html#transaction): which Bundles are that, and not Observations
 * posted for the live stream; each entry's request (method, Type/id,
 * ifMatch, ifNoneExist), checked; and a resource's references to other
 * entries (their urn:uuid fullUrls) rewritten to the ids the server gave.
 * Pure functions of the parsed text: the server's side (preconditions,
 * bronze, refine) is serve/cl_api_fhir_bundle.c.
 */
#ifndef CL_FHIR_BUNDLE_H
#define CL_FHIR_BUNDLE_H

#include "json/cl_json.h"
#include "store/cl_store_fhir.h"

#include <stddef.h>
#include <stdint.h>

/*
 * 1 when body is a batch or transaction Bundle to process as FHIR's REST
 * interactions: one with an entry that is not an Observation carrying its
 * own id, posted (request absent, or POST without ifNoneExist). 0 for
 * anything else — other Bundles, Observation Bundles a device or gateway
 * posts for the stream, text that is not a Bundle or not JSON — which
 * ingest takes (and refuses) as it always has.
 */
int cl_fhir_bundle_is_rest(const char *body, size_t len);

/* What an entry asks. */
enum cl_fhir_method { CL_FHIR_POST = 1, CL_FHIR_PUT, CL_FHIR_DELETE };

#define CL_FHIR_COND_MAX 1024  /* longest ifNoneExist, its NUL included */

struct cl_fhir_entry_req {
	int method;                      /* enum cl_fhir_method */
	char type[CL_FHIR_TYPE_MAX];     /* the resource type of request.url */
	char id[CL_FHIR_ID_MAX];         /* PUT, DELETE: the id of request.url ("" for POST) */
	int resource;                    /* the resource's token (POST, PUT), else -1 */
	int has_if_match;
	int64_t if_match;                /* W/"n" (or "n"): n; "*": -1 (any version) */
	char if_none_exist[CL_FHIR_COND_MAX];  /* a POST's search ("" none) */
};

/*
 * Reads entry k (token entry) of a batch or transaction: its request and
 * resource, checked as far as the text alone can say. 0, or the HTTP
 * status it gets (400 a malformed entry, 404 a type carelake does not
 * write, 422 a resource refine would refuse), with *issue the
 * OperationOutcome issue code and why[cap] the reason, naming the entry
 * ("entry 2: ...").
 */
int cl_fhir_entry_read(const struct cl_json_doc *d, uint32_t entry, uint32_t k,
		       struct cl_fhir_entry_req *e, const char **issue, char *why, size_t cap);

/*
 * The resource at token res with id set to id (NULL: as it is) and each
 * reference (a "reference" member's string) that resolve maps rewritten:
 * resolve returns the new reference ("Patient/1a2b"), or NULL to keep
 * it (resolve NULL: every reference kept). Every other byte is kept.
 * *out (cl_malloc'd, NUL-terminated; cl_free()) and *out_len. CL_EPARSE
 * when res is not an object, CL_ENOMEM.
 */
int cl_fhir_rewrite_refs(const struct cl_json_doc *d, uint32_t res, const char *id,
			 const char *(*resolve)(void *arg, const char *ref), void *arg,
			 char **out, size_t *out_len);

#endif
