/*
 * Deterministic pseudo-random numbers for the synthetic data (the
 * simulator, `carelake generate`): splitmix64 (Steele, Lea and Flood
 * 2014), one 64-bit state, the same sequence for the same seed on every
 * machine. Not for anything secret (keys and tokens come from libsodium).
 */
#ifndef CL_RAND_H
#define CL_RAND_H

#include <stdint.h>

/* The next 64 random bits; advances *state. */
uint64_t cl_rand_next(uint64_t *state);

/* Uniform in [0, 1), 53 bits. */
double cl_rand_uniform(uint64_t *state);

#endif
