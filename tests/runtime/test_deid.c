/*
 * `carelake export --deidentify` of the shared Synthea and FHIR material,
 * every table, through the binary:
 * - withheld tables (quarantine, quality_warning) are refused, exit 2;
 *   every other table is written as Parquet, CSV and NDJSON with the row
 *   count of the identified export;
 * - no name, address, city, ZIP code, phone number, identifier (SSN,
 *   driver's licence, passport, MRN, NPI) or id read from the source files
 *   (the Synthea CSVs and every Patient, Practitioner, Organization and
 *   id of the FHIR bundles, but the examples' ids shorter than 8 characters,
 *   which are codes of theirs too) is in the output: values long enough to be
 *   found by chance never inside any field, short ones never as a field;
 * - row by row against the identified export: every date of a person has
 *   moved, by a whole number of days the same for every row of that
 *   person (so no exact date is left and intervals survive); a date with
 *   no person keeps its year; ids are HMAC-SHA256 pseudonyms computed here
 *   from the keys directory's key (so stable across exports); dropped
 *   columns are absent; ZIP codes are 000;
 *   (Searching the whole output for each source date instead would be
 *   wrong: one of a patient's dates moved can land on another of theirs.)
 * - joins through the pseudonyms give the identified counts: encounters
 *   to patients, observations to encounters and patients;
 * - another keys directory gives other pseudonyms.
 *
 * Usage: test_deid /path/to/carelake SHARED_DATA_DIR
 */
#include "cl_test.h"

#include <dirent.h>
#include <jansson.h>
#include <sodium.h>
#include <string.h>
#include <sys/stat.h>

#include "lake/cl_lake.h"
#include "privacy/cl_deid.h"

static const char *bin, *shared;
static char dir[256], data[300], keys[300], outdir[300];

#include "cli_helpers.h"

/* ---- what the export holds ------------------------------------------- */

/* Every string value of the de-identified NDJSON exports (sorted), and
 * all their text, CSV and NDJSON, for substring searches. */
static char **fields;
static size_t nfields, capfields;
static char *all_text;
static size_t all_len;

static void add_field(const char *s)
{
	if (nfields == capfields) {
		capfields = capfields ? 2 * capfields : 4096;
		fields = realloc(fields, capfields * sizeof(*fields));
		assert_non_null(fields);
	}
	fields[nfields++] = strdup(s);
}

static void add_text(const char *s)
{
	size_t n = strlen(s);
	all_text = realloc(all_text, all_len + n + 2);
	assert_non_null(all_text);
	memcpy(all_text + all_len, s, n);
	all_len += n;
	all_text[all_len++] = '\n';
	all_text[all_len] = '\0';
}

static int cmp_str(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

static int is_field(const char *s)
{
	return bsearch(&s, fields, nfields, sizeof(*fields), cmp_str) != NULL;
}

/* The rows of an NDJSON file. */
static json_t *rows_of(const char *path)
{
	char *text = slurp(path), *line = text, *nl;
	json_t *rows = json_array();

	while (*line) {
		json_error_t err;
		json_t *o;
		nl = strchr(line, '\n');
		assert_non_null(nl);
		*nl = '\0';
		o = json_loads(line, 0, &err);
		if (!o)
			fail_msg("%s: not JSON: %s", path, err.text);
		json_array_append_new(rows, o);
		line = nl + 1;
	}
	free(text);
	return rows;
}

/* The row count an export reported ("carelake export: N rows of ..."). */
static long exported(struct result *r)
{
	const char *p = strstr(r->err, "carelake export: ");
	if (r->status != 0 || !p)
		fail_msg("export: status %d: %s", r->status, r->err);
	return strtol(p + 17, NULL, 10);
}

/* Exports table as format to outdir/<table>.<suffix>.<format>. */
static long export(const char *table, const char *format, int deid, const char *keys_dir,
		   const char *suffix, char *path, size_t cap)
{
	struct result r;
	long n;

	snprintf(path, cap, "%s/%s.%s.%s", outdir, table, suffix, format);
	if (deid)
		r = run(NULL, "export", "--data", data, "--table", table, "--format", format,
			"--deidentify", "--keys", keys_dir, "--out", path, NULL);
	else
		r = run(NULL, "export", "--data", data, "--table", table, "--format", format,
			"--out", path, NULL);
	n = exported(&r);
	done(&r);
	return n;
}

/* ---- pseudonyms, computed here ----------------------------------------- */

static unsigned char pkey[32];

static void pseudonym(const char *space, const char *id, char out[33])
{
	crypto_auth_hmacsha256_state st;
	unsigned char h[32];

	crypto_auth_hmacsha256_init(&st, pkey, sizeof(pkey));
	crypto_auth_hmacsha256_update(&st, (const unsigned char *)space, strlen(space) + 1);
	crypto_auth_hmacsha256_update(&st, (const unsigned char *)id, strlen(id));
	crypto_auth_hmacsha256_final(&st, h);
	sodium_bin2hex(out, 33, h, 16);
}

static void read_key(const char *keys_dir, const char *name, unsigned char *out, size_t len)
{
	char path[400];
	struct stat st;
	FILE *f;

	snprintf(path, sizeof(path), "%s/%s", keys_dir, name);
	assert_int_equal(stat(path, &st), 0);
	assert_int_equal(st.st_mode & 0777, 0600);
	assert_non_null(f = fopen(path, "rb"));
	assert_int_equal(fread(out, 1, len, f), len);
	fclose(f);
}

/* ---- the source files' values ------------------------------------------ */

static int checked, found;

/* Fails when the source value v is in the output: inside any field when it
 * is long and specific enough not to be there by chance, else as a whole
 * field. */
static void absent(const char *v, const char *what)
{
	size_t n = strlen(v);
	int hexish = strspn(v, "0123456789abcdefABCDEF") == n;

	if (n < 2)
		return;
	checked++;
	if ((n >= 8 && !hexish) || n >= 12) {
		if (strstr(all_text, v)) {
			fprintf(stderr, "found %s '%s' in the de-identified output\n", what, v);
			found++;
		}
	} else if (is_field(v)) {
		fprintf(stderr, "found %s '%s' as a field of the de-identified output\n", what, v);
		found++;
	}
}

/* Reads one RFC 4180 field at *p into buf; returns 1 if a field followed
 * by ',' , 2 at the end of a record, 0 at the end of the text. */
static int csv_field(const char **p, char *buf, size_t cap)
{
	const char *s = *p;
	size_t n = 0;

	if (!*s)
		return 0;
	if (*s == '"') {
		for (s++; *s; s++) {
			if (*s == '"' && s[1] == '"')
				s++;
			else if (*s == '"') {
				s++;
				break;
			}
			if (n + 1 < cap)
				buf[n++] = *s;
		}
	} else {
		while (*s && *s != ',' && *s != '\n' && *s != '\r') {
			if (n + 1 < cap)
				buf[n++] = *s;
			s++;
		}
	}
	buf[n] = '\0';
	if (*s == ',') {
		*p = s + 1;
		return 1;
	}
	while (*s == '\r' || *s == '\n')
		s++;
	*p = s;
	return 2;
}

/* Checks the columns `cols` (by ',') of a Synthea CSV file. */
static void csv_source(const char *file, const char *cols)
{
	char path[600], head[64][4096], field[4096];
	int ncol = 0, want[64] = { 0 }, col = 0, rc;
	char *text;
	const char *p;

	snprintf(path, sizeof(path), "%s/synthea-csv/%s", shared, file);
	text = slurp(path);
	p = text;
	do {
		rc = csv_field(&p, field, sizeof(field));
		snprintf(head[ncol], sizeof(head[0]), "%s", field);
		want[ncol] = strstr(cols, field) != NULL;
		ncol++;
	} while (rc == 1 && ncol < 64);
	while ((rc = csv_field(&p, field, sizeof(field))) != 0) {
		if (col < ncol && want[col] && field[0])
			absent(field, head[col]);
		col = rc == 2 ? 0 : col + 1;
	}
	free(text);
}

/* Collects from one FHIR resource what names, places or identifies. */
static void fhir_resource(const json_t *r)
{
	const char *type = json_string_value(json_object_get(r, "resourceType"));
	const json_t *e, *x, *line;
	size_t i, j;

	if (!type)
		return;
	/* the examples' short ids ("example", "f001") are also codes of theirs */
	if (json_is_string(json_object_get(r, "id")) &&
	    strlen(json_string_value(json_object_get(r, "id"))) >= 8)
		absent(json_string_value(json_object_get(r, "id")), "FHIR id");
	json_array_foreach(json_object_get(r, "identifier"), i, e)
		if (json_is_string(json_object_get(e, "value")))
			absent(json_string_value(json_object_get(e, "value")), "identifier");
	if (strcmp(type, "Patient") && strcmp(type, "Practitioner") && strcmp(type, "Organization"))
		return;
	if (json_is_string(json_object_get(r, "name")))
		absent(json_string_value(json_object_get(r, "name")), "organization name");
	json_array_foreach(json_object_get(r, "name"), i, e) {
		if (json_is_string(json_object_get(e, "family")))
			absent(json_string_value(json_object_get(e, "family")), "family name");
		json_array_foreach(json_object_get(e, "given"), j, x)
			absent(json_string_value(x), "given name");
	}
	json_array_foreach(json_object_get(r, "telecom"), i, e)
		if (json_is_string(json_object_get(e, "value")))
			absent(json_string_value(json_object_get(e, "value")), "phone or email");
	json_array_foreach(json_object_get(r, "address"), i, e) {
		json_array_foreach(json_object_get(e, "line"), j, line)
			absent(json_string_value(line), "address");
		if (json_is_string(json_object_get(e, "city")))
			absent(json_string_value(json_object_get(e, "city")), "city");
		if (json_is_string(json_object_get(e, "postalCode")))
			absent(json_string_value(json_object_get(e, "postalCode")), "ZIP code");
	}
	json_array_foreach(json_object_get(r, "extension"), i, e) {
		const char *url = json_string_value(json_object_get(e, "url"));
		if (url && strstr(url, "mothersMaidenName"))
			absent(json_string_value(json_object_get(e, "valueString")), "maiden name");
	}
}

static void fhir_source(const char *sub)
{
	char path[600];
	struct dirent *de;
	DIR *d;

	snprintf(path, sizeof(path), "%s/%s", shared, sub);
	assert_non_null(d = opendir(path));
	while ((de = readdir(d))) {
		json_error_t err;
		json_t *j, *e;
		size_t i;
		if (!strstr(de->d_name, ".json"))
			continue;
		snprintf(path, sizeof(path), "%s/%s/%s", shared, sub, de->d_name);
		assert_non_null(j = json_load_file(path, 0, &err));
		fhir_resource(j);
		json_array_foreach(json_object_get(j, "entry"), i, e)
			fhir_resource(json_object_get(e, "resource"));
		json_decref(j);
	}
	closedir(d);
}

/* ---- the test ------------------------------------------------------------ */

/* An instant from a value as silver keeps it. */
static int64_t instant(const char *s)
{
	int64_t us;
	if (cl_lake_parse_instant(s, strlen(s), &us) != 0)
		fail_msg("not a date: %s", s);
	return us;
}

/* Shifts seen per person: "<space>\0<id>" -> days. */
static json_t *shifts;

/* Checks one identified row against its de-identified row, column by
 * column, by the rules. */
static void check_row(const char *table, json_t *id_row, json_t *de_row)
{
	const char *col;
	json_t *v;

	json_object_foreach(id_row, col, v) {
		const struct cl_deid_column *r = cl_deid_rule_of(table, col);
		json_t *dv = json_object_get(de_row, col);
		char want[33];

		assert_non_null(r);
		switch (r->rule) {
		case CL_DEID_DROP:
		case CL_DEID_FREE_TEXT:
		case CL_DEID_WITHHELD:
			if (dv)
				fail_msg("%s.%s is in the de-identified row", table, col);
			break;
		case CL_DEID_KEEP:
			if (!json_equal(v, dv))
				fail_msg("%s.%s changed", table, col);
			break;
		case CL_DEID_PSEUDONYM:
			if (json_is_null(v)) {
				assert_true(json_is_null(dv));
				break;
			}
			pseudonym(r->whose, json_string_value(v), want);
			if (!json_is_string(dv) || strcmp(json_string_value(dv), want) != 0)
				fail_msg("%s.%s is not the pseudonym of its id", table, col);
			break;
		case CL_DEID_ZIP:
			assert_true(json_is_null(v) || strcmp(json_string_value(dv), "000") == 0);
			break;
		case CL_DEID_AGE:
			/* the same age, or 90 for any older */
			assert_true(json_is_null(v) ||
				    json_number_value(dv) == (json_number_value(v) > 90
								  ? 90 : json_number_value(v)));
			break;
		case CL_DEID_YEAR:
			assert_true(json_is_null(v) ||
				    strncmp(json_string_value(dv), json_string_value(v), 4) == 0);
			assert_true(json_is_null(v) || strlen(json_string_value(dv)) == 4);
			break;
		case CL_DEID_DATE:
		case CL_DEID_BIRTH_DATE: {
			const char *person = json_string_value(json_object_get(id_row, r->whose));
			const struct cl_deid_column *pr = cl_deid_rule_of(table, r->whose);
			char key[400];
			if (json_is_null(v)) {
				assert_true(json_is_null(dv));
				break;
			}
			if (!json_is_string(dv))
				fail_msg("%s.%s: no date where there was one", table, col);
			if (strcmp(json_string_value(v), json_string_value(dv)) == 0)
				fail_msg("%s.%s: the exact date %s is in the output", table, col,
					 json_string_value(v));
			if (!person) {
				assert_int_equal(strlen(json_string_value(dv)), 4);
				break;
			}
			int64_t diff = instant(json_string_value(dv)) - instant(json_string_value(v));
			if (diff % (86400ll * 1000000) != 0)
				fail_msg("%s.%s moved by %lld us, not whole days", table, col,
					 (long long)diff);
			if (r->rule == CL_DEID_BIRTH_DATE)
				break; /* moved, perhaps capped too */
			snprintf(key, sizeof(key), "%s/%s", pr->whose, person);
			json_t *seen = json_object_get(shifts, key);
			if (!seen)
				json_object_set_new(shifts, key, json_integer(diff));
			else if (json_integer_value(seen) != diff)
				fail_msg("%s.%s: %s's dates moved by %lld and %lld us", table, col,
					 pr->whose, (long long)json_integer_value(seen), (long long)diff);
			break;
		}
		}
	}
}

/* Rows of `rows` whose column `col` is one of the values of `in` (its
 * column `key`). */
static long joined(json_t *rows, const char *col, json_t *in, const char *key)
{
	json_t *set = json_object(), *row;
	size_t i;
	long n = 0;

	json_array_foreach(in, i, row)
		if (json_is_string(json_object_get(row, key)))
			json_object_set_new(set, json_string_value(json_object_get(row, key)),
					    json_true());
	json_array_foreach(rows, i, row) {
		const char *v = json_string_value(json_object_get(row, col));
		n += v && json_object_get(set, v);
	}
	json_decref(set);
	return n;
}

static void test_deidentified_export(void **state)
{
	char name[64], tdir[128], path[600];
	json_t *id_rows[64] = { 0 }, *de_rows[64] = { 0 };
	char names[64][64];
	int ntables = 0;

	(void)state;
	shifts = json_object();
	for (int i = 0; cl_lake_table(i, name, sizeof(name), tdir, sizeof(tdir), NULL); i++) {
		const struct cl_deid_column *w = cl_deid_rule_of(name, "");
		if (w && w->rule == CL_DEID_WITHHELD) {
			snprintf(path, sizeof(path), "%s/%s.csv", outdir, name);
			struct result r = run(NULL, "export", "--data", data, "--table", name,
					      "--deidentify", "--keys", keys, "--out", path, NULL);
			if (r.status != 2 || !strstr(r.err, "not exported de-identified"))
				fail_msg("export of %s: status %d: %s", name, r.status, r.err);
			done(&r);
			assert_int_equal(access(path, F_OK), -1);
			continue;
		}
		long n = export(name, "ndjson", 0, NULL, "id", path, sizeof(path));
		id_rows[ntables] = rows_of(path);
		assert_int_equal(n, json_array_size(id_rows[ntables]));
		assert_int_equal(export(name, "ndjson", 1, keys, "de", path, sizeof(path)), n);
		de_rows[ntables] = rows_of(path);
		char *text = slurp(path);
		add_text(text);
		free(text);
		assert_int_equal(export(name, "csv", 1, keys, "de", path, sizeof(path)), n);
		text = slurp(path);
		add_text(text);
		free(text);
		assert_int_equal(export(name, "parquet", 1, keys, "de", path, sizeof(path)), n);
		snprintf(names[ntables++], sizeof(names[0]), "%s", name);
	}
	assert_true(ntables >= 20);
	read_key(keys, "pseudonym", pkey, sizeof(pkey));

	/* every string field of every de-identified table */
	for (int t = 0; t < ntables; t++) {
		json_t *row, *v;
		const char *k;
		size_t i;
		json_array_foreach(de_rows[t], i, row)
			json_object_foreach(row, k, v)
				if (json_is_string(v))
					add_field(json_string_value(v));
	}
	qsort(fields, nfields, sizeof(*fields), cmp_str);

	/* the source files' names, places, phones and identifiers */
	csv_source("patients.csv", "Id,SSN,DRIVERS,PASSPORT,FIRST,LAST,MAIDEN,BIRTHPLACE,ADDRESS,"
				   "CITY,COUNTY,ZIP,LAT,LON");
	csv_source("providers.csv", "Id,NAME,ADDRESS,CITY,ZIP,LAT,LON");
	csv_source("organizations.csv", "Id,NAME,ADDRESS,CITY,ZIP,LAT,LON,PHONE");
	csv_source("encounters.csv", "Id");
	fhir_source("synthea-fhir");
	fhir_source("fhir-r4-examples");
	/* the street addresses Synthea keeps as observation values */
	checked++;
	if (strstr(all_text, "Labadie Underpass"))
		found++;
	assert_true(checked > 1000);
	if (found)
		fail_msg("%d of %d source values are in the de-identified output", found, checked);

	/* row by row: the rules, and no exact date of a person left */
	for (int t = 0; t < ntables; t++) {
		const struct cl_deid_column *idr = cl_deid_rule_of(names[t], "id");
		json_t *by, *row;
		size_t i;
		if (!idr || idr->rule != CL_DEID_PSEUDONYM)
			continue; /* gold tables, and device (no rows here) */
		by = json_object();
		json_array_foreach(de_rows[t], i, row)
			json_object_set(by, json_string_value(json_object_get(row, "id")), row);
		json_array_foreach(id_rows[t], i, row) {
			char p[33];
			pseudonym(idr->whose, json_string_value(json_object_get(row, "id")), p);
			json_t *de = json_object_get(by, p);
			if (!de)
				fail_msg("%s: no de-identified row for a row", names[t]);
			check_row(names[t], row, de);
		}
		json_decref(by);
	}
	/* the patients moved: 37 of them, each by their own offset */
	assert_true(json_object_size(shifts) > 30);

	/* joins through the pseudonyms: the identified counts */
	json_t *pat[2] = { 0 }, *enc[2] = { 0 }, *obs[2] = { 0 };
	for (int t = 0; t < ntables; t++) {
		for (int k = 0; k < 2; k++) {
			json_t *rows = k ? de_rows[t] : id_rows[t];
			if (strcmp(names[t], "patient") == 0)
				pat[k] = rows;
			if (strcmp(names[t], "encounter") == 0)
				enc[k] = rows;
			if (strcmp(names[t], "observation") == 0)
				obs[k] = rows;
		}
	}
	assert_non_null(pat[1]);
	assert_non_null(enc[1]);
	assert_non_null(obs[1]);
	long enc_pat = joined(enc[0], "patient_id", pat[0], "id");
	assert_int_equal(enc_pat, 627); /* every encounter has its patient */
	assert_int_equal(joined(enc[1], "patient_id", pat[1], "id"), enc_pat);
	long obs_enc = joined(obs[0], "encounter_id", enc[0], "id");
	assert_true(obs_enc > 1000);
	assert_int_equal(joined(obs[1], "encounter_id", enc[1], "id"), obs_enc);
	assert_int_equal(joined(obs[1], "patient_id", pat[1], "id"),
			 joined(obs[0], "patient_id", pat[0], "id"));

	for (int t = 0; t < ntables; t++) {
		json_decref(id_rows[t]);
		json_decref(de_rows[t]);
	}
	json_decref(shifts);
}

static void test_other_keys(void **state)
{
	char other[400], a[600], b[600];
	json_t *ra, *rb, *row;
	size_t i;

	(void)state;
	snprintf(other, sizeof(other), "%s/other.keys", dir);
	assert_int_equal(export("patient", "ndjson", 1, keys, "k1", a, sizeof(a)), 37);
	assert_int_equal(export("patient", "ndjson", 1, other, "k2", b, sizeof(b)), 37);
	ra = rows_of(a);
	rb = rows_of(b);
	json_t *set = json_object();
	json_array_foreach(ra, i, row)
		json_object_set_new(set, json_string_value(json_object_get(row, "id")), json_true());
	json_array_foreach(rb, i, row)
		assert_null(json_object_get(set, json_string_value(json_object_get(row, "id"))));
	json_decref(set);
	json_decref(ra);
	json_decref(rb);
	/* without --deidentify, --keys still names where the audit record
	 * of the export is signed from */
	char third[400], signing[450];
	struct stat st;

	snprintf(third, sizeof(third), "%s/third.keys", dir);
	struct result r = run(NULL, "export", "--data", data, "--table", "patient", "--keys", third,
			      "--out", a, NULL);
	assert_int_equal(r.status, 0);
	done(&r);
	snprintf(signing, sizeof(signing), "%s/audit-signing", third);
	assert_int_equal(stat(signing, &st), 0);
	snprintf(signing, sizeof(signing), "%s/pseudonym", third);
	assert_int_equal(stat(signing, &st), -1);  /* no de-identification key was needed */
}

static int setup(void **state)
{
	char fhir[600], csv[600], ex[600];
	struct result r;

	(void)state;
	cl_test_tmpdir(dir, sizeof(dir));
	snprintf(data, sizeof(data), "%s/data", dir);
	snprintf(keys, sizeof(keys), "%s/vault", dir);
	snprintf(outdir, sizeof(outdir), "%s/out", dir);
	assert_int_equal(mkdir(outdir, 0700), 0);
	snprintf(fhir, sizeof(fhir), "%s/synthea-fhir", shared);
	snprintf(csv, sizeof(csv), "%s/synthea-csv", shared);
	snprintf(ex, sizeof(ex), "%s/fhir-r4-examples", shared);
	r = run(NULL, "ingest", "--data", data, fhir, csv, ex, NULL);
	if (r.status != 0)
		fail_msg("ingest: %s", r.err);
	done(&r);
	return 0;
}

static int teardown(void **state)
{
	(void)state;
	for (size_t i = 0; i < nfields; i++)
		free(fields[i]);
	free(fields);
	free(all_text);
	cl_test_rmtree(dir);
	return 0;
}

int main(int argc, char **argv)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_deidentified_export),
		cmocka_unit_test(test_other_keys),
	};
	if (argc != 3) {
		fprintf(stderr, "usage: %s CARELAKE SHARED_DATA_DIR\n", argv[0]);
		return 2;
	}
	bin = argv[1];
	shared = argv[2];
	if (sodium_init() < 0)
		return 2;
	return cmocka_run_group_tests(tests, setup, teardown);
}
