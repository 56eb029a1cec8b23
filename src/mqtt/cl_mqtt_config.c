/*
 * The mqtt.* settings section. See cl_mqtt_config.h.
 */
#include "cl_mqtt_config.h"

#include <stddef.h>

#define SEC 1000000ll
#define F(field) offsetof(struct cl_mqtt_settings, field)

static const struct cl_config_entry mqtt_entries[] = {
	{ "broker", CL_CFG_STRING, "", 0, 0, F(broker),
	  "[mqtt://|mqtts://]HOST[:PORT] of an MQTT broker to take device events from (port 1883, "
	  "8883 with TLS); empty: no MQTT", NULL },
	{ "topic", CL_CFG_STRING, "devices/+/messages/events", 0, 0, F(topic),
	  "topic filter subscribed to (the IoT-hub device-to-cloud convention); its one '+' level "
	  "names the device, and an event whose device_id differs is rejected", NULL },
	{ "client_id", CL_CFG_STRING, "", 0, 0, F(client_id),
	  "MQTT client id, whose session keeps unacknowledged messages; empty: carelake-<random "
	  "hex>, made once and kept in the data directory (mqtt_client_id)", NULL },
	{ "keepalive", CL_CFG_DURATION, "30s", SEC, 3600 * SEC, F(keepalive_us),
	  "MQTT keep-alive interval", NULL },
	{ "qos", CL_CFG_U32, "1", 0, 1, F(qos),
	  "subscription QoS: 1 acknowledges each message once its events are durable", NULL },
	{ "username", CL_CFG_STRING, "", 0, 0, F(username),
	  "user name carelake gives the broker; empty: none (anonymous)", NULL },
	{ "password_file", CL_CFG_STRING, "", 0, 0, F(password_file),
	  "file holding the broker password on one line, read at start; empty: the password is "
	  "$CARELAKE_MQTT_PASSWORD, if set; never logged", NULL },
	{ "tls", CL_CFG_CHOICE, "auto", 0, 0, F(tls),
	  "TLS to the broker: on, off, or auto (on for an mqtts:// broker)", "auto|on|off" },
	{ "ca_file", CL_CFG_STRING, "", 0, 0, F(ca_file),
	  "PEM file of the CA certificates the broker's certificate must chain to; empty: the "
	  "system's", NULL },
	{ "cert_file", CL_CFG_STRING, "", 0, 0, F(cert_file),
	  "PEM client certificate (chain) for a broker that asks for one; needs mqtt.key_file",
	  NULL },
	{ "key_file", CL_CFG_STRING, "", 0, 0, F(key_file),
	  "unencrypted PEM private key of mqtt.cert_file", NULL },
	{ "tls_verify", CL_CFG_U32, "1", 0, 1, F(tls_verify),
	  "1: check the broker's certificate chain and host name; 0: encrypt without checking "
	  "who answers (tests only)", NULL },
};

const struct cl_config_section cl_mqtt_section = {
	.name = "mqtt",
	.entries = mqtt_entries,
	.nentries = sizeof(mqtt_entries) / sizeof(mqtt_entries[0]),
	.size = sizeof(struct cl_mqtt_settings),
};

const struct cl_mqtt_settings *cl_mqtt_settings(const struct cl_config *c)
{
	return cl_config_get(c, &cl_mqtt_section);
}
