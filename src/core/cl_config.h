/*
 * carelake's configuration: one declarative table drives parsing,
 * validation, defaults and the printed reference (`carelake config`).
 *
 * Values come from the built-in defaults, then a YAML file (--config FILE),
 * then `--set key=value` options, each checked against the key's type and
 * bounds. Keys are dotted paths; in YAML they may be nested mappings
 * (bronze: {commit_max_records: 512}) or written flat
 * ("bronze.commit_max_records": 512). Sizes take B/KiB/MiB/GiB suffixes,
 * durations us/ms/s/m/h/d.
 */
#ifndef CL_CONFIG_H
#define CL_CONFIG_H

#include "../bronze/cl_blog.h"
#include "../stream/cl_vitals.h"

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
};

#define CL_CFG_STRING_MAX 256

/* One row of a declarative config table. */
struct cl_config_entry {
	const char *key;          /* dotted name */
	enum cl_config_type type;
	const char *def;          /* default, as a user would write it */
	int64_t min, max;         /* bounds in bytes / microseconds / units */
	size_t off;               /* offset of the field in its struct */
	const char *desc;         /* one sentence for the reference */
};

/* The table engine, shared by the global config and plugins' tables. */
void cl_config_table_defaults(const struct cl_config_entry *t, size_t n,
			      void *base);
int cl_config_table_set(const struct cl_config_entry *t, size_t n, void *base,
			const char *key, const char *value);
void cl_config_table_print(FILE *out, const struct cl_config_entry *t,
			   size_t n, const void *base, int help);

/* The parsed configuration. */
struct cl_config {
	int log_level;                 /* log.level */
	struct cl_blog_options bronze; /* bronze.* */
	struct {
		char listen[CL_CFG_STRING_MAX]; /* http.listen */
		uint32_t threads;               /* http.threads */
		uint64_t max_body_bytes;        /* http.max_body_bytes */
		int64_t connection_timeout_us;  /* http.connection_timeout */
		uint32_t max_connections;       /* http.max_connections */
		uint64_t connection_memory;     /* http.connection_memory */
	} http;
	struct {
		char broker[CL_CFG_STRING_MAX];    /* mqtt.broker, "" = off */
		char topic[CL_CFG_STRING_MAX];     /* mqtt.topic */
		char client_id[CL_CFG_STRING_MAX]; /* mqtt.client_id */
		int64_t keepalive_us;              /* mqtt.keepalive */
		uint32_t qos;                      /* mqtt.qos */
	} mqtt;
	struct {
		char windows[CL_CFG_STRING_MAX];   /* stream.windows */
		int64_t lateness_us;               /* stream.lateness */
		int64_t idle_flush_us;             /* stream.idle_flush */
		uint32_t batch_records;            /* stream.batch_records */
		char reference[CL_CFG_STRING_MAX]; /* stream.reference */
	} stream;
	struct {
		char url[CL_CFG_STRING_MAX];    /* webhook.url, "" = off */
		uint32_t attempts;              /* webhook.attempts */
		int64_t backoff_us;             /* webhook.backoff */
		int64_t timeout_us;             /* webhook.timeout */
	} webhook;
	struct {
		int64_t interval_us;            /* refine.interval, 0 = off */
		char references[CL_CFG_STRING_MAX]; /* refine.references */
	} refine;
	struct {
		uint32_t enabled;               /* lake.enabled: 1 or 0 */
		char codec[CL_CFG_STRING_MAX];  /* lake.codec: zstd, snappy or none */
		uint32_t zstd_level;            /* lake.zstd_level */
		uint32_t row_group_rows;        /* lake.row_group_rows */
		uint64_t target_file_bytes;     /* lake.target_file_size */
		uint32_t checkpoint_interval;   /* lake.checkpoint_interval */
		int64_t retention_us;           /* lake.retention */
		int64_t interval_us;            /* lake.interval */
		int64_t maintenance_us;         /* lake.maintenance_interval */
	} lake;
	struct {
		char key[128];
		char value[1024];
	} named[256];     /* alerts.<rule>.*, pipelines.<name>.*, expect.<table>.<name>.*,
			   * mappings.<name>.*,
			   * in the order given; read through cl_config_rules,
			   * cl_config_pipelines and cl_config_expectations */
	int nnamed;
	struct {
		int64_t max_future_us;          /* ingest.max_future */
		uint32_t max_events;            /* ingest.max_events */
		uint32_t dedupe_ids;            /* ingest.dedupe_ids */
	} ingest;
};

/* Fills c with the defaults from the table. */
void cl_config_defaults(struct cl_config *c);

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

/* The alert rules: the built-in ones with every alerts.* setting applied
 * (new rules declared); with `check`, complete and consistent. */
struct cl_rule;
int cl_config_rules(const struct cl_config *c, struct cl_rule *rules, int *n, int check);

/* The pipelines declared with pipelines.<name>.<field>; with `check`,
 * complete (each has a path). */
struct cl_pipeline;
int cl_config_pipelines(const struct cl_config *c, struct cl_pipeline *p, int *n, int check);

/* The expectations declared with expect.<table>.<name>.check|action;
 * with `check`, complete (each has a check) and naming real tables. */
struct cl_expectation;
int cl_config_expectations(const struct cl_config *c, struct cl_expectation *e, int *n,
			   int check);

/* The CSV mappings declared with mappings.<name>.*; with `check`, each
 * complete. */
struct cl_csv_map_decl;
int cl_config_mappings(const struct cl_config *c, struct cl_csv_map_decl *d, int *n, int check);

/* Prints every key with its current value; with `help`, its type, bounds,
 * default and description too. */
void cl_config_print(FILE *out, const struct cl_config *c, int help);

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
