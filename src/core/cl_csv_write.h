/*
 * Writing CSV (RFC 4180): the one field writer every CSV output of
 * carelake uses (`query --format csv`, `table show`, `export`). Reading
 * CSV is the batch layer's (src/batch/cl_csv.h).
 */
#ifndef CL_CSV_WRITE_H
#define CL_CSV_WRITE_H

#include <stddef.h>
#include <stdio.h>

/* Writes n bytes of s as one CSV field: as it is, or quoted with its
 * quotes doubled when it holds a comma, a quote or a line break. NULL
 * writes nothing (an empty field). */
void cl_csv_write_field(FILE *f, const char *s, size_t n);

#endif
