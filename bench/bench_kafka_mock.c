/*
 * The broker side of bench_kafka.sh: librdkafka's mock cluster on
 * loopback, in this process, with one topic of device events produced
 * before any consumer starts.
 *
 * It creates topic `vitals` with PARTITIONS partitions, produces N device
 * events to it (one JSON event per record, keyed and partitioned by
 * patient, ids b-<n>, heart rates of PATIENTS patients a second apart in
 * event time, ending now), prints
 *
 *   bootstrap 127.0.0.1:PORT
 *   produced N records in S s
 *
 * and then keeps the cluster up until its standard input closes (or it is
 * killed), so `carelake serve` processes can consume from it.
 *
 * usage: bench_kafka_mock N [PARTITIONS] [PATIENTS]
 */
#include <librdkafka/rdkafka.h>
#include <librdkafka/rdkafka_mock.h>

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static double now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* A positive number from argv, or the default. */
static long arg(int argc, char **argv, int i, long def)
{
	char *end;
	long v;

	if (argc <= i)
		return def;
	v = strtol(argv[i], &end, 10);
	if (*end || v <= 0) {
		fprintf(stderr, "bench_kafka_mock: '%s' is not a positive number\n", argv[i]);
		exit(2);
	}
	return v;
}

int main(int argc, char **argv)
{
	long n = arg(argc, argv, 1, 1000000), parts = arg(argc, argv, 2, 4);
	long patients = arg(argc, argv, 3, 1000);
	rd_kafka_conf_t *conf = rd_kafka_conf_new();
	rd_kafka_mock_cluster_t *mc;
	rd_kafka_t *host, *prod;
	char err[256], bootstraps[256], buf[64];
	time_t end_s = time(NULL);
	double t0;

	rd_kafka_conf_set(conf, "log_level", "3", err, sizeof(err));
	host = rd_kafka_new(RD_KAFKA_PRODUCER, conf, err, sizeof(err));
	if (!host || !(mc = rd_kafka_mock_cluster_new(host, 1))) {
		fprintf(stderr, "bench_kafka_mock: no mock cluster: %s\n", err);
		return 1;
	}
	snprintf(bootstraps, sizeof(bootstraps), "%s", rd_kafka_mock_cluster_bootstraps(mc));
	if (rd_kafka_mock_topic_create(mc, "vitals", (int)parts, 1) != 0) {
		fprintf(stderr, "bench_kafka_mock: the topic could not be made\n");
		return 1;
	}
	conf = rd_kafka_conf_new();
	rd_kafka_conf_set(conf, "bootstrap.servers", bootstraps, err, sizeof(err));
	rd_kafka_conf_set(conf, "linger.ms", "20", err, sizeof(err));
	rd_kafka_conf_set(conf, "batch.num.messages", "10000", err, sizeof(err));
	rd_kafka_conf_set(conf, "queue.buffering.max.messages", "1000000", err, sizeof(err));
	prod = rd_kafka_new(RD_KAFKA_PRODUCER, conf, err, sizeof(err));
	if (!prod) {
		fprintf(stderr, "bench_kafka_mock: no producer: %s\n", err);
		return 1;
	}
	t0 = now_s();
	for (long i = 0; i < n; i++) {
		long p = i % patients;
		/* one reading per patient per second, the last ones now */
		time_t ts = end_s - (time_t)((n - 1 - i) / patients);
		struct tm tm;
		char key[32], ev[320], when[32];
		int len;

		gmtime_r(&ts, &tm);
		strftime(when, sizeof(when), "%Y-%m-%dT%H:%M:%SZ", &tm);
		snprintf(key, sizeof(key), "bp-%ld", p);
		len = snprintf(ev, sizeof(ev),
			       "{\"id\":\"b-%ld\",\"device_id\":\"bm-%ld\",\"patient_id\":\"%s\","
			       "\"ts\":\"%s\",\"type\":\"heart_rate\",\"value\":%ld,\"unit\":\"/min\"}",
			       i, p, key, when, 60 + (i / patients + p) % 40);
		for (;;) {
			rd_kafka_resp_err_t e = rd_kafka_producev(
				prod, RD_KAFKA_V_TOPIC("vitals"), RD_KAFKA_V_PARTITION((int32_t)(p % parts)),
				RD_KAFKA_V_KEY(key, strlen(key)), RD_KAFKA_V_VALUE(ev, (size_t)len),
				RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY), RD_KAFKA_V_END);

			if (e == RD_KAFKA_RESP_ERR_NO_ERROR)
				break;
			if (e != RD_KAFKA_RESP_ERR__QUEUE_FULL) {
				fprintf(stderr, "bench_kafka_mock: produce: %s\n", rd_kafka_err2str(e));
				return 1;
			}
			rd_kafka_poll(prod, 10);
		}
	}
	if (rd_kafka_flush(prod, 120000) != RD_KAFKA_RESP_ERR_NO_ERROR) {
		fprintf(stderr, "bench_kafka_mock: the records were not all delivered\n");
		return 1;
	}
	printf("bootstrap %s\nproduced %ld records in %.1f s\n", bootstraps, n, now_s() - t0);
	fflush(stdout);
	rd_kafka_destroy(prod);
	/* up until the script closes our input */
	while (fgets(buf, sizeof(buf), stdin))
		;
	rd_kafka_mock_cluster_destroy(mc);
	rd_kafka_destroy(host);
	return 0;
}
