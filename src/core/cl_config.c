/*
 * The settings engine and its parsers. See cl_config.h.
 *
 * YAML is read with libyaml (the reference C implementation). libfyaml was
 * the first choice; fuzz_config found it looping forever on invalid UTF-8
 * in a directive and leaking on some quoted keys (Debian 0.7.12).
 *
 * To add a setting: add a field to the module's settings struct and one
 * row to its section's table. Parsing, bounds checks, defaults and the
 * printed reference all come from that row. To add a section: declare it
 * in the module and list it in src/modules.c.
 */
#include "cl_config.h"
#include "cl_compiler.h"
#include "cl_error.h"
#include "cl_fs.h"
#include "cl_log.h"
#include "cl_mem.h"
#include "cl_utf8.h"

#include <assert.h>
#include <ctype.h>
#include <yaml.h>
#include <stddef.h>
#include <string.h>

#define SEC 1000000ll

/* A key of a list section, as given. */
struct cl_config_named {
	char *key;
	char *value;
};

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

static const struct cl_config_entry *find(const struct cl_config_entry *t, size_t n,
					  const char *key)
{
	for (size_t i = 0; i < n; i++)
		if (strcmp(t[i].key, key) == 0)
			return &t[i];
	return NULL;
}

/* 1 if value is one of the '|'-separated choices. */
static int is_choice(const char *choices, const char *value)
{
	size_t n = strlen(value);

	for (const char *p = choices; p && *p;) {
		const char *bar = strchr(p, '|');
		size_t len = bar ? (size_t)(bar - p) : strlen(p);

		if (len == n && strncmp(p, value, n) == 0)
			return 1;
		p = bar ? bar + 1 : NULL;
	}
	return 0;
}

/* Applies value to the entry's field; errors name the key as `prefix`.key. */
static int apply(void *base, const char *prefix, const struct cl_config_entry *e,
		 const char *value)
{
	char *field = (char *)base + e->off;
	uint64_t u;
	int64_t d;
	int rc = CL_OK;

	switch (e->type) {
	case CL_CFG_U32:
		rc = cl_parse_u64(value, (uint64_t)e->min, (uint64_t)e->max, &u);
		if (rc == CL_OK)
			*(uint32_t *)field = (uint32_t)u;
		break;
	case CL_CFG_SIZE:
	case CL_CFG_SIZE32:
		rc = cl_parse_size(value, (uint64_t)e->min, (uint64_t)e->max, &u);
		if (rc == CL_OK && e->type == CL_CFG_SIZE32)
			*(uint32_t *)field = (uint32_t)u;
		else if (rc == CL_OK)
			*(uint64_t *)field = u;
		break;
	case CL_CFG_DURATION:
		rc = cl_parse_duration_us(value, e->min, e->max, &d);
		if (rc == CL_OK)
			*(int64_t *)field = d;
		break;
	case CL_CFG_CHOICE:
		if (!is_choice(e->choices, value)) {
			char list[CL_CFG_STRING_MAX];

			snprintf(list, sizeof(list), "%s", e->choices);
			for (char *p = list; *p; p++)
				if (*p == '|')
					*p = ',';
			return cl_error_set(CL_EINVAL, "%s%s%s must be one of %s (got '%.40s')",
					    prefix, *prefix ? "." : "", e->key, list, value);
		}
		CL_FALLTHROUGH;
	case CL_CFG_STRING:
		if (strlen(value) >= CL_CFG_STRING_MAX)
			return cl_error_set(CL_ERANGE, "%s%s%s: value longer than %d bytes", prefix,
					    *prefix ? "." : "", e->key, CL_CFG_STRING_MAX - 1);
		memcpy(field, value, strlen(value) + 1);
		return CL_OK;
	case CL_CFG_LEVEL:
		for (int i = 0; i < 4; i++)
			if (strcmp(value, levels[i]) == 0) {
				*(int *)field = i;
				return CL_OK;
			}
		return cl_error_set(CL_EINVAL,
				    "%s%s%s: '%.40s' is not one of error, warn, info, debug",
				    prefix, *prefix ? "." : "", e->key, value);
	}
	if (rc)
		return cl_error_set(rc, "%s%s%s: %s", prefix, *prefix ? "." : "", e->key,
				    cl_error_detail());
	return CL_OK;
}

void cl_config_table_defaults(const struct cl_config_entry *t, size_t n, void *base)
{
	for (size_t i = 0; i < n; i++)
		if (apply(base, "", &t[i], t[i].def) != CL_OK)
			cl_log_error("config", "event=bad_default key=%s", t[i].key);
}

int cl_config_table_set(const struct cl_config_entry *t, size_t n, void *base,
			const char *key, const char *value)
{
	const struct cl_config_entry *e = find(t, n, key);

	if (!e)
		return cl_error_set(CL_ENOENT, "unknown setting '%.80s'", key);
	return apply(base, "", e, value);
}

/* The index of sec in the registry, or -1. */
static int section_index(const struct cl_config_section *sec)
{
	for (int i = 0; cl_config_sections[i]; i++)
		if (cl_config_sections[i] == sec)
			return i;
	return -1;
}

/* The section whose keys start "<name>.", or NULL; *rest after the dot. */
static const struct cl_config_section *section_of(const char *key, int *index,
						    const char **rest)
{
	for (int i = 0; cl_config_sections[i]; i++) {
		const char *name = cl_config_sections[i]->name;
		size_t n = strlen(name);

		if (strncmp(key, name, n) == 0 && key[n] == '.') {
			*index = i;
			*rest = key + n + 1;
			return cl_config_sections[i];
		}
	}
	return NULL;
}

int cl_config_init(struct cl_config *c)
{
	memset(c, 0, sizeof(*c));
	for (int i = 0; cl_config_sections[i]; i++) {
		const struct cl_config_section *sec = cl_config_sections[i];

		assert(i < CL_CONFIG_SECTIONS_MAX);
		if (!sec->size)
			continue;
		c->settings[i] = cl_calloc(1, sec->size);
		if (!c->settings[i]) {
			cl_config_free(c);
			return cl_error_set(CL_ENOMEM, "no memory for the settings");
		}
		if (sec->init)
			sec->init(c->settings[i]);
		cl_config_table_defaults(sec->entries, sec->nentries, c->settings[i]);
	}
	return CL_OK;
}

void cl_config_free(struct cl_config *c)
{
	for (int i = 0; i < CL_CONFIG_SECTIONS_MAX; i++)
		cl_free(c->settings[i]);
	for (int i = 0; i < c->nnamed; i++) {
		cl_free(c->named[i].key);
		cl_free(c->named[i].value);
	}
	cl_free(c->named);
	memset(c, 0, sizeof(*c));
}

/* Keeps key = value of a list section, in order. */
static int add_named(struct cl_config *c, const char *key, const char *value)
{
	char *k, *v;

	if (c->nnamed == c->named_cap) {
		int nc = c->named_cap ? c->named_cap * 2 : 16;
		struct cl_config_named *nn = cl_realloc(c->named, (size_t)nc * sizeof(*nn));

		if (!nn)
			return cl_error_set(CL_ENOMEM, "no memory for the settings");
		c->named = nn;
		c->named_cap = nc;
	}
	k = cl_strdup(key);
	v = cl_strdup(value);
	if (!k || !v) {
		cl_free(k);
		cl_free(v);
		return cl_error_set(CL_ENOMEM, "no memory for the settings");
	}
	c->named[c->nnamed].key = k;
	c->named[c->nnamed].value = v;
	c->nnamed++;
	return CL_OK;
}

int cl_config_copy(struct cl_config *dst, const struct cl_config *src)
{
	int rc = cl_config_init(dst);

	for (int i = 0; rc == CL_OK && cl_config_sections[i]; i++)
		if (src->settings[i])
			memcpy(dst->settings[i], src->settings[i], cl_config_sections[i]->size);
	for (int i = 0; rc == CL_OK && i < src->nnamed; i++)
		rc = add_named(dst, src->named[i].key, src->named[i].value);
	if (rc)
		cl_config_free(dst);
	return rc;
}

const void *cl_config_get(const struct cl_config *c, const struct cl_config_section *sec)
{
	int i = section_index(sec);

	assert(i >= 0 && c->settings[i]);
	return c->settings[i];
}

int cl_config_list(const struct cl_config *c, const struct cl_config_section *sec,
		   void *items, int *n, int check)
{
	const struct cl_config_list *l = sec->list;
	size_t pl = strlen(sec->name);

	*n = l->init ? l->init(items, l->max) : 0;
	for (int i = 0; i < c->nnamed; i++) {
		const char *key = c->named[i].key;
		int rc;

		if (strncmp(key, sec->name, pl) != 0 || key[pl] != '.')
			continue;
		rc = l->set(items, n, l->max, key, c->named[i].value);
		if (rc)
			return rc;
	}
	return check && l->check ? l->check(items, *n) : CL_OK;
}

/*
 * A key of a list section: checked now against what is configured so far
 * (the full check, that each item is complete, comes when the list is
 * used), then kept in order.
 */
static int set_listed(struct cl_config *c, const struct cl_config_section *sec,
		      const char *key, const char *value)
{
	const struct cl_config_list *l = sec->list;
	void *items = cl_calloc((size_t)l->max, l->item_size);
	int n, rc;

	if (!items)
		return cl_error_set(CL_ENOMEM, "no memory for the settings");
	rc = cl_config_list(c, sec, items, &n, 0);
	if (rc == CL_OK)
		rc = l->set(items, &n, l->max, key, value);
	cl_free(items);
	if (rc == CL_ENOENT)
		return cl_error_set(CL_ENOENT, "unknown setting '%.80s' (%s; see `carelake config "
				    "--reference`)", key, l->forms);
	if (rc)
		return rc;
	if (strlen(key) > 200 || strlen(value) > 4096)
		return cl_error_set(CL_ERANGE, "%.80s: the key or its value is too long", key);
	return add_named(c, key, value);
}

int cl_config_set(struct cl_config *c, const char *key, const char *value)
{
	const char *rest;
	int i, rc;
	const struct cl_config_section *sec = section_of(key, &i, &rest);

	if (!sec)
		return cl_error_set(CL_ENOENT,
				    "unknown setting '%.80s' (see `carelake config --reference`)",
				    key);
	if (sec->list)
		return set_listed(c, sec, key, value);
	{
		const struct cl_config_entry *e = find(sec->entries, sec->nentries, rest);

		if (!e)
			return cl_error_set(CL_ENOENT, "unknown setting '%.80s' (see `carelake "
					    "config --reference`)", key);
		rc = apply(c->settings[i], sec->name, e, value);
	}
	return rc;
}

int cl_config_set_pair(struct cl_config *c, const char *pair)
{
	const char *eq = strchr(pair, '=');
	char key[256];

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

static void format_number(enum cl_config_type type, int64_t sv, char *buf, size_t cap);

void cl_config_format(enum cl_config_type type, int64_t v, char *buf, size_t cap)
{
	format_number(type, v, buf, cap);
}

/* Formats a number of a key's type in the units a user would write. */
static void format_number(enum cl_config_type type, int64_t sv, char *buf, size_t cap)
{
	uint64_t v = (uint64_t)sv;

	switch (type) {
	case CL_CFG_SIZE:
	case CL_CFG_SIZE32:
		if (v && v % (1ull << 30) == 0)
			snprintf(buf, cap, "%lluGiB", (unsigned long long)(v >> 30));
		else if (v && v % (1ull << 20) == 0)
			snprintf(buf, cap, "%lluMiB", (unsigned long long)(v >> 20));
		else if (v && v % 1024 == 0)
			snprintf(buf, cap, "%lluKiB", (unsigned long long)(v >> 10));
		else
			snprintf(buf, cap, "%llu", (unsigned long long)v);
		break;
	case CL_CFG_DURATION:
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

static void format_value(const void *c, const struct cl_config_entry *e,
			 char *buf, size_t cap)
{
	const char *field = (const char *)c + e->off;

	switch (e->type) {
	case CL_CFG_U32:
		format_number(e->type, *(const uint32_t *)field, buf, cap);
		break;
	case CL_CFG_SIZE32:
		format_number(e->type, *(const uint32_t *)field, buf, cap);
		break;
	case CL_CFG_SIZE:
		format_number(e->type, (int64_t)*(const uint64_t *)field, buf, cap);
		break;
	case CL_CFG_DURATION:
		format_number(e->type, *(const int64_t *)field, buf, cap);
		break;
	case CL_CFG_LEVEL:
		snprintf(buf, cap, "%s", levels[*(const int *)field & 3]);
		break;
	case CL_CFG_STRING:
	case CL_CFG_CHOICE:
		snprintf(buf, cap, "%s", field);
		break;
	}
}

void cl_config_print(FILE *out, const struct cl_config *c, int help)
{
	for (int i = 0; cl_config_sections[i]; i++) {
		const struct cl_config_section *sec = cl_config_sections[i];
		const struct cl_config_list *l = sec->list;

		if (!l) {
			cl_config_table_print(out, sec->name, sec->entries, sec->nentries,
					      c->settings[i], help);
			continue;
		}
		{
			void *items = cl_calloc((size_t)l->max, l->item_size);
			int n = 0;

			if (!items) {
				fprintf(out, "# %s: out of memory\n", sec->name);
				continue;
			}
			if (cl_config_list(c, sec, items, &n, 1) != CL_OK)
				fprintf(out, "# %s: %s\n", sec->name, cl_error_detail());
			l->print(out, items, n, help);
			cl_free(items);
		}
	}
}

void cl_config_table_print(FILE *out, const char *prefix, const struct cl_config_entry *t,
			   size_t n, const void *base, int help)
{
	static const char *const type_names[] = { "integer", "size", "size", "duration",
						   "level", "string", "one of " };

	for (size_t i = 0; i < n; i++) {
		const struct cl_config_entry *e = &t[i];
		char val[CL_CFG_STRING_MAX];

		format_value(base, e, val, sizeof(val));
		fprintf(out, "%s%s%s = %s\n", prefix, *prefix ? "." : "", e->key, val);
		if (!help)
			continue;
		fprintf(out, "    %s\n    type %s", e->desc, type_names[e->type]);
		if (e->type == CL_CFG_CHOICE)
			for (const char *p = e->choices; *p; p++)
				fputc(*p == '|' ? ',' : *p, out);
		fprintf(out, ", default %s", e->def);
		if (e->type != CL_CFG_LEVEL && e->type != CL_CFG_STRING &&
		    e->type != CL_CFG_CHOICE) {
			char a[64], b[64];

			format_number(e->type, e->min, a, sizeof(a));
			format_number(e->type, e->max, b, sizeof(b));
			fprintf(out, ", from %s to %s", a, b);
		}
		fprintf(out, "\n");
	}
}
