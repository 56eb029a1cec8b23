/*
 * cl_pq_file.h — the reader's view of an open Parquet file, shared by
 * opening (cl_pq_read.c), page decoding (cl_pq_decode.c) and record
 * assembly (cl_pq_records.c).
 */
#ifndef CL_PQ_FILE_H
#define CL_PQ_FILE_H

#include <stddef.h>
#include <stdint.h>

#include "lake/cl_parquet.h"

/* A schema element with what the reader derives from it. */
struct cl_pq_rnode {
	char *name;
	int physical;            /* -1 for a group */
	int type_length;
	int repetition;
	int nchildren;
	int converted;           /* -1: none */
	int logical;             /* LogicalType field id, 0: none */
	int ts_unit;             /* TIMESTAMP: 1 millis, 2 micros, 3 nanos */
	int parent;              /* index, -1 for top level */
	int def, rep;            /* levels reached at this node */
	int leaf;                /* leaf index, or -1 */
	const char *why;         /* a leaf carelake cannot read: what it uses */
};

/* Where one column chunk is. */
struct cl_pq_rchunk {
	int64_t start, len;      /* bytes of its pages in the file */
	int64_t num_values;
	int codec;
	int external;            /* lives in another file */
};

struct cl_pq_file {
	const uint8_t *base;
	size_t size;
	int mapped;
	struct cl_pq_rnode *rn;
	struct cl_pq_node *nodes;
	size_t nnodes;
	struct cl_pq_leaf *leaves;
	size_t *leaf_node;
	size_t nleaves;
	int64_t num_rows;
	size_t nrg;
	int64_t *rg_rows;
	struct cl_pq_rchunk *chunks;   /* nrg * nleaves */
	char **kv;               /* key, value, ... */
	size_t nkv;
	char *created_by;
};

/* The most entries one column chunk of this file may claim. */
int64_t cl_pq_max_entries(const struct cl_pq_file *f);

#endif
