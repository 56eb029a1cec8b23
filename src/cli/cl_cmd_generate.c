/*
 * `carelake generate`: a synthetic hospital in every batch format.
 */
#include "cl_cli.h"
#include "batch/cl_generate.h"
#include "core/cl_error.h"

#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>

const char cl_cmd_generate_usage[] =
	"usage: carelake generate --out DIR [--patients N] [--seed K]\n\n"
	"Writes a synthetic hospital — the patients the streaming simulator uses\n"
	"(patient-0001, monitor-0001, ...) — in every batch format carelake reads:\n"
	"  fhir/patients.ndjson  Patients, Practitioners, Encounters (visits,\n"
	"                        admissions to the wards, 30-day readmissions)\n"
	"  staff.csv, shifts.csv, bookings.csv, communications.csv, surveys.csv,\n"
	"  devices.csv           carelake's own CSV files\n"
	"  patients.xlsx         the patient register as a spreadsheet\n"
	"The same seed gives the same hospital (times count back from today).\n"
	"Load it with: carelake ingest DIR\n\n"
	"options:\n"
	"  --out DIR         where to write (created)\n"
	"  --patients N      patients (default 100, at most 100000)\n"
	"  --seed K          the random seed (default 1)\n"
	CL_CLI_COMMON_HELP;

int cl_cmd_generate(int argc, char **argv)
{
	static const struct option opts[] = {
		CL_CLI_COMMON_OPTIONS,
		{ "out", required_argument, NULL, 'o' },
		{ "patients", required_argument, NULL, 'p' },
		{ "seed", required_argument, NULL, 's' },
		{ NULL, 0, NULL, 0 },
	};
	struct cl_generate_counts c;
	const char *out = NULL;
	struct cl_cli cli;
	long patients = 100;
	unsigned long long seed = 1;
	int opt, rc;
	char *end;

	cl_cli_init(&cli, "generate");
	optind = 1;
	while ((opt = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		if (opt == CL_OPT_HELP)
			return cl_cli_help(cl_cmd_generate_usage);
		rc = cl_cli_common_option(&cli, opt, optarg);
		if (rc < 0)
			return CL_EXIT_USAGE;
		if (rc > 0)
			continue;
		switch (opt) {
		case 'o':
			out = optarg;
			break;
		case 'p':
			patients = strtol(optarg, &end, 10);
			if (*end || patients < 1 || patients > 100000)
				return cl_cli_error(&cli, "--patients must be 1 to 100000");
			break;
		case 's':
			seed = strtoull(optarg, &end, 10);
			if (*end || !*optarg)
				return cl_cli_error(&cli, "--seed must be a whole number");
			break;
		default:
			return cl_cli_error(&cli, "unknown option (see carelake generate --help)");
		}
	}
	if (!out || !*out)
		return cl_cli_error(&cli, "--out DIR is required");
	if (optind < argc)
		return cl_cli_error(&cli, "unexpected argument '%s'", argv[optind]);
	rc = cl_generate(out, (int)patients, seed, &c);
	if (rc)
		return cl_cli_error(&cli, "%s", cl_error_detail());
	printf("wrote %s: %ld patients, %ld practitioners, %ld encounters (%ld admissions, %ld "
	       "readmissions), %ld staff, %ld shifts, %ld bookings, %ld communications, %ld survey "
	       "answers, %ld devices, patients.xlsx\n", out, c.patients, c.practitioners,
	       c.encounters, c.admissions, c.readmissions, c.staff, c.shifts, c.bookings,
	       c.communications, c.surveys, c.devices);
	return CL_EXIT_OK;
}
