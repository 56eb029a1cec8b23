/*
 * The store a request reads through. See cl_api.h.
 *
 * Each server thread keeps one connection to carelake.db for the requests
 * it answers: opening one per request (cl_store_open) prepares every
 * statement of the store again, most of the time a small read takes. A
 * kept connection holds no transaction between requests, so it neither
 * sees stale data nor holds back the writers' checkpoints; it is closed
 * when its thread ends. A request that asks for a second store while its
 * thread's is in use gets one of its own.
 */
#include "cl_api.h"
#include "cl_server_int.h"
#include "core/cl_error.h"
#include "store/cl_db.h"
#include "store/cl_store.h"

#include <sqlite3.h>

#include <limits.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct kept {
	struct cl_store *st;
	int busy;
	char dir[PATH_MAX];
};

static pthread_key_t key;
static pthread_once_t once = PTHREAD_ONCE_INIT;

static void drop(void *p)
{
	struct kept *k = p;

	cl_store_close(k->st);
	free(k);
}

static void make_key(void)
{
	if (pthread_key_create(&key, drop) != 0)
		abort();
}

int cl_api_store(struct cl_req *r, struct cl_store **out)
{
	struct kept *k;
	int rc;

	pthread_once(&once, make_key);
	k = pthread_getspecific(key);
	if (!k && (k = calloc(1, sizeof(*k))) && pthread_setspecific(key, k) != 0) {
		free(k);
		k = NULL;
	}
	if (!k || k->busy)
		return cl_store_open(r->s->data_dir, out);
	if (k->st && strcmp(k->dir, r->s->data_dir) != 0) {
		cl_store_close(k->st); /* another server's (tests run several) */
		k->st = NULL;
	}
	if (!k->st) {
		rc = cl_store_open(r->s->data_dir, &k->st);
		if (rc != CL_OK)
			return rc;
		snprintf(k->dir, sizeof(k->dir), "%s", r->s->data_dir);
	}
	k->busy = 1;
	*out = k->st;
	return CL_OK;
}

void cl_api_store_done(struct cl_store *st)
{
	struct kept *k = pthread_getspecific(key);

	if (k && k->st == st && k->busy) {
		k->busy = 0;
		return;
	}
	cl_store_close(st);
}

struct sqlite3 *cl_api_db(struct cl_req *r, int *reply)
{
	sqlite3 *db = NULL;

	if (cl_db_open(r->s->data_dir, CL_DB_READONLY, &db) == CL_OK)
		return db;
	sqlite3_close(db);
	*reply = cl_reply_error(r, 503, "unavailable", cl_error_detail(), "Retry-After", "1");
	return NULL;
}
