/*
 * `carelake generate`: a synthetic hospital in every batch format.
 */
#include "cl_cli.h"
#include "batch/cl_generate.h"
#include "core/cl_error.h"

#include <stdio.h>
#include <stdint.h>
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
	"Load it with: carelake ingest DIR\n\n";

/* What generate's options set. */
struct generate_args {
	const char *out;
	uint64_t patients, seed;
};

const struct cl_opt cl_cmd_generate_opts[] = {
	CL_OPT_STRING("out", struct generate_args, out, "DIR", "where to write (created)"),
	CL_OPT_UINT("patients", struct generate_args, patients, 1, 100000, "N",
		    "patients (default 100, at most 100000)"),
	CL_OPT_UINT("seed", struct generate_args, seed, 0, UINT64_MAX, "K",
		    "the random seed (default 1)"),
	CL_OPT_END,
};

int cl_cmd_generate(int argc, char **argv)
{
	struct generate_args a = { .patients = 100, .seed = 1 };
	struct cl_generate_counts c;
	const char *out;
	struct cl_cli cli;
	int nargs, rc;

	cl_cli_init(&cli, "generate");
	rc = cl_cli_parse(&cli, cl_cmd_generate_opts, &a, cl_cmd_generate_usage, argc, argv,
			  &nargs);
	if (rc >= 0)
		return rc;
	out = a.out;
	if (!out || !*out)
		return cl_cli_error(&cli, "--out DIR is required");
	if (nargs)
		return cl_cli_error(&cli, "unexpected argument '%s'", argv[0]);
	rc = cl_generate(out, (int)a.patients, a.seed, &c);
	if (rc)
		return cl_cli_error(&cli, "%s", cl_error_detail());
	printf("wrote %s: %ld patients, %ld practitioners, %ld encounters (%ld admissions, %ld "
	       "readmissions), %ld staff, %ld shifts, %ld bookings, %ld communications, %ld survey "
	       "answers, %ld devices, patients.xlsx\n", out, c.patients, c.practitioners,
	       c.encounters, c.admissions, c.readmissions, c.staff, c.shifts, c.bookings,
	       c.communications, c.surveys, c.devices);
	return CL_EXIT_OK;
}
