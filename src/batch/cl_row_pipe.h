/*
 * Loading a file on two cores: a producer thread reads the file and builds
 * its silver rows (parsing, converting and checking the values, and the
 * fingerprint that tells a duplicate from a correction, cl_row_seal), while
 * the thread that holds carelake.db's transaction does nothing but write
 * them (cl_silver_put) and the quarantine entries, in the file's order.
 *
 * The producer hands rows over in blocks (a few dozen rows, a few blocks in
 * flight), so the two threads meet once per block, not once per row. The
 * producer never touches the database: everything that does (expectations,
 * the quarantine, the counts) happens on the writing thread, exactly as a
 * load on one thread does it, so the outcome of a load — rows, quarantine,
 * counts, the first error and its message — is the same either way. A
 * write that fails stops the producer; rows it built and that were not
 * written are released. When no thread can be made, the producer runs on
 * the calling thread and each row is written as soon as it is built.
 *
 *   rc = cl_row_pipe_run(silver, counts, produce, arg);
 *
 *   produce(p, arg):                  (on the producer thread)
 *     r = cl_row_pipe_next(p, table, "line 17");   NULL: stop
 *     ... cl_row_text(r, ...) ...
 *     cl_row_pipe_put(p);             or cl_row_pipe_quarantine(p, ...)
 */
#ifndef CL_ROW_PIPE_H
#define CL_ROW_PIPE_H

#include "batch/cl_silver.h"

#include <stddef.h>

struct cl_row_pipe;

/*
 * Runs produce(p, arg) on a producer thread and writes what it hands over
 * into s on the calling thread, which must hold the transaction. Returns
 * the first error in the file's order: a write's (its message set on the
 * calling thread as cl_silver_put set it), or produce's own negative
 * return (its cl_error_set message carried over to the calling thread).
 */
int cl_row_pipe_run(struct cl_silver *s, struct cl_silver_counts *c,
		    int (*produce)(struct cl_row_pipe *p, void *arg), void *arg);

/*
 * For produce: the next row to build, initialised for table t with
 * `record` (copied: where in the file, "line 17"). NULL once the writer
 * has stopped (a write failed): produce then returns at once (any value).
 */
struct cl_row *cl_row_pipe_next(struct cl_row_pipe *p, const struct cl_table *t,
				const char *record);

/* For produce: hands the row cl_row_pipe_next gave over to be written (it
 * is sealed here). Negative once the writer has stopped. */
int cl_row_pipe_put(struct cl_row_pipe *p);

/*
 * For produce: hands over a record for the quarantine instead (counted as
 * a record offered), with the reason, and raw: the record's text (copied
 * when it does not lie in `keep`, the buffer that outlives the load, of
 * keep_len bytes; at most 64 KiB kept, as the quarantine keeps). A row
 * cl_row_pipe_next gave and not put is released and gives its place.
 * record may be NULL. Negative once the writer has stopped.
 */
int cl_row_pipe_quarantine(struct cl_row_pipe *p, const char *table, const char *record,
			   const char *why, const char *raw, size_t raw_len, const char *keep,
			   size_t keep_len);

#endif
