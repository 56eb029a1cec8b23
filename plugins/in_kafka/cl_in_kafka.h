/*
 * in_kafka: device events and FHIR resources from Kafka-protocol brokers
 * (Apache Kafka, Azure Event Hubs' Kafka endpoint, Redpanda, Confluent),
 * through librdkafka.
 *
 * Two inputs share the kafka.* section: `kafka` consumes kafka.topics as
 * device events (the JSON object, array or NDJSON the HTTP endpoint
 * takes), `kafka_fhir` consumes kafka.fhir_topics as FHIR Observations or
 * Bundles (as POST /fhir takes them). Each is one consumer of the group
 * kafka.group (kafka_fhir's is <group>-fhir), with its own thread.
 *
 * Every record goes through the same per-record validation as over HTTP
 * and MQTT. A record with rejected content is written, with the reasons,
 * to the dead-letter topic kafka.dead_letter_topic (its delivery confirmed
 * by the brokers before its offset is committed) or, when that is not
 * set, to the dead-letter file <data>/kafka/dead-letter.ndjson (fsynced
 * before its offset is committed). Offsets are committed by hand, and only once
 * every record up to them is durable in bronze (or in the dead-letter
 * file): a crash re-reads, never loses. A device event sent without an
 * `id` gets one, kafka:<topic>:<partition>:<offset>, before it is stored,
 * so a re-read after a crash is a duplicate as a retried id is.
 *
 * Several nodes in one group: when a node is given a partition it did not
 * hold, it first rebuilds the stream state of that partition's patients
 * from the partition itself: the records of the last kafka.rebuild_window
 * (by their Kafka timestamps) up to the group's committed offset are read
 * with a second, group-less consumer and handed to the stream's rebuild
 * (cl_stream_rebuild: state moves, nothing is raised or stored), and only
 * once the stream has applied them does the partition's consumption start
 * at the committed offset.
 *
 * When bronze pushes back (CL_EBUSY) the consumer pauses its partitions,
 * keeps the one record it holds, offers it again until bronze takes it,
 * and resumes: memory stays bounded (kafka.queue_max bytes fetched ahead).
 */
#ifndef CL_IN_KAFKA_H
#define CL_IN_KAFKA_H

#include "core/cl_config.h"
#include "ingest/cl_input.h"

#include <stdint.h>

/* The kafka.* settings. */
struct cl_kafka_settings {
	char brokers[CL_CFG_STRING_MAX];           /* bootstrap HOST:PORT list */
	char topics[CL_CFG_STRING_MAX];            /* device-event topics */
	char fhir_topics[CL_CFG_STRING_MAX];       /* FHIR topics */
	char group[CL_CFG_STRING_MAX];             /* consumer group */
	char client_id[CL_CFG_STRING_MAX];         /* client.id */
	char security_protocol[CL_CFG_STRING_MAX]; /* PLAINTEXT, SSL, SASL_PLAINTEXT, SASL_SSL */
	char sasl_mechanism[CL_CFG_STRING_MAX];    /* PLAIN, SCRAM-SHA-256, SCRAM-SHA-512 */
	char sasl_username[CL_CFG_STRING_MAX];
	char sasl_password_file[CL_CFG_STRING_MAX]; /* else $CARELAKE_KAFKA_PASSWORD */
	char ssl_ca_location[CL_CFG_STRING_MAX];   /* CA file; empty: the system's */
	int64_t session_timeout_us;                /* group session timeout */
	uint64_t queue_max;                        /* bytes fetched ahead per consumer */
	char offset_reset[CL_CFG_STRING_MAX];      /* earliest or latest, for a new group */
	char dead_letter_topic[CL_CFG_STRING_MAX]; /* rejected records; empty: the file */
	int64_t rebuild_window_us;                 /* stream state replayed on takeover */
};

extern const struct cl_config_section cl_kafka_section;

/* The kafka.* settings of c. */
const struct cl_kafka_settings *cl_kafka_settings(const struct cl_config *c);

/* The device-event input (ingest.inputs names it "kafka"; off without
 * kafka.brokers or kafka.topics). */
extern const struct cl_input_plugin cl_in_kafka;

/* The FHIR input (ingest.inputs names it "kafka_fhir"; off without
 * kafka.brokers or kafka.fhir_topics). */
extern const struct cl_input_plugin cl_in_kafka_fhir;

#endif
