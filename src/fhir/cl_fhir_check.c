/*
 * FHIR R4 element types. See cl_fhir_check.h.
 *
 * A resource is walked member by member: each key is looked up in the
 * table of its object's type (by length, then bytes); a declared element
 * is checked for its JSON type, its cardinality (0..* is an array) and,
 * for the primitives that have one, its form; a complex element recurses
 * into its own table. The path of the element being checked is kept in a
 * buffer, so a refusal names it ("Patient.name[0].given[1]").
 */
#include "cl_fhir_check.h"
#include "core/cl_error.h"
#include "core/cl_time.h"

#include <stdio.h>
#include <string.h>

enum ftype {
	FT_STRING, FT_CODE, FT_ID, FT_URI, FT_BOOLEAN, FT_DECIMAL, FT_INTEGER,
	FT_DATE, FT_DATETIME, FT_INSTANT,
	FT_COMPLEX,   /* an object; its elements in `members` (NULL: not checked here) */
	FT_ANY,       /* any value: checked elsewhere */
};

struct elem {
	const char *name;
	uint8_t len;                   /* strlen(name) */
	uint8_t type;                  /* enum ftype */
	uint8_t many;                  /* cardinality 0..*: a JSON array */
	const char *type_name;         /* a complex type's name, for messages */
	const struct elem *members;    /* a complex type's elements, NULL-name ended */
};

#define P(n, t) { n, sizeof(n) - 1, t, 0, NULL, NULL }
#define PN(n, t) { n, sizeof(n) - 1, t, 1, NULL, NULL }
#define C(n, tn, m) { n, sizeof(n) - 1, FT_COMPLEX, 0, tn, m }
#define CN(n, tn, m) { n, sizeof(n) - 1, FT_COMPLEX, 1, tn, m }
#define END { NULL, 0, 0, 0, NULL, NULL }

/* ---- datatypes, with all their elements (extensions aside) ---- */

static const struct elem coding_t[] = {
	P("system", FT_URI), P("version", FT_STRING), P("code", FT_CODE),
	P("display", FT_STRING), P("userSelected", FT_BOOLEAN), END,
};
static const struct elem concept_t[] = {
	CN("coding", "Coding", coding_t), P("text", FT_STRING), END,
};
static const struct elem quantity_t[] = {
	P("value", FT_DECIMAL), P("comparator", FT_CODE), P("unit", FT_STRING),
	P("system", FT_URI), P("code", FT_CODE), END,
};
static const struct elem period_t[] = {
	P("start", FT_DATETIME), P("end", FT_DATETIME), END,
};
/* Reference and Identifier name each other: one is declared ahead */
static const struct elem reference_t[5];
static const struct elem identifier_t[] = {
	P("use", FT_CODE), C("type", "CodeableConcept", concept_t), P("system", FT_URI),
	P("value", FT_STRING), C("period", "Period", period_t),
	C("assigner", "Reference", reference_t), END,
};
static const struct elem reference_t[5] = {
	P("reference", FT_STRING), P("type", FT_URI),
	C("identifier", "Identifier", identifier_t), P("display", FT_STRING), END,
};
static const struct elem human_name_t[] = {
	P("use", FT_CODE), P("text", FT_STRING), P("family", FT_STRING),
	PN("given", FT_STRING), PN("prefix", FT_STRING), PN("suffix", FT_STRING),
	C("period", "Period", period_t), END,
};
static const struct elem address_t[] = {
	P("use", FT_CODE), P("type", FT_CODE), P("text", FT_STRING), PN("line", FT_STRING),
	P("city", FT_STRING), P("district", FT_STRING), P("state", FT_STRING),
	P("postalCode", FT_STRING), P("country", FT_STRING), C("period", "Period", period_t),
	END,
};

#define CONCEPT(n) C(n, "CodeableConcept", concept_t)
#define CONCEPTS(n) CN(n, "CodeableConcept", concept_t)
#define REFERENCE(n) C(n, "Reference", reference_t)

/* ---- resources: the elements carelake reads ---- */

static const struct elem component_t[] = {
	CONCEPT("code"), C("valueQuantity", "Quantity", quantity_t),
	CONCEPT("valueCodeableConcept"), P("valueString", FT_STRING),
	P("valueBoolean", FT_BOOLEAN), P("valueInteger", FT_INTEGER),
	CONCEPT("dataAbsentReason"), END,
};
static const struct elem observation_t[] = {
	P("id", FT_ID), P("status", FT_CODE), CONCEPTS("category"), CONCEPT("code"),
	REFERENCE("subject"), REFERENCE("encounter"), P("effectiveDateTime", FT_DATETIME),
	C("effectivePeriod", "Period", period_t), P("effectiveInstant", FT_INSTANT),
	P("issued", FT_INSTANT), REFERENCE("device"), C("valueQuantity", "Quantity", quantity_t),
	CONCEPT("valueCodeableConcept"), P("valueString", FT_STRING),
	P("valueBoolean", FT_BOOLEAN), P("valueInteger", FT_INTEGER),
	CONCEPT("dataAbsentReason"), CN("component", NULL, component_t), END,
};
static const struct elem patient_t[] = {
	P("id", FT_ID), CN("name", "HumanName", human_name_t), P("gender", FT_CODE),
	P("birthDate", FT_DATE), P("deceasedBoolean", FT_BOOLEAN),
	P("deceasedDateTime", FT_DATETIME), CONCEPT("maritalStatus"),
	CN("address", "Address", address_t), REFERENCE("managingOrganization"), END,
};
static const struct elem qualification_t[] = {
	CONCEPT("code"), C("period", "Period", period_t), END,
};
static const struct elem practitioner_t[] = {
	P("id", FT_ID), CN("name", "HumanName", human_name_t), P("gender", FT_CODE),
	CN("address", "Address", address_t), CN("qualification", NULL, qualification_t), END,
};
static const struct elem organization_t[] = {
	P("id", FT_ID), P("name", FT_STRING), CN("address", "Address", address_t), END,
};
static const struct elem participant_t[] = {
	CONCEPTS("type"), C("period", "Period", period_t), REFERENCE("individual"), END,
};
static const struct elem location_t[] = {
	REFERENCE("location"), P("status", FT_CODE), C("period", "Period", period_t), END,
};
static const struct elem encounter_t[] = {
	P("id", FT_ID), P("status", FT_CODE), C("class", "Coding", coding_t), CONCEPTS("type"),
	REFERENCE("subject"), CN("participant", NULL, participant_t),
	C("period", "Period", period_t), CONCEPTS("reasonCode"),
	CN("location", NULL, location_t), REFERENCE("serviceProvider"), END,
};
static const struct elem condition_t[] = {
	P("id", FT_ID), CONCEPT("clinicalStatus"), CONCEPT("code"), REFERENCE("subject"),
	REFERENCE("encounter"), P("onsetDateTime", FT_DATETIME),
	P("abatementDateTime", FT_DATETIME), END,
};
static const struct elem medication_request_t[] = {
	P("id", FT_ID), P("status", FT_CODE), P("intent", FT_CODE),
	CONCEPT("medicationCodeableConcept"), REFERENCE("medicationReference"),
	REFERENCE("subject"), REFERENCE("encounter"), P("authoredOn", FT_DATETIME), END,
};
static const struct elem procedure_t[] = {
	P("id", FT_ID), P("status", FT_CODE), CONCEPT("code"), REFERENCE("subject"),
	REFERENCE("encounter"), P("performedDateTime", FT_DATETIME),
	C("performedPeriod", "Period", period_t), END,
};
static const struct elem appointment_participant_t[] = {
	CONCEPTS("type"), REFERENCE("actor"), P("required", FT_CODE), P("status", FT_CODE),
	C("period", "Period", period_t), END,
};
static const struct elem appointment_t[] = {
	P("id", FT_ID), P("status", FT_CODE), CONCEPTS("serviceType"), P("start", FT_INSTANT),
	P("end", FT_INSTANT), P("created", FT_DATETIME),
	CN("participant", NULL, appointment_participant_t), END,
};
/* a Bundle's entries are checked one by one (cl_fhir_check_entry), so
 * that a bad one is refused alone */
static const struct elem bundle_t[] = {
	P("id", FT_ID), P("type", FT_CODE), PN("entry", FT_ANY), END,
};
static const struct elem request_t[] = {
	P("method", FT_CODE), P("url", FT_URI), END,
};
static const struct elem entry_t[] = {
	P("fullUrl", FT_URI), C("resource", NULL, NULL), C("request", NULL, request_t), END,
};
static const struct elem other_t[] = {
	P("id", FT_ID), END,
};

static const struct {
	const char *type;
	const struct elem *members;
} resources[] = {
	{ "Observation", observation_t }, { "Patient", patient_t },
	{ "Practitioner", practitioner_t }, { "Organization", organization_t },
	{ "Encounter", encounter_t }, { "Condition", condition_t },
	{ "MedicationRequest", medication_request_t }, { "Procedure", procedure_t },
	{ "Appointment", appointment_t }, { "Bundle", bundle_t },
};

int cl_fhir_datetime(const char *s, size_t len, int64_t *us)
{
	char full[40];

	if (len == 4 || len == 7 || len == 10) {
		/* a partial date: complete it to midnight UTC */
		snprintf(full, sizeof(full), "%.*s%s", (int)len, s,
			 len == 4 ? "-01-01T00:00:00Z" : len == 7 ? "-01T00:00:00Z" : "T00:00:00Z");
		return cl_time_parse_rfc3339(full, strlen(full), us);
	}
	return cl_time_parse_rfc3339(s, len, us);
}

/* ---- the walk ---- */

struct walk {
	const struct cl_json_doc *d;
	char path[256];     /* "Observation.component[1].code" */
	size_t plen;
	const char **issue;
};

/* Appends ".name" or "[k]" to the path; returns the length to restore. */
static size_t push(struct walk *w, const char *name, unsigned k)
{
	size_t old = w->plen, room = sizeof(w->path) - w->plen;
	int n = name ? snprintf(w->path + w->plen, room, ".%s", name)
		     : snprintf(w->path + w->plen, room, "[%u]", k);

	if (n > 0)
		w->plen += (size_t)n < room ? (size_t)n : room - 1;
	return old;
}

static void pop(struct walk *w, size_t old)
{
	w->plen = old;
	w->path[old] = '\0';
}

/* What a JSON value is, for messages. */
static const char *json_kind(int type)
{
	return type == CL_JSON_TRUE || type == CL_JSON_FALSE ? "a boolean" : cl_json_type_name(type);
}

static int wrong_type(struct walk *w, uint32_t v, const char *want, const char *type_name)
{
	*w->issue = CL_FHIR_ISSUE_STRUCTURE;
	if (type_name)
		return cl_error_set(CL_EINVAL, "%s must be %s (%s %s), not %s", w->path, want,
				    strchr("AEIOU", type_name[0]) ? "an" : "a", type_name,
				    json_kind(w->d->toks[v].type));
	return cl_error_set(CL_EINVAL, "%s must be %s, not %s", w->path, want,
			    json_kind(w->d->toks[v].type));
}

static int bad_form(struct walk *w, const char *what)
{
	*w->issue = CL_FHIR_ISSUE_INVALID;
	return cl_error_set(CL_EINVAL, "%s is not %s", w->path, what);
}

static int is_space(char c)
{
	return c == ' ' || c == '\t' || c == '\r' || c == '\n';
}

/* The form of a primitive held in a JSON string. */
static int check_text(struct walk *w, uint32_t v, enum ftype t)
{
	char buf[72];
	long n;
	int64_t us;

	switch (t) {
	case FT_ID:
		n = cl_json_str(w->d, v, buf, sizeof(buf));
		if (n < 1 || n > 64 ||
		    strspn(buf, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-.") !=
			    (size_t)n)
			return bad_form(w, "a FHIR id (1-64 of A-Z a-z 0-9 - .)");
		return CL_OK;
	case FT_CODE: {
		/* [^\s]+(\s[^\s]+)*: no leading, trailing or doubled whitespace */
		const struct cl_json_tok *tk = &w->d->toks[v];
		const char *s = w->d->src + tk->start;

		if (tk->escaped) {
			n = cl_json_str(w->d, v, buf, sizeof(buf));
			if (n < 0)
				return CL_OK; /* a long code: its form is not checked */
			s = buf;
		} else {
			n = tk->len;
		}
		if (n == 0 || is_space(s[0]) || is_space(s[n - 1]))
			return bad_form(w, "a FHIR code (text without leading or trailing whitespace)");
		for (long k = 1; k < n; k++)
			if (is_space(s[k]) && is_space(s[k - 1]))
				return bad_form(w, "a FHIR code (single spaces between words)");
		return CL_OK;
	}
	case FT_URI: {
		/* \S*; raw, a space is the only whitespace a JSON string holds */
		const struct cl_json_tok *tk = &w->d->toks[v];
		char big[1024];

		if (!tk->escaped)
			n = memchr(w->d->src + tk->start, ' ', tk->len) ? 1 : 0;
		else if ((n = cl_json_str(w->d, v, big, sizeof(big))) >= 0)
			n = strcspn(big, " \t\r\n") != (size_t)n;
		else
			n = 0; /* a long escaped uri: its form is not checked */
		return n ? bad_form(w, "a FHIR uri (it has whitespace)") : CL_OK;
	}
	case FT_DATE:
	case FT_DATETIME:
	case FT_INSTANT:
		n = cl_json_str(w->d, v, buf, sizeof(buf));
		if (t == FT_DATE) {
			if (n < 0 || !(n == 4 || n == 7 || n == 10) ||
			    cl_fhir_datetime(buf, (size_t)n, &us) != CL_OK)
				return bad_form(w, "a FHIR date (YYYY, YYYY-MM or YYYY-MM-DD)");
		} else if (t == FT_DATETIME) {
			if (n < 0 || cl_fhir_datetime(buf, (size_t)n, &us) != CL_OK)
				return bad_form(w, "a FHIR dateTime (YYYY, YYYY-MM, YYYY-MM-DD or "
						   "YYYY-MM-DDThh:mm:ss with Z or +hh:mm)");
		} else if (n < 20 || cl_time_parse_rfc3339(buf, (size_t)n, &us) != CL_OK) {
			return bad_form(w, "a FHIR instant (YYYY-MM-DDThh:mm:ss with Z or +hh:mm)");
		}
		return CL_OK;
	default:
		return CL_OK;
	}
}

static int check_members(struct walk *w, uint32_t obj, const struct elem *members);

/* One value of element e (an element of an array, for 0..*). */
static int check_one(struct walk *w, uint32_t v, const struct elem *e)
{
	const struct cl_json_tok *t = &w->d->toks[v];
	int64_t i;

	switch ((enum ftype)e->type) {
	case FT_ANY:
		return CL_OK;
	case FT_COMPLEX:
		if (t->type != CL_JSON_OBJECT)
			return wrong_type(w, v, "an object", e->type_name);
		return e->members ? check_members(w, v, e->members) : CL_OK;
	case FT_BOOLEAN:
		if (t->type != CL_JSON_TRUE && t->type != CL_JSON_FALSE)
			return wrong_type(w, v, "a boolean", NULL);
		return CL_OK;
	case FT_DECIMAL:
		if (t->type != CL_JSON_NUMBER)
			return wrong_type(w, v, "a number", NULL);
		return CL_OK;
	case FT_INTEGER:
		if (t->type != CL_JSON_NUMBER)
			return wrong_type(w, v, "a number", NULL);
		if (!t->is_int || cl_json_int64(w->d, v, &i) != CL_OK || i < INT32_MIN ||
		    i > INT32_MAX)
			return bad_form(w, "a FHIR integer (a whole number of 32 bits)");
		return CL_OK;
	case FT_DATE:
	case FT_DATETIME:
	case FT_INSTANT:
		if (t->type != CL_JSON_STRING)
			return wrong_type(w, v, "a string",
					  e->type == FT_DATE ? "FHIR date"
					  : e->type == FT_DATETIME ? "FHIR dateTime" : "FHIR instant");
		return check_text(w, v, (enum ftype)e->type);
	default:
		if (t->type != CL_JSON_STRING)
			return wrong_type(w, v, "a string", NULL);
		return check_text(w, v, (enum ftype)e->type);
	}
}

/* The declared element a key names, or NULL. */
static const struct elem *member_of(const struct cl_json_doc *d, uint32_t key,
				    const struct elem *members)
{
	char name[48];
	long n = cl_json_str(d, key, name, sizeof(name));

	if (n < 0)
		return NULL; /* longer than any element name */
	for (const struct elem *e = members; e->name; e++)
		if (e->len == n && memcmp(e->name, name, (size_t)n) == 0)
			return e;
	return NULL;
}

static int check_members(struct walk *w, uint32_t obj, const struct elem *members)
{
	const struct cl_json_doc *d = w->d;
	uint32_t k = obj + 1;

	for (uint32_t m = 0; m < d->toks[obj].size; m++, k = d->toks[k + 1].next) {
		const struct elem *e = member_of(d, k, members);
		uint32_t v = k + 1;
		size_t old;
		int rc = CL_OK;

		if (!e)
			continue;
		old = push(w, e->name, 0);
		if (!e->many) {
			rc = check_one(w, v, e);
		} else if (d->toks[v].type != CL_JSON_ARRAY) {
			rc = wrong_type(w, v, "an array", NULL);
		} else {
			uint32_t x = v + 1;

			for (uint32_t j = 0; rc == CL_OK && j < d->toks[v].size; j++, x = d->toks[x].next) {
				size_t at = push(w, NULL, j);
				char under[50];

				/* a primitive's null keeps the place of an extension
				 * in the "_name" array beside it */
				snprintf(under, sizeof(under), "_%s", e->name);
				if (!(d->toks[x].type == CL_JSON_NULL && e->type != FT_COMPLEX &&
				      cl_json_get(d, obj, under) >= 0))
					rc = check_one(w, x, e);
				if (rc == CL_OK)
					pop(w, at);
			}
		}
		if (rc != CL_OK)
			return rc;
		pop(w, old);
	}
	return CL_OK;
}

/* Refuses a repeated key in [from, to), named below root. */
static int repeated(struct walk *w, uint32_t root, uint32_t from, uint32_t to)
{
	int k = cl_json_repeated_key(w->d, from, to);
	char where[160];

	if (k < 0)
		return CL_OK;
	cl_json_path(w->d, root, (uint32_t)k, where, sizeof(where));
	*w->issue = CL_FHIR_ISSUE_STRUCTURE;
	return cl_error_set(CL_EINVAL, "%s.%s appears twice (a repeated key)", w->path, where);
}

int cl_fhir_check(const struct cl_json_doc *d, uint32_t res, const char **issue)
{
	struct walk w = { .d = d, .issue = issue };
	const struct elem *members = other_t;
	int rt, rc;

	*issue = CL_FHIR_ISSUE_STRUCTURE;
	if (d->toks[res].type != CL_JSON_OBJECT)
		return cl_error_set(CL_EINVAL, "a resource must be a JSON object, not %s",
				    json_kind(d->toks[res].type));
	rt = cl_json_get(d, res, "resourceType");
	if (rt >= 0 && d->toks[rt].type != CL_JSON_STRING)
		return cl_error_set(CL_EINVAL, "resourceType must be a string, not %s",
				    json_kind(d->toks[rt].type));
	if (rt < 0 || cl_json_str(d, (uint32_t)rt, w.path, 48) < 0)
		snprintf(w.path, sizeof(w.path), "Resource");
	for (size_t i = 0; i < sizeof(resources) / sizeof(resources[0]); i++)
		if (strcmp(w.path, resources[i].type) == 0)
			members = resources[i].members;
	w.plen = strlen(w.path);
	if (members == bundle_t) {
		/* the entries' repeats are theirs */
		int e = cl_json_get(d, res, "entry");
		uint32_t ee = e >= 0 ? d->toks[e].next : res + 1;

		rc = repeated(&w, res, res, e >= 0 ? (uint32_t)e : d->toks[res].next);
		if (rc == CL_OK && e >= 0)
			rc = repeated(&w, res, ee, d->toks[res].next);
	} else {
		rc = repeated(&w, res, res, d->toks[res].next);
	}
	return rc != CL_OK ? rc : check_members(&w, res, members);
}

int cl_fhir_check_entry(const struct cl_json_doc *d, uint32_t entry, uint32_t k,
			const char **issue)
{
	struct walk w = { .d = d, .issue = issue };
	int res, rc;

	*issue = CL_FHIR_ISSUE_STRUCTURE;
	w.plen = (size_t)snprintf(w.path, sizeof(w.path), "Bundle.entry[%u]", k);
	if (d->toks[entry].type != CL_JSON_OBJECT)
		return wrong_type(&w, entry, "an object", NULL);
	res = cl_json_get(d, entry, "resource");
	if (res >= 0) {
		/* the resource's repeats are its own */
		rc = repeated(&w, entry, entry, (uint32_t)res);
		if (rc == CL_OK)
			rc = repeated(&w, entry, d->toks[res].next, d->toks[entry].next);
	} else {
		rc = repeated(&w, entry, entry, d->toks[entry].next);
	}
	return rc != CL_OK ? rc : check_members(&w, entry, entry_t);
}
