/*
 * FHIR search parameters (fhir/cl_fhir_search.c), against known inputs:
 * what each parameter sets in the query and in the links' text; the
 * references a patient parameter takes and those it refuses; lists (a bad
 * member, too many, given twice, empty: refused whole); page sizes; the
 * page start of a next link; $everything's own parameters; _format;
 * unknown parameters refused, or ignored when lenient; and a refusal that
 * leaves what was taken before as it was.
 */
#include "cl_test.h"
#include "core/cl_error.h"
#include "fhir/cl_fhir_search.h"

static struct cl_fhir_search s;

static int param(const char *name, const char *value)
{
	s.why[0] = '\0';
	return cl_fhir_search_param(&s, name, value);
}

static void test_search(void **state)
{
	char many[1024] = "";

	(void)state;
	cl_fhir_search_init(&s, "Observation", 0, 0);
	assert_int_equal(s.q.count, CL_FHIR_PAGE_DEFAULT);
	assert_int_equal(param("_id", "a,b.c,d-1"), CL_OK);
	assert_int_equal(s.q.nids, 3);
	assert_string_equal(s.q.ids[1], "b.c");
	assert_int_equal(param("patient", "https://fhir.example.org/r4/Patient/p-7"), CL_OK);
	assert_string_equal(s.q.patient, "p-7");
	assert_int_equal(param("_count", "20"), CL_OK);
	assert_int_equal(s.q.count, 20);
	assert_int_equal(param("_total", "none"), CL_OK);
	assert_int_equal(s.no_total, 1);
	assert_int_equal(param("_summary", "count"), CL_OK);
	assert_int_equal(s.summary_count, 1);
	assert_int_equal(param("_format", "application/fhir+json"), CL_OK);
	assert_int_equal(param("_after", "Observation/o-9"), CL_OK);
	assert_int_equal(cl_fhir_search_finish(&s), CL_OK);
	assert_string_equal(s.q.after_type, "Observation");
	assert_string_equal(s.q.after_id, "o-9");
	/* the link: each parameter as taken, the patient as FHIR writes it,
	 * the page start left to the next link */
	assert_string_equal(s.applied, "_id=a,b.c,d-1&patient=Patient/p-7&_count=20&_total=none"
			    "&_summary=count");

	/* refusals, each saying why; what was taken before stays */
	assert_int_equal(param("subject", "Patient/p-8"), CL_EINVAL);      /* a second patient */
	assert_string_equal(s.q.patient, "p-7");
	assert_non_null(strstr(s.why, "one Patient reference"));
	assert_int_equal(param("_id", "x"), CL_EINVAL);                    /* given twice */
	assert_int_equal(s.q.nids, 3);
	assert_non_null(strstr(s.why, "given twice"));
	assert_int_equal(param("_count", "0"), CL_EINVAL);
	assert_int_equal(param("_count", "0"), CL_EINVAL);
	assert_int_equal(param("_count", "1001"), CL_EINVAL);
	assert_int_equal(param("_count", "ten"), CL_EINVAL);
	assert_int_equal(s.q.count, 20);
	assert_int_equal(param("_format", "xml"), CL_ENOTSUP);
	assert_int_equal(param("_summary", "full"), CL_EINVAL);
	assert_int_equal(param("flavour", "sweet"), CL_EINVAL);
	assert_non_null(strstr(s.why, "flavour is not a search parameter"));
	assert_int_equal(param("_type", "Patient"), CL_EINVAL);            /* $everything's */

	/* references a patient parameter refuses */
	cl_fhir_search_init(&s, "Observation", 0, 0);
	assert_int_equal(param("patient", "Group/g"), CL_EINVAL);
	assert_int_equal(param("patient", "Patient/"), CL_EINVAL);
	assert_int_equal(param("patient", "XPatient/p"), CL_EINVAL);
	assert_int_equal(param("patient", "a b/Patient/p"), CL_EINVAL);
	assert_int_equal(param("patient", "Patient/p q"), CL_EINVAL);
	assert_null(s.q.patient);
	assert_int_equal(param("subject", "p1"), CL_OK);
	assert_string_equal(s.q.patient, "p1");

	/* lists: a bad member, an empty list, more than 100 */
	cl_fhir_search_init(&s, "Observation", 0, 0);
	assert_int_equal(param("_id", "a,b c"), CL_EINVAL);
	assert_int_equal(s.q.nids, 0);
	assert_int_equal(param("_id", ",,"), CL_EINVAL);
	for (int i = 0; i <= CL_FHIR_QUERY_LIST_MAX; i++)
		snprintf(many + strlen(many), sizeof(many) - strlen(many), "%s%d", i ? "," : "", i);
	assert_int_equal(param("_id", many), CL_EINVAL);
	assert_non_null(strstr(s.why, "100"));
	assert_int_equal(s.q.nids, 0);

	/* lenient: what is not served is ignored and stays out of the link */
	cl_fhir_search_init(&s, "Observation", 0, 1);
	assert_int_equal(param("flavour", "sweet"), CL_OK);
	assert_int_equal(param("_has:Observation:nosuch:code", "x"), CL_OK);
	assert_int_equal(param("patient.organization.name", "x"), CL_OK);
	assert_int_equal(cl_fhir_search_finish(&s), CL_OK);
	assert_string_equal(s.applied, "_count=50");

	/* chained and reverse chained */
	cl_fhir_search_init(&s, "Observation", 0, 0);
	assert_int_equal(param("patient.gender", "female"), CL_OK);
	assert_string_equal(s.conds[0].chain_type, "Patient");
	assert_int_equal(s.conds[0].chain_compartment, 1);
	assert_string_equal(s.conds[0].param, "gender");
	assert_int_equal(param("encounter:Encounter.status", "finished"), CL_OK);
	assert_string_equal(s.conds[1].chain, "encounter");
	assert_string_equal(s.conds[1].chain_type, "Encounter");
	assert_int_equal(param("encounter:Patient.status", "x"), CL_EINVAL);
	assert_non_null(strstr(s.why, "name the type"));
	assert_int_equal(param("code.status", "x"), CL_EINVAL);
	assert_non_null(strstr(s.why, "not a reference parameter"));
	assert_int_equal(param("patient.nosuch", "x"), CL_EINVAL);
	assert_int_equal(param("patient.name:exact", "Ann"), CL_OK);
	assert_int_equal(s.conds[2].modifier, CL_FM_EXACT);
	cl_fhir_search_init(&s, "Patient", 0, 0);
	assert_int_equal(param("_has:Observation:patient:code", "1234-5"), CL_OK);
	assert_int_equal(s.conds[0].reverse, 1);
	assert_string_equal(s.conds[0].chain_type, "Observation");
	assert_int_equal(param("_has:Encounter:practitioner:status", "x"), CL_EINVAL);
	assert_non_null(strstr(s.why, "names Practitioner, not Patient"));
	assert_int_equal(param("_has:Observation", "x"), CL_EINVAL);
}

/* _sort and the page starts a sorted search's next links carry. */
static void test_sort(void **state)
{
	struct cl_fhir_match m = { .type = "Observation", .id = "o-1" };
	char after[400];

	(void)state;
	cl_fhir_search_init(&s, "Observation", 0, 0);
	assert_int_equal(param("_sort", "-date,code,_id,-_lastUpdated"), CL_OK);
	assert_int_equal(s.q.nsorts, 4);
	assert_int_equal(s.q.sorts[0].by, CL_FS_PARAM);
	assert_int_equal(s.q.sorts[0].desc, 1);
	assert_int_equal(s.q.sorts[0].kind, CL_FK_DATE);
	assert_int_equal(s.q.sorts[2].by, CL_FS_ID);
	assert_int_equal(s.q.sorts[3].by, CL_FS_UPDATED);
	assert_int_equal(param("_sort", "code"), CL_EINVAL);               /* given twice */
	m.vals[0] = (struct cl_fhir_sortval){ .type = 'i', .i = -5 };
	m.vals[1] = (struct cl_fhir_sortval){ .type = 't', .t = "a b&~" };
	m.vals[2] = (struct cl_fhir_sortval){ .type = 'd', .d = 1e20 };
	m.vals[3] = (struct cl_fhir_sortval){ .type = 'n' };
	cl_fhir_search_after(&s, &m, after, sizeof(after));
	assert_string_equal(after, "i-5~t612062267e~d1e20~n~Observation/o-1");
	assert_int_equal(param("_after", after), CL_OK);
	assert_int_equal(cl_fhir_search_finish(&s), CL_OK);
	assert_int_equal(s.q.after_vals[0].i, -5);
	assert_string_equal(s.q.after_vals[1].t, "a b&~");
	assert_true(s.q.after_vals[2].d == 1e20);
	assert_int_equal(s.q.after_vals[3].type, 'n');
	assert_string_equal(s.q.after_id, "o-1");
	assert_non_null(strstr(s.applied, "_sort=-date,code,_id,-_lastUpdated"));

	/* a page start of another sort is refused */
	cl_fhir_search_init(&s, "Observation", 0, 0);
	assert_int_equal(param("_sort", "date"), CL_OK);
	assert_int_equal(param("_after", "Observation/o-1"), CL_OK);
	assert_int_equal(cl_fhir_search_finish(&s), CL_EINVAL);
	assert_non_null(strstr(s.why, "_after"));
	cl_fhir_search_init(&s, "Observation", 0, 0);
	assert_int_equal(param("_after", "i5~Observation/o-1"), CL_OK);
	assert_int_equal(cl_fhir_search_finish(&s), CL_EINVAL);
	cl_fhir_search_init(&s, "Observation", 0, 0);
	assert_int_equal(param("_sort", "code"), CL_OK);
	assert_int_equal(param("_after", "t6~Observation/o-1"), CL_OK);        /* odd hex */
	assert_int_equal(cl_fhir_search_finish(&s), CL_EINVAL);
	/* keys that are not the type's, or too many */
	cl_fhir_search_init(&s, "Observation", 0, 0);
	assert_int_equal(param("_sort", "birthdate"), CL_EINVAL);
	assert_non_null(strstr(s.why, "birthdate"));
	cl_fhir_search_init(&s, "Observation", 0, 0);
	assert_int_equal(param("_sort", "date,code,status,category,encounter"), CL_EINVAL);
	assert_non_null(strstr(s.why, "at most 4"));
	assert_int_equal(param("_sort", "date,,code"), CL_EINVAL);
	assert_int_equal(s.q.nsorts, 0);
}

static void test_everything(void **state)
{
	(void)state;
	cl_fhir_search_init(&s, "Observation", 1, 0);
	assert_int_equal(param("_type", "Encounter,Observation"), CL_OK);
	assert_int_equal(s.q.ntypes, 2);
	assert_string_equal(s.q.types[1], "Observation");
	assert_int_equal(param("_since", "2026-12-05T10:00:00Z"), CL_OK);
	assert_int_equal(s.q.since_us, 1796464800000000);
	assert_int_equal(param("_since", "yesterday"), CL_EINVAL);
	assert_int_equal(param("_type", "Encounter"), CL_EINVAL);
	assert_int_equal(param("_id", "x"), CL_EINVAL);   /* not an $everything parameter */
	assert_int_equal(param("patient", "p"), CL_EINVAL);
	assert_int_equal(cl_fhir_search_finish(&s), CL_OK);
	assert_string_equal(s.applied, "_type=Encounter,Observation&_since=2026-12-05T10:00:00Z"
			    "&_count=50");
	cl_fhir_search_init(&s, "Observation", 1, 0);
	assert_int_equal(param("_type", "Observation,observation"), CL_EINVAL);
	assert_int_equal(s.q.ntypes, 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_search),
		cmocka_unit_test(test_everything),
		cmocka_unit_test(test_sort),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
