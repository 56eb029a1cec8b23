/*
 * `carelake demo`: the main job on the embedded default. Creates a fresh
 * data directory, streams synthetic ICU vitals from the in_synthetic
 * plugin into its bronze log with durable group commits, shows progress
 * each second, then verifies the log and prints what it stored.
 */
#include "cl_cli.h"
#include "cl_plugin.h"
#include "bronze/cl_bronze.h"
#include "bronze/cl_reader.h"
#include "core/cl_error.h"
#include "core/cl_mem.h"
#include "core/cl_time.h"

#include <getopt.h>
#include <limits.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

const char cl_cmd_demo_usage[] =
	"usage: carelake demo [--data DIR] [--patients N] [--rate EVENTS_PER_S]\n"
	"                     [--duration SECONDS] [--seed K]\n\n"
	"Streams synthetic bedside-monitor vitals (heart rate, respiratory rate,\n"
	"SpO2, blood pressure, temperature) for N patients into the bronze log of\n"
	"a fresh data directory, each record acknowledged only once durable,\n"
	"prints progress every second, then verifies the log and shows the first\n"
	"records stored. Ctrl-C stops early and still prints the summary.\n\n"
	"options:\n"
	"  --patients N      simulated patients (default 16)\n"
	"  --rate R          events per second (default 2000)\n"
	"  --duration S      seconds to run (default 5)\n"
	"  --seed K          random seed (default 1)\n"
	"  --data DIR        where to write (default: a new directory under /tmp)\n"
	CL_CLI_COMMON_HELP;

static volatile sig_atomic_t stop;

static void on_signal(int sig)
{
	(void)sig;
	stop = 1;
}

/* Commit latencies gathered from the flusher's notify callback. */
struct latencies {
	pthread_mutex_t mu;
	int64_t *us;
	size_t n, cap;
	uint64_t failed;
};

static void on_commit(void *arg, const struct cl_blog_commit *c)
{
	struct latencies *l = arg;

	pthread_mutex_lock(&l->mu);
	if (c->rc != 0)
		l->failed++;
	else if (l->n < l->cap)
		l->us[l->n++] = c->write_us + c->sync_us;
	pthread_mutex_unlock(&l->mu);
}

static int cmp_i64(const void *a, const void *b)
{
	int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;

	return x < y ? -1 : x > y;
}

static int emit(void *arg, const void *rec, size_t len)
{
	struct cl_blog_ticket t;

	return cl_blog_submit(arg, rec, len, CL_BLOG_NOWAIT, &t);
}

int cl_cmd_demo(int argc, char **argv)
{
	static const struct option opts[] = {
		CL_CLI_COMMON_OPTIONS,
		{ "patients", required_argument, NULL, 'p' },
		{ "rate", required_argument, NULL, 'r' },
		{ "duration", required_argument, NULL, 'd' },
		{ "seed", required_argument, NULL, 'k' },
		{ NULL, 0, NULL, 0 },
	};
	const struct cl_input_plugin *plug = cl_input_plugin_find("synthetic");
	uint64_t settings[64] = { 0 }, duration = 5, last_records = 0;
	struct latencies lat = { .mu = PTHREAD_MUTEX_INITIALIZER };
	struct cl_bronze_report rep;
	struct cl_blog_stats st;
	struct cl_bronze *b = NULL;
	struct cl_blog *log = NULL;
	void *state = NULL;
	struct cl_cli cli;
	int data_given = 0, opt, rc;
	int64_t t0, next_tick;

	cl_cli_init(&cli, "demo");
	cl_config_table_defaults(plug->config_map, plug->config_count, settings);
	optind = 1;
	while ((opt = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		const char *key = NULL;

		if (opt == CL_OPT_HELP)
			return cl_cli_help(cl_cmd_demo_usage);
		if (opt == CL_OPT_DATA)
			data_given = 1;
		rc = cl_cli_common_option(&cli, opt, optarg);
		if (rc < 0)
			return CL_EXIT_USAGE;
		if (rc > 0)
			continue;
		switch (opt) {
		case 'p': key = "patients"; break;
		case 'r': key = "rate"; break;
		case 'k': key = "seed"; break;
		case 'd':
			if (cl_parse_u64(optarg, 1, 86400, &duration))
				return cl_cli_error(&cli, "--duration: %s", cl_error_detail());
			continue;
		default:
			return cl_cli_error(&cli, "unknown option (see carelake demo --help)");
		}
		if (cl_config_table_set(plug->config_map, plug->config_count, settings,
					key, optarg))
			return cl_cli_error(&cli, "--%s: %s", key, cl_error_detail());
	}
	if (optind < argc)
		return cl_cli_error(&cli, "unexpected argument '%s'", argv[optind]);
	if (!data_given) {
		char tmpl[] = "/tmp/carelake-demo-XXXXXX";

		if (!mkdtemp(tmpl))
			return cl_cli_error(&cli, "cannot create a temporary data directory");
		snprintf(cli.data_dir, sizeof(cli.data_dir), "%s", tmpl);
	}

	lat.cap = 1 << 20;
	lat.us = cl_malloc(lat.cap * sizeof(*lat.us));
	if (!lat.us)
		return cl_cli_error(&cli, "out of memory");
	rc = cl_bronze_open(cli.data_dir, &cli.cfg.bronze, &b);
	if (rc == CL_OK)
		rc = cl_bronze_log(b, plug->source, &log);
	if (rc == CL_OK) {
		cl_blog_set_notify(log, on_commit, &lat);
		rc = plug->cb_init(&state, settings);
	}
	if (rc) {
		char msg[600];

		snprintf(msg, sizeof(msg), "%s", cl_error_detail());
		cl_bronze_close(b);
		cl_free(lat.us);
		return cl_cli_error(&cli, "%s", msg);
	}

	printf("carelake demo: streaming synthetic ICU vitals into %s/bronze/%s\n",
	       cli.data_dir, plug->source);
	printf("plugin %s (%s), settings:\n", plug->name, plug->description);
	cl_config_table_print(stdout, plug->config_map, plug->config_count, settings, 0);
	printf("running for %llus; Ctrl-C stops early\n", (unsigned long long)duration);
	signal(SIGINT, on_signal);
	signal(SIGTERM, on_signal);
	t0 = cl_time_mono_us();
	next_tick = t0 + 1000000;
	while (!stop && cl_time_mono_us() - t0 < (int64_t)duration * 1000000) {
		rc = plug->cb_collect(state, cl_time_now_us(), emit, log);
		if (rc < 0)
			break;
		rc = 0;
		if (cl_time_mono_us() >= next_tick) {
			cl_blog_get_stats(log, &st);
			printf("  t=%2llds  durable records %9llu  (+%llu/s)  commits %7llu\n",
			       (long long)((next_tick - t0) / 1000000),
			       (unsigned long long)st.records,
			       (unsigned long long)(st.records - last_records),
			       (unsigned long long)st.commits);
			fflush(stdout);
			last_records = st.records;
			next_tick += 1000000;
		}
		usleep(5000);
	}
	signal(SIGINT, SIG_DFL);
	signal(SIGTERM, SIG_DFL);
	plug->cb_exit(state);
	if (rc < 0) {
		char msg[600];

		snprintf(msg, sizeof(msg), "%s", cl_error_detail());
		cl_bronze_close(b);
		cl_free(lat.us);
		return cl_cli_error(&cli, "stream stopped: %s", msg);
	}
	cl_blog_get_stats(log, &st);
	cl_bronze_close(b); /* commits everything still queued */

	rc = cl_bronze_verify(cli.data_dir, NULL, cli.cfg.bronze.record_max_bytes, &rep);
	if (rc) {
		cl_free(lat.us);
		return cl_cli_error(&cli, "verify: %s", cl_error_detail());
	}
	qsort(lat.us, lat.n, sizeof(*lat.us), cmp_i64);
	printf("\nstored: %llu records in %llu segment(s), %llu bytes; corrupt records: %llu\n",
	       (unsigned long long)rep.total.records,
	       (unsigned long long)rep.total.segments,
	       (unsigned long long)rep.total.bytes,
	       (unsigned long long)rep.total.corrupt_records);
	if (lat.n)
		printf("commits: %zu, %.1f records per fdatasync, commit latency p50 %.2f ms, p99 %.2f ms\n",
		       lat.n, (double)rep.total.records / (double)lat.n,
		       (double)lat.us[lat.n / 2] / 1000.0,
		       (double)lat.us[(size_t)((double)lat.n * 0.99)] / 1000.0);
	printf("first records:\n");
	{
		char dir[PATH_MAX];
		struct cl_blog_reader *r;
		struct cl_frame f;

		cl_bronze_source_dir(dir, sizeof(dir), cli.data_dir, plug->source);
		if (cl_blog_reader_open(dir, 0, 3, cli.cfg.bronze.record_max_bytes, &r) == CL_OK) {
			while (cl_blog_reader_next(r, &f) == 1)
				cl_cli_print_record(plug->source, &f);
			cl_blog_reader_close(r);
		}
	}
	printf("\nlook further:\n  carelake verify --data %s\n"
	       "  carelake bronze dump --data %s --source %s --from 100 --limit 5\n",
	       cli.data_dir, cli.data_dir, plug->source);
	rc = rep.total.corrupt_records || lat.failed ? CL_EXIT_FAIL : CL_EXIT_OK;
	cl_bronze_report_free(&rep);
	cl_free(lat.us);
	return rc;
}
