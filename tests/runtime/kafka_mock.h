/*
 * librdkafka's mock cluster for the Kafka tests: one broker in the test
 * process on 127.0.0.1, its bootstrap address, and the `--set` argument
 * that points carelake serve at it.
 */
#ifndef CL_KAFKA_MOCK_H
#define CL_KAFKA_MOCK_H

#include <stdio.h>
#include <string.h>

#include <librdkafka/rdkafka.h>
#include <librdkafka/rdkafka_mock.h>

static rd_kafka_t *mock_rk;       /* the handle the mock cluster lives in */
static rd_kafka_mock_cluster_t *mcluster;
static char bootstraps[256];      /* its brokers, host:port */
static char brokers_arg[300];     /* "kafka.brokers=<bootstraps>" */

/* Starts the cluster; librdkafka logs at `log_level` ("3": errors only). */
static inline void kafka_mock_start(const char *log_level)
{
	rd_kafka_conf_t *conf = rd_kafka_conf_new();
	char err[256];

	/* this handle only hosts the mock cluster: it connects nowhere */
	rd_kafka_conf_set(conf, "log_level", log_level, err, sizeof(err));
	mock_rk = rd_kafka_new(RD_KAFKA_PRODUCER, conf, err, sizeof(err));
	assert_non_null(mock_rk);
	mcluster = rd_kafka_mock_cluster_new(mock_rk, 1);
	assert_non_null(mcluster);
	snprintf(bootstraps, sizeof(bootstraps), "%s", rd_kafka_mock_cluster_bootstraps(mcluster));
	/* loopback only */
	assert_int_equal(strncmp(bootstraps, "127.0.0.1:", 10), 0);
	snprintf(brokers_arg, sizeof(brokers_arg), "kafka.brokers=%s", bootstraps);
}

static inline void kafka_mock_stop(void)
{
	rd_kafka_mock_cluster_destroy(mcluster);
	rd_kafka_destroy(mock_rk);
}

#endif
