/*
 * `carelake simulate`: synthetic device streams to a carelake server over
 * HTTP, to an MQTT broker, or to a file, with injected episodes and a
 * ground-truth file of what was injected and when (see src/sim/cl_sim.h).
 */
#include "cl_cli.h"
#include "core/cl_error.h"
#include "core/cl_time.h"
#include "sim/cl_sim.h"
#include "sim/cl_sim_target.h"

#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

const char cl_cmd_simulate_usage[] =
	"usage: carelake simulate --target URL|mqtt[s]://HOST[:PORT]|FILE [--token T | --token-file F]\n"
	"                         [--patients N] [--rate EVENTS_PER_S] [--duration S] [--seed K]\n"
	"                         [--truth FILE] [--episodes PER_PATIENT_HOUR] [--late SHARE]\n"
	"                         [--duplicates SHARE] [--batch N]\n\n"
	"Streams synthetic ICU vitals in real time: N patients on bedside monitors\n"
	"(heart rate, respiratory rate, SpO2, blood pressure, temperature) with\n"
	"personal baselines, drift, noise and a circadian swing, and injected\n"
	"episodes (desaturation, tachycardia, bradycardia, hypertensive crisis, a\n"
	"deterioration of several parameters, device dropouts). Some events are\n"
	"delivered late (out of order) and some twice (same id). Each episode, with\n"
	"the alert rules it should raise, is written to the --truth file (NDJSON).\n\n"
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
	const char *target, *truth;
	char token[256];
	uint64_t patients, rate, duration, seed, batch;
	double episodes, late, duplicates;
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

const struct cl_opt cl_cmd_simulate_opts[] = {
	CL_OPT_STRING("target", struct simulate_args, target, "T",
		      "where to send: http://HOST:PORT, mqtt[s]://HOST:PORT,\n"
		      "a FILE or - (see targets above)"),
	CL_OPT_CALL("token", opt_token, "T", "API token (or --token-file DATA/admin.token)"),
	CL_OPT_CALL("token-file", opt_token_file, "F", "read the API token from this file"),
	CL_OPT_UINT("patients", struct simulate_args, patients, 1, 1000000, "N",
		    "patients (default 16)"),
	CL_OPT_UINT("rate", struct simulate_args, rate, 1, 100000000, "R",
		    "events per second in all (default 200)"),
	CL_OPT_UINT("duration", struct simulate_args, duration, 1, 864000, "S",
		    "seconds to run (default 60; Ctrl-C stops early)"),
	CL_OPT_UINT("seed", struct simulate_args, seed, 0, UINT64_MAX - 1, "K",
		    "the same seed gives the same stream (default 1)"),
	CL_OPT_NUMBER("episodes", struct simulate_args, episodes, 0, 3600, "E",
		      "episodes per patient per hour (default 2)"),
	CL_OPT_NUMBER("late", struct simulate_args, late, 0, 1, "SHARE",
		      "share of events delivered up to 5 s late (default 0.02)"),
	CL_OPT_NUMBER("duplicates", struct simulate_args, duplicates, 0, 1, "SHARE",
		      "share of events sent twice (default 0.01)"),
	CL_OPT_UINT("batch", struct simulate_args, batch, 1, 1000000, "N",
		    "HTTP: at most N events per request (default 1000;\n"
		    "1 sends every event on its own)"),
	CL_OPT_STRING("truth", struct simulate_args, truth, "FILE",
		      "ground truth of the injected episodes"),
	CL_OPT_END,
};

int cl_cmd_simulate(int argc, char **argv)
{
	struct simulate_args a = { .duration = 60, .batch = 1000 };
	struct cl_sim_options so;
	const char *target_spec, *truth_path;
	uint64_t duration, batch;
	struct cl_cli cli;
	struct cl_sim_target t;
	struct cl_sim *sim;
	FILE *truth = NULL;
	char *buf = NULL;
	size_t len = 0, cap = 0;
	uint64_t events = 0, episodes = 0;
	int64_t t0;
	int nargs, rc;

	cl_cli_init(&cli, "simulate");
	cl_sim_options_default(&so);
	a.patients = so.patients, a.rate = (uint64_t)so.rate, a.seed = so.seed;
	a.episodes = so.episode_rate, a.late = so.late_share, a.duplicates = so.duplicate_share;
	rc = cl_cli_parse(&cli, cl_cmd_simulate_opts, &a, cl_cmd_simulate_usage, argc, argv,
			  &nargs);
	if (rc >= 0)
		return rc;
	so.patients = (uint32_t)a.patients, so.rate = (double)a.rate, so.seed = a.seed;
	so.episode_rate = a.episodes, so.late_share = a.late, so.duplicate_share = a.duplicates;
	target_spec = a.target, truth_path = a.truth, duration = a.duration, batch = a.batch;
	if (!target_spec)
		return cl_cli_error(&cli, "--target is required (a URL, mqtt[s]://HOST[:PORT] or a file)");
	if (nargs)
		return cl_cli_error(&cli, "unexpected argument '%s'", argv[0]);
	rc = cl_sim_target_open(&t, target_spec, a.token, cli.cfg);
	t.stop = &stop;
	if (rc)
		return cl_cli_error(&cli, "%s", cl_error_detail());
	if (truth_path && !(truth = fopen(truth_path, "w"))) {
		cl_sim_target_close(&t);
		return cl_cli_error(&cli, "cannot write the truth file '%s'", truth_path);
	}
	t0 = cl_time_now_us();
	rc = cl_sim_create(&so, t0, &sim);
	if (rc) {
		cl_sim_target_close(&t);
		return cl_cli_error(&cli, "%s", cl_error_detail());
	}
	signal(SIGINT, on_signal);
	signal(SIGTERM, on_signal);
	signal(SIGPIPE, SIG_IGN);
	while (!atomic_load(&stop) && cl_time_now_us() - t0 < (int64_t)duration * 1000000) {
		int64_t now = cl_time_now_us();
		struct cl_sim_episode ep;
		long n;

		len = 0;
		n = cl_sim_events(sim, now, &buf, &len, &cap);
		if (n < 0) {
			rc = cl_error_set(CL_ENOMEM, "out of memory");
			break;
		}
		while (truth && cl_sim_next_episode(sim, now, &ep)) {
			char line[512];

			cl_sim_episode_json(&ep, line, sizeof(line));
			fputs(line, truth);
			fflush(truth);
			episodes++;
		}
		if (len && (rc = cl_sim_target_send(&t, buf, len, (uint32_t)batch)) != CL_OK)
			break;
		events += (uint64_t)n;
		if (cl_time_now_us() - now < 5000)
			usleep(5000);
	}
	cl_sim_target_close(&t);
	cl_sim_destroy(sim);
	free(buf);
	if (truth)
		fclose(truth);
	fprintf(stderr, "carelake simulate: %llu events, %llu requests, %llu retries, %llu episodes "
		"in %.1f s\n", (unsigned long long)events, (unsigned long long)t.requests,
		(unsigned long long)t.retries, (unsigned long long)episodes,
		(double)(cl_time_now_us() - t0) / 1e6);
	if (rc)
		return cl_cli_error(&cli, "%s", cl_error_detail());
	return CL_EXIT_OK;
}
