/*
 * The hash map. See cl_map.h. Open addressing with linear probing and
 * backward-shift deletion; grows at 70% load.
 */
#include "cl_map.h"
#include "cl_error.h"
#include "cl_mem.h"

#include <sodium.h>
#include <string.h>

struct entry {
	uint64_t hash;      /* 0: empty */
	char *key;
	size_t len;
	void *value;
};

struct cl_map {
	struct entry *e;
	size_t mask, count;
	unsigned char k[crypto_shorthash_KEYBYTES];
};

static uint64_t hash_of(const struct cl_map *m, const void *key, size_t len)
{
	unsigned char h[8];
	uint64_t v;

	crypto_shorthash(h, key, len, m->k);
	memcpy(&v, h, 8);
	return v ? v : 1;
}

int cl_map_create(struct cl_map **out)
{
	struct cl_map *m;

	if (sodium_init() < 0)
		return cl_error_set(CL_EIO, "libsodium failed to initialise");
	m = cl_calloc(1, sizeof(*m));
	if (!m || !(m->e = cl_calloc(16, sizeof(*m->e)))) {
		cl_free(m);
		return cl_error_set(CL_ENOMEM, "no memory for a map");
	}
	m->mask = 15;
	randombytes_buf(m->k, sizeof(m->k));
	*out = m;
	return CL_OK;
}

void cl_map_destroy(struct cl_map *m, void (*free_value)(void *))
{
	if (!m)
		return;
	for (size_t i = 0; i <= m->mask; i++) {
		if (!m->e[i].hash)
			continue;
		if (free_value)
			free_value(m->e[i].value);
		cl_free(m->e[i].key);
	}
	cl_free(m->e);
	cl_free(m);
}

static size_t find(const struct cl_map *m, uint64_t h, const void *key, size_t len)
{
	size_t i = (size_t)h & m->mask;

	while (m->e[i].hash && !(m->e[i].hash == h && m->e[i].len == len &&
				 memcmp(m->e[i].key, key, len) == 0))
		i = (i + 1) & m->mask;
	return i;
}

static int grow(struct cl_map *m)
{
	size_t n = (m->mask + 1) * 2;
	struct entry *ne = cl_calloc(n, sizeof(*ne)), *old = m->e;
	size_t old_n = m->mask + 1;

	if (!ne)
		return CL_ENOMEM;
	m->e = ne;
	m->mask = n - 1;
	for (size_t i = 0; i < old_n; i++) {
		size_t j;

		if (!old[i].hash)
			continue;
		j = (size_t)old[i].hash & m->mask;
		while (m->e[j].hash)
			j = (j + 1) & m->mask;
		m->e[j] = old[i];
	}
	cl_free(old);
	return CL_OK;
}

void **cl_map_slot(struct cl_map *m, const void *key, size_t len, int create)
{
	uint64_t h = hash_of(m, key, len);
	size_t i = find(m, h, key, len);

	if (m->e[i].hash)
		return &m->e[i].value;
	if (!create)
		return NULL;
	if ((m->count + 1) * 10 > (m->mask + 1) * 7) {
		if (grow(m) != CL_OK)
			return NULL;
		i = find(m, h, key, len);
	}
	m->e[i].key = cl_malloc(len ? len : 1);
	if (!m->e[i].key)
		return NULL;
	memcpy(m->e[i].key, key, len);
	m->e[i].len = len;
	m->e[i].hash = h;
	m->e[i].value = NULL;
	m->count++;
	return &m->e[i].value;
}

void *cl_map_remove(struct cl_map *m, const void *key, size_t len)
{
	uint64_t h = hash_of(m, key, len);
	size_t i = find(m, h, key, len), j = i;
	void *v;

	if (!m->e[i].hash)
		return NULL;
	v = m->e[i].value;
	cl_free(m->e[i].key);
	for (;;) {
		size_t home;

		j = (j + 1) & m->mask;
		if (!m->e[j].hash)
			break;
		home = (size_t)m->e[j].hash & m->mask;
		if ((j > i && (home <= i || home > j)) || (j < i && (home <= i && home > j))) {
			m->e[i] = m->e[j];
			i = j;
		}
	}
	memset(&m->e[i], 0, sizeof(m->e[i]));
	m->count--;
	return v;
}

size_t cl_map_count(const struct cl_map *m)
{
	return m->count;
}

void cl_map_foreach(struct cl_map *m,
		    void (*fn)(void *arg, const void *key, size_t len, void **value),
		    void *arg)
{
	for (size_t i = 0; i <= m->mask; i++)
		if (m->e[i].hash)
			fn(arg, m->e[i].key, m->e[i].len, &m->e[i].value);
}
