/*
 * The shared librdkafka configuration. See cl_kafka_conf.h.
 */
#include "cl_kafka_conf.h"
#include "core/cl_error.h"
#include "core/cl_fs.h"
#include "core/cl_log.h"
#include "core/cl_mem.h"

#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* The SASL password: kafka.sasl_password_file's line, or
 * $CARELAKE_KAFKA_PASSWORD; "" for none. */
static int read_password(const struct cl_kafka_settings *ks, char *out, size_t cap)
{
	const char *env = getenv("CARELAKE_KAFKA_PASSWORD");
	char *buf;
	size_t len;
	int rc;

	out[0] = '\0';
	if (!ks->sasl_password_file[0]) {
		if (env && strlen(env) >= cap)
			return cl_error_set(CL_ETOOBIG, "$CARELAKE_KAFKA_PASSWORD is too long");
		if (env)
			snprintf(out, cap, "%s", env);
		return CL_OK;
	}
	rc = cl_fs_read_file(ks->sasl_password_file, cap, &buf, &len);
	if (rc)
		return cl_error_set(rc, "kafka.sasl_password_file '%s' cannot be read: %s",
				    ks->sasl_password_file, cl_error_detail());
	while (len > 0 && (buf[len - 1] == '\n' || buf[len - 1] == '\r'))
		len--;
	if (len >= cap) {
		sodium_memzero(buf, len);
		cl_free(buf);
		return cl_error_set(CL_ETOOBIG, "kafka.sasl_password_file holds too long a line");
	}
	memcpy(out, buf, len);
	out[len] = '\0';
	sodium_memzero(buf, len);
	cl_free(buf);
	return CL_OK;
}

int cl_kafka_conf_set(rd_kafka_conf_t *conf, const char *key, const char *value)
{
	char err[256];

	if (rd_kafka_conf_set(conf, key, value, err, sizeof(err)) != RD_KAFKA_CONF_OK)
		return cl_error_set(CL_EINVAL, "Kafka setting %s: %s", key, err);
	return CL_OK;
}

int cl_kafka_conf_common(rd_kafka_conf_t *conf, const struct cl_kafka_settings *ks)
{
	char password[4096];
	int rc, sasl = strncmp(ks->security_protocol, "SASL", 4) == 0;

	rc = cl_kafka_conf_set(conf, "bootstrap.servers", ks->brokers);
	if (rc == CL_OK)
		rc = cl_kafka_conf_set(conf, "client.id", ks->client_id);
	if (rc == CL_OK)
		rc = cl_kafka_conf_set(conf, "security.protocol", ks->security_protocol);
	if (rc == CL_OK && sasl)
		rc = cl_kafka_conf_set(conf, "sasl.mechanism", ks->sasl_mechanism);
	if (rc == CL_OK && sasl)
		rc = cl_kafka_conf_set(conf, "sasl.username", ks->sasl_username);
	if (rc == CL_OK && sasl)
		rc = read_password(ks, password, sizeof(password));
	if (rc == CL_OK && sasl)
		rc = cl_kafka_conf_set(conf, "sasl.password", password);
	if (sasl)
		sodium_memzero(password, sizeof(password));
	if (rc == CL_OK && ks->ssl_ca_location[0])
		rc = cl_kafka_conf_set(conf, "ssl.ca.location", ks->ssl_ca_location);
	return rc;
}

void cl_kafka_log(const char *comp, int level, const char *fac, const char *buf)
{
	if (level <= 3)
		cl_log_error(comp, "event=librdkafka facility=%s detail=%s", CL_LOG_Q(fac),
			     CL_LOG_Q(buf));
	else if (level <= 4)
		cl_log_warn(comp, "event=librdkafka facility=%s detail=%s", CL_LOG_Q(fac),
			    CL_LOG_Q(buf));
}
