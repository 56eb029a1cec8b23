/*
 * XLSX spreadsheets (Office Open XML): one sheet — the first, or one named
 * — as CSV text, so the same mappings read it as they read CSV files. A
 * workbook is a zip (libzip) of XML parts (libxml2's streaming reader):
 * the workbook lists the sheets, its relationships say which part each
 * is, shared strings hold the text, styles say which numbers are dates.
 * Dates (numbers in a date format: serial days since 1899-12-31, or
 * 1904-01-01 for a workbook that says so, counting Excel's 29 February
 * 1900) become RFC 3339 dates and times, numbers in a time format alone a
 * time of day (HH:MM:SS; hours past 24 for a duration); booleans become
 * true and false; empty cells become empty fields, and a row with no text
 * in any cell is no record; the header is the sheet's first row.
 *
 * Hostile workbooks: a part declaring a document type (<!DOCTYPE>: where
 * entities, expanding or external, are declared) is refused; so is a part
 * that inflates past 256 MiB (whatever size the zip declares), and a sheet
 * whose text (shared strings repeated) grows past 256 MiB. A cell out of
 * column order, a reference that is no cell, or a shared string that does
 * not exist is an error naming the cell.
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
