/*
 * Benchmark: parsing device events, carelake's zero-copy parser against
 * json-c (the baseline DESIGN.md names: >= 5x), in one run. (jansson cannot
 * share a binary with json-c: both export json_object_get.)
 * Each parser parses every event of an NDJSON body and reads its
 * patient_id, type and value, as ingest does.
 *
 * usage: bench_json [--events N] [--rounds R]
 */
#include "core/cl_time.h"
#include "json/cl_json.h"

#include <json-c/json.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct line {
	const char *s;
	size_t len;
};

static const char *const types[] = { "heart_rate", "respiratory_rate", "spo2",
				     "systolic_bp", "diastolic_bp", "temperature" };

static double run_carelake(const struct line *ls, size_t n, int rounds, double *check)
{
	struct cl_json_doc d;
	int64_t t0 = cl_time_mono_us();
	double sum = 0;

	cl_json_doc_init(&d);
	for (int r = 0; r < rounds; r++)
		for (size_t i = 0; i < n; i++) {
			double v;
			int p, t, val;

			if (cl_json_parse(&d, ls[i].s, ls[i].len) != 0)
				abort();
			p = cl_json_get(&d, 0, "patient_id");
			t = cl_json_get(&d, 0, "type");
			val = cl_json_get(&d, 0, "value");
			if (p < 0 || t < 0 || val < 0 || cl_json_double(&d, (uint32_t)val, &v))
				abort();
			sum += v + d.toks[p].len + d.toks[t].len;
		}
	cl_json_doc_free(&d);
	*check = sum;
	return (double)(cl_time_mono_us() - t0) / 1e6;
}

static double run_jsonc(const struct line *ls, size_t n, int rounds, double *check)
{
	struct json_tokener *tok = json_tokener_new();
	int64_t t0 = cl_time_mono_us();
	double sum = 0;

	for (int r = 0; r < rounds; r++)
		for (size_t i = 0; i < n; i++) {
			struct json_object *o, *p, *t, *v;

			json_tokener_reset(tok);
			o = json_tokener_parse_ex(tok, ls[i].s, (int)ls[i].len);
			if (!o || !json_object_object_get_ex(o, "patient_id", &p) ||
			    !json_object_object_get_ex(o, "type", &t) ||
			    !json_object_object_get_ex(o, "value", &v))
				abort();
			sum += json_object_get_double(v) + json_object_get_string_len(p) +
			       json_object_get_string_len(t);
			json_object_put(o);
		}
	json_tokener_free(tok);
	*check = sum;
	return (double)(cl_time_mono_us() - t0) / 1e6;
}

int main(int argc, char **argv)
{
	size_t n = 100000, bytes = 0;
	int rounds = 5;
	struct line *ls;
	char *buf, *p;
	double a, b, ca, cb;

	for (int i = 1; i + 1 < argc; i += 2) {
		if (strcmp(argv[i], "--events") == 0)
			n = (size_t)atol(argv[i + 1]);
		else if (strcmp(argv[i], "--rounds") == 0)
			rounds = atoi(argv[i + 1]);
	}
	if (n == 0 || rounds <= 0)
		return 2;
	ls = calloc(n, sizeof(*ls));
	buf = p = malloc(n * 256);
	for (size_t i = 0; i < n; i++) {
		int len = sprintf(p,
				  "{\"id\":\"sim-%zu\",\"device_id\":\"monitor-%04zu\","
				  "\"patient_id\":\"patient-%04zu\",\"ts\":\"2026-11-22T06:%02zu:%02zu.%03zuZ\","
				  "\"type\":\"%s\",\"value\":%.1f,\"unit\":\"/min\"}",
				  i, i % 5000, i % 5000, i / 60 % 60, i % 60, i % 1000,
				  types[i % 6], 40.0 + (double)(i % 900) / 10);

		ls[i].s = p;
		ls[i].len = (size_t)len;
		bytes += (size_t)len;
		p += len + 1;
	}
	printf("JSON parse benchmark: %zu device events (%.1f bytes each), %d rounds\n",
	       n, (double)bytes / (double)n, rounds);
	a = run_carelake(ls, n, rounds, &ca);
	b = run_jsonc(ls, n, rounds, &cb);
	if (ca != cb) {
		fprintf(stderr, "parsers disagree: %f %f\n", ca, cb);
		return 1;
	}
	printf("%-10s %12s %9s %9s\n", "parser", "events/s", "MB/s", "vs json-c");
	printf("%-10s %12.0f %9.1f %8.2fx\n", "carelake", (double)(n * (size_t)rounds) / a,
	       (double)(bytes * (size_t)rounds) / a / 1e6, b / a);
	printf("%-10s %12.0f %9.1f %8.2fx\n", "json-c", (double)(n * (size_t)rounds) / b,
	       (double)(bytes * (size_t)rounds) / b / 1e6, 1.0);
	printf("target: carelake >= 5x json-c\n");
	free(buf);
	free(ls);
	return 0;
}
