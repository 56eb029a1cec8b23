/*
 * Durable consumer checkpoints over a bronze log.
 *
 * Each consumer of a source (the stream processor, the refiner, ...) keeps
 * the offset of the next record it has yet to process in
 * <source_dir>/_checkpoints/<consumer>.ckpt, written atomically (temp file,
 * fsync, rename, directory fsync) and protected by a CRC, so after a crash
 * it resumes exactly where its last stored checkpoint says.
 */
#ifndef CL_CHECKPOINT_H
#define CL_CHECKPOINT_H

#include <stddef.h>
#include <stdint.h>

/* Loads a checkpoint: CL_OK, CL_ENOENT (none yet: start at 0) or
 * CL_ECORRUPT (the file exists but is damaged; the detail says how). */
int cl_checkpoint_load(const char *source_dir, const char *consumer,
		       uint64_t *offset);

/* Stores offset durably for consumer. */
int cl_checkpoint_store(const char *source_dir, const char *consumer,
			uint64_t offset);

/* Parses checkpoint file text (exposed for tests and fuzzing). */
int cl_checkpoint_parse(const char *text, size_t len, const char *consumer,
			uint64_t *offset);

/* 1 if name is a valid consumer or source name: [a-z0-9_-]{1,64}, not
 * starting with '_' or '-'. */
int cl_name_valid(const char *name);

#endif
