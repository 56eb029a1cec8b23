/*
 * Differential fuzz target: carelake's zero-copy JSON parser against
 * jansson. Both must accept and reject the same documents (beyond our
 * nesting limit of 64, where jansson goes deeper, and NUL bytes, see
 * below), and when both accept,
 * every value must be the same: types, integers, doubles, strings after
 * unescaping, array lengths, object members (the last of duplicate keys).
 * Repeated keys: ours finds one in an object exactly when jansson folds
 * some of its members into fewer, and in a document exactly when
 * jansson's JSON_REJECT_DUPLICATES refuses it. The value
 * hash: jansson writes the document again (members sorted, non-ASCII
 * escaped, numbers in its own spelling) and ours must hash that as the
 * original.
 */
#include "fuzz_entry.h"
#include "core/cl_error.h"
#include "json/cl_json.h"

#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static struct cl_json_doc doc, again;
static int inited;

static void compare(uint32_t i, json_t *j)
{
	const struct cl_json_tok *t = &doc.toks[i];

	switch (t->type) {
	case CL_JSON_NULL:
		if (!json_is_null(j))
			abort();
		break;
	case CL_JSON_TRUE:
		if (!json_is_true(j))
			abort();
		break;
	case CL_JSON_FALSE:
		if (!json_is_false(j))
			abort();
		break;
	case CL_JSON_NUMBER:
		if (t->is_int) {
			int64_t v;

			if (!json_is_integer(j) || cl_json_int64(&doc, i, &v) != CL_OK ||
			    v != json_integer_value(j))
				abort();
		} else {
			double v;

			if (!json_is_real(j) || cl_json_double(&doc, i, &v) != CL_OK ||
			    v != json_real_value(j))
				abort();
		}
		break;
	case CL_JSON_STRING: {
		static char buf[1 << 16];
		long n = cl_json_str(&doc, i, buf, sizeof(buf));

		if (!json_is_string(j) || n < 0 || (size_t)n != json_string_length(j) ||
		    memcmp(buf, json_string_value(j), (size_t)n) != 0)
			abort();
		break;
	}
	case CL_JSON_ARRAY: {
		uint32_t e = i + 1;

		if (!json_is_array(j) || json_array_size(j) != t->size)
			abort();
		for (size_t k = 0; k < t->size; k++) {
			compare(e, json_array_get(j, k));
			e = doc.toks[e].next;
		}
		break;
	}
	case CL_JSON_OBJECT: {
		uint32_t k = i + 1;

		if (!json_is_object(j))
			abort();
		for (uint32_t n = 0; n < t->size; n++) {
			static char key[1 << 16];
			long kl = cl_json_str(&doc, k, key, sizeof(key));
			json_t *jv;
			int v;

			if (kl < 0)
				abort();
			jv = json_object_getn(j, key, (size_t)kl);
			v = cl_json_get(&doc, i, key);
			if (!jv || v < 0)
				abort();
			compare((uint32_t)v, jv);
			k = doc.toks[k + 1].next;
		}
		if ((cl_json_repeated_key(&doc, i, i + 1) >= 0) != (t->size != json_object_size(j)))
			abort();
		break;
	}
	default:
		abort();
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	json_error_t err;
	json_t *j;
	int rc;

	if (!inited) {
		cl_json_doc_init(&doc);
		cl_json_doc_init(&again);
		inited = 1;
	}
	/* jansson's json_loadb treats a NUL byte as the end of input and so
	 * accepts "1\0garbage"; we refuse NUL, as RFC 8259 does. Only compare
	 * texts without one, and check that ours is refused. */
	if (memchr(data, 0, size)) {
		if (cl_json_parse(&doc, (const char *)data, size) == CL_OK) {
			/* a NUL can only be inside nothing valid */
			abort();
		}
		return 0;
	}
	rc = cl_json_parse(&doc, (const char *)data, size);
	j = json_loadb((const char *)data, size, JSON_DECODE_ANY, &err);
	if (rc == CL_EPARSE && strstr(doc.err, "deeper")) {
		json_decref(j);
		return 0; /* jansson allows 2048 levels; we stop at 64 */
	}
	if ((rc == CL_OK) != (j != NULL)) {
		fprintf(stderr, "disagree: carelake %s, jansson %s\n",
			rc == CL_OK ? "accepts" : doc.err, j ? "accepts" : err.text);
		abort();
	}
	if (rc == CL_OK) {
		json_t *strict;
		int repeat;

		if (doc.toks[0].next != doc.count)
			abort();
		compare(0, j);
		strict = json_loadb((const char *)data, size, JSON_DECODE_ANY | JSON_REJECT_DUPLICATES,
				    &err);
		repeat = cl_json_repeated_key(&doc, 0, doc.count);
		if ((strict == NULL) != (repeat >= 0)) {
			fprintf(stderr, "repeated keys: carelake finds %d, jansson %s\n", repeat,
				strict ? "accepts" : err.text);
			abort();
		}
		json_decref(strict);
		if (repeat < 0) {
			/* (jansson folds a repeated key: a different value) */
			char *text = json_dumps(j, JSON_ENCODE_ANY | JSON_COMPACT | JSON_SORT_KEYS |
						   JSON_ENSURE_ASCII);

			if (!text || cl_json_parse(&again, text, strlen(text)) != CL_OK ||
			    cl_json_hash(&again, 0) != cl_json_hash(&doc, 0)) {
				fprintf(stderr, "hash differs once jansson writes it: %s\n",
					text ? text : "(no text)");
				abort();
			}
			free(text);
		}
	} else if (doc.err[0] == '\0') {
		abort(); /* every rejection says why */
	}
	json_decref(j);
	return 0;
}
