/*
 * Two carelake nodes in one Kafka group, a partition's stream state moving
 * between them, against librdkafka's mock cluster (in this process, on
 * loopback).
 *
 * A deterministic stream of heart rate and SpO2 for 8 patients, keyed by
 * patient over 4 partitions, with tachycardia and desaturation episodes,
 * several of them spanning the points where partitions move, is produced
 * in three phases. First one node consumes all of it (group "single"):
 * its alerts are the reference. Then, in group "pair": node 1 consumes
 * phase A alone; node 2 joins (the group splits the partitions: node 2
 * rebuilds the state of the two it takes over from their records before
 * consuming them) and both consume phase B; node 1 stops gracefully (node
 * 2 takes over its two partitions, rebuilding them) and node 2 consumes
 * phase C.
 *
 * Asserted: the union of the two nodes' alerts is the single node's, by
 * (patient, rule, episode start), each closed at the same event time; no
 * node has an episode twice; an episode in both nodes' stores is one
 * that node 1 raised and node 2 adopted and closed (node 1's row open,
 * node 2's closed), never two raisings; and every record produced is in
 * exactly one node's bronze. And a node restarted over its own data
 * rebuilds nothing it stored itself.
 *
 * Usage: test_kafka_rebalance /path/to/carelake
 */
#include "serve_helpers.h"
#include "bronze/cl_reader.h"
#include "core/cl_time.h"
#include "json/cl_json.h"

#include <librdkafka/rdkafka.h>
#include <math.h>
#include <librdkafka/rdkafka_mock.h>

#include "kafka_mock.h"
#include <sqlite3.h>

#define PATIENTS 8
#define PARTITIONS 4
#define STEP_S 5
#define PHASE_S 600               /* event seconds per phase */
#define TICKS (3 * PHASE_S / STEP_S)
#define RECORDS (TICKS * PATIENTS * 2)

static rd_kafka_t *producer;
static int64_t base_us;           /* event time of tick 0 */

static int setup(void **state)
{
	rd_kafka_conf_t *conf;
	char err[256];

	(void)state;
	kafka_mock_start("4");
	assert_int_equal(rd_kafka_mock_topic_create(mcluster, "icu", PARTITIONS, 1), 0);
	conf = rd_kafka_conf_new();
	rd_kafka_conf_set(conf, "bootstrap.servers", bootstraps, err, sizeof(err));
	rd_kafka_conf_set(conf, "linger.ms", "5", err, sizeof(err));
	producer = rd_kafka_new(RD_KAFKA_PRODUCER, conf, err, sizeof(err));
	assert_non_null(producer);
	/* the whole stream lies in the last 35 minutes of event time */
	base_us = (cl_time_now_us() / 1000000 - 35 * 60) * 1000000;
	return 0;
}

static int teardown(void **state)
{
	(void)state;
	rd_kafka_destroy(producer);
	kafka_mock_stop();
	return 0;
}

/* 1 while patient i is in a tachycardia episode at second t: one in the
 * middle of phase A, and one across each phase boundary, starting at a
 * different point for each patient (some raise before the boundary and
 * clear after it, some begin before it and raise after it). */
static int tachy(int i, int t)
{
	return (t >= 300 + 20 * i && t < 360 + 20 * i) ||
	       (t >= PHASE_S - 40 + 10 * i && t < PHASE_S + 40 + 10 * i) ||
	       (t >= 2 * PHASE_S - 40 + 10 * i && t < 2 * PHASE_S + 40 + 10 * i);
}

/* 1 while an even patient's SpO2 dips, in phase B. */
static int dip(int i, int t)
{
	return i % 2 == 0 && t >= 900 + 15 * i && t < 980 + 15 * i;
}

/* Produces the ticks [from, to): every patient's heart rate and SpO2,
 * ramping toward their targets (20 /min and 3 % a reading), to partition
 * patient % PARTITIONS, keyed by patient. Returns the records produced. */
static int produce_ticks(int from, int to)
{
	static double hr[PATIENTS], spo2[PATIENTS];
	int n = 0;

	for (int k = from; k < to; k++) {
		int t = k * STEP_S;

		for (int i = 0; i < PATIENTS; i++) {
			char id[32], pat[16], dev[16], ev[1024];
			double target;

			if (k == 0) {
				hr[i] = 80;
				spo2[i] = 97;
			}
			target = tachy(i, t) ? 140 : 80;
			hr[i] += hr[i] < target ? 20 : hr[i] > target ? -20 : 0;
			target = dip(i, t) ? 87 : 97;
			spo2[i] = target > spo2[i] ? fmin(target, spo2[i] + 3)
						   : fmax(target, spo2[i] - 3);
			snprintf(pat, sizeof(pat), "pt-%d", i);
			snprintf(dev, sizeof(dev), "mon-%d", i);
			for (int v = 0; v < 2; v++) {
				snprintf(id, sizeof(id), "r-%d-%d-%d", k, i, v);
				snprintf(ev, sizeof(ev), "%s",
					 test_event_at(base_us + (int64_t)t * 1000000 + v * 1000, id, dev,
						       pat, v ? "spo2" : "heart_rate", v ? spo2[i] : hr[i],
						       v ? "%" : "/min"));
				assert_int_equal(rd_kafka_producev(
					producer, RD_KAFKA_V_TOPIC("icu"),
					RD_KAFKA_V_PARTITION(i % PARTITIONS),
					RD_KAFKA_V_KEY(pat, strlen(pat)),
					RD_KAFKA_V_VALUE(ev, strlen(ev)),
					RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY), RD_KAFKA_V_END), 0);
				n++;
			}
		}
	}
	assert_int_equal(rd_kafka_flush(producer, 10000), RD_KAFKA_RESP_ERR_NO_ERROR);
	return n;
}

/* The sum of the group's committed offsets over the topic's partitions. */
static long committed(const char *group)
{
	rd_kafka_conf_t *conf = rd_kafka_conf_new();
	rd_kafka_topic_partition_list_t *l = rd_kafka_topic_partition_list_new(PARTITIONS);
	char err[256];
	rd_kafka_t *c;
	long sum = 0;

	rd_kafka_conf_set(conf, "bootstrap.servers", bootstraps, err, sizeof(err));
	rd_kafka_conf_set(conf, "group.id", group, err, sizeof(err));
	c = rd_kafka_new(RD_KAFKA_CONSUMER, conf, err, sizeof(err));
	assert_non_null(c);
	for (int p = 0; p < PARTITIONS; p++)
		rd_kafka_topic_partition_list_add(l, "icu", p);
	assert_int_equal(rd_kafka_committed(c, l, 10000), RD_KAFKA_RESP_ERR_NO_ERROR);
	for (int p = 0; p < PARTITIONS; p++)
		sum += l->elems[p].offset < 0 ? 0 : (long)l->elems[p].offset;
	rd_kafka_topic_partition_list_destroy(l);
	rd_kafka_destroy(c);
	return sum;
}

static void wait_committed(const char *group, long want)
{
	long v = 0;

	for (int i = 0; i < 1000 * cl_test_slowdown(); i++) {
		v = committed(group);
		if (v >= want)
			break;
		usleep(20000);
	}
	assert_int_equal(v, want);
}

/* Waits until the node's stream has applied every event it stored. */
static void wait_stream(const struct server *s)
{
	for (int i = 0; i < 1000 * cl_test_slowdown(); i++) {
		long in = metric(s, "carelake_events_accepted_total");

		if (in >= 0 && metric(s, "carelake_stream_lag_records") == 0 &&
		    metric(s, "carelake_stream_events_total") - metric(s, "carelake_kafka_rebuilt_total") >=
			    in)
			return;
		usleep(10000);
	}
	fail_msg("the stream did not catch up");
}

/* An alert: rule, patient, episode start, end (0: open). */
struct alert {
	char rule[48], patient[16];
	long long opened, closed;
};

/* The alerts in a data directory's store, clinical ones, in a stable order. */
static int alerts_of(const char *data, struct alert *out, int cap)
{
	char path[400];
	sqlite3 *db;
	sqlite3_stmt *st;
	int n = 0;

	snprintf(path, sizeof(path), "%s/carelake.db", data);
	assert_int_equal(sqlite3_open_v2(path, &db, SQLITE_OPEN_READONLY, NULL), SQLITE_OK);
	assert_int_equal(sqlite3_prepare_v2(db, "SELECT rule, patient_id, opened_us, "
					    "coalesce(closed_us, 0) FROM alert ORDER BY patient_id, "
					    "rule, opened_us", -1, &st, NULL), SQLITE_OK);
	while (sqlite3_step(st) == SQLITE_ROW) {
		assert_true(n < cap);
		snprintf(out[n].rule, sizeof(out[n].rule), "%s", sqlite3_column_text(st, 0));
		snprintf(out[n].patient, sizeof(out[n].patient), "%s", sqlite3_column_text(st, 1));
		out[n].opened = sqlite3_column_int64(st, 2);
		out[n].closed = sqlite3_column_int64(st, 3);
		n++;
	}
	sqlite3_finalize(st);
	sqlite3_close(db);
	return n;
}

static int same_episode(const struct alert *a, const struct alert *b)
{
	return strcmp(a->rule, b->rule) == 0 && strcmp(a->patient, b->patient) == 0 &&
	       a->opened == b->opened;
}

static const struct alert *find(const struct alert *set, int n, const struct alert *a)
{
	for (int i = 0; i < n; i++)
		if (same_episode(&set[i], a))
			return &set[i];
	return NULL;
}

static void no_twice(const struct alert *set, int n, const char *who)
{
	for (int i = 1; i < n; i++)
		if (same_episode(&set[i - 1], &set[i]))
			fail_msg("%s has %s of %s at %lld twice", who, set[i].rule, set[i].patient,
				 set[i].opened);
}

/* Marks each record (r-<tick>-<patient>-<vital>) of a node's bronze in
 * seen; returns how many it holds. */
static int bronze_records(const char *data, uint8_t *seen)
{
	struct cl_blog_reader *r;
	struct cl_json_doc d;
	struct cl_frame f;
	char src[400], id[64];
	int n = 0;

	cl_json_doc_init(&d);
	snprintf(src, sizeof(src), "%s/bronze/vitals", data);
	assert_int_equal(cl_blog_reader_open(src, 0, UINT64_MAX, 1 << 20, &r), 0);
	while (cl_blog_reader_next(r, &f) == 1) {
		int k, i, v;

		assert_int_equal(cl_json_parse(&d, (const char *)f.data, f.len), 0);
		assert_true(cl_json_str(&d, (uint32_t)cl_json_get(&d, 0, "id"), id, sizeof(id)) > 0);
		assert_int_equal(sscanf(id, "r-%d-%d-%d", &k, &i, &v), 3);
		seen[(k * PATIENTS + i) * 2 + v]++;
		n++;
	}
	cl_blog_reader_close(r);
	cl_json_doc_free(&d);
	return n;
}

#define NODE_ARGS(group)                                                                  \
	"--set", brokers_arg, "--set", "kafka.topics=icu", "--set", "kafka.group=" group,    \
	"--set", "kafka.session_timeout=6s", "--set", "quality.heart_rate.enabled=false",   \
	"--set", "quality.spo2.enabled=false", "--set", "alerts.device_silent.enabled=false",  \
	"--log-level", "info"

static void test_kafka_rebalance(void **state)
{
	const char *single_args[] = { NODE_ARGS("single"), NULL };
	const char *pair_args[] = { NODE_ARGS("pair"), NULL };
	static struct alert ref[512], one[512], two[512];
	char d_single[300], d_one[300], d_two[300];
	uint8_t *seen = calloc(RECORDS, 1);
	struct server s1, s2;
	int nref, none, ntwo, adopted = 0, total = 0;
	int64_t t0;

	(void)state;
	snprintf(d_single, sizeof(d_single), "%s/single", dir);
	snprintf(d_one, sizeof(d_one), "%s/node1", dir);
	snprintf(d_two, sizeof(d_two), "%s/node2", dir);

	/* phase A; node 1 alone */
	total += produce_ticks(0, TICKS / 3);
	server_start(&s1, bin, d_one, pair_args);
	wait_committed("pair", total);
	wait_stream(&s1);

	/* node 2 joins: two partitions move to it, rebuilt first */
	t0 = cl_time_mono_us();
	server_start(&s2, bin, d_two, pair_args);
	wait_metric(&s2, "carelake_kafka_rebuilds_total", 2);
	wait_metric(&s2, "carelake_kafka_assigned_partitions", 2);
	wait_metric(&s1, "carelake_kafka_assigned_partitions", 2);
	print_message("node 2 joined and rebuilt 2 partitions (%ld records) in %.1f s\n",
		      metric(&s2, "carelake_kafka_rebuilt_total"),
		      (double)(cl_time_mono_us() - t0) / 1e6);
	if (metric(&s2, "carelake_kafka_rebuilt_total") != total / 2)
		{ char c[600]; snprintf(c, sizeof(c), "grep -H kafka %s/*.serve.out >&2", dir); (void)!system(c); }
	assert_int_equal(metric(&s2, "carelake_kafka_rebuilt_total"), total / 2);
	total += produce_ticks(TICKS / 3, 2 * TICKS / 3);
	wait_committed("pair", total);
	wait_stream(&s1);

	/* node 1 leaves: node 2 takes over its partitions, rebuilt first */
	t0 = cl_time_mono_us();
	assert_int_equal(server_stop(&s1), 0);
	wait_metric(&s2, "carelake_kafka_rebuilds_total", 4);
	wait_metric(&s2, "carelake_kafka_assigned_partitions", 4);
	print_message("node 2 took over node 1's partitions in %.1f s\n",
		      (double)(cl_time_mono_us() - t0) / 1e6);
	total += produce_ticks(2 * TICKS / 3, TICKS);
	assert_int_equal(total, RECORDS);
	wait_committed("pair", total);
	wait_stream(&s2);
	{
		long n = metric(&s2, "carelake_kafka_rebuilt_total");
		long us = metric(&s2, "carelake_kafka_rebuild_microseconds_total");

		print_message("node 2 replayed %ld records in %.3f s of rebuilds\n", n,
			      (double)us / 1e6);
		/* its own two partitions' phase A, then node 1's two
		 * partitions' phases A and B: half of all */
		assert_int_equal(n, total / 2);
	}
	assert_int_equal(server_stop(&s2), 0);

	/* the reference: one node over all of it */
	server_start(&s1, bin, d_single, single_args);
	wait_committed("single", total);
	wait_stream(&s1);
	assert_int_equal(metric(&s1, "carelake_kafka_rebuilt_total"), 0);
	assert_int_equal(server_stop(&s1), 0);
	/* restarted, it takes the partitions again, but what it finds to
	 * rebuild it stored itself: its stream replays that from its own
	 * bronze, nothing is applied twice */
	server_start(&s1, bin, d_single, single_args);
	wait_metric(&s1, "carelake_kafka_rebuilds_total", PARTITIONS);
	assert_int_equal(metric(&s1, "carelake_kafka_rebuilt_total"), 0);
	assert_int_equal(metric(&s1, "carelake_kafka_rebuild_own_total"), RECORDS);
	assert_int_equal(server_stop(&s1), 0);

	nref = alerts_of(d_single, ref, 512);
	none = alerts_of(d_one, one, 512);
	ntwo = alerts_of(d_two, two, 512);
	print_message("alerts: single node %d, node 1 %d, node 2 %d\n", nref, none, ntwo);
	assert_true(nref >= 3 * PATIENTS);
	no_twice(ref, nref, "the single node");
	no_twice(one, none, "node 1");
	no_twice(two, ntwo, "node 2");
	/* every episode of the reference, with the same end */
	for (int i = 0; i < nref; i++) {
		const struct alert *a = find(one, none, &ref[i]), *b = find(two, ntwo, &ref[i]);
		const struct alert *last = b ? b : a;

		if (!last)
			fail_msg("%s of %s at %lld is in neither node", ref[i].rule, ref[i].patient,
				 ref[i].opened);
		if (last->closed != ref[i].closed)
			fail_msg("%s of %s at %lld closed at %lld, the single node at %lld",
				 ref[i].rule, ref[i].patient, ref[i].opened, last->closed,
				 ref[i].closed);
		if (a && b) {
			/* raised on node 1, adopted by node 2 and closed there */
			assert_int_equal(a->closed, 0);
			assert_true(b->closed != 0);
			adopted++;
		}
	}
	/* and nothing else */
	for (int i = 0; i < none; i++)
		if (!find(ref, nref, &one[i]))
			fail_msg("node 1 raised %s of %s at %lld, the single node did not", one[i].rule,
				 one[i].patient, one[i].opened);
	for (int i = 0; i < ntwo; i++)
		if (!find(ref, nref, &two[i]))
			fail_msg("node 2 raised %s of %s at %lld, the single node did not", two[i].rule,
				 two[i].patient, two[i].opened);
	print_message("%d episodes raised on node 1 were adopted and closed by node 2\n", adopted);
	assert_true(adopted > 0);

	/* every record in exactly one node's bronze (a graceful handover) */
	memset(seen, 0, RECORDS);
	assert_int_equal(bronze_records(d_one, seen) + bronze_records(d_two, seen), RECORDS);
	for (int k = 0; k < RECORDS; k++)
		if (seen[k] != 1)
			fail_msg("record %d is in %d nodes' bronze", k, seen[k]);
	free(seen);
}

int main(int argc, char **argv)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_kafka_rebalance),
	};

	if (argc < 2) {
		fprintf(stderr, "usage: %s /path/to/carelake\n", argv[0]);
		return 2;
	}
	bin = argv[1];
	SERVE_TEST_RUN_GROUP(tests, setup, teardown);
}
