/*
 * A bronze source's file manifest. See cl_manifest.h.
 */
#include "cl_manifest.h"
#include "core/cl_error.h"
#include "core/cl_fs.h"
#include "core/cl_mem.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define MANIFEST_MAX ((size_t)1 << 30)

static int manifest_path(char *buf, size_t cap, const char *data_dir, const char *source)
{
	if ((size_t)snprintf(buf, cap, "%s/bronze/%s/_files.ndjson", data_dir, source) >= cap)
		return cl_error_set(CL_EINVAL, "bronze manifest path too long");
	return CL_OK;
}

int cl_manifest_append(const char *data_dir, const char *source,
		       const struct cl_manifest_entry *e)
{
	char path[PATH_MAX];
	json_t *line = json_pack("{s:s,s:s,s:s,s:I,s:s,s:I,s:I}", "hash", e->hash, "name",
				 e->name, "path", e->path, "bytes", (json_int_t)e->bytes, "format",
				 e->format, "run_id", (json_int_t)e->run_id, "ingested_us",
				 (json_int_t)e->ingested_us);
	char *text = line ? json_dumps(line, JSON_COMPACT) : NULL;
	int fd, rc;

	json_decref(line);
	if (!text)
		return cl_error_set(CL_ENOMEM, "no memory for a manifest line");
	rc = manifest_path(path, sizeof(path), data_dir, source);
	fd = rc ? -1 : open(path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600);
	if (rc == CL_OK && fd < 0)
		rc = cl_error_set(cl_error_from_errno(errno), "cannot open %s: %s", path,
				  strerror(errno));
	if (rc == CL_OK)
		rc = cl_fs_write_all(fd, text, strlen(text), path);
	if (rc == CL_OK)
		rc = cl_fs_write_all(fd, "\n", 1, path);
	if (rc == CL_OK)
		rc = cl_fs_datasync(fd, path);
	if (fd >= 0)
		close(fd);
	free(text);
	return rc;
}

/* One line: an entry for fn, or a reason for bad. */
static int one_line(const char *s, size_t len, const char *source, uint64_t no,
		    cl_manifest_fn fn, cl_manifest_bad_fn bad, void *arg)
{
	json_t *j = json_loadb(s, len, JSON_REJECT_DUPLICATES, NULL);
	struct cl_manifest_entry e = { 0 };
	int rc = 0;

	e.hash = json_string_value(json_object_get(j, "hash"));
	e.path = json_string_value(json_object_get(j, "path"));
	if (!json_is_object(j) || !e.hash || !e.path) {
		if (bad)
			bad(arg, source, no, !j ? "not JSON (a torn line?)"
					    : "not an entry with a hash and a path");
		json_decref(j);
		return 0;
	}
	e.name = json_string_value(json_object_get(j, "name"));
	e.format = json_string_value(json_object_get(j, "format"));
	e.bytes = json_integer_value(json_object_get(j, "bytes"));
	e.run_id = json_integer_value(json_object_get(j, "run_id"));
	e.ingested_us = json_integer_value(json_object_get(j, "ingested_us"));
	e.line = j;
	rc = fn(arg, source, &e);
	json_decref(j);
	return rc;
}

int cl_manifest_parse(const char *text, size_t len, const char *source, cl_manifest_fn fn,
		      cl_manifest_bad_fn bad, void *arg)
{
	uint64_t no = 0;
	size_t i = 0;
	int rc = 0;

	while (rc == 0 && i < len) {
		const char *nl = memchr(text + i, '\n', len - i);
		size_t end = nl ? (size_t)(nl - text) : len;

		no++;
		if (end > i)
			rc = one_line(text + i, end - i, source, no, fn, bad, arg);
		i = end + 1;
	}
	return rc;
}

int cl_manifest_list(const char *data_dir, const char *source, cl_manifest_fn fn,
		     cl_manifest_bad_fn bad, void *arg)
{
	char path[PATH_MAX];
	char *data = NULL;
	size_t len = 0;
	int rc = manifest_path(path, sizeof(path), data_dir, source);

	if (rc)
		return rc;
	if (access(path, F_OK) != 0)
		return CL_OK;
	rc = cl_fs_read_file(path, MANIFEST_MAX, &data, &len);
	if (rc)
		return rc;
	rc = cl_manifest_parse(data, len, source, fn, bad, arg);
	cl_free(data);
	return rc;
}

int cl_manifest_check(const char *data_dir, const struct cl_manifest_entry *e)
{
	char path[PATH_MAX * 2], hex[65];
	unsigned char h[32];
	char *data = NULL;
	size_t len = 0;

	snprintf(path, sizeof(path), "%s/%s", data_dir, e->path);
	if (cl_fs_read_file(path, (size_t)1 << 30, &data, &len) != CL_OK)
		return cl_error_set(CL_ENOENT, "%s is missing or unreadable", e->path);
	crypto_generichash(h, sizeof(h), (const unsigned char *)data, len, NULL, 0);
	sodium_bin2hex(hex, sizeof(hex), h, sizeof(h));
	cl_free(data);
	if (strcmp(hex, e->hash) != 0)
		return cl_error_set(CL_ECORRUPT, "%s no longer matches its hash", e->path);
	return CL_OK;
}
