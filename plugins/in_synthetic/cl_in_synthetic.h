/*
 * in_synthetic: synthetic ICU device vitals, for the demo and for tests
 * (synthetic.patients, .rate, .seed).
 */
#ifndef CL_IN_SYNTHETIC_H
#define CL_IN_SYNTHETIC_H

#include "ingest/cl_input.h"

extern const struct cl_config_section cl_in_synthetic_section;
extern const struct cl_input_plugin cl_in_synthetic;

#endif
