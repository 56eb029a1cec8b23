/*
 * Error codes and the per-thread error detail. See cl_error.h.
 */
#include "cl_error.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

static _Thread_local char detail[512];

const char *cl_strerror(int rc)
{
	switch (rc) {
	case CL_OK: return "ok";
	case CL_ENOMEM: return "out of memory";
	case CL_EINVAL: return "invalid argument";
	case CL_EIO: return "input/output error";
	case CL_ENOSPC: return "no space left on device";
	case CL_ECORRUPT: return "data is corrupt";
	case CL_ENOENT: return "not found";
	case CL_EBUSY: return "busy, retry later";
	case CL_ECLOSED: return "closed";
	case CL_ETOOBIG: return "too big";
	case CL_ELOCKED: return "locked by another process";
	case CL_EFAILED: return "stopped after an unrecoverable error";
	case CL_EPARSE: return "parse error";
	case CL_ERANGE: return "out of range";
	case CL_EEXIST: return "already exists";
	case CL_ENOTSUP: return "not supported";
	}
	return "unknown error";
}

int cl_error_set(int rc, const char *fmt, ...)
{
	char tmp[sizeof(detail)];
	va_list ap;

	/* Format aside first: callers often pass cl_error_detail() itself. */
	va_start(ap, fmt);
	vsnprintf(tmp, sizeof(tmp), fmt, ap);
	va_end(ap);
	memcpy(detail, tmp, sizeof(detail));
	return rc;
}

const char *cl_error_detail(void)
{
	return detail;
}

void cl_error_clear(void)
{
	detail[0] = '\0';
}

int cl_error_from_errno(int err)
{
	switch (err) {
	case 0: return CL_OK;
	case ENOMEM: return CL_ENOMEM;
	case ENOSPC: case EFBIG: case EDQUOT: return CL_ENOSPC;
	case ENOENT: case ENOTDIR: return CL_ENOENT;
	case EINVAL: return CL_EINVAL;
	case EEXIST: return CL_EEXIST;
	case EAGAIN: return CL_EBUSY;
	}
	return CL_EIO;
}
