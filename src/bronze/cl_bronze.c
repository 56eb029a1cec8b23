/*
 * The bronze store: per-source logs under <data>/bronze, and verification.
 * See cl_bronze.h.
 */
#include "cl_bronze.h"
#include "cl_checkpoint.h"
#include "cl_manifest.h"
#include "cl_reader.h"
#include "cl_segment.h"
#include "../core/cl_config.h"
#include "../core/cl_error.h"
#include "../core/cl_fs.h"
#include "../core/cl_mem.h"

#include <dirent.h>
#include <jansson.h>
#include <sodium.h>
#include <errno.h>
#include <limits.h>
#include <stddef.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

struct source_log {
	char name[65];
	struct cl_blog *log;
};

struct cl_bronze {
	char *data_dir;
	struct cl_blog_options o;
	pthread_mutex_t mu;
	struct source_log *logs;
	size_t nlogs, cap;
};

int cl_bronze_source_dir(char *buf, size_t cap, const char *data_dir,
			 const char *source)
{
	if (!cl_name_valid(source))
		return cl_error_set(CL_EINVAL,
				    "source name '%.64s' is invalid (use a-z, 0-9, _ and -, up to 64)",
				    source);
	if ((size_t)snprintf(buf, cap, "%s/bronze/%s", data_dir, source) >= cap)
		return cl_error_set(CL_EINVAL, "data directory path too long");
	return CL_OK;
}

int cl_bronze_open(const char *data_dir, const struct cl_blog_options *o,
		   struct cl_bronze **out)
{
	struct cl_bronze *b = cl_calloc(1, sizeof(*b));

	*out = NULL;
	if (!b || !(b->data_dir = cl_strdup(data_dir))) {
		cl_free(b);
		return cl_error_set(CL_ENOMEM, "no memory to open bronze");
	}
	b->o = *o;
	b->o.reserve_dir = b->data_dir;
	pthread_mutex_init(&b->mu, NULL);
	*out = b;
	return CL_OK;
}

void cl_bronze_close(struct cl_bronze *b)
{
	if (!b)
		return;
	for (size_t i = 0; i < b->nlogs; i++)
		cl_blog_close(b->logs[i].log);
	cl_free(b->logs);
	cl_free(b->data_dir);
	pthread_mutex_destroy(&b->mu);
	cl_free(b);
}

int cl_bronze_log(struct cl_bronze *b, const char *source, struct cl_blog **out)
{
	char dir[PATH_MAX];
	int rc;

	rc = cl_bronze_source_dir(dir, sizeof(dir), b->data_dir, source);
	if (rc)
		return rc;
	pthread_mutex_lock(&b->mu);
	for (size_t i = 0; i < b->nlogs; i++) {
		if (strcmp(b->logs[i].name, source) == 0) {
			*out = b->logs[i].log;
			pthread_mutex_unlock(&b->mu);
			return CL_OK;
		}
	}
	if (b->nlogs == b->cap) {
		size_t nc = b->cap ? b->cap * 2 : 8;
		void *nl = cl_realloc(b->logs, nc * sizeof(*b->logs));

		if (!nl) {
			pthread_mutex_unlock(&b->mu);
			return cl_error_set(CL_ENOMEM, "no memory for a source");
		}
		b->logs = nl;
		b->cap = nc;
	}
	rc = cl_blog_open(dir, source, &b->o, out);
	if (rc == CL_OK) {
		snprintf(b->logs[b->nlogs].name, 65, "%s", source);
		b->logs[b->nlogs++].log = *out;
	}
	pthread_mutex_unlock(&b->mu);
	return rc;
}

static int cmp_name(const void *a, const void *b)
{
	return strcmp(a, b);
}

int cl_bronze_sources(const char *data_dir, char (**names)[65], size_t *count)
{
	char path[PATH_MAX];
	char (*list)[65] = NULL;
	size_t n = 0, cap = 0;
	struct dirent *de;
	DIR *d;

	*names = NULL;
	*count = 0;
	snprintf(path, sizeof(path), "%s/bronze", data_dir);
	d = opendir(path);
	if (!d) {
		if (errno == ENOENT)
			return CL_OK;
		return cl_error_set(cl_error_from_errno(errno), "cannot open '%s': %s",
				    path, strerror(errno));
	}
	while ((de = readdir(d)) != NULL) {
		char sub[PATH_MAX];

		if (!cl_name_valid(de->d_name) ||
		    (size_t)snprintf(sub, sizeof(sub), "%s/%s", path, de->d_name) >= sizeof(sub))
			continue;
		{
			struct stat st;

			if (stat(sub, &st) != 0 || !S_ISDIR(st.st_mode))
				continue;
		}
		if (n == cap) {
			size_t nc = cap ? cap * 2 : 8;
			void *nl = cl_realloc(list, nc * sizeof(*list));

			if (!nl) {
				closedir(d);
				cl_free(list);
				return cl_error_set(CL_ENOMEM, "no memory listing sources");
			}
			list = nl;
			cap = nc;
		}
		memcpy(list[n++], de->d_name, strlen(de->d_name) + 1); /* <= 64 */
	}
	closedir(d);
	if (n)
		qsort(list, n, sizeof(*list), cmp_name);
	*names = list;
	*count = n;
	return CL_OK;
}

static void problem(struct cl_bronze_report *rep, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

static void problem(struct cl_bronze_report *rep, const char *fmt, ...)
{
	char line[768];
	va_list ap;
	char **np;

	va_start(ap, fmt);
	vsnprintf(line, sizeof(line), fmt, ap);
	va_end(ap);
	np = cl_realloc(rep->problems, (rep->nproblems + 1) * sizeof(*np));
	if (!np)
		return;
	rep->problems = np;
	np[rep->nproblems] = cl_strdup(line);
	if (np[rep->nproblems])
		rep->nproblems++;
}

static int verify_source(const char *dir, const char *name, uint32_t max_len,
			 struct cl_bronze_counts *c, struct cl_bronze_report *rep)
{
	struct cl_segment_info *segs;
	size_t n;
	uint64_t expected = 0;
	int rc;

	memset(c, 0, sizeof(*c));
	rc = cl_segment_list(dir, &segs, &n);
	if (rc)
		return rc;
	for (size_t i = 0; i < n && rc == CL_OK; i++) {
		struct cl_seg_scan *s;
		struct cl_frame f;
		struct stat st;
		int last = i + 1 == n;

		if (stat(segs[i].path, &st) == 0)
			c->bytes += (uint64_t)st.st_size;
		c->segments++;
		if (i == 0)
			c->first_offset = expected = segs[i].base;
		if (segs[i].base > expected) {
			c->corrupt_records += segs[i].base - expected;
			problem(rep, "%s: records %llu..%llu are missing before %s", name,
				(unsigned long long)expected,
				(unsigned long long)segs[i].base - 1, segs[i].path);
		} else if (segs[i].base < expected) {
			c->corrupt_records++;
			problem(rep, "%s: %s starts at offset %llu, inside the previous segment",
				name, segs[i].path, (unsigned long long)segs[i].base);
		}
		rc = cl_seg_scan_open(segs[i].path, segs[i].base, max_len, UINT64_MAX, &s);
		if (rc)
			break;
		if (!cl_seg_scan_header_ok(s) && !(last && st.st_size < (off_t)CL_SEG_HEADER_SIZE)) {
			c->corrupt_records++;
			problem(rep, "%s: %s has a bad segment header", name, segs[i].path);
		}
		for (;;) {
			uint64_t skipped, bad, bad_off;

			rc = cl_seg_scan_next(s, &f);
			if (rc == 1) {
				c->records++;
				continue;
			}
			if (rc == 0)
				break;
			if (rc != CL_ECORRUPT)
				break;
			rc = CL_OK;
			bad = cl_seg_scan_bad_pos(s);
			bad_off = cl_seg_scan_next_offset(s);
			if (cl_seg_scan_resync(s, &skipped)) {
				uint64_t lost = cl_seg_scan_next_offset(s) - bad_off;

				c->corrupt_records += lost ? lost : 1;
				problem(rep, "%s: %s: %llu corrupt bytes at byte %llu (%llu records lost)",
					name, segs[i].path, (unsigned long long)skipped,
					(unsigned long long)bad,
					(unsigned long long)lost);
				continue;
			}
			if (last) {
				c->torn_tail_bytes += skipped;
			} else {
				c->corrupt_records++;
				problem(rep, "%s: sealed segment %s ends with %llu invalid bytes at byte %llu",
					name, segs[i].path, (unsigned long long)skipped,
					(unsigned long long)bad);
			}
			break;
		}
		expected = cl_seg_scan_next_offset(s);
		cl_seg_scan_close(s);
	}
	c->next_offset = expected;
	cl_segment_list_free(segs, n);
	return rc;
}

/* What verify_files counts into. */
struct verify_ctx {
	const char *data_dir, *name;
	struct cl_bronze_counts *c;
	struct cl_bronze_report *rep;
};

static int verify_entry(void *arg, const char *source, const struct cl_manifest_entry *e)
{
	struct verify_ctx *v = arg;

	(void)source;
	v->c->files++;
	if (cl_manifest_check(v->data_dir, e) != CL_OK) {
		v->c->corrupt_files++;
		problem(v->rep, "%s: %s", v->name, cl_error_detail());
	}
	return CL_OK;
}

/* The original files a source keeps (its manifest, cl_manifest.h): each
 * must be there, with the content its hash says. A line that is not a
 * whole entry (a torn last line: that file never registered) is skipped. */
static int verify_files(const char *data_dir, const char *name, struct cl_bronze_counts *c,
			struct cl_bronze_report *rep)
{
	struct verify_ctx v = { data_dir, name, c, rep };

	if (cl_manifest_list(data_dir, name, verify_entry, NULL, &v) != CL_OK)
		problem(rep, "%s: %s", name, cl_error_detail());
	return CL_OK;
}

int cl_bronze_verify(const char *data_dir, const char *source,
		     uint32_t max_len, struct cl_bronze_report *rep)
{
	char (*names)[65] = NULL;
	size_t n = 0;
	int rc;

	memset(rep, 0, sizeof(*rep));
	if (!cl_fs_is_dir(data_dir))
		return cl_error_set(CL_ENOENT, "data directory '%s' does not exist",
				    data_dir);
	if (source) {
		char dir[PATH_MAX];

		rc = cl_bronze_source_dir(dir, sizeof(dir), data_dir, source);
		if (rc)
			return rc;
		if (!cl_fs_is_dir(dir))
			return cl_error_set(CL_ENOENT, "source '%s' has no bronze log in '%s'",
					    source, data_dir);
		names = cl_calloc(1, sizeof(*names));
		if (!names)
			return CL_ENOMEM;
		snprintf(names[0], 65, "%s", source);
		n = 1;
	} else {
		rc = cl_bronze_sources(data_dir, &names, &n);
		if (rc)
			return rc;
	}
	rep->names = names;
	rep->nsources = n;
	rep->sources = cl_calloc(n ? n : 1, sizeof(*rep->sources));
	if (!rep->sources)
		return cl_error_set(CL_ENOMEM, "no memory for the report");
	for (size_t i = 0; i < n; i++) {
		char dir[PATH_MAX];
		struct cl_bronze_counts *c = &rep->sources[i];

		cl_bronze_source_dir(dir, sizeof(dir), data_dir, names[i]);
		rc = verify_source(dir, names[i], max_len, c, rep);
		if (rc == CL_OK)
			rc = verify_files(data_dir, names[i], c, rep);
		if (rc)
			return rc;
		rep->total.files += c->files;
		rep->total.corrupt_files += c->corrupt_files;
		rep->total.records += c->records;
		rep->total.segments += c->segments;
		rep->total.bytes += c->bytes;
		rep->total.corrupt_records += c->corrupt_records;
		rep->total.torn_tail_bytes += c->torn_tail_bytes;
	}
	return CL_OK;
}

void cl_bronze_report_free(struct cl_bronze_report *rep)
{
	for (size_t i = 0; i < rep->nproblems; i++)
		cl_free(rep->problems[i]);
	cl_free(rep->problems);
	cl_free(rep->names);
	cl_free(rep->sources);
	memset(rep, 0, sizeof(*rep));
}

#define KiB 1024ll
#define MiB (1024ll * 1024)
#define GiB (1024ll * 1024 * 1024)
#define SEC 1000000ll
#define F(field) offsetof(struct cl_blog_options, field)

static const struct cl_config_entry bronze_entries[] = {
	{ "segment_max_bytes", CL_CFG_SIZE, "64MiB", 4 * KiB, 4 * GiB, F(segment_max_bytes),
	  "a new segment file starts before one would grow past this", NULL },
	{ "segment_max_age", CL_CFG_DURATION, "1h", SEC, 7 * 86400 * SEC, F(segment_max_age_us),
	  "a new segment file starts when the current one is this old "
	  "(and always at UTC midnight)", NULL },
	{ "commit_max_records", CL_CFG_U32, "4096", 1, 1000000, F(commit_max_records),
	  "most records made durable by one fdatasync (the group-commit batch)", NULL },
	{ "commit_max_bytes", CL_CFG_SIZE, "4MiB", 4 * KiB, 256 * MiB, F(commit_max_bytes),
	  "most framed bytes in one commit batch", NULL },
	{ "commit_max_wait", CL_CFG_DURATION, "0", 0, SEC, F(commit_max_wait_us),
	  "how long a commit may wait for its batch to fill; 0 commits as soon "
	  "as the disk is free (records arriving meanwhile share the next sync)", NULL },
	{ "pending_max_bytes", CL_CFG_SIZE, "64MiB", 64 * KiB, 16 * GiB, F(pending_max_bytes),
	  "bytes accepted but not yet durable before producers are pushed "
	  "back: blocked, or told CL_EBUSY (retry later) if they cannot wait", NULL },
	{ "record_max_bytes", CL_CFG_SIZE32, "4MiB", 64, 64 * MiB, F(record_max_bytes),
	  "largest single record accepted into bronze", NULL },
	{ "archive_uri", CL_CFG_STRING, "", 0, 0, F(archive_uri),
	  "copy sealed segments and kept files to this object-storage URI (abfss://, az://, "
	  "s3://), verified by checksum (docs/bronze-log.md, Archive); empty: no archive", NULL },
	{ "archive_interval", CL_CFG_DURATION, "1m", SEC, 86400 * SEC, F(archive_interval_us),
	  "serve copies newly sealed segments and kept files to the archive this often", NULL },
	{ "reserve", CL_CFG_SIZE, "256MiB", 0, 64 * GiB, F(reserve_max_bytes),
	  "room on the data directory's disk that serve keeps for bronze (a file, "
	  "bronze.reserve, at most a twentieth of the filesystem and a quarter of the space "
	  "free at the start): the serving store, "
	  "silver and gold never write into it, and bronze takes it when the disk is full; "
	  "0: none", NULL },
};

static void bronze_init(void *settings)
{
	cl_blog_options_default(settings);
}

const struct cl_config_section cl_bronze_section = {
	.name = "bronze",
	.entries = bronze_entries,
	.nentries = sizeof(bronze_entries) / sizeof(bronze_entries[0]),
	.size = sizeof(struct cl_blog_options),
	.init = bronze_init,
};

const struct cl_blog_options *cl_bronze_settings(const struct cl_config *c)
{
	return cl_config_get(c, &cl_bronze_section);
}

int64_t cl_bronze_records_after(const char *data_dir, const char *source, uint64_t from,
				uint64_t *end)
{
	char dir[PATH_MAX];
	struct cl_blog_reader *r;
	struct cl_frame f;
	int64_t n = 0;

	*end = from;
	if (cl_bronze_source_dir(dir, sizeof(dir), data_dir, source) != CL_OK ||
	    !cl_fs_is_dir(dir) || cl_blog_reader_open(dir, from, UINT64_MAX, 16u << 20, &r) != CL_OK)
		return 0;
	while (cl_blog_reader_next(r, &f) == 1)
		n++;
	*end = cl_blog_reader_position(r);
	cl_blog_reader_close(r);
	return n;
}
