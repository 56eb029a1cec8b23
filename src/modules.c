/*
 * The modules' registry: the settings section of each module, in the order
 * `carelake config --reference` lists them, and the input plugins. Adding
 * a module's settings, or an input, touches its own files and one line
 * here.
 */
#include "core/cl_config.h"
#include "core/cl_log.h"
#include "auth/cl_jwt.h"
#include "audit/cl_audit.h"
#include "batch/cl_batch.h"
#include "batch/cl_csv_map.h"
#include "batch/cl_pipeline.h"
#include "batch/cl_silver.h"
#include "bronze/cl_bronze.h"
#include "ingest/cl_ingest.h"
#include "lake/cl_lake.h"
#include "mqtt/cl_mqtt_config.h"
#include "objstore/cl_objstore.h"
#include "privacy/cl_deid.h"
#include "plugins/in_http/cl_in_http.h"
#include "plugins/in_kafka/cl_in_kafka.h"
#include "plugins/in_mqtt/cl_in_mqtt.h"
#include "plugins/in_synthetic/cl_in_synthetic.h"
#include "plugins/out_kafka/cl_out_kafka.h"
#include "serve/cl_http_config.h"
#include "serve/cl_session.h"
#include "serve/cl_webhook.h"
#include "store/cl_query.h"
#include "stream/cl_quality.h"
#include "stream/cl_rules.h"
#include "stream/cl_stream.h"

const struct cl_config_section *const cl_config_sections[] = {
	&cl_log_section,
	&cl_bronze_section,
	&cl_http_section,
	&cl_web_section,
	&cl_mqtt_section,
	&cl_kafka_section,
	&cl_out_kafka_section,
	&cl_stream_section,
	&cl_webhook_section,
	&cl_refine_section,
	&cl_lake_section,
	&cl_objstore_section,
	&cl_ingest_section,
	&cl_query_section,
	&cl_audit_section,
	&cl_deid_section,
	&cl_rules_section,
	&cl_quality_section,
	&cl_pipelines_section,
	&cl_expect_section,
	&cl_mappings_section,
	&cl_in_synthetic_section,
	&cl_oidc_section,
	NULL,
};

const struct cl_input_plugin *const cl_input_plugins[] = {
	&cl_in_events,
	&cl_in_fhir,
	&cl_in_mqtt,
	&cl_in_kafka,
	&cl_in_kafka_fhir,
	&cl_in_synthetic,
	NULL,
};
