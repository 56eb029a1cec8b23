/*
 * GET /api/v1/patients/{id}/vitals?from=&to=&resolution=raw|<window>&limit=&fields=:
 * a patient's vital values, raw or rolled up by one of stream.windows
 * (each rollup with the statistics `fields` names, all by default), and
 * their NEWS2 now.
 * GET /api/v1/patients/{id}/news2?from=&to=&resolution=1m|1h|1d&limit=:
 * their NEWS2 over time, the worst score of each minute, hour or day.
 */
#include "cl_api.h"
#include "cl_server_int.h"
#include "core/cl_error.h"
#include "core/cl_time.h"
#include "store/cl_store.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* The patient of /api/v1/patients/{id}/..., and the range and limit its
 * query asks for (from an hour ago to five minutes ahead, 10,000 at most,
 * by default): 1, or the reply made. */
static int patient_range(struct cl_req *r, int64_t *from, int64_t *to, uint64_t *limit)
{
	const char *patient = r->param[0], *lim = cl_req_query(r, "limit");
	int64_t now = cl_time_now_us();

	if (strlen(patient) > CL_EVENT_ID_MAX)
		return cl_reply_error(r, 400, "bad_request", "the patient id is too long", NULL, NULL);
	r->audit.patient = patient;
	/* a patient token sees its own patient; any other is as if it did not exist */
	if (r->who.patient[0] && strcmp(patient, r->who.patient) != 0)
		return cl_reply_error(r, 404, "not_found", "no such patient", NULL, NULL);
	*limit = 10000;
	if (cl_api_time_arg(r, "from", now - 3600ll * 1000000, from) != CL_OK ||
	    cl_api_time_arg(r, "to", now + 300ll * 1000000, to) != CL_OK ||
	    (lim && cl_parse_u64(lim, 1, 100000, limit) != CL_OK))
		return cl_reply_error(r, 400, "bad_request", cl_error_detail(), NULL, NULL);
	return 1;
}

/* fields=mean,min,...: the rollup statistics asked for; 0 for a name
 * that is none of them. */
static unsigned parse_fields(const char *list)
{
	unsigned mask = 0;

	if (!list)
		return CL_VITALS_ALL;
	while (*list) {
		size_t n = strcspn(list, ",");
		unsigned bit = 0;

		for (int i = 0; cl_store_vitals_fields[i]; i++)
			if (strlen(cl_store_vitals_fields[i]) == n &&
			    strncmp(cl_store_vitals_fields[i], list, n) == 0)
				bit = 1u << i;
		if (!bit)
			return 0;
		mask |= bit;
		list += n;
		if (*list == ',')
			list++;
	}
	return mask;
}

/* s as a JSON string, into f. */
static void put_string(FILE *f, const char *s)
{
	json_t *j = json_string(s);
	char *q = j ? json_dumps(j, JSON_ENCODE_ANY) : NULL;

	fputs(q ? q : "null", f);
	free(q);
	json_decref(j);
}

int cl_api_vitals_get(struct cl_req *r)
{
	const char *patient = r->param[0], *res = cl_req_query(r, "resolution");
	char *rows = NULL, *news2 = NULL, *body = NULL;
	size_t rows_len = 0, body_len = 0;
	int64_t from, to, count = 0;
	struct cl_store *st;
	uint64_t limit;
	unsigned fields = parse_fields(cl_req_query(r, "fields"));
	FILE *f;
	int rc = patient_range(r, &from, &to, &limit);

	if (rc != 1)
		return rc;
	if (!fields)
		return cl_reply_error(r, 400, "bad_request", "fields lists statistics of a rollup, "
				      "by ',': end, count, min, max, mean, stddev, p50, p90, p99",
				      NULL, NULL);
	if (!res || !*res)
		res = "raw";
	if (strcmp(res, "raw") != 0) {
		int known = 0;

		for (int i = 0; i < r->s->stream_opts.nwindows; i++)
			known |= strcmp(r->s->stream_opts.windows[i].name, res) == 0;
		if (!known) {
			char msg[400];

			snprintf(msg, sizeof(msg), "resolution must be raw or a window of stream.windows (%s)",
				 cl_stream_settings(&r->s->cfg)->windows);
			return cl_reply_error(r, 400, "bad_request", msg, NULL, NULL);
		}
	}
	rc = cl_api_store(r, &st);
	if (rc == CL_OK) {
		int go = cl_api_patient_access(r, st, patient);

		if (go != 1) {
			cl_api_store_done(st);
			return go;
		}
		rc = cl_store_vitals_json(st, patient, from, to, res, (int)limit, fields, &rows,
					  &rows_len, &count);
		if (rc == CL_OK)
			rc = cl_store_news2_json(st, patient, &news2);
		cl_api_store_done(st);
	}
	if (rc != CL_OK) {
		free(rows);
		return cl_reply_error(r, 500, "store", cl_error_detail(), NULL, NULL);
	}
	r->audit.count = count;
	/* the rows as the store wrote them: no second parse of a week of them */
	f = open_memstream(&body, &body_len);
	if (f) {
		fputs("{\"patient_id\":", f);
		put_string(f, patient);
		fputs(",\"resolution\":", f);
		put_string(f, res);
		fputs(",\"vitals\":", f);
		fwrite(rows, 1, rows_len, f);
		fprintf(f, ",\"news2\":%s}\n", news2 ? news2 : "null");
	}
	free(rows);
	free(news2);
	if (!f || fclose(f) != 0 || !body) {
		free(body);
		return cl_reply_error(r, 503, "busy", "out of memory; retry later", "Retry-After", "1");
	}
	return cl_reply(r, 200, "application/json", body, body_len, NULL, NULL);
}

/* The buckets of NEWS2 over time. */
static const struct {
	const char *name;
	int64_t us;
} news2_buckets[] = {
	{ "1m", 60ll * 1000000 }, { "1h", 3600ll * 1000000 }, { "1d", 86400ll * 1000000 },
};

int cl_api_news2_get(struct cl_req *r)
{
	const char *patient = r->param[0], *res = cl_req_query(r, "resolution");
	int64_t from, to, bucket = 0;
	struct cl_store *st;
	uint64_t limit;
	char *rows = NULL;
	json_t *list;
	int rc = patient_range(r, &from, &to, &limit);

	if (rc != 1)
		return rc;
	if (!res || !*res)
		res = "1m";
	for (size_t i = 0; i < sizeof(news2_buckets) / sizeof(news2_buckets[0]); i++)
		if (strcmp(res, news2_buckets[i].name) == 0)
			bucket = news2_buckets[i].us;
	if (!bucket)
		return cl_reply_error(r, 400, "bad_request", "resolution must be 1m, 1h or 1d", NULL,
				      NULL);
	if (to <= from)
		return cl_reply_error(r, 400, "bad_request", "'to' must be after 'from'", NULL, NULL);
	rc = cl_api_store(r, &st);
	if (rc == CL_OK) {
		int go = cl_api_patient_access(r, st, patient);

		if (go != 1) {
			cl_api_store_done(st);
			return go;
		}
		/* whole buckets: from rounded down to the bucket's start */
		rc = cl_store_news2_history_json(st, patient, from - (from % bucket + bucket) % bucket,
						 to, bucket, (int)limit, &rows);
		cl_api_store_done(st);
	}
	if (rc != CL_OK)
		return cl_reply_error(r, 500, "store", cl_error_detail(), NULL, NULL);
	list = json_loads(rows, 0, NULL);
	free(rows);
	r->audit.count = (int64_t)json_array_size(list);
	return cl_reply_json(r, 200, json_pack("{s:s,s:s,s:o}", "patient_id", patient,
					       "resolution", res, "news2", list));
}
