/*
 * The route table: every route has a rule naming an action of the role
 * table, and a table with a route without one is refused (serve then
 * refuses to start); matching of paths with parameters, methods (405 and
 * what is allowed), percent-decoding and what it refuses.
 */
#include "cl_test.h"
#include "core/cl_error.h"
#include "serve/cl_route.h"

static int handler(struct cl_req *r)
{
	(void)r;
	return CL_REQ_DONE;
}

static void test_every_route_has_a_rule(void **state)
{
	(void)state;
	assert_int_equal(cl_routes_check(cl_routes), CL_OK);
	for (const struct cl_route *rt = cl_routes; rt->pattern; rt++) {
		assert_true(rt->rule.access == CL_ACCESS_PUBLIC || rt->rule.access == CL_ACCESS_TOKEN);
		if (rt->rule.access == CL_ACCESS_TOKEN)
			assert_true(rt->rule.action >= 0 && rt->rule.action < CL_ACTIONS);
		/* a public route never reads patient data: none takes a body */
		if (rt->rule.access == CL_ACCESS_PUBLIC)
			assert_false(rt->flags & CL_ROUTE_BODY);
	}
}

static void test_route_without_rule_refused(void **state)
{
	const struct cl_route no_rule[] = {
		{ CL_GET, "/healthz", handler, NULL, { CL_ACCESS_PUBLIC, -1 }, 0, NULL, { NULL, NULL }, NULL },
		{ CL_GET, "/api/v1/secret", handler, NULL, { 0, 0 }, 0, NULL, { NULL, NULL }, NULL },
		{ 0, NULL, NULL, NULL, { 0, 0 }, 0, NULL, { NULL, NULL }, NULL },
	};
	const struct cl_route no_action[] = {
		{ CL_GET, "/api/v1/x", handler, NULL, { CL_ACCESS_TOKEN, -1 }, 0, NULL, { NULL, NULL }, NULL },
		{ 0, NULL, NULL, NULL, { 0, 0 }, 0, NULL, { NULL, NULL }, NULL },
	};
	const struct cl_route untyped_body[] = {
		{ CL_POST, "/api/v1/x", handler, NULL, { CL_ACCESS_TOKEN, CL_ACT_INGEST_EVENTS },
		  CL_ROUTE_BODY, NULL, { NULL, NULL }, NULL },
		{ 0, NULL, NULL, NULL, { 0, 0 }, 0, NULL, { NULL, NULL }, NULL },
	};

	const struct cl_route unaudited[] = {
		{ CL_GET, "/api/v1/x/{id}", handler, NULL, { CL_ACCESS_TOKEN, CL_ACT_READ_CLINICAL },
		  0, NULL, { NULL, NULL }, NULL },
		{ 0, NULL, NULL, NULL, { 0, 0 }, 0, NULL, { NULL, NULL }, NULL },
	};

	(void)state;
	assert_int_equal(cl_routes_check(unaudited), CL_EINVAL);
	assert_non_null(strstr(cl_error_detail(), "says nothing for the audit trail"));
	assert_int_equal(cl_routes_check(no_rule), CL_EINVAL);
	assert_non_null(strstr(cl_error_detail(), "GET /api/v1/secret has no authorization rule"));
	assert_int_equal(cl_routes_check(no_action), CL_EINVAL);
	assert_int_equal(cl_routes_check(untyped_body), CL_EINVAL);
}

static void test_matching(void **state)
{
	const struct cl_route *rt;
	struct cl_req r;
	char allow[64];
	const char *p;

	(void)state;
	memset(&r, 0, sizeof(r));
	p = "/api/v1/patients/patient-0001/vitals";
	assert_int_equal(cl_route_find(CL_GET, p, strlen(p), &r, &rt, allow, sizeof(allow)), CL_OK);
	assert_string_equal(rt->pattern, "/api/v1/patients/{id}/vitals");
	assert_string_equal(r.param[0], "patient-0001");
	/* percent-encoded segments are decoded; a slash in one is not a segment */
	p = "/api/v1/patients/p%20one/vitals";
	assert_int_equal(cl_route_find(CL_GET, p, strlen(p), &r, &rt, allow, sizeof(allow)), CL_OK);
	assert_string_equal(r.param[0], "p one");
	p = "/api/v1/patients/a%2Fb/vitals";
	assert_int_equal(cl_route_find(CL_GET, p, strlen(p), &r, &rt, allow, sizeof(allow)), CL_ENOENT);
	p = "/api/v1/patients/%zz/vitals";
	assert_int_equal(cl_route_find(CL_GET, p, strlen(p), &r, &rt, allow, sizeof(allow)), CL_ENOENT);
	p = "/api/v1/patients//vitals";
	assert_int_equal(cl_route_find(CL_GET, p, strlen(p), &r, &rt, allow, sizeof(allow)), CL_ENOENT);
	p = "/api/v1/patients/x%00y/vitals";
	assert_int_equal(cl_route_find(CL_GET, p, strlen(p), &r, &rt, allow, sizeof(allow)), CL_ENOENT);
	/* the right path, the wrong method: what is allowed */
	p = "/api/v1/events";
	assert_int_equal(cl_route_find(CL_GET, p, strlen(p), &r, &rt, allow, sizeof(allow)), CL_EINVAL);
	assert_string_equal(allow, "POST");
	/* no such path */
	p = "/api/v1/eventsX";
	assert_int_equal(cl_route_find(CL_POST, p, strlen(p), &r, &rt, allow, sizeof(allow)), CL_ENOENT);
	assert_true(cl_route_is_fast("/fhir", 5));
	assert_false(cl_route_is_fast("/healthz", 8));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_every_route_has_a_rule),
		cmocka_unit_test(test_route_without_rule_refused),
		cmocka_unit_test(test_matching),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
