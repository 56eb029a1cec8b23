/* The zero-copy JSON parser: structure, values, escapes, every error. */
#include "cl_test.h"
#include "core/cl_error.h"
#include "json/cl_json.h"

static struct cl_json_doc d;

static int parse(const char *s)
{
	return cl_json_parse(&d, s, strlen(s));
}

static void test_structure(void **state)
{
	const char *s = " {\"a\": [1, 2.5, -3e2, true, false, null], \"b\": {\"c\": \"x\"}, \"d\": []} ";
	int a, b, c;
	double v;
	int64_t iv;

	(void)state;
	assert_int_equal(parse(s), CL_OK);
	assert_int_equal(d.toks[0].type, CL_JSON_OBJECT);
	assert_int_equal(d.toks[0].size, 3);
	assert_int_equal(d.toks[0].next, d.count);
	a = cl_json_get(&d, 0, "a");
	assert_true(a > 0);
	assert_int_equal(d.toks[a].type, CL_JSON_ARRAY);
	assert_int_equal(d.toks[a].size, 6);
	/* walk the array's elements with next */
	{
		uint32_t e = (uint32_t)a + 1;
		int types[6] = { CL_JSON_NUMBER, CL_JSON_NUMBER, CL_JSON_NUMBER,
				 CL_JSON_TRUE, CL_JSON_FALSE, CL_JSON_NULL };

		for (int k = 0; k < 6; k++) {
			assert_int_equal(d.toks[e].type, types[k]);
			e = d.toks[e].next;
		}
		assert_int_equal(e, d.toks[a].next);
	}
	assert_int_equal(cl_json_int64(&d, (uint32_t)a + 1, &iv), CL_OK);
	assert_int_equal(iv, 1);
	assert_int_equal(cl_json_double(&d, (uint32_t)a + 2, &v), CL_OK);
	assert_true(v == 2.5);
	assert_int_equal(cl_json_int64(&d, (uint32_t)a + 2, &iv), CL_EINVAL);
	assert_int_equal(cl_json_double(&d, (uint32_t)a + 3, &v), CL_OK);
	assert_true(v == -300.0);
	b = cl_json_get(&d, 0, "b");
	c = cl_json_get(&d, (uint32_t)b, "c");
	assert_true(cl_json_str_eq(&d, (uint32_t)c, "x"));
	assert_int_equal(cl_json_get(&d, 0, "zzz"), -1);
	assert_int_equal(cl_json_get(&d, (uint32_t)a, "a"), -1); /* not an object */
	assert_int_equal(d.toks[cl_json_get(&d, 0, "d")].size, 0);
}

static void test_strings_and_escapes(void **state)
{
	char buf[64];
	int v;

	(void)state;
	assert_int_equal(parse("{\"k\\u0065y\": \"a\\n\\\"b\\\\ \\u00b0C \\ud83d\\ude00 \\/\"}"), CL_OK);
	v = cl_json_get(&d, 0, "key"); /* escaped key */
	assert_true(v > 0);
	assert_true(d.toks[v].escaped);
	assert_int_equal(cl_json_str(&d, (uint32_t)v, buf, sizeof(buf)), 16);
	assert_string_equal(buf, "a\n\"b\\ \xc2\xb0" "C \xf0\x9f\x98\x80 /");
	assert_int_equal(cl_json_str(&d, (uint32_t)v, buf, 5), -1); /* too small */
	/* duplicate keys: the last wins, as in jansson */
	assert_int_equal(parse("{\"a\":1,\"a\":2}"), CL_OK);
	{
		int64_t x;

		assert_int_equal(cl_json_int64(&d, (uint32_t)cl_json_get(&d, 0, "a"), &x), CL_OK);
		assert_int_equal(x, 2);
	}
	/* raw UTF-8 is fine */
	assert_int_equal(parse("\"37 \xc2\xb0" "C\""), CL_OK);
}

static void test_scalars_and_limits(void **state)
{
	int64_t x;

	(void)state;
	assert_int_equal(parse("0"), CL_OK);
	assert_int_equal(parse("-0"), CL_OK);
	assert_int_equal(parse("  null  "), CL_OK);
	assert_int_equal(parse("9223372036854775807"), CL_OK);
	assert_int_equal(cl_json_int64(&d, 0, &x), CL_OK);
	assert_true(x == INT64_MAX);
	assert_int_equal(parse("-9223372036854775808"), CL_OK);
	assert_int_equal(cl_json_int64(&d, 0, &x), CL_OK);
	assert_true(x == INT64_MIN);
	assert_int_equal(parse("9223372036854775808"), CL_EPARSE);
	assert_non_null(strstr(d.err, "64 bits"));
	assert_int_equal(parse("1e400"), CL_EPARSE);
	assert_int_equal(parse("1e-400"), CL_OK); /* underflow to 0 is fine */
	{
		char deep[200];

		memset(deep, '[', 65);
		memset(deep + 65, ']', 65);
		deep[130] = '\0';
		assert_int_equal(parse(deep), CL_EPARSE);
		assert_non_null(strstr(d.err, "deeper"));
		deep[64] = ']';
		deep[129] = '\0';
		memmove(deep + 64, deep + 65, 64);
		deep[128] = '\0';
		assert_int_equal(parse(deep), CL_OK); /* 64 levels exactly */
	}
	d.max_tokens = 3;
	assert_int_equal(parse("[1,2,3,4]"), CL_ETOOBIG);
	d.max_tokens = 1u << 22;
}

static void test_errors(void **state)
{
	static const struct { const char *in; const char *msg; } cases[] = {
		{ "", "no JSON value" },
		{ "   ", "no JSON value" },
		{ "{", "ends early" },
		{ "[1,", "ends early" },
		{ "{\"a\" 1}", "expected ':'" },
		{ "{\"a\":1,}", "expected an object key" },
		{ "{a:1}", "expected an object key" },
		{ "[1 2]", "expected ',' or ']'" },
		{ "{\"a\":1]", "expected ',' or '}'" },
		{ "[1,]", "where a value was expected" },
		{ "01", "leading zeros" },
		{ "1.", "decimal point" },
		{ "1e", "exponent" },
		{ "-", "needs digits" },
		{ "tru", "expected true" },
		{ "nul", "expected null" },
		{ "\"abc", "not closed" },
		{ "\"a\tb\"", "control character" },
		{ "\"\\x\"", "invalid escape" },
		{ "\"\\u12\"", "4 hex digits" },
		{ "\"\\u0000\"", "\\u0000" },
		{ "\"\\udc00\"", "lone low surrogate" },
		{ "\"\\ud800x\"", "without its low half" },
		{ "\"\xff\"", "invalid UTF-8" },
		{ "\"\xc0\xaf\"", "invalid UTF-8" },
		{ "\"\xed\xa0\x80\"", "invalid UTF-8" },
		{ "{} {}", "after the JSON value" },
		{ "1 2", "after the JSON value" },
		{ "NaN", "where a value was expected" },
	};

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		int rc = parse(cases[i].in);

		if (rc != CL_EPARSE || !strstr(d.err, cases[i].msg))
			fail_msg("input %zu '%s': rc %d, err '%s', wanted '%s'", i,
				 cases[i].in, rc, d.err, cases[i].msg);
		assert_non_null(strstr(d.err, "at byte"));
	}
	/* the position points at the problem */
	assert_int_equal(parse("{\"a\": 1, \"b\": tru}"), CL_EPARSE);
	assert_int_equal(d.err_pos, 14);
	/* a NUL byte inside the text is not JSON */
	assert_int_equal(cl_json_parse(&d, "\"a\0b\"", 5), CL_EPARSE);
}

/* The name of the member a key token names, from the root. */
static const char *path_of(int tok)
{
	static char buf[200];

	assert_true(tok >= 0);
	cl_json_path(&d, 0, (uint32_t)tok, buf, sizeof(buf));
	return buf;
}

/* The repeated key of the object at 0, by its name, or NULL. */
static const char *repeat_of(const char *s)
{
	static char name[64];
	int k;

	assert_int_equal(parse(s), CL_OK);
	k = cl_json_repeated_key(&d, 0, d.count);
	if (k < 0)
		return NULL;
	assert_true(cl_json_str(&d, (uint32_t)k, name, sizeof(name)) >= 0);
	return name;
}

static void test_repeated_keys(void **state)
{
	int k;

	(void)state;
	/* none; keys of one length, first and last byte are not the same key */
	assert_null(repeat_of("{\"device_id\":\"a\",\"value\":1,\"abc\":2,\"axc\":3}"));
	assert_null(repeat_of("{\"\":1,\"a\":{\"\":2}}"));
	assert_null(repeat_of("[{\"a\":1},{\"a\":1}]"));
	/* the second "value"; the object still parses, the last one wins */
	assert_int_equal(parse("{\"device_id\":\"a\",\"value\":1,\"value\":500}"), CL_OK);
	k = cl_json_repeated_key(&d, 0, d.toks[0].next);
	assert_int_equal(k, 5);
	assert_true(cl_json_str_eq(&d, (uint32_t)k, "value"));
	assert_string_equal(path_of(k), "value");
	assert_int_equal(d.toks[cl_json_get(&d, 0, "value")].len, 3);
	/* escapes resolved, either way round; empty keys; three of a kind */
	assert_string_equal(repeat_of("{\"a\":1,\"\\u0061\":2}"), "a");
	assert_string_equal(repeat_of("{\"\\u0061\":1,\"a\":2}"), "a");
	assert_string_equal(repeat_of("{\"ab\":1,\"a\\u0062\":2,\"a\\u0063\":3}"), "ab");
	assert_string_equal(repeat_of("{\"\":1,\"\":2}"), "");
	assert_int_equal(parse("{\"a\":1,\"a\":2,\"a\":3}"), CL_OK);
	assert_int_equal(cl_json_repeated_key(&d, 0, d.count), 3);
	/* nested: found in its subtree only, and its place named */
	assert_int_equal(parse("{\"x\":{\"y\":[1,{\"k\":1,\"k\":2}]},\"z\":{\"k\":1}}"), CL_OK);
	k = cl_json_repeated_key(&d, 0, d.count);
	assert_string_equal(path_of(k), "x.y[1].k");
	{
		int z = cl_json_get(&d, 0, "z"), x = cl_json_get(&d, 0, "x");

		assert_int_equal(cl_json_repeated_key(&d, (uint32_t)z, d.toks[z].next), -1);
		assert_int_equal(cl_json_repeated_key(&d, (uint32_t)x, d.toks[x].next), k);
		/* [from, to) names the objects looked at: the root alone */
		assert_int_equal(cl_json_repeated_key(&d, 0, 1), -1);
		assert_string_equal(path_of(z), "z");
		assert_string_equal(path_of(0), "");
	}
}

/* Objects past the filter: their keys are sorted by hash. */
static void test_repeated_keys_large(void **state)
{
	size_t cap = 64 * 1024, n = 0, base;
	char *big = malloc(cap);
	char name[200];
	int k;

	(void)state;
	assert_non_null(big);
	n += (size_t)snprintf(big + n, cap - n, "{");
	for (int i = 0; i < 1000; i++)
		n += (size_t)snprintf(big + n, cap - n, "%s\"k%d\":%d", i ? "," : "", i, i);
	n += (size_t)snprintf(big + n, cap - n, "}");
	assert_int_equal(cl_json_parse(&d, big, n), CL_OK);
	assert_int_equal(cl_json_repeated_key(&d, 0, d.count), -1);
	base = n - 1;
	/* k7 again, spelled with an escape */
	n = base + (size_t)snprintf(big + base, cap - base, ",\"k\\u0037\":2,\"k1000\":3}");
	assert_int_equal(cl_json_parse(&d, big, n), CL_OK);
	assert_int_equal(d.toks[0].size, 1002);
	k = cl_json_repeated_key(&d, 0, d.count);
	assert_true(cl_json_str_eq(&d, (uint32_t)k, "k7"));
	/* k500 before it: the first repeat is named */
	n = base + (size_t)snprintf(big + base, cap - base, ",\"k500\":1,\"k\\u0037\":2}");
	assert_int_equal(cl_json_parse(&d, big, n), CL_OK);
	k = cl_json_repeated_key(&d, 0, d.count);
	assert_true(cl_json_str_eq(&d, (uint32_t)k, "k500"));
	assert_int_equal(k, 2001);
	/* a long key is cut in messages, and unprintable bytes shown as '?' */
	assert_int_equal(parse("{\"aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\":{\"b\\nc\":1}}"), CL_OK);
	cl_json_path(&d, 0, d.count - 1, name, sizeof(name));
	assert_string_equal(name, "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa....b?c");
	cl_json_path(&d, 0, d.count - 1, name, 8);
	assert_string_equal(name, "aaaaaaa");
	free(big);
}

static uint64_t hash_of(const char *s)
{
	assert_int_equal(parse(s), CL_OK);
	return cl_json_hash(&d, 0);
}

/* Equal values hash alike, however written; any other difference shows. */
static void test_value_hash(void **state)
{
	static const char *const same[][2] = {
		{ "{\"a\":1,\"b\":[true,null,\"x\"]}", " { \"b\" : [ true , null , \"x\" ] , \"a\" : 1 } " },
		{ "80", "80.0" }, { "80", "8e1" }, { "80", "800e-1" }, { "-0", "0" }, { "0", "-0.0" },
		{ "1.5", "15e-1" }, { "1e300", "1E+300" },
		{ "\"A\\u00e9\\/\"", "\"A\xc3\xa9/\"" }, { "{\"\\u0061\":1}", "{\"a\":1}" },
		{ "\"\\ud83d\\ude00\"", "\"\xf0\x9f\x98\x80\"" },
		{ "\"a long string of more than eight bytes\"", "\"a long string of more than eight byte\\u0073\"" },
		{ "{\"id\":\"e1\",\"value\":72,\"unit\":\"/min\"}", "{\"unit\":\"/min\",\"id\":\"e1\",\"value\":72.0}" },
	};
	static const char *const differ[][2] = {
		{ "{\"id\":\"e1\",\"value\":72}", "{\"id\":\"e1\",\"value\":73}" },
		{ "{\"a\":1,\"b\":2}", "{\"a\":2,\"b\":1}" }, { "{\"a\":1}", "{\"b\":1}" },
		{ "{\"a\":1}", "{\"a\":1,\"b\":1}" }, { "[1,2]", "[2,1]" }, { "[1,2]", "[1,2,2]" },
		{ "[\"ab\",\"c\"]", "[\"a\",\"bc\"]" }, { "\"1\"", "1" }, { "null", "false" },
		{ "true", "false" }, { "[]", "{}" }, { "[]", "[[]]" }, { "1", "1.5" }, { "0", "0.5" },
		{ "9007199254740993", "9007199254740992" }, { "\"\"", "null" },
		{ "{\"x\":{\"y\":1}}", "{\"x\":{\"y\":\"1\"}}" },
		{ "\"abcdefghi\"", "\"abcdefgh\"" }, { "{\"a\":[1]}", "{\"a\":1}" },
	};

	(void)state;
	for (size_t i = 0; i < sizeof(same) / sizeof(same[0]); i++) {
		uint64_t a = hash_of(same[i][0]), b = hash_of(same[i][1]);

		if (a != b)
			fail_msg("same %zu: %s and %s hash apart", i, same[i][0], same[i][1]);
	}
	for (size_t i = 0; i < sizeof(differ) / sizeof(differ[0]); i++) {
		uint64_t a = hash_of(differ[i][0]);

		if (a == hash_of(differ[i][1]))
			fail_msg("differ %zu: %s and %s hash alike", i, differ[i][0], differ[i][1]);
	}
	/* a subtree hashes as the same value alone */
	{
		uint64_t whole = hash_of("{\"id\":\"e1\",\"value\":72}");

		assert_int_equal(parse("[0,{\"value\":72,\"id\":\"e1\"}]"), CL_OK);
		assert_true(cl_json_hash(&d, 2) == whole);
	}
}

static int setup(void **state)
{
	(void)state;
	cl_json_doc_init(&d);
	return 0;
}

static int teardown(void **state)
{
	(void)state;
	cl_json_doc_free(&d);
	return 0;
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_structure),
		cmocka_unit_test(test_strings_and_escapes),
		cmocka_unit_test(test_scalars_and_limits),
		cmocka_unit_test(test_errors),
		cmocka_unit_test(test_repeated_keys),
		cmocka_unit_test(test_repeated_keys_large),
		cmocka_unit_test(test_value_hash),
	};
	return cmocka_run_group_tests(tests, setup, teardown);
}
