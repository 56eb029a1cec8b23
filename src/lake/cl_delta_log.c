/*
 * cl_delta_log.c — reading a Delta table's log (see cl_delta.h).
 *
 * A snapshot is built by replaying actions in version order onto a state:
 * the newest checkpoint at or below the wanted version first (a Parquet
 * file of one action per row, read as nested records), then every JSON
 * commit after it, one action per line. `protocol` and `metaData` replace
 * the previous ones; `add` puts a file in the active set (keyed by its
 * decoded path), `remove` takes it out and leaves a tombstone. Every
 * problem names the file and line it is in; a reader or table feature
 * carelake cannot honour is CL_ENOTSUP, never a silently wrong answer.
 */
#include "lake/cl_delta.h"
#include "lake/cl_delta_int.h"
#include "lake/cl_lake_loc.h"

#include <dirent.h>
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>

#include "core/cl_error.h"
#include "core/cl_fs.h"
#include "core/cl_mem.h"
#include "core/cl_time.h"

#define LOG_MAX_BYTES (256u << 20) /* one commit file */

/* ---- types ------------------------------------------------------------- */

const char *cl_delta_type_of(enum cl_pq_type t)
{
	switch (t) {
	case CL_PQ_BOOL: return "boolean";
	case CL_PQ_INT32: return "integer";
	case CL_PQ_INT64: return "long";
	case CL_PQ_FLOAT: return "float";
	case CL_PQ_DOUBLE: return "double";
	case CL_PQ_STRING: return "string";
	case CL_PQ_BINARY: return "binary";
	case CL_PQ_DATE: return "date";
	case CL_PQ_TIMESTAMP: return "timestamp";
	default: return "string";
	}
}

enum cl_pq_type cl_delta_pq_type(const char *t)
{
	static const struct { const char *name; enum cl_pq_type type; } map[] = {
		{ "boolean", CL_PQ_BOOL }, { "byte", CL_PQ_INT32 }, { "short", CL_PQ_INT32 },
		{ "integer", CL_PQ_INT32 }, { "long", CL_PQ_INT64 }, { "float", CL_PQ_FLOAT },
		{ "double", CL_PQ_DOUBLE }, { "string", CL_PQ_STRING }, { "binary", CL_PQ_BINARY },
		{ "date", CL_PQ_DATE }, { "timestamp", CL_PQ_TIMESTAMP },
		{ "timestamp_ntz", CL_PQ_TIMESTAMP },
	};
	for (size_t i = 0; t && i < sizeof(map) / sizeof(map[0]); i++)
		if (strcmp(t, map[i].name) == 0)
			return map[i].type;
	return CL_PQ_NONE;
}

/* ---- the replay state -------------------------------------------------- */

void cl_delta_state_init(struct cl_delta_state *s)
{
	memset(s, 0, sizeof(*s));
	s->files = json_object();
	s->tombstones = json_object();
	s->version = -1;
}

void cl_delta_state_free(struct cl_delta_state *s)
{
	cl_free(s->root);
	json_decref(s->files);
	json_decref(s->tombstones);
	json_decref(s->protocol);
	json_decref(s->metadata);
	json_decref(s->commit_info);
	memset(s, 0, sizeof(*s));
}

int cl_delta_state_root(struct cl_delta_state *s, const char *path)
{
	char buf[PATH_MAX];

	if (s->root || !realpath(path, buf))
		return 0; /* kept, or none: absolute paths are then refused */
	s->root = cl_strdup(buf);
	return s->root ? 0 : CL_ENOMEM;
}

static int hex_digit(char c)
{
	return c >= '0' && c <= '9' ? c - '0'
	     : c >= 'a' && c <= 'f' ? c - 'a' + 10
	     : c >= 'A' && c <= 'F' ? c - 'A' + 10 : -1;
}

/* Decodes the %XX escapes of a Delta path into `out`. A '%' not followed
 * by two hex digits, or an escaped NUL, is no URI path: -1. */
static int url_decode(const char *in, char *out, size_t cap)
{
	size_t n = 0;
	for (const char *p = in; *p; p++) {
		char c = *p;
		if (c == '%') {
			int hi = hex_digit(p[1]), lo = hi < 0 ? -1 : hex_digit(p[2]);
			if (lo < 0 || (hi | lo) == 0)
				return -1;
			c = (char)(hi * 16 + lo);
			p += 2;
		}
		if (n + 1 >= cap)
			return -1;
		out[n++] = c;
	}
	out[n] = 0;
	return 0;
}

/* A path as it may be shown in a message and a log line: control
 * characters, quotes and backslashes as \xNN, at most ~160 bytes. */
static const char *shown(const char *in, char *buf, size_t cap)
{
	static const char hex[] = "0123456789abcdef";
	size_t n = 0;
	const unsigned char *p = (const unsigned char *)in;
	for (; *p && n + 8 < cap && n < 160; p++) {
		if (*p < 0x20 || *p == 0x7f || *p == '"' || *p == '\\' || *p == '\'') {
			buf[n++] = '\\';
			buf[n++] = 'x';
			buf[n++] = hex[*p >> 4];
			buf[n++] = hex[*p & 15];
		} else {
			buf[n++] = (char)*p;
		}
	}
	if (*p && n + 4 <= cap) {
		memcpy(buf + n, "...", 3);
		n += 3;
	}
	buf[n] = 0;
	return buf;
}

/* The length of the URI scheme `p` starts with ("s3" of "s3://..."), or 0. */
static size_t scheme_len(const char *p)
{
	size_t i = 1;
	if (!((p[0] >= 'a' && p[0] <= 'z') || (p[0] >= 'A' && p[0] <= 'Z')))
		return 0;
	while ((p[i] >= 'a' && p[i] <= 'z') || (p[i] >= 'A' && p[i] <= 'Z') ||
	       (p[i] >= '0' && p[i] <= '9') || p[i] == '+' || p[i] == '-' || p[i] == '.')
		i++;
	return p[i] == ':' ? i : 0;
}

/* Whether a decoded path has a `..` segment. */
static int climbs(const char *p)
{
	for (;;) {
		const char *end = strchr(p, '/');
		size_t len = end ? (size_t)(end - p) : strlen(p);
		if (len == 2 && p[0] == '.' && p[1] == '.')
			return 1;
		if (!end)
			return 0;
		p = end + 1;
	}
}

#define INSIDE_RULE "a Delta path must be relative to the table directory, or an " \
		    "absolute path or file: URI inside it"

/*
 * Turns the path `raw` of an action (what: "add path", ...) into `out`,
 * decoded and relative to the table directory, or refuses it naming it:
 * a URI of another storage (s3:, abfss:, http:, a file: URI of another
 * host), a `..` segment (also written %2e%2e), an absolute path outside
 * s->root, or the table directory itself.
 */
static int table_path(const struct cl_delta_state *s, const char *raw, char *out, size_t cap,
		      const char *what, const char *where)
{
	char sh[200];
	const char *p = raw;
	size_t sl = scheme_len(raw);

	if (sl) {
		if (sl != 4 || strncasecmp(raw, "file", 4) != 0)
			return cl_error_set(CL_ENOTSUP, "%s: %s '%s' is a URI of another storage; "
					    "carelake reads only files inside the table directory",
					    where, what, shown(raw, sh, sizeof(sh)));
		p = raw + 5;
		if (p[0] == '/' && p[1] == '/') { /* file://host/path: this host only */
			const char *host = p + 2, *slash = strchr(host, '/');
			size_t hl = slash ? (size_t)(slash - host) : strlen(host);
			if (!slash || (hl != 0 && (hl != 9 || strncasecmp(host, "localhost", 9) != 0)))
				return cl_error_set(CL_ENOTSUP, "%s: %s '%s' names a file of another "
						    "host; carelake reads only files inside the table "
						    "directory", where, what, shown(raw, sh, sizeof(sh)));
			p = slash;
		}
		if (p[0] != '/')
			return cl_error_set(CL_ECORRUPT, "%s: %s '%s' is a file: URI without an "
					    "absolute path", where, what, shown(raw, sh, sizeof(sh)));
	}
	if (url_decode(p, out, cap) != 0)
		return cl_error_set(CL_ECORRUPT, "%s: %s '%s' is not a valid URI path", where, what,
				    shown(raw, sh, sizeof(sh)));
	if (climbs(out))
		return cl_error_set(CL_ECORRUPT, "%s: %s '%s' leaves the table directory ('..'); "
				    INSIDE_RULE, where, what, shown(raw, sh, sizeof(sh)));
	if (out[0] == '/') {
		size_t rl = s->root ? strlen(s->root) : 0;
		if (rl == 0 || strncmp(out, s->root, rl) != 0 || out[rl] != '/')
			return cl_error_set(CL_ECORRUPT, "%s: %s '%s' is an absolute path outside the "
					    "table directory; " INSIDE_RULE, where, what,
					    shown(raw, sh, sizeof(sh)));
		while (out[rl] == '/')
			rl++;
		memmove(out, out + rl, strlen(out + rl) + 1);
	}
	if (!out[0])
		return cl_error_set(CL_ECORRUPT, "%s: %s '%s' names no file inside the table "
				    "directory", where, what, shown(raw, sh, sizeof(sh)));
	return 0;
}

/*
 * A deletion vector's file must be inside the table too: storage type 'p'
 * is a path (checked as any), 'u' a random prefix (a relative directory)
 * before a 20-character id, 'i' inline, with no file.
 */
static int check_dv(const struct cl_delta_state *s, json_t *dv, const char *key,
		    const char *where)
{
	char what[40], dec[4096], sh[200];
	if (!dv || json_is_null(dv))
		return 0;
	const char *type = json_string_value(json_object_get(dv, "storageType"));
	const char *p = json_string_value(json_object_get(dv, "pathOrInlineDv"));
	if (!json_is_object(dv) || !type || !p)
		return cl_error_set(CL_ECORRUPT, "%s: %s deletionVector without a storageType and "
				    "pathOrInlineDv", where, key);
	snprintf(what, sizeof(what), "%s deletion vector", key);
	if (strcmp(type, "i") == 0)
		return 0;
	if (strcmp(type, "p") == 0)
		return table_path(s, p, dec, sizeof(dec), what, where);
	if (strcmp(type, "u") != 0)
		return cl_error_set(CL_ECORRUPT, "%s: %s has the unknown storageType '%s'", where,
				    what, shown(type, sh, sizeof(sh)));
	size_t n = strlen(p);
	if (n < 20)
		return cl_error_set(CL_ECORRUPT, "%s: %s id '%s' is shorter than 20 characters",
				    where, what, shown(p, sh, sizeof(sh)));
	if (n == 20)
		return 0;
	if (n - 20 >= sizeof(dec) || p[0] == '/')
		return cl_error_set(CL_ECORRUPT, "%s: %s prefix of '%s' leaves the table "
				    "directory", where, what, shown(p, sh, sizeof(sh)));
	memcpy(dec, p, n - 20);
	dec[n - 20] = 0;
	if (climbs(dec))
		return cl_error_set(CL_ECORRUPT, "%s: %s prefix of '%s' leaves the table "
				    "directory ('..')", where, what, shown(p, sh, sizeof(sh)));
	return 0;
}

/* Whether `v` is absent, null, or of the JSON type `want` tells. */
static int absent_or(json_t *v, int (*want)(const json_t *))
{
	return !v || json_is_null(v) || want(v);
}

static int is_integer(const json_t *v) { return json_is_integer(v); }
static int is_string(const json_t *v) { return json_is_string(v); }
static int is_boolean(const json_t *v) { return json_is_boolean(v); }
static int is_array(const json_t *v) { return json_is_array(v); }

/* An add or remove action's fields carelake reads, each of its type. */
static int check_file_action(json_t *v, const char *key, const char *where)
{
	json_t *pv = json_object_get(v, "partitionValues"), *x;
	const char *k;
	if (!absent_or(json_object_get(v, "size"), is_integer) ||
	    json_integer_value(json_object_get(v, "size")) < 0)
		return cl_error_set(CL_ECORRUPT, "%s: %s size is not a non-negative integer", where,
				    key);
	if (!absent_or(json_object_get(v, "modificationTime"), is_integer) ||
	    !absent_or(json_object_get(v, "deletionTimestamp"), is_integer))
		return cl_error_set(CL_ECORRUPT, "%s: %s time is not an integer", where, key);
	if (!absent_or(json_object_get(v, "stats"), is_string))
		return cl_error_set(CL_ECORRUPT, "%s: %s stats is not a JSON string", where, key);
	if (!absent_or(json_object_get(v, "dataChange"), is_boolean))
		return cl_error_set(CL_ECORRUPT, "%s: %s dataChange is not a boolean", where, key);
	if (pv && !json_is_null(pv) && !json_is_object(pv))
		return cl_error_set(CL_ECORRUPT, "%s: %s partitionValues is not an object", where,
				    key);
	json_object_foreach(pv, k, x)
		if (!json_is_string(x) && !json_is_null(x))
			return cl_error_set(CL_ECORRUPT, "%s: %s partition value of '%.64s' is not a "
					    "string or null", where, key, k);
	return 0;
}

/* Applies one action object. `where` names it for messages. */
static int apply(struct cl_delta_state *s, json_t *a, const char *where)
{
	const char *key;
	json_t *v;
	int rc;

	if (!json_is_object(a))
		return cl_error_set(CL_ECORRUPT, "%s: an action must be a JSON object", where);
	json_object_foreach(a, key, v) {
		if (json_is_null(v))
			continue; /* a checkpoint row's other, empty action columns */
		if (strcmp(key, "add") == 0 || strcmp(key, "remove") == 0) {
			const char *path = json_string_value(json_object_get(v, "path"));
			char dec[4096], what[16];
			if (!json_is_object(v) || !path || !*path)
				return cl_error_set(CL_ECORRUPT, "%s: %s without a path", where, key);
			snprintf(what, sizeof(what), "%s path", key);
			if ((rc = table_path(s, path, dec, sizeof(dec), what, where)) ||
			    (rc = check_file_action(v, key, where)) ||
			    (rc = check_dv(s, json_object_get(v, "deletionVector"), key, where)))
				return rc;
			if (key[0] == 'a') {
				json_object_set(s->files, dec, v);
				json_object_del(s->tombstones, dec);
				s->nadd++;
			} else {
				s->nremove++;
				json_object_del(s->files, dec);
				json_object_set(s->tombstones, dec, v);
			}
		} else if (strcmp(key, "cdc") == 0 || strcmp(key, "sidecar") == 0) {
			/* files carelake does not read, but their paths are checked */
			const char *path = json_string_value(json_object_get(v, "path"));
			char dec[4096], what[16];
			if (!path || !*path)
				return cl_error_set(CL_ECORRUPT, "%s: %s without a path", where, key);
			snprintf(what, sizeof(what), "%s path", key);
			if ((rc = table_path(s, path, dec, sizeof(dec), what, where)))
				return rc;
			/* a checkpoint whose files are listed in sidecars would read
			 * as a table without them */
			if (key[0] == 's')
				return cl_error_set(CL_ENOTSUP, "%s: a v2 checkpoint with sidecar files, "
						    "which carelake does not read", where);
		} else if (strcmp(key, "metaData") == 0) {
			if (!json_is_object(v) || !json_is_string(json_object_get(v, "schemaString")))
				return cl_error_set(CL_ECORRUPT, "%s: metaData without a schemaString",
						    where);
			size_t i;
			json_t *c, *pcs = json_object_get(v, "partitionColumns");
			if (!absent_or(pcs, is_array))
				return cl_error_set(CL_ECORRUPT, "%s: metaData partitionColumns is not "
						    "an array", where);
			json_array_foreach(pcs, i, c)
				if (!json_is_string(c))
					return cl_error_set(CL_ECORRUPT, "%s: metaData partitionColumns "
							    "holds a %s, not a column name", where,
							    json_is_object(c) ? "JSON object"
									      : "non-string");
			json_decref(s->metadata);
			s->metadata = json_incref(v);
		} else if (strcmp(key, "protocol") == 0) {
			if (!json_is_object(v) || !json_is_integer(json_object_get(v, "minReaderVersion")))
				return cl_error_set(CL_ECORRUPT, "%s: protocol without minReaderVersion",
						    where);
			if (!absent_or(json_object_get(v, "minWriterVersion"), is_integer) ||
			    !absent_or(json_object_get(v, "readerFeatures"), is_array) ||
			    !absent_or(json_object_get(v, "writerFeatures"), is_array))
				return cl_error_set(CL_ECORRUPT, "%s: protocol with a field of the wrong "
						    "type", where);
			json_decref(s->protocol);
			s->protocol = json_incref(v);
		} else if (strcmp(key, "commitInfo") == 0) {
			json_decref(s->commit_info);
			s->commit_info = json_incref(v);
		}
		/* txn, domainMetadata, checkpointMetadata: nothing to do for a
		 * reader of the table's rows */
	}
	return 0;
}

int cl_delta_replay_json(struct cl_delta_state *s, const char *buf, size_t len, const char *name)
{
	size_t line = 0;
	const char *p = buf, *end = buf + len;

	json_decref(s->commit_info);
	s->commit_info = NULL;
	while (p < end) {
		const char *nl = memchr(p, '\n', (size_t)(end - p));
		size_t n = nl ? (size_t)(nl - p) : (size_t)(end - p);
		char where[600];
		json_error_t err;
		line++;
		snprintf(where, sizeof(where), "%s line %zu", name, line);
		if (n > 0 && !(n == 1 && p[0] == '\r')) {
			json_t *a = json_loadb(p, n, JSON_REJECT_DUPLICATES | JSON_DECODE_ANY, &err);
			if (!a)
				return cl_error_set(CL_ECORRUPT, "%s: not JSON (%s)", where, err.text);
			int rc = apply(s, a, where);
			json_decref(a);
			if (rc)
				return rc;
		}
		p += n + (nl ? 1 : 0);
	}
	return 0;
}

int cl_delta_replay_rows(struct cl_delta_state *s, json_t *rows, const char *name)
{
	size_t i;
	json_t *row;
	json_array_foreach(rows, i, row) {
		char where[600];
		snprintf(where, sizeof(where), "%s row %zu", name, i + 1);
		int rc = apply(s, row, where);
		if (rc)
			return rc;
	}
	return 0;
}

/* ---- the log directory ------------------------------------------------- */

void cl_delta_listing_free(struct cl_delta_listing *l)
{
	cl_free(l->commits);
	cl_free(l->checkpoints);
	memset(l, 0, sizeof(*l));
}

static int push_version(int64_t **v, size_t *n, size_t *cap, int64_t x)
{
	if (*n == *cap) {
		size_t c = *cap ? *cap * 2 : 64;
		int64_t *p = cl_realloc(*v, c * sizeof(*p));
		if (!p)
			return CL_ENOMEM;
		*v = p;
		*cap = c;
	}
	(*v)[(*n)++] = x;
	return 0;
}

static int cmp_i64(const void *a, const void *b)
{
	int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
	return x < y ? -1 : x > y;
}

/* A name of 20 digits followed by `suffix`: its version, else -1. */
static int64_t version_of(const char *name, const char *suffix)
{
	size_t n = strlen(name);
	if (n != 20 + strlen(suffix) || strcmp(name + 20, suffix) != 0)
		return -1;
	int64_t v = 0;
	for (int i = 0; i < 20; i++) {
		if (name[i] < '0' || name[i] > '9' || v > (INT64_MAX - 9) / 10)
			return -1;
		v = v * 10 + (name[i] - '0');
	}
	return v;
}

struct list_ctx {
	struct cl_delta_listing *out;
	size_t ccap, kcap;
};

static int list_one(void *arg, const char *name, int64_t size, int64_t mtime_ms)
{
	struct list_ctx *c = arg;
	(void)size, (void)mtime_ms;
	int64_t v = version_of(name, ".json");
	if (v >= 0)
		return push_version(&c->out->commits, &c->out->ncommits, &c->ccap, v);
	v = version_of(name, ".checkpoint.parquet");
	if (v >= 0)
		return push_version(&c->out->checkpoints, &c->out->ncheckpoints, &c->kcap, v);
	if (strstr(name, ".checkpoint.") && strstr(name, ".parquet"))
		c->out->multipart = 1;
	return 0;
}

int cl_delta_list(const char *path, struct cl_delta_listing *out)
{
	char dir[PATH_MAX];
	struct list_ctx c = { out, 0, 0 };
	int rc;

	memset(out, 0, sizeof(*out));
	snprintf(dir, sizeof(dir), "%s/_delta_log", path);
	/* hidden names (a writer's temporary file) are not listed */
	rc = cl_lake_loc_list(dir, list_one, &c);
	if (rc == CL_ENOENT)
		return cl_error_set(CL_ENOENT, "no Delta table at %s (no _delta_log directory)", path);
	if (rc) {
		cl_delta_listing_free(out);
		return rc;
	}
	if (out->ncommits)
		qsort(out->commits, out->ncommits, sizeof(int64_t), cmp_i64);
	if (out->ncheckpoints)
		qsort(out->checkpoints, out->ncheckpoints, sizeof(int64_t), cmp_i64);
	if (!out->ncommits && !out->ncheckpoints) {
		cl_delta_listing_free(out);
		return cl_error_set(CL_ENOENT, "no Delta table at %s (_delta_log has no commits)",
				    path);
	}
	return 0;
}

int cl_delta_is_table(const char *path)
{
	struct cl_delta_listing l;
	if (cl_delta_list(path, &l) != CL_OK)
		return 0;
	cl_delta_listing_free(&l);
	return 1;
}

int64_t cl_delta_latest(const struct cl_delta_listing *l)
{
	int64_t v = l->ncommits ? l->commits[l->ncommits - 1] : -1;
	if (l->ncheckpoints && l->checkpoints[l->ncheckpoints - 1] > v)
		v = l->checkpoints[l->ncheckpoints - 1];
	return v;
}

static int has_commit(const struct cl_delta_listing *l, int64_t v)
{
	return bsearch(&v, l->commits, l->ncommits, sizeof(int64_t), cmp_i64) != NULL;
}

int cl_delta_read_commit(const char *path, int64_t v, struct cl_delta_state *s)
{
	char file[PATH_MAX], name[64];
	char *buf = NULL;
	size_t len = 0;

	snprintf(name, sizeof(name), "%020lld.json", (long long)v);
	snprintf(file, sizeof(file), "%s/_delta_log/%s", path, name);
	int rc = cl_delta_state_root(s, path);
	if (rc == 0)
		rc = cl_lake_loc_read(file, LOG_MAX_BYTES, &buf, &len);
	if (rc)
		return cl_error_set(rc, "%s: %s", file, cl_error_detail());
	rc = cl_delta_replay_json(s, buf, len, file);
	cl_free(buf);
	return rc;
}

/* The time of version v: its commitInfo.timestamp, else the file's mtime. */
static int64_t commit_time(const char *path, int64_t v, json_t *commit_info)
{
	json_t *t = commit_info ? json_object_get(commit_info, "timestamp") : NULL;
	/* a time within years 0001-9999 (ms), else the file's */
	if (json_is_integer(t) && json_integer_value(t) >= -62135596800000LL &&
	    json_integer_value(t) <= 253402300799999LL)
		return json_integer_value(t);
	char file[PATH_MAX];
	int64_t size, ms;
	snprintf(file, sizeof(file), "%s/_delta_log/%020lld.json", path, (long long)v);
	return cl_lake_loc_stat(file, &size, &ms) == 0 ? ms : 0;
}

/* ---- snapshots --------------------------------------------------------- */

/* Features a reader must understand to read the table; carelake does. */
static int reader_feature_known(const char *f)
{
	return strcmp(f, "deletionVectors") == 0 || strcmp(f, "timestampNtz") == 0 ||
	       strcmp(f, "vacuumProtocolCheck") == 0 || strcmp(f, "v2Checkpoint") == 0 ||
	       strcmp(f, "columnMapping") == 0 || strcmp(f, "typeWidening") == 0 ||
	       strcmp(f, "typeWidening-preview") == 0;
}

static char *dup_str(json_t *v)
{
	const char *s = json_string_value(v);
	return s ? cl_strdup(s) : NULL;
}

/* The snapshot of a replayed state. */
static int build(const char *path, struct cl_delta_state *st, struct cl_delta_snapshot **out)
{
	struct cl_delta_snapshot *s = cl_calloc(1, sizeof(*s));
	json_t *p = st->protocol, *m = st->metadata;
	int rc = CL_ENOMEM;

	if (!s)
		return CL_ENOMEM;
	if (!p || !m) {
		cl_free(s);
		return cl_error_set(CL_ECORRUPT, "%s: version %lld has no %s", path,
				    (long long)st->version, !p ? "protocol" : "metaData");
	}
	s->version = st->version;
	s->timestamp_ms = st->timestamp_ms;
	/* compared before they are narrowed: 2^32 + 1 is not version 1 */
	json_int_t rv = json_integer_value(json_object_get(p, "minReaderVersion"));
	json_int_t wv = json_integer_value(json_object_get(p, "minWriterVersion"));
	if (rv < 1 || wv < 0 || wv > INT_MAX) {
		cl_delta_snapshot_free(s);
		return cl_error_set(CL_ECORRUPT, "%s: protocol minReaderVersion %lld or "
				    "minWriterVersion %lld is out of range", path, (long long)rv,
				    (long long)wv);
	}
	if (rv > 3) {
		cl_delta_snapshot_free(s);
		return cl_error_set(CL_ENOTSUP, "%s needs a Delta reader of version %lld; carelake "
				    "reads up to 3", path, (long long)rv);
	}
	s->min_reader_version = (int)rv;
	s->min_writer_version = (int)wv;
	size_t i;
	json_t *f;
	json_array_foreach(json_object_get(p, "readerFeatures"), i, f)
		if (!json_is_string(f) || !reader_feature_known(json_string_value(f))) {
			cl_delta_snapshot_free(s);
			return cl_error_set(CL_ENOTSUP, "%s uses the Delta reader feature '%s', "
					    "which carelake does not support", path,
					    json_is_string(f) ? json_string_value(f) : "?");
		}
	s->configuration = json_incref(json_object_get(m, "configuration"));
	const char *mode = json_string_value(json_object_get(s->configuration,
							     "delta.columnMapping.mode"));
	if (mode && strcmp(mode, "none") != 0) {
		cl_delta_snapshot_free(s);
		return cl_error_set(CL_ENOTSUP, "%s uses column mapping (mode %s), which carelake "
				    "does not support", path, mode);
	}
	s->table_id = dup_str(json_object_get(m, "id"));
	s->name = dup_str(json_object_get(m, "name"));
	s->schema_string = dup_str(json_object_get(m, "schemaString"));
	json_error_t err;
	json_t *schema = s->schema_string ? json_loads(s->schema_string, 0, &err) : NULL;
	json_t *fields = json_object_get(schema, "fields");
	if (!json_is_array(fields)) {
		json_decref(schema);
		cl_delta_snapshot_free(s);
		return cl_error_set(CL_ECORRUPT, "%s: the schemaString is not a struct of fields",
				    path);
	}
	s->fields = cl_calloc(json_array_size(fields) + 1, sizeof(*s->fields));
	if (!s->fields)
		goto fail;
	json_array_foreach(fields, i, f) {
		json_t *t = json_object_get(f, "type");
		s->fields[i].name = dup_str(json_object_get(f, "name"));
		s->fields[i].type = json_is_string(t) ? cl_strdup(json_string_value(t))
						      : json_dumps(t, JSON_COMPACT);
		s->fields[i].nullable = !json_is_false(json_object_get(f, "nullable"));
		s->nfields++;
		if (!s->fields[i].name || !s->fields[i].type) {
			json_decref(schema);
			rc = cl_error_set(CL_ECORRUPT, "%s: a schema field without a name or type",
					  path);
			goto fail;
		}
	}
	json_decref(schema);
	json_t *pcs = json_object_get(m, "partitionColumns");
	s->partition_cols = cl_calloc(json_array_size(pcs) + 1, sizeof(char *));
	if (!s->partition_cols)
		goto fail;
	json_array_foreach(pcs, i, f) {
		if (!(s->partition_cols[i] = dup_str(f)))
			goto fail;
		s->npartition_cols++;
	}
	s->files = cl_calloc(json_object_size(st->files) + 1, sizeof(*s->files));
	if (!s->files)
		goto fail;
	const char *key;
	json_t *a;
	json_object_foreach(st->files, key, a) {
		struct cl_delta_file *df = &s->files[s->nfiles++];
		json_t *pv = json_object_get(a, "partitionValues");
		df->path = cl_strdup(key);
		df->size = json_is_integer(json_object_get(a, "size"))
				   ? json_integer_value(json_object_get(a, "size")) : -1;
		df->modification_time = json_integer_value(json_object_get(a, "modificationTime"));
		df->stats = dup_str(json_object_get(a, "stats"));
		df->num_records = -1;
		if (df->stats) {
			json_t *sj = json_loads(df->stats, 0, NULL);
			json_t *nr = json_object_get(sj, "numRecords");
			if (json_is_integer(nr) && json_integer_value(nr) >= 0)
				df->num_records = json_integer_value(nr);
			json_decref(sj);
		}
		df->has_dv = json_is_object(json_object_get(a, "deletionVector"));
		df->part_values = cl_calloc(s->npartition_cols + 1, sizeof(char *));
		if (!df->path || !df->part_values)
			goto fail;
		for (size_t k = 0; k < s->npartition_cols; k++)
			df->part_values[k] = dup_str(json_object_get(pv, s->partition_cols[k]));
	}
	s->tombstones = cl_calloc(json_object_size(st->tombstones) + 1, sizeof(*s->tombstones));
	if (!s->tombstones)
		goto fail;
	json_object_foreach(st->tombstones, key, a) {
		struct cl_delta_tombstone *t = &s->tombstones[s->ntombstones++];
		t->path = cl_strdup(key);
		t->deletion_ts = json_integer_value(json_object_get(a, "deletionTimestamp"));
		if (!t->path)
			goto fail;
	}
	*out = s;
	return 0;
fail:
	cl_delta_snapshot_free(s);
	return rc;
}

int cl_delta_replay(const char *path, const struct cl_delta_listing *l, int64_t version,
		    struct cl_delta_state *st)
{
	int64_t from = 0;
	int rc;

	/* the newest checkpoint at or below the version, when its JSON is gone
	 * or to save replaying it */
	for (size_t i = l->ncheckpoints; i-- > 0;)
		if (l->checkpoints[i] <= version) {
			from = l->checkpoints[i];
			if ((rc = cl_delta_read_checkpoint(path, from, st)))
				return rc;
			from++;
			break;
		}
	if (from == 0 && l->multipart && !has_commit(l, 0))
		return cl_error_set(CL_ENOTSUP, "%s: multi-part checkpoints are not supported",
				    path);
	for (int64_t v = from; v <= version; v++) {
		if (!has_commit(l, v))
			return cl_error_set(CL_ECORRUPT, "%s: version %lld is missing from the log",
					    path, (long long)v);
		if ((rc = cl_delta_read_commit(path, v, st)))
			return rc;
	}
	st->version = version;
	st->timestamp_ms = commit_time(path, version, st->commit_info);
	return 0;
}

int cl_delta_snapshot_load(const char *path, int64_t version, int64_t timestamp_ms,
			   struct cl_delta_snapshot **out)
{
	struct cl_delta_listing l;
	struct cl_delta_state st;
	int rc;

	*out = NULL;
	if ((rc = cl_delta_list(path, &l)))
		return rc;
	int64_t latest = cl_delta_latest(&l);
	int64_t first = l.ncommits ? l.commits[0] : latest;
	if (l.ncheckpoints && l.checkpoints[0] < first)
		first = l.checkpoints[0];
	if (timestamp_ms != CL_DELTA_NO_TIME) {
		/* the last version committed at or before the time */
		version = -1;
		for (size_t i = 0; i < l.ncommits; i++) {
			struct cl_delta_state cs;
			cl_delta_state_init(&cs);
			rc = cl_delta_read_commit(path, l.commits[i], &cs);
			int64_t t = commit_time(path, l.commits[i], cs.commit_info);
			cl_delta_state_free(&cs);
			if (rc) {
				cl_delta_listing_free(&l);
				return rc;
			}
			if (t <= timestamp_ms)
				version = l.commits[i];
		}
		if (version < 0) {
			cl_delta_listing_free(&l);
			return cl_error_set(CL_ENOENT, "%s has no version committed at or before that "
					    "time", path);
		}
	} else if (version == CL_DELTA_LATEST) {
		version = latest;
	}
	if (version < first || version > latest) {
		cl_delta_listing_free(&l);
		return cl_error_set(CL_ENOENT, "version %lld does not exist; %s has versions %lld "
				    "to %lld", (long long)version, path, (long long)first,
				    (long long)latest);
	}
	cl_delta_state_init(&st);
	rc = cl_delta_replay(path, &l, version, &st);
	if (rc == 0)
		rc = build(path, &st, out);
	cl_delta_state_free(&st);
	cl_delta_listing_free(&l);
	return rc;
}

void cl_delta_snapshot_free(struct cl_delta_snapshot *s)
{
	if (!s)
		return;
	cl_free(s->table_id);
	cl_free(s->name);
	cl_free(s->schema_string);
	for (size_t i = 0; s->fields && i < s->nfields; i++) {
		cl_free(s->fields[i].name);
		cl_free(s->fields[i].type);
	}
	cl_free(s->fields);
	for (size_t i = 0; s->partition_cols && i < s->npartition_cols; i++)
		cl_free(s->partition_cols[i]);
	cl_free(s->partition_cols);
	json_decref(s->configuration);
	for (size_t i = 0; s->files && i < s->nfiles; i++) {
		cl_free(s->files[i].path);
		cl_free(s->files[i].stats);
		for (size_t k = 0; s->files[i].part_values && k < s->npartition_cols; k++)
			cl_free(s->files[i].part_values[k]);
		cl_free(s->files[i].part_values);
	}
	cl_free(s->files);
	for (size_t i = 0; s->tombstones && i < s->ntombstones; i++)
		cl_free(s->tombstones[i].path);
	cl_free(s->tombstones);
	cl_free(s);
}

/* ---- history ----------------------------------------------------------- */

int cl_delta_history(const char *path, struct cl_delta_commit **out, size_t *n)
{
	struct cl_delta_listing l;
	int rc;

	*out = NULL;
	*n = 0;
	if ((rc = cl_delta_list(path, &l)))
		return rc;
	struct cl_delta_commit *c = cl_calloc(l.ncommits + 1, sizeof(*c));
	if (!c) {
		cl_delta_listing_free(&l);
		return CL_ENOMEM;
	}
	for (size_t i = 0; i < l.ncommits && rc == 0; i++) {
		struct cl_delta_state st;
		cl_delta_state_init(&st); /* this commit alone */
		rc = cl_delta_read_commit(path, l.commits[i], &st);
		if (rc == 0) {
			c[i].version = l.commits[i];
			c[i].timestamp_ms = commit_time(path, l.commits[i], st.commit_info);
			c[i].info = json_incref(st.commit_info);
			c[i].operation = dup_str(json_object_get(st.commit_info, "operation"));
			c[i].nadd = st.nadd;
			c[i].nremove = st.nremove;
			c[i].rows_added = -1; /* numRecords over this commit's adds, if known */
			int unknown = 0; /* a count that is no count, or a sum past int64 */
			const char *k;
			json_t *a;
			json_object_foreach(st.files, k, a) {
				json_t *sj = json_loads(json_string_value(json_object_get(a, "stats")) ?: "",
							0, NULL);
				json_t *nr = json_object_get(sj, "numRecords");
				int64_t sum = c[i].rows_added < 0 ? 0 : c[i].rows_added;
				if (json_is_integer(nr) && json_integer_value(nr) >= 0 &&
				    json_integer_value(nr) <= INT64_MAX - sum)
					c[i].rows_added = sum + json_integer_value(nr);
				else if (nr)
					unknown = 1;
				json_decref(sj);
			}
			if (unknown)
				c[i].rows_added = -1;
			(*n)++;
		}
		cl_delta_state_free(&st);
	}
	cl_delta_listing_free(&l);
	if (rc) {
		cl_delta_history_free(c, *n);
		*n = 0;
		return rc;
	}
	*out = c;
	return 0;
}

void cl_delta_history_free(struct cl_delta_commit *c, size_t n)
{
	for (size_t i = 0; c && i < n; i++) {
		cl_free(c[i].operation);
		json_decref(c[i].info);
	}
	cl_free(c);
}
