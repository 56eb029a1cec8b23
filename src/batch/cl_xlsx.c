/*
 * XLSX to CSV. See cl_xlsx.h.
 */
#include "cl_xlsx.h"
#include "core/cl_error.h"
#include "core/cl_mem.h"
#include "core/cl_time.h"

#include <libxml/xmlreader.h>
#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zip.h>

#define PART_MAX ((zip_uint64_t)256 << 20)   /* refuse parts that inflate past this */
#define CSV_MAX ((size_t)256 << 20)          /* and sheets whose text grows past this */

struct buf {
	char *p;
	size_t len, cap;
};

static int put(struct buf *b, const char *s, size_t n)
{
	if (b->len + n + 1 > b->cap) {
		size_t cap = b->cap ? b->cap * 2 : 4096;
		char *np;

		while (cap < b->len + n + 1)
			cap *= 2;
		np = cl_realloc(b->p, cap);
		if (!np)
			return cl_error_set(CL_ENOMEM, "no memory for a spreadsheet");
		b->p = np;
		b->cap = cap;
	}
	memcpy(b->p + b->len, s, n);
	b->len += n;
	b->p[b->len] = '\0';
	return 0;
}

int cl_xlsx_sniff(const char *data, size_t len)
{
	zip_source_t *src;
	zip_t *z;
	int found;

	if (len < 4 || memcmp(data, "PK\x03\x04", 4) != 0)
		return 0;
	src = zip_source_buffer_create(data, len, 0, NULL);
	if (!src)
		return 0;
	z = zip_open_from_source(src, ZIP_RDONLY, NULL);
	if (!z) {
		zip_source_free(src);
		return 0;
	}
	found = zip_name_locate(z, "xl/workbook.xml", 0) >= 0;
	zip_close(z);
	return found;
}

/* One part of the zip, inflated (NUL-terminated). */
static int part(zip_t *z, const char *name, struct buf *out, int required)
{
	zip_stat_t st;
	zip_file_t *f;
	char chunk[65536];
	zip_int64_t n;

	out->len = 0;
	if (zip_stat(z, name, 0, &st) != 0) {
		if (!required)
			return CL_ENOENT;
		return cl_error_set(CL_EPARSE, "the workbook has no %s", name);
	}
	if ((st.valid & ZIP_STAT_SIZE) && st.size > PART_MAX)
		return cl_error_set(CL_ETOOBIG, "%s is larger than %llu bytes", name,
				    (unsigned long long)PART_MAX);
	f = zip_fopen(z, name, 0);
	if (!f)
		return cl_error_set(CL_EPARSE, "cannot read %s: %s", name, zip_strerror(z));
	while ((n = zip_fread(f, chunk, sizeof(chunk))) > 0) {
		if (out->len + (size_t)n > PART_MAX) {
			zip_fclose(f);
			return cl_error_set(CL_ETOOBIG, "%s inflates past %llu bytes", name,
					    (unsigned long long)PART_MAX);
		}
		if (put(out, chunk, (size_t)n)) {
			zip_fclose(f);
			return CL_ENOMEM;
		}
	}
	zip_fclose(f);
	if (n < 0)
		return cl_error_set(CL_EPARSE, "%s is damaged: %s", name, zip_strerror(z));
	if (!out->p && put(out, "", 0))
		return CL_ENOMEM;
	return CL_OK;
}

/* A streaming reader over a part. A document type declaration is
 * refused: Office Open XML has none, and it is where entities are
 * declared, which could expand without bound ("billion laughs") or name
 * other files (external entities). */
static int open_reader(const struct buf *b, const char *part, xmlTextReaderPtr *out)
{
	static const char *const refused[][2] = { { "<!DOCTYPE", "a document type" },
						  { "<!ENTITY", "an entity" } };

	*out = NULL;
	for (size_t i = 0; i < sizeof(refused) / sizeof(refused[0]); i++)
		if (memmem(b->p, b->len, refused[i][0], strlen(refused[i][0])))
			return cl_error_set(CL_EPARSE, "%s holds %s declaration (%s): refused, as "
					    "entities could expand without bound or read other "
					    "files", part, refused[i][1], refused[i][0]);
	*out = xmlReaderForMemory(b->p, (int)b->len, part, NULL,
				  XML_PARSE_NONET | XML_PARSE_NOERROR | XML_PARSE_NOWARNING |
					  XML_PARSE_COMPACT);
	if (!*out)
		return cl_error_set(CL_EPARSE, "%s is not XML", part);
	return CL_OK;
}

/* The next node (1), the end (0), or -1: the part is not well-formed, or
 * declares a document type after all (in an encoding the check in
 * open_reader does not read). */
static int next_node(xmlTextReaderPtr r)
{
	int ret = xmlTextReaderRead(r);

	if (ret == 1 && xmlTextReaderNodeType(r) == XML_READER_TYPE_DOCUMENT_TYPE)
		return -1;
	return ret;
}

static int is(xmlTextReaderPtr r, const char *local)
{
	const xmlChar *n = xmlTextReaderConstLocalName(r);

	return n && strcmp((const char *)n, local) == 0;
}

static char *attr(xmlTextReaderPtr r, const char *name)
{
	return (char *)xmlTextReaderGetAttribute(r, (const xmlChar *)name);
}

/* A whole number of at most `max` in the NUL-terminated text v (an XML
 * attribute or value); -1 if it is none. */
static long whole(const char *v, long max)
{
	long n = 0;

	if (!v || !*v)
		return -1;
	for (; *v; v++) {
		if (*v < '0' || *v > '9' || n > (max - (*v - '0')) / 10)
			return -1;
		n = n * 10 + (*v - '0');
	}
	return n;
}

/* ---- shared strings ---- */

/* Every shared string's text in one buffer, each NUL-terminated, found by
 * its offset (a part is at most PART_MAX bytes, so 32 bits hold one). */
struct strings {
	struct buf text;
	uint32_t *at;
	size_t n, cap;
};

static void strings_free(struct strings *ss)
{
	cl_free(ss->text.p);
	cl_free(ss->at);
}

/* The text of an <si> (its <t>, or the <t> of each run <r>; not the
 * phonetic reading <rPh> some languages add) or of an inline <is>. */
struct run_text {
	int in_t, in_rph;
};

/* Follows one node of an <si> or <is>: 1 if it is text to keep. */
static int run_node(xmlTextReaderPtr r, int type, struct run_text *rt)
{
	if (type == XML_READER_TYPE_ELEMENT && is(r, "rPh") && !xmlTextReaderIsEmptyElement(r))
		rt->in_rph = 1;
	else if (type == XML_READER_TYPE_END_ELEMENT && is(r, "rPh"))
		rt->in_rph = 0;
	else if (type == XML_READER_TYPE_ELEMENT && is(r, "t") && !rt->in_rph)
		rt->in_t = !xmlTextReaderIsEmptyElement(r);
	else if (type == XML_READER_TYPE_END_ELEMENT && is(r, "t"))
		rt->in_t = 0;
	else if ((type == XML_READER_TYPE_TEXT || type == XML_READER_TYPE_SIGNIFICANT_WHITESPACE ||
		  type == XML_READER_TYPE_CDATA) && rt->in_t)
		return 1;
	return 0;
}

static int read_strings(const struct buf *xml, struct strings *ss)
{
	xmlTextReaderPtr r;
	struct run_text rt = { 0 };
	int in_si = 0, rc = open_reader(xml, "xl/sharedStrings.xml", &r), ret = 0;

	while (rc == CL_OK && (ret = next_node(r)) == 1) {
		int type = xmlTextReaderNodeType(r), end_si;

		end_si = (type == XML_READER_TYPE_END_ELEMENT && is(r, "si")) ||
			 (type == XML_READER_TYPE_ELEMENT && is(r, "si") &&
			  xmlTextReaderIsEmptyElement(r));
		if (type == XML_READER_TYPE_ELEMENT && is(r, "si")) {
			/* a new string starts where the text is now */
			if (ss->n == ss->cap) {
				size_t cap = ss->cap ? ss->cap * 2 : 256;
				uint32_t *np = cl_realloc(ss->at, cap * sizeof(*np));

				if (!np) {
					rc = cl_error_set(CL_ENOMEM, "no memory for shared strings");
					break;
				}
				ss->at = np;
				ss->cap = cap;
			}
			ss->at[ss->n++] = (uint32_t)ss->text.len;
			in_si = 1;
			rt = (struct run_text){ 0 };
		} else if (in_si && run_node(r, type, &rt)) {
			const char *v = (const char *)xmlTextReaderConstValue(r);

			if (v && put(&ss->text, v, strlen(v)))
				rc = CL_ENOMEM;
		}
		if (rc == CL_OK && in_si && end_si) {
			in_si = 0;
			if (put(&ss->text, "", 1)) /* its NUL */
				rc = CL_ENOMEM;
		}
	}
	if (rc == CL_OK && ret < 0)
		rc = cl_error_set(CL_EPARSE, "xl/sharedStrings.xml is not well-formed XML");
	xmlFreeTextReader(r);
	return rc;
}

/* ---- styles: which cell styles are dates and times ---- */

enum fmt { FMT_NUMBER, FMT_DATE, FMT_TIME };

struct styles {
	unsigned char *kind;      /* enum fmt by cellXfs index */
	size_t n;
	struct custom {           /* numFmt declared: the formats that are dates or times */
		long id;
		enum fmt kind;
	} *custom;
	size_t ncustom;
};

/* A number format's kind: a date (with or without a time of day), a time
 * or duration alone, or a plain number. 'm' alone is month or minute: it
 * decides nothing. */
static enum fmt format_kind(const char *code)
{
	int in_quote = 0, date = 0, time = 0;

	for (const char *p = code; *p; p++) {
		if (*p == '"')
			in_quote = !in_quote;
		else if (in_quote)
			continue;
		else if (*p == '[') { /* [Red], [$-409]: skip; [h], [mm], [ss]: elapsed time */
			const char *e = strchr(p, ']');

			if (!e)
				break;
			if (strchr("hHmMsS", p[1]))
				time = 1;
			p = e;
		} else if (*p == '\\' && p[1])
			p++;
		else if (strchr("dDyY", *p))
			date = 1;
		else if (strchr("hHsS", *p))
			time = 1;
	}
	return date ? FMT_DATE : time ? FMT_TIME : FMT_NUMBER;
}

/* The built-in formats (ECMA-376 18.8.30) that are dates or times. */
static enum fmt builtin_kind(long id)
{
	if ((id >= 14 && id <= 17) || id == 22)
		return FMT_DATE;
	if ((id >= 18 && id <= 21) || (id >= 45 && id <= 47))
		return FMT_TIME;
	return FMT_NUMBER;
}

static int read_styles(const struct buf *xml, struct styles *st)
{
	xmlTextReaderPtr r;
	int in_xfs = 0, ret = 0, rc = open_reader(xml, "xl/styles.xml", &r);

	while (rc == CL_OK && (ret = next_node(r)) == 1) {
		int type = xmlTextReaderNodeType(r);

		if (type == XML_READER_TYPE_ELEMENT && is(r, "numFmt")) {
			char *id = attr(r, "numFmtId"), *code = attr(r, "formatCode");
			long i = whole(id, 1L << 30);
			enum fmt k = code ? format_kind(code) : FMT_NUMBER;

			if (i >= 0 && k != FMT_NUMBER) {
				struct custom *nc = cl_realloc(st->custom,
							       (st->ncustom + 1) * sizeof(*nc));

				if (nc) {
					st->custom = nc;
					st->custom[st->ncustom++] = (struct custom){ i, k };
				} else {
					rc = cl_error_set(CL_ENOMEM, "no memory for styles");
				}
			}
			xmlFree(id);
			xmlFree(code);
		} else if (type == XML_READER_TYPE_ELEMENT && is(r, "cellXfs")) {
			in_xfs = !xmlTextReaderIsEmptyElement(r);
		} else if (type == XML_READER_TYPE_END_ELEMENT && is(r, "cellXfs")) {
			in_xfs = 0;
		} else if (type == XML_READER_TYPE_ELEMENT && is(r, "xf") && in_xfs) {
			char *id = attr(r, "numFmtId");
			long i = id ? whole(id, 1L << 30) : 0;
			enum fmt k = builtin_kind(i);
			unsigned char *np = cl_realloc(st->kind, st->n + 1);

			xmlFree(id);
			if (!np) {
				rc = cl_error_set(CL_ENOMEM, "no memory for styles");
				break;
			}
			/* a custom format declared later than its use still counts */
			for (size_t c = st->ncustom; c-- > 0;)
				if (st->custom[c].id == i) {
					k = st->custom[c].kind;
					break;
				}
			st->kind = np;
			st->kind[st->n++] = (unsigned char)k;
		}
	}
	if (rc == CL_OK && ret < 0)
		rc = cl_error_set(CL_EPARSE, "xl/styles.xml is not well-formed XML");
	xmlFreeTextReader(r);
	return rc;
}

/* ---- the workbook: which part is the sheet ---- */

static int find_sheet(zip_t *z, const char *want, char *target, size_t cap, int *date1904)
{
	struct buf wb = { 0 }, rels = { 0 };
	xmlTextReaderPtr r = NULL;
	char rid[128] = "", names[512] = "";
	size_t nl = 0;
	int rc = part(z, "xl/workbook.xml", &wb, 1), ret = 0;

	*date1904 = 0;
	if (rc == CL_OK)
		rc = open_reader(&wb, "xl/workbook.xml", &r);
	while (rc == CL_OK && (ret = next_node(r)) == 1) {
		if (xmlTextReaderNodeType(r) != XML_READER_TYPE_ELEMENT)
			continue;
		if (is(r, "workbookPr")) {
			char *v = attr(r, "date1904");

			*date1904 = v && (strcmp(v, "1") == 0 || strcmp(v, "true") == 0);
			xmlFree(v);
		} else if (is(r, "sheet")) {
			char *name = attr(r, "name"), *id = attr(r, "r:id");

			if (!id)
				id = (char *)xmlTextReaderGetAttributeNs(
					r, (const xmlChar *)"id",
					(const xmlChar *)"http://schemas.openxmlformats.org/officeDocument/2006/relationships");
			if (name && nl < sizeof(names) - 4)
				nl += (size_t)snprintf(names + nl, sizeof(names) - nl, "%s'%s'",
						       nl ? ", " : "", name);
			if (!rid[0] && id && name && (!want || !*want || strcmp(want, name) == 0))
				snprintf(rid, sizeof(rid), "%s", id);
			xmlFree(name);
			xmlFree(id);
		}
	}
	if (rc == CL_OK && ret < 0)
		rc = cl_error_set(CL_EPARSE, "xl/workbook.xml is not well-formed XML");
	xmlFreeTextReader(r);
	r = NULL;
	if (rc == CL_OK && !rid[0])
		rc = want && *want ? cl_error_set(CL_ENOENT, "no sheet '%s' (the workbook has %s)",
						  want, nl ? names : "none")
				   : cl_error_set(CL_EPARSE, "the workbook has no sheets");
	if (rc == CL_OK)
		rc = part(z, "xl/_rels/workbook.xml.rels", &rels, 1);
	if (rc == CL_OK)
		rc = open_reader(&rels, "xl/_rels/workbook.xml.rels", &r);
	if (rc == CL_OK) {
		target[0] = '\0';
		while ((ret = next_node(r)) == 1) {
			char *id, *t;

			if (xmlTextReaderNodeType(r) != XML_READER_TYPE_ELEMENT || !is(r, "Relationship"))
				continue;
			id = attr(r, "Id");
			t = attr(r, "Target");
			if (id && t && strcmp(id, rid) == 0) {
				/* relative to xl/, or absolute from the root */
				if (t[0] == '/')
					snprintf(target, cap, "%s", t + 1);
				else
					snprintf(target, cap, "xl/%s", t);
			}
			xmlFree(id);
			xmlFree(t);
		}
		xmlFreeTextReader(r);
		if (ret < 0)
			rc = cl_error_set(CL_EPARSE, "xl/_rels/workbook.xml.rels is not well-formed XML");
		else if (!target[0])
			rc = cl_error_set(CL_EPARSE, "the workbook's relationships do not say where "
					  "the sheet is");
	}
	cl_free(wb.p);
	cl_free(rels.p);
	return rc;
}

/* ---- the sheet ---- */

/* "BC12" -> column 54 (0-based: 'A' is 0); -1 if it is not a cell
 * reference (letters, then a row number). */
static long column_of(const char *ref)
{
	long c = 0;
	int n = 0;

	for (; *ref >= 'A' && *ref <= 'Z'; ref++, n++) {
		if (n == 3)
			return -1; /* past XFD, the last column */
		c = c * 26 + (*ref - 'A' + 1);
	}
	if (!n || whole(ref, 1L << 24) < 1)
		return -1;
	return c - 1;
}

/* Appends n bytes of text as one CSV field (RFC 4180 quoting), or
 * CL_ETOOBIG if the sheet's text would grow past CSV_MAX. */
static int csv_field(struct buf *out, const char *v, size_t n)
{
	const char *p = v, *q;

	if (out->len > CSV_MAX || n > CSV_MAX - out->len)
		return cl_error_set(CL_ETOOBIG, "the sheet's text grows past %zu bytes", CSV_MAX);
	if (!memchr(v, ',', n) && !memchr(v, '"', n) && !memchr(v, '\r', n) && !memchr(v, '\n', n))
		return put(out, v, n);
	if (put(out, "\"", 1))
		return CL_ENOMEM;
	/* each quote doubled */
	while ((q = memchr(p, '"', n - (size_t)(p - v)))) {
		if (put(out, p, (size_t)(q - p) + 1) || put(out, "\"", 1))
			return CL_ENOMEM;
		p = q + 1;
	}
	if (put(out, p, n - (size_t)(p - v)))
		return CL_ENOMEM;
	return put(out, "\"", 1);
}

/* What a cell holds, gathered from its element and its children. */
struct cell {
	char ref[16];       /* "B7" (for messages; "" if it had none) */
	long col;
	char *type, *style; /* t and s attributes (xmlFree) */
	struct buf v;       /* the text of <v>, or of an inline string's <is> */
};

/* A serial number in a date or time format, as text: a date (1900 or
 * 1904 system), a date and time, or a time of day (a duration past a
 * day for [h] formats). 0 if the number is outside what Excel shows. */
static int serial_text(double d, enum fmt kind, int date1904, char *out, size_t cap)
{
	if (!isfinite(d) || d < 0 || d >= 2958466)
		return 0;
	if (kind == FMT_TIME) {
		long long secs = llround(d * 86400.0);

		snprintf(out, cap, "%02lld:%02lld:%02lld", secs / 3600, secs / 60 % 60, secs % 60);
		return 1;
	}
	{
		/* serial days since 1899-12-30 (1904-01-01 in a 1904 workbook);
		 * the 1900 system counts a 29 February 1900 that never was, so
		 * its days before 1 March 1900 are one off */
		double days = d - (date1904 ? -1462 : 0) - 25569 + (!date1904 && d < 61 ? 1 : 0);
		int64_t us = (int64_t)llround(days * 86400.0) * 1000000;

		if (d == floor(d)) {
			char day[11];

			cl_time_format_day(us, day);
			snprintf(out, cap, "%s", day);
		} else {
			cl_time_format_rfc3339(us, out, cap, 0);
		}
	}
	return 1;
}

/* The cell's text as its CSV field. */
static int cell_field(const struct cell *c, const struct strings *ss, const struct styles *st,
		      int date1904, struct buf *out)
{
	const char *v = c->v.p ? c->v.p : "";
	const char *type = c->type;
	char text[64];

	if (!c->v.len)
		return CL_OK; /* an empty cell, whatever its type */
	if (type && strcmp(type, "s") == 0) {
		long i = whole(v, LONG_MAX);

		if (i < 0 || (size_t)i >= ss->n)
			return cl_error_set(CL_EPARSE, "cell %s: shared string '%.20s' does not exist "
					    "(the workbook has %zu)", c->ref[0] ? c->ref : "?", v,
					    ss->n);
		return csv_field(out, ss->text.p + ss->at[i], strlen(ss->text.p + ss->at[i]));
	}
	if (type && strcmp(type, "b") == 0 && (strcmp(v, "1") == 0 || strcmp(v, "0") == 0))
		return csv_field(out, v[0] == '1' ? "true" : "false", v[0] == '1' ? 4 : 5);
	if ((!type || strcmp(type, "n") == 0) && c->style) {
		long si = whole(c->style, LONG_MAX);
		char *end;
		double d = strtod(v, &end);

		if (*end == '\0' && si >= 0 && (size_t)si < st->n && st->kind[si] != FMT_NUMBER &&
		    serial_text(d, (enum fmt)st->kind[si], date1904, text, sizeof(text)))
			return csv_field(out, text, strlen(text));
	}
	/* numbers, inline strings, formula results (str), errors (#N/A) */
	return csv_field(out, v, c->v.len);
}

static void cell_reset(struct cell *c)
{
	xmlFree(c->type);
	xmlFree(c->style);
	c->type = c->style = NULL;
	c->ref[0] = '\0';
	c->v.len = 0;
}

static int read_sheet(const struct buf *xml, const struct strings *ss, const struct styles *st,
		      int date1904, struct buf *out)
{
	xmlTextReaderPtr r;
	long next_col = 0, width = -1, rows = 0;
	size_t row_start = 0;
	int in_v = 0, in_is = 0, in_row = 0, row_has_text = 0, ret = 0;
	int rc = open_reader(xml, "the sheet", &r);
	struct cell c = { .col = 0 };
	struct run_text rt = { 0 };

	while (rc == CL_OK && (ret = next_node(r)) == 1) {
		int type_ = xmlTextReaderNodeType(r);

		if (type_ == XML_READER_TYPE_ELEMENT && is(r, "row")) {
			in_row = 1;
			next_col = 0;
			row_has_text = 0;
			row_start = out->len;
			if (xmlTextReaderIsEmptyElement(r))
				goto end_row;
		} else if (type_ == XML_READER_TYPE_END_ELEMENT && is(r, "row")) {
end_row:
			/* the header fixes the width; later rows are padded to
			 * it; a row with no text in any cell is no record */
			if (!row_has_text) {
				out->len = row_start;
			} else {
				if (rows == 0)
					width = next_col;
				for (; next_col < width; next_col++)
					if (put(out, ",", 1))
						rc = CL_ENOMEM;
				if (put(out, "\n", 1))
					rc = CL_ENOMEM;
				rows++;
			}
			in_row = 0;
		} else if (type_ == XML_READER_TYPE_ELEMENT && is(r, "c") && in_row) {
			char *ref = attr(r, "r");

			cell_reset(&c);
			if (ref) {
				snprintf(c.ref, sizeof(c.ref), "%s", ref);
				c.col = column_of(ref);
			} else {
				c.col = next_col;
			}
			xmlFree(ref);
			if (c.col < 0) {
				rc = cl_error_set(CL_EPARSE, "row %ld: '%s' is not a cell reference "
						  "(like B7)", rows + 1, c.ref);
				break;
			}
			if (c.col < next_col) {
				rc = cl_error_set(CL_EPARSE, "row %ld: cell %s comes after a cell to its "
						  "right (cells must be in column order)", rows + 1,
						  c.ref);
				break;
			}
			if (c.col > 16383) {
				rc = cl_error_set(CL_EPARSE, "row %ld: cell %s is past column XFD, the "
						  "last", rows + 1, c.ref);
				break;
			}
			c.type = attr(r, "t");
			c.style = attr(r, "s");
			in_v = in_is = 0;
			if (xmlTextReaderIsEmptyElement(r))
				goto end_cell;
		} else if (type_ == XML_READER_TYPE_ELEMENT && is(r, "v")) {
			in_v = !xmlTextReaderIsEmptyElement(r);
		} else if (type_ == XML_READER_TYPE_END_ELEMENT && is(r, "v")) {
			in_v = 0;
		} else if (type_ == XML_READER_TYPE_ELEMENT && is(r, "is")) {
			in_is = !xmlTextReaderIsEmptyElement(r);
			rt = (struct run_text){ 0 };
		} else if (type_ == XML_READER_TYPE_END_ELEMENT && is(r, "is")) {
			in_is = 0;
		} else if (type_ == XML_READER_TYPE_END_ELEMENT && is(r, "c") && in_row) {
end_cell:
			/* the delimiter after the field before, and one per empty
			 * cell between (a first cell in column C: two) */
			if (next_col > 0 && put(out, ",", 1))
				rc = CL_ENOMEM;
			for (; next_col < c.col; next_col++)
				if (put(out, ",", 1))
					rc = CL_ENOMEM;
			if (rc == CL_OK && put(&c.v, "", 0))
				rc = CL_ENOMEM; /* NUL-terminated, even when empty */
			if (rc == CL_OK) {
				size_t before = out->len;

				rc = cell_field(&c, ss, st, date1904, out);
				row_has_text |= out->len > before;
			}
			if (rc == CL_OK && out->len > CSV_MAX)
				rc = cl_error_set(CL_ETOOBIG, "the sheet's text grows past %zu bytes",
						  CSV_MAX);
			next_col = c.col + 1;
			in_v = in_is = 0;
		} else if (in_v && (type_ == XML_READER_TYPE_TEXT || type_ == XML_READER_TYPE_CDATA ||
				    type_ == XML_READER_TYPE_SIGNIFICANT_WHITESPACE)) {
			const char *v = (const char *)xmlTextReaderConstValue(r);

			if (v && put(&c.v, v, strlen(v)))
				rc = CL_ENOMEM;
		} else if (in_is && run_node(r, type_, &rt)) {
			const char *v = (const char *)xmlTextReaderConstValue(r);

			if (v && put(&c.v, v, strlen(v)))
				rc = CL_ENOMEM;
		}
	}
	if (rc == CL_OK && ret < 0)
		rc = cl_error_set(CL_EPARSE, "the sheet is not well-formed XML");
	cell_reset(&c);
	cl_free(c.v.p);
	xmlFreeTextReader(r);
	return rc;
}

int cl_xlsx_to_csv(const char *data, size_t len, const char *sheet, char **csv, size_t *csv_len)
{
	zip_source_t *src;
	zip_t *z;
	zip_error_t err;
	struct buf x = { 0 }, out = { 0 };
	struct strings ss = { 0 };
	struct styles st;
	char target[512];
	int date1904 = 0, rc;

	*csv = NULL;
	*csv_len = 0;
	memset(&st, 0, sizeof(st));
	zip_error_init(&err);
	src = zip_source_buffer_create(data, len, 0, &err);
	z = src ? zip_open_from_source(src, ZIP_RDONLY | ZIP_CHECKCONS, &err) : NULL;
	if (!z) {
		rc = cl_error_set(CL_EPARSE, "not a readable XLSX (zip): %s", zip_error_strerror(&err));
		zip_source_free(src);
		zip_error_fini(&err);
		return rc;
	}
	zip_error_fini(&err);
	rc = find_sheet(z, sheet, target, sizeof(target), &date1904);
	if (rc == CL_OK) {
		rc = part(z, "xl/sharedStrings.xml", &x, 0);
		if (rc == CL_OK)
			rc = read_strings(&x, &ss);
		else if (rc == CL_ENOENT)
			rc = CL_OK; /* numbers only */
	}
	if (rc == CL_OK) {
		rc = part(z, "xl/styles.xml", &x, 0);
		if (rc == CL_OK)
			rc = read_styles(&x, &st);
		else if (rc == CL_ENOENT)
			rc = CL_OK;
	}
	if (rc == CL_OK)
		rc = part(z, target, &x, 1);
	if (rc == CL_OK)
		rc = read_sheet(&x, &ss, &st, date1904, &out);
	if (rc == CL_OK && !out.p && put(&out, "", 0))
		rc = CL_ENOMEM; /* a sheet with no text: "", not NULL */
	zip_close(z);
	cl_free(x.p);
	strings_free(&ss);
	cl_free(st.kind);
	cl_free(st.custom);
	if (rc) {
		cl_free(out.p);
		return rc;
	}
	*csv = out.p;
	*csv_len = out.len;
	return CL_OK;
}
