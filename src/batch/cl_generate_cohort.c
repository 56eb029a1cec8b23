/*
 * The readmission cohort. See cl_generate_cohort.h; the model and its
 * coefficients are in docs/commands/generate.md (keep the two in step).
 *
 * Each patient is simulated alone, in time order, from a random stream
 * that runs through the whole cohort: comorbidities with their onsets,
 * then events from competing processes (emergency visits, ambulatory
 * visits, emergency and elective admissions) whose rates rise with age,
 * the Charlson index and a latent frailty. After each stay ended alive a
 * 30-day unplanned readmission is drawn with the stay's risk; unplanned
 * admissions from the background process are held back in those 30 days
 * so that the risk alone decides. Some discharges are given a follow-up
 * appointment within 7 days, more often the higher the risk the records
 * show (confounding by indication), and it lowers the risk drawn with.
 * The patient's resources are written once their story is known (a
 * death date belongs on the Patient).
 */
#include "cl_generate_cohort.h"
#include "core/cl_error.h"
#include "core/cl_rand.h"
#include "core/cl_fs.h"
#include "core/cl_mem.h"
#include "core/cl_time.h"

#include <errno.h>
#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define DAY (86400ll * 1000000)
#define HOUR (3600ll * 1000000)
#define MINUTE (60ll * 1000000)
#define YEAR (365ll * DAY)

#define SNOMED "http://snomed.info/sct"
#define ICD10CM "http://hl7.org/fhir/sid/icd-10-cm"
#define LOINC "http://loinc.org"
#define RXNORM "http://www.nlm.nih.gov/research/umls/rxnorm"
#define UCUM "http://unitsofmeasure.org"
#define ACTCODE "http://terminology.hl7.org/CodeSystem/v3-ActCode"
#define OBSCAT "http://terminology.hl7.org/CodeSystem/observation-category"
#define APPTYPE "http://terminology.hl7.org/CodeSystem/v2-0276"

#define PATIENTS_PER_FILE 2000
#define BIT(k) (1u << (k))  /* a category in a set of them */
#define GAP (6 * HOUR)     /* at least between a visit and what comes next */

/* ---- chance ---- */

struct rng {
	uint64_t s;
};

static uint64_t next(struct rng *r)
{
	return cl_rand_next(&r->s);
}

static int pick(struct rng *r, int n)
{
	return (int)(next(r) % (uint64_t)n);
}

/* In [0, 1). */
static double uniform(struct rng *r)
{
	return cl_rand_uniform(&r->s);
}

static double normal(struct rng *r)
{
	double u = 1.0 - uniform(r), v = uniform(r);

	return sqrt(-2.0 * log(u)) * cos(2.0 * M_PI * v);
}

/* A waiting time (µs) of a process with rate per year. */
static int64_t waiting(struct rng *r, double per_year)
{
	double years = -log(1.0 - uniform(r)) / per_year;

	return years > 200 ? 200 * YEAR : (int64_t)(years * (double)YEAR);
}

static int poisson(struct rng *r, double mean)
{
	double l = exp(-mean), p = 1.0;
	int k = 0;

	do {
		k++;
		p *= uniform(r);
	} while (p > l && k < 60);
	return k - 1;
}

static double logistic(double x)
{
	return 1.0 / (1.0 + exp(-x));
}

/* ---- what happens ---- */

/* Prevalence of each category at 65 (among patients of average frailty)
 * and its odds ratio per decade of age; every category rises with age. */
static const struct {
	double at65, or_decade;
} prevalence[CL_CHARLSON_CATEGORIES] = {
	[CL_CHARLSON_MI] = { 0.08, 1.45 },
	[CL_CHARLSON_CHF] = { 0.09, 1.65 },
	[CL_CHARLSON_PVD] = { 0.06, 1.5 },
	[CL_CHARLSON_CVD] = { 0.07, 1.55 },
	[CL_CHARLSON_DEMENTIA] = { 0.035, 2.4 },
	[CL_CHARLSON_CPD] = { 0.14, 1.2 },
	[CL_CHARLSON_RHEUM] = { 0.04, 1.15 },
	[CL_CHARLSON_PUD] = { 0.03, 1.15 },
	[CL_CHARLSON_MILD_LIVER] = { 0.04, 1.1 },
	[CL_CHARLSON_DM] = { 0.17, 1.2 },
	[CL_CHARLSON_DM_COMPL] = { 0.06, 1.3 },
	[CL_CHARLSON_HEMIPLEGIA] = { 0.02, 1.2 },
	[CL_CHARLSON_RENAL] = { 0.09, 1.6 },
	[CL_CHARLSON_MALIGNANCY] = { 0.09, 1.45 },
	[CL_CHARLSON_SEVERE_LIVER] = { 0.012, 1.1 },
	[CL_CHARLSON_METASTATIC] = { 0.025, 1.3 },
	[CL_CHARLSON_HIV] = { 0.008, 1.05 },
};

/* Conditions outside Charlson's list, for company. */
static const struct cl_charlson_code other_conditions[] = {
	{ "38341003", "Hypertensive disorder, systemic arterial" },
	{ "55822004", "Hyperlipidemia" },
	{ "162864005", "Body mass index 30+ - obesity" },
};

/* Medications (RxNorm); the last two are chemotherapy, for oncology. */
static const struct cl_charlson_code medications[] = {
	{ "197361", "Amlodipine 5 MG Oral Tablet" },
	{ "314076", "lisinopril 10 MG Oral Tablet" },
	{ "860975", "24 HR Metformin hydrochloride 500 MG Extended Release Oral Tablet" },
	{ "313782", "Acetaminophen 325 MG Oral Tablet" },
	{ "310965", "Ibuprofen 200 MG Oral Tablet" },
	{ "259255", "Atorvastatin 80 MG Oral Tablet" },
	{ "855332", "Warfarin Sodium 5 MG Oral Tablet" },
	{ "309362", "Clopidogrel 75 MG Oral Tablet" },
	{ "243670", "aspirin 81 MG Oral Tablet" },
	{ "866924", "Metoprolol Tartrate 25 MG Oral Tablet" },
	{ "1719286", "10 ML Furosemide 10 MG/ML Injection" },
	{ "1659149", "piperacillin 4000 MG / tazobactam 500 MG Injection" },
	{ "1665060", "cefazolin 2000 MG Injection" },
	{ "562251", "Amoxicillin 250 MG / Clavulanate 125 MG Oral Tablet" },
	{ "854235", "0.4 ML Enoxaparin sodium 100 MG/ML Prefilled Syringe" },
	{ "313002", "Sodium Chloride 9 MG/ML Injectable Solution" },
	{ "1049621", "Oxycodone Hydrochloride 5 MG Oral Tablet" },
	{ "745679", "200 ACTUAT Albuterol 0.09 MG/ACTUAT Metered Dose Inhaler" },
	{ "1736854", "Cisplatin 50 MG Injection" },
	{ "1734919", "Cyclophosphamide 1000 MG Injection" },
};
#define NMEDS_PLAIN 18

/* Procedures (SNOMED CT); the last is chemotherapy, for oncology. */
static const struct cl_charlson_code procedures[] = {
	{ "40701008", "Echocardiography" },
	{ "418891003", "Computed tomography of chest and abdomen" },
	{ "415070008", "Percutaneous coronary intervention" },
	{ "232717009", "Coronary artery bypass grafting" },
	{ "80146002", "Appendectomy" },
	{ "52734007", "Total replacement of hip" },
	{ "609588000", "Total knee replacement" },
	{ "73761001", "Colonoscopy" },
	{ "173160006", "Diagnostic fiberoptic bronchoscopy" },
	{ "265764009", "Renal dialysis" },
	{ "112798008", "Insertion of endotracheal tube" },
	{ "367336001", "Chemotherapy" },
};
#define NPROCS_PLAIN 11

/* Why an emergency admission was needed (SNOMED CT). */
static const struct cl_charlson_code reasons[] = {
	{ "233604007", "Pneumonia" },
	{ "195951007", "Acute exacerbation of chronic obstructive airways disease" },
	{ "84114007", "Heart failure" }, { "68566005", "Urinary tract infectious disease" },
	{ "91302008", "Sepsis" }, { "125605004", "Fracture of bone" },
	{ "29857009", "Chest pain" }, { "21522001", "Abdominal pain" },
};

/* The vital signs of the last day, LOINC and UCUM. */
enum { V_HR, V_RR, V_SPO2, V_SBP, V_TEMP, NVITALS };
static const struct {
	const char *code, *display, *unit;
	double normal, worse, sd;  /* value at rest; change at full instability; noise */
	int decimals;
} vitals[NVITALS] = {
	[V_HR] = { "8867-4", "Heart rate", "/min", 78, 22, 7, 0 },
	[V_RR] = { "9279-1", "Respiratory rate", "/min", 16, 5, 1.5, 0 },
	[V_SPO2] = { "59408-5", "Oxygen saturation in Arterial blood by Pulse oximetry", "%", 97,
		     -4, 1.0, 0 },
	[V_SBP] = { "8480-6", "Systolic blood pressure", "mm[Hg]", 128, -18, 10, 0 },
	[V_TEMP] = { "8310-5", "Body temperature", "Cel", 36.8, 0.8, 0.25, 1 },
};
#define MAX_READINGS 6

static const char *const families[] = { "Murphy", "Kelly", "Byrne", "Walsh", "Okafor", "Nowak",
					"Silva", "Chen", "Haddad", "Larsen", "Rossi", "Dubois" };
static const char *const given_f[] = { "Aoife", "Maria", "Ngozi", "Sofia", "Mei", "Anna" };
static const char *const given_m[] = { "Sean", "Tomasz", "Luca", "Omar", "Jan", "David" };

enum { W_ICU_A, W_ICU_B, W_C, W_D, W_ONC, NWARDS };
static const char *const wards[NWARDS] = { "ICU-A", "ICU-B", "Ward-C", "Ward-D", "Oncology" };

/* A comorbidity: its category (or other_conditions[-1 - k]), code, onset. */
struct comorbidity {
	int category;
	int icd;           /* coded in ICD-10-CM, else SNOMED CT */
	int which;         /* which code of the category */
	int64_t onset;
};

#define MAX_MEDS 14
#define MAX_PROCS 2

/* One stay: one encounter, or two when the patient moved wards. */
struct stay {
	int enc;                  /* the first encounter's number; a transfer's is enc + 1 */
	int64_t start, moved, end; /* moved: the transfer (0: none); end: discharge or death */
	int ward, ward2;
	int unplanned, died, reason;
	double risk;              /* the 30-day readmission probability drawn (-1: none) */
	double observable;        /* the same without the patient's random effect: what
				   * the records can tell, the best score a model can
				   * reach (ranks as E[risk | records] does) */
	double hb, na;            /* the discharge labs (NAN: not taken) */
	int nread[NVITALS];
	double vital[NVITALS][MAX_READINGS];
	int64_t vital_at[NVITALS][MAX_READINGS];
	int nmed, med[MAX_MEDS];
	int64_t med_at[MAX_MEDS];
	int nproc, proc[MAX_PROCS];
	int64_t proc_at[MAX_PROCS];
	int64_t followup;         /* the follow-up appointment's start (0: none) */
};

/* A visit: emergency (treated and sent home) or ambulatory. */
struct visit {
	int enc;
	int emergency;
	int64_t start, end;
};

/* One patient's story. */
struct person {
	char id[24];
	int female;
	int64_t birth, death;     /* death 0: alive at the end */
	double frailty, effect;   /* latent frailty; the random effect in the risk */
	int ncond;
	struct comorbidity cond[CL_CHARLSON_CATEGORIES + 4];
	int nstay, capstay, nvisit, capvisit, nenc;
	struct stay *stays;
	struct visit *visits;
};

/* The cohort being written: one random stream through all of it, the
 * period, the counts, and the patient being simulated. */
struct cohort {
	struct rng r;
	int64_t start, end;           /* the period */
	struct cl_cohort_counts *c;
	double risk_sum;              /* of the index stays, for the mean */
	struct person p;
};

/* The Charlson categories the patient has by time t (bit k: category k). */
static uint32_t categories_at(const struct person *p, int64_t t)
{
	uint32_t m = 0;

	for (int i = 0; i < p->ncond; i++)
		if (p->cond[i].category >= 0 && p->cond[i].onset <= t)
			m |= 1u << p->cond[i].category;
	return m;
}

static double age_at(const struct person *p, int64_t t)
{
	return (double)(t - p->birth) / (double)YEAR;
}

/* The coefficients of the readmission model (logit scale): see
 * docs/commands/generate.md. */
#define B0 (-4.45)
#define B_AGE 0.010          /* per year over 65 */
#define B_LACE_L 0.12        /* per LACE length-of-stay point (0-7) */
#define B_EMERGENCY 0.45     /* an emergency (unplanned) admission */
#define B_CHARLSON 0.14      /* per Charlson point, up to 8 */
#define B_ED_6M 0.20         /* per emergency visit in the 6 months before, up to 4 */
#define B_ADM_12M 0.22       /* per admission in the 12 months before, up to 5 */
#define B_LOW_HB 0.35        /* hemoglobin < 12 g/dL at discharge */
#define B_LOW_NA 0.30        /* sodium < 135 mmol/L at discharge */
#define B_ONCOLOGY 0.40      /* discharged from oncology, or an active malignancy */
#define B_PROCEDURE 0.20     /* a procedure during the stay */
#define B_NEWS2 0.10         /* per NEWS2 point of the last readings, up to 10 */
#define B_MEDS 0.04          /* per medication ordered during the stay */
#define B_FOLLOWUP (-1.00)   /* a follow-up appointment in the 7 days after the discharge */
#define SD_PATIENT 0.7       /* the patient's random effect */

/* Who is given a follow-up appointment: logistic(FU_B0 + FU_RISK * the
 * logit of the risk the records show, before the follow-up), so the
 * higher-risk discharges get one more often (confounding by indication). */
#define FU_B0 0.0
#define FU_RISK 0.4

/* The patient: sex, age (adults, more of them old), frailty, comorbidities. */
static void make_person(struct cohort *g, int i)
{
	struct person *p = &g->p;
	double u = uniform(&g->r), age;

	snprintf(p->id, sizeof(p->id), "cohort-%06d", i + 1);
	p->female = pick(&g->r, 2);
	/* density rising with age: most of a hospital's patients are old */
	age = u < 0.7 ? 18 + 77 * sqrt(uniform(&g->r)) : 18 + 77 * uniform(&g->r);
	p->birth = g->start - (int64_t)(age * (double)YEAR) - pick(&g->r, 365) * DAY;
	p->death = 0;
	p->frailty = normal(&g->r);
	p->effect = SD_PATIENT * normal(&g->r);
	p->ncond = 0;
	p->nstay = p->nvisit = 0;
	p->nenc = 1;
	for (int k = 0; k < CL_CHARLSON_CATEGORIES; k++) {
		double logit = log(prevalence[k].at65 / (1 - prevalence[k].at65)) +
			       log(prevalence[k].or_decade) * (age - 65) / 10 + 0.5 * p->frailty;
		int has = uniform(&g->r) < logistic(logit);
		struct comorbidity *c;

		if (!has)
			continue;
		c = &p->cond[p->ncond++];
		c->category = k;
		c->icd = uniform(&g->r) < 0.2;
		c->which = 0;
		while (c->which + 1 < CL_CHARLSON_CODES_MAX &&
		       (c->icd ? cl_charlson_categories[k].icd10cm[c->which + 1].code
			       : cl_charlson_categories[k].snomed[c->which + 1].code) &&
		       uniform(&g->r) < 0.4)
			c->which++;
		/* most known before the period, some diagnosed during it */
		if (uniform(&g->r) < 0.75) {
			int64_t back = (int64_t)((0.2 + uniform(&g->r) * 15) * (double)YEAR);
			int64_t adult = p->birth + 18 * YEAR;

			c->onset = g->start - back < adult ? adult : g->start - back;
		} else {
			c->onset = g->start +
				   (int64_t)(uniform(&g->r) * (double)(g->end - g->start));
		}
		c->onset = c->onset / DAY * DAY;
		/* a metastatic tumour has a primary */
		if (k == CL_CHARLSON_METASTATIC &&
		    !(categories_at(p, INT64_MAX) & BIT(CL_CHARLSON_MALIGNANCY))) {
			struct comorbidity *m = &p->cond[p->ncond++];

			*m = *c;
			m->category = CL_CHARLSON_MALIGNANCY;
			m->which = 0;
			m->onset -= 90 * DAY;
		}
	}
	for (int k = 0; k < 3; k++) {
		int64_t onset, adult = p->birth + 18 * YEAR;

		if (uniform(&g->r) >= (k == 0 ? 0.35 : k == 1 ? 0.3 : 0.2) * (0.5 + age / 65))
			continue;
		onset = g->start - (int64_t)(uniform(&g->r) * 10 * (double)YEAR);
		p->cond[p->ncond++] = (struct comorbidity){
			.category = -1 - k, .onset = (onset < adult ? adult : onset) / DAY * DAY };
	}
}

static struct stay *new_stay(struct cohort *g)
{
	struct person *p = &g->p;

	if (p->nstay == p->capstay) {
		int cap = p->capstay ? p->capstay * 2 : 16;
		struct stay *ns = cl_realloc(p->stays, (size_t)cap * sizeof(*ns));

		if (!ns)
			return NULL;
		p->stays = ns;
		p->capstay = cap;
	}
	memset(&p->stays[p->nstay], 0, sizeof(p->stays[0]));
	return &p->stays[p->nstay++];
}

static int add_visit(struct cohort *g, int emergency, int64_t start)
{
	struct person *p = &g->p;
	struct visit *v;

	if (p->nvisit == p->capvisit) {
		int cap = p->capvisit ? p->capvisit * 2 : 32;
		struct visit *nv = cl_realloc(p->visits, (size_t)cap * sizeof(*nv));

		if (!nv)
			return cl_error_set(CL_ENOMEM, "no memory for a patient's visits");
		p->visits = nv;
		p->capvisit = cap;
	}
	v = &p->visits[p->nvisit++];
	v->enc = p->nenc++;
	v->emergency = emergency;
	v->start = start;
	v->end = start + (emergency ? (2 + pick(&g->r, 6)) * HOUR + pick(&g->r, 60) * MINUTE
				    : (15 + pick(&g->r, 31)) * MINUTE);
	return CL_OK;
}

/* NEWS2 of one set of readings (alert, on air). */
static int news2(double rr, double spo2, double sbp, double hr, double temp)
{
	int s = 0;

	s += rr <= 8 ? 3 : rr <= 11 ? 1 : rr <= 20 ? 0 : rr <= 24 ? 2 : 3;
	s += spo2 <= 91 ? 3 : spo2 <= 93 ? 2 : spo2 <= 95 ? 1 : 0;
	s += sbp <= 90 ? 3 : sbp <= 100 ? 2 : sbp <= 110 ? 1 : sbp <= 219 ? 0 : 3;
	s += hr <= 40 ? 3 : hr <= 50 ? 1 : hr <= 90 ? 0 : hr <= 110 ? 1 : hr <= 130 ? 2 : 3;
	s += temp <= 35.0 ? 3 : temp <= 36.0 ? 1 : temp <= 38.0 ? 0 : temp <= 39.0 ? 1 : 2;
	return s;
}

/* LACE's points for a length of stay in days. */
static int lace_l(int days)
{
	return days < 1 ? 0 : days <= 3 ? days : days <= 6 ? 4 : days <= 13 ? 5 : 7;
}

/* Visits and stays of the patient that began in [from, to). */
static int emergency_visits(const struct person *p, int64_t from, int64_t to)
{
	int n = 0;

	for (int i = 0; i < p->nvisit; i++) {
		const struct visit *v = &p->visits[i];

		n += v->emergency && v->start >= from && v->start < to;
	}
	return n;
}

static int admissions(const struct person *p, int64_t from, int64_t to)
{
	int n = 0;

	for (int i = 0; i < p->nstay; i++)
		n += p->stays[i].start >= from && p->stays[i].start < to;
	return n;
}

/* The day of t at a time between from and from + hours (clinics and
 * elective lists keep office hours). */
static int64_t daytime(struct cohort *g, int64_t t, int from, int hours)
{
	return t / DAY * DAY + (from + pick(&g->r, hours)) * HOUR + pick(&g->r, 4) * 15 * MINUTE;
}

/* One stay from its admission at t: wards, length, what happened in it,
 * its end (a death or a discharge) and, on a discharge, its risk. NULL
 * when the stay would not end before the period does, or no memory. */
static struct stay *make_stay(struct cohort *g, int64_t t, int unplanned, int *past_end)
{
	struct person *p = &g->p;
	uint32_t cats = categories_at(p, t);
	int ch = cl_charlson_index(cats);
	int malignant = !!(cats & (BIT(CL_CHARLSON_MALIGNANCY) | BIT(CL_CHARLSON_METASTATIC)));
	double age = age_at(p, t), s, los_h, ends, risk;
	int64_t los;
	struct stay *st;
	int icu, n2, days, prior_ed, prior_adm, oncology;

	*past_end = 0;
	/* how unwell: comorbidity, frailty, an emergency */
	s = 0.12 * ch + 0.35 * p->frailty + (unplanned ? 0.3 : -0.2) + 0.6 * normal(&g->r);
	icu = unplanned && uniform(&g->r) < logistic(-2.6 + 1.1 * s);
	los_h = (unplanned ? 80.0 : 48.0) *
		exp(0.08 * (age - 65) / 10 + 0.25 * s + (icu ? 0.5 : 0) + 0.75 * normal(&g->r));
	if (los_h < 6)
		los_h = 6 + uniform(&g->r) * 6;
	if (los_h > 60 * 24)
		los_h = 60 * 24;
	los = (int64_t)(los_h * (double)HOUR) / MINUTE * MINUTE;
	if (t + los >= g->end) {
		*past_end = 1;
		return NULL;
	}
	prior_ed = emergency_visits(p, t - 182 * DAY, t);
	prior_adm = admissions(p, t - 365 * DAY, t);
	st = new_stay(g);
	if (!st)
		return NULL;
	st->enc = p->nenc++;
	st->start = t;
	st->end = t + los;
	st->unplanned = unplanned;
	st->reason = pick(&g->r, (int)(sizeof(reasons) / sizeof(reasons[0])));
	if (icu)
		st->ward = pick(&g->r, 2) ? W_ICU_A : W_ICU_B;
	else if (malignant && uniform(&g->r) < (unplanned ? 0.35 : 0.7))
		st->ward = W_ONC;
	else
		st->ward = uniform(&g->r) < 0.65 ? W_C : W_D;
	st->ward2 = -1;
	/* from intensive care to a ward, and a few between wards */
	if ((icu && uniform(&g->r) < 0.7) || (!icu && uniform(&g->r) < 0.05)) {
		st->ward2 = st->ward == W_C ? W_D : st->ward == W_ONC && uniform(&g->r) < 0.5 ? W_D
											  : W_C;
		st->moved = t + (int64_t)((0.25 + 0.35 * uniform(&g->r)) * (double)los) / MINUTE *
				    MINUTE;
		p->nenc++;
	}
	oncology = st->ward == W_ONC || st->ward2 == W_ONC || malignant;
	/* a death in hospital: older, sicker, in intensive care */
	st->died = uniform(&g->r) < logistic(-6.0 + 0.05 * (age - 65) + 0.2 * ch + 0.9 * s +
					     (icu ? 0.8 : 0));
	if (st->died) {
		st->end = t + (int64_t)((0.3 + 0.7 * uniform(&g->r)) * (double)los) / MINUTE *
				  MINUTE;
		if (st->moved && st->moved >= st->end)
			st->moved = 0, st->ward2 = -1, p->nenc--;
		p->death = st->end;
	}
	/* medications: more for the sicker and the longer stays */
	st->nmed = poisson(&g->r, 1.5 + 0.35 * ch + 0.8 * (s > 0 ? s : 0) + 0.15 * los_h / 24);
	if (st->nmed > MAX_MEDS)
		st->nmed = MAX_MEDS;
	for (int k = 0; k < st->nmed; k++) {
		st->med[k] = oncology && !unplanned && k == 0 ? NMEDS_PLAIN + pick(&g->r, 2)
							      : pick(&g->r, NMEDS_PLAIN);
		st->med_at[k] = t + (int64_t)(uniform(&g->r) * 0.8 * (double)(st->end - t));
	}
	/* procedures: most elective stays, some emergency ones, none in others */
	if (uniform(&g->r) < (unplanned ? 0.3 + (icu ? 0.25 : 0) : 0.85)) {
		st->nproc = uniform(&g->r) < 0.2 ? 2 : 1;
		for (int k = 0; k < st->nproc; k++) {
			st->proc[k] = oncology && !unplanned && k == 0 ? NPROCS_PLAIN
								       : pick(&g->r, NPROCS_PLAIN);
			st->proc_at[k] = t + (int64_t)(uniform(&g->r) * 0.7 *
						       (double)(st->end - t));
		}
	}
	/* the labs at discharge (not always taken; true values drive the risk) */
	st->hb = 13.6 - (p->female ? 1.1 : 0) - 1.0 * !!(cats & BIT(CL_CHARLSON_RENAL)) -
		 0.9 * malignant - 0.35 * s - 0.012 * (age - 65) + 1.3 * normal(&g->r);
	st->na = 139.5 - 2.0 * !!(cats & BIT(CL_CHARLSON_CHF)) -
		 2.0 * !!(cats & (BIT(CL_CHARLSON_MILD_LIVER) | BIT(CL_CHARLSON_SEVERE_LIVER))) -
		 0.9 * s + 2.8 * normal(&g->r);
	st->hb = st->hb < 5 ? 5 : st->hb > 19 ? 19 : round(st->hb * 10) / 10;
	st->na = st->na < 115 ? 115 : st->na > 155 ? 155 : round(st->na);
	/* the last day's vital signs: worse, and worsening, for the unstable */
	ends = s > 0 ? s : 0;
	for (int v = 0; v < NVITALS; v++) {
		int n = 3 + pick(&g->r, MAX_READINGS - 2);

		st->nread[v] = n;
		for (int k = 0; k < n; k++) {
			double x = vitals[v].normal +
				   vitals[v].worse * ends * (0.5 + 0.5 * k / (double)(n - 1)) +
				   vitals[v].sd * normal(&g->r);
			double scale = vitals[v].decimals ? 10 : 1;

			if (v == V_SPO2 && x > 100)
				x = 100;
			st->vital[v][k] = round(x * scale) / scale;
			st->vital_at[v][k] = st->end - 24 * HOUR + (k * 24 * HOUR) / n +
					     pick(&g->r, (int)(24 * 60 / n)) * MINUTE;
			if (st->vital_at[v][k] < t)
				st->vital_at[v][k] = t + k * MINUTE;
			if (st->vital_at[v][k] >= st->end)
				st->vital_at[v][k] = st->end - (n - k) * MINUTE;
		}
	}
	if (st->died) {
		st->risk = -1;
		return st;
	}
	n2 = news2(st->vital[V_RR][st->nread[V_RR] - 1], st->vital[V_SPO2][st->nread[V_SPO2] - 1],
		   st->vital[V_SBP][st->nread[V_SBP] - 1], st->vital[V_HR][st->nread[V_HR] - 1],
		   st->vital[V_TEMP][st->nread[V_TEMP] - 1]);
	days = (int)((st->end - st->start) / DAY);
	risk = B0 + B_AGE * (age - 65) + B_LACE_L * lace_l(days) + B_EMERGENCY * unplanned +
	       B_CHARLSON * (ch < 8 ? ch : 8) + B_ED_6M * (prior_ed < 4 ? prior_ed : 4) +
	       B_ADM_12M * (prior_adm < 5 ? prior_adm : 5) + B_LOW_HB * (st->hb < 12) +
	       B_LOW_NA * (st->na < 135) + B_ONCOLOGY * oncology + B_PROCEDURE * (st->nproc > 0) +
	       B_NEWS2 * (n2 < 10 ? n2 : 10) + B_MEDS * st->nmed + p->effect;
	/* a follow-up booked at the discharge, 1 to 6 days after it in
	 * office hours: given by the risk the records show (not the
	 * patient's random effect), and protective */
	if (uniform(&g->r) < logistic(FU_B0 + FU_RISK * (risk - p->effect))) {
		st->followup = daytime(g, st->end + (1 + pick(&g->r, 6)) * DAY, 9, 8);
		risk += B_FOLLOWUP;
	}
	st->risk = logistic(risk);
	st->observable = logistic(risk - p->effect);
	/* some labs not taken (after the risk: the body has them regardless) */
	if (uniform(&g->r) < 0.08)
		st->hb = NAN;
	if (uniform(&g->r) < 0.08)
		st->na = NAN;
	return st;
}

/* The patient's events, in time order, until the period ends or they die. */
static int simulate(struct cohort *g)
{
	struct person *p = &g->p;
	int64_t t = g->start, next_ed, next_amb, next_unpl, next_plan;

#define RATE_ED() exp(-1.1 + 0.12 * cl_charlson_index(categories_at(p, t)) + 0.5 * p->frailty)
#define RATE_AMB() (1.2 + 0.3 * cl_charlson_index(categories_at(p, t)))
#define RATE_UNPL() exp(-1.6 + 0.18 * cl_charlson_index(categories_at(p, t)) + \
			0.15 * (age_at(p, t) - 65) / 10 + 0.6 * p->frailty)
#define RATE_PLAN() (0.06 + (categories_at(p, t) & BIT(CL_CHARLSON_MALIGNANCY) ? 0.9 : 0))
	next_ed = t + waiting(&g->r, RATE_ED());
	next_amb = daytime(g, t + waiting(&g->r, RATE_AMB()), 8, 9);
	next_unpl = t + waiting(&g->r, RATE_UNPL());
	next_plan = daytime(g, t + waiting(&g->r, RATE_PLAN()), 7, 4);
	for (;;) {
		int64_t at = next_ed;
		struct stay *st;
		int which = 0, past_end, rc;

		if (next_amb < at)
			at = next_amb, which = 1;
		if (next_unpl < at)
			at = next_unpl, which = 2;
		if (next_plan < at)
			at = next_plan, which = 3;
		/* one thing at a time, hours apart: a visit is not mistaken for
		 * the start of a stay that follows it */
		if (p->nvisit && at < p->visits[p->nvisit - 1].end + GAP)
			at = p->visits[p->nvisit - 1].end + GAP;
		if (at >= g->end)
			return CL_OK;
		t = at / MINUTE * MINUTE;
		if (which == 0 || which == 1) {
			rc = add_visit(g, which == 0, t);
			if (rc)
				return rc;
			if (which == 0)
				next_ed = t + 3 * HOUR + waiting(&g->r, RATE_ED());
			else
				next_amb = daytime(g, t + DAY + waiting(&g->r, RATE_AMB()), 8, 9);
			continue;
		}
		st = make_stay(g, t, which == 2, &past_end);
		if (!st)
			return past_end ? CL_OK : cl_error_set(CL_ENOMEM, "no memory for a stay");
		if (st->died)
			return CL_OK;
		t = st->end;
		next_ed = t + GAP + waiting(&g->r, RATE_ED());
		next_amb = daytime(g, t + DAY + waiting(&g->r, RATE_AMB()), 8, 9);
		/* after a discharge: a death within 30 days, an unplanned
		 * readmission with the stay's risk, or else sometimes an
		 * elective one; the background admissions wait 30 days */
		next_unpl = t + 30 * DAY + waiting(&g->r, RATE_UNPL());
		next_plan = daytime(g, t + 30 * DAY + waiting(&g->r, RATE_PLAN()), 7, 4);
		if (uniform(&g->r) < logistic(-5.6 + 0.05 * (age_at(p, t) - 65) +
					      0.25 * cl_charlson_index(categories_at(p, t)) +
					      2.0 * st->risk)) {
			int64_t when = t + (1 + pick(&g->r, 29)) * DAY + pick(&g->r, 24) * HOUR;

			if (when < g->end) {
				p->death = when;
				return CL_OK;
			}
		}
		if (uniform(&g->r) < st->risk) {
			double u = uniform(&g->r);

			/* most readmissions come in the first two weeks */
			next_unpl = t + (int64_t)((0.5 + 29.5 * pow(u, 1.6)) * (double)DAY) /
						MINUTE * MINUTE;
		} else if (uniform(&g->r) < 0.04) {
			next_plan = daytime(g, t + (7 + pick(&g->r, 21)) * DAY, 7, 4);
		}
	}
#undef RATE_ED
#undef RATE_AMB
#undef RATE_UNPL
#undef RATE_PLAN
}

/* ---- writing ---- */

static void ts(int64_t us, char *buf)
{
	cl_time_format_rfc3339(us, buf, 40, 0);
}

/* "cohort-000001-e0003": the patient's encounter number n. */
static void enc_id(const struct person *p, int n, char *buf, size_t cap)
{
	snprintf(buf, cap, "%s-e%04d", p->id, n);
}

static void write_encounter(struct cohort *g, FILE *f, int n, const char *cls,
			    const char *cls_display, const char *type, const char *type_display,
			    int64_t start, int64_t end, int reason, int ward)
{
	const struct person *p = &g->p;
	char id[48], a[40], b[40];

	enc_id(p, n, id, sizeof(id));
	ts(start, a);
	ts(end, b);
	fprintf(f, "{\"resourceType\":\"Encounter\",\"id\":\"%s\",\"status\":\"finished\","
		   "\"class\":{\"system\":\"" ACTCODE "\",\"code\":\"%s\",\"display\":\"%s\"},"
		   "\"type\":[{\"coding\":[{\"system\":\"" SNOMED "\",\"code\":\"%s\",\"display\":"
		   "\"%s\"}],\"text\":\"%s\"}],\"subject\":{\"reference\":\"Patient/%s\"},"
		   "\"period\":{\"start\":\"%s\",\"end\":\"%s\"}", id, cls, cls_display, type,
		type_display, type_display, p->id, a, b);
	if (reason >= 0)
		fprintf(f, ",\"reasonCode\":[{\"coding\":[{\"system\":\"" SNOMED "\","
			   "\"code\":\"%s\",\"display\":\"%s\"}],\"text\":\"%s\"}]",
			reasons[reason].code, reasons[reason].display, reasons[reason].display);
	if (ward >= 0)
		fprintf(f, ",\"location\":[{\"location\":{\"display\":\"%s\"}}]", wards[ward]);
	fputs("}\n", f);
	g->c->encounters++;
}

/* An Observation with a quantity. */
static void write_observation(struct cohort *g, FILE *f, int *nobs, const char *enc,
			      const char *category, const char *code, const char *display,
			      int64_t at, double value, int decimals, const char *unit)
{
	const struct person *p = &g->p;
	char a[40];

	ts(at, a);
	fprintf(f, "{\"resourceType\":\"Observation\",\"id\":\"%s-o%05d\",\"status\":\"final\","
		   "\"category\":[{\"coding\":[{\"system\":\"" OBSCAT "\",\"code\":\"%s\"}]}],"
		   "\"code\":{\"coding\":[{\"system\":\"" LOINC "\",\"code\":\"%s\",\"display\":"
		   "\"%s\"}],\"text\":\"%s\"},\"subject\":{\"reference\":\"Patient/%s\"},"
		   "\"encounter\":{\"reference\":\"Encounter/%s\"},\"effectiveDateTime\":\"%s\","
		   "\"valueQuantity\":{\"value\":%.*f,\"unit\":\"%s\",\"system\":\"" UCUM "\","
		   "\"code\":\"%s\"}}\n", p->id, ++*nobs, category, code, display, display, p->id,
		enc, a, decimals, value, unit, unit);
	g->c->observations++;
}

/* When a discharge lab was taken: 2 to 8 hours before the discharge,
 * within the stay's last encounter. */
static int64_t lab_time(struct cohort *g, const struct stay *st)
{
	int64_t from = st->moved ? st->moved : st->start;
	int64_t at = st->end - (2 + pick(&g->r, 6)) * HOUR;

	return at > from ? at : from + (st->end - from) / 2 / MINUTE * MINUTE;
}

/* The stay's follow-up appointment, booked at the discharge: fulfilled,
 * or still booked when a readmission or a death came before it. */
static void write_followup(struct cohort *g, FILE *f, const struct stay *st, int n,
			   const char *enc)
{
	const struct person *p = &g->p;
	const struct stay *next = st + 1 < p->stays + p->nstay ? st + 1 : NULL;
	int missed = (next && next->start < st->followup) || (p->death && p->death < st->followup);
	char a[40], b[40], c[40];

	ts(st->followup, a);
	ts(st->followup + 20 * MINUTE, b);
	ts(st->end, c);
	fprintf(f, "{\"resourceType\":\"Appointment\",\"id\":\"%s-a%04d\",\"status\":\"%s\","
		   "\"appointmentType\":{\"coding\":[{\"system\":\"" APPTYPE "\",\"code\":"
		   "\"FOLLOWUP\",\"display\":\"A follow up visit from a previous appointment\"}]},"
		   "\"serviceType\":[{\"text\":\"Follow-up after discharge\"}],\"description\":"
		   "\"Follow-up after discharge\",\"supportingInformation\":[{\"reference\":"
		   "\"Encounter/%s\"}],\"start\":\"%s\",\"end\":\"%s\",\"created\":\"%s\","
		   "\"participant\":[{\"actor\":{\"reference\":\"Patient/%s\"},\"status\":"
		   "\"accepted\"}]}\n", p->id, n, missed ? "booked" : "fulfilled", enc, a, b, c,
		p->id);
}

static void write_stay(struct cohort *g, FILE *f, const struct stay *st, int *nmed, int *nproc,
		       int *nobs, int *nappt)
{
	const struct person *p = &g->p;
	const char *type = st->unplanned ? "183452005" : "8715000",
		   *type_display = st->unplanned ? "Emergency hospital admission"
						 : "Hospital admission, elective";
	char first[48], last[48], a[40], b[40];

	enc_id(p, st->enc, first, sizeof(first));
	enc_id(p, st->moved ? st->enc + 1 : st->enc, last, sizeof(last));
	write_encounter(g, f, st->enc, "IMP", "inpatient encounter", type, type_display, st->start,
			st->moved ? st->moved : st->end, st->unplanned ? st->reason : -1, st->ward);
	if (st->moved) {
		write_encounter(g, f, st->enc + 1, "IMP", "inpatient encounter", type, type_display,
				st->moved, st->end, st->unplanned ? st->reason : -1, st->ward2);
		g->c->transfers++;
	}
	g->c->stays++;
	for (int k = 0; k < st->nmed; k++) {
		const struct cl_charlson_code *m = &medications[st->med[k]];

		ts(st->med_at[k], a);
		fprintf(f, "{\"resourceType\":\"MedicationRequest\",\"id\":\"%s-m%04d\",\"status\":"
			   "\"completed\",\"intent\":\"order\",\"medicationCodeableConcept\":"
			   "{\"coding\":[{\"system\":\"" RXNORM "\",\"code\":\"%s\","
			   "\"display\":\"%s\"}],\"text\":\"%s\"},\"subject\":{\"reference\":"
			   "\"Patient/%s\"},\"encounter\":{\"reference\":\"Encounter/%s\"},"
			   "\"authoredOn\":\"%s\"}\n", p->id, ++*nmed,
			m->code, m->display, m->display, p->id,
			st->moved && st->med_at[k] >= st->moved ? last : first, a);
		g->c->medications++;
	}
	for (int k = 0; k < st->nproc; k++) {
		const struct cl_charlson_code *pr = &procedures[st->proc[k]];
		int in_first = !st->moved || st->proc_at[k] < st->moved;
		int64_t end = st->proc_at[k] + (30 + pick(&g->r, 150)) * MINUTE;

		/* over by the end of the encounter it was done in */
		if (end > (in_first && st->moved ? st->moved : st->end))
			end = in_first && st->moved ? st->moved : st->end;
		ts(st->proc_at[k], a);
		ts(end, b);
		fprintf(f, "{\"resourceType\":\"Procedure\",\"id\":\"%s-p%04d\","
			   "\"status\":\"completed\",\"code\":{\"coding\":[{\"system\":"
			   "\"" SNOMED "\",\"code\":\"%s\",\"display\":\"%s\"}],\"text\":\"%s\"},"
			   "\"subject\":{\"reference\":\"Patient/%s\"},\"encounter\":"
			   "{\"reference\":\"Encounter/%s\"},\"performedPeriod\":{\"start\":"
			   "\"%s\",\"end\":\"%s\"}}\n",
			p->id, ++*nproc, pr->code, pr->display, pr->display, p->id,
			in_first ? first : last, a, b);
		g->c->procedures++;
	}
	for (int v = 0; v < NVITALS; v++)
		for (int k = 0; k < st->nread[v]; k++) {
			int in_first = !st->moved || st->vital_at[v][k] < st->moved;

			write_observation(g, f, nobs, in_first ? first : last, "vital-signs",
					  vitals[v].code, vitals[v].display, st->vital_at[v][k],
					  st->vital[v][k], vitals[v].decimals, vitals[v].unit);
		}
	if (st->died)
		return;
	if (!isnan(st->hb))
		write_observation(g, f, nobs, last, "laboratory", "718-7",
				  "Hemoglobin [Mass/volume] in Blood", lab_time(g, st), st->hb, 1,
				  "g/dL");
	if (!isnan(st->na))
		write_observation(g, f, nobs, last, "laboratory", "2951-2",
				  "Sodium [Moles/volume] in Serum or Plasma", lab_time(g, st),
				  st->na, 0, "mmol/L");
	/* nothing on or after the period's end */
	if (st->followup && st->followup < g->end)
		write_followup(g, f, st, ++*nappt, last);
}

/* The patient's resources: Patient, Conditions, Encounters and what
 * happened in them. */
static void write_person(struct cohort *g, FILE *f)
{
	const struct person *p = &g->p;
	char a[40], day[11];
	int nmed = 0, nproc = 0, nobs = 0, nappt = 0;

	cl_time_format_day(p->birth, day);
	fprintf(f, "{\"resourceType\":\"Patient\",\"id\":\"%s\",\"name\":[{\"family\":\"%s\","
		   "\"given\":[\"%s\"]}],\"gender\":\"%s\",\"birthDate\":\"%s\"", p->id,
		families[pick(&g->r, 12)],
		p->female ? given_f[pick(&g->r, 6)] : given_m[pick(&g->r, 6)],
		p->female ? "female" : "male", day);
	if (p->death) {
		ts(p->death, a);
		fprintf(f, ",\"deceasedDateTime\":\"%s\"", a);
		g->c->deaths++;
	}
	fputs("}\n", f);
	g->c->patients++;
	for (int i = 0; i < p->ncond; i++) {
		const struct comorbidity *c = &p->cond[i];
		const struct cl_charlson_code *code;
		const char *system = c->icd ? ICD10CM : SNOMED;

		if (p->death && c->onset > p->death)
			continue;
		if (c->category < 0)
			code = &other_conditions[-1 - c->category];
		else if (c->icd)
			code = &cl_charlson_categories[c->category].icd10cm[c->which];
		else
			code = &cl_charlson_categories[c->category].snomed[c->which];
		ts(c->onset, a);
		fprintf(f, "{\"resourceType\":\"Condition\",\"id\":\"%s-c%02d\",\"clinicalStatus\":"
			   "{\"coding\":[{\"system\":\"http://terminology.hl7.org/CodeSystem/"
			   "condition-clinical\",\"code\":\"active\"}]},\"code\":{\"coding\":"
			   "[{\"system\":\"%s\",\"code\":\"%s\",\"display\":\"%s\"}],\"text\":"
			   "\"%s\"},\"subject\":{\"reference\":\"Patient/%s\"},\"onsetDateTime\":"
			   "\"%s\"}\n", p->id, i + 1,
			system, code->code, code->display, code->display, p->id, a);
		g->c->conditions++;
	}
	for (int i = 0; i < p->nvisit; i++) {
		const struct visit *v = &p->visits[i];

		if (v->emergency)
			write_encounter(g, f, v->enc, "EMER", "emergency", "4525004",
					"Emergency department patient visit", v->start, v->end, -1,
					-1);
		else
			write_encounter(g, f, v->enc, "AMB", "ambulatory", "185349003",
					"Encounter for check up", v->start, v->end, -1, -1);
		if (v->emergency)
			g->c->emergency_visits++;
		else
			g->c->ambulatory_visits++;
	}
	for (int i = 0; i < p->nstay; i++) {
		write_stay(g, f, &p->stays[i], &nmed, &nproc, &nobs, &nappt);
		g->c->deaths_in_stay += p->stays[i].died;
	}
}

/* The truth of each stay ended alive: its risk, whether an unplanned
 * admission began within 30 days of its discharge, and whether the 30
 * days were not all seen (a death first, or the period's end). */
static void write_truth(struct cohort *g, FILE *f)
{
	const struct person *p = &g->p;
	char id[48], a[40];

	for (int i = 0; i < p->nstay; i++) {
		const struct stay *st = &p->stays[i];
		int readmitted = 0, censored, planned = 0;

		if (st->died)
			continue;
		for (int j = i + 1; j < p->nstay; j++) {
			if (p->stays[j].start > st->end + 30 * DAY)
				break;
			if (p->stays[j].unplanned)
				readmitted = 1;
			else if (j == i + 1)
				planned = 1;
		}
		censored = !readmitted && ((p->death && p->death <= st->end + 30 * DAY) ||
					   st->end + 30 * DAY > g->end);
		enc_id(p, st->enc, id, sizeof(id));
		ts(st->end, a);
		fprintf(f, "%s,%s,%s,%.6f,%d,%d,%.6f\n", id, p->id, a, st->risk, readmitted, censored,
			st->observable);
		g->c->index_stays++;
		g->c->readmitted += readmitted;
		g->c->censored += censored;
		g->c->planned_readmissions += planned;
		g->risk_sum += st->risk;
	}
}

/* Opens dir/name for writing into *f, with a large buffer. */
static int open_out(const char *dir, const char *name, FILE **f)
{
	char path[PATH_MAX + 64];

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	*f = fopen(path, "w");
	if (!*f)
		return cl_error_set(cl_error_from_errno(errno), "cannot write %s: %s", path,
				    strerror(errno));
	setvbuf(*f, NULL, _IOFBF, 1 << 20);
	return CL_OK;
}

/* Closes f (if open), saying whether everything written reached the file. */
static int close_out(FILE *f, const char *name, int rc)
{
	int bad;

	if (!f)
		return rc;
	bad = ferror(f);
	if ((fclose(f) != 0 || bad) && rc == CL_OK)
		return cl_error_set(CL_EIO, "cannot write %s (is the disk full?)", name);
	return rc;
}

int cl_generate_cohort(const char *out_dir, const struct cl_cohort_options *o,
		       struct cl_cohort_counts *c)
{
	struct cohort g = {
		.r = { o->seed * 0x2545f4914f6cdd1dull + 0x5eed },
		.start = o->end_us - o->years * YEAR,
		.end = o->end_us,
		.c = c,
	};
	char dir[PATH_MAX], name[64] = "";
	FILE *f = NULL, *truth = NULL;
	int rc;

	memset(c, 0, sizeof(*c));
	if (o->patients < 1 || o->years < 1)
		return cl_error_set(CL_EINVAL, "a cohort needs at least one patient and one year");
	snprintf(dir, sizeof(dir), "%s/fhir", out_dir);
	rc = cl_fs_mkdirs(dir);
	if (rc == CL_OK)
		rc = open_out(out_dir, "readmission-truth.csv", &truth);
	if (rc == CL_OK)
		fputs("stay_id,patient_id,discharge,true_risk,readmitted,censored,observable_risk\n",
		      truth);
	for (int i = 0; rc == CL_OK && i < o->patients; i++) {
		if (i % PATIENTS_PER_FILE == 0) {
			rc = close_out(f, name, CL_OK);
			f = NULL;
			snprintf(name, sizeof(name), "cohort-%02d.ndjson",
				 i / PATIENTS_PER_FILE + 1);
			if (rc == CL_OK)
				rc = open_out(dir, name, &f);
			if (rc)
				break;
			c->files++;
		}
		make_person(&g, i);
		rc = simulate(&g);
		if (rc == CL_OK) {
			write_person(&g, f);
			write_truth(&g, truth);
		}
	}
	rc = close_out(f, name, rc);
	rc = close_out(truth, "readmission-truth.csv", rc);
	c->mean_risk = c->index_stays ? g.risk_sum / (double)c->index_stays : 0;
	cl_free(g.p.stays);
	cl_free(g.p.visits);
	return rc;
}
