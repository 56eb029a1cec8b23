/*
 * A client of the live stream (GET /api/v1/stream) on a thread of its
 * own, gathering what it receives, for the runtime tests; and wait_for, a
 * condition polled until the test's patience runs out. Include after
 * serve_helpers.h.
 */
#ifndef SSE_HELPERS_H
#define SSE_HELPERS_H

#include <curl/curl.h>
#include <pthread.h>
#include <stdatomic.h>

struct sse_client {
	const struct server *srv;
	const char *token;            /* NULL: the server's admin token */
	const char *query;            /* after /api/v1/stream, or NULL */
	char buf[65536];
	size_t len;
	atomic_int stop;
	pthread_mutex_t mu;
	pthread_t th;
};

static inline size_t on_sse(char *p, size_t sz, size_t n, void *arg)
{
	struct sse_client *c = arg;

	pthread_mutex_lock(&c->mu);
	if (c->len + sz * n < sizeof(c->buf) - 1) {
		memcpy(c->buf + c->len, p, sz * n);
		c->len += sz * n;
		c->buf[c->len] = '\0';
	}
	pthread_mutex_unlock(&c->mu);
	return sz * n;
}

static inline int sse_progress(void *arg, curl_off_t a, curl_off_t b, curl_off_t c2,
				curl_off_t d)
{
	struct sse_client *c = arg;

	(void)a;
	(void)b;
	(void)c2;
	(void)d;
	return atomic_load(&c->stop);
}

static inline void *sse_main(void *arg)
{
	struct sse_client *c = arg;
	char url[128], auth[200];
	struct curl_slist *h;
	CURL *e = curl_easy_init();

	snprintf(url, sizeof(url), "%s/api/v1/stream%s", c->srv->url, c->query ? c->query : "");
	snprintf(auth, sizeof(auth), "Authorization: Bearer %s", c->token ? c->token : c->srv->token);
	h = curl_slist_append(NULL, auth);
	curl_easy_setopt(e, CURLOPT_URL, url);
	curl_easy_setopt(e, CURLOPT_HTTPHEADER, h);
	curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, on_sse);
	curl_easy_setopt(e, CURLOPT_WRITEDATA, c);
	curl_easy_setopt(e, CURLOPT_NOPROGRESS, 0L);
	curl_easy_setopt(e, CURLOPT_XFERINFOFUNCTION, sse_progress);
	curl_easy_setopt(e, CURLOPT_XFERINFODATA, c);
	curl_easy_perform(e);
	curl_slist_free_all(h);
	curl_easy_cleanup(e);
	return NULL;
}

static inline int sse_has(struct sse_client *c, const char *what)
{
	int found;

	pthread_mutex_lock(&c->mu);
	found = strstr(c->buf, what) != NULL;
	pthread_mutex_unlock(&c->mu);
	return found;
}

static inline void wait_for(int (*cond)(void *), void *arg, const char *what)
{
	for (int i = 0; i < 500 * cl_test_slowdown(); i++) {
		if (cond(arg))
			return;
		usleep(10000);
	}
	fail_msg("timed out waiting for %s", what);
}

static struct sse_client *g_sse;
static const char *g_want;

static inline int sse_cond(void *arg)
{
	(void)arg;
	return sse_has(g_sse, g_want);
}

static inline void sse_open(struct sse_client *c, const struct server *s, const char *token)
{
	c->srv = s;
	c->token = token;
	pthread_mutex_init(&c->mu, NULL);
	pthread_create(&c->th, NULL, sse_main, c);
	g_sse = c;
	g_want = "live stream";
	wait_for(sse_cond, NULL, "the stream to open");
}

static inline void sse_close(struct sse_client *c)
{
	atomic_store(&c->stop, 1);
	pthread_join(c->th, NULL);
}

#endif
