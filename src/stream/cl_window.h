/*
 * Event-time windows over keyed streams of values (a key is a patient and
 * a vital), closed by a watermark.
 *
 *   tumbling  [k*size, (k+1)*size)                 fixed, back to back
 *   hopping   length size, starting every hop      overlapping
 *   sliding   (t - size, t] at each event time t   one per distinct event time
 *   session   events no more than gap apart        ends gap after its last event
 *
 * The caller moves the watermark (cl_window_advance): a window closes, and
 * is emitted with its aggregate, once the watermark reaches its end. With
 * the watermark kept at "latest event time minus the allowed lateness",
 * events arriving out of order by less than the lateness give exactly the
 * results sorted input would. An event whose windows have all closed is
 * late: it is counted, and the windows it belongs to are the caller's to
 * correct from the stored events (cl_window_late_span, cl_window_calc.h);
 * a late event still counts in the sliding windows yet to come.
 */
#ifndef CL_WINDOW_H
#define CL_WINDOW_H

#include "cl_agg.h"

#include <stddef.h>
#include <stdint.h>

enum cl_window_kind {
	CL_WIN_TUMBLING,
	CL_WIN_HOPPING,
	CL_WIN_SLIDING,
	CL_WIN_SESSION,
};

struct cl_window_spec {
	char name[32];              /* "1m", "1h", ... */
	enum cl_window_kind kind;
	int64_t size_us;            /* tumbling, hopping, sliding */
	int64_t hop_us;             /* hopping */
	int64_t gap_us;             /* session */
};

/* A closed window, handed to the emit callback. */
struct cl_window_out {
	const struct cl_window_spec *spec;
	const void *key;
	size_t key_len;
	int64_t start_us, end_us;
	const struct cl_agg *agg;
	int64_t watermark;          /* that closed it */
};

typedef void (*cl_window_emit_fn)(void *arg, const struct cl_window_out *w);

struct cl_window_op;

/* Checks a spec: sizes positive, hop dividing nothing in particular but
 * 0 < hop <= size. */
int cl_window_spec_check(const struct cl_window_spec *s);

int cl_window_op_create(const struct cl_window_spec *spec, cl_window_emit_fn emit,
			void *arg, struct cl_window_op **out);
void cl_window_op_destroy(struct cl_window_op *op);

/* Values come from up to three bronze logs: a value's offset carries its
 * log's index in its top two bits (CL_WINDOW_TAG). */
#define CL_WINDOW_SOURCES 3
#define CL_WINDOW_SOURCE_SHIFT 62
#define CL_WINDOW_TAG(src, offset) ((uint64_t)(offset) | (uint64_t)(src) << CL_WINDOW_SOURCE_SHIFT)
#define CL_WINDOW_TAG_SOURCE(tagged) ((int)((tagged) >> CL_WINDOW_SOURCE_SHIFT))
#define CL_WINDOW_TAG_OFFSET(tagged) ((tagged) & ((1ull << CL_WINDOW_SOURCE_SHIFT) - 1))

/*
 * Adds a value at event time ts for key; resolution is the value's
 * quantum for percentiles; offset is where the value came from (its
 * bronze offset, tagged with its source), see cl_window_min_offset. Returns 0, 1 if the event was
 * late (counted, not added), or CL_ENOMEM.
 */
int cl_window_add(struct cl_window_op *op, const void *key, size_t key_len,
		  int64_t ts_us, double value, double resolution, uint64_t offset);

/* The smallest offset of source src (0 to 2) of any value held in an open
 * window (UINT64_MAX if none): replaying that log from there rebuilds
 * every open window after a restart. */
uint64_t cl_window_min_offset(struct cl_window_op *op, int src);

/* Stops counting late events (while replaying what was counted before). */
void cl_window_set_replay(struct cl_window_op *op, int replaying);

/* Moves the watermark to w (never backwards) and emits every window whose
 * end is at or before it. */
void cl_window_advance(struct cl_window_op *op, int64_t w_us);

/* The watermark: windows ending at or before it have been emitted (or
 * were, before a restart: cl_window_set_stored). */
int64_t cl_window_watermark(const struct cl_window_op *op);

/*
 * The closed windows an event at ts belongs to, to be corrected from the
 * stored events: 1 with [*lo, *hi] set, 0 if it belongs to none. For
 * tumbling and hopping windows the span is of window starts; for sliding
 * windows, of window ends (event times); for sessions, the event's own
 * time, only when it was late (cl_window_add returned 1).
 */
int cl_window_late_span(const struct cl_window_op *op, int64_t ts, int late, int64_t *lo,
			int64_t *hi);

/* What a restart's replay does not rebuild: windows ending at or before
 * `stored` (the watermark last committed) were closed and may be stored,
 * so an event in them corrects them (cl_window_late_span) even while the
 * rebuilt watermark is still behind. */
void cl_window_set_stored(struct cl_window_op *op, int64_t stored);

/* Counters: windows open now, events counted late so far. */
uint64_t cl_window_open(const struct cl_window_op *op);
uint64_t cl_window_late(const struct cl_window_op *op);

#endif
