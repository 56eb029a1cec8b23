/*
 * Alert webhooks: every alert opened or closed, and every acknowledgement
 * ("state":"acknowledged"), is POSTed as JSON to `webhook.url` (libcurl), retried with exponential backoff up to
 * `webhook.attempts` times; what still fails is appended, with the reason,
 * to <data>/alerts/webhook-dead-letter.ndjson (fsynced), so it is never
 * lost silently. Delivery runs on its own thread: a slow receiver never
 * delays the stream processor.
 *
 * The receiver sees what `webhook.role` may see, as a stream subscriber
 * of that role would (cl_api_stream.c): a clinician receiver every
 * clinical alert; an engineer receiver only alerts of no patient (a
 * pipeline that failed); a compliance receiver only access alerts (a
 * clinician broke the glass, cl_store_access.h); an admin receiver all of
 * them. An alert withheld from it is passed over, uncounted as
 * delivered (carelake_webhook_withheld_total).
 *
 * It reads the alert outbox from its own cursor, "webhook"
 * (cl_store_outbox.h), beside Kafka out's.
 */
#ifndef CL_WEBHOOK_H
#define CL_WEBHOOK_H

#include "core/cl_config.h"

#include <stddef.h>
#include <stdint.h>

struct cl_webhook;

/* The webhook.* settings. */
struct cl_webhook_settings {
	char url[CL_CFG_STRING_MAX];     /* webhook.url, "" = off */
	uint32_t attempts;              /* webhook.attempts */
	int64_t backoff_us;             /* webhook.backoff */
	int64_t timeout_us;             /* webhook.timeout */
	char role[CL_CFG_STRING_MAX];   /* webhook.role: clinician, admin, engineer, compliance */
};

extern const struct cl_config_section cl_webhook_section;
const struct cl_webhook_settings *cl_webhook_settings(const struct cl_config *c);

struct cl_webhook_stats {
	uint64_t delivered, retries, dead_lettered, queued, withheld;
};

/* Starts delivering the outbox of data_dir as ws says. CL_EINVAL naming
 * the setting when the URL or the role is not one it can use. */
int cl_webhook_start(const struct cl_webhook_settings *ws, const char *data_dir,
		     struct cl_webhook **out);

/* New entries are in the outbox (cheap; NULL: no-op). */
void cl_webhook_poke(struct cl_webhook *w);

/* Delivers what is in the outbox while the receiver answers, then stops;
 * the rest waits in the outbox for the next start. NULL: no-op. */
void cl_webhook_stop(struct cl_webhook *w);

void cl_webhook_stats(struct cl_webhook *w, struct cl_webhook_stats *st);

/* Renders the webhook's deliveries for /metrics. */
struct cl_prom;
void cl_webhook_metrics(struct cl_webhook *w, struct cl_prom *p);

#endif
