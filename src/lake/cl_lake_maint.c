/*
 * cl_lake_maint.c — keeping Delta tables tidy (see cl_lake.h):
 * optimize compacts a partition's small files into one, committed as a
 * rewrite that changes no data (dataChange false); vacuum deletes the
 * files no longer in the table once they have been out of it longer than
 * the retention, so time travel within the retention keeps working.
 */
#include "lake/cl_lake.h"

#include <dirent.h>
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <jansson.h>

#include "core/cl_error.h"
#include "core/cl_fs.h"
#include "core/cl_log.h"
#include "core/cl_mem.h"
#include "core/cl_time.h"
#include "lake/cl_delta.h"
#include "lake/cl_lake_cols.h"
#include "lake/cl_lake_loc.h"
#include "lake/cl_parquet.h"
#include "lake/cl_pq_format.h"

/* The partition key of a file: its partition values joined. */
static void part_key(const struct cl_delta_snapshot *s, const struct cl_delta_file *f, char *buf,
		     size_t cap)
{
	size_t n = 0;
	buf[0] = 0;
	for (size_t k = 0; k < s->npartition_cols && n < cap; k++)
		n += (size_t)snprintf(buf + n, cap - n, "%s\x1f",
				      f->part_values[k] ? f->part_values[k] : "\x01null");
}

/* Writes files[idx[0..n)] of table `tdir` into one new file `rel`;
 * sets *bytes and the stats JSON. */
static int merge_files(const char *tdir, const struct cl_delta_snapshot *s, const size_t *idx,
		       size_t n, const char *rel, int64_t *bytes, int64_t *rows, char **stats)
{
	char path[PATH_MAX + 300], dest[PATH_MAX + 300], staged[PATH_MAX + 300];
	struct cl_pq_file *f;
	struct cl_pq_writer *w = NULL;
	struct cl_pq_node nodes[CL_LAKE_MAX_COLS];
	char names[CL_LAKE_MAX_COLS][128];
	const char *np[CL_LAKE_MAX_COLS];
	enum cl_pq_type types[CL_LAKE_MAX_COLS];
	size_t ncols = 0;
	int rc = 0;

	*rows = 0;
	for (size_t k = 0; rc == 0 && k < n; k++) {
		snprintf(path, sizeof(path), "%s/%s", tdir, s->files[idx[k]].path);
		if ((rc = cl_lake_loc_open_parquet(path, &f)))
			break;
		if ((rc = cl_pq_check_flat(f))) {
			cl_pq_close(f);
			break;
		}
		if (k == 0) {
			ncols = cl_pq_num_leaves(f);
			if (ncols > CL_LAKE_MAX_COLS) {
				cl_pq_close(f);
				rc = cl_error_set(CL_ENOTSUP, "more than %d columns", CL_LAKE_MAX_COLS);
				break;
			}
			for (size_t c = 0; c < ncols; c++) {
				const struct cl_pq_leaf *l = cl_pq_leaf(f, c);
				snprintf(names[c], sizeof(names[c]), "%s", l->name);
				np[c] = names[c];
				types[c] = l->type;
				nodes[c] = (struct cl_pq_node){ names[c], l->type, CL_PQF_OPTIONAL, 0, -1 };
			}
			struct cl_pq_write_opts o = { .codec = CL_PQ_CODEC_ZSTD };
			snprintf(dest, sizeof(dest), "%s/%s", tdir, rel);
			if ((rc = cl_lake_loc_stage(dest, staged, sizeof(staged))) ||
			    (rc = cl_pq_writer_open(&w, staged, nodes, ncols, &o))) {
				cl_pq_close(f);
				break;
			}
		} else {
			/* every file the same columns, or it is left as it is */
			int same = cl_pq_num_leaves(f) == ncols;
			for (size_t c = 0; same && c < ncols; c++)
				same = strcmp(cl_pq_leaf(f, c)->name, names[c]) == 0 &&
				       cl_pq_leaf(f, c)->type == types[c];
			if (!same) {
				cl_pq_close(f);
				rc = cl_error_set(CL_ENOTSUP, "%s has other columns than its partition's "
						  "other files", s->files[idx[k]].path);
				break;
			}
		}
		/* a row group's columns read at once on every CPU, into the
		 * same vectors for each row group */
		struct cl_pq_vec v[CL_LAKE_MAX_COLS];
		for (size_t c = 0; c < ncols; c++)
			cl_pq_vec_init(&v[c], CL_PQ_NONE);
		for (size_t rg = 0; rc == 0 && rg < cl_pq_num_row_groups(f); rg++) {
			rc = cl_pq_read_columns(f, rg, NULL, ncols, v, 0);
			int64_t nr = cl_pq_row_group_rows(f, rg);
			for (int64_t r = 0; rc == 0 && r < nr; r++) {
				for (size_t c = 0; c < ncols; c++)
					cl_pq_vec_push_from(cl_pq_writer_col(w, c), &v[c], (size_t)r);
				rc = cl_pq_writer_rows(w, 1);
				(*rows)++;
			}
		}
		for (size_t c = 0; c < ncols; c++)
			cl_pq_vec_free(&v[c]);
		cl_pq_close(f);
	}
	if (rc) {
		cl_pq_writer_abort(w);
		return rc;
	}
	struct cl_pq_file_stats st;
	if ((rc = cl_pq_writer_close(w, &st)))
		return rc;
	if ((rc = cl_lake_loc_publish(staged, dest))) {
		cl_pq_file_stats_free(&st);
		return rc;
	}
	*bytes = st.bytes;
	*stats = cl_delta_stats_json(&st, np, types);
	cl_pq_file_stats_free(&st);
	return *stats ? 0 : CL_ENOMEM;
}

int cl_lake_optimize_table(const char *tdir, uint64_t target_bytes, struct cl_lake_maint *sum)
{
	struct cl_delta_snapshot *s;
	struct cl_delta_txn *t = NULL;
	int rc = cl_delta_txn_begin(&t, tdir);
	if (rc)
		return rc;
	s = (struct cl_delta_snapshot *)cl_delta_txn_snapshot(t);
	if (!s) {
		cl_delta_txn_free(t);
		return cl_error_set(CL_ENOENT, "no Delta table at %s", tdir);
	}
	size_t *idx = cl_calloc(s->nfiles + 1, sizeof(*idx));
	char *done = cl_calloc(s->nfiles + 1, 1);
	json_t *written = json_array(); /* the compacted files, until committed */
	int64_t version = -1;
	int changed = 0;
	if (!idx || !done || !written)
		rc = CL_ENOMEM;
	for (size_t i = 0; rc == 0 && i < s->nfiles; i++) {
		char key[1024], k2[1024];
		size_t n = 0;
		if (done[i] || s->files[i].has_dv || (uint64_t)s->files[i].size >= target_bytes)
			continue;
		part_key(s, &s->files[i], key, sizeof(key));
		for (size_t j = i; j < s->nfiles; j++) {
			if (done[j] || s->files[j].has_dv || (uint64_t)s->files[j].size >= target_bytes)
				continue;
			part_key(s, &s->files[j], k2, sizeof(k2));
			if (strcmp(key, k2) == 0) {
				idx[n++] = j;
				done[j] = 1;
			}
		}
		if (n < 2)
			continue;
		/* the new file beside the old ones, in their partition directory */
		char rel[600], name[128], dirpart[400] = "";
		const char *slash = strrchr(s->files[idx[0]].path, '/');
		if (slash)
			snprintf(dirpart, sizeof(dirpart), "%.*s/", (int)(slash - s->files[idx[0]].path),
				 s->files[idx[0]].path);
		cl_lake_file_name(name, sizeof(name), CL_PQ_CODEC_ZSTD);
		snprintf(rel, sizeof(rel), "%s%s", dirpart, name);
		int64_t bytes, rows;
		char *stats = NULL;
		rc = merge_files(tdir, s, idx, n, rel, &bytes, &rows, &stats);
		if (rc == CL_ENOTSUP) {
			rc = 0; /* left as they are */
			continue;
		}
		if (rc == 0) {
			char path[PATH_MAX + 700];
			snprintf(path, sizeof(path), "%s/%s", tdir, rel);
			if (json_array_append_new(written, json_string(path)) != 0)
				rc = CL_ENOMEM;
		}
		if (rc == 0)
			rc = cl_delta_txn_add(t, rel, (const char *const *)s->files[idx[0]].part_values,
					      bytes, stats, false);
		for (size_t k = 0; rc == 0 && k < n; k++) {
			sum->files_removed++;
			sum->bytes_removed += s->files[idx[k]].size;
			rc = cl_delta_txn_remove(t, s->files[idx[k]].path, false);
		}
		cl_free(stats);
		if (rc == 0) {
			sum->files_added++;
			sum->rows += rows;
			changed = 1;
		}
	}
	cl_free(idx);
	cl_free(done);
	if (rc == 0 && changed) {
		json_t *params = json_pack("{s:s}", "predicate", "[]");
		rc = cl_delta_txn_commit(t, "OPTIMIZE", params, &version);
		json_decref(params);
		t = NULL;
		if (rc == 0)
			sum->tables++;
	}
	if (rc && version < 0) {
		/* in no version: nobody reads them */
		size_t i;
		json_t *p;
		json_array_foreach(written, i, p)
			cl_lake_loc_unlink(json_string_value(p));
	}
	json_decref(written);
	cl_delta_txn_free(t);
	return rc;
}

/* Deletes (or lists) the data files under `dir` (relative `rel`) that the
 * snapshot does not hold and that left it — or, never in it, were
 * written — before `cutoff_ms`. */
static int sweep(const char *tdir, const char *rel, const struct cl_delta_snapshot *s,
		 json_t *active, json_t *gone, int64_t cutoff_ms, int dry_run,
		 struct cl_lake_maint *sum, FILE *list)
{
	char dir[PATH_MAX + 300];
	snprintf(dir, sizeof(dir), "%s%s%s", tdir, rel[0] ? "/" : "", rel);
	DIR *d = opendir(dir);
	struct dirent *de;
	int rc = 0;
	if (!d)
		return 0;
	while (rc == 0 && (de = readdir(d))) {
		char sub[1200], path[PATH_MAX + 1600];
		struct stat st;
		/* the log, and hidden or underscore files, are never data */
		if (de->d_name[0] == '.' || de->d_name[0] == '_')
			continue;
		snprintf(sub, sizeof(sub), "%s%s%s", rel, rel[0] ? "/" : "", de->d_name);
		snprintf(path, sizeof(path), "%s/%s", tdir, sub);
		if (lstat(path, &st) != 0)
			continue;
		if (S_ISDIR(st.st_mode)) {
			rc = sweep(tdir, sub, s, active, gone, cutoff_ms, dry_run, sum, list);
			if (!dry_run)
				rmdir(path); /* only if it is now empty */
			continue;
		}
		if (!S_ISREG(st.st_mode) || json_object_get(active, sub))
			continue;
		json_t *t = json_object_get(gone, sub);
		int64_t when = t ? json_integer_value(t)
				 : (int64_t)st.st_mtim.tv_sec * 1000 + st.st_mtim.tv_nsec / 1000000;
		if (when >= cutoff_ms)
			continue;
		sum->files_removed++;
		sum->bytes_removed += st.st_size;
		if (list)
			fprintf(list, "%s\n", path);
		if (!dry_run)
			rc = cl_fs_unlink(path);
	}
	closedir(d);
	return rc;
}

struct sweep_ctx {
	const char *tdir;
	json_t *active, *gone;
	int64_t cutoff_ms;
	int dry_run;
	struct cl_lake_maint *sum;
	FILE *list;
};

/* sweep() for a table in object storage: one file of the listing. */
static int sweep_one(void *arg, const char *rel, int64_t size, int64_t mtime_ms)
{
	struct sweep_ctx *c = arg;
	char path[PATH_MAX + 1600];
	/* the log, and hidden or underscore files or directories, are never data */
	for (const char *seg = rel; seg; seg = strchr(seg, '/') ? strchr(seg, '/') + 1 : NULL)
		if (*seg == '.' || *seg == '_')
			return 0;
	if (json_object_get(c->active, rel))
		return 0;
	json_t *t = json_object_get(c->gone, rel);
	if ((t ? json_integer_value(t) : mtime_ms) >= c->cutoff_ms)
		return 0;
	snprintf(path, sizeof(path), "%s/%s", c->tdir, rel);
	c->sum->files_removed++;
	c->sum->bytes_removed += size;
	if (c->list)
		fprintf(c->list, "%s\n", path);
	return c->dry_run ? 0 : cl_lake_loc_unlink(path);
}

int cl_lake_vacuum_table(const char *tdir, int64_t retention_us, int dry_run,
			 struct cl_lake_maint *sum, FILE *list)
{
	struct cl_delta_snapshot *s;
	int rc = cl_delta_snapshot_load(tdir, CL_DELTA_LATEST, CL_DELTA_NO_TIME, &s);
	if (rc)
		return rc;
	json_t *active = json_object(), *gone = json_object();
	for (size_t i = 0; i < s->nfiles; i++)
		json_object_set_new(active, s->files[i].path, json_true());
	for (size_t i = 0; i < s->ntombstones; i++)
		json_object_set_new(gone, s->tombstones[i].path,
				    json_integer(s->tombstones[i].deletion_ts));
	int64_t cutoff = (cl_time_now_us() - retention_us) / 1000;
	if (cl_lake_loc_remote(tdir)) {
		struct sweep_ctx c = { tdir, active, gone, cutoff, dry_run, sum, list };
		rc = cl_lake_loc_walk(tdir, sweep_one, &c);
	} else {
		rc = sweep(tdir, "", s, active, gone, cutoff, dry_run, sum, list);
	}
	if (rc == 0)
		sum->tables++;
	json_decref(active);
	json_decref(gone);
	cl_delta_snapshot_free(s);
	return rc;
}

int cl_lake_maintain(const char *root, uint64_t target_bytes, int64_t retention_us,
		     struct cl_lake_maint *sum)
{
	char name[64], rel[128], tdir[PATH_MAX + 200];
	int first = 0;

	memset(sum, 0, sizeof(*sum));
	for (int i = 0; cl_lake_table(i, name, sizeof(name), rel, sizeof(rel), NULL); i++) {
		snprintf(tdir, sizeof(tdir), "%s/%s", root, rel);
		if (!cl_delta_is_table(tdir))
			continue;
		int rc = cl_lake_optimize_table(tdir, target_bytes, sum);
		if (rc == 0)
			rc = cl_lake_vacuum_table(tdir, retention_us, 0, sum, NULL);
		if (rc) {
			cl_log_error("lake", "event=maintenance_failed table=%s detail=%s", CL_LOG_Q(rel),
				     CL_LOG_Q(cl_error_detail()));
			if (!first)
				first = rc;
		}
	}
	return first;
}
