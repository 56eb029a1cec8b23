/*
 * FHIR search parameters. See cl_fhir_search.h.
 */
#include "cl_fhir_search.h"
#include "cl_fhir_index.h"
#include "cl_fhir_summary.h"
#include "core/cl_config.h"
#include "core/cl_error.h"
#include "core/cl_time.h"
#include "core/cl_url.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

/* Appends name=value to the applied parameters, the value
 * percent-encoded where a URL's query needs it. */
static void applied(struct cl_fhir_search *s, const char *name, const char *value)
{
	size_t n = strlen(s->applied);

	snprintf(s->applied + n, sizeof(s->applied) - n, "%s%s=", n ? "&" : "", name);
	for (const unsigned char *p = (const unsigned char *)value; *p; p++) {
		n = strlen(s->applied);
		if (n + 4 >= sizeof(s->applied))
			break;
		/* what a URL's query may hold as it is; the rest percent-encoded */
		if (strchr("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-._~:/,", *p))
			s->applied[n] = (char)*p, s->applied[n + 1] = '\0';
		else
			snprintf(s->applied + n, sizeof(s->applied) - n, "%%%02X", *p);
	}
}

/* Splits a comma-separated list in place into list[] (at most
 * CL_FHIR_QUERY_LIST_MAX), each checked by ok. */
static int split(struct cl_fhir_search *s, const char *name, const char *value, char *buf, size_t cap,
		 const char **list, int *n, int (*ok)(const char *))
{
	char *save = NULL;
	int got = 0;

	/* the list is taken whole or not at all; given twice, it is refused
	 * (two lists would mean both must hold, which is not served) */
	if (*n) {
		snprintf(s->why, sizeof(s->why), "%s: given twice (one list, comma-separated)", name);
		return CL_EINVAL;
	}
	if (strlen(value) >= cap) {
		snprintf(s->why, sizeof(s->why), "%s: the list is too long", name);
		return CL_EINVAL;
	}
	snprintf(buf, cap, "%s", value);
	for (char *t = strtok_r(buf, ",", &save); t; t = strtok_r(NULL, ",", &save)) {
		if (got >= CL_FHIR_QUERY_LIST_MAX || !ok(t)) {
			snprintf(s->why, sizeof(s->why), "%s: '%.64s' is not %s", name, t,
				 got >= CL_FHIR_QUERY_LIST_MAX ? "within the 100 a list may hold"
							       : "valid here");
			return CL_EINVAL;
		}
		list[got++] = t;
	}
	if (got == 0) {
		snprintf(s->why, sizeof(s->why), "%s: an empty list", name);
		return CL_EINVAL;
	}
	*n = got;
	return CL_OK;
}

int cl_fhir_json_format(const char *f)
{
	return strcasecmp(f, "json") == 0 || strcasecmp(f, "application/json") == 0 ||
	       strcasecmp(f, "application/fhir+json") == 0 ||
	       strcasecmp(f, "application/json+fhir") == 0;
}

int cl_fhir_id_ok(const char *id)
{
	size_t n = strspn(id, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-.");

	return n > 0 && n < CL_FHIR_ID_MAX && id[n] == '\0';
}

int cl_fhir_type_ok(const char *t)
{
	size_t n = strspn(t, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz");

	return t[0] >= 'A' && t[0] <= 'Z' && n == strlen(t) && n < CL_FHIR_TYPE_MAX;
}

/* A reference to a Patient: "Patient/x", "x", or a URL ending in
 * "/Patient/x"; its id into out. */
static int patient_ref(const char *ref, char *out, size_t cap)
{
	const char *slash = strrchr(ref, '/');
	const char *id = slash ? slash + 1 : ref;

	/* a URL's text: printable, no spaces */
	for (const char *p = ref; *p; p++)
		if (*p <= ' ' || *p > '~')
			return 0;
	if (slash && (slash - ref < 7 || memcmp(slash - 7, "Patient", 7) != 0 ||
		      (slash - ref > 7 && slash[-8] != '/')))
		return 0;
	if (!cl_fhir_id_ok(id))
		return 0;
	snprintf(out, cap, "%s", id);
	return 1;
}

/* ---- the parameters of a type ---- */

/* A copy of n bytes of v in the search's text, or NULL when it is full. */
static char *keep(struct cl_fhir_search *s, const char *v, size_t n)
{
	char *out;

	if (s->text_used + n + 1 > sizeof(s->text))
		return NULL;
	out = s->text + s->text_used;
	memcpy(out, v, n);
	out[n] = '\0';
	s->text_used += n + 1;
	return out;
}

/* The prefix a date or quantity value starts with (eq when none). */
static const char *prefix(const char *v, int *out)
{
	static const char names[][3] = { "eq", "ne", "gt", "lt", "ge", "le", "sa", "eb", "ap" };

	*out = CL_FP_EQ;
	for (int i = 0; i < 9; i++)
		if (v[0] == names[i][0] && v[1] == names[i][1]) {
			*out = i;
			return v + 2;
		}
	return v;
}

/* Splits a quantity "number|system|code" (system, code optional). */
static int quantity(struct cl_fhir_search *s, const char *v, struct cl_fhir_value *out)
{
	const char *bar = strchr(v, '|'), *bar2 = bar ? strchr(bar + 1, '|') : NULL;
	size_t n = bar ? (size_t)(bar - v) : strlen(v);
	char number[64], *end;
	const char *dot, *e;
	int decimals = 0;
	double half;

	if (n == 0 || n >= sizeof(number) || (bar && !bar2))
		return 0;
	memcpy(number, v, n);
	number[n] = '\0';
	if (strspn(number, "0123456789.-+eE") != n)
		return 0;
	out->num = strtod(number, &end);
	if (*end || !isfinite(out->num))
		return 0;
	/* the precision given: 5.4 is [5.35, 5.45) */
	dot = strchr(number, '.');
	e = strpbrk(number, "eE");
	if (dot)
		decimals = (int)((e ? e : number + n) - dot - 1);
	if (e)
		decimals -= atoi(e + 1);
	half = 0.5 * pow(10, -decimals);
	out->num_lo = out->num - half;
	out->num_hi = out->num + half;
	if (bar) {
		out->sys = bar2 - bar > 1 ? keep(s, bar + 1, (size_t)(bar2 - bar - 1)) : NULL;
		out->code = bar2[1] ? keep(s, bar2 + 1, strlen(bar2 + 1)) : NULL;
	}
	return 1;
}

/* A reference value: Type/id, id, or a URL ending in Type/id. */
static int reference(struct cl_fhir_search *s, const char *v, struct cl_fhir_value *out)
{
	const char *slash = strrchr(v, '/'), *t;

	for (const char *p = v; *p; p++)
		if (*p <= ' ' || *p > '~')
			return 0;
	if (!cl_fhir_id_ok(slash ? slash + 1 : v))
		return 0;
	out->code = keep(s, slash ? slash + 1 : v, strlen(slash ? slash + 1 : v));
	if (!slash)
		return out->code != NULL;
	for (t = slash; t > v && t[-1] != '/'; t--)
		;
	out->sys = keep(s, t, (size_t)(slash - t));
	return out->code && out->sys && cl_fhir_type_ok(out->sys);
}

/* One value of a condition, as written (escapes resolved). */
static int one_value(struct cl_fhir_search *s, struct cl_fhir_cond *c, const char *v,
		     struct cl_fhir_value *out)
{
	const char *bar;

	memset(out, 0, sizeof(*out));
	switch (c->kind) {
	case CL_FK_TOKEN:
		bar = strchr(v, '|');
		if (!bar) {
			out->code = keep(s, v, strlen(v));
			return out->code && v[0];
		}
		out->sys = keep(s, v, (size_t)(bar - v));
		out->code = bar[1] ? keep(s, bar + 1, strlen(bar + 1)) : NULL;
		/* "|" alone names nothing */
		return out->sys && (out->code || !bar[1]) && (bar > v || bar[1]);
	case CL_FK_STRING: {
		char folded[512];

		if (!v[0] || strlen(v) >= sizeof(folded))
			return 0;
		if (c->modifier == CL_FM_EXACT) {
			out->str = keep(s, v, strlen(v));
		} else {
			cl_fhir_fold(v, strlen(v), folded, sizeof(folded));
			out->str = keep(s, folded, strlen(folded));
		}
		return out->str != NULL;
	}
	case CL_FK_DATE:
		v = prefix(v, &out->prefix);
		return cl_fhir_date_range(v, strlen(v), &out->lo, &out->hi) == CL_OK;
	case CL_FK_REF:
		return reference(s, v, out);
	default:
		v = prefix(v, &out->prefix);
		return quantity(s, v, out);
	}
}

static const char *kind_name(int kind)
{
	static const char *const names[] = { "a token", "a string", "a date", "a reference",
					     "a quantity" };
	return names[kind];
}

/* patient and subject: a resource's patient compartment (the Patient its
 * subject or patient names), as a link of a chain */
static const struct cl_fhir_param compartment_link = { "", "patient", CL_FK_REF,
						       "subject patient", "Patient" };

/* The reference parameter `ref` of type, checked as a link of a chain
 * named `name`: the parameter, or NULL with s->why. */
static const struct cl_fhir_param *chain_link(struct cl_fhir_search *s, const char *name,
					      const char *type, const char *ref)
{
	const struct cl_fhir_param *via = cl_fhir_param_find(type, ref);

	if (!via && strcmp(type, "Patient") != 0 &&
	    (strcmp(ref, "patient") == 0 || strcmp(ref, "subject") == 0))
		return &compartment_link;

	if (!via || via->kind != CL_FK_REF)
		snprintf(s->why, sizeof(s->why), "%.80s: %.40s is not a reference parameter of "
			 "%.40s", name, ref, type);
	return via && via->kind == CL_FK_REF ? via : NULL;
}

/* The parameter `name` asks for: one of the search's type ("code",
 * "name:exact", or _lastUpdated: *p NULL), one of the resources a
 * reference names (chained: "subject:Patient.name", "patient.birthdate"),
 * or of the resources that name this one by a reference (reverse chained:
 * "_has:Observation:patient:code"); with c's chain set, the parameter's
 * name without its modifier into base, and *mod the modifier ("" none).
 * 1, 0 when it is none of these, or CL_EINVAL with s->why. */
static int param_of(struct cl_fhir_search *s, const char *name, char *base, size_t cap,
		    const struct cl_fhir_param **p, const char **mod, struct cl_fhir_cond *c)
{
	char link[80], type[CL_FHIR_TYPE_MAX];
	const char *rest = name, *dot = strchr(name, '.'), *colon;
	const struct cl_fhir_param *via = NULL;
	size_t n;

	*p = NULL;
	if (strncmp(name, "_has:", 5) == 0) {
		/* _has:Type:reference:parameter[:modifier] */
		const char *t = name + 5, *r = strchr(t, ':'), *q = r ? strchr(r + 1, ':') : NULL;

		if (!q || (size_t)(r - t) >= sizeof(type) || (size_t)(q - r - 1) >= sizeof(link)) {
			snprintf(s->why, sizeof(s->why), "%.80s: not _has:Type:reference:parameter "
				 "(_has:Observation:patient:code)", name);
			return CL_EINVAL;
		}
		snprintf(type, sizeof(type), "%.*s", (int)(r - t), t);
		snprintf(link, sizeof(link), "%.*s", (int)(q - r - 1), r + 1);
		if (!cl_fhir_type_ok(type) || !s->type) {
			snprintf(s->why, sizeof(s->why), "%.80s: _has needs a search of one type and "
				 "a resource type to look in", name);
			return CL_EINVAL;
		}
		if (!(via = chain_link(s, name, type, link)))
			return CL_EINVAL;
		if (via->target[0] && strcmp(via->target, s->type) != 0) {
			snprintf(s->why, sizeof(s->why), "%.80s: %.40s.%.40s names %.40s, not %.40s",
				 name, type, link, via->target, s->type);
			return CL_EINVAL;
		}
		c->reverse = 1;
		rest = q + 1;
	} else if (dot) {
		/* reference[:Type].parameter[:modifier], one link */
		const char *tm;

		if ((size_t)(dot - name) >= sizeof(link) || strchr(dot + 1, '.') || !s->type) {
			snprintf(s->why, sizeof(s->why), "%.80s: carelake chains one reference of a "
				 "search of one type (subject:Patient.name)", name);
			return CL_EINVAL;
		}
		snprintf(link, sizeof(link), "%.*s", (int)(dot - name), name);
		tm = strchr(link, ':');
		if (tm)
			link[tm - link] = '\0', tm++;
		if (!(via = chain_link(s, name, s->type, link)))
			return CL_EINVAL;
		snprintf(type, sizeof(type), "%.63s", tm ? tm : via->target);
		if (!type[0] || !cl_fhir_type_ok(type) ||
		    (tm && via->target[0] && strcmp(tm, via->target) != 0)) {
			snprintf(s->why, sizeof(s->why), "%.80s: name the type %.40s refers to "
				 "(%.40s:%.40s.%.40s)", name, link, link,
				 via->target[0] ? via->target : "Patient", dot + 1);
			return CL_EINVAL;
		}
		rest = dot + 1;
	}
	colon = strchr(rest, ':');
	*mod = colon ? colon + 1 : "";
	n = colon ? (size_t)(colon - rest) : strlen(rest);
	if (n >= cap) {
		if (!via)
			return 0;
		snprintf(s->why, sizeof(s->why), "%.80s: no such parameter", name);
		return CL_EINVAL;
	}
	snprintf(base, cap, "%.*s", (int)n, rest);
	if (!via) {
		if (strcmp(base, "_lastUpdated") == 0)
			return 1;
		return s->type && (*p = cl_fhir_param_find(s->type, base)) ? 1 : 0;
	}
	if (!(*p = cl_fhir_param_find(type, base))) {
		snprintf(s->why, sizeof(s->why), "%.80s: %.40s is not a search parameter of %.40s",
			 name, base, type);
		return CL_EINVAL;
	}
	c->chain = via->name;
	c->chain_compartment = via == &compartment_link;
	c->chain_type = keep(s, type, strlen(type));
	return c->chain_type ? 1 : CL_EINVAL;
}

/* A parameter of the search's type (or _lastUpdated), maybe chained: 1
 * taken, 0 not one, or CL_EINVAL. */
static int type_param(struct cl_fhir_search *s, const char *name, const char *value)
{
	char base[80], one[512];
	const char *mod;
	const struct cl_fhir_param *p = NULL;
	struct cl_fhir_cond *c, chain = { 0 };
	int kind, first = s->nvalues, got;

	got = param_of(s, name, base, sizeof(base), &p, &mod, &chain);
	if (got == CL_EINVAL && s->lenient)
		return 0; /* a chain not served: ignored like any parameter not served */
	if (got != 1)
		return got;
	if (s->q.nconds == CL_FHIR_QUERY_COND_MAX) {
		snprintf(s->why, sizeof(s->why), "a search takes at most %d parameters",
			 CL_FHIR_QUERY_COND_MAX);
		return CL_EINVAL;
	}
	kind = p ? p->kind : CL_FK_DATE;
	c = &s->conds[s->q.nconds];
	*c = chain;
	s->q.conds = s->conds;
	c->param = p ? p->name : NULL;
	c->kind = kind;
	if (!mod[0])
		c->modifier = CL_FM_NONE;
	else if (strcmp(mod, "missing") == 0 && p)
		c->modifier = CL_FM_MISSING;
	else if (strcmp(mod, "not") == 0 && kind == CL_FK_TOKEN)
		c->modifier = CL_FM_NOT;
	else if (strcmp(mod, "exact") == 0 && kind == CL_FK_STRING)
		c->modifier = CL_FM_EXACT;
	else if (strcmp(mod, "contains") == 0 && kind == CL_FK_STRING)
		c->modifier = CL_FM_CONTAINS;
	else if (kind == CL_FK_REF && cl_fhir_type_ok(mod))
		c->modifier = CL_FM_NONE; /* subject:Patient=1: the type, below */
	else {
		snprintf(s->why, sizeof(s->why), "%.60s: the modifier :%.20s is not one carelake "
			 "serves for %s parameter (%s)", base, mod, kind_name(kind),
			 kind == CL_FK_TOKEN ? ":not, :missing"
			 : kind == CL_FK_STRING ? ":exact, :contains, :missing"
			 : kind == CL_FK_REF ? "a type (:Patient), :missing" : ":missing");
		return CL_EINVAL;
	}
	if (c->modifier == CL_FM_MISSING) {
		if (strcmp(value, "true") != 0 && strcmp(value, "false") != 0) {
			snprintf(s->why, sizeof(s->why), "%.60s:missing takes true or false", base);
			return CL_EINVAL;
		}
		c->missing = value[0] == 't';
		s->q.nconds++;
		applied(s, name, value);
		return 1;
	}
	/* the values, comma-separated, "\," a comma inside one */
	for (const char *v = value;;) {
		size_t o = 0;

		while (*v && *v != ',') {
			if (*v == '\\' && (v[1] == ',' || v[1] == '\\' || v[1] == '|'))
				v++;
			if (o + 1 < sizeof(one))
				one[o++] = *v;
			v++;
		}
		one[o] = '\0';
		if (s->nvalues == CL_FHIR_VALUES_MAX) {
			snprintf(s->why, sizeof(s->why), "a search takes at most %d values",
				 CL_FHIR_VALUES_MAX);
			s->nvalues = first;
			return CL_EINVAL;
		}
		if (o + 1 >= sizeof(one) || !one_value(s, c, one, &s->values[s->nvalues])) {
			snprintf(s->why, sizeof(s->why), "%.60s: '%.80s' is not %s value%s", base, one,
				 kind_name(kind),
				 kind == CL_FK_DATE ? " ([prefix]YYYY[-MM[-DD[Thh:mm[:ss]]]], e.g. "
						      "ge2026-01-01)"
				 : kind == CL_FK_QUANTITY ? " ([prefix]number[|system|code])"
				 : kind == CL_FK_REF ? " (Type/id or id)"
				 : kind == CL_FK_TOKEN ? " (system|code, code, system| or |code)" : "");
			s->nvalues = first;
			return CL_EINVAL;
		}
		if (kind == CL_FK_REF && mod[0]) {
			/* typed (subject:Patient=1): an id alone is of that type */
			struct cl_fhir_value *val = &s->values[s->nvalues];

			if (val->sys && strcmp(val->sys, mod) != 0) {
				snprintf(s->why, sizeof(s->why), "%.60s:%.40s: '%.80s' is not a "
					 "%.40s", base, mod, one, mod);
				s->nvalues = first;
				return CL_EINVAL;
			}
			if (!val->sys && !(val->sys = keep(s, mod, strlen(mod)))) {
				snprintf(s->why, sizeof(s->why), "the search's text is too long");
				s->nvalues = first;
				return CL_EINVAL;
			}
		}
		s->nvalues++;
		if (*v != ',')
			break;
		v++;
	}
	c->values = &s->values[first];
	c->nvalues = s->nvalues - first;
	s->q.nconds++;
	applied(s, name, value);
	return 1;
}

/* _include / _revinclude (name, with :iterate) = Source:param[:Target]. */
static int include_param(struct cl_fhir_search *s, const char *name, const char *value)
{
	struct cl_fhir_include *in = &s->includes[s->nincludes];
	char text[200], *param, *target;
	const struct cl_fhir_param *p;

	if (s->nincludes == CL_FHIR_INCLUDE_MAX) {
		snprintf(s->why, sizeof(s->why), "%s: at most %d includes", name, CL_FHIR_INCLUDE_MAX);
		return CL_EINVAL;
	}
	memset(in, 0, sizeof(*in));
	in->rev = strncmp(name, "_revinclude", 11) == 0;
	in->iterate = strchr(name, ':') != NULL;
	if (in->iterate && strcmp(strchr(name, ':'), ":iterate") != 0 &&
	    strcmp(strchr(name, ':'), ":recurse") != 0) {
		snprintf(s->why, sizeof(s->why), "%.40s: the modifier is :iterate or none", name);
		return CL_EINVAL;
	}
	snprintf(text, sizeof(text), "%s", value);
	param = strchr(text, ':');
	target = param ? strchr(param + 1, ':') : NULL;
	if (param)
		*param++ = '\0';
	if (target)
		*target++ = '\0';
	if (strlen(value) >= sizeof(text) || !param || !cl_fhir_type_ok(text) ||
	    (target && !cl_fhir_type_ok(target))) {
		snprintf(s->why, sizeof(s->why), "%.40s: '%.80s' is not Source:param[:Target] "
			 "(Observation:patient)", name, value);
		return CL_EINVAL;
	}
	/* (both checked: a type name is shorter than CL_FHIR_TYPE_MAX) */
	snprintf(in->source, sizeof(in->source), "%.63s", text);
	snprintf(in->target, sizeof(in->target), "%.63s", target ? target : "");
	if (strcmp(param, "patient") == 0 || strcmp(param, "subject") == 0) {
		/* the compartment: a Patient */
		if (target && strcmp(target, "Patient") != 0) {
			snprintf(s->why, sizeof(s->why), "%.40s: %s:%s names a Patient", name, text,
				 param);
			return CL_EINVAL;
		}
		in->param = NULL;
		snprintf(in->target, sizeof(in->target), "Patient");
	} else if ((p = cl_fhir_param_find(text, param)) && p->kind == CL_FK_REF) {
		in->param = p->name;
		if (!target && p->target[0])
			snprintf(in->target, sizeof(in->target), "%s", p->target);
	} else {
		snprintf(s->why, sizeof(s->why), "%.40s: %.60s is not a reference parameter of %s "
			 "(GET /fhir/metadata lists them; patient and subject name the compartment)",
			 name, param, text);
		return CL_EINVAL;
	}
	s->nincludes++;
	return CL_OK;
}

/* _sort=key,-key: taken whole or not at all, once. */
static int sort_param(struct cl_fhir_search *s, const char *value)
{
	struct cl_fhir_sort sorts[CL_FHIR_SORT_MAX];
	int n = 0;

	if (s->q.nsorts) {
		snprintf(s->why, sizeof(s->why), "_sort: given twice (one list, comma-separated)");
		return CL_EINVAL;
	}
	for (const char *v = value; *v;) {
		const char *end = strchr(v, ',');
		size_t len = end ? (size_t)(end - v) : strlen(v);
		char key[80];
		const struct cl_fhir_param *p;
		struct cl_fhir_sort *o = &sorts[n];

		if (n == CL_FHIR_SORT_MAX || len == 0 || len >= sizeof(key)) {
			snprintf(s->why, sizeof(s->why), "_sort: %s", n == CL_FHIR_SORT_MAX
				 ? "at most 4 keys" : "an empty or overlong key");
			return CL_EINVAL;
		}
		memcpy(key, v, len);
		key[len] = '\0';
		memset(o, 0, sizeof(*o));
		o->desc = key[0] == '-';
		if (strcmp(key + o->desc, "_id") == 0) {
			o->by = CL_FS_ID;
		} else if (strcmp(key + o->desc, "_lastUpdated") == 0) {
			o->by = CL_FS_UPDATED;
		} else if (s->type && (p = cl_fhir_param_find(s->type, key + o->desc))) {
			o->by = CL_FS_PARAM;
			o->param = p->name;
			o->kind = p->kind;
		} else {
			snprintf(s->why, sizeof(s->why), "_sort: '%.60s' is not _id, _lastUpdated or a "
				 "search parameter of %s", key + o->desc, s->type ? s->type : "the type");
			return CL_EINVAL;
		}
		n++;
		v += len;
		if (*v == ',')
			v++;
	}
	if (n == 0) {
		snprintf(s->why, sizeof(s->why), "_sort: no key");
		return CL_EINVAL;
	}
	memcpy(s->sorts, sorts, sizeof(sorts));
	s->q.sorts = s->sorts;
	s->q.nsorts = n;
	return CL_OK;
}

/* One sort value of a page start: n, i<integer>, d<number>, t<hex>. */
static int after_value(struct cl_fhir_search *s, const char *v, size_t n, size_t *text_used,
		       struct cl_fhir_sortval *out)
{
	char buf[40], *end;

	memset(out, 0, sizeof(*out));
	if (n == 1 && v[0] == 'n') {
		out->type = 'n';
		return 1;
	}
	if (n < 2 || ((v[0] == 'i' || v[0] == 'd') && n - 1 >= sizeof(buf)))
		return 0;
	if (v[0] == 'i' || v[0] == 'd') {
		memcpy(buf, v + 1, n - 1);
		buf[n - 1] = '\0';
		if (strspn(buf, "0123456789-+.eE") != n - 1)
			return 0;
		out->type = v[0];
		if (v[0] == 'i')
			out->i = strtoll(buf, &end, 10);
		else
			out->d = strtod(buf, &end);
		return *end == '\0' && (v[0] == 'i' || isfinite(out->d));
	}
	if (v[0] != 't' || (n - 1) % 2 || *text_used + (n - 1) / 2 + 1 > sizeof(s->after_text))
		return 0;
	out->type = 't';
	out->t = s->after_text + *text_used;
	for (size_t k = 1; k < n; k += 2) {
		int hi = cl_hexval(v[k]), lo = cl_hexval(v[k + 1]);

		if (hi < 0 || lo < 0 || (hi == 0 && lo == 0))
			return 0;
		s->after_text[(*text_used)++] = (char)(hi * 16 + lo);
	}
	s->after_text[(*text_used)++] = '\0';
	return 1;
}

/* The page start: the sort values, "~" after each, then Type/id. */
static int read_after(struct cl_fhir_search *s)
{
	const char *v = s->after_raw, *slash;
	size_t text_used = 0;
	char after[sizeof(s->after)];

	for (int i = 0; i < s->q.nsorts; i++) {
		const char *tilde = strchr(v, '~');

		if (!tilde || !after_value(s, v, (size_t)(tilde - v), &text_used, &s->after_vals[i]))
			return 0;
		v = tilde + 1;
	}
	slash = strchr(v, '/');
	if (!slash || (size_t)(slash - v) >= CL_FHIR_TYPE_MAX || !cl_fhir_id_ok(slash + 1))
		return 0;
	/* Type/id: the type within CL_FHIR_TYPE_MAX, the id a FHIR id */
	snprintf(after, sizeof(after), "%.*s", (int)(sizeof(after) - 1), v);
	after[slash - v] = '\0';
	if (!cl_fhir_type_ok(after))
		return 0;
	memcpy(s->after, after, sizeof(after));
	s->q.after_type = s->after;
	s->q.after_id = s->after + (slash - v) + 1;
	s->q.after_vals = s->q.nsorts ? s->after_vals : NULL;
	return 1;
}

void cl_fhir_search_after(const struct cl_fhir_search *s, const struct cl_fhir_match *m,
			  char *buf, size_t cap)
{
	size_t n = 0;

	buf[0] = '\0';
	for (int i = 0; i < s->q.nsorts && n < cap; i++) {
		const struct cl_fhir_sortval *v = &m->vals[i];

		if (v->type == 'n')
			n += (size_t)snprintf(buf + n, cap - n, "n~");
		else if (v->type == 'i')
			n += (size_t)snprintf(buf + n, cap - n, "i%lld~", (long long)v->i);
		else if (v->type == 'd') {
			char num[40], *plus;

			/* "+" is a space in a query: 1e+20 as 1e20 */
			snprintf(num, sizeof(num), "%.17g", v->d);
			while ((plus = strchr(num, '+')))
				memmove(plus, plus + 1, strlen(plus));
			n += (size_t)snprintf(buf + n, cap - n, "d%s~", num);
		}
		else {
			n += (size_t)snprintf(buf + n, cap - n, "t");
			for (const unsigned char *p = (const unsigned char *)v->t; *p && n < cap; p++)
				n += (size_t)snprintf(buf + n, cap - n, "%02x", *p);
			if (n < cap)
				n += (size_t)snprintf(buf + n, cap - n, "~");
		}
	}
	if (n < cap)
		snprintf(buf + n, cap - n, "%s/%s", m->type, m->id);
}

int cl_fhir_search_param(void *arg, const char *name, const char *value)
{
	struct cl_fhir_search *s = arg;
	uint64_t n;

	if (!value)
		value = "";
	if (strcmp(name, "_format") == 0) {
		if (cl_fhir_json_format(value))
			return 0;
		snprintf(s->why, sizeof(s->why), "_format=%.60s: carelake serves FHIR as JSON only",
			 value);
		return CL_ENOTSUP;
	}
	if (strcmp(name, "_count") == 0) {
		if (cl_parse_u64(value, 1, CL_FHIR_PAGE_MAX, &n) != CL_OK) {
			snprintf(s->why, sizeof(s->why), "_count must be 1 to %d", CL_FHIR_PAGE_MAX);
			return CL_EINVAL;
		}
		s->q.count = (int64_t)n;
		applied(s, name, value);
		return 0;
	}
	if (strcmp(name, "_after") == 0) {
		/* read once every parameter is known (the sort decides its form) */
		if (strlen(value) >= sizeof(s->after_raw)) {
			snprintf(s->why, sizeof(s->why), "_after: not a page of this search");
			return CL_EINVAL;
		}
		snprintf(s->after_raw, sizeof(s->after_raw), "%s", value);
		return 0;
	}
	if (!s->everything && ((strncmp(name, "_include", 8) == 0 && strchr(":", name[8])) ||
			       (strncmp(name, "_revinclude", 11) == 0 && strchr(":", name[11])))) {
		int rc = include_param(s, name, value);

		if (rc == CL_OK)
			applied(s, name, value);
		return rc;
	}
	if (!s->everything && strcmp(name, "_elements") == 0) {
		const char *list[32];
		int got = 0;

		/* taken whole or not at all, once */
		for (const char *v = value; *v && got >= 0;) {
			size_t len = strcspn(v, ",");

			if (got == 32 || len == 0 || len > 64 ||
			    strspn(v, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_") <
				    len || s->nelements || !(list[got] = keep(s, v, len)))
				got = -1;
			else
				got++;
			v += len + (v[len] == ',');
		}
		if (got <= 0) {
			snprintf(s->why, sizeof(s->why), "_elements: '%.80s' is not a list of element "
				 "names (id,status,code; at most 32, once)", value);
			return CL_EINVAL;
		}
		memcpy(s->elements, list, sizeof(list[0]) * (size_t)got);
		s->nelements = got;
		applied(s, name, value);
		return 0;
	}
	if (!s->everything && strcmp(name, "_sort") == 0) {
		int rc = sort_param(s, value);

		if (rc == CL_OK)
			applied(s, name, value);
		return rc;
	}
	if (!s->everything && strcmp(name, "_id") == 0) {
		if (split(s, name, value, s->id_list, sizeof(s->id_list), s->ids, &s->q.nids, cl_fhir_id_ok))
			return CL_EINVAL;
		s->q.ids = s->ids;
		applied(s, name, value);
		return 0;
	}
	if (!s->everything && (strcmp(name, "patient") == 0 || strcmp(name, "subject") == 0 ||
			       strcmp(name, "patient:Patient") == 0 ||
			       strcmp(name, "subject:Patient") == 0)) {
		if (s->q.patient || !patient_ref(value, s->patient, sizeof(s->patient))) {
			snprintf(s->why, sizeof(s->why), "%s: '%.80s' is not one Patient reference "
				 "(Patient/ID)", name, value);
			return CL_EINVAL;
		}
		s->q.patient = s->patient;
		{
			char ref[CL_FHIR_ID_MAX + 8];

			/* the link names it as FHIR does, whatever form it came in */
			snprintf(ref, sizeof(ref), "Patient/%s", s->patient);
			applied(s, name, ref);
		}
		return 0;
	}
	if (!s->everything && strcmp(name, "_summary") == 0 && strcmp(value, "count") == 0) {
		s->summary_count = 1;
		applied(s, name, value);
		return 0;
	}
	if (!s->everything && strcmp(name, "_summary") == 0 &&
	    (strcmp(value, "true") == 0 || strcmp(value, "false") == 0 ||
	     strcmp(value, "text") == 0 || strcmp(value, "data") == 0)) {
		s->summary = strcmp(value, "text") == 0 ? 'x' : value[0] == 'f' ? 0 : value[0];
		applied(s, name, value);
		return 0;
	}
	if (!s->everything && strcmp(name, "_total") == 0 &&
	    (strcmp(value, "none") == 0 || strcmp(value, "accurate") == 0 ||
	     strcmp(value, "estimate") == 0)) {
		s->no_total = strcmp(value, "none") == 0;
		applied(s, name, value);
		return 0;
	}
	if (s->everything && strcmp(name, "_type") == 0) {
		if (split(s, name, value, s->type_list, sizeof(s->type_list), s->types, &s->q.ntypes,
			  cl_fhir_type_ok))
			return CL_EINVAL;
		s->q.types = s->types;
		applied(s, name, value);
		return 0;
	}
	if (s->everything && strcmp(name, "_since") == 0) {
		int64_t us;

		if (strspn(value, "0123456789-T:.Z+") != strlen(value) ||
		    cl_time_parse_rfc3339(value, strlen(value), &us) != CL_OK) {
			snprintf(s->why, sizeof(s->why), "_since: '%.60s' is not an instant "
				 "(2026-12-05T10:00:00Z)", value);
			return CL_EINVAL;
		}
		s->q.since_us = us;
		applied(s, name, value);
		return 0;
	}
	if (!s->everything) {
		int rc = type_param(s, name, value);

		if (rc < 0)
			return rc;
		if (rc == 1)
			return 0;
	}
	if (s->lenient)
		return 0;
	snprintf(s->why, sizeof(s->why), "%.60s is not a search parameter carelake supports here "
		 "(%s; Prefer: handling=lenient ignores it)", name,
		 s->everything ? "$everything takes _since, _type, _count"
			       : "GET /fhir/metadata lists the type's; _id, _lastUpdated, _count, _sort, "
				 "_include, _revinclude, _elements, _summary, _total for all");
	return CL_EINVAL;
}

int cl_fhir_search_query(struct cl_fhir_search *s, const char *query)
{
	char name[128], value[1024];

	for (const char *p = query; *p;) {
		size_t len = strcspn(p, "&"), nlen = strcspn(p, "=&"), got;
		int rc;

		if (len && (cl_pct_decode(p, nlen, name, sizeof(name), CL_PCT_PLUS, &got) != CL_OK ||
			    cl_pct_decode(p + nlen + (nlen < len), len - nlen - (nlen < len), value,
					  sizeof(value), CL_PCT_PLUS, &got) != CL_OK)) {
			snprintf(s->why, sizeof(s->why), "'%.80s' is not a %%-encoded name=value", p);
			return CL_EINVAL;
		}
		if (len && (rc = cl_fhir_search_param(s, name, value)) != CL_OK)
			return rc;
		p += len + (p[len] == '&');
	}
	return CL_OK;
}

void cl_fhir_search_init(struct cl_fhir_search *s, const char *type, int everything, int lenient)
{
	memset(s, 0, sizeof(*s));
	s->type = type;
	s->everything = everything;
	s->lenient = lenient;
	s->q.count = CL_FHIR_PAGE_DEFAULT;
}

/* Appends the space-separated element names of list (NULL: none) to
 * those kept. */
static void add_elements(struct cl_fhir_search *s, const char *list)
{
	for (const char *v = list; v && *v && s->nelements < 32;) {
		size_t len = strcspn(v, " ");

		if (!(s->elements[s->nelements] = keep(s, v, len)))
			break;
		s->nelements++;
		v += len + (v[len] == ' ');
	}
}

int cl_fhir_search_finish(struct cl_fhir_search *s)
{
	char n[24];

	if (!strstr(s->applied, "_count=")) {
		snprintf(n, sizeof(n), "%lld", (long long)s->q.count);
		applied(s, "_count", n);
	}
	/* _summary=true: the type's summary elements, as _elements would keep;
	 * text: its narrative and the elements it requires; data: all but
	 * the narrative */
	if (s->summary && s->nelements) {
		snprintf(s->why, sizeof(s->why), "_summary and _elements cannot be used together");
		return CL_EINVAL;
	}
	if (s->summary == 'd') {
		s->elements[s->nelements++] = "text";
		s->elements_except = 1;
	}
	if (s->summary == 'x' && s->type) {
		s->elements[s->nelements++] = "text";
		add_elements(s, cl_fhir_mandatory_elements(s->type));
	}
	if (s->summary == 't' && s->type) {
		const char *list = cl_fhir_summary_elements(s->type);

		add_elements(s, list);
		if (!list || s->nelements == 0) {
			snprintf(s->why, sizeof(s->why), "_summary=true: %.64s has no summary elements "
				 "in FHIR R4", s->type);
			return CL_EINVAL;
		}
	}
	if (s->after_raw[0] && !read_after(s)) {
		snprintf(s->why, sizeof(s->why), "_after: not a page of this search");
		return CL_EINVAL;
	}
	return CL_OK;
}
