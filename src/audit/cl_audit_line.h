/*
 * One line of the audit trail: how a record is written as JSON, how the
 * hash chain covers it, and how a line read back from disk is checked and
 * decoded.
 *
 * A line is one JSON object ending in a newline, its members always in
 * this order:
 *
 *   {"seq":7,"prev":"<64 hex>","time":"2026-11-22T06:00:00.123456Z",
 *    "kind":"event","principal":...,...,"hash":"<64 hex>"}
 *
 * `hash` is BLAKE2b-256 (libsodium's crypto_generichash) of the line's
 * canonical bytes: the line without its `,"hash":"..."` member and without
 * the newline, that is everything before `,"hash":` followed by `}`.
 * `prev` is the hash of the record before (64 zeros for seq 1), so the
 * records form a chain: changing, removing, inserting or reordering one
 * breaks it at that place. A checkpoint (kind "checkpoint") is a record of
 * the chain too; it carries `head_seq` (the record it covers, seq - 1),
 * `key` (the Ed25519 public key, hex) and `sig`, the detached signature of
 * cl_audit_checkpoint_message(head_seq, prev).
 *
 * Lines are read as outside input (files can be edited, shipped and
 * brought back): decoding checks the JSON strictly (jansson, no repeated
 * keys), the types of the members and the hash.
 */
#ifndef CL_AUDIT_LINE_H
#define CL_AUDIT_LINE_H

#include <stddef.h>
#include <stdint.h>

#include "cl_audit.h"

/* Bytes of a hash and of its hex form. */
#define CL_AUDIT_HASH_BYTES 32
#define CL_AUDIT_HEX_LEN 64

/* The longest line accepted, newline included. */
#define CL_AUDIT_LINE_MAX (1u << 20)

/* Kinds of records. */
enum cl_audit_kind {
	CL_AUDIT_EVENT = 1,       /* an access to patient data, or a refusal */
	CL_AUDIT_CHECKPOINT = 2,  /* a signed checkpoint of the chain head */
};

/* A growable byte buffer (cl_malloc'd). */
struct cl_audit_buf {
	char *p;
	size_t len, cap;
};

/* Makes room for n more bytes: 0 or CL_ENOMEM. */
int cl_audit_buf_reserve(struct cl_audit_buf *b, size_t n);

/* Frees the buffer's bytes; the buffer becomes empty. */
void cl_audit_buf_free(struct cl_audit_buf *b);

/*
 * Appends the body of an event record to b: the members after "prev", from
 * `,"time":` to the last member before "hash", without the closing brace.
 * Strings are JSON-escaped; bytes that are not UTF-8 become U+FFFD. time
 * is r->time_us, or now_us when that is 0. CL_ETOOBIG when the body would
 * make a line longer than CL_AUDIT_LINE_MAX, CL_ENOMEM.
 */
int cl_audit_body_encode(struct cl_audit_buf *b, const struct cl_audit_record *r,
			 int64_t now_us);

/*
 * Appends one whole line to out: seq, prev (the previous record's hash),
 * the body (as cl_audit_body_encode made it), the hash, a newline; the
 * record's own hash goes to hash[CL_AUDIT_HASH_BYTES].
 */
int cl_audit_line_encode(struct cl_audit_buf *out, uint64_t seq,
			 const unsigned char prev[CL_AUDIT_HASH_BYTES], const char *body,
			 size_t body_len, unsigned char hash[CL_AUDIT_HASH_BYTES]);

/* The text a checkpoint signs: "carelake-audit-checkpoint v1 seq=<head_seq>
 * head=<hex>", into buf[cap]; returns its length. */
size_t cl_audit_checkpoint_message(uint64_t head_seq, const char *head_hex, char *buf,
				   size_t cap);

/*
 * Appends the body of a checkpoint covering the record head_seq whose hash
 * is head, signed with the Ed25519 secret key sk (64 bytes) whose public
 * key is pk (32 bytes).
 */
int cl_audit_checkpoint_body(struct cl_audit_buf *b, int64_t now_us, uint64_t head_seq,
			     const unsigned char head[CL_AUDIT_HASH_BYTES],
			     const unsigned char sk[64], const unsigned char pk[32]);

/*
 * A line read back: the record with its place in the chain. Strings point
 * into memory the entry owns until cl_audit_entry_clear.
 */
struct cl_audit_entry {
	uint64_t seq;
	int kind;                          /* enum cl_audit_kind */
	char prev[CL_AUDIT_HEX_LEN + 1];   /* hex hash of the record before */
	char hash[CL_AUDIT_HEX_LEN + 1];   /* hex hash the line states */
	struct cl_audit_record rec;        /* events: what was done; time_us for both */
	uint64_t head_seq;                 /* checkpoints: the record covered */
	const char *key;                   /* checkpoints: public key, hex */
	const char *sig;                   /* checkpoints: signature, hex */
	const char *file;                  /* where it was read (borrowed) */
	uint64_t line;                     /* its line number in file, from 1 */
	/* owned memory */
	void *root;                        /* the parsed JSON (json_t) */
	const char **ids;                  /* resource_ids then patients */
};

/* Releases what an entry owns; the entry may be reused. */
void cl_audit_entry_clear(struct cl_audit_entry *e);

/*
 * Decodes one line (len bytes, without its newline) into e. CL_EPARSE with
 * the detail saying what is wrong when it is not a record of the trail's
 * form; CL_ECORRUPT, with e filled, when its form is right but its hash
 * does not match its content (the record was changed). 0 when whole.
 */
int cl_audit_line_decode(const char *line, size_t len, struct cl_audit_entry *e);

/* Writes the 32 bytes of h as 64 lowercase hex digits and a NUL. */
void cl_audit_hex(const unsigned char *h, size_t n, char *out);

/* Reads 2n hex digits into n bytes: 0, or CL_EINVAL. */
int cl_audit_unhex(const char *hex, unsigned char *out, size_t n);

#endif
