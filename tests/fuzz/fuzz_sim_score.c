/*
 * Fuzz target: what `carelake simulate --score` reads from outside — a
 * ground-truth file and a file (or a server's answer) of alerts. The
 * first byte picks which part of the input is the truth (the rest is the
 * alerts). Whatever the bytes, each parser either succeeds or fails with
 * a detail naming the line, and the scores computed from what parsed are
 * proportions between 0 and 1 where they are defined, with no more
 * detected episodes than episodes.
 */
#include "fuzz_entry.h"
#include "core/cl_error.h"
#include "sim/cl_sim_score.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void ratio(double v)
{
	if (!isnan(v) && !(v >= 0 && v <= 1))
		abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct cl_sim_truth t = { 0 };
	struct cl_sim_alerts a = { 0 };
	struct cl_sim_score r;
	size_t cut;
	int rt, ra;

	if (size < 1)
		return 0;
	cut = size > 1 ? (size_t)data[0] * (size - 1) / 255 : 0;
	rt = cl_sim_truth_parse(&t, (const char *)data + 1, cut);
	if (rt != CL_OK && !strstr(cl_error_detail(), "line") && rt != CL_ENOMEM)
		abort(); /* an error names where */
	ra = cl_sim_alerts_parse(&a, (const char *)data + 1 + cut, size - 1 - cut);
	if (ra != CL_OK && !cl_error_detail()[0])
		abort();
	if (rt == CL_OK && ra == CL_OK && cl_sim_score_compute(&t, &a, &r) == CL_OK) {
		FILE *devnull = fopen("/dev/null", "w");

		if (r.detected > r.episodes || r.true_alerts > r.clinical_alerts)
			abort();
		ratio(r.recall);
		ratio(r.precision);
		ratio(r.recall_crisis);
		ratio(r.recall_news2_high);
		if (devnull) {
			cl_sim_score_print(&r, 1, devnull);
			cl_sim_score_print(&r, 0, devnull);
			fclose(devnull);
		}
	}
	cl_sim_truth_free(&t);
	cl_sim_alerts_free(&a);
	return 0;
}
