/*
 * carelake: one binary, many commands. Dispatches to src/cli/cl_cmd_*.c.
 */
#include "cli/cl_cli.h"

#include <stdio.h>
#include <string.h>

static void usage(FILE *out)
{
	fprintf(out,
		"carelake %s - a healthcare data lakehouse\n\n"
		"usage: carelake <command> [options]\n\n"
		"commands:\n", CARELAKE_VERSION);
	for (const struct cl_command *c = cl_commands; c->name; c++)
		fprintf(out, "  %-10s %s\n", c->name, c->summary);
	fprintf(out,
		"\n`carelake <command> --help` describes a command.\n"
		"Every command takes --data DIR (default $CARELAKE_DATA, else ./carelake-data).\n");
}

int main(int argc, char **argv)
{
	if (argc < 2) {
		usage(stderr);
		return 2;
	}
	if (strcmp(argv[1], "--version") == 0 || strcmp(argv[1], "version") == 0) {
		printf("carelake %s\n", CARELAKE_VERSION);
		return 0;
	}
	if (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0) {
		usage(stdout);
		return 0;
	}
	if (strcmp(argv[1], "help") == 0) {
		if (argc < 3) {
			usage(stdout);
			return 0;
		}
		for (const struct cl_command *c = cl_commands; c->name; c++)
			if (strcmp(c->name, argv[2]) == 0)
				return cl_cli_help(c->usage, c->opts);
		fprintf(stderr, "carelake: no command '%s' (see carelake --help)\n", argv[2]);
		return 2;
	}
	for (const struct cl_command *c = cl_commands; c->name; c++)
		if (strcmp(c->name, argv[1]) == 0) {
			int rc = c->run(argc - 1, argv + 1);

			cl_cli_finish();
			return rc;
		}
	fprintf(stderr, "carelake: no command '%s' (see carelake --help)\n", argv[1]);
	return 2;
}
