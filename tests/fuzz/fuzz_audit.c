/*
 * Fuzz target: the audit trail's readers of files from disk (outside
 * input: the files can be edited, shipped and brought back). The input is
 * written as the trail's only file; then verify, the search, the FHIR
 * form of every record, and open's recovery (which may cut a torn tail)
 * run on it. Properties: a line that decodes re-encodes to the same
 * bytes' hash (decode checked it); verify's verdict names a line when it
 * fails; recovery leaves a file that ends in a whole line, and a trail
 * that verify passed still passes after recovery.
 */
#include "fuzz_entry.h"
#include "audit/cl_audit.h"
#include "audit/cl_audit_fhir.h"
#include "audit/cl_audit_read.h"
#include "core/cl_error.h"
#include "core/cl_log.h"

#include <fcntl.h>
#include <ftw.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static char dir[256], keys[300], seg[300], pub[300];

static int each(void *arg, const struct cl_audit_entry *e)
{
	json_t *ev = cl_audit_fhir_event(e);

	(void)arg;
	if (!ev)
		abort();
	json_decref(ev);
	return 0;
}

static int rm_entry(const char *p, const struct stat *st, int f, struct FTW *w)
{
	(void)st;
	(void)f;
	(void)w;
	return remove(p);
}

/* The temporary trail and keys go when the fuzzer exits. */
static void cleanup(void)
{
	nftw(dir, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
	nftw(keys, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	struct cl_audit_options o;
	struct cl_audit *a;

	(void)argc;
	(void)argv;
	cl_log_threshold = CL_LOG_ERROR - 1;
	snprintf(dir, sizeof(dir), "/tmp/fuzz-audit-%d", (int)getpid());
	snprintf(keys, sizeof(keys), "%s.keys", dir);
	snprintf(seg, sizeof(seg), "%s/audit-000001.jsonl", dir);
	snprintf(pub, sizeof(pub), "%s/signing.pub", dir);
	mkdir(dir, 0700);
	atexit(cleanup);
	/* made once: the key and signing.pub */
	cl_audit_options_from(&o, NULL, keys);
	if (cl_audit_open(dir, "fuzz", &o, &a) != CL_OK)
		abort();
	cl_audit_close(a);
	return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct cl_audit_filter all = { 0 };
	struct cl_audit_verify v, v2;
	struct cl_audit_options o;
	struct cl_audit *a;
	struct stat st;
	char head[320];
	FILE *f;
	int rc;

	snprintf(head, sizeof(head), "%s/head.json", dir);
	unlink(head);
	f = fopen(seg, "w");
	if (!f)
		abort();
	fwrite(data, 1, size, f);
	fclose(f);

	rc = cl_audit_verify(dir, NULL, &v);
	if (rc != CL_OK)
		abort();
	if (!v.ok && v.problem[0] == '\0')
		abort(); /* a failure always says what */
	rc = cl_audit_search(dir, &all, each, NULL);
	if (rc != CL_OK)
		abort();

	cl_audit_options_from(&o, NULL, keys);
	rc = cl_audit_open(dir, "fuzz", &o, &a);
	if (rc == CL_OK) {
		cl_audit_close(a);
		if (stat(seg, &st) != 0)
			abort();
		if (st.st_size > 0) {
			char c;
			int fd = open(seg, O_RDONLY);

			if (pread(fd, &c, 1, st.st_size - 1) != 1 || c != '\n')
				abort(); /* recovery leaves whole lines only */
			close(fd);
		}
		if (v.ok) {
			if (cl_audit_verify(dir, NULL, &v2) != CL_OK || !v2.ok)
				abort(); /* an intact trail stays intact */
		}
	} else if (cl_error_detail()[0] == '\0') {
		abort();
	}
	return 0;
}
