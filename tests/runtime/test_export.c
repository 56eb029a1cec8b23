/*
 * `carelake export --out` and what is at the path:
 * - a symbolic link (to a file, or dangling), a FIFO, a directory and, when
 *   the test runs as root, a character device like /dev/null (made here
 *   with mknod, never the real one) are refused with exit status 2 and a
 *   message saying what is there, and are left as they were: the link's
 *   target keeps its content, nothing blocks on the FIFO;
 * - a new file is created with mode 0600 whatever the umask;
 * - an existing regular file is replaced by rename, not rewritten: a hard
 *   link to the old file still holds the old content, the path holds the
 *   whole export, and no temporary file stays beside it.
 *
 * Usage: test_export /path/to/carelake SHARED_DATA_DIR
 */
#include "cl_test.h"

#include <dirent.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <unistd.h>

static const char *bin, *shared;
static char dir[256], data[300];

#include "cli_helpers.h"

static void write_file(const char *path, const char *text)
{
	FILE *f = fopen(path, "w");
	assert_non_null(f);
	fputs(text, f);
	fclose(f);
}

/* Exports patient as CSV to `out`. */
static struct result export_to(const char *out)
{
	return run(NULL, "export", "--data", data, "--table", "patient", "--format", "csv",
		   "--out", out, NULL);
}

static void refused(const char *out, const char *what)
{
	struct result r = export_to(out);
	if (r.status != 2 || !strstr(r.err, what) || !strstr(r.err, out))
		fail_msg("export to %s: status %d, %s", what, r.status, r.err);
	done(&r);
}

/* Nothing in the scratch directory but `keep` (and the helpers' files). */
static void only(const char *sub, const char *const *keep, int nkeep)
{
	char path[600];
	struct dirent *de;
	DIR *d;
	snprintf(path, sizeof(path), "%s/%s", dir, sub);
	assert_non_null(d = opendir(path));
	while ((de = readdir(d))) {
		int ok = de->d_name[0] == '.';
		for (int i = 0; i < nkeep; i++)
			ok |= strcmp(de->d_name, keep[i]) == 0;
		if (!ok)
			fail_msg("%s holds %s after the export", sub, de->d_name);
	}
	closedir(d);
}

static void test_symlink(void **state)
{
	char victim[400], link[400], dangling[400], gone[400];
	struct stat st;
	(void)state;
	snprintf(victim, sizeof(victim), "%s/out/victim.txt", dir);
	snprintf(link, sizeof(link), "%s/out/link.csv", dir);
	snprintf(dangling, sizeof(dangling), "%s/out/dangling.csv", dir);
	snprintf(gone, sizeof(gone), "%s/out/nowhere.csv", dir);
	write_file(victim, "not to be overwritten\n");
	assert_int_equal(symlink(victim, link), 0);
	assert_int_equal(symlink(gone, dangling), 0);
	refused(link, "is a symbolic link");
	refused(dangling, "is a symbolic link");
	assert_int_equal(lstat(link, &st), 0);
	assert_true(S_ISLNK(st.st_mode));
	char *text = slurp(victim);
	assert_string_equal(text, "not to be overwritten\n");
	free(text);
	assert_int_not_equal(access(gone, F_OK), 0); /* not created through the link */
	only("out", (const char *const[]){ "victim.txt", "link.csv", "dangling.csv" }, 3);
}

static void test_fifo(void **state)
{
	char fifo[400];
	struct stat st;
	(void)state;
	snprintf(fifo, sizeof(fifo), "%s/fifo/pipe.csv", dir);
	assert_int_equal(mkfifo(fifo, 0600), 0);
	refused(fifo, "is a FIFO"); /* and did not block opening it */
	assert_int_equal(lstat(fifo, &st), 0);
	assert_true(S_ISFIFO(st.st_mode));
	only("fifo", (const char *const[]){ "pipe.csv" }, 1);
}

static void test_device(void **state)
{
	char dev[400];
	struct stat st;
	(void)state;
	if (geteuid() != 0)
		skip(); /* mknod needs root; then --out /dev/null was the danger */
	snprintf(dev, sizeof(dev), "%s/dev/null", dir);
	assert_int_equal(mknod(dev, S_IFCHR | 0666, makedev(1, 3)), 0);
	refused(dev, "is a character device");
	assert_int_equal(lstat(dev, &st), 0);
	assert_true(S_ISCHR(st.st_mode));
	assert_int_equal(major(st.st_rdev), 1);
	assert_int_equal(minor(st.st_rdev), 3);
	/* and the real one is never touched: refused before any write */
	assert_int_equal(stat("/dev/null", &st), 0);
	assert_true(S_ISCHR(st.st_mode));
}

static void test_directory(void **state)
{
	char sub[400], slash[410];
	struct stat st;
	(void)state;
	snprintf(sub, sizeof(sub), "%s/out/adir", dir);
	assert_int_equal(mkdir(sub, 0700), 0);
	refused(sub, "is a directory");
	snprintf(slash, sizeof(slash), "%s/", sub);
	refused(slash, "is a directory");
	assert_int_equal(lstat(sub, &st), 0);
	assert_true(S_ISDIR(st.st_mode));
	assert_int_equal(rmdir(sub), 0); /* still empty */
}

static void test_new_file_mode(void **state)
{
	char out[400];
	struct stat st;
	(void)state;
	snprintf(out, sizeof(out), "%s/mode/new.csv", dir);
	mode_t old = umask(0); /* the export's own mode, not the umask's */
	struct result r = export_to(out);
	umask(old);
	assert_int_equal(r.status, 0);
	done(&r);
	assert_int_equal(stat(out, &st), 0);
	assert_true(S_ISREG(st.st_mode));
	assert_int_equal(st.st_mode & 07777, 0600);
	r = run(NULL, "export", "--data", data, "--table", "patient", "--out", out, NULL);
	assert_int_equal(r.status, 0); /* parquet over it: still 0600 */
	done(&r);
	assert_int_equal(stat(out, &st), 0);
	assert_int_equal(st.st_mode & 07777, 0600);
	only("mode", (const char *const[]){ "new.csv" }, 1);
}

static void test_replace_regular(void **state)
{
	char out[400], old_link[400];
	struct stat before, after;
	(void)state;
	snprintf(out, sizeof(out), "%s/replace/patients.csv", dir);
	snprintf(old_link, sizeof(old_link), "%s/replace/old.csv", dir);
	write_file(out, "an older export\n");
	chmod(out, 0644);
	assert_int_equal(link(out, old_link), 0);
	assert_int_equal(stat(out, &before), 0);
	struct result r = export_to(out);
	assert_int_equal(r.status, 0);
	assert_non_null(strstr(r.err, "1 row of patient"));
	done(&r);
	assert_int_equal(stat(out, &after), 0);
	/* a new file renamed over the path: the old one was never written */
	assert_true(after.st_ino != before.st_ino);
	assert_int_equal(after.st_mode & 07777, 0600);
	char *text = slurp(old_link);
	assert_string_equal(text, "an older export\n");
	free(text);
	text = slurp(out);
	assert_true(strncmp(text, "id,", 3) == 0);
	assert_non_null(strstr(text, "\r\nexample,")); /* the row, after the header */
	assert_true(strlen(text) > 2 && strcmp(text + strlen(text) - 2, "\r\n") == 0);
	free(text);
	only("replace", (const char *const[]){ "patients.csv", "old.csv" }, 2);
}

static int setup(void **state)
{
	char src[600];
	(void)state;
	snprintf(data, sizeof(data), "%s/data", dir);
	snprintf(src, sizeof(src), "%s/fhir-r4-examples/Patient-example.json", shared);
	struct result r = run(NULL, "ingest", "--data", data, src, NULL);
	if (r.status != 0)
		fail_msg("ingest: %s", r.err);
	done(&r);
	static const char *const subs[] = { "out", "fifo", "dev", "mode", "replace" };
	for (size_t i = 0; i < sizeof(subs) / sizeof(subs[0]); i++) {
		snprintf(src, sizeof(src), "%s/%s", dir, subs[i]);
		assert_int_equal(mkdir(src, 0700), 0);
	}
	return 0;
}

int main(int argc, char **argv)
{
	if (argc < 3) {
		fprintf(stderr, "usage: %s CARELAKE SHARED_DATA\n", argv[0]);
		return 2;
	}
	bin = argv[1];
	shared = argv[2];
	cl_test_tmpdir(dir, sizeof(dir));
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_symlink),
		cmocka_unit_test(test_fifo),
		cmocka_unit_test(test_device),
		cmocka_unit_test(test_directory),
		cmocka_unit_test(test_new_file_mode),
		cmocka_unit_test(test_replace_regular),
	};
	int failed = cmocka_run_group_tests(tests, setup, NULL);
	if (!failed)
		cl_test_rmtree(dir);
	return failed;
}
