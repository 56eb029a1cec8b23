/*
 * `carelake simulate`: synthetic device streams to a carelake server over
 * HTTP, to an MQTT broker, or to a file, with injected clinical episodes
 * and artifacts and a ground-truth file of what was injected and when
 * (see src/sim/cl_sim.h), in event time that can run faster than the
 * clock; and `--score`, which scores a server's alerts against that truth
 * (src/sim/cl_sim_score.h).
 */
#include "cl_cli.h"
#include "core/cl_error.h"
#include "core/cl_fs.h"
#include "core/cl_mem.h"
#include "core/cl_time.h"
#include "sim/cl_sim.h"
#include "sim/cl_sim_score.h"
#include "sim/cl_sim_target.h"

#include <math.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

const char cl_cmd_simulate_usage[] =
	"usage: carelake simulate --target URL|mqtt[s]://HOST[:PORT]|FILE [--token T | --token-file F]\n"
	"                         [--patients N] [--rate EVENTS_PER_S] [--duration S] [--seed K]\n"
	"                         [--speed X] [--start TIME] [--truth FILE]\n"
	"                         [--episodes PER_PATIENT_HOUR] [--artifacts PER_PATIENT_HOUR]\n"
	"                         [--stable SHARE] [--late SHARE] [--duplicates SHARE] [--batch N]\n"
	"       carelake simulate --score ALERTS --truth FILE [--format text|json]\n"
	"                         [--token T | --token-file F]\n\n"
	"Streams synthetic ICU vitals: N patients on bedside monitors (heart rate\n"
	"from the ECG, pulse rate and SpO2 from the oximeter, respiratory rate, blood\n"
	"pressure, temperature) with personal baselines, drift, noise and a circadian\n"
	"swing. Into them go sustained clinical episodes (desaturation, tachycardia,\n"
	"bradycardia, hypertensive crisis, and a sepsis-like deterioration ramping\n"
	"over 10 minutes and lasting 15-25) and, in the normal stretches between\n"
	"them, artifacts (ECG motion, an oximeter probe off, a single outlying cuff\n"
	"reading, an ECG lead off, a device dropout). --stable patients get\n"
	"artifacts only. Some events are delivered late (out of order) and some\n"
	"twice (same id). Only what ends within --duration is injected.\n\n"
	"Event time runs --speed times the clock: it starts now, or, when faster,\n"
	"early enough that no event is in the future; --speed 0 sends the whole\n"
	"--duration at once, the last S seconds up to now. With --start and\n"
	"--speed 0 the output is the same for the same seed, byte for byte.\n\n"
	"The --truth file (NDJSON) has a scenario line {\"scenario\":\"simulate\",\n"
	"\"start\",\"end\",\"patients\",\"seed\"}, one {\"patient_id\",\"stable\":true}\n"
	"per stable patient, one line per clinical episode {\"patient_id\",\n"
	"\"device_id\",\"episode\",\"start\",\"end\",\"expected_rules\",\"category\":\n"
	"\"clinical\"} (a deterioration also \"news2_ge_7_from\") and one per artifact\n"
	"{\"artifact\",\"patient_id\",\"device_id\",\"vital\",\"start\",\"end\",\n"
	"\"category\":\"technical\"} (\"quality\" when its events carry one; a dropout\n"
	"\"expected_rules\":\"device_silent\").\n\n"
	"--score reads alerts from a file ({\"alerts\":[...]} as GET /api/v1/alerts\n"
	"answers, a JSON array, or NDJSON) or from a server's URL, and prints recall\n"
	"(overall, per kind, crisis, NEWS2 >= 7), precision of the clinical alerts,\n"
	"detection delays, alarm burden per bed per day, dropouts reported, and the\n"
	"artifacts and rules behind false alerts. An alert is about an episode of\n"
	"its patient when opened from 30 s before its start to 120 s after its end.\n\n"
	"targets:\n"
	"  http://HOST:PORT   POST NDJSON batches to /api/v1/events (retries 503 and\n"
	"                     failed connections, honouring Retry-After)\n"
	"  mqtt://HOST:PORT   publish to devices/<device>/messages/events, QoS 1, with\n"
	"                     the mqtt.* settings' user name, password and TLS (mqtts://\n"
	"                     is TLS; see docs/mqtt.md)\n"
	"  FILE or -          write NDJSON\n\n";

/* set by the signal handler (a lock-free atomic is safe there); the
 * target reads it between retries */
static atomic_int stop;

static void on_signal(int sig)
{
	(void)sig;
	atomic_store(&stop, 1);
}

static int read_token(const char *path, char *buf, size_t cap)
{
	FILE *f = fopen(path, "r");

	if (!f || !fgets(buf, (int)cap, f)) {
		if (f)
			fclose(f);
		return cl_error_set(CL_EIO, "cannot read the token from '%s'", path);
	}
	fclose(f);
	buf[strcspn(buf, "\r\n")] = '\0';
	return CL_OK;
}

/* What simulate's options set. */
struct simulate_args {
	const char *target, *truth, *score, *format;
	char token[256];
	uint64_t patients, rate, duration, seed, batch;
	double episodes, artifacts, stable, speed, late, duplicates;
	int64_t start_us;         /* --start; 0: not given */
};

/* --token T */
static int opt_token(void *base, const char *arg)
{
	struct simulate_args *a = base;

	snprintf(a->token, sizeof(a->token), "%s", arg);
	return CL_OK;
}

/* --token-file F */
static int opt_token_file(void *base, const char *arg)
{
	struct simulate_args *a = base;

	return read_token(arg, a->token, sizeof(a->token));
}

/* --start TIME */
static int opt_start(void *base, const char *arg)
{
	struct simulate_args *a = base;

	if (cl_time_parse_rfc3339(arg, strlen(arg), &a->start_us) != CL_OK || a->start_us <= 0)
		return cl_error_set(CL_EINVAL, "--start needs an RFC 3339 time such as "
				    "2025-03-01T08:00:00Z, got '%s'", arg);
	return CL_OK;
}

const struct cl_opt cl_cmd_simulate_opts[] = {
	CL_OPT_STRING("target", struct simulate_args, target, "T",
		      "where to send: http://HOST:PORT, mqtt[s]://HOST:PORT,\n"
		      "a FILE or - (see targets above)"),
	CL_OPT_CALL("token", opt_token, "T", "API token (or --token-file DATA/admin.token)"),
	CL_OPT_CALL("token-file", opt_token_file, "F", "read the API token from this file"),
	CL_OPT_UINT("patients", struct simulate_args, patients, 1, 1000000, "N",
		    "patients (default 16)"),
	CL_OPT_UINT("rate", struct simulate_args, rate, 1, 100000000, "R",
		    "events per second of event time in all (default 200)"),
	CL_OPT_UINT("duration", struct simulate_args, duration, 1, 864000, "S",
		    "seconds of event time to produce (default 60;\n"
		    "Ctrl-C stops early)"),
	CL_OPT_NUMBER("speed", struct simulate_args, speed, 0, 1000000, "X",
		      "event time runs X times the clock (default 1;\n"
		      "0: as fast as the target takes it)"),
	CL_OPT_CALL("start", opt_start, "TIME",
		    "event time to start at, RFC 3339 (default: see above)"),
	CL_OPT_UINT("seed", struct simulate_args, seed, 0, UINT64_MAX - 1, "K",
		    "the same seed gives the same stream (default 1)"),
	CL_OPT_NUMBER("episodes", struct simulate_args, episodes, 0, 3600, "E",
		      "clinical episodes per patient per hour (default 2)"),
	CL_OPT_NUMBER("artifacts", struct simulate_args, artifacts, 0, 3600, "A",
		      "artifacts per patient per hour (default 6; 0: none)"),
	CL_OPT_NUMBER("stable", struct simulate_args, stable, 0, 1, "SHARE",
		      "share of patients without clinical episodes,\n"
		      "chosen by the seed (default 0)"),
	CL_OPT_NUMBER("late", struct simulate_args, late, 0, 1, "SHARE",
		      "share of events delivered up to 5 s late (default 0.02)"),
	CL_OPT_NUMBER("duplicates", struct simulate_args, duplicates, 0, 1, "SHARE",
		      "share of events sent twice (default 0.01)"),
	CL_OPT_UINT("batch", struct simulate_args, batch, 1, 1000000, "N",
		    "HTTP: at most N events per request (default 1000;\n"
		    "1 sends every event on its own)"),
	CL_OPT_STRING("truth", struct simulate_args, truth, "FILE",
		      "ground truth of what was injected (written; with\n"
		      "--score, read)"),
	CL_OPT_STRING("score", struct simulate_args, score, "ALERTS",
		      "score alerts against --truth: a file of alerts or\n"
		      "a server's http(s):// URL (GET /api/v1/alerts)"),
	CL_OPT_STRING("format", struct simulate_args, format, "F",
		      "--score output: text (default) or json"),
	CL_OPT_END,
};

/* `--score ALERTS --truth FILE`: prints the scores. */
static int run_score(struct cl_cli *cli, const struct simulate_args *a)
{
	struct cl_sim_truth truth = { 0 };
	struct cl_sim_alerts alerts = { 0 };
	struct cl_sim_score r;
	char *text = NULL;
	size_t len = 0;
	int json, rc;

	if (!a->truth)
		return cl_cli_error(cli, "--score needs --truth FILE (the simulator's ground "
				    "truth)");
	if (a->format && strcmp(a->format, "text") != 0 && strcmp(a->format, "json") != 0)
		return cl_cli_error(cli, "--format is text or json, not '%s'", a->format);
	json = a->format && strcmp(a->format, "json") == 0;
	if (cl_fs_read_file(a->truth, (size_t)1 << 30, &text, &len) != CL_OK)
		return cl_cli_error(cli, "cannot read the truth file '%s': %s", a->truth,
				    cl_error_detail());
	rc = cl_sim_truth_parse(&truth, text, len);
	cl_free(text);
	if (rc) {
		cl_sim_truth_free(&truth);
		return cl_cli_error(cli, "%s: %s", a->truth, cl_error_detail());
	}
	if (strncmp(a->score, "http://", 7) == 0 || strncmp(a->score, "https://", 8) == 0) {
		char url[1024];
		size_t n = strlen(a->score);

		while (n > 0 && a->score[n - 1] == '/')
			n--;
		snprintf(url, sizeof(url), "%.*s/api/v1/alerts?limit=100000", (int)n, a->score);
		rc = cl_sim_fetch(url, a->token, &text, &len);
	} else {
		rc = cl_fs_read_file(a->score, (size_t)1 << 30, &text, &len);
	}
	if (rc) {
		cl_sim_truth_free(&truth);
		return cl_cli_error(cli, "cannot read the alerts from '%s': %s", a->score,
				    cl_error_detail());
	}
	rc = cl_sim_alerts_parse(&alerts, text, len);
	cl_free(text);
	if (rc == CL_OK)
		rc = cl_sim_score_compute(&truth, &alerts, &r);
	else
		rc = cl_error_set(rc, "%s: %s", a->score, cl_error_detail());
	cl_sim_truth_free(&truth);
	cl_sim_alerts_free(&alerts);
	if (rc)
		return cl_cli_error(cli, "%s", cl_error_detail());
	cl_sim_score_print(&r, json, stdout);
	return fflush(stdout) == 0 ? CL_EXIT_OK : CL_EXIT_FAIL;
}

/* Where event time starts: --start, else now, or as far back as keeps
 * the last event from the future when event time runs faster. */
static int64_t event_start(const struct simulate_args *a, int64_t now)
{
	double d = (double)a->duration * 1e6;

	if (a->start_us)
		return a->start_us;
	if (a->speed == 0)
		return now - (int64_t)d;
	if (a->speed > 1)
		return now - (int64_t)(d * (1 - 1 / a->speed));
	return now;
}

/* Writes the scenario line and the stable patients to the truth file. */
static void truth_header(FILE *f, const struct cl_sim *sim, const struct cl_sim_options *so,
			 int64_t start, int64_t end)
{
	char a[40], b[40];

	cl_time_format_rfc3339(start, a, sizeof(a), 3);
	cl_time_format_rfc3339(end, b, sizeof(b), 3);
	fprintf(f, "{\"scenario\":\"simulate\",\"start\":\"%s\",\"end\":\"%s\",\"patients\":%u,"
		"\"seed\":%llu}\n", a, b, so->patients, (unsigned long long)so->seed);
	for (uint32_t i = 0; i < so->patients; i++)
		if (cl_sim_is_stable(sim, i))
			fprintf(f, "{\"patient_id\":\"patient-%04u\",\"stable\":true}\n", i + 1);
	fflush(f);
}

int cl_cmd_simulate(int argc, char **argv)
{
	struct simulate_args a = { .duration = 60, .batch = 1000, .speed = 1 };
	struct cl_sim_options so;
	struct cl_cli cli;
	struct cl_sim_target t;
	struct cl_sim *sim;
	FILE *truth = NULL;
	char *buf = NULL;
	size_t len = 0, cap = 0;
	uint64_t events = 0, episodes = 0, artifacts = 0;
	int64_t t0, ev0, ev, end;
	int nargs, rc;

	cl_cli_init(&cli, "simulate");
	cl_sim_options_default(&so);
	a.patients = so.patients, a.rate = (uint64_t)so.rate, a.seed = so.seed;
	a.episodes = so.episode_rate, a.artifacts = so.artifact_rate, a.stable = so.stable_share;
	a.late = so.late_share, a.duplicates = so.duplicate_share;
	rc = cl_cli_parse(&cli, cl_cmd_simulate_opts, &a, cl_cmd_simulate_usage, argc, argv,
			  &nargs);
	if (rc >= 0)
		return rc;
	if (nargs)
		return cl_cli_error(&cli, "unexpected argument '%s'", argv[0]);
	if (a.score)
		return run_score(&cli, &a);
	so.patients = (uint32_t)a.patients, so.rate = (double)a.rate, so.seed = a.seed;
	so.episode_rate = a.episodes, so.artifact_rate = a.artifacts, so.stable_share = a.stable;
	so.late_share = a.late, so.duplicate_share = a.duplicates;
	if (!a.target)
		return cl_cli_error(&cli, "--target is required (a URL, mqtt[s]://HOST[:PORT] or a "
				    "file), or --score to score alerts");
	if (a.format)
		return cl_cli_error(&cli, "--format goes with --score");
	rc = cl_sim_target_open(&t, a.target, a.token, cli.cfg);
	t.stop = &stop;
	if (rc)
		return cl_cli_error(&cli, "%s", cl_error_detail());
	if (a.truth && !(truth = fopen(a.truth, "w"))) {
		cl_sim_target_close(&t);
		return cl_cli_error(&cli, "cannot write the truth file '%s'", a.truth);
	}
	t0 = cl_time_now_us();
	ev = ev0 = event_start(&a, t0);
	end = ev0 + (int64_t)a.duration * 1000000;
	so.end_us = end;
	so.keep_truth = 1;
	rc = cl_sim_create(&so, ev0, &sim);
	if (rc) {
		cl_sim_target_close(&t);
		if (truth)
			fclose(truth);
		return cl_cli_error(&cli, "%s", cl_error_detail());
	}
	if (truth)
		truth_header(truth, sim, &so, ev0, end);
	signal(SIGINT, on_signal);
	signal(SIGTERM, on_signal);
	signal(SIGPIPE, SIG_IGN);
	while (!atomic_load(&stop)) {
		int64_t wall = cl_time_now_us();
		struct cl_sim_episode ep;
		long n;

		/* as fast as it goes: a second of event time at a time */
		if (a.speed == 0)
			ev = ev + 1000000 < end ? ev + 1000000 : end;
		else
			ev = ev0 + (int64_t)((double)(wall - t0) * a.speed);
		if (ev > end)
			ev = end;
		len = 0;
		n = cl_sim_events(sim, ev, &buf, &len, &cap);
		if (n >= 0 && ev == end && !atomic_load(&stop)) {
			long m = cl_sim_flush(sim, &buf, &len, &cap);

			n = m < 0 ? -1 : n + m;
		}
		if (n < 0) {
			rc = cl_error_set(CL_ENOMEM, "out of memory");
			break;
		}
		while (cl_sim_next_episode(sim, ev, &ep)) {
			char line[640];

			if (truth) {
				cl_sim_episode_json(&ep, line, sizeof(line));
				fputs(line, truth);
				fflush(truth);
			}
			if (ep.artifact)
				artifacts++;
			else
				episodes++;
		}
		if (len && (rc = cl_sim_target_send(&t, buf, len, (uint32_t)a.batch)) != CL_OK)
			break;
		events += (uint64_t)n;
		if (ev == end)
			break;
		if (a.speed > 0 && cl_time_now_us() - wall < 5000)
			usleep(5000);
	}
	cl_sim_target_close(&t);
	cl_sim_destroy(sim);
	cl_free(buf);
	if (truth)
		fclose(truth);
	fprintf(stderr, "carelake simulate: %llu events, %llu requests, %llu retries, %llu "
		"episodes, %llu artifacts, %.1f s of event time in %.1f s\n",
		(unsigned long long)events, (unsigned long long)t.requests,
		(unsigned long long)t.retries, (unsigned long long)episodes,
		(unsigned long long)artifacts, (double)(ev - ev0) / 1e6,
		(double)(cl_time_now_us() - t0) / 1e6);
	if (rc)
		return cl_cli_error(&cli, "%s", cl_error_detail());
	return CL_EXIT_OK;
}
