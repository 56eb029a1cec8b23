/*
 * What the FHIR writes share (cl_api_fhir_write.c): the single writes of
 * POST/PUT/DELETE /fhir/{type}... and the batch and transaction Bundles of
 * POST /fhir (cl_api_fhir_bundle.c) take the same lock, read the same
 * versions, and go through the fhir bronze log and refine the same way.
 */
#ifndef CL_API_FHIR_WRITE_H
#define CL_API_FHIR_WRITE_H

#include "cl_req.h"

#include <stddef.h>
#include <stdint.h>

/* Writes are taken one at a time, so a precondition (If-Match,
 * If-None-Exist) holds for the version the write follows. */
void cl_api_fhir_writes_lock(void);
void cl_api_fhir_writes_unlock(void);

/* The current version of type/id: *version (0: none), *deleted when it is
 * a deletion. 0, or the store's error. */
int cl_api_fhir_current(struct cl_req *r, const char *type, const char *id, int64_t *version,
			int *deleted);

/* If-Match: the version an ETag names (-1 for "*") against the current
 * one (0: none). 1 when it matches. */
int cl_api_fhir_matches(int64_t wanted, int64_t current);

/* If-None-Exist: how many current resources of type the search query
 * matches (0, 1, or 2 for more), the first's id into id[CL_FHIR_ID_MAX].
 * CL_EINVAL for a search that is not one (why[cap] says why), another
 * negative code when the store failed. */
int cl_api_fhir_existing(struct cl_req *r, const char *type, const char *query, char *id,
			 char *why, size_t cap);

/* A new server id (32 hex digits) into id[CL_FHIR_ID_MAX]. */
int cl_api_fhir_new_id(char *id);

/* Appends rec (a transaction Bundle) to the fhir bronze log, durably, and
 * waits for refine to read it: 1 once read, CL_API_FHIR_STORED when
 * stored but not read (refine is off, or slower than the wait), or a
 * negative code (CL_ENOENT: FHIR input is off; CL_ENOSPC; another:
 * busy), the detail saying why. */
#define CL_API_FHIR_STORED 2
int cl_api_fhir_append(struct cl_req *r, const char *rec, size_t len);

#endif
