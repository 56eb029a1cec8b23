/*
 * The stream.* settings section, and the stream processor's options made
 * from a configuration (its settings, the alert rules, the bronze record
 * limit). See cl_stream.h.
 */
#include "cl_stream.h"
#include "bronze/cl_bronze.h"
#include "core/cl_config.h"
#include "core/cl_error.h"

#include <stddef.h>
#include <stdio.h>
#include <string.h>

#define SEC 1000000ll
#define F(field) offsetof(struct cl_stream_settings, field)

static const struct cl_config_entry stream_entries[] = {
	{ "windows", CL_CFG_STRING, "1m=tumbling:1m,1h=tumbling:1h", 0, 0, F(windows),
	  "rollup windows per patient and vital: NAME=KIND:SIZE[/HOP], KIND tumbling, "
	  "hopping (SIZE/HOP), sliding or session (SIZE is the gap)", NULL },
	{ "lateness", CL_CFG_DURATION, "30s", 0, 86400 * SEC, F(lateness_us),
	  "how far behind the latest event time an event may arrive before its windows close "
	  "(a later one corrects them)", NULL },
	{ "idle_flush", CL_CFG_DURATION, "5s", 0, 3600 * SEC, F(idle_flush_us),
	  "the idle timeout: after this long without events, wall-clock time minus the "
	  "lateness closes windows, so a silent device's last one becomes final", NULL },
	{ "retrospective_after", CL_CFG_DURATION, "5m", 0, 7 * 86400 * SEC,
	  F(retrospective_after_us),
	  "an alert confirmed by readings this much older than the clock when they arrive (a "
	  "device's backlog) is paged only if its episode is still going once the data catch up, "
	  "else recorded as retrospective; 0 never (a patient's readings older than their latest "
	  "by more than the lateness always are)", NULL },
	{ "batch_records", CL_CFG_U32, "20000", 1, 10000000, F(batch_records),
	  "most bronze records the stream processor applies per step (per log)", NULL },
	{ "bulk_lag", CL_CFG_U32, "0", 0, 10000000, F(bulk_lag),
	  "bodies of 64 KiB or more (a gateway's batch) with current readings are answered "
	  "503 with Retry-After while the stream processor is more than this many records "
	  "behind what the live logs (vitals, fhir) have taken, so live readings do not queue "
	  "behind large bodies of current readings (bodies of old readings only go to their "
	  "own lane, ingest.backlog_after, and are taken); 0: only while the serving store's "
	  "writer is behind", NULL },
	{ "reference", CL_CFG_STRING, "", 0, 0, F(reference),
	  "JSON file of patient id -> {ward, bed, attending, device_owner}; alerts and live "
	  "vitals carry them", NULL },
	{ "device_owner", CL_CFG_STRING, "clinical-engineering", 0, 0, F(device_owner),
	  "who technical alerts (probe off, lead off, poor signal, device silent) go to when the "
	  "reference data names no device_owner for the patient", NULL },
	{ "live_alerts", CL_CFG_CHOICE, "written", 0, 0, F(live_alerts),
	  "when an alert goes out live (the event stream): as soon as its events are written "
	  "(written), or only once they are durable, after their fdatasync (durable); webhooks "
	  "and Kafka always wait for durability", "written|durable" },
};

const struct cl_config_section cl_stream_section = {
	.name = "stream",
	.entries = stream_entries,
	.nentries = sizeof(stream_entries) / sizeof(stream_entries[0]),
	.size = sizeof(struct cl_stream_settings),
};

const struct cl_stream_settings *cl_stream_settings(const struct cl_config *c)
{
	return cl_config_get(c, &cl_stream_section);
}

int cl_stream_options_from_config(struct cl_stream_options *o, const struct cl_config *c)
{
	const struct cl_stream_settings *ss = cl_stream_settings(c);
	int rc;

	cl_stream_options_default(o);
	o->lateness_us = ss->lateness_us;
	o->idle_flush_us = ss->idle_flush_us;
	o->retrospective_after_us = ss->retrospective_after_us;
	o->batch_records = ss->batch_records;
	o->bulk_lag = ss->bulk_lag;
	o->record_max_bytes = cl_bronze_settings(c)->record_max_bytes;
	snprintf(o->reference_path, sizeof(o->reference_path), "%s", ss->reference);
	snprintf(o->device_owner, sizeof(o->device_owner), "%s", ss->device_owner);
	o->live_after_durable = strcmp(ss->live_alerts, "durable") == 0;
	rc = cl_stream_parse_windows(ss->windows, o);
	if (rc == CL_OK)
		rc = cl_config_list(c, &cl_rules_section, o->rules, &o->nrules, 1);
	if (rc == CL_OK) {
		int n;

		rc = cl_config_list(c, &cl_quality_section, o->quality, &n, 1);
	}
	return rc;
}
