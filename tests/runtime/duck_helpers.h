/*
 * DuckDB (from npm, tests/duckdb) as the independent reader in tests, and
 * a Delta log replayed here, without carelake's code. The test defines
 * `duck` (the path of duck.mjs) before including this.
 */
#ifndef CL_DUCK_HELPERS_H
#define CL_DUCK_HELPERS_H

#include <dirent.h>
#include <fcntl.h>
#include <jansson.h>
#include <unistd.h>

/* ---- DuckDB ----------------------------------------------------------- */

/* One node process for the whole test run (duck.mjs --serve), started at
 * the first query: a node start with DuckDB loaded costs most of a second,
 * and some tests ask hundreds of questions. Each query still gets a fresh
 * in-memory database. Its pipes are close-on-exec, so the carelake
 * processes the tests start do not hold them; it ends when the test's
 * process does (end of its input). */
static FILE *duck_to, *duck_from;

static void duck_start(void)
{
	int in[2], out[2];
	pid_t pid;

	assert_int_equal(pipe2(in, O_CLOEXEC), 0);
	assert_int_equal(pipe2(out, O_CLOEXEC), 0);
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		dup2(in[0], 0);
		dup2(out[1], 1);
		execlp("node", "node", duck, "--serve", (char *)NULL);
		_exit(127);
	}
	close(in[0]);
	close(out[1]);
	duck_to = fdopen(in[1], "w");
	duck_from = fdopen(out[0], "r");
	assert_non_null(duck_to);
	assert_non_null(duck_from);
}

/* Runs SQL in DuckDB; returns {"columns": [...], "rows": [[...]]}. */
static json_t *duckdb(const char *sql)
{
	json_t *q = json_string(sql), *j;
	char *line = NULL, *text;
	size_t cap = 0;
	json_error_t err;

	if (!duck_to)
		duck_start();
	text = json_dumps(q, JSON_ENCODE_ANY);
	json_decref(q);
	fprintf(duck_to, "%s\n", text);
	free(text);
	if (fflush(duck_to) != 0 || getline(&line, &cap, duck_from) <= 0)
		fail_msg("DuckDB (node %s --serve) ended before answering %.300s", duck, sql);
	j = json_loads(line, 0, &err);
	if (!j)
		fail_msg("DuckDB printed no JSON: %.400s", line);
	free(line);
	if (json_object_get(j, "error"))
		fail_msg("DuckDB failed on %.300s: %.600s", sql,
			 json_string_value(json_object_get(j, "error")));
	return j;
}

/* ---- the Delta log, replayed here ------------------------------------- */

/* The active files of the Delta table at `tdir`: {path: partitionValues}.
 * NULL when it has no log or no commit yet. Replays every JSON commit in
 * version order. */
static json_t *active_files(const char *tdir)
{
	char logdir[1000], path[1300];
	struct dirent **names;
	int n;

	snprintf(logdir, sizeof(logdir), "%s/_delta_log", tdir);
	n = scandir(logdir, &names, NULL, alphasort);
	if (n < 0)
		return NULL;
	json_t *files = json_object();
	int commits = 0;
	for (int i = 0; i < n; i++) {
		const char *nm = names[i]->d_name;
		size_t len = strlen(nm);
		if (len == 25 && strcmp(nm + 20, ".json") == 0) {
			commits++;
			snprintf(path, sizeof(path), "%s/%s", logdir, nm);
			FILE *f = fopen(path, "r");
			char *line = NULL;
			size_t cap = 0;
			assert_non_null(f);
			while (getline(&line, &cap, f) > 0) {
				json_t *a = json_loads(line, 0, NULL), *x;
				if (!a)
					fail_msg("%s: a line that is not JSON", path);
				if ((x = json_object_get(a, "add")))
					json_object_set(files, json_string_value(json_object_get(x, "path")),
							json_object_get(x, "partitionValues"));
				if ((x = json_object_get(a, "remove")))
					json_object_del(files, json_string_value(json_object_get(x, "path")));
				json_decref(a);
			}
			free(line);
			fclose(f);
		}
		free(names[i]);
	}
	free(names);
	if (commits == 0) {
		/* a writer killed between creating the log and its first commit */
		json_decref(files);
		return NULL;
	}
	return files;
}

#endif
