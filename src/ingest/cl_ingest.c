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

#include <stddef.h>
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
	cl_free(r->items);
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

int cl_ingest_recall(struct cl_dedupe *dedupe, struct cl_json_doc *doc, const char *raw,
		     size_t len, int fhir)
{
	char id[CL_EVENT_ID_MAX + 1], key[160];
	int i;

	if (cl_json_parse(doc, raw, len) != CL_OK)
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

void cl_ingest_forget(struct cl_ingest *ing, struct cl_ingest_result *r)
{
	/* they were counted as accepted when queued: they were not stored */
	atomic_fetch_sub(&ing->c.accepted, r->accepted);
	atomic_fetch_add(&ing->c.not_stored, r->accepted);
	for (size_t i = 0; i < r->ids_len;) {
		size_t n = strlen(r->ids + i);

		cl_dedupe_remove(ing->dedupe, r->ids + i, n);
		i += n + 1;
	}
	r->ids_len = 0;
}

/* A growing list of the raw slices to store, and the device every event
 * must come from (NULL: any). */
struct slices {
	struct iovec *v;
	size_t n, cap;
	const char *device;
	size_t device_len;
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
	int dup;

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
	return cl_ingest_device_body(ing, NULL, 0, body, len, now_us, flags, r);
}

int cl_ingest_device_body(struct cl_ingest *ing, const char *device, size_t device_len,
			  const char *body, size_t len, int64_t now_us, int flags,
			  struct cl_ingest_result *r)
{
	struct slices sl = { .device = device, .device_len = device_len };
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

int cl_ingest_fhir(struct cl_ingest *ing, const char *body, size_t len,
		   int64_t now_us, int flags, int bundle, struct cl_ingest_result *r)
{
	struct slices sl = { 0 };
	uint32_t *accept_tok = NULL;   /* token of each Observation to store */
	char (*keys)[120] = NULL;
	/* the item of each: an index, since new_item() moves r->items */
	uint32_t *acc_items = NULL;
	uint32_t nacc = 0, cap = 0;
	int transaction = 0, rc = CL_OK;

	atomic_fetch_add(&ing->c.bodies, 1);
	if (cl_json_parse(&r->doc, body, len) != CL_OK)
		return cl_error_set(CL_EPARSE, "the body is not JSON: %s", r->doc.err);
	if (!bundle) {
		struct cl_item *it = new_item(r);
		char key[120];

		if (!it)
			return cl_error_set(CL_ENOMEM, "no memory");
		if (fhir_one(ing, r, 0, now_us, it, key, sizeof(key)) != CL_OK) {
			r->nrejected = 1;
			return CL_OK;
		}
		accept_tok = cl_malloc(sizeof(*accept_tok));
		keys = cl_malloc(sizeof(*keys));
		acc_items = cl_malloc(sizeof(*acc_items));
		if (!accept_tok || !keys || !acc_items) {
			rc = cl_error_set(CL_ENOMEM, "no memory");
			goto out;
		}
		accept_tok[0] = 0;
		snprintf(keys[0], sizeof(keys[0]), "%s", key);
		acc_items[0] = 0;
		nacc = 1;
	} else {
		char type[32];
		int e, rt = cl_json_get(&r->doc, 0, "resourceType"), ty;
		uint32_t k, ent;
		const char *issue;

		if (r->doc.toks[0].type != CL_JSON_OBJECT || rt < 0 ||
		    !cl_json_str_eq(&r->doc, (uint32_t)rt, "Bundle"))
			return cl_error_set(CL_EPARSE, "the body must be a FHIR Bundle resource");
		/* its own elements; each entry's below */
		if (cl_fhir_check(&r->doc, 0, &issue) != CL_OK)
			return cl_error_set(CL_EPARSE, "%s", cl_error_detail());
		ty = cl_json_get(&r->doc, 0, "type");
		if (ty < 0 || cl_json_str(&r->doc, (uint32_t)ty, type, sizeof(type)) < 0 ||
		    (strcmp(type, "transaction") && strcmp(type, "batch") &&
		     strcmp(type, "collection")))
			return cl_error_set(CL_EPARSE,
					    "Bundle.type must be transaction, batch or collection");
		transaction = strcmp(type, "transaction") == 0;
		e = cl_json_get(&r->doc, 0, "entry");
		if (e < 0 || r->doc.toks[e].type != CL_JSON_ARRAY)
			return cl_error_set(CL_EPARSE, "Bundle.entry is required");
		if (r->doc.toks[e].size > ing->o.max_events)
			return cl_error_set(CL_ETOOBIG, "more than %u entries in one Bundle",
					    ing->o.max_events);
		cap = r->doc.toks[e].size ? r->doc.toks[e].size : 1;
		accept_tok = cl_malloc(cap * sizeof(*accept_tok));
		keys = cl_malloc(cap * sizeof(*keys));
		acc_items = cl_malloc(cap * sizeof(*acc_items));
		if (!accept_tok || !keys || !acc_items) {
			rc = cl_error_set(CL_ENOMEM, "no memory");
			goto out;
		}
		for (k = 0, ent = (uint32_t)e + 1; k < r->doc.toks[e].size;
		     k++, ent = r->doc.toks[ent].next) {
			struct cl_item *it = new_item(r);
			int res = r->doc.toks[ent].type == CL_JSON_OBJECT
					  ? cl_json_get(&r->doc, ent, "resource") : -1;
			int req = r->doc.toks[ent].type == CL_JSON_OBJECT
					  ? cl_json_get(&r->doc, ent, "request") : -1;

			if (!it) {
				rc = cl_error_set(CL_ENOMEM, "no memory");
				goto out;
			}
			if (cl_fhir_check_entry(&r->doc, ent, k, &issue) != CL_OK) {
				r->events++;
				it->status = CL_ITEM_REJECTED;
				it->issue = issue;
				snprintf(it->error, sizeof(it->error), "%s", cl_error_detail());
				r->nrejected++;
				continue;
			}
			if (req >= 0) {
				int m = cl_json_get(&r->doc, (uint32_t)req, "method");

				if (m < 0 || !(cl_json_str_eq(&r->doc, (uint32_t)m, "POST") ||
					       cl_json_str_eq(&r->doc, (uint32_t)m, "PUT"))) {
					r->events++;
					it->status = CL_ITEM_REJECTED;
					it->issue = "not-supported";
					snprintf(it->error, sizeof(it->error),
						 "entry %u: only POST or PUT of an Observation is supported here", k);
					r->nrejected++;
					continue;
				}
			}
			if (res < 0) {
				r->events++;
				it->status = CL_ITEM_REJECTED;
				it->issue = CL_FHIR_ISSUE_REQUIRED;
				snprintf(it->error, sizeof(it->error), "entry %u has no resource", k);
				r->nrejected++;
				continue;
			}
			if (fhir_one(ing, r, (uint32_t)res, now_us, it, keys[nacc],
				     sizeof(keys[0])) != CL_OK) {
				char tmp[sizeof(it->error) + 32];

				if (snprintf(tmp, sizeof(tmp), "entry %u: %s", k, it->error) < 0)
					tmp[0] = '\0';
				memcpy(it->error, tmp, sizeof(it->error) - 1);
				it->error[sizeof(it->error) - 1] = '\0';
				r->nrejected++;
				continue;
			}
			accept_tok[nacc] = (uint32_t)res;
			acc_items[nacc++] = (uint32_t)(it - r->items);
		}
		if (transaction && r->nrejected > 0) {
			/* all or nothing */
			r->transaction_failed = 1;
			goto out;
		}
	}
	for (uint32_t a = 0; a < nacc; a++) {
		const struct cl_json_tok *t = &r->doc.toks[accept_tok[a]];
		struct cl_item *it = &r->items[acc_items[a]];
		enum cl_dedupe_seen seen = cl_dedupe_insert(ing->dedupe, keys[a], strlen(keys[a]),
							    cl_json_hash(&r->doc, accept_tok[a]));

		if (seen == CL_DEDUPE_REPEAT) {
			it->status = CL_ITEM_DUPLICATE;
			r->duplicates++;
			continue;
		}
		if (seen == CL_DEDUPE_CONFLICT) {
			char where[24] = "";

			/* not a retry: storing it would make the id name two
			 * Observations (items are one per entry, in order) */
			if (bundle)
				snprintf(where, sizeof(where), "entry %u: ", acc_items[a]);
			it->status = CL_ITEM_CONFLICT;
			it->issue = "conflict";
			snprintf(it->error, sizeof(it->error),
				 "%s%.80s was already stored with a different content: not stored "
				 "(a changed Observation needs a new id)", where, keys[a]);
			r->conflicts++;
			r->nrejected++;
			continue;
		}
		if (remember_id(r, keys[a]) != CL_OK ||
		    add_slice(&sl, r->doc.src + t->start, t->len) != CL_OK) {
			cl_dedupe_remove(ing->dedupe, keys[a], strlen(keys[a]));
			rc = cl_error_set(CL_ENOMEM, "no memory");
			goto out;
		}
		it->status = CL_ITEM_ACCEPTED;
		r->accepted++;
	}
	if (transaction && r->conflicts > 0) {
		/* all or nothing: what this one took, it gives back */
		cl_ingest_forget(ing, r);
		r->accepted = r->duplicates = 0;
		r->transaction_failed = 1;
		sl.n = 0;
	}
	if (sl.n > 0) {
		rc = cl_blog_submitv(ing->log, sl.v, sl.n, flags, &r->first, &r->last);
		if (rc == CL_OK)
			r->queued = 1;
		else if (rc == CL_EBUSY)
			atomic_fetch_add(&ing->c.busy, 1);
	}
out:
	if (rc != CL_OK) {
		char msg[512];

		snprintf(msg, sizeof(msg), "%s", cl_error_detail());
		cl_ingest_forget(ing, r);
		r->accepted = 0;
		rc = cl_error_set(rc, "%s", msg);
	} else {
		atomic_fetch_add(&ing->c.events, r->events);
		atomic_fetch_add(&ing->c.accepted, r->accepted);
		atomic_fetch_add(&ing->c.duplicates, r->duplicates);
		atomic_fetch_add(&ing->c.rejected, r->nrejected);
	}
	cl_free(sl.v);
	cl_free(accept_tok);
	cl_free(keys);
	cl_free(acc_items);
	return rc;
}

#define SEC 1000000ll
#define F(field) offsetof(struct cl_ingest_settings, field)

static const struct cl_config_entry ingest_entries[] = {
	{ "max_future", CL_CFG_DURATION, "5m", 0, 86400 * SEC, F(max_future_us),
	  "events timestamped further ahead of arrival than this are rejected", NULL },
	{ "max_events", CL_CFG_U32, "100000", 1, 10000000, F(max_events),
	  "most events in one request body", NULL },
	{ "dedupe_ids", CL_CFG_U32, "1000000", 1000, 100000000, F(dedupe_ids),
	  "how many recent event ids are remembered, with their content, to answer retries as "
	  "duplicates and reused ids as conflicts (about 50 bytes each)", NULL },
	{ "inputs", CL_CFG_STRING, "events,fhir,mqtt", 0, 0, F(inputs),
	  "the inputs serve starts, by name: events and fhir (over HTTP), mqtt (when "
	  "mqtt.broker is set), synthetic (simulated vitals, no HTTP)", NULL },
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
}
