/*
 * Fuzz target: a Delta log commit file as the snapshot reader replays it
 * (one JSON action per line: protocol, metaData, add, remove, commitInfo,
 * and anything else). Each input is replayed onto an empty state and then
 * onto the state it left. Invariant: a clean replay leaves every active
 * file an object with a path.
 */
#include "core/cl_error.h"
#include "lake/cl_delta_int.h"

#include <assert.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct cl_delta_state st;
	cl_delta_state_init(&st);
	for (int pass = 0; pass < 2; pass++) {
		if (cl_delta_replay_json(&st, (const char *)data, size, "fuzz.json") != CL_OK)
			break;
		const char *k;
		json_t *a;
		json_object_foreach(st.files, k, a)
			assert(json_is_object(a) && json_is_string(json_object_get(a, "path")));
	}
	cl_delta_state_free(&st);
	return 0;
}
