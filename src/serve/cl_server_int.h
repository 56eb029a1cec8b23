/*
 * Internals shared by the files of src/serve/ (not a public interface).
 */
#ifndef CL_SERVER_INT_H
#define CL_SERVER_INT_H

#include "cl_auth.h"
#include "cl_http_config.h"
#include "cl_server.h"
#include "bronze/cl_bronze.h"
#include "ingest/cl_dedupe.h"
#include "ingest/cl_ingest.h"
#include "plugins/in_mqtt/cl_in_mqtt.h"
#include "stream/cl_stream.h"
#include "cl_sse.h"
#include "cl_webhook.h"

#include <limits.h>
#include <netinet/in.h>
#include <microhttpd.h>
#include <pthread.h>
#include <stdatomic.h>

#define CL_COMMIT_BUCKETS 13

/* HTTP status codes counted for /metrics. */
#define CL_HTTP_CODES 10
extern const int cl_http_codes[CL_HTTP_CODES];

struct cl_http_req;
struct cl_fast;
struct cl_fconn;

struct cl_server {
	struct cl_config cfg;             /* the server's own copy */
	const struct cl_http_settings *http;  /* its http.* */
	char data_dir[PATH_MAX];
	int64_t started_us;

	struct cl_bronze *bronze;
	struct cl_blog *vitals;
	struct cl_auth *auth;
	int created_token;
	struct cl_dedupe *dedupe;
	struct cl_ingest *ingest;
	struct cl_blog *fhir;             /* bronze source "fhir" */
	struct cl_dedupe *fhir_dedupe;
	struct cl_ingest *fhir_ingest;
	struct cl_mqtt_in *mqtt;          /* NULL without mqtt.broker */
	struct cl_stream *stream;
	struct cl_stream_options stream_opts;
	struct cl_sse *sse;
	struct cl_webhook *webhook;       /* NULL without webhook.url */
	pthread_t ticker;
	int ticker_started;
	atomic_int ticker_stop;
	struct cl_pipeline_runner *pipelines; /* NULL without pipelines.* */
	pthread_t refiner;                /* refine.interval: logs into silver */
	int refiner_started;
	pthread_mutex_t refine_mu;
	pthread_cond_t refine_cv;

	struct MHD_Daemon *mhd;
	struct cl_fast *fast;             /* owns the listening socket */
	uint16_t port;
	pthread_mutex_t wait_mu;          /* guards waiters and stopping */
	struct cl_http_req *waiters;      /* suspended until their commit */
	int stopping;

	/* metrics */
	atomic_uint_fast64_t commit_buckets[CL_COMMIT_BUCKETS + 1];
	atomic_uint_fast64_t commit_count;
	atomic_uint_fast64_t commit_sum_us;
	atomic_uint_fast64_t http_codes[CL_HTTP_CODES + 1];
};

extern const double cl_commit_bucket_le[CL_COMMIT_BUCKETS];

/* Starts and stops the HTTP daemon (cl_http.c). */
int cl_http_start(struct cl_server *s);
void cl_http_stop(struct cl_server *s);

/* Resumes requests waiting for commits of log up to batch (called from
 * that log's flusher). */
void cl_http_on_commit(struct cl_server *s, struct cl_blog *log, uint64_t batch);

/*
 * The fast path (cl_http_fast.c) owns the listening socket. A request it
 * finds whole in the socket, to an ingest endpoint, with nothing unusual
 * in its head, it reads and answers on its own event loops; a connection
 * that shows anything else is handed, its bytes unread, to MHD.
 */
int cl_fast_start(struct cl_server *s, const struct sockaddr_in *sa, struct cl_fast **out);
uint16_t cl_fast_port(const struct cl_fast *f);
void cl_fast_quiesce(struct cl_fast *f);       /* takes no new connections */
int cl_fast_waiting(struct cl_fast *f);        /* requests waiting for commits */
void cl_fast_stats(struct cl_fast *f, uint64_t *conns, uint64_t *handoffs, uint64_t *refused);
void cl_fast_stop(struct cl_fast *f);
void cl_fast_notify(struct cl_fast *f);        /* a commit happened */
void cl_fast_reply(struct cl_fconn *c, int code, const char *ctype, const char *body,
		   size_t len, const char *extra_h, const char *extra_v);

/* cl_http.c's side of the fast path. cl_http_fast_serve returns 1 when the
 * request waits for its commit, then cl_http_fast_poll answers it once
 * the commit is done (returns 1). */
int cl_http_fast_route(const char *path, size_t n);
struct cl_http_req *cl_http_fast_new(struct cl_fconn *c);
void cl_http_fast_free(struct cl_http_req *r);
int cl_http_fast_serve(struct cl_server *s, struct cl_http_req *r, const char *path, size_t n,
		       const char *auth, const char *body, size_t len);
int cl_http_fast_poll(struct cl_server *s, struct cl_http_req *r);

/* Writes the Prometheus text of /metrics into a cl_malloc'd buffer. */
char *cl_metrics_render(struct cl_server *s, size_t *len);

#endif
