/*
 * SMART on FHIR scopes: what an OpenID Connect token's `scope` claim lets
 * its bearer do, within what its role already allows.
 *
 * A SMART resource scope is CONTEXT/RESOURCE.PERMISSIONS:
 *   - CONTEXT: `patient` (the patient the token names, and no other),
 *     `user` (what the user may see) or `system` (a backend service);
 *   - RESOURCE: a FHIR resource type (`Observation`) or `*`;
 *   - PERMISSIONS: SMART v2, some of `c r u d s` in that order (create,
 *     read, update, delete, search: `rs`, `cruds`), or SMART v1 `read`
 *     (= rs), `write` (= cud) or `*` (= cruds).
 * Other scopes (`openid`, `fhirUser`, `launch/patient`, `offline_access`)
 * are not resource scopes and grant nothing here. A v2 scope with a
 * query (`patient/Observation.rs?category=laboratory`) narrows to
 * resources carelake cannot tell apart, so it grants nothing.
 *
 * Scopes narrow a role and never widen it: cl_scope_allows asks the
 * role-by-action table (cl_access_allows) first. A principal that holds
 * no SMART resource scope at all (carelake's own tokens; an identity
 * provider that sends roles and no SMART scopes) is limited by its role
 * alone; one that holds any is limited to what its scopes grant as well.
 *
 * Each action needs these permissions on this resource type:
 *
 * | action              | resource      | needs |
 * | ---                 | ---           | ---   |
 * | ingest-events       | Observation   | c     |
 * | ingest-fhir         | Observation   | c     |
 * | read-clinical       | Observation   | r     |
 * | search-alerts       | Flag          | s     |
 * | acknowledge         | Flag          | u     |
 * | stream              | Observation   | s     |
 * | read-audit          | AuditEvent    | s     |
 * | manage-tokens       | * (all types) | cud   |
 * | operate             | * (all types) | cud   |
 * | export-deidentified | * (all types) | rs    |
 * | export-identified   | * (all types) | rs    |
 *
 * ("* (all types)": only a scope whose resource is `*` grants it, as the
 * system scope on `*` with `cruds` does.)
 * A caller that knows the resource type more exactly (a Bundle's entries)
 * passes it instead of the action's own. A `patient/` scope grants only
 * when the principal names a patient, and the request is then held to
 * that patient (r->who.patient) as a patient token is.
 */
#ifndef CL_SCOPE_H
#define CL_SCOPE_H

#include "auth/cl_access.h"
#include "auth/cl_tokens.h"

#include <stddef.h>

/* Permission bits, in SMART v2's order. */
#define CL_SCOPE_C 1u   /* create */
#define CL_SCOPE_R 2u   /* read */
#define CL_SCOPE_U 4u   /* update */
#define CL_SCOPE_D 8u   /* delete */
#define CL_SCOPE_S 16u  /* search */

enum cl_scope_context {
	CL_SCOPE_PATIENT,   /* patient/: the token's own patient */
	CL_SCOPE_USER,      /* user/: what the user may see */
	CL_SCOPE_SYSTEM,    /* system/: a backend service */
};

#define CL_SCOPE_RESOURCE_MAX 64

/* One SMART resource scope. */
struct cl_scope {
	enum cl_scope_context context;
	char resource[CL_SCOPE_RESOURCE_MAX];  /* a FHIR resource type, or "*" */
	unsigned perms;                        /* CL_SCOPE_* bits */
	int query;                             /* had a ?query: grants nothing */
};

/*
 * Parses one scope (len bytes, no spaces). 0 and *out for a SMART
 * resource scope; CL_ENOENT for a scope of another kind (openid,
 * launch/patient); CL_EINVAL with the reason for one that begins
 * patient/, user/ or system/ but is not well formed.
 */
int cl_scope_parse(const char *text, size_t len, struct cl_scope *out);

/*
 * Checks a space-separated list of scopes: *smart is set to the number of
 * SMART resource scopes in it. CL_EINVAL with the reason if one of them
 * is malformed.
 */
int cl_scope_check_list(const char *scopes, int *smart);

/* The resource type and permissions an action needs (the table above). */
const char *cl_scope_action_resource(enum cl_action a);
unsigned cl_scope_action_perms(enum cl_action a);

/*
 * 1 if p may perform action a on resources of type `resource` (NULL: the
 * action's own, from the table above): its role allows the action, and
 * either it holds no SMART resource scope or one of its scopes grants the
 * permissions the action needs on that type. 0 otherwise.
 */
int cl_scope_allows(const struct cl_principal *p, enum cl_action a, const char *resource);

/* The same with the permissions a SMART scope must grant named (CL_SCOPE_C
 * ...): a FHIR update needs u, a delete d, where the action says c. */
int cl_scope_allows_perms(const struct cl_principal *p, enum cl_action a, const char *resource,
			  unsigned need);

#endif
