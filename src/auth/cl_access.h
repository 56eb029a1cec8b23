/*
 * Who may do what: the roles carelake knows, the actions its endpoints
 * and commands perform, and the one table that says which role may
 * perform which action. The route table names an action for every route
 * (src/serve/cl_routes.c); the authorization check, `carelake token
 * roles`, docs/access.md and the role-by-route test all read this table,
 * so none of them can drift from the others.
 *
 * A role's permission is only the first question: a token may be bound
 * to a patient (it sees that patient and nothing else), to wards (a
 * clinician outside them needs break-glass), or to a device (it posts for
 * that device only); SMART scopes of an OpenID Connect token narrow it
 * further. Those checks follow the table's answer, never widen it.
 */
#ifndef CL_ACCESS_H
#define CL_ACCESS_H

#include <stddef.h>

enum cl_role {
	CL_ROLE_NONE = -1,
	CL_ROLE_ADMIN,        /* everything, including managing tokens */
	CL_ROLE_ENGINEER,     /* ingest, pipelines, status, metrics, lake, bronze; no clinical reads */
	CL_ROLE_CLINICIAN,    /* clinical reads and searches, acknowledges alerts, posts observations */
	CL_ROLE_PATIENT,      /* bound to one patient: that patient's own records */
	CL_ROLE_RESEARCHER,   /* de-identified data only */
	CL_ROLE_COMPLIANCE,   /* the audit trail, access reports, data quality; no clinical values */
	CL_ROLE_DEVICE,       /* posts events for its own device id */
	CL_ROLE_MANAGER,      /* the hospital's KPIs and ward census; no clinical values */
	CL_ROLES
};

enum cl_action {
	CL_ACT_INGEST_EVENTS,     /* post device events */
	CL_ACT_INGEST_FHIR,       /* post FHIR resources */
	CL_ACT_READ_CLINICAL,     /* a patient's vitals, records */
	CL_ACT_SEARCH_ALERTS,     /* list alerts */
	CL_ACT_ACKNOWLEDGE,       /* acknowledge an alert */
	CL_ACT_STREAM,            /* the live stream (filtered by role) */
	CL_ACT_READ_AUDIT,        /* the audit trail */
	CL_ACT_REVIEW_ACCESS,     /* access alerts (break-glass reads): list, acknowledge */
	CL_ACT_MANAGE_TOKENS,     /* issue, list, revoke tokens */
	CL_ACT_OPERATE,           /* pipelines, status, lake and bronze operations */
	CL_ACT_EXPORT_DEIDENTIFIED, /* de-identified exports */
	CL_ACT_EXPORT_IDENTIFIED, /* exports with identifiers */
	CL_ACT_SIGN_IN,           /* a browser session on the dashboards for the token */
	CL_ACT_VIEW_BOARD,        /* the ICU board page */
	CL_ACT_VIEW_MY_HEALTH,    /* the My health page: a patient's own record */
	CL_ACT_READ_KPIS,         /* the gold KPI tables, a ward's census */
	CL_ACT_VIEW_HOSPITAL,     /* the managers' pages */
	CL_ACT_VIEW_PIPELINES,    /* the Data and pipelines page */
	CL_ACT_AUDIT_REPORTS,     /* the audit chain's check, accesses per user */
	CL_ACT_VIEW_COMPLIANCE,   /* the Compliance page */
	CL_ACT_READ_RISK,         /* a patient's predicted readmission risk */
	CL_ACTIONS
};

/* The role of that name ("clinician"), or CL_ROLE_NONE. */
enum cl_role cl_role_by_name(const char *name);
const char *cl_role_name(enum cl_role role);

/* The action's name ("read-clinical") and what it covers, for the docs. */
const char *cl_action_name(enum cl_action a);
const char *cl_action_doc(enum cl_action a);
enum cl_action cl_action_by_name(const char *name);  /* -1 if none */

/* 1 if the role may perform the action at all (before any binding,
 * ward or scope narrows it). */
int cl_access_allows(enum cl_role role, enum cl_action action);

/* Writes the role-by-action table as Markdown (docs/access.md holds it;
 * `carelake token roles` prints it). */
void cl_access_table_markdown(char *buf, size_t cap);

#endif
