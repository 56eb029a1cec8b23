/*
 * splitmix64. See cl_rand.h.
 */
#include "cl_rand.h"

uint64_t cl_rand_next(uint64_t *state)
{
	uint64_t z = (*state += 0x9E3779B97F4A7C15ull);

	z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
	z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
	return z ^ (z >> 31);
}

double cl_rand_uniform(uint64_t *state)
{
	return (double)(cl_rand_next(state) >> 11) / 9007199254740992.0;
}
