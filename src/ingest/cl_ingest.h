/*
 * Device-event ingest: one request body (a JSON object, a JSON array of
 * objects, or NDJSON) in; each event validated, normalised and checked for
 * a repeated id (the same event again: a duplicate; a different one under
 * an id already used: a conflict, rejected); the accepted ones queued to
 * the bronze log of source "vitals" exactly as they were sent. The caller waits for (or is told
 * about) the commit of result->last before answering, so an answer always
 * means durable. Used by the HTTP endpoint and the MQTT input alike.
 */
#ifndef CL_INGEST_H
#define CL_INGEST_H

#include "bronze/cl_blog.h"
#include "core/cl_config.h"
#include "ingest/cl_dedupe.h"
#include "json/cl_json.h"
#include "ingest/cl_event.h"

#include <stdatomic.h>
#include <stdint.h>

struct cl_ingest_options {
	struct cl_event_limits limits;
	uint32_t max_events;       /* most events in one body */
	uint32_t max_rejections;   /* rejections listed (all are counted) */
	/* with CL_INGEST_BACKLOG and a backlog log: events older than this
	 * on arrival go to that log; 0: none do */
	int64_t backlog_after_us;
};

/* A flag of cl_ingest_body and cl_ingest_device_body, beside the
 * CL_BLOG_* ones: events older than backlog_after_us on arrival (a
 * device's stored backlog) are queued to the backlog log
 * (cl_ingest_set_backlog), so that the stream applies them after live
 * readings; r->bfirst..r->blast then say which of its commits to wait
 * for too. Only for callers that wait on both logs (the HTTP endpoint). */
#define CL_INGEST_BACKLOG 0x100

/* Beside CL_INGEST_BACKLOG: the live log takes nothing of this body (a
 * bulk body while the stream is behind). A body with any accepted event
 * for the live log is then not queued at all: CL_EBUSY with r->held set,
 * its ids given back; one whose events all go to the backlog log is
 * taken. */
#define CL_INGEST_LIVE_HELD 0x200

/* Running totals, for /metrics. */
struct cl_ingest_counters {
	atomic_uint_fast64_t bodies, events, accepted, duplicates, rejected;
	atomic_uint_fast64_t busy;  /* bodies refused because bronze was full */
	atomic_uint_fast64_t not_stored; /* accepted, then their commit failed */
};

struct cl_rejection {
	uint32_t index;        /* position of the event in the body */
	char error[200];
};

/* What happened to one item (FHIR ingest keeps one per entry). */
enum cl_item_status {
	CL_ITEM_ACCEPTED, CL_ITEM_DUPLICATE, CL_ITEM_REJECTED, CL_ITEM_SKIPPED,
	CL_ITEM_CONFLICT,   /* its id was stored before with a different content */
};

struct cl_item {
	uint8_t status;          /* enum cl_item_status */
	uint8_t nvalues;         /* vital values found (FHIR) */
	char id[65];             /* Observation id, if any */
	const char *issue;       /* OperationOutcome code when rejected */
	char error[200];
};

struct cl_ingest_result {
	uint32_t events, accepted, duplicates, nrejected;
	uint32_t wrong_device;           /* of nrejected: another device's events */
	uint32_t conflicts;              /* of nrejected: an id reused for another content */
	struct cl_item *items;           /* FHIR: one per entry */
	uint32_t nitems;
	int transaction_failed;          /* FHIR transaction: nothing stored */
	struct cl_rejection *rejected;   /* the first max_rejections */
	uint32_t nlisted;
	int queued;                      /* 1 if first/last are valid */
	struct cl_blog_ticket first, last;
	/* CL_INGEST_BACKLOG: what went to the backlog log (of accepted) */
	uint32_t baccepted;
	int bqueued;                     /* 1 if bfirst/blast are valid */
	struct cl_blog_ticket bfirst, blast;
	int held;                        /* CL_INGEST_LIVE_HELD refused the body */
	char *ids;                       /* accepted ids, NUL-separated */
	size_t ids_len, ids_cap;
	char *bids;                      /* ...of those in the backlog log */
	size_t bids_len, bids_cap;
	struct cl_json_doc doc;
};

struct cl_ingest;

/* The ingest.* settings: what every input's records are checked against. */
struct cl_ingest_settings {
	int64_t max_future_us;          /* ingest.max_future */
	uint32_t max_events;            /* ingest.max_events */
	uint32_t dedupe_ids;            /* ingest.dedupe_ids */
	int64_t backlog_after_us;       /* ingest.backlog_after */
	char inputs[CL_CFG_STRING_MAX]; /* ingest.inputs */
};

extern const struct cl_config_section cl_ingest_section;
const struct cl_ingest_settings *cl_ingest_settings(const struct cl_config *c);

/* The options c's ingest.* settings give. */
void cl_ingest_options_from_config(struct cl_ingest_options *o, const struct cl_config *c);

int cl_ingest_create(struct cl_blog *log, struct cl_dedupe *dedupe,
		     const struct cl_ingest_options *o, struct cl_ingest **out);
void cl_ingest_destroy(struct cl_ingest *ing);

/* The log that events older than o->backlog_after_us go to under
 * CL_INGEST_BACKLOG (source vitals-backlog); NULL: none. */
void cl_ingest_set_backlog(struct cl_ingest *ing, struct cl_blog *backlog);
struct cl_blog *cl_ingest_backlog(struct cl_ingest *ing);
void cl_ingest_options_default(struct cl_ingest_options *o);

void cl_ingest_result_init(struct cl_ingest_result *r);
void cl_ingest_result_free(struct cl_ingest_result *r);

/*
 * Validates body and queues its accepted events. Returns 0 (see r for the
 * counts; r->queued says whether anything must be waited for), CL_EPARSE
 * when the body is not JSON at all, CL_ETOOBIG for more than max_events,
 * or CL_EBUSY when bronze cannot take more now (nothing queued; the
 * caller answers 503 and the client retries). flags: CL_BLOG_NOWAIT.
 */
int cl_ingest_body(struct cl_ingest *ing, const char *body, size_t len,
		   int64_t now_us, int flags, struct cl_ingest_result *r);

/*
 * As cl_ingest_body, for a transport that vouches for the device sending
 * (the device level of an MQTT topic): an event whose device_id is not
 * `device` (device_len bytes) is rejected, counted in r->wrong_device as
 * well as r->nrejected, and never stored; the body's other events are
 * taken as usual. device NULL checks nothing.
 */
int cl_ingest_device_body(struct cl_ingest *ing, const char *device, size_t device_len,
			  const char *body, size_t len, int64_t now_us, int flags,
			  struct cl_ingest_result *r);

/*
 * FHIR ingest into this ingest's log (source "fhir"): an Observation
 * (bundle = 0) or a Bundle of type transaction, batch or collection whose
 * entries are Observations (bundle = 1). Each Observation is stored raw,
 * as sent; its id (or a hash of its bytes) makes retries idempotent. A
 * transaction with any invalid entry, or any reusing an id for another
 * content, stores nothing (transaction_failed).
 * Returns like cl_ingest_body; r->items says what became of each entry.
 */
int cl_ingest_fhir(struct cl_ingest *ing, const char *body, size_t len,
		   int64_t now_us, int flags, int bundle, struct cl_ingest_result *r);

/* The idempotency key of a stored Observation: "Observation/<id>", or
 * for one without an id a hash of its bytes ("Observation#<hex>"). */
void cl_ingest_fhir_key(const char *id, const void *raw, size_t len, char *buf, size_t cap);

/*
 * Remembers a record stored earlier (as read back from bronze after a
 * restart) in dedupe as ingest remembered it: a device event by its id
 * (fhir = 0; none without one), an Observation by cl_ingest_fhir_key
 * (fhir = 1), each with its content's hash. doc is scratch. Returns 1 if
 * it was remembered.
 */
int cl_ingest_recall(struct cl_dedupe *dedupe, struct cl_json_doc *doc, const char *raw,
		     size_t len, int fhir);

/* After the commit of r->last failed: forgets r's ids so a retry of the
 * same events is not mistaken for a duplicate. */
void cl_ingest_forget(struct cl_ingest *ing, struct cl_ingest_result *r);

/* As cl_ingest_forget, for the events of one log only (backlog: those
 * of r->bfirst..r->blast; else the others), when only its commit failed:
 * the other's events are stored, and a retry calls them duplicates. */
void cl_ingest_forget_lane(struct cl_ingest *ing, struct cl_ingest_result *r, int backlog);

/* 1 if an event id is remembered as stored (by this source's idempotency
 * set), else 0. */
int cl_ingest_seen(struct cl_ingest *ing, const char *id, size_t len);

/* The running totals. */
const struct cl_ingest_counters *cl_ingest_counters(const struct cl_ingest *ing);

/* The bronze log events go to. */
struct cl_blog *cl_ingest_log(struct cl_ingest *ing);

#endif
