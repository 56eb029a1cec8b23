/*
 * FHIR Bulk Data export jobs. See cl_fhir_export.h.
 */
#include "cl_fhir_export.h"
#include "cl_fhir_meta.h"
#include "cl_fhir_search.h"
#include "core/cl_error.h"
#include "core/cl_fs.h"
#include "core/cl_log.h"
#include "core/cl_time.h"
#include "core/cl_worker.h"
#include "privacy/cl_deid.h"
#include "privacy/cl_deid_fhir.h"
#include "store/cl_store.h"
#include "store/cl_store_fhir.h"

#include <dirent.h>
#include <errno.h>
#include <jansson.h>
#include <limits.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <unistd.h>

/* Why the job being written is to stop: cancelled (its files go), or
 * the runner stopping (its request stays, to run again). */
enum halt { RUN, CANCEL, SHUTDOWN };

struct cl_fhir_exports {
	char data_dir[PATH_MAX];
	char dir[PATH_MAX];          /* <data>/exports */
	char keys_dir[PATH_MAX];     /* the de-identification keys */
	struct cl_deid_settings deid;  /* deid.*, as serve started */
	struct cl_worker *w;
	pthread_mutex_t mu;
	char running[CL_EXPORT_ID_MAX];  /* the job being written ("" none) */
	int64_t written;             /* its resources written so far */
	int cancel;                  /* it is to stop: enum halt */
};

/* <data>/exports/<id>[/<name>] into buf. */
static int job_path(const struct cl_fhir_exports *x, const char *id, const char *name, char *buf,
		    size_t cap)
{
	size_t n = (size_t)snprintf(buf, cap, "%s/%s%s%s", x->dir, id, name ? "/" : "",
				    name ? name : "");

	return n < cap ? CL_OK : cl_error_set(CL_EINVAL, "an export's path is too long");
}

static int exists(const struct cl_fhir_exports *x, const char *id, const char *name)
{
	char path[PATH_MAX + 80];

	return job_path(x, id, name, path, sizeof(path)) == CL_OK && access(path, F_OK) == 0;
}

/* 1 if id could be a job's (hex, as made here). */
static int id_ok(const char *id)
{
	size_t n = strspn(id, "0123456789abcdef");

	return n == CL_EXPORT_ID_MAX - 1 && id[n] == '\0';
}

/* Removes a job's files (they are flat) but its cancelled mark, and its
 * request when keep_request. */
static void remove_job(const struct cl_fhir_exports *x, const char *id, int keep_request)
{
	char path[PATH_MAX + 80], file[PATH_MAX + 400];
	DIR *d;
	struct dirent *e;

	if (job_path(x, id, NULL, path, sizeof(path)) != CL_OK || !(d = opendir(path)))
		return;
	while ((e = readdir(d)))
		if (strcmp(e->d_name, ".") && strcmp(e->d_name, "..") &&
		    strcmp(e->d_name, "cancelled") &&
		    (!keep_request || strcmp(e->d_name, "request.json")) &&
		    (size_t)snprintf(file, sizeof(file), "%s/%s", path, e->d_name) < sizeof(file))
			unlink(file);
	closedir(d);
}

/* ---- the request, on disk ---- */

static json_t *request_json(const struct cl_fhir_export_request *rq, int64_t created_us)
{
	return json_pack("{s:s,s:s,s:s,s:s,s:I,s:s,s:s,s:s,s:I,s:b}", "level", rq->level, "group",
			 rq->group, "patient", rq->patient, "types", rq->types, "since_us",
			 (json_int_t)rq->since_us, "type_filters", rq->type_filters, "owner",
			 rq->owner, "request", rq->request, "created_us", (json_int_t)created_us,
			 "deidentified", rq->deidentified != 0);
}

static void take(char *dst, size_t cap, json_t *j, const char *key)
{
	snprintf(dst, cap, "%s", json_string_value(json_object_get(j, key)) ?
				     json_string_value(json_object_get(j, key)) : "");
}

static int load_request(const struct cl_fhir_exports *x, const char *id,
			struct cl_fhir_export_request *rq, int64_t *created_us)
{
	char path[PATH_MAX + 80];
	json_t *j;

	memset(rq, 0, sizeof(*rq));
	if (job_path(x, id, "request.json", path, sizeof(path)) != CL_OK)
		return CL_ENOENT;
	j = json_load_file(path, 0, NULL);
	if (!j)
		return cl_error_set(CL_ENOENT, "no export job %s", id);
	take(rq->level, sizeof(rq->level), j, "level");
	take(rq->group, sizeof(rq->group), j, "group");
	take(rq->patient, sizeof(rq->patient), j, "patient");
	take(rq->types, sizeof(rq->types), j, "types");
	take(rq->type_filters, sizeof(rq->type_filters), j, "type_filters");
	take(rq->owner, sizeof(rq->owner), j, "owner");
	take(rq->request, sizeof(rq->request), j, "request");
	rq->since_us = json_integer_value(json_object_get(j, "since_us"));
	/* anything but false is de-identified: a request that cannot say
	 * which is never written identified */
	rq->deidentified = !json_is_false(json_object_get(j, "deidentified"));
	if (created_us)
		*created_us = json_integer_value(json_object_get(j, "created_us"));
	json_decref(j);
	return CL_OK;
}

/* Checks each _typeFilter ("Type?query", one a line) and each _type. */
static int check_request(const struct cl_fhir_export_request *rq, char *why, size_t cap)
{
	struct cl_fhir_search *s = malloc(sizeof(*s));
	char line[1100];
	int rc = CL_OK;

	if (!s)
		return cl_error_set(CL_ENOMEM, "no memory for an export");
	for (const char *t = rq->types; *t && rc == CL_OK;) {
		size_t n = strcspn(t, ",");

		snprintf(line, sizeof(line), "%.*s", (int)(n < 100 ? n : 100), t);
		if (n == 0 || n >= 64 || !cl_fhir_type_ok(line)) {
			snprintf(why, cap, "_type: '%.60s' is not a resource type", line);
			rc = CL_EINVAL;
		}
		t += n + (t[n] == ',');
	}
	for (const char *f = rq->type_filters; *f && rc == CL_OK;) {
		size_t n = strcspn(f, "\n");
		char *q;

		snprintf(line, sizeof(line), "%.*s", (int)(n < sizeof(line) - 1 ? n : sizeof(line) - 1),
			 f);
		q = strchr(line, '?');
		if (q)
			*q++ = '\0';
		cl_fhir_search_init(s, line, 0, 0);
		if (!q || !cl_fhir_type_ok(line)) {
			snprintf(why, cap, "_typeFilter: '%.80s' is not Type?query", line);
			rc = CL_EINVAL;
		} else if (cl_fhir_search_query(s, q) != CL_OK) {
			snprintf(why, cap, "_typeFilter %.64s: %s", line, s->why);
			rc = CL_EINVAL;
		}
		f += n + (f[n] == '\n');
	}
	free(s);
	return rc;
}

int cl_fhir_export_submit(struct cl_fhir_exports *x, const struct cl_fhir_export_request *rq,
			  char id[CL_EXPORT_ID_MAX], char *why, size_t why_cap)
{
	unsigned char rnd[(CL_EXPORT_ID_MAX - 1) / 2];
	char path[PATH_MAX + 80], *text;
	json_t *j;
	int rc;

	why[0] = '\0';
	rc = check_request(rq, why, why_cap);
	if (rc != CL_OK)
		return rc;
	if (getrandom(rnd, sizeof(rnd), 0) != (ssize_t)sizeof(rnd))
		return cl_error_set(CL_EIO, "no random bytes for an export's id");
	for (size_t i = 0; i < sizeof(rnd); i++)
		snprintf(id + 2 * i, 3, "%02x", rnd[i]);
	rc = job_path(x, id, NULL, path, sizeof(path));
	if (rc == CL_OK)
		rc = cl_fs_mkdirs(path);
	if (rc != CL_OK)
		return rc;
	j = request_json(rq, cl_time_now_us());
	text = j ? json_dumps(j, JSON_COMPACT) : NULL;
	json_decref(j);
	if (!text)
		return cl_error_set(CL_ENOMEM, "no memory for an export");
	rc = job_path(x, id, "request.json", path, sizeof(path));
	if (rc == CL_OK)
		rc = cl_fs_write_atomic(path, text, strlen(text), 0600);
	free(text);
	if (rc == CL_OK)
		cl_worker_poke(x->w);
	return rc;
}

/* ---- running a job ---- */

struct file {
	FILE *f;
	char part[PATH_MAX + 80], final[PATH_MAX + 80];
	int64_t count;
};

struct run {
	struct cl_fhir_exports *x;
	const char *id;
	struct cl_store *st;
	struct file out, errors;
	json_t *seen;                /* ids written of the type (several filters) */
	struct cl_deid *deid;        /* a de-identified job's de-identifier (else NULL) */
	json_t *held;                /* ... the types held, to resolve urn:uuid references */
	json_t *refs;                /* ... references resolved: "Type/id" or "" (unknown) */
	int rc;
};

static int file_open(struct run *j, struct file *f, const char *name)
{
	char part[200];

	snprintf(part, sizeof(part), "%s.part", name);
	if (job_path(j->x, j->id, part, f->part, sizeof(f->part)) != CL_OK ||
	    job_path(j->x, j->id, name, f->final, sizeof(f->final)) != CL_OK)
		return CL_EINVAL;
	f->count = 0;
	f->f = fopen(f->part, "we");
	if (!f->f)
		return cl_error_set(cl_error_from_errno(errno), "%s: %s", f->part, strerror(errno));
	return CL_OK;
}

/* Closes f: durable and under its name when it holds anything, else gone. */
static int file_close(struct file *f)
{
	int rc = CL_OK;

	if (!f->f)
		return CL_OK;
	if (fflush(f->f) != 0 || fsync(fileno(f->f)) != 0)
		rc = cl_error_set(cl_error_from_errno(errno), "%s: %s", f->part, strerror(errno));
	fclose(f->f);
	f->f = NULL;
	if (rc == CL_OK && f->count && rename(f->part, f->final) != 0)
		rc = cl_error_set(cl_error_from_errno(errno), "%s: %s", f->final, strerror(errno));
	if (rc != CL_OK || !f->count)
		unlink(f->part);
	return rc;
}

/* An OperationOutcome line for what could not be written. */
static void error_line(struct run *j, const char *what)
{
	json_t *oo = json_pack("{s:s,s:[{s:s,s:s,s:s}]}", "resourceType", "OperationOutcome", "issue",
			       "severity", "error", "code", "exception", "diagnostics", what);
	char *text = oo ? json_dumps(oo, JSON_COMPACT) : NULL;

	if (!j->errors.f && file_open(j, &j->errors, "errors.ndjson") != CL_OK) {
		free(text);
		json_decref(oo);
		return;
	}
	if (text) {
		fputs(text, j->errors.f);
		fputc('\n', j->errors.f);
		j->errors.count++;
	}
	free(text);
	json_decref(oo);
}

static int cancelled(struct run *j)
{
	int c;

	pthread_mutex_lock(&j->x->mu);
	c = j->x->cancel;
	pthread_mutex_unlock(&j->x->mu);
	return c;
}

/* What a reference that is no Type/id names (a Bundle's urn:uuid:X): the
 * held resource of id X, of whichever type holds it (asked once a job). */
static int resolve(void *arg, const char *ref, char type[CL_DEID_FHIR_TYPE_MAX],
		   char id[CL_DEID_FHIR_ID_MAX])
{
	struct run *j = arg;
	const char *known = json_string_value(json_object_get(j->refs, ref));
	const char *tail = strrchr(ref, ':');
	char found[CL_DEID_FHIR_TYPE_MAX + CL_DEID_FHIR_ID_MAX] = "";
	size_t k;
	json_t *t;

	if (!known) {
		tail = tail ? tail + 1 : ref;
		if (cl_fhir_id_ok(tail))
			json_array_foreach(j->held, k, t)
				if (cl_store_fhir_current(j->st, json_string_value(t), tail, NULL, 0) ==
				    CL_OK) {
					snprintf(found, sizeof(found), "%s/%s", json_string_value(t), tail);
					break;
				}
		if (json_object_size(j->refs) < 1000000)
			json_object_set_new(j->refs, ref, json_string(found));
		known = found;
	}
	if (!known[0] || !strchr(known, '/'))
		return -1;
	snprintf(type, CL_DEID_FHIR_TYPE_MAX, "%.*s", (int)(strchr(known, '/') - known), known);
	snprintf(id, CL_DEID_FHIR_ID_MAX, "%s", strchr(known, '/') + 1);
	return 0;
}

/* The resource text *body (meta set) de-identified, in its place. */
static int deidentify(struct run *j, const struct cl_fhir_match *m, char **body, size_t *len)
{
	char patient[CL_FHIR_ID_MAX] = "", *text;
	json_t *res = json_loadb(*body, *len, 0, NULL);
	int rc;

	if (!res)
		return cl_error_set(CL_EPARSE, "not JSON");
	/* its compartment: whose days move its dates */
	rc = cl_store_fhir_current(j->st, m->type, m->id, patient, sizeof(patient));
	if (rc == CL_OK || rc == CL_ENOENT)
		rc = cl_deid_fhir(j->deid, res, patient, resolve, j);
	text = rc == CL_OK ? json_dumps(res, JSON_COMPACT | JSON_REAL_PRECISION(15)) : NULL;
	json_decref(res);
	if (rc == CL_OK && !text)
		rc = cl_error_set(CL_ENOMEM, "no memory for a resource");
	if (rc != CL_OK)
		return rc;
	free(*body);
	*len = strlen(text);
	/* room for the line's end, as cl_fhir_with_meta leaves */
	*body = realloc(text, *len + 2);
	if (!*body) {
		free(text);
		return cl_error_set(CL_ENOMEM, "no memory for a resource");
	}
	return CL_OK;
}

static int one(void *arg, const struct cl_fhir_match *m)
{
	struct run *j = arg;
	char *body = NULL;
	size_t len = 0;

	if (j->seen) {
		if (json_object_get(j->seen, m->id))
			return 0;
		json_object_set_new(j->seen, m->id, json_true());
	}
	if (cl_fhir_with_meta(m->resource, m->len, m->version, m->updated_us, &body, &len) != CL_OK ||
	    (j->deid && deidentify(j, m, &body, &len) != CL_OK)) {
		char what[300], space[80], p[CL_DEID_PSEUDONYM_LEN + 1];

		if (j->deid) {
			/* never the id itself, nor why (it may quote the text) */
			cl_deid_fhir_space(m->type, space, sizeof(space));
			cl_deid_pseudonym(j->deid, space, m->id, strlen(m->id), p);
			snprintf(what, sizeof(what), "%s/%s: could not be read or de-identified",
				 m->type, p);
		} else {
			snprintf(what, sizeof(what), "%s/%s: %s", m->type, m->id, cl_error_detail());
		}
		free(body);
		error_line(j, what);
		return 0;
	}
	/* one resource a line: the text as it came may span lines (a line
	 * break is only ever whitespace between JSON's tokens) */
	for (char *c = body; (c = memchr(c, '\n', len - (size_t)(c - body))); c++)
		*c = ' ';
	for (char *c = body; (c = memchr(c, '\r', len - (size_t)(c - body))); c++)
		*c = ' ';
	body[len] = '\n';
	if (fwrite(body, 1, len + 1, j->out.f) != len + 1) {
		j->rc = cl_error_set(cl_error_from_errno(errno), "%s: %s", j->out.part, strerror(errno));
		free(body);
		return 1;
	}
	free(body);
	j->out.count++;
	__atomic_add_fetch(&j->x->written, 1, __ATOMIC_RELAXED);
	if ((j->out.count & 4095) == 0 && cancelled(j)) {
		j->rc = cl_error_set(CL_ECLOSED, "cancelled");
		return 1;
	}
	return 0;
}

struct members {
	char (*ids)[65];
	size_t n, cap;
};

static void member(void *arg, const char *patient)
{
	struct members *m = arg;

	if (m->n == m->cap) {
		size_t cap = m->cap ? 2 * m->cap : 64;
		char(*ids)[65] = realloc(m->ids, cap * sizeof(*ids));

		if (!ids)
			return;
		m->ids = ids;
		m->cap = cap;
	}
	snprintf(m->ids[m->n++], 65, "%s", patient);
}

/* One search of a type's resources (a filter's, or all) into the file. */
static int search_into(struct run *j, const struct cl_fhir_export_request *rq, const char *type,
		       const char *filter, const struct members *group)
{
	struct cl_fhir_search *s = malloc(sizeof(*s));
	int rc = CL_OK;

	if (!s)
		return cl_error_set(CL_ENOMEM, "no memory for an export");
	cl_fhir_search_init(s, type, 0, 0);
	if (filter && cl_fhir_search_query(s, filter) != CL_OK)
		rc = cl_error_set(CL_EINVAL, "_typeFilter %s: %s", type, s->why);
	s->q.type = type;
	s->q.count = INT64_MAX;
	s->q.since_us = rq->since_us;
	if (strcmp(rq->level, "system") != 0)
		s->q.in_compartment = 1;
	if (rq->patient[0])
		s->q.patient = rq->patient;
	if (rc == CL_OK && group) {
		/* the members' compartments, one after another */
		for (size_t i = 0; i < group->n && rc == CL_OK && j->rc == CL_OK; i++) {
			if (rq->patient[0] && strcmp(rq->patient, group->ids[i]) != 0)
				continue;
			s->q.patient = group->ids[i];
			rc = cl_store_fhir_search(j->st, &s->q, NULL, one, j);
		}
	} else if (rc == CL_OK) {
		rc = cl_store_fhir_search(j->st, &s->q, NULL, one, j);
	}
	free(s);
	return rc != CL_OK ? rc : j->rc;
}

static void add_type(void *arg, const char *type)
{
	json_t *list = arg;

	json_array_append_new(list, json_string(type));
}

/* Writes every type of the job; the manifest's output and error lists. */
static int write_job(struct run *j, const struct cl_fhir_export_request *rq, json_t *output,
		     json_t *errors)
{
	json_t *types = json_array();
	struct members group = { 0 };
	const struct members *g = strcmp(rq->level, "group") == 0 ? &group : NULL;
	size_t k;
	json_t *t;
	int rc = CL_OK;

	if (rq->types[0]) {
		for (const char *p = rq->types; *p;) {
			size_t n = strcspn(p, ",");

			json_array_append_new(types, json_stringn(p, n));
			p += n + (p[n] == ',');
		}
	} else {
		rc = cl_store_fhir_types(j->st, add_type, types);
	}
	if (rc == CL_OK && strcmp(rq->level, "group") == 0)
		rc = cl_store_ward_patients(j->st, rq->group, member, &group);
	json_array_foreach(types, k, t) {
		const char *type = json_string_value(t);
		char name[100];
		int filters = 0;

		if (rc != CL_OK)
			break;
		snprintf(name, sizeof(name), "%.64s.ndjson", type);
		rc = file_open(j, &j->out, name);
		if (rc != CL_OK)
			break;
		/* the type's filters, OR-ed: each resource once */
		for (const char *f = rq->type_filters; *f && rc == CL_OK;) {
			size_t n = strcspn(f, "\n"), tl = strlen(type);

			if (n > tl && strncmp(f, type, tl) == 0 && f[tl] == '?') {
				char filter[1100];

				if (!filters++)
					j->seen = json_object();
				snprintf(filter, sizeof(filter), "%.*s", (int)(n - tl - 1), f + tl + 1);
				rc = search_into(j, rq, type, filter, g);
			}
			f += n + (f[n] == '\n');
		}
		if (rc == CL_OK && !filters)
			rc = search_into(j, rq, type, NULL, g);
		json_decref(j->seen);
		j->seen = NULL;
		if (rc == CL_OK && j->out.count)
			json_array_append_new(output, json_pack("{s:s,s:s,s:I}", "type", type, "file",
								name, "count",
								(json_int_t)j->out.count));
		if (rc != CL_OK && rc != CL_ECLOSED && rc != CL_ENOSPC && rc != CL_EIO) {
			/* this type could not be written: said in error[], the rest goes on */
			char what[400];

			snprintf(what, sizeof(what), "%s: %s", type, cl_error_detail());
			error_line(j, what);
			j->out.count = 0;
			rc = CL_OK;
			j->rc = CL_OK;
		}
		{
			int crc = file_close(&j->out);

			if (rc == CL_OK)
				rc = crc;
		}
	}
	free(group.ids);
	json_decref(types);
	{
		int crc = file_close(&j->errors);

		if (rc == CL_OK)
			rc = crc;
	}
	if (rc == CL_OK && j->errors.count)
		json_array_append_new(errors, json_pack("{s:s,s:s,s:I}", "type", "OperationOutcome",
							"file", "errors.ndjson", "count",
							(json_int_t)j->errors.count));
	return rc;
}

static void run_job(struct cl_fhir_exports *x, const char *id)
{
	struct cl_fhir_export_request rq;
	struct run j = { .x = x, .id = id };
	json_t *output = json_array(), *errors = json_array(), *manifest;
	char when[40], path[PATH_MAX + 80], *text;
	int64_t t0;
	int rc = load_request(x, id, &rq, NULL);

	if (rc == CL_OK)
		rc = cl_store_open(x->data_dir, &j.st);
	if (rc == CL_OK)
		rc = cl_store_fhir_snapshot(j.st);
	t0 = cl_time_now_us();
	if (rc == CL_OK && rq.deidentified) {
		/* ages are taken at the job's transactionTime */
		rc = cl_deid_open(x->keys_dir, &x->deid, t0, &j.deid);
		j.held = json_array();
		j.refs = json_object();
		if (rc == CL_OK)
			rc = cl_store_fhir_types(j.st, add_type, j.held);
	}
	if (rc == CL_OK) {
		rc = write_job(&j, &rq, output, errors);
		cl_store_fhir_snapshot_end(j.st);
	}
	cl_store_close(j.st);
	cl_deid_close(j.deid);
	json_decref(j.held);
	json_decref(j.refs);
	if (rc == CL_ECLOSED || cancelled(&j)) {
		/* cancelled: gone; stopped by a shutdown: the files so far go,
		 * the request stays, to run again at the next start */
		remove_job(x, id, cancelled(&j) == SHUTDOWN);
		json_decref(output);
		json_decref(errors);
		return;
	}
	cl_time_format_rfc3339(t0, when, sizeof(when), 3);
	if (rc == CL_OK) {
		manifest = json_pack("{s:s,s:o,s:o}", "transactionTime", when, "output", output, "error",
				     errors);
		if (manifest && rq.deidentified)
			json_object_set_new(manifest, "extension",
					    json_pack("{s:{s:s,s:s,s:s}}", "deidentified", "method",
						      CL_EXPORT_DEID_METHOD, "security",
						      CL_DEID_FHIR_SECURITY_SYSTEM "|"
						      CL_DEID_FHIR_SECURITY_CODE, "documentation",
						      "docs/deidentification.md"));
		job_path(x, id, "manifest.json", path, sizeof(path));
	} else {
		cl_log_error("export", "event=failed job=%s detail=%s", id, CL_LOG_Q(cl_error_detail()));
		manifest = json_pack("{s:s}", "error", cl_error_detail());
		json_decref(output);
		json_decref(errors);
		remove_job(x, id, 1);
		job_path(x, id, "failed.json", path, sizeof(path));
	}
	text = manifest ? json_dumps(manifest, JSON_COMPACT) : NULL;
	json_decref(manifest);
	if (!text || cl_fs_write_atomic(path, text, strlen(text), 0600) != CL_OK)
		cl_log_error("export", "event=unrecorded job=%s detail=%s", id,
			     CL_LOG_Q(cl_error_detail()));
	else
		cl_log_info("export", "event=done job=%s failed=%d", id, rc != CL_OK);
	free(text);
}

/* The oldest job not finished, into id; 0 when there is none. */
static int next_job(struct cl_fhir_exports *x, char id[CL_EXPORT_ID_MAX])
{
	DIR *d = opendir(x->dir);
	struct dirent *e;
	int64_t best = INT64_MAX;
	int found = 0;

	if (!d)
		return 0;
	while ((e = readdir(d))) {
		struct cl_fhir_export_request rq;
		int64_t created;

		if (!id_ok(e->d_name) || exists(x, e->d_name, "manifest.json") ||
		    exists(x, e->d_name, "failed.json") || exists(x, e->d_name, "cancelled") ||
		    load_request(x, e->d_name, &rq, &created) != CL_OK || created >= best)
			continue;
		best = created;
		memcpy(id, e->d_name, CL_EXPORT_ID_MAX); /* id_ok: 32 hex and the NUL */
		found = 1;
	}
	closedir(d);
	return found;
}

static void runner(struct cl_worker *w, void *arg)
{
	struct cl_fhir_exports *x = arg;

	do {
		char id[CL_EXPORT_ID_MAX];

		while (!cl_worker_stopping(w) && next_job(x, id)) {
			pthread_mutex_lock(&x->mu);
			snprintf(x->running, sizeof(x->running), "%s", id);
			x->cancel = RUN;
			__atomic_store_n(&x->written, 0, __ATOMIC_RELAXED);
			pthread_mutex_unlock(&x->mu);
			run_job(x, id);
			pthread_mutex_lock(&x->mu);
			x->running[0] = '\0';
			pthread_mutex_unlock(&x->mu);
		}
	} while (!cl_worker_wait(w, 60 * (int64_t)1000000));
}

int cl_fhir_exports_start(const char *data_dir, const char *keys_dir,
			  const struct cl_deid_settings *deid, struct cl_fhir_exports **out)
{
	struct cl_fhir_exports *x = calloc(1, sizeof(*x));
	int rc;

	*out = NULL;
	if (!x)
		return cl_error_set(CL_ENOMEM, "no memory for exports");
	snprintf(x->data_dir, sizeof(x->data_dir), "%s", data_dir);
	snprintf(x->keys_dir, sizeof(x->keys_dir), "%s", keys_dir);
	x->deid = *deid;
	if ((size_t)snprintf(x->dir, sizeof(x->dir), "%s/exports", data_dir) >= sizeof(x->dir)) {
		free(x);
		return cl_error_set(CL_EINVAL, "data directory path too long");
	}
	pthread_mutex_init(&x->mu, NULL);
	rc = cl_fs_mkdirs(x->dir);
	if (rc == CL_OK)
		rc = cl_worker_start("cl-export", runner, x, &x->w);
	if (rc != CL_OK) {
		pthread_mutex_destroy(&x->mu);
		free(x);
		return rc;
	}
	*out = x;
	return CL_OK;
}

void cl_fhir_exports_stop(struct cl_fhir_exports *x)
{
	if (!x)
		return;
	/* a job stopped half-way is no cancel: it runs again at the next start */
	pthread_mutex_lock(&x->mu);
	x->cancel = SHUTDOWN;
	pthread_mutex_unlock(&x->mu);
	cl_worker_stop(x->w);
	pthread_mutex_destroy(&x->mu);
	free(x);
}

/* ---- what the HTTP side asks ---- */

int cl_fhir_export_status(struct cl_fhir_exports *x, const char *id, int *state, int64_t *written,
			  char **manifest, char **error, char *owner, char *request, size_t request_cap)
{
	struct cl_fhir_export_request rq;
	char path[PATH_MAX + 80];
	size_t len;
	int rc;

	*manifest = *error = NULL;
	*written = 0;
	if (!id_ok(id) || exists(x, id, "cancelled") || load_request(x, id, &rq, NULL) != CL_OK)
		return cl_error_set(CL_ENOENT, "no export job %.40s", id);
	snprintf(owner, CL_EXPORT_OWNER_MAX, "%s", rq.owner);
	snprintf(request, request_cap, "%s", rq.request);
	if (exists(x, id, "manifest.json")) {
		*state = CL_EXPORT_DONE;
		job_path(x, id, "manifest.json", path, sizeof(path));
		rc = cl_fs_read_file(path, 1 << 24, manifest, &len);
		return rc;
	}
	if (exists(x, id, "failed.json")) {
		json_t *j;

		*state = CL_EXPORT_FAILED;
		job_path(x, id, "failed.json", path, sizeof(path));
		j = json_load_file(path, 0, NULL);
		*error = strdup(j && json_string_value(json_object_get(j, "error"))
					? json_string_value(json_object_get(j, "error"))
					: "the export failed");
		json_decref(j);
		return *error ? CL_OK : cl_error_set(CL_ENOMEM, "no memory");
	}
	*state = CL_EXPORT_RUNNING;
	pthread_mutex_lock(&x->mu);
	if (strcmp(x->running, id) == 0)
		*written = __atomic_load_n(&x->written, __ATOMIC_RELAXED);
	pthread_mutex_unlock(&x->mu);
	return CL_OK;
}

int cl_fhir_export_deidentified(struct cl_fhir_exports *x, const char *id)
{
	struct cl_fhir_export_request rq;

	return id_ok(id) && load_request(x, id, &rq, NULL) == CL_OK && rq.deidentified;
}

int cl_fhir_export_cancel(struct cl_fhir_exports *x, const char *id)
{
	char path[PATH_MAX + 80];
	int rc;

	if (!id_ok(id) || !exists(x, id, "request.json") || exists(x, id, "cancelled"))
		return cl_error_set(CL_ENOENT, "no export job %.40s", id);
	rc = job_path(x, id, "cancelled", path, sizeof(path));
	if (rc == CL_OK)
		rc = cl_fs_write_atomic(path, "", 0, 0600);
	if (rc != CL_OK)
		return rc;
	pthread_mutex_lock(&x->mu);
	if (strcmp(x->running, id) == 0)
		x->cancel = CANCEL; /* the runner removes its files as it stops */
	else
		remove_job(x, id, 0);
	pthread_mutex_unlock(&x->mu);
	return CL_OK;
}

int cl_fhir_export_file(struct cl_fhir_exports *x, const char *id, const char *name, char *path,
			size_t cap)
{
	size_t n = strlen(name);

	/* <Type>.ndjson or errors.ndjson of a finished job, nothing else */
	if (!id_ok(id) || !exists(x, id, "manifest.json") || exists(x, id, "cancelled") ||
	    n < 8 || n > 80 || strcmp(name + n - 7, ".ndjson") != 0 ||
	    strspn(name, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz") != n - 7)
		return cl_error_set(CL_ENOENT, "no such export file");
	if (job_path(x, id, name, path, cap) != CL_OK || access(path, R_OK) != 0)
		return cl_error_set(CL_ENOENT, "no such export file");
	return CL_OK;
}
