/*
 * The serving store: carelake.db, SQLite in WAL mode, beside the bronze
 * log in the data directory. It holds what the API serves fast — vital
 * events by patient and time, rolled-up windows, each patient's latest
 * values and NEWS2 — and the stream processor's checkpoints, written in
 * the same transaction as the rows they account for. Everything in it can
 * be rebuilt from bronze.
 *
 * One writer (the stream processor) and any number of readers, each on
 * its own connection (cl_store_open per thread).
 */
#ifndef CL_STORE_H
#define CL_STORE_H

#include "model/cl_rollup.h"

#include <stddef.h>
#include <stdint.h>

struct cl_store;

/* Opens carelake.db, creating it and its tables if needed (the writer). */
int cl_store_create(const char *data_dir, struct cl_store **out);

/* Opens an existing carelake.db (readers: no schema work per open). */
int cl_store_open(const char *data_dir, struct cl_store **out);
void cl_store_close(struct cl_store *s);

/* The writer's connection (the stream's): no automatic WAL checkpoints
 * inside commits (call cl_store_wal_checkpoint when convenient); while it
 * waits for the write lock, cl_store_yield_to_writer says so to this
 * process's other writers. */
int cl_store_set_writer(struct cl_store *s);

/* After a commit of another writer of carelake.db in this process (silver,
 * the FHIR rows): while the stream's writer waits for the lock, waits for
 * it to have taken it (250 ms at most), so a loop of transactions does not
 * take the lock straight back and keep the serving store waiting. */
void cl_store_yield_to_writer(void);
int cl_store_wal_checkpoint(struct cl_store *s);

/* The directory that holds carelake.db (the data directory) into buf. */
void cl_store_data_dir(struct cl_store *s, char *buf, size_t cap);

/* After a transaction failed on a full disk and was rolled back: a
 * checkpoint that empties the WAL and truncates it, so the frames the
 * rolled-back transaction wrote give their space back (a WAL never
 * shrinks by itself); *freed: the bytes given back. CL_OK, or why not
 * (readers still on old frames, or the checkpoint itself out of room);
 * nothing is lost either way. */
int cl_store_wal_release(struct cl_store *s, uint64_t *freed);

int cl_store_begin(struct cl_store *s);
int cl_store_commit(struct cl_store *s);
/* Ends the open transaction, if one is open, keeping the error detail of
 * what failed. */
void cl_store_rollback(struct cl_store *s);

/* A consumer's checkpoint: records below `processed` are applied; replay
 * from `replay_from` rebuilds the state of windows still open. */
int cl_store_checkpoint_get(struct cl_store *s, const char *consumer,
			    uint64_t *processed, uint64_t *replay_from);
/* The stream's watermark as last committed (never moves back; INT64_MIN
 * before the first): windows ending at or before it were closed. */
int cl_store_watermark_get(struct cl_store *s, int64_t *wm);
int cl_store_watermark_set(struct cl_store *s, int64_t wm);
int cl_store_checkpoint_set(struct cl_store *s, const char *consumer,
			    uint64_t processed, uint64_t replay_from);

struct sqlite3;
/* A consumer's `processed` read through any connection to carelake.db (a
 * read-only one: carelake status); 0 when it has none yet. */
uint64_t cl_store_checkpoint_of(struct sqlite3 *db, const char *consumer);

/* The offset of bronze log `source` below which refine has applied every
 * record (0 when it has not begun), through any connection. */
uint64_t cl_store_refine_position(struct sqlite3 *db, const char *source);

/* One vital value (ignored if that offset of that source is stored). */
int cl_store_put_vital(struct cl_store *s, const char *source, uint64_t offset,
		       const char *patient, const char *device, const char *vital,
		       int64_t ts_us, double value);

/* A closed window, final at revision 1; ignored if that window is stored
 * already (*inserted 0; inserted may be NULL). */
int cl_store_put_rollup(struct cl_store *s, const char *patient, const char *vital,
			const char *window, int64_t start_us, int64_t end_us,
			const struct cl_agg_summary *a, int *inserted);

/* The stored rollup of a window, or CL_ENOENT (r->vital is left alone). */
int cl_store_rollup_get(struct cl_store *s, const char *patient, const char *vital,
			const char *window, int64_t start_us, struct cl_rollup_row *r);

/* The stored rollup of the vital's latest window, or CL_ENOENT. */
int cl_store_rollup_last(struct cl_store *s, const char *patient, const char *vital,
			 const char *window, struct cl_rollup_row *r);

/* Writes a window as r says (status, revision), replacing the row of its
 * start; a window published to Kafka is queued again. */
int cl_store_rollup_set(struct cl_store *s, const char *patient, const char *vital,
			const char *window, const struct cl_rollup_row *r);

int cl_store_rollup_delete(struct cl_store *s, const char *patient, const char *vital,
			   const char *window, int64_t start_us);

/* The stored windows of a vital that start at or before hi_us and end at
 * or after lo_us, by start (cl_malloc'd, *n of them). */
int cl_store_rollups_touching(struct cl_store *s, const char *patient, const char *vital,
			      const char *window, int64_t lo_us, int64_t hi_us,
			      struct cl_rollup_row **rows, size_t *n);

/* A vital's stored values with event times in [from_us, to_us), in time
 * order (cl_malloc'd, *n of them). */
int cl_store_vital_points(struct cl_store *s, const char *patient, const char *vital,
			  int64_t from_us, int64_t to_us, struct cl_point **points, size_t *n);

/* The patient's NEWS2 now, from the latest value of each parameter (and,
 * when worse than the minute's so far, the minute's in news2_minute). */
int cl_store_put_news2(struct cl_store *s, const char *patient, int64_t ts_us,
		       int score, const char *risk, const int scores[7], int present);

/* What a rollup row of cl_store_vitals_json holds beside its start and
 * type: any of these (CL_VITALS_ALL: all). */
enum {
	CL_VITALS_END = 1u << 0,
	CL_VITALS_COUNT = 1u << 1,
	CL_VITALS_MIN = 1u << 2,
	CL_VITALS_MAX = 1u << 3,
	CL_VITALS_MEAN = 1u << 4,
	CL_VITALS_STDDEV = 1u << 5,
	CL_VITALS_P50 = 1u << 6,
	CL_VITALS_P90 = 1u << 7,
	CL_VITALS_P99 = 1u << 8,
	CL_VITALS_ALL = (1u << 9) - 1,
};

/* The names of the fields above, in their bit order ("end", "count",
 * "min", ...), NULL-terminated. */
extern const char *const cl_store_vitals_fields[];

/* What GET /api/v1/patients/{id}/vitals asks for. */
struct cl_vitals_query {
	const char *patient;
	int64_t from_us, to_us;      /* event times, or window starts */
	const char *window;          /* "raw", or a window's name ("1m") */
	int limit;
	unsigned fields;             /* CL_VITALS_* */
	/* windows not stored, shown among the stored ones (the open ones,
	 * provisional), sorted by start and vital */
	const struct cl_rollup_row *extra;
	size_t nextra;
};

/* Rows for GET /api/v1/patients/{id}/vitals, as a JSON array string
 * (malloc'd, *len bytes; *rows of them): raw events, or rollups of the
 * window with the fields asked for, each with its status and revision.
 * Written as text straight from the rows (a week of minutes is 60,000 of
 * them), numbers as jansson writes them. */
int cl_store_vitals_json(struct cl_store *s, const struct cl_vitals_query *q, char **json,
			 size_t *len, int64_t *rows);

/* NEWS2 over time, as a JSON array string (cl_malloc'd): the worst score
 * of each bucket_us (a multiple of a minute) from from_us to to_us, each
 * {"start", "score", "risk", "ts" (when it was scored), "parameters"};
 * cl_store_put_news2 keeps the worst score of every minute. */
int cl_store_news2_history_json(struct cl_store *s, const char *patient, int64_t from_us,
				int64_t to_us, int64_t bucket_us, int limit, char **json);

/* The patient's latest NEWS2 as a JSON object string, or NULL if none. */
int cl_store_news2_json(struct cl_store *s, const char *patient, char **json);

/* Alerts: open (ids are chosen by the writer, above cl_store_alert_max_id;
 * an id already stored is left alone), close, acknowledge, list. */
int cl_store_alert_max_id(struct cl_store *s, int64_t *id);
/* An alert as the stream writes it. */
struct cl_store_alert {
	int64_t id;
	const char *rule, *category;   /* category: "clinical" or "technical" */
	const char *patient, *device, *severity;
	const char *reason;            /* held: artifact, not_persistent, suppressed */
	int64_t start_us;              /* the start of the episode (event time) */
	int64_t raised_us;             /* opened: when confirmed; held: the end */
	int readings;                  /* held: readings that met the condition */
	double value;
	const char *message;           /* held: the detail for the reviewer */
	int64_t learned_us;            /* opened: when an alert learned from late
					* data was learned (retrospective); 0: live */
};

int cl_store_alert_open(struct cl_store *s, const struct cl_store_alert *a);
/* Records an alert held back (alert_held), with why. */
int cl_store_alert_held(struct cl_store *s, const struct cl_store_alert *a);
int cl_store_alert_close(struct cl_store *s, int64_t id, int64_t ts_us);
/* An alert opened as learned late whose episode was still going when the
 * data caught up: a live alert after all. */
int cl_store_alert_live(struct cl_store *s, int64_t id);
/* At start: retrospective alerts a restart cut short (their end was not
 * yet known) end at their confirmation. */
int cl_store_alerts_end_retrospective(struct cl_store *s);
int cl_store_alert_ack(struct cl_store *s, int64_t id, const char *by, int *changed);
int cl_store_alerts_open_each(struct cl_store *s,
			      void (*fn)(void *arg, int64_t id, const char *rule,
					 const char *patient, const char *device),
			      void *arg);

/* The alert outbox: alert changes (opened, closed, acknowledged) written
 * in the same transaction as the alert rows, read by each consumer
 * (webhook, Kafka out) from its own cursor (cl_store_outbox.h) and
 * removed once every consumer is past them. put writes nothing while no
 * consumer has a cursor. next gives the first entry after seq `after`
 * (cl_malloc'd JSON), CL_ENOENT if none; count counts every entry. */
int cl_store_outbox_put(struct cl_store *s, const char *json, size_t len);
int cl_store_outbox_next(struct cl_store *s, int64_t after, int64_t *seq, char **json);
int cl_store_outbox_count(struct cl_store *s, int64_t *n);

/*
 * The ward a patient is in, for a clinician limited to wards: the ward of
 * the patient's latest encounter that names one (an open encounter before
 * a finished one; silver's `encounter`, from FHIR Encounter.location or
 * the generated admissions), else the ward of a device bound to the
 * patient (silver's `device`). ward[cap] is "" when neither says (or
 * refinement has not made those tables yet).
 */
int cl_store_patient_ward(struct cl_store *s, const char *patient, char *ward, size_t cap);

/* Calls fn with each patient held as a FHIR Patient whose ward (as
 * cl_store_patient_ward finds it) is ward, in order of id: a ward's Group. */
int cl_store_ward_patients(struct cl_store *s, const char *ward,
			   void (*fn)(void *arg, const char *patient), void *arg);

/* For the demo's summary: alerts open now, and the n highest NEWS2. */
int cl_store_open_alerts(struct cl_store *s, long *count);
int cl_store_top_news2(struct cl_store *s, int n,
		       void (*fn)(void *arg, const char *patient, int score, const char *risk),
		       void *arg);

/* Which alerts a list asks for. */
struct cl_store_alert_filter {
	int64_t since_us;      /* opened (raised) at or after */
	const char *patient;   /* of this patient (NULL: any) */
	int open_only;         /* only open (unacknowledged) ones */
	int64_t id;            /* only this one (0: any) */
	int limit;             /* the most rows */
	const char *wards;     /* clinical alerts: only of patients in these ','-separated
				* wards (cl_store_patient_ward), and those of no patient
				* (NULL: any) */
	const char *category;  /* "clinical" or "technical" (NULL: both) */
};

/* Alerts as a JSON array (*json, free()), newest first, as f says. */
int cl_store_alerts_json(struct cl_store *s, const struct cl_store_alert_filter *f, char **json);

/* Alerts held back (alert_held) as a JSON array, newest first; the
 * filter's since applies to their start, open_only is ignored. */
int cl_store_alerts_held_json(struct cl_store *s, const struct cl_store_alert_filter *f,
			      char **json);

#endif
