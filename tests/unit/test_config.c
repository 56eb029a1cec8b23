/* The config table: defaults, checked conversions, YAML, errors. */
#include "cl_test.h"
#include "core/cl_config.h"
#include "core/cl_error.h"
#include "core/cl_log.h"
#include "bronze/cl_bronze.h"
#include "lake/cl_lake.h"
#include "stream/cl_rules.h"

#include <string.h>

static int log_level(const struct cl_config *c)
{
	return ((const struct cl_log_settings *)cl_config_get(c, &cl_log_section))->level;
}

static void test_defaults(void **state)
{
	struct cl_config c;

	(void)state;
	assert_int_equal(cl_config_init(&c), 0);
	assert_int_equal(cl_bronze_settings(&c)->commit_max_records, 4096);
	assert_int_equal(cl_bronze_settings(&c)->segment_max_bytes, 64ull << 20);
	assert_int_equal(cl_bronze_settings(&c)->segment_max_age_us, 3600ll * 1000000);
	assert_int_equal(cl_bronze_settings(&c)->commit_max_wait_us, 0);
	assert_int_equal(cl_bronze_settings(&c)->record_max_bytes, 4u << 20);
	assert_int_equal(log_level(&c), 2);
	cl_config_free(&c);
}

static void test_set_and_bounds(void **state)
{
	struct cl_config c;

	(void)state;
	assert_int_equal(cl_config_init(&c), 0);
	assert_int_equal(cl_config_set(&c, "bronze.segment_max_bytes", "8MiB"), CL_OK);
	assert_int_equal(cl_bronze_settings(&c)->segment_max_bytes, 8ull << 20);
	assert_int_equal(cl_config_set(&c, "bronze.commit_max_wait", "2ms"), CL_OK);
	assert_int_equal(cl_bronze_settings(&c)->commit_max_wait_us, 2000);
	assert_int_equal(cl_config_set_pair(&c, "bronze.commit_max_records=64"), CL_OK);
	assert_int_equal(cl_bronze_settings(&c)->commit_max_records, 64);
	assert_int_equal(cl_config_set(&c, "log.level", "debug"), CL_OK);
	assert_int_equal(log_level(&c), 3);

	assert_int_equal(cl_config_set(&c, "bronze.commit_max_records", "0"), CL_ERANGE);
	assert_non_null(strstr(cl_error_detail(), "bronze.commit_max_records"));
	assert_non_null(strstr(cl_error_detail(), "1..1000000"));
	assert_int_equal(cl_config_set(&c, "bronze.commit_max_records", "12x"), CL_EINVAL);
	assert_int_equal(cl_config_set(&c, "bronze.commit_max_records",
				       "99999999999999999999999"), CL_ERANGE);
	assert_int_equal(cl_config_set(&c, "bronze.segment_max_bytes", "1KiB"), CL_ERANGE);
	assert_int_equal(cl_config_set(&c, "bronze.segment_max_bytes", "5 parsecs"), CL_EINVAL);
	assert_non_null(strstr(cl_error_detail(), "unit"));
	assert_int_equal(cl_config_set(&c, "bronze.commit_max_wait", "5"), CL_EINVAL);
	assert_int_equal(cl_config_set(&c, "bronze.commit_max_wait", "2s"), CL_ERANGE);
	assert_int_equal(cl_config_set(&c, "log.level", "loud"), CL_EINVAL);
	assert_int_equal(cl_config_set(&c, "bronze.nope", "1"), CL_ENOENT);
	assert_non_null(strstr(cl_error_detail(), "bronze.nope"));
	assert_int_equal(cl_config_set_pair(&c, "no-equals-sign"), CL_EINVAL);
	/* failed sets leave the old values */
	assert_int_equal(cl_bronze_settings(&c)->commit_max_records, 64);
	assert_int_equal(cl_bronze_settings(&c)->segment_max_bytes, 8ull << 20);
	cl_config_free(&c);
}

static void test_yaml(void **state)
{
	struct cl_config c;
	const char *nested = "log:\n  level: warn\nbronze:\n  commit_max_records: 512\n"
			     "  segment_max_age: 10m\n";
	const char *flat = "bronze.commit_max_bytes: 1MiB\n";

	(void)state;
	assert_int_equal(cl_config_init(&c), 0);
	assert_int_equal(cl_config_load_yaml(&c, nested, strlen(nested), "t.yaml"), CL_OK);
	assert_int_equal(log_level(&c), 1);
	assert_int_equal(cl_bronze_settings(&c)->commit_max_records, 512);
	assert_int_equal(cl_bronze_settings(&c)->segment_max_age_us, 600ll * 1000000);
	assert_int_equal(cl_config_load_yaml(&c, flat, strlen(flat), "t.yaml"), CL_OK);
	assert_int_equal(cl_bronze_settings(&c)->commit_max_bytes, 1u << 20);
	cl_config_free(&c);
}

static void test_yaml_errors(void **state)
{
	struct cl_config c;
	const char *bad_syntax = "bronze:\n  commit_max_records: [1, 2\n";
	const char *unknown = "bronze:\n  colour: blue\n";
	const char *range = "bronze:\n  commit_max_records: 0\n";
	const char *list = "- a\n- b\n";
	const char *seq_value = "bronze:\n  commit_max_records: [1]\n";

	(void)state;
	assert_int_equal(cl_config_init(&c), 0);
	assert_int_equal(cl_config_load_yaml(&c, bad_syntax, strlen(bad_syntax), "a.yaml"),
			 CL_EPARSE);
	assert_non_null(strstr(cl_error_detail(), "a.yaml:"));
	assert_int_equal(cl_config_load_yaml(&c, unknown, strlen(unknown), "b.yaml"), CL_ENOENT);
	assert_non_null(strstr(cl_error_detail(), "bronze.colour"));
	assert_int_equal(cl_config_load_yaml(&c, range, strlen(range), "c.yaml"), CL_ERANGE);
	assert_non_null(strstr(cl_error_detail(), "c.yaml"));
	assert_int_equal(cl_config_load_yaml(&c, list, strlen(list), "d.yaml"), CL_EINVAL);
	assert_int_equal(cl_config_load_yaml(&c, seq_value, strlen(seq_value), "e.yaml"),
			 CL_EINVAL);
	/* invalid UTF-8 is refused with its position (it hung libfyaml) */
	assert_int_equal(cl_config_load_yaml(&c, "%\274i", 3, "f.yaml"), CL_EPARSE);
	assert_non_null(strstr(cl_error_detail(), "not valid UTF-8 at byte 1"));
	assert_int_equal(cl_config_load_file(&c, "/nonexistent/carelake.yaml"), CL_ENOENT);
	assert_non_null(strstr(cl_error_detail(), "/nonexistent/carelake.yaml"));
	cl_config_free(&c);
}

static void test_reference_lists_every_key(void **state)
{
	struct cl_config c;
	char *buf = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&buf, &len);

	(void)state;
	assert_int_equal(cl_config_init(&c), 0);
	cl_config_print(f, &c, 1);
	fclose(f);
	assert_non_null(strstr(buf, "bronze.commit_max_records = 4096"));
	assert_non_null(strstr(buf, "bronze.segment_max_bytes = 64MiB"));
	assert_non_null(strstr(buf, "from 4KiB to 4GiB"));
	assert_non_null(strstr(buf, "log.level = info"));
	free(buf);
	cl_config_free(&c);
}

/* Alert rules: built-in ones tuned, new ones declared, bad ones refused
 * with the reason. */
static void test_alert_rules(void **state)
{
	struct cl_config c;
	struct cl_rule rules[CL_RULES_MAX];
	int n;

	(void)state;
	assert_int_equal(cl_config_init(&c), 0);
	assert_int_equal(cl_config_set(&c, "alerts.tachycardia.raise", "140"), 0);
	assert_int_equal(cl_config_set(&c, "alerts.tachycardia.severity", "critical"), 0);
	assert_int_equal(cl_config_set(&c, "alerts.hypoglycaemia.what", "vital:glucose"), 0);
	assert_int_equal(cl_config_set(&c, "alerts.hypoglycaemia.raise", "< 4"), 0);
	assert_int_equal(cl_config_set(&c, "alerts.hypoglycaemia.clear", ">= 4.5"), 0);
	assert_int_equal(cl_config_set(&c, "alerts.news2_high.what", "news2"), 0);
	assert_int_equal(cl_config_set(&c, "alerts.news2_high.raise", ">= 9"), 0);
	assert_int_equal(cl_config_list(&c, &cl_rules_section, rules, &n, 1), 0);
	for (int i = 0; i < n; i++) {
		const struct cl_rule *r = &rules[i];

		if (strcmp(r->name, "tachycardia") == 0) {
			assert_true(r->raise == 140 && r->raise_op == CL_OP_GT);
			assert_string_equal(r->severity, "critical");
			assert_false(r->declared);
		} else if (strcmp(r->name, "hypoglycaemia") == 0) {
			assert_int_equal(r->what, CL_WHAT_VITAL);
			assert_int_equal(r->vital, CL_VITAL_GLUCOSE);
			assert_true(r->raise_op == CL_OP_LT && r->raise == 4);
			assert_true(r->clear_op == CL_OP_GE && r->clear == 4.5);
			assert_string_equal(r->severity, "warning");
		} else if (strcmp(r->name, "news2_high") == 0) {
			/* no clear given: the opposite of raise */
			assert_true(r->clear_op == CL_OP_LT && r->clear == 9);
			assert_non_null(strstr(r->description, "news2 >= 9"));
		}
	}
	assert_int_equal(n, 16 + 2);

	/* refused, each with its reason */
	assert_int_equal(cl_config_set(&c, "alerts.x.raise", "120"), CL_EINVAL);
	assert_non_null(strstr(cl_error_detail(), "needs an operator"));
	assert_int_equal(cl_config_set(&c, "alerts.y.what", "vital:pulse"), CL_EINVAL);
	assert_non_null(strstr(cl_error_detail(), "unknown vital 'pulse'"));
	assert_int_equal(cl_config_set(&c, "alerts.y.what", "anything"), CL_EINVAL);
	assert_int_equal(cl_config_set(&c, "alerts.tachycardia.severity", "meh"), CL_EINVAL);
	assert_int_equal(cl_config_set(&c, "alerts.tachycardia.colour", "red"), CL_ENOENT);
	assert_int_equal(cl_config_set(&c, "alerts.bad name.what", "news2"), CL_EINVAL);
	assert_int_equal(cl_config_set(&c, "alerts.tachycardia.raise", "> abc"), CL_EINVAL);
	/* declared without .what: refused when the rules are put together */
	assert_int_equal(cl_config_set(&c, "alerts.half.raise", "> 3"), 0);
	assert_int_equal(cl_config_list(&c, &cl_rules_section, rules, &n, 1), CL_EINVAL);
	assert_non_null(strstr(cl_error_detail(), "alerts.half: a new rule needs .what"));
	/* a clear condition that holds where the raise one does */
	cl_config_free(&c);
	assert_int_equal(cl_config_init(&c), 0);
	assert_int_equal(cl_config_set(&c, "alerts.flap.what", "vital:spo2"), 0);
	assert_int_equal(cl_config_set(&c, "alerts.flap.raise", "< 90"), 0);
	assert_int_equal(cl_config_set(&c, "alerts.flap.clear", "< 95"), 0);
	assert_int_equal(cl_config_list(&c, &cl_rules_section, rules, &n, 1), CL_EINVAL);
	assert_non_null(strstr(cl_error_detail(), "holds where the raise"));
	cl_config_free(&c);
}

/* Sections are the modules' own; the configuration holds what is set,
 * not a fixed array; a copy is independent; choices are checked. */
static void test_registry(void **state)
{
	struct cl_config c, d;
	char key[64];

	(void)state;
	assert_true(sizeof(struct cl_config) < 1024);
	for (int i = 0; cl_config_sections[i]; i++)
		for (int j = 0; j < i; j++)
			assert_string_not_equal(cl_config_sections[i]->name, cl_config_sections[j]->name);
	assert_int_equal(cl_config_init(&c), 0);
	/* many named items: more than any fixed array held */
	for (int i = 0; i < 300; i++) {
		snprintf(key, sizeof(key), "alerts.tachycardia.raise");
		assert_int_equal(cl_config_set(&c, key, i % 2 ? "> 130" : "> 140"), 0);
	}
	assert_int_equal(c.nnamed, 300);
	assert_int_equal(cl_config_set(&c, "lake.codec", "snappy"), 0);
	assert_int_equal(cl_config_set(&c, "lake.codec", "gzip"), CL_EINVAL);
	assert_non_null(strstr(cl_error_detail(), "lake.codec must be one of zstd,snappy,none"));
	assert_int_equal(cl_config_set(&c, "refine.references", "ignore"), CL_EINVAL);
	assert_int_equal(cl_config_set(&c, "nosection.key", "1"), CL_ENOENT);
	assert_int_equal(cl_config_copy(&d, &c), 0);
	assert_int_equal(cl_config_set(&c, "lake.codec", "none"), 0);
	assert_string_equal(cl_lake_settings(&d)->codec, "snappy");
	assert_string_equal(cl_lake_settings(&c)->codec, "none");
	assert_int_equal(d.nnamed, 300);
	cl_config_free(&c);
	cl_config_free(&d);
	cl_config_free(&d); /* twice: a no-op */
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_defaults),
		cmocka_unit_test(test_set_and_bounds),
		cmocka_unit_test(test_yaml),
		cmocka_unit_test(test_yaml_errors),
		cmocka_unit_test(test_reference_lists_every_key),
		cmocka_unit_test(test_alert_rules),
		cmocka_unit_test(test_registry),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
