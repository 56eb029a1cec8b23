/*
 * cl_delta_txn.c — writing a Delta table: transactions, atomic commits
 * with conflict checks, and the statistics of an `add` (see cl_delta.h).
 *
 * A commit's actions are written to a temporary file in _delta_log, made
 * durable, and linked to the next version's name; link() fails if that
 * name exists, so of two writers exactly one gets a version and no reader
 * of any engine ever sees a partial commit. The loser reads the commits it
 * missed: if one of them removed a file this transaction removes, or
 * changed the metadata or protocol, the commit fails with CL_EBUSY naming
 * that version; otherwise it takes the next version and tries again.
 */
#include "lake/cl_delta.h"
#include "lake/cl_delta_int.h"
#include "lake/cl_lake_loc.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <sodium.h>

#include "core/cl_error.h"
#include "core/cl_fs.h"
#include "core/cl_log.h"
#include "core/cl_mem.h"
#include "core/cl_time.h"

#define MAX_ATTEMPTS 100

struct cl_delta_txn {
	char path[PATH_MAX];
	struct cl_delta_snapshot *snap;  /* the version read, NULL for a new table */
	int64_t read_version;            /* -1 for a new table */
	json_t *metadata;                /* a metaData action to commit, or NULL */
	json_t *protocol;                /* a protocol action to commit, or NULL */
	json_t *adds;                    /* add actions */
	json_t *removes;                 /* remove actions */
	json_t *removed_paths;           /* decoded paths removed: set */
	int checkpoint_every;
};

void cl_delta_uuid(char out[37])
{
	unsigned char r[16];
	randombytes_buf(r, sizeof(r));
	r[6] = (unsigned char)((r[6] & 0x0f) | 0x40);
	r[8] = (unsigned char)((r[8] & 0x3f) | 0x80);
	snprintf(out, 37, "%02x%02x%02x%02x-%02x%02x-%02x%02x-%02x%02x-%02x%02x%02x%02x%02x%02x",
		 r[0], r[1], r[2], r[3], r[4], r[5], r[6], r[7], r[8], r[9], r[10], r[11], r[12],
		 r[13], r[14], r[15]);
}

/* Escapes a relative path the way Delta's add.path is written: a URI
 * path, with characters outside the unreserved set and '/' as %XX. */
static void url_encode(const char *in, char *out, size_t cap)
{
	static const char hex[] = "0123456789ABCDEF";
	size_t n = 0;
	for (const unsigned char *p = (const unsigned char *)in; *p && n + 4 < cap; p++) {
		if ((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') || (*p >= '0' && *p <= '9') ||
		    strchr("-._~/=", *p)) {
			out[n++] = (char)*p;
		} else {
			out[n++] = '%';
			out[n++] = hex[*p >> 4];
			out[n++] = hex[*p & 15];
		}
	}
	out[n] = 0;
}

int cl_delta_txn_begin(struct cl_delta_txn **out, const char *path)
{
	struct cl_delta_txn *t = cl_calloc(1, sizeof(*t));
	char log[PATH_MAX + 16];
	int rc;

	*out = NULL;
	if (!t)
		return CL_ENOMEM;
	snprintf(t->path, sizeof(t->path), "%s", path);
	t->read_version = -1;
	t->checkpoint_every = 10;
	t->adds = json_array();
	t->removes = json_array();
	t->removed_paths = json_object();
	if (!t->adds || !t->removes || !t->removed_paths) {
		cl_delta_txn_free(t);
		return CL_ENOMEM;
	}
	snprintf(log, sizeof(log), "%s/_delta_log", path);
	struct cl_delta_listing l;
	/* a log with no commit yet (its first writer died before committing)
	 * is a new table */
	rc = cl_lake_loc_remote(path) || cl_fs_is_dir(log) ? cl_delta_list(path, &l) : CL_ENOENT;
	if (rc != CL_OK && rc != CL_ENOENT) {
		/* not "no table": a store that did not answer is no new table */
		cl_delta_txn_free(t);
		return rc;
	}
	if (rc == CL_OK) {
		cl_delta_listing_free(&l);
		rc = cl_delta_snapshot_load(path, CL_DELTA_LATEST, CL_DELTA_NO_TIME, &t->snap);
		if (rc) {
			cl_delta_txn_free(t);
			return rc;
		}
		t->read_version = t->snap->version;
	}
	*out = t;
	return 0;
}

const struct cl_delta_snapshot *cl_delta_txn_snapshot(const struct cl_delta_txn *t)
{
	return t->snap;
}

void cl_delta_txn_checkpoint_every(struct cl_delta_txn *t, int n)
{
	t->checkpoint_every = n > 0 ? n : 10;
}

int cl_delta_txn_set_schema(struct cl_delta_txn *t, const struct cl_delta_field *fields,
			    size_t n, const char *const *partition_cols, size_t np,
			    const char *name)
{
	json_t *f = json_array(), *schema, *pcs = json_array();
	char id[37];

	for (size_t i = 0; i < n; i++) {
		json_t *type = json_loads(fields[i].type, JSON_DECODE_ANY, NULL);
		if (!json_is_object(type)) { /* a primitive type name */
			json_decref(type);
			type = json_string(fields[i].type);
		}
		json_array_append_new(f, json_pack("{s:s, s:o, s:b, s:{}}", "name", fields[i].name,
						   "type", type, "nullable", fields[i].nullable,
						   "metadata"));
	}
	for (size_t i = 0; i < np; i++)
		json_array_append_new(pcs, json_string(partition_cols[i]));
	schema = json_pack("{s:s, s:o}", "type", "struct", "fields", f);
	char *ss = schema ? json_dumps(schema, JSON_COMPACT | JSON_PRESERVE_ORDER) : NULL;
	json_decref(schema);
	if (!ss) {
		json_decref(pcs);
		return CL_ENOMEM;
	}
	if (t->snap && t->snap->table_id)
		snprintf(id, sizeof(id), "%s", t->snap->table_id);
	else
		cl_delta_uuid(id);
	json_decref(t->metadata);
	t->metadata = json_pack("{s:{s:s, s:s?, s:{s:s, s:{}}, s:s, s:o, s:{}, s:I}}", "metaData",
				"id", id, "name", name, "format", "provider", "parquet", "options",
				"schemaString", ss, "partitionColumns", pcs, "configuration",
				"createdTime", (json_int_t)(cl_time_now_us() / 1000));
	free(ss);
	if (!t->snap && !t->protocol)
		t->protocol = json_pack("{s:{s:i, s:i}}", "protocol", "minReaderVersion", 1,
					"minWriterVersion", 2);
	return t->metadata ? 0 : CL_ENOMEM;
}

int cl_delta_txn_add(struct cl_delta_txn *t, const char *rel_path,
		     const char *const *part_values, int64_t size, const char *stats_json,
		     bool data_change)
{
	char enc[4096];
	json_t *pv = json_object();
	const struct cl_delta_snapshot *s = t->snap;
	json_t *pcs = NULL;

	if (!pv)
		return CL_ENOMEM;
	/* partition columns: those of the schema being set, else the table's */
	if (t->metadata)
		pcs = json_object_get(json_object_get(t->metadata, "metaData"), "partitionColumns");
	size_t np = pcs ? json_array_size(pcs) : s ? s->npartition_cols : 0;
	for (size_t i = 0; i < np; i++) {
		const char *col = pcs ? json_string_value(json_array_get(pcs, i)) : s->partition_cols[i];
		const char *v = part_values ? part_values[i] : NULL;
		json_object_set_new(pv, col, v ? json_string(v) : json_null());
	}
	url_encode(rel_path, enc, sizeof(enc));
	json_t *a = json_pack("{s:{s:s, s:o, s:I, s:I, s:b}}", "add", "path", enc,
			      "partitionValues", pv, "size", (json_int_t)size, "modificationTime",
			      (json_int_t)(cl_time_now_us() / 1000), "dataChange", data_change);
	if (!a)
		return CL_ENOMEM;
	if (stats_json)
		json_object_set_new(json_object_get(a, "add"), "stats", json_string(stats_json));
	return json_array_append_new(t->adds, a) == 0 ? 0 : CL_ENOMEM;
}

int cl_delta_txn_remove(struct cl_delta_txn *t, const char *rel_path, bool data_change)
{
	const struct cl_delta_file *f = NULL;
	char enc[4096];

	for (size_t i = 0; t->snap && i < t->snap->nfiles; i++)
		if (strcmp(t->snap->files[i].path, rel_path) == 0)
			f = &t->snap->files[i];
	if (!f)
		return cl_error_set(CL_ENOENT, "%s is not an active file of %s", rel_path, t->path);
	json_t *pv = json_object();
	for (size_t k = 0; k < t->snap->npartition_cols; k++)
		json_object_set_new(pv, t->snap->partition_cols[k],
				    f->part_values[k] ? json_string(f->part_values[k]) : json_null());
	url_encode(rel_path, enc, sizeof(enc));
	json_t *a = json_pack("{s:{s:s, s:I, s:b, s:b, s:o, s:I}}", "remove", "path", enc,
			      "deletionTimestamp", (json_int_t)(cl_time_now_us() / 1000),
			      "dataChange", data_change, "extendedFileMetadata", 1,
			      "partitionValues", pv, "size", (json_int_t)f->size);
	if (!a)
		return CL_ENOMEM;
	json_object_set_new(t->removed_paths, rel_path, json_true());
	return json_array_append_new(t->removes, a) == 0 ? 0 : CL_ENOMEM;
}

/* The commit file's text: commitInfo, protocol, metaData, removes, adds. */
static char *commit_text(struct cl_delta_txn *t, const char *operation, json_t *params)
{
	json_t *op = json_object();
	const char *k;
	json_t *v;
	char id[37];

	json_object_foreach(params, k, v) {
		/* operationParameters are strings, as Spark writes them */
		if (json_is_string(v))
			json_object_set(op, k, v);
		else {
			char *s = json_dumps(v, JSON_COMPACT | JSON_ENCODE_ANY);
			json_object_set_new(op, k, json_string(s ? s : ""));
			free(s);
		}
	}
	cl_delta_uuid(id);
	json_t *ci = json_pack("{s:{s:I, s:s, s:o, s:b, s:s, s:s}}", "commitInfo", "timestamp",
			       (json_int_t)(cl_time_now_us() / 1000), "operation", operation,
			       "operationParameters", op, "isBlindAppend",
			       json_array_size(t->removes) == 0 && !t->metadata, "engineInfo",
			       "carelake/" CARELAKE_VERSION, "txnId", id);
	if (t->read_version >= 0 && ci)
		json_object_set_new(json_object_get(ci, "commitInfo"), "readVersion",
				    json_integer(t->read_version));
	size_t cap = 4096, len = 0;
	char *buf = cl_malloc(cap);
	json_t *lines[4] = { ci, t->protocol, t->metadata, NULL };
	int ok = buf && ci;
	for (int pass = 0; ok && pass < 3; pass++) {
		json_t *arr = pass == 0 ? NULL : pass == 1 ? t->removes : t->adds;
		size_t n = pass == 0 ? 3 : json_array_size(arr);
		for (size_t i = 0; ok && i < n; i++) {
			json_t *a = pass == 0 ? lines[i] : json_array_get(arr, i);
			if (!a)
				continue;
			char *s = json_dumps(a, JSON_COMPACT | JSON_PRESERVE_ORDER);
			size_t sl = s ? strlen(s) : 0;
			if (!s) {
				ok = 0;
				break;
			}
			if (len + sl + 2 > cap) {
				while (len + sl + 2 > cap)
					cap *= 2;
				char *nb = cl_realloc(buf, cap);
				if (!nb) {
					free(s);
					ok = 0;
					break;
				}
				buf = nb;
			}
			memcpy(buf + len, s, sl);
			len += sl;
			buf[len++] = '\n';
			free(s);
		}
	}
	json_decref(ci);
	if (!ok) {
		cl_free(buf);
		return NULL;
	}
	buf[len] = 0;
	return buf;
}

/* Whether the commits after our read version conflict with us. */
static int check_conflicts(struct cl_delta_txn *t, int64_t upto)
{
	for (int64_t v = t->read_version + 1; v <= upto; v++) {
		struct cl_delta_state st;
		cl_delta_state_init(&st);
		int rc = cl_delta_read_commit(t->path, v, &st);
		if (rc == CL_OK && (st.metadata || st.protocol))
			rc = cl_error_set(CL_EBUSY, "%s: version %lld changed the table's metadata "
					  "meanwhile", t->path, (long long)v);
		const char *k;
		json_t *x;
		json_object_foreach(st.tombstones, k, x)
			if (rc == CL_OK && json_object_get(t->removed_paths, k))
				rc = cl_error_set(CL_EBUSY, "%s: version %lld removed %s, which this "
						  "commit removes too", t->path, (long long)v, k);
		cl_delta_state_free(&st);
		if (rc)
			return rc;
	}
	return 0;
}

/* The no-longer-latest snapshot's successors: do they conflict with t?
 * Then t moves to the version after them. */
static int catch_up(struct cl_delta_txn *t, int64_t *v)
{
	struct cl_delta_listing l;
	int rc = cl_delta_list(t->path, &l);
	if (rc)
		return rc;
	int64_t latest = cl_delta_latest(&l);
	cl_delta_listing_free(&l);
	if ((rc = check_conflicts(t, latest)))
		return rc;
	t->read_version = latest;
	*v = latest + 1;
	return 0;
}

/* A commit to object storage: a conditional create of the version's
 * file, which exactly one of racing writers wins (cl_lake_loc_create). */
static int commit_remote(struct cl_delta_txn *t, const char *log, const char *text,
			 int64_t *v, int *created)
{
	char final[PATH_MAX + 64];
	for (int attempt = 0;; attempt++) {
		snprintf(final, sizeof(final), "%s/%020lld.json", log, (long long)*v);
		int rc = cl_lake_loc_create(final, text, strlen(text));
		if (rc == 0) {
			*created = 1;
			return 0;
		}
		if (rc != CL_EEXIST)
			return rc;
		if (attempt >= MAX_ATTEMPTS)
			return cl_error_set(CL_EBUSY, "%s: lost %d races for the next version",
					    t->path, attempt);
		if ((rc = catch_up(t, v)))
			return rc;
	}
}

int cl_delta_txn_commit(struct cl_delta_txn *t, const char *operation, json_t *params,
			int64_t *version)
{
	char log[PATH_MAX + 16], tmp[PATH_MAX + 64], final[PATH_MAX + 64];
	int rc = 0, fd, linked = 0;
	char *text = NULL;
	int64_t v = t->read_version + 1;

	*version = -1;
	if (!t->snap && !t->metadata) {
		cl_delta_txn_free(t);
		return cl_error_set(CL_EINVAL, "%s: a new Delta table needs a schema", t->path);
	}
	snprintf(log, sizeof(log), "%s/_delta_log", t->path);
	if (!cl_lake_loc_remote(t->path) && (rc = cl_fs_mkdirs(log)))
		goto out;
	text = commit_text(t, operation, params);
	if (!text) {
		rc = CL_ENOMEM;
		goto out;
	}
	if (cl_lake_loc_remote(t->path)) {
		rc = commit_remote(t, log, text, &v, &linked);
		if (linked)
			*version = v;
		goto checkpoint;
	}
	/* the whole commit, durable, under a name no reader looks at */
	snprintf(tmp, sizeof(tmp), "%s/.%u.json.tmp", log, randombytes_random());
	if ((rc = cl_fs_create(tmp, 0600, &fd)))
		goto out;
	rc = cl_fs_write_all(fd, text, strlen(text), tmp);
	if (rc == 0)
		rc = cl_fs_datasync(fd, tmp);
	close(fd);
	for (int attempt = 0; rc == 0; attempt++) {
		snprintf(final, sizeof(final), "%s/%020lld.json", log, (long long)v);
		int lrc = cl_fs_link(tmp, final);
		if (lrc == 0) {
			linked = 1;
			break;
		}
		if (lrc != CL_EEXIST) {
			rc = lrc;
			break;
		}
		if (attempt >= MAX_ATTEMPTS) {
			rc = cl_error_set(CL_EBUSY, "%s: lost %d races for the next version", t->path,
					  attempt);
			break;
		}
		/* someone else took v: do their commits touch what we touch? */
		if ((rc = catch_up(t, &v)))
			break;
	}
	cl_fs.unlink(tmp);
	if (linked) {
		/* the version is taken, whole; a failure from here on does not
		 * take it back (another writer may already build on it) */
		*version = v;
		rc = cl_fs_sync_dir(log);
	}
checkpoint:
	if (rc == 0 && t->checkpoint_every > 0 && v > 0 && v % t->checkpoint_every == 0 &&
	    cl_delta_checkpoint(t->path, v) != CL_OK) {
		/* the commit stands; a checkpoint only saves readers work */
		cl_log_warn("lake", "event=checkpoint_failed table=%s version=%lld detail=\"%s\"",
			    t->path, (long long)v, cl_error_detail());
	}
out:
	cl_free(text);
	cl_delta_txn_free(t);
	return rc;
}

void cl_delta_txn_free(struct cl_delta_txn *t)
{
	if (!t)
		return;
	cl_delta_snapshot_free(t->snap);
	json_decref(t->metadata);
	json_decref(t->protocol);
	json_decref(t->adds);
	json_decref(t->removes);
	json_decref(t->removed_paths);
	cl_free(t);
}

/* ---- statistics -------------------------------------------------------- */

/* A timestamp as Spark writes it in stats: milliseconds, UTC. */
static json_t *ts_json(int64_t us, int round_up)
{
	char buf[40];
	int64_t ms = us / 1000;
	if (us % 1000 != 0 && ((us < 0) != (round_up != 0)))
		ms += round_up ? 1 : -1; /* stay a bound */
	cl_time_format_rfc3339(ms * 1000, buf, sizeof(buf), 3);
	return json_string(buf);
}

static json_t *bound(const struct cl_pq_colstats *c, enum cl_pq_type t, int max)
{
	char day[16];
	switch (t) {
	case CL_PQ_BOOL:
		return json_boolean(max ? c->max_i : c->min_i);
	case CL_PQ_INT32:
	case CL_PQ_INT64:
		return json_integer(max ? c->max_i : c->min_i);
	case CL_PQ_FLOAT:
	case CL_PQ_DOUBLE: {
		double d = max ? c->max_d : c->min_d;
		return isfinite(d) ? json_real(d) : NULL;
	}
	case CL_PQ_DATE:
		cl_time_format_day((max ? c->max_i : c->min_i) * 86400000000LL, day);
		return json_string(day);
	case CL_PQ_TIMESTAMP:
		return ts_json(max ? c->max_i : c->min_i, max);
	case CL_PQ_STRING: {
		const char *s = max ? c->max_s : c->min_s;
		return s ? json_string(s) : NULL;
	}
	default:
		return NULL;
	}
}

char *cl_delta_stats_json(const struct cl_pq_file_stats *st, const char *const *names,
			  const enum cl_pq_type *types)
{
	json_t *mn = json_object(), *mx = json_object(), *nc = json_object();
	for (size_t i = 0; i < st->ncols; i++) {
		const struct cl_pq_colstats *c = &st->cols[i];
		json_object_set_new(nc, names[i], json_integer(c->nulls));
		if (!c->has_minmax)
			continue;
		json_t *a = bound(c, types[i], 0), *b = bound(c, types[i], 1);
		if (a && b) {
			json_object_set_new(mn, names[i], a);
			json_object_set_new(mx, names[i], b);
		} else {
			json_decref(a);
			json_decref(b);
		}
	}
	json_t *o = json_pack("{s:I, s:o, s:o, s:o}", "numRecords", (json_int_t)st->rows,
			      "minValues", mn, "maxValues", mx, "nullCount", nc);
	char *s = o ? json_dumps(o, JSON_COMPACT | JSON_PRESERVE_ORDER) : NULL;
	json_decref(o);
	char *out = s ? cl_strdup(s) : NULL;
	free(s);
	return out;
}
