/*
 * Fuzz target: the query of GET /fhir/AuditEvent (outside input: any
 * client with a token may send it). The input is a query string,
 * name=value pairs split at '&' and '=' as libmicrohttpd hands them over
 * (already percent-decoded); each goes through cl_audit_fhir_param into
 * one filter, then the filter runs over a small trail made at start.
 * Properties: every parameter is accepted or refused with a detail saying
 * why; an accepted filter holds only the codes FHIR allows (action C R U
 * D E, outcome 0 4 8), _count stays within 0..10000, and a date range it
 * sets runs forward; the search over it never fails.
 */
#include "fuzz_entry.h"
#include "cl_test.h"

#include "audit/cl_audit.h"
#include "audit/cl_audit_fhir.h"
#include "audit/cl_audit_read.h"
#include "core/cl_error.h"
#include "core/cl_log.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static char dir[256], keys[300];

static void cleanup(void)
{
	cl_test_rmtree(dir);
	cl_test_rmtree(keys);
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	static const char *const actions[] = { "read", "search", "break-glass", "ack" };
	const char *patients[] = { "p-1" };
	struct cl_audit_options o;
	struct cl_audit *a;

	(void)argc;
	(void)argv;
	cl_log_threshold = CL_LOG_ERROR - 1;
	snprintf(dir, sizeof(dir), "/tmp/fuzz-audit-query-%d", (int)getpid());
	snprintf(keys, sizeof(keys), "%s.keys", dir);
	mkdir(dir, 0700);
	atexit(cleanup);
	cl_audit_options_from(&o, NULL, keys);
	if (cl_audit_open(dir, "fuzz", &o, &a) != CL_OK)
		abort();
	for (int i = 0; i < 8; i++) {
		struct cl_audit_record r = { .principal = "tk1", .role = "clinician",
					     .action = actions[i % 4], .resource_type = "vitals",
					     .patients = patients, .npatients = 1,
					     .status = i % 3 ? 200 : 403 };

		if (cl_audit_append_sync(a, &r) != CL_OK)
			abort();
	}
	cl_audit_close(a);
	return 0;
}

static int count_one(void *arg, const struct cl_audit_entry *e)
{
	(void)e;
	(*(size_t *)arg)++;
	return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct cl_audit_filter f = { 0 };
	size_t count = 100, n = 0;
	char *q = malloc(size + 1), *save = NULL;

	if (!q)
		return 0;
	memcpy(q, data, size);
	q[size] = '\0';
	for (char *pair = strtok_r(q, "&", &save); pair; pair = strtok_r(NULL, "&", &save)) {
		char *eq = strchr(pair, '=');
		const char *value = "";
		int rc;

		if (eq) {
			*eq = '\0';
			value = eq + 1;
		}
		rc = cl_audit_fhir_param(&f, &count, pair, value);
		if (rc != CL_OK && rc != CL_EINVAL && rc != CL_ENOTSUP)
			abort();
		if (rc != CL_OK && cl_error_detail()[0] == '\0')
			abort(); /* a refusal says why */
		if (rc != CL_OK)
			break;
	}
	if (f.fhir_action && !strchr("CRUDE", f.fhir_action))
		abort();
	if (f.fhir_outcome && !strchr("048", f.fhir_outcome))
		abort();
	if (count > 10000)
		abort();
	if (cl_audit_search(dir, &f, count_one, &n) != CL_OK || n > 8)
		abort();
	free(q);
	return 0;
}
