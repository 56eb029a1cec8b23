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

#endif
