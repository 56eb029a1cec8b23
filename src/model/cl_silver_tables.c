/*
 * The silver tables: their columns, keys, references and indexes. See
 * cl_tables.h.
 */
#include "cl_tables.h"

#include <stddef.h>
#include <string.h>

#define T CL_COL_TEXT
#define R CL_COL_REAL
#define I CL_COL_INT

static const struct cl_column patient_cols[] = {
	{ "id", T, 1, NULL }, { "family", T, 0, NULL }, { "given", T, 0, NULL },
	{ "name", T, 0, NULL }, { "gender", T, 0, NULL }, { "birth_date", T, 0, NULL },
	{ "death_date", T, 0, NULL }, { "marital_status", T, 0, NULL }, { "race", T, 0, NULL },
	{ "ethnicity", T, 0, NULL }, { "city", T, 0, NULL }, { "state", T, 0, NULL },
	{ "postal_code", T, 0, NULL }, { "country", T, 0, NULL },
	{ "organization_id", T, 0, NULL },
};
static const struct cl_column practitioner_cols[] = {
	{ "id", T, 1, NULL }, { "family", T, 0, NULL }, { "given", T, 0, NULL },
	{ "name", T, 0, NULL }, { "gender", T, 0, NULL }, { "specialty", T, 0, NULL },
	{ "organization_id", T, 0, NULL }, { "city", T, 0, NULL }, { "state", T, 0, NULL },
};
static const struct cl_column organization_cols[] = {
	{ "id", T, 1, NULL }, { "name", T, 0, NULL }, { "city", T, 0, NULL },
	{ "state", T, 0, NULL }, { "postal_code", T, 0, NULL },
};
static const struct cl_column encounter_cols[] = {
	{ "id", T, 1, NULL }, { "patient_id", T, 1, "patient" },
	{ "practitioner_id", T, 0, "practitioner" }, { "organization_id", T, 0, NULL },
	{ "status", T, 0, NULL }, { "class", T, 0, NULL }, { "code", T, 0, NULL },
	{ "display", T, 0, NULL }, { "start_ts", T, 0, NULL }, { "end_ts", T, 0, NULL },
	{ "reason_code", T, 0, NULL }, { "reason_display", T, 0, NULL }, { "ward", T, 0, NULL },
};
static const struct cl_column observation_cols[] = {
	{ "id", T, 1, NULL }, { "resource_id", T, 1, NULL }, { "patient_id", T, 1, "patient" },
	{ "encounter_id", T, 0, "encounter" }, { "code", T, 1, NULL }, { "display", T, 0, NULL },
	{ "category", T, 0, NULL }, { "value", R, 0, NULL }, { "value_text", T, 0, NULL },
	{ "unit", T, 0, NULL }, { "effective_ts", T, 0, NULL }, { "device_id", T, 0, NULL },
	{ "status", T, 0, NULL }, { "source", T, 0, NULL },
};
static const struct cl_column condition_cols[] = {
	{ "id", T, 1, NULL }, { "patient_id", T, 1, "patient" },
	{ "encounter_id", T, 0, "encounter" }, { "code", T, 0, NULL }, { "display", T, 0, NULL },
	{ "clinical_status", T, 0, NULL }, { "onset_ts", T, 0, NULL },
	{ "abatement_ts", T, 0, NULL },
};
static const struct cl_column medication_request_cols[] = {
	{ "id", T, 1, NULL }, { "patient_id", T, 1, "patient" },
	{ "encounter_id", T, 0, "encounter" }, { "code", T, 0, NULL }, { "display", T, 0, NULL },
	{ "status", T, 0, NULL }, { "intent", T, 0, NULL }, { "authored_ts", T, 0, NULL },
};
static const struct cl_column procedure_cols[] = {
	{ "id", T, 1, NULL }, { "patient_id", T, 1, "patient" },
	{ "encounter_id", T, 0, "encounter" }, { "code", T, 0, NULL }, { "display", T, 0, NULL },
	{ "status", T, 0, NULL }, { "performed_start", T, 0, NULL },
	{ "performed_end", T, 0, NULL },
};

static const struct cl_column staff_cols[] = {
	{ "id", T, 1, NULL }, { "name", T, 0, NULL }, { "role", T, 1, NULL },
	{ "ward", T, 0, NULL }, { "practitioner_id", T, 0, "practitioner" },
	{ "fte", R, 0, NULL }, { "start_date", T, 0, NULL },
};
static const struct cl_column shift_cols[] = {
	{ "id", T, 1, NULL }, { "staff_id", T, 0, "staff" }, { "ward", T, 1, NULL },
	{ "role", T, 0, NULL }, { "start_ts", T, 1, NULL }, { "end_ts", T, 1, NULL },
	{ "required_staff", I, 0, NULL },
};
static const struct cl_column booking_cols[] = {
	{ "id", T, 1, NULL }, { "patient_id", T, 1, "patient" },
	{ "practitioner_id", T, 0, "practitioner" }, { "clinic", T, 0, NULL },
	{ "channel", T, 0, NULL }, { "booked_ts", T, 0, NULL }, { "appointment_ts", T, 1, NULL },
	{ "status", T, 1, NULL },
};
static const struct cl_column communication_cols[] = {
	{ "id", T, 1, NULL }, { "patient_id", T, 0, "patient" }, { "staff_id", T, 0, "staff" },
	{ "channel", T, 1, NULL }, { "direction", T, 0, NULL }, { "ts", T, 1, NULL },
	{ "duration_s", R, 0, NULL }, { "topic", T, 0, NULL },
};
static const struct cl_column survey_response_cols[] = {
	{ "id", T, 1, NULL }, { "patient_id", T, 0, "patient" },
	{ "encounter_id", T, 0, "encounter" }, { "ts", T, 1, NULL }, { "channel", T, 0, NULL },
	{ "question", T, 1, NULL }, { "score", R, 0, NULL }, { "comment", T, 0, NULL },
};
static const struct cl_column device_cols[] = {
	{ "id", T, 1, NULL }, { "type", T, 0, NULL }, { "ward", T, 0, NULL },
	{ "bed", T, 0, NULL }, { "patient_id", T, 0, "patient" }, { "status", T, 0, NULL },
};

#define N(a) (int)(sizeof(a) / sizeof(a[0]))

const struct cl_table cl_silver_tables[] = {
	{ "patient", "one row per patient", patient_cols, N(patient_cols), "" },
	{ "practitioner", "one row per practitioner (FHIR Practitioner, Synthea providers)",
	  practitioner_cols, N(practitioner_cols), "" },
	{ "organization", "hospitals and clinics", organization_cols, N(organization_cols), "" },
	{ "encounter", "visits and admissions; child of patient", encounter_cols,
	  N(encounter_cols),
	  "CREATE INDEX IF NOT EXISTS encounter_patient ON encounter(patient_id, start_ts);" },
	{ "observation", "one row per measured value (a panel's components are rows of their own)",
	  observation_cols, N(observation_cols),
	  "CREATE INDEX IF NOT EXISTS observation_patient ON observation(patient_id, effective_ts);"
	  /* the lake's sync finds a day's rows by it (cl_lake.c, day_ranges) */
	  "CREATE INDEX IF NOT EXISTS observation_time ON observation(effective_ts);" },
	{ "condition", "diagnoses; child of patient and encounter", condition_cols,
	  N(condition_cols),
	  "CREATE INDEX IF NOT EXISTS condition_patient ON condition(patient_id);" },
	{ "medication_request", "prescriptions", medication_request_cols,
	  N(medication_request_cols),
	  "CREATE INDEX IF NOT EXISTS medication_request_patient ON medication_request(patient_id);" },
	{ "procedure", "procedures performed", procedure_cols, N(procedure_cols),
	  "CREATE INDEX IF NOT EXISTS procedure_patient ON procedure(patient_id);" },
	{ "staff", "the staff roster; child of practitioner", staff_cols, N(staff_cols), "" },
	{ "shift", "shifts worked and the staff each needs", shift_cols, N(shift_cols),
	  "CREATE INDEX IF NOT EXISTS shift_ward ON shift(ward, start_ts);" },
	{ "booking", "appointments and how they were booked", booking_cols, N(booking_cols),
	  "CREATE INDEX IF NOT EXISTS booking_patient ON booking(patient_id);" },
	{ "communication", "calls, emails, SMS and online messages", communication_cols,
	  N(communication_cols), "" },
	{ "survey_response", "patient survey answers", survey_response_cols,
	  N(survey_response_cols), "" },
	{ "device", "bedside monitors and wearables", device_cols, N(device_cols), "" },
	{ NULL, NULL, NULL, 0, NULL },
};

_Static_assert(sizeof(cl_silver_tables) / sizeof(cl_silver_tables[0]) == CL_SILVER_TABLES + 1,
	       "CL_SILVER_TABLES counts the silver tables");

const struct cl_aux_table cl_silver_aux_tables[] = {
	{ "quarantine", "records refused, with the reason and the raw record",
	  "CREATE TABLE IF NOT EXISTS quarantine(id INTEGER PRIMARY KEY AUTOINCREMENT,"
	  " table_name TEXT, source TEXT NOT NULL, bronze_file TEXT NOT NULL,"
	  " run_id INTEGER NOT NULL, record TEXT, reason TEXT NOT NULL, raw TEXT,"
	  " at_us INTEGER NOT NULL);"
	  "CREATE INDEX IF NOT EXISTS quarantine_run ON quarantine(run_id);" },
	{ "quality_warning", "rows kept with a warning (a reference naming no row)",
	  "CREATE TABLE IF NOT EXISTS quality_warning(run_id INTEGER NOT NULL,"
	  " table_name TEXT NOT NULL, row_id TEXT NOT NULL, reason TEXT NOT NULL, source TEXT);" },
	{ NULL, NULL, NULL },
};

const struct cl_table *cl_silver_table(const char *name)
{
	for (const struct cl_table *t = cl_silver_tables; t->name; t++)
		if (strcmp(t->name, name) == 0)
			return t;
	return NULL;
}

int cl_silver_is_aux(const char *name)
{
	for (const struct cl_aux_table *t = cl_silver_aux_tables; t->name; t++)
		if (strcmp(t->name, name) == 0)
			return 1;
	return 0;
}
