/*
 * The input plugin interface (after Fluent Bit's flb_input_plugin).
 *
 * An input plugin produces records for one bronze source. Each lives in its
 * own folder under plugins/, declares itself with one struct of designated
 * initialisers, and is listed once in src/plugins.c. Its settings are a
 * declarative config table (struct cl_config_entry), so the core parses,
 * validates and documents them exactly like the global config.
 */
#ifndef CL_PLUGIN_H
#define CL_PLUGIN_H

#include "core/cl_config.h"

#include <stddef.h>
#include <stdint.h>

/* Where a plugin hands its records: returns 0 or a CL_E* code (a full
 * bronze log answers CL_EBUSY; the plugin keeps the record and retries). */
typedef int (*cl_emit_fn)(void *arg, const void *rec, size_t len);

struct cl_input_plugin {
	const char *name;                      /* used in config and --help */
	const char *description;               /* one line */
	const char *source;                    /* default bronze source name */
	const struct cl_config_entry *config_map; /* its settings */
	size_t config_count;
	size_t config_size;                    /* bytes of its settings struct */
	/* Creates the instance state from parsed settings. */
	int (*cb_init)(void **state, const void *settings);
	/* Emits the records due by now_us; returns how many, or < 0. */
	int (*cb_collect)(void *state, int64_t now_us, cl_emit_fn emit, void *arg);
	/* Frees the state; called once, also after a failed collect. */
	void (*cb_exit)(void *state);
};

/* The registered input plugins, NULL-terminated. */
extern const struct cl_input_plugin *const cl_input_plugins[];

/* Finds an input plugin by name, or NULL. */
const struct cl_input_plugin *cl_input_plugin_find(const char *name);

#endif
