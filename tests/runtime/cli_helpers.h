/*
 * Running the carelake binary from a test: its exit status, stdout and
 * stderr. The test defines `bin` (the binary) and `dir` (a scratch
 * directory) before including this.
 */
#ifndef CL_CLI_HELPERS_H
#define CL_CLI_HELPERS_H

#include <fcntl.h>
#include <spawn.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/wait.h>

extern char **environ;

struct result {
	int status;
	char *out;
	char *err;
};

static inline char *slurp(const char *path)
{
	FILE *f = fopen(path, "rb");
	char *buf;
	long n;

	assert_non_null(f);
	fseek(f, 0, SEEK_END);
	n = ftell(f);
	fseek(f, 0, SEEK_SET);
	buf = malloc((size_t)n + 1);
	assert_int_equal(fread(buf, 1, (size_t)n, f), (size_t)n);
	buf[n] = '\0';
	fclose(f);
	return buf;
}

/* Runs bin with args (NULL-terminated), stdin from `in` (or /dev/null). */
/* Runs bin with args[] (NULL-terminated, without the binary's name),
 * stdin from `in` (or /dev/null). */
static inline struct result run_argv(const char *in, const char *const *argv)
{
	posix_spawn_file_actions_t fa;
	char out_path[300], err_path[300];
	const char *args[64];
	struct result r;
	pid_t pid;
	int n = 0;

	args[n++] = bin;
	while (n < 63 && argv[n - 1])
		args[n] = argv[n - 1], n++;
	args[n] = NULL;
	snprintf(out_path, sizeof(out_path), "%s/.out", dir);
	snprintf(err_path, sizeof(err_path), "%s/.err", dir);
	posix_spawn_file_actions_init(&fa);
	posix_spawn_file_actions_addopen(&fa, 0, in ? in : "/dev/null", O_RDONLY, 0);
	posix_spawn_file_actions_addopen(&fa, 1, out_path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
	posix_spawn_file_actions_addopen(&fa, 2, err_path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
	assert_int_equal(posix_spawn(&pid, bin, &fa, NULL, (char **)args, environ), 0);
	posix_spawn_file_actions_destroy(&fa);
	assert_int_equal(waitpid(pid, &r.status, 0), pid);
	assert_true(WIFEXITED(r.status));
	r.status = WEXITSTATUS(r.status);
	r.out = slurp(out_path);
	r.err = slurp(err_path);
	return r;
}

/* Runs bin with the arguments that follow (NULL-terminated). */
static inline struct result run(const char *in, ...)
{
	const char *args[32];
	va_list ap;
	int n = 0;

	va_start(ap, in);
	while (n < 31 && (args[n] = va_arg(ap, const char *)) != NULL)
		n++;
	va_end(ap);
	args[n] = NULL;
	return run_argv(in, args);
}

static inline void done(struct result *r)
{
	free(r->out);
	free(r->err);
}

#endif
