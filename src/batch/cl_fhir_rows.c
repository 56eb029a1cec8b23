/*
 * Silver rows as FHIR resources. See cl_fhir_rows.h.
 *
 * Each silver table that represents a FHIR resource has a renderer that
 * builds the resource from the row's columns (jansson objects, written
 * compactly); the resource goes to cl_fhir_put, which keeps a version only
 * when it differs from the current one, and its search keys are read by
 * the same catalogue as every other resource's (cl_fhir_index_text).
 *
 * Codes: silver keeps a code without its system. The system is named
 * where the table and the code's shape say it: observations' codes of the
 * shape 1234-5 are LOINC, conditions', procedures' and encounters' codes
 * of digits are SNOMED CT and a condition's of the shape A12.3 ICD-10,
 * medications' of digits RxNorm; any other code is given without a
 * system. A device vital with no LOINC code (consciousness, supplemental
 * oxygen) is coded in carelake's own system, urn:carelake:vital.
 */
#include "cl_fhir_rows.h"
#include "core/cl_error.h"
#include "core/cl_mem.h"
#include "core/cl_time.h"
#include "fhir/cl_fhir_index.h"
#include "fhir/cl_fhir_search.h"
#include "model/cl_tables.h"
#include "store/cl_store_fhir.h"

#include <ctype.h>
#include <jansson.h>
#include <sodium.h>
#include <sqlite3.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#define LOINC "http://loinc.org"
#define SNOMED "http://snomed.info/sct"
#define ICD10 "http://hl7.org/fhir/sid/icd-10"
#define RXNORM "http://www.nlm.nih.gov/research/umls/rxnorm"
#define UCUM "http://unitsofmeasure.org"
#define STAFF "urn:carelake:staff"
#define VITAL "urn:carelake:vital"

/* One row being rendered: the statement positioned on it. */
struct row {
	sqlite3_stmt *st;
	struct cl_fhir_rows *p;
};

/* A resource made from a row: its type and id, its compartment. */
struct made {
	const char *type;
	char id[CL_FHIR_ID_MAX];
	char patient[CL_FHIR_ID_MAX];
};

typedef int (*render_fn)(const struct row *r, json_t *res, struct made *m);

struct kind {
	const char *table;
	const char *type;
	render_fn render;
	const char *extra;    /* more columns, and the joins they need */
};

/* A run that had not ended when it was served (its process may have
 * stopped): served again once it ends, not before. */
#define OPEN_RUNS 64

struct cl_fhir_rows {
	sqlite3 *db;
	struct cl_fhir_writer *w;
	sqlite3_stmt *bp;          /* a blood pressure's two values */
	int64_t floor;             /* every run up to it is served */
	int64_t run;               /* the run being served (0: none) */
	int run_ended;             /* it had ended when it was taken up */
	size_t kind;               /* the table being read */
	int64_t at_rowid;          /* the last row of it served */
	int64_t open[OPEN_RUNS];   /* runs served before they ended */
	int nopen;
};

/* ---- the row's columns ---- */

static int col_index(const struct row *r, const char *name)
{
	int n = sqlite3_column_count(r->st);

	for (int i = 0; i < n; i++)
		if (strcmp(sqlite3_column_name(r->st, i), name) == 0)
			return i;
	return -1;
}

/* A text column's value, or NULL when it is NULL or empty. */
static const char *txt(const struct row *r, const char *name)
{
	int i = col_index(r, name);
	const char *s = i < 0 ? NULL : (const char *)sqlite3_column_text(r->st, i);

	return s && *s ? s : NULL;
}

static int num(const struct row *r, const char *name, double *out)
{
	int i = col_index(r, name);

	if (i < 0 || sqlite3_column_type(r->st, i) == SQLITE_NULL)
		return 0;
	*out = sqlite3_column_double(r->st, i);
	return 1;
}

/* ---- building the resource ---- */

static void put_str(json_t *o, const char *key, const char *s)
{
	if (s)
		json_object_set_new(o, key, json_string(s));
}

static int one_of(const char *s, const char *const *set)
{
	for (; s && *set; set++)
		if (strcmp(s, *set) == 0)
			return 1;
	return 0;
}

void cl_fhir_rows_id(const char *silver_id, char out[65])
{
	unsigned char h[16];

	if (cl_fhir_id_ok(silver_id)) {
		snprintf(out, 65, "%s", silver_id);
		return;
	}
	crypto_generichash(h, sizeof(h), (const unsigned char *)silver_id, strlen(silver_id), NULL,
			   0);
	out[0] = 'h';
	sodium_bin2hex(out + 1, 64, h, sizeof(h));
}

/* {"reference": "Type/id"} for a silver id, or NULL for none. */
static json_t *ref(const char *type, const char *silver_id)
{
	char id[CL_FHIR_ID_MAX], text[CL_FHIR_TYPE_MAX + CL_FHIR_ID_MAX + 1];

	if (!silver_id)
		return NULL;
	cl_fhir_rows_id(silver_id, id);
	snprintf(text, sizeof(text), "%s/%s", type, id);
	return json_pack("{ss}", "reference", text);
}

static void put_ref(json_t *o, const char *key, const char *type, const char *silver_id)
{
	json_t *v = ref(type, silver_id);

	if (v)
		json_object_set_new(o, key, v);
}

/* The subject or patient a row names: the reference, and the compartment. */
static void put_patient(const struct row *r, json_t *res, const char *key, struct made *m)
{
	const char *p = txt(r, "patient_id");

	if (!p)
		return;
	cl_fhir_rows_id(p, m->patient);
	put_ref(res, key, "Patient", p);
}

/* A FHIR date from silver's time text: its first ten characters when it
 * has a day, else NULL. */
static void put_date(json_t *o, const char *key, const char *t)
{
	if (t && strlen(t) >= 10)
		json_object_set_new(o, key, json_stringn(t, 10));
}

/* A dateTime or instant: silver keeps RFC 3339 in UTC, or a day alone. */
static void put_time(json_t *o, const char *key, const char *t)
{
	put_str(o, key, t);
}

static int all_digits(const char *s)
{
	if (!s || !*s)
		return 0;
	for (; *s; s++)
		if (!isdigit((unsigned char)*s))
			return 0;
	return 1;
}

/* LOINC's shape: digits, a dash, one check digit. */
static int loinc_shape(const char *s)
{
	size_t n = s ? strlen(s) : 0;

	return n >= 3 && s[n - 2] == '-' && isdigit((unsigned char)s[n - 1]) &&
	       strspn(s, "0123456789") == n - 2;
}

/* ICD-10's shape: a letter, two characters, and a dotted tail. */
static int icd10_shape(const char *s)
{
	size_t n = s ? strlen(s) : 0;

	if (n < 3 || n > 8 || !isupper((unsigned char)s[0]) || !isdigit((unsigned char)s[1]) ||
	    !isalnum((unsigned char)s[2]))
		return 0;
	if (n == 3)
		return 1;
	if (s[3] != '.' || n == 4)
		return 0;
	for (size_t i = 4; i < n; i++)
		if (!isalnum((unsigned char)s[i]))
			return 0;
	return 1;
}

/* A CodeableConcept of one coding; NULL when there is neither a code nor
 * a text. */
static json_t *concept(const char *system, const char *code, const char *display)
{
	json_t *c, *coding;

	if (!code && !display)
		return NULL;
	if (!code)
		return json_pack("{ss}", "text", display);
	coding = json_object();
	put_str(coding, "system", system);
	put_str(coding, "code", code);
	put_str(coding, "display", display);
	c = json_pack("{s[o]}", "coding", coding);
	put_str(c, "text", display);
	return c;
}

static void put_concept(json_t *o, const char *key, const char *system, const char *code,
			const char *display)
{
	json_t *c = concept(system, code, display);

	if (c)
		json_object_set_new(o, key, c);
}

static void put_concepts(json_t *o, const char *key, const char *system, const char *code,
			 const char *display)
{
	json_t *c = concept(system, code, display);

	if (c)
		json_object_set_new(o, key, json_pack("[o]", c));
}

/* A HumanName from family and given, or the whole name as text. */
static void put_name(const struct row *r, json_t *res)
{
	const char *family = txt(r, "family"), *given = txt(r, "given"), *name = txt(r, "name");
	json_t *n;

	if (!family && !given && !name)
		return;
	n = json_object();
	put_str(n, "family", family);
	if (given)
		json_object_set_new(n, "given", json_pack("[s]", given));
	if (!family && !given)
		put_str(n, "text", name);
	json_object_set_new(res, "name", json_pack("[o]", n));
}

static void put_address(const struct row *r, json_t *res)
{
	json_t *a = json_object();

	put_str(a, "city", txt(r, "city"));
	put_str(a, "state", txt(r, "state"));
	put_str(a, "postalCode", txt(r, "postal_code"));
	put_str(a, "country", txt(r, "country"));
	if (json_object_size(a))
		json_object_set_new(res, "address", json_pack("[o]", a));
	else
		json_decref(a);
}

static void put_gender(const struct row *r, json_t *res)
{
	static const char *const genders[] = { "male", "female", "other", "unknown", NULL };
	const char *g = txt(r, "gender");

	if (one_of(g, genders))
		put_str(res, "gender", g);
}

/* A status when it is one of the type's codes, else the fallback. */
static const char *status_of(const struct row *r, const char *const *codes, const char *fallback)
{
	const char *s = txt(r, "status");

	return one_of(s, codes) ? s : fallback;
}

/* A quantity; UCUM named when the unit is known to be UCUM. */
static json_t *quantity(double v, const char *unit, int ucum)
{
	json_t *q = json_pack("{sf}", "value", v);

	put_str(q, "unit", unit);
	if (ucum && unit) {
		put_str(q, "system", UCUM);
		put_str(q, "code", unit);
	}
	return q;
}

/* ---- the renderers ---- */

static int patient(const struct row *r, json_t *res, struct made *m)
{
	static const char marital[] = "ADILMPSTUW";
	const char *ms = txt(r, "marital_status"), *race = txt(r, "race"),
		   *ethnicity = txt(r, "ethnicity");
	json_t *ext = json_array();

	snprintf(m->patient, sizeof(m->patient), "%s", m->id);
	put_name(r, res);
	put_gender(r, res);
	put_date(res, "birthDate", txt(r, "birth_date"));
	put_time(res, "deceasedDateTime", txt(r, "death_date"));
	if (ms && strlen(ms) == 1 && strchr(marital, ms[0]))
		put_concept(res, "maritalStatus",
			    "http://terminology.hl7.org/CodeSystem/v3-MaritalStatus", ms, NULL);
	else
		put_concept(res, "maritalStatus", NULL, NULL, ms);
	/* US Core's race and ethnicity with their text only: the rows hold
	 * words, not OMB codes */
	if (race)
		json_array_append_new(ext, json_pack("{ss s[{ss ss}]}", "url",
			"http://hl7.org/fhir/us/core/StructureDefinition/us-core-race", "extension",
			"url", "text", "valueString", race));
	if (ethnicity)
		json_array_append_new(ext, json_pack("{ss s[{ss ss}]}", "url",
			"http://hl7.org/fhir/us/core/StructureDefinition/us-core-ethnicity",
			"extension", "url", "text", "valueString", ethnicity));
	if (json_array_size(ext))
		json_object_set_new(res, "extension", ext);
	else
		json_decref(ext);
	put_address(r, res);
	put_ref(res, "managingOrganization", "Organization", txt(r, "organization_id"));
	return CL_OK;
}

static int practitioner(const struct row *r, json_t *res, struct made *m)
{
	const char *specialty = txt(r, "specialty");

	(void)m;
	put_name(r, res);
	put_gender(r, res);
	put_address(r, res);
	if (specialty)
		json_object_set_new(res, "qualification",
				    json_pack("[{s{ss}}]", "code", "text", specialty));
	return CL_OK;
}

static int organization(const struct row *r, json_t *res, struct made *m)
{
	(void)m;
	json_object_set_new(res, "active", json_true());
	put_str(res, "name", txt(r, "name"));
	put_address(r, res);
	return CL_OK;
}

/* An encounter's class: v3 ActCode from the words Synthea and carelake
 * write, or the word itself. */
static json_t *encounter_class(const char *cls)
{
	static const struct {
		const char *word, *code, *display;
	} classes[] = {
		{ "ambulatory", "AMB", "ambulatory" }, { "wellness", "AMB", "ambulatory" },
		{ "outpatient", "AMB", "ambulatory" }, { "urgentcare", "AMB", "ambulatory" },
		{ "amb", "AMB", "ambulatory" }, { "emergency", "EMER", "emergency" },
		{ "emer", "EMER", "emergency" }, { "inpatient", "IMP", "inpatient encounter" },
		{ "imp", "IMP", "inpatient encounter" }, { "icu", "ACUTE", "inpatient acute" },
		{ "acute", "ACUTE", "inpatient acute" }, { "virtual", "VR", "virtual" },
		{ "vr", "VR", "virtual" }, { "home", "HH", "home health" },
		{ "hh", "HH", "home health" },
	};

	for (size_t i = 0; cls && i < sizeof(classes) / sizeof(classes[0]); i++)
		if (strcasecmp(cls, classes[i].word) == 0)
			return json_pack("{ss ss ss}", "system",
					 "http://terminology.hl7.org/CodeSystem/v3-ActCode", "code",
					 classes[i].code, "display", classes[i].display);
	return json_pack("{ss}", "display", cls ? cls : "unknown");
}

static int encounter(const struct row *r, json_t *res, struct made *m)
{
	static const char *const codes[] = { "planned", "arrived", "triaged", "in-progress",
					     "onleave", "finished", "cancelled",
					     "entered-in-error", "unknown", NULL };
	const char *start = txt(r, "start_ts"), *end = txt(r, "end_ts"), *code = txt(r, "code"),
		   *reason = txt(r, "reason_code"), *ward = txt(r, "ward");
	json_t *period = json_object();

	put_str(res, "status", status_of(r, codes, end ? "finished" : start ? "in-progress"
							     : "unknown"));
	json_object_set_new(res, "class", encounter_class(txt(r, "class")));
	put_concepts(res, "type", all_digits(code) ? SNOMED : NULL, code, txt(r, "display"));
	put_patient(r, res, "subject", m);
	if (txt(r, "practitioner_id"))
		json_object_set_new(res, "participant", json_pack("[{so}]", "individual",
					ref("Practitioner", txt(r, "practitioner_id"))));
	put_time(period, "start", start);
	put_time(period, "end", end);
	if (json_object_size(period))
		json_object_set_new(res, "period", period);
	else
		json_decref(period);
	put_concepts(res, "reasonCode", all_digits(reason) ? SNOMED : NULL, reason,
		     txt(r, "reason_display"));
	if (ward)
		json_object_set_new(res, "location", json_pack("[{s{ss}}]", "location", "display",
							       ward));
	put_ref(res, "serviceProvider", "Organization", txt(r, "organization_id"));
	return CL_OK;
}

static int condition(const struct row *r, json_t *res, struct made *m)
{
	static const char *const active[] = { "active", "recurrence", "relapse", NULL };
	static const char *const ended[] = { "inactive", "remission", "resolved", NULL };
	const char *code = txt(r, "code"), *cs = txt(r, "clinical_status"),
		   *abated = txt(r, "abatement_ts");
	/* an abatement makes the status one that has ended (con-4) */
	const char *status = abated ? (one_of(cs, ended) ? cs : "resolved")
				    : (one_of(cs, active) || one_of(cs, ended) ? cs : "active");

	put_concept(res, "clinicalStatus",
		    "http://terminology.hl7.org/CodeSystem/condition-clinical", status, NULL);
	put_concept(res, "code", all_digits(code) ? SNOMED : icd10_shape(code) ? ICD10 : NULL,
		    code, txt(r, "display"));
	put_patient(r, res, "subject", m);
	put_ref(res, "encounter", "Encounter", txt(r, "encounter_id"));
	put_time(res, "onsetDateTime", txt(r, "onset_ts"));
	put_time(res, "abatementDateTime", abated);
	return CL_OK;
}

static int medication_request(const struct row *r, json_t *res, struct made *m)
{
	static const char *const codes[] = { "active", "on-hold", "cancelled", "completed",
					     "entered-in-error", "stopped", "draft", "unknown",
					     NULL };
	static const char *const intents[] = { "proposal", "plan", "order", "original-order",
					       "reflex-order", "filler-order", "instance-order",
					       "option", NULL };
	const char *code = txt(r, "code"), *intent = txt(r, "intent");

	put_str(res, "status", status_of(r, codes, "unknown"));
	put_str(res, "intent", one_of(intent, intents) ? intent : "order");
	put_concept(res, "medicationCodeableConcept", all_digits(code) ? RXNORM : NULL, code,
		    txt(r, "display"));
	if (!json_object_get(res, "medicationCodeableConcept"))
		put_concept(res, "medicationCodeableConcept", NULL, NULL, "unknown medication");
	put_patient(r, res, "subject", m);
	put_ref(res, "encounter", "Encounter", txt(r, "encounter_id"));
	put_time(res, "authoredOn", txt(r, "authored_ts"));
	return CL_OK;
}

static int procedure(const struct row *r, json_t *res, struct made *m)
{
	static const char *const codes[] = { "preparation", "in-progress", "not-done",
					     "on-hold", "stopped", "completed",
					     "entered-in-error", "unknown", NULL };
	const char *code = txt(r, "code"), *start = txt(r, "performed_start"),
		   *end = txt(r, "performed_end");

	put_str(res, "status", status_of(r, codes, "completed"));
	put_concept(res, "code", all_digits(code) ? SNOMED : NULL, code, txt(r, "display"));
	put_patient(r, res, "subject", m);
	put_ref(res, "encounter", "Encounter", txt(r, "encounter_id"));
	if (end) {
		json_t *period = json_object();

		put_time(period, "start", start);
		put_time(period, "end", end);
		json_object_set_new(res, "performedPeriod", period);
	} else {
		put_time(res, "performedDateTime", start);
	}
	return CL_OK;
}

static int device(const struct row *r, json_t *res, struct made *m)
{
	static const char *const codes[] = { "active", "inactive", "entered-in-error", "unknown",
					     NULL };
	const char *type = txt(r, "type"), *ward = txt(r, "ward"), *bed = txt(r, "bed");
	char where[256];

	json_object_set_new(res, "identifier", json_pack("[{ss ss}]", "system",
				"urn:carelake:device", "value", txt(r, "id")));
	put_str(res, "status", status_of(r, codes, "unknown"));
	put_concept(res, "type", NULL, NULL, type);
	put_patient(r, res, "patient", m);
	if (ward || bed) {
		snprintf(where, sizeof(where), "%s%s%s", ward ? ward : "", ward && bed ? " " : "",
			 bed ? bed : "");
		json_object_set_new(res, "location", json_pack("{ss}", "display", where));
	}
	return CL_OK;
}

/* The category of an observation: FHIR's code when it is one, else text. */
static void observation_category(const struct row *r, json_t *res)
{
	static const char *const codes[] = { "social-history", "vital-signs", "imaging",
					     "laboratory", "procedure", "survey", "exam",
					     "therapy", "activity", NULL };
	const char *c = txt(r, "category");

	if (one_of(c, codes))
		put_concepts(res, "category",
			     "http://terminology.hl7.org/CodeSystem/observation-category", c, NULL);
	else
		put_concepts(res, "category", NULL, NULL, c);
}

static const char *const observation_status[] = { "registered", "preliminary", "final",
						   "amended", "corrected", "cancelled",
						   "entered-in-error", "unknown", NULL };

/* The code of one measured value. A device's vitals are named as LOINC
 * names them (the row holds carelake's name of the vital); one without a
 * LOINC code (the row's code is the vital's name) is in carelake's own
 * system. */
static json_t *observation_code(const struct row *r, int from_device)
{
	static const struct {
		const char *code, *display;
	} loinc[] = {
		{ "8867-4", "Heart rate" }, { "9279-1", "Respiratory rate" },
		{ "59408-5", "Oxygen saturation in Arterial blood by Pulse oximetry" },
		{ "2708-6", "Oxygen saturation in Arterial blood" },
		{ "8310-5", "Body temperature" }, { "2339-0", "Glucose [Mass/volume] in Blood" },
	};
	const char *code = txt(r, "code"), *display = txt(r, "display");

	if (!from_device)
		return concept(loinc_shape(code) ? LOINC : NULL, code, display);
	if (!loinc_shape(code))
		return concept(VITAL, code, display);
	for (size_t i = 0; i < sizeof(loinc) / sizeof(loinc[0]); i++)
		if (strcmp(code, loinc[i].code) == 0)
			return concept(LOINC, code, loinc[i].display);
	return concept(LOINC, code, display);
}

static int is_bp(const char *code)
{
	return code && (strcmp(code, "8480-6") == 0 || strcmp(code, "8462-4") == 0);
}

/* The panel a systolic or diastolic value belongs to: one per patient,
 * time, device and encounter, with the values that are held of the two. */
static int bp_panel(const struct row *r, json_t *res, struct made *m)
{
	sqlite3_stmt *q = r->p->bp;
	const char *ts = txt(r, "effective_ts"), *dev = txt(r, "device_id"),
		   *enc = txt(r, "encounter_id"), *pat = txt(r, "patient_id");
	char key[1024];
	unsigned char h[12];
	json_t *comps = json_array();
	int rc;

	snprintf(key, sizeof(key), "%s\x1f%s\x1f%s\x1f%s", pat ? pat : "", ts ? ts : "",
		 dev ? dev : "", enc ? enc : "");
	crypto_generichash(h, sizeof(h), (const unsigned char *)key, strlen(key), NULL, 0);
	memcpy(m->id, "bp-", 3);
	sodium_bin2hex(m->id + 3, sizeof(m->id) - 3, h, sizeof(h));

	sqlite3_bind_text(q, 1, pat, -1, SQLITE_TRANSIENT);
	sqlite3_bind_text(q, 2, ts, -1, SQLITE_TRANSIENT);
	sqlite3_bind_text(q, 3, dev ? dev : "", -1, SQLITE_TRANSIENT);
	sqlite3_bind_text(q, 4, enc ? enc : "", -1, SQLITE_TRANSIENT);
	while ((rc = sqlite3_step(q)) == SQLITE_ROW) {
		const char *code = (const char *)sqlite3_column_text(q, 0);
		const char *unit = (const char *)sqlite3_column_text(q, 2);
		json_t *c = json_pack("{so}", "code",
				      concept(LOINC, code, strcmp(code, "8480-6") == 0
							       ? "Systolic blood pressure"
							       : "Diastolic blood pressure"));

		if (sqlite3_column_type(q, 1) != SQLITE_NULL)
			json_object_set_new(c, "valueQuantity",
					    quantity(sqlite3_column_double(q, 1), unit, 1));
		else
			json_object_set_new(c, "dataAbsentReason",
				json_pack("{s[{ss ss}]}", "coding", "system",
					  "http://terminology.hl7.org/CodeSystem/data-absent-reason",
					  "code", "unknown"));
		json_array_append_new(comps, c);
	}
	sqlite3_reset(q);
	sqlite3_clear_bindings(q);
	if (rc != SQLITE_DONE) {
		json_decref(comps);
		return cl_error_set(CL_EIO, "carelake.db: blood pressure of %s: %s", m->id,
				    sqlite3_errmsg(r->p->db));
	}
	put_str(res, "status", status_of(r, observation_status, "final"));
	put_concepts(res, "category", "http://terminology.hl7.org/CodeSystem/observation-category",
		     "vital-signs", NULL);
	put_concept(res, "code", LOINC, "85354-9", "Blood pressure panel with all children optional");
	put_patient(r, res, "subject", m);
	put_ref(res, "encounter", "Encounter", enc);
	put_time(res, "effectiveDateTime", ts);
	put_ref(res, "device", "Device", dev);
	json_object_set_new(res, "component", comps);
	return CL_OK;
}

static int observation(const struct row *r, json_t *res, struct made *m)
{
	const char *unit = txt(r, "unit"), *text = txt(r, "value_text");
	int from_device = txt(r, "device_id") && txt(r, "source") &&
			  strcmp(txt(r, "source"), "device") == 0;
	double v;

	if (is_bp(txt(r, "code")))
		return bp_panel(r, res, m);
	cl_fhir_rows_id(txt(r, "resource_id") ? txt(r, "resource_id") : txt(r, "id"), m->id);
	put_str(res, "status", status_of(r, observation_status, "final"));
	observation_category(r, res);
	json_object_set_new(res, "code", observation_code(r, from_device));
	put_patient(r, res, "subject", m);
	put_ref(res, "encounter", "Encounter", txt(r, "encounter_id"));
	put_time(res, "effectiveDateTime", txt(r, "effective_ts"));
	if (num(r, "value", &v))
		/* device values are in carelake's units, which are UCUM's */
		json_object_set_new(res, "valueQuantity", quantity(v, unit, from_device));
	else if (text)
		put_str(res, "valueString", text);
	put_ref(res, "device", "Device", txt(r, "device_id"));
	return CL_OK;
}

/* A booking's status as an Appointment's. */
static const char *appointment_status(const char *s)
{
	static const struct {
		const char *word, *code;
	} words[] = {
		{ "attended", "fulfilled" }, { "completed", "fulfilled" },
		{ "no_show", "noshow" }, { "no-show", "noshow" }, { "missed", "noshow" },
		{ "canceled", "cancelled" },
	};
	static const char *const codes[] = { "proposed", "pending", "booked", "arrived",
					     "fulfilled", "cancelled", "noshow",
					     "entered-in-error", "checked-in", "waitlist", NULL };

	if (one_of(s, codes))
		return s;
	for (size_t i = 0; s && i < sizeof(words) / sizeof(words[0]); i++)
		if (strcasecmp(s, words[i].word) == 0)
			return words[i].code;
	return "booked"; /* a row of the bookings is a booking */
}

static int booking(const struct row *r, json_t *res, struct made *m)
{
	const char *at = txt(r, "appointment_ts"), *clinic = txt(r, "clinic");
	json_t *who = json_array();

	put_str(res, "status", appointment_status(txt(r, "status")));
	put_concepts(res, "serviceType", NULL, NULL, clinic);
	/* a booking keeps no length: it starts and ends at its time (FHIR
	 * asks for both or neither, app-2) */
	put_time(res, "start", at);
	put_time(res, "end", at);
	put_time(res, "created", txt(r, "booked_ts"));
	if (txt(r, "patient_id")) {
		cl_fhir_rows_id(txt(r, "patient_id"), m->patient);
		json_array_append_new(who, json_pack("{so ss}", "actor",
				      ref("Patient", txt(r, "patient_id")), "status", "accepted"));
	}
	if (txt(r, "practitioner_id"))
		json_array_append_new(who, json_pack("{so ss}", "actor",
				      ref("Practitioner", txt(r, "practitioner_id")), "status",
				      "accepted"));
	json_object_set_new(res, "participant", who);
	return CL_OK;
}

/* A member of staff: their Practitioner when the roster names one, else
 * the staff id as a logical reference. */
static json_t *staff(const struct row *r)
{
	const char *s = txt(r, "staff_id"), *pr = txt(r, "staff_practitioner");

	if (pr)
		return ref("Practitioner", pr);
	return s ? json_pack("{s{ss ss}}", "identifier", "system", STAFF, "value", s) : NULL;
}

static int communication(const struct row *r, json_t *res, struct made *m)
{
	static const struct {
		const char *channel, *code, *display;
	} media[] = {
		{ "call", "PHONE", "telephone" }, { "email", "EMAILWRIT", "email" },
		{ "sms", "WRITTEN", "written" }, { "online", "ONLINEWRIT", "online written" },
	};
	const char *ch = txt(r, "channel"), *dir = txt(r, "direction");
	json_t *patient = ref("Patient", txt(r, "patient_id")), *other = staff(r);
	int inbound = dir && strcasecmp(dir, "inbound") == 0;

	put_str(res, "status", "completed");
	for (size_t i = 0; ch && i < sizeof(media) / sizeof(media[0]); i++)
		if (strcmp(ch, media[i].channel) == 0)
			json_object_set_new(res, "medium", json_pack("[{s[{ss ss ss}] ss}]",
					    "coding", "system",
					    "http://terminology.hl7.org/CodeSystem/v3-ParticipationMode",
					    "code", media[i].code, "display", media[i].display,
					    "text", ch));
	if (patient) {
		cl_fhir_rows_id(txt(r, "patient_id"), m->patient);
		json_object_set(res, "subject", patient);
	}
	put_time(res, "sent", txt(r, "ts"));
	/* inbound: the patient wrote or called; outbound: the staff did */
	if (inbound) {
		if (patient)
			json_object_set(res, "sender", patient);
		if (other)
			json_object_set_new(res, "recipient", json_pack("[O]", other));
	} else {
		if (other)
			json_object_set(res, "sender", other);
		if (patient)
			json_object_set_new(res, "recipient", json_pack("[O]", patient));
	}
	put_concept(res, "topic", NULL, NULL, txt(r, "topic"));
	json_decref(patient);
	json_decref(other);
	return CL_OK;
}

static int survey_response(const struct row *r, json_t *res, struct made *m)
{
	const char *q = txt(r, "question"), *comment = txt(r, "comment");
	json_t *items = json_array(), *item = json_pack("{ss ss}", "linkId", q ? q : "answer",
							 "text", q ? q : "answer");
	double score;

	put_str(res, "status", "completed");
	put_patient(r, res, "subject", m);
	put_ref(res, "encounter", "Encounter", txt(r, "encounter_id"));
	put_time(res, "authored", txt(r, "ts"));
	if (num(r, "score", &score))
		json_object_set_new(item, "answer", json_pack("[{sf}]", "valueDecimal", score));
	json_array_append_new(items, item);
	if (comment)
		json_array_append_new(items, json_pack("{ss ss s[{ss}]}", "linkId", "comment",
				      "text", "comment", "answer", "valueString", comment));
	json_object_set_new(res, "item", items);
	return CL_OK;
}

/* The tables served, in the order their references run (what is named
 * first), and what each selects beyond its own columns. */
static const struct kind kinds[] = {
	{ "organization", "Organization", organization, "" },
	{ "practitioner", "Practitioner", practitioner, "" },
	{ "patient", "Patient", patient, "" },
	{ "device", "Device", device, "" },
	{ "encounter", "Encounter", encounter, "" },
	{ "condition", "Condition", condition, "" },
	{ "medication_request", "MedicationRequest", medication_request, "" },
	{ "procedure", "Procedure", procedure, "" },
	{ "observation", "Observation", observation, "" },
	{ "booking", "Appointment", booking, "" },
	{ "communication", "Communication", communication,
	  ", (SELECT s.practitioner_id FROM staff s WHERE s.id = t.staff_id)"
	  " AS staff_practitioner" },
	{ "survey_response", "QuestionnaireResponse", survey_response, "" },
};

#define NKINDS (sizeof(kinds) / sizeof(kinds[0]))

/* ---- serving ---- */

static int db_fail(sqlite3 *db, const char *what)
{
	return cl_error_set(CL_EIO, "carelake.db: %s: %s", what, sqlite3_errmsg(db));
}

int cl_fhir_rows_open(sqlite3 *db, struct cl_fhir_writer *w, struct cl_fhir_rows **out)
{
	struct cl_fhir_rows *p = cl_calloc(1, sizeof(*p));

	if (!p)
		return cl_error_set(CL_ENOMEM, "no memory");
	p->db = db;
	p->w = w;
	if (sqlite3_exec(db, "CREATE TABLE IF NOT EXISTS fhir_rows_served(run_id INTEGER PRIMARY KEY)",
			 NULL, NULL, NULL) != SQLITE_OK ||
	    sqlite3_prepare_v2(db, "SELECT code, value, unit FROM observation WHERE patient_id = ?1"
			       " AND effective_ts = ?2 AND code IN ('8480-6', '8462-4')"
			       " AND coalesce(device_id, '') = ?3 AND coalesce(encounter_id, '') = ?4"
			       " AND source IS NOT 'fhir' ORDER BY code DESC",
			       -1, &p->bp, NULL) != SQLITE_OK) {
		int rc = db_fail(db, "fhir_rows_served");

		cl_fhir_rows_close(p);
		return rc;
	}
	*out = p;
	return CL_OK;
}

void cl_fhir_rows_close(struct cl_fhir_rows *p)
{
	if (!p)
		return;
	sqlite3_finalize(p->bp);
	cl_free(p);
}

static int was_open(const struct cl_fhir_rows *p, int64_t run)
{
	for (int i = 0; i < p->nopen; i++)
		if (p->open[i] == run)
			return 1;
	return 0;
}

/* 1 when run loaded FHIR files and nothing else: its rows are all served
 * as stored, and reading them to find that out would cost a pass over
 * every row it loaded. A refine run reads the logs, device events too. */
static int only_fhir_files(struct cl_fhir_rows *p, int64_t run)
{
	sqlite3_stmt *q;
	int yes = 0;

	if (sqlite3_prepare_v2(p->db, "SELECT EXISTS (SELECT 1 FROM bronze_file WHERE run_id = ?1)"
			       " AND NOT EXISTS (SELECT 1 FROM bronze_file WHERE run_id = ?1"
			       " AND format != 'fhir') AND (SELECT pipeline FROM pipeline_run"
			       " WHERE id = ?1) NOT LIKE 'refine%'", -1, &q, NULL) != SQLITE_OK)
		return 0;
	sqlite3_bind_int64(q, 1, run);
	if (sqlite3_step(q) == SQLITE_ROW)
		yes = sqlite3_column_int(q, 0);
	sqlite3_finalize(q);
	return yes;
}

/* The next run to serve: the first not served that has ended, or that
 * began over an hour ago and was not served open already. Runs still
 * loading are left for later; the floor moves over the served ones that
 * come before the first of those. */
static int next_run(struct cl_fhir_rows *p)
{
	sqlite3_stmt *q;
	int rc, gap = 0;

	if (sqlite3_prepare_v2(p->db, "SELECT r.id, r.end_us IS NOT NULL, r.start_us < ?2,"
			       " EXISTS (SELECT 1 FROM fhir_rows_served s WHERE s.run_id = r.id)"
			       " FROM pipeline_run r WHERE r.id > ?1 ORDER BY r.id", -1, &q, NULL) !=
	    SQLITE_OK)
		return db_fail(p->db, "pipeline_run");
	sqlite3_bind_int64(q, 1, p->floor);
	sqlite3_bind_int64(q, 2, cl_time_now_us() - 3600 * INT64_C(1000000));
	p->run = 0;
	while ((rc = sqlite3_step(q)) == SQLITE_ROW) {
		int64_t id = sqlite3_column_int64(q, 0);
		int ended = sqlite3_column_int(q, 1), stale = sqlite3_column_int(q, 2);

		if (sqlite3_column_int(q, 3)) {
			if (!gap)
				p->floor = id;
			continue;
		}
		if (ended || (stale && !was_open(p, id))) {
			p->run = id;
			p->run_ended = ended;
			p->kind = ended && only_fhir_files(p, id) ? NKINDS : 0;
			p->at_rowid = 0;
			break;
		}
		gap = 1;
	}
	sqlite3_finalize(q);
	return rc == SQLITE_ROW || rc == SQLITE_DONE ? CL_OK : db_fail(p->db, "pipeline_run");
}

/* The run is served: recorded when it had ended, else remembered so that
 * it is served again (whole) once it has. */
static int run_served(struct cl_fhir_rows *p)
{
	sqlite3_stmt *q;
	int rc = CL_OK;

	if (!p->run_ended) {
		if (p->nopen == OPEN_RUNS)
			memmove(p->open, p->open + 1, sizeof(p->open[0]) * (OPEN_RUNS - 1)), p->nopen--;
		p->open[p->nopen++] = p->run;
	} else if (sqlite3_prepare_v2(p->db, "INSERT OR IGNORE INTO fhir_rows_served(run_id)"
				      " VALUES (?1)", -1, &q, NULL) != SQLITE_OK) {
		rc = db_fail(p->db, "fhir_rows_served");
	} else {
		sqlite3_bind_int64(q, 1, p->run);
		rc = sqlite3_step(q) == SQLITE_DONE ? CL_OK : db_fail(p->db, "fhir_rows_served");
		sqlite3_finalize(q);
	}
	p->run = 0;
	return rc;
}

/* One row as its resource, kept as a version when it changed. */
static int serve_row(struct cl_fhir_rows *p, const struct kind *k, sqlite3_stmt *st,
		     uint64_t *kept)
{
	struct row r = { st, p };
	struct made m = { .type = k->type };
	char source[128], file[128], record[128];
	json_t *res = json_object();
	char *text = NULL;
	int64_t version = 0;
	int rc;

	cl_fhir_rows_id(txt(&r, "id"), m.id);
	rc = k->render(&r, res, &m);
	if (rc == CL_OK) {
		/* resourceType and id first, as FHIR writes them (the renderer
		 * may have made the id) */
		json_t *ordered = json_pack("{ss ss}", "resourceType", k->type, "id", m.id);

		json_object_update(ordered, res);
		text = json_dumps(ordered, JSON_COMPACT | JSON_PRESERVE_ORDER |
					       JSON_REAL_PRECISION(15));
		json_decref(ordered);
		if (!text)
			rc = cl_error_set(CL_ENOMEM, "no memory");
	}
	json_decref(res);
	if (rc == CL_OK) {
		snprintf(source, sizeof(source), "%s", txt(&r, "_source") ? txt(&r, "_source") : "");
		snprintf(file, sizeof(file), "%s", txt(&r, "_bronze_file") ? txt(&r, "_bronze_file")
									   : "");
		snprintf(record, sizeof(record), "%s %s", k->table,
			 txt(&r, "_record") ? txt(&r, "_record") : "");
		cl_fhir_writer_lineage(p->w, source, file, p->run);
		rc = cl_fhir_put(p->w, m.type, m.id, m.patient, text, strlen(text),
				 cl_time_now_us(), record, &version);
	}
	if (rc == CL_OK && version > 0) {
		rc = cl_fhir_index_text(p->w, m.type, text, strlen(text));
		(*kept)++;
	}
	free(text);
	return rc;
}

/* Up to limit rows of the run in one table, past the last served. */
static int serve_table(struct cl_fhir_rows *p, const struct kind *k, int limit, int *served,
		       uint64_t *kept)
{
	char sql[1024];
	sqlite3_stmt *st;
	int rc = CL_OK, step;

	/* rows that arrived as FHIR are served as they were stored */
	snprintf(sql, sizeof(sql), "SELECT t.rowid, t.*, " CL_LINEAGE_FILE_OF("t._file_id")
		 " AS _bronze_file%s FROM %s t"
		 " WHERE t._run_id = ?1 AND t.rowid > ?2"
		 " AND t._file_id NOT IN (SELECT id FROM lineage_file WHERE file = 'log:fhir'"
		 " OR file IN (SELECT hash FROM bronze_file WHERE format = 'fhir'))%s"
		 " ORDER BY t.rowid LIMIT ?3", k->extra, k->table,
		 strcmp(k->table, "observation") == 0 ? " AND t.source IS NOT 'fhir'" : "");
	if (sqlite3_prepare_v2(p->db, sql, -1, &st, NULL) != SQLITE_OK)
		return db_fail(p->db, k->table);
	sqlite3_bind_int64(st, 1, p->run);
	sqlite3_bind_int64(st, 2, p->at_rowid);
	sqlite3_bind_int(st, 3, limit);
	while (rc == CL_OK && (step = sqlite3_step(st)) == SQLITE_ROW) {
		rc = serve_row(p, k, st, kept);
		p->at_rowid = sqlite3_column_int64(st, 0);
		(*served)++;
	}
	if (rc == CL_OK && step != SQLITE_DONE)
		rc = db_fail(p->db, k->table);
	sqlite3_finalize(st);
	return rc;
}

int cl_fhir_rows_step(struct cl_fhir_rows *p, int limit, uint64_t *kept, int *done)
{
	int rc = CL_OK;

	*done = 0;
	while (rc == CL_OK && limit > 0) {
		int served = 0;

		if (!p->run) {
			rc = next_run(p);
			if (rc == CL_OK && !p->run) {
				*done = 1;
				break;
			}
			continue;
		}
		if (p->kind == NKINDS) {
			rc = run_served(p);
			continue;
		}
		rc = serve_table(p, &kinds[p->kind], limit, &served, kept);
		limit -= served;
		if (rc == CL_OK && limit > 0) {
			/* none left in this table */
			p->kind++;
			p->at_rowid = 0;
		}
	}
	return rc;
}

void cl_fhir_rows_forget(struct cl_fhir_rows *p)
{
	p->run = 0;
	p->floor = 0; /* it may have passed a run recorded in what was undone */
}
