/*
 * The inputs serve runs: which ones (ingest.inputs), their bronze
 * sources, idempotency sets and ingest, their threads. See cl_input.h.
 */
#include "cl_input.h"
#include "bronze/cl_bronze.h"
#include "bronze/cl_reader.h"
#include "core/cl_error.h"
#include "core/cl_log.h"
#include "core/cl_mem.h"
#include "core/cl_prom.h"
#include "core/cl_time.h"
#include "core/cl_worker.h"

#include <limits.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>

#define KINDS 2
#define INPUTS_MAX 16

/* A bronze source the inputs of one kind store into (device events:
 * with its backlog lane, which shares its idempotency set). */
struct source {
	struct cl_blog *log;
	struct cl_blog *backlog;         /* vitals-backlog; NULL for fhir */
	struct cl_dedupe *dedupe;
};

struct cl_inputs {
	struct source src[KINDS];
	struct cl_input in[INPUTS_MAX];
	int n;
	int running;
};

const struct cl_input_plugin *cl_input_plugin_find(const char *name)
{
	for (size_t i = 0; cl_input_plugins[i]; i++)
		if (strcmp(cl_input_plugins[i]->name, name) == 0)
			return cl_input_plugins[i];
	return NULL;
}

const char *cl_input_kind_source(enum cl_input_kind kind)
{
	return kind == CL_INPUT_FHIR ? "fhir" : "vitals";
}

/*
 * Remembers the idempotency keys of the newest stored records of a source
 * (event ids; for FHIR, Observation ids or hashes), so a client retrying
 * after a restart is still answered "duplicate".
 */
static int rebuild_dedupe(const char *data_dir, const char *source, struct cl_blog *log,
			  struct cl_dedupe *dd, size_t keep, uint32_t record_max, int fhir)
{
	struct cl_blog_reader *r;
	struct cl_json_doc doc;
	struct cl_frame f;
	char dir[PATH_MAX];
	uint64_t end = cl_blog_durable_offset(log), from, n = 0;
	int rc;

	from = end > keep ? end - keep : 0;
	cl_bronze_source_dir(dir, sizeof(dir), data_dir, source);
	rc = cl_blog_reader_open(dir, from, end, record_max, &r);
	if (rc)
		return rc;
	cl_json_doc_init(&doc);
	while ((rc = cl_blog_reader_next(r, &f)) != 0) {
		if (rc < 0) {
			if (rc == CL_ECORRUPT)
				continue;
			break;
		}
		/* its id with its content, so a reused id is still a conflict */
		n += (uint64_t)cl_ingest_recall(dd, &doc, (const char *)f.data, f.len, fhir);
	}
	cl_json_doc_free(&doc);
	cl_blog_reader_close(r);
	cl_log_info("ingest", "event=dedupe_rebuilt source=%s ids=%llu from_offset=%llu", source,
		    (unsigned long long)n, (unsigned long long)from);
	return rc < 0 ? rc : CL_OK;
}

/* Opens a kind's source: its log and its idempotency set. */
static int open_source(struct cl_inputs *set, enum cl_input_kind kind, const struct cl_config *cfg,
		       const char *data_dir, struct cl_bronze *bronze)
{
	struct source *src = &set->src[kind];
	const char *name = cl_input_kind_source(kind);
	uint32_t ids = cl_ingest_settings(cfg)->dedupe_ids;
	/* FHIR posts are fewer and larger than device events */
	size_t keep = kind == CL_INPUT_FHIR ? ids / 4 + 1000 : ids;
	int rc = cl_bronze_log(bronze, name, &src->log);

	if (rc == CL_OK && kind == CL_INPUT_EVENTS)
		rc = cl_bronze_log(bronze, CL_VITALS_BACKLOG_SOURCE, &src->backlog);
	if (rc == CL_OK)
		rc = cl_dedupe_create(keep, &src->dedupe);
	if (rc == CL_OK)
		rc = rebuild_dedupe(data_dir, name, src->log, src->dedupe, keep,
				    cl_bronze_settings(cfg)->record_max_bytes, kind == CL_INPUT_FHIR);
	if (rc == CL_OK && src->backlog)
		rc = rebuild_dedupe(data_dir, CL_VITALS_BACKLOG_SOURCE, src->backlog, src->dedupe,
				    keep, cl_bronze_settings(cfg)->record_max_bytes, 0);
	return rc;
}

/* Adds the input `name`; a plugin whose init says it is not configured
 * is left out. */
static int add_input(struct cl_inputs *set, const char *name, const struct cl_config *cfg,
		     const char *data_dir)
{
	const struct cl_input_plugin *p = cl_input_plugin_find(name);
	struct cl_ingest_options io;
	struct cl_input *in;
	int rc;

	if (!p)
		return cl_error_set(CL_EINVAL, "ingest.inputs names '%s', which is no input plugin", name);
	for (int i = 0; i < set->n; i++)
		if (set->in[i].p == p)
			return cl_error_set(CL_EINVAL, "ingest.inputs names '%s' twice", name);
	if (set->n == INPUTS_MAX)
		return cl_error_set(CL_ERANGE, "ingest.inputs names more than %d inputs", INPUTS_MAX);
	in = &set->in[set->n];
	memset(in, 0, sizeof(*in));
	in->p = p;
	in->cfg = cfg;
	in->data_dir = data_dir;
	in->source = cl_input_kind_source(p->kind);
	in->log = set->src[p->kind].log;
	cl_ingest_options_from_config(&io, cfg);
	rc = cl_ingest_create(in->log, set->src[p->kind].dedupe, &io, &in->ingest);
	if (rc == CL_OK)
		cl_ingest_set_backlog(in->ingest, set->src[p->kind].backlog);
	if (rc == CL_OK && p->cb_init)
		rc = p->cb_init(in, &in->state);
	if (rc == CL_ENOENT) {
		cl_log_info("ingest", "event=input_off input=%s detail=%s", name, CL_LOG_Q(cl_error_detail()));
		cl_ingest_destroy(in->ingest);
		return CL_OK;
	}
	if (rc) {
		cl_ingest_destroy(in->ingest);
		return cl_error_set(rc, "input %s: %s", name, cl_error_detail());
	}
	set->n++;
	return CL_OK;
}

int cl_inputs_open(const struct cl_config *cfg, const char *data_dir, struct cl_bronze *bronze,
		   struct cl_inputs **out)
{
	struct cl_inputs *set = cl_calloc(1, sizeof(*set));
	char list[CL_CFG_STRING_MAX], *save = NULL;
	int rc = CL_OK;

	*out = NULL;
	if (!set)
		return cl_error_set(CL_ENOMEM, "no memory for the inputs");
	for (int k = 0; rc == CL_OK && k < KINDS; k++)
		rc = open_source(set, (enum cl_input_kind)k, cfg, data_dir, bronze);
	snprintf(list, sizeof(list), "%s", cl_ingest_settings(cfg)->inputs);
	for (char *tok = strtok_r(list, ", ", &save); rc == CL_OK && tok;
	     tok = strtok_r(NULL, ", ", &save))
		rc = add_input(set, tok, cfg, data_dir);
	if (rc) {
		cl_inputs_destroy(set);
		return rc;
	}
	*out = set;
	return CL_OK;
}

/* Hands one record of a polled input to its ingest, without waiting:
 * bronze full is CL_EBUSY, and the plugin offers the record again. */
static int emit(void *arg, const void *rec, size_t len)
{
	struct cl_input *in = arg;
	struct cl_ingest_result res;
	int rc;

	cl_ingest_result_init(&res);
	rc = cl_ingest_body(in->ingest, rec, len, cl_time_now_us(), CL_BLOG_NOWAIT, &res);
	cl_ingest_result_free(&res);
	return rc;
}

/* The collector of a polled input: cb_collect every interval_us. */
static void collect_main(struct cl_worker *w, void *arg)
{
	struct cl_input *in = arg;

	while (!cl_worker_wait(w, in->p->interval_us))
		if (in->p->cb_collect(in->state, cl_time_now_us(), emit, in) < 0)
			cl_log_warn("ingest", "event=collect_failed input=%s detail=%s", in->p->name,
				    CL_LOG_Q(cl_error_detail()));
}

void cl_inputs_set_rebuild(struct cl_inputs *set, int (*rebuild)(void *, const void *, size_t),
			   int (*wait)(void *, int64_t), void *arg)
{
	for (int i = 0; i < set->n; i++) {
		if (set->in[i].p->kind != CL_INPUT_EVENTS)
			continue;
		set->in[i].rebuild = rebuild;
		set->in[i].rebuild_wait = wait;
		set->in[i].rebuild_arg = arg;
	}
}

int cl_inputs_run(struct cl_inputs *set)
{
	int rc = CL_OK;

	for (int i = 0; rc == CL_OK && i < set->n; i++) {
		struct cl_input *in = &set->in[i];
		char name[16];

		if (in->p->cb_start)
			rc = in->p->cb_start(in);
		if (rc == CL_OK && in->p->cb_collect) {
			snprintf(name, sizeof(name), "cl-in-%s", in->p->name);
			rc = cl_worker_start(name, collect_main, in, &in->collector);
		}
		if (rc == CL_OK)
			atomic_store_explicit(&in->running, 1, memory_order_release);
		if (rc)
			rc = cl_error_set(rc, "input %s: %s", in->p->name, cl_error_detail());
	}
	set->running = 1;
	if (rc == CL_OK) {
		char names[256];

		cl_inputs_names(set, names, sizeof(names));
		cl_log_info("ingest", "event=inputs_started inputs=\"%s\"", names);
	}
	return rc;
}

struct cl_input *cl_inputs_find(struct cl_inputs *set, const char *name)
{
	for (int i = 0; set && i < set->n; i++)
		if (strcmp(set->in[i].p->name, name) == 0)
			return &set->in[i];
	return NULL;
}

struct cl_blog *cl_inputs_log(struct cl_inputs *set, enum cl_input_kind kind)
{
	return set->src[kind].log;
}

struct cl_blog *cl_inputs_backlog_log(struct cl_inputs *set)
{
	return set->src[CL_INPUT_EVENTS].backlog;
}

/* Its state is whole and may be read from another thread: cb_start has
 * returned and cl_inputs_stop has not begun. */
static int input_running(struct cl_input *in)
{
	return atomic_load_explicit(&in->running, memory_order_acquire);
}

void cl_inputs_on_commit(struct cl_inputs *set, struct cl_blog *log, uint64_t batch)
{
	for (int i = 0; i < set->n; i++)
		if (set->in[i].log == log && set->in[i].p->cb_on_commit && input_running(&set->in[i]))
			set->in[i].p->cb_on_commit(&set->in[i], batch);
}

void cl_inputs_metrics(struct cl_inputs *set, struct cl_prom *p)
{
	static const struct {
		const char *name, *help;
		size_t off;
	} totals[] = {
		{ "carelake_events_received_total",
		  "Device events received (accepted, duplicate or rejected).",
		  offsetof(struct cl_ingest_counters, events) },
		{ "carelake_events_accepted_total", "Device events stored in bronze.",
		  offsetof(struct cl_ingest_counters, accepted) },
		{ "carelake_events_rejected_total", "Device events rejected as invalid.",
		  offsetof(struct cl_ingest_counters, rejected) },
		{ "carelake_events_duplicate_total",
		  "Device events answered as duplicates of an earlier id.",
		  offsetof(struct cl_ingest_counters, duplicates) },
		{ "carelake_ingest_busy_total",
		  "Request bodies refused with 503 because bronze could not keep up.",
		  offsetof(struct cl_ingest_counters, busy) },
		{ "carelake_events_not_stored_total",
		  "Device events accepted but not stored: their commit failed (a full disk, an I/O "
		  "error) and the client was told so (507 or 503).",
		  offsetof(struct cl_ingest_counters, not_stored) },
	};
	static const char *const outcomes[] = { "received", "accepted", "rejected", "duplicate",
						"busy", "not_stored" };

	for (size_t t = 0; t < sizeof(totals) / sizeof(totals[0]); t++) {
		uint64_t sum = 0;

		for (int i = 0; i < set->n; i++)
			if (set->in[i].p->kind == CL_INPUT_EVENTS)
				sum += atomic_load((const atomic_uint_fast64_t *)(
					(const char *)cl_ingest_counters(set->in[i].ingest) + totals[t].off));
		cl_prom_counter(p, totals[t].name, totals[t].help, sum);
	}
	cl_prom_head(p, "carelake_input_records_total", "counter",
		     "Records (device events, FHIR resources) each input took in, by what became "
		     "of them.");
	for (int i = 0; i < set->n; i++)
		for (size_t t = 0; t < sizeof(totals) / sizeof(totals[0]); t++)
			cl_prom_put(p, "carelake_input_records_total{input=\"%s\",outcome=\"%s\"} %llu\n",
				    set->in[i].p->name, outcomes[t],
				    (unsigned long long)atomic_load((const atomic_uint_fast64_t *)(
					    (const char *)cl_ingest_counters(set->in[i].ingest) +
					    totals[t].off)));
	for (int i = 0; i < set->n; i++)
		if (set->in[i].p->cb_metrics && input_running(&set->in[i]))
			set->in[i].p->cb_metrics(&set->in[i], p);
}

void cl_inputs_stop(struct cl_inputs *set)
{
	if (!set || !set->running)
		return;
	for (int i = 0; i < set->n; i++) {
		atomic_store_explicit(&set->in[i].running, 0, memory_order_release);
		cl_worker_stop(set->in[i].collector);
		set->in[i].collector = NULL;
		if (set->in[i].p->cb_exit)
			set->in[i].p->cb_exit(&set->in[i]);
		set->in[i].state = NULL;
	}
	set->running = 0;
}

void cl_inputs_destroy(struct cl_inputs *set)
{
	if (!set)
		return;
	for (int i = 0; i < set->n; i++) {
		if (set->in[i].state && set->in[i].p->cb_exit)
			set->in[i].p->cb_exit(&set->in[i]);
		cl_ingest_destroy(set->in[i].ingest);
	}
	for (int k = 0; k < KINDS; k++)
		cl_dedupe_destroy(set->src[k].dedupe);
	cl_free(set);
}

void cl_inputs_names(struct cl_inputs *set, char *buf, size_t cap)
{
	size_t used = 0;

	buf[0] = '\0';
	for (int i = 0; i < set->n && used < cap; i++) {
		int w = snprintf(buf + used, cap - used, "%s%s", i ? ", " : "", set->in[i].p->name);

		used += w > 0 ? (size_t)w : 0;
	}
}
