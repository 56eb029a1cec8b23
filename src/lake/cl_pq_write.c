/*
 * cl_pq_write.c — the Parquet writer (see cl_parquet.h).
 *
 * Rows are buffered column by column in the writer's own vectors until a
 * row group is full. The row group's column chunks are then encoded in
 * memory (cl_pq_encode.c) by up to `threads` threads at once, one column
 * each, and written in schema order; the caller fills the next row group
 * after that — or, with opts.background, meanwhile: the full vectors are
 * swapped for a second set and written by a thread of their own, one row
 * group at a time and in order, its result reported by the next call that
 * flushes or by close. File-wide statistics are merged from the chunks'.
 *
 * The footer is the Thrift FileMetaData: the schema (with converted and
 * logical types), every row group's column chunks with their offsets,
 * encodings and statistics, key-value metadata, and the type-defined
 * column order that tells readers the min/max values are trustworthy.
 */
#include "lake/cl_parquet.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdatomic.h>
#include <string.h>
#include <unistd.h>

#include "core/cl_error.h"
#include "core/cl_fs.h"
#include "core/cl_mem.h"
#include "core/cl_worker.h"
#include "lake/cl_pq_encode.h"
#include "lake/cl_pq_format.h"
#include "lake/cl_thrift.h"

#define DEFAULT_ROW_GROUP_ROWS (1u << 20)
#define DEFAULT_PAGE_BYTES (1u << 20)
#define DELTA_STAT_BYTES 32     /* string prefix kept for Delta stats */
#define MAX_THREADS 8

/* One node of the schema, as given. */
struct wnode {
	char *name;
	enum cl_pq_type type;
	int repetition;
	int nchildren;
	int converted;
};

/* What the footer says about one written column chunk. */
struct chunk_meta {
	int64_t num_values;
	int64_t uncompressed, compressed;
	int64_t data_offset, dict_offset; /* in the file; dict_offset -1: none */
	bool dict;
	int64_t nulls;
	struct cl_pq_buf min, max;         /* PLAIN-encoded, empty if unknown */
};

/* One leaf column: its buffer and what it has written so far. */
struct wleaf {
	struct cl_pq_vec vec;     /* the rows of the current row group */
	struct cl_pq_vec back;    /* background: the full row group being written */
	struct cl_pq_vec *fl;     /* the vector a flush encodes: &vec or &back */
	int max_def, max_rep;
	char **path;              /* names from the root */
	int depth;
	struct cl_pq_chunk cur;   /* the chunk being encoded */
	int rc;                   /* its encoder's result */
	char err[160];            /* and error detail */
	struct cl_pq_colstats st; /* over the whole file */
	size_t min_len, max_len;  /* bytes of st.min_s / st.max_s while writing */
	struct chunk_meta *chunks; /* one per written row group */
	size_t nchunks, chunks_cap;
};

/* A finished row group. */
struct rg_meta {
	int64_t rows;
	int64_t bytes;           /* uncompressed */
	int64_t compressed;
	int64_t offset;
};

struct cl_pq_writer {
	int fd;
	char *path;
	int64_t offset;          /* bytes written */
	struct wnode *nodes;
	size_t nnodes;
	struct wleaf *leaves;
	size_t nleaves;
	size_t rows;             /* buffered rows */
	int64_t total_rows;
	struct rg_meta *rgs;
	size_t nrgs, rgs_cap;
	struct cl_pq_write_opts opts;
	struct cl_pq_enc_opts eopts;
	char **kv;
	size_t nkv;
	char *created_by;
	struct cl_pq_enc enc[MAX_THREADS]; /* scratch per encoding thread */
	int threads;
	atomic_size_t next;      /* next leaf to encode in a flush */
	int err;
	/* opts.background: the thread writing the previous row group */
	pthread_t bg;
	int bg_running;
	size_t bg_rows;          /* its rows */
	int bg_rc;               /* its result, read once it is joined */
	char bg_err[256];        /* and error detail */
};

/* Every write goes through cl_fs, where tests inject faults. */
static int write_all(struct cl_pq_writer *w, const void *p, size_t n)
{
	int rc = cl_fs_write_all(w->fd, p, n, w->path);
	if (rc == 0)
		w->offset += (int64_t)n;
	return rc;
}

/* ---- schema ----------------------------------------------------------- */

static int check_type(enum cl_pq_type t)
{
	switch (t) {
	case CL_PQ_BOOL:
	case CL_PQ_INT32:
	case CL_PQ_INT64:
	case CL_PQ_FLOAT:
	case CL_PQ_DOUBLE:
	case CL_PQ_STRING:
	case CL_PQ_BINARY:
	case CL_PQ_DATE:
	case CL_PQ_TIMESTAMP:
		return 0;
	default:
		return cl_error_set(CL_EINVAL, "a Parquet leaf column needs a value type");
	}
}

static int physical_of(enum cl_pq_type t)
{
	switch (t) {
	case CL_PQ_BOOL: return CL_PQF_BOOLEAN;
	case CL_PQ_INT32:
	case CL_PQ_DATE: return CL_PQF_INT32;
	case CL_PQ_INT64:
	case CL_PQ_TIMESTAMP: return CL_PQF_INT64;
	case CL_PQ_FLOAT: return CL_PQF_FLOAT;
	case CL_PQ_DOUBLE: return CL_PQF_DOUBLE;
	default: return CL_PQF_BYTE_ARRAY;
	}
}

/* Walks the node list from `*i`, filling the leaves with their levels and
 * paths. */
static int derive(struct cl_pq_writer *w, size_t *i, int def, int rep, char **path, int depth,
		  size_t *leaf)
{
	if (*i >= w->nnodes || depth >= 16)
		return cl_error_set(CL_EINVAL, "Parquet schema: children run past the node list");
	struct wnode *nd = &w->nodes[(*i)++];
	if (nd->repetition != CL_PQF_REQUIRED)
		def++;
	if (nd->repetition == CL_PQF_REPEATED)
		rep++;
	path[depth] = nd->name;
	if (nd->type == CL_PQ_NONE) {
		if (nd->nchildren <= 0)
			return cl_error_set(CL_EINVAL, "Parquet schema: group '%s' has no children", nd->name);
		for (int c = 0; c < nd->nchildren; c++) {
			int rc = derive(w, i, def, rep, path, depth + 1, leaf);
			if (rc)
				return rc;
		}
		return 0;
	}
	if (nd->nchildren)
		return cl_error_set(CL_EINVAL, "Parquet schema: leaf '%s' has children", nd->name);
	int rc = check_type(nd->type);
	if (rc)
		return rc;
	if (*leaf >= w->nleaves)
		return CL_EINVAL;
	struct wleaf *l = &w->leaves[(*leaf)++];
	l->max_def = def;
	l->max_rep = rep;
	l->depth = depth + 1;
	l->path = cl_calloc((size_t)l->depth, sizeof(char *));
	if (!l->path)
		return CL_ENOMEM;
	for (int k = 0; k < l->depth; k++)
		l->path[k] = path[k];
	cl_pq_vec_init(&l->vec, nd->type);
	cl_pq_vec_init(&l->back, nd->type);
	l->fl = &l->vec;
	return 0;
}

static int writer_open(struct cl_pq_writer **out, const char *path, const struct cl_pq_node *nodes,
		       size_t n, const struct cl_pq_write_opts *opts)
{
	*out = NULL;
	if (!n)
		return cl_error_set(CL_EINVAL, "a Parquet file needs at least one column");
	struct cl_pq_writer *w = cl_calloc(1, sizeof(*w));
	if (!w)
		return CL_ENOMEM;
	w->fd = -1;
	int rc = CL_ENOMEM;
	if (opts)
		w->opts = *opts;
	if (!w->opts.row_group_rows)
		w->opts.row_group_rows = DEFAULT_ROW_GROUP_ROWS;
	if (!w->opts.page_bytes)
		w->opts.page_bytes = DEFAULT_PAGE_BYTES;
	if (w->opts.codec == CL_PQ_CODEC_ZSTD && !w->opts.level)
		w->opts.level = 3;
	w->threads = w->opts.threads;
	if (w->threads <= 0) {
		long cpus = sysconf(_SC_NPROCESSORS_ONLN);
		w->threads = cpus > 0 ? (int)cpus : 1;
	}
	if (w->threads > MAX_THREADS)
		w->threads = MAX_THREADS;
	w->eopts = (struct cl_pq_enc_opts){ .codec = w->opts.codec, .level = w->opts.level,
					     .page_bytes = w->opts.page_bytes };
	w->opts.kv = NULL;
	w->created_by = cl_strdup(opts && opts->created_by ? opts->created_by
							    : "carelake version " CARELAKE_VERSION);
	w->path = cl_strdup(path);
	w->nodes = cl_calloc(n, sizeof(*w->nodes));
	if (!w->created_by || !w->path || !w->nodes)
		goto fail;
	w->nnodes = n;
	for (size_t i = 0; i < n; i++) {
		w->nodes[i] = (struct wnode){ .name = cl_strdup(nodes[i].name), .type = nodes[i].type,
					      .repetition = nodes[i].repetition,
					      .nchildren = nodes[i].nchildren,
					      .converted = nodes[i].converted };
		if (!w->nodes[i].name)
			goto fail;
		if (nodes[i].type == CL_PQ_NONE)
			continue;
		w->nleaves++;
	}
	if (opts && opts->nkv) {
		w->kv = cl_calloc(opts->nkv * 2, sizeof(char *));
		if (!w->kv)
			goto fail;
		w->nkv = opts->nkv;
		for (size_t i = 0; i < opts->nkv * 2; i++)
			if (!(w->kv[i] = cl_strdup(opts->kv[i])))
				goto fail;
	}
	w->leaves = cl_calloc(w->nleaves ? w->nleaves : 1, sizeof(*w->leaves));
	if (!w->leaves)
		goto fail;
	char *namepath[16];
	size_t i = 0, leaf = 0;
	while (i < n) {
		if ((rc = derive(w, &i, 0, 0, namepath, 0, &leaf)))
			goto fail;
	}
	for (size_t k = 0; k < w->nleaves; k++)
		if (w->leaves[k].max_def > 255 || w->leaves[k].max_rep > 255) {
			rc = cl_error_set(CL_EINVAL, "Parquet schema nests too deep");
			goto fail;
		}
	if ((rc = cl_fs_create(path, opts && opts->mode ? opts->mode : 0600, &w->fd)))
		goto fail;
	if ((rc = write_all(w, CL_PQF_MAGIC, 4)))
		goto fail;
	*out = w;
	return 0;
fail:
	cl_pq_writer_abort(w);
	return rc;
}

int cl_pq_writer_open(struct cl_pq_writer **out, const char *path, const struct cl_pq_node *cols,
		      size_t n, const struct cl_pq_write_opts *opts)
{
	for (size_t i = 0; i < n; i++)
		if (cols[i].type == CL_PQ_NONE || cols[i].nchildren ||
		    cols[i].repetition == CL_PQF_REPEATED)
			return cl_error_set(CL_EINVAL, "column '%s' of a flat table must be a plain "
					    "required or optional value", cols[i].name);
	return writer_open(out, path, cols, n, opts);
}

int cl_pq_writer_open_nested(struct cl_pq_writer **out, const char *path,
			     const struct cl_pq_node *nodes, size_t n,
			     const struct cl_pq_write_opts *opts)
{
	return writer_open(out, path, nodes, n, opts);
}

struct cl_pq_vec *cl_pq_writer_col(struct cl_pq_writer *w, size_t i)
{
	return i < w->nleaves ? &w->leaves[i].vec : NULL;
}

/* ---- statistics ------------------------------------------------------- */

/* Whether bytes a[0..la) sort before b[0..lb). */
static bool str_less(const char *a, size_t la, const char *b, size_t lb)
{
	int c = memcmp(a, b, la < lb ? la : lb);
	return c < 0 || (c == 0 && la < lb);
}

/* Replaces *dst with a NUL-terminated copy of p[0..n). */
static int str_keep(char **dst, size_t *len, const char *p, size_t n)
{
	char *s = cl_malloc(n + 1);
	if (!s)
		return CL_ENOMEM;
	memcpy(s, p, n);
	s[n] = 0;
	cl_free(*dst);
	*dst = s;
	*len = n;
	return 0;
}

/* Cuts the file-wide string min/max to what Delta statistics keep: the
 * min to a prefix (still a lower bound), the max only when it is short and
 * whole (a cut max would no longer be an upper bound). */
static void delta_string_bounds(struct wleaf *l)
{
	struct cl_pq_colstats *st = &l->st;
	if (st->min_s && l->min_len > DELTA_STAT_BYTES) {
		size_t k = DELTA_STAT_BYTES;
		while (k > 0 && ((uint8_t)st->min_s[k] & 0xc0) == 0x80)
			k--; /* never cut inside a UTF-8 sequence */
		st->min_s[k] = 0;
	}
	if (st->max_s && (l->max_len > DELTA_STAT_BYTES || strlen(st->max_s) != l->max_len)) {
		cl_free(st->max_s);
		st->max_s = NULL;
	}
}

/* Merges the bounds and nulls of leaf l's chunk into its file statistics. */
static int merge_stats(struct wleaf *l)
{
	const struct cl_pq_chunk *c = &l->cur;
	struct cl_pq_colstats *st = &l->st;
	st->nulls += c->nulls;
	if (!c->has_minmax)
		return 0;
	switch (l->fl->type) {
	case CL_PQ_FLOAT:
	case CL_PQ_DOUBLE:
		if (!st->has_minmax || c->min_d < st->min_d)
			st->min_d = c->min_d;
		if (!st->has_minmax || c->max_d > st->max_d)
			st->max_d = c->max_d;
		break;
	case CL_PQ_STRING: {
		size_t la, lb;
		const char *a = cl_pq_vec_str(l->fl, c->min_slot, &la);
		const char *b = cl_pq_vec_str(l->fl, c->max_slot, &lb);
		int rc;
		if (!st->has_minmax || str_less(a, la, st->min_s, l->min_len))
			if ((rc = str_keep(&st->min_s, &l->min_len, a, la)))
				return rc;
		if (!st->has_minmax || str_less(st->max_s, l->max_len, b, lb))
			if ((rc = str_keep(&st->max_s, &l->max_len, b, lb)))
				return rc;
		break;
	}
	case CL_PQ_BINARY:
		return 0; /* no bounds kept for raw bytes */
	default:
		if (!st->has_minmax || c->min_i < st->min_i)
			st->min_i = c->min_i;
		if (!st->has_minmax || c->max_i > st->max_i)
			st->max_i = c->max_i;
	}
	st->has_minmax = true;
	return 0;
}

/* ---- row groups ------------------------------------------------------- */

/* Encodes leaves until none is left; each thread runs this with its own
 * scratch. */
static void encode_leaves(struct cl_pq_writer *w, struct cl_pq_enc *e)
{
	for (;;) {
		size_t i = atomic_fetch_add(&w->next, 1);
		if (i >= w->nleaves)
			return;
		struct wleaf *l = &w->leaves[i];
		l->rc = cl_pq_encode_chunk(e, l->fl, l->max_def, l->max_rep, &w->eopts, &l->cur);
		if (l->rc)
			snprintf(l->err, sizeof(l->err), "column %s: %s", l->path[l->depth - 1],
				 cl_error_detail());
	}
}

struct worker {
	struct cl_pq_writer *w;
	struct cl_pq_enc *e;
};

static void *encode_thread(void *arg)
{
	struct worker *k = arg;
	encode_leaves(k->w, k->e);
	return NULL;
}

/* Keeps chunk metadata of leaf l for the footer, at file offset `base`. */
static int keep_chunk(struct wleaf *l, int64_t base)
{
	if (l->nchunks == l->chunks_cap) {
		size_t cap = l->chunks_cap ? l->chunks_cap * 2 : 8;
		struct chunk_meta *c = cl_realloc(l->chunks, cap * sizeof(*c));
		if (!c)
			return CL_ENOMEM;
		l->chunks = c;
		l->chunks_cap = cap;
	}
	struct chunk_meta *m = &l->chunks[l->nchunks++];
	const struct cl_pq_chunk *c = &l->cur;
	*m = (struct chunk_meta){ .num_values = c->num_values, .uncompressed = c->uncompressed,
				  .compressed = c->compressed, .data_offset = base + c->data_offset,
				  .dict_offset = c->dict_offset < 0 ? -1 : base + c->dict_offset,
				  .dict = c->dict, .nulls = c->nulls };
	return cl_pq_buf_put(&m->min, c->min.p, c->min.len) ?:
	       cl_pq_buf_put(&m->max, c->max.p, c->max.len);
}

/* Encodes and writes the row group of `rows` rows in each leaf's `fl`
 * vector, on this thread and up to `threads` - 1 helpers, and empties the
 * vectors. */
static int write_row_group(struct cl_pq_writer *w, size_t rows, int threads)
{
	int rc;
	for (size_t i = 0; i < w->nleaves; i++) {
		struct wleaf *l = &w->leaves[i];
		if (!l->max_rep && l->fl->n != rows)
			return cl_error_set(CL_EINVAL, "column %s has %zu values for %zu rows",
					    l->path[l->depth - 1], l->fl->n, rows);
	}
	/* encode: this thread and up to threads-1 helpers */
	atomic_store(&w->next, 0);
	pthread_t tid[MAX_THREADS];
	struct worker work[MAX_THREADS];
	int started = 0;
	int want = threads;
	if ((size_t)want > w->nleaves)
		want = (int)w->nleaves;
	for (int t = 1; t < want; t++) {
		work[started] = (struct worker){ w, &w->enc[t] };
		if (cl_thread_create(&tid[started], "cl-pq-encode", encode_thread, &work[started]) !=
		    CL_OK)
			break; /* fewer threads: still correct */
		started++;
	}
	encode_leaves(w, &w->enc[0]);
	for (int t = 0; t < started; t++)
		pthread_join(tid[t], NULL);

	struct rg_meta rg = { .rows = (int64_t)rows, .offset = w->offset };
	for (size_t i = 0; i < w->nleaves; i++) {
		struct wleaf *l = &w->leaves[i];
		if (l->rc)
			return cl_error_set(l->rc, "%s", l->err);
		if ((rc = merge_stats(l)) || (rc = keep_chunk(l, w->offset)) ||
		    (rc = write_all(w, l->cur.out.p, l->cur.out.len)))
			return rc;
		rg.bytes += l->cur.uncompressed;
		rg.compressed += l->cur.compressed;
		cl_pq_vec_clear(l->fl);
	}
	if (w->nrgs == w->rgs_cap) {
		size_t cap = w->rgs_cap ? w->rgs_cap * 2 : 8;
		struct rg_meta *r = cl_realloc(w->rgs, cap * sizeof(*r));
		if (!r)
			return CL_ENOMEM;
		w->rgs = r;
		w->rgs_cap = cap;
	}
	w->rgs[w->nrgs++] = rg;
	w->total_rows += (int64_t)rows;
	return 0;
}

/* Writes the buffered rows as a row group, here and now. */
static int flush_row_group(struct cl_pq_writer *w)
{
	if (w->rows == 0)
		return 0;
	for (size_t i = 0; i < w->nleaves; i++)
		w->leaves[i].fl = &w->leaves[i].vec;
	int rc = write_row_group(w, w->rows, w->threads);
	w->rows = 0;
	return rc;
}

static void *background_thread(void *arg)
{
	struct cl_pq_writer *w = arg;
	/* the caller's thread is filling the next row group meanwhile */
	w->bg_rc = write_row_group(w, w->bg_rows, w->threads > 2 ? w->threads - 1 : 1);
	if (w->bg_rc)
		snprintf(w->bg_err, sizeof(w->bg_err), "%s", cl_error_detail());
	return NULL;
}

/* Waits for the row group being written in the background, if any, and
 * gives its result. */
static int background_wait(struct cl_pq_writer *w)
{
	if (!w->bg_running)
		return 0;
	pthread_join(w->bg, NULL);
	w->bg_running = 0;
	return w->bg_rc ? cl_error_set(w->bg_rc, "%s", w->bg_err) : 0;
}

/* Hands the buffered rows to a thread that writes them while the caller
 * fills the other set of vectors (here, when no thread can start). Row
 * groups are written in order: the one before is waited for first. */
static int background_flush(struct cl_pq_writer *w)
{
	int rc = background_wait(w);
	if (rc)
		return rc;
	for (size_t i = 0; i < w->nleaves; i++) {
		struct wleaf *l = &w->leaves[i];
		struct cl_pq_vec full = l->vec;
		l->vec = l->back;
		l->back = full;
		l->fl = &l->back;
	}
	w->bg_rows = w->rows;
	w->rows = 0;
	w->bg_rc = 0;
	if (cl_thread_create(&w->bg, "cl-pq-write", background_thread, w) == CL_OK) {
		w->bg_running = 1;
		return 0;
	}
	return write_row_group(w, w->bg_rows, w->threads);
}

int cl_pq_writer_rows(struct cl_pq_writer *w, size_t rows)
{
	if (w->err)
		return w->err;
	w->rows += rows;
	if (w->rows < w->opts.row_group_rows)
		return 0;
	return (w->err = w->opts.background ? background_flush(w) : flush_row_group(w));
}

/* ---- footer ----------------------------------------------------------- */

static void schema_element(struct cl_tw *t, const struct wnode *nd)
{
	cl_tw_elem_struct_begin(t);
	if (nd->type != CL_PQ_NONE)
		cl_tw_i32(t, 1, physical_of(nd->type));
	cl_tw_i32(t, 3, nd->repetition);
	cl_tw_string(t, 4, nd->name);
	if (nd->type == CL_PQ_NONE)
		cl_tw_i32(t, 5, nd->nchildren);
	int converted = nd->converted;
	if (converted < 0) {
		if (nd->type == CL_PQ_STRING)
			converted = CL_PQF_CT_UTF8;
		else if (nd->type == CL_PQ_DATE)
			converted = CL_PQF_CT_DATE;
		else if (nd->type == CL_PQ_TIMESTAMP)
			converted = CL_PQF_CT_TIMESTAMP_MICROS;
	}
	if (converted >= 0)
		cl_tw_i32(t, 6, converted);
	/* the logical type, which newer readers prefer */
	if (nd->type == CL_PQ_STRING || converted == CL_PQF_CT_LIST || converted == CL_PQF_CT_MAP ||
	    nd->type == CL_PQ_DATE || nd->type == CL_PQ_TIMESTAMP) {
		cl_tw_struct_begin(t, 10);
		if (nd->type == CL_PQ_STRING) {
			cl_tw_struct_begin(t, 1);
			cl_tw_struct_end(t);
		} else if (nd->type == CL_PQ_DATE) {
			cl_tw_struct_begin(t, 6);
			cl_tw_struct_end(t);
		} else if (nd->type == CL_PQ_TIMESTAMP) {
			cl_tw_struct_begin(t, 8);
			cl_tw_bool(t, 1, true);
			cl_tw_struct_begin(t, 2);
			cl_tw_struct_begin(t, 2); /* MICROS */
			cl_tw_struct_end(t);
			cl_tw_struct_end(t);
			cl_tw_struct_end(t);
		} else {
			cl_tw_struct_begin(t, converted == CL_PQF_CT_LIST ? 3 : 2);
			cl_tw_struct_end(t);
		}
		cl_tw_struct_end(t);
	}
	cl_tw_struct_end(t);
}

static int write_footer(struct cl_pq_writer *w)
{
	struct cl_tw t = {0};
	cl_tw_i32(&t, 1, 1);
	cl_tw_list_begin(&t, 2, CL_TT_STRUCT, w->nnodes + 1);
	cl_tw_elem_struct_begin(&t);
	cl_tw_string(&t, 4, "schema");
	int top = 0;
	for (size_t i = 0, skip = 0; i < w->nnodes; i++) {
		if (skip == 0) {
			top++;
		} else {
			skip--;
		}
		skip += (size_t)(w->nodes[i].type == CL_PQ_NONE ? w->nodes[i].nchildren : 0);
	}
	cl_tw_i32(&t, 5, top);
	cl_tw_struct_end(&t);
	for (size_t i = 0; i < w->nnodes; i++)
		schema_element(&t, &w->nodes[i]);
	cl_tw_i64(&t, 3, w->total_rows);
	cl_tw_list_begin(&t, 4, CL_TT_STRUCT, w->nrgs);
	for (size_t r = 0; r < w->nrgs; r++) {
		cl_tw_elem_struct_begin(&t);
		cl_tw_list_begin(&t, 1, CL_TT_STRUCT, w->nleaves);
		for (size_t i = 0; i < w->nleaves; i++) {
			const struct wleaf *l = &w->leaves[i];
			const struct chunk_meta *cm = &l->chunks[r];
			cl_tw_elem_struct_begin(&t);
			cl_tw_i64(&t, 2, cm->dict_offset >= 0 ? cm->dict_offset : cm->data_offset);
			cl_tw_struct_begin(&t, 3);
			cl_tw_i32(&t, 1, physical_of(l->vec.type));
			int encs[3], ne = 0;
			encs[ne++] = CL_PQF_RLE;
			encs[ne++] = CL_PQF_PLAIN;
			if (cm->dict)
				encs[ne++] = CL_PQF_RLE_DICTIONARY;
			cl_tw_list_begin(&t, 2, CL_TT_I32, (size_t)ne);
			for (int e = 0; e < ne; e++)
				cl_tw_elem_i32(&t, encs[e]);
			cl_tw_list_begin(&t, 3, CL_TT_BINARY, (size_t)l->depth);
			for (int d = 0; d < l->depth; d++)
				cl_tw_elem_binary(&t, l->path[d], strlen(l->path[d]));
			cl_tw_i32(&t, 4, w->opts.codec);
			cl_tw_i64(&t, 5, cm->num_values);
			cl_tw_i64(&t, 6, cm->uncompressed);
			cl_tw_i64(&t, 7, cm->compressed);
			cl_tw_i64(&t, 9, cm->data_offset);
			if (cm->dict_offset >= 0)
				cl_tw_i64(&t, 11, cm->dict_offset);
			cl_tw_struct_begin(&t, 12);
			cl_tw_i64(&t, 3, cm->nulls);
			if (cm->min.len || cm->max.len || l->vec.type == CL_PQ_STRING) {
				if (cm->max.len || cm->min.len) {
					cl_tw_binary(&t, 5, cm->max.p, cm->max.len);
					cl_tw_binary(&t, 6, cm->min.p, cm->min.len);
				}
			}
			cl_tw_struct_end(&t);
			cl_tw_struct_end(&t);
			cl_tw_struct_end(&t);
		}
		cl_tw_i64(&t, 2, w->rgs[r].bytes);
		cl_tw_i64(&t, 3, w->rgs[r].rows);
		cl_tw_i64(&t, 5, w->rgs[r].offset);
		cl_tw_i64(&t, 6, w->rgs[r].compressed);
		cl_tw_struct_end(&t);
	}
	if (w->nkv) {
		cl_tw_list_begin(&t, 5, CL_TT_STRUCT, w->nkv);
		for (size_t i = 0; i < w->nkv; i++) {
			cl_tw_elem_struct_begin(&t);
			cl_tw_string(&t, 1, w->kv[2 * i]);
			cl_tw_string(&t, 2, w->kv[2 * i + 1]);
			cl_tw_struct_end(&t);
		}
	}
	cl_tw_string(&t, 6, w->created_by);
	cl_tw_list_begin(&t, 7, CL_TT_STRUCT, w->nleaves);
	for (size_t i = 0; i < w->nleaves; i++) {
		cl_tw_elem_struct_begin(&t);
		cl_tw_struct_begin(&t, 1); /* TYPE_ORDER */
		cl_tw_struct_end(&t);
		cl_tw_struct_end(&t);
	}
	cl_tw_stop(&t);
	int rc = t.err;
	if (!rc && t.len > UINT32_MAX)
		rc = cl_error_set(CL_ETOOBIG, "Parquet footer over 4 GiB");
	if (!rc) {
		uint32_t n = (uint32_t)t.len;
		rc = write_all(w, t.buf, t.len) ?: write_all(w, &n, 4) ?: write_all(w, CL_PQF_MAGIC, 4);
	}
	cl_tw_free(&t);
	return rc;
}

/* ---- closing ---------------------------------------------------------- */

static void writer_free(struct cl_pq_writer *w)
{
	background_wait(w);
	for (size_t i = 0; w->nodes && i < w->nnodes; i++)
		cl_free(w->nodes[i].name);
	cl_free(w->nodes);
	for (size_t i = 0; w->leaves && i < w->nleaves; i++) {
		struct wleaf *l = &w->leaves[i];
		cl_pq_vec_free(&l->vec);
		cl_pq_vec_free(&l->back);
		cl_pq_chunk_free(&l->cur);
		cl_free(l->path);
		for (size_t c = 0; c < l->nchunks; c++) {
			cl_pq_buf_free(&l->chunks[c].min);
			cl_pq_buf_free(&l->chunks[c].max);
		}
		cl_free(l->chunks);
		cl_free(l->st.min_s);
		cl_free(l->st.max_s);
	}
	cl_free(w->leaves);
	for (size_t i = 0; i < w->nkv * 2; i++)
		cl_free(w->kv ? w->kv[i] : NULL);
	cl_free(w->kv);
	cl_free(w->rgs);
	for (int t = 0; t < MAX_THREADS; t++)
		cl_pq_enc_free(&w->enc[t]);
	cl_free(w->created_by);
	cl_free(w->path);
	cl_free(w);
}

void cl_pq_writer_abort(struct cl_pq_writer *w)
{
	if (!w)
		return;
	background_wait(w); /* nothing writes to the file after this */
	if (w->fd >= 0) {
		close(w->fd);
		cl_fs.unlink(w->path);
	}
	writer_free(w);
}

int cl_pq_writer_close(struct cl_pq_writer *w, struct cl_pq_file_stats *stats)
{
	if (stats)
		memset(stats, 0, sizeof(*stats));
	int rc = w->err, brc = background_wait(w);
	if (!rc)
		rc = brc;
	if (!rc && w->rows)
		rc = flush_row_group(w);
	if (!rc)
		rc = write_footer(w);
	if (!rc)
		rc = cl_fs_datasync(w->fd, w->path);
	if (!rc) {
		int fd = w->fd;
		w->fd = -1; /* closed whatever close says */
		if (close(fd) != 0) {
			rc = cl_error_set(CL_EIO, "closing %s: %s", w->path, strerror(errno));
			cl_fs.unlink(w->path);
		}
	}
	if (rc) {
		cl_pq_writer_abort(w);
		return rc;
	}
	if (stats) {
		stats->rows = w->total_rows;
		stats->bytes = w->offset;
		stats->ncols = w->nleaves;
		stats->cols = cl_calloc(w->nleaves ? w->nleaves : 1, sizeof(*stats->cols));
		if (!stats->cols) {
			writer_free(w);
			return CL_ENOMEM;
		}
		for (size_t i = 0; i < w->nleaves; i++) {
			if (w->leaves[i].vec.type == CL_PQ_STRING)
				delta_string_bounds(&w->leaves[i]);
			stats->cols[i] = w->leaves[i].st;
			w->leaves[i].st.min_s = NULL;
			w->leaves[i].st.max_s = NULL;
		}
	}
	writer_free(w);
	return 0;
}

void cl_pq_file_stats_free(struct cl_pq_file_stats *s)
{
	if (!s || !s->cols)
		return;
	for (size_t i = 0; i < s->ncols; i++) {
		cl_free(s->cols[i].min_s);
		cl_free(s->cols[i].max_s);
	}
	cl_free(s->cols);
	s->cols = NULL;
}
