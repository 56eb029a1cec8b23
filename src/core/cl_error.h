/*
 * Error codes shared by every carelake module.
 *
 * Functions return 0 (CL_OK) on success or a negative CL_E* code. The code
 * says what class of thing went wrong; cl_error_detail() holds a one-line,
 * human-readable explanation set by the function that failed, so that the
 * boundaries (CLI, HTTP) can tell the user exactly what was wrong. The detail
 * is per thread and never contains patient data.
 */
#ifndef CL_ERROR_H
#define CL_ERROR_H

enum {
	CL_OK = 0,
	CL_ENOMEM = -1,    /* out of memory */
	CL_EINVAL = -2,    /* invalid argument or input */
	CL_EIO = -3,       /* an I/O call failed */
	CL_ENOSPC = -4,    /* the disk (or a file size limit) is full */
	CL_ECORRUPT = -5,  /* stored data failed its checksum or framing */
	CL_ENOENT = -6,    /* a file, source or key does not exist */
	CL_EBUSY = -7,     /* the component cannot keep up; retry later */
	CL_ECLOSED = -8,   /* the handle is closing or closed */
	CL_ETOOBIG = -9,   /* a record or value exceeds its limit */
	CL_ELOCKED = -10,  /* another process holds the lock */
	CL_EFAILED = -11,  /* a component stopped after an unrecoverable error */
	CL_EPARSE = -12,   /* input could not be parsed */
	CL_ERANGE = -13,   /* a number is outside its allowed bounds */
	CL_EEXIST = -14,   /* something that must not exist already does */
	CL_ENOTSUP = -15,  /* the input uses a feature carelake does not support */
};

/* Returns a short, static description of an error code. */
const char *cl_strerror(int rc);

/*
 * Sets the calling thread's error detail (printf-style) and returns rc, so a
 * failing function can write `return cl_error_set(CL_EINVAL, "...", ...);`.
 */
int cl_error_set(int rc, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* The calling thread's last detail, or "" when none was set. */
const char *cl_error_detail(void);

/* Clears the calling thread's detail. */
void cl_error_clear(void);

/* Maps an errno value to a CL_E* code. */
int cl_error_from_errno(int err);

#endif
