/*
 * The configuration table and its parsers. See cl_config.h.
 *
 * YAML is read with libyaml (the reference C implementation). libfyaml was
 * the first choice; fuzz_config found it looping forever on invalid UTF-8
 * in a directive and leaking on some quoted keys (Debian 0.7.12).
 *
 * To add a setting: add a field to struct cl_config and one row to
 * `table`. Parsing, bounds checks, defaults and the printed reference all
 * come from that row.
 */
#include "cl_config.h"
#include "cl_error.h"
#include "cl_fs.h"
#include "cl_log.h"
#include "cl_mem.h"
#include "cl_utf8.h"
#include "stream/cl_rules.h"
#include "batch/cl_pipeline.h"
#include "batch/cl_silver.h"
#include "batch/cl_csv_map.h"

#include <ctype.h>
#include <yaml.h>
#include <stddef.h>
#include <string.h>

#define T_U32 CL_CFG_U32
#define T_SIZE CL_CFG_SIZE
#define T_SIZE32 CL_CFG_SIZE32
#define T_DURATION CL_CFG_DURATION
#define T_LEVEL CL_CFG_LEVEL
#define T_STRING CL_CFG_STRING
#define cfg_entry cl_config_entry

#define F(field) offsetof(struct cl_config, field)
#define KiB 1024ll
#define MiB (1024ll * 1024)
#define GiB (1024ll * 1024 * 1024)
#define SEC 1000000ll

static const struct cfg_entry table[] = {
	{ "log.level", T_LEVEL, "info", 0, 3, F(log_level),
	  "least severe log level written: error, warn, info or debug" },
	{ "bronze.segment_max_bytes", T_SIZE, "64MiB", 4 * KiB, 4 * GiB,
	  F(bronze.segment_max_bytes),
	  "a new segment file starts before one would grow past this" },
	{ "bronze.segment_max_age", T_DURATION, "1h", SEC, 7 * 86400 * SEC,
	  F(bronze.segment_max_age_us),
	  "a new segment file starts when the current one is this old "
	  "(and always at UTC midnight)" },
	{ "bronze.commit_max_records", T_U32, "4096", 1, 1000000,
	  F(bronze.commit_max_records),
	  "most records made durable by one fdatasync (the group-commit batch)" },
	{ "bronze.commit_max_bytes", T_SIZE, "4MiB", 4 * KiB, 256 * MiB,
	  F(bronze.commit_max_bytes),
	  "most framed bytes in one commit batch" },
	{ "bronze.commit_max_wait", T_DURATION, "0", 0, SEC,
	  F(bronze.commit_max_wait_us),
	  "how long a commit may wait for its batch to fill; 0 commits as soon "
	  "as the disk is free (records arriving meanwhile share the next sync)" },
	{ "bronze.pending_max_bytes", T_SIZE, "64MiB", 64 * KiB, 16 * GiB,
	  F(bronze.pending_max_bytes),
	  "bytes accepted but not yet durable before producers are pushed "
	  "back: blocked, or told CL_EBUSY (retry later) if they cannot wait" },
	{ "bronze.record_max_bytes", T_SIZE32, "4MiB", 64, 64 * MiB,
	  F(bronze.record_max_bytes),
	  "largest single record accepted into bronze" },
	{ "http.listen", T_STRING, "127.0.0.1:8080", 0, 0, F(http.listen),
	  "address and port `carelake serve` listens on (port 0: any free port)" },
	{ "http.threads", T_U32, "2", 1, 64, F(http.threads),
	  "HTTP event loops: this many of carelake's own (plain ingest requests) and as many "
	  "of libmicrohttpd's (everything else)" },
	{ "http.max_body_bytes", T_SIZE, "16MiB", 1 * KiB, 1 * GiB, F(http.max_body_bytes),
	  "largest request body; larger ones get 413" },
	{ "http.connection_timeout", T_DURATION, "30s", SEC, 3600 * SEC,
	  F(http.connection_timeout_us),
	  "an idle or stalled connection is closed after this" },
	{ "http.connection_memory", T_SIZE, "16KiB", 4 * KiB, 1 * MiB, F(http.connection_memory),
	  "memory per libmicrohttpd connection for its request line, headers and read buffer" },
	{ "http.max_connections", T_U32, "1024", 1, 100000, F(http.max_connections),
	  "most concurrent HTTP connections (carelake's loops and libmicrohttpd each hold at "
	  "most this many)" },
	{ "mqtt.broker", T_STRING, "", 0, 0, F(mqtt.broker),
	  "HOST:PORT of an MQTT broker to take device events from; empty: no MQTT" },
	{ "mqtt.topic", T_STRING, "devices/+/messages/events", 0, 0, F(mqtt.topic),
	  "topic filter subscribed to (the IoT-hub device-to-cloud convention)" },
	{ "mqtt.client_id", T_STRING, "carelake", 0, 0, F(mqtt.client_id),
	  "MQTT client id; the broker keeps this session's unacknowledged messages" },
	{ "mqtt.keepalive", T_DURATION, "30s", SEC, 3600 * SEC, F(mqtt.keepalive_us),
	  "MQTT keep-alive interval" },
	{ "mqtt.qos", T_U32, "1", 0, 1, F(mqtt.qos),
	  "subscription QoS: 1 acknowledges each message once its events are durable" },
	{ "stream.windows", T_STRING, "1m=tumbling:1m,1h=tumbling:1h", 0, 0, F(stream.windows),
	  "rollup windows per patient and vital: NAME=KIND:SIZE[/HOP], KIND tumbling, "
	  "hopping (SIZE/HOP), sliding or session (SIZE is the gap)" },
	{ "stream.lateness", T_DURATION, "30s", 0, 86400 * SEC, F(stream.lateness_us),
	  "how far behind the latest event time an event may arrive and still count" },
	{ "stream.idle_flush", T_DURATION, "5s", 0, 3600 * SEC, F(stream.idle_flush_us),
	  "after this long without events, wall-clock time closes windows" },
	{ "stream.batch_records", T_U32, "20000", 1, 10000000, F(stream.batch_records),
	  "most bronze records the stream processor applies per step (per log)" },
	{ "stream.reference", T_STRING, "", 0, 0, F(stream.reference),
	  "JSON file of patient id -> {ward, bed, attending}; alerts and live vitals carry them" },
	{ "webhook.url", T_STRING, "", 0, 0, F(webhook.url),
	  "POST every alert opened or closed to this URL as JSON; empty: no webhook" },
	{ "webhook.attempts", T_U32, "3", 1, 100, F(webhook.attempts),
	  "tries per alert before it goes to the dead-letter file" },
	{ "webhook.backoff", T_DURATION, "1s", 1000, 600 * SEC, F(webhook.backoff_us),
	  "wait before the first retry; doubles each time" },
	{ "webhook.timeout", T_DURATION, "5s", 1000, 600 * SEC, F(webhook.timeout_us),
	  "longest a webhook request may take" },
	{ "refine.interval", T_DURATION, "10s", 0, 86400 * SEC, F(refine.interval_us),
	  "serve refines new device events and FHIR posts into silver this often; 0: never" },
	{ "refine.references", T_STRING, "warn", 0, 0, F(refine.references),
	  "rows whose patient, encounter, practitioner or staff id names no row: warn (kept and "
	  "listed), drop or quarantine" },
	{ "lake.enabled", T_U32, "1", 0, 1, F(lake.enabled),
	  "1: keep every silver and gold table also as a Delta Lake table under silver/ and "
	  "gold/; 0: only in carelake.db" },
	{ "lake.codec", T_STRING, "zstd", 0, 0, F(lake.codec),
	  "compression of the Parquet files carelake writes: zstd, snappy or none" },
	{ "lake.zstd_level", T_U32, "3", 1, 19, F(lake.zstd_level),
	  "zstd level for Parquet pages (higher: smaller and slower)" },
	{ "lake.row_group_rows", T_U32, "1048576", 1024, 67108864, F(lake.row_group_rows),
	  "rows per Parquet row group" },
	{ "lake.target_file_size", T_SIZE, "128MiB", 1 * MiB, 16 * GiB, F(lake.target_file_bytes),
	  "optimize compacts files smaller than this into files of about this size" },
	{ "lake.checkpoint_interval", T_U32, "10", 1, 100000, F(lake.checkpoint_interval),
	  "write a Parquet checkpoint of a Delta table's log every this many commits" },
	{ "lake.interval", T_DURATION, "30s", 0, 86400 * SEC, F(lake.interval_us),
	  "serve brings the Delta tables up to date at most this often (ingest and refine "
	  "do it at once)" },
	{ "lake.maintenance_interval", T_DURATION, "1h", 0, 30 * 86400 * SEC, F(lake.maintenance_us),
	  "serve compacts (optimize) and cleans up (vacuum, after lake.retention) every Delta "
	  "table this often; 0: never" },
	{ "lake.retention", T_DURATION, "7d", 0, 3650 * 86400 * SEC, F(lake.retention_us),
	  "vacuum deletes files removed from a Delta table longer ago than this" },
	{ "ingest.max_future", T_DURATION, "5m", 0, 86400 * SEC, F(ingest.max_future_us),
	  "events timestamped further ahead of arrival than this are rejected" },
	{ "ingest.max_events", T_U32, "100000", 1, 10000000, F(ingest.max_events),
	  "most events in one request body" },
	{ "ingest.dedupe_ids", T_U32, "1000000", 1000, 100000000, F(ingest.dedupe_ids),
	  "how many recent event ids are remembered, with their content, to answer retries as "
	  "duplicates and reused ids as conflicts (about 50 bytes each)" },
};

#define NENTRIES (sizeof(table) / sizeof(table[0]))

static const char *const levels[] = { "error", "warn", "info", "debug" };

int cl_parse_u64(const char *s, uint64_t min, uint64_t max, uint64_t *out)
{
	uint64_t v = 0;
	const char *p = s;

	if (!*p)
		return cl_error_set(CL_EINVAL, "empty number");
	for (; *p; p++) {
		if (*p < '0' || *p > '9')
			return cl_error_set(CL_EINVAL, "'%.40s' is not a whole number", s);
		if (v > (UINT64_MAX - (uint64_t)(*p - '0')) / 10)
			return cl_error_set(CL_ERANGE, "'%.40s' is too large", s);
		v = v * 10 + (uint64_t)(*p - '0');
	}
	if (v < min || v > max)
		return cl_error_set(CL_ERANGE, "%llu is outside %llu..%llu",
				    (unsigned long long)v, (unsigned long long)min,
				    (unsigned long long)max);
	*out = v;
	return CL_OK;
}

/* Splits "123abc" into the number and the unit suffix. */
static int split_unit(const char *s, uint64_t *num, const char **unit)
{
	char digits[24];
	size_t n = 0;

	while (s[n] >= '0' && s[n] <= '9')
		n++;
	if (n == 0 || n >= sizeof(digits))
		return cl_error_set(CL_EINVAL, "'%.40s' does not start with a number", s);
	memcpy(digits, s, n);
	digits[n] = '\0';
	*unit = s + n;
	while (**unit == ' ')
		(*unit)++;
	return cl_parse_u64(digits, 0, UINT64_MAX, num);
}

static int scale(uint64_t num, uint64_t mul, uint64_t *out, const char *s)
{
	if (mul && num > UINT64_MAX / mul)
		return cl_error_set(CL_ERANGE, "'%.40s' is too large", s);
	*out = num * mul;
	return CL_OK;
}

int cl_parse_size(const char *s, uint64_t min, uint64_t max, uint64_t *out)
{
	static const struct { const char *u; uint64_t mul; } units[] = {
		{ "", 1 }, { "B", 1 }, { "KiB", 1ull << 10 }, { "MiB", 1ull << 20 },
		{ "GiB", 1ull << 30 }, { "K", 1ull << 10 }, { "M", 1ull << 20 },
		{ "G", 1ull << 30 }, { "KB", 1000 }, { "MB", 1000000 },
		{ "GB", 1000000000 },
	};
	const char *unit = "";
	uint64_t num = 0, v = 0;
	int rc = split_unit(s, &num, &unit);

	if (rc)
		return rc;
	for (size_t i = 0; i < sizeof(units) / sizeof(units[0]); i++) {
		if (strcmp(unit, units[i].u) != 0)
			continue;
		rc = scale(num, units[i].mul, &v, s);
		if (rc)
			return rc;
		if (v < min || v > max)
			return cl_error_set(CL_ERANGE, "%s is outside %llu..%llu bytes", s,
					    (unsigned long long)min,
					    (unsigned long long)max);
		*out = v;
		return CL_OK;
	}
	return cl_error_set(CL_EINVAL, "unknown size unit '%.10s' (use B, KiB, MiB, GiB)",
			    unit);
}

int cl_parse_duration_us(const char *s, int64_t min, int64_t max, int64_t *out)
{
	static const struct { const char *u; uint64_t mul; } units[] = {
		{ "us", 1 }, { "ms", 1000 }, { "s", 1000000 }, { "m", 60000000 },
		{ "h", 3600000000ull }, { "d", 86400000000ull },
	};
	const char *unit = "";
	uint64_t num = 0, v = 0;
	int rc = split_unit(s, &num, &unit);

	if (rc)
		return rc;
	if (*unit == '\0' && num == 0) {
		v = 0;
	} else {
		size_t i;

		for (i = 0; i < sizeof(units) / sizeof(units[0]); i++)
			if (strcmp(unit, units[i].u) == 0)
				break;
		if (i == sizeof(units) / sizeof(units[0]))
			return cl_error_set(CL_EINVAL,
					    "'%.40s' needs a unit: us, ms, s, m, h or d", s);
		rc = scale(num, units[i].mul, &v, s);
		if (rc)
			return rc;
	}
	if (v > (uint64_t)INT64_MAX || (int64_t)v < min || (int64_t)v > max)
		return cl_error_set(CL_ERANGE, "%s is outside the allowed range", s);
	*out = (int64_t)v;
	return CL_OK;
}

static const struct cfg_entry *find(const struct cfg_entry *t, size_t n,
				    const char *key)
{
	for (size_t i = 0; i < n; i++)
		if (strcmp(t[i].key, key) == 0)
			return &t[i];
	return NULL;
}

static int apply(void *c, const struct cfg_entry *e, const char *value)
{
	char *field = (char *)c + e->off;
	uint64_t u;
	int64_t d;
	int rc = CL_OK;

	switch (e->type) {
	case T_U32:
		rc = cl_parse_u64(value, (uint64_t)e->min, (uint64_t)e->max, &u);
		if (rc == CL_OK)
			*(uint32_t *)field = (uint32_t)u;
		break;
	case T_SIZE:
	case T_SIZE32:
		rc = cl_parse_size(value, (uint64_t)e->min, (uint64_t)e->max, &u);
		if (rc == CL_OK && e->type == T_SIZE32)
			*(uint32_t *)field = (uint32_t)u;
		else if (rc == CL_OK)
			*(uint64_t *)field = u;
		break;
	case T_DURATION:
		rc = cl_parse_duration_us(value, e->min, e->max, &d);
		if (rc == CL_OK)
			*(int64_t *)field = d;
		break;
	case T_STRING:
		if (strlen(value) >= CL_CFG_STRING_MAX)
			return cl_error_set(CL_ERANGE, "%s: value longer than %d bytes",
					    e->key, CL_CFG_STRING_MAX - 1);
		memcpy(field, value, strlen(value) + 1);
		return CL_OK;
	case T_LEVEL:
		for (int i = 0; i < 4; i++)
			if (strcmp(value, levels[i]) == 0) {
				*(int *)field = i;
				return CL_OK;
			}
		return cl_error_set(CL_EINVAL,
				    "%s: '%.40s' is not one of error, warn, info, debug",
				    e->key, value);
	}
	if (rc)
		return cl_error_set(rc, "%s: %s", e->key, cl_error_detail());
	return CL_OK;
}

void cl_config_table_defaults(const struct cl_config_entry *t, size_t n,
			      void *base)
{
	for (size_t i = 0; i < n; i++)
		if (apply(base, &t[i], t[i].def) != CL_OK)
			cl_log_error("config", "event=bad_default key=%s", t[i].key);
}

int cl_config_table_set(const struct cl_config_entry *t, size_t n, void *base,
			const char *key, const char *value)
{
	const struct cfg_entry *e = find(t, n, key);

	if (!e)
		return cl_error_set(CL_ENOENT, "unknown setting '%.80s'", key);
	return apply(base, e, value);
}

void cl_config_defaults(struct cl_config *c)
{
	memset(c, 0, sizeof(*c));
	cl_blog_options_default(&c->bronze);
	cl_config_table_defaults(table, NENTRIES, c);
}

int cl_config_named_key(const char *key, const char *prefix, const char *const *fields,
			const char *what, char *name, size_t cap, const char **field)
{
	size_t pl = strlen(prefix), nl;
	const char *dot;
	int known = 0;

	if (strncmp(key, prefix, pl) != 0 || !(dot = strchr(key + pl, '.')))
		return CL_ENOENT;
	for (size_t i = 0; fields[i]; i++)
		known |= strcmp(dot + 1, fields[i]) == 0;
	if (!known)
		return CL_ENOENT;
	nl = (size_t)(dot - (key + pl));
	if (nl == 0 || nl >= cap)
		return cl_error_set(CL_EINVAL, "%s names are 1 to %zu characters", what, cap - 1);
	memcpy(name, key + pl, nl);
	name[nl] = '\0';
	for (size_t i = 0; i < nl; i++)
		if (!isalnum((unsigned char)name[i]) && name[i] != '_' && name[i] != '-')
			return cl_error_set(CL_EINVAL, "%s name '%s': letters, digits, _ and - only",
					    what, name);
	*field = dot + 1;
	return CL_OK;
}

int cl_config_rules(const struct cl_config *c, struct cl_rule *rules, int *n, int check)
{
	*n = cl_rules_default(rules, CL_RULES_MAX);
	for (int i = 0; i < c->nnamed; i++) {
		int rc = strncmp(c->named[i].key, "alerts.", 7) ? CL_OK
			 : cl_rules_set(rules, n, CL_RULES_MAX, c->named[i].key, c->named[i].value);

		if (rc)
			return rc;
	}
	return check ? cl_rules_check(rules, *n) : CL_OK;
}

int cl_config_pipelines(const struct cl_config *c, struct cl_pipeline *p, int *n, int check)
{
	*n = 0;
	for (int i = 0; i < c->nnamed; i++) {
		int rc = strncmp(c->named[i].key, "pipelines.", 10) ? CL_OK
			 : cl_pipeline_set(p, n, CL_PIPELINES_MAX, c->named[i].key,
					   c->named[i].value);

		if (rc)
			return rc;
	}
	return check ? cl_pipelines_check(p, *n) : CL_OK;
}

int cl_config_expectations(const struct cl_config *c, struct cl_expectation *e, int *n,
			   int check)
{
	*n = 0;
	for (int i = 0; i < c->nnamed; i++) {
		int rc = strncmp(c->named[i].key, "expect.", 7) ? CL_OK
			 : cl_expectation_set(e, n, CL_EXPECTATIONS_MAX, c->named[i].key,
					      c->named[i].value);

		if (rc)
			return rc;
	}
	return check ? cl_expectations_check(e, *n) : CL_OK;
}

int cl_config_mappings(const struct cl_config *c, struct cl_csv_map_decl *d, int *n, int check)
{
	*n = 0;
	for (int i = 0; i < c->nnamed; i++) {
		int rc = strncmp(c->named[i].key, "mappings.", 9) ? CL_OK
			 : cl_csv_map_decl_set(d, n, CL_CSV_DECLS_MAX, c->named[i].key,
					       c->named[i].value);

		if (rc)
			return rc;
	}
	return check ? cl_csv_map_decls_check(d, *n) : CL_OK;
}

/*
 * alerts.*, pipelines.*, expect.* and mappings.* settings: checked now against what is
 * configured so far (the full check, that each is complete, comes when
 * they are used), kept in order.
 */
static int set_named(struct cl_config *c, const char *key, const char *value)
{
	struct cl_rule rules[CL_RULES_MAX];
	struct cl_pipeline p[CL_PIPELINES_MAX];
	struct cl_expectation e[CL_EXPECTATIONS_MAX];
	struct cl_csv_map_decl m[CL_CSV_DECLS_MAX];
	const char *forms;
	int n, rc;

	if (strncmp(key, "alerts.", 7) == 0) {
		forms = "alerts.<rule>.what|raise|clear|severity|suppress|enabled|description|"
			"min_delta";
		rc = cl_config_rules(c, rules, &n, 0);
		if (rc == CL_OK)
			rc = cl_rules_set(rules, &n, CL_RULES_MAX, key, value);
	} else if (strncmp(key, "pipelines.", 10) == 0) {
		forms = "pipelines.<name>.path|trigger|attempts|backoff|source";
		rc = cl_config_pipelines(c, p, &n, 0);
		if (rc == CL_OK)
			rc = cl_pipeline_set(p, &n, CL_PIPELINES_MAX, key, value);
	} else if (strncmp(key, "mappings.", 9) == 0) {
		forms = "mappings.<name>.table|signature|columns.<silver column>";
		rc = cl_config_mappings(c, m, &n, 0);
		if (rc == CL_OK)
			rc = cl_csv_map_decl_set(m, &n, CL_CSV_DECLS_MAX, key, value);
	} else {
		forms = "expect.<table>.<name>.check|action";
		rc = cl_config_expectations(c, e, &n, 0);
		if (rc == CL_OK)
			rc = cl_expectation_set(e, &n, CL_EXPECTATIONS_MAX, key, value);
	}
	if (rc == CL_ENOENT)
		return cl_error_set(CL_ENOENT, "unknown setting '%.80s' (%s; see `carelake config "
				    "--reference`)", key, forms);
	if (rc)
		return rc;
	if (c->nnamed == (int)(sizeof(c->named) / sizeof(c->named[0])) ||
	    strlen(key) >= sizeof(c->named[0].key) || strlen(value) >= sizeof(c->named[0].value))
		return cl_error_set(CL_ERANGE, "too many or too long alerts.*, pipelines.* and "
				    "expect.* settings");
	snprintf(c->named[c->nnamed].key, sizeof(c->named[0].key), "%s", key);
	snprintf(c->named[c->nnamed].value, sizeof(c->named[0].value), "%s", value);
	c->nnamed++;
	return CL_OK;
}

int cl_config_set(struct cl_config *c, const char *key, const char *value)
{
	int rc;

	if (strncmp(key, "alerts.", 7) == 0 || strncmp(key, "pipelines.", 10) == 0 ||
	    strncmp(key, "expect.", 7) == 0 || strncmp(key, "mappings.", 9) == 0)
		return set_named(c, key, value);
	if (strcmp(key, "lake.codec") == 0 && strcmp(value, "zstd") && strcmp(value, "snappy") &&
	    strcmp(value, "none"))
		return cl_error_set(CL_EINVAL, "lake.codec must be zstd, snappy or none (got '%.40s')",
				    value);
	if (strcmp(key, "refine.references") == 0 && strcmp(value, "warn") &&
	    strcmp(value, "drop") && strcmp(value, "quarantine"))
		return cl_error_set(CL_EINVAL, "refine.references must be warn, drop or quarantine "
				    "(got '%.40s')", value);
	rc = cl_config_table_set(table, NENTRIES, c, key, value);

	if (rc == CL_ENOENT)
		return cl_error_set(CL_ENOENT,
				    "unknown setting '%.80s' (see `carelake config --help`)",
				    key);
	return rc;
}

int cl_config_set_pair(struct cl_config *c, const char *pair)
{
	const char *eq = strchr(pair, '=');
	char key[128];

	if (!eq || eq == pair || (size_t)(eq - pair) >= sizeof(key))
		return cl_error_set(CL_EINVAL, "'%.80s' is not key=value", pair);
	memcpy(key, pair, (size_t)(eq - pair));
	key[eq - pair] = '\0';
	return cl_config_set(c, key, eq + 1);
}

/* A walk over a loaded YAML document. */
struct walk_ctx {
	struct cl_config *c;
	yaml_document_t *doc;
	const char *name;
	unsigned visited;   /* bounds the work aliases could multiply */
};

/* Applies the scalars under node, with `prefix` the dotted path so far. */
static int walk(struct walk_ctx *w, yaml_node_t *node, const char *prefix,
		int depth)
{
	if (depth > 8)
		return cl_error_set(CL_EINVAL, "%s: settings nest too deep", w->name);
	if (!node || node->type != YAML_MAPPING_NODE)
		return cl_error_set(CL_EINVAL, "%s: %s must be a mapping of settings",
				    w->name, prefix[0] ? prefix : "the document");
	for (yaml_node_pair_t *pair = node->data.mapping.pairs.start;
	     pair < node->data.mapping.pairs.top; pair++) {
		yaml_node_t *k = yaml_document_get_node(w->doc, pair->key);
		yaml_node_t *v = yaml_document_get_node(w->doc, pair->value);
		char path[256];
		int rc;

		if (++w->visited > 1000)
			return cl_error_set(CL_EINVAL, "%s: more than 1000 settings", w->name);
		if (!k || k->type != YAML_SCALAR_NODE || k->data.scalar.length == 0 ||
		    memchr(k->data.scalar.value, '\0', k->data.scalar.length))
			return cl_error_set(CL_EINVAL, "%s: keys must be plain names", w->name);
		if ((size_t)snprintf(path, sizeof(path), "%s%s%.*s", prefix,
				     prefix[0] ? "." : "", (int)k->data.scalar.length,
				     (const char *)k->data.scalar.value) >= sizeof(path))
			return cl_error_set(CL_EINVAL, "%s: key too long", w->name);
		if (v && v->type == YAML_MAPPING_NODE) {
			rc = walk(w, v, path, depth + 1);
		} else if (v && v->type == YAML_SCALAR_NODE) {
			char val[128];
			size_t vlen = v->data.scalar.length;

			if (vlen >= sizeof(val) || memchr(v->data.scalar.value, '\0', vlen))
				return cl_error_set(CL_EINVAL, "%s: value of %s is too long",
						    w->name, path);
			memcpy(val, v->data.scalar.value, vlen);
			val[vlen] = '\0';
			rc = cl_config_set(w->c, path, val);
			if (rc)
				return cl_error_set(rc, "%s:%zu: %s", w->name,
						    v->start_mark.line + 1, cl_error_detail());
		} else {
			return cl_error_set(CL_EINVAL, "%s: %s must be a value, not a list",
					    w->name, path);
		}
		if (rc)
			return rc;
	}
	return CL_OK;
}

int cl_config_load_yaml(struct cl_config *c, const char *text, size_t len,
			const char *name)
{
	yaml_parser_t parser;
	yaml_document_t doc;
	yaml_node_t *root;
	size_t bad;
	int rc = CL_OK;

	/* YAML is Unicode text: reject anything else up front, with where. */
	bad = cl_utf8_check(text, len);
	if (bad < len)
		return cl_error_set(CL_EPARSE, "%s: not valid UTF-8 at byte %zu", name, bad);
	if (memchr(text, '\0', len))
		return cl_error_set(CL_EPARSE, "%s: contains a NUL byte", name);
	if (!yaml_parser_initialize(&parser))
		return cl_error_set(CL_ENOMEM, "no memory to parse %s", name);
	yaml_parser_set_input_string(&parser, (const unsigned char *)text, len);
	if (!yaml_parser_load(&parser, &doc)) {
		rc = cl_error_set(CL_EPARSE, "%s:%zu:%zu: %s", name,
				  parser.problem_mark.line + 1,
				  parser.problem_mark.column + 1,
				  parser.problem ? parser.problem : "invalid YAML");
		yaml_parser_delete(&parser);
		return rc;
	}
	root = yaml_document_get_root_node(&doc);
	if (root) { /* an empty document sets nothing */
		struct walk_ctx w = { .c = c, .doc = &doc, .name = name };

		rc = walk(&w, root, "", 0);
	}
	yaml_document_delete(&doc);
	yaml_parser_delete(&parser);
	return rc;
}

int cl_config_load_file(struct cl_config *c, const char *path)
{
	char *text;
	size_t len;
	int rc = cl_fs_read_file(path, 1 << 20, &text, &len);

	if (rc)
		return cl_error_set(rc, "config file: %s", cl_error_detail());
	rc = cl_config_load_yaml(c, text, len, path);
	cl_free(text);
	return rc;
}

/* Formats a number of a key's type in the units a user would write. */
static void format_number(enum cl_config_type type, int64_t sv, char *buf, size_t cap)
{
	uint64_t v = (uint64_t)sv;

	switch (type) {
	case T_SIZE:
	case T_SIZE32:
		if (v && v % (1ull << 30) == 0)
			snprintf(buf, cap, "%lluGiB", (unsigned long long)(v >> 30));
		else if (v && v % (1ull << 20) == 0)
			snprintf(buf, cap, "%lluMiB", (unsigned long long)(v >> 20));
		else if (v && v % 1024 == 0)
			snprintf(buf, cap, "%lluKiB", (unsigned long long)(v >> 10));
		else
			snprintf(buf, cap, "%llu", (unsigned long long)v);
		break;
	case T_DURATION:
		if (sv == 0)
			snprintf(buf, cap, "0");
		else if (sv % (3600 * SEC) == 0)
			snprintf(buf, cap, "%lldh", (long long)(sv / (3600 * SEC)));
		else if (sv % (60 * SEC) == 0)
			snprintf(buf, cap, "%lldm", (long long)(sv / (60 * SEC)));
		else if (sv % SEC == 0)
			snprintf(buf, cap, "%llds", (long long)(sv / SEC));
		else if (sv % 1000 == 0)
			snprintf(buf, cap, "%lldms", (long long)(sv / 1000));
		else
			snprintf(buf, cap, "%lldus", (long long)sv);
		break;
	default:
		snprintf(buf, cap, "%lld", (long long)sv);
		break;
	}
}

static void format_value(const void *c, const struct cfg_entry *e,
			 char *buf, size_t cap)
{
	const char *field = (const char *)c + e->off;

	switch (e->type) {
	case T_U32:
		format_number(e->type, *(const uint32_t *)field, buf, cap);
		break;
	case T_SIZE32:
		format_number(e->type, *(const uint32_t *)field, buf, cap);
		break;
	case T_SIZE:
		format_number(e->type, (int64_t)*(const uint64_t *)field, buf, cap);
		break;
	case T_DURATION:
		format_number(e->type, *(const int64_t *)field, buf, cap);
		break;
	case T_LEVEL:
		snprintf(buf, cap, "%s", levels[*(const int *)field & 3]);
		break;
	case T_STRING:
		snprintf(buf, cap, "%s", field);
		break;
	}
}

void cl_config_print(FILE *out, const struct cl_config *c, int help)
{
	struct cl_rule rules[CL_RULES_MAX];
	int n;

	cl_config_table_print(out, table, NENTRIES, c, help);
	if (cl_config_rules(c, rules, &n, 1) != CL_OK)
		fprintf(out, "# alerts: %s\n", cl_error_detail());
	for (int i = 0; i < n; i++) {
		const struct cl_rule *r = &rules[i];
		char what[64];

		cl_rule_what_text(r, what, sizeof(what));
		if (r->what == CL_WHAT_SILENCE)
			fprintf(out, "alerts.%s = %s: silent %s %gs, clears when it sends, severity %s\n",
				r->name, r->enabled ? "on" : "off", cl_rule_op_name(r->raise_op),
				r->raise, r->severity);
		else
			fprintf(out, "alerts.%s = %s: %s, raise %s %g, clear %s %g, severity %s, "
				"suppress %llds\n", r->name, r->enabled ? "on" : "off", what,
				cl_rule_op_name(r->raise_op), r->raise, cl_rule_op_name(r->clear_op),
				r->clear, r->severity, (long long)(r->suppress_us / 1000000));
		if (help)
			fprintf(out, "    %s%s\n", r->description,
				r->declared ? " (declared in config)" : "");
	}
	{
		struct cl_pipeline p[CL_PIPELINES_MAX];
		int np;

		if (cl_config_pipelines(c, p, &np, 1) != CL_OK)
			fprintf(out, "# pipelines: %s\n", cl_error_detail());
		for (int i = 0; i < np; i++) {
			char trig[32];

			cl_pipeline_trigger_text(&p[i], trig, sizeof(trig));
			fprintf(out, "pipelines.%s = %s, %s, source %s, %u attempts, backoff %llds\n",
				p[i].name, p[i].path, trig, p[i].source, p[i].attempts,
				(long long)(p[i].backoff_us / 1000000));
		}
		{
			struct cl_expectation e[CL_EXPECTATIONS_MAX];
			int ne;

			if (cl_config_expectations(c, e, &ne, 1) != CL_OK)
				fprintf(out, "# expectations: %s\n", cl_error_detail());
			for (int i = 0; i < ne; i++)
				fprintf(out, "expect.%s.%s = %s (%s)\n", e[i].table, e[i].name, e[i].check,
					cl_expect_action_name(e[i].action));
			{
				struct cl_csv_map_decl m[CL_CSV_DECLS_MAX];
				int nm;

				if (cl_config_mappings(c, m, &nm, 1) != CL_OK)
					fprintf(out, "# mappings: %s\n", cl_error_detail());
				for (int i = 0; i < nm; i++) {
					fprintf(out, "mappings.%s = %s from", m[i].name, m[i].table);
					for (int k = 0; k < m[i].nf; k++)
						fprintf(out, "%s %s <- %s", k ? "," : "", m[i].f[k].col,
							m[i].f[k].from);
					fputc('\n', out);
				}
				if (help)
					fprintf(out, "    declare a CSV mapping with mappings.<name>.table, "
						".signature and\n    .columns.<silver column> = '<CSV column> "
						"[as text|time|gender|number|int|channel|value|key]'\n");
			}
			if (help)
				fprintf(out, "    declare an expectation with expect.<table>.<name>.check (a "
					"SQL condition over\n    the row's columns) and .action (warn, "
					"drop, quarantine, fail)\n");
		}
		if (help)
			fprintf(out, "    declare a pipeline with pipelines.<name>.path (a file, directory "
				"or glob),\n    .trigger (every DURATION, hourly, daily HH:MM, watch), "
				".attempts, .backoff, .source\n");
	}
	if (help)
		fprintf(out, "    tune any rule with alerts.<rule>.raise, .clear, .severity, .suppress,\n"
			"    .enabled, .description (and .min_delta for deviations); declare a new one\n"
			"    with alerts.<name>.what (vital:<type>, deviation:<type>, news2,\n"
			"    news2_max, silence) and .raise ('> 120'; .clear defaults to its opposite)\n");
}

void cl_config_table_print(FILE *out, const struct cl_config_entry *t,
			   size_t n, const void *base, int help)
{
	static const char *const type_names[] = { "integer", "size", "size",
						   "duration", "level", "string" };

	for (size_t i = 0; i < n; i++) {
		const struct cfg_entry *e = &t[i];
		char val[64];

		format_value(base, e, val, sizeof(val));
		if (!help) {
			fprintf(out, "%s = %s\n", e->key, val);
			continue;
		}
		fprintf(out, "%s = %s\n    %s\n    type %s, default %s", e->key, val,
			e->desc, type_names[e->type], e->def);
		if (e->type != T_LEVEL && e->type != T_STRING) {
			char a[64], b[64];

			format_number(e->type, e->min, a, sizeof(a));
			format_number(e->type, e->max, b, sizeof(b));
			fprintf(out, ", from %s to %s", a, b);
		}
		fprintf(out, "\n");
	}
}
