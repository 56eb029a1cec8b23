/*
 * SMART on FHIR scopes. See cl_scope.h.
 */
#include "cl_scope.h"
#include "core/cl_error.h"

#include <string.h>

static const struct {
	const char *resource;
	unsigned perms;
} needs[CL_ACTIONS] = {
	[CL_ACT_INGEST_EVENTS] = { "Observation", CL_SCOPE_C },
	[CL_ACT_INGEST_FHIR] = { "Observation", CL_SCOPE_C },
	[CL_ACT_READ_CLINICAL] = { "Observation", CL_SCOPE_R },
	[CL_ACT_SEARCH_ALERTS] = { "Flag", CL_SCOPE_S },
	[CL_ACT_ACKNOWLEDGE] = { "Flag", CL_SCOPE_U },
	[CL_ACT_STREAM] = { "Observation", CL_SCOPE_S },
	[CL_ACT_READ_AUDIT] = { "AuditEvent", CL_SCOPE_S },
	[CL_ACT_REVIEW_ACCESS] = { "AuditEvent", CL_SCOPE_S },
	[CL_ACT_MANAGE_TOKENS] = { "*", CL_SCOPE_C | CL_SCOPE_U | CL_SCOPE_D },
	[CL_ACT_OPERATE] = { "*", CL_SCOPE_C | CL_SCOPE_U | CL_SCOPE_D },
	[CL_ACT_EXPORT_DEIDENTIFIED] = { "*", CL_SCOPE_R | CL_SCOPE_S },
	[CL_ACT_EXPORT_IDENTIFIED] = { "*", CL_SCOPE_R | CL_SCOPE_S },
	/* a session and a page hold no resource: the calls they make are
	 * checked against the scopes themselves */
	[CL_ACT_SIGN_IN] = { "*", 0 },
	[CL_ACT_VIEW_BOARD] = { "*", 0 },
	[CL_ACT_VIEW_MY_HEALTH] = { "*", 0 },
	[CL_ACT_READ_KPIS] = { "MeasureReport", CL_SCOPE_R | CL_SCOPE_S },
	[CL_ACT_VIEW_HOSPITAL] = { "*", 0 },
	[CL_ACT_VIEW_PIPELINES] = { "*", 0 },
	[CL_ACT_AUDIT_REPORTS] = { "AuditEvent", CL_SCOPE_S },
	[CL_ACT_VIEW_COMPLIANCE] = { "*", 0 },
	/* a predicted risk is FHIR's RiskAssessment */
	[CL_ACT_READ_RISK] = { "RiskAssessment", CL_SCOPE_R },
};

const char *cl_scope_action_resource(enum cl_action a)
{
	return a >= 0 && a < CL_ACTIONS ? needs[a].resource : NULL;
}

unsigned cl_scope_action_perms(enum cl_action a)
{
	return a >= 0 && a < CL_ACTIONS ? needs[a].perms : 0;
}

/* The permission bits of a SMART v2 string ("rs", "cruds") or a v1 word
 * ("read", "write", "*"); 0 if it is neither. */
static unsigned perms_of(const char *p, size_t n)
{
	static const char order[] = "cruds";
	unsigned bits = 0;
	size_t at = 0;

	if (n == 4 && memcmp(p, "read", 4) == 0)
		return CL_SCOPE_R | CL_SCOPE_S;
	if (n == 5 && memcmp(p, "write", 5) == 0)
		return CL_SCOPE_C | CL_SCOPE_U | CL_SCOPE_D;
	if (n == 1 && p[0] == '*')
		return CL_SCOPE_C | CL_SCOPE_R | CL_SCOPE_U | CL_SCOPE_D | CL_SCOPE_S;
	if (n == 0)
		return 0;
	for (size_t i = 0; i < n; i++) {
		const char *o = memchr(order + at, p[i], sizeof(order) - 1 - at);

		if (!o)
			return 0;  /* not a permission letter, repeated, or out of order */
		at = (size_t)(o - order) + 1;
		bits |= 1u << (o - order);
	}
	return bits;
}

int cl_scope_parse(const char *text, size_t len, struct cl_scope *out)
{
	static const struct {
		const char *prefix;
		enum cl_scope_context context;
	} contexts[] = {
		{ "patient/", CL_SCOPE_PATIENT },
		{ "user/", CL_SCOPE_USER },
		{ "system/", CL_SCOPE_SYSTEM },
	};
	const char *res, *dot, *end = text + len, *q;
	size_t rn;
	int ci = -1;

	memset(out, 0, sizeof(*out));
	for (int i = 0; i < 3; i++) {
		size_t pl = strlen(contexts[i].prefix);

		if (len >= pl && memcmp(text, contexts[i].prefix, pl) == 0) {
			ci = i;
			res = text + pl;
			break;
		}
	}
	if (ci < 0)
		return CL_ENOENT;
	out->context = contexts[ci].context;
	q = memchr(res, '?', (size_t)(end - res));
	if (q) {
		out->query = 1;
		end = q;
	}
	dot = memchr(res, '.', (size_t)(end - res));
	if (!dot)
		return cl_error_set(CL_EINVAL, "a SMART scope has no '.permissions' after its "
				    "resource type");
	rn = (size_t)(dot - res);
	if (rn == 1 && res[0] == '*') {
		strcpy(out->resource, "*");
	} else {
		if (rn == 0 || rn >= sizeof(out->resource) || res[0] < 'A' || res[0] > 'Z')
			return cl_error_set(CL_EINVAL, "a SMART scope names no FHIR resource type "
					    "(a capitalised name, or *)");
		for (size_t i = 0; i < rn; i++) {
			char c = res[i];

			if (!((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') ||
			      (c >= '0' && c <= '9')))
				return cl_error_set(CL_EINVAL, "a SMART scope's resource type has a "
						    "character a FHIR type cannot");
		}
		memcpy(out->resource, res, rn);
		out->resource[rn] = '\0';
	}
	out->perms = perms_of(dot + 1, (size_t)(end - dot - 1));
	if (!out->perms)
		return cl_error_set(CL_EINVAL, "a SMART scope's permissions are not some of "
				    "'cruds' in that order, nor read, write or *");
	return CL_OK;
}

int cl_scope_check_list(const char *scopes, int *smart)
{
	const char *s = scopes;

	*smart = 0;
	while (s && *s) {
		size_t n = strcspn(s, " ");
		struct cl_scope sc;

		if (n > 0) {
			int rc = cl_scope_parse(s, n, &sc);

			if (rc == CL_OK)
				(*smart)++;
			else if (rc != CL_ENOENT)
				return rc;
		}
		s += n;
		while (*s == ' ')
			s++;
	}
	return CL_OK;
}

int cl_scope_allows(const struct cl_principal *p, enum cl_action a, const char *resource)
{
	return cl_scope_allows_perms(p, a, resource, cl_scope_action_perms(a));
}

int cl_scope_allows_perms(const struct cl_principal *p, enum cl_action a, const char *resource,
			  unsigned need)
{
	const char *s = p->scope;
	int smart = 0;

	if (!cl_access_allows(p->role, a))
		return 0;
	if (need == 0)
		return 1;  /* nothing of a resource: the role decides */
	if (!resource)
		resource = cl_scope_action_resource(a);
	while (*s) {
		size_t n = strcspn(s, " ");
		struct cl_scope sc;
		int rc = n > 0 ? cl_scope_parse(s, n, &sc) : CL_ENOENT;

		/* another kind of scope (CL_ENOENT) grants and restricts nothing;
		 * a malformed SMART scope restricts and grants nothing */
		if (rc != CL_ENOENT)
			smart++;
		if (rc == CL_OK && !sc.query && (sc.perms & need) == need &&
		    (strcmp(sc.resource, "*") == 0 || strcmp(sc.resource, resource) == 0) &&
		    (sc.context != CL_SCOPE_PATIENT || p->patient[0]))
			return 1;
		s += n;
		while (*s == ' ')
			s++;
	}
	return smart == 0;
}
