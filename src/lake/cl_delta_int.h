/*
 * cl_delta_int.h — the parts of the Delta log code shared between reading
 * (cl_delta_log.c), checkpoints (cl_delta_checkpoint.c) and commits
 * (cl_delta_txn.c); and the entry the fuzz target drives.
 */
#ifndef CL_DELTA_INT_H
#define CL_DELTA_INT_H

#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

/* The actions replayed so far. */
struct cl_delta_state {
	json_t *files;           /* decoded path -> its add action */
	json_t *tombstones;      /* decoded path -> its remove action */
	json_t *protocol;        /* the latest protocol action */
	json_t *metadata;        /* the latest metaData action */
	json_t *commit_info;     /* the commitInfo of the last commit read */
	int64_t version;
	int64_t timestamp_ms;
	size_t nadd, nremove;    /* actions seen */
	char *root;              /* the table directory, resolved (realpath), or
	                            NULL: then no absolute path is accepted */
};

/* The versions in a table's _delta_log, ascending. */
struct cl_delta_listing {
	int64_t *commits;        /* NNN.json */
	size_t ncommits;
	int64_t *checkpoints;    /* NNN.checkpoint.parquet */
	size_t ncheckpoints;
	int multipart;           /* there are multi-part checkpoints (not read) */
};

void cl_delta_state_init(struct cl_delta_state *s);
void cl_delta_state_free(struct cl_delta_state *s);
/* Sets the table directory absolute paths in the log are checked against
 * (once; later calls keep the first). */
int cl_delta_state_root(struct cl_delta_state *s, const char *path);
/* Applies the actions of one commit file's text (`name` for messages).
 * Every path an action names (add, remove, cdc, sidecar, deletion
 * vectors) must stay inside the table: relative without a `..` segment
 * (also when percent-encoded), or an absolute path or file: URI under
 * s->root, kept relative to it. Anything else is refused naming the path:
 * CL_ECORRUPT, or CL_ENOTSUP for a URI of another storage. */
int cl_delta_replay_json(struct cl_delta_state *s, const char *buf, size_t len, const char *name);
/* Applies checkpoint rows (one object per action). */
int cl_delta_replay_rows(struct cl_delta_state *s, json_t *rows, const char *name);
int cl_delta_list(const char *path, struct cl_delta_listing *out);
void cl_delta_listing_free(struct cl_delta_listing *l);
int64_t cl_delta_latest(const struct cl_delta_listing *l);
/* Applies commit v of the table at `path`. */
int cl_delta_read_commit(const char *path, int64_t v, struct cl_delta_state *s);
/* Applies the checkpoint of version v. */
int cl_delta_read_checkpoint(const char *path, int64_t v, struct cl_delta_state *s);
/* Replays the table at `path` up to `version` into `st`. */
int cl_delta_replay(const char *path, const struct cl_delta_listing *l, int64_t version,
		    struct cl_delta_state *st);

#endif
