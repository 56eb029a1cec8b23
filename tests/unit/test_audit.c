/*
 * The audit trail (audit/): a scripted set of appends gives exactly the
 * expected records; editing, deleting, inserting or swapping one record
 * at the start, the middle and the end makes verify fail and name it; a
 * bad checkpoint signature and an untrusted key are found; appenders on
 * several threads and two writers on one directory all land, chained; the
 * asynchronous durability notice; a torn tail recovered on open; files
 * rotated and one removed; the search and the FHIR AuditEvent form.
 */
#include "cl_test.h"
#include "audit/cl_audit.h"
#include "audit/cl_audit_fhir.h"
#include "audit/cl_audit_line.h"
#include "audit/cl_audit_read.h"
#include "core/cl_error.h"
#include "core/cl_log.h"

#include <inttypes.h>
#include <poll.h>
#include <pthread.h>
#include <sodium.h>
#include <sys/stat.h>

static char root[256];
static int counter;

#define T0 1795327200000000ll /* 2026-11-22T06:00:00Z */

struct trail {
	char dir[400];
	char keys[400];
	char seg[480];
};

static void trail_new(struct trail *t)
{
	snprintf(t->dir, sizeof(t->dir), "%s/t%d/audit", root, ++counter);
	snprintf(t->keys, sizeof(t->keys), "%s/t%d.keys", root, counter);
	snprintf(t->seg, sizeof(t->seg), "%s/audit-000001.jsonl", t->dir);
}

static void opts(struct cl_audit_options *o, const struct trail *t, uint32_t cp_records)
{
	cl_audit_options_from(o, NULL, t->keys);
	o->checkpoint_records = cp_records;
}

/* The scripted session's records. */
static const char *const pats_a[] = { "pat-1" };
static const char *const pats_b[] = { "pat-1", "pat-2" };
static const char *const obs_ids[] = { "obs-7", "obs-8" };

static struct cl_audit_record scripted(int i)
{
	struct cl_audit_record r = {
		.time_us = T0 + i * 1000000ll,
		.principal = i % 2 ? "tk0000000000000b" : "tk0000000000000a",
		.role = i % 2 ? "compliance" : "clinician",
		.client = "10.0.0.7",
		.action = i % 3 == 0 ? "read" : i % 3 == 1 ? "search" : "export",
		.resource_type = "Observation",
		.count = i,
		.status = i == 3 ? 403 : 200,
	};
	static char reqid[16][32];

	snprintf(reqid[i % 16], sizeof(reqid[0]), "req-%d", i);
	r.request_id = reqid[i % 16];
	if (i % 3 == 0) {
		r.resource_ids = obs_ids;
		r.nresource_ids = 2;
	}
	r.patients = i % 2 ? pats_b : pats_a;
	r.npatients = i % 2 ? 2 : 1;
	if (i == 4)
		r.break_glass = "cardiac arrest, bed \"7\"\nward B";
	if (i == 2) {
		r.query = "patient=pat-1&date=ge2026-11-01";
		r.os_user = "nurse";
	}
	return r;
}

/* A trail of n scripted records, appended one by one. */
static void write_trail(struct trail *t, int n, uint32_t cp_records)
{
	struct cl_audit_options o;
	struct cl_audit *a;

	trail_new(t);
	opts(&o, t, cp_records);
	assert_int_equal(cl_audit_open(t->dir, "test", &o, &a), CL_OK);
	for (int i = 0; i < n; i++) {
		struct cl_audit_record r = scripted(i);

		assert_int_equal(cl_audit_append_sync(a, &r), CL_OK);
	}
	cl_audit_close(a);
}

static void assert_same(const struct cl_audit_record *want, const struct cl_audit_record *got)
{
	assert_int_equal(got->time_us, want->time_us);
	assert_string_equal(got->principal, want->principal);
	assert_string_equal(got->role, want->role);
	assert_string_equal(got->client, want->client);
	assert_string_equal(got->request_id, want->request_id);
	assert_string_equal(got->action, want->action);
	assert_string_equal(got->resource_type, want->resource_type);
	assert_int_equal(got->nresource_ids, want->nresource_ids);
	for (size_t i = 0; i < want->nresource_ids; i++)
		assert_string_equal(got->resource_ids[i], want->resource_ids[i]);
	assert_int_equal(got->npatients, want->npatients);
	for (size_t i = 0; i < want->npatients; i++)
		assert_string_equal(got->patients[i], want->patients[i]);
	if (want->query)
		assert_string_equal(got->query, want->query);
	else
		assert_null(got->query);
	assert_int_equal(got->count, want->count);
	assert_int_equal(got->status, want->status);
	if (want->break_glass)
		assert_string_equal(got->break_glass, want->break_glass);
	else
		assert_null(got->break_glass);
	if (want->os_user)
		assert_string_equal(got->os_user, want->os_user);
	else
		assert_null(got->os_user);
}

static void test_scripted(void **state)
{
	struct cl_audit_entry e = { 0 };
	struct cl_audit_reader *r;
	struct cl_audit_verify v;
	struct trail t;
	char zeros[65], prev[65];
	int drc, n = 0;

	(void)state;
	write_trail(&t, 6, 1000);
	memset(zeros, '0', 64);
	zeros[64] = '\0';
	memcpy(prev, zeros, sizeof(prev));
	assert_int_equal(cl_audit_reader_open(t.dir, &r), CL_OK);
	while (cl_audit_reader_next(r, &e, &drc) == 1) {
		assert_int_equal(drc, CL_OK);
		assert_int_equal(e.seq, (uint64_t)n + 1);
		assert_int_equal(e.line, (uint64_t)n + 1);
		assert_string_equal(e.prev, prev);
		memcpy(prev, e.hash, sizeof(prev));
		if (n < 6) {
			struct cl_audit_record want = scripted(n);

			assert_int_equal(e.kind, CL_AUDIT_EVENT);
			assert_same(&want, &e.rec);
		} else {
			/* closing wrote one checkpoint covering the sixth */
			assert_int_equal(e.kind, CL_AUDIT_CHECKPOINT);
			assert_int_equal(e.head_seq, 6);
		}
		n++;
	}
	cl_audit_entry_clear(&e);
	cl_audit_reader_close(r);
	assert_int_equal(n, 7);
	assert_int_equal(cl_audit_verify(t.dir, NULL, &v), CL_OK);
	assert_true(v.ok);
	assert_int_equal(v.records, 6);
	assert_int_equal(v.checkpoints, 1);
	assert_int_equal(v.last_seq, 7);
	assert_int_equal(v.uncovered, 0);
}

/* ---- tampering ---- */

struct lines {
	char *l[64];
	int n;
};

static void read_lines(const char *path, struct lines *ls)
{
	FILE *f = fopen(path, "r");
	char buf[8192];

	assert_non_null(f);
	ls->n = 0;
	while (fgets(buf, sizeof(buf), f)) {
		assert_true(ls->n < 64);
		ls->l[ls->n++] = strdup(buf);
	}
	fclose(f);
}

static void write_lines(const char *path, struct lines *ls)
{
	FILE *f = fopen(path, "w");

	assert_non_null(f);
	for (int i = 0; i < ls->n; i++) {
		fputs(ls->l[i], f);
		free(ls->l[i]);
	}
	fclose(f);
}

/* Recomputes a line's hash after its content was changed (what a forger
 * who knows the format would do). */
static void rehash(char **line)
{
	char *s = *line, *h = strstr(s, ",\"hash\":\"");
	unsigned char d[32];
	char hex[65];
	crypto_generichash_state st;

	assert_non_null(h);
	crypto_generichash_init(&st, NULL, 0, 32);
	crypto_generichash_update(&st, (unsigned char *)s, (size_t)(h - s));
	crypto_generichash_update(&st, (const unsigned char *)"}", 1);
	crypto_generichash_final(&st, d, 32);
	cl_audit_hex(d, 32, hex);
	memcpy(h + 9, hex, 64);
}

/* Replaces the first `from` in a line with `to` of the same length. */
static void edit(char *line, const char *from, const char *to)
{
	char *p = strstr(line, from);

	assert_non_null(p);
	assert_int_equal(strlen(from), strlen(to));
	memcpy(p, to, strlen(to));
}

/* A forged event line with seq and prev taken from line `like`. */
static char *forge(const char *like)
{
	struct cl_audit_record r = scripted(1);
	struct cl_audit_buf body = { 0 }, out = { 0 };
	unsigned char prev[32], h[32];
	unsigned long long seq;
	char prevhex[65];
	char *s;

	assert_int_equal(sscanf(like, "{\"seq\":%llu,\"prev\":\"%64[0-9a-f]\"", &seq, prevhex), 2);
	assert_int_equal(cl_audit_unhex(prevhex, prev, 32), CL_OK);
	r.principal = "tk00000000forged";
	assert_int_equal(cl_audit_body_encode(&body, &r, T0), CL_OK);
	assert_int_equal(cl_audit_line_encode(&out, seq, prev, body.p, body.len, h), CL_OK);
	s = strndup(out.p, out.len);
	cl_audit_buf_free(&body);
	cl_audit_buf_free(&out);
	return s;
}

/* The trail for tampering: 10 events and checkpoints every 4 records:
 * lines 1-4 events, 5 checkpoint, 6-9 events, 10 checkpoint, 11-14
 * events, 15 checkpoint, 16-17 events, 18 the checkpoint of close. */
#define TAMPER_EVENTS 14
#define TAMPER_LINES 18

static void expect_failure(struct trail *t, uint64_t seq, uint64_t line, const char *word)
{
	struct cl_audit_verify v;

	assert_int_equal(cl_audit_verify(t->dir, NULL, &v), CL_OK);
	if (v.ok)
		fail_msg("verify passed a trail with a record %s at seq %" PRIu64, word, seq);
	print_message("  %s\n", v.problem);
	assert_int_equal(v.seq, seq);
	if (line)
		assert_int_equal(v.line, line);
	assert_non_null(strstr(v.problem, word));
}

static void tampered(struct trail *t, struct lines *ls)
{
	write_trail(t, TAMPER_EVENTS, 4);
	read_lines(t->seg, ls);
	assert_int_equal(ls->n, TAMPER_LINES);
}

static const int places[3] = { 1, 8, 17 }; /* start, middle, end (events) */

static void test_edit(void **state)
{
	(void)state;
	for (int i = 0; i < 3; i++) {
		struct trail t;
		struct lines ls;
		int at = places[i];

		/* changed in place */
		tampered(&t, &ls);
		edit(ls.l[at - 1], "\"pat-1\"", "\"pat-9\"");
		write_lines(t.seg, &ls);
		expect_failure(&t, (uint64_t)at, (uint64_t)at, "changed");
		/* changed and its hash made anew: the next record names it */
		tampered(&t, &ls);
		edit(ls.l[at - 1], "\"pat-1\"", "\"pat-9\"");
		rehash(&ls.l[at - 1]);
		write_lines(t.seg, &ls);
		expect_failure(&t, (uint64_t)at, (uint64_t)at, "changed");
	}
	/* the last checkpoint changed */
	{
		struct trail t;
		struct lines ls;

		tampered(&t, &ls);
		edit(ls.l[TAMPER_LINES - 1], "\"kind\":\"checkpoint\"", "\"kind\":\"checkpoinT\"");
		write_lines(t.seg, &ls);
		expect_failure(&t, 0, TAMPER_LINES, "not an audit record");
	}
}

static void test_delete(void **state)
{
	const int at[4] = { 1, 8, 17, TAMPER_LINES };

	(void)state;
	for (int i = 0; i < 4; i++) {
		struct trail t;
		struct lines ls;

		tampered(&t, &ls);
		free(ls.l[at[i] - 1]);
		memmove(&ls.l[at[i] - 1], &ls.l[at[i]], sizeof(char *) * (size_t)(ls.n - at[i]));
		ls.n--;
		write_lines(t.seg, &ls);
		expect_failure(&t, (uint64_t)at[i], 0, "removed");
	}
}

static void test_insert(void **state)
{
	(void)state;
	for (int i = 0; i < 3; i++) {
		struct trail t;
		struct lines ls;
		int at = places[i];

		/* a forged record taking the place (seq and prev) of record at */
		tampered(&t, &ls);
		memmove(&ls.l[at], &ls.l[at - 1], sizeof(char *) * (size_t)(ls.n - at + 1));
		ls.l[at - 1] = forge(ls.l[at]);
		ls.n++;
		write_lines(t.seg, &ls);
		expect_failure(&t, (uint64_t)at, (uint64_t)at, "inserted");
		/* a copy of an earlier record */
		tampered(&t, &ls);
		memmove(&ls.l[at], &ls.l[at - 1], sizeof(char *) * (size_t)(ls.n - at + 1));
		ls.l[at - 1] = strdup(ls.l[at == 1 ? 2 : 0]);
		ls.n++;
		write_lines(t.seg, &ls);
		{
			struct cl_audit_verify v;

			assert_int_equal(cl_audit_verify(t.dir, NULL, &v), CL_OK);
			assert_false(v.ok);
			print_message("  %s\n", v.problem);
			assert_int_equal(v.line, (uint64_t)at);
		}
	}
}

static void test_swap(void **state)
{
	const int at[3] = { 1, 7, TAMPER_LINES - 1 }; /* swapped with the line after */

	(void)state;
	for (int i = 0; i < 3; i++) {
		struct trail t;
		struct lines ls;
		char *x;

		tampered(&t, &ls);
		x = ls.l[at[i] - 1];
		ls.l[at[i] - 1] = ls.l[at[i]];
		ls.l[at[i]] = x;
		write_lines(t.seg, &ls);
		expect_failure(&t, (uint64_t)at[i] + 1, (uint64_t)at[i], "reordered");
	}
}

static void test_bad_signature(void **state)
{
	struct cl_audit_verify v;
	struct trail t;
	struct lines ls;
	char *sig;

	(void)state;
	/* a signature changed and the line's hash made anew */
	tampered(&t, &ls);
	sig = strstr(ls.l[9], "\"sig\":\"");
	assert_non_null(sig);
	sig[7] = sig[7] == 'a' ? 'b' : 'a';
	rehash(&ls.l[9]);
	write_lines(t.seg, &ls);
	expect_failure(&t, 10, 10, "bad signature");

	/* a record changed and the whole chain after it written again: the
	 * next checkpoint's signature no longer covers it */
	tampered(&t, &ls);
	for (int i = 6; i < ls.n; i++) {
		if (i == 6)
			edit(ls.l[i], "\"pat-1\"", "\"pat-9\"");
		if (i > 6) {
			/* the new prev is the line before's hash */
			char *h = strstr(ls.l[i - 1], ",\"hash\":\"") + 9;
			char *p = strstr(ls.l[i], "\"prev\":\"") + 8;

			memcpy(p, h, 64);
		}
		rehash(&ls.l[i]);
	}
	write_lines(t.seg, &ls);
	expect_failure(&t, 10, 10, "bad signature");

	/* trusted keys given: the trail's own key is not among them */
	write_trail(&t, 3, 1000);
	assert_int_equal(cl_audit_verify(t.dir, "00000000000000000000000000000000"
					       "00000000000000000000000000000000\n", &v), CL_OK);
	assert_false(v.ok);
	assert_non_null(strstr(v.problem, "not trusted"));
	assert_int_equal(v.seq, 4);
}

/* ---- writers ---- */

#define THREADS 4
#define PER_THREAD 400

struct writer {
	struct cl_audit *a;
	int id;
	int failures;
};

static void *writer_main(void *arg)
{
	struct writer *w = arg;
	uint64_t tickets[PER_THREAD];
	char principal[32], req[32];

	snprintf(principal, sizeof(principal), "thread-%d", w->id);
	for (int k = 0; k < PER_THREAD; k++) {
		struct cl_audit_record r = { .principal = principal, .role = "clinician",
					     .action = "read", .request_id = req,
					     .count = k, .status = 200 };

		snprintf(req, sizeof(req), "%d-%d", w->id, k);
		if (cl_audit_append(w->a, &r, 0, &tickets[k]) != CL_OK)
			w->failures++;
	}
	for (int k = 0; k < PER_THREAD; k++)
		if (cl_audit_wait(w->a, tickets[k]) != CL_OK)
			w->failures++;
	return NULL;
}

struct seen {
	uint8_t got[THREADS][PER_THREAD];
	int dup;
};

static int mark(void *arg, const struct cl_audit_entry *e)
{
	struct seen *s = arg;
	int id, k;

	assert_int_equal(sscanf(e->rec.request_id, "%d-%d", &id, &k), 2);
	assert_true(id >= 0 && id < THREADS && k >= 0 && k < PER_THREAD);
	if (s->got[id][k])
		s->dup++;
	s->got[id][k] = 1;
	return 0;
}

static void test_threads(void **state)
{
	struct cl_audit_options o;
	struct cl_audit_stats st;
	struct cl_audit_verify v;
	struct writer w[THREADS];
	pthread_t th[THREADS];
	static struct seen seen;
	struct cl_audit_filter all = { 0 };
	struct cl_audit *a;
	struct trail t;

	(void)state;
	trail_new(&t);
	opts(&o, &t, 100);
	assert_int_equal(cl_audit_open(t.dir, "test", &o, &a), CL_OK);
	for (int i = 0; i < THREADS; i++) {
		w[i] = (struct writer){ a, i, 0 };
		assert_int_equal(pthread_create(&th[i], NULL, writer_main, &w[i]), 0);
	}
	for (int i = 0; i < THREADS; i++) {
		pthread_join(th[i], NULL);
		assert_int_equal(w[i].failures, 0);
	}
	/* every ticket is durable before close */
	cl_audit_get_stats(a, &st);
	assert_int_equal(st.records, THREADS * PER_THREAD);
	assert_true(st.commits <= st.records);
	print_message("  %d records in %" PRIu64 " commits, %" PRIu64 " checkpoints\n",
		      THREADS * PER_THREAD, st.commits, st.checkpoints);
	cl_audit_close(a);
	assert_int_equal(cl_audit_verify(t.dir, NULL, &v), CL_OK);
	assert_true(v.ok);
	assert_int_equal(v.records, THREADS * PER_THREAD);
	assert_true(v.checkpoints >= THREADS * PER_THREAD / 100);
	memset(&seen, 0, sizeof(seen));
	assert_int_equal(cl_audit_search(t.dir, &all, mark, &seen), CL_OK);
	assert_int_equal(seen.dup, 0);
	for (int i = 0; i < THREADS; i++)
		for (int k = 0; k < PER_THREAD; k++)
			assert_int_equal(seen.got[i][k], 1);
}

/* Two writers on one directory (serve and a CLI command): each commit
 * follows the other's, the chain stays one. */
static void test_two_writers(void **state)
{
	struct cl_audit_options o;
	struct cl_audit_verify v;
	struct cl_audit *a, *b;
	struct trail t;

	(void)state;
	trail_new(&t);
	opts(&o, &t, 7);
	o.segment_max_bytes = 4096; /* and the files rotate under them */
	assert_int_equal(cl_audit_open(t.dir, "serve", &o, &a), CL_OK);
	assert_int_equal(cl_audit_open(t.dir, "cli", &o, &b), CL_OK);
	for (int i = 0; i < 60; i++) {
		struct cl_audit_record r = scripted(i % 6);

		assert_int_equal(cl_audit_append_sync(i % 3 ? a : b, &r), CL_OK);
	}
	cl_audit_close(b);
	cl_audit_close(a);
	assert_int_equal(cl_audit_verify(t.dir, NULL, &v), CL_OK);
	if (!v.ok)
		fail_msg("%s", v.problem);
	assert_int_equal(v.records, 60);
	{
		char second[480];
		struct stat st;

		snprintf(second, sizeof(second), "%s/audit-000002.jsonl", t.dir);
		assert_int_equal(stat(second, &st), 0);
	}
}

struct notified {
	pthread_mutex_t mu;
	uint64_t durable;
	int calls;
};

static void on_commit(void *arg, uint64_t durable, int rc)
{
	struct notified *n = arg;

	pthread_mutex_lock(&n->mu);
	assert_int_equal(rc, CL_OK);
	n->durable = durable;
	n->calls++;
	pthread_mutex_unlock(&n->mu);
}

/* The event loop's way: append, poll the wake fd, release on poll. */
static void test_async(void **state)
{
	struct notified n = { .mu = PTHREAD_MUTEX_INITIALIZER };
	struct cl_audit_options o;
	struct cl_audit *a;
	struct trail t;
	uint64_t tickets[20];
	int rc, done = 0;

	(void)state;
	trail_new(&t);
	opts(&o, &t, 1000);
	assert_int_equal(cl_audit_open(t.dir, "test", &o, &a), CL_OK);
	cl_audit_set_notify(a, on_commit, &n);
	for (int i = 0; i < 20; i++) {
		struct cl_audit_record r = scripted(i % 6);

		assert_int_equal(cl_audit_append(a, &r, CL_AUDIT_NOWAIT, &tickets[i]), CL_OK);
		assert_int_equal(tickets[i], (uint64_t)i + 1);
	}
	while (done < 20) {
		struct pollfd p = { .fd = cl_audit_wake_fd(a), .events = POLLIN };
		uint64_t c;

		assert_int_equal(poll(&p, 1, 10000), 1);
		assert_int_equal(read(p.fd, &c, sizeof(c)), (ssize_t)sizeof(c));
		while (done < 20 && cl_audit_poll(a, tickets[done], &rc)) {
			assert_int_equal(rc, CL_OK);
			assert_true(cl_audit_durable(a) >= tickets[done]);
			done++;
		}
	}
	pthread_mutex_lock(&n.mu);
	assert_int_equal(n.durable, 20);
	assert_true(n.calls >= 1);
	pthread_mutex_unlock(&n.mu);
	cl_audit_set_notify(a, NULL, NULL);
	cl_audit_close(a);
}

/* A crash cut the last write short: opening truncates it, says so, and the
 * chain goes on from the last whole record. */
static void test_torn_tail(void **state)
{
	static const char torn[] = "{\"seq\":8,\"prev\":\"00ab";
	static const char zeros[40];
	struct cl_audit_options o;
	struct cl_audit_stats st;
	struct cl_audit_verify v;
	struct cl_audit *a;
	struct trail t;
	FILE *f;

	(void)state;
	write_trail(&t, 6, 1000);
	f = fopen(t.seg, "a");
	assert_non_null(f);
	fwrite(torn, 1, sizeof(torn) - 1, f);
	fclose(f);
	/* verify sees the torn line as a crash's, not as tampering */
	assert_int_equal(cl_audit_verify(t.dir, NULL, &v), CL_OK);
	assert_true(v.ok);
	assert_int_equal(v.torn_bytes, sizeof(torn) - 1);
	opts(&o, &t, 1000);
	assert_int_equal(cl_audit_open(t.dir, "test", &o, &a), CL_OK);
	cl_audit_get_stats(a, &st);
	assert_int_equal(st.recovered_dropped_bytes, sizeof(torn) - 1);
	assert_int_equal(st.next_seq, 8);
	{
		struct cl_audit_record r = scripted(0);

		assert_int_equal(cl_audit_append_sync(a, &r), CL_OK);
	}
	cl_audit_close(a);
	assert_int_equal(cl_audit_verify(t.dir, NULL, &v), CL_OK);
	assert_true(v.ok);
	assert_int_equal(v.records, 7);
	assert_int_equal(v.torn_bytes, 0);

	/* zeros the file system left at the end after a crash */
	f = fopen(t.seg, "a");
	assert_non_null(f);
	fwrite(zeros, 1, sizeof(zeros), f);
	fputc('\n', f);
	fwrite(zeros, 1, 10, f);
	fclose(f);
	assert_int_equal(cl_audit_open(t.dir, "test", &o, &a), CL_OK);
	cl_audit_get_stats(a, &st);
	assert_int_equal(st.recovered_dropped_bytes, sizeof(zeros) + 11);
	cl_audit_close(a);
	assert_int_equal(cl_audit_verify(t.dir, NULL, &v), CL_OK);
	assert_true(v.ok);

	/* a whole line that fails its hash is evidence: kept, not cut */
	{
		struct lines ls;

		read_lines(t.seg, &ls);
		edit(ls.l[ls.n - 1], "\"kind\":\"checkpoint\"", "\"kind\":\"checkpoinT\"");
		write_lines(t.seg, &ls);
		assert_int_equal(cl_audit_open(t.dir, "test", &o, &a), CL_OK);
		cl_audit_get_stats(a, &st);
		assert_int_equal(st.recovered_dropped_bytes, 0);
		cl_audit_close(a);
		assert_int_equal(cl_audit_verify(t.dir, NULL, &v), CL_OK);
		assert_false(v.ok);
	}
}

/* A crash between a checkpoint's fdatasync and head.json: the next open
 * writes head.json again, and verify passes. */
static void test_head_repaired(void **state)
{
	struct cl_audit_options o;
	struct cl_audit_verify v;
	struct cl_audit *a;
	struct trail t;
	char head[480];

	(void)state;
	write_trail(&t, 6, 4);
	snprintf(head, sizeof(head), "%s/head.json", t.dir);
	assert_int_equal(unlink(head), 0);
	assert_int_equal(cl_audit_verify(t.dir, NULL, &v), CL_OK);
	assert_false(v.ok);
	assert_non_null(strstr(v.problem, "head.json is missing"));
	opts(&o, &t, 4);
	assert_int_equal(cl_audit_open(t.dir, "test", &o, &a), CL_OK);
	cl_audit_close(a);
	assert_int_equal(cl_audit_verify(t.dir, NULL, &v), CL_OK);
	assert_true(v.ok);
	assert_int_equal(v.last_seq, 8);
}

/* A crash before any checkpoint covered the last records: the next
 * writer signs them at its close even when it records nothing itself. */
static void test_unsigned_tail(void **state)
{
	struct cl_audit_options o;
	struct cl_audit_verify v;
	struct cl_audit *a;
	struct lines ls;
	struct trail t;
	char head[480];

	(void)state;
	write_trail(&t, 6, 1000);   /* six records, the close's checkpoint */
	read_lines(t.seg, &ls);
	assert_non_null(strstr(ls.l[ls.n - 1], "\"kind\":\"checkpoint\""));
	free(ls.l[--ls.n]);         /* as if the crash came before it */
	write_lines(t.seg, &ls);
	snprintf(head, sizeof(head), "%s/head.json", t.dir);
	assert_int_equal(unlink(head), 0);
	opts(&o, &t, 1000);
	assert_int_equal(cl_audit_open(t.dir, "test", &o, &a), CL_OK);
	cl_audit_close(a);
	assert_int_equal(cl_audit_verify(t.dir, NULL, &v), CL_OK);
	if (!v.ok)
		fail_msg("verify: %s", v.problem);
	assert_int_equal(v.records, 6);
	assert_int_equal(v.uncovered, 0);
	assert_int_equal(v.last_seq, 7);
}

static void test_removed_file(void **state)
{
	struct cl_audit_options o;
	struct cl_audit_verify v;
	struct cl_audit *a;
	struct trail t;
	char path[480];

	(void)state;
	trail_new(&t);
	opts(&o, &t, 1000);
	o.segment_max_bytes = 2048;
	assert_int_equal(cl_audit_open(t.dir, "test", &o, &a), CL_OK);
	for (int i = 0; i < 40; i++) {
		struct cl_audit_record r = scripted(i % 6);

		assert_int_equal(cl_audit_append_sync(a, &r), CL_OK);
	}
	cl_audit_close(a);
	assert_int_equal(cl_audit_verify(t.dir, NULL, &v), CL_OK);
	assert_true(v.ok);
	snprintf(path, sizeof(path), "%s/audit-000002.jsonl", t.dir);
	assert_int_equal(unlink(path), 0);
	assert_int_equal(cl_audit_verify(t.dir, NULL, &v), CL_OK);
	assert_false(v.ok);
	assert_non_null(strstr(v.problem, "removed"));
	assert_string_equal(v.file, "audit-000003.jsonl");
}

/* ---- search and FHIR ---- */

static int count_one(void *arg, const struct cl_audit_entry *e)
{
	(void)e;
	(*(int *)arg)++;
	return 0;
}

static int search_count(const char *dir, const struct cl_audit_filter *f)
{
	int n = 0;

	assert_int_equal(cl_audit_search(dir, f, count_one, &n), CL_OK);
	return n;
}

static void test_search(void **state)
{
	struct cl_audit_filter f = { 0 };
	struct trail t;
	size_t count = 100;

	(void)state;
	write_trail(&t, 6, 2);
	assert_int_equal(search_count(t.dir, &f), 6); /* checkpoints are not events */
	f.patient = "pat-2";
	assert_int_equal(search_count(t.dir, &f), 3);
	f.patient = "pat-1";
	assert_int_equal(search_count(t.dir, &f), 6);
	f.principal = "tk0000000000000a";
	assert_int_equal(search_count(t.dir, &f), 3);
	f.action = "read";
	assert_int_equal(search_count(t.dir, &f), 1);
	memset(&f, 0, sizeof(f));
	f.since_us = T0 + 2000000;
	f.until_us = T0 + 4000000;
	assert_int_equal(search_count(t.dir, &f), 3);

	memset(&f, 0, sizeof(f));
	assert_int_equal(cl_audit_fhir_param(&f, &count, "patient", "Patient/pat-2"), CL_OK);
	assert_string_equal(f.patient, "pat-2");
	assert_int_equal(cl_audit_fhir_param(&f, &count, "date", "ge2026-11-22T06:00:01Z"), CL_OK);
	assert_int_equal(f.since_us, T0 + 1000000);
	assert_int_equal(cl_audit_fhir_param(&f, &count, "date", "le2026-11-22"), CL_OK);
	assert_int_equal(f.until_us, T0 - 6 * 3600000000ll + 86400000000ll - 1);
	assert_int_equal(cl_audit_fhir_param(&f, &count, "action", "E"), CL_OK);
	assert_int_equal(cl_audit_fhir_param(&f, &count, "_count", "5"), CL_OK);
	assert_int_equal(count, 5);
	assert_int_equal(search_count(t.dir, &f), 1); /* i = 1: a search of pat-1 and pat-2 */
	assert_int_equal(cl_audit_fhir_param(&f, &count, "date", "xx2026"), CL_EINVAL);
	assert_int_equal(cl_audit_fhir_param(&f, &count, "action", "Q"), CL_EINVAL);
	assert_int_equal(cl_audit_fhir_param(&f, &count, "entity-name", "x"), CL_ENOTSUP);
}

static void test_fhir(void **state)
{
	struct cl_audit_filter f = { .patient = "pat-1" };
	json_t *bundle, *ev, *entry, *agent;
	struct trail t;
	const char *s;
	size_t i;
	int patient = 0, btg = 0;

	(void)state;
	write_trail(&t, 6, 1000);
	assert_int_equal(cl_audit_fhir_search(t.dir, &f, 2, &bundle), CL_OK);
	assert_string_equal(json_string_value(json_object_get(bundle, "type")), "searchset");
	assert_int_equal(json_integer_value(json_object_get(bundle, "total")), 6);
	assert_int_equal(json_array_size(json_object_get(bundle, "entry")), 2);
	/* the newest first: seq 6, then 5 (i = 4, with break-glass) */
	ev = json_object_get(json_array_get(json_object_get(bundle, "entry"), 1), "resource");
	assert_string_equal(json_string_value(json_object_get(ev, "resourceType")), "AuditEvent");
	assert_string_equal(json_string_value(json_object_get(ev, "id")), "5");
	assert_string_equal(json_string_value(json_object_get(ev, "action")), "E");
	assert_string_equal(json_string_value(json_object_get(ev, "recorded")),
			    "2026-11-22T06:00:04.000000Z");
	assert_string_equal(json_string_value(json_object_get(ev, "outcome")), "0");
	s = json_string_value(json_array_get(json_object_get(json_object_get(ev, "meta"),
							     "profile"), 0));
	assert_non_null(strstr(s, "IHE.BasicAudit.PatientQuery"));
	json_array_foreach(json_object_get(ev, "entity"), i, entry) {
		const char *ref = json_string_value(json_object_get(json_object_get(entry, "what"),
								     "reference"));

		if (ref && !strcmp(ref, "Patient/pat-1"))
			patient++;
	}
	assert_int_equal(patient, 1);
	json_array_foreach(json_object_get(ev, "agent"), i, agent) {
		json_t *pou = json_object_get(agent, "purposeOfUse");

		if (json_is_true(json_object_get(agent, "requestor"))) {
			assert_string_equal(json_string_value(json_object_get(
				json_object_get(json_object_get(agent, "who"), "identifier"), "value")),
				"tk0000000000000a");
			assert_non_null(pou);
			btg = 1;
		}
	}
	assert_int_equal(btg, 1);
	json_decref(bundle);

	/* a read of a refused request: a minor failure */
	f.patient = NULL;
	f.action = "read";
	assert_int_equal(cl_audit_fhir_search(t.dir, &f, 10, &bundle), CL_OK);
	assert_int_equal(json_integer_value(json_object_get(bundle, "total")), 2); /* 0, 3 */
	ev = json_object_get(json_array_get(json_object_get(bundle, "entry"), 0), "resource");
	assert_string_equal(json_string_value(json_object_get(ev, "id")), "4");
	assert_string_equal(json_string_value(json_object_get(ev, "outcome")), "4");
	assert_non_null(strstr(json_string_value(json_array_get(
		json_object_get(json_object_get(ev, "meta"), "profile"), 0)), "PatientRead"));
	json_decref(bundle);
}

static void test_bad_records(void **state)
{
	struct cl_audit_options o;
	struct cl_audit *a;
	struct trail t;
	char *big = malloc(CL_AUDIT_LINE_MAX);
	struct cl_audit_record r = { .principal = "p", .query = big };
	uint64_t ticket;

	(void)state;
	memset(big, 'q', CL_AUDIT_LINE_MAX - 1);
	big[CL_AUDIT_LINE_MAX - 1] = '\0';
	trail_new(&t);
	opts(&o, &t, 1000);
	assert_int_equal(cl_audit_open(t.dir, "test", &o, &a), CL_OK);
	assert_int_equal(cl_audit_append(a, &r, 0, &ticket), CL_ETOOBIG);
	/* bytes that are not UTF-8 and control bytes still make a valid line */
	r.query = "caf\xc3\xa9 \xff\x01";
	assert_int_equal(cl_audit_append_sync(a, &r), CL_OK);
	cl_audit_close(a);
	free(big);
	{
		struct cl_audit_entry e = { 0 };
		struct cl_audit_reader *rd;
		int drc;

		assert_int_equal(cl_audit_reader_open(t.dir, &rd), CL_OK);
		assert_int_equal(cl_audit_reader_next(rd, &e, &drc), 1);
		assert_int_equal(drc, CL_OK);
		assert_string_equal(e.rec.query, "caf\xc3\xa9 \xef\xbf\xbd\x01");
		cl_audit_entry_clear(&e);
		cl_audit_reader_close(rd);
	}
	/* no keys directory: refused, naming why */
	o.keys_dir = NULL;
	assert_int_equal(cl_audit_open(t.dir, "test", &o, &a), CL_EINVAL);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_scripted),
		cmocka_unit_test(test_edit),
		cmocka_unit_test(test_delete),
		cmocka_unit_test(test_insert),
		cmocka_unit_test(test_swap),
		cmocka_unit_test(test_bad_signature),
		cmocka_unit_test(test_threads),
		cmocka_unit_test(test_two_writers),
		cmocka_unit_test(test_async),
		cmocka_unit_test(test_torn_tail),
		cmocka_unit_test(test_head_repaired),
		cmocka_unit_test(test_unsigned_tail),
		cmocka_unit_test(test_removed_file),
		cmocka_unit_test(test_search),
		cmocka_unit_test(test_fhir),
		cmocka_unit_test(test_bad_records),
	};
	int rc;

	cl_log_threshold = CL_LOG_ERROR;
	cl_test_tmpdir(root, sizeof(root));
	rc = cmocka_run_group_tests(tests, NULL, NULL);
	cl_test_rmtree(root);
	return rc;
}
