/*
 * Fuzz target: the YAML settings parser (libyaml underneath, our walk of
 * the document, and the checked conversions of every value type).
 */
#include "core/cl_config.h"
#include "core/cl_error.h"
#include "core/cl_log.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct cl_config c;
	int rc;

	cl_log_threshold = -1;
	cl_config_defaults(&c);
	rc = cl_config_load_yaml(&c, (const char *)data, size, "fuzz.yaml");
	if (rc != CL_OK && cl_error_detail()[0] == '\0')
		abort(); /* every failure must say why */
	/* whatever was accepted stays within the table's bounds */
	if (c.bronze.commit_max_records < 1 || c.bronze.commit_max_records > 1000000)
		abort();
	if (c.bronze.segment_max_bytes < 4096)
		abort();
	if (c.log_level < 0 || c.log_level > 3)
		abort();
	return 0;
}
