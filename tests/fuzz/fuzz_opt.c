/*
 * Fuzz target: the command-line option parser (cli/cl_opt.c), argv made
 * from bytes (words split at NUL), against a table of every kind of
 * option and against every command's own table whose rows only store.
 * Whatever the words, the parse ends in one of its documented results,
 * an error always says what was wrong, the positionals are the input's
 * own words in their order, a stored string is one of the words (or the
 * part after '=' of one), and a stored number lies within its bounds.
 */
#include "fuzz_entry.h"
#include "cli/cl_cli.h"
#include "cli/cl_opt.h"
#include "core/cl_error.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

struct args {
	const char *s;
	int flag;
	uint64_t u, size;
	int64_t d;
	double f;
	int calls;
};

static int call(void *base, const char *arg)
{
	struct args *a = base;

	if (arg[0] == '!')
		return cl_error_set(CL_EINVAL, "call refused '%.20s'", arg);
	a->calls++;
	return CL_OK;
}

static const struct cl_opt table[] = {
	CL_OPT_STRING("s", struct args, s, "S", "a string"),
	CL_OPT_FLAG("flag", struct args, flag, "a flag"),
	CL_OPT_UINT("u", struct args, u, 3, 1000, "N", "a count"),
	CL_OPT_SIZE("size", struct args, size, 1, 1ULL << 30, "SIZE", "a size"),
	CL_OPT_DURATION("d", struct args, d, 1000, 86400ULL * 1000000, "D", "a duration"),
	CL_OPT_NUMBER("f", struct args, f, 0, 1, "F", "a share"),
	CL_OPT_CALL("call", call, "X", "a call"),
	{ "quiet", 'q', CL_OPTK_FLAG, offsetof(struct args, flag), 0, 0, NULL, NULL, "q" },
	{ "help", 'h', CL_OPTK_HELP, 0, 0, 0, NULL, NULL, "help" },
	CL_OPT_END,
};

/* Is p inside one of the words? */
static int in_words(const char *p, char **words, int n)
{
	for (int i = 0; i < n; i++)
		if (p >= words[i] && p <= words[i] + strlen(words[i]))
			return 1;
	return 0;
}

/* Does the table have a row that is not a plain store (CALL, HELP)? */
static int stores_only(const struct cl_opt *opts)
{
	for (const struct cl_opt *o = opts; o->name; o++)
		if (o->kind == CL_OPTK_CALL)
			return 0;
	return 1;
}

static void check(const struct cl_opt *opts, char **words, int n, int own)
{
	char *argv[66];
	union {
		struct args a;
		char bytes[4096];
	} base;
	struct cl_opt_set set = { opts, &base };
	int npos = -1, rc;

	memset(&base, 0, sizeof(base));
	argv[0] = "prog";
	memcpy(argv + 1, words, (size_t)n * sizeof(char *));
	cl_error_clear();
	rc = cl_opt_parse(&set, 1, n + 1, argv, &npos);
	if (npos < 0 || npos > n)
		abort();
	for (int i = 0; i < npos; i++) /* positionals: the words, in order */
		if (!in_words(argv[i], words, n) || (i && argv[i] <= argv[i - 1]))
			abort();
	if (rc < 0 && !*cl_error_detail())
		abort();
	if (rc != CL_OPT_PARSED && rc != CL_OPT_HELP_ASKED && rc != CL_EINVAL && rc != CL_ERANGE)
		abort();
	if (!own || rc != CL_OPT_PARSED)
		return;
	if ((base.a.s && !in_words(base.a.s, words, n)) ||
	    (base.a.u && (base.a.u < 3 || base.a.u > 1000)) ||
	    (base.a.size && base.a.size > 1ULL << 30) ||
	    (base.a.d && (base.a.d < 1000 || base.a.d > 86400LL * 1000000)) ||
	    base.a.f < 0 || base.a.f > 1 || base.a.f != base.a.f)
		abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *buf = malloc(size + 1), *words[64];
	int n = 0;

	if (!buf)
		return 0;
	memcpy(buf, data, size);
	buf[size] = '\0';
	for (char *p = buf; p < buf + size && n < 64; p += strlen(p) + 1)
		words[n++] = p;
	check(table, words, n, 1);
	for (const struct cl_command *c = cl_commands; c->name; c++)
		if (stores_only(c->opts))
			check(c->opts, words, n, 0);
	free(buf);
	return 0;
}
