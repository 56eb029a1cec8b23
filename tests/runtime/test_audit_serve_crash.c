/*
 * `carelake serve` SIGKILLed while clients read patient data: no served
 * response without its audit record. Several client threads read vitals
 * and alerts (each request with its own X-Request-Id) and remember every
 * request whose complete 200 reply, body included, arrived. After some
 * hundreds of reads the server is killed; the trail on disk, as the kill
 * left it (a torn last line allowed), must hold a record of every
 * remembered request and verify. serve then starts again on the same data
 * (recovering the trail's tail) for the next round; at the end, after a
 * clean stop, the whole trail verifies with no torn line, holds every
 * remembered request exactly once, and `carelake audit verify` agrees.
 *
 * Usage: test_audit_serve_crash /path/to/carelake [rounds]
 */
#include "serve_helpers.h"

#include "audit/cl_audit_read.h"

#include <jansson.h>
#include <pthread.h>
#include <stdatomic.h>

#define CLIENTS 4
#define PATIENTS 6
#define VALUES 20                /* stored values a patient */
#define MAX_ROUNDS 16
#define MAX_READS 20000          /* reads a client in a round, at most */
#define RID_FMT "kill-r%dc%dn%d" /* the request id of one read */

static int rounds = 3;
static struct server srv;
static atomic_int stop_clients;
static atomic_int served;        /* complete 200s this round, all clients */

/* What each client was served, by round: 1 once a read's complete 200
 * reply arrived. Written by the client threads, read after they joined. */
static uint8_t acked[MAX_ROUNDS][CLIENTS][MAX_READS];
/* How many records of each read the trail holds (filled by count_rid). */
static uint8_t found[MAX_ROUNDS][CLIENTS][MAX_READS];

struct client {
	int round, id;
	char *body;
	size_t len, cap;
};

static size_t gather(char *p, size_t sz, size_t n, void *arg)
{
	struct client *c = arg;

	if (c->len + sz * n + 1 > c->cap) {
		c->cap = (c->len + sz * n + 1) * 2;
		c->body = realloc(c->body, c->cap);
		if (!c->body)
			return 0;
	}
	memcpy(c->body + c->len, p, sz * n);
	c->len += sz * n;
	c->body[c->len] = '\0';
	return sz * n;
}

/* 1 when the body is the whole reply of read n: a JSON object with the
 * patient's stored values, or the alerts list. */
static int whole_reply(const struct client *c, int n)
{
	json_t *j = json_loadb(c->body, c->len, 0, NULL);
	int ok;

	if (n % 4 == 3)
		ok = json_is_array(json_object_get(j, "alerts"));
	else
		ok = json_array_size(json_object_get(j, "vitals")) >= VALUES;
	json_decref(j);
	return ok;
}

/* Read n of a client: a patient's vitals, every fourth the alerts. */
static void read_path(int n, char *path, size_t cap)
{
	if (n % 4 == 3)
		snprintf(path, cap, "/api/v1/alerts");
	else
		snprintf(path, cap, "/api/v1/patients/p-%d/vitals", n % PATIENTS);
}

/* Reads on one connection (kept alive) until told to stop or the server
 * is gone; remembers each read whose complete 200 reply arrived. */
static void *client_main(void *arg)
{
	struct client *c = arg;
	CURL *h = curl_easy_init();
	char auth[200];

	snprintf(auth, sizeof(auth), "Authorization: Bearer %s", srv.token);
	curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, gather);
	curl_easy_setopt(h, CURLOPT_WRITEDATA, c);
	curl_easy_setopt(h, CURLOPT_TIMEOUT, 30L);
	for (int n = 0; n < MAX_READS && !atomic_load(&stop_clients); n++) {
		struct curl_slist *hs = NULL;
		char url[300], path[100], rid[80];
		long code = 0;
		CURLcode rc;

		read_path(n, path, sizeof(path));
		snprintf(url, sizeof(url), "%s%s", srv.url, path);
		snprintf(rid, sizeof(rid), "X-Request-Id: " RID_FMT, c->round, c->id, n);
		hs = curl_slist_append(hs, auth);
		hs = curl_slist_append(hs, rid);
		curl_easy_setopt(h, CURLOPT_URL, url);
		curl_easy_setopt(h, CURLOPT_HTTPHEADER, hs);
		c->len = 0;
		rc = curl_easy_perform(h);
		curl_slist_free_all(hs);
		if (rc == CURLE_OK)
			curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &code);
		if (rc != CURLE_OK || code != 200 || !whole_reply(c, n))
			break; /* the server is gone (a 503 would be a refusal) */
		acked[c->round][c->id][n] = 1;
		atomic_fetch_add(&served, 1);
	}
	curl_easy_cleanup(h);
	free(c->body);
	return NULL;
}

/* Stores VALUES heart rates for each patient and waits until the reads
 * see them all. */
static void seed_vitals(void)
{
	int64_t now = cl_time_now_us();
	size_t cap = PATIENTS * VALUES * 256, n = 0;
	char *body = malloc(cap), id[32], patient[16], path[100];
	struct reply r;

	assert_non_null(body);
	n += (size_t)snprintf(body + n, cap - n, "[");
	for (int p = 0; p < PATIENTS; p++)
		for (int v = 0; v < VALUES; v++) {
			snprintf(id, sizeof(id), "e-%d-%d", p, v);
			snprintf(patient, sizeof(patient), "p-%d", p);
			n += (size_t)snprintf(body + n, cap - n, "%s%s", n > 1 ? "," : "",
					      test_event_at(now - (int64_t)(v + 1) * 1000000, id,
							    "monitor-1", patient, "heart_rate",
							    60 + v, "/min"));
		}
	n += (size_t)snprintf(body + n, cap - n, "]");
	r = http(&srv, "POST", "/api/v1/events", srv.token, body, n);
	if (r.code != 200)
		fail_msg("seeding vitals: %ld %s", r.code, r.body);
	free(r.body);
	free(body);
	for (int p = 0; p < PATIENTS; p++) {
		int seen = 0;

		snprintf(path, sizeof(path), "/api/v1/patients/p-%d/vitals", p);
		for (int tries = 0; tries < 500 * cl_test_slowdown() && !seen; tries++) {
			json_t *j;

			r = http(&srv, "GET", path, srv.token, NULL, 0);
			j = json_loads(r.body, 0, NULL);
			seen = json_array_size(json_object_get(j, "vitals")) >= VALUES;
			json_decref(j);
			free(r.body);
			if (!seen)
				usleep(10000);
		}
		if (!seen)
			fail_msg("the vitals of p-%d never became readable", p);
	}
}

/* Counts the trail's records of the test's reads in found[]. */
static int count_rid(void *arg, const struct cl_audit_entry *e)
{
	int round, client, n, end = 0;

	(void)arg;
	if (!e->rec.request_id ||
	    sscanf(e->rec.request_id, RID_FMT "%n", &round, &client, &n, &end) != 3 ||
	    e->rec.request_id[end] || round < 0 || round >= MAX_ROUNDS || client < 0 ||
	    client >= CLIENTS || n < 0 || n >= MAX_READS)
		return 0;
	if (found[round][client][n] < UINT8_MAX)
		found[round][client][n]++;
	return 0;
}

/* Fills found[] from the trail of data as it is on disk now. */
static void search_trail(const char *data)
{
	struct cl_audit_filter all = { 0 };
	char audit[400];

	snprintf(audit, sizeof(audit), "%s/audit", data);
	memset(found, 0, sizeof(found));
	assert_int_equal(cl_audit_search(audit, &all, count_rid, NULL), 0);
}

/* The trail of data verifies; its torn last line's size into *torn. */
static void verify_trail(const char *data, int round, uint64_t *torn)
{
	struct cl_audit_verify v;
	char audit[400];

	snprintf(audit, sizeof(audit), "%s/audit", data);
	assert_int_equal(cl_audit_verify(audit, NULL, &v), 0);
	if (!v.ok)
		fail_msg("round %d: the trail does not verify: %s", round, v.problem);
	*torn = v.torn_bytes;
}

/* Every read of rounds [0, upto) that was served has at least `least`
 * records and at most `most`. */
static void check_served(int upto, int least, int most)
{
	for (int r = 0; r < upto; r++)
		for (int c = 0; c < CLIENTS; c++)
			for (int n = 0; n < MAX_READS; n++) {
				if (acked[r][c][n] && found[r][c][n] < least)
					fail_msg("read " RID_FMT " was served; the trail has no record "
						 "of it", r, c, n);
				if (found[r][c][n] > most)
					fail_msg("read " RID_FMT " has %d records", r, c, n,
						 found[r][c][n]);
			}
}

/* Clients read until some hundreds were served, then serve is killed;
 * returns how many complete replies the clients got. */
static int read_then_kill(int round)
{
	struct client cl[CLIENTS];
	pthread_t th[CLIENTS];
	int target = 200 + rand() % 300, total;
	int64_t deadline = cl_time_now_us() + 60ll * 1000000 * cl_test_slowdown();

	atomic_store(&served, 0);
	atomic_store(&stop_clients, 0);
	for (int i = 0; i < CLIENTS; i++) {
		cl[i] = (struct client){ .round = round, .id = i };
		assert_int_equal(pthread_create(&th[i], NULL, client_main, &cl[i]), 0);
	}
	while (atomic_load(&served) < target && cl_time_now_us() < deadline)
		usleep(1000);
	server_kill(&srv);
	atomic_store(&stop_clients, 1);
	for (int i = 0; i < CLIENTS; i++)
		pthread_join(th[i], NULL);
	total = atomic_load(&served);
	if (total < target)
		fail_msg("round %d: only %d reads were served before the deadline", round, total);
	return total;
}

static void test_kill_during_reads(void **state)
{
	char data[300], cmd[1000];
	int total = 0, torn_rounds = 0;

	(void)state;
	snprintf(data, sizeof(data), "%s/kill", dir);
	srand((unsigned)time(NULL));
	server_start(&srv, bin, data, NULL);
	seed_vitals();
	for (int round = 0; round < rounds; round++) {
		uint64_t torn;

		if (round > 0)
			server_start(&srv, bin, data, NULL); /* recovers the torn tail */
		total += read_then_kill(round);
		/* the trail as the kill left it: every served read is there */
		verify_trail(data, round, &torn);
		torn_rounds += torn > 0;
		search_trail(data);
		check_served(round + 1, 1, 1);
	}
	/* serve starts on the killed trail, serves and records a read, and
	 * stops cleanly: the trail whole, its close's checkpoint signing the
	 * records the kills left unsigned too */
	server_start(&srv, bin, data, NULL);
	{
		struct reply r = http_h(&srv, "GET", "/api/v1/patients/p-0/vitals", srv.token, NULL, 0,
					"X-Request-Id: kill-after", NULL);

		assert_int_equal(r.code, 200);
		free(r.body);
	}
	assert_int_equal(server_stop(&srv), 0);
	{
		struct cl_audit_verify v;
		char audit[400];

		snprintf(audit, sizeof(audit), "%s/audit", data);
		assert_int_equal(cl_audit_verify(audit, NULL, &v), 0);
		if (!v.ok)
			fail_msg("the recovered trail does not verify: %s", v.problem);
		assert_int_equal(v.torn_bytes, 0);
		assert_int_equal(v.uncovered, 0);
		assert_true(v.records >= (uint64_t)total);
	}
	search_trail(data);
	check_served(rounds, 1, 1);
	snprintf(cmd, sizeof(cmd), "'%s' audit verify --data '%s' >/dev/null 2>&1", bin, data);
	assert_int_equal(system(cmd), 0);
	print_message("%d kills, %d reads served, each with its record; %d kills left a torn "
		      "line\n", rounds, total, torn_rounds);
}

int main(int argc, char **argv)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_kill_during_reads),
	};

	if (argc < 2) {
		fprintf(stderr, "usage: test_audit_serve_crash /path/to/carelake [rounds]\n");
		return 2;
	}
	bin = argv[1];
	if (argc > 2)
		rounds = atoi(argv[2]);
	if (rounds < 1 || rounds > MAX_ROUNDS) {
		fprintf(stderr, "rounds: 1 to %d\n", MAX_ROUNDS);
		return 2;
	}
	SERVE_TEST_RUN(tests);
}
