/*
 * CSV files into silver rows, through mappings: which table a file feeds,
 * recognised by its header, and for each silver column the CSV column it
 * comes from and how it is read (text, a time, a gender code, a number or
 * text, a key made from other columns). Built in: the Synthea CSV export
 * (patients, providers, organizations, encounters, conditions,
 * observations, medications, procedures).
 */
#ifndef CL_CSV_MAP_H
#define CL_CSV_MAP_H

#include "batch/cl_silver.h"

#include <stddef.h>

struct cl_csv_mapping;

/* The mapping whose columns the header has, or NULL (with the detail
 * naming what was expected). */
const struct cl_csv_mapping *cl_csv_map_find(const char *src, size_t len);
const char *cl_csv_map_name(const struct cl_csv_mapping *m);

/* Loads the file's records through the mapping. A record with a different
 * number of fields than the header, or whose values fail, is quarantined
 * with its line; a file that is not CSV fails with the line. */
int cl_csv_load(struct cl_silver *s, const struct cl_csv_mapping *m, const char *src,
		size_t len, struct cl_silver_counts *c);

#endif
