/*
 * FHIR resources de-identified by Safe Harbor: one walk over the
 * resource's JSON that applies a rule by element name and by the shape of
 * the value (a Reference, an Address, an Attachment, a date). See
 * cl_deid_fhir.h; docs/deidentification.md shows the same rules.
 *
 * The element names are FHIR R4's, of every resource type: a rule names
 * an element (or the suffix of a choice type, valueAddress) wherever it
 * is, so a type not listed anywhere is still de-identified.
 */
#include "cl_deid_fhir.h"
#include "core/cl_error.h"

#include <ctype.h>
#include <stdio.h>
#include <string.h>

/* Resource types whose ids the tables hold, and their id spaces
 * (cl_deid_rules.c): a reference to one is the table's pseudonym. */
static const char *const spaces[][2] = {
	{ "Patient", "patient" },
	{ "Practitioner", "practitioner" },
	{ "Organization", "organization" },
	{ "Encounter", "encounter" },
	{ "Observation", "observation-resource" },
	{ "Condition", "condition" },
	{ "MedicationRequest", "medication_request" },
	{ "Procedure", "procedure" },
};

/* Elements that go wherever they are: identifiers of people (A, D-M, Q,
 * R), free text, and places finer than a state. */
static const char *const dropped[] = {
	"identifier", "telecom", "photo", "contact", "note", "comment", "comments",
	"patientInstruction", "valueString", "valueMarkdown", "udiCarrier", "serialNumber",
	"lotNumber", "distinctIdentifier", "alias", "position", "presentedForm",
};

/* Suffixes of choice-type elements of data types that identify
 * (valueHumanName, valueIdentifier, valueContactPoint). */
static const char *const dropped_suffix[] = { "HumanName", "Identifier", "ContactPoint" };

/* What an Address keeps. */
static const char *const address_kept[] = { "use", "type", "state", "country" };

#define MASKED_URL "http://hl7.org/fhir/StructureDefinition/data-absent-reason"

struct walk {
	const struct cl_deid *d;
	cl_deid_fhir_resolve resolve;
	void *arg;
	int64_t shift;         /* days the dates move */
	char death[48];        /* a Patient's deceasedDateTime ("": none): the age cap */
	char whose_space[80];  /* the person of the dates: space and id */
	char whose_id[CL_DEID_FHIR_ID_MAX];
};

void cl_deid_fhir_space(const char *type, char *out, size_t cap)
{
	for (size_t i = 0; i < sizeof(spaces) / sizeof(spaces[0]); i++)
		if (strcmp(type, spaces[i][0]) == 0) {
			snprintf(out, cap, "%s", spaces[i][1]);
			return;
		}
	snprintf(out, cap, "fhir:%s", type);
}

static int in_list(const char *key, const char *const *list, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (strcmp(key, list[i]) == 0)
			return 1;
	return 0;
}

static int ends_with(const char *s, const char *suffix)
{
	size_t n = strlen(s), m = strlen(suffix);

	return n > m && strcmp(s + n - m, suffix) == 0;
}

/* 1 for a FHIR resource type's shape ("Patient"), 0 else. */
static int type_ok(const char *s, size_t n)
{
	if (n == 0 || n >= CL_DEID_FHIR_TYPE_MAX || !isupper((unsigned char)s[0]))
		return 0;
	for (size_t i = 0; i < n; i++)
		if (!isalpha((unsigned char)s[i]))
			return 0;
	return 1;
}

/* 1 for a FHIR id's shape: 1..64 of [A-Za-z0-9.-]. */
static int id_ok(const char *s, size_t n)
{
	if (n == 0 || n >= CL_DEID_FHIR_ID_MAX)
		return 0;
	for (size_t i = 0; i < n; i++)
		if (!isalnum((unsigned char)s[i]) && s[i] != '-' && s[i] != '.')
			return 0;
	return 1;
}

/* 1 if s has the form of a FHIR date, dateTime or instant of month
 * precision or finer (YYYY-MM...): a date to move. A year alone is
 * allowed as it is. */
static int date_shaped(const char *s)
{
	size_t n = strlen(s);

	if (n < 7 || n > 40)
		return 0;
	for (int i = 0; i < 4; i++)
		if (!isdigit((unsigned char)s[i]))
			return 0;
	if (s[4] != '-' || !isdigit((unsigned char)s[5]) || !isdigit((unsigned char)s[6]))
		return 0;
	if (n == 7)
		return 1;
	if (s[7] != '-' || n < 10 || !isdigit((unsigned char)s[8]) || !isdigit((unsigned char)s[9]))
		return 0;
	return n == 10 || s[10] == 'T';
}

/* "Type/id" of a reference into type and id: a relative reference, an
 * absolute URL ending in one, with any /_history/v cut; else the
 * caller's lookup (urn:uuid:). 0 when known. */
static int ref_target(struct walk *w, const char *ref, char type[CL_DEID_FHIR_TYPE_MAX],
		      char id[CL_DEID_FHIR_ID_MAX])
{
	char buf[512];
	const char *slash, *start, *h;

	if (strncmp(ref, "urn:", 4) == 0 || !strchr(ref, '/'))
		return w->resolve ? w->resolve(w->arg, ref, type, id) : -1;
	if (strchr(ref, '?') || strlen(ref) >= sizeof(buf))
		return -1; /* a search (conditional reference) names no one resource */
	snprintf(buf, sizeof(buf), "%s", ref);
	h = strstr(buf, "/_history/");
	if (h)
		buf[h - buf] = '\0';
	slash = strrchr(buf, '/');
	if (!slash || !id_ok(slash + 1, strlen(slash + 1)))
		return -1;
	for (start = slash; start > buf && start[-1] != '/'; start--)
		;
	if (!type_ok(start, (size_t)(slash - start)))
		return -1;
	snprintf(type, CL_DEID_FHIR_TYPE_MAX, "%.*s", (int)(slash - start), start);
	snprintf(id, CL_DEID_FHIR_ID_MAX, "%s", slash + 1);
	return 0;
}

/* A reference's value de-identified: "Type/<pseudonym>"; one whose target
 * is not known, a urn:uuid of the pseudonym of its text. */
static json_t *pseudonymous_ref(struct walk *w, const char *ref)
{
	char type[CL_DEID_FHIR_TYPE_MAX], id[CL_DEID_FHIR_ID_MAX], space[80], p[40], out[160];

	if (ref[0] == '#')
		return json_string(ref); /* a contained resource: local */
	if (ref_target(w, ref, type, id) == 0) {
		cl_deid_fhir_space(type, space, sizeof(space));
		cl_deid_pseudonym(w->d, space, id, strlen(id), p);
		snprintf(out, sizeof(out), "%s/%s", type, p);
	} else {
		cl_deid_pseudonym(w->d, "fhir:reference", ref, strlen(ref), p);
		/* 32 hex digits as a UUID's 8-4-4-4-12 */
		snprintf(out, sizeof(out), "urn:uuid:%.8s-%.4s-%.4s-%.4s-%.12s", p, p + 8, p + 12,
			 p + 16, p + 20);
	}
	return json_string(out);
}

/* A date string moved by the walk's days; NULL when it is no date (then
 * it goes: nothing of it may be shown). */
static json_t *shifted(struct walk *w, const char *s)
{
	char out[48];

	if (cl_deid_date(w->d, s, strlen(s), w->shift, out, sizeof(out)) != 0)
		return NULL;
	return json_string(out);
}

/* A birth date: the year of the table's de-identified one. */
static json_t *birth_year(struct walk *w, const char *s)
{
	char out[48];

	if (cl_deid_birth_date(w->d, s, strlen(s), w->death, strlen(w->death), w->shift, out,
			       sizeof(out)) != 0)
		return NULL;
	out[4] = '\0';
	return json_string(out);
}

/* An Age (Quantity) of 90 years or more as ">= 90 a" (Safe Harbor's one
 * category of ages over 89). */
static void age_capped(json_t *age)
{
	json_t *v = json_object_get(age, "value");
	const char *code = json_string_value(json_object_get(age, "code"));
	const char *unit = json_string_value(json_object_get(age, "unit"));
	double years, per = 1;

	if (!json_is_number(v))
		return;
	if (!code)
		code = unit ? unit : "a";
	if (!strcmp(code, "mo") || !strncmp(code, "month", 5))
		per = 12;
	else if (!strcmp(code, "wk") || !strncmp(code, "week", 4))
		per = 52.1775;
	else if (!strcmp(code, "d") || !strncmp(code, "day", 3))
		per = 365.2425;
	years = json_number_value(v) / per;
	if (years < CL_DEID_AGE_CAP)
		return;
	json_object_set_new(age, "value", json_integer(CL_DEID_AGE_CAP));
	json_object_set_new(age, "comparator", json_string(">="));
	json_object_set_new(age, "unit", json_string("a"));
	json_object_set_new(age, "system", json_string("http://unitsofmeasure.org"));
	json_object_set_new(age, "code", json_string("a"));
}

/* An element emptied by the rules: the data-absent-reason "masked". */
static void mark_masked(json_t *obj)
{
	json_object_set_new(obj, "extension",
			    json_pack("[{s:s,s:s}]", "url", MASKED_URL, "valueCode", "masked"));
}

static void walk_value(struct walk *w, json_t *parent, const char *key, json_t *v);

/* An Address: its kept members, and the postal code's listed area. */
static void address(struct walk *w, json_t *a)
{
	const char *key;
	json_t *v;
	void *it;

	if (!json_is_object(a))
		return;
	json_object_foreach_safe(a, it, key, v) {
		if (strcmp(key, "postalCode") == 0 && json_is_string(v)) {
			char zip[4];

			cl_deid_zip(w->d, json_string_value(v), json_string_length(v), zip);
			json_object_set_new(a, key, json_string(zip));
		} else if (strcmp(key, "period") == 0) {
			walk_value(w, a, key, v);
		} else if (!in_list(key, address_kept, sizeof(address_kept) / sizeof(address_kept[0]))) {
			json_object_del(a, key);
		}
	}
	if (json_object_size(a) == 0)
		mark_masked(a);
}

/* 1 if an object has the shape of a Reference (a reference, or a display
 * with no code beside it: not a Coding). */
static int reference_shaped(json_t *o)
{
	if (json_object_get(o, "reference"))
		return 1;
	return json_object_get(o, "display") && !json_object_get(o, "code") &&
	       !json_object_get(o, "system");
}

/* An object's members by their rules. */
static void walk_object(struct walk *w, json_t *o, int root)
{
	const char *key;
	json_t *v;
	void *it;
	int had = json_object_size(o) > 0;
	int ref = reference_shaped(o);
	int attachment = json_object_get(o, "contentType") != NULL;

	json_object_foreach_safe(o, it, key, v) {
		int drop = in_list(key, dropped, sizeof(dropped) / sizeof(dropped[0]));

		for (size_t i = 0; !drop && i < sizeof(dropped_suffix) / sizeof(dropped_suffix[0]); i++)
			drop = ends_with(key, dropped_suffix[i]);
		/* a resource's own name (a person's, or a place's); narrative;
		 * a Reference's display; an Attachment's content and where */
		drop = drop || (root && strcmp(key, "name") == 0) ||
		       (strcmp(key, "text") == 0 && json_is_object(v)) ||
		       (strcmp(key, "description") == 0 && json_is_string(v)) ||
		       (ref && strcmp(key, "display") == 0) ||
		       (attachment && (strcmp(key, "url") == 0 || strcmp(key, "title") == 0)) ||
		       (strcmp(key, "data") == 0 && !json_object_get(o, "dimensions")) ||
		       (strcmp(key, "address") == 0 && json_is_string(v));
		if (drop) {
			json_object_del(o, key);
			continue;
		}
		if (root && strcmp(key, "id") == 0)
			continue; /* the caller's */
		if (strcmp(key, "reference") == 0 && json_is_string(v)) {
			json_object_set_new(o, key, pseudonymous_ref(w, json_string_value(v)));
			continue;
		}
		if (strcmp(key, "birthDate") == 0 && json_is_string(v)) {
			json_t *y = birth_year(w, json_string_value(v));

			if (y)
				json_object_set_new(o, key, y);
			else
				json_object_del(o, key);
			continue;
		}
		if (strcmp(key, "address") == 0 || ends_with(key, "Address")) {
			size_t k;
			json_t *a;

			if (json_is_array(v))
				json_array_foreach(v, k, a)
					address(w, a);
			else
				address(w, v);
			continue;
		}
		if (ends_with(key, "Age") && json_is_object(v))
			age_capped(v);
		if (strcmp(key, "contained") == 0 && json_is_array(v)) {
			size_t k;
			json_t *c;

			/* resources of their own, with local ids */
			json_array_foreach(v, k, c)
				if (json_is_object(c))
					walk_object(w, c, 1);
			continue;
		}
		walk_value(w, o, key, v);
	}
	/* an element that had only what went (a Reference's display) */
	if (had && json_object_size(o) == 0)
		mark_masked(o);
}

/* 1 for an extension left with neither a value nor extensions of its
 * own (its free text went): it goes too (FHIR's ext-1). */
static int empty_extension(const char *key, json_t *e)
{
	const char *k;
	json_t *v;

	if (!key || (strcmp(key, "extension") && strcmp(key, "modifierExtension")) ||
	    !json_is_object(e))
		return 0;
	json_object_foreach(e, k, v)
		if (strncmp(k, "value", 5) == 0 || strcmp(k, "extension") == 0)
			return 0;
	return 1;
}

/* One member's value (or an array's element when key is NULL). */
static void walk_value(struct walk *w, json_t *parent, const char *key, json_t *v)
{
	if (json_is_object(v)) {
		walk_object(w, v, 0);
	} else if (json_is_array(v)) {
		for (size_t i = 0; i < json_array_size(v);) {
			json_t *e = json_array_get(v, i);

			if (json_is_string(e) && date_shaped(json_string_value(e))) {
				json_t *s = shifted(w, json_string_value(e));

				if (!s) {
					json_array_remove(v, i);
					continue;
				}
				json_array_set_new(v, i, s);
			} else {
				walk_value(w, v, NULL, e);
				if (empty_extension(key, e)) {
					json_array_remove(v, i);
					continue;
				}
			}
			i++;
		}
		if (key && json_array_size(v) == 0)
			json_object_del(parent, key);
	} else if (key && json_is_string(v) && date_shaped(json_string_value(v))) {
		json_t *s = shifted(w, json_string_value(v));

		if (s)
			json_object_set_new(parent, key, s);
		else
			json_object_del(parent, key);
	}
}

/* meta: the security labels of a de-identified resource added. */
static void label(json_t *res)
{
	json_t *meta = json_object_get(res, "meta"), *sec;

	if (!json_is_object(meta)) {
		meta = json_object();
		json_object_set_new(res, "meta", meta);
	}
	json_object_del(meta, "source"); /* the system it came from, with its record's id */
	sec = json_object_get(meta, "security");
	if (!json_is_array(sec)) {
		sec = json_array();
		json_object_set_new(meta, "security", sec);
	}
	json_array_append_new(sec, json_pack("{s:s,s:s,s:s}", "system",
					     CL_DEID_FHIR_SECURITY_SYSTEM, "code",
					     CL_DEID_FHIR_SECURITY_CODE, "display", "redacted"));
	json_array_append_new(sec, json_pack("{s:s,s:s,s:s}", "system",
					     CL_DEID_FHIR_SECURITY_SYSTEM, "code", "PSEUDED",
					     "display", "pseudonymized"));
}

int cl_deid_fhir(const struct cl_deid *d, json_t *res, const char *patient,
		 cl_deid_fhir_resolve resolve, void *arg)
{
	const char *type = json_string_value(json_object_get(res, "resourceType"));
	const char *id = json_string_value(json_object_get(res, "id"));
	struct walk w = { .d = d, .resolve = resolve, .arg = arg };
	char space[80], p[CL_DEID_PSEUDONYM_LEN + 1];

	if (!json_is_object(res) || !type || !id || !type_ok(type, strlen(type)))
		return cl_error_set(CL_EINVAL, "not a FHIR resource (resourceType and id)");
	cl_deid_fhir_space(type, space, sizeof(space));
	/* whose days move the dates: the compartment's patient, else the
	 * resource's own (a practitioner's, as a member of staff's are) */
	if (strcmp(type, "Patient") == 0)
		patient = id;
	if (patient && patient[0]) {
		snprintf(w.whose_space, sizeof(w.whose_space), "patient");
		snprintf(w.whose_id, sizeof(w.whose_id), "%s", patient);
	} else {
		snprintf(w.whose_space, sizeof(w.whose_space), "%s", space);
		snprintf(w.whose_id, sizeof(w.whose_id), "%s", id);
	}
	w.shift = cl_deid_shift_days(d, w.whose_space, w.whose_id, strlen(w.whose_id));
	/* the age cap of the birth date goes by the death date as given */
	if (json_is_string(json_object_get(res, "deceasedDateTime")))
		snprintf(w.death, sizeof(w.death), "%s",
			 json_string_value(json_object_get(res, "deceasedDateTime")));
	cl_deid_pseudonym(d, space, id, strlen(id), p);
	walk_object(&w, res, 1);
	json_object_set_new(res, "id", json_string(p));
	label(res);
	return CL_OK;
}
