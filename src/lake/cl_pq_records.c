/*
 * cl_pq_records.c — whole records of a Parquet row group as JSON objects
 * (see cl_parquet.h): Dremel's record assembly from every leaf's values
 * and levels.
 *
 * Each leaf is read whole; then, row by row, each leaf's entries of that
 * row are walked down its path. At a repeated node the entry's repetition
 * level says whether it starts a new element (its level or shallower) or
 * continues the last one (deeper); a per-leaf index per repeated node
 * keeps leaves of the same element in step. A node not defined at the
 * entry's definition level ends the walk: null for an optional node, an
 * empty array for a repeated one. Groups annotated LIST become arrays of
 * their elements, MAP groups objects keyed by their keys.
 */
#include "lake/cl_parquet.h"

#include <stdio.h>
#include <string.h>

#include "core/cl_error.h"
#include "core/cl_mem.h"
#include "core/cl_utf8.h"
#include "lake/cl_pq_file.h"
#include "lake/cl_pq_format.h"

#define MAX_PATH 32

static int is_list(const struct cl_pq_rnode *n)
{
	return n->converted == CL_PQF_CT_LIST || n->logical == 3;
}

static int is_map(const struct cl_pq_rnode *n)
{
	return n->converted == CL_PQF_CT_MAP || n->converted == CL_PQF_CT_MAP_KEY_VALUE ||
	       n->logical == 2;
}

static json_t *leaf_json(const struct cl_pq_vec *v, size_t i)
{
	switch (v->type) {
	case CL_PQ_BOOL: return json_boolean(v->v.b[i]);
	case CL_PQ_INT32:
	case CL_PQ_DATE: return json_integer(v->v.i32[i]);
	case CL_PQ_INT64:
	case CL_PQ_TIMESTAMP: return json_integer(v->v.i64[i]);
	case CL_PQ_FLOAT: return json_real(v->v.f32[i]);
	case CL_PQ_DOUBLE: return json_real(v->v.f64[i]);
	default: {
		size_t len;
		const char *s = cl_pq_vec_str(v, i, &len);
		return cl_pq_bytes_json(s, len);
	}
	}
}

json_t *cl_pq_bytes_json(const char *s, size_t len)
{
	if (cl_utf8_check(s, len) == len)
		return json_stringn(s, len);
	char *hex = cl_malloc(2 * len + 1);
	if (!hex)
		return NULL;
	for (size_t k = 0; k < len; k++)
		snprintf(hex + 2 * k, 3, "%02x", (unsigned char)s[k]);
	json_t *j = json_stringn(hex, 2 * len);
	cl_free(hex);
	return j;
}

/* The array held at `key` of object `o` (created if absent). */
static json_t *array_at(json_t *o, const char *key)
{
	if (!json_is_object(o))
		return NULL; /* levels that contradict the schema */
	json_t *a = json_object_get(o, key);
	if (!json_is_array(a)) {
		a = json_array();
		if (json_object_set_new(o, key, a) != 0)
			return NULL;
	}
	return a;
}

static json_t *object_at(json_t *o, const char *key)
{
	if (!json_is_object(o))
		return NULL;
	json_t *x = json_object_get(o, key);
	if (!json_is_object(x)) {
		x = json_object();
		if (json_object_set_new(o, key, x) != 0)
			return NULL;
	}
	return x;
}

/* Places one entry (value slot i of v, levels d and r) of a leaf whose
 * path from the top is path[0..depth). idx[] tracks the element each
 * repeated node is at, for this leaf. */
static void place(const struct cl_pq_file *f, const int *path, int depth, json_t *row,
		  const struct cl_pq_vec *v, size_t i, int d, int r, int64_t *idx)
{
	json_t *container = row;       /* an object fields go into */
	json_t *arr = NULL;            /* the array a LIST/MAP group opened */
	for (int j = 0; j < depth; j++) {
		const struct cl_pq_rnode *n = &f->rn[path[j]];
		int leaf = j == depth - 1;
		if (n->repetition == CL_PQF_REPEATED) {
			json_t *a = arr ? arr : array_at(container, n->name);
			arr = NULL;
			if (!a)
				return;
			if (d < n->def)
				return; /* no elements: the array stays empty */
			if (r < n->rep)
				idx[j] = 0;
			else if (r == n->rep)
				idx[j]++;
			if (idx[j] < 0)
				idx[j] = 0;
			while ((int64_t)json_array_size(a) <= idx[j])
				if (json_array_append_new(a, leaf ? json_null() : json_object()) != 0)
					return;
			if (leaf) {
				json_array_set_new(a, (size_t)idx[j], leaf_json(v, i));
				return;
			}
			container = json_array_get(a, (size_t)idx[j]);
			if (!json_is_object(container))
				return;
			continue;
		}
		if (!json_is_object(container))
			return;
		if (d < n->def) {
			/* not defined here: null, unless a sibling leaf filled it */
			if (arr)
				return;
			if (!json_object_get(container, n->name))
				json_object_set_new(container, n->name, json_null());
			return;
		}
		if (leaf) {
			if (arr)
				return;
			json_object_set_new(container, n->name, leaf_json(v, i));
			return;
		}
		if (arr)
			return; /* a LIST/MAP group must hold a repeated group */
		if (is_list(n) || is_map(n)) {
			if (!(arr = array_at(container, n->name)))
				return;
			continue;
		}
		if (!(container = object_at(container, n->name)))
			return;
	}
}

/* One past the last node of node i's subtree (nodes are depth first). */
static int subtree_end(const struct cl_pq_file *f, int i)
{
	int end = i + 1, pending = f->rn[i].nchildren;
	while (pending > 0 && end < (int)f->nnodes) {
		pending += f->rn[end].nchildren - 1;
		end++;
	}
	return end;
}

/* Turns LIST groups' elements into plain values and MAP groups into
 * objects, below node `i` whose JSON value is x. */
static json_t *shape(const struct cl_pq_file *f, int i, json_t *x);

static json_t *shape_children(const struct cl_pq_file *f, int i, json_t *obj)
{
	/* the children of node i follow it in the node list */
	int c = i + 1;
	for (int k = 0; k < f->rn[i].nchildren && c < (int)f->nnodes; k++) {
		json_t *v = json_object_get(obj, f->rn[c].name);
		if (v)
			json_object_set_new(obj, f->rn[c].name, shape(f, c, json_incref(v)));
		c = subtree_end(f, c);
	}
	return obj;
}

static json_t *shape(const struct cl_pq_file *f, int i, json_t *x)
{
	const struct cl_pq_rnode *n = &f->rn[i];
	if (!x || json_is_null(x) || n->physical >= 0)
		return x;
	int child = i + 1;
	if (json_is_array(x) && n->repetition != CL_PQF_REPEATED && (is_list(n) || is_map(n))) {
		const struct cl_pq_rnode *rep = &f->rn[child];
		json_t *out = is_map(n) ? json_object() : json_array();
		size_t k;
		json_t *el;
		json_array_foreach(x, k, el) {
			if (rep->physical < 0)
				el = shape_children(f, child, json_incref(el));
			else
				json_incref(el);
			if (is_map(n)) {
				json_t *key = json_object_get(el, f->rn[child + 1].name);
				json_t *val = rep->nchildren > 1 ? json_object_get(el, f->rn[child + 2].name)
								 : NULL;
				if (json_is_string(key))
					json_object_set(out, json_string_value(key), val ? val : json_null());
			} else if (rep->physical < 0 && rep->nchildren == 1) {
				json_t *inner = json_object_get(el, f->rn[child + 1].name);
				json_array_append(out, inner ? inner : json_null());
			} else {
				json_array_append(out, el);
			}
			json_decref(el);
		}
		json_decref(x);
		return out;
	}
	if (json_is_array(x)) { /* a bare repeated group */
		size_t k;
		json_t *el;
		json_array_foreach(x, k, el)
			shape_children(f, i, el);
		return x;
	}
	if (json_is_object(x))
		return shape_children(f, i, x);
	return x;
}

int cl_pq_read_records(struct cl_pq_file *f, size_t rg, json_t *rows)
{
	size_t nl = f->nleaves;
	int64_t nrows = cl_pq_row_group_rows(f, rg);
	struct cl_pq_vec *v = cl_calloc(nl ? nl : 1, sizeof(*v));
	size_t *cur = cl_calloc(nl ? nl : 1, sizeof(*cur));
	int rc = 0;

	if (!v || !cur) {
		cl_free(v);
		cl_free(cur);
		return CL_ENOMEM;
	}
	if (rg >= f->nrg)
		rc = cl_error_set(CL_EINVAL, "no row group %zu", rg);
	else if (nrows > cl_pq_max_entries(f))
		rc = cl_error_set(CL_ETOOBIG, "row group %zu claims %lld rows in a file of %zu bytes",
				  rg, (long long)nrows, f->size);
	for (size_t l = 0; rc == 0 && l < nl; l++)
		rc = cl_pq_read_column(f, rg, l, &v[l]);
	json_t **objs = NULL;
	if (rc == 0 && nrows > 0) {
		objs = cl_calloc((size_t)nrows, sizeof(*objs));
		if (!objs)
			rc = CL_ENOMEM;
	}
	for (int64_t row = 0; rc == 0 && row < nrows; row++) {
		json_t *o = json_object();
		if (!o) {
			rc = CL_ENOMEM;
			break;
		}
		objs[row] = o;
		for (size_t l = 0; l < nl; l++) {
			int path[MAX_PATH], depth = 0;
			for (int k = (int)f->leaf_node[l]; k > 0 && depth < MAX_PATH;
			     k = f->rn[k].parent < 0 ? 0 : f->rn[k].parent)
				path[depth++] = k;
			for (int a = 0, b = depth - 1; a < b; a++, b--) {
				int t = path[a];
				path[a] = path[b];
				path[b] = t;
			}
			int64_t idx[MAX_PATH];
			for (int k = 0; k < depth; k++)
				idx[k] = -1;
			const struct cl_pq_vec *lv = &v[l];
			size_t i = cur[l];
			if (i >= lv->n) {
				rc = cl_error_set(CL_ECORRUPT, "column '%s' has fewer records than its row "
						  "group", f->leaves[l].name);
				break;
			}
			do {
				int d = lv->def ? lv->def[i] : (lv->valid[i] ? f->leaves[l].max_def
									     : f->leaves[l].max_def - 1);
				int r = lv->rep ? lv->rep[i] : 0;
				place(f, path, depth, o, lv, i, d, r, idx);
				i++;
			} while (i < lv->n && lv->rep && lv->rep[i] > 0);
			cur[l] = i;
		}
	}
	/* the final shapes of lists and maps */
	for (int64_t row = 0; rc == 0 && row < nrows; row++) {
		json_t *o = shape_children(f, 0, objs[row]); /* the root's children */
		json_array_append_new(rows, o);
		objs[row] = NULL;
	}
	for (int64_t row = 0; objs && row < nrows; row++)
		json_decref(objs[row]);
	cl_free(objs);
	for (size_t l = 0; l < nl; l++)
		cl_pq_vec_free(&v[l]);
	cl_free(v);
	cl_free(cur);
	return rc;
}
