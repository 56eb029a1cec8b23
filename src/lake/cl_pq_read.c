/*
 * cl_pq_read.c — the Parquet reader (see cl_parquet.h).
 *
 * Opening: the file is mapped; its footer (Thrift FileMetaData) gives the
 * schema, which is checked and turned into leaves with their levels and
 * types, and per row group and column where the chunk's pages are. Pages
 * are decoded by cl_pq_decode.c, records assembled by cl_pq_records.c.
 * Every length and count from the file is checked against the bytes
 * actually there before it is used.
 */
#include "lake/cl_parquet.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/cl_error.h"
#include "core/cl_fs.h"
#include "core/cl_mem.h"
#include "lake/cl_pq_file.h"
#include "lake/cl_pq_format.h"
#include "lake/cl_thrift.h"

#define MAX_NODES 10000
#define MAX_DEPTH 32

/* ---- footer ----------------------------------------------------------- */

static char *tr_str(struct cl_tr *r)
{
	size_t n;
	const uint8_t *p = cl_tr_binary(r, &n);
	char *s = cl_malloc(n + 1);
	if (s) {
		memcpy(s, p, n);
		s[n] = 0;
	}
	return s;
}

static void read_logical(struct cl_tr *r, struct cl_pq_rnode *n)
{
	int16_t id, id2;
	enum cl_thrift_type t, t2;
	cl_tr_struct_begin(r);
	while (cl_tr_field(r, &id, &t)) {
		if (t != CL_TT_STRUCT) {
			cl_tr_skip(r, t);
			continue;
		}
		n->logical = id;
		cl_tr_struct_begin(r);
		while (cl_tr_field(r, &id2, &t2)) {
			if (id == 8 && id2 == 2 && t2 == CL_TT_STRUCT) {
				int16_t u;
				enum cl_thrift_type tu;
				cl_tr_struct_begin(r);
				while (cl_tr_field(r, &u, &tu)) {
					n->ts_unit = u;
					cl_tr_skip(r, tu);
				}
				cl_tr_struct_end(r);
			} else {
				cl_tr_skip(r, t2);
			}
		}
		cl_tr_struct_end(r);
	}
	cl_tr_struct_end(r);
}

static int read_schema(struct cl_tr *r, struct cl_pq_file *f)
{
	enum cl_thrift_type et;
	size_t n = cl_tr_list(r, &et);
	if (r->err || et != CL_TT_STRUCT || n < 1 || n > MAX_NODES)
		return cl_error_set(CL_ECORRUPT, "the Parquet schema is not a list of elements");
	f->rn = cl_calloc(n, sizeof(*f->rn));
	if (!f->rn)
		return CL_ENOMEM;
	f->nnodes = n;
	for (size_t i = 0; i < n && !r->err; i++) {
		struct cl_pq_rnode *x = &f->rn[i];
		int16_t id;
		enum cl_thrift_type t;
		x->physical = -1;
		x->converted = -1;
		x->leaf = -1;
		cl_tr_struct_begin(r);
		while (cl_tr_field(r, &id, &t)) {
			if (id == 1 && t == CL_TT_I32)
				x->physical = cl_tr_i32(r);
			else if (id == 2 && t == CL_TT_I32)
				x->type_length = cl_tr_i32(r);
			else if (id == 3 && t == CL_TT_I32)
				x->repetition = cl_tr_i32(r);
			else if (id == 4 && t == CL_TT_BINARY && !x->name)
				x->name = tr_str(r);
			else if (id == 5 && t == CL_TT_I32)
				x->nchildren = cl_tr_i32(r);
			else if (id == 6 && t == CL_TT_I32)
				x->converted = cl_tr_i32(r);
			else if (id == 10 && t == CL_TT_STRUCT)
				read_logical(r, x);
			else
				cl_tr_skip(r, t);
		}
		cl_tr_struct_end(r);
		if (!x->name && !r->err)
			return cl_error_set(CL_ECORRUPT, "a Parquet schema element has no name");
	}
	return r->err ? cl_error_set(CL_ECORRUPT, "the Parquet schema is truncated") : 0;
}

static int read_chunk(struct cl_tr *r, struct cl_pq_file *f, struct cl_pq_rchunk *c)
{
	int16_t id, id2;
	enum cl_thrift_type t, t2;
	int64_t data = -1, dict = -1;
	cl_tr_struct_begin(r);
	while (cl_tr_field(r, &id, &t)) {
		if (id == 1 && t == CL_TT_BINARY) {
			c->external = 1;
			cl_tr_skip(r, t);
		} else if (id == 3 && t == CL_TT_STRUCT) {
			cl_tr_struct_begin(r);
			while (cl_tr_field(r, &id2, &t2)) {
				if (id2 == 4 && t2 == CL_TT_I32)
					c->codec = cl_tr_i32(r);
				else if (id2 == 5 && t2 == CL_TT_I64)
					c->num_values = cl_tr_i64(r);
				else if (id2 == 7 && t2 == CL_TT_I64)
					c->len = cl_tr_i64(r);
				else if (id2 == 9 && t2 == CL_TT_I64)
					data = cl_tr_i64(r);
				else if (id2 == 11 && t2 == CL_TT_I64)
					dict = cl_tr_i64(r);
				else
					cl_tr_skip(r, t2);
			}
			cl_tr_struct_end(r);
		} else {
			cl_tr_skip(r, t);
		}
	}
	cl_tr_struct_end(r);
	c->start = dict > 0 && dict < data ? dict : data;
	if (!c->external && (c->start < 4 || c->len < 0 || c->num_values < 0 ||
			     (uint64_t)c->start + (uint64_t)c->len > f->size))
		return cl_error_set(CL_ECORRUPT, "a column chunk lies outside the file");
	return 0;
}

static int read_row_groups(struct cl_tr *r, struct cl_pq_file *f)
{
	enum cl_thrift_type et;
	size_t n = cl_tr_list(r, &et);
	if (r->err || et != CL_TT_STRUCT)
		return cl_error_set(CL_ECORRUPT, "the Parquet row groups are not a list");
	f->rg_rows = cl_calloc(n + 1, sizeof(*f->rg_rows));
	f->chunks = cl_calloc(n * f->nleaves + 1, sizeof(*f->chunks));
	if (!f->rg_rows || !f->chunks)
		return CL_ENOMEM;
	f->nrg = n;
	for (size_t g = 0; g < n; g++) {
		int16_t id;
		enum cl_thrift_type t;
		size_t ncols = 0;
		cl_tr_struct_begin(r);
		while (cl_tr_field(r, &id, &t)) {
			if (id == 1 && t == CL_TT_LIST) {
				enum cl_thrift_type ct;
				ncols = cl_tr_list(r, &ct);
				if (ncols != f->nleaves || ct != CL_TT_STRUCT)
					return cl_error_set(CL_ECORRUPT, "row group %zu has %zu columns, "
							    "the schema %zu", g, ncols, f->nleaves);
				for (size_t c = 0; c < ncols; c++) {
					int rc = read_chunk(r, f, &f->chunks[g * f->nleaves + c]);
					if (rc)
						return rc;
				}
			} else if (id == 3 && t == CL_TT_I64) {
				f->rg_rows[g] = cl_tr_i64(r);
			} else {
				cl_tr_skip(r, t);
			}
		}
		cl_tr_struct_end(r);
		if (r->err)
			return cl_error_set(CL_ECORRUPT, "row group %zu is truncated", g);
		if (ncols != f->nleaves || f->rg_rows[g] < 0)
			return cl_error_set(CL_ECORRUPT, "row group %zu has no columns", g);
	}
	return 0;
}

/* The carelake type of a leaf, or CL_PQ_NONE with *why set. */
static enum cl_pq_type leaf_type(const struct cl_pq_rnode *x, const char **why)
{
	int ct = x->converted, lt = x->logical;
	*why = NULL;
	if (ct == CL_PQF_CT_DECIMAL || lt == 5) {
		*why = "DECIMAL";
		return CL_PQ_NONE;
	}
	switch (x->physical) {
	case CL_PQF_BOOLEAN: return CL_PQ_BOOL;
	case CL_PQF_INT32:
		if (ct == CL_PQF_CT_DATE || lt == 6)
			return CL_PQ_DATE;
		if (ct == CL_PQF_CT_UINT_32)
			return CL_PQ_INT64;
		if (ct == CL_PQF_CT_TIME_MILLIS || lt == 7) {
			*why = "TIME";
			return CL_PQ_NONE;
		}
		return CL_PQ_INT32;
	case CL_PQF_INT64:
		if (ct == CL_PQF_CT_TIMESTAMP_MILLIS || ct == CL_PQF_CT_TIMESTAMP_MICROS || lt == 8)
			return CL_PQ_TIMESTAMP;
		if (ct == CL_PQF_CT_UINT_64) {
			*why = "UINT_64";
			return CL_PQ_NONE;
		}
		if (ct == CL_PQF_CT_TIME_MICROS || lt == 7) {
			*why = "TIME";
			return CL_PQ_NONE;
		}
		return CL_PQ_INT64;
	case CL_PQF_INT96: return CL_PQ_TIMESTAMP;
	case CL_PQF_FLOAT: return CL_PQ_FLOAT;
	case CL_PQF_DOUBLE: return CL_PQ_DOUBLE;
	case CL_PQF_BYTE_ARRAY:
		if (ct == CL_PQF_CT_UTF8 || ct == CL_PQF_CT_ENUM || ct == CL_PQF_CT_JSON || lt == 1 ||
		    lt == 4 || lt == 12)
			return CL_PQ_STRING;
		return CL_PQ_BINARY;
	case CL_PQF_FIXED_LEN_BYTE_ARRAY:
		if (x->type_length <= 0) {
			*why = "FIXED_LEN_BYTE_ARRAY without a length";
			return CL_PQ_NONE;
		}
		return CL_PQ_BINARY;
	}
	*why = "an unknown physical type";
	return CL_PQ_NONE;
}

/* Walks the schema tree, checking it and deriving levels and leaves. */
static int build_tree(struct cl_pq_file *f)
{
	int stack[MAX_DEPTH], left[MAX_DEPTH], depth = 0;
	size_t cap = 16;

	f->nodes = cl_calloc(f->nnodes, sizeof(*f->nodes));
	f->leaves = cl_calloc(cap, sizeof(*f->leaves));
	f->leaf_node = cl_calloc(cap, sizeof(*f->leaf_node));
	if (!f->nodes || !f->leaves || !f->leaf_node)
		return CL_ENOMEM;
	if (f->rn[0].nchildren <= 0 || f->rn[0].physical >= 0)
		return cl_error_set(CL_ECORRUPT, "the Parquet schema root has no columns");
	left[0] = f->rn[0].nchildren;
	stack[0] = 0;
	for (size_t i = 1; i < f->nnodes; i++) {
		while (depth >= 0 && left[depth] == 0)
			depth--;
		if (depth < 0)
			return cl_error_set(CL_ECORRUPT, "the Parquet schema has more elements than "
					    "its groups hold");
		left[depth]--;
		struct cl_pq_rnode *x = &f->rn[i], *p = &f->rn[stack[depth]];
		x->parent = stack[depth] == 0 ? -1 : stack[depth];
		if (x->repetition < 0 || x->repetition > 2)
			return cl_error_set(CL_ECORRUPT, "column '%s' has an unknown repetition", x->name);
		x->def = (i == 0 ? 0 : (stack[depth] == 0 ? 0 : p->def)) +
			 (x->repetition != CL_PQF_REQUIRED);
		x->rep = (stack[depth] == 0 ? 0 : p->rep) + (x->repetition == CL_PQF_REPEATED);
		f->nodes[i - 1] = (struct cl_pq_node){ x->name, CL_PQ_NONE, x->repetition,
						       x->nchildren, x->converted };
		if (x->physical < 0 || x->nchildren > 0) {
			if (x->nchildren <= 0 || depth + 1 >= MAX_DEPTH)
				return cl_error_set(CL_ECORRUPT, "group '%s' has no columns or nests "
						    "too deep", x->name);
			stack[++depth] = (int)i;
			left[depth] = x->nchildren;
			continue;
		}
		const char *why;
		enum cl_pq_type type = leaf_type(x, &why);
		if (f->nleaves == cap) {
			cap *= 2;
			struct cl_pq_leaf *l = cl_realloc(f->leaves, cap * sizeof(*l));
			size_t *ln = l ? cl_realloc(f->leaf_node, cap * sizeof(*ln)) : NULL;
			if (l)
				f->leaves = l;
			if (ln)
				f->leaf_node = ln;
			if (!l || !ln)
				return CL_ENOMEM;
		}
		/* the dotted name */
		char name[1024] = "";
		int chain[MAX_DEPTH], nc = 0;
		for (int k = (int)i; k > 0 && nc < MAX_DEPTH; k = f->rn[k].parent < 0 ? 0 : f->rn[k].parent)
			chain[nc++] = k;
		for (int k = nc - 1; k >= 0; k--)
			snprintf(name + strlen(name), sizeof(name) - strlen(name), "%s%s",
				 k == nc - 1 ? "" : ".", f->rn[chain[k]].name);
		struct cl_pq_leaf *l = &f->leaves[f->nleaves];
		memset(l, 0, sizeof(*l));
		l->name = cl_strdup(name);
		if (!l->name)
			return CL_ENOMEM;
		l->type = type;
		l->physical = x->physical;
		l->type_length = x->type_length;
		l->max_def = x->def;
		l->max_rep = x->rep;
		l->nullable = x->def > 0;
		if (!why && x->physical == CL_PQF_FIXED_LEN_BYTE_ARRAY && x->type_length > (1 << 20))
			why = "FIXED_LEN_BYTE_ARRAY longer than 1 MiB";
		x->why = why; /* reported when the column is read */
		f->nodes[i - 1].type = type == CL_PQ_NONE ? CL_PQ_BINARY : type;
		x->leaf = (int)f->nleaves;
		f->leaf_node[f->nleaves++] = i;
	}
	while (depth >= 0 && left[depth] == 0)
		depth--;
	if (depth >= 0)
		return cl_error_set(CL_ECORRUPT, "the Parquet schema ends inside a group");
	if (f->nleaves == 0)
		return cl_error_set(CL_ECORRUPT, "the Parquet schema has no columns");
	return 0;
}

static int read_footer(struct cl_pq_file *f)
{
	if (f->size < 12 || memcmp(f->base, CL_PQF_MAGIC, 4) != 0 ||
	    memcmp(f->base + f->size - 4, CL_PQF_MAGIC, 4) != 0)
		return cl_error_set(CL_ECORRUPT, "not a Parquet file (no PAR1 at both ends)");
	uint32_t flen;
	memcpy(&flen, f->base + f->size - 8, 4);
	if (flen == 0 || (size_t)flen > f->size - 12)
		return cl_error_set(CL_ECORRUPT, "the Parquet footer length %u does not fit the file",
				    flen);
	struct cl_tr r;
	int16_t id;
	enum cl_thrift_type t;
	int rc = 0, have_schema = 0;
	cl_tr_init(&r, f->base + f->size - 8 - flen, flen);
	cl_tr_struct_begin(&r);
	while (rc == 0 && cl_tr_field(&r, &id, &t)) {
		if (id == 2 && t == CL_TT_LIST && !have_schema) {
			rc = read_schema(&r, f);
			if (rc == 0)
				rc = build_tree(f);
			have_schema = 1;
		} else if (id == 3 && t == CL_TT_I64) {
			f->num_rows = cl_tr_i64(&r);
		} else if (id == 4 && t == CL_TT_LIST && have_schema && !f->chunks) {
			rc = read_row_groups(&r, f);
		} else if (id == 5 && t == CL_TT_LIST && !f->kv) {
			enum cl_thrift_type et;
			size_t n = cl_tr_list(&r, &et);
			f->kv = cl_calloc(2 * n + 1, sizeof(char *));
			if (!f->kv)
				return CL_ENOMEM;
			for (size_t i = 0; i < n && !r.err; i++) {
				int16_t k;
				enum cl_thrift_type kt;
				cl_tr_struct_begin(&r);
				while (cl_tr_field(&r, &k, &kt)) {
					if ((k == 1 || k == 2) && kt == CL_TT_BINARY && !f->kv[2 * i + k - 1])
						f->kv[2 * i + k - 1] = tr_str(&r);
					else
						cl_tr_skip(&r, kt);
				}
				cl_tr_struct_end(&r);
				f->nkv++;
			}
		} else if (id == 6 && t == CL_TT_BINARY && !f->created_by) {
			f->created_by = tr_str(&r);
		} else {
			cl_tr_skip(&r, t);
		}
	}
	if (rc)
		return rc;
	if (r.err)
		return cl_error_set(CL_ECORRUPT, "the Parquet footer is corrupt");
	if (!have_schema)
		return cl_error_set(CL_ECORRUPT, "the Parquet footer has no schema");
	if (!f->chunks) {
		f->chunks = cl_calloc(1, sizeof(*f->chunks));
		f->rg_rows = cl_calloc(1, sizeof(*f->rg_rows));
		if (!f->chunks || !f->rg_rows)
			return CL_ENOMEM;
	}
	return 0;
}

int cl_pq_open_mem(struct cl_pq_file **out, const void *buf, size_t len)
{
	struct cl_pq_file *f = cl_calloc(1, sizeof(*f));
	*out = NULL;
	if (!f)
		return CL_ENOMEM;
	f->base = buf;
	f->size = len;
	int rc = read_footer(f);
	if (rc) {
		cl_pq_close(f);
		return rc;
	}
	*out = f;
	return 0;
}

int cl_pq_open(struct cl_pq_file **out, const char *path)
{
	struct stat st;
	int fd, rc;
	*out = NULL;
	if ((rc = cl_fs_open(path, O_RDONLY, 0, &fd)))
		return rc;
	if (fstat(fd, &st) != 0 || st.st_size < 12) {
		close(fd);
		return cl_error_set(CL_ECORRUPT, "%s: too short to be a Parquet file", path);
	}
	void *p = mmap(NULL, (size_t)st.st_size, PROT_READ, MAP_PRIVATE, fd, 0);
	close(fd);
	if (p == MAP_FAILED)
		return cl_error_set(CL_EIO, "%s: cannot map it: %s", path, strerror(errno));
	rc = cl_pq_open_mem(out, p, (size_t)st.st_size);
	if (rc) {
		munmap(p, (size_t)st.st_size);
		return cl_error_set(rc, "%s: %s", path, cl_error_detail());
	}
	(*out)->mapped = 1;
	return 0;
}

void cl_pq_close(struct cl_pq_file *f)
{
	if (!f)
		return;
	if (f->mapped)
		munmap((void *)f->base, f->size);
	for (size_t i = 0; f->rn && i < f->nnodes; i++)
		cl_free(f->rn[i].name);
	cl_free(f->rn);
	cl_free(f->nodes);
	for (size_t i = 0; f->leaves && i < f->nleaves; i++)
		cl_free(f->leaves[i].name);
	cl_free(f->leaves);
	cl_free(f->leaf_node);
	cl_free(f->rg_rows);
	cl_free(f->chunks);
	for (size_t i = 0; f->kv && i < 2 * f->nkv; i++)
		cl_free(f->kv[i]);
	cl_free(f->kv);
	cl_free(f->created_by);
	cl_free(f);
}

int64_t cl_pq_num_rows(const struct cl_pq_file *f) { return f->num_rows; }
size_t cl_pq_num_row_groups(const struct cl_pq_file *f) { return f->nrg; }
int64_t cl_pq_row_group_rows(const struct cl_pq_file *f, size_t rg)
{
	return rg < f->nrg ? f->rg_rows[rg] : 0;
}
size_t cl_pq_num_leaves(const struct cl_pq_file *f) { return f->nleaves; }
const struct cl_pq_leaf *cl_pq_leaf(const struct cl_pq_file *f, size_t i)
{
	return i < f->nleaves ? &f->leaves[i] : NULL;
}
size_t cl_pq_num_nodes(const struct cl_pq_file *f) { return f->nnodes - 1; }
const struct cl_pq_node *cl_pq_node(const struct cl_pq_file *f, size_t i)
{
	return i + 1 < f->nnodes ? &f->nodes[i] : NULL;
}
const char *cl_pq_created_by(const struct cl_pq_file *f)
{
	return f->created_by ? f->created_by : "";
}

const char *cl_pq_kv(const struct cl_pq_file *f, const char *key)
{
	for (size_t i = 0; i < f->nkv; i++)
		if (f->kv[2 * i] && strcmp(f->kv[2 * i], key) == 0)
			return f->kv[2 * i + 1];
	return NULL;
}

int cl_pq_check_flat(const struct cl_pq_file *f)
{
	for (size_t i = 0; i < f->nleaves; i++)
		if (f->leaves[i].max_rep > 0)
			return cl_error_set(CL_ENOTSUP, "column '%s' is inside a list or map; nested "
					    "lists and maps are not supported", f->leaves[i].name);
	return 0;
}

