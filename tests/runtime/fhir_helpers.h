/*
 * Helpers of the FHIR API's runtime tests: GET with a header, the status
 * of a GET, a search walked through its next links (every page), each
 * resource seen once, and files ingested.
 */
#ifndef FHIR_HELPERS_H
#define FHIR_HELPERS_H

#include "serve_helpers.h"

#include <jansson.h>

static inline struct reply get(const struct server *s, const char *path, const char *token,
			const char *h1)
{
	return http_h(s, "GET", path, token, NULL, 0, h1, NULL);
}

static inline long code_of(const struct server *s, const char *path, const char *token, const char *h1)
{
	struct reply r = get(s, path, token, h1);
	long code = r.code;

	free(r.body);
	return code;
}

/* The ids ("Type/id") a search walks through, following next links from
 * path to the end (the first page's total, how many pages); fails on a
 * repeat. between: called after the first page (may be NULL). */
struct walk {
	json_t *seen;      /* "Type/id" -> true */
	long total;        /* the first page's total, -1 for none */
	int pages;
};

static inline struct walk walk(const struct server *s, const char *path, const char *token,
			void (*between)(void *arg), void *arg)
{
	struct walk w = { .seen = json_object(), .total = -2 };
	char next[2048];

	snprintf(next, sizeof(next), "%s", path);
	for (;;) {
		struct reply r = get(s, next, token, NULL);
		json_t *j, *e, *link, *url = NULL;
		size_t k;

		if (r.code != 200)
			fail_msg("%s: %ld %s", next, r.code, r.body);
		j = json_loads(r.body, 0, NULL);
		assert_non_null(j);
		assert_string_equal(json_string_value(json_object_get(j, "type")), "searchset");
		if (w.total == -2)
			w.total = json_is_integer(json_object_get(j, "total"))
				  ? (long)json_integer_value(json_object_get(j, "total")) : -1;
		json_array_foreach(json_object_get(j, "entry"), k, e) {
			json_t *res = json_object_get(e, "resource");
			char key[200];

			snprintf(key, sizeof(key), "%s/%s",
				 json_string_value(json_object_get(res, "resourceType")),
				 json_string_value(json_object_get(res, "id")));
			if (json_object_get(w.seen, key))
				fail_msg("%s: %s again", next, key);
			json_object_set_new(w.seen, key, json_true());
		}
		json_array_foreach(json_object_get(j, "link"), k, link)
			if (!strcmp(json_string_value(json_object_get(link, "relation")), "next"))
				url = json_object_get(link, "url");
		w.pages++;
		if (url) {
			assert_int_equal(strncmp(json_string_value(url), s->url, strlen(s->url)), 0);
			snprintf(next, sizeof(next), "%s", json_string_value(url) + strlen(s->url));
		}
		json_decref(j);
		free(r.body);
		if (!url)
			break;
		if (w.pages == 1 && between)
			between(arg);
	}
	return w;
}

/* `carelake ingest --data data path`, which must succeed. */
static inline void ingest(const char *data, const char *path)
{
	char cmd[2048];

	snprintf(cmd, sizeof(cmd), "'%s' ingest --data '%s' '%s' >/dev/null 2>&1", bin, data, path);
	assert_int_equal(system(cmd), 0);
}

/* Writes text to dir/name and ingests it. */
static inline void ingest_text(const char *data, const char *name, const char *text)
{
	char path[512];
	FILE *f;

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	f = fopen(path, "w");
	assert_non_null(f);
	fputs(text, f);
	fclose(f);
	ingest(data, path);
}

/* Runs a node script's command line (its output into dir/name); fails
 * the test with `what` and the output when it fails. Its output. */
static inline const char *run_node(const char *cmd, const char *name, const char *what)
{
	static char out[4096];
	char line[4600], path[512];
	size_t n = 0;
	FILE *f;
	int rc;

	snprintf(line, sizeof(line), "%s > '%s/%s' 2>&1", cmd, dir, name);
	rc = system(line);
	snprintf(path, sizeof(path), "%s/%s", dir, name);
	f = fopen(path, "r");
	if (f) {
		n = fread(out, 1, sizeof(out) - 1, f);
		fclose(f);
	}
	out[n] = '\0';
	if (rc != 0)
		fail_msg("%s: %s", what, out);
	return out;
}

#endif
