/*
 * Kafka ingest against librdkafka's mock cluster, run inside this test
 * process on loopback (rd_kafka_mock_cluster_new); `carelake serve` is
 * given its bootstrap address with --set kafka.brokers=...
 *
 * First device events (keyed by patient, one without an id) and a FHIR
 * Observation are produced: they reach bronze, the vitals API and raise
 * the SpO2 alert; a record that is not JSON and one with an invalid event
 * land in the dead-letter file with their reasons, and every offset is
 * committed. Then a stream over two partitions while serve is SIGKILLed
 * and restarted: the offsets committed at the kill cover only records
 * bronze holds, and in the end every record produced is in bronze
 * exactly once (those without an id by the id carelake gave them).
 * Last, with kafka.dead_letter_topic: a rejected record goes to that
 * topic with its reasons and where it came from, and while the brokers
 * refuse the dead letter (injected Produce errors) the source offset is
 * not committed past it.
 *
 * Usage: test_kafka /path/to/carelake
 */
#include "serve_helpers.h"
#include "bronze/cl_reader.h"
#include "core/cl_time.h"
#include "json/cl_json.h"

#include <jansson.h>
#include <librdkafka/rdkafka.h>
#include <librdkafka/rdkafka_mock.h>

#include "kafka_mock.h"

static rd_kafka_t *producer;

static int setup(void **state)
{
	rd_kafka_conf_t *conf;
	char err[256];

	(void)state;
	kafka_mock_start("4");
	assert_int_equal(rd_kafka_mock_topic_create(mcluster, "vitals", 2, 1), 0);
	assert_int_equal(rd_kafka_mock_topic_create(mcluster, "fhir", 1, 1), 0);
	assert_int_equal(rd_kafka_mock_topic_create(mcluster, "stream", 2, 1), 0);
	conf = rd_kafka_conf_new();
	assert_int_equal(rd_kafka_conf_set(conf, "bootstrap.servers", bootstraps, err, sizeof(err)),
			 RD_KAFKA_CONF_OK);
	producer = rd_kafka_new(RD_KAFKA_PRODUCER, conf, err, sizeof(err));
	assert_non_null(producer);
	return 0;
}

static int teardown(void **state)
{
	(void)state;
	rd_kafka_destroy(producer);
	kafka_mock_stop();
	return 0;
}

/* Produces one record (partition -1: by key) and waits for the broker. */
static void produce(const char *topic, int partition, const char *key, const char *value)
{
	rd_kafka_resp_err_t e = rd_kafka_producev(
		producer, RD_KAFKA_V_TOPIC(topic), RD_KAFKA_V_PARTITION(partition),
		RD_KAFKA_V_KEY(key, key ? strlen(key) : 0),
		RD_KAFKA_V_VALUE((void *)value, strlen(value)),
		RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY), RD_KAFKA_V_END);

	assert_int_equal(e, RD_KAFKA_RESP_ERR_NO_ERROR);
}

static void flush_producer(void)
{
	assert_int_equal(rd_kafka_flush(producer, 10000), RD_KAFKA_RESP_ERR_NO_ERROR);
}

/* Reads a whole file into a static buffer ("" if absent). */
static const char *slurp(const char *path)
{
	static char buf[65536];
	FILE *f = fopen(path, "r");
	size_t n = 0;

	buf[0] = '\0';
	if (f) {
		n = fread(buf, 1, sizeof(buf) - 1, f);
		fclose(f);
	}
	buf[n] = '\0';
	return buf;
}

/* The server arguments for Kafka: brokers, topics, group. */
#define KAFKA_ARGS(group, topics)                                                        \
	"--set", brokers_arg,                                                              \
	"--set", "kafka.topics=" topics, "--set", "kafka.fhir_topics=fhir",                \
	"--set", "kafka.group=" group,                                            \
	/* the shortest session brokers allow by default (group.min.session.timeout.ms) */ \
	"--set", "kafka.session_timeout=6s"


static void test_kafka_ingest(void **state)
{
	const char *extra[] = { KAFKA_ARGS("ingest", "vitals"), CL_TEST_ONE_READING_ALERTS, NULL };
	char data[300], path[400], idb[32];
	struct server s;
	struct reply r;
	const char *dl;
	int64_t now = cl_time_now_us();

	(void)state;
	snprintf(brokers_arg, sizeof(brokers_arg), "kafka.brokers=%s", bootstraps);
	snprintf(data, sizeof(data), "%s/ingest", dir);
	/* produced before serve starts: the group begins at the earliest */
	for (int i = 0; i < 5; i++)
		produce("vitals", -1, "p1",
			test_event_at(now - (10 - i) * 1000000ll,
				      (snprintf(idb, sizeof(idb), "k-%d", i), idb), "mon-1", "p1",
				      "heart_rate", 70 + i, "/min"));
	produce("vitals", -1, "p1", test_event_at(now - 4000000, "k-spo2", "mon-1", "p1", "spo2", 85,
						   "%"));
	{
		/* no id: carelake gives it kafka:<topic>:<partition>:<offset> */
		char noid[1024];
		char ts[40];

		cl_time_format_rfc3339(now - 3000000, ts, sizeof(ts), 3);
		snprintf(noid, sizeof(noid),
			 "{\"device_id\":\"mon-1\",\"patient_id\":\"p1\",\"ts\":\"%s\","
			 "\"type\":\"heart_rate\",\"value\":77,\"unit\":\"/min\"}", ts);
		produce("vitals", -1, "p1", noid);
		/* an array of two without ids: :0 and :1 after the offset */
		cl_time_format_rfc3339(now - 2000000, ts, sizeof(ts), 3);
		snprintf(noid, sizeof(noid),
			 "[{\"device_id\":\"mon-1\",\"patient_id\":\"p1\",\"ts\":\"%s\","
			 "\"type\":\"respiratory_rate\",\"value\":18,\"unit\":\"/min\"},"
			 "{\"device_id\":\"mon-1\",\"patient_id\":\"p1\",\"ts\":\"%s\","
			 "\"type\":\"temperature\",\"value\":37.1,\"unit\":\"Cel\"}]", ts, ts);
		produce("vitals", -1, "p1", noid);
	}
	produce("vitals", -1, "p9", "not json at all");
	produce("vitals", -1, "p9", "{\"id\":\"k-bad\",\"device_id\":\"mon-9\",\"type\":\"spo2\","
		"\"value\":97,\"unit\":\"%\"}"); /* no patient, no time */
	produce("fhir", -1, "p2",
		"{\"resourceType\":\"Observation\",\"id\":\"kf-1\",\"status\":\"final\","
		"\"code\":{\"coding\":[{\"system\":\"http://loinc.org\",\"code\":\"8867-4\"}]},"
		"\"subject\":{\"reference\":\"Patient/p2\"},"
		"\"effectiveDateTime\":\"2026-11-21T10:00:00Z\",\"valueQuantity\":{\"value\":64,"
		"\"unit\":\"/min\",\"system\":\"http://unitsofmeasure.org\",\"code\":\"/min\"}}");
	flush_producer();

	server_start(&s, bin, data, extra);
	wait_metric(&s, "carelake_kafka_committed_total", 10);
	wait_metric(&s, "carelake_kafka_fhir_committed_total", 1);
	assert_int_equal(metric(&s, "carelake_kafka_records_total"), 10);
	assert_int_equal(metric(&s, "carelake_kafka_dead_letter_total"), 2);
	assert_int_equal(metric(&s, "carelake_kafka_ids_added_total"), 3);
	assert_int_equal(metric(&s, "carelake_kafka_fhir_records_total"), 1);
	assert_int_equal(metric(&s, "carelake_kafka_fhir_dead_letter_total"), 0);
	assert_int_equal(metric(&s, "carelake_events_accepted_total"), 9);
	assert_int_equal(metric(&s, "carelake_events_rejected_total"), 1);
	assert_int_equal(metric(&s, "carelake_kafka_assigned_partitions"), 2);

	/* the dead letters, with where they came from and why */
	snprintf(path, sizeof(path), "%s/kafka/dead-letter.ndjson", data);
	dl = slurp(path);
	assert_non_null(strstr(dl, "\"record\":\"not json at all\""));
	assert_non_null(strstr(dl, "not JSON device events"));
	assert_non_null(strstr(dl, "k-bad"));
	assert_non_null(strstr(dl, "\"topic\":\"vitals\""));
	assert_non_null(strstr(dl, "patient_id"));

	/* the readings are in the vitals API, and the SpO2 raised its alert */
	for (int i = 0; i < 300; i++) {
		r = http(&s, "GET", "/api/v1/alerts?patient=p1", s.token, NULL, 0);
		if (r.code == 200 && strstr(r.body, "spo2_low"))
			break;
		free(r.body);
		r.body = NULL;
		usleep(20000);
	}
	assert_non_null(r.body);
	assert_non_null(strstr(r.body, "spo2_low"));
	free(r.body);
	r = http(&s, "GET", "/api/v1/patients/p1/vitals", s.token, NULL, 0);
	assert_int_equal(r.code, 200);
	assert_non_null(strstr(r.body, "74"));
	assert_non_null(strstr(r.body, "77"));
	free(r.body);
	assert_int_equal(server_stop(&s), 0);

	/* the FHIR Observation is in bronze's fhir source as it came */
	{
		struct cl_blog_reader *br;
		struct cl_frame f;
		char src[400];
		int found = 0;

		snprintf(src, sizeof(src), "%s/bronze/fhir", data);
		assert_int_equal(cl_blog_reader_open(src, 0, UINT64_MAX, 1 << 20, &br), 0);
		while (cl_blog_reader_next(br, &f) == 1)
			found += memmem(f.data, f.len, "\"kf-1\"", 6) != NULL;
		cl_blog_reader_close(br);
		assert_int_equal(found, 1);
	}

	/* the ids carelake gave: all three in bronze, the array's two by
	 * their index (bronze keeps each event as a record of its own) */
	{
		struct cl_blog_reader *br;
		struct cl_json_doc d;
		struct cl_frame f;
		char src[400], id[160];
		int plain = 0, indexed = 0;

		cl_json_doc_init(&d);
		snprintf(src, sizeof(src), "%s/bronze/vitals", data);
		assert_int_equal(cl_blog_reader_open(src, 0, UINT64_MAX, 1 << 20, &br), 0);
		while (cl_blog_reader_next(br, &f) == 1) {
			int p, ix;
			long long o;

			assert_int_equal(cl_json_parse(&d, (const char *)f.data, f.len), 0);
			assert_true(cl_json_str(&d, (uint32_t)cl_json_get(&d, 0, "id"), id,
						sizeof(id)) > 0);
			if (sscanf(id, "kafka:vitals:%d:%lld:%d", &p, &o, &ix) == 3)
				indexed |= 1 << ix;
			else if (sscanf(id, "kafka:vitals:%d:%lld", &p, &o) == 2)
				plain++;
		}
		cl_blog_reader_close(br);
		cl_json_doc_free(&d);
		assert_int_equal(plain, 1);
		assert_int_equal(indexed, 3); /* :0 and :1 */
	}

	/* a restart reads nothing again: the offsets were committed */
	server_start(&s, bin, data, extra);
	wait_metric(&s, "carelake_kafka_assigned_partitions", 2);
	usleep(500000);
	assert_int_equal(metric(&s, "carelake_kafka_records_total"), 0);
	assert_int_equal(server_stop(&s), 0);
}

#define STREAM_N 20000

/* Counts the stream's records in bronze (ids ks-N, and kafka:stream:P:O
 * for the ones sent without); fails on any stored twice. */
static int count_stored(const char *data, uint8_t *seen)
{
	struct cl_blog_reader *r;
	struct cl_json_doc d;
	struct cl_frame f;
	char src[400], id[160];
	int n = 0;

	memset(seen, 0, STREAM_N);
	cl_json_doc_init(&d);
	snprintf(src, sizeof(src), "%s/bronze/vitals", data);
	assert_int_equal(cl_blog_reader_open(src, 0, UINT64_MAX, 1 << 20, &r), 0);
	while (cl_blog_reader_next(r, &f) == 1) {
		int k, p;
		long long o;

		assert_int_equal(cl_json_parse(&d, (const char *)f.data, f.len), 0);
		assert_true(cl_json_str(&d, (uint32_t)cl_json_get(&d, 0, "id"), id, sizeof(id)) > 0);
		if (sscanf(id, "ks-%d", &k) == 1) {
			assert_true(k >= 0 && k < STREAM_N && k % 10 != 0);
		} else {
			/* no id sent: every tenth, at partition k % 2, offset k / 2 */
			assert_int_equal(sscanf(id, "kafka:stream:%d:%lld", &p, &o), 2);
			k = (int)(o * 2 + p);
			assert_true(k >= 0 && k < STREAM_N && k % 10 == 0);
		}
		if (seen[k])
			fail_msg("%s stored twice", id);
		seen[k] = 1;
		n++;
	}
	cl_blog_reader_close(r);
	cl_json_doc_free(&d);
	return n;
}

/* The group's committed offsets of the stream's two partitions. */
static void committed(const char *group, int64_t off[2])
{
	rd_kafka_conf_t *conf = rd_kafka_conf_new();
	rd_kafka_topic_partition_list_t *l = rd_kafka_topic_partition_list_new(2);
	char err[256];
	rd_kafka_t *c;

	rd_kafka_conf_set(conf, "bootstrap.servers", bootstraps, err, sizeof(err));
	rd_kafka_conf_set(conf, "group.id", group, err, sizeof(err));
	c = rd_kafka_new(RD_KAFKA_CONSUMER, conf, err, sizeof(err));
	assert_non_null(c);
	rd_kafka_topic_partition_list_add(l, "stream", 0);
	rd_kafka_topic_partition_list_add(l, "stream", 1);
	assert_int_equal(rd_kafka_committed(c, l, 10000), RD_KAFKA_RESP_ERR_NO_ERROR);
	for (int p = 0; p < 2; p++)
		off[p] = l->elems[p].offset < 0 ? 0 : l->elems[p].offset;
	rd_kafka_topic_partition_list_destroy(l);
	rd_kafka_destroy(c);
}

static void test_kafka_crash(void **state)
{
	const char *extra[] = { KAFKA_ARGS("crash", "stream"), NULL };
	/* the restart with a bronze that pushes back: the consumer pauses.
	 * A commit waits up to 100 ms for a batch that 64 KiB of pending bytes
	 * can never fill, so bronze takes at most 64 KiB a tenth of a second,
	 * well below what the consumer reads, in any build */
	const char *small[] = { KAFKA_ARGS("crash", "stream"), "--set", "bronze.pending_max_bytes=64KiB",
				"--set", "bronze.commit_max_wait=100ms", NULL };
	char data[300], ev[1024], key[32];
	uint8_t *seen = calloc(STREAM_N, 1);
	int64_t off[2], at_kill[2], base = cl_time_now_us() - 3600 * 1000000ll;
	struct server s;
	int n;

	(void)state;
	snprintf(brokers_arg, sizeof(brokers_arg), "kafka.brokers=%s", bootstraps);
	snprintf(data, sizeof(data), "%s/crash", dir);
	/* record k goes to partition k % 2 at offset k / 2 */
	for (int k = 0; k < STREAM_N; k++) {
		snprintf(key, sizeof(key), "p%d", k % 50);
		if (k % 10 != 0) {
			char id[24];

			snprintf(id, sizeof(id), "ks-%d", k);
			snprintf(ev, sizeof(ev), "%s",
				 test_event_at(base + k * 1000ll, id, "mon-s", key, "heart_rate",
					       60 + k % 40, "/min"));
		} else {
			/* the same event without its id member */
			char *p;

			snprintf(ev, sizeof(ev), "%s",
				 test_event_at(base + k * 1000ll, "", "mon-s", key, "heart_rate",
					       60 + k % 40, "/min"));
			p = strstr(ev, "\"id\":\"\",");
			assert_non_null(p);
			memmove(p, p + 8, strlen(p + 8) + 1);
		}
		produce("stream", k % 2, key, ev);
	}
	flush_producer();
	/* SIGKILLed while it consumes the stream */
	server_start(&s, bin, data, extra);
	for (int i = 0; i < 3000 * cl_test_slowdown() &&
			metric(&s, "carelake_kafka_committed_total") < STREAM_N / 10; i++)
		usleep(2000);
	server_kill(&s);

	/* what the group committed at the kill is in bronze */
	committed("crash", at_kill);
	n = count_stored(data, seen);
	off[0] = at_kill[0];
	off[1] = at_kill[1];
	print_message("at the kill: %d stored, offsets %lld and %lld committed\n", n,
		      (long long)off[0], (long long)off[1]);
	assert_true(off[0] + off[1] > 0);
	for (int k = 0; k < STREAM_N; k++)
		if (k / 2 < off[k % 2] && !seen[k])
			fail_msg("record %d (partition %d offset %d) committed but not stored", k,
				 k % 2, k / 2);

	/* restarted (once the group gave up on the killed node: the session
	 * timeout): the rest is read, what was read again is a duplicate */
	server_start(&s, bin, data, small);
	for (int i = 0; i < 1500 * cl_test_slowdown() && count_stored(data, seen) < STREAM_N; i++)
		usleep(20000);
	wait_metric(&s, "carelake_kafka_committed_total",
		    STREAM_N - (long)(at_kill[0] + at_kill[1]));
	/* read again exactly: what was stored but not yet committed */
	assert_int_equal(metric(&s, "carelake_events_duplicate_total"),
			 n - (long)(at_kill[0] + at_kill[1]));
	assert_int_equal(metric(&s, "carelake_kafka_records_total"),
			 STREAM_N - (long)(at_kill[0] + at_kill[1]));
	/* bronze pushes back only when the restart has more to read than its
	 * 64 KiB of pending bytes take at once: a kill that came late (a slow
	 * build) leaves too little to fill it */
	if (STREAM_N - (at_kill[0] + at_kill[1]) >= 5000)
		assert_true(metric(&s, "carelake_kafka_pauses_total") > 0);
	assert_int_equal(metric(&s, "carelake_kafka_paused"), 0);
	print_message("restarted: %ld pauses while bronze pushed back\n",
		      metric(&s, "carelake_kafka_pauses_total"));
	assert_int_equal(server_stop(&s), 0);
	assert_int_equal(count_stored(data, seen), STREAM_N);
	committed("crash", off);
	assert_int_equal(off[0] + off[1], STREAM_N);
	free(seen);
}

/* The group's committed offset of topic's partition (0: none). */
static int64_t committed_one(const char *group, const char *topic, int partition)
{
	rd_kafka_conf_t *conf = rd_kafka_conf_new();
	rd_kafka_topic_partition_list_t *l = rd_kafka_topic_partition_list_new(1);
	char err[256];
	rd_kafka_t *c;
	int64_t off;

	rd_kafka_conf_set(conf, "bootstrap.servers", bootstraps, err, sizeof(err));
	rd_kafka_conf_set(conf, "group.id", group, err, sizeof(err));
	c = rd_kafka_new(RD_KAFKA_CONSUMER, conf, err, sizeof(err));
	assert_non_null(c);
	rd_kafka_topic_partition_list_add(l, topic, partition);
	assert_int_equal(rd_kafka_committed(c, l, 10000), RD_KAFKA_RESP_ERR_NO_ERROR);
	off = l->elems[0].offset < 0 ? 0 : l->elems[0].offset;
	rd_kafka_topic_partition_list_destroy(l);
	rd_kafka_destroy(c);
	return off;
}

/* A header of m as a string (static buffer; "" if absent). */
static const char *header(const rd_kafka_message_t *m, const char *name)
{
	static char buf[256];
	rd_kafka_headers_t *h = NULL;
	const void *v;
	size_t n;

	buf[0] = '\0';
	if (rd_kafka_message_headers(m, &h) == RD_KAFKA_RESP_ERR_NO_ERROR &&
	    rd_kafka_header_get_last(h, name, &v, &n) == RD_KAFKA_RESP_ERR_NO_ERROR &&
	    n < sizeof(buf)) {
		memcpy(buf, v, n);
		buf[n] = '\0';
	}
	return buf;
}

static void test_kafka_dead_letter_topic(void **state)
{
	const char *extra[] = { KAFKA_ARGS("dlt", "vitals-dlt"), "--set",
				"kafka.dead_letter_topic=dead-letters", NULL };
	rd_kafka_resp_err_t errs[25];
	char data[300], path[400];
	int64_t now = cl_time_now_us();
	int held_back = 0;
	struct server s;

	(void)state;
	snprintf(brokers_arg, sizeof(brokers_arg), "kafka.brokers=%s", bootstraps);
	snprintf(data, sizeof(data), "%s/dlt", dir);
	assert_int_equal(rd_kafka_mock_topic_create(mcluster, "vitals-dlt", 1, 1), 0);
	assert_int_equal(rd_kafka_mock_topic_create(mcluster, "dead-letters", 1, 1), 0);
	/* offsets 0, 1 (rejected: not JSON) and 2 */
	produce("vitals-dlt", 0, "p5", test_event_at(now - 3000000, "dl-0", "mon-5", "p5",
						    "heart_rate", 71, "/min"));
	produce("vitals-dlt", 0, "p5", "{not json");
	produce("vitals-dlt", 0, "p5", test_event_at(now - 1000000, "dl-2", "mon-5", "p5",
						    "heart_rate", 72, "/min"));
	flush_producer();
	/* the brokers refuse the next 25 produce requests (retriable): the
	 * dead letter is retried for a few seconds */
	for (int i = 0; i < 25; i++)
		errs[i] = RD_KAFKA_RESP_ERR_NOT_ENOUGH_REPLICAS;
	rd_kafka_mock_push_request_errors_array(mcluster, 0 /* Produce */, 25, errs);

	server_start(&s, bin, data, extra);
	wait_metric(&s, "carelake_kafka_records_total", 3);
	/* until the dead letter is confirmed, nothing past offset 1 is
	 * committed, though offset 2 is stored (read the offset first: a
	 * delivery seen after it came after it) */
	for (int i = 0; i < 300 * cl_test_slowdown(); i++) {
		int64_t off = committed_one("dlt", "vitals-dlt", 0);

		if (metric(&s, "carelake_kafka_dead_letter_delivered_total") > 0)
			break;
		assert_true(off <= 1);
		held_back++;
		usleep(10000);
	}
	print_message("the source offset was held back %d times while the dead letter was "
		      "refused\n", held_back);
	assert_true(held_back > 0);
	wait_metric(&s, "carelake_kafka_committed_total", 3);
	assert_int_equal(committed_one("dlt", "vitals-dlt", 0), 3);
	assert_int_equal(metric(&s, "carelake_kafka_dead_letter_delivered_total"), 1);
	assert_int_equal(metric(&s, "carelake_kafka_dead_letter_total"), 1);
	assert_true(metric(&s, "carelake_kafka_dead_letter_failed_total") == 0);
	assert_int_equal(server_stop(&s), 0);
	/* not in the file */
	snprintf(path, sizeof(path), "%s/kafka/dead-letter.ndjson", data);
	assert_int_equal(access(path, F_OK), -1);

	/* the dead letter: envelope and headers */
	{
		rd_kafka_conf_t *conf = rd_kafka_conf_new();
		rd_kafka_topic_partition_list_t *l = rd_kafka_topic_partition_list_new(1);
		rd_kafka_message_t *m = NULL;
		char err[256];
		rd_kafka_t *c;
		json_t *env;

		rd_kafka_conf_set(conf, "bootstrap.servers", bootstraps, err, sizeof(err));
		/* a consumer needs a group, even one that only assigns */
		rd_kafka_conf_set(conf, "group.id", "dlt-reader", err, sizeof(err));
		c = rd_kafka_new(RD_KAFKA_CONSUMER, conf, err, sizeof(err));
		assert_non_null(c);
		rd_kafka_topic_partition_list_add(l, "dead-letters", 0)->offset =
			RD_KAFKA_OFFSET_BEGINNING;
		assert_int_equal(rd_kafka_assign(c, l), 0);
		for (int i = 0; i < 100 && !m; i++) {
			m = rd_kafka_consumer_poll(c, 100);
			if (m && m->err) {
				rd_kafka_message_destroy(m);
				m = NULL;
			}
		}
		assert_non_null(m);
		assert_int_equal(m->key_len, 2);
		assert_memory_equal(m->key, "p5", 2);
		assert_string_equal(header(m, "carelake-source-topic"), "vitals-dlt");
		assert_string_equal(header(m, "carelake-source-partition"), "0");
		assert_string_equal(header(m, "carelake-source-offset"), "1");
		assert_string_equal(header(m, "carelake-input"), "kafka");
		assert_string_equal(header(m, "carelake-reason"), "not JSON device events");
		env = json_loadb(m->payload, m->len, 0, NULL);
		assert_non_null(env);
		assert_string_equal(json_string_value(json_object_get(env, "record")), "{not json");
		assert_string_equal(json_string_value(json_object_get(env, "topic")), "vitals-dlt");
		assert_int_equal(json_integer_value(json_object_get(env, "offset")), 1);
		assert_int_equal(json_array_size(json_object_get(env, "reasons")), 1);
		json_decref(env);
		rd_kafka_message_destroy(m);
		/* exactly one */
		m = rd_kafka_consumer_poll(c, 300);
		assert_true(!m || m->err);
		if (m)
			rd_kafka_message_destroy(m);
		rd_kafka_topic_partition_list_destroy(l);
		rd_kafka_consumer_close(c);
		rd_kafka_destroy(c);
	}
}

int main(int argc, char **argv)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_kafka_ingest),
		cmocka_unit_test(test_kafka_crash),
		cmocka_unit_test(test_kafka_dead_letter_topic),
	};

	if (argc < 2) {
		fprintf(stderr, "usage: %s /path/to/carelake\n", argv[0]);
		return 2;
	}
	bin = argv[1];
	SERVE_TEST_RUN_GROUP(tests, setup, teardown);
}
