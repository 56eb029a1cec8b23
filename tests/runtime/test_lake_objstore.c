/*
 * The lake and the bronze archive on object storage, against the real
 * emulators from npm (tests/objstore): Azurite (Azure Blob, which does
 * conditional creates) and s3rver (S3, which does not).
 *
 * - Azurite: two loads refined into Delta tables at lake.uri; table
 *   history and time travel on the URI; optimize and vacuum; verify;
 *   DuckDB reading a table downloaded from the store, row for row with
 *   carelake.db; nothing written under the data directory's silver/.
 * - Two processes committing to one table at once: every commit gets its
 *   own version, none lost (conditional creates).
 * - Faults (a proxy answering 500s and cutting an upload): the load still
 *   lands, whole; a store down for good fails the lake sync, loses nothing
 *   (the partitions stay pending) and the next refine catches up.
 * - s3rver: writing is refused, saying why, unless lake.single_writer.
 * - The bronze archive: sealed segments archived and verified, a lost
 *   segment restored byte for byte, a damaged archive copy reported.
 *
 * - Another engine's table (shared data) uploaded, then compacted and
 *   vacuumed in the store: the same rows before and after.
 *
 * usage: runtime_lake_objstore CARELAKE TESTS_OBJSTORE_DIR DUCK_MJS SHARED_DATA
 */
#include "cl_test.h"

#include <dirent.h>
#include <jansson.h>
#include <sqlite3.h>
#include <spawn.h>
#include <sys/stat.h>
#include <sys/wait.h>

#include "core/cl_config.h"
#include "core/cl_error.h"
#include "lake/cl_delta.h"
#include "lake/cl_lake_loc.h"
#include "objstore/cl_objstore.h"

static const char *bin, *duck, *pkg_dir, *shared;
static char dir[256], tmp_dir[256];

#include "cli_helpers.h"
#include "duck_helpers.h"
#include "objstore_emulators.h"

#define AZ_KEY "Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw=="

static int az_port, s3_port;
static pid_t az_pid, s3_pid;
static struct proxy az_proxy;

/* The emulators' credentials, as their own tools would read them; the
 * Azure endpoint through the fault proxy. */
static void set_env(void)
{
	char cs[512], ep[64];
	snprintf(cs, sizeof(cs), "DefaultEndpointsProtocol=http;AccountName=devstoreaccount1;"
		 "AccountKey=%s;BlobEndpoint=http://127.0.0.1:%d/devstoreaccount1;", AZ_KEY,
		 az_proxy.port);
	setenv("AZURE_STORAGE_CONNECTION_STRING", cs, 1);
	snprintf(ep, sizeof(ep), "http://127.0.0.1:%d", s3_port);
	setenv("AWS_ENDPOINT_URL", ep, 1);
	setenv("AWS_ACCESS_KEY_ID", "S3RVER", 1);
	setenv("AWS_SECRET_ACCESS_KEY", "S3RVER", 1);
	setenv("AWS_REGION", "us-east-1", 1);
}

static int setup(void **state)
{
	(void)state;
	cl_test_tmpdir(tmp_dir, sizeof(tmp_dir));
	snprintf(dir, sizeof(dir), "%s", tmp_dir);
	az_port = free_port();
	s3_port = free_port();
	az_pid = start_azurite(az_port);
	s3_pid = start_s3rver(s3_port);
	proxy_start(&az_proxy, az_port);
	set_env();
	return 0;
}

static int teardown(void **state)
{
	(void)state;
	proxy_stop(&az_proxy);
	stop(az_pid);
	stop(s3_pid);
	cl_test_rmtree(tmp_dir);
	return 0;
}

/* ---- helpers ---------------------------------------------------------- */

static struct result cl(const char *data, const char *uri, const char *a1, const char *a2,
			const char *a3, const char *a4)
{
	char d[300], set[400];
	snprintf(d, sizeof(d), "--data=%s", data);
	snprintf(set, sizeof(set), "lake.uri=%s", uri);
	const char *argv[16] = { a1, d, "--set", set, "--set", "objstore.timeout=5s",
				 "--set", "objstore.retry_backoff=20ms" };
	int n = 8;
	if (a2)
		argv[n++] = a2;
	if (a3)
		argv[n++] = a3;
	if (a4)
		argv[n++] = a4;
	argv[n] = NULL;
	return run_argv(NULL, argv);
}

static void ok(struct result r, const char *what)
{
	if (r.status != 0)
		fail_msg("%s: exit %d\n%s\n%s", what, r.status, r.out, r.err);
	done(&r);
}

static int64_t sqlite_count(const char *data, const char *table)
{
	char path[400], sql[200];
	sqlite3 *db;
	sqlite3_stmt *st;
	snprintf(path, sizeof(path), "%s/carelake.db", data);
	assert_int_equal(sqlite3_open_v2(path, &db, SQLITE_OPEN_READONLY, NULL), SQLITE_OK);
	snprintf(sql, sizeof(sql), "SELECT count(*) FROM %s", table);
	assert_int_equal(sqlite3_prepare_v2(db, sql, -1, &st, NULL), SQLITE_OK);
	assert_int_equal(sqlite3_step(st), SQLITE_ROW);
	int64_t n = sqlite3_column_int64(st, 0);
	sqlite3_finalize(st);
	sqlite3_close(db);
	return n;
}

/* The rows `table show --format json` prints of the table at uri/table. */
static int64_t shown_rows(const char *data, const char *uri, const char *table,
			  int64_t version)
{
	char t[600], d[320], set[400], vs[32];
	snprintf(t, sizeof(t), "%s/%s", uri, table);
	snprintf(d, sizeof(d), "--data=%s", data);
	snprintf(set, sizeof(set), "lake.uri=%s", uri);
	snprintf(vs, sizeof(vs), "--version=%lld", (long long)version);
	const char *argv[] = { "table", "show", t, d, "--set", set, "--format", "json",
			       version >= 0 ? vs : NULL, NULL };
	struct result r = run_argv(NULL, argv);
	if (r.status != 0)
		fail_msg("table show %s: %s", t, r.err);
	json_t *rows = json_loads(r.out, 0, NULL);
	if (!json_is_array(rows))
		fail_msg("table show %s printed no JSON array", t);
	int64_t n = (int64_t)json_array_size(rows);
	json_decref(rows);
	done(&r);
	return n;
}

/* The latest version `table history --json` lists. */
static int64_t latest_version(const char *data, const char *uri, const char *table)
{
	char t[600];
	snprintf(t, sizeof(t), "%s/%s", uri, table);
	struct result r = cl(data, uri, "table", "history", t, "--json");
	if (r.status != 0)
		fail_msg("table history %s: %s", t, r.err);
	json_t *h = json_loads(r.out, 0, NULL), *c;
	size_t i;
	int64_t v = -1;
	assert_true(json_is_array(h));
	json_array_foreach(h, i, c)
		if (json_integer_value(json_object_get(c, "version")) > v)
			v = json_integer_value(json_object_get(c, "version"));
	json_decref(h);
	done(&r);
	return v;
}

struct dl {
	struct cl_objstore *os;
	const char *to;
};

static int download_one(void *arg, const struct cl_objstore_info *info)
{
	struct dl *d = arg;
	char path[1400], sub[1400];
	snprintf(path, sizeof(path), "%s/%s", d->to, info->key);
	snprintf(sub, sizeof(sub), "%s", path);
	for (char *s = sub + strlen(d->to) + 1; (s = strchr(s, '/')); s++) {
		*s = 0;
		mkdir(sub, 0700);
		*s = '/';
	}
	assert_int_equal(cl_objstore_get_file(d->os, info->key, path), CL_OK);
	return 0;
}

/* Downloads everything under `uri` into `to`, as a user would before
 * pointing a local engine at it. */
static void download(const char *uri, const char *to)
{
	struct cl_objstore *os;
	mkdir(to, 0700);
	assert_int_equal(cl_objstore_open(uri, NULL, &os), CL_OK);
	struct dl d = { os, to };
	assert_int_equal(cl_objstore_list(os, "", download_one, &d), CL_OK);
	cl_objstore_close(os);
}

/* ---- the lake on Azurite ---------------------------------------------- */

static void test_lake_azurite(void **state)
{
	(void)state;
	char data[300], gen[300], uri[] = "az://lake/hospital";
	snprintf(data, sizeof(data), "%s/a", tmp_dir);
	snprintf(gen, sizeof(gen), "%s/gen", tmp_dir);
	ok(run(NULL, "generate", "--out", gen, "--patients", "12", "--seed", "7", NULL),
	   "generate");

	/* two loads: two versions of the tables they touch */
	char fhir[400];
	snprintf(fhir, sizeof(fhir), "%s/fhir", gen);
	ok(cl(data, uri, "ingest", fhir, NULL, NULL), "ingest fhir");
	char staff[400];
	snprintf(staff, sizeof(staff), "%s/staff.csv", gen);
	ok(cl(data, uri, "ingest", staff, NULL, NULL), "ingest staff");
	char bookings[400];
	snprintf(bookings, sizeof(bookings), "%s/bookings.csv", gen);
	ok(cl(data, uri, "ingest", bookings, NULL, NULL), "ingest bookings");

	/* the tables are in the store, not under the data directory */
	char local[400];
	struct stat sb;
	snprintf(local, sizeof(local), "%s/silver", data);
	assert_int_not_equal(stat(local, &sb), 0);

	/* history and time travel on the URI */
	struct result r = cl(data, uri, "table", "history", "az://lake/hospital/silver/encounter",
			     NULL);
	if (r.status != 0)
		fail_msg("table history: %s", r.err);
	assert_non_null(strstr(r.out, "WRITE"));
	done(&r);
	int64_t patients = sqlite_count(data, "patient");
	assert_true(patients >= 12);
	assert_int_equal(shown_rows(data, uri, "silver/patient", -1), patients);
	int64_t staff_rows = sqlite_count(data, "staff");
	assert_true(staff_rows > 0);
	assert_int_equal(shown_rows(data, uri, "silver/staff", -1), staff_rows);
	int64_t staff_v = latest_version(data, uri, "silver/staff");

	/* a correction: a new version; version 0 still reads as it was */
	char csv[400];
	snprintf(csv, sizeof(csv), "%s/more-staff.csv", tmp_dir);
	FILE *f = fopen(csv, "w");
	char *head = slurp(staff);
	*strchr(head, '\n') = 0;
	fprintf(f, "%s\n", head);
	free(head);
	fclose(f);
	/* the header alone would load nothing: copy two rows under new ids */
	{
		char *all = slurp(staff);
		char *l1 = strchr(all, '\n') + 1, *l2 = strchr(l1, '\n') + 1, *l3 = strchr(l2, '\n');
		f = fopen(csv, "a");
		fprintf(f, "x%.*s", (int)(l2 - l1), l1);
		fprintf(f, "y%.*s\n", (int)(l3 - l2), l2);
		fclose(f);
		free(all);
	}
	ok(cl(data, uri, "ingest", csv, NULL, NULL), "ingest more staff");
	assert_int_equal(sqlite_count(data, "staff"), staff_rows + 2);
	assert_int_equal(latest_version(data, uri, "silver/staff"), staff_v + 1);
	assert_int_equal(shown_rows(data, uri, "silver/staff", -1), staff_rows + 2);
	assert_int_equal(shown_rows(data, uri, "silver/staff", staff_v), staff_rows);

	/* optimize runs over every table in the store; vacuum deletes the
	 * staff files the later versions removed; every table still verifies */
	r = cl(data, uri, "optimize", NULL, NULL, NULL);
	if (r.status != 0)
		fail_msg("optimize: %s", r.err);
	assert_non_null(strstr(r.out, "compacted"));
	done(&r);
	r = cl(data, uri, "vacuum", "--table", "staff", "--retention=0");
	if (r.status != 0)
		fail_msg("vacuum: %s", r.err);
	long long deleted = 0;
	assert_int_equal(sscanf(r.out, "deleted %lld file", &deleted), 1);
	assert_true(deleted >= 1);
	done(&r);
	assert_int_equal(shown_rows(data, uri, "silver/staff", -1), staff_rows + 2);
	/* the version whose files vacuum deleted no longer reads, and says so */
	char vs[32];
	snprintf(vs, sizeof(vs), "--version=%lld", (long long)staff_v);
	r = cl(data, uri, "table", "show", "az://lake/hospital/silver/staff", vs);
	assert_int_not_equal(r.status, 0);
	done(&r);
	r = cl(data, uri, "verify", "--json", NULL, NULL);
	if (r.status != 0)
		fail_msg("verify: %s %s", r.out, r.err);
	json_t *v = json_loads(r.out, 0, NULL);
	assert_non_null(v);
	assert_true(json_integer_value(json_object_get(v, "lake_tables")) >= 4);
	assert_int_equal(json_integer_value(json_object_get(v, "lake_problems")), 0);
	json_decref(v);
	done(&r);

	/* status says where the lake is */
	r = cl(data, uri, "status", "--json", NULL, NULL);
	if (r.status != 0)
		fail_msg("status: %s", r.err);
	v = json_loads(r.out, 0, NULL);
	assert_string_equal(json_string_value(json_object_get(json_object_get(v, "object_storage"),
							      "lake_uri")), uri);
	assert_int_equal(json_array_size(json_object_get(v, "lake")), 0); /* nothing pending */
	json_decref(v);
	done(&r);

	/* DuckDB reads the downloaded tables: the log replayed here, the
	 * active files read by DuckDB, row for row the store's count */
	char copy[400];
	snprintf(copy, sizeof(copy), "%s/copy", tmp_dir);
	download(uri, copy);
	static const char *const tables[] = { "patient", "encounter", "staff", "booking" };
	for (size_t i = 0; i < sizeof(tables) / sizeof(tables[0]); i++) {
		char tdir[600], sql[8192];
		snprintf(tdir, sizeof(tdir), "%s/silver/%s", copy, tables[i]);
		json_t *files = active_files(tdir), *pv;
		const char *path;
		assert_non_null(files);
		size_t n = (size_t)snprintf(sql, sizeof(sql), "SELECT count(*) FROM read_parquet([");
		int first = 1;
		json_object_foreach(files, path, pv) {
			n += (size_t)snprintf(sql + n, sizeof(sql) - n, "%s'%s/%s'", first ? "" : ",",
					      tdir, path);
			first = 0;
		}
		snprintf(sql + n, sizeof(sql) - n, "])");
		json_decref(files);
		json_t *res = duckdb(sql);
		json_t *cell = json_array_get(json_array_get(json_object_get(res, "rows"), 0), 0);
		int64_t got = json_is_integer(cell) ? json_integer_value(cell)
						    : atoll(json_string_value(cell) ? json_string_value(cell) : "-1");
		if (got != sqlite_count(data, tables[i]))
			fail_msg("%s: DuckDB reads %lld rows, carelake.db holds %lld", tables[i],
				 (long long)got, (long long)sqlite_count(data, tables[i]));
		json_decref(res);
	}
}

/* ---- another engine's table ------------------------------------------ */

/* Uploads the local directory `from` (recursively) to `uri`/`rel`. */
static void upload_tree(struct cl_objstore *os, const char *from, const char *rel)
{
	DIR *d = opendir(from);
	struct dirent *de;
	assert_non_null(d);
	while ((de = readdir(d))) {
		char path[1200], key[1200];
		struct stat sb;
		if (de->d_name[0] == '.')
			continue;
		snprintf(path, sizeof(path), "%s/%s", from, de->d_name);
		snprintf(key, sizeof(key), "%s/%s", rel, de->d_name);
		assert_int_equal(stat(path, &sb), 0);
		if (S_ISDIR(sb.st_mode))
			upload_tree(os, path, key);
		else
			assert_int_equal(cl_objstore_put_file(os, key, path, 0), CL_OK);
	}
	closedir(d);
}

static void test_optimize_other_engines_table(void **state)
{
	(void)state;
	char src[600], data[300], uri[] = "az://lake/ext";
	struct cl_objstore *os;
	snprintf(src, sizeof(src), "%s/delta-tables/simple_table", shared);
	snprintf(data, sizeof(data), "%s/o", tmp_dir);
	assert_int_equal(cl_objstore_open(uri, NULL, &os), CL_OK);
	assert_int_equal(cl_objstore_ensure_container(os), CL_OK);
	upload_tree(os, src, "simple_table");
	cl_objstore_close(os);

	int64_t before = shown_rows(data, uri, "simple_table", -1);
	assert_true(before > 0);
	struct result r = cl(data, uri, "optimize", "az://lake/ext/simple_table", NULL, NULL);
	if (r.status != 0)
		fail_msg("optimize: %s", r.err);
	assert_non_null(strstr(r.out, "into 1"));
	done(&r);
	assert_int_equal(shown_rows(data, uri, "simple_table", -1), before);
	r = cl(data, uri, "vacuum", "az://lake/ext/simple_table", "--retention=0s", NULL);
	if (r.status != 0)
		fail_msg("vacuum: %s", r.err);
	assert_null(strstr(r.out, "deleted 0 files"));
	done(&r);
	assert_int_equal(shown_rows(data, uri, "simple_table", -1), before);
}

/* ---- two writers ------------------------------------------------------ */

#define WRITER_COMMITS 12

/*
 * The maker and the writers are processes of their own, this program run
 * again (main's --maker and --writer): a process forked from this one
 * would inherit the fault proxy's threads' locks, the allocator's among
 * them, held at the moment of the fork, and could wait on them forever.
 */

/* The table, made by a first commit. */
static int maker(const char *table)
{
	struct cl_delta_txn *t;
	struct cl_delta_field fields[] = { { "id", "long", true } };
	int64_t v0;
	if (cl_delta_txn_begin(&t, table) ||
	    cl_delta_txn_set_schema(t, fields, 1, NULL, 0, "events") ||
	    cl_delta_txn_commit(t, "CREATE TABLE", NULL, &v0) || v0 != 0) {
		fprintf(stderr, "creating %s: %s\n", table, cl_error_detail());
		return 1;
	}
	return 0;
}

/* One writer: WRITER_COMMITS commits, each adding its own file; the
 * versions they got, one a line, in `out`. */
static int writer(const char *table, int id, const char *out)
{
	FILE *f = fopen(out, "w");
	if (!f)
		return 13;
	for (int i = 0; i < WRITER_COMMITS; i++) {
		struct cl_delta_txn *t;
		char rel[64];
		int64_t version = -1;
		if (cl_delta_txn_begin(&t, table) != CL_OK)
			return 10;
		snprintf(rel, sizeof(rel), "w%d-%02d.parquet", id, i);
		if (cl_delta_txn_add(t, rel, NULL, 100, "{\"numRecords\":1}", true) != CL_OK)
			return 11;
		if (cl_delta_txn_commit(t, "WRITE", NULL, &version) != CL_OK) {
			fprintf(stderr, "writer %d: %s\n", id, cl_error_detail());
			return 12;
		}
		fprintf(f, "%lld\n", (long long)version);
	}
	return fclose(f) == 0 ? 0 : 14;
}

/* This program run with `role` and its arguments; its pid. */
static pid_t spawn_self(const char *role, const char *table, const char *id, const char *out)
{
	char *argv[] = { (char *)"runtime_lake_objstore", (char *)role, tmp_dir, (char *)table,
			 (char *)id, (char *)out, NULL };
	pid_t pid;
	assert_int_equal(posix_spawn(&pid, "/proc/self/exe", NULL, NULL, argv, environ), 0);
	return pid;
}

static void wait_ok(pid_t pid, const char *what)
{
	int st;
	assert_int_equal(waitpid(pid, &st, 0), pid);
	if (!WIFEXITED(st) || WEXITSTATUS(st) != 0)
		fail_msg("%s failed (status %d)", what, st);
}

static void test_two_writers(void **state)
{
	(void)state;
	const char *table = "az://race/t/silver/events";

	wait_ok(spawn_self("--maker", table, "0", "-"), "the maker");
	char outs[2][300];
	pid_t pids[2];
	for (int w = 0; w < 2; w++) {
		snprintf(outs[w], sizeof(outs[w]), "%s/writer%d.txt", tmp_dir, w);
		pids[w] = spawn_self("--writer", table, w ? "1" : "0", outs[w]);
	}
	wait_ok(pids[0], "writer 0");
	wait_ok(pids[1], "writer 1");
	struct cl_config cfg;
	cl_config_init(&cfg);
	cl_lake_loc_configure(&cfg, tmp_dir);
	/* every commit its own version: 1..2N, each taken once */
	char seen[2 * WRITER_COMMITS + 1] = { 0 };
	for (int w = 0; w < 2; w++) {
		char *txt = slurp(outs[w]);
		int n = 0;
		for (char *p = txt; *p; p = strchr(p, '\n') + 1) {
			long long v = atoll(p);
			assert_true(v >= 1 && v <= 2 * WRITER_COMMITS);
			assert_int_equal(seen[v], 0);
			seen[v] = 1;
			n++;
		}
		assert_int_equal(n, WRITER_COMMITS);
		free(txt);
	}
	struct cl_delta_snapshot *s;
	assert_int_equal(cl_delta_snapshot_load(table, CL_DELTA_LATEST, CL_DELTA_NO_TIME, &s),
			 CL_OK);
	assert_int_equal(s->version, 2 * WRITER_COMMITS);
	assert_int_equal(s->nfiles, 2 * WRITER_COMMITS);
	cl_delta_snapshot_free(s);
	/* and time travel to the middle, through the checkpoint at 10 */
	assert_int_equal(cl_delta_snapshot_load(table, 11, CL_DELTA_NO_TIME, &s), CL_OK);
	assert_int_equal(s->nfiles, 11);
	cl_delta_snapshot_free(s);
	cl_config_free(&cfg);
}

/* ---- faults ----------------------------------------------------------- */

static void test_faults(void **state)
{
	(void)state;
	char data[300], gen[300], fhir[400], uri[] = "az://faults/lake";
	snprintf(data, sizeof(data), "%s/f", tmp_dir);
	snprintf(gen, sizeof(gen), "%s/gen", tmp_dir);
	snprintf(fhir, sizeof(fhir), "%s/fhir", gen);

	/* 500s and a connection cut mid-upload: retried, the load lands whole */
	proxy_arm(&az_proxy, F_500, 3);
	ok(cl(data, uri, "ingest", fhir, NULL, NULL), "ingest through 500s");
	proxy_arm(&az_proxy, F_CUT, 2);
	char staff[400];
	snprintf(staff, sizeof(staff), "%s/staff.csv", gen);
	ok(cl(data, uri, "ingest", staff, NULL, NULL), "ingest through cut uploads");
	struct result r = cl(data, uri, "verify", NULL, NULL, NULL);
	if (r.status != 0)
		fail_msg("verify after faults: %s %s", r.out, r.err);
	done(&r);
	assert_int_equal(shown_rows(data, uri, "silver/staff", -1), sqlite_count(data, "staff"));

	/* the store down for good: the load is still accepted into bronze and
	 * carelake.db, the lake sync fails and says so, nothing is lost */
	char bookings[400];
	snprintf(bookings, sizeof(bookings), "%s/bookings.csv", gen);
	proxy_arm(&az_proxy, F_500, 1000000);
	r = cl(data, uri, "ingest", bookings, NULL, NULL);
	assert_true(r.status != 0 || strstr(r.err, "lake") != NULL);
	done(&r);
	assert_true(sqlite_count(data, "booking") > 0);
	proxy_arm(&az_proxy, F_NONE, 0);
	/* the next refine brings the lake up to date */
	ok(cl(data, uri, "refine", NULL, NULL, NULL), "refine after the store came back");
	assert_int_equal(shown_rows(data, uri, "silver/booking", -1),
			 sqlite_count(data, "booking"));
	r = cl(data, uri, "verify", NULL, NULL, NULL);
	if (r.status != 0)
		fail_msg("verify after the outage: %s %s", r.out, r.err);
	done(&r);
}

/* ---- s3rver: no conditional creates ----------------------------------- */

static void test_s3rver(void **state)
{
	(void)state;
	char data[300], gen[300], staff[400], uri[] = "s3://lake/hospital";
	snprintf(data, sizeof(data), "%s/s", tmp_dir);
	snprintf(gen, sizeof(gen), "%s/gen", tmp_dir);
	snprintf(staff, sizeof(staff), "%s/staff.csv", gen);

	/* refused, saying why and what to do */
	struct result r = cl(data, uri, "ingest", staff, NULL, NULL);
	assert_non_null(strstr(r.err, "conditional creates"));
	assert_non_null(strstr(r.err, "lake.single_writer"));
	done(&r);
	assert_true(sqlite_count(data, "staff") > 0); /* the load itself stands */

	/* one writer, declared: the lake round trip */
	char d[320];
	snprintf(d, sizeof(d), "--data=%s", data);
	const char *argv[] = { "refine", d, "--set", "lake.uri=s3://lake/hospital", "--set",
			       "lake.single_writer=1", NULL };
	ok(run_argv(NULL, argv), "refine with lake.single_writer");
	assert_int_equal(shown_rows(data, uri, "silver/staff", -1), sqlite_count(data, "staff"));
	r = cl(data, uri, "table", "history", "s3://lake/hospital/silver/staff", NULL);
	if (r.status != 0)
		fail_msg("table history on s3: %s", r.err);
	done(&r);
}

/* ---- the bronze archive ----------------------------------------------- */

static void test_archive(void **state)
{
	(void)state;
	char data[300], d[320], lines[300], set_seg[] = "bronze.segment_max_bytes=4KiB",
	     set_commit[] = "bronze.commit_max_bytes=4KiB";
	const char *arch = "bronze.archive_uri=az://archive/hospital-a";
	snprintf(data, sizeof(data), "%s/b", tmp_dir);
	snprintf(d, sizeof(d), "--data=%s", data);
	snprintf(lines, sizeof(lines), "%s/records.ndjson", tmp_dir);
	FILE *f = fopen(lines, "w");
	for (int i = 0; i < 400; i++)
		fprintf(f, "{\"id\":\"r-%04d\",\"patient_id\":\"p-1\",\"code\":\"8867-4\","
			"\"value\":%d,\"ts\":\"2026-12-01T10:%02d:%02dZ\"}\n", i, 60 + i % 40,
			i / 60 % 60, i % 60);
	fclose(f);
	/* small commits into small segments: a new one every 4 KiB */
	const char *append[] = { "bronze", "append", d, "--source", "vitals", "--set", set_seg,
				 "--set", set_commit, lines, NULL };
	ok(run_argv(NULL, append), "bronze append");

	const char *archive[] = { "bronze", "archive", d, "--set", arch, "--set", set_seg, NULL };
	struct result r = run_argv(NULL, archive);
	if (r.status != 0)
		fail_msg("bronze archive: %s", r.err);
	long long files = 0;
	assert_int_equal(sscanf(r.out, "archived %lld file", &files), 1);
	if (files < 5) /* 400 records of ~130 bytes in 4 KiB segments */
		fail_msg("archived only %lld files: %s", files, r.out);
	done(&r);
	r = run_argv(NULL, archive); /* nothing new */
	assert_non_null(strstr(r.out, "archived 0 files"));
	done(&r);

	const char *verify[] = { "verify", d, "--archive", "--json", "--set", arch, NULL };
	r = run_argv(NULL, verify);
	if (r.status != 0)
		fail_msg("verify --archive: %s %s", r.out, r.err);
	json_t *v = json_loads(r.out, 0, NULL);
	assert_int_equal(json_integer_value(json_object_get(v, "archive_files")), files);
	assert_int_equal(json_integer_value(json_object_get(v, "archive_problems")), 0);
	json_decref(v);
	done(&r);

	/* a lost segment comes back, byte for byte */
	char seg[600], saved[600];
	{
		char sdir[400];
		snprintf(sdir, sizeof(sdir), "%s/bronze/vitals", data);
		DIR *dd = opendir(sdir);
		struct dirent *de;
		char day[64] = "";
		while ((de = readdir(dd)))
			if (strncmp(de->d_name, "dt=", 3) == 0)
				snprintf(day, sizeof(day), "%.60s", de->d_name);
		closedir(dd);
		snprintf(seg, sizeof(seg), "%s/%s/00000000000000000000.seg", sdir, day);
	}
	snprintf(saved, sizeof(saved), "%s/saved.seg", tmp_dir);
	char *before = slurp(seg);
	struct stat sb;
	assert_int_equal(stat(seg, &sb), 0);
	assert_int_equal(rename(seg, saved), 0);
	const char *restore[] = { "bronze", "restore", d, "--set", arch, NULL };
	r = run_argv(NULL, restore);
	if (r.status != 0)
		fail_msg("bronze restore: %s", r.err);
	assert_non_null(strstr(r.out, "restored 1 file"));
	done(&r);
	char *after = slurp(seg);
	assert_memory_equal(before, after, (size_t)sb.st_size);
	free(before);
	free(after);
	const char *dump[] = { "bronze", "dump", d, "--source", "vitals", NULL };
	r = run_argv(NULL, dump);
	assert_int_equal(r.status, 0);
	int n = 0;
	for (const char *p = r.out; *p; p++)
		n += *p == '\n';
	assert_int_equal(n, 400);
	done(&r);

	/* a damaged archive copy is reported */
	struct cl_objstore *os;
	assert_int_equal(cl_objstore_open("az://archive/hospital-a", NULL, &os), CL_OK);
	char key[200];
	snprintf(key, sizeof(key), "vitals/%s", strstr(seg, "dt="));
	assert_int_equal(cl_objstore_put_mem(os, key, "damaged", 7, 0), CL_OK);
	cl_objstore_close(os);
	r = run_argv(NULL, verify);
	assert_int_equal(r.status, 1);
	v = json_loads(r.out, 0, NULL);
	assert_int_equal(json_integer_value(json_object_get(v, "archive_problems")), 1);
	json_decref(v);
	done(&r);
}

int main(int argc, char **argv)
{
	if (argc == 6 && (strcmp(argv[1], "--maker") == 0 || strcmp(argv[1], "--writer") == 0)) {
		struct cl_config cfg;
		snprintf(tmp_dir, sizeof(tmp_dir), "%s", argv[2]);
		cl_config_init(&cfg);
		cl_lake_loc_configure(&cfg, tmp_dir);
		int rc = argv[1][2] == 'm' ? maker(argv[3]) : writer(argv[3], atoi(argv[4]), argv[5]);
		cl_config_free(&cfg);
		return rc;
	}
	if (argc != 5) {
		fprintf(stderr, "usage: %s CARELAKE TESTS_OBJSTORE_DIR DUCK_MJS SHARED_DATA\n",
			argv[0]);
		return 2;
	}
	bin = argv[1];
	pkg_dir = argv[2];
	duck = argv[3];
	shared = argv[4];
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_lake_azurite),
		cmocka_unit_test(test_two_writers),
		cmocka_unit_test(test_optimize_other_engines_table),
		cmocka_unit_test(test_faults),
		cmocka_unit_test(test_s3rver),
		cmocka_unit_test(test_archive),
	};
	return cmocka_run_group_tests(tests, setup, teardown);
}
