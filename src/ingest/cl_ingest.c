/*
 * Device-event ingest. See cl_ingest.h.
 *
 * Shape detection: a body starting with '[' is an array of events; any
 * other body is first parsed as one JSON value, and if that fails and it
 * has several lines, as NDJSON, one event per non-empty line (a bad line
 * is then one rejection, not a failed body).
 */
#include "cl_ingest.h"
#include "core/cl_error.h"
#include "core/cl_mem.h"

#include <stdio.h>
#include <string.h>
#include <sys/uio.h>

struct cl_ingest {
	struct cl_blog *log;
	struct cl_dedupe *dedupe;
	struct cl_ingest_options o;
	struct cl_ingest_counters c;
};

void cl_ingest_options_default(struct cl_ingest_options *o)
{
	cl_event_limits_default(&o->limits);
	o->max_events = 100000;
	o->max_rejections = 100;
}

int cl_ingest_create(struct cl_blog *log, struct cl_dedupe *dedupe,
		     const struct cl_ingest_options *o, struct cl_ingest **out)
{
	struct cl_ingest *ing = cl_calloc(1, sizeof(*ing));

	if (!ing)
		return cl_error_set(CL_ENOMEM, "no memory for ingest");
	ing->log = log;
	ing->dedupe = dedupe;
	ing->o = *o;
	*out = ing;
	return CL_OK;
}

void cl_ingest_destroy(struct cl_ingest *ing)
{
	cl_free(ing);
}

const struct cl_ingest_counters *cl_ingest_counters(const struct cl_ingest *ing)
{
	return &ing->c;
}

struct cl_blog *cl_ingest_log(struct cl_ingest *ing)
{
	return ing->log;
}

void cl_ingest_result_init(struct cl_ingest_result *r)
{
	memset(r, 0, sizeof(*r));
	cl_json_doc_init(&r->doc);
}

void cl_ingest_result_free(struct cl_ingest_result *r)
{
	cl_free(r->rejected);
	cl_free(r->ids);
	cl_json_doc_free(&r->doc);
	memset(r, 0, sizeof(*r));
}

static void reject(struct cl_ingest *ing, struct cl_ingest_result *r,
		   uint32_t index, const char *why)
{
	r->nrejected++;
	if (r->nlisted >= ing->o.max_rejections)
		return;
	if (!r->rejected) {
		r->rejected = cl_calloc(ing->o.max_rejections, sizeof(*r->rejected));
		if (!r->rejected)
			return;
	}
	r->rejected[r->nlisted].index = index;
	snprintf(r->rejected[r->nlisted].error, sizeof(r->rejected[0].error), "%s", why);
	r->nlisted++;
}

static int remember_id(struct cl_ingest_result *r, const char *id)
{
	size_t n = strlen(id) + 1;

	if (r->ids_len + n > r->ids_cap) {
		size_t nc = r->ids_cap ? r->ids_cap * 2 : 4096;
		char *p;

		while (nc < r->ids_len + n)
			nc *= 2;
		p = cl_realloc(r->ids, nc);
		if (!p)
			return CL_ENOMEM;
		r->ids = p;
		r->ids_cap = nc;
	}
	memcpy(r->ids + r->ids_len, id, n);
	r->ids_len += n;
	return CL_OK;
}

void cl_ingest_forget(struct cl_ingest *ing, struct cl_ingest_result *r)
{
	for (size_t i = 0; i < r->ids_len;) {
		size_t n = strlen(r->ids + i);

		cl_dedupe_remove(ing->dedupe, r->ids + i, n);
		i += n + 1;
	}
	r->ids_len = 0;
}

/* A growing list of the raw slices to store. */
struct slices {
	struct iovec *v;
	size_t n, cap;
};

static int add_slice(struct slices *s, const char *p, size_t len)
{
	if (s->n == s->cap) {
		size_t nc = s->cap ? s->cap * 2 : 64;
		void *nv = cl_realloc(s->v, nc * sizeof(*s->v));

		if (!nv)
			return CL_ENOMEM;
		s->v = nv;
		s->cap = nc;
	}
	s->v[s->n].iov_base = (void *)p;
	s->v[s->n].iov_len = len;
	s->n++;
	return CL_OK;
}

/* Validates the object at token i of r->doc as event number index. */
static int one_event(struct cl_ingest *ing, struct cl_ingest_result *r, uint32_t i,
		     uint32_t index, int64_t now_us, struct slices *out)
{
	const struct cl_json_tok *t = &r->doc.toks[i];
	struct cl_event ev;

	r->events++;
	if (r->events > ing->o.max_events)
		return cl_error_set(CL_ETOOBIG, "more than %u events in one body",
				    ing->o.max_events);
	if (cl_event_parse(&r->doc, i, now_us, &ing->o.limits, &ev) != CL_OK) {
		reject(ing, r, index, cl_error_detail());
		return CL_OK;
	}
	if (ev.id[0]) {
		if (!cl_dedupe_insert(ing->dedupe, ev.id, strlen(ev.id))) {
			r->duplicates++;
			return CL_OK;
		}
		if (remember_id(r, ev.id) != CL_OK) {
			cl_dedupe_remove(ing->dedupe, ev.id, strlen(ev.id));
			return cl_error_set(CL_ENOMEM, "no memory for event ids");
		}
	}
	if (add_slice(out, r->doc.src + t->start, t->len) != CL_OK)
		return cl_error_set(CL_ENOMEM, "no memory for events");
	r->accepted++;
	return CL_OK;
}

static size_t skip_ws(const char *s, size_t i, size_t n)
{
	while (i < n && (s[i] == ' ' || s[i] == '\t' || s[i] == '\r' || s[i] == '\n'))
		i++;
	return i;
}

int cl_ingest_body(struct cl_ingest *ing, const char *body, size_t len,
		   int64_t now_us, int flags, struct cl_ingest_result *r)
{
	struct slices sl = { 0 };
	size_t start = skip_ws(body, 0, len);
	int rc = CL_OK;

	atomic_fetch_add(&ing->c.bodies, 1);
	if (start == len)
		return cl_error_set(CL_EPARSE, "the body is empty: send a JSON event, an array of events or NDJSON");
	if (cl_json_parse(&r->doc, body, len) == CL_OK) {
		const struct cl_json_tok *root = &r->doc.toks[0];

		if (root->type == CL_JSON_ARRAY) {
			uint32_t e = 1;

			for (uint32_t k = 0; k < root->size && rc == CL_OK; k++) {
				rc = one_event(ing, r, e, k, now_us, &sl);
				e = r->doc.toks[e].next;
			}
		} else {
			rc = one_event(ing, r, 0, 0, now_us, &sl);
		}
	} else if (body[start] != '[' && memchr(body + start, '\n', len - start)) {
		/* NDJSON: one event per non-empty line */
		char first_err[160];
		uint32_t index = 0, parsed = 0;
		size_t pos = 0;

		snprintf(first_err, sizeof(first_err), "%s", r->doc.err);
		while (pos < len && rc == CL_OK) {
			const char *nl = memchr(body + pos, '\n', len - pos);
			size_t end = nl ? (size_t)(nl - body) : len;
			size_t s = skip_ws(body, pos, end);

			if (s < end) {
				if (cl_json_parse(&r->doc, body + s, end - s) == CL_OK) {
					parsed++;
					rc = one_event(ing, r, 0, index, now_us, &sl);
				} else {
					char why[200];

					r->events++;
					snprintf(why, sizeof(why), "line is not JSON: %s", r->doc.err);
					reject(ing, r, index, why);
				}
				index++;
			}
			pos = end + 1;
		}
		if (parsed == 0 && rc == CL_OK) {
			rc = cl_error_set(CL_EPARSE, "the body is not JSON or NDJSON: %s", first_err);
		}
	} else {
		rc = cl_error_set(CL_EPARSE, "the body is not JSON: %s", r->doc.err);
	}
	if (rc == CL_OK && sl.n > 0) {
		rc = cl_blog_submitv(ing->log, sl.v, sl.n, flags, &r->first, &r->last);
		if (rc == CL_OK)
			r->queued = 1;
		else if (rc == CL_EBUSY)
			atomic_fetch_add(&ing->c.busy, 1);
	}
	if (rc != CL_OK) {
		char msg[512];

		snprintf(msg, sizeof(msg), "%s", cl_error_detail());
		cl_ingest_forget(ing, r);
		r->accepted = 0;
		cl_free(sl.v);
		return cl_error_set(rc, "%s", msg);
	}
	cl_free(sl.v);
	atomic_fetch_add(&ing->c.events, r->events);
	atomic_fetch_add(&ing->c.accepted, r->accepted);
	atomic_fetch_add(&ing->c.duplicates, r->duplicates);
	atomic_fetch_add(&ing->c.rejected, r->nrejected);
	return CL_OK;
}
