/*
 * OpenID Connect JWTs (auth/cl_jwt, cl_jwks) and SMART scopes
 * (auth/cl_scope). The keys are made here by OpenSSL for each run, and
 * the tokens signed here with them, so no private key is ever kept: a
 * valid RS256 and ES256 token is accepted and mapped to its principal;
 * each kind of bad token (expired, not yet valid, wrong issuer or
 * audience, wrong signature, alg none or HS256, malformed) is refused
 * with a reason that does not hold the token; a changed JWKS file is
 * read again; a JWKS URL is fetched, and again for an unknown kid.
 */
#include "cl_test.h"
#include "auth/cl_jwt.h"
#include "auth/cl_scope.h"
#include "core/cl_error.h"
#include "core/cl_time.h"

#include <arpa/inet.h>
#include <jansson.h>
#include <netinet/in.h>
#include <openssl/bn.h>
#include <openssl/core_names.h>
#include <openssl/ecdsa.h>
#include <openssl/evp.h>
#include <pthread.h>
#include <sys/socket.h>
#include <sys/stat.h>

#define SEC 1000000ll
#define ISS "https://idp.example.org/realms/hospital"
#define AUD "carelake-api"

static char dir[200];
static EVP_PKEY *rsa1, *rsa2, *ec1, *small_rsa;
static int64_t now_s;

/* ---- making tokens ---- */

static void b64url(const unsigned char *in, size_t n, char *out, size_t cap)
{
	unsigned char tmp[8192];
	int len;

	assert_true(n * 4 / 3 + 4 < sizeof(tmp) && n * 4 / 3 + 4 < cap);
	len = EVP_EncodeBlock(tmp, in, (int)n);
	for (int i = 0; i < len; i++) {
		char c = (char)tmp[i];

		if (c == '=') {
			len = i;
			break;
		}
		out[i] = c == '+' ? '-' : c == '/' ? '_' : c;
	}
	out[len] = '\0';
}

static void b64url_text(const char *s, char *out, size_t cap)
{
	b64url((const unsigned char *)s, strlen(s), out, cap);
}

/* Signs "header.payload" with k as alg (RS256 or ES256) into out. */
static void sign(EVP_PKEY *k, const char *alg, const char *header, const char *payload,
		 char *out, size_t cap)
{
	char h[2048], p[4096], sig[1024];
	unsigned char raw[1024];
	size_t rl = sizeof(raw);
	EVP_MD_CTX *md = EVP_MD_CTX_new();
	int n;

	b64url_text(header, h, sizeof(h));
	b64url_text(payload, p, sizeof(p));
	n = snprintf(out, cap, "%s.%s", h, p);
	assert_true(n > 0 && (size_t)n < cap);
	assert_int_equal(EVP_DigestSignInit_ex(md, NULL, "SHA256", NULL, NULL, k, NULL), 1);
	assert_int_equal(EVP_DigestSign(md, raw, &rl, (unsigned char *)out, (size_t)n), 1);
	EVP_MD_CTX_free(md);
	if (strcmp(alg, "ES256") == 0) {
		/* DER from OpenSSL to JWS's r||s */
		const unsigned char *d = raw;
		ECDSA_SIG *es = d2i_ECDSA_SIG(NULL, &d, (long)rl);
		unsigned char rs[64];

		assert_non_null(es);
		assert_int_equal(BN_bn2binpad(ECDSA_SIG_get0_r(es), rs, 32), 32);
		assert_int_equal(BN_bn2binpad(ECDSA_SIG_get0_s(es), rs + 32, 32), 32);
		ECDSA_SIG_free(es);
		memcpy(raw, rs, 64);
		rl = 64;
	}
	b64url(raw, rl, sig, sizeof(sig));
	assert_true(strlen(out) + strlen(sig) + 2 < cap);
	strcat(out, ".");
	strcat(out, sig);
}

/* A token of alg and kid (NULL: none) signed by k with these claims. */
static void token(EVP_PKEY *k, const char *alg, const char *kid, const char *claims, char *out,
		  size_t cap)
{
	char header[256];

	if (kid)
		snprintf(header, sizeof(header), "{\"alg\":\"%s\",\"typ\":\"JWT\",\"kid\":\"%s\"}",
			 alg, kid);
	else
		snprintf(header, sizeof(header), "{\"alg\":\"%s\",\"typ\":\"JWT\"}", alg);
	sign(k, alg, header, claims, out, cap);
}

/* Claims: iss, aud, exp, nbf around now, with extra members. */
static void claims(char *out, size_t cap, const char *iss, const char *aud, long exp_off,
		   long nbf_off, const char *extra)
{
	snprintf(out, cap,
		 "{\"iss\":\"%s\",\"aud\":%s,\"sub\":\"user-42\",\"exp\":%lld,\"nbf\":%lld,"
		 "\"iat\":%lld%s%s}",
		 iss, aud, (long long)(now_s + exp_off), (long long)(now_s + nbf_off),
		 (long long)now_s, extra && *extra ? "," : "", extra ? extra : "");
}

/* ---- JWKs of the keys ---- */

static void jwk_rsa(EVP_PKEY *k, const char *kid, char *out, size_t cap)
{
	BIGNUM *n = NULL, *e = NULL;
	unsigned char nb[1024], eb[16];
	char ns[1500], es[32];
	int nl, el;

	assert_int_equal(EVP_PKEY_get_bn_param(k, OSSL_PKEY_PARAM_RSA_N, &n), 1);
	assert_int_equal(EVP_PKEY_get_bn_param(k, OSSL_PKEY_PARAM_RSA_E, &e), 1);
	nl = BN_bn2bin(n, nb);
	el = BN_bn2bin(e, eb);
	b64url(nb, (size_t)nl, ns, sizeof(ns));
	b64url(eb, (size_t)el, es, sizeof(es));
	snprintf(out, cap, "{\"kty\":\"RSA\",\"use\":\"sig\",\"alg\":\"RS256\",\"kid\":\"%s\","
		 "\"n\":\"%s\",\"e\":\"%s\"}", kid, ns, es);
	BN_free(n);
	BN_free(e);
}

static void jwk_ec(EVP_PKEY *k, const char *kid, char *out, size_t cap)
{
	unsigned char pub[65];
	size_t pl = 0;
	char xs[64], ys[64];

	assert_int_equal(EVP_PKEY_get_octet_string_param(k, OSSL_PKEY_PARAM_PUB_KEY, pub,
							 sizeof(pub), &pl), 1);
	assert_int_equal(pl, 65);
	b64url(pub + 1, 32, xs, sizeof(xs));
	b64url(pub + 33, 32, ys, sizeof(ys));
	if (kid)
		snprintf(out, cap, "{\"kty\":\"EC\",\"crv\":\"P-256\",\"kid\":\"%s\",\"x\":\"%s\","
			 "\"y\":\"%s\"}", kid, xs, ys);
	else
		snprintf(out, cap, "{\"kty\":\"EC\",\"crv\":\"P-256\",\"x\":\"%s\",\"y\":\"%s\"}",
			 xs, ys);
}

/* {"keys":[...]} of the given JWKs (NULL-ended). */
static void jwks_of(char *out, size_t cap, const char *const *keys)
{
	size_t n = (size_t)snprintf(out, cap, "{\"keys\":[");

	for (int i = 0; keys[i]; i++)
		n += (size_t)snprintf(out + n, cap - n, "%s%s", i ? "," : "", keys[i]);
	snprintf(out + n, cap - n, "]}");
}

static struct cl_jwks *standard_keys(void)
{
	char a[2000], b[600], c[600], set[4000];
	const char *keys[] = { a, b, c, NULL };
	struct cl_jwks *k;

	jwk_rsa(rsa1, "rsa-1", a, sizeof(a));
	jwk_ec(ec1, "ec-1", b, sizeof(b));
	snprintf(c, sizeof(c), "{\"kty\":\"oct\",\"k\":\"c2VjcmV0\",\"kid\":\"hmac\"}");
	jwks_of(set, sizeof(set), keys);
	if (cl_jwks_parse(set, strlen(set), &k) != CL_OK)
		fail_msg("jwks: %s", cl_error_detail());
	assert_int_equal(cl_jwks_count(k), 2);  /* the oct key skipped */
	return k;
}

static struct cl_oidc_settings settings(void)
{
	struct cl_oidc_settings s;

	memset(&s, 0, sizeof(s));
	snprintf(s.issuer, sizeof(s.issuer), ISS);
	snprintf(s.audience, sizeof(s.audience), AUD);
	snprintf(s.role_claim, sizeof(s.role_claim), "roles");
	s.clock_skew_us = 60 * SEC;
	s.jwks_refresh_us = 3600 * SEC;
	return s;
}

/* Verifies tok; expects CL_EINVAL with a reason holding `why` and none
 * of the token's three parts. */
static void refused(const struct cl_jwks *k, const struct cl_oidc_settings *s, const char *tok,
		    const char *why)
{
	struct cl_principal p;
	int rc = cl_jwt_verify(k, s, tok, strlen(tok), now_s * SEC, &p);
	const char *d = cl_error_detail();
	const char *dot = strchr(tok, '.');

	if (rc == CL_OK)
		fail_msg("accepted a token that should fail with '%s'", why);
	assert_true(rc == CL_EINVAL || rc == CL_ENOENT);
	if (!strstr(d, why))
		fail_msg("reason '%s' does not say '%s'", d, why);
	assert_int_equal(p.role, 0);
	assert_string_equal(p.id, "");
	if (strlen(tok) >= 12)
		assert_null(strstr(d, tok));
	if (dot && dot - tok >= 8) {
		char head[9];

		memcpy(head, tok, 8);
		head[8] = '\0';
		assert_null(strstr(d, head));
	}
}

static void accepted(const struct cl_jwks *k, const struct cl_oidc_settings *s, const char *tok,
		     struct cl_principal *p)
{
	if (cl_jwt_verify(k, s, tok, strlen(tok), now_s * SEC, p) != CL_OK)
		fail_msg("refused a good token: %s", cl_error_detail());
}

/* ---- tests ---- */

static void test_valid_tokens(void **state)
{
	struct cl_jwks *k = standard_keys();
	struct cl_oidc_settings s = settings();
	struct cl_principal p;
	char c[1024], tok[4096];

	(void)state;
	claims(c, sizeof(c), ISS, "\"" AUD "\"", 300, -10,
	       "\"roles\":[\"offline_access\",\"Clinician\",\"admin\"],"
	       "\"scope\":\"openid fhirUser user/Observation.rs launch/patient\"");
	token(rsa1, "RS256", "rsa-1", c, tok, sizeof(tok));
	accepted(k, &s, tok, &p);
	assert_int_equal(p.role, CL_ROLE_CLINICIAN);
	assert_string_equal(p.id, "user-42");
	assert_string_equal(p.name, "user-42");
	assert_string_equal(p.patient, "");
	assert_string_equal(p.scope, "user/Observation.rs");
	assert_int_equal(p.jwt, 1);

	/* ES256, no kid: the only EC key; aud an array */
	claims(c, sizeof(c), ISS, "[\"other\",\"" AUD "\"]", 300, -10,
	       "\"roles\":\"patient\",\"fhirUser\":\"https://fhir.example.org/r4/Patient/p-0007\"");
	token(ec1, "ES256", NULL, c, tok, sizeof(tok));
	accepted(k, &s, tok, &p);
	assert_int_equal(p.role, CL_ROLE_PATIENT);
	assert_string_equal(p.patient, "p-0007");

	/* the patient claim (SMART launch context) binds any role */
	claims(c, sizeof(c), ISS, "\"" AUD "\"", 300, -10,
	       "\"roles\":[\"clinician\"],\"patient\":\"p-9\",\"scope\":\"patient/*.read\"");
	token(ec1, "ES256", "ec-1", c, tok, sizeof(tok));
	accepted(k, &s, tok, &p);
	assert_int_equal(p.role, CL_ROLE_CLINICIAN);
	assert_string_equal(p.patient, "p-9");
	assert_string_equal(p.scope, "patient/*.read");

	/* within the clock skew: expired 30 s ago, valid in 30 s */
	claims(c, sizeof(c), ISS, "\"" AUD "\"", -30, 30, "\"roles\":\"engineer\"");
	token(rsa1, "RS256", "rsa-1", c, tok, sizeof(tok));
	accepted(k, &s, tok, &p);
	assert_int_equal(p.role, CL_ROLE_ENGINEER);

	/* a nested role claim (Keycloak's realm_access.roles) */
	s.role_claim[0] = '\0';
	snprintf(s.role_claim, sizeof(s.role_claim), "realm_access.roles");
	claims(c, sizeof(c), ISS, "\"" AUD "\"", 300, -10,
	       "\"realm_access\":{\"roles\":[\"uma_authorization\",\"compliance\"]}");
	token(rsa1, "RS256", "rsa-1", c, tok, sizeof(tok));
	accepted(k, &s, tok, &p);
	assert_int_equal(p.role, CL_ROLE_COMPLIANCE);
	cl_jwks_free(k);
}

static void test_bad_tokens(void **state)
{
	struct cl_jwks *k = standard_keys();
	struct cl_oidc_settings s = settings();
	char c[1024], tok[4096], bad[4200], h[256], pl[2048];
	const char *role = "\"roles\":\"admin\"";

	(void)state;
	claims(c, sizeof(c), ISS, "\"" AUD "\"", -120, -600, role);
	token(rsa1, "RS256", "rsa-1", c, tok, sizeof(tok));
	refused(k, &s, tok, "expired");
	claims(c, sizeof(c), ISS, "\"" AUD "\"", 600, 120, role);
	token(ec1, "ES256", "ec-1", c, tok, sizeof(tok));
	refused(k, &s, tok, "not valid yet");
	claims(c, sizeof(c), "https://evil.example.org", "\"" AUD "\"", 300, -10, role);
	token(rsa1, "RS256", "rsa-1", c, tok, sizeof(tok));
	refused(k, &s, tok, "issuer");
	claims(c, sizeof(c), ISS, "[\"someone-else\"]", 300, -10, role);
	token(rsa1, "RS256", "rsa-1", c, tok, sizeof(tok));
	refused(k, &s, tok, "audience");
	snprintf(c, sizeof(c), "{\"iss\":\"%s\",\"aud\":\"%s\",\"sub\":\"x\",\"roles\":\"admin\"}",
		 ISS, AUD);
	token(rsa1, "RS256", "rsa-1", c, tok, sizeof(tok));
	refused(k, &s, tok, "no expiry");

	/* signed by another key under the JWKS key's kid */
	claims(c, sizeof(c), ISS, "\"" AUD "\"", 300, -10, role);
	token(rsa2, "RS256", "rsa-1", c, tok, sizeof(tok));
	refused(k, &s, tok, "signature does not verify");
	/* a good token whose payload is changed after signing */
	token(rsa1, "RS256", "rsa-1", c, tok, sizeof(tok));
	{
		char *p1 = strchr(tok, '.') + 1, *p2 = strchr(p1, '.');
		char other[1024];

		claims(other, sizeof(other), ISS, "\"" AUD "\"", 300, -10, "\"roles\":\"admin\","
		       "\"x\":1");
		b64url_text(other, pl, sizeof(pl));
		snprintf(bad, sizeof(bad), "%.*s%s%s", (int)(p1 - tok), tok, pl, p2);
		refused(k, &s, bad, "signature does not verify");
	}
	/* an ES256 signature of the wrong length */
	token(ec1, "ES256", "ec-1", c, tok, sizeof(tok));
	snprintf(bad, sizeof(bad), "%sAAAA", tok);
	refused(k, &s, bad, "not 64 bytes");
	/* a kid the JWKS does not have; a kid of an RSA key on an ES256 token */
	token(rsa1, "RS256", "rsa-9", c, tok, sizeof(tok));
	refused(k, &s, tok, "kid names no key");
	token(ec1, "ES256", "rsa-1", c, tok, sizeof(tok));
	refused(k, &s, tok, "kid names no key");

	/* alg none, HS256, and one not accepted */
	b64url_text("{\"alg\":\"none\",\"typ\":\"JWT\"}", h, sizeof(h));
	b64url_text(c, pl, sizeof(pl));
	snprintf(bad, sizeof(bad), "%s.%s.", h, pl);
	refused(k, &s, bad, "alg none");
	b64url_text("{\"alg\":\"HS256\",\"kid\":\"hmac\"}", h, sizeof(h));
	snprintf(bad, sizeof(bad), "%s.%s.c2lnbmF0dXJl", h, pl);
	refused(k, &s, bad, "shared secret");
	b64url_text("{\"alg\":\"PS256\"}", h, sizeof(h));
	snprintf(bad, sizeof(bad), "%s.%s.c2lnbmF0dXJl", h, pl);
	refused(k, &s, bad, "not RS256 or ES256");
	sign(rsa1, "RS256", "{\"alg\":\"RS256\",\"kid\":\"rsa-1\",\"crit\":[\"exp\"]}", c, tok,
	     sizeof(tok));
	refused(k, &s, tok, "crit");

	/* malformed */
	refused(k, &s, "clk_notajwt", "three parts");
	refused(k, &s, "a.b.c.d.e", "more than three parts");
	snprintf(bad, sizeof(bad), "%s.%s.sig+nature", h, pl);
	refused(k, &s, bad, "signature is not base64url");
	snprintf(bad, sizeof(bad), "%s=.%s.AAAA", h, pl);
	refused(k, &s, bad, "header is not base64url");
	b64url_text("not json", h, sizeof(h));
	snprintf(bad, sizeof(bad), "%s.%s.AAAA", h, pl);
	refused(k, &s, bad, "header is not a JSON object");
	b64url_text("[1,2]", pl, sizeof(pl));
	sign(rsa1, "RS256", "{\"alg\":\"RS256\",\"kid\":\"rsa-1\"}", "[1,2]", tok, sizeof(tok));
	refused(k, &s, tok, "payload is not a JSON object");
	refused(k, &s, "", "empty");
	memset(bad, 'A', sizeof(bad) - 1);
	bad[sizeof(bad) - 1] = '\0';
	{
		static char huge[CL_JWT_MAX + 10];

		memset(huge, 'A', sizeof(huge) - 1);
		huge[10] = huge[20] = '.';
		refused(k, &s, huge, "longer than");
	}
	cl_jwks_free(k);
}

static void test_claims_to_principal(void **state)
{
	struct cl_jwks *k = standard_keys();
	struct cl_oidc_settings s = settings();
	char c[2048], tok[4096];

	(void)state;
	claims(c, sizeof(c), ISS, "\"" AUD "\"", 300, -10, "\"roles\":[\"nurse\",\"doctor\"]");
	token(rsa1, "RS256", "rsa-1", c, tok, sizeof(tok));
	refused(k, &s, tok, "names no carelake role");
	claims(c, sizeof(c), ISS, "\"" AUD "\"", 300, -10, "\"roles\":\"device\"");
	token(rsa1, "RS256", "rsa-1", c, tok, sizeof(tok));
	refused(k, &s, tok, "names no carelake role");
	claims(c, sizeof(c), ISS, "\"" AUD "\"", 300, -10, "\"roles\":\"patient\"");
	token(rsa1, "RS256", "rsa-1", c, tok, sizeof(tok));
	refused(k, &s, tok, "names no patient");
	claims(c, sizeof(c), ISS, "\"" AUD "\"", 300, -10,
	       "\"roles\":\"patient\",\"fhirUser\":\"Practitioner/7\"");
	token(rsa1, "RS256", "rsa-1", c, tok, sizeof(tok));
	refused(k, &s, tok, "names no patient");
	claims(c, sizeof(c), ISS, "\"" AUD "\"", 300, -10,
	       "\"roles\":\"patient\",\"patient\":\"a b\"");
	token(rsa1, "RS256", "rsa-1", c, tok, sizeof(tok));
	refused(k, &s, tok, "not a patient id");
	claims(c, sizeof(c), ISS, "\"" AUD "\"", 300, -10,
	       "\"roles\":\"clinician\",\"scope\":\"openid patient/Observation.xyz\"");
	token(rsa1, "RS256", "rsa-1", c, tok, sizeof(tok));
	refused(k, &s, tok, "malformed SMART scope");
	snprintf(c, sizeof(c), "{\"iss\":\"%s\",\"aud\":\"%s\",\"exp\":%lld,\"roles\":\"admin\"}",
		 ISS, AUD, (long long)now_s + 60);
	token(rsa1, "RS256", "rsa-1", c, tok, sizeof(tok));
	refused(k, &s, tok, "sub is missing");
	/* SMART scopes longer than a principal holds are refused, not cut */
	{
		char extra[900];
		size_t n = (size_t)snprintf(extra, sizeof(extra), "\"roles\":\"clinician\",\"scope\":\"");

		for (int i = 0; i < 40; i++)
			n += (size_t)snprintf(extra + n, sizeof(extra) - n, "user/Observation.rs ");
		snprintf(extra + n - 1, sizeof(extra) - n + 1, "\"");
		claims(c, sizeof(c), ISS, "\"" AUD "\"", 300, -10, extra);
		token(rsa1, "RS256", "rsa-1", c, tok, sizeof(tok));
		refused(k, &s, tok, "longer than");
	}
	cl_jwks_free(k);
}

static void test_jwks_parse(void **state)
{
	char a[2000], b[2000], set[5000];
	const char *one[] = { a, NULL }, *two[] = { a, b, NULL };
	struct cl_jwks *k = NULL;

	(void)state;
	assert_int_equal(cl_jwks_parse("{", 1, &k), CL_EINVAL);
	assert_non_null(strstr(cl_error_detail(), "not JSON"));
	assert_int_equal(cl_jwks_parse("{\"keys\":{}}", 11, &k), CL_EINVAL);
	assert_non_null(strstr(cl_error_detail(), "'keys' array"));
	assert_int_equal(cl_jwks_parse("{\"keys\":[]}", 11, &k), CL_EINVAL);
	assert_non_null(strstr(cl_error_detail(), "no RS256 or ES256"));
	/* a 1024-bit RSA key is skipped, naming why */
	jwk_rsa(small_rsa, "weak", a, sizeof(a));
	jwks_of(set, sizeof(set), one);
	assert_int_equal(cl_jwks_parse(set, strlen(set), &k), CL_EINVAL);
	assert_non_null(strstr(cl_error_detail(), "1024 bits"));
	/* an encryption key is skipped; the EC key beside it used */
	snprintf(a, sizeof(a), "{\"kty\":\"RSA\",\"use\":\"enc\",\"n\":\"AQAB\",\"e\":\"AQAB\"}");
	jwk_ec(ec1, "ec-1", b, sizeof(b));
	jwks_of(set, sizeof(set), two);
	assert_int_equal(cl_jwks_parse(set, strlen(set), &k), CL_OK);
	assert_int_equal(cl_jwks_count(k), 1);
	cl_jwks_free(k);
	/* a point not on the curve */
	snprintf(a, sizeof(a), "{\"kty\":\"EC\",\"crv\":\"P-256\",\"x\":\"%s\",\"y\":\"%s\"}",
		 "AQAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA",
		 "AQAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA");
	jwks_of(set, sizeof(set), one);
	assert_int_equal(cl_jwks_parse(set, strlen(set), &k), CL_EINVAL);
	assert_non_null(strstr(cl_error_detail(), "refuses it as a EC public key"));
	snprintf(a, sizeof(a), "{\"kty\":\"EC\",\"crv\":\"P-384\",\"x\":\"AA\",\"y\":\"AA\"}");
	assert_int_equal(cl_jwks_parse(set, strlen(set), &k), CL_EINVAL);
	/* base64url: strict */
	{
		unsigned char out[16];
		size_t n;

		assert_int_equal(cl_b64url_decode("AQAB", 4, out, sizeof(out), &n), CL_OK);
		assert_int_equal(n, 3);
		assert_int_equal(out[0], 1);
		assert_int_equal(out[2], 1);
		assert_int_equal(cl_b64url_decode("AQ", 2, out, sizeof(out), &n), CL_OK);
		assert_int_equal(n, 1);
		assert_int_equal(cl_b64url_decode("AR", 2, out, sizeof(out), &n), CL_EINVAL);
		assert_int_equal(cl_b64url_decode("AQ==", 4, out, sizeof(out), &n), CL_EINVAL);
		assert_int_equal(cl_b64url_decode("A", 1, out, sizeof(out), &n), CL_EINVAL);
		assert_int_equal(cl_b64url_decode("a+b/", 4, out, sizeof(out), &n), CL_EINVAL);
		assert_int_equal(cl_b64url_decode("-_-_", 4, out, sizeof(out), &n), CL_OK);
		assert_int_equal(cl_b64url_decode("AAAAAAAA", 8, out, 5, &n), CL_EINVAL);
	}
}

static void write_jwks(const char *path, const char *const *keys)
{
	char set[5000], tmp[400];
	FILE *f;

	jwks_of(set, sizeof(set), keys);
	snprintf(tmp, sizeof(tmp), "%s.tmp", path);
	f = fopen(tmp, "w");
	assert_non_null(f);
	fputs(set, f);
	fclose(f);
	assert_int_equal(rename(tmp, path), 0);
}

static void test_verifier_file(void **state)
{
	struct cl_oidc_settings s = settings();
	struct cl_jwt_verifier *v = NULL;
	struct cl_principal p;
	char a[2000], b[2000], path[232], c[1024], t1[4096], t2[4096];
	const char *first[] = { a, NULL }, *second[] = { b, NULL };
	int64_t now = now_s * SEC;

	(void)state;
	/* off without an issuer; refused without audience or keys */
	assert_int_equal(cl_jwt_verifier_new(&s, now, &v), CL_EINVAL);
	assert_non_null(strstr(cl_error_detail(), "auth.oidc.jwks"));
	s.issuer[0] = '\0';
	assert_int_equal(cl_jwt_verifier_new(&s, now, &v), CL_OK);
	assert_null(v);
	assert_int_equal(cl_jwt_check(NULL, "a.b.c", 5, now, &p), CL_EINVAL);
	s = settings();
	snprintf(path, sizeof(path), "%s/missing.json", dir);
	snprintf(s.jwks, sizeof(s.jwks), "%s", path);
	assert_int_equal(cl_jwt_verifier_new(&s, now, &v), CL_ENOENT);
	snprintf(s.jwks, sizeof(s.jwks), "http://idp.example.org/jwks");
	assert_int_equal(cl_jwt_verifier_new(&s, now, &v), CL_EINVAL);
	assert_non_null(strstr(cl_error_detail(), "https://"));

	snprintf(path, sizeof(path), "%s/jwks.json", dir);
	snprintf(s.jwks, sizeof(s.jwks), "%s", path);
	jwk_rsa(rsa1, "k1", a, sizeof(a));
	jwk_rsa(rsa2, "k2", b, sizeof(b));
	write_jwks(path, first);
	assert_int_equal(cl_jwt_verifier_new(&s, now, &v), CL_OK);
	assert_non_null(v);
	claims(c, sizeof(c), ISS, "\"" AUD "\"", 300, -10, "\"roles\":\"researcher\"");
	token(rsa1, "RS256", "k1", c, t1, sizeof(t1));
	token(rsa2, "RS256", "k2", c, t2, sizeof(t2));
	assert_int_equal(cl_jwt_check(v, t1, strlen(t1), now, &p), CL_OK);
	assert_int_equal(p.role, CL_ROLE_RESEARCHER);
	assert_int_equal(cl_jwt_check(v, t2, strlen(t2), now, &p), CL_EINVAL);
	assert_non_null(strstr(cl_error_detail(), "kid names no key"));

	/* the issuer rotates its key: the file changes, the check sees it */
	write_jwks(path, second);
	assert_int_equal(cl_jwt_check(v, t2, strlen(t2), now, &p), CL_OK);
	assert_int_equal(cl_jwt_check(v, t1, strlen(t1), now, &p), CL_EINVAL);
	/* a broken file keeps the keys before it */
	{
		FILE *f = fopen(path, "w");

		assert_non_null(f);
		fputs("{\"keys\": [", f);
		fclose(f);
	}
	assert_int_equal(cl_jwt_check(v, t2, strlen(t2), now, &p), CL_OK);
	cl_jwt_verifier_close(v);
}

/* ---- a JWKS over HTTP, from a loopback server of this test ---- */

struct jwks_server {
	int fd;
	int port;
	pthread_t th;
	pthread_mutex_t mu;
	char body[5000];
	int hits;
};

static void *serve_jwks(void *arg)
{
	struct jwks_server *js = arg;

	for (;;) {
		int c = accept(js->fd, NULL, NULL);
		char req[2048], out[6000];
		int n;

		if (c < 0)
			return NULL;
		if (read(c, req, sizeof(req)) <= 0) {
			close(c);
			continue;
		}
		pthread_mutex_lock(&js->mu);
		js->hits++;
		n = snprintf(out, sizeof(out), "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n"
			     "Content-Length: %zu\r\nConnection: close\r\n\r\n%s",
			     strlen(js->body), js->body);
		pthread_mutex_unlock(&js->mu);
		assert_int_equal(write(c, out, (size_t)n), n);
		close(c);
	}
}

static void test_verifier_url(void **state)
{
	struct cl_oidc_settings s = settings();
	struct cl_jwt_verifier *v = NULL;
	struct cl_principal p;
	struct jwks_server js = { .fd = -1 };
	struct sockaddr_in sa = { .sin_family = AF_INET };
	socklen_t sl = sizeof(sa);
	char a[2000], b[2000], c[1024], t1[4096], t2[4096];
	const char *first[] = { a, NULL }, *both[] = { a, b, NULL };
	int64_t now = now_s * SEC;

	(void)state;
	js.fd = socket(AF_INET, SOCK_STREAM, 0);
	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	assert_int_equal(bind(js.fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
	assert_int_equal(listen(js.fd, 8), 0);
	assert_int_equal(getsockname(js.fd, (struct sockaddr *)&sa, &sl), 0);
	js.port = ntohs(sa.sin_port);
	pthread_mutex_init(&js.mu, NULL);
	jwk_rsa(rsa1, "k1", a, sizeof(a));
	jwk_ec(ec1, "k2", b, sizeof(b));
	jwks_of(js.body, sizeof(js.body), first);
	assert_int_equal(pthread_create(&js.th, NULL, serve_jwks, &js), 0);

	snprintf(s.jwks, sizeof(s.jwks), "http://127.0.0.1:%d/jwks", js.port);
	assert_int_equal(cl_jwt_verifier_new(&s, now, &v), CL_OK);
	assert_int_equal(js.hits, 1);
	claims(c, sizeof(c), ISS, "\"" AUD "\"", 300, -10, "\"roles\":\"admin\"");
	token(rsa1, "RS256", "k1", c, t1, sizeof(t1));
	token(ec1, "ES256", "k2", c, t2, sizeof(t2));
	assert_int_equal(cl_jwt_check(v, t1, strlen(t1), now, &p), CL_OK);
	assert_int_equal(js.hits, 1);  /* not fetched again for a known key */

	/* a new key appears: an unknown kid fetches, but not within 30 s
	 * of the last fetch */
	pthread_mutex_lock(&js.mu);
	jwks_of(js.body, sizeof(js.body), both);
	pthread_mutex_unlock(&js.mu);
	assert_int_equal(cl_jwt_check(v, t2, strlen(t2), now + 10 * SEC, &p), CL_EINVAL);
	assert_int_equal(js.hits, 1);
	assert_int_equal(cl_jwt_check(v, t2, strlen(t2), now + 31 * SEC, &p), CL_OK);
	assert_int_equal(js.hits, 2);
	assert_int_equal(p.role, CL_ROLE_ADMIN);
	/* and again only after jwks_refresh */
	assert_int_equal(cl_jwt_check(v, t1, strlen(t1), now + 120 * SEC, &p), CL_OK);
	assert_int_equal(js.hits, 2);
	assert_int_equal(cl_jwt_check(v, t1, strlen(t1), now + 3700 * SEC, &p), CL_EINVAL);
	assert_int_equal(js.hits, 3);  /* fetched; t1 has expired by then */
	cl_jwt_verifier_close(v);
	shutdown(js.fd, SHUT_RDWR);
	close(js.fd);
	pthread_join(js.th, NULL);
}

static void test_scopes(void **state)
{
	struct cl_scope sc;
	struct cl_principal p;
	int n;

	(void)state;
	assert_int_equal(cl_scope_parse("patient/*.rs", 12, &sc), CL_OK);
	assert_int_equal(sc.context, CL_SCOPE_PATIENT);
	assert_string_equal(sc.resource, "*");
	assert_int_equal(sc.perms, CL_SCOPE_R | CL_SCOPE_S);
	assert_int_equal(cl_scope_parse("user/Observation.cruds", 22, &sc), CL_OK);
	assert_int_equal(sc.context, CL_SCOPE_USER);
	assert_string_equal(sc.resource, "Observation");
	assert_int_equal(sc.perms, 31);
	assert_int_equal(cl_scope_parse("system/*.read", 13, &sc), CL_OK);
	assert_int_equal(sc.perms, CL_SCOPE_R | CL_SCOPE_S);
	assert_int_equal(cl_scope_parse("patient/Observation.write", 25, &sc), CL_OK);
	assert_int_equal(sc.perms, CL_SCOPE_C | CL_SCOPE_U | CL_SCOPE_D);
	assert_int_equal(cl_scope_parse("user/*.*", 8, &sc), CL_OK);
	assert_int_equal(sc.perms, 31);
	assert_int_equal(cl_scope_parse("patient/Observation.rs?category=laboratory", 42, &sc),
			 CL_OK);
	assert_int_equal(sc.query, 1);
	assert_int_equal(cl_scope_parse("openid", 6, &sc), CL_ENOENT);
	assert_int_equal(cl_scope_parse("launch/patient", 14, &sc), CL_ENOENT);
	assert_int_equal(cl_scope_parse("patient/Observation.sr", 22, &sc), CL_EINVAL);
	assert_int_equal(cl_scope_parse("patient/Observation.rr", 22, &sc), CL_EINVAL);
	assert_int_equal(cl_scope_parse("patient/Observation", 19, &sc), CL_EINVAL);
	assert_int_equal(cl_scope_parse("patient/observation.r", 21, &sc), CL_EINVAL);
	assert_int_equal(cl_scope_parse("user/.r", 7, &sc), CL_EINVAL);
	assert_int_equal(cl_scope_parse("user/Observation.", 17, &sc), CL_EINVAL);
	assert_int_equal(cl_scope_check_list("openid  patient/*.rs user/Flag.s ", &n), CL_OK);
	assert_int_equal(n, 2);
	assert_int_equal(cl_scope_check_list("openid user/Flag.x", &n), CL_EINVAL);

	memset(&p, 0, sizeof(p));
	/* no SMART scopes: the role alone decides */
	p.role = CL_ROLE_CLINICIAN;
	assert_true(cl_scope_allows(&p, CL_ACT_READ_CLINICAL, NULL));
	assert_false(cl_scope_allows(&p, CL_ACT_OPERATE, NULL));
	snprintf(p.scope, sizeof(p.scope), "openid profile");
	assert_true(cl_scope_allows(&p, CL_ACT_SEARCH_ALERTS, NULL));
	/* user/Observation.rs: vitals, not alerts nor acknowledging */
	snprintf(p.scope, sizeof(p.scope), "openid user/Observation.rs");
	assert_true(cl_scope_allows(&p, CL_ACT_READ_CLINICAL, NULL));
	assert_true(cl_scope_allows(&p, CL_ACT_STREAM, NULL));
	assert_false(cl_scope_allows(&p, CL_ACT_SEARCH_ALERTS, NULL));
	assert_false(cl_scope_allows(&p, CL_ACT_ACKNOWLEDGE, NULL));
	assert_false(cl_scope_allows(&p, CL_ACT_INGEST_FHIR, NULL));
	assert_false(cl_scope_allows(&p, CL_ACT_READ_CLINICAL, "Patient"));
	/* scopes never widen the role */
	snprintf(p.scope, sizeof(p.scope), "system/*.cruds");
	assert_true(cl_scope_allows(&p, CL_ACT_ACKNOWLEDGE, NULL));
	assert_false(cl_scope_allows(&p, CL_ACT_OPERATE, NULL));
	assert_false(cl_scope_allows(&p, CL_ACT_MANAGE_TOKENS, NULL));
	p.role = CL_ROLE_ADMIN;
	assert_true(cl_scope_allows(&p, CL_ACT_MANAGE_TOKENS, NULL));
	snprintf(p.scope, sizeof(p.scope), "system/Observation.cruds");
	assert_false(cl_scope_allows(&p, CL_ACT_MANAGE_TOKENS, NULL));
	assert_true(cl_scope_allows(&p, CL_ACT_INGEST_EVENTS, NULL));
	/* patient/ scopes need the token's patient */
	p.role = CL_ROLE_CLINICIAN;
	snprintf(p.scope, sizeof(p.scope), "patient/*.rs");
	assert_false(cl_scope_allows(&p, CL_ACT_READ_CLINICAL, NULL));
	snprintf(p.patient, sizeof(p.patient), "p-1");
	assert_true(cl_scope_allows(&p, CL_ACT_READ_CLINICAL, NULL));
	assert_true(cl_scope_allows(&p, CL_ACT_SEARCH_ALERTS, NULL));
	assert_false(cl_scope_allows(&p, CL_ACT_ACKNOWLEDGE, NULL));
	/* a scope with a query, or malformed, grants nothing but restricts */
	snprintf(p.scope, sizeof(p.scope), "patient/Observation.rs?category=vital-signs");
	assert_false(cl_scope_allows(&p, CL_ACT_READ_CLINICAL, NULL));
	snprintf(p.scope, sizeof(p.scope), "user/Observation.zz");
	assert_false(cl_scope_allows(&p, CL_ACT_READ_CLINICAL, NULL));
	/* v1 */
	snprintf(p.scope, sizeof(p.scope), "user/Flag.read user/Flag.write");
	assert_true(cl_scope_allows(&p, CL_ACT_SEARCH_ALERTS, NULL));
	assert_true(cl_scope_allows(&p, CL_ACT_ACKNOWLEDGE, NULL));
	assert_false(cl_scope_allows(&p, CL_ACT_READ_CLINICAL, NULL));
	/* every action has its row; only signing in and opening a page hold
	 * no resource, and are the role's to allow whatever the scopes */
	for (int a = 0; a < CL_ACTIONS; a++) {
		int none = a == CL_ACT_SIGN_IN || a == CL_ACT_VIEW_BOARD ||
			   a == CL_ACT_VIEW_MY_HEALTH || a == CL_ACT_VIEW_HOSPITAL ||
			   a == CL_ACT_VIEW_PIPELINES || a == CL_ACT_VIEW_COMPLIANCE;

		assert_non_null(cl_scope_action_resource((enum cl_action)a));
		assert_int_equal(cl_scope_action_perms((enum cl_action)a) == 0, none);
	}
	p.role = CL_ROLE_CLINICIAN;
	snprintf(p.scope, sizeof(p.scope), "user/Flag.rs");
	assert_true(cl_scope_allows(&p, CL_ACT_VIEW_BOARD, NULL));
	assert_true(cl_scope_allows(&p, CL_ACT_SIGN_IN, NULL));
	p.role = CL_ROLE_RESEARCHER;
	assert_false(cl_scope_allows(&p, CL_ACT_VIEW_BOARD, NULL));
}

static int setup(void **state)
{
	(void)state;
	rsa1 = EVP_PKEY_Q_keygen(NULL, NULL, "RSA", (size_t)2048);
	rsa2 = EVP_PKEY_Q_keygen(NULL, NULL, "RSA", (size_t)2048);
	small_rsa = EVP_PKEY_Q_keygen(NULL, NULL, "RSA", (size_t)1024);
	ec1 = EVP_PKEY_Q_keygen(NULL, NULL, "EC", "P-256");
	assert_non_null(rsa1);
	assert_non_null(rsa2);
	assert_non_null(small_rsa);
	assert_non_null(ec1);
	now_s = cl_time_now_us() / SEC;
	return 0;
}

static int teardown(void **state)
{
	(void)state;
	EVP_PKEY_free(rsa1);
	EVP_PKEY_free(rsa2);
	EVP_PKEY_free(small_rsa);
	EVP_PKEY_free(ec1);
	return 0;
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_valid_tokens),
		cmocka_unit_test(test_bad_tokens),
		cmocka_unit_test(test_claims_to_principal),
		cmocka_unit_test(test_jwks_parse),
		cmocka_unit_test(test_verifier_file),
		cmocka_unit_test(test_verifier_url),
		cmocka_unit_test(test_scopes),
	};
	int rc;

	cl_test_tmpdir(dir, sizeof(dir));
	rc = cmocka_run_group_tests(tests, setup, teardown);
	cl_test_rmtree(dir);
	return rc;
}
