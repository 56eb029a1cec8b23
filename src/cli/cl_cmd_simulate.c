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

#include <getopt.h>
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
	"  FILE or -          write NDJSON\n\n"
	"options:\n"
	"  --token T          API token (or --token-file DATA/admin.token)\n"
	"  --patients N       patients (default 16)\n"
	"  --rate R           events per second in all (default 200)\n"
	"  --duration S       seconds to run (default 60; Ctrl-C stops early)\n"
	"  --seed K           the same seed gives the same stream (default 1)\n"
	"  --episodes E       episodes per patient per hour (default 2)\n"
	"  --late SHARE       share of events delivered up to 5 s late (default 0.02)\n"
	"  --duplicates SHARE share of events sent twice (default 0.01)\n"
	"  --batch N          HTTP: at most N events per request (default 1000;\n"
	"                     1 sends every event on its own)\n"
	"  --truth FILE       ground truth of the injected episodes\n"
	CL_CLI_COMMON_HELP;

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

int cl_cmd_simulate(int argc, char **argv)
{
	static const struct option opts[] = {
		CL_CLI_COMMON_OPTIONS,
		{ "target", required_argument, NULL, 't' },
		{ "token", required_argument, NULL, 'k' },
		{ "token-file", required_argument, NULL, 'K' },
		{ "patients", required_argument, NULL, 'p' },
		{ "rate", required_argument, NULL, 'r' },
		{ "duration", required_argument, NULL, 'd' },
		{ "seed", required_argument, NULL, 's' },
		{ "truth", required_argument, NULL, 'T' },
		{ "episodes", required_argument, NULL, 'e' },
		{ "late", required_argument, NULL, 'l' },
		{ "duplicates", required_argument, NULL, 'D' },
		{ "batch", required_argument, NULL, 'b' },
		{ NULL, 0, NULL, 0 },
	};
	struct cl_sim_options so;
	const char *target_spec = NULL, *truth_path = NULL;
	char token[256] = "";
	uint64_t duration = 60, batch = 1000, u;
	struct cl_cli cli;
	struct cl_sim_target t;
	struct cl_sim *sim;
	FILE *truth = NULL;
	char *buf = NULL;
	size_t len = 0, cap = 0;
	uint64_t events = 0, episodes = 0;
	int64_t t0;
	int opt, rc;

	cl_cli_init(&cli, "simulate");
	cl_sim_options_default(&so);
	optind = 1;
	while ((opt = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		char *end;
		double f;

		if (opt == CL_OPT_HELP)
			return cl_cli_help(cl_cmd_simulate_usage);
		rc = cl_cli_common_option(&cli, opt, optarg);
		if (rc < 0)
			return CL_EXIT_USAGE;
		if (rc > 0)
			continue;
		switch (opt) {
		case 't': target_spec = optarg; break;
		case 'k': snprintf(token, sizeof(token), "%s", optarg); break;
		case 'K':
			if (read_token(optarg, token, sizeof(token)))
				return cl_cli_error(&cli, "%s", cl_error_detail());
			break;
		case 'T': truth_path = optarg; break;
		case 'p':
			if (cl_parse_u64(optarg, 1, 1000000, &u))
				return cl_cli_error(&cli, "--patients: %s", cl_error_detail());
			so.patients = (uint32_t)u;
			break;
		case 'r':
			if (cl_parse_u64(optarg, 1, 100000000, &u))
				return cl_cli_error(&cli, "--rate: %s", cl_error_detail());
			so.rate = (double)u;
			break;
		case 'd':
			if (cl_parse_u64(optarg, 1, 864000, &duration))
				return cl_cli_error(&cli, "--duration: %s", cl_error_detail());
			break;
		case 's':
			if (cl_parse_u64(optarg, 0, UINT64_MAX - 1, &so.seed))
				return cl_cli_error(&cli, "--seed: %s", cl_error_detail());
			break;
		case 'b':
			if (cl_parse_u64(optarg, 1, 1000000, &batch))
				return cl_cli_error(&cli, "--batch: %s", cl_error_detail());
			break;
		case 'e':
		case 'l':
		case 'D':
			f = strtod(optarg, &end);
			if (end == optarg || *end || f < 0 || (opt != 'e' && f > 1) || f > 3600)
				return cl_cli_error(&cli, "--%s must be a number%s",
						    opt == 'e' ? "episodes" : opt == 'l' ? "late" : "duplicates",
						    opt == 'e' ? " >= 0" : " from 0 to 1");
			if (opt == 'e')
				so.episode_rate = f;
			else if (opt == 'l')
				so.late_share = f;
			else
				so.duplicate_share = f;
			break;
		default:
			return cl_cli_error(&cli, "unknown option (see carelake simulate --help)");
		}
	}
	if (!target_spec)
		return cl_cli_error(&cli, "--target is required (a URL, mqtt[s]://HOST[:PORT] or a file)");
	if (optind < argc)
		return cl_cli_error(&cli, "unexpected argument '%s'", argv[optind]);
	rc = cl_sim_target_open(&t, target_spec, token, cli.cfg);
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
