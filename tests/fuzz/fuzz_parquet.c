/*
 * Fuzz target: a Parquet file as `carelake table show` and the Delta
 * checkpoint reader take it. The bytes are opened as a file in memory;
 * then every column of every row group is read, one at a time and then all
 * at once on two threads (cl_pq_read_columns, as `table show` reads), and
 * every row group is assembled into records. Invariants: nothing is read outside the input;
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
		struct cl_pq_vec all[64];
		size_t nall = cl_pq_num_leaves(f) < 64 ? cl_pq_num_leaves(f) : 64;
		for (size_t c = 0; c < nall; c++)
			cl_pq_vec_init(&all[c], CL_PQ_NONE);
		for (size_t rg = 0; rg < cl_pq_num_row_groups(f) && rg < 16; rg++) {
			size_t n[64];
			int ok = 1;
			for (size_t c = 0; c < cl_pq_num_leaves(f) && c < 64; c++) {
				struct cl_pq_vec v;
				if (cl_pq_read_column(f, rg, c, &v) == CL_OK) {
					if (cl_pq_leaf(f, c)->max_rep == 0)
						assert((int64_t)v.n == cl_pq_row_group_rows(f, rg));
					n[c] = v.n;
					cl_pq_vec_free(&v);
				} else {
					ok = 0;
				}
			}
			/* again, every column at once on two threads into the vectors
			 * of the row group before: the same entries, or an error
			 * exactly when one column alone fails */
			int rc = cl_pq_read_columns(f, rg, NULL, nall, all, 2);
			assert((rc == CL_OK) == ok);
			for (size_t c = 0; rc == CL_OK && c < nall; c++)
				assert(all[c].n == n[c]);
			json_t *rows = json_array();
			if (cl_pq_read_records(f, rg, rows) == CL_OK)
				assert((int64_t)json_array_size(rows) == cl_pq_row_group_rows(f, rg));
			json_decref(rows);
		}
		for (size_t c = 0; c < nall; c++)
			cl_pq_vec_free(&all[c]);
		cl_pq_close(f);
	}
	free(buf);
	return 0;
}
