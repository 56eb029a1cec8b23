/*
 * XLSX spreadsheets (Office Open XML): one sheet — the first, or one named
 * — as CSV text, so the same mappings read it as they read CSV files. A
 * workbook is a zip (libzip) of XML parts (libxml2's streaming reader):
 * the workbook lists the sheets, its relationships say which part each
 * is, shared strings hold the text, styles say which numbers are dates.
 * Dates (numbers in a date format: serial days since 1899-12-30, or 1904
 * for a workbook that says so) become RFC 3339 dates and times; empty
 * cells become empty fields; the header is the sheet's first row.
 */
#ifndef CL_XLSX_H
#define CL_XLSX_H

#include <stddef.h>

/* 1 if the bytes are a zip holding xl/workbook.xml. */
int cl_xlsx_sniff(const char *data, size_t len);

/* The sheet (NULL or "": the first) as CSV (cl_malloc'd, comma-separated,
 * RFC 4180 quoting). CL_ENOENT names the sheets there are when the named
 * one is missing; CL_EPARSE says what part is broken. */
int cl_xlsx_to_csv(const char *data, size_t len, const char *sheet, char **csv, size_t *csv_len);

#endif
