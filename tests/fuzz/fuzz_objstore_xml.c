/*
 * Fuzz target: what an object store answers in XML — a listing page (S3
 * ListObjectsV2 or V1, Azure List Blobs) and an error body. Whatever the
 * bytes, a page parses into objects with a non-empty key, a size that is
 * not negative and a hex MD5 of 32 characters or none, or is refused with
 * CL_EPARSE; an error body gives a one-line code and message or CL_EPARSE;
 * nothing is fetched (no network) and memory is freed either way.
 */
#include "fuzz_entry.h"
#include "core/cl_error.h"
#include "objstore/cl_objstore_xml.h"

#include <libxml/parser.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc;
	(void)argv;
	xmlInitParser();
	return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct cl_os_page page = { 0 };
	char code[128], msg[512];
	int rc = cl_os_xml_page((const char *)data, size, &page);

	if (rc != CL_OK && rc != CL_EPARSE && rc != CL_ENOMEM)
		abort();
	if (rc == CL_OK) {
		for (size_t i = 0; i < page.n; i++) {
			size_t m = strlen(page.items[i].md5);

			if (!page.items[i].key[0] || page.items[i].size < 0 || (m != 0 && m != 32))
				abort();
		}
		if (strlen(page.next) >= sizeof(page.next))
			abort();
	}
	cl_os_page_free(&page);
	rc = cl_os_xml_error((const char *)data, size, code, sizeof(code), msg, sizeof(msg));
	if (rc != CL_OK && rc != CL_EPARSE)
		abort();
	if (strchr(msg, '\n') || strchr(code, '\n'))
		abort();
	return 0;
}
