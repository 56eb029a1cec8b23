/*
 * The Charlson comorbidity index (Charlson et al. 1987, the weights LACE
 * uses) from Condition codes: its 17 categories, each with its SNOMED CT
 * concepts and its ICD-10 codes (after Quan et al. 2005; ranges such as
 * "C00-C26", dots ignored), and the category it supersedes when both are
 * present (complicated diabetes over diabetes, moderate or severe liver
 * disease over mild, metastatic tumour over malignancy). The one mapping:
 * `carelake generate --cohort` writes these codes, and the readmission
 * feature table scores conditions with it (docs/ml.md lists it).
 */
#ifndef CL_CHARLSON_H
#define CL_CHARLSON_H

#include <stdint.h>

#define CL_CHARLSON_CATEGORIES 17
#define CL_CHARLSON_CODES_MAX 5      /* SNOMED or ICD-10-CM codes written, NULL-ended */
#define CL_CHARLSON_PREFIXES_MAX 24  /* ICD-10 prefixes, NULL-ended */

/* The categories, in the order of Charlson's paper (the table's indexes). */
enum cl_charlson_id {
	CL_CHARLSON_MI, CL_CHARLSON_CHF, CL_CHARLSON_PVD, CL_CHARLSON_CVD, CL_CHARLSON_DEMENTIA,
	CL_CHARLSON_CPD, CL_CHARLSON_RHEUM, CL_CHARLSON_PUD, CL_CHARLSON_MILD_LIVER,
	CL_CHARLSON_DM, CL_CHARLSON_DM_COMPL, CL_CHARLSON_HEMIPLEGIA, CL_CHARLSON_RENAL,
	CL_CHARLSON_MALIGNANCY, CL_CHARLSON_SEVERE_LIVER, CL_CHARLSON_METASTATIC,
	CL_CHARLSON_HIV,
};

/* A code and its display. */
struct cl_charlson_code {
	const char *code;
	const char *display;
};

/* One Charlson category (Charlson 1987 weights; ICD-10 from Quan 2005). */
struct cl_charlson_category {
	const char *name;      /* e.g. "congestive heart failure" */
	int weight;            /* its weight in the Charlson index */
	/* SNOMED CT concepts of the category (system http://snomed.info/sct) */
	struct cl_charlson_code snomed[CL_CHARLSON_CODES_MAX];
	/* ICD-10 code prefixes of the category, with or without the dot
	 * ("I21", "I25.2"); "C00-C26" is every code from C00 to C26
	 * (compared on the length of its ends) */
	const char *icd10[CL_CHARLSON_PREFIXES_MAX];
	/* the ICD-10-CM codes the generator writes (system
	 * http://hl7.org/fhir/sid/icd-10-cm) */
	struct cl_charlson_code icd10cm[CL_CHARLSON_CODES_MAX];
	/* the category this one replaces when a patient has both (complicated
	 * diabetes over diabetes, ...), as an index into the table; -1 for none */
	int supersedes;
};

/* The 17 categories, indexed by enum cl_charlson_id
 * (cl_charlson.c). */
extern const struct cl_charlson_category cl_charlson_categories[CL_CHARLSON_CATEGORIES];

/* The category (index into cl_charlson_categories) of a condition's code:
 * digits are looked up as SNOMED CT, anything else as ICD-10 (with or
 * without the dot). -1 when the code is in no category. */
int cl_charlson_category_of(const char *code);

/* The Charlson index of a set of categories (bit i: category i present),
 * each superseded category dropped when the one above it is present. */
int cl_charlson_index(uint32_t categories);

#endif
