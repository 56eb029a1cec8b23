/*
 * Fuzz target: the checkpoint file parser. A checkpoint that parses must
 * be exactly what the writer would produce for its offset.
 */
#include "fuzz_entry.h"
#include "bronze/cl_checkpoint.h"
#include "core/cl_error.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const char prefix[] = "carelake-checkpoint v1 consumer=stream offset=";
	uint64_t off;

	if (cl_checkpoint_parse((const char *)data, size, "stream", &off) != CL_OK) {
		if (cl_error_detail()[0] == '\0')
			abort(); /* every rejection must say why */
		return 0;
	}
	/* accepted text is a checkpoint line for this consumer, CRC-checked */
	if (size < sizeof(prefix) - 1 + 1 + 17 ||
	    memcmp(data, prefix, sizeof(prefix) - 1) != 0)
		abort();
	return 0;
}
