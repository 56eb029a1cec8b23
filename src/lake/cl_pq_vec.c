/*
 * cl_pq_vec.c — column vectors: the growable buffers the Parquet writer
 * fills and the reader returns (see cl_parquet.h).
 *
 * Growth doubles; the first error (out of memory, or string data past the
 * 4 GiB a vector's 32-bit offsets can address) sticks in `err` and later
 * pushes do nothing, so a caller checks once per batch.
 */
#include "lake/cl_parquet.h"

#include <string.h>

#include "core/cl_error.h"
#include "core/cl_mem.h"

size_t cl_pq_type_size(enum cl_pq_type t)
{
	switch (t) {
	case CL_PQ_BOOL: return 1;
	case CL_PQ_INT32:
	case CL_PQ_DATE:
	case CL_PQ_FLOAT: return 4;
	case CL_PQ_INT64:
	case CL_PQ_TIMESTAMP:
	case CL_PQ_DOUBLE: return 8;
	default: return 0; /* strings keep offsets instead */
	}
}

void cl_pq_vec_init(struct cl_pq_vec *v, enum cl_pq_type type)
{
	memset(v, 0, sizeof(*v));
	v->type = type;
}

void cl_pq_vec_clear(struct cl_pq_vec *v)
{
	v->n = 0;
	v->data_len = 0;
	v->err = 0;
	if (v->off)
		v->off[0] = 0;
}

void cl_pq_vec_free(struct cl_pq_vec *v)
{
	if (!v)
		return;
	cl_free(v->valid);
	cl_free(v->v.raw);
	cl_free(v->off);
	cl_free(v->data);
	cl_free(v->def);
	cl_free(v->rep);
	enum cl_pq_type t = v->type;
	cl_pq_vec_init(v, t);
}

/* Makes room for `extra` more entries, doubling. */
static bool ensure(struct cl_pq_vec *v, size_t extra)
{
	if (v->err)
		return false;
	if (v->cap - v->n >= extra)
		return true;
	size_t cap = v->cap ? v->cap * 2 : 1024;
	while (cap - v->n < extra)
		cap *= 2;
	uint8_t *valid = cl_realloc(v->valid, cap);
	if (!valid)
		goto nomem;
	v->valid = valid;
	size_t vs = cl_pq_type_size(v->type);
	if (vs) {
		void *raw = cl_realloc(v->v.raw, cap * vs);
		if (!raw)
			goto nomem;
		v->v.raw = raw;
	} else {
		uint32_t *off = cl_realloc(v->off, (cap + 1) * sizeof(*off));
		if (!off)
			goto nomem;
		if (!v->off)
			off[0] = 0;
		v->off = off;
	}
	if (v->def) {
		uint8_t *def = cl_realloc(v->def, cap), *rep;
		if (!def)
			goto nomem;
		v->def = def;
		rep = cl_realloc(v->rep, cap);
		if (!rep)
			goto nomem;
		v->rep = rep;
	}
	v->cap = cap;
	return true;
nomem:
	v->err = CL_ENOMEM;
	return false;
}

static bool grow(struct cl_pq_vec *v)
{
	return ensure(v, 1);
}

int cl_pq_vec_reserve(struct cl_pq_vec *v, size_t n)
{
	ensure(v, n);
	return v->err;
}

int cl_pq_vec_reserve_data(struct cl_pq_vec *v, size_t bytes)
{
	if (v->err)
		return v->err;
	if (bytes > UINT32_MAX - v->data_len)
		return v->err = CL_ETOOBIG;
	if (v->data_len + bytes <= v->data_cap)
		return 0;
	/* doubling, or straight to a larger need */
	size_t cap = v->data_cap ? v->data_cap * 2 : 4096;
	if (cap < v->data_len + bytes)
		cap = v->data_len + bytes;
	char *d = cl_realloc(v->data, cap);
	if (!d)
		return v->err = CL_ENOMEM;
	v->data = d;
	v->data_cap = cap;
	return 0;
}

void cl_pq_vec_push_null(struct cl_pq_vec *v)
{
	if (!grow(v))
		return;
	if (v->off)
		v->off[v->n + 1] = v->off[v->n];
	v->valid[v->n++] = 0;
}

#define PUSH(field, x)                  \
	do {                                \
		if (!grow(v))                   \
			return;                     \
		v->v.field[v->n] = (x);         \
		v->valid[v->n++] = 1;           \
	} while (0)

void cl_pq_vec_push_bool(struct cl_pq_vec *v, bool x) { PUSH(b, x ? 1 : 0); }
void cl_pq_vec_push_i32(struct cl_pq_vec *v, int32_t x) { PUSH(i32, x); }
void cl_pq_vec_push_i64(struct cl_pq_vec *v, int64_t x) { PUSH(i64, x); }
void cl_pq_vec_push_f32(struct cl_pq_vec *v, float x) { PUSH(f32, x); }
void cl_pq_vec_push_f64(struct cl_pq_vec *v, double x) { PUSH(f64, x); }

void cl_pq_vec_push_str(struct cl_pq_vec *v, const char *s, size_t n)
{
	if (!grow(v))
		return;
	if (cl_pq_vec_reserve_data(v, n))
		return;
	if (n)
		memcpy(v->data + v->data_len, s, n);
	v->data_len += n;
	v->off[v->n + 1] = (uint32_t)v->data_len;
	v->valid[v->n++] = 1;
}

void cl_pq_vec_push_from(struct cl_pq_vec *dst, const struct cl_pq_vec *src, size_t i)
{
	if (!src->valid[i]) {
		cl_pq_vec_push_null(dst);
		return;
	}
	switch (src->type) {
	case CL_PQ_BOOL: cl_pq_vec_push_bool(dst, src->v.b[i]); break;
	case CL_PQ_INT32:
	case CL_PQ_DATE: cl_pq_vec_push_i32(dst, src->v.i32[i]); break;
	case CL_PQ_INT64:
	case CL_PQ_TIMESTAMP: cl_pq_vec_push_i64(dst, src->v.i64[i]); break;
	case CL_PQ_FLOAT: cl_pq_vec_push_f32(dst, src->v.f32[i]); break;
	case CL_PQ_DOUBLE: cl_pq_vec_push_f64(dst, src->v.f64[i]); break;
	default: {
		size_t len;
		const char *str = cl_pq_vec_str(src, i, &len);
		cl_pq_vec_push_str(dst, str, len);
	}
	}
}

void cl_pq_vec_set_levels(struct cl_pq_vec *v, uint8_t def, uint8_t rep)
{
	if (v->err || v->n == 0)
		return;
	if (!v->def) {
		v->def = cl_calloc(v->cap, 1);
		v->rep = cl_calloc(v->cap, 1);
		if (!v->def || !v->rep) {
			v->err = CL_ENOMEM;
			return;
		}
	}
	v->def[v->n - 1] = def;
	v->rep[v->n - 1] = rep;
}
