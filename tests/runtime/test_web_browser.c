/*
 * The ICU board in a real browser (tests/browser/board.mjs: Debian's
 * chromium, headless, through playwright-core, with axe-core): serve runs
 * with eight simulated patients, one patient named as markup
 * (`<img src=x onerror=alert(1)>`, a FHIR Patient) and one whose crisis
 * reading the script posts; the script signs in as a clinician, sees the
 * tiles, waits for the alert to reach the board (it prints the delay,
 * which is reported, not asserted), acknowledges it, checks the name
 * shows as text, runs axe-core, saves screenshots, shows a patient token
 * cannot open the board, and signs out — with no console error and no
 * failed request on the way.
 * The patient page (tests/browser/patient.mjs, beside board.mjs): a serve
 * of its own, with no simulated patients and no wall-clock flush of
 * windows, so the 7 days of 1-minute vitals the script posts with past
 * timestamps all roll up; the script prints the time the page took to read
 * and draw them (reported, not asserted); with no readmission model
 * promoted, the page's risk panel and the Hospital page's risk table say
 * there is no score. Then, on the same serve and data, the My health page
 * (tests/browser/myhealth.mjs) as that patient, checked against
 * `carelake query`.
 * The Hospital page (tests/browser/hospital.mjs), with a readmission
 * model promoted: its risk by ward and band, and a scored patient's risk
 * panel on the patient page, against gold_readmission_risk.
 *   runtime_web_browser /path/to/carelake /path/to/board.mjs SHOT_DIR
 */
#include "cl_test.h"
#include "serve_helpers.h"
#include "fhir_helpers.h"

#include <sys/stat.h>
#include <time.h>

#define PATIENTS "8"


static const char *script, *shots;

static void test_board_in_browser(void **state)
{
	const char *extra[] = { "--set", "ingest.inputs=events,fhir,synthetic",
				"--set", "synthetic.patients=" PATIENTS,
				"--set", "synthetic.rate=40", CL_TEST_ONE_READING_ALERTS, NULL };
	char data[300], clin[128], pat[128], cmd[2048], ev[2200];
	const char *out, *delay;
	struct server s;
	struct reply r;
	int seen = 0;

	(void)state;
	if (access("/usr/bin/chromium", X_OK) != 0 && !getenv("CARELAKE_CHROMIUM"))
		fail_msg("no /usr/bin/chromium: run scripts/deps.sh (it installs Debian's chromium)");
	snprintf(data, sizeof(data), "%s/browser", dir);
	server_start(&s, bin, data, extra);
	token_cli(data, clin, NULL, "issue --role clinician --name nurse-browser");
	token_cli(data, pat, NULL, "issue --role patient --patient patient-0001 --name pat-browser");
	r = http_h(&s, "PUT", "/fhir/Patient/web-xss", s.token,
		   "{\"resourceType\":\"Patient\",\"id\":\"web-xss\","
		   "\"name\":[{\"text\":\"<img src=x onerror=alert(1)>\"}]}",
		   strlen("{\"resourceType\":\"Patient\",\"id\":\"web-xss\","
			  "\"name\":[{\"text\":\"<img src=x onerror=alert(1)>\"}]}"),
		   "Content-Type: application/fhir+json", NULL);
	assert_true(r.code == 200 || r.code == 201);
	free(r.body);
	snprintf(ev, sizeof(ev), "[%s,", test_event("bx1", "m-xss", "web-xss", "heart_rate", 80, "/min"));
	snprintf(ev + strlen(ev), sizeof(ev) - strlen(ev), "%s]",
		 test_event("bc1", "web-monitor-crisis", "web-crisis", "spo2", 97, "%"));
	r = post(&s, ev);
	assert_int_equal(r.code, 200);
	free(r.body);
	/* on the board: the simulated patients and both of ours */
	for (int tries = 0; tries < 1000 * cl_test_slowdown() && !seen; tries++) {
		r = http(&s, "GET", "/api/v1/patients", s.token, NULL, 0);
		seen = strstr(r.body, "web-xss") && strstr(r.body, "web-crisis") &&
		       strstr(r.body, "patient-000" PATIENTS);
		free(r.body);
		if (!seen)
			usleep(10000);
	}
	assert_true(seen);
	mkdir(shots, 0755);
	snprintf(cmd, sizeof(cmd), "node '%s' '%s' '%s' '%s' '%s' '%s' %d", script, s.url, clin, pat,
		 s.token, shots, atoi(PATIENTS) + 2);
	out = run_node(cmd, "board.out", "the board in the browser");
	delay = strstr(out, "alert_delay_ms=");
	assert_non_null(delay);
	assert_non_null(strstr(out, "board ok"));
	/* reported, never asserted: a loaded machine may take longer */
	fprintf(stderr, "%.*s (from posting SpO2 82 to its alert on the board)\n",
		(int)strcspn(delay, "\n"), delay);
	assert_int_equal(server_stop(&s), 0);
}


static void test_patient_in_browser(void **state)
{
	const char *extra[] = { "--set", "ingest.inputs=events,fhir",
				"--set", "stream.idle_flush=1h", CL_TEST_ONE_READING_ALERTS, NULL };
	char data[300], clin[128], pat[128], ward[128], cmd[2600], mjs[1024];
	const char *out, *ms;
	struct server s;

	(void)state;
	if (access("/usr/bin/chromium", X_OK) != 0 && !getenv("CARELAKE_CHROMIUM"))
		fail_msg("no /usr/bin/chromium: run scripts/deps.sh (it installs Debian's chromium)");
	snprintf(mjs, sizeof(mjs), "%.*spatient.mjs", (int)(strrchr(script, '/') + 1 - script), script);
	snprintf(data, sizeof(data), "%s/browser-patient", dir);
	server_start(&s, bin, data, extra);
	token_cli(data, clin, NULL, "issue --role clinician --name nurse-patient-page");
	token_cli(data, pat, NULL, "issue --role patient --patient web-p1 --name pat-patient-page");
	token_cli(data, ward, NULL, "issue --role clinician --ward ICU-Z --name nurse-other-ward");
	mkdir(shots, 0755);
	snprintf(cmd, sizeof(cmd), "node '%s' '%s' '%s' '%s' '%s' '%s' '%s'", mjs, s.url, clin, pat,
		 s.token, ward, shots);
	out = run_node(cmd, "patient.out", "the patient page in the browser");
	assert_non_null(strstr(out, "patient ok"));
	ms = strstr(out, "patient_7d_ms=");
	assert_non_null(ms);
	/* reported, never asserted: a loaded machine may take longer */
	fprintf(stderr, "%.*s (the patient page reading and drawing 7 days of 1-minute rollups)\n",
		(int)strcspn(ms, "\n"), ms);
	/* the same patient's own page, on the same data */
	snprintf(mjs + strlen(mjs) - strlen("patient.mjs"), sizeof(mjs) - strlen(mjs) +
		 strlen("patient.mjs"), "myhealth.mjs");
	snprintf(cmd, sizeof(cmd), "node '%s' '%s' '%s' '%s' '%s' '%s' '%s'", mjs, s.url, pat,
		 s.token, shots, bin, data);
	out = run_node(cmd, "myhealth.out", "the My health page in the browser");
	assert_non_null(strstr(out, "my health ok"));
	assert_int_equal(server_stop(&s), 0);
}

/* The Hospital page: a generated hospital (its wards' stays over the
 * last months) ingested, beside a small readmission cohort ending today
 * and a readmission model trained on both and promoted (so the stays in
 * hospital and the last 30 days' discharges are scored), alerts raised by
 * a serve's stream, gold refreshed by `carelake refine`, then a second
 * serve for the page, with a stay in progress posted as FHIR for the
 * census. hospital.mjs also opens a scored patient's page as a clinician
 * for its risk panel. */
static void test_hospital_in_browser(void **state)
{
	const char *extra[] = { "--set", "ingest.inputs=events,fhir", "--set", "refine.interval=1s",
				CL_TEST_ONE_READING_ALERTS, NULL };
	char data[300], files[300], cmd[2600], mjs[1024], mgr[128], clin[128], eng[128], ev[1200];
	char comp[128], wardd[128], today[16], cohort[320];
	const char *out;
	struct server s;
	struct reply r;
	time_t now = time(NULL);
	int seen = 0;

	(void)state;
	if (access("/usr/bin/chromium", X_OK) != 0 && !getenv("CARELAKE_CHROMIUM"))
		fail_msg("no /usr/bin/chromium: run scripts/deps.sh (it installs Debian's chromium)");
	snprintf(data, sizeof(data), "%s/browser-hospital", dir);
	snprintf(files, sizeof(files), "%s/hospital-files", dir);
	snprintf(cmd, sizeof(cmd), "'%s' generate --patients 40 --out '%s' >/dev/null 2>&1", bin,
		 files);
	assert_int_equal(system(cmd), 0);
	ingest(data, files);
	/* a readmission cohort over the year to today (some 170 index stays,
	 * enough to train on; its last month's discharges are scored), a
	 * model trained on it and the hospital, promoted: it scores at once */
	strftime(today, sizeof(today), "%Y-%m-%d", gmtime(&now));
	snprintf(cohort, sizeof(cohort), "%s/hospital-cohort", dir);
	snprintf(cmd, sizeof(cmd), "'%s' generate --cohort --patients 200 --years 1 --end %s "
		 "--out '%s' >/dev/null 2>&1", bin, today, cohort);
	assert_int_equal(system(cmd), 0);
	strcat(cohort, "/fhir");
	ingest(data, cohort);
	snprintf(cmd, sizeof(cmd), "'%s' model train readmission --data '%s' >/dev/null 2>&1 && "
		 "'%s' model promote v1 --data '%s' >/dev/null 2>&1", bin, data, bin, data);
	assert_int_equal(system(cmd), 0);
	assert_true(query_long(data, "SELECT count(*) FROM gold_readmission_risk "
				     "WHERE status = 'discharged' AND factors <> '[]'") > 0);
	/* a record quarantined (a date that is none), carrying markup */
	ingest_text(data, "bad.ndjson",
		    "{\"resourceType\":\"Observation\",\"id\":\"q-bad\",\"status\":\"final\","
		    "\"code\":{\"text\":\"<script>alert(1)</script>\"},"
		    "\"subject\":{\"reference\":\"Patient/patient-0001\"},"
		    "\"effectiveDateTime\":\"not-a-date\",\"valueQuantity\":{\"value\":1}}\n");
	assert_int_equal(query_long(data, "SELECT count(*) FROM quarantine"), 1);
	/* alerts on two wards' monitors (monitor-0001: ICU-A, 0003: Ward-C) */
	server_start(&s, bin, data, extra);
	snprintf(ev, sizeof(ev), "[%s,", test_event("hx1", "monitor-0001", "patient-0001", "spo2", 82, "%"));
	snprintf(ev + strlen(ev), sizeof(ev) - strlen(ev), "%s,",
		 test_event("hx2", "monitor-0003", "patient-0003", "heart_rate", 150, "/min"));
	snprintf(ev + strlen(ev), sizeof(ev) - strlen(ev), "%s]",
		 test_event("hx3", "monitor-0001", "patient-0001", "heart_rate", 35, "/min"));
	r = post(&s, ev);
	assert_int_equal(r.code, 200);
	free(r.body);
	for (int tries = 0; tries < 1000 * cl_test_slowdown() && !seen; tries++) {
		seen = query_long(data, "SELECT count(DISTINCT patient_id) FROM alert") >= 2;
		if (!seen)
			usleep(10000);
	}
	assert_true(seen);
	assert_int_equal(server_stop(&s), 0);
	snprintf(cmd, sizeof(cmd), "'%s' refine --data '%s' >/dev/null 2>&1", bin, data);
	assert_int_equal(system(cmd), 0);
	assert_true(query_long(data, "SELECT sum(alerts) FROM gold_alerts_daily") >= 2);

	server_start(&s, bin, data, extra);
	token_cli(data, mgr, NULL, "issue --role manager --name manager-browser");
	token_cli(data, clin, NULL, "issue --role clinician --name nurse-hospital");
	token_cli(data, eng, NULL, "issue --role engineer --name engineer-browser");
	token_cli(data, comp, NULL, "issue --role compliance --name compliance-browser");
	token_cli(data, wardd, NULL, "issue --role clinician --ward Ward-D --name nurse-ward-d");
	snprintf(mjs, sizeof(mjs), "%.*shospital.mjs", (int)(strrchr(script, '/') + 1 - script),
		 script);
	snprintf(cmd, sizeof(cmd), "node '%s' '%s' '%s' '%s' '%s' '%s' '%s' '%s'", mjs, s.url, mgr,
		 clin, s.token, shots, bin, data);
	out = run_node(cmd, "hospital.out", "the Hospital page in the browser");
	assert_non_null(strstr(out, "hospital ok"));
	snprintf(mjs, sizeof(mjs), "%.*sstaffing.mjs", (int)(strrchr(script, '/') + 1 - script),
		 script);
	snprintf(cmd, sizeof(cmd), "node '%s' '%s' '%s' '%s' '%s' '%s'", mjs, s.url, mgr, shots,
		 bin, data);
	out = run_node(cmd, "staffing.out", "the Staffing page in the browser");
	assert_non_null(strstr(out, "staffing ok"));
	snprintf(mjs, sizeof(mjs), "%.*spipelines.mjs", (int)(strrchr(script, '/') + 1 - script),
		 script);
	snprintf(cmd, sizeof(cmd), "node '%s' '%s' '%s' '%s' '%s' '%s' '%s' '%s'", mjs, s.url, eng,
		 mgr, s.token, shots, bin, data);
	out = run_node(cmd, "pipelines.out", "the Data and pipelines page in the browser");
	assert_non_null(strstr(out, "pipelines ok"));
	snprintf(mjs, sizeof(mjs), "%.*scompliance.mjs", (int)(strrchr(script, '/') + 1 - script),
		 script);
	snprintf(cmd, sizeof(cmd), "node '%s' '%s' '%s' '%s' '%s' '%s' '%s' '%s'", mjs, s.url, comp,
		 wardd, s.token, shots, bin, data);
	out = run_node(cmd, "compliance.out", "the Compliance page in the browser");
	assert_non_null(strstr(out, "compliance ok"));
	assert_int_equal(server_stop(&s), 0);
}

/* Signing in at an identity provider (tests/browser/oidc.mjs runs the
 * provider and a serve of its own). */
static void test_oidc_in_browser(void **state)
{
	char data[300], cmd[2048], mjs[1024];
	const char *out;

	(void)state;
	if (access("/usr/bin/chromium", X_OK) != 0 && !getenv("CARELAKE_CHROMIUM"))
		fail_msg("no /usr/bin/chromium: run scripts/deps.sh (it installs Debian's chromium)");
	mkdir(shots, 0755);
	snprintf(data, sizeof(data), "%s/browser-oidc", dir);
	snprintf(mjs, sizeof(mjs), "%.*soidc.mjs", (int)(strrchr(script, '/') + 1 - script), script);
	snprintf(cmd, sizeof(cmd), "node '%s' '%s' '%s' '%s'", mjs, bin, data, shots);
	out = run_node(cmd, "oidc.out", "signing in at an identity provider in the browser");
	assert_non_null(strstr(out, "oidc ok"));
}

static const struct CMUnitTest tests[] = {
	cmocka_unit_test(test_board_in_browser),
	cmocka_unit_test(test_oidc_in_browser),
	cmocka_unit_test(test_patient_in_browser),
	cmocka_unit_test(test_hospital_in_browser),
};

int main(int argc, char **argv)
{
	if (argc < 4) {
		fprintf(stderr, "usage: %s /path/to/carelake /path/to/board.mjs SHOT_DIR\n", argv[0]);
		return 2;
	}
	bin = argv[1];
	script = argv[2];
	shots = argv[3];
	SERVE_TEST_RUN(tests);
}
