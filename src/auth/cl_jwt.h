/*
 * OpenID Connect bearer tokens: a JWT (a compact JWS, RFC 7515/7519)
 * signed by the hospital's identity provider (Entra ID, Keycloak, Okta),
 * checked against its published keys (a JWKS, RFC 7517) and turned into
 * the principal a request acts as.
 *
 * Accepted: alg RS256 (an RSA key of 2048 bits or more) and ES256 (a
 * P-256 key; the signature is r||s, RFC 7518 3.4). Refused: alg none,
 * the HMAC algorithms (HS256: a shared secret), every other alg, a `crit`
 * header, encrypted tokens (JWE). The key is the JWKS key whose `kid` the
 * token names, or the only key of the alg's type when it names none. The
 * claims must hold `iss` equal to auth.oidc.issuer, `aud` (a string or an
 * array) naming auth.oidc.audience, `exp` not past and `nbf` (if given)
 * not ahead, each allowing auth.oidc.clock_skew, and a `sub`.
 *
 * The principal: id = `sub`; role = the first value of the claim
 * auth.oidc.role_claim (default `roles`; a string or an array, a dotted
 * path reaching into objects: realm_access.roles) that names a carelake
 * role (any case), never `device` (devices use carelake's own tokens);
 * patient = the `patient` claim (SMART's launch context) or a `fhirUser`
 * of Patient/ID — a token with a patient sees that patient only,
 * whatever its role, and a `patient` role needs one; scope = the SMART
 * resource scopes of `scope` (or Entra ID's `scp`), which narrow the role
 * (auth/cl_scope.h).
 *
 * The JWKS (auth.oidc.jwks) is a file, looked at (one stat) on every
 * check and read again when it changed, or an https:// URL (plain http
 * only to a loopback address), fetched at start, again every
 * auth.oidc.jwks_refresh, and when a token names a key it does not hold
 * (key rotation) — at most once every 30 s. A key set that fails to load
 * leaves the one before in use. No reason given for a refused token ever
 * holds the token or a claim's value.
 */
#ifndef CL_JWT_H
#define CL_JWT_H

#include "auth/cl_tokens.h"
#include "core/cl_config.h"

#include <stddef.h>
#include <stdint.h>

/* The auth.oidc.* settings. */
struct cl_oidc_settings {
	char issuer[CL_CFG_STRING_MAX];     /* "": OpenID Connect is off */
	char audience[CL_CFG_STRING_MAX];   /* what `aud` must name */
	char jwks[CL_CFG_STRING_MAX];       /* a JWKS file or an https:// URL */
	char role_claim[CL_CFG_STRING_MAX]; /* the claim naming the role */
	int64_t clock_skew_us;              /* leeway for exp and nbf */
	int64_t jwks_refresh_us;            /* how often a JWKS URL is fetched */
	/* signing in to the dashboards by the code flow with PKCE */
	char client_id[CL_CFG_STRING_MAX];  /* "": pasted tokens only */
	char authorization_endpoint[CL_CFG_STRING_MAX];
	char token_endpoint[CL_CFG_STRING_MAX];
	char redirect_uri[CL_CFG_STRING_MAX]; /* carelake's /app/oidc/callback */
	char scope[CL_CFG_STRING_MAX];
};

extern const struct cl_config_section cl_oidc_section;
const struct cl_oidc_settings *cl_oidc_settings(const struct cl_config *c);

/* How long a JWT may be (bytes). */
#define CL_JWT_MAX 16384
/* The least time between two fetches of a JWKS URL (microseconds). */
#define CL_JWKS_RETRY_US (30 * 1000000ll)

/* ---- key sets ---- */

/*
 * Decodes base64url without padding (RFC 7515 2): n characters into
 * out[cap], *outlen bytes. CL_EINVAL for a character outside the
 * alphabet, padding, a length no encoding has, or stray low bits.
 */
int cl_b64url_decode(const char *in, size_t n, unsigned char *out, size_t cap, size_t *outlen);

struct cl_jwks;

/*
 * Parses a JWKS document ({"keys": [...]}) of len bytes. Keys that are
 * not for signing with RS256 or ES256 (other kty, crv, use or alg) are
 * skipped; so is a malformed key, or an RSA key under 2048 bits.
 * CL_EINVAL with the reason when the document is not a JWKS or holds no
 * usable key (naming why the first key was skipped).
 */
int cl_jwks_parse(const char *text, size_t len, struct cl_jwks **out);
void cl_jwks_free(struct cl_jwks *k);

/* How many usable keys the set holds. */
size_t cl_jwks_count(const struct cl_jwks *k);

/*
 * Verifies a token against the keys and settings s, at now_us: 0 and *p,
 * or CL_EINVAL with the reason (CL_ENOENT when no key of the set matches
 * the token's kid or alg: the caller may fetch the keys again). keys may
 * be NULL (no keys yet: CL_ENOENT). Thread-safe for concurrent readers.
 */
int cl_jwt_verify(const struct cl_jwks *keys, const struct cl_oidc_settings *s,
		  const char *token, size_t len, int64_t now_us, struct cl_principal *p);

/* 1 if url may be fetched or sent to: https, or http to a loopback
 * address (tests, a provider on the same machine). */
int cl_oidc_url_allowed(const char *url);

/* 1 if the bearer token has the shape of a JWT (two dots, no "clk_"
 * prefix), so that it goes to the OpenID Connect check. */
int cl_jwt_looks_like(const char *token, size_t len);

/* ---- the verifier a server holds ---- */

struct cl_jwt_verifier;

/*
 * Makes the verifier of cfg's auth.oidc.* settings. *out is NULL when
 * auth.oidc.issuer is empty (OpenID Connect off). CL_EINVAL naming the
 * setting when audience or jwks is missing, or the JWKS file cannot be
 * read or holds no usable key. A JWKS URL that cannot be fetched now is
 * logged and fetched again later (serving must not wait on the identity
 * provider).
 */
int cl_jwt_verifier_open(const struct cl_config *cfg, struct cl_jwt_verifier **out);

/* The same from the settings themselves. */
int cl_jwt_verifier_new(const struct cl_oidc_settings *s, int64_t now_us,
			struct cl_jwt_verifier **out);
void cl_jwt_verifier_close(struct cl_jwt_verifier *v);

/*
 * Checks a bearer token (the text after "Bearer ") at now_us: 0 and *p,
 * or CL_EINVAL with a reason that never holds the token. Reloads a
 * changed JWKS file and fetches a JWKS URL as the header says. v may be
 * NULL (OpenID Connect off: every JWT is refused). Thread-safe.
 */
int cl_jwt_check(struct cl_jwt_verifier *v, const char *token, size_t len, int64_t now_us,
		 struct cl_principal *p);

#endif
