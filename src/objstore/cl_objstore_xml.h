/*
 * cl_objstore_xml.h — the XML the stores answer with: a listing page (S3
 * ListObjectsV2 or V1, Azure List Blobs) and an error body (<Error> with
 * <Code> and <Message>, the same on both). Parsed with libxml2, never
 * fetching or expanding anything external; whatever the bytes, the result
 * is a listing, an error code, or CL_EPARSE.
 */
#ifndef CL_OBJSTORE_XML_H
#define CL_OBJSTORE_XML_H

#include <stddef.h>
#include <stdint.h>

#include "objstore/cl_objstore.h"

/* One listing page: its objects (keys as the store spells them, whole),
 * and where the next page starts. */
struct cl_os_page {
	struct cl_objstore_info *items;
	size_t n, cap;
	int truncated;               /* IsTruncated true, or a NextMarker */
	char next[1024];             /* NextContinuationToken / NextMarker, or "" */
	int v2;                      /* the answer was a ListObjectsV2 (KeyCount seen) */
};

/* Parses a page; items are appended to `page` (freed by
 * cl_os_page_free). CL_EPARSE for what is not a listing. */
int cl_os_xml_page(const char *xml, size_t len, struct cl_os_page *page);
void cl_os_page_free(struct cl_os_page *page);

/* Code and Message of an error body (each "" when absent). CL_EPARSE when
 * it is not XML with an <Error> root. */
int cl_os_xml_error(const char *xml, size_t len, char *code, size_t code_cap, char *msg,
		    size_t msg_cap);

#endif
