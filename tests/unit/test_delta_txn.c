/*
 * Delta commits: a new table, adds and removes, blind appends from four
 * threads racing for versions (every commit lands once, at its own
 * version), a real conflict (two removes of one file: the loser gets
 * CL_EBUSY naming the winner), checkpoints every 10 versions that give the
 * same snapshot as the JSON commits they stand for, time travel, history,
 * and the statistics of an add.
 */
#include "cl_test.h"

#include <pthread.h>
#include <sys/stat.h>

#include "core/cl_error.h"
#include "core/cl_mem.h"
#include "lake/cl_delta.h"

static char dir[256];

static char *slurp_file(const char *path)
{
	FILE *f = fopen(path, "rb");
	static char buf[4096];
	size_t n = f ? fread(buf, 1, sizeof(buf) - 1, f) : 0;
	if (f)
		fclose(f);
	buf[n] = 0;
	return strdup(buf);
}

static const struct cl_delta_field fields[] = {
	{ "id", "long", true }, { "name", "string", true }, { "day", "date", true },
};
static const char *const pcols[] = { "day" };

static void create(const char *path)
{
	struct cl_delta_txn *t;
	int64_t v;
	assert_int_equal(cl_delta_txn_begin(&t, path), CL_OK);
	assert_null(cl_delta_txn_snapshot(t));
	assert_int_equal(cl_delta_txn_set_schema(t, fields, 3, pcols, 1, "test"), CL_OK);
	json_t *p = json_object();
	assert_int_equal(cl_delta_txn_commit(t, "CREATE TABLE", p, &v), CL_OK);
	json_decref(p);
	assert_int_equal(v, 0);
}

static int append(const char *path, const char *file, const char *day, int64_t *v)
{
	struct cl_delta_txn *t;
	const char *pv[1] = { day };
	int rc = cl_delta_txn_begin(&t, path);
	if (rc)
		return rc;
	if ((rc = cl_delta_txn_add(t, file, pv, 100, "{\"numRecords\":2}", true))) {
		cl_delta_txn_free(t);
		return rc;
	}
	json_t *p = json_pack("{s:s}", "mode", "Append");
	rc = cl_delta_txn_commit(t, "WRITE", p, v);
	json_decref(p);
	return rc;
}

static int has_file(const struct cl_delta_snapshot *s, const char *path)
{
	for (size_t i = 0; i < s->nfiles; i++)
		if (strcmp(s->files[i].path, path) == 0)
			return 1;
	return 0;
}

static void test_create_add_remove(void **state)
{
	char path[300];
	struct cl_delta_snapshot *s;
	int64_t v;
	(void)state;
	snprintf(path, sizeof(path), "%s/basic", dir);
	create(path);
	assert_int_equal(append(path, "day=2026-11-22/a b.parquet", "2026-11-22", &v), CL_OK);
	assert_int_equal(v, 1);
	assert_int_equal(append(path, "day=__HIVE_DEFAULT_PARTITION__/c.parquet", NULL, &v), CL_OK);
	assert_int_equal(cl_delta_snapshot_load(path, CL_DELTA_LATEST, CL_DELTA_NO_TIME, &s), CL_OK);
	assert_int_equal(s->version, 2);
	assert_int_equal(s->nfiles, 2);
	assert_true(has_file(s, "day=2026-11-22/a b.parquet")); /* escaped in the log, not here */
	assert_int_equal(s->nfields, 3);
	assert_string_equal(s->fields[2].type, "date");
	assert_int_equal(s->npartition_cols, 1);
	for (size_t i = 0; i < s->nfiles; i++) {
		assert_int_equal(s->files[i].num_records, 2);
		if (strstr(s->files[i].path, "c.parquet"))
			assert_null(s->files[i].part_values[0]);
		else
			assert_string_equal(s->files[i].part_values[0], "2026-11-22");
	}
	cl_delta_snapshot_free(s);

	struct cl_delta_txn *t;
	assert_int_equal(cl_delta_txn_begin(&t, path), CL_OK);
	assert_int_equal(cl_delta_txn_remove(t, "nope.parquet", true), CL_ENOENT);
	assert_int_equal(cl_delta_txn_remove(t, "day=2026-11-22/a b.parquet", true), CL_OK);
	json_t *p = json_object();
	assert_int_equal(cl_delta_txn_commit(t, "DELETE", p, &v), CL_OK);
	json_decref(p);
	assert_int_equal(cl_delta_snapshot_load(path, CL_DELTA_LATEST, CL_DELTA_NO_TIME, &s), CL_OK);
	assert_int_equal(s->nfiles, 1);
	assert_int_equal(s->ntombstones, 1);
	cl_delta_snapshot_free(s);
	/* time travel: version 1 still has the file */
	assert_int_equal(cl_delta_snapshot_load(path, 1, CL_DELTA_NO_TIME, &s), CL_OK);
	assert_int_equal(s->nfiles, 1);
	assert_true(has_file(s, "day=2026-11-22/a b.parquet"));
	cl_delta_snapshot_free(s);
	assert_int_equal(cl_delta_snapshot_load(path, 7, CL_DELTA_NO_TIME, &s), CL_ENOENT);
	assert_non_null(strstr(cl_error_detail(), "versions 0 to 3"));

	struct cl_delta_commit *c;
	size_t n;
	assert_int_equal(cl_delta_history(path, &c, &n), CL_OK);
	assert_int_equal(n, 4);
	assert_string_equal(c[3].operation, "DELETE");
	assert_int_equal(c[3].nremove, 1);
	assert_int_equal(c[1].rows_added, 2);
	cl_delta_history_free(c, n);
}

struct racer {
	const char *path;
	int id;
	int64_t versions[10];
	int failures;
};

static void *race(void *arg)
{
	struct racer *r = arg;
	for (int i = 0; i < 10; i++) {
		char file[64];
		snprintf(file, sizeof(file), "day=2026-11-22/t%d-%d.parquet", r->id, i);
		if (append(r->path, file, "2026-11-22", &r->versions[i]) != CL_OK)
			r->failures++;
	}
	return NULL;
}

/* Blind appends never conflict: all land, each at its own version; and
 * checkpoints at 10, 20, 30, 40 read the same as the JSON. */
static void test_racing_appends_and_checkpoints(void **state)
{
	char path[300], cp[400];
	struct racer r[4];
	pthread_t th[4];
	(void)state;
	snprintf(path, sizeof(path), "%s/race", dir);
	create(path);
	for (int i = 0; i < 4; i++) {
		r[i] = (struct racer){ .path = path, .id = i };
		assert_int_equal(pthread_create(&th[i], NULL, race, &r[i]), 0);
	}
	for (int i = 0; i < 4; i++)
		pthread_join(th[i], NULL);
	char seen[41] = { 0 };
	for (int i = 0; i < 4; i++) {
		assert_int_equal(r[i].failures, 0);
		for (int k = 0; k < 10; k++) {
			assert_true(r[i].versions[k] >= 1 && r[i].versions[k] <= 40);
			assert_int_equal(seen[r[i].versions[k]], 0);
			seen[r[i].versions[k]] = 1;
		}
	}
	struct cl_delta_snapshot *s, *c;
	assert_int_equal(cl_delta_snapshot_load(path, CL_DELTA_LATEST, CL_DELTA_NO_TIME, &s), CL_OK);
	assert_int_equal(s->version, 40);
	assert_int_equal(s->nfiles, 40);
	snprintf(cp, sizeof(cp), "%s/_delta_log/00000000000000000040.checkpoint.parquet", path);
	struct stat st;
	assert_int_equal(stat(cp, &st), 0);
	snprintf(cp, sizeof(cp), "%s/_delta_log/_last_checkpoint", path);
	char *last = slurp_file(cp);
	assert_non_null(strstr(last, "\"version\":40"));
	free(last);
	/* without the JSON before it, the checkpoint alone gives the state */
	for (int v = 0; v <= 39; v++) {
		snprintf(cp, sizeof(cp), "%s/_delta_log/%020d.json", path, v);
		unlink(cp);
	}
	assert_int_equal(cl_delta_snapshot_load(path, CL_DELTA_LATEST, CL_DELTA_NO_TIME, &c), CL_OK);
	assert_int_equal(c->nfiles, s->nfiles);
	for (size_t i = 0; i < s->nfiles; i++)
		assert_true(has_file(c, s->files[i].path));
	assert_string_equal(c->schema_string, s->schema_string);
	assert_string_equal(c->table_id, s->table_id);
	cl_delta_snapshot_free(c);
	cl_delta_snapshot_free(s);
	/* a version the log no longer has is refused, not made up */
	assert_int_equal(cl_delta_snapshot_load(path, 5, CL_DELTA_NO_TIME, &s), CL_ENOENT);
}

/* Two removes of one file: one wins, the other is told which version won. */
static void test_conflict(void **state)
{
	char path[300];
	struct cl_delta_txn *a, *b;
	int64_t v;
	(void)state;
	snprintf(path, sizeof(path), "%s/conflict", dir);
	create(path);
	assert_int_equal(append(path, "day=2026-11-22/x.parquet", "2026-11-22", &v), CL_OK);
	assert_int_equal(cl_delta_txn_begin(&a, path), CL_OK);
	assert_int_equal(cl_delta_txn_begin(&b, path), CL_OK);
	assert_int_equal(cl_delta_txn_remove(a, "day=2026-11-22/x.parquet", true), CL_OK);
	assert_int_equal(cl_delta_txn_remove(b, "day=2026-11-22/x.parquet", true), CL_OK);
	json_t *p = json_object();
	assert_int_equal(cl_delta_txn_commit(a, "DELETE", p, &v), CL_OK);
	assert_int_equal(v, 2);
	assert_int_equal(cl_delta_txn_commit(b, "DELETE", p, &v), CL_EBUSY);
	assert_non_null(strstr(cl_error_detail(), "version 2 removed"));
	/* an append racing a delete of another file does not conflict */
	assert_int_equal(append(path, "day=2026-11-23/y.parquet", "2026-11-23", &v), CL_OK);
	assert_int_equal(v, 3);
	json_decref(p);
}

static void test_stats(void **state)
{
	(void)state;
	struct cl_pq_colstats cols[3] = {
		{ .nulls = 0, .has_minmax = true, .min_i = 1, .max_i = 9 },
		{ .nulls = 2, .has_minmax = true, .min_i = 1795000000123456LL,
		  .max_i = 1795000000123456LL },
		{ .nulls = 5, .has_minmax = false },
	};
	struct cl_pq_file_stats st = { .rows = 5, .ncols = 3, .cols = cols };
	const char *names[] = { "id", "ts", "s" };
	enum cl_pq_type types[] = { CL_PQ_INT64, CL_PQ_TIMESTAMP, CL_PQ_STRING };
	char *js = cl_delta_stats_json(&st, names, types);
	json_t *j = json_loads(js, 0, NULL);
	assert_int_equal(json_integer_value(json_object_get(j, "numRecords")), 5);
	/* a time is cut to milliseconds, down for the min and up for the max */
	assert_string_equal(json_string_value(json_object_get(json_object_get(j, "minValues"), "ts")),
			    "2026-11-18T11:06:40.123Z");
	assert_string_equal(json_string_value(json_object_get(json_object_get(j, "maxValues"), "ts")),
			    "2026-11-18T11:06:40.124Z");
	assert_null(json_object_get(json_object_get(j, "minValues"), "s"));
	assert_int_equal(json_integer_value(json_object_get(json_object_get(j, "nullCount"), "s")), 5);
	json_decref(j);
	cl_free(js);
}

int main(void)
{
	snprintf(dir, sizeof(dir), "/tmp/carelake-test-delta-%d", (int)getpid());
	mkdir(dir, 0700);
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_create_add_remove),
		cmocka_unit_test(test_racing_appends_and_checkpoints),
		cmocka_unit_test(test_conflict),
		cmocka_unit_test(test_stats),
	};
	int failed = cmocka_run_group_tests(tests, NULL, NULL);
	cl_test_rmtree(dir);
	return failed;
}
