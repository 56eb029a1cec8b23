/*
 * The roles, the actions and who may perform which. See cl_access.h.
 */
#include "cl_access.h"

#include <stdio.h>
#include <string.h>

static const char *const role_names[CL_ROLES] = {
	"admin", "engineer", "clinician", "patient", "researcher", "compliance", "device",
	"manager",
};

static const struct {
	const char *name;
	const char *doc;
	/* the roles allowed, by enum cl_role */
	unsigned char allow[CL_ROLES];
} actions[CL_ACTIONS] = {
	/*                                                     adm eng cli pat res com dev */
	[CL_ACT_INGEST_EVENTS] = { "ingest-events", "post device events (a device token: its own device's only)",
				   { 1, 1, 1, 0, 0, 0, 1 } },
	[CL_ACT_INGEST_FHIR] = { "ingest-fhir", "post FHIR Observations and Bundles",
				 { 1, 1, 1, 0, 0, 0, 0 } },
	[CL_ACT_READ_CLINICAL] = { "read-clinical", "read a patient's vitals and records (a patient token: its own; a clinician bound to wards: theirs, or with break-glass)",
				   { 1, 0, 1, 1, 0, 0, 0 } },
	[CL_ACT_SEARCH_ALERTS] = { "search-alerts", "list alerts (a patient token: its own)",
				   { 1, 0, 1, 1, 0, 0, 0 } },
	[CL_ACT_ACKNOWLEDGE] = { "acknowledge", "acknowledge an alert",
				 { 1, 0, 1, 0, 0, 0, 0 } },
	[CL_ACT_STREAM] = { "stream", "the live stream: vitals and alerts the role may see (an engineer: alerts without patients; compliance: access alerts only)",
			    { 1, 1, 1, 1, 0, 1, 0 } },
	[CL_ACT_READ_AUDIT] = { "read-audit", "the audit trail as AuditEvents (a patient token: access to its own record)",
				{ 1, 0, 0, 1, 0, 1, 0 } },
	[CL_ACT_REVIEW_ACCESS] = { "review-access", "access alerts (a clinician broke the glass): list and acknowledge",
				   { 1, 0, 0, 0, 0, 1, 0 } },
	[CL_ACT_MANAGE_TOKENS] = { "manage-tokens", "issue, list and revoke tokens",
				   { 1, 0, 0, 0, 0, 0, 0 } },
	[CL_ACT_OPERATE] = { "operate", "pipelines, status, lake and bronze operations",
			     { 1, 1, 0, 0, 0, 0, 0 } },
	[CL_ACT_EXPORT_DEIDENTIFIED] = { "export-deidentified", "de-identified (Safe Harbor) data and exports, the FHIR Bulk Data $export included",
					 { 1, 0, 0, 0, 1, 0, 0 } },
	[CL_ACT_EXPORT_IDENTIFIED] = { "export-identified", "exports with direct identifiers",
				       { 1, 0, 0, 0, 0, 0, 0 } },
	[CL_ACT_SIGN_IN] = { "sign-in", "sign in to the dashboards: a browser session for the token (each page and call it makes is then checked as the token's)",
			     { 1, 1, 1, 1, 1, 1, 0, 1 } },
	[CL_ACT_VIEW_BOARD] = { "view-board", "the ICU board page: every bed's vitals, NEWS2 and open alerts (a clinician bound to wards: theirs)",
				{ 1, 0, 1, 0, 0, 0, 0 } },
	[CL_ACT_VIEW_MY_HEALTH] = { "view-my-health", "the My health page: the patient's own vitals, stays, appointments and results, and a download of their record (a token bound to a patient)",
				    { 1, 0, 0, 1, 0, 0, 0 } },
	[CL_ACT_READ_KPIS] = { "read-kpis", "the gold KPI tables (admissions, occupancy, stays, readmissions, alerts, staffing, bookings, communications, surveys) and a ward's census",
			       { 1, 0, 0, 0, 0, 0, 0, 1 } },
	[CL_ACT_VIEW_HOSPITAL] = { "view-hospital", "the managers' pages: Hospital (the KPIs by ward and date range, a ward's patients) and Staffing and clinic operations",
				   { 1, 0, 0, 0, 0, 0, 0, 1 } },
	[CL_ACT_VIEW_PIPELINES] = { "view-pipelines", "the Data and pipelines page: ingest and lag, pipeline runs, dead letters, the quarantine with its records, sizes on disk",
				    { 1, 1, 0, 0, 0, 0, 0, 0 } },
	[CL_ACT_AUDIT_REPORTS] = { "audit-reports", "the audit chain checked, and accesses per user over a period",
				   { 1, 0, 0, 0, 0, 1, 0, 0 } },
	[CL_ACT_VIEW_COMPLIANCE] = { "view-compliance", "the Compliance page: the audit trail searched, accesses per user, break-glass reads, the chain's state",
				     { 1, 0, 0, 0, 0, 1, 0, 0 } },
	[CL_ACT_READ_RISK] = { "read-risk", "a patient's predicted 30-day readmission risk and what drives it: decision support for the care team (a clinician bound to wards: theirs, or with break-glass), not shown to the patient",
			       { 1, 0, 1, 0, 0, 0, 0, 0 } },
};

enum cl_role cl_role_by_name(const char *name)
{
	for (int i = 0; i < CL_ROLES; i++)
		if (name && strcmp(name, role_names[i]) == 0)
			return (enum cl_role)i;
	return CL_ROLE_NONE;
}

const char *cl_role_name(enum cl_role role)
{
	return role >= 0 && role < CL_ROLES ? role_names[role] : "none";
}

const char *cl_action_name(enum cl_action a)
{
	return a >= 0 && a < CL_ACTIONS ? actions[a].name : "none";
}

const char *cl_action_doc(enum cl_action a)
{
	return a >= 0 && a < CL_ACTIONS ? actions[a].doc : "";
}

enum cl_action cl_action_by_name(const char *name)
{
	for (int i = 0; i < CL_ACTIONS; i++)
		if (strcmp(name, actions[i].name) == 0)
			return (enum cl_action)i;
	return (enum cl_action)-1;
}

int cl_access_allows(enum cl_role role, enum cl_action action)
{
	if (role < 0 || role >= CL_ROLES || action < 0 || action >= CL_ACTIONS)
		return 0;
	return actions[action].allow[role];
}

void cl_access_table_markdown(char *buf, size_t cap)
{
	size_t n = 0;

#define PUT(...)                                                              \
	do {                                                                  \
		int w_ = snprintf(buf + n, n < cap ? cap - n : 0, __VA_ARGS__); \
		n += w_ > 0 ? (size_t)w_ : 0;                                 \
	} while (0)
	PUT("| action | what |");
	for (int r = 0; r < CL_ROLES; r++)
		PUT(" %s |", role_names[r]);
	PUT("\n| --- | --- |");
	for (int r = 0; r < CL_ROLES; r++)
		PUT(" --- |");
	PUT("\n");
	for (int a = 0; a < CL_ACTIONS; a++) {
		PUT("| `%s` | %s |", actions[a].name, actions[a].doc);
		for (int r = 0; r < CL_ROLES; r++)
			PUT(" %s |", actions[a].allow[r] ? "yes" : "");
		PUT("\n");
	}
#undef PUT
}
