/*
 * Windows: each kind on hand-checked input; aggregates and percentiles;
 * the watermark and lateness; out-of-order input within the lateness gives
 * exactly what sorted input gives; late events counted, not added, and
 * the closed windows they belong to named for correction; windows
 * computed from stored values (cl_window_calc) on hand-checked input.
 */
#include "cl_test.h"
#include "core/cl_error.h"
#include "stream/cl_window.h"
#include "stream/cl_window_calc.h"

#include <limits.h>

#define S 1000000ll

struct got {
	char key[16];
	int64_t start, end;
	struct cl_agg_summary s;
};

static struct got got[10000];
static int ngot;

static void collect(void *arg, const struct cl_window_out *w)
{
	(void)arg;
	assert_true(ngot < 10000);
	snprintf(got[ngot].key, sizeof(got[0].key), "%.*s", (int)w->key_len, (const char *)w->key);
	got[ngot].start = w->start_us;
	got[ngot].end = w->end_us;
	cl_agg_summarise(w->agg, &got[ngot].s);
	ngot++;
}

static struct cl_window_op *make(enum cl_window_kind kind, int64_t size, int64_t hop, int64_t gap)
{
	struct cl_window_spec spec = { .kind = kind, .size_us = size, .hop_us = hop, .gap_us = gap };
	struct cl_window_op *op;

	snprintf(spec.name, sizeof(spec.name), "t");
	ngot = 0;
	assert_int_equal(cl_window_op_create(&spec, collect, NULL, &op), 0);
	return op;
}

static void add(struct cl_window_op *op, const char *key, int64_t ts, double v)
{
	assert_int_equal(cl_window_add(op, key, strlen(key), ts, v, 1.0, 0), 0);
}

static const struct got *find(const char *key, int64_t start)
{
	for (int i = 0; i < ngot; i++)
		if (strcmp(got[i].key, key) == 0 && got[i].start == start)
			return &got[i];
	fail_msg("no window %s@%lld", key, (long long)start);
	return NULL;
}

static void test_agg(void **state)
{
	struct cl_agg a, b, c;
	struct cl_agg_summary s;

	(void)state;
	cl_agg_init(&a, 1.0);
	for (int v = 1; v <= 100; v++)
		cl_agg_add(&a, v);
	cl_agg_summarise(&a, &s);
	assert_int_equal(s.count, 100);
	assert_true(s.min == 1 && s.max == 100);
	assert_true(fabs(s.mean - 50.5) < 1e-9);
	assert_true(fabs(s.stddev - 29.011491975882016) < 1e-9);
	assert_true(s.p50 == 50 && s.p90 == 90 && s.p99 == 99);
	/* merging two halves equals adding all */
	cl_agg_init(&b, 1.0);
	cl_agg_init(&c, 1.0);
	for (int v = 1; v <= 100; v++)
		cl_agg_add(v <= 37 ? &b : &c, v);
	cl_agg_merge(&b, &c);
	cl_agg_summarise(&b, &s);
	assert_int_equal(s.count, 100);
	assert_true(fabs(s.mean - 50.5) < 1e-9);
	assert_true(fabs(s.stddev - 29.011491975882016) < 1e-9);
	assert_true(s.p90 == 90);
	/* one value: no spread */
	cl_agg_reset(&c);
	cl_agg_add(&c, 37.2);
	cl_agg_summarise(&c, &s);
	assert_true(s.stddev == 0 && s.p50 == 37);
	/* a finer resolution keeps decimals */
	cl_agg_free(&c);
	cl_agg_init(&c, 0.1);
	cl_agg_add(&c, 37.2);
	cl_agg_add(&c, 38.4);
	assert_true(fabs(cl_agg_percentile(&c, 0.99) - 38.4) < 1e-9);
	cl_agg_free(&a);
	cl_agg_free(&b);
	cl_agg_free(&c);
}

static void test_tumbling(void **state)
{
	struct cl_window_op *op = make(CL_WIN_TUMBLING, 60 * S, 0, 0);

	(void)state;
	add(op, "p1", 5 * S, 70);
	add(op, "p1", 59 * S, 80);
	add(op, "p1", 60 * S, 90);   /* the next minute */
	add(op, "p2", 30 * S, 100);
	assert_int_equal(cl_window_open(op), 3);
	cl_window_advance(op, 59 * S);
	assert_int_equal(ngot, 0);    /* [0,60) ends at 60 */
	cl_window_advance(op, 60 * S);
	assert_int_equal(ngot, 2);
	assert_int_equal(find("p1", 0)->s.count, 2);
	assert_true(find("p1", 0)->s.mean == 75);
	assert_int_equal(find("p1", 0)->end, 60 * S);
	assert_int_equal(find("p2", 0)->s.count, 1);
	/* a late event for the closed minute is counted and left out */
	assert_int_equal(cl_window_add(op, "p1", 2, 10 * S, 55, 1, 0), 1);
	assert_int_equal(cl_window_late(op), 1);
	assert_int_equal(cl_window_min_offset(op, 0), 0); /* p1's minute 1 came from 0 */
	assert_true(cl_window_min_offset(op, 1) == UINT64_MAX);
	/* values from the second and third logs: each log's offsets are kept
	 * apart */
	assert_int_equal(cl_window_add(op, "p2", 2, 130 * S, 101, 1, CL_WINDOW_TAG(1, 7)), 0);
	assert_int_equal(cl_window_add(op, "p2", 2, 131 * S, 102, 1, CL_WINDOW_TAG(2, 3)), 0);
	assert_int_equal(cl_window_min_offset(op, 1), 7);
	assert_int_equal(cl_window_min_offset(op, 2), 3);
	assert_int_equal(cl_window_min_offset(op, 0), 0);
	cl_window_advance(op, 120 * S);
	assert_int_equal(ngot, 3);
	assert_true(find("p1", 60 * S)->s.max == 90);
	assert_true(cl_window_min_offset(op, 0) == UINT64_MAX);
	assert_int_equal(cl_window_min_offset(op, 1), 7);
	assert_int_equal(cl_window_min_offset(op, 2), 3);
	cl_window_advance(op, 180 * S);
	assert_true(cl_window_min_offset(op, 1) == UINT64_MAX);
	assert_true(cl_window_min_offset(op, 2) == UINT64_MAX);
	assert_int_equal(cl_window_open(op), 0);
	cl_window_op_destroy(op);
}

static void test_hopping(void **state)
{
	struct cl_window_op *op = make(CL_WIN_HOPPING, 10 * S, 5 * S, 0);

	(void)state;
	add(op, "k", 7 * S, 1);    /* in [0,10) and [5,15) */
	add(op, "k", 12 * S, 2);   /* in [5,15) and [10,20) */
	cl_window_advance(op, 100 * S);
	assert_int_equal(ngot, 3);
	assert_int_equal(find("k", 0)->s.count, 1);
	assert_int_equal(find("k", 5 * S)->s.count, 2);
	assert_int_equal(find("k", 10 * S)->s.count, 1);
	assert_int_equal(find("k", 10 * S)->end, 20 * S);
	cl_window_op_destroy(op);
}

static void test_sliding(void **state)
{
	struct cl_window_op *op = make(CL_WIN_SLIDING, 10 * S, 0, 0);

	(void)state;
	add(op, "k", 1 * S, 1);
	add(op, "k", 5 * S, 5);
	add(op, "k", 5 * S, 6);    /* same time: one window */
	add(op, "k", 12 * S, 12);
	cl_window_advance(op, 100 * S);
	assert_int_equal(ngot, 3);
	/* windows end at each event time t and cover (t-10s, t] */
	assert_int_equal(find("k", 1 * S - 10 * S)->s.count, 1);
	assert_int_equal(find("k", 5 * S - 10 * S)->s.count, 3);
	assert_int_equal(find("k", 12 * S - 10 * S)->s.count, 3); /* 5, 6, 12 */
	assert_true(find("k", 2 * S)->s.min == 5);
	assert_int_equal(cl_window_add(op, "k", 1, 50 * S, 1, 1, 0), 1); /* behind the watermark */
	cl_window_op_destroy(op);
}

static void test_session(void **state)
{
	struct cl_window_op *op = make(CL_WIN_SESSION, 0, 0, 5 * S);

	(void)state;
	add(op, "k", 0, 1);
	add(op, "k", 3 * S, 2);
	add(op, "k", 20 * S, 3);
	add(op, "k", 10 * S, 4);   /* separate: 7 s after the first session */
	add(op, "k", 7 * S, 5);    /* bridges 3 s and 10 s: one session 0..10 */
	cl_window_advance(op, 14 * S);
	assert_int_equal(ngot, 0);  /* 10 s + gap = 15 s */
	cl_window_advance(op, 15 * S);
	assert_int_equal(ngot, 1);
	assert_int_equal(find("k", 0)->s.count, 4);
	assert_int_equal(find("k", 0)->end, 15 * S);
	cl_window_advance(op, 25 * S);
	assert_int_equal(ngot, 2);
	assert_int_equal(find("k", 20 * S)->s.count, 1);
	assert_int_equal(cl_window_add(op, "k", 1, 1 * S, 1, 1, 0), 1); /* late */
	cl_window_op_destroy(op);
}

static int cmp_got(const void *a, const void *b)
{
	const struct got *x = a, *y = b;
	int c = strcmp(x->key, y->key);

	if (c)
		return c;
	if (x->start != y->start)
		return x->start < y->start ? -1 : 1;
	return x->end < y->end ? -1 : x->end > y->end;
}

/*
 * The same events sorted, and shuffled by less than the lateness, with
 * the watermark at (latest time seen - lateness): identical windows.
 */
static void test_out_of_order_equals_sorted(void **state)
{
	enum { N = 2000 };
	const int64_t lateness = 30 * S;
	static int64_t ts[N], order[N];
	static double val[N];
	static struct got sorted[10000];
	int nsorted;

	(void)state;
	srand(7);
	for (int i = 0; i < N; i++) {
		ts[i] = (int64_t)i * 2 * S + rand() % S; /* increasing */
		val[i] = 60 + rand() % 60;
	}
	for (int kind = CL_WIN_TUMBLING; kind <= CL_WIN_SESSION; kind++) {
		for (int pass = 0; pass < 2; pass++) {
			struct cl_window_op *op = make((enum cl_window_kind)kind, 60 * S, 20 * S, 3 * S);
			int64_t max_ts = INT64_MIN;

			for (int i = 0; i < N; i++)
				order[i] = i;
			if (pass == 1) {
				/* each event arrives up to 20 s after its time:
				 * sort by that arrival time */
				static int64_t arrival[N];

				for (int i = 0; i < N; i++)
					arrival[i] = ts[i] + rand() % (20 * S);
				for (int i = 1; i < N; i++)
					for (int j = i; j > 0 && arrival[order[j - 1]] > arrival[order[j]]; j--) {
						int64_t t = order[j];

						order[j] = order[j - 1];
						order[j - 1] = t;
					}
			}
			for (int i = 0; i < N; i++) {
				int64_t e = order[i];
				char key[8];

				snprintf(key, sizeof(key), "k%d", (int)(e % 3));
				if (cl_window_add(op, key, 2, ts[e], val[e], 1.0, (uint64_t)e) != 0)
					fail_msg("kind %d pass %d: event %lld at %lld late (max %lld)", kind, pass,
						 (long long)e, (long long)ts[e], (long long)max_ts);
				if (ts[e] > max_ts)
					max_ts = ts[e];
				cl_window_advance(op, max_ts - lateness);
			}
			cl_window_advance(op, INT64_MAX);
			assert_int_equal(cl_window_late(op), 0);
			qsort(got, (size_t)ngot, sizeof(got[0]), cmp_got);
			if (pass == 0) {
				memcpy(sorted, got, sizeof(got[0]) * (size_t)ngot);
				nsorted = ngot;
				assert_true(nsorted > 10);
			} else {
				assert_int_equal(ngot, nsorted);
				for (int i = 0; i < ngot; i++) {
					assert_string_equal(got[i].key, sorted[i].key);
					assert_int_equal(got[i].start, sorted[i].start);
					assert_int_equal(got[i].end, sorted[i].end);
					assert_int_equal(got[i].s.count, sorted[i].s.count);
					assert_true(fabs(got[i].s.mean - sorted[i].s.mean) < 1e-9);
					assert_true(got[i].s.p90 == sorted[i].s.p90);
					assert_true(got[i].s.min == sorted[i].s.min);
				}
			}
			cl_window_op_destroy(op);
		}
	}
}

static void test_bad_specs(void **state)
{
	struct cl_window_spec s = { .name = "x", .kind = CL_WIN_HOPPING, .size_us = 10, .hop_us = 20 };

	(void)state;
	assert_int_equal(cl_window_spec_check(&s), CL_EINVAL);
	s.kind = CL_WIN_SESSION;
	s.gap_us = 0;
	assert_int_equal(cl_window_spec_check(&s), CL_EINVAL);
	s.kind = CL_WIN_TUMBLING;
	s.size_us = 0;
	assert_int_equal(cl_window_spec_check(&s), CL_EINVAL);
}

static void test_late_spans(void **state)
{
	struct cl_window_op *op;
	int64_t lo, hi;

	(void)state;
	/* tumbling: the closed minute of a late event, none for an open one */
	op = make(CL_WIN_TUMBLING, 60 * S, 0, 0);
	assert_int_equal(cl_window_late_span(op, 10 * S, 0, &lo, &hi), 0); /* no watermark yet */
	add(op, "p1", 5 * S, 70);
	cl_window_advance(op, 125 * S);
	assert_int_equal(cl_window_add(op, "p1", 2, 10 * S, 55, 1, 0), 1);
	assert_int_equal(cl_window_late_span(op, 10 * S, 1, &lo, &hi), 1);
	assert_true(lo == 0 && hi == 0);
	assert_int_equal(cl_window_late_span(op, 61 * S, 1, &lo, &hi), 1);
	assert_true(lo == 60 * S && hi == 60 * S);
	assert_int_equal(cl_window_late_span(op, 121 * S, 0, &lo, &hi), 0); /* [120,180) open */
	cl_window_op_destroy(op);
	/* hopping 60/20 at watermark 100: an event at 70 is in [20,80), [40,100),
	 * [60,120); the first two have closed */
	op = make(CL_WIN_HOPPING, 60 * S, 20 * S, 0);
	add(op, "p1", 5 * S, 70);
	cl_window_advance(op, 100 * S);
	assert_int_equal(cl_window_late_span(op, 70 * S, 0, &lo, &hi), 1);
	assert_true(lo == 20 * S && hi == 40 * S);
	cl_window_op_destroy(op);
	/* sliding 30: a late event at 50 with the watermark at 65 changes the
	 * windows ending at 50..65; and still counts in those to come */
	op = make(CL_WIN_SLIDING, 30 * S, 0, 0);
	add(op, "p1", 40 * S, 1);
	add(op, "p1", 70 * S, 2);
	cl_window_advance(op, 65 * S);
	assert_int_equal(ngot, 1);
	assert_int_equal(cl_window_add(op, "p1", 2, 50 * S, 4, 1, 0), 1);
	assert_int_equal(cl_window_late_span(op, 50 * S, 1, &lo, &hi), 1);
	assert_true(lo == 50 * S && hi == 65 * S);
	cl_window_advance(op, 100 * S);
	assert_int_equal(ngot, 2); /* at 70, not at 50 (the caller's) */
	assert_int_equal(find("p1", 40 * S)->s.count, 2); /* (40,70]: 50 and 70 */
	assert_true(find("p1", 40 * S)->s.max == 4);
	/* a new patient whose first reading is past every window it could be
	 * in: counted late, holds nothing, and the next advance passes it */
	assert_int_equal(cl_window_add(op, "p2", 2, 10 * S, 4, 1, 0), 1);
	cl_window_advance(op, 130 * S);
	assert_int_equal(ngot, 2);
	cl_window_op_destroy(op);
	/* sessions: only a late one is named */
	op = make(CL_WIN_SESSION, 0, 0, 10 * S);
	add(op, "p1", 5 * S, 1);
	cl_window_advance(op, 100 * S);
	assert_int_equal(cl_window_add(op, "p1", 2, 50 * S, 4, 1, 0), 1);
	assert_int_equal(cl_window_late_span(op, 50 * S, 1, &lo, &hi), 1);
	assert_true(lo == 50 * S && hi == 50 * S);
	assert_int_equal(cl_window_late_span(op, 150 * S, 0, &lo, &hi), 0);
	cl_window_op_destroy(op);
}

static int on_calc(void *arg, int64_t start, int64_t end, const struct cl_agg *agg)
{
	struct cl_window_out w = { .key = "k", .key_len = 1, .start_us = start, .end_us = end,
				   .agg = agg };

	collect(arg, &w);
	return 0;
}

static void test_calc(void **state)
{
	const struct cl_point p[] = { { 5 * S, 1 }, { 25 * S, 2 }, { 25 * S, 3 }, { 70 * S, 4 },
				      { 200 * S, 5 } };
	struct cl_window_spec tum = { .kind = CL_WIN_TUMBLING, .size_us = 60 * S };
	struct cl_window_spec hop = { .kind = CL_WIN_HOPPING, .size_us = 60 * S, .hop_us = 20 * S };
	struct cl_window_spec sl = { .kind = CL_WIN_SLIDING, .size_us = 30 * S };
	struct cl_window_spec ses = { .kind = CL_WIN_SESSION, .gap_us = 50 * S };
	struct cl_agg_summary a = { .count = 3, .mean = 2, .stddev = 1, .p50 = 2 }, b = a;
	int64_t from, to;

	(void)state;
	ngot = 0;
	assert_int_equal(cl_window_calc(&tum, p, 5, 1, 0, 180 * S, on_calc, NULL), 0);
	assert_int_equal(ngot, 3);   /* [0,60): 3 values, [60,120): 1, [180,240): 1 */
	assert_int_equal(got[0].s.count, 3);
	assert_true(got[0].s.mean == 2 && got[0].end == 60 * S);
	assert_true(got[1].start == 60 * S && got[2].start == 180 * S);
	ngot = 0;
	/* starts -40..40 by 20 hold 5 and 25; 20..60 hold 70 (not 0) */
	assert_int_equal(cl_window_calc(&hop, p, 5, 1, 0, 60 * S, on_calc, NULL), 0);
	assert_int_equal(ngot, 4);
	assert_true(got[0].start == 0 && got[0].s.count == 3);
	assert_true(got[1].start == 20 * S && got[1].s.count == 3);
	assert_true(got[2].start == 40 * S && got[2].s.count == 1);
	assert_true(got[3].start == 60 * S && got[3].s.count == 1);
	cl_window_calc_needs(&hop, 0, 60 * S, &from, &to);
	assert_true(from == 0 && to == 120 * S);
	ngot = 0;
	/* one window per distinct time (25 once, with both of its values) */
	assert_int_equal(cl_window_calc(&sl, p, 5, 1, 20 * S, 70 * S, on_calc, NULL), 0);
	assert_int_equal(ngot, 2);
	assert_true(got[0].end == 25 * S && got[0].s.count == 3);
	assert_true(got[1].end == 70 * S && got[1].s.count == 1 && got[1].start == 40 * S);
	cl_window_calc_needs(&sl, 20 * S, 70 * S, &from, &to);
	assert_true(from == -10 * S + 1 && to == 70 * S + 1);
	ngot = 0;
	/* sessions of gap 50: 5..70 and 200 */
	assert_int_equal(cl_window_calc(&ses, p, 5, 1, 0, 300 * S, on_calc, NULL), 0);
	assert_int_equal(ngot, 2);
	assert_true(got[0].start == 5 * S && got[0].end == 120 * S && got[0].s.count == 4);
	assert_true(got[1].start == 200 * S && got[1].end == 250 * S);
	/* summaries of the same values in another order */
	b.mean = 2 + 1e-14;
	assert_true(cl_window_same(&a, &b));
	b.p50 = 3;
	assert_false(cl_window_same(&a, &b));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_agg),
		cmocka_unit_test(test_tumbling),
		cmocka_unit_test(test_hopping),
		cmocka_unit_test(test_sliding),
		cmocka_unit_test(test_session),
		cmocka_unit_test(test_out_of_order_equals_sorted),
		cmocka_unit_test(test_bad_specs),
		cmocka_unit_test(test_late_spans),
		cmocka_unit_test(test_calc),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
