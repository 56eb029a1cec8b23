/*
 * Signing in to the dashboards at the hospital's identity provider: the
 * OpenID Connect authorization code flow with PKCE (RFC 7636, S256), when
 * auth.oidc.client_id and its endpoints are set (cl_jwt.h).
 *
 *   GET /app/oidc/login     makes a state and a code verifier, keeps them
 *                           (ten minutes, in memory), binds the state to
 *                           this browser with a cookie (HttpOnly,
 *                           SameSite=Lax: it must come back on the
 *                           provider's redirect) and sends the browser to
 *                           the provider's authorization endpoint with the
 *                           verifier's S256 challenge (a page that goes on
 *                           by itself, <meta http-equiv=refresh>, with a
 *                           link: the address is longer than a reply
 *                           header may be, and no script is needed)
 *   GET /app/oidc/callback  checks the state against the cookie and what
 *                           was kept, exchanges the code and the verifier
 *                           at the token endpoint, checks the access token
 *                           as any bearer token (issuer, audience,
 *                           signature, role: cl_auth_check) and opens a
 *                           session for it, as signing in with a token
 *                           does; the browser then goes to its first page
 *
 * No token ever appears in a URL or a log. A failure sends the browser to
 * the sign-in page with a code (?error=oidc-...) that the page explains;
 * what the provider said is logged, never shown.
 */
#include "cl_api.h"
#include "cl_server_int.h"
#include "cl_session.h"
#include "cl_web.h"
#include "auth/cl_jwt.h"
#include "auth/cl_scope.h"
#include "core/cl_error.h"
#include "core/cl_log.h"
#include "core/cl_mem.h"
#include "core/cl_time.h"

#include <curl/curl.h>
#include <jansson.h>
#include <pthread.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define OIDC_COOKIE "carelake_oidc"
#define PENDING_MAX 256
#define PENDING_TTL_US (600 * 1000000ll)
#define STATE_HEX 32
#define VERIFIER_LEN 43          /* 32 random bytes, base64url */
#define TOKEN_REPLY_MAX (64 * 1024)
#define EXCHANGE_TIMEOUT_MS 10000L

/* A sign-in begun and not yet come back. */
struct pending {
	char state[STATE_HEX + 1];
	char verifier[VERIFIER_LEN + 1];
	int64_t made_us;
};

static struct pending pending[PENDING_MAX];
static pthread_mutex_t pending_mu = PTHREAD_MUTEX_INITIALIZER;

/* Keeps p, over an expired slot or else the oldest. */
static void keep(const struct pending *p)
{
	size_t at = 0;

	pthread_mutex_lock(&pending_mu);
	for (size_t i = 0; i < PENDING_MAX; i++) {
		if (!pending[i].state[0] || p->made_us - pending[i].made_us > PENDING_TTL_US) {
			at = i;
			break;
		}
		if (pending[i].made_us < pending[at].made_us)
			at = i;
	}
	pending[at] = *p;
	pthread_mutex_unlock(&pending_mu);
}

/* Takes (once) the sign-in of `state` begun within the last ten minutes
 * into *out: 1, or 0 when there is none. */
static int take(const char *state, int64_t now_us, struct pending *out)
{
	int found = 0;

	pthread_mutex_lock(&pending_mu);
	for (size_t i = 0; i < PENDING_MAX && !found; i++)
		if (pending[i].state[0] && sodium_memcmp(pending[i].state, state, STATE_HEX) == 0) {
			found = now_us - pending[i].made_us <= PENDING_TTL_US;
			*out = pending[i];
			sodium_memzero(&pending[i], sizeof(pending[i]));
		}
	pthread_mutex_unlock(&pending_mu);
	return found;
}

static const struct cl_oidc_settings *flow_settings(struct cl_req *r)
{
	const struct cl_oidc_settings *o = cl_oidc_settings(&r->s->cfg);

	return o->issuer[0] && o->client_id[0] ? o : NULL;
}

/* The browser sent to `to` (303, no body). */
static int go(struct cl_req *r, const char *to)
{
	char *body = malloc(1);

	if (!body)
		return cl_reply_error(r, 503, "busy", "out of memory; retry later", "Retry-After", "1");
	cl_web_security_headers(r);
	cl_reply_header(r, "Location", to);
	cl_reply_header(r, "Cache-Control", "no-store");
	return cl_reply(r, 303, "text/plain", body, 0, NULL, NULL);
}

/* The sign-in page, saying why signing in failed (a code it explains). */
static int refused(struct cl_req *r, const char *code, const char *why)
{
	char to[64];

	cl_log_warn("web", "event=oidc_sign_in_refused code=%s detail=%s request=%s", code,
		    CL_LOG_Q(why), r->request_id);
	snprintf(to, sizeof(to), "/?error=%s", code);
	return go(r, to);
}

/* The state cookie: set to value for max_age_s (0: cleared). Lax, so
 * that the provider's redirect back brings it. */
static void state_cookie(struct cl_req *r, const char *value, int max_age_s)
{
	char v[256];

	snprintf(v, sizeof(v), "%s=%s; Path=/app/oidc; Max-Age=%d; HttpOnly; SameSite=Lax%s",
		 OIDC_COOKIE, value, max_age_s, cl_web_secure(r) ? "; Secure" : "");
	cl_reply_header(r, "Set-Cookie", v);
}

/* The value of cookie `name` in the Cookie header h into out[cap]. */
static int cookie_value(const char *h, const char *name, char *out, size_t cap)
{
	size_t n = strlen(name);

	for (const char *p = h; p && *p;) {
		while (*p == ' ' || *p == ';')
			p++;
		if (strncmp(p, name, n) == 0 && p[n] == '=') {
			size_t len = strcspn(p + n + 1, ";");

			if (len >= cap)
				return 0;
			memcpy(out, p + n + 1, len);
			out[len] = '\0';
			return 1;
		}
		p += strcspn(p, ";");
	}
	return 0;
}

static void b64url(const unsigned char *in, size_t n, char *out, size_t cap)
{
	sodium_bin2base64(out, cap, in, n, sodium_base64_VARIANT_URLSAFE_NO_PADDING);
}

/* k=v&, v percent-encoded, appended to the buffer f. */
static void put_param(FILE *f, CURL *c, const char *k, const char *v, int first)
{
	char *e = curl_easy_escape(c, v, 0);

	fprintf(f, "%s%s=%s", first ? "" : "&", k, e ? e : "");
	curl_free(e);
}

/* url with &, <, >, " and ' as HTML entities, into f. */
static void put_html(FILE *f, const char *url)
{
	for (const char *p = url; *p; p++) {
		switch (*p) {
		case '&': fputs("&amp;", f); break;
		case '<': fputs("&lt;", f); break;
		case '>': fputs("&gt;", f); break;
		case '"': fputs("&quot;", f); break;
		case '\'': fputs("&#39;", f); break;
		default: fputc(*p, f);
		}
	}
}

/* A page that sends the browser on to url at once. */
static int onward(struct cl_req *r, const char *url)
{
	char *body = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&body, &len);

	if (!f)
		return cl_reply_error(r, 503, "busy", "out of memory; retry later", "Retry-After", "1");
	fputs("<!doctype html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
	      "<title>carelake: signing in</title><link rel=\"icon\" href=\"/app/favicon.svg\" "
	      "type=\"image/svg+xml\"><meta http-equiv=\"refresh\" content=\"0;url=", f);
	put_html(f, url);
	fputs("\"></head><body><p>Taking you to your organisation's sign-in. If nothing happens, "
	      "<a href=\"", f);
	put_html(f, url);
	fputs("\">continue</a>.</p></body></html>\n", f);
	if (fclose(f) != 0 || !body) {
		free(body);
		return cl_reply_error(r, 503, "busy", "out of memory; retry later", "Retry-After", "1");
	}
	cl_web_security_headers(r);
	cl_reply_header(r, "Cache-Control", "no-store");
	return cl_reply(r, 200, "text/html; charset=utf-8", body, len, NULL, NULL);
}

int cl_api_oidc_login(struct cl_req *r)
{
	const struct cl_oidc_settings *o = flow_settings(r);
	unsigned char rnd[32], hash[crypto_hash_sha256_BYTES];
	char challenge[64], *url = NULL;
	size_t len = 0;
	struct pending p = { .made_us = cl_time_now_us() };
	CURL *c;
	FILE *f;
	int rc;

	if (!o)
		return cl_reply_error(r, 404, "not_found", "signing in at an identity provider is "
				      "not set up (auth.oidc.client_id)", NULL, NULL);
	randombytes_buf(rnd, 16);
	sodium_bin2hex(p.state, sizeof(p.state), rnd, 16);
	randombytes_buf(rnd, sizeof(rnd));
	b64url(rnd, sizeof(rnd), p.verifier, sizeof(p.verifier));
	crypto_hash_sha256(hash, (const unsigned char *)p.verifier, VERIFIER_LEN);
	b64url(hash, sizeof(hash), challenge, sizeof(challenge));
	sodium_memzero(rnd, sizeof(rnd));
	c = curl_easy_init();
	f = c ? open_memstream(&url, &len) : NULL;
	if (!f) {
		if (c)
			curl_easy_cleanup(c);
		return cl_reply_error(r, 503, "busy", "out of memory; retry later", "Retry-After", "1");
	}
	fprintf(f, "%s%c", o->authorization_endpoint,
		strchr(o->authorization_endpoint, '?') ? '&' : '?');
	put_param(f, c, "response_type", "code", 1);
	put_param(f, c, "client_id", o->client_id, 0);
	put_param(f, c, "redirect_uri", o->redirect_uri, 0);
	put_param(f, c, "scope", o->scope, 0);
	put_param(f, c, "state", p.state, 0);
	put_param(f, c, "code_challenge", challenge, 0);
	put_param(f, c, "code_challenge_method", "S256", 0);
	curl_easy_cleanup(c);
	if (fclose(f) != 0 || !url) {
		free(url);
		return cl_reply_error(r, 503, "busy", "out of memory; retry later", "Retry-After", "1");
	}
	keep(&p);
	state_cookie(r, p.state, (int)(PENDING_TTL_US / 1000000));
	sodium_memzero(&p, sizeof(p));
	rc = onward(r, url);
	free(url);
	return rc;
}

struct reply_buf {
	char *b;
	size_t n;
	int too_big;
};

static size_t on_data(char *p, size_t size, size_t nmemb, void *arg)
{
	struct reply_buf *f = arg;
	size_t n = size * nmemb;
	char *nb;

	if (f->n + n > TOKEN_REPLY_MAX) {
		f->too_big = 1;
		return 0;
	}
	nb = realloc(f->b, f->n + n + 1);
	if (!nb)
		return 0;
	f->b = nb;
	memcpy(f->b + f->n, p, n);
	f->n += n;
	f->b[f->n] = '\0';
	return n;
}

/* The code and verifier exchanged at the token endpoint: the access
 * token into tok[cap] (1), or 0 with why[cap] saying what failed. */
static int exchange(const struct cl_oidc_settings *o, const char *code, const char *verifier,
		    char *tok, size_t cap, char *why, size_t why_cap)
{
	struct reply_buf rb = { 0 };
	char *form = NULL;
	size_t form_len = 0;
	long status = 0;
	CURL *c = curl_easy_init();
	FILE *f = c ? open_memstream(&form, &form_len) : NULL;
	struct curl_slist *h = NULL;
	json_t *j = NULL;
	const char *at;
	CURLcode cr;
	int ok = 0;

	if (!f) {
		snprintf(why, why_cap, "out of memory");
		if (c)
			curl_easy_cleanup(c);
		return 0;
	}
	put_param(f, c, "grant_type", "authorization_code", 1);
	put_param(f, c, "code", code, 0);
	put_param(f, c, "redirect_uri", o->redirect_uri, 0);
	put_param(f, c, "client_id", o->client_id, 0);
	put_param(f, c, "code_verifier", verifier, 0);
	if (fclose(f) != 0 || !form) {
		snprintf(why, why_cap, "out of memory");
		curl_easy_cleanup(c);
		free(form);
		return 0;
	}
	h = curl_slist_append(h, "Accept: application/json");
	curl_easy_setopt(c, CURLOPT_URL, o->token_endpoint);
	curl_easy_setopt(c, CURLOPT_PROTOCOLS_STR, "https,http");
	curl_easy_setopt(c, CURLOPT_FOLLOWLOCATION, 0L);
	curl_easy_setopt(c, CURLOPT_HTTPHEADER, h);
	curl_easy_setopt(c, CURLOPT_POSTFIELDS, form);
	curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE, (long)form_len);
	curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, EXCHANGE_TIMEOUT_MS);
	curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_data);
	curl_easy_setopt(c, CURLOPT_WRITEDATA, &rb);
	cr = curl_easy_perform(c);
	curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &status);
	curl_easy_cleanup(c);
	curl_slist_free_all(h);
	sodium_memzero(form, form_len);
	free(form);
	if (cr != CURLE_OK) {
		snprintf(why, why_cap, "the token endpoint: %s", rb.too_big ? "answer too large" :
			 curl_easy_strerror(cr));
	} else if (!(j = json_loadb(rb.b ? rb.b : "", rb.n, 0, NULL))) {
		snprintf(why, why_cap, "the token endpoint answered HTTP %ld, not JSON", status);
	} else if (status != 200) {
		const char *e = json_string_value(json_object_get(j, "error"));

		snprintf(why, why_cap, "the token endpoint answered HTTP %ld: %.100s", status,
			 e ? e : "(no error code)");
	} else if (!(at = json_string_value(json_object_get(j, "access_token"))) || !*at) {
		snprintf(why, why_cap, "the token endpoint's answer has no access_token");
	} else if (strlen(at) >= cap) {
		snprintf(why, why_cap, "the access token is longer than %zu bytes", cap - 1);
	} else {
		snprintf(tok, cap, "%s", at);
		ok = 1;
	}
	json_decref(j);
	if (rb.b)
		sodium_memzero(rb.b, rb.n);
	free(rb.b);
	return ok;
}

int cl_api_oidc_callback(struct cl_req *r)
{
	const struct cl_oidc_settings *o = flow_settings(r);
	const char *state = cl_req_query(r, "state"), *code = cl_req_query(r, "code");
	const char *err = cl_req_query(r, "error");
	char cookie[STATE_HEX + 1], why[300], id[CL_SESSION_ID_HEX + 1];
	char bearer[CL_SESSION_TOKEN_MAX + 8];
	struct cl_principal who;
	struct pending p;
	int rc;

	if (!o)
		return cl_reply_error(r, 404, "not_found", "signing in at an identity provider is "
				      "not set up (auth.oidc.client_id)", NULL, NULL);
	/* whatever happens, the state is spent */
	state_cookie(r, "", 0);
	if (err) {
		snprintf(why, sizeof(why), "the provider answered error=%.60s", err);
		return refused(r, "oidc-provider", why);
	}
	if (!state || strlen(state) != STATE_HEX || !code || !*code || strlen(code) > 2048)
		return refused(r, "oidc-request", "no state or code, or one of the wrong length");
	if (!cookie_value(cl_req_header(r, "Cookie"), OIDC_COOKIE, cookie, sizeof(cookie)) ||
	    sodium_memcmp(cookie, state, STATE_HEX) != 0)
		return refused(r, "oidc-state", "the state is not this browser's");
	if (!take(state, cl_time_now_us(), &p))
		return refused(r, "oidc-state", "no sign-in of that state began in the last ten "
			       "minutes (or it was used)");
	memcpy(bearer, "Bearer ", 7);
	rc = exchange(o, code, p.verifier, bearer + 7, sizeof(bearer) - 7, why, sizeof(why));
	sodium_memzero(&p, sizeof(p));
	if (!rc)
		return refused(r, "oidc-exchange", why);
	if (cl_auth_check(r->s->auth, bearer, &who) != CL_OK) {
		snprintf(why, sizeof(why), "%s", cl_error_detail());
		sodium_memzero(bearer, sizeof(bearer));
		return refused(r, "oidc-token", why);
	}
	if (!cl_scope_allows(&who, CL_ACT_SIGN_IN, NULL)) {
		sodium_memzero(bearer, sizeof(bearer));
		return refused(r, "oidc-role", "the token's role may not sign in to the dashboards");
	}
	rc = cl_sessions_open(r->s->sessions, bearer + 7, strlen(bearer + 7), cl_time_now_us(), id);
	sodium_memzero(bearer, sizeof(bearer));
	if (rc != CL_OK)
		return refused(r, "oidc-busy", cl_error_detail());
	cl_web_set_cookie(r, id, cl_web_settings(&r->s->cfg)->session_lifetime_us / 1000000);
	sodium_memzero(id, sizeof(id));
	cl_log_info("web", "event=signed_in principal=%s role=%s via=oidc request=%s",
		    CL_LOG_Q(who.name), cl_role_name(who.role), r->request_id);
	return go(r, cl_web_first_page(&who));
}
