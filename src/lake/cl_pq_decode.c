/*
 * cl_pq_decode.c — reading one column chunk of an open Parquet file into
 * a column vector (see cl_parquet.h, cl_pq_file.h).
 *
 * Pages: an optional dictionary page, then data pages — v1 (levels and
 * values compressed together, each level run behind a 4-byte length) or
 * v2 (levels uncompressed in front of the values, lengths in the header).
 * Values are decoded into the slots of the entries whose definition level
 * is the leaf's maximum. Encodings: PLAIN, PLAIN_DICTIONARY /
 * RLE_DICTIONARY, RLE (levels, booleans), DELTA_BINARY_PACKED,
 * DELTA_LENGTH_BYTE_ARRAY, DELTA_BYTE_ARRAY and BYTE_STREAM_SPLIT. Every
 * length read from the file is checked against the bytes left first.
 *
 * A page is decoded whole, an array at a time: its levels, then its values
 * straight into the output vector (dictionary indices gathered from the
 * dictionary, decoded once per chunk; string bytes reserved once per page),
 * then, when some entries are null, the values spread over their entries
 * in place. Nothing is allocated per value. cl_pq_read_columns() reads
 * several columns of a row group on several threads.
 */
#include "lake/cl_parquet.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/cl_error.h"
#include "core/cl_mem.h"
#include "core/cl_worker.h"
#include "lake/cl_pq_file.h"
#include "lake/cl_pq_format.h"
#include "lake/cl_thrift.h"

#define MAX_PAGE (1u << 30)
#define MAX_ENTRIES (1 << 28)  /* entries of one column chunk */
#define MAX_READ_THREADS 8     /* columns read at once by cl_pq_read_columns() */

/* A bounded input. */
struct in {
	const uint8_t *p, *end;
};

static int left(const struct in *b, size_t n)
{
	return (size_t)(b->end - b->p) >= n;
}

static int uleb(struct in *b, uint64_t *v)
{
	*v = 0;
	for (int s = 0; s < 64; s += 7) {
		if (b->p >= b->end)
			return -1;
		uint8_t c = *b->p++;
		*v |= (uint64_t)(c & 0x7f) << s;
		if (!(c & 0x80))
			return 0;
	}
	return -1;
}

/* ---- RLE / bit-packed hybrid ------------------------------------------ */

/* Unpacks `take` values of `width` bits (<= 32) from the `have` bytes at
 * p, which hold at least (take * width + 7) / 8. Each value is one 8-byte
 * load and a shift while a whole load fits; the last few bytes go one at
 * a time. */
static void unpack(const uint8_t *p, size_t have, unsigned width, uint32_t *out, size_t take)
{
	uint32_t mask = width == 32 ? 0xffffffffu : (1u << width) - 1;
	size_t i = 0;
	if (width == 0) {
		memset(out, 0, take * sizeof(*out));
		return;
	}
	size_t fast = have >= 8 ? ((have - 8) * 8) / width + 1 : 0; /* loads that fit */
	if (fast > take)
		fast = take;
	for (; i < fast; i++) {
		size_t bit = i * width;
		uint64_t w;
		memcpy(&w, p + (bit >> 3), 8);
		out[i] = (uint32_t)(w >> (bit & 7)) & mask;
	}
	for (; i < take; i++) {
		size_t bit = i * width, byte = bit >> 3;
		uint64_t w = 0;
		for (size_t k = 0; k < 8 && byte + k < have; k++)
			w |= (uint64_t)p[byte + k] << (8 * k);
		out[i] = (uint32_t)(w >> (bit & 7)) & mask;
	}
}

/* One run of the RLE / bit-packed hybrid, of at most `want` values:
 * `count` values bit-packed in the `bytes` bytes at `packed`, or, with
 * packed NULL, `count` copies of `value`. */
struct rle_run {
	const uint8_t *packed;
	size_t bytes, count;
	uint32_t value;
};

/* Reads the next run of `width`-bit values (want > 0) and moves b past
 * it; -1 if it is corrupt. */
static int rle_next(struct in *b, unsigned width, size_t want, struct rle_run *run)
{
	size_t bytes = (width + 7) / 8;
	uint64_t h;
	if (uleb(b, &h) != 0)
		return -1;
	if (h & 1) {
		uint64_t groups = h >> 1;
		if (groups == 0 || groups > (uint64_t)(b->end - b->p) + 1)
			return -1;
		/* some writers cut a last run short of its padding: only the
		 * values still wanted must be there */
		size_t total = (size_t)groups * 8, take = total < want ? total : want;
		size_t need = (take * width + 7) / 8, have = (size_t)(b->end - b->p);
		if (need > have)
			return -1;
		size_t run_bytes = (size_t)groups * width;
		run->packed = b->p;
		run->bytes = run_bytes < have ? run_bytes : have;
		run->count = take;
		b->p += run->bytes;
		return 0;
	}
	if ((h >> 1) == 0)
		return -1; /* a zero-length run never ends */
	if (!left(b, bytes))
		return -1;
	run->packed = NULL;
	run->value = 0;
	for (size_t k = 0; k < bytes; k++)
		run->value |= (uint32_t)b->p[k] << (8 * k);
	b->p += bytes;
	run->count = (h >> 1) < want ? (size_t)(h >> 1) : want;
	return 0;
}

/* Decodes `n` values of `width` bits (<= 32) into out[]. */
static int rle_decode(struct in *b, unsigned width, uint32_t *out, size_t n)
{
	if (width > 32)
		return -1;
	for (size_t got = 0; got < n;) {
		struct rle_run run;
		if (rle_next(b, width, n - got, &run) != 0)
			return -1;
		if (run.packed)
			unpack(run.packed, run.bytes, width, out + got, run.count);
		else
			for (size_t k = 0; k < run.count; k++)
				out[got + k] = run.value;
		got += run.count;
	}
	return 0;
}

/* ---- DELTA_BINARY_PACKED ----------------------------------------------- */

/* Decodes up to `n` integers; sets *count to how many the page holds. */
static int delta_decode(struct in *b, int64_t *out, size_t n, size_t *count)
{
	uint64_t block, mini, total, first;
	if (uleb(b, &block) || uleb(b, &mini) || uleb(b, &total) || uleb(b, &first))
		return -1;
	if (block == 0 || mini == 0 || block % 128 || block / mini % 32 || mini > block ||
	    total > (1u << 30))
		return -1;
	uint64_t per_mini = block / mini;
	int64_t v = (int64_t)(first >> 1) ^ -(int64_t)(first & 1);
	size_t got = 0;
	*count = (size_t)total;
	if (total > 0 && got < n)
		out[got] = v;
	got++;
	while (got < total) {
		uint64_t zmin;
		if (uleb(b, &zmin) || !left(b, (size_t)mini))
			return -1;
		int64_t min_delta = (int64_t)(zmin >> 1) ^ -(int64_t)(zmin & 1);
		const uint8_t *widths = b->p;
		b->p += mini;
		for (uint64_t m = 0; m < mini && got < total; m++) {
			unsigned w = widths[m];
			if (w > 64)
				return -1;
			size_t bytes = (size_t)(per_mini * w / 8);
			if (!left(b, bytes))
				return -1;
			const uint8_t *p = b->p;
			unsigned __int128 acc = 0;
			unsigned bits = 0;
			/* the miniblock's values that count, and of them those the
			 * caller wants: the rest are only stepped over (a page may
			 * claim 2^30 values in a few bytes of zero widths) */
			uint64_t take = per_mini < total - got ? per_mini : total - got;
			uint64_t want = got >= n ? 0 : take < n - got ? take : n - got;
			for (uint64_t i = 0; i < want; i++) {
				uint64_t d = 0;
				if (w) {
					while (bits < w) {
						acc |= (unsigned __int128)*p++ << bits;
						bits += 8;
					}
					d = w == 64 ? (uint64_t)acc : (uint64_t)acc & ((1ull << w) - 1);
					acc >>= w;
					bits -= w;
				}
				v = (int64_t)((uint64_t)v + (uint64_t)min_delta + d);
				out[got + i] = v;
			}
			got += take;
			b->p += bytes;
		}
	}
	return 0;
}

/* ---- values ------------------------------------------------------------ */

/* Buffers a reader decodes pages in, kept from one column to the next
 * when several are read (cl_pq_read_columns()). */
struct scratch {
	uint32_t *idx;             /* indices / levels */
	size_t idx_cap;
	int64_t *ints;             /* delta-decoded integers */
	size_t ints_cap;
	uint8_t *page;             /* decompressed page */
	size_t page_cap;
	uint8_t *defs, *reps;      /* one page's levels */
	size_t lev_cap;
};

static void scratch_free(struct scratch *s)
{
	cl_free(s->idx);
	cl_free(s->ints);
	cl_free(s->page);
	cl_free(s->defs);
	cl_free(s->reps);
	memset(s, 0, sizeof(*s));
}

/* A column being read: its leaf, output and dictionary. */
struct reader {
	const struct cl_pq_file *f;
	const struct cl_pq_leaf *leaf;
	const struct cl_pq_rnode *node;
	struct cl_pq_vec *out;
	struct cl_pq_vec dict;     /* decoded dictionary values */
	int have_dict;
	int dict_all_valid;        /* no null among them (INT96 may give some) */
	struct scratch *s;
};

static int grow_u32(uint32_t **p, size_t *cap, size_t n)
{
	if (*cap >= n)
		return 0;
	uint32_t *x = cl_realloc(*p, (n ? n : 1) * sizeof(*x));
	if (!x)
		return CL_ENOMEM;
	*p = x;
	*cap = n;
	return 0;
}

static int corrupt(const struct reader *r, const char *what)
{
	return cl_error_set(CL_ECORRUPT, "column '%s': %s", r->leaf->name, what);
}

/* Converts a physical value at p to the leaf's type and pushes it. */
static void push_plain(struct reader *r, struct cl_pq_vec *v, const uint8_t *p, size_t len)
{
	const struct cl_pq_rnode *n = r->node;
	int32_t i32;
	int64_t i64;
	switch (n->physical) {
	case CL_PQF_INT32:
		memcpy(&i32, p, 4);
		if (r->leaf->type == CL_PQ_INT64)
			cl_pq_vec_push_i64(v, (int64_t)(uint32_t)i32);
		else
			cl_pq_vec_push_i32(v, i32);
		break;
	case CL_PQF_INT64:
		memcpy(&i64, p, 8);
		if (r->leaf->type == CL_PQ_TIMESTAMP) {
			int unit = n->ts_unit ? n->ts_unit
				 : n->converted == CL_PQF_CT_TIMESTAMP_MILLIS ? 1 : 2;
			if (unit == 1)
				i64 = (int64_t)((uint64_t)i64 * 1000);
			else if (unit == 3) /* nanoseconds, floored (no overflow near the ends) */
				i64 = i64 / 1000 - (i64 % 1000 < 0);
		}
		cl_pq_vec_push_i64(v, i64);
		break;
	case CL_PQF_INT96: {
		uint64_t nanos;
		int32_t jd;
		memcpy(&nanos, p, 8);
		memcpy(&jd, p + 8, 4);
		/* a day no microsecond count can hold (the format allows any) is
		 * no instant at all: null, rather than a wrapped-around one */
		int64_t days = (int64_t)jd - 2440588; /* the Julian day of 1970-01-01 */
		if (days < -106751991 || days > 106751990 || nanos >= 86400000000000ull)
			cl_pq_vec_push_null(v);
		else
			cl_pq_vec_push_i64(v, days * 86400000000LL + (int64_t)(nanos / 1000));
		break;
	}
	case CL_PQF_FLOAT: {
		float x;
		memcpy(&x, p, 4);
		cl_pq_vec_push_f32(v, x);
		break;
	}
	case CL_PQF_DOUBLE: {
		double x;
		memcpy(&x, p, 8);
		cl_pq_vec_push_f64(v, x);
		break;
	}
	default:
		cl_pq_vec_push_str(v, (const char *)p, len);
	}
}

static size_t fixed_size(const struct cl_pq_rnode *n)
{
	switch (n->physical) {
	case CL_PQF_INT32:
	case CL_PQF_FLOAT: return 4;
	case CL_PQF_INT64:
	case CL_PQF_DOUBLE: return 8;
	case CL_PQF_INT96: return 12;
	case CL_PQF_FIXED_LEN_BYTE_ARRAY: return (size_t)n->type_length;
	default: return 0;
	}
}

/* Decodes `n` PLAIN values into `v`. */
static int plain(struct reader *r, struct in *b, struct cl_pq_vec *v, size_t n)
{
	const struct cl_pq_rnode *nd = r->node;
	if (nd->physical == CL_PQF_BOOLEAN) {
		if (!left(b, (n + 7) / 8))
			return corrupt(r, "fewer boolean values than entries");
		for (size_t i = 0; i < n; i++)
			cl_pq_vec_push_bool(v, (b->p[i / 8] >> (i % 8)) & 1);
		b->p += (n + 7) / 8;
		return v->err;
	}
	size_t sz = fixed_size(nd);
	if (sz) {
		if (n > (size_t)(b->end - b->p) / sz)
			return corrupt(r, "fewer values than entries");
		/* values stored as they are kept: copied in one go */
		int same = (nd->physical == CL_PQF_INT64 && (r->leaf->type == CL_PQ_INT64 ||
			    (r->leaf->type == CL_PQ_TIMESTAMP && nd->ts_unit != 1 && nd->ts_unit != 3 &&
			     nd->converted != CL_PQF_CT_TIMESTAMP_MILLIS))) ||
			   nd->physical == CL_PQF_DOUBLE || nd->physical == CL_PQF_FLOAT ||
			   (nd->physical == CL_PQF_INT32 && r->leaf->type != CL_PQ_INT64);
		if (n == 0)
			return 0;
		if (same && !v->def) {
			int rc = cl_pq_vec_reserve(v, n);
			if (rc)
				return rc;
			memcpy((uint8_t *)v->v.raw + v->n * sz, b->p, n * sz);
			memset(v->valid + v->n, 1, n);
			v->n += n;
			b->p += n * sz;
			return 0;
		}
		for (size_t i = 0; i < n; i++, b->p += sz)
			push_plain(r, v, b->p, sz);
		return v->err;
	}
	/* the strings' bytes are fewer than the page's: room for all at once,
	 * and for a short string copied as one 32-byte move */
	if (n == 0)
		return 0;
	int rc = cl_pq_vec_reserve(v, n);
	if (rc == 0)
		rc = cl_pq_vec_reserve_data(v, (size_t)(b->end - b->p) + 32);
	if (rc)
		return rc;
	const uint8_t *p = b->p, *end = b->end;
	uint32_t *off = v->off + v->n;
	uint8_t *valid = v->valid + v->n;
	char *data = v->data;
	size_t at = v->data_len;
	for (size_t i = 0; i < n; i++) {
		uint32_t len;
		if ((size_t)(end - p) < 4)
			return corrupt(r, "a string value runs past its page");
		memcpy(&len, p, 4);
		p += 4;
		if ((size_t)(end - p) < len)
			return corrupt(r, "a string value runs past its page");
		if (len <= 32 && end - p >= 32)
			memcpy(data + at, p, 32);
		else
			memcpy(data + at, p, len);
		at += len;
		off[i + 1] = (uint32_t)at;
		valid[i] = 1;
		p += len;
	}
	b->p = p;
	v->data_len = at;
	v->n += n;
	return 0;
}

/* Appends the dictionary's entries idx[0..n) to `out`: gathered in one
 * pass per array, string bytes reserved once. */
static int dict_gather(struct reader *r, const uint32_t *idx, size_t n, struct cl_pq_vec *out)
{
	const struct cl_pq_vec *d = &r->dict;
	uint32_t bad = 0, dn = d->n > UINT32_MAX ? UINT32_MAX : (uint32_t)d->n;
	for (size_t i = 0; i < n; i++)
		bad |= idx[i] >= dn;
	if (bad)
		return corrupt(r, "a dictionary index is past the dictionary");
	int rc = cl_pq_vec_reserve(out, n);
	if (rc)
		return rc;
	size_t base = out->n;
	uint8_t *valid = out->valid + base;
	if (r->dict_all_valid) {
		memset(valid, 1, n);
	} else {
		for (size_t i = 0; i < n; i++)
			valid[i] = d->valid[idx[i]];
	}
	switch (cl_pq_type_size(out->type)) {
	case 1:
		for (size_t i = 0; i < n; i++)
			out->v.b[base + i] = d->v.b[idx[i]];
		break;
	case 4:
		for (size_t i = 0; i < n; i++)
			out->v.i32[base + i] = d->v.i32[idx[i]];
		break;
	case 8:
		for (size_t i = 0; i < n; i++)
			out->v.i64[base + i] = d->v.i64[idx[i]];
		break;
	default: {
		const uint32_t *doff = d->off;
		size_t total = 0;
		for (size_t i = 0; i < n; i++)
			total += doff[idx[i] + 1] - doff[idx[i]];
		/* 32 bytes more, so that a short string is copied as one 32-byte
		 * move (the dictionary has 32 readable bytes past its end too) */
		if ((rc = cl_pq_vec_reserve_data(out, total + 32)))
			return rc;
		uint32_t *off = out->off + base;
		size_t at = out->data_len;
		char *dst = out->data;
		const char *src = d->data;
		for (size_t i = 0; i < n; i++) {
			uint32_t s = doff[idx[i]], len = doff[idx[i] + 1] - s;
			if (len <= 32)
				memcpy(dst + at, src + s, 32);
			else
				memcpy(dst + at, src + s, len);
			at += len;
			off[i + 1] = (uint32_t)at;
		}
		out->data_len = at;
	}
	}
	out->n += n;
	return 0;
}

/* Spreads the `ndef` entries appended to `v` at `base` over `n` entries,
 * a null wherever defs[i] is not `max`: moved from the back, in place;
 * string bytes stay where they are and only the offsets move. `v` has
 * room for the `n`. */
static void spread(struct cl_pq_vec *v, size_t base, size_t n, size_t ndef, const uint8_t *defs,
		   int max)
{
	size_t k = ndef, sz = cl_pq_type_size(v->type);
	uint8_t *valid = v->valid + base;
	if (!sz) {
		uint32_t *off = v->off + base;
		off[n] = off[ndef];
		for (size_t i = n; i-- > 0;) {
			if (defs[i] == max) {
				k--;
				off[i] = off[k];
				valid[i] = valid[k];
			} else {
				off[i] = off[i + 1];
				valid[i] = 0;
			}
		}
	} else {
		uint8_t *raw = (uint8_t *)v->v.raw + base * sz;
		for (size_t i = n; i-- > 0;) {
			if (defs[i] == max) {
				k--;
				if (i != k)
					memcpy(raw + i * sz, raw + k * sz, sz);
				valid[i] = valid[k];
			} else {
				memset(raw + i * sz, 0, sz);
				valid[i] = 0;
			}
		}
	}
	v->n = base + n;
}

/* Decodes the `n` values of a data page in `enc` into `tmp`. */
static int values(struct reader *r, struct in *b, int enc, struct cl_pq_vec *tmp, size_t n)
{
	int phys = r->node->physical;
	int rc;
	switch (enc) {
	case CL_PQF_PLAIN:
		return plain(r, b, tmp, n);
	case CL_PQF_PLAIN_DICTIONARY:
	case CL_PQF_RLE_DICTIONARY: {
		if (!r->have_dict)
			return corrupt(r, "dictionary-encoded values without a dictionary page");
		if (n == 0)
			return 0;
		if (!left(b, 1))
			return corrupt(r, "a dictionary page without its bit width");
		unsigned w = *b->p++;
		if ((rc = grow_u32(&r->s->idx, &r->s->idx_cap, n)))
			return rc;
		if (rle_decode(b, w, r->s->idx, n) != 0)
			return corrupt(r, "dictionary indices are corrupt");
		return dict_gather(r, r->s->idx, n, tmp);
	}
	case CL_PQF_RLE: {
		if (phys != CL_PQF_BOOLEAN)
			break;
		uint32_t len;
		if (!left(b, 4))
			return corrupt(r, "RLE booleans without their length");
		memcpy(&len, b->p, 4);
		b->p += 4;
		if (!left(b, len))
			return corrupt(r, "RLE booleans run past their page");
		struct in sub = { b->p, b->p + len };
		if ((rc = grow_u32(&r->s->idx, &r->s->idx_cap, n)))
			return rc;
		if (rle_decode(&sub, 1, r->s->idx, n) != 0)
			return corrupt(r, "RLE booleans are corrupt");
		if ((rc = cl_pq_vec_reserve(tmp, n)))
			return rc;
		for (size_t i = 0; i < n; i++) {
			tmp->v.b[tmp->n + i] = r->s->idx[i] != 0;
			tmp->valid[tmp->n + i] = 1;
		}
		tmp->n += n;
		b->p += len;
		return 0;
	}
	case CL_PQF_DELTA_BINARY_PACKED: {
		if (phys != CL_PQF_INT32 && phys != CL_PQF_INT64)
			break;
		size_t count;
		if (r->s->ints_cap < n) {
			int64_t *x = cl_realloc(r->s->ints, (n ? n : 1) * sizeof(*x));
			if (!x)
				return CL_ENOMEM;
			r->s->ints = x;
			r->s->ints_cap = n;
		}
		if (delta_decode(b, r->s->ints, n, &count) != 0 || count < n)
			return corrupt(r, "DELTA_BINARY_PACKED values are corrupt");
		for (size_t i = 0; i < n; i++) {
			uint8_t raw[8];
			if (phys == CL_PQF_INT32) {
				int32_t x = (int32_t)r->s->ints[i];
				memcpy(raw, &x, 4);
			} else {
				memcpy(raw, &r->s->ints[i], 8);
			}
			push_plain(r, tmp, raw, 0);
		}
		return tmp->err;
	}
	case CL_PQF_DELTA_LENGTH_BYTE_ARRAY:
	case CL_PQF_DELTA_BYTE_ARRAY: {
		if (phys != CL_PQF_BYTE_ARRAY && phys != CL_PQF_FIXED_LEN_BYTE_ARRAY)
			break;
		size_t count;
		int64_t *prefix = NULL;
		if (r->s->ints_cap < 2 * n + 2) {
			int64_t *x = cl_realloc(r->s->ints, (2 * n + 2) * sizeof(*x));
			if (!x)
				return CL_ENOMEM;
			r->s->ints = x;
			r->s->ints_cap = 2 * n + 2;
		}
		if (enc == CL_PQF_DELTA_BYTE_ARRAY) {
			prefix = r->s->ints + n + 1;
			if (delta_decode(b, prefix, n, &count) != 0 || count < n)
				return corrupt(r, "DELTA_BYTE_ARRAY prefixes are corrupt");
		}
		if (delta_decode(b, r->s->ints, n, &count) != 0 || count < n)
			return corrupt(r, "string lengths are corrupt");
		size_t prev_off = 0, prev_len = 0;
		for (size_t i = 0; i < n; i++) {
			int64_t len = r->s->ints[i], pre = prefix ? prefix[i] : 0;
			if (len < 0 || pre < 0 || (size_t)pre > prev_len || !left(b, (size_t)len))
				return corrupt(r, "a string value runs past its page");
			if (pre) {
				/* the previous value's prefix, then this suffix */
				size_t at = tmp->data_len;
				char buf[256], *s = (size_t)(pre + len) <= sizeof(buf) ? buf
										: cl_malloc((size_t)(pre + len));
				if (!s)
					return CL_ENOMEM;
				memcpy(s, tmp->data + prev_off, (size_t)pre);
				memcpy(s + pre, b->p, (size_t)len);
				cl_pq_vec_push_str(tmp, s, (size_t)(pre + len));
				if (s != buf)
					cl_free(s);
				prev_off = at;
			} else {
				prev_off = tmp->data_len;
				cl_pq_vec_push_str(tmp, (const char *)b->p, (size_t)len);
			}
			prev_len = (size_t)(pre + len);
			b->p += len;
			if (tmp->err)
				return tmp->err;
		}
		return 0;
	}
	case CL_PQF_BYTE_STREAM_SPLIT: {
		size_t k = fixed_size(r->node);
		if (!k || k > 16 || phys == CL_PQF_INT96)
			break;
		if (n > (size_t)(b->end - b->p) / k)
			return corrupt(r, "fewer BYTE_STREAM_SPLIT values than entries");
		for (size_t i = 0; i < n; i++) {
			uint8_t raw[16];
			for (size_t j = 0; j < k; j++)
				raw[j] = b->p[j * n + i];
			push_plain(r, tmp, raw, k);
		}
		b->p += n * k;
		return tmp->err;
	}
	}
	return cl_error_set(CL_ENOTSUP, "column '%s' uses encoding %d for its values, which "
			    "carelake does not read", r->leaf->name, enc);
}

/* ---- pages ------------------------------------------------------------- */

int64_t cl_pq_max_entries(const struct cl_pq_file *f)
{
	/* levels and dictionaries compress well, but not beyond reason: a
	 * kilobyte of file holding more than a million entries is a lie, and
	 * believing it would cost memory and time without end */
	int64_t cap = (int64_t)f->size * 1024;
	if (cap < (1 << 20))
		cap = 1 << 20;
	return cap < MAX_ENTRIES ? cap : MAX_ENTRIES;
}

struct page_header {
	int type;
	int32_t usize, csize;
	int32_t num_values;
	int encoding;
	int def_enc, rep_enc;
	int32_t def_len, rep_len;   /* v2 */
	int compressed;             /* v2: values compressed (default yes) */
};

static int read_header(struct in *b, struct page_header *h)
{
	struct cl_tr t;
	int16_t id, id2;
	enum cl_thrift_type ty, ty2;
	memset(h, 0, sizeof(*h));
	h->type = -1;
	h->compressed = 1;
	cl_tr_init(&t, b->p, (size_t)(b->end - b->p));
	cl_tr_struct_begin(&t);
	while (cl_tr_field(&t, &id, &ty)) {
		if (id == 1 && ty == CL_TT_I32)
			h->type = cl_tr_i32(&t);
		else if (id == 2 && ty == CL_TT_I32)
			h->usize = cl_tr_i32(&t);
		else if (id == 3 && ty == CL_TT_I32)
			h->csize = cl_tr_i32(&t);
		else if ((id == 5 || id == 7 || id == 8) && ty == CL_TT_STRUCT) {
			cl_tr_struct_begin(&t);
			while (cl_tr_field(&t, &id2, &ty2)) {
				if (id2 == 1 && ty2 == CL_TT_I32)
					h->num_values = cl_tr_i32(&t);
				else if (id == 8 && id2 == 4 && ty2 == CL_TT_I32)
					h->encoding = cl_tr_i32(&t);
				else if (id != 8 && id2 == 2 && ty2 == CL_TT_I32)
					h->encoding = cl_tr_i32(&t);
				else if (id == 5 && id2 == 3 && ty2 == CL_TT_I32)
					h->def_enc = cl_tr_i32(&t);
				else if (id == 5 && id2 == 4 && ty2 == CL_TT_I32)
					h->rep_enc = cl_tr_i32(&t);
				else if (id == 8 && id2 == 5 && ty2 == CL_TT_I32)
					h->def_len = cl_tr_i32(&t);
				else if (id == 8 && id2 == 6 && ty2 == CL_TT_I32)
					h->rep_len = cl_tr_i32(&t);
				else if (id == 8 && id2 == 7)
					h->compressed = ty2 == CL_TT_TRUE;
				else
					cl_tr_skip(&t, ty2);
			}
			cl_tr_struct_end(&t);
		} else {
			cl_tr_skip(&t, ty);
		}
	}
	if (t.err || h->usize < 0 || h->csize < 0 || h->num_values < 0 ||
	    (uint32_t)h->usize > MAX_PAGE || !left(b, (size_t)(t.p - b->p) + (size_t)h->csize))
		return -1;
	b->p = t.p;
	return 0;
}

/* Decompresses `n` bytes at p into the reader's page buffer. */
static int inflate_page(struct reader *r, int codec, const uint8_t *p, size_t n, size_t usize,
			const uint8_t **out)
{
	if (codec == CL_PQF_UNCOMPRESSED) {
		if (n != usize)
			return corrupt(r, "an uncompressed page whose sizes differ");
		*out = p;
		return 0;
	}
	if (r->s->page_cap < usize + 1) {
		uint8_t *x = cl_realloc(r->s->page, usize + 1);
		if (!x)
			return CL_ENOMEM;
		r->s->page = x;
		r->s->page_cap = usize + 1;
	}
	int rc = cl_pq_decompress(codec, p, n, r->s->page, usize);
	if (rc)
		return cl_error_set(rc, "column '%s': %s", r->leaf->name, cl_error_detail());
	*out = r->s->page;
	return 0;
}

/* Decodes `n` levels of `width` bits (<= 8) into out[], as rle_decode()
 * does, a byte each: a repeated run is one memset, bit-packed runs are
 * unpacked 256 values at a time. */
static int rle_levels(struct in *b, unsigned width, uint8_t *out, size_t n)
{
	uint32_t buf[256];
	if (width > 8)
		return -1;
	for (size_t got = 0; got < n;) {
		struct rle_run run;
		if (rle_next(b, width, n - got, &run) != 0)
			return -1;
		if (!run.packed)
			memset(out + got, (int)run.value, run.count);
		for (size_t done = 0; run.packed && done < run.count;) {
			size_t k = run.count - done < 256 ? run.count - done : 256;
			size_t at = done / 8 * width; /* done is a multiple of 8 */
			unpack(run.packed + at, run.bytes - at, width, buf, k);
			for (size_t j = 0; j < k; j++)
				out[got + done + j] = (uint8_t)buf[j];
			done += k;
		}
		got += run.count;
	}
	return 0;
}

/* Reads levels of `n` entries (a level of width for `max`). */
static int levels(struct reader *r, struct in *b, int max, uint8_t *out, size_t n)
{
	unsigned w = 0;
	for (int m = max; m; m >>= 1)
		w++;
	if (rle_levels(b, w, out, n) != 0)
		return corrupt(r, "levels are corrupt");
	uint8_t top = 0;
	for (size_t i = 0; i < n; i++)
		top = out[i] > top ? out[i] : top;
	if (top > max)
		return corrupt(r, "a level above the column's maximum");
	return 0;
}

/* Reads one column chunk into `out`, an initialised vector whose memory is
 * reused when it is a flat one of the leaf's type, decoding pages in the
 * buffers of `sc`. */
static int read_chunk(struct cl_pq_file *f, size_t rg, size_t leaf, struct cl_pq_vec *out,
		      struct scratch *sc)
{
	struct reader r = { .s = sc };
	int rc = 0;
	struct cl_pq_vec tmp;

	if (rg >= f->nrg || leaf >= f->nleaves)
		return cl_error_set(CL_EINVAL, "no row group %zu / column %zu", rg, leaf);
	r.f = f;
	r.leaf = &f->leaves[leaf];
	r.node = &f->rn[f->leaf_node[leaf]];
	if (out->type == r.leaf->type && !out->def) {
		cl_pq_vec_clear(out);
	} else {
		cl_pq_vec_free(out);
		cl_pq_vec_init(out, r.leaf->type);
	}
	if (r.node->why)
		return cl_error_set(CL_ENOTSUP, "column '%s' is %s, which carelake does not read",
				    r.leaf->name, r.node->why);
	const struct cl_pq_rchunk *c = &f->chunks[rg * f->nleaves + leaf];
	if (c->external)
		return cl_error_set(CL_ENOTSUP, "column '%s' is kept in another file", r.leaf->name);
	if (c->codec != CL_PQF_UNCOMPRESSED && c->codec != CL_PQF_SNAPPY &&
	    c->codec != CL_PQF_GZIP && c->codec != CL_PQF_ZSTD && c->codec != CL_PQF_LZ4_RAW)
		return cl_error_set(CL_ENOTSUP, "column '%s' is compressed with %s, which carelake "
				    "does not read", r.leaf->name, cl_pq_codec_name(c->codec));
	if (c->num_values > cl_pq_max_entries(f))
		return cl_error_set(CL_ETOOBIG, "column '%s': %lld entries in one chunk of a file of "
				    "%zu bytes; carelake reads at most %lld", r.leaf->name,
				    (long long)c->num_values, f->size,
				    (long long)cl_pq_max_entries(f));
	if (r.leaf->max_rep == 0 && c->num_values != cl_pq_row_group_rows(f, rg))
		return corrupt(&r, "a flat column with a value count other than its row count");
	cl_pq_vec_init(&r.dict, r.leaf->type);
	cl_pq_vec_init(&tmp, r.leaf->type);
	int nested = r.leaf->max_rep > 0 || r.leaf->max_def > 1;
	struct in b = { f->base + c->start, f->base + c->start + c->len };
	int64_t seen = 0;
	/* a flat column: room for every entry at once (the count is bounded by
	 * the file's size, see cl_pq_max_entries()) */
	if (!nested)
		rc = cl_pq_vec_reserve(out, (size_t)c->num_values);
	while (rc == 0 && seen < c->num_values && b.p < b.end) {
		struct page_header h;
		if (read_header(&b, &h) != 0) {
			rc = corrupt(&r, "a page header is corrupt");
			break;
		}
		const uint8_t *body = b.p;
		b.p += h.csize;
		if (h.type == CL_PQF_DICTIONARY_PAGE) {
			const uint8_t *d;
			if (r.have_dict) {
				rc = corrupt(&r, "two dictionary pages");
				break;
			}
			if ((uint64_t)h.num_values > (uint64_t)h.usize + 1) {
				rc = corrupt(&r, "a dictionary with more values than bytes");
				break;
			}
			if ((rc = inflate_page(&r, c->codec, body, (size_t)h.csize, (size_t)h.usize, &d)))
				break;
			struct in db = { d, d + h.usize };
			rc = plain(&r, &db, &r.dict, (size_t)h.num_values);
			if (rc == 0 && !cl_pq_type_size(r.dict.type))
				rc = cl_pq_vec_reserve_data(&r.dict, 32); /* see dict_gather() */
			r.dict_all_valid = r.dict.n == 0 || memchr(r.dict.valid, 0, r.dict.n) == NULL;
			r.have_dict = 1;
			continue;
		}
		if (h.type != CL_PQF_DATA_PAGE && h.type != CL_PQF_DATA_PAGE_V2)
			continue; /* index pages and the like */
		size_t n = (size_t)h.num_values;
		if ((int64_t)n > c->num_values - seen) {
			rc = corrupt(&r, "more entries in its pages than in its chunk");
			break;
		}
		if (!sc->defs || n > sc->lev_cap) {
			/* the levels of one page at a time */
			uint8_t *nd = cl_realloc(sc->defs, n + 1);
			uint8_t *nr = nd ? cl_realloc(sc->reps, n + 1) : NULL;
			if (nd)
				sc->defs = nd;
			if (nr)
				sc->reps = nr;
			if (!nd || !nr) {
				rc = CL_ENOMEM;
				break;
			}
			sc->lev_cap = n;
		}
		uint8_t *dl = sc->defs, *rl = sc->reps;
		struct in vb;
		const uint8_t *page;
		if (h.type == CL_PQF_DATA_PAGE) {
			if ((rc = inflate_page(&r, c->codec, body, (size_t)h.csize, (size_t)h.usize,
					       &page)))
				break;
			struct in pb = { page, page + h.usize };
			for (int pass = 0; rc == 0 && pass < 2; pass++) {
				int max = pass == 0 ? r.leaf->max_rep : r.leaf->max_def;
				uint8_t *lv = pass == 0 ? rl : dl;
				if (max == 0) {
					memset(lv, pass == 0 ? 0 : 0, n);
					continue;
				}
				if ((pass == 0 ? h.rep_enc : h.def_enc) != CL_PQF_RLE) {
					rc = cl_error_set(CL_ENOTSUP, "column '%s' uses BIT_PACKED levels, "
							  "which carelake does not read", r.leaf->name);
					break;
				}
				uint32_t len;
				if (!left(&pb, 4)) {
					rc = corrupt(&r, "levels without their length");
					break;
				}
				memcpy(&len, pb.p, 4);
				pb.p += 4;
				if (!left(&pb, len)) {
					rc = corrupt(&r, "levels run past their page");
					break;
				}
				struct in lb = { pb.p, pb.p + len };
				rc = levels(&r, &lb, max, lv, n);
				pb.p += len;
			}
			vb = pb;
		} else {
			if (h.def_len < 0 || h.rep_len < 0 ||
			    (int64_t)h.def_len + h.rep_len > h.csize ||
			    (int64_t)h.def_len + h.rep_len > h.usize) {
				rc = corrupt(&r, "v2 page level lengths exceed the page");
				break;
			}
			struct in lb = { body, body + h.rep_len };
			if (r.leaf->max_rep)
				rc = levels(&r, &lb, r.leaf->max_rep, rl, n);
			else
				memset(rl, 0, n);
			lb = (struct in){ body + h.rep_len, body + h.rep_len + h.def_len };
			if (rc == 0 && r.leaf->max_def)
				rc = levels(&r, &lb, r.leaf->max_def, dl, n);
			else if (rc == 0)
				memset(dl, 0, n);
			if (rc)
				break;
			size_t lev = (size_t)h.rep_len + (size_t)h.def_len;
			if (h.compressed) {
				rc = inflate_page(&r, c->codec, body + lev, (size_t)h.csize - lev,
						  (size_t)h.usize - lev, &page);
			} else {
				page = body + lev;
				if (h.csize != h.usize)
					rc = corrupt(&r, "an uncompressed v2 page whose sizes differ");
			}
			if (rc == 0)
				vb = (struct in){ page, page + (h.usize - (int32_t)lev) };
		}
		if (rc)
			break;
		size_t ndef = 0;
		const uint8_t max_def = (uint8_t)r.leaf->max_def;
		for (size_t i = 0; i < n; i++)
			ndef += dl[i] == max_def;
		if (!nested) {
			/* the values straight into the output, then spread over the
			 * entries that have one */
			size_t base = out->n;
			if (!cl_pq_type_size(out->type) && seen > 0 && out->data_len) {
				/* string bytes for the rest of the chunk at the length
				 * so far, so they are moved at most about once */
				double per = (double)out->data_len / (double)seen;
				double rest = per * (double)(c->num_values - seen) * 1.0625 + 64;
				if (rest < (double)(UINT32_MAX - out->data_len) &&
				    out->data_len + (size_t)rest > out->data_cap)
					cl_pq_vec_reserve_data(out, (size_t)rest);
			}
			if ((rc = cl_pq_vec_reserve(out, n)) ||
			    (rc = values(&r, &vb, h.encoding, out, ndef)))
				break;
			if (out->n != base + ndef) {
				rc = corrupt(&r, "a page holds fewer values than entries");
				break;
			}
			if (ndef != n)
				spread(out, base, n, ndef, dl, max_def);
			seen += (int64_t)n;
			continue;
		}
		cl_pq_vec_clear(&tmp);
		if ((rc = values(&r, &vb, h.encoding, &tmp, ndef)))
			break;
		/* spread the values over the entries that have one */
		size_t k = 0;
		for (size_t i = 0; i < n; i++) {
			if (dl[i] != r.leaf->max_def) {
				cl_pq_vec_push_null(out);
			} else {
				cl_pq_vec_push_from(out, &tmp, k++);
			}
			if (nested)
				cl_pq_vec_set_levels(out, dl[i], rl[i]);
		}
		if (out->err) {
			rc = out->err;
			break;
		}
		seen += (int64_t)n;
	}
	if (rc == 0 && seen != c->num_values)
		rc = corrupt(&r, "its pages hold fewer entries than its chunk says");
	cl_pq_vec_free(&tmp);
	cl_pq_vec_free(&r.dict);
	if (rc)
		cl_pq_vec_free(out);
	return rc;
}

int cl_pq_read_column(struct cl_pq_file *f, size_t rg, size_t leaf, struct cl_pq_vec *out)
{
	struct scratch sc = { 0 };
	cl_pq_vec_init(out, CL_PQ_NONE);
	int rc = read_chunk(f, rg, leaf, out, &sc);
	scratch_free(&sc);
	return rc;
}

/* ---- several columns at once ------------------------------------------ */

/* A column to read, and the bytes of its chunk. */
struct job {
	int64_t len;
	size_t i;
};

/* Largest first: the long columns are started early, so that the threads
 * finish together. */
static int job_cmp(const void *a, const void *b)
{
	const struct job *x = a, *y = b;
	if (x->len != y->len)
		return x->len > y->len ? -1 : 1;
	return x->i < y->i ? -1 : x->i > y->i;
}

/* The columns of one cl_pq_read_columns() call, shared by its threads. */
struct colset {
	struct cl_pq_file *f;
	size_t rg;
	const size_t *leaves;        /* NULL: leaf i for column i */
	size_t n;
	struct cl_pq_vec *out;
	int *rc;                     /* per column */
	char (*err)[256];            /* per column: the detail of a failure */
	struct job *order;           /* the columns, largest chunk first */
	atomic_size_t next;          /* the next of them to take */
};

static void read_set(struct colset *s)
{
	struct scratch sc = { 0 };
	for (;;) {
		size_t k = atomic_fetch_add(&s->next, 1);
		if (k >= s->n)
			break;
		size_t i = s->order[k].i;
		s->rc[i] = read_chunk(s->f, s->rg, s->leaves ? s->leaves[i] : i, &s->out[i], &sc);
		if (s->rc[i])
			snprintf(s->err[i], sizeof(s->err[i]), "%s", cl_error_detail());
	}
	scratch_free(&sc);
}

static void *read_thread(void *arg)
{
	read_set(arg);
	return NULL;
}

int cl_pq_read_columns(struct cl_pq_file *f, size_t rg, const size_t *leaves, size_t n,
		       struct cl_pq_vec *out, int threads)
{
	pthread_t tid[MAX_READ_THREADS];
	int started = 0, rc = 0;

	if (n == 0)
		return 0;
	struct colset s = { .f = f, .rg = rg, .leaves = leaves, .n = n, .out = out };
	s.rc = cl_calloc(n, sizeof(*s.rc));
	s.err = cl_calloc(n, sizeof(*s.err));
	s.order = cl_calloc(n, sizeof(*s.order));
	if (!s.rc || !s.err || !s.order) {
		cl_free(s.rc);
		cl_free(s.err);
		cl_free(s.order);
		return CL_ENOMEM;
	}
	for (size_t i = 0; i < n; i++) {
		size_t leaf = leaves ? leaves[i] : i;
		s.order[i].i = i;
		s.order[i].len = rg < f->nrg && leaf < f->nleaves ? f->chunks[rg * f->nleaves + leaf].len
								  : 0;
	}
	qsort(s.order, n, sizeof(*s.order), job_cmp);
	atomic_init(&s.next, 0);
	if (threads <= 0) {
		long cpus = sysconf(_SC_NPROCESSORS_ONLN);
		threads = cpus > 0 ? (int)cpus : 1;
	}
	if (threads > MAX_READ_THREADS)
		threads = MAX_READ_THREADS;
	if ((size_t)threads > n)
		threads = (int)n;
	/* this thread and up to threads-1 helpers; fewer if they cannot start */
	for (int t = 1; t < threads; t++) {
		if (cl_thread_create(&tid[started], "cl-pq-read", read_thread, &s) != CL_OK)
			break;
		started++;
	}
	read_set(&s);
	for (int t = 0; t < started; t++)
		pthread_join(tid[t], NULL);
	for (size_t i = 0; i < n && !rc; i++)
		if (s.rc[i])
			rc = cl_error_set(s.rc[i], "%s", s.err[i]);
	if (rc)
		for (size_t i = 0; i < n; i++)
			cl_pq_vec_free(&out[i]);
	cl_free(s.rc);
	cl_free(s.err);
	cl_free(s.order);
	return rc;
}
