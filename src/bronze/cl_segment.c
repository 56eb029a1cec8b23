/*
 * Segment files and frames: encoding, validation, listing and scanning.
 * See cl_segment.h for the format.
 */
#include "cl_segment.h"
#include "../core/cl_crc32c.h"
#include "../core/cl_error.h"
#include "../core/cl_mem.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define WINDOW_MIN (1u << 20)

static void put32(uint8_t *p, uint32_t v)
{
	for (int i = 0; i < 4; i++)
		p[i] = (uint8_t)(v >> (8 * i));
}

static void put64(uint8_t *p, uint64_t v)
{
	for (int i = 0; i < 8; i++)
		p[i] = (uint8_t)(v >> (8 * i));
}

static uint32_t get32(const uint8_t *p)
{
	return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 |
	       (uint32_t)p[3] << 24;
}

static uint64_t get64(const uint8_t *p)
{
	return (uint64_t)get32(p) | (uint64_t)get32(p + 4) << 32;
}

void cl_segment_header_encode(uint8_t out[CL_SEG_HEADER_SIZE], uint64_t base,
			      int64_t created_us)
{
	memcpy(out, CL_SEG_MAGIC, 8);
	put32(out + 8, CL_SEG_VERSION);
	put64(out + 16, base);
	put64(out + 24, (uint64_t)created_us);
	put32(out + 12, cl_crc32c(0, out + 16, 16));
}

int cl_segment_header_check(const uint8_t *p, uint64_t base)
{
	if (memcmp(p, CL_SEG_MAGIC, 8) != 0)
		return cl_error_set(CL_ECORRUPT, "segment header has no CLBRONZE magic");
	if (get32(p + 8) != CL_SEG_VERSION)
		return cl_error_set(CL_ECORRUPT, "segment format version %u is not supported",
				    get32(p + 8));
	if (get32(p + 12) != cl_crc32c(0, p + 16, 16))
		return cl_error_set(CL_ECORRUPT, "segment header checksum mismatch");
	if (get64(p + 16) != base)
		return cl_error_set(CL_ECORRUPT,
				    "segment header base offset %llu does not match its name %llu",
				    (unsigned long long)get64(p + 16),
				    (unsigned long long)base);
	return CL_OK;
}

void cl_frame_header_encode(uint8_t *hdr, const void *payload, uint32_t len,
			    uint64_t offset, int64_t ts_us)
{
	uint32_t crc;

	put32(hdr, len);
	put64(hdr + 8, offset);
	put64(hdr + 16, (uint64_t)ts_us);
	crc = cl_crc32c(0, hdr + 8, 16);
	crc = cl_crc32c(crc, payload, len);
	put32(hdr + 4, crc);
}

size_t cl_frame_check(const uint8_t *p, size_t avail, uint32_t max_len,
		      uint64_t expected_offset, int resync, struct cl_frame *f)
{
	uint32_t len, crc;
	uint64_t off;

	if (avail < CL_FRAME_HEADER_SIZE)
		return 0;
	len = get32(p);
	if (len > max_len || len > avail - CL_FRAME_HEADER_SIZE)
		return 0;
	off = get64(p + 8);
	if (resync ? off < expected_offset : off != expected_offset)
		return 0;
	crc = cl_crc32c(0, p + 8, 16);
	crc = cl_crc32c(crc, p + CL_FRAME_HEADER_SIZE, len);
	if (crc != get32(p + 4))
		return 0;
	if (f) {
		f->offset = off;
		f->ts_us = (int64_t)get64(p + 16);
		f->data = p + CL_FRAME_HEADER_SIZE;
		f->len = len;
	}
	return CL_FRAME_HEADER_SIZE + (size_t)len;
}

int cl_segment_path(char *buf, size_t cap, const char *source_dir,
		    const char *day, uint64_t base)
{
	int n = snprintf(buf, cap, "%s/dt=%s/%020llu.seg", source_dir, day,
			 (unsigned long long)base);

	if (n < 0 || (size_t)n >= cap)
		return cl_error_set(CL_EINVAL, "segment path too long under '%s'",
				    source_dir);
	return CL_OK;
}

static int parse_day_dir(const char *name, char day[11])
{
	/* dt=YYYY-MM-DD */
	if (strlen(name) != 13 || strncmp(name, "dt=", 3) != 0)
		return 0;
	for (int i = 3; i < 13; i++) {
		int dash = (i == 7 || i == 10);

		if (dash ? name[i] != '-' : (name[i] < '0' || name[i] > '9'))
			return 0;
	}
	memcpy(day, name + 3, 11);
	return 1;
}

static int parse_seg_name(const char *name, uint64_t *base)
{
	uint64_t v = 0;

	if (strlen(name) != 24 || strcmp(name + 20, ".seg") != 0)
		return 0;
	for (int i = 0; i < 20; i++) {
		if (name[i] < '0' || name[i] > '9')
			return 0;
		if (v > (UINT64_MAX - (uint64_t)(name[i] - '0')) / 10)
			return 0;
		v = v * 10 + (uint64_t)(name[i] - '0');
	}
	*base = v;
	return 1;
}

static int cmp_seg(const void *a, const void *b)
{
	const struct cl_segment_info *x = a, *y = b;

	return x->base < y->base ? -1 : x->base > y->base;
}

void cl_segment_list_free(struct cl_segment_info *list, size_t count)
{
	if (!list)
		return;
	for (size_t i = 0; i < count; i++)
		cl_free(list[i].path);
	cl_free(list);
}

int cl_segment_list(const char *source_dir, struct cl_segment_info **out,
		    size_t *count)
{
	struct cl_segment_info *list = NULL;
	size_t n = 0, cap = 0;
	DIR *top, *sub;
	struct dirent *de, *se;
	char path[PATH_MAX];
	int rc = CL_OK;

	*out = NULL;
	*count = 0;
	top = opendir(source_dir);
	if (!top) {
		if (errno == ENOENT)
			return CL_OK;
		return cl_error_set(cl_error_from_errno(errno),
				    "cannot open '%s': %s", source_dir,
				    strerror(errno));
	}
	while (rc == CL_OK && (de = readdir(top)) != NULL) {
		char day[11];

		if (!parse_day_dir(de->d_name, day))
			continue;
		snprintf(path, sizeof(path), "%s/%s", source_dir, de->d_name);
		sub = opendir(path);
		if (!sub)
			continue;
		while ((se = readdir(sub)) != NULL) {
			uint64_t base;

			if (!parse_seg_name(se->d_name, &base))
				continue;
			if (n == cap) {
				size_t nc = cap ? cap * 2 : 16;
				void *nl = cl_realloc(list, nc * sizeof(*list));

				if (!nl) {
					rc = cl_error_set(CL_ENOMEM, "no memory listing segments");
					break;
				}
				list = nl;
				cap = nc;
			}
			list[n].base = base;
			memcpy(list[n].day, day, 11);
			list[n].path = cl_malloc(strlen(path) + 26);
			if (!list[n].path) {
				rc = cl_error_set(CL_ENOMEM, "no memory listing segments");
				break;
			}
			sprintf(list[n].path, "%s/%s", path, se->d_name);
			n++;
		}
		closedir(sub);
	}
	closedir(top);
	if (rc != CL_OK) {
		cl_segment_list_free(list, n);
		return rc;
	}
	if (n)
		qsort(list, n, sizeof(*list), cmp_seg);
	*out = list;
	*count = n;
	return CL_OK;
}

struct cl_seg_scan {
	int fd;
	uint64_t base;       /* segment base offset */
	uint32_t max_len;    /* largest valid payload */
	uint64_t limit;      /* bytes of file to consider */
	uint64_t bound;      /* the caller's cap on limit */
	uint64_t pos;        /* file position of the next frame */
	uint64_t bad_pos;    /* position of the last invalid frame */
	uint64_t next_off;   /* offset the next frame must carry */
	int header_ok;       /* the segment header was valid */
	uint8_t *win;        /* read window */
	size_t win_cap;
	uint64_t win_pos;    /* file position of win[0] */
	size_t win_len;      /* valid bytes in win */
};

/*
 * Makes [pos, pos+want) available in the window if the file has it, and
 * returns a pointer to pos with *avail set to the bytes available there
 * (possibly fewer than want near the end). NULL on an I/O error.
 */
static const uint8_t *window(struct cl_seg_scan *s, uint64_t pos, size_t want,
			     size_t *avail)
{
	size_t need;

	if (pos >= s->win_pos && pos + want <= s->win_pos + s->win_len) {
		*avail = (size_t)(s->win_pos + s->win_len - pos);
		return s->win + (pos - s->win_pos);
	}
	need = want > WINDOW_MIN ? want : WINDOW_MIN;
	if (need > s->win_cap) {
		uint8_t *nw = cl_realloc(s->win, need);

		if (!nw)
			return NULL;
		s->win = nw;
		s->win_cap = need;
	}
	s->win_pos = pos;
	s->win_len = 0;
	while (s->win_len < s->win_cap && pos + s->win_len < s->limit) {
		size_t room = s->win_cap - s->win_len;
		uint64_t left = s->limit - (pos + s->win_len);
		ssize_t r;

		if (room > left)
			room = (size_t)left;
		r = pread(s->fd, s->win + s->win_len, room,
			  (off_t)(pos + s->win_len));
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0)
			return NULL;
		if (r == 0)
			break;
		s->win_len += (size_t)r;
	}
	*avail = s->win_len;
	return s->win;
}

int cl_seg_scan_open(const char *path, uint64_t base, uint32_t max_len,
		     uint64_t limit, struct cl_seg_scan **out)
{
	struct cl_seg_scan *s;
	struct stat st;
	const uint8_t *h;
	size_t avail;

	s = cl_calloc(1, sizeof(*s));
	if (!s)
		return cl_error_set(CL_ENOMEM, "no memory to scan a segment");
	s->fd = open(path, O_RDONLY | O_CLOEXEC);
	if (s->fd < 0 || fstat(s->fd, &st) != 0) {
		int e = errno;

		if (s->fd >= 0)
			close(s->fd);
		cl_free(s);
		return cl_error_set(cl_error_from_errno(e), "cannot open segment '%s': %s",
				    path, strerror(e));
	}
	s->base = base;
	s->max_len = max_len;
	s->bound = limit;
	s->limit = (uint64_t)st.st_size < limit ? (uint64_t)st.st_size : limit;
	s->next_off = base;
	s->pos = CL_SEG_HEADER_SIZE;
	h = window(s, 0, CL_SEG_HEADER_SIZE, &avail);
	if (!h) {
		cl_seg_scan_close(s);
		return cl_error_set(CL_EIO, "cannot read segment '%s'", path);
	}
	s->header_ok = avail >= CL_SEG_HEADER_SIZE &&
		       cl_segment_header_check(h, base) == CL_OK;
	*out = s;
	return CL_OK;
}

int cl_seg_scan_next(struct cl_seg_scan *s, struct cl_frame *f)
{
	const uint8_t *p;
	size_t avail, total;
	uint32_t len;

	if (s->pos >= s->limit)
		return 0;
	p = window(s, s->pos, CL_FRAME_HEADER_SIZE, &avail);
	if (!p)
		return cl_error_set(CL_EIO, "read error in segment at byte %llu",
				    (unsigned long long)s->pos);
	if (avail >= CL_FRAME_HEADER_SIZE) {
		len = get32(p);
		if (len <= s->max_len &&
		    s->pos + CL_FRAME_HEADER_SIZE + len <= s->limit) {
			p = window(s, s->pos, CL_FRAME_HEADER_SIZE + len, &avail);
			if (!p)
				return cl_error_set(CL_EIO, "read error in segment");
		}
	}
	total = cl_frame_check(p, avail, s->max_len, s->next_off, 0, f);
	if (total == 0) {
		s->bad_pos = s->pos;
		return cl_error_set(CL_ECORRUPT,
				    "invalid frame at byte %llu (expected offset %llu)",
				    (unsigned long long)s->pos,
				    (unsigned long long)s->next_off);
	}
	s->pos += total;
	s->next_off = f->offset + 1;
	return 1;
}

int cl_seg_scan_resync(struct cl_seg_scan *s, uint64_t *skipped)
{
	uint64_t start = s->bad_pos;

	for (uint64_t q = start + 1; q + CL_FRAME_HEADER_SIZE <= s->limit; q++) {
		const uint8_t *p;
		size_t avail;
		uint32_t len;

		p = window(s, q, CL_FRAME_HEADER_SIZE, &avail);
		if (!p || avail < CL_FRAME_HEADER_SIZE)
			break;
		len = get32(p);
		if (len > s->max_len || q + CL_FRAME_HEADER_SIZE + len > s->limit)
			continue;
		/* cheap filter before the CRC: a plausible offset */
		if (get64(p + 8) < s->next_off ||
		    get64(p + 8) - s->next_off > (s->limit - start) / CL_FRAME_HEADER_SIZE)
			continue;
		p = window(s, q, CL_FRAME_HEADER_SIZE + len, &avail);
		if (!p)
			break;
		if (cl_frame_check(p, avail, s->max_len, s->next_off, 1, NULL)) {
			s->next_off = get64(p + 8);
			s->pos = q;
			*skipped = q - start;
			return 1;
		}
	}
	*skipped = s->limit - start;
	s->pos = s->limit;
	return 0;
}

int cl_seg_scan_seek(struct cl_seg_scan *s, uint64_t target)
{
	struct cl_frame f;

	/* frames carry consecutive offsets, so skip until the target's */
	while (s->next_off < target) {
		int rc = cl_seg_scan_next(s, &f);

		if (rc <= 0)
			return rc;
	}
	return 1;
}

int cl_seg_scan_refresh(struct cl_seg_scan *s)
{
	struct stat st;
	uint64_t lim;

	if (fstat(s->fd, &st) != 0)
		return 0;
	lim = (uint64_t)st.st_size < s->bound ? (uint64_t)st.st_size : s->bound;
	if (lim <= s->limit)
		return 0;
	s->limit = lim;
	s->win_len = 0; /* the window may hold a short read of the old end */
	if (!s->header_ok) {
		const uint8_t *h;
		size_t avail;

		h = window(s, 0, CL_SEG_HEADER_SIZE, &avail);
		s->header_ok = h && avail >= CL_SEG_HEADER_SIZE &&
			       cl_segment_header_check(h, s->base) == CL_OK;
	}
	return 1;
}

void cl_seg_scan_rewind(struct cl_seg_scan *s, uint64_t pos,
			uint64_t next_offset)
{
	s->pos = pos;
	s->next_off = next_offset;
}

uint64_t cl_seg_scan_pos(const struct cl_seg_scan *s) { return s->pos; }
uint64_t cl_seg_scan_bad_pos(const struct cl_seg_scan *s) { return s->bad_pos; }
uint64_t cl_seg_scan_next_offset(const struct cl_seg_scan *s) { return s->next_off; }
int cl_seg_scan_header_ok(const struct cl_seg_scan *s) { return s->header_ok; }
uint64_t cl_seg_scan_limit(const struct cl_seg_scan *s) { return s->limit; }

void cl_seg_scan_close(struct cl_seg_scan *s)
{
	if (!s)
		return;
	if (s->fd >= 0)
		close(s->fd);
	cl_free(s->win);
	cl_free(s);
}
