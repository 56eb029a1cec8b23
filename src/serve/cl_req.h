/*
 * A request and its reply, as every endpoint sees them, whichever
 * transport carried them (carelake's own epoll loops, cl_http_fast.c, or
 * libmicrohttpd, cl_http_mhd.c). After nginx's request lifecycle: the
 * transport reads the request, the route table (cl_route.h) picks the
 * handler and checks its rule, the handler answers through cl_reply_*,
 * and the transport writes the answer out.
 *
 * A handler answers at once, or — for ingest, which answers only once the
 * records are durable — says what it waits for (cl_req_wait): a range of
 * commit batches of a bronze log. The transport parks the request (no
 * thread blocks) and calls the route's `finish` when the commit is done.
 * A live stream (server-sent events) is a reply whose body comes later,
 * piece by piece (cl_reply_stream); only libmicrohttpd carries those.
 *
 * A reply the audit trail must record (cl_serve_audit.h) is recorded as
 * it is made. On a transport that can hold replies (libmicrohttpd) a
 * reply of patient data is then held (r->held) until its record is
 * durable: the transport parks the request, as for a bronze commit, and
 * sends the held reply when the trail's flusher says so
 * (cl_req_release). Elsewhere the reply waits for the record in place.
 */
#ifndef CL_REQ_H
#define CL_REQ_H

#include "serve/cl_auth.h"

#include <jansson.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

struct cl_server;
struct cl_route;
struct cl_blog;
struct cl_req_stream;
struct cl_reply_headers;

#define CL_REQ_PARAMS 3        /* path parameters a route may have */
#define CL_REQ_PARAM_MAX 256   /* longest parameter value, its NUL included */

enum cl_method { CL_GET, CL_POST, CL_PUT, CL_DELETE, CL_METHOD_OTHER };

/* The headers a reply carries beyond its type and length: a handler
 * adds them (cl_reply_header) before it replies; an error reply also
 * takes one (cl_reply_error's extra_h). */
#define CL_REPLY_HEADERS 8              /* a page's security headers, ETag, cookie */
#define CL_REPLY_HEADER_MAX 256        /* longest value, its NUL included */
struct cl_reply_headers {
	int n;
	const char *name[CL_REPLY_HEADERS];            /* static strings */
	char value[CL_REPLY_HEADERS][CL_REPLY_HEADER_MAX];
};

/* What a transport does for the requests it carries. */
struct cl_transport {
	const char *name;            /* "fast" or "mhd", for logs */
	/* A query argument or request header (NULL: absent). */
	const char *(*query)(void *conn, const char *name);
	const char *(*header)(void *conn, const char *name);
	/* Calls fn for every query argument in order, repeated ones too;
	 * stops at fn's first nonzero return and returns it (NULL: the
	 * transport's routes take no such queries). */
	int (*each_query)(void *conn, int (*fn)(void *arg, const char *name, const char *value),
			  void *arg);
	/* Writes a whole reply with the headers h beyond Content-Type,
	 * Cache-Control (no-store, unless h names its own) and
	 * Content-Length; the body is the transport's to free (free()). */
	int (*reply)(void *conn, int code, const char *ctype, char *body, size_t len,
		     const struct cl_reply_headers *h);
	/* Starts a streamed reply (NULL: this transport cannot). */
	int (*stream)(void *conn, int code, const char *ctype, struct cl_req_stream *src);
	/* 1: the transport parks a request whose reply is held for its audit
	 * record and sends it with cl_req_release; 0: replies wait in place */
	int holds;
};

/* What the audit record of a request says beyond its route and status;
 * the handler fills what it knows. Strings are borrowed for the request. */
struct cl_req_audit {
	const char *action;      /* the action, when the route's row cannot say
				  * (a FHIR transaction on the ingest route) */
	const char *patient;     /* the patient whose data it is ("": none) */
	const char *resource_type; /* its type, when the route's row cannot say */
	const char *resource_id; /* the resource touched (an alert id, ...) */
	const char *break_glass; /* the X-Break-Glass reason, when it was used */
	int64_t count;           /* records returned */
};

/* A reply held until its audit record is durable. */
struct cl_req_held {
	int code;
	const char *ctype;       /* a static string */
	char *body;              /* taken from the handler; free() */
	size_t len;              /* its headers: the request's reply_h */
};

/*
 * A reply body produced over time. read copies up to max bytes into buf
 * and returns how many, 0 when it has nothing now (it calls `wait` first,
 * under its own lock, so a later `wake` resumes the transport), or -1 at
 * the end. release is called once the transport is done with it.
 */
struct cl_req_stream {
	ssize_t (*read)(void *arg, char *buf, size_t max);
	void (*release)(void *arg);
	void *arg;
	/* set by the transport before the first read */
	void (*wait)(void *handle);
	void (*wake)(void *handle);
	void *handle;
};

/* One request. */
struct cl_req {
	struct cl_server *s;
	const struct cl_route *route;
	enum cl_method method;
	const char *path;                  /* without the query string */
	char param[CL_REQ_PARAMS][CL_REQ_PARAM_MAX];  /* {name} values, decoded */
	const char *body;                  /* the whole body (not NUL-ended) */
	size_t body_len;
	struct cl_principal who;           /* the bearer of its token */
	int by_cookie;                     /* the token came from a dashboard
					    * session's cookie, not a header */
	int deidentified;                  /* a CL_ROUTE_DEID route let it in by
					    * export-deidentified alone: serve it
					    * de-identified */
	int answered;                      /* a reply was made */
	int code;                          /* its status */

	/* what it waits for (cl_req_wait): commit batches first..last of log,
	 * and of a second log too (cl_req_wait_also; wait_log2 NULL: none) */
	struct cl_blog *wait_log;
	uint64_t wait_first, wait_last;
	struct cl_blog *wait_log2;
	uint64_t wait_first2, wait_last2;

	char client[48];                   /* the client's address (the transport sets it) */
	char request_id[72];               /* X-Request-Id, honoured or made */
	struct cl_req_audit audit;         /* what its audit record says */
	int audited;                       /* its audit record is queued */
	uint64_t audit_ticket;             /* ... with this ticket */
	struct cl_reply_headers reply_h;   /* its reply's headers (cl_reply_header) */
	int has_held;                      /* a reply waits in `held` */
	struct cl_req_held held;

	int lazy;                          /* the transport wakes the log's flusher
					    * itself, once per round (CL_BLOG_LAZY) */

	/* the handler's scratch for `finish`, kept for the connection's next
	 * request of the same kind (state_owner says whose it is) */
	void *state;
	const void *state_owner;
	void (*free_state)(void *state);

	const struct cl_transport *t;
	void *conn;
};

/* Handler results. */
#define CL_REQ_DONE 0   /* answered (or the transport must close: no reply) */
#define CL_REQ_WAIT 1   /* parked until wait_log commits wait_last */

/* Starts a request for a transport (state cleared, the server set). */
void cl_req_init(struct cl_req *r, struct cl_server *s, const struct cl_transport *t,
		 void *conn);

/* Readies the request for the connection's next one (the handler's
 * scratch stays, for it to use again). */
void cl_req_reset(struct cl_req *r);

/* Frees the handler's scratch (the connection is done). */
void cl_req_free(struct cl_req *r);

/* The handler's scratch of kind `owner` (size bytes, zeroed when new),
 * kept from an earlier request of the connection when it was of the same
 * kind; NULL when out of memory. */
void *cl_req_scratch(struct cl_req *r, const void *owner, size_t size,
		     void (*free_state)(void *state));

/* A query argument or header, or NULL. */
const char *cl_req_query(const struct cl_req *r, const char *name);
const char *cl_req_header(const struct cl_req *r, const char *name);

/* Every query argument, as cl_transport.each_query; CL_ENOTSUP when the
 * transport cannot list them. */
int cl_req_each_query(const struct cl_req *r,
		      int (*fn)(void *arg, const char *name, const char *value), void *arg);

/* Every name=value of an application/x-www-form-urlencoded body (a POST
 * search), decoded ('+' a space, %XX a byte), in order, to fn as
 * cl_req_each_query does (fn's nonzero return ends the walk and is
 * returned). CL_EINVAL (the detail says where) for a bad %-escape, a
 * decoded NUL, or a name or value over 4 KiB. */
int cl_req_each_form(const struct cl_req *r,
		     int (*fn)(void *arg, const char *name, const char *value), void *arg);

/* Says what the request waits for; the handler then returns CL_REQ_WAIT. */
int cl_req_wait(struct cl_req *r, struct cl_blog *log, uint64_t first, uint64_t last);

/* And the commits of a second log it waits for as well (records of one
 * request stored in two logs: device events and their backlog lane). */
void cl_req_wait_also(struct cl_req *r, struct cl_blog *log, uint64_t first, uint64_t last);

/* Whether the commits it waits for are done (rc: their result, the
 * first failure of either log's). */
int cl_req_ready(const struct cl_req *r, int *rc);

/*
 * Sends the held reply once its audit record's commit is done (rc: the
 * commit's result; a failed one replaces the reply by 503, since nothing
 * may leave without its record). CL_REQ_DONE, or a negative code.
 */
int cl_req_release(struct cl_req *r, int rc);

/* Replies: the body is taken (cl_malloc'd or malloc'd memory both go
 * through free(): cl_malloc is malloc with a failure switch). All return
 * CL_REQ_DONE, or a negative code when the reply could not be made. */
int cl_reply(struct cl_req *r, int code, const char *ctype, char *body, size_t len,
	     const char *extra_h, const char *extra_v);
int cl_reply_text(struct cl_req *r, int code, const char *ctype, const char *text);
/* Adds a header to the reply the handler is about to make (name: a
 * static string; the value is copied). CL_ENOSPC when the reply has
 * CL_REPLY_HEADERS already or the value is longer than
 * CL_REPLY_HEADER_MAX - 1: the header is then left out. */
int cl_reply_header(struct cl_req *r, const char *name, const char *value);
int cl_reply_json(struct cl_req *r, int code, json_t *j);   /* steals j */
int cl_reply_stream(struct cl_req *r, int code, const char *ctype, struct cl_req_stream *src);

/*
 * An error: {"error": kind, "detail": detail} with the status, or on the
 * FHIR routes an OperationOutcome whose issue code follows the kind.
 * extra_h/extra_v: one more header (Retry-After, Allow, WWW-Authenticate).
 */
int cl_reply_error(struct cl_req *r, int code, const char *kind, const char *detail,
		   const char *extra_h, const char *extra_v);

/* A FHIR OperationOutcome with one issue. */
json_t *cl_fhir_outcome(const char *severity, const char *code, const char *diagnostics);

/* The status codes counted for /metrics (any other counts as "other"),
 * and the count of one reply. */
#define CL_HTTP_CODES 20
extern const int cl_http_codes[CL_HTTP_CODES];
void cl_req_count(struct cl_server *s, int code);

#endif
