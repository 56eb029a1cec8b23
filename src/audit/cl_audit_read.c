/*
 * The audit trail's reader, its verification and its search. See
 * cl_audit_read.h.
 *
 * Verification walks the chain once, one record of look-ahead, and
 * classifies the first break it meets:
 *   a line that is not a record              -> inserted or changed
 *   a record whose hash does not match       -> changed
 *   the right seq but another prev           -> the record before changed
 *   a seq past the one expected              -> removed, or reordered when
 *                                               the expected one follows
 *   a seq already passed                     -> inserted (the record after
 *                                               it chains from the one
 *                                               before it), or reordered
 *   a checkpoint whose signature fails       -> changed (the chain was
 *                                               rewritten under it)
 *   head.json's checkpoint past the end      -> removed from the end
 */
#include "cl_audit_read.h"
#include "cl_audit_fhir.h"
#include "core/cl_error.h"
#include "core/cl_fs.h"
#include "core/cl_mem.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <sodium.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define READ_CHUNK (256u * 1024)

struct cl_audit_reader {
	char **paths;
	const char **names;    /* file names within the directory */
	size_t n, idx;
	int fd;
	char *buf;
	size_t cap, start, end;
	int eof;
	int skipping;          /* inside a line over the limit */
	uint64_t lineno;
	uint64_t torn;
	const char *name;      /* the current file's name */
};

static int cmp_no(const void *a, const void *b)
{
	unsigned x = 0, y = 0;

	sscanf(strrchr(*(char *const *)a, '/') + 1, "audit-%u", &x);
	sscanf(strrchr(*(char *const *)b, '/') + 1, "audit-%u", &y);
	return x < y ? -1 : x > y;
}

void cl_audit_reader_close(struct cl_audit_reader *r)
{
	if (!r)
		return;
	for (size_t i = 0; i < r->n; i++)
		cl_free(r->paths[i]);
	cl_free(r->paths);
	cl_free(r->names);
	if (r->fd >= 0)
		close(r->fd);
	cl_free(r->buf);
	cl_free(r);
}

int cl_audit_reader_open(const char *dir, struct cl_audit_reader **out)
{
	struct cl_audit_reader *r;
	struct dirent *de;
	size_t cap = 0;
	DIR *d;

	*out = NULL;
	d = opendir(dir);
	if (!d)
		return cl_error_set(cl_error_from_errno(errno), "cannot read the audit directory '%s': %s",
				    dir, strerror(errno));
	r = cl_calloc(1, sizeof(*r));
	if (!r) {
		closedir(d);
		return cl_error_set(CL_ENOMEM, "no memory to read the audit trail");
	}
	r->fd = -1;
	while ((de = readdir(d))) {
		unsigned no;
		char tail[8], **np;
		size_t len = strlen(dir) + strlen(de->d_name) + 2;

		if (sscanf(de->d_name, "audit-%u.%7s", &no, tail) != 2 || strcmp(tail, "jsonl"))
			continue;
		if (r->n == cap) {
			cap = cap ? cap * 2 : 16;
			np = cl_realloc(r->paths, cap * sizeof(*np));
			if (!np)
				goto nomem;
			r->paths = np;
		}
		r->paths[r->n] = cl_malloc(len);
		if (!r->paths[r->n])
			goto nomem;
		snprintf(r->paths[r->n++], len, "%s/%s", dir, de->d_name);
	}
	closedir(d);
	d = NULL;
	if (r->n == 0) {
		cl_audit_reader_close(r);
		return cl_error_set(CL_ENOENT, "no audit trail in '%s'", dir);
	}
	qsort(r->paths, r->n, sizeof(*r->paths), cmp_no);
	r->names = cl_calloc(r->n, sizeof(*r->names));
	r->cap = CL_AUDIT_LINE_MAX + READ_CHUNK;
	r->buf = cl_malloc(r->cap);
	if (!r->names || !r->buf)
		goto nomem;
	for (size_t i = 0; i < r->n; i++)
		r->names[i] = strrchr(r->paths[i], '/') + 1;
	*out = r;
	return CL_OK;
nomem:
	if (d)
		closedir(d);
	cl_audit_reader_close(r);
	return cl_error_set(CL_ENOMEM, "no memory to read the audit trail");
}

uint64_t cl_audit_reader_torn(const struct cl_audit_reader *r)
{
	return r->torn;
}

int cl_audit_reader_next(struct cl_audit_reader *r, struct cl_audit_entry *e, int *drc)
{
	for (;;) {
		char *nl;
		ssize_t got;

		if (r->fd < 0) {
			if (r->idx == r->n)
				return 0;
			r->name = r->names[r->idx];
			r->fd = open(r->paths[r->idx++], O_RDONLY | O_CLOEXEC);
			if (r->fd < 0)
				return cl_error_set(cl_error_from_errno(errno), "cannot open '%s': %s",
						    r->name, strerror(errno));
			r->start = r->end = 0;
			r->eof = r->skipping = 0;
			r->lineno = 0;
		}
		nl = memchr(r->buf + r->start, '\n', r->end - r->start);
		if (nl) {
			char *line = r->buf + r->start;
			size_t len = (size_t)(nl - line);

			r->start += len + 1;
			r->lineno++;
			if (r->skipping) {
				r->skipping = 0;
				cl_audit_entry_clear(e);
				*drc = cl_error_set(CL_EPARSE, "a line over %u bytes", CL_AUDIT_LINE_MAX);
			} else {
				*drc = cl_audit_line_decode(line, len, e);
			}
			e->file = r->name;
			e->line = r->lineno;
			return 1;
		}
		if (r->eof) {
			size_t rest = r->end - r->start;

			close(r->fd);
			r->fd = -1;
			if (rest == 0 && !r->skipping)
				continue;
			if (r->idx == r->n) {
				r->torn += rest; /* the last file's last write, cut short */
				continue;
			}
			/* a file before the last can end in no torn write */
			cl_audit_entry_clear(e);
			e->file = r->name;
			e->line = r->lineno + 1;
			*drc = cl_error_set(CL_EPARSE, "the file's last line has no newline");
			return 1;
		}
		if (r->end - r->start >= CL_AUDIT_LINE_MAX) {
			r->skipping = 1;
			r->start = r->end = 0;
		} else if (r->start > 0) {
			memmove(r->buf, r->buf + r->start, r->end - r->start);
			r->end -= r->start;
			r->start = 0;
		}
		got = read(r->fd, r->buf + r->end, r->cap - r->end);
		if (got < 0) {
			if (errno == EINTR)
				continue;
			return cl_error_set(CL_EIO, "cannot read '%s': %s", r->name, strerror(errno));
		}
		if (got == 0)
			r->eof = 1;
		r->end += (size_t)got;
	}
}

/* ---- verification ---- */

#define KEYS_MAX 64

struct verifier {
	struct cl_audit_verify *v;
	unsigned char keys[KEYS_MAX][32];
	int nkeys;
	uint64_t *cp_seq;                   /* checkpoints seen: seq and hash */
	char (*cp_hash)[CL_AUDIT_HEX_LEN + 1];
	size_t ncp, cp_cap;
};

static void problem(struct cl_audit_verify *v, const char *file, uint64_t line, uint64_t seq,
		    const char *fmt, ...) __attribute__((format(printf, 5, 6)));

static void problem(struct cl_audit_verify *v, const char *file, uint64_t line, uint64_t seq,
		    const char *fmt, ...)
{
	va_list ap;

	v->ok = 0;
	snprintf(v->file, sizeof(v->file), "%s", file ? file : "");
	v->line = line;
	v->seq = seq;
	va_start(ap, fmt);
	vsnprintf(v->problem, sizeof(v->problem), fmt, ap);
	va_end(ap);
}

static int parse_keys(struct verifier *vf, const char *text)
{
	const char *p = text;

	while (p && *p) {
		while (*p == '\n' || *p == ' ' || *p == '\r' || *p == '\t')
			p++;
		if (!*p)
			break;
		if (vf->nkeys == KEYS_MAX)
			return cl_error_set(CL_ETOOBIG, "more than %d signing keys", KEYS_MAX);
		{
			char hex[65];
			size_t n = strcspn(p, "\r\n \t");

			if (n != 64)
				return cl_error_set(CL_EINVAL, "a signing key is not 64 hex digits");
			memcpy(hex, p, 64);
			hex[64] = '\0';
			if (cl_audit_unhex(hex, vf->keys[vf->nkeys], 32) != CL_OK)
				return cl_error_set(CL_EINVAL, "a signing key is not 64 hex digits");
			vf->nkeys++;
			p += n;
		}
	}
	if (vf->nkeys == 0)
		return cl_error_set(CL_EINVAL, "no signing key to check the checkpoints with");
	return CL_OK;
}

/* Whether checkpoint e covers the record before it with a trusted key's
 * good signature; when not, the problem is set. */
static int checkpoint_ok(struct verifier *vf, const struct cl_audit_entry *e, const char *what)
{
	unsigned char key[32], sig[64];
	char msg[160];
	size_t n;
	int trusted = 0;

	if (e->head_seq + 1 != e->seq) {
		problem(vf->v, e->file, e->line, e->seq,
			"%s seq %" PRIu64 " (%s line %" PRIu64 ") covers seq %" PRIu64
			", not the record before it: it was changed",
			what, e->seq, e->file, e->line, e->head_seq);
		return 0;
	}
	cl_audit_unhex(e->key, key, 32);
	cl_audit_unhex(e->sig, sig, 64);
	for (int i = 0; i < vf->nkeys && !trusted; i++)
		trusted = sodium_memcmp(vf->keys[i], key, 32) == 0;
	if (!trusted) {
		problem(vf->v, e->file, e->line, e->seq,
			"%s seq %" PRIu64 " (%s line %" PRIu64 ") is signed by a key that is not trusted",
			what, e->seq, e->file, e->line);
		return 0;
	}
	n = cl_audit_checkpoint_message(e->head_seq, e->prev, msg, sizeof(msg));
	if (crypto_sign_verify_detached(sig, (const unsigned char *)msg, n, key) != 0) {
		problem(vf->v, e->file, e->line, e->seq,
			"%s seq %" PRIu64 " (%s line %" PRIu64 ") has a bad signature: it, or a record "
			"it covers, was changed and the chain written again",
			what, e->seq, e->file, e->line);
		return 0;
	}
	return 1;
}

static int remember_cp(struct verifier *vf, const struct cl_audit_entry *e)
{
	if (vf->ncp == vf->cp_cap) {
		size_t cap = vf->cp_cap ? vf->cp_cap * 2 : 64;
		uint64_t *s = cl_realloc(vf->cp_seq, cap * sizeof(*s));
		char(*h)[CL_AUDIT_HEX_LEN + 1];

		if (!s)
			return cl_error_set(CL_ENOMEM, "no memory to verify the audit trail");
		vf->cp_seq = s;
		h = cl_realloc(vf->cp_hash, cap * sizeof(*h));
		if (!h)
			return cl_error_set(CL_ENOMEM, "no memory to verify the audit trail");
		vf->cp_hash = h;
		vf->cp_cap = cap;
	}
	vf->cp_seq[vf->ncp] = e->seq;
	memcpy(vf->cp_hash[vf->ncp], e->hash, CL_AUDIT_HEX_LEN + 1);
	vf->ncp++;
	return CL_OK;
}

/* The last signed checkpoint (head.json) must be in the trail. */
static int check_head(struct verifier *vf, const char *dir, uint64_t last_seq)
{
	struct cl_audit_entry e = { 0 };
	char path[PATH_MAX], *text = NULL;
	size_t len = 0;
	int rc;

	snprintf(path, sizeof(path), "%s/head.json", dir);
	rc = cl_fs_read_file(path, CL_AUDIT_LINE_MAX, &text, &len);
	if (rc == CL_ENOENT) {
		if (vf->ncp > 0)
			problem(vf->v, "head.json", 0, 0,
				"head.json is missing: the trail's end cannot be checked against its "
				"latest signed checkpoint");
		return CL_OK;
	}
	if (rc)
		return rc;
	if (len > 0 && text[len - 1] == '\n')
		len--;
	e.file = "head.json";
	e.line = 1;
	rc = cl_audit_line_decode(text, len, &e);
	cl_free(text);
	e.file = "head.json";
	e.line = 1;
	if (rc != CL_OK || e.kind != CL_AUDIT_CHECKPOINT) {
		problem(vf->v, "head.json", 1, 0, "head.json is not a checkpoint: %s",
			rc ? cl_error_detail() : "it is an event record");
		cl_audit_entry_clear(&e);
		return CL_OK;
	}
	if (!checkpoint_ok(vf, &e, "the checkpoint of head.json")) {
		cl_audit_entry_clear(&e);
		return CL_OK;
	}
	if (e.seq > last_seq) {
		if (e.seq == last_seq + 1)
			problem(vf->v, "head.json", 1, last_seq + 1,
				"record seq %" PRIu64 " was removed from the end of the trail (head.json "
				"holds the checkpoint of seq %" PRIu64 ")", last_seq + 1, e.seq);
		else
			problem(vf->v, "head.json", 1, last_seq + 1,
				"records seq %" PRIu64 " to %" PRIu64 " were removed from the end of the "
				"trail (head.json holds the checkpoint of seq %" PRIu64 ")",
				last_seq + 1, e.seq, e.seq);
	} else {
		size_t i;

		for (i = 0; i < vf->ncp && vf->cp_seq[i] != e.seq; i++)
			;
		if (i == vf->ncp || strcmp(vf->cp_hash[i], e.hash) != 0)
			problem(vf->v, "head.json", 1, e.seq,
				"the checkpoint seq %" PRIu64 " of head.json is not the one in the trail: "
				"the trail was changed or rolled back", e.seq);
	}
	cl_audit_entry_clear(&e);
	return CL_OK;
}

static int walk(struct verifier *vf, struct cl_audit_reader *r)
{
	struct cl_audit_verify *v = vf->v;
	struct cl_audit_entry e = { 0 }, nx = { 0 };
	char expect_prev[CL_AUDIT_HEX_LEN + 1], before_prev[CL_AUDIT_HEX_LEN + 1];
	char last_file[64] = "";
	uint64_t expect = 1, last_line = 0, last_cp = 0;
	int rc, drc;

	memset(expect_prev, '0', CL_AUDIT_HEX_LEN);
	expect_prev[CL_AUDIT_HEX_LEN] = '\0';
	memcpy(before_prev, expect_prev, sizeof(before_prev));
	while ((rc = cl_audit_reader_next(r, &e, &drc)) == 1) {
		if (drc == CL_EPARSE) {
			problem(v, e.file, e.line, 0,
				"line %" PRIu64 " of %s is not an audit record (%s): it was inserted or changed",
				e.line, e.file, cl_error_detail());
			break;
		}
		if (drc == CL_ECORRUPT) {
			problem(v, e.file, e.line, e.seq,
				"record seq %" PRIu64 " (%s line %" PRIu64 ") was changed: its content does "
				"not match its hash", e.seq, e.file, e.line);
			break;
		}
		if (e.seq == expect && strcmp(e.prev, expect_prev) != 0) {
			if (expect == 1)
				problem(v, e.file, e.line, e.seq,
					"record seq 1 (%s line %" PRIu64 ") does not start a chain: it was changed",
					e.file, e.line);
			else
				problem(v, last_file, last_line, expect - 1,
					"record seq %" PRIu64 " (%s line %" PRIu64 ") was changed: the record "
					"after it (%s line %" PRIu64 ") holds another hash for it",
					expect - 1, last_file, last_line, e.file, e.line);
			break;
		}
		if (e.seq > expect) {
			int more = cl_audit_reader_next(r, &nx, &drc);

			if (more == 1 && drc == CL_OK && nx.seq == expect)
				problem(v, e.file, e.line, e.seq,
					"record seq %" PRIu64 " (%s line %" PRIu64 ") is out of order: seq %"
					PRIu64 " comes after it (records were reordered)",
					e.seq, e.file, e.line, expect);
			else if (e.seq == expect + 1)
				problem(v, e.file, e.line, expect,
					"record seq %" PRIu64 " was removed (before %s line %" PRIu64 ")",
					expect, e.file, e.line);
			else
				problem(v, e.file, e.line, expect,
					"records seq %" PRIu64 " to %" PRIu64 " were removed (before %s line %"
					PRIu64 ")", expect, e.seq - 1, e.file, e.line);
			break;
		}
		if (e.seq < expect) {
			if (e.seq + 1 == expect && strcmp(e.prev, before_prev) == 0)
				problem(v, last_file, last_line, expect - 1,
					"record seq %" PRIu64 " (%s line %" PRIu64 ") was inserted: the record "
					"after it continues the chain from the one before it",
					expect - 1, last_file, last_line);
			else
				problem(v, e.file, e.line, e.seq,
					"record seq %" PRIu64 " (%s line %" PRIu64 ") is out of place: seq %" PRIu64
					" was expected (a record was inserted or records reordered)",
					e.seq, e.file, e.line, expect);
			break;
		}
		if (e.kind == CL_AUDIT_CHECKPOINT) {
			if (!checkpoint_ok(vf, &e, "checkpoint"))
				break;
			rc = remember_cp(vf, &e);
			if (rc)
				break;
			v->checkpoints++;
			last_cp = e.seq;
		} else {
			v->records++;
		}
		memcpy(before_prev, expect_prev, sizeof(before_prev));
		memcpy(expect_prev, e.hash, sizeof(expect_prev));
		snprintf(last_file, sizeof(last_file), "%s", e.file);
		last_line = e.line;
		v->last_seq = e.seq;
		expect = e.seq + 1;
	}
	v->uncovered = v->last_seq - last_cp;
	v->torn_bytes = cl_audit_reader_torn(r);
	cl_audit_entry_clear(&e);
	cl_audit_entry_clear(&nx);
	return rc < 0 ? rc : CL_OK;
}

int cl_audit_verify(const char *dir, const char *keys, struct cl_audit_verify *v)
{
	struct verifier vf = { .v = v };
	struct cl_audit_reader *r = NULL;
	char *text = NULL;
	int rc;

	memset(v, 0, sizeof(*v));
	v->ok = 1;
	if (sodium_init() < 0)
		return cl_error_set(CL_EIO, "libsodium could not start");
	if (!keys) {
		char path[PATH_MAX];
		size_t len;

		snprintf(path, sizeof(path), "%s/signing.pub", dir);
		rc = cl_fs_read_file(path, 1 << 20, &text, &len);
		if (rc)
			return cl_error_set(rc, "cannot read the trail's public keys '%s': %s", path,
					    cl_error_detail());
		keys = text;
	}
	rc = parse_keys(&vf, keys);
	cl_free(text);
	if (rc == CL_OK)
		rc = cl_audit_reader_open(dir, &r);
	if (rc == CL_OK)
		rc = walk(&vf, r);
	if (rc == CL_OK && v->ok)
		rc = check_head(&vf, dir, v->last_seq);
	cl_audit_reader_close(r);
	cl_free(vf.cp_seq);
	cl_free(vf.cp_hash);
	return rc;
}

/* ---- search ---- */

int cl_audit_filter_match(const struct cl_audit_filter *f, const struct cl_audit_entry *e)
{
	const struct cl_audit_record *r = &e->rec;

	if (e->kind != CL_AUDIT_EVENT)
		return 0;
	if (f->since_us && r->time_us < f->since_us)
		return 0;
	if (f->until_us && r->time_us > f->until_us)
		return 0;
	if (f->principal && (!r->principal || strcmp(f->principal, r->principal)))
		return 0;
	if (f->action && (!r->action || strcmp(f->action, r->action)))
		return 0;
	if (f->resource_type && (!r->resource_type || strcmp(f->resource_type, r->resource_type)))
		return 0;
	if (f->fhir_action && cl_audit_fhir_action(r->action) != f->fhir_action)
		return 0;
	if (f->fhir_outcome && cl_audit_fhir_outcome(r->status)[0] != f->fhir_outcome)
		return 0;
	if (f->patient) {
		size_t i;

		for (i = 0; i < r->npatients && strcmp(r->patients[i], f->patient); i++)
			;
		if (i == r->npatients)
			return 0;
	}
	return 1;
}

int cl_audit_search(const char *dir, const struct cl_audit_filter *f,
		    int (*fn)(void *arg, const struct cl_audit_entry *e), void *arg)
{
	struct cl_audit_entry e = { 0 };
	struct cl_audit_reader *r;
	int rc, drc, stop = 0;

	rc = cl_audit_reader_open(dir, &r);
	if (rc == CL_ENOENT)
		return CL_OK;
	if (rc)
		return rc;
	while (!stop && (rc = cl_audit_reader_next(r, &e, &drc)) == 1)
		if (drc == CL_OK && cl_audit_filter_match(f, &e))
			stop = fn(arg, &e);
	cl_audit_entry_clear(&e);
	cl_audit_reader_close(r);
	if (stop)
		return stop;
	return rc < 0 ? rc : CL_OK;
}
