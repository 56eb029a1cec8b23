/*
 * in_synthetic: the vital-signs simulator (src/sim/cl_sim.h) as an input
 * plugin, emitting its device events — with injected episodes, late and
 * duplicate deliveries — straight into bronze through its ingest, without
 * HTTP, every 100 ms (`ingest.inputs=events,fhir,synthetic`). All data is
 * synthetic.
 */
#include "cl_in_synthetic.h"
#include "core/cl_error.h"
#include "core/cl_mem.h"
#include "sim/cl_sim.h"

#include <stddef.h>
#include <string.h>

struct settings {
	uint32_t patients;  /* patients simulated */
	uint32_t rate;      /* events per second, all patients together */
	uint32_t seed;      /* random seed */
};

static const struct cl_config_entry entries[] = {
	{ "patients", CL_CFG_U32, "16", 1, 100000, offsetof(struct settings, patients),
	  "number of simulated patients, ids patient-0001...", NULL },
	{ "rate", CL_CFG_U32, "2000", 1, 10000000, offsetof(struct settings, rate),
	  "events per second across all patients", NULL },
	{ "seed", CL_CFG_U32, "1", 0, UINT32_MAX, offsetof(struct settings, seed),
	  "random seed; the same seed gives the same stream", NULL },
};

struct state {
	struct cl_sim_options o;
	struct cl_sim *sim;
	char *buf;
	size_t len, cap;
	size_t pending;       /* bytes of buf not yet emitted (backpressure) */
};

static int syn_init(struct cl_input *in, void **out)
{
	const struct settings *set = cl_config_get(in->cfg, &cl_in_synthetic_section);
	struct state *st = cl_calloc(1, sizeof(*st));

	if (!st)
		return cl_error_set(CL_ENOMEM, "no memory for in_synthetic");
	cl_sim_options_default(&st->o);
	st->o.patients = set->patients;
	st->o.rate = set->rate;
	st->o.seed = set->seed;
	*out = st;
	return CL_OK;
}

static int syn_collect(void *state, int64_t now_us, cl_emit_fn emit, void *arg)
{
	struct state *st = state;
	size_t pos;
	int count = 0;

	if (!st->sim && cl_sim_create(&st->o, now_us, &st->sim) != CL_OK)
		return CL_ENOMEM;
	if (st->pending == 0) {
		st->len = 0;
		if (cl_sim_events(st->sim, now_us, &st->buf, &st->len, &st->cap) < 0)
			return CL_ENOMEM;
		st->pending = st->len;
	}
	/* one record per line; what bronze cannot take now waits */
	for (pos = st->len - st->pending; pos < st->len;) {
		char *nl = memchr(st->buf + pos, '\n', st->len - pos);
		size_t end = nl ? (size_t)(nl - st->buf) : st->len;
		int rc = emit(arg, st->buf + pos, end - pos);

		if (rc == CL_EBUSY)
			break;
		if (rc)
			return rc;
		pos = end + 1;
		count++;
	}
	st->pending = pos < st->len ? st->len - pos : 0;
	return count;
}

static void syn_exit(struct cl_input *in)
{
	struct state *st = in->state;

	if (!st)
		return;
	cl_sim_destroy(st->sim);
	cl_free(st->buf);
	cl_free(st);
}

const struct cl_config_section cl_in_synthetic_section = {
	.name = "synthetic",
	.entries = entries,
	.nentries = sizeof(entries) / sizeof(entries[0]),
	.size = sizeof(struct settings),
};

const struct cl_input_plugin cl_in_synthetic = {
	.name = "synthetic",
	.description = "the vital-signs simulator, straight into bronze (no HTTP)",
	.kind = CL_INPUT_EVENTS,
	.settings = &cl_in_synthetic_section,
	.cb_init = syn_init,
	.cb_collect = syn_collect,
	.interval_us = 100000,
	.cb_exit = syn_exit,
};
