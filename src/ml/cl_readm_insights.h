/*
 * Treatment insights for 30-day readmission (`carelake model insights
 * readmission`, docs/ml.md "Treatment insights"): among the index stays
 * of gold_readmission_features, for each treatment (a medication class
 * ordered during the stay, any procedure and each common procedure
 * during the stay, a follow-up appointment within 7 days of the
 * discharge), the readmission rates of the stays with and without it;
 * the crude risk ratio with its 95% interval; and the estimate adjusted
 * for the promoted model's predicted risk, stratified by its quintiles:
 * the Mantel-Haenszel risk ratio with the Greenland-Robins interval and
 * the Mantel-Haenszel risk difference with Sato's interval.
 *
 * These are associations in this hospital's data, adjusted only for the
 * measured risk; the report always says so (confounding by indication).
 *
 * The arithmetic (cl_insight_mantel_haenszel) is separate from the
 * reading of the store, so that it can be checked by hand.
 */
#ifndef CL_READM_INSIGHTS_H
#define CL_READM_INSIGHTS_H

#include <jansson.h>
#include <stddef.h>
#include <stdio.h>

/* The risk strata: quintiles of the predicted risk. */
#define CL_INSIGHT_STRATA 5

/* The fewest stays with, and without, a treatment for an estimate. */
#define CL_INSIGHT_MIN_STAYS 20

/* One stratum's 2x2 table for a treatment. */
struct cl_insight_table {
	long exposed;            /* stays with the treatment */
	long exposed_events;     /* of them readmitted */
	long unexposed;          /* stays without it */
	long unexposed_events;   /* of them readmitted */
};

/* The Mantel-Haenszel estimates over some strata; NAN where there is none. */
struct cl_insight_estimate {
	double rr, rr_lo, rr_hi; /* the risk ratio and its interval (Greenland-Robins) */
	double rd, rd_lo, rd_hi; /* the risk difference and its interval (Sato) */
};

/*
 * The Mantel-Haenszel risk ratio and risk difference of the k tables,
 * with their two-sided intervals at the normal quantile z (CL_ML_Z95 for
 * 95%). With a_i, b_i the exposed and unexposed stays readmitted, N1_i,
 * N0_i the exposed and unexposed stays and T_i = N1_i + N0_i:
 *
 *   RR = sum(a_i N0_i / T_i) / sum(b_i N1_i / T_i)
 *   var(ln RR) = sum((N1_i N0_i (a_i + b_i) - a_i b_i T_i) / T_i^2)
 *                / (sum(a_i N0_i / T_i) sum(b_i N1_i / T_i))
 *                (Greenland & Robins 1985), the interval exp(ln RR +- z se)
 *   RD = sum((a_i N0_i - b_i N1_i) / T_i) / sum(N1_i N0_i / T_i)
 *   var(RD) = (RD sum(P_i) + sum(Q_i)) / sum(N1_i N0_i / T_i)^2, with
 *     P_i = (N1_i^2 b_i - N0_i^2 a_i + N1_i N0_i (N0_i - N1_i) / 2) / T_i^2
 *     Q_i = (a_i (N0_i - b_i) + b_i (N1_i - a_i)) / (2 T_i)
 *     (Sato 1989), the interval RD +- z se
 *
 * One table gives the crude estimates (the Greenland-Robins variance of
 * one table is Katz's, 1/a - 1/N1 + 1/b - 1/N0). A stratum without
 * exposed or without unexposed stays adds nothing. RR is 0 with no
 * interval when no exposed stay in a comparable stratum was readmitted,
 * NAN when no unexposed one was. CL_EINVAL when no stratum has both
 * exposed and unexposed stays, or a table is inconsistent.
 */
int cl_insight_mantel_haenszel(const struct cl_insight_table *t, size_t k, double z,
			       struct cl_insight_estimate *e);

/*
 * The insights of the data directory's index stays, adjusted for the
 * promoted model, into *report (a JSON object, the caller's to decref):
 * "model_version", "model", "stays", "readmitted", "min_stays", "strata"
 * (per quintile: "stratum", "risk_from", "risk_to", "mean_predicted",
 * "stays", "readmitted", "rate"), "treatments" (each: "treatment",
 * "kind" follow_up|procedure|medication_class, "exposed" and
 * "unexposed" {"stays", "readmitted", "rate"}, "crude_risk_ratio",
 * "crude_ci", "adjusted_risk_ratio", "adjusted_ci",
 * "adjusted_risk_difference", "adjusted_rd_ci" (null without an
 * estimate), "by_stratum", "note") and "statement". CL_ENOENT when no
 * model is promoted or there is no feature table, CL_EINVAL when there
 * are too few index stays, CL_EIO for the store or the model.
 */
int cl_readm_insights(const char *data_dir, json_t **report);

/* Prints a report as text: the strata, then a table per kind of
 * treatment, then the statement. */
void cl_readm_insights_print(const json_t *report, FILE *out);

#endif
