/*
 * The Parquet writer, read back with carelake's reader: every column type
 * with and without nulls, several row groups and small pages, each codec,
 * dictionary and plain columns, long and multi-byte strings, a column of
 * nothing but nulls, an empty file, nested records (the shape of a Delta
 * checkpoint), the statistics Delta needs, and what goes wrong: an
 * existing file, columns of different lengths, memory running out. Each
 * file is read back column by column and again several columns at once on
 * threads into reused vectors; some are written with row groups in the
 * background.
 */
#include "cl_test.h"

#include <sys/stat.h>

#include "core/cl_error.h"
#include "core/cl_mem.h"
#include "lake/cl_parquet.h"
#include "lake/cl_pq_format.h"

static char dir[256];

static const struct cl_pq_node flat[] = {
	{ "b", CL_PQ_BOOL, CL_PQF_OPTIONAL, 0, -1 },
	{ "i32", CL_PQ_INT32, CL_PQF_REQUIRED, 0, -1 },
	{ "i64", CL_PQ_INT64, CL_PQF_OPTIONAL, 0, -1 },
	{ "f32", CL_PQ_FLOAT, CL_PQF_OPTIONAL, 0, -1 },
	{ "f64", CL_PQ_DOUBLE, CL_PQF_OPTIONAL, 0, -1 },
	{ "s", CL_PQ_STRING, CL_PQF_OPTIONAL, 0, -1 },
	{ "code", CL_PQ_STRING, CL_PQF_OPTIONAL, 0, -1 },
	{ "d", CL_PQ_DATE, CL_PQF_OPTIONAL, 0, -1 },
	{ "ts", CL_PQ_TIMESTAMP, CL_PQF_OPTIONAL, 0, -1 },
	{ "nothing", CL_PQ_STRING, CL_PQF_OPTIONAL, 0, -1 },
	{ "bin", CL_PQ_BINARY, CL_PQF_OPTIONAL, 0, -1 },
};
#define NFLAT (sizeof(flat) / sizeof(flat[0]))

static const char *const codes[] = { "8867-4", "9279-1", "59408-5", "8480-6", "" };

/* Row i's value of each column; null where the pattern says. */
static int is_null(size_t col, long i)
{
	return col == 9 || (col != 1 && (i * 7 + (long)col) % 11 == 0);
}

static void row_string(long i, char *buf, size_t cap)
{
	/* unique, some long, some with multi-byte characters */
	if (i % 97 == 0)
		snprintf(buf, cap, "long-%ld-%s", i,
			 "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa");
	else if (i % 13 == 0)
		snprintf(buf, cap, "ünïcødé-%ld-é", i);
	else
		snprintf(buf, cap, "s%07ld", i);
}

static void write_flat(const char *path, long n, const struct cl_pq_write_opts *o,
		       struct cl_pq_file_stats *st)
{
	struct cl_pq_writer *w;
	char buf[160];
	assert_int_equal(cl_pq_writer_open(&w, path, flat, NFLAT, o), CL_OK);
	for (long i = 0; i < n; i++) {
		for (size_t c = 0; c < NFLAT; c++) {
			struct cl_pq_vec *v = cl_pq_writer_col(w, c);
			if (is_null(c, i)) {
				cl_pq_vec_push_null(v);
				continue;
			}
			switch (c) {
			case 0: cl_pq_vec_push_bool(v, i % 3 == 0); break;
			case 1: cl_pq_vec_push_i32(v, (int32_t)(i - 500)); break;
			case 2: cl_pq_vec_push_i64(v, (int64_t)i * 1000003 - 7); break;
			case 3: cl_pq_vec_push_f32(v, (float)i / 4); break;
			case 4: cl_pq_vec_push_f64(v, 36.5 + (double)(i % 40) / 10); break;
			case 5: row_string(i, buf, sizeof(buf)); cl_pq_vec_push_str(v, buf, strlen(buf)); break;
			case 6: cl_pq_vec_push_str(v, codes[i % 5], strlen(codes[i % 5])); break;
			case 7: cl_pq_vec_push_i32(v, (int32_t)(20000 + i % 30)); break;
			case 8: cl_pq_vec_push_i64(v, 1795000000000000LL + i * 1000001); break;
			case 10: cl_pq_vec_push_str(v, "\0\1\2", (size_t)(i % 4)); break;
			}
		}
		assert_int_equal(cl_pq_writer_rows(w, 1), CL_OK);
	}
	assert_int_equal(cl_pq_writer_close(w, st), CL_OK);
}

/* Checks column c of rows row..row+rows, read into v. */
static void check_col(size_t c, const struct cl_pq_vec *v, long row, long rows)
{
	char buf[160];
	assert_int_equal(v->n, rows);
	for (long k = 0; k < rows; k++) {
		long i = row + k;
		if (is_null(c, i)) {
			assert_int_equal(v->valid[k], 0);
			continue;
		}
		assert_int_equal(v->valid[k], 1);
		size_t len;
		const char *s;
		switch (c) {
		case 0: assert_int_equal(v->v.b[k], i % 3 == 0); break;
		case 1: assert_int_equal(v->v.i32[k], i - 500); break;
		case 2: assert_true(v->v.i64[k] == (int64_t)i * 1000003 - 7); break;
		case 3: assert_true(v->v.f32[k] == (float)i / 4); break;
		case 4: assert_true(v->v.f64[k] == 36.5 + (double)(i % 40) / 10); break;
		case 5:
			row_string(i, buf, sizeof(buf));
			s = cl_pq_vec_str(v, (size_t)k, &len);
			assert_int_equal(len, strlen(buf));
			assert_memory_equal(s, buf, len);
			break;
		case 6:
			s = cl_pq_vec_str(v, (size_t)k, &len);
			assert_int_equal(len, strlen(codes[i % 5]));
			assert_memory_equal(s, codes[i % 5], len);
			break;
		case 7: assert_int_equal(v->v.i32[k], 20000 + i % 30); break;
		case 8: assert_true(v->v.i64[k] == 1795000000000000LL + i * 1000001); break;
		case 10:
			s = cl_pq_vec_str(v, (size_t)k, &len);
			assert_int_equal(len, (size_t)(i % 4));
			assert_memory_equal(s, "\0\1\2", len);
			break;
		}
	}
}

/* Reads the file back again, several columns at once on `threads`
 * threads, into the same vectors row group after row group, the columns
 * in reverse order; checks every value. */
static void check_flat_columns(const char *path, long n, int threads)
{
	struct cl_pq_file *f;
	struct cl_pq_vec v[NFLAT];
	size_t leaves[NFLAT];
	assert_int_equal(cl_pq_open(&f, path), CL_OK);
	for (size_t c = 0; c < NFLAT; c++) {
		cl_pq_vec_init(&v[c], CL_PQ_NONE);
		leaves[c] = NFLAT - 1 - c;
	}
	long row = 0;
	for (size_t rg = 0; rg < cl_pq_num_row_groups(f); rg++) {
		long rows = (long)cl_pq_row_group_rows(f, rg);
		if (cl_pq_read_columns(f, rg, leaves, NFLAT, v, threads) != CL_OK)
			fail_msg("reading %s: %s", path, cl_error_detail());
		for (size_t c = 0; c < NFLAT; c++)
			check_col(leaves[c], &v[c], row, rows);
		row += rows;
	}
	assert_int_equal(row, n);
	/* a leaf that is not there: an error, every vector freed */
	if (cl_pq_num_row_groups(f) > 0) {
		size_t bad[2] = { 0, NFLAT };
		assert_int_equal(cl_pq_read_columns(f, 0, bad, 2, v, threads), CL_EINVAL);
		assert_null(v[0].valid);
		assert_null(v[1].valid);
	}
	for (size_t c = 0; c < NFLAT; c++)
		cl_pq_vec_free(&v[c]);
	cl_pq_close(f);
}

/* Reads the file back and checks every value. */
static void check_flat(const char *path, long n)
{
	struct cl_pq_file *f;
	assert_int_equal(cl_pq_open(&f, path), CL_OK);
	assert_int_equal(cl_pq_num_rows(f), n);
	assert_int_equal(cl_pq_num_leaves(f), NFLAT);
	assert_int_equal(cl_pq_check_flat(f), CL_OK);
	for (size_t c = 0; c < NFLAT; c++) {
		assert_string_equal(cl_pq_leaf(f, c)->name, flat[c].name);
		assert_int_equal(cl_pq_leaf(f, c)->type, flat[c].type);
	}
	long row = 0;
	for (size_t rg = 0; rg < cl_pq_num_row_groups(f); rg++) {
		long rows = (long)cl_pq_row_group_rows(f, rg);
		for (size_t c = 0; c < NFLAT; c++) {
			struct cl_pq_vec v;
			if (cl_pq_read_column(f, rg, c, &v) != CL_OK)
				fail_msg("reading %s: %s", path, cl_error_detail());
			check_col(c, &v, row, rows);
			cl_pq_vec_free(&v);
		}
		row += rows;
	}
	assert_int_equal(row, n);
	cl_pq_close(f);
}

static void roundtrip(int codec, long n, size_t rg_rows, size_t page_bytes, int threads,
		      bool background)
{
	char path[300];
	struct cl_pq_file_stats st;
	struct cl_pq_write_opts o = { .codec = codec, .row_group_rows = rg_rows,
				      .page_bytes = page_bytes, .threads = threads,
				      .background = background };
	snprintf(path, sizeof(path), "%s/flat-%d-%ld-%zu-%d-%d.parquet", dir, codec, n, rg_rows,
		 threads, background);
	write_flat(path, n, &o, &st);
	assert_int_equal(st.rows, n);
	assert_int_equal(st.ncols, NFLAT);
	struct stat sb;
	assert_int_equal(stat(path, &sb), 0);
	assert_int_equal(st.bytes, sb.st_size);
	/* the statistics Delta gets */
	int64_t nulls2 = 0;
	for (long i = 0; i < n; i++)
		nulls2 += is_null(2, i);
	assert_int_equal(st.cols[2].nulls, nulls2);
	assert_int_equal(st.cols[9].nulls, n);
	assert_false(st.cols[9].has_minmax);
	if (n > 20) {
		assert_true(st.cols[1].has_minmax);
		assert_int_equal(st.cols[1].min_i, -500);
		assert_int_equal(st.cols[1].max_i, n - 1 - 500);
		assert_true(st.cols[4].min_d == 36.5);
		assert_string_equal(st.cols[6].min_s, "");
		assert_string_equal(st.cols[6].max_s, "9279-1");
		assert_int_equal(st.cols[7].min_i, 20000);
	}
	cl_pq_file_stats_free(&st);
	check_flat(path, n);
	check_flat_columns(path, n, threads);
}

static void test_roundtrip(void **state)
{
	(void)state;
	roundtrip(CL_PQ_CODEC_ZSTD, 2500, 1000, 1024, 0, false);
	roundtrip(CL_PQ_CODEC_SNAPPY, 2500, 1000, 1024, 1, false);
	roundtrip(CL_PQ_CODEC_NONE, 2500, 700, 64 * 1024, 2, false);
	roundtrip(CL_PQ_CODEC_ZSTD, 70000, 1u << 20, 0, 0, false); /* bigger than the dictionary probe */
	roundtrip(CL_PQ_CODEC_ZSTD, 1, 0, 0, 0, false);
	roundtrip(CL_PQ_CODEC_ZSTD, 0, 0, 0, 0, false);
	/* row groups written in the background while the next is filled */
	roundtrip(CL_PQ_CODEC_ZSTD, 5000, 300, 1024, 0, true);
	roundtrip(CL_PQ_CODEC_SNAPPY, 2500, 1000, 0, 1, true);
	roundtrip(CL_PQ_CODEC_NONE, 2000, 1000, 0, 3, true); /* ends on a full row group */
	roundtrip(CL_PQ_CODEC_ZSTD, 1, 0, 0, 2, true);
}

static void test_string_stats(void **state)
{
	static const struct cl_pq_node one[] = { { "s", CL_PQ_STRING, CL_PQF_OPTIONAL, 0, -1 } };
	struct cl_pq_writer *w;
	struct cl_pq_file_stats st;
	char path[300];
	/* a 40-byte min whose cut at 32 bytes falls inside a 2-byte character */
	const char *lo = "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaéééé";
	const char *hi = "zzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzz";
	(void)state;
	snprintf(path, sizeof(path), "%s/strings.parquet", dir);
	assert_int_equal(cl_pq_writer_open(&w, path, one, 1, NULL), CL_OK);
	cl_pq_vec_push_str(cl_pq_writer_col(w, 0), "m", 1);
	cl_pq_vec_push_str(cl_pq_writer_col(w, 0), lo, strlen(lo));
	cl_pq_vec_push_str(cl_pq_writer_col(w, 0), hi, strlen(hi));
	assert_int_equal(cl_pq_writer_rows(w, 3), CL_OK);
	assert_int_equal(cl_pq_writer_close(w, &st), CL_OK);
	/* min: a prefix, whole characters only; max: too long to keep */
	assert_int_equal(strlen(st.cols[0].min_s), 31);
	assert_memory_equal(st.cols[0].min_s, lo, 31);
	assert_null(st.cols[0].max_s);
	cl_pq_file_stats_free(&st);
}

/* add: optional struct { path: required string, partitionValues: map,
 * size: optional int64 } — the shape of a Delta checkpoint's add. */
static void test_nested(void **state)
{
	static const struct cl_pq_node nodes[] = {
		{ "add", CL_PQ_NONE, CL_PQF_OPTIONAL, 3, -1 },
		{ "path", CL_PQ_STRING, CL_PQF_REQUIRED, 0, -1 },
		{ "partitionValues", CL_PQ_NONE, CL_PQF_OPTIONAL, 1, CL_PQF_CT_MAP },
		{ "key_value", CL_PQ_NONE, CL_PQF_REPEATED, 2, -1 },
		{ "key", CL_PQ_STRING, CL_PQF_REQUIRED, 0, -1 },
		{ "value", CL_PQ_STRING, CL_PQF_OPTIONAL, 0, -1 },
		{ "size", CL_PQ_INT64, CL_PQF_OPTIONAL, 0, -1 },
	};
	struct cl_pq_writer *w;
	struct cl_pq_file *f;
	char path[300];
	(void)state;
	snprintf(path, sizeof(path), "%s/nested.parquet", dir);
	assert_int_equal(cl_pq_writer_open_nested(&w, path, nodes, 7, NULL), CL_OK);
	struct cl_pq_vec *p = cl_pq_writer_col(w, 0), *k = cl_pq_writer_col(w, 1),
			 *v = cl_pq_writer_col(w, 2), *sz = cl_pq_writer_col(w, 3);
	/* row 0: add with two partition values, one null */
	cl_pq_vec_push_str(p, "a.parquet", 9);
	cl_pq_vec_set_levels(p, 1, 0);
	cl_pq_vec_push_str(k, "day", 3);
	cl_pq_vec_set_levels(k, 3, 0);
	cl_pq_vec_push_str(v, "2026-11-22", 10);
	cl_pq_vec_set_levels(v, 4, 0);
	cl_pq_vec_push_str(k, "ward", 4);
	cl_pq_vec_set_levels(k, 3, 1);
	cl_pq_vec_push_null(v);
	cl_pq_vec_set_levels(v, 3, 1);
	cl_pq_vec_push_i64(sz, 1234);
	cl_pq_vec_set_levels(sz, 2, 0);
	/* row 1: add with an empty map and no size */
	cl_pq_vec_push_str(p, "b.parquet", 9);
	cl_pq_vec_set_levels(p, 1, 0);
	cl_pq_vec_push_null(k);
	cl_pq_vec_set_levels(k, 2, 0);
	cl_pq_vec_push_null(v);
	cl_pq_vec_set_levels(v, 2, 0);
	cl_pq_vec_push_null(sz);
	cl_pq_vec_set_levels(sz, 1, 0);
	/* row 2: no add at all */
	cl_pq_vec_push_null(p);
	cl_pq_vec_set_levels(p, 0, 0);
	cl_pq_vec_push_null(k);
	cl_pq_vec_set_levels(k, 0, 0);
	cl_pq_vec_push_null(v);
	cl_pq_vec_set_levels(v, 0, 0);
	cl_pq_vec_push_null(sz);
	cl_pq_vec_set_levels(sz, 0, 0);
	assert_int_equal(cl_pq_writer_rows(w, 3), CL_OK);
	assert_int_equal(cl_pq_writer_close(w, NULL), CL_OK);

	assert_int_equal(cl_pq_open(&f, path), CL_OK);
	assert_int_equal(cl_pq_num_rows(f), 3);
	assert_int_equal(cl_pq_check_flat(f), CL_ENOTSUP);
	json_t *rows = json_array();
	assert_int_equal(cl_pq_read_records(f, 0, rows), CL_OK);
	json_t *want = json_loads(
		"[{\"add\": {\"path\": \"a.parquet\", \"partitionValues\": {\"day\": \"2026-11-22\","
		" \"ward\": null}, \"size\": 1234}},"
		" {\"add\": {\"path\": \"b.parquet\", \"partitionValues\": {}, \"size\": null}},"
		" {\"add\": null}]", 0, NULL);
	assert_non_null(want);
	if (!json_equal(rows, want)) {
		char *got = json_dumps(rows, JSON_COMPACT);
		fail_msg("nested records read back as %s", got);
	}
	json_decref(want);
	json_decref(rows);
	cl_pq_close(f);
}

static void test_errors(void **state)
{
	struct cl_pq_writer *w;
	char path[300];
	(void)state;
	snprintf(path, sizeof(path), "%s/exists.parquet", dir);
	FILE *f = fopen(path, "w");
	fclose(f);
	assert_int_equal(cl_pq_writer_open(&w, path, flat, NFLAT, NULL), CL_EEXIST);
	assert_non_null(strstr(cl_error_detail(), "exists.parquet"));

	snprintf(path, sizeof(path), "%s/ragged.parquet", dir);
	assert_int_equal(cl_pq_writer_open(&w, path, flat, 2, NULL), CL_OK);
	cl_pq_vec_push_bool(cl_pq_writer_col(w, 0), true);
	assert_int_equal(cl_pq_writer_rows(w, 1), CL_OK);
	assert_int_equal(cl_pq_writer_close(w, NULL), CL_EINVAL);
	assert_non_null(strstr(cl_error_detail(), "i32 has 0 values for 1 rows"));
	assert_int_equal(access(path, F_OK), -1); /* no half file left */

	/* a null in a required column */
	snprintf(path, sizeof(path), "%s/required.parquet", dir);
	assert_int_equal(cl_pq_writer_open(&w, path, flat, 2, NULL), CL_OK);
	cl_pq_vec_push_bool(cl_pq_writer_col(w, 0), true);
	cl_pq_vec_push_null(cl_pq_writer_col(w, 1));
	assert_int_equal(cl_pq_writer_rows(w, 1), CL_OK);
	assert_int_equal(cl_pq_writer_close(w, NULL), CL_EINVAL);
	assert_non_null(strstr(cl_error_detail(), "i32"));
	assert_non_null(strstr(cl_error_detail(), "required"));

	static const struct cl_pq_node bad[] = { { "g", CL_PQ_NONE, CL_PQF_OPTIONAL, 0, -1 } };
	assert_int_equal(cl_pq_writer_open_nested(&w, path, bad, 1, NULL), CL_EINVAL);
	assert_int_equal(cl_pq_writer_open(&w, path, bad, 1, NULL), CL_EINVAL);
}

/* Memory running out at every allocation: an error, the file removed. */
static void test_out_of_memory(void **state)
{
	static const struct cl_pq_node strs[] = {
		{ "a", CL_PQ_STRING, CL_PQF_OPTIONAL, 0, -1 },
		{ "b", CL_PQ_STRING, CL_PQF_REQUIRED, 0, -1 },
	};
	char path[300];
	(void)state;
	snprintf(path, sizeof(path), "%s/oom.parquet", dir);
	int failures = 0;
	for (long k = 0; k < 800; k += 3) {
		struct cl_pq_writer *w = NULL;
		/* the second half with row groups written in the background:
		 * their failures come from a later call, and the file still goes */
		struct cl_pq_write_opts o = { .codec = CL_PQ_CODEC_ZSTD, .row_group_rows = 100,
					      .threads = 1, .background = k >= 400 };
		unlink(path);
		cl_mem_fail_after(k % 400);
		int rc = cl_pq_writer_open(&w, path, strs, 2, &o);
		for (long i = 0; rc == CL_OK && i < 300; i++) {
			for (size_t c = 0; c < 2; c++)
				cl_pq_vec_push_str(cl_pq_writer_col(w, c), "xy", 1 + (size_t)(i % 2));
			rc = cl_pq_writer_rows(w, 1);
		}
		if (rc == CL_OK)
			rc = cl_pq_writer_close(w, NULL);
		else
			cl_pq_writer_abort(w);
		cl_mem_fail_reset();
		if (rc != CL_OK) {
			failures++;
			assert_int_equal(access(path, F_OK), -1);
		}
	}
	assert_true(failures > 10);
}

int main(void)
{
	snprintf(dir, sizeof(dir), "/tmp/carelake-test-pq-write-%d", (int)getpid());
	mkdir(dir, 0700);
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_roundtrip),
		cmocka_unit_test(test_string_stats),
		cmocka_unit_test(test_nested),
		cmocka_unit_test(test_errors),
		cmocka_unit_test(test_out_of_memory),
	};
	int failed = cmocka_run_group_tests(tests, NULL, NULL);
	cl_test_rmtree(dir);
	return failed;
}
