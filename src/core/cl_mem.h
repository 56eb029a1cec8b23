/*
 * Every allocation goes through here, so tests can make the n-th one fail
 * and prove that out-of-memory paths return CL_ENOMEM instead of crashing.
 */
#ifndef CL_MEM_H
#define CL_MEM_H

#include <stddef.h>

void *cl_malloc(size_t n);
void *cl_calloc(size_t count, size_t size);
void *cl_realloc(void *p, size_t n);
char *cl_strdup(const char *s);
/* Room for element n of the array *arr of *cap elements of elem bytes:
 * doubled when full (first: the capacity of the first allocation). 0, or
 * -1 out of memory (the array as it was). */
int cl_grow(void *arr, size_t *cap, size_t n, size_t elem, size_t first);
/* Frees p; cl_free(NULL) is a no-op. */
void cl_free(void *p);

/*
 * Test hook: after `countdown` more successful allocations, every allocation
 * fails until cl_mem_fail_reset(). A negative countdown disables failures.
 */
void cl_mem_fail_after(long countdown);
void cl_mem_fail_reset(void);

#endif
