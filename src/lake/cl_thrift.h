/*
 * cl_thrift.h — the Thrift compact protocol, as Parquet uses it for its
 * footer and page headers.
 *
 * Only what Parquet metadata needs: structs, lists, i32/i64 (zigzag
 * varints), binary, bool and double. The writer appends to a growable
 * buffer; the reader walks a bounded byte range and never reads past it,
 * nests at most CL_THRIFT_MAX_DEPTH deep, and can skip any field it does
 * not know, which is how newer files stay readable.
 */
#ifndef CL_THRIFT_H
#define CL_THRIFT_H

#include <stddef.h>
#include <stdint.h>
#include <stdbool.h>

#define CL_THRIFT_MAX_DEPTH 32

/* Compact-protocol type codes, as they appear in field headers. */
enum cl_thrift_type {
	CL_TT_STOP = 0,
	CL_TT_TRUE = 1,
	CL_TT_FALSE = 2,
	CL_TT_BYTE = 3,
	CL_TT_I16 = 4,
	CL_TT_I32 = 5,
	CL_TT_I64 = 6,
	CL_TT_DOUBLE = 7,
	CL_TT_BINARY = 8,
	CL_TT_LIST = 9,
	CL_TT_SET = 10,
	CL_TT_MAP = 11,
	CL_TT_STRUCT = 12,
};

/* ---- writing ---------------------------------------------------------- */

/* An output buffer and the last field id of each open struct. */
struct cl_tw {
	uint8_t *buf;        /* bytes written so far (cl_malloc'd) */
	size_t len;          /* bytes used */
	size_t cap;          /* bytes allocated */
	int depth;           /* open structs */
	int16_t last[CL_THRIFT_MAX_DEPTH]; /* last field id per open struct */
	int err;             /* first error (CL_ENOMEM), sticky */
};

/* Resets `w` to empty, keeping its buffer. */
void cl_tw_reset(struct cl_tw *w);
/* Frees the buffer. */
void cl_tw_free(struct cl_tw *w);

/* Writes a field header for field `id` of compact type `type`. */
void cl_tw_field(struct cl_tw *w, int16_t id, enum cl_thrift_type type);
/* A whole field of each kind: header and value. */
void cl_tw_i32(struct cl_tw *w, int16_t id, int32_t v);
void cl_tw_i64(struct cl_tw *w, int16_t id, int64_t v);
void cl_tw_bool(struct cl_tw *w, int16_t id, bool v);
void cl_tw_binary(struct cl_tw *w, int16_t id, const void *p, size_t n);
void cl_tw_string(struct cl_tw *w, int16_t id, const char *s);
/* Opens field `id` as a struct; close it with cl_tw_struct_end(). */
void cl_tw_struct_begin(struct cl_tw *w, int16_t id);
/* Writes the stop byte of the innermost struct and closes it. */
void cl_tw_struct_end(struct cl_tw *w);
/* Opens field `id` as a list of `n` elements of type `elem`. */
void cl_tw_list_begin(struct cl_tw *w, int16_t id, enum cl_thrift_type elem, size_t n);
/* Elements of a list: a struct element (close with cl_tw_struct_end()),
 * an i32/i64 element, a binary element. */
void cl_tw_elem_struct_begin(struct cl_tw *w);
void cl_tw_elem_i32(struct cl_tw *w, int32_t v);
void cl_tw_elem_i64(struct cl_tw *w, int64_t v);
void cl_tw_elem_binary(struct cl_tw *w, const void *p, size_t n);
/* Writes the stop byte of a top-level struct (the message itself). */
void cl_tw_stop(struct cl_tw *w);

/* ---- reading ---------------------------------------------------------- */

/* A bounded input and the last field id of each open struct. */
struct cl_tr {
	const uint8_t *p;    /* next byte */
	const uint8_t *end;  /* one past the last byte */
	int depth;           /* open structs */
	int16_t last[CL_THRIFT_MAX_DEPTH];
	int err;             /* first error (CL_ECORRUPT), sticky */
};

/* Starts reading `n` bytes at `p`. */
void cl_tr_init(struct cl_tr *r, const void *p, size_t n);
/* Enters a struct (the message, or a field/element of type STRUCT). */
void cl_tr_struct_begin(struct cl_tr *r);
void cl_tr_struct_end(struct cl_tr *r);
/* Reads the next field header of the innermost struct. Returns false at
 * its stop byte (or on error); otherwise sets *id and *type. For a bool
 * field the value is in the type: CL_TT_TRUE or CL_TT_FALSE. */
bool cl_tr_field(struct cl_tr *r, int16_t *id, enum cl_thrift_type *type);
/* Values. Each returns 0 (or an empty string) after an error. */
int32_t cl_tr_i32(struct cl_tr *r);
int64_t cl_tr_i64(struct cl_tr *r);
double cl_tr_double(struct cl_tr *r);
/* A binary value: points into the input, sets *n. */
const uint8_t *cl_tr_binary(struct cl_tr *r, size_t *n);
/* A list header: returns the element count and sets *elem. Counts larger
 * than the bytes left are an error. */
size_t cl_tr_list(struct cl_tr *r, enum cl_thrift_type *elem);
/* Reads a bool list element. */
bool cl_tr_elem_bool(struct cl_tr *r);
/* Skips a value of type `type` (any depth, bounded). */
void cl_tr_skip(struct cl_tr *r, enum cl_thrift_type type);

#endif
