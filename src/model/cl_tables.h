/*
 * The catalog of carelake's tables: what silver and gold hold, column by
 * column, and how each gold table is computed. Data, not code: the batch
 * layer writes these tables, the lake mirrors them as Delta tables, the
 * serving layer reads them, and all of them find a table here.
 *
 * Silver: the clean, deduplicated tables (one row per business key, with
 * lineage columns the batch layer adds), and beside them silver's own
 * record of what it refused (quarantine) or kept with a warning
 * (quality_warning). Gold: KPI tables computed from silver (and the
 * stream's alerts), each a pure function of them (docs/gold.md).
 */
#ifndef CL_TABLES_H
#define CL_TABLES_H

enum cl_col_type { CL_COL_TEXT, CL_COL_REAL, CL_COL_INT };

struct cl_column {
	const char *name;
	enum cl_col_type type;
	int required;            /* a row without it is quarantined */
	const char *references;  /* "patient": the id must exist there (warned) */
};

#define CL_SILVER_MAX_COLS 24

struct cl_table {
	const char *name;
	const char *doc;
	const struct cl_column *cols;   /* cols[0] is the key, "id" */
	int ncols;
	const char *indexes;            /* extra CREATE INDEX statements */
};

/* The silver tables, NULL-name terminated (CL_SILVER_TABLES of them). */
#define CL_SILVER_TABLES 14
extern const struct cl_table cl_silver_tables[];

/* The silver table of that name, or NULL. */
const struct cl_table *cl_silver_table(const char *name);

/* Silver's record of refused rows and warnings. */
struct cl_aux_table {
	const char *name;      /* "quarantine", "quality_warning" */
	const char *doc;
	const char *create;    /* its CREATE TABLE (and index) statements */
};

/* The auxiliary silver tables, NULL-name terminated. */
extern const struct cl_aux_table cl_silver_aux_tables[];

/* 1 if name is one of them. */
int cl_silver_is_aux(const char *name);

/*
 * Lineage, narrow: a silver row names the file it came from by a small
 * number, `_file_id`, an id of lineage_file, which keeps each file's name
 * once: the bronze file's content hash (its bronze_file.hash), or
 * "log:<source>" for the records of a bronze log (log:vitals, log:fhir).
 * The Delta copy and exports show it as `_bronze_file`, that text, as they
 * always have (CL_LINEAGE_FILE_OF). Stores made before keep the hash in
 * every row (`_bronze_file`); cl_silver_open migrates them.
 */
#define CL_LINEAGE_FILE_CREATE                                                                 \
	"CREATE TABLE IF NOT EXISTS lineage_file(id INTEGER PRIMARY KEY, file TEXT NOT NULL"   \
	" UNIQUE)"
/* The SQL of the file a row's id names; col: the id's column. */
#define CL_LINEAGE_FILE_OF(col) "(SELECT file FROM lineage_file WHERE id = " col ")"


/* The encounter classes that are inpatient stays (SQL, compared with
 * lower(class)): FHIR's IMP, ACUTE and EMER, Synthea's inpatient and
 * emergency. The gold tables and a ward's census count these. */
#define CL_INPATIENT_CLASSES "('imp', 'inpatient', 'acute', 'emer', 'emergency')"

/* A gold table: its name ("gold_admissions_daily"), what it is computed
 * from, and the SQL that creates and recomputes it (NULL: its module
 * computes the rows, as the readmission model's scoring does). */
struct cl_gold_table {
	const char *name;
	const char *inputs;    /* the tables it is computed from, by ','; "*": all */
	const char *doc;
	const char *create;    /* the table */
	const char *refresh;   /* recomputes its rows */
	const char *period;    /* the column that dates a row ("day", "month",
				* "shift_start"; NULL: not dated) */
	const char *ward;      /* the column that names its ward (NULL: none) */
	int per_patient;       /* a row is about one patient: not a KPI, and
				* read only as patients' data or de-identified */
};

/* The gold tables, NULL-name terminated. */
extern const struct cl_gold_table cl_gold_tables[];


#endif
