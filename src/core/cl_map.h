/*
 * A hash map from byte-string keys to pointers, keyed with a random
 * SipHash key per map so crafted ids cannot degrade it. Not thread-safe.
 */
#ifndef CL_MAP_H
#define CL_MAP_H

#include <stddef.h>

struct cl_map;

int cl_map_create(struct cl_map **out);

/* Frees the map; free_value (if not NULL) is called on every value. */
void cl_map_destroy(struct cl_map *m, void (*free_value)(void *));

/* The value slot for key: existing, or (with create) a new one holding
 * NULL. NULL if absent and !create, or out of memory. */
void **cl_map_slot(struct cl_map *m, const void *key, size_t len, int create);

/* Removes key; returns its value (or NULL). */
void *cl_map_remove(struct cl_map *m, const void *key, size_t len);

size_t cl_map_count(const struct cl_map *m);

/* Calls fn for every entry; fn may not add or remove entries. */
void cl_map_foreach(struct cl_map *m,
		    void (*fn)(void *arg, const void *key, size_t len, void **value),
		    void *arg);

#endif
