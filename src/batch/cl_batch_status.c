/*
 * Batch loads' part of `carelake status`. See cl_batch_status.h.
 */
#include "cl_batch_status.h"
#include "batch/cl_pipeline.h"
#include "store/cl_sql_json.h"

#include <dirent.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>

/* Files in a dead-letter folder, less their .reason notes. */
static json_int_t dead_letters(const char *data_dir, const char *pipeline)
{
	char dir[PATH_MAX * 2];
	struct dirent *de;
	json_int_t n = 0;
	DIR *d;

	snprintf(dir, sizeof(dir), "%s/dead-letter/%.48s", data_dir, pipeline);
	d = opendir(dir);
	while (d && (de = readdir(d))) {
		size_t l = strlen(de->d_name);

		if (de->d_name[0] != '.' && !(l > 7 && strcmp(de->d_name + l - 7, ".reason") == 0))
			n++;
	}
	if (d)
		closedir(d);
	return n;
}

json_t *cl_batch_status_pipelines(sqlite3 *db, const char *data_dir,
				  const struct cl_pipeline *p, int n)
{
	json_t *pipes = json_array();

	for (int i = 0; pipes && i < n; i++) {
		char trig[32];
		json_t *last = cl_sql_rows_json(db, "SELECT id, trigger, attempts, state, start_us,"
						" end_us, files, accepted, quarantined, error FROM"
						" pipeline_run WHERE pipeline = ?1 ORDER BY id DESC"
						" LIMIT 1", p[i].name);

		cl_pipeline_trigger_text(&p[i], trig, sizeof(trig));
		json_array_append_new(pipes, json_pack("{s:s,s:s,s:s,s:s,s:i,s:o,s:I}", "name",
						       p[i].name, "path", p[i].path, "trigger",
						       trig, "source", p[i].source, "attempts",
						       (int)p[i].attempts, "last_run",
						       json_incref(json_array_get(last, 0)) ?: json_null(),
						       "dead_letters",
						       dead_letters(data_dir, p[i].name)));
		json_decref(last);
	}
	return pipes;
}

json_t *cl_batch_status_runs(sqlite3 *db, int limit)
{
	char sql[512];

	snprintf(sql, sizeof(sql), "SELECT id, pipeline, trigger, attempts, state, start_us,"
		 " end_us, files, records, accepted, duplicates, quarantined, warnings, error"
		 " FROM pipeline_run ORDER BY id DESC LIMIT %d", limit);
	return cl_sql_rows_json(db, sql, NULL);
}

json_t *cl_batch_status_sources(sqlite3 *db)
{
	return cl_sql_rows_json(db, "WITH s AS (SELECT source FROM bronze_file UNION SELECT source"
				" FROM quarantine) SELECT s.source, (SELECT count(*) FROM"
				" bronze_file b WHERE b.source = s.source) AS files, (SELECT"
				" count(*) FROM quarantine q WHERE q.source = s.source) AS"
				" quarantined FROM s ORDER BY s.source", NULL);
}

int64_t cl_batch_status_quarantined(sqlite3 *db)
{
	return cl_sql_one_int(db, "SELECT count(*) FROM quarantine", NULL, 0);
}
