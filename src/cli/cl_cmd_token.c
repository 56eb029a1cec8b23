/*
 * `carelake token issue|list|revoke|roles`: carelake's own API tokens
 * (auth/cl_tokens.h) and the table of what each role may do
 * (auth/cl_access.h). A secret is printed once, by issue, and never again.
 */
#include "cl_cli.h"
#include "auth/cl_access.h"
#include "auth/cl_tokens.h"
#include "core/cl_error.h"
#include "core/cl_mem.h"
#include "core/cl_time.h"

#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

const char cl_cmd_token_usage[] =
	"usage: carelake token issue --role ROLE [--patient ID] [--device ID] [--ward A,B]\n"
	"                            [--expires DURATION] [--name LABEL]\n"
	"                            [--broker-passwd FILE]\n"
	"       carelake token list\n"
	"       carelake token revoke ID\n"
	"       carelake token roles\n\n"
	"issue makes an API token for the server of the data directory and prints\n"
	"its id and, once, its secret (only a hash of it is kept). Roles: admin,\n"
	"engineer, clinician, patient, researcher, compliance, device, manager; a patient\n"
	"token is bound to --patient, a device token to --device, a clinician token\n"
	"may be limited to --ward. --broker-passwd also makes a device token the\n"
	"device's MQTT password: its line in mosquitto's password_file FILE\n"
	"(docs/mqtt.md). list shows every token (id, name, role, binding, created,\n"
	"expires, revoked, last used), never a secret. revoke ID takes effect at a\n"
	"running server's next request, and removes the device's line from FILE.\n"
	"mosquitto reads FILE again when it gets SIGHUP: reload it after both.\n"
	"roles prints what each role may do (docs/access.md).\n\n";

/* What token's options set. */
struct token_args {
	const char *role, *patient, *device, *ward, *name, *broker_passwd;
	int64_t expires;
};

const struct cl_opt cl_cmd_token_opts[] = {
	CL_OPT_STRING("role", struct token_args, role, "ROLE", "issue: the token's role"),
	CL_OPT_STRING("patient", struct token_args, patient, "ID",
		      "issue: the patient a patient token sees, alone"),
	CL_OPT_STRING("device", struct token_args, device, "ID",
		      "issue: the device a device token posts for"),
	CL_OPT_STRING("ward", struct token_args, ward, "A,B",
		      "issue: the wards a clinician token is limited to"),
	CL_OPT_DURATION("expires", struct token_args, expires, 1000000,
			100ULL * 366 * 86400 * 1000000, "DURATION",
			"issue: expires after this long (90d, 12h; default never)"),
	CL_OPT_STRING("name", struct token_args, name, "LABEL",
		      "issue: a label for list (who or what holds it)"),
	CL_OPT_STRING("broker-passwd", struct token_args, broker_passwd, "FILE",
		      "issue: a device token is also its MQTT password: its line in\n"
		      "mosquitto's password_file FILE (reload mosquitto after)"),
	CL_OPT_END,
};

/* Copies an option's text into a fixed field, refusing what does not fit. */
static int copy_field(const struct cl_cli *cli, char *dst, size_t cap, const char *v,
		      const char *opt)
{
	if (!v)
		return 0;
	if (strlen(v) >= cap || !*v)
		return cl_cli_error(cli, "--%s must be 1 to %zu characters", opt, cap - 1);
	memcpy(dst, v, strlen(v) + 1);
	return 0;
}

/* The broker password file's path, made absolute (revoke may run from
 * another directory), into spec. */
static int broker_file(const struct cl_cli *cli, struct cl_token_info *spec, const char *v)
{
	char cwd[PATH_MAX];
	int n;

	if (!v)
		return 0;
	if (!*v)
		return cl_cli_error(cli, "--broker-passwd needs mosquitto's password file");
	if (v[0] != '/' && !getcwd(cwd, sizeof(cwd)))
		return cl_cli_error(cli, "--broker-passwd %s: cannot tell the current directory", v);
	n = snprintf(spec->broker_passwd, sizeof(spec->broker_passwd), "%s%s%s",
		     v[0] == '/' ? "" : cwd, v[0] == '/' ? "" : "/", v);
	if (n < 0 || (size_t)n >= sizeof(spec->broker_passwd))
		return cl_cli_error(cli, "--broker-passwd: the path is longer than %zu characters",
				    sizeof(spec->broker_passwd) - 1);
	return 0;
}

/* Says what the operator has to do after the broker's file changed. */
static void tell_reload(const char *what, const char *device, const char *file)
{
	fprintf(stderr, "carelake token: %s the line of MQTT user '%s' in %s; reload mosquitto "
		"so that it reads the file again (kill -HUP its pid, or systemctl reload "
		"mosquitto)\n", what, device, file);
}

static int do_issue(const struct cl_cli *cli, const struct token_args *a)
{
	struct cl_token_info spec;
	char secret[128];

	memset(&spec, 0, sizeof(spec));
	if (!a->role)
		return cl_cli_error(cli, "issue needs --role (see carelake token roles)");
	spec.role = cl_role_by_name(a->role);
	if (spec.role == CL_ROLE_NONE)
		return cl_cli_error(cli, "no role '%s' (see carelake token roles)", a->role);
	if (copy_field(cli, spec.patient, sizeof(spec.patient), a->patient, "patient") ||
	    copy_field(cli, spec.device, sizeof(spec.device), a->device, "device") ||
	    copy_field(cli, spec.wards, sizeof(spec.wards), a->ward, "ward") ||
	    copy_field(cli, spec.name, sizeof(spec.name), a->name, "name") ||
	    broker_file(cli, &spec, a->broker_passwd))
		return CL_EXIT_USAGE;
	if (a->expires)
		spec.expires_us = cl_time_now_us() + a->expires;
	if (cl_tokens_issue(cli->data_dir, &spec, secret, sizeof(secret)) != CL_OK)
		return cl_cli_error(cli, "%s", cl_error_detail());
	printf("id %s\nrole %s\ntoken %s\n", spec.id, cl_role_name(spec.role), secret);
	fprintf(stderr, "carelake token: the token is shown once; only its hash is kept\n");
	if (spec.broker_passwd[0])
		tell_reload("wrote", spec.device, spec.broker_passwd);
	return CL_EXIT_OK;
}

/* A time for list: RFC 3339, or "-". */
static const char *when(int64_t us, char *buf, size_t cap)
{
	if (!us)
		return "-";
	cl_time_format_rfc3339(us, buf, cap, 0);
	return buf;
}

static int do_list(const struct cl_cli *cli)
{
	struct cl_token_info *t = NULL;
	size_t n = 0;

	if (cl_tokens_list(cli->data_dir, &t, &n) != CL_OK)
		return cl_cli_error(cli, "%s", cl_error_detail());
	printf("%-16s %-16s %-10s %-24s %-20s %-20s %-20s %s\n", "id", "name", "role", "binding",
	       "created", "expires", "revoked", "last used");
	for (size_t i = 0; i < n; i++) {
		char binding[640], c[40], e[40], r[40], u[40];

		snprintf(binding, sizeof(binding), "%s%s%s%s%s%s%s",
			 t[i].patient[0] ? "patient=" : "", t[i].patient,
			 t[i].device[0] ? "device=" : "", t[i].device,
			 t[i].wards[0] ? "wards=" : "", t[i].wards,
			 t[i].broker_passwd[0] ? " +mqtt" : "");
		printf("%-16s %-16s %-10s %-24s %-20s %-20s %-20s %s\n", t[i].id,
		       t[i].name[0] ? t[i].name : "-", cl_role_name(t[i].role),
		       binding[0] ? binding : "-", when(t[i].created_us, c, sizeof(c)),
		       when(t[i].expires_us, e, sizeof(e)), when(t[i].revoked_us, r, sizeof(r)),
		       when(t[i].last_used_us, u, sizeof(u)));
	}
	cl_free(t);
	return CL_EXIT_OK;
}

static int do_revoke(const struct cl_cli *cli, const char *id)
{
	struct cl_token_info done = { .revoked_us = 0 };
	int rc = cl_tokens_revoke(cli->data_dir, id, cl_time_now_us(), &done);

	if (done.revoked_us)
		printf("revoked %s\n", id); /* even when its broker line is left */
	if (rc != CL_OK)
		return cl_cli_error(cli, "%s", cl_error_detail());
	if (done.broker_passwd[0])
		tell_reload("removed", done.device, done.broker_passwd);
	return CL_EXIT_OK;
}

static int do_roles(void)
{
	char md[16384];

	cl_access_table_markdown(md, sizeof(md));
	fputs(md, stdout);
	return CL_EXIT_OK;
}

int cl_cmd_token(int argc, char **argv)
{
	struct token_args a = { 0 };
	const char *sub;
	struct cl_cli cli;
	int nargs, rc;

	cl_cli_init(&cli, "token");
	rc = cl_cli_parse(&cli, cl_cmd_token_opts, &a, cl_cmd_token_usage, argc, argv, &nargs);
	if (rc >= 0)
		return rc;
	if (!nargs)
		return cl_cli_error(&cli, "needs a subcommand: issue, list, revoke or roles");
	sub = argv[0];
	if (strcmp(sub, "issue") != 0 && (a.role || a.patient || a.device || a.ward || a.name ||
					  a.expires || a.broker_passwd))
		return cl_cli_error(&cli, "--role, --patient, --device, --ward, --expires, --name "
				    "and --broker-passwd are for issue");
	if (strcmp(sub, "issue") == 0 && nargs == 1)
		return do_issue(&cli, &a);
	if (strcmp(sub, "list") == 0 && nargs == 1)
		return do_list(&cli);
	if (strcmp(sub, "roles") == 0 && nargs == 1)
		return do_roles();
	if (strcmp(sub, "revoke") == 0) {
		if (nargs != 2)
			return cl_cli_error(&cli, "revoke takes one token ID (see token list)");
		return do_revoke(&cli, argv[1]);
	}
	if (strcmp(sub, "issue") && strcmp(sub, "list") && strcmp(sub, "roles"))
		return cl_cli_error(&cli, "unknown subcommand '%s' (issue, list, revoke or roles)",
				    sub);
	return cl_cli_error(&cli, "unexpected argument '%s'", argv[1]);
}
