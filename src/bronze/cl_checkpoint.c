/*
 * Consumer checkpoints. See cl_checkpoint.h.
 *
 * File format, one line:
 *   carelake-checkpoint v1 consumer=<name> offset=<n> crc32c=<8 hex>\n
 * where the CRC covers everything before " crc32c=".
 */
#include "cl_checkpoint.h"
#include "../core/cl_crc32c.h"
#include "../core/cl_error.h"
#include "../core/cl_fs.h"
#include "../core/cl_mem.h"

#include <limits.h>
#include <stdio.h>
#include <string.h>

#define PREFIX "carelake-checkpoint v1 consumer="

int cl_name_valid(const char *name)
{
	size_t n = strlen(name);

	if (n == 0 || n > 64 || name[0] == '_' || name[0] == '-')
		return 0;
	for (size_t i = 0; i < n; i++) {
		char c = name[i];

		if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
		      c == '_' || c == '-'))
			return 0;
	}
	return 1;
}

static int path_of(char *buf, size_t cap, const char *dir, const char *consumer)
{
	if (!cl_name_valid(consumer))
		return cl_error_set(CL_EINVAL,
				    "consumer name '%.64s' is invalid (use a-z, 0-9, _ and -)",
				    consumer);
	if ((size_t)snprintf(buf, cap, "%s/_checkpoints/%s.ckpt", dir, consumer) >= cap)
		return cl_error_set(CL_EINVAL, "checkpoint path too long");
	return CL_OK;
}

int cl_checkpoint_parse(const char *text, size_t len, const char *consumer,
			uint64_t *offset)
{
	size_t plen = strlen(PREFIX), clen = strlen(consumer);
	const char *p, *end = text + len, *crc_at;
	uint64_t v = 0;
	uint32_t want = 0;
	int digits = 0;

	if (len < plen || memcmp(text, PREFIX, plen) != 0)
		return cl_error_set(CL_ECORRUPT, "checkpoint does not start with '%s'",
				    PREFIX);
	p = text + plen;
	if ((size_t)(end - p) < clen + 8 || memcmp(p, consumer, clen) != 0 ||
	    memcmp(p + clen, " offset=", 8) != 0)
		return cl_error_set(CL_ECORRUPT, "checkpoint is not for consumer '%s'",
				    consumer);
	p += clen + 8;
	while (p < end && *p >= '0' && *p <= '9') {
		uint64_t d = (uint64_t)(*p - '0');

		if (v > (UINT64_MAX - d) / 10)
			return cl_error_set(CL_ECORRUPT, "checkpoint offset overflows");
		v = v * 10 + d;
		p++;
		digits++;
	}
	if (digits == 0 || digits > 20)
		return cl_error_set(CL_ECORRUPT, "checkpoint offset is not a number");
	crc_at = p;
	if (end - p < 8 + 8 || memcmp(p, " crc32c=", 8) != 0)
		return cl_error_set(CL_ECORRUPT, "checkpoint has no crc32c");
	p += 8;
	for (int i = 0; i < 8; i++, p++) {
		int d;

		if (*p >= '0' && *p <= '9')
			d = *p - '0';
		else if (*p >= 'a' && *p <= 'f')
			d = *p - 'a' + 10;
		else
			return cl_error_set(CL_ECORRUPT, "checkpoint crc32c is not hex");
		want = want << 4 | (uint32_t)d;
	}
	if (p != end && !(p + 1 == end && *p == '\n'))
		return cl_error_set(CL_ECORRUPT, "checkpoint has trailing bytes");
	if (cl_crc32c(0, text, (size_t)(crc_at - text)) != want)
		return cl_error_set(CL_ECORRUPT, "checkpoint checksum mismatch");
	*offset = v;
	return CL_OK;
}

int cl_checkpoint_load(const char *source_dir, const char *consumer,
		       uint64_t *offset)
{
	char path[PATH_MAX];
	char *text;
	size_t len;
	int rc;

	rc = path_of(path, sizeof(path), source_dir, consumer);
	if (rc)
		return rc;
	rc = cl_fs_read_file(path, 4096, &text, &len);
	if (rc == CL_ENOENT)
		return cl_error_set(CL_ENOENT, "no checkpoint for consumer '%s'",
				    consumer);
	if (rc)
		return rc;
	rc = cl_checkpoint_parse(text, len, consumer, offset);
	cl_free(text);
	if (rc)
		return cl_error_set(rc, "%s: %s", path, cl_error_detail());
	return CL_OK;
}

int cl_checkpoint_store(const char *source_dir, const char *consumer,
			uint64_t offset)
{
	char path[PATH_MAX], dir[PATH_MAX], line[256];
	int n, rc;

	rc = path_of(path, sizeof(path), source_dir, consumer);
	if (rc)
		return rc;
	snprintf(dir, sizeof(dir), "%s/_checkpoints", source_dir);
	if (!cl_fs_is_dir(dir)) {
		rc = cl_fs_mkdirs(dir);
		if (rc == CL_OK)
			rc = cl_fs_sync_dir(source_dir);
		if (rc)
			return rc;
	}
	n = snprintf(line, sizeof(line), PREFIX "%s offset=%llu", consumer,
		     (unsigned long long)offset);
	n += snprintf(line + n, sizeof(line) - (size_t)n, " crc32c=%08x\n",
		      cl_crc32c(0, line, (size_t)n));
	return cl_fs_write_atomic(path, line, (size_t)n, 0600);
}
