/*
 * cl_parquet.h — Parquet files: a writer for carelake's column types and a
 * reader for the files it writes and the ordinary files other engines write.
 *
 * Data moves in column vectors (struct cl_pq_vec): one slot per entry, a
 * validity byte per slot, and for nested columns the Dremel definition and
 * repetition levels beside them. A flat column (no repeated ancestor) has
 * one entry per row.
 *
 * The writer takes a schema of leaf columns (flat tables) or a tree of
 * nodes (nested records, e.g. Delta checkpoints), buffers a row group in
 * its own vectors which the caller fills with cl_pq_vec_push_*(), and
 * writes row groups of dictionary- or plain-encoded pages compressed with
 * zstd, snappy or nothing, with min/max/null statistics.
 *
 * The reader maps a file, checks its footer, and reads one column chunk at
 * a time into a vector, or whole nested records as JSON (jansson) objects.
 * Anything it cannot read gets CL_ENOTSUP with a detail naming the feature
 * and the column; it never reads outside the file.
 */
#ifndef CL_PARQUET_H
#define CL_PARQUET_H

#include <stddef.h>
#include <stdint.h>
#include <stdbool.h>

#include <jansson.h>

/* A column's type as carelake sees it. */
enum cl_pq_type {
	CL_PQ_NONE = 0,   /* a group (nested node), not a leaf */
	CL_PQ_BOOL,       /* BOOLEAN */
	CL_PQ_INT32,      /* INT32, plain or INT_8/16/32, UINT_8/16 */
	CL_PQ_INT64,      /* INT64, plain or INT_64, UINT_32 */
	CL_PQ_FLOAT,      /* FLOAT */
	CL_PQ_DOUBLE,     /* DOUBLE */
	CL_PQ_STRING,     /* BYTE_ARRAY annotated UTF8 / STRING / ENUM / JSON */
	CL_PQ_BINARY,     /* BYTE_ARRAY or FIXED_LEN_BYTE_ARRAY without a text annotation */
	CL_PQ_DATE,       /* INT32 days since 1970-01-01 */
	CL_PQ_TIMESTAMP,  /* microseconds since 1970-01-01 UTC; the reader converts
	                     INT96 and milli/nanosecond timestamps to this */
};

/* Bytes of one value of a fixed-size type (a boolean: 1); 0 for strings
 * and binary, which keep offsets instead. */
size_t cl_pq_type_size(enum cl_pq_type t);

/* ---- column vectors ---------------------------------------------------- */

/* Entries of one leaf column. Values are positional: slot i holds entry i's
 * value when valid[i] is 1 and is undefined otherwise. */
struct cl_pq_vec {
	enum cl_pq_type type;
	size_t n;            /* entries */
	size_t cap;          /* slots allocated in the value array */
	uint8_t *valid;      /* 1 = value present, 0 = null; one per entry */
	union {
		uint8_t *b;      /* CL_PQ_BOOL: 0 or 1 */
		int32_t *i32;    /* INT32, DATE */
		int64_t *i64;    /* INT64, TIMESTAMP */
		float *f32;
		double *f64;
		void *raw;
	} v;
	uint32_t *off;       /* STRING/BINARY: n + 1 offsets into data */
	char *data;          /* STRING/BINARY bytes (not NUL-terminated) */
	size_t data_len;     /* bytes used in data */
	size_t data_cap;     /* bytes allocated for data */
	uint8_t *def;        /* nested only: definition level per entry, else NULL */
	uint8_t *rep;        /* nested only: repetition level per entry, else NULL */
	int err;             /* first push error (CL_ENOMEM/CL_ETOOBIG), sticky */
};

/* Prepares an empty vector of `type`. */
void cl_pq_vec_init(struct cl_pq_vec *v, enum cl_pq_type type);
/* Empties `v`, keeping its memory. */
void cl_pq_vec_clear(struct cl_pq_vec *v);
/* Frees what `v` holds. */
void cl_pq_vec_free(struct cl_pq_vec *v);
/* Makes room for `n` more entries of fixed-size values; returns 0 or
 * the vector's error. Fills of many values at once use it. */
int cl_pq_vec_reserve(struct cl_pq_vec *v, size_t n);
/* Makes room for `bytes` more bytes of string data; returns 0 or the
 * vector's error (CL_ETOOBIG past what 32-bit offsets address). */
int cl_pq_vec_reserve_data(struct cl_pq_vec *v, size_t bytes);
/* Appends one entry to a flat column. */
void cl_pq_vec_push_null(struct cl_pq_vec *v);
void cl_pq_vec_push_bool(struct cl_pq_vec *v, bool x);
void cl_pq_vec_push_i32(struct cl_pq_vec *v, int32_t x);  /* INT32, DATE */
void cl_pq_vec_push_i64(struct cl_pq_vec *v, int64_t x);  /* INT64, TIMESTAMP */
void cl_pq_vec_push_f32(struct cl_pq_vec *v, float x);
void cl_pq_vec_push_f64(struct cl_pq_vec *v, double x);
void cl_pq_vec_push_str(struct cl_pq_vec *v, const char *s, size_t n); /* STRING, BINARY */
/* Appends entry i of `src` (a null stays null) to `dst`, of the same type. */
void cl_pq_vec_push_from(struct cl_pq_vec *dst, const struct cl_pq_vec *src, size_t i);
/* Nested columns: after each push, gives the entry just pushed its
 * definition and repetition levels (a value has the leaf's max_def; a null
 * or an empty list has the level at which it stops being defined). */
void cl_pq_vec_set_levels(struct cl_pq_vec *v, uint8_t def, uint8_t rep);
/* String slot i of a STRING/BINARY vector. */
static inline const char *cl_pq_vec_str(const struct cl_pq_vec *v, size_t i, size_t *len)
{
	*len = v->off[i + 1] - v->off[i];
	return v->data ? v->data + v->off[i] : "";
}

/* ---- schema ------------------------------------------------------------ */

/* One node of a schema, in depth-first order (the Parquet SchemaElement
 * list without its root). A leaf has a type and no children. */
struct cl_pq_node {
	const char *name;
	enum cl_pq_type type;   /* CL_PQ_NONE for a group */
	int repetition;         /* CL_PQF_REQUIRED, _OPTIONAL or _REPEATED */
	int nchildren;          /* groups: direct children that follow */
	int converted;          /* -1, or a CL_PQF_CT_* annotation (LIST, MAP, ...) */
};

/* A leaf column of an open file, as the reader sees it. */
struct cl_pq_leaf {
	char *name;             /* dotted path from the root: "add.stats" */
	enum cl_pq_type type;
	int physical;           /* CL_PQF_* physical type */
	int type_length;        /* FIXED_LEN_BYTE_ARRAY length, else 0 */
	int max_def;            /* highest definition level */
	int max_rep;            /* highest repetition level (0: not repeated) */
	bool nullable;          /* max_def > 0 */
};

/* ---- writing ----------------------------------------------------------- */

enum cl_pq_codec {
	CL_PQ_CODEC_NONE = 0,
	CL_PQ_CODEC_SNAPPY = 1,
	CL_PQ_CODEC_ZSTD = 6,
};

/* How to write. Zero values take the defaults. */
struct cl_pq_write_opts {
	enum cl_pq_codec codec;   /* default CL_PQ_CODEC_NONE; carelake uses zstd */
	int level;                /* zstd level; default 3 (zstd's own default) */
	size_t row_group_rows;    /* rows per row group; default 1,048,576 */
	size_t page_bytes;        /* target uncompressed data page size; default 1 MiB */
	int threads;              /* columns encoded at once; default: CPUs online, at most 8 */
	bool background;          /* write a full row group on a thread of its own while the
	                             caller fills the next (twice the buffered rows in memory);
	                             its errors come from the next flushing call or close */
	const char *const *kv;    /* key-value metadata: key, value, key, value... */
	size_t nkv;               /* number of pairs */
	const char *created_by;   /* default "carelake <version>" */
	int mode;                 /* permissions of the new file; default 0600 */
};

/* Statistics of one leaf over the whole file, for Delta `add.stats`. */
struct cl_pq_colstats {
	int64_t nulls;            /* null entries */
	bool has_minmax;          /* false when every value was null */
	int64_t min_i, max_i;     /* BOOL, INT32, INT64, DATE, TIMESTAMP */
	double min_d, max_d;      /* FLOAT, DOUBLE (NaN never counted) */
	char *min_s, *max_s;      /* STRING: NUL-terminated, truncated to 32 bytes
	                             (max rounded up so it stays an upper bound) */
};

/* What a finished file holds. */
struct cl_pq_file_stats {
	int64_t rows;
	int64_t bytes;            /* file size */
	size_t ncols;             /* leaves */
	struct cl_pq_colstats *cols; /* one per leaf, in schema order */
};

struct cl_pq_writer;

/* Creates `path` (which must not exist) for a flat table of `n` leaf
 * columns; `nodes[i].repetition` says whether column i is nullable. */
int cl_pq_writer_open(struct cl_pq_writer **out, const char *path,
                      const struct cl_pq_node *cols, size_t n,
                      const struct cl_pq_write_opts *opts);
/* Creates `path` for a nested schema: `nodes` in depth-first order, the
 * root excluded. Leaves are numbered in that order. */
int cl_pq_writer_open_nested(struct cl_pq_writer **out, const char *path,
                             const struct cl_pq_node *nodes, size_t n,
                             const struct cl_pq_write_opts *opts);
/* The buffer of leaf column `i`, to push entries into. */
struct cl_pq_vec *cl_pq_writer_col(struct cl_pq_writer *w, size_t i);
/* Tells the writer `rows` more rows were pushed into every column; writes
 * a row group when enough are buffered. */
int cl_pq_writer_rows(struct cl_pq_writer *w, size_t rows);
/* Writes what is buffered and the footer, syncs and closes the file.
 * Fills `stats` when not NULL (free it with cl_pq_file_stats_free()).
 * The writer is freed whatever the result; on error the file is removed. */
int cl_pq_writer_close(struct cl_pq_writer *w, struct cl_pq_file_stats *stats);
/* Frees the writer and removes the partial file. NULL is a no-op. */
void cl_pq_writer_abort(struct cl_pq_writer *w);
void cl_pq_file_stats_free(struct cl_pq_file_stats *s);

/* ---- reading ----------------------------------------------------------- */

struct cl_pq_file;

/* Opens and maps `path`, reads and checks its footer and schema. */
int cl_pq_open(struct cl_pq_file **out, const char *path);
/* The same for a file already in memory (`buf` must outlive the handle). */
int cl_pq_open_mem(struct cl_pq_file **out, const void *buf, size_t len);
void cl_pq_close(struct cl_pq_file *f);

int64_t cl_pq_num_rows(const struct cl_pq_file *f);
size_t cl_pq_num_row_groups(const struct cl_pq_file *f);
int64_t cl_pq_row_group_rows(const struct cl_pq_file *f, size_t rg);
size_t cl_pq_num_leaves(const struct cl_pq_file *f);
const struct cl_pq_leaf *cl_pq_leaf(const struct cl_pq_file *f, size_t i);
/* The schema tree (depth-first, root excluded), for nested readers. */
size_t cl_pq_num_nodes(const struct cl_pq_file *f);
const struct cl_pq_node *cl_pq_node(const struct cl_pq_file *f, size_t i);
/* A key-value metadata value, or NULL. */
const char *cl_pq_kv(const struct cl_pq_file *f, const char *key);
/* The writer's `created_by`, or "". */
const char *cl_pq_created_by(const struct cl_pq_file *f);

/* CL_ENOTSUP, naming the first column under a repeated field (a list or a
 * map), when the file is not flat; 0 when every leaf is one value per row.
 * Structs of plain fields are flat: their leaves are dotted names. */
int cl_pq_check_flat(const struct cl_pq_file *f);
/* Reads leaf `leaf` of row group `rg` into `out` (initialised by the
 * reader; free with cl_pq_vec_free()). Nested leaves get levels. */
int cl_pq_read_column(struct cl_pq_file *f, size_t rg, size_t leaf, struct cl_pq_vec *out);
/* Reads `n` leaves of row group `rg` at once, leaf leaves[i] (leaf i when
 * `leaves` is NULL) into out[i], on up to `threads` threads (0: one per
 * CPU online, at most 8), one column at a time each. Each out[i] must be
 * initialised (cl_pq_vec_init()) or hold an earlier result of this
 * function, whose memory is reused: reading row group after row group
 * into the same vectors allocates next to nothing. On error every out[i]
 * is freed and the error is that of the first failing column, in order. */
int cl_pq_read_columns(struct cl_pq_file *f, size_t rg, const size_t *leaves, size_t n,
                       struct cl_pq_vec *out, int threads);
/* Reads every row of row group `rg` as a JSON object per row (structs as
 * objects, LIST as arrays, MAP as objects with string keys; nulls as JSON
 * null), appended to the array `rows`. Timestamps become integers of
 * microseconds; binary becomes a string when it is valid UTF-8. */
int cl_pq_read_records(struct cl_pq_file *f, size_t rg, json_t *rows);

/* Bytes as a JSON string: the text when it is valid UTF-8 (old writers
 * leave strings unannotated), else lowercase hex. */
json_t *cl_pq_bytes_json(const char *s, size_t len);

/* ---- codecs (cl_pq_codec.c) ------------------------------------------- */

/* Compresses `n` bytes of `src` with codec `codec` (CL_PQF_*) into a
 * buffer it grows as needed (*dst, *cap); sets *out_len. */
int cl_pq_compress(int codec, int level, const void *src, size_t n,
                   uint8_t **dst, size_t *cap, size_t *out_len);
/* Decompresses into `dst`, which must be exactly `dst_len` bytes (the
 * page's uncompressed size); anything else is CL_ECORRUPT. Knows
 * UNCOMPRESSED, SNAPPY, GZIP, ZSTD and LZ4_RAW; others are CL_ENOTSUP. */
int cl_pq_decompress(int codec, const void *src, size_t n, void *dst, size_t dst_len);
/* The name of a CL_PQF_* codec. */
const char *cl_pq_codec_name(int codec);

#endif
