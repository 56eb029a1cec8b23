/*
 * Serving the readmission model: a registry version loaded for scoring
 * (its features, imputation, standardisation, coefficients and trees, as
 * model.json and xgboost.json recorded them), the risk of stays in
 * gold_readmission_features with the features that contributed most
 * (XGBoost's per-feature contributions, or the logistic regression's
 * coefficient times the standardised value), and the gold table of the
 * current scores, gold_readmission_risk: every current inpatient and every
 * stay discharged alive in the last 30 days, scored by the promoted model
 * on each refresh of the feature table (docs/ml.md, "Serving").
 *
 * A version serves with the one of its two models that had the higher
 * held-out AUROC; its risk bands are cut at the 50th and 80th centiles of
 * that model's held-out predictions (low: the lower half, medium: the
 * next 30 %, high: the top 20 %).
 */
#ifndef CL_READM_SCORE_H
#define CL_READM_SCORE_H

#include <jansson.h>
#include <sqlite3.h>
#include <stdint.h>
#include <stdio.h>

struct cl_readm_model;

/*
 * Loads a version (0: the promoted one) of the data directory's registry.
 * CL_ENOENT when there is none (no version promoted, or no such version:
 * the detail says which), CL_EINVAL when its record lacks what scoring
 * needs, CL_EIO for XGBoost.
 */
int cl_readm_model_load(const char *data_dir, int version, struct cl_readm_model **out);
void cl_readm_model_free(struct cl_readm_model *m);

/* The version, and the model that serves ("xgboost" or "logistic"). */
int cl_readm_model_version(const struct cl_readm_model *m);
const char *cl_readm_model_name(const struct cl_readm_model *m);

/*
 * Scores every stay from now on as if feature `name` had the value v (a
 * prognostic score: the risk without a treatment that is itself one of
 * the model's features). CL_ENOENT when the model has no such feature.
 */
int cl_readm_model_fix(struct cl_readm_model *m, const char *name, double v);

/* One scored stay, as cl_readm_model_score passes it. */
struct cl_readm_scored {
	const char *stay_id, *patient_id;
	double risk;          /* the predicted probability of readmission */
	const char *band;     /* "low", "medium" or "high" */
	json_t *factors;      /* when asked: the top contributing features,
			       * [{"feature", "value" (null when missing),
			       * "contribution" (log-odds)}], largest first;
			       * borrowed for the call */
};

/*
 * Scores the rows of gold_readmission_features that `where` selects (an
 * SQL condition over its columns, such as "cohort = 'index'"; NULL: all),
 * in batches, calling each() per stay in the table's order; each()
 * returning non-zero stops with that code. explain: also the top
 * contributing features (costs XGBoost's contribution pass). *scored (if
 * not NULL) counts the stays. CL_EIO for the store or XGBoost.
 */
int cl_readm_model_score(struct cl_readm_model *m, sqlite3 *db, const char *where, int explain,
			 int (*each)(void *arg, const struct cl_readm_scored *s), void *arg,
			 long *scored);

/*
 * Recomputes gold_readmission_risk in db (inside the caller's
 * transaction) with the promoted model, which *cache holds between calls
 * (reloaded when another version is promoted; free it with
 * cl_readm_model_free). With no promoted model the table is emptied and
 * CL_OK returned. now_us: the scoring time (which stays are current, and
 * the scored_ts column). *scored (if not NULL) counts the rows.
 */
int cl_readm_risk_refresh(sqlite3 *db, const char *data_dir, int64_t now_us,
			  struct cl_readm_model **cache, long *scored);

/*
 * The same in the data directory's store, in a transaction of its own, as
 * of now (after a promotion, so that the promoted model serves at once).
 * CL_ENOENT when there is no store or no feature table yet (refine first).
 */
int cl_readm_risk_store(const char *data_dir, long *scored);

/*
 * Scores the stays `which` names ("index": the labelled cohort the model
 * was trained and tested on; "current": those gold_readmission_risk
 * holds; "all": every stay) with a version (0: the promoted one) and
 * writes them to out as CSV: stay_id, patient_id, risk, band (and the
 * factors as JSON when explain). *n: the stays; *seconds: the time spent
 * reading and scoring them, writing not counted. CL_EINVAL for an
 * unknown `which`.
 */
int cl_readm_score_csv(const char *data_dir, int version, const char *which, int explain,
		       FILE *out, long *n, double *seconds);

#endif
