/*
 * `carelake model`: the 30-day readmission models (ml/cl_readmission.h):
 * train one on the lake's feature table, list the registry's versions,
 * show one, promote one, score with one; and the treatment insights
 * adjusted for the promoted one's risk (ml/cl_readm_insights.h).
 */
#include "cl_cli.h"
#include "core/cl_error.h"
#include "lake/cl_lake.h"
#include "ml/cl_readm_insights.h"
#include "ml/cl_readm_score.h"
#include "ml/cl_readmission.h"

#include <errno.h>
#include <jansson.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

const char cl_cmd_model_usage[] =
	"usage: carelake model train readmission [--split time|patient] [--seed K]\n"
	"                                        [--format text|json] [--predictions FILE]\n"
	"                                        [--data DIR]\n"
	"       carelake model list [--format text|json]\n"
	"       carelake model show V\n"
	"       carelake model promote V\n"
	"       carelake model score readmission [--stays index|current|all] [--model V]\n"
	"                                        [--explain] [--out FILE]\n"
	"       carelake model insights readmission [--format text|json]\n\n"
	"Predicts unplanned readmission within 30 days of a discharge from what is\n"
	"known at the discharge, on gold_readmission_features (docs/ml.md): an\n"
	"L2-regularised logistic regression and gradient-boosted trees (XGBoost),\n"
	"split by time (the latest discharges held out; default) or by patient,\n"
	"never by row, and reported on the held-out part beside the LACE index\n"
	"and the HOSPITAL score of the same stays: AUROC with its DeLong 95%\n"
	"interval, AUPRC, Brier score, calibration slope and intercept, a\n"
	"reliability table, by sex and age band. Every training is a version in\n"
	"the registry (DATA/models/readmission/vN: model.json, xgboost.json and\n"
	"the model card card.md); promote one to use it: it then scores every stay\n"
	"in hospital and every discharge of the last 30 days into\n"
	"gold_readmission_risk at each refresh. score writes a version's risk of\n"
	"the stays named as CSV. The same data and seed give the same model.\n"
	"insights compares the readmission of stays with and without each treatment\n"
	"(medication classes, procedures, a follow-up within 7 days), adjusted for\n"
	"the promoted model's risk: associations in this hospital's data, not\n"
	"causal effects.\n\n";

/* What model's options set. */
struct model_args {
	const char *split, *format, *predictions, *stays, *model, *out;
	uint64_t seed;
	int explain;
};

const struct cl_opt cl_cmd_model_opts[] = {
	CL_OPT_STRING("split", struct model_args, split, "S",
		      "train: time (the latest discharges held out) or patient"),
	CL_OPT_UINT("seed", struct model_args, seed, 0, UINT64_MAX - 1, "K",
		    "train: the same seed gives the same model (default 1)"),
	CL_OPT_STRING("format", struct model_args, format, "F", "text (default) or json"),
	CL_OPT_STRING("predictions", struct model_args, predictions, "FILE",
		      "train: also write the test stays' predictions as CSV"),
	CL_OPT_STRING("stays", struct model_args, stays, "S",
		      "score: index (the labelled cohort), current (in hospital or discharged "
		      "in the last 30 days; default) or all"),
	CL_OPT_STRING("model", struct model_args, model, "V",
		      "score: the version to score with (default: the promoted one)"),
	CL_OPT_FLAG("explain", struct model_args, explain,
		    "score: also each stay's top contributing features"),
	CL_OPT_STRING("out", struct model_args, out, "FILE", "score: write the CSV there"),
	CL_OPT_END,
};

/* A version argument: "3" or "v3". */
static int version_arg(const char *s)
{
	char *end;
	long v;

	if (*s == 'v')
		s++;
	v = strtol(s, &end, 10);
	return end != s && !*end && v > 0 && v < 100000 ? (int)v : -1;
}

int cl_cmd_model(int argc, char **argv)
{
	struct model_args a = { .seed = 1 };
	struct cl_cli cli;
	int nargs, rc, json;

	cl_cli_init(&cli, "model");
	rc = cl_cli_parse(&cli, cl_cmd_model_opts, &a, cl_cmd_model_usage, argc, argv, &nargs);
	if (rc >= 0)
		return rc;
	if (a.format && strcmp(a.format, "text") && strcmp(a.format, "json"))
		return cl_cli_error(&cli, "--format must be text or json");
	json = a.format && strcmp(a.format, "json") == 0;
	if (nargs < 1)
		return cl_cli_error(&cli, "say what to do: train readmission, list, show V or "
				    "promote V");
	if (strcmp(argv[0], "train") == 0) {
		struct cl_readm_options o;
		json_t *r;

		if (nargs != 2 || strcmp(argv[1], "readmission") != 0)
			return cl_cli_error(&cli, "train what? the one model is 'readmission'");
		cl_readm_options_default(&o);
		o.seed = a.seed;
		o.predictions = a.predictions;
		if (a.split && strcmp(a.split, "time") && strcmp(a.split, "patient"))
			return cl_cli_error(&cli, "--split must be time or patient (never by row)");
		if (a.split && strcmp(a.split, "patient") == 0)
			o.split = CL_READM_SPLIT_PATIENT;
		char root[PATH_MAX];
		cl_lake_root(cli.cfg, cli.data_dir, root, sizeof(root));
		o.lake_root = root;
		if (cl_readm_train(cli.data_dir, &o, &r) != CL_OK)
			return cl_cli_error(&cli, "%s", cl_error_detail());
		if (json) {
			json_dumpf(r, stdout, JSON_INDENT(2) | JSON_SORT_KEYS);
			putchar('\n');
		} else {
			cl_readm_print(r, stdout);
			printf("registered as v%lld: %s/models/readmission/v%lld/ (model card: card.md)\n",
			       (long long)json_integer_value(json_object_get(r, "version")), cli.data_dir,
			       (long long)json_integer_value(json_object_get(r, "version")));
		}
		json_decref(r);
		return CL_EXIT_OK;
	}
	if (strcmp(argv[0], "score") == 0) {
		int v = a.model ? version_arg(a.model) : 0;
		FILE *out = stdout;
		double secs;
		long n;

		if (nargs != 2 || strcmp(argv[1], "readmission") != 0)
			return cl_cli_error(&cli, "score with what? the one model is 'readmission'");
		if (v < 0)
			return cl_cli_error(&cli, "--model needs a version, such as v1");
		if (a.out && !(out = fopen(a.out, "w")))
			return cl_cli_error(&cli, "cannot write %s: %s", a.out, strerror(errno));
		rc = cl_readm_score_csv(cli.data_dir, v, a.stays ? a.stays : "current", a.explain, out,
					&n, &secs);
		if (a.out && fclose(out) != 0 && rc == CL_OK)
			rc = cl_error_set(CL_EIO, "cannot write %s: %s", a.out, strerror(errno));
		if (rc != CL_OK)
			return cl_cli_error(&cli, "%s", cl_error_detail());
		fprintf(stderr, "scored %ld stays in %.3f s (%.0f stays/s)\n", n, secs,
			secs > 0 ? (double)n / secs : 0);
		return CL_EXIT_OK;
	}
	if (strcmp(argv[0], "insights") == 0) {
		json_t *r;

		if (nargs != 2 || strcmp(argv[1], "readmission") != 0)
			return cl_cli_error(&cli, "insights into what? the one model is 'readmission'");
		if (cl_readm_insights(cli.data_dir, &r) != CL_OK)
			return cl_cli_error(&cli, "%s", cl_error_detail());
		if (json) {
			json_dumpf(r, stdout, JSON_INDENT(2));
			putchar('\n');
		} else {
			cl_readm_insights_print(r, stdout);
		}
		json_decref(r);
		return CL_EXIT_OK;
	}
	if (strcmp(argv[0], "list") == 0) {
		json_t *l, *v;
		size_t i;

		if (nargs != 1)
			return cl_cli_error(&cli, "list takes no argument");
		cl_readm_list(cli.data_dir, &l);
		if (json) {
			json_dumpf(l, stdout, JSON_INDENT(2));
			putchar('\n');
		} else {
			if (!json_array_size(l))
				printf("no readmission models yet: carelake model train readmission\n");
			json_array_foreach(l, i, v)
				printf("v%-4lld %s  split %-7s seed %-4lld AUROC logistic %.3f, xgboost "
				       "%.3f; serves %s%s\n",
				       (long long)json_integer_value(json_object_get(v, "version")),
				       json_string_value(json_object_get(v, "trained")),
				       json_string_value(json_object_get(v, "split")),
				       (long long)json_integer_value(json_object_get(v, "seed")),
				       json_number_value(json_object_get(v, "auroc_logistic")),
				       json_number_value(json_object_get(v, "auroc_xgboost")),
				       json_string_value(json_object_get(v, "serving"))
					       ? json_string_value(json_object_get(v, "serving"))
					       : "nothing (train again)",
				       json_is_true(json_object_get(v, "promoted")) ? "  (promoted)" : "");
		}
		json_decref(l);
		return CL_EXIT_OK;
	}
	if (strcmp(argv[0], "show") == 0 || strcmp(argv[0], "promote") == 0) {
		int v = nargs == 2 ? version_arg(argv[1]) : -1;
		json_t *m;

		if (v < 0)
			return cl_cli_error(&cli, "%s needs a version, such as v1", argv[0]);
		if (argv[0][0] == 'p') {
			long scored;

			if (cl_readm_promote(cli.data_dir, v) != CL_OK)
				return cl_cli_error(&cli, "%s", cl_error_detail());
			printf("readmission model v%d promoted\n", v);
			/* it serves at once: the stays in hospital and the recent
			 * discharges scored now, not at the next refresh */
			rc = cl_readm_risk_store(cli.data_dir, &scored);
			if (rc == CL_ENOENT)
				printf("nothing to score yet (%s)\n", cl_error_detail());
			else if (rc != CL_OK)
				return cl_cli_error(&cli, "scoring: %s", cl_error_detail());
			else
				printf("scored %ld stays in hospital or discharged in the last 30 days "
				       "(gold_readmission_risk)\n", scored);
			return CL_EXIT_OK;
		}
		if (cl_readm_show(cli.data_dir, v, &m) != CL_OK)
			return cl_cli_error(&cli, "%s", cl_error_detail());
		if (json) {
			json_dumpf(m, stdout, JSON_INDENT(2) | JSON_SORT_KEYS);
			putchar('\n');
		} else {
			cl_readm_print(m, stdout);
		}
		json_decref(m);
		return CL_EXIT_OK;
	}
	return cl_cli_error(&cli, "unknown action '%s' (train readmission, list, show V, promote V, "
			    "score readmission, insights readmission)",
			    argv[0]);
}
