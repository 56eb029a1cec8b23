/* The input plugin interface, driven through in_synthetic as the core
 * would drive any plugin: settings from its table, init, collect, exit. */
#include "cl_test.h"
#include "ingest/cl_input.h"
#include "core/cl_error.h"
#include "core/cl_time.h"
#include "json/cl_json.h"
#include "ingest/cl_event.h"

struct sink {
	int n, busy_after;
	struct cl_json_doc d;
};

static int emit(void *arg, const void *rec, size_t len)
{
	struct sink *s = arg;
	struct cl_event ev;
	struct cl_event_limits lim;

	if (s->busy_after >= 0 && s->n >= s->busy_after)
		return CL_EBUSY;
	cl_event_limits_default(&lim);
	assert_int_equal(cl_json_parse(&s->d, rec, len), 0);
	assert_int_equal(cl_event_parse(&s->d, 0, cl_time_now_us(), &lim, &ev), 0);
	s->n++;
	return CL_OK;
}

static void test_synthetic_plugin(void **state)
{
	const struct cl_input_plugin *p = cl_input_plugin_find("synthetic");
	struct sink s = { .busy_after = -1 };
	int64_t t0 = cl_time_now_us();
	struct cl_config cfg;
	struct cl_input in = { 0 };
	void *st;

	(void)state;
	assert_non_null(p);
	assert_null(cl_input_plugin_find("nope"));
	assert_int_equal(cl_config_init(&cfg), 0);
	assert_int_equal(cl_config_set(&cfg, "synthetic.patients", "4"), 0);
	assert_int_equal(cl_config_set(&cfg, "synthetic.rate", "2400"), 0);
	assert_int_equal(cl_config_set(&cfg, "synthetic.rate", "0"), CL_ERANGE);
	in.p = p;
	in.cfg = &cfg;
	assert_int_equal(p->cb_init(&in, &st), 0);
	in.state = st;
	cl_json_doc_init(&s.d);
	/* a second of events, about 2400 of them, every one a valid event */
	assert_true(p->cb_collect(st, t0, emit, &s) >= 0);
	assert_true(p->cb_collect(st, t0 + 1000000, emit, &s) > 0);
	assert_true(s.n > 2000 && s.n < 2800);
	/* backpressure: what the sink refuses comes again next time */
	s.busy_after = s.n + 10;
	assert_int_equal(p->cb_collect(st, t0 + 2000000, emit, &s), 10);
	s.busy_after = -1;
	assert_true(p->cb_collect(st, t0 + 2000000, emit, &s) > 1000);
	p->cb_exit(&in);
	cl_json_doc_free(&s.d);
	cl_config_free(&cfg);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_synthetic_plugin),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
