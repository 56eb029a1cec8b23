/*
 * Fuzz target: OpenID Connect bearer tokens and key sets from outside
 * (auth/cl_jwt, cl_jwks, cl_scope). The first byte chooses what the rest
 * is:
 *   0: a JWKS document (cl_jwks_parse);
 *   1: a bearer token, checked against this run's keys (header, payload
 *      and signature decoding; no forged token may pass);
 *   2: a header and a payload (JSON, split at the first NUL) that this
 *      target signs with its own key (ES256, or RS256 when the header
 *      says so), so that the claims behind a good signature are reached;
 *   3: a SMART scope list (cl_scope_check_list, cl_scope_allows).
 * Whatever the input: no crash or leak; a refusal has a reason that does
 * not hold the token; an accepted token has a sub, a role that is not
 * device, and a patient when its role is patient.
 */
#include "fuzz_entry.h"
#include "auth/cl_jwt.h"
#include "auth/cl_scope.h"
#include "core/cl_error.h"
#include "core/cl_time.h"

#include <openssl/bn.h>
#include <openssl/core_names.h>
#include <openssl/ecdsa.h>
#include <openssl/evp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define ISS "https://idp.example.org"
#define AUD "carelake"

static EVP_PKEY *rsa, *ec;
static struct cl_jwks *keys;
static struct cl_oidc_settings set;

static size_t b64url(const unsigned char *in, size_t n, char *out)
{
	int len = EVP_EncodeBlock((unsigned char *)out, in, (int)n);

	while (len > 0 && out[len - 1] == '=')
		len--;
	for (int i = 0; i < len; i++)
		out[i] = out[i] == '+' ? '-' : out[i] == '/' ? '_' : out[i];
	out[len] = '\0';
	return (size_t)len;
}

static void init(void)
{
	unsigned char nb[512], eb[8], pub[65];
	char ns[700], es[16], xs[64], ys[64], doc[1200];
	BIGNUM *n = NULL, *e = NULL;
	size_t pl;

	rsa = EVP_PKEY_Q_keygen(NULL, NULL, "RSA", (size_t)2048);
	ec = EVP_PKEY_Q_keygen(NULL, NULL, "EC", "P-256");
	if (!rsa || !ec || EVP_PKEY_get_bn_param(rsa, OSSL_PKEY_PARAM_RSA_N, &n) != 1 ||
	    EVP_PKEY_get_bn_param(rsa, OSSL_PKEY_PARAM_RSA_E, &e) != 1 ||
	    EVP_PKEY_get_octet_string_param(ec, OSSL_PKEY_PARAM_PUB_KEY, pub, sizeof(pub), &pl) != 1)
		abort();
	b64url(nb, (size_t)BN_bn2bin(n, nb), ns);
	b64url(eb, (size_t)BN_bn2bin(e, eb), es);
	b64url(pub + 1, 32, xs);
	b64url(pub + 33, 32, ys);
	BN_free(n);
	BN_free(e);
	snprintf(doc, sizeof(doc),
		 "{\"keys\":[{\"kty\":\"RSA\",\"kid\":\"r\",\"n\":\"%s\",\"e\":\"%s\"},"
		 "{\"kty\":\"EC\",\"crv\":\"P-256\",\"kid\":\"e\",\"x\":\"%s\",\"y\":\"%s\"}]}",
		 ns, es, xs, ys);
	if (cl_jwks_parse(doc, strlen(doc), &keys) != CL_OK || cl_jwks_count(keys) != 2)
		abort();
	snprintf(set.issuer, sizeof(set.issuer), ISS);
	snprintf(set.audience, sizeof(set.audience), AUD);
	snprintf(set.role_claim, sizeof(set.role_claim), "roles");
	set.clock_skew_us = 60 * 1000000ll;
	set.jwks_refresh_us = 3600 * 1000000ll;
}

/* The invariants of one verification. */
static void check(const char *tok, size_t len, int64_t now)
{
	struct cl_principal p;
	int rc = cl_jwt_verify(keys, &set, tok, len, now, &p);

	if (rc == CL_OK) {
		if (!p.id[0] || !p.jwt || p.role < 0 || p.role >= CL_ROLES ||
		    p.role == CL_ROLE_DEVICE || (p.role == CL_ROLE_PATIENT && !p.patient[0]))
			abort();
		(void)cl_scope_allows(&p, CL_ACT_READ_CLINICAL, NULL);
		return;
	}
	if (rc != CL_EINVAL && rc != CL_ENOENT && rc != CL_ENOMEM)
		abort();
	if (!cl_error_detail()[0])
		abort();
	if (len >= 16) {
		char *t = strndup(tok, len);

		if (t && strlen(t) == len && strstr(cl_error_detail(), t))
			abort();
		free(t);
	}
}

/* Signs header.payload with this target's key and checks the token. */
static void signed_token(const uint8_t *d, size_t n)
{
	const uint8_t *nul = memchr(d, '\0', n);
	size_t hl = nul ? (size_t)(nul - d) : n, pl = nul ? n - hl - 1 : 0;
	int use_rsa = memmem(d, hl, "RS256", 5) != NULL;
	char *tok = malloc((hl + pl) * 4 / 3 + 700);
	unsigned char sig[600];
	size_t sl = sizeof(sig), tl;
	EVP_MD_CTX *md = EVP_MD_CTX_new();

	if (!tok || !md)
		abort();
	tl = b64url(d, hl, tok);
	tok[tl++] = '.';
	tl += b64url(nul ? nul + 1 : d, pl, tok + tl);
	if (EVP_DigestSignInit_ex(md, NULL, "SHA256", NULL, NULL, use_rsa ? rsa : ec, NULL) != 1 ||
	    EVP_DigestSign(md, sig, &sl, (unsigned char *)tok, tl) != 1)
		abort();
	EVP_MD_CTX_free(md);
	if (!use_rsa) {
		const unsigned char *p = sig;
		ECDSA_SIG *es = d2i_ECDSA_SIG(NULL, &p, (long)sl);

		if (!es)
			abort();
		BN_bn2binpad(ECDSA_SIG_get0_r(es), sig, 32);
		BN_bn2binpad(ECDSA_SIG_get0_s(es), sig + 32, 32);
		ECDSA_SIG_free(es);
		sl = 64;
	}
	tok[tl++] = '.';
	tl += b64url(sig, sl, tok + tl);
	/* a fixed now, so the verdict is the input's alone */
	check(tok, tl, 1700000000ll * 1000000);
	free(tok);
}

static void scopes(const uint8_t *d, size_t n)
{
	struct cl_principal p;
	int smart;

	memset(&p, 0, sizeof(p));
	if (n >= sizeof(p.scope))
		n = sizeof(p.scope) - 1;
	memcpy(p.scope, d, n);
	if (cl_scope_check_list(p.scope, &smart) == CL_OK && smart < 0)
		abort();
	for (int r = 0; r < CL_ROLES; r++)
		for (int a = 0; a < CL_ACTIONS; a++) {
			p.role = (enum cl_role)r;
			/* never wider than the role */
			if (cl_scope_allows(&p, (enum cl_action)a, NULL) &&
			    !cl_access_allows(p.role, (enum cl_action)a))
				abort();
		}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct cl_jwks *k = NULL;

	if (!keys)
		init();
	if (size < 1)
		return 0;
	switch (data[0] % 4) {
	case 0:
		if (cl_jwks_parse((const char *)data + 1, size - 1, &k) == CL_OK &&
		    cl_jwks_count(k) == 0)
			abort();
		cl_jwks_free(k);
		break;
	case 1:
		check((const char *)data + 1, size - 1, cl_time_now_us());
		break;
	case 2:
		if (size < 64 * 1024)
			signed_token(data + 1, size - 1);
		break;
	default:
		scopes(data + 1, size - 1);
		break;
	}
	return 0;
}
