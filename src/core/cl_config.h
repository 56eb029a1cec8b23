/*
 * carelake's configuration: settings sections that modules own and
 * register, and one engine that parses, validates, defaults and documents
 * them all (`carelake config --reference`).
 *
 * A module declares its section once (after nginx's ngx_command_t and
 * Redis's config table): a name ("http"), a table of its keys — type,
 * default, bounds, description, and where the value lives in the module's
 * own settings struct — or, for sections of named items (alerts.<rule>.*,
 * pipelines.<name>.*), the functions that build its list. The sections in
 * use are listed once, in src/modules.c; this engine knows none of them.
 *
 * Values come from the defaults, then a YAML file (--config FILE), then
 * `--set key=value` options, each checked against the key's type and
 * bounds. Keys are dotted paths; in YAML they may be nested mappings
 * (bronze: {commit_max_records: 512}) or written flat
 * ("bronze.commit_max_records": 512). Sizes take B/KiB/MiB/GiB suffixes,
 * durations us/ms/s/m/h/d.
 */
#ifndef CL_CONFIG_H
#define CL_CONFIG_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

/* Value types of a config entry. */
enum cl_config_type {
	CL_CFG_U32,      /* uint32_t */
	CL_CFG_SIZE,     /* uint64_t bytes, with B/KiB/MiB/GiB suffixes */
	CL_CFG_SIZE32,   /* uint32_t bytes */
	CL_CFG_DURATION, /* int64_t microseconds, with us/ms/s/m/h/d */
	CL_CFG_LEVEL,    /* int log level from its name */
	CL_CFG_STRING,   /* char[CL_CFG_STRING_MAX] */
	CL_CFG_CHOICE,   /* char[CL_CFG_STRING_MAX], one of `choices` */
};

#define CL_CFG_STRING_MAX 256

/* One row of a declarative config table. */
struct cl_config_entry {
	const char *key;          /* name within its section ("listen") */
	enum cl_config_type type;
	const char *def;          /* default, as a user would write it */
	int64_t min, max;         /* bounds in bytes / microseconds / units */
	size_t off;               /* offset of the field in its struct */
	const char *desc;         /* one sentence for the reference */
	const char *choices;      /* CL_CFG_CHOICE: "zstd|snappy|none" */
};

/*
 * A section of named items, each set by keys "<section>.<name>.<field>"
 * (alerts.fever.raise). The engine keeps these settings as text, in the
 * order given, and builds the list through the owner's functions whenever
 * it is asked for (cl_config_list), so a bad key is refused when it is set,
 * naming what is wrong.
 */
struct cl_config_list {
	const char *forms;        /* the key forms, for messages */
	size_t item_size;         /* bytes of one item */
	int max;                  /* most items */
	/* Fills the built-in items and returns how many (NULL: none). */
	int (*init)(void *items, int max);
	/* Applies one key to the n items (a new name adds one, up to max);
	 * CL_ENOENT: not a key of this section; CL_EINVAL with the reason. */
	int (*set)(void *items, int *n, int max, const char *key, const char *value);
	/* After every key: each item complete and consistent. */
	int (*check)(void *items, int n);
	/* Prints the items as "key = summary" lines; with help, how to
	 * declare one. */
	void (*print)(FILE *out, const void *items, int n, int help);
};

/* A settings section a module owns. */
struct cl_config_section {
	const char *name;                     /* its keys are <name>.<key> */
	const struct cl_config_entry *entries;  /* scalar keys, or NULL */
	size_t nentries;
	size_t size;                          /* bytes of its settings struct */
	/* Optional: sets fields the table does not (before its defaults). */
	void (*init)(void *settings);
	const struct cl_config_list *list;    /* a section of named items */
};

/* The sections in use, NULL-terminated (defined in src/modules.c). */
extern const struct cl_config_section *const cl_config_sections[];

#define CL_CONFIG_SECTIONS_MAX 32

struct cl_config_named;

/* The parsed configuration: each section's settings, and the named
 * items' keys as given. Made by cl_config_init, freed by cl_config_free;
 * copied only with cl_config_copy. */
struct cl_config {
	void *settings[CL_CONFIG_SECTIONS_MAX];  /* by index in cl_config_sections */
	struct cl_config_named *named;
	int nnamed, named_cap;
};

/* Fills c with every section's defaults. CL_ENOMEM, or 0. */
int cl_config_init(struct cl_config *c);

/* Frees what c holds; c may be zeroed or freed before. */
void cl_config_free(struct cl_config *c);

/* dst becomes an independent copy of src (dst is not freed first). */
int cl_config_copy(struct cl_config *dst, const struct cl_config *src);

/* A section's settings struct (the section must be registered). */
const void *cl_config_get(const struct cl_config *c, const struct cl_config_section *sec);

/* Sets one key from its text form; CL_ENOENT for an unknown key,
 * CL_EINVAL/CL_ERANGE with a detail naming the key and the bounds. */
int cl_config_set(struct cl_config *c, const char *key, const char *value);

/* Applies "key=value". */
int cl_config_set_pair(struct cl_config *c, const char *pair);

/* Applies a YAML document (text of len bytes; name is used in errors). */
int cl_config_load_yaml(struct cl_config *c, const char *text, size_t len,
			const char *name);

/* Reads and applies a YAML file. */
int cl_config_load_file(struct cl_config *c, const char *path);

/* Builds a list section's items (the built-in ones with every key of the
 * section applied, in order) into items[sec->list->max]; with `check`,
 * each complete. */
int cl_config_list(const struct cl_config *c, const struct cl_config_section *sec,
		   void *items, int *n, int check);

/* Prints every key with its current value; with `help`, its type, bounds,
 * default and description too. */
void cl_config_print(FILE *out, const struct cl_config *c, int help);

/* The table engine, also for tables that are not registered sections. */
void cl_config_table_defaults(const struct cl_config_entry *t, size_t n, void *base);
int cl_config_table_set(const struct cl_config_entry *t, size_t n, void *base,
			const char *key, const char *value);
void cl_config_table_print(FILE *out, const char *prefix, const struct cl_config_entry *t,
			   size_t n, const void *base, int help);

/* Writes v, a value of the given type (a size, a duration, a count), in
 * the units a user would write it: 256MiB, 30s, 100000. */
void cl_config_format(enum cl_config_type type, int64_t v, char *buf, size_t cap);

/* Checked conversions used for config and for numbers from the network. */
int cl_parse_u64(const char *s, uint64_t min, uint64_t max, uint64_t *out);
int cl_parse_size(const char *s, uint64_t min, uint64_t max, uint64_t *out);
int cl_parse_duration_us(const char *s, int64_t min, int64_t max, int64_t *out);

/*
 * Splits "<prefix><name>.<field>" (alerts.fever.raise, pipelines.drop.path)
 * when field is one of fields[] (NULL-terminated): name into name[cap],
 * *field pointing into key. CL_ENOENT if the key is not of that form;
 * CL_EINVAL if the name is empty, too long, or not letters, digits, '_'
 * and '-' (what says what is named, for the message).
 */
int cl_config_named_key(const char *key, const char *prefix, const char *const *fields,
			const char *what, char *name, size_t cap, const char **field);

#endif
