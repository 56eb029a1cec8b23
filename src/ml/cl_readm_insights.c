/*
 * Treatment insights for 30-day readmission. See cl_readm_insights.h and
 * docs/ml.md ("Treatment insights"; keep the medication classes there
 * in step with med_classes below).
 *
 * The index stays go into a temporary table of the read-only connection
 * (the main database is never written), numbered in stay order; the
 * promoted model's risk is written beside each; and each treatment is a
 * query that names the stays exposed to it. A stay's stratum is its
 * quintile of predicted risk (equal numbers of stays, ties broken by the
 * stay's id). Every estimate is computed from the 2x2 table of each
 * stratum by cl_insight_mantel_haenszel.
 */
#include "cl_readm_insights.h"
#include "cl_ml_metrics.h"
#include "cl_readm_score.h"
#include "cl_readmission.h"
#include "core/cl_error.h"
#include "core/cl_mem.h"
#include "store/cl_db.h"

#include <ctype.h>
#include <math.h>
#include <sqlite3.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#define FOLLOWUP_DAYS 7

/* ---- the arithmetic ---- */

int cl_insight_mantel_haenszel(const struct cl_insight_table *t, size_t k, double z,
			       struct cl_insight_estimate *e)
{
	double rr_num = 0, rr_den = 0, gr = 0, rd_num = 0, w = 0, p = 0, q = 0, se;
	size_t used = 0;

	e->rr = e->rr_lo = e->rr_hi = NAN;
	e->rd = e->rd_lo = e->rd_hi = NAN;
	for (size_t i = 0; i < k; i++) {
		double a = (double)t[i].exposed_events, b = (double)t[i].unexposed_events;
		double n1 = (double)t[i].exposed, n0 = (double)t[i].unexposed, tt = n1 + n0;

		if (t[i].exposed < 0 || t[i].unexposed < 0 || t[i].exposed_events < 0 ||
		    t[i].unexposed_events < 0 || t[i].exposed_events > t[i].exposed ||
		    t[i].unexposed_events > t[i].unexposed)
			return cl_error_set(CL_EINVAL, "stratum %zu: more readmitted stays than "
					    "stays, or a negative count", i + 1);
		if (t[i].exposed == 0 || t[i].unexposed == 0)
			continue; /* nothing to compare within it */
		used++;
		rr_num += a * n0 / tt;
		rr_den += b * n1 / tt;
		gr += (n1 * n0 * (a + b) - a * b * tt) / (tt * tt);
		rd_num += (a * n0 - b * n1) / tt;
		w += n1 * n0 / tt;
		p += (n1 * n1 * b - n0 * n0 * a + n1 * n0 * (n0 - n1) / 2) / (tt * tt);
		q += (a * (n0 - b) + b * (n1 - a)) / (2 * tt);
	}
	if (!used)
		return cl_error_set(CL_EINVAL, "no stratum has stays both with and without the "
				    "treatment");
	e->rd = rd_num / w;
	se = sqrt(fmax(0, (e->rd * p + q) / (w * w)));
	e->rd_lo = e->rd - z * se;
	e->rd_hi = e->rd + z * se;
	if (rr_den > 0) {
		e->rr = rr_num / rr_den;
		if (rr_num > 0) {
			se = sqrt(fmax(0, gr / (rr_num * rr_den)));
			e->rr_lo = e->rr * exp(-z * se);
			e->rr_hi = e->rr * exp(z * se);
		}
	}
	return CL_OK;
}

/* ---- the treatments ---- */

/*
 * The medication classes: a medication request is in a class when its
 * display text contains one of the class's generic ingredient names,
 * case-insensitively (a combination product is in each of its classes).
 * They cover the cohort generator's medications and Synthea's common
 * ones. docs/ml.md lists them.
 */
static const struct {
	const char *name;
	const char *const *ingredients; /* NULL-terminated */
} med_classes[] = {
	{ "beta blocker", (const char *const[]){ "metoprolol", "atenolol", "bisoprolol",
		"carvedilol", "propranolol", "nebivolol", "labetalol", "sotalol", NULL } },
	{ "ACE inhibitor or ARB", (const char *const[]){ "lisinopril", "enalapril", "ramipril",
		"captopril", "perindopril", "benazepril", "quinapril", "fosinopril", "losartan",
		"valsartan", "candesartan", "irbesartan", "olmesartan", "telmisartan", NULL } },
	{ "calcium channel blocker", (const char *const[]){ "amlodipine", "nifedipine",
		"felodipine", "diltiazem", "verapamil", NULL } },
	{ "loop diuretic", (const char *const[]){ "furosemide", "bumetanide", "torsemide",
		"torasemide", NULL } },
	{ "thiazide diuretic", (const char *const[]){ "hydrochlorothiazide", "chlorthalidone",
		"indapamide", "bendroflumethiazide", NULL } },
	{ "anticoagulant", (const char *const[]){ "warfarin", "heparin", "enoxaparin",
		"dalteparin", "tinzaparin", "fondaparinux", "apixaban", "rivaroxaban",
		"dabigatran", "edoxaban", NULL } },
	{ "antiplatelet", (const char *const[]){ "aspirin", "clopidogrel", "ticagrelor",
		"prasugrel", "dipyridamole", NULL } },
	{ "statin", (const char *const[]){ "atorvastatin", "simvastatin", "rosuvastatin",
		"pravastatin", "lovastatin", "fluvastatin", NULL } },
	{ "antibiotic", (const char *const[]){ "amoxicillin", "ampicillin", "penicillin",
		"piperacillin", "flucloxacillin", "cefazolin", "cephalexin", "cefalexin",
		"cefuroxime", "ceftriaxone", "cefdinir", "cefepime", "meropenem",
		"ciprofloxacin", "levofloxacin", "doxycycline", "azithromycin",
		"clarithromycin", "erythromycin", "vancomycin", "gentamicin", "metronidazole",
		"nitrofurantoin", "trimethoprim", "clindamycin", NULL } },
	{ "insulin", (const char *const[]){ "insulin", "humulin", "novolin", "novolog",
		"humalog", "lantus", "levemir", NULL } },
	{ "oral glucose-lowering", (const char *const[]){ "metformin", "glipizide",
		"gliclazide", "glimepiride", "glyburide", "sitagliptin", "linagliptin",
		"empagliflozin", "dapagliflozin", "canagliflozin", "pioglitazone", NULL } },
	{ "opioid", (const char *const[]){ "morphine", "oxycodone", "hydrocodone",
		"hydromorphone", "fentanyl", "codeine", "tramadol", "meperidine",
		"buprenorphine", "methadone", "tapentadol", NULL } },
	{ "NSAID", (const char *const[]){ "ibuprofen", "naproxen", "diclofenac", "ketorolac",
		"celecoxib", "meloxicam", NULL } },
	{ "paracetamol", (const char *const[]){ "acetaminophen", "paracetamol", NULL } },
	{ "corticosteroid", (const char *const[]){ "prednisone", "prednisolone",
		"hydrocortisone", "dexamethasone", "budesonide", "fluticasone",
		"beclomethasone", "mometasone", NULL } },
	{ "proton pump inhibitor", (const char *const[]){ "omeprazole", "esomeprazole",
		"pantoprazole", "lansoprazole", "rabeprazole", NULL } },
	{ "inhaled bronchodilator", (const char *const[]){ "albuterol", "salbutamol",
		"ipratropium", "tiotropium", "salmeterol", "formoterol", NULL } },
	{ "chemotherapy", (const char *const[]){ "cisplatin", "carboplatin", "oxaliplatin",
		"cyclophosphamide", "doxorubicin", "paclitaxel", "docetaxel", "fluorouracil",
		"gemcitabine", NULL } },
	{ "intravenous fluid", (const char *const[]){ "sodium chloride", "ringer", NULL } },
};
#define NCLASSES (sizeof(med_classes) / sizeof(med_classes[0]))

static const char statement[] =
	"These are associations in this hospital's data, not causal effects. Each comparison "
	"is adjusted only for the measured risk (the promoted model's prediction, in five "
	"strata) and for nothing else. Treatments are not given at random: clinicians give "
	"them because of how ill a patient is and what they expect (confounding by "
	"indication), and they know more than the records hold, so the stays with and without "
	"a treatment differ in ways this adjustment cannot remove. A treatment can look "
	"harmful because the sickest receive it, or helpful because the fittest do. Where a "
	"treatment is itself among the model's features (procedures, the number of "
	"medications), adjusting for the risk also adjusts away part of its own association. "
	"Do not read a risk ratio here as what a treatment would do for a patient: that needs "
	"a randomised trial, or a study designed to answer it.";

/* What to say of each kind's estimates. */
static const char followup_why[] =
	"the strata are of the risk as if no follow-up were booked: a booking made by the "
	"discharge is one of the model's features; who is given one is the clinicians' choice";
static const char proc_why[] =
	"the model counts the stay's procedures among its features: adjusting for its risk "
	"also adjusts away part of this association";
static const char med_why[] =
	"the model counts the stay's medications among its features: adjusting for its risk "
	"also adjusts away part of this association";

/* What a run of the insights holds. */
struct run {
	sqlite3 *db;
	size_t n;                /* index stays, numbered 1..n in the temporary table */
	uint8_t *y;              /* readmitted, per stay (index i - 1) */
	int *stratum;            /* 0..CL_INSIGHT_STRATA - 1 */
	uint8_t *x;              /* the treatment being read: exposed, per stay */
	json_t *treatments;
};

static json_t *num(double v)
{
	return isfinite(v) ? json_real(v) : json_null();
}

static json_t *pair(double lo, double hi)
{
	return isfinite(lo) && isfinite(hi) ? json_pack("[f f]", lo, hi) : json_null();
}

static json_t *group(long stays, long readmitted)
{
	return json_pack("{sI sI so}", "stays", (json_int_t)stays, "readmitted",
			 (json_int_t)readmitted,
			 "rate", stays ? json_real((double)readmitted / (double)stays) : json_null());
}

static int exec(sqlite3 *db, const char *sql)
{
	char *err = NULL;

	if (sqlite3_exec(db, sql, NULL, NULL, &err) != SQLITE_OK) {
		int rc = cl_error_set(CL_EIO, "carelake.db: treatment insights: %s",
				      err ? err : sqlite3_errmsg(db));

		sqlite3_free(err);
		return rc;
	}
	return CL_OK;
}

/*
 * Adds the treatment whose exposure r->x holds: its counts, overall and
 * by stratum, and (with enough stays each way) its estimates. why: what
 * to say of an estimate of this kind (or NULL).
 */
static int add_treatment(struct run *r, const char *name, const char *kind, const char *why)
{
	struct cl_insight_table by[CL_INSIGHT_STRATA] = { { 0 } }, all = { 0 };
	struct cl_insight_estimate crude, adj;
	json_t *t, *strata = json_array();
	char note[300];
	int rc;

	for (size_t i = 0; i < r->n; i++) {
		struct cl_insight_table *s = &by[r->stratum[i]];

		if (r->x[i]) {
			s->exposed++;
			s->exposed_events += r->y[i];
		} else {
			s->unexposed++;
			s->unexposed_events += r->y[i];
		}
	}
	for (int k = 0; k < CL_INSIGHT_STRATA; k++) {
		all.exposed += by[k].exposed;
		all.exposed_events += by[k].exposed_events;
		all.unexposed += by[k].unexposed;
		all.unexposed_events += by[k].unexposed_events;
		json_array_append_new(strata, json_pack("{si so so}", "stratum", k + 1, "exposed",
				      group(by[k].exposed, by[k].exposed_events), "unexposed",
				      group(by[k].unexposed, by[k].unexposed_events)));
	}
	t = json_pack("{ss ss so so so}", "treatment", name, "kind", kind, "exposed",
		      group(all.exposed, all.exposed_events), "unexposed",
		      group(all.unexposed, all.unexposed_events), "by_stratum", strata);
	if (!t)
		return cl_error_set(CL_ENOMEM, "no memory for the insights");
	crude = adj = (struct cl_insight_estimate){ NAN, NAN, NAN, NAN, NAN, NAN };
	note[0] = '\0';
	if (all.exposed < CL_INSIGHT_MIN_STAYS || all.unexposed < CL_INSIGHT_MIN_STAYS) {
		int few_exposed = all.exposed < CL_INSIGHT_MIN_STAYS;

		snprintf(note, sizeof(note), "no estimate: too few stays %s it (%ld; at least %d "
			 "needed)", few_exposed ? "with" : "without",
			 few_exposed ? all.exposed : all.unexposed, CL_INSIGHT_MIN_STAYS);
	} else {
		rc = cl_insight_mantel_haenszel(&all, 1, CL_ML_Z95, &crude);
		if (rc == CL_OK)
			rc = cl_insight_mantel_haenszel(by, CL_INSIGHT_STRATA, CL_ML_Z95, &adj);
		if (rc != CL_OK)
			snprintf(note, sizeof(note), "no adjusted estimate: %s", cl_error_detail());
		else if (all.exposed_events == 0)
			snprintf(note, sizeof(note), "no stay with it was readmitted: the risk ratio "
				 "has no interval");
		else if (all.unexposed_events == 0)
			snprintf(note, sizeof(note), "no stay without it was readmitted: no risk "
				 "ratio");
		else if (why)
			snprintf(note, sizeof(note), "%s", why);
	}
	json_object_set_new(t, "crude_risk_ratio", num(crude.rr));
	json_object_set_new(t, "crude_ci", pair(crude.rr_lo, crude.rr_hi));
	json_object_set_new(t, "crude_risk_difference", num(crude.rd));
	json_object_set_new(t, "adjusted_risk_ratio", num(adj.rr));
	json_object_set_new(t, "adjusted_ci", pair(adj.rr_lo, adj.rr_hi));
	json_object_set_new(t, "adjusted_risk_difference", num(adj.rd));
	json_object_set_new(t, "adjusted_rd_ci", pair(adj.rd_lo, adj.rd_hi));
	json_object_set_new(t, "note", note[0] ? json_string(note) : json_null());
	if (json_array_append_new(r->treatments, t) != 0)
		return cl_error_set(CL_ENOMEM, "no memory for the insights");
	return CL_OK;
}

/* Sets r->x from a query whose first column is a stay's number (each
 * stay it names is exposed); code, if not NULL, bound as ?1. */
static int exposure(struct run *r, const char *sql, const char *code)
{
	sqlite3_stmt *q;
	int rc;

	memset(r->x, 0, r->n);
	if (sqlite3_prepare_v2(r->db, sql, -1, &q, NULL) != SQLITE_OK)
		return cl_error_set(CL_EIO, "carelake.db: reading the treatments: %s",
				    sqlite3_errmsg(r->db));
	if (code)
		sqlite3_bind_text(q, 1, code, -1, SQLITE_STATIC);
	while ((rc = sqlite3_step(q)) == SQLITE_ROW) {
		sqlite3_int64 i = sqlite3_column_int64(q, 0);

		if (i >= 1 && (size_t)i <= r->n)
			r->x[i - 1] = 1;
	}
	sqlite3_finalize(q);
	if (rc != SQLITE_DONE)
		return cl_error_set(CL_EIO, "carelake.db: reading the treatments: %s",
				    sqlite3_errmsg(r->db));
	return CL_OK;
}

/*
 * A follow-up: an appointment in the 7 days after the discharge, arranged
 * by then (booked no later than a day after the discharge, where the
 * booking says when), from the booking table (bookings loaded as CSV,
 * XLSX or FHIR Appointments). As intended at the discharge: one cancelled
 * or missed later still counts (a readmission cancels the appointment it
 * prevents; counting only those kept would credit the follow-up with the
 * readmissions that stopped it), one entered in error does not.
 */
static int followups(struct run *r)
{
	char sql[1024];
	int rc;

	snprintf(sql, sizeof(sql), "SELECT DISTINCT s.i FROM temp.ins_stay s JOIN main.booking b"
		 " ON b.patient_id = s.patient_id AND julianday(b.appointment_ts) > s.discharge"
		 " AND julianday(b.appointment_ts) <= s.discharge + %d"
		 " AND (b.booked_ts IS NULL OR julianday(b.booked_ts) <= s.discharge + 1)"
		 " WHERE coalesce(lower(b.status), '') <> 'entered-in-error'", FOLLOWUP_DAYS);
	rc = exposure(r, sql, NULL);
	return rc ? rc : add_treatment(r, "follow-up appointment within 7 days", "follow_up",
				       followup_why);
}

/* The procedures started during the stay (not recorded as not done). */
#define PROC_JOIN                                                                         \
	" FROM temp.ins_stay s JOIN main.procedure p ON p.patient_id = s.patient_id AND"  \
	" p.performed_start >= s.admit_ts AND p.performed_start <= s.discharge_ts WHERE" \
	" coalesce(lower(p.status), '') NOT IN ('not-done', 'entered-in-error')"

/* Any procedure, then each procedure done in at least CL_INSIGHT_MIN_STAYS
 * stays, the most common first. */
static int procedures(struct run *r)
{
	sqlite3_stmt *q;
	int rc;

	rc = exposure(r, "SELECT DISTINCT s.i" PROC_JOIN, NULL);
	if (rc == CL_OK)
		rc = add_treatment(r, "any procedure", "procedure", proc_why);
	if (rc)
		return rc;
	if (sqlite3_prepare_v2(r->db, "SELECT p.code, max(p.display), count(DISTINCT s.i) AS k"
			       PROC_JOIN " AND p.code IS NOT NULL GROUP BY p.code HAVING k >= ?1"
			       " ORDER BY k DESC, p.code", -1, &q, NULL) != SQLITE_OK)
		return cl_error_set(CL_EIO, "carelake.db: reading the procedures: %s",
				    sqlite3_errmsg(r->db));
	sqlite3_bind_int(q, 1, CL_INSIGHT_MIN_STAYS);
	while (rc == CL_OK && sqlite3_step(q) == SQLITE_ROW) {
		const char *code = (const char *)sqlite3_column_text(q, 0);
		const char *display = (const char *)sqlite3_column_text(q, 1);
		char name[200], *c = cl_strdup(code ? code : "");

		if (!c)
			return cl_error_set(CL_ENOMEM, "no memory for the insights");
		snprintf(name, sizeof(name), "procedure %s%s%s", c, display ? " " : "",
			 display ? display : "");
		rc = exposure(r, "SELECT DISTINCT s.i" PROC_JOIN " AND p.code = ?1", c);
		if (rc == CL_OK)
			rc = add_treatment(r, name, "procedure", proc_why);
		cl_free(c);
	}
	sqlite3_finalize(q);
	return rc;
}

/* Whether the lower-case text contains one of the class's ingredients. */
static int in_class(const char *lower, size_t k)
{
	for (const char *const *g = med_classes[k].ingredients; *g; g++)
		if (strstr(lower, *g))
			return 1;
	return 0;
}

/* Each medication class ordered during the stay (not cancelled). */
static int medications(struct run *r)
{
	uint32_t *classes = cl_calloc(r->n ? r->n : 1, sizeof(uint32_t));
	sqlite3_stmt *q;
	int rc = CL_OK, step;

	if (!classes)
		return cl_error_set(CL_ENOMEM, "no memory for the insights");
	if (sqlite3_prepare_v2(r->db, "SELECT DISTINCT s.i, lower(m.display) FROM temp.ins_stay s"
			       " JOIN main.medication_request m ON m.patient_id = s.patient_id AND"
			       " m.authored_ts >= s.admit_ts AND m.authored_ts <= s.discharge_ts"
			       " WHERE m.display IS NOT NULL AND coalesce(lower(m.status), '') NOT IN"
			       " ('cancelled', 'entered-in-error')", -1, &q, NULL) != SQLITE_OK) {
		cl_free(classes);
		return cl_error_set(CL_EIO, "carelake.db: reading the medications: %s",
				    sqlite3_errmsg(r->db));
	}
	while ((step = sqlite3_step(q)) == SQLITE_ROW) {
		sqlite3_int64 i = sqlite3_column_int64(q, 0);
		const char *text = (const char *)sqlite3_column_text(q, 1);

		if (i < 1 || (size_t)i > r->n || !text)
			continue;
		for (size_t k = 0; k < NCLASSES; k++)
			if (in_class(text, k))
				classes[i - 1] |= 1u << k;
	}
	sqlite3_finalize(q);
	if (step != SQLITE_DONE)
		rc = cl_error_set(CL_EIO, "carelake.db: reading the medications: %s",
				  sqlite3_errmsg(r->db));
	for (size_t k = 0; rc == CL_OK && k < NCLASSES; k++) {
		for (size_t i = 0; i < r->n; i++)
			r->x[i] = !!(classes[i] & (1u << k));
		rc = add_treatment(r, med_classes[k].name, "medication_class", med_why);
	}
	cl_free(classes);
	return rc;
}

/* ---- the stays and their risk ---- */

/* The model's risk of one stay, beside it in the temporary table. */
static int put_risk(void *arg, const struct cl_readm_scored *s)
{
	sqlite3_stmt *q = arg;
	int rc;

	sqlite3_bind_text(q, 1, s->stay_id, -1, SQLITE_STATIC);
	sqlite3_bind_double(q, 2, s->risk);
	rc = sqlite3_step(q);
	sqlite3_reset(q);
	return rc == SQLITE_DONE ? CL_OK
				 : cl_error_set(CL_EIO, "carelake.db: keeping a stay's risk: %s",
						sqlite3_errmsg(sqlite3_db_handle(q)));
}

/* A stay in the order of its risk. */
struct ranked {
	double risk;
	size_t i;     /* its number - 1 */
};

/* By risk, then by the stay's number. */
static int by_risk(const void *a, const void *b)
{
	const struct ranked *x = a, *y = b;

	if (x->risk != y->risk)
		return x->risk < y->risk ? -1 : 1;
	return x->i < y->i ? -1 : x->i > y->i;
}

/* The index stays, their risk by the model m and their strata; *strata
 * gets the strata's summary. */
static int read_stays(struct run *r, struct cl_readm_model *m, json_t **strata)
{
	sqlite3_stmt *q;
	struct ranked *order = NULL;
	size_t at = 0;
	long scored = 0;
	int rc, step;

	*strata = NULL;
	if (sqlite3_prepare_v2(r->db, "SELECT count(*) FROM main.gold_readmission_features", -1,
			       &q, NULL) != SQLITE_OK)
		return cl_error_set(CL_ENOENT, "no readmission feature table (%s): run carelake "
				    "refine first", sqlite3_errmsg(r->db));
	sqlite3_finalize(q);
	rc = exec(r->db, "CREATE TEMP TABLE ins_stay(i INTEGER PRIMARY KEY, stay_id TEXT NOT NULL"
		  " UNIQUE, patient_id TEXT NOT NULL, admit_ts TEXT, discharge_ts TEXT,"
		  " discharge REAL, y INTEGER NOT NULL, risk REAL);"
		  "INSERT INTO temp.ins_stay(stay_id, patient_id, admit_ts, discharge_ts,"
		  " discharge, y) SELECT stay_id, patient_id, admit_ts, discharge_ts,"
		  " julianday(discharge_ts), readmitted_30d FROM main.gold_readmission_features"
		  " WHERE cohort = 'index' AND readmitted_30d IS NOT NULL AND stay_id IS NOT NULL"
		  " AND patient_id IS NOT NULL ORDER BY stay_id;"
		  "CREATE INDEX temp.ins_stay_patient ON ins_stay(patient_id);");
	if (rc)
		return rc;
	/* the risk, kept beside each stay in one transaction */
	if (sqlite3_prepare_v2(r->db, "UPDATE temp.ins_stay SET risk = ?2 WHERE stay_id = ?1", -1,
			       &q, NULL) != SQLITE_OK)
		return cl_error_set(CL_EIO, "carelake.db: %s", sqlite3_errmsg(r->db));
	rc = exec(r->db, "BEGIN");
	if (rc == CL_OK)
		rc = cl_readm_model_score(m, r->db, "cohort = 'index' AND readmitted_30d IS NOT NULL",
					  0, put_risk, q, &scored);
	sqlite3_finalize(q);
	if (rc == CL_OK)
		rc = exec(r->db, "COMMIT");
	else
		sqlite3_exec(r->db, "ROLLBACK", NULL, NULL, NULL);
	if (rc)
		return rc;
	if (sqlite3_prepare_v2(r->db, "SELECT count(*) FROM temp.ins_stay", -1, &q, NULL) !=
	    SQLITE_OK)
		return cl_error_set(CL_EIO, "carelake.db: %s", sqlite3_errmsg(r->db));
	if (sqlite3_step(q) == SQLITE_ROW)
		r->n = (size_t)sqlite3_column_int64(q, 0);
	sqlite3_finalize(q);
	if (r->n < 2 * CL_INSIGHT_MIN_STAYS)
		return cl_error_set(CL_EINVAL, "too few index stays for treatment insights: %zu "
				    "(at least %d; load more data and refine)", r->n,
				    2 * CL_INSIGHT_MIN_STAYS);
	r->y = cl_calloc(r->n, 1);
	r->x = cl_calloc(r->n, 1);
	r->stratum = cl_calloc(r->n, sizeof(int));
	order = cl_calloc(r->n, sizeof(*order));
	if (!r->y || !r->x || !r->stratum || !order) {
		rc = cl_error_set(CL_ENOMEM, "no memory for %zu stays", r->n);
		goto done;
	}
	if (sqlite3_prepare_v2(r->db, "SELECT y, risk FROM temp.ins_stay ORDER BY i", -1, &q,
			       NULL) != SQLITE_OK) {
		rc = cl_error_set(CL_EIO, "carelake.db: %s", sqlite3_errmsg(r->db));
		goto done;
	}
	while ((step = sqlite3_step(q)) == SQLITE_ROW && at < r->n) {
		r->y[at] = sqlite3_column_int(q, 0) != 0;
		if (sqlite3_column_type(q, 1) == SQLITE_NULL)
			break;
		order[at].risk = sqlite3_column_double(q, 1);
		order[at].i = at;
		at++;
	}
	sqlite3_finalize(q);
	if (at != r->n) {
		rc = cl_error_set(CL_EIO, "the readmission model scored %zu of %zu index stays",
				  at, r->n);
		goto done;
	}
	/* quintiles: equal numbers of stays by predicted risk */
	qsort(order, r->n, sizeof(order[0]), by_risk);
	*strata = json_array();
	for (int k = 0, from = 0; k < CL_INSIGHT_STRATA; k++) {
		int to = (int)(((size_t)(k + 1) * r->n) / CL_INSIGHT_STRATA);
		long events = 0;
		double sum = 0;

		for (int j = from; j < to; j++) {
			r->stratum[order[j].i] = k;
			events += r->y[order[j].i];
			sum += order[j].risk;
		}
		json_array_append_new(*strata, json_pack(
			"{si sf sf sf sI sI sf}", "stratum", k + 1, "risk_from", order[from].risk,
			"risk_to", order[to - 1].risk, "mean_predicted", sum / (to - from),
			"stays", (json_int_t)(to - from), "readmitted", (json_int_t)events, "rate",
			(double)events / (to - from)));
		from = to;
	}
	rc = CL_OK;
done:
	cl_free(order);
	return rc;
}

int cl_readm_insights(const char *data_dir, json_t **report)
{
	struct cl_readm_model *m = NULL;
	struct run r = { 0 };
	json_t *strata = NULL;
	long readmitted = 0;
	int rc;

	*report = NULL;
	rc = cl_readm_model_load(data_dir, 0, &m);
	if (rc)
		return rc;
	/* the risk without a follow-up booked (a prognostic score): the
	 * booking is one of the model's features, and a risk that holds it
	 * would adjust its own association away (a model trained before the
	 * feature has none to fix) */
	if (cl_readm_model_fix(m, "followup_booked", 0) != CL_OK)
		cl_error_clear();
	rc = cl_db_open(data_dir, CL_DB_READONLY, &r.db);
	if (rc == CL_OK)
		rc = read_stays(&r, m, &strata);
	r.treatments = json_array();
	if (rc == CL_OK && !r.treatments)
		rc = cl_error_set(CL_ENOMEM, "no memory for the insights");
	if (rc == CL_OK)
		rc = followups(&r);
	if (rc == CL_OK)
		rc = procedures(&r);
	if (rc == CL_OK)
		rc = medications(&r);
	for (size_t i = 0; i < r.n && r.y; i++)
		readmitted += r.y[i];
	if (rc == CL_OK) {
		*report = json_pack("{si ss sI sI si so sO ss}", "model_version",
				    cl_readm_model_version(m), "model", cl_readm_model_name(m),
				    "stays", (json_int_t)r.n, "readmitted", (json_int_t)readmitted,
				    "min_stays", CL_INSIGHT_MIN_STAYS, "strata", strata,
				    "treatments", r.treatments, "statement", statement);
		strata = NULL;
		if (!*report)
			rc = cl_error_set(CL_ENOMEM, "no memory for the insights");
	}
	json_decref(strata);
	json_decref(r.treatments);
	cl_free(r.y);
	cl_free(r.x);
	cl_free(r.stratum);
	sqlite3_close(r.db);
	cl_readm_model_free(m);
	return rc;
}

/* ---- text ---- */

static double real(const json_t *o, const char *key)
{
	const json_t *v = json_object_get(o, key);

	return json_is_number(v) ? json_number_value(v) : NAN;
}

static long count(const json_t *o, const char *key)
{
	return (long)json_integer_value(json_object_get(o, key));
}

/* "1.23 (0.98-1.54)", or "-" without an estimate. */
static void ratio_text(const json_t *t, const char *key, const char *ci, char *buf, size_t cap)
{
	const json_t *c = json_object_get(t, ci);
	double v = real(t, key);

	if (!isfinite(v))
		snprintf(buf, cap, "-");
	else if (json_array_size(c) == 2)
		snprintf(buf, cap, "%.2f (%.2f-%.2f)", v, json_number_value(json_array_get(c, 0)),
			 json_number_value(json_array_get(c, 1)));
	else
		snprintf(buf, cap, "%.2f", v);
}

/* Prints text at most 76 columns wide, after the indent. */
static void wrap(FILE *out, const char *indent, const char *text)
{
	while (*text) {
		size_t n = strlen(text), cut = n;

		if (n > 76) {
			cut = 76;
			while (cut > 0 && text[cut] != ' ')
				cut--;
			if (cut == 0)
				cut = 76;
		}
		fprintf(out, "%s%.*s\n", indent, (int)cut, text);
		text += cut;
		while (*text == ' ')
			text++;
	}
}

void cl_readm_insights_print(const json_t *report, FILE *out)
{
	static const struct {
		const char *kind, *title, *why;
	} kinds[] = {
		{ "follow_up", "Follow-up after the discharge", followup_why },
		{ "procedure", "Procedures during the stay", proc_why },
		{ "medication_class", "Medication classes ordered during the stay", med_why },
	};
	const json_t *strata = json_object_get(report, "strata"), *s, *t;
	long stays = count(report, "stays"), readm = count(report, "readmitted");
	size_t i;

	fprintf(out, "Treatment insights: 30-day readmission after %ld index stays (%ld "
		"readmitted, %.1f%%)\n", stays, readm, stays ? 100.0 * (double)readm / (double)stays
							     : 0.0);
	fprintf(out, "adjusted for the predicted risk of model v%lld (%s), in %zu strata "
		"(quintiles):\n\n", (long long)json_integer_value(json_object_get(report,
		"model_version")), json_string_value(json_object_get(report, "model")),
		json_array_size(strata));
	fprintf(out, "  stratum  predicted risk     mean    stays  readmitted    rate\n");
	json_array_foreach(strata, i, s)
		fprintf(out, "  %7lld  %5.3f - %5.3f   %6.3f  %7ld  %10ld  %5.1f%%\n",
			(long long)json_integer_value(json_object_get(s, "stratum")),
			real(s, "risk_from"), real(s, "risk_to"), real(s, "mean_predicted"),
			count(s, "stays"), count(s, "readmitted"), 100 * real(s, "rate"));
	for (size_t k = 0; k < sizeof(kinds) / sizeof(kinds[0]); k++) {
		fprintf(out, "\n%s\n", kinds[k].title);
		fprintf(out, "  %-34s %-19s %-19s %-18s %-18s %s\n", "", "with it", "without it",
			"crude", "adjusted", "adjusted");
		fprintf(out, "  %-34s %6s %5s %6s %6s %5s %6s %-18s %-18s %s\n", "treatment", "stays",
			"readm", "rate", "stays", "readm", "rate", "RR (95% CI)", "RR (95% CI)",
			"RD, points (95% CI)");
		json_array_foreach(json_object_get(report, "treatments"), i, t) {
			const json_t *e = json_object_get(t, "exposed"), *u = json_object_get(t,
													"unexposed");
			const json_t *rdci = json_object_get(t, "adjusted_rd_ci");
			const char *name = json_string_value(json_object_get(t, "treatment"));
			const char *note = json_string_value(json_object_get(t, "note"));
			char crude[48], adj[48], rd[64];

			if (strcmp(json_string_value(json_object_get(t, "kind")), kinds[k].kind))
				continue;
			ratio_text(t, "crude_risk_ratio", "crude_ci", crude, sizeof(crude));
			ratio_text(t, "adjusted_risk_ratio", "adjusted_ci", adj, sizeof(adj));
			if (!isfinite(real(t, "adjusted_risk_difference")))
				snprintf(rd, sizeof(rd), "-");
			else
				snprintf(rd, sizeof(rd), "%+.1f (%+.1f to %+.1f)",
					 100 * real(t, "adjusted_risk_difference"),
					 100 * json_number_value(json_array_get(rdci, 0)),
					 100 * json_number_value(json_array_get(rdci, 1)));
			if (strlen(name) > 34) {
				fprintf(out, "  %s\n", name);
				name = "";
			}
			fprintf(out, "  %-34s %6ld %5ld %5.1f%% %6ld %5ld %5.1f%% %-18s %-18s %s\n",
				name, count(e, "stays"), count(e, "readmitted"),
				count(e, "stays") ? 100 * real(e, "rate") : 0.0, count(u, "stays"),
				count(u, "readmitted"),
				count(u, "stays") ? 100 * real(u, "rate") : 0.0, crude, adj, rd);
			if (note && strcmp(note, kinds[k].why) != 0)
				fprintf(out, "  %-34s %s\n", "", note);
		}
		{
			char why[300];

			snprintf(why, sizeof(why), "(%s)", kinds[k].why);
			wrap(out, "  ", why);
		}
	}
	fputc('\n', out);
	wrap(out, "", json_string_value(json_object_get(report, "statement")));
}
