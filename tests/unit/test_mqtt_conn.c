/*
 * The MQTT connection's settings: broker addresses, TLS on or off from the
 * scheme and mqtt.tls, the password from mqtt.password_file or the
 * environment, and every refusal, with a detail that names the setting
 * and never the password. Connecting is tested against mosquitto in
 * tests/runtime/test_mqtt.c.
 */
#include "cl_test.h"
#include "core/cl_config.h"
#include "core/cl_error.h"
#include "core/cl_log.h"
#include "mqtt/cl_mqtt_conn.h"

static char dir[256];
static struct cl_config *cfg;
static struct cl_mqtt_conn_options o;

static int setup(void **state)
{
	(void)state;
	cl_log_threshold = CL_LOG_ERROR;
	cl_test_tmpdir(dir, sizeof(dir));
	cfg = calloc(1, sizeof(*cfg));
	assert_int_equal(cl_config_init(cfg), CL_OK);
	unsetenv("CARELAKE_MQTT_PASSWORD");
	return 0;
}

static int teardown(void **state)
{
	(void)state;
	cl_config_free(cfg);
	free(cfg);
	cl_test_rmtree(dir);
	unsetenv("CARELAKE_MQTT_PASSWORD");
	return 0;
}

static void set(const char *key, const char *value)
{
	assert_int_equal(cl_config_set(cfg, key, value), CL_OK);
}

/* A file in the test directory with this content; returns its path. */
static const char *file(const char *name, const char *content)
{
	static char path[400];
	FILE *f;

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	f = fopen(path, "w");
	assert_non_null(f);
	fputs(content, f);
	fclose(f);
	return path;
}

/* from_config must refuse `broker` with a detail holding `msg`. */
static void refused(const char *broker, const char *msg)
{
	int rc = cl_mqtt_conn_options_from_config(cfg, broker, &o);

	if (rc != CL_EINVAL && rc != CL_ENOENT)
		fail_msg("'%s': %d, wanted a refusal", broker, rc);
	if (!strstr(cl_error_detail(), msg))
		fail_msg("'%s': '%s', wanted '%s'", broker, cl_error_detail(), msg);
	assert_int_equal(o.has_password, 0); /* wiped */
}

static void test_brokers(void **state)
{
	static const struct { const char *spec, *host; int port, tls; } ok[] = {
		{ "127.0.0.1:1884", "127.0.0.1", 1884, 0 },
		{ "broker.example", "broker.example", 1883, 0 },
		{ "mqtt://broker.example:1", "broker.example", 1, 0 },
		{ "mqtts://broker.example", "broker.example", 8883, 1 },
		{ "mqtts://[::1]:8884", "::1", 8884, 1 },
		{ "mqtt://[fe80::1]", "fe80::1", 1883, 0 },
	};

	(void)state;
	for (size_t i = 0; i < sizeof(ok) / sizeof(ok[0]); i++) {
		assert_int_equal(cl_mqtt_conn_options_from_config(cfg, ok[i].spec, &o), CL_OK);
		assert_string_equal(o.host, ok[i].host);
		assert_int_equal(o.port, ok[i].port);
		assert_int_equal(o.tls, ok[i].tls);
		assert_int_equal(o.tls_verify, 1);
		assert_int_equal(o.keepalive_s, 30);
	}
	refused("http://broker:80", "must be mqtt:// or mqtts://");
	refused("::1:1883", "[ADDRESS]:PORT");
	refused("[::1", "[ADDRESS]:PORT");
	refused("[::1]x", "[ADDRESS]:PORT");
	refused("broker:0", "the port must be 1..65535");
	refused("broker:65536", "the port must be 1..65535");
	refused("broker:", "the port must be 1..65535");
	refused("mqtt://", "is not [mqtt://|mqtts://]HOST[:PORT]");
	refused("broker/x:1883", "is not [mqtt://|mqtts://]HOST[:PORT]");
}

static void test_tls_settings(void **state)
{
	(void)state;
	set("mqtt.tls", "on");
	assert_int_equal(cl_mqtt_conn_options_from_config(cfg, "broker", &o), CL_OK);
	assert_int_equal(o.tls, 1);
	assert_int_equal(o.port, 8883);
	refused("mqtt://broker", "mqtt.tls is on but the broker is mqtt://");
	set("mqtt.tls", "off");
	refused("mqtts://broker", "mqtt.tls is off but the broker is mqtts://");
	assert_int_equal(cl_config_set(cfg, "mqtt.tls", "yes"), CL_EINVAL);
	set("mqtt.tls", "auto");
	set("mqtt.ca_file", "/etc/ssl/certs/ca-certificates.crt");
	refused("mqtt://broker", "need TLS");
	set("mqtt.cert_file", "client.pem");
	refused("mqtts://broker", "mqtt.cert_file and mqtt.key_file go together");
	set("mqtt.key_file", "client.key");
	set("mqtt.tls_verify", "0");
	assert_int_equal(cl_mqtt_conn_options_from_config(cfg, "mqtts://broker", &o), CL_OK);
	assert_string_equal(o.ca_file, "/etc/ssl/certs/ca-certificates.crt");
	assert_string_equal(o.cert_file, "client.pem");
	assert_string_equal(o.key_file, "client.key");
	assert_int_equal(o.tls_verify, 0);
}

static void test_password(void **state)
{
	char pw[500];

	(void)state;
	set("mqtt.username", "carelake");
	snprintf(pw, sizeof(pw), "mqtt.password_file=%s", file("pw", "s3cret pw\n"));
	assert_int_equal(cl_config_set_pair(cfg, pw), CL_OK);
	assert_int_equal(cl_mqtt_conn_options_from_config(cfg, "broker", &o), CL_OK);
	assert_string_equal(o.username, "carelake");
	assert_int_equal(o.has_password, 1);
	assert_int_equal(o.password_len, 9);
	assert_memory_equal(o.password, "s3cret pw", 9);
	/* a CRLF file, and no newline at all */
	file("pw", "s3cret\r\n");
	assert_int_equal(cl_mqtt_conn_options_from_config(cfg, "broker", &o), CL_OK);
	assert_int_equal(o.password_len, 6);
	file("pw", "s3cret");
	assert_int_equal(cl_mqtt_conn_options_from_config(cfg, "broker", &o), CL_OK);
	assert_int_equal(o.password_len, 6);
	/* the file wins over the environment */
	setenv("CARELAKE_MQTT_PASSWORD", "from-env", 1);
	assert_int_equal(cl_mqtt_conn_options_from_config(cfg, "broker", &o), CL_OK);
	assert_memory_equal(o.password, "s3cret", 6);
	/* refusals name the file, never what is in it */
	file("pw", "s3cret\nline two\n");
	refused("broker", "must hold the password on one line");
	assert_null(strstr(cl_error_detail(), "s3cret"));
	file("pw", "\n");
	refused("broker", "must hold the password on one line");
	assert_int_equal(cl_config_set(cfg, "mqtt.password_file", "/nonexistent/pw"), CL_OK);
	refused("broker", "mqtt.password_file: cannot open '/nonexistent/pw'");
	/* the environment, when no file is set */
	set("mqtt.password_file", "");
	assert_int_equal(cl_mqtt_conn_options_from_config(cfg, "broker", &o), CL_OK);
	assert_int_equal(o.password_len, 8);
	assert_memory_equal(o.password, "from-env", 8);
	/* a password needs a user name */
	set("mqtt.username", "");
	refused("broker", "needs mqtt.username");
	unsetenv("CARELAKE_MQTT_PASSWORD");
	assert_int_equal(cl_mqtt_conn_options_from_config(cfg, "broker", &o), CL_OK);
	assert_int_equal(o.has_password, 0);
	assert_int_equal(o.username[0], '\0');
}

/* The TLS files are loaded when the handle is made: a bad one stops the
 * start, naming the setting. */
static void test_tls_files(void **state)
{
	struct cl_mqtt_conn *c = NULL;
	char ca[450];

	(void)state;
	set("mqtt.tls", "on");
	assert_int_equal(cl_mqtt_conn_options_from_config(cfg, "broker", &o), CL_OK);
	assert_int_equal(cl_mqtt_conn_create(&o, &c), CL_OK); /* the system's CAs */
	assert_int_equal(cl_mqtt_conn_fd(c), -1);
	assert_string_equal(cl_mqtt_conn_peer(c), "broker:8883");
	cl_mqtt_conn_destroy(c);
	snprintf(ca, sizeof(ca), "mqtt.ca_file=%s", file("ca.pem", "not a certificate\n"));
	assert_int_equal(cl_config_set_pair(cfg, ca), CL_OK);
	assert_int_equal(cl_mqtt_conn_options_from_config(cfg, "broker", &o), CL_OK);
	assert_int_equal(cl_mqtt_conn_create(&o, &c), CL_EINVAL);
	assert_non_null(strstr(cl_error_detail(), "mqtt.ca_file '"));
	assert_non_null(strstr(cl_error_detail(), "gives no CA certificates"));
	set("mqtt.ca_file", "/nonexistent/ca.pem");
	assert_int_equal(cl_mqtt_conn_options_from_config(cfg, "broker", &o), CL_OK);
	assert_int_equal(cl_mqtt_conn_create(&o, &c), CL_EINVAL);
	assert_string_equal(cl_error_detail(),
			    "mqtt.ca_file '/nonexistent/ca.pem': No such file or directory");
	cl_mqtt_conn_destroy(NULL);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_brokers, setup, teardown),
		cmocka_unit_test_setup_teardown(test_tls_settings, setup, teardown),
		cmocka_unit_test_setup_teardown(test_password, setup, teardown),
		cmocka_unit_test_setup_teardown(test_tls_files, setup, teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
