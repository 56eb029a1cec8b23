/*
 * Browser sessions of the dashboards. Signing in (POST /app/session) with
 * a token opens a session: a random id (32 bytes from libsodium, sent as
 * 64 hex digits in an HttpOnly, SameSite=Strict cookie) that maps, in
 * memory only, to the token. The browser never holds the token after
 * signing in; the server keeps the id only as its BLAKE2b hash, and
 * checks the token again on every request (cl_auth_check), so a revoked
 * or expired token ends its sessions at once. A session ends when it is
 * signed out, after web.session_idle without a request, after
 * web.session_lifetime in any case, and when serve stops.
 *
 * The web.* settings section lives here too. Neither ids nor tokens are
 * ever logged.
 */
#ifndef CL_SESSION_H
#define CL_SESSION_H

#include "core/cl_config.h"

#include <stddef.h>
#include <stdint.h>

#define CL_SESSION_ID_HEX 64     /* the id's length in the cookie */
#define CL_SESSION_TOKEN_MAX 8192 /* longest token a session holds (a JWT is long) */
#define CL_SESSION_COOKIE "carelake_session"

/* The web.* settings. */
struct cl_web_settings {
	int64_t session_lifetime_us;  /* web.session_lifetime */
	int64_t session_idle_us;      /* web.session_idle */
	uint32_t max_sessions;        /* web.max_sessions */
	uint32_t secure_cookie;       /* web.secure_cookie: 1 always Secure */
};

extern const struct cl_config_section cl_web_section;
const struct cl_web_settings *cl_web_settings(const struct cl_config *c);

struct cl_sessions;

/* A table of at most ws->max_sessions sessions; CL_ENOMEM. */
int cl_sessions_create(const struct cl_web_settings *ws, struct cl_sessions **out);
/* Forgets every session (their tokens wiped). NULL: nothing. */
void cl_sessions_destroy(struct cl_sessions *s);

/*
 * Opens a session for the token (len bytes) at now_us: its id, as 64 hex
 * digits and a NUL, in id[CL_SESSION_ID_HEX + 1]. Sessions that have
 * ended make room; CL_EBUSY when the table is full of live ones,
 * CL_EINVAL for a token longer than CL_SESSION_TOKEN_MAX.
 */
int cl_sessions_open(struct cl_sessions *s, const char *token, size_t len, int64_t now_us,
		     char id[CL_SESSION_ID_HEX + 1]);

/*
 * The token of the live session whose id is `id` (as the cookie sent it)
 * into tok[cap], and its idle time renewed. CL_ENOENT (with a detail
 * that never names the id) for an id of no session, a malformed one, or
 * a session that has ended (it is then forgotten).
 */
int cl_sessions_token(struct cl_sessions *s, const char *id, int64_t now_us, char *tok,
		      size_t cap);

/* Ends the session of that id, if there is one. */
void cl_sessions_close(struct cl_sessions *s, const char *id);

/* Live sessions now (for /metrics and tests). */
uint32_t cl_sessions_count(struct cl_sessions *s);

/*
 * The session id in a Cookie header value ("a=b; carelake_session=...")
 * into id[CL_SESSION_ID_HEX + 1]: 1 when the cookie is there (whatever
 * its value's shape: cl_sessions_token judges it), else 0.
 */
int cl_session_cookie(const char *cookie_header, char id[CL_SESSION_ID_HEX + 1]);

#endif
