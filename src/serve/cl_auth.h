/*
 * Who is calling: the authentication step of every request that needs a
 * token. An Authorization header "Bearer <token>" (the scheme in any
 * case) is checked against carelake's own tokens (auth/cl_tokens.h), or,
 * when it has the shape of a JWT and auth.oidc.issuer is set, as an
 * OpenID Connect token (auth/cl_jwt.h); the principal it names is what the authorization check (cl_route.c) and the
 * audit trail see. No error detail ever holds the token.
 */
#ifndef CL_AUTH_H
#define CL_AUTH_H

#include "auth/cl_tokens.h"
#include "core/cl_config.h"

#include <stddef.h>

struct cl_auth;

/*
 * Opens the token store of data_dir, making the admin token if there is
 * none yet (*created is then 1).
 */
int cl_auth_open(const char *data_dir, struct cl_auth **out, int *created);
void cl_auth_close(struct cl_auth *a);

/*
 * Accepts OpenID Connect JWTs as cfg's auth.oidc.* settings say (nothing
 * when auth.oidc.issuer is empty). CL_EINVAL naming the setting that is
 * wrong: serve refuses to start.
 */
int cl_auth_use_oidc(struct cl_auth *a, const struct cl_config *cfg);

/*
 * Checks an Authorization header value ("Bearer <token>"). Returns 0 and
 * fills p, or CL_EINVAL with a detail that never contains the token.
 */
int cl_auth_check(struct cl_auth *a, const char *header, struct cl_principal *p);

/* Writes when each token was last used (now and then, and at stop). */
void cl_auth_save_usage(struct cl_auth *a);

/* The path of the admin token file. */
const char *cl_auth_admin_token_path(const struct cl_auth *a);

#endif
