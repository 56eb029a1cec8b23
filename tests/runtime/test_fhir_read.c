/*
 * FHIR reads of a running `carelake serve`: read, vread and instance
 * history of what `carelake ingest` loaded.
 *
 * - Round trip: every resource of ../shared/data/fhir-r4-examples and of
 *   the Synthea bundles is served back equal to what went in, but for
 *   meta.versionId and meta.lastUpdated (its other meta kept).
 * - The CapabilityStatement lists exactly the types held and what is
 *   served of each.
 * - Versions: a changed resource is the next version, the same content
 *   again is none, a Bundle's DELETE makes reads answer 410 while vread
 *   and history keep every version; ETag W/"n" and Last-Modified; 304 for
 *   If-None-Match and If-Modified-Since; history pages by _count with a
 *   next link that stays right.
 * - Errors as OperationOutcome: 404 (unknown id, version, type), 400 (a
 *   bad id, an unknown parameter; handling=lenient lets it pass), 406
 *   (_format=xml).
 * - Search: Observation?patient= and the compartment search give the
 *   patient's Observations of a Synthea bundle (worked out from the file),
 *   each once across pages, with the total; _summary=count, _id lists;
 *   $everything gives the file's whole compartment, paged while new
 *   resources arrive (none skipped or repeated), and _type narrows it.
 * - Access: a patient token reads its own compartment only; a researcher
 *   is refused; no token is 401; every read is in the audit trail with
 *   its resource type, id and patient.
 *
 * - A real client: fhir-kit-client (npm) runs an app's session
 *   (tests/fhirclient/client.mjs).
 *
 * usage: runtime_fhir_read /path/to/carelake /path/to/shared/data
 *        /path/to/tests/fhirclient/client.mjs
 */
#include "fhir_helpers.h"

#include "audit/cl_audit_read.h"
#include "auth/cl_tokens.h"
#include "core/cl_error.h"

#include <dirent.h>
#include <jansson.h>


/* The resource as served, meta.versionId and meta.lastUpdated taken out
 * (and meta itself when nothing else was in it). */
static json_t *without_version(json_t *res)
{
	json_t *meta = json_object_get(res, "meta");

	assert_non_null(meta);
	assert_true(json_is_string(json_object_get(meta, "versionId")));
	assert_true(json_is_string(json_object_get(meta, "lastUpdated")));
	json_object_del(meta, "versionId");
	json_object_del(meta, "lastUpdated");
	if (json_object_size(meta) == 0)
		json_object_del(res, "meta");
	return res;
}

/* 1 if some version of Type/id, as served by its history, equals want
 * but for its version's meta. */
static int served_as_sent(const struct server *s, const char *token, json_t *want)
{
	const char *type = json_string_value(json_object_get(want, "resourceType"));
	const char *id = json_string_value(json_object_get(want, "id"));
	json_t *bundle, *entry, *copy = json_deep_copy(want), *m;
	char path[400];
	struct reply r;
	size_t k;
	int found = 0;

	/* the meta it was sent with, without what carelake sets */
	m = json_object_get(copy, "meta");
	if (m) {
		json_object_del(m, "versionId");
		json_object_del(m, "lastUpdated");
		if (json_object_size(m) == 0)
			json_object_del(copy, "meta");
	}
	snprintf(path, sizeof(path), "/fhir/%s/%s/_history?_count=1000", type, id);
	r = get(s, path, token, NULL);
	if (r.code != 200)
		fail_msg("%s: %ld %s", path, r.code, r.body);
	bundle = json_loads(r.body, 0, NULL);
	assert_non_null(bundle);
	json_array_foreach(json_object_get(bundle, "entry"), k, entry) {
		json_t *res = json_object_get(entry, "resource");

		if (res && json_equal(without_version(res), copy))
			found = 1;
	}
	json_decref(bundle);
	json_decref(copy);
	free(r.body);
	return found;
}

/* Every resource of a file (a Bundle's entries, or itself) with an id. */
static size_t check_file(const struct server *s, const char *token, const char *path)
{
	json_error_t err;
	json_t *doc = json_load_file(path, 0, &err), *entry;
	size_t n = 0, k;

	if (!doc)
		fail_msg("%s: %s", path, err.text);
	if (strcmp(json_string_value(json_object_get(doc, "resourceType")), "Bundle") != 0) {
		if (!served_as_sent(s, token, doc))
			fail_msg("%s: not served back as it was sent", path);
		n++;
	} else {
		json_array_foreach(json_object_get(doc, "entry"), k, entry) {
			json_t *res = json_object_get(entry, "resource");
			const char *method = json_string_value(
				json_object_get(json_object_get(entry, "request"), "method"));

			if (!res || !json_is_string(json_object_get(res, "id")) ||
			    (method && strcmp(method, "DELETE") == 0))
				continue;
			if (!served_as_sent(s, token, res))
				fail_msg("%s: entry %zu (%s/%s) not served back as it was sent", path,
					 k, json_string_value(json_object_get(res, "resourceType")),
					 json_string_value(json_object_get(res, "id")));
			n++;
		}
	}
	json_decref(doc);
	return n;
}

/* Every file of a folder of shared material. */
static size_t check_folder(const struct server *s, const char *token, const char *folder)
{
	char path[1024];
	struct dirent *e;
	size_t n = 0;
	DIR *d;

	snprintf(path, sizeof(path), "%s/%s", shared, folder);
	d = opendir(path);
	assert_non_null(d);
	while ((e = readdir(d))) {
		if (!strstr(e->d_name, ".json"))
			continue;
		snprintf(path, sizeof(path), "%s/%s/%s", shared, folder, e->d_name);
		n += check_file(s, token, path);
	}
	closedir(d);
	return n;
}

static void test_round_trip(void **state)
{
	char data[300], path[1024];
	struct server s;
	size_t n;

	(void)state;
	snprintf(data, sizeof(data), "%s/round", dir);
	snprintf(path, sizeof(path), "%s/fhir-r4-examples", shared);
	ingest(data, path);
	snprintf(path, sizeof(path), "%s/synthea-fhir", shared);
	ingest(data, path);
	server_start(&s, bin, data, NULL);
	/* every resource with an id: 14 in the examples, 280 in the four
	 * Synthea bundles (66 + 70 + 73 + 71 entries) */
	n = check_folder(&s, s.token, "fhir-r4-examples");
	assert_int_equal(n, 14);
	n = check_folder(&s, s.token, "synthea-fhir");
	assert_int_equal(n, 280);
	/* a decimal comes back as it was written, not as a double prints it */
	{
		struct reply r = get(&s, "/fhir/Observation/body-temperature", s.token, NULL);

		assert_int_equal(r.code, 200);
		assert_non_null(strstr(r.body, "\"value\": 36.5"));
		free(r.body);
	}
	assert_int_equal(server_stop(&s), 0);
}

#define PATIENT_V1 "{\"resourceType\":\"Patient\",\"id\":\"ver-1\",\"gender\":\"female\"," \
		   "\"meta\":{\"profile\":[\"http://example.org/p\"],\"versionId\":\"77\"}}"
#define PATIENT_V2 "{\"resourceType\":\"Patient\",\"id\":\"ver-1\",\"gender\":\"female\"," \
		   "\"birthDate\":\"1970-01-02\"}"

/* The versions of Patient/ver-1 and Observation/ver-obs made by four
 * files: v1, v2, v2 again (no version), a DELETE of the Patient. */
static void make_versions(const char *data)
{
	ingest_text(data, "v1.json", PATIENT_V1);
	ingest_text(data, "v2.json", PATIENT_V2);
	ingest_text(data, "v2-again.ndjson",
		    PATIENT_V2 "\n"
		    "{\"resourceType\":\"Observation\",\"id\":\"ver-obs\",\"status\":\"final\","
		    "\"code\":{\"coding\":[{\"system\":\"http://loinc.org\",\"code\":\"8867-4\"}]},"
		    "\"subject\":{\"reference\":\"Patient/ver-1\"},"
		    "\"effectiveDateTime\":\"2026-11-01T08:00:00Z\","
		    "\"valueQuantity\":{\"value\":72.50,\"unit\":\"/min\"}}\n");
	ingest_text(data, "delete.json",
		    "{\"resourceType\":\"Bundle\",\"type\":\"transaction\",\"entry\":[{\"request\":"
		    "{\"method\":\"DELETE\",\"url\":\"Patient/ver-1\"}}]}");
}

static void test_versions(void **state)
{
	char data[300];
	struct server s;
	struct reply r;
	json_t *j;

	(void)state;
	snprintf(data, sizeof(data), "%s/versions", dir);
	make_versions(data);
	server_start(&s, bin, data, NULL);

	/* deleted: read says 410 with the deleting version's tag */
	r = get(&s, "/fhir/Patient/ver-1", s.token, NULL);
	assert_int_equal(r.code, 410);
	assert_string_equal(r.etag, "W/\"3\"");
	assert_non_null(strstr(r.body, "\"OperationOutcome\""));
	free(r.body);
	/* each version as it was; v1's own meta kept, its versionId replaced */
	r = get(&s, "/fhir/Patient/ver-1/_history/1", s.token, NULL);
	assert_int_equal(r.code, 200);
	assert_string_equal(r.etag, "W/\"1\"");
	assert_true(r.last_modified[0] != '\0');
	j = json_loads(r.body, 0, NULL);
	assert_string_equal(json_string_value(json_object_get(json_object_get(j, "meta"),
							       "versionId")), "1");
	assert_string_equal(json_string_value(json_array_get(json_object_get(
				    json_object_get(j, "meta"), "profile"), 0)), "http://example.org/p");
	assert_null(json_object_get(j, "birthDate"));
	json_decref(j);
	free(r.body);
	r = get(&s, "/fhir/Patient/ver-1/_history/2", s.token, NULL);
	assert_int_equal(r.code, 200);
	assert_non_null(strstr(r.body, "\"birthDate\":\"1970-01-02\""));
	free(r.body);
	assert_int_equal(code_of(&s, "/fhir/Patient/ver-1/_history/3", s.token, NULL), 410);
	assert_int_equal(code_of(&s, "/fhir/Patient/ver-1/_history/4", s.token, NULL), 404);
	assert_int_equal(code_of(&s, "/fhir/Patient/ver-1/_history/x", s.token, NULL), 404);

	/* history: newest first, the deletion without a resource */
	r = get(&s, "/fhir/Patient/ver-1/_history", s.token, NULL);
	assert_int_equal(r.code, 200);
	j = json_loads(r.body, 0, NULL);
	assert_string_equal(json_string_value(json_object_get(j, "type")), "history");
	assert_int_equal(json_integer_value(json_object_get(j, "total")), 3);
	{
		json_t *e = json_object_get(j, "entry");
		json_t *first = json_array_get(e, 0), *last = json_array_get(e, 2);

		assert_int_equal(json_array_size(e), 3);
		assert_null(json_object_get(first, "resource"));
		assert_string_equal(json_string_value(json_object_get(
					    json_object_get(first, "request"), "method")), "DELETE");
		assert_string_equal(json_string_value(json_object_get(
					    json_object_get(last, "request"), "method")), "POST");
		assert_string_equal(json_string_value(json_object_get(
					    json_object_get(last, "response"), "etag")), "W/\"1\"");
	}
	json_decref(j);
	free(r.body);
	/* pages of one: next links walk 3, 2, 1 and stop */
	{
		char path[400] = "/fhir/Patient/ver-1/_history?_count=1";
		int64_t seen[3], n = 0;

		for (;;) {
			json_t *link, *next = NULL;
			size_t k;

			r = get(&s, path, s.token, NULL);
			assert_int_equal(r.code, 200);
			j = json_loads(r.body, 0, NULL);
			assert_int_equal(json_array_size(json_object_get(j, "entry")), 1);
			assert_true(n < 3);
			seen[n++] = strtoll(json_string_value(json_object_get(json_object_get(
				json_array_get(json_object_get(j, "entry"), 0), "response"), "etag")) + 3,
				NULL, 10);
			json_array_foreach(json_object_get(j, "link"), k, link)
				if (!strcmp(json_string_value(json_object_get(link, "relation")), "next"))
					next = json_object_get(link, "url");
			if (!next) {
				json_decref(j);
				free(r.body);
				break;
			}
			/* the link is absolute: the server's own address */
			assert_int_equal(strncmp(json_string_value(next), s.url, strlen(s.url)), 0);
			snprintf(path, sizeof(path), "%s", json_string_value(next) + strlen(s.url));
			json_decref(j);
			free(r.body);
		}
		assert_int_equal(n, 3);
		assert_true(seen[0] == 3 && seen[1] == 2 && seen[2] == 1);
	}

	/* the Observation: version 1 only, its decimal as written */
	r = get(&s, "/fhir/Observation/ver-obs", s.token, NULL);
	assert_int_equal(r.code, 200);
	assert_string_equal(r.etag, "W/\"1\"");
	assert_non_null(strstr(r.body, "\"value\":72.50"));
	{
		char h[120];

		/* the client's copy is current: 304, by tag or by date */
		assert_int_equal(code_of(&s, "/fhir/Observation/ver-obs", s.token,
					 "If-None-Match: W/\"1\""), 304);
		assert_int_equal(code_of(&s, "/fhir/Observation/ver-obs", s.token,
					 "If-None-Match: W/\"2\""), 200);
		snprintf(h, sizeof(h), "If-Modified-Since: %s", r.last_modified);
		assert_int_equal(code_of(&s, "/fhir/Observation/ver-obs", s.token, h), 304);
		assert_int_equal(code_of(&s, "/fhir/Observation/ver-obs", s.token,
					 "If-Modified-Since: Thu, 01 Jan 1970 00:00:00 GMT"), 200);
	}
	free(r.body);

	/* the CapabilityStatement says exactly that: the types held with
	 * read, vread, history, search and the writes; a Group's export;
	 * AuditEvent search */
	r = get(&s, "/fhir/metadata", NULL, NULL);
	assert_int_equal(r.code, 200);
	j = json_loads(r.body, 0, NULL);
	{
		json_t *res = json_object_get(json_array_get(json_object_get(j, "rest"), 0),
					      "resource"), *e;
		char got[600] = "";
		size_t k, k2;

		json_array_foreach(res, k, e) {
			json_t *i;

			snprintf(got + strlen(got), sizeof(got) - strlen(got), "%s:",
				 json_string_value(json_object_get(e, "type")));
			json_array_foreach(json_object_get(e, "interaction"), k2, i)
				snprintf(got + strlen(got), sizeof(got) - strlen(got), "%s,",
					 json_string_value(json_object_get(i, "code")));
			snprintf(got + strlen(got), sizeof(got) - strlen(got), " ");
		}
		assert_string_equal(got, "Observation:read,vread,history-instance,search-type,create,"
				    "update,delete, Patient:read,vread,history-instance,search-type,"
				    "create,update,delete, Group: AuditEvent:search-type, ");
		assert_string_equal(json_string_value(json_object_get(json_array_get(json_object_get(
			json_array_get(res, 1), "operation"), 0), "name")), "everything");
	}
	json_decref(j);
	free(r.body);

	/* errors */
	assert_int_equal(code_of(&s, "/fhir/Observation/nothing-here", s.token, NULL), 404);
	assert_int_equal(code_of(&s, "/fhir/observation/ver-obs", s.token, NULL), 404);
	assert_int_equal(code_of(&s, "/fhir/Observation/a%20b", s.token, NULL), 400);
	assert_int_equal(code_of(&s, "/fhir/Observation/ver-obs?colour=blue", s.token, NULL), 400);
	assert_int_equal(code_of(&s, "/fhir/Observation/ver-obs?colour=blue", s.token,
				 "Prefer: handling=lenient"), 200);
	assert_int_equal(code_of(&s, "/fhir/Observation/ver-obs?_format=json", s.token, NULL), 200);
	assert_int_equal(code_of(&s, "/fhir/Observation/ver-obs?_format=xml", s.token, NULL), 406);
	assert_int_equal(code_of(&s, "/fhir/Observation/ver-obs", s.token,
				 "Accept: application/fhir+xml"), 406);
	assert_int_equal(code_of(&s, "/fhir/Observation/ver-obs/_history?_count=0", s.token, NULL),
			 400);
	assert_int_equal(server_stop(&s), 0);

	/* refine --rebuild makes the same versions again, at the same times */
	{
		const char *times = "SELECT sum(updated_us % 1000000007 + version) FROM fhir_resource";
		long before = query_long(data, times);
		char cmd[1024];

		assert_int_equal(query_long(data, "SELECT count(*) FROM fhir_resource"), 4);
		snprintf(cmd, sizeof(cmd), "'%s' refine --rebuild --data '%s' >/dev/null 2>&1", bin,
			 data);
		assert_int_equal(system(cmd), 0);
		assert_int_equal(query_long(data, "SELECT count(*) FROM fhir_resource"), 4);
		assert_int_equal(query_long(data, times), before);
	}
}

/* A new token of role (bound to patient, if given) into token[80]. */
static void issue(const char *data, enum cl_role role, const char *patient, char *token)
{
	struct cl_token_info spec = { .role = role };

	snprintf(spec.name, sizeof(spec.name), "%s", cl_role_name(role));
	if (patient)
		snprintf(spec.patient, sizeof(spec.patient), "%s", patient);
	if (cl_tokens_issue(data, &spec, token, 80) != CL_OK)
		fail_msg("token issue: %s", cl_error_detail());
}

/* The patient of a Synthea bundle and, worked out from the file alone,
 * the resources in its compartment ("Type/id": the Patient, and what
 * names it as subject or patient), and how many of them are Observations. */
static json_t *compartment_of(const char *file, char *patient, size_t cap, long *observations)
{
	json_t *doc = json_load_file(file, 0, NULL), *e, *want = json_object();
	char ref[200];
	size_t k;

	assert_non_null(doc);
	*observations = 0;
	json_array_foreach(json_object_get(doc, "entry"), k, e) {
		json_t *res = json_object_get(e, "resource");

		if (!strcmp(json_string_value(json_object_get(res, "resourceType")), "Patient"))
			snprintf(patient, cap, "%s", json_string_value(json_object_get(res, "id")));
	}
	snprintf(ref, sizeof(ref), "urn:uuid:%s", patient);
	json_array_foreach(json_object_get(doc, "entry"), k, e) {
		json_t *res = json_object_get(e, "resource");
		const char *type = json_string_value(json_object_get(res, "resourceType"));
		const char *subj = json_string_value(json_object_get(json_object_get(res, "subject"),
								     "reference"));
		const char *pat = json_string_value(json_object_get(json_object_get(res, "patient"),
								    "reference"));
		char key[200];

		if (!subj)
			subj = pat;
		if (strcmp(type, "Patient") != 0 && (!subj || strcmp(subj, ref) != 0))
			continue;
		snprintf(key, sizeof(key), "%s/%s", type, json_string_value(json_object_get(res, "id")));
		json_object_set_new(want, key, json_true());
		*observations += !strcmp(type, "Observation");
	}
	json_decref(doc);
	return want;
}

struct late {
	const char *data, *patient;
};

/* Resources that arrive while a search is paged: one sorting before the
 * page reached (results go by type, then id), one after. */
static void arrive(void *arg)
{
	struct late *l = arg;
	char text[1200];

	snprintf(text, sizeof(text),
		 "{\"resourceType\":\"AllergyIntolerance\",\"id\":\"late\","
		 "\"patient\":{\"reference\":\"Patient/%s\"}}\n"
		 "{\"resourceType\":\"Observation\",\"id\":\"zzz-late\",\"status\":\"final\","
		 "\"code\":{\"text\":\"x\"},\"subject\":{\"reference\":\"Patient/%s\"}}\n",
		 l->patient, l->patient);
	ingest_text(l->data, "late.ndjson", text);
}

static void test_search(void **state)
{
	char data[300], file[1024], patient[80], path[400], nurse[80], own[80];
	long observations;
	struct server s;
	struct walk w;
	json_t *want, *v;
	const char *key;

	(void)state;
	snprintf(data, sizeof(data), "%s/search", dir);
	snprintf(file, sizeof(file), "%s/synthea-fhir", shared);
	ingest(data, file);
	snprintf(file, sizeof(file), "%s/synthea-fhir/Liz_Conn_27c911c6-f045-4ffa-af5d-6eba57ac94b2.json",
		 shared);
	want = compartment_of(file, patient, sizeof(patient), &observations);
	assert_true(json_object_size(want) > 20 && observations > 5);
	server_start(&s, bin, data, NULL);

	/* Observation?patient=: the file's Observations of that patient, in
	 * pages of 7, each once, the total right on the first page */
	snprintf(path, sizeof(path), "/fhir/Observation?patient=Patient/%s&_count=7", patient);
	w = walk(&s, path, s.token, NULL, NULL);
	assert_int_equal(w.total, observations);
	assert_int_equal(json_object_size(w.seen), observations);
	json_object_foreach(w.seen, key, v)
		assert_non_null(json_object_get(want, key));
	json_decref(w.seen);
	/* the compartment search is the same search */
	snprintf(path, sizeof(path), "/fhir/Patient/%s/Observation?_count=1000", patient);
	w = walk(&s, path, s.token, NULL, NULL);
	assert_int_equal(json_object_size(w.seen), observations);
	assert_int_equal(w.pages, 1);
	json_decref(w.seen);
	/* _summary=count: the total alone */
	{
		struct reply r;
		json_t *j;

		snprintf(path, sizeof(path), "/fhir/Observation?subject=%s&_summary=count", patient);
		r = get(&s, path, s.token, NULL);
		assert_int_equal(r.code, 200);
		j = json_loads(r.body, 0, NULL);
		assert_int_equal(json_integer_value(json_object_get(j, "total")), observations);
		assert_int_equal(json_array_size(json_object_get(j, "entry")), 0);
		json_decref(j);
		free(r.body);
	}
	/* _id, several */
	snprintf(path, sizeof(path), "/fhir/Patient?_id=%s,nobody", patient);
	w = walk(&s, path, s.token, NULL, NULL);
	assert_int_equal(w.total, 1);
	json_decref(w.seen);

	/* $everything in pages of 10 while new resources arrive: the file's
	 * compartment, each once; the one that sorts before the page reached
	 * is not shown, the one after is */
	{
		struct late l = { .data = data, .patient = patient };

		snprintf(path, sizeof(path), "/fhir/Patient/%s/$everything?_count=10", patient);
		w = walk(&s, path, s.token, arrive, &l);
		assert_int_equal(w.total, (long)json_object_size(want));
		json_object_foreach(want, key, v)
			if (!json_object_get(w.seen, key))
				fail_msg("$everything left out %s", key);
		assert_null(json_object_get(w.seen, "AllergyIntolerance/late"));
		assert_non_null(json_object_get(w.seen, "Observation/zzz-late"));
		assert_int_equal(json_object_size(w.seen), json_object_size(want) + 1);
		json_decref(w.seen);
	}
	snprintf(path, sizeof(path), "/fhir/Patient/%s/$everything?_type=Patient,Encounter", patient);
	w = walk(&s, path, s.token, NULL, NULL);
	json_object_foreach(w.seen, key, v)
		assert_true(!strncmp(key, "Patient/", 8) || !strncmp(key, "Encounter/", 10));
	assert_true(json_object_size(w.seen) > 1);
	json_decref(w.seen);

	/* errors */
	assert_int_equal(code_of(&s, "/fhir/Observation?flavour=1234-5", s.token, NULL), 400);
	assert_int_equal(code_of(&s, "/fhir/Observation?flavour=1234-5&_count=1", s.token,
				 "Prefer: handling=lenient"), 200);
	assert_int_equal(code_of(&s, "/fhir/Observation?_count=1001", s.token, NULL), 400);
	assert_int_equal(code_of(&s, "/fhir/Observation?patient=Group/1", s.token, NULL), 400);
	assert_int_equal(code_of(&s, "/fhir/Patient/nobody/$everything", s.token, NULL), 404);
	assert_int_equal(code_of(&s, "/fhir/lower", s.token, NULL), 404);

	/* access: a patient token searches its own compartment whatever it
	 * asks; a clinician bound to wards one patient at a time */
	issue(data, CL_ROLE_PATIENT, patient, own);
	w = walk(&s, "/fhir/Observation?_count=1000", own, NULL, NULL);
	assert_int_equal(json_object_size(w.seen), observations + 1);
	json_decref(w.seen);
	w = walk(&s, "/fhir/Observation?patient=someone-else", own, NULL, NULL);
	assert_int_equal(w.total, 0);
	json_decref(w.seen);
	assert_int_equal(code_of(&s, "/fhir/Patient/someone-else/$everything", own, NULL), 404);
	{
		struct cl_token_info spec = { .role = CL_ROLE_CLINICIAN };

		snprintf(spec.name, sizeof(spec.name), "ward nurse");
		snprintf(spec.wards, sizeof(spec.wards), "ICU-A");
		assert_int_equal(cl_tokens_issue(data, &spec, nurse, sizeof(nurse)), CL_OK);
	}
	assert_int_equal(code_of(&s, "/fhir/Observation", nurse, NULL), 403);
	assert_int_equal(server_stop(&s), 0);
	json_decref(want);
}

struct find {
	const char *rid;
	int found;
	char type[64], id[80], patient[80];
};

static int match_rid(void *arg, const struct cl_audit_entry *e)
{
	struct find *f = arg;

	if (!e->rec.request_id || strcmp(e->rec.request_id, f->rid) != 0)
		return 0;
	f->found++;
	snprintf(f->type, sizeof(f->type), "%s", e->rec.resource_type ? e->rec.resource_type : "");
	snprintf(f->id, sizeof(f->id), "%s", e->rec.nresource_ids ? e->rec.resource_ids[0] : "");
	snprintf(f->patient, sizeof(f->patient), "%s",
		 e->rec.npatients ? e->rec.patients[0] : "");
	return 0;
}

static void test_access(void **state)
{
	char data[300], patient[80], other[80], researcher[80], audit[400];
	struct cl_audit_filter all = { 0 };
	struct find f = { .rid = "fhir-read-1" };
	struct server s;

	(void)state;
	snprintf(data, sizeof(data), "%s/access", dir);
	make_versions(data);
	server_start(&s, bin, data, NULL);
	issue(data, CL_ROLE_PATIENT, "ver-1", patient);
	issue(data, CL_ROLE_PATIENT, "someone-else", other);
	issue(data, CL_ROLE_RESEARCHER, NULL, researcher);

	/* the patient's own Observation and history; not another patient's */
	assert_int_equal(code_of(&s, "/fhir/Observation/ver-obs", patient, "X-Request-Id: fhir-read-1"),
			 200);
	assert_int_equal(code_of(&s, "/fhir/Patient/ver-1/_history", patient, NULL), 200);
	assert_int_equal(code_of(&s, "/fhir/Observation/ver-obs", other, NULL), 404);
	assert_int_equal(code_of(&s, "/fhir/Patient/ver-1/_history/1", other, NULL), 404);
	assert_int_equal(code_of(&s, "/fhir/Observation/ver-obs", researcher, NULL), 403);
	assert_int_equal(code_of(&s, "/fhir/Observation/ver-obs", NULL, NULL), 401);
	assert_int_equal(server_stop(&s), 0);

	/* the read is in the trail: type, id, patient */
	snprintf(audit, sizeof(audit), "%s/audit", data);
	assert_int_equal(cl_audit_search(audit, &all, match_rid, &f), 0);
	assert_int_equal(f.found, 1);
	assert_string_equal(f.type, "Observation");
	assert_string_equal(f.id, "ver-obs");
	assert_string_equal(f.patient, "ver-1");
}

static const char *client_script;

/* A real FHIR client's session (tests/fhirclient/client.mjs, npm
 * fhir-kit-client): capability, read, vread, history, a search paged by
 * the client's nextPage, a compartment search, $everything, a 404, a
 * transaction and a batch. */
static void test_client(void **state)
{
	char data[300], file[1024], patient[80], cmd[2400];
	long observations;
	struct server s;
	json_t *want;

	(void)state;
	snprintf(data, sizeof(data), "%s/client", dir);
	snprintf(file, sizeof(file), "%s/synthea-fhir/Liz_Conn_27c911c6-f045-4ffa-af5d-6eba57ac94b2.json",
		 shared);
	ingest(data, file);
	want = compartment_of(file, patient, sizeof(patient), &observations);
	server_start(&s, bin, data, NULL);
	snprintf(cmd, sizeof(cmd), "node '%s' '%s/fhir' '%s' '%s'", client_script, s.url, s.token,
		 patient);
	run_node(cmd, "client.out", "fhir-kit-client session failed (is it installed? "
		 "scripts/deps.sh runs npm install in tests/fhirclient)");
	assert_int_equal(server_stop(&s), 0);
	json_decref(want);
}

static const struct CMUnitTest tests[] = {
	cmocka_unit_test(test_round_trip),
	cmocka_unit_test(test_versions),
	cmocka_unit_test(test_access),
	cmocka_unit_test(test_search),
	cmocka_unit_test(test_client),
};

int main(int argc, char **argv)
{
	if (argc < 4) {
		fprintf(stderr, "usage: %s /path/to/carelake /path/to/shared/data "
			"/path/to/tests/fhirclient/client.mjs\n", argv[0]);
		return 2;
	}
	bin = argv[1];
	shared = argv[2];
	client_script = argv[3];
	SERVE_TEST_RUN(tests);
}
