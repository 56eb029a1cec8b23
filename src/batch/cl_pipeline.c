/*
 * Pipelines. See cl_pipeline.h.
 */
#include "cl_pipeline.h"
#include "batch/cl_batch.h"
#include "batch/cl_silver.h"
#include "core/cl_config.h"
#include "core/cl_error.h"
#include "core/cl_fs.h"
#include "core/cl_log.h"
#include "core/cl_map.h"
#include "core/cl_mem.h"
#include "core/cl_time.h"
#include "core/cl_worker.h"

#include <ctype.h>
#include <errno.h>
#include <glob.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define SEC 1000000ll

static int parse_trigger(struct cl_pipeline *p, const char *v)
{
	int hh, mm;
	char extra;

	if (strcmp(v, "hourly") == 0) {
		p->trigger = CL_TRIGGER_HOURLY;
		return CL_OK;
	}
	if (strcmp(v, "watch") == 0) {
		p->trigger = CL_TRIGGER_WATCH;
		return CL_OK;
	}
	if (strncmp(v, "every ", 6) == 0) {
		p->trigger = CL_TRIGGER_INTERVAL;
		if (cl_parse_duration_us(v + 6, SEC, 30ll * 86400 * SEC, &p->interval_us) != CL_OK)
			return cl_error_set(CL_EINVAL, "pipelines.%s.trigger: %s", p->name,
					    cl_error_detail());
		return CL_OK;
	}
	if (sscanf(v, "daily %d:%d%c", &hh, &mm, &extra) == 2 && hh >= 0 && hh < 24 && mm >= 0 &&
	    mm < 60) {
		p->trigger = CL_TRIGGER_DAILY;
		p->daily_minute = hh * 60 + mm;
		return CL_OK;
	}
	return cl_error_set(CL_EINVAL, "pipelines.%s.trigger must be 'every DURATION' (every 5m), "
			    "'hourly', 'daily HH:MM' (UTC) or 'watch' (got '%.40s')", p->name, v);
}

int cl_pipeline_set(struct cl_pipeline *ps, int *n, int cap, const char *key, const char *value)
{
	static const char *const fields[] = { "path", "trigger", "attempts", "backoff", "source",
					      "sheet", "mapping", NULL };
	struct cl_pipeline *p = NULL;
	const char *field;
	char name[48];
	int rc = cl_config_named_key(key, "pipelines.", fields, "pipeline", name, sizeof(name),
				     &field);

	if (rc)
		return rc;
	for (int i = 0; i < *n; i++)
		if (strcmp(ps[i].name, name) == 0)
			p = &ps[i];
	if (!p) {
		if (*n >= cap)
			return cl_error_set(CL_ERANGE, "at most %d pipelines", cap);
		p = &ps[(*n)++];
		memset(p, 0, sizeof(*p));
		snprintf(p->name, sizeof(p->name), "%s", name);
		snprintf(p->source, sizeof(p->source), "%s", name);
		p->trigger = CL_TRIGGER_INTERVAL;
		p->interval_us = 60 * SEC;
		p->attempts = 3;
		p->backoff_us = SEC;
	}
	if (strcmp(field, "path") == 0) {
		if (!*value || strlen(value) >= sizeof(p->path))
			return cl_error_set(CL_EINVAL, "pipelines.%s.path: a file, directory or glob "
					    "of at most %zu characters", name, sizeof(p->path) - 1);
		snprintf(p->path, sizeof(p->path), "%s", value);
		return CL_OK;
	}
	if (strcmp(field, "trigger") == 0)
		return parse_trigger(p, value);
	if (strcmp(field, "source") == 0) {
		if (!*value || strlen(value) >= sizeof(p->source) || strchr(value, '/') ||
		    value[0] == '.')
			return cl_error_set(CL_EINVAL, "pipelines.%s.source: a name, no '/'", name);
		snprintf(p->source, sizeof(p->source), "%s", value);
		return CL_OK;
	}
	if (strcmp(field, "sheet") == 0 || strcmp(field, "mapping") == 0) {
		char *dst = field[0] == 's' ? p->sheet : p->mapping;
		size_t room = field[0] == 's' ? sizeof(p->sheet) : sizeof(p->mapping);

		if (!*value || strlen(value) >= room)
			return cl_error_set(CL_EINVAL, "pipelines.%s.%s: a name of at most %zu characters",
					    name, field, room - 1);
		snprintf(dst, room, "%s", value);
		return CL_OK;
	}
	if (strcmp(field, "backoff") == 0)
		return cl_parse_duration_us(value, 0, 3600 * SEC, &p->backoff_us) == CL_OK
			       ? CL_OK
			       : cl_error_set(CL_EINVAL, "pipelines.%s.backoff: %s", name,
					      cl_error_detail());
	{
		char *end;
		long v = strtol(value, &end, 10);

		if (end == value || *end || v < 1 || v > 20)
			return cl_error_set(CL_EINVAL, "pipelines.%s.attempts must be 1 to 20", name);
		p->attempts = (uint32_t)v;
		return CL_OK;
	}
}

int cl_pipelines_check(const struct cl_pipeline *p, int n)
{
	for (int i = 0; i < n; i++)
		if (!p[i].path[0])
			return cl_error_set(CL_EINVAL, "pipelines.%s: a pipeline needs .path", p[i].name);
	return CL_OK;
}

void cl_pipeline_trigger_text(const struct cl_pipeline *p, char *buf, size_t cap)
{
	switch (p->trigger) {
	case CL_TRIGGER_HOURLY:
		snprintf(buf, cap, "hourly");
		break;
	case CL_TRIGGER_DAILY:
		snprintf(buf, cap, "daily %02d:%02d", p->daily_minute / 60, p->daily_minute % 60);
		break;
	case CL_TRIGGER_WATCH:
		snprintf(buf, cap, "watch");
		break;
	default:
		snprintf(buf, cap, "every %llds", (long long)(p->interval_us / SEC));
	}
}

/* ---- running ---- */

/* Moves a file that failed for good to dead-letter/<pipeline>/, with
 * the reason beside it. */
static void dead_letter(const char *data_dir, const struct cl_pipeline *p, const char *file,
			const char *reason, int attempts)
{
	char dir[PATH_MAX], to[PATH_MAX * 2], why[PATH_MAX * 2 + 16], text[1400];
	const char *base = strrchr(file, '/');

	base = base ? base + 1 : file;
	if ((size_t)snprintf(dir, sizeof(dir), "%s/dead-letter/%s", data_dir, p->name) >=
	    sizeof(dir) || cl_fs_mkdirs(dir) != CL_OK)
		return;
	snprintf(to, sizeof(to), "%s/%s", dir, base);
	/* moved in, it is the data directory's, private like the rest */
	if (rename(file, to) == 0) {
		chmod(to, 0600);
	} else {
		/* another file system: copy, then remove */
		char *data = NULL;
		size_t len = 0;

		if (cl_fs_read_file(file, (size_t)1 << 30, &data, &len) != CL_OK ||
		    cl_fs_write_atomic(to, data, len, 0600) != CL_OK || unlink(file) != 0)
			cl_log_error("pipeline", "event=dead_letter_failed pipeline=%s file=%s",
				     p->name, CL_LOG_Q(base));
		cl_free(data);
	}
	snprintf(why, sizeof(why), "%s.reason", to);
	snprintf(text, sizeof(text), "pipeline: %s\nfile: %s\nattempts: %d\nreason: %s\n", p->name,
		 file, attempts, reason);
	cl_fs_write_atomic(why, text, strlen(text), 0600);
}

/* What stat says of a file: changed content changes it (a rewrite moves
 * the times, a replacement the inode). */
struct file_sig {
	dev_t dev;
	ino_t ino;
	off_t size;
	struct timespec mtime, ctime;
};

static struct file_sig sig_of(const struct stat *st)
{
	struct file_sig f;

	memset(&f, 0, sizeof(f));
	f.dev = st->st_dev;
	f.ino = st->st_ino;
	f.size = st->st_size;
	f.mtime = st->st_mtim;
	f.ctime = st->st_ctim;
	return f;
}

static int sig_same(const struct file_sig *a, const struct file_sig *b)
{
	return a->dev == b->dev && a->ino == b->ino && a->size == b->size &&
	       a->mtime.tv_sec == b->mtime.tv_sec && a->mtime.tv_nsec == b->mtime.tv_nsec &&
	       a->ctime.tv_sec == b->ctime.tv_sec && a->ctime.tv_nsec == b->ctime.tv_nsec;
}

/*
 * Files that stopped the process. Before a file is loaded, a note
 * <data>/dead-letter/<pipeline>/.loading-<name> says which file and how
 * many loads of it have begun without ending; the note goes when the load
 * ends, whatever its outcome. A note found when the file is loaded again
 * means the process stopped during the load before (killed, or a crash on
 * that file): the count goes on, and once `attempts` loads have stopped
 * so, the file goes to the dead letters instead of being loaded again, so
 * that a file carelake cannot survive does not stop serve at every start.
 */
static void loading_note_path(char *out, size_t cap, const char *data_dir,
			      const struct cl_pipeline *p, const char *file)
{
	const char *base = strrchr(file, '/');

	snprintf(out, cap, "%s/dead-letter/%s/.loading-%s", data_dir, p->name,
		 base ? base + 1 : file);
}

/* Loads of file begun and never ended, as its note says (0: none, or a
 * note of another file of the same name). */
static int loads_stopped(const char *note, const char *file)
{
	char *text = NULL, *nl;
	size_t len = 0;
	long n = 0;

	if (cl_fs_read_file(note, 1 << 16, &text, &len) != CL_OK)
		return 0;
	nl = memchr(text, '\n', len);
	if (nl && (size_t)(nl - text) == strlen(file) && memcmp(text, file, strlen(file)) == 0) {
		char *end;

		n = strtol(nl + 1, &end, 10);
		if (end == nl + 1 || n < 0 || n > 1000)
			n = 0;
	}
	cl_free(text);
	return (int)n;
}

/* Writes the note: n loads of file begun (durably, before the load). */
static int loading_note(const char *data_dir, const struct cl_pipeline *p, const char *note,
			const char *file, int n)
{
	char dir[PATH_MAX], text[PATH_MAX + 32];
	int rc;

	snprintf(dir, sizeof(dir), "%s/dead-letter/%s", data_dir, p->name);
	rc = cl_fs_mkdirs(dir);
	if (rc == CL_OK) {
		snprintf(text, sizeof(text), "%s\n%d\n", file, n);
		rc = cl_fs_write_atomic(note, text, strlen(text), 0640);
	}
	return rc;
}

/* Loads one file, retrying; *loaded gets the file's signature as it was
 * just before the attempt that read it (a change during the read then
 * shows as a change at the next look: loaded again, never missed). */
static int load_attempts(struct cl_batch *b, const char *data_dir, const struct cl_pipeline *p,
			 const char *file, const char *trigger, struct file_sig *loaded,
			 cl_pipeline_failed_fn on_failed, void *arg, int (*stopping)(void *),
			 void *stop_arg)
{
	int64_t wait = p->backoff_us, queued = cl_batch_queue(b, p->name, trigger);
	char reason[512] = "";

	cl_batch_set_sheet(b, p->sheet);
	cl_batch_set_mapping(b, p->mapping);
	for (uint32_t attempt = 1; attempt <= p->attempts; attempt++) {
		struct cl_batch_run run = { p->name, trigger, (int)attempt, queued,
					    attempt < p->attempts };
		struct cl_batch_summary sum;
		char *paths[1] = { (char *)file };
		struct stat st;

		if (stat(file, &st) == 0)
			*loaded = sig_of(&st);
		if (cl_batch_ingest(b, p->source, paths, 1, &run, NULL, NULL, &sum) == CL_OK)
			return CL_OK;
		snprintf(reason, sizeof(reason), "%s", sum.error[0] ? sum.error : cl_error_detail());
		cl_log_warn("pipeline", "event=attempt_failed pipeline=%s attempt=%u of=%u "
			    "detail=%s", p->name, attempt, p->attempts, CL_LOG_Q(reason));
		if (attempt == p->attempts)
			break;
		for (int64_t slept = 0; slept < wait; slept += 50000) {
			if (stopping && stopping(stop_arg))
				return CL_ECLOSED; /* the next start tries again */
			usleep(50000);
		}
		wait *= 2;
	}
	dead_letter(data_dir, p, file, reason, (int)p->attempts);
	if (on_failed)
		on_failed(arg, p->name, file, reason);
	return cl_error_set(CL_EIO, "%s", reason);
}

/* load_attempts, within the note of a load begun (above). */
static int load_file(struct cl_batch *b, const char *data_dir, const struct cl_pipeline *p,
		     const char *file, const char *trigger, struct file_sig *loaded,
		     cl_pipeline_failed_fn on_failed, void *arg, int (*stopping)(void *),
		     void *stop_arg)
{
	char note[PATH_MAX * 2 + 64];
	int stopped, rc;

	loading_note_path(note, sizeof(note), data_dir, p, file);
	stopped = loads_stopped(note, file);
	if (stopped >= (int)p->attempts) {
		char reason[300];

		snprintf(reason, sizeof(reason), "carelake stopped during each of the last %d loads "
			 "of this file (killed, or a crash on it): set aside so that it cannot stop "
			 "carelake again; the log says more", stopped);
		cl_log_error("pipeline", "event=file_stopped_carelake pipeline=%s loads=%d", p->name,
			     stopped);
		unlink(note);
		dead_letter(data_dir, p, file, reason, stopped);
		if (on_failed)
			on_failed(arg, p->name, file, reason);
		return cl_error_set(CL_EIO, "%s", reason);
	}
	if (loading_note(data_dir, p, note, file, stopped + 1) != CL_OK)
		cl_log_warn("pipeline", "event=loading_note_failed pipeline=%s detail=\"%s\"",
			    p->name, cl_error_detail());
	rc = load_attempts(b, data_dir, p, file, trigger, loaded, on_failed, arg, stopping,
			   stop_arg);
	unlink(note);
	return rc;
}

/* Keeps sig (from cl_malloc; the map owns it, or it is freed) as what
 * path was when loaded. */
static void remember(struct cl_map *loaded, const char *path, struct file_sig *sig)
{
	void **slot = cl_map_slot(loaded, path, strlen(path), 1);

	if (slot)
		*slot = sig;
	else
		cl_free(sig);
}

/*
 * One look at a pipeline's files. `seen` (watch pipelines; NULL for the
 * others) maps each file loaded by an earlier look to its stat signature:
 * a file unchanged since is passed over, with no run, so files left in a
 * watched folder do not make a run every second. The map is replaced by
 * the files of this look that are loaded, so files gone are forgotten.
 */
static int run_pipeline(struct cl_batch *b, const char *data_dir, const struct cl_pipeline *p,
			const char *trigger, struct cl_map **seen, cl_pipeline_failed_fn on_failed,
			void *arg, int (*stopping)(void *), void *stop_arg)
{
	glob_t g;
	char pattern[sizeof(p->path) + 4];
	struct cl_map *now = NULL;
	int rc = CL_OK;

	/* a directory stands for the files in it */
	snprintf(pattern, sizeof(pattern), "%s%s", p->path, cl_fs_is_dir(p->path) ? "/*" : "");
	memset(&g, 0, sizeof(g));
	if (glob(pattern, 0, NULL, &g) != 0) {
		globfree(&g);
		return CL_OK; /* nothing there yet */
	}
	if (seen && cl_map_create(&now) != CL_OK)
		now = NULL; /* no memory: this look loads every file, as correct */
	for (size_t i = 0; i < g.gl_pathc && !(stopping && stopping(stop_arg)); i++) {
		const char *path = g.gl_pathv[i];
		struct file_sig sig, *was = NULL, *keep;
		struct stat st;
		int frc;

		if (stat(path, &st) != 0 || !S_ISREG(st.st_mode))
			continue;
		sig = sig_of(&st);
		if (now && *seen) {
			void **slot = cl_map_slot(*seen, path, strlen(path), 0);

			was = slot ? *slot : NULL;
		}
		if (was && sig_same(was, &sig)) {
			cl_map_remove(*seen, path, strlen(path));
			remember(now, path, was);
			continue;
		}
		frc = load_file(b, data_dir, p, path, trigger, &sig, on_failed, arg, stopping,
				stop_arg);
		if (frc == CL_OK && now && (keep = cl_malloc(sizeof(*keep)))) {
			*keep = sig;
			remember(now, path, keep);
		}
		if (frc && !rc)
			rc = frc;
	}
	globfree(&g);
	if (now) {
		cl_map_destroy(*seen, cl_free);
		*seen = now;
	}
	return rc;
}

struct cl_pipeline_runner {
	char data_dir[PATH_MAX];
	struct cl_config cfg;            /* expectations, references, lake: its own copy */
	struct cl_pipeline p[CL_PIPELINES_MAX];
	int64_t next_us[CL_PIPELINES_MAX];
	struct cl_map *seen[CL_PIPELINES_MAX]; /* watch pipelines: files loaded */
	int n;
	cl_pipeline_failed_fn on_failed;
	void *arg;
	struct cl_worker *worker;
};

/* Whether the runner's worker (arg) is asked to stop: a load checks it
 * between files. */
static int runner_stopping(void *arg)
{
	return cl_worker_stopping(arg);
}

/* When the pipeline is next due, after `now`. */
static int64_t next_due(const struct cl_pipeline *p, int64_t now)
{
	int64_t day = 86400 * SEC, t;

	switch (p->trigger) {
	case CL_TRIGGER_HOURLY:
		return (now / (3600 * SEC) + 1) * 3600 * SEC;
	case CL_TRIGGER_DAILY:
		t = (now / day) * day + (int64_t)p->daily_minute * 60 * SEC;
		return t > now ? t : t + day;
	case CL_TRIGGER_WATCH:
		return now + SEC; /* look for new files every second */
	default:
		return now + p->interval_us;
	}
}

/* The first time each pipeline is due: interval and watch pipelines look
 * at once; the others at their time. */
static void first_due(struct cl_pipeline_runner *r)
{
	int64_t now = cl_time_now_us();

	for (int i = 0; i < r->n; i++)
		r->next_us[i] = r->p[i].trigger == CL_TRIGGER_INTERVAL ||
					r->p[i].trigger == CL_TRIGGER_WATCH
				? now
				: next_due(&r->p[i], now);
}

/* Runs every pipeline that is due; *b is the batch connection, opened on
 * first use and kept. */
static void run_due(struct cl_pipeline_runner *r, struct cl_worker *w, struct cl_batch **b)
{
	int64_t now = cl_time_now_us();

	for (int i = 0; i < r->n && !cl_worker_stopping(w); i++) {
		char trigger[32];

		if (now < r->next_us[i])
			continue;
		r->next_us[i] = next_due(&r->p[i], now);
		if (!*b && (cl_batch_open(r->data_dir, b) != CL_OK ||
			    cl_batch_configure(*b, &r->cfg,
					       cl_lake_settings(&r->cfg)->interval_us) != CL_OK)) {
			cl_batch_close(*b);
			cl_log_error("pipeline", "event=cannot_open detail=%s",
				     CL_LOG_Q(cl_error_detail()));
			*b = NULL;
			continue;
		}
		cl_pipeline_trigger_text(&r->p[i], trigger, sizeof(trigger));
		run_pipeline(*b, r->data_dir, &r->p[i], trigger,
			     r->p[i].trigger == CL_TRIGGER_WATCH ? &r->seen[i] : NULL,
			     r->on_failed, r->arg, runner_stopping, w);
	}
}

/* The cl-pipelines worker: looks for due pipelines four times a second. */
static void runner_main(struct cl_worker *w, void *arg)
{
	struct cl_pipeline_runner *r = arg;
	struct cl_batch *b = NULL;

	first_due(r);
	do
		run_due(r, w, &b);
	while (!cl_worker_wait(w, 250000));
	cl_batch_close(b);
}

int cl_pipeline_runner_start(const char *data_dir, const struct cl_config *cfg,
			     cl_pipeline_failed_fn on_failed, void *arg,
			     struct cl_pipeline_runner **out)
{
	struct cl_pipeline_runner *r;
	int rc;

	*out = NULL;
	r = cl_calloc(1, sizeof(*r));
	if (!r)
		return cl_error_set(CL_ENOMEM, "no memory for pipelines");
	rc = cl_config_list(cfg, &cl_pipelines_section, r->p, &r->n, 1);
	if (rc == CL_OK && r->n == 0) {
		cl_free(r);  /* nothing to run */
		return CL_OK;
	}
	if (rc == CL_OK)
		rc = cl_config_copy(&r->cfg, cfg);
	if (rc) {
		cl_free(r);
		return rc;
	}
	snprintf(r->data_dir, sizeof(r->data_dir), "%s", data_dir);
	r->on_failed = on_failed;
	r->arg = arg;
	rc = cl_worker_start("cl-pipelines", runner_main, r, &r->worker);
	if (rc) {
		cl_config_free(&r->cfg);
		cl_free(r);
		return rc;
	}
	*out = r;
	return CL_OK;
}

void cl_pipeline_runner_stop(struct cl_pipeline_runner *r)
{
	if (!r)
		return;
	cl_worker_stop(r->worker);
	for (int i = 0; i < r->n; i++)
		cl_map_destroy(r->seen[i], cl_free);
	cl_config_free(&r->cfg);
	cl_free(r);
}

/* The pipelines.* list section's functions. */
static int pipelines_set(void *items, int *n, int max, const char *key, const char *value)
{
	return cl_pipeline_set(items, n, max, key, value);
}

static int pipelines_check(void *items, int n)
{
	return cl_pipelines_check(items, n);
}

static void pipelines_print(FILE *out, const void *items, int n, int help)
{
	const struct cl_pipeline *p = items;

	for (int i = 0; i < n; i++) {
		char trig[32];

		cl_pipeline_trigger_text(&p[i], trig, sizeof(trig));
		fprintf(out, "pipelines.%s = %s, %s, source %s, %u attempts, backoff %llds\n",
			p[i].name, p[i].path, trig, p[i].source, p[i].attempts,
			(long long)(p[i].backoff_us / 1000000));
	}
	if (help)
		fprintf(out, "    declare a pipeline with pipelines.<name>.path (a file, directory "
			"or glob),\n    .trigger (every DURATION, hourly, daily HH:MM, watch), "
			".attempts, .backoff, .source\n");
}

static const struct cl_config_list pipelines_list = {
	.forms = "pipelines.<name>.path|trigger|attempts|backoff|source",
	.item_size = sizeof(struct cl_pipeline),
	.max = CL_PIPELINES_MAX,
	.set = pipelines_set,
	.check = pipelines_check,
	.print = pipelines_print,
};

const struct cl_config_section cl_pipelines_section = {
	.name = "pipelines",
	.list = &pipelines_list,
};
