/*
 * FHIR resource versions (store/cl_store_fhir.c) and the meta the API sets
 * on them (fhir/cl_fhir_meta.c).
 *
 * Versions: the first put is version 1; the same bytes again make none; a
 * change is the next version; a delete is a version without a resource,
 * in the compartment of what it deleted; a second delete, or one of a
 * resource never held, makes none; read finds the current or a given
 * version; history goes newest first, from below a version, from a time,
 * with the total; a store that never held a resource says CL_ENOENT.
 * Search: the current versions only (a changed resource by its newest, a
 * deleted one not at all), by type, patient, types, ids, time, from after
 * a type/id, with the total of every page, or the total alone.
 *
 * Meta: added when absent (also to {}), its versionId and lastUpdated
 * replaced when present and its other members kept, a meta that is no
 * object replaced; every other byte of the resource as it was (decimals,
 * escapes, spacing); text that is not one object refused.
 */
#include "cl_test.h"
#include "core/cl_error.h"
#include "fhir/cl_fhir_meta.h"
#include "store/cl_db.h"
#include "store/cl_store.h"
#include "store/cl_store_fhir.h"

#include <sqlite3.h>

/* The text with meta set to version 2 at 2026-12-05T10:00:00.250Z. */
static char *with_meta(const char *src)
{
	char *out = NULL;
	size_t len = 0;

	assert_int_equal(cl_fhir_with_meta(src, strlen(src), 2, 1796464800250000, &out, &len),
			 CL_OK);
	assert_int_equal(strlen(out), len);
	return out;
}

#define META "\"versionId\":\"2\",\"lastUpdated\":\"2026-12-05T10:00:00.250Z\""

static void test_meta(void **state)
{
	char *out, *bad = NULL;
	size_t len;

	(void)state;
	out = with_meta("{\"resourceType\":\"Observation\",\"valueQuantity\":{\"value\":1.50}}");
	assert_string_equal(out, "{\"meta\":{" META "},\"resourceType\":\"Observation\","
			    "\"valueQuantity\":{\"value\":1.50}}");
	free(out);
	out = with_meta("{}");
	assert_string_equal(out, "{\"meta\":{" META "}}");
	free(out);
	/* spacing around the object kept inside, dropped outside */
	out = with_meta("  { \"id\" : \"a\\u00e9\" }\n");
	assert_string_equal(out, "{\"meta\":{" META "}, \"id\" : \"a\\u00e9\" }");
	free(out);
	/* present: ours first, the rest of meta as it was */
	out = with_meta("{\"id\":\"x\",\"meta\":{\"versionId\":\"9\",\"profile\":[\"p\"],"
			"\"lastUpdated\":\"2000-01-01T00:00:00Z\",\"tag\":[{\"code\":\"t\"}]},"
			"\"n\":1e3}");
	assert_string_equal(out, "{\"id\":\"x\",\"meta\":{" META ",\"profile\":[\"p\"],"
			    "\"tag\":[{\"code\":\"t\"}]},\"n\":1e3}");
	free(out);
	out = with_meta("{\"meta\":{}}");
	assert_string_equal(out, "{\"meta\":{" META "}}");
	free(out);
	/* a meta that is no object is replaced */
	out = with_meta("{\"meta\":\"odd\",\"id\":\"y\"}");
	assert_string_equal(out, "{\"meta\":{" META "},\"id\":\"y\"}");
	free(out);
	assert_int_equal(cl_fhir_with_meta("[1]", 3, 1, 0, &bad, &len), CL_EPARSE);
	assert_null(bad);
	assert_int_equal(cl_fhir_with_meta("{\"a\":", 5, 1, 0, &bad, &len), CL_EPARSE);
	assert_null(bad);
}

struct seen {
	int64_t versions[8];
	int deleted[8];
	int n;
};

static int collect(void *arg, const struct cl_fhir_version *v)
{
	struct seen *s = arg;

	s->versions[s->n] = v->version;
	s->deleted[s->n] = v->deleted;
	s->n++;
	return 0;
}

#define P1 "{\"resourceType\":\"Patient\",\"id\":\"p\"}"
#define P2 "{\"resourceType\":\"Patient\",\"id\":\"p\",\"gender\":\"male\"}"

static void test_versions(void **state)
{
	char dir[256];
	struct cl_fhir_writer *w;
	struct cl_fhir_version v;
	struct cl_store *st;
	struct seen s = { 0 };
	int64_t version, total;
	sqlite3 *db;

	(void)state;
	cl_test_tmpdir(dir, sizeof(dir));
	assert_int_equal(cl_db_open(dir, CL_DB_READWRITE, &db), CL_OK);
	/* nothing held yet: no table at all (the serving store's own tables
	 * made, as serve makes them) */
	assert_int_equal(cl_store_create(dir, &st), CL_OK);
	assert_int_equal(cl_store_fhir_read(st, "Patient", "p", 0, &v), CL_ENOENT);
	cl_store_close(st);

	assert_int_equal(cl_fhir_writer_open(db, &w), CL_OK);
	cl_fhir_writer_lineage(w, "fhir", "f1", 1);
	assert_int_equal(cl_fhir_delete(w, "Patient", "p", 50, "entry 0", &version), CL_OK);
	assert_int_equal(version, 0);
	assert_int_equal(cl_fhir_put(w, "Patient", "p", "p", P1, strlen(P1), 100, "line 1", &version),
			 CL_OK);
	assert_int_equal(version, 1);
	assert_int_equal(cl_fhir_put(w, "Patient", "p", "p", P1, strlen(P1), 150, "line 2", &version),
			 CL_OK);
	assert_int_equal(version, 0);
	assert_int_equal(cl_fhir_put(w, "Patient", "p", "p", P2, strlen(P2), 200, "line 3", &version),
			 CL_OK);
	assert_int_equal(version, 2);
	assert_int_equal(cl_fhir_delete(w, "Patient", "p", 300, "entry 0", &version), CL_OK);
	assert_int_equal(version, 3);
	assert_int_equal(cl_fhir_delete(w, "Patient", "p", 400, "entry 0", &version), CL_OK);
	assert_int_equal(version, 0);
	/* after a delete the same content again is a new version */
	assert_int_equal(cl_fhir_put(w, "Patient", "p", "p", P2, strlen(P2), 500, "line 1", &version),
			 CL_OK);
	assert_int_equal(version, 4);
	/* another type, same id: its own versions */
	assert_int_equal(cl_fhir_put(w, "Device", "p", NULL, "{}", 2, 600, "line 1", &version), CL_OK);
	assert_int_equal(version, 1);

	assert_int_equal(cl_store_open(dir, &st), CL_OK);
	assert_int_equal(cl_store_fhir_read(st, "Patient", "p", 0, &v), CL_OK);
	assert_int_equal(v.version, 4);
	assert_int_equal(v.updated_us, 500);
	assert_string_equal(v.resource, P2);
	assert_string_equal(v.patient, "p");
	cl_fhir_version_free(&v);
	assert_int_equal(cl_store_fhir_read(st, "Patient", "p", 3, &v), CL_OK);
	assert_int_equal(v.deleted, 1);
	assert_null(v.resource);
	assert_string_equal(v.patient, "p");
	assert_int_equal(cl_store_fhir_read(st, "Patient", "p", 1, &v), CL_OK);
	assert_string_equal(v.resource, P1);
	assert_int_equal(v.updated_us, 100);
	cl_fhir_version_free(&v);
	assert_int_equal(cl_store_fhir_read(st, "Patient", "p", 5, &v), CL_ENOENT);
	assert_int_equal(cl_store_fhir_read(st, "Patient", "q", 0, &v), CL_ENOENT);
	assert_int_equal(cl_store_fhir_read(st, "Device", "p", 0, &v), CL_OK);
	assert_string_equal(v.patient, "");
	cl_fhir_version_free(&v);

	/* history: newest first; below a version; from a time; the total */
	assert_int_equal(cl_store_fhir_history(st, "Patient", "p", 0, 0, 10, &total, collect, &s),
			 CL_OK);
	assert_int_equal(total, 4);
	assert_int_equal(s.n, 4);
	assert_true(s.versions[0] == 4 && s.versions[3] == 1 && s.deleted[1] == 1);
	s.n = 0;
	assert_int_equal(cl_store_fhir_history(st, "Patient", "p", 0, 3, 1, &total, collect, &s),
			 CL_OK);
	assert_int_equal(s.n, 1);
	assert_int_equal(s.versions[0], 2);
	s.n = 0;
	assert_int_equal(cl_store_fhir_history(st, "Patient", "p", 200, 0, 10, &total, collect, &s),
			 CL_OK);
	assert_int_equal(total, 3);
	assert_int_equal(s.n, 3);
	s.n = 0;
	assert_int_equal(cl_store_fhir_history(st, "Patient", "none", 0, 0, 10, &total, collect, &s),
			 CL_OK);
	assert_int_equal(total, 0);
	assert_int_equal(s.n, 0);
	cl_store_close(st);

	assert_int_equal(cl_fhir_clear(w), CL_OK);
	assert_int_equal(cl_store_open(dir, &st), CL_OK);
	assert_int_equal(cl_store_fhir_read(st, "Patient", "p", 0, &v), CL_ENOENT);
	cl_store_close(st);
	cl_fhir_writer_close(w);
	sqlite3_close(db);
	cl_test_rmtree(dir);
}

struct found {
	char keys[16][80];
	int n;
};

static int found_one(void *arg, const struct cl_fhir_match *m)
{
	struct found *f = arg;

	snprintf(f->keys[f->n++], sizeof(f->keys[0]), "%s/%s/%lld", m->type, m->id,
		 (long long)m->version);
	return 0;
}

/* Runs q; the matches as "Type/id/version " in order, and the total. */
static const char *run(struct cl_store *st, const struct cl_fhir_query *q, int64_t *total)
{
	static char out[1200];
	struct found f = { .n = 0 };

	assert_int_equal(cl_store_fhir_search(st, q, total, found_one, &f), CL_OK);
	out[0] = '\0';
	for (int i = 0; i < f.n; i++)
		snprintf(out + strlen(out), sizeof(out) - strlen(out), "%s ", f.keys[i]);
	return out;
}

static void test_search(void **state)
{
	char dir[256];
	struct cl_fhir_writer *w;
	struct cl_store *st;
	int64_t v, total;
	sqlite3 *db;
	const char *ids[] = { "o2", "o9" }, *types[] = { "Encounter", "Patient" };

	(void)state;
	cl_test_tmpdir(dir, sizeof(dir));
	assert_int_equal(cl_db_open(dir, CL_DB_READWRITE, &db), CL_OK);
	assert_int_equal(cl_fhir_writer_open(db, &w), CL_OK);
	cl_fhir_writer_lineage(w, "fhir", "f", 1);
	assert_int_equal(cl_fhir_put(w, "Patient", "a", "a", "{\"v\":1}", 7, 100, "r", &v), CL_OK);
	assert_int_equal(cl_fhir_put(w, "Patient", "b", "b", "{\"v\":1}", 7, 100, "r", &v), CL_OK);
	assert_int_equal(cl_fhir_put(w, "Observation", "o1", "a", "{\"v\":1}", 7, 100, "r", &v),
			 CL_OK);
	assert_int_equal(cl_fhir_put(w, "Observation", "o2", "a", "{\"v\":1}", 7, 100, "r", &v),
			 CL_OK);
	assert_int_equal(cl_fhir_put(w, "Observation", "o3", "b", "{\"v\":1}", 7, 100, "r", &v),
			 CL_OK);
	assert_int_equal(cl_fhir_put(w, "Encounter", "e1", "a", "{\"v\":1}", 7, 100, "r", &v),
			 CL_OK);
	/* o2 changed (its second version is the one found), o1 deleted */
	assert_int_equal(cl_fhir_put(w, "Observation", "o2", "a", "{\"v\":2}", 7, 300, "r", &v),
			 CL_OK);
	assert_int_equal(cl_fhir_delete(w, "Observation", "o1", 300, "r", &v), CL_OK);
	assert_int_equal(cl_store_create(dir, &st), CL_OK);

	{
		struct cl_fhir_query q = { .count = 100 };

		assert_string_equal(run(st, &q, &total),
				    "Encounter/e1/1 Observation/o2/2 Observation/o3/1 Patient/a/1 "
				    "Patient/b/1 ");
		assert_int_equal(total, 5);
		q.type = "Observation";
		assert_string_equal(run(st, &q, &total), "Observation/o2/2 Observation/o3/1 ");
		q.patient = "a";
		assert_string_equal(run(st, &q, &total), "Observation/o2/2 ");
		q.type = NULL;
		assert_string_equal(run(st, &q, &total), "Encounter/e1/1 Observation/o2/2 Patient/a/1 ");
		q.types = types;
		q.ntypes = 2;
		assert_string_equal(run(st, &q, &total), "Encounter/e1/1 Patient/a/1 ");
		q.ntypes = 0;
		q.since_us = 200;
		assert_string_equal(run(st, &q, &total), "Observation/o2/2 ");
		q.since_us = 0;
		/* a page after Encounter/e1, of one; the total counts every page */
		q.after_type = "Encounter";
		q.after_id = "e1";
		q.count = 1;
		assert_string_equal(run(st, &q, &total), "Observation/o2/2 ");
		assert_int_equal(total, 3);
		q = (struct cl_fhir_query){ .ids = ids, .nids = 2, .count = 10 };
		assert_string_equal(run(st, &q, NULL), "Observation/o2/2 ");
		/* the total alone */
		q.count = 0;
		assert_string_equal(run(st, &q, &total), "");
		assert_int_equal(total, 1);
		q.nids = CL_FHIR_QUERY_LIST_MAX + 1;
		assert_int_equal(cl_store_fhir_search(st, &q, &total, found_one, NULL), CL_EINVAL);
	}
	cl_store_close(st);
	cl_fhir_writer_close(w);
	sqlite3_close(db);
	cl_test_rmtree(dir);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_meta),
		cmocka_unit_test(test_versions),
		cmocka_unit_test(test_search),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
