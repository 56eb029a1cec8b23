/*
 * Stream processing end to end through `carelake serve`: events over
 * HTTP, 1-minute rollups and NEWS2 read back from
 * GET /api/v1/patients/{id}/vitals, a late event counted, and a SIGKILL
 * and restart after which no window counts an event twice; NEWS2 over
 * time from GET /api/v1/patients/{id}/news2, who may read it and its
 * refusals of bad parameters.
 *
 * Usage: test_stream /path/to/carelake
 */
#include "serve_helpers.h"

#include <jansson.h>


/* Events for patient p1: heart rate every 10 s through minutes M-4..M-2. */
static char *history(int64_t minute0)
{
	size_t cap = 64 * 1024, n = 0;
	char *b = malloc(cap);

	b[n++] = '[';
	for (int m = 0; m < 3; m++)
		for (int s = 0; s < 60; s += 10) {
			char id[32], ts[40];
			int64_t t = minute0 + (int64_t)m * 60000000 + (int64_t)s * 1000000;

			snprintf(id, sizeof(id), "h%d-%d", m, s);
			cl_time_format_rfc3339(t, ts, sizeof(ts), 0);
			n += (size_t)snprintf(b + n, cap - n,
					      "%s{\"id\":\"%s\",\"device_id\":\"m1\",\"patient_id\":\"p1\","
					      "\"ts\":\"%s\",\"type\":\"heart_rate\",\"value\":%d,\"unit\":\"/min\"}",
					      n > 1 ? "," : "", id, ts, 60 + m * 10 + s / 10);
		}
	snprintf(b + n, cap - n, "]");
	return b;
}

static json_t *vitals(const struct server *s, const char *query)
{
	char path[256];
	struct reply r;
	json_error_t err;
	json_t *j;

	snprintf(path, sizeof(path), "/api/v1/patients/p1/vitals?%s", query);
	r = http(s, "GET", path, s->token, NULL, 0);
	if (r.code != 200)
		fail_msg("GET %s: %ld %s", path, r.code, r.body);
	j = json_loads(r.body, 0, &err);
	free(r.body);
	assert_non_null(j);
	return j;
}

/* Waits until the closed 1-minute heart-rate rollups number `want`. */
static json_t *rollups(const struct server *s, int want)
{
	for (int i = 0; i < 300 * cl_test_slowdown(); i++) {
		json_t *j = vitals(s, "resolution=1m&from=2000-01-01T00:00:00Z&final=true");
		json_t *v = json_object_get(j, "vitals");
		int hr = 0;

		for (size_t k = 0; k < json_array_size(v); k++)
			if (strcmp(json_string_value(json_object_get(json_array_get(v, k), "type")),
				   "heart_rate") == 0)
				hr++;
		if (hr >= want)
			return j;
		json_decref(j);
		usleep(20000);
	}
	fail_msg("the rollups never appeared");
	return NULL;
}

/* The three minutes' rollups: six readings each; with late, the first
 * minute also the late 99, corrected at revision 2. */
static void check_rollups(json_t *j, int64_t minute0, int late)
{
	json_t *v = json_object_get(j, "vitals");
	int seen = 0;

	for (size_t k = 0; k < json_array_size(v); k++) {
		json_t *w = json_array_get(v, k);
		int64_t start;
		int m;

		if (strcmp(json_string_value(json_object_get(w, "type")), "heart_rate") != 0)
			continue;
		assert_int_equal(cl_time_parse_rfc3339(json_string_value(json_object_get(w, "start")),
						       strlen(json_string_value(json_object_get(w, "start"))),
						       &start), 0);
		m = (int)((start - minute0) / 60000000);
		if (m < 0 || m > 2)
			continue;
		seen |= 1 << m;
		if (late && m == 0) {
			/* 60..65 and 99 */
			assert_int_equal(json_integer_value(json_object_get(w, "count")), 7);
			assert_true(json_real_value(json_object_get(w, "max")) == 99);
			assert_true(fabs(json_real_value(json_object_get(w, "mean")) - 474.0 / 7) <
				    1e-9);
			assert_true(json_real_value(json_object_get(w, "p50")) == 63);
			assert_string_equal(json_string_value(json_object_get(w, "status")),
					    "corrected");
			assert_int_equal(json_integer_value(json_object_get(w, "revision")), 2);
			continue;
		}
		/* six readings: 60+10m .. 65+10m */
		assert_int_equal(json_integer_value(json_object_get(w, "count")), 6);
		assert_true(json_real_value(json_object_get(w, "min")) == 60 + 10 * m);
		assert_true(json_real_value(json_object_get(w, "max")) == 65 + 10 * m);
		assert_true(fabs(json_real_value(json_object_get(w, "mean")) - (62.5 + 10 * m)) < 1e-9);
		assert_true(json_real_value(json_object_get(w, "p50")) == 62 + 10 * m);
		assert_string_equal(json_string_value(json_object_get(w, "status")), "final");
		assert_int_equal(json_integer_value(json_object_get(w, "revision")), 1);
	}
	assert_int_equal(seen, 7);
}

static void test_rollups_news2_restart(void **state)
{
	const char *extra[] = { "--set", "stream.idle_flush=1h", NULL };
	int64_t now = cl_time_now_us(), minute0 = (now / 60000000 - 4) * 60000000;
	char data[300], *body, ts[40];
	struct server s;
	struct reply r;
	json_t *j;

	(void)state;
	snprintf(data, sizeof(data), "%s/stream", dir);
	server_start(&s, bin, data, extra);
	body = history(minute0);
	r = post(&s, body);
	assert_int_equal(r.code, 200);
	assert_non_null(strstr(r.body, "\"accepted\":18"));
	free(r.body);
	/* NEWS2 parameters, and an event now that moves the watermark past
	 * the three minutes */
	{
		char nb[2048];

		cl_time_format_rfc3339(now, ts, sizeof(ts), 3);
		snprintf(nb, sizeof(nb),
			 "[{\"id\":\"n1\",\"device_id\":\"m1\",\"patient_id\":\"p1\",\"ts\":\"%s\",\"type\":\"respiratory_rate\",\"value\":26,\"unit\":\"/min\"},"
			 "{\"id\":\"n2\",\"device_id\":\"m1\",\"patient_id\":\"p1\",\"ts\":\"%s\",\"type\":\"spo2\",\"value\":0.9,\"unit\":\"1\"},"
			 "{\"id\":\"n3\",\"device_id\":\"m1\",\"patient_id\":\"p1\",\"ts\":\"%s\",\"type\":\"supplemental_o2\",\"value\":1},"
			 "{\"id\":\"n4\",\"device_id\":\"m1\",\"patient_id\":\"p1\",\"ts\":\"%s\",\"type\":\"systolic_bp\",\"value\":95,\"unit\":\"mm[Hg]\"},"
			 "{\"id\":\"n5\",\"device_id\":\"m1\",\"patient_id\":\"p1\",\"ts\":\"%s\",\"type\":\"temperature\",\"value\":101.3,\"unit\":\"[degF]\"},"
			 "{\"id\":\"n6\",\"device_id\":\"m1\",\"patient_id\":\"p1\",\"ts\":\"%s\",\"type\":\"consciousness\",\"value\":0}]",
			 ts, ts, ts, ts, ts, ts);
		r = post(&s, nb);
		assert_non_null(strstr(r.body, "\"accepted\":6"));
		free(r.body);
	}
	j = rollups(&s, 3);
	check_rollups(j, minute0, 0);
	{
		/* RR 26: 3, SpO2 90: 3, oxygen: 2, SBP 95: 2, pulse 85: 0,
		 * alert: 0, 38.5 C: 1 -> 11, high */
		json_t *n = json_object_get(j, "news2");

		assert_int_equal(json_integer_value(json_object_get(n, "score")), 11);
		assert_string_equal(json_string_value(json_object_get(n, "risk")), "high");
		assert_int_equal(json_integer_value(json_object_get(n, "parameters_present")), 7);
	}
	json_decref(j);
	/* raw history */
	j = vitals(&s, "from=2000-01-01T00:00:00Z&limit=3");
	assert_int_equal(json_array_size(json_object_get(j, "vitals")), 3);
	json_decref(j);
	/* an event behind the watermark is late: stored, counted, and its
	 * closed minute corrected */
	{
		char one[400];

		cl_time_format_rfc3339(minute0 + 5000000, ts, sizeof(ts), 0);
		snprintf(one, sizeof(one), "{\"id\":\"late1\",\"device_id\":\"m1\",\"patient_id\":\"p1\","
			 "\"ts\":\"%s\",\"type\":\"heart_rate\",\"value\":99,\"unit\":\"/min\"}", ts);
		r = post(&s, one);
		assert_non_null(strstr(r.body, "\"accepted\":1"));
		free(r.body);
		long late = 0;

		/* late for its closed minute; the hour may still be open */
		for (int i = 0; i < 200 * cl_test_slowdown() && late < 1; i++) {
			struct reply m = http(&s, "GET", "/metrics", NULL, NULL, 0);
			const char *p = strstr(m.body, "\ncarelake_stream_late_events_total ");

			if (p)
				late = atol(p + strlen("\ncarelake_stream_late_events_total "));
			free(m.body);
			usleep(20000);
		}
		assert_true(late >= 1);
		wait_metric(&s, "carelake_stream_rollups_corrected_total", 1);
		j = rollups(&s, 3);
		check_rollups(j, minute0, 1);
		json_decref(j);
	}
	/* SIGKILL, restart, the same events again: nothing counted twice */
	server_kill(&s);
	server_start(&s, bin, data, extra);
	r = post(&s, body);
	assert_non_null(strstr(r.body, "\"duplicates\":18"));
	free(r.body);
	usleep(300000 * (useconds_t)cl_test_slowdown());
	j = rollups(&s, 3);
	check_rollups(j, minute0, 1);
	{
		/* fields: only the statistics asked for, the same values */
		json_t *all = json_object_get(j, "vitals"), *some, *a, *b;

		some = vitals(&s, "resolution=1m&from=2000-01-01T00:00:00Z&fields=mean,max&final=true");
		b = json_object_get(some, "vitals");
		assert_int_equal(json_array_size(b), json_array_size(all));
		for (size_t k = 0; k < json_array_size(b); k++) {
			a = json_array_get(all, k);
			/* start, type, status, revision and the two */
			assert_int_equal(json_object_size(json_array_get(b, k)), 6);
			assert_true(json_equal(json_object_get(a, "start"),
					       json_object_get(json_array_get(b, k), "start")));
			assert_true(json_equal(json_object_get(a, "mean"),
					       json_object_get(json_array_get(b, k), "mean")));
			assert_true(json_equal(json_object_get(a, "max"),
					       json_object_get(json_array_get(b, k), "max")));
			assert_null(json_object_get(json_array_get(b, k), "min"));
		}
		json_decref(some);
	}
	json_decref(j);
	r = http(&s, "GET", "/api/v1/patients/p1/vitals?resolution=1m&fields=mean,median", s.token,
		 NULL, 0);
	assert_int_equal(r.code, 400);
	assert_non_null(strstr(r.body, "p50, p90, p99"));
	free(r.body);
	r = http(&s, "GET", "/api/v1/patients/p1/vitals?resolution=5m", s.token, NULL, 0);
	assert_int_equal(r.code, 400);
	assert_non_null(strstr(r.body, "resolution must be raw or a window"));
	free(r.body);
	r = http(&s, "GET", "/api/v1/patients/p1/vitals?from=yesterday", s.token, NULL, 0);
	assert_int_equal(r.code, 400);
	free(r.body);
	assert_int_equal(server_stop(&s), 0);
	free(body);
}

static void post_one(const struct server *s, const char *id, const char *device,
		     const char *patient, const char *type, double value, const char *unit)
{
	struct reply r = post(s, test_event(id, device, patient, type, value, unit));

	if (r.code != 200 || !strstr(r.body, "\"accepted\":1"))
		fail_msg("posting %s: %ld %s", id, r.code, r.body);
	free(r.body);
}

/* Alerts of a patient (all, or open only), after the stream caught up. */
static json_t *alerts(const struct server *s, const char *patient, int open_only)
{
	char path[200];
	struct reply r;
	json_error_t err;
	json_t *j;

	usleep(150000 * (useconds_t)cl_test_slowdown()); /* the stream processor is poked on commit; give it a moment */
	snprintf(path, sizeof(path), "/api/v1/alerts?patient=%s%s", patient,
		 open_only ? "&open=true" : "");
	r = http(s, "GET", path, s->token, NULL, 0);
	assert_int_equal(r.code, 200);
	j = json_loads(r.body, 0, &err);
	free(r.body);
	assert_non_null(j);
	return j;
}

static int count_rule(json_t *j, const char *rule)
{
	json_t *a = json_object_get(j, "alerts");
	int n = 0;

	for (size_t i = 0; i < json_array_size(a); i++)
		if (strcmp(json_string_value(json_object_get(json_array_get(a, i), "rule")), rule) == 0)
			n++;
	return n;
}

static void test_alerts(void **state)
{
	/* the rules' own mechanics, one reading at a time: no persistence,
	 * no quality holds (test_quality covers those) */
	const char *extra[] = { "--set", "alerts.device_silent.raise=1",
				"--set", "alerts.spo2_low.suppress=1h",
				"--set", "stream.idle_flush=1s",
				"--set", "quality.spo2.enabled=false",
				"--set", "quality.heart_rate.enabled=false",
				"--set", "alerts.spo2_low.persist=0", "--set", "alerts.spo2_low.readings=1",
				"--set", "alerts.news2_single_3.persist=0",
				"--set", "alerts.news2_single_3.readings=1",
				"--set", "alerts.tachycardia.persist=0",
				"--set", "alerts.tachycardia.readings=1",
				"--set", "alerts.heart_rate_deviation.persist=0",
				"--set", "alerts.heart_rate_deviation.readings=1", NULL };
	char data[300], path[100], id[32];
	struct server s;
	struct reply r;
	json_t *j;
	int64_t alert_id;

	(void)state;
	snprintf(data, sizeof(data), "%s/alerts", dir);
	server_start(&s, bin, data, extra);

	/* SpO2 below 90 opens one alert; readings between the thresholds keep
	 * it open without a second one; 92 or more clears it */
	post_one(&s, "a1", "m2", "p2", "spo2", 88, "%");
	j = alerts(&s, "p2", 1);
	assert_int_equal(count_rule(j, "spo2_low"), 1);
	/* SpO2 88 also scores 3 in NEWS2: that is its own rule */
	assert_int_equal(count_rule(j, "news2_single_3"), 1);
	{
		json_t *all = json_object_get(j, "alerts"), *a = NULL;

		for (size_t i = 0; i < json_array_size(all); i++)
			if (strcmp(json_string_value(json_object_get(json_array_get(all, i), "rule")),
				   "spo2_low") == 0)
				a = json_array_get(all, i);
		assert_non_null(a);
		assert_string_equal(json_string_value(json_object_get(a, "severity")), "critical");
		assert_true(json_real_value(json_object_get(a, "value")) == 88);
		alert_id = json_integer_value(json_object_get(a, "id"));
	}
	json_decref(j);
	post_one(&s, "a2", "m2", "p2", "spo2", 89, "%");
	post_one(&s, "a3", "m2", "p2", "spo2", 91, "%");
	j = alerts(&s, "p2", 0);
	assert_int_equal(count_rule(j, "spo2_low"), 1);
	json_decref(j);
	post_one(&s, "a4", "m2", "p2", "spo2", 93, "%");
	j = alerts(&s, "p2", 1);
	assert_int_equal(count_rule(j, "spo2_low"), 0);
	json_decref(j);
	/* falling again within the suppression window raises nothing, but
	 * is recorded as held back, with why */
	post_one(&s, "a5", "m2", "p2", "spo2", 85, "%");
	j = alerts(&s, "p2", 0);
	assert_int_equal(count_rule(j, "spo2_low"), 1);
	json_decref(j);
	r = http(&s, "GET", "/api/v1/alerts/held?patient=p2", s.token, NULL, 0);
	assert_int_equal(r.code, 200);
	assert_non_null(strstr(r.body, "\"rule\":\"spo2_low\""));
	assert_non_null(strstr(r.body, "\"reason\":\"suppressed\""));
	free(r.body);

	/* acknowledge: once, then 409; unknown ids 404 */
	snprintf(path, sizeof(path), "/api/v1/alerts/%lld/ack", (long long)alert_id);
	r = http(&s, "POST", path, s.token, "", 0);
	assert_int_equal(r.code, 200);
	assert_non_null(strstr(r.body, "\"acknowledged\":\"20"));
	free(r.body);
	r = http(&s, "POST", path, s.token, "", 0);
	assert_int_equal(r.code, 409);
	free(r.body);
	r = http(&s, "POST", "/api/v1/alerts/999999/ack", s.token, "", 0);
	assert_int_equal(r.code, 404);
	free(r.body);

	/* tachycardia, and a spike against the patient's own baseline */
	for (int i = 0; i < 25; i++) {
		snprintf(id, sizeof(id), "b%d", i);
		post_one(&s, id, "m3", "p3", "heart_rate", 70 + i % 3, "/min");
	}
	j = alerts(&s, "p3", 1);
	assert_int_equal(json_array_size(json_object_get(j, "alerts")), 0);
	json_decref(j);
	post_one(&s, "b-spike", "m3", "p3", "heart_rate", 105, "/min"); /* +34 */
	j = alerts(&s, "p3", 1);
	assert_int_equal(count_rule(j, "heart_rate_deviation"), 1);
	assert_int_equal(count_rule(j, "tachycardia"), 0);
	json_decref(j);
	post_one(&s, "b-tachy", "m3", "p3", "heart_rate", 140, "/min");
	j = alerts(&s, "p3", 1);
	assert_int_equal(count_rule(j, "tachycardia"), 1);
	json_decref(j);

	/* a device that goes quiet; it clears when it sends again */
	post_one(&s, "c1", "m4", "p4", "respiratory_rate", 16, "/min");
	usleep(1600000);
	j = alerts(&s, "p4", 1);
	assert_int_equal(count_rule(j, "device_silent"), 1);
	json_decref(j);
	post_one(&s, "c2", "m4", "p4", "respiratory_rate", 16, "/min");
	j = alerts(&s, "p4", 1);
	assert_int_equal(count_rule(j, "device_silent"), 0);
	json_decref(j);

	r = http(&s, "GET", "/metrics", NULL, NULL, 0);
	assert_non_null(strstr(r.body, "carelake_alerts_raised_total{rule=\"spo2_low\"} 1"));
	assert_non_null(strstr(r.body, "carelake_alerts_raised_total{rule=\"tachycardia\"} 1"));
	free(r.body);
	r = http(&s, "GET", "/api/v1/alerts?open=maybe", s.token, NULL, 0);
	assert_int_equal(r.code, 400);
	free(r.body);

	/* open alerts survive a restart: still one, not two */
	assert_int_equal(server_stop(&s), 0);
	server_start(&s, bin, data, extra);
	post_one(&s, "b-tachy2", "m3", "p3", "heart_rate", 145, "/min");
	j = alerts(&s, "p3", 0);
	assert_int_equal(count_rule(j, "tachycardia"), 1);
	json_decref(j);
	assert_int_equal(server_stop(&s), 0);
}

/* A rule declared in config, not built in: what it watches, when it is
 * raised, when it clears, how severe. */
static void test_declared_rule(void **state)
{
	const char *extra[] = { "--set", "quality.temperature.enabled=false",
				"--set", "alerts.fever.what=vital:temperature",
				"--set", "alerts.fever.raise=>= 38.5",
				"--set", "alerts.fever.clear=< 38",
				"--set", "alerts.fever.severity=urgent",
				"--set", "alerts.fever.description=fever of 38.5 C or more", NULL };
	char data[300];
	struct server s;
	json_t *j, *a;

	(void)state;
	snprintf(data, sizeof(data), "%s/declared", dir);
	server_start(&s, bin, data, extra);
	post_one(&s, "f1", "t1", "p5", "temperature", 37.2, "Cel");
	j = alerts(&s, "p5", 0);
	assert_int_equal(count_rule(j, "fever"), 0);
	json_decref(j);
	post_one(&s, "f2", "t1", "p5", "temperature", 102.2, "[degF]"); /* 39 C */
	j = alerts(&s, "p5", 1);
	assert_int_equal(count_rule(j, "fever"), 1);
	a = json_array_get(json_object_get(j, "alerts"), 0);
	assert_string_equal(json_string_value(json_object_get(a, "severity")), "urgent");
	assert_non_null(strstr(json_string_value(json_object_get(a, "message")),
			       "fever of 38.5 C or more"));
	json_decref(j);
	/* between the thresholds: still the one alert */
	post_one(&s, "f3", "t1", "p5", "temperature", 38.2, "Cel");
	j = alerts(&s, "p5", 1);
	assert_int_equal(count_rule(j, "fever"), 1);
	json_decref(j);
	post_one(&s, "f4", "t1", "p5", "temperature", 37.4, "Cel");
	j = alerts(&s, "p5", 1);
	assert_int_equal(count_rule(j, "fever"), 0);
	json_decref(j);
	{
		struct reply r = http(&s, "GET", "/metrics", NULL, NULL, 0);

		assert_non_null(strstr(r.body, "carelake_alerts_raised_total{rule=\"fever\"} 1"));
		free(r.body);
	}
	assert_int_equal(server_stop(&s), 0);
}


/* Appends one event (with an optional quality word) to an NDJSON body. */
static void line(char **body, size_t *len, int64_t ts, const char *patient, const char *type,
		 double value, const char *quality)
{
	static int seq;
	char id[48], ev[1200];
	int n;

	snprintf(id, sizeof(id), "q%d", seq++);
	snprintf(ev, sizeof(ev), "%s", test_event_at(ts, id, "mon-q", patient, type, value,
						      strcmp(type, "spo2") == 0 ? "%"
						      : strstr(type, "bp") ? "mm[Hg]" : "/min"));
	if (quality) {
		ev[strlen(ev) - 1] = '\0';
		snprintf(ev + strlen(ev), sizeof(ev) - strlen(ev), ",\"quality\":\"%s\"}", quality);
	}
	n = (int)strlen(ev);
	*body = realloc(*body, *len + (size_t)n + 2);
	memcpy(*body + *len, ev, (size_t)n);
	(*body)[*len + (size_t)n] = '\n';
	*len += (size_t)n + 1;
	(*body)[*len] = '\0';
}

/* The alerts of a patient with a rule, as JSON objects. */
static json_t *find_alert(json_t *list, const char *rule)
{
	json_t *a = json_object_get(list, "alerts");

	for (size_t i = 0; i < json_array_size(a); i++)
		if (strcmp(json_string_value(json_object_get(json_array_get(a, i), "rule")), rule) == 0)
			return json_array_get(a, i);
	return NULL;
}

/* Artifacts and persistence end to end, with the built-in defaults: a
 * motion spike and a cuff outlier raise nothing and are recorded as held
 * back; a real tachycardia raises once it has persisted, dated from its
 * start; a short dip is held as not persistent; a flagged probe-off is a
 * technical alert for the device's owner, not a clinical one. */
static void test_quality(void **state)
{
	const char *extra[] = { "--set", "stream.idle_flush=1h", NULL };
	int64_t t0 = (cl_time_now_us() / 1000000 - 240) * 1000000;
	char data[300], when[40];
	struct server s;
	struct reply r;
	char *body = NULL;
	size_t len = 0;
	json_t *j, *a;

	(void)state;
	snprintf(data, sizeof(data), "%s/quality", dir);
	server_start(&s, bin, data, extra);
	for (int t = 0; t < 120; t++) {
		int64_t ts = t0 + (int64_t)t * 1000000;
		/* pm: a motion spike on the ECG at 40-44 s, the oximeter steady */
		int spike = t >= 40 && t < 45;
		/* pt: a real tachycardia from 60 s, on both */
		double hr_t = t >= 60 ? 145 + t % 3 : 76 + t % 2;

		line(&body, &len, ts, "pm", "heart_rate", spike ? 220 : 75 + t % 2, NULL);
		line(&body, &len, ts, "pm", "pulse_rate", 75 + t % 3, NULL);
		line(&body, &len, ts, "pt", "heart_rate", hr_t, NULL);
		line(&body, &len, ts, "pt", "pulse_rate", hr_t - 1, NULL);
		/* pc: a cuff outlier at 50 s, diastolic unchanged */
		line(&body, &len, ts, "pc", "systolic_bp", t == 50 ? 195 : 122 + t % 2, NULL);
		line(&body, &len, ts, "pc", "diastolic_bp", 80 + t % 2, NULL);
		/* pd: SpO2 easing below 90 for 8 s around 30 s: too short */
		line(&body, &len, ts, "pd", "spo2",
		     t >= 26 && t < 34 ? 89 - t % 2 : t >= 22 && t < 38 ? 92 : 97, NULL);
		/* pp: the probe off, flagged by the device, 70-90 s */
		line(&body, &len, ts, "pp", "spo2", t >= 70 && t < 90 ? 45 : 97,
		     t >= 70 && t < 90 ? "probe_off" : NULL);
	}
	r = post(&s, body);
	assert_int_equal(r.code, 200);
	free(r.body);
	free(body);
	usleep(400000 * (useconds_t)cl_test_slowdown());

	j = alerts(&s, "pm", 0);
	assert_null(find_alert(j, "tachycardia"));
	assert_null(find_alert(j, "news2_single_3"));
	json_decref(j);
	j = alerts(&s, "pc", 0);
	assert_null(find_alert(j, "hypertensive_crisis_systolic"));
	json_decref(j);
	j = alerts(&s, "pd", 0);
	assert_null(find_alert(j, "spo2_low"));
	json_decref(j);

	/* the tachycardia: raised, dated from its first reading, confirmed
	 * after the 15 s it must persist */
	j = alerts(&s, "pt", 0);
	a = find_alert(j, "tachycardia");
	assert_non_null(a);
	cl_time_format_rfc3339(t0 + 60000000, when, sizeof(when), 3);
	assert_string_equal(json_string_value(json_object_get(a, "opened")), when);
	cl_time_format_rfc3339(t0 + 75000000, when, sizeof(when), 3);
	assert_string_equal(json_string_value(json_object_get(a, "raised")), when);
	assert_string_equal(json_string_value(json_object_get(a, "category")), "clinical");
	json_decref(j);

	/* the probe: a technical alert, not a clinical one */
	j = alerts(&s, "pp", 0);
	a = find_alert(j, "probe_off");
	assert_non_null(a);
	assert_string_equal(json_string_value(json_object_get(a, "category")), "technical");
	assert_null(find_alert(j, "spo2_low"));
	json_decref(j);
	r = http(&s, "GET", "/api/v1/alerts?patient=pp&category=clinical", s.token, NULL, 0);
	assert_int_equal(r.code, 200);
	assert_null(strstr(r.body, "probe_off"));
	free(r.body);
	r = http(&s, "GET", "/api/v1/alerts?category=loud", s.token, NULL, 0);
	assert_int_equal(r.code, 400);
	free(r.body);

	/* what was held back, and why */
	r = http(&s, "GET", "/api/v1/alerts/held?patient=pm", s.token, NULL, 0);
	assert_int_equal(r.code, 200);
	assert_non_null(strstr(r.body, "\"rule\":\"tachycardia\""));
	assert_non_null(strstr(r.body, "\"reason\":\"artifact\""));
	assert_non_null(strstr(r.body, "disagrees_with_pulse"));
	free(r.body);
	r = http(&s, "GET", "/api/v1/alerts/held?patient=pc", s.token, NULL, 0);
	assert_non_null(strstr(r.body, "pressure_mismatch"));
	free(r.body);
	r = http(&s, "GET", "/api/v1/alerts/held?patient=pd", s.token, NULL, 0);
	assert_non_null(strstr(r.body, "\"reason\":\"not_persistent\""));
	assert_non_null(strstr(r.body, "\"rule\":\"spo2_low\""));
	free(r.body);
	r = http(&s, "GET", "/metrics", NULL, NULL, 0);
	assert_non_null(strstr(r.body, "carelake_quality_readings_total{verdict=\"disagrees_with_pulse\"} 5"));
	assert_non_null(strstr(r.body, "carelake_alerts_held_total{reason=\"not_persistent\"}"));
	free(r.body);
	assert_int_equal(server_stop(&s), 0);
}

/* GET /api/v1/patients/{id}/news2 as `tok`: its status, and its body into *j
 * when 200. */
static long news2_get(const struct server *s, const char *tok, const char *path, json_t **j)
{
	struct reply r = http(s, "GET", path, tok, NULL, 0);
	long code = r.code;

	if (j) {
		*j = code == 200 ? json_loads(r.body, 0, NULL) : NULL;
		if (code != 200)
			fprintf(stderr, "GET %s: %ld %s\n", path, code, r.body);
	}
	free(r.body);
	return code;
}

static void test_news2_history(void **state)
{
	const char *extra[] = { "--set", "stream.idle_flush=1h", NULL };
	int64_t now = cl_time_now_us(), minute0 = (now / 60000000 - 10) * 60000000;
	char data[300], path[300], from[40], pat[128], other[128], eng[128];
	struct server s;
	struct reply r;
	json_t *j = NULL, *list = NULL;
	int found = 0;

	(void)state;
	snprintf(data, sizeof(data), "%s/news2", dir);
	server_start(&s, bin, data, extra);
	token_cli(data, pat, NULL, "issue --role patient --patient p9 --name n2-own");
	token_cli(data, other, NULL, "issue --role patient --patient p8 --name n2-other");
	token_cli(data, eng, NULL, "issue --role engineer --name n2-eng");
	/* RR 26 scores 3, then RR 16 scores 0 (two minutes later), then now;
	 * each posted once the one before is scored (NEWS2 is scored once per
	 * batch the stream reads) */
	cl_time_format_rfc3339(minute0 - 60000000, from, sizeof(from), 0);
	snprintf(path, sizeof(path), "/api/v1/patients/p9/news2?resolution=1m&from=%s", from);
	for (int k = 0; k < 3; k++) {
		static const int64_t at[] = { 5000000, 125000000 };

		r = post(&s, test_event_at(k < 2 ? minute0 + at[k] : now, k == 0 ? "q1" : k == 1 ? "q2" : "q3",
					   "m9", "p9", "respiratory_rate", k == 0 ? 26 : 16, "/min"));
		assert_non_null(strstr(r.body, "\"accepted\":1"));
		free(r.body);
		found = 0;
		for (int i = 0; i < 300 * cl_test_slowdown() && !found; i++) {
			assert_int_equal(news2_get(&s, s.token, path, &j), 200);
			list = json_object_get(j, "news2");
			found = json_array_size(list) == (size_t)k + 1;
			if (!found) {
				json_decref(j);
				usleep(20000);
			}
		}
		assert_true(found);
		if (k < 2)
			json_decref(j);
	}
	assert_string_equal(json_string_value(json_object_get(j, "resolution")), "1m");
	{
		json_t *a = json_array_get(list, 0), *b = json_array_get(list, 1);
		char want[40];

		cl_time_format_rfc3339(minute0, want, sizeof(want), 3);
		assert_string_equal(json_string_value(json_object_get(a, "start")), want);
		assert_int_equal(json_integer_value(json_object_get(a, "score")), 3);
		assert_string_equal(json_string_value(json_object_get(a, "risk")), "low-medium");
		assert_int_equal(json_integer_value(json_object_get(a, "parameters")), 1);
		assert_int_equal(json_integer_value(json_object_get(b, "score")), 0);
	}
	json_decref(j);
	/* by the day: one bucket (or two across midnight), the worst is 3 */
	snprintf(path, sizeof(path), "/api/v1/patients/p9/news2?resolution=1d&from=%s", from);
	assert_int_equal(news2_get(&s, s.token, path, &j), 200);
	list = json_object_get(j, "news2");
	assert_true(json_array_size(list) >= 1 && json_array_size(list) <= 2);
	{
		json_int_t worst = 0;

		for (size_t i = 0; i < json_array_size(list); i++)
			if (json_integer_value(json_object_get(json_array_get(list, i), "score")) > worst)
				worst = json_integer_value(json_object_get(json_array_get(list, i), "score"));
		assert_int_equal(worst, 3);
	}
	json_decref(j);
	/* who may read it: the patient itself, not another patient, not an engineer */
	snprintf(path, sizeof(path), "/api/v1/patients/p9/news2?from=%s", from);
	assert_int_equal(news2_get(&s, pat, path, NULL), 200);
	assert_int_equal(news2_get(&s, other, path, NULL), 404);
	assert_int_equal(news2_get(&s, eng, path, NULL), 403);
	assert_int_equal(news2_get(&s, NULL, path, NULL), 401);
	/* bad parameters: 400 with what to send */
	r = http(&s, "GET", "/api/v1/patients/p9/news2?resolution=5m", s.token, NULL, 0);
	assert_int_equal(r.code, 400);
	assert_non_null(strstr(r.body, "resolution must be 1m, 1h or 1d"));
	free(r.body);
	r = http(&s, "GET", "/api/v1/patients/p9/news2?from=yesterday", s.token, NULL, 0);
	assert_int_equal(r.code, 400);
	assert_non_null(strstr(r.body, "'from' must be an RFC 3339 time"));
	free(r.body);
	r = http(&s, "GET", "/api/v1/patients/p9/news2?from=2030-01-02T00:00:00Z"
		 "&to=2030-01-01T00:00:00Z", s.token, NULL, 0);
	assert_int_equal(r.code, 400);
	assert_non_null(strstr(r.body, "'to' must be after 'from'"));
	free(r.body);
	r = http(&s, "GET", "/api/v1/patients/p9/news2?limit=0", s.token, NULL, 0);
	assert_int_equal(r.code, 400);
	free(r.body);
	assert_int_equal(server_stop(&s), 0);
}

static const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_rollups_news2_restart),
		cmocka_unit_test(test_alerts),
		cmocka_unit_test(test_declared_rule),
		cmocka_unit_test(test_quality),
		cmocka_unit_test(test_news2_history),
};

SERVE_TEST_MAIN(tests)
