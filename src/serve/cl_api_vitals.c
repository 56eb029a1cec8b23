/*
 * GET /api/v1/patients/{id}/vitals?from=&to=&resolution=raw|<window>&limit=&fields=&final=:
 * a patient's vital values, raw or rolled up by one of stream.windows
 * (each rollup with the statistics `fields` names, all by default, its
 * status and revision), and their NEWS2 now. The windows still open are
 * shown too, provisional, computed from the values stored so far, unless
 * final=true asks for closed ones only.
 * GET /api/v1/patients/{id}/news2?from=&to=&resolution=1m|1h|1d&limit=:
 * their NEWS2 over time, the worst score of each minute, hour or day.
 */
#include "cl_api.h"
#include "cl_server_int.h"
#include "core/cl_error.h"
#include "core/cl_mem.h"
#include "core/cl_time.h"
#include "store/cl_store.h"
#include "stream/cl_window_calc.h"

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

/* The open windows of one vital being gathered. */
struct open_ctx {
	struct cl_rollup_row *rows;
	size_t n, cap;
	const char *vital;
	int64_t from, to;        /* starts shown */
	int err;
};

static int on_open(void *arg, int64_t start, int64_t end, const struct cl_agg *agg)
{
	struct open_ctx *c = arg;

	if (start < c->from || start >= c->to)
		return 0;
	if (cl_grow(&c->rows, &c->cap, c->n, sizeof(*c->rows), 16) != 0)
		return c->err = cl_error_set(CL_ENOMEM, "no memory for open windows");
	c->rows[c->n] = (struct cl_rollup_row){ .vital = c->vital, .start_us = start,
						.end_us = end, .status = CL_ROLLUP_PROVISIONAL };
	cl_agg_summarise(agg, &c->rows[c->n++].sum);
	return 0;
}

static int row_cmp(const void *a, const void *b)
{
	const struct cl_rollup_row *x = a, *y = b;

	if (x->start_us != y->start_us)
		return x->start_us < y->start_us ? -1 : 1;
	return strcmp(x->vital, y->vital);
}

/*
 * The windows of spec still open for the patient, with starts in [from,
 * to): for each vital, those after its latest stored window, computed
 * from the values stored so far (cl_window_calc.h), sorted by start and
 * vital into c->rows.
 */
static int open_windows(struct cl_store *st, const struct cl_window_spec *w, const char *patient,
			int64_t from, int64_t to, struct open_ctx *c)
{
	int rc = CL_OK;

	c->from = from;
	c->to = to;
	for (int v = 0; v < CL_VITAL_COUNT && rc == CL_OK; v++) {
		const char *name = cl_vital_name((enum cl_vital)v);
		struct cl_rollup_row last;
		struct cl_point *p = NULL;
		int64_t lo, hi, pfrom, pto;
		size_t n = 0;
		int have = cl_store_rollup_last(st, patient, name, w->name, &last);

		if (have != CL_OK && have != CL_ENOENT)
			return have;
		have = have == CL_OK;
		switch (w->kind) {
		case CL_WIN_TUMBLING:
		case CL_WIN_HOPPING:
			lo = have ? last.start_us + (w->kind == CL_WIN_HOPPING ? w->hop_us : w->size_us)
				  : from;
			hi = to - 1;
			break;
		case CL_WIN_SLIDING:
			/* by window end: start = end - size */
			lo = have ? last.end_us + 1 : from + w->size_us;
			hi = to - 1 + w->size_us;
			break;
		default:
			/* the values after the last stored session's */
			lo = have ? last.end_us - w->gap_us + 1 : from;
			hi = to - 1;
			break;
		}
		if (lo < from && w->kind != CL_WIN_SLIDING)
			lo = from;
		if (lo > hi)
			continue;
		if (w->kind == CL_WIN_SESSION) {
			pfrom = lo;
			pto = INT64_MAX / 2;
		} else {
			cl_window_calc_needs(w, lo, hi, &pfrom, &pto);
		}
		rc = cl_store_vital_points(st, patient, name, pfrom, pto, &p, &n);
		c->vital = name;
		if (rc == CL_OK && n > 0)
			rc = cl_window_calc(w, p, n, cl_vital_resolution((enum cl_vital)v), lo, hi,
					    on_open, c);
		cl_free(p);
		if (rc == CL_OK)
			rc = c->err;
	}
	if (c->n > 1)
		qsort(c->rows, c->n, sizeof(*c->rows), row_cmp);
	return rc;
}

int cl_api_vitals_get(struct cl_req *r)
{
	const char *patient = r->param[0], *res = cl_req_query(r, "resolution");
	const char *final = cl_req_query(r, "final");
	const struct cl_window_spec *spec = NULL;
	struct open_ctx open = { 0 };
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
	if (final && strcmp(final, "true") != 0 && strcmp(final, "false") != 0)
		return cl_reply_error(r, 400, "bad_request", "final must be true or false", NULL,
				      NULL);
	if (!res || !*res)
		res = "raw";
	if (strcmp(res, "raw") != 0) {
		for (int i = 0; i < r->s->stream_opts.nwindows; i++)
			if (strcmp(r->s->stream_opts.windows[i].name, res) == 0)
				spec = &r->s->stream_opts.windows[i];
		if (!spec) {
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
		/* the windows still open, unless only closed ones are asked for */
		if (spec && !(final && strcmp(final, "true") == 0))
			rc = open_windows(st, spec, patient, from, to, &open);
		if (rc == CL_OK)
			rc = cl_store_vitals_json(st, &(struct cl_vitals_query){
				.patient = patient, .from_us = from, .to_us = to, .window = res,
				.limit = (int)limit, .fields = fields, .extra = open.rows,
				.nextra = open.n }, &rows, &rows_len, &count);
		cl_free(open.rows);
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
