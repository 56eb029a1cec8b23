/*
 * The zero-copy JSON parser. See cl_json.h.
 *
 * One pass, no recursion: an explicit stack of open containers (bounded by
 * CL_JSON_MAX_DEPTH) records where each container's token is, so its size
 * and `next` can be filled in when it closes.
 *
 * Repeated keys are looked for on demand, not while parsing: most parses
 * (bronze read back, benchmarks) have no use for it. In an object of up to
 * SMALL_OBJECT keys (a device event has 7) each key sets one bit of a
 * 64-bit filter (from its length and first and last bytes), and only a key
 * whose bit is set already is compared with the keys before it. A larger
 * object sorts its keys' hashes, so one huge object costs n log n, not n
 * squared.
 */
#include "cl_json.h"
#include "../core/cl_error.h"
#include "../core/cl_mem.h"
#include "../core/cl_url.h"
#include "../core/cl_utf8.h"

#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void cl_json_doc_init(struct cl_json_doc *d)
{
	memset(d, 0, sizeof(*d));
	d->max_tokens = 1u << 22;
}

void cl_json_doc_free(struct cl_json_doc *d)
{
	cl_free(d->toks);
	d->toks = NULL;
	d->cap = d->count = 0;
}

const char *cl_json_type_name(int type)
{
	static const char *const names[] = { "null", "false", "true", "a number",
					     "a string", "an array", "an object" };

	return type >= 0 && type <= CL_JSON_OBJECT ? names[type] : "nothing";
}

static int fail(struct cl_json_doc *d, size_t pos, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

static int fail(struct cl_json_doc *d, size_t pos, const char *fmt, ...)
{
	char what[120];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(what, sizeof(what), fmt, ap);
	va_end(ap);
	d->err_pos = pos;
	snprintf(d->err, sizeof(d->err), "at byte %zu: %s", pos, what);
	return cl_error_set(CL_EPARSE, "invalid JSON %s", d->err);
}

static int push_tok(struct cl_json_doc *d, uint8_t type, size_t start)
{
	struct cl_json_tok *t;

	if (d->count >= d->max_tokens)
		return cl_error_set(CL_ETOOBIG, "JSON has more than %u values",
				    d->max_tokens);
	if (d->count == d->cap) {
		uint32_t nc = d->cap ? d->cap * 2 : 256;
		void *n;

		n = cl_realloc(d->toks, (size_t)nc * sizeof(*d->toks));
		if (!n)
			return cl_error_set(CL_ENOMEM, "no memory to parse JSON");
		d->toks = n;
		d->cap = nc;
	}
	t = &d->toks[d->count];
	t->type = type;
	t->escaped = 0;
	t->is_int = 0;
	t->start = (uint32_t)start;
	t->len = 0;
	t->size = 0;
	t->next = d->count + 1;
	return (int)d->count++;
}

static int hex4(const unsigned char *p)
{
	int v = 0;

	for (int i = 0; i < 4; i++) {
		int h = cl_hexval(p[i]);

		if (h < 0)
			return -1;
		v = v << 4 | h;
	}
	return v;
}

/*
 * Scans a string starting after its opening quote at *pos; on success
 * *pos is past the closing quote. Validates UTF-8 and escapes.
 */
static int scan_string(struct cl_json_doc *d, size_t *pos, struct cl_json_tok *t)
{
	const unsigned char *s = (const unsigned char *)d->src;
	size_t i = *pos, n = d->len;

	for (;;) {
		unsigned char c;

		/* fast path over plain ASCII, 8 bytes at a time: stop at a word
		 * holding a quote, a backslash, a control byte or a non-ASCII
		 * byte (SWAR "has zero byte" tests) */
		while (i + 8 <= n) {
			uint64_t w, q, b, lo;

			memcpy(&w, s + i, 8);
			q = w ^ 0x2222222222222222ull;
			b = w ^ 0x5c5c5c5c5c5c5c5cull;
			lo = w - 0x2020202020202020ull;
			if (((q - 0x0101010101010101ull) & ~q) & 0x8080808080808080ull)
				break;
			if (((b - 0x0101010101010101ull) & ~b) & 0x8080808080808080ull)
				break;
			if ((lo | w) & 0x8080808080808080ull)
				break; /* a byte < 0x20 (borrow) or >= 0x80 */
			i += 8;
		}
		while (i < n && s[i] >= 0x20 && s[i] < 0x80 && s[i] != '"' && s[i] != '\\')
			i++;
		if (i >= n)
			return fail(d, *pos - 1, "string is not closed");
		c = s[i];
		if (c == '"')
			break;
		if (c < 0x20)
			return fail(d, i, "control character 0x%02x inside a string", c);
		if (c == '\\') {
			t->escaped = 1;
			if (i + 1 >= n)
				return fail(d, i, "string is not closed");
			switch (s[i + 1]) {
			case '"': case '\\': case '/': case 'b': case 'f': case 'n':
			case 'r': case 't':
				i += 2;
				continue;
			case 'u': {
				int u;

				if (i + 6 > n || (u = hex4(s + i + 2)) < 0)
					return fail(d, i, "\\u must be followed by 4 hex digits");
				if (u == 0)
					return fail(d, i, "\\u0000 is not allowed in a string");
				if (u >= 0xDC00 && u <= 0xDFFF)
					return fail(d, i, "lone low surrogate \\u%04X", (unsigned)u);
				if (u >= 0xD800 && u <= 0xDBFF) {
					int lo;

					if (i + 12 > n || s[i + 6] != '\\' || s[i + 7] != 'u' ||
					    (lo = hex4(s + i + 8)) < 0xDC00 || lo > 0xDFFF)
						return fail(d, i, "high surrogate \\u%04X without its low half",
							    (unsigned)u);
					i += 12;
					continue;
				}
				i += 6;
				continue;
			}
			default:
				return fail(d, i, "invalid escape '\\%c'",
					    s[i + 1] >= 0x20 && s[i + 1] < 0x7f ? s[i + 1] : '?');
			}
		}
		/* a multi-byte UTF-8 sequence */
		{
			size_t k = cl_utf8_seq(s + i, n - i);

			if (k == 0)
				return c < 0xc2 || c > 0xf4
					       ? fail(d, i, "invalid UTF-8 byte 0x%02x", c)
					       : fail(d, i, "invalid UTF-8 sequence");
			i += k;
		}
	}
	t->len = (uint32_t)(i - *pos);
	*pos = i + 1;
	return CL_OK;
}

static int scan_number(struct cl_json_doc *d, size_t *pos, struct cl_json_tok *t)
{
	const char *s = d->src;
	size_t i = *pos, n = d->len, int_digits;
	int is_int = 1;

	if (i < n && s[i] == '-')
		i++;
	if (i >= n || s[i] < '0' || s[i] > '9')
		return fail(d, *pos, "a number needs digits");
	if (s[i] == '0') {
		i++;
		if (i < n && s[i] >= '0' && s[i] <= '9')
			return fail(d, *pos, "numbers must not have leading zeros");
	} else {
		while (i < n && s[i] >= '0' && s[i] <= '9')
			i++;
	}
	int_digits = i - *pos;
	if (i < n && s[i] == '.') {
		is_int = 0;
		i++;
		if (i >= n || s[i] < '0' || s[i] > '9')
			return fail(d, i, "a digit must follow the decimal point");
		while (i < n && s[i] >= '0' && s[i] <= '9')
			i++;
	}
	if (i < n && (s[i] == 'e' || s[i] == 'E')) {
		is_int = 0;
		i++;
		if (i < n && (s[i] == '+' || s[i] == '-'))
			i++;
		if (i >= n || s[i] < '0' || s[i] > '9')
			return fail(d, i, "an exponent needs digits");
		while (i < n && s[i] >= '0' && s[i] <= '9')
			i++;
	}
	t->len = (uint32_t)(i - *pos);
	t->is_int = (uint8_t)is_int;
	/* values that cannot be represented are refused, as jansson does */
	if (is_int && int_digits > 18) {
		int64_t v;

		if (cl_json_int64(d, (uint32_t)(t - d->toks), &v) != CL_OK)
			return fail(d, *pos, "integer does not fit in 64 bits");
	} else if (!is_int && (i - *pos - int_digits > 0) &&
		   (memchr(s + *pos, 'e', i - *pos) || memchr(s + *pos, 'E', i - *pos) ||
		    int_digits > 300)) {
		double v;

		if (cl_json_double(d, (uint32_t)(t - d->toks), &v) != CL_OK)
			return fail(d, *pos, "number is too large");
	}
	*pos = i;
	return CL_OK;
}

static size_t skip_ws(const char *s, size_t i, size_t n)
{
	while (i < n && (s[i] == ' ' || s[i] == '\n' || s[i] == '\r' || s[i] == '\t'))
		i++;
	return i;
}

static size_t unescape_one(const unsigned char *s, char *out, size_t *outlen);

/* A string token's bytes with its escapes resolved, one at a time. */
struct strdec {
	const unsigned char *s;
	size_t k, len;   /* next raw byte, raw length */
	char buf[4];     /* the bytes of the escape being read */
	size_t bn, bi;   /* how many, the next */
};

static void strdec_init(struct strdec *x, const struct cl_json_doc *d, uint32_t i)
{
	x->s = (const unsigned char *)d->src + d->toks[i].start;
	x->k = 0;
	x->len = d->toks[i].len;
	x->bn = x->bi = 0;
}

/* The next byte, or -1 at the end. */
static int strdec_next(struct strdec *x)
{
	if (x->bi < x->bn)
		return (unsigned char)x->buf[x->bi++];
	if (x->k >= x->len)
		return -1;
	if (x->s[x->k] != '\\')
		return x->s[x->k++];
	x->k += 1 + unescape_one(x->s + x->k + 1, x->buf, &x->bn);
	x->bi = 1;
	return (unsigned char)x->buf[0];
}

/* 1 if string tokens a and b hold the same text once unescaped. */
static int same_text(const struct cl_json_doc *d, uint32_t a, uint32_t b)
{
	const struct cl_json_tok *x = &d->toks[a], *y = &d->toks[b];
	struct strdec p, q;
	int c;

	if (!x->escaped && !y->escaped)
		return x->len == y->len && memcmp(d->src + x->start, d->src + y->start, x->len) == 0;
	strdec_init(&p, d, a);
	strdec_init(&q, d, b);
	do {
		c = strdec_next(&p);
		if (c != strdec_next(&q))
			return 0;
	} while (c >= 0);
	return 1;
}

/* The murmur3 finaliser: every input bit moves every output bit. */
static uint64_t mix64(uint64_t h)
{
	h ^= h >> 33;
	h *= 0xff51afd7ed558ccdull;
	h ^= h >> 33;
	h *= 0xc4ceb9fe1a85ec53ull;
	h ^= h >> 33;
	return h;
}

/* Text is hashed 8 bytes at a time, packed little-endian (the last word
 * holding what is left), whether it comes raw or decoded from escapes. */
#define TEXT_SEED 0x243f6a8885a308d3ull

static inline uint64_t text_word(uint64_t h, uint64_t w)
{
	h = (h ^ w) * 0x9e3779b97f4a7c15ull;
	return h ^ h >> 29;
}

/* text_hash of a string with escapes: decoded byte by byte. */
static uint64_t text_hash_escaped(const struct cl_json_doc *d, uint32_t i)
{
	struct strdec dec;
	uint64_t h = TEXT_SEED, w = 0, n = 0;
	int c;

	strdec_init(&dec, d, i);
	while ((c = strdec_next(&dec)) >= 0) {
		w |= (uint64_t)c << (8 * (n & 7));
		if ((++n & 7) == 0) {
			h = text_word(h, w);
			w = 0;
		}
	}
	if (n & 7)
		h = text_word(h, w);
	return mix64(h ^ n);
}

/* A hash of a string token's unescaped bytes. */
static inline uint64_t text_hash(const struct cl_json_doc *d, uint32_t i)
{
	const struct cl_json_tok *t = &d->toks[i];
	const unsigned char *s = (const unsigned char *)d->src + t->start;
	uint64_t h = TEXT_SEED, w = 0;
	uint32_t n = 0;

	if (t->escaped)
		return text_hash_escaped(d, i);
	for (; n + 8 <= t->len; n += 8) {
		memcpy(&w, s + n, 8); /* little-endian, as the escaped path packs */
		h = text_word(h, w);
	}
	if (t->len & 7) {
		/* what is left, 1 to 7 bytes, in at most three loads */
		s += n;
		w = 0;
		if (t->len & 4) {
			uint32_t x;

			memcpy(&x, s, 4);
			w = x;
			s += 4;
		}
		if (t->len & 2) {
			uint16_t x;

			memcpy(&x, s, 2);
			w |= (uint64_t)x << (8 * (t->len & 4));
			s += 2;
		}
		if (t->len & 1)
			w |= (uint64_t)*s << (8 * (t->len & 6));
		h = text_word(h, w);
	}
	return mix64(h ^ t->len);
}

#define SMALL_OBJECT 32

/* 1 if key k of the object at obj repeats a key before it. */
static int repeats_earlier(const struct cl_json_doc *d, uint32_t obj, uint32_t k)
{
	for (uint32_t e = obj + 1; e < k; e = d->toks[e + 1].next)
		if (same_text(d, e, k))
			return 1;
	return 0;
}

struct key_hash {
	uint64_t h;
	uint32_t tok;
};

static int cmp_key_hash(const void *a, const void *b)
{
	const struct key_hash *x = a, *y = b;

	if (x->h != y->h)
		return x->h < y->h ? -1 : 1;
	return x->tok < y->tok ? -1 : x->tok > y->tok;
}

/* object_repeat for more than SMALL_OBJECT keys: by their sorted hashes
 * (key by key if there is no memory for them, slowly but surely). */
static int object_repeat_sorted(const struct cl_json_doc *d, uint32_t obj)
{
	uint32_t n = d->toks[obj].size, k = obj + 1;
	struct key_hash *kh = cl_malloc((size_t)n * sizeof(*kh));
	int first = -1;

	if (!kh) {
		for (uint32_t m = 0; m < n; m++, k = d->toks[k + 1].next)
			if (repeats_earlier(d, obj, k))
				return (int)k;
		return -1;
	}
	for (uint32_t m = 0; m < n; m++, k = d->toks[k + 1].next) {
		kh[m].h = text_hash(d, k);
		kh[m].tok = k;
	}
	qsort(kh, n, sizeof(*kh), cmp_key_hash);
	/* in a run of equal hashes, in document order: a key equal to an
	 * earlier one of the run repeats it; the first such in the object */
	for (uint32_t a = 0, b; a < n; a = b) {
		for (b = a + 1; b < n && kh[b].h == kh[a].h; b++) {
			if (first >= 0 && kh[b].tok > (uint32_t)first)
				continue;
			for (uint32_t p = a; p < b; p++)
				if (same_text(d, kh[p].tok, kh[b].tok)) {
					first = (int)kh[b].tok;
					break;
				}
		}
	}
	cl_free(kh);
	return first;
}

/* The first key of the object at obj that repeats a key before it, or -1. */
static int object_repeat(const struct cl_json_doc *d, uint32_t obj)
{
	const struct cl_json_tok *toks = d->toks;
	const unsigned char *src = (const unsigned char *)d->src;
	uint32_t n = toks[obj].size, k = obj + 1;
	uint64_t filter = 0;

	if (n > SMALL_OBJECT)
		return object_repeat_sorted(d, obj);
	for (uint32_t m = 0; m < n; m++, k = toks[k + 1].next) {
		/* a key's bit: its length, first and last bytes (an empty key
		 * reads its two quotes); every bit for one with escapes, whose
		 * bytes say nothing of its text */
		const unsigned char *p = src + toks[k].start;
		uint64_t bit = 1ull << ((toks[k].len + p[0] * 7u + p[(int64_t)toks[k].len - 1]) & 63) |
			       (0 - (uint64_t)toks[k].escaped);

		if ((filter & bit) && repeats_earlier(d, obj, k))
			return (int)k;
		filter |= bit;
	}
	return -1;
}

int cl_json_parse(struct cl_json_doc *d, const char *src, size_t len)
{
	uint32_t stack[CL_JSON_MAX_DEPTH];
	int depth = 0, rc;
	size_t i;
	/* what the grammar allows next */
	enum { VALUE, KEY_OR_END, KEY, COLON, COMMA_OR_END, VALUE_OR_END, DONE } want = VALUE;

	d->src = src;
	d->len = len;
	d->count = 0;
	d->err[0] = '\0';
	if (len > UINT32_MAX - 1)
		return cl_error_set(CL_ETOOBIG, "JSON document larger than 4 GiB");
	i = skip_ws(src, 0, len);
	for (;;) {
		char c;

		if (i >= len) {
			if (want == DONE)
				return CL_OK;
			return fail(d, i, len == 0 || (want == VALUE && depth == 0)
						  ? "no JSON value" : "document ends early");
		}
		c = src[i];
		if (want == DONE)
			return fail(d, i, "unexpected '%c' after the JSON value",
				    c >= 0x20 && c < 0x7f ? c : '?');
		if (want == COLON) {
			if (c != ':')
				return fail(d, i, "expected ':' after an object key");
			want = VALUE;
			i = skip_ws(src, i + 1, len);
			continue;
		}
		if (want == COMMA_OR_END) {
			struct cl_json_tok *top = &d->toks[stack[depth - 1]];

			if (c == ',') {
				want = top->type == CL_JSON_OBJECT ? KEY : VALUE;
				i = skip_ws(src, i + 1, len);
				continue;
			}
			if ((c == '}' && top->type == CL_JSON_OBJECT) ||
			    (c == ']' && top->type == CL_JSON_ARRAY))
				goto close;
			return fail(d, i, "expected ',' or '%c'",
				    top->type == CL_JSON_OBJECT ? '}' : ']');
		}
		if ((want == KEY_OR_END && c == '}') || (want == VALUE_OR_END && c == ']'))
			goto close;
		if (want == KEY || want == KEY_OR_END) {
			if (c != '"')
				return fail(d, i, "expected an object key in double quotes");
			rc = push_tok(d, CL_JSON_STRING, i + 1);
			if (rc < 0)
				return rc;
			i++;
			rc = scan_string(d, &i, &d->toks[rc]);
			if (rc)
				return rc;
			d->toks[stack[depth - 1]].size++;
			want = COLON;
			i = skip_ws(src, i, len);
			continue;
		}
		/* a value */
		if (depth > 0 && d->toks[stack[depth - 1]].type == CL_JSON_ARRAY)
			d->toks[stack[depth - 1]].size++;
		switch (c) {
		case '{':
		case '[':
			if (depth == CL_JSON_MAX_DEPTH)
				return fail(d, i, "nested deeper than %d levels", CL_JSON_MAX_DEPTH);
			rc = push_tok(d, c == '{' ? CL_JSON_OBJECT : CL_JSON_ARRAY, i);
			if (rc < 0)
				return rc;
			stack[depth++] = (uint32_t)rc;
			want = c == '{' ? KEY_OR_END : VALUE_OR_END;
			i = skip_ws(src, i + 1, len);
			continue;
		case '"':
			rc = push_tok(d, CL_JSON_STRING, i + 1);
			if (rc < 0)
				return rc;
			i++;
			rc = scan_string(d, &i, &d->toks[rc]);
			if (rc)
				return rc;
			break;
		case 't': case 'f': case 'n': {
			static const char *const words[] = { "true", "false", "null" };
			static const uint8_t types[] = { CL_JSON_TRUE, CL_JSON_FALSE, CL_JSON_NULL };
			int w = c == 't' ? 0 : c == 'f' ? 1 : 2;
			size_t wl = strlen(words[w]);

			if (len - i < wl || memcmp(src + i, words[w], wl) != 0)
				return fail(d, i, "unknown literal (expected %s)", words[w]);
			rc = push_tok(d, types[w], i);
			if (rc < 0)
				return rc;
			d->toks[rc].len = (uint32_t)wl;
			i += wl;
			break;
		}
		default:
			if (c == '-' || (c >= '0' && c <= '9')) {
				rc = push_tok(d, CL_JSON_NUMBER, i);
				if (rc < 0)
					return rc;
				rc = scan_number(d, &i, &d->toks[rc]);
				if (rc)
					return rc;
				break;
			}
			return fail(d, i, "unexpected '%c' where a value was expected",
				    c >= 0x20 && c < 0x7f ? c : '?');
		}
		want = depth == 0 ? DONE : COMMA_OR_END;
		i = skip_ws(src, i, len);
		continue;
close:
		{
			struct cl_json_tok *top = &d->toks[stack[--depth]];

			top->len = (uint32_t)(i + 1 - top->start);
			top->next = d->count;
			want = depth == 0 ? DONE : COMMA_OR_END;
			i = skip_ws(src, i + 1, len);
		}
	}
}

static int str_eq_n(const struct cl_json_doc *d, uint32_t i, const char *str,
		    size_t n);

int cl_json_get(const struct cl_json_doc *d, uint32_t obj, const char *key)
{
	const struct cl_json_tok *o = &d->toks[obj];
	size_t klen = strlen(key);
	uint32_t k = obj + 1;
	int found = -1;

	if (o->type != CL_JSON_OBJECT)
		return -1;
	for (uint32_t n = 0; n < o->size; n++) {
		uint32_t v = k + 1;
		const struct cl_json_tok *kt = &d->toks[k];

		if (kt->escaped ? str_eq_n(d, k, key, klen)
				: kt->len == klen &&
					  memcmp(d->src + kt->start, key, klen) == 0)
			found = (int)v;
		k = d->toks[v].next;
	}
	return found;
}

int cl_json_repeated_key(const struct cl_json_doc *d, uint32_t from, uint32_t to)
{
	const struct cl_json_tok *t, *end = d->toks + (to < d->count ? to : d->count);
	int k;

	for (t = d->toks + from; t < end; t++)
		if (t->type == CL_JSON_OBJECT && t->size > 1 &&
		    (k = object_repeat(d, (uint32_t)(t - d->toks))) >= 0)
			return k;
	return -1;
}

/* The value hash, one subtree; depth is bounded by the parser's. */
static uint64_t value_hash(const struct cl_json_doc *d, uint32_t i)
{
	const struct cl_json_tok *t = &d->toks[i];
	uint64_t h;

	switch (t->type) {
	case CL_JSON_NUMBER: {
		int64_t iv;
		double v;

		/* 80, 80.0 and 8e1 are one number: a whole value hashes as an
		 * integer, any other as its double's bits */
		if (t->is_int && cl_json_int64(d, i, &iv) == CL_OK)
			return mix64(mix64(CL_JSON_NUMBER) ^ (uint64_t)iv);
		if (cl_json_double(d, i, &v) != CL_OK)
			return mix64(CL_JSON_NUMBER); /* out of memory: still a number */
		if (v >= -9223372036854775808.0 && v < 9223372036854775808.0 &&
		    (double)(int64_t)v == v)
			return mix64(mix64(CL_JSON_NUMBER) ^ (uint64_t)(int64_t)v);
		memcpy(&h, &v, sizeof(h));
		return mix64(mix64(CL_JSON_NUMBER + 16) ^ h);
	}
	case CL_JSON_STRING:
		return text_hash(d, i) ^ 0x9e3779b97f4a7c15ull;
	case CL_JSON_ARRAY: {
		uint32_t e = i + 1;

		h = mix64(CL_JSON_ARRAY);
		for (uint32_t k = 0; k < t->size; k++, e = d->toks[e].next)
			h = mix64((h * 0x100000001b3ull) ^ value_hash(d, e));
		return mix64(h ^ t->size);
	}
	case CL_JSON_OBJECT: {
		uint32_t k = i + 1;

		/* members in any order: their hashes are summed (a string
		 * value, the usual one, without a call) */
		h = 0;
		for (uint32_t m = 0; m < t->size; m++, k = d->toks[k + 1].next) {
			uint64_t v = d->toks[k + 1].type == CL_JSON_STRING
					     ? text_hash(d, k + 1) ^ 0x9e3779b97f4a7c15ull
					     : value_hash(d, k + 1);

			h += mix64(text_hash(d, k) * 0x9e3779b97f4a7c15ull ^ v);
		}
		return mix64(h ^ mix64(CL_JSON_OBJECT + ((uint64_t)t->size << 8)));
	}
	default: /* null, false, true */
		return mix64(0x5bd1e995ull + t->type);
	}
}

uint64_t cl_json_hash(const struct cl_json_doc *d, uint32_t i)
{
	return value_hash(d, i);
}

/* Appends the member name at key token k to buf, cut and made printable. */
static void path_name(const struct cl_json_doc *d, uint32_t k, char *buf, size_t cap,
		      size_t *o)
{
	struct strdec x;
	int c, n = 0;

	strdec_init(&x, d, k);
	while ((c = strdec_next(&x)) >= 0 && *o + 1 < cap) {
		if (n++ == 40) {
			*o += (size_t)snprintf(buf + *o, cap - *o, "...");
			break;
		}
		buf[(*o)++] = c >= 0x20 && c < 0x7f ? (char)c : '?';
	}
	if (*o >= cap)
		*o = cap - 1;
	buf[*o] = '\0';
}

size_t cl_json_path(const struct cl_json_doc *d, uint32_t root, uint32_t tok, char *buf,
		    size_t cap)
{
	uint32_t cur = root;
	size_t o = 0;

	if (cap == 0)
		return 0;
	buf[0] = '\0';
	while (cur != tok && o + 1 < cap) {
		const struct cl_json_tok *c = &d->toks[cur];
		uint32_t e = cur + 1, m, from = cur;

		if (c->type == CL_JSON_OBJECT) {
			for (m = 0; m < c->size; m++) {
				uint32_t v = e + 1;

				if (tok == e || (tok >= v && tok < d->toks[v].next)) {
					if (o > 0)
						buf[o++] = '.';
					path_name(d, e, buf, cap, &o);
					cur = tok == e ? tok : v;
					break;
				}
				e = d->toks[v].next;
			}
		} else if (c->type == CL_JSON_ARRAY) {
			for (m = 0; m < c->size; m++) {
				if (tok >= e && tok < d->toks[e].next) {
					int n = snprintf(buf + o, cap - o, "[%u]", m);

					o = n < 0 ? o : o + (size_t)n < cap ? o + (size_t)n : cap - 1;
					cur = e;
					break;
				}
				e = d->toks[e].next;
			}
		}
		if (cur == from)
			break; /* tok is not inside root */
	}
	buf[o < cap ? o : cap - 1] = '\0';
	return o < cap ? o : cap - 1;
}

/* Decodes one escape at s (after the backslash); returns bytes consumed
 * and writes up to 4 UTF-8 bytes to out, *outlen set. */
static size_t unescape_one(const unsigned char *s, char *out, size_t *outlen)
{
	unsigned u;

	switch (s[0]) {
	case 'b': out[0] = '\b'; *outlen = 1; return 1;
	case 'f': out[0] = '\f'; *outlen = 1; return 1;
	case 'n': out[0] = '\n'; *outlen = 1; return 1;
	case 'r': out[0] = '\r'; *outlen = 1; return 1;
	case 't': out[0] = '\t'; *outlen = 1; return 1;
	case 'u': break;
	default: out[0] = (char)s[0]; *outlen = 1; return 1;
	}
	u = (unsigned)hex4(s + 1);
	if (u >= 0xD800 && u <= 0xDBFF) {
		unsigned lo = (unsigned)hex4(s + 7);

		u = 0x10000 + ((u - 0xD800) << 10) + (lo - 0xDC00);
		out[0] = (char)(0xf0 | u >> 18);
		out[1] = (char)(0x80 | (u >> 12 & 0x3f));
		out[2] = (char)(0x80 | (u >> 6 & 0x3f));
		out[3] = (char)(0x80 | (u & 0x3f));
		*outlen = 4;
		return 11;
	}
	if (u < 0x80) {
		out[0] = (char)u;
		*outlen = 1;
	} else if (u < 0x800) {
		out[0] = (char)(0xc0 | u >> 6);
		out[1] = (char)(0x80 | (u & 0x3f));
		*outlen = 2;
	} else {
		out[0] = (char)(0xe0 | u >> 12);
		out[1] = (char)(0x80 | (u >> 6 & 0x3f));
		out[2] = (char)(0x80 | (u & 0x3f));
		*outlen = 3;
	}
	return 5;
}

long cl_json_str(const struct cl_json_doc *d, uint32_t i, char *buf, size_t cap)
{
	const struct cl_json_tok *t = &d->toks[i];
	const unsigned char *s = (const unsigned char *)d->src + t->start;
	size_t o = 0;

	if (t->type != CL_JSON_STRING || cap == 0)
		return -1;
	if (!t->escaped) {
		if (t->len >= cap)
			return -1;
		memcpy(buf, s, t->len);
		buf[t->len] = '\0';
		return (long)t->len;
	}
	for (size_t k = 0; k < t->len;) {
		char tmp[4];
		size_t n = 1;

		if (s[k] == '\\') {
			k += 1 + unescape_one(s + k + 1, tmp, &n);
		} else {
			tmp[0] = (char)s[k++];
		}
		if (o + n >= cap)
			return -1;
		memcpy(buf + o, tmp, n);
		o += n;
	}
	buf[o] = '\0';
	return (long)o;
}

int cl_json_str_eq(const struct cl_json_doc *d, uint32_t i, const char *str)
{
	return str_eq_n(d, i, str, strlen(str));
}

static int str_eq_n(const struct cl_json_doc *d, uint32_t i, const char *str,
		    size_t n)
{
	const struct cl_json_tok *t = &d->toks[i];

	if (t->type != CL_JSON_STRING)
		return 0;
	if (!t->escaped)
		return t->len == n && memcmp(d->src + t->start, str, n) == 0;
	{
		/* decode and compare as we go: no buffer, no length limit */
		const unsigned char *s = (const unsigned char *)d->src + t->start;
		size_t o = 0;

		for (size_t k = 0; k < t->len;) {
			char tmp[4];
			size_t m = 1;

			if (s[k] == '\\')
				k += 1 + unescape_one(s + k + 1, tmp, &m);
			else
				tmp[0] = (char)s[k++];
			if (o + m > n || memcmp(str + o, tmp, m) != 0)
				return 0;
			o += m;
		}
		return o == n;
	}
}

/*
 * Clinger's fast path: a decimal with at most 15 significant digits and
 * a power of ten up to 22 is an exact double divided or multiplied by an
 * exact power of ten, so one IEEE operation rounds it correctly. Returns
 * 0 when the number needs the general conversion.
 */
static int fast_double(const char *s, size_t len, double *out)
{
	static const double pow10[] = { 1e0, 1e1, 1e2, 1e3, 1e4, 1e5, 1e6, 1e7,
					1e8, 1e9, 1e10, 1e11, 1e12, 1e13, 1e14, 1e15,
					1e16, 1e17, 1e18, 1e19, 1e20, 1e21, 1e22 };
	uint64_t m = 0;
	int digits = 0, frac = 0, neg = 0, exp = 0, eneg = 0;
	size_t k = 0;

	if (s[0] == '-') {
		neg = 1;
		k++;
	}
	for (; k < len && s[k] >= '0' && s[k] <= '9'; k++) {
		if (m || s[k] != '0')
			digits++;
		m = m * 10 + (uint64_t)(s[k] - '0');
		if (digits > 15)
			return 0;
	}
	if (k < len && s[k] == '.') {
		for (k++; k < len && s[k] >= '0' && s[k] <= '9'; k++) {
			if (m || s[k] != '0')
				digits++;
			m = m * 10 + (uint64_t)(s[k] - '0');
			frac++;
			if (digits > 15)
				return 0;
		}
	}
	if (k < len) { /* exponent */
		k++;
		if (s[k] == '+' || s[k] == '-')
			eneg = s[k++] == '-';
		for (; k < len; k++) {
			exp = exp * 10 + (s[k] - '0');
			if (exp > 400)
				return 0;
		}
	}
	exp = (eneg ? -exp : exp) - frac;
	if (exp < -22 || exp > 22)
		return 0;
	*out = exp < 0 ? (double)m / pow10[-exp] : (double)m * pow10[exp];
	if (neg)
		*out = -*out;
	return 1;
}

int cl_json_double(const struct cl_json_doc *d, uint32_t i, double *out)
{
	const struct cl_json_tok *t = &d->toks[i];
	char buf[400];
	char *end;
	double v;

	if (t->type != CL_JSON_NUMBER)
		return CL_EINVAL;
	if (fast_double(d->src + t->start, t->len, out))
		return CL_OK;
	if (t->len >= sizeof(buf)) {
		/* only absurdly long numbers: parse from a heap copy */
		char *big = cl_malloc((size_t)t->len + 1);

		if (!big)
			return CL_ENOMEM;
		memcpy(big, d->src + t->start, t->len);
		big[t->len] = '\0';
		errno = 0;
		v = strtod(big, &end);
		cl_free(big);
	} else {
		memcpy(buf, d->src + t->start, t->len);
		buf[t->len] = '\0';
		errno = 0;
		v = strtod(buf, &end);
	}
	if (isinf(v))
		return CL_ERANGE;
	*out = v;
	return CL_OK;
}

int cl_json_int64(const struct cl_json_doc *d, uint32_t i, int64_t *out)
{
	const struct cl_json_tok *t = &d->toks[i];
	const char *s = d->src + t->start;
	uint64_t v = 0, limit;
	size_t k = 0;
	int neg = 0;

	if (t->type != CL_JSON_NUMBER || !t->is_int)
		return CL_EINVAL;
	if (s[0] == '-') {
		neg = 1;
		k = 1;
	}
	limit = neg ? (uint64_t)INT64_MAX + 1 : (uint64_t)INT64_MAX;
	for (; k < t->len; k++) {
		uint64_t dgt = (uint64_t)(s[k] - '0');

		if (v > (limit - dgt) / 10)
			return CL_ERANGE;
		v = v * 10 + dgt;
	}
	*out = neg ? (int64_t)(0 - v) : (int64_t)v;
	return CL_OK;
}
