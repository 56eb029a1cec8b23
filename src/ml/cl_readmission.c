/*
 * The 30-day readmission models. See cl_readmission.h and docs/ml.md.
 */
#include "cl_readmission.h"
#include "core/cl_error.h"
#include "core/cl_fs.h"
#include "core/cl_mem.h"
#include "core/cl_time.h"
#include "lake/cl_delta.h"
#include "ml/cl_ml_logistic.h"
#include "ml/cl_ml_metrics.h"
#include "ml/cl_readm_score.h"
#include "store/cl_db.h"

#include <errno.h>
#include <limits.h>
#include <math.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <xgboost/c_api.h>

/* The features, in the feature table's columns; `nullable` ones get a
 * missing indicator and the training median where absent. */
static const struct {
	const char *name;
	int nullable;
} features[] = {
	{ "age_years", 1 }, { "sex_female", 1 }, { "los_days", 0 }, { "emergency", 0 },
	{ "icu", 0 }, { "oncology", 0 }, { "encounters", 0 }, { "charlson", 0 },
	{ "ed_visits_6m", 0 }, { "ed_visits_12m", 0 }, { "admissions_6m", 0 },
	{ "admissions_12m", 0 }, { "medications", 0 }, { "procedures", 0 },
	{ "followup_booked", 0 },
	{ "abnormal_vitals", 0 }, { "heart_rate", 1 }, { "respiratory_rate", 1 }, { "spo2", 1 },
	{ "systolic_bp", 1 }, { "temperature", 1 }, { "heart_rate_trend", 1 },
	{ "respiratory_rate_trend", 1 }, { "spo2_trend", 1 }, { "systolic_bp_trend", 1 },
	{ "temperature_trend", 1 }, { "news2", 1 }, { "hemoglobin", 1 }, { "sodium", 1 },
};
#define NFEAT (sizeof(features) / sizeof(features[0]))

/* The fewest index stays trained on and held out. */
#define MIN_TRAIN 10
#define MIN_TEST 5

/* The model's columns: each feature, then an indicator per nullable one. */
static size_t ncols(void)
{
	size_t k = NFEAT;

	for (size_t i = 0; i < NFEAT; i++)
		k += (size_t)features[i].nullable;
	return k;
}

void cl_readm_options_default(struct cl_readm_options *o)
{
	o->split = CL_READM_SPLIT_TIME;
	o->seed = 1;
	o->test_share = 0.3;
	o->c = 1.0;
	o->rounds = 300;
	o->max_depth = 4;
	o->eta = 0.05;
	o->predictions = NULL;
	o->lake_root = NULL;
}

/* The index stays, as read. */
struct stays {
	size_t n;
	double *raw;            /* n x NFEAT, NAN where missing */
	uint8_t *y;
	char (*discharge)[32];
	char (*stay)[96];
	uint64_t *patient_hash;
	double *lace, *hospital;
	long counts[5];         /* all stays, died in stay, censored death,
				 * censored follow-up, index */
};

static void stays_free(struct stays *s)
{
	cl_free(s->raw);
	cl_free(s->y);
	cl_free(s->discharge);
	cl_free(s->stay);
	cl_free(s->patient_hash);
	cl_free(s->lace);
	cl_free(s->hospital);
	memset(s, 0, sizeof(*s));
}

static uint64_t hash64(const char *s, uint64_t seed)
{
	uint64_t h = 1469598103934665603ull ^ (seed * 0x9E3779B97F4A7C15ull);

	for (; *s; s++)
		h = (h ^ (unsigned char)*s) * 1099511628211ull;
	h ^= h >> 33;
	h *= 0xff51afd7ed558ccdull;
	return h ^ (h >> 33);
}

/* Reads the cohort counts and the index stays, in discharge order. */
static int read_stays(sqlite3 *db, uint64_t seed, struct stays *s)
{
	char sql[2048];
	size_t at, cap = 0;
	sqlite3_stmt *q;
	int rc;

	memset(s, 0, sizeof(*s));
	if (sqlite3_prepare_v2(db, "SELECT count(*), sum(cohort = 'died_in_stay'),"
			       " sum(cohort = 'censored_death'), sum(cohort = 'censored_followup'),"
			       " sum(cohort = 'index') FROM gold_readmission_features"
			       " WHERE cohort <> 'inpatient'", -1, &q,
			       NULL) != SQLITE_OK)
		return cl_error_set(CL_ENOENT, "no readmission feature table (%s): run carelake "
				    "refine first", sqlite3_errmsg(db));
	if (sqlite3_step(q) == SQLITE_ROW)
		for (int i = 0; i < 5; i++)
			s->counts[i] = (long)sqlite3_column_int64(q, i);
	sqlite3_finalize(q);
	at = (size_t)snprintf(sql, sizeof(sql), "SELECT readmitted_30d, discharge_ts, patient_id,"
			      " lace, hospital_score, stay_id");
	for (size_t j = 0; j < NFEAT; j++)
		at += (size_t)snprintf(sql + at, sizeof(sql) - at, ", %s", features[j].name);
	snprintf(sql + at, sizeof(sql) - at, " FROM gold_readmission_features WHERE cohort = 'index'"
		 " AND readmitted_30d IS NOT NULL ORDER BY discharge_ts, stay_id");
	if (sqlite3_prepare_v2(db, sql, -1, &q, NULL) != SQLITE_OK)
		return cl_error_set(CL_EIO, "reading the readmission features: %s", sqlite3_errmsg(db));
	while ((rc = sqlite3_step(q)) == SQLITE_ROW) {
		size_t i = s->n;

		if (i == cap) {
			size_t nc = cap ? cap * 2 : 4096;
			void *a = cl_realloc(s->raw, nc * NFEAT * sizeof(double));

			if (a)
				s->raw = a;
			if (!a || !(a = cl_realloc(s->y, nc))) {
				sqlite3_finalize(q);
				return cl_error_set(CL_ENOMEM, "no memory for the stays");
			}
			s->y = a;
#define GROW(f)                                                                         \
	do {                                                                            \
		void *g = cl_realloc(s->f, nc * sizeof(*s->f));                         \
		if (!g) {                                                               \
			sqlite3_finalize(q);                                            \
			return cl_error_set(CL_ENOMEM, "no memory for the stays");      \
		}                                                                       \
		s->f = g;                                                               \
	} while (0)
			GROW(discharge);
			GROW(stay);
			GROW(patient_hash);
			GROW(lace);
			GROW(hospital);
#undef GROW
			cap = nc;
		}
		s->y[i] = (uint8_t)(sqlite3_column_int(q, 0) != 0);
		snprintf(s->discharge[i], sizeof(s->discharge[i]), "%s",
			 (const char *)sqlite3_column_text(q, 1) ?: "");
		s->patient_hash[i] = hash64((const char *)sqlite3_column_text(q, 2) ?: "", seed);
		s->lace[i] = sqlite3_column_double(q, 3);
		s->hospital[i] = sqlite3_column_double(q, 4);
		snprintf(s->stay[i], sizeof(s->stay[i]), "%s",
			 (const char *)sqlite3_column_text(q, 5) ?: "");
		for (size_t j = 0; j < NFEAT; j++)
			s->raw[i * NFEAT + j] = sqlite3_column_type(q, 6 + (int)j) == SQLITE_NULL
							? NAN : sqlite3_column_double(q, 6 + (int)j);
		s->n++;
	}
	sqlite3_finalize(q);
	return rc == SQLITE_DONE ? CL_OK
				 : cl_error_set(CL_EIO, "reading the readmission features: %s",
						sqlite3_errmsg(db));
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return (x > y) - (x < y);
}

/* The training rows' median of feature j (0 if none is known). */
static double median_of(const struct stays *s, const uint8_t *test, size_t j)
{
	double *v = cl_malloc(s->n * sizeof(double)), m = 0;
	size_t k = 0;

	if (!v)
		return 0;
	for (size_t i = 0; i < s->n; i++)
		if (!test[i] && !isnan(s->raw[i * NFEAT + j]))
			v[k++] = s->raw[i * NFEAT + j];
	if (k) {
		qsort(v, k, sizeof(double), cmp_double);
		m = k % 2 ? v[k / 2] : (v[k / 2 - 1] + v[k / 2]) / 2;
	}
	cl_free(v);
	return m;
}

/* The design matrix of the rows with test[i] == want (medians imputed,
 * indicators after the features). */
static double *design(const struct stays *s, const uint8_t *test, int want, const double *median,
		      size_t *rows)
{
	size_t k = ncols(), r = 0;
	double *x = cl_malloc((s->n ? s->n : 1) * k * sizeof(double));

	if (!x)
		return NULL;
	for (size_t i = 0; i < s->n; i++) {
		size_t c = NFEAT;

		if (test[i] != want)
			continue;
		for (size_t j = 0; j < NFEAT; j++) {
			double v = s->raw[i * NFEAT + j];

			x[r * k + j] = isnan(v) ? median[j] : v;
			if (features[j].nullable)
				x[r * k + c++] = isnan(v);
		}
		r++;
	}
	*rows = r;
	return x;
}

/* The metrics of probabilities p (and, for the AUROC, scores) as JSON. */
static json_t *metrics_json(const double *score, const double *p, const uint8_t *y, size_t n)
{
	struct cl_ml_metrics m;
	double auroc, var, lo, hi;
	json_t *o, *bins;

	if (cl_ml_metrics_compute(p, y, n, &m) != CL_OK ||
	    cl_ml_auroc(score, y, n, &auroc, &var) != CL_OK)
		return json_pack("{s:I,s:s}", "n", (json_int_t)n, "error", cl_error_detail());
	cl_ml_auroc_ci(auroc, var, CL_ML_Z95, &lo, &hi);
	bins = json_array();
	for (int b = 0; b < CL_ML_BINS; b++)
		if (m.bins[b].count)
			json_array_append_new(bins, json_pack("{s:f,s:f,s:I,s:f,s:f}", "lo", m.bins[b].lo,
							      "hi", m.bins[b].hi, "count",
							      (json_int_t)m.bins[b].count, "predicted",
							      m.bins[b].mean_predicted, "observed",
							      m.bins[b].observed));
	o = json_pack("{s:I,s:I,s:f,s:[f,f],s:f,s:f,s:o,s:o,s:o}", "n", (json_int_t)n, "positives",
		      (json_int_t)m.positives, "auroc", auroc, "auroc_ci", isnan(lo) ? 0.0 : lo,
		      isnan(hi) ? 1.0 : hi, "auprc", m.auprc, "brier", m.brier,
		      "calibration_slope", m.calibrated ? json_real(m.calibration_slope) : json_null(),
		      "calibration_intercept",
		      m.calibrated ? json_real(m.calibration_intercept) : json_null(), "reliability",
		      bins);
	return o;
}

/* Metrics of a group of the test rows (both classes needed for AUROC). */
static json_t *group_json(const double *score, const double *p, const uint8_t *y,
			  const uint8_t *in, size_t n)
{
	double *gs = cl_malloc(n * sizeof(double)), *gp = cl_malloc(n * sizeof(double));
	uint8_t *gy = cl_malloc(n);
	size_t k = 0, pos = 0;
	json_t *o;

	if (!gs || !gp || !gy) {
		cl_free(gs);
		cl_free(gp);
		cl_free(gy);
		return json_null();
	}
	for (size_t i = 0; i < n; i++)
		if (in[i]) {
			gs[k] = score[i];
			gp[k] = p[i];
			gy[k] = y[i];
			pos += y[i];
			k++;
		}
	if (k >= 10 && pos > 1 && pos < k - 1) {
		o = metrics_json(gs, gp, gy, k);
		json_object_del(o, "reliability");
	} else {
		o = json_pack("{s:I,s:I,s:s}", "n", (json_int_t)k, "positives", (json_int_t)pos,
			      "note", "too few stays, or one class only, for the metrics");
	}
	cl_free(gs);
	cl_free(gp);
	cl_free(gy);
	return o;
}

/* The model's metrics on the test rows: overall, by sex, by age band. */
static json_t *evaluate(const double *score, const double *p, const uint8_t *y, size_t n,
			const double *age, const double *female)
{
	static const struct { const char *name; double lo, hi; } bands[] = {
		{ "18-49", 0, 50 }, { "50-64", 50, 65 }, { "65-79", 65, 80 }, { "80+", 80, 1e9 },
	};
	json_t *o = metrics_json(score, p, y, n), *sex = json_object(), *agej = json_object();
	uint8_t *in = cl_malloc(n ? n : 1);

	if (!in)
		return o;
	for (int f = 0; f < 2; f++) {
		for (size_t i = 0; i < n; i++)
			in[i] = !isnan(female[i]) && (int)female[i] == f;
		json_object_set_new(sex, f ? "female" : "male", group_json(score, p, y, in, n));
	}
	for (size_t b = 0; b < sizeof(bands) / sizeof(bands[0]); b++) {
		for (size_t i = 0; i < n; i++)
			in[i] = !isnan(age[i]) && age[i] >= bands[b].lo && age[i] < bands[b].hi;
		json_object_set_new(agej, bands[b].name, group_json(score, p, y, in, n));
	}
	cl_free(in);
	json_object_set_new(o, "by_sex", sex);
	json_object_set_new(o, "by_age", agej);
	return o;
}

/* A one-score logistic fit on the training rows: a baseline's points as
 * probabilities (for its Brier score and calibration). */
static int score_model(const double *train_score, const uint8_t *ytr, size_t ntr,
		       const double *test_score, size_t nte, double *p)
{
	struct cl_ml_logistic m;
	int rc = cl_ml_logistic_fit(train_score, ytr, ntr, 1, 1e6, &m);

	if (rc == CL_OK)
		cl_ml_logistic_predict(&m, test_score, nte, p);
	return rc;
}

#define XGB(call)                                                                       \
	do {                                                                            \
		if ((call) != 0) {                                                      \
			rc = cl_error_set(CL_EIO, "XGBoost: %s", XGBGetLastError());    \
			goto done;                                                      \
		}                                                                       \
	} while (0)

/* Fits the boosted trees on the training rows, predicts the test rows
 * into p, saves the trees to path. */
static int fit_xgboost(const struct cl_readm_options *o, const double *xtr, const uint8_t *ytr,
		       size_t ntr, const double *xte, size_t nte, size_t k, double *p,
		       const char *path)
{
	float *ftr = cl_malloc(ntr * k * sizeof(float)), *fte = cl_malloc((nte ? nte : 1) * k *
									    sizeof(float));
	float *lab = cl_malloc(ntr * sizeof(float));
	DMatrixHandle dtr = NULL, dte = NULL;
	BoosterHandle b = NULL;
	char buf[64];
	int rc = CL_OK;

	if (!ftr || !fte || !lab) {
		rc = cl_error_set(CL_ENOMEM, "no memory for the trees' data");
		goto done;
	}
	for (size_t i = 0; i < ntr * k; i++)
		ftr[i] = (float)xtr[i];
	for (size_t i = 0; i < nte * k; i++)
		fte[i] = (float)xte[i];
	for (size_t i = 0; i < ntr; i++)
		lab[i] = ytr[i];
	XGB(XGDMatrixCreateFromMat(ftr, ntr, k, NAN, &dtr));
	XGB(XGDMatrixSetFloatInfo(dtr, "label", lab, ntr));
	XGB(XGDMatrixCreateFromMat(fte, nte, k, NAN, &dte));
	XGB(XGBoosterCreate(&dtr, 1, &b));
	XGB(XGBoosterSetParam(b, "objective", "binary:logistic"));
	XGB(XGBoosterSetParam(b, "tree_method", "exact"));
	XGB(XGBoosterSetParam(b, "nthread", "1"));  /* deterministic for a seed */
	snprintf(buf, sizeof(buf), "%d", o->max_depth);
	XGB(XGBoosterSetParam(b, "max_depth", buf));
	snprintf(buf, sizeof(buf), "%g", o->eta);
	XGB(XGBoosterSetParam(b, "eta", buf));
	XGB(XGBoosterSetParam(b, "subsample", "0.8"));
	XGB(XGBoosterSetParam(b, "colsample_bytree", "0.8"));
	XGB(XGBoosterSetParam(b, "min_child_weight", "5"));
	XGB(XGBoosterSetParam(b, "lambda", "1"));
	snprintf(buf, sizeof(buf), "%llu", (unsigned long long)(o->seed % 2147483647));
	XGB(XGBoosterSetParam(b, "seed", buf));
	for (int it = 0; it < o->rounds; it++)
		XGB(XGBoosterUpdateOneIter(b, it, dtr));
	{
		bst_ulong len = 0;
		const float *out = NULL;

		XGB(XGBoosterPredict(b, dte, 0, 0, 0, &len, &out));
		for (size_t i = 0; i < nte && i < len; i++)
			p[i] = out[i];
	}
	XGB(XGBoosterSaveModel(b, path));
done:
	if (b)
		XGBoosterFree(b);
	if (dtr)
		XGDMatrixFree(dtr);
	if (dte)
		XGDMatrixFree(dte);
	cl_free(ftr);
	cl_free(fte);
	cl_free(lab);
	return rc;
}

/* The registry's directory for this data directory. */
static void registry_dir(const char *data_dir, char *buf, size_t cap)
{
	snprintf(buf, cap, "%s/models/readmission", data_dir);
}

/* The next free version number (1 for an empty registry). */
static int next_version(const char *dir)
{
	char path[PATH_MAX + 16];
	struct stat st;
	int v = 1;

	for (; v < 100000; v++) {
		snprintf(path, sizeof(path), "%s/v%d", dir, v);
		if (stat(path, &st) != 0)
			break;
	}
	return v;
}

/* Writes text to path atomically. */
static int write_file(const char *path, const char *text)
{
	return cl_fs_write_atomic(path, text, strlen(text), 0640);
}

/* The model card: docs-style Markdown from the model's record. */
static char *model_card(const json_t *m)
{
	static const char *const names[] = { "logistic", "xgboost", "lace", "hospital" };
	const json_t *c = json_object_get(m, "cohort"), *metrics = json_object_get(m, "metrics");
	char *buf = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&buf, &len);
	size_t i;
	json_t *v;

	if (!f)
		return NULL;
	fprintf(f, "# Model card: 30-day readmission, version %lld\n\n",
		(long long)json_integer_value(json_object_get(m, "version")));
	fprintf(f, "Trained %s on `gold_readmission_features` (Delta version %lld), split by %s "
		"(seed %lld). Predicts an unplanned admission within 30 days of a discharge, from "
		"what is known at the discharge (docs/ml.md).\n\n",
		json_string_value(json_object_get(m, "trained")),
		(long long)json_integer_value(json_object_get(m, "feature_table_version")),
		json_string_value(json_object_get(m, "split")),
		(long long)json_integer_value(json_object_get(m, "seed")));
	if (json_object_get(m, "warning"))
		fprintf(f, "**Warning:** %s.\n\n", json_string_value(json_object_get(m, "warning")));
	fprintf(f, "## Cohort\n\n| stays | died in the stay | censored: died within 30 days | "
		"censored: follow-up under 30 days | index stays | training | test | readmitted "
		"(test) |\n| --- | --- | --- | --- | --- | --- | --- | --- |\n");
	fprintf(f, "| %lld | %lld | %lld | %lld | %lld | %lld | %lld | %lld |\n\n",
		(long long)json_integer_value(json_object_get(c, "stays")),
		(long long)json_integer_value(json_object_get(c, "died_in_stay")),
		(long long)json_integer_value(json_object_get(c, "censored_death")),
		(long long)json_integer_value(json_object_get(c, "censored_followup")),
		(long long)json_integer_value(json_object_get(c, "index")),
		(long long)json_integer_value(json_object_get(c, "train")),
		(long long)json_integer_value(json_object_get(c, "test")),
		(long long)json_integer_value(json_object_get(c, "test_readmitted")));
	fprintf(f, "## Performance on the test part\n\n| model | AUROC (95%% CI) | AUPRC | Brier | "
		"calibration slope | calibration intercept |\n| --- | --- | --- | --- | --- | --- |\n");
	for (size_t k = 0; k < sizeof(names) / sizeof(names[0]); k++) {
		const json_t *x = json_object_get(metrics, names[k]);
		const json_t *ci = json_object_get(x, "auroc_ci");

		if (json_object_get(x, "error")) {
			fprintf(f, "| %s | no metrics: %s | | | | |\n", names[k],
				json_string_value(json_object_get(x, "error")));
			continue;
		}
		fprintf(f, "| %s | %.3f (%.3f–%.3f) | %.3f | %.4f | %.2f | %.2f |\n", names[k],
			json_number_value(json_object_get(x, "auroc")),
			json_number_value(json_array_get(ci, 0)), json_number_value(json_array_get(ci, 1)),
			json_number_value(json_object_get(x, "auprc")),
			json_number_value(json_object_get(x, "brier")),
			json_number_value(json_object_get(x, "calibration_slope")),
			json_number_value(json_object_get(x, "calibration_intercept")));
	}
	{
		const json_t *sv = json_object_get(m, "serving");
		const char *t;

		fprintf(f, "\n## Serving\n\nServes with `%s` (the higher held-out AUROC; the "
			"logistic regression where there is none). Risk "
			"bands: high from %.3f (the top fifth of held-out predictions), medium from "
			"%.3f (the median), low below.\n\n## Data\n\nThe Delta versions read:",
			json_string_value(json_object_get(sv, "model")),
			json_number_value(json_object_get(sv, "band_high")),
			json_number_value(json_object_get(sv, "band_medium")));
		i = 0;
		json_object_foreach((json_t *)json_object_get(m, "snapshot"), t, v)
			fprintf(f, "%s `%s` %lld", i++ ? "," : "", t,
				(long long)json_integer_value(v));
		fprintf(f, ".\n");
	}
	fprintf(f, "\n## Features\n\n");
	json_array_foreach(json_object_get(m, "features"), i, v)
		fprintf(f, "%s`%s`", i ? ", " : "", json_string_value(v));
	fprintf(f, ".\nMissing values: the training part's median, with an indicator column "
		"(`<feature>_missing`).\n\n## Limits\n\n- Trained and tested on this hospital's own "
		"data: performance elsewhere is unknown until measured there.\n- Associations, not "
		"causes: a feature's weight is no evidence that changing it changes the risk.\n- Stays "
		"censored (death or follow-up under 30 days) are left out of training and metrics; "
		"readmissions to other hospitals are not seen.\n- LACE and HOSPITAL are computed on "
		"exactly the same test stays, from the same records.\n");
	fclose(f);
	return buf;
}

/* The tables a model reads, whose Delta versions it records. */
static const char *const read_tables[] = {
	"gold_readmission_features", "patient", "encounter", "condition", "medication_request",
	"procedure", "observation",
};

/* The data snapshot: each table's latest Delta version ({name: version};
 * -1 where the lake has no copy). */
static json_t *data_snapshot(const char *root)
{
	json_t *o = json_object();

	for (size_t i = 0; i < sizeof(read_tables) / sizeof(read_tables[0]); i++) {
		const char *n = read_tables[i];
		struct cl_delta_snapshot *snap;
		char tpath[PATH_MAX];
		int64_t v = -1;

		if (strncmp(n, "gold_", 5) == 0)
			snprintf(tpath, sizeof(tpath), "%s/gold/%s", root, n + 5);
		else
			snprintf(tpath, sizeof(tpath), "%s/silver/%s", root, n);
		if (cl_delta_snapshot_load(tpath, CL_DELTA_LATEST, CL_DELTA_NO_TIME, &snap) == CL_OK) {
			v = snap->version;
			cl_delta_snapshot_free(snap);
		}
		json_object_set_new(o, n, json_integer((json_int_t)v));
	}
	return o;
}

/* The q-th quantile of n values (sorted in place). */
static double quantile(double *v, size_t n, double q)
{
	size_t i;

	qsort(v, n, sizeof(double), cmp_double);
	i = (size_t)(q * (double)(n - 1) + 0.5);
	return v[i < n ? i : n - 1];
}

/* How the version serves: the model with the higher held-out AUROC (the
 * logistic regression where there is none), and
 * its risk bands cut at the 50th and 80th centiles of its held-out
 * predictions. p_log and p_xgb are reordered. */
static json_t *serving_json(const json_t *metrics, double *p_log, double *p_xgb, size_t n)
{
	const json_t *a_log = json_object_get(json_object_get(metrics, "logistic"), "auroc");
	const json_t *a_xgb = json_object_get(json_object_get(metrics, "xgboost"), "auroc");
	/* no AUROC (one outcome only among the test stays): the regularised
	 * linear model, the safer of the two on little data */
	int xgb = a_xgb && (!a_log || json_number_value(a_xgb) >= json_number_value(a_log));
	double *p = xgb ? p_xgb : p_log;

	return json_pack("{s:s,s:f,s:f}", "model", xgb ? "xgboost" : "logistic", "band_medium",
			 quantile(p, n, 0.5), "band_high", quantile(p, n, 0.8));
}

int cl_readm_train(const char *data_dir, const struct cl_readm_options *o, json_t **report)
{
	struct stays s;
	sqlite3 *db = NULL;
	uint8_t *test = NULL, *ytr = NULL, *yte = NULL;
	double median[NFEAT], *xtr = NULL, *xte = NULL, *mean = NULL, *sd = NULL;
	double *p_log = NULL, *p_xgb = NULL, *p_lace = NULL, *p_hosp = NULL;
	double *s_lace = NULL, *s_hosp = NULL, *tr_lace = NULL, *tr_hosp = NULL;
	double *age = NULL, *female = NULL;
	size_t ntr = 0, nte = 0, k = ncols(), pos_tr = 0, pos_te = 0;
	struct cl_ml_logistic *lm = NULL;
	char dir[PATH_MAX], vdir[PATH_MAX + 16], path[PATH_MAX + 48], when[40], warning[400] = "";
	int64_t table_version = -1;
	json_t *m = NULL, *feat, *coef, *snapshot = NULL;
	int rc, version;

	*report = NULL;
	memset(&s, 0, sizeof(s));
	rc = cl_db_open(data_dir, CL_DB_READONLY, &db);
	if (rc == CL_OK)
		rc = read_stays(db, o->seed, &s);
	sqlite3_close(db);
	if (rc)
		return rc;
	snapshot = data_snapshot(o->lake_root && *o->lake_root ? o->lake_root : data_dir);
	table_version = json_integer_value(json_object_get(snapshot, "gold_readmission_features"));
	test = cl_calloc(s.n ? s.n : 1, 1);
	if (!test) {
		rc = cl_error_set(CL_ENOMEM, "no memory");
		goto done;
	}
	/* the split: by time (the last discharges held out) or by patient
	 * (a patient's stays all on one side), never by row */
	for (size_t i = 0; i < s.n; i++)
		test[i] = o->split == CL_READM_SPLIT_TIME
				  ? i >= (size_t)((double)s.n * (1 - o->test_share))
				  : (double)(s.patient_hash[i] % 1000000) / 1e6 < o->test_share;
	for (size_t i = 0; i < s.n; i++) {
		pos_tr += !test[i] && s.y[i];
		pos_te += test[i] && s.y[i];
		ntr += !test[i];
	}
	nte = s.n - ntr;
	/* a model needs both outcomes to learn from; below the sizes that make
	 * metrics meaningful it is still trained and reported, with a warning
	 * (a small hospital's, or a sample's, run end to end) */
	if (ntr < MIN_TRAIN || nte < MIN_TEST || pos_tr == 0 || pos_tr == ntr) {
		rc = cl_error_set(CL_EINVAL, "too few index stays to train on: %zu for training (%zu "
				  "readmitted), %zu to test (%zu readmitted); at least %d and %d, with "
				  "both outcomes among those for training", ntr, pos_tr, nte, pos_te,
				  MIN_TRAIN, MIN_TEST);
		goto done;
	}
	if (ntr < 50 || nte < 20 || pos_tr < 5 || pos_te < 2 || pos_te == nte)
		snprintf(warning, sizeof(warning), "a small cohort: %zu stays for training (%zu "
			 "readmitted), %zu to test (%zu readmitted); the metrics are reported, not "
			 "meaningful (they want at least 50 and 20 stays, 5 and 2 readmitted), and a "
			 "metric that needs both outcomes among the test stays is left out",
			 ntr, pos_tr, nte, pos_te);
	for (size_t j = 0; j < NFEAT; j++)
		median[j] = median_of(&s, test, j);
	xtr = design(&s, test, 0, median, &ntr);
	xte = design(&s, test, 1, median, &nte);
	ytr = cl_malloc(ntr);
	yte = cl_malloc(nte);
	mean = cl_malloc(k * sizeof(double));
	sd = cl_malloc(k * sizeof(double));
	p_log = cl_malloc(nte * sizeof(double));
	p_xgb = cl_malloc(nte * sizeof(double));
	p_lace = cl_malloc(nte * sizeof(double));
	p_hosp = cl_malloc(nte * sizeof(double));
	s_lace = cl_malloc(nte * sizeof(double));
	s_hosp = cl_malloc(nte * sizeof(double));
	tr_lace = cl_malloc(ntr * sizeof(double));
	tr_hosp = cl_malloc(ntr * sizeof(double));
	age = cl_malloc(nte * sizeof(double));
	female = cl_malloc(nte * sizeof(double));
	lm = cl_malloc(sizeof(*lm));
	if (!xtr || !xte || !ytr || !yte || !mean || !sd || !p_log || !p_xgb || !p_lace ||
	    !p_hosp || !s_lace || !s_hosp || !tr_lace || !tr_hosp || !age || !female || !lm) {
		rc = cl_error_set(CL_ENOMEM, "no memory for %zu stays", s.n);
		goto done;
	}
	for (size_t i = 0, a = 0, b = 0; i < s.n; i++) {
		if (test[i]) {
			yte[b] = s.y[i];
			s_lace[b] = s.lace[i];
			s_hosp[b] = s.hospital[i];
			age[b] = s.raw[i * NFEAT + 0];
			female[b] = s.raw[i * NFEAT + 1];
			b++;
		} else {
			ytr[a] = s.y[i];
			tr_lace[a] = s.lace[i];
			tr_hosp[a] = s.hospital[i];
			a++;
		}
	}
	/* the registry's new version */
	registry_dir(data_dir, dir, sizeof(dir));
	if (cl_fs_mkdirs(dir) != CL_OK) {
		rc = cl_error_set(CL_EIO, "cannot create %s", dir);
		goto done;
	}
	version = next_version(dir);
	snprintf(vdir, sizeof(vdir), "%s/v%d", dir, version);
	if (mkdir(vdir, 0750) != 0) {
		rc = cl_error_set(CL_EIO, "cannot create %s: %s", vdir, strerror(errno));
		goto done;
	}
	/* the trees, on the raw features (scale does not matter to them) */
	snprintf(path, sizeof(path), "%s/xgboost.json", vdir);
	rc = fit_xgboost(o, xtr, ytr, ntr, xte, nte, k, p_xgb, path);
	if (rc)
		goto done;
	/* the logistic regression, on standardised features */
	rc = cl_ml_standardise_fit(xtr, ntr, k, mean, sd);
	if (rc == CL_OK) {
		cl_ml_standardise_apply(xtr, ntr, k, mean, sd);
		cl_ml_standardise_apply(xte, nte, k, mean, sd);
		rc = cl_ml_logistic_fit(xtr, ytr, ntr, k, o->c, lm);
	}
	if (rc)
		goto done;
	cl_ml_logistic_predict(lm, xte, nte, p_log);
	/* the baselines' points as probabilities, fitted on the training part */
	rc = score_model(tr_lace, ytr, ntr, s_lace, nte, p_lace);
	if (rc == CL_OK)
		rc = score_model(tr_hosp, ytr, ntr, s_hosp, nte, p_hosp);
	if (rc)
		goto done;
	if (o->predictions) {
		FILE *f = fopen(o->predictions, "w");

		if (!f) {
			rc = cl_error_set(CL_EIO, "cannot write %s: %s", o->predictions, strerror(errno));
			goto done;
		}
		fprintf(f, "stay_id,readmitted_30d,logistic,xgboost,lace,hospital\n");
		for (size_t i = 0, b = 0; i < s.n; i++)
			if (test[i]) {
				fprintf(f, "%s,%d,%.9g,%.9g,%g,%g\n", s.stay[i], s.y[i], p_log[b],
					p_xgb[b], s_lace[b], s_hosp[b]);
				b++;
			}
		if (fclose(f) != 0) {
			rc = cl_error_set(CL_EIO, "cannot write %s: %s", o->predictions, strerror(errno));
			goto done;
		}
	}
	/* the record */
	feat = json_array();
	coef = json_object();
	for (size_t j = 0; j < NFEAT; j++)
		json_array_append_new(feat, json_string(features[j].name));
	for (size_t j = 0, c = NFEAT; j < NFEAT; j++)
		if (features[j].nullable) {
			char name[64];

			snprintf(name, sizeof(name), "%s_missing", features[j].name);
			json_array_append_new(feat, json_string(name));
			c++;
		}
	for (size_t j = 0; j < k; j++)
		json_object_set_new(coef, json_string_value(json_array_get(feat, j)),
				    json_pack("{s:f,s:f,s:f}", "coefficient", lm->coef[j], "mean",
					      mean[j], "sd", sd[j]));
	cl_time_format_rfc3339(cl_time_now_us(), when, sizeof(when), 0);
	m = json_pack("{s:i,s:s,s:s,s:I,s:I,s:o,s:o,s:{s:f,s:o},s:{s:i,s:f,s:i,s:s},s:o}",
		      "version", version, "trained", when, "split",
		      o->split == CL_READM_SPLIT_TIME ? "time" : "patient", "seed",
		      (json_int_t)o->seed, "feature_table_version", (json_int_t)table_version,
		      "features", feat, "imputation", json_object(), "logistic", "c", o->c,
		      "intercept_and_coefficients", json_pack("{s:f,s:o}", "intercept",
							      lm->intercept, "coefficients", coef),
		      "xgboost", "rounds", o->rounds, "eta", o->eta, "max_depth", o->max_depth,
		      "file", "xgboost.json", "cohort",
		      json_pack("{s:I,s:I,s:I,s:I,s:I,s:I,s:I,s:I,s:I}", "stays",
				(json_int_t)s.counts[0], "died_in_stay", (json_int_t)s.counts[1],
				"censored_death", (json_int_t)s.counts[2], "censored_followup",
				(json_int_t)s.counts[3], "index", (json_int_t)s.counts[4], "train",
				(json_int_t)ntr, "test", (json_int_t)nte, "train_readmitted",
				(json_int_t)pos_tr, "test_readmitted", (json_int_t)pos_te));
	if (!m) {
		rc = cl_error_set(CL_ENOMEM, "no memory for the model's record");
		goto done;
	}
	for (size_t j = 0; j < NFEAT; j++)
		if (features[j].nullable)
			json_object_set_new(json_object_get(m, "imputation"), features[j].name,
					    json_real(median[j]));
	json_object_set_new(m, "metrics",
			    json_pack("{s:o,s:o,s:o,s:o}", "logistic",
				      evaluate(p_log, p_log, yte, nte, age, female), "xgboost",
				      evaluate(p_xgb, p_xgb, yte, nte, age, female), "lace",
				      evaluate(s_lace, p_lace, yte, nte, age, female), "hospital",
				      evaluate(s_hosp, p_hosp, yte, nte, age, female)));
	json_object_set_new(m, "serving", serving_json(json_object_get(m, "metrics"), p_log, p_xgb,
							nte));
	json_object_set(m, "snapshot", snapshot);
	if (warning[0])
		json_object_set_new(m, "warning", json_string(warning));
	{
		char *text = json_dumps(m, JSON_INDENT(2) | JSON_SORT_KEYS), *card = model_card(m);

		snprintf(path, sizeof(path), "%s/model.json", vdir);
		rc = text ? write_file(path, text) : cl_error_set(CL_ENOMEM, "no memory");
		snprintf(path, sizeof(path), "%s/card.md", vdir);
		if (rc == CL_OK)
			rc = card ? write_file(path, card) : cl_error_set(CL_ENOMEM, "no memory");
		free(text);
		free(card);
	}
	if (rc)
		goto done;
	*report = m;
	m = NULL;
done:
	json_decref(m);
	json_decref(snapshot);
	stays_free(&s);
	cl_free(test);
	cl_free(xtr);
	cl_free(xte);
	cl_free(ytr);
	cl_free(yte);
	cl_free(mean);
	cl_free(sd);
	cl_free(p_log);
	cl_free(p_xgb);
	cl_free(p_lace);
	cl_free(p_hosp);
	cl_free(s_lace);
	cl_free(s_hosp);
	cl_free(tr_lace);
	cl_free(tr_hosp);
	cl_free(age);
	cl_free(female);
	cl_free(lm);
	return rc;
}

/* One group's AUROC and count ("n/a" where the group has no AUROC). */
static void group_print(FILE *out, const char *g, const json_t *v)
{
	const json_t *a = json_object_get(v, "auroc");

	if (a)
		fprintf(out, " %s %.3f (%lld)", g, json_number_value(a),
			(long long)json_integer_value(json_object_get(v, "n")));
	else
		fprintf(out, " %s n/a (%lld)", g, (long long)json_integer_value(json_object_get(v, "n")));
}

void cl_readm_print(const json_t *r, FILE *out)
{
	static const char *const names[] = { "logistic", "xgboost", "lace", "hospital" };
	const json_t *c = json_object_get(r, "cohort"), *metrics = json_object_get(r, "metrics");

	fprintf(out, "readmission model v%lld (split by %s, seed %lld; feature table version %lld)\n",
		(long long)json_integer_value(json_object_get(r, "version")),
		json_string_value(json_object_get(r, "split")),
		(long long)json_integer_value(json_object_get(r, "seed")),
		(long long)json_integer_value(json_object_get(r, "feature_table_version")));
	fprintf(out, "cohort: %lld stays; left out: %lld died in the stay, %lld died within 30 days, "
		"%lld followed up less than 30 days; %lld index stays: %lld to train (%lld "
		"readmitted), %lld to test (%lld readmitted)\n",
		(long long)json_integer_value(json_object_get(c, "stays")),
		(long long)json_integer_value(json_object_get(c, "died_in_stay")),
		(long long)json_integer_value(json_object_get(c, "censored_death")),
		(long long)json_integer_value(json_object_get(c, "censored_followup")),
		(long long)json_integer_value(json_object_get(c, "index")),
		(long long)json_integer_value(json_object_get(c, "train")),
		(long long)json_integer_value(json_object_get(c, "train_readmitted")),
		(long long)json_integer_value(json_object_get(c, "test")),
		(long long)json_integer_value(json_object_get(c, "test_readmitted")));
	if (json_object_get(r, "warning"))
		fprintf(out, "warning: %s\n", json_string_value(json_object_get(r, "warning")));
	fprintf(out, "%-10s %-22s %7s %7s %8s %10s\n", "model", "AUROC (95% CI)", "AUPRC", "Brier",
		"cal.slope", "cal.intcpt");
	for (size_t k = 0; k < sizeof(names) / sizeof(names[0]); k++) {
		const json_t *x = json_object_get(metrics, names[k]), *ci = json_object_get(x, "auroc_ci");

		if (json_object_get(x, "error")) {
			fprintf(out, "%-10s no metrics: %s\n", names[k],
				json_string_value(json_object_get(x, "error")));
			continue;
		}
		fprintf(out, "%-10s %.3f (%.3f-%.3f)    %7.3f %7.4f %8.2f %10.2f\n", names[k],
			json_number_value(json_object_get(x, "auroc")),
			json_number_value(json_array_get(ci, 0)), json_number_value(json_array_get(ci, 1)),
			json_number_value(json_object_get(x, "auprc")),
			json_number_value(json_object_get(x, "brier")),
			json_number_value(json_object_get(x, "calibration_slope")),
			json_number_value(json_object_get(x, "calibration_intercept")));
	}
	for (size_t k = 0; k < 2; k++) {
		const json_t *x = json_object_get(metrics, names[k]);
		const char *g;
		json_t *v;

		fprintf(out, "%s by group (AUROC, n):", names[k]);
		json_object_foreach((json_t *)json_object_get(x, "by_sex"), g, v)
			group_print(out, g, v);
		json_object_foreach((json_t *)json_object_get(x, "by_age"), g, v)
			group_print(out, g, v);
		fprintf(out, "\n");
	}
}

int cl_readm_show(const char *data_dir, int version, json_t **model)
{
	char dir[PATH_MAX], path[PATH_MAX + 32];
	json_error_t err;

	registry_dir(data_dir, dir, sizeof(dir));
	snprintf(path, sizeof(path), "%s/v%d/model.json", dir, version);
	*model = json_load_file(path, 0, &err);
	return *model ? CL_OK : cl_error_set(CL_ENOENT, "no readmission model v%d (%s)", version,
					     err.text);
}

/* The promoted version, or 0. */
int cl_readm_promoted(const char *data_dir)
{
	char path[PATH_MAX];
	FILE *f;
	int v = 0;

	registry_dir(data_dir, path, sizeof(path));
	strncat(path, "/PROMOTED", sizeof(path) - strlen(path) - 1);
	f = fopen(path, "r");
	if (f) {
		if (fscanf(f, "v%d", &v) != 1)
			v = 0;
		fclose(f);
	}
	return v;
}

int cl_readm_list(const char *data_dir, json_t **versions)
{
	char dir[PATH_MAX];
	int p = cl_readm_promoted(data_dir);

	registry_dir(data_dir, dir, sizeof(dir));
	*versions = json_array();
	for (int v = 1; v < next_version(dir); v++) {
		json_t *m;

		if (cl_readm_show(data_dir, v, &m) != CL_OK)
			continue;
		json_array_append_new(*versions, json_pack(
			"{s:i,s:O,s:O,s:O,s:f,s:f,s:b}", "version", v, "trained",
			json_object_get(m, "trained"), "split", json_object_get(m, "split"), "seed",
			json_object_get(m, "seed"), "auroc_logistic",
			json_number_value(json_object_get(json_object_get(json_object_get(m, "metrics"),
									  "logistic"), "auroc")),
			"auroc_xgboost",
			json_number_value(json_object_get(json_object_get(json_object_get(m, "metrics"),
									  "xgboost"), "auroc")),
			"promoted", v == p));
		{
			const char *sv = json_string_value(json_object_get(json_object_get(m,
									   "serving"), "model"));

			json_object_set_new(json_array_get(*versions, json_array_size(*versions) - 1),
					    "serving", sv ? json_string(sv) : json_null());
		}
		json_decref(m);
	}
	return CL_OK;
}

int cl_readm_promote(const char *data_dir, int version)
{
	char path[PATH_MAX], text[32];
	json_t *m;
	struct cl_readm_model *serving;
	int rc = cl_readm_show(data_dir, version, &m);

	if (rc)
		return rc;
	json_decref(m);
	/* only a version that loads for scoring may serve */
	rc = cl_readm_model_load(data_dir, version, &serving);
	if (rc)
		return rc;
	cl_readm_model_free(serving);
	registry_dir(data_dir, path, sizeof(path));
	strncat(path, "/PROMOTED", sizeof(path) - strlen(path) - 1);
	snprintf(text, sizeof(text), "v%d\n", version);
	return write_file(path, text);
}
