/*
 * Pipelines run by `carelake serve`: a watched folder; a file that fails
 * once, twice, then every attempt (retries with backoff, each attempt a
 * run, then the dead-letter folder with the reason and an alert); a good
 * file loads; a loaded file is not loaded again.
 *
 * Usage: test_pipeline /path/to/carelake CASES_DIR
 */
#include "serve_helpers.h"

#define cases shared /* the second argument: tests/data/batch */

#include <sys/stat.h>

static const char good[] = "{\"resourceType\":\"Patient\",\"id\":\"pl-%d\",\"gender\":\"female\"}";
static const char broken[] = "{\"resourceType\":\"Patient\",\"id\":";

static void write_file(const char *path, const char *text)
{
	FILE *f = fopen(path, "w");

	assert_non_null(f);
	fputs(text, f);
	fclose(f);
}

/* Attempts at the pipeline's file that failed so far: its one run counts
 * its attempts; the one in progress or that succeeded has not failed. */
static long failed_attempts(const char *data, const char *pipeline)
{
	char sql[400];

	snprintf(sql, sizeof(sql), "SELECT CASE WHEN state IN ('Queued', 'Failed') THEN attempts "
		 "ELSE attempts - 1 END FROM pipeline_run WHERE pipeline = '%s'", pipeline);
	return query_long(data, sql);
}

/* Waits until `sql` counts `want`. */
static void wait_count(const char *data, const char *sql, long want, const char *what)
{
	long n = -1;

	for (int i = 0; i < 400 && n != want; i++) {
		n = query_long(data, sql);
		if (n != want)
			usleep(50000);
	}
	if (n != want)
		fail_msg("%s: %ld, want %ld", what, n, want);
}

/* A file broken at first and repaired after `failures` failed attempts
 * loads on the next one; with 3 failures it goes to the dead letters. */
static void run_case(int failures)
{
	char data[300], drop[300], file[400], set_path[400], dead[500], reason[520], name[32];
	const char *extra[] = { "--set", set_path, "--set", "pipelines.drop.trigger=watch",
				"--set", "pipelines.drop.backoff=5s", "--set",
				"pipelines.drop.attempts=3", NULL };
	struct server s;
	char text[200];

	snprintf(data, sizeof(data), "%s/data-%d", dir, failures);
	snprintf(drop, sizeof(drop), "%s/drop-%d", dir, failures);
	mkdir(drop, 0750);
	snprintf(name, sizeof(name), "patient-%d.json", failures);
	snprintf(file, sizeof(file), "%s/%s", drop, name);
	snprintf(set_path, sizeof(set_path), "pipelines.drop.path=%s", drop);
	write_file(file, broken);
	server_start(&s, bin, data, extra);
	for (int k = 1; k <= failures && k < 3; k++) {
		long n = -1;

		for (int i = 0; i < 1000 && n < k; i++) {
			n = failed_attempts(data, "drop");
			if (n < k)
				usleep(20000);
		}
		assert_int_equal(n, k);
		/* repaired at once, well inside the backoff before the next
		 * attempt (each query here starts a process: slow under ASan) */
		if (k == failures) {
			snprintf(text, sizeof(text), good, failures);
			write_file(file, text);
		}
		/* between attempts the run waits, queued, with the error */
		assert_int_equal(query_long(data, "SELECT count(*) FROM pipeline_run WHERE pipeline = "
					    "'drop' AND state = 'Queued' AND error LIKE '%not valid JSON%'"),
				 1);
	}
	if (failures < 3) {
		wait_count(data, "SELECT count(*) FROM patient", 1, "the repaired file's patient");
		assert_int_equal(failed_attempts(data, "drop"), failures);
		assert_int_equal(query_long(data, "SELECT attempts FROM pipeline_run WHERE "
					    "pipeline = 'drop' AND state = 'Succeeded'"), failures + 1);
		assert_int_equal(access(file, F_OK), 0); /* stays where it was */
		/* the watch looks every second, but a file it loaded and that
		 * has not changed since is passed over: no run for it */
		usleep(2500000);
		assert_int_equal(query_long(data, "SELECT count(*) FROM pipeline_run WHERE "
					    "pipeline = 'drop'"), 1);
		/* changed, it is loaded again: one more run, one more patient */
		snprintf(text, sizeof(text), good, 10 + failures);
		write_file(file, text);
		wait_count(data, "SELECT count(*) FROM patient", 2, "the changed file's patient");
		wait_count(data, "SELECT count(*) FROM pipeline_run WHERE pipeline = 'drop' AND "
				 "state = 'Succeeded'", 2, "the changed file's run");
	} else {
		snprintf(dead, sizeof(dead), "%s/dead-letter/drop/%s", data, name);
		snprintf(reason, sizeof(reason), "%s.reason", dead);
		for (int i = 0; i < 1500 && access(reason, F_OK) != 0; i++)
			usleep(20000);
		assert_int_equal(access(dead, F_OK), 0);
		assert_int_equal(access(file, F_OK), -1);
		{
			FILE *f = fopen(reason, "r");
			char buf[2048] = "";

			assert_non_null(f);
			assert_true(fread(buf, 1, sizeof(buf) - 1, f) > 0);
			fclose(f);
			assert_non_null(strstr(buf, "attempts: 3"));
			assert_non_null(strstr(buf, "not valid JSON"));
		}
		assert_int_equal(failed_attempts(data, "drop"), 3);
		assert_int_equal(query_long(data, "SELECT count(*) FROM pipeline_run WHERE "
					    "pipeline = 'drop' AND state = 'Failed' AND attempts = 3"), 1);
		/* the alert, as any other */
		wait_count(data, "SELECT count(*) FROM alert WHERE rule = 'pipeline_failed' AND "
				 "device_id = 'drop' AND message LIKE '%dead-letter%'", 1,
			   "the pipeline_failed alert");
		{
			struct reply r = http(&s, "GET", "/api/v1/alerts", s.token, NULL, 0);

			assert_non_null(strstr(r.body, "\"rule\":\"pipeline_failed\""));
			free(r.body);
		}
		assert_int_equal(query_long(data, "SELECT count(*) FROM patient"), 0);
		/* status shows it */
		{
			char cmd[1200], out[8192] = "";
			FILE *f;

			snprintf(cmd, sizeof(cmd), "'%s' status --data '%s' --set '%s' --json", bin, data,
				 set_path);
			f = popen(cmd, "r");
			assert_non_null(f);
			assert_true(fread(out, 1, sizeof(out) - 1, f) > 0);
			assert_int_equal(pclose(f), 0);
			assert_non_null(strstr(out, "\"dead_letters\": 1"));
			assert_non_null(strstr(out, "\"state\": \"Failed\""));
			assert_non_null(strstr(out, "\"trigger\": \"watch\""));
		}
	}
	assert_int_equal(server_stop(&s), 0);
}

static void test_fails_once(void **state)
{
	(void)state;
	run_case(1);
}

static void test_fails_twice(void **state)
{
	(void)state;
	run_case(2);
}

static void test_fails_three_times(void **state)
{
	(void)state;
	run_case(3);
}

/* Interval trigger, several files, one already loaded: loads the new. */
static void test_interval_and_unchanged(void **state)
{
	char data[300], drop[300], set_path[400], f1[400], f2[400], text[200];
	const char *extra[] = { "--set", set_path, "--set", "pipelines.nightly.trigger=every 1s",
				"--set", "pipelines.nightly.source=rosters", NULL };
	struct server s;

	(void)state;
	snprintf(data, sizeof(data), "%s/data-interval", dir);
	snprintf(drop, sizeof(drop), "%s/drop-interval", dir);
	mkdir(drop, 0750);
	snprintf(set_path, sizeof(set_path), "pipelines.nightly.path=%s/*.json", drop);
	snprintf(f1, sizeof(f1), "%s/a.json", drop);
	snprintf(f2, sizeof(f2), "%s/b.json", drop);
	snprintf(text, sizeof(text), good, 101);
	write_file(f1, text);
	server_start(&s, bin, data, extra);
	wait_count(data, "SELECT count(*) FROM patient", 1, "the first file");
	snprintf(text, sizeof(text), good, 102);
	write_file(f2, text);
	wait_count(data, "SELECT count(*) FROM patient", 2, "the second file");
	assert_int_equal(query_long(data, "SELECT count(*) FROM bronze_file WHERE source = "
				    "'rosters'"), 2);
	assert_int_equal(query_long(data, "SELECT count(*) FROM pipeline_run WHERE pipeline = "
				    "'nightly' AND trigger = 'every 1s' AND state = 'Failed'"), 0);
	assert_int_equal(server_stop(&s), 0);
}

/* A pipeline reads the sheet it names: Notes has no known header, so the
 * workbook goes to the dead letters with that reason. */
static void test_sheet(void **state)
{
	char data[300], drop[300], set_path[400], src[600], dst[400], cmd[1200], reason[500];
	const char *extra[] = { "--set", set_path, "--set", "pipelines.book.trigger=watch",
				"--set", "pipelines.book.sheet=Notes", "--set",
				"pipelines.book.attempts=1", NULL };
	struct server s;

	(void)state;
	snprintf(data, sizeof(data), "%s/data-sheet", dir);
	snprintf(drop, sizeof(drop), "%s/drop-sheet", dir);
	mkdir(drop, 0750);
	snprintf(set_path, sizeof(set_path), "pipelines.book.path=%s", drop);
	snprintf(src, sizeof(src), "%s/xlsx-patients/patients.xlsx", cases);
	snprintf(dst, sizeof(dst), "%s/patients.xlsx", drop);
	snprintf(cmd, sizeof(cmd), "cp '%s' '%s'", src, dst);
	assert_int_equal(system(cmd), 0);
	server_start(&s, bin, data, extra);
	snprintf(reason, sizeof(reason), "%s/dead-letter/book/patients.xlsx.reason", data);
	for (int i = 0; i < 1500 && access(reason, F_OK) != 0; i++)
		usleep(20000);
	{
		FILE *f = fopen(reason, "r");
		char buf[2048] = "";

		assert_non_null(f);
		assert_true(fread(buf, 1, sizeof(buf) - 1, f) > 0);
		fclose(f);
		assert_non_null(strstr(buf, "the sheet's first row is no known CSV header"));
	}
	assert_int_equal(server_stop(&s), 0);
}

/* A shell command's first line of output. */
static void first_line(const char *cmd, char *line, size_t cap)
{
	FILE *p = popen(cmd, "r");
	line[0] = 0;
	if (p && !fgets(line, (int)cap, p))
		line[0] = 0;
	if (p)
		pclose(p);
}

/* serve keeps the Delta tables in step with what pipelines load, and
 * vacuums the files they no longer hold once past the retention. */
static void test_lake_in_background(void **state)
{
	char data[300], drop[300], file[400], set_path[400], text[200], tdir[400], cmd[1200];
	char line[256];
	const char *extra[] = { "--set", set_path, "--set", "pipelines.drop.trigger=watch",
				"--set", "lake.interval=0s", "--set", "lake.maintenance_interval=1s",
				"--set", "lake.retention=1s", NULL };
	struct server s;
	(void)state;
	snprintf(data, sizeof(data), "%s/data-lake", dir);
	snprintf(drop, sizeof(drop), "%s/drop-lake", dir);
	mkdir(drop, 0750);
	snprintf(set_path, sizeof(set_path), "pipelines.drop.path=%s", drop);
	snprintf(tdir, sizeof(tdir), "%s/silver/patient", data);
	server_start(&s, bin, data, extra);
	snprintf(file, sizeof(file), "%s/a.json", drop);
	snprintf(text, sizeof(text), good, 101);
	write_file(file, text);
	wait_count(data, "SELECT count(*) FROM patient", 1, "the first patient");
	snprintf(file, sizeof(file), "%s/b.json", drop);
	snprintf(text, sizeof(text), good, 102);
	write_file(file, text);
	wait_count(data, "SELECT count(*) FROM patient", 2, "the second patient");
	/* the table was rewritten with both; the replaced file is deleted by
	 * the background vacuum a second or two later */
	snprintf(cmd, sizeof(cmd), "'%s' table show '%s' --format csv | grep -c pl-10", bin, tdir);
	for (int i = 0; i < 150; i++) {
		first_line(cmd, line, sizeof(line));
		if (atoi(line) == 2)
			break;
		usleep(100000);
	}
	assert_int_equal(atoi(line), 2);
	snprintf(cmd, sizeof(cmd), "find '%s' -name '*.parquet' | wc -l", tdir);
	for (int i = 0; i < 150; i++) {
		first_line(cmd, line, sizeof(line));
		if (atoi(line) == 1)
			break;
		usleep(100000);
	}
	assert_int_equal(atoi(line), 1);
	assert_int_equal(server_stop(&s), 0);
}

static const struct CMUnitTest tests[] = {
	cmocka_unit_test(test_fails_once),
	cmocka_unit_test(test_fails_twice),
	cmocka_unit_test(test_fails_three_times),
	cmocka_unit_test(test_interval_and_unchanged),
	cmocka_unit_test(test_sheet),
	cmocka_unit_test(test_lake_in_background),
};

SERVE_TEST_MAIN(tests)
