/*
 * De-identification (privacy/cl_deid), rule by rule:
 * - pseudonyms: the same id gives the same pseudonym with the same keys
 *   directory, another with another; id spaces never share one;
 * - date shift: one offset per person, never 0, within deid.date_shift_days;
 *   dates keep their precision and move by it, intervals of one person
 *   survive; deid.year_only_dates keeps the year alone; what is no date
 *   is refused;
 * - ages: a birth date that makes someone 90 or older, at death or now,
 *   becomes 90 years before then; 89 stays;
 * - ZIP codes: "000" unless the 3-digit area is listed (deid.zip3_keep,
 *   deid.zip3_file), a bad list refused;
 * - the classification has a rule for every column of every silver and
 *   gold table as SQLite creates them;
 * - a table exported: dropped columns and free text absent, ids as the
 *   pseudonyms, references the same pseudonym as the row they name, a
 *   column without a rule or a withheld table refused;
 * - docs/deidentification.md shows exactly the rules of the code.
 *
 * Usage: test_deid DOCS/deidentification.md
 */
#include "cl_test.h"
#include "batch/cl_gold.h"
#include "batch/cl_silver.h"
#include "core/cl_error.h"
#include "lake/cl_lake.h"
#include "privacy/cl_deid.h"

#include <sqlite3.h>
#include <sys/stat.h>

static char dir[128];
static const char *doc_path;

/* The whole file at path, NUL-terminated (free it). */
static char *slurp(const char *path)
{
	FILE *f = fopen(path, "rb");
	char *buf;
	long n;

	assert_non_null(f);
	fseek(f, 0, SEEK_END);
	n = ftell(f);
	fseek(f, 0, SEEK_SET);
	buf = malloc((size_t)n + 1);
	assert_non_null(buf);
	assert_int_equal(fread(buf, 1, (size_t)n, f), (size_t)n);
	buf[n] = '\0';
	fclose(f);
	return buf;
}

/* 2024-01-01T00:00:00Z */
#define NOW_US (1704067200ll * 1000000)

/* A de-identifier over keys directory `keys` (under the scratch directory). */
static struct cl_deid *open_with(const char *keys, const struct cl_deid_settings *s)
{
	char path[400];
	struct cl_deid *d;

	snprintf(path, sizeof(path), "%s/%s", dir, keys);
	if (cl_deid_open(path, s, NOW_US, &d) != CL_OK)
		fail_msg("cl_deid_open: %s", cl_error_detail());
	return d;
}

static struct cl_deid_settings defaults(void)
{
	struct cl_deid_settings s;
	memset(&s, 0, sizeof(s));
	s.date_shift_days = 365;
	return s;
}

static void test_pseudonym(void **state)
{
	struct cl_deid_settings s = defaults();
	struct cl_deid *a = open_with("k1", &s), *again = open_with("k1", &s);
	struct cl_deid *other = open_with("k2", &s);
	char p1[CL_DEID_PSEUDONYM_LEN + 1], p2[CL_DEID_PSEUDONYM_LEN + 1];
	char p3[CL_DEID_PSEUDONYM_LEN + 1], p4[CL_DEID_PSEUDONYM_LEN + 1];
	char p5[CL_DEID_PSEUDONYM_LEN + 1];

	(void)state;
	cl_deid_pseudonym(a, "patient", "p-1", 3, p1);
	cl_deid_pseudonym(again, "patient", "p-1", 3, p2);
	assert_string_equal(p1, p2); /* stable: same keys, another export */
	assert_int_equal(strlen(p1), CL_DEID_PSEUDONYM_LEN);
	assert_int_equal(strspn(p1, "0123456789abcdef"), CL_DEID_PSEUDONYM_LEN);
	assert_null(strstr(p1, "p-1"));
	cl_deid_pseudonym(other, "patient", "p-1", 3, p3);
	assert_string_not_equal(p1, p3); /* another key: another pseudonym */
	cl_deid_pseudonym(a, "encounter", "p-1", 3, p4);
	assert_string_not_equal(p1, p4); /* another id space */
	cl_deid_pseudonym(a, "patient", "p-2", 3, p5);
	assert_string_not_equal(p1, p5);
	/* "patient" + "\0p-1" is not "patien" + "t\0p-1" */
	cl_deid_pseudonym(a, "patien", "t\0p-1", 5, p5);
	assert_string_not_equal(p1, p5);
	cl_deid_close(a);
	cl_deid_close(again);
	cl_deid_close(other);
	cl_deid_close(NULL);
}

static void test_shift_days(void **state)
{
	struct cl_deid_settings s = defaults();
	struct cl_deid *a, *b;
	int differ = 0, neg = 0, pos = 0;
	char id[32];

	(void)state;
	s.date_shift_days = 30;
	a = open_with("k1", &s);
	b = open_with("k2", &s);
	for (int i = 0; i < 200; i++) {
		int n = snprintf(id, sizeof(id), "patient-%d", i);
		int64_t d = cl_deid_shift_days(a, "patient", id, (size_t)n);
		assert_true(d != 0);
		assert_true(d >= -30 && d <= 30);
		assert_int_equal(d, cl_deid_shift_days(a, "patient", id, (size_t)n));
		differ += d != cl_deid_shift_days(b, "patient", id, (size_t)n);
		neg += d < 0;
		pos += d > 0;
	}
	/* the key decides: another key moves most people otherwise */
	assert_true(differ > 150);
	assert_true(neg > 50 && pos > 50);
	cl_deid_close(a);
	cl_deid_close(b);
}

static void date_is(const struct cl_deid *d, const char *in, int64_t days, const char *want)
{
	char out[64];
	if (cl_deid_date(d, in, strlen(in), days, out, sizeof(out)) != CL_OK)
		fail_msg("%s: %s", in, cl_error_detail());
	if (strcmp(out, want) != 0)
		fail_msg("%s moved %lld days: %s, want %s", in, (long long)days, out, want);
}

static void test_dates(void **state)
{
	struct cl_deid_settings s = defaults();
	struct cl_deid *d = open_with("k1", &s);
	char out[64];

	(void)state;
	date_is(d, "2019-02-17T05:57:13Z", 12, "2019-03-01T05:57:13Z");
	date_is(d, "2019-02-17T05:57:13Z", -48, "2018-12-31T05:57:13Z");
	date_is(d, "2019-02-17T05:57:13.250Z", 1, "2019-02-18T05:57:13.250Z");
	date_is(d, "2019-02-17T06:57:13+01:00", 1, "2019-02-18T05:57:13Z"); /* in UTC */
	date_is(d, "2020-02-28", 1, "2020-02-29");
	date_is(d, "2019-02", 30, "2019-03");
	date_is(d, "2019", 365, "2020");
	const char *bad[] = { "yesterday", "2019-02-17 05:57:13", "2019-13-01", "", "17/02/2019" };
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		assert_int_equal(cl_deid_date(d, bad[i], strlen(bad[i]), 3, out, sizeof(out)),
				 CL_EINVAL);
	cl_deid_close(d);

	/* the strict form: the year, not moved */
	s.year_only_dates = 1;
	d = open_with("k1", &s);
	assert_int_equal(cl_deid_year_only(d), 1);
	date_is(d, "2019-12-30T05:57:13Z", 5, "2019");
	date_is(d, "2019-12-30", -400, "2019");
	cl_deid_close(d);
}

static void birth_is(const struct cl_deid *d, const char *birth, const char *death,
		     const char *want)
{
	char out[64];
	if (cl_deid_birth_date(d, birth, strlen(birth), death, death ? strlen(death) : 0, 0, out,
			       sizeof(out)) != CL_OK)
		fail_msg("%s: %s", birth, cl_error_detail());
	if (strcmp(out, want) != 0)
		fail_msg("born %s, died %s: %s, want %s", birth, death ? death : "-", out, want);
}

static void test_age_cap(void **state)
{
	struct cl_deid_settings s = defaults();
	struct cl_deid *d = open_with("k1", &s);
	char out[64];

	(void)state;
	/* now is 2024-01-01 */
	birth_is(d, "1934-01-02", NULL, "1934-01-02");   /* 89 */
	birth_is(d, "1934-01-01", NULL, "1934-01-01");   /* 90 today */
	birth_is(d, "1933-06-01", NULL, "1934-01-01");   /* 90: 90 years before now */
	birth_is(d, "1920-05-01", NULL, "1934-01-01");   /* 103: shown as 90 */
	birth_is(d, "1901", NULL, "1934");               /* as precise as given */
	/* at death */
	birth_is(d, "1905-03-01", "2000-06-15", "1910-06-15");
	birth_is(d, "1905-03-01", "1994-06-15T10:00:00Z", "1905-03-01"); /* died at 89 */
	birth_is(d, "1904-02-29", "2000-02-29", "1910-02-28");
	/* and then moved like every date of the patient */
	assert_int_equal(cl_deid_birth_date(d, "1920-05-01", 10, NULL, 0, 10, out, sizeof(out)),
			 CL_OK);
	assert_string_equal(out, "1934-01-11");
	assert_int_equal(cl_deid_birth_date(d, "1980-05-01", 10, NULL, 0, -1, out, sizeof(out)),
			 CL_OK);
	assert_string_equal(out, "1980-04-30");
	assert_int_equal(cl_deid_birth_date(d, "born 1920", 9, NULL, 0, 0, out, sizeof(out)),
			 CL_EINVAL);
	cl_deid_close(d);

	s.year_only_dates = 1;
	d = open_with("k1", &s);
	birth_is(d, "1920-05-01", NULL, "1934");
	birth_is(d, "1950-05-01", NULL, "1950");
	cl_deid_close(d);
}

static void zip_is(const struct cl_deid *d, const char *zip, const char *want)
{
	char out[4];
	cl_deid_zip(d, zip, strlen(zip), out);
	if (strcmp(out, want) != 0)
		fail_msg("ZIP %s: %s, want %s", zip, out, want);
}

static void test_zip(void **state)
{
	struct cl_deid_settings s = defaults();
	struct cl_deid *d = open_with("k1", &s), *bad;
	char path[200], keys[200];
	FILE *f;

	(void)state;
	/* nothing listed: every ZIP is 000 */
	zip_is(d, "01002", "000");
	zip_is(d, "90210-1234", "000");
	cl_deid_close(d);

	snprintf(s.zip3_keep, sizeof(s.zip3_keep), "010, 021");
	snprintf(path, sizeof(path), "%s/zip3.txt", dir);
	assert_non_null(f = fopen(path, "w"));
	fputs("902\n100,101\n", f);
	fclose(f);
	snprintf(s.zip3_file, sizeof(s.zip3_file), "%s", path);
	d = open_with("k1", &s);
	zip_is(d, "01002", "010");
	zip_is(d, "02138-4401", "021");
	zip_is(d, "90210", "902");
	zip_is(d, "10115", "101");
	zip_is(d, "01887", "000"); /* 018 is not listed */
	zip_is(d, "03601", "000");
	zip_is(d, "0", "000");
	zip_is(d, "AB1 2CD", "000");
	zip_is(d, "", "000");
	cl_deid_close(d);

	/* a list that is not of 3-digit areas is refused, naming the entry */
	snprintf(keys, sizeof(keys), "%s/k1", dir);
	s.zip3_file[0] = '\0';
	snprintf(s.zip3_keep, sizeof(s.zip3_keep), "010,21");
	assert_int_equal(cl_deid_open(keys, &s, NOW_US, &bad), CL_EINVAL);
	assert_null(bad);
	assert_non_null(strstr(cl_error_detail(), "'21'"));
	snprintf(s.zip3_keep, sizeof(s.zip3_keep), "0100");
	assert_int_equal(cl_deid_open(keys, &s, NOW_US, &bad), CL_EINVAL);
	s.zip3_keep[0] = '\0';
	snprintf(s.zip3_file, sizeof(s.zip3_file), "%s/none.txt", dir);
	assert_int_equal(cl_deid_open(keys, &s, NOW_US, &bad), CL_EIO);
	assert_non_null(strstr(cl_error_detail(), "deid.zip3_file"));
}

/* A store with silver's and gold's tables, in memory. */
static sqlite3 *store(void)
{
	struct cl_silver *sv;
	sqlite3 *db;

	assert_int_equal(sqlite3_open(":memory:", &db), SQLITE_OK);
	if (cl_silver_open(db, &sv) != CL_OK)
		fail_msg("silver: %s", cl_error_detail());
	cl_silver_close(sv);
	assert_int_equal(cl_gold_create(db), CL_OK);
	return db;
}

static void test_every_column_has_a_rule(void **state)
{
	sqlite3 *db = store();
	char name[64], tdir[128], sql[200];
	int columns = 0;

	(void)state;
	for (int i = 0; cl_lake_table(i, name, sizeof(name), tdir, sizeof(tdir), NULL); i++) {
		sqlite3_stmt *st;
		snprintf(sql, sizeof(sql), "SELECT name FROM pragma_table_info('%s')", name);
		assert_int_equal(sqlite3_prepare_v2(db, sql, -1, &st, NULL), SQLITE_OK);
		while (sqlite3_step(st) == SQLITE_ROW) {
			const char *col = (const char *)sqlite3_column_text(st, 0);
			const struct cl_deid_column *r = cl_deid_rule_of(name, col);
			if (!r)
				fail_msg("%s.%s has no de-identification rule", name, col);
			assert_non_null(r->why);
			if (r->rule == CL_DEID_PSEUDONYM)
				assert_non_null(r->whose);
			if (r->rule == CL_DEID_DATE || r->rule == CL_DEID_BIRTH_DATE) {
				/* the person column is a pseudonymised id of the table */
				const struct cl_deid_column *p = cl_deid_rule_of(name, r->whose);
				assert_non_null(p);
				assert_int_equal(p->rule, CL_DEID_PSEUDONYM);
			}
			columns++;
		}
		sqlite3_finalize(st);
	}
	assert_true(columns > 150);
	/* names are dropped wherever they are, and free text too */
	assert_int_equal(cl_deid_rule_of("patient", "family")->rule, CL_DEID_DROP);
	assert_int_equal(cl_deid_rule_of("staff", "name")->rule, CL_DEID_DROP);
	assert_int_equal(cl_deid_rule_of("observation", "value_text")->rule, CL_DEID_FREE_TEXT);
	assert_int_equal(cl_deid_rule_of("observation", "device_id")->rule, CL_DEID_DROP);
	assert_int_equal(cl_deid_rule_of("quarantine", "raw")->rule, CL_DEID_WITHHELD);
	/* a column nobody classified has no rule */
	assert_null(cl_deid_rule_of("patient", "ssn"));
	assert_null(cl_deid_rule_of("gold_staffing", "_source"));
	sqlite3_close(db);
}

static void exec(sqlite3 *db, const char *sql)
{
	char *err = NULL;
	if (sqlite3_exec(db, sql, NULL, NULL, &err) != SQLITE_OK)
		fail_msg("%s: %s", sql, err);
}

#define LINEAGE "'csv', 7, 1, 'line 2', 'row-hash', 1, 1"

static void test_table_export(void **state)
{
	struct cl_deid_settings s = defaults();
	struct cl_deid *d = open_with("k1", &s);
	char out[400], pid[CL_DEID_PSEUDONYM_LEN + 1], eid[CL_DEID_PSEUDONYM_LEN + 1];
	char want[200], *text;
	int64_t rows, shift;
	sqlite3 *db = store();

	(void)state;
	exec(db, "INSERT INTO patient(id, family, given, name, gender, birth_date, death_date,"
		 " city, state, postal_code, country, _source, _file_id, _run_id, _record, _hash,"
		 " _loaded_us, _version) VALUES ('pat-1', 'Hoeger', 'Buster', 'Buster Hoeger', 'male',"
		 " '1920-03-16', '2015-07-01', 'Amherst', 'Massachusetts', '01002', 'US', " LINEAGE ")");
	exec(db, "INSERT INTO encounter(id, patient_id, class, start_ts, end_ts, _source,"
		 " _file_id, _run_id, _record, _hash, _loaded_us, _version) VALUES ('enc-1',"
		 " 'pat-1', 'IMP', '2015-06-01T10:00:00Z', '2015-06-04T12:30:00Z', " LINEAGE ")");
	exec(db, "INSERT INTO observation(id, resource_id, patient_id, encounter_id, code, value,"
		 " value_text, effective_ts, device_id, _source, _file_id, _run_id, _record, _hash,"
		 " _loaded_us, _version) VALUES ('obs-1', 'res-1', 'pat-1', 'enc-1', '8867-4', 80,"
		 " '455 Labadie Underpass', '2015-06-02T08:00:00Z', 'MON-1234', " LINEAGE ")");
	cl_deid_pseudonym(d, "patient", "pat-1", 5, pid);
	cl_deid_pseudonym(d, "encounter", "enc-1", 5, eid);
	shift = cl_deid_shift_days(d, "patient", "pat-1", 5);

	snprintf(out, sizeof(out), "%s/patient.csv", dir);
	assert_int_equal(cl_deid_export(db, d, "patient", "csv", out, &rows), CL_OK);
	assert_int_equal(rows, 1);
	text = slurp(out);
	assert_non_null(strstr(text, "id,gender,birth_date,death_date,marital_status,race,"
				     "ethnicity,state,postal_code,country,organization_id,_source\r\n"));
	/* died at 95: born 90 years before death, both moved by the offset */
	char birth[16], death[16];
	assert_int_equal(cl_deid_date(d, "1925-07-01", 10, shift, birth, sizeof(birth)), CL_OK);
	assert_int_equal(cl_deid_date(d, "2015-07-01", 10, shift, death, sizeof(death)), CL_OK);
	snprintf(want, sizeof(want), "%s,male,%s,%s,,,,Massachusetts,000,US,,csv\r\n", pid, birth,
		 death);
	assert_non_null(strstr(text, want));
	const char *gone[] = { "pat-1", "Hoeger", "Buster", "Amherst", "01002", "1920-03-16",
			       "bronze-file-hash", "row-hash", "line 2", "2015-07-01" };
	for (size_t i = 0; i < sizeof(gone) / sizeof(gone[0]); i++)
		if (strstr(text, gone[i]))
			fail_msg("the de-identified patient holds %s: %s", gone[i], text);
	free(text);

	snprintf(out, sizeof(out), "%s/encounter.ndjson", dir);
	assert_int_equal(cl_deid_export(db, d, "encounter", "ndjson", out, &rows), CL_OK);
	text = slurp(out);
	snprintf(want, sizeof(want), "\"id\":\"%s\",\"patient_id\":\"%s\"", eid, pid);
	assert_non_null(strstr(text, want));
	assert_null(strstr(text, "2015-06-01T10:00:00Z"));
	free(text);

	/* the interval of a stay survives: 3 days 2.5 hours, through SQL */
	assert_int_equal(cl_deid_functions(db, d), CL_OK);
	sqlite3_stmt *st;
	assert_int_equal(sqlite3_prepare_v2(db, "SELECT julianday(deid_date('patient', patient_id,"
				    " end_ts)) - julianday(deid_date('patient', patient_id, start_ts)),"
				    " deid_date('patient', NULL, start_ts), deid_zip('01002'),"
				    " deid_year('2015-06-01'), deid_pseudonym('patient', NULL)"
				    " FROM encounter", -1, &st, NULL), SQLITE_OK);
	assert_int_equal(sqlite3_step(st), SQLITE_ROW);
	assert_true(fabs(sqlite3_column_double(st, 0) - (3 + 2.5 / 24)) < 1e-6);
	assert_string_equal((const char *)sqlite3_column_text(st, 1), "2015"); /* no person */
	assert_string_equal((const char *)sqlite3_column_text(st, 2), "000");
	assert_string_equal((const char *)sqlite3_column_text(st, 3), "2015");
	assert_int_equal(sqlite3_column_type(st, 4), SQLITE_NULL);
	sqlite3_finalize(st);

	snprintf(out, sizeof(out), "%s/observation.csv", dir);
	assert_int_equal(cl_deid_export(db, d, "silver.observation", "csv", out, &rows), CL_OK);
	text = slurp(out);
	assert_null(strstr(text, "Labadie"));     /* free text */
	assert_null(strstr(text, "value_text"));
	assert_null(strstr(text, "MON-1234"));    /* a device serial */
	assert_null(strstr(text, "device_id"));
	assert_non_null(strstr(text, pid));
	assert_non_null(strstr(text, eid));       /* joins the encounter */
	assert_non_null(strstr(text, ",8867-4,"));
	free(text);

	/* withheld tables and unclassified columns are refused, nothing written */
	snprintf(out, sizeof(out), "%s/refused.csv", dir);
	assert_int_equal(cl_deid_export(db, d, "quarantine", "csv", out, &rows), CL_EINVAL);
	assert_non_null(strstr(cl_error_detail(), "quarantine is not exported"));
	exec(db, "ALTER TABLE patient ADD COLUMN ssn TEXT");
	assert_int_equal(cl_deid_export(db, d, "patient", "csv", out, &rows), CL_EINVAL);
	assert_non_null(strstr(cl_error_detail(), "patient.ssn has no de-identification rule"));
	struct stat sb;
	assert_int_equal(stat(out, &sb), -1);
	/* gold: the day is its year */
	exec(db, "INSERT INTO gold_bookings_daily VALUES ('2015-06-01', 'web', 3, 2, 1, 0, 0.33)");
	assert_int_equal(cl_deid_export(db, d, "gold.bookings_daily", "csv", out, &rows), CL_OK);
	text = slurp(out);
	assert_non_null(strstr(text, "\r\n2015,web,3,2,1,0,"));
	assert_null(strstr(text, "2015-06"));
	free(text);
	sqlite3_close(db);
	cl_deid_close(d);
}

/* One rule as the documentation's table row writes it. */
static void doc_row(const struct cl_deid_column *c, char *out, size_t cap)
{
	char rule[200];

	if (c->rule == CL_DEID_PSEUDONYM)
		snprintf(rule, sizeof(rule), "%s (%s)", cl_deid_rule_name(c->rule), c->whose);
	else if (c->rule == CL_DEID_DATE || c->rule == CL_DEID_BIRTH_DATE)
		snprintf(rule, sizeof(rule), "%s (by %s)", cl_deid_rule_name(c->rule), c->whose);
	else
		snprintf(rule, sizeof(rule), "%s", cl_deid_rule_name(c->rule));
	snprintf(out, cap, "| %s | %s | %s | %s |\n", c->table, c->column ? c->column : "(all)",
		 rule, c->why);
}

static void test_docs_show_the_rules(void **state)
{
	char *doc = slurp(doc_path), row[600];
	const char *table = strstr(doc, "| table | column | rule | why |");
	int rules = 0, rows = -2; /* the head and its rule line */

	(void)state;
	assert_non_null(table);
	for (const struct cl_deid_column *c = cl_deid_columns; c->table; c++, rules++) {
		doc_row(c, row, sizeof(row));
		if (!strstr(table, row))
			fail_msg("docs/deidentification.md lacks the row\n%s", row);
	}
	for (const char *p = table; p && *p == '|'; p = strchr(p, '\n'), p = p ? p + 1 : p)
		rows++;
	if (rows != rules)
		fail_msg("docs/deidentification.md has %d rule rows, the code %d", rows, rules);
	free(doc);
}

static int setup(void **state)
{
	(void)state;
	cl_test_tmpdir(dir, sizeof(dir));
	return 0;
}

static int teardown(void **state)
{
	(void)state;
	cl_test_rmtree(dir);
	return 0;
}

int main(int argc, char **argv)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_pseudonym),
		cmocka_unit_test(test_shift_days),
		cmocka_unit_test(test_dates),
		cmocka_unit_test(test_age_cap),
		cmocka_unit_test(test_zip),
		cmocka_unit_test(test_every_column_has_a_rule),
		cmocka_unit_test(test_table_export),
		cmocka_unit_test(test_docs_show_the_rules),
	};
	if (argc != 2) {
		fprintf(stderr, "usage: %s DOCS/deidentification.md\n", argv[0]);
		return 2;
	}
	doc_path = argv[1];
	return cmocka_run_group_tests(tests, setup, teardown);
}
