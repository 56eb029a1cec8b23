/*
 * A synthetic hospital for `carelake generate`: the same patients the
 * streaming simulator uses (patient-0001, monitor-0001, ...) in every
 * batch format carelake reads. Deterministic for a seed.
 */
#ifndef CL_GENERATE_H
#define CL_GENERATE_H

#include <stdint.h>

struct cl_generate_counts {
	long patients, practitioners, encounters, admissions, readmissions, staff, shifts,
		bookings, communications, surveys, devices;
};

/* Writes into out_dir (created): fhir/patients.ndjson (Patients,
 * Practitioners, Encounters), staff.csv, shifts.csv, bookings.csv,
 * communications.csv, surveys.csv, devices.csv and patients.xlsx. */
int cl_generate(const char *out_dir, int patients, uint64_t seed, struct cl_generate_counts *c);

#endif
