/*
 * FHIR search parameters of a running `carelake serve`, over the Synthea
 * bundles and tests/data/fhir-search-extra.json (names with accents, a
 * Period, a time with an offset, quantities of several precisions, a
 * blood-pressure panel, urn:uuid references, missing values).
 *
 * - An independent implementation: tests/fhirsearch/compare.mjs loads the
 *   same resources into @medplum/fhir-router's in-memory repository (npm)
 *   and compares the ids of a table of searches (every parameter type,
 *   prefix and modifier), value-quantity and _sort (in pages of 7) with
 *   R4's definitions worked out in the script; every Bundle served for
 *   every type held, and the CapabilityStatement, valid against R4's
 *   StructureDefinitions (medplum's validator).
 * - R4's own rules where that implementation departs from them: string
 *   search starts with and ignores case and accents, :exact does not,
 *   :contains; dates are ranges (eq is containment, a Period and an
 *   offset), sa/eb/ap; a number's precision; tokens with and without a
 *   system; references through a Bundle's urn:uuid; _lastUpdated;
 *   compartment searches with parameters; paging under conditions;
 *   _sort (several keys, descending, no value last, page starts).
 * - A new version replaces the old one's keys; a deletion leaves none;
 *   keys read again when the catalogue changed (an older store).
 * - POST /fhir/{type}/_search with a form body answers as the GET.
 * - _include and _revinclude, :iterate, through urn:uuid references, each
 *   resource once, within a patient token's compartment.
 * - Errors: a malformed value, a modifier a type does not take, :missing
 *   without true/false: 400 saying what was wrong.
 * - Bulk Data export as a client follows the IG: kick-off (system,
 *   Patient, Group per ward; _type, _since, _typeFilter OR-ed), status
 *   202 with X-Progress then the manifest, NDJSON files read back equal
 *   to the same searches, only the asker reads them, cancel, refusals; a
 *   resource that cannot be written in error[]; a job left unfinished
 *   runs at the next start.
 * - `carelake ingest` beside `carelake serve` leaves carelake.db sound.
 *
 * usage: runtime_fhir_search /path/to/carelake /path/to/shared/data
 *        /path/to/tests/fhirsearch/compare.mjs /path/to/tests/data
 */
#include "fhir_helpers.h"

#include "fhir/cl_fhir_index.h"

#include <sqlite3.h>

static const char *compare_script, *test_data;
static char data[300];
static struct server srv;


/* What a search finds, every page: "id,id,..." in order of type and id. */
static char *found(const char *query)
{
	static char out[8192];
	char path[1024];
	struct walk w;
	const char *key;
	json_t *v;

	snprintf(path, sizeof(path), "/fhir/%s", query);
	w = walk(&srv, path, srv.token, NULL, NULL);
	out[0] = '\0';
	json_object_foreach(w.seen, key, v) {
		const char *id = strchr(key, '/') + 1;

		snprintf(out + strlen(out), sizeof(out) - strlen(out), "%s%s", out[0] ? "," : "", id);
	}
	json_decref(w.seen);
	return out;
}

/* Like found, but only the ids made by fhir-search-extra.json (srch-). */
static char *ours(const char *query)
{
	static char out[2048];
	char *all = found(query), *save = NULL;

	out[0] = '\0';
	for (char *t = strtok_r(all, ",", &save); t; t = strtok_r(NULL, ",", &save))
		if (strncmp(t, "srch-", 5) == 0)
			snprintf(out + strlen(out), sizeof(out) - strlen(out), "%s%s", out[0] ? "," : "",
				 t);
	return out;
}

static void integrity(void)
{
	char path[512];
	sqlite3 *db;
	sqlite3_stmt *q;

	snprintf(path, sizeof(path), "%s/carelake.db", data);
	assert_int_equal(sqlite3_open_v2(path, &db, SQLITE_OPEN_READONLY, NULL), SQLITE_OK);
	assert_int_equal(sqlite3_prepare_v2(db, "PRAGMA integrity_check", -1, &q, NULL), SQLITE_OK);
	assert_int_equal(sqlite3_step(q), SQLITE_ROW);
	assert_string_equal((const char *)sqlite3_column_text(q, 0), "ok");
	sqlite3_finalize(q);
	sqlite3_close(db);
}

static int setup(void **state)
{
	char path[1024];
	const char *names[] = { "Buster_Hoeger_ad2e3fc5-2b5d-4cb9-8d03-9ea0f4ac8423.json",
				"Clemente_Kreiger_1484a42d-0eaf-4654-9cbf-6b050a5cd73b.json",
				"Liz_Conn_27c911c6-f045-4ffa-af5d-6eba57ac94b2.json",
				"Ned_Hintz_e4b9259d-0f54-48d1-a35d-b526729a4dfe.json" };
	struct reply r;

	(void)state;
	snprintf(data, sizeof(data), "%s/data", dir);
	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
		snprintf(path, sizeof(path), "%s/synthea-fhir/%s", shared, names[i]);
		ingest(data, path);
	}
	server_start(&srv, bin, data, NULL);
	/* the last file while the server runs: its store stays sound (the
	 * ingest's checkpoint must not reset a WAL the server still uses) */
	snprintf(path, sizeof(path), "%s/fhir-search-extra.json", test_data);
	ingest(data, path);
	usleep(300 * 1000);
	r = get(&srv, "/fhir/Patient?_count=1", srv.token, NULL);
	assert_int_equal(r.code, 200);
	free(r.body);
	integrity();
	return 0;
}

static int teardown(void **state)
{
	(void)state;
	assert_int_equal(server_stop(&srv), 0);
	integrity();
	return 0;
}

/* The same ids as @medplum/fhir-router for the same resources. */
static void test_independent(void **state)
{
	char cmd[4096];
	const char *out;

	(void)state;
	snprintf(cmd, sizeof(cmd),
		 "node '%s' '%s/fhir' '%s' '%s'/synthea-fhir/Buster_Hoeger_*.json "
		 "'%s'/synthea-fhir/Clemente_Kreiger_*.json '%s'/synthea-fhir/Liz_Conn_*.json "
		 "'%s'/synthea-fhir/Ned_Hintz_*.json '%s/fhir-search-extra.json'",
		 compare_script, srv.url, srv.token, shared, shared, shared, shared, test_data);
	out = run_node(cmd, "compare.out", "the comparison with @medplum/fhir-router failed (is it "
		       "installed? scripts/deps.sh runs npm install in tests/fhirsearch)");
	print_message("%s", out);
}

static void test_strings(void **state)
{
	(void)state;
	/* starts with, case and accents aside */
	assert_string_equal(ours("Patient?family=muller"), "srch-pat-1,srch-pat-2");
	assert_string_equal(ours("Patient?family=MÜLLERS"), "srch-pat-2");
	assert_string_equal(ours("Patient?given=zoe"), "srch-pat-1");
	assert_string_equal(ours("Patient?name=ann"), "srch-pat-1");
	assert_string_equal(ours("Patient?address=geneve"), "srch-pat-1");
	assert_string_equal(ours("Patient?address-city=GEN"), "srch-pat-1");
	assert_string_equal(ours("Patient?family=uller"), "");
	/* :exact is the text as written; :contains anywhere */
	assert_string_equal(ours("Patient?family:exact=M%C3%BCller"), "srch-pat-1");
	assert_string_equal(ours("Patient?family:exact=m%C3%BCller"), "");
	assert_string_equal(ours("Patient?family:exact=Muller"), "");
	assert_string_equal(ours("Patient?family:contains=ERSO"), "srch-pat-2");
	assert_string_equal(ours("Practitioner?name=dr"), "srch-gp-1");
	assert_string_equal(ours("Organization?name=rwg"), "srch-org-1");
	/* several values: any */
	assert_string_equal(ours("Patient?given=sam,zoe"), "srch-pat-1,srch-pat-2");
}

static void test_tokens_references(void **state)
{
	(void)state;
	assert_string_equal(ours("Patient?identifier=LOCAL-77"), "srch-pat-1");
	assert_string_equal(ours("Patient?identifier=%7CLOCAL-77"), "srch-pat-1");
	assert_string_equal(ours("Patient?identifier=%7CMRN-1001"), "");
	assert_string_equal(ours("Patient?identifier=urn:oid:1.2.36.146.595.217.0.1%7CMRN-1001"),
			    "srch-pat-1");
	assert_string_equal(ours("Patient?identifier=urn:oid:1.2.36.146.595.217.0.1%7C"),
			    "srch-pat-1");
	assert_string_equal(ours("Patient?active=false"), "srch-pat-2");
	assert_string_equal(ours("Patient?gender:not=female&family=mull"), "srch-pat-2");
	assert_string_equal(ours("Observation?code=%7Clocal-pulse"), "srch-obs-offset");
	assert_string_equal(ours("Observation?code=LOCAL-PULSE"), ""); /* codes keep their case */
	assert_string_equal(ours("Observation?component-code=http://loinc.org%7C8462-4"),
			    "srch-obs-bp");
	assert_string_equal(ours("Observation?status:missing=false&code=8867-4"), "srch-obs-none");
	/* a Bundle's urn:uuid reference is the entry it names */
	assert_string_equal(ours("Patient?general-practitioner=Practitioner/srch-gp-1"),
			    "srch-pat-1,srch-pat-2");
	assert_string_equal(ours("Patient?general-practitioner=srch-gp-1"), "srch-pat-1,srch-pat-2");
	assert_string_equal(ours("Patient?general-practitioner=http://elsewhere.example/fhir/"
				 "Practitioner/srch-gp-1"), "srch-pat-1,srch-pat-2");
	assert_string_equal(ours("Patient?general-practitioner=Organization/srch-gp-1"), "");
	assert_string_equal(ours("Patient?organization=Organization/srch-org-1"), "srch-pat-1");
	assert_string_equal(ours("Observation?device=Device/srch-dev-1"), "srch-obs-bp");
	assert_string_equal(ours("Observation?device:missing=true&subject=Patient/srch-pat-2"),
			    "srch-obs-none");
	/* a reference typed by its modifier */
	assert_string_equal(ours("Observation?subject:Patient=srch-pat-2"),
			    "srch-obs-bp,srch-obs-none");
	assert_int_equal(code_of(&srv, "/fhir/Observation?subject:Group=g1", srv.token, NULL), 400);
	assert_int_equal(code_of(&srv, "/fhir/Observation?subject:Patient=Group/srch-pat-2",
				 srv.token, NULL), 400);
	assert_string_equal(ours("Patient?general-practitioner:Practitioner=srch-gp-1"),
			    "srch-pat-1,srch-pat-2");
	/* chained: through a reference to what it names */
	assert_string_equal(ours("Observation?subject:Patient.family:exact=Mullerson"),
			    "srch-obs-bp,srch-obs-none");
	assert_string_equal(ours("Observation?patient.gender=female&code=8310-5"),
			    "srch-obs-period");
	assert_string_equal(ours("Observation?patient.birthdate=1958"),
			    "srch-obs-offset,srch-obs-period");
	assert_string_equal(ours("Patient?general-practitioner:Practitioner.family=okafor"),
			    "srch-pat-1,srch-pat-2");
	assert_string_equal(ours("Patient?general-practitioner:Practitioner.family=smith"), "");
	/* reverse chained (_has): what names it */
	assert_string_equal(ours("Patient?_has:Observation:patient:code=85354-9"), "srch-pat-2");
	assert_string_equal(ours("Patient?_has:Observation:subject:code=http://loinc.org%7C8310-5"),
			    "srch-pat-1");
	assert_string_equal(ours("Encounter?_has:Observation:encounter:code=local-pulse"),
			    "srch-enc-1");
	assert_string_equal(ours("Practitioner?_has:Patient:general-practitioner:gender=other"),
			    "srch-gp-1");
	/* one link, of a reference parameter, to a parameter of its type */
	assert_string_equal(ours("Observation?subject.gender=female&code=8310-5"), "srch-obs-period");
	assert_int_equal(code_of(&srv, "/fhir/Observation?performer.gender=female", srv.token, NULL),
			 400);
	assert_string_equal(ours("Observation?performer:Practitioner.gender=female"), "");
	assert_int_equal(code_of(&srv, "/fhir/Observation?patient.nosuch=1", srv.token, NULL), 400);
	assert_int_equal(code_of(&srv, "/fhir/Observation?code.family=x", srv.token, NULL), 400);
	assert_int_equal(code_of(&srv, "/fhir/Observation?patient.organization.name=x", srv.token,
				 NULL), 400);
	assert_int_equal(code_of(&srv, "/fhir/Patient?_has:Observation:code:code=1", srv.token,
				 NULL), 400);
	assert_int_equal(code_of(&srv, "/fhir/Patient?_has:Observation=1", srv.token, NULL), 400);
}

static void test_dates_quantities(void **state)
{
	(void)state;
	/* a partial date is a range; eq asks the value to lie inside it */
	assert_string_equal(ours("Patient?birthdate=1958"), "srch-pat-1");
	assert_string_equal(ours("Patient?birthdate=1958-03"), "srch-pat-1");
	assert_string_equal(ours("Patient?birthdate=1958-03-15"), "");
	assert_string_equal(ours("Patient?birthdate=ap1958-03-15"), "srch-pat-1");
	assert_string_equal(ours("Patient?birthdate=ne1958&family=m"), "");
	assert_string_equal(ours("Patient?birthdate:missing=true&family=m"), "srch-pat-2");
	/* 00:30 at +02:00 is the 29th in UTC; a Period over midnight is in
	 * neither day, and is after the 29th began and before the 2nd */
	assert_string_equal(ours("Observation?date=2024-02-29"), "srch-obs-offset");
	assert_string_equal(ours("Observation?date=2024-03-01"), "srch-obs-bp");
	assert_string_equal(ours("Observation?date=2024-03-01T08:00:00Z"), "srch-obs-bp");
	assert_string_equal(ours("Observation?date=2024-03-01T08:00"), "srch-obs-bp");
	assert_string_equal(ours("Observation?date=2024-02"), "srch-obs-offset");
	assert_string_equal(ours("Observation?date=ge2024-02-29"),
			    "srch-obs-bp,srch-obs-offset,srch-obs-period");
	assert_string_equal(ours("Observation?date=gt2024-02-29"), "srch-obs-bp,srch-obs-period");
	assert_string_equal(ours("Observation?date=lt2024-02-29"), "srch-obs-period");
	assert_string_equal(ours("Observation?date=le2024-02-29"),
			    "srch-obs-offset,srch-obs-period");
	assert_string_equal(ours("Observation?date=sa2024-02-28"), "srch-obs-bp,srch-obs-offset");
	assert_string_equal(ours("Observation?date=eb2024-03-01"), "srch-obs-offset");
	assert_string_equal(ours("Observation?date=ne2024-02-29&date=ge2024"),
			    "srch-obs-bp,srch-obs-period");
	assert_string_equal(ours("Observation?date=2024-02-29T22:30:00%2B00:00"), "srch-obs-offset");
	assert_string_equal(ours("Observation?date:missing=true&code=8867-4"), "srch-obs-none");
	/* a number is the range its precision covers */
	assert_string_equal(ours("Observation?value-quantity=5.4"), "srch-obs-offset");
	assert_string_equal(ours("Observation?value-quantity=5.40"), "srch-obs-offset");
	assert_string_equal(ours("Observation?value-quantity=5"), "srch-obs-offset");
	assert_string_equal(ours("Observation?value-quantity=5.41"), "");
	assert_string_equal(ours("Observation?value-quantity=38.3"), "srch-obs-period");
	assert_string_equal(ours("Observation?value-quantity=5.5e-2"), "srch-obs-none");
	assert_string_equal(ours("Observation?value-quantity=5.4%7C%7Cmmol/L"), "srch-obs-offset");
	assert_string_equal(ours("Observation?value-quantity=5.4%7Chttp://unitsofmeasure.org%7Cmmol/L"),
			    "");
	assert_string_equal(ours("Observation?value-quantity=lt0.1%7Chttp://unitsofmeasure.org%7Cg"),
			    "srch-obs-none");
	assert_string_equal(ours("Observation?value-quantity=ap40&value-quantity=gt38"),
			    "srch-obs-period");
	/* _lastUpdated: when carelake took the version */
	assert_string_equal(ours("Observation?_lastUpdated=lt2000&code=8867-4"), "");
	assert_string_equal(ours("Observation?_lastUpdated=ge2000&code=8867-4"), "srch-obs-none");
	/* a compartment search takes the type's parameters */
	assert_string_equal(ours("Patient/srch-pat-1/Observation?date=2024-02-29"),
			    "srch-obs-offset");
	assert_string_equal(ours("Patient/srch-pat-2/Observation?date=2024-02-29"), "");
}

/* What one page of a search holds, in order: "id,id,..." or, with modes,
 * "id/mode,..." (an entry without an id by its resourceType). */
static char *page_of(const char *query, const char *token, int modes)
{
	static char out[4096];
	char path[1024];
	struct reply r;
	json_t *j, *e;
	size_t k;

	snprintf(path, sizeof(path), "/fhir/%s", query);
	r = get(&srv, path, token, NULL);
	if (r.code != 200)
		fail_msg("%s: %ld %s", path, r.code, r.body);
	j = json_loads(r.body, 0, NULL);
	assert_non_null(j);
	out[0] = '\0';
	json_array_foreach(json_object_get(j, "entry"), k, e) {
		json_t *res = json_object_get(e, "resource");
		const char *id = json_string_value(json_object_get(res, "id"));

		snprintf(out + strlen(out), sizeof(out) - strlen(out), "%s%s%s%s", out[0] ? "," : "",
			 id ? id : json_string_value(json_object_get(res, "resourceType")),
			 modes ? "/" : "",
			 modes ? json_string_value(json_object_get(json_object_get(e, "search"), "mode"))
			       : "");
	}
	json_decref(j);
	free(r.body);
	return out;
}

static char *in_order(const char *query)
{
	return page_of(query, srv.token, 0);
}

static char *entries(const char *query, const char *token)
{
	return page_of(query, token, 1);
}

/* _sort: by each key in turn, no value last whichever way, then id. */
static void test_sort(void **state)
{
	(void)state;
	assert_string_equal(in_order("Observation?subject=Patient/srch-pat-1&_sort=date"),
			    "srch-obs-period,srch-obs-offset");
	/* descending by the end: the Period ends after the other began */
	assert_string_equal(in_order("Observation?subject=Patient/srch-pat-1&_sort=-date"),
			    "srch-obs-period,srch-obs-offset");
	assert_string_equal(in_order("Observation?subject=Patient/srch-pat-2&_sort=date"),
			    "srch-obs-bp,srch-obs-none");
	assert_string_equal(in_order("Observation?subject=Patient/srch-pat-2&_sort=-date"),
			    "srch-obs-bp,srch-obs-none");
	assert_string_equal(in_order("Observation?_id=srch-obs-none,srch-obs-bp,srch-obs-offset"
				     "&_sort=-value-quantity"),
			    "srch-obs-offset,srch-obs-none,srch-obs-bp");
	assert_string_equal(in_order("Patient?family=mull&_sort=-_id"), "srch-pat-2,srch-pat-1");
	assert_string_equal(in_order("Patient?family=mull&_sort=birthdate,_id"),
			    "srch-pat-1,srch-pat-2");
	assert_string_equal(in_order("Patient?family=mull&_sort=-family"), "srch-pat-2,srch-pat-1");
	/* a page at a time: the next link carries the sort values */
	assert_string_equal(in_order("Observation?_id=srch-obs-none,srch-obs-bp,srch-obs-offset"
				     "&_sort=-value-quantity&_count=1&_after=d5.4~Observation/"
				     "srch-obs-offset"), "srch-obs-none");
	assert_string_equal(in_order("Observation?_id=srch-obs-none,srch-obs-bp,srch-obs-offset"
				     "&_sort=-value-quantity&_count=1&_after=n~Observation/"
				     "srch-obs-aaa"), "srch-obs-bp");
	assert_int_equal(code_of(&srv, "/fhir/Observation?_sort=date&_after=Observation/x",
				 srv.token, NULL), 400);
	assert_int_equal(code_of(&srv, "/fhir/Observation?_sort=flavour", srv.token, NULL), 400);
}

/* _include and _revinclude (:iterate), within what the token may see. */
static void test_include(void **state)
{
	char patient_token[80];

	(void)state;
	assert_string_equal(entries("Observation?_id=srch-obs-bp&_include=Observation:patient",
				    srv.token), "srch-obs-bp/match,srch-pat-2/include");
	assert_string_equal(entries("Observation?_id=srch-obs-offset&_include=Observation:encounter"
				    "&_include=Observation:subject", srv.token),
			    "srch-obs-offset/match,srch-enc-1/include,srch-pat-1/include");
	/* through a Bundle's urn:uuid */
	assert_string_equal(entries("Patient?_id=srch-pat-1&_include=Patient:general-practitioner",
				    srv.token), "srch-pat-1/match,srch-gp-1/include");
	assert_string_equal(entries("Patient?_id=srch-pat-1&_revinclude=Observation:patient",
				    srv.token),
			    "srch-pat-1/match,srch-obs-offset/include,srch-obs-period/include");
	assert_string_equal(entries("Encounter?_id=srch-enc-1&_revinclude=Observation:encounter",
				    srv.token), "srch-enc-1/match,srch-obs-offset/include");
	/* :iterate follows what was included; each resource once */
	assert_string_equal(entries("Observation?_id=srch-obs-bp,srch-obs-none&_include=Observation:"
				    "patient&_include:iterate=Patient:general-practitioner",
				    srv.token),
			    "srch-obs-bp/match,srch-obs-none/match,srch-pat-2/include,srch-gp-1/include");
	assert_string_equal(entries("Observation?_id=srch-obs-bp,srch-obs-none&_include=Observation:"
				    "patient&_include=Patient:general-practitioner", srv.token),
			    "srch-obs-bp/match,srch-obs-none/match,srch-pat-2/include");
	assert_string_equal(entries("Practitioner?_id=srch-gp-1&_revinclude=Encounter:practitioner"
				    "&_revinclude:iterate=Observation:encounter", srv.token),
			    "srch-gp-1/match,srch-enc-1/include,srch-obs-offset/include");
	/* a patient's token: its own compartment only, nothing outside it */
	token_cli(data, patient_token, NULL, "issue --role patient --patient srch-pat-1 --name p1");
	assert_string_equal(entries("Patient?_revinclude=Observation:patient&_include=Patient:"
				    "general-practitioner", patient_token),
			    "srch-pat-1/match,srch-obs-offset/include,srch-obs-period/include");
	assert_string_equal(entries("Observation?_id=srch-obs-offset&_include=Observation:encounter",
				    patient_token), "srch-obs-offset/match,srch-enc-1/include");
	/* _elements: the matches in part, tagged; what they include whole */
	{
		struct reply r = get(&srv, "/fhir/Observation?_id=srch-obs-bp&_elements=status,value,"
				     "component&_include=Observation:patient", srv.token, NULL);

		assert_int_equal(r.code, 200);
		assert_non_null(strstr(r.body, "\"status\":\"final\""));
		assert_non_null(strstr(r.body, "\"component\""));
		assert_null(strstr(r.body, "\"category\""));
		assert_non_null(strstr(r.body, "SUBSETTED"));
		assert_non_null(strstr(r.body, "\"name\": [{\"family\": \"Mullerson\""));
		assert_non_null(strstr(r.body, "_elements=status,value,component"));
		free(r.body);
		assert_int_equal(code_of(&srv, "/fhir/Observation?_elements=a.b", srv.token, NULL), 400);
		/* _summary=true: R4's summary elements (Patient: not its contact) */
		r = get(&srv, "/fhir/Patient?_id=srch-pat-1&_summary=true", srv.token, NULL);
		assert_int_equal(r.code, 200);
		assert_non_null(strstr(r.body, "\"birthDate\":\"1958-03\""));
		assert_non_null(strstr(r.body, "SUBSETTED"));
		assert_null(strstr(r.body, "generalPractitioner"));
		free(r.body);
		assert_int_equal(code_of(&srv, "/fhir/Patient?_summary=true&_elements=id", srv.token,
					 NULL), 400);
		assert_int_equal(code_of(&srv, "/fhir/Patient?_summary=data&_elements=id", srv.token,
					 NULL), 400);
		/* data: all but the narrative; text: the narrative and what the
		 * type requires (an Observation's status and code) */
		r = get(&srv, "/fhir/Patient?_count=100", srv.token, NULL);
		assert_non_null(strstr(r.body, "\"div\""));
		free(r.body);
		r = get(&srv, "/fhir/Patient?_summary=data&_count=100", srv.token, NULL);
		assert_int_equal(r.code, 200);
		assert_non_null(strstr(r.body, "\"birthDate\""));
		assert_null(strstr(r.body, "\"div\""));
		assert_non_null(strstr(r.body, "SUBSETTED"));
		free(r.body);
		r = get(&srv, "/fhir/Patient?_summary=text&_count=100", srv.token, NULL);
		assert_int_equal(r.code, 200);
		assert_non_null(strstr(r.body, "\"div\""));
		assert_null(strstr(r.body, "\"birthDate\""));
		free(r.body);
		r = get(&srv, "/fhir/Observation?_summary=text&_count=5", srv.token, NULL);
		assert_int_equal(r.code, 200);
		assert_non_null(strstr(r.body, "\"status\""));
		assert_non_null(strstr(r.body, "\"code\""));
		assert_null(strstr(r.body, "\"subject\""));
		assert_null(strstr(r.body, "\"effectiveDateTime\""));
		free(r.body);
		assert_int_equal(code_of(&srv, "/fhir/Patient?_summary=full", srv.token, NULL), 400);
	}
	/* not a reference parameter, or malformed */
	assert_int_equal(code_of(&srv, "/fhir/Observation?_include=Observation:code", srv.token,
				 NULL), 400);
	assert_int_equal(code_of(&srv, "/fhir/Observation?_include=Observation", srv.token, NULL),
			 400);
	assert_int_equal(code_of(&srv, "/fhir/Observation?_include:deep=Observation:patient",
				 srv.token, NULL), 400);
}

/* A write: its status, and the headers asked for into etag/location. */
static long write_req(const char *method, const char *path, const char *body, const char *h,
		      char *etag, char *location)
{
	struct reply r = http_h(&srv, method, path, srv.token, body, body ? strlen(body) : 0,
				body ? "Content-Type: application/fhir+json" : NULL, h);
	const char *loc = strstr(r.headers, "Location: ");
	long code = r.code;

	if (etag)
		snprintf(etag, 64, "%s", r.etag);
	if (location)
		snprintf(location, 300, "%.*s", loc ? (int)strcspn(loc + 10, "\r\n") : 0,
			 loc ? loc + 10 : "");
	free(r.body);
	return code;
}

/* ---- Bulk Data export, as a client follows the IG's steps ---- */

/* Kicks off path (a 202 and its Content-Location) into status_url. */
static void kick(const char *path, const char *token, char *status_url, size_t cap)
{
	struct reply r = http_h(&srv, "GET", path, token, NULL, 0, "Prefer: respond-async",
				"Accept: application/fhir+json");
	const char *loc;

	if (r.code != 202)
		fail_msg("%s: %ld %s", path, r.code, r.body);
	loc = strstr(r.headers, "Content-Location: ");
	assert_non_null(loc);
	loc += strlen("Content-Location: ");
	assert_int_equal(strncmp(loc, srv.url, strlen(srv.url)), 0);
	snprintf(status_url, cap, "%.*s", (int)strcspn(loc + strlen(srv.url), "\r\n"),
		 loc + strlen(srv.url));
	free(r.body);
}

/* Polls a job's status until it is done: its manifest. */
static json_t *manifest_of(const char *status_url, const char *token)
{
	for (int i = 0; i < 600; i++) {
		struct reply r = get(&srv, status_url, token, NULL);
		json_t *m;

		if (r.code == 202) {
			assert_non_null(strstr(r.headers, "X-Progress: "));
			assert_non_null(strstr(r.headers, "Retry-After: "));
			free(r.body);
			usleep(50 * 1000);
			continue;
		}
		if (r.code != 200)
			fail_msg("%s: %ld %s", status_url, r.code, r.body);
		m = json_loads(r.body, 0, NULL);
		free(r.body);
		assert_non_null(m);
		assert_true(json_is_true(json_object_get(m, "requiresAccessToken")));
		assert_non_null(json_string_value(json_object_get(m, "transactionTime")));
		assert_non_null(strstr(json_string_value(json_object_get(m, "request")), "$export"));
		return m;
	}
	fail_msg("%s: still running", status_url);
	return NULL;
}

/* The ids of one output type's file ("id,id,..." sorted by the file's
 * order) after checking each line is one resource of that type; "" when
 * the manifest has no such file. */
static char *exported(json_t *manifest, const char *type, const char *token)
{
	static char out[8192];
	json_t *item;
	size_t k;

	out[0] = '\0';
	json_array_foreach(json_object_get(manifest, "output"), k, item) {
		const char *url = json_string_value(json_object_get(item, "url"));
		struct reply r;
		long lines = 0;

		if (strcmp(json_string_value(json_object_get(item, "type")), type) != 0)
			continue;
		r = get(&srv, url + strlen(srv.url), token, NULL);
		assert_int_equal(r.code, 200);
		for (char *line = r.body, *nl; *line; line = nl + 1) {
			json_t *res;

			nl = strchr(line, '\n');
			assert_non_null(nl);
			res = json_loadb(line, (size_t)(nl - line), 0, NULL);
			assert_non_null(res);
			assert_string_equal(json_string_value(json_object_get(res, "resourceType")), type);
			snprintf(out + strlen(out), sizeof(out) - strlen(out), "%s%s", out[0] ? "," : "",
				 json_string_value(json_object_get(res, "id")));
			json_decref(res);
			lines++;
		}
		assert_int_equal(lines, json_integer_value(json_object_get(item, "count")));
		free(r.body);
	}
	return out;
}

/* The same ids as a search gives (a comma list, in any order). */
static void same_ids(const char *a, const char *b)
{
	char x[8192], y[8192];
	json_t *set = json_object();
	char *save = NULL;
	size_t n = 0;

	snprintf(x, sizeof(x), "%s", a);
	snprintf(y, sizeof(y), "%s", b);
	for (char *t = strtok_r(x, ",", &save); t; t = strtok_r(NULL, ",", &save), n++)
		json_object_set_new(set, t, json_true());
	assert_int_equal(json_object_size(set), n); /* none twice */
	save = NULL;
	for (char *t = strtok_r(y, ",", &save); t; t = strtok_r(NULL, ",", &save), n--)
		if (!json_object_get(set, t))
			fail_msg("%s exported, not found by the search", t);
	assert_int_equal(n, 0);
	json_decref(set);
}

static void test_export(void **state)
{
	char status[300], patient_token[80], clinician[80], path[600], first[300];
	json_t *m;
	struct reply r;

	(void)state;
	/* the whole system, two types, one filtered */
	kick("/fhir/$export?_type=Patient,Observation&_typeFilter=Observation%3Fcode%3D8310-5"
	     "&_typeFilter=Observation%3Fstatus%3Damended&_outputFormat=application/fhir%2Bndjson",
	     srv.token, status, sizeof(status));
	m = manifest_of(status, srv.token);
	same_ids(exported(m, "Patient", srv.token), found("Patient?_count=1000"));
	same_ids(exported(m, "Observation", srv.token),
		 found("Observation?code=8310-5,local-pulse&_count=1000"));
	assert_int_equal(json_array_size(json_object_get(m, "error")), 0);
	json_decref(m);
	snprintf(first, sizeof(first), "%s", status);
	/* only who asked reads it */
	token_cli(data, clinician, NULL, "issue --role clinician --name c1");
	assert_int_equal(code_of(&srv, status, clinician, NULL), 404);
	/* a patient's own record; a Group is a ward */
	token_cli(data, patient_token, NULL, "issue --role patient --patient srch-pat-1 --name p2");
	kick("/fhir/Patient/$export?_type=Observation,Encounter", patient_token, status,
	     sizeof(status));
	m = manifest_of(status, patient_token);
	same_ids(exported(m, "Observation", patient_token), "srch-obs-offset,srch-obs-period");
	same_ids(exported(m, "Encounter", patient_token), "srch-enc-1");
	json_decref(m);
	assert_int_equal(code_of(&srv, "/fhir/$export", patient_token, "Prefer: respond-async"), 403);
	kick("/fhir/Group/ICU-A/$export", srv.token, status, sizeof(status));
	m = manifest_of(status, srv.token);
	same_ids(exported(m, "Patient", srv.token), "srch-pat-1");
	same_ids(exported(m, "Observation", srv.token), "srch-obs-offset,srch-obs-period");
	json_decref(m);
	kick("/fhir/$export?_since=2100-01-01T00:00:00Z", srv.token, status, sizeof(status));
	m = manifest_of(status, srv.token);
	assert_int_equal(json_array_size(json_object_get(m, "output")), 0);
	json_decref(m);
	/* cancelled: gone */
	r = http_h(&srv, "DELETE", first, srv.token, NULL, 0, NULL, NULL);
	assert_int_equal(r.code, 202);
	free(r.body);
	assert_int_equal(code_of(&srv, first, srv.token, NULL), 404);
	/* refusals */
	assert_int_equal(code_of(&srv, "/fhir/$export", srv.token, NULL), 400); /* not async */
	assert_int_equal(code_of(&srv, "/fhir/$export?_outputFormat=text/csv", srv.token,
				 "Prefer: respond-async"), 400);
	assert_int_equal(code_of(&srv, "/fhir/$export?_typeFilter=Observation%3Fdate%3D2024-13",
				 srv.token, "Prefer: respond-async"), 400);
	assert_int_equal(code_of(&srv, "/fhir/$export?_elements=id", srv.token,
				 "Prefer: respond-async"), 400);
	assert_int_equal(code_of(&srv, "/fhir/$export-status/0123", srv.token, NULL), 404);
	/* the replies by status in /metrics count 202 as such, not "other" */
	r = get(&srv, "/metrics", NULL, NULL);
	assert_non_null(strstr(r.body, "carelake_http_responses_total{code=\"202\"} "));
	assert_null(strstr(r.body, "carelake_http_responses_total{code=\"202\"} 0\n"));
	free(r.body);
	snprintf(path, sizeof(path), "/fhir/$export-file/%s/..%%2Fmanifest.json", first + 20);
	assert_int_equal(code_of(&srv, path, srv.token, NULL), 404);
}

/* A resource that cannot be written is an error[] entry, the rest goes
 * out; a job not finished when the server stops runs at its next start. */
static void test_export_errors_restart(void **state)
{
	char status[300], path[2000], req[700];
	json_t *m, *item;
	struct reply r;
	sqlite3 *db;
	FILE *f;

	(void)state;
	snprintf(path, sizeof(path), "%s/carelake.db", data);
	assert_int_equal(sqlite3_open(path, &db), SQLITE_OK);
	sqlite3_busy_timeout(db, 20000); /* beside the server's writers */
	assert_int_equal(sqlite3_exec(db, "UPDATE fhir_resource SET resource = '[broken' WHERE"
				      " id = 'srch-obs-bp' AND current = 1", NULL, NULL, NULL),
			 SQLITE_OK);
	sqlite3_close(db);
	kick("/fhir/$export?_type=Observation&_typeFilter=Observation%3Fsubject%3DPatient/srch-pat-2",
	     srv.token, status, sizeof(status));
	m = manifest_of(status, srv.token);
	item = json_array_get(json_object_get(m, "error"), 0);
	assert_non_null(item);
	assert_string_equal(json_string_value(json_object_get(item, "type")), "OperationOutcome");
	r = get(&srv, json_string_value(json_object_get(item, "url")) + strlen(srv.url), srv.token,
		NULL);
	assert_int_equal(r.code, 200);
	assert_non_null(strstr(r.body, "Observation/srch-obs-bp"));
	free(r.body);
	json_decref(m);

	/* a job left unfinished by a stop: its request alone, as a stop
	 * leaves it; the next start runs it */
	snprintf(req, sizeof(req), "%s/exports/%s/request.json", data, status + 20);
	assert_int_equal(server_stop(&srv), 0);
	snprintf(path, sizeof(path), "mkdir -p %s/exports/00000000000000000000000000000abc && cp %s "
		 "%s/exports/00000000000000000000000000000abc/", data, req, data);
	assert_int_equal(system(path), 0);
	snprintf(path, sizeof(path), "%s/exports/00000000000000000000000000000abc/manifest.json",
		 data);
	f = fopen(path, "r");
	assert_null(f);
	server_start(&srv, bin, data, NULL);
	m = manifest_of("/fhir/$export-status/00000000000000000000000000000abc", srv.token);
	assert_int_equal(json_array_size(json_object_get(m, "error")), 1);
	json_decref(m);
	/* after the restart, ingest's memory of posted Observations holds
	 * none of the REST writes: an Observation may take the id a PUT
	 * Appointment has (another type) */
	assert_int_equal(write_req("POST", "/fhir/Observation", "{\"resourceType\":\"Observation\","
				   "\"id\":\"w-appt\",\"status\":\"final\",\"code\":{\"text\":\"x\"},"
				   "\"subject\":{\"reference\":\"Patient/srch-pat-1\"},"
				   "\"effectiveDateTime\":\"2026-12-01T10:00:00Z\",\"valueQuantity\":"
				   "{\"value\":70,\"unit\":\"/min\",\"system\":\"http://unitsofmeasure.org\","
				   "\"code\":\"/min\"}}", NULL, NULL, NULL), 201);
}

/* PUT, POST, DELETE of any type through bronze and refine, with versions,
 * If-Match, If-None-Exist; searches see each new version. */
static void test_write(void **state)
{
	char etag[64], loc[300], path[400];
	struct reply r;

	(void)state;
	/* update as create, then update: versions 1 and 2 */
	assert_int_equal(write_req("PUT", "/fhir/Patient/w-1", "{\"resourceType\":\"Patient\","
				   "\"id\":\"w-1\",\"name\":[{\"family\":\"Writerson\"}]}", NULL, etag,
				   loc), 201);
	assert_string_equal(etag, "W/\"1\"");
	assert_non_null(strstr(loc, "/fhir/Patient/w-1/_history/1"));
	assert_string_equal(ours("Patient?family=writer"), "");
	assert_string_equal(found("Patient?family=writer"), "w-1");
	assert_int_equal(write_req("PUT", "/fhir/Patient/w-1", "{\"resourceType\":\"Patient\","
				   "\"id\":\"w-1\",\"name\":[{\"family\":\"Penman\"}]}",
				   "If-Match: W/\"1\"", etag, NULL), 200);
	assert_string_equal(etag, "W/\"2\"");
	assert_string_equal(found("Patient?family=writer"), "");
	assert_string_equal(found("Patient?family=penman"), "w-1");
	/* a stale version: 412, nothing written */
	assert_int_equal(write_req("PUT", "/fhir/Patient/w-1", "{\"resourceType\":\"Patient\","
				   "\"id\":\"w-1\"}", "If-Match: W/\"1\"", NULL, NULL), 412);
	assert_int_equal(code_of(&srv, "/fhir/Patient/w-1/_history/3", srv.token, NULL), 404);
	/* the same content again: no new version */
	assert_int_equal(write_req("PUT", "/fhir/Patient/w-1", "{\"resourceType\":\"Patient\","
				   "\"id\":\"w-1\",\"name\":[{\"family\":\"Penman\"}]}", NULL, etag,
				   NULL), 200);
	assert_string_equal(etag, "W/\"2\"");
	/* create: the server's id; conditional create */
	assert_int_equal(write_req("POST", "/fhir/Practitioner", "{\"resourceType\":\"Practitioner\","
				   "\"id\":\"mine\",\"name\":[{\"family\":\"Quill\"}]}", NULL, NULL,
				   loc), 201);
	assert_null(strstr(loc, "/mine/"));
	assert_int_equal(strlen(found("Practitioner?family=quill")), 32);
	assert_int_equal(write_req("POST", "/fhir/Practitioner", "{\"resourceType\":\"Practitioner\","
				   "\"name\":[{\"family\":\"Quill\"}]}", "If-None-Exist: family=quill",
				   NULL, loc), 200);
	assert_int_equal(write_req("POST", "/fhir/Practitioner", "{\"resourceType\":\"Practitioner\","
				   "\"name\":[{\"family\":\"Quillon\"}]}", "If-None-Exist: family=zzz",
				   NULL, NULL), 201);
	assert_int_equal(write_req("POST", "/fhir/Practitioner", "{\"resourceType\":\"Practitioner\"}",
				   "If-None-Exist: family=quill", NULL, NULL), 412);
	assert_int_equal(write_req("POST", "/fhir/Practitioner", "{\"resourceType\":\"Practitioner\"}",
				   "If-None-Exist: birthdate=x", NULL, NULL), 400);
	/* delete: 204, then 410; history keeps every version */
	assert_int_equal(write_req("DELETE", "/fhir/Patient/w-1", NULL, "If-Match: W/\"1\"", NULL,
				   NULL), 412);
	assert_int_equal(write_req("DELETE", "/fhir/Patient/w-1", NULL, NULL, etag, NULL), 204);
	assert_string_equal(etag, "W/\"3\"");
	assert_int_equal(code_of(&srv, "/fhir/Patient/w-1", srv.token, NULL), 410);
	assert_int_equal(code_of(&srv, "/fhir/Patient/w-1/_history/2", srv.token, NULL), 200);
	assert_string_equal(found("Patient?family=penman"), "");
	assert_int_equal(write_req("DELETE", "/fhir/Patient/w-1", NULL, NULL, NULL, NULL), 204);
	assert_int_equal(write_req("DELETE", "/fhir/Patient/never", NULL, NULL, NULL, NULL), 404);
	/* refused: not the type, not the URL's id, invalid (422), not JSON */
	assert_int_equal(write_req("PUT", "/fhir/Patient/w-2", "{\"resourceType\":\"Device\","
				   "\"id\":\"w-2\"}", NULL, NULL, NULL), 400);
	assert_int_equal(write_req("PUT", "/fhir/Patient/w-2", "{\"resourceType\":\"Patient\","
				   "\"id\":\"w-3\"}", NULL, NULL, NULL), 400);
	{
		static const char bad[] = "{\"resourceType\":\"Patient\",\"id\":\"w-2\","
					  "\"birthDate\":\"1970-13-01\"}";

		r = http_h(&srv, "PUT", "/fhir/Patient/w-2", srv.token, bad, strlen(bad),
			   "Content-Type: application/fhir+json", NULL);
	}
	assert_int_equal(r.code, 422);
	assert_non_null(strstr(r.body, "Patient.birthDate"));
	free(r.body);
	assert_int_equal(write_req("PUT", "/fhir/Patient/w-2", "[1]", NULL, NULL, NULL), 400);
	assert_int_equal(code_of(&srv, "/fhir/Patient/w-2", srv.token, NULL), 404);
	/* any type */
	snprintf(path, sizeof(path), "/fhir/Appointment/w-appt");
	assert_int_equal(write_req("PUT", path, "{\"resourceType\":\"Appointment\",\"id\":"
				   "\"w-appt\",\"status\":\"booked\",\"start\":\"2026-12-24T09:00:00Z\","
				   "\"participant\":[{\"actor\":{\"reference\":\"Patient/srch-pat-1\"},"
				   "\"status\":\"accepted\"}]}", NULL, NULL, NULL), 201);
	assert_string_equal(found("Appointment?date=2026-12-24&status=booked"), "w-appt");
}

/* POST /fhir/{type}/_search: the parameters in a form body (and the
 * query), the answer the GET's, its links GETs. */
static void test_post(void **state)
{
	static const char form[] = "family=M%C3%BCll&given=Zo%C3%AB,sam&_sort=-_id";
	const char *ctype = "Content-Type: application/x-www-form-urlencoded";
	struct reply r;
	json_t *j;

	(void)state;
	r = http_h(&srv, "POST", "/fhir/Patient/_search?_count=1", srv.token, form, strlen(form),
		   ctype, NULL);
	assert_int_equal(r.code, 200);
	j = json_loads(r.body, 0, NULL);
	assert_non_null(j);
	assert_string_equal(json_string_value(json_object_get(json_object_get(json_array_get(
				    json_object_get(j, "entry"), 0), "resource"), "id")), "srch-pat-2");
	assert_int_equal(json_integer_value(json_object_get(j, "total")), 2);
	/* the next link is a GET of the same search */
	assert_non_null(strstr(r.body, "/fhir/Patient?_count=1&family=M%C3%BCll&given=Zo%C3%AB,sam"
				       "&_sort=-_id&_after="));
	json_decref(j);
	free(r.body);
	r = http_h(&srv, "POST", "/fhir/Patient/_search", srv.token, "family=%zz", 10, ctype, NULL);
	assert_int_equal(r.code, 400);
	assert_non_null(strstr(r.body, "%XX"));
	free(r.body);
	r = http_h(&srv, "POST", "/fhir/Patient/_search", srv.token, "birthdate=1958-13", 17, ctype,
		   NULL);
	assert_int_equal(r.code, 400);
	assert_non_null(strstr(r.body, "not a date value"));
	free(r.body);
	r = http_h(&srv, "POST", "/fhir/Patient/_search", srv.token, "{}", 2,
		   "Content-Type: application/fhir+json", NULL);
	assert_int_equal(r.code, 415);
	free(r.body);
	r = http_h(&srv, "POST", "/fhir/Patient/_search", NULL, form, strlen(form), ctype, NULL);
	assert_int_equal(r.code, 401);
	free(r.body);
}

/* Pages of a search with conditions hold what one page does. */
static void test_paging(void **state)
{
	char one[8192];

	(void)state;
	snprintf(one, sizeof(one), "%s", found("Observation?category=vital-signs&date=ge2010"));
	assert_true(strlen(one) > 100);
	assert_string_equal(found("Observation?category=vital-signs&date=ge2010&_count=7"), one);
}

static void test_errors(void **state)
{
	static const char *const bad[][2] = {
		{ "/fhir/Observation?date=2024-13", "not a date value" },
		{ "/fhir/Observation?date=xx2024", "not a date value" },
		{ "/fhir/Observation?value-quantity=abc", "not a quantity value" },
		{ "/fhir/Observation?value-quantity=5%7Cx", "not a quantity value" },
		{ "/fhir/Observation?code:exact=x", "the modifier :exact" },
		{ "/fhir/Observation?date:not=2024", "the modifier :not" },
		{ "/fhir/Patient?family:missing=maybe", "takes true or false" },
		{ "/fhir/Patient?family=", "not a string value" },
		{ "/fhir/Patient?general-practitioner=a%20b", "not a reference value" },
		{ "/fhir/Patient?code=x", "code is not a search parameter" },
		{ "/fhir/Observation?_lastUpdated=soon", "not a date value" },
	};

	(void)state;
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		struct reply r = get(&srv, bad[i][0], srv.token, NULL);

		if (r.code != 400 || !strstr(r.body, bad[i][1]) || !strstr(r.body, "OperationOutcome"))
			fail_msg("%s: %ld %s", bad[i][0], r.code, r.body);
		free(r.body);
	}
	assert_int_equal(code_of(&srv, "/fhir/Patient?code=x&_count=1", srv.token,
				 "Prefer: handling=lenient"), 200);
}

/* A new version's keys replace the old one's; a deletion has none. */
static void test_versions(void **state)
{
	(void)state;
	ingest_text(data, "v2.json", "{\"resourceType\":\"Observation\",\"id\":\"srch-obs-none\","
		    "\"status\":\"final\",\"code\":{\"coding\":[{\"system\":\"http://loinc.org\","
		    "\"code\":\"8867-4\"}]},\"subject\":{\"reference\":\"Patient/srch-pat-2\"},"
		    "\"valueQuantity\":{\"value\":72,\"unit\":\"/min\"}}");
	assert_string_equal(ours("Observation?value-quantity=0.055"), "");
	assert_string_equal(ours("Observation?value-quantity=72&code=8867-4"), "srch-obs-none");
	assert_string_equal(ours("Observation?status=preliminary"), "");
	ingest_text(data, "del.json", "{\"resourceType\":\"Bundle\",\"type\":\"transaction\",\"entry\":["
		    "{\"request\":{\"method\":\"DELETE\",\"url\":\"Observation/srch-obs-none\"}}]}");
	assert_string_equal(ours("Observation?code=8867-4"), "");
	assert_string_equal(ours("Observation?value-quantity=72"), "");
}

/* A store whose keys were read by another catalogue (or none, as one
 * older than search parameters) has them read again when refine opens. */
static void test_reindex(void **state)
{
	char path[512], before[8192];
	sqlite3 *db;

	(void)state;
	snprintf(before, sizeof(before), "%s", found("Observation?code=8480-6,8462-4,85354-9"));
	assert_true(strlen(before) > 0);
	assert_int_equal(server_stop(&srv), 0);
	snprintf(path, sizeof(path), "%s/carelake.db", data);
	assert_int_equal(sqlite3_open(path, &db), SQLITE_OK);
	sqlite3_busy_timeout(db, 20000);
	assert_int_equal(sqlite3_exec(db, "DELETE FROM fhir_key; DELETE FROM fhir_key_state", NULL,
				      NULL, NULL), SQLITE_OK);
	sqlite3_close(db);
	server_start(&srv, bin, data, NULL);
	/* until refine has read them: 503, to retry */
	for (int i = 0; i < 200; i++) {
		struct reply r = get(&srv, "/fhir/Observation?code=8480-6", srv.token, NULL);
		long code = r.code;

		if (code == 503)
			assert_non_null(strstr(r.body, "being read again"));
		free(r.body);
		if (code != 503)
			break;
		usleep(50 * 1000);
	}
	assert_string_equal(found("Observation?code=8480-6,8462-4,85354-9"), before);
	assert_int_equal(query_long(data, "SELECT max(version) FROM fhir_key_state"),
			 CL_FHIR_INDEX_VERSION);
}

static const struct CMUnitTest tests[] = {
	cmocka_unit_test(test_independent),
	cmocka_unit_test(test_strings),
	cmocka_unit_test(test_tokens_references),
	cmocka_unit_test(test_dates_quantities),
	cmocka_unit_test(test_paging),
	cmocka_unit_test(test_post),
	cmocka_unit_test(test_include),
	cmocka_unit_test(test_export),
	cmocka_unit_test(test_write),
	cmocka_unit_test(test_sort),
	cmocka_unit_test(test_errors),
	cmocka_unit_test(test_versions),
	cmocka_unit_test(test_reindex),
	cmocka_unit_test(test_export_errors_restart),
};

int main(int argc, char **argv)
{
	if (argc < 5) {
		fprintf(stderr, "usage: %s /path/to/carelake /path/to/shared/data "
			"/path/to/tests/fhirsearch/compare.mjs /path/to/tests/data\n", argv[0]);
		return 2;
	}
	bin = argv[1];
	shared = argv[2];
	compare_script = argv[3];
	test_data = argv[4];
	SERVE_TEST_RUN_GROUP(tests, setup, teardown);
}
