/*
 * The audit trail as `carelake serve` keeps it: the trail (audit/cl_audit.h)
 * opened when the server starts, and one record for every reply that
 * matters — each reply of a route that reads, searches or changes patient
 * data (the route row's `audit`), and every refusal (401, 403, 429) of a
 * route that needs a token. A record says who (token id or JWT sub, role),
 * what (action, resource type, resource id, patient id), the outcome (the
 * status), when, the client address and the request id — never a value
 * of the patient's data, never a token.
 *
 * Replies of patient data leave only once their record is durable: the
 * transport holds them (cl_req.h) and cl_serve_audit_durable wakes it.
 */
#ifndef CL_SERVE_AUDIT_H
#define CL_SERVE_AUDIT_H

#include <stdint.h>

struct cl_server;
struct cl_req;
struct cl_prom;

/* Opens <data>/audit (audit.enabled; the signing key from the keys
 * directory). CL_E* with the detail naming what failed: serve does not
 * start without its trail. */
int cl_serve_audit_open(struct cl_server *s);

/* Commits what is queued, signs a last checkpoint, closes. */
void cl_serve_audit_close(struct cl_server *s);

/* 1 when the reply `code` of r is recorded. */
int cl_serve_audit_wants(const struct cl_req *r, int code);

/* 1 when the reply `code` of r may leave only once its record is durable
 * (patient data, or what was refused about it). */
int cl_serve_audit_must_wait(const struct cl_req *r, int code);

/*
 * Queues the record of r's reply `code` (r->audited, r->audit_ticket).
 * 0, or the trail's error (the reply must then not carry patient data).
 */
int cl_serve_audit_record(struct cl_req *r, int code);

/* Waits until r's record is durable: its commit's result. */
int cl_serve_audit_wait(struct cl_req *r);

/* Without waiting: 1 when r's record's commit is done (*rc its result). */
int cl_serve_audit_ready(const struct cl_req *r, int *rc);

/*
 * A break-glass read of patient's data was allowed: counted, logged (who,
 * not whom) and raised as an access alert for compliance — stored with
 * its webhook outbox entry through st (cl_store_access.h), then sent to
 * the live stream's compliance and admin listeners and the webhook. An
 * alert that cannot be stored is logged and counted; the read goes on
 * (its audit record says the same).
 */
struct cl_store;
void cl_serve_audit_break_glass(struct cl_req *r, struct cl_store *st, const char *patient);

/* The trail's part of /metrics. */
void cl_serve_audit_metrics(struct cl_server *s, struct cl_prom *p);

#endif
