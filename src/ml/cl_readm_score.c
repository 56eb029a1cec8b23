/*
 * Serving the readmission model. See cl_readm_score.h and docs/ml.md.
 *
 * A version is scored exactly as it was trained: the columns its record
 * names, read from gold_readmission_features; a missing value replaced by
 * the training median beside its indicator; the trees on those values,
 * the logistic regression on them standardised with the training means
 * and deviations. A feature's contribution joins its indicator's.
 */
#include "cl_readm_score.h"
#include "cl_readmission.h"
#include "core/cl_error.h"
#include "core/cl_log.h"
#include "core/cl_mem.h"
#include "core/cl_time.h"
#include "lake/cl_lake.h"
#include "model/cl_tables.h"
#include "store/cl_db.h"

#include <errno.h>
#include <limits.h>
#include <math.h>
#include <omp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <xgboost/c_api.h>

#define BATCH 4096   /* stays scored per XGBoost call */
#define TOP 5        /* contributing features kept per stay */
#define RISK_DAYS 30 /* discharged stays scored for this long */

struct cl_readm_model {
	int version;
	int xgb;              /* the trees serve (else the logistic regression) */
	size_t nraw, k;       /* features read, model columns */
	char **raw;           /* the features read, columns of the table */
	size_t *ind_of;       /* column c >= nraw: its feature */
	double *median;       /* imputation of feature j (0 where none is recorded) */
	double *fixed;        /* feature j's value for every stay (NAN: its own) */
	double intercept, *coef, *mean, *sd;  /* per column */
	double band_medium, band_high;
	BoosterHandle booster;
};

void cl_readm_model_free(struct cl_readm_model *m)
{
	if (!m)
		return;
	for (size_t j = 0; m->raw && j < m->nraw; j++)
		cl_free(m->raw[j]);
	cl_free(m->raw);
	cl_free(m->ind_of);
	cl_free(m->median);
	cl_free(m->fixed);
	cl_free(m->coef);
	cl_free(m->mean);
	cl_free(m->sd);
	if (m->booster)
		XGBoosterFree(m->booster);
	cl_free(m);
}

int cl_readm_model_version(const struct cl_readm_model *m)
{
	return m->version;
}

const char *cl_readm_model_name(const struct cl_readm_model *m)
{
	return m->xgb ? "xgboost" : "logistic";
}

int cl_readm_model_fix(struct cl_readm_model *m, const char *name, double v)
{
	for (size_t j = 0; j < m->nraw; j++)
		if (strcmp(m->raw[j], name) == 0) {
			m->fixed[j] = v;
			return CL_OK;
		}
	return cl_error_set(CL_ENOENT, "readmission model v%d has no feature %s", m->version, name);
}

static int bad_record(int version, const char *what)
{
	return cl_error_set(CL_EINVAL, "readmission model v%d cannot serve: its model.json has no "
			    "%s (train it again with this carelake)", version, what);
}

/* The columns, imputation and coefficients from the record. */
static int read_record(struct cl_readm_model *m, const json_t *rec)
{
	const json_t *feat = json_object_get(rec, "features");
	const json_t *imp = json_object_get(rec, "imputation");
	const json_t *lr = json_object_get(json_object_get(rec, "logistic"),
					   "intercept_and_coefficients");
	const json_t *coefs = json_object_get(lr, "coefficients");
	const json_t *serving = json_object_get(rec, "serving");
	const char *name = json_string_value(json_object_get(serving, "model"));
	size_t n = json_array_size(feat);

	if (!n || !json_is_object(imp) || !json_is_object(coefs))
		return bad_record(m->version, "features, imputation or coefficients");
	if (!name || !json_is_number(json_object_get(serving, "band_medium")) ||
	    !json_is_number(json_object_get(serving, "band_high")))
		return bad_record(m->version, "serving model and risk bands");
	m->xgb = strcmp(name, "xgboost") == 0;
	m->band_medium = json_number_value(json_object_get(serving, "band_medium"));
	m->band_high = json_number_value(json_object_get(serving, "band_high"));
	m->intercept = json_number_value(json_object_get(lr, "intercept"));
	m->k = n;
	m->raw = cl_calloc(n, sizeof(char *));
	m->ind_of = cl_calloc(n, sizeof(size_t));
	m->median = cl_calloc(n, sizeof(double));
	m->fixed = cl_malloc(n * sizeof(double));
	m->coef = cl_calloc(n, sizeof(double));
	m->mean = cl_calloc(n, sizeof(double));
	m->sd = cl_calloc(n, sizeof(double));
	if (!m->raw || !m->ind_of || !m->median || !m->fixed || !m->coef || !m->mean || !m->sd)
		return cl_error_set(CL_ENOMEM, "no memory for the model");
	for (size_t c = 0; c < n; c++)
		m->fixed[c] = NAN;
	/* the features first, then an indicator per nullable one */
	for (size_t c = 0; c < n; c++) {
		const char *f = json_string_value(json_array_get(feat, c));
		size_t len = f ? strlen(f) : 0;
		const json_t *co = json_object_get(coefs, f ? f : "");

		if (!f || !json_is_object(co))
			return bad_record(m->version, "coefficient for every feature");
		m->coef[c] = json_number_value(json_object_get(co, "coefficient"));
		m->mean[c] = json_number_value(json_object_get(co, "mean"));
		m->sd[c] = json_number_value(json_object_get(co, "sd"));
		if (m->sd[c] == 0)
			m->sd[c] = 1;
		if (len > 8 && strcmp(f + len - 8, "_missing") == 0) {
			size_t j;

			for (j = 0; j < m->nraw; j++)
				if (strlen(m->raw[j]) == len - 8 && strncmp(m->raw[j], f, len - 8) == 0)
					break;
			if (j == m->nraw)
				return bad_record(m->version, "feature for each missing indicator");
			m->ind_of[c] = j;
			continue;
		}
		if (c != m->nraw)
			return bad_record(m->version, "features before their indicators");
		/* a column name goes into SQL: letters, digits and '_' only */
		for (const char *p = f; *p; p++)
			if (!(*p == '_' || (*p >= 'a' && *p <= 'z') || (*p >= '0' && *p <= '9')))
				return bad_record(m->version, "well-formed feature names");
		m->raw[m->nraw] = cl_strdup(f);
		if (!m->raw[m->nraw])
			return cl_error_set(CL_ENOMEM, "no memory for the model");
		m->median[m->nraw] = json_number_value(json_object_get(imp, f));
		m->nraw++;
	}
	return CL_OK;
}

int cl_readm_model_load(const char *data_dir, int version, struct cl_readm_model **out)
{
	struct cl_readm_model *m;
	json_t *rec = NULL;
	char path[PATH_MAX + 64];
	int rc;

	*out = NULL;
	if (version == 0 && (version = cl_readm_promoted(data_dir)) == 0)
		return cl_error_set(CL_ENOENT, "no readmission model is promoted: promote a model "
				    "first (carelake model train readmission, then carelake model "
				    "promote V)");
	rc = cl_readm_show(data_dir, version, &rec);
	if (rc)
		return rc;
	m = cl_calloc(1, sizeof(*m));
	if (!m) {
		json_decref(rec);
		return cl_error_set(CL_ENOMEM, "no memory for the model");
	}
	m->version = version;
	rc = read_record(m, rec);
	json_decref(rec);
	if (rc == CL_OK && m->xgb) {
		snprintf(path, sizeof(path), "%s/models/readmission/v%d/xgboost.json", data_dir,
			 version);
		/* one thread: scoring runs beside the server's own threads, and
		 * gives the same contributions every time. XGBoost parses a model
		 * on as many OpenMP threads as the calling thread may start,
		 * before any parameter of the booster applies */
		omp_set_num_threads(1);
		if (XGBoosterCreate(NULL, 0, &m->booster) != 0 ||
		    XGBoosterSetParam(m->booster, "nthread", "1") != 0 ||
		    XGBoosterLoadModel(m->booster, path) != 0 ||
		    XGBoosterSetParam(m->booster, "nthread", "1") != 0)
			rc = cl_error_set(CL_EIO, "readmission model v%d: loading %s: %s", version,
					  path, XGBGetLastError());
	}
	if (rc) {
		cl_readm_model_free(m);
		return rc;
	}
	*out = m;
	return CL_OK;
}

/* The stays being scored: their ids and raw values (NAN where missing). */
struct batch {
	size_t n;
	char (*stay)[96];
	char (*patient)[96];
	double *raw;     /* n x nraw */
	double *x;       /* n x k, the model's columns */
	double *risk;
	double *contrib; /* n x nraw, when explaining */
};

static void batch_free(struct batch *b)
{
	cl_free(b->stay);
	cl_free(b->patient);
	cl_free(b->raw);
	cl_free(b->x);
	cl_free(b->risk);
	cl_free(b->contrib);
}

static int batch_init(struct batch *b, const struct cl_readm_model *m)
{
	memset(b, 0, sizeof(*b));
	b->stay = cl_malloc(BATCH * sizeof(*b->stay));
	b->patient = cl_malloc(BATCH * sizeof(*b->patient));
	b->raw = cl_malloc(BATCH * m->nraw * sizeof(double));
	b->x = cl_malloc(BATCH * m->k * sizeof(double));
	b->risk = cl_malloc(BATCH * sizeof(double));
	b->contrib = cl_malloc(BATCH * m->nraw * sizeof(double));
	if (!b->stay || !b->patient || !b->raw || !b->x || !b->risk || !b->contrib) {
		batch_free(b);
		return cl_error_set(CL_ENOMEM, "no memory to score stays");
	}
	return CL_OK;
}

/* The model's columns of the batch: imputed values, then indicators. */
static void design(const struct cl_readm_model *m, struct batch *b)
{
	for (size_t i = 0; i < b->n; i++) {
		const double *r = b->raw + i * m->nraw;
		double *x = b->x + i * m->k;

		for (size_t c = 0; c < m->k; c++)
			x[c] = c < m->nraw ? (isnan(r[c]) ? m->median[c] : r[c])
					   : isnan(r[m->ind_of[c]]);
	}
}

/* The column's feature: itself, or the one an indicator marks. */
static size_t feature_of(const struct cl_readm_model *m, size_t c)
{
	return c < m->nraw ? c : m->ind_of[c];
}

static int predict(const struct cl_readm_model *m, struct batch *b, int explain)
{
	design(m, b);
	if (explain)
		memset(b->contrib, 0, b->n * m->nraw * sizeof(double));
	if (!m->xgb) {
		for (size_t i = 0; i < b->n; i++) {
			double z = m->intercept;

			for (size_t c = 0; c < m->k; c++) {
				double t = m->coef[c] * (b->x[i * m->k + c] - m->mean[c]) / m->sd[c];

				z += t;
				if (explain)
					b->contrib[i * m->nraw + feature_of(m, c)] += t;
			}
			b->risk[i] = 1 / (1 + exp(-z));
		}
		return CL_OK;
	}
	{
		float *f = cl_malloc(b->n * m->k * sizeof(float));
		DMatrixHandle d = NULL;
		bst_ulong len = 0;
		const float *out = NULL;
		int rc = CL_OK;

		if (!f)
			return cl_error_set(CL_ENOMEM, "no memory to score stays");
		for (size_t i = 0; i < b->n * m->k; i++)
			f[i] = (float)b->x[i];
		if (XGDMatrixCreateFromMat(f, b->n, m->k, NAN, &d) != 0 ||
		    XGBoosterPredict(m->booster, d, 0, 0, 0, &len, &out) != 0 || len != b->n) {
			rc = cl_error_set(CL_EIO, "XGBoost: scoring: %s", XGBGetLastError());
		} else {
			for (size_t i = 0; i < b->n; i++)
				b->risk[i] = out[i];
			/* the contributions: k columns and the bias per stay, in log-odds */
			if (explain && (XGBoosterPredict(m->booster, d, 4, 0, 0, &len, &out) != 0 ||
					len != b->n * (m->k + 1)))
				rc = cl_error_set(CL_EIO, "XGBoost: contributions: %s",
						  XGBGetLastError());
			for (size_t i = 0; rc == CL_OK && explain && i < b->n; i++)
				for (size_t c = 0; c < m->k; c++)
					b->contrib[i * m->nraw + feature_of(m, c)] +=
						out[i * (m->k + 1) + c];
		}
		if (d)
			XGDMatrixFree(d);
		cl_free(f);
		return rc;
	}
}

/* The top contributing features of stay i, largest first. */
static json_t *factors(const struct cl_readm_model *m, const struct batch *b, size_t i)
{
	const double *c = b->contrib + i * m->nraw, *r = b->raw + i * m->nraw;
	size_t top[TOP], nt = 0;
	json_t *a = json_array();

	for (size_t j = 0; j < m->nraw; j++) {
		size_t at;

		if (fabs(c[j]) < 1e-4)
			continue;
		for (at = nt; at > 0 && fabs(c[top[at - 1]]) < fabs(c[j]); at--)
			if (at < TOP)
				top[at] = top[at - 1];
		if (at < TOP) {
			top[at] = j;
			if (nt < TOP)
				nt++;
		}
	}
	for (size_t t = 0; t < nt; t++) {
		size_t j = top[t];

		json_array_append_new(a, json_pack("{s:s,s:o,s:f}", "feature", m->raw[j], "value",
						   isnan(r[j]) ? json_null() : json_real(r[j]),
						   "contribution", round(c[j] * 1e4) / 1e4));
	}
	return a;
}

static const char *band(const struct cl_readm_model *m, double risk)
{
	return risk >= m->band_high ? "high" : risk >= m->band_medium ? "medium" : "low";
}

/* Scores the batch and hands each stay on. */
static int flush(struct cl_readm_model *m, struct batch *b, int explain,
		 int (*each)(void *arg, const struct cl_readm_scored *s), void *arg)
{
	int rc = b->n ? predict(m, b, explain) : CL_OK;

	for (size_t i = 0; rc == CL_OK && i < b->n; i++) {
		struct cl_readm_scored s = { b->stay[i], b->patient[i], b->risk[i],
					     band(m, b->risk[i]),
					     explain ? factors(m, b, i) : NULL };

		rc = each(arg, &s);
		json_decref(s.factors);
	}
	b->n = 0;
	return rc;
}

int cl_readm_model_score(struct cl_readm_model *m, sqlite3 *db, const char *where, int explain,
			 int (*each)(void *arg, const struct cl_readm_scored *s), void *arg,
			 long *scored)
{
	struct batch b;
	sqlite3_stmt *q = NULL;
	char *sql = NULL;
	size_t cap = 256 + (where ? strlen(where) : 0), at;
	long n = 0;
	int rc, step;

	if (scored)
		*scored = 0;
	for (size_t j = 0; j < m->nraw; j++)
		cap += strlen(m->raw[j]) + 2;
	sql = cl_malloc(cap);
	if (!sql)
		return cl_error_set(CL_ENOMEM, "no memory to score stays");
	at = (size_t)snprintf(sql, cap, "SELECT stay_id, patient_id");
	for (size_t j = 0; j < m->nraw; j++)
		at += (size_t)snprintf(sql + at, cap - at, ", %s", m->raw[j]);
	snprintf(sql + at, cap - at, " FROM gold_readmission_features%s%s%s ORDER BY discharge_ts,"
		 " stay_id", where ? " WHERE (" : "", where ? where : "", where ? ")" : "");
	rc = batch_init(&b, m);
	if (rc) {
		cl_free(sql);
		return rc;
	}
	if (sqlite3_prepare_v2(db, sql, -1, &q, NULL) != SQLITE_OK)
		rc = cl_error_set(strstr(sqlite3_errmsg(db), "no such table") ? CL_ENOENT : CL_EIO,
				  "carelake.db: reading the readmission features: %s",
				  sqlite3_errmsg(db));
	while (rc == CL_OK && (step = sqlite3_step(q)) == SQLITE_ROW) {
		snprintf(b.stay[b.n], sizeof(b.stay[b.n]), "%s",
			 (const char *)sqlite3_column_text(q, 0));
		snprintf(b.patient[b.n], sizeof(b.patient[b.n]), "%s",
			 (const char *)sqlite3_column_text(q, 1));
		for (size_t j = 0; j < m->nraw; j++)
			b.raw[b.n * m->nraw + j] = !isnan(m->fixed[j]) ? m->fixed[j]
						   : sqlite3_column_type(q, (int)j + 2) == SQLITE_NULL
							   ? NAN
							   : sqlite3_column_double(q, (int)j + 2);
		n++;
		if (++b.n == BATCH)
			rc = flush(m, &b, explain, each, arg);
	}
	if (rc == CL_OK && step != SQLITE_DONE)
		rc = cl_error_set(CL_EIO, "carelake.db: reading the readmission features: %s",
				  sqlite3_errmsg(db));
	if (rc == CL_OK)
		rc = flush(m, &b, explain, each, arg);
	sqlite3_finalize(q);
	batch_free(&b);
	cl_free(sql);
	if (scored)
		*scored = n;
	return rc;
}

/* Writing gold_readmission_risk. */
struct writer {
	sqlite3 *db;
	sqlite3_stmt *ins;
	const struct cl_readm_model *m;
};

static int write_one(void *arg, const struct cl_readm_scored *s)
{
	struct writer *w = arg;
	char *f = json_dumps(s->factors, JSON_COMPACT | JSON_REAL_PRECISION(6));
	int rc;

	if (!f)
		return cl_error_set(CL_ENOMEM, "no memory for the factors");
	sqlite3_reset(w->ins);
	sqlite3_bind_text(w->ins, 1, s->stay_id, -1, SQLITE_STATIC);
	sqlite3_bind_double(w->ins, 2, s->risk);
	sqlite3_bind_text(w->ins, 3, s->band, -1, SQLITE_STATIC);
	sqlite3_bind_text(w->ins, 4, f, -1, SQLITE_STATIC);
	rc = sqlite3_step(w->ins) == SQLITE_DONE
		     ? CL_OK
		     : cl_error_set(CL_EIO, "carelake.db: writing gold_readmission_risk: %s",
				    sqlite3_errmsg(w->db));
	free(f);
	return rc;
}

/* The stays scored as of now_us, as an SQL condition: those in hospital,
 * and those discharged alive in the last 30 days (a patient who died
 * after the discharge is not followed up). */
static void current(int64_t now_us, char *where, size_t cap)
{
	char since[40];

	cl_time_format_rfc3339(now_us - RISK_DAYS * 86400ll * 1000000, since, sizeof(since), 0);
	snprintf(where, cap, "cohort = 'inpatient' OR (cohort IN ('index', 'censored_followup')"
		 " AND discharge_ts >= '%s')", since);
}

/* The table's entry in the catalog (a store older than it gains it). */
static const struct cl_gold_table *risk_table(void)
{
	const struct cl_gold_table *t = cl_gold_tables;

	while (strcmp(t->name, "gold_readmission_risk") != 0)
		t++;
	return t;
}

int cl_readm_risk_refresh(sqlite3 *db, const char *data_dir, int64_t now_us,
			  struct cl_readm_model **cache, long *scored)
{
	int version = cl_readm_promoted(data_dir), rc = CL_OK;
	struct writer w = { db, NULL, NULL };
	char now[40], where[200], sql[768];
	long n = 0;

	if (scored)
		*scored = 0;
	if (*cache && cl_readm_model_version(*cache) != version) {
		cl_readm_model_free(*cache);
		*cache = NULL;
	}
	if (version && !*cache)
		rc = cl_readm_model_load(data_dir, version, cache);
	if (rc)
		return rc;
	cl_time_format_rfc3339(now_us, now, sizeof(now), 0);
	if (sqlite3_exec(db, "SAVEPOINT readmission_risk", NULL, NULL, NULL) != SQLITE_OK)
		return cl_error_set(CL_EIO, "carelake.db: gold_readmission_risk: %s",
				    sqlite3_errmsg(db));
	if (sqlite3_exec(db, risk_table()->create, NULL, NULL, NULL) != SQLITE_OK ||
	    sqlite3_exec(db, "DELETE FROM gold_readmission_risk", NULL, NULL, NULL) != SQLITE_OK) {
		rc = cl_error_set(CL_EIO, "carelake.db: gold_readmission_risk: %s",
				  sqlite3_errmsg(db));
		goto done;
	}
	if (!version)
		goto done;
	w.m = *cache;
	snprintf(sql, sizeof(sql),
		 "INSERT INTO gold_readmission_risk SELECT stay_id, patient_id, ward, admit_ts,"
		 " CASE WHEN cohort = 'inpatient' THEN NULL ELSE discharge_ts END,"
		 " CASE WHEN cohort = 'inpatient' THEN 'inpatient' ELSE 'discharged' END, '%s', %d,"
		 " '%s', ?2, ?3, ?4, lace, hospital_score FROM gold_readmission_features"
		 " WHERE stay_id = ?1", now, version, cl_readm_model_name(*cache));
	if (sqlite3_prepare_v2(db, sql, -1, &w.ins, NULL) != SQLITE_OK) {
		rc = cl_error_set(CL_EIO, "carelake.db: gold_readmission_risk: %s",
				  sqlite3_errmsg(db));
		goto done;
	}
	current(now_us, where, sizeof(where));
	rc = cl_readm_model_score(*cache, db, where, 1, write_one, &w, &n);
done:
	sqlite3_finalize(w.ins);
	if (rc) {
		sqlite3_exec(db, "ROLLBACK TO readmission_risk; RELEASE readmission_risk", NULL, NULL,
			     NULL);
		return rc;
	}
	if (sqlite3_exec(db, "RELEASE readmission_risk", NULL, NULL, NULL) != SQLITE_OK)
		return cl_error_set(CL_EIO, "carelake.db: gold_readmission_risk: %s",
				    sqlite3_errmsg(db));
	if (scored)
		*scored = n;
	cl_log_debug("ml", "event=scored model=readmission version=%d stays=%ld", version, n);
	return CL_OK;
}

int cl_readm_risk_store(const char *data_dir, long *scored)
{
	struct cl_readm_model *m = NULL;
	sqlite3 *db;
	int rc;

	*scored = 0;
	rc = cl_db_open(data_dir, CL_DB_READONLY, &db);
	sqlite3_close(db);
	if (rc == CL_OK)
		rc = cl_db_open(data_dir, CL_DB_READWRITE, &db);
	if (rc)
		return rc;
	if (sqlite3_exec(db, "BEGIN IMMEDIATE", NULL, NULL, NULL) != SQLITE_OK) {
		rc = cl_error_set(CL_EIO, "carelake.db: %s", sqlite3_errmsg(db));
	} else {
		rc = cl_readm_risk_refresh(db, data_dir, cl_time_now_us(), &m, scored);
		/* no batch run watches this connection: its lake copy follows at
		 * the next sync */
		if (rc == CL_OK)
			rc = cl_lake_note_table(db, "gold_readmission_risk");
		if (rc == CL_OK && sqlite3_exec(db, "COMMIT", NULL, NULL, NULL) != SQLITE_OK)
			rc = cl_error_set(CL_EIO, "carelake.db: %s", sqlite3_errmsg(db));
		if (rc)
			sqlite3_exec(db, "ROLLBACK", NULL, NULL, NULL);
	}
	cl_readm_model_free(m);
	sqlite3_close(db);
	return rc;
}

/* Writing the CSV: the scores kept until the end, so that the time
 * measured is the scoring's. */
struct csv {
	FILE *out;
	int explain;
	char *buf;
	size_t len;
	FILE *mem;
};

static int csv_one(void *arg, const struct cl_readm_scored *s)
{
	struct csv *c = arg;

	fprintf(c->mem, "%s,%s,%.9g,%s", s->stay_id, s->patient_id, s->risk, s->band);
	if (c->explain) {
		char *f = json_dumps(s->factors, JSON_COMPACT | JSON_REAL_PRECISION(6));

		if (!f)
			return cl_error_set(CL_ENOMEM, "no memory for the factors");
		/* a CSV field: quoted, its quotes doubled */
		fputs(",\"", c->mem);
		for (const char *p = f; *p; p++) {
			if (*p == '"')
				fputc('"', c->mem);
			fputc(*p, c->mem);
		}
		fputc('"', c->mem);
		free(f);
	}
	fputc('\n', c->mem);
	return CL_OK;
}

int cl_readm_score_csv(const char *data_dir, int version, const char *which, int explain,
		       FILE *out, long *n, double *seconds)
{
	struct cl_readm_model *m = NULL;
	struct csv c = { out, explain, NULL, 0, NULL };
	char where[200];
	const char *w;
	sqlite3 *db = NULL;
	int64_t t0;
	int rc;

	*n = 0;
	*seconds = 0;
	current(cl_time_now_us(), where, sizeof(where));
	if (strcmp(which, "index") == 0)
		w = "cohort = 'index'";
	else if (strcmp(which, "current") == 0)
		w = where;
	else if (strcmp(which, "all") == 0)
		w = NULL;
	else
		return cl_error_set(CL_EINVAL, "which stays? index, current or all, not '%s'", which);
	rc = cl_readm_model_load(data_dir, version, &m);
	if (rc == CL_OK)
		rc = cl_db_open(data_dir, CL_DB_READONLY, &db);
	if (rc == CL_OK && !(c.mem = open_memstream(&c.buf, &c.len)))
		rc = cl_error_set(CL_ENOMEM, "no memory for the scores");
	t0 = cl_time_mono_us();
	if (rc == CL_OK)
		rc = cl_readm_model_score(m, db, w, explain, csv_one, &c, n);
	*seconds = (double)(cl_time_mono_us() - t0) / 1e6;
	if (c.mem)
		fclose(c.mem);
	if (rc == CL_OK) {
		fprintf(out, "stay_id,patient_id,risk,band%s\n", explain ? ",factors" : "");
		if (c.len && fwrite(c.buf, 1, c.len, out) != c.len)
			rc = cl_error_set(CL_EIO, "writing the scores: %s", strerror(errno));
	}
	free(c.buf);
	sqlite3_close(db);
	cl_readm_model_free(m);
	return rc;
}
