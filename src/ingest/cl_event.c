/*
 * Device-event validation. See cl_event.h.
 */
#include "cl_event.h"
#include "core/cl_error.h"
#include "core/cl_time.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

void cl_event_limits_default(struct cl_event_limits *lim)
{
	lim->max_future_us = 300ll * 1000000;
	lim->min_ts_us = 946684800ll * 1000000; /* 2000-01-01 */
}

/* The optional "quality" and "artifact" fields. */
static int parse_quality(const struct cl_json_doc *d, uint32_t obj, struct cl_event *ev)
{
	static const struct { const char *word; enum cl_event_quality q; } words[] = {
		{ "good", CL_EQ_GOOD }, { "poor", CL_EQ_POOR }, { "artifact", CL_EQ_ARTIFACT },
		{ "probe_off", CL_EQ_PROBE_OFF }, { "lead_off", CL_EQ_LEAD_OFF },
	};
	int q = cl_json_get(d, obj, "quality"), a = cl_json_get(d, obj, "artifact");

	ev->quality = CL_EQ_NONE;
	if (q >= 0 && d->toks[q].type == CL_JSON_NUMBER) {
		double v;

		if (cl_json_double(d, (uint32_t)q, &v) != CL_OK || !(v >= 0 && v <= 1))
			return cl_error_set(CL_EINVAL, "field 'quality' must be a signal quality "
					    "index from 0 to 1 or a word (good, poor, artifact, "
					    "probe_off, lead_off)");
		ev->quality = v >= 0.5 ? CL_EQ_GOOD : CL_EQ_POOR;
	} else if (q >= 0) {
		size_t i;

		for (i = 0; i < sizeof(words) / sizeof(words[0]); i++)
			if (d->toks[q].type == CL_JSON_STRING && cl_json_str_eq(d, (uint32_t)q, words[i].word))
				break;
		if (i == sizeof(words) / sizeof(words[0]))
			return cl_error_set(CL_EINVAL, "field 'quality' must be a signal quality "
					    "index from 0 to 1 or one of good, poor, artifact, "
					    "probe_off, lead_off");
		ev->quality = words[i].q;
	}
	if (a >= 0) {
		if (d->toks[a].type != CL_JSON_TRUE && d->toks[a].type != CL_JSON_FALSE)
			return cl_error_set(CL_EINVAL, "field 'artifact' must be true or false");
		if (d->toks[a].type == CL_JSON_TRUE && ev->quality < CL_EQ_ARTIFACT)
			ev->quality = CL_EQ_ARTIFACT;
	}
	return CL_OK;
}

/* Copies a required (or optional) string field into buf. */
static int str_field(const struct cl_json_doc *d, uint32_t obj, const char *key,
		     char *buf, size_t cap, int required)
{
	int i = cl_json_get(d, obj, key);
	long n;

	buf[0] = '\0';
	if (i < 0 || d->toks[i].type == CL_JSON_NULL) {
		if (required)
			return cl_error_set(CL_EINVAL, "missing field '%s'", key);
		return CL_OK;
	}
	if (d->toks[i].type != CL_JSON_STRING)
		return cl_error_set(CL_EINVAL, "field '%s' must be a string, not %s", key,
				    cl_json_type_name(d->toks[i].type));
	n = cl_json_str(d, (uint32_t)i, buf, cap);
	if (n < 0)
		return cl_error_set(CL_EINVAL, "field '%s' is longer than %zu bytes", key, cap - 1);
	if (n == 0 && required)
		return cl_error_set(CL_EINVAL, "field '%s' is empty", key);
	for (long k = 0; k < n; k++)
		if ((unsigned char)buf[k] < 0x20)
			return cl_error_set(CL_EINVAL, "field '%s' contains a control character", key);
	return CL_OK;
}

int cl_event_parse(const struct cl_json_doc *d, uint32_t obj, int64_t now_us,
		   const struct cl_event_limits *lim, struct cl_event *ev)
{
	char buf[64], unit[40];
	int t, c, vi, rc, vital = -1;
	double value;

	if (d->toks[obj].type != CL_JSON_OBJECT)
		return cl_error_set(CL_EINVAL, "an event must be a JSON object, not %s",
				    cl_json_type_name(d->toks[obj].type));
	if ((rc = str_field(d, obj, "id", ev->id, sizeof(ev->id), 0)) ||
	    (rc = str_field(d, obj, "device_id", ev->device_id, sizeof(ev->device_id), 1)) ||
	    (rc = str_field(d, obj, "patient_id", ev->patient_id, sizeof(ev->patient_id), 1)))
		return rc;

	t = cl_json_get(d, obj, "type");
	c = cl_json_get(d, obj, "code");
	if (t >= 0 && d->toks[t].type == CL_JSON_STRING) {
		long n = cl_json_str(d, (uint32_t)t, buf, sizeof(buf));

		vital = n < 0 ? -1 : cl_vital_by_name(buf, (size_t)n);
		if (vital < 0)
			return cl_error_set(CL_EINVAL, "unknown vital type '%.40s'", n < 0 ? "(too long)" : buf);
	} else if (t >= 0) {
		return cl_error_set(CL_EINVAL, "field 'type' must be a string");
	}
	if (c >= 0 && d->toks[c].type == CL_JSON_STRING) {
		long n = cl_json_str(d, (uint32_t)c, buf, sizeof(buf));
		int by_code = n < 0 ? -1 : cl_vital_by_loinc(buf, (size_t)n);

		if (by_code < 0)
			return cl_error_set(CL_EINVAL, "unknown vital LOINC code '%.40s'",
					    n < 0 ? "(too long)" : buf);
		if (vital >= 0 && by_code != vital)
			return cl_error_set(CL_EINVAL, "'type' %s and 'code' %s disagree",
					    cl_vital_name(vital), buf);
		vital = by_code;
	} else if (c >= 0) {
		return cl_error_set(CL_EINVAL, "field 'code' must be a string");
	}
	if (vital < 0)
		return cl_error_set(CL_EINVAL, "missing field 'type' (or a LOINC 'code')");
	ev->vital = (enum cl_vital)vital;

	vi = cl_json_get(d, obj, "value");
	if (vi < 0)
		return cl_error_set(CL_EINVAL, "missing field 'value'");
	if (d->toks[vi].type != CL_JSON_NUMBER)
		return cl_error_set(CL_EINVAL, "field 'value' must be a number, not %s",
				    cl_json_type_name(d->toks[vi].type));
	if (cl_json_double(d, (uint32_t)vi, &value) != CL_OK)
		return cl_error_set(CL_EINVAL, "field 'value' is not a usable number");
	rc = str_field(d, obj, "unit", unit, sizeof(unit), 0);
	if (rc)
		return rc;
	rc = cl_vital_normalise(ev->vital, value, unit, &ev->value);
	if (rc)
		return rc;

	t = cl_json_get(d, obj, "ts");
	if (t < 0)
		return cl_error_set(CL_EINVAL, "missing field 'ts'");
	if (d->toks[t].type != CL_JSON_STRING || d->toks[t].escaped)
		return cl_error_set(CL_EINVAL, "field 'ts' must be an RFC 3339 string");
	rc = cl_time_parse_rfc3339(d->src + d->toks[t].start, d->toks[t].len, &ev->ts_us);
	if (rc)
		return cl_error_set(rc, "field 'ts': %s", cl_error_detail());
	if (ev->ts_us > now_us + lim->max_future_us)
		return cl_error_set(CL_EINVAL, "field 'ts' is %lld s in the future",
				    (long long)((ev->ts_us - now_us) / 1000000));
	if (ev->ts_us < lim->min_ts_us)
		return cl_error_set(CL_EINVAL, "field 'ts' is implausibly old");
	return parse_quality(d, obj, ev);
}
