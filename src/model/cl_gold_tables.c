/*
 * The gold KPI tables: what each is computed from and the SQL that
 * computes it. See cl_tables.h and docs/gold.md.
 */
#include "cl_tables.h"

#include <stddef.h>

/* Inpatient stays: FHIR class IMP/ACUTE/EMER and Synthea's inpatient and
 * emergency; a stay without a ward counts under "unassigned", and every
 * stay counts under "all" too. */
#define STAYS                                                                        \
	"stays AS (SELECT id, patient_id, start_ts, end_ts, ward FROM ("                  \
	" SELECT id, patient_id, start_ts, end_ts, coalesce(ward, 'unassigned') AS ward"  \
	" FROM encounter WHERE lower(class) IN " CL_INPATIENT_CLASSES                     \
	" AND start_ts IS NOT NULL"                                                       \
	" UNION ALL SELECT id, patient_id, start_ts, end_ts, 'all' FROM encounter"        \
	" WHERE lower(class) IN " CL_INPATIENT_CLASSES " AND start_ts IS NOT NULL))"

const struct cl_gold_table cl_gold_tables[] = {
	{ "gold_admissions_daily", "encounter",
	  "admissions, discharges, occupied beds, mean length of stay and 30-day "
	  "readmissions per day and ward (and 'all')",
	  "CREATE TABLE IF NOT EXISTS gold_admissions_daily(day TEXT NOT NULL, ward TEXT NOT NULL,"
	  " admissions INTEGER NOT NULL, discharges INTEGER NOT NULL, occupied INTEGER NOT NULL,"
	  " mean_los_days REAL, readmissions_30d INTEGER NOT NULL, readmission_rate REAL,"
	  " PRIMARY KEY(day, ward))",
	  "DELETE FROM gold_admissions_daily;"
	  "INSERT INTO gold_admissions_daily WITH " STAYS ","
	  " ev AS (SELECT ward, substr(start_ts, 1, 10) AS day, 1 AS delta, 1 AS adm, 0 AS dis,"
	  "   NULL AS los, 0 AS readm FROM stays"
	  "  UNION ALL SELECT ward, date(substr(end_ts, 1, 10), '+1 day'), -1, 0, 0, NULL, 0"
	  "   FROM stays WHERE end_ts IS NOT NULL"
	  "  UNION ALL SELECT s.ward, substr(s.end_ts, 1, 10), 0, 0, 1,"
	  "   julianday(s.end_ts) - julianday(s.start_ts),"
	  "   EXISTS (SELECT 1 FROM stays r WHERE r.ward = 'all' AND r.patient_id = s.patient_id"
	  "    AND r.start_ts > s.end_ts AND julianday(r.start_ts) - julianday(s.end_ts) <= 30)"
	  "   FROM stays s WHERE s.end_ts IS NOT NULL),"
	  " daily AS (SELECT ward, day, sum(adm) AS admissions, sum(dis) AS discharges,"
	  "   sum(sum(delta)) OVER (PARTITION BY ward ORDER BY day) AS occupied,"
	  "   avg(los) AS los, sum(readm) AS readm FROM ev GROUP BY ward, day)"
	  " SELECT day, ward, admissions, discharges, occupied, los, readm,"
	  "  CASE WHEN discharges > 0 THEN 1.0 * readm / discharges END FROM daily"
	  " WHERE admissions > 0 OR discharges > 0 OR occupied > 0;",
	  "day", "ward" },
	{ "gold_alerts_daily", "alert,device,encounter",
	  "alerts per day, ward, rule and severity, how many were acknowledged and the "
	  "median minutes to acknowledge",
	  "CREATE TABLE IF NOT EXISTS gold_alerts_daily(day TEXT NOT NULL, ward TEXT NOT NULL,"
	  " rule TEXT NOT NULL, severity TEXT NOT NULL, alerts INTEGER NOT NULL,"
	  " acknowledged INTEGER NOT NULL, mean_minutes_to_ack REAL,"
	  " PRIMARY KEY(day, ward, rule, severity))",
	  "DELETE FROM gold_alerts_daily;"
	  "INSERT INTO gold_alerts_daily SELECT strftime('%Y-%m-%d', a.opened_us / 1e6, 'unixepoch'),"
	  " coalesce((SELECT d.ward FROM device d WHERE d.id = a.device_id),"
	  "  (SELECT e.ward FROM encounter e WHERE e.patient_id = a.patient_id AND e.ward IS NOT NULL"
	  "   ORDER BY e.start_ts DESC LIMIT 1), 'unassigned') AS ward,"
	  " a.rule, a.severity, count(*), count(a.acked_us),"
	  " avg((a.acked_us - a.opened_us) / 60e6) FROM alert a WHERE a.category = 'clinical'"
	  " GROUP BY 1, 2, 3, 4;",
	  "day", "ward" },
	{ "gold_staffing", "shift,encounter",
	  "per ward, shift start and role: staff on shift against staff required, and "
	  "patients in beds per nurse",
	  "CREATE TABLE IF NOT EXISTS gold_staffing(ward TEXT NOT NULL, shift_start TEXT NOT NULL,"
	  " role TEXT NOT NULL, staffed INTEGER NOT NULL, required INTEGER, coverage REAL,"
	  " staffed_hours REAL, required_hours REAL, patients INTEGER, patients_per_staff REAL,"
	  " PRIMARY KEY(ward, shift_start, role))",
	  "DELETE FROM gold_staffing;"
	  "INSERT INTO gold_staffing SELECT ward, start_ts, coalesce(role, 'any'),"
	  " count(DISTINCT staff_id), max(required_staff),"
	  " CASE WHEN max(required_staff) > 0 THEN 1.0 * count(DISTINCT staff_id) /"
	  "  max(required_staff) END,"
	  " sum((julianday(end_ts) - julianday(start_ts)) * 24),"
	  " max(required_staff) * max((julianday(end_ts) - julianday(start_ts)) * 24),"
	  " (SELECT count(*) FROM encounter e WHERE e.ward = shift.ward AND e.start_ts <= shift.start_ts"
	  "  AND (e.end_ts IS NULL OR e.end_ts > shift.start_ts)) AS patients,"
	  " CASE WHEN count(DISTINCT staff_id) > 0 THEN 1.0 * (SELECT count(*) FROM encounter e"
	  "  WHERE e.ward = shift.ward AND e.start_ts <= shift.start_ts AND (e.end_ts IS NULL OR"
	  "  e.end_ts > shift.start_ts)) / count(DISTINCT staff_id) END"
	  " FROM shift GROUP BY ward, start_ts, coalesce(role, 'any');",
	  "shift_start", "ward" },
	{ "gold_bookings_daily", "booking",
	  "appointments per day and booking channel: attended, no-shows, cancelled and "
	  "the no-show rate",
	  "CREATE TABLE IF NOT EXISTS gold_bookings_daily(day TEXT NOT NULL, channel TEXT NOT NULL,"
	  " bookings INTEGER NOT NULL, attended INTEGER NOT NULL, no_shows INTEGER NOT NULL,"
	  " cancelled INTEGER NOT NULL, no_show_rate REAL, PRIMARY KEY(day, channel))",
	  "DELETE FROM gold_bookings_daily;"
	  "INSERT INTO gold_bookings_daily SELECT substr(appointment_ts, 1, 10),"
	  " coalesce(channel, 'unknown'), count(*), sum(status = 'attended'),"
	  " sum(status IN ('no_show', 'no-show', 'noshow')), sum(status = 'cancelled'),"
	  " 1.0 * sum(status IN ('no_show', 'no-show', 'noshow')) /"
	  "  nullif(sum(status IN ('attended', 'no_show', 'no-show', 'noshow')), 0)"
	  " FROM booking GROUP BY 1, 2;",
	  "day", NULL },
	{ "gold_communications_daily", "communication",
	  "messages per day, channel and direction, with their total duration",
	  "CREATE TABLE IF NOT EXISTS gold_communications_daily(day TEXT NOT NULL,"
	  " channel TEXT NOT NULL, direction TEXT NOT NULL, messages INTEGER NOT NULL,"
	  " total_duration_s REAL, PRIMARY KEY(day, channel, direction))",
	  "DELETE FROM gold_communications_daily;"
	  "INSERT INTO gold_communications_daily SELECT substr(ts, 1, 10), channel,"
	  " coalesce(direction, 'unknown'), count(*), sum(duration_s) FROM communication"
	  " GROUP BY 1, 2, 3;",
	  "day", NULL },
	{ "gold_survey_monthly", "survey_response",
	  "survey answers per month and question: responses, mean score and the share "
	  "satisfied (4 or 5 of 5)",
	  "CREATE TABLE IF NOT EXISTS gold_survey_monthly(month TEXT NOT NULL,"
	  " question TEXT NOT NULL, responses INTEGER NOT NULL, mean_score REAL,"
	  " satisfied_share REAL, PRIMARY KEY(month, question))",
	  "DELETE FROM gold_survey_monthly;"
	  "INSERT INTO gold_survey_monthly SELECT substr(ts, 1, 7), question, count(*),"
	  " avg(score), 1.0 * sum(score >= 4) / nullif(count(score), 0) FROM survey_response"
	  " GROUP BY 1, 2;",
	  "month", NULL },
	{ "gold_data_quality", "*",
	  "per source: files, rows kept in silver, records quarantined, references to "
	  "missing rows, and the quarantine rate",
	  "CREATE TABLE IF NOT EXISTS gold_data_quality(source TEXT PRIMARY KEY,"
	  " files INTEGER NOT NULL, rows INTEGER NOT NULL, quarantined INTEGER NOT NULL,"
	  " warnings INTEGER NOT NULL, quarantine_rate REAL)",
	  "DELETE FROM gold_data_quality;"
	  /* source_rows: each source's rows in each silver table, the
	   * quarantine and the warnings, kept by the change hook
	   * (cl_lake_track.c), not counted here */
	  "INSERT INTO gold_data_quality WITH r AS (SELECT source, rows AS n FROM source_rows"
	  "  WHERE table_name NOT IN ('quarantine', 'quality_warning')),"
	  " q AS (SELECT source, rows AS n FROM source_rows WHERE table_name = 'quarantine'),"
	  " w AS (SELECT source, rows AS n FROM source_rows WHERE table_name = 'quality_warning'),"
	  " src AS (SELECT source FROM r UNION SELECT source FROM q"
	  "  UNION SELECT source FROM bronze_file)"
	  " SELECT src.source, (SELECT count(*) FROM bronze_file b WHERE b.source = src.source),"
	  "  coalesce((SELECT sum(n) FROM r WHERE r.source = src.source), 0),"
	  "  coalesce(q.n, 0), coalesce(w.n, 0),"
	  "  1.0 * coalesce(q.n, 0) / nullif(coalesce((SELECT sum(n) FROM r WHERE r.source ="
	  "  src.source), 0) + coalesce(q.n, 0), 0)"
	  " FROM src LEFT JOIN q ON q.source = src.source LEFT JOIN w ON w.source = src.source;",
	  NULL, NULL },
	{ NULL, NULL, NULL, NULL, NULL, NULL, NULL },
};

