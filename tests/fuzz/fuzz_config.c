/*
 * Fuzz target: the YAML settings parser (libyaml underneath, our walk of
 * the document, and the checked conversions of every value type).
 */
#include "fuzz_entry.h"
#include "core/cl_config.h"
#include "bronze/cl_bronze.h"
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
	if (cl_config_init(&c) != 0)
		return 0;
	rc = cl_config_load_yaml(&c, (const char *)data, size, "fuzz.yaml");
	if (rc != CL_OK && cl_error_detail()[0] == '\0')
		abort(); /* every failure must say why */
	/* whatever was accepted stays within the table's bounds */
	{
		const struct cl_blog_options *b = cl_bronze_settings(&c);
		const struct cl_log_settings *l = cl_config_get(&c, &cl_log_section);

		if (b->commit_max_records < 1 || b->commit_max_records > 1000000)
			abort();
		if (b->segment_max_bytes < 4096)
			abort();
		if (l->level < 0 || l->level > 3)
			abort();
	}
	cl_config_free(&c);
	return 0;
}
