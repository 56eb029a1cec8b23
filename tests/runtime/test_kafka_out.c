/*
 * Kafka out against librdkafka's mock cluster, run inside this test
 * process on loopback; `carelake serve` publishes its alerts there
 * (kafka_out.alerts_topic) and a consumer here reads them back.
 *
 * JSON: two alerts raised by events and the acknowledgement of one (made
 * through the API) arrive once each, keyed by patient, with the `type`
 * header and field and a stable event_id; the pending gauge goes back to
 * 0. A message the broker refuses for good (MSG_SIZE_TOO_LARGE, pushed
 * as the mock's next Produce answer) is counted as rejected and passed
 * over, and the next alert still goes out. A Produce answered with
 * OUT_OF_ORDER_SEQUENCE_NUMBER (fatal for an idempotent producer): the
 * producer is made anew and the alert still arrives.
 *
 * Broker down: an alert raised while the only broker refuses connections
 * is pending, its delivery fails after kafka_out.message_timeout and is
 * counted, nothing is sent, `carelake status` shows it waiting in the
 * outbox; serve is SIGKILLed then, the broker comes
 * back, and after the restart the alert arrives (at least once, under the
 * same event_id) and nothing is pending.
 *
 * FHIR: an alert and its acknowledgement arrive as DetectedIssues.
 *
 * Rollups: a reading three minutes back, then current ones, close its
 * minute; the rollup arrives on kafka_out.rollups_topic, keyed by patient,
 * as JSON (count 1, mean 70) and, in the FHIR test, as an Observation.
 *
 * Usage: test_kafka_out /path/to/carelake
 */
#include "serve_helpers.h"
#include "core/cl_time.h"

#include <jansson.h>
#include <librdkafka/rdkafka.h>
#include <librdkafka/rdkafka_mock.h>

#include "kafka_mock.h"

static int setup(void **state)
{
	(void)state;
	kafka_mock_start("3");
	assert_int_equal(rd_kafka_mock_topic_create(mcluster, "alerts", 2, 1), 0);
	assert_int_equal(rd_kafka_mock_topic_create(mcluster, "alerts-down", 1, 1), 0);
	assert_int_equal(rd_kafka_mock_topic_create(mcluster, "issues", 1, 1), 0);
	assert_int_equal(rd_kafka_mock_topic_create(mcluster, "rollups", 2, 1), 0);
	assert_int_equal(rd_kafka_mock_topic_create(mcluster, "observations", 1, 1), 0);
	return 0;
}

static int teardown(void **state)
{
	(void)state;
	kafka_mock_stop();
	return 0;
}

/* A message read back: key, the `type` and `event_id` headers, value. */
struct msg {
	char key[64], type[32], event_id[96];
	json_t *value;
};

static void header(rd_kafka_message_t *m, const char *name, char *out, size_t cap)
{
	rd_kafka_headers_t *h = NULL;
	const void *v;
	size_t n;

	out[0] = '\0';
	if (rd_kafka_message_headers(m, &h) == RD_KAFKA_RESP_ERR_NO_ERROR &&
	    rd_kafka_header_get_last(h, name, &v, &n) == RD_KAFKA_RESP_ERR_NO_ERROR)
		snprintf(out, cap, "%.*s", (int)n, (const char *)v);
}

/* Partitions of the topics setup makes. */
static int partitions(const char *topic)
{
	return strcmp(topic, "alerts") == 0 || strcmp(topic, "rollups") == 0 ? 2 : 1;
}

/* Reads topic from the start (its partitions assigned: no group to join)
 * until at least want messages are in and then 1 s brings nothing more (or
 * 20 s pass); returns how many. */
static int consume(const char *topic, struct msg *out, int cap, int want)
{
	rd_kafka_conf_t *conf = rd_kafka_conf_new();
	rd_kafka_topic_partition_list_t *subs = rd_kafka_topic_partition_list_new(1);
	static int groups;
	char err[256], group[64];
	rd_kafka_t *c;
	int n = 0, idle = 0;
	int64_t until = cl_time_now_us() + 20000000ll * cl_test_slowdown();

	snprintf(group, sizeof(group), "test-%d", groups++);
	assert_int_equal(rd_kafka_conf_set(conf, "bootstrap.servers", bootstraps, err,
					   sizeof(err)), RD_KAFKA_CONF_OK);
	rd_kafka_conf_set(conf, "group.id", group, err, sizeof(err));
	rd_kafka_conf_set(conf, "auto.offset.reset", "earliest", err, sizeof(err));
	rd_kafka_conf_set(conf, "log_level", "3", err, sizeof(err));
	c = rd_kafka_new(RD_KAFKA_CONSUMER, conf, err, sizeof(err));
	assert_non_null(c);
	rd_kafka_poll_set_consumer(c);
	for (int p = 0; p < partitions(topic); p++)
		rd_kafka_topic_partition_list_add(subs, topic, p)->offset = RD_KAFKA_OFFSET_BEGINNING;
	assert_int_equal(rd_kafka_assign(c, subs), 0);
	rd_kafka_topic_partition_list_destroy(subs);
	/* at least `want`, then a second without more: a partition's fetch
	 * may come a while after another's, and a message twice must show */
	while (cl_time_now_us() < until && (n < want || idle < 10)) {
		rd_kafka_message_t *m = rd_kafka_consumer_poll(c, 100);

		if (!m) {
			idle += n > 0;
			continue;
		}
		if (!m->err && n < cap) {
			struct msg *o = &out[n++];

			snprintf(o->key, sizeof(o->key), "%.*s", (int)m->key_len,
				 (const char *)m->key);
			header(m, "type", o->type, sizeof(o->type));
			header(m, "event_id", o->event_id, sizeof(o->event_id));
			o->value = json_loadb(m->payload, m->len, 0, NULL);
			assert_non_null(o->value);
			idle = 0;
		}
		rd_kafka_message_destroy(m);
	}
	rd_kafka_consumer_close(c);
	rd_kafka_destroy(c);
	return n;
}

static void msgs_free(struct msg *m, int n)
{
	for (int i = 0; i < n; i++)
		json_decref(m[i].value);
}

static const char *field(const struct msg *m, const char *key)
{
	return json_string_value(json_object_get(m->value, key)) ?: "";
}

/* The id of patient's first alert, through the API. */
static long alert_id(const struct server *s, const char *patient)
{
	char path[128];
	struct reply r;
	json_t *arr;
	long id = -1;

	snprintf(path, sizeof(path), "/api/v1/alerts?patient=%s", patient);
	r = http(s, "GET", path, s->token, NULL, 0);
	assert_int_equal(r.code, 200);
	arr = json_loads(r.body, 0, NULL);
	free(r.body);
	if (json_array_size(json_object_get(arr, "alerts")) > 0)
		id = (long)json_integer_value(json_object_get(
			json_array_get(json_object_get(arr, "alerts"), 0), "id"));
	json_decref(arr);
	assert_true(id > 0);
	return id;
}

/* How many alert changes serve holds (of every patient): each alert
 * opened, closed, acknowledged is one outbox entry. */
static long changes_total(const struct server *s)
{
	struct reply r = http(s, "GET", "/api/v1/alerts", s->token, NULL, 0);
	json_t *j, *a;
	size_t i;
	long n = 0;

	assert_int_equal(r.code, 200);
	j = json_loads(r.body, 0, NULL);
	free(r.body);
	json_array_foreach(json_object_get(j, "alerts"), i, a)
		n += 1 + !json_is_null(json_object_get(a, "closed")) +
		     !json_is_null(json_object_get(a, "acknowledged"));
	json_decref(j);
	return n;
}

/* Waits until patient has an alert. */
static void wait_alert(const struct server *s, const char *patient)
{
	char path[128];

	snprintf(path, sizeof(path), "/api/v1/alerts?patient=%s", patient);
	for (int i = 0; i < 1000 * cl_test_slowdown(); i++) {
		struct reply r = http(s, "GET", path, s->token, NULL, 0);
		int found = r.body && strstr(r.body, "\"id\"") != NULL;

		free(r.body);
		if (found)
			return;
		usleep(10000);
	}
	fail_msg("no alert for %s", patient);
}

/* Waits until every alert change serve holds is accounted for by the
 * metrics (sent and rejected), then nothing is pending. */
static void wait_accounted(const struct server *s)
{
	long done = -1, want = -2;

	for (int i = 0; i < 1000 * cl_test_slowdown(); i++) {
		want = changes_total(s);
		done = metric(s, "carelake_kafka_out_sent_total") +
		       metric(s, "carelake_kafka_out_rejected_total");
		if (done == want && metric(s, "carelake_kafka_out_pending") == 0)
			return;
		usleep(10000);
	}
	fail_msg("%ld alert changes sent or rejected, %ld held", done, want);
}

static void ack(const struct server *s, long id)
{
	char path[128];
	struct reply r;

	snprintf(path, sizeof(path), "/api/v1/alerts/%ld/ack", id);
	r = http(s, "POST", path, s->token, "{}", 2);
	assert_int_equal(r.code, 200);
	free(r.body);
}

static void test_json(void **state)
{
	const char *extra[] = { "--set", brokers_arg, "--set", "kafka_out.alerts_topic=alerts",
				"--set", "kafka_out.rollups_topic=rollups",
				CL_TEST_ONE_READING_ALERTS, NULL };
	struct msg m[16];
	char data[300], want_ack[64];
	struct server s;
	struct reply r;
	long id, sent, rejected;
	int n, alerts = 0, acks = 0;

	(void)state;
	snprintf(data, sizeof(data), "%s/json", dir);
	server_start(&s, bin, data, extra);
	/* a reading three minutes back: the next ones close its minute */
	r = post(&s, test_event_at(cl_time_now_us() - 180000000ll, "j0", "mon-1", "p1",
				   "heart_rate", 70, "/min"));
	assert_int_equal(r.code, 200);
	free(r.body);
	r = post(&s, test_event("j1", "mon-1", "p1", "spo2", 85, "%"));
	assert_int_equal(r.code, 200);
	free(r.body);
	r = post(&s, test_event("j2", "mon-2", "p2", "heart_rate", 150, "/min"));
	assert_int_equal(r.code, 200);
	free(r.body);
	/* each reading raises its rule's alert and NEWS2's single-parameter one */
	wait_alert(&s, "p2");
	wait_accounted(&s);
	id = alert_id(&s, "p1");
	ack(&s, id);
	wait_accounted(&s);

	/* refused for good: counted, passed over, the next one goes out */
	rd_kafka_mock_push_request_errors(mcluster, 0 /* Produce */, 1,
					  RD_KAFKA_RESP_ERR_MSG_SIZE_TOO_LARGE);
	r = post(&s, test_event("j3", "mon-3", "p3", "spo2", 84, "%"));
	assert_int_equal(r.code, 200);
	free(r.body);
	wait_alert(&s, "p3");
	wait_metric(&s, "carelake_kafka_out_rejected_total", 1);
	r = post(&s, test_event("j4", "mon-4", "p4", "spo2", 83, "%"));
	assert_int_equal(r.code, 200);
	free(r.body);
	wait_alert(&s, "p4");
	wait_accounted(&s);
	assert_int_equal(metric(&s, "carelake_kafka_out_failed_total"), 0);
	/* a broker that lost the producer's sequence (a fatal error for an
	 * idempotent producer): the producer is made anew, nothing is lost */
	rd_kafka_mock_push_request_errors(mcluster, 0 /* Produce */, 1,
					  RD_KAFKA_RESP_ERR_OUT_OF_ORDER_SEQUENCE_NUMBER);
	r = post(&s, test_event("j5", "mon-5", "p6", "spo2", 82, "%"));
	assert_int_equal(r.code, 200);
	free(r.body);
	wait_alert(&s, "p6");
	wait_accounted(&s);
	sent = metric(&s, "carelake_kafka_out_sent_total");
	rejected = metric(&s, "carelake_kafka_out_rejected_total");
	/* p3's alerts went in one Produce request, or more */
	assert_true(rejected >= 1);
	assert_int_equal(server_stop(&s), 0);

	/* every one confirmed is there once */
	n = consume("alerts", m, 16, (int)sent);
	assert_int_equal(n, sent);
	snprintf(want_ack, sizeof(want_ack), "alert-%ld-acknowledged", id);
	for (int i = 0; i < n; i++) {
		/* keyed by patient; header, field and event_id agree */
		assert_string_equal(m[i].key, field(&m[i], "patient_id"));
		assert_string_equal(m[i].type, field(&m[i], "type"));
		assert_string_equal(m[i].event_id, field(&m[i], "event_id"));
		assert_non_null(json_object_get(m[i].value, "rule"));
		assert_non_null(json_object_get(m[i].value, "time"));
		for (int j = 0; j < i; j++)
			assert_string_not_equal(m[i].event_id, m[j].event_id);
		if (strcmp(m[i].type, "acknowledgement") == 0) {
			acks++;
			assert_string_equal(m[i].event_id, want_ack);
			assert_string_equal(m[i].key, "p1");
			assert_string_equal(field(&m[i], "state"), "acknowledged");
			assert_true(field(&m[i], "acknowledged_by")[0] != '\0');
		} else {
			char end[40];

			alerts++;
			assert_string_equal(m[i].type, "alert");
			/* opened, or closed (the monitor silent for the
			 * three minutes after its first reading) */
			snprintf(end, sizeof(end), "-%s", field(&m[i], "state"));
			assert_true(strcmp(end, "-open") == 0 || strcmp(end, "-closed") == 0);
			assert_string_equal(m[i].event_id + strlen(m[i].event_id) - strlen(end), end);
		}
	}
	assert_int_equal(alerts, sent - 1);
	assert_int_equal(acks, 1);
	msgs_free(m, n);

	/* the closed minute of p1's heart rate, on its own topic */
	n = consume("rollups", m, 16, 0);
	assert_true(n >= 1);
	for (int i = 0, found = 0; i < n; i++) {
		assert_string_equal(m[i].type, "rollup");
		assert_string_equal(field(&m[i], "type"), "rollup");
		assert_string_equal(m[i].event_id, field(&m[i], "event_id"));
		assert_string_equal(m[i].key, field(&m[i], "patient_id"));
		assert_string_equal(field(&m[i], "window"), "1m");
		for (int j = 0; j < i; j++)
			assert_string_not_equal(m[i].event_id, m[j].event_id);
		if (strcmp(m[i].key, "p1") == 0 && strcmp(field(&m[i], "vital"), "heart_rate") == 0 &&
		    json_integer_value(json_object_get(m[i].value, "count")) == 1 &&
		    json_number_value(json_object_get(m[i].value, "mean")) == 70)
			found++;
		if (i == n - 1)
			assert_int_equal(found, 1);
	}
	msgs_free(m, n);
}

/* outbox.<consumer> of `carelake status --json`, or -1. */
static long status_outbox(const char *data, const char *consumer)
{
	char cmd[1200], out[65536];
	size_t n;
	FILE *p;
	json_t *j;
	long v = -1;

	snprintf(cmd, sizeof(cmd), "'%s' status --data '%s' --json 2>/dev/null", bin, data);
	p = popen(cmd, "r");
	assert_non_null(p);
	n = fread(out, 1, sizeof(out) - 1, p);
	out[n] = '\0';
	pclose(p);
	j = json_loads(out, 0, NULL);
	if (json_is_integer(json_object_get(json_object_get(j, "outbox"), consumer)))
		v = (long)json_integer_value(json_object_get(json_object_get(j, "outbox"), consumer));
	json_decref(j);
	return v;
}

static void test_broker_down(void **state)
{
	const char *extra[] = { "--set", brokers_arg, "--set", "kafka_out.alerts_topic=alerts-down",
				"--set", "kafka_out.message_timeout=1s",
				CL_TEST_ONE_READING_ALERTS, NULL };
	struct msg m[8];
	char data[300];
	struct server s;
	struct reply r;
	long pending;
	int n, distinct = 0;

	(void)state;
	snprintf(data, sizeof(data), "%s/down", dir);
	assert_int_equal(rd_kafka_mock_broker_set_down(mcluster, 1), 0);
	server_start(&s, bin, data, extra);
	r = post(&s, test_event("d1", "mon-1", "p7", "spo2", 85, "%"));
	assert_int_equal(r.code, 200);
	free(r.body);
	/* spo2_low and NEWS2's single-parameter alert */
	wait_metric(&s, "carelake_kafka_out_pending", 2);
	wait_metric(&s, "carelake_kafka_out_failed_total", 1);
	pending = metric(&s, "carelake_kafka_out_pending");
	assert_int_equal(metric(&s, "carelake_kafka_out_sent_total"), 0);
	/* and `carelake status` says so */
	assert_true(status_outbox(data, "kafka") >= 2);
	/* killed with the alerts unconfirmed */
	server_kill(&s);
	assert_int_equal(rd_kafka_mock_broker_set_up(mcluster, 1), 0);

	server_start(&s, bin, data, extra);
	wait_metric(&s, "carelake_kafka_out_sent_total", pending);
	for (int i = 0; i < 500 && metric(&s, "carelake_kafka_out_pending") != 0; i++)
		usleep(10000);
	assert_int_equal(metric(&s, "carelake_kafka_out_pending"), 0);
	assert_int_equal(server_stop(&s), 0);
	assert_int_equal(status_outbox(data, "kafka"), 0);

	/* every alert at least once; a copy has the same event_id */
	n = consume("alerts-down", m, 8, (int)pending);
	assert_true(n >= pending);
	for (int i = 0; i < n; i++) {
		assert_non_null(strstr(m[i].event_id, "-open"));
		assert_string_equal(m[i].key, "p7");
		distinct++;
		for (int j = 0; j < i; j++)
			if (strcmp(m[i].event_id, m[j].event_id) == 0) {
				distinct--;
				break;
			}
	}
	assert_int_equal(distinct, pending);
	msgs_free(m, n);
}

static void test_fhir(void **state)
{
	const char *extra[] = { "--set", brokers_arg, "--set", "kafka_out.alerts_topic=issues",
				"--set", "kafka_out.rollups_topic=observations",
				"--set", "kafka_out.format=fhir", CL_TEST_ONE_READING_ALERTS, NULL };
	struct msg m[16];
	char data[300];
	struct server s;
	struct reply r;
	long sent;
	int n, acks = 0;

	(void)state;
	snprintf(data, sizeof(data), "%s/fhir", dir);
	server_start(&s, bin, data, extra);
	r = post(&s, test_event_at(cl_time_now_us() - 180000000ll, "f0", "mon-1", "p5",
				   "heart_rate", 70, "/min"));
	assert_int_equal(r.code, 200);
	free(r.body);
	r = post(&s, test_event("f1", "mon-1", "p5", "spo2", 85, "%"));
	assert_int_equal(r.code, 200);
	free(r.body);
	wait_alert(&s, "p5");
	ack(&s, alert_id(&s, "p5"));
	wait_accounted(&s);
	wait_metric(&s, "carelake_kafka_out_rollups_sent_total", 1);
	sent = metric(&s, "carelake_kafka_out_sent_total");
	assert_int_equal(server_stop(&s), 0);

	n = consume("issues", m, 16, (int)sent);
	assert_int_equal(n, sent);
	for (int i = 0; i < n; i++) {
		json_t *v = m[i].value, *code = json_object_get(v, "code");

		assert_string_equal(m[i].key, "p5");
		assert_string_equal(field(&m[i], "resourceType"), "DetectedIssue");
		assert_string_equal(field(&m[i], "id"), m[i].event_id);
		assert_string_equal(field(&m[i], "status"), "final");
		assert_true(strcmp(field(&m[i], "severity"), "high") == 0 ||
			    strcmp(field(&m[i], "severity"), "moderate") == 0);
		assert_string_equal(json_string_value(json_object_get(
					    json_object_get(v, "patient"), "reference")),
				    "Patient/p5");
		assert_non_null(json_string_value(json_object_get(
			json_array_get(json_object_get(code, "coding"), 0), "code")));
		assert_true(json_is_array(json_object_get(v, "identifier")));
		if (strcmp(m[i].type, "acknowledgement") == 0) {
			acks++;
			assert_true(json_is_array(json_object_get(v, "mitigation")));
		} else {
			assert_true(json_is_string(json_object_get(v, "identifiedDateTime")));
		}
	}
	assert_int_equal(acks, 1);
	msgs_free(m, n);

	/* rollups as Observations: LOINC code, period, mean, statistics */
	n = consume("observations", m, 16, 0);
	assert_true(n >= 1);
	for (int i = 0, found = 0; i < n; i++) {
		json_t *v = m[i].value, *q = json_object_get(v, "valueQuantity");
		const char *code = json_string_value(json_object_get(
			json_array_get(json_object_get(json_object_get(v, "code"), "coding"), 0),
			"code"));

		assert_string_equal(m[i].key, "p5");
		assert_string_equal(m[i].type, "rollup");
		assert_string_equal(field(&m[i], "resourceType"), "Observation");
		assert_string_equal(field(&m[i], "id"), m[i].event_id);
		assert_string_equal(field(&m[i], "status"), "final");
		assert_string_equal(json_string_value(json_object_get(json_object_get(v, "subject"),
								      "reference")), "Patient/p5");
		assert_true(json_is_string(json_object_get(json_object_get(v, "effectivePeriod"),
							   "start")));
		assert_true(json_array_size(json_object_get(v, "component")) >= 3);
		if (code && strcmp(code, "8867-4") == 0 &&
		    json_number_value(json_object_get(q, "value")) == 70) {
			found++;
			assert_string_equal(json_string_value(json_object_get(q, "system")),
					    "http://unitsofmeasure.org");
		}
		if (i == n - 1)
			assert_int_equal(found, 1);
	}
	msgs_free(m, n);
}

int main(int argc, char **argv)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_json),
		cmocka_unit_test(test_broker_down),
		cmocka_unit_test(test_fhir),
	};

	if (argc < 2) {
		fprintf(stderr, "usage: %s /path/to/carelake\n", argv[0]);
		return 2;
	}
	bin = argv[1];
	SERVE_TEST_RUN_GROUP(tests, setup, teardown);
}
