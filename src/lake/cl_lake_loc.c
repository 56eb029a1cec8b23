/*
 * cl_lake_loc.c — a Delta table's files in a local directory or in object
 * storage (see cl_lake_loc.h): the local calls are the file system's, the
 * remote ones objstore's, with files staged locally on the way.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <sodium.h>

#include "core/cl_error.h"
#include "core/cl_fs.h"
#include "core/cl_log.h"
#include "core/cl_mem.h"
#include "lake/cl_lake.h"
#include "lake/cl_lake_loc.h"
#include "lake/cl_parquet.h"
#include "objstore/cl_objstore.h"

/* An object store opened once per container and kept for the process. */
struct store {
	char root[512];              /* scheme://authority, no trailing '/' */
	struct cl_objstore *os;
	int ensured;                 /* the container exists */
};

#define MAX_STORES 16

static struct {
	pthread_mutex_t lock;        /* the fields below */
	const struct cl_config *cfg;
	char staging[PATH_MAX];
	struct store stores[MAX_STORES];
	int nstores;
	pthread_mutex_t commit_lock; /* single-writer commits on stores without
	                                conditional creates */
} loc = { PTHREAD_MUTEX_INITIALIZER, NULL, "", { { "", NULL, 0 } }, 0,
	  PTHREAD_MUTEX_INITIALIZER };

void cl_lake_loc_configure(const struct cl_config *cfg, const char *staging_dir)
{
	pthread_mutex_lock(&loc.lock);
	loc.cfg = cfg;
	snprintf(loc.staging, sizeof(loc.staging), "%s", staging_dir ? staging_dir : "");
	pthread_mutex_unlock(&loc.lock);
}

int cl_lake_loc_remote(const char *path)
{
	return cl_objstore_is_uri(path);
}

/* The store of a URI (opened on first use) and the key within it. */
static int find_store(const char *path, struct store **out, const char **key)
{
	const char *p = strstr(path, "://");
	if (!p)
		return cl_error_set(CL_EINVAL, "%s is not an object-storage URI", path);
	const char *slash = strchr(p + 3, '/');
	size_t n = slash ? (size_t)(slash - path) : strlen(path);
	*key = slash ? slash + 1 : "";
	if (n >= sizeof(loc.stores[0].root))
		return cl_error_set(CL_EINVAL, "%.64s...: the URI's container part is too long", path);
	int rc = 0;
	pthread_mutex_lock(&loc.lock);
	struct store *s = NULL;
	for (int i = 0; i < loc.nstores && !s; i++)
		if (strlen(loc.stores[i].root) == n && memcmp(loc.stores[i].root, path, n) == 0)
			s = &loc.stores[i];
	if (!s && loc.nstores == MAX_STORES)
		rc = cl_error_set(CL_EINVAL, "more than %d object-storage containers in one process",
				  MAX_STORES);
	if (!s && rc == 0) {
		s = &loc.stores[loc.nstores];
		memcpy(s->root, path, n);
		s->root[n] = 0;
		rc = cl_objstore_open(s->root, loc.cfg, &s->os);
		if (rc == 0)
			loc.nstores++;
	}
	pthread_mutex_unlock(&loc.lock);
	*out = rc == 0 ? s : NULL;
	return rc;
}

static int open_store(const char *path, struct cl_objstore **os, const char **key)
{
	struct store *s;
	int rc = find_store(path, &s, key);
	*os = rc == 0 ? s->os : NULL;
	return rc;
}

/* The store of `path`, its container created when missing (once). */
static int open_store_for_writing(const char *path, struct cl_objstore **os, const char **key)
{
	struct store *s;
	int rc = find_store(path, &s, key);
	if (rc)
		return rc;
	*os = s->os;
	pthread_mutex_lock(&loc.lock);
	int ensured = s->ensured;
	pthread_mutex_unlock(&loc.lock);
	if (ensured)
		return 0;
	if ((rc = cl_objstore_ensure_container(*os)))
		return cl_error_set(rc, "%s: the container is missing and could not be created: %s",
				    cl_objstore_uri(*os), cl_error_detail());
	pthread_mutex_lock(&loc.lock);
	s->ensured = 1;
	pthread_mutex_unlock(&loc.lock);
	return 0;
}

/* ---- listing ----------------------------------------------------------- */

struct list_ctx {
	size_t skip;                 /* length of the listed prefix */
	int direct;                  /* only names with no further '/' */
	int (*fn)(void *, const char *, int64_t, int64_t);
	void *arg;
	int found;
};

static int list_one(void *arg, const struct cl_objstore_info *info)
{
	struct list_ctx *c = arg;
	const char *rel = info->key + c->skip;
	if (strlen(info->key) <= c->skip || (c->direct && strchr(rel, '/')))
		return 0;
	const char *base = strrchr(rel, '/');
	if ((base ? base[1] : rel[0]) == '.')
		return 0; /* a hidden file, as locally */
	c->found = 1;
	return c->fn(c->arg, rel, info->size, info->mtime_ms);
}

static int remote_list(const char *dir, int direct,
		       int (*fn)(void *, const char *, int64_t, int64_t), void *arg)
{
	struct cl_objstore *os;
	const char *key;
	char prefix[PATH_MAX];
	int rc = open_store(dir, &os, &key);
	if (rc)
		return rc;
	int n = snprintf(prefix, sizeof(prefix), "%s%s", key, *key ? "/" : "");
	if (n < 0 || (size_t)n >= sizeof(prefix))
		return cl_error_set(CL_EINVAL, "%.64s...: path too long", dir);
	struct list_ctx c = { (size_t)n, direct, fn, arg, 0 };
	rc = cl_objstore_list(os, prefix, list_one, &c);
	if (rc == 0 && !c.found)
		return cl_error_set(CL_ENOENT, "%s: no such directory (nothing under it)", dir);
	return rc;
}

int cl_lake_loc_list(const char *dir, int (*fn)(void *, const char *, int64_t, int64_t),
		     void *arg)
{
	if (cl_lake_loc_remote(dir))
		return remote_list(dir, 1, fn, arg);
	DIR *d = opendir(dir);
	if (!d)
		return cl_error_set(errno == ENOENT || errno == ENOTDIR ? CL_ENOENT : CL_EIO,
				    "%s: %s", dir, strerror(errno));
	struct dirent *de;
	int rc = 0;
	while (rc == 0 && (de = readdir(d))) {
		struct stat st;
		if (de->d_name[0] == '.' || (de->d_type != DT_REG && de->d_type != DT_UNKNOWN))
			continue;
		/* a log of thousands of versions is listed on every read: no
		 * stat unless the directory entry cannot tell */
		if (de->d_type == DT_UNKNOWN &&
		    (fstatat(dirfd(d), de->d_name, &st, 0) != 0 || !S_ISREG(st.st_mode)))
			continue;
		rc = fn(arg, de->d_name, -1, -1);
	}
	closedir(d);
	return rc;
}

static int walk_local(const char *root, const char *rel,
		      int (*fn)(void *, const char *, int64_t, int64_t), void *arg)
{
	char dir[PATH_MAX];
	snprintf(dir, sizeof(dir), "%s%s%s", root, *rel ? "/" : "", rel);
	DIR *d = opendir(dir);
	if (!d)
		return *rel ? 0 : cl_error_set(CL_ENOENT, "%s: %s", dir, strerror(errno));
	struct dirent *de;
	int rc = 0;
	while (rc == 0 && (de = readdir(d))) {
		char sub[PATH_MAX];
		struct stat st;
		if (strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0)
			continue;
		int n = snprintf(sub, sizeof(sub), "%s%s%s", rel, *rel ? "/" : "", de->d_name);
		if (n < 0 || (size_t)n >= sizeof(sub) || fstatat(dirfd(d), de->d_name, &st,
								 AT_SYMLINK_NOFOLLOW) != 0)
			continue;
		if (S_ISDIR(st.st_mode))
			rc = walk_local(root, sub, fn, arg);
		else if (S_ISREG(st.st_mode))
			rc = fn(arg, sub, (int64_t)st.st_size,
				(int64_t)st.st_mtim.tv_sec * 1000 + st.st_mtim.tv_nsec / 1000000);
	}
	closedir(d);
	return rc;
}

/* For a walk: every file, hidden ones included (vacuum decides). */
static int walk_one(void *arg, const struct cl_objstore_info *info)
{
	struct list_ctx *c = arg;
	if (strlen(info->key) <= c->skip)
		return 0;
	c->found = 1;
	return c->fn(c->arg, info->key + c->skip, info->size, info->mtime_ms);
}

int cl_lake_loc_walk(const char *root, int (*fn)(void *, const char *, int64_t, int64_t),
		     void *arg)
{
	if (!cl_lake_loc_remote(root))
		return walk_local(root, "", fn, arg);
	struct cl_objstore *os;
	const char *key;
	char prefix[PATH_MAX];
	int rc = open_store(root, &os, &key);
	if (rc)
		return rc;
	int n = snprintf(prefix, sizeof(prefix), "%s%s", key, *key ? "/" : "");
	if (n < 0 || (size_t)n >= sizeof(prefix))
		return cl_error_set(CL_EINVAL, "%.64s...: path too long", root);
	struct list_ctx c = { (size_t)n, 0, fn, arg, 0 };
	return cl_objstore_list(os, prefix, walk_one, &c);
}

/* ---- whole small files ------------------------------------------------- */

int cl_lake_loc_read(const char *path, size_t max, char **buf, size_t *len)
{
	if (!cl_lake_loc_remote(path))
		return cl_fs_read_file(path, max, buf, len);
	struct cl_objstore *os;
	const char *key;
	int rc = open_store(path, &os, &key);
	return rc ? rc : cl_objstore_get_mem(os, key, max, buf, len);
}

int cl_lake_loc_stat(const char *path, int64_t *size, int64_t *mtime_ms)
{
	if (!cl_lake_loc_remote(path)) {
		struct stat st;
		if (stat(path, &st) != 0)
			return cl_error_set(errno == ENOENT ? CL_ENOENT : CL_EIO, "%s: %s", path,
					    strerror(errno));
		*size = (int64_t)st.st_size;
		*mtime_ms = (int64_t)st.st_mtim.tv_sec * 1000 + st.st_mtim.tv_nsec / 1000000;
		return 0;
	}
	struct cl_objstore *os;
	struct cl_objstore_info info;
	const char *key;
	int rc = open_store(path, &os, &key);
	if (rc == 0)
		rc = cl_objstore_head(os, key, &info);
	if (rc == 0) {
		*size = info.size;
		*mtime_ms = info.mtime_ms;
	}
	return rc;
}

/* Whether this process may commit to `os`: a store that does conditional
 * creates, or lake.single_writer. *serialise: commits must then hold
 * commit_lock and check first. */
static int may_commit(struct cl_objstore *os, int *serialise)
{
	int cc = cl_objstore_conditional_create(os);
	*serialise = 0;
	if (cc < 0)
		return cl_error_set(cc, "%s: could not tell whether the store does conditional "
				    "creates: %s", cl_objstore_uri(os), cl_error_detail());
	if (cc == 1)
		return 0;
	if (loc.cfg && cl_lake_settings(loc.cfg)->single_writer) {
		*serialise = 1;
		return 0;
	}
	return cl_error_set(CL_ENOTSUP, "%s cannot do conditional creates (If-None-Match: *), so "
			    "two writers could both take one Delta version and lose a commit; "
			    "carelake refuses to write there. Use a store that can, or set "
			    "lake.single_writer=on if this process is the tables' only writer",
			    cl_objstore_uri(os));
}

int cl_lake_loc_create(const char *path, const void *buf, size_t len)
{
	struct cl_objstore *os;
	const char *key;
	int serialise, rc = open_store_for_writing(path, &os, &key);
	if (rc == 0)
		rc = may_commit(os, &serialise);
	if (rc)
		return rc;
	if (!serialise)
		return cl_objstore_put_mem(os, key, buf, len, CL_OBJSTORE_IF_NONE_MATCH);
	struct cl_objstore_info info;
	pthread_mutex_lock(&loc.commit_lock);
	rc = cl_objstore_head(os, key, &info);
	if (rc == 0)
		rc = cl_error_set(CL_EEXIST, "%s exists", path);
	else if (rc == CL_ENOENT)
		rc = cl_objstore_put_mem(os, key, buf, len, 0);
	pthread_mutex_unlock(&loc.commit_lock);
	return rc;
}

int cl_lake_loc_replace(const char *path, const void *buf, size_t len)
{
	if (!cl_lake_loc_remote(path))
		return cl_fs_write_atomic(path, buf, len, 0600);
	struct cl_objstore *os;
	const char *key;
	int rc = open_store_for_writing(path, &os, &key);
	return rc ? rc : cl_objstore_put_mem(os, key, buf, len, 0);
}

/* ---- staged files ------------------------------------------------------ */

/* A fresh name in the staging directory, for `path`'s contents. */
static int staging_name(const char *path, char *local, size_t cap)
{
	char dir[PATH_MAX];
	pthread_mutex_lock(&loc.lock);
	snprintf(dir, sizeof(dir), "%s", *loc.staging ? loc.staging : "/tmp/carelake-staging");
	pthread_mutex_unlock(&loc.lock);
	int rc = cl_fs_mkdirs(dir);
	if (rc)
		return rc;
	const char *base = strrchr(path, '/');
	base = base ? base + 1 : path;
	int n = snprintf(local, cap, "%s/%08x-%.200s", dir, randombytes_random(), base);
	if (n < 0 || (size_t)n >= cap)
		return cl_error_set(CL_EINVAL, "%s: staging path too long", dir);
	return 0;
}

int cl_lake_loc_stage(const char *path, char *local, size_t cap)
{
	if (cl_lake_loc_remote(path))
		return staging_name(path, local, cap);
	if ((size_t)snprintf(local, cap, "%s", path) >= cap)
		return cl_error_set(CL_EINVAL, "%.64s...: path too long", path);
	char dir[PATH_MAX];
	snprintf(dir, sizeof(dir), "%s", path);
	char *slash = strrchr(dir, '/');
	if (!slash)
		return 0;
	*slash = 0;
	return cl_fs_mkdirs(dir);
}

int cl_lake_loc_publish(const char *local, const char *path)
{
	if (!cl_lake_loc_remote(path))
		return strcmp(local, path) == 0 ? 0 : cl_fs_rename(local, path);
	struct cl_objstore *os;
	const char *key;
	int rc = open_store_for_writing(path, &os, &key);
	if (rc == 0)
		rc = cl_objstore_put_file(os, key, local, 0);
	cl_fs.unlink(local);
	return rc;
}

int cl_lake_loc_fetch(const char *path, char *local, size_t cap)
{
	if (!cl_lake_loc_remote(path)) {
		if ((size_t)snprintf(local, cap, "%s", path) >= cap)
			return cl_error_set(CL_EINVAL, "%.64s...: path too long", path);
		return 0;
	}
	struct cl_objstore *os;
	const char *key;
	int rc = open_store(path, &os, &key);
	if (rc == 0)
		rc = staging_name(path, local, cap);
	if (rc == 0 && (rc = cl_objstore_get_file(os, key, local)))
		cl_fs.unlink(local);
	return rc;
}

void cl_lake_loc_release(const char *path, const char *local)
{
	if (cl_lake_loc_remote(path))
		cl_fs.unlink(local);
}

int cl_lake_loc_open_parquet(const char *path, struct cl_pq_file **f)
{
	char local[PATH_MAX];
	int rc = cl_lake_loc_fetch(path, local, sizeof(local));
	if (rc)
		return rc;
	rc = cl_pq_open(f, local);
	cl_lake_loc_release(path, local); /* the mapping outlives the name */
	return rc;
}

int cl_lake_loc_unlink(const char *path)
{
	if (!cl_lake_loc_remote(path))
		return cl_fs_unlink(path);
	struct cl_objstore *os;
	const char *key;
	int rc = open_store(path, &os, &key);
	return rc ? rc : cl_objstore_delete(os, key);
}
