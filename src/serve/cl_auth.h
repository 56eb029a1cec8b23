/*
 * API tokens.
 *
 * A token is "clk_" followed by 64 hex digits (256 random bits). Only its
 * BLAKE2b-256 hash is kept, in <data>/auth/tokens, one per line:
 *   v1 <name> <role> <64 hex digits of the hash>
 * On first start an admin token is created and written, once, to
 * <data>/admin.token (mode 0600) for the operator to pick up. Roles are in
 * the file from the start so device and per-user tokens fit later; today
 * every valid token may use every endpoint.
 */
#ifndef CL_AUTH_H
#define CL_AUTH_H

#include <stddef.h>

struct cl_auth;

/* What a valid token says about its bearer. */
struct cl_principal {
	char name[65];
	char role[33];
};

/*
 * Loads the token hashes of data_dir, creating the admin token if there
 * is none yet (*created is then 1).
 */
int cl_auth_open(const char *data_dir, struct cl_auth **out, int *created);
void cl_auth_close(struct cl_auth *a);

/*
 * Checks an Authorization header value ("Bearer <token>"). Returns 0 and
 * fills p, or CL_EINVAL with a detail that never contains the token.
 */
int cl_auth_check(struct cl_auth *a, const char *header, struct cl_principal *p);

/* The path of the admin token file. */
const char *cl_auth_admin_token_path(const struct cl_auth *a);

#endif
