/*
 * cl_compiler.h - the few compiler annotations carelake's code uses.
 *
 * CL_FALLTHROUGH marks a switch case that deliberately runs on into the
 * next one, so that -Wimplicit-fallthrough (on in every build) stays quiet
 * under both gcc and clang; clang does not accept a comment for it.
 */
#ifndef CL_COMPILER_H
#define CL_COMPILER_H

#if defined(__GNUC__) || defined(__clang__)
#define CL_FALLTHROUGH __attribute__((fallthrough))
#else
#define CL_FALLTHROUGH ((void)0)
#endif

#endif
