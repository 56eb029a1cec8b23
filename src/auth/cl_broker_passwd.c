/*
 * mosquitto password file lines for device tokens. See cl_broker_passwd.h.
 */
#include "cl_broker_passwd.h"
#include "core/cl_error.h"
#include "core/cl_fs.h"
#include "core/cl_mem.h"

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/rand.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define ITERATIONS 101
#define SALT_LEN 12
#define HASH_LEN 64
#define USER_MAX 128
#define FILE_MAX (16u << 20)

static int user_ok(const char *user)
{
	size_t n = strlen(user);

	if (n == 0 || n > USER_MAX)
		return 0;
	for (size_t i = 0; i < n; i++)
		if (user[i] == ':' || (unsigned char)user[i] < 0x20 || user[i] == 0x7f)
			return 0;
	return 1;
}

static int pbkdf2(const char *password, const unsigned char *salt, size_t salt_len,
		  int iterations, unsigned char hash[HASH_LEN])
{
	if (PKCS5_PBKDF2_HMAC(password, (int)strlen(password), salt, (int)salt_len, iterations,
			      EVP_sha512(), HASH_LEN, hash) != 1)
		return cl_error_set(CL_EIO, "PBKDF2 failed");
	return CL_OK;
}

int cl_broker_passwd_line(const char *user, const char *password, char *out, size_t cap)
{
	unsigned char salt[SALT_LEN], hash[HASH_LEN];
	char salt64[4 * ((SALT_LEN + 2) / 3) + 1], hash64[4 * ((HASH_LEN + 2) / 3) + 1];
	int n, rc;

	if (!user_ok(user))
		return cl_error_set(CL_EINVAL, "an MQTT user name is 1 to %d characters without ':' "
				    "or control characters", USER_MAX);
	if (RAND_bytes(salt, sizeof(salt)) != 1)
		return cl_error_set(CL_EIO, "no random salt");
	if ((rc = pbkdf2(password, salt, sizeof(salt), ITERATIONS, hash)))
		return rc;
	EVP_EncodeBlock((unsigned char *)salt64, salt, sizeof(salt));
	EVP_EncodeBlock((unsigned char *)hash64, hash, sizeof(hash));
	OPENSSL_cleanse(hash, sizeof(hash));
	n = snprintf(out, cap, "%s:$7$%d$%s$%s", user, ITERATIONS, salt64, hash64);
	if (n < 0 || (size_t)n >= cap)
		return cl_error_set(CL_EINVAL, "the password line does not fit");
	return CL_OK;
}

/* Decodes standard base64 text of n characters into out[cap]: its
 * length, or -1. */
static int unbase64(const char *s, size_t n, unsigned char *out, size_t cap)
{
	unsigned char buf[128];
	int len, pad = 0;

	if (n == 0 || n % 4 || n / 4 * 3 > sizeof(buf))
		return -1;
	len = EVP_DecodeBlock(buf, (const unsigned char *)s, (int)n);
	if (len < 0)
		return -1;
	pad = (s[n - 1] == '=') + (s[n - 2] == '=');
	len -= pad;
	if ((size_t)len > cap)
		return -1;
	memcpy(out, buf, (size_t)len);
	return len;
}

int cl_broker_passwd_check(const char *line, const char *password)
{
	const char *p = strstr(line, ":$7$"), *salt, *hash;
	unsigned char s[64], want[HASH_LEN], got[HASH_LEN];
	int slen, iterations, ok;
	char *end;

	if (!p)
		return 0;
	iterations = (int)strtol(p + 4, &end, 10);
	if (*end != '$' || iterations < 1 || iterations > 10000000)
		return 0;
	salt = end + 1;
	if (!(hash = strchr(salt, '$')))
		return 0;
	if ((slen = unbase64(salt, (size_t)(hash - salt), s, sizeof(s))) < 0 ||
	    unbase64(hash + 1, strlen(hash + 1), want, sizeof(want)) != HASH_LEN)
		return 0;
	if (pbkdf2(password, s, (size_t)slen, iterations, got))
		return 0;
	ok = CRYPTO_memcmp(got, want, HASH_LEN) == 0;
	OPENSSL_cleanse(got, sizeof(got));
	return ok;
}

/* The file's text without user's line into a new buffer (*found when it
 * had one), room left for one more line. */
static int without_user(const char *path, const char *user, char **out, size_t *len, int *found)
{
	char *text = NULL, *buf, *line, *next;
	size_t n = 0, ulen = strlen(user);
	int rc = cl_fs_read_file(path, FILE_MAX, &text, &n);

	*found = 0;
	if (rc == CL_ENOENT) {
		text = NULL;
		n = 0;
	} else if (rc) {
		return rc;
	}
	if (!(buf = cl_malloc(n + CL_BROKER_PASSWD_LINE_MAX + 2))) {
		cl_free(text);
		return cl_error_set(CL_ENOMEM, "out of memory");
	}
	*len = 0;
	for (line = text; line && *line; line = next) {
		size_t l;

		next = strchr(line, '\n');
		l = next ? (size_t)(next - line) : strlen(line);
		next = next ? next + 1 : line + l;
		if (l > ulen && strncmp(line, user, ulen) == 0 && line[ulen] == ':') {
			*found = 1;
			continue;
		}
		memcpy(buf + *len, line, l);
		*len += l;
		buf[(*len)++] = '\n';
	}
	cl_free(text);
	*out = buf;
	return CL_OK;
}

/*
 * Replaces the file with buf, atomically. A file that was there keeps its
 * mode, owner and group (the broker, running as its own user, must still
 * read it after the SIGHUP), as mosquitto_passwd keeps them; a new one is
 * made 0600.
 */
static int write_file(const char *path, const char *buf, size_t len)
{
	struct stat st;
	int had = stat(path, &st) == 0, rc;
	mode_t mode = had ? st.st_mode & 07777 : 0600;

	if ((rc = cl_fs_write_atomic(path, buf, len, (int)mode)))
		return rc;
	if (!had)
		return CL_OK;
	if (chmod(path, mode) != 0)
		return cl_error_set(cl_error_from_errno(errno), "wrote %s but cannot give it back "
				    "its mode %04o: %s", path, (unsigned)mode, strerror(errno));
	if ((st.st_uid != geteuid() || st.st_gid != getegid()) &&
	    chown(path, st.st_uid, st.st_gid) != 0 && chown(path, (uid_t)-1, st.st_gid) != 0)
		return cl_error_set(cl_error_from_errno(errno), "wrote %s but cannot give it back "
				    "its group %u (%s): chown it before mosquitto reloads it", path,
				    (unsigned)st.st_gid, strerror(errno));
	return CL_OK;
}

int cl_broker_passwd_set(const char *path, const char *user, const char *password)
{
	char line[CL_BROKER_PASSWD_LINE_MAX], *buf;
	size_t len;
	int found, rc;

	if ((rc = cl_broker_passwd_line(user, password, line, sizeof(line))))
		return rc;
	if ((rc = without_user(path, user, &buf, &len, &found)))
		return rc;
	len += (size_t)snprintf(buf + len, CL_BROKER_PASSWD_LINE_MAX + 1, "%s\n", line);
	rc = write_file(path, buf, len);
	cl_free(buf);
	return rc;
}

int cl_broker_passwd_remove(const char *path, const char *user)
{
	char *buf;
	size_t len;
	int found, rc;

	if (!user_ok(user))
		return cl_error_set(CL_EINVAL, "no such MQTT user name");
	if ((rc = without_user(path, user, &buf, &len, &found)))
		return rc;
	if (!found)
		rc = cl_error_set(CL_ENOENT, "%s has no line for that user", path);
	else
		rc = write_file(path, buf, len);
	cl_free(buf);
	return rc;
}
