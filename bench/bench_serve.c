/*
 * Benchmarks of `carelake serve` (issue targets in brackets), each run
 * against a fresh server process on this machine, load generator included:
 *
 *   ingest    1,000-event NDJSON bodies from 3 keep-alive connections,
 *             durable acknowledgements, windows and rules running
 *             [>= 500,000 events/s]
 *   latency   event POSTed -> its alert on the server-sent-event stream,
 *             probes every 10 ms on top of a 50,000 events/s background load
 *             [p99 < 5 ms]; then again on a slow disk (tests/slowdisk.c
 *             preloaded into the server: every fdatasync SLOWDISK_MS, 45,
 *             longer), with alerts published on written events [p99 < 5 ms,
 *             whatever the disk] and held until their events are durable
 *   memory    resident memory of the server after events from 10,000
 *             patients [< 200 MB]
 *   mqtt      messages published to mosquitto as fast as it takes them,
 *             QoS 0 and QoS 1, with carelake subscribed: the rate carelake
 *             stores them at, and its backlog at the end, beside the same
 *             publisher's rate with a bare counting subscriber (the broker's
 *             own maximum on this machine) [keeps up: no growing backlog]
 *   detect    `carelake simulate` with injected clinical episodes and
 *             artifacts, 100 patients over 6 hours of event time
 *             (--detect-seconds) as fast as the server takes it; its alerts
 *             scored against the ground truth by `carelake simulate
 *             --score`, beside the same scenario with alerts on single
 *             readings [recall >= 0.99, crisis and NEWS2 >= 7 1.00,
 *             precision >= 0.95, median delay <= 30 s, < 5 alerts per
 *             stable bed per day]
 *   backlog   a day of readings for 1,000 patients (a heart rate and an SpO2
 *             a minute each: 2,880,000 events) ingested in time order (one
 *             connection: several would put each other's readings behind
 *             the watermark) by a fresh server, then by another that already
 *             has every
 *             patient's reading of now, so that the whole day arrives late:
 *             the late timelines run the rules, and every window is
 *             corrected from the stored values. Rates to the durable answer
 *             and until every window is stored, memory, and the corrections
 *             [the backlog >= 0.5x the in-order rate]; then the alert
 *             latency of live probes while a backlog is absorbed [p99 <= 5 ms]
 *   store     no server: the serving store alone taking vital_event rows
 *             made before the clock starts, through the statement the
 *             stream's writer uses, in the transactions it makes and with
 *             its WAL checkpoints: the least CPU a stored event costs,
 *             beside which the single-event POST budget of bench_http.sh
 *             is read
 *
 * usage: bench_serve /path/to/carelake [--dir DIR] [--seconds S] [--only NAME]
 *                    [--detect-seconds S] [--backlog-minutes M]
 */
#include "core/cl_time.h"
#include "store/cl_store.h"

#include <curl/curl.h>
#include <dlfcn.h>
#include <limits.h>
#include <jansson.h>
#include <fcntl.h>
#include <math.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

static const char *bin;
static char base[256] = "build/bench-data";
static double seconds = 5;

struct server {
	pid_t pid;
	char url[64], token[128], dir[400];
};

/* A config file for the next servers (NULL: the defaults). */
static const char *server_config;

static void server_start(struct server *s, const char *name)
{
	char out[500], line[512], cmd[800];
	FILE *f;

	snprintf(s->dir, sizeof(s->dir), "%s/%s", base, name);
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", s->dir);
	if (system(cmd) != 0)
		exit(2);
	snprintf(out, sizeof(out), "%s.out", s->dir);
	fflush(stdout); /* the child must not inherit unwritten output */
	s->pid = fork();
	if (s->pid == 0) {
		if (!freopen(out, "w", stdout) || !freopen(out, "a", stderr))
			_exit(126);
		execl(bin, bin, "serve", "--data", s->dir, "--listen", "127.0.0.1:0", "--log-level",
		      "warn", "--set", "http.threads=2", "--set", getenv("BENCH_SET") ?: "log.level=warn",
		      "--set", getenv("BENCH_SET2") ?: "log.level=warn", "--config",
		      server_config ? server_config : "/dev/null", (char *)NULL);
		_exit(127);
	}
	s->url[0] = '\0';
	for (int i = 0; i < 500 && !s->url[0]; i++) {
		usleep(10000);
		f = fopen(out, "r");
		while (f && fgets(line, sizeof(line), f)) {
			char *p = strstr(line, "listening on ");

			if (p)
				snprintf(s->url, sizeof(s->url), "%.*s", (int)strcspn(p + 13, "\n"), p + 13);
		}
		if (f)
			fclose(f);
	}
	snprintf(line, sizeof(line), "%s/admin.token", s->dir);
	f = fopen(line, "r");
	if (!s->url[0] || !f || !fgets(s->token, sizeof(s->token), f)) {
		fprintf(stderr, "bench_serve: the server did not start\n");
		exit(2);
	}
	fclose(f);
	s->token[strcspn(s->token, "\n")] = '\0';
}

static void server_stop(struct server *s)
{
	kill(s->pid, SIGTERM);
	waitpid(s->pid, NULL, 0);
}

static long rss_kb(pid_t pid)
{
	char path[64], line[256];
	long kb = -1;
	FILE *f;

	snprintf(path, sizeof(path), "/proc/%d/status", (int)pid);
	f = fopen(path, "r");
	while (f && fgets(line, sizeof(line), f))
		if (strncmp(line, "VmRSS:", 6) == 0)
			kb = atol(line + 6);
	if (f)
		fclose(f);
	return kb;
}

struct growbuf {
	char *buf;
	size_t len;
};

static size_t sink_grow(char *p, size_t sz, size_t n, void *arg)
{
	struct growbuf *f = arg;

	f->buf = realloc(f->buf, f->len + sz * n + 1);
	memcpy(f->buf + f->len, p, sz * n);
	f->len += sz * n;
	f->buf[f->len] = '\0';
	return sz * n;
}

static size_t sink(char *p, size_t sz, size_t n, void *arg)
{
	char *buf = arg;
	size_t len = sz * n < 255 ? sz * n : 255;

	memcpy(buf, p, len);
	buf[len] = '\0';
	return sz * n;
}

struct poster {
	const struct server *s;
	CURL *c;
	struct curl_slist *h;
	char reply[256];
};

static void poster_init(struct poster *p, const struct server *s)
{
	char auth[200], url[128];

	p->s = s;
	p->c = curl_easy_init();
	snprintf(auth, sizeof(auth), "Authorization: Bearer %s", s->token);
	p->h = curl_slist_append(NULL, auth);
	p->h = curl_slist_append(p->h, "Expect:");
	p->h = curl_slist_append(p->h, "Content-Type: application/json");  /* else 415 */
	snprintf(url, sizeof(url), "%s/api/v1/events", s->url);
	curl_easy_setopt(p->c, CURLOPT_URL, url);
	curl_easy_setopt(p->c, CURLOPT_HTTPHEADER, p->h);
	curl_easy_setopt(p->c, CURLOPT_WRITEFUNCTION, sink);
	curl_easy_setopt(p->c, CURLOPT_WRITEDATA, p->reply);
	curl_easy_setopt(p->c, CURLOPT_TCP_NODELAY, 1L);
}

/* POSTs a body; returns the accepted count (or -1). */
static long poster_send(struct poster *p, const char *body, size_t len)
{
	long code = 0;
	char *a;

	curl_easy_setopt(p->c, CURLOPT_POSTFIELDS, body);
	curl_easy_setopt(p->c, CURLOPT_POSTFIELDSIZE, (long)len);
	if (curl_easy_perform(p->c) != CURLE_OK)
		return -1;
	curl_easy_getinfo(p->c, CURLINFO_RESPONSE_CODE, &code);
	a = strstr(p->reply, "\"accepted\":");
	return code == 200 && a ? atol(a + 11) : -1;
}

static void poster_free(struct poster *p)
{
	curl_slist_free_all(p->h);
	curl_easy_cleanup(p->c);
}

/* A body of n events with ids prefix-k..., for `patients` patients. */
static char *make_body(const char *prefix, long k0, int n, int patients, size_t *len)
{
	static const char *const types[] = { "heart_rate", "respiratory_rate", "spo2",
					     "systolic_bp", "diastolic_bp", "temperature" };
	static const char *const units[] = { "/min", "/min", "%", "mm[Hg]", "mm[Hg]", "Cel" };
	static const int values[] = { 72, 16, 97, 120, 80, 37 };
	char ts[40];
	char *b = malloc((size_t)n * 200 + 16);
	size_t o = 0;

	cl_time_format_rfc3339(cl_time_now_us() - 2000000, ts, sizeof(ts), 3);
	for (int i = 0; i < n; i++) {
		long k = k0 + i;
		int v = (int)(k % 6);

		o += (size_t)sprintf(b + o,
				     "{\"id\":\"%s%ld\",\"device_id\":\"m%ld\",\"patient_id\":\"p%ld\","
				     "\"ts\":\"%s\",\"type\":\"%s\",\"value\":%d,\"unit\":\"%s\"}\n",
				     prefix, k, (k / 6) % patients, (k / 6) % patients, ts, types[v],
				     values[v] + (int)(k % 3), units[v]);
	}
	*len = o;
	return b;
}

/* ---- ingest ---- */

struct ingest_thread {
	const struct server *s;
	int id;
	double seconds;
	long accepted;
	long bodies;
};

static void *ingest_main(void *arg)
{
	struct ingest_thread *t = arg;
	struct poster p;
	int64_t end = cl_time_mono_us() + (int64_t)(t->seconds * 1e6);
	char prefix[16];

	poster_init(&p, t->s);
	snprintf(prefix, sizeof(prefix), "t%d-", t->id);
	for (long k = 0; cl_time_mono_us() < end; k += 1000) {
		size_t len;
		char *body = make_body(prefix, k, 1000, 5000, &len);
		long a = poster_send(&p, body, len);

		free(body);
		if (a < 0)
			break;
		t->accepted += a;
		t->bodies++;
	}
	poster_free(&p);
	return NULL;
}

static double ingest_rate[2];   /* baseline (checks off), as shipped */
static char base_config[512], probe_config[512], one_lane_config[512];
static const char *base_config_p = base_config, *probe_config_p = probe_config;

/* The configs the live benchmarks compare: the baseline with every signal
 * quality check and every rule's persistence off (alerts on single
 * readings, as before them); the probes' rule without persistence in
 * both, so the latency probe's SpO2 of 80 raises at once. */
static void write_configs(void)
{
	static const char *const vitals[] = { "heart_rate", "pulse_rate", "respiratory_rate", "spo2",
					      "systolic_bp", "diastolic_bp", "temperature" };
	static const char *const rules[] = { "news2_emergency", "news2_urgent", "news2_single_3",
					     "hypertensive_crisis_systolic",
					     "hypertensive_crisis_diastolic", "spo2_low", "tachycardia",
					     "bradycardia", "heart_rate_deviation", "spo2_deviation",
					     "respiratory_rate_deviation", "deterioration_trend" };
	FILE *b, *p, *l;

	snprintf(base_config, sizeof(base_config), "%s/baseline.yaml", base);
	snprintf(probe_config, sizeof(probe_config), "%s/probe.yaml", base);
	snprintf(one_lane_config, sizeof(one_lane_config), "%s/probe-one-lane.yaml", base);
	b = fopen(base_config, "w");
	p = fopen(probe_config, "w");
	l = fopen(one_lane_config, "w");
	if (!b || !p || !l)
		exit(2);
	for (size_t i = 0; i < sizeof(vitals) / sizeof(vitals[0]); i++)
		fprintf(b, "quality.%s.enabled: false\n", vitals[i]);
	for (size_t i = 0; i < sizeof(rules) / sizeof(rules[0]); i++)
		fprintf(b, "alerts.%s.persist: 0s\nalerts.%s.readings: 1\n", rules[i], rules[i]);
	fprintf(p, "alerts.spo2_low.persist: 0s\nalerts.spo2_low.readings: 1\n");
	/* the probes' config, without the backlog lane: old readings queue in
	 * the vitals log with live ones, as before the lane */
	fprintf(l, "alerts.spo2_low.persist: 0s\nalerts.spo2_low.readings: 1\n"
		"ingest.backlog_after: 0\n");
	fclose(b);
	fclose(p);
	fclose(l);
}

static void bench_ingest(void)
{
	struct ingest_thread t[3];
	pthread_t th[3];
	struct server s;
	int64_t t0;
	long total = 0;
	double el;

	server_start(&s, server_config ? "ingest-base" : "ingest");
	t0 = cl_time_mono_us();
	for (int i = 0; i < 3; i++) {
		t[i] = (struct ingest_thread){ .s = &s, .id = i, .seconds = seconds };
		pthread_create(&th[i], NULL, ingest_main, &t[i]);
	}
	for (int i = 0; i < 3; i++) {
		pthread_join(th[i], NULL);
		total += t[i].accepted;
	}
	el = (double)(cl_time_mono_us() - t0) / 1e6;
	printf("ingest   %10.0f events/s durable (1,000-event bodies, 3 connections, %.1f s,"
	       " %ld events; body building included in the client)%s\n",
	       (double)total / el, el, total, server_config ? "   [baseline: quality checks and "
	       "persistence off]" : "   target >= 500,000");
	server_stop(&s);
	ingest_rate[server_config ? 0 : 1] = (double)total / el;
}

/* ---- latency ---- */

#define PROBES 1000
#define PROBE_THREADS 20  /* each waits for its answer (the durable ack), so
			   * each probes every 200 ms: an open load */
#define BG_THREADS 10     /* each 5 bodies of 1,000 events a second */

struct latency {
	const struct server *s;
	int64_t sent[PROBES];
	int64_t got[PROBES];
	atomic_int stop;
	char buf[1 << 16];
	size_t len;
};

static size_t on_sse(char *p, size_t sz, size_t n, void *arg)
{
	struct latency *l = arg;
	size_t m = sz * n;
	int64_t now = cl_time_mono_us();

	/* scan each chunk for "probe-K" in alert events */
	for (size_t i = 0; i + 6 < m; i++) {
		if (memcmp(p + i, "probe-", 6) == 0) {
			int k = atoi(p + i + 6);

			if (k >= 0 && k < PROBES && !l->got[k])
				l->got[k] = now;
		}
	}
	return m;
}

static int sse_progress(void *arg, curl_off_t a, curl_off_t b, curl_off_t c, curl_off_t d)
{
	(void)a;
	(void)b;
	(void)c;
	(void)d;
	return atomic_load(&((struct latency *)arg)->stop);
}

static void *sse_main(void *arg)
{
	struct latency *l = arg;
	char url[128], auth[200];
	struct curl_slist *h;
	CURL *c = curl_easy_init();

	snprintf(url, sizeof(url), "%s/api/v1/stream?vitals=false", l->s->url);
	snprintf(auth, sizeof(auth), "Authorization: Bearer %s", l->s->token);
	h = curl_slist_append(NULL, auth);
	curl_easy_setopt(c, CURLOPT_URL, url);
	curl_easy_setopt(c, CURLOPT_HTTPHEADER, h);
	curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_sse);
	curl_easy_setopt(c, CURLOPT_WRITEDATA, l);
	curl_easy_setopt(c, CURLOPT_NOPROGRESS, 0L);
	curl_easy_setopt(c, CURLOPT_XFERINFOFUNCTION, sse_progress);
	curl_easy_setopt(c, CURLOPT_XFERINFODATA, l);
	curl_easy_perform(c);
	curl_slist_free_all(h);
	curl_easy_cleanup(c);
	return NULL;
}

struct background {
	const struct server *s;
	int id;
	atomic_int *stop;
	long sent;
};

/* 5 bodies of 1,000 events a second from each of BG_THREADS connections,
 * staggered: 50,000 events/s arriving evenly, however long each durable
 * answer takes (up to 200 ms) -- an open load, as from many devices, not
 * bursts that follow the fdatasyncs. */
static void *background_main(void *arg)
{
	struct background *b = arg;
	struct poster p;
	int64_t next = cl_time_mono_us() + b->id * 200000 / BG_THREADS;
	char prefix[16];

	snprintf(prefix, sizeof(prefix), "bg%d-", b->id);
	poster_init(&p, b->s);
	for (long k = 0; !atomic_load(b->stop); k += 1000) {
		size_t len;
		char *body = make_body(prefix, k, 1000, 2000, &len);

		while (cl_time_mono_us() < next && !atomic_load(b->stop))
			usleep(500);
		if (poster_send(&p, body, len) > 0)
			b->sent += 1000;
		free(body);
		next += 200000;
	}
	poster_free(&p);
	return NULL;
}

struct prober {
	struct latency *l;
	int id;
};

/* Probes id, id + PROBE_THREADS, ...: a reading of SpO2 80, every
 * PROBE_THREADS x 10 ms. */
static void *prober_main(void *arg)
{
	struct prober *pr = arg;
	struct poster p;
	int64_t next = cl_time_mono_us() + pr->id * 10000;

	poster_init(&p, pr->l->s);
	for (int k = pr->id; k < PROBES; k += PROBE_THREADS) {
		char ts[40], body[300];

		while (cl_time_mono_us() < next)
			usleep(500);
		next += PROBE_THREADS * 10000;
		cl_time_format_rfc3339(cl_time_now_us(), ts, sizeof(ts), 3);
		snprintf(body, sizeof(body),
			 "{\"id\":\"probe-%d\",\"device_id\":\"probe-%d\",\"patient_id\":\"probe-%d\","
			 "\"ts\":\"%s\",\"type\":\"spo2\",\"value\":80,\"unit\":\"%%\"}", k, k, k, ts);
		pr->l->sent[k] = cl_time_mono_us();
		poster_send(&p, body, strlen(body));
	}
	poster_free(&p);
	return NULL;
}

static int cmp64(const void *a, const void *b)
{
	int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;

	return x < y ? -1 : x > y;
}

/* Sends the PROBES probes from PROBE_THREADS connections, waits for
 * their answers and a moment for their alerts. */
static void probe_all(struct latency *l)
{
	struct prober pr[PROBE_THREADS];
	pthread_t pth[PROBE_THREADS];

	for (int i = 0; i < PROBE_THREADS; i++) {
		pr[i] = (struct prober){ l, i };
		pthread_create(&pth[i], NULL, prober_main, &pr[i]);
	}
	for (int i = 0; i < PROBE_THREADS; i++)
		pthread_join(pth[i], NULL);
	usleep(300000);
}

/* The probes' latencies, those whose alert came, sorted; how many. */
static int probe_latencies(const struct latency *l, int64_t lat[PROBES])
{
	int n = 0;

	for (int k = 0; k < PROBES; k++)
		if (l->got[k])
			lat[n++] = l->got[k] - l->sent[k];
	qsort(lat, (size_t)n, sizeof(lat[0]), cmp64);
	return n;
}

/* The baseline: the disk's own durable-write latency, measured at the
 * same time: 64 KiB appended and fdatasync'd every 10 ms (through the
 * slow disk when the server has it). */
struct disk_probe {
	atomic_int stop;
	int (*sync)(int fd);
	int n;
	int64_t lat[4096];
};

static void *disk_probe_main(void *arg)
{
	struct disk_probe *d = arg;
	static char block[65536];
	char path[600];
	int fd;

	snprintf(path, sizeof(path), "%s/latency-baseline.dat", base);
	fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	while (fd >= 0 && !atomic_load(&d->stop) && d->n < 4096) {
		int64_t t = cl_time_mono_us();

		if (write(fd, block, sizeof(block)) != (ssize_t)sizeof(block) || d->sync(fd) != 0)
			break;
		d->lat[d->n++] = cl_time_mono_us() - t;
		usleep(10000);
	}
	if (fd >= 0)
		close(fd);
	unlink(path);
	return NULL;
}

/* The slow disk (tests/slowdisk.c): LD_PRELOAD for the server, and its
 * fdatasync for the disk probe. */
static const char *slowdisk_path = CARELAKE_SLOWDISK;
static int (*slowdisk_sync)(int fd);

static int slowdisk_load(void)
{
	void *h = dlopen(slowdisk_path, RTLD_NOW | RTLD_LOCAL);

	if (!h || !(slowdisk_sync = (int (*)(int))dlsym(h, "fdatasync"))) {
		fprintf(stderr, "bench_serve: %s: %s\n", slowdisk_path, dlerror());
		return -1;
	}
	return 0;
}

/* One latency run: which config, whether the server's disk is slow
 * (every fdatasync SLOWDISK_MS longer), and stream.live_alerts. */
struct latency_run {
	const char *name, *label;
	const char **config;
	int slow;
	const char *live_alerts;
	double p99;
};

static void bench_latency_run(struct latency_run *run)
{
	static struct disk_probe disk;
	static struct latency l;
	struct background bg[BG_THREADS];
	pthread_t sth, dth, bth[BG_THREADS];
	struct server s;
	atomic_int bg_stop = 0;
	int64_t lat[PROBES], t0, t1;
	long bg_sent = 0;
	char live[64];
	int n = 0;

	server_config = *run->config;
	snprintf(live, sizeof(live), "stream.live_alerts=%s", run->live_alerts);
	setenv("BENCH_SET2", live, 1);
	if (run->slow)
		setenv("LD_PRELOAD", slowdisk_path, 1);
	server_start(&s, run->name);
	unsetenv("LD_PRELOAD");
	unsetenv("BENCH_SET2");
	memset(&disk, 0, sizeof(disk));
	disk.sync = run->slow ? slowdisk_sync : fdatasync;
	memset(&l, 0, sizeof(l));
	l.s = &s;
	pthread_create(&sth, NULL, sse_main, &l);
	usleep(200000);
	for (int i = 0; i < BG_THREADS; i++) {
		bg[i] = (struct background){ .s = &s, .id = i, .stop = &bg_stop };
		pthread_create(&bth[i], NULL, background_main, &bg[i]);
	}
	usleep(500000);
	pthread_create(&dth, NULL, disk_probe_main, &disk);
	t0 = cl_time_mono_us();
	probe_all(&l);
	t1 = cl_time_mono_us();
	atomic_store(&bg_stop, 1);
	atomic_store(&l.stop, 1);
	atomic_store(&disk.stop, 1);
	pthread_join(dth, NULL);
	for (int i = 0; i < BG_THREADS; i++) {
		pthread_join(bth[i], NULL);
		bg_sent += bg[i].sent;
	}
	pthread_join(sth, NULL);
	n = probe_latencies(&l, lat);
	run->p99 = n ? (double)lat[(size_t)(n * 0.99)] / 1000 : 0;
	printf("latency  %s: event POSTed -> alert on the stream: p50 %.2f ms, p99 %.2f ms, "
	       "max %.2f ms (%d/%d probes seen; background %.0f events/s)\n",
	       run->label, n ? (double)lat[n / 2] / 1000 : 0, run->p99,
	       n ? (double)lat[n - 1] / 1000 : 0, n, PROBES,
	       (double)bg_sent / ((double)(t1 - t0) / 1e6 + 0.5));
	qsort(disk.lat, (size_t)disk.n, sizeof(disk.lat[0]), cmp64);
	if (disk.n > 0)
		printf("         the same disk, same run: one 64 KiB write+fdatasync: "
		       "p50 %.2f ms, p99 %.2f ms, max %.2f ms (%d samples)\n",
		       (double)disk.lat[disk.n / 2] / 1000,
		       (double)disk.lat[(size_t)(disk.n * 0.99)] / 1000,
		       (double)disk.lat[disk.n - 1] / 1000, disk.n);
	server_stop(&s);
}

static void bench_latency(void)
{
	struct latency_run runs[] = {
		{ "latency-base", "quality checks off [baseline]", &base_config_p,
		  0, "written", 0 },
		{ "latency", "as shipped [target p99 < 5 ms]", &probe_config_p, 0,
		  "written", 0 },
		{ "latency-slow", "slow disk, alerts on written events [target p99 < 5 ms]",
		  &probe_config_p, 1, "written", 0 },
		{ "latency-slow-durable", "slow disk, alerts on durable events",
		  &probe_config_p, 1, "durable", 0 },
	};
	const char *ms = getenv("SLOWDISK_MS");
	int nruns = 2;

	if (slowdisk_load() == 0) {
		if (!ms)
			setenv("SLOWDISK_MS", "45", 1);
		nruns = 4;
		printf("latency  the slow disk: every fdatasync %s ms longer (SLOWDISK_MS)\n",
		       getenv("SLOWDISK_MS"));
	}
	for (int i = 0; i < nruns; i++)
		bench_latency_run(&runs[i]);
	if (runs[0].p99 > 0 && runs[1].p99 > 0)
		printf("         p99 with the quality checks: %.2f ms against %.2f ms without (%.2fx)\n",
		       runs[1].p99, runs[0].p99, runs[1].p99 / runs[0].p99);
	if (nruns == 4 && runs[1].p99 > 0 && runs[2].p99 > 0)
		printf("         p99 on the slow disk: %.2f ms against %.2f ms on the plain one "
		       "(%.2fx); held for durability: %.2f ms\n",
		       runs[2].p99, runs[1].p99, runs[2].p99 / runs[1].p99, runs[3].p99);
	server_config = NULL;
}

/* ---- memory ---- */

static void bench_memory(void)
{
	struct server s;
	struct poster p;
	long before, after;

	server_start(&s, "memory");
	poster_init(&p, &s);
	usleep(200000);
	before = rss_kb(s.pid);
	/* 10,000 patients x 6 vitals, twice */
	for (long k = 0; k < 120000; k += 1000) {
		size_t len;
		char *body = make_body("mem-", k, 1000, 10000, &len);

		poster_send(&p, body, len);
		free(body);
	}
	usleep(1500000); /* let the stream processor take it all in */
	after = rss_kb(s.pid);
	printf("memory   resident %.1f MB with 10,000 live patients (%.1f MB at start)"
	       "   target < 200 MB\n", (double)after / 1024, (double)before / 1024);
	poster_free(&p);
	server_stop(&s);
}

/* ---- MQTT ---- */

#include "mqtt/cl_mqtt_proto.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>

static int tcp_connect(int port)
{
	struct sockaddr_in sa = { .sin_family = AF_INET, .sin_port = htons((uint16_t)port) };
	int fd = socket(AF_INET, SOCK_STREAM, 0);

	inet_pton(AF_INET, "127.0.0.1", &sa.sin_addr);
	if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) != 0) {
		close(fd);
		return -1;
	}
	return fd;
}

static int mqtt_session(int port, const char *id, int clean)
{
	struct cl_mqtt_connect_fields f = { .client_id = id, .keepalive_s = 60, .clean_session = clean };
	uint8_t pkt[256];
	long n;
	int fd = tcp_connect(port);

	if (fd < 0)
		return -1;
	n = cl_mqtt_connect(pkt, sizeof(pkt), &f);
	if (write(fd, pkt, (size_t)n) != n || read(fd, pkt, 4) != 4 || pkt[3] != 0) {
		close(fd);
		return -1;
	}
	return fd;
}

/* A bare subscriber that only counts messages (QoS 1 acked at once). */
struct counter {
	int port, qos;
	atomic_long got;
	atomic_int stop;
};

static void *counter_main(void *arg)
{
	struct counter *c = arg;
	static uint8_t buf[1 << 20];
	size_t have = 0;
	uint8_t pkt[128];
	int fd = mqtt_session(c->port, "bench-counter", 1);
	long n = cl_mqtt_subscribe(pkt, sizeof(pkt), 1, "devices/+/messages/events", c->qos);
	struct timeval tv = { 0, 200000 };

	if (fd < 0 || write(fd, pkt, (size_t)n) != n)
		return NULL;
	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	while (!atomic_load(&c->stop)) {
		ssize_t r = read(fd, buf + have, sizeof(buf) - have);
		size_t used = 0;

		if (r <= 0)
			continue;
		have += (size_t)r;
		for (;;) {
			struct cl_mqtt_packet p;
			long m = cl_mqtt_decode(buf + used, have - used, &p);

			if (m <= 0)
				break;
			if (p.type == CL_MQTT_PUBLISH) {
				atomic_fetch_add(&c->got, 1);
				if (p.qos) {
					uint8_t ack[4];

					cl_mqtt_puback(ack, sizeof(ack), p.packet_id);
					if (write(fd, ack, 4) != 4)
						break;
				}
			}
			used += (size_t)m;
		}
		memmove(buf, buf + used, have - used);
		have -= used;
	}
	close(fd);
	return NULL;
}

/* Reads what the broker sent; returns the PUBACKs in it, -1 if it closed. */
static long read_pubacks(int fd, uint8_t *in, size_t cap, size_t *have)
{
	ssize_t r = read(fd, in + *have, cap - *have);
	size_t used = 0;
	long acks = 0;

	if (r <= 0)
		return -1;
	*have += (size_t)r;
	for (;;) {
		struct cl_mqtt_packet p;
		long m = cl_mqtt_decode(in + used, *have - used, &p);

		if (m <= 0)
			break;
		acks += p.type == CL_MQTT_PUBACK;
		used += (size_t)m;
	}
	memmove(in, in + used, *have - used);
	*have -= used;
	return acks;
}

/* Publishes for `secs` as fast as the broker takes it; returns messages. */
static long publish_flood(int port, int qos, double secs)
{
	static uint8_t out[1 << 16], in[4096];
	int fd = mqtt_session(port, "bench-publisher", 1);
	int64_t end = cl_time_mono_us() + (int64_t)(secs * 1e6);
	long sent = 0, acked = 0;
	uint16_t id = 0;
	size_t have = 0;
	char ev[300], ts[40], topic[64];

	if (fd < 0)
		return -1;
	cl_time_format_rfc3339(cl_time_now_us(), ts, sizeof(ts), 3);
	while (cl_time_mono_us() < end) {
		size_t o = 0;

		/* a window of 100 in flight for QoS 1 */
		while (o + 400 < sizeof(out) && (qos == 0 || sent - acked < 100)) {
			int n = snprintf(ev, sizeof(ev),
					 "{\"id\":\"mq%d-%ld\",\"device_id\":\"m%ld\",\"patient_id\":\"p%ld\","
					 "\"ts\":\"%s\",\"type\":\"heart_rate\",\"value\":72,\"unit\":\"/min\"}",
					 qos, sent, sent % 1000, sent % 1000, ts);
			long m;

			id = (uint16_t)(id % 65535 + 1);
			/* each device on its own topic, as carelake checks */
			snprintf(topic, sizeof(topic), "devices/m%ld/messages/events", sent % 1000);
			m = cl_mqtt_publish(out + o, sizeof(out) - o, topic, ev, (size_t)n, qos, id);
			o += (size_t)m;
			sent++;
		}
		if (o && write(fd, out, o) != (ssize_t)o)
			break;
		if (qos) {
			long n = read_pubacks(fd, in, sizeof(in), &have);

			if (n < 0)
				break;
			acked += n;
		}
	}
	/* QoS 1: the broker has a message once it acknowledged it */
	for (int64_t until = cl_time_mono_us() + 3000000; qos && acked < sent &&
							   cl_time_mono_us() < until;) {
		long n = read_pubacks(fd, in, sizeof(in), &have);

		if (n < 0)
			break;
		acked += n;
	}
	close(fd);
	return sent;
}

static long metric_of(const struct server *s, const char *name)
{
	struct growbuf f = { 0 };
	char url[128], key[128], *p;
	long v = -1;
	CURL *c = curl_easy_init();

	snprintf(url, sizeof(url), "%s/metrics", s->url);
	curl_easy_setopt(c, CURLOPT_URL, url);
	curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, sink_grow);
	curl_easy_setopt(c, CURLOPT_WRITEDATA, &f);
	curl_easy_perform(c);
	curl_easy_cleanup(c);
	snprintf(key, sizeof(key), "\n%s ", name);
	p = f.buf ? strstr(f.buf, key) : NULL;
	if (p)
		v = atol(p + strlen(key));
	free(f.buf);
	return v;
}

static void bench_mqtt(void)
{
	char conf[500], set[64], cmd[600];
	int port = 0;
	pid_t broker;
	FILE *f;

	{
		struct sockaddr_in sa = { .sin_family = AF_INET };
		socklen_t len = sizeof(sa);
		int fd = socket(AF_INET, SOCK_STREAM, 0);

		inet_pton(AF_INET, "127.0.0.1", &sa.sin_addr);
		bind(fd, (struct sockaddr *)&sa, sizeof(sa));
		getsockname(fd, (struct sockaddr *)&sa, &len);
		port = ntohs(sa.sin_port);
		close(fd);
	}
	snprintf(conf, sizeof(conf), "%s/mosquitto.conf", base);
	f = fopen(conf, "w");
	fprintf(f, "listener %d 127.0.0.1\nallow_anonymous true\npersistence false\n"
		   "max_queued_messages 1000000\nmax_inflight_messages 1000\nlog_dest none\n", port);
	fclose(f);
	fflush(stdout);
	broker = fork();
	if (broker == 0) {
		execl("/usr/sbin/mosquitto", "mosquitto", "-c", conf, (char *)NULL);
		_exit(127);
	}
	usleep(300000);
	for (int qos = 0; qos <= 1; qos++) {
		struct counter c = { .port = port, .qos = qos };
		struct server s;
		pthread_t th;
		long sent, got, backlog;
		double base_rate, rate;

		/* the broker's own maximum: a bare subscriber */
		pthread_create(&th, NULL, counter_main, &c);
		usleep(200000);
		sent = publish_flood(port, qos, seconds);
		usleep(500000);
		base_rate = (double)atomic_load(&c.got) / seconds;
		/* the broker may still be routing the flood: let it finish, or
		 * carelake, subscribing next, would count its tail */
		for (long last = -1, i = 0; i < 100 && atomic_load(&c.got) != last; i++) {
			last = atomic_load(&c.got);
			usleep(200000);
		}
		atomic_store(&c.stop, 1);
		pthread_join(th, NULL);

		/* carelake subscribed, storing durably */
		snprintf(set, sizeof(set), "mqtt.broker=127.0.0.1:%d", port);
		setenv("BENCH_SET", set, 1);
		setenv("BENCH_SET2", qos ? "mqtt.client_id=bench-q1" : "mqtt.client_id=bench-q0", 1);
		server_start(&s, qos ? "mqtt1" : "mqtt0");
		unsetenv("BENCH_SET");
		unsetenv("BENCH_SET2");
		for (int i = 0; i < 100 && metric_of(&s, "carelake_mqtt_connected") != 1; i++)
			usleep(20000);
		{
			long m0 = metric_of(&s, "carelake_mqtt_messages_total");

			sent = publish_flood(port, qos, seconds);
			got = metric_of(&s, "carelake_mqtt_messages_total") - m0;
			rate = (double)got / seconds;
			usleep(2000000);
			backlog = sent - (metric_of(&s, "carelake_mqtt_messages_total") - m0);
		}
		printf("mqtt     QoS %d: carelake took %.0f msg/s while publishing (%ld of %ld), "
		       "bare subscriber %.0f msg/s: %.2fx; backlog 2 s after: %ld\n", qos, rate, got,
		       sent, base_rate, base_rate > 0 ? rate / base_rate : 0, backlog);
		server_stop(&s);
	}
	kill(broker, SIGTERM);
	waitpid(broker, NULL, 0);
	snprintf(cmd, sizeof(cmd), "rm -f '%s'", conf);
	if (system(cmd) != 0)
		fprintf(stderr, "could not remove %s\n", conf);
}

/* ---- detection ---- */

/* event time the detection scenario covers (--detect-seconds) */
static double detect_seconds = 21600;

/* A number of the scores, or NAN when it is null. */
static double score_num(json_t *o, const char *key)
{
	json_t *v = json_object_get(o, key);

	return json_is_number(v) ? json_number_value(v) : NAN;
}

/* One line of the server's /metrics as a number (-1 if absent). */
static double metric(const struct server *s, const char *name)
{
	char cmd[400], line[512];
	double v = -1;
	FILE *f;

	snprintf(cmd, sizeof(cmd), "curl -s %s/metrics", s->url);
	f = popen(cmd, "r");
	while (f && fgets(line, sizeof(line), f))
		if (strncmp(line, name, strlen(name)) == 0 && line[strlen(name)] == ' ')
			v = atof(line + strlen(name) + 1);
	if (f)
		pclose(f);
	return v;
}

/* Runs `carelake simulate ARGS...` (NULL-ended), its output to out (or
 * nowhere); its exit status. */
static int run_simulate(const char *out, const char *const *args)
{
	const char *argv[40];
	int n = 0, st;
	pid_t pid;

	argv[n++] = bin;
	argv[n++] = "simulate";
	while (*args)
		argv[n++] = *args++;
	argv[n] = NULL;
	fflush(stdout);
	pid = fork();
	if (pid == 0) {
		if (!freopen("/dev/null", "w", stderr) || !freopen(out ? out : "/dev/null", "w", stdout))
			_exit(126);
		execv(bin, (char **)argv);
		_exit(127);
	}
	waitpid(pid, &st, 0);
	return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

/*
 * Alarms clinicians can trust: 100 patients over 6 hours of event time
 * (30 of them stable), clinical episodes and artifacts at realistic rates,
 * sent as fast as the server takes them; once the stream has caught up,
 * `carelake simulate --score` against the server's alerts: recall overall,
 * of crises and of NEWS2 >= 7, precision of the clinical alerts, delays,
 * alarm burden on stable beds, dropouts reported, and the rules behind
 * false alerts. The same scenario runs first against the baseline (alerts
 * on single readings: quality checks and persistence off), then as
 * shipped.
 */
static void detect_run(const char *label)
{
	char truth[500], tokfile[500], dur[32], out[500];
	const char *send[] = { "--target", NULL, "--token-file", tokfile, "--patients", "100",
			       "--rate", "600", "--duration", dur, "--speed", "0", "--episodes", "2",
			       "--artifacts", "6", "--stable", "0.3", "--truth", truth, "--seed", "11",
			       NULL };
	const char *score[] = { "--score", NULL, "--token-file", tokfile, "--truth", truth,
				"--format", "json", NULL };
	struct server s;
	json_t *r, *fr, *v;
	const char *k;
	double artifacts = 0, events;
	int64_t t0;

	server_start(&s, server_config ? "detect-base" : "detect");
	snprintf(truth, sizeof(truth), "%s/truth.ndjson", s.dir);
	snprintf(tokfile, sizeof(tokfile), "%s/admin.token", s.dir);
	snprintf(out, sizeof(out), "%s/scores.json", s.dir);
	snprintf(dur, sizeof(dur), "%.0f", detect_seconds);
	send[1] = s.url;
	score[1] = s.url;
	t0 = cl_time_mono_us();
	if (run_simulate(NULL, send) != 0) {
		printf("detect   simulate failed\n");
		server_stop(&s);
		return;
	}
	/* the stream and the serving store caught up: every alert is stored */
	for (int i = 0; i < 6000; i++) {
		if (metric(&s, "carelake_stream_lag_records") == 0 &&
		    metric(&s, "carelake_store_pending_bytes") == 0)
			break;
		usleep(100000);
	}
	events = metric(&s, "carelake_stream_events_total");
	if (run_simulate(out, score) != 0 || !(r = json_load_file(out, 0, NULL))) {
		printf("detect   no scores (simulate --score failed)\n");
		server_stop(&s);
		return;
	}
	printf("detect   %s: 100 patients (30 stable), %.1f h of event time, %.1f M readings in "
	       "%.0f s\n", label, detect_seconds / 3600, events / 1e6,
	       (double)(cl_time_mono_us() - t0) / 1e6);
	printf("         %.0f episodes: recall %.3f (crisis %.3f, NEWS2 >= 7 %.3f); %.0f clinical "
	       "alerts: precision %.3f   target recall >= 0.99 (crisis, NEWS2 >= 7: 1.00), "
	       "precision >= 0.95\n",
	       score_num(r, "episodes"), score_num(r, "recall"), score_num(r, "recall_crisis"),
	       score_num(r, "recall_news2_high"), score_num(r, "clinical_alerts"),
	       score_num(r, "precision"));
	printf("         delay to alert: threshold episodes median %.1f s, p95 %.1f s   target "
	       "median <= 30 s; deterioration median %.1f s, %.1f s ahead of NEWS2 >= 7\n",
	       score_num(r, "delay_median_s"), score_num(r, "delay_p95_s"),
	       score_num(r, "deterioration_delay_median_s"),
	       score_num(r, "deterioration_lead_over_news2_7_median_s"));
	json_object_foreach(json_object_get(r, "artifacts"), k, v)
		artifacts += (double)json_integer_value(v);
	printf("         burden %.2f clinical alerts per stable bed per day   target < 5 (UCSF: "
	       "187); %.2f false per bed per day; %.0f of %.0f artifacts alerted; dropouts "
	       "reported %.3f\n",
	       score_num(r, "burden_stable_per_bed_day"), score_num(r, "false_per_bed_day"),
	       score_num(r, "artifacts_alerted"), artifacts, score_num(r, "dropout_recall"));
	fr = json_object_get(r, "false_by_rule");
	if (json_object_size(fr)) {
		printf("         false alerts by rule:");
		json_object_foreach(fr, k, v)
			printf(" %s %lld", k, json_integer_value(v));
		printf("\n");
	}
	json_decref(r);
	server_stop(&s);
}

static void bench_detect(void)
{
	server_config = base_config;
	detect_run("baseline, alerts on single readings (quality checks and persistence off)");
	server_config = NULL;
	detect_run("as shipped");
}

/* ---- store ---- */

static double cpu_seconds(void)
{
	struct rusage ru;

	getrusage(RUSAGE_SELF, &ru);
	return (double)(ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) +
	       (double)(ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) / 1e6;
}

/*
 * The serving store's floor: what one vital_event row costs SQLite with
 * nothing else running. Rows as the single-event POST benchmark makes them
 * (1,000 patients, one vital each), 2,000 to a transaction (what the
 * writer gathers in one of its commit intervals at ~40,000 events/s), a
 * passive WAL checkpoint every 50,000 rows (the checkpointer runs once a
 * second); CPU from getrusage, so the checkpoints' share is in.
 */
static void bench_store(void)
{
	enum { ROWS = 300000, TXN = 2000, CKPT = 50000, PATIENTS = 1000 };
	static const char *const vitals[] = { "heart_rate", "respiratory_rate", "spo2",
					      "systolic_bp", "temperature" };
	char dir[400], cmd[900], (*pid)[16] = malloc(PATIENTS * sizeof(*pid));
	struct cl_store *st;
	int64_t t0, ts = cl_time_now_us();
	double c0, cpu;

	snprintf(dir, sizeof(dir), "%s/store", base);
	snprintf(cmd, sizeof(cmd), "rm -rf '%s' && mkdir -p '%s'", dir, dir);
	if (!pid || system(cmd) != 0 || cl_store_create(dir, &st) != 0 ||
	    cl_store_set_writer(st) != 0) {
		fprintf(stderr, "bench_serve: cannot create a store in %s\n", dir);
		exit(2);
	}
	for (int i = 0; i < PATIENTS; i++)
		snprintf(pid[i], sizeof(pid[i]), "p%d", i);
	t0 = cl_time_mono_us();
	c0 = cpu_seconds();
	for (long i = 0; i < ROWS; i++) {
		if (i % TXN == 0 && cl_store_begin(st) != 0)
			exit(2);
		if (cl_store_put_vital(st, "device", (uint64_t)i, pid[i % PATIENTS], "m1",
				       vitals[i / PATIENTS % 5], ts + i * 25, 72) != 0)
			exit(2);
		if (i % TXN == TXN - 1 && cl_store_commit(st) != 0)
			exit(2);
		if (i % CKPT == CKPT - 1)
			cl_store_wal_checkpoint(st);
	}
	cpu = cpu_seconds() - c0;
	t0 = cl_time_mono_us() - t0;
	cl_store_close(st);
	free(pid);
	printf("store    the serving store alone, %d vital_event rows made beforehand, %d to a"
	       " transaction, checkpointed every %d: %.0f rows/s, %.1f us CPU a row (the floor of"
	       " a stored event's cost beside its HTTP answer)\n",
	       ROWS, TXN, CKPT, ROWS / (t0 / 1e6), cpu * 1e6 / ROWS);
}

/* ---- backlog ---- */

#define BL_PATIENTS 1000
static int bl_minutes = 1440;   /* --backlog-minutes */
#define BL_MINUTES bl_minutes

#define BL_SENDERS 3                           /* in the latency run */
#define BL_SHARE (BL_PATIENTS / BL_SENDERS + 1) /* patients per sender there */
#define BL_PER ((long)BL_SHARE * 2 * BL_MINUTES) /* events per sender there */

/* A sender's events k0..k0+n of the day, in time order (minute by minute,
 * each of its share of the patients' two readings: all of them when
 * share is BL_PATIENTS), the day ending a minute before `end_us`. */
static char *backlog_body(const char *prefix, long k0, int n, int sender, int share,
			  int64_t end_us, size_t *len)
{
	char *b = malloc((size_t)n * 220 + 16), ts[40];
	size_t o = 0;

	for (int i = 0; i < n; i++) {
		long k = k0 + i, minute = k / (share * 2), pat = (k / 2) % share + sender * share;
		int spo2 = (int)(k & 1);
		int64_t t = end_us - (BL_MINUTES + 1 - minute) * 60000000ll + pat * 1000;

		if (pat >= BL_PATIENTS)
			continue;
		cl_time_format_rfc3339(t, ts, sizeof(ts), 3);
		o += (size_t)sprintf(b + o,
				     "{\"id\":\"%s%ld\",\"device_id\":\"w%ld\",\"patient_id\":\"bp%ld\","
				     "\"ts\":\"%s\",\"type\":\"%s\",\"value\":%d,\"unit\":\"%s\"}\n",
				     prefix, k + sender * (long)share * 2 * BL_MINUTES, pat, pat, ts,
				     spo2 ? "spo2" : "heart_rate",
				     spo2 ? 96 + (int)(k % 3) : 70 + (int)(k % 7), spo2 ? "%" : "/min");
	}
	*len = o;
	return b;
}

struct backlog_sender {
	const struct server *s;
	int id, share;           /* its patients: id * share onwards */
	int64_t end_us;
	long accepted;
	long paused;             /* bodies the server asked to send again later */
};

static void *backlog_main(void *arg)
{
	struct backlog_sender *t = arg;
	struct poster p;

	poster_init(&p, t->s);
	for (long k = 0; k < (long)t->share * 2 * BL_MINUTES; k += 1000) {
		size_t len;
		char *body = backlog_body("bl-", k, 1000, t->id, t->share, t->end_us, &len);
		long a;

		if (len == 0) {
			free(body);
			continue;
		}
		/* while the store is behind, the server asks bulk senders to wait */
		while ((a = poster_send(&p, body, len)) < 0 && strstr(p.reply, "behind a backlog")) {
			t->paused++;
			usleep(100000);
		}
		free(body);
		if (a < 0)
			break;
		t->accepted += a;
	}
	poster_free(&p);
	return NULL;
}

/* Sends the day in time order; returns the accepted count, and the
 * seconds to the last durable answer and until the stream and its writer
 * have taken it all in. */
static long backlog_send(const struct server *s, int64_t end_us, double *acked_s, double *done_s,
			 long *paused)
{
	struct backlog_sender t = { .s = s, .id = 0, .share = BL_PATIENTS, .end_us = end_us };
	int64_t t0 = cl_time_mono_us();

	backlog_main(&t);
	*acked_s = (double)(cl_time_mono_us() - t0) / 1e6;
	/* applied and stored: no lag, nothing waiting for the writer */
	for (int i = 0; i < 6000; i++) {
		if (metric_of(s, "carelake_stream_lag_records") == 0 &&
		    metric_of(s, "carelake_store_pending_bytes") == 0)
			break;
		usleep(50000);
	}
	*done_s = (double)(cl_time_mono_us() - t0) / 1e6;
	*paused = t.paused;
	return t.accepted;
}

/* Every patient's reading of now: the day that follows is behind it. */
static void live_now(const struct server *s)
{
	struct poster p;
	char ts[40], *b = malloc((size_t)BL_PATIENTS * 400);
	size_t o = 0;

	cl_time_format_rfc3339(cl_time_now_us(), ts, sizeof(ts), 3);
	for (int i = 0; i < BL_PATIENTS; i++)
		o += (size_t)sprintf(b + o,
				     "{\"id\":\"now-%d\",\"device_id\":\"w%d\",\"patient_id\":\"bp%d\","
				     "\"ts\":\"%s\",\"type\":\"heart_rate\",\"value\":72,"
				     "\"unit\":\"/min\"}\n", i, i, i, ts);
	poster_init(&p, s);
	poster_send(&p, b, o);
	poster_free(&p);
	free(b);
}

static void bench_backlog_latency(void);

static void bench_backlog(void)
{
	struct server s;
	double acked[2], done[2];
	long n[2], rss[2], paused[2], corrected = 0;
	int64_t end = cl_time_now_us();

	for (int late = 0; late < 2; late++) {
		server_start(&s, late ? "backlog-late" : "backlog-in-order");
		if (late) {
			live_now(&s);
			usleep(300000);
		}
		n[late] = backlog_send(&s, end, &acked[late], &done[late], &paused[late]);
		rss[late] = rss_kb(s.pid);
		if (late)
			corrected = metric_of(&s, "carelake_stream_rollups_corrected_total");
		printf("backlog  %s: %ld events, %.0f events/s to the durable answer, %.0f events/s "
		       "until every window is stored; resident %.1f MB; %ld bodies asked to wait\n",
		       late ? "a day behind every patient's latest reading (late)"
			    : "the same day in time order [baseline]",
		       n[late], (double)n[late] / acked[late], (double)n[late] / done[late],
		       (double)rss[late] / 1024, paused[late]);
		server_stop(&s);
	}
	printf("         late: %ld windows corrected; %.2fx the in-order rate to the answer, %.2fx "
	       "until stored   target >= 0.5x\n", corrected,
	       (double)n[1] / acked[1] / ((double)n[0] / acked[0]),
	       (double)n[1] / done[1] / ((double)n[0] / done[0]));
	bench_backlog_latency();
}

/* The stream's lag, sampled every 20 ms while the probes run. */
struct lag_sampler {
	const struct server *s;
	atomic_int stop;
	long max, sum, n;
};

static void *lag_main(void *arg)
{
	struct lag_sampler *g = arg;

	while (!atomic_load(&g->stop)) {
		long v = metric_of(g->s, "carelake_stream_source_lag_records{source=\"vitals\"}");

		if (v > g->max)
			g->max = v;
		g->sum += v;
		g->n++;
		usleep(20000);
	}
	return NULL;
}

/* Live alert latency while a backlog comes in: with the defaults (old
 * readings in their own lane, applied after live ones), then the baseline
 * in the same run: one lane (ingest.backlog_after 0), the backlog queued
 * with the live readings in the vitals log. */
static void bench_backlog_latency(void)
{
	int64_t end = cl_time_now_us();
	struct server s;

	for (int one_lane = 0; one_lane < 2; one_lane++) {
		static struct latency l;
		pthread_t sth, bth;
		struct backlog_sender bs;
		int64_t lat[PROBES];
		int k;

		server_config = one_lane ? one_lane_config : probe_config;
		server_start(&s, one_lane ? "backlog-latency-one-lane" : "backlog-latency");
		server_config = NULL;
		live_now(&s);
		memset(&l, 0, sizeof(l));
		l.s = &s;
		pthread_create(&sth, NULL, sse_main, &l);
		usleep(200000);
		bs = (struct backlog_sender){ .s = &s, .id = 0, .share = BL_SHARE, .end_us = end };
		pthread_create(&bth, NULL, backlog_main, &bs);
		usleep(500000);
		static struct lag_sampler g;
		pthread_t gth;

		g = (struct lag_sampler){ .s = &s };
		pthread_create(&gth, NULL, lag_main, &g);
		probe_all(&l);
		atomic_store(&g.stop, 1);
		pthread_join(gth, NULL);
		atomic_store(&l.stop, 1);
		pthread_join(sth, NULL);
		pthread_join(bth, NULL);
		k = probe_latencies(&l, lat);
		printf("latency  live probes while a third of the day's backlog comes in%s: p50 %.2f "
		       "ms, p99 %.2f ms (%d/%d probes seen; %ld backlog events, %ld bodies asked to "
		       "wait)%s\n", one_lane ? ", one lane (ingest.backlog_after 0) [baseline]" : "",
		       k ? (double)lat[k / 2] / 1000 : 0, k ? (double)lat[(size_t)(k * 0.99)] / 1000 : 0,
		       k, PROBES, bs.accepted, bs.paused, one_lane ? "" : "   target p99 <= 5 ms");
		printf("         the stream waited for the store's writer %ld times (a full queue); "
		       "its lag in the vitals log (live readings) while probed: mean %.0f, max %ld "
		       "records\n",
		       metric_of(&s, "carelake_store_full_waits_total"),
		       g.n ? (double)g.sum / (double)g.n : 0, g.max);
		server_stop(&s);
	}
}

int main(int argc, char **argv)
{
	/* one of ingest, latency, memory, mqtt, detect, backlog (backlog-latency: its
	 * second part alone), store */
	const char *only = NULL;

	if (argc < 2) {
		fprintf(stderr, "usage: bench_serve /path/to/carelake [--dir DIR] [--seconds S]\n");
		return 2;
	}
	bin = argv[1];
	for (int i = 2; i + 1 < argc; i += 2) {
		if (strcmp(argv[i], "--dir") == 0)
			snprintf(base, sizeof(base), "%s", argv[i + 1]);
		else if (strcmp(argv[i], "--seconds") == 0)
			seconds = atof(argv[i + 1]);
		else if (strcmp(argv[i], "--detect-seconds") == 0)
			detect_seconds = atof(argv[i + 1]);
		else if (strcmp(argv[i], "--backlog-minutes") == 0)
			bl_minutes = atoi(argv[i + 1]);
		else if (strcmp(argv[i], "--only") == 0)
			only = argv[i + 1];
	}
	mkdir(base, 0750);
	curl_global_init(CURL_GLOBAL_DEFAULT);
	printf("carelake serve benchmarks (server and load generator on this machine)\n");
#define RUN(name) if (!only || strcmp(only, #name) == 0) bench_##name()
	write_configs();
	/* the live path before and after the quality checks, in this run */
	server_config = base_config;
	RUN(ingest);
	server_config = NULL;
	RUN(ingest);
	if (ingest_rate[0] > 0 && ingest_rate[1] > 0)
		printf("         with the quality checks and persistence: %.2fx the baseline's rate"
		       "   target >= 0.90x\n", ingest_rate[1] / ingest_rate[0]);
	RUN(latency);
	RUN(memory);
	RUN(mqtt);
	RUN(detect);
	RUN(backlog);
	if (only && strcmp(only, "backlog-latency") == 0)
		bench_backlog_latency();
	RUN(store);
#undef RUN
	return 0;
}
