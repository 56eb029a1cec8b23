/*
 * What cl_jwks.c and cl_jwt.c share of a key set: its keys as OpenSSL
 * holds them. Not for use outside src/auth.
 */
#ifndef CL_JWKS_INT_H
#define CL_JWKS_INT_H

#include "cl_jwt.h"

#include <openssl/evp.h>
#include <stdatomic.h>

enum cl_jwt_alg {
	CL_JWT_RS256 = 1,
	CL_JWT_ES256,
};

/* One usable key of a set. */
struct cl_jwk {
	char kid[128];          /* its kid ("" with has_kid 0: none) */
	int has_kid;
	enum cl_jwt_alg alg;    /* the alg it verifies (from its kty) */
	EVP_PKEY *pkey;
};

struct cl_jwks {
	atomic_int refs;        /* holders; the last cl_jwks_free frees it */
	size_t n;
	struct cl_jwk k[];
};

/* One more holder of k (released by cl_jwks_free); returns k. */
struct cl_jwks *cl_jwks_hold(struct cl_jwks *k);

#endif
