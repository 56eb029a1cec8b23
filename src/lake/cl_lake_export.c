/*
 * cl_lake_export.c — a lake table as one file (Parquet, CSV, NDJSON), and
 * the check of every Delta table that `carelake verify` runs (see
 * cl_lake.h). Exports write through cl_fs (its faults injectable in
 * tests): a temporary file beside the target, mode 0600, renamed over it.
 */
#include "lake/cl_lake.h"

#include <dirent.h>
#include <errno.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <jansson.h>
#include <sodium.h>

#include "core/cl_csv_write.h"
#include "core/cl_error.h"
#include "core/cl_fs.h"
#include "lake/cl_delta.h"
#include "lake/cl_lake_cols.h"
#include "lake/cl_lake_loc.h"
#include "lake/cl_parquet.h"

/* ---- verify ----------------------------------------------------------- */

static void problem(struct cl_lake_check *c, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

static void problem(struct cl_lake_check *c, const char *fmt, ...)
{
	va_list ap;
	if (c->nproblems < 32) {
		va_start(ap, fmt);
		vsnprintf(c->problems[c->nproblems], sizeof(c->problems[0]), fmt, ap);
		va_end(ap);
	}
	c->nproblems++;
}

/* Checks one Delta table's latest version and its files. */
static void verify_table(const char *tdir, const char *rel, struct cl_lake_check *c)
{
	struct cl_delta_snapshot *s;
	char path[PATH_MAX + 512];

	if (cl_delta_snapshot_load(tdir, CL_DELTA_LATEST, CL_DELTA_NO_TIME, &s) != CL_OK) {
		problem(c, "%s: %s", rel, cl_error_detail());
		return;
	}
	c->tables++;
	for (size_t i = 0; i < s->nfiles; i++) {
		const struct cl_delta_file *f = &s->files[i];
		struct cl_pq_file *pq;
		int64_t size, mtime;

		c->files++;
		snprintf(path, sizeof(path), "%s/%s", tdir, f->path);
		if (cl_lake_loc_stat(path, &size, &mtime) != CL_OK) {
			problem(c, "%s: version %lld lists %s, which is missing", rel,
				(long long)s->version, f->path);
			continue;
		}
		if (f->size >= 0 && size != f->size) {
			problem(c, "%s: %s has %lld bytes, its log entry says %lld", rel, f->path,
				(long long)size, (long long)f->size);
			continue;
		}
		if (cl_lake_loc_open_parquet(path, &pq) != CL_OK) {
			problem(c, "%s: %s: %s", rel, f->path, cl_error_detail());
			continue;
		}
		int64_t rows = cl_pq_num_rows(pq);
		cl_pq_close(pq);
		c->rows += rows;
		if (f->num_records >= 0 && rows != f->num_records)
			problem(c, "%s: %s holds %lld rows, its statistics say %lld", rel, f->path,
				(long long)rows, (long long)f->num_records);
	}
	cl_delta_snapshot_free(s);
}

int cl_lake_verify(const char *root, struct cl_lake_check *out)
{
	static const char *const kinds[] = { "silver", "gold" };

	memset(out, 0, sizeof(*out));
	const char *data_dir = root;
	if (cl_lake_loc_remote(root)) {
		/* no directories to scan: the tables carelake writes */
		char name[64], rel[128], tdir[PATH_MAX + 200];
		for (int i = 0; cl_lake_table(i, name, sizeof(name), rel, sizeof(rel), NULL); i++) {
			snprintf(tdir, sizeof(tdir), "%s/%s", data_dir, rel);
			if (cl_delta_is_table(tdir))
				verify_table(tdir, rel, out);
		}
		return 0;
	}
	for (int k = 0; k < 2; k++) {
		char base[PATH_MAX], tdir[PATH_MAX + 300], log[PATH_MAX + 320], rel[300];
		struct dirent **names;
		int n;

		snprintf(base, sizeof(base), "%s/%s", data_dir, kinds[k]);
		n = scandir(base, &names, NULL, alphasort);
		for (int i = 0; i < n; i++) {
			const char *nm = names[i]->d_name;
			struct stat st;

			snprintf(tdir, sizeof(tdir), "%s/%s", base, nm);
			snprintf(log, sizeof(log), "%s/_delta_log", tdir);
			snprintf(rel, sizeof(rel), "%s/%s", kinds[k], nm);
			if (nm[0] != '.' && stat(log, &st) == 0 && S_ISDIR(st.st_mode))
				verify_table(tdir, rel, out);
			free(names[i]);
		}
		if (n >= 0)
			free(names);
	}
	return 0;
}


/* One value as JSON for NDJSON export. */
static json_t *json_value(enum cl_lake_kind k, sqlite3_stmt *st, int col)
{
	int t = sqlite3_column_type(st, col);
	if (t == SQLITE_NULL)
		return json_null();
	if (k == CL_LAKE_LONG && t == SQLITE_INTEGER)
		return json_integer(sqlite3_column_int64(st, col));
	if ((k == CL_LAKE_LONG || k == CL_LAKE_DOUBLE) && (t == SQLITE_INTEGER || t == SQLITE_FLOAT))
		return json_real(sqlite3_column_double(st, col));
	const char *s = (const char *)sqlite3_column_text(st, col);
	return json_stringn(s ? s : "", (size_t)sqlite3_column_bytes(st, col));
}

/* Writes the rows of `st` as CSV or NDJSON to `f`. */
static int write_text(FILE *f, const char *format, const struct cl_lake_cols *c, sqlite3 *db,
		      sqlite3_stmt *st, int64_t *rows)
{
	int step = SQLITE_DONE;

	if (strcmp(format, "csv") == 0) {
		for (int i = 0; i < c->n; i++) {
			if (i)
				fputc(',', f);
			cl_csv_write_field(f, c->name[i], strlen(c->name[i]));
		}
		fputs("\r\n", f);
	}
	while (!ferror(f) && (step = sqlite3_step(st)) == SQLITE_ROW) {
		if (format[0] == 'c') {
			for (int i = 0; i < c->n; i++) {
				const char *s = (const char *)sqlite3_column_text(st, i);
				if (i)
					fputc(',', f);
				if (s)
					cl_csv_write_field(f, s, (size_t)sqlite3_column_bytes(st, i));
			}
			fputs("\r\n", f);
		} else {
			json_t *o = json_object();
			for (int i = 0; o && i < c->n; i++)
				json_object_set_new(o, c->name[i], json_value(c->kind[i], st, i));
			int bad = !o || json_dumpf(o, f, JSON_COMPACT | JSON_PRESERVE_ORDER) != 0;
			json_decref(o);
			if (bad && !ferror(f))
				return cl_error_set(CL_ENOMEM, "no memory to write a row as JSON");
			fputc('\n', f);
		}
		(*rows)++;
	}
	if (ferror(f))
		return 0; /* the stream's own error, said when it closes */
	if (step != SQLITE_DONE)
		return cl_error_set(CL_EIO, "reading the table: %s", sqlite3_errmsg(db));
	return 0;
}

int cl_lake_export(sqlite3 *db, const char *table, const char *format, const char *out_path,
		   int64_t *rows)
{
	struct cl_lake_cols c;
	char sql[4096], name[64];
	int rc;

	*rows = 0;
	if (strcmp(format, "parquet") && strcmp(format, "csv") && strcmp(format, "ndjson"))
		return cl_error_set(CL_EINVAL, "unknown format '%.20s' (parquet, csv or ndjson)",
				    format);
	if ((rc = cl_lake_resolve(table, name, sizeof(name), NULL, 0)))
		return rc;
	/* never through a link, and never a device or FIFO replaced */
	if ((rc = cl_fs_check_replaceable(out_path)))
		return rc;
	if ((rc = cl_lake_read_columns(db, name, &c)))
		return rc;
	cl_lake_select(&c, NULL, name, sql, sizeof(sql));
	return cl_lake_export_query(db, sql, &c, format, out_path, rows);
}

int cl_lake_export_query(sqlite3 *db, const char *sql, const struct cl_lake_cols *cols,
			 const char *format, const char *out_path, int64_t *rows)
{
	const struct cl_lake_cols *c = cols;
	char tmp[PATH_MAX];
	sqlite3_stmt *st;
	int rc;

	*rows = 0;
	if (strcmp(format, "parquet") && strcmp(format, "csv") && strcmp(format, "ndjson"))
		return cl_error_set(CL_EINVAL, "unknown format '%.20s' (parquet, csv or ndjson)",
				    format);
	if ((rc = cl_fs_check_replaceable(out_path)))
		return rc;
	if (sqlite3_prepare_v2(db, sql, -1, &st, NULL) != SQLITE_OK)
		return cl_error_set(CL_EIO, "reading the table: %s", sqlite3_errmsg(db));
	/* written beside the target (same file system), readable by its owner
	 * only, and renamed over it: never a half file at out_path */
	if ((size_t)snprintf(tmp, sizeof(tmp), "%s.tmp-%u", out_path, randombytes_random()) >=
	    sizeof(tmp)) {
		sqlite3_finalize(st);
		return cl_error_set(CL_EINVAL, "path too long: '%.200s'", out_path);
	}
	if (strcmp(format, "parquet") == 0) {
		/* an empty table is still a file, with its schema. Row groups of
		 * 128 Ki rows (DuckDB writes 120 Ki), each encoded and written on
		 * a thread of its own while the store is read for the next: the
		 * reading and the compressing keep two CPUs busy. zstd level 1:
		 * on the silver observation table (ids, hashes, codes) it took
		 * 20% less CPU than level 3 and gave a file 1% smaller */
		struct cl_lake_opts o = { .enabled = 1, .codec = CL_PQ_CODEC_ZSTD, .zstd_level = 1,
					  .row_group_rows = 1u << 17, .checkpoint_interval = 10,
					  .background = 1 };
		struct cl_lake_file lf;
		int step = SQLITE_DONE;
		rc = cl_lake_file_open(&lf, tmp, 0600, c, &o);
		while (rc == 0 && (step = sqlite3_step(st)) == SQLITE_ROW)
			rc = cl_lake_file_row(&lf, st);
		if (rc == 0 && step != SQLITE_DONE)
			rc = cl_error_set(CL_EIO, "reading the table: %s", sqlite3_errmsg(db));
		if (rc == 0) {
			*rows = lf.rows;
			rc = cl_lake_file_close(&lf, NULL); /* synced; removed if it fails */
		} else if (lf.w) {
			cl_lake_file_abort(&lf);
		}
	} else {
		struct cl_fs_stream out;
		int fd;
		if ((rc = cl_fs_create(tmp, 0600, &fd))) {
			sqlite3_finalize(st);
			return rc;
		}
		rc = cl_fs_stream_open(&out, fd, tmp);
		if (rc == 0) {
			rc = write_text(out.f, format, c, db, st, rows);
			int wrc = cl_fs_stream_close(&out);
			rc = rc ? rc : wrc;
		}
		if (rc == 0)
			rc = cl_fs_datasync(fd, tmp);
		close(fd);
	}
	sqlite3_finalize(st);
	/* looked at again just before: what is there now is what is replaced */
	if (rc == 0)
		rc = cl_fs_check_replaceable(out_path);
	if (rc == 0)
		rc = cl_fs_rename(tmp, out_path);
	if (rc) {
		cl_fs.unlink(tmp);
		return rc;
	}
	return cl_fs_sync_parent(out_path);
}
