/*
 * Device-event ingest. See cl_ingest.h.
 *
 * Shape detection: a body starting with '[' is an array of events; any
 * other body is first parsed as one JSON value, and if that fails and it
 * has several lines, as NDJSON, one event per non-empty line (a bad line
 * is then one rejection, not a failed body).
 */
#include "cl_ingest.h"
#include "core/cl_config.h"
#include "core/cl_error.h"
#include "core/cl_mem.h"
#include "fhir/cl_fhir_obs.h"

#include <sodium.h>

#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>
#include <sys/uio.h>

struct cl_ingest {
	struct cl_blog *log;
	struct cl_blog *backlog;        /* NULL: none (cl_ingest_set_backlog) */
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

void cl_ingest_set_backlog(struct cl_ingest *ing, struct cl_blog *backlog)
{
	ing->backlog = backlog;
}

struct cl_blog *cl_ingest_backlog(struct cl_ingest *ing)
{
	return ing->backlog;
}

void cl_ingest_result_init(struct cl_ingest_result *r)
{
	memset(r, 0, sizeof(*r));
	cl_json_doc_init(&r->doc);
}

void cl_ingest_result_free(struct cl_ingest_result *r)
{
	cl_free(r->items);
	cl_free(r->rejected);
	cl_free(r->ids);
	cl_free(r->bids);
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

/* Adds id to a NUL-separated list. */
static int list_add(char **list, size_t *len, size_t *cap, const char *id)
{
	size_t n = strlen(id) + 1;

	if (*len + n > *cap) {
		size_t nc = *cap ? *cap * 2 : 4096;
		char *p;

		while (nc < *len + n)
			nc *= 2;
		p = cl_realloc(*list, nc);
		if (!p)
			return CL_ENOMEM;
		*list = p;
		*cap = nc;
	}
	memcpy(*list + *len, id, n);
	*len += n;
	return CL_OK;
}

static int remember_id(struct cl_ingest_result *r, const char *id)
{
	return list_add(&r->ids, &r->ids_len, &r->ids_cap, id);
}

int cl_ingest_seen(struct cl_ingest *ing, const char *id, size_t len)
{
	return cl_dedupe_has(ing->dedupe, id, len);
}

int cl_ingest_recall(struct cl_dedupe *dedupe, struct cl_json_doc *doc, const char *raw,
		     size_t len, int fhir)
{
	char id[CL_EVENT_ID_MAX + 1], key[160];
	int i;

	if (cl_json_parse(doc, raw, len) != CL_OK)
		return 0;
	/* the FHIR log holds Observations from POST /fhir and transaction
	 * Bundles from the REST writes: only the first are ingest's to know */
	if (fhir && doc->toks[0].type == CL_JSON_OBJECT &&
	    ((i = cl_json_get(doc, 0, "resourceType")) < 0 ||
	     !cl_json_str_eq(doc, (uint32_t)i, "Observation")))
		return 0;
	i = cl_json_get(doc, 0, "id");
	if (i < 0 || cl_json_str(doc, (uint32_t)i, id, sizeof(id)) <= 0)
		id[0] = '\0';
	if (fhir)
		cl_ingest_fhir_key(id, raw, len, key, sizeof(key));
	else if (id[0])
		snprintf(key, sizeof(key), "%s", id);
	else
		return 0;
	cl_dedupe_insert(dedupe, key, strlen(key), cl_json_hash(doc, 0));
	return 1;
}

static void forget_list(struct cl_ingest *ing, const char *list, size_t len)
{
	for (size_t i = 0; i < len;) {
		size_t n = strlen(list + i);

		cl_dedupe_remove(ing->dedupe, list + i, n);
		i += n + 1;
	}
}

/* Gives back the ids of one lane's events, so a retry stores them. */
static void give_back(struct cl_ingest *ing, struct cl_ingest_result *r, int backlog)
{
	if (backlog) {
		forget_list(ing, r->bids, r->bids_len);
		r->bids_len = 0;
	} else {
		forget_list(ing, r->ids, r->ids_len);
		r->ids_len = 0;
	}
}

void cl_ingest_forget_lane(struct cl_ingest *ing, struct cl_ingest_result *r, int backlog)
{
	uint32_t n = backlog ? r->baccepted : r->accepted - r->baccepted;

	/* they were counted as accepted when queued: they were not stored */
	atomic_fetch_sub(&ing->c.accepted, n);
	atomic_fetch_add(&ing->c.not_stored, n);
	give_back(ing, r, backlog);
	if (backlog)
		r->baccepted = 0;
	r->accepted -= n;
}

void cl_ingest_forget(struct cl_ingest *ing, struct cl_ingest_result *r)
{
	cl_ingest_forget_lane(ing, r, 1);
	cl_ingest_forget_lane(ing, r, 0);
}

/* A growing list of raw slices to store. */
struct iolist {
	struct iovec *v;
	size_t n, cap;
};

/* The slices to store, by log; the device every event must come from
 * (NULL: any); events before backlog_before go to the backlog log. */
struct slices {
	struct iolist live, old;
	int64_t backlog_before;    /* INT64_MIN: no event does */
	const char *device;
	size_t device_len;
};

static int add_slice(struct iolist *s, const char *p, size_t len)
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

/* Queues the backlog's slices, then the live ones. */
static int submit(struct cl_ingest *ing, struct cl_ingest_result *r, struct slices *sl,
		  int flags)
{
	int rc;

	flags &= ~(CL_INGEST_BACKLOG | CL_INGEST_LIVE_HELD);
	if (sl->old.n > 0) {
		rc = cl_blog_submitv(ing->backlog, sl->old.v, sl->old.n, flags, &r->bfirst,
				     &r->blast);
		if (rc != CL_OK)
			return rc;
		r->bqueued = 1;
	}
	if (sl->live.n == 0)
		return CL_OK;
	rc = cl_blog_submitv(ing->log, sl->live.v, sl->live.n, flags, &r->first, &r->last);
	if (rc == CL_OK)
		r->queued = 1;
	return rc;
}

/*
 * The end of an ingest: if all went well (rc), queues the accepted
 * records (sl) to bronze and counts the body's events; else gives back
 * the ids it took, so that a retry is not called a duplicate. Frees sl.
 */
static int submit_and_count(struct cl_ingest *ing, struct cl_ingest_result *r,
			    struct slices *sl, int flags, int rc)
{
	int tried;

	/* live readings of a bulk body wait while the stream is behind;
	 * nothing of the body is queued, so the retry stores all of it */
	if (rc == CL_OK && (flags & CL_INGEST_LIVE_HELD) && sl->live.n > 0) {
		r->held = 1;
		rc = cl_error_set(CL_EBUSY, "the stream processor is behind: a bulk body with "
				  "current readings waits");
	}
	tried = rc == CL_OK && (sl->live.n > 0 || sl->old.n > 0);

	if (tried) {
		rc = submit(ing, r, sl, flags);
		if (rc == CL_EBUSY)
			atomic_fetch_add(&ing->c.busy, 1);
	}
	cl_free(sl->live.v);
	cl_free(sl->old.v);
	sl->live.v = sl->old.v = NULL;
	if (rc != CL_OK) {
		char msg[512];

		snprintf(msg, sizeof(msg), "%s", cl_error_detail());
		/* nothing was counted yet; what could not be queued is given
		 * back (bronze full: CL_EBUSY, counted as busy; a failed write:
		 * the client is told it was not stored) */
		if (tried && rc != CL_EBUSY)
			atomic_fetch_add(&ing->c.not_stored,
					 r->accepted - (r->bqueued ? r->baccepted : 0));
		give_back(ing, r, 0);
		if (r->bqueued)
			/* the backlog's are queued and will be stored: a retry
			 * of the body calls them duplicates */
			atomic_fetch_add(&ing->c.accepted, r->baccepted);
		else
			give_back(ing, r, 1);
		r->accepted = 0;
		return cl_error_set(rc, "%s", msg);
	}
	atomic_fetch_add(&ing->c.events, r->events);
	atomic_fetch_add(&ing->c.accepted, r->accepted);
	atomic_fetch_add(&ing->c.duplicates, r->duplicates);
	atomic_fetch_add(&ing->c.rejected, r->nrejected);
	return CL_OK;
}

/* Validates the object at token i of r->doc as event number index. */
static int one_event(struct cl_ingest *ing, struct cl_ingest_result *r, uint32_t i,
		     uint32_t index, int64_t now_us, struct slices *out)
{
	const struct cl_json_tok *t = &r->doc.toks[i];
	struct cl_event ev;
	int dup, old;

	r->events++;
	if (r->events > ing->o.max_events)
		return cl_error_set(CL_ETOOBIG, "more than %u events in one body",
				    ing->o.max_events);
	/* {"value":1,"value":500}: which one did the device mean? */
	dup = cl_json_repeated_key(&r->doc, i, t->next);
	if (dup >= 0) {
		char where[64], why[128];

		cl_json_path(&r->doc, i, (uint32_t)dup, where, sizeof(where));
		snprintf(why, sizeof(why), "the key '%s' appears twice: send each field once", where);
		reject(ing, r, index, why);
		return CL_OK;
	}
	if (cl_event_parse(&r->doc, i, now_us, &ing->o.limits, &ev) != CL_OK) {
		reject(ing, r, index, cl_error_detail());
		return CL_OK;
	}
	if (out->device && (strlen(ev.device_id) != out->device_len ||
			    memcmp(ev.device_id, out->device, out->device_len) != 0)) {
		r->wrong_device++;
		reject(ing, r, index, "device_id is not the device this message was sent as");
		return CL_OK;
	}
	/* a device's stored backlog: applied after live readings */
	old = ev.ts_us < out->backlog_before;
	if (ev.id[0]) {
		switch (cl_dedupe_insert(ing->dedupe, ev.id, strlen(ev.id), cl_json_hash(&r->doc, i))) {
		case CL_DEDUPE_REPEAT:
			r->duplicates++;
			return CL_OK;
		case CL_DEDUPE_CONFLICT: {
			char why[200];

			/* not a retry: storing it would make the id name two events */
			snprintf(why, sizeof(why),
				 "id '%.64s' was already used for a different event: not stored "
				 "(a new event needs a new id)", ev.id);
			r->conflicts++;
			reject(ing, r, index, why);
			return CL_OK;
		}
		case CL_DEDUPE_NEW:
			break;
		}
		if ((old ? list_add(&r->bids, &r->bids_len, &r->bids_cap, ev.id)
			 : remember_id(r, ev.id)) != CL_OK) {
			cl_dedupe_remove(ing->dedupe, ev.id, strlen(ev.id));
			return cl_error_set(CL_ENOMEM, "no memory for event ids");
		}
	}
	if (add_slice(old ? &out->old : &out->live, r->doc.src + t->start, t->len) != CL_OK)
		return cl_error_set(CL_ENOMEM, "no memory for events");
	r->accepted++;
	r->baccepted += (uint32_t)old;
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
	return cl_ingest_device_body(ing, NULL, 0, body, len, now_us, flags, r);
}

int cl_ingest_device_body(struct cl_ingest *ing, const char *device, size_t device_len,
			  const char *body, size_t len, int64_t now_us, int flags,
			  struct cl_ingest_result *r)
{
	struct slices sl = { .device = device, .device_len = device_len,
			     .backlog_before = INT64_MIN };
	size_t start = skip_ws(body, 0, len);
	int rc = CL_OK;

	if ((flags & CL_INGEST_BACKLOG) && ing->backlog && ing->o.backlog_after_us > 0)
		sl.backlog_before = now_us - ing->o.backlog_after_us;

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
	return submit_and_count(ing, r, &sl, flags, rc);
}

/* ---- FHIR ---- */

static struct cl_item *new_item(struct cl_ingest_result *r)
{
	struct cl_item *it;

	if (r->nitems % 64 == 0) {
		void *n = cl_realloc(r->items, (r->nitems + 64) * sizeof(*r->items));

		if (!n)
			return NULL;
		r->items = n;
	}
	it = &r->items[r->nitems++];
	memset(it, 0, sizeof(*it));
	return it;
}

void cl_ingest_fhir_key(const char *id, const void *raw, size_t len, char *buf, size_t cap)
{
	unsigned char h[16];
	char hex[33];

	if (id && id[0]) {
		snprintf(buf, cap, "Observation/%s", id);
		return;
	}
	crypto_generichash(h, sizeof(h), raw, len, NULL, 0);
	sodium_bin2hex(hex, sizeof(hex), h, sizeof(h));
	snprintf(buf, cap, "Observation#%s", hex);
}

/* Validates the Observation at token i; on success *key is its
 * idempotency key. */
static int fhir_one(struct cl_ingest *ing, struct cl_ingest_result *r, uint32_t i,
		    int64_t now_us, struct cl_item *it, char *key, size_t cap)
{
	const struct cl_json_tok *t = &r->doc.toks[i];
	struct cl_fhir_obs obs;
	const char *issue;

	r->events++;
	if (cl_fhir_obs_parse(&r->doc, i, now_us, ing->o.limits.max_future_us, &obs,
			      &issue) != CL_OK) {
		it->status = CL_ITEM_REJECTED;
		it->issue = issue;
		snprintf(it->error, sizeof(it->error), "%s", cl_error_detail());
		return CL_EINVAL;
	}
	snprintf(it->id, sizeof(it->id), "%s", obs.id);
	it->nvalues = (uint8_t)obs.nvalues;
	cl_ingest_fhir_key(obs.id, r->doc.src + t->start, t->len, key, cap);
	return CL_OK;
}

/* The Observations of a body that passed validation, to be stored: the
 * token of each, its idempotency key, and its item (an index, since
 * new_item() moves r->items). */
struct fhir_accepted {
	uint32_t *tok;
	char (*keys)[120];
	uint32_t *items;
	uint32_t n;
};

static int accepted_alloc(struct fhir_accepted *acc, uint32_t cap)
{
	acc->tok = cl_malloc(cap * sizeof(*acc->tok));
	acc->keys = cl_malloc(cap * sizeof(*acc->keys));
	acc->items = cl_malloc(cap * sizeof(*acc->items));
	if (!acc->tok || !acc->keys || !acc->items)
		return cl_error_set(CL_ENOMEM, "no memory");
	return CL_OK;
}

static void accepted_free(struct fhir_accepted *acc)
{
	cl_free(acc->tok);
	cl_free(acc->keys);
	cl_free(acc->items);
}

/* A body that is one Observation. 1: rejected (its item says why). */
static int fhir_single(struct cl_ingest *ing, struct cl_ingest_result *r, int64_t now_us,
		       struct fhir_accepted *acc)
{
	struct cl_item *it = new_item(r);
	char key[120];

	if (!it)
		return cl_error_set(CL_ENOMEM, "no memory");
	if (fhir_one(ing, r, 0, now_us, it, key, sizeof(key)) != CL_OK) {
		r->nrejected = 1;
		return 1;
	}
	if (accepted_alloc(acc, 1) != CL_OK)
		return CL_ENOMEM;
	acc->tok[0] = 0;
	snprintf(acc->keys[0], sizeof(acc->keys[0]), "%s", key);
	acc->items[0] = 0;
	acc->n = 1;
	return CL_OK;
}

/* The Bundle's own elements: a Bundle, of a type carelake takes, with
 * entries, not too many. *entry: the entry array's token. */
static int bundle_check(struct cl_ingest *ing, struct cl_ingest_result *r, int *transaction,
			uint32_t *entry)
{
	char type[32];
	int e, rt = cl_json_get(&r->doc, 0, "resourceType"), ty;
	const char *issue;

	if (r->doc.toks[0].type != CL_JSON_OBJECT || rt < 0 ||
	    !cl_json_str_eq(&r->doc, (uint32_t)rt, "Bundle"))
		return cl_error_set(CL_EPARSE, "the body must be a FHIR Bundle resource");
	/* its own elements; each entry's below */
	if (cl_fhir_check(&r->doc, 0, &issue) != CL_OK)
		return cl_error_set(CL_EPARSE, "%s", cl_error_detail());
	ty = cl_json_get(&r->doc, 0, "type");
	if (ty < 0 || cl_json_str(&r->doc, (uint32_t)ty, type, sizeof(type)) < 0 ||
	    (strcmp(type, "transaction") && strcmp(type, "batch") && strcmp(type, "collection")))
		return cl_error_set(CL_EPARSE, "Bundle.type must be transaction, batch or collection");
	*transaction = strcmp(type, "transaction") == 0;
	e = cl_json_get(&r->doc, 0, "entry");
	if (e < 0 || r->doc.toks[e].type != CL_JSON_ARRAY)
		return cl_error_set(CL_EPARSE, "Bundle.entry is required");
	if (r->doc.toks[e].size > ing->o.max_events)
		return cl_error_set(CL_ETOOBIG, "more than %u entries in one Bundle",
				    ing->o.max_events);
	*entry = (uint32_t)e;
	return CL_OK;
}

/* Marks an entry's item rejected with its issue and why. */
static void reject_entry(struct cl_ingest_result *r, struct cl_item *it, const char *issue,
			 const char *fmt, ...) __attribute__((format(printf, 4, 5)));

static void reject_entry(struct cl_ingest_result *r, struct cl_item *it, const char *issue,
			 const char *fmt, ...)
{
	va_list ap;

	r->events++;
	it->status = CL_ITEM_REJECTED;
	it->issue = issue;
	va_start(ap, fmt);
	vsnprintf(it->error, sizeof(it->error), fmt, ap);
	va_end(ap);
	r->nrejected++;
}

/* Entry k (token ent) of a Bundle: an Observation to store (added to acc)
 * or a rejected item. CL_ENOMEM only. */
static int bundle_entry(struct cl_ingest *ing, struct cl_ingest_result *r, uint32_t ent,
			uint32_t k, int64_t now_us, struct fhir_accepted *acc)
{
	struct cl_item *it = new_item(r);
	int obj = r->doc.toks[ent].type == CL_JSON_OBJECT;
	int res = obj ? cl_json_get(&r->doc, ent, "resource") : -1;
	int req = obj ? cl_json_get(&r->doc, ent, "request") : -1;
	const char *issue;

	if (!it)
		return cl_error_set(CL_ENOMEM, "no memory");
	if (cl_fhir_check_entry(&r->doc, ent, k, &issue) != CL_OK) {
		reject_entry(r, it, issue, "%s", cl_error_detail());
		return CL_OK;
	}
	if (req >= 0) {
		int m = cl_json_get(&r->doc, (uint32_t)req, "method");

		if (m < 0 || !(cl_json_str_eq(&r->doc, (uint32_t)m, "POST") ||
			       cl_json_str_eq(&r->doc, (uint32_t)m, "PUT"))) {
			reject_entry(r, it, "not-supported",
				     "entry %u: only POST or PUT of an Observation is supported here", k);
			return CL_OK;
		}
	}
	if (res < 0) {
		reject_entry(r, it, CL_FHIR_ISSUE_REQUIRED, "entry %u has no resource", k);
		return CL_OK;
	}
	if (fhir_one(ing, r, (uint32_t)res, now_us, it, acc->keys[acc->n],
		     sizeof(acc->keys[0])) != CL_OK) {
		char tmp[sizeof(it->error) + 32];

		if (snprintf(tmp, sizeof(tmp), "entry %u: %s", k, it->error) < 0)
			tmp[0] = '\0';
		memcpy(it->error, tmp, sizeof(it->error) - 1);
		it->error[sizeof(it->error) - 1] = '\0';
		r->nrejected++;
		return CL_OK;
	}
	acc->tok[acc->n] = (uint32_t)res;
	acc->items[acc->n++] = (uint32_t)(it - r->items);
	return CL_OK;
}

/* A Bundle: each entry validated on its own. */
static int fhir_bundle(struct cl_ingest *ing, struct cl_ingest_result *r, uint32_t e,
		       int64_t now_us, struct fhir_accepted *acc)
{
	uint32_t k, ent;
	int rc = accepted_alloc(acc, r->doc.toks[e].size ? r->doc.toks[e].size : 1);

	for (k = 0, ent = e + 1; rc == CL_OK && k < r->doc.toks[e].size;
	     k++, ent = r->doc.toks[ent].next)
		rc = bundle_entry(ing, r, ent, k, now_us, acc);
	return rc;
}

/* An accepted Observation the idempotency set has seen with another
 * content: not a retry, so not stored (storing it would make the id name
 * two Observations; items are one per entry, in order). */
static void conflict_item(struct cl_ingest_result *r, const struct fhir_accepted *acc,
			  uint32_t a, int bundle)
{
	struct cl_item *it = &r->items[acc->items[a]];
	char where[24] = "";

	if (bundle)
		snprintf(where, sizeof(where), "entry %u: ", acc->items[a]);
	it->status = CL_ITEM_CONFLICT;
	it->issue = "conflict";
	snprintf(it->error, sizeof(it->error),
		 "%s%.80s was already stored with a different content: not stored "
		 "(a changed Observation needs a new id)", where, acc->keys[a]);
	r->conflicts++;
	r->nrejected++;
}

/* Each accepted Observation through the idempotency set: new ones to sl,
 * repeats counted as duplicates, conflicts refused. CL_ENOMEM only. */
static int fhir_dedupe(struct cl_ingest *ing, struct cl_ingest_result *r,
		       const struct fhir_accepted *acc, int bundle, struct slices *sl)
{
	for (uint32_t a = 0; a < acc->n; a++) {
		const struct cl_json_tok *t = &r->doc.toks[acc->tok[a]];
		struct cl_item *it = &r->items[acc->items[a]];
		const char *key = acc->keys[a];
		enum cl_dedupe_seen seen = cl_dedupe_insert(ing->dedupe, key, strlen(key),
							    cl_json_hash(&r->doc, acc->tok[a]));

		if (seen == CL_DEDUPE_REPEAT) {
			it->status = CL_ITEM_DUPLICATE;
			r->duplicates++;
			continue;
		}
		if (seen == CL_DEDUPE_CONFLICT) {
			conflict_item(r, acc, a, bundle);
			continue;
		}
		if (remember_id(r, key) != CL_OK ||
		    add_slice(&sl->live, r->doc.src + t->start, t->len) != CL_OK) {
			cl_dedupe_remove(ing->dedupe, key, strlen(key));
			return cl_error_set(CL_ENOMEM, "no memory");
		}
		it->status = CL_ITEM_ACCEPTED;
		r->accepted++;
	}
	return CL_OK;
}

int cl_ingest_fhir(struct cl_ingest *ing, const char *body, size_t len,
		   int64_t now_us, int flags, int bundle, struct cl_ingest_result *r)
{
	struct slices sl = { .backlog_before = INT64_MIN };
	struct fhir_accepted acc = { 0 };
	uint32_t entry = 0;
	int transaction = 0, rc;

	atomic_fetch_add(&ing->c.bodies, 1);
	if (cl_json_parse(&r->doc, body, len) != CL_OK)
		return cl_error_set(CL_EPARSE, "the body is not JSON: %s", r->doc.err);
	if (!bundle) {
		rc = fhir_single(ing, r, now_us, &acc);
		if (rc == 1)
			return CL_OK; /* rejected, as its item says */
	} else {
		rc = bundle_check(ing, r, &transaction, &entry);
		if (rc)
			return rc;
		rc = fhir_bundle(ing, r, entry, now_us, &acc);
	}
	if (rc == CL_OK && transaction && r->nrejected > 0)
		r->transaction_failed = 1; /* all or nothing */
	else if (rc == CL_OK)
		rc = fhir_dedupe(ing, r, &acc, bundle, &sl);
	if (rc == CL_OK && transaction && r->conflicts > 0) {
		/* all or nothing: what this one took, it gives back */
		cl_ingest_forget(ing, r);
		r->accepted = r->duplicates = 0;
		r->transaction_failed = 1;
		sl.live.n = 0;
	}
	accepted_free(&acc);
	return submit_and_count(ing, r, &sl, flags, rc);
}

#define SEC 1000000ll
#define F(field) offsetof(struct cl_ingest_settings, field)

static const struct cl_config_entry ingest_entries[] = {
	{ "max_future", CL_CFG_DURATION, "5m", 0, 86400 * SEC, F(max_future_us),
	  "events timestamped further ahead of arrival than this are rejected", NULL },
	{ "max_events", CL_CFG_U32, "100000", 1, 10000000, F(max_events),
	  "most events in one request body", NULL },
	{ "backlog_after", CL_CFG_DURATION, "5m", 0, 365 * 86400 * SEC, F(backlog_after_us),
	  "device events posted over HTTP that are older than this on arrival (a device's "
	  "stored backlog) go to the bronze source vitals-backlog, which the stream processor "
	  "applies after live readings, so a backlog never holds up a live alert; 0: all go to "
	  "vitals", NULL },
	{ "dedupe_ids", CL_CFG_U32, "1000000", 1000, 100000000, F(dedupe_ids),
	  "how many recent event ids are remembered, with their content, to answer retries as "
	  "duplicates and reused ids as conflicts (about 50 bytes each)", NULL },
	{ "inputs", CL_CFG_STRING, "events,fhir,mqtt,kafka,kafka_fhir", 0, 0, F(inputs),
	  "the inputs serve starts, by name: events and fhir (over HTTP), mqtt (when "
	  "mqtt.broker is set), kafka and kafka_fhir (when kafka.brokers and kafka.topics or "
	  "kafka.fhir_topics are set), synthetic (simulated vitals, no HTTP)", NULL },
};

const struct cl_config_section cl_ingest_section = {
	.name = "ingest",
	.entries = ingest_entries,
	.nentries = sizeof(ingest_entries) / sizeof(ingest_entries[0]),
	.size = sizeof(struct cl_ingest_settings),
};

const struct cl_ingest_settings *cl_ingest_settings(const struct cl_config *c)
{
	return cl_config_get(c, &cl_ingest_section);
}

void cl_ingest_options_from_config(struct cl_ingest_options *o, const struct cl_config *c)
{
	const struct cl_ingest_settings *is = cl_ingest_settings(c);

	cl_ingest_options_default(o);
	o->limits.max_future_us = is->max_future_us;
	o->max_events = is->max_events;
	o->backlog_after_us = is->backlog_after_us;
}
