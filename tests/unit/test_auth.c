/*
 * API tokens (serve/cl_auth over auth/cl_tokens) against known inputs and
 * outputs: the admin
 * token made on first open (its form, its files and their modes, its hash
 * in the tokens file), a tokens file written here with hashes computed
 * outside carelake (Python's hashlib.blake2b, digest_size=32), and every
 * shape of Authorization header: valid, wrong, empty, missing or another
 * scheme, the scheme in any case, extra spaces, tabs, very long, NUL
 * bytes; no error detail ever holds the token. Also tokens files that are
 * not what they should be: a hash one digit too long, or a field after
 * it, was taken before (sscanf's widths cut the field and ignored the
 * rest), now each is refused.
 */
#include "cl_test.h"
#include "core/cl_error.h"
#include "serve/cl_auth.h"

#include <sodium.h>
#include <sys/stat.h>

/* Known answers: BLAKE2b-256 of these tokens, from hashlib. */
#define TOKEN_A "clk_0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"
#define HASH_A "940a541f5e4afa8d00d123bb703b6ca0e114aedd79f49b7b61ad9a0acbc55f26"
#define TOKEN_B "clk_ffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff"
#define HASH_B "891a379ee0b34ec2f52717aedd230f10be5588555083dc483bbf33f9e55b6f94"

static char dir[256];

static void write_text(const char *path, const char *text)
{
	FILE *f = fopen(path, "w");

	assert_non_null(f);
	fputs(text, f);
	fclose(f);
}

static char *read_text(const char *path)
{
	static char buf[4096];
	FILE *f = fopen(path, "r");
	size_t n;

	assert_non_null(f);
	n = fread(buf, 1, sizeof(buf) - 1, f);
	buf[n] = '\0';
	fclose(f);
	return buf;
}

/* A data directory whose tokens file holds `tokens`. */
static void data_with_tokens(char *data, size_t cap, const char *name, const char *tokens)
{
	char path[600];

	snprintf(data, cap, "%s/%s", dir, name);
	mkdir(data, 0700);
	snprintf(path, sizeof(path), "%s/auth", data);
	mkdir(path, 0700);
	snprintf(path, sizeof(path), "%s/auth/tokens", data);
	write_text(path, tokens);
}

static void test_admin_token_created(void **state)
{
	char data[300], path[600], token[200], line[200];
	unsigned char hash[32];
	char hex[65];
	struct cl_principal p;
	struct cl_auth *a, *again;
	struct stat st;
	int created;

	(void)state;
	snprintf(data, sizeof(data), "%s/fresh", dir);
	mkdir(data, 0700);
	assert_int_equal(cl_auth_open(data, &a, &created), CL_OK);
	assert_int_equal(created, 1);
	snprintf(path, sizeof(path), "%s/admin.token", data);
	assert_string_equal(cl_auth_admin_token_path(a), path);
	assert_int_equal(stat(path, &st), 0);
	assert_int_equal(st.st_mode & 0777, 0600);
	/* "clk_", 64 lowercase hex digits, a newline */
	{
		const char *text = read_text(path);

		assert_int_equal(strlen(text), 4 + 64 + 1);
		memcpy(token, text, 4 + 64 + 2);
	}
	assert_int_equal(strncmp(token, "clk_", 4), 0);
	assert_int_equal(strspn(token + 4, "0123456789abcdef"), 64);
	assert_int_equal(token[68], '\n');
	token[68] = '\0';
	/* the tokens file keeps its hash, never the token */
	snprintf(path, sizeof(path), "%s/auth/tokens", data);
	assert_int_equal(stat(path, &st), 0);
	assert_int_equal(st.st_mode & 0777, 0600);
	snprintf(path, sizeof(path), "%s/auth", data);
	assert_int_equal(stat(path, &st), 0);
	assert_int_equal(st.st_mode & 0777, 0700);
	snprintf(path, sizeof(path), "%s/auth/tokens", data);
	assert_null(strstr(read_text(path), token + 4));
	crypto_generichash(hash, sizeof(hash), (const unsigned char *)token, strlen(token), NULL,
			   0);
	sodium_bin2hex(hex, sizeof(hex), hash, sizeof(hash));
	snprintf(line, sizeof(line), "\"role\":\"admin\",\"hash\":\"%s\"", hex);
	assert_non_null(strstr(read_text(path), line));
	/* it opens the API */
	snprintf(line, sizeof(line), "Bearer %s", token);
	assert_int_equal(cl_auth_check(a, line, &p), CL_OK);
	assert_string_equal(p.name, "admin");
	assert_string_equal(cl_role_name(p.role), "admin");
	/* opened again, nothing is made anew and the same token holds */
	assert_int_equal(cl_auth_open(data, &again, &created), CL_OK);
	assert_int_equal(created, 0);
	assert_int_equal(cl_auth_check(again, line, &p), CL_OK);
	cl_auth_close(again);
	cl_auth_close(a);
	cl_auth_close(NULL);
}

/* Each check that must fail fails with CL_EINVAL, a detail holding
 * `why`, and no part of the token in it. */
static void refused(struct cl_auth *a, const char *header, const char *why)
{
	struct cl_principal p;

	memset(&p, 0, sizeof(p));
	if (cl_auth_check(a, header, &p) != CL_EINVAL)
		fail_msg("'%.80s' was accepted", header ? header : "(null)");
	if (!strstr(cl_error_detail(), why))
		fail_msg("'%.80s': '%s', not '%s'", header ? header : "(null)", cl_error_detail(),
			 why);
	assert_null(strstr(cl_error_detail(), "clk_"));
	assert_null(strstr(cl_error_detail(), "0123456789"));
	assert_string_equal(p.name, "");
}

static void accepted(struct cl_auth *a, const char *header, const char *name, const char *role)
{
	struct cl_principal p;

	if (cl_auth_check(a, header, &p) != CL_OK)
		fail_msg("'%.100s' was refused: %s", header, cl_error_detail());
	assert_string_equal(p.name, name);
	assert_string_equal(cl_role_name(p.role), role);
}

static void test_headers(void **state)
{
	char data[300], *huge;
	struct cl_auth *a;
	int created;
	char nul[160];

	(void)state;
	data_with_tokens(data, sizeof(data), "known",
			 "# carelake API tokens\n"
			 "\n"
			 "v1 ops admin " HASH_A "\n"
			 "v1 bed-12 device " HASH_B "\n");
	assert_int_equal(cl_auth_open(data, &a, &created), CL_OK);
	assert_int_equal(created, 0);

	accepted(a, "Bearer " TOKEN_A, "ops", "admin");
	accepted(a, "Bearer " TOKEN_B, "bed-12", "device");
	/* the scheme is case-insensitive (RFC 7235) */
	accepted(a, "bearer " TOKEN_A, "ops", "admin");
	accepted(a, "BEARER " TOKEN_B, "bed-12", "device");
	accepted(a, "bEaReR " TOKEN_A, "ops", "admin");
	/* spaces around the token (1*SP in RFC 6750; trailing ones trimmed) */
	accepted(a, "Bearer    " TOKEN_A, "ops", "admin");
	accepted(a, "Bearer " TOKEN_A "   ", "ops", "admin");

	refused(a, NULL, "missing 'Authorization: Bearer <token>' header");
	refused(a, "", "missing 'Authorization: Bearer <token>' header");
	refused(a, TOKEN_A, "must be 'Bearer <token>'");
	refused(a, "Basic " TOKEN_A, "must be 'Bearer <token>'");
	refused(a, "Bearer", "must be 'Bearer <token>'");
	refused(a, "Bearer\t" TOKEN_A, "must be 'Bearer <token>'");
	refused(a, " Bearer " TOKEN_A, "must be 'Bearer <token>'");
	refused(a, "BearerX " TOKEN_A, "must be 'Bearer <token>'");
	refused(a, "Bearer ", "the bearer token is empty");
	refused(a, "Bearer      ", "the bearer token is empty");
	/* wrong tokens: one digit off, cut short, one more, another case,
	 * a tab kept, the hash itself, the same without its prefix */
	refused(a, "Bearer clk_1123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef",
		"not valid");
	refused(a, "Bearer clk_0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcde",
		"not valid");
	refused(a, "Bearer " TOKEN_A "0", "not valid");
	refused(a, "Bearer CLK_0123456789ABCDEF0123456789ABCDEF0123456789ABCDEF0123456789ABCDEF",
		"not valid");
	refused(a, "Bearer " TOKEN_A "\t", "not valid");
	refused(a, "Bearer " HASH_A, "not valid");
	refused(a, "Bearer 0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef",
		"not valid");
	refused(a, "Bearer " TOKEN_A " " TOKEN_B, "not valid");
	/* very long: a megabyte of token */
	huge = malloc((1 << 20) + 16);
	assert_non_null(huge);
	memcpy(huge, "Bearer ", 7);
	memset(huge + 7, 'a', 1 << 20);
	huge[7 + (1 << 20)] = '\0';
	refused(a, huge, "not valid");
	free(huge);
	/* NUL bytes: the header ends at the first (what carelake's HTTP
	 * layers hand over is a C string); before the token, nothing is left;
	 * in it, what is left is a wrong token */
	memset(nul, 0, sizeof(nul));
	memcpy(nul, "Bearer \0" TOKEN_A, 7 + 1 + strlen(TOKEN_A));
	refused(a, nul, "the bearer token is empty");
	memset(nul, 0, sizeof(nul));
	memcpy(nul, "Bearer clk_0123\0" "456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef",
	       7 + 9 + 60);
	refused(a, nul, "not valid");
	cl_auth_close(a);
}

static void test_bad_tokens_file(void **state)
{
	static const struct {
		const char *name, *text;
	} bad[] = {
		{ "not-v1", "v2 ops admin " HASH_A "\n" },
		{ "no-role", "{\"v\":2,\"id\":\"tk01\",\"name\":\"x\",\"role\":\"boss\",\"hash\":\"" HASH_A "\"}\n" },
		{ "no-hash", "{\"v\":2,\"id\":\"tk01\",\"name\":\"x\",\"role\":\"admin\"}\n" },
		{ "twice", "{\"v\":2,\"id\":\"tk01\",\"id\":\"tk02\",\"role\":\"admin\",\"hash\":\"" HASH_A "\"}\n" },
		{ "fields", "v1 ops " HASH_A "\n" },
		{ "short-hash", "v1 ops admin 940a541f5e4afa8d00d123bb703b6ca0e114aedd79f49b7b61ad9a0acbc55f2\n" },
		{ "long-hash", "v1 ops admin " HASH_A "0\n" },
		{ "extra-field", "v1 ops admin " HASH_A " admin\n" },
		{ "long-role", "v1 ops administratoradministratoradministrator " HASH_A "\n" },
		{ "not-hex", "v1 ops admin 940a541f5e4afa8d00d123bb703b6ca0e114aedd79f49b7b61ad9a0acbc55fzz\n" },
	};
	char data[300];
	struct cl_auth *a = NULL;
	int created;

	(void)state;
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		data_with_tokens(data, sizeof(data), bad[i].name, bad[i].text);
		if (cl_auth_open(data, &a, &created) != CL_ECORRUPT)
			fail_msg("tokens file '%s' was taken", bad[i].name);
		assert_non_null(strstr(cl_error_detail(), "auth/tokens"));
	}
	/* CRLF line ends are whitespace, not part of the hash */
	data_with_tokens(data, sizeof(data), "crlf", "v1 ops admin " HASH_A "\r\n");
	assert_int_equal(cl_auth_open(data, &a, &created), CL_OK);
	accepted(a, "Bearer " TOKEN_A, "ops", "admin");
	cl_auth_close(a);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_admin_token_created),
		cmocka_unit_test(test_headers),
		cmocka_unit_test(test_bad_tokens_file),
	};
	int rc;

	cl_test_tmpdir(dir, sizeof(dir));
	rc = cmocka_run_group_tests(tests, NULL, NULL);
	if (rc == 0)
		cl_test_rmtree(dir);
	return rc;
}
