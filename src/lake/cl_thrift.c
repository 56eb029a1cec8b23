/*
 * cl_thrift.c — the Thrift compact protocol (see cl_thrift.h).
 *
 * Field headers carry the id as a delta from the previous field of the
 * same struct when it fits in four bits, otherwise as a zigzag i16 after
 * the type byte. Integers are zigzag varints; lists carry their count in
 * the high nibble of the header when it is below 15.
 */
#include "lake/cl_thrift.h"

#include <string.h>

#include "core/cl_error.h"
#include "core/cl_mem.h"

/* ---- writing ---------------------------------------------------------- */

static void tw_reserve(struct cl_tw *w, size_t n)
{
	if (w->err || w->len + n <= w->cap)
		return;
	size_t cap = w->cap ? w->cap : 256;
	while (cap < w->len + n)
		cap *= 2;
	uint8_t *b = cl_realloc(w->buf, cap);
	if (!b) {
		w->err = CL_ENOMEM;
		return;
	}
	w->buf = b;
	w->cap = cap;
}

static void tw_byte(struct cl_tw *w, uint8_t b)
{
	tw_reserve(w, 1);
	if (!w->err)
		w->buf[w->len++] = b;
}

static void tw_varint(struct cl_tw *w, uint64_t v)
{
	tw_reserve(w, 10);
	if (w->err)
		return;
	while (v >= 0x80) {
		w->buf[w->len++] = (uint8_t)(v | 0x80);
		v >>= 7;
	}
	w->buf[w->len++] = (uint8_t)v;
}

static uint64_t zigzag(int64_t v)
{
	return ((uint64_t)v << 1) ^ (uint64_t)(v >> 63);
}

void cl_tw_reset(struct cl_tw *w)
{
	w->len = 0;
	w->depth = 0;
	w->last[0] = 0;
	w->err = 0;
}

void cl_tw_free(struct cl_tw *w)
{
	cl_free(w->buf);
	memset(w, 0, sizeof(*w));
}

void cl_tw_field(struct cl_tw *w, int16_t id, enum cl_thrift_type type)
{
	int16_t last = w->last[w->depth];
	if (id > last && id - last <= 15) {
		tw_byte(w, (uint8_t)(((id - last) << 4) | type));
	} else {
		tw_byte(w, (uint8_t)type);
		tw_varint(w, zigzag(id));
	}
	w->last[w->depth] = id;
}

void cl_tw_i32(struct cl_tw *w, int16_t id, int32_t v)
{
	cl_tw_field(w, id, CL_TT_I32);
	tw_varint(w, zigzag(v));
}

void cl_tw_i64(struct cl_tw *w, int16_t id, int64_t v)
{
	cl_tw_field(w, id, CL_TT_I64);
	tw_varint(w, zigzag(v));
}

void cl_tw_bool(struct cl_tw *w, int16_t id, bool v)
{
	cl_tw_field(w, id, v ? CL_TT_TRUE : CL_TT_FALSE);
}

void cl_tw_elem_binary(struct cl_tw *w, const void *p, size_t n)
{
	tw_varint(w, n);
	tw_reserve(w, n);
	if (w->err)
		return;
	if (n)
		memcpy(w->buf + w->len, p, n);
	w->len += n;
}

void cl_tw_binary(struct cl_tw *w, int16_t id, const void *p, size_t n)
{
	cl_tw_field(w, id, CL_TT_BINARY);
	cl_tw_elem_binary(w, p, n);
}

void cl_tw_string(struct cl_tw *w, int16_t id, const char *s)
{
	cl_tw_binary(w, id, s, strlen(s));
}

static void tw_push(struct cl_tw *w)
{
	if (w->depth + 1 >= CL_THRIFT_MAX_DEPTH) {
		w->err = CL_EINVAL;
		return;
	}
	w->last[++w->depth] = 0;
}

void cl_tw_struct_begin(struct cl_tw *w, int16_t id)
{
	cl_tw_field(w, id, CL_TT_STRUCT);
	tw_push(w);
}

void cl_tw_elem_struct_begin(struct cl_tw *w)
{
	tw_push(w);
}

void cl_tw_struct_end(struct cl_tw *w)
{
	tw_byte(w, CL_TT_STOP);
	if (w->depth > 0)
		w->depth--;
}

void cl_tw_list_begin(struct cl_tw *w, int16_t id, enum cl_thrift_type elem, size_t n)
{
	cl_tw_field(w, id, CL_TT_LIST);
	if (n < 15) {
		tw_byte(w, (uint8_t)((n << 4) | elem));
	} else {
		tw_byte(w, (uint8_t)(0xf0 | elem));
		tw_varint(w, n);
	}
}

void cl_tw_elem_i32(struct cl_tw *w, int32_t v)
{
	tw_varint(w, zigzag(v));
}

void cl_tw_elem_i64(struct cl_tw *w, int64_t v)
{
	tw_varint(w, zigzag(v));
}

void cl_tw_stop(struct cl_tw *w)
{
	tw_byte(w, CL_TT_STOP);
}

/* ---- reading ---------------------------------------------------------- */

void cl_tr_init(struct cl_tr *r, const void *p, size_t n)
{
	r->p = p;
	r->end = r->p + n;
	r->depth = 0;
	r->last[0] = 0;
	r->err = 0;
}

static void tr_fail(struct cl_tr *r)
{
	if (!r->err)
		r->err = CL_ECORRUPT;
	r->p = r->end;
}

static uint8_t tr_byte(struct cl_tr *r)
{
	if (r->p >= r->end) {
		tr_fail(r);
		return 0;
	}
	return *r->p++;
}

static uint64_t tr_varint(struct cl_tr *r)
{
	uint64_t v = 0;
	for (int shift = 0; shift < 64; shift += 7) {
		uint8_t b = tr_byte(r);
		if (r->err)
			return 0;
		v |= (uint64_t)(b & 0x7f) << shift;
		if (!(b & 0x80))
			return v;
	}
	tr_fail(r);
	return 0;
}

static int64_t unzigzag(uint64_t v)
{
	return (int64_t)(v >> 1) ^ -(int64_t)(v & 1);
}

void cl_tr_struct_begin(struct cl_tr *r)
{
	if (r->depth + 1 >= CL_THRIFT_MAX_DEPTH) {
		tr_fail(r);
		return;
	}
	r->last[++r->depth] = 0;
}

void cl_tr_struct_end(struct cl_tr *r)
{
	if (r->depth > 0)
		r->depth--;
}

bool cl_tr_field(struct cl_tr *r, int16_t *id, enum cl_thrift_type *type)
{
	uint8_t b = tr_byte(r);
	if (r->err || b == CL_TT_STOP)
		return false;
	uint8_t delta = b >> 4;
	int16_t fid;
	if (delta)
		fid = (int16_t)(r->last[r->depth] + delta);
	else
		fid = (int16_t)unzigzag(tr_varint(r));
	*type = (enum cl_thrift_type)(b & 0x0f);
	if (*type > CL_TT_STRUCT) {
		tr_fail(r);
		return false;
	}
	r->last[r->depth] = fid;
	*id = fid;
	return !r->err;
}

int32_t cl_tr_i32(struct cl_tr *r)
{
	return (int32_t)unzigzag(tr_varint(r));
}

int64_t cl_tr_i64(struct cl_tr *r)
{
	return unzigzag(tr_varint(r));
}

double cl_tr_double(struct cl_tr *r)
{
	double d = 0;
	if (r->end - r->p < 8) {
		tr_fail(r);
		return 0;
	}
	memcpy(&d, r->p, 8); /* little-endian in the compact protocol */
	r->p += 8;
	return d;
}

const uint8_t *cl_tr_binary(struct cl_tr *r, size_t *n)
{
	uint64_t len = tr_varint(r);
	if (r->err || len > (uint64_t)(r->end - r->p)) {
		tr_fail(r);
		*n = 0;
		return (const uint8_t *)"";
	}
	const uint8_t *p = r->p;
	r->p += len;
	*n = (size_t)len;
	return p;
}

size_t cl_tr_list(struct cl_tr *r, enum cl_thrift_type *elem)
{
	uint8_t b = tr_byte(r);
	uint64_t n = b >> 4;
	*elem = (enum cl_thrift_type)(b & 0x0f);
	if (n == 15)
		n = tr_varint(r);
	/* every element takes at least one byte, except bools packed... which
	 * also take one byte each in the compact protocol */
	if (r->err || n > (uint64_t)(r->end - r->p) || *elem > CL_TT_STRUCT) {
		tr_fail(r);
		return 0;
	}
	return (size_t)n;
}

bool cl_tr_elem_bool(struct cl_tr *r)
{
	return tr_byte(r) == CL_TT_TRUE;
}

void cl_tr_skip(struct cl_tr *r, enum cl_thrift_type type)
{
	if (r->err)
		return;
	switch (type) {
	case CL_TT_TRUE:
	case CL_TT_FALSE:
		return; /* the value was in the field header */
	case CL_TT_BYTE:
		tr_byte(r);
		return;
	case CL_TT_I16:
	case CL_TT_I32:
	case CL_TT_I64:
		tr_varint(r);
		return;
	case CL_TT_DOUBLE:
		cl_tr_double(r);
		return;
	case CL_TT_BINARY: {
		size_t n;
		cl_tr_binary(r, &n);
		return;
	}
	case CL_TT_LIST:
	case CL_TT_SET: {
		enum cl_thrift_type elem;
		size_t n = cl_tr_list(r, &elem);
		if (r->depth + 1 >= CL_THRIFT_MAX_DEPTH) {
			tr_fail(r);
			return;
		}
		r->depth++; /* bounds recursion through nested lists */
		r->last[r->depth] = 0;
		for (size_t i = 0; i < n && !r->err; i++) {
			if (elem == CL_TT_TRUE || elem == CL_TT_FALSE)
				tr_byte(r);
			else
				cl_tr_skip(r, elem);
		}
		r->depth--;
		return;
	}
	case CL_TT_MAP: {
		uint64_t n = tr_varint(r);
		if (n == 0)
			return;
		uint8_t kv = tr_byte(r);
		if (r->err || n > (uint64_t)(r->end - r->p) || r->depth + 1 >= CL_THRIFT_MAX_DEPTH) {
			tr_fail(r);
			return;
		}
		r->depth++;
		r->last[r->depth] = 0;
		for (uint64_t i = 0; i < n && !r->err; i++) {
			enum cl_thrift_type kt = kv >> 4, vt = kv & 0x0f;
			if (kt == CL_TT_TRUE || kt == CL_TT_FALSE)
				tr_byte(r);
			else
				cl_tr_skip(r, kt);
			if (vt == CL_TT_TRUE || vt == CL_TT_FALSE)
				tr_byte(r);
			else
				cl_tr_skip(r, vt);
		}
		r->depth--;
		return;
	}
	case CL_TT_STRUCT: {
		cl_tr_struct_begin(r);
		int16_t id;
		enum cl_thrift_type t;
		while (cl_tr_field(r, &id, &t))
			cl_tr_skip(r, t);
		cl_tr_struct_end(r);
		return;
	}
	default:
		tr_fail(r);
	}
}
