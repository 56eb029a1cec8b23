/*
 * FHIR Bulk Data export (HL7 Bulk Data Access IG 2.0) over HTTP:
 *   GET /fhir/$export, /fhir/Patient/$export, /fhir/Group/{id}/$export
 *       kick-off (Prefer: respond-async): 202, Content-Location
 *   GET /fhir/$export-status/{job}     202 (X-Progress, Retry-After) while
 *       it runs; 200 with the manifest; 500 with an OperationOutcome when
 *       it failed
 *   DELETE /fhir/$export-status/{job}  cancels it (202)
 *   GET /fhir/$export-file/{job}/{file}  an NDJSON file of the manifest
 * The jobs themselves run in fhir/cl_fhir_export.c. A Group is a ward:
 * its members are the patients whose ward it is. Only the token that
 * asked reads a job's status and files (requiresAccessToken); a patient
 * token exports its own compartment; a clinician limited to wards exports
 * a Group of its wards; SMART scopes must grant every type named.
 *
 * A token let in by export-deidentified alone (a researcher's:
 * r->deidentified) gets a job written de-identified (privacy/
 * cl_deid_fhir.h), only such jobs of its own, and _typeFilter only on the
 * coded parameters (deid_filter_ok): a filter on a name, an identifier or
 * a date would pick one person out of a de-identified export.
 */
#include "cl_api.h"
#include "cl_server_int.h"
#include "auth/cl_scope.h"
#include "core/cl_error.h"
#include "core/cl_time.h"
#include "fhir/cl_fhir_export.h"
#include "fhir/cl_fhir_search.h"

#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

struct kickoff {
	struct cl_fhir_export_request rq;
	char why[300];
	int lenient;
};

static int kick_param(void *arg, const char *name, const char *value)
{
	struct kickoff *k = arg;
	struct cl_fhir_export_request *rq = &k->rq;
	size_t n;

	if (!value)
		value = "";
	/* the kick-off's URL, for the manifest */
	n = strlen(rq->request);
	snprintf(rq->request + n, sizeof(rq->request) - n, "%s%s=%s", strchr(rq->request, '?') ? "&"
				 : "?", name, value);
	if (strcmp(name, "_outputFormat") == 0) {
		if (!strcmp(value, "application/fhir+ndjson") || !strcmp(value, "application/ndjson") ||
		    !strcmp(value, "ndjson"))
			return 0;
		snprintf(k->why, sizeof(k->why), "_outputFormat: '%.60s': carelake writes NDJSON "
			 "(application/fhir+ndjson)", value);
		return CL_EINVAL;
	}
	if (strcmp(name, "_since") == 0) {
		if (cl_time_parse_rfc3339(value, strlen(value), &rq->since_us) != CL_OK) {
			snprintf(k->why, sizeof(k->why), "_since: '%.60s' is not an instant "
				 "(2026-12-01T00:00:00Z)", value);
			return CL_EINVAL;
		}
		return 0;
	}
	if (strcmp(name, "_type") == 0 || strcmp(name, "_typeFilter") == 0) {
		int filter = name[5] == 'F';
		char *list = filter ? rq->type_filters : rq->types;
		size_t cap = filter ? sizeof(rq->type_filters) : sizeof(rq->types);

		/* repeated: _type lists join, _typeFilter lines are OR-ed */
		n = strlen(list);
		if (!value[0] || n + strlen(value) + 2 > cap || strchr(value, '\n')) {
			snprintf(k->why, sizeof(k->why), "%s: empty, or too long", name);
			return CL_EINVAL;
		}
		snprintf(list + n, cap - n, "%s%s", n ? (filter ? "\n" : ",") : "", value);
		return 0;
	}
	if (k->lenient)
		return 0;
	snprintf(k->why, sizeof(k->why), "%.60s is not a parameter of $export carelake takes "
		 "(_outputFormat, _since, _type, _typeFilter)", name);
	return CL_EINVAL;
}

/* Search parameters a de-identified export may be filtered by: codes and
 * states, which pick out no one person. */
static const char *const deid_params[] = {
	"code", "category", "status", "clinical-status", "verification-status", "class",
	"type", "intent", "vaccine-code", "_profile", "_tag",
};

/* 1 if every _typeFilter of rq filters on deid_params only; else 0 and
 * why into why. */
static int deid_filter_ok(const struct cl_fhir_export_request *rq, char *why, size_t cap)
{
	for (const char *f = rq->type_filters; *f;) {
		size_t n = strcspn(f, "\n");
		const char *q = memchr(f, '?', n);

		for (q = q ? q + 1 : f + n; q < f + n;) {
			size_t pn = strcspn(q, "=:&\n"), len = strcspn(q, "&\n");
			int ok = 0;

			for (size_t i = 0; i < sizeof(deid_params) / sizeof(deid_params[0]); i++)
				ok |= strlen(deid_params[i]) == pn && strncmp(q, deid_params[i], pn) == 0;
			if (!ok) {
				snprintf(why, cap, "_typeFilter: a de-identified export is filtered by "
					 "codes and states only (code, category, status, ...), not by "
					 "'%.*s'", (int)(pn < 40 ? pn : 40), q);
				return 0;
			}
			q += len + (q[len] == '&');
		}
		f += n + (f[n] == '\n');
	}
	return 1;
}

/* Every type the kick-off names must be one the token's scopes grant. */
static int scopes_allow(const struct cl_req *r, const struct cl_fhir_export_request *rq)
{
	char type[80];

	if (!r->who.scope[0])
		return 1;
	if (!rq->types[0])
		return 0; /* every type: more than scopes can say */
	for (const char *t = rq->types; *t;) {
		size_t n = strcspn(t, ",");

		snprintf(type, sizeof(type), "%.*s", (int)(n < 64 ? n : 64), t);
		if (!cl_scope_allows(&r->who, CL_ACT_READ_CLINICAL, type))
			return 0;
		t += n + (t[n] == ',');
	}
	return 1;
}

/* A kick-off of level (system, patient, group). */
static int kickoff(struct cl_req *r, const char *level, const char *group)
{
	const char *prefer = cl_req_header(r, "Prefer");
	struct kickoff *k = calloc(1, sizeof(*k));
	char base[300], id[CL_EXPORT_ID_MAX], loc[400], msg[400];
	int rc, go;

	if (!k)
		return cl_reply_error(r, 500, "memory", "no memory for an export", NULL, NULL);
	r->audit.resource_type = group ? "Group" : level[0] == 'p' ? "Patient" : "Bundle";
	k->lenient = prefer && strstr(prefer, "handling=lenient") != NULL;
	snprintf(k->rq.level, sizeof(k->rq.level), "%s", level);
	snprintf(k->rq.group, sizeof(k->rq.group), "%s", group ? group : "");
	snprintf(k->rq.owner, sizeof(k->rq.owner), "%s", r->who.id);
	k->rq.deidentified = r->deidentified;
	cl_api_fhir_base(r, base, sizeof(base));
	snprintf(k->rq.request, sizeof(k->rq.request), "%s%s", base,
		 r->path + strlen("/fhir"));
	go = 1;
	if (!prefer || !strstr(prefer, "respond-async"))
		go = cl_reply_error(r, 400, "bad_request", "a bulk export runs in the background: send "
				    "Prefer: respond-async", NULL, NULL);
	if (go == 1 && (rc = cl_req_each_query(r, kick_param, k)) != CL_OK)
		go = cl_reply_error(r, 400, "bad_request", k->why[0] ? k->why : cl_error_detail(),
				    NULL, NULL);
	if (go == 1)
		go = cl_api_fhir_accept(r);
	if (go == 1 && group && !cl_fhir_id_ok(group))
		go = cl_reply_error(r, 404, "not_found", "no such Group", NULL, NULL);
	/* who may export what */
	if (go == 1 && r->who.patient[0]) {
		if (strcmp(level, "system") == 0)
			go = cl_reply_error(r, 403, "forbidden", "a patient's token exports its own "
					    "record: /fhir/Patient/$export", NULL, NULL);
		snprintf(k->rq.patient, sizeof(k->rq.patient), "%s", r->who.patient);
		r->audit.patient = r->who.patient;
	}
	if (go == 1 && r->who.role == CL_ROLE_CLINICIAN && r->who.wards[0]) {
		int mine = 0;

		for (const char *w = r->who.wards; group && *w && !mine;) {
			size_t n = strcspn(w, ",");

			mine = n == strlen(group) && strncmp(w, group, n) == 0;
			w += n + (w[n] == ',');
		}
		if (!mine)
			go = cl_reply_error(r, 403, "forbidden", "a clinician limited to wards exports a "
					    "Group of its wards (/fhir/Group/WARD/$export)", NULL,
					    NULL);
	}
	if (go == 1 && r->deidentified && !deid_filter_ok(&k->rq, msg, sizeof(msg)))
		go = cl_reply_error(r, 400, "bad_request", msg, NULL, NULL);
	/* a de-identified export's scopes were asked by the route
	 * (export-deidentified: every type) */
	if (go == 1 && !r->deidentified && !scopes_allow(r, &k->rq))
		go = cl_reply_error(r, 403, "forbidden", "the token's scopes do not grant every type "
				    "the export would hold (name them with _type)", NULL, NULL);
	if (go == 1) {
		rc = cl_fhir_export_submit(r->s->exports, &k->rq, id, msg, sizeof(msg));
		if (rc == CL_EINVAL)
			go = cl_reply_error(r, 400, "bad_request", msg, NULL, NULL);
		else if (rc != CL_OK)
			go = cl_reply_error(r, 500, "store", cl_error_detail(), NULL, NULL);
	}
	free(k);
	if (go != 1)
		return go;
	snprintf(loc, sizeof(loc), "%s/$export-status/%s", base, id);
	cl_reply_header(r, "Content-Location", loc);
	return cl_reply(r, 202, "application/fhir+json", NULL, 0, NULL, NULL);
}

int cl_api_fhir_export(struct cl_req *r)
{
	return kickoff(r, "system", NULL);
}

int cl_api_fhir_export_patients(struct cl_req *r)
{
	return kickoff(r, "patient", NULL);
}

int cl_api_fhir_export_group(struct cl_req *r)
{
	return kickoff(r, "group", r->param[0]);
}

/* Whether the token may see job id of this owner: 1, else the reply. A
 * token served de-identified sees de-identified jobs only. */
static int own_job(struct cl_req *r, const char *owner, const char *id)
{
	if (r->deidentified && !cl_fhir_export_deidentified(r->s->exports, id))
		return cl_reply_error(r, 404, "not_found", "no such export", NULL, NULL);
	if (strcmp(owner, r->who.id) == 0 || r->who.role == CL_ROLE_ADMIN)
		return 1;
	/* another's job is as if there were none */
	return cl_reply_error(r, 404, "not_found", "no such export", NULL, NULL);
}

/* The job r->param[0] names, if the token asked for it (or is an admin's):
 * 1, else the reply (404 for none, or another's). */
static int the_job(struct cl_req *r)
{
	char owner[CL_EXPORT_OWNER_MAX], request[16], *manifest, *error;
	int64_t written;
	int state, rc;

	rc = cl_fhir_export_status(r->s->exports, r->param[0], &state, &written, &manifest, &error,
				   owner, request, sizeof(request));
	free(manifest);
	free(error);
	if (rc == CL_ENOENT)
		return cl_reply_error(r, 404, "not_found", "no such export", NULL, NULL);
	if (rc != CL_OK)
		return cl_reply_error(r, 500, "store", cl_error_detail(), NULL, NULL);
	return own_job(r, owner, r->param[0]);
}

/* The manifest, its files' names made URLs. */
static char *manifest_with_urls(const char *text, const char *base, const char *id,
				const char *request)
{
	json_t *m = json_loads(text, 0, NULL), *item;
	const char *lists[] = { "output", "error" };
	char url[600], *out;
	size_t k;

	if (!m)
		return NULL;
	for (int l = 0; l < 2; l++)
		json_array_foreach(json_object_get(m, lists[l]), k, item) {
			snprintf(url, sizeof(url), "%s/$export-file/%s/%s", base, id,
				 json_string_value(json_object_get(item, "file")));
			json_object_del(item, "file");
			json_object_set_new(item, "url", json_string(url));
		}
	json_object_set_new(m, "request", json_string(request));
	json_object_set_new(m, "requiresAccessToken", json_true());
	out = json_dumps(m, JSON_COMPACT);
	json_decref(m);
	return out;
}

int cl_api_fhir_export_status(struct cl_req *r)
{
	const char *id = r->param[0];
	char owner[CL_EXPORT_OWNER_MAX], request[2048], base[300], progress[80], *manifest, *error;
	int64_t written;
	int state, go, rc;

	rc = cl_fhir_export_status(r->s->exports, id, &state, &written, &manifest, &error, owner,
				   request, sizeof(request));
	if (rc == CL_ENOENT)
		return cl_reply_error(r, 404, "not_found", "no such export", NULL, NULL);
	if (rc != CL_OK)
		return cl_reply_error(r, 500, "store", cl_error_detail(), NULL, NULL);
	go = own_job(r, owner, id);
	if (go != 1 || state == CL_EXPORT_RUNNING) {
		free(manifest);
		free(error);
		if (go != 1)
			return go;
		snprintf(progress, sizeof(progress), "%lld resources written", (long long)written);
		cl_reply_header(r, "X-Progress", progress);
		cl_reply_header(r, "Retry-After", "1");
		return cl_reply(r, 202, "application/fhir+json", NULL, 0, NULL, NULL);
	}
	if (state == CL_EXPORT_FAILED) {
		char msg[600];

		snprintf(msg, sizeof(msg), "the export failed: %.500s", error);
		free(error);
		return cl_reply_error(r, 500, "export", msg, NULL, NULL);
	}
	cl_api_fhir_base(r, base, sizeof(base));
	{
		char *body = manifest_with_urls(manifest, base, id, request);

		free(manifest);
		if (!body)
			return cl_reply_error(r, 500, "store", "an export's manifest is not JSON", NULL,
					      NULL);
		return cl_reply(r, 200, "application/json", body, strlen(body), NULL, NULL);
	}
}

int cl_api_fhir_export_cancel(struct cl_req *r)
{
	int go = the_job(r), rc;

	if (go != 1)
		return go;
	rc = cl_fhir_export_cancel(r->s->exports, r->param[0]);
	if (rc != CL_OK)
		return cl_reply_error(r, rc == CL_ENOENT ? 404 : 500,
				      rc == CL_ENOENT ? "not_found" : "store", cl_error_detail(), NULL,
				      NULL);
	return cl_reply(r, 202, "application/fhir+json", NULL, 0, NULL, NULL);
}

/* An output file, read as the transport sends it (files are large). */
struct file_stream {
	struct cl_req_stream src;
	int fd;
};

static ssize_t file_read(void *arg, char *buf, size_t max)
{
	struct file_stream *f = arg;
	ssize_t n = read(f->fd, buf, max);

	return n > 0 ? n : -1; /* the end, or a failed read: the reply ends */
}

static void file_release(void *arg)
{
	struct file_stream *f = arg;

	close(f->fd);
	free(f);
}

int cl_api_fhir_export_file(struct cl_req *r)
{
	const char *id = r->param[0], *name = r->param[1];
	char path[4096];
	struct file_stream *f;
	int go = the_job(r);

	if (go != 1)
		return go;
	if (cl_fhir_export_file(r->s->exports, id, name, path, sizeof(path)) != CL_OK)
		return cl_reply_error(r, 404, "not_found", "no such export file", NULL, NULL);
	f = calloc(1, sizeof(*f));
	if (!f)
		return cl_reply_error(r, 500, "memory", "no memory for an export file", NULL, NULL);
	f->fd = open(path, O_RDONLY | O_CLOEXEC);
	if (f->fd < 0) {
		free(f);
		return cl_reply_error(r, 500, "store", "cannot read an export file", NULL, NULL);
	}
	f->src.read = file_read;
	f->src.release = file_release;
	f->src.arg = f;
	return cl_reply_stream(r, 200, "application/fhir+ndjson", &f->src);
}
