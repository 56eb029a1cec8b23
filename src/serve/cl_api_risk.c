/*
 * The readmission model's scores, as gold_readmission_risk holds them
 * (ml/cl_readm_score.h, docs/ml.md "Serving"):
 *
 *   GET /api/v1/patients/{id}/risk      the patient's scored stays (in
 *                                       hospital, or discharged in the last
 *                                       30 days), newest first: the risk, its
 *                                       band, the features that drove it,
 *                                       the model, LACE and HOSPITAL beside
 *   GET /api/v1/wards/{ward}/readmission-risk
 *                                       counts over a ward ("all": every
 *                                       ward): stays by status and band and
 *                                       the readmissions they are expected
 *                                       to bring (the sum of their risks),
 *                                       no patient named
 */
#include "cl_api.h"
#include "core/cl_error.h"
#include "store/cl_sql_json.h"

#include <sqlite3.h>
#include <string.h>

/* The rows of a prepared statement as JSON objects; 0, or 500 with the
 * error set. A "factors" column holds JSON and is given as such. */
static int rows_json(sqlite3 *db, sqlite3_stmt *st, json_t *rows)
{
	int rc;

	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		json_t *o = cl_sql_row_json(st), *f = json_object_get(o, "factors");

		if (json_is_string(f))
			json_object_set_new(o, "factors",
					    json_loads(json_string_value(f), 0, NULL));
		json_array_append_new(rows, o);
	}
	if (rc == SQLITE_DONE)
		return 0;
	cl_error_set(CL_EIO, "reading gold_readmission_risk: %s", sqlite3_errmsg(db));
	return 500;
}

/* Runs sql with one text parameter: the rows, or NULL with the reply made. */
static json_t *query(struct cl_req *r, const char *sql, const char *arg, int *reply)
{
	sqlite3 *db = cl_api_db(r, reply);
	sqlite3_stmt *st = NULL;
	json_t *rows;
	int status = 0;

	if (!db)
		return NULL;
	rows = json_array();
	if (sqlite3_prepare_v2(db, sql, -1, &st, NULL) != SQLITE_OK) {
		/* a store that has never scored has no table yet: no rows */
		if (!strstr(sqlite3_errmsg(db), "no such table")) {
			cl_error_set(CL_EIO, "reading gold_readmission_risk: %s", sqlite3_errmsg(db));
			status = 500;
		}
	} else {
		sqlite3_bind_text(st, 1, arg, -1, SQLITE_STATIC);
		status = rows_json(db, st, rows);
	}
	sqlite3_finalize(st);
	sqlite3_close(db);
	if (status) {
		json_decref(rows);
		*reply = cl_reply_error(r, 500, "store", cl_error_detail(), NULL, NULL);
		return NULL;
	}
	return rows;
}

int cl_api_risk_get(struct cl_req *r)
{
	const char *patient = r->param[0];
	struct cl_store *st;
	json_t *rows;
	int rc = cl_api_store(r, &st), reply;

	if (rc != CL_OK)
		return cl_reply_error(r, 500, "store", cl_error_detail(), NULL, NULL);
	rc = cl_api_patient_access(r, st, patient);
	cl_api_store_done(st);
	if (rc != 1)
		return rc;
	rows = query(r, "SELECT stay_id, ward, admit_ts, discharge_ts, status, scored_ts, risk, band,"
		     " factors, model, model_version, lace, hospital_score FROM gold_readmission_risk"
		     " WHERE patient_id = ?1 ORDER BY admit_ts DESC, stay_id", patient, &reply);
	if (!rows)
		return reply;
	r->audit.count = (int64_t)json_array_size(rows);
	return cl_reply_json(r, 200, json_pack("{s:s,s:o}", "patient_id", patient, "stays", rows));
}

int cl_api_ward_risk(struct cl_req *r)
{
	const char *ward = r->param[0];
	json_t *rows;
	int reply;

	if (!*ward || strlen(ward) > 128)
		return cl_reply_error(r, 400, "bad_request", "the ward must be 1 to 128 characters",
				      NULL, NULL);
	rows = query(r, "SELECT coalesce(ward, 'unassigned') AS ward, status, band,"
		     " count(*) AS stays, round(sum(risk), 2) AS expected_readmissions,"
		     " max(model_version) AS model_version, max(scored_ts) AS scored_ts"
		     " FROM gold_readmission_risk"
		     " WHERE ?1 = 'all' OR coalesce(ward, 'unassigned') = ?1"
		     " GROUP BY 1, 2, 3 ORDER BY 1, 2, CASE band WHEN 'high' THEN 0"
		     " WHEN 'medium' THEN 1 ELSE 2 END", ward, &reply);
	if (!rows)
		return reply;
	r->audit.count = (int64_t)json_array_size(rows);
	return cl_reply_json(r, 200, json_pack("{s:s,s:o}", "ward", ward, "groups", rows));
}
