/*
 * The command-line option parser (cli/cl_opt.c) against known command
 * lines: every kind of argument stored where its row says, --name=value
 * and --name value alike, positionals before, between and after options,
 * "--" and "-", a later option overriding an earlier one, a CALL's own
 * error, --help stopping the parse; and every mistake refused with the
 * sentence a user sees (unknown option, missing argument, a word where a
 * number goes, a number out of bounds, an argument given to a flag).
 * Then --help printed from a table: aligned, continuation lines indented.
 */
#include "cl_test.h"
#include "cli/cl_opt.h"
#include "core/cl_error.h"

struct args {
	const char *name;
	int flag;
	uint64_t count, size;
	int64_t wait;
	double share;
	int calls;
	char last[32];
};

static int remember(void *base, const char *arg)
{
	struct args *a = base;

	if (strcmp(arg, "bad") == 0)
		return cl_error_set(CL_EINVAL, "remember: 'bad' is not allowed");
	a->calls++;
	snprintf(a->last, sizeof(a->last), "%s", arg);
	return CL_OK;
}

static const struct cl_opt table[] = {
	CL_OPT_STRING("name", struct args, name, "NAME", "a name"),
	CL_OPT_FLAG("flag", struct args, flag, "a flag"),
	CL_OPT_UINT("count", struct args, count, 1, 100, "N", "a count\non two lines"),
	CL_OPT_SIZE("size", struct args, size, 1, 1ULL << 30, "S", "a size"),
	CL_OPT_DURATION("wait", struct args, wait, 0, 3600ULL * 1000000, "D", "a wait"),
	CL_OPT_NUMBER("share", struct args, share, 0, 1, "F", "a share"),
	CL_OPT_CALL("remember", remember, "X", "a call"),
	{ "quiet", 'q', CL_OPTK_FLAG, offsetof(struct args, flag), 0, 0, NULL, NULL, "short too" },
	{ "help", 0, CL_OPTK_HELP, 0, 0, 0, NULL, NULL, "this text" },
	CL_OPT_END,
};

/* Parses the NULL-terminated words (after a program name) into *a. */
static int parse(struct args *a, int *npos, char **words)
{
	static char *argv[32];
	struct cl_opt_set set = { table, a };
	int argc = 1;

	argv[0] = "prog";
	while (*words && argc < 31)
		argv[argc++] = *words++;
	argv[argc] = NULL;
	memset(a, 0, sizeof(*a));
	cl_error_clear();
	return cl_opt_parse(&set, 1, argc, argv, npos);
}

#define PARSE(a, n, ...) parse(a, n, (char *[]){ __VA_ARGS__, NULL })

static void test_every_kind_stored(void **state)
{
	struct args a;
	int n;

	(void)state;
	assert_int_equal(PARSE(&a, &n, "--name", "x", "--flag", "--count=7", "--size", "64KiB",
			       "--wait", "90s", "--share", "0.25", "--remember", "r1"),
			 CL_OPT_PARSED);
	assert_int_equal(n, 0);
	assert_string_equal(a.name, "x");
	assert_int_equal(a.flag, 1);
	assert_int_equal(a.count, 7);
	assert_int_equal(a.size, 65536);
	assert_int_equal(a.wait, 90 * 1000000LL);
	assert_true(a.share == 0.25);
	assert_int_equal(a.calls, 1);
	assert_string_equal(a.last, "r1");
}

static void test_positionals_and_order(void **state)
{
	struct args a;
	int n;
	char *argv[] = { "prog", "one", "--count", "3", "two", "-", "--count", "4", "--",
			 "--flag", "-q", NULL };
	struct cl_opt_set set = { table, &a };

	(void)state;
	memset(&a, 0, sizeof(a));
	assert_int_equal(cl_opt_parse(&set, 1, 11, argv, &n), CL_OPT_PARSED);
	assert_int_equal(n, 5);
	assert_string_equal(argv[0], "one");
	assert_string_equal(argv[1], "two");
	assert_string_equal(argv[2], "-");
	assert_string_equal(argv[3], "--flag");
	assert_string_equal(argv[4], "-q");
	assert_int_equal(a.count, 4); /* the later one wins */
	assert_int_equal(a.flag, 0);  /* after "--" it is a positional */
	assert_int_equal(PARSE(&a, &n, "-q"), CL_OPT_PARSED);
	assert_int_equal(a.flag, 1);
	assert_int_equal(PARSE(&a, &n, "--remember", "a", "--remember", "b"), CL_OPT_PARSED);
	assert_int_equal(a.calls, 2);
	assert_string_equal(a.last, "b");
	assert_int_equal(PARSE(&a, &n, "--name="), CL_OPT_PARSED);
	assert_string_equal(a.name, "");
}

static void test_help_stops(void **state)
{
	struct args a;
	int n;

	(void)state;
	assert_int_equal(PARSE(&a, &n, "--count", "2", "--help", "--count", "x"),
			 CL_OPT_HELP_ASKED);
	assert_int_equal(a.count, 2);
}

/* Each mistake and the sentence it gives. */
static void test_mistakes(void **state)
{
	static const struct {
		char *words[4];
		int rc;
		const char *msg;
	} cases[] = {
		{ { "--bogus" }, CL_EINVAL, "unknown option '--bogus'" },
		{ { "--bogus=1" }, CL_EINVAL, "unknown option '--bogus'" },
		{ { "-z" }, CL_EINVAL, "unknown option '-z'" },
		{ { "-qq" }, CL_EINVAL, "unknown option '-qq'" },
		{ { "--count" }, CL_EINVAL, "--count needs a whole number" },
		{ { "--name" }, CL_EINVAL, "--name needs NAME" },
		{ { "--count", "x" }, CL_EINVAL, "--count needs a whole number, got 'x'" },
		{ { "--count", "-5" }, CL_EINVAL, "--count needs a whole number, got '-5'" },
		{ { "--count", "0" }, CL_ERANGE, "--count must be 1 to 100, got '0'" },
		{ { "--count=101" }, CL_ERANGE, "--count must be 1 to 100, got '101'" },
		{ { "--size", "2GiB" }, CL_ERANGE, "--size must be 1 to 1GiB, got '2GiB'" },
		{ { "--size", "big" }, CL_EINVAL, "--size needs a size (such as 64MiB), got 'big'" },
		{ { "--wait", "2h" }, CL_ERANGE, "--wait must be 0 to 1h, got '2h'" },
		{ { "--wait", "soon" }, CL_EINVAL,
		  "--wait needs a duration (such as 90d, 12h or 30s), got 'soon'" },
		{ { "--share", "1.5" }, CL_ERANGE, "--share must be 0 to 1, got '1.5'" },
		{ { "--share", "nan" }, CL_EINVAL, "--share needs a number, got 'nan'" },
		{ { "--share", "0x1" }, CL_EINVAL, "--share needs a number, got '0x1'" },
		{ { "--share", "" }, CL_EINVAL, "--share needs a number, got ''" },
		{ { "--flag=1" }, CL_EINVAL, "--flag takes no argument" },
		{ { "--remember", "bad" }, CL_EINVAL, "remember: 'bad' is not allowed" },
	};
	struct args a;
	int n;

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		int rc = parse(&a, &n, (char **)cases[i].words);

		if (rc != cases[i].rc || strcmp(cl_error_detail(), cases[i].msg) != 0)
			fail_msg("case %zu: got %d '%s', want %d '%s'", i, rc, cl_error_detail(),
				 cases[i].rc, cases[i].msg);
	}
}

static void test_find(void **state)
{
	(void)state;
	assert_ptr_equal(cl_opt_find(table, "count", 5), &table[2]);
	assert_ptr_equal(cl_opt_find(table, "countx", 5), &table[2]);
	assert_null(cl_opt_find(table, "coun", 4));
	assert_null(cl_opt_find(table, "nothing", 7));
}

static void test_help_text(void **state)
{
	char *buf = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&buf, &len);

	(void)state;
	assert_non_null(f);
	cl_opt_print_help(f, table);
	fclose(f);
	assert_non_null(strstr(buf, "  --name NAME       a name\n"));
	assert_non_null(strstr(buf, "  --flag            a flag\n"));
	assert_non_null(strstr(buf, "  --count N         a count\n"
				    "                    on two lines\n"));
	assert_non_null(strstr(buf, "  -q, --quiet       short too\n"));
	assert_non_null(strstr(buf, "  --remember X      a call\n"));
	free(buf);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_every_kind_stored),
		cmocka_unit_test(test_positionals_and_order),
		cmocka_unit_test(test_help_stops),
		cmocka_unit_test(test_mistakes),
		cmocka_unit_test(test_find),
		cmocka_unit_test(test_help_text),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
