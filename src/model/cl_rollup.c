/*
 * A rolled-up window's status. See cl_rollup.h.
 */
#include "cl_rollup.h"

const char *cl_rollup_status_name(enum cl_rollup_status st)
{
	switch (st) {
	case CL_ROLLUP_PROVISIONAL:
		return "provisional";
	case CL_ROLLUP_FINAL:
		return "final";
	case CL_ROLLUP_CORRECTED:
		return "corrected";
	}
	return "final";
}
