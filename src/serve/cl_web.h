/*
 * What the dashboards' routes share (cl_api_web.c, cl_api_oidc.c).
 */
#ifndef CL_WEB_H
#define CL_WEB_H

#include "cl_req.h"
#include "auth/cl_tokens.h"

#include <jansson.h>
#include <stdint.h>

/* The headers every page and file carries: the Content-Security-Policy,
 * nosniff, no referrer. */
void cl_web_security_headers(struct cl_req *r);

/* The session's principal as the pages need it: its role, the patient
 * it is bound to (when it is), and the pages it may open. */
json_t *cl_web_whoami(const struct cl_principal *p);

/* 1 when the browser reaches carelake over TLS (web.secure_cookie, or a
 * TLS proxy's X-Forwarded-Proto: https): cookies go Secure. */
int cl_web_secure(const struct cl_req *r);

/* The session cookie set to value for max_age_s (0: cleared):
 * HttpOnly, SameSite=Strict, Path=/, Secure as cl_web_secure says. */
void cl_web_set_cookie(struct cl_req *r, const char *value, int64_t max_age_s);

/* The first page p may open ("/" when none). */
const char *cl_web_first_page(const struct cl_principal *p);

#endif
