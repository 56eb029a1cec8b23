/*
 * GET /api/v1/patients?ward=&limit=&since=: the patients on the board —
 * each one the stream has scored, with their ward, NEWS2 and its band,
 * the latest value of each vital (read since `since`, default the last
 * 24 hours) and when it was read, and how many alerts are open; the
 * highest NEWS2 first (cl_store_board.h). A patient token lists its own
 * patient only; a clinician bound to wards, the patients of its wards.
 */
#include "cl_api.h"
#include "cl_server_int.h"
#include "core/cl_error.h"
#include "core/cl_time.h"
#include "store/cl_store.h"
#include "store/cl_store_board.h"

#include <stdlib.h>
#include <string.h>

int cl_api_patients_get(struct cl_req *r)
{
	const char *ward = cl_req_query(r, "ward"), *lim = cl_req_query(r, "limit");
	struct cl_store_board_filter f = { 0 };
	struct cl_store *st;
	uint64_t limit = 1000;
	char *rows = NULL;
	json_t *list;
	int rc;

	if (cl_api_time_arg(r, "since", cl_time_now_us() - 86400ll * 1000000, &f.since_us) != CL_OK ||
	    (lim && cl_parse_u64(lim, 1, 10000, &limit) != CL_OK))
		return cl_reply_error(r, 400, "bad_request", cl_error_detail(), NULL, NULL);
	if (ward && (!*ward || strlen(ward) > 128))
		return cl_reply_error(r, 400, "bad_request", "'ward' must name a ward (1 to 128 "
				      "characters)", NULL, NULL);
	f.ward = ward;
	f.limit = (int)limit;
	f.patient = r->who.patient[0] ? r->who.patient : NULL;
	f.wards = r->who.wards[0] ? r->who.wards : NULL;
	r->audit.patient = f.patient;
	rc = cl_api_store(r, &st);
	if (rc == CL_OK) {
		rc = cl_store_board_json(st, &f, &rows);
		cl_api_store_done(st);
	}
	if (rc != CL_OK)
		return cl_reply_error(r, 500, "store", cl_error_detail(), NULL, NULL);
	list = json_loads(rows, 0, NULL);
	free(rows);
	if (!list)
		return cl_reply_error(r, 503, "busy", "out of memory; retry later", "Retry-After", "1");
	r->audit.count = (int64_t)json_array_size(list);
	return cl_reply_json(r, 200, json_pack("{s:o}", "patients", list));
}
