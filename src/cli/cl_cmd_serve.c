/*
 * `carelake serve`: the long-running platform. Opens the data directory,
 * creates the admin token on first start, serves the HTTP API until
 * SIGINT or SIGTERM, then stops cleanly: no new connections, requests in
 * flight answered, everything accepted committed.
 */
#include "cl_cli.h"
#include "core/cl_error.h"
#include "serve/cl_http_config.h"
#include "serve/cl_server.h"

#include <getopt.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>

const char cl_cmd_serve_usage[] =
	"usage: carelake serve [--data DIR] [--listen HOST:PORT] [--mqtt HOST:PORT]\n"
	"                      [--config FILE]\n\n"
	"Runs the platform: device-event and FHIR Observation ingest over HTTP and\n"
	"MQTT with durable acknowledgements, into the bronze log of the data\n"
	"directory.\n\n"
	"On first start it creates an admin API token, keeps only its hash, and\n"
	"writes the token to DIR/admin.token (mode 0600). Every endpoint except\n"
	"GET /healthz and GET /metrics needs 'Authorization: Bearer <token>'.\n\n"
	"endpoints:\n"
	"  POST /api/v1/events   a JSON event, an array of events, or NDJSON\n"
	"  POST /fhir/Observation  a FHIR R4 Observation (OperationOutcome on error)\n"
	"  POST /fhir            a FHIR Bundle (batch, transaction, collection) of Observations\n"
	"  GET  /fhir/metadata   the CapabilityStatement\n"
	"  GET  /healthz         liveness\n"
	"  GET  /metrics         Prometheus metrics\n\n"
	"Prints 'listening on http://HOST:PORT' once ready (port 0 picks a free\n"
	"port). SIGINT or SIGTERM stops it cleanly.\n\n"
	"options:\n"
	"  --listen HOST:PORT  address to serve on (default 127.0.0.1:8080;\n"
	"                      same as --set http.listen=...)\n"
	"  --mqtt HOST:PORT    also take events from this MQTT broker, topic\n"
	"                      devices/+/messages/events, QoS 1 acknowledged once\n"
	"                      durable (same as --set mqtt.broker=...; mqtts://HOST\n"
	"                      for TLS; user name, password: docs/mqtt.md)\n"
	CL_CLI_COMMON_HELP;

int cl_cmd_serve(int argc, char **argv)
{
	static const struct option opts[] = {
		CL_CLI_COMMON_OPTIONS,
		{ "listen", required_argument, NULL, 'l' },
		{ "mqtt", required_argument, NULL, 'm' },
		{ NULL, 0, NULL, 0 },
	};
	struct cl_server *srv;
	struct cl_cli cli;
	sigset_t set;
	int opt, rc, sig;

	cl_cli_init(&cli, "serve");
	optind = 1;
	while ((opt = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		if (opt == CL_OPT_HELP)
			return cl_cli_help(cl_cmd_serve_usage);
		rc = cl_cli_common_option(&cli, opt, optarg);
		if (rc < 0)
			return CL_EXIT_USAGE;
		if (rc > 0)
			continue;
		if (opt == 'l') {
			if (cl_config_set(cli.cfg, "http.listen", optarg))
				return cl_cli_error(&cli, "--listen: %s", cl_error_detail());
		} else if (opt == 'm') {
			if (cl_config_set(cli.cfg, "mqtt.broker", optarg))
				return cl_cli_error(&cli, "--mqtt: %s", cl_error_detail());
		} else {
			return cl_cli_error(&cli, "unknown option (see carelake serve --help)");
		}
	}
	if (optind < argc)
		return cl_cli_error(&cli, "unexpected argument '%s'", argv[optind]);

	/* every thread started from here on inherits the blocked signals;
	 * this thread alone waits for them */
	sigemptyset(&set);
	sigaddset(&set, SIGINT);
	sigaddset(&set, SIGTERM);
	pthread_sigmask(SIG_BLOCK, &set, NULL);
	signal(SIGPIPE, SIG_IGN);

	rc = cl_server_start(cli.cfg, cli.data_dir, &srv);
	if (rc)
		return cl_cli_error(&cli, "%s", cl_error_detail());
	if (cl_server_created_token(srv))
		printf("carelake serve: created the admin API token in %s (mode 0600)\n",
		       cl_server_token_path(srv));
	else
		printf("carelake serve: the admin API token is in %s\n", cl_server_token_path(srv));
	{
		char host[64];
		const char *colon = strrchr(cl_http_settings(cli.cfg)->listen, ':');
		size_t n = colon ? (size_t)(colon - cl_http_settings(cli.cfg)->listen) : 0;

		snprintf(host, sizeof(host), "%.*s", (int)(n < sizeof(host) ? n : 0),
			 cl_http_settings(cli.cfg)->listen);
		printf("carelake serve: data in %s\n", cli.data_dir);
		printf("carelake serve: listening on http://%s:%u\n", host, cl_server_port(srv));
	}
	fflush(stdout);
	sigwait(&set, &sig);
	printf("carelake serve: stopping (signal %d)\n", sig);
	fflush(stdout);
	cl_server_stop(srv);
	printf("carelake serve: stopped\n");
	return CL_EXIT_OK;
}
