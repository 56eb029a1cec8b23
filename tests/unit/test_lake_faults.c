/*
 * Injected storage failures in the lake, through cl_fs as bronze's are.
 *
 * A sync of one silver table writes a Parquet data file, the commit JSON
 * (a temporary file linked to the next version's name, then an fsync of
 * _delta_log), a checkpoint and _last_checkpoint (every commit here). Each
 * write, fdatasync, fsync, open, rename and link it makes under the table
 * fails in turn — ENOSPC, EIO, or a short write followed by ENOSPC — and
 * after each failure:
 * - a failure before the commit's link leaves the table at its previous
 *   version, the sync fails and the change stays noted in lake_dirty;
 * - a failure of the log directory's fsync just after the link leaves the
 *   new version (whole: another writer may already build on it), and the
 *   sync still fails, so the change stays noted and is written again;
 * - a failure in the checkpoint or _last_checkpoint leaves the new version
 *   and the sync succeeds (a checkpoint only saves readers work);
 * - either way the table reads the same with carelake's reader and with
 *   `carelake table show`, every data file it names is whole, nothing
 *   half-written or temporary is left, every file under the table is named
 *   by some commit, _last_checkpoint names a checkpoint that exists, and
 *   the next sync succeeds with every row.
 * The failures are counted until a sync runs past the last call armed, so
 * every step of the commit is covered; the test checks that it was.
 *
 * Exports the same way: each failure leaves the old file at the target or,
 * past the rename, the whole new one; never a part, never a temporary.
 *
 * And silver's writer when another holds the store's write lock: the
 * error says the database is locked.
 *
 * Usage: test_lake_faults /path/to/carelake
 */
#include "cl_test.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <limits.h>
#include <sqlite3.h>
#include <sys/stat.h>

#include "batch/cl_batch.h"
#include "core/cl_error.h"
#include "core/cl_fs.h"
#include "core/cl_log.h"
#include "lake/cl_delta.h"
#include "lake/cl_lake.h"
#include "lake/cl_parquet.h"

static const char *bin;
static char dir[256];

#include "cli_helpers.h"

enum op { OP_WRITE, OP_DATASYNC, OP_FSYNC, OP_OPEN, OP_RENAME, OP_LINK };
static const char *const op_name[] = { "write", "fdatasync", "fsync", "open", "rename", "link" };

/* Where the failure came, in the life of a commit (or an export). */
enum phase {
	BEFORE,   /* before the commit's link (the export's rename) */
	LINKED,   /* the version is taken; its directory not yet synced */
	SYNCED,   /* the commit is durable: checkpoint and _last_checkpoint */
};

/* Steps of a commit, by the file a call is on. */
enum step { S_DATA, S_COMMIT, S_LOGDIR, S_CHECKPOINT, S_LAST, S_OTHER, NSTEPS };
static const char *const step_name[] = { "data file", "commit JSON", "log directory",
					  "checkpoint", "_last_checkpoint", "other" };

static struct {
	char under[PATH_MAX];     /* only calls on paths under this count */
	int op;                   /* the op armed, or -1 */
	int at;                   /* fail its at-th call under `under` */
	int calls;                /* calls of it so far */
	int err;                  /* errno of the failure */
	int short_write;          /* OP_WRITE: half written, then the next call fails */
	int pending_short;        /* a short write was made: fail the next write */
	int phase;                /* now */
	int export_mode;          /* the rename of the target is the commit point */
	int hit;                  /* the failure happened */
	int hit_phase;            /* when */
	char hit_path[PATH_MAX];  /* on what */
} F;

static int covered[6][NSTEPS]; /* op x step: a failure there was seen */

static void fd_path(int fd, char *buf, size_t cap)
{
	char link[64];
	ssize_t n;

	snprintf(link, sizeof(link), "/proc/self/fd/%d", fd);
	n = readlink(link, buf, cap - 1);
	buf[n > 0 ? n : 0] = '\0';
}

static int under(const char *path)
{
	return strncmp(path, F.under, strlen(F.under)) == 0;
}

/* Whether this call on `path` is the one to fail. */
static int should_fail(int op, const char *path)
{
	if (F.op != op || F.hit || !under(path))
		return 0;
	if (F.calls++ != F.at)
		return 0;
	F.hit = 1;
	F.hit_phase = F.phase;
	snprintf(F.hit_path, sizeof(F.hit_path), "%s", path);
	return 1;
}

static ssize_t faulty_write(int fd, const void *buf, size_t n)
{
	char path[PATH_MAX];

	fd_path(fd, path, sizeof(path));
	if (F.pending_short) {
		F.pending_short = 0;
		errno = ENOSPC;
		return -1;
	}
	if (should_fail(OP_WRITE, path)) {
		if (F.short_write && n > 1) {
			F.pending_short = 1;
			return write(fd, buf, n / 2);
		}
		errno = F.err;
		return -1;
	}
	return write(fd, buf, n);
}

static int faulty_fdatasync(int fd)
{
	char path[PATH_MAX];

	fd_path(fd, path, sizeof(path));
	if (should_fail(OP_DATASYNC, path)) {
		errno = F.err;
		return -1;
	}
	return fdatasync(fd);
}

static int faulty_fsync(int fd)
{
	char path[PATH_MAX];
	size_t n = strlen(F.under);

	fd_path(fd, path, sizeof(path));
	if (should_fail(OP_FSYNC, path)) {
		errno = F.err;
		return -1;
	}
	if (fsync(fd) != 0)
		return -1;
	/* the log directory synced after the link: the commit is durable */
	if (F.phase == LINKED && under(path) && strcmp(path + n, "/_delta_log") == 0)
		F.phase = SYNCED;
	return 0;
}

static int faulty_open(const char *path, int flags, mode_t mode)
{
	if (should_fail(OP_OPEN, path)) {
		errno = F.err;
		return -1;
	}
	return open(path, flags, mode);
}

static int faulty_rename(const char *from, const char *to)
{
	if (should_fail(OP_RENAME, to)) {
		errno = F.err;
		return -1;
	}
	if (rename(from, to) != 0)
		return -1;
	if (F.export_mode && under(to) && F.phase == BEFORE)
		F.phase = LINKED;
	return 0;
}

static int faulty_link(const char *from, const char *to)
{
	if (should_fail(OP_LINK, to)) {
		errno = F.err;
		return -1;
	}
	if (link(from, to) != 0)
		return -1;
	if (under(to) && F.phase == BEFORE)
		F.phase = LINKED;
	return 0;
}

static void arm(const char *where, int op, int at, int err, int short_write)
{
	memset(&F, 0, sizeof(F));
	snprintf(F.under, sizeof(F.under), "%s", where);
	F.op = op;
	F.at = at;
	F.err = err;
	F.short_write = short_write;
	cl_fs.write = faulty_write;
	cl_fs.fdatasync = faulty_fdatasync;
	cl_fs.fsync = faulty_fsync;
	cl_fs.open = faulty_open;
	cl_fs.rename = faulty_rename;
	cl_fs.link = faulty_link;
}

static void disarm(void)
{
	cl_fs_reset();
	F.op = -1;
}

static enum step step_of(const char *path)
{
	const char *log = strstr(path, "/_delta_log");
	if (!log)
		return strstr(path, ".parquet") ? S_DATA : S_OTHER;
	if (strcmp(log, "/_delta_log") == 0)
		return S_LOGDIR;
	if (strstr(log, "_last_checkpoint"))
		return S_LAST;
	if (strstr(log, ".checkpoint.parquet"))
		return S_CHECKPOINT;
	if (strstr(log, ".json"))
		return S_COMMIT;
	return S_OTHER;
}

/* ---- the table -------------------------------------------------------- */

static struct cl_batch *batch;
static sqlite3 *db;
static char data[300], tdir[PATH_MAX];
static int nrows;                     /* rows in organization */
static int64_t version;               /* the Delta table's latest version */
static const struct cl_lake_opts lake_opts = { .enabled = 1, .codec = CL_PQ_CODEC_ZSTD,
						.zstd_level = 3, .row_group_rows = 1u << 20,
						.checkpoint_interval = 1 };

static void exec_sql(const char *sql)
{
	char *err = NULL;
	if (sqlite3_exec(db, sql, NULL, NULL, &err) != SQLITE_OK)
		fail_msg("%s: %s", sql, err);
}

/* One more organization row, noted as a change of the table. */
static void add_row(void)
{
	char sql[600];
	snprintf(sql, sizeof(sql), "INSERT INTO organization(id, name, city, state, postal_code,"
		 " _source, _file_id, _run_id, _hash, _loaded_us) VALUES ('org-%04d',"
		 " 'Ward %d', 'Leeds', 'WY', 'LS1', 'test', 1, 1, 'h%d', %d);"
		 "INSERT OR IGNORE INTO lake_dirty(table_name, part) VALUES ('organization', '')",
		 nrows, nrows, nrows, nrows);
	exec_sql(sql);
	nrows++;
}

static int64_t count_sql(const char *sql)
{
	sqlite3_stmt *st;
	int64_t n = -1;
	assert_int_equal(sqlite3_prepare_v2(db, sql, -1, &st, NULL), SQLITE_OK);
	if (sqlite3_step(st) == SQLITE_ROW)
		n = sqlite3_column_int64(st, 0);
	sqlite3_finalize(st);
	return n;
}

/* The ids the table holds, as carelake's reader reads them: an object of
 * id -> true. Every file of the version opens whole, with the rows its
 * statistics say. */
static json_t *read_ids(int64_t *v)
{
	struct cl_delta_snapshot *s;
	json_t *ids = json_object();
	int rc = cl_delta_snapshot_load(tdir, CL_DELTA_LATEST, CL_DELTA_NO_TIME, &s);
	if (rc)
		fail_msg("the table does not read: %s", cl_error_detail());
	*v = s->version;
	for (size_t i = 0; i < s->nfiles; i++) {
		char path[PATH_MAX * 2];
		struct cl_pq_file *f;
		snprintf(path, sizeof(path), "%s/%s", tdir, s->files[i].path);
		if (cl_pq_open(&f, path) != CL_OK)
			fail_msg("version %lld names %s, which does not read: %s", (long long)s->version,
				 s->files[i].path, cl_error_detail());
		assert_int_equal(cl_pq_num_rows(f), s->files[i].num_records);
		for (size_t rg = 0; rg < cl_pq_num_row_groups(f); rg++) {
			json_t *rows = json_array(), *row;
			size_t k;
			assert_int_equal(cl_pq_read_records(f, rg, rows), CL_OK);
			json_array_foreach(rows, k, row)
				json_object_set_new(ids, json_string_value(json_object_get(row, "id")),
						    json_true());
			json_decref(rows);
		}
		cl_pq_close(f);
	}
	cl_delta_snapshot_free(s);
	return ids;
}

/* The ids `carelake table show` prints. */
static json_t *shown_ids(void)
{
	struct result r = run(NULL, "table", "show", tdir, "--format", "json", NULL);
	json_t *ids = json_object(), *rows, *row;
	size_t k;
	if (r.status != 0)
		fail_msg("table show: %s", r.err);
	rows = json_loads(r.out, 0, NULL);
	assert_true(json_is_array(rows));
	json_array_foreach(rows, k, row)
		json_object_set_new(ids, json_string_value(json_object_get(row, "id")), json_true());
	json_decref(rows);
	done(&r);
	return ids;
}

static json_t *ids_upto(int n)
{
	json_t *ids = json_object();
	for (int i = 0; i < n; i++) {
		char id[32];
		snprintf(id, sizeof(id), "org-%04d", i);
		json_object_set_new(ids, id, json_true());
	}
	return ids;
}

/* Every add path of every commit in the log, read here with jansson. */
static json_t *logged_paths(void)
{
	char log[PATH_MAX + 16];
	json_t *paths = json_object();
	struct dirent *de;
	DIR *d;

	snprintf(log, sizeof(log), "%s/_delta_log", tdir);
	assert_non_null(d = opendir(log));
	while ((de = readdir(d))) {
		char file[PATH_MAX * 2], line[65536];
		FILE *f;
		if (strlen(de->d_name) != 25 || strcmp(de->d_name + 20, ".json") != 0)
			continue;
		snprintf(file, sizeof(file), "%s/%s", log, de->d_name);
		assert_non_null(f = fopen(file, "r"));
		while (fgets(line, sizeof(line), f)) {
			json_t *a = json_loads(line, 0, NULL);
			const char *p = json_string_value(json_object_get(json_object_get(a, "add"),
									  "path"));
			if (p)
				json_object_set_new(paths, p, json_true());
			json_decref(a);
		}
		fclose(f);
	}
	closedir(d);
	return paths;
}

/* Files under rel (relative to the table) not named by any commit. */
static void check_data_files(const char *rel, json_t *logged)
{
	char path[PATH_MAX * 2];
	struct dirent *de;
	DIR *d;

	snprintf(path, sizeof(path), "%s%s%s", tdir, rel[0] ? "/" : "", rel);
	assert_non_null(d = opendir(path));
	while ((de = readdir(d))) {
		char sub[PATH_MAX];
		if (strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0 ||
		    strcmp(de->d_name, "_delta_log") == 0)
			continue;
		snprintf(sub, sizeof(sub), "%s%s%s", rel, rel[0] ? "/" : "", de->d_name);
		if (de->d_type == DT_DIR)
			check_data_files(sub, logged);
		else if (!json_object_get(logged, sub))
			fail_msg("%s is in the table's directory but in no commit", sub);
	}
	closedir(d);
}

/* Nothing half-written, temporary or unnamed is left. */
static void check_no_debris(int64_t latest)
{
	char log[PATH_MAX + 16], file[PATH_MAX * 2];
	struct dirent *de;
	DIR *d;

	snprintf(log, sizeof(log), "%s/_delta_log", tdir);
	assert_non_null(d = opendir(log));
	while ((de = readdir(d))) {
		const char *n = de->d_name;
		size_t len = strlen(n);
		if (strcmp(n, ".") == 0 || strcmp(n, "..") == 0 || strcmp(n, "_last_checkpoint") == 0)
			continue;
		if (!(len == 25 && strcmp(n + 20, ".json") == 0) &&
		    !(len == 39 && strcmp(n + 20, ".checkpoint.parquet") == 0))
			fail_msg("_delta_log holds %s", n);
		if (len == 39) { /* a checkpoint is whole */
			struct cl_pq_file *f;
			snprintf(file, sizeof(file), "%s/%s", log, n);
			if (cl_pq_open(&f, file) != CL_OK)
				fail_msg("checkpoint %s does not read: %s", n, cl_error_detail());
			cl_pq_close(f);
			assert_true(atoll(n) <= latest);
		}
	}
	closedir(d);
	/* _last_checkpoint names a checkpoint that is there, with its size */
	snprintf(file, sizeof(file), "%s/_last_checkpoint", log);
	json_t *lc = json_load_file(file, 0, NULL);
	if (lc) {
		struct stat st;
		json_int_t v = json_integer_value(json_object_get(lc, "version"));
		snprintf(file, sizeof(file), "%s/%020lld.checkpoint.parquet", log, (long long)v);
		assert_int_equal(stat(file, &st), 0);
		assert_int_equal(json_integer_value(json_object_get(lc, "sizeInBytes")), st.st_size);
		json_decref(lc);
	}
	json_t *logged = logged_paths();
	check_data_files("", logged);
	json_decref(logged);
}

/* The table holds exactly the first n rows at version v, to both readers. */
static void check_table(int64_t want_version, int n)
{
	int64_t v;
	json_t *want = ids_upto(n), *ours = read_ids(&v), *theirs = shown_ids();
	if (v != want_version)
		fail_msg("the table is at version %lld, not %lld", (long long)v,
			 (long long)want_version);
	if (!json_equal(ours, want) || !json_equal(theirs, want))
		fail_msg("version %lld holds %zu rows (table show: %zu), not the %d expected",
			 (long long)v, json_object_size(ours), json_object_size(theirs), n);
	json_decref(want);
	json_decref(ours);
	json_decref(theirs);
	check_no_debris(v);
}

static int has_checkpoint(int64_t v)
{
	char file[PATH_MAX * 2];
	struct stat st;
	snprintf(file, sizeof(file), "%s/_delta_log/%020lld.checkpoint.parquet", tdir, (long long)v);
	return stat(file, &st) == 0;
}

static int sync_lake(void)
{
	struct cl_lake_summary sum;
	return cl_lake_sync(db, data, &lake_opts, &sum);
}

static int setup(void **state)
{
	(void)state;
	cl_log_threshold = -1; /* failures are the point here */
	snprintf(data, sizeof(data), "%s/data", dir);
	assert_int_equal(cl_batch_open(data, &batch), CL_OK);
	db = cl_batch_db(batch);
	exec_sql("PRAGMA synchronous = OFF"); /* the store's own durability is not tested here */
	assert_non_null(realpath(data, tdir));
	strcat(tdir, "/silver/organization");
	nrows = 0;
	add_row();
	assert_int_equal(sync_lake(), CL_OK); /* every table, created */
	int64_t v;
	json_t *ids = read_ids(&v);
	version = v;
	assert_int_equal(json_object_size(ids), 1);
	json_decref(ids);
	return 0;
}

static int teardown(void **state)
{
	(void)state;
	disarm();
	cl_batch_close(batch);
	cl_test_rmtree(data);
	return 0;
}

/* Fails the at-th `op` call of a sync, for every at until one passes. */
static void run_sync_faults(int op, int err, int short_write)
{
	int at;
	for (at = 0;; at++) {
		add_row();
		arm(tdir, op, at, err, short_write);
		int rc = sync_lake();
		disarm();
		if (!F.hit) {
			/* past the last call: the sync ran clean */
			assert_int_equal(rc, CL_OK);
			check_table(++version, nrows);
			assert_true(has_checkpoint(version));
			break;
		}
		enum step step = step_of(F.hit_path);
		covered[op][step] = 1;
		if (F.hit_phase == BEFORE) {
			if (rc == CL_OK)
				fail_msg("%s %d failed on %s and the sync succeeded", op_name[op], at,
					 F.hit_path);
			assert_true(strlen(cl_error_detail()) > 0);
			check_table(version, nrows - 1);
		} else if (F.hit_phase == LINKED) {
			assert_int_not_equal(rc, CL_OK); /* not durable: said so */
			assert_int_equal(step, S_LOGDIR);
			check_table(++version, nrows);
		} else {
			if (rc != CL_OK)
				fail_msg("a %s failure in the %s failed the sync: %s", op_name[op],
					 step_name[step], cl_error_detail());
			check_table(++version, nrows);
			/* a checkpoint can be written after one failed (without it the
			 * next sync would replay one more commit, and this count of
			 * calls would follow the checkpoint's read for ever) */
			if (!has_checkpoint(version))
				assert_int_equal(cl_delta_checkpoint(tdir, version), CL_OK);
		}
		if (rc != CL_OK) /* the change is still noted */
			assert_true(count_sql("SELECT count(*) FROM lake_dirty WHERE table_name ="
					      " 'organization'") >= 1);
		/* and the next commit goes through */
		assert_int_equal(sync_lake(), CL_OK);
		if (rc != CL_OK) {
			check_table(++version, nrows);
			assert_true(has_checkpoint(version));
		}
		assert_int_equal(count_sql("SELECT count(*) FROM lake_dirty WHERE table_name ="
					   " 'organization'"), 0);
	}
	assert_true(at > 0);
}

static void test_sync_write_enospc(void **state)
{
	(void)state;
	run_sync_faults(OP_WRITE, ENOSPC, 0);
	for (int s = S_DATA; s <= S_LAST; s++)
		if (s != S_LOGDIR && !covered[OP_WRITE][s])
			fail_msg("no write of the %s failed", step_name[s]);
}

static void test_sync_short_write(void **state)
{
	(void)state;
	run_sync_faults(OP_WRITE, ENOSPC, 1);
}

static void test_sync_fdatasync(void **state)
{
	(void)state;
	run_sync_faults(OP_DATASYNC, EIO, 0);
	for (int s = S_DATA; s <= S_LAST; s++)
		if (s != S_LOGDIR && !covered[OP_DATASYNC][s])
			fail_msg("no fdatasync of the %s failed", step_name[s]);
}

static void test_sync_fsync_dir(void **state)
{
	(void)state;
	run_sync_faults(OP_FSYNC, EIO, 0);
	assert_true(covered[OP_FSYNC][S_LOGDIR]);
}

static void test_sync_open(void **state)
{
	(void)state;
	run_sync_faults(OP_OPEN, ENOSPC, 0);
	for (int s = S_DATA; s <= S_LAST; s++)
		if (s != S_LOGDIR && !covered[OP_OPEN][s])
			fail_msg("no open of the %s failed", step_name[s]);
}

static void test_sync_rename_link(void **state)
{
	(void)state;
	run_sync_faults(OP_LINK, ENOSPC, 0);
	assert_true(covered[OP_LINK][S_COMMIT]);
	run_sync_faults(OP_RENAME, EIO, 0);
	assert_true(covered[OP_RENAME][S_CHECKPOINT]);
	assert_true(covered[OP_RENAME][S_LAST]);
}

/* ---- exports ---------------------------------------------------------- */

static const char old_text[] = "the previous export\n";

/* The export at `out` is the whole table in `format`. */
static void check_export(const char *out, const char *format)
{
	struct stat st;
	assert_int_equal(stat(out, &st), 0);
	assert_int_equal(st.st_mode & 07777, 0600);
	if (strcmp(format, "parquet") == 0) {
		struct cl_pq_file *f;
		if (cl_pq_open(&f, out) != CL_OK)
			fail_msg("the export does not read: %s", cl_error_detail());
		assert_int_equal(cl_pq_num_rows(f), nrows);
		cl_pq_close(f);
		return;
	}
	char *text = slurp(out);
	int lines = 0;
	for (char *p = text; *p; p++)
		lines += *p == '\n';
	assert_int_equal(lines, nrows + (format[0] == 'c' ? 1 : 0));
	assert_int_equal(text[strlen(text) - 1], '\n');
	free(text);
}

/* The export directory holds `out` alone. */
static void check_only(const char *exdir)
{
	struct dirent *de;
	DIR *d;
	assert_non_null(d = opendir(exdir));
	while ((de = readdir(d)))
		if (de->d_name[0] != '.' && strcmp(de->d_name, "out") != 0)
			fail_msg("the export left %s", de->d_name);
	closedir(d);
}

static void run_export_faults(const char *format, int op, int err, int short_write)
{
	char exdir[PATH_MAX], out[PATH_MAX * 2];
	int64_t rows;
	int at;

	snprintf(out, sizeof(out), "%s/export", dir);
	mkdir(out, 0700);
	assert_non_null(realpath(out, exdir));
	snprintf(out, sizeof(out), "%s/out", exdir);
	for (at = 0;; at++) {
		FILE *f = fopen(out, "w");
		fputs(old_text, f);
		fclose(f);
		chmod(out, 0644);
		arm(exdir, op, at, err, short_write);
		F.export_mode = 1;
		int rc = cl_lake_export(db, "organization", format, out, &rows);
		disarm();
		check_only(exdir);
		if (!F.hit) {
			assert_int_equal(rc, CL_OK);
			assert_int_equal(rows, nrows);
			check_export(out, format);
			break;
		}
		assert_int_not_equal(rc, CL_OK);
		assert_true(strlen(cl_error_detail()) > 0);
		if (F.hit_phase == BEFORE) {
			char *text = slurp(out);
			assert_string_equal(text, old_text); /* untouched */
			free(text);
		} else {
			check_export(out, format); /* renamed whole; its directory not synced */
		}
	}
	assert_true(at > 0);
}

static void test_export_faults(void **state)
{
	static const char *const formats[] = { "parquet", "csv", "ndjson" };
	(void)state;
	for (int i = 0; i < 40; i++)
		add_row();
	assert_int_equal(sync_lake(), CL_OK);
	for (int i = 0; i < 3; i++) {
		run_export_faults(formats[i], OP_WRITE, ENOSPC, 0);
		run_export_faults(formats[i], OP_WRITE, ENOSPC, 1);
		run_export_faults(formats[i], OP_DATASYNC, EIO, 0);
		run_export_faults(formats[i], OP_FSYNC, EIO, 0);
		run_export_faults(formats[i], OP_OPEN, EMFILE, 0);
		run_export_faults(formats[i], OP_RENAME, EIO, 0);
	}
}

/* What `carelake status` and GET /api/v1/status say of the Delta tables
 * behind carelake.db (it once crashed on any: a key missing in a pack). */
static void test_pending_tables(void **state)
{
	sqlite3 *mem;
	json_t *j;

	(void)state;
	assert_int_equal(sqlite3_open(":memory:", &mem), SQLITE_OK);
	j = cl_lake_pending_tables(mem);
	assert_int_equal(json_array_size(j), 0); /* no notes table yet */
	json_decref(j);
	assert_int_equal(sqlite3_exec(mem, "CREATE TABLE lake_dirty(table_name TEXT, part TEXT,"
				      " claimed INTEGER);"
				      "INSERT INTO lake_dirty VALUES ('observation', 'a', 0),"
				      " ('observation', 'b', 0), ('patient', '', 1);",
				      NULL, NULL, NULL), SQLITE_OK);
	j = cl_lake_pending_tables(mem);
	assert_int_equal(json_array_size(j), 2);
	assert_string_equal(json_string_value(json_object_get(json_array_get(j, 0), "table_name")),
			    "observation");
	assert_int_equal(json_integer_value(json_object_get(json_array_get(j, 0), "partitions")), 2);
	assert_int_equal(json_integer_value(json_object_get(json_array_get(j, 1), "partitions")), 1);
	json_decref(j);
	sqlite3_close(mem);
}

/* Silver's writer finding the store's write lock held past its busy
 * timeout (the serving store's writer in a long transaction): it fails
 * saying the database is locked, not with the rollback of a transaction
 * that never began. */
static void test_busy_store_said(void **state)
{
	char path[400];
	uint64_t kept = 0;
	sqlite3 *other;
	int more = 0;

	(void)state;
	sqlite3_busy_timeout(db, 100);
	snprintf(path, sizeof(path), "%s/carelake.db", data);
	assert_int_equal(sqlite3_open(path, &other), SQLITE_OK);
	assert_int_equal(sqlite3_exec(other, "BEGIN IMMEDIATE", NULL, NULL, NULL), SQLITE_OK);
	assert_int_not_equal(cl_batch_serve_fhir(batch, 100, &kept, &more), CL_OK);
	if (!strstr(cl_error_detail(), "locked") || strstr(cl_error_detail(), "rollback"))
		fail_msg("it said: %s", cl_error_detail());
	sqlite3_exec(other, "ROLLBACK", NULL, NULL, NULL);
	sqlite3_close(other);
	assert_int_equal(cl_batch_serve_fhir(batch, 100, &kept, &more), CL_OK);
}

int main(int argc, char **argv)
{
	if (argc < 2) {
		fprintf(stderr, "usage: %s CARELAKE\n", argv[0]);
		return 2;
	}
	bin = argv[1];
	cl_test_tmpdir(dir, sizeof(dir));
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_sync_write_enospc, setup, teardown),
		cmocka_unit_test_setup_teardown(test_sync_short_write, setup, teardown),
		cmocka_unit_test_setup_teardown(test_sync_fdatasync, setup, teardown),
		cmocka_unit_test_setup_teardown(test_sync_fsync_dir, setup, teardown),
		cmocka_unit_test_setup_teardown(test_sync_open, setup, teardown),
		cmocka_unit_test_setup_teardown(test_sync_rename_link, setup, teardown),
		cmocka_unit_test_setup_teardown(test_export_faults, setup, teardown),
		cmocka_unit_test(test_pending_tables),
		cmocka_unit_test_setup_teardown(test_busy_store_said, setup, teardown),
	};
	int failed = cmocka_run_group_tests(tests, NULL, NULL);
	if (!failed)
		cl_test_rmtree(dir);
	return failed;
}
