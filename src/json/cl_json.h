/*
 * carelake's zero-copy JSON parser for the hot path (device events, FHIR).
 *
 * It validates the whole input strictly (RFC 8259: UTF-8, escapes,
 * surrogate pairs, number grammar, nesting depth) and produces a flat array
 * of tokens that point into the input; nothing is copied or allocated per
 * value. Strings are unescaped only when asked. jansson remains the library
 * for general JSON (config, API objects); fuzz_json_diff checks that both
 * accept and reject the same documents and read the same values.
 *
 * Token layout: a container token is followed by its children in order; an
 * object's children alternate key (a string) and value. Every token's
 * `next` is the index just past its whole subtree, so siblings are walked
 * with i = toks[i].next.
 *
 * Repeated keys: RFC 8259 only says names SHOULD be unique, so a document
 * with `{"value":1,"value":500}` parses (cl_json_get finds the last); a
 * caller that accepts records asks cl_json_repeated_key about each one, so
 * it can refuse that record by itself, not the whole document.
 */
#ifndef CL_JSON_H
#define CL_JSON_H

#include <stddef.h>
#include <stdint.h>

enum cl_json_type {
	CL_JSON_NULL,
	CL_JSON_FALSE,
	CL_JSON_TRUE,
	CL_JSON_NUMBER,
	CL_JSON_STRING,
	CL_JSON_ARRAY,
	CL_JSON_OBJECT,
};

struct cl_json_tok {
	uint8_t type;      /* enum cl_json_type */
	uint8_t escaped;   /* a string with backslash escapes */
	uint8_t is_int;    /* a number without fraction or exponent */
	uint32_t start;    /* first byte (strings: after the opening quote) */
	uint32_t len;      /* bytes (strings: raw, without quotes) */
	uint32_t size;     /* children: array elements or object pairs */
	uint32_t next;     /* index just past this token's subtree */
};

/* A parsed document; reusable across parses (tokens are kept). */
struct cl_json_doc {
	const char *src;
	size_t len;
	struct cl_json_tok *toks;
	uint32_t count, cap;
	uint32_t max_tokens;  /* refuse documents with more (default 1<<22) */
	char err[160];        /* what was wrong and where, after a failure */
	size_t err_pos;       /* byte offset of the problem */
};

#define CL_JSON_MAX_DEPTH 64

void cl_json_doc_init(struct cl_json_doc *d);
void cl_json_doc_free(struct cl_json_doc *d);

/*
 * Parses exactly one JSON value (surrounding whitespace allowed) from
 * src[0..len). Returns 0, CL_EPARSE with d->err set ("at byte 17: ..."),
 * CL_ETOOBIG or CL_ENOMEM. Inputs over 4 GiB are refused.
 */
int cl_json_parse(struct cl_json_doc *d, const char *src, size_t len);

/* Index of the value of `key` in the object at index obj (the last one if
 * the key repeats), or -1. */
int cl_json_get(const struct cl_json_doc *d, uint32_t obj, const char *key);

/*
 * A key that repeats an earlier key of its object (escapes resolved, as
 * jansson's JSON_REJECT_DUPLICATES compares them), in the first object
 * whose token lies in [from, to): its token, or -1 if there is none. To
 * check the value at i and all inside it, pass i and d->toks[i].next.
 */
int cl_json_repeated_key(const struct cl_json_doc *d, uint32_t from, uint32_t to);

/*
 * A 64-bit hash of the value at token i, the same for equal JSON values:
 * whitespace, the order of an object's members, how a number is spelled
 * (80, 80.0, 8e1) and how a string is escaped do not change it; any other
 * difference does, but for chance (about 2^-64). Ingest tells a retried
 * record from a different one sent under the same id by it.
 */
uint64_t cl_json_hash(const struct cl_json_doc *d, uint32_t i);

/*
 * Where token tok lies inside the value at root, for messages: member
 * names and array indexes, "valueQuantity.value", "component[1].code"
 * ("" for root itself; a key token names its member). Names are cut at
 * 40 bytes and bytes that are not printable ASCII shown as '?'. Returns
 * the length written into buf (NUL-terminated, cut to cap).
 */
size_t cl_json_path(const struct cl_json_doc *d, uint32_t root, uint32_t tok, char *buf,
		    size_t cap);

/* 1 if the string token at i equals s (escapes resolved). */
int cl_json_str_eq(const struct cl_json_doc *d, uint32_t i, const char *s);

/*
 * Unescapes the string token at i into buf (NUL-terminated). Returns its
 * length, or -1 if it does not fit in cap-1 bytes.
 */
long cl_json_str(const struct cl_json_doc *d, uint32_t i, char *buf, size_t cap);

/* The number token at i as a double; CL_EINVAL if it is not a number. */
int cl_json_double(const struct cl_json_doc *d, uint32_t i, double *out);

/* The number token at i as an int64 (integers only); CL_EINVAL/CL_ERANGE. */
int cl_json_int64(const struct cl_json_doc *d, uint32_t i, int64_t *out);

/* A name for a type, for messages ("a string", "an object", ...). */
const char *cl_json_type_name(int type);

#endif
