/*
 * `carelake simulate`: the same seed gives the same stream; the stream is
 * valid device events; episodes appear in the truth file with the rules
 * they should raise; against a running server over HTTP every event is
 * accepted or a duplicate (the simulator sends some twice on purpose),
 * and the injected episodes raise their alerts.
 *
 * Usage: test_simulate /path/to/carelake
 */
#include "serve_helpers.h"

#include "core/cl_error.h"
#include "json/cl_json.h"
#include "ingest/cl_event.h"

#include <jansson.h>


static int run_sim(const char *const *args)
{
	const char *argv[40];
	int n = 0, st;
	pid_t pid;

	argv[n++] = bin;
	argv[n++] = "simulate";
	for (int i = 0; args[i]; i++)
		argv[n++] = args[i];
	argv[n] = NULL;
	pid = fork();
	if (pid == 0) {
		freopen("/dev/null", "w", stderr);
		execv(bin, (char **)argv);
		_exit(127);
	}
	waitpid(pid, &st, 0);
	return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

static char *slurp(const char *path)
{
	FILE *f = fopen(path, "r");
	char *b = NULL;
	size_t cap = 0;

	assert_non_null(f);
	if (getdelim(&b, &cap, '\0', f) < 0)
		b = strdup("");
	fclose(f);
	return b;
}

static void test_file_target(void **state)
{
	char a[300], b[300], truth[300];
	const char *args1[] = { "--target", a, "--patients", "3", "--rate", "300", "--duration", "2",
				"--seed", "7", "--late", "0", "--duplicates", "0", NULL };
	const char *args2[] = { "--target", b, "--patients", "3", "--rate", "300", "--duration", "2",
				"--seed", "7", "--late", "0", "--duplicates", "0",
				"--episodes", "3600", "--truth", truth, NULL };
	char *x, *y, *line, *save = NULL;
	struct cl_json_doc d;
	int n = 0;

	(void)state;
	snprintf(a, sizeof(a), "%s/a.ndjson", dir);
	snprintf(b, sizeof(b), "%s/b.ndjson", dir);
	snprintf(truth, sizeof(truth), "%s/truth.ndjson", dir);
	assert_int_equal(run_sim(args1), 0);
	assert_int_equal(run_sim(args2), 0);
	x = slurp(a);
	y = slurp(b);
	/* the same seed, the same ids, patients and vitals in the same order */
	assert_true(strlen(x) > 1000);
	assert_int_equal(strncmp(x, y, 60), 0);
	/* every line is a valid device event */
	cl_json_doc_init(&d);
	for (line = strtok_r(x, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
		struct cl_event ev;
		struct cl_event_limits lim;

		cl_event_limits_default(&lim);
		assert_int_equal(cl_json_parse(&d, line, strlen(line)), 0);
		if (cl_event_parse(&d, 0, cl_time_now_us(), &lim, &ev) != 0)
			fail_msg("invalid simulated event %s: %s", line, cl_error_detail());
		n++;
	}
	cl_json_doc_free(&d);
	assert_true(n >= 500);
	free(x);
	free(y);
	/* with episodes forced often, the truth file names them and their rules */
	x = slurp(truth);
	assert_non_null(strstr(x, "\"episode\":"));
	assert_non_null(strstr(x, "\"expected_rules\":"));
	assert_non_null(strstr(x, "\"patient_id\":\"patient-000"));
	free(x);
	{
		const char *bad[] = { "--target", a, "--rate", "0", NULL };
		const char *none[] = { "--rate", "10", NULL };

		assert_int_equal(run_sim(bad), 2);
		assert_int_equal(run_sim(none), 2);
	}
}

static void test_http_target(void **state)
{
	char data[300], url[100], token_file[400], truth[300];
	const char *args[] = { "--target", url, "--token-file", token_file, "--patients", "6",
			       "--rate", "600", "--duration", "5", "--episodes", "3600",
			       "--duplicates", "0.05", "--truth", truth, NULL };
	struct server s;
	struct reply r;
	long accepted = 0, dup = 0, raised = 0;
	char *p;

	(void)state;
	snprintf(data, sizeof(data), "%s/srv", dir);
	snprintf(truth, sizeof(truth), "%s/truth2.ndjson", dir);
	server_start(&s, bin, data, NULL);
	snprintf(url, sizeof(url), "%s", s.url);
	snprintf(token_file, sizeof(token_file), "%s/admin.token", data);
	assert_int_equal(run_sim(args), 0);
	usleep(300000 * (useconds_t)cl_test_slowdown());
	r = http(&s, "GET", "/metrics", NULL, NULL, 0);
	p = strstr(r.body, "\ncarelake_events_accepted_total ");
	if (p)
		accepted = atol(p + 32);
	p = strstr(r.body, "\ncarelake_events_duplicate_total ");
	if (p)
		dup = atol(p + 33);
	for (p = strstr(r.body, "carelake_alerts_raised_total{"); p;
	     p = strstr(p + 1, "carelake_alerts_raised_total{"))
		raised += atol(strchr(p, '}') + 2);
	assert_non_null(strstr(r.body, "carelake_events_rejected_total 0"));
	free(r.body);
	print_message("accepted %ld, duplicates %ld, alerts %ld\n", accepted, dup, raised);
	assert_true(accepted > 2000);
	assert_true(dup > 0);
	assert_true(raised > 0); /* episodes every few seconds: some alerts */
	assert_int_equal(server_stop(&s), 0);
}

static const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_file_target),
		cmocka_unit_test(test_http_target),
};

SERVE_TEST_MAIN(tests)
