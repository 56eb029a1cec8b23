/*
 * A rolled-up window of one vital: what the stream processor computes
 * when a window closes (src/stream/cl_agg.h) and what the serving store
 * keeps and serves (src/store/cl_store.h).
 */
#ifndef CL_ROLLUP_H
#define CL_ROLLUP_H

#include <stdint.h>

/* What a closed window reports. */
struct cl_agg_summary {
	uint64_t count;
	double min, max, mean, stddev;  /* stddev: sample (n-1), 0 for one value */
	double p50, p90, p99;
};

/* One value of a vital at an event time. */
struct cl_point {
	int64_t ts;
	double v;
};

/*
 * Where a window stands: provisional while it is open (only ever shown,
 * never stored), final once closed, corrected once late values changed it
 * after it was final. Stored rows carry a revision: 1 when first final,
 * one more at each correction.
 */
enum cl_rollup_status {
	CL_ROLLUP_PROVISIONAL,
	CL_ROLLUP_FINAL,
	CL_ROLLUP_CORRECTED,
};

/* "provisional", "final", "corrected". */
const char *cl_rollup_status_name(enum cl_rollup_status st);

/* A window of one vital as stored or shown. */
struct cl_rollup_row {
	const char *vital;       /* a name of cl_vitals.h (shown rows) */
	int64_t start_us, end_us;
	struct cl_agg_summary sum;
	enum cl_rollup_status status;
	int64_t revision;        /* 0 for a provisional one */
};

#endif
