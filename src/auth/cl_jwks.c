/*
 * JSON Web Key Sets: the identity provider's public keys, parsed into
 * OpenSSL keys (EVP_PKEY_fromdata from the JWK's parameters). See
 * cl_jwt.h.
 */
#include "cl_jwks_int.h"
#include "core/cl_error.h"
#include "core/cl_mem.h"

#include <jansson.h>
#include <openssl/core_names.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/param_build.h>
#include <string.h>

#define JWKS_KEYS_MAX 64
#define RSA_BITS_MIN 2048
#define RSA_BYTES_MAX 2048  /* 16384-bit modulus */

static int b64val(unsigned char c)
{
	if (c >= 'A' && c <= 'Z')
		return c - 'A';
	if (c >= 'a' && c <= 'z')
		return c - 'a' + 26;
	if (c >= '0' && c <= '9')
		return c - '0' + 52;
	if (c == '-')
		return 62;
	if (c == '_')
		return 63;
	return -1;
}

int cl_b64url_decode(const char *in, size_t n, unsigned char *out, size_t cap, size_t *outlen)
{
	uint32_t acc = 0;
	size_t o = 0;
	int bits = 0;

	*outlen = 0;
	if (n % 4 == 1)
		return cl_error_set(CL_EINVAL, "base64url of a length no encoding has");
	if (n / 4 * 3 + (n % 4 ? n % 4 - 1 : 0) > cap)
		return cl_error_set(CL_EINVAL, "base64url longer than allowed");
	for (size_t i = 0; i < n; i++) {
		int v = b64val((unsigned char)in[i]);

		if (v < 0)
			return cl_error_set(CL_EINVAL, "a character that is not base64url (padding "
					    "and '+' '/' are not allowed)");
		acc = (acc << 6) | (uint32_t)v;
		bits += 6;
		if (bits >= 8) {
			bits -= 8;
			out[o++] = (unsigned char)(acc >> bits);
			acc &= (1u << bits) - 1;
		}
	}
	if (acc != 0)
		return cl_error_set(CL_EINVAL, "base64url with stray low bits at its end");
	*outlen = o;
	return CL_OK;
}

/* Decodes the base64url string member `name` of a JWK into a new buffer. */
static int member_bytes(json_t *jwk, const char *name, size_t max, unsigned char **out,
			size_t *len)
{
	const char *s = json_string_value(json_object_get(jwk, name));
	unsigned char *buf;
	int rc;

	*out = NULL;
	if (!s)
		return cl_error_set(CL_EINVAL, "no '%s'", name);
	buf = cl_malloc(max ? max : 1);
	if (!buf)
		return cl_error_set(CL_ENOMEM, "no memory for a key");
	rc = cl_b64url_decode(s, strlen(s), buf, max, len);
	if (rc || *len == 0) {
		cl_free(buf);
		return cl_error_set(CL_EINVAL, "'%s' is not base64url of 1 to %zu bytes", name, max);
	}
	*out = buf;
	return CL_OK;
}

/* Makes the EVP_PKEY of params (RSA or EC) and checks it. */
static int pkey_from(const char *type, OSSL_PARAM *params, EVP_PKEY **out)
{
	EVP_PKEY_CTX *ctx = EVP_PKEY_CTX_new_from_name(NULL, type, NULL);
	EVP_PKEY_CTX *chk = NULL;
	EVP_PKEY *pk = NULL;
	int ok = ctx && EVP_PKEY_fromdata_init(ctx) == 1 &&
		 EVP_PKEY_fromdata(ctx, &pk, EVP_PKEY_PUBLIC_KEY, params) == 1;

	if (ok) {
		chk = EVP_PKEY_CTX_new_from_pkey(NULL, pk, NULL);
		ok = chk && EVP_PKEY_public_check(chk) == 1;
	}
	EVP_PKEY_CTX_free(chk);
	EVP_PKEY_CTX_free(ctx);
	ERR_clear_error();
	if (!ok) {
		EVP_PKEY_free(pk);
		return cl_error_set(CL_EINVAL, "OpenSSL refuses it as a %s public key", type);
	}
	*out = pk;
	return CL_OK;
}

static int rsa_key(json_t *jwk, EVP_PKEY **out)
{
	unsigned char *n = NULL, *e = NULL;
	size_t nl = 0, el = 0;
	BIGNUM *bn = NULL, *be = NULL;
	OSSL_PARAM_BLD *bld = NULL;
	OSSL_PARAM *params = NULL;
	int rc = member_bytes(jwk, "n", RSA_BYTES_MAX, &n, &nl);

	if (rc == CL_OK)
		rc = member_bytes(jwk, "e", 8, &e, &el);
	if (rc == CL_OK) {
		bn = BN_bin2bn(n, (int)nl, NULL);
		be = BN_bin2bn(e, (int)el, NULL);
		bld = OSSL_PARAM_BLD_new();
		if (!bn || !be || !bld || !OSSL_PARAM_BLD_push_BN(bld, OSSL_PKEY_PARAM_RSA_N, bn) ||
		    !OSSL_PARAM_BLD_push_BN(bld, OSSL_PKEY_PARAM_RSA_E, be) ||
		    !(params = OSSL_PARAM_BLD_to_param(bld)))
			rc = cl_error_set(CL_ENOMEM, "no memory for an RSA key");
	}
	if (rc == CL_OK && BN_num_bits(bn) < RSA_BITS_MIN)
		rc = cl_error_set(CL_EINVAL, "an RSA key of %d bits (at least %d are needed)",
				  BN_num_bits(bn), RSA_BITS_MIN);
	if (rc == CL_OK)
		rc = pkey_from("RSA", params, out);
	OSSL_PARAM_free(params);
	OSSL_PARAM_BLD_free(bld);
	BN_free(bn);
	BN_free(be);
	cl_free(n);
	cl_free(e);
	return rc;
}

static int ec_key(json_t *jwk, EVP_PKEY **out)
{
	const char *crv = json_string_value(json_object_get(jwk, "crv"));
	unsigned char *x = NULL, *y = NULL, point[65];
	size_t xl = 0, yl = 0;
	char group[] = "prime256v1";
	OSSL_PARAM params[3];
	int rc;

	if (!crv || strcmp(crv, "P-256") != 0)
		return cl_error_set(CL_ENOTSUP, "an EC key not on curve P-256");
	rc = member_bytes(jwk, "x", 32, &x, &xl);
	if (rc == CL_OK)
		rc = member_bytes(jwk, "y", 32, &y, &yl);
	if (rc == CL_OK && (xl != 32 || yl != 32))
		rc = cl_error_set(CL_EINVAL, "a P-256 key's x and y are 32 bytes each");
	if (rc == CL_OK) {
		point[0] = 0x04;  /* uncompressed: x then y */
		memcpy(point + 1, x, 32);
		memcpy(point + 33, y, 32);
		params[0] = OSSL_PARAM_construct_utf8_string(OSSL_PKEY_PARAM_GROUP_NAME, group, 0);
		params[1] = OSSL_PARAM_construct_octet_string(OSSL_PKEY_PARAM_PUB_KEY, point,
							      sizeof(point));
		params[2] = OSSL_PARAM_construct_end();
		rc = pkey_from("EC", params, out);
	}
	cl_free(x);
	cl_free(y);
	return rc;
}

/* Parses one JWK into k; CL_ENOTSUP for a key not meant for RS256/ES256
 * signatures, CL_EINVAL for a malformed one. */
static int parse_key(json_t *jwk, struct cl_jwk *k)
{
	const char *kty = json_string_value(json_object_get(jwk, "kty"));
	const char *use = json_string_value(json_object_get(jwk, "use"));
	const char *alg = json_string_value(json_object_get(jwk, "alg"));
	json_t *kid = json_object_get(jwk, "kid");
	int rc;

	memset(k, 0, sizeof(*k));
	if (!json_is_object(jwk))
		return cl_error_set(CL_EINVAL, "not a JSON object");
	if (!kty)
		return cl_error_set(CL_EINVAL, "no 'kty'");
	if (use && strcmp(use, "sig") != 0)
		return cl_error_set(CL_ENOTSUP, "a key for use '%.16s', not 'sig'", use);
	if (kid && (!json_is_string(kid) || json_string_length(kid) >= sizeof(k->kid)))
		return cl_error_set(CL_EINVAL, "a 'kid' that is not a string of at most %zu bytes",
				    sizeof(k->kid) - 1);
	if (kid)
		memcpy(k->kid, json_string_value(kid), json_string_length(kid) + 1);
	k->has_kid = kid != NULL;
	if (strcmp(kty, "RSA") == 0) {
		if (alg && strcmp(alg, "RS256") != 0)
			return cl_error_set(CL_ENOTSUP, "an RSA key for alg '%.16s'", alg);
		k->alg = CL_JWT_RS256;
		rc = rsa_key(jwk, &k->pkey);
	} else if (strcmp(kty, "EC") == 0) {
		if (alg && strcmp(alg, "ES256") != 0)
			return cl_error_set(CL_ENOTSUP, "an EC key for alg '%.16s'", alg);
		k->alg = CL_JWT_ES256;
		rc = ec_key(jwk, &k->pkey);
	} else {
		return cl_error_set(CL_ENOTSUP, "a key of kty '%.16s' (RSA and EC are used)", kty);
	}
	return rc;
}

int cl_jwks_parse(const char *text, size_t len, struct cl_jwks **out)
{
	json_error_t err;
	json_t *doc = json_loadb(text, len, JSON_REJECT_DUPLICATES, &err), *keys, *jwk;
	struct cl_jwks *set;
	char first[200] = "";
	size_t i;

	*out = NULL;
	if (!doc)
		return cl_error_set(CL_EINVAL, "the JWKS is not JSON (line %d: %s)", err.line,
				    err.text);
	keys = json_object_get(doc, "keys");
	if (!json_is_array(keys)) {
		json_decref(doc);
		return cl_error_set(CL_EINVAL, "the JWKS is not an object with a 'keys' array");
	}
	if (json_array_size(keys) > JWKS_KEYS_MAX) {
		json_decref(doc);
		return cl_error_set(CL_EINVAL, "the JWKS holds more than %d keys", JWKS_KEYS_MAX);
	}
	set = cl_calloc(1, sizeof(*set) + json_array_size(keys) * sizeof(set->k[0]));
	if (!set) {
		json_decref(doc);
		return cl_error_set(CL_ENOMEM, "no memory for the JWKS");
	}
	atomic_init(&set->refs, 1);
	json_array_foreach(keys, i, jwk) {
		int rc = parse_key(jwk, &set->k[set->n]);

		if (rc == CL_OK) {
			set->n++;
		} else if (rc == CL_ENOMEM) {
			json_decref(doc);
			cl_jwks_free(set);
			return rc;
		} else if (!first[0]) {
			snprintf(first, sizeof(first), "key %zu: %s", i + 1, cl_error_detail());
		}
	}
	json_decref(doc);
	if (set->n == 0) {
		cl_jwks_free(set);
		return cl_error_set(CL_EINVAL, "the JWKS holds no RS256 or ES256 signing key%s%s",
				    first[0] ? "; " : "", first);
	}
	*out = set;
	return CL_OK;
}

void cl_jwks_free(struct cl_jwks *k)
{
	if (!k || atomic_fetch_sub(&k->refs, 1) != 1)
		return;
	for (size_t i = 0; i < k->n; i++)
		EVP_PKEY_free(k->k[i].pkey);
	cl_free(k);
}

size_t cl_jwks_count(const struct cl_jwks *k)
{
	return k ? k->n : 0;
}

struct cl_jwks *cl_jwks_hold(struct cl_jwks *k)
{
	if (k)
		atomic_fetch_add(&k->refs, 1);
	return k;
}
