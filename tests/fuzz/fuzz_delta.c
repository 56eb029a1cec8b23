/*
 * Fuzz target: a Delta log commit file as the snapshot reader replays it
 * (one JSON action per line: protocol, metaData, add, remove, cdc,
 * sidecar, commitInfo, and anything else), onto a state whose table
 * directory is /fuzz/table. Each input is replayed onto an empty state and
 * then onto the state it left; an input that is a JSON array is also
 * replayed as the rows of a checkpoint. Invariants: a clean replay leaves
 * every active file an object with a path, and every active or removed
 * file a path inside the table: relative, not empty, with no `..`
 * segment, however the log spelled it (%2e%2e, absolute, file: URIs).
 */
#include "fuzz_entry.h"
#include "core/cl_error.h"
#include "core/cl_mem.h"
#include "lake/cl_delta_int.h"

#include <assert.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

static void check_inside(const char *k)
{
	assert(k[0] != '\0' && k[0] != '/');
	for (const char *p = k;;) {
		const char *end = strchr(p, '/');
		size_t len = end ? (size_t)(end - p) : strlen(p);
		assert(!(len == 2 && p[0] == '.' && p[1] == '.'));
		if (!end)
			break;
		p = end + 1;
	}
}

static void check(const struct cl_delta_state *st)
{
	const char *k;
	json_t *a;
	json_object_foreach(st->files, k, a) {
		assert(json_is_object(a) && json_is_string(json_object_get(a, "path")));
		check_inside(k);
	}
	json_object_foreach(st->tombstones, k, a)
		check_inside(k);
}

static void init(struct cl_delta_state *st)
{
	cl_delta_state_init(st);
	st->root = cl_strdup("/fuzz/table"); /* absolute paths under it are its files */
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct cl_delta_state st;
	init(&st);
	for (int pass = 0; pass < 2; pass++) {
		if (cl_delta_replay_json(&st, (const char *)data, size, "fuzz.json") != CL_OK)
			break;
		check(&st);
	}
	cl_delta_state_free(&st);

	json_t *rows = json_loadb((const char *)data, size, 0, NULL);
	if (json_is_array(rows)) {
		init(&st);
		if (cl_delta_replay_rows(&st, rows, "fuzz.checkpoint.parquet") == CL_OK)
			check(&st);
		cl_delta_state_free(&st);
	}
	json_decref(rows);
	return 0;
}
