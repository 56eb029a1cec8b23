/*
 * Authentication of requests. See cl_auth.h.
 */
#include "cl_auth.h"
#include "auth/cl_jwt.h"
#include "core/cl_error.h"
#include "core/cl_log.h"
#include "core/cl_mem.h"
#include "core/cl_time.h"

#include <string.h>
#include <strings.h>

struct cl_auth {
	struct cl_tokens *tokens;
	struct cl_jwt_verifier *jwt;  /* NULL: OpenID Connect off */
};

int cl_auth_open(const char *data_dir, struct cl_auth **out, int *created)
{
	struct cl_auth *a = cl_calloc(1, sizeof(*a));
	int rc;

	if (!a)
		return cl_error_set(CL_ENOMEM, "no memory for tokens");
	rc = cl_tokens_open(data_dir, &a->tokens, created);
	if (rc) {
		cl_free(a);
		return rc;
	}
	*out = a;
	return CL_OK;
}

void cl_auth_close(struct cl_auth *a)
{
	if (!a)
		return;
	cl_tokens_close(a->tokens);
	cl_jwt_verifier_close(a->jwt);
	cl_free(a);
}

int cl_auth_use_oidc(struct cl_auth *a, const struct cl_config *cfg)
{
	return cl_jwt_verifier_open(cfg, &a->jwt);
}

const char *cl_auth_admin_token_path(const struct cl_auth *a)
{
	return cl_tokens_admin_path(a->tokens);
}

void cl_auth_save_usage(struct cl_auth *a)
{
	if (a && cl_tokens_save_usage(a->tokens) != CL_OK)
		cl_log_warn("auth", "event=usage_not_saved detail=%s", CL_LOG_Q(cl_error_detail()));
}

int cl_auth_check(struct cl_auth *a, const char *header, struct cl_principal *p)
{
	const char *tok;
	size_t len;

	if (!header || !*header)
		return cl_error_set(CL_EINVAL, "missing 'Authorization: Bearer <token>' header");
	if (strncasecmp(header, "Bearer ", 7) != 0)
		return cl_error_set(CL_EINVAL, "the Authorization header must be 'Bearer <token>'");
	tok = header + 7;
	while (*tok == ' ')
		tok++;
	len = strlen(tok);
	while (len > 0 && tok[len - 1] == ' ')
		len--;
	if (len == 0)
		return cl_error_set(CL_EINVAL, "the bearer token is empty");
	if (a->jwt && cl_jwt_looks_like(tok, len))
		return cl_jwt_check(a->jwt, tok, len, cl_time_now_us(), p);
	return cl_tokens_check(a->tokens, tok, len, cl_time_now_us(), p);
}
