/*
 * The 30-day readmission models, trained on the lake's own feature table
 * (gold_readmission_features, docs/ml.md): the cohort of index stays
 * (discharged alive, followed up 30 days), a split by time or by patient,
 * never by row; missing values imputed with the training part's median
 * beside an indicator; an L2-regularised logistic regression and
 * gradient-boosted trees (XGBoost); and on the held-out part, beside the
 * LACE index and the HOSPITAL score of the same stays, AUROC with its
 * DeLong 95% interval, AUPRC, Brier score, calibration slope and
 * intercept with a reliability table, and the same by sex and age band.
 *
 * A model registry under <data>/models/readmission/: each training is a
 * version (v1, v2, ...) holding model.json (cohort counts, the Delta
 * version of the feature table it read, features, imputation, parameters,
 * coefficients, metrics), xgboost.json (the trees) and card.md (the model
 * card); PROMOTED names the version in use. Training is deterministic
 * for a seed.
 */
#ifndef CL_READMISSION_H
#define CL_READMISSION_H

#include <jansson.h>
#include <stdint.h>
#include <stdio.h>

enum cl_readm_split { CL_READM_SPLIT_TIME, CL_READM_SPLIT_PATIENT };

struct cl_readm_options {
	enum cl_readm_split split;
	uint64_t seed;
	double test_share;       /* the held-out share (default 0.3) */
	double c;                /* the logistic regression's C (default 1) */
	int rounds;              /* boosting rounds (default 300) */
	int max_depth;           /* tree depth (default 4) */
	double eta;              /* learning rate (default 0.05) */
	const char *predictions; /* a CSV of the test stays' predictions, or NULL */
	const char *lake_root;   /* where the Delta tables are (lake.uri), or NULL:
	                            the data directory */
};

void cl_readm_options_default(struct cl_readm_options *o);

/*
 * Trains on the data directory's feature table and registers a new
 * version. *report (a JSON object, the caller's to decref) holds the
 * version, the cohort counts and, for "logistic", "xgboost", "lace" and
 * "hospital", their metrics by name ("auroc", "auroc_ci", "auprc",
 * "brier", "calibration_slope", "calibration_intercept", "reliability",
 * "by_sex", "by_age"). CL_ENOENT when there is no feature table (refine
 * first), CL_EINVAL when the cohort is too small to train on (the detail
 * says what it has), CL_EIO for the store, the registry or XGBoost.
 */
int cl_readm_train(const char *data_dir, const struct cl_readm_options *o, json_t **report);

/* Prints a report as text (the cohort, then a table of the models and
 * baselines, then the groups). */
void cl_readm_print(const json_t *report, FILE *out);

/* The registry: every version as a JSON array of summaries (newest
 * last); one version's model.json; promoting a version. */
int cl_readm_list(const char *data_dir, json_t **versions);
int cl_readm_show(const char *data_dir, int version, json_t **model);
int cl_readm_promote(const char *data_dir, int version);

/* The promoted version (0: none). */
int cl_readm_promoted(const char *data_dir);

#endif
