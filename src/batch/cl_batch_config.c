/*
 * The refine.* settings section, and a batch configured from a
 * configuration: its expectations, what becomes of rows whose references
 * name no row, the declared CSV mappings and the lake's options — the one
 * place `ingest`, `refine`, pipelines and serve's refiner get them from.
 */
#include "cl_batch.h"
#include "cl_csv_map.h"
#include "bronze/cl_bronze.h"
#include "core/cl_config.h"
#include "core/cl_error.h"
#include "core/cl_mem.h"

#include <stddef.h>

#define SEC 1000000ll
#define F(field) offsetof(struct cl_refine_settings, field)

static const struct cl_config_entry refine_entries[] = {
	{ "interval", CL_CFG_DURATION, "10s", 0, 86400 * SEC, F(interval_us),
	  "serve refines new device events and FHIR posts into silver this often; 0: never", NULL },
	{ "references", CL_CFG_CHOICE, "warn", 0, 0, F(references),
	  "rows whose patient, encounter, practitioner or staff id names no row: warn (kept and "
	  "listed), drop or quarantine", "warn|drop|quarantine" },
};

const struct cl_config_section cl_refine_section = {
	.name = "refine",
	.entries = refine_entries,
	.nentries = sizeof(refine_entries) / sizeof(refine_entries[0]),
	.size = sizeof(struct cl_refine_settings),
};

const struct cl_refine_settings *cl_refine_settings(const struct cl_config *c)
{
	return cl_config_get(c, &cl_refine_section);
}

int cl_batch_configure(struct cl_batch *b, const struct cl_config *c, int64_t lake_interval_us)
{
	struct cl_expectation *e = cl_calloc(CL_EXPECTATIONS_MAX, sizeof(*e));
	struct cl_lake_opts lake;
	int n = 0, rc;

	if (!e)
		return cl_error_set(CL_ENOMEM, "no memory for the expectations");
	rc = cl_config_list(c, &cl_expect_section, e, &n, 1);
	if (rc == CL_OK)
		rc = cl_batch_expect(b, e, n);
	cl_free(e);
	if (rc == CL_OK)
		rc = cl_batch_set_references(b, cl_refine_settings(c)->references);
	if (rc == CL_OK) {
		cl_lake_opts_from_config(&lake, c);
		cl_batch_set_lake(b, &lake, lake_interval_us);
		cl_batch_set_archive(b, c, cl_bronze_settings(c)->archive_uri);
	}
	return rc;
}

int cl_batch_register_mappings(const struct cl_config *c)
{
	struct cl_csv_map_decl *m = cl_calloc(CL_CSV_DECLS_MAX, sizeof(*m));
	int n = 0, rc;

	if (!m)
		return cl_error_set(CL_ENOMEM, "no memory for the mappings");
	rc = cl_config_list(c, &cl_mappings_section, m, &n, 1);
	if (rc == CL_OK)
		rc = cl_csv_map_register(m, n);
	cl_free(m);
	return rc;
}
