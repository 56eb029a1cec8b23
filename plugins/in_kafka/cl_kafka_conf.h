/*
 * The librdkafka configuration every Kafka client of carelake shares: the
 * brokers, client.id, and the security settings of kafka.* (TLS, SASL,
 * the password from kafka.sasl_password_file or $CARELAKE_KAFKA_PASSWORD,
 * wiped after use and never logged). The consumers (cl_in_kafka.c) and
 * the producer (Kafka out, plugins/out_kafka) add their own settings.
 */
#ifndef CL_KAFKA_CONF_H
#define CL_KAFKA_CONF_H

#include "cl_in_kafka.h"

#include <librdkafka/rdkafka.h>

/* rd_kafka_conf_set; CL_EINVAL naming the key and librdkafka's reason. */
int cl_kafka_conf_set(rd_kafka_conf_t *conf, const char *key, const char *value);

/* Sets bootstrap.servers, client.id, security.protocol and, as ks says,
 * the SASL mechanism, user and password and the CA location. */
int cl_kafka_conf_common(rd_kafka_conf_t *conf, const struct cl_kafka_settings *ks);

/* Logs a librdkafka log line for component `comp`: its errors (syslog
 * level 3 and below) as errors, its warnings as warnings, the rest not. */
void cl_kafka_log(const char *comp, int level, const char *fac, const char *buf);

#endif
