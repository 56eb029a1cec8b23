/*
 * The mqtt.* settings: the broker carelake's MQTT clients connect to, how
 * (TLS, user name, where the password comes from), and what the
 * subscriber takes (topic filter, QoS, client id). `serve` reads them for
 * its subscriber and `simulate` for its MQTT target, so they live here
 * rather than in the plugin.
 */
#ifndef CL_MQTT_CONFIG_H
#define CL_MQTT_CONFIG_H

#include "core/cl_config.h"

#include <stdint.h>

struct cl_mqtt_settings {
	char broker[CL_CFG_STRING_MAX];        /* mqtt.broker, "" = off */
	char topic[CL_CFG_STRING_MAX];         /* mqtt.topic */
	char client_id[CL_CFG_STRING_MAX];     /* mqtt.client_id, "" = kept in the data dir */
	int64_t keepalive_us;                  /* mqtt.keepalive */
	uint32_t qos;                          /* mqtt.qos */
	char username[CL_CFG_STRING_MAX];      /* mqtt.username, "" = none */
	char password_file[CL_CFG_STRING_MAX]; /* mqtt.password_file */
	char tls[CL_CFG_STRING_MAX];           /* mqtt.tls: auto, on or off */
	char ca_file[CL_CFG_STRING_MAX];       /* mqtt.ca_file */
	char cert_file[CL_CFG_STRING_MAX];     /* mqtt.cert_file */
	char key_file[CL_CFG_STRING_MAX];      /* mqtt.key_file */
	uint32_t tls_verify;                   /* mqtt.tls_verify: 1 or 0 */
};

extern const struct cl_config_section cl_mqtt_section;

/* c's mqtt.* settings. */
const struct cl_mqtt_settings *cl_mqtt_settings(const struct cl_config *c);

#endif
