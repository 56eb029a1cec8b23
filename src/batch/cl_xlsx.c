/*
 * XLSX to CSV. See cl_xlsx.h.
 */
#include "cl_xlsx.h"
#include "core/cl_error.h"
#include "core/cl_mem.h"
#include "core/cl_time.h"

#include <libxml/xmlreader.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zip.h>

#define PART_MAX ((zip_uint64_t)256 << 20)   /* refuse parts that inflate past this */

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

static xmlTextReaderPtr reader(const struct buf *b, const char *name)
{
	return xmlReaderForMemory(b->p, (int)b->len, name, NULL,
				  XML_PARSE_NONET | XML_PARSE_NOERROR |
					  XML_PARSE_NOWARNING | XML_PARSE_COMPACT);
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

/* ---- shared strings ---- */

struct strings {
	char **s;
	size_t n, cap;
};

static void strings_free(struct strings *ss)
{
	for (size_t i = 0; i < ss->n; i++)
		cl_free(ss->s[i]);
	cl_free(ss->s);
}

static int read_strings(const struct buf *xml, struct strings *ss)
{
	xmlTextReaderPtr r = reader(xml, "sharedStrings.xml");
	struct buf cur = { 0 };
	int in_si = 0, in_t = 0, rc = CL_OK, ret;

	if (!r)
		return cl_error_set(CL_EPARSE, "xl/sharedStrings.xml is not XML");
	while (rc == CL_OK && (ret = xmlTextReaderRead(r)) == 1) {
		int type = xmlTextReaderNodeType(r);

		if (type == XML_READER_TYPE_ELEMENT && is(r, "si") && !xmlTextReaderIsEmptyElement(r)) {
			in_si = 1;
			cur.len = 0;
			if (put(&cur, "", 0))
				rc = CL_ENOMEM;
		} else if (type == XML_READER_TYPE_ELEMENT && is(r, "si")) {
			cur.len = 0;
			in_si = 0;
			goto add;
		} else if (type == XML_READER_TYPE_ELEMENT && is(r, "t") && in_si &&
			   !xmlTextReaderIsEmptyElement(r)) {
			in_t = 1;
		} else if (type == XML_READER_TYPE_END_ELEMENT && is(r, "t")) {
			in_t = 0;
		} else if ((type == XML_READER_TYPE_TEXT || type == XML_READER_TYPE_SIGNIFICANT_WHITESPACE) &&
			   in_t) {
			const char *v = (const char *)xmlTextReaderConstValue(r);

			if (v && put(&cur, v, strlen(v)))
				rc = CL_ENOMEM;
		} else if (type == XML_READER_TYPE_END_ELEMENT && is(r, "si")) {
			in_si = 0;
add:
			if (ss->n == ss->cap) {
				size_t cap = ss->cap ? ss->cap * 2 : 256;
				char **np = cl_realloc(ss->s, cap * sizeof(*np));

				if (!np) {
					rc = cl_error_set(CL_ENOMEM, "no memory");
					break;
				}
				ss->s = np;
				ss->cap = cap;
			}
			ss->s[ss->n] = cl_malloc(cur.len + 1);
			if (!ss->s[ss->n]) {
				rc = cl_error_set(CL_ENOMEM, "no memory");
				break;
			}
			memcpy(ss->s[ss->n], cur.p ? cur.p : "", cur.len);
			ss->s[ss->n][cur.len] = '\0';
			ss->n++;
		}
	}
	if (rc == CL_OK && ret < 0)
		rc = cl_error_set(CL_EPARSE, "xl/sharedStrings.xml is not well-formed XML");
	xmlFreeTextReader(r);
	cl_free(cur.p);
	return rc;
}

/* ---- styles: which cell styles are dates ---- */

struct styles {
	unsigned char *is_date;   /* by cellXfs index */
	size_t n;
	int custom_date[512];     /* numFmtId < 512 declared as a date format */
};

static int format_is_date(const char *code)
{
	int in_quote = 0;

	for (const char *p = code; *p; p++) {
		if (*p == '"')
			in_quote = !in_quote;
		else if (*p == '[') { /* [Red], [h]: skip colours, keep elapsed hours */
			const char *e = strchr(p, ']');

			if (e && (p[1] == 'h' || p[1] == 'H' || p[1] == 'm' || p[1] == 's'))
				return 1;
			if (!e)
				break;
			p = e;
		} else if (*p == '\\' && p[1])
			p++;
		else if (!in_quote && strchr("dDyYhHsS", *p))
			return 1;
	}
	return 0;
}

static int builtin_date(int id)
{
	return (id >= 14 && id <= 22) || (id >= 45 && id <= 47);
}

static int read_styles(const struct buf *xml, struct styles *st)
{
	xmlTextReaderPtr r = reader(xml, "styles.xml");
	int in_xfs = 0, ret, rc = CL_OK;

	if (!r)
		return cl_error_set(CL_EPARSE, "xl/styles.xml is not XML");
	while (rc == CL_OK && (ret = xmlTextReaderRead(r)) == 1) {
		int type = xmlTextReaderNodeType(r);

		if (type == XML_READER_TYPE_ELEMENT && is(r, "numFmt")) {
			char *id = attr(r, "numFmtId"), *code = attr(r, "formatCode");
			int i = id ? atoi(id) : -1;

			if (i >= 0 && i < 512 && code)
				st->custom_date[i] = format_is_date(code);
			xmlFree(id);
			xmlFree(code);
		} else if (type == XML_READER_TYPE_ELEMENT && is(r, "cellXfs")) {
			in_xfs = !xmlTextReaderIsEmptyElement(r);
		} else if (type == XML_READER_TYPE_END_ELEMENT && is(r, "cellXfs")) {
			in_xfs = 0;
		} else if (type == XML_READER_TYPE_ELEMENT && is(r, "xf") && in_xfs) {
			char *id = attr(r, "numFmtId");
			int i = id ? atoi(id) : 0;
			unsigned char *np = cl_realloc(st->is_date, st->n + 1);

			xmlFree(id);
			if (!np) {
				rc = cl_error_set(CL_ENOMEM, "no memory");
				break;
			}
			st->is_date = np;
			st->is_date[st->n++] = (unsigned char)(builtin_date(i) ||
							       (i >= 0 && i < 512 && st->custom_date[i]));
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
	int rc = part(z, "xl/workbook.xml", &wb, 1), ret;

	*date1904 = 0;
	if (rc == CL_OK && !(r = reader(&wb, "workbook.xml")))
		rc = cl_error_set(CL_EPARSE, "xl/workbook.xml is not XML");
	while (rc == CL_OK && (ret = xmlTextReaderRead(r)) == 1) {
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
	if (rc == CL_OK) {
		xmlFreeTextReader(r);
		if (!rid[0])
			rc = want && *want ? cl_error_set(CL_ENOENT, "no sheet '%s' (the workbook has %s)",
							  want, nl ? names : "none")
					   : cl_error_set(CL_EPARSE, "the workbook has no sheets");
	}
	if (rc == CL_OK)
		rc = part(z, "xl/_rels/workbook.xml.rels", &rels, 1);
	if (rc == CL_OK && !(r = reader(&rels, "workbook.xml.rels")))
		rc = cl_error_set(CL_EPARSE, "xl/_rels/workbook.xml.rels is not XML");
	if (rc == CL_OK) {
		target[0] = '\0';
		while ((ret = xmlTextReaderRead(r)) == 1) {
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
		if (!target[0])
			rc = cl_error_set(CL_EPARSE, "the workbook's relationships do not say where "
					  "the sheet is");
	}
	cl_free(wb.p);
	cl_free(rels.p);
	return rc;
}

/* ---- the sheet ---- */

/* "BC12" -> column 54 (0-based: 'A' is 0); -1 if not a reference. */
static long column_of(const char *ref)
{
	long c = 0;
	int n = 0;

	for (; *ref >= 'A' && *ref <= 'Z' && n < 4; ref++, n++)
		c = c * 26 + (*ref - 'A' + 1);
	return n ? c - 1 : -1;
}

static int csv_field(struct buf *out, const char *v)
{
	if (!strpbrk(v, ",\"\r\n"))
		return put(out, v, strlen(v));
	if (put(out, "\"", 1))
		return CL_ENOMEM;
	for (const char *p = v; *p; p++)
		if ((*p == '"' && put(out, "\"\"", 2)) || (*p != '"' && put(out, p, 1)))
			return CL_ENOMEM;
	return put(out, "\"", 1);
}

/* A cell's text as the CSV field. */
static void cell_text(const char *type, const char *style, const char *v, const struct strings *ss,
		      const struct styles *st, int date1904, char *out, size_t cap)
{
	out[0] = '\0';
	if (!v)
		return;
	if (type && strcmp(type, "s") == 0) {
		long i = strtol(v, NULL, 10);

		if (i >= 0 && (size_t)i < ss->n)
			snprintf(out, cap, "%s", ss->s[i]);
		return;
	}
	if (type && strcmp(type, "b") == 0) {
		snprintf(out, cap, "%s", strcmp(v, "1") == 0 ? "true" : "false");
		return;
	}
	if ((!type || strcmp(type, "n") == 0) && style) {
		long si = strtol(style, NULL, 10);
		char *end;
		double d = strtod(v, &end);

		if (*end == '\0' && si >= 0 && (size_t)si < st->n && st->is_date[si] && isfinite(d) &&
		    d >= 0 && d < 2958466) {
			/* serial days since 1899-12-30 (1904-01-01 in a 1904 workbook) */
			double days = d - (date1904 ? -1462 : 0) - 25569;
			int64_t us = (int64_t)llround(days * 86400.0) * 1000000;

			if (d == floor(d)) {
				char day[11];

				cl_time_format_day(us, day);
				snprintf(out, cap, "%s", day);
			} else {
				cl_time_format_rfc3339(us, out, cap, 0);
			}
			return;
		}
	}
	snprintf(out, cap, "%s", v);
}

static int read_sheet(const struct buf *xml, const struct strings *ss, const struct styles *st,
		      int date1904, struct buf *out)
{
	xmlTextReaderPtr r = reader(xml, "sheet.xml");
	long col = 0, next_col = 0, width = -1, rows = 0;
	char *type = NULL, *style = NULL, *value = NULL;
	int in_v = 0, in_is_t = 0, in_row = 0, rc = CL_OK, ret;
	struct buf inl = { 0 };

	if (!r)
		return cl_error_set(CL_EPARSE, "the sheet is not XML");
	while (rc == CL_OK && (ret = xmlTextReaderRead(r)) == 1) {
		int type_ = xmlTextReaderNodeType(r);

		if (type_ == XML_READER_TYPE_ELEMENT && is(r, "row")) {
			in_row = 1;
			next_col = 0;
			if (xmlTextReaderIsEmptyElement(r))
				goto end_row;
		} else if (type_ == XML_READER_TYPE_END_ELEMENT && is(r, "row")) {
end_row:
			/* the header fixes the width; later rows are padded to
			 * it; an empty row is no record */
			if (next_col > 0) {
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

			col = ref ? column_of(ref) : next_col;
			xmlFree(ref);
			if (col < next_col || col > 16383) {
				rc = cl_error_set(CL_EPARSE, "a cell out of order in row %ld", rows + 1);
				break;
			}
			xmlFree(type);
			xmlFree(style);
			cl_free(value);
			type = attr(r, "t");
			style = attr(r, "s");
			value = NULL;
			inl.len = 0;
			if (xmlTextReaderIsEmptyElement(r))
				goto end_cell;
		} else if (type_ == XML_READER_TYPE_ELEMENT && is(r, "v")) {
			in_v = !xmlTextReaderIsEmptyElement(r);
		} else if (type_ == XML_READER_TYPE_END_ELEMENT && is(r, "v")) {
			in_v = 0;
		} else if (type_ == XML_READER_TYPE_ELEMENT && is(r, "t")) {
			in_is_t = !xmlTextReaderIsEmptyElement(r);
		} else if (type_ == XML_READER_TYPE_END_ELEMENT && is(r, "t")) {
			in_is_t = 0;
		} else if ((type_ == XML_READER_TYPE_TEXT ||
			    type_ == XML_READER_TYPE_SIGNIFICANT_WHITESPACE) && (in_v || in_is_t)) {
			const char *v = (const char *)xmlTextReaderConstValue(r);

			if (v && put(&inl, v, strlen(v)))
				rc = CL_ENOMEM;
		} else if (type_ == XML_READER_TYPE_END_ELEMENT && is(r, "c")) {
			char text[8192];

end_cell:
			/* empty cells before this one */
			for (; next_col < col; next_col++)
				if (put(out, ",", 1))
					rc = CL_ENOMEM;
			if (next_col > 0 && put(out, ",", 1))
				rc = CL_ENOMEM;
			if (inl.len) {
				value = cl_malloc(inl.len + 1);
				if (value) {
					memcpy(value, inl.p, inl.len);
					value[inl.len] = '\0';
				}
			}
			if (type && strcmp(type, "inlineStr") == 0)
				snprintf(text, sizeof(text), "%s", value ? value : "");
			else
				cell_text(type, style, value, ss, st, date1904, text, sizeof(text));
			if (csv_field(out, text))
				rc = CL_ENOMEM;
			next_col = col + 1;
		}
	}
	if (rc == CL_OK && ret < 0)
		rc = cl_error_set(CL_EPARSE, "the sheet is not well-formed XML");
	xmlFree(type);
	xmlFree(style);
	cl_free(value);
	cl_free(inl.p);
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
	zip_close(z);
	cl_free(x.p);
	strings_free(&ss);
	cl_free(st.is_date);
	if (rc) {
		cl_free(out.p);
		return rc;
	}
	*csv = out.p;
	*csv_len = out.len;
	return CL_OK;
}
