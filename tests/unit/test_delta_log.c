/*
 * Reading a Delta log (src/lake/cl_delta_log.c) against known inputs and
 * outputs:
 * - commit lines: protocol, metaData (schema, partition columns,
 *   configuration), add (partition values with a null, stats, a deletion
 *   vector), remove, commitInfo, txn, actions carelake does not know, blank
 *   and CRLF lines; what the replay and the snapshot make of them;
 * - paths: percent-decoding, and every way out of the table refused with a
 *   message naming the path — `..` (also %2e%2e, %2F), absolute paths,
 *   file: URIs of another host, URIs of other storage — in add, remove,
 *   cdc, sidecar and deletion vector paths, from JSON commits and from
 *   checkpoint rows (a real checkpoint moved under another table too);
 *   absolute paths and file: URIs inside the table accepted;
 * - hostile input: truncated lines, values of the wrong JSON type, numbers
 *   past int64 or past what a field can hold, duplicate keys and files,
 *   gaps in the versions, names that are not versions, an oversized commit;
 * - checkpoints and _last_checkpoint: carelake's own (what it writes), the
 *   shared table's (version 10, 13 actions) read to the same files as its
 *   JSON commits, and a _last_checkpoint that lies is never followed;
 * - the real tables in ../shared/data/delta-tables at every version,
 *   against a replay of their JSON done here with jansson, and their
 *   history (operations, times, rows added).
 *
 * Usage: test_delta_log SHARED_DATA_DIR
 */
#include "cl_test.h"

#include <dirent.h>
#include <fcntl.h>
#include <jansson.h>
#include <limits.h>
#include <sys/stat.h>

#include "core/cl_error.h"
#include "core/cl_fs.h"
#include "core/cl_mem.h"
#include "lake/cl_delta.h"
#include "lake/cl_delta_int.h"

static const char *shared;
static char dir[256];

#define PROTOCOL "{\"protocol\":{\"minReaderVersion\":1,\"minWriterVersion\":2}}\n"
#define SCHEMA "{\\\"type\\\":\\\"struct\\\",\\\"fields\\\":[" \
	"{\\\"name\\\":\\\"id\\\",\\\"type\\\":\\\"long\\\",\\\"nullable\\\":false,\\\"metadata\\\":{}}," \
	"{\\\"name\\\":\\\"day\\\",\\\"type\\\":\\\"date\\\",\\\"nullable\\\":true,\\\"metadata\\\":{}}]}"
#define METADATA "{\"metaData\":{\"id\":\"t-1\",\"name\":\"vitals\",\"format\":{\"provider\":" \
	"\"parquet\",\"options\":{}},\"schemaString\":\"" SCHEMA "\",\"partitionColumns\":[\"day\"]," \
	"\"configuration\":{\"delta.appendOnly\":\"true\"},\"createdTime\":1700000000000}}\n"
#define BASE PROTOCOL METADATA
#define ADD(path) "{\"add\":{\"path\":\"" path "\",\"partitionValues\":{\"day\":\"2026-01-02\"}," \
	"\"size\":10,\"modificationTime\":1,\"dataChange\":true}}\n"
#define REMOVE(path) "{\"remove\":{\"path\":\"" path "\",\"deletionTimestamp\":5,\"dataChange\":true}}\n"

/* ---- helpers ---------------------------------------------------------- */

/* A new table directory under the scratch directory. */
static void table_dir(const char *name, char *out, size_t cap)
{
	char log[PATH_MAX];
	snprintf(out, cap, "%s/%s", dir, name);
	snprintf(log, sizeof(log), "%s/_delta_log", out);
	cl_test_rmtree(out);
	assert_int_equal(cl_fs_mkdirs(log), CL_OK);
}

static void write_text(const char *path, const char *text)
{
	FILE *f = fopen(path, "wb");
	assert_non_null(f);
	assert_int_equal(fwrite(text, 1, strlen(text), f), strlen(text));
	fclose(f);
}

/* Writes the commit of version v. */
static void commit(const char *tdir, int64_t v, const char *text)
{
	char path[PATH_MAX + 64];
	snprintf(path, sizeof(path), "%s/_delta_log/%020lld.json", tdir, (long long)v);
	write_text(path, text);
}

/* Replays `text` onto a fresh state (whose table root is `root`, or none). */
static int replay(const char *root, const char *text, struct cl_delta_state *st)
{
	cl_delta_state_init(st);
	if (root)
		assert_int_equal(cl_delta_state_root(st, root), CL_OK);
	return cl_delta_replay_json(st, text, strlen(text), "t.json");
}

/* Replaying `text` fails with `rc` and a detail holding `want`. */
static void refused(const char *root, const char *text, int rc, const char *want)
{
	struct cl_delta_state st;
	int got = replay(root, text, &st);
	if (got != rc || !strstr(cl_error_detail(), want))
		fail_msg("replay of %.200s: %d (%s), wanted %d with '%s'", text, got,
			 cl_error_detail(), rc, want);
	cl_delta_state_free(&st);
}

static const struct cl_delta_file *file_of(const struct cl_delta_snapshot *s, const char *path)
{
	for (size_t i = 0; i < s->nfiles; i++)
		if (strcmp(s->files[i].path, path) == 0)
			return &s->files[i];
	return NULL;
}

/* ---- commit lines ----------------------------------------------------- */

static void test_actions(void **state)
{
	char tdir[PATH_MAX];
	struct cl_delta_snapshot *s;
	(void)state;
	table_dir("actions", tdir, sizeof(tdir));
	commit(tdir, 0, "{\"commitInfo\":{\"timestamp\":1700000000123,\"operation\":\"WRITE\"}}\r\n"
	       BASE
	       "\n"
	       "{\"add\":{\"path\":\"day=2026-01-02/a%20b.parquet\",\"partitionValues\":{\"day\":"
	       "\"2026-01-02\"},\"size\":100,\"modificationTime\":1700000000000,\"dataChange\":true,"
	       "\"stats\":\"{\\\"numRecords\\\":7,\\\"minValues\\\":{\\\"id\\\":1}}\"}}\n"
	       "{\"add\":{\"path\":\"day=__HIVE_DEFAULT_PARTITION__/c.parquet\",\"partitionValues\":"
	       "{\"day\":null},\"size\":50,\"modificationTime\":1700000000001,\"dataChange\":true,"
	       "\"deletionVector\":{\"storageType\":\"u\",\"pathOrInlineDv\":\"ab^-aqEH.-t@S}K{vb[*k^\","
	       "\"offset\":4,\"sizeInBytes\":40,\"cardinality\":6}}}\n"
	       "{\"add\":{\"path\":\"gone.parquet\",\"partitionValues\":{\"day\":\"2026-01-01\"},"
	       "\"size\":9,\"modificationTime\":1,\"dataChange\":true}}\n"
	       "{\"txn\":{\"appId\":\"stream-1\",\"version\":42,\"lastUpdated\":1}}\n"
	       "{\"domainMetadata\":{\"domain\":\"d\",\"configuration\":\"{}\",\"removed\":false}}\n"
	       "{\"someFutureAction\":{\"path\":\"../../../not/a/file\"}}\n"
	       "{\"remove\":{\"path\":\"gone.parquet\",\"deletionTimestamp\":1700000000999,"
	       "\"dataChange\":true}}");   /* the last line without a newline */
	assert_int_equal(cl_delta_snapshot_load(tdir, CL_DELTA_LATEST, CL_DELTA_NO_TIME, &s),
			 CL_OK);
	assert_int_equal(s->version, 0);
	assert_int_equal(s->timestamp_ms, 1700000000123);
	assert_string_equal(s->table_id, "t-1");
	assert_string_equal(s->name, "vitals");
	assert_int_equal(s->min_reader_version, 1);
	assert_int_equal(s->min_writer_version, 2);
	assert_int_equal(s->nfields, 2);
	assert_string_equal(s->fields[0].name, "id");
	assert_string_equal(s->fields[0].type, "long");
	assert_false(s->fields[0].nullable);
	assert_string_equal(s->fields[1].type, "date");
	assert_true(s->fields[1].nullable);
	assert_int_equal(s->npartition_cols, 1);
	assert_string_equal(s->partition_cols[0], "day");
	assert_string_equal(json_string_value(json_object_get(s->configuration,
							      "delta.appendOnly")), "true");
	assert_int_equal(s->nfiles, 2);
	const struct cl_delta_file *a = file_of(s, "day=2026-01-02/a b.parquet"); /* decoded */
	assert_non_null(a);
	assert_int_equal(a->size, 100);
	assert_int_equal(a->modification_time, 1700000000000);
	assert_int_equal(a->num_records, 7);
	assert_string_equal(a->part_values[0], "2026-01-02");
	assert_false(a->has_dv);
	assert_non_null(strstr(a->stats, "minValues"));
	const struct cl_delta_file *c = file_of(s, "day=__HIVE_DEFAULT_PARTITION__/c.parquet");
	assert_non_null(c);
	assert_null(c->part_values[0]);
	assert_true(c->has_dv);
	assert_int_equal(c->num_records, -1);
	assert_null(c->stats);
	assert_int_equal(s->ntombstones, 1);
	assert_string_equal(s->tombstones[0].path, "gone.parquet");
	assert_int_equal(s->tombstones[0].deletion_ts, 1700000000999);
	cl_delta_snapshot_free(s);

	/* the counts a replay keeps, and the last commitInfo */
	struct cl_delta_state st;
	assert_int_equal(replay(NULL, BASE ADD("x.parquet") ADD("y.parquet") REMOVE("x.parquet")
				"{\"commitInfo\":{\"operation\":\"DELETE\"}}", &st), CL_OK);
	assert_int_equal(st.nadd, 2);
	assert_int_equal(st.nremove, 1);
	assert_int_equal(json_object_size(st.files), 1);
	assert_non_null(json_object_get(st.files, "y.parquet"));
	assert_non_null(json_object_get(st.tombstones, "x.parquet"));
	assert_string_equal(json_string_value(json_object_get(st.commit_info, "operation")),
			    "DELETE");
	cl_delta_state_free(&st);
}

/* The latest action for a path wins, within a commit and across them. */
static void test_duplicates(void **state)
{
	char tdir[PATH_MAX];
	struct cl_delta_snapshot *s;
	(void)state;
	refused(NULL, BASE "{\"add\":{\"path\":\"a\",\"path\":\"b\"}}\n", CL_ECORRUPT,
		"t.json line 3: not JSON");
	refused(NULL, BASE "{\"add\":{\"path\":\"a\"},\"add\":{\"path\":\"b\"}}\n", CL_ECORRUPT,
		"duplicate");
	table_dir("dups", tdir, sizeof(tdir));
	commit(tdir, 0, BASE ADD("a.parquet")
	       "{\"add\":{\"path\":\"a.parquet\",\"partitionValues\":{\"day\":null},\"size\":77,"
	       "\"modificationTime\":2,\"dataChange\":true}}\n");
	commit(tdir, 1, REMOVE("a.parquet") ADD("a.parquet") REMOVE("never-added.parquet"));
	commit(tdir, 2, ""); /* an empty commit changes nothing */
	assert_int_equal(cl_delta_snapshot_load(tdir, 0, CL_DELTA_NO_TIME, &s), CL_OK);
	assert_int_equal(s->nfiles, 1);
	assert_int_equal(s->files[0].size, 77);
	assert_null(s->files[0].part_values[0]);
	cl_delta_snapshot_free(s);
	assert_int_equal(cl_delta_snapshot_load(tdir, CL_DELTA_LATEST, CL_DELTA_NO_TIME, &s), CL_OK);
	assert_int_equal(s->version, 2);
	assert_int_equal(s->nfiles, 1); /* removed, then added again */
	assert_int_equal(s->files[0].size, 10);
	assert_int_equal(s->ntombstones, 1);
	assert_string_equal(s->tombstones[0].path, "never-added.parquet");
	cl_delta_snapshot_free(s);
}

/* ---- paths ------------------------------------------------------------ */

static void test_path_decoding(void **state)
{
	struct cl_delta_state st;
	(void)state;
	assert_int_equal(replay(NULL, BASE ADD("day=2026-01-02/a%20b%3Ac%25.parquet")
				ADD("a..b.parquet") ADD("..a/x.parquet") ADD("col=a%2Fb/f.parquet"),
				&st), CL_OK);
	assert_non_null(json_object_get(st.files, "day=2026-01-02/a b:c%.parquet"));
	assert_non_null(json_object_get(st.files, "a..b.parquet"));  /* not a `..` segment */
	assert_non_null(json_object_get(st.files, "..a/x.parquet"));
	assert_non_null(json_object_get(st.files, "col=a/b/f.parquet"));
	cl_delta_state_free(&st);
	/* escapes that are not two hex digits, or a NUL, are no URI path */
	static const char *const bad[] = { "a%zzb", "a%", "a%4", "a%+1b", "a% 1b", "%00x" };
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		char text[600];
		snprintf(text, sizeof(text), BASE "{\"add\":{\"path\":\"%s\"}}\n", bad[i]);
		refused(NULL, text, CL_ECORRUPT, "is not a valid URI path");
	}
}

/* Paths that leave the table, and what is said about each. */
static const struct {
	const char *path;        /* as in the log (JSON-escaped) */
	int rc;
	const char *why;
} hostile[] = {
	{ "../../../etc/passwd", CL_ECORRUPT, "leaves the table directory ('..')" },
	{ "..", CL_ECORRUPT, "leaves the table directory" },
	{ "day=1/../../x.parquet", CL_ECORRUPT, "leaves the table directory" },
	{ "x/..", CL_ECORRUPT, "leaves the table directory" },
	{ "%2e%2e/%2e%2e/%2e%2e/etc/passwd", CL_ECORRUPT, "leaves the table directory" },
	{ "%2E%2E%2Fetc%2Fshadow", CL_ECORRUPT, "leaves the table directory" },
	{ "..%2f..%2fetc", CL_ECORRUPT, "leaves the table directory" },
	{ "/etc/passwd", CL_ECORRUPT, "is an absolute path outside the table directory" },
	{ "%2Fetc%2Fpasswd", CL_ECORRUPT, "is an absolute path outside the table directory" },
	{ "//etc/passwd", CL_ECORRUPT, "is an absolute path outside the table directory" },
	{ "file:///etc/passwd", CL_ECORRUPT, "is an absolute path outside the table directory" },
	{ "FILE:/etc/passwd", CL_ECORRUPT, "is an absolute path outside the table directory" },
	{ "file://evil.example.org/share/x.parquet", CL_ENOTSUP, "names a file of another host" },
	{ "file:relative.parquet", CL_ECORRUPT, "a file: URI without an absolute path" },
	{ "s3://bucket/table/part-0.parquet", CL_ENOTSUP, "is a URI of another storage" },
	{ "abfss://c@acct.dfs.core.windows.net/t/p.parquet", CL_ENOTSUP, "another storage" },
	{ "https://example.org/p.parquet", CL_ENOTSUP, "another storage" },
	{ "C:/Windows/win.ini", CL_ENOTSUP, "another storage" },
};

static void test_hostile_paths(void **state)
{
	char tdir[PATH_MAX];
	(void)state;
	table_dir("hostile", tdir, sizeof(tdir));
	for (size_t i = 0; i < sizeof(hostile) / sizeof(hostile[0]); i++) {
		char text[2000], shown[300];
		snprintf(shown, sizeof(shown), "'%s'", hostile[i].path);
		/* in an add, a remove, a cdc file, from a table with a root and one without */
		snprintf(text, sizeof(text), BASE "{\"add\":{\"path\":\"%s\",\"size\":1}}\n",
			 hostile[i].path);
		refused(tdir, text, hostile[i].rc, hostile[i].why);
		refused(tdir, text, hostile[i].rc, shown); /* the message names the path */
		refused(tdir, text, hostile[i].rc, "t.json line 3: add path");
		refused(NULL, text, hostile[i].rc, shown);
		snprintf(text, sizeof(text), BASE "{\"remove\":{\"path\":\"%s\"}}\n", hostile[i].path);
		refused(tdir, text, hostile[i].rc, "remove path");
		snprintf(text, sizeof(text), BASE "{\"cdc\":{\"path\":\"%s\",\"size\":1}}\n",
			 hostile[i].path);
		refused(tdir, text, hostile[i].rc, "cdc path");
	}
	/* a control character in a path is shown escaped: no forged log line */
	refused(tdir, BASE "{\"add\":{\"path\":\"x\\n../../y\"}}\n", CL_ECORRUPT,
		"'x\\x0a../../y'");
	assert_null(strchr(cl_error_detail(), '\n'));
	/* a long one is cut, still naming where it starts */
	char text[9000];
	size_t n = (size_t)snprintf(text, sizeof(text), BASE "{\"add\":{\"path\":\"");
	for (int i = 0; i < 1000; i++)
		n += (size_t)snprintf(text + n, sizeof(text) - n, "../");
	snprintf(text + n, sizeof(text) - n, "etc\"}}\n");
	refused(tdir, text, CL_ECORRUPT, "'../../../");
	assert_true(strlen(cl_error_detail()) < 600);
	/* and a table whose log holds one does not load at all */
	char log[PATH_MAX + 64];
	snprintf(log, sizeof(log), BASE ADD("ok.parquet") ADD("%s"), "..%2F..%2Fsecret.parquet");
	commit(tdir, 0, log);
	struct cl_delta_snapshot *s;
	assert_int_equal(cl_delta_snapshot_load(tdir, CL_DELTA_LATEST, CL_DELTA_NO_TIME, &s),
			 CL_ECORRUPT);
	assert_null(s);
	assert_non_null(strstr(cl_error_detail(), "00000000000000000000.json line 4"));
	assert_non_null(strstr(cl_error_detail(), "..%2F..%2Fsecret.parquet"));
}

/* Absolute paths and file: URIs inside the table are that table's files. */
static void test_absolute_inside(void **state)
{
	char tdir[PATH_MAX], root[PATH_MAX], text[8 * PATH_MAX];
	struct cl_delta_snapshot *s;
	(void)state;
	table_dir("inside", tdir, sizeof(tdir));
	assert_non_null(realpath(tdir, root));
	snprintf(text, sizeof(text), BASE
		 "{\"add\":{\"path\":\"%s/a.parquet\",\"size\":1}}\n"
		 "{\"add\":{\"path\":\"file://%s/day=1/b%%20c.parquet\",\"size\":2}}\n"
		 "{\"add\":{\"path\":\"file://localhost%s/d.parquet\",\"size\":3}}\n"
		 "{\"add\":{\"path\":\"file:%s//e.parquet\",\"size\":4}}\n",
		 root, root, root, root);
	commit(tdir, 0, text);
	/* removed by its relative path: the same file */
	commit(tdir, 1, REMOVE("d.parquet"));
	assert_int_equal(cl_delta_snapshot_load(tdir, CL_DELTA_LATEST, CL_DELTA_NO_TIME, &s), CL_OK);
	assert_int_equal(s->nfiles, 3);
	assert_non_null(file_of(s, "a.parquet"));
	assert_non_null(file_of(s, "day=1/b c.parquet"));
	assert_non_null(file_of(s, "e.parquet"));
	assert_int_equal(s->ntombstones, 1);
	assert_string_equal(s->tombstones[0].path, "d.parquet");
	cl_delta_snapshot_free(s);

	/* a sibling whose name starts like the table's is outside it */
	snprintf(text, sizeof(text), BASE "{\"add\":{\"path\":\"%s2/x.parquet\"}}\n", root);
	refused(tdir, text, CL_ECORRUPT, "outside the table directory");
	/* the table directory itself is no file */
	snprintf(text, sizeof(text), BASE "{\"add\":{\"path\":\"%s/\"}}\n", root);
	refused(tdir, text, CL_ECORRUPT, "names no file inside the table directory");
	/* with no root known, no absolute path is taken */
	snprintf(text, sizeof(text), BASE "{\"add\":{\"path\":\"%s/a.parquet\"}}\n", root);
	refused(NULL, text, CL_ECORRUPT, "outside the table directory");
}

static void test_deletion_vectors(void **state)
{
	char tdir[PATH_MAX], root[PATH_MAX], text[4 * PATH_MAX];
	struct cl_delta_state st;
	(void)state;
	table_dir("dv", tdir, sizeof(tdir));
	assert_non_null(realpath(tdir, root));
#define DV(type, p) BASE "{\"add\":{\"path\":\"f.parquet\",\"deletionVector\":{\"storageType\":" \
	"\"" type "\",\"pathOrInlineDv\":\"" p "\",\"offset\":1,\"sizeInBytes\":36,\"cardinality\":2}}}\n"
	/* a random prefix and an id; inline; a path inside the table */
	assert_int_equal(replay(tdir, DV("u", "ab^-aqEH.-t@S}K{vb[*k^"), &st), CL_OK);
	cl_delta_state_free(&st);
	assert_int_equal(replay(tdir, DV("u", "p1/ab^-aqEH.-t@S}K{vb[*k^"), &st), CL_OK);
	cl_delta_state_free(&st);
	assert_int_equal(replay(tdir, DV("i", "wi5b=000010000siXQKl0rr91000f55c8Xg0@@D72lkbi5=-{L"),
				&st), CL_OK);
	cl_delta_state_free(&st);
	snprintf(text, sizeof(text), DV("p", "file://%s/deletion_vector_1.bin"), root);
	assert_int_equal(replay(tdir, text, &st), CL_OK);
	cl_delta_state_free(&st);
	/* and the ways out */
	refused(tdir, DV("p", "file:///etc/dv.bin"), CL_ECORRUPT, "add deletion vector 'file:///etc/dv.bin'");
	refused(tdir, DV("p", "s3://b/dv.bin"), CL_ENOTSUP, "another storage");
	refused(tdir, DV("p", "%2e%2e/dv.bin"), CL_ECORRUPT, "leaves the table directory");
	refused(tdir, DV("u", "../../ab^-aqEH.-t@S}K{vb[*k^"), CL_ECORRUPT,
		"prefix of '../../ab^-aqEH.-t@S}K{vb[*k^' leaves the table directory");
	refused(tdir, DV("u", "/tmp/ab^-aqEH.-t@S}K{vb[*k^"), CL_ECORRUPT, "leaves the table");
	refused(tdir, DV("u", "short"), CL_ECORRUPT, "shorter than 20 characters");
	refused(tdir, DV("x", "ab^-aqEH.-t@S}K{vb[*k^"), CL_ECORRUPT, "unknown storageType 'x'");
	refused(tdir, BASE "{\"remove\":{\"path\":\"f.parquet\",\"deletionVector\":{\"storageType\":"
		"\"p\",\"pathOrInlineDv\":\"/etc/dv.bin\"}}}\n", CL_ECORRUPT, "remove deletion vector");
	refused(tdir, BASE "{\"add\":{\"path\":\"f.parquet\",\"deletionVector\":\"p\"}}\n",
		CL_ECORRUPT, "deletionVector without a storageType");
#undef DV
}

/* v2 checkpoints list files in sidecars, which carelake does not read:
 * refused rather than read as a table without them, and their paths are
 * checked first. */
static void test_sidecars(void **state)
{
	(void)state;
	refused(NULL, BASE "{\"sidecar\":{\"path\":\"016ae953-37a9-438e-8683-9a9a4a79a395.parquet\","
		"\"sizeInBytes\":2304,\"modificationTime\":1}}\n", CL_ENOTSUP, "sidecar files");
	refused(NULL, BASE "{\"sidecar\":{\"path\":\"../../x.parquet\"}}\n", CL_ECORRUPT,
		"sidecar path '../../x.parquet' leaves the table directory");
	refused(NULL, BASE "{\"sidecar\":{\"sizeInBytes\":1}}\n", CL_ECORRUPT, "sidecar without a path");
}

/* Checkpoint rows are actions too: their paths are checked the same way. */
static void test_checkpoint_rows(void **state)
{
	struct cl_delta_state st;
	(void)state;
	json_t *rows = json_loads("[{\"protocol\":{\"minReaderVersion\":1},\"add\":null},"
				  "{\"add\":{\"path\":\"ok.parquet\",\"size\":1},\"remove\":null},"
				  "{\"add\":{\"path\":\"%2e%2e/x.parquet\",\"size\":1}}]", 0, NULL);
	cl_delta_state_init(&st);
	assert_int_equal(cl_delta_replay_rows(&st, rows, "cp.parquet"), CL_ECORRUPT);
	assert_non_null(strstr(cl_error_detail(), "cp.parquet row 3: add path '%2e%2e/x.parquet'"));
	assert_non_null(json_object_get(st.files, "ok.parquet"));
	cl_delta_state_free(&st);
	json_decref(rows);
}

/* ---- wrong types, huge numbers, truncated lines ------------------------ */

static void test_wrong_types(void **state)
{
	(void)state;
	static const struct {
		const char *line;
		int rc;
		const char *why;
	} cases[] = {
		{ "[1,2]", CL_ECORRUPT, "line 3: an action must be a JSON object" },
		{ "\"add\"", CL_ECORRUPT, "an action must be a JSON object" },
		{ "42", CL_ECORRUPT, "an action must be a JSON object" },
		{ "{\"add\":\"x.parquet\"}", CL_ECORRUPT, "add without a path" },
		{ "{\"add\":{\"path\":7}}", CL_ECORRUPT, "add without a path" },
		{ "{\"add\":{\"path\":\"\"}}", CL_ECORRUPT, "add without a path" },
		{ "{\"remove\":{\"path\":[\"a\"]}}", CL_ECORRUPT, "remove without a path" },
		{ "{\"add\":{\"path\":\"a\",\"size\":\"100\"}}", CL_ECORRUPT,
		  "add size is not a non-negative integer" },
		{ "{\"add\":{\"path\":\"a\",\"size\":-5}}", CL_ECORRUPT, "not a non-negative integer" },
		{ "{\"add\":{\"path\":\"a\",\"size\":1.5}}", CL_ECORRUPT, "not a non-negative integer" },
		{ "{\"add\":{\"path\":\"a\",\"modificationTime\":\"today\"}}", CL_ECORRUPT,
		  "add time is not an integer" },
		{ "{\"remove\":{\"path\":\"a\",\"deletionTimestamp\":true}}", CL_ECORRUPT,
		  "remove time is not an integer" },
		{ "{\"add\":{\"path\":\"a\",\"stats\":{\"numRecords\":1}}}", CL_ECORRUPT,
		  "add stats is not a JSON string" },
		{ "{\"add\":{\"path\":\"a\",\"dataChange\":\"yes\"}}", CL_ECORRUPT,
		  "dataChange is not a boolean" },
		{ "{\"add\":{\"path\":\"a\",\"partitionValues\":[\"2026\"]}}", CL_ECORRUPT,
		  "add partitionValues is not an object" },
		{ "{\"add\":{\"path\":\"a\",\"partitionValues\":{\"day\":2026}}}", CL_ECORRUPT,
		  "partition value of 'day' is not a string or null" },
		{ "{\"metaData\":{\"id\":\"x\"}}", CL_ECORRUPT, "metaData without a schemaString" },
		{ "{\"metaData\":{\"schemaString\":{}}}", CL_ECORRUPT, "without a schemaString" },
		{ "{\"metaData\":{\"schemaString\":\"{}\",\"partitionColumns\":\"day\"}}", CL_ECORRUPT,
		  "partitionColumns is not an array" },
		{ "{\"metaData\":{\"schemaString\":\"{}\",\"partitionColumns\":[{\"name\":\"day\"}]}}",
		  CL_ECORRUPT, "partitionColumns holds a JSON object" },
		{ "{\"protocol\":{\"minReaderVersion\":\"1\"}}", CL_ECORRUPT,
		  "protocol without minReaderVersion" },
		{ "{\"protocol\":{\"minReaderVersion\":1,\"minWriterVersion\":2.5}}", CL_ECORRUPT,
		  "protocol with a field of the wrong type" },
		{ "{\"protocol\":{\"minReaderVersion\":3,\"readerFeatures\":\"deletionVectors\"}}",
		  CL_ECORRUPT, "protocol with a field of the wrong type" },
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		char text[2000];
		snprintf(text, sizeof(text), BASE "%s\n", cases[i].line);
		refused(NULL, text, cases[i].rc, cases[i].why);
	}
	/* a commitInfo is free-form: any JSON value is taken */
	struct cl_delta_state st;
	assert_int_equal(replay(NULL, BASE "{\"commitInfo\":\"made by hand\"}\n", &st), CL_OK);
	assert_true(json_is_string(st.commit_info));
	cl_delta_state_free(&st);
}

static void test_truncated_lines(void **state)
{
	(void)state;
	refused(NULL, BASE "{\"add\":{\"path\":\"a.parq", CL_ECORRUPT, "t.json line 3: not JSON");
	refused(NULL, BASE ADD("a") "{\"add\":{\"path\":\"b\",\"size\":1", CL_ECORRUPT,
		"t.json line 4: not JSON");
	refused(NULL, PROTOCOL "{\"metaData\":{\"schemaString\":\"{\\\"type\\\":\\\"str", CL_ECORRUPT,
		"line 2: not JSON");
	refused(NULL, BASE "{\"add\":{\"path\":\"a\"}}}\n", CL_ECORRUPT, "line 3: not JSON");
	refused(NULL, BASE "{\"add\":{\"path\":\"a\\u0000b\"}}\n", CL_ECORRUPT, "not JSON");
	refused(NULL, BASE "\xff\xfe{}\n", CL_ECORRUPT, "line 3: not JSON");
	/* a line cut at its newline is whole: that is not truncation */
	struct cl_delta_state st;
	assert_int_equal(replay(NULL, BASE ADD("a"), &st), CL_OK);
	cl_delta_state_free(&st);
}

static void test_huge_numbers(void **state)
{
	char tdir[PATH_MAX];
	struct cl_delta_snapshot *s;
	(void)state;
	refused(NULL, BASE "{\"add\":{\"path\":\"a\",\"size\":99999999999999999999}}\n", CL_ECORRUPT,
		"not JSON");
	refused(NULL, BASE "{\"add\":{\"path\":\"a\",\"size\":-99999999999999999999}}\n",
		CL_ECORRUPT, "not JSON");
	/* a reader version past int: 2^32 + 1 must not pass for version 1 */
	table_dir("huge", tdir, sizeof(tdir));
	commit(tdir, 0, "{\"protocol\":{\"minReaderVersion\":4294967297,\"minWriterVersion\":2}}\n"
	       METADATA);
	assert_int_equal(cl_delta_snapshot_load(tdir, CL_DELTA_LATEST, CL_DELTA_NO_TIME, &s),
			 CL_ENOTSUP);
	assert_non_null(strstr(cl_error_detail(), "reader of version 4294967297"));
	commit(tdir, 0, "{\"protocol\":{\"minReaderVersion\":0}}\n" METADATA);
	assert_int_equal(cl_delta_snapshot_load(tdir, CL_DELTA_LATEST, CL_DELTA_NO_TIME, &s),
			 CL_ECORRUPT);
	assert_non_null(strstr(cl_error_detail(), "out of range"));
	commit(tdir, 0, "{\"protocol\":{\"minReaderVersion\":1,\"minWriterVersion\":"
	       "9223372036854775807}}\n" METADATA);
	assert_int_equal(cl_delta_snapshot_load(tdir, CL_DELTA_LATEST, CL_DELTA_NO_TIME, &s),
			 CL_ECORRUPT);
	commit(tdir, 0, "{\"protocol\":{\"minReaderVersion\":4,\"minWriterVersion\":7}}\n" METADATA);
	assert_int_equal(cl_delta_snapshot_load(tdir, CL_DELTA_LATEST, CL_DELTA_NO_TIME, &s),
			 CL_ENOTSUP);
	assert_non_null(strstr(cl_error_detail(), "reads up to 3"));

	/* counts that are no counts, and a time past any calendar */
	commit(tdir, 0, "{\"commitInfo\":{\"timestamp\":9223372036854775807}}\n" BASE
	       "{\"add\":{\"path\":\"a\",\"size\":1,\"stats\":\"{\\\"numRecords\\\":-3}\"}}\n"
	       "{\"add\":{\"path\":\"b\",\"size\":1,\"stats\":\"{\\\"numRecords\\\":"
	       "9223372036854775807}\"}}\n"
	       "{\"add\":{\"path\":\"c\",\"size\":1,\"stats\":\"{\\\"numRecords\\\":"
	       "9223372036854775807}\"}}\n"
	       "{\"add\":{\"path\":\"d\",\"size\":1,\"stats\":\"not json\"}}\n");
	char file[PATH_MAX + 64];
	struct stat st;
	snprintf(file, sizeof(file), "%s/_delta_log/%020d.json", tdir, 0);
	assert_int_equal(stat(file, &st), 0);
	assert_int_equal(cl_delta_snapshot_load(tdir, CL_DELTA_LATEST, CL_DELTA_NO_TIME, &s), CL_OK);
	assert_int_equal(s->timestamp_ms, (int64_t)st.st_mtim.tv_sec * 1000 +
					  st.st_mtim.tv_nsec / 1000000); /* the file's time */
	assert_int_equal(file_of(s, "a")->num_records, -1);
	assert_int_equal(file_of(s, "b")->num_records, INT64_MAX);
	assert_int_equal(file_of(s, "d")->num_records, -1);
	cl_delta_snapshot_free(s);
	commit(tdir, 1, "{\"add\":{\"path\":\"e\",\"stats\":\"{\\\"numRecords\\\":"
	       "9223372036854775807}\"}}\n{\"add\":{\"path\":\"f\",\"stats\":"
	       "\"{\\\"numRecords\\\":1}\"}}\n");
	commit(tdir, 2, "{\"add\":{\"path\":\"g\",\"stats\":\"{\\\"numRecords\\\":3}\"}}\n"
	       "{\"add\":{\"path\":\"h\",\"stats\":\"{\\\"numRecords\\\":4}\"}}\n");
	struct cl_delta_commit *c;
	size_t n;
	assert_int_equal(cl_delta_history(tdir, &c, &n), CL_OK);
	assert_int_equal(n, 3);
	assert_int_equal(c[0].nadd, 4);
	assert_int_equal(c[0].rows_added, -1); /* a count of -3: unknown */
	assert_int_equal(c[1].rows_added, -1); /* a sum past int64: unknown, not wrapped */
	assert_int_equal(c[2].rows_added, 7);
	cl_delta_history_free(c, n);
}

/* ---- versions --------------------------------------------------------- */

static void test_versions(void **state)
{
	char tdir[PATH_MAX], path[PATH_MAX + 64];
	struct cl_delta_snapshot *s;
	(void)state;
	table_dir("gaps", tdir, sizeof(tdir));
	commit(tdir, 0, BASE ADD("a"));
	commit(tdir, 1, ADD("b"));
	commit(tdir, 3, ADD("d"));
	/* names that are not versions are no versions */
	static const char *const others[] = {
		"2.json", "000000000000000000002.json", "0000000000000000002.json",
		"00000000000000000002.json.crc", ".00000000000000000002.json.tmp",
		"0000000000000000000x.json", "99999999999999999999.json",
		".00000000000000000002.checkpoint.parquet.tmp",
	};
	for (size_t i = 0; i < sizeof(others) / sizeof(others[0]); i++) {
		snprintf(path, sizeof(path), "%s/_delta_log/%s", tdir, others[i]);
		write_text(path, ADD("z"));
	}
	assert_int_equal(cl_delta_snapshot_load(tdir, CL_DELTA_LATEST, CL_DELTA_NO_TIME, &s),
			 CL_ECORRUPT);
	assert_non_null(strstr(cl_error_detail(), "version 2 is missing from the log"));
	assert_int_equal(cl_delta_snapshot_load(tdir, 1, CL_DELTA_NO_TIME, &s), CL_OK);
	assert_int_equal(s->nfiles, 2);
	cl_delta_snapshot_free(s);
	assert_int_equal(cl_delta_snapshot_load(tdir, 4, CL_DELTA_NO_TIME, &s), CL_ENOENT);
	assert_non_null(strstr(cl_error_detail(), "versions 0 to 3"));
	struct cl_delta_listing l;
	assert_int_equal(cl_delta_list(tdir, &l), CL_OK);
	assert_int_equal(l.ncommits, 3);
	assert_int_equal(l.ncheckpoints, 0);
	assert_int_equal(l.multipart, 0); /* a writer's temporary checkpoint is not one */
	assert_int_equal(cl_delta_latest(&l), 3);
	cl_delta_listing_free(&l);

	/* a log whose first commits are gone, with no checkpoint to stand for them */
	table_dir("nostart", tdir, sizeof(tdir));
	commit(tdir, 5, BASE ADD("a"));
	assert_int_equal(cl_delta_snapshot_load(tdir, CL_DELTA_LATEST, CL_DELTA_NO_TIME, &s),
			 CL_ECORRUPT);
	assert_non_null(strstr(cl_error_detail(), "version 0 is missing"));
	/* an empty log, and no log */
	table_dir("empty", tdir, sizeof(tdir));
	assert_int_equal(cl_delta_snapshot_load(tdir, CL_DELTA_LATEST, CL_DELTA_NO_TIME, &s),
			 CL_ENOENT);
	assert_non_null(strstr(cl_error_detail(), "_delta_log has no commits"));
	snprintf(path, sizeof(path), "%s/none", dir);
	assert_int_equal(cl_delta_snapshot_load(path, CL_DELTA_LATEST, CL_DELTA_NO_TIME, &s),
			 CL_ENOENT);
	/* a commit with no protocol or metaData */
	table_dir("nometa", tdir, sizeof(tdir));
	commit(tdir, 0, PROTOCOL ADD("a"));
	assert_int_equal(cl_delta_snapshot_load(tdir, CL_DELTA_LATEST, CL_DELTA_NO_TIME, &s),
			 CL_ECORRUPT);
	assert_non_null(strstr(cl_error_detail(), "version 0 has no metaData"));
	/* a commit file larger than a commit may be (sparse: no disk used) */
	table_dir("oversized", tdir, sizeof(tdir));
	snprintf(path, sizeof(path), "%s/_delta_log/%020d.json", tdir, 0);
	int fd = open(path, O_WRONLY | O_CREAT, 0600);
	assert_true(fd >= 0);
	assert_int_equal(ftruncate(fd, (off_t)300 << 20), 0);
	close(fd);
	assert_int_equal(cl_delta_snapshot_load(tdir, CL_DELTA_LATEST, CL_DELTA_NO_TIME, &s),
			 CL_ETOOBIG);
	assert_non_null(strstr(cl_error_detail(), "is larger than"));
}

static void test_unsupported(void **state)
{
	char tdir[PATH_MAX];
	struct cl_delta_snapshot *s;
	(void)state;
	table_dir("features", tdir, sizeof(tdir));
	commit(tdir, 0, "{\"protocol\":{\"minReaderVersion\":3,\"minWriterVersion\":7,"
	       "\"readerFeatures\":[\"deletionVectors\",\"variantType\"],\"writerFeatures\":[]}}\n"
	       METADATA);
	assert_int_equal(cl_delta_snapshot_load(tdir, CL_DELTA_LATEST, CL_DELTA_NO_TIME, &s),
			 CL_ENOTSUP);
	assert_non_null(strstr(cl_error_detail(), "reader feature 'variantType'"));
	commit(tdir, 0, "{\"protocol\":{\"minReaderVersion\":2,\"minWriterVersion\":5}}\n"
	       "{\"metaData\":{\"id\":\"x\",\"schemaString\":\"" SCHEMA "\",\"partitionColumns\":[],"
	       "\"configuration\":{\"delta.columnMapping.mode\":\"name\"}}}\n");
	assert_int_equal(cl_delta_snapshot_load(tdir, CL_DELTA_LATEST, CL_DELTA_NO_TIME, &s),
			 CL_ENOTSUP);
	assert_non_null(strstr(cl_error_detail(), "column mapping (mode name)"));
	commit(tdir, 0, PROTOCOL "{\"metaData\":{\"schemaString\":\"[1,2]\"}}\n");
	assert_int_equal(cl_delta_snapshot_load(tdir, CL_DELTA_LATEST, CL_DELTA_NO_TIME, &s),
			 CL_ECORRUPT);
	assert_non_null(strstr(cl_error_detail(), "schemaString is not a struct of fields"));
	commit(tdir, 0, PROTOCOL "{\"metaData\":{\"schemaString\":\"{\\\"fields\\\":[{\\\"type\\\":"
	       "\\\"long\\\"}]}\"}}\n");
	assert_int_equal(cl_delta_snapshot_load(tdir, CL_DELTA_LATEST, CL_DELTA_NO_TIME, &s),
			 CL_ECORRUPT);
	assert_non_null(strstr(cl_error_detail(), "a schema field without a name"));
}

/* ---- checkpoints and _last_checkpoint --------------------------------- */

/* carelake's own: what its checkpoint and _last_checkpoint say. */
static void test_own_checkpoint(void **state)
{
	char tdir[PATH_MAX], file[PATH_MAX + 64];
	struct cl_delta_snapshot *s;
	(void)state;
	table_dir("own", tdir, sizeof(tdir));
	commit(tdir, 0, BASE);
	for (int v = 1; v <= 10; v++) {
		char text[400], name[32];
		snprintf(name, sizeof(name), "day=2026-01-02/f%d.parquet", v);
		snprintf(text, sizeof(text), "{\"add\":{\"path\":\"%s\",\"partitionValues\":{\"day\":"
			 "\"2026-01-02\"},\"size\":%d,\"modificationTime\":%d,\"dataChange\":true,"
			 "\"stats\":\"{\\\"numRecords\\\":%d}\"}}\n%s", name, v, v, v,
			 v % 3 == 0 ? "{\"remove\":{\"path\":\"day=2026-01-02/f1.parquet\","
				      "\"deletionTimestamp\":9,\"dataChange\":true}}\n" : "");
		commit(tdir, v, text);
	}
	assert_int_equal(cl_delta_checkpoint(tdir, 10), CL_OK);
	/* 2 (protocol, metaData) + 9 files + 1 tombstone = 12 actions */
	snprintf(file, sizeof(file), "%s/_delta_log/_last_checkpoint", tdir);
	json_t *lc = json_load_file(file, 0, NULL);
	assert_non_null(lc);
	assert_int_equal(json_integer_value(json_object_get(lc, "version")), 10);
	assert_int_equal(json_integer_value(json_object_get(lc, "size")), 12);
	snprintf(file, sizeof(file), "%s/_delta_log/%020d.checkpoint.parquet", tdir, 10);
	struct stat st;
	assert_int_equal(stat(file, &st), 0);
	assert_int_equal(json_integer_value(json_object_get(lc, "sizeInBytes")), st.st_size);
	json_decref(lc);
	struct cl_pq_file *f;
	assert_int_equal(cl_pq_open(&f, file), CL_OK);
	assert_int_equal(cl_pq_num_rows(f), 12);
	cl_pq_close(f);
	/* the JSON before it can go: the checkpoint stands for it */
	for (int v = 0; v < 10; v++) {
		snprintf(file, sizeof(file), "%s/_delta_log/%020d.json", tdir, v);
		assert_int_equal(unlink(file), 0);
	}
	assert_int_equal(cl_delta_snapshot_load(tdir, CL_DELTA_LATEST, CL_DELTA_NO_TIME, &s), CL_OK);
	assert_int_equal(s->version, 10);
	assert_int_equal(s->nfiles, 9);
	assert_null(file_of(s, "day=2026-01-02/f1.parquet"));
	assert_int_equal(file_of(s, "day=2026-01-02/f7.parquet")->num_records, 7);
	assert_string_equal(file_of(s, "day=2026-01-02/f7.parquet")->part_values[0], "2026-01-02");
	assert_int_equal(s->ntombstones, 1);
	assert_string_equal(s->table_id, "t-1");
	cl_delta_snapshot_free(s);
	/* versions only in the checkpoint are not there to travel to */
	assert_int_equal(cl_delta_snapshot_load(tdir, 5, CL_DELTA_NO_TIME, &s), CL_ENOENT);
	assert_non_null(strstr(cl_error_detail(), "versions 10 to 10"));

	/* a _last_checkpoint that lies is never followed: the log is listed */
	static const char *const lies[] = {
		"{\"version\":99,\"size\":1}", "{\"version\":\"../../../etc/passwd\"}", "garbage",
		"{\"version\":-1}", "",
	};
	for (size_t i = 0; i < sizeof(lies) / sizeof(lies[0]); i++) {
		snprintf(file, sizeof(file), "%s/_delta_log/_last_checkpoint", tdir);
		write_text(file, lies[i]);
		assert_int_equal(cl_delta_snapshot_load(tdir, CL_DELTA_LATEST, CL_DELTA_NO_TIME, &s),
				 CL_OK);
		assert_int_equal(s->version, 10);
		assert_int_equal(s->nfiles, 9);
		cl_delta_snapshot_free(s);
	}
}

/* A checkpoint written for one table holds its paths as written: absolute
 * ones inside that table. Moved under another table, they lead out of it
 * and the checkpoint is refused. */
static void test_moved_checkpoint(void **state)
{
	char a[PATH_MAX], b[PATH_MAX], root[PATH_MAX], text[2 * PATH_MAX], from[PATH_MAX + 64],
		to[PATH_MAX + 64];
	struct cl_delta_snapshot *s;
	(void)state;
	table_dir("cp-a", a, sizeof(a));
	assert_non_null(realpath(a, root));
	snprintf(text, sizeof(text), BASE "{\"add\":{\"path\":\"%s/f.parquet\",\"size\":1}}\n", root);
	commit(a, 0, text);
	commit(a, 1, ADD("g.parquet"));
	assert_int_equal(cl_delta_checkpoint(a, 1), CL_OK);
	assert_int_equal(cl_delta_snapshot_load(a, CL_DELTA_LATEST, CL_DELTA_NO_TIME, &s), CL_OK);
	assert_non_null(file_of(s, "f.parquet"));
	cl_delta_snapshot_free(s);
	table_dir("cp-b", b, sizeof(b));
	snprintf(from, sizeof(from), "%s/_delta_log/%020d.checkpoint.parquet", a, 1);
	snprintf(to, sizeof(to), "%s/_delta_log/%020d.checkpoint.parquet", b, 1);
	assert_int_equal(link(from, to), 0);
	assert_int_equal(cl_delta_snapshot_load(b, CL_DELTA_LATEST, CL_DELTA_NO_TIME, &s),
			 CL_ECORRUPT);
	assert_non_null(strstr(cl_error_detail(), ".checkpoint.parquet row"));
	assert_non_null(strstr(cl_error_detail(), "outside the table directory"));
	assert_non_null(strstr(cl_error_detail(), "/cp-a/f.parquet"));
}

/* ---- the shared tables ------------------------------------------------ */

/* The active files of `tdir` at version v, replayed here from its JSON. */
static json_t *replayed_here(const char *tdir, int64_t v)
{
	json_t *files = json_object();
	for (int64_t i = 0; i <= v; i++) {
		char file[PATH_MAX + 64], line[65536];
		snprintf(file, sizeof(file), "%s/_delta_log/%020lld.json", tdir, (long long)i);
		FILE *f = fopen(file, "r");
		assert_non_null(f);
		while (fgets(line, sizeof(line), f)) {
			json_t *a = json_loads(line, 0, NULL);
			json_t *add = json_object_get(a, "add"), *rm = json_object_get(a, "remove");
			const char *p = json_string_value(json_object_get(add ? add : rm, "path"));
			if (p) {
				assert_null(strchr(p, '%')); /* these tables escape nothing */
				if (add)
					json_object_set(files, p, add);
				else
					json_object_del(files, p);
			}
			json_decref(a);
		}
		fclose(f);
	}
	return files;
}

static void same_files(const char *what, const struct cl_delta_snapshot *s, json_t *want)
{
	if (s->nfiles != json_object_size(want))
		fail_msg("%s: carelake has %zu files, the log %zu", what, s->nfiles,
			 json_object_size(want));
	for (size_t i = 0; i < s->nfiles; i++) {
		json_t *a = json_object_get(want, s->files[i].path);
		if (!a)
			fail_msg("%s: %s is not active", what, s->files[i].path);
		assert_int_equal(s->files[i].size, json_integer_value(json_object_get(a, "size")));
		assert_int_equal(s->files[i].modification_time,
				 json_integer_value(json_object_get(a, "modificationTime")));
	}
}

static void test_shared_tables(void **state)
{
	static const char *const tables[] = {
		"simple_table", "simple_table_with_checkpoint", "delta-0.8.0",
		"delta-0.8.0-partitioned", "basic_partitioned", "table-without-dv-small",
	};
	int checked = 0;
	(void)state;
	for (size_t t = 0; t < sizeof(tables) / sizeof(tables[0]); t++) {
		char tdir[PATH_MAX];
		struct cl_delta_listing l;
		snprintf(tdir, sizeof(tdir), "%s/delta-tables/%s", shared, tables[t]);
		assert_int_equal(cl_delta_list(tdir, &l), CL_OK);
		for (size_t i = 0; i < l.ncommits; i++) {
			struct cl_delta_snapshot *s;
			char what[200];
			snprintf(what, sizeof(what), "%s version %lld", tables[t], (long long)l.commits[i]);
			if (cl_delta_snapshot_load(tdir, l.commits[i], CL_DELTA_NO_TIME, &s) != CL_OK)
				fail_msg("%s: %s", what, cl_error_detail());
			json_t *want = replayed_here(tdir, l.commits[i]);
			same_files(what, s, want);
			json_decref(want);
			cl_delta_snapshot_free(s);
			checked++;
		}
		cl_delta_listing_free(&l);
	}
	assert_int_equal(checked, 22);
}

/* What is known of the shared tables, from their logs as other engines
 * wrote them. */
static void test_shared_known(void **state)
{
	char tdir[PATH_MAX], file[PATH_MAX + 64];
	struct cl_delta_snapshot *s;
	(void)state;
	snprintf(tdir, sizeof(tdir), "%s/delta-tables/basic_partitioned", shared);
	assert_int_equal(cl_delta_snapshot_load(tdir, CL_DELTA_LATEST, CL_DELTA_NO_TIME, &s), CL_OK);
	assert_int_equal(s->version, 1);
	assert_int_equal(s->timestamp_ms, 1674611429957);
	assert_string_equal(s->table_id, "ced0baf6-aa13-4871-af26-91e6e2787052");
	assert_int_equal(s->nfields, 3);
	assert_string_equal(s->fields[2].name, "a_float");
	assert_string_equal(s->fields[2].type, "double");
	assert_int_equal(s->npartition_cols, 1);
	assert_string_equal(s->partition_cols[0], "letter");
	assert_int_equal(s->nfiles, 6);
	int nulls = 0;
	for (size_t i = 0; i < s->nfiles; i++) {
		assert_int_equal(s->files[i].num_records, 1);
		nulls += s->files[i].part_values[0] == NULL;
		if (s->files[i].part_values[0])
			assert_true(strncmp(s->files[i].path, "letter=", 7) == 0 &&
				    s->files[i].path[7] == s->files[i].part_values[0][0]);
	}
	assert_int_equal(nulls, 1); /* letter=__HIVE_DEFAULT_PARTITION__ */
	cl_delta_snapshot_free(s);

	snprintf(tdir, sizeof(tdir), "%s/delta-tables/delta-0.8.0-partitioned", shared);
	assert_int_equal(cl_delta_snapshot_load(tdir, CL_DELTA_LATEST, CL_DELTA_NO_TIME, &s), CL_OK);
	assert_int_equal(s->npartition_cols, 3);
	const struct cl_delta_file *f = file_of(s, "year=2021/month=12/day=20/part-00000-9275fdf4-"
					       "3961-4184-baa0-1c8a2bb98104.c000.snappy.parquet");
	assert_non_null(f);
	assert_string_equal(f->part_values[0], "2021");
	assert_string_equal(f->part_values[1], "12");
	assert_string_equal(f->part_values[2], "20");
	assert_int_equal(f->size, 407);
	assert_int_equal(f->num_records, -1); /* no stats */
	cl_delta_snapshot_free(s);

	snprintf(tdir, sizeof(tdir), "%s/delta-tables/delta-0.8.0", shared);
	assert_int_equal(cl_delta_snapshot_load(tdir, 1, CL_DELTA_NO_TIME, &s), CL_OK);
	assert_int_equal(s->nfiles, 2);
	assert_int_equal(s->ntombstones, 1);
	assert_string_equal(s->tombstones[0].path,
			    "part-00001-911a94a2-43f6-4acb-8620-5e68c2654989-c000.snappy.parquet");
	assert_int_equal(s->tombstones[0].deletion_ts, 1615043776198);
	cl_delta_snapshot_free(s);
	/* by time: 15:16:10 is after version 0 (15:16:07.813), before 1 */
	assert_int_equal(cl_delta_snapshot_load(tdir, CL_DELTA_LATEST, 1615043770000, &s), CL_OK);
	assert_int_equal(s->version, 0);
	cl_delta_snapshot_free(s);
	struct cl_delta_commit *c;
	size_t n;
	assert_int_equal(cl_delta_history(tdir, &c, &n), CL_OK);
	assert_int_equal(n, 2);
	assert_string_equal(c[0].operation, "WRITE");
	assert_int_equal(c[0].timestamp_ms, 1615043767813);
	assert_int_equal(c[0].nadd, 2);
	assert_int_equal(c[0].rows_added, 5);
	assert_string_equal(c[1].operation, "DELETE");
	assert_int_equal(c[1].nadd, 1);
	assert_int_equal(c[1].nremove, 1);
	assert_int_equal(c[1].rows_added, 2);
	assert_int_equal(json_integer_value(json_object_get(c[1].info, "readVersion")), 0);
	cl_delta_history_free(c, n);

	snprintf(tdir, sizeof(tdir), "%s/delta-tables/table-without-dv-small", shared);
	assert_int_equal(cl_delta_snapshot_load(tdir, CL_DELTA_LATEST, CL_DELTA_NO_TIME, &s), CL_OK);
	assert_int_equal(s->nfiles, 1);
	assert_int_equal(s->files[0].size, 548);
	assert_int_equal(s->files[0].num_records, 10);
	assert_false(s->files[0].has_dv);
	cl_delta_snapshot_free(s);

	/* the checkpoint another engine wrote: _last_checkpoint says version
	 * 10 and 13 actions; the checkpoint holds 13 rows, and reads to the
	 * files its JSON commits give */
	snprintf(tdir, sizeof(tdir), "%s/delta-tables/simple_table_with_checkpoint", shared);
	snprintf(file, sizeof(file), "%s/_delta_log/_last_checkpoint", tdir);
	json_t *lc = json_load_file(file, 0, NULL);
	assert_int_equal(json_integer_value(json_object_get(lc, "version")), 10);
	assert_int_equal(json_integer_value(json_object_get(lc, "size")), 13);
	json_decref(lc);
	snprintf(file, sizeof(file), "%s/_delta_log/%020d.checkpoint.parquet", tdir, 10);
	struct cl_pq_file *pq;
	assert_int_equal(cl_pq_open(&pq, file), CL_OK);
	assert_int_equal(cl_pq_num_rows(pq), 13);
	cl_pq_close(pq);
	struct cl_delta_state st;
	cl_delta_state_init(&st);
	assert_int_equal(cl_delta_read_checkpoint(tdir, 10, &st), CL_OK);
	assert_int_equal(json_object_size(st.files), 11);
	assert_non_null(st.protocol);
	assert_non_null(st.metadata);
	json_t *want = replayed_here(tdir, 10);
	assert_true(json_object_size(want) == 11);
	const char *k;
	json_t *v;
	json_object_foreach(want, k, v)
		assert_non_null(json_object_get(st.files, k));
	json_decref(want);
	cl_delta_state_free(&st);
}

int main(int argc, char **argv)
{
	if (argc < 2) {
		fprintf(stderr, "usage: %s SHARED_DATA_DIR\n", argv[0]);
		return 2;
	}
	shared = argv[1];
	cl_test_tmpdir(dir, sizeof(dir));
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_actions),
		cmocka_unit_test(test_duplicates),
		cmocka_unit_test(test_path_decoding),
		cmocka_unit_test(test_hostile_paths),
		cmocka_unit_test(test_absolute_inside),
		cmocka_unit_test(test_deletion_vectors),
		cmocka_unit_test(test_sidecars),
		cmocka_unit_test(test_checkpoint_rows),
		cmocka_unit_test(test_wrong_types),
		cmocka_unit_test(test_truncated_lines),
		cmocka_unit_test(test_huge_numbers),
		cmocka_unit_test(test_versions),
		cmocka_unit_test(test_unsupported),
		cmocka_unit_test(test_own_checkpoint),
		cmocka_unit_test(test_moved_checkpoint),
		cmocka_unit_test(test_shared_tables),
		cmocka_unit_test(test_shared_known),
	};
	int failed = cmocka_run_group_tests(tests, NULL, NULL);
	if (!failed)
		cl_test_rmtree(dir);
	return failed;
}
