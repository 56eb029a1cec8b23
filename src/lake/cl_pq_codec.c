/*
 * cl_pq_codec.c — page compression for Parquet: zstd (libzstd), snappy
 * (libsnappy's C API), gzip (zlib) and LZ4 raw blocks (liblz4).
 *
 * Decompression is told the exact uncompressed size from the page header
 * and insists on it, so a lying header is reported as corruption instead
 * of reading or writing past a buffer. The zstd contexts are per thread,
 * reused (creating one per page costs more than compressing a small page)
 * and freed when the thread ends.
 */
#include "lake/cl_parquet.h"

#include <limits.h>
#include <pthread.h>
#include <string.h>
#include <lz4.h>
#include <snappy-c.h>
#include <zlib.h>
#include <zstd.h>

#include "core/cl_error.h"
#include "core/cl_mem.h"
#include "lake/cl_pq_format.h"

/* A thread's zstd contexts, freed when the thread ends. */
struct zctx {
	ZSTD_CCtx *c;
	ZSTD_DCtx *d;
};

static pthread_key_t zkey;
static pthread_once_t zonce = PTHREAD_ONCE_INIT;

static void zfree(void *p)
{
	struct zctx *z = p;
	ZSTD_freeCCtx(z->c);
	ZSTD_freeDCtx(z->d);
	cl_free(z);
}

static void zinit(void)
{
	pthread_key_create(&zkey, zfree);
}

static struct zctx *zctx(void)
{
	pthread_once(&zonce, zinit);
	struct zctx *z = pthread_getspecific(zkey);
	if (!z && (z = cl_calloc(1, sizeof(*z))) && pthread_setspecific(zkey, z) != 0) {
		cl_free(z);
		z = NULL;
	}
	return z;
}

const char *cl_pq_codec_name(int codec)
{
	switch (codec) {
	case CL_PQF_UNCOMPRESSED: return "UNCOMPRESSED";
	case CL_PQF_SNAPPY: return "SNAPPY";
	case CL_PQF_GZIP: return "GZIP";
	case CL_PQF_LZO: return "LZO";
	case CL_PQF_BROTLI: return "BROTLI";
	case CL_PQF_LZ4: return "LZ4 (Hadoop framing)";
	case CL_PQF_ZSTD: return "ZSTD";
	case CL_PQF_LZ4_RAW: return "LZ4_RAW";
	}
	return "an unknown codec";
}

static int reserve(uint8_t **dst, size_t *cap, size_t need)
{
	if (*cap >= need)
		return 0;
	uint8_t *p = cl_realloc(*dst, need);
	if (!p)
		return CL_ENOMEM;
	*dst = p;
	*cap = need;
	return 0;
}

int cl_pq_compress(int codec, int level, const void *src, size_t n,
                   uint8_t **dst, size_t *cap, size_t *out_len)
{
	int rc;
	switch (codec) {
	case CL_PQF_ZSTD: {
		size_t bound = ZSTD_compressBound(n);
		if ((rc = reserve(dst, cap, bound)))
			return rc;
		struct zctx *z = zctx();
		if (!z || (!z->c && !(z->c = ZSTD_createCCtx())))
			return CL_ENOMEM;
		size_t r = ZSTD_compressCCtx(z->c, *dst, *cap, src, n, level ? level : 1);
		if (ZSTD_isError(r))
			return cl_error_set(CL_EIO, "zstd: %s", ZSTD_getErrorName(r));
		*out_len = r;
		return 0;
	}
	case CL_PQF_SNAPPY: {
		size_t bound = snappy_max_compressed_length(n);
		if ((rc = reserve(dst, cap, bound)))
			return rc;
		size_t len = *cap;
		if (snappy_compress(src, n, (char *)*dst, &len) != SNAPPY_OK)
			return cl_error_set(CL_EIO, "snappy compression failed");
		*out_len = len;
		return 0;
	}
	case CL_PQF_UNCOMPRESSED:
		if ((rc = reserve(dst, cap, n ? n : 1)))
			return rc;
		if (n)
			memcpy(*dst, src, n);
		*out_len = n;
		return 0;
	}
	return cl_error_set(CL_ENOTSUP, "writing %s pages is not supported", cl_pq_codec_name(codec));
}

static int gunzip(const void *src, size_t n, void *dst, size_t dst_len)
{
	if (n > UINT_MAX || dst_len > UINT_MAX)
		return cl_error_set(CL_ETOOBIG, "gzip page larger than 4 GiB");
	z_stream z = {0};
	if (inflateInit2(&z, 15 + 32) != Z_OK) /* zlib or gzip header */
		return CL_ENOMEM;
	z.next_in = (Bytef *)src;
	z.avail_in = (uInt)n;
	z.next_out = dst;
	z.avail_out = (uInt)dst_len;
	int zr = inflate(&z, Z_FINISH);
	size_t got = z.total_out;
	inflateEnd(&z);
	if (zr != Z_STREAM_END || got != dst_len)
		return cl_error_set(CL_ECORRUPT, "gzip page does not inflate to its %zu bytes", dst_len);
	return 0;
}

int cl_pq_decompress(int codec, const void *src, size_t n, void *dst, size_t dst_len)
{
	switch (codec) {
	case CL_PQF_UNCOMPRESSED:
		if (n != dst_len)
			return cl_error_set(CL_ECORRUPT, "uncompressed page of %zu bytes claims %zu", n, dst_len);
		if (n)
			memcpy(dst, src, n);
		return 0;
	case CL_PQF_ZSTD: {
		struct zctx *z = zctx();
		if (!z || (!z->d && !(z->d = ZSTD_createDCtx())))
			return CL_ENOMEM;
		size_t r = ZSTD_decompressDCtx(z->d, dst, dst_len, src, n);
		if (ZSTD_isError(r) || r != dst_len)
			return cl_error_set(CL_ECORRUPT, "zstd page does not decompress to its %zu bytes", dst_len);
		return 0;
	}
	case CL_PQF_SNAPPY: {
		size_t len = 0;
		if (snappy_uncompressed_length(src, n, &len) != SNAPPY_OK || len != dst_len)
			return cl_error_set(CL_ECORRUPT, "snappy page does not decompress to its %zu bytes", dst_len);
		if (snappy_uncompress(src, n, dst, &len) != SNAPPY_OK || len != dst_len)
			return cl_error_set(CL_ECORRUPT, "snappy page is corrupt");
		return 0;
	}
	case CL_PQF_GZIP:
		return gunzip(src, n, dst, dst_len);
	case CL_PQF_LZ4_RAW: {
		if (n > INT_MAX || dst_len > INT_MAX)
			return cl_error_set(CL_ETOOBIG, "LZ4 page larger than 2 GiB");
		int r = LZ4_decompress_safe(src, dst, (int)n, (int)dst_len);
		if (r < 0 || (size_t)r != dst_len)
			return cl_error_set(CL_ECORRUPT, "LZ4 page does not decompress to its %zu bytes", dst_len);
		return 0;
	}
	}
	return cl_error_set(CL_ENOTSUP, "pages compressed with %s are not supported", cl_pq_codec_name(codec));
}
