/*
 * `carelake audit verify|query|report` through the binary, and the CLI's
 * own reads recorded:
 * - query, export and bronze dump each append one record (os:<user>, the
 *   action, what was asked) before giving anything out; when the trail
 *   cannot be written they give nothing out and exit 2;
 * - query filters by patient, principal, action and time and prints
 *   table, json and csv; report lists one patient's accesses (refusals
 *   too) and the count per principal;
 * - verify exits 0 on the intact trail and 1 naming the record when one
 *   is changed, removed, inserted or swapped (at the start, middle and
 *   end), or when only other keys are trusted.
 *
 * Usage: test_audit_cli /path/to/carelake SHARED_DATA_DIR
 */
#include "cl_test.h"

#include <jansson.h>
#include <pwd.h>
#include <sys/stat.h>

#include "audit/cl_audit.h"

static const char *bin, *shared;
static char dir[256], data[300], trail[320];

#include "cli_helpers.h"

/* The session a server would have recorded: reads, a search, a refusal,
 * an acknowledgement, a break-glass read. */
static void record_session(void)
{
	static const char *const p1[] = { "pat-1" }, *const p2[] = { "pat-2" },
			  *const both[] = { "pat-1", "pat-2" };
	const struct cl_audit_record recs[] = {
		{ 1764910800000000, "tk01", "clinician", "10.0.0.5", "r1", "read", "vitals", NULL, 0,
		  p1, 1, "from=2025-12-05", 12, 200, NULL, NULL },
		{ 1764914400000000, "tk02", "clinician", "10.0.0.6", "r2", "search", "alerts", NULL, 0,
		  both, 2, "open=true", 3, 200, NULL, NULL },
		{ 1764918000000000, "tk09", "engineer", "10.0.0.9", "r3", "read", "vitals", NULL, 0,
		  p1, 1, NULL, 0, 403, NULL, NULL },
		{ 1764921600000000, "tk01", "clinician", "10.0.0.5", "r4", "ack", "alerts", NULL, 0,
		  p2, 1, NULL, 1, 200, NULL, NULL },
		{ 1764997200000000, "tk03", "clinician", "10.0.0.7", "r5", "read", "vitals", NULL, 0,
		  p1, 1, NULL, 40, 200, "cardiac arrest on ward 4", NULL },
	};
	struct cl_audit_options o;
	struct cl_audit *a;
	char keys[400];

	snprintf(keys, sizeof(keys), "%s.keys", data);
	cl_audit_options_from(&o, NULL, keys);
	assert_int_equal(cl_audit_open(trail, "test", &o, &a), 0);
	for (size_t i = 0; i < sizeof(recs) / sizeof(recs[0]); i++)
		assert_int_equal(cl_audit_append_sync(a, &recs[i]), 0);
	cl_audit_close(a);
}

static int lines_of(const char *text)
{
	int n = 0;

	for (; *text; text++)
		n += *text == '\n';
	return n;
}

static void test_cli_reads_recorded(void **state)
{
	char csv[600], out[600], user[100];
	struct passwd *pw = getpwuid(geteuid());
	struct result r;

	(void)state;
	snprintf(user, sizeof(user), "os:%s", pw->pw_name);
	snprintf(csv, sizeof(csv), "%s/synthea-csv", shared);
	r = run(NULL, "ingest", "--data", data, csv, NULL);
	assert_int_equal(r.status, 0);
	done(&r);
	r = run(NULL, "query", "--data", data, "select count(*) from patient", NULL);
	assert_int_equal(r.status, 0);
	done(&r);
	snprintf(out, sizeof(out), "%s/patient.csv", dir);
	r = run(NULL, "export", "--data", data, "--table", "patient", "--format", "csv", "--out",
		out, NULL);
	assert_int_equal(r.status, 0);
	done(&r);
	r = run(NULL, "bronze", "dump", "--data", data, "--limit", "1", NULL);
	assert_int_equal(r.status, 0);
	done(&r);

	r = run(NULL, "audit", "query", "--data", data, "--format", "json", NULL);
	assert_int_equal(r.status, 0);
	json_t *rows = json_loads(r.out, 0, NULL), *row;
	done(&r);
	assert_int_equal(json_array_size(rows), 3);
	const char *want[3][3] = { { "query", "sql", "select count(*) from patient" },
				   { "export", "patient", "--table patient --format csv" },
				   { "read", "bronze", "dump --source (every source)" } };
	size_t i;
	json_array_foreach(rows, i, row) {
		assert_string_equal(json_string_value(json_object_get(row, "principal")), user);
		assert_string_equal(json_string_value(json_object_get(row, "action")), want[i][0]);
		assert_string_equal(json_string_value(json_object_get(row, "resource_type")),
				    want[i][1]);
		assert_non_null(strstr(json_string_value(json_object_get(row, "query")), want[i][2]));
	}
	json_decref(rows);
	r = run(NULL, "audit", "query", "--data", data, "--action", "export", "--format", "csv",
		NULL);
	assert_int_equal(r.status, 0);
	assert_int_equal(lines_of(r.out), 2);
	assert_int_equal(strncmp(r.out, "seq,time,principal,role,client,action,", 38), 0);
	done(&r);

	/* no trail to write to: nothing is given out */
	char moved[400];
	snprintf(moved, sizeof(moved), "%s.moved", trail);
	assert_int_equal(rename(trail, moved), 0);
	FILE *f = fopen(trail, "w"); /* a file where the directory was */
	fclose(f);
	r = run(NULL, "query", "--data", data, "select id from patient", NULL);
	assert_int_equal(r.status, 2);
	assert_string_equal(r.out, "");
	assert_non_null(strstr(r.err, "the audit trail cannot record this query"));
	done(&r);
	snprintf(out, sizeof(out), "%s/unrecorded.csv", dir);
	r = run(NULL, "export", "--data", data, "--table", "patient", "--format", "csv", "--out",
		out, NULL);
	assert_int_equal(r.status, 2);
	assert_int_equal(access(out, F_OK), -1);
	done(&r);
	unlink(trail);
	assert_int_equal(rename(moved, trail), 0);
}

static void test_query_and_report(void **state)
{
	struct result r;

	(void)state;
	record_session();
	r = run(NULL, "audit", "query", "--data", data, "--patient", "pat-1", "--format", "json",
		NULL);
	assert_int_equal(r.status, 0);
	json_t *rows = json_loads(r.out, 0, NULL);
	done(&r);
	assert_int_equal(json_array_size(rows), 4); /* reads, the search, the refusal, break-glass */
	json_decref(rows);
	r = run(NULL, "audit", "query", "--data", data, "--principal", "tk01", NULL);
	assert_int_equal(r.status, 0);
	assert_non_null(strstr(r.out, "(2 records)"));
	done(&r);
	r = run(NULL, "audit", "query", "--data", data, "--since", "2025-12-05T06:00:00Z",
		"--until", "2025-12-05", "--format", "csv", NULL);
	assert_int_equal(r.status, 0);
	assert_int_equal(lines_of(r.out), 1 + 3); /* 06:00, 07:00, 08:00 of that day */
	done(&r);
	r = run(NULL, "audit", "query", "--data", data, "--patient", "pat-1", "--limit", "1",
		"--format", "csv", NULL);
	assert_int_equal(lines_of(r.out), 2);
	done(&r);

	r = run(NULL, "audit", "report", "--data", data, "--patient", "pat-1", "--format", "json",
		NULL);
	assert_int_equal(r.status, 0);
	json_t *rep = json_loads(r.out, 0, NULL);
	done(&r);
	assert_non_null(rep);
	assert_string_equal(json_string_value(json_object_get(rep, "patient")), "pat-1");
	assert_int_equal(json_array_size(json_object_get(rep, "accesses")), 4);
	json_t *by = json_object_get(rep, "by_principal");
	assert_int_equal(json_integer_value(json_object_get(by, "tk01")), 1);
	assert_int_equal(json_integer_value(json_object_get(by, "tk02")), 1);
	assert_int_equal(json_integer_value(json_object_get(by, "tk03")), 1);
	assert_int_equal(json_integer_value(json_object_get(by, "tk09")), 1);
	json_t *last = json_array_get(json_object_get(rep, "accesses"), 3);
	assert_string_equal(json_string_value(json_object_get(last, "break_glass")),
			    "cardiac arrest on ward 4");
	assert_int_equal(json_integer_value(json_object_get(json_array_get(
				 json_object_get(rep, "accesses"), 2), "status")), 403);
	json_decref(rep);
	r = run(NULL, "audit", "report", "--data", data, "--patient", "pat-1", NULL);
	assert_int_equal(r.status, 0);
	assert_non_null(strstr(r.out, "access to the data of patient pat-1"));
	assert_non_null(strstr(r.out, "break-glass: cardiac arrest on ward 4"));
	assert_non_null(strstr(r.out, "by principal:"));
	done(&r);

	/* mistakes */
	const char *const bad[][8] = {
		{ "audit", "report", "--data", data, NULL },
		{ "audit", "query", "--data", data, "--since", "yesterday", NULL },
		{ "audit", "query", "--data", data, "--format", "xml", NULL },
		{ "audit", "erase", "--data", data, NULL },
		{ "audit", "--data", data, NULL },
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		r = run_argv(NULL, bad[i]);
		assert_int_equal(r.status, 2);
		assert_true(strlen(r.err) > 10);
		done(&r);
	}
}

/* ---- tampering ------------------------------------------------------- */

static char *original;

/* The trail's first file, read or replaced. */
static char *trail_file(void)
{
	static char path[400];

	snprintf(path, sizeof(path), "%s/audit-000001.jsonl", trail);
	return path;
}

static void write_text(const char *text)
{
	FILE *f = fopen(trail_file(), "w");

	assert_non_null(f);
	fputs(text, f);
	fclose(f);
}

/* Line i (from 0) of text: its start and length with the newline. */
static const char *line_at(const char *text, int i, size_t *len)
{
	const char *p = text;

	while (i-- > 0)
		p = strchr(p, '\n') + 1;
	*len = (size_t)(strchr(p, '\n') - p) + 1;
	return p;
}

/* verify exits 1 and names `seq`. */
static void altered(const char *text, const char *how, int seq)
{
	char want[40];
	struct result r;

	write_text(text);
	r = run(NULL, "audit", "verify", "--data", data, NULL);
	if (r.status != 1)
		fail_msg("%s: verify exited %d: %s%s", how, r.status, r.out, r.err);
	assert_non_null(strstr(r.out, "ALTERED: audit-000001.jsonl line"));
	snprintf(want, sizeof(want), "(seq %d)", seq);
	if (!strstr(r.out, want))
		fail_msg("%s: verify does not name seq %d: %s", how, seq, r.out);
	done(&r);
}

static void test_verify(void **state)
{
	struct result r;
	char buf[1 << 16];
	size_t n, l1, l2;
	int nlines;

	(void)state;
	r = run(NULL, "audit", "verify", "--data", data, NULL);
	assert_int_equal(r.status, 0);
	assert_non_null(strstr(r.out, "intact: "));
	done(&r);
	original = slurp(trail_file());
	nlines = lines_of(original);
	assert_true(nlines >= 10);

	/* a record changed: start, middle, end (the last line is a checkpoint:
	 * change the record before it) */
	for (int at = 0; at < 3; at++) {
		int i = at == 0 ? 0 : at == 1 ? nlines / 2 : nlines - 2;
		const char *p = line_at(original, i, &l1), *v = strstr(p, "\"time\":\"20");
		snprintf(buf, sizeof(buf), "%s", original);
		buf[(v - original) + 10] = buf[(v - original) + 10] == '2' ? '1' : '2';
		altered(buf, "a changed record", i + 1);
	}
	/* a record removed at the start */
	{
		const char *p = line_at(original, 0, &l1);
		n = (size_t)snprintf(buf, sizeof(buf), "%s", p + l1);
		altered(buf, "a removed record", 1); /* named as the one missing */
	}
	/* two records swapped in the middle */
	{
		int i = nlines / 2;
		const char *a = line_at(original, i, &l1), *b = line_at(original, i + 1, &l2);
		size_t off = (size_t)(a - original);
		memcpy(buf, original, off);
		memcpy(buf + off, b, l2);
		memcpy(buf + off + l2, a, l1);
		snprintf(buf + off + l1 + l2, sizeof(buf) - off - l1 - l2, "%s", b + l2);
		altered(buf, "swapped records", i + 2);
	}
	/* a record inserted at the end: a copy of the one before the last */
	{
		const char *a = line_at(original, nlines - 2, &l1);
		n = strlen(original);
		memcpy(buf, original, n);
		memcpy(buf + n, a, l1);
		buf[n + l1] = '\0';
		altered(buf, "an inserted record", nlines - 1);
	}
	write_text(original);
	r = run(NULL, "audit", "verify", "--data", data, "--json", NULL);
	assert_int_equal(r.status, 0);
	assert_non_null(strstr(r.out, "\"ok\": true"));
	done(&r);

	/* trusting only another key: the checkpoints are not trusted */
	char keys[400];
	snprintf(keys, sizeof(keys), "%s/other.pub", dir);
	FILE *f = fopen(keys, "w");
	fputs("0000000000000000000000000000000000000000000000000000000000000001\n", f);
	fclose(f);
	r = run(NULL, "audit", "verify", "--data", data, "--trusted-keys", keys, NULL);
	assert_int_equal(r.status, 1);
	done(&r);
	free(original);
}

static int setup(void **state)
{
	(void)state;
	cl_test_tmpdir(dir, sizeof(dir));
	snprintf(data, sizeof(data), "%s/data", dir);
	snprintf(trail, sizeof(trail), "%s/audit", data);
	unsetenv("CARELAKE_KEYS");
	return 0;
}

static int teardown(void **state)
{
	(void)state;
	cl_test_rmtree(dir);
	return 0;
}

int main(int argc, char **argv)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_cli_reads_recorded),
		cmocka_unit_test(test_query_and_report),
		cmocka_unit_test(test_verify),
	};

	if (argc != 3) {
		fprintf(stderr, "usage: %s CARELAKE SHARED_DATA_DIR\n", argv[0]);
		return 2;
	}
	bin = argv[1];
	shared = argv[2];
	return cmocka_run_group_tests(tests, setup, teardown);
}
