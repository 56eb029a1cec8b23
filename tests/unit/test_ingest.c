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

/* FHIR ingest, with room for Bundles of hundreds of entries. */
static int setup_fhir(void **state)
{
	struct cl_blog_options bo;
	struct cl_ingest_options io;

	(void)state;
	cl_log_threshold = CL_LOG_ERROR;
	cl_test_tmpdir(dir, sizeof(dir));
	cl_blog_options_default(&bo);
	assert_int_equal(cl_blog_open(dir, "fhir", &bo, &blog), CL_OK);
	assert_int_equal(cl_dedupe_create(10000, &dd), CL_OK);
	cl_ingest_options_default(&io);
	io.max_events = 1000;
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

/* A heart-rate Observation with the given id, as a Bundle entry's
 * resource; no subject when bad (so it is rejected). */
static size_t obs_entry(char *buf, size_t cap, const char *id, int bad)
{
	return (size_t)snprintf(buf, cap,
				"{\"resource\":{\"resourceType\":\"Observation\",\"id\":\"%s\","
				"\"status\":\"final\",\"code\":{\"coding\":[{\"system\":"
				"\"http://loinc.org\",\"code\":\"8867-4\"}]},%s"
				"\"effectiveDateTime\":\"2026-11-22T06:00:00Z\","
				"\"valueQuantity\":{\"value\":72,\"unit\":\"/min\",\"code\":\"/min\"}},"
				"\"request\":{\"method\":\"POST\",\"url\":\"Observation\"}}",
				id, bad ? "" : "\"subject\":{\"reference\":\"Patient/p1\"},");
}

/* A Bundle of n such entries with ids <prefix><k>; entry `bad` (or none
 * if it is n or more) lacks its subject. Free it. */
static char *bundle_of(const char *type, const char *prefix, uint32_t n, uint32_t bad)
{
	size_t cap = 128 + (size_t)n * 512, len;
	char *b = malloc(cap);

	assert_non_null(b);
	len = (size_t)snprintf(b, cap, "{\"resourceType\":\"Bundle\",\"type\":\"%s\",\"entry\":[",
			       type);
	for (uint32_t k = 0; k < n; k++) {
		char id[32];

		snprintf(id, sizeof(id), "%s%u", prefix, k);
		if (k)
			b[len++] = ',';
		len += obs_entry(b + len, cap - len, id, k == bad);
	}
	snprintf(b + len, cap - len, "]}");
	return b;
}

static int run_fhir(const char *body, int bundle, struct cl_ingest_result *r)
{
	int rc;

	cl_ingest_result_init(r);
	rc = cl_ingest_fhir(ing, body, strlen(body), now(), 0, bundle, r);
	if (rc == CL_OK && r->queued)
		assert_int_equal(cl_blog_wait(blog, &r->last, NULL), CL_OK);
	return rc;
}

/* Every entry's item says what became of it: status, and the id of the
 * Observation it stored. */
static void check_items(const struct cl_ingest_result *r, const char *prefix, uint32_t n,
			uint32_t bad, int status)
{
	assert_int_equal(r->nitems, n);
	for (uint32_t k = 0; k < n; k++) {
		char id[32];

		if (k == bad) {
			assert_int_equal(r->items[k].status, CL_ITEM_REJECTED);
			snprintf(id, sizeof(id), "entry %u:", k);
			assert_non_null(strstr(r->items[k].error, id));
			assert_non_null(strstr(r->items[k].error, "subject is required"));
			continue;
		}
		snprintf(id, sizeof(id), "%s%u", prefix, k);
		if (r->items[k].status != status || strcmp(r->items[k].id, id) != 0)
			fail_msg("entry %u: status %d id '%s', wanted %d '%s'", k, r->items[k].status,
				 r->items[k].id, status, id);
	}
}

/* Bundles of more than 64 entries (items are reallocated every 64): each
 * entry's answer lands on its own item, first as stored, then as a
 * duplicate; batches store their good entries, transactions all or
 * nothing. */
static void test_fhir_large_bundles(void **state)
{
	static const uint32_t sizes[] = { 65, 200 };
	struct cl_ingest_result r;
	uint64_t stored = 0;

	(void)state;
	for (size_t i = 0; i < 2; i++) {
		uint32_t n = sizes[i];
		char prefix[16];
		char *b;

		/* a batch, all good, twice */
		snprintf(prefix, sizeof(prefix), "b%u-", n);
		b = bundle_of("batch", prefix, n, UINT32_MAX);
		assert_int_equal(run_fhir(b, 1, &r), CL_OK);
		assert_int_equal(r.accepted, n);
		check_items(&r, prefix, n, UINT32_MAX, CL_ITEM_ACCEPTED);
		cl_ingest_result_free(&r);
		stored += n;
		assert_int_equal(run_fhir(b, 1, &r), CL_OK);
		assert_int_equal(r.accepted, 0);
		assert_int_equal(r.duplicates, n);
		assert_int_equal(r.queued, 0);
		check_items(&r, prefix, n, UINT32_MAX, CL_ITEM_DUPLICATE);
		cl_ingest_result_free(&r);
		free(b);

		/* a batch with a bad entry past the first 64: the rest stored */
		snprintf(prefix, sizeof(prefix), "c%u-", n);
		b = bundle_of("batch", prefix, n, n - 2);
		assert_int_equal(run_fhir(b, 1, &r), CL_OK);
		assert_int_equal(r.accepted, n - 1);
		assert_int_equal(r.nrejected, 1);
		check_items(&r, prefix, n, n - 2, CL_ITEM_ACCEPTED);
		cl_ingest_result_free(&r);
		stored += n - 1;
		free(b);

		/* a transaction with a bad entry: nothing stored; then without
		 * it: all stored; then again: all duplicates */
		snprintf(prefix, sizeof(prefix), "t%u-", n);
		b = bundle_of("transaction", prefix, n, n - 1);
		assert_int_equal(run_fhir(b, 1, &r), CL_OK);
		assert_int_equal(r.transaction_failed, 1);
		assert_int_equal(r.accepted, 0);
		assert_int_equal(r.queued, 0);
		assert_int_equal(r.items[n - 1].status, CL_ITEM_REJECTED);
		cl_ingest_result_free(&r);
		free(b);
		b = bundle_of("transaction", prefix, n, UINT32_MAX);
		assert_int_equal(run_fhir(b, 1, &r), CL_OK);
		assert_int_equal(r.transaction_failed, 0);
		assert_int_equal(r.accepted, n);
		check_items(&r, prefix, n, UINT32_MAX, CL_ITEM_ACCEPTED);
		cl_ingest_result_free(&r);
		stored += n;
		assert_int_equal(run_fhir(b, 1, &r), CL_OK);
		assert_int_equal(r.duplicates, n);
		check_items(&r, prefix, n, UINT32_MAX, CL_ITEM_DUPLICATE);
		cl_ingest_result_free(&r);
		free(b);
	}
	assert_int_equal(cl_blog_durable_offset(blog), stored);
}

/* A repeated key makes its event ambiguous: refused alone, naming it. */
static void test_repeated_keys(void **state)
{
	struct cl_ingest_result r;

	(void)state;
	assert_int_equal(run("[" EV("r1", "heart_rate", "70", "/min") ","
			     "{\"id\":\"r2\",\"device_id\":\"a\",\"patient_id\":\"p1\","
			     "\"ts\":\"2026-11-22T06:00:00Z\",\"type\":\"heart_rate\",\"value\":1,\"value\":500}]",
			     &r), CL_OK);
	assert_int_equal(r.events, 2);
	assert_int_equal(r.accepted, 1);
	assert_int_equal(r.nrejected, 1);
	assert_int_equal(r.rejected[0].index, 1);
	assert_string_equal(r.rejected[0].error, "the key 'value' appears twice: send each field once");
	cl_ingest_result_free(&r);
	/* NDJSON, nested, and spelled with an escape */
	assert_int_equal(run(EV("r3", "heart_rate", "70", "/min") "\n"
			     "{\"id\":\"r4\",\"device_id\":\"a\",\"patient_id\":\"p1\",\"meta\":{\"fw\":1,\"f\\u0077\":2},"
			     "\"ts\":\"2026-11-22T06:00:00Z\",\"type\":\"heart_rate\",\"value\":70}\n"
			     "{\"id\":\"r5\",\"id\":\"r6\"}\n", &r), CL_OK);
	assert_int_equal(r.accepted, 1);
	assert_int_equal(r.nrejected, 2);
	assert_int_equal(r.rejected[0].index, 1);
	assert_non_null(strstr(r.rejected[0].error, "the key 'meta.fw' appears twice"));
	assert_int_equal(r.rejected[1].index, 2);
	assert_non_null(strstr(r.rejected[1].error, "the key 'id' appears twice"));
	cl_ingest_result_free(&r);
	/* nothing of the refused ones was stored or remembered */
	assert_int_equal(cl_blog_durable_offset(blog), 2);
	assert_int_equal(run("{\"id\":\"r2\",\"device_id\":\"a\",\"patient_id\":\"p1\","
			     "\"ts\":\"2026-11-22T06:00:00Z\",\"type\":\"heart_rate\",\"value\":70,\"unit\":\"/min\"}", &r), CL_OK);
	assert_int_equal(r.accepted, 1);
	cl_ingest_result_free(&r);
}

/* The live FHIR path refuses elements of the wrong type entry by entry,
 * naming them; a Bundle's own elements refuse the whole body. */
static void test_fhir_typed_entries(void **state)
{
	char good[1024], bad[1024];
	char *body = malloc(16384);
	struct cl_ingest_result r;
	size_t n = 0;

	(void)state;
	obs_entry(good, sizeof(good), "g1", 0);
	n += (size_t)sprintf(body + n, "{\"resourceType\":\"Bundle\",\"type\":\"batch\",\"entry\":[%s,", good);
	obs_entry(bad, sizeof(bad), "g2", 0);
	{
		/* the value as a string, as a careless client sends it */
		char *v = strstr(bad, "\"value\":72");

		memmove(v + 14, v + 10, strlen(v + 10) + 1);
		memcpy(v, "\"value\":\"fast\"", 14);
	}
	n += (size_t)sprintf(body + n, "%s,", bad);
	n += (size_t)sprintf(body + n, "{\"resource\":{\"resourceType\":\"Observation\",\"status\":\"final\","
			     "\"code\":{},\"subject\":{\"reference\":\"Patient/p1\"},\"effectiveDateTime\":20261122}},");
	n += (size_t)sprintf(body + n, "{\"resource\":{\"resourceType\":\"Observation\"},\"request\":{\"method\":5}},");
	n += (size_t)sprintf(body + n, "\"Observation/x\",");
	n += (size_t)sprintf(body + n, "{\"fullUrl\":\"urn:uuid:1\",\"fullUrl\":\"urn:uuid:2\",\"resource\":{}}]}");
	assert_int_equal(run_fhir(body, 1, &r), CL_OK);
	assert_int_equal(r.nitems, 6);
	assert_int_equal(r.accepted, 1);
	assert_int_equal(r.nrejected, 5);
	assert_int_equal(r.items[0].status, CL_ITEM_ACCEPTED);
	{
		static const char *const why[][2] = {
			{ "entry 1: Observation.valueQuantity.value must be a number, not a string", "structure" },
			{ "entry 2: Observation.effectiveDateTime must be a string (a FHIR dateTime), not a number", "structure" },
			{ "Bundle.entry[3].request.method must be a string, not a number", "structure" },
			{ "Bundle.entry[4] must be an object, not a string", "structure" },
			{ "Bundle.entry[5].fullUrl appears twice", "structure" },
		};

		for (int k = 0; k < 5; k++) {
			const struct cl_item *it = &r.items[k + 1];

			if (it->status != CL_ITEM_REJECTED || !strstr(it->error, why[k][0]) ||
			    strcmp(it->issue, why[k][1]) != 0)
				fail_msg("entry %d: %d '%s' (%s), wanted '%s'", k + 1, it->status, it->error,
					 it->issue, why[k][0]);
		}
	}
	cl_ingest_result_free(&r);
	/* the Bundle's own type */
	assert_int_equal(run_fhir("{\"resourceType\":\"Bundle\",\"type\":5,\"entry\":[]}", 1, &r), CL_EPARSE);
	assert_non_null(strstr(cl_error_detail(), "Bundle.type must be a string, not a number"));
	cl_ingest_result_free(&r);
	assert_int_equal(run_fhir("{\"resourceType\":\"Bundle\",\"type\":\"batch\",\"type\":\"batch\",\"entry\":[]}",
				  1, &r), CL_EPARSE);
	assert_non_null(strstr(cl_error_detail(), "Bundle.type appears twice"));
	cl_ingest_result_free(&r);
	/* one Observation */
	{
		char *res = strstr(bad, "{\"resourceType\"");
		char *end = strstr(res, ",\"request\"");

		*end = '\0';
		assert_int_equal(run_fhir(res, 0, &r), CL_OK);
		assert_int_equal(r.nrejected, 1);
		assert_int_equal(r.items[0].status, CL_ITEM_REJECTED);
		assert_string_equal(r.items[0].issue, "structure");
		assert_string_equal(r.items[0].error,
				    "Observation.valueQuantity.value must be a number, not a string");
		cl_ingest_result_free(&r);
	}
	assert_int_equal(cl_blog_durable_offset(blog), 1);
	free(body);
}

/* An id reused for a different event is a conflict, not a duplicate: the
 * event is not stored and the rejection says why. The same event sent
 * again, however formatted, is still a duplicate. */
static void test_conflicts(void **state)
{
	struct cl_ingest_result r;

	(void)state;
	assert_int_equal(run(EV("c1", "heart_rate", "70", "/min"), &r), CL_OK);
	assert_int_equal(r.accepted, 1);
	cl_ingest_result_free(&r);
	/* the same event, members in another order, 70.0 */
	assert_int_equal(run(" {\"unit\":\"/min\",\"value\":70.0,\"type\":\"heart_rate\",\"id\":\"c1\","
			     "\"ts\":\"2026-11-22T06:00:00Z\",\"patient_id\":\"p1\",\"device_id\":\"m1\"} ", &r),
			 CL_OK);
	assert_int_equal(r.duplicates, 1);
	assert_int_equal(r.conflicts, 0);
	cl_ingest_result_free(&r);
	/* another value under the same id */
	assert_int_equal(run(EV("c1", "heart_rate", "71", "/min"), &r), CL_OK);
	assert_int_equal(r.accepted, 0);
	assert_int_equal(r.duplicates, 0);
	assert_int_equal(r.conflicts, 1);
	assert_int_equal(r.nrejected, 1);
	assert_int_equal(r.queued, 0);
	assert_int_equal(r.rejected[0].index, 0);
	assert_string_equal(r.rejected[0].error,
			    "id 'c1' was already used for a different event: not stored "
			    "(a new event needs a new id)");
	cl_ingest_result_free(&r);
	/* within one body: stored, repeated, then changed */
	assert_int_equal(run("[" EV("c2", "spo2", "97", "%") "," EV("c2", "spo2", "97", "%") ","
			     EV("c2", "spo2", "90", "%") "]", &r), CL_OK);
	assert_int_equal(r.accepted, 1);
	assert_int_equal(r.duplicates, 1);
	assert_int_equal(r.conflicts, 1);
	assert_int_equal(r.rejected[0].index, 2);
	cl_ingest_result_free(&r);
	/* the first content stays the one remembered */
	assert_int_equal(run(EV("c2", "spo2", "97", "%"), &r), CL_OK);
	assert_int_equal(r.duplicates, 1);
	cl_ingest_result_free(&r);
	assert_int_equal(cl_blog_durable_offset(blog), 2);
	assert_int_equal(atomic_load(&cl_ingest_counters(ing)->rejected), 2);
	/* the idempotency set alone */
	assert_int_equal(cl_dedupe_insert(dd, "z", 1, 1), CL_DEDUPE_NEW);
	assert_int_equal(cl_dedupe_insert(dd, "z", 1, 2), CL_DEDUPE_CONFLICT);
	assert_int_equal(cl_dedupe_insert(dd, "z", 1, 1), CL_DEDUPE_REPEAT);
	assert_int_equal(cl_dedupe_insert(dd, "z", 1, 1ull << 40), CL_DEDUPE_CONFLICT);
}

/* The same for Observations: by their id; a transaction holding a
 * conflict stores nothing. What was stored is recalled after a restart
 * with its content. */
static void test_fhir_conflicts(void **state)
{
	char one[1024], changed[1024], body[4096];
	struct cl_ingest_result r;
	const char *res;

	(void)state;
	obs_entry(one, sizeof(one), "o1", 0);
	res = strstr(one, "{\"resourceType\"");
	*strstr(one, ",\"request\"") = '\0';
	snprintf(changed, sizeof(changed), "%s", res);
	memcpy(strstr(changed, "\"value\":72"), "\"value\":73", 10);
	assert_int_equal(run_fhir(res, 0, &r), CL_OK);
	assert_int_equal(r.items[0].status, CL_ITEM_ACCEPTED);
	cl_ingest_result_free(&r);
	assert_int_equal(run_fhir(res, 0, &r), CL_OK);
	assert_int_equal(r.items[0].status, CL_ITEM_DUPLICATE);
	cl_ingest_result_free(&r);
	assert_int_equal(run_fhir(changed, 0, &r), CL_OK);
	assert_int_equal(r.items[0].status, CL_ITEM_CONFLICT);
	assert_string_equal(r.items[0].issue, "conflict");
	assert_string_equal(r.items[0].error, "Observation/o1 was already stored with a different "
					      "content: not stored (a changed Observation needs a new id)");
	assert_int_equal(r.conflicts, 1);
	assert_int_equal(r.nrejected, 1);
	assert_int_equal(r.queued, 0);
	cl_ingest_result_free(&r);
	/* a batch: the new one stored, the changed one refused */
	{
		char e2[1024];

		obs_entry(e2, sizeof(e2), "o2", 0);
		snprintf(body, sizeof(body), "{\"resourceType\":\"Bundle\",\"type\":\"batch\",\"entry\":["
			 "%s,{\"resource\":%s}]}", e2, changed);
	}
	assert_int_equal(run_fhir(body, 1, &r), CL_OK);
	assert_int_equal(r.accepted, 1);
	assert_int_equal(r.items[0].status, CL_ITEM_ACCEPTED);
	assert_int_equal(r.items[1].status, CL_ITEM_CONFLICT);
	assert_non_null(strstr(r.items[1].error, "entry 1: Observation/o1 was already stored"));
	cl_ingest_result_free(&r);
	/* a transaction with a conflict: nothing stored, nothing remembered */
	{
		char e3[1024];

		obs_entry(e3, sizeof(e3), "o3", 0);
		snprintf(body, sizeof(body), "{\"resourceType\":\"Bundle\",\"type\":\"transaction\",\"entry\":["
			 "%s,{\"resource\":%s}]}", e3, changed);
	}
	assert_int_equal(run_fhir(body, 1, &r), CL_OK);
	assert_int_equal(r.transaction_failed, 1);
	assert_int_equal(r.accepted, 0);
	assert_int_equal(r.queued, 0);
	assert_int_equal(r.items[1].status, CL_ITEM_CONFLICT);
	cl_ingest_result_free(&r);
	assert_int_equal(cl_blog_durable_offset(blog), 2);
	{
		char e3[1024];
		char *o3;

		obs_entry(e3, sizeof(e3), "o3", 0);
		o3 = strstr(e3, "{\"resourceType\"");
		*strstr(e3, ",\"request\"") = '\0';
		assert_int_equal(run_fhir(o3, 0, &r), CL_OK);
		assert_int_equal(r.items[0].status, CL_ITEM_ACCEPTED);
		cl_ingest_result_free(&r);
	}
	/* a restart: a new set, filled from bronze as serve fills it */
	{
		struct cl_dedupe *fresh;
		struct cl_blog_reader *rd;
		struct cl_json_doc doc;
		struct cl_frame f;
		int n = 0;

		assert_int_equal(cl_dedupe_create(100, &fresh), CL_OK);
		cl_json_doc_init(&doc);
		assert_int_equal(cl_blog_reader_open(dir, 0, UINT64_MAX, 1 << 20, &rd), CL_OK);
		while (cl_blog_reader_next(rd, &f) == 1)
			n += cl_ingest_recall(fresh, &doc, (const char *)f.data, f.len, 1);
		cl_blog_reader_close(rd);
		cl_json_doc_free(&doc);
		assert_int_equal(n, 3);
		cl_ingest_destroy(ing);
		cl_dedupe_destroy(dd);
		dd = fresh;
		{
			struct cl_ingest_options io;

			cl_ingest_options_default(&io);
			assert_int_equal(cl_ingest_create(blog, dd, &io, &ing), CL_OK);
		}
		assert_int_equal(run_fhir(res, 0, &r), CL_OK);
		assert_int_equal(r.items[0].status, CL_ITEM_DUPLICATE);
		cl_ingest_result_free(&r);
		assert_int_equal(run_fhir(changed, 0, &r), CL_OK);
		assert_int_equal(r.items[0].status, CL_ITEM_CONFLICT);
		cl_ingest_result_free(&r);
	}
}

static void test_dedupe_eviction(void **state)
{
	struct cl_dedupe *d;
	char id[32];

	(void)state;
	assert_int_equal(cl_dedupe_create(100, &d), CL_OK);
	for (int i = 0; i < 100; i++) {
		int n = snprintf(id, sizeof(id), "id-%d", i);

		assert_int_equal(cl_dedupe_insert(d, id, (size_t)n, 7), CL_DEDUPE_NEW);
	}
	assert_int_equal(cl_dedupe_insert(d, "id-5", 4, 7), CL_DEDUPE_REPEAT);
	assert_int_equal(cl_dedupe_count(d), 100);
	/* 50 more: the oldest 50 are forgotten, the newest remembered */
	for (int i = 100; i < 150; i++) {
		int n = snprintf(id, sizeof(id), "id-%d", i);

		assert_int_equal(cl_dedupe_insert(d, id, (size_t)n, 7), CL_DEDUPE_NEW);
	}
	assert_int_equal(cl_dedupe_count(d), 100);
	/* asking changes nothing: remembered, forgotten */
	assert_int_equal(cl_dedupe_has(d, "id-149", 6), 1);
	assert_int_equal(cl_dedupe_has(d, "id-10", 5), 0);
	assert_int_equal(cl_dedupe_has(d, "id-10", 5), 0);
	assert_int_equal(cl_dedupe_count(d), 100);
	assert_int_equal(cl_dedupe_insert(d, "id-149", 6, 7), CL_DEDUPE_REPEAT);
	assert_int_equal(cl_dedupe_insert(d, "id-60", 5, 7), CL_DEDUPE_REPEAT);
	assert_int_equal(cl_dedupe_insert(d, "id-10", 5, 7), CL_DEDUPE_NEW); /* forgotten: new again */
	/* removals and churn never overfill the table */
	for (int round = 0; round < 20000; round++) {
		int n = snprintf(id, sizeof(id), "x-%d", round);

		assert_int_equal(cl_dedupe_insert(d, id, (size_t)n, 7), CL_DEDUPE_NEW);
		if (round % 3 == 0)
			cl_dedupe_remove(d, id, (size_t)n);
		assert_true(cl_dedupe_count(d) <= 100);
	}
	cl_dedupe_destroy(d);
}

/* The backlog lane (CL_INGEST_BACKLOG): events older than backlog_after
 * go to their own log, the others to the live one; one idempotency set
 * for both; a failed lane gives back only its own ids. */
#define AT(id, ts) \
	"{\"id\":\"" id "\",\"device_id\":\"m1\",\"patient_id\":\"p1\",\"ts\":\"" ts \
	"\",\"type\":\"heart_rate\",\"value\":70,\"unit\":\"/min\"}\n"
#define MIXED AT("o1", "2026-11-22T04:00:00Z") AT("n1", "2026-11-22T05:59:30Z") \
	AT("o2", "2026-11-22T05:00:00Z")

/* two hours old (the backlog's) and a second old (live) */
#define OLD(id) AT(id, "2026-11-22T04:00:00Z")
#define NEW(id) AT(id, "2026-11-22T05:59:59Z")
#define HELD (CL_INGEST_BACKLOG | CL_INGEST_LIVE_HELD)

/* r initialised, then the body ingested at now() */
static int lane_post(struct cl_ingest *lane, const char *body, int flags,
		     struct cl_ingest_result *r)
{
	cl_ingest_result_init(r);
	return cl_ingest_body(lane, body, strlen(body), now(), flags, r);
}

static void test_backlog_lane(void **state)
{
	struct cl_blog_options bo;
	struct cl_ingest_options io;
	struct cl_blog *backlog, *slow;
	struct cl_ingest *lane;
	struct cl_ingest_result r;
	struct cl_blog_ticket t;
	char bdir[300], sdir[300];

	(void)state;
	cl_blog_options_default(&bo);
	snprintf(bdir, sizeof(bdir), "%s/backlog", dir);
	assert_int_equal(cl_blog_open(bdir, "vitals-backlog", &bo, &backlog), CL_OK);
	cl_ingest_options_default(&io);
	io.backlog_after_us = 300ll * 1000000;
	assert_int_equal(cl_ingest_create(blog, dd, &io, &lane), CL_OK);
	cl_ingest_set_backlog(lane, backlog);

	/* two hours and one hour old: the backlog; thirty seconds: live */
	assert_int_equal(lane_post(lane, MIXED, CL_INGEST_BACKLOG, &r), CL_OK);
	assert_int_equal(r.accepted, 3);
	assert_int_equal(r.baccepted, 2);
	assert_true(r.queued && r.bqueued);
	assert_int_equal(cl_blog_wait(blog, &r.last, NULL), CL_OK);
	assert_int_equal(cl_blog_wait(backlog, &r.blast, NULL), CL_OK);
	assert_int_equal(cl_blog_durable_offset(backlog), 2);
	assert_int_equal(cl_blog_durable_offset(blog), 1);
	cl_ingest_result_free(&r);
	/* again: duplicates, whichever lane */
	assert_int_equal(lane_post(lane, MIXED, CL_INGEST_BACKLOG, &r), CL_OK);
	assert_int_equal(r.duplicates, 3);
	assert_false(r.queued || r.bqueued);
	cl_ingest_result_free(&r);
	/* without the flag (MQTT, Kafka) everything goes to the live log */
	assert_int_equal(lane_post(lane, OLD("o3"), 0, &r), CL_OK);
	assert_true(r.queued && !r.bqueued);
	assert_int_equal(r.baccepted, 0);
	assert_int_equal(cl_blog_wait(blog, &r.last, NULL), CL_OK);
	cl_ingest_result_free(&r);
	/* the backlog lane's commit failed, the live one's did not: only the
	 * backlog's ids are forgotten */
	assert_int_equal(lane_post(lane, OLD("o4") NEW("n4"), CL_INGEST_BACKLOG, &r), CL_OK);
	assert_int_equal(cl_blog_wait(blog, &r.last, NULL), CL_OK);
	assert_int_equal(cl_blog_wait(backlog, &r.blast, NULL), CL_OK);
	cl_ingest_forget_lane(lane, &r, 1);
	assert_int_equal(r.accepted, 1);
	cl_ingest_result_free(&r);
	assert_int_equal(cl_ingest_seen(lane, "n4", 2), 1);
	assert_int_equal(cl_ingest_seen(lane, "o4", 2), 0);

	/* live readings held (a bulk body while the stream is behind): a body
	 * with one is not queued at all and its ids are given back, so the
	 * retry stores it whole; a body of old readings only is taken */
	uint64_t live_end = cl_blog_written_offset(blog), lane_end = cl_blog_written_offset(backlog);

	assert_int_equal(lane_post(lane, OLD("o6") NEW("n6"), HELD, &r), CL_EBUSY);
	assert_true(r.held);
	assert_false(r.queued || r.bqueued);
	assert_int_equal(r.accepted, 0);
	cl_ingest_result_free(&r);
	assert_int_equal(cl_ingest_seen(lane, "o6", 2), 0);
	assert_int_equal(cl_ingest_seen(lane, "n6", 2), 0);
	assert_int_equal(cl_blog_written_offset(blog), live_end);
	assert_int_equal(cl_blog_written_offset(backlog), lane_end);
	assert_int_equal(lane_post(lane, OLD("o6"), HELD, &r), CL_OK);
	assert_false(r.held);
	assert_true(r.bqueued && !r.queued);
	assert_int_equal(r.accepted, 1);
	assert_int_equal(cl_blog_wait(backlog, &r.blast, NULL), CL_OK);
	cl_ingest_result_free(&r);
	/* the refused body's live reading, sent again without the hold */
	assert_int_equal(lane_post(lane, NEW("n6"), CL_INGEST_BACKLOG, &r), CL_OK);
	assert_int_equal(r.accepted, 1);
	assert_true(r.queued);
	assert_int_equal(cl_blog_wait(blog, &r.last, NULL), CL_OK);
	cl_ingest_result_free(&r);

	/* a live log that is full: the backlog's part is queued and will be
	 * stored, so its ids stay; the live ones are given back */
	cl_blog_options_default(&bo);
	bo.pending_max_bytes = 64;
	bo.commit_max_wait_us = 3000000;   /* the first record waits to be written */
	bo.commit_max_records = 1000;
	snprintf(sdir, sizeof(sdir), "%s/slow", dir);
	assert_int_equal(cl_blog_open(sdir, "vitals", &bo, &slow), CL_OK);
	cl_ingest_destroy(lane);
	assert_int_equal(cl_ingest_create(slow, dd, &io, &lane), CL_OK);
	cl_ingest_set_backlog(lane, backlog);
	assert_int_equal(cl_blog_submit(slow, "x", 1, CL_BLOG_NOWAIT, &t), CL_OK);
	assert_int_equal(lane_post(lane, OLD("o5") NEW("n5"), CL_INGEST_BACKLOG | CL_BLOG_NOWAIT, &r),
			 CL_EBUSY);
	assert_true(r.bqueued);
	assert_int_equal(cl_blog_wait(backlog, &r.blast, NULL), CL_OK);
	cl_ingest_result_free(&r);
	assert_int_equal(cl_ingest_seen(lane, "o5", 2), 1);
	assert_int_equal(cl_ingest_seen(lane, "n5", 2), 0);
	assert_int_equal(atomic_load(&cl_ingest_counters(lane)->busy), 1);
	assert_int_equal(atomic_load(&cl_ingest_counters(lane)->accepted), 1);
	assert_int_equal(atomic_load(&cl_ingest_counters(lane)->not_stored), 0);
	cl_ingest_destroy(lane);
	cl_blog_close(slow);
	cl_blog_close(backlog);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_shapes, setup, teardown),
		cmocka_unit_test_setup_teardown(test_not_json_and_limits, setup, teardown),
		cmocka_unit_test_setup_teardown(test_duplicates_and_forget, setup, teardown),
		cmocka_unit_test_setup_teardown(test_device, setup, teardown),
		cmocka_unit_test_setup_teardown(test_repeated_keys, setup, teardown),
		cmocka_unit_test_setup_teardown(test_backlog_lane, setup, teardown),
		cmocka_unit_test_setup_teardown(test_fhir_large_bundles, setup_fhir, teardown),
		cmocka_unit_test_setup_teardown(test_fhir_typed_entries, setup_fhir, teardown),
		cmocka_unit_test_setup_teardown(test_conflicts, setup, teardown),
		cmocka_unit_test_setup_teardown(test_fhir_conflicts, setup_fhir, teardown),
		cmocka_unit_test(test_dedupe_eviction),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
