/*
 * Closed windows made right from the stored values. The serving store
 * holds every vital value (vital_event); a window the live windows
 * emitted is stored as it is when it is new, and made again from the
 * stored values whenever the live windows cannot know it whole:
 *
 * - values arrived after their window closed (late beyond the lateness):
 *   each closed window they belong to is computed from the store;
 * - a window is emitted that is stored already (a replay after a restart,
 *   or a window a late value opened again), or, for sessions, one that
 *   touches stored sessions (merging with them).
 *
 * A window that comes out the same as its stored row is left alone (so a
 * replay changes nothing); a new one is stored final at revision 1; a
 * changed one is stored corrected at the next revision and noted, for
 * publishing once the transaction commits. Merged sessions replace the
 * rows they absorbed. So the stored rollups always equal what a batch
 * computation over every stored value gives.
 *
 * Runs on the serving-store writer's connection, inside its transaction.
 */
#ifndef CL_ROLLUP_FIX_H
#define CL_ROLLUP_FIX_H

#include "stream/cl_window.h"

#include <jansson.h>
#include <stdint.h>

struct cl_store;

/* What one transaction corrected: a JSON object per window, and counts. */
struct cl_rollup_fixes {
	int wanted;              /* someone listens: note each as JSON */
	json_t *corrected;       /* array of {"patient_id", ...}; NULL: none yet */
	uint64_t ncorrected;     /* windows changed after they were final */
	uint64_t recomputed;     /* windows made from the stored values */
};

/* A window the live windows emitted, with the aggregate they kept. */
int cl_rollup_fix_emitted(struct cl_store *st, struct cl_rollup_fixes *fx,
			  const struct cl_window_spec *spec, const char *patient,
			  const char *vital, int64_t start_us, int64_t end_us,
			  const struct cl_agg_summary *sum, int64_t watermark);

/* The closed windows of a late span (cl_window_late_span's lo and hi),
 * from the stored values; watermark: the window's watermark then (a
 * session is not extended over values after it, whose session is open). */
int cl_rollup_fix_span(struct cl_store *st, struct cl_rollup_fixes *fx,
		       const struct cl_window_spec *spec, const char *patient, const char *vital,
		       int64_t lo, int64_t hi, int64_t watermark);

/* Forgets what was noted (the transaction rolled back). */
void cl_rollup_fixes_reset(struct cl_rollup_fixes *fx);

#endif
