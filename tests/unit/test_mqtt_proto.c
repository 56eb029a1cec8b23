/* MQTT 3.1.1 encoding and decoding, byte for byte, and every refusal. */
#include "cl_test.h"
#include "core/cl_error.h"
#include "mqtt/cl_mqtt_proto.h"

static void test_encode(void **state)
{
	uint8_t b[64];
	static const uint8_t connect[] = { 0x10, 0x0e, 0, 4, 'M', 'Q', 'T', 'T', 4, 0x00, 0, 30,
					   0, 2, 'c', 'l' };
	static const uint8_t sub[] = { 0x82, 0x08, 0, 1, 0, 3, 'a', '/', '+', 1 };

	struct cl_mqtt_connect_fields f = { .client_id = "cl", .keepalive_s = 30 };

	(void)state;
	assert_int_equal(cl_mqtt_connect(b, sizeof(b), &f), sizeof(connect));
	assert_memory_equal(b, connect, sizeof(connect));
	assert_int_equal(cl_mqtt_subscribe(b, sizeof(b), 1, "a/+", 1), sizeof(sub));
	assert_memory_equal(b, sub, sizeof(sub));
	assert_int_equal(cl_mqtt_puback(b, sizeof(b), 0x1234), 4);
	assert_memory_equal(b, "\x40\x02\x12\x34", 4);
	assert_int_equal(cl_mqtt_pingreq(b, sizeof(b)), 2);
	f.client_id = "client";
	assert_int_equal(cl_mqtt_connect(b, 8, &f), -1); /* does not fit */
}

/* CONNECT with a user name and a password (MQTT 3.1.1, 3.1.2.8-9 and 3.1.3.4-5):
 * flags 0x80 | 0x40, both after the client id, each with its length. */
static void test_encode_credentials(void **state)
{
	static const uint8_t want[] = { 0x10, 0x1b, 0, 4, 'M', 'Q', 'T', 'T', 4, 0xc2, 0, 30,
					0, 2, 'c', 'l', 0, 3, 'd', 'e', 'v', 0, 6, 's', '3', '\0',
					'c', '\n', 't' };
	struct cl_mqtt_connect_fields f = {
		.client_id = "cl", .username = "dev", .password = "s3\0c\nt", .password_len = 6,
		.keepalive_s = 30, .clean_session = 1,
	};
	uint8_t b[64];

	(void)state;
	assert_int_equal(cl_mqtt_connect(b, sizeof(b), &f), sizeof(want));
	assert_memory_equal(b, want, sizeof(want));
	/* a user name alone sets only its flag */
	f.password = NULL;
	assert_int_equal(cl_mqtt_connect(b, sizeof(b), &f), sizeof(want) - 8);
	assert_int_equal(b[1], 0x1b - 8);
	assert_int_equal(b[9], 0x82);
	/* a password without a user name is not MQTT 3.1.1 */
	f.password = "x";
	f.password_len = 1;
	f.username = NULL;
	assert_int_equal(cl_mqtt_connect(b, sizeof(b), &f), -1);
}

/* The device level of a filter, and a topic's levels. */
static void test_device_level(void **state)
{
	static const struct { const char *filter; int level; const char *msg; } cases[] = {
		{ "devices/+/messages/events", 1, NULL },
		{ "+/vitals", 0, NULL },
		{ "ward/3/+", 2, NULL },
		{ "devices/+/#", 1, NULL },
		{ "devices/monitor-1/messages/events", CL_EINVAL, "no '+' level" },
		{ "devices/#", CL_EINVAL, "no '+' level" },
		{ "+/+/events", CL_EINVAL, "more than one '+'" },
		{ "devices/dev+/events", CL_EINVAL, "whole level" },
		{ "devices/+/#/x", CL_EINVAL, "'#' must be the last" },
		{ "", CL_EINVAL, "empty" },
	};
	const uint8_t *seg;
	size_t len;

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		int got = cl_mqtt_filter_device_level(cases[i].filter);

		if (got != cases[i].level || (cases[i].msg && !strstr(cl_error_detail(), cases[i].msg)))
			fail_msg("'%s': %d '%s'", cases[i].filter, got, cl_error_detail());
	}
	assert_int_equal(cl_mqtt_topic_level((const uint8_t *)"devices/m-1/messages/events", 27, 1,
					     &seg, &len), 1);
	assert_int_equal(len, 3);
	assert_memory_equal(seg, "m-1", 3);
	assert_int_equal(cl_mqtt_topic_level((const uint8_t *)"a//b", 4, 1, &seg, &len), 1);
	assert_int_equal(len, 0);
	assert_int_equal(cl_mqtt_topic_level((const uint8_t *)"a/b", 3, 0, &seg, &len), 1);
	assert_int_equal(len, 1);
	assert_int_equal(seg[0], 'a');
	assert_int_equal(cl_mqtt_topic_level((const uint8_t *)"a/b", 3, 2, &seg, &len), 0);
}

static void test_decode_publish_roundtrip(void **state)
{
	uint8_t b[70000];
	struct cl_mqtt_packet p;
	char *payload = malloc(65000);
	long n;

	(void)state;
	memset(payload, 'x', 65000);
	/* a payload long enough for a 3-byte remaining length */
	n = cl_mqtt_publish(b, sizeof(b), "devices/m1/messages/events", payload, 65000, 1, 7);
	assert_true(n > 65000);
	for (long cut = 0; cut < n; cut += 997)
		assert_int_equal(cl_mqtt_decode(b, (size_t)cut, &p), 0); /* needs more */
	assert_int_equal(cl_mqtt_decode(b, (size_t)n, &p), n);
	assert_int_equal(p.type, CL_MQTT_PUBLISH);
	assert_int_equal(p.qos, 1);
	assert_int_equal(p.packet_id, 7);
	assert_int_equal(p.topic_len, strlen("devices/m1/messages/events"));
	assert_int_equal(p.payload_len, 65000);
	assert_true(cl_mqtt_topic_matches("devices/+/messages/events", p.topic, p.topic_len));
	assert_false(cl_mqtt_topic_matches("devices/+/messages", p.topic, p.topic_len));
	assert_true(cl_mqtt_topic_matches("devices/#", p.topic, p.topic_len));
	free(payload);
	/* CONNACK, SUBACK, PINGRESP */
	assert_int_equal(cl_mqtt_decode((const uint8_t *)"\x20\x02\x01\x00", 4, &p), 4);
	assert_int_equal(p.session_present, 1);
	assert_int_equal(cl_mqtt_decode((const uint8_t *)"\x90\x03\x00\x01\x80", 5, &p), 5);
	assert_int_equal(p.suback_qos, 0x80);
	assert_int_equal(cl_mqtt_decode((const uint8_t *)"\xd0\x00", 2, &p), 2);
}

static void test_refusals(void **state)
{
	static const struct { const char *bytes; size_t len; const char *msg; } bad[] = {
		{ "\x30\xff\xff\xff\xff\x01", 6, "longer than 4 bytes" },
		{ "\x36\x05\x00\x01t\x00\x01", 7, "QoS 3" },
		{ "\x38\x05\x00\x01tab", 7, "DUP" },
		{ "\x32\x05\x00\x01t\x00\x00", 7, "packet id 0" },
		{ "\x30\x03\x00\x05t", 5, "does not fit" },
		{ "\x30\x04\x00\x02t#", 6, "not a valid topic name" },
		{ "\x20\x03\x00\x00\x00", 5, "CONNACK" },
		{ "\x90\x03\x00\x01\x05", 5, "SUBACK return code" },
		{ "\x10\x00", 2, "does not send MQTT packet type 1" },
	};
	struct cl_mqtt_packet p;

	(void)state;
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		long n = cl_mqtt_decode((const uint8_t *)bad[i].bytes, bad[i].len, &p);

		if (n != CL_EPARSE || !strstr(cl_error_detail(), bad[i].msg))
			fail_msg("case %zu: %ld '%s', wanted '%s'", i, n, cl_error_detail(), bad[i].msg);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_encode),
		cmocka_unit_test(test_encode_credentials),
		cmocka_unit_test(test_device_level),
		cmocka_unit_test(test_decode_publish_roundtrip),
		cmocka_unit_test(test_refusals),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
