/*
 * The on-disk format of the bronze log: segment files and record frames.
 *
 * A source's log lives in <data>/bronze/<source>/dt=YYYY-MM-DD/ as segment
 * files named by the offset of their first record, 20 decimal digits plus
 * ".seg". Offsets number a source's records from 0 without gaps.
 *
 * Segment header, 32 bytes, little-endian:
 *    0  8  magic "CLBRONZE"
 *    8  4  format version (1)
 *   12  4  CRC-32C of bytes 16..31
 *   16  8  base offset (equals the file name)
 *   24  8  creation time, microseconds since the epoch
 *
 * Then frames, back to back, 24-byte header plus payload:
 *    0  4  payload length
 *    4  4  CRC-32C of bytes 8 .. 24+length (offset, time, payload)
 *    8  8  the record's offset
 *   16  8  ingest time, microseconds since the epoch
 *   24  n  payload (opaque bytes; JSON for device events)
 *
 * A frame is valid only if its length is within the limit, it lies wholly
 * inside the file, its CRC matches and its offset is the one expected.
 * Anything else is a torn tail (nothing valid follows) or corruption.
 */
#ifndef CL_SEGMENT_H
#define CL_SEGMENT_H

#include <stddef.h>
#include <stdint.h>

#define CL_SEG_MAGIC "CLBRONZE"
#define CL_SEG_VERSION 1u
#define CL_SEG_HEADER_SIZE 32u
#define CL_FRAME_HEADER_SIZE 24u

/* One record as read from a segment. data points into the reader's buffer
 * and is valid until the next call on that reader. */
struct cl_frame {
	uint64_t offset;     /* the record's offset in its source */
	int64_t ts_us;       /* ingest time */
	const uint8_t *data; /* payload */
	uint32_t len;        /* payload length */
};

/* A segment file found on disk. */
struct cl_segment_info {
	uint64_t base;   /* offset of its first record (from the file name) */
	char day[11];    /* partition day, YYYY-MM-DD */
	char *path;      /* full path, from cl_malloc */
};

/* Writes a segment header for base offset and creation time. */
void cl_segment_header_encode(uint8_t out[CL_SEG_HEADER_SIZE], uint64_t base,
			      int64_t created_us);

/* Checks a header; 0 if valid for base, CL_ECORRUPT (with detail) if not. */
int cl_segment_header_check(const uint8_t *p, uint64_t base);

/* Fills the 24-byte frame header (including the CRC) for payload. */
void cl_frame_header_encode(uint8_t *hdr, const void *payload, uint32_t len,
			    uint64_t offset, int64_t ts_us);

/*
 * Checks the frame at p with avail bytes available. Returns its total size
 * (header plus payload) and fills f when valid for expected_offset (or any
 * offset >= expected_offset when `resync` is set); returns 0 when not.
 */
size_t cl_frame_check(const uint8_t *p, size_t avail, uint32_t max_len,
		      uint64_t expected_offset, int resync, struct cl_frame *f);

/*
 * Lists the segments of a source directory, sorted by base offset.
 * *out is an array from cl_malloc; free it with cl_segment_list_free.
 */
int cl_segment_list(const char *source_dir, struct cl_segment_info **out,
		    size_t *count);
void cl_segment_list_free(struct cl_segment_info *list, size_t count);

/* Formats the path of a segment: <source_dir>/dt=<day>/<base>.seg */
int cl_segment_path(char *buf, size_t cap, const char *source_dir,
		    const char *day, uint64_t base);

/*
 * A sequential scanner over one segment file that reads through a window
 * buffer (no mmap, so a concurrent truncation cannot fault a reader).
 */
struct cl_seg_scan;

/* Opens path for scanning frames from the header on, up to `limit` bytes
 * of file (UINT64_MAX: the file's size at open). */
int cl_seg_scan_open(const char *path, uint64_t base, uint32_t max_len,
		     uint64_t limit, struct cl_seg_scan **out);

/*
 * Next frame: 1 and f filled; 0 at a clean end; CL_ECORRUPT when the bytes
 * at the current position are not a valid frame (see cl_seg_scan_bad_pos).
 */
int cl_seg_scan_next(struct cl_seg_scan *s, struct cl_frame *f);

/*
 * After CL_ECORRUPT: searches forward for the next valid frame. Returns 1
 * and positions the scanner on it (the next _next returns it), or 0 if no
 * valid frame follows (a torn tail). *skipped gets the bytes passed over.
 */
int cl_seg_scan_resync(struct cl_seg_scan *s, uint64_t *skipped);

/* Positions the scanner at the first frame whose offset is >= target. */
int cl_seg_scan_seek(struct cl_seg_scan *s, uint64_t target);

/* Re-reads the file size (limit stays capped by the open-time bound);
 * returns 1 if the scannable region grew. */
int cl_seg_scan_refresh(struct cl_seg_scan *s);

/* Moves the scanner back to pos, expecting next_offset there. */
void cl_seg_scan_rewind(struct cl_seg_scan *s, uint64_t pos,
			uint64_t next_offset);

/* File position of the next frame to read, and of the last bad frame. */
uint64_t cl_seg_scan_pos(const struct cl_seg_scan *s);
uint64_t cl_seg_scan_bad_pos(const struct cl_seg_scan *s);

/* The offset the next valid frame must carry. */
uint64_t cl_seg_scan_next_offset(const struct cl_seg_scan *s);

/* 1 if the segment header was valid. */
int cl_seg_scan_header_ok(const struct cl_seg_scan *s);

/* Size of the file region being scanned. */
uint64_t cl_seg_scan_limit(const struct cl_seg_scan *s);

void cl_seg_scan_close(struct cl_seg_scan *s);

#endif
