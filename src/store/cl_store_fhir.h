/*
 * FHIR resource versions in carelake.db (table fhir_resource): every FHIR
 * resource refine reads, whatever way it came (a file, POST /fhir, a
 * Bundle entry, NDJSON), kept as it arrived, one row per version. Refine
 * writes them in its own transaction, beside the silver rows the resource
 * makes: the same content again adds nothing, a changed one is the next
 * version, a DELETE adds a version that says the resource is gone. The
 * time of a version is when bronze accepted it, so `refine --rebuild`
 * makes the same versions again. The FHIR API reads them (read, vread,
 * history), setting meta.versionId and meta.lastUpdated from the row.
 *
 * A version's patient is the patient whose compartment it is in (a
 * Patient's own id; the subject or patient another resource names):
 * what the access rules go by.
 */
#ifndef CL_STORE_FHIR_H
#define CL_STORE_FHIR_H

#include <stddef.h>
#include <stdint.h>

struct sqlite3;
struct cl_store;

#define CL_FHIR_TYPE_MAX 64    /* a resource type's name, its NUL included */
#define CL_FHIR_ID_MAX 65      /* FHIR ids are 1..64 of [A-Za-z0-9.-] */

/* The writer's side, on refine's connection (inside its transaction). */
struct cl_fhir_writer;

/* Creates the table if needed and prepares the writer's statements. */
int cl_fhir_writer_open(struct sqlite3 *db, struct cl_fhir_writer **out);
void cl_fhir_writer_close(struct cl_fhir_writer *w);

/* Where the versions that follow come from (kept with each). The strings
 * are borrowed until the next call. */
void cl_fhir_writer_lineage(struct cl_fhir_writer *w, const char *source, const char *file,
			    int64_t run_id);

/* A resource (json: the resource object's text, as it arrived) at time
 * ts_us. *version: the version it made, or 0 when it is the current
 * version's content again. patient: its compartment ("" or NULL: none). */
int cl_fhir_put(struct cl_fhir_writer *w, const char *type, const char *id,
		const char *patient, const char *json, size_t len, int64_t ts_us,
		const char *record, int64_t *version);

/* The types of search parameter (fhir/cl_fhir_index.h). */
enum cl_fhir_kind { CL_FK_TOKEN, CL_FK_STRING, CL_FK_DATE, CL_FK_REF, CL_FK_QUANTITY };

/* A search key of a resource (fhir/cl_fhir_index.h says what each
 * parameter type puts in it); NULL strings are none. */
struct cl_fhir_key {
	const char *param;           /* the search parameter's name */
	const char *sys, *code, *str;
	int64_t lo, hi;              /* a date's instants, [lo, hi) (has_range) */
	double num;                  /* a quantity's value (has_num) */
	int has_range, has_num;
	int ref;                     /* a reference (sys its type, code its id):
				      * also kept by what it names (_revinclude) */
};

/* A search key of the version cl_fhir_put just made (none when it made
 * none). */
int cl_fhir_put_key(struct cl_fhir_writer *w, const struct cl_fhir_key *k);

/* Reads the search keys of every current resource again when they were
 * read by another version of the catalogue than `index_version`: fn is
 * called with each resource's text and calls cl_fhir_put_key. Runs in a
 * transaction of its own when none is open. *done: how many resources
 * were read again (0: the keys were up to date). */
int cl_fhir_reindex(struct cl_fhir_writer *w, int index_version,
		    int (*fn)(void *arg, const char *type, const char *json, size_t len),
		    void *arg, int64_t *done);

/* Deletes a resource at ts_us: *version is the version that records it
 * (in the compartment of the version it deletes), or 0 when there is
 * nothing to delete (never held, or deleted already). */
int cl_fhir_delete(struct cl_fhir_writer *w, const char *type, const char *id, int64_t ts_us,
		   const char *record, int64_t *version);

/* Forgets every version (refine --rebuild). */
int cl_fhir_clear(struct cl_fhir_writer *w);

/* One version as read. */
struct cl_fhir_version {
	int64_t version;
	int64_t updated_us;
	int deleted;                       /* this version deletes the resource */
	char patient[CL_FHIR_ID_MAX];      /* its compartment, "" for none */
	char *resource;                    /* the resource's text (NULL if deleted); free() */
	size_t len;
};

/* The current version (version 0) or the given one of type/id.
 * CL_ENOENT when there is no such resource or version. */
int cl_store_fhir_read(struct cl_store *s, const char *type, const char *id, int64_t version,
		       struct cl_fhir_version *v);

/* Whether type/id is held and not deleted (its current version): CL_OK,
 * its compartment's patient into patient[cap] ("" for none; patient may
 * be NULL); CL_ENOENT, no error set, when it is not. Reads no resource
 * text: cheap enough to ask for each resource of an export. */
int cl_store_fhir_current(struct cl_store *s, const char *type, const char *id, char *patient,
			  size_t cap);

/* The versions of type/id made at or after since_us, newest first: those
 * below version `below` (0: from the newest), at most `count`; *total:
 * how many there are from since_us (0 when the resource was never held).
 * fn returns nonzero to stop. A page thus stays the same while new
 * versions arrive. */
int cl_store_fhir_history(struct cl_store *s, const char *type, const char *id, int64_t since_us,
			  int64_t below, int64_t count, int64_t *total,
			  int (*fn)(void *arg, const struct cl_fhir_version *v), void *arg);

/* A search parameter's prefix and modifier (FHIR R4 search). */
enum cl_fhir_prefix { CL_FP_EQ, CL_FP_NE, CL_FP_GT, CL_FP_LT, CL_FP_GE, CL_FP_LE, CL_FP_SA,
		      CL_FP_EB, CL_FP_AP };
enum cl_fhir_modifier { CL_FM_NONE, CL_FM_NOT, CL_FM_MISSING, CL_FM_EXACT, CL_FM_CONTAINS };

/* One value a condition compares with. */
struct cl_fhir_value {
	int prefix;           /* dates and quantities: enum cl_fhir_prefix */
	const char *sys;      /* tokens: the system (NULL any, "" none); references:
			       * the type (NULL any); quantities: the unit's system
			       * (NULL any) */
	const char *code;     /* tokens: the code (NULL any); references: the id;
			       * quantities: the unit's code (NULL any) */
	const char *str;      /* strings: folded (as written for :exact) */
	int64_t lo, hi;       /* dates: the instants the value covers, [lo, hi) */
	double num, num_lo, num_hi;  /* quantities: the value, and the range its
				      * precision covers, [num_lo, num_hi) */
};

/* A condition on one search parameter: a resource matches when one of
 * its keys matches one of the values (:not, when none does; :missing,
 * when it has no key, or has one). Chained, the condition is on the
 * resources of chain_type that the resource names by its reference
 * parameter chain (subject:Patient.name=x), or reversed (_has), on those
 * that name the resource by their parameter chain
 * (_has:Observation:patient:code=x). */
struct cl_fhir_cond {
	const char *chain;    /* the reference parameter chained through (NULL: none) */
	const char *chain_type;
	int chain_compartment; /* ... which is the patient compartment (patient,
				* subject: the Patient, patient_id) */
	int reverse;          /* _has */
	const char *param;    /* NULL: _lastUpdated, the version's time */
	int kind;             /* enum cl_fhir_kind */
	int modifier;         /* enum cl_fhir_modifier */
	int missing;          /* :missing=true (1) or false (0) */
	int nvalues;
	const struct cl_fhir_value *values;
};

/* A sort key: a search parameter's value (the lowest of a resource's
 * values ascending, the highest descending; a date's start ascending, its
 * end descending), or the id or the version's time. Resources without a
 * value come last either way. */
enum cl_fhir_sort_by { CL_FS_PARAM, CL_FS_ID, CL_FS_UPDATED };
struct cl_fhir_sort {
	int by;                /* enum cl_fhir_sort_by */
	const char *param;     /* CL_FS_PARAM: the parameter */
	int kind;              /* ... its type (enum cl_fhir_kind) */
	int desc;
};

/* A resource's value for a sort key: none ('n'), an integer ('i'), a
 * number ('d') or text ('t'). */
struct cl_fhir_sortval {
	int type;
	int64_t i;
	double d;
	const char *t;
};

/* A search of the current versions (deletions left out), in the order of
 * its sort keys, then of type then id. Every condition given must hold. */
#define CL_FHIR_SORT_MAX 4           /* the most sort keys */
#define CL_FHIR_QUERY_LIST_MAX 100   /* the most types or ids a query lists */
#define CL_FHIR_QUERY_COND_MAX 24    /* the most conditions */
struct cl_fhir_query {
	const char *type;            /* of this type (NULL: any) */
	const char *patient;         /* in this patient's compartment (NULL: any) */
	int in_compartment;          /* in some patient's compartment */
	const char *const *types;    /* of one of these types (ntypes 0: any) */
	int ntypes;
	const char *const *ids;      /* with one of these ids (nids 0: any) */
	int nids;
	int64_t since_us;            /* changed at or after (0: any time) */
	const struct cl_fhir_cond *conds;  /* each must hold */
	int nconds;
	const struct cl_fhir_sort *sorts;  /* the order, before type and id */
	int nsorts;
	const char *after_type;      /* the page starts after this type/id */
	const char *after_id;        /* (NULL: at the first) */
	const struct cl_fhir_sortval *after_vals;  /* ... whose sort values
						    * were these (nsorts) */
	int64_t count;               /* matches at most (0: none; the total only) */
};

/* One match: borrowed until fn returns. */
struct cl_fhir_match {
	const char *type, *id;
	int64_t version, updated_us;
	const char *resource;
	size_t len;
	struct cl_fhir_sortval vals[CL_FHIR_SORT_MAX];  /* its sort values */
};

/* Calls fn with each match of q (fn returns nonzero to stop); *total,
 * when not NULL, is how many match q in all (every page). CL_EINVAL
 * when a list is longer than CL_FHIR_QUERY_LIST_MAX. */
int cl_store_fhir_search(struct cl_store *s, const struct cl_fhir_query *q, int64_t *total,
			 int (*fn)(void *arg, const struct cl_fhir_match *m), void *arg);

/* The version of the catalogue of search parameters that read the search
 * keys of the resources held: 0 for none (keys never read), -1 when no
 * resource is held (nothing to search). */
int64_t cl_store_fhir_keys_version(struct cl_store *s);

/* The references of the current type/id under search parameter param
 * (NULL: its compartment's patient, as Patient/id): fn gets each one's
 * type (NULL when only its id is known, an unresolved urn:uuid) and id.
 * None when there is no such resource. */
int cl_store_fhir_refs(struct cl_store *s, const char *type, const char *id, const char *param,
		       int (*fn)(void *arg, const char *ref_type, const char *ref_id), void *arg);

/* The current resources of source_type whose parameter param (NULL: the
 * compartment, when type is Patient) names type/id, at most limit, in the
 * order of id: fn gets each (nonzero to stop). */
int cl_store_fhir_referring(struct cl_store *s, const char *source_type, const char *param,
			    const char *type, const char *id, int64_t limit,
			    int (*fn)(void *arg, const struct cl_fhir_match *m), void *arg);

/* Calls fn with every resource type held, in order (none when nothing
 * is held yet). */
int cl_store_fhir_types(struct cl_store *s, void (*fn)(void *arg, const char *type), void *arg);

/* How far refine has read bronze source `source`: the offset of the next
 * record it will read (0: none read yet). */
uint64_t cl_store_fhir_refined(struct cl_store *s, const char *source);

/* A read transaction: every read until cl_store_fhir_snapshot_end sees the
 * store as it was when this returned (writers go on meanwhile). */
int cl_store_fhir_snapshot(struct cl_store *s);
void cl_store_fhir_snapshot_end(struct cl_store *s);

void cl_fhir_version_free(struct cl_fhir_version *v);

#endif
