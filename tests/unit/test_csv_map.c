/*
 * CSV mappings (cl_csv_map.c) against known files, into an in-memory
 * silver: which mapping a header selects (in any order and case, with
 * more columns, or none); columns renamed by a declared mapping; each
 * kind of value (text, time, gender, number, int, channel, value, key)
 * with what it becomes and what is refused, and why; vital signs in other
 * units; columns missing, empty or required; ragged and malformed
 * records; values past the limit; and the declarations refused before
 * anything loads.
 */
#include "cl_test.h"
#include "batch/cl_csv_map.h"
#include "batch/cl_silver.h"
#include "core/cl_error.h"

#include <sqlite3.h>

static sqlite3 *db;
static struct cl_silver *silver;
static struct cl_silver_counts counts;

static int setup(void **state)
{
	(void)state;
	if (sqlite3_open(":memory:", &db) != SQLITE_OK || cl_silver_open(db, &silver) != CL_OK)
		return -1;
	/* the warnings and counts of source_rows are not this test's */
	return 0;
}

static int teardown(void **state)
{
	(void)state;
	cl_silver_close(silver);
	sqlite3_close(db);
	return 0;
}

/* Empties silver and loads src through the mapping its header selects
 * (which must be `want_map`). Returns cl_csv_load's result. */
static int load(const char *src, const char *want_map)
{
	const struct cl_csv_mapping *m = cl_csv_map_find(src, strlen(src));
	int rc;

	if (!m)
		fail_msg("no mapping for the header: %s", cl_error_detail());
	assert_string_equal(cl_csv_map_name(m), want_map);
	assert_int_equal(cl_silver_clear(silver), CL_OK);
	memset(&counts, 0, sizeof(counts));
	assert_int_equal(sqlite3_exec(db, "BEGIN", NULL, NULL, NULL), SQLITE_OK);
	cl_silver_lineage(silver, "test", "0000", 1, &counts);
	rc = cl_csv_load(silver, m, src, strlen(src), &counts);
	assert_int_equal(sqlite3_exec(db, rc ? "ROLLBACK" : "COMMIT", NULL, NULL, NULL), SQLITE_OK);
	cl_silver_txn_end(silver);
	return rc;
}

/* The rows of a query as text: values joined by '|', NULL as '-', one
 * line a row. */
static char *rows(const char *sql)
{
	sqlite3_stmt *st;
	char *out = malloc(1 << 16);
	size_t o = 0;

	out[0] = '\0';
	if (sqlite3_prepare_v2(db, sql, -1, &st, NULL) != SQLITE_OK)
		fail_msg("%s: %s", sql, sqlite3_errmsg(db));
	while (sqlite3_step(st) == SQLITE_ROW) {
		for (int i = 0; i < sqlite3_column_count(st); i++) {
			const char *v = (const char *)sqlite3_column_text(st, i);

			o += (size_t)snprintf(out + o, (1 << 16) - o, "%s%s", i ? "|" : "",
					      v ? v : "-");
		}
		o += (size_t)snprintf(out + o, (1 << 16) - o, "\n");
	}
	sqlite3_finalize(st);
	return out;
}

static void expect_rows(const char *sql, const char *want)
{
	char *got = rows(sql);

	assert_string_equal(got, want);
	free(got);
}

#define QUARANTINE "SELECT coalesce(record, '-'), reason FROM quarantine ORDER BY id"

static void test_find(void **state)
{
	static const char *const headers[][2] = {
		{ "Id,BIRTHDATE,DEATHDATE,FIRST,LAST,GENDER\n", "synthea-patients" },
		/* any order, any case, more columns */
		{ "gender,LAST,first,extra,birthdate,ID\n", "synthea-patients" },
		{ "\xef\xbb\xbfstaff_id;name;role;ward\n", "carelake-staff" },
		{ "response_id\tquestion\tscore\n", "carelake-surveys" },
		{ "DATE,PATIENT,ENCOUNTER,CODE,VALUE,UNITS,DESCRIPTION\n", "synthea-observations" },
		/* Synthea's medications and procedures have every column of its
		 * conditions: the mapping that names the most wins */
		{ "START,STOP,PATIENT,ENCOUNTER,CODE,DESCRIPTION\n", "synthea-conditions" },
		{ "START,STOP,PATIENT,PAYER,ENCOUNTER,CODE,DESCRIPTION,BASE_COST,PAYER_COVERAGE,"
		  "DISPENSES,TOTALCOST,REASONCODE,REASONDESCRIPTION\n", "synthea-medications" },
		{ "START,STOP,PATIENT,ENCOUNTER,SYSTEM,CODE,DESCRIPTION,BASE_COST,REASONCODE,"
		  "REASONDESCRIPTION\n", "synthea-procedures" },
	};

	(void)state;
	for (size_t i = 0; i < sizeof(headers) / sizeof(headers[0]); i++) {
		const struct cl_csv_mapping *m = cl_csv_map_find(headers[i][0], strlen(headers[i][0]));

		if (!m || strcmp(cl_csv_map_name(m), headers[i][1]))
			fail_msg("%s: got %s", headers[i][0], m ? cl_csv_map_name(m) : "none");
	}
	/* a column short of every signature; no header; not CSV */
	assert_null(cl_csv_map_find("Id,BIRTHDATE,FIRST,LAST\n", strlen("Id,BIRTHDATE,FIRST,LAST\n")));
	assert_non_null(strstr(cl_error_detail(), "no known CSV header"));
	assert_null(cl_csv_map_find("", 0));
	{
		static const char quoted[] = "\"Id,BIRTHDATE,FIRST,LAST,GENDER\n";
		static const char latin[] = "Id,BIRTH\xff" "DATE,FIRST,LAST,GENDER\n";

		assert_null(cl_csv_map_find(quoted, sizeof(quoted) - 1));
		assert_null(cl_csv_map_find(latin, sizeof(latin) - 1));
	}
	assert_non_null(cl_csv_map_by_name("synthea-procedures"));
	assert_null(cl_csv_map_by_name("census"));
}

static void test_text_time_gender(void **state)
{
	(void)state;
	assert_int_equal(load("Id,BIRTHDATE,DEATHDATE,FIRST,LAST,GENDER,CITY\n"
			      "p1,1950-01-01,2026-11-20T08:30:00+02:00,Ann,Lee,F,\"Cork, \"\"Rebel\"\"\"\n"
			      "p2,2000-02-29,,Bo,,M,\n"
			      "p3,1990-05-05,2026-11-20T06:30:00.750Z,,Kay,x,\xc3\x89ire\n",
			      "synthea-patients"), CL_OK);
	/* times to UTC (seconds), dates kept, M/F folded, another gender
	 * as it is, empty fields NULL, the name made of its parts */
	expect_rows("SELECT id, birth_date, death_date, given, family, name, gender, city FROM patient"
		    " ORDER BY id",
		    "p1|1950-01-01|2026-11-20T06:30:00Z|Ann|Lee|Ann Lee|female|Cork, \"Rebel\"\n"
		    "p2|2000-02-29|-|Bo|-|Bo|male|-\n"
		    "p3|1990-05-05|2026-11-20T06:30:00Z|-|Kay|Kay|x|\xc3\x89ire\n");
	assert_int_equal(counts.accepted, 3);
	/* dates and times that are none: quarantined, saying which column
	 * and what it holds (a leap day of a year without one, a date that
	 * only looks like one, a time with no zone) */
	assert_int_equal(load("Id,BIRTHDATE,FIRST,LAST,GENDER\n"
			      "q1,2001-02-29,A,B,F\n"
			      "q2,abcd-ef-gh,A,B,F\n"
			      "q3,2026-11-20T08:30:00,A,B,F\n"
			      "q4,20261120,A,B,F\n"
			      "q5,1950-13-01,A,B,F\n"
			      "ok,1950-01-01,A,B,F\n",
			      "synthea-patients"), CL_OK);
	expect_rows("SELECT id FROM patient", "ok\n");
	expect_rows(QUARANTINE,
		    "line 2|BIRTHDATE: '2001-02-29' is not a date or an RFC 3339 time\n"
		    "line 3|BIRTHDATE: 'abcd-ef-gh' is not a date or an RFC 3339 time\n"
		    "line 4|BIRTHDATE: '2026-11-20T08:30:00' is not a date or an RFC 3339 time\n"
		    "line 5|BIRTHDATE: '20261120' is not a date or an RFC 3339 time\n"
		    "line 6|BIRTHDATE: '1950-13-01' is not a date or an RFC 3339 time\n");
}

static void test_numbers(void **state)
{
	(void)state;
	/* fte (number) and required_staff (int) through carelake's own
	 * files: what is a number and what is not */
	assert_int_equal(load("staff_id,name,role,ward,fte\n"
			      "s1,A,nurse,W1,0.5\n"
			      "s2,B,nurse,W1,1e0\n"
			      "s3,C,nurse,W1,-.25\n"
			      "s4,D,nurse,W1,+1.\n"
			      "s5,E,nurse,W1,0x10\n"
			      "s6,F,nurse,W1, 1\n"
			      "s7,G,nurse,W1,1 \n"
			      "s8,H,nurse,W1,inf\n"
			      "s9,I,nurse,W1,nan\n"
			      "s10,J,nurse,W1,1e400\n"
			      "s11,K,nurse,W1,1,5\n"
			      "s12,L,nurse,W1,\n"
			      "s13,M,nurse,W1,0.0000000000000000000000000000000000000000000000000000000"
			      "0000000000000000000000000000000000000000000000000000000000000000000000000001"
			      "\n",
			      "carelake-staff"), CL_OK);
	expect_rows("SELECT id, fte FROM staff ORDER BY length(id), id",
		    "s1|0.5\ns2|1.0\ns3|-0.25\ns4|1.0\ns12|-\ns13|1.0e-131\n");
	expect_rows(QUARANTINE,
		    "line 6|fte: '0x10' is not a number\n"
		    "line 7|fte: ' 1' is not a number\n"
		    "line 8|fte: '1 ' is not a number\n"
		    "line 9|fte: 'inf' is not a number\n"
		    "line 10|fte: 'nan' is not a number\n"
		    "line 11|fte: '1e400' is not a number\n"
		    "line 12|line 12 has 6 fields; the header has 5\n");
	assert_int_equal(load("shift_id,ward,start,end,required_staff\n"
			      "h1,W1,2026-11-20T07:00:00Z,2026-11-20T19:00:00Z,3\n"
			      "h2,W1,2026-11-20T07:00:00Z,2026-11-20T19:00:00Z,3.0\n"
			      "h3,W1,2026-11-20T07:00:00Z,2026-11-20T19:00:00Z,-2\n"
			      "h4,W1,2026-11-20T07:00:00Z,2026-11-20T19:00:00Z,9007199254740993\n"
			      "h5,W1,2026-11-20T07:00:00Z,2026-11-20T19:00:00Z,-9223372036854775808\n"
			      "h6,W1,2026-11-20T07:00:00Z,2026-11-20T19:00:00Z,2.5\n"
			      "h7,W1,2026-11-20T07:00:00Z,2026-11-20T19:00:00Z,1e30\n"
			      "h8,W1,2026-11-20T07:00:00Z,2026-11-20T19:00:00Z,9223372036854775808\n"
			      "h9,W1,2026-11-20T07:00:00Z,2026-11-20T19:00:00Z,three\n",
			      "carelake-shifts"), CL_OK);
	/* whole numbers exactly (2^53 + 1 too), inside int64 */
	expect_rows("SELECT id, required_staff FROM shift ORDER BY id",
		    "h1|3\nh2|3\nh3|-2\nh4|9007199254740993\nh5|-9223372036854775808\n");
	expect_rows(QUARANTINE,
		    "line 7|required_staff: '2.5' is not a whole number\n"
		    "line 8|required_staff: '1e30' is not a whole number\n"
		    "line 9|required_staff: '9223372036854775808' is not a whole number\n"
		    "line 10|required_staff: 'three' is not a whole number\n");
}

static void test_channels_and_keys(void **state)
{
	char *first, *second;

	(void)state;
	assert_int_equal(load("message_id,channel,direction,ts\n"
			      "m1,Phone,in,2026-11-20T07:00:00Z\n"
			      "m2,E-MAIL,out,2026-11-20T07:00:00Z\n"
			      "m3,text,in,2026-11-20T07:00:00Z\n"
			      "m4,Portal,in,2026-11-20T07:00:00Z\n"
			      "m5,pigeon,in,2026-11-20T07:00:00Z\n",
			      "carelake-communications"), CL_OK);
	expect_rows("SELECT id, channel FROM communication ORDER BY id",
		    "m1|call\nm2|email\nm3|sms\nm4|online\n");
	expect_rows(QUARANTINE, "line 6|channel: 'pigeon' is not a channel (call, email, sms or "
				"online)\n");
	/* a key made of columns: stable, the same for the same parts in any
	 * file, different when a part differs; two columns of one key
	 * hashed once */
	assert_int_equal(load("START,STOP,PATIENT,ENCOUNTER,CODE,DESCRIPTION\n"
			      "2026-01-01,,p1,e1,44054006,Diabetes\n"
			      "2026-01-01,,p1,e2,44054006,Diabetes\n"
			      "2026-01-01,,p1,e1,44054006,Diabetes again\n",
			      "synthea-conditions"), CL_OK);
	first = rows("SELECT id, encounter_id, display FROM condition ORDER BY encounter_id");
	/* a correction of the first row under the same key, two rows in all */
	assert_int_equal(counts.accepted, 3);
	assert_int_equal(counts.updated, 1);
	assert_int_equal(strlen(first), 2 * (32 + 1 + 2 + 1) + strlen("Diabetes again\n") +
						 strlen("Diabetes\n"));
	assert_int_equal(load("PATIENT,ENCOUNTER,CODE,DESCRIPTION,START,STOP,extra\n"
			      "p1,e1,44054006,Diabetes again,2026-01-01,,x\n"
			      "p1,e2,44054006,Diabetes,2026-01-01,,y\n",
			      "synthea-conditions"), CL_OK);
	second = rows("SELECT id, encounter_id, display FROM condition ORDER BY encounter_id");
	assert_string_equal(first, second);
	free(first);
	free(second);
	assert_int_equal(load("DATE,PATIENT,ENCOUNTER,CODE,VALUE,UNITS,DESCRIPTION\n"
			      "2026-11-20T07:00:00Z,p1,e1,8867-4,72,/min,Heart rate\n",
			      "synthea-observations"), CL_OK);
	expect_rows("SELECT count(*) FROM observation WHERE id = resource_id AND length(id) = 32",
		    "1\n");
}

static void test_values_and_units(void **state)
{
	(void)state;
	/* a number into value, text into value_text; vital signs in
	 * carelake's units (°F to Cel); a vital in a unit it does not
	 * have, or out of its range, quarantined */
	assert_int_equal(load("DATE,PATIENT,ENCOUNTER,CODE,VALUE,UNITS,DESCRIPTION\n"
			      "2026-11-20T07:00:00Z,p1,e1,8310-5,98.6,[degF],Body temperature\n"
			      "2026-11-20T07:01:00Z,p1,e1,72166-2,Never smoker,,Tobacco status\n"
			      "2026-11-20T07:02:00Z,p1,e1,8867-4,72,/min,Heart rate\n"
			      "2026-11-20T07:03:00Z,p1,e1,8310-5,37,furlongs,Body temperature\n"
			      "2026-11-20T07:04:00Z,p1,e1,8867-4,5000,/min,Heart rate\n"
			      "2026-11-20T07:05:00Z,p1,e1,2339-0,5.5,mmol/L,Glucose\n",
			      "synthea-observations"), CL_OK);
	expect_rows("SELECT code, round(value, 2), value_text, unit, source FROM observation"
		    " ORDER BY effective_ts",
		    "8310-5|37.0|-|Cel|csv\n"
		    "72166-2|-|Never smoker|-|csv\n"
		    "8867-4|72.0|-|/min|csv\n"
		    "2339-0|99.09|-|mg/dL|csv\n");
	expect_rows(QUARANTINE,
		    "line 5|unit 'furlongs' is not one for body temperature (use Cel, \xc2\xb0" "C, "
		    "C, degC, [degF], \xc2\xb0" "F, degF, K)\n"
		    "line 6|heart rate 5000 /min is outside the possible range 0..350 /min\n");
	/* `value` into a table that has no value_text: text is refused */
	{
		struct cl_csv_map_decl d[1];
		int n = 0;

		assert_int_equal(cl_csv_map_decl_set(d, &n, 1, "mappings.scores.table",
						     "survey_response"), CL_OK);
		assert_int_equal(cl_csv_map_decl_set(d, &n, 1, "mappings.scores.columns.id", "Rid"),
				 CL_OK);
		assert_int_equal(cl_csv_map_decl_set(d, &n, 1, "mappings.scores.columns.ts",
						     "When as time"), CL_OK);
		assert_int_equal(cl_csv_map_decl_set(d, &n, 1, "mappings.scores.columns.question",
						     "Q"), CL_OK);
		assert_int_equal(cl_csv_map_decl_set(d, &n, 1, "mappings.scores.columns.score",
						     "Score as value"), CL_OK);
		assert_int_equal(cl_csv_map_register(d, n), CL_OK);
		assert_int_equal(load("Rid,When,Q,Score\nr1,2026-11-20,q,4\nr2,2026-11-20,q,good\n",
				      "scores"), CL_OK);
		expect_rows("SELECT id, score FROM survey_response", "r1|4.0\n");
		expect_rows(QUARANTINE, "line 3|Score: 'good' is not a number\n");
		assert_int_equal(cl_csv_map_register(NULL, 0), CL_OK);
	}
}

static void test_declared_mapping(void **state)
{
	static const char *const set[][2] = {
		{ "mappings.census.table", "encounter" },
		{ "mappings.census.signature", "EncounterID+MRN" },
		{ "mappings.census.columns.id", "EncounterID" },
		{ "mappings.census.columns.patient_id", "MRN" },
		{ "mappings.census.columns.ward", "Unit" },
		{ "mappings.census.columns.start_ts", "Admitted as time" },
		{ "mappings.census.columns.class", "Kind" },
		{ "mappings.census.columns.class", "Class" }, /* declared again: replaced */
	};
	struct cl_csv_map_decl d[2];
	int n = 0;

	(void)state;
	for (size_t i = 0; i < sizeof(set) / sizeof(set[0]); i++)
		assert_int_equal(cl_csv_map_decl_set(d, &n, 2, set[i][0], set[i][1]), CL_OK);
	assert_int_equal(n, 1);
	assert_int_equal(cl_csv_map_register(d, n), CL_OK);
	/* tried before the built-in ones; columns it does not map ignored;
	 * a column it maps missing from the file (Unit): NULL */
	assert_int_equal(load("MRN,EncounterID,Admitted,Class,Id,START,STOP,PATIENT,ENCOUNTERCLASS\n"
			      "m1,e1,2026-11-20T07:00:00Z,inpatient,x,y,z,w,v\n"
			      "m2,,2026-11-20T07:00:00Z,inpatient,x,y,z,w,v\n"
			      ",e3,2026-11-20,emergency,x,y,z,w,v\n",
			      "census"), CL_OK);
	expect_rows("SELECT id, patient_id, ward, start_ts, class FROM encounter",
		    "e1|m1|-|2026-11-20T07:00:00Z|inpatient\n");
	/* required columns empty: quarantined, naming the column */
	expect_rows(QUARANTINE, "line 3|encounter.id is required\n"
				"line 4|encounter.patient_id is required\n");
	assert_int_equal(cl_csv_map_register(NULL, 0), CL_OK);
}

static void test_declarations_refused(void **state)
{
	static const struct {
		const char *key, *value, *error;
	} bad[] = {
		{ "mappings.m.table", "patients", "there is no silver table 'patients'" },
		{ "mappings.m.columns.id", "X as colour", "'colour' is not a kind" },
		{ "mappings.m.columns.id", " as time", "a CSV column" },
		{ "mappings.m.columns.", "X", "a silver column name" },
		{ "mappings.synthea-patients.table", "patient", "a built-in mapping has that name" },
		{ "mappings..table", "patient", "mapping names are 1 to 47 characters" },
		{ "mappings.m.signature", "", "CSV columns joined by '+'" },
	};
	struct cl_csv_map_decl d[2];
	int n;

	(void)state;
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		n = 0;
		if (cl_csv_map_decl_set(d, &n, 2, bad[i].key, bad[i].value) != CL_EINVAL ||
		    !strstr(cl_error_detail(), bad[i].error))
			fail_msg("%s=%s: '%s', want '%s'", bad[i].key, bad[i].value, cl_error_detail(),
				 bad[i].error);
	}
	n = 0;
	assert_int_equal(cl_csv_map_decl_set(d, &n, 2, "pipelines.x.path", "/x"), CL_ENOENT);
	/* a required column not mapped; a column the table does not have */
	assert_int_equal(cl_csv_map_decl_set(d, &n, 2, "mappings.m.table", "encounter"), CL_OK);
	assert_int_equal(cl_csv_map_decl_set(d, &n, 2, "mappings.m.columns.id", "X"), CL_OK);
	assert_int_equal(cl_csv_map_register(d, n), CL_EINVAL);
	assert_non_null(strstr(cl_error_detail(), "mappings.m: encounter.patient_id is required"));
	assert_int_equal(cl_csv_map_decl_set(d, &n, 2, "mappings.m.columns.patient_id", "P"), CL_OK);
	assert_int_equal(cl_csv_map_decl_set(d, &n, 2, "mappings.m.columns.colour", "C"), CL_OK);
	assert_int_equal(cl_csv_map_register(d, n), CL_EINVAL);
	assert_non_null(strstr(cl_error_detail(), "mappings.m.columns.colour: encounter has no "
				"such column"));
	/* a table never named */
	n = 0;
	assert_int_equal(cl_csv_map_decl_set(d, &n, 2, "mappings.t.columns.id", "X"), CL_OK);
	assert_int_equal(cl_csv_map_register(d, n), CL_EINVAL);
	assert_non_null(strstr(cl_error_detail(), "mappings.t: a mapping needs .table"));
	/* at most `cap` */
	n = 0;
	assert_int_equal(cl_csv_map_decl_set(d, &n, 1, "mappings.a.table", "patient"), CL_OK);
	assert_int_equal(cl_csv_map_decl_set(d, &n, 1, "mappings.b.table", "patient"), CL_ERANGE);
}

static void test_records_refused(void **state)
{
	(void)state;
	/* ragged lines, a stray quote, a quote never closed, a NUL byte and
	 * Latin-1: each quarantined with why, every good line loads */
	{
		static const char src[] = "Id,BIRTHDATE,FIRST,LAST,GENDER\n"
					  "a1,1950-01-01,A,B,F\n"
					  "a2,1950-01-01,A,B\n"
					  "a3,1950-01-01,A,B,F,extra\n"
					  "a4,1950-01-01,A\"x,B,F\n"
					  "a5,1950-01-01,Jos\xe9,B,F\n"
					  "a6,1950-01-01,A\0B,B,F\n"
					  "a7,1950-01-01,A,B,F\n"
					  "a8,1950-01-01,\"open,B,F\n"
					  "a9,1950-01-01,A,B,F\n";
		const struct cl_csv_mapping *m = cl_csv_map_find(src, sizeof(src) - 1);

		assert_non_null(m);
		assert_int_equal(cl_silver_clear(silver), CL_OK);
		memset(&counts, 0, sizeof(counts));
		cl_silver_lineage(silver, "test", "0000", 1, &counts);
		assert_int_equal(cl_csv_load(silver, m, src, sizeof(src) - 1, &counts), CL_OK);
	}
	expect_rows("SELECT id FROM patient ORDER BY id", "a1\na7\na9\n");
	expect_rows(QUARANTINE,
		    "line 3|line 3 has 4 fields; the header has 5\n"
		    "line 4|line 4 has 6 fields; the header has 5\n"
		    "-|line 5: a quote inside an unquoted field\n"
		    "-|line 6: field 3 is not UTF-8 (byte 0xE9 at its byte 4; save the file as "
		    "UTF-8)\n"
		    "-|line 7: field 3 holds a NUL byte (is the file UTF-16? save it as UTF-8)\n"
		    "-|line 9: a quoted field is not closed\n");
	assert_int_equal(counts.records, 9);
	assert_int_equal(counts.quarantined, 6);
	/* a file with a header and nothing else loads nothing, and is no
	 * error; a value cut in a reason is cut where a character starts */
	assert_int_equal(load("Id,BIRTHDATE,FIRST,LAST,GENDER\n", "synthea-patients"), CL_OK);
	assert_int_equal(counts.records, 0);
	assert_int_equal(load("Id,BIRTHDATE,FIRST,LAST,GENDER\n"
			      "z,\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9"
			      "\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9"
			      "\xc3\xa9\xc3\xa9" "x\xc3\xa9,A,B,F\n",
			      "synthea-patients"), CL_OK);
	expect_rows(QUARANTINE,
		    "line 2|BIRTHDATE: '\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9"
		    "\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9"
		    "\xc3\xa9\xc3\xa9\xc3\xa9' is not a date or an RFC 3339 time\n");
}

static void test_long_values(void **state)
{
	size_t big = 1u << 20;
	char *src = malloc(3 * big + 200), *p = src;

	(void)state;
	/* a family name of 1 MiB loads, but with the given name the whole
	 * name is past the limit: quarantined naming `name`; a city of
	 * 1 MiB + 1 names `city`; rows after them load */
	p += sprintf(p, "Id,BIRTHDATE,FIRST,LAST,GENDER,CITY\nl1,1950-01-01,,");
	memset(p, 'f', big);
	p += big;
	p += sprintf(p, ",F,Cork\nl2,1950-01-01,Ann,");
	memset(p, 'f', big);
	p += big;
	p += sprintf(p, ",F,Cork\nl3,1950-01-01,Ann,Lee,F,");
	memset(p, 'c', big + 1);
	p += big + 1;
	p += sprintf(p, "\nl4,1950-01-01,Ann,Lee,F,Cork\n");
	assert_int_equal(load(src, "synthea-patients"), CL_OK);
	expect_rows("SELECT id, length(family), length(name) FROM patient ORDER BY id",
		    "l1|1048576|1048576\nl4|3|7\n");
	expect_rows(QUARANTINE,
		    "line 3|patient.name is 1048580 bytes long; a value may be at most 1048576 bytes "
		    "(1 MiB)\n"
		    "line 4|patient.city is 1048577 bytes long; a value may be at most 1048576 bytes "
		    "(1 MiB)\n");
	free(src);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_find),
		cmocka_unit_test(test_text_time_gender),
		cmocka_unit_test(test_numbers),
		cmocka_unit_test(test_channels_and_keys),
		cmocka_unit_test(test_values_and_units),
		cmocka_unit_test(test_declared_mapping),
		cmocka_unit_test(test_declarations_refused),
		cmocka_unit_test(test_records_refused),
		cmocka_unit_test(test_long_values),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
