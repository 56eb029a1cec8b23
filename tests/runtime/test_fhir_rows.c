/*
 * Rows that arrived as CSV, XLSX or device events, served by the FHIR API
 * as the resources they represent (batch/cl_fhir_rows.h):
 *
 * - a hospital as `carelake generate` writes it (FHIR NDJSON, carelake's
 *   CSV files, an XLSX register), Synthea's CSV export from the shared
 *   data, Synthea medications and procedures written here, and device
 *   events posted to the running server;
 * - every resource served is valid R4 (tests/fhirsearch/r4valid.mjs, the
 *   published StructureDefinitions through @medplum/core), and every type
 *   is there: Patient, Practitioner, Organization, Encounter, Condition,
 *   Observation, MedicationRequest, Procedure, Device, Appointment,
 *   Communication, QuestionnaireResponse;
 * - each resource says what its row says: statuses mapped, references,
 *   codes with their systems, a systolic and a diastolic value as one
 *   85354-9 panel, UCUM units and the device on device vitals;
 * - resources that arrived as FHIR are served as they were stored;
 * - a row changed by a later file makes a new version, an unchanged one
 *   none; a store whose rows were never served (made before) is served
 *   when the server starts.
 */
#include "fhir_helpers.h"
#include "cli_helpers.h"

#include <ctype.h>
#include <sqlite3.h>

static const char *valid_script;
static char data[300];
static struct server srv;
static const char *const serve_args[] = { "--set", "refine.interval=1s", NULL };


static json_t *get_json(const char *path)
{
	struct reply r = get(&srv, path, srv.token, NULL);
	json_t *j;

	if (r.code != 200)
		fail_msg("GET %s: %ld %s", path, r.code, r.body);
	j = json_loads(r.body, 0, NULL);
	assert_non_null(j);
	free(r.body);
	return j;
}

/* The first entry's resource of a search (a new reference), or NULL. */
static json_t *first(const char *query)
{
	char path[1024];
	json_t *b, *res;

	snprintf(path, sizeof(path), "/fhir/%s", query);
	b = get_json(path);
	res = json_object_get(json_array_get(json_object_get(b, "entry"), 0), "resource");
	json_incref(res);
	json_decref(b);
	return res;
}

static long total(const char *query)
{
	char path[1024];
	json_t *b;
	long n;

	snprintf(path, sizeof(path), "/fhir/%s%s_total=accurate&_count=1", query,
		 strchr(query, '?') ? "&" : "?");
	b = get_json(path);
	n = (long)json_integer_value(json_object_get(b, "total"));
	json_decref(b);
	return n;
}

/* Waits until a search finds at least n (the rows are served in the
 * background, within a second or so of their run). */
static void await_total(const char *query, long n)
{
	for (int i = 0; i < 600 * cl_test_slowdown(); i++) {
		if (total(query) >= n)
			return;
		usleep(50 * 1000);
	}
	fail_msg("%s: fewer than %ld found", query, n);
}

static const char *str_at(json_t *j, const char *path)
{
	char key[128];
	const char *dot;

	while ((dot = strchr(path, '.'))) {
		snprintf(key, sizeof(key), "%.*s", (int)(dot - path), path);
		j = isdigit((unsigned char)key[0]) ? json_array_get(j, (size_t)atoi(key))
						   : json_object_get(j, key);
		path = dot + 1;
	}
	j = json_object_get(j, path);
	return json_is_string(j) ? json_string_value(j) : NULL;
}

static int setup(void **state)
{
	char path[1024], cmd[2048];
	int64_t at = cl_time_now_us() - 60 * INT64_C(1000000);
	char body[4096];

	(void)state;
	snprintf(data, sizeof(data), "%s/data", dir);
	snprintf(cmd, sizeof(cmd), "'%s' generate --out '%s/gen' --patients 6 >/dev/null", bin, dir);
	assert_int_equal(system(cmd), 0);
	snprintf(path, sizeof(path), "%s/gen", dir);
	ingest(data, path);
	snprintf(path, sizeof(path), "%s/synthea-csv", shared);
	ingest(data, path);
	server_start(&srv, bin, data, serve_args);
	/* while it runs: Synthea's medications and procedures */
	ingest_text(data, "medications.csv",
		   "START,STOP,PATIENT,PAYER,ENCOUNTER,CODE,DESCRIPTION,BASE_COST,PAYER_COVERAGE,"
		   "DISPENSES,TOTALCOST,REASONCODE,REASONDESCRIPTION\n"
		   "2024-03-01T10:00:00Z,,patient-0001,,enc-patient-0001-a1,314076,lisinopril 10 MG "
		   "Oral Tablet,10,0,1,10,,\n");
	ingest_text(data, "procedures.csv",
		   "START,STOP,PATIENT,ENCOUNTER,SYSTEM,CODE,DESCRIPTION,BASE_COST,REASONCODE,"
		   "REASONDESCRIPTION\n"
		   "2024-03-01T11:00:00Z,2024-03-01T11:30:00Z,patient-0001,enc-patient-0001-a1,"
		   "http://snomed.info/sct,168594001,Clavicle X-ray,100,,\n");
	/* a monitor's readings: a blood pressure (both values at one
	 * instant), a pulse, and a consciousness score, which LOINC has no
	 * code for here */
	snprintf(body, sizeof(body), "[%s,", test_event_at(at, "rows-sbp", "monitor-0001",
							   "patient-0001", "systolic_bp", 151,
							   "mm[Hg]"));
	snprintf(body + strlen(body), sizeof(body) - strlen(body), "%s,",
		 test_event_at(at, "rows-dbp", "monitor-0001", "patient-0001", "diastolic_bp", 94,
			       "mm[Hg]"));
	snprintf(body + strlen(body), sizeof(body) - strlen(body), "%s,",
		 test_event_at(at, "rows-hr", "monitor-0001", "patient-0001", "heart_rate", 77,
			       "/min"));
	snprintf(body + strlen(body), sizeof(body) - strlen(body), "%s]",
		 test_event_at(at, "rows-acvpu", "monitor-0001", "patient-0001", "consciousness", 0,
			       "{score}"));
	{
		struct reply r = post(&srv, body);

		if (r.code != 200 && r.code != 202)
			fail_msg("POST events: %ld %s", r.code, r.body);
		free(r.body);
	}
	await_total("Observation?patient=patient-0001&code=85354-9", 1);
	await_total("Observation?patient=patient-0001&code=8867-4", 1);
	await_total("Observation?code=urn:carelake:vital|consciousness", 1);
	await_total("MedicationRequest?patient=patient-0001", 1);
	await_total("Procedure?patient=patient-0001", 1);
	await_total("Appointment", 12);
	return 0;
}

static int teardown(void **state)
{
	(void)state;
	assert_int_equal(server_stop(&srv), 0);
	return 0;
}

/* Every resource valid R4, of every type. */
static void test_valid(void **state)
{
	static const char *const types[] = { "Patient", "Practitioner", "Organization",
					      "Encounter", "Condition", "Observation",
					      "MedicationRequest", "Procedure", "Device",
					      "Appointment", "Communication",
					      "QuestionnaireResponse" };
	char cmd[2048], want[64];
	const char *out;

	(void)state;
	snprintf(cmd, sizeof(cmd), "node '%s' '%s/fhir' '%s' 2000", valid_script, srv.url,
		 srv.token);
	out = run_node(cmd, "r4valid.out", "served resources are not all valid R4 (is "
		       "@medplum/core installed? scripts/deps.sh runs npm install in "
		       "tests/fhirsearch)");
	print_message("%s", out);
	for (size_t i = 0; i < sizeof(types) / sizeof(types[0]); i++) {
		snprintf(want, sizeof(want), "\"%s\":", types[i]);
		if (!strstr(out, want))
			fail_msg("no %s validated: %s", types[i], out);
	}
}

/* The hospital's own files: bookings, messages, surveys, devices. */
static void test_hospital_files(void **state)
{
	json_t *a, *c, *q, *d;
	long bookings;

	(void)state;
	/* every booking, with the status FHIR names it by */
	bookings = query_long(data, "SELECT count(*) FROM booking");
	assert_true(bookings == 12);
	assert_int_equal(total("Appointment"), bookings);
	assert_int_equal(total("Appointment?patient=patient-0001"), 2);
	assert_int_equal(total("Appointment?status=fulfilled"),
			 query_long(data, "SELECT count(*) FROM booking WHERE status = 'attended'"));
	assert_int_equal(total("Appointment?status=noshow"),
			 query_long(data, "SELECT count(*) FROM booking WHERE status = 'no_show'"));
	assert_int_equal(total("Appointment?status=booked"),
			 query_long(data, "SELECT count(*) FROM booking WHERE status = 'booked'"));
	a = first("Appointment?_id=bk-0001-0");
	assert_non_null(a);
	assert_string_equal(str_at(a, "participant.0.actor.reference"), "Patient/patient-0001");
	assert_non_null(strstr(str_at(a, "participant.1.actor.reference"), "Practitioner/"));
	assert_string_equal(str_at(a, "start"), str_at(a, "end"));
	json_decref(a);

	/* messages: the channel as a participation mode, who sent it */
	assert_int_equal(total("Communication?patient=patient-0001"), 3);
	assert_int_equal(total("Communication"),
			 query_long(data, "SELECT count(*) FROM communication"));
	c = first("Communication?_id=msg-0001-0");
	assert_non_null(c);
	assert_string_equal(str_at(c, "subject.reference"), "Patient/patient-0001");
	assert_string_equal(str_at(c, "medium.0.coding.0.system"),
			    "http://terminology.hl7.org/CodeSystem/v3-ParticipationMode");
	assert_true(str_at(c, "sender.reference") || str_at(c, "sender.identifier.value"));
	json_decref(c);

	/* survey answers */
	assert_int_equal(total("QuestionnaireResponse"),
			 query_long(data, "SELECT count(*) FROM survey_response"));
	q = first("QuestionnaireResponse?patient=patient-0001");
	assert_non_null(q);
	assert_string_equal(str_at(q, "status"), "completed");
	assert_true(json_is_number(json_object_get(json_array_get(json_object_get(
		json_array_get(json_object_get(q, "item"), 0), "answer"), 0), "valueDecimal")));
	json_decref(q);

	/* the monitors */
	d = get_json("/fhir/Device/monitor-0001");
	assert_string_equal(str_at(d, "patient.reference"), "Patient/patient-0001");
	assert_string_equal(str_at(d, "status"), "active");
	assert_string_equal(str_at(d, "identifier.0.value"), "monitor-0001");
	json_decref(d);
	assert_int_equal(total("Device?patient=patient-0002"), 1);
}

/* Device events: a panel for the pressure, UCUM, the device. */
static void test_vitals(void **state)
{
	json_t *bp, *hr, *c, *comps;

	(void)state;
	bp = first("Observation?patient=patient-0001&code=http://loinc.org|85354-9");
	assert_non_null(bp);
	assert_string_equal(str_at(bp, "device.reference"), "Device/monitor-0001");
	assert_string_equal(str_at(bp, "category.0.coding.0.code"), "vital-signs");
	comps = json_object_get(bp, "component");
	assert_int_equal(json_array_size(comps), 2);
	c = json_array_get(comps, 0);
	assert_string_equal(str_at(c, "code.coding.0.code"), "8480-6");
	assert_true(json_real_value(json_object_get(json_object_get(c, "valueQuantity"), "value")) ==
		    151);
	assert_string_equal(str_at(c, "valueQuantity.system"), "http://unitsofmeasure.org");
	assert_string_equal(str_at(c, "valueQuantity.code"), "mm[Hg]");
	c = json_array_get(comps, 1);
	assert_string_equal(str_at(c, "code.coding.0.code"), "8462-4");
	assert_true(json_real_value(json_object_get(json_object_get(c, "valueQuantity"), "value")) ==
		    94);
	json_decref(bp);
	/* the components are searched as FHIR asks */
	assert_int_equal(total("Observation?patient=patient-0001&component-code=8462-4"), 1);
	assert_int_equal(total("Observation?patient=patient-0001&code=8480-6"), 0);

	hr = first("Observation?device=Device/monitor-0001&code=8867-4");
	assert_non_null(hr);
	assert_string_equal(str_at(hr, "id"), "rows-hr");
	assert_string_equal(str_at(hr, "code.coding.0.display"), "Heart rate");
	assert_string_equal(str_at(hr, "valueQuantity.code"), "/min");
	assert_string_equal(str_at(hr, "subject.reference"), "Patient/patient-0001");
	json_decref(hr);
	assert_int_equal(total("Observation?patient=patient-0001&value-quantity=77||/min"), 1);
	assert_int_equal(total("Observation?code=urn:carelake:vital|consciousness"), 1);
}

/* Synthea's CSV: its codes' systems, its blood pressures as panels. */
static void test_synthea_csv(void **state)
{
	json_t *m, *p, *e;
	long pairs;

	(void)state;
	assert_int_equal(total("Patient"), query_long(data, "SELECT count(*) FROM patient"));
	assert_int_equal(total("Organization"),
			 query_long(data, "SELECT count(*) FROM organization"));
	assert_int_equal(total("Condition"), query_long(data, "SELECT count(*) FROM condition"));
	assert_int_equal(total("Encounter"), query_long(data, "SELECT count(*) FROM encounter"));
	/* each systolic with its diastolic: one panel, none apart */
	pairs = query_long(data, "SELECT count(*) FROM (SELECT DISTINCT patient_id, effective_ts,"
			   " coalesce(device_id, ''), coalesce(encounter_id, '') FROM observation"
			   " WHERE code IN ('8480-6', '8462-4') AND source = 'csv')");
	assert_true(pairs > 10);
	assert_int_equal(total("Observation?code=85354-9"), pairs + 1 /* the monitor's */);
	assert_int_equal(total("Observation?code=8462-4"), 0);
	assert_int_equal(total("Condition?code=http://snomed.info/sct|"),
			 query_long(data, "SELECT count(*) FROM condition"));

	m = first("MedicationRequest?patient=patient-0001");
	assert_non_null(m);
	assert_string_equal(str_at(m, "medicationCodeableConcept.coding.0.system"),
			    "http://www.nlm.nih.gov/research/umls/rxnorm");
	assert_string_equal(str_at(m, "encounter.reference"), "Encounter/enc-patient-0001-a1");
	json_decref(m);
	p = first("Procedure?patient=patient-0001");
	assert_non_null(p);
	assert_string_equal(str_at(p, "status"), "completed");
	assert_string_equal(str_at(p, "performedPeriod.end"), "2024-03-01T11:30:00Z");
	json_decref(p);
	e = first("Encounter?class=AMB&_count=1");
	assert_non_null(e);
	assert_string_equal(str_at(e, "class.system"),
			    "http://terminology.hl7.org/CodeSystem/v3-ActCode");
	json_decref(e);
}

/* What arrived as FHIR is served as it was stored, not rendered again. */
static void test_fhir_as_stored(void **state)
{
	char path[512];
	char *text, *line;
	json_t *stored = NULL, *served;

	(void)state;
	snprintf(path, sizeof(path), "%s/gen/fhir/patients.ndjson", dir);
	text = slurp(path);
	assert_non_null(text);
	for (line = strtok(text, "\n"); line && !stored; line = strtok(NULL, "\n"))
		if (strstr(line, "\"id\":\"patient-0003\"") && strstr(line, "\"Patient\""))
			stored = json_loads(line, 0, NULL);
	free(text);
	assert_non_null(stored);
	served = get_json("/fhir/Patient/patient-0003");
	assert_string_equal(str_at(served, "meta.versionId"), "1");
	json_object_del(served, "meta");
	json_object_del(stored, "meta");
	assert_true(json_equal(served, stored));
	json_decref(served);
	json_decref(stored);
}

/* A later file changes a row: a new version; the others none. */
static void test_versions(void **state)
{
	json_t *a;

	(void)state;
	ingest_text(data, "bookings-changed.csv",
		   "booking_id,patient_id,practitioner_id,clinic,channel,booked,appointment,status\n"
		   "bk-0001-0,patient-0001,practitioner-0001,Cardiology,phone,2026-11-01T09:00:00Z,"
		   "2026-12-20T10:00:00Z,cancelled\n");
	for (int i = 0; i < 400 * cl_test_slowdown(); i++) {
		a = get_json("/fhir/Appointment/bk-0001-0");
		if (!strcmp(str_at(a, "status"), "cancelled"))
			break;
		json_decref(a);
		a = NULL;
		usleep(50 * 1000);
	}
	assert_non_null(a);
	assert_string_equal(str_at(a, "meta.versionId"), "2");
	assert_string_equal(str_at(a, "start"), "2026-12-20T10:00:00Z");
	json_decref(a);
	a = get_json("/fhir/Appointment/bk-0001-0/_history");
	assert_int_equal(json_integer_value(json_object_get(a, "total")), 2);
	json_decref(a);
	a = get_json("/fhir/Appointment/bk-0001-1");
	assert_string_equal(str_at(a, "meta.versionId"), "1");
	json_decref(a);
}

/* A store whose rows were never served: served when serve starts. */
static void test_catch_up(void **state)
{
	char path[512];
	sqlite3 *db;

	(void)state;
	assert_int_equal(server_stop(&srv), 0);
	snprintf(path, sizeof(path), "%s/carelake.db", data);
	assert_int_equal(sqlite3_open(path, &db), SQLITE_OK);
	assert_int_equal(sqlite3_exec(db,
		"DELETE FROM fhir_ref WHERE rid IN (SELECT rowid FROM fhir_resource WHERE type ="
		" 'Communication'); DELETE FROM fhir_key WHERE rid IN (SELECT rowid FROM"
		" fhir_resource WHERE type = 'Communication'); DELETE FROM fhir_resource WHERE type ="
		" 'Communication'; DROP TABLE fhir_rows_served;", NULL, NULL, NULL), SQLITE_OK);
	sqlite3_close(db);
	server_start(&srv, bin, data, serve_args);
	await_total("Communication", query_long(data, "SELECT count(*) FROM communication"));
	/* the others again, unchanged: no new versions */
	{
		json_t *a = get_json("/fhir/Appointment/bk-0001-1");

		assert_string_equal(str_at(a, "meta.versionId"), "1");
		json_decref(a);
	}
}

static const struct CMUnitTest tests[] = {
	cmocka_unit_test(test_valid),
	cmocka_unit_test(test_hospital_files),
	cmocka_unit_test(test_vitals),
	cmocka_unit_test(test_synthea_csv),
	cmocka_unit_test(test_fhir_as_stored),
	cmocka_unit_test(test_versions),
	cmocka_unit_test(test_catch_up),
};

int main(int argc, char **argv)
{
	if (argc < 4) {
		fprintf(stderr, "usage: %s /path/to/carelake /path/to/shared/data "
			"/path/to/tests/fhirsearch/r4valid.mjs\n", argv[0]);
		return 2;
	}
	bin = argv[1];
	shared = argv[2];
	valid_script = argv[3];
	SERVE_TEST_RUN_GROUP(tests, setup, teardown);
}
