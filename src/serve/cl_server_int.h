/*
 * Internals shared by the files of src/serve/ (not a public interface):
 * the server's state, and how its parts reach each other. Endpoints
 * (cl_api_*.c) read what they need from struct cl_server; the transports
 * (cl_http_fast.c, cl_http_mhd.c) carry requests to them through the
 * route table (cl_route.h).
 */
#ifndef CL_SERVER_INT_H
#define CL_SERVER_INT_H

#include "cl_auth.h"
#include "cl_http_config.h"
#include "cl_req.h"
#include "cl_server.h"
#include "bronze/cl_bronze.h"
#include "ingest/cl_input.h"
#include "stream/cl_stream.h"
#include "cl_session.h"
#include "cl_sse.h"
#include "cl_webhook.h"
#include "plugins/out_kafka/cl_out_kafka.h"

#include <limits.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdatomic.h>

struct cl_fast;
struct cl_mhd;
struct cl_prom;

struct cl_server {
	struct cl_config cfg;             /* the server's own copy */
	const struct cl_http_settings *http;  /* its http.* */
	char data_dir[PATH_MAX];
	char keys_dir[PATH_MAX];          /* the audit signing and de-identification keys */
	int64_t started_us;

	struct cl_bronze *bronze;
	struct cl_auth *auth;
	int created_token;
	struct cl_inputs *inputs;         /* ingest.inputs, started */
	struct cl_input *events_in;       /* POST /api/v1/events (NULL: off) */
	struct cl_input *fhir_in;         /* POST /fhir... (NULL: off) */
	struct cl_blog *vitals;           /* bronze source "vitals" (device events) */
	struct cl_blog *backlog;          /* "vitals-backlog" (device events long
					   * after their time) */
	struct cl_blog *fhir;             /* bronze source "fhir" */
	struct cl_stream *stream;
	struct cl_stream_options stream_opts;
	struct cl_sse *sse;
	struct cl_webhook *webhook;       /* NULL without webhook.url */
	struct cl_out_kafka *kafka_out;   /* NULL without kafka_out.alerts_topic */
	struct cl_worker *ticker;         /* SSE keep-alives */
	struct cl_pipeline_runner *pipelines; /* NULL without pipelines.* */
	struct cl_worker *refiner;        /* refine.interval: logs into silver */
	struct cl_worker *fhir_rows;      /* silver rows as FHIR resources */
	struct cl_fhir_exports *exports;  /* Bulk Data export jobs */
	int fhir_keys_ready;              /* the search keys were read by this catalogue */

	pthread_mutex_t http_mu;          /* guards mhd and fast for the flushers */
	struct cl_mhd *mhd;               /* libmicrohttpd: all but plain ingest */
	struct cl_fast *fast;             /* owns the listening socket */
	uint16_t port;

	atomic_uint_fast64_t http_codes[CL_HTTP_CODES + 1];  /* replies by status */

	struct cl_audit *audit;           /* <data>/audit (NULL: audit.enabled 0) */
	char audit_dir[PATH_MAX];
	struct cl_authlimit *authlimit;   /* 401s per client address */
	struct cl_sessions *sessions;     /* the dashboards' browser sessions */
	atomic_uint_fast64_t request_seq; /* for request ids made here */
	atomic_uint_fast64_t audit_failed;  /* replies refused: no record queued */
	atomic_uint_fast64_t break_glass;   /* break-glass reads allowed */
	atomic_uint_fast64_t access_alerts_failed; /* ... whose access alert was not stored */
	atomic_uint_fast64_t auth_limited;  /* 429s for repeated failures */
	atomic_uint_fast64_t bulk_paused;   /* bulk bodies asked to wait: the store is behind */
};

/* The trail's flusher made tickets up to `durable` durable: the held
 * replies waiting for them go (cl_http_mhd.c). */
void cl_mhd_on_audit(struct cl_mhd *m, uint64_t durable);

/* Starts and stops the HTTP transports (cl_http.c). */
int cl_http_start(struct cl_server *s);
void cl_http_stop(struct cl_server *s);

/* Answers the requests waiting for commits of log up to batch (called
 * from that log's flusher). */
void cl_http_on_commit(struct cl_server *s, struct cl_blog *log, uint64_t batch);

/*
 * libmicrohttpd (cl_http_mhd.c): every request the fast path hands over,
 * its bytes unread. It listens on nothing of its own.
 */
int cl_mhd_start(struct cl_server *s, struct cl_mhd **out);
int cl_mhd_add(struct cl_mhd *m, int fd, const struct sockaddr_in *peer);
void cl_mhd_on_commit(struct cl_mhd *m, struct cl_blog *log, uint64_t batch);
int cl_mhd_waiting(struct cl_mhd *m);           /* requests waiting for commits */
unsigned cl_mhd_connections(struct cl_mhd *m);  /* connections it holds now */
void cl_mhd_stop(struct cl_mhd *m);

/*
 * The fast path (cl_http_fast.c) owns the listening socket. A request it
 * finds whole in the socket, to a route marked fast, with nothing unusual
 * in its head, it reads and answers on its own event loops; a connection
 * that shows anything else is handed, its bytes unread, to libmicrohttpd.
 */
int cl_fast_start(struct cl_server *s, const struct sockaddr_in *sa, struct cl_fast **out);
uint16_t cl_fast_port(const struct cl_fast *f);
void cl_fast_quiesce(struct cl_fast *f);       /* takes no new connections */
int cl_fast_waiting(struct cl_fast *f);        /* requests waiting for commits */
void cl_fast_stop(struct cl_fast *f);
void cl_fast_notify(struct cl_fast *f);        /* a commit happened */
void cl_fast_metrics(struct cl_fast *f, struct cl_prom *p);

/* The bronze logs serve follows (vitals, fhir, vitals-backlog; NULL when
 * not open) with their sources' names, in the stream's order
 * (cl_stream_log). */
#define CL_SERVER_LOGS 3
void cl_server_logs(struct cl_server *s, struct cl_blog *logs[CL_SERVER_LOGS],
		    const char *names[CL_SERVER_LOGS]);

/* Renders the server's /metrics: each part by its owner. */
char *cl_metrics_render(struct cl_server *s, size_t *len);

#endif
