/*
 * Pipelines: batch sources declared in config and run by `carelake serve`
 * (the data-factory part). Each names files (a path or a glob), when to
 * look for them, and how often to retry a file that fails:
 *
 *   pipelines:
 *     rosters:
 *       path: /srv/drop/staff      # a file, a directory or a glob
 *       trigger: daily 02:00        # every 5m | hourly | daily HH:MM | watch
 *       attempts: 3                 # default 3
 *       backoff: 2s                 # first retry after this, doubling
 *       source: hospital-files      # the bronze source; default the name
 *       mapping: census             # CSV: read through this mapping (default:
 *                                   # recognise each file by its header)
 *       sheet: Patients             # XLSX: this sheet (default the first)
 *
 * A file already loaded (same content) is skipped. Each file is a run in
 * pipeline_run: Queued, then InProgress for each attempt (Queued again
 * between attempts), then Succeeded or Failed. After the last failed attempt the file moves to
 * <data>/dead-letter/<pipeline>/ with a .reason file beside it, and the
 * failure is reported (an alert, from serve). So does a file during whose
 * load the process stopped `attempts` times (killed, or a crash on it): a
 * note made before each load and removed after it counts them.
 */
#ifndef CL_PIPELINE_H
#define CL_PIPELINE_H

#include <stddef.h>
#include <stdint.h>

enum cl_trigger { CL_TRIGGER_INTERVAL, CL_TRIGGER_HOURLY, CL_TRIGGER_DAILY, CL_TRIGGER_WATCH };

struct cl_pipeline {
	char name[48];
	char path[1024];
	char source[64];
	char sheet[64];          /* XLSX: the sheet ("": the first) */
	char mapping[48];        /* CSV: the mapping ("": by header) */
	enum cl_trigger trigger;
	int64_t interval_us;     /* CL_TRIGGER_INTERVAL */
	int daily_minute;        /* CL_TRIGGER_DAILY: minutes after 00:00 UTC */
	uint32_t attempts;
	int64_t backoff_us;
};

#define CL_PIPELINES_MAX 16

/* Applies one "pipelines.<name>.<field>" setting, declaring the pipeline
 * if new. CL_ENOENT: not a pipeline key; CL_EINVAL with the reason. */
int cl_pipeline_set(struct cl_pipeline *p, int *n, int cap, const char *key, const char *value);

/* After all settings: every pipeline has a path. */
int cl_pipelines_check(const struct cl_pipeline *p, int n);

void cl_pipeline_trigger_text(const struct cl_pipeline *p, char *buf, size_t cap);

/* The pipelines.* settings: a list of struct cl_pipeline (CL_PIPELINES_MAX). */
struct cl_config_section;
extern const struct cl_config_section cl_pipelines_section;

struct cl_pipeline_runner;
struct cl_lake_opts;

/* Called after the last failed attempt at a file (from the runner's
 * thread); `reason` says why. */
typedef void (*cl_pipeline_failed_fn)(void *arg, const char *pipeline, const char *file,
				      const char *reason);

/* Starts a thread that runs cfg's pipelines (pipelines.*) when their
 * triggers say, loading with cfg's expectations, references and lake
 * settings. *out is NULL when cfg declares no pipeline. */
struct cl_config;
int cl_pipeline_runner_start(const char *data_dir, const struct cl_config *cfg,
			     cl_pipeline_failed_fn on_failed, void *arg,
			     struct cl_pipeline_runner **out);
void cl_pipeline_runner_stop(struct cl_pipeline_runner *r);



#endif
