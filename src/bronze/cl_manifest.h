/*
 * The file manifest of a bronze source: bronze/<source>/_files.ndjson,
 * one JSON line per original file a batch load kept (its content hash,
 * name, path under the data directory, bytes, format, run and time),
 * appended and synced before the file is registered anywhere else. It is
 * what `refine --rebuild` replays and what `verify` checks, so it is read
 * on recovery: a torn last line (a crash mid-append) or any line that is
 * not a whole entry is reported to the caller and skipped, never trusted.
 */
#ifndef CL_MANIFEST_H
#define CL_MANIFEST_H

#include <jansson.h>
#include <stddef.h>
#include <stdint.h>

/* One entry. hash and path are always set when listed; the rest may be NULL/0. */
struct cl_manifest_entry {
	const char *hash;       /* BLAKE2b-256 of the content, 64 hex digits */
	const char *name;       /* the file's name as loaded */
	const char *path;       /* where bronze keeps it, relative to the data dir */
	const char *format;     /* the batch format it was read as */
	int64_t bytes, run_id, ingested_us;
	json_t *line;           /* the whole line (listing: borrowed, valid in the call) */
};

/* Appends e to source's manifest durably (written and fdatasync'd). */
int cl_manifest_append(const char *data_dir, const char *source,
		       const struct cl_manifest_entry *e);

/* Called for each whole entry, in file order; a non-zero return stops the
 * listing and is returned by cl_manifest_list. */
typedef int (*cl_manifest_fn)(void *arg, const char *source, const struct cl_manifest_entry *e);
/* Called for a line that is not a whole entry (1-based line number, why). */
typedef void (*cl_manifest_bad_fn)(void *arg, const char *source, uint64_t line,
				   const char *why);

/* Lists source's manifest (none is an empty list). bad may be NULL. */
int cl_manifest_list(const char *data_dir, const char *source, cl_manifest_fn fn,
		     cl_manifest_bad_fn bad, void *arg);

/* Lists the entries of a manifest held in memory (what cl_manifest_list
 * does for each file; the fuzz target's way in). */
int cl_manifest_parse(const char *text, size_t len, const char *source, cl_manifest_fn fn,
		      cl_manifest_bad_fn bad, void *arg);

/* Checks that e's file is there with the content its hash says: CL_OK, or
 * CL_ENOENT / CL_ECORRUPT with a detail naming the path. */
int cl_manifest_check(const char *data_dir, const struct cl_manifest_entry *e);

#endif
