/*
 * `carelake audit verify|query|report`: the audit trail under
 * <data>/audit/ examined from the command line (audit/cl_audit_read):
 * verify checks every record and signed checkpoint and names the first
 * one changed, removed, inserted or reordered; query lists the records a
 * filter picks; report is the accounting of disclosures for one patient
 * (HIPAA 164.528): who accessed their data, when, how, with what outcome.
 * Reading the trail is not itself recorded: it holds no patient values,
 * and the compliance officers who read it are the audience of the trail.
 */
#include "cl_cli.h"
#include "audit/cl_audit.h"
#include "audit/cl_audit_read.h"
#include "core/cl_csv_write.h"
#include "core/cl_error.h"
#include "core/cl_fs.h"
#include "core/cl_mem.h"
#include "core/cl_time.h"

#include <jansson.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>

const char cl_cmd_audit_usage[] =
	"usage: carelake audit verify [--data DIR] [--trusted-keys FILE] [--json]\n"
	"       carelake audit query [--data DIR] [--patient ID] [--principal P] [--action A]\n"
	"                            [--since T] [--until T] [--limit N] [--format table|json|csv]\n"
	"       carelake audit report [--data DIR] --patient ID [--since T] [--until T]\n"
	"                            [--format table|json|csv]\n\n"
	"The audit trail under DATA/audit: every read, search, export, change and\n"
	"acknowledgement of patient data and every refused request, hash-chained and\n"
	"signed (docs/access.md).\n\n"
	"verify checks every record's hash and place in the chain and every checkpoint's\n"
	"Ed25519 signature (by the keys in DATA/audit/signing.pub, or only those of\n"
	"--trusted-keys); it names the first record changed, removed, inserted or\n"
	"reordered. query prints the records a filter picks, oldest first. report\n"
	"lists who accessed one patient's data, when, how and with what outcome (the\n"
	"accounting of disclosures), then the count per principal.\n"
	"T is an RFC 3339 time or a date (YYYY-MM-DD: its whole UTC day).\n\n"
	"exit status: 0 done (verify: intact), 1 verify found the trail altered,\n"
	"2 could not run\n\n";

/* What audit's options set. */
struct audit_args {
	const char *patient, *principal, *action, *since, *until, *format, *trusted_keys;
	uint64_t limit;
	int json;
};

const struct cl_opt cl_cmd_audit_opts[] = {
	CL_OPT_STRING("patient", struct audit_args, patient, "ID",
		      "query, report: records involving this patient id"),
	CL_OPT_STRING("principal", struct audit_args, principal, "P",
		      "query: records of this principal (a token id, a JWT sub, os:USER)"),
	CL_OPT_STRING("action", struct audit_args, action, "A",
		      "query: records of this action (read, search, export, create, ack, ...)"),
	CL_OPT_STRING("since", struct audit_args, since, "T", "query, report: at or after T"),
	CL_OPT_STRING("until", struct audit_args, until, "T", "query, report: at or before T"),
	CL_OPT_UINT("limit", struct audit_args, limit, 1, UINT32_MAX, "N",
		    "query: the first N records that match"),
	CL_OPT_STRING("format", struct audit_args, format, "F",
		      "query, report: table (default), json (an array of objects) or csv"),
	CL_OPT_STRING("trusted-keys", struct audit_args, trusted_keys, "FILE",
		      "verify: trust only these Ed25519 public keys (hex, one a line),\n"
		      "not the trail's own signing.pub"),
	CL_OPT_FLAG("json", struct audit_args, json, "verify: print the verdict as one JSON object"),
	CL_OPT_END,
};

/* A time bound: RFC 3339, or a date meaning its first (or, for an upper
 * bound, its last) microsecond. */
static int time_arg(const struct cl_cli *cli, const char *name, const char *s, int upper,
		    int64_t *out)
{
	char full[40];

	if (!s)
		return 0;
	if (strlen(s) == 10 && s[4] == '-' && s[7] == '-') {
		snprintf(full, sizeof(full), "%sT00:00:00Z", s);
		if (cl_time_parse_rfc3339(full, strlen(full), out) == CL_OK) {
			if (upper)
				*out += 86400ll * 1000000 - 1;
			return 0;
		}
	} else if (cl_time_parse_rfc3339(s, strlen(s), out) == CL_OK) {
		return 0;
	}
	return cl_cli_error(cli, "--%s: '%s' is not an RFC 3339 time or a YYYY-MM-DD date", name, s);
}

/* ---- verify ----------------------------------------------------------- */

static int verify(const struct cl_cli *cli, const char *dir, const struct audit_args *a)
{
	struct cl_audit_verify v;
	char *keys = NULL;
	size_t n;
	int rc;

	if (a->trusted_keys && cl_fs_read_file(a->trusted_keys, 1 << 20, &keys, &n) != CL_OK)
		return cl_cli_error(cli, "%s", cl_error_detail());
	rc = cl_audit_verify(dir, keys, &v);
	cl_free(keys);
	if (rc == CL_ENOENT)
		return cl_cli_error(cli, "no audit trail in %s (serve, query, export and bronze dump "
				    "write one)", dir);
	if (rc)
		return cl_cli_error(cli, "%s", cl_error_detail());
	if (a->json) {
		json_t *j = json_pack("{s:b,s:I,s:I,s:I,s:I,s:I}", "ok", v.ok, "records",
				      (json_int_t)v.records, "checkpoints", (json_int_t)v.checkpoints,
				      "last_seq", (json_int_t)v.last_seq, "unsigned_records",
				      (json_int_t)v.uncovered, "torn_bytes", (json_int_t)v.torn_bytes);
		if (!v.ok)
			json_object_set_new(j, "problem", json_pack("{s:s,s:I,s:I,s:s}", "file", v.file,
					    "line", (json_int_t)v.line, "seq", (json_int_t)v.seq,
					    "what", v.problem));
		json_dumpf(j, stdout, JSON_INDENT(2) | JSON_PRESERVE_ORDER);
		fputc('\n', stdout);
		json_decref(j);
	} else if (v.ok) {
		printf("intact: %llu records, %llu signed checkpoints, chain to seq %llu\n",
		       (unsigned long long)v.records, (unsigned long long)v.checkpoints,
		       (unsigned long long)v.last_seq);
		if (v.uncovered)
			printf("%llu records after the last checkpoint: chained, signed by the next one\n",
			       (unsigned long long)v.uncovered);
		if (v.torn_bytes)
			printf("a torn last line of %llu bytes (a crash during a write; never "
			       "acknowledged)\n", (unsigned long long)v.torn_bytes);
	} else {
		printf("ALTERED: %s line %llu", v.file, (unsigned long long)v.line);
		if (v.seq)
			printf(" (seq %llu)", (unsigned long long)v.seq);
		printf(": %s\n", v.problem);
	}
	return v.ok ? CL_EXIT_OK : CL_EXIT_FAIL;
}

/* ---- query and report -------------------------------------------------- */

enum out_format { OUT_TABLE, OUT_JSON, OUT_CSV };

/* The columns of query's and report's rows. */
static const char *const columns[] = {
	"seq", "time", "principal", "role", "client", "action", "resource_type", "resources",
	"patients", "count", "status", "break_glass", "request_id", "query",
};
#define NCOLUMNS (sizeof(columns) / sizeof(columns[0]))

/* A list of ids as one string "a b c" into buf. */
static const char *joined(const char *const *ids, size_t n, char *buf, size_t cap)
{
	size_t len = 0;

	buf[0] = '\0';
	for (size_t i = 0; i < n && len < cap; i++)
		len += (size_t)snprintf(buf + len, cap - len, "%s%s", i ? " " : "", ids[i]);
	return buf;
}

/* One record's values in the order of columns[]. */
static void values(const struct cl_audit_entry *e, char (*num)[24], char *ids, char *pats,
		   size_t cap, const char *v[NCOLUMNS])
{
	const struct cl_audit_record *r = &e->rec;
	const char *who = r->principal ? r->principal : "";

	snprintf(num[0], sizeof(num[0]), "%llu", (unsigned long long)e->seq);
	cl_time_format_rfc3339(r->time_us, num[1], sizeof(num[1]), 3);
	snprintf(num[2], sizeof(num[2]), "%lld", (long long)r->count);
	snprintf(num[3], sizeof(num[3]), "%d", r->status);
	v[0] = num[0], v[1] = num[1], v[2] = who, v[3] = r->role;
	v[4] = r->client && *r->client ? r->client : r->os_user ? r->os_user : NULL;
	v[5] = r->action, v[6] = r->resource_type;
	v[7] = joined(r->resource_ids, r->nresource_ids, ids, cap);
	v[8] = joined(r->patients, r->npatients, pats, cap);
	v[9] = num[2], v[10] = num[3], v[11] = r->break_glass, v[12] = r->request_id;
	v[13] = r->query;
	for (size_t i = 0; i < NCOLUMNS; i++)
		if (!v[i])
			v[i] = "";
}

/* What a search prints into. */
struct printer {
	enum out_format format;
	uint64_t limit, printed;
	json_t *rows;               /* OUT_JSON */
	json_t *by_principal;       /* report: accesses per principal */
};

/* One CSV row of NCOLUMNS fields (quoted as query --format csv does). */
static void csv_row(const char *const *v)
{
	for (size_t i = 0; i < NCOLUMNS; i++) {
		if (i)
			fputc(',', stdout);
		cl_csv_write_field(stdout, v[i], strlen(v[i]));
	}
	fputc('\n', stdout);
}

static int print_entry(void *arg, const struct cl_audit_entry *e)
{
	struct printer *p = arg;
	char num[4][24], ids[2048], pats[2048];
	const char *v[NCOLUMNS];

	if (p->limit && p->printed >= p->limit)
		return 1;
	values(e, num, ids, pats, sizeof(ids), v);
	if (p->by_principal) {
		json_t *c = json_object_get(p->by_principal, v[2]);
		json_object_set_new(p->by_principal, v[2],
				    json_integer(c ? json_integer_value(c) + 1 : 1));
	}
	if (p->format == OUT_JSON) {
		json_t *row = json_object();
		for (size_t i = 0; i < NCOLUMNS; i++)
			json_object_set_new(row, columns[i], json_string(v[i]));
		json_object_set_new(row, "seq", json_integer((json_int_t)e->seq));
		json_object_set_new(row, "count", json_integer(e->rec.count));
		json_object_set_new(row, "status", json_integer(e->rec.status));
		json_array_append_new(p->rows, row);
	} else if (p->format == OUT_CSV) {
		csv_row(v);
	} else {
		printf("%-6s %-24s %-18s %-10s %-16s %-7s %-14s %-24s %6s %s%s%s\n", v[0], v[1],
		       v[2], v[3], v[4], v[5], v[6], v[8], v[10], *v[11] ? "break-glass: " : "",
		       v[11], "");
	}
	p->printed++;
	return 0;
}

static int search(const struct cl_cli *cli, const char *dir, const struct audit_args *a,
		  const struct cl_audit_filter *f, int report)
{
	struct printer p = { .limit = report ? 0 : a->limit };
	int rc;

	if (!a->format || !strcmp(a->format, "table"))
		p.format = OUT_TABLE;
	else if (!strcmp(a->format, "json"))
		p.format = OUT_JSON;
	else if (!strcmp(a->format, "csv"))
		p.format = OUT_CSV;
	else
		return cl_cli_error(cli, "--format must be table, json or csv, not '%s'", a->format);
	if (report)
		p.by_principal = json_object();
	if (p.format == OUT_JSON) {
		p.rows = json_array();
	} else if (p.format == OUT_CSV) {
		csv_row((const char *const *)columns);
	} else {
		if (report)
			printf("access to the data of patient %s\n\n", f->patient);
		printf("%-6s %-24s %-18s %-10s %-16s %-7s %-14s %-24s %6s\n", "seq", "time",
		       "principal", "role", "client", "action", "resource", "patients", "status");
	}
	rc = cl_audit_search(dir, f, print_entry, &p);
	if (rc < 0) {
		json_decref(p.rows);
		json_decref(p.by_principal);
		return cl_cli_error(cli, "%s", cl_error_detail());
	}
	if (p.format == OUT_JSON) {
		json_t *out = p.rows;
		if (report)
			out = json_pack("{s:s,s:o,s:o}", "patient", f->patient, "accesses", p.rows,
					"by_principal", json_incref(p.by_principal));
		json_dumpf(out, stdout, JSON_INDENT(2) | JSON_PRESERVE_ORDER);
		fputc('\n', stdout);
		json_decref(out);
	} else if (p.format == OUT_TABLE) {
		printf("(%llu record%s)\n", (unsigned long long)p.printed, p.printed == 1 ? "" : "s");
		if (report && json_object_size(p.by_principal)) {
			const char *who;
			json_t *c;
			printf("\nby principal:\n");
			json_object_foreach(p.by_principal, who, c)
				printf("  %-24s %lld\n", who, (long long)json_integer_value(c));
		}
	}
	json_decref(p.by_principal);
	return fflush(stdout) == 0 ? CL_EXIT_OK : cl_cli_error(cli, "cannot write the output");
}

int cl_cmd_audit(int argc, char **argv)
{
	struct audit_args a = { 0 };
	struct cl_audit_filter f = { 0 };
	struct cl_cli cli;
	char dir[PATH_MAX];
	const char *sub;
	int nargs, rc;

	cl_cli_init(&cli, "audit");
	rc = cl_cli_parse(&cli, cl_cmd_audit_opts, &a, cl_cmd_audit_usage, argc, argv, &nargs);
	if (rc >= 0)
		return rc;
	if (nargs != 1)
		return cl_cli_error(&cli, nargs ? "one subcommand: verify, query or report"
					       : "which: verify, query or report? (see --help)");
	sub = argv[0];
	if (cl_audit_dir(cli.data_dir, dir, sizeof(dir)) != CL_OK)
		return cl_cli_error(&cli, "%s", cl_error_detail());
	if (!strcmp(sub, "verify"))
		return verify(&cli, dir, &a);
	if (strcmp(sub, "query") && strcmp(sub, "report"))
		return cl_cli_error(&cli, "unknown subcommand '%s': verify, query or report", sub);
	if (!strcmp(sub, "report") && (!a.patient || !*a.patient))
		return cl_cli_error(&cli, "report needs --patient ID");
	if (!strcmp(sub, "report") && (a.principal || a.action || a.limit))
		return cl_cli_error(&cli, "report takes --patient, --since, --until and --format");
	if ((rc = time_arg(&cli, "since", a.since, 0, &f.since_us)) ||
	    (rc = time_arg(&cli, "until", a.until, 1, &f.until_us)))
		return rc;
	f.patient = a.patient;
	f.principal = a.principal;
	f.action = a.action;
	return search(&cli, dir, &a, &f, !strcmp(sub, "report"));
}
