/*
 * FHIR resources into silver. See cl_fhir_res.h.
 */
#include "cl_fhir_res.h"
#include "core/cl_error.h"
#include "core/cl_map.h"
#include "core/cl_mem.h"
#include "core/cl_time.h"
#include "fhir/cl_fhir_check.h"
#include "fhir/cl_fhir_index.h"
#include "fhir/cl_fhir_search.h"
#include "json/cl_json.h"
#include "model/cl_vitals.h"
#include "store/cl_store_fhir.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct ctx {
	struct cl_silver *s;
	struct cl_silver_counts *c;
	const struct cl_json_doc *d;
	struct cl_map *urls;     /* fullUrl -> "Type/id" (a Bundle's entries) */
	char record[64];
};

/* ---- navigating the parsed JSON ---- */

static int elem(const struct cl_json_doc *d, int arr, uint32_t k)
{
	uint32_t i;

	if (arr < 0 || d->toks[arr].type != CL_JSON_ARRAY || k >= d->toks[arr].size)
		return -1;
	i = (uint32_t)arr + 1;
	while (k--)
		i = d->toks[i].next;
	return (int)i;
}

static uint32_t d_size(const struct cl_json_doc *d, int i)
{
	return i >= 0 && d->toks[i].type == CL_JSON_ARRAY ? d->toks[i].size : 0;
}

/* "code.coding[0].code": members and array elements from obj. */
static int at(const struct cl_json_doc *d, int obj, const char *path)
{
	char seg[64];

	while (obj >= 0 && *path) {
		size_t n = strcspn(path, ".[");

		if (n) {
			if (n >= sizeof(seg) || d->toks[obj].type != CL_JSON_OBJECT)
				return -1;
			memcpy(seg, path, n);
			seg[n] = '\0';
			obj = cl_json_get(d, (uint32_t)obj, seg);
			path += n;
		}
		if (*path == '[') {
			obj = elem(d, obj, (uint32_t)strtoul(path + 1, NULL, 10));
			path = strchr(path, ']');
			if (!path)
				return -1;
			path++;
		}
		if (*path == '.')
			path++;
	}
	return obj;
}

/* The string at path, into buf; "" if absent or not a string. */
static const char *str(const struct cl_json_doc *d, int obj, const char *path, char *buf,
		       size_t cap)
{
	int i = at(d, obj, path);

	buf[0] = '\0';
	if (i >= 0 && (d->toks[i].type == CL_JSON_STRING))
		if (cl_json_str(d, (uint32_t)i, buf, cap) < 0)
			buf[0] = '\0';
	return buf;
}

static void put_text(struct cl_row *r, const char *col, const char *v)
{
	if (v && *v)
		cl_row_text(r, col, v, strlen(v));
}

static void put_path(struct ctx *x, struct cl_row *r, int obj, const char *col,
		     const char *path)
{
	char buf[1024];

	put_text(r, col, str(x->d, obj, path, buf, sizeof(buf)));
}

/* Dates and times to RFC 3339 UTC; a date alone stays as it is. */
static void put_time(struct ctx *x, struct cl_row *r, int obj, const char *col,
		     const char *path)
{
	char buf[64], out[40];
	int64_t us;

	str(x->d, obj, path, buf, sizeof(buf));
	if (!buf[0])
		return;
	if (strlen(buf) > 10 && cl_time_parse_rfc3339(buf, strlen(buf), &us) == CL_OK) {
		cl_time_format_rfc3339(us, out, sizeof(out), 0);
		put_text(r, col, out);
	} else {
		put_text(r, col, buf);
	}
}

/* The reference at path, resolved into buf: a Bundle entry's fullUrl
 * ("urn:uuid:x") to the entry's "Type/id", a version ("/_history/n")
 * dropped. "" when there is none. */
static const char *resolve_ref(struct ctx *x, int obj, const char *path, char *buf, size_t cap)
{
	const char *ref = str(x->d, obj, path, buf, cap), *h;

	if (ref[0] && x->urls) {
		void **slot = cl_map_slot(x->urls, ref, strlen(ref), 0);

		if (slot && *slot)
			snprintf(buf, cap, "%s", (const char *)*slot);
	}
	h = strstr(buf, "/_history/");
	if (h)
		buf[h - buf] = '\0';
	return buf;
}

/* The id a reference points to: "Patient/123" -> 123, "urn:uuid:x" -> the
 * id of the entry with that fullUrl (or x), an absolute URL -> its last
 * part. */
static void put_ref(struct ctx *x, struct cl_row *r, int obj, const char *col,
		    const char *path)
{
	char buf[512];
	const char *ref = resolve_ref(x, obj, path, buf, sizeof(buf)), *slash;

	if (!ref[0])
		return;
	if (strncmp(ref, "urn:uuid:", 9) == 0) {
		put_text(r, col, ref + 9);
		return;
	}
	slash = strrchr(ref, '/');
	put_text(r, col, slash ? slash + 1 : ref);
}

/* A CodeableConcept: the first coding's code and display (else text). */
static void put_concept(struct ctx *x, struct cl_row *r, int obj, const char *path,
			const char *code_col, const char *display_col)
{
	int cc = at(x->d, obj, path);
	char code[256], disp[512];

	if (cc < 0)
		return;
	str(x->d, cc, "coding[0].code", code, sizeof(code));
	str(x->d, cc, "coding[0].display", disp, sizeof(disp));
	if (!disp[0])
		str(x->d, cc, "text", disp, sizeof(disp));
	if (code_col)
		put_text(r, code_col, code);
	if (display_col)
		put_text(r, display_col, disp);
}

/* HumanName: family, given (joined), and the whole name. */
static void put_name(struct ctx *x, struct cl_row *r, int obj)
{
	int name = at(x->d, obj, "name[0]"), given;
	char family[256], g[512] = "", full[800], text[512];
	size_t n = 0;

	if (name < 0)
		return;
	str(x->d, name, "family", family, sizeof(family));
	given = at(x->d, name, "given");
	for (uint32_t k = 0; given >= 0 && d_size(x->d, given) > k; k++) {
		char one[256];
		int e = elem(x->d, given, k);

		if (e >= 0 && cl_json_str(x->d, (uint32_t)e, one, sizeof(one)) > 0)
			n += (size_t)snprintf(g + n, sizeof(g) - n, "%s%s", n ? " " : "", one);
		if (n >= sizeof(g))
			break;
	}
	str(x->d, name, "text", text, sizeof(text));
	snprintf(full, sizeof(full), "%s%s%s", g, g[0] && family[0] ? " " : "", family);
	put_text(r, "family", family);
	put_text(r, "given", g);
	put_text(r, "name", text[0] ? text : full);
}

/* ---- resources ---- */

static int put(struct ctx *x, struct cl_row *r)
{
	return cl_silver_put(x->s, r);
}

static int patient(struct ctx *x, int o, const char *id)
{
	struct cl_row r;

	cl_row_init(&r, cl_silver_table("patient"), x->record);
	put_text(&r, "id", id);
	put_name(x, &r, o);
	put_path(x, &r, o, "gender", "gender");
	put_path(x, &r, o, "birth_date", "birthDate");
	put_time(x, &r, o, "death_date", "deceasedDateTime");
	put_concept(x, &r, o, "maritalStatus", NULL, "marital_status");
	put_path(x, &r, o, "city", "address[0].city");
	put_path(x, &r, o, "state", "address[0].state");
	put_path(x, &r, o, "postal_code", "address[0].postalCode");
	put_path(x, &r, o, "country", "address[0].country");
	put_ref(x, &r, o, "organization_id", "managingOrganization.reference");
	return put(x, &r);
}

static int practitioner(struct ctx *x, int o, const char *id)
{
	struct cl_row r;

	cl_row_init(&r, cl_silver_table("practitioner"), x->record);
	put_text(&r, "id", id);
	put_name(x, &r, o);
	put_path(x, &r, o, "gender", "gender");
	put_concept(x, &r, o, "qualification[0].code", NULL, "specialty");
	put_path(x, &r, o, "city", "address[0].city");
	put_path(x, &r, o, "state", "address[0].state");
	return put(x, &r);
}

static int organization(struct ctx *x, int o, const char *id)
{
	struct cl_row r;

	cl_row_init(&r, cl_silver_table("organization"), x->record);
	put_text(&r, "id", id);
	put_path(x, &r, o, "name", "name");
	put_path(x, &r, o, "city", "address[0].city");
	put_path(x, &r, o, "state", "address[0].state");
	put_path(x, &r, o, "postal_code", "address[0].postalCode");
	return put(x, &r);
}

static int encounter(struct ctx *x, int o, const char *id)
{
	struct cl_row r;

	cl_row_init(&r, cl_silver_table("encounter"), x->record);
	put_text(&r, "id", id);
	put_ref(x, &r, o, "patient_id", "subject.reference");
	put_ref(x, &r, o, "practitioner_id", "participant[0].individual.reference");
	put_ref(x, &r, o, "organization_id", "serviceProvider.reference");
	put_path(x, &r, o, "status", "status");
	put_path(x, &r, o, "class", "class.code");
	put_concept(x, &r, o, "type[0]", "code", "display");
	put_time(x, &r, o, "start_ts", "period.start");
	put_time(x, &r, o, "end_ts", "period.end");
	put_concept(x, &r, o, "reasonCode[0]", "reason_code", "reason_display");
	put_path(x, &r, o, "ward", "location[0].location.display");
	return put(x, &r);
}

/* One observation row: the resource's own value, or a component's. */
static int observation_value(struct ctx *x, int o, int v, const char *id, const char *row_id)
{
	struct cl_row r;
	char code[128], unit[64], ucum[64], text[512];
	int q, vital;

	cl_row_init(&r, cl_silver_table("observation"), x->record);
	put_text(&r, "id", row_id);
	put_text(&r, "resource_id", id);
	put_ref(x, &r, o, "patient_id", "subject.reference");
	put_ref(x, &r, o, "encounter_id", "encounter.reference");
	put_concept(x, &r, v, "code", "code", "display");
	put_concept(x, &r, o, "category[0]", "category", NULL);
	put_path(x, &r, o, "status", "status");
	put_time(x, &r, o, "effective_ts", "effectiveDateTime");
	if (!cl_row_get(&r, "effective_ts"))
		put_time(x, &r, o, "effective_ts", "effectivePeriod.start");
	if (!cl_row_get(&r, "effective_ts"))
		put_time(x, &r, o, "effective_ts", "issued");
	put_ref(x, &r, o, "device_id", "device.reference");
	put_text(&r, "source", "fhir");
	str(x->d, v, "code.coding[0].code", code, sizeof(code));
	q = at(x->d, v, "valueQuantity");
	if (q >= 0) {
		int num = at(x->d, q, "value");
		double val;

		str(x->d, q, "unit", unit, sizeof(unit));
		str(x->d, q, "code", ucum, sizeof(ucum));
		if (num >= 0 && cl_json_double(x->d, (uint32_t)num, &val) == CL_OK) {
			vital = cl_vital_by_loinc(code, strlen(code));
			if (vital >= 0) {
				double canon;

				/* vitals in carelake's units, as device events are */
				if (cl_vital_normalise((enum cl_vital)vital, val, ucum[0] ? ucum : unit,
						       &canon) != CL_OK) {
					char why[300];

					snprintf(why, sizeof(why), "observation %s: %s", row_id,
						 cl_error_detail());
					return cl_silver_quarantine(x->s, "observation", x->record, why,
								    id, strlen(id));
				}
				val = canon;
				snprintf(unit, sizeof(unit), "%s", cl_vital_unit((enum cl_vital)vital));
			}
			cl_row_real(&r, "value", val);
		}
		put_text(&r, "unit", unit[0] ? unit : ucum);
	} else {
		str(x->d, v, "valueString", text, sizeof(text));
		if (!text[0])
			put_concept(x, &r, v, "valueCodeableConcept", NULL, "value_text");
		else
			put_text(&r, "value_text", text);
		if (!cl_row_get(&r, "value_text")) {
			int b = at(x->d, v, "valueBoolean");

			if (b >= 0 && x->d->toks[b].type != CL_JSON_NULL)
				put_text(&r, "value_text", x->d->toks[b].type == CL_JSON_TRUE ? "true"
											 : "false");
		}
	}
	return put(x, &r);
}

static int observation(struct ctx *x, int o, const char *id)
{
	int comps = at(x->d, o, "component");
	int rc = CL_OK, has_value = at(x->d, o, "valueQuantity") >= 0 ||
				    at(x->d, o, "valueString") >= 0 ||
				    at(x->d, o, "valueCodeableConcept") >= 0 ||
				    at(x->d, o, "valueBoolean") >= 0;

	if (has_value || d_size(x->d, comps) == 0)
		rc = observation_value(x, o, o, id, id);
	for (uint32_t k = 0; rc == CL_OK && k < d_size(x->d, comps); k++) {
		int comp = elem(x->d, comps, k);
		char code[128], row_id[400];

		str(x->d, comp, "code.coding[0].code", code, sizeof(code));
		snprintf(row_id, sizeof(row_id), "%s:%s", id, code[0] ? code : "component");
		if (!code[0])
			snprintf(row_id, sizeof(row_id), "%s:%u", id, k);
		rc = observation_value(x, o, comp, id, row_id);
	}
	return rc;
}

static int condition(struct ctx *x, int o, const char *id)
{
	struct cl_row r;

	cl_row_init(&r, cl_silver_table("condition"), x->record);
	put_text(&r, "id", id);
	put_ref(x, &r, o, "patient_id", "subject.reference");
	put_ref(x, &r, o, "encounter_id", "encounter.reference");
	put_concept(x, &r, o, "code", "code", "display");
	put_path(x, &r, o, "clinical_status", "clinicalStatus.coding[0].code");
	put_time(x, &r, o, "onset_ts", "onsetDateTime");
	put_time(x, &r, o, "abatement_ts", "abatementDateTime");
	return put(x, &r);
}

static int medication_request(struct ctx *x, int o, const char *id)
{
	struct cl_row r;

	cl_row_init(&r, cl_silver_table("medication_request"), x->record);
	put_text(&r, "id", id);
	put_ref(x, &r, o, "patient_id", "subject.reference");
	put_ref(x, &r, o, "encounter_id", "encounter.reference");
	put_concept(x, &r, o, "medicationCodeableConcept", "code", "display");
	if (!cl_row_get(&r, "code"))
		put_ref(x, &r, o, "code", "medicationReference.reference");
	put_path(x, &r, o, "status", "status");
	put_path(x, &r, o, "intent", "intent");
	put_time(x, &r, o, "authored_ts", "authoredOn");
	return put(x, &r);
}

static int procedure(struct ctx *x, int o, const char *id)
{
	struct cl_row r;

	cl_row_init(&r, cl_silver_table("procedure"), x->record);
	put_text(&r, "id", id);
	put_ref(x, &r, o, "patient_id", "subject.reference");
	put_ref(x, &r, o, "encounter_id", "encounter.reference");
	put_concept(x, &r, o, "code", "code", "display");
	put_path(x, &r, o, "status", "status");
	put_time(x, &r, o, "performed_start", "performedPeriod.start");
	if (!cl_row_get(&r, "performed_start"))
		put_time(x, &r, o, "performed_start", "performedDateTime");
	put_time(x, &r, o, "performed_end", "performedPeriod.end");
	return put(x, &r);
}

static void compartment(struct ctx *x, int o, const char *type, const char *id, char *out,
			size_t cap);

/* An Appointment as a booking: its patient (the participant that is a
 * Patient), the first participant that is a Practitioner, the service
 * type as the clinic, when it was made and when it is, and its status in
 * the bookings' words where they have one (fulfilled: attended, noshow:
 * no_show), else FHIR's. One without a start or a patient stays a FHIR
 * resource only. */
static int appointment(struct ctx *x, int o, const char *id)
{
	static const char *const words[][2] = {
		{ "fulfilled", "attended" }, { "noshow", "no_show" },
	};
	char buf[512], path[64], status[64];
	struct cl_row r;

	cl_row_init(&r, cl_silver_table("booking"), x->record);
	put_text(&r, "id", id);
	compartment(x, o, "Appointment", id, buf, sizeof(buf));
	put_text(&r, "patient_id", buf);
	for (uint32_t i = 0, n = d_size(x->d, at(x->d, o, "participant")); i < n; i++) {
		snprintf(path, sizeof(path), "participant[%u].actor.reference", i);
		resolve_ref(x, o, path, buf, sizeof(buf));
		if (strncmp(buf, "Practitioner/", 13) == 0) {
			put_text(&r, "practitioner_id", buf + 13);
			break;
		}
	}
	put_concept(x, &r, o, "serviceType[0]", NULL, "clinic");
	put_time(x, &r, o, "booked_ts", "created");
	put_time(x, &r, o, "appointment_ts", "start");
	str(x->d, o, "status", status, sizeof(status));
	for (size_t i = 0; i < sizeof(words) / sizeof(words[0]); i++)
		if (strcmp(status, words[i][0]) == 0)
			snprintf(status, sizeof(status), "%s", words[i][1]);
	put_text(&r, "status", status);
	/* one not yet scheduled (proposed, waitlisted) or of no patient is not
	 * a booking: kept as a FHIR version only */
	if (!cl_row_get(&r, "appointment_ts") || !cl_row_get(&r, "patient_id")) {
		x->c->other++;
		return CL_OK;
	}
	return put(x, &r);
}

static const struct {
	const char *type;
	int (*fn)(struct ctx *x, int o, const char *id);
} mappers[] = {
	{ "Patient", patient }, { "Practitioner", practitioner },
	{ "Organization", organization }, { "Encounter", encounter },
	{ "Observation", observation }, { "Condition", condition },
	{ "MedicationRequest", medication_request }, { "Procedure", procedure },
	{ "Appointment", appointment },
};

static const char *table_of_type(const char *type);

/* Quarantines the value at token o as the record being read, with the
 * reason cl_error_detail() holds. */
static int refuse(struct ctx *x, const char *table, int o)
{
	char why[300];

	snprintf(why, sizeof(why), "%s", cl_error_detail());
	return cl_silver_quarantine(x->s, table, x->record, why, x->d->src + x->d->toks[o].start,
				    x->d->toks[o].len);
}

/* The id of the Patient reference ref names into out (1), or 0. */
static int patient_ref(const char *ref, char *out, size_t cap)
{
	const char *slash = strrchr(ref, '/');

	if (!slash || slash - ref < 7 || memcmp(slash - 7, "Patient", 7) != 0 ||
	    (slash - ref != 7 && slash[-8] != '/') || !cl_fhir_id_ok(slash + 1))
		return 0;
	snprintf(out, cap, "%s", slash + 1);
	return 1;
}

/* The patient whose compartment the resource at o is in: a Patient's own
 * id, else the Patient its subject (or patient) names, else (as FHIR's
 * Patient CompartmentDefinition has it for Appointment and
 * AppointmentResponse) the first participant's actor that is a Patient;
 * "" for none. */
static void compartment(struct ctx *x, int o, const char *type, const char *id, char *out,
			size_t cap)
{
	char buf[512], path[64];

	out[0] = '\0';
	if (strcmp(type, "Patient") == 0) {
		snprintf(out, cap, "%s", id);
		return;
	}
	if (patient_ref(resolve_ref(x, o, "subject.reference", buf, sizeof(buf)), out, cap) ||
	    patient_ref(resolve_ref(x, o, "patient.reference", buf, sizeof(buf)), out, cap))
		return;
	if (strcmp(type, "AppointmentResponse") == 0) {
		patient_ref(resolve_ref(x, o, "actor.reference", buf, sizeof(buf)), out, cap);
		return;
	}
	if (strcmp(type, "Appointment") != 0)
		return;
	for (uint32_t i = 0, n = d_size(x->d, at(x->d, o, "participant")); i < n; i++) {
		snprintf(path, sizeof(path), "participant[%u].actor.reference", i);
		if (patient_ref(resolve_ref(x, o, path, buf, sizeof(buf)), out, cap))
			return;
	}
}

/* A reference as a Bundle entry's fullUrl into the entry's Type/id. */
static const char *resolve_entry(void *arg, const char *ref, char *buf, size_t cap)
{
	struct ctx *x = arg;
	void **slot = x->urls ? cl_map_slot(x->urls, ref, strlen(ref), 0) : NULL;

	if (!slot || !*slot)
		return ref;
	snprintf(buf, cap, "%s", (const char *)*slot);
	return buf;
}

static int put_key(void *w, const struct cl_fhir_key *k)
{
	return cl_fhir_put_key(w, k);
}

/* Keeps the resource at o as a version of type/id (cl_store_fhir.h): the
 * FHIR API serves it back as it came. An id that is no FHIR id cannot be
 * asked for: its rows load, no version is kept. */
static int keep_version(struct ctx *x, int o, const char *type, const char *id)
{
	char patient[CL_FHIR_ID_MAX];
	int64_t version;
	int rc;

	if (!cl_fhir_id_ok(id))
		return CL_OK;
	compartment(x, o, type, id, patient, sizeof(patient));
	rc = cl_fhir_put(cl_silver_fhir(x->s), type, id, patient,
			 x->d->src + x->d->toks[o].start, x->d->toks[o].len, cl_silver_time(x->s),
			 x->record, &version);
	/* a new version: its search keys, references resolved as the rows' */
	if (rc == CL_OK && version > 0)
		rc = cl_fhir_index(x->d, (uint32_t)o, type, resolve_entry, x, put_key,
				   cl_silver_fhir(x->s));
	return rc;
}

/* One resource; id_hint: the id from a urn:uuid fullUrl when it has none. */
static int resource(struct ctx *x, int o, const char *id_hint)
{
	char type[64], id[256];
	const char *issue;
	int rt, rc;

	if (o < 0 || x->d->toks[o].type != CL_JSON_OBJECT)
		return cl_silver_quarantine(x->s, NULL, x->record, "not a FHIR resource (not an object)",
					    NULL, 0);
	rt = cl_json_get(x->d, (uint32_t)o, "resourceType");
	if (rt >= 0 && x->d->toks[rt].type != CL_JSON_STRING) {
		cl_error_set(CL_EINVAL, "resourceType must be a string, not %s",
			     cl_json_type_name(x->d->toks[rt].type));
		return refuse(x, NULL, o);
	}
	str(x->d, o, "resourceType", type, sizeof(type));
	if (!type[0])
		return cl_silver_quarantine(x->s, NULL, x->record, "resourceType is missing",
					    x->d->src + x->d->toks[o].start, x->d->toks[o].len);
	for (size_t i = 0; i < sizeof(mappers) / sizeof(mappers[0]); i++) {
		if (strcmp(type, mappers[i].type) != 0)
			continue;
		/* every element the mapper reads has its FHIR type: a resource
		 * read with a wrong one would lose it without a word */
		if (cl_fhir_check(x->d, (uint32_t)o, &issue) != CL_OK)
			return refuse(x, table_of_type(type), o);
		str(x->d, o, "id", id, sizeof(id));
		if (!id[0] && id_hint)
			snprintf(id, sizeof(id), "%s", id_hint);
		if (!id[0]) {
			char why[128];

			snprintf(why, sizeof(why), "%s without an id", type);
			return cl_silver_quarantine(x->s, NULL, x->record, why,
						    x->d->src + x->d->toks[o].start,
						    x->d->toks[o].len);
		}
		rc = keep_version(x, o, type, id);
		return rc == CL_OK ? mappers[i].fn(x, o, id) : rc;
	}
	/* no silver table: kept in bronze and as a FHIR version, counted */
	str(x->d, o, "id", id, sizeof(id));
	if (!id[0] && id_hint)
		snprintf(id, sizeof(id), "%s", id_hint);
	x->c->other++;
	return id[0] ? keep_version(x, o, type, id) : CL_OK;
}

static void free_str(void *p)
{
	cl_free(p);
}

static const char *table_of_type(const char *type)
{
	static const char *const map[][2] = {
		{ "Patient", "patient" }, { "Practitioner", "practitioner" },
		{ "Organization", "organization" }, { "Encounter", "encounter" },
		{ "Observation", "observation" }, { "Condition", "condition" },
		{ "MedicationRequest", "medication_request" }, { "Procedure", "procedure" },
		{ "Appointment", "booking" },
	};

	for (size_t i = 0; i < sizeof(map) / sizeof(map[0]); i++)
		if (strcmp(type, map[i][0]) == 0)
			return map[i][1];
	return NULL;
}

static int bundle(struct ctx *x, int b)
{
	int entries = at(x->d, b, "entry");
	int rc = CL_OK;
	const char *issue;

	/* its type and entry list; the entries each on their own below */
	if (cl_fhir_check(x->d, (uint32_t)b, &issue) != CL_OK)
		return refuse(x, NULL, b);

	if (cl_map_create(&x->urls) != CL_OK)
		return cl_error_set(CL_ENOMEM, "no memory for a Bundle");
	/* fullUrl -> Type/id, so urn:uuid references resolve */
	for (uint32_t k = 0; k < d_size(x->d, entries); k++) {
		int e = elem(x->d, entries, k), res = at(x->d, e, "resource");
		char url[512], type[64], id[256], *v;
		void **slot;

		str(x->d, e, "fullUrl", url, sizeof(url));
		str(x->d, res, "resourceType", type, sizeof(type));
		str(x->d, res, "id", id, sizeof(id));
		if (!url[0] || !type[0])
			continue;
		if (!id[0] && strncmp(url, "urn:uuid:", 9) == 0)
			snprintf(id, sizeof(id), "%.200s", url + 9);
		if (!id[0])
			continue;
		slot = cl_map_slot(x->urls, url, strlen(url), 1);
		v = cl_malloc(strlen(type) + strlen(id) + 2);
		if (!slot || !v) {
			cl_free(v);
			rc = cl_error_set(CL_ENOMEM, "no memory for a Bundle");
			break;
		}
		sprintf(v, "%s/%s", type, id);
		cl_free(*slot);
		*slot = v;
	}
	for (uint32_t k = 0; rc == CL_OK && k < d_size(x->d, entries); k++) {
		int e = elem(x->d, entries, k), res = at(x->d, e, "resource");
		char method[16], url[512];

		snprintf(x->record, sizeof(x->record), "entry %u", k);
		if (cl_fhir_check_entry(x->d, (uint32_t)e, k, &issue) != CL_OK) {
			rc = refuse(x, NULL, e);
			continue;
		}
		str(x->d, e, "request.method", method, sizeof(method));
		if (strcmp(method, "DELETE") == 0) {
			char type[64];
			const char *slash, *table;

			str(x->d, e, "request.url", url, sizeof(url));
			slash = strchr(url, '/');
			snprintf(type, sizeof(type), "%.*s", slash ? (int)(slash - url) : 0, url);
			table = table_of_type(type);
			if (table && slash)
				rc = cl_silver_delete(x->s, table, slash + 1);
			if (rc == CL_OK && slash && cl_fhir_id_ok(slash + 1)) {
				int64_t version;

				rc = cl_fhir_delete(cl_silver_fhir(x->s), type, slash + 1,
						    cl_silver_time(x->s), x->record, &version);
			}
			continue;
		}
		if (strcmp(method, "GET") == 0 || strcmp(method, "HEAD") == 0 || res < 0)
			continue; /* reads, not data */
		str(x->d, e, "fullUrl", url, sizeof(url));
		rc = resource(x, res, strncmp(url, "urn:uuid:", 9) == 0 ? url + 9 : NULL);
	}
	cl_map_destroy(x->urls, free_str);
	x->urls = NULL;
	return rc;
}

int cl_fhir_sniff(const char *src, size_t len)
{
	size_t n = len < 4096 ? len : 4096;

	while (n && (*src == ' ' || *src == '\n' || *src == '\r' || *src == '\t')) {
		src++;
		n--;
	}
	return n && *src == '{' && memmem(src, n, "\"resourceType\"", 14) != NULL;
}

/* One JSON document: a resource or a Bundle. */
static int document(struct ctx *x)
{
	char type[64];

	str(x->d, 0, "resourceType", type, sizeof(type));
	if (strcmp(type, "Bundle") == 0)
		return bundle(x, 0);
	return resource(x, 0, NULL);
}

int cl_fhir_load(struct cl_silver *s, const char *src, size_t len, struct cl_silver_counts *c)
{
	struct cl_json_doc doc;
	struct ctx x = { .s = s, .c = c, .d = &doc };
	int rc;

	cl_json_doc_init(&doc);
	rc = cl_json_parse(&doc, src, len);
	if (rc == CL_OK) {
		snprintf(x.record, sizeof(x.record), "resource");
		rc = document(&x);
		cl_json_doc_free(&doc);
		return rc;
	}
	/* not one document: NDJSON, one resource per line? */
	{
		const char *p = src, *end = src + len;
		uint64_t line = 0, good = 0, bad = 0;
		char first_err[200] = "";

		snprintf(first_err, sizeof(first_err), "%s", doc.err);
		/* NDJSON only if its first line is a JSON document of its own;
		 * otherwise this is one broken document (truncated, say) */
		{
			const char *q = src;
			size_t n;

			while (q < end && (*q == '\n' || *q == '\r' || *q == ' '))
				q++;
			const char *eol = memchr(q, '\n', (size_t)(end - q));

			n = (size_t)((eol ? eol : end) - q);
			if (cl_json_parse(&doc, q, n) != CL_OK) {
				cl_json_doc_free(&doc);
				return cl_error_set(CL_EPARSE, "not valid JSON: %s", first_err);
			}
		}
		rc = CL_OK;
		while (rc == CL_OK && p < end) {
			const char *nl = memchr(p, '\n', (size_t)(end - p));
			size_t n = nl ? (size_t)(nl - p) : (size_t)(end - p);

			line++;
			while (n && (p[n - 1] == '\r' || p[n - 1] == ' '))
				n--;
			if (n) {
				snprintf(x.record, sizeof(x.record), "line %llu", (unsigned long long)line);
				if (cl_json_parse(&doc, p, n) != CL_OK) {
					char why[240];

					bad++;
					snprintf(why, sizeof(why), "not JSON: %s", doc.err);
					rc = cl_silver_quarantine(s, NULL, x.record, why, p, n);
				} else {
					good++;
					rc = document(&x);
				}
			}
			p = nl ? nl + 1 : end;
		}
		cl_json_doc_free(&doc);
		(void)good;
		(void)bad;
		return rc;
	}
}

int cl_fhir_load_record(struct cl_silver *s, const char *src, size_t len, const char *record,
			struct cl_silver_counts *c)
{
	struct cl_json_doc doc;
	struct ctx x = { .s = s, .c = c, .d = &doc };
	int rc;

	cl_json_doc_init(&doc);
	snprintf(x.record, sizeof(x.record), "%s", record);
	if (cl_json_parse(&doc, src, len) != CL_OK) {
		char why[240];

		snprintf(why, sizeof(why), "not JSON: %s", doc.err);
		rc = cl_silver_quarantine(s, NULL, record, why, src, len);
	} else {
		rc = document(&x);
	}
	cl_json_doc_free(&doc);
	return rc;
}
