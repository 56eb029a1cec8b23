/*
 * The object storage client against the real emulators: Azurite (Azure
 * Blob) and s3rver (S3), both from npm (tests/objstore), each started on a
 * free loopback port with a temporary directory. Between carelake and
 * each emulator sits a small TCP proxy of this test's own that can answer
 * the next connections with 500 or 503, cut one mid-upload, or stall one
 * past objstore.timeout. On each store: the container made (twice), small
 * and 20 MiB objects written and read back whole, head, listing across
 * pages, delete, missing keys, the conditional-create probe and what it
 * answers (and a create whose answer was lost), retries through every
 * fault with nothing half-written visible, keys that need encoding, an
 * Azure account SAS instead of the key, and wrong credentials failing at
 * once with the store's 403.
 *
 * usage: runtime_objstore TESTS_OBJSTORE_DIR (holding node_modules)
 */
#include "cl_test.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <stdatomic.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>

#include "core/cl_config.h"
#include "core/cl_error.h"
#include "core/cl_fs.h"
#include "core/cl_log.h"
#include "core/cl_mem.h"
#include "objstore/cl_objstore.h"
#include "objstore/cl_objstore_int.h"

#define AZ_KEY "Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw=="
#define BIG (20u * 1024 * 1024)

/* What the conditional-create probe finds on each emulator. */
#define AZURITE_CONDITIONAL 1
#define S3RVER_CONDITIONAL 0

static const char *pkg_dir;
static char tmp_dir[256];

#include "objstore_emulators.h"

/* ------------------------------------------------------------------ */
/* the checks, the same on each store */

struct listing {
	char keys[32][1024];
	int n, sorted;
	int64_t size;         /* every object's, when not 0 */
};

static int on_item(void *arg, const struct cl_objstore_info *it)
{
	struct listing *l = arg;

	if (l->n > 0 && strcmp(l->keys[l->n - 1], it->key) >= 0)
		l->sorted = 0;
	if (l->n < 32)
		snprintf(l->keys[l->n], sizeof(l->keys[0]), "%s", it->key);
	l->n++;
	assert_true(it->size == (l->size ? l->size : 6));
	assert_true(it->mtime_ms > 1700000000000LL);
	return 0;
}

static uint64_t retries_now(void)
{
	struct cl_objstore_stats st;

	cl_objstore_stats(&st);
	return st.retries;
}

static void fill(char *b, size_t n, unsigned seed)
{
	uint32_t x = seed * 2654435761u + 1;

	for (size_t i = 0; i < n; i++) {
		x ^= x << 13;
		x ^= x >> 17;
		x ^= x << 5;
		b[i] = (char)x;
	}
}

static void check_get(struct cl_objstore *s, const char *key, const char *want, size_t n)
{
	char *buf = NULL;
	size_t len = 0;
	int rc = cl_objstore_get_mem(s, key, BIG, &buf, &len);

	if (rc)
		fprintf(stderr, "get %s: %s\n", key, cl_error_detail());
	assert_int_equal(rc, CL_OK);
	assert_int_equal(len, n);
	assert_memory_equal(buf, want, n);
	cl_free(buf);
}

/* Whole or missing, never a part; with torn, a part (a prefix) too. */
static void check_whole_or_none(struct cl_objstore *s, const char *key, const char *want,
				size_t n, int torn, const char *what)
{
	char *buf = NULL;
	size_t len = 0;
	int rc = cl_objstore_get_mem(s, key, BIG, &buf, &len);

	fprintf(stderr, "%s: after a cut upload: %s, %zu of %zu bytes\n", what, cl_strerror(rc),
		len, n);
	assert_true(rc == CL_OK || rc == CL_ENOENT);
	if (rc == CL_OK) {
		assert_true(len == n || (torn && len < n));
		assert_memory_equal(buf, want, len);
	}
	cl_free(buf);
}

static struct cl_objstore *open_store(const char *uri, struct cl_config *cfg)
{
	struct cl_objstore *s = NULL;
	int rc = cl_objstore_open(uri, cfg, &s);

	if (rc)
		fprintf(stderr, "open %s: %s\n", uri, cl_error_detail());
	assert_int_equal(rc, CL_OK);
	return s;
}

static void exercise(const char *uri, struct proxy *px, int expect_conditional,
		     int torn_visible, const char *what)
{
	struct cl_config cfg, cfg0;
	struct cl_objstore *s, *s0;
	struct cl_objstore_info info;
	struct listing l = { .sorted = 1 };
	char *big, *buf = NULL, path[300], back[300], key[32];
	size_t len;
	uint64_t r0;
	int rc, fd;
	time_t t0 = time(NULL);

	assert_int_equal(cl_config_init(&cfg), 0);
	assert_int_equal(cl_config_set(&cfg, "objstore.timeout", "1s"), 0);
	assert_int_equal(cl_config_set(&cfg, "objstore.retries", "4"), 0);
	assert_int_equal(cl_config_set(&cfg, "objstore.retry_backoff", "20ms"), 0);
	assert_int_equal(cl_config_set(&cfg, "objstore.retry_backoff_max", "200ms"), 0);
	assert_int_equal(cl_config_set(&cfg, "objstore.list_page_size", "3"), 0);
	assert_int_equal(cl_config_copy(&cfg0, &cfg), 0);
	assert_int_equal(cl_config_set(&cfg0, "objstore.retries", "0"), 0);
	s = open_store(uri, &cfg);
	s0 = open_store(uri, &cfg0);

	/* the container, twice */
	rc = cl_objstore_ensure_container(s);
	if (rc)
		fprintf(stderr, "%s: ensure_container: %s\n", what, cl_error_detail());
	assert_int_equal(rc, CL_OK);
	rc = cl_objstore_ensure_container(s);
	if (rc)
		fprintf(stderr, "%s: ensure_container again: %s\n", what, cl_error_detail());
	assert_int_equal(rc, CL_OK);

	/* small objects */
	assert_int_equal(cl_objstore_put_mem(s, "small/a.json", "{\"a\":1}", 7, 0), CL_OK);
	check_get(s, "small/a.json", "{\"a\":1}", 7);
	assert_int_equal(cl_objstore_head(s, "small/a.json", &info), CL_OK);
	assert_int_equal(info.size, 7);
	assert_string_equal(info.key, "small/a.json");
	assert_string_equal(info.md5, "bb6cb5c68df4652941caf652a366f2d8");
	assert_true(info.mtime_ms > 1700000000000LL);
	/* a key that needs encoding: a space, '+', '=', '&', UTF-8 */
	assert_int_equal(cl_objstore_put_mem(s, "small/a b+c=d&e \xc3\xa9.json", "odd", 3, 0),
			 CL_OK);
	check_get(s, "small/a b+c=d&e \xc3\xa9.json", "odd", 3);
	memset(&l, 0, sizeof(l));
	l.sorted = 1;
	l.size = 3;
	assert_int_equal(cl_objstore_list(s, "small/a ", on_item, &l), CL_OK);
	assert_int_equal(l.n, 1);
	assert_string_equal(l.keys[0], "small/a b+c=d&e \xc3\xa9.json");
	assert_int_equal(cl_objstore_put_mem(s, "small/empty", "", 0, 0), CL_OK);
	check_get(s, "small/empty", "", 0);

	/* missing keys */
	assert_int_equal(cl_objstore_get_mem(s, "nope/x", 100, &buf, &len), CL_ENOENT);
	assert_null(buf);
	assert_int_equal(cl_objstore_head(s, "nope/x", &info), CL_ENOENT);
	snprintf(back, sizeof(back), "%s/missing.out", tmp_dir);
	assert_int_equal(cl_objstore_get_file(s, "nope/x", back), CL_ENOENT);
	assert_int_equal(access(back, F_OK), -1);
	assert_int_equal(cl_objstore_get_mem(s, "small/a.json", 3, &buf, &len), CL_ETOOBIG);

	/* 20 MiB, streamed both ways */
	big = malloc(BIG);
	fill(big, BIG, 7);
	snprintf(path, sizeof(path), "%s/big.in", tmp_dir);
	fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
	assert_int_equal(write(fd, big, BIG), (ssize_t)BIG);
	close(fd);
	rc = cl_objstore_put_file(s, "big/blob.bin", path, 0);
	if (rc)
		fprintf(stderr, "%s: put_file: %s\n", what, cl_error_detail());
	assert_int_equal(rc, CL_OK);
	assert_int_equal(cl_objstore_head(s, "big/blob.bin", &info), CL_OK);
	assert_int_equal(info.size, BIG);
	snprintf(back, sizeof(back), "%s/big.out", tmp_dir);
	assert_int_equal(cl_objstore_get_file(s, "big/blob.bin", back), CL_OK);
	{
		char *got = NULL;
		size_t glen = 0;

		assert_int_equal(cl_fs_read_file(back, BIG + 1, &got, &glen), 0);
		assert_int_equal(glen, BIG);
		assert_memory_equal(got, big, BIG);
		cl_free(got);
	}

	/* listing across pages of 3 */
	for (int i = 0; i < 10; i++) {
		snprintf(key, sizeof(key), "list/k%02d", 9 - i);
		assert_int_equal(cl_objstore_put_mem(s, key, "123456", 6, 0), CL_OK);
	}
	memset(&l, 0, sizeof(l));
	l.sorted = 1;
	assert_int_equal(cl_objstore_list(s, "list/", on_item, &l), CL_OK);
	assert_int_equal(l.n, 10);
	assert_true(l.sorted);
	assert_string_equal(l.keys[0], "list/k00");
	assert_string_equal(l.keys[9], "list/k09");

	/* delete, and a missing key's */
	assert_int_equal(cl_objstore_delete(s, "list/k03"), CL_OK);
	assert_int_equal(cl_objstore_delete(s, "list/k03"), CL_OK);
	assert_int_equal(cl_objstore_head(s, "list/k03", &info), CL_ENOENT);
	memset(&l, 0, sizeof(l));
	l.sorted = 1;
	assert_int_equal(cl_objstore_list(s, "list/", on_item, &l), CL_OK);
	assert_int_equal(l.n, 9);

	/* conditional creates */
	rc = cl_objstore_conditional_create(s);
	fprintf(stderr, "%s: conditional create: %d\n", what, rc);
	assert_int_equal(rc, expect_conditional);
	memset(&l, 0, sizeof(l));
	assert_int_equal(cl_objstore_list(s, "_carelake_probe/", on_item, &l), CL_OK);
	assert_int_equal(l.n, 0);
	rc = cl_objstore_put_mem(s, "log/000.json", "{}", 2, CL_OBJSTORE_IF_NONE_MATCH);
	if (expect_conditional) {
		assert_int_equal(rc, CL_OK);
		assert_int_equal(cl_objstore_put_mem(s, "log/000.json", "{1}", 3,
						     CL_OBJSTORE_IF_NONE_MATCH), CL_EEXIST);
		check_get(s, "log/000.json", "{}", 2);
		/* the create's answer lost: the retry finds its own bytes there */
		r0 = retries_now();
		proxy_arm(px, F_LOSE_ANSWER, 1);
		assert_int_equal(cl_objstore_put_mem(s, "log/001.json", "{\"v\":1}", 7,
						     CL_OBJSTORE_IF_NONE_MATCH), CL_OK);
		assert_true(retries_now() > r0);
		check_get(s, "log/001.json", "{\"v\":1}", 7);
		/* and another writer's bytes there are its, not ours */
		proxy_arm(px, F_LOSE_ANSWER, 1);
		assert_int_equal(cl_objstore_put_mem(s, "log/002.json", "{\"w\":1}", 7,
						     CL_OBJSTORE_IF_NONE_MATCH), CL_OK);
		proxy_arm(px, F_LOSE_ANSWER, 1);
		assert_int_equal(cl_objstore_put_mem(s, "log/002.json", "{\"w\":2}", 7,
						     CL_OBJSTORE_IF_NONE_MATCH), CL_EEXIST);
		check_get(s, "log/002.json", "{\"w\":1}", 7);
	} else {
		assert_int_equal(rc, CL_ENOTSUP);
		assert_non_null(strstr(cl_error_detail(), "conditional creates"));
		assert_int_equal(cl_objstore_head(s, "log/000.json", &info), CL_ENOENT);
	}

	/* faults: 503s and a 500, retried */
	r0 = retries_now();
	proxy_arm(px, F_503, 2);
	assert_int_equal(cl_objstore_put_mem(s, "fault/a", "abcdef", 6, 0), CL_OK);
	assert_int_equal(proxy_pending(px), 0);
	assert_true(retries_now() >= r0 + 2);
	proxy_arm(px, F_500, 1);
	check_get(s, "fault/a", "abcdef", 6);
	assert_true(retries_now() >= r0 + 3);

	/* a connection cut mid-upload, retried */
	fill(big, 2u << 20, 11);
	proxy_arm(px, F_CUT, 1);
	rc = cl_objstore_put_mem(s, "fault/cut", big, 2u << 20, 0);
	if (rc)
		fprintf(stderr, "%s: put after a cut: %s\n", what, cl_error_detail());
	assert_int_equal(rc, CL_OK);
	assert_true(retries_now() >= r0 + 4);
	check_get(s, "fault/cut", big, 2u << 20);

	/* a file's upload cut, retried from the file's start */
	{
		char md5[33];

		assert_int_equal(cl_objstore_head(s, "big/blob.bin", &info), CL_OK);
		memcpy(md5, info.md5, sizeof(md5));
		assert_int_equal(strlen(md5), 32);
		assert_int_equal(cl_objstore_delete(s, "big/blob.bin"), CL_OK);
		r0 = retries_now();
		proxy_arm(px, F_CUT, 1);
		assert_int_equal(cl_objstore_put_file(s, "big/blob.bin", path, 0), CL_OK);
		assert_true(retries_now() > r0);
		assert_int_equal(cl_objstore_head(s, "big/blob.bin", &info), CL_OK);
		assert_int_equal(info.size, BIG);
		assert_string_equal(info.md5, md5);
	}

	/* a stall past objstore.timeout, retried */
	r0 = retries_now();
	proxy_arm(px, F_STALL, 1);
	check_get(s, "fault/a", "abcdef", 6);
	assert_true(retries_now() >= r0 + 1);

	/* out of retries: the store's 503 named, nothing written */
	proxy_arm(px, F_503, 5);
	rc = cl_objstore_put_mem(s, "fault/never", "x", 1, 0);
	assert_int_equal(rc, CL_EIO);
	assert_non_null(strstr(cl_error_detail(), "503"));
	assert_null(strstr(cl_error_detail(), "http"));
	assert_int_equal(cl_objstore_head(s, "fault/never", &info), CL_ENOENT);

	/* a cut without retries: the put fails, and the object is whole or
	 * absent, never a part — on Azurite. s3rver (unlike S3) ignores
	 * Content-MD5 and keeps whatever part of a cut body it got: there
	 * the test asserts that flaw, so a fix in s3rver shows up here */
	fill(big, 2u << 20, 13);
	proxy_arm(px, F_CUT, 1);
	assert_int_equal(cl_objstore_put_mem(s0, "fault/cut0", big, 2u << 20, 0), CL_EIO);
	check_whole_or_none(s, "fault/cut0", big, 2u << 20, torn_visible, what);
	proxy_arm(px, F_CUT, 1);
	assert_int_equal(cl_objstore_put_mem(s0, "big/blob.bin", big, 2u << 20, 0), CL_EIO);
	/* the old 20 MiB object, or the new one: never a mix */
	assert_int_equal(cl_objstore_head(s, "big/blob.bin", &info), CL_OK);
	fprintf(stderr, "%s: after a cut overwrite: %lld bytes\n", what, (long long)info.size);
	assert_true(info.size == BIG || info.size == (2 << 20) ||
		    (torn_visible && info.size < (2 << 20)));

	free(big);
	cl_objstore_close(s);
	cl_objstore_close(s0);
	cl_config_free(&cfg);
	cl_config_free(&cfg0);
	fprintf(stderr, "%s: %ld s\n", what, (long)(time(NULL) - t0));
}

/* The wrong key: one 403, no retries, the store's reason in the detail. */
static void wrong_credentials(const char *uri, const char *what)
{
	struct cl_objstore *s = open_store(uri, NULL);
	char *buf = NULL;
	size_t len;
	uint64_t r0 = retries_now();
	int rc = cl_objstore_get_mem(s, "small/a.json", 100, &buf, &len);

	fprintf(stderr, "%s: wrong credentials: %s\n", what, cl_error_detail());
	assert_int_equal(rc, CL_EIO);
	assert_non_null(strstr(cl_error_detail(), "403"));
	assert_non_null(strstr(cl_error_detail(), "credentials"));
	assert_int_equal(retries_now(), r0);
	cl_objstore_close(s);
}

/* An account SAS made with the account key (the "Create an account SAS"
 * string-to-sign of version 2020-12-06 and later), used without the key:
 * the store reached through objstore.azure_endpoint, which wins over the
 * connection string's BlobEndpoint. */
static void sas_token(int port)
{
	const char *sts = "devstoreaccount1\nrwdlac\nb\nsco\n\n2099-01-01T00:00:00Z\n\n"
			  "https,http\n2021-08-06\n\n";
	unsigned char key[128];
	size_t key_len = 0;
	char sig[64], esig[192], token[512], ep[128];
	struct cl_config cfg;
	struct cl_objstore *s;
	struct listing l = { .sorted = 1 };

	assert_int_equal(cl_os_b64_decode(AZ_KEY, key, sizeof(key), &key_len), 0);
	assert_int_equal(cl_os_azure_signature(key, key_len, sts, sig, sizeof(sig)), 0);
	assert_int_equal(cl_os_encode(sig, 0, esig, sizeof(esig)), 0);
	snprintf(token, sizeof(token),
		 "?sv=2021-08-06&ss=b&srt=sco&sp=rwdlac&se=2099-01-01T00:00:00Z&spr=https,http"
		 "&sig=%s", esig);
	unsetenv("AZURE_STORAGE_CONNECTION_STRING");
	setenv("AZURE_STORAGE_ACCOUNT", "devstoreaccount1", 1);
	setenv("AZURE_STORAGE_SAS_TOKEN", token, 1);
	setenv("AZURE_STORAGE_CONNECTION_STRING",
	       "BlobEndpoint=http://127.0.0.1:1/devstoreaccount1;AccountName=devstoreaccount1", 1);
	snprintf(ep, sizeof(ep), "http://127.0.0.1:%d/devstoreaccount1", port);
	assert_int_equal(cl_config_init(&cfg), 0);
	assert_int_equal(cl_config_set(&cfg, "objstore.azure_endpoint", ep), 0);
	s = open_store("az://carelake-test/lake/t1", &cfg);
	assert_int_equal(s->key_len, 0);
	check_get(s, "small/a.json", "{\"a\":1}", 7);
	assert_int_equal(cl_objstore_put_mem(s, "sas/x", "123456", 6, 0), CL_OK);
	assert_int_equal(cl_objstore_list(s, "sas/", on_item, &l), CL_OK);
	assert_int_equal(l.n, 1);
	assert_int_equal(cl_objstore_delete(s, "sas/x"), CL_OK);
	cl_objstore_close(s);
	/* a SAS signed with another key: the store's 403, and no token in it */
	setenv("AZURE_STORAGE_SAS_TOKEN",
	       "sv=2021-08-06&ss=b&srt=sco&sp=rwdlac&se=2099-01-01T00:00:00Z&spr=https,http"
	       "&sig=AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA%3D", 1);
	s = open_store("az://carelake-test/lake/t1", &cfg);
	{
		char *buf = NULL;
		size_t len;

		assert_int_equal(cl_objstore_get_mem(s, "small/a.json", 100, &buf, &len), CL_EIO);
		fprintf(stderr, "azurite: wrong SAS: %s\n", cl_error_detail());
		assert_non_null(strstr(cl_error_detail(), "403"));
		assert_null(strstr(cl_error_detail(), "sig="));
		assert_null(strstr(cl_error_detail(), "AAAAAAAA"));
	}
	cl_objstore_close(s);
	cl_config_free(&cfg);
	unsetenv("AZURE_STORAGE_ACCOUNT");
	unsetenv("AZURE_STORAGE_SAS_TOKEN");
}

static void test_azurite(void **state)
{
	struct proxy px;
	char cs[512], uri[200];
	int port = free_port();
	pid_t pid;

	(void)state;
	pid = start_azurite(port);
	proxy_start(&px, port);
	snprintf(cs, sizeof(cs),
		 "DefaultEndpointsProtocol=http;AccountName=devstoreaccount1;AccountKey=%s;"
		 "BlobEndpoint=http://127.0.0.1:%d/devstoreaccount1;",
		 AZ_KEY, px.port);
	setenv("AZURE_STORAGE_CONNECTION_STRING", cs, 1);
	snprintf(uri, sizeof(uri),
		 "abfss://carelake-test@devstoreaccount1.dfs.core.windows.net/lake/t1/");
	exercise(uri, &px, AZURITE_CONDITIONAL, 0, "azurite");
	/* az:// with the account of the connection string */
	{
		struct cl_objstore *s = open_store("az://carelake-test/lake", NULL);

		check_get(s, "t1/small/a.json", "{\"a\":1}", 7);
		cl_objstore_close(s);
	}
	sas_token(px.port);
	snprintf(cs, sizeof(cs),
		 "DefaultEndpointsProtocol=http;AccountName=devstoreaccount1;AccountKey=%s;"
		 "BlobEndpoint=http://127.0.0.1:%d/devstoreaccount1;",
		 "d3Jvbmcgd3Jvbmcgd3Jvbmcgd3Jvbmcgd3Jvbmc=", px.port);
	setenv("AZURE_STORAGE_CONNECTION_STRING", cs, 1);
	wrong_credentials(uri, "azurite");
	unsetenv("AZURE_STORAGE_CONNECTION_STRING");
	proxy_stop(&px);
	stop(pid);
}

static void test_s3rver(void **state)
{
	struct proxy px;
	char ep[64];
	int port = free_port();
	pid_t pid;

	(void)state;
	pid = start_s3rver(port);
	proxy_start(&px, port);
	snprintf(ep, sizeof(ep), "http://127.0.0.1:%d", px.port);
	setenv("AWS_ENDPOINT_URL", ep, 1);
	setenv("AWS_ACCESS_KEY_ID", "S3RVER", 1);
	setenv("AWS_SECRET_ACCESS_KEY", "S3RVER", 1);
	unsetenv("AWS_REGION");
	unsetenv("AWS_DEFAULT_REGION");
	unsetenv("AWS_SESSION_TOKEN");
	exercise("s3://carelake-test/lake/t1", &px, S3RVER_CONDITIONAL, 1, "s3rver");
	/* s3rver checks the access key id but never verifies a SigV4
	 * signature, so the wrong credential is the id */
	setenv("AWS_ACCESS_KEY_ID", "WRONG", 1);
	wrong_credentials("s3://carelake-test/lake/t1", "s3rver");
	proxy_stop(&px);
	stop(pid);
}

int main(int argc, char **argv)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_azurite),
		cmocka_unit_test(test_s3rver),
	};
	char node_modules[512];
	int rc;

	if (argc < 2) {
		fprintf(stderr, "usage: %s TESTS_OBJSTORE_DIR\n", argv[0]);
		return 2;
	}
	pkg_dir = argv[1];
	snprintf(node_modules, sizeof(node_modules), "%s/node_modules/azurite", pkg_dir);
	if (access(node_modules, F_OK) != 0) {
		fprintf(stderr, "%s is missing: run scripts/deps.sh (npm ci in tests/objstore)\n",
			node_modules);
		return 1;
	}
	snprintf(tmp_dir, sizeof(tmp_dir), "/tmp/carelake-objstore-XXXXXX");
	if (!mkdtemp(tmp_dir))
		return 1;
	rc = cmocka_run_group_tests(tests, NULL, NULL);
	cl_test_rmtree(tmp_dir);
	return rc;
}
