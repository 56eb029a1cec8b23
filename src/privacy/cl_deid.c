/*
 * The de-identification rules on one value: keyed pseudonyms, the date
 * shift of a person, dates moved or kept to their year, the age cap on a
 * birth date, ZIP codes to their 3-digit area; and the deid.* settings.
 * See cl_deid.h.
 *
 * Pseudonyms and offsets are HMAC-SHA256 (libsodium) of "<whose>\0<id>"
 * under two keys of the keys directory, so an id of one space never gives
 * the pseudonym of another, and without the keys neither can be undone
 * or recomputed from a list of candidate ids.
 */
#include "cl_deid.h"
#include "auth/cl_keys.h"
#include "core/cl_error.h"
#include "core/cl_mem.h"
#include "core/cl_time.h"
#include "lake/cl_lake.h"

#include <ctype.h>
#include <errno.h>
#include <limits.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define F(field) offsetof(struct cl_deid_settings, field)

static const struct cl_config_entry deid_entries[] = {
	{ "year_only_dates", CL_CFG_U32, "0", 0, 1, F(year_only_dates),
	  "1: every date and time of a de-identified export keeps only its year (Safe Harbor's "
	  "strict form); 0: dates move by a secret number of days per person, so intervals survive",
	  NULL },
	{ "date_shift_days", CL_CFG_U32, "365", 1, 3650, F(date_shift_days),
	  "most days a person's dates move, earlier or later, in a de-identified export", NULL },
	{ "zip3_keep", CL_CFG_STRING, "", 0, 0, F(zip3_keep),
	  "3-digit ZIP areas of more than 20,000 people, by ',' (\"010,011\"): a ZIP code in one "
	  "keeps those 3 digits, any other becomes 000 (carelake ships no list: empty, every ZIP "
	  "is 000)", NULL },
	{ "zip3_file", CL_CFG_STRING, "", 0, 0, F(zip3_file),
	  "a file of more such 3-digit ZIP areas, separated by spaces, commas or lines", NULL },
};

const struct cl_config_section cl_deid_section = {
	.name = "deid",
	.entries = deid_entries,
	.nentries = sizeof(deid_entries) / sizeof(deid_entries[0]),
	.size = sizeof(struct cl_deid_settings),
};

const struct cl_deid_settings *cl_deid_settings(const struct cl_config *c)
{
	return cl_config_get(c, &cl_deid_section);
}

struct cl_deid {
	unsigned char pseudonym_key[32];
	unsigned char shift_key[32];
	int year_only;
	uint32_t shift_max;
	int64_t now_us;
	unsigned char zip3[1000];   /* 1: the area keeps its digits */
};

/* Adds the 3-digit areas of `text` (separated by spaces, ',' or lines);
 * `from` names where they came from for the message. */
static int add_zip3(struct cl_deid *d, const char *text, const char *from)
{
	const char *p = text;

	for (;;) {
		size_t n;
		while (*p == ',' || isspace((unsigned char)*p))
			p++;
		if (!*p)
			return 0;
		n = strcspn(p, ", \t\r\n");
		if (n != 3 || !isdigit((unsigned char)p[0]) || !isdigit((unsigned char)p[1]) ||
		    !isdigit((unsigned char)p[2]))
			return cl_error_set(CL_EINVAL, "%s: '%.*s' is not a 3-digit ZIP area (like 021)",
					    from, (int)(n > 20 ? 20 : n), p);
		d->zip3[(p[0] - '0') * 100 + (p[1] - '0') * 10 + (p[2] - '0')] = 1;
		p += n;
	}
}

/* Adds the areas listed in the file `path`. */
static int add_zip3_file(struct cl_deid *d, const char *path)
{
	FILE *f = fopen(path, "r");
	char *text;
	long n;
	int rc;

	if (!f)
		return cl_error_set(CL_EIO, "deid.zip3_file: cannot open %s: %s", path,
				    strerror(errno));
	if (fseek(f, 0, SEEK_END) != 0 || (n = ftell(f)) < 0 || n > (1 << 20) ||
	    fseek(f, 0, SEEK_SET) != 0) {
		fclose(f);
		return cl_error_set(CL_EINVAL, "deid.zip3_file: %s is not a file of up to 1 MiB", path);
	}
	text = cl_malloc((size_t)n + 1);
	if (!text) {
		fclose(f);
		return cl_error_set(CL_ENOMEM, "no memory to read deid.zip3_file");
	}
	if (fread(text, 1, (size_t)n, f) != (size_t)n) {
		fclose(f);
		cl_free(text);
		return cl_error_set(CL_EIO, "deid.zip3_file: cannot read %s", path);
	}
	fclose(f);
	text[n] = '\0';
	rc = add_zip3(d, text, "deid.zip3_file");
	cl_free(text);
	return rc;
}

int cl_deid_open(const char *keys_dir, const struct cl_deid_settings *s, int64_t now_us,
		 struct cl_deid **out)
{
	struct cl_deid *d;
	int rc;

	*out = NULL;
	if (sodium_init() < 0)
		return cl_error_set(CL_EIO, "libsodium did not start");
	d = cl_calloc(1, sizeof(*d));
	if (!d)
		return cl_error_set(CL_ENOMEM, "no memory for the de-identifier");
	d->year_only = s->year_only_dates != 0;
	d->shift_max = s->date_shift_days ? s->date_shift_days : 1;
	d->now_us = now_us;
	rc = add_zip3(d, s->zip3_keep, "deid.zip3_keep");
	if (rc == 0 && s->zip3_file[0])
		rc = add_zip3_file(d, s->zip3_file);
	if (rc == 0)
		rc = cl_keys_secret(keys_dir, "pseudonym", d->pseudonym_key, sizeof(d->pseudonym_key));
	if (rc == 0)
		rc = cl_keys_secret(keys_dir, "date-shift", d->shift_key, sizeof(d->shift_key));
	if (rc) {
		cl_deid_close(d);
		return rc;
	}
	*out = d;
	return 0;
}

void cl_deid_close(struct cl_deid *d)
{
	if (!d)
		return;
	sodium_memzero(d, sizeof(*d));
	cl_free(d);
}

int cl_deid_year_only(const struct cl_deid *d)
{
	return d->year_only;
}

/* HMAC-SHA256 of "<whose>\0<id>" under key. */
static void mac(const unsigned char key[32], const char *whose, const char *id, size_t n,
		unsigned char out[32])
{
	crypto_auth_hmacsha256_state st;

	crypto_auth_hmacsha256_init(&st, key, 32);
	crypto_auth_hmacsha256_update(&st, (const unsigned char *)whose, strlen(whose) + 1);
	crypto_auth_hmacsha256_update(&st, (const unsigned char *)id, n);
	crypto_auth_hmacsha256_final(&st, out);
	sodium_memzero(&st, sizeof(st));
}

void cl_deid_pseudonym(const struct cl_deid *d, const char *whose, const char *id, size_t n,
		       char out[CL_DEID_PSEUDONYM_LEN + 1])
{
	unsigned char h[32];

	mac(d->pseudonym_key, whose, id, n, h);
	sodium_bin2hex(out, CL_DEID_PSEUDONYM_LEN + 1, h, CL_DEID_PSEUDONYM_LEN / 2);
}

int64_t cl_deid_shift_days(const struct cl_deid *d, const char *whose, const char *id, size_t n)
{
	unsigned char h[32];
	uint64_t v = 0;

	mac(d->shift_key, whose, id, n, h);
	for (int i = 0; i < 8; i++)
		v = v << 8 | h[i];
	/* 1..max days, earlier or later by the top bit */
	int64_t days = 1 + (int64_t)((v & 0x7fffffffffffffffull) % d->shift_max);
	return (v >> 63) ? -days : days;
}

/* How precise a date is as written. */
enum precision { P_YEAR, P_MONTH, P_DAY, P_INSTANT, P_INSTANT_MS };

/* Parses a date as silver keeps it: its instant and precision. */
static int parse_date(const char *s, size_t n, int64_t *us, enum precision *p)
{
	if (n == 4)
		*p = P_YEAR;
	else if (n == 7)
		*p = P_MONTH;
	else if (n == 10)
		*p = P_DAY;
	else
		*p = memchr(s, '.', n) ? P_INSTANT_MS : P_INSTANT;
	if (cl_lake_parse_instant(s, n, us) != 0)
		return cl_error_set(CL_EINVAL, "not a date or RFC 3339 date-time");
	return 0;
}

/* Writes the instant at precision p (or its year when year_only). */
static int write_date(const struct cl_deid *d, int64_t us, enum precision p, char *out,
		      size_t cap)
{
	char buf[40];

	cl_time_format_rfc3339(us, buf, sizeof(buf), p == P_INSTANT_MS ? 3 : 0);
	if (d->year_only || p == P_YEAR)
		buf[4] = '\0';
	else if (p == P_MONTH)
		buf[7] = '\0';
	else if (p == P_DAY)
		buf[10] = '\0';
	if (buf[0] == '-' || strlen(buf) >= cap)
		return cl_error_set(CL_EINVAL, "the date moves outside the years 0000-9999");
	memcpy(out, buf, strlen(buf) + 1);
	return 0;
}

int cl_deid_date(const struct cl_deid *d, const char *in, size_t n, int64_t days, char *out,
		 size_t cap)
{
	enum precision p;
	int64_t us;
	int rc = parse_date(in, n, &us, &p);

	if (rc)
		return rc;
	/* the year alone is allowed as it is: moved, a year would say nothing */
	return write_date(d, d->year_only ? us : us + days * 86400 * 1000000ll, p, out, cap);
}

/* The civil date of an instant. */
static void civil(int64_t us, int *y, int *m, int *dd)
{
	char buf[40];

	cl_time_format_rfc3339(us, buf, sizeof(buf), 0);
	*y = atoi(buf);
	*m = atoi(buf + 5);
	*dd = atoi(buf + 8);
}

int cl_deid_birth_date(const struct cl_deid *d, const char *birth, size_t n, const char *death,
		       size_t dn, int64_t days, char *out, size_t cap)
{
	int64_t born, at = d->now_us;
	enum precision p;
	int by, bm, bd, ay, am, ad, rc;

	if ((rc = parse_date(birth, n, &born, &p)))
		return rc;
	if (death && dn) {
		enum precision dp;
		if ((rc = parse_date(death, dn, &at, &dp)))
			return rc;
	}
	civil(born, &by, &bm, &bd);
	civil(at, &ay, &am, &ad);
	int age = ay - by - (am < bm || (am == bm && ad < bd));
	if (age >= CL_DEID_AGE_CAP) {
		/* 90 years before that day (28 February for a 29th) */
		char buf[48];
		if (am == 2 && ad == 29)
			ad = 28;
		snprintf(buf, sizeof(buf), "%04d-%02d-%02d", ay - CL_DEID_AGE_CAP, am, ad);
		if ((rc = cl_lake_parse_instant(buf, strlen(buf), &born)))
			return cl_error_set(CL_EINVAL, "no birth date 90 years before that");
		/* as precise as the birth date was given */
		if (p == P_INSTANT || p == P_INSTANT_MS)
			p = P_DAY;
	}
	return write_date(d, d->year_only ? born : born + days * 86400 * 1000000ll, p, out, cap);
}

void cl_deid_zip(const struct cl_deid *d, const char *zip, size_t n, char out[4])
{
	memcpy(out, "000", 4);
	if (n >= 3 && isdigit((unsigned char)zip[0]) && isdigit((unsigned char)zip[1]) &&
	    isdigit((unsigned char)zip[2]) &&
	    d->zip3[(zip[0] - '0') * 100 + (zip[1] - '0') * 10 + (zip[2] - '0')]) {
		memcpy(out, zip, 3);
		out[3] = '\0';
	}
}
