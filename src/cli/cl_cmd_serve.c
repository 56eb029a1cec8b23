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
	"  POST /fhir            a FHIR Bundle (batch, transaction, collection) of Observations;\n"
	"                        a batch or transaction of any type: FHIR's REST writes\n"
	"  GET  /fhir/metadata   the CapabilityStatement\n"
	"  GET  /fhir/{type}/{id}[/_history[/{vid}]]  FHIR read, vread, history\n"
	"  GET  /fhir/{type}?...  FHIR search; /fhir/Patient/{id}/$everything\n"
	"  GET  /healthz         liveness\n"
	"  GET  /metrics         Prometheus metrics\n\n"
	"Prints 'listening on http://HOST:PORT' once ready (port 0 picks a free\n"
	"port). SIGINT or SIGTERM stops it cleanly.\n\n";

/* Sets a setting from an option, the error naming the option. */
static int set_from(struct cl_cli *cli, const char *key, const char *opt, const char *arg)
{
	char detail[512];

	if (cl_config_set(cli->cfg, key, arg) == CL_OK)
		return CL_OK;
	snprintf(detail, sizeof(detail), "%s", cl_error_detail());
	return cl_error_set(CL_EINVAL, "--%s: %s", opt, detail);
}

/* --listen HOST:PORT */
static int opt_listen(void *base, const char *arg)
{
	return set_from(base, "http.listen", "listen", arg);
}

/* --mqtt HOST:PORT */
static int opt_mqtt(void *base, const char *arg)
{
	return set_from(base, "mqtt.broker", "mqtt", arg);
}

/* serve's options are settings: their base is the struct cl_cli */
const struct cl_opt cl_cmd_serve_opts[] = {
	CL_OPT_CALL("listen", opt_listen, "HOST:PORT",
		    "address to serve on (default 127.0.0.1:8080;\n"
		    "same as --set http.listen=...)"),
	CL_OPT_CALL("mqtt", opt_mqtt, "HOST:PORT",
		    "also take events from this MQTT broker, topic\n"
		    "devices/+/messages/events, QoS 1 acknowledged once\n"
		    "durable (same as --set mqtt.broker=...; mqtts://HOST\n"
		    "for TLS; user name, password: docs/mqtt.md)"),
	CL_OPT_END,
};

int cl_cmd_serve(int argc, char **argv)
{
	struct cl_server *srv;
	struct cl_cli cli;
	sigset_t set;
	int nargs, rc, sig;

	cl_cli_init(&cli, "serve");
	rc = cl_cli_parse(&cli, cl_cmd_serve_opts, &cli, cl_cmd_serve_usage, argc, argv, &nargs);
	if (rc >= 0)
		return rc;
	if (nargs)
		return cl_cli_error(&cli, "unexpected argument '%s'", argv[0]);

	/* every thread started from here on inherits the blocked signals;
	 * this thread alone waits for them */
	sigemptyset(&set);
	sigaddset(&set, SIGINT);
	sigaddset(&set, SIGTERM);
	pthread_sigmask(SIG_BLOCK, &set, NULL);
	signal(SIGPIPE, SIG_IGN);

	rc = cl_server_start(cli.cfg, cli.data_dir, cli.keys, &srv);
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
