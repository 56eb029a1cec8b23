/*
 * The classification: one rule for every column of every silver and gold
 * table, and why (see cl_deid.h). The Safe Harbor items are those of 45
 * CFR 164.514(b)(2)(i): (A) names, (B) geographic subdivisions smaller
 * than a state, (C) dates other than the year, and ages over 89, (D)
 * telephone, (E) fax, (F) email, (G) SSN, (H) medical record numbers, (I)
 * health plan numbers, (J) account numbers, (K) licence numbers, (L)
 * vehicle ids, (M) device ids and serial numbers, (N) URLs, (O) IP
 * addresses, (P) biometrics, (Q) photographs, (R) any other unique
 * identifying number or code. docs/deidentification.md shows this table;
 * the unit test checks that every column of every table is in it.
 */
#include "cl_deid.h"

#include <stddef.h>
#include <string.h>

#define KEEP CL_DEID_KEEP
#define DROP CL_DEID_DROP
#define TEXT CL_DEID_FREE_TEXT
#define PSEUDO CL_DEID_PSEUDONYM
#define DATE CL_DEID_DATE
#define BIRTH CL_DEID_BIRTH_DATE
#define YEAR CL_DEID_YEAR
#define ZIP CL_DEID_ZIP

/* reasons said once */
#define ID_OWN "(R) the row's own id, a record number: pseudonym, so exports join"
#define ID_PATIENT "(H)/(R) names a patient: the patient's pseudonym"
#define ID_ENCOUNTER "(R) names an encounter: the encounter's pseudonym"
#define ID_PRACT "(R) names a practitioner, a person: the practitioner's pseudonym"
#define ID_ORG "(R) names an organization: the organization's pseudonym"
#define ID_STAFF "(R) names a member of staff, a person: the staff pseudonym"
#define NAME "(A) a name"
#define CITY "(B) a place smaller than a state"
#define STATE "a state is allowed"
#define PDATE "(C) a date of the patient: moved by the patient's offset"
#define SDATE "(C) a date of a member of staff: moved by their offset"
#define CODE "a coded concept, not about who"
#define COUNT "a count or measure over many people"
#define DAY "(C) a day of counts that may be one person's: its year only"

const struct cl_deid_column cl_deid_columns[] = {
	/* lineage, in every silver table (cl_silver.c) */
	{ "*", "_source", KEEP, NULL, "the configured source the row came from" },
	{ "*", "_file_id", DROP, NULL, "(R) the number of one source file (lineage_file)" },
	{ "*", "_bronze_file", DROP, NULL, "(R) the hash of one source file" },
	{ "*", "_run_id", DROP, NULL, "(R) when the row was loaded, as a number" },
	{ "*", "_record", DROP, NULL, "(H)/(R) the record's line or entry in its source file" },
	{ "*", "_hash", DROP, NULL, "(R) an unkeyed hash of the row: anyone with the source "
				    "could match it" },
	{ "*", "_loaded_us", DROP, NULL, "(C) when the row was loaded" },
	{ "*", "_version", DROP, NULL, "how often the row changed; of no research use" },

	{ "patient", "id", PSEUDO, "patient", "(H)/(R) the patient's id: their pseudonym" },
	{ "patient", "family", DROP, NULL, NAME },
	{ "patient", "given", DROP, NULL, NAME },
	{ "patient", "name", DROP, NULL, NAME },
	{ "patient", "gender", KEEP, NULL, "not an identifier" },
	{ "patient", "birth_date", BIRTH, "id", "(C) moved by the patient's offset; at 90 or "
						"over, 90 years before death or the export" },
	{ "patient", "death_date", DATE, "id", PDATE },
	{ "patient", "marital_status", KEEP, NULL, "not an identifier" },
	{ "patient", "race", KEEP, NULL, "not an identifier" },
	{ "patient", "ethnicity", KEEP, NULL, "not an identifier" },
	{ "patient", "city", DROP, NULL, CITY },
	{ "patient", "state", KEEP, NULL, STATE },
	{ "patient", "postal_code", ZIP, NULL, "(B) its 3-digit area if listed, else 000" },
	{ "patient", "country", KEEP, NULL, "larger than a state" },
	{ "patient", "organization_id", PSEUDO, "organization", ID_ORG },

	{ "practitioner", "id", PSEUDO, "practitioner", ID_PRACT },
	{ "practitioner", "family", DROP, NULL, NAME },
	{ "practitioner", "given", DROP, NULL, NAME },
	{ "practitioner", "name", DROP, NULL, NAME },
	{ "practitioner", "gender", KEEP, NULL, "not an identifier" },
	{ "practitioner", "specialty", KEEP, NULL, CODE },
	{ "practitioner", "organization_id", PSEUDO, "organization", ID_ORG },
	{ "practitioner", "city", DROP, NULL, CITY },
	{ "practitioner", "state", KEEP, NULL, STATE },

	{ "organization", "id", PSEUDO, "organization", ID_ORG },
	{ "organization", "name", DROP, NULL, "(B) a hospital's name says where its patients live" },
	{ "organization", "city", DROP, NULL, CITY },
	{ "organization", "state", KEEP, NULL, STATE },
	{ "organization", "postal_code", ZIP, NULL, "(B) its 3-digit area if listed, else 000" },

	{ "encounter", "id", PSEUDO, "encounter", ID_ENCOUNTER },
	{ "encounter", "patient_id", PSEUDO, "patient", ID_PATIENT },
	{ "encounter", "practitioner_id", PSEUDO, "practitioner", ID_PRACT },
	{ "encounter", "organization_id", PSEUDO, "organization", ID_ORG },
	{ "encounter", "status", KEEP, NULL, CODE },
	{ "encounter", "class", KEEP, NULL, CODE },
	{ "encounter", "code", KEEP, NULL, CODE },
	{ "encounter", "display", KEEP, NULL, CODE },
	{ "encounter", "start_ts", DATE, "patient_id", PDATE },
	{ "encounter", "end_ts", DATE, "patient_id", PDATE },
	{ "encounter", "reason_code", KEEP, NULL, CODE },
	{ "encounter", "reason_display", KEEP, NULL, CODE },
	{ "encounter", "ward", KEEP, NULL, "a ward of the hospital, not a place people live" },

	{ "observation", "id", PSEUDO, "observation", ID_OWN },
	{ "observation", "resource_id", PSEUDO, "observation-resource",
	  "(R) the FHIR resource a value came from: pseudonym, so a panel's values stay together" },
	{ "observation", "patient_id", PSEUDO, "patient", ID_PATIENT },
	{ "observation", "encounter_id", PSEUDO, "encounter", ID_ENCOUNTER },
	{ "observation", "code", KEEP, NULL, CODE },
	{ "observation", "display", KEEP, NULL, CODE },
	{ "observation", "category", KEEP, NULL, CODE },
	{ "observation", "value", KEEP, NULL, "a measured number" },
	{ "observation", "value_text", TEXT, NULL, "free text: Synthea's hold street addresses" },
	{ "observation", "unit", KEEP, NULL, CODE },
	{ "observation", "effective_ts", DATE, "patient_id", PDATE },
	{ "observation", "device_id", DROP, NULL, "(M) a device's id or serial number" },
	{ "observation", "status", KEEP, NULL, CODE },
	{ "observation", "source", KEEP, NULL, "the kind of input (csv, fhir, device)" },

	{ "condition", "id", PSEUDO, "condition", ID_OWN },
	{ "condition", "patient_id", PSEUDO, "patient", ID_PATIENT },
	{ "condition", "encounter_id", PSEUDO, "encounter", ID_ENCOUNTER },
	{ "condition", "code", KEEP, NULL, CODE },
	{ "condition", "display", KEEP, NULL, CODE },
	{ "condition", "clinical_status", KEEP, NULL, CODE },
	{ "condition", "onset_ts", DATE, "patient_id", PDATE },
	{ "condition", "abatement_ts", DATE, "patient_id", PDATE },

	{ "medication_request", "id", PSEUDO, "medication_request", ID_OWN },
	{ "medication_request", "patient_id", PSEUDO, "patient", ID_PATIENT },
	{ "medication_request", "encounter_id", PSEUDO, "encounter", ID_ENCOUNTER },
	{ "medication_request", "code", KEEP, NULL, CODE },
	{ "medication_request", "display", KEEP, NULL, CODE },
	{ "medication_request", "status", KEEP, NULL, CODE },
	{ "medication_request", "intent", KEEP, NULL, CODE },
	{ "medication_request", "authored_ts", DATE, "patient_id", PDATE },

	{ "procedure", "id", PSEUDO, "procedure", ID_OWN },
	{ "procedure", "patient_id", PSEUDO, "patient", ID_PATIENT },
	{ "procedure", "encounter_id", PSEUDO, "encounter", ID_ENCOUNTER },
	{ "procedure", "code", KEEP, NULL, CODE },
	{ "procedure", "display", KEEP, NULL, CODE },
	{ "procedure", "status", KEEP, NULL, CODE },
	{ "procedure", "performed_start", DATE, "patient_id", PDATE },
	{ "procedure", "performed_end", DATE, "patient_id", PDATE },

	{ "staff", "id", PSEUDO, "staff", ID_STAFF },
	{ "staff", "name", DROP, NULL, NAME },
	{ "staff", "role", KEEP, NULL, CODE },
	{ "staff", "ward", KEEP, NULL, "a ward of the hospital" },
	{ "staff", "practitioner_id", PSEUDO, "practitioner", ID_PRACT },
	{ "staff", "fte", KEEP, NULL, "a number" },
	{ "staff", "start_date", DATE, "id", SDATE },

	{ "shift", "id", PSEUDO, "shift", ID_OWN },
	{ "shift", "staff_id", PSEUDO, "staff", ID_STAFF },
	{ "shift", "ward", KEEP, NULL, "a ward of the hospital" },
	{ "shift", "role", KEEP, NULL, CODE },
	{ "shift", "start_ts", DATE, "staff_id", SDATE },
	{ "shift", "end_ts", DATE, "staff_id", SDATE },
	{ "shift", "required_staff", KEEP, NULL, "a number" },

	{ "booking", "id", PSEUDO, "booking", ID_OWN },
	{ "booking", "patient_id", PSEUDO, "patient", ID_PATIENT },
	{ "booking", "practitioner_id", PSEUDO, "practitioner", ID_PRACT },
	{ "booking", "clinic", KEEP, NULL, "a clinic of the hospital" },
	{ "booking", "channel", KEEP, NULL, CODE },
	{ "booking", "booked_ts", DATE, "patient_id", PDATE },
	{ "booking", "appointment_ts", DATE, "patient_id", PDATE },
	{ "booking", "status", KEEP, NULL, CODE },

	{ "communication", "id", PSEUDO, "communication", ID_OWN },
	{ "communication", "patient_id", PSEUDO, "patient", ID_PATIENT },
	{ "communication", "staff_id", PSEUDO, "staff", ID_STAFF },
	{ "communication", "channel", KEEP, NULL, CODE },
	{ "communication", "direction", KEEP, NULL, CODE },
	{ "communication", "ts", DATE, "patient_id", PDATE " (its year when no patient)" },
	{ "communication", "duration_s", KEEP, NULL, "a number" },
	{ "communication", "topic", TEXT, NULL, "free text" },

	{ "survey_response", "id", PSEUDO, "survey_response", ID_OWN },
	{ "survey_response", "patient_id", PSEUDO, "patient", ID_PATIENT },
	{ "survey_response", "encounter_id", PSEUDO, "encounter", ID_ENCOUNTER },
	{ "survey_response", "ts", DATE, "patient_id", PDATE " (its year when no patient)" },
	{ "survey_response", "channel", KEEP, NULL, CODE },
	{ "survey_response", "question", KEEP, NULL, "the survey's own text" },
	{ "survey_response", "score", KEEP, NULL, "a number" },
	{ "survey_response", "comment", TEXT, NULL, "free text" },

	{ "device", "id", DROP, NULL, "(M) a device's id or serial number" },
	{ "device", "type", KEEP, NULL, CODE },
	{ "device", "ward", KEEP, NULL, "a ward of the hospital" },
	{ "device", "bed", DROP, NULL, "a place finer than a ward, which pins one patient" },
	{ "device", "patient_id", PSEUDO, "patient", ID_PATIENT },
	{ "device", "status", KEEP, NULL, CODE },

	{ "quarantine", NULL, CL_DEID_WITHHELD, NULL,
	  "refused records as they arrived, identifiers and all" },
	{ "quality_warning", NULL, CL_DEID_WITHHELD, NULL,
	  "messages that quote the ids and values they are about" },
	{ "vital_rollup", NULL, CL_DEID_WITHHELD, NULL,
	  "each patient's vitals minute by minute at exact instants (microseconds), which "
	  "no date rule here generalises" },

	{ "gold_admissions_daily", "day", YEAR, NULL, DAY },
	{ "gold_admissions_daily", "ward", KEEP, NULL, "a ward of the hospital" },
	{ "gold_admissions_daily", "admissions", KEEP, NULL, COUNT },
	{ "gold_admissions_daily", "discharges", KEEP, NULL, COUNT },
	{ "gold_admissions_daily", "occupied", KEEP, NULL, COUNT },
	{ "gold_admissions_daily", "mean_los_days", KEEP, NULL, COUNT },
	{ "gold_admissions_daily", "readmissions_30d", KEEP, NULL, COUNT },
	{ "gold_admissions_daily", "readmission_rate", KEEP, NULL, COUNT },

	{ "gold_alerts_daily", "day", YEAR, NULL, DAY },
	{ "gold_alerts_daily", "ward", KEEP, NULL, "a ward of the hospital" },
	{ "gold_alerts_daily", "rule", KEEP, NULL, CODE },
	{ "gold_alerts_daily", "severity", KEEP, NULL, CODE },
	{ "gold_alerts_daily", "alerts", KEEP, NULL, COUNT },
	{ "gold_alerts_daily", "acknowledged", KEEP, NULL, COUNT },
	{ "gold_alerts_daily", "mean_minutes_to_ack", KEEP, NULL, COUNT },

	{ "gold_staffing", "ward", KEEP, NULL, "a ward of the hospital" },
	{ "gold_staffing", "shift_start", YEAR, NULL, "(C) when a shift began, beside its "
						      "patients: its year only" },
	{ "gold_staffing", "role", KEEP, NULL, CODE },
	{ "gold_staffing", "staffed", KEEP, NULL, COUNT },
	{ "gold_staffing", "required", KEEP, NULL, COUNT },
	{ "gold_staffing", "coverage", KEEP, NULL, COUNT },
	{ "gold_staffing", "staffed_hours", KEEP, NULL, COUNT },
	{ "gold_staffing", "required_hours", KEEP, NULL, COUNT },
	{ "gold_staffing", "patients", KEEP, NULL, COUNT },
	{ "gold_staffing", "patients_per_staff", KEEP, NULL, COUNT },

	{ "gold_bookings_daily", "day", YEAR, NULL, DAY },
	{ "gold_bookings_daily", "channel", KEEP, NULL, CODE },
	{ "gold_bookings_daily", "bookings", KEEP, NULL, COUNT },
	{ "gold_bookings_daily", "attended", KEEP, NULL, COUNT },
	{ "gold_bookings_daily", "no_shows", KEEP, NULL, COUNT },
	{ "gold_bookings_daily", "cancelled", KEEP, NULL, COUNT },
	{ "gold_bookings_daily", "no_show_rate", KEEP, NULL, COUNT },

	{ "gold_communications_daily", "day", YEAR, NULL, DAY },
	{ "gold_communications_daily", "channel", KEEP, NULL, CODE },
	{ "gold_communications_daily", "direction", KEEP, NULL, CODE },
	{ "gold_communications_daily", "messages", KEEP, NULL, COUNT },
	{ "gold_communications_daily", "total_duration_s", KEEP, NULL, COUNT },

	{ "gold_survey_monthly", "month", YEAR, NULL, "(C) a month of answers: its year only" },
	{ "gold_survey_monthly", "question", KEEP, NULL, "the survey's own text" },
	{ "gold_survey_monthly", "responses", KEEP, NULL, COUNT },
	{ "gold_survey_monthly", "mean_score", KEEP, NULL, COUNT },
	{ "gold_survey_monthly", "satisfied_share", KEEP, NULL, COUNT },

	{ "gold_data_quality", "source", KEEP, NULL, "the configured source" },
	{ "gold_data_quality", "files", KEEP, NULL, COUNT },
	{ "gold_data_quality", "rows", KEEP, NULL, COUNT },
	{ "gold_data_quality", "quarantined", KEEP, NULL, COUNT },
	{ "gold_data_quality", "warnings", KEEP, NULL, COUNT },
	{ "gold_data_quality", "quarantine_rate", KEEP, NULL, COUNT },

	{ "gold_readmission_features", "stay_id", PSEUDO, "encounter", ID_ENCOUNTER },
	{ "gold_readmission_features", "patient_id", PSEUDO, "patient", ID_PATIENT },
	{ "gold_readmission_features", "admit_ts", DATE, "patient_id", PDATE },
	{ "gold_readmission_features", "discharge_ts", DATE, "patient_id", PDATE },
	{ "gold_readmission_features", "month", YEAR, NULL,
	  "(C) the month of a patient's discharge: its year only" },
	{ "gold_readmission_features", "ward", KEEP, NULL, "a ward of the hospital" },
	{ "gold_readmission_features", "cohort", KEEP, NULL, CODE },
	{ "gold_readmission_features", "readmitted_30d", KEEP, NULL, "the outcome, 0 or 1" },
	{ "gold_readmission_features", "days_to_readmission", KEEP, NULL,
	  "an interval, not a date" },
	{ "gold_readmission_features", "planned", KEEP, NULL, CODE },
	{ "gold_readmission_features", "age_years", CL_DEID_AGE, NULL,
	  "(C) an age: over 89 is 90, as Safe Harbor asks" },
	{ "gold_readmission_features", "sex_female", KEEP, NULL, CODE },
	{ "gold_readmission_features", "los_days", KEEP, NULL, "a measure of the stay, not about who" },
	{ "gold_readmission_features", "emergency", KEEP, NULL, "a measure of the stay, not about who" },
	{ "gold_readmission_features", "icu", KEEP, NULL, "a measure of the stay, not about who" },
	{ "gold_readmission_features", "oncology", KEEP, NULL, "a measure of the stay, not about who" },
	{ "gold_readmission_features", "encounters", KEEP, NULL, "a measure of the stay, not about who" },
	{ "gold_readmission_features", "charlson", KEEP, NULL, "a measure of the stay, not about who" },
	{ "gold_readmission_features", "ed_visits_6m", KEEP, NULL, "a measure of the stay, not about who" },
	{ "gold_readmission_features", "ed_visits_12m", KEEP, NULL, "a measure of the stay, not about who" },
	{ "gold_readmission_features", "admissions_6m", KEEP, NULL, "a measure of the stay, not about who" },
	{ "gold_readmission_features", "admissions_12m", KEEP, NULL, "a measure of the stay, not about who" },
	{ "gold_readmission_features", "medications", KEEP, NULL, "a measure of the stay, not about who" },
	{ "gold_readmission_features", "procedures", KEEP, NULL, "a measure of the stay, not about who" },
	{ "gold_readmission_features", "followup_booked", KEEP, NULL, "a measure of the stay, not about who" },
	{ "gold_readmission_features", "heart_rate", KEEP, NULL, "a measure of the stay, not about who" },
	{ "gold_readmission_features", "respiratory_rate", KEEP, NULL, "a measure of the stay, not about who" },
	{ "gold_readmission_features", "spo2", KEEP, NULL, "a measure of the stay, not about who" },
	{ "gold_readmission_features", "systolic_bp", KEEP, NULL, "a measure of the stay, not about who" },
	{ "gold_readmission_features", "temperature", KEEP, NULL, "a measure of the stay, not about who" },
	{ "gold_readmission_features", "heart_rate_trend", KEEP, NULL, "a measure of the stay, not about who" },
	{ "gold_readmission_features", "respiratory_rate_trend", KEEP, NULL, "a measure of the stay, not about who" },
	{ "gold_readmission_features", "spo2_trend", KEEP, NULL, "a measure of the stay, not about who" },
	{ "gold_readmission_features", "systolic_bp_trend", KEEP, NULL, "a measure of the stay, not about who" },
	{ "gold_readmission_features", "temperature_trend", KEEP, NULL, "a measure of the stay, not about who" },
	{ "gold_readmission_features", "news2", KEEP, NULL, "a measure of the stay, not about who" },
	{ "gold_readmission_features", "abnormal_vitals", KEEP, NULL, "a measure of the stay, not about who" },
	{ "gold_readmission_features", "hemoglobin", KEEP, NULL, "a measure of the stay, not about who" },
	{ "gold_readmission_features", "sodium", KEEP, NULL, "a measure of the stay, not about who" },
	{ "gold_readmission_features", "lace", KEEP, NULL, "a measure of the stay, not about who" },
	{ "gold_readmission_features", "hospital_score", KEEP, NULL, "a measure of the stay, not about who" },

	{ "gold_readmission_risk", "stay_id", PSEUDO, "encounter", ID_ENCOUNTER },
	{ "gold_readmission_risk", "patient_id", PSEUDO, "patient", ID_PATIENT },
	{ "gold_readmission_risk", "ward", KEEP, NULL, "a ward of the hospital" },
	{ "gold_readmission_risk", "admit_ts", DATE, "patient_id", PDATE },
	{ "gold_readmission_risk", "discharge_ts", DATE, "patient_id", PDATE },
	{ "gold_readmission_risk", "status", KEEP, NULL, CODE },
	{ "gold_readmission_risk", "scored_ts", DATE, "patient_id", PDATE },
	{ "gold_readmission_risk", "model_version", KEEP, NULL, "which model scored, not about who" },
	{ "gold_readmission_risk", "model", KEEP, NULL, "which model scored, not about who" },
	{ "gold_readmission_risk", "risk", KEEP, NULL, "a measure of the stay, not about who" },
	{ "gold_readmission_risk", "band", KEEP, NULL, CODE },
	{ "gold_readmission_risk", "factors", DROP, NULL,
	  "(C) the driving features with their values, an age over 89 among them: dropped" },
	{ "gold_readmission_risk", "lace", KEEP, NULL, "a measure of the stay, not about who" },
	{ "gold_readmission_risk", "hospital_score", KEEP, NULL, "a measure of the stay, not about who" },

	{ NULL, NULL, KEEP, NULL, NULL },
};

const struct cl_deid_column *cl_deid_rule_of(const char *table, const char *column)
{
	const struct cl_deid_column *lineage = NULL;

	for (const struct cl_deid_column *c = cl_deid_columns; c->table; c++) {
		if (strcmp(c->table, table) == 0 &&
		    (c->rule == CL_DEID_WITHHELD || strcmp(c->column, column) == 0))
			return c;
		if (strcmp(c->table, "*") == 0 && strcmp(c->column, column) == 0)
			lineage = c;
	}
	/* lineage columns are silver's only: a gold table has none */
	return strncmp(table, "gold_", 5) == 0 ? NULL : lineage;
}

const char *cl_deid_rule_name(enum cl_deid_rule r)
{
	switch (r) {
	case CL_DEID_KEEP: return "kept";
	case CL_DEID_DROP: return "dropped (identifier)";
	case CL_DEID_FREE_TEXT: return "dropped (free text)";
	case CL_DEID_PSEUDONYM: return "pseudonym";
	case CL_DEID_DATE: return "date, shifted";
	case CL_DEID_BIRTH_DATE: return "birth date, shifted, age capped";
	case CL_DEID_YEAR: return "year only";
	case CL_DEID_ZIP: return "ZIP, 3 digits or 000";
	case CL_DEID_AGE: return "age, capped at 90";
	case CL_DEID_WITHHELD: return "table withheld";
	}
	return "?";
}
