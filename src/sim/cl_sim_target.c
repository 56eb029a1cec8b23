/*
 * Targets for simulated events. See cl_sim_target.h.
 */
#include "cl_sim_target.h"
#include "core/cl_error.h"
#include "core/cl_mem.h"
#include "mqtt/cl_mqtt_conn.h"

#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define MQTT_ACK_TIMEOUT_MS 30000

static size_t ignore(char *p, size_t sz, size_t n, void *arg)
{
	(void)p;
	(void)arg;
	return sz * n;
}

static size_t retry_after_hdr(char *p, size_t sz, size_t n, void *arg)
{
	long *ra = arg;

	if (strncasecmp(p, "Retry-After:", 12) == 0)
		*ra = atol(p + 12);
	return sz * n;
}

/* POSTs one NDJSON body, retrying what the server asks to retry. */
static int http_send(struct cl_sim_target *t, const char *body, size_t len)
{
	for (int attempt = 0; attempt < 20 && !(t->stop && atomic_load(t->stop)); attempt++) {
		long code = 0, retry_after = 0;
		CURLcode rc;

		curl_easy_setopt(t->curl, CURLOPT_POSTFIELDS, body);
		curl_easy_setopt(t->curl, CURLOPT_POSTFIELDSIZE, (long)len);
		curl_easy_setopt(t->curl, CURLOPT_HEADERDATA, &retry_after);
		rc = curl_easy_perform(t->curl);
		t->requests++;
		if (rc == CURLE_OK)
			curl_easy_getinfo(t->curl, CURLINFO_RESPONSE_CODE, &code);
		if (code == 200)
			return CL_OK;
		if (rc == CURLE_OK && code != 503 && code != 507) {
			t->failures++;
			return cl_error_set(CL_EIO, "the server answered %ld", code);
		}
		t->retries++;
		usleep((useconds_t)(retry_after > 0 ? retry_after * 1000000 : 200000));
	}
	t->failures++;
	return cl_error_set(CL_EIO, "gave up after 20 attempts");
}

static int mqtt_wait_acks(struct cl_sim_target *t, int keep)
{
	while (t->inflight > keep) {
		struct cl_mqtt_packet p;
		int rc = cl_mqtt_conn_wait(t->mqtt, MQTT_ACK_TIMEOUT_MS);
		long n;

		if (rc == 0)
			return cl_error_set(CL_EIO, "no PUBACK from the MQTT broker in %d s",
					    MQTT_ACK_TIMEOUT_MS / 1000);
		if (rc < 0)
			return rc;
		while ((n = cl_mqtt_conn_next(t->mqtt, &p)) > 0)
			if (p.type == CL_MQTT_PUBACK)
				t->inflight--;
		if (n < 0)
			return cl_error_set(CL_EIO, "protocol error from the MQTT broker: %s",
					    cl_error_detail());
	}
	return CL_OK;
}

static int mqtt_send(struct cl_sim_target *t, const char *line, size_t len)
{
	char topic[200];
	const char *d = strstr(line, "\"device_id\":\"");
	uint8_t pkt[1024];
	long n;

	if (!d)
		return CL_EINVAL;
	d += 13;
	snprintf(topic, sizeof(topic), "devices/%.*s/messages/events",
		 (int)(strchr(d, '"') - d), d);
	t->next_id = (uint16_t)(t->next_id % 65535 + 1);
	n = cl_mqtt_publish(pkt, sizeof(pkt), topic, line, len, 1, t->next_id);
	if (n < 0)
		return cl_error_set(CL_EINVAL, "an event of %zu bytes does not fit one MQTT message",
				    len);
	if (cl_mqtt_conn_send(t->mqtt, pkt, (size_t)n) != CL_OK)
		return CL_EIO;
	t->requests++;
	t->inflight++;
	return mqtt_wait_acks(t, 100);
}

/* Connects to the broker with the mqtt.* settings of cfg (or the
 * defaults), a clean session and a client id of its own. */
static int mqtt_open(struct cl_sim_target *t, const char *spec, const struct cl_config *cfg)
{
	struct cl_config defaults = { 0 };
	struct cl_mqtt_conn_options o;
	int present, rc = CL_OK;

	if (!cfg) {
		rc = cl_config_init(&defaults);
		cfg = &defaults;
	}
	if (rc == CL_OK)
		rc = cl_mqtt_conn_options_from_config(cfg, spec, &o);
	cl_config_free(&defaults);
	if (rc)
		return rc;
	snprintf(o.client_id, sizeof(o.client_id), "carelake-simulate-%ld", (long)getpid());
	o.clean_session = 1;
	o.keepalive_s = 60;
	t->kind = 2;
	rc = cl_mqtt_conn_create(&o, &t->mqtt);
	cl_mqtt_conn_options_clear(&o);
	if (rc == CL_OK)
		rc = cl_mqtt_conn_connect(t->mqtt, 10000, &present);
	if (rc) {
		cl_mqtt_conn_destroy(t->mqtt);
		t->mqtt = NULL;
	}
	return rc;
}

int cl_sim_target_open(struct cl_sim_target *t, const char *spec, const char *token,
		       const struct cl_config *cfg)
{
	memset(t, 0, sizeof(*t));
	if (strncmp(spec, "http://", 7) == 0 || strncmp(spec, "https://", 8) == 0) {
		char auth[300];
		const char *path = strchr(spec + 8, '/');

		if (!token || !*token)
			return cl_error_set(CL_EINVAL, "an http target needs --token or --token-file");
		t->kind = 1;
		snprintf(t->url, sizeof(t->url), "%s%s", spec, path ? "" : "/api/v1/events");
		curl_global_init(CURL_GLOBAL_DEFAULT);
		t->curl = curl_easy_init();
		snprintf(auth, sizeof(auth), "Authorization: Bearer %s", token);
		t->headers = curl_slist_append(NULL, auth);
		t->headers = curl_slist_append(t->headers, "Content-Type: application/x-ndjson");
		t->headers = curl_slist_append(t->headers, "Expect:");
		curl_easy_setopt(t->curl, CURLOPT_URL, t->url);
		curl_easy_setopt(t->curl, CURLOPT_HTTPHEADER, t->headers);
		curl_easy_setopt(t->curl, CURLOPT_WRITEFUNCTION, ignore);
		curl_easy_setopt(t->curl, CURLOPT_HEADERFUNCTION, retry_after_hdr);
		curl_easy_setopt(t->curl, CURLOPT_TIMEOUT, 30L);
		curl_easy_setopt(t->curl, CURLOPT_TCP_NODELAY, 1L);
		return CL_OK;
	}
	if (strncmp(spec, "mqtt://", 7) == 0 || strncmp(spec, "mqtts://", 8) == 0)
		return mqtt_open(t, spec, cfg);
	t->kind = 0;
	t->file = strcmp(spec, "-") == 0 ? stdout : fopen(spec, "w");
	if (!t->file)
		return cl_error_set(CL_EIO, "cannot write '%s'", spec);
	return CL_OK;
}

void cl_sim_target_close(struct cl_sim_target *t)
{
	if (t->kind == 1) {
		curl_slist_free_all(t->headers);
		curl_easy_cleanup(t->curl);
	} else if (t->kind == 2) {
		if (t->mqtt && mqtt_wait_acks(t, 0) == CL_OK)
			cl_mqtt_conn_close(t->mqtt, 1);
		cl_mqtt_conn_destroy(t->mqtt);
	} else if (t->file && t->file != stdout) {
		fclose(t->file);
	} else if (t->file) {
		fflush(t->file);
	}
}

/* Sends a chunk of NDJSON in batches of at most `batch` lines. */
int cl_sim_target_send(struct cl_sim_target *t, char *buf, size_t len, uint32_t batch)
{
	size_t pos = 0;

	if (t->kind == 0)
		return fwrite(buf, 1, len, t->file) == len ? CL_OK
							   : cl_error_set(CL_EIO, "write failed");
	while (pos < len) {
		size_t end = pos;
		uint32_t lines = 0;
		int rc;

		while (end < len && lines < (t->kind == 2 ? 1 : batch)) {
			char *nl = memchr(buf + end, '\n', len - end);

			end = nl ? (size_t)(nl - buf) + 1 : len;
			lines++;
		}
		rc = t->kind == 1 ? http_send(t, buf + pos, end - pos)
				  : mqtt_send(t, buf + pos, end - pos - 1);
		if (rc)
			return rc;
		pos = end;
	}
	return CL_OK;
}


/* A growing response body. */
struct body {
	char *buf;
	size_t len, cap;
	int oom;
};

/* Appends what curl received to the body. */
static size_t collect(char *p, size_t sz, size_t n, void *arg)
{
	struct body *b = arg;
	size_t add = sz * n;

	if (b->len + add + 1 > b->cap) {
		size_t nc = b->cap ? b->cap * 2 : 65536;
		char *nb;

		while (nc < b->len + add + 1)
			nc *= 2;
		nb = cl_realloc(b->buf, nc);
		if (!nb) {
			b->oom = 1;
			return 0;
		}
		b->buf = nb;
		b->cap = nc;
	}
	memcpy(b->buf + b->len, p, add);
	b->len += add;
	b->buf[b->len] = '\0';
	return add;
}

int cl_sim_fetch(const char *url, const char *token, char **body, size_t *len)
{
	struct body b = { 0 };
	struct curl_slist *h = NULL;
	char auth[300];
	long code = 0;
	CURLcode rc;
	CURL *c;

	*body = NULL;
	*len = 0;
	curl_global_init(CURL_GLOBAL_DEFAULT);
	c = curl_easy_init();
	if (!c)
		return cl_error_set(CL_ENOMEM, "cannot start an HTTP client");
	if (token && *token) {
		snprintf(auth, sizeof(auth), "Authorization: Bearer %s", token);
		h = curl_slist_append(NULL, auth);
	}
	curl_easy_setopt(c, CURLOPT_URL, url);
	curl_easy_setopt(c, CURLOPT_HTTPHEADER, h);
	curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, collect);
	curl_easy_setopt(c, CURLOPT_WRITEDATA, &b);
	curl_easy_setopt(c, CURLOPT_TIMEOUT, 120L);
	rc = curl_easy_perform(c);
	if (rc == CURLE_OK)
		curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &code);
	curl_slist_free_all(h);
	curl_easy_cleanup(c);
	if (b.oom || rc != CURLE_OK || code != 200) {
		cl_free(b.buf);
		if (b.oom)
			return cl_error_set(CL_ENOMEM, "no memory for the answer of %s", url);
		if (rc != CURLE_OK)
			return cl_error_set(CL_EIO, "cannot GET %s: %s", url,
					    curl_easy_strerror(rc));
		return cl_error_set(CL_EIO, "GET %s answered %ld%s", url, code,
				    code == 401 || code == 403 ? " (give --token or --token-file)"
							       : "");
	}
	*body = b.buf ? b.buf : cl_strdup("");
	*len = b.len;
	return *body ? CL_OK : cl_error_set(CL_ENOMEM, "no memory");
}
