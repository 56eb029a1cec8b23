/*
 * Inputs: every way records come into carelake — device events and FHIR
 * over HTTP, MQTT, the simulator, and later Kafka and watched folders — is
 * an instance of one plugin interface (after Fluent Bit's flb_input), and
 * `serve` starts the inputs its config names (`ingest.inputs`).
 *
 * A plugin lives in its own folder under plugins/, declares itself with
 * one struct of designated initialisers, owns its settings section (its
 * own keys, <section>.*) and is listed once in src/modules.c. Its
 * instance owns its ingest: the validation of what it takes, its counters,
 * its retry when bronze pushes back. What it stores goes to the bronze
 * source of its kind (device events to `vitals`, FHIR resources to
 * `fhir`), whose idempotency set it shares with the other inputs of that
 * source: an event retried through another input is still a duplicate.
 *
 * An input fed by HTTP (events, fhir) has no thread: the endpoints find it
 * by name (cl_inputs_find) and queue through its ingest. An input with a
 * connection of its own (mqtt) starts its threads in cb_start. An input
 * that is polled (synthetic) has a cb_collect, called every `interval_us`
 * by a collector thread the set runs for it.
 */
#ifndef CL_INPUT_H
#define CL_INPUT_H

#include "bronze/cl_blog.h"
#include "core/cl_config.h"
#include "ingest/cl_ingest.h"

#include <stddef.h>
#include <stdint.h>

struct cl_prom;
struct cl_bronze;

/* What an input stores, and so which bronze source and stream it feeds. */
enum cl_input_kind {
	CL_INPUT_EVENTS,   /* device events (cl_event.h), bronze source "vitals" */
	CL_INPUT_FHIR,     /* FHIR resources, bronze source "fhir" */
};

/* A running input. */
struct cl_input {
	const struct cl_input_plugin *p;
	const char *source;              /* its bronze source */
	struct cl_blog *log;             /* that source's log */
	struct cl_ingest *ingest;        /* its validation, counters, idempotency */
	const struct cl_config *cfg;     /* the server's configuration */
	const char *data_dir;            /* the data directory */
	void *state;                     /* the plugin's */
	struct cl_worker *collector;     /* polled inputs: the thread calling cb_collect */
	/* The stream's state rebuild (cl_inputs_set_rebuild; NULL: none): an
	 * input that takes over a share of a source partitioned between nodes
	 * (a Kafka partition) hands that share's recent records to rebuild,
	 * then waits with rebuild_wait until the stream has applied them,
	 * before it stores anything of that share. */
	int (*rebuild)(void *arg, const void *rec, size_t len);
	int (*rebuild_wait)(void *arg, int64_t timeout_us);
	void *rebuild_arg;
	/* 1 from its cb_start's return until cl_inputs_stop: only then do
	 * other threads (/metrics, the flusher's commits) call into state */
	_Atomic int running;
};

/* Where a polled input hands one record: 0, CL_EBUSY (bronze is full: the
 * plugin keeps the record and offers it again at its next collect), or
 * another CL_E* code. */
typedef int (*cl_emit_fn)(void *arg, const void *rec, size_t len);

struct cl_input_plugin {
	const char *name;                    /* in ingest.inputs, logs and metrics */
	const char *description;             /* one line */
	enum cl_input_kind kind;
	const struct cl_config_section *settings;  /* its section (NULL: none) */
	/* Makes the instance's state from in->cfg. CL_ENOENT: not configured
	 * (mqtt without a broker): the input is off, said once in the log. */
	int (*cb_init)(struct cl_input *in, void **state);
	/* Starts what it runs on its own (NULL: nothing). */
	int (*cb_start)(struct cl_input *in);
	/* Polled inputs: emits the records due by now_us; how many, or < 0. */
	int (*cb_collect)(void *state, int64_t now_us, cl_emit_fn emit, void *arg);
	int64_t interval_us;                 /* how often cb_collect runs */
	/* Its source's log committed batches up to `batch` (from the flusher;
	 * must be cheap). */
	void (*cb_on_commit)(struct cl_input *in, uint64_t batch);
	/* Its own part of /metrics (NULL: only the ingest counters). */
	void (*cb_metrics)(struct cl_input *in, struct cl_prom *p);
	/* Stops what it runs and frees its state. */
	void (*cb_exit)(struct cl_input *in);
};

/* The input plugins, NULL-terminated (src/modules.c). */
extern const struct cl_input_plugin *const cl_input_plugins[];

/* The plugin of that name, or NULL. */
const struct cl_input_plugin *cl_input_plugin_find(const char *name);

/* The bronze source an input kind stores into. */
const char *cl_input_kind_source(enum cl_input_kind kind);

struct cl_inputs;

/*
 * Opens what the inputs named in cfg's ingest.inputs need: their bronze
 * sources' logs (in `bronze`), each source's idempotency set (rebuilt
 * from the newest records bronze keeps, so a retry after a restart is
 * still a duplicate) and each input's ingest, and initialises them. The
 * events and fhir sources are always opened (the stream follows them).
 * Nothing runs yet: cl_inputs_run.
 */
int cl_inputs_open(const struct cl_config *cfg, const char *data_dir, struct cl_bronze *bronze,
		   struct cl_inputs **out);

/* Gives the device-event inputs the stream's state rebuild (before
 * cl_inputs_run). */
void cl_inputs_set_rebuild(struct cl_inputs *set, int (*rebuild)(void *, const void *, size_t),
			   int (*wait)(void *, int64_t), void *arg);

/* Starts the inputs' threads and collectors. */
int cl_inputs_run(struct cl_inputs *set);

/* The running input of that name, or NULL (not named, or off). */
struct cl_input *cl_inputs_find(struct cl_inputs *set, const char *name);

/* The bronze log of a kind's source. */
struct cl_blog *cl_inputs_log(struct cl_inputs *set, enum cl_input_kind kind);

/* The device events' backlog lane: the log of source vitals-backlog,
 * where the HTTP events input puts events older than
 * ingest.backlog_after on arrival (CL_INGEST_BACKLOG). */
struct cl_blog *cl_inputs_backlog_log(struct cl_inputs *set);

/* A commit of log up to batch: tells the inputs on it (from the flusher). */
void cl_inputs_on_commit(struct cl_inputs *set, struct cl_blog *log, uint64_t batch);

/* Renders the inputs' part of /metrics: device events received, accepted,
 * rejected, duplicate (over every device-event input, as before inputs had
 * names), the same by input, and each input's own. */
void cl_inputs_metrics(struct cl_inputs *set, struct cl_prom *p);

/* Stops the inputs' threads (nothing new comes in; the logs stay open). */
void cl_inputs_stop(struct cl_inputs *set);

/* Frees the set (after cl_inputs_stop, and after the logs' last commit).
 * NULL: no-op. */
void cl_inputs_destroy(struct cl_inputs *set);

/* The inputs started, for the log: "events, fhir, mqtt". */
void cl_inputs_names(struct cl_inputs *set, char *buf, size_t cap);

#endif
