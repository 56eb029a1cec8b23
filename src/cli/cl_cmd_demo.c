/*
 * `carelake demo`: the main job on the embedded default. Creates a fresh
 * data directory, starts the platform (as `carelake serve` does) on
 * 127.0.0.1:8080 (or a free port if that is taken), streams simulated ICU
 * vitals into it over HTTP (as `carelake simulate` does), and shows a live
 * summary each second — events per second, alerts open, the patients with
 * the highest NEWS2 — with the URL and the token to explore it. Ctrl-C
 * stops it cleanly.
 */
#include "cl_cli.h"
#include "batch/cl_batch.h"
#include "batch/cl_generate.h"
#include "batch/cl_generate_cohort.h"
#include "core/cl_error.h"
#include "core/cl_log.h"
#include "core/cl_time.h"
#include "ml/cl_readm_score.h"
#include "ml/cl_readmission.h"
#include "serve/cl_server.h"
#include "sim/cl_sim.h"
#include "sim/cl_sim_target.h"
#include "store/cl_store.h"

#include <limits.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

const char cl_cmd_demo_usage[] =
	"usage: carelake demo [--data DIR] [--patients N] [--rate EVENTS_PER_S]\n"
	"                     [--duration SECONDS] [--seed K] [--listen HOST:PORT]\n\n"
	"Runs the platform on a fresh data directory: generates a synthetic\n"
	"hospital of N patients (carelake generate) and loads it into silver and\n"
	"gold, then streams simulated ICU vitals of the same patients into it:\n"
	"bedside monitors, with injected episodes\n"
	"(desaturation, tachycardia, hypertensive crisis, deterioration, device\n"
	"dropouts). Two years of other patients' stays (--history) train a\n"
	"readmission model, promoted so that it scores the patients in bed.\n"
	"Every second it prints events/s, the alerts open and the\n"
	"patients with the highest NEWS2, and it prints the URL and API token so you\n"
	"can query it meanwhile (curl -H 'Authorization: Bearer TOKEN' URL/api/v1/alerts).\n"
	"Runs until Ctrl-C, or for --duration seconds. Without --data the data is\n"
	"kept in a new directory under /tmp.\n\n";

/* set by the signal handler, read by the feeder thread too (a lock-free
 * atomic is safe in both) */
static atomic_int stop;

static void on_signal(int sig)
{
	(void)sig;
	atomic_store(&stop, 1);
}

struct feeder {
	struct cl_sim_options so;
	char url[128];
	char token[128];
	atomic_uint_fast64_t sent;
	int rc;
	char err[300];
};

/* The simulator, posting to the demo's own server. */
static void *feeder_main(void *arg)
{
	struct feeder *f = arg;
	struct cl_sim_target t;
	struct cl_sim *sim = NULL;
	char *buf = NULL;
	size_t len = 0, cap = 0;

	f->rc = cl_sim_target_open(&t, f->url, f->token, NULL);
	if (f->rc == CL_OK) {
		t.stop = &stop;
		f->rc = cl_sim_create(&f->so, cl_time_now_us(), &sim);
		while (f->rc == CL_OK && !atomic_load(&stop)) {
			long n;

			len = 0;
			n = cl_sim_events(sim, cl_time_now_us(), &buf, &len, &cap);
			if (n < 0)
				f->rc = cl_error_set(CL_ENOMEM, "out of memory");
			else if (len)
				f->rc = cl_sim_target_send(&t, buf, len, 1000);
			if (f->rc == CL_OK)
				atomic_fetch_add(&f->sent, (uint64_t)n);
			usleep(10000);
		}
		cl_sim_destroy(sim);
		cl_sim_target_close(&t);
	}
	if (f->rc)
		snprintf(f->err, sizeof(f->err), "%s", cl_error_detail());
	free(buf);
	return NULL;
}

static void print_top(void *arg, const char *patient, int score, const char *risk)
{
	int *first = arg;

	printf("%s%s %d (%s)", *first ? "  top NEWS2: " : ", ", patient, score, risk);
	*first = 0;
}

/* What demo's options set. */
struct demo_args {
	uint64_t patients, rate, duration, seed, history;
	const char *listen;
};

const struct cl_opt cl_cmd_demo_opts[] = {
	CL_OPT_UINT("patients", struct demo_args, patients, 1, 100000, "N",
		    "simulated patients (default 24)"),
	CL_OPT_UINT("rate", struct demo_args, rate, 1, 10000000, "R",
		    "events per second (default 600)"),
	CL_OPT_UINT("duration", struct demo_args, duration, 1, 864000, "S",
		    "stop after S seconds (default: run until Ctrl-C)"),
	CL_OPT_UINT("seed", struct demo_args, seed, 0, UINT64_MAX - 1, "K",
		    "random seed (default 1)"),
	CL_OPT_STRING("listen", struct demo_args, listen, "H:P",
		      "where to serve (default 127.0.0.1:8080, else a free port)"),
	CL_OPT_UINT("history", struct demo_args, history, 0, 100000, "N",
		    "past patients whose two years of stays train the readmission model "
		    "(default 2000; 0: no model)"),
	CL_OPT_END,
};

/* The readmission model of the demo: trained on the past stays and
 * promoted, so that it scores the patients in bed now. A cohort too small
 * to train on leaves the demo without one, and says so. */
static void demo_model(const char *data_dir)
{
	struct cl_readm_options o;
	json_t *r = NULL;
	long scored = 0;
	int v;

	cl_readm_options_default(&o);
	if (cl_readm_train(data_dir, &o, &r) != CL_OK) {
		printf("carelake demo: no readmission model: %s\n", cl_error_detail());
		return;
	}
	v = (int)json_integer_value(json_object_get(r, "version"));
	if (cl_readm_promote(data_dir, v) == CL_OK && cl_readm_risk_store(data_dir, &scored) == CL_OK)
		printf("carelake demo: readmission model v%d trained on %lld past stays (AUROC %s "
		       "%.3f, LACE %.3f) and promoted: %ld stays in hospital or discharged in the "
		       "last 30 days scored (carelake model show v%d --data %s)\n", v,
		       (long long)json_integer_value(json_object_get(json_object_get(r, "cohort"),
								     "index")),
		       json_string_value(json_object_get(json_object_get(r, "serving"), "model")),
		       json_number_value(json_object_get(json_object_get(json_object_get(
			       r, "metrics"), json_string_value(json_object_get(json_object_get(
			       r, "serving"), "model"))), "auroc")),
		       json_number_value(json_object_get(json_object_get(json_object_get(
			       r, "metrics"), "lace"), "auroc")),
		       scored, v, data_dir);
	else
		printf("carelake demo: the readmission model v%d does not serve: %s\n", v,
		       cl_error_detail());
	json_decref(r);
}

int cl_cmd_demo(int argc, char **argv)
{
	struct demo_args a = { .patients = 24, .rate = 600, .history = 2000 };
	struct feeder f = { .rc = 0 };
	struct cl_server *srv = NULL;
	struct cl_store *st = NULL;
	struct cl_cli cli;
	pthread_t th;
	char path[PATH_MAX];
	uint64_t duration, last = 0;
	int data_given, listen_given, nargs, rc;
	int64_t t0;
	FILE *tf;

	cl_cli_init(&cli, "demo");
	cl_sim_options_default(&f.so);
	a.seed = f.so.seed;
	rc = cl_cli_parse(&cli, cl_cmd_demo_opts, &a, cl_cmd_demo_usage, argc, argv, &nargs);
	if (rc >= 0)
		return rc;
	f.so.patients = (uint32_t)a.patients;
	f.so.rate = (double)a.rate;
	f.so.seed = a.seed;
	f.so.episode_rate = 20; /* the demo should show a few alerts */
	duration = a.duration;
	data_given = cli.data_given;
	listen_given = a.listen != NULL;
	if (a.listen && cl_config_set(cli.cfg, "http.listen", a.listen))
		return cl_cli_error(&cli, "--listen: %s", cl_error_detail());
	if (nargs)
		return cl_cli_error(&cli, "unexpected argument '%s'", argv[0]);
	if (!data_given) {
		char tmpl[] = "/tmp/carelake-demo-XXXXXX";

		if (!mkdtemp(tmpl))
			return cl_cli_error(&cli, "cannot create a temporary data directory");
		snprintf(cli.data_dir, sizeof(cli.data_dir), "%s", tmpl);
	}
	if (cl_log_threshold == CL_LOG_INFO)
		cl_log_threshold = CL_LOG_WARN; /* the summary is the output here */
	/* the hospital around the ICU: its records, loaded into silver and gold */
	{
		char hosp[sizeof(cli.data_dir) + 16], hist[sizeof(cli.data_dir) + 24];
		char *paths[2] = { hosp, hist };
		struct cl_generate_counts gc;
		struct cl_cohort_counts cc = { 0 };
		struct cl_batch_summary sum;
		struct cl_batch *b;

		snprintf(hosp, sizeof(hosp), "%s/hospital", cli.data_dir);
		snprintf(hist, sizeof(hist), "%s/history", cli.data_dir);
		rc = cl_generate(hosp, (int)f.so.patients, f.so.seed, &gc);
		/* and its past: two years of other patients' stays, ending today,
		 * for the readmission model to learn from */
		if (rc == CL_OK && a.history) {
			struct cl_cohort_options co = { .patients = (int)a.history, .years = 2,
							.seed = a.seed };

			co.end_us = cl_time_now_us() / (86400ll * 1000000) * (86400ll * 1000000);
			rc = cl_generate_cohort(hist, &co, &cc);
			strncat(hist, "/fhir", sizeof(hist) - strlen(hist) - 1);
		}
		if (rc == CL_OK)
			rc = cl_batch_open(cli.data_dir, &b);
		if (rc == CL_OK) {
			struct cl_lake_opts lake;

			cl_lake_opts_from_config(&lake, cli.cfg);
			cl_batch_set_lake(b, &lake, 0);
			rc = cl_batch_ingest(b, NULL, paths, a.history ? 2 : 1, NULL, NULL, NULL, &sum);
			cl_batch_close(b);
		}
		if (rc)
			return cl_cli_error(&cli, "the synthetic hospital: %s", cl_error_detail());
		printf("carelake demo: a synthetic hospital of %ld patients, %ld encounters, %ld staff "
		       "and the records of %ld past patients (%ld admissions, %ld emergency visits) "
		       "loaded into silver and gold (%llu rows; carelake query --data %s 'SELECT * "
		       "FROM gold_admissions_daily')\n", gc.patients, gc.encounters, gc.staff,
		       cc.patients, cc.stays, cc.emergency_visits, (unsigned long long)sum.c.accepted,
		       cli.data_dir);
		if (a.history)
			demo_model(cli.data_dir);
	}
	signal(SIGPIPE, SIG_IGN);
	rc = cl_server_start(cli.cfg, cli.data_dir, cli.keys, &srv);
	if (rc && !listen_given) {
		cl_config_set(cli.cfg, "http.listen", "127.0.0.1:0");
		rc = cl_server_start(cli.cfg, cli.data_dir, cli.keys, &srv);
	}
	if (rc)
		return cl_cli_error(&cli, "%s", cl_error_detail());
	snprintf(f.url, sizeof(f.url), "http://127.0.0.1:%u", cl_server_port(srv));
	tf = fopen(cl_server_token_path(srv), "r");
	if (!tf || !fgets(f.token, sizeof(f.token), tf)) {
		if (tf)
			fclose(tf);
		cl_server_stop(srv);
		return cl_cli_error(&cli, "cannot read the admin token");
	}
	fclose(tf);
	f.token[strcspn(f.token, "\r\n")] = '\0';
	printf("carelake demo: %u simulated ICU patients, %.0f events/s\n", f.so.patients, f.so.rate);
	printf("  data    %s\n  board   %s/   (sign in with the token below; the ICU board is /board)\n"
	       "  API     %s   (GET /api/v1/alerts, /api/v1/patients/patient-0001/vitals,\n"
	       "          /api/v1/stream, /metrics)\n  token   %s\n", cli.data_dir, f.url, f.url,
	       f.token);
	if (!duration)
		printf("  Ctrl-C stops it\n");
	fflush(stdout);

	signal(SIGINT, on_signal);
	signal(SIGTERM, on_signal);
	pthread_create(&th, NULL, feeder_main, &f);
	cl_store_open(cli.data_dir, &st);
	t0 = cl_time_mono_us();
	for (int64_t tick = 1; !atomic_load(&stop); tick++) {
		long open = 0;
		int first = 1;
		uint64_t sent;

		while (!atomic_load(&stop) && cl_time_mono_us() - t0 < tick * 1000000)
			usleep(20000);
		sent = atomic_load(&f.sent);
		if (st)
			cl_store_open_alerts(st, &open);
		printf("t=%3llds  %6llu events/s  %5llu total  alerts open %ld",
		       (long long)tick, (unsigned long long)(sent - last), (unsigned long long)sent, open);
		if (st)
			cl_store_top_news2(st, 3, print_top, &first);
		printf("\n");
		fflush(stdout);
		last = sent;
		if (f.rc || (duration && (uint64_t)tick >= duration))
			break;
	}
	atomic_store(&stop, 1);
	pthread_join(th, NULL);
	cl_store_close(st);
	cl_server_stop(srv);
	signal(SIGINT, SIG_DFL);
	signal(SIGTERM, SIG_DFL);
	if (f.rc)
		return cl_cli_error(&cli, "the simulator stopped: %s", f.err);
	snprintf(path, sizeof(path), "%s", cli.data_dir);
	printf("\nstopped; everything is in %s\n  carelake verify --data %s\n"
	       "  carelake bronze dump --data %s --source vitals --limit 5\n", path, path, path);
	return CL_EXIT_OK;
}
