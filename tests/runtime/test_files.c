/*
 * What carelake writes into a data directory is for its own user alone:
 * after ingest, refine, optimize, and while and after `serve` takes events,
 * FHIR posts, a watched folder's dead letter and a webhook's, every file
 * and directory under the data directory has no group or other permission
 * bits (carelake.db and its -wal and -shm, bronze segments and originals,
 * manifests, Delta logs and Parquet files, tokens, dead letters). Each
 * check also names files it must have seen, so a tree missing what it
 * should hold fails rather than passes.
 *
 * Usage: test_files /path/to/carelake SHARED_DATA_DIR
 */
#include "serve_helpers.h"
#include "cli_helpers.h"

#include <ftw.h>
#include <sys/stat.h>

/* What the last walk found (nftw takes no argument). */
static char walked_root[400], walk_bad[2048];
static int nfiles;

static int visit(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	const char *rel = path + strlen(walked_root);

	(void)flag;
	(void)ftw;
	if (S_ISREG(st->st_mode))
		nfiles++;
	if ((st->st_mode & 077) && strlen(walk_bad) < sizeof(walk_bad) - 200)
		snprintf(walk_bad + strlen(walk_bad), sizeof(walk_bad) - strlen(walk_bad),
			 " %s (%03o)", *rel ? rel : "/", (unsigned)(st->st_mode & 0777));
	return 0;
}

/* Walks data; fails if anything in it grants group or others any access,
 * or if one of must[] (parts of paths) is not there. */
static void check_private(const char *data, const char *const *must)
{
	struct stat st;

	snprintf(walked_root, sizeof(walked_root), "%s", data);
	walk_bad[0] = '\0';
	nfiles = 0;
	assert_int_equal(nftw(data, visit, 16, FTW_PHYS), 0);
	if (walk_bad[0])
		fail_msg("readable or writable by others under %s:%s", data, walk_bad);
	assert_true(nfiles > 5);
	for (int i = 0; must[i]; i++) {
		char path[800];

		snprintf(path, sizeof(path), "%s/%s", data, must[i]);
		if (stat(path, &st) == 0)
			continue;
		fail_msg("%s is not in %s", must[i], data);
	}
}

static void test_after_ingest(void **state)
{
	static const char *const must[] = {
		"carelake.db", "bronze/synthea-csv/_files.ndjson", "bronze/fhir-files",
		"silver/patient/_delta_log/00000000000000000000.json", "gold", NULL,
	};
	char data[300], a[400], b[400], broken[400];
	struct result r;
	FILE *f;

	(void)state;
	snprintf(data, sizeof(data), "%s/ingest", dir);
	snprintf(a, sizeof(a), "%s/synthea-csv", shared);
	snprintf(b, sizeof(b), "%s/fhir-r4-examples", shared);
	snprintf(broken, sizeof(broken), "%s/broken.json", dir);
	f = fopen(broken, "w");
	assert_non_null(f);
	fputs("{\"resourceType\": \"Patient\", ", f);
	fclose(f);
	r = run(NULL, "ingest", "--data", data, a, b, NULL);
	assert_int_equal(r.status, 0);
	done(&r);
	check_private(data, must);
	r = run(NULL, "refine", "--data", data, "--rebuild", NULL);
	assert_int_equal(r.status, 0);
	done(&r);
	r = run(NULL, "optimize", "--data", data, NULL);
	assert_int_equal(r.status, 0);
	done(&r);
	/* a file that fails is kept in bronze all the same */
	r = run(NULL, "ingest", "--data", data, broken, NULL);
	assert_int_equal(r.status, 1);
	done(&r);
	check_private(data, must);
}

static int exists(const char *path)
{
	return access(path, F_OK) == 0;
}

static void test_while_and_after_serve(void **state)
{
	static const char *const running[] = {
		"carelake.db", "carelake.db-wal", "carelake.db-shm", "admin.token", "auth/tokens",
		"bronze/vitals/.lock", "bronze/fhir/.lock", "dead-letter/drop/broken.json",
		"dead-letter/drop/broken.json.reason", "alerts/webhook-dead-letter.ndjson", NULL,
	};
	static const char *const stopped[] = {
		"carelake.db", "admin.token", "auth/tokens", "dead-letter/drop/broken.json",
		"alerts/webhook-dead-letter.ndjson", NULL,
	};
	char data[300], drop[300], file[400], set_path[400], path[600], obs[400];
	const char *extra[] = { "--set", set_path, "--set", "pipelines.drop.trigger=watch",
				"--set", "pipelines.drop.attempts=1", "--set",
				"webhook.url=http://127.0.0.1:1/hook", "--set", "webhook.attempts=1",
				"--set", "webhook.backoff=10ms", NULL };
	struct server s;
	struct reply rep;
	char *body;

	(void)state;
	snprintf(data, sizeof(data), "%s/serve", dir);
	snprintf(drop, sizeof(drop), "%s/drop", dir);
	mkdir(drop, 0700);
	snprintf(file, sizeof(file), "%s/broken.json", drop);
	snprintf(set_path, sizeof(set_path), "pipelines.drop.path=%s", drop);
	{
		FILE *f = fopen(file, "w");

		assert_non_null(f);
		fputs("{\"resourceType\": ", f);
		fclose(f);
	}
	server_start(&s, bin, data, extra);
	rep = post(&s, test_event("e1", "dev-1", "p-1", "heart_rate", 80, "/min"));
	assert_int_equal(rep.code, 200);
	free(rep.body);
	snprintf(obs, sizeof(obs), "%s/fhir-r4-examples/Observation-heart-rate.json", shared);
	body = slurp(obs);
	rep = http(&s, "POST", "/fhir/Observation", s.token, body, strlen(body));
	assert_true(rep.code == 200 || rep.code == 201);
	free(rep.body);
	free(body);
	/* the broken file dead-lettered, its pipeline_failed alert dead-lettered
	 * by the webhook that cannot connect, the event stored */
	snprintf(path, sizeof(path), "%s/alerts/webhook-dead-letter.ndjson", data);
	for (int i = 0; i < 3000 * cl_test_slowdown() && !exists(path); i++)
		usleep(10000);
	assert_true(exists(path));
	for (int i = 0; i < 300 * cl_test_slowdown() && query_long(data, "SELECT count(*) FROM vital_event WHERE "
					       "device_id = 'dev-1'") < 1; i++)
		usleep(50000);
	assert_int_equal(query_long(data, "SELECT count(*) FROM vital_event WHERE device_id = "
				    "'dev-1'"), 1);
	check_private(data, running);
	assert_int_equal(server_stop(&s), 0);
	check_private(data, stopped);
}

static const struct CMUnitTest tests[] = {
	cmocka_unit_test(test_after_ingest),
	cmocka_unit_test(test_while_and_after_serve),
};

SERVE_TEST_MAIN(tests)
