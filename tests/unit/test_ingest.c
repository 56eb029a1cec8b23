/* Ingest of device-event bodies, and the idempotency set under it. */
#include "cl_test.h"
#include "bronze/cl_blog.h"
#include "bronze/cl_reader.h"
#include "core/cl_error.h"
#include "core/cl_log.h"
#include "core/cl_time.h"
#include "ingest/cl_dedupe.h"
#include "ingest/cl_ingest.h"

static char dir[256];
static struct cl_blog *blog;
static struct cl_dedupe *dd;
static struct cl_ingest *ing;

#define EV(id, type, value, unit) \
	"{\"id\":\"" id "\",\"device_id\":\"m1\",\"patient_id\":\"p1\"," \
	"\"ts\":\"2026-11-22T06:00:00Z\",\"type\":\"" type "\",\"value\":" value \
	",\"unit\":\"" unit "\"}"

static int64_t now(void)
{
	return 1795327200ll * 1000000 + 1000000; /* 06:00:01 */
}

static int setup(void **state)
{
	struct cl_blog_options bo;
	struct cl_ingest_options io;

	(void)state;
	cl_log_threshold = CL_LOG_ERROR;
	cl_test_tmpdir(dir, sizeof(dir));
	cl_blog_options_default(&bo);
	assert_int_equal(cl_blog_open(dir, "vitals", &bo, &blog), CL_OK);
	assert_int_equal(cl_dedupe_create(1000, &dd), CL_OK);
	cl_ingest_options_default(&io);
	io.max_events = 50;
	assert_int_equal(cl_ingest_create(blog, dd, &io, &ing), CL_OK);
	return 0;
}

static int teardown(void **state)
{
	(void)state;
	cl_ingest_destroy(ing);
	cl_dedupe_destroy(dd);
	cl_blog_close(blog);
	cl_test_rmtree(dir);
	return 0;
}

static int run(const char *body, struct cl_ingest_result *r)
{
	int rc;

	cl_ingest_result_init(r);
	rc = cl_ingest_body(ing, body, strlen(body), now(), 0, r);
	if (rc == CL_OK && r->queued)
		assert_int_equal(cl_blog_wait(blog, &r->last, NULL), CL_OK);
	return rc;
}

static void test_shapes(void **state)
{
	struct cl_ingest_result r;

	(void)state;
	assert_int_equal(run(EV("a1", "heart_rate", "72", "/min"), &r), CL_OK);
	assert_int_equal(r.accepted, 1);
	cl_ingest_result_free(&r);
	assert_int_equal(run("[" EV("a2", "spo2", "97", "%") "," EV("a3", "spo2", "5000", "%") "]", &r),
			 CL_OK);
	assert_int_equal(r.events, 2);
	assert_int_equal(r.accepted, 1);
	assert_int_equal(r.nrejected, 1);
	assert_int_equal(r.rejected[0].index, 1);
	assert_non_null(strstr(r.rejected[0].error, "outside the possible range"));
	cl_ingest_result_free(&r);
	/* NDJSON with a broken line and a blank one */
	assert_int_equal(run(EV("a4", "heart_rate", "80", "/min") "\n\n{\"broken\n"
			     EV("a5", "heart_rate", "81", "/min") "\n", &r), CL_OK);
	assert_int_equal(r.events, 3);
	assert_int_equal(r.accepted, 2);
	assert_int_equal(r.nrejected, 1);
	assert_int_equal(r.rejected[0].index, 1);
	assert_non_null(strstr(r.rejected[0].error, "line is not JSON"));
	cl_ingest_result_free(&r);
	/* 4 stored, in order, exactly as sent */
	assert_int_equal(cl_blog_durable_offset(blog), 4);
	{
		struct cl_blog_reader *rd;
		struct cl_frame f;
		const char *want = EV("a2", "spo2", "97", "%");

		assert_int_equal(cl_blog_reader_open(dir, 1, UINT64_MAX, 1 << 20, &rd), CL_OK);
		assert_int_equal(cl_blog_reader_next(rd, &f), 1);
		assert_int_equal(f.len, strlen(want));
		assert_memory_equal(f.data, want, f.len);
		cl_blog_reader_close(rd);
	}
}

static void test_not_json_and_limits(void **state)
{
	struct cl_ingest_result r;
	char *big;
	size_t n = 0;

	(void)state;
	assert_int_equal(run("", &r), CL_EPARSE);
	assert_non_null(strstr(cl_error_detail(), "empty"));
	cl_ingest_result_free(&r);
	assert_int_equal(run("hello", &r), CL_EPARSE);
	assert_non_null(strstr(cl_error_detail(), "not JSON"));
	cl_ingest_result_free(&r);
	assert_int_equal(run("foo\nbar\n", &r), CL_EPARSE);
	cl_ingest_result_free(&r);
	assert_int_equal(run("[1,", &r), CL_EPARSE);
	cl_ingest_result_free(&r);
	/* 51 events > max_events: nothing stored */
	big = malloc(51 * 200 + 2);
	big[n++] = '[';
	for (int i = 0; i < 51; i++)
		n += (size_t)sprintf(big + n, "%s" EV("b", "heart_rate", "70", "/min"), i ? "," : "");
	big[n++] = ']';
	big[n] = '\0';
	assert_int_equal(run(big, &r), CL_ETOOBIG);
	assert_int_equal(r.queued, 0);
	cl_ingest_result_free(&r);
	free(big);
	assert_int_equal(cl_blog_durable_offset(blog), 0);
}

static void test_duplicates_and_forget(void **state)
{
	struct cl_ingest_result r;

	(void)state;
	assert_int_equal(run("[" EV("d1", "heart_rate", "70", "/min") ","
			     EV("d1", "heart_rate", "70", "/min") "]", &r), CL_OK);
	assert_int_equal(r.accepted, 1);
	assert_int_equal(r.duplicates, 1);
	cl_ingest_result_free(&r);
	assert_int_equal(run(EV("d1", "heart_rate", "70", "/min"), &r), CL_OK);
	assert_int_equal(r.accepted, 0);
	assert_int_equal(r.duplicates, 1);
	assert_int_equal(r.queued, 0);
	cl_ingest_result_free(&r);
	/* a failed commit forgets the ids, so the retry is accepted */
	cl_ingest_result_init(&r);
	assert_int_equal(cl_ingest_body(ing, EV("d2", "spo2", "99", "%"), strlen(EV("d2", "spo2", "99", "%")),
					now(), 0, &r), CL_OK);
	assert_int_equal(cl_blog_wait(blog, &r.last, NULL), CL_OK);
	cl_ingest_forget(ing, &r);
	cl_ingest_result_free(&r);
	assert_int_equal(run(EV("d2", "spo2", "99", "%"), &r), CL_OK);
	assert_int_equal(r.accepted, 1);
	cl_ingest_result_free(&r);
	/* events without an id are never duplicates */
	assert_int_equal(run("{\"device_id\":\"m\",\"patient_id\":\"p\",\"ts\":\"2026-11-22T06:00:00Z\","
			     "\"type\":\"heart_rate\",\"value\":70,\"unit\":\"/min\"}", &r), CL_OK);
	assert_int_equal(r.accepted, 1);
	cl_ingest_result_free(&r);
	assert_int_equal(atomic_load(&cl_ingest_counters(ing)->duplicates), 2);
}

/* A body sent as device m1 (an MQTT topic names it): another device's
 * event is rejected and its id left free; m1's events are taken. */
static void test_device(void **state)
{
	static const char other[] =
		"{\"id\":\"w2\",\"device_id\":\"m12\",\"patient_id\":\"p1\","
		"\"ts\":\"2026-11-22T06:00:00Z\",\"type\":\"spo2\",\"value\":90,\"unit\":\"%\"}";
	const char *body = EV("w1", "spo2", "97", "%") "\n" EV("w3", "spo2", "96", "%") "\n";
	char ndjson[1024];
	struct cl_ingest_result r;

	(void)state;
	snprintf(ndjson, sizeof(ndjson), "%s\n%s", EV("w1", "spo2", "97", "%"), other);
	snprintf(ndjson + strlen(ndjson), sizeof(ndjson) - strlen(ndjson), "\n%s",
		 EV("w3", "spo2", "96", "%"));
	cl_ingest_result_init(&r);
	assert_int_equal(cl_ingest_device_body(ing, "m1", 2, ndjson, strlen(ndjson), now(), 0, &r),
			 CL_OK);
	assert_int_equal(r.events, 3);
	assert_int_equal(r.accepted, 2);
	assert_int_equal(r.nrejected, 1);
	assert_int_equal(r.wrong_device, 1);
	assert_int_equal(r.rejected[0].index, 1);
	assert_non_null(strstr(r.rejected[0].error, "not the device"));
	assert_int_equal(cl_blog_wait(blog, &r.last, NULL), CL_OK);
	cl_ingest_result_free(&r);
	/* "m1" is no prefix match for "m12", nor "m" for "m1" */
	cl_ingest_result_init(&r);
	assert_int_equal(cl_ingest_device_body(ing, "m", 1, body, strlen(body), now(), 0, &r), CL_OK);
	assert_int_equal(r.wrong_device, 2);
	assert_int_equal(r.accepted, 0);
	assert_int_equal(r.duplicates, 0);
	assert_int_equal(r.queued, 0);
	cl_ingest_result_free(&r);
	/* the rejected id was never taken: from its own device it is stored */
	cl_ingest_result_init(&r);
	assert_int_equal(cl_ingest_device_body(ing, "m12", 3, other, strlen(other), now(), 0, &r),
			 CL_OK);
	assert_int_equal(r.accepted, 1);
	assert_int_equal(r.wrong_device, 0);
	assert_int_equal(cl_blog_wait(blog, &r.last, NULL), CL_OK);
	cl_ingest_result_free(&r);
}

static void test_dedupe_eviction(void **state)
{
	struct cl_dedupe *d;
	char id[32];

	(void)state;
	assert_int_equal(cl_dedupe_create(100, &d), CL_OK);
	for (int i = 0; i < 100; i++) {
		int n = snprintf(id, sizeof(id), "id-%d", i);

		assert_int_equal(cl_dedupe_insert(d, id, (size_t)n), 1);
	}
	assert_int_equal(cl_dedupe_insert(d, "id-5", 4), 0);
	assert_int_equal(cl_dedupe_count(d), 100);
	/* 50 more: the oldest 50 are forgotten, the newest remembered */
	for (int i = 100; i < 150; i++) {
		int n = snprintf(id, sizeof(id), "id-%d", i);

		assert_int_equal(cl_dedupe_insert(d, id, (size_t)n), 1);
	}
	assert_int_equal(cl_dedupe_count(d), 100);
	assert_int_equal(cl_dedupe_insert(d, "id-149", 6), 0);
	assert_int_equal(cl_dedupe_insert(d, "id-60", 5), 0);
	assert_int_equal(cl_dedupe_insert(d, "id-10", 5), 1); /* forgotten: new again */
	/* removals and churn never overfill the table */
	for (int round = 0; round < 20000; round++) {
		int n = snprintf(id, sizeof(id), "x-%d", round);

		assert_int_equal(cl_dedupe_insert(d, id, (size_t)n), 1);
		if (round % 3 == 0)
			cl_dedupe_remove(d, id, (size_t)n);
		assert_true(cl_dedupe_count(d) <= 100);
	}
	cl_dedupe_destroy(d);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_shapes, setup, teardown),
		cmocka_unit_test_setup_teardown(test_not_json_and_limits, setup, teardown),
		cmocka_unit_test_setup_teardown(test_duplicates_and_forget, setup, teardown),
		cmocka_unit_test_setup_teardown(test_device, setup, teardown),
		cmocka_unit_test(test_dedupe_eviction),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
