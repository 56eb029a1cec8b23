/*
 * The RFC 4180 CSV parser (cl_csv.c) against known inputs, record by
 * record: quoting, doubled quotes, CRLF, LF and CR line ends (and the line
 * numbers they make), line breaks inside quoted fields, a byte-order mark,
 * empty fields and trailing delimiters, ragged records, blank lines, the
 * delimiter guessed from the header; and hostile input, each refused with
 * the line and what was wrong while reading goes on: stray quotes, text
 * after a closing quote, a quote never closed at the end of the file, NUL
 * bytes, bytes that are not UTF-8, too many fields, very long fields.
 * Then the writer's quoting, read back.
 */
#include "cl_test.h"
#include "batch/cl_csv.h"
#include "core/cl_csv_write.h"
#include "core/cl_error.h"

/*
 * Parses src (n bytes) and renders what came out, one line per call:
 * a record as its fields in brackets after its line number
 * ("2:[a][b]"), an error as "!" and the parser's message, so that a
 * whole file's reading is one string to compare.
 */
static char *render(const char *src, size_t n, char delim)
{
	struct cl_csv c;
	size_t cap = 4096, o = 0;
	char *out = malloc(cap);
	int rc;

	assert_non_null(out);
	out[0] = '\0';
	cl_csv_init(&c, src, n, delim);
	while ((rc = cl_csv_next(&c)) != 0) {
		size_t need = 64 + sizeof(c.err);

		for (uint32_t i = 0; rc == 1 && i < c.nf; i++)
			need += c.f[i].len + 2;
		while (o + need >= cap)
			out = realloc(out, cap *= 2);
		if (rc < 0) {
			assert_int_equal(rc, CL_EPARSE);
			o += (size_t)snprintf(out + o, cap - o, "!%s\n", c.err);
			continue;
		}
		o += (size_t)snprintf(out + o, cap - o, "%llu:", (unsigned long long)c.line);
		for (uint32_t i = 0; i < c.nf; i++) {
			out[o++] = '[';
			memcpy(out + o, c.f[i].p, c.f[i].len);
			o += c.f[i].len;
			out[o++] = ']';
		}
		out[o++] = '\n';
		out[o] = '\0';
	}
	cl_csv_free(&c);
	return out;
}

static void expect(const char *src, const char *want)
{
	char *got = render(src, strlen(src), 0);

	assert_string_equal(got, want);
	free(got);
}

static void test_quoting(void **state)
{
	(void)state;
	expect("a,b,c\n1,2,3\n", "1:[a][b][c]\n2:[1][2][3]\n");
	/* quoted fields: delimiters, doubled quotes, an empty quoted field */
	expect("\"a,b\",\"say \"\"hi\"\"\",\"\"\n", "1:[a,b][say \"hi\"][]\n");
	/* a field that is only a doubled quote; quotes mixed with plain */
	expect("\"\"\"\",x,\"y\"\n", "1:[\"][x][y]\n");
	/* a quote inside an unquoted field, text after a closing quote:
	 * refused with the line, the next line read */
	expect("a,b\nx\"y,2\n\"q\"z,3\nok,4\n",
	       "1:[a][b]\n!line 2: a quote inside an unquoted field\n"
	       "!line 3: text after a closing quote (a quote inside a field must be doubled)\n"
	       "4:[ok][4]\n");
	/* spaces around a quoted field are text: refused, as RFC 4180 says */
	expect(" \"a\",b\n\"a\" ,b\n",
	       "!line 1: a quote inside an unquoted field\n"
	       "!line 2: text after a closing quote (a quote inside a field must be doubled)\n");
}

static void test_line_ends(void **state)
{
	(void)state;
	expect("a,b\r\n1,2\r\n", "1:[a][b]\n2:[1][2]\n");
	expect("a,b\n1,2", "1:[a][b]\n2:[1][2]\n"); /* no line end at the end */
	/* CR alone, as old Mac files: records, and their line numbers */
	expect("a,b\r1,2\r3,4\r", "1:[a][b]\n2:[1][2]\n3:[3][4]\n");
	/* all three mixed, blank lines between (not records, but counted) */
	expect("a\r\n\r\nb\n\nc\r\rd\n", "1:[a]\n3:[b]\n5:[c]\n7:[d]\n");
	/* line breaks inside quoted fields are kept and counted */
	expect("\"one\ntwo\",x\n\"three\r\nfour\",y\r\n\"five\rsix\",z\rlast,w\n",
	       "1:[one\ntwo][x]\n3:[three\r\nfour][y]\n5:[five\rsix][z]\n7:[last][w]\n");
	/* an error on a CR-only line resumes on the next one (it skipped to
	 * the end of the file, losing every record after it) */
	expect("a,b\rx\"y,1\r2,3\r", "1:[a][b]\n!line 2: a quote inside an unquoted field\n"
				     "3:[2][3]\n");
	/* blank lines only: no records */
	expect("\n\r\n\r", "");
	expect("", "");
}

static void test_fields(void **state)
{
	(void)state;
	/* empty fields anywhere; a trailing delimiter is one more empty field */
	expect(",,\na,,b\nc,\n,d\n", "1:[][][]\n2:[a][][b]\n3:[c][]\n4:[][d]\n");
	/* ragged records come as they are; the mapping quarantines them */
	expect("a,b,c\n1\n1,2,3,4\n", "1:[a][b][c]\n2:[1]\n3:[1][2][3][4]\n");
	/* a byte-order mark before the header is skipped, quoted or not */
	expect("\xef\xbb\xbfid,name\nx,y\n", "1:[id][name]\n2:[x][y]\n");
	expect("\xef\xbb\xbf\"id\",name\n", "1:[id][name]\n");
	expect("\xef\xbb\xbf", "");
	/* past the start it is text (U+FEFF) */
	expect("a\n\xef\xbb\xbf" "b\n", "1:[a]\n2:[\xef\xbb\xbf" "b]\n");
}

static void test_delimiters(void **state)
{
	char *got;

	(void)state;
	expect("a;b;c\n1;2,5;3\n", "1:[a][b][c]\n2:[1][2,5][3]\n");
	expect("a\tb\n1\t2\n", "1:[a][b]\n2:[1][2]\n");
	expect("a|b|c\n\"x|y\"|2|3\n", "1:[a][b][c]\n2:[x|y][2][3]\n");
	/* the most frequent outside quotes on the first line wins */
	expect("\"a;b;c\",d,e\n", "1:[a;b;c][d][e]\n");
	expect("a;b,c;d\n", "1:[a][b,c][d]\n");
	/* none at all: a comma, one field per line */
	expect("single\nx\n", "1:[single]\n2:[x]\n");
	/* a delimiter given is used as it is */
	got = render("a;b,c\n", 6, ',');
	assert_string_equal(got, "1:[a;b][c]\n");
	free(got);
}

static void test_unterminated(void **state)
{
	(void)state;
	/* a quote never closed: one error, then the lines after the one it
	 * opened on are read (before, all of them were lost in it) */
	expect("id,note\n1,\"open\n2,fine\n3,also fine\n",
	       "1:[id][note]\n!line 2: a quoted field is not closed\n3:[2][fine]\n"
	       "4:[3][also fine]\n");
	/* on the last line: the error alone */
	expect("id,note\n1,\"open", "1:[id][note]\n!line 2: a quoted field is not closed\n");
	/* opening on a line after a closed multi-line field */
	expect("\"a\nb\",1\n\"c,2\nd,3\n", "1:[a\nb][1]\n!line 3: a quoted field is not closed\n"
					 "4:[d][3]\n");
	/* a lone quote */
	expect("\"", "!line 1: a quoted field is not closed\n");
}

static void test_text(void **state)
{
	static const char nul[] = "a,b\nx,y\0z\n1,2\n";
	static const char utf16[] = "\xff\xfe" "a\0,\0b\0\n\0";
	char *got;

	(void)state;
	/* a NUL byte: the record refused naming the field, the next read */
	got = render(nul, sizeof(nul) - 1, 0);
	assert_string_equal(got, "1:[a][b]\n!line 2: field 2 holds a NUL byte (is the file UTF-16? "
				 "save it as UTF-8)\n3:[1][2]\n");
	free(got);
	/* UTF-16: every record refused, never read as text */
	got = render(utf16, sizeof(utf16) - 1, 0);
	assert_non_null(strstr(got, "!line 1: field 1 holds a NUL byte"));
	assert_null(strstr(got, "1:["));
	free(got);
	/* not UTF-8: Latin-1, a lone continuation byte, an overlong form, a
	 * surrogate, a sequence cut by the delimiter; valid UTF-8 passes */
	expect("caf\xe9,1\n", "!line 1: field 1 is not UTF-8 (byte 0xE9 at its byte 4; save the "
			      "file as UTF-8)\n");
	expect("ok,\x80\n", "!line 1: field 2 is not UTF-8 (byte 0x80 at its byte 1; save the file "
			    "as UTF-8)\n");
	expect("\xc0\xaf\n", "!line 1: field 1 is not UTF-8 (byte 0xC0 at its byte 1; save the file "
			     "as UTF-8)\n");
	expect("\xed\xa0\x80\n", "!line 1: field 1 is not UTF-8 (byte 0xED at its byte 1; save the "
				 "file as UTF-8)\n");
	expect("\xc3,\xa9\n", "!line 1: field 1 is not UTF-8 (byte 0xC3 at its byte 1; save the "
			      "file as UTF-8)\n");
	expect("\"caf\xc3\xa9\",\xf0\x9f\x98\x80,\xe2\x82\xac\n",
	       "1:[caf\xc3\xa9][\xf0\x9f\x98\x80][\xe2\x82\xac]\n");
	/* in a quoted field, on its own line: the record's first line */
	expect("x\n\"a\nb\xff\"\ny\n", "1:[x]\n!line 2: field 1 is not UTF-8 (byte 0xFF at its "
				       "byte 4; save the file as UTF-8)\n4:[y]\n");
}

static void test_too_many_fields(void **state)
{
	char *src = malloc(5000 * 2 + 10), *got;
	size_t n = 0;

	(void)state;
	/* 4,097 fields: refused, and reading goes on (it stopped the file) */
	for (int i = 0; i < 4097; i++) {
		src[n++] = 'x';
		src[n++] = i < 4096 ? ',' : '\n';
	}
	memcpy(src + n, "ok\n", 3);
	n += 3;
	got = render(src, n, 0);
	assert_string_equal(got, "!line 1: more than 4096 fields\n2:[ok]\n");
	free(got);
	/* exactly 4,096 read */
	src[4095 * 2 + 1] = '\n';
	got = render(src, 4096 * 2, 0);
	assert_int_equal(strlen(got), strlen("1:\n") + 4096 * 3);
	free(got);
	free(src);
}

static void test_long_fields(void **state)
{
	size_t big = (1u << 20) + 17, n = 0;
	char *src = malloc(3 * big + 64);
	struct cl_csv c;

	(void)state;
	/* a 1 MiB field plain, then the same quoted with doubled quotes and
	 * line breaks every so often; both read whole, in place and from
	 * the scratch space */
	n += (size_t)sprintf(src, "id,v\n1,");
	memset(src + n, 'p', big);
	n += big;
	n += (size_t)sprintf(src + n, "\n2,\"");
	for (size_t i = 0; i < big; i++)
		src[n++] = i % 1000 == 999 ? '\n' : i % 100 == 99 ? '"' : 'q';
	/* each quote doubled */
	{
		size_t o = n - big;
		char *q = malloc(2 * big);
		size_t k = 0;

		for (size_t i = 0; i < big; i++) {
			q[k++] = src[o + i];
			if (src[o + i] == '"')
				q[k++] = '"';
		}
		memcpy(src + o, q, k);
		n = o + k;
		free(q);
	}
	n += (size_t)sprintf(src + n, "\"\n3,end\n");
	cl_csv_init(&c, src, n, 0);
	assert_int_equal(cl_csv_next(&c), 1);
	assert_int_equal(cl_csv_next(&c), 1);
	assert_int_equal(c.nf, 2);
	assert_int_equal(c.f[1].len, big);
	for (size_t i = 0; i < big; i++)
		if (c.f[1].p[i] != 'p')
			fail_msg("plain field byte %zu", i);
	assert_int_equal(cl_csv_next(&c), 1);
	assert_int_equal(c.line, 3);
	assert_int_equal(c.f[1].len, big);
	for (size_t i = 0; i < big; i++) {
		char want = i % 1000 == 999 ? '\n' : i % 100 == 99 ? '"' : 'q';

		if (c.f[1].p[i] != want)
			fail_msg("quoted field byte %zu", i);
	}
	assert_int_equal(cl_csv_next(&c), 1);
	assert_int_equal(c.line, 4 + big / 1000);
	assert_memory_equal(c.f[1].p, "end", 3);
	assert_int_equal(cl_csv_next(&c), 0);
	cl_csv_free(&c);
	free(src);
}

static void test_write_field(void **state)
{
	static const char *const values[] = { "plain", "a,b", "say \"hi\"", "two\nlines",
					      "cr\rhere", "", " spaced ", "semi;colon" };
	char *buf = NULL, *got;
	size_t len = 0;
	FILE *f = open_memstream(&buf, &len);

	(void)state;
	assert_non_null(f);
	for (size_t i = 0; i < sizeof(values) / sizeof(values[0]); i++) {
		if (i)
			fputc(',', f);
		cl_csv_write_field(f, values[i], strlen(values[i]));
	}
	cl_csv_write_field(f, NULL, 3); /* NULL writes nothing */
	fputc('\n', f);
	fclose(f);
	assert_string_equal(buf, "plain,\"a,b\",\"say \"\"hi\"\"\",\"two\nlines\",\"cr\rhere\",, "
				 "spaced ,semi;colon\n");
	/* and it reads back as it was written */
	got = render(buf, len, ',');
	assert_string_equal(got, "1:[plain][a,b][say \"hi\"][two\nlines][cr\rhere][][ spaced ]"
				 "[semi;colon]\n");
	free(got);
	free(buf);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_quoting),
		cmocka_unit_test(test_line_ends),
		cmocka_unit_test(test_fields),
		cmocka_unit_test(test_delimiters),
		cmocka_unit_test(test_unterminated),
		cmocka_unit_test(test_text),
		cmocka_unit_test(test_too_many_fields),
		cmocka_unit_test(test_long_fields),
		cmocka_unit_test(test_write_field),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
