/*
 * Authentication failures per client address. See cl_authlimit.h.
 */
#include "cl_authlimit.h"
#include "core/cl_error.h"
#include "core/cl_mem.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>

#define SLOTS 4096   /* addresses tracked at once */
#define PROBE 16     /* slots looked at for one address */

struct slot {
	char client[48];     /* "" : free */
	int64_t first_us;    /* the window's first failure */
	int64_t last_us;     /* the latest failure */
	uint32_t count;      /* failures since first_us */
};

struct cl_authlimit {
	pthread_mutex_t mu;
	/* the latest failure that left its address at the limit: no address
	 * is blocked once a window has passed since, so the check of every
	 * request with a token takes no lock then */
	_Atomic int64_t last_block_us;
	uint32_t max;
	int64_t window_us;
	struct slot slots[SLOTS];
};

int cl_authlimit_create(uint32_t max, int64_t window_us, struct cl_authlimit **out)
{
	struct cl_authlimit *l = cl_calloc(1, sizeof(*l));

	if (!l)
		return cl_error_set(CL_ENOMEM, "no memory for the authentication failure table");
	pthread_mutex_init(&l->mu, NULL);
	atomic_init(&l->last_block_us, INT64_MIN / 2);
	l->max = max;
	l->window_us = window_us;
	*out = l;
	return CL_OK;
}

void cl_authlimit_destroy(struct cl_authlimit *l)
{
	if (!l)
		return;
	pthread_mutex_destroy(&l->mu);
	cl_free(l);
}

/* FNV-1a of the address. */
static uint32_t hash(const char *s)
{
	uint32_t h = 2166136261u;

	while (*s)
		h = (h ^ (unsigned char)*s++) * 16777619u;
	return h;
}

/* The slot of client, or NULL (create: a free, expired or the oldest
 * slot of its probe run, reset for it). Under mu. */
static struct slot *find(struct cl_authlimit *l, const char *client, int64_t now_us, int create)
{
	uint32_t h = hash(client);
	struct slot *victim = NULL;
	int64_t victim_age = -1;

	for (uint32_t i = 0; i < PROBE; i++) {
		struct slot *s = &l->slots[(h + i) % SLOTS];
		int64_t age;

		if (s->client[0] && strcmp(s->client, client) == 0)
			return s;
		/* free and expired slots first, then the one failed longest ago */
		age = !s->client[0] ? INT64_MAX
		      : now_us - s->last_us > l->window_us ? INT64_MAX - 1 : now_us - s->last_us;
		if (age > victim_age) {
			victim = s;
			victim_age = age;
		}
	}
	if (!create)
		return NULL;
	memset(victim, 0, sizeof(*victim));
	snprintf(victim->client, sizeof(victim->client), "%s", client);
	return victim;
}

int64_t cl_authlimit_blocked(struct cl_authlimit *l, const char *client, int64_t now_us)
{
	int64_t wait = 0;
	struct slot *s;

	if (!l || !client || !*client ||
	    now_us - atomic_load_explicit(&l->last_block_us, memory_order_acquire) > l->window_us)
		return 0;
	pthread_mutex_lock(&l->mu);
	s = find(l, client, now_us, 0);
	if (s && s->count >= l->max) {
		int64_t left = s->last_us + l->window_us - now_us;

		if (left > 0)
			wait = (left + 999999) / 1000000;
	}
	pthread_mutex_unlock(&l->mu);
	return wait;
}

void cl_authlimit_failed(struct cl_authlimit *l, const char *client, int64_t now_us)
{
	struct slot *s;

	if (!l || !client || !*client)
		return;
	pthread_mutex_lock(&l->mu);
	s = find(l, client, now_us, 1);
	/* a new window: the last one ended without a block, or its block ran out */
	if (s->count && (now_us - s->last_us > l->window_us ||
			 (s->count < l->max && now_us - s->first_us > l->window_us)))
		s->count = 0;
	if (!s->count)
		s->first_us = now_us;
	if (s->count < UINT32_MAX)
		s->count++;
	s->last_us = now_us;
	/* the latest of them (writers hold mu; their clocks were read before it) */
	if (s->count >= l->max &&
	    now_us > atomic_load_explicit(&l->last_block_us, memory_order_relaxed))
		atomic_store_explicit(&l->last_block_us, now_us, memory_order_release);
	pthread_mutex_unlock(&l->mu);
}
