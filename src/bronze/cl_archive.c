/*
 * cl_archive.c — bronze's immutable files copied to object storage,
 * checked, and brought back (see cl_archive.h).
 */
#include "bronze/cl_archive.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <jansson.h>

#include "bronze/cl_bronze.h"
#include "bronze/cl_checkpoint.h"
#include "bronze/cl_manifest.h"
#include "bronze/cl_segment.h"
#include "core/cl_error.h"
#include "core/cl_fs.h"
#include "core/cl_log.h"
#include "core/cl_mem.h"
#include "core/cl_time.h"
#include "objstore/cl_objstore.h"

#define STATE_FILE "_archive.ndjson"
#define MANIFEST_FILE "_files.ndjson"
#define STATE_MAX (256u << 20)

/* The recorded files of one source: path -> {"bytes", "md5"}. A line that
 * is not a whole entry (a torn append) is not trusted: that file is simply
 * archived again. */
static json_t *state_load(const char *sdir)
{
	char path[PATH_MAX], *buf = NULL;
	size_t len = 0;
	json_t *st = json_object();

	snprintf(path, sizeof(path), "%s/%s", sdir, STATE_FILE);
	if (!st || cl_fs_read_file(path, STATE_MAX, &buf, &len) != CL_OK)
		return st;
	for (char *line = buf, *nl; line < buf + len; line = nl + 1) {
		nl = memchr(line, '\n', (size_t)(buf + len - line));
		if (!nl)
			break; /* torn */
		json_t *e = json_loadb(line, (size_t)(nl - line), 0, NULL);
		const char *p = json_string_value(json_object_get(e, "path"));
		if (p && json_is_integer(json_object_get(e, "bytes")) &&
		    json_is_string(json_object_get(e, "md5")))
			json_object_set(st, p, e);
		json_decref(e);
	}
	cl_free(buf);
	return st;
}

/* Records one archived file durably. */
static int state_append(const char *sdir, json_t *st, const char *rel, int64_t bytes,
			const char *md5)
{
	char path[PATH_MAX];
	int fd, rc;
	json_t *e = json_pack("{s:s, s:I, s:s, s:I}", "path", rel, "bytes", (json_int_t)bytes,
			      "md5", md5, "at", (json_int_t)cl_time_now_us());
	char *line = e ? json_dumps(e, JSON_COMPACT | JSON_PRESERVE_ORDER) : NULL;

	if (!line) {
		json_decref(e);
		return CL_ENOMEM;
	}
	snprintf(path, sizeof(path), "%s/%s", sdir, STATE_FILE);
	rc = cl_fs_open(path, O_WRONLY | O_CREAT | O_APPEND, 0600, &fd);
	if (rc == 0) {
		size_t n = strlen(line);
		line[n] = '\n'; /* json_dumps leaves room for the NUL */
		rc = cl_fs_write_all(fd, line, n + 1, path);
		if (rc == 0)
			rc = cl_fs_datasync(fd, path);
		close(fd);
	}
	if (rc == 0)
		json_object_set(st, rel, e);
	free(line);
	json_decref(e);
	return rc;
}

/* Uploads one file and checks that the store has it whole. */
static int upload(struct cl_objstore *os, const char *local, const char *key, int64_t *bytes,
		  char md5[33])
{
	struct cl_objstore_info info;
	struct stat sb;
	int rc;

	if (stat(local, &sb) != 0)
		return cl_error_set(CL_EIO, "%s: %s", local, strerror(errno));
	*bytes = (int64_t)sb.st_size;
	if ((rc = cl_objstore_put_file_md5(os, key, local, 0, md5)) ||
	    (rc = cl_objstore_head(os, key, &info)))
		return rc;
	if (info.size != *bytes)
		return cl_error_set(CL_ECORRUPT, "archive %s: %lld bytes stored, %lld sent", key,
				    (long long)info.size, (long long)*bytes);
	if (info.md5[0] && strcmp(info.md5, md5) != 0)
		return cl_error_set(CL_ECORRUPT, "archive %s: the store's MD5 %s is not the file's %s",
				    key, info.md5, md5);
	return 0;
}

struct run {
	struct cl_objstore *os;
	const char *source, *sdir;
	json_t *state;
	struct cl_archive_summary *sum;
};

/* Archives `rel` (relative to the source's directory) unless recorded. */
/* Uploads one file and records it. `sealed`: a segment the log has just
 * rotated away from, whose last records may still await the log's
 * fdatasync: it is synced here first, so the archive never holds a record
 * a crash could still take back. */
static int archive_one(struct run *r, const char *rel, int sealed)
{
	char local[PATH_MAX + 8], key[PATH_MAX], md5[33];
	int64_t bytes = 0;
	int rc = 0;

	if (json_object_get(r->state, rel)) {
		r->sum->already++;
		return 0;
	}
	snprintf(local, sizeof(local), "%s/%s", r->sdir, rel);
	snprintf(key, sizeof(key), "%s/%s", r->source, rel);
	if (sealed) {
		int fd = open(local, O_RDONLY | O_CLOEXEC);

		if (fd < 0)
			return cl_error_set(cl_error_from_errno(errno), "cannot open '%s': %s", local,
					    strerror(errno));
		rc = cl_fs_datasync(fd, local);
		close(fd);
	}
	if (rc == 0)
		rc = upload(r->os, local, key, &bytes, md5);
	if (rc == 0)
		rc = state_append(r->sdir, r->state, rel, bytes, md5);
	if (rc == 0) {
		r->sum->files++;
		r->sum->bytes += bytes;
	}
	return rc;
}

/* A kept file of the manifest ("bronze/<source>/<rel>"). */
static int archive_kept(void *arg, const char *source, const struct cl_manifest_entry *e)
{
	struct run *r = arg;
	char prefix[128];
	int n = snprintf(prefix, sizeof(prefix), "bronze/%s/", source);
	if (strncmp(e->path, prefix, (size_t)n) != 0)
		return 0; /* kept elsewhere: not bronze's to archive */
	return archive_one(r, e->path + n, 0);
}

static int archive_source(struct cl_objstore *os, const char *data_dir, const char *source,
			  struct cl_archive_summary *sum)
{
	char sdir[PATH_MAX], mpath[PATH_MAX], key[PATH_MAX];
	struct cl_segment_info *segs = NULL;
	size_t nseg = 0;
	struct run r = { os, source, sdir, NULL, sum };
	int rc;

	if ((rc = cl_bronze_source_dir(sdir, sizeof(sdir), data_dir, source)))
		return rc;
	if (!(r.state = state_load(sdir)))
		return CL_ENOMEM;
	rc = cl_segment_list(sdir, &segs, &nseg);
	size_t plen = strlen(sdir) + 1;
	/* every segment but the newest, which may still grow */
	for (size_t i = 0; rc == 0 && i + 1 < nseg; i++)
		if (strncmp(segs[i].path, sdir, plen - 1) == 0)
			rc = archive_one(&r, segs[i].path + plen, 1);
	cl_segment_list_free(segs, nseg);
	if (rc == 0)
		rc = cl_manifest_list(data_dir, source, archive_kept, NULL, &r);
	/* then the manifest naming them (replaced: it grows) */
	snprintf(mpath, sizeof(mpath), "%s/%s", sdir, MANIFEST_FILE);
	snprintf(key, sizeof(key), "%s/%s", source, MANIFEST_FILE);
	if (rc == 0 && access(mpath, F_OK) == 0)
		rc = cl_objstore_put_file(os, key, mpath, 0);
	json_decref(r.state);
	return rc;
}

static int open_archive(const char *uri, const struct cl_config *cfg, struct cl_objstore **os)
{
	int rc;
	if (!uri || !*uri)
		return cl_error_set(CL_EINVAL, "no archive: set bronze.archive_uri (abfss://, az:// "
				    "or s3://)");
	if (!cl_objstore_is_uri(uri))
		return cl_error_set(CL_EINVAL, "bronze.archive_uri must be an object-storage URI "
				    "(abfss://, az:// or s3://), not %s", uri);
	if ((rc = cl_objstore_open(uri, cfg, os)))
		return rc;
	return 0;
}

int cl_archive_run(const char *data_dir, const char *uri, const struct cl_config *cfg,
		   struct cl_archive_summary *sum)
{
	struct cl_objstore *os;
	char (*names)[65] = NULL;
	size_t n = 0;
	int rc;

	memset(sum, 0, sizeof(*sum));
	if ((rc = open_archive(uri, cfg, &os)))
		return rc;
	rc = cl_objstore_ensure_container(os);
	if (rc == 0)
		rc = cl_bronze_sources(data_dir, &names, &n);
	for (size_t i = 0; rc == 0 && i < n; i++)
		rc = archive_source(os, data_dir, names[i], sum);
	cl_free(names);
	cl_objstore_close(os);
	return rc;
}

/* ---- checking ---------------------------------------------------------- */

static void problem(FILE *out, struct cl_archive_summary *sum, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
static void problem(FILE *out, struct cl_archive_summary *sum, const char *fmt, ...)
{
	va_list ap;
	sum->problems++;
	if (!out)
		return;
	va_start(ap, fmt);
	vfprintf(out, fmt, ap);
	va_end(ap);
	fputc('\n', out);
}

int cl_archive_verify(const char *data_dir, const char *uri, const struct cl_config *cfg,
		      FILE *out, struct cl_archive_summary *sum)
{
	struct cl_objstore *os;
	char (*names)[65] = NULL;
	size_t n = 0;
	int rc;

	memset(sum, 0, sizeof(*sum));
	if ((rc = open_archive(uri, cfg, &os)))
		return rc;
	rc = cl_bronze_sources(data_dir, &names, &n);
	for (size_t i = 0; rc == 0 && i < n; i++) {
		char sdir[PATH_MAX];
		if ((rc = cl_bronze_source_dir(sdir, sizeof(sdir), data_dir, names[i])))
			break;
		json_t *st = state_load(sdir), *e;
		const char *rel;
		json_object_foreach(st, rel, e) {
			char key[PATH_MAX], local[2 * PATH_MAX], md5[33];
			struct cl_objstore_info info;
			const char *want = json_string_value(json_object_get(e, "md5"));
			int64_t bytes = json_integer_value(json_object_get(e, "bytes"));
			snprintf(key, sizeof(key), "%s/%s", names[i], rel);
			sum->files++;
			sum->bytes += bytes;
			int hrc = cl_objstore_head(os, key, &info);
			if (hrc == CL_ENOENT) {
				problem(out, sum, "archive %s: missing (recorded as archived)", key);
				continue;
			}
			if (hrc) {
				rc = hrc;
				break;
			}
			if (info.size != bytes)
				problem(out, sum, "archive %s: %lld bytes, recorded %lld", key,
					(long long)info.size, (long long)bytes);
			else if (info.md5[0] && strcmp(info.md5, want) != 0)
				problem(out, sum, "archive %s: MD5 %s, recorded %s", key, info.md5,
					want);
			snprintf(local, sizeof(local), "%s/%s", sdir, rel);
			if (access(local, F_OK) == 0 && cl_objstore_md5_file(local, md5) == 0 &&
			    strcmp(md5, want) != 0)
				problem(out, sum, "bronze/%s/%s: the local copy's MD5 %s is not the "
					"archived %s", names[i], rel, md5, want);
		}
		json_decref(st);
	}
	cl_free(names);
	cl_objstore_close(os);
	return rc;
}

/* ---- restoring --------------------------------------------------------- */

/* Whether an archive key is one bronze could have written: a source name,
 * then path segments none of which is empty, "." or "..". The archive is
 * outside input: a key must never lead out of the data directory. */
static int key_safe(const char *key)
{
	const char *slash = strchr(key, '/');
	char source[65];
	if (!slash || slash == key || (size_t)(slash - key) >= sizeof(source))
		return 0;
	memcpy(source, key, (size_t)(slash - key));
	source[slash - key] = 0;
	if (!cl_name_valid(source))
		return 0;
	for (const char *seg = slash + 1; seg;) {
		const char *end = strchr(seg, '/');
		size_t len = end ? (size_t)(end - seg) : strlen(seg);
		if (len == 0 || seg[0] == '.')
			return 0;
		seg = end ? end + 1 : NULL;
	}
	return 1;
}

struct restore {
	struct cl_objstore *os;
	const char *data_dir, *source;
	struct cl_archive_summary *sum;
};

/* Downloads `key` to bronze/<key>, checked against the store's size and
 * MD5 before it is renamed into place. */
static int download(struct cl_objstore *os, const char *data_dir, const char *key,
		    const struct cl_objstore_info *info, char md5[33])
{
	char local[PATH_MAX], tmp[PATH_MAX + 16], dir[PATH_MAX];
	struct stat sb;
	int rc;

	snprintf(local, sizeof(local), "%s/bronze/%s", data_dir, key);
	snprintf(tmp, sizeof(tmp), "%s.restore", local);
	snprintf(dir, sizeof(dir), "%s", local);
	*strrchr(dir, '/') = 0;
	if ((rc = cl_fs_mkdirs(dir)) || (rc = cl_objstore_get_file(os, key, tmp)))
		return rc;
	if (stat(tmp, &sb) != 0 || (int64_t)sb.st_size != info->size)
		rc = cl_error_set(CL_ECORRUPT, "archive %s: downloaded %lld bytes, the store says "
				  "%lld", key, (long long)sb.st_size, (long long)info->size);
	else if ((rc = cl_objstore_md5_file(tmp, md5)) == 0 && info->md5[0] &&
		 strcmp(md5, info->md5) != 0)
		rc = cl_error_set(CL_ECORRUPT, "archive %s: downloaded MD5 %s, the store says %s",
				  key, md5, info->md5);
	if (rc == 0)
		rc = cl_fs_rename(tmp, local);
	if (rc == 0)
		rc = cl_fs_sync_parent(local);
	if (rc)
		cl_fs.unlink(tmp);
	return rc;
}

static int restore_one(void *arg, const struct cl_objstore_info *info)
{
	struct restore *r = arg;
	char local[PATH_MAX];
	size_t sl = r->source ? strlen(r->source) : 0;

	if (!key_safe(info->key)) {
		cl_log_warn("bronze", "event=archive_key_skipped reason=\"not a bronze path\"");
		return 0;
	}
	if (r->source && (strncmp(info->key, r->source, sl) || info->key[sl] != '/'))
		return 0;
	snprintf(local, sizeof(local), "%s/bronze/%s", r->data_dir, info->key);
	if (access(local, F_OK) == 0) {
		r->sum->already++;
		return 0;
	}
	char md5[33], sdir[PATH_MAX];
	int rc = download(r->os, r->data_dir, info->key, info, md5);
	const char *rel = strchr(info->key, '/') + 1;
	if (rc == 0 && strcmp(rel, MANIFEST_FILE) != 0) {
		/* it came from the archive: it is archived */
		json_t *st = json_object();
		snprintf(sdir, sizeof(sdir), "%s/bronze/%.*s", r->data_dir,
			 (int)(rel - 1 - info->key), info->key);
		rc = st ? state_append(sdir, st, rel, info->size, md5) : CL_ENOMEM;
		json_decref(st);
	}
	if (rc == 0) {
		r->sum->files++;
		r->sum->bytes += info->size;
	}
	return rc;
}

int cl_archive_restore(const char *data_dir, const char *uri, const struct cl_config *cfg,
		       const char *source, struct cl_archive_summary *sum)
{
	struct cl_objstore *os;
	char prefix[80] = "";
	int rc;

	memset(sum, 0, sizeof(*sum));
	if ((rc = open_archive(uri, cfg, &os)))
		return rc;
	if (source)
		snprintf(prefix, sizeof(prefix), "%s/", source);
	struct restore r = { os, data_dir, source, sum };
	rc = cl_objstore_list(os, prefix, restore_one, &r);
	cl_objstore_close(os);
	return rc;
}

int cl_archive_fetch(const char *data_dir, const char *uri, const struct cl_config *cfg,
		     const char *rel)
{
	struct cl_objstore *os;
	struct cl_objstore_info info;
	int rc;

	if (strncmp(rel, "bronze/", 7) != 0 || !key_safe(rel + 7))
		return cl_error_set(CL_EINVAL, "%s is not a file bronze keeps", rel);
	if ((rc = open_archive(uri, cfg, &os)))
		return rc;
	char md5[33];
	rc = cl_objstore_head(os, rel + 7, &info);
	if (rc == 0)
		rc = download(os, data_dir, rel + 7, &info, md5);
	cl_objstore_close(os);
	return rc;
}
