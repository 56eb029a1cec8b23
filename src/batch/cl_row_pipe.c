/*
 * A file's rows built on one thread, written on another. See cl_row_pipe.h.
 *
 * The blocks form a ring: the producer fills the block at `tail`, the
 * writer empties the one at `head`; both indexes, `done` and `stop` are
 * guarded by the mutex, and a block belongs to exactly one side at a time
 * (the producer's while tail - head < nblocks, the writer's once
 * published), so the rows themselves need no lock.
 */
#include "cl_row_pipe.h"
#include "core/cl_error.h"
#include "core/cl_mem.h"
#include "core/cl_worker.h"

#include <pthread.h>
#include <stdio.h>
#include <string.h>

#define BLOCK_ROWS 32   /* rows handed over at once */
#define BLOCKS 4        /* blocks in flight */
#define RAW_MAX 65536   /* raw text the quarantine keeps (cl_silver_quarantine) */

enum slot_kind { SLOT_ROW, SLOT_QUARANTINE };

/* One row to write, or one quarantine entry. */
struct slot {
	enum slot_kind kind;
	struct cl_row r;          /* SLOT_ROW: the row, sealed */
	char record[48];          /* where in the file ("": not said) */
	const char *table;        /* SLOT_QUARANTINE: the table it was for */
	char why[240];            /* SLOT_QUARANTINE: the reason */
	const char *raw;          /* SLOT_QUARANTINE: the record's text, or NULL */
	size_t raw_len;
	char *raw_own;            /* raw, when copied (freed once written) */
};

struct block {
	int n;                    /* slots filled */
	struct slot s[BLOCK_ROWS];
};

struct cl_row_pipe {
	struct cl_silver *s;
	struct cl_silver_counts *c;
	int (*produce)(struct cl_row_pipe *p, void *arg);
	void *arg;
	int threaded;             /* 0: produce runs on the writing thread */
	pthread_mutex_t mu;
	pthread_cond_t filled;    /* a block was published, or the producer is done */
	pthread_cond_t freed;     /* a block was written, or the writer stopped */
	struct block *blocks;
	int nblocks;
	unsigned long head, tail; /* blocks written, blocks published (mu) */
	int done;                 /* the producer returned (mu) */
	int stop;                 /* the writer stopped: a write failed (mu) */
	/* the producer's own */
	struct block *cur;        /* the block it fills */
	int stopped;              /* it saw stop */
	int pending;              /* a row handed out (cl_row_pipe_next), not yet put */
	int prc;                  /* produce's return, when negative */
	char perr[512];           /* and its message */
	int wrc;                  /* unthreaded: the first write's error */
};

static void release_slot(struct slot *sl)
{
	if (sl->kind == SLOT_ROW) {
		cl_row_release(&sl->r);
	} else {
		cl_free(sl->raw_own);
		sl->raw_own = NULL;
	}
}

/* Writes one slot into silver, as a load on one thread would. */
static int write_slot(struct cl_row_pipe *p, struct slot *sl)
{
	int rc;

	if (sl->kind == SLOT_ROW)
		return cl_silver_put(p->s, &sl->r);
	p->c->records++;
	rc = cl_silver_quarantine(p->s, sl->table, sl->record[0] ? sl->record : NULL, sl->why,
				  sl->raw, sl->raw_len);
	cl_free(sl->raw_own);
	sl->raw_own = NULL;
	return rc;
}

/* The producer's current block is full (or it is done): hand it over and
 * wait for a free one. */
static void publish(struct cl_row_pipe *p)
{
	pthread_mutex_lock(&p->mu);
	p->tail++;
	pthread_cond_signal(&p->filled);
	while (!p->stop && p->tail - p->head >= (unsigned long)p->nblocks)
		pthread_cond_wait(&p->freed, &p->mu);
	p->stopped = p->stop;
	pthread_mutex_unlock(&p->mu);
	p->cur = &p->blocks[p->tail % (unsigned long)p->nblocks];
	p->cur->n = 0;
}

/* The slot filled last is complete. */
static int advance(struct cl_row_pipe *p)
{
	if (!p->threaded) {
		int rc = write_slot(p, &p->cur->s[0]);

		if (rc) {
			p->wrc = rc;
			p->stopped = 1;
			return rc;
		}
		return CL_OK;
	}
	if (++p->cur->n == BLOCK_ROWS)
		publish(p);
	return p->stopped ? CL_ECLOSED : CL_OK;
}

struct cl_row *cl_row_pipe_next(struct cl_row_pipe *p, const struct cl_table *t,
				const char *record)
{
	struct slot *sl;

	if (p->stopped)
		return NULL;
	sl = &p->cur->s[p->cur->n];
	p->pending = 1;
	sl->kind = SLOT_ROW;
	sl->raw_own = NULL;
	snprintf(sl->record, sizeof(sl->record), "%s", record ? record : "");
	cl_row_init(&sl->r, t, record ? sl->record : NULL);
	return &sl->r;
}

int cl_row_pipe_put(struct cl_row_pipe *p)
{
	struct slot *sl = &p->cur->s[p->cur->n];

	p->pending = 0;
	if (p->stopped) {
		cl_row_release(&sl->r);
		return CL_ECLOSED;
	}
	cl_row_seal(&sl->r);
	return advance(p);
}

int cl_row_pipe_quarantine(struct cl_row_pipe *p, const char *table, const char *record,
			   const char *why, const char *raw, size_t raw_len, const char *keep,
			   size_t keep_len)
{
	struct slot *sl = &p->cur->s[p->cur->n];

	/* a row handed out for this place and not put gives it up */
	if (p->pending)
		cl_row_release(&sl->r);
	p->pending = 0;
	if (p->stopped)
		return CL_ECLOSED;
	sl->kind = SLOT_QUARANTINE;
	if (record != sl->record)
		snprintf(sl->record, sizeof(sl->record), "%s", record ? record : "");
	sl->table = table;
	snprintf(sl->why, sizeof(sl->why), "%s", why);
	sl->raw_own = NULL;
	sl->raw = raw;
	sl->raw_len = raw_len > RAW_MAX ? RAW_MAX : raw_len;
	if (raw && !(keep && raw >= keep && raw + sl->raw_len <= keep + keep_len)) {
		/* the text lies in the reader's scratch space: kept until written */
		sl->raw_own = cl_malloc(sl->raw_len ? sl->raw_len : 1);
		if (!sl->raw_own)
			return cl_error_set(CL_ENOMEM, "no memory for a quarantined record of %zu "
					    "bytes", sl->raw_len);
		memcpy(sl->raw_own, raw, sl->raw_len);
		sl->raw = sl->raw_own;
	}
	return advance(p);
}

static void *producer_main(void *arg)
{
	struct cl_row_pipe *p = arg;
	int rc = p->produce(p, p->arg);

	if (p->pending) {
		/* produce gave up on a row it was building */
		cl_row_release(&p->cur->s[p->cur->n].r);
		p->pending = 0;
	}
	if (rc < 0 && !p->stopped) {
		p->prc = rc;
		snprintf(p->perr, sizeof(p->perr), "%s", cl_error_detail());
	}
	pthread_mutex_lock(&p->mu);
	if (p->stop) {
		/* never to be written: released here, the writer never sees them */
		for (int i = 0; i < p->cur->n; i++)
			release_slot(&p->cur->s[i]);
	} else if (p->cur->n > 0) {
		p->tail++;
	}
	p->done = 1;
	pthread_cond_signal(&p->filled);
	pthread_mutex_unlock(&p->mu);
	return NULL;
}

/* The writing thread: every block in order, until the producer is done.
 * After a failed write the rest is released, not written. */
static int write_blocks(struct cl_row_pipe *p)
{
	int rc = CL_OK;

	for (;;) {
		struct block *blk;

		pthread_mutex_lock(&p->mu);
		while (p->head == p->tail && !p->done)
			pthread_cond_wait(&p->filled, &p->mu);
		if (p->head == p->tail) {
			pthread_mutex_unlock(&p->mu);
			return rc;
		}
		blk = &p->blocks[p->head % (unsigned long)p->nblocks];
		pthread_mutex_unlock(&p->mu);
		for (int i = 0; i < blk->n; i++) {
			if (rc == CL_OK)
				rc = write_slot(p, &blk->s[i]);
			else
				release_slot(&blk->s[i]);
		}
		pthread_mutex_lock(&p->mu);
		p->head++;
		if (rc)
			p->stop = 1;
		pthread_cond_signal(&p->freed);
		pthread_mutex_unlock(&p->mu);
	}
}

int cl_row_pipe_run(struct cl_silver *s, struct cl_silver_counts *c,
		    int (*produce)(struct cl_row_pipe *p, void *arg), void *arg)
{
	struct cl_row_pipe *p = cl_calloc(1, sizeof(*p));
	pthread_t th;
	int rc;

	if (!p)
		return cl_error_set(CL_ENOMEM, "no memory to load a file");
	p->s = s;
	p->c = c;
	p->produce = produce;
	p->arg = arg;
	p->nblocks = BLOCKS;
	p->blocks = cl_malloc(sizeof(*p->blocks) * BLOCKS);
	if (!p->blocks) {
		/* one block is all a load on one thread needs */
		p->nblocks = 1;
		p->blocks = cl_malloc(sizeof(*p->blocks));
	}
	if (!p->blocks) {
		cl_free(p);
		return cl_error_set(CL_ENOMEM, "no memory to load a file");
	}
	p->cur = &p->blocks[0];
	p->cur->n = 0;
	pthread_mutex_init(&p->mu, NULL);
	pthread_cond_init(&p->filled, NULL);
	pthread_cond_init(&p->freed, NULL);
	/* decided before the producer starts: it reads it */
	p->threaded = p->nblocks > 1;
	if (p->threaded && cl_thread_create(&th, "cl-load-rows", producer_main, p) != CL_OK)
		p->threaded = 0;
	if (p->threaded) {
		rc = write_blocks(p);
		pthread_join(th, NULL);
	} else {
		/* no thread: built and written in turn on this one */
		int prc = produce(p, arg);

		if (p->pending)
			cl_row_release(&p->cur->s[0].r);

		rc = p->wrc ? p->wrc : prc < 0 ? prc : CL_OK;
	}
	if (rc == CL_OK && p->prc < 0)
		rc = cl_error_set(p->prc, "%s", p->perr);
	pthread_cond_destroy(&p->freed);
	pthread_cond_destroy(&p->filled);
	pthread_mutex_destroy(&p->mu);
	cl_free(p->blocks);
	cl_free(p);
	return rc;
}
