/*
 * Access alerts: uses of access that compliance must review, kept in the
 * serving store beside the clinical alerts but apart from them (their own
 * table and ids, never in GET /api/v1/alerts). Today one kind: a clinician
 * read a patient outside their wards by breaking the glass.
 *
 * Raising one writes its row and its webhook outbox entry in one
 * transaction, so a receiver of webhook.role compliance is told of every
 * one that was stored. What an alert says is who, whom, when, from where
 * and why — the same as its audit record — never a value of the
 * patient's data.
 */
#ifndef CL_STORE_ACCESS_H
#define CL_STORE_ACCESS_H

#include <stdint.h>

struct cl_store;

struct cl_access_alert {
	const char *kind;        /* "break-glass" */
	int64_t ts_us;
	const char *principal;   /* token id or JWT sub */
	const char *role;
	const char *patient;     /* whose data was read */
	const char *reason;      /* as the reader gave it */
	const char *request_id;  /* finds its audit record */
	const char *client;      /* the client's address */
};

/* Stores a and its outbox entry; *json (free()) is the alert as the live
 * stream and the webhook carry it, "category":"access". */
int cl_store_access_alert_raise(struct cl_store *s, const struct cl_access_alert *a,
				char **json);

/* Access alerts as a JSON array, newest first, as f says (its wards are
 * not used: those who review access see every ward's). */
struct cl_store_alert_filter;
int cl_store_access_alerts_json(struct cl_store *s, const struct cl_store_alert_filter *f,
				char **json);

/* Marks id acknowledged by `by`; *changed 0 when it was before (or is
 * not there). */
int cl_store_access_alert_ack(struct cl_store *s, int64_t id, const char *by, int *changed);

#endif
