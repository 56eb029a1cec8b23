/*
 * Pipelines run by `carelake serve`: a watched folder; a file that fails
 * once, twice, then every attempt (retries with backoff, each attempt a
 * run, then the dead-letter folder with the reason and an alert); a good
 * file loads; a loaded file is not loaded again. Files with values of
 * 64 KiB to past 1 MiB, in CSV and XLSX, load (or quarantine the row)
 * with serve answering throughout, a hostile workbook is dead-lettered,
 * and a file during whose loads serve stopped `attempts` times is
 * dead-lettered at the next start instead of loaded again.
 *
 * Usage: test_pipeline /path/to/carelake CASES_DIR
 */
#include "serve_helpers.h"
#include "cl_test_xlsx.h"

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

	for (int i = 0; i < 400 * cl_test_slowdown() && n != want; i++) {
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

		for (int i = 0; i < 1000 * cl_test_slowdown() && n < k; i++) {
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
		for (int i = 0; i < 1500 * cl_test_slowdown() && access(reason, F_OK) != 0; i++)
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
	for (int i = 0; i < 1500 * cl_test_slowdown() && access(reason, F_OK) != 0; i++)
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
	for (int i = 0; i < 150 * cl_test_slowdown(); i++) {
		first_line(cmd, line, sizeof(line));
		if (atoi(line) == 2)
			break;
		usleep(100000);
	}
	assert_int_equal(atoi(line), 2);
	snprintf(cmd, sizeof(cmd), "find '%s' -name '*.parquet' | wc -l", tdir);
	for (int i = 0; i < 150 * cl_test_slowdown(); i++) {
		first_line(cmd, line, sizeof(line));
		if (atoi(line) == 1)
			break;
		usleep(100000);
	}
	assert_int_equal(atoi(line), 1);
	assert_int_equal(server_stop(&s), 0);
}

/* Writes n bytes of `c` after head and before tail into path. */
static void write_long(const char *path, const char *head, char c, size_t n, const char *tail)
{
	FILE *f = fopen(path, "w");

	assert_non_null(f);
	fputs(head, f);
	for (size_t i = 0; i < n; i++)
		fputc(c, f);
	fputs(tail, f);
	assert_int_equal(fclose(f), 0);
}

static void write_bytes(const char *path, const char *data, size_t len)
{
	FILE *f = fopen(path, "wb");

	assert_non_null(f);
	assert_int_equal(fwrite(data, 1, len, f), len);
	assert_int_equal(fclose(f), 0);
}

/* A watched folder meets values of 64 KiB, 1 MiB and past it, in CSV and
 * XLSX (a value over 8 KiB killed serve by SIGSEGV, and again at every
 * start), and a workbook declaring an entity: serve answers throughout,
 * the long values load whole, the row past 1 MiB is quarantined, the
 * workbook goes to the dead letters with why, and a file dropped after
 * them all loads. */
static void test_long_values(void **state)
{
	static const char header[] = "response_id,patient_id,ts,channel,question,score,comment\n";
	static const char inline_header[] =
		"<row><c t=\"inlineStr\"><is><t>response_id</t></is></c><c t=\"inlineStr\"><is><t>"
		"patient_id</t></is></c><c t=\"inlineStr\"><is><t>ts</t></is></c><c t=\"inlineStr\">"
		"<is><t>channel</t></is></c><c t=\"inlineStr\"><is><t>question</t></is></c>"
		"<c t=\"inlineStr\"><is><t>score</t></is></c><c t=\"inlineStr\"><is><t>comment</t>"
		"</is></c></row><row><c t=\"inlineStr\"><is><t>x1m</t></is></c><c t=\"inlineStr\">"
		"<is><t>p1</t></is></c><c t=\"inlineStr\"><is><t>2026-11-20T10:00:00Z</t></is></c>"
		"<c t=\"inlineStr\"><is><t>sms</t></is></c><c t=\"inlineStr\"><is><t>overall</t></is>"
		"</c><c><v>5</v></c><c t=\"inlineStr\"><is><t>";
	const struct cl_test_part hostile[] = {
		{ "xl/workbook.xml", "<workbook xmlns:r=\"" CL_TEST_XLSX_REL "\"><sheets>"
		  "<sheet name=\"S\" sheetId=\"1\" r:id=\"rId1\"/></sheets></workbook>", 0 },
		{ "xl/_rels/workbook.xml.rels", "<Relationships><Relationship Id=\"rId1\" "
		  "Target=\"worksheets/sheet1.xml\"/></Relationships>", 0 },
		{ "xl/worksheets/sheet1.xml", "<worksheet><sheetData><row><c t=\"s\"><v>0</v></c>"
		  "</row></sheetData></worksheet>", 0 },
		{ "xl/sharedStrings.xml", "<!DOCTYPE sst [<!ENTITY x SYSTEM \"file:///etc/passwd\">]>"
		  "<sst><si><t>&x;</t></si></sst>", 0 },
	};
	char data[300], drop[300], set_path[400], path[500], reason[600];
	const char *extra[] = { "--set", set_path, "--set", "pipelines.long.trigger=watch",
				"--set", "pipelines.long.attempts=1", NULL };
	size_t len, big = 1u << 20, n;
	struct server s;
	char *xlsx, *rows;

	(void)state;
	snprintf(data, sizeof(data), "%s/data-long", dir);
	snprintf(drop, sizeof(drop), "%s/drop-long", dir);
	mkdir(drop, 0750);
	snprintf(set_path, sizeof(set_path), "pipelines.long.path=%s", drop);
	/* 64 KiB quoted, with a column after it (what crashed); 1 MiB;
	 * 1 MiB + 1 */
	snprintf(path, sizeof(path), "%s/a-64k.csv", drop);
	write_long(path, "response_id,patient_id,ts,channel,question,score,comment\n"
			 "c64k,p1,2026-11-20T10:00:00Z,sms,\"", 'q', 65536, "\",4,c\n");
	snprintf(path, sizeof(path), "%s/b-1m.csv", drop);
	write_long(path, "response_id,patient_id,ts,channel,question,score,comment\n"
			 "c1m,p1,2026-11-20T10:00:00Z,sms,overall,4,", 'm', big, "\n");
	snprintf(path, sizeof(path), "%s/c-past.csv", drop);
	write_long(path, "response_id,patient_id,ts,channel,question,score,comment\n"
			 "cpast,p1,2026-11-20T10:00:00Z,sms,overall,4,", 'p', big + 1, "\n");
	/* a workbook of a 1 MiB inline string */
	n = strlen(inline_header);
	rows = malloc(n + big + 100);
	memcpy(rows, inline_header, n);
	memset(rows + n, 'w', big);
	strcpy(rows + n + big, "</t></is></c></row>");
	xlsx = cl_test_xlsx(rows, NULL, NULL, 0, &len);
	assert_non_null(xlsx);
	snprintf(path, sizeof(path), "%s/d-1m.xlsx", drop);
	write_bytes(path, xlsx, len);
	free(xlsx);
	free(rows);
	/* a workbook whose shared strings declare an external entity */
	xlsx = cl_test_zip(hostile, 4, &len);
	assert_non_null(xlsx);
	snprintf(path, sizeof(path), "%s/e-hostile.xlsx", drop);
	write_bytes(path, xlsx, len);
	free(xlsx);

	server_start(&s, bin, data, extra);
	wait_count(data, "SELECT count(*) FROM survey_response", 3, "the long values");
	snprintf(reason, sizeof(reason), "%s/dead-letter/long/e-hostile.xlsx.reason", data);
	for (int i = 0; i < 1500 * cl_test_slowdown() && access(reason, F_OK) != 0; i++)
		usleep(20000);
	{
		struct reply r = http(&s, "GET", "/healthz", NULL, NULL, 0);

		assert_int_equal(r.code, 200);
		free(r.body);
	}
	assert_int_equal(query_long(data, "SELECT sum(length(comment)) FROM survey_response"),
			 1 + 2 * (long)big);
	assert_int_equal(query_long(data, "SELECT length(question) FROM survey_response WHERE id = "
				    "'c64k'"), 65536);
	assert_int_equal(query_long(data, "SELECT count(*) FROM quarantine WHERE reason = "
				    "'survey_response.comment is 1048577 bytes long; a value may be "
				    "at most 1048576 bytes (1 MiB)'"), 1);
	{
		FILE *f = fopen(reason, "r");
		char buf[2048] = "";

		assert_non_null(f);
		assert_true(fread(buf, 1, sizeof(buf) - 1, f) > 0);
		fclose(f);
		assert_non_null(strstr(buf, "xl/sharedStrings.xml holds a document type declaration"));
	}
	/* serve goes on: a file dropped now loads */
	snprintf(path, sizeof(path), "%s/f-after.csv", drop);
	write_long(path, header, 'a', 0, "after,p1,2026-11-20T10:00:00Z,sms,overall,3,fine\n");
	wait_count(data, "SELECT count(*) FROM survey_response", 4, "the file dropped after");
	assert_int_equal(query_long(data, "SELECT count(*) FROM pipeline_run WHERE pipeline = "
				    "'long' AND state = 'Failed'"), 1);
	assert_int_equal(server_stop(&s), 0);
}

/* Writes the note a load of file begun and never ended leaves, with n
 * such loads. */
static void write_note(const char *data, const char *pipeline, const char *file, int n)
{
	char path[600];
	const char *base = strrchr(file, '/') + 1;
	FILE *f;

	snprintf(path, sizeof(path), "%s/dead-letter", data);
	mkdir(path, 0750);
	snprintf(path, sizeof(path), "%s/dead-letter/%s", data, pipeline);
	mkdir(path, 0750);
	snprintf(path, sizeof(path), "%s/dead-letter/%s/.loading-%s", data, pipeline, base);
	f = fopen(path, "w");
	assert_non_null(f);
	fprintf(f, "%s\n%d\n", file, n);
	assert_int_equal(fclose(f), 0);
}

/* serve stopped during three loads of a file (as it did at every start
 * on a value over 8 KiB, with three attempts): this start dead-letters it
 * with why and raises the alert; a file whose loads stopped fewer times
 * loads; no note is left. */
static void test_stopped_while_loading(void **state)
{
	char data[300], drop[300], set_path[400], poison[500], fine[500], note[600], dead[600];
	const char *extra[] = { "--set", set_path, "--set", "pipelines.drop.trigger=watch",
				"--set", "pipelines.drop.attempts=3", NULL };
	char text[200];
	struct server s;

	(void)state;
	snprintf(data, sizeof(data), "%s/data-stopped", dir);
	snprintf(drop, sizeof(drop), "%s/drop-stopped", dir);
	mkdir(drop, 0750);
	mkdir(data, 0750);
	snprintf(set_path, sizeof(set_path), "pipelines.drop.path=%s", drop);
	snprintf(poison, sizeof(poison), "%s/poison.json", drop);
	snprintf(fine, sizeof(fine), "%s/fine.json", drop);
	snprintf(text, sizeof(text), good, 201);
	write_file(poison, text);
	snprintf(text, sizeof(text), good, 202);
	write_file(fine, text);
	write_note(data, "drop", poison, 3);
	write_note(data, "drop", fine, 2);

	server_start(&s, bin, data, extra);
	wait_count(data, "SELECT count(*) FROM patient", 1, "the file that loads");
	snprintf(dead, sizeof(dead), "%s/dead-letter/drop/poison.json.reason", data);
	for (int i = 0; i < 1500 * cl_test_slowdown() && access(dead, F_OK) != 0; i++)
		usleep(20000);
	{
		char buf[2048] = "";
		FILE *f = fopen(dead, "r");

		assert_non_null(f);
		assert_true(fread(buf, 1, sizeof(buf) - 1, f) > 0);
		fclose(f);
		assert_non_null(strstr(buf, "carelake stopped during each of the last 3 loads of this "
					    "file"));
	}
	assert_int_equal(access(poison, F_OK), -1);
	assert_int_equal(query_long(data, "SELECT count(*) FROM patient WHERE id = 'pl-202'"), 1);
	wait_count(data, "SELECT count(*) FROM alert WHERE rule = 'pipeline_failed' AND message LIKE "
			 "'%carelake stopped during%'", 1, "the pipeline_failed alert");
	snprintf(note, sizeof(note), "%s/dead-letter/drop/.loading-fine.json", data);
	assert_int_equal(access(note, F_OK), -1);
	snprintf(note, sizeof(note), "%s/dead-letter/drop/.loading-poison.json", data);
	assert_int_equal(access(note, F_OK), -1);
	assert_int_equal(server_stop(&s), 0);
}

static const struct CMUnitTest tests[] = {
	cmocka_unit_test(test_fails_once),
	cmocka_unit_test(test_fails_twice),
	cmocka_unit_test(test_fails_three_times),
	cmocka_unit_test(test_interval_and_unchanged),
	cmocka_unit_test(test_sheet),
	cmocka_unit_test(test_lake_in_background),
	cmocka_unit_test(test_long_values),
	cmocka_unit_test(test_stopped_while_loading),
};

SERVE_TEST_MAIN(tests)
