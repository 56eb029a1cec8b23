/*
 * The one allocation path, with a failure-injection hook. See cl_mem.h.
 */
#include "cl_mem.h"
#include "cl_failpoint.h"

#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

static atomic_long fail_countdown = -1;

void *cl_malloc(size_t n)
{
	return cl_failpoint_hit(&fail_countdown) ? NULL : malloc(n ? n : 1);
}

void *cl_calloc(size_t count, size_t size)
{
	if (cl_failpoint_hit(&fail_countdown))
		return NULL;
	return calloc(count ? count : 1, size ? size : 1);
}

void *cl_realloc(void *p, size_t n)
{
	return cl_failpoint_hit(&fail_countdown) ? NULL : realloc(p, n ? n : 1);
}

int cl_grow(void *arr, size_t *cap, size_t n, size_t elem, size_t first)
{
	void **a = arr, *p;
	size_t nc;

	if (n < *cap)
		return 0;
	nc = *cap ? *cap * 2 : first;
	while (nc <= n)
		nc *= 2;
	p = cl_realloc(*a, nc * elem);
	if (!p)
		return -1;
	*a = p;
	*cap = nc;
	return 0;
}

char *cl_strdup(const char *s)
{
	size_t n = strlen(s) + 1;
	char *d = cl_malloc(n);

	if (d)
		memcpy(d, s, n);
	return d;
}

void cl_free(void *p)
{
	free(p);
}

void cl_mem_fail_after(long countdown)
{
	atomic_store(&fail_countdown, countdown);
}

void cl_mem_fail_reset(void)
{
	atomic_store(&fail_countdown, -1);
}
