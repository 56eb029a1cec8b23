/*
 * OpenID Connect bearer tokens: the JWS check, the claims, and the
 * verifier that keeps the identity provider's keys current. See cl_jwt.h.
 */
#include "cl_jwks_int.h"
#include "cl_scope.h"
#include "core/cl_error.h"
#include "core/cl_fs.h"
#include "core/cl_log.h"
#include "core/cl_mem.h"
#include "core/cl_time.h"

#include <curl/curl.h>
#include <jansson.h>
#include <openssl/bn.h>
#include <openssl/ecdsa.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <pthread.h>
#include <stddef.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>

#define JWKS_BYTES_MAX (1 << 20)
#define JWKS_FETCH_TIMEOUT_MS 5000L

/* ---- the settings ---- */

#define SEC 1000000ll
#define F(field) offsetof(struct cl_oidc_settings, field)

static const struct cl_config_entry oidc_entries[] = {
	{ "issuer", CL_CFG_STRING, "", 0, 0, F(issuer),
	  "accept OpenID Connect JWTs from this issuer (their iss, exactly); empty: none", NULL },
	{ "audience", CL_CFG_STRING, "", 0, 0, F(audience),
	  "the audience a JWT must name in aud: carelake's client id or API URI at the identity "
	  "provider", NULL },
	{ "jwks", CL_CFG_STRING, "", 0, 0, F(jwks),
	  "the issuer's signing keys: a JWKS file (read again when it changes) or an https:// URL "
	  "(fetched at start, every jwks_refresh and for an unknown kid, at most every 30s)", NULL },
	{ "role_claim", CL_CFG_STRING, "roles", 0, 0, F(role_claim),
	  "the claim naming the carelake role: a string or an array, the first value that is a "
	  "role; a dotted path reaches into objects (realm_access.roles)", NULL },
	{ "clock_skew", CL_CFG_DURATION, "60s", 0, 600 * SEC, F(clock_skew_us),
	  "leeway allowed on a JWT's exp and nbf for clocks that differ", NULL },
	{ "jwks_refresh", CL_CFG_DURATION, "1h", 60 * SEC, 7 * 86400 * SEC, F(jwks_refresh_us),
	  "how often a JWKS URL is fetched again", NULL },
	{ "client_id", CL_CFG_STRING, "", 0, 0, F(client_id),
	  "the dashboards' client id at the identity provider: with it, the sign-in page offers "
	  "the provider's own sign-in (the code flow with PKCE); empty: pasted tokens only", NULL },
	{ "authorization_endpoint", CL_CFG_STRING, "", 0, 0, F(authorization_endpoint),
	  "the provider's authorization endpoint (https://, or http:// to a loopback address)",
	  NULL },
	{ "token_endpoint", CL_CFG_STRING, "", 0, 0, F(token_endpoint),
	  "the provider's token endpoint (https://, or http:// to a loopback address)", NULL },
	{ "redirect_uri", CL_CFG_STRING, "", 0, 0, F(redirect_uri),
	  "carelake's callback as browsers reach it, registered at the provider: "
	  "https://HOST/app/oidc/callback", NULL },
	{ "scope", CL_CFG_STRING, "openid", 0, 0, F(scope),
	  "the scopes asked for when signing in (SMART scopes narrow what the session may do)",
	  NULL },
};

const struct cl_config_section cl_oidc_section = {
	.name = "auth.oidc",
	.entries = oidc_entries,
	.nentries = sizeof(oidc_entries) / sizeof(oidc_entries[0]),
	.size = sizeof(struct cl_oidc_settings),
};

const struct cl_oidc_settings *cl_oidc_settings(const struct cl_config *c)
{
	return cl_config_get(c, &cl_oidc_section);
}

/* ---- the token ---- */

int cl_jwt_looks_like(const char *token, size_t len)
{
	const char *d1, *d2;

	if (len >= 4 && memcmp(token, "clk_", 4) == 0)
		return 0;
	d1 = memchr(token, '.', len);
	d2 = d1 ? memchr(d1 + 1, '.', len - (size_t)(d1 + 1 - token)) : NULL;
	return d2 != NULL;
}

/* Decodes one base64url part of the token into a new buffer (NUL-ended). */
static int part(const char *s, size_t n, const char *what, unsigned char **out, size_t *len)
{
	unsigned char *buf = cl_malloc(n / 4 * 3 + 3);
	int rc;

	*out = NULL;
	if (!buf)
		return cl_error_set(CL_ENOMEM, "no memory for a token");
	rc = cl_b64url_decode(s, n, buf, n / 4 * 3 + 2, len);
	if (rc) {
		char why[120];

		snprintf(why, sizeof(why), "%s", cl_error_detail());
		cl_free(buf);
		return cl_error_set(CL_EINVAL, "malformed JWT: its %s is not base64url (%s)", what,
				    why);
	}
	buf[*len] = '\0';
	*out = buf;
	return CL_OK;
}

/* Parses a decoded part as a JSON object. */
static int object_of(const unsigned char *b, size_t n, const char *what, json_t **out)
{
	json_error_t err;
	json_t *o = json_loadb((const char *)b, n, JSON_REJECT_DUPLICATES, &err);

	if (!json_is_object(o)) {
		json_decref(o);
		return cl_error_set(CL_EINVAL, "malformed JWT: its %s is not a JSON object", what);
	}
	*out = o;
	return CL_OK;
}

/* The alg of the header: 0 and *alg, or CL_EINVAL saying why not. */
static int header_alg(json_t *h, enum cl_jwt_alg *alg)
{
	const char *a = json_string_value(json_object_get(h, "alg"));

	if (!a)
		return cl_error_set(CL_EINVAL, "the JWT's header names no alg");
	if (strcmp(a, "RS256") == 0) {
		*alg = CL_JWT_RS256;
		return CL_OK;
	}
	if (strcmp(a, "ES256") == 0) {
		*alg = CL_JWT_ES256;
		return CL_OK;
	}
	if (strcasecmp(a, "none") == 0)
		return cl_error_set(CL_EINVAL, "an unsigned JWT (alg none) is not accepted");
	if (strncmp(a, "HS", 2) == 0)
		return cl_error_set(CL_EINVAL, "a JWT signed with a shared secret (alg HS*) is not "
				    "accepted; RS256 and ES256 are");
	return cl_error_set(CL_EINVAL, "the JWT's alg is not RS256 or ES256");
}

/* The key of keys for the token's kid (or the only one of its alg). */
static int pick_key(const struct cl_jwks *keys, enum cl_jwt_alg alg, json_t *h,
		    const struct cl_jwk **out)
{
	json_t *kid = json_object_get(h, "kid");
	const struct cl_jwk *found = NULL;
	size_t of_alg = 0;

	if (kid && !json_is_string(kid))
		return cl_error_set(CL_EINVAL, "the JWT's kid is not a string");
	for (size_t i = 0; keys && i < keys->n; i++) {
		const struct cl_jwk *k = &keys->k[i];

		if (k->alg != alg)
			continue;
		of_alg++;
		if (kid && k->has_kid && strcmp(k->kid, json_string_value(kid)) == 0) {
			*out = k;
			return CL_OK;
		}
		if (!kid)
			found = k;
	}
	if (kid)
		return cl_error_set(CL_ENOENT, "the JWT's kid names no key of the issuer's JWKS "
				    "for its alg");
	if (of_alg == 1) {
		*out = found;
		return CL_OK;
	}
	if (of_alg == 0)
		return cl_error_set(CL_ENOENT, "the issuer's JWKS holds no key for the JWT's alg");
	return cl_error_set(CL_EINVAL, "the JWT names no kid and the issuer's JWKS holds %zu "
			    "keys for its alg", of_alg);
}

/* Checks sig over data with the key. */
static int check_signature(const struct cl_jwk *k, const unsigned char *data, size_t n,
			   const unsigned char *sig, size_t sl)
{
	unsigned char *der = NULL;
	int dl = 0, ok;
	EVP_MD_CTX *md;

	if (k->alg == CL_JWT_ES256) {
		ECDSA_SIG *es;
		BIGNUM *r, *s;

		if (sl != 64)
			return cl_error_set(CL_EINVAL, "the JWT's ES256 signature is not 64 bytes "
					    "(r then s)");
		/* JWS carries r||s; OpenSSL verifies DER */
		es = ECDSA_SIG_new();
		r = BN_bin2bn(sig, 32, NULL);
		s = BN_bin2bn(sig + 32, 32, NULL);
		if (!es || !r || !s || !ECDSA_SIG_set0(es, r, s)) {
			ECDSA_SIG_free(es);
			BN_free(r);
			BN_free(s);
			return cl_error_set(CL_ENOMEM, "no memory for a signature");
		}
		dl = i2d_ECDSA_SIG(es, &der);
		ECDSA_SIG_free(es);
		if (dl <= 0)
			return cl_error_set(CL_ENOMEM, "no memory for a signature");
		sig = der;
		sl = (size_t)dl;
	}
	md = EVP_MD_CTX_new();
	ok = md && EVP_DigestVerifyInit_ex(md, NULL, "SHA256", NULL, NULL, k->pkey, NULL) == 1 &&
	     EVP_DigestVerify(md, sig, sl, data, n) == 1;
	EVP_MD_CTX_free(md);
	OPENSSL_free(der);
	ERR_clear_error();
	if (!ok)
		return cl_error_set(CL_EINVAL, "the JWT's signature does not verify with the "
				    "issuer's key");
	return CL_OK;
}

/* The claim `name`, or, for a dotted name no claim has, the value at
 * that path through objects. */
static json_t *claim_at(json_t *claims, const char *name)
{
	json_t *v = json_object_get(claims, name);
	char path[CL_CFG_STRING_MAX], *save = NULL;

	if (v || !strchr(name, '.'))
		return v;
	snprintf(path, sizeof(path), "%s", name);
	v = claims;
	for (char *seg = strtok_r(path, ".", &save); seg && v; seg = strtok_r(NULL, ".", &save))
		v = json_object_get(v, seg);
	return v == claims ? NULL : v;
}

/* The carelake role a value names (any case), never device. */
static enum cl_role role_of(json_t *v)
{
	const char *s = json_string_value(v);

	for (int r = 0; s && r < CL_ROLES; r++)
		if (r != CL_ROLE_DEVICE && strcasecmp(s, cl_role_name((enum cl_role)r)) == 0)
			return (enum cl_role)r;
	return CL_ROLE_NONE;
}

/* 1 if s is an id a principal may hold: 1..max printable bytes, no
 * space or slash. */
static int good_id(const char *s, size_t max)
{
	size_t n = s ? strlen(s) : 0;

	if (n == 0 || n > max)
		return 0;
	for (size_t i = 0; i < n; i++)
		if ((unsigned char)s[i] <= 0x20 || (unsigned char)s[i] >= 0x7f || s[i] == '/')
			return 0;
	return 1;
}

/* The patient a token names: `patient`, else a fhirUser ending
 * Patient/ID. "" when none; CL_EINVAL when one is not a usable id. */
static int patient_of(json_t *claims, char *out, size_t cap)
{
	const char *pat = json_string_value(json_object_get(claims, "patient"));
	const char *fu = json_string_value(json_object_get(claims, "fhirUser"));

	out[0] = '\0';
	if (json_object_get(claims, "patient") && !pat)
		return cl_error_set(CL_EINVAL, "the JWT's patient claim is not a string");
	if (!pat && fu) {
		const char *at = strstr(fu, "Patient/");

		/* "Patient/ID" or ".../Patient/ID" (an absolute URL) */
		while (at) {
			const char *next = strstr(at + 1, "Patient/");

			if (!next)
				break;
			at = next;
		}
		if (at && (at == fu || at[-1] == '/'))
			pat = at + strlen("Patient/");
	}
	if (!pat)
		return CL_OK;
	if (!good_id(pat, cap - 1))
		return cl_error_set(CL_EINVAL, "the JWT's patient (or fhirUser) is not a patient id "
				    "of 1 to %zu printable characters", cap - 1);
	snprintf(out, cap, "%s", pat);
	return CL_OK;
}

/* The SMART resource scopes of `scope` (or Entra ID's `scp`, a string or
 * an array), space-separated, into out[cap]. */
static int scopes_of(json_t *claims, char *out, size_t cap)
{
	json_t *v = json_object_get(claims, "scope");
	size_t used = 0, nv;
	int rc = CL_OK;

	out[0] = '\0';
	if (!v)
		v = json_object_get(claims, "scp");
	if (!v)
		return CL_OK;
	if (json_is_string(v))
		nv = 1;
	else if (json_is_array(v))
		nv = json_array_size(v);
	else
		return cl_error_set(CL_EINVAL, "the JWT's scope is not a string");
	for (size_t i = 0; i < nv && rc == CL_OK; i++) {
		const char *s = json_string_value(json_is_string(v) ? v : json_array_get(v, i));

		if (!s)
			return cl_error_set(CL_EINVAL, "the JWT's scp holds a value that is not a "
					    "string");
		while (*s) {
			size_t n = strcspn(s, " ");
			struct cl_scope sc;

			rc = n ? cl_scope_parse(s, n, &sc) : CL_ENOENT;
			if (rc == CL_OK || rc == CL_EINVAL) {
				if (rc == CL_EINVAL) {
					char why[160];

					snprintf(why, sizeof(why), "%s", cl_error_detail());
					return cl_error_set(CL_EINVAL, "the JWT's scope holds a "
							    "malformed SMART scope: %s", why);
				}
				/* a scope that does not fit would widen what is left */
				if (used + n + 2 > cap)
					return cl_error_set(CL_EINVAL, "the JWT's SMART scopes are "
							    "longer than %zu bytes", cap - 1);
				if (used)
					out[used++] = ' ';
				memcpy(out + used, s, n);
				used += n;
				out[used] = '\0';
			}
			rc = CL_OK;
			s += n;
			while (*s == ' ')
				s++;
		}
	}
	return rc;
}

/* Checks the registered claims against s at now_us. */
static int check_claims(json_t *c, const struct cl_oidc_settings *s, int64_t now_us)
{
	json_t *aud = json_object_get(c, "aud"), *exp = json_object_get(c, "exp");
	json_t *nbf = json_object_get(c, "nbf");
	const char *iss = json_string_value(json_object_get(c, "iss"));
	double now = (double)now_us / 1e6, skew = (double)s->clock_skew_us / 1e6;
	int aud_ok = 0;

	if (!iss || strcmp(iss, s->issuer) != 0)
		return cl_error_set(CL_EINVAL, "the JWT's issuer (iss) is not auth.oidc.issuer");
	if (json_is_string(aud)) {
		aud_ok = strcmp(json_string_value(aud), s->audience) == 0;
	} else if (json_is_array(aud)) {
		size_t i;
		json_t *a;

		json_array_foreach(aud, i, a)
			if (json_is_string(a) && strcmp(json_string_value(a), s->audience) == 0)
				aud_ok = 1;
	}
	if (!aud_ok)
		return cl_error_set(CL_EINVAL, "the JWT's audience (aud) does not name "
				    "auth.oidc.audience");
	if (!json_is_number(exp))
		return cl_error_set(CL_EINVAL, "the JWT has no expiry (exp, a number)");
	if (!(json_number_value(exp) + skew >= now))
		return cl_error_set(CL_EINVAL, "the JWT has expired");
	if (nbf && !json_is_number(nbf))
		return cl_error_set(CL_EINVAL, "the JWT's nbf is not a number");
	if (nbf && !(json_number_value(nbf) - skew <= now))
		return cl_error_set(CL_EINVAL, "the JWT is not valid yet (nbf)");
	return CL_OK;
}

/* Fills p from verified claims. */
static int principal_of(json_t *c, const struct cl_oidc_settings *s, struct cl_principal *p)
{
	const char *sub = json_string_value(json_object_get(c, "sub"));
	json_t *rv = claim_at(c, s->role_claim);
	enum cl_role role = CL_ROLE_NONE;
	int rc;

	memset(p, 0, sizeof(*p));
	if (!good_id(sub, CL_PRINCIPAL_ID_MAX))
		return cl_error_set(CL_EINVAL, "the JWT's sub is missing or not 1 to %d printable "
				    "characters", CL_PRINCIPAL_ID_MAX);
	if (json_is_array(rv)) {
		size_t i;
		json_t *v;

		json_array_foreach(rv, i, v) {
			role = role_of(v);
			if (role != CL_ROLE_NONE)
				break;
		}
	} else {
		role = role_of(rv);
	}
	if (role == CL_ROLE_NONE)
		return cl_error_set(CL_EINVAL, "the JWT's claim '%.64s' names no carelake role "
				    "(admin, engineer, clinician, patient, researcher, compliance)",
				    s->role_claim);
	rc = patient_of(c, p->patient, sizeof(p->patient));
	if (rc == CL_OK && role == CL_ROLE_PATIENT && !p->patient[0])
		rc = cl_error_set(CL_EINVAL, "a JWT of role patient names no patient (a patient "
				  "claim, or a fhirUser of Patient/ID)");
	if (rc == CL_OK)
		rc = scopes_of(c, p->scope, sizeof(p->scope));
	if (rc)
		return rc;
	snprintf(p->id, sizeof(p->id), "%s", sub);
	snprintf(p->name, sizeof(p->name), "%.64s", sub);
	p->role = role;
	p->jwt = 1;
	return CL_OK;
}

int cl_jwt_verify(const struct cl_jwks *keys, const struct cl_oidc_settings *s,
		  const char *token, size_t len, int64_t now_us, struct cl_principal *p)
{
	const char *d1, *d2;
	unsigned char *hb = NULL, *pb = NULL, *sb = NULL;
	size_t hl, pl, sl;
	json_t *h = NULL, *c = NULL;
	enum cl_jwt_alg alg = 0;
	const struct cl_jwk *k = NULL;
	int rc;

	memset(p, 0, sizeof(*p));
	if (len == 0)
		return cl_error_set(CL_EINVAL, "the bearer token is empty");
	if (len > CL_JWT_MAX)
		return cl_error_set(CL_EINVAL, "the JWT is longer than %d bytes", CL_JWT_MAX);
	d1 = memchr(token, '.', len);
	d2 = d1 ? memchr(d1 + 1, '.', len - (size_t)(d1 + 1 - token)) : NULL;
	if (!d2)
		return cl_error_set(CL_EINVAL, "malformed JWT: not three parts separated by '.'");
	if (memchr(d2 + 1, '.', len - (size_t)(d2 + 1 - token)))
		return cl_error_set(CL_EINVAL, "malformed JWT: more than three parts (an encrypted "
				    "JWT is not accepted)");
	rc = part(token, (size_t)(d1 - token), "header", &hb, &hl);
	if (rc == CL_OK)
		rc = part(d1 + 1, (size_t)(d2 - d1 - 1), "payload", &pb, &pl);
	if (rc == CL_OK)
		rc = part(d2 + 1, len - (size_t)(d2 + 1 - token), "signature", &sb, &sl);
	if (rc == CL_OK)
		rc = object_of(hb, hl, "header", &h);
	if (rc == CL_OK)
		rc = header_alg(h, &alg);
	if (rc == CL_OK && json_object_get(h, "crit"))
		rc = cl_error_set(CL_EINVAL, "the JWT's header has crit: extensions carelake does "
				  "not know");
	if (rc == CL_OK)
		rc = pick_key(keys, alg, h, &k);
	/* the signature covers the header and payload as sent */
	if (rc == CL_OK)
		rc = check_signature(k, (const unsigned char *)token, (size_t)(d2 - token), sb, sl);
	if (rc == CL_OK)
		rc = object_of(pb, pl, "payload", &c);
	if (rc == CL_OK)
		rc = check_claims(c, s, now_us);
	if (rc == CL_OK)
		rc = principal_of(c, s, p);
	json_decref(h);
	json_decref(c);
	cl_free(hb);
	cl_free(pb);
	cl_free(sb);
	if (rc)
		memset(p, 0, sizeof(*p));
	return rc;
}

/* ---- the verifier ---- */

struct cl_jwt_verifier {
	struct cl_oidc_settings set;
	int url;                    /* jwks is a URL (else a file) */
	pthread_mutex_t mu;         /* guards what follows */
	struct cl_jwks *keys;       /* NULL: none yet */
	/* a file: its identity when last read (or tried) */
	dev_t dev;
	ino_t ino;
	off_t size;
	struct timespec mtime;
	/* a URL */
	int64_t fetched_us;         /* the keys' fetch (0: never) */
	int64_t tried_us;           /* the last fetch begun (0: never) */
	int fetching;               /* a thread is fetching */
};

/* Replaces the verifier's keys by k (taking it over). */
static void set_keys(struct cl_jwt_verifier *v, struct cl_jwks *k)
{
	struct cl_jwks *old;

	pthread_mutex_lock(&v->mu);
	old = v->keys;
	v->keys = k;
	pthread_mutex_unlock(&v->mu);
	cl_jwks_free(old);
}

static int load_file(const char *path, struct cl_jwks **out)
{
	char *text;
	size_t len;
	int rc = cl_fs_read_file(path, JWKS_BYTES_MAX, &text, &len);

	if (rc)
		return rc;
	rc = cl_jwks_parse(text, len, out);
	cl_free(text);
	if (rc)
		return cl_error_set(rc, "%s: %s", path, cl_error_detail());
	return CL_OK;
}

/* Reads the JWKS file again if it changed since it was last read. */
static void refresh_file(struct cl_jwt_verifier *v)
{
	struct stat st;
	struct cl_jwks *k = NULL;
	int same;

	if (stat(v->set.jwks, &st) != 0)
		return;  /* gone for a moment (being replaced): keep the keys */
	pthread_mutex_lock(&v->mu);
	same = st.st_dev == v->dev && st.st_ino == v->ino && st.st_size == v->size &&
	       st.st_mtim.tv_sec == v->mtime.tv_sec && st.st_mtim.tv_nsec == v->mtime.tv_nsec;
	if (!same) {
		v->dev = st.st_dev;
		v->ino = st.st_ino;
		v->size = st.st_size;
		v->mtime = st.st_mtim;
	}
	pthread_mutex_unlock(&v->mu);
	if (same)
		return;
	if (load_file(v->set.jwks, &k) != CL_OK) {
		cl_log_warn("auth", "event=jwks_not_loaded source=file detail=%s keeping=previous",
			    CL_LOG_Q(cl_error_detail()));
		return;
	}
	cl_log_info("auth", "event=jwks_loaded source=file keys=%zu", k->n);
	set_keys(v, k);
}

struct fetch_buf {
	char *b;
	size_t n;
	int too_big;
};

static size_t on_data(char *p, size_t sz, size_t nm, void *arg)
{
	struct fetch_buf *f = arg;
	size_t n = sz * nm;
	char *nb;

	if (f->n + n > JWKS_BYTES_MAX) {
		f->too_big = 1;
		return 0;
	}
	nb = cl_realloc(f->b, f->n + n + 1);
	if (!nb)
		return 0;
	f->b = nb;
	memcpy(f->b + f->n, p, n);
	f->n += n;
	return n;
}

/* Fetches and parses the JWKS at url. */
static int fetch_url(const char *url, struct cl_jwks **out)
{
	struct fetch_buf f = { 0 };
	CURL *c = curl_easy_init();
	long status = 0;
	CURLcode cr;
	int rc;

	if (!c)
		return cl_error_set(CL_ENOMEM, "no memory for a JWKS fetch");
	curl_easy_setopt(c, CURLOPT_URL, url);
	curl_easy_setopt(c, CURLOPT_PROTOCOLS_STR, "https,http");
	curl_easy_setopt(c, CURLOPT_FOLLOWLOCATION, 0L);
	curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, JWKS_FETCH_TIMEOUT_MS);
	curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_data);
	curl_easy_setopt(c, CURLOPT_WRITEDATA, &f);
	cr = curl_easy_perform(c);
	curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &status);
	curl_easy_cleanup(c);
	if (f.too_big)
		rc = cl_error_set(CL_EINVAL, "the JWKS is larger than %d bytes", JWKS_BYTES_MAX);
	else if (cr != CURLE_OK)
		rc = cl_error_set(CL_EIO, "fetching the JWKS failed: %s", curl_easy_strerror(cr));
	else if (status != 200)
		rc = cl_error_set(CL_EIO, "fetching the JWKS answered HTTP %ld", status);
	else
		rc = cl_jwks_parse(f.b ? f.b : "", f.n, out);
	cl_free(f.b);
	return rc;
}

/*
 * Fetches the JWKS URL if it is due (every jwks_refresh, or now when
 * `want` says the keys lack one) and no fetch was begun in the last
 * CL_JWKS_RETRY_US; one thread at a time, the others going on with the
 * keys there are. 1 if new keys came.
 */
static int refresh_url(struct cl_jwt_verifier *v, int64_t now_us, int want)
{
	struct cl_jwks *k = NULL;
	int due, rc;

	pthread_mutex_lock(&v->mu);
	due = !v->fetching && (v->tried_us == 0 || now_us - v->tried_us >= CL_JWKS_RETRY_US ||
			       now_us < v->tried_us) &&
	      (want || !v->keys || now_us - v->fetched_us >= v->set.jwks_refresh_us);
	if (due) {
		v->fetching = 1;
		v->tried_us = now_us;
	}
	pthread_mutex_unlock(&v->mu);
	if (!due)
		return 0;
	rc = fetch_url(v->set.jwks, &k);
	if (rc == CL_OK)
		cl_log_info("auth", "event=jwks_loaded source=url keys=%zu", k->n);
	else
		cl_log_warn("auth", "event=jwks_not_loaded source=url detail=%s keeping=%s",
			    CL_LOG_Q(cl_error_detail()), v->keys ? "previous" : "none");
	pthread_mutex_lock(&v->mu);
	v->fetching = 0;
	if (rc == CL_OK)
		v->fetched_us = now_us;
	pthread_mutex_unlock(&v->mu);
	if (rc == CL_OK)
		set_keys(v, k);
	return rc == CL_OK;
}

int cl_oidc_url_allowed(const char *url)
{
	static const char *const loopback[] = { "http://127.0.0.1:", "http://127.0.0.1/",
						 "http://localhost:", "http://localhost/",
						 "http://[::1]:", "http://[::1]/" };

	if (strncasecmp(url, "https://", 8) == 0)
		return 1;
	for (size_t i = 0; i < sizeof(loopback) / sizeof(loopback[0]); i++)
		if (strncasecmp(url, loopback[i], strlen(loopback[i])) == 0)
			return 1;
	return 0;
}

int cl_jwt_verifier_new(const struct cl_oidc_settings *s, int64_t now_us,
			struct cl_jwt_verifier **out)
{
	struct cl_jwt_verifier *v;
	int rc = CL_OK;

	*out = NULL;
	if (!s->issuer[0])
		return CL_OK;
	if (!s->audience[0])
		return cl_error_set(CL_EINVAL, "auth.oidc.issuer is set but auth.oidc.audience is "
				    "not: tokens for any client would be accepted");
	if (!s->jwks[0])
		return cl_error_set(CL_EINVAL, "auth.oidc.issuer is set but auth.oidc.jwks (a JWKS "
				    "file or https:// URL) is not");
	if (s->client_id[0]) {
		static const char cb[] = "/app/oidc/callback";
		size_t n = strlen(s->redirect_uri);

		if (!cl_oidc_url_allowed(s->authorization_endpoint) ||
		    !cl_oidc_url_allowed(s->token_endpoint))
			return cl_error_set(CL_EINVAL, "auth.oidc.client_id is set: "
					    "auth.oidc.authorization_endpoint and token_endpoint must "
					    "be https:// URLs (plain http only to a loopback address)");
		if (!cl_oidc_url_allowed(s->redirect_uri) || n < sizeof(cb) - 1 ||
		    strcmp(s->redirect_uri + n - (sizeof(cb) - 1), cb) != 0)
			return cl_error_set(CL_EINVAL, "auth.oidc.client_id is set: "
					    "auth.oidc.redirect_uri must be carelake's "
					    "https://HOST/app/oidc/callback (plain http only on a "
					    "loopback address)");
	}
	v = cl_calloc(1, sizeof(*v));
	if (!v)
		return cl_error_set(CL_ENOMEM, "no memory for the OpenID Connect verifier");
	v->set = *s;
	pthread_mutex_init(&v->mu, NULL);
	v->url = strncasecmp(s->jwks, "https://", 8) == 0 || strncasecmp(s->jwks, "http://", 7) == 0;
	if (v->url && !cl_oidc_url_allowed(s->jwks)) {
		rc = cl_error_set(CL_EINVAL, "auth.oidc.jwks: a URL must be https:// (plain http "
				  "only to a loopback address)");
	} else if (v->url) {
		curl_global_init(CURL_GLOBAL_DEFAULT);
		/* an identity provider down now must not stop ingest: fetched later */
		refresh_url(v, now_us, 1);
	} else {
		struct stat st;

		if (stat(s->jwks, &st) != 0)
			rc = cl_error_set(CL_ENOENT, "auth.oidc.jwks: cannot read '%s'", s->jwks);
		else
			rc = load_file(s->jwks, &v->keys);
		if (rc == CL_OK) {
			v->dev = st.st_dev;
			v->ino = st.st_ino;
			v->size = st.st_size;
			v->mtime = st.st_mtim;
		}
	}
	if (rc) {
		cl_jwt_verifier_close(v);
		return rc;
	}
	*out = v;
	return CL_OK;
}

int cl_jwt_verifier_open(const struct cl_config *cfg, struct cl_jwt_verifier **out)
{
	return cl_jwt_verifier_new(cl_oidc_settings(cfg), cl_time_now_us(), out);
}

void cl_jwt_verifier_close(struct cl_jwt_verifier *v)
{
	if (!v)
		return;
	cl_jwks_free(v->keys);
	if (v->url && cl_oidc_url_allowed(v->set.jwks))
		curl_global_cleanup();
	pthread_mutex_destroy(&v->mu);
	cl_free(v);
}

/* The verifier's current keys, held (release with cl_jwks_free). */
static struct cl_jwks *current_keys(struct cl_jwt_verifier *v)
{
	struct cl_jwks *k;

	pthread_mutex_lock(&v->mu);
	k = cl_jwks_hold(v->keys);
	pthread_mutex_unlock(&v->mu);
	return k;
}

int cl_jwt_check(struct cl_jwt_verifier *v, const char *token, size_t len, int64_t now_us,
		 struct cl_principal *p)
{
	struct cl_jwks *k;
	int rc, had_keys;

	if (!v)
		return cl_error_set(CL_EINVAL, "a JWT, but OpenID Connect is not set up "
				    "(auth.oidc.issuer)");
	if (v->url)
		refresh_url(v, now_us, 0);
	else
		refresh_file(v);
	k = current_keys(v);
	had_keys = k != NULL;
	rc = cl_jwt_verify(k, &v->set, token, len, now_us, p);
	cl_jwks_free(k);
	/* a kid the keys lack: the issuer may have rotated them */
	if (rc == CL_ENOENT && v->url && refresh_url(v, now_us, 1)) {
		k = current_keys(v);
		had_keys = k != NULL;
		rc = cl_jwt_verify(k, &v->set, token, len, now_us, p);
		cl_jwks_free(k);
	}
	if (rc == CL_ENOENT) {
		if (!had_keys)
			cl_error_set(CL_EINVAL, "the issuer's keys (auth.oidc.jwks) could not be "
				     "loaded yet");
		rc = CL_EINVAL;
	}
	return rc;
}
