/*
 * cl_objstore.h — object storage: one Azure Blob / ADLS Gen2 container or
 * one S3 (or S3-compatible) bucket, addressed by a URI, with the few
 * operations a Delta Lake table and the bronze archive need.
 *
 *   abfss://container@account.dfs.core.windows.net/path   (ADLS Gen2)
 *   az://container/path       (account from the credentials)
 *   s3://bucket/prefix
 *
 * libcurl does the HTTP (and AWS signature v4 itself); Azure's shared-key
 * signature is an HMAC-SHA256 from OpenSSL. Credentials come from the
 * environment variables those ecosystems' own tools read, or from the
 * objstore.* settings (secrets only as files named there), never from the
 * data directory, and are never logged.
 *
 * Every upload and download streams (no whole object in memory, except
 * through the *_mem calls for small ones), is retried with backoff on 5xx,
 * 429, timeouts and cut connections, and counts in the process-wide
 * statistics that /metrics and `status` show. An upload carries its
 * Content-MD5, so the store refuses a body that arrived damaged.
 *
 * Keys are relative to the URI's path: cl_objstore_put(s, "a/b.json", ...)
 * on s3://bucket/lake writes object "lake/a/b.json".
 */
#ifndef CL_OBJSTORE_H
#define CL_OBJSTORE_H

#include <stddef.h>
#include <stdint.h>

#include "core/cl_config.h"

struct cl_objstore;

/* The objstore.* settings (secrets are file names, never the secret). */
extern const struct cl_config_section cl_objstore_section;

/* 1 when `uri` names object storage (abfss://, abfs://, az://, s3://),
 * 0 for a local path. */
int cl_objstore_is_uri(const char *uri);

/* Opens the container or bucket of `uri` with the credentials of the
 * environment and `cfg` (NULL: environment and defaults only). CL_EINVAL
 * naming what is wrong for a malformed URI or missing credentials. Opening
 * talks to no server. */
int cl_objstore_open(const char *uri, const struct cl_config *cfg, struct cl_objstore **out);
/* NULL is a no-op. */
void cl_objstore_close(struct cl_objstore *s);

/* The URI the store was opened with, without a trailing '/'. */
const char *cl_objstore_uri(const struct cl_objstore *s);

/* Creates the container or bucket if it is missing (an existing one is
 * fine); CL_EIO, with the store's refusal as the detail, when the
 * credentials may not. */
int cl_objstore_ensure_container(struct cl_objstore *s);

/* Flags of the put calls. */
#define CL_OBJSTORE_IF_NONE_MATCH 1u  /* create only: CL_EEXIST if the key exists */

/* Whether the store honours a conditional create (If-None-Match: *).
 * Probed once per store with a scratch object and remembered: 1 yes, 0 no
 * (the second create of the same key succeeded), or a negative error. */
int cl_objstore_conditional_create(struct cl_objstore *s);

/* Writes an object from memory. With CL_OBJSTORE_IF_NONE_MATCH it is a
 * create that fails with CL_EEXIST when the key exists (and
 * CL_ENOTSUP, saying so, when the store cannot do conditional creates). */
int cl_objstore_put_mem(struct cl_objstore *s, const char *key, const void *buf, size_t len,
			unsigned flags);
/* Writes an object from a local file, streaming; flags as above. */
int cl_objstore_put_file(struct cl_objstore *s, const char *key, const char *path,
			 unsigned flags);
/* The same, and the hex MD5 of what was sent (the store checked it). */
int cl_objstore_put_file_md5(struct cl_objstore *s, const char *key, const char *path,
			     unsigned flags, char hex[33]);

/* The MD5 of a local file as 32 hex digits, as the store keeps it. */
int cl_objstore_md5_file(const char *path, char hex[33]);

/* Reads a whole object of at most `max` bytes into a malloc'd buffer
 * (NUL-terminated past *len). CL_ENOENT when there is no such key,
 * CL_ETOOBIG past max. */
int cl_objstore_get_mem(struct cl_objstore *s, const char *key, size_t max, char **buf,
			size_t *len);
/* Downloads an object to `path`, streaming into a temporary file beside it
 * that is synced and renamed over `path` only when whole (its size checked
 * against the store's). CL_ENOENT when there is no such key. */
int cl_objstore_get_file(struct cl_objstore *s, const char *key, const char *path);

/* What the store says about one object. */
struct cl_objstore_info {
	char key[1024];             /* relative to the URI's path */
	int64_t size;               /* bytes */
	int64_t mtime_ms;           /* last modified, ms since the epoch */
	char md5[33];               /* hex Content-MD5 when the store keeps it, else "" */
};

/* The object at `key`; CL_ENOENT when there is none. */
int cl_objstore_head(struct cl_objstore *s, const char *key, struct cl_objstore_info *info);

/* Calls `fn` for every object whose key starts with `prefix`, in key
 * order, across the store's pages; stops with fn's value when it is not
 * 0. */
int cl_objstore_list(struct cl_objstore *s, const char *prefix,
		     int (*fn)(void *arg, const struct cl_objstore_info *info), void *arg);

/* Deletes an object; a missing one is not an error. */
int cl_objstore_delete(struct cl_objstore *s, const char *key);

/* Process-wide counters, for /metrics and `status`. */
struct cl_objstore_stats {
	uint64_t requests;          /* HTTP requests sent */
	uint64_t retries;           /* of those, retries after a 5xx/429/timeout/cut */
	uint64_t failures;          /* operations that failed after their retries */
	uint64_t bytes_up;          /* body bytes uploaded */
	uint64_t bytes_down;        /* body bytes downloaded */
	uint64_t uploads, downloads; /* objects */
};
void cl_objstore_stats(struct cl_objstore_stats *out);

struct cl_prom;
/* Writes the counters as Prometheus metrics (carelake_objstore_*), for
 * /metrics. */
void cl_objstore_metrics(struct cl_prom *p);

#endif
