/*
 * cl_pq_encode.c — one Parquet column chunk, encoded in memory (see
 * cl_pq_encode.h).
 *
 * A chunk is a dictionary page (when a dictionary pays) followed by data
 * pages (v1) of about `page_bytes` of values each. A data page holds the
 * repetition levels, the definition levels (both RLE/bit-packed hybrid,
 * each behind a 4-byte length) and the values: PLAIN, or one bit-width
 * byte and the hybrid-encoded dictionary indices.
 *
 * The dictionary is tried on every column but booleans. It gives up as
 * soon as it is clearly not paying — half the first 64 Ki values distinct,
 * more than 1 Mi entries or 16 MiB — so a column of ids costs a short
 * probe, not a full hash table. When it succeeds, min and max are taken
 * over the distinct values only.
 */
#include "lake/cl_pq_encode.h"

#include <math.h>
#include <string.h>

#include "core/cl_error.h"
#include "core/cl_mem.h"
#include "lake/cl_pq_format.h"
#include "lake/cl_thrift.h"

#define STATS_MAX_BYTES 64      /* longer string bounds are left out of the chunk */
#define DICT_MAX_ENTRIES (1u << 20)
#define DICT_MAX_BYTES (16u << 20)
#define DICT_PROBE_ROWS 65536   /* after this many values, give up if half are distinct */

/* ---- buffers ---------------------------------------------------------- */

int cl_pq_buf_reserve(struct cl_pq_buf *b, size_t n)
{
	if (b->len + n <= b->cap)
		return 0;
	size_t cap = b->cap ? b->cap : 4096;
	while (cap < b->len + n)
		cap *= 2;
	uint8_t *p = cl_realloc(b->p, cap);
	if (!p)
		return CL_ENOMEM;
	b->p = p;
	b->cap = cap;
	return 0;
}

int cl_pq_buf_put(struct cl_pq_buf *b, const void *p, size_t n)
{
	int rc = cl_pq_buf_reserve(b, n);
	if (rc)
		return rc;
	if (n)
		memcpy(b->p + b->len, p, n);
	b->len += n;
	return 0;
}

void cl_pq_buf_free(struct cl_pq_buf *b)
{
	cl_free(b->p);
	memset(b, 0, sizeof(*b));
}

void cl_pq_enc_free(struct cl_pq_enc *e)
{
	cl_pq_buf_free(&e->page);
	cl_pq_buf_free(&e->levels);
	cl_pq_buf_free(&e->comp);
	cl_free(e->idx);
	cl_free(e->slots);
	cl_free(e->dict_pos);
	cl_free(e->dict_hash);
	memset(e, 0, sizeof(*e));
}

void cl_pq_chunk_free(struct cl_pq_chunk *c)
{
	cl_pq_buf_free(&c->out);
	cl_pq_buf_free(&c->min);
	cl_pq_buf_free(&c->max);
}

/* ---- RLE / bit-packed hybrid ------------------------------------------ */

/* Appends a ULEB128 varint; the caller has reserved room. */
static void put_varint(struct cl_pq_buf *b, uint64_t v)
{
	while (v >= 0x80) {
		b->p[b->len++] = (uint8_t)(v | 0x80);
		v >>= 7;
	}
	b->p[b->len++] = (uint8_t)v;
}

static unsigned bit_width(uint64_t max)
{
	unsigned w = 0;
	while (max) {
		w++;
		max >>= 1;
	}
	return w;
}

/* Bit-packs `n` values of `width` bits, least significant bit first. */
static void bitpack(struct cl_pq_buf *b, const uint32_t *v, size_t n, unsigned width)
{
	uint64_t acc = 0;
	unsigned bits = 0;
	for (size_t i = 0; i < n; i++) {
		acc |= (uint64_t)v[i] << bits;
		bits += width;
		while (bits >= 8) {
			b->p[b->len++] = (uint8_t)acc;
			acc >>= 8;
			bits -= 8;
		}
	}
	if (bits)
		b->p[b->len++] = (uint8_t)acc;
}

/* A bit-packed run of `n` values, the last group padded with zeros. */
static void flush_literals(struct cl_pq_buf *b, const uint32_t *v, size_t n, unsigned width)
{
	if (!n)
		return;
	uint32_t pad[8] = {0};
	put_varint(b, ((uint64_t)((n + 7) / 8) << 1) | 1);
	size_t full = n / 8 * 8;
	bitpack(b, v, full, width);
	if (full < n) {
		memcpy(pad, v + full, (n - full) * sizeof(*v));
		bitpack(b, pad, 8, width);
	}
}

/* Appends the hybrid encoding of `n` values of `width` bits: runs of 8 or
 * more equal values as RLE runs, the rest bit-packed in groups of 8. */
static int rle_encode(struct cl_pq_buf *b, const uint32_t *v, size_t n, unsigned width)
{
	int rc = cl_pq_buf_reserve(b, n * 4 + n / 8 * 2 + 64);
	if (rc)
		return rc;
	size_t bytes = (width + 7) / 8;
	size_t lit = 0, nlit = 0; /* pending literals start at lit */
	size_t i = 0;
	while (i < n) {
		size_t r = 1;
		while (i + r < n && v[i + r] == v[i])
			r++;
		if (r >= 8) {
			/* literals must come in groups of 8: lend them part of the run */
			size_t pad = (8 - nlit % 8) % 8;
			if (r - pad >= 8) {
				nlit += pad;
				i += pad;
				r -= pad;
				flush_literals(b, v + lit, nlit, width);
				put_varint(b, (uint64_t)r << 1);
				for (size_t k = 0; k < bytes; k++)
					b->p[b->len++] = (uint8_t)(v[i] >> (8 * k));
				i += r;
				lit = i;
				nlit = 0;
				continue;
			}
		}
		nlit += r;
		i += r;
	}
	flush_literals(b, v + lit, nlit, width);
	return 0;
}

/* Appends `n` copies of `value` as one RLE run. */
static int rle_constant(struct cl_pq_buf *b, uint32_t value, size_t n, unsigned width)
{
	int rc = cl_pq_buf_reserve(b, 16);
	if (rc)
		return rc;
	put_varint(b, (uint64_t)n << 1);
	for (size_t k = 0; k < (width + 7) / 8; k++)
		b->p[b->len++] = (uint8_t)(value >> (8 * k));
	return 0;
}

/* ---- values ----------------------------------------------------------- */

/* Bytes of a fixed-size value; 0 for booleans (bit-packed) and strings. */
static size_t value_bytes(enum cl_pq_type t)
{
	return t == CL_PQ_BOOL ? 0 : cl_pq_type_size(t);
}

/* The first 8 bytes of a string, big-endian, so that comparing two keys
 * orders their prefixes as memcmp would. */
static uint64_t prefix_key(const char *s, size_t n)
{
	uint8_t b[8] = {0};
	memcpy(b, s, n < 8 ? n : 8);
	return ((uint64_t)b[0] << 56) | ((uint64_t)b[1] << 48) | ((uint64_t)b[2] << 40) |
	       ((uint64_t)b[3] << 32) | ((uint64_t)b[4] << 24) | ((uint64_t)b[5] << 16) |
	       ((uint64_t)b[6] << 8) | b[7];
}

/* memcmp order of entries i and j of a string vector: <0, 0, >0. */
static int str_cmp(const struct cl_pq_vec *v, size_t i, size_t j)
{
	size_t la, lb;
	const char *a = cl_pq_vec_str(v, i, &la);
	const char *b = cl_pq_vec_str(v, j, &lb);
	uint64_t ka = prefix_key(a, la), kb = prefix_key(b, lb);
	if (ka != kb)
		return ka < kb ? -1 : 1;
	int c = memcmp(a, b, la < lb ? la : lb);
	if (c)
		return c;
	return la < lb ? -1 : la > lb;
}

static int64_t int_at(const struct cl_pq_vec *v, size_t i)
{
	switch (v->type) {
	case CL_PQ_BOOL: return v->v.b[i];
	case CL_PQ_INT32:
	case CL_PQ_DATE: return v->v.i32[i];
	default: return v->v.i64[i];
	}
}

/* Widens entries' bounds to include entry i. */
static void bound_include(const struct cl_pq_vec *v, struct cl_pq_chunk *c, size_t i)
{
	switch (v->type) {
	case CL_PQ_FLOAT:
	case CL_PQ_DOUBLE: {
		double x = v->type == CL_PQ_FLOAT ? v->v.f32[i] : v->v.f64[i];
		if (isnan(x))
			return;
		if (!c->has_minmax || x < c->min_d)
			c->min_d = x;
		if (!c->has_minmax || x > c->max_d)
			c->max_d = x;
		break;
	}
	case CL_PQ_STRING:
	case CL_PQ_BINARY:
		if (!c->has_minmax || str_cmp(v, i, c->min_slot) < 0)
			c->min_slot = i;
		if (!c->has_minmax || str_cmp(v, i, c->max_slot) > 0)
			c->max_slot = i;
		break;
	default: {
		int64_t x = int_at(v, i);
		if (!c->has_minmax || x < c->min_i)
			c->min_i = x;
		if (!c->has_minmax || x > c->max_i)
			c->max_i = x;
	}
	}
	c->has_minmax = true;
}

/* The chunk's PLAIN-encoded bounds for its footer statistics. */
static int encode_bounds(const struct cl_pq_vec *v, struct cl_pq_chunk *c)
{
	if (!c->has_minmax)
		return 0;
	switch (v->type) {
	case CL_PQ_BOOL: {
		uint8_t a = (uint8_t)c->min_i, b = (uint8_t)c->max_i;
		return cl_pq_buf_put(&c->min, &a, 1) ?: cl_pq_buf_put(&c->max, &b, 1);
	}
	case CL_PQ_INT32:
	case CL_PQ_DATE: {
		int32_t a = (int32_t)c->min_i, b = (int32_t)c->max_i;
		return cl_pq_buf_put(&c->min, &a, 4) ?: cl_pq_buf_put(&c->max, &b, 4);
	}
	case CL_PQ_INT64:
	case CL_PQ_TIMESTAMP:
		return cl_pq_buf_put(&c->min, &c->min_i, 8) ?: cl_pq_buf_put(&c->max, &c->max_i, 8);
	case CL_PQ_FLOAT: {
		float a = (float)c->min_d, b = (float)c->max_d;
		return cl_pq_buf_put(&c->min, &a, 4) ?: cl_pq_buf_put(&c->max, &b, 4);
	}
	case CL_PQ_DOUBLE:
		return cl_pq_buf_put(&c->min, &c->min_d, 8) ?: cl_pq_buf_put(&c->max, &c->max_d, 8);
	default: {
		size_t la, lb;
		const char *a = cl_pq_vec_str(v, c->min_slot, &la);
		const char *b = cl_pq_vec_str(v, c->max_slot, &lb);
		if (la > STATS_MAX_BYTES || lb > STATS_MAX_BYTES)
			return 0;
		return cl_pq_buf_put(&c->min, a, la) ?: cl_pq_buf_put(&c->max, b, lb);
	}
	}
}

/* ---- dictionary ------------------------------------------------------- */

static uint64_t hash_bytes(const void *p, size_t n)
{
	const uint8_t *s = p;
	uint64_t h = 0x9e3779b97f4a7c15ull ^ n;
	while (n >= 8) {
		uint64_t k;
		memcpy(&k, s, 8);
		h = (h ^ (k * 0xff51afd7ed558ccdull)) * 0xc4ceb9fe1a85ec53ull;
		h ^= h >> 29;
		s += 8;
		n -= 8;
	}
	uint64_t k = 0;
	memcpy(&k, s, n);
	h = (h ^ (k * 0xff51afd7ed558ccdull)) * 0xc4ceb9fe1a85ec53ull;
	return h ^ (h >> 32);
}

/* The hash of entry i of `v`. */
static inline uint64_t entry_hash(const struct cl_pq_vec *v, size_t vb, size_t i)
{
	if (vb == 8)
		return (uint64_t)v->v.i64[i] * 0x9e3779b97f4a7c15ull;
	if (vb == 4)
		return (uint64_t)(uint32_t)v->v.i32[i] * 0x9e3779b97f4a7c15ull;
	size_t len;
	const char *p = cl_pq_vec_str(v, i, &len);
	return hash_bytes(p, len);
}

/* Whether entries i and j of `v` hold the same bytes. */
static inline bool entry_eq(const struct cl_pq_vec *v, size_t vb, size_t i, size_t j)
{
	if (vb == 8)
		return v->v.i64[i] == v->v.i64[j];
	if (vb == 4)
		return v->v.i32[i] == v->v.i32[j];
	size_t la, lb;
	const char *a = cl_pq_vec_str(v, i, &la);
	const char *b = cl_pq_vec_str(v, j, &lb);
	return la == lb && memcmp(a, b, la) == 0;
}

/* Grows the dictionary's hash table to `want` slots and re-inserts the
 * `nd` entries. The table stays at most half full, so it stays small —
 * and in cache — for the low-cardinality columns a dictionary is for. */
static bool dict_rehash(struct cl_pq_enc *e, size_t want, size_t nd)
{
	if (e->slots_cap < want) {
		uint32_t *s = cl_realloc(e->slots, want * sizeof(*s));
		if (!s)
			return false;
		e->slots = s;
		e->slots_cap = want;
	}
	memset(e->slots, 0xff, want * sizeof(*e->slots));
	size_t mask = want - 1;
	for (size_t d = 0; d < nd; d++) {
		size_t s = (e->dict_hash[d] >> 32) & mask;
		while (e->slots[s] != UINT32_MAX)
			s = (s + 1) & mask;
		e->slots[s] = (uint32_t)d;
	}
	return true;
}

/* Tries to dictionary-encode the defined values of `v`: fills e->idx (one
 * index per defined value, in order) and e->dict_pos (the entry holding
 * each distinct value). Returns the number of distinct values, or 0 when
 * a dictionary does not pay. */
static size_t build_dict(struct cl_pq_enc *e, const struct cl_pq_vec *v, size_t defined,
			 size_t plain_bytes)
{
	if (v->type == CL_PQ_BOOL || defined < 16)
		return 0;
	if (e->idx_cap < defined) {
		uint32_t *x = cl_realloc(e->idx, defined * sizeof(*x));
		if (!x)
			return 0;
		e->idx = x;
		e->idx_cap = defined;
	}
	size_t slots = 4096;
	if (!dict_rehash(e, slots, 0))
		return 0;
	size_t mask = slots - 1;
	size_t nd = 0, dict_bytes = 0, k = 0;
	size_t vb = value_bytes(v->type);
	for (size_t i = 0; i < v->n; i++) {
		if (!v->valid[i])
			continue;
		uint64_t h = entry_hash(v, vb, i);
		size_t s = (h >> 32) & mask;
		for (;;) {
			uint32_t d = e->slots[s];
			if (d == UINT32_MAX) {
				if (nd >= DICT_MAX_ENTRIES)
					return 0;
				if (nd >= e->dict_pos_cap) {
					size_t cap = e->dict_pos_cap ? e->dict_pos_cap * 2 : 4096;
					size_t *dp = cl_realloc(e->dict_pos, cap * sizeof(*dp));
					uint64_t *dh = cl_realloc(e->dict_hash, cap * sizeof(*dh));
					if (dp)
						e->dict_pos = dp;
					if (dh)
						e->dict_hash = dh;
					if (!dp || !dh)
						return 0;
					e->dict_pos_cap = cap;
				}
				e->dict_pos[nd] = i;
				e->dict_hash[nd] = h;
				e->slots[s] = (uint32_t)nd;
				e->idx[k] = (uint32_t)nd++;
				dict_bytes += vb ? vb : v->off[i + 1] - v->off[i] + 4;
				if (dict_bytes > DICT_MAX_BYTES)
					return 0;
				if (nd * 2 > slots) {
					slots *= 2;
					if (!dict_rehash(e, slots, nd))
						return 0;
					mask = slots - 1;
				}
				break;
			}
			if (e->dict_hash[d] == h && entry_eq(v, vb, i, e->dict_pos[d])) {
				e->idx[k] = d;
				break;
			}
			s = (s + 1) & mask;
		}
		k++;
		if (k == DICT_PROBE_ROWS && nd * 2 > k)
			return 0; /* mostly distinct: PLAIN it is */
	}
	size_t index_bytes = defined * bit_width(nd > 1 ? nd - 1 : 1) / 8 + 16;
	if (dict_bytes + index_bytes >= plain_bytes * 9 / 10)
		return 0;
	return nd;
}

/* ---- pages ------------------------------------------------------------ */

/* PLAIN encoding of the defined values of entries [from, to). */
static int plain_values(struct cl_pq_buf *b, const struct cl_pq_vec *v, size_t from, size_t to)
{
	int rc;
	size_t vb = value_bytes(v->type);
	if (v->type == CL_PQ_BOOL) {
		if ((rc = cl_pq_buf_reserve(b, (to - from) / 8 + 1)))
			return rc;
		uint8_t acc = 0;
		int bits = 0;
		for (size_t i = from; i < to; i++) {
			if (!v->valid[i])
				continue;
			acc |= (uint8_t)(v->v.b[i] << bits);
			if (++bits == 8) {
				b->p[b->len++] = acc;
				acc = 0;
				bits = 0;
			}
		}
		if (bits)
			b->p[b->len++] = acc;
		return 0;
	}
	if (vb) {
		if ((rc = cl_pq_buf_reserve(b, (to - from) * vb)))
			return rc;
		const uint8_t *src = (const uint8_t *)v->v.raw;
		size_t i = from;
		while (i < to) {
			size_t j = i;
			while (j < to && v->valid[j])
				j++;
			memcpy(b->p + b->len, src + i * vb, (j - i) * vb);
			b->len += (j - i) * vb;
			while (j < to && !v->valid[j])
				j++;
			i = j;
		}
		return 0;
	}
	size_t bytes = v->off[to] - v->off[from];
	if ((rc = cl_pq_buf_reserve(b, bytes + (to - from) * 4)))
		return rc;
	uint8_t *o = b->p + b->len;
	for (size_t i = from; i < to; i++) {
		if (!v->valid[i])
			continue;
		uint32_t len = v->off[i + 1] - v->off[i];
		memcpy(o, &len, 4);
		if (len)
			memcpy(o + 4, v->data + v->off[i], len);
		o += 4 + len;
	}
	b->len = (size_t)(o - b->p);
	return 0;
}

/* Compresses e->page and appends its header and body to the chunk. */
static int emit_page(struct cl_pq_enc *e, const struct cl_pq_enc_opts *o, int type,
		     size_t num_values, int encoding, struct cl_pq_chunk *c)
{
	int rc;
	size_t clen;
	if ((rc = cl_pq_compress(o->codec, o->level, e->page.p, e->page.len, &e->comp.p,
				 &e->comp.cap, &clen)))
		return rc;
	if (e->page.len > INT32_MAX || clen > INT32_MAX || num_values > INT32_MAX)
		return cl_error_set(CL_ETOOBIG, "a Parquet page over 2 GiB");
	struct cl_tw t = {0};
	cl_tw_i32(&t, 1, type);
	cl_tw_i32(&t, 2, (int32_t)e->page.len);
	cl_tw_i32(&t, 3, (int32_t)clen);
	if (type == CL_PQF_DICTIONARY_PAGE) {
		cl_tw_struct_begin(&t, 7);
		cl_tw_i32(&t, 1, (int32_t)num_values);
		cl_tw_i32(&t, 2, CL_PQF_PLAIN);
		cl_tw_struct_end(&t);
	} else {
		cl_tw_struct_begin(&t, 5);
		cl_tw_i32(&t, 1, (int32_t)num_values);
		cl_tw_i32(&t, 2, encoding);
		cl_tw_i32(&t, 3, CL_PQF_RLE);
		cl_tw_i32(&t, 4, CL_PQF_RLE);
		cl_tw_struct_end(&t);
	}
	cl_tw_stop(&t);
	rc = t.err ?: cl_pq_buf_put(&c->out, t.buf, t.len) ?: cl_pq_buf_put(&c->out, e->comp.p, clen);
	c->uncompressed += (int64_t)(t.len + e->page.len);
	c->compressed = (int64_t)c->out.len;
	cl_tw_free(&t);
	return rc;
}

/* Appends levels of entries [from, to) to the page, each kind behind its
 * 4-byte length: repetition then definition. */
static int page_levels(struct cl_pq_enc *e, const struct cl_pq_vec *v, int max_def, int max_rep,
		       size_t from, size_t to)
{
	int rc;
	for (int pass = 0; pass < 2; pass++) {
		int max = pass == 0 ? max_rep : max_def;
		if (max == 0)
			continue;
		unsigned width = bit_width((uint64_t)max);
		size_t at = e->page.len;
		if ((rc = cl_pq_buf_reserve(&e->page, 4)))
			return rc;
		e->page.len += 4;
		const uint8_t *lv = pass == 0 ? v->rep : v->def;
		bool all = !lv && !memchr(v->valid + from, 0, to - from);
		if (all) {
			/* flat and no nulls: one run */
			rc = rle_constant(&e->page, 1, to - from, width);
		} else {
			e->levels.len = 0;
			if ((rc = cl_pq_buf_reserve(&e->levels, (to - from) * 4)))
				return rc;
			uint32_t *x = (uint32_t *)e->levels.p;
			for (size_t k = from; k < to; k++)
				x[k - from] = lv ? lv[k] : v->valid[k];
			rc = rle_encode(&e->page, x, to - from, width);
		}
		if (rc)
			return rc;
		uint32_t n = (uint32_t)(e->page.len - at - 4);
		memcpy(e->page.p + at, &n, 4);
	}
	return 0;
}

int cl_pq_encode_chunk(struct cl_pq_enc *e, const struct cl_pq_vec *v, int max_def, int max_rep,
		       const struct cl_pq_enc_opts *o, struct cl_pq_chunk *c)
{
	int rc;
	c->out.len = 0;
	c->min.len = 0;
	c->max.len = 0;
	c->num_values = (int64_t)v->n;
	c->uncompressed = 0;
	c->compressed = 0;
	c->dict = false;
	c->dict_offset = -1;
	c->has_minmax = false;
	if (v->err)
		return cl_error_set(v->err, "a column buffer failed: %s", cl_strerror(v->err));

	size_t defined = 0;
	for (size_t i = 0; i < v->n; i++)
		defined += v->valid[i];
	c->nulls = (int64_t)(v->n - defined);
	if (max_def == 0 && c->nulls)
		return cl_error_set(CL_EINVAL, "a required column holds a null");
	size_t vb = value_bytes(v->type);
	size_t plain_bytes = vb ? defined * vb : v->data_len + defined * 4;
	size_t nd = max_rep ? 0 : build_dict(e, v, defined, plain_bytes);

	/* bounds: over the dictionary when there is one, else every value */
	if (nd) {
		for (size_t d = 0; d < nd; d++)
			bound_include(v, c, e->dict_pos[d]);
	} else {
		for (size_t i = 0; i < v->n; i++)
			if (v->valid[i])
				bound_include(v, c, i);
	}
	if ((rc = encode_bounds(v, c)))
		return rc;

	unsigned width = 0;
	if (nd) {
		c->dict = true;
		c->dict_offset = 0;
		e->page.len = 0;
		for (size_t d = 0; d < nd && !rc; d++)
			rc = plain_values(&e->page, v, e->dict_pos[d], e->dict_pos[d] + 1);
		if (rc || (rc = emit_page(e, o, CL_PQF_DICTIONARY_PAGE, nd, CL_PQF_PLAIN, c)))
			return rc;
		width = bit_width(nd - 1);
	}
	c->data_offset = (int64_t)c->out.len;

	/* data pages of about page_bytes of values each; a nested column keeps
	 * its records whole in one page */
	size_t per_value = nd ? (width + 7) / 8 + 1
			      : vb ? vb : (v->data_len / (defined ? defined : 1) + 4);
	size_t per_page = o->page_bytes / (per_value ? per_value : 1);
	if (per_page < 1024)
		per_page = 1024;
	size_t from = 0, k = 0; /* k: defined values before `from` */
	do {
		size_t to = max_rep || from + per_page > v->n ? v->n : from + per_page;
		e->page.len = 0;
		if ((rc = page_levels(e, v, max_def, max_rep, from, to)))
			return rc;
		size_t ndef = 0;
		for (size_t i = from; i < to; i++)
			ndef += v->valid[i];
		if (nd) {
			if ((rc = cl_pq_buf_reserve(&e->page, 1)))
				return rc;
			e->page.p[e->page.len++] = (uint8_t)width;
			if ((rc = rle_encode(&e->page, e->idx + k, ndef, width)))
				return rc;
		} else if ((rc = plain_values(&e->page, v, from, to))) {
			return rc;
		}
		k += ndef;
		if ((rc = emit_page(e, o, CL_PQF_DATA_PAGE, to - from,
				    nd ? CL_PQF_RLE_DICTIONARY : CL_PQF_PLAIN, c)))
			return rc;
		from = to;
	} while (from < v->n);
	return 0;
}
