/*
 * Encoding and decoding of audit trail lines, and the hash chain over
 * them. See cl_audit_line.h for the form.
 */
#include "cl_audit_line.h"
#include "core/cl_error.h"
#include "core/cl_mem.h"
#include "core/cl_time.h"
#include "core/cl_utf8.h"

#include <inttypes.h>
#include <jansson.h>
#include <sodium.h>
#include <stdio.h>
#include <string.h>

/* `,"hash":"` + 64 hex + `"}` */
#define HASH_PREFIX ",\"hash\":\""
#define HASH_PREFIX_LEN 9
#define HASH_SUFFIX_LEN (HASH_PREFIX_LEN + CL_AUDIT_HEX_LEN + 2)

int cl_audit_buf_reserve(struct cl_audit_buf *b, size_t n)
{
	size_t cap;
	char *p;

	if (b->cap - b->len >= n)
		return CL_OK;
	cap = b->cap ? b->cap : 1024;
	while (cap - b->len < n)
		cap *= 2;
	p = cl_realloc(b->p, cap);
	if (!p)
		return cl_error_set(CL_ENOMEM, "no memory for an audit record");
	b->p = p;
	b->cap = cap;
	return CL_OK;
}

void cl_audit_buf_free(struct cl_audit_buf *b)
{
	cl_free(b->p);
	b->p = NULL;
	b->len = b->cap = 0;
}

static int put(struct cl_audit_buf *b, const char *s, size_t n)
{
	int rc = cl_audit_buf_reserve(b, n);

	if (rc)
		return rc;
	memcpy(b->p + b->len, s, n);
	b->len += n;
	return CL_OK;
}

static int puts_(struct cl_audit_buf *b, const char *s)
{
	return put(b, s, strlen(s));
}

/* A JSON string: escapes, control bytes as \u00XX, invalid UTF-8 as U+FFFD. */
static int put_str(struct cl_audit_buf *b, const char *s)
{
	const unsigned char *p = (const unsigned char *)s;
	size_t n = strlen(s);
	int rc;

	/* at most 6 bytes out per byte in, and the quotes */
	rc = cl_audit_buf_reserve(b, n * 6 + 2);
	if (rc)
		return rc;
	b->p[b->len++] = '"';
	for (size_t i = 0; i < n;) {
		unsigned char c = p[i];

		if (c == '"' || c == '\\') {
			b->p[b->len++] = '\\';
			b->p[b->len++] = (char)c;
			i++;
		} else if (c < 0x20 || c == 0x7f) {
			b->len += (size_t)snprintf(b->p + b->len, 7, "\\u%04x", c);
			i++;
		} else if (c < 0x80) {
			b->p[b->len++] = (char)c;
			i++;
		} else {
			size_t k = cl_utf8_seq(p + i, n - i);

			if (k == 0) {
				memcpy(b->p + b->len, "\xef\xbf\xbd", 3);
				b->len += 3;
				i++;
			} else {
				memcpy(b->p + b->len, p + i, k);
				b->len += k;
				i += k;
			}
		}
	}
	b->p[b->len++] = '"';
	return CL_OK;
}

/* ,"key":"value" when value is set. */
static int member_str(struct cl_audit_buf *b, const char *key, const char *value)
{
	int rc;

	if (!value || !*value)
		return CL_OK;
	rc = put(b, ",\"", 2);
	if (rc == CL_OK)
		rc = puts_(b, key);
	if (rc == CL_OK)
		rc = put(b, "\":", 2);
	return rc ? rc : put_str(b, value);
}

static int member_list(struct cl_audit_buf *b, const char *key, const char *const *v,
		       size_t n)
{
	int rc;

	if (n == 0)
		return CL_OK;
	rc = put(b, ",\"", 2);
	if (rc == CL_OK)
		rc = puts_(b, key);
	if (rc == CL_OK)
		rc = put(b, "\":[", 3);
	for (size_t i = 0; i < n && rc == CL_OK; i++) {
		if (i)
			rc = put(b, ",", 1);
		if (rc == CL_OK)
			rc = put_str(b, v[i] ? v[i] : "");
	}
	return rc ? rc : put(b, "]", 1);
}

static int member_int(struct cl_audit_buf *b, const char *key, int64_t v)
{
	char tmp[64];

	snprintf(tmp, sizeof(tmp), ",\"%s\":%" PRId64, key, v);
	return puts_(b, tmp);
}

static int member_time(struct cl_audit_buf *b, int64_t us)
{
	char t[40];

	cl_time_format_rfc3339(us, t, sizeof(t), 6);
	return member_str(b, "time", t);
}

int cl_audit_body_encode(struct cl_audit_buf *b, const struct cl_audit_record *r,
			 int64_t now_us)
{
	size_t start = b->len;
	int rc;

	rc = member_time(b, r->time_us ? r->time_us : now_us);
	if (rc == CL_OK)
		rc = puts_(b, ",\"kind\":\"event\"");
	if (rc == CL_OK)
		rc = member_str(b, "principal", r->principal);
	if (rc == CL_OK)
		rc = member_str(b, "role", r->role);
	if (rc == CL_OK)
		rc = member_str(b, "client", r->client);
	if (rc == CL_OK)
		rc = member_str(b, "request_id", r->request_id);
	if (rc == CL_OK)
		rc = member_str(b, "action", r->action);
	if (rc == CL_OK)
		rc = member_str(b, "resource_type", r->resource_type);
	if (rc == CL_OK)
		rc = member_list(b, "resource_ids", r->resource_ids, r->nresource_ids);
	if (rc == CL_OK)
		rc = member_list(b, "patients", r->patients, r->npatients);
	if (rc == CL_OK)
		rc = member_str(b, "query", r->query);
	if (rc == CL_OK)
		rc = member_int(b, "count", r->count);
	if (rc == CL_OK)
		rc = member_int(b, "status", r->status);
	if (rc == CL_OK)
		rc = member_str(b, "break_glass", r->break_glass);
	if (rc == CL_OK)
		rc = member_str(b, "os_user", r->os_user);
	if (rc == CL_OK && b->len - start + 200 > CL_AUDIT_LINE_MAX)
		rc = cl_error_set(CL_ETOOBIG, "an audit record of %zu bytes is over the limit of %u",
				  b->len - start, CL_AUDIT_LINE_MAX - 200);
	if (rc)
		b->len = start;
	return rc;
}

int cl_audit_checkpoint_body(struct cl_audit_buf *b, int64_t now_us, uint64_t head_seq,
			     const unsigned char head[CL_AUDIT_HASH_BYTES],
			     const unsigned char sk[64], const unsigned char pk[32])
{
	char hex[CL_AUDIT_HEX_LEN + 1], key[65], sighex[129], msg[160];
	unsigned char sig[crypto_sign_BYTES];
	size_t start = b->len, n;
	int rc;

	cl_audit_hex(head, CL_AUDIT_HASH_BYTES, hex);
	n = cl_audit_checkpoint_message(head_seq, hex, msg, sizeof(msg));
	crypto_sign_detached(sig, NULL, (const unsigned char *)msg, n, sk);
	cl_audit_hex(sig, sizeof(sig), sighex);
	cl_audit_hex(pk, 32, key);
	rc = member_time(b, now_us);
	if (rc == CL_OK)
		rc = puts_(b, ",\"kind\":\"checkpoint\"");
	if (rc == CL_OK)
		rc = member_int(b, "head_seq", (int64_t)head_seq);
	if (rc == CL_OK)
		rc = member_str(b, "key", key);
	if (rc == CL_OK)
		rc = member_str(b, "sig", sighex);
	if (rc)
		b->len = start;
	return rc;
}

size_t cl_audit_checkpoint_message(uint64_t head_seq, const char *head_hex, char *buf,
				   size_t cap)
{
	int n = snprintf(buf, cap, "carelake-audit-checkpoint v1 seq=%" PRIu64 " head=%s",
			 head_seq, head_hex);

	return n < 0 ? 0 : (size_t)n < cap ? (size_t)n : cap - 1;
}

int cl_audit_line_encode(struct cl_audit_buf *out, uint64_t seq,
			 const unsigned char prev[CL_AUDIT_HASH_BYTES], const char *body,
			 size_t body_len, unsigned char hash[CL_AUDIT_HASH_BYTES])
{
	crypto_generichash_state st;
	char head[128], hex[CL_AUDIT_HEX_LEN + 1];
	size_t start = out->len;
	int n, rc;

	cl_audit_hex(prev, CL_AUDIT_HASH_BYTES, hex);
	n = snprintf(head, sizeof(head), "{\"seq\":%" PRIu64 ",\"prev\":\"%s\"", seq, hex);
	rc = cl_audit_buf_reserve(out, (size_t)n + body_len + HASH_SUFFIX_LEN + 1);
	if (rc)
		return rc;
	memcpy(out->p + out->len, head, (size_t)n);
	out->len += (size_t)n;
	memcpy(out->p + out->len, body, body_len);
	out->len += body_len;
	crypto_generichash_init(&st, NULL, 0, CL_AUDIT_HASH_BYTES);
	crypto_generichash_update(&st, (const unsigned char *)out->p + start, out->len - start);
	crypto_generichash_update(&st, (const unsigned char *)"}", 1);
	crypto_generichash_final(&st, hash, CL_AUDIT_HASH_BYTES);
	cl_audit_hex(hash, CL_AUDIT_HASH_BYTES, hex);
	memcpy(out->p + out->len, HASH_PREFIX, HASH_PREFIX_LEN);
	out->len += HASH_PREFIX_LEN;
	memcpy(out->p + out->len, hex, CL_AUDIT_HEX_LEN);
	out->len += CL_AUDIT_HEX_LEN;
	memcpy(out->p + out->len, "\"}\n", 3);
	out->len += 3;
	return CL_OK;
}

void cl_audit_hex(const unsigned char *h, size_t n, char *out)
{
	static const char digits[] = "0123456789abcdef";

	for (size_t i = 0; i < n; i++) {
		out[2 * i] = digits[h[i] >> 4];
		out[2 * i + 1] = digits[h[i] & 15];
	}
	out[2 * n] = '\0';
}

static int hexval(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	return -1;
}

int cl_audit_unhex(const char *hex, unsigned char *out, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		int hi = hexval(hex[2 * i]), lo = hi < 0 ? -1 : hexval(hex[2 * i + 1]);

		if (hi < 0 || lo < 0)
			return cl_error_set(CL_EINVAL, "not %zu lowercase hex digits", 2 * n);
	}
	for (size_t i = 0; i < n; i++)
		out[i] = (unsigned char)(hexval(hex[2 * i]) << 4 | hexval(hex[2 * i + 1]));
	return hex[2 * n] == '\0' ? CL_OK
				  : cl_error_set(CL_EINVAL, "not %zu lowercase hex digits", 2 * n);
}

void cl_audit_entry_clear(struct cl_audit_entry *e)
{
	if (e->root)
		json_decref((json_t *)e->root);
	cl_free(e->ids);
	memset(e, 0, sizeof(*e));
}

/* The string member key of o into *out (absent: NULL); CL_EPARSE when it is
 * there but not a string. */
static int get_str(json_t *o, const char *key, const char **out)
{
	json_t *v = json_object_get(o, key);

	*out = NULL;
	if (!v)
		return CL_OK;
	if (!json_is_string(v))
		return cl_error_set(CL_EPARSE, "member \"%s\" is not a string", key);
	*out = json_string_value(v);
	return CL_OK;
}

static int get_int(json_t *o, const char *key, int required, int64_t min, int64_t *out)
{
	json_t *v = json_object_get(o, key);

	if (!v) {
		*out = 0;
		return required ? cl_error_set(CL_EPARSE, "member \"%s\" is missing", key) : CL_OK;
	}
	if (!json_is_integer(v) || json_integer_value(v) < min)
		return cl_error_set(CL_EPARSE, "member \"%s\" is not an integer of at least %" PRId64,
				    key, min);
	*out = json_integer_value(v);
	return CL_OK;
}

static int get_hex(json_t *o, const char *key, size_t bytes, const char **out)
{
	unsigned char tmp[64];
	int rc = get_str(o, key, out);

	if (rc)
		return rc;
	if (!*out || strlen(*out) != 2 * bytes || cl_audit_unhex(*out, tmp, bytes) != CL_OK)
		return cl_error_set(CL_EPARSE, "member \"%s\" is not %zu hex digits", key,
				    2 * bytes);
	return CL_OK;
}

/* The array of strings key into e->ids from *used on. */
static int get_list(json_t *o, const char *key, struct cl_audit_entry *e, size_t *used,
		    const char *const **list, size_t *n)
{
	json_t *v = json_object_get(o, key);
	size_t i;
	json_t *item;

	*list = NULL;
	*n = 0;
	if (!v)
		return CL_OK;
	if (!json_is_array(v))
		return cl_error_set(CL_EPARSE, "member \"%s\" is not an array", key);
	*list = e->ids + *used;
	json_array_foreach(v, i, item) {
		if (!json_is_string(item))
			return cl_error_set(CL_EPARSE, "member \"%s\" holds a value that is not a string",
					    key);
		e->ids[(*used)++] = json_string_value(item);
	}
	*n = json_array_size(v);
	return CL_OK;
}

static int decode_members(json_t *root, struct cl_audit_entry *e)
{
	const char *kind, *t;
	int64_t v;
	size_t used = 0, nids;
	json_t *a, *b;
	int rc;

	if ((rc = get_int(root, "seq", 1, 1, &v)))
		return rc;
	e->seq = (uint64_t)v;
	if ((rc = get_str(root, "kind", &kind)))
		return rc;
	if (!kind || (strcmp(kind, "event") && strcmp(kind, "checkpoint")))
		return cl_error_set(CL_EPARSE, "member \"kind\" is not \"event\" or \"checkpoint\"");
	e->kind = kind[0] == 'e' ? CL_AUDIT_EVENT : CL_AUDIT_CHECKPOINT;
	if ((rc = get_str(root, "time", &t)))
		return rc;
	if (!t || cl_time_parse_rfc3339(t, strlen(t), &e->rec.time_us) != CL_OK)
		return cl_error_set(CL_EPARSE, "member \"time\" is not an RFC 3339 time");
	if (e->kind == CL_AUDIT_CHECKPOINT) {
		if ((rc = get_int(root, "head_seq", 1, 0, &v)))
			return rc;
		e->head_seq = (uint64_t)v;
		if ((rc = get_hex(root, "key", 32, &e->key)))
			return rc;
		return get_hex(root, "sig", 64, &e->sig);
	}
	a = json_object_get(root, "resource_ids");
	b = json_object_get(root, "patients");
	nids = (json_is_array(a) ? json_array_size(a) : 0) +
	       (json_is_array(b) ? json_array_size(b) : 0);
	e->ids = cl_calloc(nids + 1, sizeof(*e->ids));
	if (!e->ids)
		return cl_error_set(CL_ENOMEM, "no memory to read an audit record");
	rc = get_str(root, "principal", &e->rec.principal);
	if (rc == CL_OK)
		rc = get_str(root, "role", &e->rec.role);
	if (rc == CL_OK)
		rc = get_str(root, "client", &e->rec.client);
	if (rc == CL_OK)
		rc = get_str(root, "request_id", &e->rec.request_id);
	if (rc == CL_OK)
		rc = get_str(root, "action", &e->rec.action);
	if (rc == CL_OK)
		rc = get_str(root, "resource_type", &e->rec.resource_type);
	if (rc == CL_OK)
		rc = get_list(root, "resource_ids", e, &used, &e->rec.resource_ids,
			      &e->rec.nresource_ids);
	if (rc == CL_OK)
		rc = get_list(root, "patients", e, &used, &e->rec.patients, &e->rec.npatients);
	if (rc == CL_OK)
		rc = get_str(root, "query", &e->rec.query);
	if (rc == CL_OK)
		rc = get_int(root, "count", 0, INT64_MIN, &e->rec.count);
	if (rc == CL_OK && (rc = get_int(root, "status", 0, INT32_MIN, &v)) == CL_OK) {
		if (v > INT32_MAX)
			return cl_error_set(CL_EPARSE, "member \"status\" is out of range");
		e->rec.status = (int)v;
	}
	if (rc == CL_OK)
		rc = get_str(root, "break_glass", &e->rec.break_glass);
	if (rc == CL_OK)
		rc = get_str(root, "os_user", &e->rec.os_user);
	return rc;
}

int cl_audit_line_decode(const char *line, size_t len, struct cl_audit_entry *e)
{
	unsigned char h[CL_AUDIT_HASH_BYTES];
	crypto_generichash_state st;
	const char *prev, *hash;
	json_error_t jerr;
	json_t *root;
	int rc;

	cl_audit_entry_clear(e);
	if (len < HASH_SUFFIX_LEN + 2 || len > CL_AUDIT_LINE_MAX)
		return cl_error_set(CL_EPARSE, "a line of %zu bytes is not an audit record", len);
	root = json_loadb(line, len, JSON_REJECT_DUPLICATES, &jerr);
	if (!root)
		return cl_error_set(CL_EPARSE, "not JSON: %s at column %d", jerr.text, jerr.column);
	e->root = root;
	if (!json_is_object(root))
		return cl_error_set(CL_EPARSE, "not a JSON object");
	rc = get_hex(root, "prev", CL_AUDIT_HASH_BYTES, &prev);
	if (rc == CL_OK)
		rc = get_hex(root, "hash", CL_AUDIT_HASH_BYTES, &hash);
	if (rc == CL_OK)
		rc = decode_members(root, e);
	if (rc)
		return rc;
	memcpy(e->prev, prev, CL_AUDIT_HEX_LEN + 1);
	memcpy(e->hash, hash, CL_AUDIT_HEX_LEN + 1);
	/* the hash member must be the line's last, exactly as written */
	if (memcmp(line + len - HASH_SUFFIX_LEN, HASH_PREFIX, HASH_PREFIX_LEN) != 0 ||
	    memcmp(line + len - 2 - CL_AUDIT_HEX_LEN, hash, CL_AUDIT_HEX_LEN) != 0 ||
	    memcmp(line + len - 2, "\"}", 2) != 0)
		return cl_error_set(CL_EPARSE, "its \"hash\" is not the line's last member");
	crypto_generichash_init(&st, NULL, 0, CL_AUDIT_HASH_BYTES);
	crypto_generichash_update(&st, (const unsigned char *)line, len - HASH_SUFFIX_LEN);
	crypto_generichash_update(&st, (const unsigned char *)"}", 1);
	crypto_generichash_final(&st, h, CL_AUDIT_HASH_BYTES);
	{
		char hex[CL_AUDIT_HEX_LEN + 1];

		cl_audit_hex(h, sizeof(h), hex);
		if (memcmp(hex, hash, CL_AUDIT_HEX_LEN) != 0)
			return cl_error_set(CL_ECORRUPT,
					    "its content does not match its hash (the record was changed)");
	}
	return CL_OK;
}
