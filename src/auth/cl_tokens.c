/*
 * API tokens. See cl_tokens.h.
 *
 * The tokens file is rewritten whole (cl_fs_write_atomic) under an
 * exclusive flock of <data>/auth/tokens.lock, so two commands issuing or
 * revoking at once never lose each other's change; readers need no lock.
 */
#include "cl_tokens.h"
#include "auth/cl_broker_passwd.h"
#include "core/cl_error.h"
#include "core/cl_fs.h"
#include "core/cl_log.h"
#include "core/cl_mem.h"
#include "core/cl_time.h"

#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <limits.h>
#include <pthread.h>
#include <sodium.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <sys/file.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#define TOKEN_PREFIX "clk_"
#define TOKEN_HEX 64
#define HASH_BYTES crypto_generichash_BYTES
#define HAND_EDIT_US 1000000 /* a file edited by hand is seen within this */

/* A token as held in memory: what it says and its hash. */
struct entry {
	struct cl_token_info info;
	unsigned char hash[HASH_BYTES];
	atomic_int_fast64_t last_used_us;
};

struct cl_tokens {
	char dir[PATH_MAX];             /* <data>/auth */
	char path[PATH_MAX];            /* <data>/auth/tokens */
	char admin_path[PATH_MAX];
	pthread_rwlock_t lock;          /* guards e, n and the file's identity */
	_Atomic uint64_t *changes;      /* the shared change count, NULL: none */
	char changes_name[64];          /* its shared memory object's name */
	atomic_uint_fast64_t seen_changes; /* the count when the file was last read */
	atomic_int_fast64_t stat_us;    /* when the file was last looked at */
	struct entry *e;
	size_t n;
	dev_t dev;
	ino_t ino;
	off_t size;
	struct timespec mtime;
};

static void hash_token(const char *tok, size_t len, unsigned char out[HASH_BYTES])
{
	crypto_generichash(out, HASH_BYTES, (const unsigned char *)tok, len, NULL, 0);
}

static void paths(const char *data_dir, char *dir, size_t dcap, char *file, size_t fcap)
{
	snprintf(dir, dcap, "%s/auth", data_dir);
	snprintf(file, fcap, "%s/auth/tokens", data_dir);
}

/* ---- the file ---- */

static int64_t time_field(json_t *o, const char *key)
{
	const char *s = json_string_value(json_object_get(o, key));
	int64_t us = 0;

	if (s && cl_time_parse_rfc3339(s, strlen(s), &us) != CL_OK)
		us = 0;
	return us;
}

static void copy_field(json_t *o, const char *key, char *dst, size_t cap)
{
	const char *s = json_string_value(json_object_get(o, key));

	snprintf(dst, cap, "%s", s ? s : "");
}

/* Parses one line of the tokens file into *e; CL_ECORRUPT naming the
 * line when it is neither form. */
static int parse_line(const char *line, size_t lineno, const char *path, struct entry *e)
{
	char hex[TOKEN_HEX + 2];
	size_t bin_len;

	memset(e, 0, sizeof(*e));
	if (strncmp(line, "v1 ", 3) == 0) {
		char name[65], role[33], extra[2];

		if (sscanf(line, "v1 %64s %32s %65s %1s", name, role, hex, extra) != 3 ||
		    strlen(hex) != TOKEN_HEX)
			return cl_error_set(CL_ECORRUPT, "%s:%zu: not 'v1 NAME ROLE HASH'", path,
					    lineno);
		snprintf(e->info.id, sizeof(e->info.id), "%.16s", name);
		snprintf(e->info.name, sizeof(e->info.name), "%s", name);
		e->info.role = cl_role_by_name(role);
	} else {
		json_error_t err;
		json_t *o = json_loads(line, JSON_REJECT_DUPLICATES, &err);
		const char *h;

		if (!json_is_object(o)) {
			json_decref(o);
			return cl_error_set(CL_ECORRUPT, "%s:%zu: not a token (%s)", path, lineno,
					    err.text);
		}
		copy_field(o, "id", e->info.id, sizeof(e->info.id));
		copy_field(o, "name", e->info.name, sizeof(e->info.name));
		e->info.role = cl_role_by_name(json_string_value(json_object_get(o, "role")));
		copy_field(o, "patient", e->info.patient, sizeof(e->info.patient));
		copy_field(o, "device", e->info.device, sizeof(e->info.device));
		copy_field(o, "wards", e->info.wards, sizeof(e->info.wards));
		copy_field(o, "broker_passwd", e->info.broker_passwd,
			   sizeof(e->info.broker_passwd));
		e->info.created_us = time_field(o, "created");
		e->info.expires_us = time_field(o, "expires");
		e->info.revoked_us = time_field(o, "revoked");
		h = json_string_value(json_object_get(o, "hash"));
		snprintf(hex, sizeof(hex), "%s", h ? h : "");
		json_decref(o);
		if (!e->info.id[0] || strlen(hex) != TOKEN_HEX)
			return cl_error_set(CL_ECORRUPT, "%s:%zu: a token without an id or hash", path,
					    lineno);
	}
	if (e->info.role == CL_ROLE_NONE)
		return cl_error_set(CL_ECORRUPT, "%s:%zu: no such role", path, lineno);
	if (sodium_hex2bin(e->hash, sizeof(e->hash), hex, TOKEN_HEX, NULL, &bin_len, NULL) != 0 ||
	    bin_len != sizeof(e->hash))
		return cl_error_set(CL_ECORRUPT, "%s:%zu: the hash is not hex", path, lineno);
	return CL_OK;
}

/* Reads every token of the file at path. */
static int read_file(const char *path, struct entry **out, size_t *n)
{
	char *text, *line, *save = NULL;
	struct entry *e = NULL;
	size_t len, count = 0, lineno = 0;
	int rc = cl_fs_read_file(path, 16 << 20, &text, &len);

	*out = NULL;
	*n = 0;
	if (rc)
		return rc;
	for (line = strtok_r(text, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
		struct entry *ne;

		lineno++;
		if (line[0] == '#' || line[0] == '\0')
			continue;
		ne = cl_realloc(e, (count + 1) * sizeof(*e));
		if (!ne) {
			rc = cl_error_set(CL_ENOMEM, "no memory for tokens");
			break;
		}
		e = ne;
		rc = parse_line(line, lineno, path, &e[count]);
		if (rc)
			break;
		count++;
	}
	sodium_memzero(text, len);
	cl_free(text);
	if (rc) {
		if (e)
			sodium_memzero(e, count * sizeof(*e));
		cl_free(e);
		return rc;
	}
	*out = e;
	*n = count;
	return CL_OK;
}

static json_t *entry_json(const struct entry *e)
{
	char hex[TOKEN_HEX + 1], t[40];
	json_t *o;

	sodium_bin2hex(hex, sizeof(hex), e->hash, sizeof(e->hash));
	o = json_pack("{s:i,s:s,s:s,s:s,s:s}", "v", 2, "id", e->info.id, "name", e->info.name,
		      "role", cl_role_name(e->info.role), "hash", hex);
	if (e->info.patient[0])
		json_object_set_new(o, "patient", json_string(e->info.patient));
	if (e->info.device[0])
		json_object_set_new(o, "device", json_string(e->info.device));
	if (e->info.wards[0])
		json_object_set_new(o, "wards", json_string(e->info.wards));
	if (e->info.broker_passwd[0])
		json_object_set_new(o, "broker_passwd", json_string(e->info.broker_passwd));
	if (e->info.created_us) {
		cl_time_format_rfc3339(e->info.created_us, t, sizeof(t), 0);
		json_object_set_new(o, "created", json_string(t));
	}
	if (e->info.expires_us) {
		cl_time_format_rfc3339(e->info.expires_us, t, sizeof(t), 0);
		json_object_set_new(o, "expires", json_string(t));
	}
	if (e->info.revoked_us) {
		cl_time_format_rfc3339(e->info.revoked_us, t, sizeof(t), 0);
		json_object_set_new(o, "revoked", json_string(t));
	}
	return o;
}

/* Bytes a token's line may take: its fixed part, and its texts each
 * escaped at worst ("\u0001" for one byte). */
static size_t line_cap(const struct cl_token_info *i)
{
	return 512 + 6 * (strlen(i->name) + strlen(i->patient) + strlen(i->device) +
			  strlen(i->wards) + strlen(i->broker_passwd));
}

/*
 * The change count. A running server must see a revocation at its next
 * request, and a stat of the tokens file on every request costs more
 * than the rest of authentication. So the server keeps a count in a
 * small shared memory object named after the tokens folder (its device
 * and inode; mode 0600, owned by the server's user), and every command
 * that rewrites the file adds one to it after the rename: a request
 * then costs one load, and the file is read again only when the count
 * moved. Without the object (it could not be made, or no server runs)
 * nothing is lost: the server then looks at the file on every request.
 */
static int changes_name(const char *dir, char *name, size_t cap)
{
	struct stat st;

	if (stat(dir, &st) != 0)
		return -1;
	snprintf(name, cap, "/carelake-tokens-%jx-%jx", (uintmax_t)st.st_dev,
		 (uintmax_t)st.st_ino);
	return 0;
}

/* Maps the object of fd if it is the user's own and holds a count. */
static _Atomic uint64_t *map_changes(int fd)
{
	struct stat st;
	void *at;

	if (fstat(fd, &st) != 0 || st.st_uid != geteuid() ||
	    (size_t)st.st_size < sizeof(uint64_t))
		return NULL;
	at = mmap(NULL, sizeof(uint64_t), PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	return at == MAP_FAILED ? NULL : at;
}

/* The server's side: makes (or takes over, after a crash) the object. */
static void count_changes(struct cl_tokens *t)
{
	struct stat st;
	int fd;

	if (changes_name(t->dir, t->changes_name, sizeof(t->changes_name)) != 0)
		return;
	fd = shm_open(t->changes_name, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
	if (fd < 0)
		return;
	if (fstat(fd, &st) == 0 && st.st_uid == geteuid() &&
	    (size_t)st.st_size < sizeof(uint64_t) && ftruncate(fd, sizeof(uint64_t)) != 0) {
		close(fd);
		return;
	}
	t->changes = map_changes(fd);
	close(fd);
	if (t->changes)
		atomic_store(&t->seen_changes, atomic_load(t->changes));
}

/* The commands' side: counts a rewrite of the file in folder dir, for a
 * server that runs on it. */
static void count_change(const char *dir)
{
	_Atomic uint64_t *changes;
	char name[64];
	int fd;

	if (changes_name(dir, name, sizeof(name)) != 0)
		return;
	fd = shm_open(name, O_RDWR | O_CLOEXEC, 0);
	if (fd < 0)
		return;
	changes = map_changes(fd);
	close(fd);
	if (!changes)
		return;
	atomic_fetch_add(changes, 1);
	munmap((void *)changes, sizeof(*changes));
}

/* Writes the tokens file whole, atomically, mode 0600, and counts the
 * change for a running server. */
static int write_file(const char *path, const struct entry *e, size_t n)
{
	size_t cap = 256, len = 0;
	char *buf;
	int rc;

	for (size_t i = 0; i < n; i++)
		cap += line_cap(&e[i].info);
	buf = cl_malloc(cap);

	if (!buf)
		return cl_error_set(CL_ENOMEM, "no memory for tokens");
	len = (size_t)snprintf(buf, cap, "# carelake API tokens: only hashes (BLAKE2b-256) are "
			       "kept here\n");
	for (size_t i = 0; i < n; i++) {
		json_t *o = entry_json(&e[i]);
		char *line = json_dumps(o, JSON_COMPACT);
		size_t ll = line ? strlen(line) : 0;

		json_decref(o);
		if (!line || len + ll + 2 > cap) {
			free(line);
			cl_free(buf);
			return cl_error_set(CL_ENOMEM, "no memory for tokens");
		}
		memcpy(buf + len, line, ll);
		buf[len + ll] = '\n';
		len += ll + 1;
		free(line);
	}
	rc = cl_fs_write_atomic(path, buf, len, 0600);
	sodium_memzero(buf, len);
	cl_free(buf);
	if (rc == CL_OK) {
		char dir[PATH_MAX];
		const char *slash = strrchr(path, '/');

		snprintf(dir, sizeof(dir), "%.*s", slash ? (int)(slash - path) : 1,
			 slash ? path : ".");
		count_change(dir);
	}
	return rc;
}

/* Takes the exclusive lock of the tokens file (held until close). */
static int lock_file(const char *dir, int *fd)
{
	char path[PATH_MAX + 16];

	snprintf(path, sizeof(path), "%s/tokens.lock", dir);
	*fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
	if (*fd < 0)
		return cl_error_set(cl_error_from_errno(errno), "cannot open %s: %s", path,
				    strerror(errno));
	if (flock(*fd, LOCK_EX) != 0) {
		close(*fd);
		return cl_error_set(CL_EIO, "cannot lock %s: %s", path, strerror(errno));
	}
	return CL_OK;
}

/* A new random secret and its id. */
static void new_secret(char token[sizeof(TOKEN_PREFIX) + TOKEN_HEX], char id[17],
		       unsigned char hash[HASH_BYTES])
{
	unsigned char raw[32], rid[7];

	randombytes_buf(raw, sizeof(raw));
	memcpy(token, TOKEN_PREFIX, sizeof(TOKEN_PREFIX) - 1);
	sodium_bin2hex(token + sizeof(TOKEN_PREFIX) - 1, TOKEN_HEX + 1, raw, sizeof(raw));
	sodium_memzero(raw, sizeof(raw));
	randombytes_buf(rid, sizeof(rid));
	id[0] = 't';
	id[1] = 'k';
	sodium_bin2hex(id + 2, 15, rid, sizeof(rid));
	hash_token(token, strlen(token), hash);
}

/* ---- the server's view ---- */

/* Reads the file again if it changed since it was read (caller holds the
 * write lock, or is the only user). */
static int reload(struct cl_tokens *t, const struct stat *st)
{
	struct entry *e;
	size_t n;
	int rc = read_file(t->path, &e, &n);

	if (rc)
		return rc;
	/* keep what is known of when each token was last used */
	for (size_t i = 0; i < n; i++) {
		atomic_store(&e[i].last_used_us, 0);
		for (size_t j = 0; j < t->n; j++)
			if (strcmp(e[i].info.id, t->e[j].info.id) == 0)
				atomic_store(&e[i].last_used_us, atomic_load(&t->e[j].last_used_us));
	}
	if (t->e)
		sodium_memzero(t->e, t->n * sizeof(*t->e));
	cl_free(t->e);
	t->e = e;
	t->n = n;
	t->dev = st->st_dev;
	t->ino = st->st_ino;
	t->size = st->st_size;
	t->mtime = st->st_mtim;
	return CL_OK;
}

static int changed(const struct cl_tokens *t, const struct stat *st)
{
	return st->st_dev != t->dev || st->st_ino != t->ino || st->st_size != t->size ||
	       st->st_mtim.tv_sec != t->mtime.tv_sec || st->st_mtim.tv_nsec != t->mtime.tv_nsec;
}

/* Makes the admin token: the hash into the tokens file, the token itself
 * into admin.token (0600). */
static int create_admin(struct cl_tokens *t)
{
	char token[sizeof(TOKEN_PREFIX) + TOKEN_HEX], line[sizeof(token) + 2];
	struct entry e;
	int fd, rc, n;

	memset(&e, 0, sizeof(e));
	new_secret(token, e.info.id, e.hash);
	snprintf(e.info.name, sizeof(e.info.name), "admin");
	e.info.role = CL_ROLE_ADMIN;
	e.info.created_us = cl_time_now_us();
	/* the secret first: a token nobody can read would lock everyone out */
	unlink(t->admin_path);
	fd = open(t->admin_path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
	if (fd < 0)
		return cl_error_set(cl_error_from_errno(errno), "cannot create '%s': %s",
				    t->admin_path, strerror(errno));
	n = snprintf(line, sizeof(line), "%s\n", token);
	rc = cl_fs_write_all(fd, line, (size_t)n, t->admin_path);
	if (rc == CL_OK)
		rc = cl_fs_datasync(fd, t->admin_path);
	close(fd);
	sodium_memzero(token, sizeof(token));
	sodium_memzero(line, sizeof(line));
	if (rc == CL_OK)
		rc = cl_fs_mkdirs(t->dir);
	if (rc == CL_OK)
		rc = write_file(t->path, &e, 1);
	return rc;
}

int cl_tokens_open(const char *data_dir, struct cl_tokens **out, int *created)
{
	struct cl_tokens *t;
	struct stat st;
	int rc = CL_OK;

	*created = 0;
	if (sodium_init() < 0)
		return cl_error_set(CL_EIO, "libsodium failed to initialise");
	t = cl_calloc(1, sizeof(*t));
	if (!t)
		return cl_error_set(CL_ENOMEM, "no memory for tokens");
	pthread_rwlock_init(&t->lock, NULL);
	paths(data_dir, t->dir, sizeof(t->dir), t->path, sizeof(t->path));
	snprintf(t->admin_path, sizeof(t->admin_path), "%s/admin.token", data_dir);
	if (stat(t->path, &st) != 0) {
		rc = create_admin(t);
		*created = rc == CL_OK;
	}
	/* the count before the read, so no change falls between them */
	if (rc == CL_OK)
		count_changes(t);
	if (rc == CL_OK && stat(t->path, &st) != 0)
		rc = cl_error_set(CL_EIO, "cannot read %s", t->path);
	if (rc == CL_OK)
		rc = reload(t, &st);
	if (rc) {
		cl_tokens_close(t);
		return rc;
	}
	*out = t;
	return CL_OK;
}

void cl_tokens_close(struct cl_tokens *t)
{
	if (!t)
		return;
	if (t->e)
		sodium_memzero(t->e, t->n * sizeof(*t->e));
	cl_free(t->e);
	if (t->changes) {
		munmap((void *)t->changes, sizeof(*t->changes));
		shm_unlink(t->changes_name);
	}
	pthread_rwlock_destroy(&t->lock);
	cl_free(t);
}

const char *cl_tokens_admin_path(const struct cl_tokens *t)
{
	return t->admin_path;
}

/* Whether the tokens file may have changed since it was read: the
 * change count moved, or a second passed since the file was last looked
 * at (a hand edit), or there is no change count to go by. */
static int may_have_changed(struct cl_tokens *t, int64_t now_us)
{
	int64_t last = atomic_load(&t->stat_us);

	if (!t->changes || now_us < last || now_us - last >= HAND_EDIT_US)
		return 1;
	return atomic_load(t->changes) != atomic_load(&t->seen_changes);
}

/* Reads the tokens file again if it changed; a revocation or a new token
 * thus acts on the next request, at the cost of one load from shared
 * memory while nothing changed. */
static void refresh(struct cl_tokens *t, int64_t now_us)
{
	uint64_t count = 0;
	struct stat st;
	int stale;

	if (!may_have_changed(t, now_us))
		return;
	/* the count before the file: a change counted after this read is
	 * seen at the next check */
	if (t->changes)
		count = atomic_load(t->changes);
	atomic_store(&t->stat_us, now_us);
	if (stat(t->path, &st) != 0)
		return;
	pthread_rwlock_rdlock(&t->lock);
	stale = changed(t, &st);
	pthread_rwlock_unlock(&t->lock);
	if (stale) {
		pthread_rwlock_wrlock(&t->lock);
		if (changed(t, &st) && reload(t, &st) != CL_OK)
			cl_log_error("auth", "event=tokens_unreadable detail=%s",
				     CL_LOG_Q(cl_error_detail()));
		pthread_rwlock_unlock(&t->lock);
	}
	atomic_store(&t->seen_changes, count);
}

/* Copies the string src into dst of cap bytes, cut to fit. */
static void copy_text(char *dst, size_t cap, const char *src)
{
	size_t n = strlen(src);

	if (n > cap - 1)
		n = cap - 1;

	memcpy(dst, src, n);
	dst[n] = '\0';
}

/* The principal a token's entry makes. */
static void principal_of(const struct entry *e, struct cl_principal *p)
{
	copy_text(p->id, sizeof(p->id), e->info.id);
	copy_text(p->name, sizeof(p->name), e->info.name);
	p->role = e->info.role;
	copy_text(p->patient, sizeof(p->patient), e->info.patient);
	copy_text(p->device, sizeof(p->device), e->info.device);
	copy_text(p->wards, sizeof(p->wards), e->info.wards);
	p->scope[0] = '\0';
	p->jwt = 0;
}

int cl_tokens_check(struct cl_tokens *t, const char *token, size_t len, int64_t now_us,
		    struct cl_principal *p)
{
	unsigned char hash[HASH_BYTES];
	int rc = CL_EINVAL, found = -1;

	if (len == 0)
		return cl_error_set(CL_EINVAL, "the bearer token is empty");
	refresh(t, now_us);
	hash_token(token, len, hash);
	pthread_rwlock_rdlock(&t->lock);
	/* every entry compared, in constant time each */
	for (size_t i = 0; i < t->n; i++)
		if (sodium_memcmp(hash, t->e[i].hash, sizeof(hash)) == 0)
			found = (int)i;
	if (found < 0) {
		rc = cl_error_set(CL_EINVAL, "the bearer token is not valid");
	} else if (t->e[found].info.revoked_us) {
		rc = cl_error_set(CL_EINVAL, "the bearer token was revoked");
	} else if (t->e[found].info.expires_us && now_us >= t->e[found].info.expires_us) {
		rc = cl_error_set(CL_EINVAL, "the bearer token has expired");
	} else {
		principal_of(&t->e[found], p);
		atomic_store(&t->e[found].last_used_us, now_us);
		rc = CL_OK;
	}
	pthread_rwlock_unlock(&t->lock);
	sodium_memzero(hash, sizeof(hash));
	return rc;
}

int cl_tokens_save_usage(struct cl_tokens *t)
{
	json_t *o = json_object();
	char path[PATH_MAX + 16], *text;
	int rc;

	pthread_rwlock_rdlock(&t->lock);
	for (size_t i = 0; i < t->n; i++) {
		int64_t used = atomic_load(&t->e[i].last_used_us);
		char ts[40];

		if (!used)
			continue;
		cl_time_format_rfc3339(used, ts, sizeof(ts), 0);
		json_object_set_new(o, t->e[i].info.id, json_string(ts));
	}
	pthread_rwlock_unlock(&t->lock);
	text = json_dumps(o, JSON_COMPACT);
	json_decref(o);
	if (!text)
		return cl_error_set(CL_ENOMEM, "no memory for token usage");
	snprintf(path, sizeof(path), "%s/last_used", t->dir);
	rc = cl_fs_write_atomic(path, text, strlen(text), 0600);
	free(text);
	return rc;
}

/* ---- the commands' side ---- */

/* Sets the line of e[n], just written to the tokens file at path, in its
 * broker password file; when that fails, the tokens file is written back
 * as it was (without e[n]) and the broker's error returned. */
static int set_broker_line(const char *path, const struct entry *e, size_t n,
			   const char *secret)
{
	const struct cl_token_info *i = &e[n].info;
	int rc = cl_broker_passwd_set(i->broker_passwd, i->device, secret);
	char why[512];

	if (rc == CL_OK)
		return CL_OK;
	snprintf(why, sizeof(why), "%s", cl_error_detail());
	if (write_file(path, e, n) != CL_OK)
		cl_log_error("auth", "event=token_unwritten id=%s detail=\"its broker password "
			     "line was not written, it stays in the tokens file: revoke it\"", i->id);
	return cl_error_set(rc, "no token issued: %s", why);
}

int cl_tokens_issue(const char *data_dir, struct cl_token_info *spec, char *token, size_t cap)
{
	char dir[PATH_MAX], path[PATH_MAX];
	char secret[sizeof(TOKEN_PREFIX) + TOKEN_HEX];
	struct entry *e = NULL, *ne;
	size_t n = 0;
	int fd, rc;

	if (cap < sizeof(secret))
		return cl_error_set(CL_EINVAL, "no room for the token");
	if (spec->role == CL_ROLE_NONE || spec->role >= CL_ROLES)
		return cl_error_set(CL_EINVAL, "a token needs a role");
	if (spec->role == CL_ROLE_PATIENT && !spec->patient[0])
		return cl_error_set(CL_EINVAL, "a patient token needs --patient ID");
	if (spec->role == CL_ROLE_DEVICE && !spec->device[0])
		return cl_error_set(CL_EINVAL, "a device token needs --device ID");
	if (spec->patient[0] && spec->role != CL_ROLE_PATIENT)
		return cl_error_set(CL_EINVAL, "--patient binds only a patient token");
	if (spec->device[0] && spec->role != CL_ROLE_DEVICE)
		return cl_error_set(CL_EINVAL, "--device binds only a device token");
	if (spec->wards[0] && spec->role != CL_ROLE_CLINICIAN)
		return cl_error_set(CL_EINVAL, "--ward limits only a clinician token");
	if (spec->broker_passwd[0] && spec->role != CL_ROLE_DEVICE)
		return cl_error_set(CL_EINVAL, "--broker-passwd is for a device token only (its "
				    "MQTT user name is its device id)");
	if (spec->broker_passwd[0] && spec->broker_passwd[0] != '/')
		return cl_error_set(CL_EINVAL, "the broker password file must be an absolute path");
	paths(data_dir, dir, sizeof(dir), path, sizeof(path));
	rc = cl_fs_mkdirs(dir);
	if (rc == CL_OK)
		rc = lock_file(dir, &fd);
	if (rc)
		return rc;
	rc = read_file(path, &e, &n);
	if (rc == CL_ENOENT)
		rc = CL_OK;
	ne = rc ? NULL : cl_realloc(e, (n + 1) * sizeof(*e));
	if (!rc && !ne)
		rc = cl_error_set(CL_ENOMEM, "no memory for tokens");
	if (rc == CL_OK) {
		e = ne;
		memset(&e[n], 0, sizeof(e[n]));
		new_secret(secret, spec->id, e[n].hash);
		spec->created_us = cl_time_now_us();
		spec->revoked_us = 0;
		if (!spec->name[0])
			snprintf(spec->name, sizeof(spec->name), "%s", cl_role_name(spec->role));
		e[n].info = *spec;
		rc = write_file(path, e, n + 1);
		if (rc == CL_OK && spec->broker_passwd[0])
			rc = set_broker_line(path, e, n, secret);
		if (rc == CL_OK)
			snprintf(token, cap, "%s", secret);
		sodium_memzero(secret, sizeof(secret));
		n++;
	}
	if (e)
		sodium_memzero(e, n * sizeof(*e));
	cl_free(e);
	close(fd);
	return rc;
}

/* When each token was last used, from auth/last_used (absent: none). */
static void read_usage(const char *dir, struct cl_token_info *info, size_t n)
{
	char path[PATH_MAX + 16];
	json_t *o;

	snprintf(path, sizeof(path), "%s/last_used", dir);
	o = json_load_file(path, 0, NULL);
	for (size_t i = 0; o && i < n; i++) {
		const char *s = json_string_value(json_object_get(o, info[i].id));
		int64_t us;

		if (s && cl_time_parse_rfc3339(s, strlen(s), &us) == CL_OK)
			info[i].last_used_us = us;
	}
	json_decref(o);
}

int cl_tokens_list(const char *data_dir, struct cl_token_info **out, size_t *n)
{
	char dir[PATH_MAX], path[PATH_MAX];
	struct cl_token_info *info;
	struct entry *e;
	int rc;

	*out = NULL;
	*n = 0;
	paths(data_dir, dir, sizeof(dir), path, sizeof(path));
	rc = read_file(path, &e, n);
	if (rc == CL_ENOENT)
		return cl_error_set(CL_ENOENT, "no tokens in %s yet (serve makes the admin token on "
				    "its first start)", data_dir);
	if (rc)
		return rc;
	info = cl_calloc(*n ? *n : 1, sizeof(*info));
	if (!info) {
		cl_free(e);
		return cl_error_set(CL_ENOMEM, "no memory for tokens");
	}
	for (size_t i = 0; i < *n; i++)
		info[i] = e[i].info;
	sodium_memzero(e, *n * sizeof(*e));
	cl_free(e);
	read_usage(dir, info, *n);
	*out = info;
	return CL_OK;
}

/* The index of the last token of the same device written to the same
 * broker password file as e[i]: the one whose line that file holds. */
static size_t broker_line_owner(const struct entry *e, size_t n, size_t i)
{
	size_t owner = i;

	for (size_t j = i + 1; j < n; j++)
		if (strcmp(e[j].info.device, e[i].info.device) == 0 &&
		    strcmp(e[j].info.broker_passwd, e[i].info.broker_passwd) == 0)
			owner = j;
	return owner;
}

/* Removes revoked token e[i]'s line from its broker password file, if it
 * has one there; *done->broker_passwd says where it was removed from. */
static int remove_broker_line(const struct entry *e, size_t n, size_t i,
			      struct cl_token_info *done)
{
	const struct cl_token_info *t = &e[i].info;
	int rc;

	done->broker_passwd[0] = '\0';
	if (!t->broker_passwd[0] || broker_line_owner(e, n, i) != i)
		return CL_OK;
	rc = cl_broker_passwd_remove(t->broker_passwd, t->device);
	if (rc == CL_ENOENT)
		return CL_OK; /* someone removed it already */
	if (rc)
		return cl_error_set(CL_EIO, "token %s is revoked, but its device's line in %s could "
				    "not be removed (%s): remove the line of '%s' by hand and "
				    "reload mosquitto", t->id, t->broker_passwd, cl_error_detail(),
				    t->device);
	snprintf(done->broker_passwd, sizeof(done->broker_passwd), "%s", t->broker_passwd);
	return CL_OK;
}

int cl_tokens_revoke(const char *data_dir, const char *id, int64_t now_us,
		     struct cl_token_info *done)
{
	char dir[PATH_MAX], path[PATH_MAX];
	struct cl_token_info ignored;
	struct entry *e;
	size_t n, at = 0;
	int fd, rc, found = 0;

	paths(data_dir, dir, sizeof(dir), path, sizeof(path));
	rc = lock_file(dir, &fd);
	if (rc)
		return rc;
	rc = read_file(path, &e, &n);
	for (size_t i = 0; rc == CL_OK && i < n; i++) {
		if (strcmp(e[i].info.id, id) != 0)
			continue;
		found = 1;
		at = i;
		if (e[i].info.revoked_us)
			rc = cl_error_set(CL_EEXIST, "token %s was revoked before", id);
		else
			e[i].info.revoked_us = now_us;
	}
	if (rc == CL_OK && !found)
		rc = cl_error_set(CL_ENOENT, "no token with the id '%.40s' (see carelake token list)",
				  id);
	if (rc == CL_OK)
		rc = write_file(path, e, n);
	if (!done)
		done = &ignored;
	if (rc == CL_OK) {
		*done = e[at].info;
		rc = remove_broker_line(e, n, at, done);
	}
	if (e)
		sodium_memzero(e, n * sizeof(*e));
	cl_free(e);
	close(fd);
	return rc;
}
