/*
 * Workbooks made by tests: a zip of the parts given, in memory (libzip),
 * and a minimal XLSX around a sheet's <sheetData> — its workbook, its
 * relationships, and shared strings and styles when given — so that a
 * test states the cells it means and nothing else. Hostile workbooks are
 * made from parts directly.
 */
#ifndef CL_TEST_XLSX_H
#define CL_TEST_XLSX_H

#include <stdlib.h>
#include <string.h>
#include <zip.h>

struct cl_test_part {
	const char *name;
	const char *data;   /* NULL: no such part */
	size_t len;         /* 0: strlen(data) */
};

/* The zip of the parts (malloc'd), its length into *len; NULL on failure. */
static inline char *cl_test_zip(const struct cl_test_part *parts, int n, size_t *len)
{
	zip_error_t err;
	zip_source_t *src;
	zip_t *z;
	char *out = NULL;
	zip_int64_t size;

	*len = 0;
	zip_error_init(&err);
	src = zip_source_buffer_create(NULL, 0, 0, &err);
	if (!src)
		return NULL;
	zip_source_keep(src);
	z = zip_open_from_source(src, ZIP_TRUNCATE, &err);
	if (!z) {
		zip_source_free(src);
		return NULL;
	}
	for (int i = 0; i < n; i++) {
		zip_source_t *s;

		if (!parts[i].data)
			continue;
		s = zip_source_buffer(z, parts[i].data,
				      parts[i].len ? parts[i].len : strlen(parts[i].data), 0);
		if (!s || zip_file_add(z, parts[i].name, s, ZIP_FL_ENC_UTF_8) < 0) {
			zip_source_free(s);
			zip_discard(z);
			zip_source_free(src);
			return NULL;
		}
	}
	if (zip_close(z) != 0 || zip_source_open(src) != 0) {
		zip_source_free(src);
		return NULL;
	}
	zip_source_seek(src, 0, SEEK_END);
	size = zip_source_tell(src);
	zip_source_seek(src, 0, SEEK_SET);
	if (size > 0 && (out = malloc((size_t)size)) &&
	    zip_source_read(src, out, (zip_uint64_t)size) != size) {
		free(out);
		out = NULL;
	}
	zip_source_close(src);
	zip_source_free(src);
	*len = out ? (size_t)size : 0;
	return out;
}

#define CL_TEST_XLSX_NS "http://schemas.openxmlformats.org/spreadsheetml/2006/main"
#define CL_TEST_XLSX_REL "http://schemas.openxmlformats.org/officeDocument/2006/relationships"

/*
 * A workbook of one sheet, "Sheet1", whose <sheetData> holds `rows` (the
 * <row> elements). `sst_items`: the <si> elements of xl/sharedStrings.xml, or
 * NULL for none; `styles`: the inside of xl/styles.xml's <styleSheet>, or
 * NULL; `date1904`: the workbook counts dates from 1904. malloc'd.
 */
static inline char *cl_test_xlsx(const char *rows, const char *sst_items, const char *styles,
				 int date1904, size_t *len)
{
	static const char types[] =
		"<?xml version=\"1.0\" encoding=\"UTF-8\"?><Types xmlns=\"http://schemas."
		"openxmlformats.org/package/2006/content-types\"><Default Extension=\"xml\" "
		"ContentType=\"application/xml\"/></Types>";
	static const char rels[] =
		"<?xml version=\"1.0\" encoding=\"UTF-8\"?><Relationships xmlns=\"http://schemas."
		"openxmlformats.org/package/2006/relationships\"><Relationship Id=\"rId1\" "
		"Type=\"" CL_TEST_XLSX_REL "/worksheet\" Target=\"worksheets/sheet1.xml\"/>"
		"</Relationships>";
	char workbook[600], *sheet, *sst = NULL, *sty = NULL, *out;
	size_t n;

	snprintf(workbook, sizeof(workbook),
		 "<?xml version=\"1.0\" encoding=\"UTF-8\"?><workbook xmlns=\"" CL_TEST_XLSX_NS
		 "\" xmlns:r=\"" CL_TEST_XLSX_REL "\">%s<sheets><sheet name=\"Sheet1\" "
		 "sheetId=\"1\" r:id=\"rId1\"/></sheets></workbook>",
		 date1904 ? "<workbookPr date1904=\"1\"/>" : "");
	n = strlen(rows) + 300;
	sheet = malloc(n);
	snprintf(sheet, n, "<?xml version=\"1.0\" encoding=\"UTF-8\"?><worksheet xmlns=\""
		 CL_TEST_XLSX_NS "\"><sheetData>%s</sheetData></worksheet>", rows);
	if (sst_items) {
		n = strlen(sst_items) + 300;
		sst = malloc(n);
		snprintf(sst, n, "<?xml version=\"1.0\" encoding=\"UTF-8\"?><sst xmlns=\""
			 CL_TEST_XLSX_NS "\">%s</sst>", sst_items);
	}
	if (styles) {
		n = strlen(styles) + 300;
		sty = malloc(n);
		snprintf(sty, n, "<?xml version=\"1.0\" encoding=\"UTF-8\"?><styleSheet xmlns=\""
			 CL_TEST_XLSX_NS "\">%s</styleSheet>", styles);
	}
	{
		const struct cl_test_part parts[] = {
			{ "[Content_Types].xml", types, 0 },
			{ "xl/workbook.xml", workbook, 0 },
			{ "xl/_rels/workbook.xml.rels", rels, 0 },
			{ "xl/worksheets/sheet1.xml", sheet, 0 },
			{ "xl/sharedStrings.xml", sst, 0 },
			{ "xl/styles.xml", sty, 0 },
		};

		out = cl_test_zip(parts, 6, len);
	}
	free(sheet);
	free(sst);
	free(sty);
	return out;
}

#endif
