/*
 * The command-line option parser and --help printer. See cl_opt.h.
 */
#include "cl_opt.h"
#include "core/cl_config.h"
#include "core/cl_error.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

const struct cl_opt *cl_opt_find(const struct cl_opt *opts, const char *name, size_t len)
{
	for (const struct cl_opt *o = opts; o->name; o++)
		if (strlen(o->name) == len && memcmp(o->name, name, len) == 0)
			return o;
	return NULL;
}

/* The row of "--name" or "-x" in any set, with the set it belongs to. */
static const struct cl_opt *lookup(const struct cl_opt_set *sets, size_t nsets,
				   const char *name, size_t len, char letter, void **base)
{
	for (size_t i = 0; i < nsets; i++)
		for (const struct cl_opt *o = sets[i].opts; o->name; o++)
			if (letter ? o->letter == letter
				   : strlen(o->name) == len && memcmp(o->name, name, len) == 0) {
				*base = sets[i].base;
				return o;
			}
	return NULL;
}

/* "a whole number", "a size", ... for the messages. */
static const char *kind_noun(enum cl_opt_kind k)
{
	switch (k) {
	case CL_OPTK_UINT: return "a whole number";
	case CL_OPTK_SIZE: return "a size (such as 64MiB)";
	case CL_OPTK_DURATION: return "a duration (such as 90d, 12h or 30s)";
	case CL_OPTK_NUMBER: return "a number";
	default: return "an argument";
	}
}

/* The bounds of a numeric option, as the user writes them. */
static void bounds(const struct cl_opt *o, char *lo, char *hi, size_t cap)
{
	if (o->kind == CL_OPTK_SIZE) {
		cl_config_format(CL_CFG_SIZE, (int64_t)o->min, lo, cap);
		cl_config_format(CL_CFG_SIZE, (int64_t)o->max, hi, cap);
	} else if (o->kind == CL_OPTK_DURATION) {
		cl_config_format(CL_CFG_DURATION, (int64_t)o->min, lo, cap);
		cl_config_format(CL_CFG_DURATION, (int64_t)o->max, hi, cap);
	} else {
		snprintf(lo, cap, "%llu", (unsigned long long)o->min);
		snprintf(hi, cap, "%llu", (unsigned long long)o->max);
	}
}

/* Parses a decimal number (no hex, no inf or nan). */
static int parse_number(const char *s, double *out)
{
	char *end;

	if (!*s || strpbrk(s, "xXiInN"))
		return CL_EINVAL;
	*out = strtod(s, &end);
	return *end || !isfinite(*out) ? CL_EINVAL : CL_OK;
}

/* Converts and stores the argument of a numeric option. */
static int store_number(const struct cl_opt *o, char *dst, const char *arg)
{
	char lo[32], hi[32];
	uint64_t u;
	int64_t d;
	double f;
	int rc;

	switch (o->kind) {
	case CL_OPTK_UINT:
		rc = cl_parse_u64(arg, o->min, o->max, &u);
		if (rc == CL_OK)
			memcpy(dst, &u, sizeof(u));
		break;
	case CL_OPTK_SIZE:
		rc = cl_parse_size(arg, o->min, o->max, &u);
		if (rc == CL_OK)
			memcpy(dst, &u, sizeof(u));
		break;
	case CL_OPTK_DURATION:
		rc = cl_parse_duration_us(arg, (int64_t)o->min, (int64_t)o->max, &d);
		if (rc == CL_OK)
			memcpy(dst, &d, sizeof(d));
		break;
	default:
		rc = parse_number(arg, &f);
		if (rc == CL_OK && (f < (double)o->min || f > (double)o->max))
			rc = CL_ERANGE;
		if (rc == CL_OK)
			memcpy(dst, &f, sizeof(f));
		break;
	}
	if (rc == CL_OK)
		return CL_OK;
	bounds(o, lo, hi, sizeof(lo));
	if (rc == CL_ERANGE)
		return cl_error_set(CL_ERANGE, "--%s must be %s to %s, got '%.40s'", o->name, lo,
				    hi, arg);
	return cl_error_set(CL_EINVAL, "--%s needs %s, got '%.40s'", o->name,
			    kind_noun(o->kind), arg);
}

/* Stores one option's value (arg is NULL for a flag). */
static int store(const struct cl_opt *o, void *base, const char *arg)
{
	char *dst = (char *)base + o->offset;

	switch (o->kind) {
	case CL_OPTK_FLAG:
		*(int *)(void *)dst = 1;
		return CL_OK;
	case CL_OPTK_STRING:
		*(const char **)(void *)dst = arg;
		return CL_OK;
	case CL_OPTK_CALL:
		return o->call(base, arg);
	case CL_OPTK_HELP:
		return CL_OPT_HELP_ASKED;
	default:
		return store_number(o, dst, arg);
	}
}

/* Reads the option at argv[*i] (and its argument), advancing *i. */
static int one_option(const struct cl_opt_set *sets, size_t nsets, int argc, char **argv,
		      int *i)
{
	const char *a = argv[*i], *name, *eq, *arg = NULL;
	const struct cl_opt *o;
	void *base = NULL;
	size_t len;

	if (a[1] == '-') {
		name = a + 2;
		eq = strchr(name, '=');
		len = eq ? (size_t)(eq - name) : strlen(name);
		o = lookup(sets, nsets, name, len, 0, &base);
		if (!o)
			return cl_error_set(CL_EINVAL, "unknown option '--%.*s'",
					    (int)(len > 60 ? 60 : len), name);
		if (eq)
			arg = eq + 1;
	} else {
		if (a[2])
			return cl_error_set(CL_EINVAL, "unknown option '%.60s'", a);
		o = lookup(sets, nsets, NULL, 0, a[1], &base);
		if (!o)
			return cl_error_set(CL_EINVAL, "unknown option '%.60s'", a);
	}
	if (o->kind == CL_OPTK_FLAG || o->kind == CL_OPTK_HELP) {
		if (arg)
			return cl_error_set(CL_EINVAL, "--%s takes no argument", o->name);
		return store(o, base, NULL);
	}
	if (!arg) {
		if (*i + 1 >= argc)
			return cl_error_set(CL_EINVAL, "--%s needs %s", o->name,
					    o->kind != CL_OPTK_STRING && o->kind != CL_OPTK_CALL
						    ? kind_noun(o->kind) : o->arg ? o->arg
						    : "an argument");
		arg = argv[++*i];
	}
	return store(o, base, arg);
}

int cl_opt_parse(const struct cl_opt_set *sets, size_t nsets, int argc, char **argv,
		 int *npos)
{
	int n = 0, rc, i;

	for (i = 1; i < argc; i++) {
		const char *a = argv[i];

		if (strcmp(a, "--") == 0) {
			for (i++; i < argc; i++)
				argv[n++] = argv[i];
			break;
		}
		if (a[0] != '-' || a[1] == '\0') { /* a positional, or "-" for stdin */
			argv[n++] = argv[i];
			continue;
		}
		rc = one_option(sets, nsets, argc, argv, &i);
		if (rc != CL_OK) {
			*npos = n;
			return rc;
		}
	}
	*npos = n;
	return CL_OPT_PARSED;
}

/* "--name ARG" as the left column of --help. */
static int left_column(const struct cl_opt *o, char *buf, size_t cap)
{
	if (o->letter)
		return snprintf(buf, cap, "-%c, --%s%s%s", o->letter, o->name, o->arg ? " " : "",
				o->arg ? o->arg : "");
	return snprintf(buf, cap, "--%s%s%s", o->name, o->arg ? " " : "", o->arg ? o->arg : "");
}

void cl_opt_print_help(FILE *out, const struct cl_opt *opts)
{
	enum { COLUMN = 18 };
	char left[128];

	for (const struct cl_opt *o = opts; o->name; o++) {
		int w = left_column(o, left, sizeof(left));
		int pad = w < COLUMN ? COLUMN - w : 1;
		const char *h = o->help ? o->help : "";

		fprintf(out, "  %s%*s", left, pad, "");
		for (const char *nl; (nl = strchr(h, '\n')); h = nl + 1)
			fprintf(out, "%.*s\n  %*s", (int)(nl - h), h, w + pad, "");
		fprintf(out, "%s\n", h);
	}
}
