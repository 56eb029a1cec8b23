/*
 * `carelake serve` SIGKILLed under load, several times. Two clients post
 * batches of events with unique ids; each 200 means those events are
 * durable. After every kill the server is restarted and each client
 * retries the batch it had in flight. At the end every acknowledged id
 * must be in bronze, and no id may be stored twice (retries of events
 * that were stored but not acknowledged are answered as duplicates).
 *
 * Usage: test_serve_crash /path/to/carelake [rounds]
 */
#include "serve_helpers.h"
#include "bronze/cl_reader.h"
#include "core/cl_time.h"
#include "json/cl_json.h"

#include <jansson.h>
#include <pthread.h>
#include <stdatomic.h>

#define CLIENTS 2
#define BATCH 50
#define MAX_SEQ 200000

static int rounds = 4;
static struct server srv;
static uint8_t acked[CLIENTS][MAX_SEQ];
static atomic_int stop_clients;

struct client {
	int id;
	int next_seq;       /* first seq of the batch to send next */
	int inflight;       /* that batch was sent but not acknowledged */
	uint64_t ok_batches;
};

/* One instant for every event: a retried batch is the same events. Set
 * before the client threads start, read-only after. */
static int64_t events_at;

static size_t make_batch(int client, int first, char *buf, size_t cap)
{
	char ts[40];
	size_t n = 0;

	cl_time_format_rfc3339(events_at, ts, sizeof(ts), 3);
	n += (size_t)snprintf(buf + n, cap - n, "[");
	for (int i = 0; i < BATCH; i++)
		n += (size_t)snprintf(buf + n, cap - n,
				      "%s{\"id\":\"c%d-%d\",\"device_id\":\"monitor-%d\","
				      "\"patient_id\":\"patient-%04d\",\"ts\":\"%s\","
				      "\"type\":\"heart_rate\",\"value\":%d,\"unit\":\"/min\"}",
				      i ? "," : "", client, first + i, client, (first + i) % 50,
				      ts, 60 + (first + i) % 40);
	n += (size_t)snprintf(buf + n, cap - n, "]");
	return n;
}

/* Posts batch after batch until told to stop or a request fails. */
static void *client_main(void *arg)
{
	struct client *c = arg;
	static _Thread_local char buf[BATCH * 256];

	while (!atomic_load(&stop_clients) && c->next_seq + BATCH < MAX_SEQ) {
		struct reply r;
		size_t n = make_batch(c->id, c->next_seq, buf, sizeof(buf));

		c->inflight = 1;
		r = http(&srv, "POST", "/api/v1/events", srv.token, buf, n);
		if (r.code != 200) {
			free(r.body);
			break; /* the server is gone: keep the batch in flight */
		}
		if (!strstr(r.body, "\"rejected\":[]"))
			fail_msg("unexpected rejection: %s", r.body);
		for (int i = 0; i < BATCH; i++)
			acked[c->id][c->next_seq + i] = 1;
		free(r.body);
		c->inflight = 0;
		c->next_seq += BATCH;
		c->ok_batches++;
	}
	return NULL;
}

static void test_kill_under_load(void **state)
{
	struct client cl[CLIENTS];
	char data[300], src[400];
	uint8_t *seen;
	uint64_t stored = 0, total_acked = 0;

	(void)state;
	snprintf(data, sizeof(data), "%s/crash", dir);
	for (int i = 0; i < CLIENTS; i++)
		cl[i] = (struct client){ .id = i };
	srand((unsigned)time(NULL));
	events_at = cl_time_now_us() - 1000;
	for (int round = 0; round < rounds; round++) {
		pthread_t th[CLIENTS];

		server_start(&srv, bin, data, NULL);
		/* the batch each client had in flight is retried first: it is
		 * accepted, or answered as duplicates where it was stored */
		for (int i = 0; i < CLIENTS; i++) {
			if (cl[i].inflight) {
				char buf[BATCH * 256];
				size_t n = make_batch(i, cl[i].next_seq, buf, sizeof(buf));
				struct reply r = http(&srv, "POST", "/api/v1/events", srv.token, buf, n);
				json_t *j;
				json_error_t err;

				assert_int_equal(r.code, 200);
				j = json_loads(r.body, 0, &err);
				assert_non_null(j);
				assert_int_equal(json_integer_value(json_object_get(j, "accepted")) +
						 json_integer_value(json_object_get(j, "duplicates")),
						 BATCH);
				json_decref(j);
				free(r.body);
				for (int k = 0; k < BATCH; k++)
					acked[i][cl[i].next_seq + k] = 1;
				cl[i].next_seq += BATCH;
				cl[i].inflight = 0;
			}
		}
		atomic_store(&stop_clients, 0);
		for (int i = 0; i < CLIENTS; i++)
			pthread_create(&th[i], NULL, client_main, &cl[i]);
		usleep(200000 + (useconds_t)(rand() % 600000));
		server_kill(&srv);
		atomic_store(&stop_clients, 1);
		for (int i = 0; i < CLIENTS; i++)
			pthread_join(th[i], NULL);
	}
	server_start(&srv, bin, data, NULL);
	assert_int_equal(server_stop(&srv), 0);

	/* every acknowledged id is stored, and none twice */
	seen = calloc(CLIENTS, MAX_SEQ);
	snprintf(src, sizeof(src), "%s/bronze/vitals", data);
	{
		struct cl_blog_reader *r;
		struct cl_json_doc d;
		struct cl_frame f;
		char id[64];

		cl_json_doc_init(&d);
		assert_int_equal(cl_blog_reader_open(src, 0, UINT64_MAX, 1 << 20, &r), 0);
		while (cl_blog_reader_next(r, &f) == 1) {
			int c, seq;

			assert_int_equal(cl_json_parse(&d, (const char *)f.data, f.len), 0);
			assert_true(cl_json_str(&d, (uint32_t)cl_json_get(&d, 0, "id"), id, sizeof(id)) > 0);
			assert_int_equal(sscanf(id, "c%d-%d", &c, &seq), 2);
			if (seen[c * MAX_SEQ + seq])
				fail_msg("event %s stored twice", id);
			seen[c * MAX_SEQ + seq] = 1;
			stored++;
		}
		cl_blog_reader_close(r);
		cl_json_doc_free(&d);
	}
	for (int c = 0; c < CLIENTS; c++)
		for (int s = 0; s < MAX_SEQ; s++) {
			if (acked[c][s] && !seen[c * MAX_SEQ + s])
				fail_msg("acknowledged event c%d-%d is not in bronze", c, s);
			total_acked += acked[c][s];
		}
	print_message("%d kills, %llu events acknowledged, %llu stored, none lost or doubled\n",
		      rounds, (unsigned long long)total_acked, (unsigned long long)stored);
	assert_true(total_acked > 0);
	free(seen);
}

int main(int argc, char **argv)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_kill_under_load),
	};

	if (argc < 2) {
		fprintf(stderr, "usage: test_serve_crash /path/to/carelake [rounds]\n");
		return 2;
	}
	bin = argv[1];
	if (argc > 2)
		rounds = atoi(argv[2]);
	SERVE_TEST_RUN(tests);
}
