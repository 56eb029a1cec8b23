/*
 * carelake's own API tokens, and the principal a request acts as.
 *
 * A token is "clk_" followed by 64 hex digits (256 random bits). Only its
 * BLAKE2b-256 hash is kept, in <data>/auth/tokens, one JSON object a line
 * with its id, name, role, binding (a patient, wards, a device), when it
 * was made, when it expires and when it was revoked, and the mosquitto
 * password file a device token was written to; lines of the first
 * format ("v1 NAME ROLE HASH") are still read. The secret is shown once,
 * when it is issued, and never again. A running server sees a revocation
 * or a new token at its next request: the commands that rewrite the
 * file count the change in shared memory, the server reads the file
 * again when the count moved (and looks at it once a second for a hand
 * edit).
 *
 * On first start an admin token is made and written, once, to
 * <data>/admin.token (mode 0600) for the operator to pick up.
 */
#ifndef CL_TOKENS_H
#define CL_TOKENS_H

#include "auth/cl_access.h"

#include <stddef.h>
#include <stdint.h>

#define CL_PRINCIPAL_ID_MAX 128
#define CL_WARDS_MAX 256
#define CL_TOKEN_FILE_MAX 1024

/* Who a request acts as. */
struct cl_principal {
	char id[CL_PRINCIPAL_ID_MAX + 1];    /* token id, or an OpenID Connect `sub` */
	char name[65];                       /* the token's name (token id for a JWT) */
	enum cl_role role;
	char patient[CL_PRINCIPAL_ID_MAX + 1]; /* bound to this patient ("": none) */
	char device[CL_PRINCIPAL_ID_MAX + 1];  /* bound to this device ("": none) */
	char wards[CL_WARDS_MAX];            /* limited to these wards, by ',' ("": all) */
	char scope[512];                     /* SMART scopes of a JWT ("": none) */
	int jwt;                             /* from an OpenID Connect token */
};

/* A token as `carelake token list` shows it (never its secret). */
struct cl_token_info {
	char id[17];                 /* "tk" and 14 hex digits */
	char name[65];
	enum cl_role role;
	char patient[CL_PRINCIPAL_ID_MAX + 1];
	char device[CL_PRINCIPAL_ID_MAX + 1];
	char wards[CL_WARDS_MAX];
	int64_t created_us;
	int64_t expires_us;          /* 0: never */
	int64_t revoked_us;          /* 0: not revoked */
	int64_t last_used_us;        /* 0: not since usage was last written */
	char broker_passwd[CL_TOKEN_FILE_MAX]; /* a device token's mosquitto password
						* file, an absolute path ("": none) */
};

struct cl_tokens;

/* Loads the tokens of data_dir, making the admin token if there is none
 * yet (*created is then 1). */
int cl_tokens_open(const char *data_dir, struct cl_tokens **out, int *created);
void cl_tokens_close(struct cl_tokens *t);

/* The path of the admin token file. */
const char *cl_tokens_admin_path(const struct cl_tokens *t);

/*
 * Checks a bearer token (the text after "Bearer "). 0 and *p; CL_EINVAL
 * with a reason that never holds the token: unknown, malformed, revoked or
 * expired (now_us). Thread-safe.
 */
int cl_tokens_check(struct cl_tokens *t, const char *token, size_t len, int64_t now_us,
		    struct cl_principal *p);

/* Writes when each token was last used to <data>/auth/last_used (the
 * server does it now and then; `token list` reads it). */
int cl_tokens_save_usage(struct cl_tokens *t);

/*
 * Issues a token as spec says (role, name, binding, expiry; id and times
 * are made here), appending it to data_dir's tokens file under its lock.
 * The secret goes to token[cap] (at least 69 bytes) and nowhere else;
 * spec->id is filled. A device token with spec->broker_passwd also sets
 * its device's line in that mosquitto password file (auth/cl_broker_passwd:
 * the token is the device's MQTT password, replacing any earlier one);
 * when that fails, no token is issued.
 */
int cl_tokens_issue(const char *data_dir, struct cl_token_info *spec, char *token, size_t cap);

/* Every token of data_dir, newest last (cl_free *out). */
int cl_tokens_list(const char *data_dir, struct cl_token_info **out, size_t *n);

/*
 * Revokes the token with that id: CL_ENOENT if there is none, CL_EEXIST
 * if it was revoked before. A token issued with a broker password file
 * also loses its line there, unless a later token of the same device
 * replaced it (that line is the later token's). *done (may be NULL) gets
 * the token once it is revoked (else it is left as it was), its
 * broker_passwd the file a line was removed from ("" when none was).
 * CL_EIO when the line could not be removed: the token is revoked all the
 * same, and the message says what to do.
 */
int cl_tokens_revoke(const char *data_dir, const char *id, int64_t now_us,
		     struct cl_token_info *done);

#endif
