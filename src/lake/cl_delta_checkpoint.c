/*
 * cl_delta_checkpoint.c — Delta checkpoints: the state of a version as one
 * Parquet file of actions, so readers start there instead of replaying
 * every JSON commit, and `_last_checkpoint` pointing at the newest.
 *
 * The file has Spark's shape — top-level optional structs add, remove,
 * metaData and protocol, one non-null per row; maps as MAP groups of
 * key_value {key, value}; lists as LIST groups of list {element} — so any
 * Delta reader takes it. Rows are shredded from the same JSON objects the
 * commits hold, by walking this schema (Dremel's definition and
 * repetition levels); reading goes through cl_pq_read_records().
 */
#include "lake/cl_delta.h"
#include "lake/cl_delta_int.h"
#include "lake/cl_lake_loc.h"

#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/cl_error.h"
#include "core/cl_fs.h"
#include "core/cl_mem.h"
#include "lake/cl_pq_format.h"

#define S CL_PQ_STRING
#define L CL_PQ_INT64
#define I CL_PQ_INT32
#define B CL_PQ_BOOL
#define G CL_PQ_NONE
#define OPT CL_PQF_OPTIONAL
#define REQ CL_PQF_REQUIRED
#define REP CL_PQF_REPEATED

/* A MAP<string,string> named n: 4 nodes. */
#define MAP(n) { n, G, OPT, 1, CL_PQF_CT_MAP }, { "key_value", G, REP, 2, -1 }, \
	       { "key", S, REQ, 0, -1 }, { "value", S, OPT, 0, -1 }

static const struct cl_pq_node nodes[] = {
	{ "add", G, OPT, 6, -1 },
	{ "path", S, OPT, 0, -1 },
	MAP("partitionValues"),
	{ "size", L, OPT, 0, -1 },
	{ "modificationTime", L, OPT, 0, -1 },
	{ "dataChange", B, OPT, 0, -1 },
	{ "stats", S, OPT, 0, -1 },
	{ "remove", G, OPT, 6, -1 },
	{ "path", S, OPT, 0, -1 },
	{ "deletionTimestamp", L, OPT, 0, -1 },
	{ "dataChange", B, OPT, 0, -1 },
	{ "extendedFileMetadata", B, OPT, 0, -1 },
	MAP("partitionValues"),
	{ "size", L, OPT, 0, -1 },
	{ "metaData", G, OPT, 8, -1 },
	{ "id", S, OPT, 0, -1 },
	{ "name", S, OPT, 0, -1 },
	{ "description", S, OPT, 0, -1 },
	{ "format", G, OPT, 2, -1 },
	{ "provider", S, OPT, 0, -1 },
	MAP("options"),
	{ "schemaString", S, OPT, 0, -1 },
	{ "partitionColumns", G, OPT, 1, CL_PQF_CT_LIST },
	{ "list", G, REP, 1, -1 },
	{ "element", S, OPT, 0, -1 },
	MAP("configuration"),
	{ "createdTime", L, OPT, 0, -1 },
	{ "protocol", G, OPT, 2, -1 },
	{ "minReaderVersion", I, OPT, 0, -1 },
	{ "minWriterVersion", I, OPT, 0, -1 },
};
#define NNODES (sizeof(nodes) / sizeof(nodes[0]))

/* Shredding state: the writer and the next leaf per node. */
struct shred {
	struct cl_pq_writer *w;
	size_t leaf_of[NNODES];   /* first leaf index under each node */
	size_t end_of[NNODES];    /* one past the node's subtree */
};

static size_t layout(struct shred *s, size_t i, size_t *leaf)
{
	s->leaf_of[i] = *leaf;
	size_t j = i + 1;
	if (nodes[i].type != G)
		(*leaf)++;
	for (int c = 0; c < nodes[i].nchildren; c++)
		j = layout(s, j, leaf);
	s->end_of[i] = j;
	return j;
}

/* Every leaf under node i gets an entry without a value at `def`. */
static void nulls(struct shred *s, size_t i, uint8_t def, uint8_t rep)
{
	size_t leaf = s->leaf_of[i];
	for (size_t k = i; k < s->end_of[i]; k++) {
		if (nodes[k].type == G)
			continue;
		struct cl_pq_vec *v = cl_pq_writer_col(s->w, leaf++);
		cl_pq_vec_push_null(v);
		cl_pq_vec_set_levels(v, def, rep);
	}
}

static void value(struct shred *s, size_t i, json_t *x, uint8_t def, uint8_t rep)
{
	struct cl_pq_vec *v = cl_pq_writer_col(s->w, s->leaf_of[i]);
	uint8_t d = (uint8_t)(def + (nodes[i].repetition == OPT ? 1 : 0));
	switch (nodes[i].type) {
	case CL_PQ_STRING:
		if (!json_is_string(x))
			goto null;
		cl_pq_vec_push_str(v, json_string_value(x), json_string_length(x));
		break;
	case CL_PQ_INT64:
	case CL_PQ_INT32:
		if (!json_is_integer(x))
			goto null;
		if (nodes[i].type == CL_PQ_INT64)
			cl_pq_vec_push_i64(v, json_integer_value(x));
		else
			cl_pq_vec_push_i32(v, (int32_t)json_integer_value(x));
		break;
	case CL_PQ_BOOL:
		if (!json_is_boolean(x))
			goto null;
		cl_pq_vec_push_bool(v, json_is_true(x));
		break;
	default:
		goto null;
	}
	cl_pq_vec_set_levels(v, d, rep);
	return;
null:
	cl_pq_vec_push_null(v);
	cl_pq_vec_set_levels(v, def, rep);
}

/* Shreds JSON value x at node i: `def` is the definition level reached
 * by its parent, `rep` the repetition level of this entry, `depth` the
 * repeated ancestors so far. */
static void shred(struct shred *s, size_t i, json_t *x, uint8_t def, uint8_t rep, uint8_t depth)
{
	const struct cl_pq_node *n = &nodes[i];
	if (n->type != G) {
		value(s, i, x, def, rep);
		return;
	}
	if (!x || json_is_null(x)) {
		nulls(s, i, def, rep);
		return;
	}
	uint8_t d = (uint8_t)(def + 1); /* every group here is optional */
	if (n->converted == CL_PQF_CT_MAP || n->converted == CL_PQF_CT_LIST) {
		/* the repeated group below: one entry per key or element */
		size_t kv = i + 1;
		size_t count = n->converted == CL_PQF_CT_MAP ? json_object_size(x)
							     : json_array_size(x);
		if (count == 0) {
			nulls(s, kv, d, rep);
			return;
		}
		size_t k = 0;
		if (n->converted == CL_PQF_CT_MAP) {
			const char *key;
			json_t *val;
			json_object_foreach(x, key, val) {
				uint8_t r = k++ == 0 ? rep : (uint8_t)(depth + 1);
				json_t *kj = json_string(key);
				shred(s, kv + 1, kj, (uint8_t)(d + 1), r, (uint8_t)(depth + 1));
				shred(s, kv + 2, val, (uint8_t)(d + 1), r, (uint8_t)(depth + 1));
				json_decref(kj);
			}
		} else {
			size_t idx;
			json_t *el;
			json_array_foreach(x, idx, el) {
				uint8_t r = k++ == 0 ? rep : (uint8_t)(depth + 1);
				shred(s, kv + 1, el, (uint8_t)(d + 1), r, (uint8_t)(depth + 1));
			}
		}
		return;
	}
	size_t c = i + 1;
	for (int k = 0; k < n->nchildren; k++) {
		shred(s, c, json_object_get(x, nodes[c].name), d, rep, depth);
		c = s->end_of[c];
	}
}

/* Appends one action (an object with one of the top-level keys) as a row. */
static int row(struct shred *s, json_t *action)
{
	size_t i = 0;
	while (i < NNODES) {
		json_t *x = json_object_get(action, nodes[i].name);
		if (x && !json_is_object(x))
			x = NULL;
		shred(s, i, x, 0, 0, 0);
		i = s->end_of[i];
	}
	return cl_pq_writer_rows(s->w, 1);
}

int cl_delta_checkpoint(const char *path, int64_t version)
{
	struct cl_delta_listing l;
	struct cl_delta_state st;
	struct shred s = { 0 };
	char file[PATH_MAX + 64], tmp[PATH_MAX + 80], last[PATH_MAX + 64];
	int rc;

	if ((rc = cl_delta_list(path, &l)))
		return rc;
	cl_delta_state_init(&st);
	rc = cl_delta_replay(path, &l, version, &st);
	cl_delta_listing_free(&l);
	if (rc) {
		cl_delta_state_free(&st);
		return rc;
	}
	size_t leaf = 0;
	for (size_t i = 0; i < NNODES; i = layout(&s, i, &leaf))
		;
	snprintf(file, sizeof(file), "%s/_delta_log/%020lld.checkpoint.parquet", path,
		 (long long)version);
	if (cl_lake_loc_remote(path)) {
		/* written whole in the staging directory, then uploaded */
		if ((rc = cl_lake_loc_stage(file, tmp, sizeof(tmp)))) {
			cl_delta_state_free(&st);
			return rc;
		}
	} else {
		snprintf(tmp, sizeof(tmp), "%s/_delta_log/.%020lld.checkpoint.parquet.tmp", path,
			 (long long)version);
	}
	cl_fs.unlink(tmp); /* left by a writer that died */
	struct cl_pq_write_opts o = { .codec = CL_PQ_CODEC_SNAPPY, .threads = 1 };
	rc = cl_pq_writer_open_nested(&s.w, tmp, nodes, NNODES, &o);
	int64_t actions = 0;
	if (rc == 0) {
		json_t *p = json_pack("{s:O}", "protocol", st.protocol);
		json_t *m = json_pack("{s:O}", "metaData", st.metadata);
		rc = p && m ? row(&s, p) : CL_ENOMEM;
		if (rc == 0)
			rc = row(&s, m);
		json_decref(p);
		json_decref(m);
		actions = 2;
		const char *k;
		json_t *a;
		for (int pass = 0; pass < 2 && rc == 0; pass++)
			json_object_foreach(pass ? st.tombstones : st.files, k, a) {
				json_t *r = json_pack("{s:O}", pass ? "remove" : "add", a);
				rc = r ? row(&s, r) : CL_ENOMEM;
				json_decref(r);
				actions++;
				if (rc)
					break;
			}
		struct cl_pq_file_stats fs;
		if (rc == 0) {
			rc = cl_pq_writer_close(s.w, &fs);
			if (rc == 0)
				cl_pq_file_stats_free(&fs);
		} else {
			cl_pq_writer_abort(s.w);
		}
	}
	cl_delta_state_free(&st);
	/* the checkpoint appears whole, then the pointer to it */
	struct stat sb;
	long long bytes = rc == 0 && stat(tmp, &sb) == 0 ? (long long)sb.st_size : 0LL;
	if (rc == 0)
		rc = cl_lake_loc_publish(tmp, file);
	if (rc == 0) {
		char text[160];
		int n = snprintf(text, sizeof(text), "{\"version\":%lld,\"size\":%lld,"
				 "\"sizeInBytes\":%lld}\n", (long long)version, (long long)actions,
				 bytes);
		snprintf(last, sizeof(last), "%s/_delta_log/_last_checkpoint", path);
		rc = cl_lake_loc_replace(last, text, (size_t)n);
	}
	if (rc)
		cl_fs.unlink(tmp);
	return rc;
}

int cl_delta_read_checkpoint(const char *path, int64_t v, struct cl_delta_state *s)
{
	char file[PATH_MAX + 64];
	struct cl_pq_file *f;
	int rc;

	snprintf(file, sizeof(file), "%s/_delta_log/%020lld.checkpoint.parquet", path,
		 (long long)v);
	if ((rc = cl_delta_state_root(s, path)))
		return rc;
	if ((rc = cl_lake_loc_open_parquet(file, &f)))
		return cl_error_set(rc, "%s: %s", file, cl_error_detail());
	for (size_t rg = 0; rc == 0 && rg < cl_pq_num_row_groups(f); rg++) {
		json_t *rows = json_array();
		rc = rows ? cl_pq_read_records(f, rg, rows) : CL_ENOMEM;
		if (rc)
			rc = cl_error_set(rc, "%s: %s", file, cl_error_detail());
		else
			rc = cl_delta_replay_rows(s, rows, file);
		json_decref(rows);
	}
	cl_pq_close(f);
	return rc;
}
