/*
 * Slowing down guessing: authentication failures (401) counted per client
 * address. After http.auth_failures of them within
 * http.auth_failure_window, the address gets 429 with Retry-After on
 * every route that needs a token until the window has passed since its
 * last failure that counted. Public routes (/healthz, /metrics) stay open.
 *
 * The table has a fixed number of slots (no client can make it grow): an
 * address whose window has passed gives its slot to a new one, and when
 * every slot is busy the one failed longest ago is reused.
 */
#ifndef CL_AUTHLIMIT_H
#define CL_AUTHLIMIT_H

#include <stdint.h>

struct cl_authlimit;

/* max failures within window_us; CL_ENOMEM. */
int cl_authlimit_create(uint32_t max, int64_t window_us, struct cl_authlimit **out);
void cl_authlimit_destroy(struct cl_authlimit *l);

/* 0 when client may try; else the seconds it must wait (Retry-After). */
int64_t cl_authlimit_blocked(struct cl_authlimit *l, const char *client, int64_t now_us);

/* Counts a failure of client at now_us. */
void cl_authlimit_failed(struct cl_authlimit *l, const char *client, int64_t now_us);

#endif
