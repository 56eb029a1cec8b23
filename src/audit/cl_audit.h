/*
 * The audit trail: who read, searched, exported, created, changed or
 * acknowledged which patient's data, and every refused request, kept in
 * append-only files under <data>/audit/ apart from the serving database,
 * so that it can be shipped, archived and verified on its own.
 *
 * Files: audit-000001.jsonl, audit-000002.jsonl, ... (one JSON record a
 * line, see cl_audit_line.h), the signing key's public half in
 * signing.pub (one hex key a line: every key that ever signed), the latest
 * signed checkpoint in head.json, and .lock. carelake never deletes them.
 *
 * Writing is group-committed like the bronze log's: any number of threads
 * (and processes: serve and the CLI at once) append; one flusher thread
 * takes what has been queued, chains and writes it with one write and
 * makes it durable with one fdatasync, holding the directory's lock for
 * the commit only. An append returns a ticket at once; the ticket is
 * durable once cl_audit_durable() reaches it, which the flusher announces
 * through a callback and an eventfd, so an event loop can hold a reply
 * until its record is durable without blocking a thread.
 * cl_audit_append_sync waits (for the CLI).
 *
 * Every checkpoint_records records or checkpoint_interval, and at close,
 * the flusher appends a checkpoint signed with Ed25519 (the key
 * "audit-signing" of the keys directory) covering the chain head.
 *
 * Opening recovers a torn tail (a last line cut short by a crash, or a
 * run of zero bytes the file system left): it is truncated at the last
 * whole line and the dropped bytes are logged. A whole line that fails its
 * hash is never truncated: it is evidence, and `carelake audit verify`
 * names it.
 */
#ifndef CL_AUDIT_H
#define CL_AUDIT_H

#include <stddef.h>
#include <stdint.h>

/*
 * One audited action, as the caller describes it. Strings are borrowed for
 * the call; NULL or "" members are left out of the record.
 */
struct cl_audit_record {
	int64_t time_us;              /* when (0: now) */
	const char *principal;        /* token id or JWT `sub`; "os:<user>" for the CLI */
	const char *role;             /* the principal's role (cl_role_name) */
	const char *client;           /* client address ("" for the CLI) */
	const char *request_id;       /* X-Request-Id, honoured or made */
	const char *action;           /* read, search, export, create, update, ack, ... */
	const char *resource_type;    /* Patient, Observation, vitals, alerts, sql, ... */
	const char *const *resource_ids;  /* ids of the resources touched */
	size_t nresource_ids;
	const char *const *patients;  /* the patient ids involved */
	size_t npatients;
	const char *query;            /* the query (URL query string, SQL, options) */
	int64_t count;                /* records returned */
	int status;                   /* outcome: HTTP status, or the CLI's exit code */
	const char *break_glass;      /* the X-Break-Glass reason, if any */
	const char *os_user;          /* the OS user of a CLI command */
};

/* Tuning; the user-facing keys are the audit.* settings. */
struct cl_audit_options {
	const char *keys_dir;           /* where the signing key lives (cl_keys_dir) */
	uint32_t checkpoint_records;    /* a checkpoint after this many records */
	int64_t checkpoint_interval_us; /* or after this long with records since */
	uint64_t segment_max_bytes;     /* start a new file past this size */
	uint64_t pending_max_bytes;     /* queued bytes before appends wait */
};

/* The audit.* settings (see cl_audit_section). */
struct cl_audit_settings {
	uint32_t enabled;               /* audit.enabled */
	int64_t retention_us;           /* audit.retention */
	uint32_t checkpoint_records;    /* audit.checkpoint_records */
	int64_t checkpoint_interval_us; /* audit.checkpoint_interval */
	uint64_t segment_max_bytes;     /* audit.segment_max */
	uint64_t pending_max_bytes;     /* audit.pending_max */
};

struct cl_config;
struct cl_config_section;
extern const struct cl_config_section cl_audit_section;

/* The audit.* settings of c. */
const struct cl_audit_settings *cl_audit_settings(const struct cl_config *c);

/* Options from settings s (NULL: the defaults) with the keys directory. */
void cl_audit_options_from(struct cl_audit_options *o, const struct cl_audit_settings *s,
			   const char *keys_dir);

/* Counters since open. */
struct cl_audit_stats {
	uint64_t records;        /* event records made durable */
	uint64_t checkpoints;    /* checkpoints made durable */
	uint64_t commits;        /* successful commits (one fdatasync each) */
	uint64_t failed_commits;
	uint64_t bytes;          /* bytes made durable */
	uint64_t next_seq;       /* seq the next record of this process's chain view */
	uint64_t recovered_dropped_bytes;  /* torn tail cut at open or commit */
};

struct cl_audit;

/* Append flags. */
#define CL_AUDIT_NOWAIT 1 /* CL_EBUSY instead of waiting when the queue is full */

/* The audit directory of a data directory: "<data>/audit" into out. */
int cl_audit_dir(const char *data_dir, char *out, size_t cap);

/*
 * Opens (creating if needed) the trail in dir, recovers its tail, makes
 * sure the signing key's public half is in signing.pub, and starts the
 * flusher. source names this writer in log lines ("serve", "cli").
 */
int cl_audit_open(const char *dir, const char *source, const struct cl_audit_options *o,
		  struct cl_audit **out);

/* Commits what is queued, appends a final checkpoint if records came since
 * the last, stops the flusher. cl_audit_close(NULL) is a no-op. */
void cl_audit_close(struct cl_audit *a);

/*
 * Queues one record without waiting for it to be durable; *ticket gets its
 * ticket (tickets grow by one from 1 for this handle). CL_ETOOBIG for a
 * record over the line limit; CL_EBUSY with CL_AUDIT_NOWAIT when the queue
 * is full (else it waits for room); CL_EFAILED once the trail has stopped
 * after a failed fdatasync; CL_ECLOSED while closing.
 */
int cl_audit_append(struct cl_audit *a, const struct cl_audit_record *r, int flags,
		    uint64_t *ticket);

/* Appends one record and waits until it is durable. */
int cl_audit_append_sync(struct cl_audit *a, const struct cl_audit_record *r);

/* Waits until ticket is durable; its commit's result. */
int cl_audit_wait(struct cl_audit *a, uint64_t ticket);

/*
 * Without waiting: 1 when the ticket's commit is done, with *rc its result
 * (0: durable), 0 while it is not.
 */
int cl_audit_poll(struct cl_audit *a, uint64_t ticket, int *rc);

/* The highest ticket that is durable (every ticket up to it is). */
uint64_t cl_audit_durable(struct cl_audit *a);

/*
 * An eventfd that becomes readable after each commit (successful or not):
 * an event loop polls it, reads it to clear it, and releases the replies
 * whose tickets cl_audit_poll says are done. Owned by the handle.
 */
int cl_audit_wake_fd(struct cl_audit *a);

/* Calls fn(arg, durable, rc) from the flusher after every commit (rc: 0 or
 * the failure every ticket of it got). Setting another (or NULL) waits for
 * a call under way; never call it from inside fn. */
void cl_audit_set_notify(struct cl_audit *a, void (*fn)(void *arg, uint64_t durable, int rc),
			 void *arg);

/* Counters since open. */
void cl_audit_get_stats(struct cl_audit *a, struct cl_audit_stats *st);

/* 0 while commits succeed; the sticky failure after a failed fdatasync,
 * with why[cap] saying what failed. */
int cl_audit_health(struct cl_audit *a, char *why, size_t cap);

#endif
