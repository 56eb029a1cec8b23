/*
 * What the benchmarks generate: the vitals their observation rows carry
 * (LOINC code, display, unit, typical value and the spread either side of
 * it), and Synthea's CSV layout (its headers, and patients as a Synthea
 * export has them: no organisation, provider or payer, so they name
 * nothing missing themselves).
 */
#ifndef BENCH_DATA_H
#define BENCH_DATA_H

#include <stdio.h>

static const struct {
	const char *code, *display, *unit;
	double mean, spread;
} bench_vitals[] = {
	{ "8867-4", "Heart rate", "/min", 82, 18 },
	{ "9279-1", "Respiratory rate", "/min", 17, 4 },
	{ "59408-5", "Oxygen saturation in Arterial blood by Pulse oximetry", "%", 96, 3 },
	{ "8480-6", "Systolic blood pressure", "mm[Hg]", 124, 18 },
	{ "8462-4", "Diastolic blood pressure", "mm[Hg]", 78, 11 },
	{ "8310-5", "Body temperature", "Cel", 37, 0.6 },
	{ "2339-0", "Glucose [Mass/volume] in Blood", "mg/dL", 110, 25 },
};
#define BENCH_NVITALS (sizeof(bench_vitals) / sizeof(bench_vitals[0]))

#define BENCH_OBSERVATIONS_HEADER                                                          \
	"DATE,PATIENT,ENCOUNTER,CATEGORY,CODE,DESCRIPTION,VALUE,UNITS,TYPE\n"
#define BENCH_ENCOUNTERS_HEADER                                                            \
	"Id,START,STOP,PATIENT,ORGANIZATION,PROVIDER,PAYER,ENCOUNTERCLASS,CODE,"          \
	"DESCRIPTION,BASE_ENCOUNTER_COST,TOTAL_CLAIM_COST,PAYER_COVERAGE,REASONCODE,"     \
	"REASONDESCRIPTION\n"

/* Patient p's id, as the observations and encounters name it. */
#define BENCH_PATIENT_ID "%08lx-aaaa-bbbb-cccc-%012lx"

/* patients.csv with patients 0..n-1. */
static inline void bench_write_patients(FILE *f, long n)
{
	fprintf(f, "Id,BIRTHDATE,DEATHDATE,SSN,DRIVERS,PASSPORT,PREFIX,FIRST,LAST,SUFFIX,MAIDEN,"
		"MARITAL,RACE,ETHNICITY,GENDER,BIRTHPLACE,ADDRESS,CITY,STATE,COUNTY,ZIP,LAT,LON,"
		"HEALTHCARE_EXPENSES,HEALTHCARE_COVERAGE\n");
	for (long p = 0; p < n; p++)
		fprintf(f, BENCH_PATIENT_ID ",1970-01-%02ld,,999-00-0000,,,,Sam%ld,Doe%ld,,,,"
			"white,nonhispanic,%s,,1 Main St,Boston,Massachusetts,,02155,42.3,-71.1,0,0\n",
			p, p, p % 28 + 1, p, p, p % 2 ? "M" : "F");
}

#endif
