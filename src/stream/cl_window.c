/*
 * Windows. See cl_window.h.
 *
 * Per key, tumbling and hopping keep their open windows sorted by start;
 * sessions keep theirs sorted by first event; sliding keeps the events of
 * the last `size` and emits at each distinct event time once the
 * watermark passes it.
 */
#include "cl_window.h"
#include "core/cl_error.h"
#include "core/cl_map.h"
#include "core/cl_mem.h"

#include <limits.h>
#include <string.h>

struct win {
	int64_t start, end;     /* session: first and last event time */
	uint64_t min_off[CL_WINDOW_SOURCES]; /* smallest offset of its values, by source */
	struct cl_agg agg;
};

struct point {
	int64_t ts;
	double v;
	uint64_t off;
	int late;               /* came after its own window was due: that
				 * window is the caller's to correct */
};

struct key_state {
	double resolution;
	struct win *w;          /* tumbling, hopping, session */
	uint32_t nw, capw;
	struct point *p;        /* sliding */
	uint32_t np, capp;
	int64_t emitted_upto;   /* sliding: event times up to here are out */
};

struct cl_window_op {
	struct cl_window_spec spec;
	cl_window_emit_fn emit;
	void *arg;
	struct cl_map *keys;
	int64_t watermark;
	int64_t stored;          /* closed before a restart (cl_window_set_stored) */
	uint64_t open, late;
	int replaying;
	uint64_t cur_off;        /* offset of the value being added */
};

static int64_t floor_div(int64_t a, int64_t b)
{
	int64_t q = a / b;

	return (a % b != 0 && (a < 0) != (b < 0)) ? q - 1 : q;
}

int cl_window_spec_check(const struct cl_window_spec *s)
{
	switch (s->kind) {
	case CL_WIN_TUMBLING:
	case CL_WIN_SLIDING:
		if (s->size_us <= 0)
			return cl_error_set(CL_EINVAL, "window '%s': size must be positive", s->name);
		return CL_OK;
	case CL_WIN_HOPPING:
		if (s->size_us <= 0 || s->hop_us <= 0 || s->hop_us > s->size_us)
			return cl_error_set(CL_EINVAL, "window '%s': needs 0 < hop <= size", s->name);
		return CL_OK;
	case CL_WIN_SESSION:
		if (s->gap_us <= 0)
			return cl_error_set(CL_EINVAL, "window '%s': gap must be positive", s->name);
		return CL_OK;
	}
	return cl_error_set(CL_EINVAL, "window '%s': unknown kind", s->name);
}

static void free_state(void *v)
{
	struct key_state *k = v;

	if (!k)
		return;
	for (uint32_t i = 0; i < k->nw; i++)
		cl_agg_free(&k->w[i].agg);
	cl_free(k->w);
	cl_free(k->p);
	cl_free(k);
}

int cl_window_op_create(const struct cl_window_spec *spec, cl_window_emit_fn emit,
			void *arg, struct cl_window_op **out)
{
	struct cl_window_op *op;
	int rc = cl_window_spec_check(spec);

	if (rc)
		return rc;
	op = cl_calloc(1, sizeof(*op));
	if (!op)
		return cl_error_set(CL_ENOMEM, "no memory for a window");
	rc = cl_map_create(&op->keys);
	if (rc) {
		cl_free(op);
		return rc;
	}
	op->spec = *spec;
	op->emit = emit;
	op->arg = arg;
	op->watermark = INT64_MIN;
	op->stored = INT64_MIN;
	*out = op;
	return CL_OK;
}

void cl_window_op_destroy(struct cl_window_op *op)
{
	if (!op)
		return;
	cl_map_destroy(op->keys, free_state);
	cl_free(op);
}

/* The open window starting at start (created if absent), kept sorted. */
static struct win *window_at(struct cl_window_op *op, struct key_state *k,
			     int64_t start, int64_t end)
{
	uint32_t i = 0;

	while (i < k->nw && k->w[i].start < start)
		i++;
	if (i < k->nw && k->w[i].start == start)
		return &k->w[i];
	if (k->nw == k->capw) {
		uint32_t nc = k->capw ? k->capw * 2 : 4;
		void *n = cl_realloc(k->w, nc * sizeof(*k->w));

		if (!n)
			return NULL;
		k->w = n;
		k->capw = nc;
	}
	memmove(k->w + i + 1, k->w + i, (k->nw - i) * sizeof(*k->w));
	k->nw++;
	k->w[i].start = start;
	k->w[i].end = end;
	for (int src = 0; src < CL_WINDOW_SOURCES; src++)
		k->w[i].min_off[src] = UINT64_MAX;
	cl_agg_init(&k->w[i].agg, k->resolution);
	op->open++;
	return &k->w[i];
}

/* Adds v to window w, remembering the offset it came from. */
static int win_add(struct cl_window_op *op, struct win *w, double v)
{
	if (!w || cl_agg_add(&w->agg, v) != CL_OK)
		return CL_ENOMEM;
	{
		int src = CL_WINDOW_TAG_SOURCE(op->cur_off);
		uint64_t off = CL_WINDOW_TAG_OFFSET(op->cur_off);

		if (off < w->min_off[src])
			w->min_off[src] = off;
	}
	return CL_OK;
}

static int add_session(struct cl_window_op *op, struct key_state *k, int64_t ts, double v)
{
	int64_t gap = op->spec.gap_us;
	uint32_t first = UINT32_MAX, i;

	/* sessions this event touches (within gap of their span) merge */
	for (i = 0; i < k->nw; i++) {
		if (ts + gap < k->w[i].start || ts > k->w[i].end + gap)
			continue;
		if (first == UINT32_MAX) {
			first = i;
			continue;
		}
		if (cl_agg_merge(&k->w[first].agg, &k->w[i].agg) != CL_OK)
			return CL_ENOMEM;
		for (int src = 0; src < CL_WINDOW_SOURCES; src++)
			if (k->w[i].min_off[src] < k->w[first].min_off[src])
				k->w[first].min_off[src] = k->w[i].min_off[src];
		if (k->w[i].end > k->w[first].end)
			k->w[first].end = k->w[i].end;
		cl_agg_free(&k->w[i].agg);
		memmove(k->w + i, k->w + i + 1, (k->nw - i - 1) * sizeof(*k->w));
		k->nw--;
		op->open--;
		i--;
	}
	if (first == UINT32_MAX) {
		if (ts + gap <= op->watermark)
			return 1; /* its session would already be over: late */
		return win_add(op, window_at(op, k, ts, ts), v);
	}
	if (ts < k->w[first].start)
		k->w[first].start = ts;
	if (ts > k->w[first].end)
		k->w[first].end = ts;
	return win_add(op, &k->w[first], v);
}

static int add_sliding(struct cl_window_op *op, struct key_state *k, int64_t ts, double v)
{
	uint32_t i = k->np;

	/* late: its own window has passed; the windows still to come may
	 * yet need it, those emitted are corrected by the caller */
	int late = ts <= op->watermark || ts <= op->stored || ts <= k->emitted_upto;

	if (late && op->watermark != INT64_MIN && ts <= op->watermark - op->spec.size_us)
		return 1;
	if (k->np == k->capp) {
		uint32_t nc = k->capp ? k->capp * 2 : 16;
		void *n = cl_realloc(k->p, nc * sizeof(*k->p));

		if (!n)
			return CL_ENOMEM;
		k->p = n;
		k->capp = nc;
	}
	while (i > 0 && k->p[i - 1].ts > ts)
		i--;
	memmove(k->p + i + 1, k->p + i, (k->np - i) * sizeof(*k->p));
	k->p[i].ts = ts;
	k->p[i].v = v;
	k->p[i].off = op->cur_off;
	k->p[i].late = late;
	k->np++;
	return late ? 1 : CL_OK;
}

int cl_window_add(struct cl_window_op *op, const void *key, size_t key_len,
		  int64_t ts, double value, double resolution, uint64_t offset)
{
	void **slot = cl_map_slot(op->keys, key, key_len, 1);
	struct key_state *k;
	int accepted = 0, rc;

	if (!slot)
		return CL_ENOMEM;
	op->cur_off = offset;
	k = *slot;
	if (!k) {
		k = cl_calloc(1, sizeof(*k));
		if (!k)
			return CL_ENOMEM;
		k->resolution = resolution;
		k->emitted_upto = INT64_MIN;
		*slot = k;
	}
	switch (op->spec.kind) {
	case CL_WIN_TUMBLING: {
		int64_t s = floor_div(ts, op->spec.size_us) * op->spec.size_us;
		struct win *w;

		if (s + op->spec.size_us <= op->watermark)
			break;
		w = window_at(op, k, s, s + op->spec.size_us);
		if (win_add(op, w, value) != CL_OK)
			return CL_ENOMEM;
		accepted = 1;
		break;
	}
	case CL_WIN_HOPPING: {
		int64_t s = floor_div(ts, op->spec.hop_us) * op->spec.hop_us;

		for (; s > ts - op->spec.size_us; s -= op->spec.hop_us) {
			struct win *w;

			if (s + op->spec.size_us <= op->watermark)
				continue; /* that one has closed */
			w = window_at(op, k, s, s + op->spec.size_us);
			if (win_add(op, w, value) != CL_OK)
				return CL_ENOMEM;
			accepted = 1;
		}
		break;
	}
	case CL_WIN_SLIDING:
		rc = add_sliding(op, k, ts, value);
		if (rc < 0)
			return rc;
		accepted = rc == CL_OK;
		break;
	case CL_WIN_SESSION:
		rc = add_session(op, k, ts, value);
		if (rc < 0)
			return rc;
		accepted = rc == CL_OK;
		break;
	}
	if (!accepted) {
		if (!op->replaying)
			op->late++;
		return 1;
	}
	return CL_OK;
}

struct min_ctx {
	uint64_t m;
	int src;
};

static void min_off_of(void *arg, const void *key, size_t len, void **value)
{
	struct min_ctx *c = arg;
	struct key_state *k = *value;

	(void)key;
	(void)len;
	for (uint32_t i = 0; i < k->nw; i++)
		if (k->w[i].min_off[c->src] < c->m)
			c->m = k->w[i].min_off[c->src];
	for (uint32_t i = 0; i < k->np; i++) {
		uint64_t off = CL_WINDOW_TAG_OFFSET(k->p[i].off);

		if (CL_WINDOW_TAG_SOURCE(k->p[i].off) == c->src && off < c->m)
			c->m = off;
	}
}

uint64_t cl_window_min_offset(struct cl_window_op *op, int src)
{
	struct min_ctx c = { UINT64_MAX, src };

	cl_map_foreach(op->keys, min_off_of, &c);
	return c.m;
}

void cl_window_set_replay(struct cl_window_op *op, int replaying)
{
	op->replaying = replaying;
}

struct advance_ctx {
	struct cl_window_op *op;
	int64_t w;
};

static void emit_closed(void *arg, const void *key, size_t len, void **value)
{
	struct advance_ctx *c = arg;
	struct cl_window_op *op = c->op;
	struct key_state *k = *value;
	struct cl_window_out out = { .spec = &op->spec, .key = key, .key_len = len,
				     .watermark = c->w };

	if (op->spec.kind == CL_WIN_SLIDING) {
		struct cl_agg agg;
		uint32_t first = 0;

		cl_agg_init(&agg, k->resolution);
		for (uint32_t i = 0; i < k->np && k->p[i].ts <= c->w; i++) {
			int64_t t = k->p[i].ts;

			if (t <= k->emitted_upto || (i + 1 < k->np && k->p[i + 1].ts == t) ||
			    k->p[i].late)
				continue; /* once per distinct time, after its last
					   * event; a late one's is corrected */
			cl_agg_reset(&agg);
			while (k->p[first].ts <= t - op->spec.size_us)
				first++;
			for (uint32_t j = first; j <= i; j++)
				cl_agg_add(&agg, k->p[j].v);
			out.start_us = t - op->spec.size_us;
			out.end_us = t;
			out.agg = &agg;
			op->emit(op->arg, &out);
			k->emitted_upto = t;
		}
		cl_agg_free(&agg);
		/* keep only what later windows can still need */
		{
			uint32_t drop = 0;

			while (drop < k->np && k->p[drop].ts <= c->w - op->spec.size_us)
				drop++;
			if (drop > 0) { /* k->p is NULL while it has held nothing */
				memmove(k->p, k->p + drop, (k->np - drop) * sizeof(*k->p));
				k->np -= drop;
			}
		}
		return;
	}
	while (k->nw > 0) {
		struct win *w = &k->w[0];
		uint32_t pick = 0;
		int64_t end;

		/* the window with the earliest end that has closed */
		for (uint32_t i = 1; i < k->nw; i++) {
			int64_t ei = op->spec.kind == CL_WIN_SESSION ? k->w[i].end + op->spec.gap_us
								      : k->w[i].end;
			int64_t ep = op->spec.kind == CL_WIN_SESSION ? k->w[pick].end + op->spec.gap_us
								      : k->w[pick].end;

			if (ei < ep)
				pick = i;
		}
		w = &k->w[pick];
		end = op->spec.kind == CL_WIN_SESSION ? w->end + op->spec.gap_us : w->end;
		if (end > c->w)
			break;
		out.start_us = w->start;
		out.end_us = end;
		out.agg = &w->agg;
		op->emit(op->arg, &out);
		cl_agg_free(&w->agg);
		memmove(k->w + pick, k->w + pick + 1, (k->nw - pick - 1) * sizeof(*k->w));
		k->nw--;
		op->open--;
	}
}

void cl_window_advance(struct cl_window_op *op, int64_t w)
{
	struct advance_ctx c = { op, w };

	if (w <= op->watermark)
		return;
	/* tumbling and hopping windows end on a grid (k * hop + size): if
	 * the watermark crossed no grid line, nothing can close; skip the
	 * walk over every key */
	if (op->spec.kind == CL_WIN_TUMBLING || op->spec.kind == CL_WIN_HOPPING) {
		int64_t g = op->spec.kind == CL_WIN_TUMBLING ? op->spec.size_us : op->spec.hop_us;

		if (op->watermark != INT64_MIN &&
		    floor_div(w - op->spec.size_us, g) == floor_div(op->watermark - op->spec.size_us, g)) {
			op->watermark = w;
			return;
		}
	}
	op->watermark = w;
	cl_map_foreach(op->keys, emit_closed, &c);
}

int64_t cl_window_watermark(const struct cl_window_op *op)
{
	return op->watermark > op->stored ? op->watermark : op->stored;
}

void cl_window_set_stored(struct cl_window_op *op, int64_t stored)
{
	op->stored = stored;
}

int cl_window_late_span(const struct cl_window_op *op, int64_t ts, int late, int64_t *lo,
			int64_t *hi)
{
	const struct cl_window_spec *w = &op->spec;
	int64_t wm = op->watermark > op->stored ? op->watermark : op->stored, hop;

	if (wm == INT64_MIN)
		return 0;
	switch (w->kind) {
	case CL_WIN_TUMBLING:
	case CL_WIN_HOPPING:
		/* starts s on the grid, ts - size < s <= ts, closed: s + size <= wm */
		hop = w->kind == CL_WIN_TUMBLING ? w->size_us : w->hop_us;
		*lo = (floor_div(ts - w->size_us, hop) + 1) * hop;
		*hi = floor_div(ts < wm - w->size_us ? ts : wm - w->size_us, hop) * hop;
		return *lo <= *hi;
	case CL_WIN_SLIDING:
		/* windows ending at event times t, ts <= t < ts + size, emitted: t <= wm */
		*lo = ts;
		*hi = ts + w->size_us - 1 < wm ? ts + w->size_us - 1 : wm;
		return *lo <= *hi;
	case CL_WIN_SESSION:
		*lo = *hi = ts;
		return late;
	}
	return 0;
}

uint64_t cl_window_open(const struct cl_window_op *op)
{
	return op->spec.kind == CL_WIN_SLIDING ? cl_map_count(op->keys) : op->open;
}

uint64_t cl_window_late(const struct cl_window_op *op)
{
	return op->late;
}
