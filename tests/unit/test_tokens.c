/*
 * Tokens of every role (auth/cl_tokens): issued with their bindings and
 * shown once, listed without their secrets, refused once revoked or
 * expired — by a store opened before the change, at its next check, told
 * by the change count the commands keep (a hand edit within a second) — and
 * the bindings a role needs or may not have; a device token as its MQTT
 * password in a mosquitto password file, and out of it once revoked. And
 * the role table (auth/cl_access) as it is documented.
 */
#include "cl_test.h"
#include "auth/cl_broker_passwd.h"
#include "auth/cl_tokens.h"
#include "core/cl_error.h"
#include "core/cl_fs.h"
#include "core/cl_mem.h"
#include "core/cl_time.h"

#include <sys/stat.h>

static char dir[256];

static void issue(const char *data, struct cl_token_info *spec, char *token)
{
	if (cl_tokens_issue(data, spec, token, 80) != CL_OK)
		fail_msg("issue: %s", cl_error_detail());
	assert_int_equal(strlen(token), 68);
	assert_int_equal(strncmp(spec->id, "tk", 2), 0);
}

static void test_issue_check_revoke(void **state)
{
	char data[300], path[400], nurse_tok[80], pat_tok[80], dev_tok[80], old_tok[80];
	struct cl_token_info nurse = { .role = CL_ROLE_CLINICIAN }, pat = { .role = CL_ROLE_PATIENT };
	struct cl_token_info dev = { .role = CL_ROLE_DEVICE }, old = { .role = CL_ROLE_ENGINEER };
	struct cl_token_info *list;
	struct cl_principal p;
	struct cl_tokens *t;
	size_t n;
	int created;
	int64_t now = cl_time_now_us();
	char *text;
	size_t len;

	(void)state;
	snprintf(data, sizeof(data), "%s/issue", dir);
	mkdir(data, 0700);
	assert_int_equal(cl_tokens_open(data, &t, &created), CL_OK);
	assert_int_equal(created, 1);
	snprintf(nurse.name, sizeof(nurse.name), "night nurse");
	snprintf(nurse.wards, sizeof(nurse.wards), "ICU-A,ICU-B");
	issue(data, &nurse, nurse_tok);
	snprintf(pat.patient, sizeof(pat.patient), "patient-0007");
	issue(data, &pat, pat_tok);
	snprintf(dev.device, sizeof(dev.device), "monitor-0003");
	issue(data, &dev, dev_tok);
	old.expires_us = now + 1000000; /* a second */
	issue(data, &old, old_tok);

	/* the store opened before sees them at its next check */
	assert_int_equal(cl_tokens_check(t, nurse_tok, 68, now, &p), CL_OK);
	assert_int_equal(p.role, CL_ROLE_CLINICIAN);
	assert_string_equal(p.wards, "ICU-A,ICU-B");
	assert_string_equal(p.name, "night nurse");
	assert_string_equal(p.id, nurse.id);
	assert_int_equal(cl_tokens_check(t, pat_tok, 68, now, &p), CL_OK);
	assert_string_equal(p.patient, "patient-0007");
	assert_int_equal(cl_tokens_check(t, dev_tok, 68, now, &p), CL_OK);
	assert_string_equal(p.device, "monitor-0003");
	assert_int_equal(cl_tokens_check(t, old_tok, 68, now, &p), CL_OK);
	/* expired */
	assert_int_equal(cl_tokens_check(t, old_tok, 68, now + 2000000, &p), CL_EINVAL);
	assert_non_null(strstr(cl_error_detail(), "expired"));
	/* revoked: refused at the next check, and only once revocable */
	assert_int_equal(cl_tokens_revoke(data, nurse.id, now, NULL), CL_OK);
	assert_int_equal(cl_tokens_check(t, nurse_tok, 68, now, &p), CL_EINVAL);
	assert_non_null(strstr(cl_error_detail(), "revoked"));
	assert_int_equal(cl_tokens_revoke(data, nurse.id, now, NULL), CL_EEXIST);
	assert_int_equal(cl_tokens_revoke(data, "tk00000000000000", now, NULL), CL_ENOENT);
	/* the others still hold */
	assert_int_equal(cl_tokens_check(t, pat_tok, 68, now, &p), CL_OK);

	/* listed, with their bindings and times, never their secrets */
	assert_int_equal(cl_tokens_save_usage(t), CL_OK);
	assert_int_equal(cl_tokens_list(data, &list, &n), CL_OK);
	assert_int_equal(n, 5);
	assert_int_equal(list[0].role, CL_ROLE_ADMIN);
	assert_string_equal(list[1].id, nurse.id);
	assert_true(list[1].revoked_us > 0);
	assert_true(list[1].last_used_us > 0);
	assert_string_equal(list[2].patient, "patient-0007");
	assert_string_equal(list[3].device, "monitor-0003");
	assert_true(list[4].expires_us > 0);
	assert_true(list[0].created_us > 0);
	cl_free(list);
	snprintf(path, sizeof(path), "%s/auth/tokens", data);
	assert_int_equal(cl_fs_read_file(path, 1 << 20, &text, &len), CL_OK);
	assert_null(strstr(text, nurse_tok + 4));
	assert_null(strstr(text, pat_tok + 4));
	cl_free(text);
	cl_tokens_close(t);
}

static void test_bindings(void **state)
{
	char data[300], tok[80];
	struct cl_token_info s;

	(void)state;
	snprintf(data, sizeof(data), "%s/bindings", dir);
	mkdir(data, 0700);
	s = (struct cl_token_info){ .role = CL_ROLE_PATIENT };
	assert_int_equal(cl_tokens_issue(data, &s, tok, sizeof(tok)), CL_EINVAL);
	assert_non_null(strstr(cl_error_detail(), "--patient"));
	s = (struct cl_token_info){ .role = CL_ROLE_DEVICE };
	assert_int_equal(cl_tokens_issue(data, &s, tok, sizeof(tok)), CL_EINVAL);
	s = (struct cl_token_info){ .role = CL_ROLE_ADMIN };
	snprintf(s.patient, sizeof(s.patient), "p1");
	assert_int_equal(cl_tokens_issue(data, &s, tok, sizeof(tok)), CL_EINVAL);
	s = (struct cl_token_info){ .role = CL_ROLE_ENGINEER };
	snprintf(s.wards, sizeof(s.wards), "ICU-A");
	assert_int_equal(cl_tokens_issue(data, &s, tok, sizeof(tok)), CL_EINVAL);
	s = (struct cl_token_info){ .role = CL_ROLE_NONE };
	assert_int_equal(cl_tokens_issue(data, &s, tok, sizeof(tok)), CL_EINVAL);
}

/* The line of `device` in the password file at path, or NULL (free it). */
static char *broker_line(const char *path, const char *device)
{
	char *text, *line, *end, *out = NULL;
	size_t len, dl = strlen(device);

	if (cl_fs_read_file(path, 1 << 20, &text, &len) != CL_OK)
		return NULL;
	for (line = text; line && *line; line = end ? end + 1 : NULL) {
		end = strchr(line, '\n');
		if (end)
			*end = '\0';
		if (strncmp(line, device, dl) == 0 && line[dl] == ':')
			out = strdup(line);
	}
	cl_free(text);
	return out;
}

/* 1 when device's line in the file at path holds token as its password. */
static int broker_has(const char *path, const char *device, const char *token)
{
	char *line = broker_line(path, device);
	int ok = line && cl_broker_passwd_check(line, token);

	free(line);
	return ok;
}

/*
 * A device token written into a mosquitto password file too: refused for
 * other roles and relative paths; a second token of the device replaces
 * the line, so revoking the first leaves it and revoking the second
 * removes it; a file that cannot be written means no token at all.
 */
static void test_broker_passwd(void **state)
{
	char data[300], passwd[400], tok1[80], tok2[80], other[80];
	struct cl_token_info a = { .role = CL_ROLE_DEVICE }, b, done, *list;
	struct stat st;
	size_t n;

	(void)state;
	snprintf(data, sizeof(data), "%s/broker", dir);
	mkdir(data, 0700);
	snprintf(passwd, sizeof(passwd), "%s/passwd", data);
	snprintf(a.device, sizeof(a.device), "monitor-9");
	snprintf(a.broker_passwd, sizeof(a.broker_passwd), "%s", passwd);
	b = a;
	issue(data, &a, tok1);
	assert_int_equal(stat(passwd, &st), 0);
	assert_int_equal(st.st_mode & 0777, 0600);
	assert_true(broker_has(passwd, "monitor-9", tok1));
	issue(data, &b, tok2);
	assert_false(broker_has(passwd, "monitor-9", tok1));
	assert_true(broker_has(passwd, "monitor-9", tok2));
	/* remembered, and listed */
	assert_int_equal(cl_tokens_list(data, &list, &n), CL_OK);
	assert_int_equal(n, 2);
	assert_string_equal(list[0].broker_passwd, passwd);
	cl_free(list);

	/* the first token's line is the second's now: left in place */
	assert_int_equal(cl_tokens_revoke(data, a.id, cl_time_now_us(), &done), CL_OK);
	assert_true(done.revoked_us > 0);
	assert_string_equal(done.broker_passwd, "");
	assert_true(broker_has(passwd, "monitor-9", tok2));
	assert_int_equal(cl_tokens_revoke(data, b.id, cl_time_now_us(), &done), CL_OK);
	assert_string_equal(done.broker_passwd, passwd);
	assert_string_equal(done.device, "monitor-9");
	assert_null(broker_line(passwd, "monitor-9"));

	/* refused: another role, a relative path, a file that cannot be written */
	b = (struct cl_token_info){ .role = CL_ROLE_CLINICIAN };
	snprintf(b.broker_passwd, sizeof(b.broker_passwd), "%s", passwd);
	assert_int_equal(cl_tokens_issue(data, &b, other, sizeof(other)), CL_EINVAL);
	assert_non_null(strstr(cl_error_detail(), "--broker-passwd is for a device token"));
	b = (struct cl_token_info){ .role = CL_ROLE_DEVICE };
	snprintf(b.device, sizeof(b.device), "monitor-9");
	snprintf(b.broker_passwd, sizeof(b.broker_passwd), "passwd");
	assert_int_equal(cl_tokens_issue(data, &b, other, sizeof(other)), CL_EINVAL);
	assert_non_null(strstr(cl_error_detail(), "absolute"));
	snprintf(b.broker_passwd, sizeof(b.broker_passwd), "%s/no-such-dir/passwd", data);
	assert_int_not_equal(cl_tokens_issue(data, &b, other, sizeof(other)), CL_OK);
	assert_non_null(strstr(cl_error_detail(), "no token issued"));
	assert_int_equal(cl_tokens_list(data, &list, &n), CL_OK);
	assert_int_equal(n, 2);
	cl_free(list);
}

static void test_role_table(void **state)
{
	char md[8192];

	(void)state;
	for (int r = 0; r < CL_ROLES; r++)
		assert_int_equal(cl_role_by_name(cl_role_name((enum cl_role)r)), r);
	assert_int_equal(cl_role_by_name("root"), CL_ROLE_NONE);
	/* what the issue says of each role */
	assert_true(cl_access_allows(CL_ROLE_ADMIN, CL_ACT_MANAGE_TOKENS));
	assert_false(cl_access_allows(CL_ROLE_ENGINEER, CL_ACT_READ_CLINICAL));
	assert_true(cl_access_allows(CL_ROLE_ENGINEER, CL_ACT_INGEST_EVENTS));
	assert_true(cl_access_allows(CL_ROLE_CLINICIAN, CL_ACT_ACKNOWLEDGE));
	assert_false(cl_access_allows(CL_ROLE_RESEARCHER, CL_ACT_READ_CLINICAL));
	assert_true(cl_access_allows(CL_ROLE_RESEARCHER, CL_ACT_EXPORT_DEIDENTIFIED));
	assert_false(cl_access_allows(CL_ROLE_COMPLIANCE, CL_ACT_READ_CLINICAL));
	assert_true(cl_access_allows(CL_ROLE_COMPLIANCE, CL_ACT_READ_AUDIT));
	assert_false(cl_access_allows(CL_ROLE_DEVICE, CL_ACT_READ_CLINICAL));
	assert_false(cl_access_allows(CL_ROLE_NONE, CL_ACT_INGEST_EVENTS));
	for (int a = 0; a < CL_ACTIONS; a++)
		assert_true(cl_access_allows(CL_ROLE_ADMIN, (enum cl_action)a));
	cl_access_table_markdown(md, sizeof(md));
	assert_non_null(strstr(md, "| `read-clinical` |"));
	assert_non_null(strstr(md, " admin | engineer | clinician | patient | researcher | compliance | device | manager |"));
}

/* A running server learns of a command's change from the count in
 * shared memory, at the next check and without looking at the file; a
 * file edited by hand (not counted) is seen within a second. */
static void test_change_count(void **state)
{
	char data[300], path[400], tok[80];
	struct cl_token_info spec = { .role = CL_ROLE_CLINICIAN };
	struct cl_principal p;
	struct cl_tokens *t;
	int64_t now = cl_time_now_us();
	int created;
	char *before;
	size_t len;

	(void)state;
	snprintf(data, sizeof(data), "%s/count", dir);
	mkdir(data, 0700);
	assert_int_equal(cl_tokens_open(data, &t, &created), CL_OK);
	issue(data, &spec, tok);
	assert_int_equal(cl_tokens_check(t, tok, 68, now, &p), CL_OK);
	snprintf(path, sizeof(path), "%s/auth/tokens", data);
	assert_int_equal(cl_fs_read_file(path, 1 << 20, &before, &len), CL_OK);
	/* the command counts its change: refused at once */
	assert_int_equal(cl_tokens_revoke(data, spec.id, now, NULL), CL_OK);
	assert_int_equal(cl_tokens_check(t, tok, 68, now, &p), CL_EINVAL);
	/* the file put back by hand: not counted, so not seen at once (the
	 * check did not look at the file), but within a second */
	assert_int_equal(cl_fs_write_atomic(path, before, len, 0600), CL_OK);
	assert_int_equal(cl_tokens_check(t, tok, 68, now, &p), CL_EINVAL);
	assert_int_equal(cl_tokens_check(t, tok, 68, now + 1000000, &p), CL_OK);
	cl_free(before);
	cl_tokens_close(t);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_issue_check_revoke),
		cmocka_unit_test(test_change_count),
		cmocka_unit_test(test_bindings),
		cmocka_unit_test(test_broker_passwd),
		cmocka_unit_test(test_role_table),
	};
	int rc;

	cl_test_tmpdir(dir, sizeof(dir));
	rc = cmocka_run_group_tests(tests, NULL, NULL);
	if (rc == 0)
		cl_test_rmtree(dir);
	return rc;
}
