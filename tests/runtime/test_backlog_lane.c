/*
 * The backlog lane, through `carelake serve`: device events that arrive
 * long after they were measured (older than ingest.backlog_after) are
 * stored in bronze source vitals-backlog, which the stream processor
 * applies after live readings.
 *
 * - Routing: one body of old and current events is split between the two
 *   sources and answered once both are durable; a retry is all duplicates,
 *   also after a restart (the idempotency set is rebuilt from both); the
 *   stream and `carelake refine` take in both; ingest.backlog_after=0 puts
 *   everything in vitals.
 * - Priority: with a large backlog already in its lane and the stream free
 *   to apply all of it in one step, a live reading posted while the stream
 *   works through it raises its alert before the backlog is done.
 *
 * Usage: test_backlog_lane /path/to/carelake
 */
#include "serve_helpers.h"
#include "cli_helpers.h"
#include "sse_helpers.h"

#define S 1000000ll

/* Three events two hours old and two of ten seconds ago, as NDJSON. */
static char *mixed_body(int64_t now)
{
	char *b = calloc(1, 4096);
	size_t o = 0;

	for (int i = 0; i < 5; i++) {
		char id[16];
		int old = i < 3;

		snprintf(id, sizeof(id), "%s-%d", old ? "old" : "new", i);
		o += (size_t)snprintf(b + o, 4096 - o, "%s\n",
				      test_event_at(old ? now - 7200 * S + i * S : now - 10 * S + i * S,
						    id, "lane-dev", "lane1", "heart_rate", 70 + i, "/min"));
	}
	return b;
}

/* The ids in `carelake bronze dump --source source`, comma-joined. */
static void ids_in(const char *data, const char *source, char *out, size_t cap)
{
	struct result r = run(NULL, "bronze", "dump", "--data", data, "--source", source, NULL);
	size_t o = 0;

	out[0] = '\0';
	assert_int_equal(r.status, 0);
	for (char *line = strtok(r.out, "\n"); line; line = strtok(NULL, "\n")) {
		json_t *j = json_loads(line, 0, NULL);
		const char *id;

		assert_non_null(j);
		id = json_string_value(json_object_get(json_object_get(j, "record"), "id"));
		assert_non_null(id);
		o += (size_t)snprintf(out + o, cap - o, "%s%s", o ? "," : "", id);
		json_decref(j);
	}
	done(&r);
}

static int g_values;
static const struct server *g_srv;
static char g_path[200];

static int five_values(void *arg)
{
	struct reply r = http(g_srv, "GET", g_path, g_srv->token, NULL, 0);
	json_t *j = json_loads(r.body ? r.body : "", 0, NULL);

	(void)arg;
	g_values = (int)json_array_size(json_object_get(j, "vitals"));
	json_decref(j);
	free(r.body);
	return g_values == 5;
}

static void test_routes_old_events(void **state)
{
	int64_t now = cl_time_now_us();
	char data[300], ids[400], *body = mixed_body(now);
	struct server s;
	struct reply r;

	(void)state;
	snprintf(data, sizeof(data), "%s/lanes", dir);
	server_start(&s, bin, data, NULL);
	r = post(&s, body);
	assert_int_equal(r.code, 200);
	assert_non_null(strstr(r.body, "\"accepted\":5,\"duplicates\":0"));
	free(r.body);
	/* a retry: every event a duplicate, whichever lane it went to */
	r = post(&s, body);
	assert_non_null(strstr(r.body, "\"accepted\":0,\"duplicates\":5"));
	free(r.body);
	/* the stream applies both lanes */
	{
		char from[40];

		cl_time_format_rfc3339(now - 3 * 3600 * S, from, sizeof(from), 0);
		snprintf(g_path, sizeof(g_path), "/api/v1/patients/lane1/vitals?from=%s", from);
	}
	g_srv = &s;
	wait_for(five_values, NULL, "the five readings in the vitals API");
	assert_int_equal(metric(&s, "carelake_stream_source_lag_records{source=\"vitals-backlog\"}"),
			 0);
	assert_int_equal(server_stop(&s), 0);

	ids_in(data, "vitals-backlog", ids, sizeof(ids));
	assert_string_equal(ids, "old-0,old-1,old-2");
	ids_in(data, "vitals", ids, sizeof(ids));
	assert_string_equal(ids, "new-3,new-4");

	/* after a restart, the idempotency set knows both lanes' ids */
	server_start(&s, bin, data, NULL);
	r = post(&s, body);
	assert_int_equal(r.code, 200);
	assert_non_null(strstr(r.body, "\"accepted\":0,\"duplicates\":5"));
	free(r.body);
	assert_int_equal(server_stop(&s), 0);

	/* refine takes both into silver */
	{
		struct result rr = run(NULL, "refine", "--data", data, NULL);

		assert_int_equal(rr.status, 0);
		done(&rr);
	}
	assert_int_equal(query_long(data, "SELECT count(*) FROM observation WHERE "
				    "patient_id = 'lane1'"), 5);

	/* ingest.backlog_after=0: one lane */
	{
		const char *off[] = { "--set", "ingest.backlog_after=0", NULL };

		snprintf(data, sizeof(data), "%s/one-lane", dir);
		server_start(&s, bin, data, off);
		r = post(&s, body);
		assert_non_null(strstr(r.body, "\"accepted\":5,"));
		free(r.body);
		assert_int_equal(server_stop(&s), 0);
		ids_in(data, "vitals", ids, sizeof(ids));
		assert_string_equal(ids, "old-0,old-1,old-2,new-3,new-4");
		ids_in(data, "vitals-backlog", ids, sizeof(ids));
		assert_string_equal(ids, "");
	}
	free(body);
}

/* ---- live readings go first --------------------------------------- */

#define BACKLOG 300000

static void test_live_before_backlog(void **state)
{
	/* one step could take the whole backlog: only the lane's turns let
	 * the live reading in before it is done */
	const char *extra[] = { CL_TEST_ONE_READING_ALERTS, "--set", "stream.batch_records=1000000",
				NULL };
	int64_t now = cl_time_now_us(), t0 = now - 2 * 86400 * S;
	char data[300], path[400];
	struct sse_client sse = { .query = "?vitals=false" };
	struct server s;
	struct result r;
	FILE *f;
	long lag;

	(void)state;
	snprintf(data, sizeof(data), "%s/priority", dir);
	snprintf(path, sizeof(path), "%s/backlog.ndjson", dir);
	/* a day's readings of 100 patients, stored in the lane before serve
	 * starts (as a backlog posted while it was down) */
	f = fopen(path, "w");
	assert_non_null(f);
	for (int i = 0; i < BACKLOG; i++) {
		char id[32], patient[16];

		snprintf(id, sizeof(id), "b%d", i);
		snprintf(patient, sizeof(patient), "bp%d", i % 100);
		fprintf(f, "%s\n", test_event_at(t0 + (int64_t)(i / 100) * 250000, id, "bdev", patient,
						   "heart_rate", 70 + i % 7, "/min"));
	}
	fclose(f);
	r = run(NULL, "bronze", "append", "--data", data, "--source", "vitals-backlog", path, NULL);
	assert_int_equal(r.status, 0);
	done(&r);

	server_start(&s, bin, data, extra);
	sse_open(&sse, &s, NULL);
	/* the stream is at work on the backlog */
	wait_metric(&s, "carelake_stream_events_total", 1);
	{
		struct reply p = post(&s, test_event_at(cl_time_now_us(), "live-1", "ldev", "live1",
							"spo2", 80, "%"));

		assert_int_equal(p.code, 200);
		free(p.body);
	}
	g_want = "\"patient_id\":\"live1\"";
	wait_for(sse_cond, NULL, "the live reading's alert");
	lag = metric(&s, "carelake_stream_source_lag_records{source=\"vitals-backlog\"}");
	if (lag <= 0) {
		server_said(&s);
		fail_msg("the live alert came only once the backlog was applied (lag %ld)", lag);
	}
	sse_close(&sse);
	/* and the backlog is applied in the end */
	wait_metric(&s, "carelake_stream_events_total", BACKLOG + 1);
	assert_int_equal(server_stop(&s), 0);
}

static const struct CMUnitTest tests[] = {
	cmocka_unit_test(test_routes_old_events),
	cmocka_unit_test(test_live_before_backlog),
};

int main(int argc, char **argv)
{
	if (argc < 2) {
		fprintf(stderr, "usage: %s /path/to/carelake\n", argv[0]);
		return 2;
	}
	bin = argv[1];
	SERVE_TEST_RUN(tests);
}
