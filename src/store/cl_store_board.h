/*
 * The patients on the board: every patient the stream has scored (one
 * row of `news2` each), with their ward, their NEWS2 and its band, the
 * latest value of each vital and when it was read, and how many alerts
 * are open. What GET /api/v1/patients serves and the ICU board shows.
 */
#ifndef CL_STORE_BOARD_H
#define CL_STORE_BOARD_H

#include <stdint.h>

struct cl_store;

/* Which patients a board lists. */
struct cl_store_board_filter {
	const char *patient;   /* only this one (a patient token), NULL: any */
	const char *ward;      /* only those of this ward (cl_store_patient_ward), NULL: any */
	const char *wards;     /* only those of these ','-separated wards (a clinician bound
				* to wards), NULL: any */
	int64_t since_us;      /* latest vitals read at or after this (older: left out) */
	int limit;             /* the most patients */
};

/*
 * The patients as a JSON array (*json, free()), the highest NEWS2 first,
 * then by id: {"patient_id", "ward" (null: not known), "news2": {"score",
 * "risk", "ts"}, "last_reading" (the latest vital's time), "vitals":
 * {"<type>": {"value", "ts"}, ...}, "open_alerts"}.
 */
int cl_store_board_json(struct cl_store *s, const struct cl_store_board_filter *f, char **json);

#endif
