/*
 * `carelake config`: prints the effective settings (defaults, then the
 * --config file, then --set), or with --reference every setting with its
 * type, bounds, default and meaning. Generated from the config table, so it
 * is always complete.
 */
#include "cl_cli.h"
#include "core/cl_error.h"
#include "stream/cl_rules.h"
#include "batch/cl_pipeline.h"
#include "ingest/cl_input.h"

#include <stdio.h>

const char cl_cmd_config_usage[] =
	"usage: carelake config [--config FILE] [--set KEY=VALUE]... [--reference]\n\n"
	"Prints the effective settings as KEY = VALUE lines. A settings file is\n"
	"YAML, nested or with dotted keys, e.g.\n\n"
	"  log:\n"
	"    level: info\n"
	"  bronze:\n"
	"    commit_max_records: 4096\n"
	"    commit_max_wait: 2ms\n\n"
	"Sizes take B, KiB, MiB, GiB; durations us, ms, s, m, h, d. Unknown keys\n"
	"and out-of-range values are errors that name the key and its bounds.\n\n";

/* What config's options set. */
struct config_args {
	int reference;
};

const struct cl_opt cl_cmd_config_opts[] = {
	CL_OPT_FLAG("reference", struct config_args, reference,
		    "every setting with its type, bounds, default and meaning,\n"
		    "and the settings of each input plugin"),
	CL_OPT_END,
};

int cl_cmd_config(int argc, char **argv)
{
	struct config_args a = { 0 };
	struct cl_cli cli;
	int reference, nargs, rc;

	cl_cli_init(&cli, "config");
	rc = cl_cli_parse(&cli, cl_cmd_config_opts, &a, cl_cmd_config_usage, argc, argv, &nargs);
	if (rc >= 0)
		return rc;
	reference = a.reference;
	if (nargs)
		return cl_cli_error(&cli, "unexpected argument '%s'", argv[0]);
	{
		struct cl_rule rules[CL_RULES_MAX];
		struct cl_pipeline p[CL_PIPELINES_MAX];
		int n;

		if (cl_config_list(cli.cfg, &cl_rules_section, rules, &n, 1) != CL_OK ||
		    cl_config_list(cli.cfg, &cl_pipelines_section, p, &n, 1) != CL_OK)
			return cl_cli_error(&cli, "%s", cl_error_detail());
	}
	cl_config_print(stdout, cli.cfg, reference);
	if (reference) {
		printf("\n# the inputs; ingest.inputs names those serve starts\n");
		for (size_t i = 0; cl_input_plugins[i]; i++) {
			const struct cl_input_plugin *p = cl_input_plugins[i];

			printf("input plugin '%s': %s\n    bronze source '%s'%s%s%s\n", p->name,
			       p->description, cl_input_kind_source(p->kind),
			       p->settings ? ", settings " : "", p->settings ? p->settings->name : "",
			       p->settings ? ".*" : "");
		}
	}
	return CL_EXIT_OK;
}
