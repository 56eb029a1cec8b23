/*
 * The carelake binary end to end: --version and every --help, `bronze
 * append` then `bronze dump` (NDJSON parsed back), `verify` in text and
 * JSON, corruption found by verify (exit 1), clear one-line errors with
 * exit 2 for bad input (and for `token issue --broker-passwd` misused),
 * config files, a file name that tries to forge a log line, and `demo`.
 *
 * Usage: test_cli /path/to/carelake
 */
#include "cl_test.h"

#include <jansson.h>

static const char *bin;
static char dir[256];

#include "cli_helpers.h"

static void test_version_and_help(void **state)
{
	static const char *const cmds[] = { "demo", "verify", "bronze", "config", "serve", "simulate" };
	struct result r;

	(void)state;
	r = run(NULL, "--version", NULL);
	assert_int_equal(r.status, 0);
	assert_non_null(strstr(r.out, "carelake 0."));
	done(&r);
	r = run(NULL, "--help", NULL);
	assert_int_equal(r.status, 0);
	for (size_t i = 0; i < 6; i++)
		assert_non_null(strstr(r.out, cmds[i]));
	done(&r);
	for (size_t i = 0; i < 6; i++) {
		r = run(NULL, cmds[i], "--help", NULL);
		assert_int_equal(r.status, 0);
		assert_non_null(strstr(r.out, "usage: carelake"));
		assert_non_null(strstr(r.out, "--data DIR"));
		done(&r);
	}
	r = run(NULL, "frobnicate", NULL);
	assert_int_equal(r.status, 2);
	assert_non_null(strstr(r.err, "no command 'frobnicate'"));
	done(&r);
	r = run(NULL, NULL);
	assert_int_equal(r.status, 2);
	done(&r);
}

static void test_append_dump_verify(void **state)
{
	char data[300], input[300];
	struct result r;
	FILE *f;
	int lines = 0;

	(void)state;
	snprintf(data, sizeof(data), "%s/d1", dir);
	snprintf(input, sizeof(input), "%s/events.ndjson", dir);
	f = fopen(input, "w");
	for (int i = 0; i < 250; i++)
		fprintf(f, "{\"id\":\"e%d\",\"patient_id\":\"patient-%04d\",\"type\":\"heart_rate\",\"value\":%d}\n",
			i, i % 7, 60 + i % 40);
	fprintf(f, "\nnot json at all\n");
	fclose(f);

	r = run(input, "bronze", "append", "--data", data, "--source", "vitals", "-", NULL);
	assert_int_equal(r.status, 0);
	assert_non_null(strstr(r.out, "appended 251 records to vitals, offsets 0..250"));
	done(&r);

	r = run(NULL, "bronze", "dump", "--data", data, NULL);
	assert_int_equal(r.status, 0);
	for (char *line = strtok(r.out, "\n"); line; line = strtok(NULL, "\n")) {
		json_error_t err;
		json_t *j = json_loads(line, 0, &err);

		assert_non_null(j);
		assert_string_equal(json_string_value(json_object_get(j, "source")), "vitals");
		assert_int_equal(json_integer_value(json_object_get(j, "offset")), lines);
		assert_non_null(json_object_get(j, "ingest_ts"));
		if (lines < 250) {
			char id[16];

			snprintf(id, sizeof(id), "e%d", lines);
			assert_string_equal(json_string_value(json_object_get(
				json_object_get(j, "record"), "id")), id);
		} else {
			/* "not json at all", base64 */
			assert_string_equal(json_string_value(json_object_get(j, "record_base64")),
					    "bm90IGpzb24gYXQgYWxs");
		}
		json_decref(j);
		lines++;
	}
	assert_int_equal(lines, 251);
	done(&r);

	r = run(NULL, "bronze", "dump", "--data", data, "--source", "vitals",
		"--from", "200", "--limit", "3", NULL);
	assert_int_equal(r.status, 0);
	assert_non_null(strstr(r.out, "\"offset\":200"));
	assert_non_null(strstr(r.out, "\"offset\":202"));
	assert_null(strstr(r.out, "\"offset\":203"));
	done(&r);

	r = run(NULL, "verify", "--data", data, "--json", NULL);
	assert_int_equal(r.status, 0);
	{
		json_error_t err;
		json_t *j = json_loads(r.out, 0, &err), *s;

		assert_non_null(j);
		assert_int_equal(json_integer_value(json_object_get(j, "bronze_records")), 251);
		assert_int_equal(json_integer_value(json_object_get(j, "bronze_segments")), 1);
		assert_true(json_integer_value(json_object_get(j, "bronze_bytes")) > 251 * 24);
		assert_int_equal(json_integer_value(json_object_get(j, "corrupt_records")), 0);
		assert_true(json_is_true(json_object_get(j, "ok")));
		s = json_object_get(json_object_get(j, "sources"), "vitals");
		assert_non_null(s);
		assert_int_equal(json_integer_value(json_object_get(s, "bronze_records")), 251);
		json_decref(j);
	}
	done(&r);

	r = run(NULL, "verify", "--data", data, NULL);
	assert_int_equal(r.status, 0);
	assert_non_null(strstr(r.out, "vitals"));
	assert_non_null(strstr(r.out, "OK"));
	done(&r);
}

static void test_verify_finds_corruption(void **state)
{
	char data[300], input[300], cmd[800];
	struct result r;
	FILE *f;

	(void)state;
	snprintf(data, sizeof(data), "%s/d2", dir);
	snprintf(input, sizeof(input), "%s/small.ndjson", dir);
	f = fopen(input, "w");
	for (int i = 0; i < 40; i++)
		fprintf(f, "{\"n\":%d,\"pad\":\"xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx\"}\n", i);
	fclose(f);
	r = run(NULL, "bronze", "append", "--data", data, "--source", "s1", input, NULL);
	assert_int_equal(r.status, 0);
	done(&r);
	/* flip one byte in the middle of the segment */
	snprintf(cmd, sizeof(cmd),
		 "f=$(ls %s/bronze/s1/dt=*/*.seg) && printf 'Z' | dd of=$f bs=1 seek=700 conv=notrunc status=none",
		 data);
	assert_int_equal(system(cmd), 0);
	r = run(NULL, "verify", "--data", data, "--json", NULL);
	assert_int_equal(r.status, 1);
	{
		json_error_t err;
		json_t *j = json_loads(r.out, 0, &err);

		assert_non_null(j);
		assert_int_equal(json_integer_value(json_object_get(j, "corrupt_records")), 1);
		assert_int_equal(json_integer_value(json_object_get(j, "bronze_records")), 39);
		assert_true(json_is_false(json_object_get(j, "ok")));
		assert_true(json_array_size(json_object_get(j, "problems")) >= 1);
		json_decref(j);
	}
	done(&r);
	/* dump reports it on stderr, prints the rest, exits 1 */
	r = run(NULL, "bronze", "dump", "--data", data, NULL);
	assert_int_equal(r.status, 1);
	assert_non_null(strstr(r.err, "corrupt data"));
	assert_non_null(strstr(r.out, "\"offset\":39"));
	done(&r);
}

static void test_errors(void **state)
{
	char data[300], cfg[300];
	struct result r;
	FILE *f;

	(void)state;
	snprintf(data, sizeof(data), "%s/none", dir);
	r = run(NULL, "verify", "--data", data, NULL);
	assert_int_equal(r.status, 2);
	assert_non_null(strstr(r.err, "carelake verify: data directory"));
	assert_non_null(strstr(r.err, "does not exist"));
	done(&r);
	r = run(NULL, "verify", "--bogus", NULL);
	assert_int_equal(r.status, 2);
	done(&r);
	r = run(NULL, "bronze", "dump", "--data", dir, "--from", "-5", NULL);
	assert_int_equal(r.status, 2);
	assert_non_null(strstr(r.err, "--from"));
	done(&r);
	r = run(NULL, "bronze", "append", "--data", dir, "--source", "Bad/Name", "/dev/null", NULL);
	assert_int_equal(r.status, 2);
	assert_non_null(strstr(r.err, "invalid"));
	done(&r);
	r = run(NULL, "bronze", "explode", NULL);
	assert_int_equal(r.status, 2);
	assert_non_null(strstr(r.err, "unknown subcommand 'explode'"));
	done(&r);
	/* generate where one of its files cannot be written: said, not ignored */
	{
		char out[400], blocker[420];

		snprintf(out, sizeof(out), "%s/gen-blocked", dir);
		snprintf(blocker, sizeof(blocker), "%s/staff.csv", out);
		assert_int_equal(mkdir(out, 0700), 0);
		assert_int_equal(mkdir(blocker, 0700), 0);
		r = run(NULL, "generate", "--out", out, "--patients", "8", NULL);
		assert_int_not_equal(r.status, 0);
		assert_non_null(strstr(r.err, "cannot write"));
		assert_non_null(strstr(r.err, "staff.csv"));
		done(&r);
	}
	r = run(NULL, "config", "--set", "bronze.commit_max_records=0", NULL);
	assert_int_equal(r.status, 2);
	assert_non_null(strstr(r.err, "bronze.commit_max_records"));
	done(&r);
	r = run(NULL, "config", "--set", "bronze.colour=red", NULL);
	assert_int_equal(r.status, 2);
	assert_non_null(strstr(r.err, "unknown setting 'bronze.colour'"));
	done(&r);

	snprintf(cfg, sizeof(cfg), "%s/carelake.yaml", dir);
	f = fopen(cfg, "w");
	fprintf(f, "bronze:\n  commit_max_records: 128\n  commit_max_wait: 3ms\n");
	fclose(f);
	r = run(NULL, "config", "--config", cfg, "--set", "bronze.segment_max_bytes=8MiB", NULL);
	assert_int_equal(r.status, 0);
	assert_non_null(strstr(r.out, "bronze.commit_max_records = 128"));
	assert_non_null(strstr(r.out, "bronze.commit_max_wait = 3ms"));
	assert_non_null(strstr(r.out, "bronze.segment_max_bytes = 8MiB"));
	done(&r);
	f = fopen(cfg, "w");
	fprintf(f, "bronze:\n  commit_max_records: [\n");
	fclose(f);
	r = run(NULL, "config", "--config", cfg, NULL);
	assert_int_equal(r.status, 2);
	assert_non_null(strstr(r.err, "carelake.yaml:"));
	done(&r);
	r = run(NULL, "config", "--reference", NULL);
	assert_int_equal(r.status, 0);
	assert_non_null(strstr(r.out, "group-commit"));
	assert_non_null(strstr(r.out, "input plugin 'synthetic'"));
	done(&r);
}

/* `token issue --broker-passwd`: refused with a clear message for a role
 * other than device, with another subcommand, without a file, and when
 * the broker's file cannot be written (then no token is issued at all). */
static void test_token_broker_passwd_errors(void **state)
{
	char data[300], passwd[400];
	struct result r;

	(void)state;
	snprintf(data, sizeof(data), "%s/tokens", dir);
	snprintf(passwd, sizeof(passwd), "%s/no-such-dir/passwd", dir);
	r = run(NULL, "token", "issue", "--data", data, "--role", "clinician", "--broker-passwd",
		"/tmp/passwd", NULL);
	assert_int_equal(r.status, 2);
	assert_non_null(strstr(r.err, "--broker-passwd is for a device token only"));
	done(&r);
	r = run(NULL, "token", "list", "--data", data, "--broker-passwd", "/tmp/passwd", NULL);
	assert_int_equal(r.status, 2);
	assert_non_null(strstr(r.err, "--broker-passwd are for issue"));
	done(&r);
	r = run(NULL, "token", "issue", "--data", data, "--role", "device", "--device", "m1",
		"--broker-passwd=", NULL);
	assert_int_equal(r.status, 2);
	assert_non_null(strstr(r.err, "--broker-passwd needs mosquitto's password file"));
	done(&r);
	r = run(NULL, "token", "issue", "--data", data, "--role", "device", "--device", "m1",
		"--broker-passwd", passwd, NULL);
	assert_int_equal(r.status, 2);
	assert_non_null(strstr(r.err, "no token issued: cannot create"));
	assert_null(strstr(r.out, "clk_"));
	done(&r);
	r = run(NULL, "token", "issue", "--data", data, "--role", "device", "--device", "m:1",
		"--broker-passwd", "/tmp/passwd", NULL);
	assert_int_equal(r.status, 2);
	assert_non_null(strstr(r.err, "no token issued: an MQTT user name"));
	done(&r);
	r = run(NULL, "token", "list", "--data", data, NULL);
	assert_int_equal(r.status, 0);
	assert_null(strstr(r.out, "device"));
	done(&r);
}

/* A file name that holds a newline and a whole log line after it: each
 * event stays one line, the name in it escaped, and no line on stderr is
 * the forged one. */
static void test_file_name_cannot_forge_a_log_line(void **state)
{
	static const char forged[] = "ts=2020-01-01T00:00:00.000Z level=error comp=bronze "
				     "event=forged";
	char data[300], name[600];
	struct result r;
	int lines = 0, events = 0;
	FILE *f;

	(void)state;
	snprintf(data, sizeof(data), "%s/forge", dir);
	snprintf(name, sizeof(name), "%s/a\n%s\r x=.csv", dir, forged);
	f = fopen(name, "w");
	assert_non_null(f);
	fputs("no,header,carelake,knows\n1,2,3,4\n", f);
	fclose(f);
	r = run(NULL, "ingest", "--data", data, name, NULL);
	assert_int_equal(r.status, 1);
	for (char *line = strtok(r.err, "\n"); line; line = strtok(NULL, "\n")) {
		lines++;
		if (strncmp(line, "ts=", 3) == 0) {
			assert_int_not_equal(strncmp(line, forged, 13), 0); /* not the forged one */
			assert_null(strchr(line, '\r'));
			if (strstr(line, " event=file_failed ")) {
				events++;
				assert_non_null(strstr(line, "/a\\nts=2020-01-01T00:00:00.000Z level="
							     "error comp=bronze event=forged\\r x=.csv:"));
			}
		} else if (strncmp(line, "carelake ingest: ", 17) != 0) {
			fail_msg("a line on stderr is neither an event nor the error: %s", line);
		}
	}
	assert_int_equal(events, 1);
	assert_int_equal(lines, 2);
	done(&r);
}

static void test_demo(void **state)
{
	char data[300];
	struct result r;

	(void)state;
	snprintf(data, sizeof(data), "%s/demo", dir);
	r = run(NULL, "demo", "--data", data, "--duration", "3", "--rate", "600",
		"--patients", "5", "--listen", "127.0.0.1:0", "--history", "300", NULL);
	if (r.status != 0)
		fail_msg("demo failed: %s %s", r.out, r.err);
	/* the past patients train a readmission model, which serves */
	assert_non_null(strstr(r.out, "readmission model v1 trained on"));
	assert_non_null(strstr(r.out, "and promoted: "));
	assert_non_null(strstr(r.out, "token   clk_"));
	assert_non_null(strstr(r.out, "events/s"));
	assert_non_null(strstr(r.out, "top NEWS2: patient-000"));
	assert_non_null(strstr(r.out, "stopped; everything is in"));
	done(&r);
	r = run(NULL, "verify", "--data", data, "--source", "vitals", "--json", NULL);
	assert_int_equal(r.status, 0);
	{
		json_error_t err;
		json_t *j = json_loads(r.out, 0, &err);

		assert_non_null(j);
		/* about 600 events a second for 3 seconds */
		assert_true(json_integer_value(json_object_get(j, "bronze_records")) > 900);
		json_decref(j);
	}
	done(&r);
	r = run(NULL, "demo", "--rate", "0", NULL);
	assert_int_equal(r.status, 2);
	assert_non_null(strstr(r.err, "rate"));
	done(&r);
}

int main(int argc, char **argv)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_version_and_help),
		cmocka_unit_test(test_append_dump_verify),
		cmocka_unit_test(test_verify_finds_corruption),
		cmocka_unit_test(test_errors),
		cmocka_unit_test(test_token_broker_passwd_errors),
		cmocka_unit_test(test_file_name_cannot_forge_a_log_line),
		cmocka_unit_test(test_demo),
	};
	int rc;

	if (argc < 2) {
		fprintf(stderr, "usage: test_cli /path/to/carelake\n");
		return 2;
	}
	bin = argv[1];
	cl_test_tmpdir(dir, sizeof(dir));
	rc = cmocka_run_group_tests(tests, NULL, NULL);
	cl_test_rmtree(dir);
	return rc;
}
