/*
 * Fuzz target: a Parquet file as `carelake table show` and the Delta
 * checkpoint reader take it. The bytes are opened as a file in memory;
 * then every column of every row group is read, and every row group is
 * assembled into records. Invariants: nothing is read outside the input;
 * a column read whole has exactly as many entries as its chunk says and a
 * flat column one per row.
 */
#include "fuzz_entry.h"
#include "core/cl_error.h"
#include "core/cl_log.h"
#include "lake/cl_parquet.h"

#include <assert.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct cl_pq_file *f;
	/* a copy of exactly `size` bytes, so ASan sees any read past the end */
	uint8_t *buf = malloc(size ? size : 1);
	if (!buf)
		return 0;
	memcpy(buf, data, size);
	cl_log_threshold = -1;
	if (cl_pq_open_mem(&f, buf, size) == CL_OK) {
		for (size_t rg = 0; rg < cl_pq_num_row_groups(f) && rg < 16; rg++) {
			for (size_t c = 0; c < cl_pq_num_leaves(f) && c < 64; c++) {
				struct cl_pq_vec v;
				if (cl_pq_read_column(f, rg, c, &v) == CL_OK) {
					if (cl_pq_leaf(f, c)->max_rep == 0)
						assert((int64_t)v.n == cl_pq_row_group_rows(f, rg));
					cl_pq_vec_free(&v);
				}
			}
			json_t *rows = json_array();
			if (cl_pq_read_records(f, rg, rows) == CL_OK)
				assert((int64_t)json_array_size(rows) == cl_pq_row_group_rows(f, rg));
			json_decref(rows);
		}
		cl_pq_close(f);
	}
	free(buf);
	return 0;
}
