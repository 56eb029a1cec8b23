/*
 * DuckDB beside carelake in the benchmarks: tests/duckdb/duck.mjs run as
 * `node duck.mjs --timed SETUP TIMED`, and the size of the files both
 * write.
 */
#ifndef BENCH_DUCK_H
#define BENCH_DUCK_H

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Runs cmd (a duck.mjs --timed command line); the seconds the timed
 * statement took. Exits, saying so, if DuckDB failed. */
static inline double bench_duck_run(const char *who, const char *cmd)
{
	char line[256];
	FILE *p = popen(cmd, "r");
	double ms = -1;

	if (!p)
		return -1;
	while (fgets(line, sizeof(line), p))
		if (strncmp(line, "{\"ms\":", 6) == 0)
			ms = strtod(line + 6, NULL);
	if (pclose(p) != 0 || ms < 0) {
		fprintf(stderr, "%s: DuckDB failed (is tests/duckdb installed? scripts/deps.sh)\n",
			who);
		exit(1);
	}
	return ms / 1000;
}

static inline long long bench_file_size(const char *path)
{
	FILE *f = fopen(path, "rb");
	long long n = -1;

	if (f && fseek(f, 0, SEEK_END) == 0)
		n = ftell(f);
	if (f)
		fclose(f);
	return n;
}

#endif
