/*
 * DuckDB (from npm, tests/duckdb) as the independent reader in tests, and
 * a Delta log replayed here, without carelake's code. The test defines
 * `duck` (the path of duck.mjs) and `dir` (a scratch directory) and
 * includes cli_helpers.h before this.
 */
#ifndef CL_DUCK_HELPERS_H
#define CL_DUCK_HELPERS_H

#include <dirent.h>
#include <jansson.h>

/* ---- DuckDB ----------------------------------------------------------- */

/* Runs SQL in DuckDB; returns {"columns": [...], "rows": [[...]]}. */
static json_t *duckdb(const char *sql)
{
	char qpath[300], cmd[1200], opath[300];
	FILE *f;

	snprintf(qpath, sizeof(qpath), "%s/.duck.sql", dir);
	snprintf(opath, sizeof(opath), "%s/.duck.out", dir);
	f = fopen(qpath, "w");
	assert_non_null(f);
	fputs(sql, f);
	fclose(f);
	snprintf(cmd, sizeof(cmd), "node '%s' @'%s' > '%s' 2>&1", duck, qpath, opath);
	int rc = system(cmd);
	char *out = slurp(opath);
	if (rc != 0)
		fail_msg("DuckDB failed on %.300s: %.600s", sql, out);
	json_error_t err;
	json_t *j = json_loads(out, 0, &err);
	if (!j)
		fail_msg("DuckDB printed no JSON: %.400s", out);
	free(out);
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
