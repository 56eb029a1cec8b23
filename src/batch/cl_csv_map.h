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

/*
 * A mapping declared in config, for files of your own:
 *
 *   mappings:
 *     census:
 *       table: encounter
 *       signature: EncounterID+MRN       # CSV columns that identify the file
 *       columns:                         # silver column: CSV column [as KIND]
 *         id: EncounterID
 *         patient_id: MRN
 *         start_ts: Admitted as time
 *         ward: Unit
 *
 * KIND: text (default), time, gender, number, int, channel, value, or
 * key (a stable id hashed from several columns: "A+B as key"). Without a
 * signature, every CSV column the mapping reads identifies the file.
 * Declared mappings are tried before the built-in ones.
 */
#define CL_CSV_DECL_FIELDS 16

struct cl_csv_map_decl {
	char name[48];
	char table[32];
	char signature[512];
	int nf;
	struct {
		char col[40];
		char from[200];
		int kind;
	} f[CL_CSV_DECL_FIELDS];
};

#define CL_CSV_DECLS_MAX 16

/* Applies one "mappings.<name>.table|signature|columns.<col>" setting.
 * CL_ENOENT: not a mapping key. */
int cl_csv_map_decl_set(struct cl_csv_map_decl *d, int *n, int cap, const char *key,
			const char *value);
/* Each declared mapping names a table, maps its id and its required columns. */
int cl_csv_map_decls_check(const struct cl_csv_map_decl *d, int n);

/* The mappings.* settings: a list of struct cl_csv_map_decl (CL_CSV_DECLS_MAX). */
struct cl_config_section;
extern const struct cl_config_section cl_mappings_section;
/* Makes the declared mappings the ones in use (process-wide; call before
 * loading, from one thread). */
int cl_csv_map_register(const struct cl_csv_map_decl *d, int n);

/* The mapping whose columns the header has, or NULL (with the detail
 * naming what was expected). */
const struct cl_csv_mapping *cl_csv_map_find(const char *src, size_t len);
const char *cl_csv_map_name(const struct cl_csv_mapping *m);

/* The mapping of that name (declared or built in), or NULL. */
const struct cl_csv_mapping *cl_csv_map_by_name(const char *name);

/* Loads the file's records through the mapping. A record with a different
 * number of fields than the header, or whose values fail, is quarantined
 * with its line; a file that is not CSV fails with the line. */
int cl_csv_load(struct cl_silver *s, const struct cl_csv_mapping *m, const char *src,
		size_t len, struct cl_silver_counts *c);

#endif
