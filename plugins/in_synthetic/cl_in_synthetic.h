/*
 * in_synthetic: synthetic ICU device vitals, for the demo and for tests.
 */
#ifndef CL_IN_SYNTHETIC_H
#define CL_IN_SYNTHETIC_H

#include "cl_plugin.h"

extern const struct cl_input_plugin cl_in_synthetic;

#endif
