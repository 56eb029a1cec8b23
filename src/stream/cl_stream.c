/*
 * The stream processor. See cl_stream.h.
 *
 * One thread: wait for a poke (or 50 ms), read up to batch_records
 * durable records past the checkpoint, apply them in memory, move the
 * watermark, evaluate the rules, and publish alerts at once. What is to be
 * stored (vitals, closed windows, NEWS2, alerts, the checkpoint) goes to
 * the sink, whose own thread commits it, so SQLite never stands between
 * an event and its alert.
 */
#include "cl_stream.h"
#include "bronze/cl_bronze.h"
#include "bronze/cl_reader.h"
#include "core/cl_config.h"
#include "core/cl_error.h"
#include "core/cl_log.h"
#include "core/cl_map.h"
#include "core/cl_mem.h"
#include "core/cl_prom.h"
#include "core/cl_time.h"
#include "core/cl_worker.h"
#include "fhir/cl_fhir_obs.h"
#include "store/cl_store.h"
#include "store/cl_store_outbox.h"
#include "stream/cl_sink.h"
#include "stream/cl_news2.h"
#include "ingest/cl_event.h"

#include <assert.h>
#include <jansson.h>
#include <limits.h>
#include <math.h>
#include <pthread.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <unistd.h>
#include <stdio.h>
#include <string.h>

/* The logs the processor follows, and its checkpoint in each: the live
 * ones first, the backlog lane (device events that arrived long after
 * their time) last, in turns that give way to the live ones. */
#define NSOURCES CL_WINDOW_SOURCES
enum { SRC_VITALS, SRC_FHIR, SRC_BACKLOG };
_Static_assert(SRC_BACKLOG == NSOURCES - 1, "the backlog lane is the last log");
static const char *const source_names[NSOURCES] = { "vitals", "fhir",
						      CL_VITALS_BACKLOG_SOURCE };
static const char *const consumers[NSOURCES] = { "stream", "stream.fhir", "stream.backlog" };

/* Backlog records applied between looks at the live logs. */
#define BACKLOG_TURN 32

/* A patient's own recent level of one vital (exponentially weighted). */
struct baseline {
	double mean, var;
	uint32_t n;
};

/* The readings of a vital that would have raised rule i but were
 * artifacts, gathered until the vital reads clean again. */
struct artifact_run {
	int64_t since, last;
	uint32_t n;
	double worst;
	uint8_t why;             /* enum cl_quality_reason */
};

/* Trend windows up to an hour. */
#define TREND_WINDOW_MAX_US (60ll * 60000000)
struct trend_minute;

/* What the processor knows of one patient. */
struct patient {
	double value[CL_NEWS2_PARAMS];
	int64_t ts[CL_NEWS2_PARAMS];
	uint8_t have[CL_NEWS2_PARAMS];
	int dirty;               /* NEWS2 to be written this batch */
	int64_t last_ts;
	struct patient *next_dirty;
	char id[CL_EVENT_ID_MAX + 1];
	char device[CL_EVENT_ID_MAX + 1];   /* the last device it was seen on */
	struct cl_rule_state *rs;           /* each rule's run and open alert */
	struct artifact_run *art;           /* (both o.nrules long, one allocation) */
	struct cl_quality_patient q;        /* signal quality of each vital */
	struct trend_minute *trend;         /* per trend vital (s->trend_slot), a
					     * ring of s->trend_ring minutes */
	struct baseline base[CL_VITAL_COUNT];
	int live_news2[3];       /* the NEWS2 last published live: score, risk,
				  * parameters; score -1: none yet */
	int64_t latest_ts;       /* event time of its latest reading */
	/* Late data: readings older than latest_ts by more than the lateness
	 * are the patient's late timeline, a patient of their own (shadow),
	 * whose rules run in its event time apart from the live ones and
	 * whose alerts are retrospective. */
	struct patient *late;
	struct patient *live;               /* shadow: the patient it is of */
	struct patient *next_late;          /* s->late_patients */
	int64_t late_mono;                  /* shadow: when its last reading came */
	uint8_t shadow;
};

/* Where a patient is and who looks after them (reference data). */
struct reference {
	char ward[64], bed[32], attending[CL_EVENT_ID_MAX + 1];
	char device_owner[64];   /* who technical alerts go to */
};

/* What the processor knows of one device (for silence). */
struct device {
	char id[CL_EVENT_ID_MAX + 1];
	char patient[CL_EVENT_ID_MAX + 1];
	int64_t last_ts;         /* event time of its latest reading */
	int64_t alert;
	int64_t closed_at;
};

/* A record of another node's, to rebuild state from (cl_stream_rebuild). */
struct rebuild_rec {
	struct rebuild_rec *next;
	size_t len;
	char data[];
};

/* A live alert held until the records it was decided on are durable
 * (stream.live_alerts=durable). */
struct held_alert {
	struct held_alert *next;
	uint64_t need[NSOURCES];  /* durable offsets it waits for */
	char patient[CL_EVENT_ID_MAX + 1];
	size_t len;
	char text[];
};

/* Closed windows late values belong to, gathered over a batch and handed
 * to the sink merged (a backlog's values share their windows). */
struct late_span {
	struct patient *p;
	uint8_t vital, win;
	int64_t lo, hi, watermark;
};

/* A key's (patient, vital, window) latest span in the batch: a backlog
 * of many patients interleaves their values, and each joins its own key's
 * span as it comes, so the batch holds one span per key and window run,
 * not one per value. */
struct late_slot {
	uint32_t gen;            /* the batch it belongs to */
	uint32_t idx;            /* its span in late */
};

#define BASELINE_MIN_SAMPLES 20
#define BASELINE_ALPHA 0.1

struct cl_stream {
	struct cl_stream_options o;
	char data_dir[PATH_MAX];
	struct cl_blog *log[NSOURCES];   /* fhir may be NULL */
	struct cl_sink *sink;
	int64_t last_alert_id;   /* alert ids are chosen here, in order */
	struct cl_window_op *win[CL_STREAM_MAX_WINDOWS];
	struct late_span *late;  /* this batch's, to be corrected */
	size_t nlate, cap_late;
	struct late_slot *late_ix; /* each key's latest span in late (open addressing) */
	size_t late_ix_cap;      /* a power of two, at least twice nlate */
	uint32_t late_gen;       /* slots of another batch are free */
	struct cl_map *patients;
	struct cl_map *devices;
	struct cl_map *refs;     /* patient id -> struct reference */
	struct patient *dirty;
	int replaying;           /* the record being applied was seen before */
	int rebuilding;          /* it is another node's (cl_stream_rebuild) */
	struct rebuild_rec *rb_head, *rb_tail; /* queued by cl_stream_rebuild (mu) */
	size_t rb_bytes;         /* their size (mu) */
	uint64_t rb_queued, rb_applied; /* records queued, applied (mu) */
	int rb_closed;           /* the processor's thread has ended (mu) */
	pthread_cond_t rb_cond;  /* rb_applied moved, or the processor stopped */
	json_t *notes;           /* alert changes for the webhook outbox */
	uint64_t applied[NSOURCES];  /* read up to here: what an alert now depends on */
	struct held_alert *held, *held_tail; /* live alerts awaiting durability */
	struct ext_alert *ext;   /* raised from outside, not yet applied (mu) */
	struct cl_worker *worker; /* cl-stream: poked when records are written */
	pthread_mutex_t mu;      /* ext */
	int store_failed;        /* an operation could not be queued */
	int failed;              /* the processor stopped on an error */
	uint64_t processed[NSOURCES];   /* checkpoints: applied below these */
	int behind;              /* the last step left written records unread */
	int backlog_held;        /* ...of the backlog lane, for the writer */
	int64_t max_ts;          /* latest event time seen */
	int64_t last_event_mono; /* when an event last arrived */
	int64_t last_scan_mono;  /* when open windows were last walked */
	int64_t last_silence_mono; /* when devices were last checked for silence */
	struct cl_worker *wal;   /* cl-wal: folds the WAL into the database, off this path */
	uint64_t replay_from[NSOURCES]; /* smallest offsets in open windows, as last walked */
	int trend_slot[CL_VITAL_COUNT];  /* a vital's slot in patient->trend, or -1 */
	int ntrend_slots;
	int trend_ring;          /* minutes a trend ring keeps: the longest
				  * window and the two minutes at each end */
	int technical_rules;     /* any quality: rule enabled */
	int silence_ri;          /* the first enabled silence rule, or -1 */
	int64_t last_settle_ts;  /* event time suspect runs were last settled at */
	int charted;             /* the value being applied was charted (a FHIR
				  * Observation), not streamed by a monitor */
	int retro;               /* it is on a patient's late timeline */
	struct patient *late_patients; /* those with a late timeline */
	int npending;            /* alerts learned late, their end not yet known */
	int64_t watermark;       /* the windows', as far as it went (committed
				  * with the checkpoint) */
	struct cl_stream_counters c;
};

void cl_stream_options_default(struct cl_stream_options *o)
{
	memset(o, 0, sizeof(*o));
	o->lateness_us = 30ll * 1000000;
	o->idle_flush_us = 5ll * 1000000;
	o->retrospective_after_us = 300ll * 1000000;
	o->batch_records = 20000;
	o->bulk_lag = 0;
	o->record_max_bytes = 4u << 20;
	o->nwindows = 2;
	o->windows[0] = (struct cl_window_spec){ .name = "1m", .kind = CL_WIN_TUMBLING,
						 .size_us = 60ll * 1000000 };
	o->windows[1] = (struct cl_window_spec){ .name = "1h", .kind = CL_WIN_TUMBLING,
						 .size_us = 3600ll * 1000000 };
	o->nrules = cl_rules_default(o->rules, CL_RULES_MAX);
	cl_quality_defaults(o->quality);
	snprintf(o->device_owner, sizeof(o->device_owner), "clinical-engineering");
}

int cl_stream_parse_windows(const char *text, struct cl_stream_options *o)
{
	char buf[1024], *save = NULL;

	if (strlen(text) >= sizeof(buf))
		return cl_error_set(CL_EINVAL, "stream.windows is too long");
	snprintf(buf, sizeof(buf), "%s", text);
	o->nwindows = 0;
	for (char *item = strtok_r(buf, ",", &save); item; item = strtok_r(NULL, ",", &save)) {
		struct cl_window_spec w;
		char *eq, *kind, *a, *b;
		int64_t x = 0, y = 0;
		int rc;

		while (*item == ' ')
			item++;
		memset(&w, 0, sizeof(w));
		eq = strchr(item, '=');
		if (!eq || eq == item || (size_t)(eq - item) >= sizeof(w.name))
			return cl_error_set(CL_EINVAL,
					    "stream.windows: '%.60s' is not NAME=KIND:SIZE[/HOP]", item);
		memcpy(w.name, item, (size_t)(eq - item));
		kind = eq + 1;
		a = strchr(kind, ':');
		if (!a)
			return cl_error_set(CL_EINVAL, "stream.windows: '%s' needs KIND:SIZE", w.name);
		*a++ = '\0';
		b = strchr(a, '/');
		if (b)
			*b++ = '\0';
		rc = cl_parse_duration_us(a, 1, 30ll * 86400 * 1000000, &x);
		if (rc == CL_OK && b)
			rc = cl_parse_duration_us(b, 1, 30ll * 86400 * 1000000, &y);
		if (rc)
			return cl_error_set(rc, "stream.windows: '%s': %s", w.name, cl_error_detail());
		if (strcmp(kind, "tumbling") == 0) {
			w.kind = CL_WIN_TUMBLING;
			w.size_us = x;
		} else if (strcmp(kind, "hopping") == 0 && b) {
			w.kind = CL_WIN_HOPPING;
			w.size_us = x;
			w.hop_us = y;
		} else if (strcmp(kind, "sliding") == 0) {
			w.kind = CL_WIN_SLIDING;
			w.size_us = x;
		} else if (strcmp(kind, "session") == 0) {
			w.kind = CL_WIN_SESSION;
			w.gap_us = x;
		} else {
			return cl_error_set(CL_EINVAL,
					    "stream.windows: '%s': kind must be tumbling:SIZE, "
					    "hopping:SIZE/HOP, sliding:SIZE or session:GAP", w.name);
		}
		rc = cl_window_spec_check(&w);
		if (rc)
			return rc;
		if (o->nwindows == CL_STREAM_MAX_WINDOWS)
			return cl_error_set(CL_EINVAL, "stream.windows: at most %d windows",
					    CL_STREAM_MAX_WINDOWS);
		o->windows[o->nwindows++] = w;
	}
	if (o->nwindows == 0)
		return cl_error_set(CL_EINVAL, "stream.windows: declare at least one window");
	return CL_OK;
}

/* An alert from outside the stream (a pipeline that failed), raised by
 * the processor thread, which owns alert ids and the store writer. */
struct ext_alert {
	struct cl_rule rule;
	const char *name, *severity;   /* static: the sink keeps the pointers */
	char subject[CL_EVENT_ID_MAX + 1];
	char message[400];
	struct ext_alert *next;
};

/* Window keys: the patient id, a NUL, the vital's number. */
static size_t make_key(char *buf, const char *patient, enum cl_vital v)
{
	size_t n = strlen(patient);

	memcpy(buf, patient, n);
	buf[n] = '\0';
	buf[n + 1] = (char)v;
	return n + 2;
}

static void on_window(void *arg, const struct cl_window_out *w)
{
	struct cl_stream *s = arg;
	const char *patient = w->key;
	enum cl_vital v = (enum cl_vital)((const char *)w->key)[w->key_len - 1];
	struct cl_agg_summary sum;

	cl_agg_summarise(w->agg, &sum);
	if (cl_sink_rollup(s->sink, patient, cl_vital_name(v), w->spec, w->start_us, w->end_us,
			   &sum, w->watermark) != CL_OK)
		s->store_failed = 1;
	else
		atomic_fetch_add(&s->c.rollups, 1);
}

static struct patient *new_patient(struct cl_stream *s, const char *id)
{
	size_t n = (size_t)(s->o.nrules ? s->o.nrules : 1);
	struct patient *p = cl_calloc(1, sizeof(*p) + n * (sizeof(*p->rs) + sizeof(*p->art)));

	if (!p)
		return NULL;
	/* the rules' states after the patient, in the same block */
	p->rs = (struct cl_rule_state *)(p + 1);
	p->art = (struct artifact_run *)(p->rs + n);
	snprintf(p->id, sizeof(p->id), "%s", id);
	p->live_news2[0] = -1;
	return p;
}

static struct patient *patient_of(struct cl_stream *s, const char *id)
{
	void **slot = cl_map_slot(s->patients, id, strlen(id), 1);

	if (!slot)
		return NULL;
	if (!*slot)
		*slot = new_patient(s, id);
	return *slot;
}

/* The patient's late timeline, begun if it has none. */
static struct patient *late_of(struct cl_stream *s, struct patient *p)
{
	if (!p->late) {
		p->late = new_patient(s, p->id);
		if (!p->late)
			return NULL;
		p->late->shadow = 1;
		p->late->live = p;
		p->next_late = s->late_patients;
		s->late_patients = p;
	}
	p->late->late_mono = cl_time_mono_us();
	return p->late;
}

/* Adds ward, bed and attending from the reference data. */
static void enrich(struct cl_stream *s, json_t *o, const char *patient)
{
	void **slot = s->refs ? cl_map_slot(s->refs, patient, strlen(patient), 0) : NULL;
	const struct reference *ref = slot ? *slot : NULL;

	if (!ref)
		return;
	if (ref->ward[0])
		json_object_set_new(o, "ward", json_string(ref->ward));
	if (ref->bed[0])
		json_object_set_new(o, "bed", json_string(ref->bed));
	if (ref->attending[0])
		json_object_set_new(o, "attending", json_string(ref->attending));
}

/* Loads the reference file (see cl_stream_options.reference_path). */
static int load_reference(struct cl_stream *s, const char *path)
{
	json_error_t err;
	json_t *root = json_load_file(path, 0, &err), *v;
	const char *id;

	if (!root)
		return cl_error_set(CL_EPARSE, "reference file %s:%d: %s", path, err.line, err.text);
	if (!json_is_object(root)) {
		json_decref(root);
		return cl_error_set(CL_EPARSE, "reference file %s: must be an object of patient ids",
				    path);
	}
	json_object_foreach(root, id, v) {
		struct reference *ref;
		void **slot;

		if (!json_is_object(v)) {
			json_decref(root);
			return cl_error_set(CL_EPARSE, "reference file %s: the entry of a patient is "
					    "not an object", path);
		}
		slot = cl_map_slot(s->refs, id, strlen(id), 1);
		ref = slot ? cl_calloc(1, sizeof(*ref)) : NULL;
		if (!ref) {
			json_decref(root);
			return cl_error_set(CL_ENOMEM, "no memory for reference data");
		}
		cl_free(*slot);
		*slot = ref;
		snprintf(ref->ward, sizeof(ref->ward), "%s",
			 json_string_value(json_object_get(v, "ward")) ?: "");
		snprintf(ref->bed, sizeof(ref->bed), "%s",
			 json_string_value(json_object_get(v, "bed")) ?: "");
		snprintf(ref->attending, sizeof(ref->attending), "%s",
			 json_string_value(json_object_get(v, "attending")) ?: "");
		snprintf(ref->device_owner, sizeof(ref->device_owner), "%s",
			 json_string_value(json_object_get(v, "device_owner")) ?: "");
	}
	cl_log_info("stream", "event=reference_loaded patients=%zu", cl_map_count(s->refs));
	json_decref(root);
	return CL_OK;
}

/* An alert change: out to live listeners at once (not at the end of the
 * batch: an alert waits for nothing), and kept for the webhook outbox,
 * which is written with the batch. After a crash an alert already
 * published is raised again on replay, with the same id: seen twice,
 * never lost. */
static const char *device_owner(struct cl_stream *s, const char *patient);

/* Keeps a live alert until what has been read so far is durable. Out of
 * memory, it goes out at once: late is worse than early. */
static void hold_alert(struct cl_stream *s, const char *text, const char *patient)
{
	size_t len = strlen(text);
	struct held_alert *h = cl_malloc(sizeof(*h) + len + 1);

	if (!h) {
		s->o.on_alert(s->o.hook_arg, text, len, patient);
		return;
	}
	h->next = NULL;
	memcpy(h->need, s->applied, sizeof(h->need));
	snprintf(h->patient, sizeof(h->patient), "%s", patient);
	h->len = len;
	memcpy(h->text, text, len + 1);
	if (s->held_tail)
		s->held_tail->next = h;
	else
		s->held = h;
	s->held_tail = h;
}

/* Sends the held alerts whose records are durable now, in order; with
 * `drop`, frees the rest (the processor is stopping). */
static void release_held(struct cl_stream *s, int drop)
{
	uint64_t durable[NSOURCES];

	if (!s->held)
		return;
	for (int i = 0; i < NSOURCES; i++)
		durable[i] = s->log[i] ? cl_blog_durable_offset(s->log[i]) : UINT64_MAX;
	while (s->held) {
		struct held_alert *h = s->held;
		int ready = 1;

		for (int i = 0; i < NSOURCES; i++)
			ready &= h->need[i] <= durable[i];
		if (!ready && !drop)
			break;
		if (ready)
			s->o.on_alert(s->o.hook_arg, h->text, h->len, h->patient);
		s->held = h->next;
		cl_free(h);
	}
	if (!s->held)
		s->held_tail = NULL;
}

/* An alert change, live and to the outbox. learned: when an alert
 * learned from late data was learned (it is retrospective: "opened" is
 * when its episode began, and the webhook does not page it); 0: live. */
static void note_alert(struct cl_stream *s, int64_t id, const struct cl_rule *r,
		       const char *patient, const char *device, const char *state,
		       int64_t ts, int64_t raised, double value, const char *message,
		       int64_t opened, int64_t learned)
{
	char when[40], at[40];
	json_t *o;

	if (!s->o.on_alert && !s->o.outbox)
		return;
	/* time: when the episode began (open) or ended (closed); raised:
	 * when the rule was confirmed, in event time */
	cl_time_format_rfc3339(ts, when, sizeof(when), 3);
	cl_time_format_rfc3339(raised, at, sizeof(at), 3);
	o = json_pack("{s:I,s:s,s:s,s:s,s:s,s:s,s:s,s:s,s:f,s:s,s:s}", "id", (json_int_t)id, "rule",
		      r->name, "severity", r->severity, "category",
		      r->technical ? "technical" : "clinical", "patient_id", patient, "device_id",
		      device, "state", state, "time", when, "value", value, "message",
		      message ? message : r->description, "raised", at);
	if (!o)
		return;
	if (r->technical)
		json_object_set_new(o, "notify", json_string(device_owner(s, patient)));
	if (learned) {
		cl_time_format_rfc3339(opened, when, sizeof(when), 3);
		json_object_set_new(o, "opened", json_string(when));
		cl_time_format_rfc3339(learned, when, sizeof(when), 3);
		json_object_set_new(o, "learned", json_string(when));
		json_object_set_new(o, "retrospective", json_true());
	}
	enrich(s, o, patient);
	if (s->o.on_alert) {
		char *text = json_dumps(o, JSON_COMPACT);

		if (text && s->o.live_after_durable)
			hold_alert(s, text, patient);
		else if (text)
			s->o.on_alert(s->o.hook_arg, text, strlen(text), patient);
		free(text);
	}
	if (!s->o.outbox) {
		json_decref(o);
		return;
	}
	if (!s->notes)
		s->notes = json_array();
	json_array_append_new(s->notes, o);
}

/* The batch's alert changes into the webhook outbox, in the same
 * transaction as the alert rows. */
static int outbox_notes(struct cl_stream *s)
{
	size_t i;
	json_t *o;
	int rc = CL_OK;

	json_array_foreach(s->notes, i, o) {
		char *text = json_dumps(o, JSON_COMPACT);

		rc = text ? cl_sink_outbox(s->sink, text, strlen(text))
			  : cl_error_set(CL_ENOMEM, "no memory for an alert");
		free(text);
		if (rc)
			break;
	}
	json_decref(s->notes);
	s->notes = NULL;
	return rc;
}

/* Who a technical alert about patient's devices goes to. */
static const char *device_owner(struct cl_stream *s, const char *patient)
{
	void **slot = s->refs ? cl_map_slot(s->refs, patient, strlen(patient), 0) : NULL;
	const struct reference *ref = slot ? *slot : NULL;

	return ref && ref->device_owner[0] ? ref->device_owner : s->o.device_owner;
}

/* Opens an alert of rule r: the episode began at start, the rule was
 * confirmed at raised. Returns its id through *id. */
static int open_alert(struct cl_stream *s, const struct cl_rule *r, int ri, const char *patient,
		      const char *device, int64_t start, int64_t raised, double value,
		      const char *msg, int64_t *id)
{
	if (cl_sink_alert_open(s->sink, s->last_alert_id + 1, r->name,
			       r->technical ? "technical" : "clinical", patient, device, r->severity,
			       start, raised, value, msg, 0) != CL_OK)
		return CL_ENOMEM;
	*id = ++s->last_alert_id;
	note_alert(s, *id, r, patient, device, "open", start, raised, value, msg, 0, 0);
	if (ri >= 0) {
		atomic_fetch_add(&s->c.raised[ri], 1);
		atomic_fetch_add(&s->c.open[ri], 1);
	}
	return CL_OK;
}

/*
 * Raises rule ri's alert for an episode learned late: on the patient's
 * late timeline (s->retro), or live but confirmed by readings older than
 * stream.retrospective_after. Stored at once, as learned now; published
 * when its end is known: retrospective if it ended first (never paged),
 * a live alert if the data catch up with it still going (promote_pending).
 */
static int open_late(struct cl_stream *s, struct cl_rule_state *st, const struct cl_rule *r,
		     int ri, const char *patient, const char *device, double value,
		     const char *msg, int64_t ts)
{
	int64_t now = cl_time_now_us();

	if (cl_sink_alert_open(s->sink, s->last_alert_id + 1, r->name,
			       r->technical ? "technical" : "clinical", patient, device, r->severity,
			       st->since, ts, value, msg, now) != CL_OK)
		return CL_ENOMEM;
	st->alert = ++s->last_alert_id;
	st->learned = now;
	if (!s->retro) {
		st->pending = 1;
		s->npending++;
	}
	(void)ri;
	return CL_OK;
}

/* An alert learned late ends at ts, before its episode was ever live:
 * retrospective, published as such. */
static int close_late(struct cl_stream *s, struct cl_rule_state *st, const struct cl_rule *r,
		      int ri, const char *patient, const char *device, double value, int64_t ts)
{
	if (cl_sink_alert_close(s->sink, st->alert, ts) != CL_OK)
		return CL_ENOMEM;
	note_alert(s, st->alert, r, patient, device, "closed", ts, st->alert_raised, value, NULL,
		   st->alert_since, st->learned);
	atomic_fetch_add(&s->c.retrospective[ri], 1);
	if (st->pending)
		s->npending--;
	st->alert = 0;
	st->pending = 0;
	st->learned = 0;
	st->closed_at = ts;
	return CL_OK;
}

static const char *const held_reasons[] = { "artifact", "not_persistent", "suppressed" };

/* Records what rule r held back, and why (index into held_reasons). */
static int held(struct cl_stream *s, const struct cl_rule *r, const char *patient,
		const char *device, int why, const char *detail, int64_t start, int64_t end,
		uint32_t readings, double value)
{
	atomic_fetch_add(&s->c.held[why], 1);
	return cl_sink_alert_held(s->sink, r->name, r->technical ? "technical" : "clinical",
				  patient, device, held_reasons[why], detail, start, end,
				  (int)readings, value) == CL_OK ? CL_OK : CL_ENOMEM;
}

/* What a rule's step does while rebuilding another node's share: the
 * state moves, nothing is stored or published. An episode it would raise
 * was raised by that node: it is adopted, held open here without a row. */
static int rebuild_step(struct cl_rule_state *st, enum cl_rule_action action, int64_t ts)
{
	switch (action) {
	case CL_RULE_RAISE:
		st->alert = CL_RULE_ADOPTED;
		st->adopted_since = st->since;
		st->adopted_raised = ts;
		st->adopted_worst = st->worst;
		st->since = 0;
		st->held = 0;
		break;
	case CL_RULE_CLEAR: /* of an adopted episode */
		st->alert = 0;
		st->closed_at = ts;
		break;
	default: /* held back: the other node recorded it */
		break;
	}
	return CL_OK;
}

/* An adopted episode (raised on the node that held the partition before)
 * clears here: its row, as that node opened it (the same rule, patient,
 * start, raised time and worst value) and closed at ts, so the episode's
 * end is on record. It was not counted as open here. */
static int close_adopted(struct cl_stream *s, struct cl_rule_state *st, const struct cl_rule *r,
			 int ri, const char *patient, const char *device, double value, int64_t ts)
{
	char msg[320];
	int64_t id = s->last_alert_id + 1;

	(void)ri;
	snprintf(msg, sizeof(msg), "%s (%g %s %g; raised before this node took the patient's "
		 "partition over)", r->description, st->adopted_worst, cl_rule_op_name(r->raise_op),
		 r->raise);
	if (cl_sink_alert_open(s->sink, id, r->name, r->technical ? "technical" : "clinical",
			       patient, device, r->severity, st->adopted_since, st->adopted_raised,
			       st->adopted_worst, msg, 0) != CL_OK ||
	    cl_sink_alert_close(s->sink, id, ts) != CL_OK)
		return CL_ENOMEM;
	s->last_alert_id = id;
	note_alert(s, id, r, patient, device, "closed", ts, ts, value, NULL, 0, 0);
	st->alert = 0;
	st->closed_at = ts;
	return CL_OK;
}

/* Moves rule ri's state st on with the watched value at event time ts:
 * raises (from the start of the run), clears, or records what it held
 * back. */
static int evaluate(struct cl_stream *s, struct cl_rule_state *st, const char *patient,
		    const char *device, int ri, double value, int64_t ts)
{
	const struct cl_rule *r = &s->o.rules[ri];
	struct cl_rule_state before;
	enum cl_rule_action action;
	char msg[256];  /* a description (< 160) and its values */

	if (!r->enabled || (s->replaying && !s->rebuilding))
		return CL_OK;
	before = *st;
	if (s->charted && (r->persist_us || r->persist_readings > 1)) {
		/* a charted value was verified by whoever charted it: it
		 * counts at once, as a spot check does */
		struct cl_rule now = *r;

		now.persist_us = 0;
		now.persist_readings = 1;
		action = cl_rule_step(&now, st, value, ts);
	} else {
		action = cl_rule_step(r, st, value, ts);
	}
	if (s->rebuilding && (action != CL_RULE_CLEAR || st->alert == CL_RULE_ADOPTED))
		return rebuild_step(st, action, ts);
	switch (action) {
	case CL_RULE_NONE:
		return CL_OK;
	case CL_RULE_CLEAR:
		if (st->alert == CL_RULE_ADOPTED)
			return close_adopted(s, st, r, ri, patient, device, value, ts);
		if (st->learned)
			return close_late(s, st, r, ri, patient, device, value, ts);
		if (cl_sink_alert_close(s->sink, st->alert, ts) != CL_OK)
			return CL_ENOMEM;
		note_alert(s, st->alert, r, patient, device, "closed", ts, ts, value, NULL, 0, 0);
		st->alert = 0;
		st->closed_at = ts;
		atomic_fetch_sub(&s->c.open[ri], 1);
		return CL_OK;
	case CL_RULE_NOT_PERSISTENT:
		snprintf(msg, sizeof(msg), "held %.1f s of the %.0f s it must persist, %u readings "
			 "(worst %g)", (double)(before.last - before.since) / 1e6,
			 (double)r->persist_us / 1e6, before.readings, before.worst);
		return held(s, r, patient, device, 1, msg, before.since, before.last, before.readings,
			    before.worst);
	case CL_RULE_SUPPRESSED:
		snprintf(msg, sizeof(msg), "persisted, but the rule cleared %.0f s before (suppress "
			 "%.0f s)", (double)(st->last - st->closed_at) / 1e6,
			 (double)r->suppress_us / 1e6);
		return held(s, r, patient, device, 2, msg, st->since, st->last, st->readings,
			    st->worst);
	case CL_RULE_RAISE:
		snprintf(msg, sizeof(msg), "%s (%g %s %g)", r->description, st->worst,
			 cl_rule_op_name(r->raise_op), r->raise);
		st->alert_since = st->since;
		st->alert_raised = ts;
		/* learned late: on the late timeline, or confirmed by old readings */
		if (s->retro || (s->o.retrospective_after_us > 0 &&
				 ts < cl_time_now_us() - s->o.retrospective_after_us)) {
			if (open_late(s, st, r, ri, patient, device, st->worst, msg, ts) != CL_OK)
				return CL_ENOMEM;
		} else if (open_alert(s, r, ri, patient, device, st->since, ts, st->worst, msg,
				      &st->alert) != CL_OK) {
			return CL_ENOMEM;
		}
		st->since = 0;
		st->held = 0;
		return CL_OK;
	}
	return CL_OK;
}

/* One minute of one trend vital of one patient: the sum and count of its
 * clean values. A patient has s->trend_ring of these per trend vital, a
 * ring by minute. */
struct trend_minute {
	int32_t minute;          /* minutes since the epoch */
	uint32_t n;
	double sum;
};

/* The mean of minute m of trend slot k, or NAN. */
static double minute_mean(const struct cl_stream *s, const struct patient *p, int k, int64_t m)
{
	const struct trend_minute *t = &p->trend[(size_t)k * (size_t)s->trend_ring +
						 (size_t)(m % s->trend_ring)];

	return m >= 0 && t->minute == m && t->n ? t->sum / t->n : NAN;
}

/* The mean over minutes m and m-1 (whichever have readings), or NAN. */
static double two_minutes(const struct cl_stream *s, const struct patient *p, int k, int64_t m)
{
	double a = minute_mean(s, p, k, m), b = minute_mean(s, p, k, m - 1);

	if (isnan(a))
		return b;
	return isnan(b) ? a : (a + b) / 2;
}

/* How many of trend rule r's parameters moved by their change, comparing
 * the last two minutes with the two minutes a window earlier. */
static int trend_value(const struct cl_stream *s, const struct patient *p,
		       const struct cl_rule *r, int64_t ts)
{
	int64_t m = ts / 60000000, w = r->window_us / 60000000;
	int met = 0;

	for (int i = 0; i < r->ntrend; i++) {
		int k = s->trend_slot[r->trend[i].vital];
		double now, then;

		if (k < 0 || !p->trend)
			continue;
		now = two_minutes(s, p, k, m);
		then = two_minutes(s, p, k, m - w);
		if (isnan(now) || isnan(then))
			continue;
		if (r->trend[i].delta > 0 ? now - then >= r->trend[i].delta
					  : now - then <= r->trend[i].delta)
			met++;
	}
	return met;
}

/* Adds a clean value to the patient's per-minute means (trend rules). */
static int trend_add(struct cl_stream *s, struct patient *p, enum cl_vital v, int64_t ts,
		     double value)
{
	int k = s->trend_slot[v];
	int64_t m = ts / 60000000;
	struct trend_minute *t;

	if (k < 0 || m < 0 || m > INT32_MAX)
		return CL_OK;
	if (!p->trend && !(p->trend = cl_calloc((size_t)s->ntrend_slots * (size_t)s->trend_ring,
						sizeof(*p->trend))))
		return CL_ENOMEM;
	t = &p->trend[(size_t)k * (size_t)s->trend_ring + (size_t)(m % s->trend_ring)];
	if (t->minute != m) {
		if (m < t->minute)
			return CL_OK; /* older than the ring keeps */
		t->minute = (int32_t)m;
		t->sum = 0;
		t->n = 0;
	}
	t->sum += value;
	t->n++;
	return CL_OK;
}

/* The NEWS2 and trend rules after a clean value of a NEWS2 parameter or
 * a trend vital. */
static int evaluate_scores(struct cl_stream *s, struct patient *p, enum cl_vital v, int64_t ts,
			   const char *device, int news2_changed)
{
	struct cl_news2 n;
	int rc = CL_OK;

	if (news2_changed)
		cl_news2_compute(p->value, p->have, &n);
	for (int i = 0; i < s->o.nrules && rc == CL_OK; i++) {
		const struct cl_rule *r = &s->o.rules[i];

		if (news2_changed && r->what == CL_WHAT_NEWS2)
			rc = evaluate(s, &p->rs[i], p->id, device, i, n.total, ts);
		else if (news2_changed && r->what == CL_WHAT_NEWS2_MAX)
			rc = evaluate(s, &p->rs[i], p->id, device, i, n.max_single, ts);
		else if (r->what == CL_WHAT_TREND && s->trend_slot[v] >= 0)
			for (int k = 0; k < r->ntrend; k++)
				if (r->trend[k].vital == v) {
					rc = evaluate(s, &p->rs[i], p->id, device, i,
						      trend_value(s, p, r, ts), ts);
					break;
				}
	}
	return rc;
}

/* Value and deviation rules for one clean value; updates the baseline. */
static int evaluate_value(struct cl_stream *s, struct patient *p, enum cl_vital v, int64_t ts,
			  double value, const char *device)
{
	struct baseline *b = &p->base[v];
	double sd = sqrt(b->var), z = 0;
	int rc = CL_OK;

	if (sd < cl_vital_resolution(v))
		sd = cl_vital_resolution(v); /* no spike from one step */
	if (b->n >= BASELINE_MIN_SAMPLES)
		z = fabs(value - b->mean) / sd;
	for (int i = 0; i < s->o.nrules && rc == CL_OK; i++) {
		const struct cl_rule *r = &s->o.rules[i];

		if (r->what == CL_WHAT_VITAL && r->vital == v)
			rc = evaluate(s, &p->rs[i], p->id, device, i, value, ts);
		else if (r->what == CL_WHAT_DEVIATION && r->vital == v &&
			 b->n >= BASELINE_MIN_SAMPLES)
			/* a spike or dip is far in both senses: in the patient's
			 * own spread, and in absolute terms */
			rc = evaluate(s, &p->rs[i], p->id, device, i,
				      fabs(value - b->mean) >= r->min_delta ? z : 0, ts);
	}
	/* then fold the value into the baseline */
	if (b->n == 0) {
		b->mean = value;
		b->var = 0;
	} else {
		double d = value - b->mean;

		b->mean += BASELINE_ALPHA * d;
		b->var = (1 - BASELINE_ALPHA) * (b->var + BASELINE_ALPHA * d * d);
	}
	b->n++;
	return rc;
}

/* The artifacts that would have raised a value rule, gathered into one
 * held-back record per run: flushed when the vital reads clean again. */
static int artifact_runs(struct cl_stream *s, struct patient *p, enum cl_vital v, int64_t ts,
			 double value, enum cl_quality_reason why, const char *device)
{
	for (int i = 0; i < s->o.nrules; i++) {
		const struct cl_rule *r = &s->o.rules[i];
		struct artifact_run *a = &p->art[i];

		if (r->what != CL_WHAT_VITAL || r->vital != v || !r->enabled || s->replaying)
			continue;
		if (why != CL_QR_NONE) {
			if (!cl_rule_test(r->raise_op, value, r->raise))
				continue;
			if (!a->n) {
				a->since = ts;
				a->worst = value;
				a->why = (uint8_t)why;
			}
			a->n++;
			if (ts > a->last)
				a->last = ts;
			if ((r->raise_op == CL_OP_LT || r->raise_op == CL_OP_LE) ? value < a->worst
										 : value > a->worst)
				a->worst = value;
			continue;
		}
		if (a->n) {
			char msg[160];

			snprintf(msg, sizeof(msg), "%s: %u readings over %.0f s",
				 cl_quality_reason_name((enum cl_quality_reason)a->why), a->n,
				 (double)(a->last - a->since) / 1e6);
			if (held(s, r, p->id, device, 0, msg, a->since, a->last, a->n, a->worst) != CL_OK)
				return CL_ENOMEM;
			memset(a, 0, sizeof(*a));
		}
	}
	return CL_OK;
}

/* The technical rules on the patient's device conditions at ts. */
static int evaluate_technical(struct cl_stream *s, struct patient *p, int64_t ts,
			      const char *device)
{
	int rc = CL_OK;

	for (int i = 0; i < s->o.nrules && rc == CL_OK; i++) {
		const struct cl_rule *r = &s->o.rules[i];
		int64_t since;

		if (r->what != CL_WHAT_QUALITY)
			continue;
		since = p->q.since[r->condition];
		rc = evaluate(s, &p->rs[i], p->id, device, i,
			      since && ts >= since ? (double)(ts - since) / 1e6 : 0, ts);
	}
	return rc;
}

/* What a verdict of the quality checks means for one reading. */
struct verdict_ctx {
	struct cl_stream *s;
	struct patient *p;
	const char *device;
};

static int on_verdict(void *arg, enum cl_vital v, int64_t ts, double value,
		      enum cl_quality_reason why)
{
	struct verdict_ctx *c = arg;
	struct cl_stream *s = c->s;
	struct patient *p = c->p;
	int np, rc;

	atomic_fetch_add(&s->c.quality[why], 1);
	rc = artifact_runs(s, p, v, ts, value, why, c->device);
	if (rc == CL_OK && s->technical_rules)
		rc = evaluate_technical(s, p, ts, c->device);
	if (rc != CL_OK || why != CL_QR_NONE)
		return rc;
	if (evaluate_value(s, p, v, ts, value, c->device) != CL_OK ||
	    trend_add(s, p, v, ts, value) != CL_OK)
		return CL_ENOMEM;
	np = cl_news2_param_of(v);
	/* a late reading still is the patient's latest of its parameter when
	 * the live timeline has none newer: their NEWS2 now takes it (its
	 * rules look at it with the next live reading) */
	if (np >= 0 && p->shadow && (!p->live->have[np] || ts > p->live->ts[np])) {
		struct patient *l = p->live;

		l->value[np] = value;
		l->ts[np] = ts;
		l->have[np] = 1;
		if (!l->dirty) {
			l->dirty = 1;
			l->next_dirty = s->dirty;
			s->dirty = l;
		}
	}
	/* the latest value of each parameter, by event time */
	if (np >= 0 && (!p->have[np] || ts >= p->ts[np])) {
		p->value[np] = value;
		p->ts[np] = ts;
		p->have[np] = 1;
		if (ts > p->last_ts)
			p->last_ts = ts;
		/* the patient's NEWS2 now is the live timeline's */
		if (!p->dirty && !p->shadow) {
			p->dirty = 1;
			p->next_dirty = s->dirty;
			s->dirty = p;
		}
	} else {
		np = -1;
	}
	if (np < 0 && s->trend_slot[v] < 0)
		return CL_OK;
	return evaluate_scores(s, p, v, ts, c->device, np >= 0);
}

static struct device *device_of(struct cl_stream *s, const char *id)
{
	void **slot = cl_map_slot(s->devices, id, strlen(id), 1);

	if (!slot)
		return NULL;
	if (!*slot) {
		struct device *d = cl_calloc(1, sizeof(*d));

		if (!d)
			return NULL;
		snprintf(d->id, sizeof(d->id), "%s", id);
		*slot = d;
	}
	return *slot;
}

/* Opens device d's silence alert: silent since its last reading, found
 * silent at `at` (event time). */
static int open_silence(struct cl_stream *s, int ri, struct device *d, int64_t at)
{
	const struct cl_rule *r = &s->o.rules[ri];
	double quiet = (double)(at - d->last_ts) / 1e6;
	char msg[256];  /* a description (< 160) and its value */

	snprintf(msg, sizeof(msg), "%s (%.0f s)", r->description, quiet);
	return open_alert(s, r, ri, d->patient, d->id, d->last_ts, at, quiet, msg, &d->alert);
}

struct silence_ctx {
	struct cl_stream *s;
	int ri;
	int64_t now;
	int rc;
};

static void check_silence(void *arg, const void *key, size_t len, void **value)
{
	struct silence_ctx *c = arg;
	struct device *d = *value;
	const struct cl_rule *r = &c->s->o.rules[c->ri];
	double quiet = (double)(c->now - d->last_ts) / 1e6;

	(void)key;
	(void)len;
	/* a device quiet for more than an hour is gone, not silent */
	if (c->rc != CL_OK || d->alert || quiet > 3600 || !d->last_ts ||
	    !cl_rule_test(r->raise_op, quiet, r->raise))
		return;
	if (d->closed_at && c->now - d->closed_at < r->suppress_us)
		return;
	c->rc = open_silence(c->s, c->ri, d, d->last_ts + (int64_t)(r->raise * 1e6));
}

/* The device of a reading spoke at event time ts: a silence alert for it
 * clears; a gap longer than the silence rule, found only now (a backlog
 * delivered at once), is raised and cleared, from when it began. */
static int device_spoke(struct cl_stream *s, const struct cl_event *e)
{
	struct device *d = device_of(s, e->device_id);
	int ri = s->silence_ri;

	if (!d)
		return CL_ENOMEM;
	snprintf(d->patient, sizeof(d->patient), "%s", e->patient_id);
	if (ri >= 0 && !s->replaying && !d->alert && d->last_ts && e->ts_us > d->last_ts &&
	    (double)(e->ts_us - d->last_ts) / 1e6 > s->o.rules[ri].raise &&
	    e->ts_us - d->last_ts <= 3600ll * 1000000 &&
	    !(d->closed_at && e->ts_us - d->closed_at < s->o.rules[ri].suppress_us) &&
	    open_silence(s, ri, d, d->last_ts + (int64_t)(s->o.rules[ri].raise * 1e6)) != CL_OK)
		return CL_ENOMEM;
	if (e->ts_us > d->last_ts)
		d->last_ts = e->ts_us;
	if (d->alert && ri >= 0 && !s->replaying) {
		if (cl_sink_alert_close(s->sink, d->alert, e->ts_us) != CL_OK)
			return CL_ENOMEM;
		note_alert(s, d->alert, &s->o.rules[ri], e->patient_id, e->device_id, "closed",
			   e->ts_us, e->ts_us, 0, NULL, 0, 0);
		d->alert = 0;
		d->closed_at = e->ts_us;
		atomic_fetch_sub(&s->c.open[ri], 1);
	}
	return CL_OK;
}

/* How close two late spans of a window must be to be corrected as one:
 * the next window start, the next window end, or a session's gap. */
static int64_t span_join(const struct cl_window_spec *w)
{
	switch (w->kind) {
	case CL_WIN_TUMBLING:
		return w->size_us;
	case CL_WIN_HOPPING:
		return w->hop_us;
	case CL_WIN_SLIDING:
		return 1;
	case CL_WIN_SESSION:
		return w->gap_us;
	}
	return 1;
}

static size_t late_hash(const struct patient *p, unsigned v, unsigned i, size_t mask)
{
	uint64_t h = ((uint64_t)(uintptr_t)p ^ ((uint64_t)v << 56) ^ ((uint64_t)i << 48)) *
		     0x9e3779b97f4a7c15ull;

	return (size_t)(h >> 29) & mask;
}

/* The slot of a key's latest span, or the free slot it would take. */
static struct late_slot *late_slot_of(struct cl_stream *s, const struct patient *p, unsigned v,
				      unsigned i)
{
	size_t mask = s->late_ix_cap - 1, h = late_hash(p, v, i, mask);

	for (;; h = (h + 1) & mask) {
		struct late_slot *x = &s->late_ix[h];
		const struct late_span *l;

		if (x->gen != s->late_gen)
			return x;
		l = &s->late[x->idx];
		if (l->p == p && l->vital == v && l->win == i)
			return x;
	}
}

/* Room for one more span's key: the index kept at most half full. */
static int late_ix_reserve(struct cl_stream *s)
{
	struct late_slot *ix;
	size_t cap;

	if (s->late_ix_cap && (s->nlate + 1) * 2 <= s->late_ix_cap)
		return CL_OK;
	cap = s->late_ix_cap ? s->late_ix_cap * 2 : 16;
	ix = cl_calloc(cap, sizeof(*ix));
	if (!ix)
		return CL_ENOMEM;
	cl_free(s->late_ix);
	s->late_ix = ix;
	s->late_ix_cap = cap;
	s->late_gen = 1;
	/* in order, so that each key's slot ends on its latest span */
	for (size_t k = 0; k < s->nlate; k++) {
		const struct late_span *l = &s->late[k];

		late_slot_of(s, l->p, l->vital, l->win)[0] = (struct late_slot){ 1, (uint32_t)k };
	}
	return CL_OK;
}

/* Notes the closed windows of window i a value at ts belongs to (late is
 * cl_window_add's answer). */
static int note_late(struct cl_stream *s, int i, struct patient *p, enum cl_vital v, int64_t ts,
		     int late)
{
	int64_t lo, hi, wm = cl_window_watermark(s->win[i]);
	struct late_slot *x;

	if (!cl_window_late_span(s->win[i], ts, late, &lo, &hi))
		return CL_OK;
	if (late_ix_reserve(s) != CL_OK ||
	    cl_grow(&s->late, &s->cap_late, s->nlate, sizeof(*s->late), 64) != 0)
		return CL_ENOMEM;
	/* the key's last span: join it if near (a backlog comes in order) */
	x = late_slot_of(s, p, v, (unsigned)i);
	if (x->gen == s->late_gen) {
		struct late_span *l = &s->late[x->idx];

		if (lo >= l->lo && lo <= l->hi + span_join(&s->o.windows[i])) {
			if (hi > l->hi)
				l->hi = hi;
			l->watermark = wm;
			return CL_OK;
		}
	}
	*x = (struct late_slot){ s->late_gen, (uint32_t)s->nlate };
	s->late[s->nlate++] = (struct late_span){ p, (uint8_t)v, (uint8_t)i, lo, hi, wm };
	return CL_OK;
}

static int late_cmp(const void *a, const void *b)
{
	const struct late_span *x = a, *y = b;
	int c = x->win != y->win ? (x->win < y->win ? -1 : 1) : strcmp(x->p->id, y->p->id);

	if (c)
		return c;
	if (x->vital != y->vital)
		return x->vital < y->vital ? -1 : 1;
	return x->lo < y->lo ? -1 : x->lo > y->lo;
}

/* Hands the batch's late spans to the sink, merged. */
static int flush_late(struct cl_stream *s)
{
	int rc = CL_OK;

	if (s->nlate > 1)
		qsort(s->late, s->nlate, sizeof(*s->late), late_cmp);
	for (size_t i = 0; i < s->nlate && rc == CL_OK;) {
		struct late_span m = s->late[i++];
		const struct cl_window_spec *w = &s->o.windows[m.win];

		while (i < s->nlate && s->late[i].win == m.win && s->late[i].p == m.p &&
		       s->late[i].vital == m.vital && s->late[i].lo <= m.hi + span_join(w)) {
			if (s->late[i].hi > m.hi)
				m.hi = s->late[i].hi;
			if (s->late[i].watermark > m.watermark)
				m.watermark = s->late[i].watermark;
			i++;
		}
		rc = cl_sink_rollup_fix(s->sink, m.p->id, cl_vital_name((enum cl_vital)m.vital), w,
					m.lo, m.hi, m.watermark);
	}
	s->nlate = 0;
	/* the index's slots are the next batch's free ones */
	if (++s->late_gen == 0 && s->late_ix) {
		memset(s->late_ix, 0, s->late_ix_cap * sizeof(*s->late_ix));
		s->late_gen = 1;
	}
	return rc;
}

/* Applies one vital value of the record f of log src: stored and rolled
 * up as it came; checked for signal quality before the rules see it. */
static int apply_value(struct cl_stream *s, int src, const struct cl_frame *f,
		       const struct cl_event *e)
{
	struct verdict_ctx vc;
	struct patient *p;
	int rc;
	char key[CL_EVENT_ID_MAX + 4];
	size_t klen;

	atomic_fetch_add(&s->c.events, 1);
	/* another node's reading is that node's row */
	if (!s->rebuilding &&
	    cl_sink_vital(s->sink, source_names[src], f->offset, e->patient_id, e->device_id,
			  cl_vital_name(e->vital), e->ts_us, e->value) != CL_OK)
		return CL_ENOMEM;
	/* a record that names no device has none to watch */
	if (e->device_id[0] && device_spoke(s, e) != CL_OK)
		return CL_ENOMEM;
	if (!s->replaying && s->o.on_vital && s->o.want_vitals(s->o.hook_arg)) {
		char json[512], when[40];
		int n;

		cl_time_format_rfc3339(e->ts_us, when, sizeof(when), 3);
		/* ids may hold any character: let jansson escape them */
		{
			json_t *o = json_pack("{s:s,s:s,s:s,s:s,s:f,s:s}", "patient_id", e->patient_id,
					      "device_id", e->device_id, "type", cl_vital_name(e->vital),
					      "ts", when, "value", e->value, "unit", cl_vital_unit(e->vital));

			enrich(s, o, e->patient_id);
			n = o ? (int)json_dumpb(o, json, sizeof(json), JSON_COMPACT) : 0;
			json_decref(o);
		}
		if (n > 0 && (size_t)n < sizeof(json))
			s->o.on_vital(s->o.hook_arg, json, (size_t)n, e->patient_id);
	}
	p = patient_of(s, e->patient_id);
	if (!p)
		return CL_ENOMEM;
	klen = make_key(key, e->patient_id, e->vital);
	for (int i = 0; i < s->o.nwindows; i++) {
		rc = cl_window_add(s->win[i], key, klen, e->ts_us, e->value,
				   cl_vital_resolution(e->vital),
				   CL_WINDOW_TAG(src, f->offset));
		if (rc < 0)
			return rc;
		/* windows already written that this value changes; not for a
		 * replayed record (its corrections were committed with it) nor
		 * another node's (its rows are that node's) */
		if (!s->replaying && !s->rebuilding &&
		    note_late(s, i, p, e->vital, e->ts_us, rc) != CL_OK)
			return CL_ENOMEM;
	}
	if (e->ts_us > s->max_ts)
		s->max_ts = e->ts_us;
	s->last_event_mono = cl_time_mono_us();
	/* a device's reading older than the patient's latest by more than the
	 * lateness: the late timeline's, in its own event time (a charted
	 * one, entered late as charting is, stays live: its alerts page) */
	if (src != SRC_FHIR && p->latest_ts && e->ts_us < p->latest_ts - s->o.lateness_us &&
	    !s->rebuilding) {
		p = late_of(s, p);
		if (!p)
			return CL_ENOMEM;
	}
	if (e->ts_us > p->latest_ts)
		p->latest_ts = e->ts_us;
	snprintf(p->device, sizeof(p->device), "%s", e->device_id);
	vc = (struct verdict_ctx){ s, p, e->device_id };
	s->retro = p->shadow;
	if (src == SRC_FHIR) {
		/* charted, not streamed: no signal to check, and confirmed */
		s->charted = 1;
		rc = on_verdict(&vc, e->vital, e->ts_us, e->value, CL_QR_NONE);
		s->charted = 0;
		s->retro = 0;
		return rc;
	}
	rc = cl_quality_add(s->o.quality, &p->q, e->vital, e->ts_us, e->value, e->quality, on_verdict,
			    &vc) == CL_OK ? CL_OK : CL_ENOMEM;
	s->retro = 0;
	return rc;
}

/* Closes what a late timeline left open at its last reading (its episodes
 * ended before they were learned: the live timeline has newer readings),
 * then drops it. */
static int end_late(struct cl_stream *s, struct patient *p)
{
	struct patient *l = p->late;
	int rc = CL_OK;

	s->retro = 1;
	for (int i = 0; i < s->o.nrules && rc == CL_OK; i++)
		if (l->rs[i].alert > 0)
			rc = close_late(s, &l->rs[i], &s->o.rules[i], i, l->id, l->device, 0,
					l->latest_ts);
	s->retro = 0;
	if (rc == CL_OK) {
		cl_quality_patient_free(&l->q);
		cl_free(l->trend);
		cl_free(l);
		p->late = NULL;
	}
	return rc;
}

/* Late timelines no late reading came to for the idle timeout, ended. */
static int end_quiet_late(struct cl_stream *s)
{
	struct patient **at = &s->late_patients;
	int64_t now = cl_time_mono_us();

	while (*at) {
		struct patient *p = *at;
		int rc;

		if (now - p->late->late_mono < s->o.idle_flush_us) {
			at = &p->next_late;
			continue;
		}
		rc = end_late(s, p);
		if (rc)
			return rc;
		*at = p->next_late;
		p->next_late = NULL;
	}
	return CL_OK;
}

/* Alerts learned late from readings newer than any before (a device's
 * backlog after an outage) whose episodes are still going now that the
 * data caught up: live alerts after all, paged now. */
static void promote_patient(void *arg, const void *key, size_t len, void **value)
{
	struct cl_stream *s = arg;
	struct patient *p = *value;

	(void)key;
	(void)len;
	for (int i = 0; i < s->o.nrules && s->npending > 0; i++) {
		struct cl_rule_state *st = &p->rs[i];
		const struct cl_rule *r = &s->o.rules[i];

		if (!st->pending || st->alert <= 0)
			continue;
		if (cl_sink_alert_live(s->sink, st->alert) != CL_OK) {
			s->store_failed = 1;
			return;
		}
		note_alert(s, st->alert, r, p->id, p->device, "open", st->alert_since,
			   st->alert_raised, st->worst, NULL, 0, 0);
		atomic_fetch_add(&s->c.raised[i], 1);
		atomic_fetch_add(&s->c.open[i], 1);
		st->pending = 0;
		st->learned = 0;
		s->npending--;
	}
}

/* Event time has moved to now: suspect runs that have settled are
 * released to the rules. */
struct settle_ctx {
	struct cl_stream *s;
	int64_t now;
	int rc;
};

static void settle_patient(void *arg, const void *key, size_t len, void **value)
{
	struct settle_ctx *c = arg;
	struct patient *p = *value;
	struct verdict_ctx vc = { c->s, p, p->device };

	(void)key;
	(void)len;
	if (c->rc == CL_OK)
		c->rc = cl_quality_tick(c->s->o.quality, &p->q, c->now, on_verdict, &vc);
}

/* Applies one stored record: a device event (vitals) or a FHIR
 * Observation with any number of vital values (fhir). Invalid ones are
 * counted (they were validated at ingest, so only an older version's data
 * could be). */
static int apply(struct cl_stream *s, int src, struct cl_json_doc *doc, const struct cl_frame *f)
{
	struct cl_event ev;

	if (cl_json_parse(doc, (const char *)f->data, f->len) != CL_OK)
		goto invalid;
	if (src != SRC_FHIR) {
		struct cl_event_limits lim = { .max_future_us = INT64_MAX / 4,
					       .min_ts_us = INT64_MIN / 4 };

		if (cl_event_parse(doc, 0, f->ts_us, &lim, &ev) != CL_OK)
			goto invalid;
		return apply_value(s, src, f, &ev);
	}
	{
		struct cl_fhir_obs obs;
		const char *issue;
		int rt = doc->toks[0].type == CL_JSON_OBJECT ? cl_json_get(doc, 0, "resourceType") : -1;

		/* a REST write's Bundle (any resource type) is refine's, not vitals */
		if (rt >= 0 && cl_json_str_eq(doc, (uint32_t)rt, "Bundle"))
			return CL_OK;
		if (cl_fhir_obs_parse(doc, 0, f->ts_us, INT64_MAX / 4, &obs, &issue) != CL_OK)
			goto invalid;
		memset(&ev, 0, sizeof(ev));
		snprintf(ev.patient_id, sizeof(ev.patient_id), "%s", obs.patient_id);
		snprintf(ev.device_id, sizeof(ev.device_id), "%s", obs.device_id);
		ev.ts_us = obs.ts_us;
		for (int i = 0; i < obs.nvalues; i++) {
			int rc;

			ev.vital = obs.values[i].vital;
			ev.value = obs.values[i].value;
			rc = apply_value(s, src, f, &ev);
			if (rc)
				return rc;
		}
		return CL_OK;
	}
invalid:
	atomic_fetch_add(&s->c.invalid, 1);
	return CL_OK;
}

/* One queued record of another node's share: its device events (a JSON
 * object or an array of them) applied as replayed ones. Its windows are
 * given this node's position in its log as their offset: a restart here
 * replays from no earlier than that (and does not see these readings). */
static int rebuild_record(struct cl_stream *s, struct cl_json_doc *doc,
			  const struct rebuild_rec *q)
{
	struct cl_event_limits lim = { .max_future_us = INT64_MAX / 4, .min_ts_us = INT64_MIN / 4 };
	struct cl_frame f = { .offset = s->processed[0], .ts_us = cl_time_now_us(),
			      .data = (const uint8_t *)q->data, .len = (uint32_t)q->len };
	struct cl_event ev;
	int rc = CL_OK;

	if (cl_json_parse(doc, q->data, q->len) != CL_OK || doc->count == 0)
		goto invalid;
	if (doc->toks[0].type == CL_JSON_OBJECT) {
		if (cl_event_parse(doc, 0, f.ts_us, &lim, &ev) != CL_OK)
			goto invalid;
		return apply_value(s, 0, &f, &ev);
	}
	if (doc->toks[0].type != CL_JSON_ARRAY)
		goto invalid;
	for (uint32_t i = 1; i < doc->count && rc == CL_OK; i = doc->toks[i].next) {
		if (doc->toks[i].type != CL_JSON_OBJECT || cl_event_parse(doc, i, f.ts_us, &lim, &ev))
			continue;
		rc = apply_value(s, 0, &f, &ev);
	}
	return rc;
invalid:
	atomic_fetch_add(&s->c.invalid, 1);
	return CL_OK;
}

/* Applies what cl_stream_rebuild queued, before any record read after. */
static int apply_rebuild(struct cl_stream *s, struct cl_json_doc *doc)
{
	struct rebuild_rec *q;
	uint64_t n = 0;
	int rc = CL_OK;

	pthread_mutex_lock(&s->mu);
	q = s->rb_head;
	s->rb_head = s->rb_tail = NULL;
	s->rb_bytes = 0;
	pthread_mutex_unlock(&s->mu);
	if (!q)
		return CL_OK;
	s->replaying = s->rebuilding = 1;
	for (int i = 0; i < s->o.nwindows; i++)
		cl_window_set_replay(s->win[i], 1);
	while (q) {
		struct rebuild_rec *next = q->next;

		if (rc == CL_OK)
			rc = rebuild_record(s, doc, q);
		cl_free(q);
		n++;
		q = next;
	}
	s->replaying = s->rebuilding = 0;
	for (int i = 0; i < s->o.nwindows; i++)
		cl_window_set_replay(s->win[i], 0);
	pthread_mutex_lock(&s->mu);
	s->rb_applied += n;
	pthread_cond_broadcast(&s->rb_cond);
	pthread_mutex_unlock(&s->mu);
	return rc;
}

/* The patient's NEWS2 to the live outputs, when it changed. */
static void publish_news2(struct cl_stream *s, struct patient *p, const struct cl_news2 *n)
{
	char json[400], when[40];
	json_t *o;
	int len;

	if (s->replaying || !s->o.on_news2 || !s->o.want_vitals(s->o.hook_arg) ||
	    (p->live_news2[0] == n->total && p->live_news2[1] == (int)n->risk &&
	     p->live_news2[2] == n->present))
		return;
	p->live_news2[0] = n->total;
	p->live_news2[1] = (int)n->risk;
	p->live_news2[2] = n->present;
	cl_time_format_rfc3339(p->last_ts, when, sizeof(when), 3);
	o = json_pack("{s:s,s:s,s:i,s:s,s:i}", "patient_id", p->id, "ts", when, "score", n->total,
		      "risk", cl_news2_risk_name(n->risk), "parameters", n->present);
	len = o ? (int)json_dumpb(o, json, sizeof(json), JSON_COMPACT) : 0;
	json_decref(o);
	if (len > 0 && (size_t)len < sizeof(json))
		s->o.on_news2(s->o.hook_arg, json, (size_t)len, p->id);
}

static int write_news2(struct cl_stream *s)
{
	while (s->dirty) {
		struct patient *p = s->dirty;
		struct cl_news2 n;

		s->dirty = p->next_dirty;
		p->dirty = 0;
		cl_news2_compute(p->value, p->have, &n);
		if (cl_sink_news2(s->sink, p->id, p->last_ts, n.total, cl_news2_risk_name(n.risk),
				  n.scores, n.present) != CL_OK)
			return CL_ENOMEM;
		publish_news2(s, p, &n);
	}
	return CL_OK;
}

static void advance(struct cl_stream *s, int caught_up, int replaying)
{
	int64_t w = s->max_ts == INT64_MIN ? INT64_MIN : s->max_ts - s->o.lateness_us;
	uint64_t open = 0;

	/* quiet stream: let wall-clock time close windows (not while
	 * replaying old records, which would all look late) */
	if (caught_up && !replaying &&
	    cl_time_mono_us() - s->last_event_mono >= s->o.idle_flush_us) {
		int64_t wall = cl_time_now_us() - s->o.lateness_us;

		if (wall > w)
			w = wall;
	}
	for (int i = 0; i < s->o.nwindows; i++) {
		if (w != INT64_MIN)
			cl_window_advance(s->win[i], w);
		open += cl_window_open(s->win[i]);
	}
	if (w > s->watermark)
		s->watermark = w;
	atomic_store(&s->c.windows_open, open);
}

/* Whether a live log has records written that its reader has not read. */
static int live_waiting(struct cl_stream *s, struct cl_blog_reader *const all[NSOURCES])
{
	for (int src = 0; src < NSOURCES; src++)
		if (src != SRC_BACKLOG && all[src] &&
		    cl_blog_written_offset(s->log[src]) > cl_blog_reader_position(all[src]))
			return 1;
	return 0;
}

/* Reads and applies up to batch_records written records of log src (of
 * the backlog lane: in turns, see below). */
static long read_source(struct cl_stream *s, int src, struct cl_blog_reader *const all[NSOURCES],
			struct cl_json_doc *doc, uint64_t replay_upto, uint64_t durable,
			int *replaying)
{
	struct cl_blog_reader *r = all[src];
	struct cl_frame f;
	long n = 0;

	cl_blog_reader_set_end(r, durable);
	*replaying = cl_blog_reader_position(r) < replay_upto;
	for (int i = 0; i < s->o.nwindows; i++)
		cl_window_set_replay(s->win[i], *replaying);
	while ((uint32_t)n < s->o.batch_records) {
		int got, rc;

		/* the backlog lane gives way: its turn ends once a live log has
		 * something new (replaying, order does not matter), and it waits
		 * while the serving store's writer is behind, so that the
		 * processor never waits for the writer because of a backlog */
		if (src == SRC_BACKLOG && n % BACKLOG_TURN == 0 && !*replaying &&
		    ((n > 0 && live_waiting(s, all)) || cl_sink_behind(s->sink))) {
			s->backlog_held = n == 0 && cl_blog_reader_position(r) < durable;
			break;
		}
		got = cl_blog_reader_next(r, &f);
		if (got == 0)
			break;
		if (got == CL_ECORRUPT) {
			cl_log_error("stream", "event=corrupt_bronze source=%s detail=%s",
				     source_names[src], CL_LOG_Q(cl_error_detail()));
			continue;
		}
		if (got < 0)
			return got;
		if (f.offset >= replay_upto && *replaying) {
			*replaying = 0;
			for (int i = 0; i < s->o.nwindows; i++)
				cl_window_set_replay(s->win[i], 0);
		}
		s->replaying = *replaying;
		s->applied[src] = cl_blog_reader_position(r);
		rc = apply(s, src, doc, &f);
		if (rc)
			return rc;
		n++;
	}
	return n;
}

/* Reads and applies the logs before `upto` (the live ones: SRC_BACKLOG)
 * in order, each up to what is written now (into durable[]); adds the
 * records to *n. */
static int read_logs(struct cl_stream *s, struct cl_blog_reader *r[NSOURCES],
		     struct cl_json_doc *doc, const uint64_t replay_upto[NSOURCES], int upto,
		     uint64_t durable[NSOURCES], long *n, int *replaying)
{
	for (int src = 0; src < upto; src++) {
		int rp = 0;
		long got;

		if (!r[src])
			continue;
		/* ahead of durability: alerts need not wait for the fdatasync;
		 * the sink holds the rows until the records are durable */
		durable[src] = cl_blog_written_offset(s->log[src]);
		got = read_source(s, src, r, doc, replay_upto[src], durable[src], &rp);
		if (got < 0)
			return (int)got;
		*n += got;
		*replaying |= rp;
	}
	return CL_OK;
}

/* One batch: read each log, apply, advance, hand to the sink with the
 * checkpoints. Returns the records read, or < 0: then the in-memory state
 * is ahead of what will be stored, and the processor must stop (a
 * restart replays from the last checkpoints). */
static long step(struct cl_stream *s, struct cl_blog_reader *r[NSOURCES],
		 struct cl_json_doc *doc, const uint64_t replay_upto[NSOURCES])
{
	uint64_t durable[NSOURCES] = { 0 }, need[NSOURCES] = { 0 };
	long n = 0;
	int rc = CL_OK, replaying = 0, caught_up = 1, live_caught_up = 1;
	struct ext_alert *ext;

	pthread_mutex_lock(&s->mu);
	ext = s->ext;
	s->ext = NULL;
	pthread_mutex_unlock(&s->mu);
	while (ext) {
		struct ext_alert *next = ext->next;
		int64_t now = cl_time_now_us();

		if (rc == CL_OK)
			rc = cl_sink_alert_open(s->sink, s->last_alert_id + 1, ext->name, "clinical", "",
						ext->subject, ext->severity, now, now, 0, ext->message, 0);
		if (rc == CL_OK) {
			s->last_alert_id++;
			note_alert(s, s->last_alert_id, &ext->rule, "", ext->subject, "open", now, now,
				   0, ext->message, 0, 0);
		}
		cl_free(ext);
		ext = next;
	}
	if (rc == CL_OK)
		rc = apply_rebuild(s, doc);

	/* the live logs, then the backlog lane; when the lane gave way to
	 * live records, those are read at once, in this step, rather than
	 * after its end (windows advanced, late spans corrected, rows handed
	 * to the store), which is what a live alert would otherwise wait for */
	if (rc == CL_OK)
		rc = read_logs(s, r, doc, replay_upto, NSOURCES, durable, &n, &replaying);
	if (rc == CL_OK && r[SRC_BACKLOG] && live_waiting(s, r))
		rc = read_logs(s, r, doc, replay_upto, SRC_BACKLOG, durable, &n, &replaying);
	for (int src = 0; src < NSOURCES; src++) {
		if (!r[src])
			continue;
		caught_up &= cl_blog_reader_position(r[src]) >= durable[src];
		if (src != SRC_BACKLOG)
			live_caught_up &= cl_blog_reader_position(r[src]) >= durable[src];
	}
	s->behind = !caught_up;
	if (rc == CL_OK) {
		advance(s, caught_up, replaying);
		s->replaying = replaying;
		rc = s->store_failed ? CL_ENOMEM : CL_OK;
		/* event time moved on: suspect readings that have held their
		 * settle time are released to the rules */
		if (rc == CL_OK && !replaying && s->max_ts != INT64_MIN &&
		    s->max_ts - s->last_settle_ts >= 1000000) {
			struct settle_ctx c = { s, s->max_ts, CL_OK };

			s->last_settle_ts = s->max_ts;
			cl_map_foreach(s->patients, settle_patient, &c);
			rc = c.rc;
		}
		if (rc == CL_OK)
			rc = write_news2(s);
		/* late data absorbed: what was learned late is settled */
		if (rc == CL_OK && caught_up && !replaying && s->late_patients)
			rc = end_quiet_late(s);
		if (rc == CL_OK && caught_up && !replaying && s->npending > 0) {
			cl_map_foreach(s->patients, promote_patient, s);
			rc = s->store_failed ? CL_ENOMEM : CL_OK;
		}
		/* silence on the stream's clock: the latest event time, or the
		 * wall clock once the whole stream has gone quiet (a backlog
		 * still being applied does not hold it up) */
		if (rc == CL_OK && live_caught_up && !replaying && s->silence_ri >= 0 &&
		    cl_time_mono_us() - s->last_silence_mono >= 250000) {
			int64_t clock = s->max_ts;
			struct silence_ctx c = { s, s->silence_ri, 0, CL_OK };

			if (cl_time_mono_us() - s->last_event_mono >= s->o.idle_flush_us &&
			    cl_time_now_us() > clock)
				clock = cl_time_now_us();
			c.now = clock;
			s->last_silence_mono = cl_time_mono_us();
			cl_map_foreach(s->devices, check_silence, &c);
			rc = c.rc;
		}
	}
	/* walking every open window is costly: once a second is enough.
	 * Taking the position into the minimum too makes it a value that
	 * only grows (windows opened later hold later offsets), so an older
	 * value replays a little more than needed, never less. */
	if (rc == CL_OK && cl_time_mono_us() - s->last_scan_mono >= 1000000) {
		for (int src = 0; src < NSOURCES; src++) {
			uint64_t min_off;

			if (!r[src])
				continue;
			min_off = cl_blog_reader_position(r[src]);
			for (int i = 0; i < s->o.nwindows; i++) {
				uint64_t m = cl_window_min_offset(s->win[i], src);

				if (m < min_off)
					min_off = m;
			}
			assert(min_off >= s->replay_from[src]); /* only grows (above) */
			s->replay_from[src] = min_off;
		}
		s->last_scan_mono = cl_time_mono_us();
	}
	for (int src = 0; src < NSOURCES && rc == CL_OK; src++) {
		uint64_t pos;

		if (!r[src])
			continue;
		pos = cl_blog_reader_position(r[src]);
		if (pos > s->processed[src])
			s->processed[src] = pos;
		rc = cl_sink_checkpoint(s->sink, consumers[src], s->processed[src],
					s->replay_from[src] < s->processed[src] ? s->replay_from[src]
										: s->processed[src]);
	}
	if (rc == CL_OK)
		rc = outbox_notes(s);
	if (rc == CL_OK)
		rc = flush_late(s);
	if (rc == CL_OK && s->watermark != INT64_MIN)
		rc = cl_sink_watermark(s->sink, s->watermark);
	for (int src = 0; src < NSOURCES; src++)
		need[src] = r[src] ? cl_blog_reader_position(r[src]) : 0;
	if (rc == CL_OK)
		rc = cl_sink_flush(s->sink, need);
	json_decref(s->notes); /* left by a failure before the outbox */
	s->notes = NULL;
	if (rc != CL_OK)
		return rc;
	uint64_t late = 0;

	for (int i = 0; i < s->o.nwindows; i++)
		late += cl_window_late(s->win[i]);
	atomic_store(&s->c.late, late);
	for (int src = 0; src < NSOURCES; src++)
		atomic_store(&s->c.processed[src], s->processed[src]);
	return n;
}

/* An alert left open by the previous run: hold it open here too. */
static void load_open_alert(void *arg, int64_t id, const char *rule, const char *patient,
			    const char *device)
{
	struct cl_stream *s = arg;

	for (int i = 0; i < s->o.nrules; i++) {
		if (strcmp(s->o.rules[i].name, rule) != 0)
			continue;
		if (s->o.rules[i].what == CL_WHAT_SILENCE) {
			struct device *d = device_of(s, device);

			if (d) {
				d->alert = id;
				snprintf(d->patient, sizeof(d->patient), "%s", patient);
			}
		} else {
			struct patient *p = patient_of(s, patient);

			if (p)
				p->rs[i].alert = id;
		}
		atomic_fetch_add(&s->c.open[i], 1);
	}
}

static void stream_main(struct cl_worker *w, void *arg)
{
	struct cl_stream *s = arg;
	struct cl_blog_reader *r[NSOURCES] = { NULL };
	struct cl_json_doc doc;
	uint64_t replay_upto[NSOURCES] = { 0 };
	struct cl_store *st = NULL;
	int rc;

	cl_json_doc_init(&doc);
	/* what the last run committed, read on a connection of our own */
	rc = cl_store_open(s->data_dir, &st);
	for (int src = 0; rc == CL_OK && src < NSOURCES; src++) {
		rc = cl_store_checkpoint_get(st, consumers[src], &s->processed[src],
					     &s->replay_from[src]);
		if (rc == CL_ENOENT) {
			s->processed[src] = s->replay_from[src] = 0;
			rc = CL_OK;
		}
	}
	if (rc == CL_OK)
		rc = cl_store_alert_max_id(st, &s->last_alert_id);
	/* windows closed before this start may be stored: what falls in them
	 * corrects them, whatever the replay rebuilds */
	if (rc == CL_OK)
		rc = cl_store_watermark_get(st, &s->watermark);
	for (int i = 0; rc == CL_OK && i < s->o.nwindows; i++)
		cl_window_set_stored(s->win[i], s->watermark);
	if (rc == CL_OK && cl_store_alerts_open_each(st, load_open_alert, s) != CL_OK)
		cl_log_error("stream", "event=cannot_load_alerts detail=%s",
			     CL_LOG_Q(cl_error_detail()));
	cl_store_close(st);
	for (int src = 0; rc == CL_OK && src < NSOURCES; src++) {
		char dir[PATH_MAX];

		if (!s->log[src])
			continue;
		rc = cl_bronze_source_dir(dir, sizeof(dir), s->data_dir, source_names[src]);
		if (rc == CL_OK)
			rc = cl_blog_reader_open(dir, s->replay_from[src],
						 cl_blog_written_offset(s->log[src]),
						 s->o.record_max_bytes, &r[src]);
		replay_upto[src] = s->processed[src];
		cl_log_info("stream", "event=started source=%s processed=%llu replay_from=%llu",
			    source_names[src], (unsigned long long)s->processed[src],
			    (unsigned long long)s->replay_from[src]);
	}
	if (rc != CL_OK) {
		cl_log_error("stream", "event=cannot_start detail=%s", CL_LOG_Q(cl_error_detail()));
		s->failed = 1;
		atomic_store(&s->c.stopped, 1);
		goto out;
	}
	for (;;) {
		long n = step(s, r, &doc, replay_upto);
		int stop;

		release_held(s, 0);
		if (n < 0) {
			cl_log_error("stream", "event=stopped detail=%s "
				     "remedy=\"restart: processing resumes from the last "
				     "checkpoint\"", CL_LOG_Q(cl_error_detail()));
			s->failed = 1;
			atomic_store(&s->c.stopped, 1);
			break;
		}
		/* a full batch, or a backlog's turn that gave way: more is
		 * waiting, take only a pending poke; a backlog held for the
		 * writer: look again shortly */
		stop = cl_worker_wait(w, s->backlog_held ? 5000
				      : n < (long)s->o.batch_records && !(n > 0 && s->behind) ? 50000
				      : 0);
		s->backlog_held = 0;
		if (stop && n <= 0)
			break;
	}
out:
	release_held(s, 1);
	pthread_mutex_lock(&s->mu);
	s->rb_closed = 1;
	pthread_cond_broadcast(&s->rb_cond);
	pthread_mutex_unlock(&s->mu);
	for (int src = 0; src < NSOURCES; src++)
		cl_blog_reader_close(r[src]);
	cl_json_doc_free(&doc);
}

/* Checkpoints the serving store's WAL once a second on its own
 * connection, so no commit an alert waits for ever does it. */
static void wal_main(struct cl_worker *w, void *arg)
{
	struct cl_stream *s = arg;
	struct cl_store *st;
	int stop = 0;

	/* behind the alert path: storing can wait a moment, alerts cannot */
	setpriority(PRIO_PROCESS, (id_t)syscall(SYS_gettid), 10);
	if (cl_store_open(s->data_dir, &st) != CL_OK) {
		cl_log_error("stream", "event=no_wal_checkpoints detail=%s",
			     CL_LOG_Q(cl_error_detail()));
		return;
	}
	while (!stop) {
		stop = cl_worker_wait(w, 1000000);
		cl_store_wal_checkpoint(st);
	}
	cl_store_close(st);
}

static void free_plain(void *p)
{
	cl_free(p);
}

static void free_patient(void *arg)
{
	struct patient *p = arg;

	if (p->late)
		free_patient(p->late);
	cl_quality_patient_free(&p->q);
	cl_free(p->trend);
	cl_free(p);
}

/* Which vitals the trend rules follow, each its slot in patient->trend;
 * whether any technical rule watches the quality conditions; which rule
 * watches for silence (decided once, not on every reading). A trend
 * window longer than the ring keeps is refused. */
static int plan_rules(struct cl_stream *s)
{
	for (int v = 0; v < CL_VITAL_COUNT; v++)
		s->trend_slot[v] = -1;
	s->silence_ri = -1;
	for (int i = 0; i < s->o.nrules; i++) {
		const struct cl_rule *r = &s->o.rules[i];

		if (!r->enabled)
			continue;
		if (r->what == CL_WHAT_SILENCE && s->silence_ri < 0)
			s->silence_ri = i;
		if (r->what == CL_WHAT_QUALITY)
			s->technical_rules = 1;
		if (r->what != CL_WHAT_TREND)
			continue;
		if (r->window_us > TREND_WINDOW_MAX_US)
			return cl_error_set(CL_EINVAL, "alerts.%s.window: at most 60m", r->name);
		for (int k = 0; k < r->ntrend; k++)
			if (s->trend_slot[r->trend[k].vital] < 0)
				s->trend_slot[r->trend[k].vital] = s->ntrend_slots++;
		if ((int)(r->window_us / 60000000) + 3 > s->trend_ring)
			s->trend_ring = (int)(r->window_us / 60000000) + 3;
	}
	return CL_OK;
}

int cl_stream_start(const char *data_dir, struct cl_blog *vitals, struct cl_blog *fhir,
		    struct cl_blog *backlog,
		    const struct cl_stream_options *o, struct cl_stream **out)
{
	struct cl_stream *s = cl_calloc(1, sizeof(*s));
	int rc;

	if (!s)
		return cl_error_set(CL_ENOMEM, "no memory for the stream processor");
	s->o = *o;
	s->log[SRC_VITALS] = vitals;
	s->log[SRC_FHIR] = fhir;
	s->log[SRC_BACKLOG] = backlog;
	s->max_ts = INT64_MIN;
	s->watermark = INT64_MIN;
	s->last_event_mono = cl_time_mono_us(); /* quiet is measured from start */
	snprintf(s->data_dir, sizeof(s->data_dir), "%s", data_dir);
	pthread_mutex_init(&s->mu, NULL);
	pthread_cond_init(&s->rb_cond, NULL);
	rc = plan_rules(s);
	if (rc == CL_OK) {
		struct cl_store *st;

		rc = cl_store_create(data_dir, &st);
		if (rc == CL_OK && (rc = cl_store_set_writer(st)) != CL_OK)
			cl_store_close(st);
		/* alerts learned late whose end a restart lost end where they
		 * were confirmed */
		if (rc == CL_OK && (rc = cl_store_alerts_end_retrospective(st)) != CL_OK)
			cl_store_close(st);
		if (rc == CL_OK)
			cl_store_rollup_outbox_window(st, o->rollup_window);
		if (rc == CL_OK)
			rc = cl_sink_start(st, s->log, 0, o->on_outbox, o->hook_arg, &s->sink);
		if (rc == CL_OK && o->on_rollup_corrected)
			cl_sink_on_corrected(s->sink, o->on_rollup_corrected, o->want_vitals,
					     o->hook_arg);
	}
	if (rc == CL_OK)
		rc = cl_map_create(&s->patients);
	if (rc == CL_OK)
		rc = cl_map_create(&s->devices);
	if (rc == CL_OK)
		rc = cl_map_create(&s->refs);
	if (rc == CL_OK && o->reference_path[0])
		rc = load_reference(s, o->reference_path);
	for (int i = 0; rc == CL_OK && i < o->nwindows; i++)
		rc = cl_window_op_create(&o->windows[i], on_window, s, &s->win[i]);
	if (rc == CL_OK)
		rc = cl_worker_start("cl-stream", stream_main, s, &s->worker);
	if (rc == CL_OK)
		rc = cl_worker_start("cl-wal", wal_main, s, &s->wal);
	if (rc) {
		char msg[512];

		snprintf(msg, sizeof(msg), "%s", cl_error_detail());
		cl_stream_stop(s);
		return cl_error_set(rc, "%s", msg);
	}
	*out = s;
	return CL_OK;
}

/* The names an outside alert may carry: static, as the sink needs. */
static const char *const ext_rules[] = { "pipeline_failed" };
static const char *const severities[] = { "warning", "urgent", "critical", "emergency" };

static const char *intern(const char *v, const char *const *list, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (strcmp(v, list[i]) == 0)
			return list[i];
	return NULL;
}

void cl_stream_raise(struct cl_stream *s, const char *rule, const char *severity,
		     const char *subject, const char *message)
{
	const char *r = intern(rule, ext_rules, sizeof(ext_rules) / sizeof(ext_rules[0]));
	const char *sev = intern(severity, severities, sizeof(severities) / sizeof(severities[0]));
	struct ext_alert *e;

	if (!s)
		return;
	if (!r || !sev) {
		cl_log_error("stream", "event=alert_refused rule=%s severity=%s", CL_LOG_Q(rule),
			     CL_LOG_Q(severity));
		return;
	}
	e = cl_calloc(1, sizeof(*e));
	if (!e) {
		cl_log_error("stream", "event=alert_lost rule=%s detail=\"out of memory\"",
			     CL_LOG_Q(rule));
		return;
	}
	e->name = r;
	e->severity = sev;
	snprintf(e->rule.name, sizeof(e->rule.name), "%s", rule);
	snprintf(e->rule.severity, sizeof(e->rule.severity), "%s", severity);
	snprintf(e->rule.description, sizeof(e->rule.description), "%s", message);
	snprintf(e->subject, sizeof(e->subject), "%s", subject);
	snprintf(e->message, sizeof(e->message), "%s", message);
	pthread_mutex_lock(&s->mu);
	e->next = s->ext;
	s->ext = e;
	pthread_mutex_unlock(&s->mu);
	cl_worker_poke(s->worker);
}

void cl_stream_durable(struct cl_stream *s)
{
	if (!s)
		return;
	cl_sink_poke(s->sink);
	if (s->o.live_after_durable)
		cl_worker_poke(s->worker);
}

void cl_stream_poke(struct cl_stream *s)
{
	if (s)
		cl_worker_poke(s->worker);
}

int cl_stream_rebuild(struct cl_stream *s, const void *rec, size_t len)
{
	struct rebuild_rec *q;
	int closed;

	if (len > s->o.record_max_bytes)
		return CL_OK; /* bronze would not have taken it either */
	q = cl_malloc(sizeof(*q) + len);
	if (!q)
		return cl_error_set(CL_ENOMEM, "no memory to rebuild stream state");
	q->next = NULL;
	q->len = len;
	memcpy(q->data, rec, len);
	pthread_mutex_lock(&s->mu);
	closed = s->rb_closed;
	if (!closed) {
		if (s->rb_tail)
			s->rb_tail->next = q;
		else
			s->rb_head = q;
		s->rb_tail = q;
		s->rb_bytes += len;
		s->rb_queued++;
	}
	pthread_mutex_unlock(&s->mu);
	if (closed) {
		cl_free(q);
		return cl_error_set(CL_ECLOSED, "the stream processor has stopped");
	}
	return CL_OK;
}

int cl_stream_rebuild_wait(struct cl_stream *s, int64_t timeout_us)
{
	int64_t until = cl_time_now_us() + timeout_us;
	int rc = CL_OK;

	cl_worker_poke(s->worker);
	pthread_mutex_lock(&s->mu);
	while (s->rb_applied < s->rb_queued && rc == CL_OK) {
		struct timespec ts;
		int64_t at = cl_time_now_us() + 100000;

		if (s->rb_closed)
			rc = cl_error_set(CL_ECLOSED, "the stream processor has stopped");
		else if (cl_time_now_us() >= until)
			rc = cl_error_set(CL_EBUSY, "the stream took too long to rebuild its state");
		if (rc)
			break;
		if (at > until)
			at = until;
		ts.tv_sec = (time_t)(at / 1000000);
		ts.tv_nsec = (long)(at % 1000000) * 1000;
		pthread_cond_timedwait(&s->rb_cond, &s->mu, &ts);
	}
	pthread_mutex_unlock(&s->mu);
	return rc;
}

void cl_stream_stop(struct cl_stream *s)
{
	if (!s)
		return;
	cl_worker_stop(s->worker);
	cl_sink_stop(s->sink); /* writes all that was handed over */
	cl_worker_stop(s->wal); /* then folds it into the database */
	while (s->ext) {
		struct ext_alert *next = s->ext->next;

		cl_free(s->ext);
		s->ext = next;
	}
	while (s->rb_head) {
		struct rebuild_rec *next = s->rb_head->next;

		cl_free(s->rb_head);
		s->rb_head = next;
	}
	for (int i = 0; i < s->o.nwindows; i++)
		cl_window_op_destroy(s->win[i]);
	cl_free(s->late);
	cl_free(s->late_ix);
	cl_map_destroy(s->patients, free_patient);
	cl_map_destroy(s->devices, free_plain);
	cl_map_destroy(s->refs, free_plain);
	pthread_mutex_destroy(&s->mu);
	pthread_cond_destroy(&s->rb_cond);
	cl_free(s);
}

const struct cl_stream_counters *cl_stream_counters(const struct cl_stream *s)
{
	return &s->c;
}

void cl_stream_store_stats(struct cl_stream *s, struct cl_sink_stats *st)
{
	cl_sink_stats(s->sink, st);
}

int cl_stream_behind(struct cl_stream *s)
{
	uint64_t lag = 0;

	if (s->sink && cl_sink_behind(s->sink))
		return 1;
	if (s->o.bulk_lag == 0)
		return 0;
	/* the live logs': a backlog lane behind holds up no live reading */
	for (int src = 0; src < NSOURCES; src++) {
		uint64_t w = s->log[src] && src != SRC_BACKLOG ? cl_blog_written_offset(s->log[src]) : 0;
		uint64_t a = atomic_load(&s->c.processed[src]);

		lag += w > a ? w - a : 0;
	}
	return lag > s->o.bulk_lag;
}

void cl_stream_metrics(struct cl_stream *s, struct cl_prom *p)
{
	static const double store_le[11] = { 0.00025, 0.0005, 0.001, 0.002, 0.004, 0.008,
					      0.016, 0.032, 0.064, 0.128, 0.256 };
	const struct cl_stream_counters *sc = &s->c;
	uint64_t lag[NSOURCES], events_lag = 0;
	struct cl_sink_stats ks;

	for (int src = 0; src < NSOURCES; src++) {
		uint64_t processed = atomic_load(&sc->processed[src]);
		uint64_t next = s->log[src] ? cl_blog_durable_offset(s->log[src]) : 0;

		lag[src] = next > processed ? next - processed : 0;
		if (src != SRC_FHIR)
			events_lag += lag[src];
	}

	cl_prom_counter(p, "carelake_stream_events_total",
			"Vital values applied by the stream processor.", atomic_load(&sc->events));
	cl_sink_stats(s->sink, &ks);
	cl_prom_counter(p, "carelake_stream_late_events_total",
			"Events that arrived after their windows closed (their windows are "
			"corrected from the stored values).", atomic_load(&sc->late));
	cl_prom_counter(p, "carelake_stream_rollups_total", "Closed windows written.",
			atomic_load(&sc->rollups));
	cl_prom_counter(p, "carelake_stream_rollups_corrected_total",
			"Windows changed by late values after they were final (each a new "
			"revision, status corrected).", ks.rollups_corrected);
	cl_prom_counter(p, "carelake_stream_rollups_recomputed_total",
			"Windows computed again from the stored values: late values, replays, "
			"sessions merging.", ks.rollups_recomputed);
	cl_prom_gauge(p, "carelake_stream_lag_records",
		      "Durable device events not yet processed (vitals and vitals-backlog).",
		      (double)events_lag);
	cl_prom_head(p, "carelake_stream_source_lag_records", "gauge",
		     "Durable records not yet processed, by bronze source (vitals-backlog: device "
		     "events that arrived long after their time, applied after live ones).");
	for (int src = 0; src < NSOURCES; src++)
		if (s->log[src])
			cl_prom_put(p, "carelake_stream_source_lag_records{source=\"%s\"} %llu\n",
				    source_names[src], (unsigned long long)lag[src]);
	cl_prom_gauge(p, "carelake_stream_windows_open", "Windows open now.",
		      (double)atomic_load(&sc->windows_open));
	cl_prom_head(p, "carelake_alerts_raised_total", "counter", "Alerts raised, by rule.");
	for (int i = 0; i < s->o.nrules; i++)
		cl_prom_put(p, "carelake_alerts_raised_total{rule=\"%s\"} %llu\n", s->o.rules[i].name,
			    (unsigned long long)atomic_load(&sc->raised[i]));
	cl_prom_head(p, "carelake_alerts_retrospective_total", "counter",
		     "Alerts learned from late data after their episodes ended (recorded, not "
		     "paged), by rule.");
	for (int i = 0; i < s->o.nrules; i++)
		cl_prom_put(p, "carelake_alerts_retrospective_total{rule=\"%s\"} %llu\n",
			    s->o.rules[i].name,
			    (unsigned long long)atomic_load(&sc->retrospective[i]));
	cl_prom_head(p, "carelake_alerts_open", "gauge", "Alerts open now, by rule.");
	for (int i = 0; i < s->o.nrules; i++)
		cl_prom_put(p, "carelake_alerts_open{rule=\"%s\"} %lld\n", s->o.rules[i].name,
			    (long long)atomic_load(&sc->open[i]));
	cl_prom_head(p, "carelake_quality_readings_total", "counter",
		     "Readings by signal quality verdict: clean, or the artifact check that caught "
		     "them.");
	for (int i = 0; i < CL_QR_COUNT; i++)
		cl_prom_put(p, "carelake_quality_readings_total{verdict=\"%s\"} %llu\n",
			    cl_quality_reason_name((enum cl_quality_reason)i),
			    (unsigned long long)atomic_load(&sc->quality[i]));
	cl_prom_head(p, "carelake_alerts_held_total", "counter",
		     "Alerts held back, by reason (each recorded in alert_held).");
	for (int i = 0; i < 3; i++)
		cl_prom_put(p, "carelake_alerts_held_total{reason=\"%s\"} %llu\n", held_reasons[i],
			    (unsigned long long)atomic_load(&sc->held[i]));
	cl_prom_gauge(p, "carelake_stream_up",
		      "1 while the stream processor runs; 0 after it stopped on an error.",
		      !atomic_load(&sc->stopped));
	cl_prom_histogram(p, "carelake_store_commit_seconds",
			  "Time to commit one batch of the stream's output to the serving store.",
			  NULL, store_le, ks.commit_us, 11, (double)ks.commit_us_sum / 1e6, ks.commits);
	cl_prom_counter(p, "carelake_store_commit_failures_total",
			"Serving-store commits that failed and were retried.", ks.failures);
	cl_prom_gauge(p, "carelake_store_pending_bytes",
		      "Stream output waiting to be committed.", (double)ks.pending_bytes);
	cl_prom_counter(p, "carelake_store_full_waits_total",
			"Times the stream waited for the serving store's writer because its "
			"queue was full (64 MiB); live alerts wait with it.", ks.full_waits);
	cl_prom_head(p, "carelake_store_full_wait_seconds_total", "counter",
		     "Time the stream spent waiting for room in the writer's queue.");
	cl_prom_put(p, "carelake_store_full_wait_seconds_total %.6f\n",
		    (double)ks.full_wait_us / 1e6);
	cl_prom_gauge(p, "carelake_store_waiting_for_disk",
		      "1 while the serving store puts its commits off because its disk is "
		      "nearly full (bronze keeps the room that is left).", ks.disk_waiting);
	cl_prom_counter(p, "carelake_store_disk_waits_total",
			"Serving-store commits put off for want of disk space.", ks.disk_waits);
}

const char *cl_stream_log(size_t i)
{
	return i < NSOURCES ? source_names[i] : NULL;
}

uint64_t cl_stream_position(struct sqlite3 *db, const char *log)
{
	for (size_t i = 0; i < NSOURCES; i++)
		if (strcmp(source_names[i], log) == 0)
			return cl_store_checkpoint_of(db, consumers[i]);
	return 0;
}
