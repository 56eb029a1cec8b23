/*
 * `carelake generate`: a synthetic hospital in every batch format, or
 * (--cohort) a cohort of patients over years for readmission models.
 */
#include "cl_cli.h"
#include "batch/cl_generate.h"
#include "batch/cl_generate_cohort.h"
#include "core/cl_error.h"
#include "core/cl_time.h"

#include <stdio.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

const char cl_cmd_generate_usage[] =
	"usage: carelake generate --out DIR [--patients N] [--seed K]\n"
	"       carelake generate --cohort --out DIR [--patients N] [--years Y] [--end DAY]\n"
	"                         [--seed K]\n\n"
	"Writes a synthetic hospital — the patients the streaming simulator uses\n"
	"(patient-0001, monitor-0001, ...) — in every batch format carelake reads:\n"
	"  fhir/patients.ndjson  Patients, Practitioners, Encounters (visits,\n"
	"                        admissions to the wards, 30-day readmissions)\n"
	"  staff.csv, shifts.csv, bookings.csv, communications.csv, surveys.csv,\n"
	"  devices.csv           carelake's own CSV files\n"
	"  patients.xlsx         the patient register as a spreadsheet\n"
	"The same seed gives the same hospital (times count back from today).\n"
	"Load it with: carelake ingest DIR\n\n"
	"With --cohort, writes instead a cohort for 30-day readmission models: adult\n"
	"patients (cohort-000001, ...) over the Y years before DAY, with their\n"
	"comorbidities (every Charlson category, SNOMED CT and ICD-10-CM), emergency\n"
	"and ambulatory visits, emergency and elective admissions (some across two\n"
	"wards), medications, procedures, the last day's vital signs and discharge\n"
	"labs, deaths, and readmissions drawn from documented risk factors:\n"
	"  fhir/cohort-NN.ndjson    FHIR R4 NDJSON, 2,000 patients a file\n"
	"  readmission-truth.csv    each stay ended alive: the readmission risk used,\n"
	"                           whether it was readmitted, whether it is censored\n"
	"The same seed and DAY give the same cohort. Load it with:\n"
	"  carelake ingest DIR/fhir\n\n";

/* What generate's options set. */
struct generate_args {
	const char *out, *end;
	uint64_t patients, seed, years;
	int cohort;
};

const struct cl_opt cl_cmd_generate_opts[] = {
	CL_OPT_STRING("out", struct generate_args, out, "DIR", "where to write (created)"),
	CL_OPT_UINT("patients", struct generate_args, patients, 1, 100000, "N",
		    "patients (default 100, at most 100000)"),
	CL_OPT_UINT("seed", struct generate_args, seed, 0, UINT64_MAX, "K",
		    "the random seed (default 1)"),
	CL_OPT_FLAG("cohort", struct generate_args, cohort,
		    "a cohort for readmission models instead of the hospital"),
	CL_OPT_UINT("years", struct generate_args, years, 1, 20, "Y",
		    "--cohort: the years the cohort covers (default 3)"),
	CL_OPT_STRING("end", struct generate_args, end, "DAY",
		      "--cohort: the day (YYYY-MM-DD, UTC) the period ends\n(default 2026-01-01)"),
	CL_OPT_END,
};

/* The midnight (UTC) that starts day, a YYYY-MM-DD. */
static int parse_day(const char *day, int64_t *us)
{
	char text[32];

	if (strlen(day) != 10 || day[4] != '-' || day[7] != '-')
		return CL_EINVAL;
	snprintf(text, sizeof(text), "%sT00:00:00Z", day);
	return cl_time_parse_rfc3339(text, strlen(text), us);
}

static int generate_cohort(struct cl_cli *cli, const struct generate_args *a)
{
	struct cl_cohort_options o = {
		.patients = (int)a->patients,
		.years = a->years ? (int)a->years : 3,
		.seed = a->seed,
	};
	struct cl_cohort_counts c;
	int rc;

	if (parse_day(a->end ? a->end : "2026-01-01", &o.end_us) != CL_OK)
		return cl_cli_error(cli, "--end needs a day as YYYY-MM-DD, got '%s'", a->end);
	rc = cl_generate_cohort(a->out, &o, &c);
	if (rc)
		return cl_cli_error(cli, "%s", cl_error_detail());
	printf("wrote %s: %ld patients, %ld conditions, %ld encounters (%ld stays, %ld transfers, "
	       "%ld emergency visits, %ld ambulatory visits), %ld medication requests, %ld "
	       "procedures, %ld observations in %ld files; %ld deaths (%ld in hospital); %ld "
	       "index stays, %ld readmitted within 30 days, %ld censored, %ld elective "
	       "readmissions; mean risk %.3f\n", a->out, c.patients, c.conditions, c.encounters,
	       c.stays, c.transfers, c.emergency_visits, c.ambulatory_visits, c.medications,
	       c.procedures, c.observations, c.files, c.deaths, c.deaths_in_stay, c.index_stays,
	       c.readmitted, c.censored, c.planned_readmissions, c.mean_risk);
	return CL_EXIT_OK;
}

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
	if (a.cohort)
		return generate_cohort(&cli, &a);
	if (a.years || a.end)
		return cl_cli_error(&cli, "--years and --end go with --cohort");
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
