/*
 * POST /api/v1/events: device vitals as a JSON object, array or NDJSON,
 * answered only once the accepted events are durable, with the events
 * rejected listed by index. And what every ingest endpoint shares: the
 * request's scratch and the answers to what may go wrong before a commit.
 */
#include "cl_api.h"
#include "cl_server_int.h"
#include "core/cl_error.h"
#include "core/cl_mem.h"
#include "core/cl_time.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* The owner tag of an ingest request's scratch. */
static const char ingest_owner;

static void scratch_free(void *p)
{
	struct cl_ingest_result *res = p;

	cl_ingest_result_free(res);
	cl_free(res);
}

struct cl_ingest_result *cl_api_ingest_scratch(struct cl_req *r)
{
	struct cl_ingest_result *res = cl_req_scratch(r, &ingest_owner, sizeof(*res), scratch_free);

	if (!res)
		return NULL;
	/* a connection's next request reuses the memory, not the content */
	cl_ingest_result_free(res);
	cl_ingest_result_init(res);
	return res;
}

int cl_api_ingest_not_stored(struct cl_req *r, struct cl_ingest *ing,
			     struct cl_ingest_result *res, int commit_rc)
{
	int lrc = CL_OK, brc = CL_OK;

	/* what of this request cannot be called durable: forget its ids so
	 * the client's retry stores it, not calls it a duplicate (a log that
	 * did commit keeps its ids: they are stored) */
	if (res->queued)
		cl_blog_poll_range(cl_ingest_log(ing), res->first.batch, res->last.batch, &lrc);
	if (res->bqueued)
		cl_blog_poll_range(cl_ingest_backlog(ing), res->bfirst.batch, res->blast.batch, &brc);
	if (res->queued && lrc != CL_OK)
		cl_ingest_forget_lane(ing, res, 0);
	if (res->bqueued && brc != CL_OK)
		cl_ingest_forget_lane(ing, res, 1);
	return cl_reply_error(r, commit_rc == CL_ENOSPC ? 507 : 503, "not_stored", cl_error_detail(),
			      "Retry-After", "5");
}

int cl_api_ingest_queued(struct cl_req *r, struct cl_ingest *ing, struct cl_ingest_result *res,
			 int rc)
{
	if (rc == CL_EPARSE)
		return cl_reply_error(r, 400, "bad_request", cl_error_detail(), NULL, NULL);
	if (rc == CL_ETOOBIG)
		return cl_reply_error(r, 413, "too_many_events", cl_error_detail(), NULL, NULL);
	if (rc == CL_EBUSY)
		return cl_reply_error(r, 503, "busy",
				      "the bronze log cannot keep up right now; retry after the delay",
				      "Retry-After", "1");
	if (rc != CL_OK)
		return cl_reply_error(r, rc == CL_ENOSPC ? 507 : 500, "not_stored", cl_error_detail(),
				      "Retry-After", "5");
	if (!res->queued && !res->bqueued)
		return CL_API_ANSWER;
	if (!res->queued)
		return cl_req_wait(r, cl_ingest_backlog(ing), res->bfirst.batch, res->blast.batch);
	if (res->bqueued)
		cl_req_wait_also(r, cl_ingest_backlog(ing), res->bfirst.batch, res->blast.batch);
	return cl_req_wait(r, cl_ingest_log(ing), res->first.batch, res->last.batch);
}

/* {"accepted": n, "duplicates": n, "rejected": [{"index", "error"}]} */
static int answer(struct cl_req *r, const struct cl_ingest_result *res)
{
	json_t *j, *rej;

	if (res->nlisted == 0 && res->nrejected == 0) {
		/* the common answer, without building it as a tree */
		char *body = malloc(80);
		int n;

		if (!body)
			return CL_ENOMEM;
		n = snprintf(body, 80, "{\"accepted\":%u,\"duplicates\":%u,\"rejected\":[]}",
			     (unsigned)res->accepted, (unsigned)res->duplicates);
		return cl_reply(r, 200, "application/json", body, (size_t)n, NULL, NULL);
	}
	rej = json_array();
	for (uint32_t i = 0; i < res->nlisted; i++)
		json_array_append_new(rej, json_pack("{s:i,s:s}", "index", (int)res->rejected[i].index,
						     "error", res->rejected[i].error));
	j = json_pack("{s:i,s:i,s:o}", "accepted", (int)res->accepted, "duplicates",
		      (int)res->duplicates, "rejected", rej);
	if (res->nrejected > res->nlisted)
		json_object_set_new(j, "rejected_count", json_integer(res->nrejected));
	if (res->conflicts)
		json_object_set_new(j, "conflicts", json_integer(res->conflicts));
	return cl_reply_json(r, 200, j);
}

/* A body this large is a bulk load (a device's backlog, a file), not a
 * live reading: while the stream is behind, it waits unless all of it
 * goes to the backlog lane. */
#define BULK_BODY (64 * 1024)

/* A bulk body refused while the stream is behind: nothing of it stored. */
static int bulk_wait(struct cl_req *r)
{
	atomic_fetch_add(&r->s->bulk_paused, 1);
	return cl_reply_error(r, 503, "busy", "carelake is behind a backlog (the stream "
			      "processor or its store): nothing of this batch was stored; send it "
			      "again after the delay (small bodies, and bodies of readings older "
			      "than ingest.backlog_after, go through)", "Retry-After", "1");
}

int cl_api_ingest(struct cl_req *r, const struct cl_input *in, enum cl_api_body body,
		  struct cl_ingest_result **out)
{
	struct cl_ingest_result *res;
	int64_t now = cl_time_now_us();
	int flags = CL_BLOG_NOWAIT | (r->lazy ? CL_BLOG_LAZY : 0), rc;

	/* device events long after their time go to the backlog lane */
	if (body == CL_API_EVENTS)
		flags |= CL_INGEST_BACKLOG;

	if (!in)
		return cl_reply_error(r, 404, "not_found", body == CL_API_EVENTS
				      ? "the events input is off (ingest.inputs)"
				      : "the fhir input is off (ingest.inputs)", NULL, NULL);
	/* a backlog arriving faster than it is taken in: bulk bodies of
	 * current readings wait, before anything is accepted, so live
	 * readings are not queued behind them, the stream never waits for
	 * the store, and live alerts stay prompt. Old device readings go to
	 * the backlog lane, which the stream applies after live ones and
	 * holds while the store is behind: a body of only those is taken at
	 * the pace bronze keeps (ingest decides, having read the body). FHIR
	 * has no lane: its bulk bodies wait unread. */
	if (r->body_len >= BULK_BODY && r->s->stream && cl_stream_behind(r->s->stream)) {
		if (body != CL_API_EVENTS)
			return bulk_wait(r);
		flags |= CL_INGEST_LIVE_HELD;
	}
	res = cl_api_ingest_scratch(r);
	if (!res)
		return cl_reply_error(r, 503, "busy", "out of memory; retry later", "Retry-After", "1");
	*out = res;
	if (body == CL_API_EVENTS && r->who.device[0])
		/* a device token posts for its own device: others' events are
		 * rejected one by one */
		rc = cl_ingest_device_body(in->ingest, r->who.device, strlen(r->who.device), r->body,
					   r->body_len, now, flags, res);
	else if (body == CL_API_EVENTS)
		rc = cl_ingest_body(in->ingest, r->body, r->body_len, now, flags, res);
	else
		rc = cl_ingest_fhir(in->ingest, r->body, r->body_len, now, flags,
				    body == CL_API_FHIR_BUNDLE, res);
	if (rc == CL_EBUSY && res->held)
		return bulk_wait(r);
	return cl_api_ingest_queued(r, in->ingest, res, rc);
}

int cl_api_events_post(struct cl_req *r)
{
	struct cl_ingest_result *res = NULL;
	int rc = cl_api_ingest(r, r->s->events_in, CL_API_EVENTS, &res);

	return rc == CL_API_ANSWER ? answer(r, res) : rc;
}

int cl_api_events_finish(struct cl_req *r, int commit_rc)
{
	struct cl_ingest_result *res = r->state;

	if (commit_rc != CL_OK)
		return cl_api_ingest_not_stored(r, r->s->events_in->ingest, res, commit_rc);
	return answer(r, res);
}
