/*
 * MQTT ingest against a real broker: Debian's mosquitto, started by the
 * test on a free loopback port. A publisher (carelake's own MQTT encoder)
 * sends device events with QoS 1 and QoS 0, a payload that is not JSON,
 * and — while `carelake serve` is SIGKILLed and restarted — a stream that
 * must end up in bronze complete and without a single duplicate, because
 * the subscriber acknowledges a message only once it is durable and the
 * broker redelivers the rest.
 *
 * Usage: test_mqtt /path/to/carelake
 */
#include "serve_helpers.h"
#include "bronze/cl_reader.h"
#include "core/cl_time.h"
#include "json/cl_json.h"
#include "mqtt/cl_mqtt_proto.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>

static pid_t broker_pid;
static int broker_port;

static int free_port(void)
{
	struct sockaddr_in sa = { .sin_family = AF_INET };
	socklen_t len = sizeof(sa);
	int fd = socket(AF_INET, SOCK_STREAM, 0), port;

	inet_pton(AF_INET, "127.0.0.1", &sa.sin_addr);
	assert_int_equal(bind(fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
	getsockname(fd, (struct sockaddr *)&sa, &len);
	port = ntohs(sa.sin_port);
	close(fd);
	return port;
}

static void broker_start(void)
{
	char conf[300], log[300];
	pid_t parent = getpid();
	FILE *f;

	broker_port = free_port();
	snprintf(conf, sizeof(conf), "%s/mosquitto.conf", dir);
	snprintf(log, sizeof(log), "%s/mosquitto.log", dir);
	f = fopen(conf, "w");
	fprintf(f, "listener %d 127.0.0.1\nallow_anonymous true\npersistence false\n"
		   "max_queued_messages 100000\nmax_inflight_messages 100\n"
		   "log_dest stderr\n", broker_port);
	fclose(f);
	broker_pid = fork();
	if (broker_pid == 0) {
		int fd = open(log, O_WRONLY | O_CREAT | O_TRUNC, 0644);

		cl_test_die_with_parent(parent);
		dup2(fd, 2);
		execl("/usr/sbin/mosquitto", "mosquitto", "-c", conf, (char *)NULL);
		_exit(127);
	}
	for (int i = 0; i < 200; i++) {
		struct sockaddr_in sa = { .sin_family = AF_INET, .sin_port = htons(broker_port) };
		int fd = socket(AF_INET, SOCK_STREAM, 0);

		inet_pton(AF_INET, "127.0.0.1", &sa.sin_addr);
		if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) == 0) {
			close(fd);
			return;
		}
		close(fd);
		usleep(20000);
	}
	fail_msg("mosquitto did not start");
}

/* A minimal publisher: connect, publish, wait for PUBACKs. */
struct pub {
	int fd;
	uint16_t next_id;
	int unacked;
};

static void pub_connect(struct pub *p)
{
	struct sockaddr_in sa = { .sin_family = AF_INET, .sin_port = htons(broker_port) };
	uint8_t buf[256];
	long n;

	p->fd = socket(AF_INET, SOCK_STREAM, 0);
	p->next_id = 1;
	p->unacked = 0;
	inet_pton(AF_INET, "127.0.0.1", &sa.sin_addr);
	assert_int_equal(connect(p->fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
	n = cl_mqtt_connect(buf, sizeof(buf), "test-publisher", 60, 1);
	assert_int_equal(write(p->fd, buf, (size_t)n), n);
	assert_int_equal(read(p->fd, buf, 4), 4); /* CONNACK */
	assert_int_equal(buf[0], 0x20);
	assert_int_equal(buf[3], 0);
}

static void pub_wait_acks(struct pub *p, int keep)
{
	uint8_t buf[4096];
	size_t have = 0;

	while (p->unacked > keep) {
		ssize_t r = read(p->fd, buf + have, sizeof(buf) - have);
		size_t used = 0;

		assert_true(r > 0);
		have += (size_t)r;
		for (;;) {
			struct cl_mqtt_packet pk;
			long n = cl_mqtt_decode(buf + used, have - used, &pk);

			if (n <= 0)
				break;
			if (pk.type == CL_MQTT_PUBACK)
				p->unacked--;
			used += (size_t)n;
		}
		memmove(buf, buf + used, have - used);
		have -= used;
	}
}

static void pub_send(struct pub *p, const char *topic, const char *payload, int qos)
{
	uint8_t buf[2048];
	long n = cl_mqtt_publish(buf, sizeof(buf), topic, payload, strlen(payload), qos,
				 qos ? p->next_id : 0);

	assert_true(n > 0);
	assert_int_equal(write(p->fd, buf, (size_t)n), n);
	if (qos) {
		p->next_id = (uint16_t)(p->next_id % 65535 + 1);
		p->unacked++;
		pub_wait_acks(p, 50); /* a window of 50 in flight */
	}
}

static const char *event_json(int n)
{
	char id[32], dev[32], pat[32];

	snprintf(id, sizeof(id), "mq-%d", n);
	snprintf(dev, sizeof(dev), "monitor-%d", n % 7);
	snprintf(pat, sizeof(pat), "patient-%04d", n % 20);
	return test_event(id, dev, pat, "spo2", 90 + n % 10, "%");
}

/* Reads a counter from /metrics (-1 if absent). */
static long metric(const struct server *s, const char *name)
{
	struct reply r = http(s, "GET", "/metrics", NULL, NULL, 0);
	char *p;
	long v = -1;
	char key[128];

	snprintf(key, sizeof(key), "\n%s ", name);
	p = strstr(r.body, key);
	if (p)
		v = atol(p + strlen(key));
	free(r.body);
	return v;
}

static void wait_metric(const struct server *s, const char *name, long want)
{
	long v = -1;

	for (int i = 0; i < 1000; i++) {
		v = metric(s, name);
		if (v >= want)
			return;
		usleep(10000);
	}
	fail_msg("%s stayed at %ld, wanted %ld", name, v, want);
}

/* Counts the ids mq-N in bronze; fails on any stored twice. */
static int count_stored(const char *data, uint8_t *seen, int max)
{
	struct cl_blog_reader *r;
	struct cl_json_doc d;
	struct cl_frame f;
	char src[400], id[64];
	int n = 0;

	memset(seen, 0, (size_t)max);
	cl_json_doc_init(&d);
	snprintf(src, sizeof(src), "%s/bronze/vitals", data);
	assert_int_equal(cl_blog_reader_open(src, 0, UINT64_MAX, 1 << 20, &r), 0);
	while (cl_blog_reader_next(r, &f) == 1) {
		int k;

		assert_int_equal(cl_json_parse(&d, (const char *)f.data, f.len), 0);
		assert_true(cl_json_str(&d, (uint32_t)cl_json_get(&d, 0, "id"), id, sizeof(id)) > 0);
		assert_int_equal(sscanf(id, "mq-%d", &k), 1);
		assert_true(k >= 0 && k < max);
		if (seen[k])
			fail_msg("%s stored twice", id);
		seen[k] = 1;
		n++;
	}
	cl_blog_reader_close(r);
	cl_json_doc_free(&d);
	return n;
}

static void test_mqtt_ingest(void **state)
{
	char data[300], broker[64];
	const char *extra[] = { "--mqtt", broker, NULL };
	uint8_t *seen = calloc(10000, 1);
	struct server s;
	struct pub p;

	(void)state;
	broker_start();
	snprintf(broker, sizeof(broker), "127.0.0.1:%d", broker_port);
	snprintf(data, sizeof(data), "%s/mqtt", dir);
	server_start(&s, bin, data, extra);
	wait_metric(&s, "carelake_mqtt_connected", 1);

	pub_connect(&p);
	for (int i = 0; i < 500; i++)
		pub_send(&p, "devices/monitor-1/messages/events", event_json(i), 1);
	pub_send(&p, "devices/monitor-1/messages/events", "not json at all", 1);
	pub_send(&p, "devices/monitor-2/messages/events", event_json(500), 0);
	pub_wait_acks(&p, 0);
	/* every QoS 1 message acknowledged by carelake, the bad one too */
	wait_metric(&s, "carelake_mqtt_acks_total", 501);
	wait_metric(&s, "carelake_events_accepted_total", 501);
	assert_int_equal(metric(&s, "carelake_mqtt_bad_payloads_total"), 1);

	/* SIGKILL while a stream is under way, then restart: the broker
	 * redelivers what was not acknowledged; nothing lost, nothing twice */
	for (int i = 501; i < 3000; i++) {
		pub_send(&p, "devices/monitor-1/messages/events", event_json(i), 1);
		if (i == 1500)
			server_kill(&s);
	}
	pub_wait_acks(&p, 0); /* the broker has them all */
	print_message("before the restart: %d of 3000 stored\n", count_stored(data, seen, 10000));
	server_start(&s, bin, data, extra);
	wait_metric(&s, "carelake_mqtt_connected", 1);
	for (int i = 0; i < 500 && count_stored(data, seen, 10000) < 3000; i++)
		usleep(20000);
	assert_int_equal(server_stop(&s), 0);
	assert_int_equal(count_stored(data, seen, 10000), 3000);
	for (int i = 0; i < 3000; i++)
		if (!seen[i])
			fail_msg("mq-%d is missing", i);
	print_message("after the restart: all 3000 stored once\n");
	close(p.fd);
	free(seen);
}

static int teardown(void **state)
{
	(void)state;
	if (broker_pid > 0) {
		kill(broker_pid, SIGTERM);
		waitpid(broker_pid, NULL, 0);
	}
	return 0;
}

int main(int argc, char **argv)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_teardown(test_mqtt_ingest, teardown),
	};
	int rc;

	if (argc < 2) {
		fprintf(stderr, "usage: test_mqtt /path/to/carelake\n");
		return 2;
	}
	if (access("/usr/sbin/mosquitto", X_OK) != 0) {
		fprintf(stderr, "test_mqtt: /usr/sbin/mosquitto is missing (scripts/deps.sh installs it)\n");
		return 1;
	}
	bin = argv[1];
	curl_global_init(CURL_GLOBAL_DEFAULT);
	cl_test_tmpdir(dir, sizeof(dir));
	rc = cmocka_run_group_tests(tests, NULL, NULL);
	cl_test_rmtree(dir);
	curl_global_cleanup();
	return rc;
}
