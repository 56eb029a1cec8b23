/*
 * Command-line options as data. Each command declares one table of
 * struct cl_opt rows — long name, optional short letter, the kind of
 * argument, where in the command's own argument struct the value goes,
 * bounds, and its help text — and one parser reads argv against it (and
 * against the options every command shares), with one wording for every
 * mistake ("--limit needs a number, got 'x'"). `--help` is printed from
 * the same rows, so an option cannot exist without its help line. The
 * model is curl's src/tool_getparam.c, whose aliases[] table drives both
 * parsing and the manual.
 *
 * Options may come before, between or after the positional arguments;
 * `--` ends the options; `--name=value` and `--name value` are the same.
 */
#ifndef CL_OPT_H
#define CL_OPT_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

/* What an option takes and how its value is stored. */
enum cl_opt_kind {
	CL_OPTK_FLAG,     /* no argument; sets an int to 1 */
	CL_OPTK_STRING,   /* stores the argument itself (a const char *) */
	CL_OPTK_UINT,     /* a whole number in min..max (uint64_t) */
	CL_OPTK_SIZE,     /* a size such as 64MiB, in min..max bytes (uint64_t) */
	CL_OPTK_DURATION, /* a duration such as 90d or 30s, in min..max µs (int64_t) */
	CL_OPTK_NUMBER,   /* a decimal number in min..max (double) */
	CL_OPTK_CALL,     /* the argument is handed to call(base, arg) */
	CL_OPTK_HELP,     /* --help: the parser stops and says so */
};

/* One option of a command. */
struct cl_opt {
	const char *name;       /* long name, without the leading "--" */
	char letter;            /* short form "-x", or 0 for none */
	enum cl_opt_kind kind;
	size_t offset;          /* where the value goes, from the table's base */
	uint64_t min, max;      /* bounds of UINT, SIZE, DURATION (µs) and NUMBER */
	int (*call)(void *base, const char *arg); /* CALL: CL_OK or a CL_E* code
						   * with cl_error_detail() set */
	const char *arg;        /* the argument's name in --help ("N", "DIR") */
	const char *help;       /* what it does; '\n' starts an indented line */
};

/* Rows of a table, in the order they are declared (kind first). */
#define CL_OPT_FLAG(name, type, field, help) \
	{ name, 0, CL_OPTK_FLAG, offsetof(type, field), 0, 0, NULL, NULL, help }
#define CL_OPT_STRING(name, type, field, arg, help) \
	{ name, 0, CL_OPTK_STRING, offsetof(type, field), 0, 0, NULL, arg, help }
#define CL_OPT_UINT(name, type, field, lo, hi, arg, help) \
	{ name, 0, CL_OPTK_UINT, offsetof(type, field), lo, hi, NULL, arg, help }
#define CL_OPT_SIZE(name, type, field, lo, hi, arg, help) \
	{ name, 0, CL_OPTK_SIZE, offsetof(type, field), lo, hi, NULL, arg, help }
#define CL_OPT_DURATION(name, type, field, lo, hi, arg, help) \
	{ name, 0, CL_OPTK_DURATION, offsetof(type, field), lo, hi, NULL, arg, help }
#define CL_OPT_NUMBER(name, type, field, lo, hi, arg, help) \
	{ name, 0, CL_OPTK_NUMBER, offsetof(type, field), lo, hi, NULL, arg, help }
#define CL_OPT_CALL(name, fn, arg, help) \
	{ name, 0, CL_OPTK_CALL, 0, 0, 0, fn, arg, help }
#define CL_OPT_END { NULL, 0, CL_OPTK_FLAG, 0, 0, 0, NULL, NULL, NULL }

/* A table and the struct its offsets point into. */
struct cl_opt_set {
	const struct cl_opt *opts; /* ends with CL_OPT_END */
	void *base;
};

/* What cl_opt_parse found. */
enum {
	CL_OPT_PARSED = 0,  /* every option stored; positionals in argv[0..*npos) */
	CL_OPT_HELP_ASKED = 1, /* --help was given (nothing after it was read) */
};

/*
 * Parses argv[1..argc) against sets[0..nsets) (the first set's rows are
 * looked up first). Values are stored as they are met, so a later option
 * overrides an earlier one. The positional arguments, in order, are moved
 * to argv[0..*npos) (argv[0] is overwritten). Returns CL_OPT_PARSED,
 * CL_OPT_HELP_ASKED, or CL_EINVAL / CL_ERANGE with cl_error_detail() a
 * sentence naming the option and the argument ("--limit needs a whole
 * number, got 'x'"), or a CALL's own code and detail.
 */
int cl_opt_parse(const struct cl_opt_set *sets, size_t nsets, int argc, char **argv,
		 int *npos);

/* Finds the row of a long name (without "--") in a table, or NULL. */
const struct cl_opt *cl_opt_find(const struct cl_opt *opts, const char *name, size_t len);

/* Writes the "options:" lines of a table to out, one option per entry,
 * help aligned in one column, continuation lines indented to it. */
void cl_opt_print_help(FILE *out, const struct cl_opt *opts);

#endif
