/*
 * Browser sessions: random ids mapped to tokens in memory. See
 * cl_session.h.
 */
#include "cl_session.h"
#include "core/cl_error.h"
#include "core/cl_mem.h"

#include <pthread.h>
#include <sodium.h>
#include <stdio.h>
#include <string.h>

#define SEC 1000000ll
#define F(field) offsetof(struct cl_web_settings, field)

static const struct cl_config_entry web_entries[] = {
	{ "session_lifetime", CL_CFG_DURATION, "12h", 60 * SEC, 30 * 86400 * SEC,
	  F(session_lifetime_us),
	  "a dashboard session ends this long after signing in, used or not", NULL },
	{ "session_idle", CL_CFG_DURATION, "30m", 10 * SEC, 30 * 86400 * SEC, F(session_idle_us),
	  "a dashboard session ends after this long without a request", NULL },
	{ "max_sessions", CL_CFG_U32, "4096", 1, 1000000, F(max_sessions),
	  "most dashboard sessions live at once; signing in past it gets 503 until some end",
	  NULL },
	{ "secure_cookie", CL_CFG_U32, "0", 0, 1, F(secure_cookie),
	  "1: the session cookie is always marked Secure (set it when browsers reach carelake "
	  "through TLS, a reverse proxy; a request forwarded with X-Forwarded-Proto: https gets "
	  "Secure anyway)", NULL },
};

const struct cl_config_section cl_web_section = {
	.name = "web",
	.entries = web_entries,
	.nentries = sizeof(web_entries) / sizeof(web_entries[0]),
	.size = sizeof(struct cl_web_settings),
};

const struct cl_web_settings *cl_web_settings(const struct cl_config *c)
{
	return cl_config_get(c, &cl_web_section);
}

#define ID_BYTES 32

struct session {
	unsigned char hash[crypto_generichash_BYTES];  /* BLAKE2b of the id's hex */
	char *token;              /* NULL: the slot is free */
	size_t token_len;
	int64_t opened_us, used_us;
};

struct cl_sessions {
	pthread_mutex_t mu;
	int64_t lifetime_us, idle_us;
	uint32_t max, live;
	struct session *slots;
};

int cl_sessions_create(const struct cl_web_settings *ws, struct cl_sessions **out)
{
	struct cl_sessions *s = cl_calloc(1, sizeof(*s));

	if (s)
		s->slots = cl_calloc(ws->max_sessions, sizeof(*s->slots));
	if (!s || !s->slots || sodium_init() < 0) {
		if (s)
			cl_free(s->slots);
		cl_free(s);
		return cl_error_set(CL_ENOMEM, "no memory for the dashboard sessions");
	}
	pthread_mutex_init(&s->mu, NULL);
	s->lifetime_us = ws->session_lifetime_us;
	s->idle_us = ws->session_idle_us;
	s->max = ws->max_sessions;
	*out = s;
	return CL_OK;
}

/* Frees a slot, its token wiped first. */
static void forget(struct cl_sessions *s, struct session *e)
{
	sodium_memzero(e->token, e->token_len);
	cl_free(e->token);
	memset(e, 0, sizeof(*e));
	s->live--;
}

void cl_sessions_destroy(struct cl_sessions *s)
{
	if (!s)
		return;
	for (uint32_t i = 0; i < s->max; i++)
		if (s->slots[i].token)
			forget(s, &s->slots[i]);
	pthread_mutex_destroy(&s->mu);
	cl_free(s->slots);
	cl_free(s);
}

static int ended(const struct cl_sessions *s, const struct session *e, int64_t now_us)
{
	return now_us - e->opened_us >= s->lifetime_us || now_us - e->used_us >= s->idle_us;
}

/* The hash under which the id is kept. */
static void hash_id(const char *hex, unsigned char out[crypto_generichash_BYTES])
{
	crypto_generichash(out, crypto_generichash_BYTES, (const unsigned char *)hex,
			   CL_SESSION_ID_HEX, NULL, 0);
}

int cl_sessions_open(struct cl_sessions *s, const char *token, size_t len, int64_t now_us,
		     char id[CL_SESSION_ID_HEX + 1])
{
	unsigned char raw[ID_BYTES];
	struct session *free_slot = NULL;
	char *copy;

	if (len == 0 || len > CL_SESSION_TOKEN_MAX)
		return cl_error_set(CL_EINVAL, "a token of 1 to %d bytes is needed to sign in",
				    CL_SESSION_TOKEN_MAX);
	copy = cl_malloc(len + 1);
	if (!copy)
		return cl_error_set(CL_ENOMEM, "no memory for a session");
	memcpy(copy, token, len);
	copy[len] = '\0';
	randombytes_buf(raw, sizeof(raw));
	sodium_bin2hex(id, CL_SESSION_ID_HEX + 1, raw, sizeof(raw));
	sodium_memzero(raw, sizeof(raw));
	pthread_mutex_lock(&s->mu);
	for (uint32_t i = 0; i < s->max; i++) {
		struct session *e = &s->slots[i];

		if (e->token && ended(s, e, now_us))
			forget(s, e);
		if (!e->token && !free_slot)
			free_slot = e;
	}
	if (free_slot) {
		hash_id(id, free_slot->hash);
		free_slot->token = copy;
		free_slot->token_len = len;
		free_slot->opened_us = free_slot->used_us = now_us;
		s->live++;
	}
	pthread_mutex_unlock(&s->mu);
	if (!free_slot) {
		sodium_memzero(copy, len);
		cl_free(copy);
		memset(id, 0, CL_SESSION_ID_HEX + 1);
		return cl_error_set(CL_EBUSY, "too many dashboard sessions are open (web.max_sessions); "
				    "try again later");
	}
	return CL_OK;
}

/* 1 if id is 64 lower-case hex digits. */
static int well_formed(const char *id)
{
	size_t n = strspn(id, "0123456789abcdef");

	return n == CL_SESSION_ID_HEX && id[n] == '\0';
}

/* The live slot of id, or NULL (an ended one is forgotten). Under mu. */
static struct session *find(struct cl_sessions *s, const char *id, int64_t now_us)
{
	unsigned char h[crypto_generichash_BYTES];

	if (!well_formed(id))
		return NULL;
	hash_id(id, h);
	for (uint32_t i = 0, seen = 0; i < s->max && seen < s->live; i++) {
		struct session *e = &s->slots[i];

		if (!e->token)
			continue;
		seen++;
		if (sodium_memcmp(e->hash, h, sizeof(h)) != 0)
			continue;
		if (ended(s, e, now_us)) {
			forget(s, e);
			return NULL;
		}
		return e;
	}
	return NULL;
}

int cl_sessions_token(struct cl_sessions *s, const char *id, int64_t now_us, char *tok,
		      size_t cap)
{
	struct session *e;
	int rc = CL_OK;

	pthread_mutex_lock(&s->mu);
	e = find(s, id, now_us);
	if (!e)
		rc = cl_error_set(CL_ENOENT, "the dashboard session has ended or is not known; "
				  "sign in again");
	else if (e->token_len >= cap)
		rc = cl_error_set(CL_ENOSPC, "the session's token does not fit");
	else {
		memcpy(tok, e->token, e->token_len + 1);
		e->used_us = now_us;
	}
	pthread_mutex_unlock(&s->mu);
	return rc;
}

void cl_sessions_close(struct cl_sessions *s, const char *id)
{
	struct session *e;

	pthread_mutex_lock(&s->mu);
	e = find(s, id, INT64_MIN / 4);
	if (e)
		forget(s, e);
	pthread_mutex_unlock(&s->mu);
}

uint32_t cl_sessions_count(struct cl_sessions *s)
{
	uint32_t n;

	pthread_mutex_lock(&s->mu);
	n = s->live;
	pthread_mutex_unlock(&s->mu);
	return n;
}

int cl_session_cookie(const char *h, char id[CL_SESSION_ID_HEX + 1])
{
	static const char name[] = CL_SESSION_COOKIE "=";
	const char *p = h;

	id[0] = '\0';
	while (p && *p) {
		size_t len;

		while (*p == ' ' || *p == '\t' || *p == ';')
			p++;
		len = strcspn(p, ";");
		if (len >= sizeof(name) - 1 && memcmp(p, name, sizeof(name) - 1) == 0) {
			const char *v = p + sizeof(name) - 1;
			size_t vlen = len - (sizeof(name) - 1);

			while (vlen > 0 && v[vlen - 1] == ' ')
				vlen--;
			if (vlen > CL_SESSION_ID_HEX)
				vlen = 0;  /* too long to be an id: the session of none */
			memcpy(id, v, vlen);
			id[vlen] = '\0';
			return 1;
		}
		p += len;
	}
	return 0;
}
