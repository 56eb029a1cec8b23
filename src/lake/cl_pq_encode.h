/*
 * cl_pq_encode.h — encoding one Parquet column chunk into pages in memory:
 * statistics, dictionary, RLE/bit-packed levels and indices, PLAIN values,
 * page headers and compression. Used by the writer (cl_pq_write.c), which
 * runs several encoders at once, one per column, and writes their output
 * in schema order.
 */
#ifndef CL_PQ_ENCODE_H
#define CL_PQ_ENCODE_H

#include <stddef.h>
#include <stdint.h>
#include <stdbool.h>

#include "lake/cl_parquet.h"

/* A growable byte buffer. */
struct cl_pq_buf {
	uint8_t *p;
	size_t len, cap;
};

int cl_pq_buf_reserve(struct cl_pq_buf *b, size_t n);
int cl_pq_buf_put(struct cl_pq_buf *b, const void *p, size_t n);
void cl_pq_buf_free(struct cl_pq_buf *b);

/* The scratch memory of one encoding thread, reused chunk after chunk. */
struct cl_pq_enc {
	struct cl_pq_buf page;   /* one uncompressed page */
	struct cl_pq_buf levels; /* levels widened to 32 bits */
	struct cl_pq_buf comp;   /* one compressed page */
	uint32_t *idx;           /* dictionary index of each defined value */
	size_t idx_cap;
	uint32_t *slots;         /* dictionary hash table */
	size_t slots_cap;
	size_t *dict_pos;        /* entry slot of each dictionary value */
	uint64_t *dict_hash;     /* and its hash */
	size_t dict_pos_cap;     /* entries allocated in both */
};

/* How to encode. */
struct cl_pq_enc_opts {
	int codec;               /* CL_PQF_* */
	int level;               /* zstd level */
	size_t page_bytes;       /* target uncompressed values per data page */
};

/* One encoded column chunk: its pages and what the footer says of it. */
struct cl_pq_chunk {
	struct cl_pq_buf out;    /* the pages, ready to write */
	int64_t num_values;      /* entries, nulls included */
	int64_t uncompressed;    /* page bytes before compression, headers included */
	int64_t compressed;      /* == out.len */
	int64_t data_offset;     /* first data page, from the start of out */
	int64_t dict_offset;     /* dictionary page, from the start of out; -1: none */
	bool dict;               /* data pages are RLE_DICTIONARY */
	int64_t nulls;           /* entries without a value */
	struct cl_pq_buf min, max; /* PLAIN-encoded bounds; empty when unknown */
	/* typed bounds, for the writer's file-wide statistics */
	bool has_minmax;
	int64_t min_i, max_i;    /* BOOL, INT32, INT64, DATE, TIMESTAMP */
	double min_d, max_d;     /* FLOAT, DOUBLE */
	size_t min_slot, max_slot; /* STRING/BINARY: entries holding the bounds */
};

/* Encodes the entries of `v` (a leaf with `max_def`/`max_rep`) as one
 * column chunk into `c`, whose buffers are reused. */
int cl_pq_encode_chunk(struct cl_pq_enc *e, const struct cl_pq_vec *v, int max_def, int max_rep,
		       const struct cl_pq_enc_opts *o, struct cl_pq_chunk *c);
void cl_pq_enc_free(struct cl_pq_enc *e);
void cl_pq_chunk_free(struct cl_pq_chunk *c);

#endif
