/*
 * A synthetic cohort for readmission models (`carelake generate
 * --cohort`): adult patients over some years with their comorbidities
 * (every Charlson category, in SNOMED CT and ICD-10-CM), emergency
 * visits, emergency and elective admissions (some across two wards),
 * what happened during each stay (medications, procedures, the last
 * day's vital signs, discharge labs), deaths, and 30-day unplanned
 * readmissions drawn from a documented logistic model of published risk
 * factors (LACE, HOSPITAL) with a patient-level random effect. The
 * probability used for each stay is written beside the FHIR files, so a
 * model's calibration can be checked against the truth. Deterministic
 * for a seed and an end date. docs/commands/generate.md has the model.
 *
 * The generator writes the codes of the Charlson table in
 * model/cl_charlson.h, the one mapping the feature table uses too.
 */
#ifndef CL_GENERATE_COHORT_H
#define CL_GENERATE_COHORT_H

#include "model/cl_charlson.h"

#include <stdint.h>

/* ---- the cohort ---- */

/* What to generate. */
struct cl_cohort_options {
	int patients;        /* 1..1000000 */
	int years;           /* 1..20: the period before end */
	uint64_t seed;
	int64_t end_us;      /* the period's end (µs since the epoch); nothing after it */
};

/* What was written. */
struct cl_cohort_counts {
	long patients, conditions, encounters, stays, transfers, emergency_visits,
		ambulatory_visits, medications, procedures, observations, files;
	long deaths, deaths_in_stay, index_stays, readmitted, planned_readmissions, censored;
	double mean_risk;    /* mean true_risk over the index stays */
};

/* Writes into out_dir (created): fhir/cohort-NN.ndjson (FHIR R4 NDJSON,
 * 2,000 patients a file, each patient's resources after the Patient) and
 * readmission-truth.csv (stay_id,patient_id,discharge,true_risk,
 * readmitted,censored: one row per stay ended alive). */
int cl_generate_cohort(const char *out_dir, const struct cl_cohort_options *o,
		       struct cl_cohort_counts *c);

#endif
