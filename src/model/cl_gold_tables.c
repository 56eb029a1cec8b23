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
	  "day", "ward", 0 },
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
	  "day", "ward", 0 },
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
	  "shift_start", "ward", 0 },
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
	  "day", NULL, 0 },
	{ "gold_communications_daily", "communication",
	  "messages per day, channel and direction, with their total duration",
	  "CREATE TABLE IF NOT EXISTS gold_communications_daily(day TEXT NOT NULL,"
	  " channel TEXT NOT NULL, direction TEXT NOT NULL, messages INTEGER NOT NULL,"
	  " total_duration_s REAL, PRIMARY KEY(day, channel, direction))",
	  "DELETE FROM gold_communications_daily;"
	  "INSERT INTO gold_communications_daily SELECT substr(ts, 1, 10), channel,"
	  " coalesce(direction, 'unknown'), count(*), sum(duration_s) FROM communication"
	  " GROUP BY 1, 2, 3;",
	  "day", NULL, 0 },
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
	  "month", NULL, 0 },
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
	  NULL, NULL, 0 },
	{ "gold_readmission_features", "patient,encounter,condition,medication_request,procedure,"
	  "observation,booking",
	  "one row per hospital stay (inpatient, emergency and ICU encounters, transfers joined): "
	  "the 30-day unplanned readmission label, why a stay is left out (died in the stay, "
	  "censored, still in hospital), and the features known at discharge, each from records "
	  "dated no later than the discharge (for a stay in progress: than the refresh) "
	  "(docs/ml.md)",
	  "CREATE TABLE IF NOT EXISTS gold_readmission_features(stay_id TEXT PRIMARY KEY,"
	  " patient_id TEXT NOT NULL, admit_ts TEXT NOT NULL, discharge_ts TEXT NOT NULL,"
	  " month TEXT NOT NULL, ward TEXT, cohort TEXT NOT NULL, readmitted_30d INTEGER,"
	  " days_to_readmission REAL, planned INTEGER NOT NULL, age_years REAL, sex_female INTEGER,"
	  " los_days REAL NOT NULL, emergency INTEGER NOT NULL, icu INTEGER NOT NULL,"
	  " oncology INTEGER NOT NULL, encounters INTEGER NOT NULL, charlson INTEGER NOT NULL,"
	  " ed_visits_6m INTEGER NOT NULL, ed_visits_12m INTEGER NOT NULL,"
	  " admissions_6m INTEGER NOT NULL, admissions_12m INTEGER NOT NULL,"
	  " medications INTEGER NOT NULL, procedures INTEGER NOT NULL,"
	  " followup_booked INTEGER NOT NULL, heart_rate REAL, respiratory_rate REAL, spo2 REAL, systolic_bp REAL, temperature REAL,"
	  " heart_rate_trend REAL, respiratory_rate_trend REAL, spo2_trend REAL,"
	  " systolic_bp_trend REAL, temperature_trend REAL, news2 INTEGER,"
	  " abnormal_vitals INTEGER NOT NULL, hemoglobin REAL, sodium REAL,"
	  " lace INTEGER NOT NULL, hospital_score INTEGER NOT NULL)",
	  "DELETE FROM gold_readmission_features;"
	  /* the stays, once, indexed: an encounter starting within an hour of
	   * the end of the patient's stay so far continues it (a transfer
	   * between wards) */
	  "DROP TABLE IF EXISTS temp.readm_stay;"
	  "CREATE TEMP TABLE readm_stay AS WITH"
	  /* a stay still in progress at the refresh (refresh_time(), the
	   * function cl_gold_refresh registers) ends, for its features, then */
	  " enc AS (SELECT id, patient_id, start_ts, CASE WHEN end_ts IS NULL"
	  "  OR end_ts > refresh_time() THEN refresh_time() ELSE end_ts END AS end_ts,"
	  "  end_ts IS NULL OR end_ts > refresh_time() AS open, ward, code, lower(class) AS cls"
	  "  FROM encounter WHERE lower(class) IN " CL_INPATIENT_CLASSES
	  "  AND start_ts IS NOT NULL AND start_ts <= refresh_time()"
	  "  AND (end_ts IS NULL OR end_ts >= start_ts)),"
	  " marked AS (SELECT *, CASE WHEN julianday(start_ts) - julianday(max(end_ts) OVER"
	  "  (PARTITION BY patient_id ORDER BY start_ts, id ROWS BETWEEN UNBOUNDED PRECEDING"
	  "  AND 1 PRECEDING)) <= 1.0 / 24 THEN 0 ELSE 1 END AS new_stay FROM enc),"
	  " grouped AS (SELECT *, sum(new_stay) OVER (PARTITION BY patient_id ORDER BY start_ts, id"
	  "  ROWS UNBOUNDED PRECEDING) AS g FROM marked),"
	  " firsts AS (SELECT *, first_value(id) OVER w AS stay_id, first_value(code) OVER w AS"
	  "  admit_code, last_value(ward) OVER w AS last_ward"
	  "  FROM grouped WINDOW w AS (PARTITION BY patient_id, g ORDER BY start_ts, id"
	  "  ROWS BETWEEN UNBOUNDED PRECEDING AND UNBOUNDED FOLLOWING))"
	  " SELECT stay_id, patient_id, min(start_ts) AS admit_ts, max(end_ts) AS discharge_ts,"
	  "  max(last_ward) AS ward, count(*) AS encounters,"
	  "  max(coalesce(admit_code, '') = '8715000') AS planned,"
	  "  1 - max(coalesce(admit_code, '') = '8715000') AS emergency,"
	  "  max(upper(coalesce(ward, '')) LIKE '%ICU%') AS icu,"
	  "  max(lower(coalesce(ward, '')) LIKE '%onco%') AS onc_ward,"
	  "  max(cls IN ('imp', 'inpatient', 'acute')) AS admitted, max(open) AS open"
	  "  FROM firsts GROUP BY patient_id, g;"
	  "CREATE INDEX temp.readm_stay_patient ON readm_stay(patient_id, admit_ts);"
	  "INSERT INTO gold_readmission_features WITH"
	  " data_end AS (SELECT max(coalesce(end_ts, start_ts)) AS t FROM encounter),"
	  /* the Charlson categories of each stay's patient, from conditions
	   * with an onset no later than the discharge (the SQL functions are
	   * model/cl_charlson.h's, registered by the gold refresh) */
	  " cats AS (SELECT DISTINCT s.stay_id, charlson_category(c.code) AS cat"
	  "  FROM readm_stay s JOIN condition c ON c.patient_id = s.patient_id"
	  "  AND c.onset_ts <= s.discharge_ts WHERE charlson_category(c.code) IS NOT NULL),"
	  " charlson AS (SELECT stay_id, charlson_index(sum(1 << cat)) AS score,"
	  "  charlson_cancer(sum(1 << cat)) AS cancer FROM cats GROUP BY stay_id),"
	  /* the last value of each vital before the discharge, within the stay,
	   * and its change over the last 24 hours */
	  " vit AS (SELECT s.stay_id, o.code, o.value, o.effective_ts,"
	  "  row_number() OVER (PARTITION BY s.stay_id, o.code ORDER BY o.effective_ts DESC) AS rn_last,"
	  "  row_number() OVER (PARTITION BY s.stay_id, o.code ORDER BY o.effective_ts) AS rn_first"
	  "  FROM readm_stay s JOIN observation o ON o.patient_id = s.patient_id"
	  "  AND o.effective_ts >= s.admit_ts AND o.effective_ts <= s.discharge_ts"
	  "  AND julianday(s.discharge_ts) - julianday(o.effective_ts) <= 1"
	  "  AND o.value IS NOT NULL AND o.code IN ('8867-4', '9279-1', '59408-5', '2708-6',"
	  "  '8480-6', '8310-5')),"
	  " vitals AS (SELECT stay_id,"
	  "  max(CASE WHEN code = '8867-4' AND rn_last = 1 THEN value END) AS hr,"
	  "  max(CASE WHEN code = '9279-1' AND rn_last = 1 THEN value END) AS rr,"
	  "  max(CASE WHEN code IN ('59408-5', '2708-6') AND rn_last = 1 THEN value END) AS spo2,"
	  "  max(CASE WHEN code = '8480-6' AND rn_last = 1 THEN value END) AS sbp,"
	  "  max(CASE WHEN code = '8310-5' AND rn_last = 1 THEN value END) AS temp,"
	  "  max(CASE WHEN code = '8867-4' AND rn_last = 1 THEN value END)"
	  "   - max(CASE WHEN code = '8867-4' AND rn_first = 1 THEN value END) AS hr_t,"
	  "  max(CASE WHEN code = '9279-1' AND rn_last = 1 THEN value END)"
	  "   - max(CASE WHEN code = '9279-1' AND rn_first = 1 THEN value END) AS rr_t,"
	  "  max(CASE WHEN code IN ('59408-5', '2708-6') AND rn_last = 1 THEN value END)"
	  "   - max(CASE WHEN code IN ('59408-5', '2708-6') AND rn_first = 1 THEN value END) AS spo2_t,"
	  "  max(CASE WHEN code = '8480-6' AND rn_last = 1 THEN value END)"
	  "   - max(CASE WHEN code = '8480-6' AND rn_first = 1 THEN value END) AS sbp_t,"
	  "  max(CASE WHEN code = '8310-5' AND rn_last = 1 THEN value END)"
	  "   - max(CASE WHEN code = '8310-5' AND rn_first = 1 THEN value END) AS temp_t"
	  "  FROM vit GROUP BY stay_id),"
	  " base AS (SELECT s.*, p.gender, p.birth_date, p.death_date,"
	  "  julianday(s.discharge_ts) - julianday(s.admit_ts) AS los,"
	  "  coalesce(ch.score, 0) AS charlson, coalesce(ch.cancer, 0) AS cancer,"
	  "  (SELECT count(*) FROM encounter e WHERE e.patient_id = s.patient_id"
	  "   AND lower(e.class) IN ('emer', 'emergency') AND e.start_ts < s.admit_ts"
	  "   AND julianday(s.admit_ts) - julianday(e.start_ts) <= 182.5) AS ed6,"
	  "  (SELECT count(*) FROM encounter e WHERE e.patient_id = s.patient_id"
	  "   AND lower(e.class) IN ('emer', 'emergency') AND e.start_ts < s.admit_ts"
	  "   AND julianday(s.admit_ts) - julianday(e.start_ts) <= 365) AS ed12,"
	  "  (SELECT count(*) FROM readm_stay r WHERE r.patient_id = s.patient_id AND r.admitted"
	  "   AND r.admit_ts < s.admit_ts AND julianday(s.admit_ts) - julianday(r.admit_ts) <= 182.5)"
	  "   AS adm6,"
	  "  (SELECT count(*) FROM readm_stay r WHERE r.patient_id = s.patient_id AND r.admitted"
	  "   AND r.admit_ts < s.admit_ts AND julianday(s.admit_ts) - julianday(r.admit_ts) <= 365)"
	  "   AS adm12,"
	  "  (SELECT count(DISTINCT coalesce(m.code, m.display)) FROM medication_request m"
	  "   WHERE m.patient_id = s.patient_id AND m.authored_ts >= s.admit_ts"
	  "   AND m.authored_ts <= s.discharge_ts) AS meds,"
	  "  (SELECT count(*) FROM procedure x WHERE x.patient_id = s.patient_id"
	  "   AND x.performed_start >= s.admit_ts AND x.performed_start <= s.discharge_ts) AS procs,"
	  /* a follow-up booked by the discharge for the 7 days after it (one
	   * booked later, or with no booking time, is not known then) */
	  "  EXISTS (SELECT 1 FROM booking b WHERE b.patient_id = s.patient_id"
	  "   AND b.booked_ts <= s.discharge_ts AND b.appointment_ts > s.discharge_ts"
	  "   AND julianday(b.appointment_ts) - julianday(s.discharge_ts) <= 7"
	  "   AND coalesce(lower(b.status), '') <> 'entered-in-error') AS fu,"
	  "  (SELECT count(*) FROM observation o WHERE o.patient_id = s.patient_id"
	  "   AND o.effective_ts >= s.admit_ts AND o.effective_ts <= s.discharge_ts AND ("
	  "   (o.code = '8867-4' AND (o.value > 110 OR o.value < 50))"
	  "   OR (o.code = '9279-1' AND (o.value > 24 OR o.value < 9))"
	  "   OR (o.code IN ('59408-5', '2708-6') AND o.value < 92)"
	  "   OR (o.code = '8480-6' AND (o.value < 100 OR o.value > 180))"
	  "   OR (o.code = '8310-5' AND (o.value > 38.5 OR o.value < 35.5)))) AS abnormal,"
	  "  (SELECT o.value FROM observation o WHERE o.patient_id = s.patient_id AND o.code = '718-7'"
	  "   AND o.value IS NOT NULL AND o.effective_ts <= s.discharge_ts"
	  "   AND o.effective_ts >= s.admit_ts ORDER BY o.effective_ts DESC LIMIT 1) AS hgb,"
	  "  (SELECT o.value FROM observation o WHERE o.patient_id = s.patient_id"
	  "   AND o.code IN ('2951-2', '2947-0') AND o.value IS NOT NULL"
	  "   AND o.effective_ts <= s.discharge_ts AND o.effective_ts >= s.admit_ts"
	  "   ORDER BY o.effective_ts DESC LIMIT 1) AS na,"
	  /* the outcome: an unplanned admission beginning within 30 days (an
	   * emergency visit that admits no one is not one) */
	  "  (SELECT min(julianday(r.admit_ts) - julianday(s.discharge_ts)) FROM readm_stay r"
	  "   WHERE r.patient_id = s.patient_id AND r.admit_ts > s.discharge_ts AND r.planned = 0"
	  "   AND r.admitted"
	  "   AND julianday(r.admit_ts) - julianday(s.discharge_ts) <= 30) AS readm_days,"
	  "  v.hr, v.rr, v.spo2, v.sbp, v.temp, v.hr_t, v.rr_t, v.spo2_t, v.sbp_t, v.temp_t"
	  "  FROM readm_stay s LEFT JOIN patient p ON p.id = s.patient_id"
	  "  LEFT JOIN charlson ch ON ch.stay_id = s.stay_id LEFT JOIN vitals v ON v.stay_id = s.stay_id),"
	  " labelled AS (SELECT *,"
	  "  CASE WHEN open THEN 'inpatient'"
	  "   WHEN death_date IS NOT NULL AND substr(death_date, 1, 10) <= substr(discharge_ts, 1, 10)"
	  "   THEN 'died_in_stay'"
	  "   WHEN readm_days IS NOT NULL THEN 'index'"
	  "   WHEN death_date IS NOT NULL AND julianday(death_date) - julianday(discharge_ts) <= 30"
	  "   THEN 'censored_death'"
	  "   WHEN julianday((SELECT t FROM data_end)) - julianday(discharge_ts) < 30"
	  "   THEN 'censored_followup' ELSE 'index' END AS cohort FROM base)"
	  " SELECT stay_id, patient_id, admit_ts, discharge_ts, substr(discharge_ts, 1, 7), ward,"
	  "  cohort, CASE WHEN cohort = 'index' THEN readm_days IS NOT NULL END,"
	  "  readm_days, planned,"
	  "  (julianday(admit_ts) - julianday(birth_date)) / 365.25,"
	  "  CASE lower(gender) WHEN 'female' THEN 1 WHEN 'male' THEN 0 END,"
	  "  los, emergency, icu, onc_ward OR cancer, encounters, charlson, ed6, ed12, adm6, adm12,"
	  "  meds, procs, fu, hr, rr, spo2, sbp, temp, hr_t, rr_t, spo2_t, sbp_t, temp_t,"
	  /* NEWS2 from the last values (SpO2 scale 1; air and alert assumed
	   * where not recorded) */
	  "  CASE WHEN hr IS NULL AND rr IS NULL AND spo2 IS NULL AND sbp IS NULL AND temp IS NULL"
	  "   THEN NULL ELSE"
	  "   CASE WHEN rr IS NULL THEN 0 WHEN rr <= 8 THEN 3 WHEN rr <= 11 THEN 1 WHEN rr <= 20"
	  "    THEN 0 WHEN rr <= 24 THEN 2 ELSE 3 END"
	  "   + CASE WHEN spo2 IS NULL THEN 0 WHEN spo2 <= 91 THEN 3 WHEN spo2 <= 93 THEN 2"
	  "    WHEN spo2 <= 95 THEN 1 ELSE 0 END"
	  "   + CASE WHEN sbp IS NULL THEN 0 WHEN sbp <= 90 THEN 3 WHEN sbp <= 100 THEN 2"
	  "    WHEN sbp <= 110 THEN 1 WHEN sbp <= 219 THEN 0 ELSE 3 END"
	  "   + CASE WHEN hr IS NULL THEN 0 WHEN hr <= 40 THEN 3 WHEN hr <= 50 THEN 1"
	  "    WHEN hr <= 90 THEN 0 WHEN hr <= 110 THEN 1 WHEN hr <= 130 THEN 2 ELSE 3 END"
	  "   + CASE WHEN temp IS NULL THEN 0 WHEN temp <= 35.0 THEN 3 WHEN temp <= 36.0 THEN 1"
	  "    WHEN temp <= 38.0 THEN 0 WHEN temp <= 39.0 THEN 1 ELSE 2 END END,"
	  "  abnormal, hgb, na,"
	  /* LACE (van Walraven et al. 2010): length of stay, acuity,
	   * Charlson, emergency visits in the prior 6 months */
	  "  CASE WHEN los < 1 THEN 0 WHEN los < 2 THEN 1 WHEN los < 3 THEN 2 WHEN los < 4 THEN 3"
	  "   WHEN los < 7 THEN 4 WHEN los < 14 THEN 5 ELSE 7 END + 3 * emergency"
	  "  + CASE WHEN charlson >= 4 THEN 5 ELSE charlson END + min(ed6, 4),"
	  /* HOSPITAL (Donzé et al. 2013): haemoglobin < 12 g/dL, oncology
	   * discharge, sodium < 135, procedure, urgent admission, admissions in
	   * the prior 12 months, a stay of 5 days or more */
	  "  (coalesce(hgb, 99) < 12) + 2 * (onc_ward OR cancer) + (coalesce(na, 999) < 135)"
	  "  + (procs > 0) + emergency + CASE WHEN adm12 <= 1 THEN 0 WHEN adm12 <= 5 THEN 2"
	  "   ELSE 5 END + 2 * (los >= 5)"
	  " FROM labelled;"
	  "DROP TABLE temp.readm_stay;",
	  "month", "ward", 1 },
	{ "gold_readmission_risk", "patient,encounter,condition,medication_request,procedure,"
	  "observation,booking",
	  "the promoted readmission model's risk for every stay in progress and every stay "
	  "discharged alive in the last 30 days: the probability of an unplanned readmission "
	  "within 30 days, its band and the features that contributed most (docs/ml.md)",
	  "CREATE TABLE IF NOT EXISTS gold_readmission_risk(stay_id TEXT PRIMARY KEY,"
	  " patient_id TEXT NOT NULL, ward TEXT, admit_ts TEXT NOT NULL, discharge_ts TEXT,"
	  " status TEXT NOT NULL, scored_ts TEXT NOT NULL, model_version INTEGER NOT NULL,"
	  " model TEXT NOT NULL, risk REAL NOT NULL, band TEXT NOT NULL, factors TEXT NOT NULL,"
	  " lace INTEGER NOT NULL, hospital_score INTEGER NOT NULL);"
	  "CREATE INDEX IF NOT EXISTS gold_readmission_risk_patient ON"
	  " gold_readmission_risk(patient_id, admit_ts)",
	  NULL, "admit_ts", "ward", 1 },
	{ NULL, NULL, NULL, NULL, NULL, NULL, NULL, 0 },
};

