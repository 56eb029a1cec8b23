/*
 * FHIR search parameters and search keys. See cl_fhir_index.h.
 */
#include "cl_fhir_index.h"
#include "core/cl_error.h"
#include "core/cl_time.h"

#include <stdio.h>
#include <string.h>

/* FHIR R4's definitions (search-parameters.json), the elements as paths
 * from the resource. */
static const struct cl_fhir_param catalogue[] = {
	{ "Patient", "identifier", CL_FK_TOKEN, "identifier", "" },
	{ "Patient", "name", CL_FK_STRING, "name", "" },
	{ "Patient", "family", CL_FK_STRING, "name.family", "" },
	{ "Patient", "given", CL_FK_STRING, "name.given", "" },
	{ "Patient", "birthdate", CL_FK_DATE, "birthDate", "" },
	{ "Patient", "gender", CL_FK_TOKEN, "gender", "" },
	{ "Patient", "active", CL_FK_TOKEN, "active", "" },
	{ "Patient", "address", CL_FK_STRING, "address", "" },
	{ "Patient", "address-city", CL_FK_STRING, "address.city", "" },
	{ "Patient", "address-postalcode", CL_FK_STRING, "address.postalCode", "" },
	{ "Patient", "general-practitioner", CL_FK_REF, "generalPractitioner", "" },
	{ "Patient", "organization", CL_FK_REF, "managingOrganization", "Organization" },

	{ "Practitioner", "identifier", CL_FK_TOKEN, "identifier", "" },
	{ "Practitioner", "name", CL_FK_STRING, "name", "" },
	{ "Practitioner", "family", CL_FK_STRING, "name.family", "" },
	{ "Practitioner", "given", CL_FK_STRING, "name.given", "" },
	{ "Practitioner", "gender", CL_FK_TOKEN, "gender", "" },
	{ "Practitioner", "active", CL_FK_TOKEN, "active", "" },

	{ "Organization", "identifier", CL_FK_TOKEN, "identifier", "" },
	{ "Organization", "name", CL_FK_STRING, "name alias", "" },
	{ "Organization", "type", CL_FK_TOKEN, "type", "" },
	{ "Organization", "active", CL_FK_TOKEN, "active", "" },

	{ "Observation", "code", CL_FK_TOKEN, "code", "" },
	{ "Observation", "category", CL_FK_TOKEN, "category", "" },
	{ "Observation", "date", CL_FK_DATE, "effective[x]", "" },
	{ "Observation", "value-quantity", CL_FK_QUANTITY, "valueQuantity", "" },
	{ "Observation", "value-concept", CL_FK_TOKEN, "valueCodeableConcept", "" },
	{ "Observation", "component-code", CL_FK_TOKEN, "component.code", "" },
	{ "Observation", "combo-code", CL_FK_TOKEN, "code component.code", "" },
	{ "Observation", "encounter", CL_FK_REF, "encounter", "Encounter" },
	{ "Observation", "device", CL_FK_REF, "device", "" },
	{ "Observation", "performer", CL_FK_REF, "performer", "" },
	{ "Observation", "status", CL_FK_TOKEN, "status", "" },
	{ "Observation", "identifier", CL_FK_TOKEN, "identifier", "" },

	{ "Encounter", "date", CL_FK_DATE, "period", "" },
	{ "Encounter", "status", CL_FK_TOKEN, "status", "" },
	{ "Encounter", "class", CL_FK_TOKEN, "class", "" },
	{ "Encounter", "type", CL_FK_TOKEN, "type", "" },
	{ "Encounter", "reason-code", CL_FK_TOKEN, "reasonCode", "" },
	{ "Encounter", "practitioner", CL_FK_REF, "participant.individual", "Practitioner" },
	{ "Encounter", "service-provider", CL_FK_REF, "serviceProvider", "Organization" },
	{ "Encounter", "identifier", CL_FK_TOKEN, "identifier", "" },

	{ "Condition", "code", CL_FK_TOKEN, "code", "" },
	{ "Condition", "category", CL_FK_TOKEN, "category", "" },
	{ "Condition", "clinical-status", CL_FK_TOKEN, "clinicalStatus", "" },
	{ "Condition", "verification-status", CL_FK_TOKEN, "verificationStatus", "" },
	{ "Condition", "onset-date", CL_FK_DATE, "onset[x]", "" },
	{ "Condition", "recorded-date", CL_FK_DATE, "recordedDate", "" },
	{ "Condition", "abatement-date", CL_FK_DATE, "abatement[x]", "" },
	{ "Condition", "encounter", CL_FK_REF, "encounter", "Encounter" },
	{ "Condition", "identifier", CL_FK_TOKEN, "identifier", "" },

	{ "MedicationRequest", "code", CL_FK_TOKEN, "medicationCodeableConcept", "" },
	{ "MedicationRequest", "medication", CL_FK_REF, "medicationReference", "Medication" },
	{ "MedicationRequest", "status", CL_FK_TOKEN, "status", "" },
	{ "MedicationRequest", "intent", CL_FK_TOKEN, "intent", "" },
	{ "MedicationRequest", "category", CL_FK_TOKEN, "category", "" },
	{ "MedicationRequest", "authoredon", CL_FK_DATE, "authoredOn", "" },
	{ "MedicationRequest", "date", CL_FK_DATE, "dosageInstruction.timing.event", "" },
	{ "MedicationRequest", "encounter", CL_FK_REF, "encounter", "Encounter" },
	{ "MedicationRequest", "requester", CL_FK_REF, "requester", "" },
	{ "MedicationRequest", "identifier", CL_FK_TOKEN, "identifier", "" },

	{ "Procedure", "code", CL_FK_TOKEN, "code", "" },
	{ "Procedure", "status", CL_FK_TOKEN, "status", "" },
	{ "Procedure", "category", CL_FK_TOKEN, "category", "" },
	{ "Procedure", "date", CL_FK_DATE, "performed[x]", "" },
	{ "Procedure", "encounter", CL_FK_REF, "encounter", "Encounter" },
	{ "Procedure", "performer", CL_FK_REF, "performer.actor", "" },
	{ "Procedure", "identifier", CL_FK_TOKEN, "identifier", "" },

	{ "Appointment", "date", CL_FK_DATE, "start", "" },
	{ "Appointment", "status", CL_FK_TOKEN, "status", "" },
	{ "Appointment", "actor", CL_FK_REF, "participant.actor", "" },
	{ "Appointment", "practitioner", CL_FK_REF, "participant.actor", "Practitioner" },
	{ "Appointment", "location", CL_FK_REF, "participant.actor", "Location" },
	{ "Appointment", "service-type", CL_FK_TOKEN, "serviceType", "" },
	{ "Appointment", "appointment-type", CL_FK_TOKEN, "appointmentType", "" },
	{ "Appointment", "identifier", CL_FK_TOKEN, "identifier", "" },

	{ "Device", "identifier", CL_FK_TOKEN, "identifier", "" },
	{ "Device", "type", CL_FK_TOKEN, "type", "" },
	{ "Device", "status", CL_FK_TOKEN, "status", "" },
	{ "Device", "device-name", CL_FK_STRING, "deviceName.name", "" },
	{ "Device", "model", CL_FK_STRING, "modelNumber", "" },
	{ "Device", "manufacturer", CL_FK_STRING, "manufacturer", "" },

	{ "Communication", "status", CL_FK_TOKEN, "status", "" },
	{ "Communication", "category", CL_FK_TOKEN, "category", "" },
	{ "Communication", "sent", CL_FK_DATE, "sent", "" },
	{ "Communication", "received", CL_FK_DATE, "received", "" },
	{ "Communication", "sender", CL_FK_REF, "sender", "" },
	{ "Communication", "recipient", CL_FK_REF, "recipient", "" },
	{ "Communication", "encounter", CL_FK_REF, "encounter", "Encounter" },
	{ "Communication", "identifier", CL_FK_TOKEN, "identifier", "" },

	{ "QuestionnaireResponse", "status", CL_FK_TOKEN, "status", "" },
	{ "QuestionnaireResponse", "authored", CL_FK_DATE, "authored", "" },
	{ "QuestionnaireResponse", "author", CL_FK_REF, "author", "" },
	{ "QuestionnaireResponse", "encounter", CL_FK_REF, "encounter", "Encounter" },
	{ "QuestionnaireResponse", "identifier", CL_FK_TOKEN, "identifier", "" },

	{ "DiagnosticReport", "code", CL_FK_TOKEN, "code", "" },
	{ "DiagnosticReport", "category", CL_FK_TOKEN, "category", "" },
	{ "DiagnosticReport", "date", CL_FK_DATE, "effective[x]", "" },
	{ "DiagnosticReport", "status", CL_FK_TOKEN, "status", "" },
	{ "DiagnosticReport", "encounter", CL_FK_REF, "encounter", "Encounter" },
	{ "DiagnosticReport", "result", CL_FK_REF, "result", "Observation" },

	{ "Immunization", "vaccine-code", CL_FK_TOKEN, "vaccineCode", "" },
	{ "Immunization", "status", CL_FK_TOKEN, "status", "" },
	{ "Immunization", "date", CL_FK_DATE, "occurrence[x]", "" },

	{ "AllergyIntolerance", "code", CL_FK_TOKEN, "code", "" },
	{ "AllergyIntolerance", "clinical-status", CL_FK_TOKEN, "clinicalStatus", "" },
	{ "AllergyIntolerance", "category", CL_FK_TOKEN, "category", "" },
	{ "AllergyIntolerance", "date", CL_FK_DATE, "recordedDate", "" },
};

#define NPARAMS (sizeof(catalogue) / sizeof(catalogue[0]))

const struct cl_fhir_param *cl_fhir_param_find(const char *type, const char *name)
{
	for (size_t i = 0; i < NPARAMS; i++)
		if (strcmp(catalogue[i].type, type) == 0 && strcmp(catalogue[i].name, name) == 0)
			return &catalogue[i];
	return NULL;
}

void cl_fhir_params_each(const char *type, void (*fn)(void *arg, const struct cl_fhir_param *p),
			 void *arg)
{
	for (size_t i = 0; i < NPARAMS; i++)
		if (!type || strcmp(catalogue[i].type, type) == 0)
			fn(arg, &catalogue[i]);
}

/* ---- folding and dates ---- */

/* U+00C0..U+017F, each as the ASCII letter (lower case) it is based on */
static const char latin[] =
	"aaaaaaaceeeeiiiidnooooo*ouuuuytsaaaaaaaceeeeiiiidnooooo/ouuuuyty"
	"aaaaaaccccccccddddeeeeeeeeeegggggggghhhhiiiiiiiiiiiijjkkkllllllllll"
	"nnnnnnnnnoooooooorrrrrrssssssssttttttuuuuuuuuuuuuwwyyyzzzzzzs";

void cl_fhir_fold(const char *s, size_t n, char *out, size_t cap)
{
	const unsigned char *p = (const unsigned char *)s;
	size_t o = 0;

	if (cap == 0)
		return;
	for (size_t i = 0; i < n && o + 1 < cap; i++) {
		unsigned c = p[i];

		if (c >= 'A' && c <= 'Z') {
			out[o++] = (char)(c - 'A' + 'a');
		} else if ((c == 0xC3 || c == 0xC4 || c == 0xC5) && i + 1 < n &&
			   (p[i + 1] & 0xC0) == 0x80) {
			unsigned cp = ((c & 0x1F) << 6) | (p[i + 1] & 0x3F);

			if (cp >= 0xC0 && cp < 0x180) {
				out[o++] = latin[cp - 0xC0];
				i++;
			} else {
				out[o++] = (char)c;
			}
		} else {
			out[o++] = (char)c;
		}
	}
	out[o] = '\0';
}

#define DAY_US ((int64_t)86400 * 1000000)

static int leap(int y)
{
	return y % 4 == 0 && (y % 100 != 0 || y % 400 == 0);
}

int cl_fhir_date_range(const char *s, size_t n, int64_t *lo, int64_t *hi)
{
	static const int mdays[] = { 31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31 };
	int y, mo = 1, d = 1, h = 0, mi = 0, sec = 0;
	int64_t frac = 0, width, off = 0;
	size_t i = 4;

	y = n >= 4 ? cl_time_digits(s, 4) : -1;
	if (y < 1)
		return cl_error_set(CL_EINVAL, "not a FHIR date (YYYY, YYYY-MM, YYYY-MM-DD or a "
				    "dateTime)");
	if (n == 4) {
		*lo = cl_time_days_from_civil(y, 1, 1) * DAY_US;
		*hi = cl_time_days_from_civil(y + 1, 1, 1) * DAY_US;
		return CL_OK;
	}
	if (n < 7 || s[4] != '-' || (mo = cl_time_digits(s + 5, 2)) < 1 || mo > 12)
		return cl_error_set(CL_EINVAL, "not a FHIR date: the month");
	if (n == 7) {
		*lo = cl_time_days_from_civil(y, mo, 1) * DAY_US;
		*hi = cl_time_days_from_civil(mo == 12 ? y + 1 : y, mo == 12 ? 1 : mo + 1, 1) * DAY_US;
		return CL_OK;
	}
	if (n < 10 || s[7] != '-' || (d = cl_time_digits(s + 8, 2)) < 1 ||
	    d > mdays[mo - 1] + (mo == 2 && leap(y)))
		return cl_error_set(CL_EINVAL, "not a FHIR date: the day");
	width = DAY_US;
	i = 10;
	if (n > 10) {
		if (s[10] != 'T' || n < 16 || (h = cl_time_digits(s + 11, 2)) < 0 || h > 23 ||
		    s[13] != ':' || (mi = cl_time_digits(s + 14, 2)) < 0 || mi > 59)
			return cl_error_set(CL_EINVAL, "not a FHIR dateTime: the time of day");
		width = 60 * (int64_t)1000000;
		i = 16;
		if (i < n && s[i] == ':') {
			if (n < 19 || (sec = cl_time_digits(s + 17, 2)) < 0 || sec > 60)
				return cl_error_set(CL_EINVAL, "not a FHIR dateTime: the seconds");
			sec = sec == 60 ? 59 : sec;
			width = 1000000;
			i = 19;
			if (i < n && s[i] == '.') {
				int64_t scale = 100000;
				int k = 0;

				for (i++; i < n && s[i] >= '0' && s[i] <= '9'; i++, k++)
					if (k < 6) {
						frac += (s[i] - '0') * scale;
						width = scale;
						scale /= 10;
					}
				if (k == 0)
					return cl_error_set(CL_EINVAL, "not a FHIR dateTime: the fraction");
			}
		}
		if (i < n && s[i] == 'Z') {
			i++;
		} else if (i < n && (s[i] == '+' || s[i] == '-')) {
			int oh = i + 6 == n && s[i + 3] == ':' ? cl_time_digits(s + i + 1, 2) : -1;
			int om = oh >= 0 ? cl_time_digits(s + i + 4, 2) : -1;

			if (oh < 0 || oh > 14 || om < 0 || om > 59)
				return cl_error_set(CL_EINVAL, "not a FHIR dateTime: the offset");
			off = ((int64_t)oh * 3600 + om * 60) * 1000000 * (s[i] == '+' ? 1 : -1);
			i = n;
		}
	}
	if (i != n)
		return cl_error_set(CL_EINVAL, "not a FHIR date: '%.*s' after it", (int)(n - i > 20 ? 20 : n - i),
				    s + i);
	*lo = cl_time_days_from_civil(y, mo, d) * DAY_US +
	      ((int64_t)h * 3600 + mi * 60 + sec) * 1000000 + frac - off;
	*hi = *lo + width;
	return CL_OK;
}

/* ---- the keys of a resource ---- */

struct walk {
	const struct cl_json_doc *d;
	const struct cl_fhir_param *p;
	cl_fhir_resolve_fn resolve;
	void *rarg;
	int (*key)(void *arg, const struct cl_fhir_key *k);
	void *arg;
};

/* The string member `name` of the object at o into buf ("" if none). */
static const char *member(const struct cl_json_doc *d, int o, const char *name, char *buf,
			  size_t cap)
{
	int v = o >= 0 ? cl_json_get(d, (uint32_t)o, name) : -1;

	buf[0] = '\0';
	if (v >= 0 && d->toks[v].type == CL_JSON_STRING && cl_json_str(d, (uint32_t)v, buf, cap) < 0)
		buf[0] = '\0';
	return buf;
}

static int emit(struct walk *w, struct cl_fhir_key *k)
{
	k->param = w->p->name;
	return w->key(w->arg, k);
}

static int token(struct walk *w, int sys_tok, int code_tok)
{
	char sys[512], code[512];
	struct cl_fhir_key k = { 0 };

	if (code_tok < 0 || w->d->toks[code_tok].type != CL_JSON_STRING ||
	    cl_json_str(w->d, (uint32_t)code_tok, code, sizeof(code)) <= 0)
		return 0;
	sys[0] = '\0';
	if (sys_tok >= 0 && w->d->toks[sys_tok].type == CL_JSON_STRING &&
	    cl_json_str(w->d, (uint32_t)sys_tok, sys, sizeof(sys)) < 0)
		sys[0] = '\0';
	k.sys = sys[0] ? sys : NULL;
	k.code = code;
	return emit(w, &k);
}

static int token_value(struct walk *w, int v)
{
	const struct cl_json_doc *d = w->d;
	const struct cl_json_tok *t = &d->toks[v];
	int coding, rc;

	if (t->type == CL_JSON_STRING)
		return token(w, -1, v);
	if (t->type == CL_JSON_TRUE || t->type == CL_JSON_FALSE) {
		struct cl_fhir_key k = { .code = t->type == CL_JSON_TRUE ? "true" : "false" };

		return emit(w, &k);
	}
	if (t->type != CL_JSON_OBJECT)
		return 0;
	coding = cl_json_get(d, (uint32_t)v, "coding");
	if (coding >= 0 && d->toks[coding].type == CL_JSON_ARRAY) {
		/* a CodeableConcept: each coding */
		for (uint32_t c = (uint32_t)coding + 1; c < d->toks[coding].next; c = d->toks[c].next)
			if (d->toks[c].type == CL_JSON_OBJECT &&
			    (rc = token(w, cl_json_get(d, c, "system"), cl_json_get(d, c, "code"))))
				return rc;
		return 0;
	}
	if (cl_json_get(d, (uint32_t)v, "code") >= 0) /* a Coding */
		return token(w, cl_json_get(d, (uint32_t)v, "system"), cl_json_get(d, (uint32_t)v, "code"));
	/* an Identifier or a ContactPoint */
	return token(w, cl_json_get(d, (uint32_t)v, "system"), cl_json_get(d, (uint32_t)v, "value"));
}

static int string_one(struct walk *w, int v)
{
	char text[1024], folded[1024];
	struct cl_fhir_key k = { 0 };

	if (w->d->toks[v].type != CL_JSON_STRING ||
	    cl_json_str(w->d, (uint32_t)v, text, sizeof(text)) <= 0)
		return 0;
	cl_fhir_fold(text, strlen(text), folded, sizeof(folded));
	k.code = text;
	k.str = folded;
	return emit(w, &k);
}

static int string_value(struct walk *w, int v)
{
	/* a HumanName's or an Address's parts */
	static const char *const parts[] = { "text", "family", "given", "prefix", "suffix", "line",
					     "city", "district", "state", "postalCode", "country" };
	const struct cl_json_doc *d = w->d;
	int rc;

	if (d->toks[v].type != CL_JSON_OBJECT)
		return string_one(w, v);
	for (size_t i = 0; i < sizeof(parts) / sizeof(parts[0]); i++) {
		int m = cl_json_get(d, (uint32_t)v, parts[i]);

		if (m < 0)
			continue;
		if (d->toks[m].type == CL_JSON_ARRAY) {
			for (uint32_t e = (uint32_t)m + 1; e < d->toks[m].next; e = d->toks[e].next)
				if ((rc = string_one(w, (int)e)))
					return rc;
		} else if ((rc = string_one(w, m))) {
			return rc;
		}
	}
	return 0;
}

static int date_value(struct walk *w, int v)
{
	const struct cl_json_doc *d = w->d;
	struct cl_fhir_key k = { .has_range = 1 };
	char start[80], end[80];
	int64_t lo, hi;

	if (d->toks[v].type == CL_JSON_STRING) {
		if (cl_json_str(d, (uint32_t)v, start, sizeof(start)) < 0 ||
		    cl_fhir_date_range(start, strlen(start), &k.lo, &k.hi) != CL_OK)
			return 0;
		return emit(w, &k);
	}
	if (d->toks[v].type != CL_JSON_OBJECT)
		return 0;
	/* a Period: from its start to its end, open where one is missing */
	member(d, v, "start", start, sizeof(start));
	member(d, v, "end", end, sizeof(end));
	if (!start[0] && !end[0])
		return 0;
	k.lo = INT64_MIN;
	k.hi = INT64_MAX;
	if (start[0] && cl_fhir_date_range(start, strlen(start), &lo, &hi) == CL_OK)
		k.lo = lo;
	if (end[0] && cl_fhir_date_range(end, strlen(end), &lo, &hi) == CL_OK)
		k.hi = hi;
	return emit(w, &k);
}

static int ref_value(struct walk *w, int v)
{
	char buf[512], resolved[512], type[80];
	const char *ref, *slash, *h;
	struct cl_fhir_key k = { 0 };
	size_t n;

	member(w->d, v, "reference", buf, sizeof(buf));
	if (!buf[0] || buf[0] == '#')
		return 0;
	ref = w->resolve ? w->resolve(w->rarg, buf, resolved, sizeof(resolved)) : buf;
	if (strncmp(ref, "urn:uuid:", 9) == 0) {
		/* an entry of a Bundle not resolved: the id is known, not the type */
		k.code = ref + 9;
	} else {
		if (ref != resolved)
			snprintf(resolved, sizeof(resolved), "%s", ref);
		h = strstr(resolved, "/_history/");
		if (h)
			resolved[h - resolved] = '\0';
		slash = strrchr(resolved, '/');
		if (!slash)
			return 0;
		k.code = slash + 1;
		for (h = slash; h > resolved && h[-1] != '/'; h--)
			;
		n = (size_t)(slash - h);
		if (n == 0 || n >= sizeof(type))
			return 0;
		memcpy(type, h, n);
		type[n] = '\0';
		k.sys = type;
		if (w->p->target[0] && strcmp(type, w->p->target) != 0)
			return 0;
	}
	if (!k.code[0])
		return 0;
	k.ref = 1;
	return emit(w, &k);
}

static int quantity_value(struct walk *w, int v)
{
	const struct cl_json_doc *d = w->d;
	char sys[256], code[256];
	struct cl_fhir_key k = { .has_num = 1 };
	int val = d->toks[v].type == CL_JSON_OBJECT ? cl_json_get(d, (uint32_t)v, "value") : -1;

	if (val < 0 || cl_json_double(d, (uint32_t)val, &k.num) != CL_OK)
		return 0;
	member(d, v, "system", sys, sizeof(sys));
	member(d, v, "code", code, sizeof(code));
	if (!code[0])
		member(d, v, "unit", code, sizeof(code));
	k.sys = sys[0] ? sys : NULL;
	k.code = code[0] ? code : NULL;
	return emit(w, &k);
}

static int value(struct walk *w, int v)
{
	switch (w->p->kind) {
	case CL_FK_TOKEN:
		return token_value(w, v);
	case CL_FK_STRING:
		return string_value(w, v);
	case CL_FK_DATE:
		return date_value(w, v);
	case CL_FK_REF:
		return ref_value(w, v);
	default:
		return quantity_value(w, v);
	}
}

/* Follows path (the segments left, seg..end) from the value at v: arrays
 * are walked through, each element reached is a value. */
static int follow(struct walk *w, int v, const char *seg, const char *end)
{
	const struct cl_json_doc *d = w->d;
	const char *dot;
	size_t n;
	int rc;

	if (d->toks[v].type == CL_JSON_ARRAY) {
		for (uint32_t e = (uint32_t)v + 1; e < d->toks[v].next; e = d->toks[e].next)
			if ((rc = follow(w, (int)e, seg, end)))
				return rc;
		return 0;
	}
	if (seg >= end)
		return value(w, v);
	if (d->toks[v].type != CL_JSON_OBJECT)
		return 0;
	dot = memchr(seg, '.', (size_t)(end - seg));
	if (!dot)
		dot = end;
	n = (size_t)(dot - seg);
	/* each member whose name is the segment's (name[x]: name then a
	 * capital, a choice type) */
	for (uint32_t k = (uint32_t)v + 1; k < d->toks[v].next; k = d->toks[k + 1].next) {
		const struct cl_json_tok *t = &d->toks[k];
		const char *name = d->src + t->start;
		int hit;

		if (n > 3 && memcmp(seg + n - 3, "[x]", 3) == 0)
			hit = t->len > n - 3 && memcmp(name, seg, n - 3) == 0 &&
			      name[n - 3] >= 'A' && name[n - 3] <= 'Z';
		else
			hit = t->len == n && memcmp(name, seg, n) == 0;
		if (hit && (rc = follow(w, (int)k + 1, dot < end ? dot + 1 : end, end)))
			return rc;
	}
	return 0;
}

int cl_fhir_index(const struct cl_json_doc *d, uint32_t res, const char *type,
		  cl_fhir_resolve_fn resolve, void *rarg,
		  int (*key)(void *arg, const struct cl_fhir_key *k), void *arg)
{
	struct walk w = { d, NULL, resolve, rarg, key, arg };
	int rc;

	if (d->toks[res].type != CL_JSON_OBJECT)
		return 0;
	for (size_t i = 0; i < NPARAMS; i++) {
		const char *p, *sp;

		if (strcmp(catalogue[i].type, type) != 0)
			continue;
		w.p = &catalogue[i];
		for (p = catalogue[i].paths; *p; p = *sp ? sp + 1 : sp) {
			sp = strchr(p, ' ');
			if (!sp)
				sp = p + strlen(p);
			if ((rc = follow(&w, (int)res, p, sp)))
				return rc;
		}
	}
	return 0;
}

static int put_key(void *w, const struct cl_fhir_key *k)
{
	return cl_fhir_put_key(w, k);
}

int cl_fhir_index_text(void *writer, const char *type, const char *json, size_t len)
{
	struct cl_json_doc d;
	int rc = CL_OK;

	cl_json_doc_init(&d);
	if (json && cl_json_parse(&d, json, len) == CL_OK)
		rc = cl_fhir_index(&d, 0, type, NULL, NULL, put_key, writer);
	cl_json_doc_free(&d);
	return rc;
}
