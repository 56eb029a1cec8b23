/*
 * The patients on the board. See cl_store_board.h.
 */
#include "cl_store_board.h"
#include "cl_store.h"
#include "cl_store_int.h"
#include "core/cl_error.h"
#include "model/cl_vitals.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Adds each vital's latest value of the patient since since_us to o. */
static int latest_vitals(struct cl_store *s, sqlite3_stmt *q, const char *patient,
			 int64_t since_us, json_t *o)
{
	for (int v = 0; v < CL_VITAL_COUNT; v++) {
		int rc;

		sqlite3_bind_text(q, 1, patient, -1, SQLITE_STATIC);
		sqlite3_bind_text(q, 2, cl_vital_name((enum cl_vital)v), -1, SQLITE_STATIC);
		sqlite3_bind_int64(q, 3, since_us);
		rc = sqlite3_step(q);
		if (rc == SQLITE_ROW) {
			double value = sqlite3_column_double(q, 0);
			json_t *one = json_object();

			json_object_set_new(one, "value", isfinite(value) ? json_real(value) : json_null());
			cl_store_json_time(one, "ts", sqlite3_column_int64(q, 1));
			json_object_set_new(o, cl_vital_name((enum cl_vital)v), one);
		}
		sqlite3_reset(q);
		sqlite3_clear_bindings(q);
		if (rc != SQLITE_ROW && rc != SQLITE_DONE)
			return cl_store_db_error(s, "read the latest vitals");
	}
	return CL_OK;
}

int cl_store_board_json(struct cl_store *s, const struct cl_store_board_filter *f, char **out)
{
	char ward[1200], text[2400];
	sqlite3_stmt *q = NULL, *vq = NULL;
	json_t *arr;
	int rc, step = SQLITE_DONE;

	*out = NULL;
	cl_store_ward_sql(s, "n.patient_id", ward, sizeof(ward));
	snprintf(text, sizeof(text),
		 "SELECT n.patient_id, n.score, n.risk, n.ts_us, %s AS ward,"
		 " (SELECT max(ts_us) FROM vital_event v WHERE v.patient_id = n.patient_id),"
		 " (SELECT count(*) FROM alert a WHERE a.patient_id = n.patient_id AND"
		 " a.closed_us IS NULL AND a.learned_us IS NULL AND a.category = 'clinical'),"
		 " n.present"
		 " FROM news2 n WHERE (?1 IS NULL OR n.patient_id = ?1)"
		 " AND (?2 IS NULL OR ward = ?2)"
		 " AND (?3 IS NULL OR instr(',' || ?3 || ',', ',' || coalesce(ward, char(1)) || ',') > 0)"
		 " ORDER BY n.score DESC, n.patient_id LIMIT ?4", ward);
	if (sqlite3_prepare_v2(cl_store_sqlite(s), text, -1, &q, NULL) != SQLITE_OK ||
	    sqlite3_prepare_v2(cl_store_sqlite(s), "SELECT value, ts_us FROM vital_event"
			       " WHERE patient_id = ?1 AND vital = ?2 AND ts_us >= ?3"
			       " ORDER BY ts_us DESC LIMIT 1", -1, &vq, NULL) != SQLITE_OK) {
		rc = cl_store_db_error(s, "list the board's patients");
		sqlite3_finalize(q);
		return rc;
	}
	if (f->patient)
		sqlite3_bind_text(q, 1, f->patient, -1, SQLITE_STATIC);
	if (f->ward)
		sqlite3_bind_text(q, 2, f->ward, -1, SQLITE_STATIC);
	if (f->wards)
		sqlite3_bind_text(q, 3, f->wards, -1, SQLITE_STATIC);
	sqlite3_bind_int(q, 4, f->limit);
	arr = json_array();
	rc = CL_OK;
	while (rc == CL_OK && (step = sqlite3_step(q)) == SQLITE_ROW) {
		const char *patient = (const char *)sqlite3_column_text(q, 0);
		json_t *o = json_object(), *news2 = json_object(), *vitals = json_object();

		json_object_set_new(o, "patient_id", json_string(patient));
		json_object_set_new(o, "ward", sqlite3_column_type(q, 4) == SQLITE_NULL
			? json_null() : json_string((const char *)sqlite3_column_text(q, 4)));
		json_object_set_new(news2, "score", json_integer(sqlite3_column_int(q, 1)));
		json_object_set_new(news2, "risk", json_string((const char *)sqlite3_column_text(q, 2)));
		cl_store_json_time(news2, "ts", sqlite3_column_int64(q, 3));
		/* a score of fewer than the seven parameters is partial */
		json_object_set_new(news2, "parameters", json_integer(sqlite3_column_int(q, 7)));
		json_object_set_new(o, "news2", news2);
		if (sqlite3_column_type(q, 5) == SQLITE_NULL)
			json_object_set_new(o, "last_reading", json_null());
		else
			cl_store_json_time(o, "last_reading", sqlite3_column_int64(q, 5));
		rc = latest_vitals(s, vq, patient, f->since_us, vitals);
		json_object_set_new(o, "vitals", vitals);
		json_object_set_new(o, "open_alerts", json_integer(sqlite3_column_int64(q, 6)));
		json_array_append_new(arr, o);
	}
	if (rc == CL_OK && step != SQLITE_DONE)
		rc = cl_store_db_error(s, "list the board's patients");
	sqlite3_finalize(q);
	sqlite3_finalize(vq);
	if (rc == CL_OK) {
		*out = json_dumps(arr, JSON_COMPACT);
		if (!*out)
			rc = cl_error_set(CL_ENOMEM, "no memory for the board's patients");
	}
	json_decref(arr);
	return rc;
}
