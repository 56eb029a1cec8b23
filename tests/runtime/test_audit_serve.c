/*
 * The audit trail of a running `carelake serve`: every read of patient
 * data and every refusal is recorded (who, role, action, resource,
 * patient, status, client, request id) and on disk before its reply
 * arrives; the trail passes the library's verify after the session and
 * fails it, naming the line, once a record is edited; compliance searches
 * it as FHIR AuditEvents, a patient sees only the events about itself,
 * other roles are refused; a clinician limited to wards is refused
 * another ward's patient unless it breaks the glass, which is allowed,
 * recorded with its reason and counted; repeated authentication failures
 * from one address get 429 with Retry-After until the window passes; a
 * trail that cannot be opened stops the start.
 *
 * Patients are placed in wards by FHIR Encounters (location display),
 * loaded with `carelake ingest` before the server starts.
 *
 * usage: runtime_audit_serve /path/to/carelake
 */
#include "serve_helpers.h"

#include "audit/cl_audit_read.h"
#include "auth/cl_tokens.h"
#include "core/cl_error.h"
#include "core/cl_fs.h"
#include "core/cl_mem.h"

#include <curl/curl.h>
#include <sys/wait.h>

#include <jansson.h>
#include <sys/stat.h>

/* The tokens of the session, by role. */
struct tokens {
	char nurse[80];        /* clinician limited to ICU-A */
	struct cl_token_info nurse_info;
	char compliance[80];
	char patient[80];      /* bound to p-1 */
	char engineer[80];
	char researcher[80];
};

static void issue(const char *data, enum cl_role role, const char *patient, const char *wards,
		  char *token, struct cl_token_info *info)
{
	struct cl_token_info spec = { .role = role };

	snprintf(spec.name, sizeof(spec.name), "%s", cl_role_name(role));
	if (patient)
		snprintf(spec.patient, sizeof(spec.patient), "%s", patient);
	if (wards)
		snprintf(spec.wards, sizeof(spec.wards), "%s", wards);
	if (cl_tokens_issue(data, &spec, token, 80) != CL_OK)
		fail_msg("token issue: %s", cl_error_detail());
	if (info)
		*info = spec;
}

/* A GET with up to two more headers ("Name: value"). */
static struct reply get_h(const struct server *s, const char *path, const char *token,
			  const char *h1, const char *h2)
{
	return http_h(s, "GET", path, token, NULL, 0, h1, h2);
}

/* The status of a GET (the body freed). */
static long status(const struct server *s, const char *path, const char *token, const char *h1)
{
	struct reply r = get_h(s, path, token, h1, NULL);
	long code = r.code;

	free(r.body);
	return code;
}

/* The Bundle's total of a GET /fhir/AuditEvent that must answer 200. */
static long bundle_total(const struct server *s, const char *query, const char *token,
			 char **body)
{
	struct reply r = get_h(s, query, token, NULL, NULL);
	json_t *j;
	long total;

	if (r.code != 200)
		fail_msg("%s: %ld %s", query, r.code, r.body);
	j = json_loads(r.body, 0, NULL);
	assert_non_null(j);
	assert_string_equal(json_string_value(json_object_get(j, "type")), "searchset");
	total = (long)json_integer_value(json_object_get(j, "total"));
	json_decref(j);
	if (body)
		*body = r.body;
	else
		free(r.body);
	return total;
}

/* Two inpatient encounters: p-1 in ICU-A, p-2 in Ward-C. */
static void place_patients(const char *data)
{
	char path[400], cmd[1200];
	FILE *f;

	snprintf(path, sizeof(path), "%s.encounters.ndjson", data);
	f = fopen(path, "w");
	assert_non_null(f);
	fputs("{\"resourceType\":\"Encounter\",\"id\":\"e-1\",\"status\":\"in-progress\","
	      "\"class\":{\"code\":\"IMP\"},\"subject\":{\"reference\":\"Patient/p-1\"},"
	      "\"period\":{\"start\":\"2026-11-01T08:00:00Z\"},"
	      "\"location\":[{\"location\":{\"display\":\"ICU-A\"}}]}\n"
	      "{\"resourceType\":\"Encounter\",\"id\":\"e-2\",\"status\":\"in-progress\","
	      "\"class\":{\"code\":\"IMP\"},\"subject\":{\"reference\":\"Patient/p-2\"},"
	      "\"period\":{\"start\":\"2026-11-01T08:00:00Z\"},"
	      "\"location\":[{\"location\":{\"display\":\"Ward-C\"}}]}\n", f);
	fclose(f);
	snprintf(cmd, sizeof(cmd), "'%s' ingest --data '%s' '%s' >/dev/null 2>&1", bin, data, path);
	assert_int_equal(system(cmd), 0);
}

struct find_rid {
	const char *rid;
	int found;
	int status;
	char break_glass[128];
	char patient[64];
	char query[200];
};

static int match_rid(void *arg, const struct cl_audit_entry *e)
{
	struct find_rid *f = arg;

	if (!e->rec.request_id || strcmp(e->rec.request_id, f->rid) != 0)
		return 0;
	f->found++;
	f->status = e->rec.status;
	snprintf(f->break_glass, sizeof(f->break_glass), "%s",
		 e->rec.break_glass ? e->rec.break_glass : "");
	snprintf(f->patient, sizeof(f->patient), "%s",
		 e->rec.npatients ? e->rec.patients[0] : "");
	snprintf(f->query, sizeof(f->query), "%s", e->rec.query ? e->rec.query : "");
	return 0;
}

/* The trail's record of request id rid, as it is on disk now. */
static struct find_rid on_disk(const char *data, const char *rid)
{
	struct find_rid f = { .rid = rid };
	struct cl_audit_filter all = { 0 };
	char audit[400];

	snprintf(audit, sizeof(audit), "%s/audit", data);
	assert_int_equal(cl_audit_search(audit, &all, match_rid, &f), 0);
	return f;
}

/* The ids the server made for requests that brought none: "cl-", the
 * server's start in hex, "-", a count that rises by request. */
struct made_ids {
	int n;
	unsigned long long start, last;
};

static int match_made(void *arg, const struct cl_audit_entry *e)
{
	struct made_ids *m = arg;
	unsigned long long start, count;
	int end = 0;

	if (!e->rec.request_id || strncmp(e->rec.request_id, "cl-", 3) != 0)
		return 0;
	assert_int_equal(sscanf(e->rec.request_id, "cl-%llx-%llu%n", &start, &count, &end), 2);
	assert_int_equal(e->rec.request_id[end], '\0');
	assert_int_equal(strspn(e->rec.request_id + 3, "0123456789abcdef"),
			 strcspn(e->rec.request_id + 3, "-"));
	if (m->n++ == 0)
		m->start = start;
	assert_true(start == m->start && start > 0);
	assert_true(count > m->last);
	m->last = count;
	return 0;
}

/* The session's reads and refusals, each checked against the trail. */
static void session(const struct server *s, const char *data, const struct tokens *t)
{
	struct find_rid f;
	char *body;

	/* a read in the nurse's ward: on disk before its reply arrived */
	assert_int_equal(status(s, "/api/v1/patients/p-1/vitals", t->nurse, "X-Request-Id: rq-1"),
			 200);
	f = on_disk(data, "rq-1");
	assert_int_equal(f.found, 1);
	assert_int_equal(f.status, 200);
	assert_string_equal(f.patient, "p-1");
	/* outside it: refused, and the refusal recorded */
	assert_int_equal(status(s, "/api/v1/patients/p-2/vitals", t->nurse, "X-Request-Id: rq-2"),
			 403);
	f = on_disk(data, "rq-2");
	assert_int_equal(f.status, 403);
	assert_string_equal(f.patient, "p-2");
	/* breaking the glass: allowed, recorded with the reason */
	{
		struct reply r = get_h(s, "/api/v1/patients/p-2/vitals", t->nurse,
				       "X-Request-Id: rq-3", "X-Break-Glass: rapid response call");

		assert_int_equal(r.code, 200);
		free(r.body);
	}
	f = on_disk(data, "rq-3");
	assert_int_equal(f.status, 200);
	assert_string_equal(f.break_glass, "rapid response call");
	assert_int_equal(metric(s, "carelake_audit_break_glass_total"), 1);
	/* a reason too long to be one */
	{
		char h[400];

		snprintf(h, sizeof(h), "X-Break-Glass: %0300d", 7);
		assert_int_equal(status(s, "/api/v1/patients/p-2/vitals", t->nurse, h), 400);
	}
	/* no token, a wrong one, a role without clinical reads */
	assert_int_equal(status(s, "/api/v1/patients/p-1/vitals", NULL, "X-Request-Id: rq-5"), 401);
	assert_int_equal(on_disk(data, "rq-5").status, 401);
	assert_int_equal(status(s, "/api/v1/patients/p-1/vitals", "clk_00", NULL), 401);
	assert_int_equal(status(s, "/api/v1/patients/p-1/vitals", t->engineer, "X-Request-Id: rq-7"),
			 403);
	assert_int_equal(on_disk(data, "rq-7").status, 403);
	/* the query is recorded, a token in it is not */
	assert_int_equal(status(s, "/api/v1/alerts?patient=p-1&open=true&access_token=clk_x",
				t->nurse, "X-Request-Id: rq-8"), 200);
	f = on_disk(data, "rq-8");
	assert_string_equal(f.query, "patient=p-1&open=true&access_token=[withheld]");
	/* a patient: its own record; another patient does not exist */
	assert_int_equal(status(s, "/api/v1/patients/p-1/vitals", t->patient, NULL), 200);
	assert_int_equal(status(s, "/api/v1/patients/p-2/vitals", t->patient, NULL), 404);
	/* those two brought no request id (nor one that is no id): the
	 * server made each a new one */
	assert_int_equal(status(s, "/api/v1/patients/p-1/vitals", t->patient,
				"X-Request-Id: two words"), 200);
	{
		struct cl_audit_filter all = { 0 };
		struct made_ids m = { 0 };
		char audit[400];

		snprintf(audit, sizeof(audit), "%s/audit", data);
		assert_int_equal(cl_audit_search(audit, &all, match_made, &m), 0);
		assert_true(m.n >= 3);
	}

	/* compliance searches the trail */
	assert_int_equal(bundle_total(s, "/fhir/AuditEvent?patient=p-2", t->compliance, &body), 4);
	assert_non_null(strstr(body, "\"BTG\""));
	assert_non_null(strstr(body, "rapid response call"));
	assert_null(strstr(body, "clk_"));  /* never a token */
	free(body);
	assert_int_equal(bundle_total(s, "/fhir/AuditEvent?subtype=break-glass", t->compliance,
				      NULL), 1);
	assert_int_equal(bundle_total(s, "/fhir/AuditEvent?patient=p-2&outcome=4", t->compliance,
				      NULL), 3);
	{
		char q[200];

		snprintf(q, sizeof(q), "/fhir/AuditEvent?agent=%s", t->nurse_info.id);
		assert_int_equal(bundle_total(s, q, t->compliance, NULL), 5);
	}
	assert_int_equal(bundle_total(s, "/fhir/AuditEvent?date=ge2000-01-01&date=le2000-12-31",
				      t->compliance, NULL), 0);
	assert_int_equal(bundle_total(s, "/fhir/AuditEvent?_count=2", t->compliance, &body) > 2, 1);
	{
		json_t *j = json_loads(body, 0, NULL);

		assert_int_equal(json_array_size(json_object_get(j, "entry")), 2);
		json_decref(j);
		free(body);
	}
	assert_int_equal(status(s, "/fhir/AuditEvent?colour=blue", t->compliance, NULL), 400);
	/* a patient sees the events about itself only */
	assert_true(bundle_total(s, "/fhir/AuditEvent", t->patient, &body) >= 2);
	assert_null(strstr(body, "\"p-2\""));
	free(body);
	assert_int_equal(bundle_total(s, "/fhir/AuditEvent?patient=p-2", t->patient, NULL), 0);
	/* the roles that may not */
	assert_int_equal(status(s, "/fhir/AuditEvent", t->nurse, NULL), 403);
	assert_int_equal(status(s, "/fhir/AuditEvent", t->engineer, NULL), 403);
	assert_int_equal(status(s, "/fhir/AuditEvent", t->researcher, NULL), 403);
	assert_int_equal(status(s, "/fhir/AuditEvent", NULL, NULL), 401);
}

/* Reads the audit file into memory (the first one: the session is small). */
static char *read_trail(const char *data, size_t *len)
{
	char path[400], *buf = NULL;
	size_t cap = 0;
	FILE *f;

	snprintf(path, sizeof(path), "%s/audit/audit-000001.jsonl", data);
	f = fopen(path, "r");
	assert_non_null(f);
	*len = (size_t)getdelim(&buf, &cap, '\0', f);
	fclose(f);
	return buf;
}

/* verify passes; a record edited in place is named. */
static void verify_and_tamper(const char *data, const struct tokens *t)
{
	struct cl_audit_verify v;
	char audit[400], path[400], *trail, *third, *p;
	size_t len;
	FILE *f;

	snprintf(audit, sizeof(audit), "%s/audit", data);
	assert_int_equal(cl_audit_verify(audit, NULL, &v), 0);
	if (!v.ok)
		fail_msg("verify: %s", v.problem);
	assert_int_equal(v.records, 24);   /* every request of the session but /metrics */
	assert_true(v.checkpoints >= 1);   /* the close signs one */
	assert_int_equal(v.uncovered, 0);

	trail = read_trail(data, &len);
	/* no secret of any token is in the trail */
	assert_null(strstr(trail, t->nurse));
	assert_null(strstr(trail, t->compliance));
	assert_null(strstr(trail, "clk_"));
	/* the break-glass read's patient changed from p-2 to p-3 */
	third = trail;
	for (int i = 0; i < 2; i++)
		third = strchr(third, '\n') + 1;
	p = strstr(third, "\"p-2\"");
	assert_non_null(p);
	assert_true(p < strchr(third, '\n'));
	p[3] = '3';
	snprintf(path, sizeof(path), "%s/audit/audit-000001.jsonl", data);
	f = fopen(path, "w");
	assert_non_null(f);
	assert_int_equal(fwrite(trail, 1, len, f), len);
	fclose(f);
	free(trail);
	assert_int_equal(cl_audit_verify(audit, NULL, &v), 0);
	assert_false(v.ok);
	assert_int_equal(v.line, 3);
	assert_int_equal(v.seq, 3);
}

static void test_session(void **state)
{
	struct server s;
	struct tokens t;
	char data[300];

	(void)state;
	snprintf(data, sizeof(data), "%s/session", dir);
	place_patients(data);
	server_start(&s, bin, data, NULL);  /* makes the admin token first */
	/* a running server sees new tokens at their first use */
	issue(data, CL_ROLE_CLINICIAN, NULL, "ICU-A,ICU-B", t.nurse, &t.nurse_info);
	issue(data, CL_ROLE_COMPLIANCE, NULL, NULL, t.compliance, NULL);
	issue(data, CL_ROLE_PATIENT, "p-1", NULL, t.patient, NULL);
	issue(data, CL_ROLE_ENGINEER, NULL, NULL, t.engineer, NULL);
	issue(data, CL_ROLE_RESEARCHER, NULL, NULL, t.researcher, NULL);
	session(&s, data, &t);
	assert_int_equal(server_stop(&s), 0);
	verify_and_tamper(data, &t);
}

/* Repeated failures: 429 with Retry-After for every token route, public
 * ones still open, and the address free again once the window passed. */
static void test_too_many_failures(void **state)
{
	const char *extra[] = { "--set", "http.auth_failures=3", "--set",
				"http.auth_failure_window=2s", NULL };
	struct server s;
	struct reply r;
	char data[300];

	(void)state;
	snprintf(data, sizeof(data), "%s/limit", dir);
	server_start(&s, bin, data, extra);
	for (int i = 0; i < 3; i++)
		assert_int_equal(status(&s, "/api/v1/alerts", "clk_guess", NULL), 401);
	r = get_h(&s, "/api/v1/alerts", "clk_guess", NULL, NULL);
	assert_int_equal(r.code, 429);
	assert_true(atoi(r.retry_after) >= 1 && atoi(r.retry_after) <= 2);
	free(r.body);
	/* the right token from the same address waits too; health does not */
	assert_int_equal(status(&s, "/api/v1/alerts", s.token, NULL), 429);
	assert_int_equal(status(&s, "/healthz", NULL, NULL), 200);
	assert_true(metric(&s, "carelake_http_auth_limited_total") >= 2);
	usleep(2300000);
	assert_int_equal(status(&s, "/api/v1/alerts", s.token, NULL), 200);
	assert_int_equal(server_stop(&s), 0);
	{
		struct cl_audit_verify v;
		char audit[400];

		snprintf(audit, sizeof(audit), "%s/audit", data);
		assert_int_equal(cl_audit_verify(audit, NULL, &v), 0);
		assert_true(v.ok);
		assert_int_equal(v.records, 6);   /* 3 × 401, 2 × 429, the search */
	}
}

/* A trail that cannot be opened: serve does not start, and says why. */
static void test_start_needs_trail(void **state)
{
	char data[300], path[400], cmd[1200], out[600] = "";
	FILE *p;
	int st;

	(void)state;
	snprintf(data, sizeof(data), "%s/notrail", dir);
	mkdir(data, 0700);
	snprintf(path, sizeof(path), "%s/audit", data);
	p = fopen(path, "w");  /* a file where the trail's folder belongs */
	assert_non_null(p);
	fclose(p);
	snprintf(cmd, sizeof(cmd), "'%s' serve --data '%s' --listen 127.0.0.1:0 2>&1", bin, data);
	p = popen(cmd, "r");
	assert_non_null(p);
	assert_non_null(fgets(out, sizeof(out), p));
	st = pclose(p);
	assert_true(WIFEXITED(st) && WEXITSTATUS(st) != 0);
	if (!strstr(out, "audit trail"))
		fail_msg("serve said: %s", out);
}

/* The number of alerts GET /api/v1/alerts gives token. */
static size_t alerts_seen(const struct server *s, const char *token, json_t **list)
{
	struct reply r = get_h(s, "/api/v1/alerts", token, NULL, NULL);
	json_t *j = json_loads(r.body ? r.body : "", 0, NULL);
	size_t n = json_array_size(json_object_get(j, "alerts"));

	assert_int_equal(r.code, 200);
	free(r.body);
	if (list)
		*list = j;
	else
		json_decref(j);
	return n;
}

/* The id of the first alert of patient in list ("0" if none), and how
 * many alerts of it there are. */
static int alert_of(json_t *list, const char *patient, char *id, size_t cap)
{
	size_t i;
	json_t *a;
	int n = 0;

	snprintf(id, cap, "0");
	json_array_foreach(json_object_get(list, "alerts"), i, a)
		if (strcmp(json_string_value(json_object_get(a, "patient_id")), patient) == 0 &&
		    n++ == 0)
			snprintf(id, cap, "%lld", (long long)json_integer_value(json_object_get(a, "id")));
	return n;
}

/* The live stream as `token` sees it for ms milliseconds, written to
 * path by a child process; its pid. */
static pid_t stream_to_file(const struct server *s, const char *token, const char *path, long ms)
{
	pid_t pid = fork();

	assert_true(pid >= 0);
	if (pid == 0) {
		char url[128], auth[200];
		struct curl_slist *h;
		FILE *f = fopen(path, "w");
		CURL *e = curl_easy_init();

		snprintf(url, sizeof(url), "%s/api/v1/stream", s->url);
		snprintf(auth, sizeof(auth), "Authorization: Bearer %s", token);
		h = curl_slist_append(NULL, auth);
		curl_easy_setopt(e, CURLOPT_URL, url);
		curl_easy_setopt(e, CURLOPT_HTTPHEADER, h);
		curl_easy_setopt(e, CURLOPT_WRITEDATA, f);
		curl_easy_setopt(e, CURLOPT_TIMEOUT_MS, ms);
		curl_easy_perform(e);
		fclose(f);
		_exit(0);
	}
	return pid;
}

/* A clinician limited to a ward lists and acknowledges the alerts of its
 * ward's patients only, and streams its ward's patients. */
static void test_ward_scope(void **state)
{
	const char *one_reading[] = { CL_TEST_ONE_READING_ALERTS, NULL };
	char data[300], nurse[80], id1[32], id2[32], path[200];
	int n1 = 0, n2 = 0;
	struct server s;
	struct reply r;
	json_t *all;

	(void)state;
	snprintf(data, sizeof(data), "%s/wards", dir);
	place_patients(data);
	server_start(&s, bin, data, one_reading);
	issue(data, CL_ROLE_CLINICIAN, NULL, "ICU-A", nurse, NULL);
	r = post(&s, test_event("w-1", "m-1", "p-1", "spo2", 85, "%"));
	assert_int_equal(r.code, 200);
	free(r.body);
	r = post(&s, test_event("w-2", "m-2", "p-2", "spo2", 84, "%"));
	assert_int_equal(r.code, 200);
	free(r.body);
	for (int i = 0; i < 500 * cl_test_slowdown(); i++) {
		alerts_seen(&s, s.token, &all);
		n1 = alert_of(all, "p-1", id1, sizeof(id1));
		n2 = alert_of(all, "p-2", id2, sizeof(id2));
		json_decref(all);
		if (n1 && n2)
			break;
		usleep(10000);
	}
	assert_true(n1 > 0 && n2 > 0);

	/* p-1 lies in ICU-A, p-2 in Ward-C: the nurse sees p-1's alerts only */
	assert_int_equal(alerts_seen(&s, nurse, &all), (size_t)n1);
	assert_int_equal(alert_of(all, "p-1", path, sizeof(path)), n1);
	assert_string_equal(path, id1);
	json_decref(all);
	snprintf(path, sizeof(path), "/api/v1/alerts/%s/ack", id2);
	r = http(&s, "POST", path, nurse, NULL, 0);
	assert_int_equal(r.code, 404);
	free(r.body);
	snprintf(path, sizeof(path), "/api/v1/alerts/%s/ack", id1);
	r = http(&s, "POST", path, nurse, NULL, 0);
	assert_int_equal(r.code, 200);
	free(r.body);
	/* the stream: its ward's patients, never another ward's */
	assert_int_equal(status(&s, "/api/v1/stream?patient=p-2", nurse, NULL), 403);
	{
		char out[400], *text = NULL;
		size_t len = 0;
		pid_t pid;
		int st;

		snprintf(out, sizeof(out), "%s/ward.stream", dir);
		pid = stream_to_file(&s, nurse, out, 1500L * cl_test_slowdown());
		usleep(500000 * (useconds_t)cl_test_slowdown());
		r = post(&s, test_event("w-3", "m-1", "p-1", "heart_rate", 71, "/min"));
		assert_int_equal(r.code, 200);
		free(r.body);
		r = post(&s, test_event("w-4", "m-2", "p-2", "heart_rate", 72, "/min"));
		assert_int_equal(r.code, 200);
		free(r.body);
		assert_int_equal(waitpid(pid, &st, 0), pid);
		assert_int_equal(cl_fs_read_file(out, 1 << 20, &text, &len), 0);
		if (!strstr(text, "\"patient_id\":\"p-1\""))
			fail_msg("the ward's patient is not in the nurse's stream: %s", text);
		assert_null(strstr(text, "\"patient_id\":\"p-2\""));
		cl_free(text);
	}
	assert_int_equal(server_stop(&s), 0);
}

/* serve --keys DIR: the trail's signing key is made there, not beside
 * the data, and the trail it signs verifies. */
static void test_keys_option(void **state)
{
	char data[300], keys[300], path[400], audit[400];
	const char *extra[] = { "--keys", keys, NULL };
	struct cl_audit_verify v;
	struct server s;
	struct stat st;

	(void)state;
	snprintf(data, sizeof(data), "%s/keyed", dir);
	snprintf(keys, sizeof(keys), "%s/vault", dir);
	assert_int_equal(mkdir(keys, 0700), 0);   /* where a key vault mounts */
	snprintf(keys, sizeof(keys), "%s/vault/carelake", dir);
	server_start(&s, bin, data, extra);
	assert_int_equal(status(&s, "/api/v1/alerts", s.token, NULL), 200);
	assert_int_equal(server_stop(&s), 0);
	snprintf(path, sizeof(path), "%s/audit-signing", keys);
	assert_int_equal(stat(path, &st), 0);
	assert_int_equal(st.st_mode & 0777, 0600);
	snprintf(path, sizeof(path), "%s.keys", data);
	assert_int_equal(stat(path, &st), -1);
	snprintf(audit, sizeof(audit), "%s/audit", data);
	assert_int_equal(cl_audit_verify(audit, NULL, &v), 0);
	assert_true(v.ok);
	assert_true(v.checkpoints >= 1);
}

static const struct CMUnitTest tests[] = {
	cmocka_unit_test(test_session),
	cmocka_unit_test(test_too_many_failures),
	cmocka_unit_test(test_start_needs_trail),
	cmocka_unit_test(test_keys_option),
	cmocka_unit_test(test_ward_scope),
};

SERVE_TEST_MAIN(tests)
