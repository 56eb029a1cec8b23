/*
 * A bronze source's file manifest (bronze/cl_manifest.c): entries appended
 * are listed back whole and in order; a torn last line, a line that is not
 * JSON and an entry without a hash or path are reported with their line
 * number and skipped; a callback's non-zero return stops the listing; a
 * missing manifest is an empty list; check finds a file intact, changed
 * or gone.
 */
#include "cl_test.h"
#include "bronze/cl_manifest.h"
#include "core/cl_error.h"
#include "core/cl_fs.h"

#include <sodium.h>

struct seen {
	char lines[8][160];
	int n, bad;
	uint64_t bad_line[8];
	int stop_at;
};

static int on_entry(void *arg, const char *source, const struct cl_manifest_entry *e)
{
	struct seen *s = arg;

	if (s->n < 8)
		snprintf(s->lines[s->n], sizeof(s->lines[0]), "%s|%s|%s|%s|%s|%lld|%lld", source,
			 e->hash, e->path, e->name ? e->name : "-", e->format ? e->format : "-",
			 (long long)e->bytes, (long long)e->ingested_us);
	s->n++;
	return s->stop_at && s->n == s->stop_at ? CL_EFAILED : 0;
}

static void on_bad(void *arg, const char *source, uint64_t line, const char *why)
{
	struct seen *s = arg;

	(void)source;
	assert_non_null(why);
	if (s->bad < 8)
		s->bad_line[s->bad] = line;
	s->bad++;
}

static void test_append_list_check(void **state)
{
	char dir[256], path[512], hex[65];
	unsigned char h[32];
	const char content[] = "id,name\n1,a\n";
	struct seen s = { 0 };
	struct cl_manifest_entry e = { .name = "a.csv", .path = "bronze/src/dt=2026-01-01/a.csv",
				       .format = "csv", .bytes = sizeof(content) - 1,
				       .run_id = 3, .ingested_us = 1000 };
	FILE *f;

	(void)state;
	assert_int_equal(sodium_init() >= 0, 1);
	cl_test_tmpdir(dir, sizeof(dir));
	assert_int_equal(cl_manifest_list(dir, "src", on_entry, on_bad, &s), CL_OK);
	assert_int_equal(s.n, 0);
	snprintf(path, sizeof(path), "%s/bronze/src/dt=2026-01-01", dir);
	assert_int_equal(cl_fs_mkdirs(path), CL_OK);
	snprintf(path, sizeof(path), "%s/%s", dir, e.path);
	f = fopen(path, "w");
	fputs(content, f);
	fclose(f);
	crypto_generichash(h, sizeof(h), (const unsigned char *)content, sizeof(content) - 1,
			   NULL, 0);
	sodium_bin2hex(hex, sizeof(hex), h, sizeof(h));
	e.hash = hex;
	assert_int_equal(cl_manifest_append(dir, "src", &e), CL_OK);
	e.ingested_us = 2000;
	assert_int_equal(cl_manifest_append(dir, "src", &e), CL_OK);
	assert_int_equal(cl_manifest_list(dir, "src", on_entry, on_bad, &s), CL_OK);
	assert_int_equal(s.n, 2);
	assert_int_equal(s.bad, 0);
	assert_non_null(strstr(s.lines[0], "|a.csv|csv|12|1000"));
	assert_non_null(strstr(s.lines[1], "|a.csv|csv|12|2000"));
	assert_int_equal(cl_manifest_check(dir, &e), CL_OK);

	f = fopen(path, "a"); /* the file changed under bronze */
	fputs("2,b\n", f);
	fclose(f);
	assert_int_equal(cl_manifest_check(dir, &e), CL_ECORRUPT);
	assert_non_null(strstr(cl_error_detail(), "no longer matches its hash"));
	unlink(path);
	assert_int_equal(cl_manifest_check(dir, &e), CL_ENOENT);
	assert_non_null(strstr(cl_error_detail(), "missing"));
	cl_test_rmtree(dir);
}

static void test_bad_lines(void **state)
{
	static const char text[] =
		"{\"hash\":\"h1\",\"path\":\"p1\",\"name\":\"n1\"}\n"
		"not json\n"
		"\n"
		"{\"hash\":\"h2\"}\n"
		"[1,2]\n"
		"{\"hash\":\"h3\",\"path\":\"p3\",\"hash\":\"x\"}\n"
		"{\"hash\":\"h4\",\"path\":\"p4\"}\n"
		"{\"hash\":\"h5\",\"pa"; /* torn */
	struct seen s = { 0 };

	(void)state;
	assert_int_equal(cl_manifest_parse(text, sizeof(text) - 1, "src", on_entry, on_bad, &s), 0);
	assert_int_equal(s.n, 2);
	assert_non_null(strstr(s.lines[0], "src|h1|p1|n1|-|0|0"));
	assert_non_null(strstr(s.lines[1], "src|h4|p4|-|-|0|0"));
	assert_int_equal(s.bad, 5);
	assert_int_equal(s.bad_line[0], 2);
	assert_int_equal(s.bad_line[1], 4);
	assert_int_equal(s.bad_line[2], 5);
	assert_int_equal(s.bad_line[3], 6); /* duplicate keys: not trusted */
	assert_int_equal(s.bad_line[4], 8);

	memset(&s, 0, sizeof(s));
	s.stop_at = 1;
	assert_int_equal(cl_manifest_parse(text, sizeof(text) - 1, "src", on_entry, NULL, &s),
			 CL_EFAILED);
	assert_int_equal(s.n, 1);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_append_list_check),
		cmocka_unit_test(test_bad_lines),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
