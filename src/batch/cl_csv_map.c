/*
 * CSV mappings. See cl_csv_map.h.
 */
#include "cl_csv_map.h"
#include "batch/cl_csv.h"
#include "batch/cl_row_pipe.h"
#include "core/cl_config.h"
#include "core/cl_error.h"
#include "core/cl_mem.h"
#include "core/cl_time.h"
#include "model/cl_vitals.h"

#include <math.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

enum kind {
	K_TEXT,     /* as it is */
	K_TIME,     /* RFC 3339, normalised to UTC; a date alone kept */
	K_GENDER,   /* M/F -> male/female */
	K_VALUE,    /* a number into `value`, else text into `value_text` */
	K_KEY,      /* a stable id hashed from the columns named in `from` */
	K_NUMBER,   /* a number; anything else is refused */
	K_INT,      /* a whole number; anything else is refused */
	K_CHANNEL,  /* call, email, sms or online (case and synonyms folded) */
};

struct field {
	const char *col;      /* silver column */
	const char *from;     /* CSV column (K_KEY: columns joined by '+') */
	enum kind kind;
};

struct cl_csv_mapping {
	const char *name;
	const char *table;
	const char *signature;   /* CSV columns that identify the file, by '+' */
	struct field f[CL_CSV_DECL_FIELDS];
};

static const struct cl_csv_mapping mappings[] = {
	{ "synthea-patients", "patient", "Id+BIRTHDATE+FIRST+LAST+GENDER",
	  { { "id", "Id", K_TEXT }, { "birth_date", "BIRTHDATE", K_TIME },
	    { "death_date", "DEATHDATE", K_TIME }, { "given", "FIRST", K_TEXT },
	    { "family", "LAST", K_TEXT }, { "marital_status", "MARITAL", K_TEXT },
	    { "race", "RACE", K_TEXT }, { "ethnicity", "ETHNICITY", K_TEXT },
	    { "gender", "GENDER", K_GENDER }, { "city", "CITY", K_TEXT },
	    { "state", "STATE", K_TEXT }, { "postal_code", "ZIP", K_TEXT } } },
	{ "synthea-providers", "practitioner", "Id+ORGANIZATION+NAME+SPECIALITY",
	  { { "id", "Id", K_TEXT }, { "organization_id", "ORGANIZATION", K_TEXT },
	    { "name", "NAME", K_TEXT }, { "gender", "GENDER", K_GENDER },
	    { "specialty", "SPECIALITY", K_TEXT }, { "city", "CITY", K_TEXT },
	    { "state", "STATE", K_TEXT } } },
	{ "synthea-organizations", "organization", "Id+NAME+ADDRESS+CITY+REVENUE",
	  { { "id", "Id", K_TEXT }, { "name", "NAME", K_TEXT }, { "city", "CITY", K_TEXT },
	    { "state", "STATE", K_TEXT }, { "postal_code", "ZIP", K_TEXT } } },
	{ "synthea-encounters", "encounter", "Id+START+STOP+PATIENT+ENCOUNTERCLASS",
	  { { "id", "Id", K_TEXT }, { "start_ts", "START", K_TIME }, { "end_ts", "STOP", K_TIME },
	    { "patient_id", "PATIENT", K_TEXT }, { "organization_id", "ORGANIZATION", K_TEXT },
	    { "practitioner_id", "PROVIDER", K_TEXT }, { "class", "ENCOUNTERCLASS", K_TEXT },
	    { "code", "CODE", K_TEXT }, { "display", "DESCRIPTION", K_TEXT },
	    { "reason_code", "REASONCODE", K_TEXT },
	    { "reason_display", "REASONDESCRIPTION", K_TEXT } } },
	{ "synthea-conditions", "condition", "START+STOP+PATIENT+ENCOUNTER+CODE+DESCRIPTION",
	  { { "id", "PATIENT+ENCOUNTER+CODE+START", K_KEY }, { "onset_ts", "START", K_TIME },
	    { "abatement_ts", "STOP", K_TIME }, { "patient_id", "PATIENT", K_TEXT },
	    { "encounter_id", "ENCOUNTER", K_TEXT }, { "code", "CODE", K_TEXT },
	    { "display", "DESCRIPTION", K_TEXT } } },
	{ "synthea-observations", "observation", "DATE+PATIENT+ENCOUNTER+CODE+VALUE+UNITS",
	  { { "id", "PATIENT+ENCOUNTER+CODE+DATE", K_KEY },
	    { "resource_id", "PATIENT+ENCOUNTER+CODE+DATE", K_KEY },
	    { "effective_ts", "DATE", K_TIME }, { "patient_id", "PATIENT", K_TEXT },
	    { "encounter_id", "ENCOUNTER", K_TEXT }, { "category", "CATEGORY", K_TEXT },
	    { "code", "CODE", K_TEXT }, { "display", "DESCRIPTION", K_TEXT },
	    { "unit", "UNITS", K_TEXT }, { "value", "VALUE", K_VALUE } } },
	{ "synthea-medications", "medication_request",
	  "START+STOP+PATIENT+ENCOUNTER+CODE+DESCRIPTION+DISPENSES",
	  { { "id", "PATIENT+ENCOUNTER+CODE+START", K_KEY }, { "authored_ts", "START", K_TIME },
	    { "patient_id", "PATIENT", K_TEXT }, { "encounter_id", "ENCOUNTER", K_TEXT },
	    { "code", "CODE", K_TEXT }, { "display", "DESCRIPTION", K_TEXT } } },
	/* carelake's own files (what `carelake generate` writes) */
	{ "carelake-patients", "patient", "patient_id+family+given+gender+birth_date",
	  { { "id", "patient_id", K_TEXT }, { "family", "family", K_TEXT },
	    { "given", "given", K_TEXT }, { "gender", "gender", K_GENDER },
	    { "birth_date", "birth_date", K_TIME }, { "marital_status", "marital_status", K_TEXT },
	    { "city", "city", K_TEXT }, { "postal_code", "postal_code", K_TEXT },
	    { "country", "country", K_TEXT } } },
	{ "carelake-staff", "staff", "staff_id+name+role+ward",
	  { { "id", "staff_id", K_TEXT }, { "name", "name", K_TEXT }, { "role", "role", K_TEXT },
	    { "ward", "ward", K_TEXT }, { "practitioner_id", "practitioner_id", K_TEXT },
	    { "fte", "fte", K_NUMBER }, { "start_date", "start_date", K_TIME } } },
	{ "carelake-shifts", "shift", "shift_id+ward+start+end+required_staff",
	  { { "id", "shift_id", K_TEXT }, { "staff_id", "staff_id", K_TEXT },
	    { "ward", "ward", K_TEXT }, { "role", "role", K_TEXT }, { "start_ts", "start", K_TIME },
	    { "end_ts", "end", K_TIME }, { "required_staff", "required_staff", K_INT } } },
	{ "carelake-bookings", "booking", "booking_id+patient_id+channel+appointment+status",
	  { { "id", "booking_id", K_TEXT }, { "patient_id", "patient_id", K_TEXT },
	    { "practitioner_id", "practitioner_id", K_TEXT }, { "clinic", "clinic", K_TEXT },
	    { "channel", "channel", K_CHANNEL }, { "booked_ts", "booked", K_TIME },
	    { "appointment_ts", "appointment", K_TIME }, { "status", "status", K_TEXT } } },
	{ "carelake-communications", "communication", "message_id+channel+direction+ts",
	  { { "id", "message_id", K_TEXT }, { "patient_id", "patient_id", K_TEXT },
	    { "staff_id", "staff_id", K_TEXT }, { "channel", "channel", K_CHANNEL },
	    { "direction", "direction", K_TEXT }, { "ts", "ts", K_TIME },
	    { "duration_s", "duration_s", K_NUMBER }, { "topic", "topic", K_TEXT } } },
	{ "carelake-surveys", "survey_response", "response_id+question+score",
	  { { "id", "response_id", K_TEXT }, { "patient_id", "patient_id", K_TEXT },
	    { "encounter_id", "encounter_id", K_TEXT }, { "ts", "ts", K_TIME },
	    { "channel", "channel", K_CHANNEL }, { "question", "question", K_TEXT },
	    { "score", "score", K_NUMBER }, { "comment", "comment", K_TEXT } } },
	{ "carelake-devices", "device", "device_id+type+ward+bed",
	  { { "id", "device_id", K_TEXT }, { "type", "type", K_TEXT }, { "ward", "ward", K_TEXT },
	    { "bed", "bed", K_TEXT }, { "patient_id", "patient_id", K_TEXT },
	    { "status", "status", K_TEXT } } },
	{ "synthea-procedures", "procedure", "START+STOP+PATIENT+ENCOUNTER+CODE+DESCRIPTION+BASE_COST",
	  { { "id", "PATIENT+ENCOUNTER+CODE+START", K_KEY },
	    { "performed_start", "START", K_TIME }, { "performed_end", "STOP", K_TIME },
	    { "patient_id", "PATIENT", K_TEXT }, { "encounter_id", "ENCOUNTER", K_TEXT },
	    { "code", "CODE", K_TEXT }, { "display", "DESCRIPTION", K_TEXT } } },
};

#define NMAPPINGS (sizeof(mappings) / sizeof(mappings[0]))

/* Mappings declared in config, with their strings. */
struct user_mapping {
	struct cl_csv_mapping m;
	struct cl_csv_map_decl d;
};

static struct user_mapping users[CL_CSV_DECLS_MAX];
static int nusers;

static const char *const kind_names[] = { "text", "time", "gender", "value", "key", "number",
					  "int", "channel" };

int cl_csv_map_decl_set(struct cl_csv_map_decl *ds, int *n, int cap, const char *key,
			const char *value)
{
	const char *p = key + 9, *dot, *field;
	struct cl_csv_map_decl *d = NULL;
	char name[48];

	if (strncmp(key, "mappings.", 9) != 0 || !(dot = strchr(p, '.')))
		return CL_ENOENT;
	field = dot + 1;
	if (strcmp(field, "table") && strcmp(field, "signature") && strncmp(field, "columns.", 8))
		return CL_ENOENT;
	if (dot == p || (size_t)(dot - p) >= sizeof(name))
		return cl_error_set(CL_EINVAL, "mapping names are 1 to 47 characters");
	memcpy(name, p, (size_t)(dot - p));
	name[dot - p] = '\0';
	for (size_t i = 0; i < NMAPPINGS; i++)
		if (strcmp(mappings[i].name, name) == 0)
			return cl_error_set(CL_EINVAL, "mappings.%s: a built-in mapping has that name",
					    name);
	for (int i = 0; i < *n; i++)
		if (strcmp(ds[i].name, name) == 0)
			d = &ds[i];
	if (!d) {
		if (*n >= cap)
			return cl_error_set(CL_ERANGE, "at most %d mappings", cap);
		d = &ds[(*n)++];
		memset(d, 0, sizeof(*d));
		snprintf(d->name, sizeof(d->name), "%s", name);
	}
	if (strcmp(field, "table") == 0) {
		if (!cl_silver_table(value))
			return cl_error_set(CL_EINVAL, "mappings.%s.table: there is no silver table '%.40s'",
					    name, value);
		snprintf(d->table, sizeof(d->table), "%s", value);
		return CL_OK;
	}
	if (strcmp(field, "signature") == 0) {
		if (!*value || strlen(value) >= sizeof(d->signature))
			return cl_error_set(CL_EINVAL, "mappings.%s.signature: CSV columns joined by '+'",
					    name);
		snprintf(d->signature, sizeof(d->signature), "%s", value);
		return CL_OK;
	}
	{
		const char *col = field + 8, *as = strstr(value, " as ");
		int kind = K_TEXT, k = -1;

		if (!*col || strlen(col) >= sizeof(d->f[0].col))
			return cl_error_set(CL_EINVAL, "mappings.%s.columns: a silver column name", name);
		if (as) {
			kind = -1;
			for (size_t i = 0; i < sizeof(kind_names) / sizeof(kind_names[0]); i++)
				if (strcmp(as + 4, kind_names[i]) == 0)
					kind = (int)i;
			if (kind < 0)
				return cl_error_set(CL_EINVAL, "mappings.%s.columns.%s: '%s' is not a kind "
						    "(text, time, gender, number, int, channel, value, "
						    "key)", name, col, as + 4);
		}
		if (value == as || !*value || (size_t)(as ? as - value : (long)strlen(value)) >=
						      sizeof(d->f[0].from))
			return cl_error_set(CL_EINVAL, "mappings.%s.columns.%s: a CSV column", name,
					    col);
		for (int i = 0; i < d->nf; i++)
			if (strcmp(d->f[i].col, col) == 0)
				k = i;
		if (k < 0) {
			if (d->nf == CL_CSV_DECL_FIELDS)
				return cl_error_set(CL_ERANGE, "mappings.%s: at most %d columns", name,
						    CL_CSV_DECL_FIELDS);
			k = d->nf++;
		}
		snprintf(d->f[k].col, sizeof(d->f[k].col), "%s", col);
		snprintf(d->f[k].from, sizeof(d->f[k].from), "%.*s",
			 (int)(as ? as - value : (long)strlen(value)), value);
		d->f[k].kind = kind;
		return CL_OK;
	}
}

int cl_csv_map_decls_check(const struct cl_csv_map_decl *ds, int n)
{
	for (int i = 0; i < n; i++) {
		const struct cl_csv_map_decl *d = &ds[i];
		const struct cl_table *t = cl_silver_table(d->table);

		if (!t)
			return cl_error_set(CL_EINVAL, "mappings.%s: a mapping needs .table", d->name);
		for (int c = 0; c < t->ncols; c++) {
			int mapped = 0;

			for (int k = 0; k < d->nf; k++)
				mapped |= strcmp(d->f[k].col, t->cols[c].name) == 0;
			if (t->cols[c].required && !mapped)
				return cl_error_set(CL_EINVAL, "mappings.%s: %s.%s is required; map it with "
						    "mappings.%s.columns.%s", d->name, t->name,
						    t->cols[c].name, d->name, t->cols[c].name);
		}
		for (int k = 0; k < d->nf; k++) {
			int known = 0;

			for (int c = 0; c < t->ncols; c++)
				known |= strcmp(d->f[k].col, t->cols[c].name) == 0;
			if (!known && !(strcmp(d->f[k].col, "value_text") == 0 &&
					strcmp(t->name, "observation") == 0))
				return cl_error_set(CL_EINVAL, "mappings.%s.columns.%s: %s has no such "
						    "column", d->name, d->f[k].col, t->name);
		}
	}
	return CL_OK;
}

int cl_csv_map_register(const struct cl_csv_map_decl *ds, int n)
{
	int rc = cl_csv_map_decls_check(ds, n);

	if (rc)
		return rc;
	if (n > CL_CSV_DECLS_MAX)
		return cl_error_set(CL_ERANGE, "at most %d mappings", CL_CSV_DECLS_MAX);
	nusers = 0;
	for (int i = 0; i < n; i++) {
		struct user_mapping *u = &users[nusers++];
		size_t o = 0;

		u->d = ds[i];
		memset(&u->m, 0, sizeof(u->m));
		u->m.name = u->d.name;
		u->m.table = u->d.table;
		for (int k = 0; k < u->d.nf && k < (int)(sizeof(u->m.f) / sizeof(u->m.f[0])); k++) {
			u->m.f[k].col = u->d.f[k].col;
			u->m.f[k].from = u->d.f[k].from;
			u->m.f[k].kind = (enum kind)u->d.f[k].kind;
		}
		if (!u->d.signature[0]) {
			/* every CSV column it reads, as many as fit */
			char sig[sizeof(u->d.signature)] = "";

			for (int k = 0; k < u->d.nf; k++) {
				int w = snprintf(sig + o, sizeof(sig) - o, "%s%s", o ? "+" : "",
						 u->d.f[k].from);

				if (w < 0 || (size_t)w >= sizeof(sig) - o) {
					sig[o] = '\0';
					break;
				}
				o += (size_t)w;
			}
			memcpy(u->d.signature, sig, sizeof(sig));
		}
		u->m.signature = u->d.signature;
	}
	return CL_OK;
}

const char *cl_csv_map_name(const struct cl_csv_mapping *m)
{
	return m->name;
}

const struct cl_csv_mapping *cl_csv_map_by_name(const char *name)
{
	for (int i = 0; i < nusers; i++)
		if (strcmp(users[i].m.name, name) == 0)
			return &users[i].m;
	for (size_t i = 0; i < NMAPPINGS; i++)
		if (strcmp(mappings[i].name, name) == 0)
			return &mappings[i];
	return NULL;
}

static int header_index(const struct cl_csv *c, const char *name, size_t n)
{
	for (uint32_t i = 0; i < c->nf; i++)
		if (c->f[i].len == n && strncasecmp(c->f[i].p, name, n) == 0)
			return (int)i;
	return -1;
}

/* 1 if every column of the '+' list is in the header. */
/* How many columns the signature names when the header has them all,
 * else 0. */
static int has_all(const struct cl_csv *c, const char *list)
{
	int n_cols = 0;

	while (*list) {
		size_t n = strcspn(list, "+");

		if (header_index(c, list, n) < 0)
			return 0;
		list += n;
		n_cols++;
		if (*list == '+')
			list++;
	}
	return n_cols;
}

const struct cl_csv_mapping *cl_csv_map_find(const char *src, size_t len)
{
	struct cl_csv c;
	const struct cl_csv_mapping *found = NULL;
	int best = 0;

	cl_csv_init(&c, src, len, 0);
	if (cl_csv_next(&c) == 1) {
		/* a declared mapping first; else the built-in one that names the
		 * most columns (Synthea's medications and procedures have every
		 * column its conditions have, and more) */
		for (int i = 0; i < nusers && !found; i++)
			if (has_all(&c, users[i].m.signature))
				found = &users[i].m;
		for (size_t i = 0; i < NMAPPINGS && !(found && !best); i++) {
			int n = has_all(&c, mappings[i].signature);

			if (n > best) {
				best = n;
				found = &mappings[i];
			}
		}
	}
	cl_csv_free(&c);
	if (!found)
		cl_error_set(CL_ENOENT, "no known CSV header (the Synthea export's patients, "
			     "providers, organizations, encounters, conditions, observations, "
			     "medications or procedures; carelake's patients, staff, shifts, bookings, "
			     "communications, surveys or devices; or one declared in mappings.*)");
	return found;
}

/* 1 if the n bytes at p are a decimal number (an optional sign, digits
 * with an optional fraction, an optional exponent: what a spreadsheet or
 * a database writes), into *v. Not hexadecimal, "inf", "nan", spaces or a
 * value past the range of a double. */
static int number(const char *p, size_t n, double *v)
{
	char num[128], *copy = num, *end;
	size_t i = 0, digits = 0;
	int ok;

	if (i < n && (p[i] == '-' || p[i] == '+'))
		i++;
	for (; i < n && p[i] >= '0' && p[i] <= '9'; i++)
		digits++;
	if (i < n && p[i] == '.')
		for (i++; i < n && p[i] >= '0' && p[i] <= '9'; i++)
			digits++;
	if (!digits)
		return 0;
	if (i < n && (p[i] == 'e' || p[i] == 'E')) {
		size_t e = ++i;

		if (i < n && (p[i] == '-' || p[i] == '+'))
			e = ++i;
		for (; i < n && p[i] >= '0' && p[i] <= '9'; i++)
			;
		if (i == e)
			return 0;
	}
	if (i != n)
		return 0;
	if (n >= sizeof(num) && !(copy = cl_malloc(n + 1)))
		return 0;
	memcpy(copy, p, n);
	copy[n] = '\0';
	*v = strtod(copy, &end);
	ok = end == copy + n && isfinite(*v);
	if (copy != num)
		cl_free(copy);
	return ok;
}

/* 1 if the n bytes at p are a calendar date, YYYY-MM-DD. */
static int is_date(const char *p, size_t n)
{
	char t[21];
	int64_t us;

	if (n != 10)
		return 0;
	memcpy(t, p, 10);
	memcpy(t + 10, "T00:00:00Z", 11);
	return cl_time_parse_rfc3339(t, 20, &us) == CL_OK;
}

/* 1 if the n bytes at p are a whole number written as one (an optional
 * sign and digits) that an int64 holds, into *v: exactly, where a double
 * would round past 2^53. */
static int whole_number(const char *p, size_t n, int64_t *v)
{
	size_t i = n && (p[0] == '-' || p[0] == '+');
	uint64_t m = 0, max = (uint64_t)INT64_MAX + (n && p[0] == '-');

	if (i == n)
		return 0;
	for (; i < n; i++) {
		if (p[i] < '0' || p[i] > '9' || m > (max - (uint64_t)(p[i] - '0')) / 10)
			return 0;
		m = m * 10 + (uint64_t)(p[i] - '0');
	}
	*v = p[0] == '-' ? (int64_t)(0 - m) : (int64_t)m;
	return 1;
}

/* How much of a value a reason quotes: up to 40 bytes, cut where a
 * UTF-8 character starts. */
static int shown(const char *p, size_t n)
{
	size_t k = n > 40 ? 40 : n;

	if (k < n)
		while (k > 0 && ((unsigned char)p[k] & 0xc0) == 0x80)
			k--;
	return (int)k;
}

static int has_column(const struct cl_table *t, const char *col)
{
	for (int i = 0; i < t->ncols; i++)
		if (strcmp(t->cols[i].name, col) == 0)
			return 1;
	return 0;
}

/* Field `at` of the mapping's fields f into the row. */
static int put_field(struct cl_row *r, const struct field *f, size_t at, const struct cl_csv *hdr,
		     const struct cl_csv *rec, char *why, size_t cap)
{
	const struct field *fd = &f[at];
	const char *p;
	size_t n;
	int i;

	if (fd->kind == K_KEY) {
		crypto_generichash_state h;
		unsigned char out[16];
		char hex[33];
		const char *list = fd->from;

		/* the same key for another column of this row: hashed once */
		for (size_t j = 0; j < at; j++) {
			const struct cl_val *v;

			if (f[j].kind == K_KEY && strcmp(f[j].from, fd->from) == 0 &&
			    (v = cl_row_get(r, f[j].col)))
				return cl_row_text(r, fd->col, v->s, v->n);
		}
		crypto_generichash_init(&h, NULL, 0, sizeof(out));
		while (*list) {
			size_t ln = strcspn(list, "+");
			int k = header_index(hdr, list, ln);

			if (k >= 0) {
				crypto_generichash_update(&h, (const unsigned char *)rec->f[k].p,
							  rec->f[k].len);
				crypto_generichash_update(&h, (const unsigned char *)"\x1f", 1);
			}
			list += ln;
			if (*list == '+')
				list++;
		}
		crypto_generichash_final(&h, out, sizeof(out));
		sodium_bin2hex(hex, sizeof(hex), out, sizeof(out));
		return cl_row_text(r, fd->col, hex, 32);
	}
	i = header_index(hdr, fd->from, strlen(fd->from));
	if (i < 0 || rec->f[i].len == 0)
		return CL_OK; /* absent or empty: NULL */
	p = rec->f[i].p;
	n = rec->f[i].len;
	switch (fd->kind) {
	case K_TIME: {
		int64_t us;
		char out[40];

		if (n > 10 && cl_time_parse_rfc3339(p, n, &us) == CL_OK) {
			cl_time_format_rfc3339(us, out, sizeof(out), 0);
			return cl_row_text(r, fd->col, out, strlen(out));
		}
		if (is_date(p, n))
			return cl_row_text(r, fd->col, p, n);
		snprintf(why, cap, "%s: '%.*s' is not a date or an RFC 3339 time", fd->from,
			 shown(p, n), p);
		return CL_EINVAL;
	}
	case K_NUMBER:
	case K_INT: {
		double v;
		int64_t i64;

		if (fd->kind == K_INT && whole_number(p, n, &i64))
			return cl_row_int(r, fd->col, i64);
		/* 3.0 or 1e3 too: a double that is whole, inside int64 (2^63
		 * is not) */
		if (number(p, n, &v) && (fd->kind == K_NUMBER ||
					 (v >= -9223372036854775808.0 && v < 9223372036854775808.0 &&
					  v == floor(v))))
			return fd->kind == K_NUMBER ? cl_row_real(r, fd->col, v)
						    : cl_row_int(r, fd->col, (int64_t)v);
		snprintf(why, cap, "%s: '%.*s' is not %s", fd->from, shown(p, n), p,
			 fd->kind == K_NUMBER ? "a number" : "a whole number");
		return CL_EINVAL;
	}
	case K_CHANNEL: {
		static const char *const ch[][2] = {
			{ "call", "call" }, { "phone", "call" }, { "telephone", "call" },
			{ "email", "email" }, { "e-mail", "email" }, { "sms", "sms" },
			{ "text", "sms" }, { "online", "online" }, { "web", "online" },
			{ "portal", "online" }, { "app", "online" },
		};

		for (size_t k = 0; k < sizeof(ch) / sizeof(ch[0]); k++)
			if (strlen(ch[k][0]) == n && strncasecmp(p, ch[k][0], n) == 0)
				return cl_row_text(r, fd->col, ch[k][1], strlen(ch[k][1]));
		snprintf(why, cap, "%s: '%.*s' is not a channel (call, email, sms or online)",
			 fd->from, shown(p, n), p);
		return CL_EINVAL;
	}
	case K_GENDER:
		if (n == 1 && (*p == 'M' || *p == 'm'))
			return cl_row_text(r, fd->col, "male", 4);
		if (n == 1 && (*p == 'F' || *p == 'f'))
			return cl_row_text(r, fd->col, "female", 6);
		return cl_row_text(r, fd->col, p, n);
	case K_VALUE: {
		double v;

		if (number(p, n, &v))
			return cl_row_real(r, fd->col, v);
		if (!has_column(r->t, "value_text")) {
			snprintf(why, cap, "%s: '%.*s' is not a number", fd->from,
				 shown(p, n), p);
			return CL_EINVAL;
		}
		return cl_row_text(r, "value_text", p, n);
	}
	default:
		return cl_row_text(r, fd->col, p, n);
	}
}

/* The whole name from its parts, as FHIR names are read. */
static int full_name(struct cl_row *r)
{
	const struct cl_val *g = cl_row_get(r, "given"), *f = cl_row_get(r, "family");
	size_t gn = g ? g->n : 0, fn = f ? f->n : 0, n = 0;
	char *name;
	int rc;

	if (cl_row_get(r, "name") || (!g && !f))
		return CL_OK;
	name = cl_malloc(gn + fn + 2);
	if (!name)
		return cl_error_set(CL_ENOMEM, "no memory for a name of %zu bytes", gn + fn + 1);
	if (g) {
		memcpy(name, g->s, gn);
		n = gn;
	}
	if (g && f)
		name[n++] = ' ';
	if (f) {
		memcpy(name + n, f->s, fn);
		n += fn;
	}
	rc = cl_row_text(r, "name", name, n);
	cl_free(name);
	return rc;
}

/* Vitals in carelake's units, as device events are. */
static int normalise_vital(struct cl_row *r, char *why, size_t cap)
{
	const struct cl_val *code = cl_row_get(r, "code"), *val = cl_row_get(r, "value"),
			    *unit = cl_row_get(r, "unit");
	char u[64] = "";
	double canon;
	int v;

	if (!code || !val)
		return CL_OK;
	v = cl_vital_by_loinc(code->s, code->n);
	if (v < 0)
		return CL_OK;
	/* a unit of 64 bytes or more is no unit carelake knows: cut, it is
	 * refused as such */
	if (unit)
		snprintf(u, sizeof(u), "%.*s", (int)unit->n, unit->s);
	if (cl_vital_normalise((enum cl_vital)v, val->d, u, &canon) != CL_OK) {
		snprintf(why, cap, "%s", cl_error_detail());
		return CL_EINVAL;
	}
	cl_row_real(r, "value", canon);
	return cl_row_text(r, "unit", cl_vital_unit((enum cl_vital)v),
			   strlen(cl_vital_unit((enum cl_vital)v)));
}

/* What the producer of a CSV load reads (cl_row_pipe.h). */
struct csv_load {
	const struct cl_csv_mapping *m;
	const char *src;
	size_t len;
};

/* The producer: each record of the file into a row, or into the
 * quarantine with the reason. */
static int produce_rows(struct cl_row_pipe *p, void *arg)
{
	const struct csv_load *ld = arg;
	const struct cl_csv_mapping *m = ld->m;
	const struct cl_table *t = cl_silver_table(m->table);
	int is_obs = strcmp(t->name, "observation") == 0;
	int named = strcmp(t->name, "patient") == 0 || strcmp(t->name, "practitioner") == 0;
	struct cl_csv hdr, rec;
	int rc;

	cl_csv_init(&hdr, ld->src, ld->len, 0);
	rc = cl_csv_next(&hdr);
	if (rc != 1) {
		cl_csv_free(&hdr);
		return rc < 0 ? rc : cl_error_set(CL_EPARSE, "the file is empty");
	}
	cl_csv_init(&rec, ld->src, ld->len, hdr.delim);
	rc = cl_csv_next(&rec); /* the header again */
	while (rc == 1) {
		struct cl_row *r;
		char record[48], why[240] = "";

		rc = cl_csv_next(&rec);
		if (rc == CL_EPARSE) {
			/* a malformed record: quarantined, reading resumes on
			 * the next line */
			rc = cl_row_pipe_quarantine(p, t->name, NULL, rec.err, NULL, 0, NULL, 0);
			rc = rc ? rc : 1;
			continue;
		}
		if (rc != 1)
			break;
		snprintf(record, sizeof(record), "line %llu", (unsigned long long)rec.line);
		if (rec.nf != hdr.nf) {
			snprintf(why, sizeof(why), "line %llu has %u fields; the header has %u",
				 (unsigned long long)rec.line, rec.nf, hdr.nf);
			rc = cl_row_pipe_quarantine(p, t->name, record, why, rec.f[0].p,
						    rec.f[0].len, ld->src, ld->len);
			rc = rc ? rc : 1;
			continue;
		}
		r = cl_row_pipe_next(p, t, record);
		if (!r) {
			rc = CL_ECLOSED; /* the writer stopped: it has the error */
			break;
		}
		/* a value the row cannot take fails it (why), a text over the
		 * limit is remembered by the row and quarantined when it is put;
		 * out of memory fails the file */
		rc = CL_OK;
		for (size_t k = 0; k < sizeof(m->f) / sizeof(m->f[0]) && m->f[k].col && !why[0] &&
				   rc != CL_ENOMEM; k++)
			rc = put_field(r, m->f, k, &hdr, &rec, why, sizeof(why));
		if (rc != CL_ENOMEM && !why[0] && is_obs) {
			cl_row_text(r, "source", "csv", 3);
			rc = normalise_vital(r, why, sizeof(why));
		}
		if (rc != CL_ENOMEM && !why[0] && named)
			rc = full_name(r);
		if (rc == CL_ENOMEM)
			break; /* the pipe releases the row */
		if (why[0])
			rc = cl_row_pipe_quarantine(p, t->name, record, why, rec.f[0].p,
						    rec.f[0].len, ld->src, ld->len);
		else
			rc = cl_row_pipe_put(p);
		rc = rc ? rc : 1;
	}
	cl_csv_free(&hdr);
	cl_csv_free(&rec);
	return rc < 0 ? rc : CL_OK;
}

int cl_csv_load(struct cl_silver *s, const struct cl_csv_mapping *m, const char *src,
		size_t len, struct cl_silver_counts *c)
{
	struct csv_load ld = { m, src, len };

	/* read and built on one core, written on the other */
	return cl_row_pipe_run(s, c, produce_rows, &ld);
}

/* The mappings.* list section's functions. */
static int mappings_set(void *items, int *n, int max, const char *key, const char *value)
{
	return cl_csv_map_decl_set(items, n, max, key, value);
}

static int mappings_check(void *items, int n)
{
	return cl_csv_map_decls_check(items, n);
}

static void mappings_print(FILE *out, const void *items, int n, int help)
{
	const struct cl_csv_map_decl *m = items;

	for (int i = 0; i < n; i++) {
		fprintf(out, "mappings.%s = %s from", m[i].name, m[i].table);
		for (int k = 0; k < m[i].nf; k++)
			fprintf(out, "%s %s <- %s", k ? "," : "", m[i].f[k].col, m[i].f[k].from);
		fputc('\n', out);
	}
	if (help)
		fprintf(out, "    declare a CSV mapping with mappings.<name>.table, .signature and\n"
			"    .columns.<silver column> = '<CSV column> "
			"[as text|time|gender|number|int|channel|value|key]'\n");
}

static const struct cl_config_list mappings_list = {
	.forms = "mappings.<name>.table|signature|columns.<silver column>",
	.item_size = sizeof(struct cl_csv_map_decl),
	.max = CL_CSV_DECLS_MAX,
	.set = mappings_set,
	.check = mappings_check,
	.print = mappings_print,
};

const struct cl_config_section cl_mappings_section = {
	.name = "mappings",
	.list = &mappings_list,
};
