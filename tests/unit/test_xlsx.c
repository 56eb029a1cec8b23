/*
 * XLSX to CSV (cl_xlsx.c) against workbooks made here, cell by cell:
 * shared strings (rich text joined, phonetic readings left out), inline
 * strings, numbers, dates and times in built-in and custom formats and in
 * both date systems, booleans, missing cells and empty rows; and hostile
 * or broken workbooks, each refused with an error that says what is wrong:
 * cells out of order, references that are no cells, shared strings that
 * do not exist, a missing sheet or part, a part whose declared size is
 * huge, a sheet whose text grows past the limit through one shared string
 * repeated, malformed XML, and document type declarations (entity
 * expansion, external entities), in UTF-8 or UTF-16.
 */
#include "cl_test.h"
#include "cl_test_xlsx.h"
#include "batch/cl_xlsx.h"
#include "core/cl_error.h"
#include "core/cl_mem.h"

/* The workbook's sheet as CSV; *rc its return. NULL on error. */
static char *convert(const char *zip, size_t len, const char *sheet, int *rc)
{
	char *csv = NULL;
	size_t n = 0;

	*rc = cl_xlsx_to_csv(zip, len, sheet, &csv, &n);
	if (*rc == CL_OK)
		assert_int_equal(strlen(csv), n);
	return csv;
}

/* A one-sheet workbook of `rows` gives exactly `want`. */
static void expect_csv(const char *rows, const char *sst, const char *styles, int date1904,
		       const char *want)
{
	size_t len;
	char *zip = cl_test_xlsx(rows, sst, styles, date1904, &len), *csv;
	int rc;

	assert_non_null(zip);
	csv = convert(zip, len, NULL, &rc);
	if (rc != CL_OK)
		fail_msg("cl_xlsx_to_csv: %s", cl_error_detail());
	assert_string_equal(csv, want);
	cl_free(csv);
	free(zip);
}

/* The zip is refused with rc, the detail holding `has`. */
static void expect_error(const char *zip, size_t len, const char *sheet, int want_rc,
			 const char *has)
{
	int rc;
	char *csv = convert(zip, len, sheet, &rc);

	assert_null(csv);
	if (rc != want_rc || !strstr(cl_error_detail(), has))
		fail_msg("got %d '%s', want %d with '%s'", rc, cl_error_detail(), want_rc, has);
}

/* A one-sheet workbook of `rows` is refused with rc and `has`. */
static void expect_sheet_error(const char *rows, const char *sst, int want_rc, const char *has)
{
	size_t len;
	char *zip = cl_test_xlsx(rows, sst, NULL, 0, &len);

	assert_non_null(zip);
	expect_error(zip, len, NULL, want_rc, has);
	free(zip);
}

static void test_strings(void **state)
{
	(void)state;
	/* shared: plain, rich text runs joined, a phonetic reading left out,
	 * spaces kept, entities decoded; quoting where CSV needs it */
	expect_csv("<row r=\"1\"><c r=\"A1\" t=\"s\"><v>0</v></c><c r=\"B1\" t=\"s\"><v>1</v></c>"
		   "<c r=\"C1\" t=\"s\"><v>2</v></c><c r=\"D1\" t=\"s\"><v>3</v></c></row>"
		   "<row r=\"2\"><c r=\"A2\" t=\"s\"><v>4</v></c><c r=\"B2\" t=\"s\"><v>0</v></c>"
		   "</row>",
		   "<si><t>plain</t></si>"
		   "<si><r><rPr><b/></rPr><t>rich </t></r><r><t>text</t></r></si>"
		   "<si><t>\xe6\x9d\xb1\xe4\xba\xac</t><rPh sb=\"0\" eb=\"2\"><t>TOKYO</t></rPh></si>"
		   "<si><t xml:space=\"preserve\"> a, \"b\" &amp; &lt;c&gt; </t></si>"
		   "<si><t>line\nbreak</t></si>",
		   NULL, 0,
		   "plain,rich text,\xe6\x9d\xb1\xe4\xba\xac,\" a, \"\"b\"\" & <c> \"\n"
		   "\"line\nbreak\",plain,,\n");
	/* inline strings, with runs; an empty one */
	expect_csv("<row><c r=\"A1\" t=\"inlineStr\"><is><t>id</t></is></c>"
		   "<c r=\"B1\" t=\"inlineStr\"><is><r><t>na</t></r><r><t>me</t></r></is></c></row>"
		   "<row><c r=\"A2\" t=\"inlineStr\"><is><t>x;y</t></is></c>"
		   "<c r=\"B2\" t=\"inlineStr\"><is><t/></is></c></row>",
		   NULL, NULL, 0, "id,name\nx;y,\n");
}

static void test_numbers_and_booleans(void **state)
{
	(void)state;
	/* numbers as written (no style, or a style that is no date); a
	 * formula's cached value; a boolean; an error value */
	expect_csv("<row><c r=\"A1\"><v>42</v></c><c r=\"B1\" t=\"n\"><v>3.14</v></c>"
		   "<c r=\"C1\" s=\"0\"><v>1E-3</v></c><c r=\"D1\"><f>A1*2</f><v>84</v></c>"
		   "<c r=\"E1\" t=\"b\"><v>1</v></c><c r=\"F1\" t=\"b\"><v>0</v></c>"
		   "<c r=\"G1\" t=\"e\"><v>#N/A</v></c><c r=\"H1\" t=\"str\"><f>\"a\"</f><v>a</v></c>"
		   "<c r=\"I1\"><v>-7</v></c></row>",
		   NULL, "<cellXfs count=\"1\"><xf numFmtId=\"2\"/></cellXfs>", 0,
		   "42,3.14,1E-3,84,true,false,#N/A,a,-7\n");
}

static void test_dates(void **state)
{
	static const char styles[] =
		"<numFmts count=\"3\"><numFmt numFmtId=\"164\" formatCode=\"yyyy\\-mm\\-dd hh:mm\"/>"
		"<numFmt numFmtId=\"700\" formatCode=\"d/m/yy\"/>"
		"<numFmt numFmtId=\"165\" formatCode=\"&quot;day &quot;0.00\"/></numFmts>"
		"<cellXfs count=\"8\"><xf numFmtId=\"0\"/><xf numFmtId=\"14\"/><xf numFmtId=\"22\"/>"
		"<xf numFmtId=\"164\"/><xf numFmtId=\"20\"/><xf numFmtId=\"46\"/>"
		"<xf numFmtId=\"700\"/><xf numFmtId=\"165\"/></cellXfs>";

	(void)state;
	/* built-in date (14), date and time (22), a custom date and time
	 * (164), a time of day (20), a duration past a day (46), a custom
	 * date with an id past 511 (700), a custom format that only says
	 * "day" in quotes (165: a number) */
	expect_csv("<row><c r=\"A1\" s=\"1\"><v>46346</v></c><c r=\"B1\" s=\"2\"><v>46346.25</v></c>"
		   "<c r=\"C1\" s=\"3\"><v>46346.5</v></c><c r=\"D1\" s=\"4\"><v>0.75</v></c>"
		   "<c r=\"E1\" s=\"5\"><v>1.5</v></c><c r=\"F1\" s=\"6\"><v>18264</v></c>"
		   "<c r=\"G1\" s=\"7\"><v>46346</v></c><c r=\"H1\" s=\"0\"><v>46346</v></c></row>",
		   NULL, styles, 0,
		   "2026-11-20,2026-11-20T06:00:00Z,2026-11-20T12:00:00Z,18:00:00,36:00:00,"
		   "1950-01-01,46346,46346\n");
	/* the 1900 system's first days, before and after Excel's 29 February
	 * 1900; a serial past 9999-12-31 and a negative one stay numbers; a
	 * date cell with text that is no number stays as it is */
	expect_csv("<row><c r=\"A1\" s=\"1\"><v>1</v></c><c r=\"B1\" s=\"1\"><v>59</v></c>"
		   "<c r=\"C1\" s=\"1\"><v>61</v></c><c r=\"D1\" s=\"1\"><v>2958466</v></c>"
		   "<c r=\"E1\" s=\"1\"><v>-1</v></c><c r=\"F1\" s=\"1\"><v>soon</v></c></row>",
		   NULL, styles, 0, "1900-01-01,1900-02-28,1900-03-01,2958466,-1,soon\n");
	/* a 1904 workbook: serial 0 is 1904-01-01 */
	expect_csv("<row><c r=\"A1\" s=\"1\"><v>0</v></c><c r=\"B1\" s=\"1\"><v>44884</v></c></row>",
		   NULL, styles, 1, "1904-01-01,2026-11-20\n");
}

static void test_missing_cells_and_rows(void **state)
{
	(void)state;
	/* a gap between cells, a row shorter than the header padded to it, a
	 * row with no r attributes (cells in order), rows with no cells or
	 * only empty cells (no records), and a row longer than the header
	 * kept as it is (the mapping quarantines it) */
	expect_csv("<row r=\"1\"><c r=\"A1\"><v>1</v></c><c r=\"B1\"><v>2</v></c>"
		   "<c r=\"C1\"><v>3</v></c></row>"
		   "<row r=\"2\"><c r=\"A2\"><v>4</v></c><c r=\"C2\"><v>6</v></c></row>"
		   "<row r=\"3\"><c r=\"B3\"><v>8</v></c></row>"
		   "<row r=\"4\"/>"
		   "<row r=\"5\"><c r=\"A5\" s=\"0\"/><c r=\"B5\" t=\"s\"/><c r=\"C5\"><v></v></c></row>"
		   "<row r=\"6\"><c><v>10</v></c><c><v>11</v></c></row>"
		   "<row r=\"9\"><c r=\"A9\"><v>1</v></c><c r=\"E9\"><v>5</v></c></row>",
		   NULL, NULL, 0, "1,2,3\n4,,6\n,8,\n10,11,\n1,,,,5\n");
	/* a sheet with no rows: no text at all */
	expect_csv("", NULL, NULL, 0, "");
}

static void test_bad_cells(void **state)
{
	(void)state;
	expect_sheet_error("<row><c r=\"C1\"><v>1</v></c><c r=\"A1\"><v>2</v></c></row>", NULL,
			   CL_EPARSE, "cell A1 comes after a cell to its right");
	expect_sheet_error("<row><c r=\"A1\"><v>1</v></c><c r=\"A1\"><v>2</v></c></row>", NULL,
			   CL_EPARSE, "cell A1 comes after");
	expect_sheet_error("<row><c r=\"a1\"><v>1</v></c></row>", NULL, CL_EPARSE,
			   "'a1' is not a cell reference");
	expect_sheet_error("<row><c r=\"B\"><v>1</v></c></row>", NULL, CL_EPARSE,
			   "'B' is not a cell reference");
	expect_sheet_error("<row><c r=\"AAAA1\"><v>1</v></c></row>", NULL, CL_EPARSE,
			   "'AAAA1' is not a cell reference");
	expect_sheet_error("<row><c r=\"XFE1\"><v>1</v></c></row>", NULL, CL_EPARSE,
			   "cell XFE1 is past column XFD");
	expect_sheet_error("<row><c r=\"A1\" t=\"s\"><v>1</v></c></row>", "<si><t>only</t></si>",
			   CL_EPARSE, "cell A1: shared string '1' does not exist (the workbook has 1)");
	expect_sheet_error("<row><c r=\"B1\" t=\"s\"><v>x</v></c></row>", "<si><t>only</t></si>",
			   CL_EPARSE, "cell B1: shared string 'x' does not exist");
	expect_sheet_error("<row><c r=\"A1\" t=\"s\"><v>-1</v></c></row>", "<si><t>only</t></si>",
			   CL_EPARSE, "shared string '-1' does not exist");
	expect_sheet_error("<row><c r=\"A1\" t=\"s\"><v>0</v></c></row>", NULL, CL_EPARSE,
			   "(the workbook has 0)");
}

/* A workbook whose parts are given: the workbook's sheets element, the
 * relationships' targets, the sheet part (name and text). */
static char *book(const char *sheets, const char *target, const char *part, const char *text,
		  size_t *len)
{
	char workbook[1000], rels[1000];
	const struct cl_test_part parts[] = {
		{ "xl/workbook.xml", workbook, 0 },
		{ "xl/_rels/workbook.xml.rels", rels, 0 },
		{ part, text, 0 },
	};

	snprintf(workbook, sizeof(workbook), "<workbook xmlns=\"" CL_TEST_XLSX_NS "\" xmlns:r=\""
		 CL_TEST_XLSX_REL "\"><sheets>%s</sheets></workbook>", sheets);
	snprintf(rels, sizeof(rels), "<Relationships xmlns=\"http://schemas.openxmlformats.org/"
		 "package/2006/relationships\"><Relationship Id=\"rId1\" Target=\"%s\"/>"
		 "<Relationship Id=\"rId2\" Target=\"/xl/worksheets/second.xml\"/></Relationships>",
		 target);
	return cl_test_zip(parts, 3, len);
}

static void test_sheets(void **state)
{
	static const char two[] = "<sheet name=\"Patients\" sheetId=\"1\" r:id=\"rId1\"/>"
				  "<sheet name=\"Notes\" sheetId=\"2\" r:id=\"rId2\"/>";
	static const char rows[] = "<worksheet><sheetData><row><c r=\"A1\"><v>7</v></c></row>"
				   "</sheetData></worksheet>";
	size_t len;
	char *zip, *csv;
	int rc;

	(void)state;
	zip = book(two, "worksheets/sheet1.xml", "xl/worksheets/sheet1.xml", rows, &len);
	assert_true(cl_xlsx_sniff(zip, len));
	csv = convert(zip, len, "Patients", &rc);
	assert_int_equal(rc, CL_OK);
	assert_string_equal(csv, "7\n");
	cl_free(csv);
	/* the first by default */
	csv = convert(zip, len, "", &rc);
	assert_int_equal(rc, CL_OK);
	assert_string_equal(csv, "7\n");
	cl_free(csv);
	/* a sheet that is not there names those that are */
	expect_error(zip, len, "Staff", CL_ENOENT, "no sheet 'Staff' (the workbook has 'Patients', "
		     "'Notes')");
	/* a sheet whose part is not there (an absolute target) */
	expect_error(zip, len, "Notes", CL_EPARSE, "the workbook has no xl/worksheets/second.xml");
	free(zip);
	/* no sheets; a relationship that names no part */
	zip = book("", "worksheets/sheet1.xml", "xl/worksheets/sheet1.xml", rows, &len);
	expect_error(zip, len, NULL, CL_EPARSE, "the workbook has no sheets");
	free(zip);
	zip = book("<sheet name=\"A\" sheetId=\"1\" r:id=\"rId9\"/>", "worksheets/sheet1.xml",
		   "xl/worksheets/sheet1.xml", rows, &len);
	expect_error(zip, len, NULL, CL_EPARSE, "relationships do not say where the sheet is");
	free(zip);
	/* not a workbook, not a zip */
	{
		const struct cl_test_part parts[] = { { "readme.txt", "hello", 0 } };

		zip = cl_test_zip(parts, 1, &len);
		assert_false(cl_xlsx_sniff(zip, len));
		expect_error(zip, len, NULL, CL_EPARSE, "the workbook has no xl/workbook.xml");
		free(zip);
	}
	{
		static const char junk[] = "PK\x03\x04 but no zip at all";

		assert_false(cl_xlsx_sniff(junk, sizeof(junk) - 1));
		expect_error(junk, sizeof(junk) - 1, NULL, CL_EPARSE, "not a readable XLSX");
	}
}

/* Sets the uncompressed size the zip declares for `name`, in its local
 * header and its central directory alike. */
static void declare_size(char *zip, size_t len, const char *name, uint32_t size)
{
	size_t nl = strlen(name);
	int found = 0;

	for (size_t i = 0; i + 46 + nl <= len; i++) {
		if (memcmp(zip + i, "PK\x03\x04", 4) == 0 && zip[i + 26] == (char)nl &&
		    memcmp(zip + i + 30, name, nl) == 0) {
			memcpy(zip + i + 22, &size, 4); /* little-endian, as this machine */
			found++;
		} else if (memcmp(zip + i, "PK\x01\x02", 4) == 0 && zip[i + 28] == (char)nl &&
			   memcmp(zip + i + 46, name, nl) == 0) {
			memcpy(zip + i + 24, &size, 4);
			found++;
		}
	}
	assert_int_equal(found, 2);
}

static void test_bombs(void **state)
{
	size_t len;
	char *zip, *big, *cells;

	(void)state;
	/* a part declaring 3 GiB, refused before a byte is inflated */
	zip = cl_test_xlsx("<row><c r=\"A1\"><v>1</v></c></row>", NULL, NULL, 0, &len);
	declare_size(zip, len, "xl/worksheets/sheet1.xml", 3u << 30);
	expect_error(zip, len, NULL, CL_ETOOBIG, "xl/worksheets/sheet1.xml is larger than "
		     "268435456 bytes");
	free(zip);
	/* a few kilobytes of zip: one 8 MiB shared string in 40 cells would
	 * be 320 MiB of CSV, past the sheet's limit */
	big = malloc((8u << 20) + 32);
	strcpy(big, "<si><t>");
	memset(big + 7, 'x', 8u << 20);
	strcpy(big + 7 + (8u << 20), "</t></si>");
	cells = malloc(40 * 40 + 20);
	strcpy(cells, "<row>");
	for (int i = 0; i < 40; i++)
		strcat(cells, "<c t=\"s\"><v>0</v></c>");
	strcat(cells, "</row>");
	zip = cl_test_xlsx(cells, big, NULL, 0, &len);
	assert_true(len < 100000);
	expect_error(zip, len, NULL, CL_ETOOBIG, "the sheet's text grows past 268435456 bytes");
	free(zip);
	free(cells);
	free(big);
}

static void test_malformed_xml(void **state)
{
	size_t len;
	char *zip;

	(void)state;
	expect_sheet_error("<row><c r=\"A1\"><v>1</v></row>", NULL, CL_EPARSE,
			   "the sheet is not well-formed XML");
	expect_sheet_error("<row><c r=\"A1\"><v>1</v></c></row>", "<si><t>open", CL_EPARSE,
			   "xl/sharedStrings.xml is not well-formed XML");
	expect_sheet_error("<row><c r=\"A1\"><v>&undefined;</v></c></row>", NULL, CL_EPARSE,
			   "the sheet is not well-formed XML");
	zip = cl_test_xlsx("<row><c r=\"A1\"><v>1</v></c></row>", NULL, "<cellXfs><xf></cellXfs>",
			   0, &len);
	expect_error(zip, len, NULL, CL_EPARSE, "xl/styles.xml is not well-formed XML");
	free(zip);
	zip = book("<sheet name=\"A\" sheetId=\"1\" r:id=\"rId1\">", "worksheets/sheet1.xml",
		   "xl/worksheets/sheet1.xml", "<worksheet/>", &len);
	expect_error(zip, len, NULL, CL_EPARSE, "xl/workbook.xml is not well-formed XML");
	free(zip);
}

/* The same part in UTF-16LE, with its byte-order mark. */
static char *utf16(const char *s, size_t *len)
{
	size_t n = strlen(s);
	char *out = malloc(2 * n + 2);

	out[0] = (char)0xff;
	out[1] = (char)0xfe;
	for (size_t i = 0; i < n; i++) {
		out[2 + 2 * i] = s[i];
		out[3 + 2 * i] = 0;
	}
	*len = 2 * n + 2;
	return out;
}

static void test_entities_refused(void **state)
{
	static const char laughs[] =
		"<?xml version=\"1.0\"?><!DOCTYPE sst [<!ENTITY a \"aaaaaaaaaa\">"
		"<!ENTITY b \"&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;\"><!ENTITY c \"&b;&b;&b;&b;&b;&b;&b;&b;\">]>"
		"<sst><si><t>&c;</t></si></sst>";
	static const char xxe[] =
		"<?xml version=\"1.0\"?><!DOCTYPE worksheet [<!ENTITY x SYSTEM \"file:///etc/passwd\">]>"
		"<worksheet><sheetData><row><c r=\"A1\" t=\"inlineStr\"><is><t>&x;</t></is></c></row>"
		"</sheetData></worksheet>";
	static const char rows[] = "<worksheet><sheetData><row><c r=\"A1\"><v>1</v></c></row>"
				   "</sheetData></worksheet>";
	static const char sheets[] = "<sheet name=\"A\" sheetId=\"1\" r:id=\"rId1\"/>";
	size_t len = 0, n16;
	char *zip, *text16;

	(void)state;
	/* billion laughs in the shared strings */
	{
		char workbook[400];
		const struct cl_test_part parts[] = {
			{ "xl/workbook.xml", workbook, 0 },
			{ "xl/_rels/workbook.xml.rels", "<Relationships><Relationship Id=\"rId1\" "
			  "Target=\"worksheets/sheet1.xml\"/></Relationships>", 0 },
			{ "xl/worksheets/sheet1.xml", rows, 0 },
			{ "xl/sharedStrings.xml", laughs, 0 },
		};

		snprintf(workbook, sizeof(workbook), "<workbook xmlns:r=\"" CL_TEST_XLSX_REL "\">"
			 "<sheets>%s</sheets></workbook>", sheets);
		zip = cl_test_zip(parts, 4, &len);
		expect_error(zip, len, NULL, CL_EPARSE, "xl/sharedStrings.xml holds a document "
			     "type declaration (<!DOCTYPE): refused");
		free(zip);
	}
	/* an external entity in the sheet */
	zip = book(sheets, "worksheets/sheet1.xml", "xl/worksheets/sheet1.xml", xxe, &len);
	expect_error(zip, len, NULL, CL_EPARSE, "the sheet holds a document type declaration");
	free(zip);
	/* an entity declared without a DOCTYPE around it is refused too */
	zip = book(sheets, "worksheets/sheet1.xml", "xl/worksheets/sheet1.xml",
		   "<worksheet><!ENTITY x \"y\"><sheetData/></worksheet>", &len);
	expect_error(zip, len, NULL, CL_EPARSE, "the sheet holds an entity declaration (<!ENTITY): refused");
	free(zip);
	/* in the workbook part itself */
	{
		const struct cl_test_part parts[] = {
			{ "xl/workbook.xml", "<!DOCTYPE workbook SYSTEM \"http://example.org/x.dtd\">"
			  "<workbook/>", 0 },
		};

		zip = cl_test_zip(parts, 1, &len);
		expect_error(zip, len, NULL, CL_EPARSE, "xl/workbook.xml holds a document type declaration");
		free(zip);
	}
	/* the same laughs in UTF-16, where a byte search cannot see them:
	 * the reader refuses the declaration */
	text16 = utf16(xxe, &n16);
	{
		char workbook[400];
		const struct cl_test_part parts[] = {
			{ "xl/workbook.xml", workbook, 0 },
			{ "xl/_rels/workbook.xml.rels", "<Relationships><Relationship Id=\"rId1\" "
			  "Target=\"worksheets/sheet1.xml\"/></Relationships>", 0 },
			{ "xl/worksheets/sheet1.xml", text16, n16 },
		};

		snprintf(workbook, sizeof(workbook), "<workbook xmlns:r=\"" CL_TEST_XLSX_REL "\">"
			 "<sheets>%s</sheets></workbook>", sheets);
		zip = cl_test_zip(parts, 3, &len);
		expect_error(zip, len, NULL, CL_EPARSE, "the sheet is not well-formed XML");
		free(zip);
	}
	free(text16);
	/* and a UTF-16 sheet without one reads as any other */
	text16 = utf16("<?xml version=\"1.0\" encoding=\"UTF-16\"?><worksheet><sheetData><row>"
		       "<c r=\"A1\" t=\"inlineStr\"><is><t>wide</t></is></c><c r=\"B1\"><v>2</v></c>"
		       "</row></sheetData></worksheet>", &n16);
	{
		char workbook[400];
		const struct cl_test_part parts[] = {
			{ "xl/workbook.xml", workbook, 0 },
			{ "xl/_rels/workbook.xml.rels", "<Relationships><Relationship Id=\"rId1\" "
			  "Target=\"worksheets/sheet1.xml\"/></Relationships>", 0 },
			{ "xl/worksheets/sheet1.xml", text16, n16 },
		};
		char *csv;
		int rc;

		snprintf(workbook, sizeof(workbook), "<workbook xmlns:r=\"" CL_TEST_XLSX_REL "\">"
			 "<sheets>%s</sheets></workbook>", sheets);
		zip = cl_test_zip(parts, 3, &len);
		csv = convert(zip, len, NULL, &rc);
		assert_int_equal(rc, CL_OK);
		assert_string_equal(csv, "wide,2\n");
		cl_free(csv);
		free(zip);
	}
	free(text16);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_strings),
		cmocka_unit_test(test_numbers_and_booleans),
		cmocka_unit_test(test_dates),
		cmocka_unit_test(test_missing_cells_and_rows),
		cmocka_unit_test(test_bad_cells),
		cmocka_unit_test(test_sheets),
		cmocka_unit_test(test_bombs),
		cmocka_unit_test(test_malformed_xml),
		cmocka_unit_test(test_entities_refused),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
