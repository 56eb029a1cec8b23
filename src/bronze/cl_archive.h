/*
 * cl_archive.h — the bronze archive: a copy of bronze's immutable files in
 * object storage (bronze.archive_uri), as Event Hubs Capture keeps a hub's
 * stream in a storage account.
 *
 * What is copied, per source, under <archive>/<source>/ with the same
 * relative paths as under <data>/bronze/<source>/: every sealed segment
 * (all but the newest, which may still grow), every original file a batch
 * load kept, and then the file manifest (_files.ndjson) that names them,
 * so the archive's manifest never names a file the archive lacks.
 *
 * A file counts as archived only when the store has it whole: the upload
 * carries its Content-MD5 (the store refuses a damaged body), and a HEAD
 * afterwards must show the local size and, where the store keeps it, the
 * local MD5. Then it is recorded, durably, in
 * <data>/bronze/<source>/_archive.ndjson ({"path","bytes","md5","at"}).
 * Only a recorded file may ever be removed locally.
 *
 * `carelake verify --archive` checks every recorded file against the
 * store (present, same size and MD5) and against the local copy where it
 * still exists. `carelake bronze restore` downloads what the archive has
 * and the data directory lacks (a lost disk, a new node), after which
 * `refine --rebuild` rebuilds silver from it; a rebuild also fetches, one
 * by one, kept files missing locally.
 */
#ifndef CL_ARCHIVE_H
#define CL_ARCHIVE_H

#include <stdint.h>
#include <stdio.h>

#include "core/cl_config.h"

/* What an archive run, a check or a restore did. */
struct cl_archive_summary {
	int64_t files;          /* files uploaded (run), checked (verify), downloaded (restore) */
	int64_t bytes;
	int64_t already;        /* files already archived (run) or present locally (restore) */
	int64_t problems;       /* verify: files missing, or of another size or checksum */
};

/* Copies every source's sealed segments and kept files not yet archived
 * to `uri`, verifies and records each. Stops at the first failure (what
 * was recorded stays recorded; the next run goes on from there). */
int cl_archive_run(const char *data_dir, const char *uri, const struct cl_config *cfg,
		   struct cl_archive_summary *sum);

/* Checks every recorded file (see above); prints each problem as one line
 * to `out` (NULL: silent). Returns 0 when it could look, problems or not. */
int cl_archive_verify(const char *data_dir, const char *uri, const struct cl_config *cfg,
		      FILE *out, struct cl_archive_summary *sum);

/* Downloads every archived file that is missing under the data directory
 * (each checked against the store's size and MD5 before it is renamed
 * into place), for `source` or every source (NULL). */
int cl_archive_restore(const char *data_dir, const char *uri, const struct cl_config *cfg,
		       const char *source, struct cl_archive_summary *sum);

/* Downloads one kept file `rel` (relative to the data directory,
 * "bronze/<source>/...") from the archive to where bronze keeps it. */
int cl_archive_fetch(const char *data_dir, const char *uri, const struct cl_config *cfg,
		     const char *rel);

#endif
