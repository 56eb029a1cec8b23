/*
 * Live outputs of `carelake serve`: the server-sent-event stream carries
 * vitals and alerts as they happen; alerts go to a webhook, retried after
 * a failure, and to the dead-letter file when the receiver is gone; the
 * server stops cleanly with a live client connected. A clinician breaking
 * the glass raises an access alert that compliance sees on its stream, at
 * its webhook and in /api/v1/access-alerts (and acknowledges there), and
 * that clinicians never see, while compliance sees no clinical alert. On a
 * disk whose fdatasync takes 1.5 s, an alert goes out live before its event
 * is durable (stream.live_alerts=written, the default), or only after
 * (durable).
 *
 * Usage: test_live /path/to/carelake
 */
#include "serve_helpers.h"
#include "raw_http.h"
#include "sse_helpers.h"
#include "auth/cl_tokens.h"
#include "core/cl_error.h"

#include <arpa/inet.h>
#include <jansson.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdatomic.h>
#include <sys/socket.h>


/* ---- a webhook receiver: 500 to the first request, 200 after ---- */

struct receiver {
	int fd, port;
	atomic_int requests;
	char bodies[8192];
	pthread_mutex_t mu;
	pthread_t th;
};

static void *receiver_main(void *arg)
{
	struct receiver *rv = arg;

	for (;;) {
		char buf[16384];
		size_t have = 0;
		int c = accept(rv->fd, NULL, NULL), n;
		char *body;
		long clen;

		if (c < 0)
			return NULL;
		for (;;) {
			ssize_t r = read(c, buf + have, sizeof(buf) - 1 - have);

			if (r <= 0)
				break;
			have += (size_t)r;
			buf[have] = '\0';
			body = strstr(buf, "\r\n\r\n");
			if (body) {
				char *cl = strcasestr(buf, "Content-Length:");

				clen = cl ? atol(cl + 15) : 0;
				if ((long)(have - (size_t)(body + 4 - buf)) >= clen)
					break;
			}
		}
		body = strstr(buf, "\r\n\r\n");
		pthread_mutex_lock(&rv->mu);
		if (body && strlen(rv->bodies) + strlen(body + 4) + 2 < sizeof(rv->bodies)) {
			strcat(rv->bodies, body + 4);
			strcat(rv->bodies, "\n");
		}
		pthread_mutex_unlock(&rv->mu);
		n = atomic_fetch_add(&rv->requests, 1);
		dprintf(c, "HTTP/1.1 %s\r\nContent-Length: 0\r\nConnection: close\r\n\r\n",
			n == 0 ? "500 Internal Server Error" : "200 OK");
		close(c);
	}
}

/* On `port`, or a free one if 0. */
static void receiver_start(struct receiver *rv, int port)
{
	struct sockaddr_in sa = { .sin_family = AF_INET, .sin_port = htons((uint16_t)port) };
	int one = 1;
	socklen_t len = sizeof(sa);

	memset(rv, 0, sizeof(*rv));
	pthread_mutex_init(&rv->mu, NULL);
	rv->fd = socket(AF_INET, SOCK_STREAM, 0);
	setsockopt(rv->fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	inet_pton(AF_INET, "127.0.0.1", &sa.sin_addr);
	assert_int_equal(bind(rv->fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
	assert_int_equal(listen(rv->fd, 16), 0);
	getsockname(rv->fd, (struct sockaddr *)&sa, &len);
	rv->port = ntohs(sa.sin_port);
	pthread_create(&rv->th, NULL, receiver_main, rv);
}

/* The receiver may be in accept on its descriptor: wakes it, joins it,
 * then closes (never a number another open could reuse under it). */
static void receiver_stop(struct receiver *rv)
{
	shutdown(rv->fd, SHUT_RDWR);
	pthread_join(rv->th, NULL);
	close(rv->fd);
}

/* A loopback port nobody listens on (for now). */
static int unused_port(void)
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

static int two_requests(void *arg)
{
	return atomic_load(&((struct receiver *)arg)->requests) >= 2;
}

static void test_sse_and_webhook(void **state)
{
	struct receiver rv;
	struct sse_client sse = { 0 };
	struct server s;
	char data[300], hook[128], ref[400], refset[420];
	const char *extra[] = { "--set", hook, "--set", "webhook.backoff=20ms", "--set", refset,
				CL_TEST_ONE_READING_ALERTS, NULL };
	struct reply r;
	FILE *f;

	(void)state;
	/* reference data: where p1 lies and who looks after them */
	snprintf(ref, sizeof(ref), "%s/reference.json", dir);
	f = fopen(ref, "w");
	fprintf(f, "{\"p1\": {\"ward\": \"ICU-A\", \"bed\": \"A-03\", \"attending\": \"practitioner-0007\"}}");
	fclose(f);
	snprintf(refset, sizeof(refset), "stream.reference=%s", ref);
	receiver_start(&rv, 0);
	snprintf(hook, sizeof(hook), "webhook.url=http://127.0.0.1:%d/hook", rv.port);
	snprintf(data, sizeof(data), "%s/live", dir);
	server_start(&s, bin, data, extra);
	sse_open(&sse, &s, NULL);

	r = post(&s, test_event("x1", "m1", "p1", "spo2", 85, "%"));
	assert_int_equal(r.code, 200);
	free(r.body);
	g_want = "event: vital";
	wait_for(sse_cond, NULL, "a vital on the stream");
	g_want = "\"rule\":\"spo2_low\"";
	wait_for(sse_cond, NULL, "the alert on the stream");
	assert_true(sse_has(&sse, "event: alert"));
	assert_true(sse_has(&sse, "\"state\":\"open\""));
	assert_true(sse_has(&sse, "\"ward\":\"ICU-A\""));
	assert_true(sse_has(&sse, "\"bed\":\"A-03\""));
	assert_true(sse_has(&sse, "\"attending\":\"practitioner-0007\""));

	/* the webhook: 500 first, then delivered on the retry */
	wait_for(two_requests, &rv, "the webhook retry");
	pthread_mutex_lock(&rv.mu);
	assert_non_null(strstr(rv.bodies, "\"rule\":\"spo2_low\""));
	assert_non_null(strstr(rv.bodies, "\"ward\":\"ICU-A\""));
	pthread_mutex_unlock(&rv.mu);
	usleep(200000 * (useconds_t)cl_test_slowdown());
	r = http(&s, "GET", "/metrics", NULL, NULL, 0);
	assert_non_null(strstr(r.body, "carelake_webhook_retries_total "));
	assert_null(strstr(r.body, "carelake_webhook_retries_total 0\n"));
	assert_non_null(strstr(r.body, "carelake_stream_clients 1"));
	free(r.body);

	/* stops cleanly with the live client still connected */
	assert_int_equal(server_stop(&s), 0);
	sse_close(&sse);
	receiver_stop(&rv);
}

static int pipeline_alert_delivered(void *arg)
{
	struct receiver *rv = arg;
	int found;

	pthread_mutex_lock(&rv->mu);
	found = strstr(rv->bodies, "\"rule\":\"pipeline_failed\"") != NULL;
	pthread_mutex_unlock(&rv->mu);
	return found;
}

static const struct server *g_srv;

static int patient_alert_withheld(void *arg)
{
	(void)arg;
	return metric(g_srv, "carelake_webhook_withheld_total") >= 1;
}

/* webhook.role=engineer: the receiver gets the alert of no patient (a
 * pipeline that failed) and none of a patient's, which is withheld and
 * counted, as an engineer's stream would show it. */
static void test_webhook_engineer(void **state)
{
	struct receiver rv;
	struct server s;
	char data[300], hook[128], drop[300], dropset[400], file[400];
	const char *extra[] = { "--set", hook, "--set", "webhook.backoff=20ms", "--set",
				"webhook.role=engineer", "--set", dropset, "--set",
				"pipelines.drop.trigger=watch", "--set", "pipelines.drop.attempts=1",
				CL_TEST_ONE_READING_ALERTS, NULL };
	struct reply r;
	FILE *f;

	(void)state;
	snprintf(drop, sizeof(drop), "%s/engineer-drop", dir);
	assert_int_equal(mkdir(drop, 0700), 0);
	snprintf(file, sizeof(file), "%s/broken.json", drop);
	f = fopen(file, "w");
	fputs("{\"resourceType\": ", f);
	fclose(f);
	snprintf(dropset, sizeof(dropset), "pipelines.drop.path=%s", drop);
	receiver_start(&rv, 0);
	snprintf(hook, sizeof(hook), "webhook.url=http://127.0.0.1:%d/hook", rv.port);
	snprintf(data, sizeof(data), "%s/engineer", dir);
	server_start(&s, bin, data, extra);
	g_srv = &s;
	r = post(&s, test_event("w1", "m9", "p9", "spo2", 85, "%"));
	assert_int_equal(r.code, 200);
	free(r.body);
	wait_for(patient_alert_withheld, NULL, "the patient's alert to be withheld");
	wait_for(pipeline_alert_delivered, &rv, "the pipeline_failed alert at the receiver");
	pthread_mutex_lock(&rv.mu);
	assert_null(strstr(rv.bodies, "spo2_low"));
	assert_null(strstr(rv.bodies, "p9"));
	pthread_mutex_unlock(&rv.mu);
	assert_int_equal(query_long(data, "SELECT count(*) FROM alert WHERE rule = 'spo2_low'"), 1);
	assert_int_equal(server_stop(&s), 0);
	receiver_stop(&rv);
}

/* A token of role (a clinician limited to wards) for the running server. */
static void issue(const char *data, enum cl_role role, const char *wards, char *token)
{
	struct cl_token_info spec = { .role = role };

	snprintf(spec.name, sizeof(spec.name), "%s", cl_role_name(role));
	if (wards)
		snprintf(spec.wards, sizeof(spec.wards), "%s", wards);
	if (cl_tokens_issue(data, &spec, token, 80) != CL_OK)
		fail_msg("token issue: %s", cl_error_detail());
}

static int access_alert_delivered(void *arg)
{
	struct receiver *rv = arg;
	int found;

	pthread_mutex_lock(&rv->mu);
	found = strstr(rv->bodies, "\"kind\":\"break-glass\"") != NULL;
	pthread_mutex_unlock(&rv->mu);
	return found;
}

/* GET or POST as token: the status, the body into *body (freed if NULL). */
static long call(const struct server *s, const char *method, const char *path,
		 const char *token, const char *header, char **body)
{
	struct reply r = http_h(s, method, path, token, NULL, 0, header, NULL);

	if (body)
		*body = r.body;
	else
		free(r.body);
	return r.code;
}

static void test_break_glass_alert(void **state)
{
	struct receiver rv;
	struct sse_client ward = { 0 }, review = { 0 };
	struct server s;
	char data[300], hook[128], nurse[80], doctor[80], officer[80], *body;
	const char *extra[] = { "--set", hook, "--set", "webhook.backoff=20ms", "--set",
				"webhook.role=compliance", CL_TEST_ONE_READING_ALERTS, NULL };
	struct reply r;
	json_t *j, *a;

	(void)state;
	receiver_start(&rv, 0);
	snprintf(hook, sizeof(hook), "webhook.url=http://127.0.0.1:%d/hook", rv.port);
	snprintf(data, sizeof(data), "%s/glass", dir);
	server_start(&s, bin, data, extra);
	g_srv = &s;
	issue(data, CL_ROLE_CLINICIAN, "ICU-A", nurse);
	issue(data, CL_ROLE_CLINICIAN, NULL, doctor);   /* every ward: streams them all */
	issue(data, CL_ROLE_COMPLIANCE, NULL, officer);
	sse_open(&ward, &s, doctor);
	sse_open(&review, &s, officer);

	/* a clinical alert: the clinician's stream has it, compliance's not,
	 * and the compliance webhook withholds it */
	r = post(&s, test_event("g1", "m1", "p5", "spo2", 85, "%"));
	assert_int_equal(r.code, 200);
	free(r.body);
	g_sse = &ward;
	g_want = "\"rule\":\"spo2_low\"";
	wait_for(sse_cond, NULL, "the clinical alert on the clinician's stream");
	wait_for(patient_alert_withheld, NULL, "the clinical alert withheld from compliance");

	/* p5 is in no ward of the nurse's: refused, then the glass broken */
	assert_int_equal(call(&s, "GET", "/api/v1/patients/p5/vitals", nurse, NULL, NULL), 403);
	assert_int_equal(call(&s, "GET", "/api/v1/patients/p5/vitals", nurse,
			      "X-Break-Glass: code blue in the corridor", NULL), 200);
	g_sse = &review;
	g_want = "event: access-alert";
	wait_for(sse_cond, NULL, "the access alert on compliance's stream");
	assert_true(sse_has(&review, "code blue in the corridor"));
	assert_true(sse_has(&review, "\"patient_id\":\"p5\""));
	assert_false(sse_has(&review, "spo2_low"));
	assert_false(sse_has(&review, "event: vital"));
	wait_for(access_alert_delivered, &rv, "the access alert at the compliance webhook");
	pthread_mutex_lock(&rv.mu);
	assert_non_null(strstr(rv.bodies, "\"category\":\"access\""));
	assert_null(strstr(rv.bodies, "spo2_low"));
	pthread_mutex_unlock(&rv.mu);
	assert_false(sse_has(&ward, "access-alert"));

	/* listed for compliance, not for the clinician; acknowledged once */
	assert_int_equal(call(&s, "GET", "/api/v1/access-alerts", nurse, NULL, NULL), 403);
	assert_int_equal(call(&s, "GET", "/api/v1/alerts", officer, NULL, NULL), 403);
	assert_int_equal(call(&s, "GET", "/api/v1/access-alerts?open=true", officer, NULL, &body),
			 200);
	j = json_loads(body, 0, NULL);
	free(body);
	assert_int_equal(json_array_size(json_object_get(j, "access_alerts")), 1);
	a = json_array_get(json_object_get(j, "access_alerts"), 0);
	assert_string_equal(json_string_value(json_object_get(a, "kind")), "break-glass");
	assert_string_equal(json_string_value(json_object_get(a, "role")), "clinician");
	assert_string_equal(json_string_value(json_object_get(a, "reason")),
			    "code blue in the corridor");
	assert_true(json_is_true(json_object_get(a, "open")));
	{
		char path[100];

		snprintf(path, sizeof(path), "/api/v1/access-alerts/%lld/ack",
			 (long long)json_integer_value(json_object_get(a, "id")));
		assert_int_equal(call(&s, "POST", path, nurse, NULL, NULL), 403);
		assert_int_equal(call(&s, "POST", path, officer, NULL, &body), 200);
		assert_non_null(strstr(body, "\"acknowledged_by\":\"compliance\""));
		free(body);
		assert_int_equal(call(&s, "POST", path, officer, NULL, NULL), 409);
	}
	json_decref(j);
	assert_int_equal(call(&s, "POST", "/api/v1/access-alerts/999/ack", officer, NULL, NULL),
			 404);
	assert_int_equal(call(&s, "GET", "/api/v1/access-alerts?open=true", officer, NULL, &body),
			 200);
	assert_non_null(strstr(body, "\"access_alerts\":[]"));
	free(body);
	assert_int_equal(metric(&s, "carelake_access_alerts_not_stored_total"), 0);

	sse_close(&ward);
	sse_close(&review);
	assert_int_equal(server_stop(&s), 0);
	receiver_stop(&rv);
}

static int dead_letter_written(void *arg)
{
	return access((const char *)arg, R_OK) == 0;
}

static void test_dead_letter(void **state)
{
	char data[300], hook[128], path[400];
	const char *extra[] = { "--set", hook, "--set", "webhook.backoff=10ms",
				"--set", "webhook.attempts=3", CL_TEST_ONE_READING_ALERTS, NULL };
	struct server s;
	struct reply r;
	int port = unused_port();

	(void)state;
	snprintf(hook, sizeof(hook), "webhook.url=http://127.0.0.1:%d/hook", port);
	snprintf(data, sizeof(data), "%s/dead", dir);
	snprintf(path, sizeof(path), "%s/alerts/webhook-dead-letter.ndjson", data);
	server_start(&s, bin, data, extra);
	r = post(&s, test_event("y1", "m1", "p9", "heart_rate", 150, "/min"));
	assert_int_equal(r.code, 200);
	free(r.body);
	wait_for(dead_letter_written, path, "the dead-letter file");
	usleep(100000);
	{
		FILE *f = fopen(path, "r");
		char line[4096];

		assert_non_null(f);
		assert_non_null(fgets(line, sizeof(line), f));
		fclose(f);
		assert_non_null(strstr(line, "\"attempts\":3"));
		assert_non_null(strstr(line, "\"rule\":\"tachycardia\""));
		assert_non_null(strstr(line, "\"error\":"));
	}
	assert_int_equal(server_stop(&s), 0);
}

static int alert_listed(void *arg)
{
	const struct server *s = arg;
	struct reply r = http(s, "GET", "/api/v1/alerts", s->token, NULL, 0);
	int found = r.body && strstr(r.body, "\"rule\":\"tachycardia\"") != NULL;

	free(r.body);
	return found;
}

static int one_delivered(void *arg)
{
	return atomic_load(&((struct receiver *)arg)->requests) >= 2;
}

/* Alerts wait in the outbox, in the store: SIGKILL while the receiver is
 * down loses none; the next start delivers them. */
static void test_webhook_outbox_survives_kill(void **state)
{
	char data[300], hook[128], path[400];
	const char *slow[] = { "--set", hook, "--set", "webhook.backoff=30s",
			       "--set", "webhook.attempts=3", CL_TEST_ONE_READING_ALERTS, NULL };
	const char *fast[] = { "--set", hook, "--set", "webhook.backoff=20ms",
			       CL_TEST_ONE_READING_ALERTS, NULL };
	struct receiver rv;
	struct server s;
	struct reply r;
	int port = unused_port(); /* nobody listens there yet */

	(void)state;
	snprintf(hook, sizeof(hook), "webhook.url=http://127.0.0.1:%d/hook", port);
	snprintf(data, sizeof(data), "%s/outbox", dir);
	snprintf(path, sizeof(path), "%s/alerts/webhook-dead-letter.ndjson", data);
	server_start(&s, bin, data, slow);
	r = post(&s, test_event("z1", "m7", "p7", "heart_rate", 155, "/min"));
	assert_int_equal(r.code, 200);
	free(r.body);
	wait_for(alert_listed, &s, "the alert in the store");
	usleep(300000); /* the first attempt fails; the next is 30 s away */
	server_kill(&s);

	receiver_start(&rv, port);
	server_start(&s, bin, data, fast);
	wait_for(one_delivered, &rv, "the alert delivered after the restart");
	pthread_mutex_lock(&rv.mu);
	assert_non_null(strstr(rv.bodies, "\"rule\":\"tachycardia\""));
	assert_non_null(strstr(rv.bodies, "\"patient_id\":\"p7\""));
	pthread_mutex_unlock(&rv.mu);
	assert_int_equal(access(path, F_OK), -1); /* delivered, not dead-lettered */
	assert_int_equal(server_stop(&s), 0);
	receiver_stop(&rv);
}

static void test_bad_reference_refused(void **state)
{
	char data[300], ref[400], set[420], *out = NULL;
	size_t cap = 0;
	int status;
	pid_t pid, parent;
	FILE *f;

	(void)state;
	snprintf(ref, sizeof(ref), "%s/bad-reference.json", dir);
	f = fopen(ref, "w");
	fprintf(f, "{\"p1\": [1, 2]}");
	fclose(f);
	snprintf(set, sizeof(set), "stream.reference=%s", ref);
	snprintf(data, sizeof(data), "%s/badref", dir);
	{
		int fds[2];

		assert_int_equal(pipe(fds), 0);
		parent = getpid();
		pid = fork();
		if (pid == 0) {
			cl_test_die_with_parent(parent);
			dup2(fds[1], 2);
			dup2(fds[1], 1);
			execl(bin, bin, "serve", "--data", data, "--listen", "127.0.0.1:0", "--set", set,
			      (char *)NULL);
			_exit(127);
		}
		close(fds[1]);
		f = fdopen(fds[0], "r");
		if (getdelim(&out, &cap, '\0', f) < 0)
			out = strdup("");
		fclose(f);
	}
	waitpid(pid, &status, 0);
	assert_true(WIFEXITED(status) && WEXITSTATUS(status) == 2);
	assert_non_null(strstr(out, "reference file"));
	assert_non_null(strstr(out, "not an object"));
	free(out);
}

#define SLOW_SYNC_MS 1500

/* One server on a disk whose bronze fdatasyncs take SLOW_SYNC_MS longer;
 * an SpO2 of 80 posted on a raw connection, its answer not read yet; the
 * alert awaited on the live stream. Returns the ms from the post to the
 * alert and whether the post's answer (sent once the event is durable)
 * had arrived by then. */
static long slow_disk_alert(const char *mode, int *answered)
{
	const char *extra[] = { CL_TEST_ONE_READING_ALERTS, "--set", NULL, NULL };
	char data[300], set[64], body[1024], req[2048];
	struct sse_client c = { 0 };
	struct pollfd pfd;
	struct server s;
	int64_t t0;
	long ms;
	int fd;

	snprintf(set, sizeof(set), "stream.live_alerts=%s", mode);
	extra[sizeof(extra) / sizeof(extra[0]) - 2] = set;
	snprintf(data, sizeof(data), "%s/slow-%s", dir, mode);
	setenv("LD_PRELOAD", CARELAKE_SLOWDISK, 1);
	setenv("SLOWDISK_MATCH", "/bronze/", 1);
	setenv("SLOWDISK_MS", "1500", 1);
	server_start(&s, bin, data, extra);
	unsetenv("LD_PRELOAD");
	unsetenv("SLOWDISK_MATCH");
	unsetenv("SLOWDISK_MS");
	sse_open(&c, &s, NULL);
	snprintf(body, sizeof(body), "%s", test_event("slow-1", "m-slow", "p-slow", "spo2", 80, "%"));
	snprintf(req, sizeof(req),
		 "POST /api/v1/events HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer %s\r\n"
		 "Content-Type: application/json\r\nContent-Length: %zu\r\n\r\n%s",
		 s.token, strlen(body), body);
	fd = dial(&s);
	t0 = cl_time_mono_us();
	send_req(fd, req);
	g_want = "\"rule\":\"spo2_low\"";
	wait_for(sse_cond, NULL, "the alert on the live stream");
	ms = (long)((cl_time_mono_us() - t0) / 1000);
	pfd = (struct pollfd){ .fd = fd, .events = POLLIN };
	*answered = poll(&pfd, 1, 0) == 1;
	{
		struct conn cn = { .fd = fd };
		struct resp r;

		assert_int_equal(read_resp(&cn, &r), 1);
		assert_int_equal(r.code, 200);
	}
	close(fd);
	sse_close(&c);
	assert_int_equal(server_stop(&s), 0);
	return ms;
}

static void test_live_alerts_and_durability(void **state)
{
	int answered;
	long ms;

	(void)state;
	/* written: out at once, while the event's fdatasync is still going */
	ms = slow_disk_alert("written", &answered);
	assert_false(answered);
	assert_true(ms < SLOW_SYNC_MS);
	/* durable: not before the event's fdatasync returned */
	ms = slow_disk_alert("durable", &answered);
	assert_true(ms >= SLOW_SYNC_MS);
}

static const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_sse_and_webhook),
		cmocka_unit_test(test_webhook_engineer),
		cmocka_unit_test(test_break_glass_alert),
		cmocka_unit_test(test_dead_letter),
		cmocka_unit_test(test_webhook_outbox_survives_kill),
		cmocka_unit_test(test_bad_reference_refused),
		cmocka_unit_test(test_live_alerts_and_durability),
};

SERVE_TEST_MAIN(tests)
