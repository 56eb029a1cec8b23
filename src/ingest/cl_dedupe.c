/*
 * The idempotency set. See cl_dedupe.h.
 *
 * Table slots hold a 96-bit key and the content's 32 bits (a key of 0
 * marks an empty slot; a real key of 0 is nudged to 1). A FIFO ring of the keys in insertion order drives
 * eviction; the table never holds more than `capacity` keys, at most half
 * its slots. An id removed and inserted again may be forgotten a little
 * early, when its older ring entry comes up. Deletion uses backward shifting, so probe chains never need
 * tombstones.
 */
#include "cl_dedupe.h"
#include "core/cl_error.h"
#include "core/cl_mem.h"

#include <pthread.h>
#include <sodium.h>
#include <string.h>
#include <sys/mman.h>

struct key {
	uint64_t a;         /* the id's first hash; its home slot */
	uint32_t b;         /* 32 bits of its second */
	uint32_t content;   /* 32 bits of its content's hash */
};

struct cl_dedupe {
	pthread_mutex_t mu;
	struct key *slots;
	size_t mask;          /* table size - 1 (a power of two) */
	size_t table_bytes;   /* mapped for slots */
	struct key *ring;     /* insertion order, for eviction */
	size_t capacity;      /* most ids held */
	size_t head, ring_len; /* oldest ring entry; entries in the ring */
	size_t count;         /* ids held in the table */
	unsigned char k[crypto_shorthash_siphashx24_KEYBYTES];
};

static struct key key_of(const struct cl_dedupe *d, const char *id, size_t len)
{
	unsigned char h[crypto_shorthash_siphashx24_BYTES];
	struct key k;

	/* one 128-bit SipHash: 64 bits for the slot, 32 to tell ids apart */
	crypto_shorthash_siphashx24(h, (const unsigned char *)id, len, d->k);
	memcpy(&k.a, h, 8);
	memcpy(&k.b, h + 8, 4);
	k.content = 0;
	if (k.a == 0 && k.b == 0)
		k.a = 1;
	return k;
}

static int empty(const struct key *k)
{
	return k->a == 0 && k->b == 0;
}

static int same(const struct key *x, const struct key *y)
{
	return x->a == y->a && x->b == y->b;
}

/* The table: zeroed, and on huge pages where the kernel allows (each
 * insert lands on a random slot of tens of MiB; with 4 KiB pages that is
 * a TLB miss as well as a cache miss). NULL without memory. */
static struct key *table_alloc(size_t bytes)
{
	void *p = mmap(NULL, bytes, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);

	if (p == MAP_FAILED)
		return NULL;
	madvise(p, bytes, MADV_HUGEPAGE);
	return p;
}

int cl_dedupe_create(size_t capacity, struct cl_dedupe **out)
{
	struct cl_dedupe *d;
	size_t size = 16;

	if (capacity == 0)
		return cl_error_set(CL_EINVAL, "dedupe capacity must be positive");
	if (sodium_init() < 0)
		return cl_error_set(CL_EIO, "libsodium failed to initialise");
	while (size < capacity * 2)
		size *= 2;
	d = cl_calloc(1, sizeof(*d));
	if (!d)
		return cl_error_set(CL_ENOMEM, "no memory for the dedupe set");
	d->slots = table_alloc(size * sizeof(*d->slots));
	d->table_bytes = d->slots ? size * sizeof(*d->slots) : 0;
	d->ring = cl_calloc(capacity, sizeof(*d->ring));
	if (!d->slots || !d->ring) {
		cl_dedupe_destroy(d);
		return cl_error_set(CL_ENOMEM, "no memory for %zu dedupe ids", capacity);
	}
	d->mask = size - 1;
	d->capacity = capacity;
	randombytes_buf(d->k, sizeof(d->k));
	pthread_mutex_init(&d->mu, NULL);
	*out = d;
	return CL_OK;
}

void cl_dedupe_destroy(struct cl_dedupe *d)
{
	if (!d)
		return;
	if (d->slots)
		munmap(d->slots, d->table_bytes);
	cl_free(d->ring);
	if (d->mask)
		pthread_mutex_destroy(&d->mu);
	cl_free(d);
}

/* Slot holding k, or the empty slot where it would go. */
static size_t find(const struct cl_dedupe *d, const struct key *k)
{
	size_t i = (size_t)k->a & d->mask;

	while (!empty(&d->slots[i]) && !same(&d->slots[i], k))
		i = (i + 1) & d->mask;
	return i;
}

/* Deletes the key in slot i, shifting later members of its chain back. */
static void delete_at(struct cl_dedupe *d, size_t i)
{
	size_t j = i;

	for (;;) {
		size_t home;

		j = (j + 1) & d->mask;
		if (empty(&d->slots[j]))
			break;
		home = (size_t)d->slots[j].a & d->mask;
		/* move j back to i unless its home lies cyclically in (i, j] */
		if ((j > i && (home <= i || home > j)) ||
		    (j < i && (home <= i && home > j))) {
			d->slots[i] = d->slots[j];
			i = j;
		}
	}
	d->slots[i].a = 0;
	d->slots[i].b = 0;
}

enum cl_dedupe_seen cl_dedupe_insert(struct cl_dedupe *d, const char *id, size_t len,
				     uint64_t content)
{
	struct key k = key_of(d, id, len);
	size_t i;

	k.content = (uint32_t)(content ^ content >> 32);
	/* the table is far larger than the caches: start both lookups an
	 * insert makes -- its own slot (slots and mask never change) and,
	 * once full, the oldest id's, which it evicts -- so they overlap */
	__builtin_prefetch(&d->slots[(size_t)k.a & d->mask], 1);
	pthread_mutex_lock(&d->mu);
	if (d->ring_len == d->capacity)
		__builtin_prefetch(&d->slots[(size_t)d->ring[d->head].a & d->mask], 1);
	i = find(d, &k);
	if (!empty(&d->slots[i])) {
		enum cl_dedupe_seen seen = d->slots[i].content == k.content ? CL_DEDUPE_REPEAT
									    : CL_DEDUPE_CONFLICT;

		pthread_mutex_unlock(&d->mu);
		return seen;
	}
	/* make room in the ring: forget the oldest entries (an entry whose id
	 * was removed meanwhile just goes; the table then has room too) */
	while (d->ring_len == d->capacity) {
		struct key old = d->ring[d->head];
		size_t o = find(d, &old);

		d->head = (d->head + 1) % d->capacity;
		d->ring_len--;
		if (!empty(&d->slots[o])) {
			delete_at(d, o);
			d->count--;
		}
		i = find(d, &k);
	}
	d->slots[i] = k;
	d->ring[(d->head + d->ring_len) % d->capacity] = k;
	d->ring_len++;
	d->count++;
	pthread_mutex_unlock(&d->mu);
	return CL_DEDUPE_NEW;
}

int cl_dedupe_has(struct cl_dedupe *d, const char *id, size_t len)
{
	struct key k = key_of(d, id, len);
	int has;

	pthread_mutex_lock(&d->mu);
	has = !empty(&d->slots[find(d, &k)]);
	pthread_mutex_unlock(&d->mu);
	return has;
}

void cl_dedupe_remove(struct cl_dedupe *d, const char *id, size_t len)
{
	struct key k = key_of(d, id, len);
	size_t i;

	pthread_mutex_lock(&d->mu);
	i = find(d, &k);
	if (!empty(&d->slots[i])) {
		delete_at(d, i);
		/* its ring entry stays; eviction skips keys no longer held */
		d->count--;
	}
	pthread_mutex_unlock(&d->mu);
}

size_t cl_dedupe_count(struct cl_dedupe *d)
{
	size_t n;

	pthread_mutex_lock(&d->mu);
	n = d->count;
	pthread_mutex_unlock(&d->mu);
	return n;
}
