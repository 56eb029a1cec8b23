/*
 * CRC-32C (Castagnoli), the checksum of every bronze frame.
 *
 * Uses the SSE4.2 crc32 instruction when the CPU has it and a table-driven
 * software loop otherwise; both give identical results.
 */
#ifndef CL_CRC32C_H
#define CL_CRC32C_H

#include <stddef.h>
#include <stdint.h>

/*
 * Extends crc (0 for a fresh checksum) over len bytes of data and returns the
 * new CRC-32C, so cl_crc32c(cl_crc32c(0, a, n), b, m) == crc of a||b.
 */
uint32_t cl_crc32c(uint32_t crc, const void *data, size_t len);

/* The portable implementation, exposed so tests can compare both paths. */
uint32_t cl_crc32c_sw(uint32_t crc, const void *data, size_t len);

#endif
