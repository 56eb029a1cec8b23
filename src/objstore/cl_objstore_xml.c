/*
 * cl_objstore_xml.c — listing pages and error bodies from S3 and Azure
 * Blob. See cl_objstore_xml.h.
 *
 * The documents are small (a page is at most a few thousand keys) and are
 * read into a tree with xmlReadMemory: no network (XML_PARSE_NONET), no
 * entity substitution (XML_PARSE_NOENT left off), no DTD loading, and a
 * document that declares a DTD at all is refused, so a hostile or broken
 * store can make a page fail to parse but cannot make carelake fetch or
 * expand anything.
 */
#include "objstore/cl_objstore_xml.h"
#include "objstore/cl_objstore_int.h"

#include <string.h>

#include <libxml/parser.h>
#include <libxml/tree.h>

#include "core/cl_error.h"
#include "core/cl_mem.h"
#include "core/cl_config.h"
#include "core/cl_time.h"

#define XML_OPTS (XML_PARSE_NONET | XML_PARSE_NOERROR | XML_PARSE_NOWARNING | XML_PARSE_NOCDATA)

static xmlDocPtr parse(const char *xml, size_t len)
{
	xmlDocPtr doc;

	if (!xml || len == 0 || len > 64u * 1024 * 1024)
		return NULL;
	doc = xmlReadMemory(xml, (int)len, "objstore.xml", NULL, XML_OPTS);
	/* no store sends a DTD: one is refused, entities and all */
	if (doc && (doc->intSubset || doc->extSubset)) {
		xmlFreeDoc(doc);
		return NULL;
	}
	return doc;
}

static int named(const xmlNode *n, const char *name)
{
	return n->type == XML_ELEMENT_NODE && strcmp((const char *)n->name, name) == 0;
}

/* The text of an element into out (truncated to cap), "" when empty. */
static void text_of(xmlNode *n, char *out, size_t cap)
{
	xmlChar *t = xmlNodeGetContent(n);

	snprintf(out, cap, "%s", t ? (const char *)t : "");
	xmlFree(t);
}

static xmlNode *child(xmlNode *n, const char *name)
{
	for (xmlNode *c = n ? n->children : NULL; c; c = c->next)
		if (named(c, name))
			return c;
	return NULL;
}

/* A last-modified time: ISO 8601 (S3) or RFC 1123 (Azure). */
static int64_t mtime_of(const char *t)
{
	int64_t v = 0;

	if (t[0] >= '0' && t[0] <= '9') {
		if (cl_time_parse_rfc3339(t, strlen(t), &v) == 0)
			return v / 1000;
		return 0;
	}
	if (cl_os_parse_http_date(t, &v) == 0)
		return v;
	return 0;
}

/* Hex of an MD5 given as base64 (Azure Content-MD5) or a quoted hex ETag
 * (S3, single-part uploads only). */
static void md5_of(const char *b64, const char *etag, char out[33])
{
	unsigned char raw[32];
	size_t n = 0;

	out[0] = '\0';
	if (b64 && b64[0] && cl_os_b64_decode(b64, raw, sizeof(raw), &n) == 0 && n == 16) {
		for (int i = 0; i < 16; i++)
			snprintf(out + 2 * i, 3, "%02x", raw[i]);
		return;
	}
	if (etag) {
		const char *e = etag;
		size_t len;

		if (*e == '"')
			e++;
		len = strspn(e, "0123456789abcdefABCDEF");
		if (len == 32 && (e[32] == '"' || e[32] == '\0')) {
			for (int i = 0; i < 32; i++)
				out[i] = (char)(e[i] >= 'A' && e[i] <= 'F' ? e[i] + 32 : e[i]);
			out[32] = '\0';
		}
	}
}

static int page_add(struct cl_os_page *p, const struct cl_objstore_info *it)
{
	if (p->n == p->cap) {
		size_t cap = p->cap ? p->cap * 2 : 64;
		void *m = cl_realloc(p->items, cap * sizeof(*p->items));

		if (!m)
			return cl_error_set(CL_ENOMEM, "out of memory for a listing page");
		p->items = m;
		p->cap = cap;
	}
	p->items[p->n++] = *it;
	return CL_OK;
}

/* One <Contents> (S3) or <Blob> (Azure). */
static int add_item(struct cl_os_page *p, xmlNode *n, int azure)
{
	struct cl_objstore_info it;
	char buf[256], b64[64] = "", etag[80] = "";
	xmlNode *props = azure ? child(n, "Properties") : n, *c;
	uint64_t size = 0;

	memset(&it, 0, sizeof(it));
	c = child(n, azure ? "Name" : "Key");
	if (!c)
		return cl_error_set(CL_EPARSE, "a listed object has no %s", azure ? "Name" : "Key");
	text_of(c, it.key, sizeof(it.key));
	if (!it.key[0])
		return cl_error_set(CL_EPARSE, "a listed object has an empty name");
	if ((c = child(props, azure ? "Content-Length" : "Size"))) {
		text_of(c, buf, sizeof(buf));
		if (cl_parse_u64(buf, 0, INT64_MAX, &size) != 0)
			return cl_error_set(CL_EPARSE, "a listed object has a bad size");
	}
	it.size = (int64_t)size;
	if ((c = child(props, "Last-Modified")) || (c = child(props, "LastModified"))) {
		text_of(c, buf, sizeof(buf));
		it.mtime_ms = mtime_of(buf);
	}
	if ((c = child(props, "Content-MD5")))
		text_of(c, b64, sizeof(b64));
	if ((c = child(props, "ETag")) || (c = child(props, "Etag")))
		text_of(c, etag, sizeof(etag));
	md5_of(b64, azure ? NULL : etag, it.md5);
	return page_add(p, &it);
}

int cl_os_xml_page(const char *xml, size_t len, struct cl_os_page *page)
{
	xmlDocPtr doc = parse(xml, len);
	xmlNode *root, *blobs;
	char buf[32];
	int rc = CL_OK, azure;

	if (!doc)
		return cl_error_set(CL_EPARSE, "the store's listing is not XML");
	root = xmlDocGetRootElement(doc);
	if (!root || (!named(root, "ListBucketResult") && !named(root, "EnumerationResults"))) {
		xmlFreeDoc(doc);
		return cl_error_set(CL_EPARSE, "the store's answer is not a listing");
	}
	azure = named(root, "EnumerationResults");
	page->truncated = 0;
	page->next[0] = '\0';
	page->v2 = !azure && child(root, "KeyCount") != NULL;
	blobs = azure ? child(root, "Blobs") : root;
	for (xmlNode *c = blobs ? blobs->children : NULL; c && rc == 0; c = c->next)
		if (named(c, azure ? "Blob" : "Contents"))
			rc = add_item(page, c, azure);
	if (rc == 0) {
		xmlNode *t = child(root, "IsTruncated"), *next;

		if (t) {
			text_of(t, buf, sizeof(buf));
			page->truncated = strcmp(buf, "true") == 0;
		}
		next = child(root, azure ? "NextMarker" : "NextContinuationToken");
		if (!next && !azure)
			next = child(root, "NextMarker");
		if (next)
			text_of(next, page->next, sizeof(page->next));
		if (azure)
			page->truncated = page->next[0] != '\0';
	}
	xmlFreeDoc(doc);
	return rc;
}

void cl_os_page_free(struct cl_os_page *page)
{
	if (!page)
		return;
	cl_free(page->items);
	page->items = NULL;
	page->n = page->cap = 0;
}

int cl_os_xml_error(const char *xml, size_t len, char *code, size_t code_cap, char *msg,
		    size_t msg_cap)
{
	xmlDocPtr doc = parse(xml, len);
	xmlNode *root, *c;

	code[0] = msg[0] = '\0';
	if (!doc)
		return CL_EPARSE;
	root = xmlDocGetRootElement(doc);
	if (!root || !named(root, "Error")) {
		xmlFreeDoc(doc);
		return CL_EPARSE;
	}
	if ((c = child(root, "Code")))
		text_of(c, code, code_cap);
	if ((c = child(root, "Message")))
		text_of(c, msg, msg_cap);
	/* one line: a message never breaks the log's or the detail's line */
	for (char *p = msg; *p; p++)
		if (*p == '\n' || *p == '\r' || *p == '\t')
			*p = ' ';
	for (char *p = code; *p; p++)
		if ((unsigned char)*p < 0x20)
			*p = ' ';
	xmlFreeDoc(doc);
	return CL_OK;
}
