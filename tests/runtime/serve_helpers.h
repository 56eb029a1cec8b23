/*
 * Helpers for runtime tests that drive `carelake serve` over HTTP: start
 * the binary on a free loopback port, read its token, send requests with
 * libcurl, stop it gently or with SIGKILL; issue tokens with the CLI.
 */
#ifndef SERVE_HELPERS_H
#define SERVE_HELPERS_H

#include "cl_test.h"

#include "core/cl_time.h"

#include <curl/curl.h>
#include <jansson.h>
#include <fcntl.h>
#include <signal.h>
#include <strings.h>
#include <sys/wait.h>

/* Every runtime test file has these: the binary under test, the folder
 * of shared test material (if given), and a scratch directory. */
static const char *bin;
static const char *shared __attribute__((unused));
static char dir[256];

/*
 * Runs a runtime test's group once its arguments are read: sets up
 * libcurl and a scratch directory, runs the tests, cleans up; returns
 * from main() with their result.
 */
#define SERVE_TEST_RUN(tests) SERVE_TEST_RUN_GROUP(tests, NULL, NULL)

/* The same, with a group setup and teardown (run inside the scratch
 * directory's life). */
#define SERVE_TEST_RUN_GROUP(tests, setup, teardown)                             \
	do {                                                                     \
		int rc_;                                                         \
									 \
		curl_global_init(CURL_GLOBAL_DEFAULT);                           \
		cl_test_tmpdir(dir, sizeof(dir));                                \
		rc_ = cmocka_run_group_tests(tests, setup, teardown);            \
		cl_test_rmtree(dir);                                             \
		curl_global_cleanup();                                           \
		return rc_;                                                      \
	} while (0)

/*
 * main() of a runtime test: `test /path/to/carelake [/path/to/shared/data]`.
 */
#define SERVE_TEST_MAIN(tests)                                                   \
	int main(int argc, char **argv)                                          \
	{                                                                        \
		if (argc < 2) {                                                  \
			fprintf(stderr, "usage: %s /path/to/carelake [shared-data]\n", \
				argv[0]);                                        \
			return 2;                                                \
		}                                                                \
		bin = argv[1];                                                   \
		shared = argc > 2 ? argv[2] : NULL;                              \
		SERVE_TEST_RUN(tests);                                           \
	}

/* One number from read-only SQL over the data directory (`carelake
 * query`), or -1. */
static inline long query_long(const char *data, const char *sql)
{
	char cmd[2400], line[4096] = "";
	FILE *p;

	snprintf(cmd, sizeof(cmd), "'%s' query --data '%s' --format csv \"%s\" 2>/dev/null", bin,
		 data, sql);
	p = popen(cmd, "r");
	if (!p)
		return -1;
	if (!fgets(line, sizeof(line), p) || !fgets(line, sizeof(line), p))
		line[0] = '\0';
	pclose(p);
	return line[0] ? atol(line) : -1;
}

struct server {
	pid_t pid;
	int port;
	char token[128];
	char url[64];
	char out_path[512];
};

/* Starts `bin serve --data dir --listen 127.0.0.1:0 [extra...]`. */
static inline void server_start(struct server *s, const char *exe, const char *data_dir,
			 const char *const *extra)
{
	const char *args[80];
	pid_t parent = getpid();
	int n = 0;
	char line[512];
	FILE *f;

	memset(s, 0, sizeof(*s));
	snprintf(s->out_path, sizeof(s->out_path), "%s.serve.out", data_dir);
	args[n++] = exe;
	args[n++] = "serve";
	args[n++] = "--data";
	args[n++] = data_dir;
	args[n++] = "--listen";
	args[n++] = "127.0.0.1:0";
	args[n++] = "--log-level";
	args[n++] = "warn";
	for (int i = 0; extra && extra[i]; i++) {
		assert_true(n < 78);
		args[n++] = extra[i];
	}
	args[n] = NULL;
	/* gone before the child starts: a slow child must not leave the
	 * previous run's "listening on" line for the loop below to find */
	unlink(s->out_path);
	s->pid = fork();
	assert_true(s->pid >= 0);
	if (s->pid == 0) {
		int fd = open(s->out_path, O_WRONLY | O_CREAT | O_TRUNC, 0600);

		cl_test_die_with_parent(parent);
		dup2(fd, 1);
		dup2(fd, 2);
		execv(exe, (char **)args);
		_exit(127);
	}
	for (int tries = 0; tries < 500 * cl_test_slowdown() && !s->port; tries++) {
		usleep(10000);
		f = fopen(s->out_path, "r");
		if (!f)
			continue;
		while (fgets(line, sizeof(line), f)) {
			char *p = strstr(line, "listening on http://127.0.0.1:");

			if (p)
				s->port = atoi(p + strlen("listening on http://127.0.0.1:"));
		}
		fclose(f);
	}
	if (!s->port) {
		char *log = NULL;
		size_t cap = 0;

		f = fopen(s->out_path, "r");
		if (f && getdelim(&log, &cap, '\0', f) > 0)
			fprintf(stderr, "serve output:\n%s\n", log);
		free(log);
		if (f)
			fclose(f);
		fail_msg("carelake serve did not start");
	}
	snprintf(s->url, sizeof(s->url), "http://127.0.0.1:%d", s->port);
	{
		char path[400];

		snprintf(path, sizeof(path), "%s/admin.token", data_dir);
		f = fopen(path, "r");
		assert_non_null(f);
		assert_non_null(fgets(s->token, sizeof(s->token), f));
		s->token[strcspn(s->token, "\n")] = '\0';
		fclose(f);
	}
}

/* SIGTERM and wait; returns the exit status. */
static inline int server_stop(struct server *s)
{
	int st;

	/* never started (pid 0): kill(0) would end the whole process group,
	 * ctest with it */
	assert_true(s->pid > 0);
	kill(s->pid, SIGTERM);
	assert_int_equal(waitpid(s->pid, &st, 0), s->pid);
	st = WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
	if (st != 0) {
		/* what the server said last, for whoever reads the failure */
		char line[1024];
		FILE *f = fopen(s->out_path, "r");
		long lines = 0, skip;

		while (f && fgets(line, sizeof(line), f))
			lines++;
		fprintf(stderr, "serve exited with %d; the end of its output:\n", st);
		if (f) {
			rewind(f);
			for (skip = lines > 40 ? lines - 40 : 0; fgets(line, sizeof(line), f);)
				if (skip-- <= 0)
					fputs(line, stderr);
			fclose(f);
		}
	}
	return st;
}

static inline void server_kill(struct server *s)
{
	int st;

	if (s->pid <= 0)
		return;
	kill(s->pid, SIGKILL);
	waitpid(s->pid, &st, 0);
}

struct reply {
	long code;
	char *body;
	size_t len;
	char retry_after[32];
	char etag[64];
	char last_modified[64];
	char headers[2048];      /* every header line, as received (cut to fit) */
};

static size_t on_body(char *p, size_t sz, size_t n, void *arg)
{
	struct reply *r = arg;

	r->body = realloc(r->body, r->len + sz * n + 1);
	memcpy(r->body + r->len, p, sz * n);
	r->len += sz * n;
	r->body[r->len] = '\0';
	return sz * n;
}

static size_t on_header(char *p, size_t sz, size_t n, void *arg)
{
	struct reply *r = arg;
	size_t have = strlen(r->headers);

	if (have + sz * n < sizeof(r->headers)) {
		memcpy(r->headers + have, p, sz * n);
		r->headers[have + sz * n] = '\0';
	}
	if (strncasecmp(p, "Retry-After:", 12) == 0)
		snprintf(r->retry_after, sizeof(r->retry_after), "%.*s",
			 (int)strcspn(p + 12, "\r\n"), p + 12);
	if (strncasecmp(p, "ETag: ", 6) == 0)
		snprintf(r->etag, sizeof(r->etag), "%.*s", (int)strcspn(p + 6, "\r\n"), p + 6);
	if (strncasecmp(p, "Last-Modified: ", 15) == 0)
		snprintf(r->last_modified, sizeof(r->last_modified), "%.*s",
			 (int)strcspn(p + 15, "\r\n"), p + 15);
	return sz * n;
}

/* Sends a request with up to two more headers ("Name: value", or NULL);
 * token NULL for none; body NULL for GET. */
static inline struct reply http_h(const struct server *s, const char *method, const char *path,
				  const char *token, const char *body, size_t len,
				  const char *h1, const char *h2)
{
	struct curl_slist *h = NULL;
	struct reply r = { 0 };
	char url[512], auth[4200]; /* a JWT is long */
	CURL *c = curl_easy_init();
	CURLcode rc;

	snprintf(url, sizeof(url), "%s%s", s->url, path);
	curl_easy_setopt(c, CURLOPT_URL, url);
	curl_easy_setopt(c, CURLOPT_CUSTOMREQUEST, method);
	curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_body);
	curl_easy_setopt(c, CURLOPT_WRITEDATA, &r);
	curl_easy_setopt(c, CURLOPT_HEADERFUNCTION, on_header);
	curl_easy_setopt(c, CURLOPT_HEADERDATA, &r);
	curl_easy_setopt(c, CURLOPT_TIMEOUT, 30L);
	if (token) {
		snprintf(auth, sizeof(auth), "Authorization: Bearer %s", token);
		h = curl_slist_append(h, auth);
	}
	/* JSON unless the caller names another type */
	if (!(h1 && strncasecmp(h1, "Content-Type:", 13) == 0) &&
	    !(h2 && strncasecmp(h2, "Content-Type:", 13) == 0))
		h = curl_slist_append(h, "Content-Type: application/json");
	h = curl_slist_append(h, "Expect:");
	if (h1)
		h = curl_slist_append(h, h1);
	if (h2)
		h = curl_slist_append(h, h2);
	curl_easy_setopt(c, CURLOPT_HTTPHEADER, h);
	if (body) {
		curl_easy_setopt(c, CURLOPT_POSTFIELDS, body);
		curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)len);
	}
	rc = curl_easy_perform(c);
	if (rc == CURLE_OK) {
		curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &r.code);
	} else {
		r.code = -1;
		fprintf(stderr, "http %s %s: %s\n", method, path, curl_easy_strerror(rc));
	}
	curl_slist_free_all(h);
	curl_easy_cleanup(c);
	if (!r.body)
		r.body = calloc(1, 1);
	return r;
}

/* Sends a request; token NULL for none; body NULL for GET. */
static inline struct reply http(const struct server *s, const char *method, const char *path,
			 const char *token, const char *body, size_t len)
{
	return http_h(s, method, path, token, body, len, NULL, NULL);
}

/* A sample without labels from /metrics, or -1 if it is absent. */
static inline long metric(const struct server *s, const char *name)
{
	struct reply r = http(s, "GET", "/metrics", NULL, NULL, 0);
	const char *p;
	char key[128];
	long v = -1;

	snprintf(key, sizeof(key), "\n%s ", name);
	p = strstr(r.body, key);
	if (p)
		v = atol(p + strlen(key));
	free(r.body);
	return v;
}

/* Prints what the server wrote to its output so far (before a failure). */
static inline void server_said(const struct server *s)
{
	FILE *f = fopen(s->out_path, "r");
	char line[1024];

	if (!f)
		return;
	fprintf(stderr, "serve said:\n");
	while (fgets(line, sizeof(line), f))
		fputs(line, stderr);
	fclose(f);
}

/* Waits (up to 20 s, times the build's slowdown) until the sample `name`
 * of /metrics reaches `want`; fails with what serve said otherwise. */
static inline void wait_metric(const struct server *s, const char *name, long want)
{
	long v = -1;

	for (int i = 0; i < 2000 * cl_test_slowdown(); i++) {
		v = metric(s, name);
		if (v >= want)
			return;
		usleep(10000);
	}
	server_said(s);
	fail_msg("%s stayed at %ld, wanted %ld", name, v, want);
}

/* GETs path (with the server's token) until its body holds `needle`, up
 * to 20 s times the build's slowdown; returns that reply (the caller
 * frees its body), or fails with what serve said. */
static inline struct reply wait_body(const struct server *s, const char *path,
				     const char *needle)
{
	for (int i = 0; i < 2000 * cl_test_slowdown(); i++) {
		struct reply r = http(s, "GET", path, s->token, NULL, 0);

		if (r.code == 200 && r.body && strstr(r.body, needle))
			return r;
		free(r.body);
		usleep(10000);
	}
	server_said(s);
	fail_msg("GET %s: no %s in 20 s", path, needle);
	return (struct reply){ 0 };
}

/* For tests of how alerts are delivered, stored and scoped (not of how a
 * reading becomes one: runtime_stream and runtime_simulate test that with
 * the defaults): one critical reading raises its alert at once, with no
 * signal quality hold and no persistence. Server arguments. */
#define CL_TEST_ONE_READING_ALERTS                                                       \
	"--set", "quality.spo2.enabled=false", "--set", "quality.heart_rate.enabled=false",  \
	"--set", "alerts.spo2_low.persist=0", "--set", "alerts.spo2_low.readings=1",        \
	"--set", "alerts.tachycardia.persist=0", "--set", "alerts.tachycardia.readings=1",  \
	"--set", "alerts.bradycardia.persist=0", "--set", "alerts.bradycardia.readings=1",  \
	"--set", "alerts.news2_single_3.persist=0", "--set", "alerts.news2_single_3.readings=1"

/* An RFC 3339 field of a JSON object, in µs (the test fails if it is
 * not one). */
static inline int64_t json_time_of(json_t *o, const char *key)
{
	const char *t = json_string_value(json_object_get(o, key));
	int64_t us = 0;

	assert_non_null(t);
	assert_int_equal(cl_time_parse_rfc3339(t, strlen(t), &us), 0);
	return us;
}

static inline struct reply post(const struct server *s, const char *body)
{
	return http(s, "POST", "/api/v1/events", s->token, body, strlen(body));
}

/* A device event stamped at ts_us (a static buffer). */
static inline const char *test_event_at(int64_t ts_us, const char *id, const char *device,
					const char *patient, const char *type, double value,
					const char *unit)
{
	static char buf[1024];
	char ts[40];

	cl_time_format_rfc3339(ts_us, ts, sizeof(ts), 3);
	snprintf(buf, sizeof(buf),
		 "{\"id\":\"%s\",\"device_id\":\"%s\",\"patient_id\":\"%s\","
		 "\"ts\":\"%s\",\"type\":\"%s\",\"value\":%g,\"unit\":\"%s\"}",
		 id, device, patient, ts, type, value, unit);
	return buf;
}

/* A device event stamped a little in the past (a static buffer). */
static inline const char *test_event(const char *id, const char *device, const char *patient,
				     const char *type, double value, const char *unit)
{
	return test_event_at(cl_time_now_us() - 1000000, id, device, patient, type, value, unit);
}

/* The same, stamped at one instant fixed for the whole test process: the
 * same arguments make the same event, as a client's retry sends it (an id
 * sent again with another time is another event: a conflict). */
static inline const char *test_event_fixed(const char *id, const char *device,
					   const char *patient, const char *type, double value,
					   const char *unit)
{
	static int64_t at;

	if (!at)
		at = cl_time_now_us() - 1000000;
	return test_event_at(at, id, device, patient, type, value, unit);
}

/*
 * `carelake token --data DIR ARGS...`, run in the scratch directory as
 * an operator would: its stdout line "token X" into tok, or "id X" into
 * id (either may be NULL); its stderr into <dir>/token.err. Fails the
 * test on exit != 0.
 */
static inline void token_cli(const char *data, char *tok, char *id, const char *args)
{
	char cmd[1024], line[256];
	FILE *p;

	snprintf(cmd, sizeof(cmd), "cd '%s' && '%s' token --data '%s' %s 2>token.err", dir, bin,
		 data, args);
	p = popen(cmd, "r");
	assert_non_null(p);
	while (fgets(line, sizeof(line), p)) {
		line[strcspn(line, "\n")] = '\0';
		if (tok && strncmp(line, "token ", 6) == 0)
			snprintf(tok, 128, "%.127s", line + 6);
		if (id && strncmp(line, "id ", 3) == 0)
			snprintf(id, 32, "%.31s", line + 3);
	}
	if (pclose(p) != 0)
		fail_msg("carelake token %s failed", args);
}

#endif
