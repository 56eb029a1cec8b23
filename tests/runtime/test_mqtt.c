/*
 * MQTT ingest against a real broker: Debian's mosquitto, started by the
 * test on a free loopback port. A publisher (carelake's own MQTT encoder)
 * sends device events with QoS 1 and QoS 0, a payload that is not JSON,
 * and — while `carelake serve` is SIGKILLed and restarted — a stream that
 * must end up in bronze complete and without a single duplicate, because
 * the subscriber acknowledges a message only once it is durable and the
 * broker redelivers the rest; the client id that session lives under is
 * kept in the data directory and differs between two of them.
 *
 * Then the broker hardened as docs/mqtt.md says: no anonymous clients, a
 * password file and an ACL that lets each device write only its own topic
 * (carelake with the right password stores events, with a wrong one says
 * the broker refused it, and an event naming another device than its
 * topic is rejected while the rest of its message is stored); and TLS,
 * with a CA and a server certificate made by the openssl CLI, which
 * carelake and its simulator verify (and refuse with another CA).
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
#include <poll.h>
#include <pwd.h>
#include <sys/socket.h>
#include <sys/stat.h>

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

static void broker_stop(void)
{
	if (broker_pid > 0) {
		kill(broker_pid, SIGTERM);
		waitpid(broker_pid, NULL, 0);
		broker_pid = 0;
	}
}

/* Starts mosquitto on a free port with `extra` configuration (the
 * listener's security settings), running as this test's user. */
static void broker_start_with(const char *extra)
{
	char conf[300], log[300];
	pid_t parent = getpid();
	struct passwd *pw = getpwuid(getuid());
	FILE *f;

	broker_stop();
	broker_port = free_port();
	snprintf(conf, sizeof(conf), "%s/mosquitto.conf", dir);
	snprintf(log, sizeof(log), "%s/mosquitto.log", dir);
	f = fopen(conf, "w");
	/* `user`: as root, mosquitto would switch to its own user, who
	 * cannot read the password file and certificates made here */
	fprintf(f, "user %s\nlistener %d 127.0.0.1\n%s\n"
		   "persistence false\nmax_queued_messages 100000\nmax_inflight_messages 100\n"
		   "log_dest stderr\nlog_type all\n", pw ? pw->pw_name : "root", broker_port, extra);
	fclose(f);
	broker_pid = fork();
	if (broker_pid == 0) {
		int fd = open(log, O_WRONLY | O_CREAT | O_TRUNC, 0644);

		cl_test_die_with_parent(parent);
		dup2(fd, 2);
		execl("/usr/sbin/mosquitto", "mosquitto", "-c", conf, (char *)NULL);
		_exit(127);
	}
	for (int i = 0; i < 200 * cl_test_slowdown(); i++) {
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

static void broker_start(void)
{
	broker_start_with("allow_anonymous true");
}

/* 1 if the file holds `needle`. */
static int file_has(const char *path, const char *needle)
{
	char *text = NULL;
	size_t cap = 0;
	FILE *f = fopen(path, "r");
	int found;

	if (!f)
		return 0;
	found = getdelim(&text, &cap, '\0', f) > 0 && strstr(text, needle);
	free(text);
	fclose(f);
	return found;
}

/* Waits (up to 20 s) for a file to hold `needle`. */
static void wait_file_has(const char *path, const char *needle)
{
	for (int i = 0; i < 2000 * cl_test_slowdown(); i++) {
		if (file_has(path, needle))
			return;
		usleep(10000);
	}
	fail_msg("'%s' never appeared in %s", needle, path);
}

/* Runs a shell command in the test's directory; fails the test if it fails. */
static void sh(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static void sh(const char *fmt, ...)
{
	char cmd[2048];
	int n;
	va_list ap;

	n = snprintf(cmd, sizeof(cmd), "cd '%s' && ", dir);
	va_start(ap, fmt);
	vsnprintf(cmd + n, sizeof(cmd) - (size_t)n, fmt, ap);
	va_end(ap);
	if (system(cmd) != 0)
		fail_msg("failed: %s", cmd);
}

/* A minimal publisher: connect, publish, wait for PUBACKs. */
struct pub {
	int fd;
	uint16_t next_id;
	int unacked;
};

/* Connects as user (NULL: anonymously); returns the CONNACK code. */
static int pub_connect_as(struct pub *p, const char *user, const char *password)
{
	struct sockaddr_in sa = { .sin_family = AF_INET, .sin_port = htons(broker_port) };
	struct cl_mqtt_connect_fields f = {
		.client_id = user ? user : "test-publisher", .username = user, .password = password,
		.password_len = password ? strlen(password) : 0, .keepalive_s = 60, .clean_session = 1,
	};
	uint8_t buf[256];
	long n;

	p->fd = socket(AF_INET, SOCK_STREAM, 0);
	p->next_id = 1;
	p->unacked = 0;
	inet_pton(AF_INET, "127.0.0.1", &sa.sin_addr);
	assert_int_equal(connect(p->fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
	n = cl_mqtt_connect(buf, sizeof(buf), &f);
	assert_int_equal(write(p->fd, buf, (size_t)n), n);
	assert_int_equal(read(p->fd, buf, 4), 4); /* CONNACK */
	assert_int_equal(buf[0], 0x20);
	return buf[3];
}

static void pub_connect(struct pub *p)
{
	assert_int_equal(pub_connect_as(p, NULL, NULL), 0);
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

/* The topic of the device event_json(n) names. */
static const char *event_topic(int n)
{
	static char topic[64];

	snprintf(topic, sizeof(topic), "devices/monitor-%d/messages/events", n % 7);
	return topic;
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

/* The ids of every event in a data directory's bronze, each followed by
 * a space (into a static buffer). */
static const char *stored_ids(const char *data)
{
	static char ids[4096];
	struct cl_blog_reader *r;
	struct cl_json_doc d;
	struct cl_frame f;
	char src[400], id[64];

	ids[0] = '\0';
	cl_json_doc_init(&d);
	snprintf(src, sizeof(src), "%s/bronze/vitals", data);
	assert_int_equal(cl_blog_reader_open(src, 0, UINT64_MAX, 1 << 20, &r), 0);
	while (cl_blog_reader_next(r, &f) == 1) {
		assert_int_equal(cl_json_parse(&d, (const char *)f.data, f.len), 0);
		assert_true(cl_json_str(&d, (uint32_t)cl_json_get(&d, 0, "id"), id, sizeof(id)) > 0);
		snprintf(ids + strlen(ids), sizeof(ids) - strlen(ids), "%s ", id);
	}
	cl_blog_reader_close(r);
	cl_json_doc_free(&d);
	return ids;
}

/* The client id a data directory keeps: carelake-<hex>, mode 0600, and the
 * one the broker saw connect. */
static void kept_client_id(const char *data, char *id, size_t cap)
{
	char path[400], seen[200];
	struct stat st;
	FILE *f;

	snprintf(path, sizeof(path), "%s/mqtt_client_id", data);
	assert_int_equal(stat(path, &st), 0);
	assert_int_equal(st.st_mode & 0777, 0600);
	f = fopen(path, "r");
	assert_non_null(f);
	assert_non_null(fgets(id, (int)cap, f));
	fclose(f);
	id[strcspn(id, "\n")] = '\0';
	assert_int_equal(strncmp(id, "carelake-", 9), 0);
	assert_true(strlen(id) > 9);
	snprintf(path, sizeof(path), "%s/mosquitto.log", dir);
	snprintf(seen, sizeof(seen), " as %s (", id);
	wait_file_has(path, seen);
}

static void test_mqtt_ingest(void **state)
{
	char data[300], data2[300], broker[64];
	const char *extra[] = { "--mqtt", broker, NULL };
	uint8_t *seen = calloc(10000, 1);
	struct server s;
	struct pub p;

	(void)state;
	broker_start();
	snprintf(broker, sizeof(broker), "127.0.0.1:%d", broker_port);
	snprintf(data, sizeof(data), "%s/mqtt", dir);
	char id1[100], id2[100];

	server_start(&s, bin, data, extra);
	wait_metric(&s, "carelake_mqtt_connected", 1);
	kept_client_id(data, id1, sizeof(id1));

	pub_connect(&p);
	for (int i = 0; i < 500; i++)
		pub_send(&p, event_topic(i), event_json(i), 1);
	pub_send(&p, "devices/monitor-1/messages/events", "not json at all", 1);
	pub_send(&p, event_topic(500), event_json(500), 0);
	pub_wait_acks(&p, 0);
	/* every QoS 1 message acknowledged by carelake, the bad one too */
	wait_metric(&s, "carelake_mqtt_acks_total", 501);
	wait_metric(&s, "carelake_events_accepted_total", 501);
	assert_int_equal(metric(&s, "carelake_mqtt_bad_payloads_total"), 1);

	/* SIGKILL while a stream is under way, then restart: the broker
	 * redelivers what was not acknowledged; nothing lost, nothing twice */
	for (int i = 501; i < 3000; i++) {
		pub_send(&p, event_topic(i), event_json(i), 1);
		if (i == 1500)
			server_kill(&s);
	}
	pub_wait_acks(&p, 0); /* the broker has them all */
	print_message("before the restart: %d of 3000 stored\n", count_stored(data, seen, 10000));
	server_start(&s, bin, data, extra);
	wait_metric(&s, "carelake_mqtt_connected", 1);
	kept_client_id(data, id2, sizeof(id2));
	assert_string_equal(id1, id2); /* the same session, resumed */
	for (int i = 0; i < 500 * cl_test_slowdown() && count_stored(data, seen, 10000) < 3000; i++)
		usleep(20000);
	assert_int_equal(server_stop(&s), 0);
	assert_int_equal(count_stored(data, seen, 10000), 3000);
	for (int i = 0; i < 3000; i++)
		if (!seen[i])
			fail_msg("mq-%d is missing", i);
	print_message("after the restart: all 3000 stored once\n");
	close(p.fd);
	free(seen);

	/* another data directory: another installation, another session */
	snprintf(data2, sizeof(data2), "%s/mqtt-other", dir);
	server_start(&s, bin, data2, extra);
	wait_metric(&s, "carelake_mqtt_connected", 1);
	kept_client_id(data2, id2, sizeof(id2));
	assert_string_not_equal(id1, id2);
	assert_int_equal(server_stop(&s), 0);
}

/* The broker as docs/mqtt.md hardens it: no anonymous clients, a password
 * file, an ACL that lets each device write only its own topic. */
static void test_mqtt_hardened(void **state)
{
	char data[300], broker[64], conf[700], user[] = "mqtt.username=carelake", pwset[400];
	const char *extra[] = { "--mqtt", broker, "--set", user, "--set", pwset, NULL };
	const char *extra_env[] = { "--mqtt", broker, "--set", user, NULL };
	char body[2100], one[1024];
	struct server s;
	struct pub p;

	(void)state;
	sh("mosquitto_passwd -c -b passwd carelake 'car3lake pw' && "
	   "mosquitto_passwd -b passwd monitor-1 m1pw && "
	   "printf 'user carelake\\ntopic read devices/+/messages/events\\n\\n"
	   "pattern write devices/%%%%u/messages/events\\n' > acl && "
	   "printf 'car3lake pw\\n' > carelake.pw && chmod 600 carelake.pw");
	snprintf(conf, sizeof(conf), "allow_anonymous false\npassword_file %s/passwd\n"
		 "acl_file %s/acl", dir, dir);
	broker_start_with(conf);
	snprintf(broker, sizeof(broker), "127.0.0.1:%d", broker_port);
	snprintf(pwset, sizeof(pwset), "mqtt.password_file=%s/carelake.pw", dir);
	snprintf(data, sizeof(data), "%s/hardened", dir);
	server_start(&s, bin, data, extra);
	wait_metric(&s, "carelake_mqtt_connected", 1);

	/* an anonymous client is turned away */
	assert_int_equal(pub_connect_as(&p, NULL, NULL), 5);
	close(p.fd);
	/* monitor-1: its own event and one naming monitor-2, in one message */
	assert_int_equal(pub_connect_as(&p, "monitor-1", "m1pw"), 0);
	snprintf(one, sizeof(one), "%s", test_event("hz-1", "monitor-1", "patient-h1", "spo2", 95, "%"));
	snprintf(body, sizeof(body), "[%s,%s]", one,
		 test_event("hz-2", "monitor-2", "patient-h2", "spo2", 91, "%"));
	pub_send(&p, "devices/monitor-1/messages/events", body, 1);
	/* on monitor-2's topic: the ACL drops it at the broker */
	pub_send(&p, "devices/monitor-2/messages/events",
		 test_event("hz-3", "monitor-2", "patient-h3", "spo2", 92, "%"), 1);
	pub_send(&p, "devices/monitor-1/messages/events",
		 test_event("hz-4", "monitor-1", "patient-h1", "spo2", 96, "%"), 1);
	pub_wait_acks(&p, 0);
	close(p.fd);
	wait_metric(&s, "carelake_events_accepted_total", 2);
	wait_metric(&s, "carelake_mqtt_acks_total", 2); /* the message of hz-2 too */
	assert_int_equal(metric(&s, "carelake_mqtt_messages_total"), 2);
	assert_int_equal(metric(&s, "carelake_mqtt_wrong_device_total"), 1);
	assert_int_equal(server_stop(&s), 0);
	assert_string_equal(stored_ids(data), "hz-1 hz-4 ");
	/* the rejection is logged by the topic's device, nothing of the event */
	assert_true(file_has(s.out_path, "event=wrong_device topic_device=\"monitor-1\" rejected=1"));
	assert_false(file_has(s.out_path, "patient-h2"));
	assert_false(file_has(s.out_path, "monitor-2"));
	assert_false(file_has(s.out_path, "car3lake"));

	/* a wrong password, from the environment: the refusal, said clearly */
	setenv("CARELAKE_MQTT_PASSWORD", "not the password", 1);
	snprintf(data, sizeof(data), "%s/hardened-wrong", dir);
	server_start(&s, bin, data, extra_env);
	unsetenv("CARELAKE_MQTT_PASSWORD");
	wait_file_has(s.out_path, "event=refused reason=\"the MQTT broker 127.0.0.1:");
	assert_true(file_has(s.out_path, "not authorized (CONNACK 5"));
	assert_int_equal(metric(&s, "carelake_mqtt_connected"), 0);
	assert_int_equal(server_stop(&s), 0);
	assert_false(file_has(s.out_path, "not the password"));
}

/* Connects as user until the broker answers `want` (it reads its
 * password file again on SIGHUP, a moment later). */
static void connect_until(const char *user, const char *password, int want)
{
	struct pub p;
	int got = -1;

	for (int i = 0; i < 250 && got != want; i++) {
		if (i)
			usleep(20000);
		got = pub_connect_as(&p, user, password);
		close(p.fd);
	}
	assert_int_equal(got, want);
}

/* Waits (up to 5 s) for the broker to close the connection fd. */
static void wait_closed(int fd)
{
	struct pollfd pfd = { .fd = fd, .events = POLLIN };
	char b[16];

	assert_int_equal(poll(&pfd, 1, 5000 * cl_test_slowdown()), 1);
	assert_int_equal(read(fd, b, sizeof(b)), 0);
}

/*
 * A device's carelake token as its MQTT password, as an operator sets it
 * up: `carelake token issue --role device --broker-passwd passwd` writes
 * the device's line into mosquitto's password file (carelake's own line
 * kept), which lets the device publish on its own topic after a SIGHUP;
 * a wrong password is refused, and once `carelake token revoke` removed
 * the line and mosquitto reloaded, the broker drops the device's open
 * connection and turns the token away, while carelake stays connected.
 */
static void test_mqtt_device_token(void **state)
{
	char data[300], broker[64], conf[700], user[] = "mqtt.username=carelake", pwset[400];
	const char *extra[] = { "--mqtt", broker, "--set", user, "--set", pwset, NULL };
	char token[128], id[32], passwd[400], tokens[400], want[500], err[300], args[200];
	struct server s;
	struct pub p, held;

	(void)state;
	sh("mosquitto_passwd -c -b passwd carelake 'car3lake pw' && "
	   "printf 'user carelake\\ntopic read devices/+/messages/events\\n\\n"
	   "pattern write devices/%%%%u/messages/events\\n' > acl && "
	   "printf 'car3lake pw\\n' > carelake.pw && chmod 600 carelake.pw");
	snprintf(conf, sizeof(conf), "allow_anonymous false\npassword_file %s/passwd\n"
		 "acl_file %s/acl", dir, dir);
	broker_start_with(conf);
	snprintf(broker, sizeof(broker), "127.0.0.1:%d", broker_port);
	snprintf(pwset, sizeof(pwset), "mqtt.password_file=%s/carelake.pw", dir);
	snprintf(data, sizeof(data), "%s/device-token", dir);
	server_start(&s, bin, data, extra);
	wait_metric(&s, "carelake_mqtt_connected", 1);

	/* the file named relative to where the operator is; kept absolute */
	token_cli(data, token, id, "issue --role device --device monitor-7 "
		  "--name 'bed 7 monitor' --broker-passwd passwd");
	snprintf(passwd, sizeof(passwd), "%s/passwd", dir);
	snprintf(err, sizeof(err), "%s/token.err", dir);
	assert_true(file_has(err, "the line of MQTT user 'monitor-7' in"));
	assert_true(file_has(err, "reload mosquitto"));
	assert_true(file_has(passwd, "carelake:$7$"));
	assert_true(file_has(passwd, "\nmonitor-7:$7$"));
	snprintf(tokens, sizeof(tokens), "%s/auth/tokens", data);
	snprintf(want, sizeof(want), "\"broker_passwd\":\"%s\"", passwd);
	assert_true(file_has(tokens, want));
	token_cli(data, NULL, NULL, "list > list.out");
	snprintf(want, sizeof(want), "%s/list.out", dir);
	assert_true(file_has(want, "device=monitor-7 +mqtt"));
	kill(broker_pid, SIGHUP);
	connect_until("monitor-7", token, 0);
	assert_int_equal(pub_connect_as(&p, "monitor-7", token), 0);
	pub_send(&p, "devices/monitor-7/messages/events",
		 test_event("dt-1", "monitor-7", "patient-d7", "spo2", 97, "%"), 1);
	pub_wait_acks(&p, 0);
	close(p.fd);
	assert_int_equal(pub_connect_as(&p, "monitor-7", "clk_not-the-token"), 5);
	close(p.fd);
	wait_metric(&s, "carelake_events_accepted_total", 1);
	assert_int_equal(pub_connect_as(&held, "monitor-7", token), 0);

	/* revoked: its line removed, and after the reload the broker turns
	 * the token away; carelake's own line is still there */
	snprintf(args, sizeof(args), "revoke %s", id);
	token_cli(data, NULL, NULL, args);
	assert_true(file_has(err, "removed the line of MQTT user 'monitor-7'"));
	assert_false(file_has(passwd, "monitor-7"));
	assert_true(file_has(passwd, "carelake:$7$"));
	kill(broker_pid, SIGHUP);
	wait_closed(held.fd); /* the connected device is dropped at the reload */
	close(held.fd);
	connect_until("monitor-7", token, 5);
	assert_int_equal(metric(&s, "carelake_mqtt_connected"), 1);
	assert_int_equal(server_stop(&s), 0);
	assert_string_equal(stored_ids(data), "dt-1 ");
	assert_false(file_has(s.out_path, token));
}

/* Runs `carelake simulate` to the broker (named host) over TLS with a CA
 * file; returns its exit status and the MQTT messages it published. */
static int simulate_tls(const char *host, const char *ca, long *sent, char *out, size_t cap)
{
	char cmd[1200];
	FILE *f;
	size_t n;
	char *p;

	snprintf(cmd, sizeof(cmd), "'%s' simulate --target mqtts://%s:%d --set "
		 "mqtt.ca_file=%s/%s --patients 2 --rate 100 --duration 1 2>&1", bin, host,
		 broker_port, dir, ca);
	f = popen(cmd, "r");
	assert_non_null(f);
	n = fread(out, 1, cap - 1, f);
	out[n] = '\0';
	p = strstr(out, " events, ");
	*sent = p ? atol(p + 9) : -1;
	return WEXITSTATUS(pclose(f));
}

/* TLS: a CA and a server certificate for localhost, made here; carelake
 * and its simulator check the broker's chain and name against the CA. */
static void test_mqtt_tls(void **state)
{
	char data[300], broker[64], conf[900], ca[400], out[4096];
	const char *extra[] = { "--mqtt", broker, "--set", ca, NULL };
	struct server s;
	long sent;

	(void)state;
	sh("exec 2>/dev/null && K='-newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes' && "
	   "openssl req -x509 $K -keyout ca.key -out ca.crt -days 2 -subj '/CN=carelake test CA' && "
	   "openssl req $K -keyout server.key -out server.csr -subj /CN=localhost && "
	   "printf 'subjectAltName=DNS:localhost\\n' > san.ext && "
	   "openssl x509 -req -in server.csr -CA ca.crt -CAkey ca.key -CAcreateserial -days 2 "
	   "-extfile san.ext -out server.crt && "
	   "openssl req -x509 $K -keyout other.key -out other-ca.crt -days 2 -subj '/CN=another CA'");
	snprintf(conf, sizeof(conf), "allow_anonymous true\ncafile %s/ca.crt\n"
		 "certfile %s/server.crt\nkeyfile %s/server.key", dir, dir, dir);
	broker_start_with(conf);
	snprintf(broker, sizeof(broker), "mqtts://localhost:%d", broker_port);
	snprintf(ca, sizeof(ca), "mqtt.ca_file=%s/ca.crt", dir);
	snprintf(data, sizeof(data), "%s/tls", dir);
	server_start(&s, bin, data, extra);
	wait_metric(&s, "carelake_mqtt_connected", 1);

	assert_int_equal(simulate_tls("localhost", "ca.crt", &sent, out, sizeof(out)), 0);
	assert_true(sent > 0);
	wait_metric(&s, "carelake_mqtt_messages_total", sent);
	assert_true(metric(&s, "carelake_events_accepted_total") > 0);
	assert_int_equal(metric(&s, "carelake_events_rejected_total"), 0);
	/* the simulator with another CA refuses the broker, and so it does
	 * when the certificate is not for the name it connects to */
	assert_int_not_equal(simulate_tls("localhost", "other-ca.crt", &sent, out, sizeof(out)), 0);
	if (!strstr(out, "certificate carelake does not trust: self-signed certificate in"))
		fail_msg("simulate said: %s", out);
	assert_int_not_equal(simulate_tls("127.0.0.1", "ca.crt", &sent, out, sizeof(out)), 0);
	if (!strstr(out, "certificate carelake does not trust: IP address mismatch"))
		fail_msg("simulate said: %s", out);
	assert_int_equal(server_stop(&s), 0);

	/* and so does serve */
	snprintf(ca, sizeof(ca), "mqtt.ca_file=%s/other-ca.crt", dir);
	snprintf(data, sizeof(data), "%s/tls-other", dir);
	server_start(&s, bin, data, extra);
	wait_file_has(s.out_path, "certificate carelake does not trust");
	assert_int_equal(metric(&s, "carelake_mqtt_connected"), 0);
	assert_int_equal(server_stop(&s), 0);
}

static int teardown(void **state)
{
	(void)state;
	broker_stop();
	return 0;
}

int main(int argc, char **argv)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_teardown(test_mqtt_ingest, teardown),
		cmocka_unit_test_teardown(test_mqtt_hardened, teardown),
		cmocka_unit_test_teardown(test_mqtt_device_token, teardown),
		cmocka_unit_test_teardown(test_mqtt_tls, teardown),
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
