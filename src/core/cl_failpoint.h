/*
 * The countdown behind carelake's failure-injection test hooks (an
 * allocation, a thread): after `n` more successes every call fails, until
 * the countdown is set negative again.
 */
#ifndef CL_FAILPOINT_H
#define CL_FAILPOINT_H

#include <stdatomic.h>

/* 1 if this call is to fail; counts a success down otherwise. A negative
 * countdown never fails. */
static inline int cl_failpoint_hit(atomic_long *countdown)
{
	long c = atomic_load_explicit(countdown, memory_order_relaxed);

	if (c < 0)
		return 0;
	if (c == 0)
		return 1;
	atomic_fetch_sub(countdown, 1);
	return 0;
}

#endif
