/*
 * FHIR search parameters. See cl_fhir_search.h.
 */
#include "cl_fhir_search.h"
#include "core/cl_config.h"
#include "core/cl_error.h"
#include "core/cl_time.h"

#include <stdio.h>
#include <string.h>
#include <strings.h>

/* Appends name=value to the applied parameters, the value
 * percent-encoded where a URL's query needs it. */
static void applied(struct cl_fhir_search *s, const char *name, const char *value)
{
	size_t n = strlen(s->applied);

	snprintf(s->applied + n, sizeof(s->applied) - n, "%s%s=", n ? "&" : "", name);
	for (const unsigned char *p = (const unsigned char *)value; *p; p++) {
		n = strlen(s->applied);
		if (n + 4 >= sizeof(s->applied))
			break;
		/* what a URL's query may hold as it is; the rest percent-encoded */
		if (strchr("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-._~:/,", *p))
			s->applied[n] = (char)*p, s->applied[n + 1] = '\0';
		else
			snprintf(s->applied + n, sizeof(s->applied) - n, "%%%02X", *p);
	}
}

/* Splits a comma-separated list in place into list[] (at most
 * CL_FHIR_QUERY_LIST_MAX), each checked by ok. */
static int split(struct cl_fhir_search *s, const char *name, const char *value, char *buf, size_t cap,
		 const char **list, int *n, int (*ok)(const char *))
{
	char *save = NULL;
	int got = 0;

	/* the list is taken whole or not at all; given twice, it is refused
	 * (two lists would mean both must hold, which is not served) */
	if (*n) {
		snprintf(s->why, sizeof(s->why), "%s: given twice (one list, comma-separated)", name);
		return CL_EINVAL;
	}
	if (strlen(value) >= cap) {
		snprintf(s->why, sizeof(s->why), "%s: the list is too long", name);
		return CL_EINVAL;
	}
	snprintf(buf, cap, "%s", value);
	for (char *t = strtok_r(buf, ",", &save); t; t = strtok_r(NULL, ",", &save)) {
		if (got >= CL_FHIR_QUERY_LIST_MAX || !ok(t)) {
			snprintf(s->why, sizeof(s->why), "%s: '%.64s' is not %s", name, t,
				 got >= CL_FHIR_QUERY_LIST_MAX ? "within the 100 a list may hold"
							       : "valid here");
			return CL_EINVAL;
		}
		list[got++] = t;
	}
	if (got == 0) {
		snprintf(s->why, sizeof(s->why), "%s: an empty list", name);
		return CL_EINVAL;
	}
	*n = got;
	return CL_OK;
}

int cl_fhir_json_format(const char *f)
{
	return strcasecmp(f, "json") == 0 || strcasecmp(f, "application/json") == 0 ||
	       strcasecmp(f, "application/fhir+json") == 0 ||
	       strcasecmp(f, "application/json+fhir") == 0;
}

int cl_fhir_id_ok(const char *id)
{
	size_t n = strspn(id, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-.");

	return n > 0 && n < CL_FHIR_ID_MAX && id[n] == '\0';
}

int cl_fhir_type_ok(const char *t)
{
	size_t n = strspn(t, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz");

	return t[0] >= 'A' && t[0] <= 'Z' && n == strlen(t) && n < CL_FHIR_TYPE_MAX;
}

/* A reference to a Patient: "Patient/x", "x", or a URL ending in
 * "/Patient/x"; its id into out. */
static int patient_ref(const char *ref, char *out, size_t cap)
{
	const char *slash = strrchr(ref, '/');
	const char *id = slash ? slash + 1 : ref;

	/* a URL's text: printable, no spaces */
	for (const char *p = ref; *p; p++)
		if (*p <= ' ' || *p > '~')
			return 0;
	if (slash && (slash - ref < 7 || memcmp(slash - 7, "Patient", 7) != 0 ||
		      (slash - ref > 7 && slash[-8] != '/')))
		return 0;
	if (!cl_fhir_id_ok(id))
		return 0;
	snprintf(out, cap, "%s", id);
	return 1;
}

int cl_fhir_search_param(void *arg, const char *name, const char *value)
{
	struct cl_fhir_search *s = arg;
	uint64_t n;

	if (!value)
		value = "";
	if (strcmp(name, "_format") == 0) {
		if (cl_fhir_json_format(value))
			return 0;
		snprintf(s->why, sizeof(s->why), "_format=%.60s: carelake serves FHIR as JSON only",
			 value);
		return CL_ENOTSUP;
	}
	if (strcmp(name, "_count") == 0) {
		if (cl_parse_u64(value, 1, CL_FHIR_PAGE_MAX, &n) != CL_OK) {
			snprintf(s->why, sizeof(s->why), "_count must be 1 to %d", CL_FHIR_PAGE_MAX);
			return CL_EINVAL;
		}
		s->q.count = (int64_t)n;
		applied(s, name, value);
		return 0;
	}
	if (strcmp(name, "_after") == 0) {
		const char *slash = strchr(value, '/');
		char after[sizeof(s->after)];

		/* checked whole before it replaces a page start given before */
		if (!slash || (size_t)(slash - value) >= CL_FHIR_TYPE_MAX || !cl_fhir_id_ok(slash + 1)) {
			snprintf(s->why, sizeof(s->why), "_after: not a page of this search");
			return CL_EINVAL;
		}
		snprintf(after, sizeof(after), "%s", value);
		after[slash - value] = '\0';
		if (!cl_fhir_type_ok(after)) {
			snprintf(s->why, sizeof(s->why), "_after: not a page of this search");
			return CL_EINVAL;
		}
		memcpy(s->after, after, sizeof(after));
		s->q.after_type = s->after;
		s->q.after_id = s->after + (slash - value) + 1;
		return 0;
	}
	if (!s->everything && strcmp(name, "_id") == 0) {
		if (split(s, name, value, s->id_list, sizeof(s->id_list), s->ids, &s->q.nids, cl_fhir_id_ok))
			return CL_EINVAL;
		s->q.ids = s->ids;
		applied(s, name, value);
		return 0;
	}
	if (!s->everything && (strcmp(name, "patient") == 0 || strcmp(name, "subject") == 0)) {
		if (s->q.patient || !patient_ref(value, s->patient, sizeof(s->patient))) {
			snprintf(s->why, sizeof(s->why), "%s: '%.80s' is not one Patient reference "
				 "(Patient/ID)", name, value);
			return CL_EINVAL;
		}
		s->q.patient = s->patient;
		{
			char ref[CL_FHIR_ID_MAX + 8];

			/* the link names it as FHIR does, whatever form it came in */
			snprintf(ref, sizeof(ref), "Patient/%s", s->patient);
			applied(s, name, ref);
		}
		return 0;
	}
	if (!s->everything && strcmp(name, "_summary") == 0 && strcmp(value, "count") == 0) {
		s->summary_count = 1;
		applied(s, name, value);
		return 0;
	}
	if (!s->everything && strcmp(name, "_total") == 0 &&
	    (strcmp(value, "none") == 0 || strcmp(value, "accurate") == 0 ||
	     strcmp(value, "estimate") == 0)) {
		s->no_total = strcmp(value, "none") == 0;
		applied(s, name, value);
		return 0;
	}
	if (s->everything && strcmp(name, "_type") == 0) {
		if (split(s, name, value, s->type_list, sizeof(s->type_list), s->types, &s->q.ntypes,
			  cl_fhir_type_ok))
			return CL_EINVAL;
		s->q.types = s->types;
		applied(s, name, value);
		return 0;
	}
	if (s->everything && strcmp(name, "_since") == 0) {
		int64_t us;

		if (strspn(value, "0123456789-T:.Z+") != strlen(value) ||
		    cl_time_parse_rfc3339(value, strlen(value), &us) != CL_OK) {
			snprintf(s->why, sizeof(s->why), "_since: '%.60s' is not an instant "
				 "(2026-12-05T10:00:00Z)", value);
			return CL_EINVAL;
		}
		s->q.since_us = us;
		applied(s, name, value);
		return 0;
	}
	if (s->lenient)
		return 0;
	snprintf(s->why, sizeof(s->why), "%.60s is not a search parameter carelake supports here "
		 "(%s; Prefer: handling=lenient ignores it)", name,
		 s->everything ? "_since, _type, _count"
			       : "_id, patient, subject, _count, _summary=count, _total");
	return CL_EINVAL;
}

void cl_fhir_search_init(struct cl_fhir_search *s, int everything, int lenient)
{
	memset(s, 0, sizeof(*s));
	s->everything = everything;
	s->lenient = lenient;
	s->q.count = CL_FHIR_PAGE_DEFAULT;
}

void cl_fhir_search_finish(struct cl_fhir_search *s)
{
	char n[24];

	if (strstr(s->applied, "_count="))
		return;
	snprintf(n, sizeof(n), "%lld", (long long)s->q.count);
	applied(s, "_count", n);
}
