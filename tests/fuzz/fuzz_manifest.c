/*
 * Fuzz target: a bronze source's file manifest as read on recovery
 * (refine --rebuild, verify). Whatever the bytes, every line is either a
 * whole entry (a hash and a path, as strings) handed to the callback or
 * reported as bad with its line number, never both and never neither, and
 * the line numbers only grow.
 */
#include "fuzz_entry.h"
#include "bronze/cl_manifest.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

struct count {
	uint64_t entries, bad, last_bad;
};

static int on_entry(void *arg, const char *source, const struct cl_manifest_entry *e)
{
	struct count *c = arg;

	if (!e->hash || !e->path || !json_is_object(e->line) || strcmp(source, "src") != 0)
		abort();
	c->entries++;
	return 0;
}

static void on_bad(void *arg, const char *source, uint64_t line, const char *why)
{
	struct count *c = arg;

	if (!why || !*why || line <= c->last_bad || strcmp(source, "src") != 0)
		abort();
	c->last_bad = line;
	c->bad++;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct count c = { 0 };
	uint64_t lines = 0;
	size_t start = 0;

	for (size_t i = 0; i <= size; i++)
		if (i == size || data[i] == '\n') {
			if (i > start)
				lines++;
			start = i + 1;
		}
	if (cl_manifest_parse((const char *)data, size, "src", on_entry, on_bad, &c) != 0)
		abort();
	if (c.entries + c.bad != lines)
		abort();
	return 0;
}
