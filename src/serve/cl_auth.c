/*
 * API tokens. See cl_auth.h.
 */
#include "cl_auth.h"
#include "core/cl_error.h"
#include "core/cl_fs.h"
#include "core/cl_log.h"
#include "core/cl_mem.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <sodium.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#define TOKEN_PREFIX "clk_"
#define TOKEN_HEX 64

struct entry {
	char name[65];
	char role[33];
	unsigned char hash[crypto_generichash_BYTES];
};

struct cl_auth {
	struct entry *e;
	size_t n;
	char admin_path[PATH_MAX];
};

static void hash_token(const char *tok, size_t len, unsigned char out[crypto_generichash_BYTES])
{
	crypto_generichash(out, crypto_generichash_BYTES, (const unsigned char *)tok, len,
			   NULL, 0);
}

static int load(struct cl_auth *a, const char *path)
{
	char *text, *line, *save = NULL;
	size_t len;
	int rc = cl_fs_read_file(path, 1 << 20, &text, &len);

	if (rc)
		return rc;
	for (line = strtok_r(text, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
		char name[65], role[33], hex[TOKEN_HEX + 1];
		struct entry *ne;
		size_t bin_len;
		int end = -1;

		if (line[0] == '#' || line[0] == '\0')
			continue;
		/* nothing may follow the hash: a field longer than its width
		 * would otherwise be cut and the rest taken for the next one */
		if (sscanf(line, "v1 %64s %32s %64s %n", name, role, hex, &end) != 3 || end < 0 ||
		    line[end] != '\0' || strlen(hex) != TOKEN_HEX) {
			cl_free(text);
			return cl_error_set(CL_ECORRUPT, "%s: a line is not 'v1 NAME ROLE HASH'", path);
		}
		ne = cl_realloc(a->e, (a->n + 1) * sizeof(*a->e));
		if (!ne) {
			cl_free(text);
			return cl_error_set(CL_ENOMEM, "no memory for tokens");
		}
		a->e = ne;
		snprintf(a->e[a->n].name, sizeof(a->e[0].name), "%s", name);
		snprintf(a->e[a->n].role, sizeof(a->e[0].role), "%s", role);
		if (sodium_hex2bin(a->e[a->n].hash, sizeof(a->e[0].hash), hex, TOKEN_HEX, NULL,
				   &bin_len, NULL) != 0 || bin_len != sizeof(a->e[0].hash)) {
			cl_free(text);
			return cl_error_set(CL_ECORRUPT, "%s: a token hash is not hex", path);
		}
		a->n++;
	}
	cl_free(text);
	return CL_OK;
}

/* Creates the admin token: the hash into the tokens file, the token
 * itself into admin.token (0600). */
static int create_admin(struct cl_auth *a, const char *auth_dir, const char *tokens_path)
{
	unsigned char raw[32], hash[crypto_generichash_BYTES];
	char token[sizeof(TOKEN_PREFIX) + TOKEN_HEX + 1], hex[TOKEN_HEX + 1], line[256];
	int fd, rc, n;

	randombytes_buf(raw, sizeof(raw));
	memcpy(token, TOKEN_PREFIX, sizeof(TOKEN_PREFIX) - 1);
	sodium_bin2hex(token + sizeof(TOKEN_PREFIX) - 1, TOKEN_HEX + 1, raw, sizeof(raw));
	sodium_memzero(raw, sizeof(raw));
	hash_token(token, strlen(token), hash);
	sodium_bin2hex(hex, sizeof(hex), hash, sizeof(hash));

	/* the secret first: a token nobody can read would lock everyone out */
	unlink(a->admin_path);
	fd = open(a->admin_path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
	if (fd < 0)
		return cl_error_set(cl_error_from_errno(errno), "cannot create '%s': %s",
				    a->admin_path, strerror(errno));
	n = snprintf(line, sizeof(line), "%s\n", token);
	rc = cl_fs_write_all(fd, line, (size_t)n, a->admin_path);
	if (rc == CL_OK)
		rc = cl_fs_datasync(fd, a->admin_path);
	close(fd);
	sodium_memzero(token, sizeof(token));
	sodium_memzero(line, sizeof(line));
	if (rc)
		return rc;
	n = snprintf(line, sizeof(line),
		     "# carelake API tokens: only hashes (BLAKE2b-256) are kept here\n"
		     "v1 admin admin %s\n", hex);
	rc = cl_fs_mkdirs(auth_dir);
	if (rc == CL_OK)
		rc = cl_fs_write_atomic(tokens_path, line, (size_t)n, 0600);
	if (rc)
		return rc;
	return load(a, tokens_path);
}

int cl_auth_open(const char *data_dir, struct cl_auth **out, int *created)
{
	char auth_dir[PATH_MAX], tokens[PATH_MAX];
	struct cl_auth *a;
	int rc;

	*created = 0;
	if (sodium_init() < 0)
		return cl_error_set(CL_EIO, "libsodium failed to initialise");
	a = cl_calloc(1, sizeof(*a));
	if (!a)
		return cl_error_set(CL_ENOMEM, "no memory for tokens");
	snprintf(auth_dir, sizeof(auth_dir), "%s/auth", data_dir);
	snprintf(tokens, sizeof(tokens), "%s/auth/tokens", data_dir);
	snprintf(a->admin_path, sizeof(a->admin_path), "%s/admin.token", data_dir);
	rc = load(a, tokens);
	if (rc == CL_ENOENT) {
		rc = create_admin(a, auth_dir, tokens);
		*created = rc == CL_OK;
	}
	if (rc) {
		cl_auth_close(a);
		return rc;
	}
	*out = a;
	return CL_OK;
}

void cl_auth_close(struct cl_auth *a)
{
	if (!a)
		return;
	if (a->e)
		sodium_memzero(a->e, a->n * sizeof(*a->e));
	cl_free(a->e);
	cl_free(a);
}

const char *cl_auth_admin_token_path(const struct cl_auth *a)
{
	return a->admin_path;
}

int cl_auth_check(struct cl_auth *a, const char *header, struct cl_principal *p)
{
	unsigned char hash[crypto_generichash_BYTES];
	const char *tok;
	size_t len;

	if (!header || !*header)
		return cl_error_set(CL_EINVAL, "missing 'Authorization: Bearer <token>' header");
	if (strncasecmp(header, "Bearer ", 7) != 0)
		return cl_error_set(CL_EINVAL, "the Authorization header must be 'Bearer <token>'");
	tok = header + 7;
	while (*tok == ' ')
		tok++;
	len = strlen(tok);
	while (len > 0 && tok[len - 1] == ' ')
		len--;
	if (len == 0)
		return cl_error_set(CL_EINVAL, "the bearer token is empty");
	hash_token(tok, len, hash);
	for (size_t i = 0; i < a->n; i++) {
		if (sodium_memcmp(hash, a->e[i].hash, sizeof(hash)) == 0) {
			snprintf(p->name, sizeof(p->name), "%s", a->e[i].name);
			snprintf(p->role, sizeof(p->role), "%s", a->e[i].role);
			return CL_OK;
		}
	}
	return cl_error_set(CL_EINVAL, "the bearer token is not valid");
}
